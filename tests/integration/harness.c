/* The broker under test as a child process: free port, generated config,
 * spawn, readiness wait, SIGTERM stop with exit-status check, log access. */
#include "tests/integration/harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define MOSQUITTO_PATH "/usr/sbin/mosquitto"

extern char **environ;

bool testing_mosquitto(void)
{
    const char *v = getenv("STARLING_TEST_MOSQUITTO");
    return v && strcmp(v, "1") == 0;
}

int tcp_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int port = -1;
    if (fd < 0) return -1;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    close(fd);
    return port;
}

static void write_starling_conf(FILE *f, int port, const struct broker_cfg *c)
{
    fprintf(f, "{\"listeners\":[{\"bind\":\"127.0.0.1\",\"port\":%d%s%s}%s%s],\n\"limits\":{", port,
            c->listener_tls ? ",\"tls\":" : "", c->listener_tls ? c->listener_tls : "",
            c->extra_listeners ? "," : "", c->extra_listeners ? c->extra_listeners : "");
    const char *sep = "";
    if (c->extra_limits) fprintf(f, "%s", c->extra_limits), sep = ",";
    if (c->max_keepalive) fprintf(f, "%s\"max_keepalive\":%d", sep, c->max_keepalive), sep = ",";
    if (c->max_packet_size)
        fprintf(f, "%s\"max_packet_size\":%ld", sep, c->max_packet_size), sep = ",";
    if (c->max_inflight) fprintf(f, "%s\"max_inflight\":%d", sep, c->max_inflight), sep = ",";
    if (c->max_queued_messages)
        fprintf(f, "%s\"max_queued_messages\":%d", sep, c->max_queued_messages), sep = ",";
    if (c->connect_timeout)
        fprintf(f, "%s\"connect_timeout\":%d", sep, c->connect_timeout), sep = ",";
    fprintf(f, "},\n\"log\":{\"level\":\"%s\",\"format\":\"%s\",\"destination\":\"%s\"},\n",
            c->log_level ? c->log_level : "info", c->log_format ? c->log_format : "text",
            c->log_destination ? c->log_destination : "stderr");
    fprintf(f, "\"auth\":{");
    sep = "";
    if (!c->anonymous_default)
        fprintf(f, "\"allow_anonymous\":%s", c->deny_anonymous ? "false" : "true"), sep = ",";
    if (c->password_file)
        fprintf(f, "%s\"password_file\":\"%s\"", sep, c->password_file), sep = ",";
    if (c->acl_file) fprintf(f, "%s\"acl_file\":\"%s\"", sep, c->acl_file);
    fprintf(f, "}");
    if (c->persist_mode) {
        fprintf(f, ",\n\"persistence\":{\"mode\":\"%s\"", c->persist_mode);
        if (c->persist_path) fprintf(f, ",\"path\":\"%s\"", c->persist_path);
        if (c->flush_interval_ms) fprintf(f, ",\"flush_interval_ms\":%d", c->flush_interval_ms);
        if (c->max_pending_bytes) fprintf(f, ",\"max_pending_bytes\":%ld", c->max_pending_bytes);
        fprintf(f, "}");
    }
    fprintf(f, "}\n");
}

/* Mosquitto saves at shutdown and every autosave_interval seconds, into
 * persistence_location + persistence_file. */
static void write_mosquitto_persistence(FILE *f, const struct broker_cfg *c)
{
    if (!c->persist_mode || strcmp(c->persist_mode, "off") == 0 || !c->persist_path) {
        fprintf(f, "persistence false\n");
        return;
    }
    const char *slash = strrchr(c->persist_path, '/');
    int dir_len = slash ? (int)(slash - c->persist_path) + 1 : 0;
    fprintf(f, "persistence true\npersistence_location %.*s\npersistence_file %s\n", dir_len,
            c->persist_path, c->persist_path + dir_len);
    if (c->flush_interval_ms)
        fprintf(f, "autosave_interval %d\n", (c->flush_interval_ms + 999) / 1000);
}

static void write_mosquitto_conf(FILE *f, int port, const struct broker_cfg *c)
{
    fprintf(f, "listener %d 127.0.0.1\nallow_anonymous %s\n", port,
            c->deny_anonymous ? "false" : "true");
    write_mosquitto_persistence(f, c);
    fprintf(f, "log_dest stderr\nlog_type all\nconnection_messages true\n");
    if (c->max_keepalive) fprintf(f, "max_keepalive %d\n", c->max_keepalive);
    if (c->max_packet_size) fprintf(f, "max_packet_size %ld\n", c->max_packet_size);
    if (c->max_inflight) fprintf(f, "max_inflight_messages %d\n", c->max_inflight);
    if (c->max_queued_messages) fprintf(f, "max_queued_messages %d\n", c->max_queued_messages);
    if (c->acl_file) fprintf(f, "acl_file %s\n", c->acl_file);
}

static int make_temp(char *path, size_t cap, const char *suffix)
{
    snprintf(path, cap, "/tmp/starling-it-XXXXXX%s", suffix);
    int fd = mkstemps(path, (int)strlen(suffix));
    if (fd >= 0) close(fd);
    return fd < 0 ? -1 : 0;
}

static int write_conf(struct broker *b, const struct broker_cfg *cfg)
{
    static const struct broker_cfg defaults;
    FILE *f = fopen(b->conf_path, "w");
    if (!f) return -1;
    if (b->mosquitto)
        write_mosquitto_conf(f, b->port, cfg ? cfg : &defaults);
    else
        write_starling_conf(f, b->port, cfg ? cfg : &defaults);
    return fclose(f) == 0 ? 0 : -1;
}

const char *starling_bin(void)
{
    const char *bin = getenv("STARLING_BIN");
    return bin && *bin ? bin : "build/starling";
}

static int spawn_broker(struct broker *b)
{
    char port[16];
    snprintf(port, sizeof port, "%d", b->port);
    const char *bin = starling_bin();
    const char *sargv[] = {bin, "-c", b->conf_path, "-p", port, NULL};
    const char *margv[] = {MOSQUITTO_PATH, "-c", b->conf_path, NULL};
    const char *const *argv = b->mosquitto ? margv : sargv;

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, b->log_path, O_WRONLY | O_TRUNC, 0644);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    int rc = posix_spawn(&b->pid, argv[0], &fa, NULL, (char *const *)argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) fprintf(stderr, "cannot spawn %s: %s\n", argv[0], strerror(rc));
    return rc == 0 ? 0 : -1;
}

/* The broker is ready once its port accepts a TCP connection. */
static int wait_ready(struct broker *b)
{
    for (int i = 0; i < 100; i++) {
        int status;
        if (waitpid(b->pid, &status, WNOHANG) == b->pid) {
            fprintf(stderr, "broker exited before accepting (status 0x%x)\n", status);
            b->pid = 0;
            return -1;
        }
        int fd = tcp_connect_port(b->port);
        if (fd >= 0) {
            close(fd);
            return 0;
        }
        sleep_ms(50);
    }
    fprintf(stderr, "broker did not accept on port %d within 5 s\n", b->port);
    return -1;
}

int broker_start(struct broker *b, const struct broker_cfg *cfg)
{
    memset(b, 0, sizeof *b);
    b->mosquitto = testing_mosquitto();
    if (make_temp(b->conf_path, sizeof b->conf_path, ".conf") < 0 ||
        make_temp(b->log_path, sizeof b->log_path, ".log") < 0) {
        fprintf(stderr, "broker_start: cannot create temp files\n");
        return -1;
    }
    /* The free port is found by binding port 0 and closing it, so another
     * process (a client's ephemeral port) can take it before the broker
     * binds it: a broker that exits on "Address already in use" is
     * retried on a fresh port. */
    for (int attempt = 0; attempt < 3; attempt++) {
        b->port = tcp_free_port();
        if (b->port < 0 || write_conf(b, cfg) < 0) {
            fprintf(stderr, "broker_start: cannot pick a port or write the config\n");
            return -1;
        }
        if (spawn_broker(b) < 0) return -1;
        if (wait_ready(b) == 0) return 0;
        bool port_taken = b->pid == 0 && broker_log_contains(b, "already in use");
        if (!port_taken || attempt == 2) {
            broker_print_log_tail(b, 30);
            if (b->pid > 0) broker_stop(b);
            return -1;
        }
    }
    return -1;
}

int broker_start_refused(struct broker *b, const struct broker_cfg *cfg)
{
    memset(b, 0, sizeof *b);
    b->mosquitto = testing_mosquitto();
    b->port = tcp_free_port();
    if (make_temp(b->conf_path, sizeof b->conf_path, ".conf") < 0 ||
        make_temp(b->log_path, sizeof b->log_path, ".log") < 0 || b->port < 0 ||
        write_conf(b, cfg) < 0 || spawn_broker(b) < 0) {
        fprintf(stderr, "broker_start_refused: cannot write the config or spawn\n");
        return -1;
    }
    int status;
    long deadline = now_ms() + 5000;
    while (waitpid(b->pid, &status, WNOHANG) != b->pid) {
        if (now_ms() >= deadline) {
            fprintf(stderr, "broker pid %d did not refuse to start within 5 s\n", (int)b->pid);
            broker_stop(b);
            return -1;
        }
        sleep_ms(10);
    }
    b->pid = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int broker_stop(struct broker *b)
{
    return broker_stop_signal(b, SIGTERM);
}

int broker_stop_signal(struct broker *b, int sig)
{
    int status = 0;
    if (b->pid <= 0) return -1;
    kill(b->pid, sig);
    long deadline = now_ms() + 10000;
    pid_t r = 0;
    while ((r = waitpid(b->pid, &status, WNOHANG)) == 0 && now_ms() < deadline)
        sleep_ms(10);
    if (r != b->pid) {
        fprintf(stderr, "broker pid %d ignored signal %d for 10 s: killed\n", (int)b->pid, sig);
        kill(b->pid, SIGKILL);
        waitpid(b->pid, &status, 0);
        b->pid = 0;
        return -1;
    }
    b->pid = 0;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return 0;
    if (WIFEXITED(status))
        fprintf(stderr, "broker exited with status %d at signal %d\n", WEXITSTATUS(status), sig);
    else if (sig != SIGKILL)
        fprintf(stderr, "broker died of signal %d at signal %d\n", WTERMSIG(status), sig);
    return -1;
}

bool starling_sanitized(void)
{
    return strstr(starling_bin(), "/san/") != NULL;
}

long broker_status_kb(const struct broker *b, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)b->pid);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    long kb = -1;
    size_t fl = strlen(field);
    while (kb < 0 && fgets(line, sizeof line, f))
        if (strncmp(line, field, fl) == 0 && line[fl] == ':') kb = atol(line + fl + 1);
    fclose(f);
    assert_true(kb >= 0);
    return kb;
}

void broker_remove_files(struct broker *b)
{
    if (b->conf_path[0]) unlink(b->conf_path);
    if (b->log_path[0]) unlink(b->log_path);
    b->conf_path[0] = b->log_path[0] = '\0';
}

void broker_print_log_tail(const struct broker *b, int lines)
{
    static char buf[1 << 16];
    FILE *f = fopen(b->log_path, "r");
    if (!f) return;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    long from = size > (long)sizeof buf - 1 ? size - (long)sizeof buf + 1 : 0;
    fseek(f, from, SEEK_SET);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *start = buf + n;
    for (int seen = 0; start > buf && seen <= lines; start--)
        if (start[-1] == '\n') seen++;
    fprintf(stderr, "---- broker log (last %d lines of %s) ----\n%s---- end of broker log ----\n",
            lines, b->log_path, start);
}

bool broker_log_contains(const struct broker *b, const char *needle)
{
    return broker_log_has_line(b, needle, "");
}

bool broker_log_has_line(const struct broker *b, const char *word1, const char *word2)
{
    return broker_log_count(b, word1, word2, 1) > 0;
}

int broker_log_count(const struct broker *b, const char *word1, const char *word2, int max)
{
    char line[4096];
    int n = 0;
    FILE *f = fopen(b->log_path, "r");
    if (!f) return 0;
    while (n < max && fgets(line, sizeof line, f))
        n += strcasestr(line, word1) && strcasestr(line, word2);
    fclose(f);
    return n;
}
