/* Child processes for the integration tests (mosquitto_pub, mosquitto_sub):
 * spawned without a shell, output captured to a temp file, waits bounded. */
#include "tests/integration/harness.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

int proc_spawn(struct proc *p, const char *const argv[])
{
    memset(p, 0, sizeof *p);
    snprintf(p->out_path, sizeof p->out_path, "/tmp/starling-it-XXXXXX.out");
    int fd = mkstemps(p->out_path, 4);
    if (fd < 0) return -1;
    close(fd);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, p->out_path, O_WRONLY | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    int rc = posix_spawnp(&p->pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        fprintf(stderr, "cannot spawn %s: %s\n", argv[0], strerror(rc));
        unlink(p->out_path);
        p->pid = 0;
        return -1;
    }
    return 0;
}

int proc_wait(struct proc *p, int timeout_ms)
{
    int status;
    if (p->pid <= 0) return -1;
    long deadline = now_ms() + timeout_ms;
    for (;;) {
        pid_t r = waitpid(p->pid, &status, WNOHANG);
        if (r == p->pid) break;
        if (now_ms() >= deadline) {
            kill(p->pid, SIGKILL);
            waitpid(p->pid, &status, 0);
            p->pid = 0;
            return -1;
        }
        sleep_ms(10);
    }
    p->pid = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

size_t proc_output(const struct proc *p, char *buf, size_t cap)
{
    FILE *f = fopen(p->out_path, "r");
    size_t n = 0;
    if (f) {
        n = fread(buf, 1, cap - 1, f);
        fclose(f);
    }
    buf[n] = '\0';
    return n;
}

bool proc_output_contains(const struct proc *p, const char *needle)
{
    static char buf[1 << 16];
    proc_output(p, buf, sizeof buf);
    return strstr(buf, needle) != NULL;
}

bool proc_wait_output(const struct proc *p, const char *needle, int timeout_ms)
{
    long deadline = now_ms() + timeout_ms;
    do {
        if (proc_output_contains(p, needle)) return true;
        sleep_ms(20);
    } while (now_ms() < deadline);
    return proc_output_contains(p, needle);
}

void proc_kill(struct proc *p)
{
    if (p->pid > 0) {
        kill(p->pid, SIGKILL);
        waitpid(p->pid, NULL, 0);
        p->pid = 0;
    }
    if (p->out_path[0]) unlink(p->out_path);
    p->out_path[0] = '\0';
}
