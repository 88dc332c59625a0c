/* Session bookkeeping: subscriptions, the outgoing window's packet ids and
 * send order, the bounded queue behind it, inbound QoS 2 ids, and that
 * freeing a session lets go of every message it held. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "broker/session/session.h"

#define WINDOW 65535

static struct session *new_session(void)
{
    struct session *s = session_new((const uint8_t *)"dev-1", 5, 42);
    assert_non_null(s);
    return s;
}

static struct msg *make_msg(size_t payload_len)
{
    static const uint8_t zeros[512];
    assert_true(payload_len <= sizeof(zeros));
    struct msg *m = msg_new((const uint8_t *)"t/x", 3, zeros, payload_len, 1, false);
    assert_non_null(m);
    return m;
}

/* Tests hash under a fixed key, so a failure reproduces. */
static const struct hash_key key = {0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull};

static int sub_qos(const struct session *s, const char *f)
{
    const struct sub_filter *e = sub_index_find(&s->subs, &key, (const uint8_t *)f, strlen(f));
    assert_int_equal(session_sub_has(s, &key, (const uint8_t *)f, strlen(f)), e != NULL);
    return e ? e->qos : -1;
}

static int set(struct session *s, const char *f, uint8_t qos)
{
    return session_sub_set(s, &key, (const uint8_t *)f, strlen(f), qos);
}

static bool unset(struct session *s, const char *f)
{
    return session_sub_remove(s, &key, (const uint8_t *)f, strlen(f));
}

static void test_new_copies_client_id(void **state)
{
    (void)state;
    uint8_t id[] = {'a', 0, 'b'};
    struct session *s = session_new(id, 3, 7);
    assert_non_null(s);
    id[0] = 'z';
    assert_int_equal(s->id_len, 3);
    assert_memory_equal(s->client_id, "a\0b", 4); /* NUL-terminated copy */
    assert_int_equal(s->hash, 7);
    assert_null(s->conn);
    assert_int_equal(session_inflight_count(s), 0);
    session_free(s);
}

static void test_subscriptions_set_replace_remove(void **state)
{
    (void)state;
    struct session *s = new_session();
    char f[] = "a/+/c";
    assert_int_equal(set(s, f, 1), 1);
    f[0] = 'X'; /* the session keeps its own copy */
    assert_int_equal(sub_qos(s, "a/+/c"), 1);
    assert_int_equal(set(s, "a/#", 0), 1);
    assert_int_equal(set(s, "a", 2), 1);
    assert_int_equal(set(s, "a/", 2), 1); /* not the same filter as "a" */
    assert_int_equal(session_sub_count(s), 4);
    assert_int_equal(set(s, "a/+/c", 2), 0); /* same filter: QoS replaced */
    assert_int_equal(session_sub_count(s), 4);
    assert_int_equal(sub_qos(s, "a/+/c"), 2);
    assert_true(unset(s, "a/#"));
    assert_false(unset(s, "a/#"));
    assert_false(unset(s, "a/+"));
    assert_int_equal(session_sub_count(s), 3);
    assert_int_equal(sub_qos(s, "a/#"), -1);
    assert_int_equal(sub_qos(s, "a"), 2);
    assert_int_equal(sub_qos(s, "a/"), 2);
    assert_int_equal(sub_qos(s, "a/+/c"), 2);
    /* many filters (growth), then all removed */
    char buf[16];
    for (int i = 0; i < 100; i++) {
        buf[0] = 'f';
        buf[1] = (char)('0' + i / 10);
        buf[2] = (char)('0' + i % 10);
        buf[3] = '\0';
        assert_int_equal(set(s, buf, (uint8_t)(i % 3)), 1);
    }
    assert_int_equal(session_sub_count(s), 103);
    assert_int_equal(sub_qos(s, "f57"), 57 % 3);
    for (int i = 0; i < 100; i++) {
        buf[1] = (char)('0' + i / 10);
        buf[2] = (char)('0' + i % 10);
        assert_true(unset(s, buf));
    }
    assert_int_equal(session_sub_count(s), 3);
    assert_int_equal(sub_qos(s, "a"), 2);
    session_free(s);
}

/* No two entries awaiting an ack share an id, and no id is zero. */
static void check_ids(struct session *s)
{
    static uint8_t seen[65536];
    memset(seen, 0, sizeof(seen));
    for (uint32_t i = 0; i < session_inflight_count(s); i++) {
        struct inflight *e = session_inflight_at(s, i);
        if (e->state == INFLIGHT_FREE) continue;
        assert_int_not_equal(e->pid, 0);
        assert_int_equal(seen[e->pid], 0);
        seen[e->pid] = 1;
    }
}

/* MQTT-2.3.1-1, MQTT-2.3.1-4: ids are non-zero and not in use. */
static void test_inflight_ids_unique_nonzero_MQTT_2_3_1_1_MQTT_2_3_1_4(void **state)
{
    (void)state;
    struct session *s = new_session();
    struct msg *m = make_msg(10);
    for (int i = 0; i < 200; i++) {
        struct inflight *e = session_inflight_add(s, WINDOW, m, (uint8_t)(1 + i % 2), i % 5 == 0);
        assert_non_null(e);
        assert_int_not_equal(e->pid, 0);
        assert_int_equal(e->state, i % 2 ? WAIT_PUBREC : WAIT_PUBACK);
        assert_int_equal(e->qos, 1 + i % 2);
        assert_int_equal(e->retain, i % 5 == 0);
        assert_ptr_equal(e->m, m);
    }
    assert_int_equal(m->refs, 201);
    check_ids(s);
    /* release every third (acks out of order), then add more */
    for (uint32_t i = 0; i < session_inflight_count(s); i += 3) {
        struct inflight *e = session_inflight_at(s, i);
        if (e->state != INFLIGHT_FREE) session_inflight_release(s, e);
    }
    for (int i = 0; i < 150; i++)
        assert_non_null(session_inflight_add(s, WINDOW, m, 1, false));
    check_ids(s);
    assert_int_equal(m->refs, 1 + s->if_active);
    session_free(s);
    assert_int_equal(m->refs, 1);
    msg_unref(m);
}

/* MQTT-2.3.1-1: after 65535 the id wraps to 1, never 0. */
static void test_inflight_ids_wrap_skip_zero_MQTT_2_3_1_1(void **state)
{
    (void)state;
    struct session *s = new_session();
    struct msg *m = make_msg(0);
    for (uint32_t i = 0; i < 65535u + 3; i++) {
        struct inflight *e = session_inflight_add(s, 16, m, 1, false);
        assert_non_null(e);
        assert_int_equal(e->pid, i % 65535 + 1);
        session_inflight_release(s, e);
    }
    assert_int_equal(session_inflight_count(s), 0);
    assert_int_equal(m->refs, 1);
    session_free(s);
    msg_unref(m);
}

/* MQTT-2.3.1-4: on wrap-around, ids still awaiting an ack are skipped and
 * ids whose final ack arrived are free again. */
static void test_inflight_wrap_skips_ids_in_use_MQTT_2_3_1_4(void **state)
{
    (void)state;
    struct session *s = new_session();
    struct msg *m = make_msg(1);
    uint16_t a = session_inflight_add(s, WINDOW, m, 1, false)->pid;
    uint16_t b = session_inflight_add(s, WINDOW, m, 2, false)->pid;
    uint16_t c = session_inflight_add(s, WINDOW, m, 1, false)->pid;
    assert_int_equal(a, 1);
    assert_int_equal(b, 2);
    assert_int_equal(c, 3);
    session_inflight_release(s, session_inflight_find(s, b, WAIT_PUBREC));
    /* Stand in for 65530 add/ack cycles behind the unacked head (which
     * would cost O(n^2) here): the counter is the session's own field. */
    s->last_pid = 65533;
    uint16_t got[4];
    for (int i = 0; i < 4; i++)
        got[i] = session_inflight_add(s, WINDOW, m, 1, false)->pid;
    assert_int_equal(got[0], 65534);
    assert_int_equal(got[1], 65535);
    assert_int_equal(got[2], 2); /* 0 never, 1 in use, 2 acked */
    assert_int_equal(got[3], 4); /* 3 in use */
    check_ids(s);
    session_free(s);
    assert_int_equal(m->refs, 1);
    msg_unref(m);
}

static void test_inflight_find_by_pid_and_state(void **state)
{
    (void)state;
    struct session *s = new_session();
    struct msg *m = make_msg(5);
    struct inflight *q1 = session_inflight_add(s, WINDOW, m, 1, false);
    uint16_t p1 = q1->pid;
    uint16_t p2 = session_inflight_add(s, WINDOW, m, 2, false)->pid;
    assert_ptr_equal(session_inflight_find(s, p1, WAIT_PUBACK), q1);
    assert_null(session_inflight_find(s, p1, WAIT_PUBREC));
    struct inflight *q2 = session_inflight_find(s, p2, WAIT_PUBREC);
    assert_non_null(q2);
    assert_int_equal(q2->pid, p2);
    assert_null(session_inflight_find(s, p2, WAIT_PUBCOMP));
    /* PUBREC received: the PUBLISH is released, the id awaits PUBCOMP */
    msg_unref(q2->m);
    q2->m = NULL;
    q2->state = WAIT_PUBCOMP;
    assert_null(session_inflight_find(s, p2, WAIT_PUBREC));
    assert_ptr_equal(session_inflight_find(s, p2, WAIT_PUBCOMP), q2);
    assert_null(session_inflight_find(s, 999, WAIT_PUBACK));
    session_inflight_release(s, q2);
    assert_null(session_inflight_find(s, p2, WAIT_PUBCOMP));
    assert_ptr_equal(session_inflight_find(s, p1, WAIT_PUBACK), q1);
    session_free(s);
    assert_int_equal(m->refs, 1);
    msg_unref(m);
}

static void check_order(struct session *s, const int *pids, uint32_t n)
{
    assert_int_equal(session_inflight_count(s), n);
    for (uint32_t i = 0; i < n; i++) {
        struct inflight *e = session_inflight_at(s, i);
        if (pids[i] == 0)
            assert_int_equal(e->state, INFLIGHT_FREE);
        else
            assert_int_equal(e->pid, pids[i]);
    }
}

static void release_pid(struct session *s, uint16_t pid)
{
    struct inflight *e = session_inflight_find(s, pid, WAIT_PUBACK);
    assert_non_null(e);
    session_inflight_release(s, e);
}

/* Acks out of order: the rest keep their send order (re-sends on reconnect
 * walk it) and freed slots are reclaimed once they reach the head. */
static void test_inflight_out_of_order_release(void **state)
{
    (void)state;
    struct session *s = new_session();
    struct msg *m = make_msg(8);
    for (int i = 0; i < 5; i++)
        session_inflight_add(s, WINDOW, m, 1, false);
    release_pid(s, 3);
    check_order(s, (const int[]){1, 2, 0, 4, 5}, 5);
    assert_int_equal(s->if_active, 4);
    assert_int_equal(m->refs, 5);
    release_pid(s, 1);
    check_order(s, (const int[]){2, 0, 4, 5}, 4);
    release_pid(s, 2);
    check_order(s, (const int[]){4, 5}, 2);
    release_pid(s, 5);
    check_order(s, (const int[]){4, 0}, 2);
    release_pid(s, 4);
    check_order(s, NULL, 0);
    assert_int_equal(s->if_active, 0);
    assert_int_equal(m->refs, 1);

    /* A ring that wraps, then grows past a small window: order survives. */
    for (int i = 0; i < 4; i++)
        session_inflight_add(s, 4, m, 1, false); /* 6..9 */
    release_pid(s, 6);
    release_pid(s, 7);
    session_inflight_add(s, 4, m, 1, false); /* 10 */
    session_inflight_add(s, 4, m, 1, false); /* 11 */
    check_order(s, (const int[]){8, 9, 10, 11}, 4);
    release_pid(s, 10);
    session_inflight_add(s, 4, m, 1, false); /* 12 */
    check_order(s, (const int[]){8, 9, 0, 11, 12}, 5);
    release_pid(s, 8);
    release_pid(s, 9);
    check_order(s, (const int[]){11, 12}, 2);
    session_free(s);
    assert_int_equal(m->refs, 1);
    msg_unref(m);
}

static void test_queue_fifo_and_count_limit(void **state)
{
    (void)state;
    struct session *s = new_session();
    struct msg *m[12];
    for (int i = 0; i < 12; i++)
        m[i] = make_msg((size_t)i * 10);
    int next_in = 0, next_out = 0;
    size_t bytes = 0;
    /* interleaved pushes and pops move the ring's head around */
    for (int round = 0; round < 3; round++) {
        for (int k = 0; k < 4 && next_in < 12; k++, next_in++) {
            assert_int_equal(
                session_queue_push(s, m[next_in], (uint8_t)(next_in % 3), next_in % 2, 10, 1 << 20),
                0);
            bytes += m[next_in]->payload_len;
            assert_int_equal(m[next_in]->refs, 2);
            assert_int_equal(s->q_bytes, bytes);
        }
        struct queued q;
        assert_true(session_queue_pop(s, &q));
        assert_ptr_equal(q.m, m[next_out]);
        assert_int_equal(q.qos, next_out % 3);
        assert_int_equal(q.retain, next_out % 2);
        assert_int_equal(q.m->refs, 2); /* the queue's ref is now ours */
        msg_unref(q.m);
        bytes -= m[next_out]->payload_len;
        assert_int_equal(s->q_bytes, bytes);
        next_out++;
    }
    assert_int_equal(s->q_len, 9);
    /* full at 10 messages */
    assert_int_equal(session_queue_push(s, m[0], 0, false, 10, 1 << 20), 0);
    assert_int_equal(session_queue_push(s, m[1], 0, false, 10, 1 << 20), -1);
    assert_int_equal(m[1]->refs, 1);
    assert_int_equal(s->q_len, 10);
    struct queued q;
    int expect[] = {3, 4, 5, 6, 7, 8, 9, 10, 11, 0};
    for (int i = 0; i < 10; i++) {
        assert_true(session_queue_pop(s, &q));
        assert_ptr_equal(q.m, m[expect[i]]);
        msg_unref(q.m);
    }
    assert_false(session_queue_pop(s, &q));
    assert_int_equal(s->q_bytes, 0);
    for (int i = 0; i < 12; i++) {
        assert_int_equal(m[i]->refs, 1);
        msg_unref(m[i]);
    }
    session_free(s);
}

static void test_queue_byte_limit(void **state)
{
    (void)state;
    struct session *s = new_session();
    struct msg *h = make_msg(100), *f = make_msg(50), *one = make_msg(1), *z = make_msg(0);
    assert_int_equal(session_queue_push(s, h, 1, false, 100, 250), 0);
    assert_int_equal(session_queue_push(s, h, 1, false, 100, 250), 0);
    assert_int_equal(session_queue_push(s, h, 1, false, 100, 250), -1); /* 300 > 250 */
    assert_int_equal(h->refs, 3);
    assert_int_equal(session_queue_push(s, f, 1, false, 100, 250), 0); /* exactly 250 */
    assert_int_equal(s->q_bytes, 250);
    assert_int_equal(session_queue_push(s, one, 1, false, 100, 250), -1);
    assert_int_equal(one->refs, 1);
    assert_int_equal(s->q_len, 3);
    struct queued q;
    assert_true(session_queue_pop(s, &q));
    msg_unref(q.m);
    assert_int_equal(s->q_bytes, 150);
    assert_int_equal(session_queue_push(s, h, 1, false, 100, 250), 0);
    assert_int_equal(s->q_bytes, 250);
    assert_int_equal(session_queue_push(s, z, 1, false, 100, 250), 0); /* no bytes */
    session_free(s);
    assert_int_equal(h->refs, 1);
    assert_int_equal(f->refs, 1);
    assert_int_equal(z->refs, 1);
    msg_unref(h);
    msg_unref(f);
    msg_unref(one);
    msg_unref(z);
}

/* MQTT-4.3.3-2: until PUBREL an inbound QoS 2 id is known (a repeat is not
 * new); after PUBREL the same id is a new message. */
static void test_rx_qos2_MQTT_4_3_3_2(void **state)
{
    (void)state;
    struct session *s = new_session();
    for (uint16_t pid = 1; pid <= 20; pid++)
        assert_int_equal(session_rx_qos2_add(s, pid), 1);
    assert_int_equal(session_rx_qos2_add(s, 7), 0);
    assert_int_equal(session_rx_qos2_add(s, 65535), 1);
    assert_int_equal(session_rx_qos2_add(s, 65535), 0);
    assert_true(session_rx_qos2_remove(s, 7));
    assert_false(session_rx_qos2_remove(s, 7));
    assert_false(session_rx_qos2_remove(s, 21));
    assert_int_equal(session_rx_qos2_add(s, 8), 0); /* others unaffected */
    assert_int_equal(session_rx_qos2_add(s, 20), 0);
    assert_int_equal(session_rx_qos2_add(s, 7), 1);
    for (uint16_t pid = 1; pid <= 20; pid++)
        assert_true(session_rx_qos2_remove(s, pid));
    assert_true(session_rx_qos2_remove(s, 65535));
    assert_int_equal(s->rx_qos2.n, 0);
    assert_int_equal(session_rx_qos2_add(s, 3), 1);
    session_free(s);
}

static void test_free_releases_every_ref(void **state)
{
    (void)state;
    struct session *s = new_session();
    struct msg *m[6];
    for (int i = 0; i < 6; i++)
        m[i] = make_msg((size_t)i); /* our ref: refs == 1 */
    assert_int_equal(set(s, "x/#", 1), 1);
    assert_int_equal(session_rx_qos2_add(s, 9), 1);
    for (int i = 0; i < 4; i++)
        assert_non_null(session_inflight_add(s, WINDOW, m[i], (uint8_t)(1 + i % 2), false));
    session_inflight_add(s, WINDOW, m[0], 1, false); /* same msg twice */
    release_pid(s, 3);                               /* a FREE hole in the ring */
    struct inflight *e = session_inflight_find(s, 2, WAIT_PUBREC);
    msg_unref(e->m); /* PUBREC'd: awaiting PUBCOMP without the message */
    e->m = NULL;
    e->state = WAIT_PUBCOMP;
    for (int i = 0; i < 6; i++)
        assert_int_equal(session_queue_push(s, m[i], 1, false, 100, 1 << 20), 0);
    assert_int_equal(m[0]->refs, 4);
    session_free(s);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(m[i]->refs, 1);
        msg_unref(m[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_copies_client_id),
        cmocka_unit_test(test_subscriptions_set_replace_remove),
        cmocka_unit_test(test_inflight_ids_unique_nonzero_MQTT_2_3_1_1_MQTT_2_3_1_4),
        cmocka_unit_test(test_inflight_ids_wrap_skip_zero_MQTT_2_3_1_1),
        cmocka_unit_test(test_inflight_wrap_skips_ids_in_use_MQTT_2_3_1_4),
        cmocka_unit_test(test_inflight_find_by_pid_and_state),
        cmocka_unit_test(test_inflight_out_of_order_release),
        cmocka_unit_test(test_queue_fifo_and_count_limit),
        cmocka_unit_test(test_queue_byte_limit),
        cmocka_unit_test(test_rx_qos2_MQTT_4_3_3_2),
        cmocka_unit_test(test_free_releases_every_ref),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
