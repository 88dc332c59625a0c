/* Per-test context: cmocka setup/teardown that own the broker, the sockets
 * and the child processes of one test, plus the mosquitto_pub/sub runners. */
#include "tests/integration/harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int itest_setup(void **state)
{
    struct itest *t = calloc(1, sizeof *t);
    if (!t) return -1;
    *state = t;
    if (broker_start(&t->broker, NULL) < 0) {
        broker_remove_files(&t->broker);
        return -1;
    }
    t->started = true;
    return 0;
}

static void release_clients(struct itest *t)
{
    for (int i = 0; i < t->nfds; i++)
        if (t->fds[i] >= 0) close(t->fds[i]);
    t->nfds = 0;
    for (int i = 0; i < t->nprocs; i++)
        proc_kill(&t->procs[i]);
    t->nprocs = 0;
}

int itest_teardown(void **state)
{
    struct itest *t = *state;
    int rc = 0;
    if (!t) return 0;
    release_clients(t);
    if (t->started) {
        rc = broker_stop(&t->broker);
        if (rc != 0 || !t->passed) broker_print_log_tail(&t->broker, 40);
        broker_remove_files(&t->broker);
    }
    free(t);
    *state = NULL;
    return rc;
}

void it_stop(struct itest *t)
{
    assert_true(t->started);
    release_clients(t);
    t->started = false;
    int rc = broker_stop(&t->broker);
    if (rc != 0) broker_print_log_tail(&t->broker, 40);
    broker_remove_files(&t->broker);
    assert_int_equal(rc, 0);
}

void it_restart(struct itest *t, const struct broker_cfg *cfg)
{
    if (t->started) it_stop(t);
    assert_int_equal(broker_start(&t->broker, cfg), 0);
    t->started = true;
}

void it_skip(struct itest *t, const char *reason)
{
    fprintf(stderr, "skipped: %s\n", reason);
    t->passed = true; /* a skip is not a failure: no log dump */
    skip();
}

void skip_on_mosquitto(struct itest *t)
{
    if (testing_mosquitto()) it_skip(t, "Starling-only behaviour");
}

void it_kill(struct itest *t)
{
    assert_true(t->started);
    t->started = false;
    broker_stop_signal(&t->broker, SIGKILL); /* before the clients close: a crash */
    release_clients(t);
    broker_remove_files(&t->broker);
}

int it_port(const struct itest *t)
{
    return t->broker.port;
}

void it_forget_fd(struct itest *t, int fd)
{
    for (int i = 0; i < t->nfds; i++)
        if (t->fds[i] == fd) t->fds[i] = -1;
}

int it_tcp(struct itest *t)
{
    assert_true(t->nfds < IT_MAX_FDS);
    int fd = tcp_connect_port(t->broker.port);
    assert_true(fd >= 0);
    t->fds[t->nfds++] = fd;
    return fd;
}

/* argv = tool, -h, 127.0.0.1, -p, PORT, [extra...], args..., NULL */
static struct proc *spawn_tool(struct itest *t, const char *tool, const char *extra,
                               const char *const args[])
{
    const char *argv[40];
    char port[16];
    int n = 0;
    snprintf(port, sizeof port, "%d", t->broker.port);
    /* stdout goes to a file: line buffering lets tests watch it live */
    argv[n++] = "stdbuf";
    argv[n++] = "-oL";
    argv[n++] = tool;
    argv[n++] = "-h";
    argv[n++] = "127.0.0.1";
    argv[n++] = "-p";
    argv[n++] = port;
    if (extra) argv[n++] = extra;
    for (int i = 0; args[i] && n < 39; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    assert_true(t->nprocs < IT_MAX_PROCS);
    struct proc *p = &t->procs[t->nprocs];
    assert_int_equal(proc_spawn(p, argv), 0);
    t->nprocs++;
    return p;
}

int it_mosquitto_pub(struct itest *t, const char *const args[])
{
    struct proc *p = spawn_tool(t, "mosquitto_pub", NULL, args);
    int rc = proc_wait(p, 5000);
    if (rc != 0) {
        char out[2048];
        proc_output(p, out, sizeof out);
        fprintf(stderr, "mosquitto_pub exit %d: %s\n", rc, out);
    }
    return rc;
}

struct proc *it_mosquitto_sub_start(struct itest *t, const char *const args[])
{
    return spawn_tool(t, "mosquitto_sub", "-d", args);
}

struct proc *it_mosquitto_sub(struct itest *t, const char *const args[])
{
    struct proc *p = it_mosquitto_sub_start(t, args);
    assert_true(proc_wait_output(p, "received SUBACK", IT_WAIT));
    return p;
}

int observer_start(struct itest *t)
{
    int fd = it_client(t, "observer");
    subscribe(fd, "obs/#", 1);
    return fd;
}

void observer_check(struct itest *t, int observer)
{
    int fd = it_client(t, "observer-pub");
    publish(fd, "obs/alive", "still here", 1, false);
    expect_publish_ack(observer, "obs/alive", "still here", 1, false);
    send_disconnect(fd);
}
