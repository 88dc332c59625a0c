/* starling-bench command line: picks a scenario, applies its defaults and
 * the options, runs it, prints its RESULT line; exit status 1 on failure.
 * Also two helpers for tests/bench/run.sh: `freeport` and `waitport`. */
#include "tests/bench/bench.h"
#include "tests/bench/meter.h"
#include "tests/bench/net.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static const char usage[] =
    "usage: starling-bench SCENARIO [options]\n"
    "  SCENARIO: fanin_qos0 fanin_qos1 fanout latency qos2 conns retained\n"
    "            handshakes_full handshakes_resumed (TLS only)\n"
    "  --host A --port P   broker address (default 127.0.0.1:1883)\n"
    "  --pid PID           broker process, for CPU and memory readings\n"
    "  --name NAME         broker= in the RESULT line   --label L  scenario= in it\n"
    "  --count N --pubs N --subs N --qos Q --payload BYTES\n"
    "  --window N          messages sent but not yet received, at most (0: no limit)\n"
    "  --inflight N        unacknowledged QoS 1/2 publishes per publisher (1..65535)\n"
    "  --clean 0|1         subscribers' clean-session flag (default 1); 0: persistent\n"
    "                      sessions with fixed client ids bench-sub-N (flow scenarios)\n"
    "  --rate N --secs S   paced publishing (latency)\n"
    "  --conns N --pending N   idle connections and handshakes in flight (conns;\n"
    "                      handshakes_*: connections at a time, default 16)\n"
    "  --per-source N      conns per source address 127.0.0.2.. (default: 5000 beyond 20000)\n"
    "  --timeout S         wall-clock limit of the scenario\n"
    "  --tls CAFILE        TLS 1.2 to the broker, its certificate verified against CAFILE\n"
    "       starling-bench freeport          print a free TCP port on 127.0.0.1\n"
    "       starling-bench waitport --port P [--pid PID] [--timeout S]   wait until it accepts\n"
    "                                        (or PID exits)\n";

struct preset {
    const char *name;
    long count;
    int pubs, subs, qos;
    long window;
};

static const struct preset presets[] = {
    {"fanin_qos0", 400000, 4, 1, 0, 20000},   {"fanin_qos1", 200000, 4, 1, 1, 20000},
    {"fanout", 20000, 1, 100, 0, 2000},       {"latency", 0, 1, 1, 0, 20000},
    {"qos2", 50000, 1, 1, 2, 20000},          {"conns", 0, 0, 0, 0, 0},
    {"retained", 50000, 1, 1, 1, 0},          {"handshakes_full", 1000, 0, 0, 0, 0},
    {"handshakes_resumed", 5000, 0, 0, 0, 0},
};

static int apply_preset(struct bench_opts *o)
{
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++) {
        const struct preset *p = &presets[i];
        if (strcmp(p->name, o->scenario) != 0) continue;
        o->count = p->count;
        o->pubs = p->pubs;
        o->subs = p->subs;
        o->qos = p->qos;
        o->window = p->window;
        return 0;
    }
    return -1;
}

static void defaults(struct bench_opts *o, const char *scenario)
{
    memset(o, 0, sizeof *o);
    o->scenario = scenario;
    o->name = "broker";
    o->host = "127.0.0.1";
    o->port = 1883;
    o->payload = 64;
    o->inflight = 1000;
    o->clean = true;
    o->rate = strcmp(scenario, "latency") == 0 ? 10000 : 0;
    o->secs = 3;
    o->conns = 10000;
    o->pending = strncmp(scenario, "handshakes", 10) == 0 ? 16 : 1000;
    o->timeout = 60;
}

static const struct option longopts[] = {
    {"host", 1, 0, 'h'},    {"port", 1, 0, 'p'},    {"pid", 1, 0, 'P'},
    {"name", 1, 0, 'n'},    {"label", 1, 0, 'l'},   {"count", 1, 0, 'c'},
    {"pubs", 1, 0, 'u'},    {"subs", 1, 0, 's'},    {"qos", 1, 0, 'q'},
    {"payload", 1, 0, 'b'}, {"window", 1, 0, 'w'},  {"inflight", 1, 0, 'i'},
    {"rate", 1, 0, 'r'},    {"secs", 1, 0, 'S'},    {"conns", 1, 0, 'C'},
    {"pending", 1, 0, 'g'}, {"timeout", 1, 0, 't'}, {"per-source", 1, 0, 'o'},
    {"tls", 1, 0, 'T'},     {"clean", 1, 0, 'k'},   {0, 0, 0, 0},
};

static int parse_opt(struct bench_opts *o, int ch, const char *v)
{
    switch (ch) {
    case 'h':
        o->host = v;
        break;
    case 'p':
        o->port = atoi(v);
        break;
    case 'P':
        o->pid = (pid_t)atol(v);
        break;
    case 'n':
        o->name = v;
        break;
    case 'l':
        o->label = v;
        break;
    case 'c':
        o->count = atol(v);
        break;
    case 'u':
        o->pubs = atoi(v);
        break;
    case 's':
        o->subs = atoi(v);
        break;
    case 'q':
        o->qos = atoi(v);
        break;
    case 'b':
        o->payload = atoi(v);
        break;
    case 'w':
        o->window = atol(v);
        break;
    case 'i':
        o->inflight = atoi(v);
        break;
    case 'r':
        o->rate = atol(v);
        break;
    case 'S':
        o->secs = atof(v);
        break;
    case 'C':
        o->conns = atol(v);
        break;
    case 'g':
        o->pending = atoi(v);
        break;
    case 't':
        o->timeout = atof(v);
        break;
    case 'o':
        o->per_source = atol(v);
        break;
    case 'T':
        o->tls_ca = v;
        break;
    case 'k':
        if (strcmp(v, "0") != 0 && strcmp(v, "1") != 0) return -1;
        o->clean = v[0] == '1';
        break;
    default:
        return -1;
    }
    return 0;
}

static const char *check(const struct bench_opts *o)
{
    if (o->port <= 0 || o->port > 65535) return "--port must be 1..65535";
    if (o->payload < 20 || o->payload > 65536) return "--payload must be 20..65536";
    if (o->inflight < 1 || o->inflight > 65535) return "--inflight must be 1..65535";
    if (o->qos < 0 || o->qos > 2) return "--qos must be 0..2";
    if (o->timeout <= 0) return "--timeout must be positive";
    if (o->tls_ca && strcmp(o->scenario, "retained") == 0) return "retained does not do --tls";
    if (strcmp(o->scenario, "conns") == 0) return o->conns > 0 && o->pending > 0 ? NULL : "--conns";
    if (strncmp(o->scenario, "handshakes", 10) == 0) {
        if (!o->tls_ca) return "the handshake scenarios need --tls CAFILE";
        return o->count > 0 && o->pending > 0 ? NULL : "--count and --pending must be positive";
    }
    if (o->pubs < 1 || o->subs < 1 || o->pubs > 1000 || o->subs > 10000) return "--pubs/--subs";
    if (o->count < o->pubs && o->rate == 0) return "--count must be at least --pubs";
    return NULL;
}

static int free_port(void)
{
    struct sockaddr_in sa;
    bench_addr(&sa, "127.0.0.1", 0);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    socklen_t len = sizeof sa;
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) < 0)
        return 1;
    printf("%d\n", ntohs(sa.sin_port));
    close(fd);
    return 0;
}

static int wait_port(const struct bench_opts *o)
{
    struct sockaddr_in sa;
    if (!bench_addr(&sa, o->host, o->port)) return 2;
    int64_t deadline = now_ns() + (int64_t)(o->timeout * 1e9);
    while (now_ns() < deadline) {
        if (o->pid > 0 && !proc_alive(o->pid)) {
            fprintf(stderr, "starling-bench: the broker (pid %d) exited\n", (int)o->pid);
            return 1;
        }
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        int rc = connect(fd, (struct sockaddr *)&sa, sizeof sa);
        close(fd);
        if (rc == 0) return 0;
        nanosleep(&(struct timespec){0, 20000000}, NULL);
    }
    fprintf(stderr, "starling-bench: nothing accepts on %s:%d\n", o->host, o->port);
    return 1;
}

static int run(const struct bench_opts *o)
{
    struct bench_result r = {.ok = true, .rss_kb = -1, .per_conn_bytes = -1};
    int rc;
    if (strcmp(o->scenario, "conns") == 0)
        rc = scenario_conns(o, &r);
    else if (strcmp(o->scenario, "retained") == 0)
        rc = scenario_retained(o, &r);
    else if (strncmp(o->scenario, "handshakes", 10) == 0)
        rc = scenario_handshakes(o, &r);
    else
        rc = scenario_flow(o, &r);
    if (rc != 0) result_fail(&r, "could not run (setup failed)");
    report_print(o, &r);
    return r.ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argv[1][0] == '-') {
        fputs(usage, stderr);
        return 2;
    }
    struct bench_opts o;
    defaults(&o, argv[1]);
    bool helper = !strcmp(argv[1], "freeport") || !strcmp(argv[1], "waitport");
    if (!helper && apply_preset(&o) < 0) {
        fprintf(stderr, "starling-bench: unknown scenario %s\n%s", argv[1], usage);
        return 2;
    }
    if (helper) o.timeout = 10;
    int ch;
    while ((ch = getopt_long(argc - 1, argv + 1, "", longopts, NULL)) != -1) {
        if (parse_opt(&o, ch, optarg) < 0) {
            fputs(usage, stderr);
            return 2;
        }
    }
    if (!strcmp(argv[1], "freeport")) return free_port();
    if (!strcmp(argv[1], "waitport")) return wait_port(&o);
    if (!o.label) o.label = o.scenario;
    if (o.rate > 0 && o.count == 0) o.count = (long)((double)o.rate * o.secs);
    const char *bad = check(&o);
    if (bad) {
        fprintf(stderr, "starling-bench: %s\n", bad);
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    return run(&o);
}
