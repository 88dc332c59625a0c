/* Running one attack with the canary and the broker's memory measured. */
#include "tests/stress/attack_impl.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>

#include "protocol/mqtt.h"
#include "tests/stress/canary.h"

const struct attack_size attack_full = {
    .sub_packets = 200,
    .sub_filters = 1000,
    .flood_bytes = 200ull << 20,
    .flood_ms = 10000,
    .fan_subscribers = 2000,
    .fan_ms = 15000,
    .retained = 20000,
    .replay_clients = 10,
    .replay_n = 500,
    .deep_topics = 300,
    .deep_levels = 30000,
    .collide_pairs = 16,
    .pre_conns = 100,
    .pre_bytes = 4u << 20,
    .pre_announced = (16u << 20) - 5, /* a 16 MiB packet */
    .sessions = 20000,
    .many_filters = 100000,
    .hold_ms = 3000,
    .deadline_ms = 45000,
};

const struct attack_size attack_small = {
    .sub_packets = 20,
    .sub_filters = 1000,
    .flood_bytes = 20ull << 20,
    .flood_ms = 3000,
    .fan_subscribers = 200,
    .fan_ms = 4000,
    .retained = 2000,
    .replay_clients = 3,
    .replay_n = 500,
    .deep_topics = 20,
    .deep_levels = 30000,
    .collide_pairs = 12,
    .pre_conns = 40,
    .pre_bytes = 1u << 20,
    .pre_announced = (16u << 20) - 5,
    .sessions = 2000,
    .many_filters = 2000,
    .hold_ms = 1000,
    .deadline_ms = 20000,
};

static const struct {
    const char *name;
    attack_fn *fn;
} attacks[N_ATTACKS] = {
    {"1 subscribe pipeline", atk_subscribe_pipeline},
    {"2 one-connection flood", atk_flood},
    {"3 QoS 0 fan-out to non-readers", atk_fanout},
    {"4 retained replay amplifier", atk_replay},
    {"5 deep topics", atk_deep},
    {"6 FNV-1a collisions", atk_collide},
    {"7 memory before CONNECT", atk_preconnect},
    {"8 persistent sessions", atk_sessions},
    {"9 subscriptions per client", atk_many_filters},
};

const char *attack_name(int id)
{
    return id >= 1 && id <= N_ATTACKS ? attacks[id - 1].name : "?";
}

long proc_status_kb(pid_t pid, const char *field)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) return -1;
    long v = -1;
    size_t fl = strlen(field);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, fl) == 0 && line[fl] == ':') v = strtol(line + fl + 1, NULL, 10);
    fclose(f);
    return v;
}

bool proc_alive(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL) return false;
    bool alive = false;
    while (fgets(line, sizeof line, f))
        if (strncmp(line, "State:", 6) == 0)
            alive = strchr(line, 'Z') == NULL && strchr(line, 'X') == NULL;
    fclose(f);
    return alive;
}

static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

struct monitor {
    pid_t pid;
    long cap_kb;
    atomic_bool stop, killed;
};

static void *monitor_main(void *arg)
{
    struct monitor *m = arg;
    while (!atomic_load(&m->stop)) {
        if (proc_status_kb(m->pid, "VmRSS") > m->cap_kb) {
            kill(m->pid, SIGKILL);
            atomic_store(&m->killed, true);
            return NULL;
        }
        st_sleep_ms(50);
    }
    return NULL;
}

static long rss_cap_kb(void)
{
    const char *e = getenv("STRESS_RSS_CAP_MIB");
    long mib = e && atol(e) > 0 ? atol(e) : ATTACK_RSS_CAP_MIB;
    return mib * 1024;
}

bool attack_run(int id, const struct attack_size *sz, int port, pid_t pid, struct attack_result *r)
{
    memset(r, 0, sizeof *r);
    r->id = id;
    r->name = attack_name(id);
    raise_fd_limit();
    signal(SIGPIPE, SIG_IGN);
    struct canary c;
    if (id < 1 || id > N_ATTACKS || !canary_start(&c, port)) {
        r->survived = proc_alive(pid);
        snprintf(r->note, sizeof r->note, "canary could not start");
        return false;
    }
    r->canary_started = true;
    r->rss_before_kb = proc_status_kb(pid, "VmRSS");
    struct monitor m = {.pid = pid, .cap_kb = rss_cap_kb()};
    pthread_t mt;
    bool monitored = pthread_create(&mt, NULL, monitor_main, &m) == 0;
    long t0 = st_now_ms();
    r->completed = attacks[id - 1].fn(sz, port, r);
    r->attack_ms = st_now_ms() - t0;
    r->hwm_kb = proc_status_kb(pid, "VmHWM");
    atomic_store(&m.stop, true);
    if (monitored) pthread_join(mt, NULL);
    r->rss_capped = atomic_load(&m.killed);
    if (r->rss_capped) r->hwm_kb = r->rss_before_kb + m.cap_kb; /* at least */
    canary_stop(&c);
    r->canary_worst_us = atomic_load(&c.worst_us);
    r->canary_done = atomic_load(&c.done);
    r->canary_lost = atomic_load(&c.lost);
    r->survived = proc_alive(pid);
    return true;
}

/* ---- helpers shared by the attacks ---- */

bool atk_client(struct st_peer *p, int port, const char *id, bool clean, int rcvbuf, long deadline)
{
    if (!st_peer_open(p, port, rcvbuf)) return false;
    struct st_buf b = {0};
    sb_connect(&b, id, clean, 600);
    bool ok =
        st_peer_send(p, b.d, b.n, deadline) == 0 && st_peer_wait(p, MQTT_CONNACK, 1, deadline) == 0;
    sb_free(&b);
    return ok;
}

int atk_send_resilient(struct st_peer *p, int port, const char *id, const struct st_buf *b,
                       long deadline, int *reconnects)
{
    for (int tries = 0; tries < 3; tries++) {
        if (p->fd < 0 || p->closed) {
            *reconnects += p->closed;
            st_peer_close(p);
            if (!atk_client(p, port, id, true, 0, deadline) || p->connack_code != 0) return -1;
        }
        int rc = st_peer_send(p, b->d, b->n, deadline);
        if (rc != -1) return rc;
        p->closed = true;
    }
    return -1;
}

bool atk_sync(struct st_peer *p, long deadline)
{
    static const uint8_t ping[2] = {0xc0, 0};
    uint64_t n = p->count[MQTT_PINGRESP];
    return st_peer_send(p, ping, 2, deadline) == 0 &&
           st_peer_wait(p, MQTT_PINGRESP, n + 1, deadline) == 0;
}

void atk_hold(const struct attack_size *sz)
{
    st_sleep_ms(sz->hold_ms);
}

long atk_deadline(const struct attack_size *sz)
{
    return st_now_ms() + sz->deadline_ms;
}
