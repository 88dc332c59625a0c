/* The broker as a program: clean exit on SIGINT with clients connected,
 * --version / --help, and a bad config file refused at start. */
#include "tests/integration/harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* SIGINT with live, persistent and mid-handshake clients: exit status 0
 * (under ASan, also no leak). */
ITEST(test_sigint_clean_exit_with_clients)
{
    struct conn_opts o = {.client_id = "stay",
                          .clean = false,
                          .keepalive = 30,
                          .will_topic = "w",
                          .will_payload = "x"};
    int sub = it_connect(t, &o, NULL);
    subscribe(sub, "busy/#", 2);
    int pub = it_client(t, "busypub");
    publish(pub, "busy/1", "unacked", 2, true);
    expect_publish(sub, "busy/1", "unacked", 2, false);
    uint8_t half[] = {0x30, 10, 0, 3};
    send_bytes(pub, half, sizeof half);
    it_tcp(t); /* connected, no CONNECT yet */
    t->started = false;
    int rc = broker_stop_signal(&t->broker, SIGINT);
    if (rc != 0) broker_print_log_tail(&t->broker, 40);
    broker_remove_files(&t->broker);
    assert_int_equal(rc, 0);
}

static int run_starling(struct itest *t, const char *const argv[], char *out, size_t cap)
{
    assert_true(t->nprocs < IT_MAX_PROCS);
    struct proc *p = &t->procs[t->nprocs++];
    assert_int_equal(proc_spawn(p, argv), 0);
    int rc = proc_wait(p, 5000);
    proc_output(p, out, cap);
    return rc;
}

ITEST(test_version_and_help)
{
    skip_on_mosquitto(t);
    char out[4096];
    const char *version[] = {starling_bin(), "--version", NULL};
    assert_int_equal(run_starling(t, version, out, sizeof out), 0);
    assert_non_null(strpbrk(out, "0123456789"));
    const char *help[] = {starling_bin(), "--help", NULL};
    assert_int_equal(run_starling(t, help, out, sizeof out), 0);
    assert_non_null(strstr(out, "-c"));
    assert_non_null(strstr(out, "-p"));
}

/* A wrongly typed value is refused at start, naming the key. */
ITEST(test_bad_config_refused)
{
    skip_on_mosquitto(t);
    char path[] = "/tmp/starling-it-XXXXXX.json";
    int fd = mkstemps(path, 5);
    assert_true(fd >= 0);
    const char bad[] = "{\"limits\":{\"max_inflight\":\"lots\"}}\n";
    assert_int_equal(write(fd, bad, sizeof bad - 1), (ssize_t)(sizeof bad - 1));
    close(fd);
    char out[4096];
    const char *argv[] = {starling_bin(), "-c", path, "-p", "1", NULL};
    int rc = run_starling(t, argv, out, sizeof out);
    unlink(path);
    assert_true(rc > 0 && rc < 128); /* exited by itself, with an error status */
    assert_non_null(strstr(out, "max_inflight"));
}

/* A client id is the client's choice: a newline in it must not start a
 * forged line in the broker's log. */
ITEST(test_client_id_cannot_forge_log_lines)
{
    skip_on_mosquitto(t);
    struct conn_opts o = {.client_id = "evil\n2026-01-01T00:00:00.000Z error   forged",
                          .clean = true,
                          .keepalive = 60};
    it_connect(t, &o, NULL);
    sleep_ms(100);
    assert_true(broker_log_contains(&t->broker, "client=evil?2026"));
    assert_false(broker_log_contains(&t->broker, "\n2026-01-01T00:00:00.000Z error"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT(test_sigint_clean_exit_with_clients),
        IT(test_version_and_help),
        IT(test_client_id_cannot_forge_log_lines),
        IT(test_bad_config_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
