#include "broker/broker.h"

#include "auth/acl.h"
#include "auth/passwd.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "broker/route/deliver.h"
#include "broker/net/listener.h"
#include "broker/route/msg.h"
#include "broker/route/replay.h"
#include "broker/route/retain.h"
#include "broker/session/session.h"
#include "broker/session/session_mgr.h"
#include "broker/store/persist.h"
#include "broker/route/trie.h"

#define READ_BUFFER_SIZE (64 * 1024)
#define EVENTS_PER_WAIT 256

uint64_t broker_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int open_signals(struct broker *b)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    if (sigprocmask(SIG_BLOCK, &set, NULL) < 0) return -1;
    signal(SIGPIPE, SIG_IGN); /* a peer that vanished is an EPIPE, not a crash */
    b->sig.kind = IO_SIGNAL;
    b->sig.fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (b->sig.fd < 0) return -1;
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &b->sig};
    return epoll_ctl(b->epfd, EPOLL_CTL_ADD, b->sig.fd, &ev);
}

/* Anonymous access beyond loopback is a choice (the Docker image makes it
 * so that `docker run` just works), but never a silent one. */
static void warn_open_listeners(struct broker *b, const struct config *cfg)
{
    if (!cfg->auth.allow_anonymous) return;
    for (size_t i = 0; i < cfg->n_listeners; i++) {
        const struct listener_config *l = &cfg->listeners[i];
        if (config_listener_is_loopback(l)) continue;
        log_warning(&b->log,
                    "anonymous clients are allowed on %s port %u, beyond loopback: anyone who "
                    "can reach it may publish and subscribe. To require passwords, set "
                    "auth.password_file and \"allow_anonymous\": false in %s, or set "
                    "STARLING_PASSWORD_FILE",
                    l->bind, (unsigned)l->port,
                    b->overrides.path ? b->overrides.path : "a configuration file");
        return;
    }
}

int broker_init(struct broker *b, const struct config *cfg, const struct config_overrides *o)
{
    memset(b, 0, sizeof(*b));
    b->cfg = *cfg;
    b->overrides = *o;
    b->epfd = b->sig.fd = -1;
    if (log_open(&b->log, &cfg->log) < 0)
        log_error(&b->log, "cannot open log file %s: %s; logging to stderr", cfg->log.destination,
                  strerror(errno));
    b->now_ms = broker_now_ms();
    timer_wheel_init(&b->timers, b->now_ms);
    if (getrandom(&b->auto_id_prefix, sizeof(b->auto_id_prefix), 0) < 0)
        b->auto_id_prefix = (uint32_t)(b->now_ms ^ (uint64_t)getpid());
    b->rbuf_size = READ_BUFFER_SIZE;
    b->rbuf = malloc(b->rbuf_size);
    hash_key_random(&b->hash_key);
    b->sessions.key = b->hash_key;
    b->subs = trie_new(&b->hash_key);
    b->retained = retain_new(&b->hash_key);
    if (b->retained) retain_set_max_bytes(b->retained, cfg->limits.max_retained_bytes);
    b->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (!b->rbuf || !b->subs || !b->retained || b->epfd < 0) {
        log_error(&b->log, "cannot start: %s", strerror(errno ? errno : ENOMEM));
        return -1;
    }
    if (open_signals(b) < 0) {
        log_error(&b->log, "cannot set up signal handling: %s", strerror(errno));
        return -1;
    }
    if (broker_load_passwords(b, &cfg->auth, &b->passwd) < 0) return -1;
    if (broker_load_acl(b, &cfg->auth, &b->acl) < 0) return -1;
    if (cfg->auth.anonymous_defaulted && !cfg->auth.allow_anonymous)
        log_info(&b->log, "anonymous clients are refused: the configuration opens a listener "
                          "beyond loopback or names a password file and does not set "
                          "auth.allow_anonymous (as Mosquitto 2 does)");
    warn_open_listeners(b, cfg);
    /* Restored before any client can connect. */
    if (persist_open(b) < 0) return -1;
    broker_raise_fd_limit(b, true);
    for (size_t i = 0; i < cfg->n_listeners; i++) {
        if (listener_open(b, &b->listeners[b->n_listeners], &cfg->listeners[i]) < 0) return -1;
        b->n_listeners++;
    }
    return 0;
}

static void on_signal(struct broker *b)
{
    struct signalfd_siginfo si;
    while (read(b->sig.fd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
        if (si.ssi_signo == SIGHUP) {
            broker_reload(b);
            continue;
        }
        log_info(&b->log, "%s received: shutting down", strsignal((int)si.ssi_signo));
        b->stop = true;
    }
}

static void on_timer(void *ctx, struct timer_node *n)
{
    struct broker *b = ctx;
    if (n == &b->expiry_timer) {
        session_expiry_on_timer(b);
        return;
    }
    if (n == &b->persist_timer) {
        persist_on_timer(b);
        return;
    }
    struct conn *c = (struct conn *)((char *)n - offsetof(struct conn, timer));
    conn_on_timer(ctx, c);
}

static void dispatch(struct broker *b, struct epoll_event *ev)
{
    struct io *io = ev->data.ptr;
    switch (io->kind) {
    case IO_LISTENER:
        listener_accept(b, (struct listener *)io);
        break;
    case IO_SIGNAL:
        on_signal(b);
        break;
    case IO_STORE:
        persist_on_commit(b);
        break;
    case IO_CONN: {
        struct conn *c = (struct conn *)io;
        if (c->state == CONN_CLOSED) break;                     /* closed earlier in this turn */
        if ((ev->events & (EPOLLHUP | EPOLLERR)) && c->pause) { /* not reading: cannot see EOF */
            conn_close(b, c, "connection lost", true);
            break;
        }
        if (ev->events & (EPOLLIN | EPOLLHUP | EPOLLERR)) conn_on_readable(b, c);
        if ((ev->events & EPOLLOUT) && c->state != CONN_CLOSED) conn_on_writable(b, c);
        break;
    }
    }
}

static void flush_dirty(struct broker *b)
{
    while (b->dirty) {
        struct conn *c = b->dirty;
        b->dirty = c->dirty_next;
        c->dirty = false;
        conn_flush(b, c);
    }
}

/* Every held-back publisher retries; one that still feeds a congested
 * subscriber is held back again by its next message. */
static void wake_paused(struct broker *b)
{
    b->wake_paused = false;
    while (b->paused)
        conn_resume(b, b->paused, CONN_PAUSE_SUBSCRIBERS);
}

static bool work_pending(const struct broker *b)
{
    return b->n_wills || b->wake_paused || b->backlog[0] || b->backlog[1] || b->dirty;
}

/* Each connection with input left over gets one share of work: the list
 * is swapped first, so what is left again waits for the next turn. */
static void process_backlog(struct broker *b)
{
    uint8_t now = b->backlog_cur;
    b->backlog_cur ^= 1;
    while (b->backlog[now])
        conn_process_buffered(b, b->backlog[now]);
}

/* End of a loop turn: wills, publishers released from backpressure, one
 * share of each backlog, then one writev per connection with output, then
 * the memory of whatever closed. Once per turn: work this makes (wills of
 * connections closed meanwhile, new backlog) waits for the next turn, which
 * then does not sleep. */
static void end_turn(struct broker *b)
{
    replay_run(b); /* one chunk per replaying session, flushed below */
    broker_publish_wills(b);
    if (b->wake_paused) wake_paused(b);
    process_backlog(b);
    persist_end_turn(b); /* before the flush: it may release held output */
    flush_dirty(b);      /* also: closed connections must be off this list before they are freed */
    while (b->closed) {
        struct conn *c = b->closed;
        b->closed = c->closed_next;
        conn_free(c);
    }
    while (b->dead_sessions) {
        struct session *s = b->dead_sessions;
        b->dead_sessions = s->hnext;
        session_free(s);
    }
}

uint64_t broker_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

/* epoll_wait, but with performance.busy_poll_us first keep asking without
 * sleeping: the next packet then finds the broker awake. */
static int wait_events(struct broker *b, struct epoll_event *ev, int timeout)
{
    uint32_t spin = b->cfg.performance.busy_poll_us;
    if (spin && timeout != 0) {
        uint64_t end = broker_now_us() + spin;
        do {
            int n = epoll_wait(b->epfd, ev, EVENTS_PER_WAIT, 0);
            if (n != 0) return n;
        } while (broker_now_us() < end && !b->stop);
    }
    return epoll_wait(b->epfd, ev, EVENTS_PER_WAIT, timeout);
}

int broker_turn(struct broker *b, int max_wait_ms)
{
    struct epoll_event events[EVENTS_PER_WAIT];
    int timeout = timer_next_ms(&b->timers, b->now_ms);
    if (b->accept_paused && (timeout < 0 || timeout > 100)) timeout = 100;
    if (max_wait_ms >= 0 && (timeout < 0 || timeout > max_wait_ms)) timeout = max_wait_ms;
    if (work_pending(b) || b->replay_pending) timeout = 0;
    int n = wait_events(b, events, timeout);
    if (n < 0 && errno != EINTR) {
        log_error(&b->log, "epoll_wait: %s", strerror(errno));
        return -1;
    }
    b->now_ms = broker_now_ms();
    b->handshake_us = 0;
    for (int i = 0; i < n; i++)
        dispatch(b, &events[i]);
    timer_advance(&b->timers, b->now_ms, on_timer, b);
    listeners_maybe_resume(b);
    end_turn(b);
    return 0;
}

int broker_run(struct broker *b)
{
    while (!b->stop)
        if (broker_turn(b, -1) < 0) break;
    return 0;
}

/* The shutdown totals, one "name=value" per counter. A table, so a new
 * counter is one line here. */
static void log_stats(struct broker *b)
{
    const struct broker_stats *s = &b->stats;
#define STAT(name)                                                                                 \
    {                                                                                              \
#name, &s->name                                                                            \
    }
    const struct {
        const char *name;
        const uint64_t *v;
    } stats[] = {
        STAT(connections_total),
        STAT(msgs_received),
        STAT(msgs_sent),
        STAT(protocol_errors),
        STAT(refused_max_connections),
        STAT(refused_packet_too_large),
        STAT(refused_connect_too_large),
        STAT(refused_unauthenticated_bytes),
        STAT(refused_input_bytes),
        STAT(refused_topic_levels),
        STAT(refused_subscriptions),
        STAT(refused_max_sessions),
        STAT(sessions_expired),
        STAT(sessions_evicted),
        STAT(dropped_queue_full),
        STAT(dropped_queue_total),
        STAT(dropped_retained),
        STAT(acl_denied_publishes),
        STAT(acl_denied_subscriptions),
        STAT(acl_denied_deliveries),
        STAT(dropped_qos0),
        STAT(dropped_qos0_total_budget),
        STAT(output_pauses_total_budget),
        STAT(backpressure_pauses),
        STAT(slow_subscriber_drops),
        STAT(backlog_turns),
        STAT(accept_errors),
        STAT(tls_handshake_failures),
        STAT(handshakes_deferred),
        STAT(store_commits),
        STAT(store_failures),
        STAT(store_commit_us_total),
        STAT(store_commit_us_max),
        STAT(store_backlog_pauses),
    };
#undef STAT
    char line[2048];
    size_t n = 0;
    for (size_t i = 0; i < sizeof stats / sizeof stats[0] && n < sizeof line; i++)
        n += (size_t)snprintf(line + n, sizeof line - n, " %s=%llu", stats[i].name,
                              (unsigned long long)*stats[i].v);
    log_info(&b->log, "totals:%s", line);
}

void broker_free(struct broker *b)
{
    /* Shutdown is not a client failure: no wills are published. */
    end_turn(b);
    persist_close(b); /* the last commit, while the sessions are still there */
    while (b->conns) {
        struct conn *c = b->conns;
        b->conns = c->next;
        if (c->io.fd >= 0) close(c->io.fd);
        conn_free(c);
    }
    for (size_t i = 0; i < b->sessions.n_buckets; i++) {
        struct session *s = b->sessions.buckets[i];
        while (s) {
            struct session *next = s->hnext;
            session_free(s);
            s = next;
        }
    }
    session_table_free(&b->sessions);
    for (size_t i = 0; i < b->n_wills; i++)
        msg_unref(b->wills[i]);
    free(b->wills);
    free(b->held);
    for (size_t i = 0; i < b->n_listeners; i++)
        listener_close(b, &b->listeners[i]);
    passwd_free(b->passwd);
    acl_free(b->acl);
    trie_free(b->subs);
    retain_free(b->retained);
    free(b->matches);
    free(b->rbuf);
    if (b->sig.fd >= 0) close(b->sig.fd);
    if (b->epfd >= 0) close(b->epfd);
    log_stats(b);
    log_close(&b->log);
}
