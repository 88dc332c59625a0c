/* The store batch (broker/store/batch.h): what it keeps alive for the
 * writer, and which ops batch_compact may drop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "broker/route/msg.h"
#include "broker/store/batch.h"

static struct store_op msg_put(struct msg *m, uint64_t id)
{
    return (struct store_op){.type = STORE_MSG_PUT,
                             .id = id,
                             .a = m->topic,
                             .a_len = m->topic_len,
                             .b = m->payload,
                             .b_len = m->payload_len};
}

static struct store_op msg_del(uint64_t id)
{
    return (struct store_op){.type = STORE_MSG_DEL, .id = id};
}

static struct store_op entry_put(uint64_t key, uint64_t seq, uint64_t id, bool created)
{
    return (struct store_op){
        .type = STORE_ENTRY_PUT, .key = key, .seq = seq, .id = id, .qos = 1, .created = created};
}

static struct store_op entry_del(uint64_t key, uint64_t seq)
{
    return (struct store_op){.type = STORE_ENTRY_DEL, .key = key, .seq = seq};
}

static void add(struct batch *bt, struct store_op op)
{
    assert_int_equal(batch_add(bt, &op, false, false, NULL), 0);
}

/* Copied bytes survive the caller's buffer; a kept message its last
 * outside reference. */
static void keeps_what_ops_point_at(void **state)
{
    (void)state;
    struct batch bt = {0};
    char id[32] = "client-1";
    struct store_op op = {.type = STORE_SESSION_PUT, .key = 1, .a = (uint8_t *)id, .a_len = 8};
    assert_int_equal(batch_add(&bt, &op, true, false, NULL), 0);
    memset(id, 'x', sizeof id);
    struct msg *m = msg_new((const uint8_t *)"t/1", 3, (const uint8_t *)"payload", 7, 1, false);
    struct store_op put = msg_put(m, 7);
    assert_int_equal(batch_add(&bt, &put, false, false, m), 0);
    msg_unref(m); /* the batch's reference is the last one now */
    assert_int_equal(bt.n, 2);
    assert_memory_equal(bt.ops[0].a, "client-1", 8);
    assert_memory_equal(bt.ops[1].b, "payload", 7);
    assert_true(bt.bytes > 0);
    batch_free(&bt); /* ASan: no leak, no use after free */
}

/* A message and an entry created and deleted within the batch vanish; one
 * that existed before (first op a delete or an update), or that outlives
 * the batch, stays, with every op in order. */
static void compact_drops_rows_created_and_deleted(void **state)
{
    (void)state;
    struct batch bt = {0};
    struct msg *m = msg_new((const uint8_t *)"t", 1, (const uint8_t *)"p", 1, 1, false);
    add(&bt, msg_put(m, 1));              /* 0: dropped (created, deleted) */
    add(&bt, entry_put(5, 10, 1, true));  /* 1: dropped */
    add(&bt, entry_put(5, 10, 1, false)); /* 2: dropped (an update of the same) */
    add(&bt, msg_put(m, 2));              /* 3: kept: outlives the batch */
    add(&bt, entry_put(5, 11, 2, true));  /* 4: kept */
    add(&bt, entry_del(5, 10));           /* 5: dropped */
    add(&bt, msg_del(1));                 /* 6: dropped */
    add(&bt, entry_put(6, 3, 9, false));  /* 7: kept: the row existed before */
    add(&bt, entry_del(6, 3));            /* 8: kept */
    add(&bt, msg_del(9));                 /* 9: kept: stored by an earlier batch */
    add(&bt, (struct store_op){.type = STORE_RX_PUT, .key = 5, .pid = 1}); /* 10: kept */
    batch_compact(&bt);
    assert_int_equal(bt.n, 6);
    assert_int_equal(bt.ops[0].type, STORE_MSG_PUT);
    assert_int_equal(bt.ops[0].id, 2);
    assert_int_equal(bt.ops[1].type, STORE_ENTRY_PUT);
    assert_int_equal(bt.ops[1].seq, 11);
    assert_int_equal(bt.ops[2].type, STORE_ENTRY_PUT);
    assert_int_equal(bt.ops[2].key, 6);
    assert_int_equal(bt.ops[3].type, STORE_ENTRY_DEL);
    assert_int_equal(bt.ops[4].type, STORE_MSG_DEL);
    assert_int_equal(bt.ops[4].id, 9);
    assert_int_equal(bt.ops[5].type, STORE_RX_PUT);
    batch_free(&bt);
    msg_unref(m);
}

/* Deleted and created again (a message stored, released, stored again by
 * a new reference): the row exists after the batch, so nothing is dropped. */
static void compact_keeps_a_row_created_again(void **state)
{
    (void)state;
    struct batch bt = {0};
    struct msg *m = msg_new((const uint8_t *)"t", 1, (const uint8_t *)"p", 1, 1, false);
    add(&bt, msg_put(m, 3));
    add(&bt, msg_del(3));
    add(&bt, msg_put(m, 3));
    batch_compact(&bt);
    assert_int_equal(bt.n, 3);
    assert_int_equal(bt.ops[2].type, STORE_MSG_PUT);
    batch_free(&bt);
    msg_unref(m);
}

/* Many rows: every pair cancels, whatever the table's collisions. */
static void compact_scales_to_many_rows(void **state)
{
    (void)state;
    struct batch bt = {0};
    struct msg *m = msg_new((const uint8_t *)"t", 1, (const uint8_t *)"p", 1, 1, false);
    for (uint64_t i = 1; i <= 20000; i++) {
        add(&bt, msg_put(m, i));
        add(&bt, entry_put(1, i, i, true));
    }
    for (uint64_t i = 1; i <= 20000; i += 2) {
        add(&bt, entry_del(1, i));
        add(&bt, msg_del(i));
    }
    batch_compact(&bt);
    assert_int_equal(bt.n, 20000); /* the even half: put and entry each */
    for (size_t i = 0; i < bt.n; i++)
        assert_int_equal((bt.ops[i].type == STORE_MSG_PUT ? bt.ops[i].id : bt.ops[i].seq) % 2, 0);
    batch_free(&bt);
    msg_unref(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(keeps_what_ops_point_at),
        cmocka_unit_test(compact_drops_rows_created_and_deleted),
        cmocka_unit_test(compact_keeps_a_row_created_again),
        cmocka_unit_test(compact_scales_to_many_rows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
