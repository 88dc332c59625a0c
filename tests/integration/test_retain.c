/* Retained messages: storing, replacing, clearing, the RETAIN flag on
 * delivery, and that they outlive the publisher's session. */
#include "tests/integration/harness.h"

#include <string.h>

/* mosquitto_pub -r, then a later mosquitto_sub gets it; -r -n clears it.
 * MQTT-3.3.1-5 MQTT-3.3.1-6 MQTT-3.3.1-10 MQTT-7.0.0-2 */
ITEST(test_mosquitto_retained_set_and_clear)
{
    const char *set[] = {"-t", "ret/tool", "-r", "-q", "1", "-m", "kept", NULL};
    assert_int_equal(it_mosquitto_pub(t, set), 0);
    const char *sub_args[] = {"-t", "ret/#", "-v", "-C", "1", "-W", "5", NULL};
    struct proc *sub = it_mosquitto_sub(t, sub_args);
    assert_int_equal(proc_wait(sub, 5000), 0);
    assert_true(proc_output_contains(sub, "\nret/tool kept\n"));
    const char *clear[] = {"-t", "ret/tool", "-r", "-n", NULL};
    assert_int_equal(it_mosquitto_pub(t, clear), 0);
    int raw = it_client(t, "afterclear");
    subscribe(raw, "ret/#", 1);
    expect_silence(raw, IT_QUIET);
}

/* The retained message keeps its QoS: delivered at min(stored, granted),
 * with RETAIN=1. MQTT-3.3.1-5 MQTT-3.3.1-8 */
ITEST(test_retained_qos_and_flag)
{
    int pub = it_client(t, "rpub");
    publish(pub, "r/q1", "one", 1, true);
    int s2 = it_client(t, "rs2");
    subscribe(s2, "r/q1", 2);
    expect_publish_ack(s2, "r/q1", "one", 1, true);
    int s0 = it_client(t, "rs0");
    subscribe(s0, "r/q1", 0);
    expect_publish(s0, "r/q1", "one", 0, true);
}

/* A new wildcard subscription receives every matching retained message.
 * MQTT-3.3.1-6 */
ITEST(test_retained_for_every_matching_topic)
{
    int pub = it_client(t, "rpub");
    publish(pub, "w/1", "a", 1, true);
    publish(pub, "w/2", "b", 1, true);
    publish(pub, "w/3/deep", "c", 1, true);
    publish(pub, "other", "z", 1, true);
    int sub = it_client(t, "rsub");
    subscribe(sub, "w/+", 0);
    static struct pkt p;
    struct msg m;
    bool seen[2] = {false, false};
    for (int i = 0; i < 2; i++) {
        expect_packet(sub, &p, 3);
        parse_publish(&p, &m);
        assert_true(m.retain);
        int k = strcmp(m.topic, "w/1") == 0 ? 0 : strcmp(m.topic, "w/2") == 0 ? 1 : -1;
        assert_true(k >= 0 && !seen[k]);
        seen[k] = true;
    }
    expect_silence(sub, IT_QUIET);
}

/* A QoS 0 retained publish replaces the previous retained message.
 * MQTT-3.3.1-7 */
ITEST(test_retained_replaced_by_qos0)
{
    int pub = it_client(t, "rpub");
    publish(pub, "rep", "old", 2, true);
    publish(pub, "rep", "new", 0, true);
    int sub = it_client(t, "rsub");
    subscribe(sub, "rep", 2);
    expect_publish(sub, "rep", "new", 0, true);
    expect_silence(sub, IT_QUIET);
}

/* Live forwarding clears RETAIN even when the publisher set it. MQTT-3.3.1-9 */
ITEST(test_live_delivery_retain_clear)
{
    int sub = it_client(t, "live");
    subscribe(sub, "lv", 1);
    int pub = it_client(t, "rpub");
    publish(pub, "lv", "now", 1, true);
    expect_publish_ack(sub, "lv", "now", 1, false);
}

/* Empty retained payload: forwarded to current subscribers, erases the
 * retained message and is not itself stored. MQTT-3.3.1-10 MQTT-3.3.1-11 */
ITEST(test_empty_retained_clears)
{
    int pub = it_client(t, "rpub");
    publish(pub, "clr", "x", 1, true);
    int sub = it_client(t, "cur");
    subscribe(sub, "clr", 1);
    expect_publish_ack(sub, "clr", "x", 1, true);
    publish(pub, "clr", "", 1, true);
    expect_publish_ack(sub, "clr", "", 1, false);
    int late = it_client(t, "late");
    subscribe(late, "clr", 1);
    expect_silence(late, IT_QUIET);
}

/* RETAIN=0 neither stores nor replaces the retained message. MQTT-3.3.1-12 */
ITEST(test_non_retained_leaves_retained)
{
    int pub = it_client(t, "rpub");
    publish(pub, "keep", "stored", 1, true);
    publish(pub, "keep", "passing", 1, false);
    publish(pub, "fresh", "passing", 1, false);
    int sub = it_client(t, "rsub");
    subscribe(sub, "keep", 1);
    expect_publish_ack(sub, "keep", "stored", 1, true);
    subscribe(sub, "fresh", 1);
    expect_silence(sub, IT_QUIET);
}

/* Retained messages survive the end of the publisher's (clean) session.
 * MQTT-3.1.2-7 */
ITEST(test_retained_survives_session_end)
{
    struct conn_opts o = {.client_id = "gone", .clean = true, .keepalive = 30};
    int pub = it_connect(t, &o, NULL);
    publish(pub, "surv", "still", 1, true);
    send_disconnect(pub);
    expect_closed(pub, IT_WAIT);
    int again = it_connect(t, &o, NULL);
    send_disconnect(again);
    int sub = it_client(t, "rsub");
    subscribe(sub, "surv", 1);
    expect_publish_ack(sub, "surv", "still", 1, true);
}

/* Subscribing again to the same filter re-sends the retained message.
 * MQTT-3.8.4-3 */
ITEST(test_resubscribe_resends_retained)
{
    int pub = it_client(t, "rpub");
    publish(pub, "again", "r", 0, true);
    int sub = it_client(t, "rsub");
    subscribe(sub, "again", 1);
    expect_publish(sub, "again", "r", 0, true);
    subscribe(sub, "again", 1);
    expect_publish(sub, "again", "r", 0, true);
}

/* Retained messages on '$' topics are not sent to a leading-wildcard
 * subscription, only to one starting with the '$' level. MQTT-4.7.2-1 */
ITEST(test_dollar_retained_not_matched_by_hash)
{
    int pub = it_client(t, "rpub");
    publish(pub, "$info/ver", "1", 1, true);
    publish(pub, "info/ver", "2", 1, true);
    int all = it_client(t, "all");
    subscribe(all, "#", 1);
    expect_publish_ack(all, "info/ver", "2", 1, true);
    subscribe(all, "+/ver", 1);
    expect_publish_ack(all, "info/ver", "2", 1, true);
    expect_silence(all, IT_QUIET);
    subscribe(all, "$info/#", 1);
    expect_publish_ack(all, "$info/ver", "1", 1, true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT(test_mosquitto_retained_set_and_clear),  IT(test_retained_qos_and_flag),
        IT(test_retained_for_every_matching_topic), IT(test_retained_replaced_by_qos0),
        IT(test_live_delivery_retain_clear),        IT(test_empty_retained_clears),
        IT(test_non_retained_leaves_retained),      IT(test_retained_survives_session_end),
        IT(test_resubscribe_resends_retained),      IT(test_dollar_retained_not_matched_by_hash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
