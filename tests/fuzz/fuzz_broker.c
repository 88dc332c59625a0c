/* libFuzzer target for the broker's packet handling, in process: up to
 * N_CLIENTS simulated clients on socketpairs handed to conn_new, driven by
 * the input read as a sequence of actions (raw bytes, or CONNECT with a few
 * client ids and clean 0/1 for takeovers and resumption, SUBSCRIBE,
 * UNSUBSCRIBE, PUBLISH at every QoS, acks of received packet ids,
 * DISCONNECT, close, stop reading). broker_turn runs after every action and
 * broker_check after every turn; broker_free at the end lets LeakSanitizer
 * check each run. Inputs with an odd first byte run under an ACL over the
 * same topics, so denied publishes, wills and filters and filtered
 * deliveries are fuzzed too. Inputs with bit 1 of the first byte set run
 * with persistence (durable, or periodic with bit 2) on a fresh database,
 * and after broker_free the database must hold exactly the state the
 * broker had in memory: every change to stored state was recorded and
 * nothing was stored that should not be. Run with `make fuzz`. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth/acl.h"
#include "broker/broker.h"
#include "broker/check.h"
#include "broker/route/retain.h"
#include "broker/session/session.h"
#include "broker/store/store.h"
#include "tests/store_files.h"
#include "protocol/mqtt.h"

#define N_CLIENTS 4
#define N_PIDS 8

struct client {
    int fd; /* our end, -1 when none */
    bool draining;
    uint8_t in[4096]; /* what the broker sent, framed to find packet ids */
    size_t in_len;
    uint16_t pids[N_PIDS]; /* packet ids of received PUBLISH/PUBREC/PUBREL */
    unsigned n_pids;
};

struct input {
    const uint8_t *d;
    size_t n;
};

static uint8_t take(struct input *in)
{
    if (in->n == 0) return 0;
    in->n--;
    return *in->d++;
}

static const char *const filters[] = {"a", "a/b", "a/+", "+/b", "#", "a/#", "$SYS/#", "+", "b/c/d"};
static const char *const topics[] = {"a", "a/b", "b", "a/b/c", "$SYS/x", "b/c/d", "a/"};
#define N_FILTERS (sizeof filters / sizeof *filters)
#define N_TOPICS (sizeof topics / sizeof *topics)

static void note_packet(struct client *c, const uint8_t *p, size_t hdr, size_t len)
{
    int type = p[0] >> 4, qos = (p[0] >> 1) & 3;
    const uint8_t *v = p + hdr;
    uint16_t pid = 0;
    if (type == MQTT_PUBLISH && qos > 0 && len >= 2 && len >= 4 + ((size_t)v[0] << 8 | v[1])) {
        size_t t = (size_t)v[0] << 8 | v[1];
        pid = (uint16_t)(v[2 + t] << 8 | v[3 + t]);
    } else if ((type == MQTT_PUBREC || type == MQTT_PUBREL) && len >= 2) {
        pid = (uint16_t)(v[0] << 8 | v[1]);
    }
    if (pid) c->pids[c->n_pids++ % N_PIDS] = pid;
}

/* Read what the broker sent this client and note the packet ids in it. */
static void drain(struct client *c)
{
    for (;;) {
        ssize_t r = read(c->fd, c->in + c->in_len, sizeof c->in - c->in_len);
        if (r <= 0) {
            if (r == 0) close(c->fd), c->fd = -1; /* the broker closed it */
            return;
        }
        c->in_len += (size_t)r;
        size_t off = 0, plen;
        enum mqtt_err e;
        while ((e = mqtt_frame(c->in + off, c->in_len - off, sizeof c->in, &plen)) == MQTT_OK) {
            size_t hdr = 2;
            while (hdr < 5 && (c->in[off + hdr - 1] & 0x80))
                hdr++;
            note_packet(c, c->in + off, hdr, plen - hdr);
            off += plen;
        }
        if (e != MQTT_ERR_INCOMPLETE) off = c->in_len; /* too large to keep: drop it all */
        memmove(c->in, c->in + off, c->in_len - off);
        c->in_len -= off;
    }
}

/* ---- packets a client sends ---- */

struct pkt {
    uint8_t d[512];
    size_t n;
};

static void put(struct pkt *p, const void *s, size_t n)
{
    if (p->n + n > sizeof p->d) n = sizeof p->d - p->n;
    memcpy(p->d + p->n, s, n);
    p->n += n;
}

static void put_u16(struct pkt *p, uint16_t v)
{
    uint8_t b[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    put(p, b, 2);
}

static void put_str(struct pkt *p, const char *s)
{
    put_u16(p, (uint16_t)strlen(s));
    put(p, s, strlen(s));
}

/* Prefix the body in p with first byte and remaining length. */
static void finish(struct pkt *p, uint8_t first, struct pkt *out)
{
    uint8_t rl[4];
    size_t k = mqtt_remlen_encode(rl, p->n);
    out->n = 0;
    put(out, &first, 1);
    put(out, rl, k);
    put(out, p->d, p->n);
}

/* CONNECT: flags bit 0 clean, bits 1-2 client id, bit 3 a will, bits 4-5
 * its QoS, bit 6 protocol 3.1 instead of 3.1.1, bit 7 keepalive 1 s. */
static void build_connect(struct input *in, struct pkt *out)
{
    static const char *const ids[] = {"c0", "c1", "c2", ""};
    uint8_t f = take(in);
    struct pkt b = {0};
    bool v31 = f & 0x40, will = f & 0x08;
    put_str(&b, v31 ? "MQIsdp" : "MQTT");
    uint8_t level = v31 ? 3 : 4, flags = (uint8_t)((f & 1) << 1);
    if (will) flags |= (uint8_t)(0x04 | (f & 0x30) >> 1);
    put(&b, &level, 1);
    put(&b, &flags, 1);
    put_u16(&b, f & 0x80 ? 1 : 60);
    put_str(&b, ids[(f >> 1) & 3]);
    if (will) put_str(&b, topics[f % N_TOPICS]), put_str(&b, "will");
    finish(&b, 0x10, out);
}

static void build_subscribe(struct input *in, struct pkt *out, bool unsub)
{
    uint8_t n = (uint8_t)(take(in) % 4 + 1);
    struct pkt b = {0};
    put_u16(&b, (uint16_t)(take(in) + 1));
    for (uint8_t i = 0; i < n; i++) {
        uint8_t x = take(in);
        put_str(&b, filters[x % N_FILTERS]);
        uint8_t qos = (uint8_t)(x >> 6 & 3); /* 3 is a protocol error */
        if (!unsub) put(&b, &qos, 1);
    }
    finish(&b, unsub ? 0xa2 : 0x82, out);
}

/* PUBLISH: flags bits 0-1 QoS, bit 2 retain, bit 3 dup, bit 4 empty payload. */
static void build_publish(struct input *in, struct pkt *out)
{
    uint8_t f = take(in), t = take(in), qos = f & 3;
    struct pkt b = {0};
    put_str(&b, topics[t % N_TOPICS]);
    if (qos) put_u16(&b, (uint16_t)(t + 1));
    if (!(f & 0x10)) put(&b, "payload", 1 + t % 7);
    finish(&b, (uint8_t)(0x30 | qos << 1 | (f & 4 ? 1 : 0) | (f & 8 ? 8 : 0)), out);
}

/* PUBACK, PUBREC, PUBREL or PUBCOMP of a packet id this client received. */
static void build_ack(struct input *in, const struct client *c, struct pkt *out)
{
    static const uint8_t firsts[] = {0x40, 0x50, 0x62, 0x70};
    uint8_t x = take(in);
    uint16_t pid = c->n_pids ? c->pids[(x >> 2) % N_PIDS] : 1;
    out->n = 0;
    put(out, &firsts[x & 3], 1);
    put(out, "\x02", 1);
    put_u16(out, pid);
}

/* ---- the run ---- */

enum action {
    RAW,
    CONNECT,
    SUBSCRIBE,
    UNSUBSCRIBE,
    PUBLISH,
    ACK,
    DISCONNECT,
    CLOSE,
    HOLD,
    N_ACTIONS
};

static bool open_client(struct broker *b, struct client *c, int i)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) < 0) return false;
    char addr[16];
    snprintf(addr, sizeof addr, "fuzz:%d", i);
    if (conn_new(b, sv[1], addr) == NULL) {
        close(sv[0]), close(sv[1]);
        return false;
    }
    *c = (struct client){.fd = sv[0], .draining = true};
    return true;
}

static void act(struct broker *b, struct client *cl, struct input *in)
{
    uint8_t x = take(in);
    int i = x % N_CLIENTS;
    struct client *c = &cl[i];
    enum action a = (enum action)((x / N_CLIENTS) % N_ACTIONS);
    if (c->fd < 0 && !open_client(b, c, i)) return;
    struct pkt p = {0};
    switch (a) {
    case RAW:
        for (size_t n = take(in) % 64; n-- && in->n;) {
            uint8_t byte = take(in);
            put(&p, &byte, 1);
        }
        break;
    case CONNECT:
        build_connect(in, &p);
        break;
    case SUBSCRIBE:
        build_subscribe(in, &p, false);
        break;
    case UNSUBSCRIBE:
        build_subscribe(in, &p, true);
        break;
    case PUBLISH:
        build_publish(in, &p);
        break;
    case ACK:
        build_ack(in, c, &p);
        break;
    case DISCONNECT:
        put(&p, "\xe0\x00", 2);
        break;
    case CLOSE:
        close(c->fd), c->fd = -1;
        return;
    case HOLD:
        c->draining = !c->draining;
        return; /* backpressure: stop or resume reading */
    default:
        return;
    }
    if (write(c->fd, p.d, p.n) < 0) { /* the socket buffer is full: the broker is not reading */
    }
}

static const char acl_text[] = "topic read #\n"
                               "topic deny a/b/#\n"
                               "topic write a/#\n"
                               "topic readwrite b/c/d\n"
                               "topic read $SYS/#\n"
                               "pattern readwrite +/%c\n"
                               "pattern deny %c/#\n";

/* What the store must hold: counted in memory before shutdown, and from
 * the database after. */
struct stored {
    size_t retained, sessions, subs, entries, rx;
};

static struct stored in_memory(const struct broker *b)
{
    struct stored n = {retain_count(b->retained), 0, 0, 0, 0};
    for (size_t i = 0; i < b->sessions.n_buckets; i++)
        for (const struct session *s = b->sessions.buckets[i]; s; s = s->hnext) {
            if (s->clean) continue;
            n.sessions++;
            n.subs += session_sub_count(s);
            n.rx += s->rx_qos2.n;
            n.entries += s->q_len;
            for (uint32_t k = 0; k < s->if_len; k++)
                n.entries += s->inflight[(s->if_head + k) % s->if_cap].state != INFLIGHT_FREE;
        }
    return n;
}

static int count_retained(void *ctx, const uint8_t *t, size_t tl, uint64_t id)
{
    (void)t, (void)tl, (void)id;
    ((struct stored *)ctx)->retained++;
    return 0;
}

static int count_session(void *ctx, uint64_t key, const uint8_t *id, size_t il, bool hu,
                         const uint8_t *u, size_t ul, int64_t since)
{
    (void)key, (void)id, (void)il, (void)hu, (void)u, (void)ul, (void)since;
    ((struct stored *)ctx)->sessions++;
    return 0;
}

static int count_sub(void *ctx, uint64_t key, const uint8_t *f, size_t len, uint8_t qos)
{
    (void)key, (void)f, (void)len, (void)qos;
    ((struct stored *)ctx)->subs++;
    return 0;
}

static int count_entry(void *ctx, uint64_t key, uint64_t seq, uint64_t id, uint8_t qos, bool retain,
                       uint8_t state, uint16_t pid)
{
    (void)key, (void)seq, (void)id, (void)qos, (void)retain, (void)state, (void)pid;
    ((struct stored *)ctx)->entries++;
    return 0;
}

static int count_rx(void *ctx, uint64_t key, uint16_t pid)
{
    (void)key, (void)pid;
    ((struct stored *)ctx)->rx++;
    return 0;
}

static void check_stored(const char *path, const struct stored *want)
{
    char err[512];
    struct store *st = store_open(path, STORE_SYNC_NORMAL, err, sizeof err);
    if (!st) fprintf(stderr, "reopen: %s\n", err), abort();
    struct stored got = {0};
    struct store_loader l = {&got,      NULL,        count_retained, count_session,
                             count_sub, count_entry, count_rx};
    if (store_load(st, &l, err, sizeof err) < 0) fprintf(stderr, "load: %s\n", err), abort();
    store_close(st);
    if (memcmp(&got, want, sizeof got) != 0) {
        fprintf(stderr,
                "stored state differs from memory: retained %zu/%zu sessions %zu/%zu subs "
                "%zu/%zu entries %zu/%zu rx %zu/%zu\n",
                got.retained, want->retained, got.sessions, want->sessions, got.subs, want->subs,
                got.entries, want->entries, got.rx, want->rx);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct config cfg;
    config_defaults(&cfg);
    cfg.n_listeners = 0;
    cfg.log.level = LOG_ERROR;
    struct broker *b = calloc(1, sizeof *b);
    struct client cl[N_CLIENTS];
    for (int i = 0; i < N_CLIENTS; i++)
        cl[i].fd = -1;
    struct config_overrides o = {.port = -1};
    struct input in = {data, size};
    bool persist = size && (data[0] & 2);
    if (persist) {
        cfg.persistence.mode = data[0] & 4 ? PERSIST_PERIODIC : PERSIST_DURABLE;
        snprintf(cfg.persistence.path, sizeof cfg.persistence.path, "/tmp/starling-fuzz-%d.db",
                 (int)getpid());
        store_files_remove(cfg.persistence.path);
    }
    struct stored want = {0};
    bool served = false;
    if (b && broker_init(b, &cfg, &o) == 0) {
        served = true;
        if (size && (data[0] & 1)) {
            char err[128];
            b->acl = acl_parse(acl_text, sizeof acl_text - 1, "fuzz-acl", err, sizeof err);
            if (!b->acl) fprintf(stderr, "%s\n", err), abort();
        }
        for (int turn = 0; in.n && turn < 2000; turn++) {
            act(b, cl, &in);
            broker_turn(b, 0);
            const char *bad = broker_check(b);
            if (bad) fprintf(stderr, "broker_check: %s\n", bad), abort();
            for (int i = 0; i < N_CLIENTS; i++)
                if (cl[i].fd >= 0 && cl[i].draining) drain(&cl[i]);
        }
        want = in_memory(b);
    }
    if (b) broker_free(b);
    free(b);
    if (persist && served) check_stored(cfg.persistence.path, &want);
    if (persist) store_files_remove(cfg.persistence.path);
    for (int i = 0; i < N_CLIENTS; i++)
        if (cl[i].fd >= 0) close(cl[i].fd);
    return 0;
}
