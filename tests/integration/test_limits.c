/* Configured limits seen from a client: packet size, keep-alive ceiling,
 * inflight window and offline queue. Hitting one never hurts other clients. */
#include "tests/integration/harness.h"

#include <stdio.h>
#include <string.h>

/* A packet over limits.max_packet_size closes that connection only; one
 * under it goes through. */
ITEST(test_max_packet_size)
{
    struct broker_cfg cfg = {.max_packet_size = 1024};
    it_restart(t, &cfg);
    int observer = observer_start(t);
    static char payload[2048];
    memset(payload, 'p', sizeof payload - 1);
    payload[900] = '\0';
    int ok = it_client(t, "small");
    publish(ok, "obs/small", payload, 1, false);
    expect_publish_ack(observer, "obs/small", payload, 1, false);
    payload[900] = 'p';
    int big = it_client(t, "big");
    send_publish(big, "obs/big", payload, sizeof payload - 1, 1, false, false, 1);
    expect_closed(big, IT_WAIT);
    observer_check(t, observer);
}

/* The fixed header alone announcing 8 MB over a 1 KB limit is enough to
 * close: the broker does not wait for (or buffer) the body. */
ITEST(test_max_packet_size_from_header)
{
    struct broker_cfg cfg = {.max_packet_size = 1024};
    it_restart(t, &cfg);
    int observer = observer_start(t);
    int big = it_client(t, "announcer");
    uint8_t header[] = {0x30, 0x80, 0x80, 0x80, 0x04};
    send_bytes(big, header, sizeof header);
    expect_closed(big, IT_WAIT);
    observer_check(t, observer);
}

/* A keep-alive above limits.max_keepalive is refused with CONNACK 0x02;
 * one at the limit is accepted. */
ITEST(test_max_keepalive)
{
    skip_on_mosquitto(t); /* Mosquitto 2.0.11 accepts it from MQTT 3.1.1 clients */
    struct broker_cfg cfg = {.max_keepalive = 10};
    it_restart(t, &cfg);
    struct conn_opts at = {.client_id = "ka10", .clean = true, .keepalive = 10};
    it_connect(t, &at, NULL);
    struct conn_opts over = {.client_id = "ka11", .clean = true, .keepalive = 11};
    int fd = it_tcp(t);
    send_connect(fd, &over);
    uint8_t want[] = {0x20, 2, 0, 2};
    expect_bytes(fd, want, sizeof want, IT_WAIT);
    expect_closed(fd, IT_WAIT);
}

/* With limits.max_inflight 2, a subscriber that does not ack holds at most
 * two QoS 1 messages; each PUBACK releases the next, in order. MQTT-4.6.0-6 */
ITEST(test_max_inflight_window)
{
    struct broker_cfg cfg = {.max_inflight = 2};
    it_restart(t, &cfg);
    int sub = it_client(t, "window");
    subscribe(sub, "win", 1);
    int pub = it_client(t, "winpub");
    for (int i = 0; i < 5; i++) {
        char pl[24];
        snprintf(pl, sizeof pl, "w%d", i);
        publish(pub, "win", pl, 1, false);
    }
    uint16_t ids[5];
    ids[0] = expect_publish(sub, "win", "w0", 1, false);
    ids[1] = expect_publish(sub, "win", "w1", 1, false);
    expect_silence(sub, IT_QUIET);
    /* Mosquitto 2.0.11 sends two more after the first PUBACK (3 in flight) */
    skip_on_mosquitto(t);
    for (int i = 2; i < 5; i++) {
        char pl[24];
        snprintf(pl, sizeof pl, "w%d", i);
        send_ack(sub, 0x40, ids[i - 2]);
        ids[i] = expect_publish(sub, "win", pl, 1, false);
        expect_silence(sub, 100);
    }
    send_ack(sub, 0x40, ids[3]);
    send_ack(sub, 0x40, ids[4]);
    expect_silence(sub, IT_QUIET);
}

/* An offline session keeps a bounded number of messages; the broker stays
 * healthy and the reconnecting client gets the bounded set. */
ITEST(test_max_queued_messages)
{
    struct broker_cfg cfg = {.max_queued_messages = 3, .max_inflight = 1};
    it_restart(t, &cfg);
    struct conn_opts o = {.client_id = "queue", .clean = false, .keepalive = 30};
    int fd = it_connect(t, &o, NULL);
    subscribe(fd, "qq", 1);
    send_disconnect(fd);
    expect_closed(fd, IT_WAIT);
    int pub = it_client(t, "qqpub");
    for (int i = 0; i < 10; i++)
        publish(pub, "qq", "m", 1, false);
    fd = it_connect(t, &o, NULL);
    int got = 0;
    static struct pkt p;
    for (int i = 0; i < 10 && read_packet(fd, &p, 500) == 0; i++) {
        struct msg m;
        parse_publish(&p, &m);
        send_ack(fd, 0x40, m.pid);
        got++;
    }
    print_message("max_queued_messages 3, max_inflight 1: %d of 10 delivered\n", got);
    assert_true(got >= 1 && got <= 4);
    publish(pub, "qq", "live", 1, false);
    expect_publish_ack(fd, "qq", "live", 1, false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT(test_max_packet_size),     IT(test_max_packet_size_from_header), IT(test_max_keepalive),
        IT(test_max_inflight_window), IT(test_max_queued_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
