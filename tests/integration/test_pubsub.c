/* Publish/subscribe routing: mosquitto_pub/sub interop, wildcards, '$'
 * topics, SUBACK and UNSUBACK contents, overlapping and replaced
 * subscriptions, unsubscribe semantics, raw topic bytes. */
#include "tests/integration/harness.h"

#include <stdio.h>
#include <string.h>

/* QoS 0, 1 and 2 from mosquitto_pub reach mosquitto_sub intact.
 * MQTT-7.0.0-2 MQTT-3.3.4-1 */
ITEST(test_mosquitto_clients_qos_0_1_2)
{
    const char *sub_args[] = {"-t", "tool/q", "-q", "2", "-C", "3", "-W", "5", NULL};
    struct proc *sub = it_mosquitto_sub(t, sub_args);
    const char *qos[] = {"0", "1", "2"};
    for (int i = 0; i < 3; i++) {
        char msg[32];
        snprintf(msg, sizeof msg, "hello at qos %s", qos[i]);
        const char *pub[] = {"-t", "tool/q", "-q", qos[i], "-m", msg, NULL};
        assert_int_equal(it_mosquitto_pub(t, pub), 0);
    }
    assert_int_equal(proc_wait(sub, 5000), 0);
    assert_true(proc_output_contains(sub, "\nhello at qos 0\n"));
    assert_true(proc_output_contains(sub, "\nhello at qos 1\n"));
    assert_true(proc_output_contains(sub, "\nhello at qos 2\n"));
}

/* MQTT-3.3.2-3 MQTT-7.0.0-2 */
ITEST(test_mosquitto_sub_multilevel_wildcard)
{
    const char *sub_args[] = {"-t", "a/#", "-v", "-C", "3", "-W", "5", NULL};
    struct proc *sub = it_mosquitto_sub(t, sub_args);
    const char *topics[] = {"b/x", "a", "a/b", "a/b/c/d"};
    for (int i = 0; i < 4; i++) {
        const char *pub[] = {"-t", topics[i], "-m", "m", NULL};
        assert_int_equal(it_mosquitto_pub(t, pub), 0);
    }
    assert_int_equal(proc_wait(sub, 5000), 0);
    assert_true(proc_output_contains(sub, "\na m\n"));
    assert_true(proc_output_contains(sub, "\na/b m\n"));
    assert_true(proc_output_contains(sub, "\na/b/c/d m\n"));
    assert_false(proc_output_contains(sub, "b/x m"));
}

/* Valid wildcard forms match per 4.7: '+' at first/middle/last level, '#'
 * alone and after '/', matching the parent level too.
 * MQTT-3.3.2-3 MQTT-4.7.1-2 MQTT-4.7.1-3 */
ITEST(test_wildcard_matching)
{
    int sub = it_client(t, "wild");
    const char *filters[] = {"+/b/c", "x/+/z", "p/q/+", "#", "m/n/#", "+"};
    const uint8_t qos[] = {0, 0, 0, 0, 0, 0};
    send_subscribe(sub, 3, 6, filters, qos);
    uint8_t want[] = {0x90, 8, 0, 3, 0, 0, 0, 0, 0, 0};
    expect_bytes(sub, want, sizeof want, IT_WAIT);
    unsubscribe(sub, "#");
    int pub = it_client(t, "wildpub");
    const char *match[] = {"a/b/c", "x/y/z", "p/q/r", "m/n", "m/n/o/p", "top", "/b/c"};
    const char *nomatch[] = {"a/b/c/d", "x/y/y/z", "p/q", "m/x/y", "a/b", "/"};
    for (int i = 0; i < 6; i++)
        publish(pub, nomatch[i], "no", 0, false);
    for (int i = 0; i < 7; i++) {
        publish(pub, match[i], "yes", 0, false);
        expect_publish(sub, match[i], "yes", 0, false);
    }
    expect_silence(sub, IT_QUIET);
}

/* Leading wildcards do not match '$' topics; "$x/#" does. MQTT-4.7.2-1 */
ITEST(test_dollar_topics_not_matched_by_wildcards)
{
    int all = it_client(t, "all");
    subscribe(all, "#", 0);
    int plus = it_client(t, "plus");
    subscribe(plus, "+/info", 0);
    int dollar = it_client(t, "dollar");
    subscribe(dollar, "$test/#", 0);
    int pub = it_client(t, "dpub");
    publish(pub, "$test/info", "d", 0, false);
    expect_publish(dollar, "$test/info", "d", 0, false);
    publish(pub, "norm/info", "n", 0, false);
    expect_publish(all, "norm/info", "n", 0, false);
    expect_publish(plus, "norm/info", "n", 0, false);
    expect_silence(all, IT_QUIET);
    expect_silence(plus, 50);
}

/* One SUBSCRIBE with five filters: one SUBACK, same id, codes in order, and
 * every filter active. MQTT-3.8.4-1 MQTT-3.8.4-2 MQTT-3.8.4-4 MQTT-3.8.4-5
 * MQTT-3.9.3-1 MQTT-3.9.3-2 MQTT-2.3.1-7 */
ITEST(test_suback_codes_in_order)
{
    int sub = it_client(t, "multi");
    const char *filters[] = {"m/2", "m/0", "m/1", "m/00", "m/22"};
    const uint8_t qos[] = {2, 0, 1, 0, 2};
    send_subscribe(sub, 0xbeef, 5, filters, qos);
    uint8_t want[] = {0x90, 7, 0xbe, 0xef, 2, 0, 1, 0, 2};
    expect_bytes(sub, want, sizeof want, IT_WAIT);
    int pub = it_client(t, "multipub");
    for (int i = 0; i < 5; i++) {
        publish(pub, filters[i], "x", 2, false);
        expect_publish_ack(sub, filters[i], "x", qos[i], false);
    }
}

/* Overlapping subscriptions: one copy at the highest granted QoS. MQTT-3.3.5-1 */
ITEST(test_overlapping_subscriptions_once_at_max_qos)
{
    /* Mosquitto 2.0.11 sends one copy at the QoS of only one matching subscription */
    skip_on_mosquitto(t);
    int sub = it_client(t, "overlap");
    subscribe(sub, "o/+", 0);
    subscribe(sub, "o/#", 2);
    subscribe(sub, "o/x", 1);
    int pub = it_client(t, "overpub");
    publish(pub, "o/x", "once", 2, false);
    expect_publish_ack(sub, "o/x", "once", 2, false);
    expect_silence(sub, IT_QUIET);
}

/* Delivered QoS = min(published, granted). MQTT-3.8.4-6 */
ITEST(test_qos_downgrade)
{
    int s0 = it_client(t, "s0");
    subscribe(s0, "dg", 0);
    int s1 = it_client(t, "s1");
    subscribe(s1, "dg", 1);
    int s2 = it_client(t, "s2");
    subscribe(s2, "dg", 2);
    int pub = it_client(t, "dgpub");
    publish(pub, "dg", "two", 2, false);
    expect_publish_ack(s0, "dg", "two", 0, false);
    expect_publish_ack(s1, "dg", "two", 1, false);
    expect_publish_ack(s2, "dg", "two", 2, false);
    publish(pub, "dg", "one", 1, false);
    expect_publish_ack(s0, "dg", "one", 0, false);
    expect_publish_ack(s1, "dg", "one", 1, false);
    expect_publish_ack(s2, "dg", "one", 1, false);
}

/* Re-subscribing the same filter replaces its QoS; one copy. MQTT-3.8.4-3 */
ITEST(test_resubscribe_replaces)
{
    int sub = it_client(t, "resub");
    subscribe(sub, "r/s", 2);
    subscribe(sub, "r/s", 0);
    int pub = it_client(t, "resubpub");
    publish(pub, "r/s", "low", 2, false);
    expect_publish(sub, "r/s", "low", 0, false);
    expect_silence(sub, IT_QUIET);
}

/* UNSUBSCRIBE compares filters as strings: "u/b" does not remove "u/+".
 * UNSUBACK comes even when nothing matched. After the real unsubscribe,
 * nothing more is delivered. MQTT-3.10.4-1 MQTT-3.10.4-2 MQTT-3.10.4-4 MQTT-3.10.4-5 */
ITEST(test_unsubscribe_exact_string)
{
    int sub = it_client(t, "unsub");
    subscribe(sub, "u/+", 1);
    const char *f[] = {"u/b"};
    send_unsubscribe(sub, 0x0a0b, 1, f);
    expect_ack(sub, 0xb0, 0x0a0b);
    const char *none[] = {"never/subscribed"};
    send_unsubscribe(sub, 0x0102, 1, none);
    expect_ack(sub, 0xb0, 0x0102);
    int pub = it_client(t, "unsubpub");
    publish(pub, "u/b", "still", 1, false);
    expect_publish_ack(sub, "u/b", "still", 1, false);
    unsubscribe(sub, "u/+");
    publish(pub, "u/b", "gone", 1, false);
    expect_silence(sub, IT_QUIET);
}

/* One UNSUBSCRIBE with several filters removes all of them. MQTT-3.10.4-6 */
ITEST(test_unsubscribe_several_filters)
{
    int sub = it_client(t, "unsub2");
    subscribe(sub, "v/1", 0);
    subscribe(sub, "v/2", 0);
    subscribe(sub, "v/3", 0);
    const char *f[] = {"v/1", "v/3", "v/none"};
    send_unsubscribe(sub, 77, 3, f);
    expect_ack(sub, 0xb0, 77);
    int pub = it_client(t, "unsub2pub");
    publish(pub, "v/1", "a", 0, false);
    publish(pub, "v/3", "c", 0, false);
    publish(pub, "v/2", "b", 0, false);
    expect_publish(sub, "v/2", "b", 0, false);
    expect_silence(sub, IT_QUIET);
}

/* A message reaches every matching subscriber. MQTT-4.5.0-1 MQTT-4.1.0-2 */
ITEST(test_fan_out_to_every_subscriber)
{
    int subs[5];
    const char *filters[] = {"f/o", "f/+", "#", "+/o", "f/#"};
    for (int i = 0; i < 5; i++) {
        char id[24];
        snprintf(id, sizeof id, "fan%d", i);
        subs[i] = it_client(t, id);
        subscribe(subs[i], filters[i], 1);
    }
    int pub = it_client(t, "fanpub");
    for (int round = 0; round < 3; round++) {
        publish(pub, "f/o", "all", 1, false);
        for (int i = 0; i < 5; i++)
            expect_publish_ack(subs[i], "f/o", "all", 1, false);
    }
}

/* Topics are matched byte for byte: a BOM is kept, and two Unicode
 * normalisations of "é" are different topics. MQTT-1.5.3-3 MQTT-4.7.3-4 */
ITEST(test_topics_are_raw_bytes)
{
    int bom = it_client(t, "bom");
    subscribe(bom,
              "b/\xef\xbb\xbf"
              "x",
              0);
    int nfc = it_client(t, "nfc");
    subscribe(nfc, "caf\xc3\xa9", 0);
    int plain = it_client(t, "plain");
    subscribe(plain, "b/x", 0);
    int pub = it_client(t, "rawpub");
    publish(pub,
            "b/\xef\xbb\xbf"
            "x",
            "bom", 0, false);
    expect_publish(bom,
                   "b/\xef\xbb\xbf"
                   "x",
                   "bom", 0, false);
    publish(pub, "cafe\xcc\x81", "nfd", 0, false);
    publish(pub, "caf\xc3\xa9", "nfc", 0, false);
    expect_publish(nfc, "caf\xc3\xa9", "nfc", 0, false);
    expect_silence(plain, IT_QUIET);
    expect_silence(nfc, 50);
}

/* The longest topic the wire allows (65535 bytes) is routed. MQTT-4.7.3-3 */
ITEST(test_longest_topic)
{
    static char topic[65536];
    memset(topic, 'k', 65535);
    topic[0] = 'L';
    topic[1] = '/';
    topic[65535] = '\0';
    int sub = it_client(t, "longsub");
    subscribe(sub, "L/#", 0);
    int pub = it_client(t, "longpub");
    publish(pub, topic, "long", 1, false);
    static struct pkt p;
    struct msg m;
    expect_packet(sub, &p, 3);
    parse_publish(&p, &m);
    assert_int_equal(m.topic_len, 65535);
    assert_memory_equal(p.body + 2, topic, 65535);
    assert_int_equal(m.payload_len, 4);
}

/* Packets split into single bytes, with pauses, are reassembled.
 * MQTT-7.1.1-1 */
ITEST(test_packets_split_byte_by_byte)
{
    struct conn_opts o = {.client_id = "trickle", .clean = true, .keepalive = 30};
    uint8_t out[128];
    size_t n = connect_packet(out, sizeof out, &o);
    uint8_t sub[] = {0x82, 8, 0, 9, 0, 3, 't', '/', 'r', 1};
    uint8_t pub[] = {0x32, 9, 0, 3, 't', '/', 'r', 0, 5, 'o', 'k'};
    memcpy(out + n, sub, sizeof sub);
    n += sizeof sub;
    memcpy(out + n, pub, sizeof pub);
    n += sizeof pub;
    int fd = it_tcp(t);
    for (size_t i = 0; i < n; i++) {
        send_bytes(fd, out + i, 1);
        sleep_ms(i % 8 == 0 ? 5 : 0);
    }
    uint8_t connack[] = {0x20, 2, 0, 0}, suback[] = {0x90, 3, 0, 9, 1};
    expect_bytes(fd, connack, sizeof connack, IT_WAIT);
    expect_bytes(fd, suback, sizeof suback, IT_WAIT);
    static struct pkt p;
    struct msg m;
    bool got_puback = false, got_publish = false;
    for (int i = 0; i < 2; i++) {
        assert_int_equal(read_packet(fd, &p, IT_WAIT), 0); /* PUBACK and PUBLISH, any order */
        if (p.type == 4) got_puback = p.len == 2 && p.body[0] == 0 && p.body[1] == 5;
        if (p.type == 3) {
            parse_publish(&p, &m);
            got_publish = m.payload_len == 2 && memcmp(m.payload, "ok", 2) == 0;
            send_ack(fd, 0x40, m.pid);
        }
    }
    assert_true(got_puback);
    assert_true(got_publish);
}

/* A 60 KB payload and 50 concurrent subscribers: every copy intact.
 * MQTT-4.5.0-1 */
ITEST(test_large_payload_many_subscribers)
{
    static char payload[60001];
    for (size_t i = 0; i < sizeof payload - 1; i++)
        payload[i] = (char)('a' + i % 26);
    payload[sizeof payload - 1] = '\0';
    int subs[50];
    for (int i = 0; i < 50; i++) {
        char id[24];
        snprintf(id, sizeof id, "many%d", i);
        subs[i] = it_client(t, id);
        subscribe(subs[i], "big/#", 1);
    }
    int pub = it_client(t, "bigpub");
    publish(pub, "big/one", payload, 1, false);
    for (int i = 0; i < 50; i++)
        expect_publish_ack(subs[i], "big/one", payload, 1, false);
}

/* Empty levels are levels: "/" has two, "a//b" three. MQTT-3.3.2-3 */
ITEST(test_empty_topic_levels)
{
    int two = it_client(t, "twolevels");
    subscribe(two, "+/+", 0);
    int lead = it_client(t, "leading");
    subscribe(lead, "/#", 0);
    int mid = it_client(t, "middle");
    subscribe(mid, "a/+/b", 0);
    int pub = it_client(t, "levpub");
    publish(pub, "/", "slash", 0, false);
    expect_publish(two, "/", "slash", 0, false);
    expect_publish(lead, "/", "slash", 0, false);
    publish(pub, "a//b", "gap", 0, false);
    expect_publish(mid, "a//b", "gap", 0, false);
    publish(pub, "a/b", "short", 0, false);
    expect_publish(two, "a/b", "short", 0, false);
    expect_silence(mid, IT_QUIET);
    expect_silence(lead, 50);
    expect_silence(two, 50);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT(test_mosquitto_clients_qos_0_1_2),
        IT(test_mosquitto_sub_multilevel_wildcard),
        IT(test_wildcard_matching),
        IT(test_dollar_topics_not_matched_by_wildcards),
        IT(test_suback_codes_in_order),
        IT(test_overlapping_subscriptions_once_at_max_qos),
        IT(test_qos_downgrade),
        IT(test_resubscribe_replaces),
        IT(test_unsubscribe_exact_string),
        IT(test_unsubscribe_several_filters),
        IT(test_fan_out_to_every_subscriber),
        IT(test_topics_are_raw_bytes),
        IT(test_longest_topic),
        IT(test_packets_split_byte_by_byte),
        IT(test_empty_topic_levels),
        IT(test_large_payload_many_subscribers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
