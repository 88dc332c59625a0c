/* Keep-alive and connect timeout: silent clients are dropped on time (and
 * their will fires), clients that ping or publish stay connected. */
#include "tests/integration/harness.h"

/* Keep alive 1 s, silence: closed after about 1.5 s, will published.
 * MQTT-3.1.2-24 MQTT-3.1.2-8 */
ITEST(test_keepalive_expiry_publishes_will)
{
    int sub = it_client(t, "watch");
    subscribe(sub, "ka/#", 1);
    struct conn_opts o = {.client_id = "sleepy",
                          .clean = true,
                          .keepalive = 1,
                          .will_topic = "ka/sleepy",
                          .will_payload = "timed out",
                          .will_qos = 1};
    long start = now_ms();
    int fd = it_connect(t, &o, NULL);
    /* Mosquitto checks keep-alives only every few seconds */
    int limit = testing_mosquitto() ? 8000 : 3000;
    expect_closed(fd, limit);
    long elapsed = now_ms() - start;
    print_message("keepalive 1 s: closed after %ld ms\n", elapsed);
    assert_true(elapsed >= 1400);
    expect_publish_ack(sub, "ka/sleepy", "timed out", 1, false);
}

/* PINGREQ every 0.5 s with keep alive 1 s: PINGRESP each time, no close.
 * MQTT-3.12.4-1 MQTT-3.1.2-24 */
ITEST(test_pingreq_keeps_connection)
{
    struct conn_opts o = {.client_id = "pinger", .clean = true, .keepalive = 1};
    int fd = it_connect(t, &o, NULL);
    uint8_t ping[] = {0xc0, 0}, pong[] = {0xd0, 0};
    for (int i = 0; i < 6; i++) {
        send_bytes(fd, ping, sizeof ping);
        expect_bytes(fd, pong, sizeof pong, IT_WAIT);
        expect_silence(fd, 500);
    }
    subscribe(fd, "still/here", 0);
}

/* Any packet counts as activity, not only PINGREQ. MQTT-3.1.2-24 */
ITEST(test_publishing_keeps_connection)
{
    struct conn_opts o = {.client_id = "talker", .clean = true, .keepalive = 1};
    int fd = it_connect(t, &o, NULL);
    for (int i = 0; i < 6; i++) {
        publish(fd, "chat", "x", 1, false);
        expect_silence(fd, 500);
    }
    subscribe(fd, "still/here", 0);
}

/* A connection that sends nothing (or only part of a CONNECT) is closed
 * after limits.connect_timeout. */
ITEST(test_connect_timeout)
{
    skip_on_mosquitto(t); /* Mosquitto has no such setting */
    struct broker_cfg cfg = {.connect_timeout = 1};
    it_restart(t, &cfg);
    long start = now_ms();
    int idle = it_tcp(t);
    int partial = it_tcp(t);
    uint8_t head[] = {0x10, 20, 0, 4, 'M'};
    send_bytes(partial, head, sizeof head);
    expect_closed(idle, 4000);
    expect_closed(partial, 4000);
    long elapsed = now_ms() - start;
    print_message("connect_timeout 1 s: closed after %ld ms\n", elapsed);
    assert_true(elapsed >= 900);
    int ok = it_client(t, "prompt");
    subscribe(ok, "fine", 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT(test_keepalive_expiry_publishes_will),
        IT(test_pingreq_keeps_connection),
        IT(test_publishing_keeps_connection),
        IT(test_connect_timeout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
