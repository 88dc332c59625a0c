/* The configuration file as an operator uses it: several listeners (IPv4 and
 * IPv6) at once, SIGHUP reloads that take effect without dropping clients,
 * a broken file on reload that changes nothing, and `starling -t`. */
#include "tests/integration/harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int free_port6(void)
{
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    socklen_t len = sizeof a;
    int port = -1;
    if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0)
        port = ntohs(a.sin6_port);
    if (fd >= 0) close(fd);
    return port;
}

static int connect6(struct itest *t, int port, const char *client_id)
{
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 a = {.sin6_family = AF_INET6,
                             .sin6_port = htons((uint16_t)port),
                             .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    assert_true(fd >= 0);
    assert_true(t->nfds < IT_MAX_FDS);
    t->fds[t->nfds++] = fd;
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    struct conn_opts o = {.client_id = client_id, .clean = true, .keepalive = 60};
    send_connect(fd, &o);
    uint8_t want[] = {0x20, 2, 0, 0};
    expect_bytes(fd, want, sizeof want, IT_WAIT);
    return fd;
}

/* Replace the running broker's file with this JSON (the test port kept as
 * the first listener by -p) and send SIGHUP. */
static void rewrite_and_hup(struct itest *t, const char *json)
{
    FILE *f = fopen(t->broker.conf_path, "w");
    assert_non_null(f);
    fputs(json, f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(kill(t->broker.pid, SIGHUP), 0);
}

static bool wait_log(struct itest *t, const char *needle, int timeout_ms)
{
    for (long end = now_ms() + timeout_ms; now_ms() < end; sleep_ms(20))
        if (broker_log_contains(&t->broker, needle)) return true;
    return false;
}

/* One file, two listeners: 127.0.0.1 and [::1]; a client on each talks to
 * the other. */
ITEST(test_two_listeners_ipv4_and_ipv6)
{
    skip_on_mosquitto(t);
    int port6 = free_port6();
    assert_true(port6 > 0);
    char listener[96];
    snprintf(listener, sizeof listener, "{\"bind\":\"::1\",\"port\":%d}", port6);
    struct broker_cfg cfg = {.extra_listeners = listener};
    it_restart(t, &cfg);
    char bound[64];
    snprintf(bound, sizeof bound, "listening on [::1]:%d", port6);
    assert_true(broker_log_contains(&t->broker, bound));

    int v6 = connect6(t, port6, "over-v6");
    subscribe(v6, "multi/#", 1);
    int v4 = it_client(t, "over-v4");
    publish(v4, "multi/a", "from v4", 1, false);
    expect_publish_ack(v6, "multi/a", "from v4", 1, false);
    subscribe(v4, "back/#", 0);
    publish(v6, "back/b", "from v6", 0, false);
    expect_publish(v4, "back/b", "from v6", 0, false);
}

/* SIGHUP with log.level "debug" takes effect for what follows; clients
 * connected before stay connected. */
ITEST(test_sighup_changes_log_level)
{
    skip_on_mosquitto(t);
    int before = it_client(t, "before");
    subscribe(before, "hup/#", 0);
    assert_false(broker_log_contains(&t->broker, "debug"));
    rewrite_and_hup(t, "{\"log\": {\"level\": \"debug\"}}\n");
    assert_true(wait_log(t, "configuration reloaded", IT_WAIT));
    it_client(t, "after");
    assert_true(wait_log(t, "debug   new connection from", IT_WAIT));
    int pub = it_client(t, "pub");
    publish(pub, "hup/x", "still here", 0, false);
    expect_publish(before, "hup/x", "still here", 0, false);
}

/* A reload that lowers limits.max_keepalive applies to the next CONNECT. */
ITEST(test_sighup_applies_limits)
{
    skip_on_mosquitto(t);
    rewrite_and_hup(t, "{\"limits\": {\"max_keepalive\": 10}}\n");
    assert_true(wait_log(t, "configuration reloaded", IT_WAIT));
    int fd = it_tcp(t);
    struct conn_opts o = {.client_id = "slowpoke", .clean = true, .keepalive = 60};
    send_connect(fd, &o);
    uint8_t refused[] = {0x20, 2, 0, 2};
    expect_bytes(fd, refused, sizeof refused, IT_WAIT);
    expect_closed(fd, IT_WAIT);
}

/* A broken file on SIGHUP is logged and changes nothing: the old
 * configuration keeps serving old and new clients. */
ITEST(test_sighup_with_broken_file_keeps_serving)
{
    skip_on_mosquitto(t);
    int sub = it_client(t, "steady");
    subscribe(sub, "keep/#", 1);
    rewrite_and_hup(t, "{\"log\": {\"level\": \n");
    assert_true(wait_log(t, "reload failed, keeping the running configuration", IT_WAIT));
    rewrite_and_hup(t, "{\"limits\": {\"max_inflight\": \"many\"}}\n");
    assert_true(wait_log(t, "limits.max_inflight: expected", IT_WAIT));
    int pub = it_client(t, "newcomer");
    publish(pub, "keep/on", "served", 1, false);
    expect_publish_ack(sub, "keep/on", "served", 1, false);
}

/* log.format "json" to a log.destination file: one JSON object per line,
 * with the timestamp, level and message, and nothing on stderr. */
ITEST(test_json_log_to_file)
{
    skip_on_mosquitto(t);
    char path[] = "/tmp/starling-it-XXXXXX.log";
    int fd = mkstemps(path, 4);
    assert_true(fd >= 0);
    close(fd);
    struct broker_cfg cfg = {.log_format = "json", .log_destination = path};
    it_restart(t, &cfg);
    it_client(t, "json\"quoted");
    sleep_ms(100);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[1024];
    int lines = 0, connected = 0;
    while (lines < 100 && fgets(line, sizeof line, f)) {
        lines++;
        assert_true(strncmp(line, "{\"ts\":\"", 7) == 0);
        assert_non_null(strstr(line, "\",\"level\":\""));
        assert_true(strcmp(line + strlen(line) - 3, "\"}\n") == 0);
        if (strstr(line, "client connected: client=json\\\"quoted")) connected++;
    }
    fclose(f);
    unlink(path);
    assert_true(lines >= 2);
    assert_int_equal(connected, 1);
    assert_false(broker_log_contains(&t->broker, "client connected"));
}

static bool file_contains(const char *path, const char *needle)
{
    char buf[16384];
    FILE *f = fopen(path, "r");
    if (!f) return false;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return strstr(buf, needle) != NULL;
}

static bool wait_file(const char *path, const char *needle, int timeout_ms)
{
    for (long end = now_ms() + timeout_ms; now_ms() < end; sleep_ms(20))
        if (file_contains(path, needle)) return true;
    return false;
}

/* SIGHUP re-opens log.destination: a new path takes effect, and after a
 * logrotate-style rename the broker writes to a fresh file at the path. */
ITEST(test_sighup_reopens_log_file)
{
    skip_on_mosquitto(t);
    char path[] = "/tmp/starling-it-XXXXXX.log", rotated[64];
    int fd = mkstemps(path, 4);
    assert_true(fd >= 0);
    close(fd);
    snprintf(rotated, sizeof rotated, "%s.1", path);
    char json[256];
    snprintf(json, sizeof json, "{\"log\": {\"destination\": \"%s\"}}\n", path);
    rewrite_and_hup(t, json);
    bool moved = wait_file(path, "configuration reloaded", IT_WAIT);
    assert_int_equal(rename(path, rotated), 0);
    rewrite_and_hup(t, json);
    bool reopened = wait_file(path, "configuration reloaded", IT_WAIT);
    it_client(t, "after-rotate");
    bool logs_new = wait_file(path, "client=after-rotate", IT_WAIT);
    bool old_quiet = !file_contains(rotated, "after-rotate");
    unlink(path);
    unlink(rotated);
    assert_true(moved);
    assert_true(reopened);
    assert_true(logs_new);
    assert_true(old_quiet);
}

/* The database is opened once, at start: a SIGHUP that changes the
 * persistence section is logged as needing a restart, creates no database,
 * and the broker keeps serving as before. */
ITEST(test_sighup_persistence_change_needs_restart)
{
    skip_on_mosquitto(t);
    char dir[] = "/tmp/starling-it-XXXXXX", db[64], json[256];
    assert_non_null(mkdtemp(dir));
    snprintf(db, sizeof db, "%s/s.db", dir);
    snprintf(json, sizeof json, "{\"persistence\": {\"mode\": \"durable\", \"path\": \"%s\"}}\n",
             db);
    int sub = it_client(t, "kept");
    subscribe(sub, "persist/#", 1);
    rewrite_and_hup(t, json);
    bool reloaded = wait_log(t, "configuration reloaded", IT_WAIT);
    bool warned = broker_log_contains(&t->broker, "reload: persistence changed in");
    bool kept = broker_log_contains(&t->broker, "restart starling to apply it (keeping mode off");
    int pub = it_client(t, "after-hup");
    publish(pub, "persist/x", "same broker", 1, false);
    expect_publish_ack(sub, "persist/x", "same broker", 1, false);
    bool no_db = access(db, F_OK) != 0;
    rmdir(dir);
    assert_true(reloaded);
    assert_true(warned);
    assert_true(kept);
    assert_true(no_db);
}

static int run_check(struct itest *t, const char *path, char *out, size_t cap)
{
    assert_true(t->nprocs < IT_MAX_PROCS);
    struct proc *p = &t->procs[t->nprocs++];
    const char *argv[] = {starling_bin(), "-t", "-c", path, NULL};
    assert_int_equal(proc_spawn(p, argv), 0);
    int rc = proc_wait(p, 5000);
    proc_output(p, out, cap);
    return rc;
}

static void write_file(char *path, const char *text)
{
    int fd = mkstemps(path, 5);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
}

/* starling -t: 0 and a verdict for a valid file; 1 and the path of the
 * offending key for a bad one; 1 for a missing file. No socket is opened. */
ITEST(test_check_mode_exit_codes)
{
    skip_on_mosquitto(t);
    char good[] = "/tmp/starling-it-XXXXXX.json", bad[] = "/tmp/starling-it-XXXXXX.json";
    write_file(good, "{\"listeners\": [{\"bind\": \"127.0.0.1\", \"port\": 1}]}\n");
    write_file(bad, "{\"listeners\": [{\"port\": 1883}, {\"port\": 70000}]}\n");
    char out[4096];
    int rc_good = run_check(t, good, out, sizeof out);
    bool said_valid = strstr(out, "valid") != NULL;
    int rc_bad = run_check(t, bad, out, sizeof out);
    bool named_key = strstr(out, "listeners[1].port") != NULL;
    int rc_missing = run_check(t, "/tmp/starling-it-no-such-file.json", out, sizeof out);
    bool said_missing = strstr(out, "cannot read") != NULL;
    unlink(good);
    unlink(bad);
    assert_int_equal(rc_good, 0);
    assert_true(said_valid);
    assert_int_equal(rc_bad, 1);
    assert_true(named_key);
    assert_int_equal(rc_missing, 1);
    assert_true(said_missing);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT(test_two_listeners_ipv4_and_ipv6), IT(test_sighup_changes_log_level),
        IT(test_sighup_applies_limits),       IT(test_sighup_with_broken_file_keeps_serving),
        IT(test_check_mode_exit_codes),       IT(test_json_log_to_file),
        IT(test_sighup_reopens_log_file),     IT(test_sighup_persistence_change_needs_restart),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
