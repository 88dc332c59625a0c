/* Persistent sessions (clean session 0): session-present flag, offline
 * queueing, re-sending of unacknowledged messages, clean-session discard. */
#include "tests/integration/harness.h"

#include <stdio.h>
#include <string.h>

/* MQTT-3.2.2-1 MQTT-3.2.2-2 MQTT-3.2.2-3 MQTT-3.1.2-4 MQTT-3.1.4-3 MQTT-3.1.2-6 */
ITEST(test_session_present_flag)
{
    bool sp = true;
    int fd = it_session(t, "sess", false, &sp);
    assert_false(sp); /* no stored session yet */
    subscribe(fd, "s/t", 1);
    it_leave(t, fd);
    fd = it_session(t, "sess", false, &sp);
    assert_true(sp);
    it_leave(t, fd);
    fd = it_session(t, "sess", true, &sp);
    assert_false(sp); /* clean session: always 0 */
    it_leave(t, fd);
    fd = it_session(t, "sess", false, &sp);
    assert_false(sp); /* the clean session discarded the stored one */
}

/* QoS 1/2 messages published while a persistent client is away are kept and
 * delivered in order on reconnect; its subscriptions still work. Sessions
 * are found by client id. MQTT-3.1.2-5 MQTT-4.1.0-1 MQTT-4.5.0-1
 * MQTT-3.1.3-2 MQTT-4.6.0-6 */
ITEST(test_offline_messages_queued)
{
    bool sp;
    int fd = it_session(t, "away", false, NULL);
    subscribe(fd, "off/#", 2);
    it_leave(t, fd);
    int pub = it_client(t, "offpub");
    publish(pub, "off/a", "one", 1, false);
    publish(pub, "off/b", "two", 2, false);
    publish(pub, "off/c", "three", 1, false);
    int other = it_session(t, "notaway", false, &sp);
    assert_false(sp);
    expect_silence(other, 100);
    fd = it_session(t, "away", false, &sp);
    assert_true(sp);
    uint16_t a = expect_publish(fd, "off/a", "one", 1, false);
    uint16_t b = expect_publish(fd, "off/b", "two", 2, false);
    uint16_t c = expect_publish(fd, "off/c", "three", 1, false);
    send_ack(fd, 0x40, a);
    complete_qos2(fd, b);
    send_ack(fd, 0x40, c);
    publish(pub, "off/d", "four", 1, false);
    expect_publish_ack(fd, "off/d", "four", 1, false);
}

/* Clean session 1 drops the stored session: no queued messages, no
 * subscriptions, and its own state is not kept afterwards. MQTT-3.1.2-6 */
ITEST(test_clean_session_discards_state)
{
    int fd = it_session(t, "wipe", false, NULL);
    subscribe(fd, "wipe/t", 1);
    it_leave(t, fd);
    int pub = it_client(t, "wipepub");
    publish(pub, "wipe/t", "queued", 1, false);
    bool sp = true;
    fd = it_session(t, "wipe", true, &sp);
    assert_false(sp);
    publish(pub, "wipe/t", "live", 1, false);
    expect_silence(fd, IT_QUIET);
    subscribe(fd, "wipe/u", 1);
    it_leave(t, fd);
    fd = it_session(t, "wipe", false, &sp);
    assert_false(sp);
    publish(pub, "wipe/u", "after", 1, false);
    expect_silence(fd, IT_QUIET);
}

/* Unacknowledged QoS 1 messages are re-sent on reconnect with DUP=1, their
 * original ids and in their original order.
 * MQTT-4.4.0-1 MQTT-3.3.1-1 MQTT-2.3.1-4 MQTT-4.3.2-1 MQTT-4.6.0-1 */
ITEST(test_unacked_qos1_resent_with_dup)
{
    int fd = it_session(t, "forgetful", false, NULL);
    subscribe(fd, "dup/t", 1);
    int pub = it_client(t, "duppub");
    const char *payloads[] = {"p1", "p2", "p3"};
    uint16_t ids[3];
    for (int i = 0; i < 3; i++)
        publish(pub, "dup/t", payloads[i], 1, false);
    for (int i = 0; i < 3; i++)
        ids[i] = expect_publish_dup(fd, payloads[i], 1, false);
    it_leave(t, fd);
    bool sp = false;
    fd = it_session(t, "forgetful", false, &sp);
    assert_true(sp);
    for (int i = 0; i < 3; i++) {
        uint16_t again = expect_publish_dup(fd, payloads[i], 1, true);
        assert_int_equal(again, ids[i]);
        send_ack(fd, 0x40, again);
    }
    expect_silence(fd, IT_QUIET);
}

/* QoS 2 outbound across reconnects: the unacknowledged PUBLISH is re-sent
 * with DUP=1; once PUBREC was received, only the PUBREL is re-sent.
 * MQTT-4.4.0-1 MQTT-3.3.1-1 MQTT-4.3.3-1 */
ITEST(test_unacked_qos2_resent)
{
    int fd = it_session(t, "slow2", false, NULL);
    subscribe(fd, "dup2", 2);
    int pub = it_client(t, "dup2pub");
    publish(pub, "dup2", "q2", 2, false);
    uint16_t id = expect_publish_dup(fd, "q2", 2, false);
    it_leave(t, fd);
    fd = it_session(t, "slow2", false, NULL);
    assert_int_equal(expect_publish_dup(fd, "q2", 2, true), id);
    send_ack(fd, 0x50, id);
    expect_ack(fd, 0x62, id);
    it_leave(t, fd);
    fd = it_session(t, "slow2", false, NULL);
    expect_ack(fd, 0x62, id);
    send_ack(fd, 0x70, id);
    expect_silence(fd, IT_QUIET);
}

/* An inbound QoS 2 message whose PUBREL comes on a later connection of the
 * same session is delivered exactly once. MQTT-4.3.3-2 MQTT-4.4.0-1 */
ITEST(test_inbound_qos2_across_reconnect)
{
    int sub = it_client(t, "q2watch");
    subscribe(sub, "in2", 2);
    int fd = it_session(t, "q2pub", false, NULL);
    send_publish(fd, "in2", "exactly once", 12, 2, false, false, 3);
    expect_ack(fd, 0x50, 3);
    it_leave(t, fd);
    fd = it_session(t, "q2pub", false, NULL);
    send_publish(fd, "in2", "exactly once", 12, 2, false, true, 3);
    expect_ack(fd, 0x50, 3);
    send_ack(fd, 0x62, 3);
    expect_ack(fd, 0x70, 3);
    expect_publish_ack(sub, "in2", "exactly once", 2, false);
    expect_silence(sub, IT_QUIET);
}

/* A QoS 1 delivery under way when its subscription is removed is still
 * completed (re-sent on reconnect). MQTT-3.10.4-3 */
ITEST(test_inflight_completed_after_unsubscribe)
{
    int fd = it_session(t, "unsub1", false, NULL);
    subscribe(fd, "gone/t", 1);
    int pub = it_client(t, "gonepub");
    publish(pub, "gone/t", "in flight", 1, false);
    uint16_t id = expect_publish_dup(fd, "in flight", 1, false);
    unsubscribe(fd, "gone/t");
    it_leave(t, fd);
    fd = it_session(t, "unsub1", false, NULL);
    assert_int_equal(expect_publish_dup(fd, "in flight", 1, true), id);
    send_ack(fd, 0x40, id);
    publish(pub, "gone/t", "not any more", 1, false);
    expect_silence(fd, IT_QUIET);
}

/* mosquitto_sub -c: subscribe once, go away, reconnect and get the QoS 1
 * messages published meanwhile. MQTT-3.1.2-5 MQTT-7.0.0-2 */
ITEST(test_mosquitto_persistent_session)
{
    const char *first[] = {"-c", "-i", "toolsess", "-q", "1", "-t", "ps/t", "-E", NULL};
    struct proc *p = it_mosquitto_sub(t, first);
    assert_int_equal(proc_wait(p, 5000), 0);
    for (int i = 0; i < 3; i++) {
        char msg[32];
        snprintf(msg, sizeof msg, "queued %d", i);
        const char *pub[] = {"-t", "ps/t", "-q", "1", "-m", msg, NULL};
        assert_int_equal(it_mosquitto_pub(t, pub), 0);
    }
    const char *again[] = {"-c",   "-i", "toolsess", "-q", "1", "-t",
                           "ps/t", "-C", "3",        "-W", "5", NULL};
    p = it_mosquitto_sub_start(t, again);
    assert_int_equal(proc_wait(p, 6000), 0);
    assert_true(proc_output_contains(p, "\nqueued 0\n"));
    assert_true(proc_output_contains(p, "\nqueued 1\n"));
    assert_true(proc_output_contains(p, "\nqueued 2\n"));
}

/* Takeover of a persistent session by a new connection: session present,
 * the unacknowledged message re-sent with DUP=1 and its id, subscriptions
 * kept. MQTT-3.1.4-2 MQTT-3.2.2-2 MQTT-4.4.0-1 */
ITEST(test_persistent_takeover_keeps_session)
{
    int old = it_session(t, "moving", false, NULL);
    subscribe(old, "mv", 1);
    int pub = it_client(t, "mvpub");
    publish(pub, "mv", "pending", 1, false);
    uint16_t id = expect_publish_dup(old, "pending", 1, false);
    bool sp = false;
    int fresh = it_session(t, "moving", false, &sp);
    assert_true(sp);
    expect_closed(old, IT_WAIT);
    assert_int_equal(expect_publish_dup(fresh, "pending", 1, true), id);
    send_ack(fresh, 0x40, id);
    publish(pub, "mv", "next", 1, false);
    expect_publish_ack(fresh, "mv", "next", 1, false);
}

/* Messages queued for an offline client keep the granted QoS cap.
 * MQTT-3.8.4-6 MQTT-3.1.2-5 */
ITEST(test_offline_queue_downgraded)
{
    int fd = it_session(t, "capped", false, NULL);
    subscribe(fd, "cap", 1);
    it_leave(t, fd);
    int pub = it_client(t, "cappub");
    publish(pub, "cap", "two", 2, false);
    fd = it_session(t, "capped", false, NULL);
    expect_publish_ack(fd, "cap", "two", 1, false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT(test_session_present_flag),
        IT(test_offline_messages_queued),
        IT(test_clean_session_discards_state),
        IT(test_unacked_qos1_resent_with_dup),
        IT(test_unacked_qos2_resent),
        IT(test_inbound_qos2_across_reconnect),
        IT(test_inflight_completed_after_unsubscribe),
        IT(test_mosquitto_persistent_session),
        IT(test_persistent_takeover_keeps_session),
        IT(test_offline_queue_downgraded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
