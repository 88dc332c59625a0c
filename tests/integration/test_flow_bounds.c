/* Flow bounds against one hostile client: a pipelined flood does not keep
 * other clients waiting, the output of clients that do not read is bounded
 * in total (limits.max_pending_bytes_total), and clients that have not
 * completed CONNECT hold bounded input, each (limits.max_connect_size) and
 * together (limits.max_unauthenticated_bytes). Starling-only knobs. */
#include "tests/integration/harness.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

static struct pkt pk; /* 70 KiB: not on the stack */

/* Append one PUBLISH (QoS 0 or 1) to buf. */
static size_t put_publish(uint8_t *buf, const char *topic, const char *payload, size_t plen,
                          int qos, uint16_t pid)
{
    size_t tl = strlen(topic), rem = 2 + tl + (qos ? 2 : 0) + plen, n = 0;
    buf[n++] = (uint8_t)(0x30 | qos << 1);
    do {
        buf[n++] = (uint8_t)((rem & 0x7f) | (rem > 0x7f ? 0x80 : 0));
        rem >>= 7;
    } while (rem);
    buf[n++] = (uint8_t)(tl >> 8);
    buf[n++] = (uint8_t)tl;
    memcpy(buf + n, topic, tl);
    n += tl;
    if (qos) {
        buf[n++] = (uint8_t)(pid >> 8);
        buf[n++] = (uint8_t)pid;
    }
    memcpy(buf + n, payload, plen);
    return n + plen;
}

/* A flood of QoS 0 on flood/q0 with a QoS 1 (payload "q<seq>", pid seq)
 * on flood/q1 every `every` messages, ending with QoS 1 number n_q1. */
static uint8_t *build_flood(size_t target, size_t q0_len, int every, int *n_q1, size_t *len)
{
    uint8_t *buf = malloc(target + 256);
    assert_non_null(buf);
    static char x[80];
    memset(x, 'x', sizeof x);
    assert_true(q0_len <= sizeof x);
    size_t n = 0;
    int q1 = 0;
    for (long i = 1; n < target; i++) {
        if (i % every == 0 || n + 200 >= target) {
            char seq[16];
            int l = snprintf(seq, sizeof seq, "q%06d", ++q1);
            n += put_publish(buf + n, "flood/q1", seq, (size_t)l, 1, (uint16_t)q1);
        } else {
            n += put_publish(buf + n, "flood/q0", x, q0_len, 0, 0);
        }
    }
    *n_q1 = q1;
    *len = n;
    return buf;
}

/* Child process: connect, send the whole flood, then read its PUBACKs,
 * which must come in order (MQTT-4.6.0-2). Exit status 0 on success. */
static void flood_child(int port, const uint8_t *flood, size_t len, int n_q1)
{
    int fd = tcp_connect_port(port);
    if (fd < 0) _exit(10);
    struct conn_opts o = {.client_id = "flooder", .clean = true, .keepalive = 600};
    send_connect(fd, &o);
    if (read_packet(fd, &pk, 10000) != 0 || pk.type != 2 || pk.body[1] != 0) _exit(11);
    for (size_t off = 0; off < len;) {
        ssize_t w = send(fd, flood + off, len - off, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) _exit(12);
        off += (size_t)w;
    }
    for (int want = 1; want <= n_q1; want++) {
        if (read_packet(fd, &pk, 30000) != 0) _exit(13);
        if (pk.type != 4 || ((pk.body[0] << 8) | pk.body[1]) != want) _exit(14);
    }
    _exit(0);
}

static int reap(pid_t pid, int timeout_ms)
{
    int st;
    for (long end = now_ms() + timeout_ms; now_ms() < end; sleep_ms(20))
        if (waitpid(pid, &st, WNOHANG) == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : 100;
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    return -1;
}

/* Another client's QoS 1 publish is acknowledged and delivered. */
static void round_trip(int pub, int sub, int i)
{
    char payload[32];
    snprintf(payload, sizeof payload, "ping-%d", i);
    publish(pub, "rt/x", payload, 1, false);
    expect_publish_ack(sub, "rt/x", payload, 1, false);
}

/* (a) One connection pipelining ~20 MB of small QoS 0 (more packets per
 * read than one turn handles) with QoS 1 mixed in gets a bounded share of
 * each loop turn: other clients' QoS 1 round trips complete while the
 * flood is being handled, and every QoS 1 message of the flood is
 * acknowledged and delivered in order (MQTT-4.6.0-2, -3). */
ITEST(test_flood_does_not_starve_other_clients)
{
    skip_on_mosquitto(t);
    struct broker_cfg cfg = {.max_queued_messages = 50};
    it_restart(t, &cfg);
    int reader = it_client(t, "reader");
    subscribe(reader, "flood/q1", 1);
    int rt_pub = it_client(t, "rt-pub"), rt_sub = it_client(t, "rt-sub");
    subscribe(rt_sub, "rt/x", 1);
    int n_q1;
    size_t len;
    uint8_t *flood = build_flood(20u << 20, 8, 400, &n_q1, &len);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) flood_child(it_port(t), flood, len, n_q1);
    free(flood);

    /* The flood has begun; the reader does not read on, so the QoS 1 part
     * holds the flooder back (max_queued_messages): it is still running. */
    assert_int_equal(read_packet(reader, &pk, 10000), 0);
    round_trip(rt_pub, rt_sub, 0);
    assert_int_equal(waitpid(pid, NULL, WNOHANG), 0);

    int want = 1, rounds = 0;
    struct msg m;
    for (int i = 0; want <= n_q1; i++) {
        if (i > 0) assert_int_equal(read_packet(reader, &pk, 10000), 0);
        assert_int_equal(pk.type, 3);
        parse_publish(&pk, &m);
        assert_int_equal(m.qos, 1);
        char seq[16];
        snprintf(seq, sizeof seq, "q%06d", want);
        assert_int_equal(m.payload_len, strlen(seq));
        assert_memory_equal(m.payload, seq, m.payload_len);
        send_ack(reader, 0x40, m.pid);
        if (want++ % 500 == 0) round_trip(rt_pub, rt_sub, ++rounds); /* flood still going */
    }
    assert_int_equal(want, n_q1 + 1);
    assert_int_equal(reap(pid, 30000), 0);
}

/* Open, shrink the receive buffer before connecting (so the window stays
 * small), CONNECT and subscribe at QoS 0; then never read. */
static int deaf_subscriber(struct itest *t, int i)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    int sz = 4096;
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz), 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)it_port(t)),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_true(t->nfds < IT_MAX_FDS);
    t->fds[t->nfds++] = fd;
    char id[32];
    snprintf(id, sizeof id, "deaf-%d", i);
    struct conn_opts o = {.client_id = id, .clean = true, .keepalive = 600};
    send_connect(fd, &o);
    expect_packet(fd, &pk, 2);
    assert_int_equal(pk.body[1], 0);
    subscribe(fd, "flood/#", 0);
    return fd;
}

#define BUDGET (4u << 20)

/* (b) 50 subscribers that never read and one QoS 0 flood: without a total
 * budget each would hold max_qos0_pending_bytes (8 MiB, 400 MiB in all);
 * with max_pending_bytes_total = 4 MiB the broker stays within a few times
 * the budget, logs the drop, and QoS 1 to a reading client is not lost. */
ITEST(test_total_output_budget_bounds_memory)
{
    skip_on_mosquitto(t);
    struct broker_cfg cfg = {.extra_limits = "\"max_pending_bytes_total\": 4194304"};
    it_restart(t, &cfg);
    for (int i = 0; i < 50; i++)
        deaf_subscriber(t, i);
    int q1_reader = it_client(t, "q1-reader");
    subscribe(q1_reader, "flood/q1", 1);
    int pub = it_client(t, "flood-pub");
    long rss_before = broker_status_kb(&t->broker, "VmRSS");

    int n_q1;
    size_t len;
    uint8_t *flood = build_flood(16u << 20, 80, 1600, &n_q1, &len);
    assert_true(n_q1 < 1000); /* stays under max_queued_messages: no backpressure */
    send_bytes(pub, flood, len);
    free(flood);
    for (int want = 1; want <= n_q1; want++) /* all handled once the last is acked */
        expect_ack(pub, 0x40, (uint16_t)want);

    long peak = broker_status_kb(&t->broker, "VmHWM");
    if (!starling_sanitized()) /* ASan's allocator keeps freed memory */
        assert_true(peak - rss_before < 6 * (long)(BUDGET / 1024));
    assert_true(broker_log_has_line(&t->broker, "dropping QoS 0", "max_pending_bytes_total"));
    struct msg m;
    for (int want = 1; want <= n_q1; want++) {
        char seq[16];
        snprintf(seq, sizeof seq, "q%06d", want);
        assert_int_equal(read_packet(q1_reader, &pk, IT_WAIT), 0);
        assert_int_equal(pk.type, 3);
        parse_publish(&pk, &m);
        assert_int_equal(m.qos, 1);
        assert_int_equal(m.payload_len, strlen(seq));
        assert_memory_equal(m.payload, seq, m.payload_len);
        send_ack(q1_reader, 0x40, m.pid);
    }
}

/* (c) Before CONNECT only max_connect_size bytes are accepted: a first
 * packet announcing more is refused on its fixed header alone; a CONNECT
 * under the limit (a long client id) is accepted. */
ITEST(test_connect_size_limit)
{
    skip_on_mosquitto(t);
    struct broker_cfg cfg = {.extra_limits = "\"max_connect_size\": 1024"};
    it_restart(t, &cfg);
    int big = it_tcp(t);
    send_bytes(big, "\x10\xd0\x0f", 3); /* CONNECT, remaining length 2000 */
    expect_closed(big, IT_WAIT);
    int pub_first = it_tcp(t);
    send_bytes(pub_first, "\x30\x88\x27", 3); /* PUBLISH first, 5000 bytes */
    expect_closed(pub_first, IT_WAIT);
    assert_true(broker_log_contains(&t->broker, "limits.max_connect_size"));

    static char id[881];
    memset(id, 'i', sizeof id - 1);
    struct conn_opts o = {.client_id = id, .clean = true, .keepalive = 60};
    static struct wbuf w;
    build_connect(&w, &o);
    assert_true(w.n + 3 > 880 && w.n + 3 <= 1024);
    int ok = it_tcp(t);
    send_packet(ok, 0x10, &w);
    expect_bytes(ok, "\x20\x02\x00\x00", 4, IT_WAIT);
    /* Once connected, packets up to max_packet_size are accepted again. */
    static char payload[4000];
    memset(payload, 'p', sizeof payload);
    subscribe(ok, "big/t", 0);
    send_publish(ok, "big/t", payload, sizeof payload, 0, false, false, 0);
    struct msg m;
    expect_packet(ok, &pk, 3);
    parse_publish(&pk, &m);
    assert_int_equal(m.payload_len, sizeof payload);
}

/* Send until done or the broker closes the connection; false if it did. */
static bool send_until_closed(int fd, const uint8_t *buf, size_t n)
{
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    while (n > 0) {
        ssize_t w = send(fd, buf, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        buf += w;
        n -= (size_t)w;
    }
    return true;
}

/* EOF or reset within ms. */
static bool closed_within(int fd, int ms)
{
    for (long end = now_ms() + ms; now_ms() < end;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0) continue;
        uint8_t b[256];
        ssize_t r = recv(fd, b, sizeof b, MSG_DONTWAIT);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) return true;
    }
    return false;
}

/* (d) Connections that stream a CONNECT without completing it hold at most
 * max_unauthenticated_bytes together: with 1 MiB and 300 KB of CONNECT each,
 * at most three fit, the others are closed (connect_timeout is far away),
 * and a normal client still connects and works. */
ITEST(test_unauthenticated_input_budget)
{
    skip_on_mosquitto(t);
    struct broker_cfg cfg = {.connect_timeout = 60,
                             .extra_limits = "\"max_connect_size\": 327701, "
                                             "\"max_unauthenticated_bytes\": 1048576"};
    it_restart(t, &cfg);
    enum { N = 6, ANNOUNCED = 320000, SENT = 300000 }; /* each survivor holds >= SENT */
    static uint8_t part[SENT];
    memset(part, 'c', sizeof part);
    part[0] = 0x10; /* CONNECT, remaining length ANNOUNCED (3-byte varint) */
    part[1] = (uint8_t)(0x80 | (ANNOUNCED & 0x7f));
    part[2] = (uint8_t)(0x80 | ((ANNOUNCED >> 7) & 0x7f));
    part[3] = (uint8_t)(ANNOUNCED >> 14);
    int fds[N];
    for (int i = 0; i < N; i++) {
        fds[i] = it_tcp(t);
        send_until_closed(fds[i], part, sizeof part);
    }
    int closed = 0;
    for (int i = 0; i < N; i++)
        closed += closed_within(fds[i], IT_WAIT);
    assert_true(closed >= N - 3);
    assert_true(broker_log_contains(&t->broker, "limits.max_unauthenticated_bytes"));
    int c1 = it_client(t, "normal-1"), c2 = it_client(t, "normal-2");
    subscribe(c2, "n/t", 1);
    publish(c1, "n/t", "hello", 1, false);
    expect_publish_ack(c2, "n/t", "hello", 1, false);
}

/* (e) Connected clients' partial packets are bounded together too: with
 * max_input_bytes_total 1 MiB, clients each streaming 300 KB of a 2 MB
 * PUBLISH hold at most 1 MiB between them. Each survivor holds its 300 KB,
 * so of five at most three survive, while small packets, which are never
 * buffered, still flow. */
ITEST(test_connected_input_budget)
{
    skip_on_mosquitto(t);
    struct broker_cfg cfg = {.extra_limits = "\"max_input_bytes_total\": 1048576"};
    it_restart(t, &cfg);
    enum { N = 5, ANNOUNCED = 2000000, SENT = 300000 };
    static uint8_t part[SENT];
    memset(part, 'p', sizeof part);
    part[0] = 0x30; /* QoS 0 PUBLISH, remaining length ANNOUNCED (3-byte varint) */
    part[1] = (uint8_t)(0x80 | (ANNOUNCED & 0x7f));
    part[2] = (uint8_t)(0x80 | ((ANNOUNCED >> 7) & 0x7f));
    part[3] = (uint8_t)(ANNOUNCED >> 14);
    part[4] = 0; /* topic "pp..." of 0x70 = 112 bytes */
    part[5] = 0x70;
    int fds[N];
    for (int i = 0; i < N; i++) {
        char id[16];
        snprintf(id, sizeof id, "big-%d", i);
        fds[i] = it_client(t, id);
        send_until_closed(fds[i], part, sizeof part);
    }
    int closed = 0;
    for (int i = 0; i < N; i++)
        closed += closed_within(fds[i], IT_WAIT);
    assert_true(closed >= N - 3);
    assert_true(broker_log_contains(&t->broker, "limits.max_input_bytes_total"));
    int c1 = it_client(t, "small-1"), c2 = it_client(t, "small-2");
    subscribe(c2, "s/t", 1);
    publish(c1, "s/t", "hello", 1, false);
    expect_publish_ack(c2, "s/t", "hello", 1, false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT(test_flood_does_not_starve_other_clients),
        IT(test_total_output_budget_bounds_memory),
        IT(test_connect_size_limit),
        IT(test_unauthenticated_input_budget),
        IT(test_connected_input_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
