/* Malformed packets and protocol violations after a good CONNECT: each one
 * closes that connection without a reply, and only that one: an observer
 * connected before keeps receiving and new clients still get through. */
#include "tests/integration/harness.h"

/* Connect a fresh client, send `bad`, expect a silent close, then check the
 * broker still serves others. */
static void expect_violation(struct itest *t, const uint8_t *bad, size_t n)
{
    int observer = observer_start(t);
    int fd = it_client(t, "offender");
    send_bytes(fd, bad, n);
    expect_closed(fd, IT_WAIT);
    observer_check(t, observer);
    /* Starling logs the violation with the client id (wording kept loose;
     * Mosquitto's wording differs per case, so it is not checked there) */
    if (!testing_mosquitto())
        assert_true(broker_log_has_line(&t->broker, "offender", "protocol") ||
                    broker_log_has_line(&t->broker, "offender", "malformed"));
}

#define VIOLATION(bytes) expect_violation(t, bytes, sizeof bytes)

/* MQTT-2.2.2-1 MQTT-2.2.2-2 MQTT-4.8.0-1 */
ITEST(test_pingreq_reserved_flags)
{
    skip_on_mosquitto(t); /* Mosquitto 2.0.11 answers it with PINGRESP */
    static const uint8_t bad[] = {0xc1, 0};
    VIOLATION(bad);
}

/* MQTT-2.2.2-2 */
ITEST(test_puback_reserved_flags)
{
    skip_on_mosquitto(t); /* Mosquitto 2.0.11 ignores the flags */
    static const uint8_t bad[] = {0x42, 2, 0, 1};
    VIOLATION(bad);
}

/* MQTT-3.8.1-1 MQTT-2.2.2-2 */
ITEST(test_subscribe_flags_0000)
{
    static const uint8_t bad[] = {0x80, 8, 0, 1, 0, 3, 'a', '/', 'b', 0};
    VIOLATION(bad);
}

/* MQTT-3.10.1-1 MQTT-2.2.2-2 */
ITEST(test_unsubscribe_flags_0000)
{
    static const uint8_t bad[] = {0xa0, 7, 0, 1, 0, 3, 'a', '/', 'b'};
    VIOLATION(bad);
}

/* MQTT-3.6.1-1 */
ITEST(test_pubrel_flags_0000)
{
    static const uint8_t bad[] = {0x60, 2, 0, 1};
    VIOLATION(bad);
}

/* MQTT-3.14.1-1 */
ITEST(test_disconnect_with_flags)
{
    static const uint8_t bad[] = {0xe1, 0};
    VIOLATION(bad);
}

/* A remaining length needing a fifth byte. MQTT-4.8.0-1 */
ITEST(test_remaining_length_5_bytes)
{
    static const uint8_t bad[] = {0x30, 0xff, 0xff, 0xff, 0xff, 0x01};
    VIOLATION(bad);
}

/* Ill-formed UTF-8 (0xFF) and an encoded surrogate in a topic name.
 * MQTT-1.5.3-1 MQTT-3.3.2-1 */
ITEST(test_publish_topic_bad_utf8)
{
    static const uint8_t ff[] = {0x30, 6, 0, 3, 'a', '/', 0xff, 'x'};
    VIOLATION(ff);
    static const uint8_t surrogate[] = {0x30, 6, 0, 3, 0xed, 0xa0, 0x80, 'x'};
    VIOLATION(surrogate);
}

/* MQTT-1.5.3-2 MQTT-4.7.3-2 */
ITEST(test_publish_topic_nul)
{
    static const uint8_t bad[] = {0x30, 6, 0, 3, 'a', 0, 'b', 'x'};
    VIOLATION(bad);
}

/* MQTT-3.3.2-2 MQTT-4.7.1-1 */
ITEST(test_publish_topic_wildcards)
{
    static const uint8_t plus[] = {0x30, 6, 0, 3, 'a', '/', '+', 'x'};
    VIOLATION(plus);
    static const uint8_t hash[] = {0x30, 6, 0, 3, 'a', '/', '#', 'x'};
    VIOLATION(hash);
}

/* MQTT-4.7.3-1 */
ITEST(test_publish_topic_empty)
{
    static const uint8_t bad[] = {0x30, 3, 0, 0, 'x'};
    VIOLATION(bad);
}

/* MQTT-3.3.1-4 */
ITEST(test_publish_qos3)
{
    static const uint8_t bad[] = {0x36, 6, 0, 1, 'a', 0, 1, 'x'};
    VIOLATION(bad);
}

/* MQTT-3.3.1-2 */
ITEST(test_publish_dup_on_qos0)
{
    skip_on_mosquitto(t); /* Mosquitto 2.0.11 accepts it */
    static const uint8_t bad[] = {0x38, 4, 0, 1, 'a', 'x'};
    VIOLATION(bad);
}

/* Packet id 0 in PUBLISH QoS 1, SUBSCRIBE and UNSUBSCRIBE. MQTT-2.3.1-1 */
ITEST(test_packet_id_zero)
{
    static const uint8_t pub[] = {0x32, 6, 0, 1, 'a', 0, 0, 'x'};
    VIOLATION(pub);
    static const uint8_t sub[] = {0x82, 6, 0, 0, 0, 1, 'a', 0};
    VIOLATION(sub);
    static const uint8_t unsub[] = {0xa2, 5, 0, 0, 0, 1, 'a'};
    VIOLATION(unsub);
}

/* MQTT-3.8.3-3 */
ITEST(test_subscribe_no_topics)
{
    static const uint8_t bad[] = {0x82, 2, 0, 1};
    VIOLATION(bad);
}

/* MQTT-3.10.3-2 */
ITEST(test_unsubscribe_no_topics)
{
    static const uint8_t bad[] = {0xa2, 2, 0, 1};
    VIOLATION(bad);
}

/* '#' not last, '#' not alone, '+' not a whole level. MQTT-4.7.1-2 MQTT-4.7.1-3 */
ITEST(test_subscribe_bad_filters)
{
    static const uint8_t hash_mid[] = {0x82, 10, 0, 1, 0, 5, 'a', '/', '#', '/', 'b', 0};
    VIOLATION(hash_mid);
    static const uint8_t hash_glued[] = {0x82, 8, 0, 1, 0, 3, 'a', 'b', '#', 0};
    VIOLATION(hash_glued);
    static const uint8_t plus_glued[] = {0x82, 9, 0, 1, 0, 4, 'a', '+', '/', 'b', 0};
    VIOLATION(plus_glued);
}

/* Requested QoS 3, and reserved bits in the QoS byte. MQTT-3.8.3-4 */
ITEST(test_subscribe_bad_qos_byte)
{
    static const uint8_t qos3[] = {0x82, 6, 0, 1, 0, 1, 'a', 3};
    VIOLATION(qos3);
    static const uint8_t reserved[] = {0x82, 6, 0, 1, 0, 1, 'a', 0x41};
    VIOLATION(reserved);
}

/* Empty filter, NUL in a filter, ill-formed UTF-8 in SUBSCRIBE and
 * UNSUBSCRIBE filters. MQTT-4.7.3-1 MQTT-4.7.3-2 MQTT-3.8.3-1 MQTT-3.10.3-1 MQTT-1.5.3-1 */
ITEST(test_bad_filter_strings)
{
    static const uint8_t empty[] = {0x82, 5, 0, 1, 0, 0, 0};
    VIOLATION(empty);
    static const uint8_t nul[] = {0x82, 7, 0, 1, 0, 2, 'a', 0, 0};
    VIOLATION(nul);
    static const uint8_t sub_utf8[] = {0x82, 7, 0, 1, 0, 2, 0xc3, 0x28, 0};
    VIOLATION(sub_utf8);
    static const uint8_t unsub_utf8[] = {0xa2, 6, 0, 1, 0, 2, 0xc3, 0x28};
    VIOLATION(unsub_utf8);
}

/* CONNACK from a client, and the reserved packet types 0 and 15. MQTT-4.8.0-1 */
ITEST(test_connack_and_reserved_types)
{
    static const uint8_t connack[] = {0x20, 2, 0, 0};
    VIOLATION(connack);
    static const uint8_t type0[] = {0x00, 0};
    VIOLATION(type0);
    static const uint8_t type15[] = {0xf0, 0};
    VIOLATION(type15);
}

/* SUBACK, UNSUBACK and PINGRESP only flow from server to client. MQTT-4.8.0-1 */
ITEST(test_server_only_acks)
{
    skip_on_mosquitto(t); /* Mosquitto 2.0.11 ignores them */
    static const uint8_t suback[] = {0x90, 3, 0, 1, 0};
    VIOLATION(suback);
    static const uint8_t unsuback[] = {0xb0, 2, 0, 1};
    VIOLATION(unsuback);
    static const uint8_t pingresp[] = {0xd0, 0};
    VIOLATION(pingresp);
}

/* A topic length running past the end of the packet. MQTT-4.8.0-1 */
ITEST(test_truncated_topic)
{
    static const uint8_t short_topic[] = {0x30, 3, 0, 5, 'a'};
    VIOLATION(short_topic);
}

/* A PUBACK with a trailing byte. MQTT-4.8.0-1 */
ITEST(test_puback_too_long)
{
    skip_on_mosquitto(t); /* Mosquitto 2.0.11 accepts it */
    static const uint8_t long_puback[] = {0x40, 3, 0, 1, 0};
    VIOLATION(long_puback);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT(test_pingreq_reserved_flags),   IT(test_puback_reserved_flags),
        IT(test_subscribe_flags_0000),     IT(test_unsubscribe_flags_0000),
        IT(test_pubrel_flags_0000),        IT(test_disconnect_with_flags),
        IT(test_remaining_length_5_bytes), IT(test_publish_topic_bad_utf8),
        IT(test_publish_topic_nul),        IT(test_publish_topic_wildcards),
        IT(test_publish_topic_empty),      IT(test_publish_qos3),
        IT(test_publish_dup_on_qos0),      IT(test_packet_id_zero),
        IT(test_subscribe_no_topics),      IT(test_unsubscribe_no_topics),
        IT(test_subscribe_bad_filters),    IT(test_subscribe_bad_qos_byte),
        IT(test_bad_filter_strings),       IT(test_connack_and_reserved_types),
        IT(test_server_only_acks),         IT(test_truncated_topic),
        IT(test_puback_too_long),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
