/* limits.max_topic_levels on the PUBLISH and will side: a PUBLISH over it
 * closes that connection (a protocol violation, logged once), a will topic
 * over it gets CONNACK 0x02, and a deep retained topic costs no memory. */
#include "tests/integration/harness.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

static const struct broker_cfg four_levels = {.extra_limits = "\"max_topic_levels\":4"};

/* Lines of the broker's log that contain needle. */
static int log_lines_with(const struct itest *t, const char *needle)
{
    char line[4096];
    int n = 0;
    FILE *f = fopen(t->broker.log_path, "r");
    if (!f) return 0;
    while (fgets(line, sizeof line, f))
        n += strstr(line, needle) != NULL;
    fclose(f);
    return n;
}

/* At the limit: delivered. */
ITEST(test_publish_at_max_levels_delivered)
{
    skip_on_mosquitto(t);
    it_restart(t, &four_levels);
    int sub = it_client(t, "sub");
    subscribe(sub, "a/b/c/#", 1);
    int pub = it_client(t, "pub");
    publish(pub, "a/b/c/d", "four", 1, false);
    expect_publish_ack(sub, "a/b/c/d", "four", 1, false);
}

/* One over: that connection is closed without a reply and its will is
 * published (as for any protocol error, MQTT-3.1.2-8); the message is not
 * delivered; an observer connected before is unaffected; one log line names
 * the client, its address and the level count. */
ITEST(test_publish_over_max_levels_closes_connection)
{
    skip_on_mosquitto(t);
    it_restart(t, &four_levels);
    int observer = observer_start(t);
    int sub = it_client(t, "sub");
    subscribe(sub, "a/#", 1);
    struct conn_opts o = {.client_id = "deep",
                          .clean = true,
                          .keepalive = 60,
                          .will_topic = "obs/will",
                          .will_payload = "deep gone"};
    int fd = it_connect(t, &o, NULL);
    send_publish(fd, "a/b/c/d/e", "five", 4, 1, false, false, 1);
    expect_closed(fd, IT_WAIT);
    expect_publish_ack(observer, "obs/will", "deep gone", 0, false);
    expect_silence(sub, IT_QUIET);
    observer_check(t, observer);
    assert_int_equal(log_lines_with(t, "topic has 5 levels, over limits.max_topic_levels"), 1);
    assert_true(broker_log_has_line(&t->broker, "client=deep", "addr=127.0.0.1:"));
}

/* A will topic of 5 levels: CONNACK 0x02 and close; 4 levels are fine. */
ITEST(test_will_topic_over_max_levels_refused)
{
    skip_on_mosquitto(t);
    it_restart(t, &four_levels);
    struct conn_opts o = {.client_id = "deepwill",
                          .clean = true,
                          .keepalive = 60,
                          .will_topic = "w/a/b/c/d",
                          .will_payload = "x"};
    int fd = it_tcp(t);
    send_connect(fd, &o);
    static const uint8_t refused[] = {0x20, 2, 0, 2};
    expect_bytes(fd, refused, sizeof refused, IT_WAIT);
    expect_closed(fd, IT_WAIT);
    assert_true(broker_log_has_line(&t->broker, "will topic has 5 levels", "max_topic_levels"));
    o.will_topic = "w/a/b/c";
    it_connect(t, &o, NULL);
}

#define DEEP_LEVELS 30000

/* Send a 60 KB retained PUBLISH of 30,000 levels on a fresh connection and
 * expect that connection closed. Each attempt's first level differs ("aa",
 * "ab", ...), so stored topics would add up instead of replacing each other. */
static void deep_retained_attempt(struct itest *t, char *topic, int i)
{
    topic[0] = (char)('a' + i / 26);
    topic[1] = (char)('a' + i % 26);
    int fd = it_client(t, "deep");
    send_publish(fd, topic, "r", 1, 0, true, false, 0);
    expect_closed(fd, IT_WAIT);
    it_forget_fd(t, fd);
    close(fd);
}

/* The default limit (128) refuses a retained topic of 30,000 levels before
 * it is stored: 50 attempts leave the broker's RSS about where it was
 * (stored, they cost about 2 MB each) and nothing is retained. */
ITEST(test_deep_retained_topic_costs_nothing)
{
    skip_on_mosquitto(t);
    static char topic[2 * DEEP_LEVELS + 1];
    memset(topic, 0, sizeof topic);
    topic[0] = topic[1] = 'a'; /* "aa/a/a/.../a": 60,000 bytes */
    for (int i = 1; i < DEEP_LEVELS; i++)
        topic[2 * i] = '/', topic[2 * i + 1] = 'a';
    deep_retained_attempt(t, topic, 0); /* warm up the broker's buffers */
    long before = broker_status_kb(&t->broker, "VmRSS");
    for (int i = 1; i <= 50; i++)
        deep_retained_attempt(t, topic, i);
    long after = broker_status_kb(&t->broker, "VmRSS");
    print_message("VmRSS %ld kB -> %ld kB\n", before, after);
    /* Stored, 50 would add about 100 MB; refused they add the connections'
     * buffers at most (a few MB, more under ASan, whose quarantine keeps
     * freed memory for a while). */
    assert_true(after - before < 16 * 1024);
    int sub = it_client(t, "sub");
    subscribe(sub, "#", 0);
    expect_silence(sub, IT_QUIET);
    assert_true(broker_log_has_line(&t->broker, "topic has 30000 levels", "max_topic_levels"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT(test_publish_at_max_levels_delivered),
        IT(test_publish_over_max_levels_closes_connection),
        IT(test_will_topic_over_max_levels_refused),
        IT(test_deep_retained_topic_costs_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
