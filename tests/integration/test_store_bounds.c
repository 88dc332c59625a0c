/* Broker-wide bounds on what outlives a client's connection: the retained
 * store's memory (limits.max_retained_bytes) and the queues of all offline
 * persistent sessions together (limits.max_queued_bytes_total). Hitting
 * either is counted and logged and never costs live delivery or an
 * acknowledgement. */
#include "tests/integration/harness.h"

#include <stdio.h>
#include <string.h>

/* Count the PUBLISH packets arriving until silence, acking QoS 1 ones. */
static int drain_publishes(int fd)
{
    int n = 0;
    struct pkt p;
    for (int i = 0; i < 100000 && read_packet(fd, &p, IT_QUIET) == 0; i++) {
        if (p.type != 3) continue;
        struct msg m;
        parse_publish(&p, &m);
        if (m.qos == 1) send_ack(fd, 0x40, m.pid);
        n++;
    }
    return n;
}

static char kilobyte[1025];

/* With a 64 KiB retained store, 200 retained 1 KB messages on distinct
 * topics: a live subscriber gets all 200, a later subscriber only those the
 * store kept (some, not all), and the refusal is logged. */
ITEST(test_retained_store_bound)
{
    skip_on_mosquitto(t);
    struct broker_cfg cfg = {.extra_limits = "\"max_retained_bytes\": 65536"};
    it_restart(t, &cfg);
    memset(kilobyte, 'r', 1024);
    int live = it_client(t, "live");
    subscribe(live, "store/#", 0);
    int pub = it_client(t, "pub");
    for (int i = 0; i < 200; i++) {
        char topic[32];
        snprintf(topic, sizeof topic, "store/%d", i);
        send_publish(pub, topic, kilobyte, 1024, 0, true, false, 0);
    }
    publish(pub, "store/sync", "s", 1, false); /* the 200 are handled once this is acked */
    assert_int_equal(drain_publishes(live), 201);
    int late = it_client(t, "late");
    subscribe(late, "store/#", 0);
    int kept = drain_publishes(late);
    assert_true(kept > 10 && kept < 64);
    assert_true(broker_log_contains(&t->broker, "limits.max_retained_bytes"));
}

/* Three offline persistent sessions may queue 64 KiB together, not 64 KiB
 * each: 100 QoS 1 messages of 1 KB each are all acknowledged to the
 * publisher, and the sessions come back with about 64 of them in total. */
ITEST(test_offline_queues_share_one_budget)
{
    skip_on_mosquitto(t);
    struct broker_cfg cfg = {.extra_limits = "\"max_queued_bytes_total\": 65536"};
    it_restart(t, &cfg);
    memset(kilobyte, 'q', 1024);
    const char *ids[3] = {"away1", "away2", "away3"};
    for (int i = 0; i < 3; i++) {
        int fd = it_session(t, ids[i], false, NULL);
        subscribe(fd, "q/#", 1);
        it_leave(t, fd);
    }
    int pub = it_client(t, "qpub");
    for (int i = 0; i < 100; i++)
        publish(pub, "q/x", kilobyte, 1, false); /* each PUBACK arrives */
    int total = 0;
    for (int i = 0; i < 3; i++)
        total += drain_publishes(it_session(t, ids[i], false, NULL));
    assert_true(total >= 60 && total <= 64);
    assert_true(broker_log_contains(&t->broker, "queue full"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT(test_retained_store_bound),
        IT(test_offline_queues_share_one_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
