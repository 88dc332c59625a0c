/* QoS 0/1/2 flows in both directions, packet ids, duplicate handling and
 * ordering, checked byte for byte against the real broker. */
#include "tests/integration/harness.h"

#include <stdio.h>
#include <string.h>

/* A QoS 0 delivery is exactly: 0x30, length, topic, payload.
 * MQTT-2.3.1-5 MQTT-4.3.1-1 MQTT-3.3.1-2 */
ITEST(test_qos0_delivery_bytes)
{
    int sub = it_client(t, "q0sub");
    subscribe(sub, "q/0", 2);
    int pub = it_client(t, "q0pub");
    publish(pub, "q/0", "hi", 0, false);
    uint8_t want[] = {0x30, 7, 0, 3, 'q', '/', '0', 'h', 'i'};
    expect_bytes(sub, want, sizeof want, IT_WAIT);
}

/* PUBACK repeats the id; after it the same id starts a new message, whatever
 * its DUP flag. MQTT-2.3.1-6 MQTT-3.3.4-1 MQTT-4.3.2-2 */
ITEST(test_qos1_inbound_puback)
{
    int sub = it_client(t, "q1sub");
    subscribe(sub, "q/1", 1);
    int pub = it_client(t, "q1pub");
    send_publish(pub, "q/1", "first", 5, 1, false, false, 0x1234);
    expect_ack(pub, 0x40, 0x1234);
    expect_publish_ack(sub, "q/1", "first", 1, false);
    send_publish(pub, "q/1", "second", 6, 1, false, true, 0x1234);
    expect_ack(pub, 0x40, 0x1234);
    expect_publish_ack(sub, "q/1", "second", 1, false);
}

/* The server's first send of a QoS 1 message has DUP=0 (the publisher's DUP
 * is not copied) and a non-zero id. MQTT-4.3.2-1 MQTT-3.3.1-3 MQTT-2.3.1-1 */
ITEST(test_qos1_outbound_dup_clear)
{
    int sub = it_client(t, "q1osub");
    subscribe(sub, "q/1o", 1);
    int pub = it_client(t, "q1opub");
    send_publish(pub, "q/1o", "d", 1, 1, false, true, 5);
    expect_ack(pub, 0x40, 5);
    static struct pkt p;
    struct msg m;
    expect_packet(sub, &p, 3);
    parse_publish(&p, &m);
    assert_false(m.dup);
    assert_int_equal(m.qos, 1);
    assert_int_not_equal(m.pid, 0);
    send_ack(sub, 0x40, m.pid);
}

/* Inbound QoS 2: a re-sent PUBLISH before PUBREL gets PUBREC again and is
 * not delivered twice; PUBREL gets PUBCOMP; then the id is new again.
 * MQTT-4.3.3-2 MQTT-2.3.1-6 MQTT-3.3.4-1 */
ITEST(test_qos2_inbound_duplicate_delivered_once)
{
    int sub = it_client(t, "q2sub");
    subscribe(sub, "q/2", 2);
    int pub = it_client(t, "q2pub");
    send_publish(pub, "q/2", "once", 4, 2, false, false, 9);
    expect_ack(pub, 0x50, 9);
    send_publish(pub, "q/2", "once", 4, 2, false, true, 9);
    expect_ack(pub, 0x50, 9);
    send_ack(pub, 0x62, 9);
    expect_ack(pub, 0x70, 9);
    expect_publish_ack(sub, "q/2", "once", 2, false);
    expect_silence(sub, IT_QUIET);
    send_publish(pub, "q/2", "again", 5, 2, false, false, 9);
    expect_ack(pub, 0x50, 9);
    send_ack(pub, 0x62, 9);
    expect_ack(pub, 0x70, 9);
    expect_publish_ack(sub, "q/2", "again", 2, false);
}

/* Outbound QoS 2: PUBLISH (DUP=0) -> PUBREC -> PUBREL (flags 0010, same id)
 * -> PUBCOMP, and the PUBLISH is not sent again. MQTT-4.3.3-1 MQTT-2.3.1-6 */
ITEST(test_qos2_outbound_flow)
{
    int sub = it_client(t, "q2osub");
    subscribe(sub, "q/2o", 2);
    int pub = it_client(t, "q2opub");
    publish(pub, "q/2o", "x", 2, false);
    static struct pkt p;
    struct msg m;
    expect_packet(sub, &p, 3);
    parse_publish(&p, &m);
    assert_false(m.dup);
    assert_int_equal(m.qos, 2);
    complete_qos2(sub, m.pid);
    expect_silence(sub, IT_QUIET);
}

/* Messages in flight to one client carry distinct non-zero ids, in publish
 * order. MQTT-2.3.1-4 MQTT-2.3.1-1 MQTT-4.6.0-6 */
ITEST(test_inflight_ids_distinct)
{
    int sub = it_client(t, "idsub");
    subscribe(sub, "ids", 1);
    int pub = it_client(t, "idpub");
    for (int i = 0; i < 5; i++) {
        char pl[24];
        snprintf(pl, sizeof pl, "m%d", i);
        publish(pub, "ids", pl, 1, false);
    }
    uint16_t ids[5];
    for (int i = 0; i < 5; i++) {
        char pl[24];
        snprintf(pl, sizeof pl, "m%d", i);
        ids[i] = expect_publish(sub, "ids", pl, 1, false);
        for (int j = 0; j < i; j++)
            assert_int_not_equal(ids[i], ids[j]);
    }
    for (int i = 0; i < 5; i++)
        send_ack(sub, 0x40, ids[i]);
    publish(pub, "ids", "after", 1, false);
    expect_publish_ack(sub, "ids", "after", 1, false);
}

static void send_qos_burst(int fd, const char *topic, int qos, int n)
{
    for (int i = 1; i <= n; i++) {
        char pl[24];
        snprintf(pl, sizeof pl, "n%03d", i);
        send_publish(fd, topic, pl, strlen(pl), qos, false, false, (uint16_t)i);
    }
}

/* One publisher's burst: acks in arrival order, delivery in publish order.
 * MQTT-4.6.0-2 MQTT-4.6.0-5 MQTT-4.6.0-6 */
ITEST(test_qos1_order_preserved)
{
    int sub = it_client(t, "ordsub");
    subscribe(sub, "ord", 1);
    int pub = it_client(t, "ordpub");
    send_qos_burst(pub, "ord", 1, 30);
    for (int i = 1; i <= 30; i++)
        expect_ack(pub, 0x40, (uint16_t)i);
    for (int i = 1; i <= 30; i++) {
        char pl[24];
        snprintf(pl, sizeof pl, "n%03d", i);
        expect_publish_ack(sub, "ord", pl, 1, false);
    }
}

/* PUBRECs in arrival order of QoS 2 PUBLISHes, PUBCOMPs in PUBREL order,
 * deliveries in publish order. MQTT-4.6.0-3 MQTT-4.6.0-6 */
ITEST(test_qos2_order_preserved)
{
    int sub = it_client(t, "ord2sub");
    subscribe(sub, "ord2", 2);
    int pub = it_client(t, "ord2pub");
    send_qos_burst(pub, "ord2", 2, 10);
    for (int i = 1; i <= 10; i++)
        expect_ack(pub, 0x50, (uint16_t)i);
    for (int i = 1; i <= 10; i++)
        send_ack(pub, 0x62, (uint16_t)i);
    for (int i = 1; i <= 10; i++)
        expect_ack(pub, 0x70, (uint16_t)i);
    uint16_t ids[10];
    for (int i = 0; i < 10; i++) {
        char pl[24];
        snprintf(pl, sizeof pl, "n%03d", i + 1);
        ids[i] = expect_publish(sub, "ord2", pl, 2, false);
    }
    for (int i = 0; i < 10; i++) {
        complete_qos2(sub, ids[i]);
    }
}

/* The server sends PUBRELs in the order the PUBRECs arrived. MQTT-4.6.0-4 */
ITEST(test_pubrel_order_follows_pubrec)
{
    int sub = it_client(t, "relsub");
    subscribe(sub, "rel", 2);
    int pub = it_client(t, "relpub");
    for (int i = 0; i < 4; i++)
        publish(pub, "rel", "r", 2, false);
    uint16_t ids[4];
    for (int i = 0; i < 4; i++)
        ids[i] = expect_publish(sub, "rel", "r", 2, false);
    const int order[] = {2, 0, 3, 1};
    for (int i = 0; i < 4; i++)
        send_ack(sub, 0x50, ids[order[i]]);
    for (int i = 0; i < 4; i++)
        expect_ack(sub, 0x62, ids[order[i]]);
    for (int i = 0; i < 4; i++)
        send_ack(sub, 0x70, ids[order[i]]);
    expect_silence(sub, IT_QUIET);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT(test_qos0_delivery_bytes),         IT(test_qos1_inbound_puback),
        IT(test_qos1_outbound_dup_clear),     IT(test_qos2_inbound_duplicate_delivered_once),
        IT(test_qos2_outbound_flow),          IT(test_inflight_ids_distinct),
        IT(test_qos1_order_preserved),        IT(test_qos2_order_preserved),
        IT(test_pubrel_order_follows_pubrec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
