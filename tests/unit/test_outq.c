/* Output queue over a real socket pair: bytes arrive identical and in order
 * across inline bytes and shared msg ranges, partial writes resume where
 * they stopped, message references are held exactly as long as needed, and
 * a dead peer is reported. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker/net/outq.h"

struct pair {
    int w, r; /* w: non-blocking writer, r: reader */
};

/* The queue writes through a transport; these tests use plain TCP's. */
static struct transport tcp;

static int setup(void **state)
{
    signal(SIGPIPE, SIG_IGN);
    tcp = transport_tcp();
    struct pair *p = malloc(sizeof(*p));
    int fd[2];
    if (!p || socketpair(AF_UNIX, SOCK_STREAM, 0, fd) < 0) return -1;
    p->w = fd[0];
    p->r = fd[1];
    if (fcntl(p->w, F_SETFL, fcntl(p->w, F_GETFL) | O_NONBLOCK) < 0) return -1;
    *state = p;
    return 0;
}

static int teardown(void **state)
{
    struct pair *p = *state;
    close(p->w);
    if (p->r >= 0) close(p->r);
    free(p);
    return 0;
}

/* Read everything currently available (without blocking) into buf. */
static size_t drain(int fd, uint8_t *buf, size_t cap)
{
    size_t got = 0;
    for (int i = 0; i < 1000000 && got < cap; i++) {
        ssize_t n = recv(fd, buf + got, cap - got, MSG_DONTWAIT);
        if (n > 0) {
            got += (size_t)n;
            continue;
        }
        assert_true(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
        break;
    }
    return got;
}

/* The expected byte stream, built alongside the queue. */
struct expect {
    uint8_t *buf;
    size_t len, cap;
};

static void expect_add(struct expect *e, const void *data, size_t len)
{
    if (e->len + len > e->cap) {
        e->cap = (e->len + len) * 2;
        e->buf = realloc(e->buf, e->cap);
        assert_non_null(e->buf);
    }
    memcpy(e->buf + e->len, data, len);
    e->len += len;
}

static void put_bytes(struct outq *q, struct expect *e, const void *data, size_t len)
{
    size_t before = q->bytes;
    assert_int_equal(outq_put_bytes(q, data, len), 0);
    assert_int_equal(q->bytes, before + len);
    expect_add(e, data, len);
}

static void put_msg(struct outq *q, struct expect *e, struct msg *m, size_t off, size_t len)
{
    size_t before = q->bytes;
    assert_int_equal(outq_put_msg(q, m, off, len), 0);
    assert_int_equal(q->bytes, before + len);
    expect_add(e, m->wire + off, len);
}

static struct msg *make_msg(const char *topic, size_t payload_len, uint8_t seed)
{
    uint8_t *pl = malloc(payload_len ? payload_len : 1);
    assert_non_null(pl);
    for (size_t i = 0; i < payload_len; i++)
        pl[i] = (uint8_t)(seed + i * 7 + (i >> 8));
    struct msg *m = msg_new((const uint8_t *)topic, strlen(topic), pl, payload_len, 1, false);
    free(pl);
    assert_non_null(m);
    return m;
}

static void test_bytes_and_msg_ranges_in_order(void **state)
{
    struct pair *p = *state;
    struct outq q = {0};
    struct expect e = {0};
    struct msg *m = make_msg("sensors/a/temp", 300, 3);
    size_t tw = 2 + m->topic_len;
    put_bytes(&q, &e, "\x32\xae\x02", 3);         /* fixed header */
    put_msg(&q, &e, m, 0, tw);                    /* topic with length */
    put_bytes(&q, &e, "\x00\x07", 2);             /* packet id */
    put_msg(&q, &e, m, tw, m->payload_len);       /* payload */
    put_msg(&q, &e, m, 5, 10);                    /* an arbitrary inner range */
    put_bytes(&q, &e, "0123456789abcdefXYZ", 19); /* spans two inline segments */
    assert_int_equal(q.bytes, e.len);
    assert_int_equal(outq_flush(&q, &tcp, p->w), 0);
    assert_true(outq_empty(&q));
    assert_int_equal(q.bytes, 0);
    uint8_t got[1024];
    assert_int_equal(drain(p->r, got, sizeof(got)), e.len);
    assert_memory_equal(got, e.buf, e.len);
    assert_int_equal(m->refs, 1);
    msg_unref(m);
    free(e.buf);
}

/* Consecutive small puts are copied into one segment: one iovec on write. */
static void test_small_puts_coalesce(void **state)
{
    struct pair *p = *state;
    struct outq q = {0};
    struct expect e = {0};
    size_t total = 0;
    for (int i = 0; i < 1000; i++) {
        uint8_t b[3] = {(uint8_t)i, (uint8_t)(i >> 8), (uint8_t)(i * 31)};
        size_t n = 1 + (size_t)(i % 3);
        put_bytes(&q, &e, b, n);
        total += n;
    }
    assert_int_equal(q.bytes, total);
    assert_int_equal(q.tail - q.head, 1);
    /* A msg reference in between ends the run of inline bytes. */
    struct msg *m = make_msg("t", 40, 9);
    put_msg(&q, &e, m, 0, 2 + 1 + 40);
    put_bytes(&q, &e, "\x40\x02", 2);
    assert_int_equal(outq_flush(&q, &tcp, p->w), 0);
    uint8_t *got = malloc(e.len + 1);
    assert_non_null(got);
    assert_int_equal(drain(p->r, got, e.len + 1), e.len);
    assert_memory_equal(got, e.buf, e.len);
    msg_unref(m);
    free(got);
    free(e.buf);
}

/* More than the socket takes: flush reports 1, resumes exactly where the
 * kernel stopped (mid-segment too), and the reader sees the whole stream. */
static void test_partial_writes_resume(void **state)
{
    struct pair *p = *state;
    int sz = 4096;
    assert_int_equal(setsockopt(p->w, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz)), 0);
    struct outq q = {0};
    struct expect e = {0};
    struct msg *big = make_msg("bulk/data", 50000, 1);
    struct msg *small = make_msg("s", 100, 2);
    for (int i = 0; i < 40; i++) {
        uint8_t hdr[5] = {0x30, (uint8_t)i, 0x80, 0x01, (uint8_t)(i * 3)};
        put_bytes(&q, &e, hdr, sizeof(hdr));
        put_msg(&q, &e, i % 2 ? big : small, 0, (i % 2 ? big : small)->payload_len + 2 + 1);
    }
    assert_true(e.len > 1000000);
    uint8_t *got = malloc(e.len + 1);
    assert_non_null(got);
    size_t recvd = 0;
    int rc = outq_flush(&q, &tcp, p->w);
    assert_int_equal(rc, 1);
    int rounds = 0;
    for (; rc == 1 && rounds < 100000; rounds++) {
        recvd += drain(p->r, got + recvd, e.len + 1 - recvd);
        /* What was written is already at the reader: the rest is pending. */
        assert_int_equal(q.bytes, e.len - recvd);
        if (rounds == 3) { /* new data while the head is partly written */
            uint8_t tail[7] = {0xe0, 0, 1, 2, 3, 4, 5};
            put_bytes(&q, &e, tail, sizeof(tail));
            got = realloc(got, e.len + 1);
            assert_non_null(got);
        }
        rc = outq_flush(&q, &tcp, p->w);
        assert_true(rc == 0 || rc == 1);
    }
    assert_int_equal(rc, 0);
    assert_true(rounds > 3);
    recvd += drain(p->r, got + recvd, e.len + 1 - recvd);
    assert_int_equal(recvd, e.len);
    assert_memory_equal(got, e.buf, e.len);
    assert_int_equal(q.bytes, 0);
    assert_int_equal(big->refs, 1);
    assert_int_equal(small->refs, 1);
    msg_unref(big);
    msg_unref(small);
    free(got);
    free(e.buf);
}

static void test_queue_keeps_msg_alive(void **state)
{
    struct pair *p = *state;
    struct outq q = {0};
    struct expect e = {0};
    struct msg *m = make_msg("a/b", 64, 5);
    put_msg(&q, &e, m, 0, 2 + 3 + 64);
    put_msg(&q, &e, m, 2 + 3, 64);
    assert_int_equal(m->refs, 3);
    assert_int_equal(outq_put_msg(&q, m, 0, 0), 0); /* empty range: no ref */
    assert_int_equal(m->refs, 3);
    struct msg *watch = msg_ref(m);
    msg_unref(m); /* the producer lets go: the queue's refs keep it */
    assert_int_equal(watch->refs, 3);
    assert_int_equal(outq_flush(&q, &tcp, p->w), 0);
    assert_int_equal(watch->refs, 1);
    uint8_t got[256];
    assert_int_equal(drain(p->r, got, sizeof(got)), e.len);
    assert_memory_equal(got, e.buf, e.len);
    msg_unref(watch);
    free(e.buf);

    /* Only the queue holds it: the bytes still come out right (ASan checks
     * that nothing reads freed memory). */
    struct expect e2 = {0};
    m = make_msg("x/y/z", 33, 8);
    put_msg(&q, &e2, m, 0, 2 + 5 + 33);
    msg_unref(m);
    assert_int_equal(outq_flush(&q, &tcp, p->w), 0);
    assert_int_equal(drain(p->r, got, sizeof(got)), e2.len);
    assert_memory_equal(got, e2.buf, e2.len);
    free(e2.buf);
}

static void test_clear_releases_refs(void **state)
{
    struct pair *p = *state;
    struct outq q = {0};
    struct expect e = {0};
    struct msg *m = make_msg("c", 10, 4);
    put_bytes(&q, &e, "ab", 2);
    put_msg(&q, &e, m, 0, 13);
    put_msg(&q, &e, m, 3, 10);
    assert_int_equal(m->refs, 3);
    outq_clear(&q);
    assert_int_equal(m->refs, 1);
    assert_true(outq_empty(&q));
    assert_int_equal(q.bytes, 0);

    /* After a partial flush some segments are gone already: each ref is
     * released exactly once between flush and clear. */
    int sz = 4096;
    assert_int_equal(setsockopt(p->w, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz)), 0);
    struct msg *big = make_msg("big", 20000, 6);
    for (int i = 0; i < 50; i++)
        put_msg(&q, &e, i % 5 ? big : m, 0, i % 5 ? 20005 : 13);
    assert_int_equal(outq_flush(&q, &tcp, p->w), 1);
    assert_false(outq_empty(&q));
    outq_clear(&q);
    assert_int_equal(m->refs, 1);
    assert_int_equal(big->refs, 1);
    assert_int_equal(q.bytes, 0);
    msg_unref(m);
    msg_unref(big);
    free(e.buf);
}

static void test_flush_to_closed_peer_fails(void **state)
{
    struct pair *p = *state;
    close(p->r);
    p->r = -1;
    struct outq q = {0};
    struct msg *m = make_msg("gone", 100, 1);
    assert_int_equal(outq_put_bytes(&q, "\x30\x10", 2), 0);
    assert_int_equal(outq_put_msg(&q, m, 0, 106), 0);
    assert_int_equal(outq_flush(&q, &tcp, p->w), -1);
    outq_clear(&q);
    assert_int_equal(m->refs, 1);
    msg_unref(m);
}

static void test_empty_flush(void **state)
{
    struct pair *p = *state;
    struct outq q = {0};
    assert_true(outq_empty(&q));
    assert_int_equal(outq_flush(&q, &tcp, p->w), 0);
    assert_int_equal(outq_put_bytes(&q, "", 0), 0);
    assert_true(outq_empty(&q));
    assert_int_equal(q.bytes, 0);
    uint8_t got[4];
    assert_int_equal(drain(p->r, got, sizeof(got)), 0);
}

/* The owner's counter is the sum of mem over its queues, through appends,
 * growth, partial writes, a full flush and clear; clear keeps the link. */
static void test_memory_accounting(void **state)
{
    struct pair *p = *state;
    int sz = 4096;
    assert_int_equal(setsockopt(p->w, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz)), 0);
    uint64_t total = 0;
    struct outq a = {.total = &total}, b = {.total = &total};
    struct expect e = {0};
    struct msg *big = make_msg("big/payload", 30000, 7);
    size_t big_len = 2 + big->topic_len + big->payload_len;
    static uint8_t chunk[3000];
    for (int i = 0; i < 100; i++) {
        put_bytes(&a, &e, chunk, sizeof chunk);
        if (i % 10 == 0) put_msg(&a, &e, big, 0, big_len);
        assert_int_equal(outq_put_bytes(&b, chunk, 100), 0);
        assert_int_equal(total, outq_mem(&a) + outq_mem(&b));
    }
    /* Held memory covers what is pending (capacity may be more). */
    assert_true(outq_mem(&a) >= a.bytes);
    assert_true(outq_mem(&b) >= b.bytes);
    assert_int_equal(outq_flush(&a, &tcp, p->w), 1);
    size_t held = outq_mem(&a);
    for (int i = 0; i < 100000 && outq_flush(&a, &tcp, p->w) == 1; i++) {
        uint8_t sink[65536];
        (void)!recv(p->r, sink, sizeof sink, MSG_DONTWAIT);
        assert_int_equal(total, outq_mem(&a) + outq_mem(&b));
        assert_true(outq_mem(&a) <= held); /* written msg ranges are released */
    }
    assert_true(outq_empty(&a));
    assert_int_equal(outq_mem(&a), 0); /* an emptied queue holds nothing */
    assert_int_equal(total, outq_mem(&b));
    assert_ptr_equal(a.total, &total);
    outq_clear(&b);
    assert_int_equal(total, 0);
    assert_ptr_equal(b.total, &total);
    assert_int_equal(outq_put_bytes(&b, "x", 1), 0); /* still counted after clear */
    assert_int_equal(total, outq_mem(&b));
    assert_true(total > 0);
    outq_clear(&b);
    assert_int_equal(total, 0);
    assert_int_equal(big->refs, 1);
    msg_unref(big);
    free(e.buf);
}

/* A queue that drained most of a large backlog but never to empty gives
 * memory back when it next slides, instead of keeping its peak. */
static void test_mostly_drained_buffer_shrinks(void **state)
{
    struct pair *p = *state;
    int sz = 4096;
    assert_int_equal(setsockopt(p->w, SOL_SOCKET, SO_SNDBUF, &sz, sizeof(sz)), 0);
    uint64_t total = 0;
    struct outq q = {.total = &total};
    static uint8_t chunk[1000];
    for (int i = 0; i < 1000; i++)
        assert_int_equal(outq_put_bytes(&q, chunk, sizeof chunk), 0);
    size_t peak = outq_mem(&q);
    assert_true(peak >= 1000000);
    uint8_t sink[65536];
    /* Drain until only a little is pending, without ever emptying. */
    for (int i = 0; i < 100000 && q.bytes > 20000; i++) {
        assert_int_equal(outq_flush(&q, &tcp, p->w), 1);
        while (recv(p->r, sink, sizeof sink, MSG_DONTWAIT) > 0 && q.bytes > 20000)
            ;
    }
    assert_false(outq_empty(&q));
    /* Appending until the end of the buffer is reached makes it slide. */
    for (int i = 0; i < 2000 && outq_mem(&q) == peak; i++)
        assert_int_equal(outq_put_bytes(&q, chunk, 100), 0);
    assert_true(outq_mem(&q) < peak / 4);
    assert_int_equal(total, outq_mem(&q));
    outq_clear(&q);
    assert_int_equal(total, 0);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_bytes_and_msg_ranges_in_order),
        T(test_small_puts_coalesce),
        T(test_partial_writes_resume),
        T(test_queue_keeps_msg_alive),
        T(test_clear_releases_refs),
        T(test_flush_to_closed_peer_fails),
        T(test_empty_flush),
        T(test_memory_accounting),
        T(test_mostly_drained_buffer_shrinks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
