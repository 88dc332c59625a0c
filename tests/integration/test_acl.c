/* ACL files (auth.acl_file; Mosquitto's acl_file) against the real broker:
 * read, write and deny, pattern substitution, a '#' subscriber that never
 * sees denied topics, retained and queued messages filtered, denied QoS 1/2
 * publishes still acknowledged, SUBACK 0x80, wills, SIGHUP reloads that
 * shrink rights on the same connection, a broken file on reload, and
 * starling -t. Where the behaviour is Mosquitto's, the tests pass against
 * Mosquitto 2.0.11 too (STARLING_TEST_MOSQUITTO=1), with the same file. */
#include "tests/integration/harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64], acl_path[96];

/* Written under another name and renamed: a reload never reads half a file. */
static void write_acl(const char *text)
{
    char tmp[128];
    snprintf(tmp, sizeof tmp, "%s.new", acl_path);
    FILE *f = fopen(tmp, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(chmod(tmp, 0644), 0);
    assert_int_equal(rename(tmp, acl_path), 0);
}

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/starling-acl-XXXXXX");
    if (!mkdtemp(dir)) return -1;
    chmod(dir, 0755); /* Mosquitto started as root reads it as user mosquitto */
    snprintf(acl_path, sizeof acl_path, "%s/acl", dir);
    return itest_setup(state);
}

static int teardown(void **state)
{
    int r = itest_teardown(state);
    unlink(acl_path);
    rmdir(dir);
    return r;
}

static void with_acl(struct itest *t, const char *text)
{
    write_acl(text);
    struct broker_cfg cfg = {.acl_file = acl_path};
    it_restart(t, &cfg);
}

/* SIGHUP, and wait until the broker has re-read its files. */
static void reload(struct itest *t)
{
    const char *done = t->broker.mosquitto ? "Reloading config" : "configuration reloaded";
    int before = broker_log_count(&t->broker, done, "", 1000);
    kill(t->broker.pid, SIGHUP);
    for (int i = 0; i < 100 && broker_log_count(&t->broker, done, "", 1000) == before; i++)
        sleep_ms(20);
    assert_true(broker_log_count(&t->broker, done, "", 1000) > before);
    if (t->broker.mosquitto) sleep_ms(200); /* it logs first and reloads after */
}

static int user_client(struct itest *t, const char *id, const char *user)
{
    struct conn_opts o = {.client_id = id, .clean = true, .keepalive = 60, .username = user};
    return it_connect(t, &o, NULL);
}

/* SUBSCRIBE one filter; the SUBACK's return code. */
static uint8_t suback_code(int fd, const char *filter, uint8_t qos)
{
    const char *f[] = {filter};
    send_subscribe(fd, 0x77, 1, f, &qos);
    struct pkt p;
    expect_packet(fd, &p, 9);
    assert_int_equal(p.len, 3);
    return p.body[2];
}

/* Each side of readwrite: a client may publish only where it may write,
 * and receives only where it may read. */
ITEST(test_acl_read_and_write)
{
    with_acl(t, "topic read r/#\ntopic write w/#\ntopic readwrite rw/#\n"
                "user writer\ntopic write #\n");
    int s = it_client(t, "s");
    subscribe(s, "r/#", 0);
    subscribe(s, "rw/#", 0);
    int p = it_client(t, "p");
    publish(p, "r/1", "p may not write here", 0, false);
    publish(p, "w/1", "s may not read here", 0, false);
    publish(p, "rw/1", "both", 0, false);
    expect_publish(s, "rw/1", "both", 0, false);
    int w = user_client(t, "w", "writer");
    publish(w, "r/2", "from writer", 0, false);
    expect_publish(s, "r/2", "from writer", 0, false);
    expect_silence(s, IT_QUIET);
}

/* A '#' subscriber with `topic read #` and `topic deny secret/#` never
 * gets secret/..., live or retained. */
ITEST(test_acl_hash_subscriber_misses_denied_topics)
{
    with_acl(t, "topic read #\ntopic deny secret/#\nuser writer\ntopic write #\n");
    int s = it_client(t, "s");
    subscribe(s, "#", 0);
    int w = user_client(t, "w", "writer");
    publish(w, "secret/x", "hidden", 0, true);
    publish(w, "public/x", "seen", 0, true);
    expect_publish(s, "public/x", "seen", 0, false);
    const char *args[] = {"-u", "writer", "-t", "secret/y", "-m", "hidden too", NULL};
    assert_int_equal(it_mosquitto_pub(t, args), 0);
    const char *args2[] = {"-u", "writer", "-t", "public/y", "-m", "seen too", NULL};
    assert_int_equal(it_mosquitto_pub(t, args2), 0);
    expect_publish(s, "public/y", "seen too", 0, false);
    expect_silence(s, IT_QUIET);
    /* The retained store holds secret/x; a new '#' subscriber gets only public/x. */
    int late = it_client(t, "late");
    subscribe(late, "#", 0);
    expect_publish(late, "public/x", "seen", 0, true);
    expect_silence(late, IT_QUIET);
}

/* A denied publish is acknowledged as usual (PUBACK; PUBREC, PUBREL,
 * PUBCOMP) and dropped, retained or not; the client stays connected.
 * MQTT-3.3.5-2 */
ITEST(test_acl_denied_qos1_qos2_still_acknowledged)
{
    with_acl(t, "topic read #\n");
    int s = it_client(t, "s");
    subscribe(s, "#", 2);
    int p = it_client(t, "p");
    publish(p, "a", "qos0", 0, false);
    publish(p, "a", "qos1", 1, false);
    publish(p, "a", "qos2", 2, false);
    publish(p, "keep", "retained", 1, true);
    expect_silence(s, IT_QUIET);
    publish(p, "a", "still connected", 1, false);
    int late = it_client(t, "late");
    subscribe(late, "#", 1);
    expect_silence(late, IT_QUIET);
    if (!t->broker.mosquitto)
        assert_true(
            broker_log_has_line(&t->broker, "ACL denied PUBLISH", "client=p user=- topic=a"));
}

/* MQTT-3.9.3-2 MQTT-3.8.4-4: a filter the ACL does not grant gets 0x80, the others in
 * the same SUBSCRIBE their QoS. Mosquitto 2.0 grants every filter and
 * filters at delivery instead. */
ITEST(test_acl_suback_0x80_for_denied_filter)
{
    skip_on_mosquitto(t);
    with_acl(t, "topic read ok/#\ntopic read part/#\ntopic deny part/x\nuser writer\n"
                "topic write #\n");
    int s = it_client(t, "s");
    const char *f[] = {"ok/#", "no/#", "ok/+", "part/x", "part/#"};
    const uint8_t q[] = {1, 1, 2, 0, 0};
    send_subscribe(s, 0x55, 5, f, q);
    const uint8_t want[] = {0x90, 7, 0x00, 0x55, 1, 0x80, 2, 0x80, 0};
    expect_bytes(s, want, sizeof want, IT_WAIT);
    assert_true(broker_log_has_line(&t->broker, "ACL denied SUBSCRIBE", "topic=no/#"));
    int w = user_client(t, "w", "writer");
    publish(w, "part/x", "denied at delivery", 0, false);
    publish(w, "ok/1", "granted", 1, false);
    expect_publish_ack(s, "ok/1", "granted", 1, false);
    expect_silence(s, IT_QUIET);
}

/* pattern lines: %c gives each device its own subtree; a client id "+"
 * gains nothing from it (Mosquitto 2 denies such ids patterns too). */
ITEST(test_acl_pattern_substitution)
{
    with_acl(t, "pattern readwrite devices/%c/#\nuser admin\ntopic read #\n");
    int admin = user_client(t, "admin-1", "admin");
    subscribe(admin, "devices/#", 0);
    int d1 = it_client(t, "d1");
    subscribe(d1, "devices/d1/#", 0);
    int d2 = it_client(t, "d2");
    publish(d2, "devices/d1/cmd", "spoofed", 0, false);
    publish(d2, "devices/d2/t", "d2 own", 0, false);
    expect_publish(admin, "devices/d2/t", "d2 own", 0, false);
    int plus = it_client(t, "+");
    uint8_t code = suback_code(plus, "devices/+/t", 0);
    if (!t->broker.mosquitto) assert_int_equal(code, 0x80);
    publish(d1, "devices/d1/t", "d1 own", 0, false);
    expect_publish(d1, "devices/d1/t", "d1 own", 0, false);
    expect_publish(admin, "devices/d1/t", "d1 own", 0, false);
    expect_silence(plus, IT_QUIET);
    if (t->broker.mosquitto) return;
    /* Stricter than Mosquitto 2: a '/' in the id does not reach into a
     * neighbour's subtree either. */
    int slash = it_client(t, "d1/x");
    assert_int_equal(suback_code(slash, "devices/d1/x/#", 0), 0x80);
}

/* The will topic is checked for write when the will is published: a
 * denied will is dropped, an allowed one goes out (as Mosquitto). */
ITEST(test_acl_will_needs_write)
{
    with_acl(t, "topic read #\ntopic write allowed/#\n");
    int s = it_client(t, "s");
    subscribe(s, "#", 0);
    struct conn_opts o = {.client_id = "w1",
                          .clean = true,
                          .keepalive = 30,
                          .will_topic = "denied/w1",
                          .will_payload = "gone"};
    int w1 = it_connect(t, &o, NULL);
    it_forget_fd(t, w1);
    close(w1);
    o.client_id = "w2";
    o.will_topic = "allowed/w2";
    int w2 = it_connect(t, &o, NULL);
    it_forget_fd(t, w2);
    close(w2);
    expect_publish(s, "allowed/w2", "gone", 0, false);
    expect_silence(s, IT_QUIET);
    if (!t->broker.mosquitto)
        assert_true(broker_log_has_line(&t->broker, "ACL denied will", "topic=denied/w1"));
}

/* SIGHUP re-reads the file and the new rights apply to the next message
 * of connections already open: a publisher loses write, a subscriber
 * loses read, without reconnecting. */
ITEST(test_acl_reload_shrinks_rights_on_the_same_connection)
{
    with_acl(t, "topic readwrite live/#\nuser writer\ntopic write #\n");
    int s = it_client(t, "s");
    subscribe(s, "live/#", 0);
    int p = it_client(t, "p");
    int w = user_client(t, "w", "writer");
    publish(p, "live/a", "before", 0, false);
    expect_publish(s, "live/a", "before", 0, false);
    write_acl("topic read live/public\nuser writer\ntopic write #\n");
    reload(t);
    publish(p, "live/b", "p lost write", 0, false);
    publish(w, "live/c", "s lost read", 0, false);
    publish(w, "live/public", "still readable", 0, false);
    expect_publish(s, "live/public", "still readable", 0, false);
    expect_silence(s, IT_QUIET);
}

/* Messages queued for an offline persistent session are checked again
 * when they go out: rights shrunk on a reload hold them back (Mosquitto
 * does the same). */
ITEST(test_acl_queued_messages_follow_reload)
{
    with_acl(t, "topic readwrite q/#\n");
    int s = it_session(t, "s1", false, NULL);
    subscribe(s, "q/#", 1);
    it_leave(t, s);
    int p = it_client(t, "p");
    publish(p, "q/closed", "queued, then denied", 1, false);
    publish(p, "q/open", "queued", 1, false);
    write_acl("topic readwrite q/open\n");
    reload(t);
    bool present = false;
    s = it_session(t, "s1", false, &present);
    assert_true(present);
    expect_publish_ack(s, "q/open", "queued", 1, false);
    expect_silence(s, IT_QUIET);
}

/* The user name checked is the one of the CONNECT in use: a persistent
 * session resumed under another user name gets that user's rights, for
 * what was queued and for what comes next. */
ITEST(test_acl_resumed_session_takes_the_new_user)
{
    with_acl(t, "topic write q/#\nuser alice\ntopic read q/#\nuser bob\ntopic read q/bob\n");
    struct conn_opts o = {.client_id = "s1", .clean = false, .keepalive = 30, .username = "alice"};
    int s = it_connect(t, &o, NULL);
    subscribe(s, "q/#", 1);
    it_leave(t, s);
    int p = it_client(t, "p");
    publish(p, "q/alice", "queued for alice", 1, false);
    publish(p, "q/bob", "queued for bob", 1, false);
    o.username = "bob";
    bool present = false;
    s = it_connect(t, &o, &present);
    assert_true(present);
    expect_publish_ack(s, "q/bob", "queued for bob", 1, false);
    publish(p, "q/alice", "live for alice", 1, false);
    publish(p, "q/bob", "live for bob", 1, false);
    expect_publish_ack(s, "q/bob", "live for bob", 1, false);
    expect_silence(s, IT_QUIET);
}

/* A file broken on reload is refused with its line; the rules in use stay. */
ITEST(test_acl_bad_file_on_reload_keeps_the_old_one)
{
    skip_on_mosquitto(t);
    with_acl(t, "topic readwrite a/#\n");
    int s = it_client(t, "s");
    subscribe(s, "a/#", 0);
    write_acl("topic readwrite a/#\n# then a typo\ntopic reed b\n");
    reload(t);
    assert_true(broker_log_has_line(&t->broker, "ACL file", "/acl:3: expected read, write"));
    assert_true(broker_log_has_line(&t->broker, "keeping the ACL file", acl_path));
    int p = it_client(t, "p");
    publish(p, "a/1", "old rules", 0, false);
    expect_publish(s, "a/1", "old rules", 0, false);
}

/* starling -t reads the ACL file and names its bad line. */
ITEST(test_acl_check_mode_reports_file_and_line)
{
    skip_on_mosquitto(t);
    char conf[128];
    snprintf(conf, sizeof conf, "%s/conf.json", dir);
    FILE *f = fopen(conf, "w");
    assert_non_null(f);
    fprintf(f, "{\"auth\": {\"acl_file\": \"%s\"}}\n", acl_path);
    fclose(f);
    write_acl("topic read a\n\nuser\n");
    struct proc p;
    const char *argv[] = {starling_bin(), "-t", "-c", conf, NULL};
    assert_int_equal(proc_spawn(&p, argv), 0);
    assert_int_equal(proc_wait(&p, 10000), 1);
    char want[160];
    snprintf(want, sizeof want, "ACL file: %s:3: expected a user name after 'user'", acl_path);
    assert_true(proc_output_contains(&p, want));
    proc_kill(&p);
    write_acl("topic read a\n");
    assert_int_equal(proc_spawn(&p, argv), 0);
    assert_int_equal(proc_wait(&p, 10000), 0);
    proc_kill(&p);
    unlink(conf);
}

/* A client publishing where it may not cannot flood the log: at most one
 * denial line a second, each counting those left out; every denial is in
 * the shutdown totals. */
ITEST(test_acl_denial_log_is_rate_limited)
{
    skip_on_mosquitto(t);
    with_acl(t, "topic read #\n");
    int p = it_client(t, "p");
    long start = now_ms();
    for (int i = 0; i < 300; i++)
        publish(p, "denied", "x", 1, false);
    long seconds = (now_ms() - start) / 1000;
    it_forget_fd(t, p);
    close(p);
    assert_int_equal(broker_stop(&t->broker), 0);
    t->started = false;
    int lines = broker_log_count(&t->broker, "ACL denied PUBLISH", "", 1000);
    assert_true(lines >= 1);
    assert_true(lines <= seconds + 2);
    assert_true(broker_log_contains(&t->broker, "acl_denied_publishes=300"));
    broker_remove_files(&t->broker);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
        T(test_acl_read_and_write),
        T(test_acl_hash_subscriber_misses_denied_topics),
        T(test_acl_denied_qos1_qos2_still_acknowledged),
        T(test_acl_suback_0x80_for_denied_filter),
        T(test_acl_pattern_substitution),
        T(test_acl_will_needs_write),
        T(test_acl_reload_shrinks_rights_on_the_same_connection),
        T(test_acl_queued_messages_follow_reload),
        T(test_acl_resumed_session_takes_the_new_user),
        T(test_acl_bad_file_on_reload_keeps_the_old_one),
        T(test_acl_check_mode_reports_file_and_line),
        T(test_acl_denial_log_is_rate_limited),
#undef T
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
