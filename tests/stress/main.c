/* starling-stress: run the attacks of issue 7 against a fresh broker each
 * (default configuration but the port), print one table row per attack and
 * exit non-zero if any attack broke the bounds of the "Done when".
 * Usage: starling-stress [--small] [--bin PATH] [--out FILE] [ATTACK...] */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/stress/attack.h"
#include "tests/stress/net.h"

#define MIB_KB 1024L

struct opts {
    const struct attack_size *size;
    const char *bin, *out, *log_dir;
    bool want[N_ATTACKS + 1];
};

static int free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin_port);
    if (fd >= 0) close(fd);
    return port;
}

/* Attacks 1 and 9 run a second time with max_subscriptions_per_client
 * lifted, so that the subscribe path itself is measured at full size (with
 * the default limit, most of their filters are refused). */
static const char lifted_json[] = "{\"limits\": {\"max_subscriptions_per_client\": 1000000}}\n";

static bool runs_lifted(int id)
{
    return id == 1 || id == 9;
}

/* The configuration file for a lifted run, written once into the log dir. */
static const char *lifted_config(const struct opts *o)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/lifted.json", o->log_dir);
    FILE *f = fopen(path, "w");
    if (!f) return NULL;
    fputs(lifted_json, f);
    fclose(f);
    return path;
}

/* Start bin -p port (with -c config if not NULL) with its output in log;
 * its pid once it accepts, -1 if it did not start. */
static pid_t broker_spawn(const struct opts *o, int id, int port, const char *config)
{
    char log[256], portstr[16];
    snprintf(log, sizeof log, "%s/attack-%d%s.log", o->log_dir, id, config ? "-lifted" : "");
    snprintf(portstr, sizeof portstr, "%d", port);
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) dup2(fd, 1), dup2(fd, 2);
        if (config)
            execl(o->bin, o->bin, "-c", config, "-p", portstr, (char *)NULL);
        else
            execl(o->bin, o->bin, "-p", portstr, (char *)NULL);
        _exit(127);
    }
    for (long dl = st_now_ms() + 5000; pid > 0 && st_now_ms() < dl; st_sleep_ms(20)) {
        int fd = st_tcp(port, 0);
        if (fd >= 0) {
            close(fd);
            return pid;
        }
        if (waitpid(pid, NULL, WNOHANG) == pid) return -1;
    }
    if (pid > 0) kill(pid, SIGKILL), waitpid(pid, NULL, 0);
    return -1;
}

/* SIGTERM, then SIGKILL after 10 s; the exit status as text. */
static void broker_kill(pid_t pid, char *how, size_t cap)
{
    int st = 0;
    kill(pid, SIGTERM);
    long dl = st_now_ms() + 10000;
    while (waitpid(pid, &st, WNOHANG) == 0) {
        if (st_now_ms() > dl) {
            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            snprintf(how, cap, "SIGTERM ignored 10 s");
            return;
        }
        st_sleep_ms(20);
    }
    if (WIFEXITED(st))
        snprintf(how, cap, "exit %d", WEXITSTATUS(st));
    else
        snprintf(how, cap, "killed by signal %d", WTERMSIG(st));
}

struct verdict {
    long rss_limit_kb, canary_limit_ms;
    bool rss_ok, canary_ok, pass;
};

/* The bounds of the "Done when" for attack id. */
static struct verdict judge(const struct attack_result *r)
{
    struct verdict v = {.rss_limit_kb = (r->id == 7 ? 100 : 256) * MIB_KB,
                        .canary_limit_ms = r->id == 1 || r->id == 2 || r->id == 6 ? 100 : 250};
    long growth = r->hwm_kb - r->rss_before_kb;
    v.rss_ok = r->rss_before_kb >= 0 && r->hwm_kb >= 0 && growth <= v.rss_limit_kb;
    v.canary_ok =
        r->canary_started && r->canary_worst_us < v.canary_limit_ms * 1000 && r->canary_lost == 0;
    v.pass = v.rss_ok && v.canary_ok && r->survived;
    return v;
}

static const char header[] =
    "| attack | RSS growth | limit | canary worst | limit | canary done/lost | broker survived "
    "| result | attack time, what it saw |\n"
    "|---|---:|---:|---:|---:|---:|---|---|---|\n";

static void print_row(FILE *f, const struct attack_result *r, const struct verdict *v,
                      const char *exit_how)
{
    fprintf(f,
            "| %s | %.1f MiB %s | %ld MiB | %.1f ms %s | %ld ms | %d/%d %s | %s (%s) | **%s** | "
            "%.1f s%s; %s |\n",
            r->name, (double)(r->hwm_kb - r->rss_before_kb) / MIB_KB, v->rss_ok ? "ok" : "FAIL",
            v->rss_limit_kb / MIB_KB, (double)r->canary_worst_us / 1000,
            r->canary_worst_us < v->canary_limit_ms * 1000 ? "ok" : "FAIL", v->canary_limit_ms,
            r->canary_done, r->canary_lost, r->canary_lost == 0 ? "ok" : "FAIL",
            r->survived ? "yes" : "NO", exit_how, v->pass ? "pass" : "FAIL",
            (double)r->attack_ms / 1000, r->completed ? "" : " (cut off or refused)", r->note);
    fflush(f);
}

static int parse_args(int argc, char **argv, struct opts *o)
{
    *o = (struct opts){.size = &attack_full,
                       .bin = "build/starling",
                       .out = "build/stress/results.md",
                       .log_dir = "build/stress"};
    bool any = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--small") == 0)
            o->size = &attack_small;
        else if (strcmp(argv[i], "--bin") == 0 && i + 1 < argc)
            o->bin = argv[++i];
        else if (strcmp(argv[i], "--out") == 0 && i + 1 < argc)
            o->out = argv[++i];
        else if (atoi(argv[i]) >= 1 && atoi(argv[i]) <= N_ATTACKS)
            o->want[atoi(argv[i])] = any = true;
        else {
            fprintf(stderr, "usage: %s [--small] [--bin PATH] [--out FILE] [ATTACK 1-%d ...]\n",
                    argv[0], N_ATTACKS);
            return -1;
        }
    }
    for (int i = 1; !any && i <= N_ATTACKS; i++)
        o->want[i] = true;
    return 0;
}

int main(int argc, char **argv)
{
    struct opts o;
    if (parse_args(argc, argv, &o) < 0) return 2;
    FILE *md = fopen(o.out, "w");
    if (md == NULL)
        fprintf(stderr, "starling-stress: cannot write %s: %s\n", o.out, strerror(errno));
    printf("%s", header);
    if (md) fprintf(md, "%s", header);
    int failed = 0;
    for (int run = 0; run < 2 * N_ATTACKS; run++) {
        int id = run % N_ATTACKS + 1;
        bool lifted = run >= N_ATTACKS;
        if (!o.want[id] || (lifted && !runs_lifted(id))) continue;
        char name[96];
        snprintf(name, sizeof name, "%s%s", attack_name(id), lifted ? " (limit lifted)" : "");
        struct attack_result r = {.id = id, .name = name};
        char how[64] = "did not start";
        int port = free_port();
        const char *config = lifted ? lifted_config(&o) : NULL;
        pid_t pid = port > 0 && (!lifted || config) ? broker_spawn(&o, id, port, config) : -1;
        if (pid > 0) {
            attack_run(id, o.size, port, pid, &r);
            r.name = name; /* attack_run starts the result afresh */
            broker_kill(pid, how, sizeof how);
        }
        if (r.rss_capped)
            snprintf(r.note + strlen(r.note), sizeof r.note - strlen(r.note),
                     "; broker SIGKILLed by us at the RSS cap");
        struct verdict v = judge(&r);
        failed += !v.pass;
        print_row(stdout, &r, &v, how);
        if (md) print_row(md, &r, &v, how);
    }
    if (md) fclose(md);
    printf("%s; table in %s, broker logs in %s/attack-N.log\n",
           failed ? "FAILED" : "all attacks within bounds", o.out, o.log_dir);
    return failed ? 1 : 0;
}
