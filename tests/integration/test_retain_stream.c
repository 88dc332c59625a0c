/* Retained replay as a stream: a new subscription's retained messages are
 * produced as the client reads them, within its output and inflight bounds,
 * never as one copy in the broker's memory. */
#include "tests/integration/harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

enum { MAX_TOPICS = 5000 };

/* n retained messages "<prefix>/<i>" of size bytes each at qos 0 or 1, all
 * stored when this returns. */
static void store_retained(struct itest *t, const char *prefix, int n, size_t size, int qos)
{
    int pub = it_client(t, "keeper");
    char *payload = malloc(size);
    assert_non_null(payload);
    memset(payload, 'r', size);
    char topic[64];
    for (int i = 0; i < n; i++) {
        snprintf(topic, sizeof topic, "%s/%d", prefix, i);
        send_publish(pub, topic, payload, size, qos, true, false, (uint16_t)(qos ? i + 1 : 0));
    }
    free(payload);
    struct pkt p;
    for (int acked = 0; qos && acked < n;) {
        assert_int_equal(read_packet(pub, &p, IT_WAIT), 0);
        acked += p.type == 4;
    }
    publish(pub, "sync", "x", 1, false); /* in order after the QoS 0 ones */
    send_disconnect(pub);
}

/* A client whose receive buffer is small (set before connecting, so TCP
 * offers a small window), so that what it does not read stays in the broker
 * rather than in the kernel. */
static int small_window_client(struct itest *t, const char *id, bool clean)
{
    assert_true(t->nfds < IT_MAX_FDS);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), rcv = 32768, one = 1;
    assert_true(fd >= 0);
    t->fds[t->nfds++] = fd;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)t->broker.port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct conn_opts o = {.client_id = id, .clean = clean, .keepalive = 60};
    send_connect(fd, &o);
    struct pkt p;
    expect_packet(fd, &p, 2);
    assert_int_equal(p.body[1], 0);
    return fd;
}

/* Index of a retained "<prefix>/<i>" PUBLISH, or -1 for anything else. */
static int retained_index(const struct pkt *p, struct msg *m, const char *prefix)
{
    if (p->type != 3) return -1;
    parse_publish(p, m);
    size_t l = strlen(prefix);
    if (!m->retain || strncmp(m->topic, prefix, l) != 0 || m->topic[l] != '/') return -1;
    int i = atoi(m->topic + l + 1);
    return i >= 0 && i < MAX_TOPICS ? i : -1;
}

/* Read until every one of n retained topics came (counting repeats in
 * seen[]); returns the number of retained PUBLISH packets read. */
static int read_all_retained(int fd, const char *prefix, int n, int *seen, int qos)
{
    struct pkt p;
    struct msg m;
    int distinct = 0, total = 0;
    for (int i = 0; i < n; i++)
        distinct += seen[i] > 0;
    while (distinct < n && read_packet(fd, &p, IT_WAIT) == 0) {
        int i = retained_index(&p, &m, prefix);
        if (i < 0) continue;
        assert_int_equal(m.qos, qos);
        if (qos) send_ack(fd, 0x40, m.pid);
        distinct += seen[i]++ == 0;
        total++;
    }
    assert_int_equal(distinct, n);
    return total;
}

/* One SUBSCRIBE listing the same filter 50 times over 2,000 retained 1 KB
 * messages, by a client that does not read: the broker holds a fraction of
 * one copy, not 50 (100 MB). When it reads, it gets each message once (a
 * filter listed twice in one SUBSCRIBE is replayed once), then live traffic. */
ITEST(test_repeated_filter_streamed_once_not_copied)
{
    skip_on_mosquitto(t);
    enum { N = 2000, COPIES = 50 };
    store_retained(t, "ra", N, 1000, 0);
    int sub = small_window_client(t, "amplifier", true);
    long before = broker_status_kb(&t->broker, "VmRSS");
    const char *filters[COPIES];
    uint8_t qos[COPIES];
    for (int i = 0; i < COPIES; i++) {
        filters[i] = "ra/#";
        qos[i] = 0;
    }
    send_subscribe(sub, 7, COPIES, filters, qos);
    sleep_ms(1000);
    long grown = broker_status_kb(&t->broker, "VmRSS") - before;
    assert_true(grown < 10 * 1024); /* 50 copies would be 100 MB */
    struct pkt p;
    expect_packet(sub, &p, 9); /* SUBACK before any retained message */
    static int seen[MAX_TOPICS];
    memset(seen, 0, sizeof seen);
    assert_int_equal(read_all_retained(sub, "ra", N, seen, 0), N);
    expect_silence(sub, IT_QUIET);
    int pub = it_client(t, "live");
    publish(pub, "ra/live", "now", 1, false);
    expect_publish(sub, "ra/live", "now", 0, false);
}

/* A QoS 1 replay goes through the inflight window: all 500 arrive with
 * RETAIN=1, never more than max_inflight unacknowledged. MQTT-3.3.1-8 */
ITEST(test_qos1_replay_respects_inflight_window)
{
    skip_on_mosquitto(t);
    enum { N = 500, WINDOW = 5 };
    struct broker_cfg cfg = {.max_inflight = WINDOW};
    it_restart(t, &cfg);
    int pub = it_client(t, "keeper");
    char topic[32];
    for (int i = 0; i < N; i++) {
        snprintf(topic, sizeof topic, "r/%d", i);
        send_publish(pub, topic, "v", 1, 1, true, false, (uint16_t)(i + 1));
    }
    struct pkt p;
    for (int acked = 0; acked < N;) { /* stored once acknowledged */
        assert_int_equal(read_packet(pub, &p, IT_WAIT), 0);
        acked += p.type == 4;
    }
    int sub = it_client(t, "windowed");
    subscribe(sub, "r/#", 1);
    static int seen[MAX_TOPICS];
    memset(seen, 0, sizeof seen);
    struct msg m;
    uint16_t unacked[WINDOW];
    int n_unacked = 0, got = 0;
    while (got < N) {
        assert_int_equal(read_packet(sub, &p, IT_WAIT), 0);
        int i = retained_index(&p, &m, "r");
        if (i < 0) continue;
        assert_int_equal(m.qos, 1);
        assert_int_equal(seen[i]++, 0);
        got++;
        assert_true(n_unacked < WINDOW);
        unacked[n_unacked++] = m.pid;
        if (n_unacked < WINDOW) continue;
        if (got % 100 == 0) expect_silence(sub, 200); /* a full window: nothing more yet */
        for (int k = 0; k < n_unacked; k++)
            send_ack(sub, 0x40, unacked[k]);
        n_unacked = 0;
    }
    expect_silence(sub, IT_QUIET);
}

/* A QoS 0 '#' subscriber that reads gets every one of 5,000 retained
 * messages, though together they are 300 times max_qos0_pending_bytes:
 * the replay waits for room instead of being dropped. MQTT-3.3.1-6 */
ITEST(test_qos0_hash_reader_gets_every_retained)
{
    skip_on_mosquitto(t);
    enum { N = 5000 };
    struct broker_cfg cfg = {.extra_limits = "\"max_qos0_pending_bytes\":4096"};
    it_restart(t, &cfg);
    store_retained(t, "all", N, 250, 0);
    int sub = small_window_client(t, "everything", true);
    subscribe(sub, "#", 0);
    static int seen[MAX_TOPICS];
    memset(seen, 0, sizeof seen);
    assert_int_equal(read_all_retained(sub, "all", N, seen, 0), N);
    assert_false(broker_log_contains(&t->broker, "dropping QoS 0"));
}

/* Subscribing again to a filter whose replay is still running starts it
 * over (MQTT-3.8.4-3: every retained message again after the new SUBACK)
 * rather than adding a second replay next to the first. */
ITEST(test_resubscribe_mid_replay_restarts_it)
{
    skip_on_mosquitto(t);
    enum { N = 5000 };
    store_retained(t, "rs", N, 1000, 0); /* 5 MB: far more than the buffers between us */
    int sub = small_window_client(t, "again", true);
    subscribe(sub, "rs/#", 0);
    struct pkt p;
    struct msg m;
    int before = 0;
    while (before < 100) {
        assert_int_equal(read_packet(sub, &p, IT_WAIT), 0);
        before += retained_index(&p, &m, "rs") >= 0;
    }
    const char *f[] = {"rs/#"};
    uint8_t q[] = {0};
    send_subscribe(sub, 2, 1, f, q);
    while (true) { /* what was already on its way, then the SUBACK */
        assert_int_equal(read_packet(sub, &p, IT_WAIT), 0);
        if (p.type == 9) break;
        before += retained_index(&p, &m, "rs") >= 0;
    }
    assert_true(before < N); /* it was mid-replay */
    static int seen[MAX_TOPICS];
    memset(seen, 0, sizeof seen);
    int after = read_all_retained(sub, "rs", N, seen, 0);
    expect_silence(sub, IT_QUIET);
    /* A second replay next to the first would also finish the first one. */
    assert_int_equal(after, N);
}

/* A client that goes away mid-replay leaves nothing behind (the sanitizer
 * build checks the broker for leaks at exit) and disturbs nobody; a
 * persistent QoS 1 session picks its replay up where it was on reconnect. */
ITEST(test_disconnect_mid_replay)
{
    skip_on_mosquitto(t);
    enum { N = 3000 };
    store_retained(t, "dc", N, 1000, 1);
    int observer = observer_start(t);
    for (int k = 0; k < 3; k++) { /* gone after its SUBACK, before reading anything */
        int quitter = small_window_client(t, "quitter", true);
        const char *f[] = {"dc/#", "#"};
        uint8_t q[] = {0, 1};
        send_subscribe(quitter, 1, 2, f, q);
        sleep_ms(100);
        close(quitter);
        it_forget_fd(t, quitter);
    }
    observer_check(t, observer);

    int durable = small_window_client(t, "durable", false);
    subscribe(durable, "dc/#", 1);
    static int seen[MAX_TOPICS];
    memset(seen, 0, sizeof seen);
    struct pkt p;
    struct msg m;
    for (int got = 0; got < 100;) {
        assert_int_equal(read_packet(durable, &p, IT_WAIT), 0);
        int i = retained_index(&p, &m, "dc");
        if (i < 0) continue;
        send_ack(durable, 0x40, m.pid);
        seen[i]++;
        got++;
    }
    close(durable);
    it_forget_fd(t, durable);
    int reader = small_window_client(t, "reader", true);
    subscribe(reader, "dc/#", 0);
    static int seen_reader[MAX_TOPICS];
    memset(seen_reader, 0, sizeof seen_reader);
    assert_int_equal(read_all_retained(reader, "dc", N, seen_reader, 0), N); /* granted 0 */

    durable = small_window_client(t, "durable", false);
    read_all_retained(durable, "dc", N, seen, 1); /* the rest: together, all of them */
    observer_check(t, observer);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT(test_repeated_filter_streamed_once_not_copied),
        IT(test_qos1_replay_respects_inflight_window),
        IT(test_qos0_hash_reader_gets_every_retained),
        IT(test_resubscribe_mid_replay_restarts_it),
        IT(test_disconnect_mid_replay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
