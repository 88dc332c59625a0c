/* Will messages: published on abnormal close with their QoS and RETAIN,
 * never after DISCONNECT or without the will flag. */
#include "tests/integration/harness.h"

#include <unistd.h>

/* Connect a client with a will on topic "will/<id>". */
static int will_client(struct itest *t, const char *id, const char *topic, int qos, bool retain)
{
    struct conn_opts o = {.client_id = id,
                          .clean = true,
                          .keepalive = 30,
                          .will_topic = topic,
                          .will_payload = "gone",
                          .will_qos = (uint8_t)qos,
                          .will_retain = retain};
    return it_connect(t, &o, NULL);
}

/* Close a test socket abruptly (no DISCONNECT). */
static void drop(struct itest *t, int fd)
{
    it_forget_fd(t, fd);
    close(fd);
}

/* Abrupt close publishes the will at its QoS, not retained.
 * MQTT-3.1.2-8 MQTT-3.1.2-16 */
ITEST(test_will_on_abrupt_close)
{
    int sub = it_client(t, "watch");
    subscribe(sub, "will/#", 2);
    int w = will_client(t, "dier", "will/dier", 1, false);
    drop(t, w);
    expect_publish_ack(sub, "will/dier", "gone", 1, false);
    int late = it_client(t, "late");
    subscribe(late, "will/#", 2);
    expect_silence(late, IT_QUIET);
}

/* Will QoS 2 with retain: delivered live at QoS 2 (RETAIN=0) and kept as the
 * retained message. MQTT-3.1.2-17 MQTT-3.1.2-8 MQTT-3.3.1-9 */
ITEST(test_will_retained_qos2)
{
    int sub = it_client(t, "watch");
    subscribe(sub, "will/#", 2);
    int w = will_client(t, "dier2", "will/r", 2, true);
    drop(t, w);
    expect_publish_ack(sub, "will/r", "gone", 2, false);
    int late = it_client(t, "late");
    subscribe(late, "will/#", 2);
    expect_publish_ack(late, "will/r", "gone", 2, true);
}

/* DISCONNECT discards the will. MQTT-3.14.4-3 MQTT-3.1.2-10 */
ITEST(test_no_will_after_disconnect)
{
    int sub = it_client(t, "watch");
    subscribe(sub, "will/#", 1);
    int w = will_client(t, "polite", "will/polite", 1, true);
    send_disconnect(w);
    expect_closed(w, IT_WAIT);
    expect_silence(sub, IT_QUIET);
    int late = it_client(t, "late");
    subscribe(late, "will/#", 1);
    expect_silence(late, IT_QUIET);
}

/* No will flag: nothing is published on an abrupt close. MQTT-3.1.2-12 */
ITEST(test_no_will_without_flag)
{
    int sub = it_client(t, "watch");
    subscribe(sub, "#", 1);
    int w = it_client(t, "nowill");
    drop(t, w);
    expect_silence(sub, IT_QUIET);
}

/* A connection closed for a protocol violation publishes its will.
 * MQTT-3.1.2-8 MQTT-4.8.0-1 */
ITEST(test_will_on_protocol_violation)
{
    int sub = it_client(t, "watch");
    subscribe(sub, "will/#", 1);
    int w = will_client(t, "bad", "will/bad", 1, false);
    uint8_t bad[] = {0x36, 4, 0, 1, 'x', 'y'}; /* PUBLISH QoS 3 */
    send_bytes(w, bad, sizeof bad);
    expect_closed(w, IT_WAIT);
    expect_publish_ack(sub, "will/bad", "gone", 1, false);
}

/* mosquitto_sub killed with SIGKILL: its will reaches a subscriber.
 * MQTT-3.1.2-8 MQTT-7.0.0-2 */
ITEST(test_will_of_killed_mosquitto_sub)
{
    int sub = it_client(t, "watch");
    subscribe(sub, "will/#", 1);
    const char *args[] = {"-t",        "x/y", "--will-topic", "will/tool", "--will-payload",
                          "tool died", "-W",  "10",           NULL};
    struct proc *p = it_mosquitto_sub(t, args);
    proc_kill(p);
    expect_publish_ack(sub, "will/tool", "tool died", 0, false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT(test_will_on_abrupt_close),       IT(test_will_retained_qos2),
        IT(test_no_will_after_disconnect),   IT(test_no_will_without_flag),
        IT(test_will_on_protocol_violation), IT(test_will_of_killed_mosquitto_sub),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
