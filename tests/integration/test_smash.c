/* Hundreds of clients sending mutated packet streams (flipped, truncated,
 * repeated and random bytes, abrupt resets) at one broker: it keeps serving a
 * healthy client throughout and exits cleanly (no leak, no sanitizer report)
 * at the end. Seeded, so a failure replays. MQTT-4.8.0-1 */
#include "tests/integration/harness.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CLIENTS 400
#define STREAM_MAX 2048

static uint64_t rng_state;

static uint32_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)rng_state;
}

/* Valid packets to start from (client id and packet ids fixed). */
static const uint8_t connect_pkt[] = {0x10, 18, 0, 4, 'M', 'Q', 'T', 'T', 4,   2,
                                      0,    10, 0, 6, 's', 'm', 'a', 's', 'h', '1'};
static const uint8_t connect_will[] = {0x10, 26,  0, 4, 'M', 'Q', 'T', 'T', 4, 0x0e, 0,   10, 0, 2,
                                       'w',  '1', 0, 3, 's', '/', 'w', 0,   3, 'b',  'y', 'e'};
static const uint8_t subscribe_pkt[] = {0x82, 8, 0, 1, 0, 3, 's', '/', '#', 2};
static const uint8_t publish0[] = {0x30, 7, 0, 3, 's', '/', 'x', 'h', 'i'};
static const uint8_t publish1[] = {0x32, 9, 0, 3, 's', '/', 'x', 0, 7, 'h', 'i'};
static const uint8_t publish2[] = {0x34, 9, 0, 3, 's', '/', 'y', 0, 8, 'h', 'i'};
static const uint8_t retain_pkt[] = {0x31, 7, 0, 3, 's', '/', 'r', 'h', 'i'};
static const uint8_t pubrel[] = {0x62, 2, 0, 8};
static const uint8_t puback[] = {0x40, 2, 0, 1};
static const uint8_t pubrec[] = {0x50, 2, 0, 1};
static const uint8_t pubcomp[] = {0x70, 2, 0, 1};
static const uint8_t pingreq[] = {0xC0, 0};
static const uint8_t unsubscribe_pkt[] = {0xA2, 7, 0, 2, 0, 3, 's', '/', '#'};
static const uint8_t disconnect_pkt[] = {0xE0, 0};

struct tmpl {
    const uint8_t *b;
    size_t n;
};
#define T(x)                                                                                       \
    {                                                                                              \
        x, sizeof x                                                                                \
    }
static const struct tmpl body[] = {
    T(subscribe_pkt), T(publish0), T(publish1), T(publish2), T(retain_pkt),      T(pubrel),
    T(puback),        T(pubrec),   T(pubcomp),  T(pingreq),  T(unsubscribe_pkt), T(disconnect_pkt)};

static size_t append(uint8_t *s, size_t n, const uint8_t *b, size_t len)
{
    if (n + len > STREAM_MAX) return n;
    memcpy(s + n, b, len);
    return n + len;
}

static size_t mutate(uint8_t *s, size_t n)
{
    int k = 1 + (int)(rnd() % 4);
    for (int i = 0; i < k && n > 0; i++) {
        size_t at = rnd() % n;
        switch (rnd() % 5) {
        case 0:
            s[at] ^= (uint8_t)(1u << (rnd() % 8));
            break;
        case 1:
            s[at] = (uint8_t)rnd();
            break;
        case 2:
            n = at + 1;
            break; /* truncate */
        case 3:    /* repeat a chunk */
            n = append(s, n, s + at, (n - at) % 64);
            break;
        default: /* random bytes */
            for (int j = 0; j < 8 && n < STREAM_MAX; j++)
                s[n++] = (uint8_t)rnd();
        }
    }
    return n;
}

static size_t make_stream(uint8_t *s)
{
    size_t n = 0;
    if (rnd() % 4 == 0)
        n = append(s, n, connect_will, sizeof connect_will);
    else
        n = append(s, n, connect_pkt, sizeof connect_pkt);
    int packets = 1 + (int)(rnd() % 10);
    for (int i = 0; i < packets; i++) {
        const struct tmpl *t = &body[rnd() % (sizeof body / sizeof body[0])];
        n = append(s, n, t->b, t->n);
    }
    return rnd() % 8 == 0 ? n : mutate(s, n);
}

static void smash_one(int port)
{
    uint8_t s[STREAM_MAX + 64];
    size_t n = make_stream(s);
    int fd = tcp_connect_port(port);
    assert_true(fd >= 0);
    /* Sometimes in pieces, to cross read boundaries. */
    size_t off = 0;
    while (off < n) {
        size_t chunk = rnd() % 3 == 0 ? 1 + rnd() % 16 : n - off;
        if (chunk > n - off) chunk = n - off;
        if (send(fd, s + off, chunk, MSG_NOSIGNAL) < 0) break;
        off += chunk;
    }
    uint8_t sink[4096];
    for (int i = 0; i < 4 && recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0; i++)
        continue;
    if (rnd() % 3 == 0) { /* abortive close: RST instead of FIN */
        struct linger lg = {1, 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    close(fd);
}

/* A well-behaved client still gets its own messages through. */
static void health_check(struct itest *t, int sub, int round)
{
    char topic[32], payload[32];
    snprintf(topic, sizeof topic, "health/%d", round);
    snprintf(payload, sizeof payload, "alive %d", round);
    int pub = tcp_connect_port(t->broker.port);
    assert_true(pub >= 0);
    struct conn_opts o = {.client_id = "healthpub", .clean = true, .keepalive = 60};
    send_connect(pub, &o);
    uint8_t ack[4];
    assert_int_equal(recv_exact(pub, ack, 4, IT_WAIT), 0);
    send_publish(pub, topic, payload, strlen(payload), 1, false, false, 1);
    expect_ack(pub, 0x40, 1);
    close(pub);
    expect_publish_ack(sub, topic, payload, 1, false);
}

ITEST(test_mutated_streams_do_not_hurt_the_broker)
{
    signal(SIGPIPE, SIG_IGN);
    rng_state = 0x5eed5eed12345678ull;
    struct conn_opts o = {.client_id = "healthy", .clean = true, .keepalive = 60};
    int sub = it_connect(t, &o, NULL);
    subscribe(sub, "health/#", 1);
    for (int i = 0; i < CLIENTS; i++) {
        smash_one(t->broker.port);
        if (i % 100 == 99) health_check(t, sub, i);
    }
    health_check(t, sub, CLIENTS);
    /* The streams really were a mix of accepted and refused clients. */
    assert_true(broker_log_contains(&t->broker, "protocol error"));
    assert_true(broker_log_contains(&t->broker, "client=smash1"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT(test_mutated_streams_do_not_hurt_the_broker),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
