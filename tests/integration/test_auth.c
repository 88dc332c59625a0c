/* Password authentication with Mosquitto's own password files: a file made
 * by Debian's mosquitto_passwd lets its users in with mosquitto_pub and
 * raw CONNECTs, refuses wrong passwords and unknown users with CONNACK 0x04
 * and anonymous clients with 0x05, logs every refusal without the password,
 * follows the file on SIGHUP and keeps the running one when the new one is
 * broken. allow_anonymous defaults off beyond loopback, as Mosquitto 2's. */
#include "tests/integration/harness.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char dir[64], passwd_path[96];

/* mosquitto_passwd -b [-c] FILE USER PASS; asserts it succeeded. */
static void mosquitto_passwd(bool create, const char *user, const char *pass)
{
    const char *argv[] = {"mosquitto_passwd", "-b", passwd_path, user, pass, NULL, NULL};
    if (create) {
        argv[1] = "-c";
        argv[2] = "-b";
        argv[3] = passwd_path;
        argv[4] = user;
        argv[5] = pass;
    }
    struct proc p;
    assert_int_equal(proc_spawn(&p, argv), 0);
    assert_int_equal(proc_wait(&p, 10000), 0);
    proc_kill(&p);
}

static int setup(void **state)
{
    snprintf(dir, sizeof dir, "/tmp/starling-auth-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(passwd_path, sizeof passwd_path, "%s/passwd", dir);
    mosquitto_passwd(true, "alice", "wonderland");
    mosquitto_passwd(false, "bob", "builder 2");
    return itest_setup(state);
}

static int teardown(void **state)
{
    int r = itest_teardown(state);
    unlink(passwd_path);
    rmdir(dir);
    return r;
}

static void with_passwords(struct itest *t)
{
    struct broker_cfg cfg = {.deny_anonymous = true, .password_file = passwd_path};
    it_restart(t, &cfg);
}

/* CONNECT with these credentials (NULL: absent); returns the CONNACK code. */
static int connack_code(struct itest *t, const char *id, const char *user, const char *pass)
{
    struct conn_opts o = {
        .client_id = id, .clean = true, .keepalive = 30, .username = user, .password = pass};
    int fd = it_tcp(t);
    send_connect(fd, &o);
    uint8_t ack[4];
    assert_int_equal(recv_exact(fd, ack, sizeof ack, IT_WAIT), 0);
    assert_int_equal(ack[0], 0x20);
    return ack[3];
}

/* MQTT-3.1.3-10 MQTT-3.2.2-4 MQTT-3.2.2-5 */
ITEST(test_password_file_users)
{
    skip_on_mosquitto(t);
    with_passwords(t);
    assert_int_equal(connack_code(t, "a1", "alice", "wonderland"), 0);
    assert_int_equal(connack_code(t, "b1", "bob", "builder 2"), 0);
    assert_int_equal(connack_code(t, "a2", "alice", "wonderlan"), 4);
    assert_int_equal(connack_code(t, "a3", "alice", NULL), 4);
    assert_int_equal(connack_code(t, "c1", "carol", "wonderland"), 4);
    assert_int_equal(connack_code(t, "n1", NULL, NULL), 5);
    /* every refusal names client, user and reason, never the password */
    assert_true(broker_log_has_line(&t->broker, "client=a2", "bad user name or password"));
    assert_true(broker_log_has_line(&t->broker, "user=carol", "bad user name or password"));
    assert_true(broker_log_has_line(&t->broker, "client=n1", "anonymous"));
    assert_false(broker_log_contains(&t->broker, "wonderlan"));
}

/* The same with mosquitto_pub and mosquitto_sub, as users run them. */
ITEST(test_password_file_with_mosquitto_clients)
{
    skip_on_mosquitto(t);
    with_passwords(t);
    struct proc *sub = it_mosquitto_sub(
        t, (const char *const[]){"-t", "auth/t", "-u", "bob", "-P", "builder 2", "-C", "1", NULL});
    assert_int_equal(it_mosquitto_pub(t, (const char *const[]){"-t", "auth/t", "-m", "hi", "-u",
                                                               "alice", "-P", "wonderland", NULL}),
                     0);
    assert_true(proc_wait_output(sub, "hi", IT_WAIT));
    assert_true(it_mosquitto_pub(t, (const char *const[]){"-t", "auth/t", "-m", "no", "-u", "alice",
                                                          "-P", "nope", NULL}) != 0);
}

/* With anonymous access off and no password file, nobody gets in, with or
 * without a user name (as Mosquitto 2). */
ITEST(test_no_password_file_nobody)
{
    skip_on_mosquitto(t);
    struct broker_cfg cfg = {.deny_anonymous = true};
    it_restart(t, &cfg);
    assert_int_equal(connack_code(t, "u1", "alice", "wonderland"), 5);
    assert_int_equal(connack_code(t, "u2", NULL, NULL), 5);
}

/* SIGHUP re-reads the file: a user added with mosquitto_passwd gets in; a
 * file broken afterwards is refused with its line number and the running
 * users still get in. */
ITEST(test_password_file_reload)
{
    skip_on_mosquitto(t);
    with_passwords(t);
    assert_int_equal(connack_code(t, "d1", "dave", "d"), 4);
    mosquitto_passwd(false, "dave", "d");
    kill(t->broker.pid, SIGHUP);
    int code = 4;
    for (int i = 0; i < 50 && code != 0; i++) { /* the reload is asynchronous */
        sleep_ms(50);
        code = connack_code(t, "d2", "dave", "d");
    }
    assert_int_equal(code, 0);
    FILE *f = fopen(passwd_path, "a");
    assert_non_null(f);
    fputs("broken line without a hash\n", f);
    fclose(f);
    kill(t->broker.pid, SIGHUP);
    for (int i = 0; i < 50 && !broker_log_contains(&t->broker, "keeping the password file"); i++)
        sleep_ms(50);
    assert_true(broker_log_has_line(&t->broker, "password file", ":4:"));
    assert_int_equal(connack_code(t, "d3", "dave", "d"), 0);
}

/* allow_anonymous left unset: on while every listener is on loopback, off
 * once one is not (here also 0.0.0.0, reached through 127.0.0.1), and the
 * start-up log says why. */
ITEST(test_anonymous_default_beyond_loopback)
{
    skip_on_mosquitto(t);
    struct broker_cfg local = {.anonymous_default = true};
    it_restart(t, &local);
    assert_int_equal(connack_code(t, "l1", NULL, NULL), 0);
    struct broker_cfg wide = {.anonymous_default = true,
                              .extra_listeners = "{\"bind\": \"0.0.0.0\", \"port\": 0}"};
    it_restart(t, &wide);
    assert_int_equal(connack_code(t, "w1", NULL, NULL), 5);
    assert_true(broker_log_contains(&t->broker, "anonymous clients are refused"));
}

/* starling -t checks the password file too, naming its bad line. */
ITEST(test_check_mode_reads_password_file)
{
    skip_on_mosquitto(t);
    char conf[128], bad[128];
    snprintf(bad, sizeof bad, "%s/bad", dir);
    FILE *f = fopen(bad, "w");
    assert_non_null(f);
    fputs("# users\nalice\n", f);
    fclose(f);
    snprintf(conf, sizeof conf, "%s/conf.json", dir);
    f = fopen(conf, "w");
    assert_non_null(f);
    fprintf(f, "{\"auth\": {\"password_file\": \"%s\"}}\n", bad);
    fclose(f);
    struct proc p;
    assert_int_equal(proc_spawn(&p, (const char *const[]){starling_bin(), "-t", "-c", conf, NULL}),
                     0);
    assert_int_equal(proc_wait(&p, 10000), 1);
    char out[512];
    proc_output(&p, out, sizeof out);
    proc_kill(&p);
    assert_non_null(strstr(out, ":2:"));
    unlink(bad);
    unlink(conf);
}

/* build/starling-passwd beside the broker under test. */
static const char *passwd_tool(void)
{
    static char path[256];
    snprintf(path, sizeof path, "%s-passwd", starling_bin());
    return path;
}

static int run(const char *const argv[])
{
    struct proc p;
    assert_int_equal(proc_spawn(&p, argv), 0);
    int rc = proc_wait(&p, 10000);
    proc_kill(&p);
    return rc;
}

/* starling-passwd with mosquitto_passwd's options: -c -b creates, -b adds
 * or changes, -D deletes, -U hashes a plain-text file; the file is 0600 and
 * the broker takes what it wrote. */
ITEST(test_starling_passwd_tool)
{
    skip_on_mosquitto(t);
    const char *tool = passwd_tool();
    assert_int_equal(run((const char *const[]){tool, "-c", "-b", passwd_path, "erin", "e1", NULL}),
                     0);
    assert_int_equal(run((const char *const[]){tool, "-b", passwd_path, "frank", "f1", NULL}), 0);
    assert_int_equal(run((const char *const[]){tool, "-b", passwd_path, "erin", "e2", NULL}), 0);
    struct stat st;
    assert_int_equal(stat(passwd_path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    with_passwords(t);
    assert_int_equal(connack_code(t, "e1", "erin", "e2"), 0);
    assert_int_equal(connack_code(t, "e2", "erin", "e1"), 4);
    assert_int_equal(connack_code(t, "f1", "frank", "f1"), 0);
    assert_int_equal(connack_code(t, "a1", "alice", "wonderland"), 4); /* -c replaced the file */
    assert_int_equal(run((const char *const[]){tool, "-D", passwd_path, "frank", NULL}), 0);
    assert_true(run((const char *const[]){tool, "-D", passwd_path, "nobody", NULL}) != 0);
    FILE *f = fopen(passwd_path, "a");
    assert_non_null(f);
    fputs("gina:plain secret\n", f);
    fclose(f);
    assert_int_equal(run((const char *const[]){tool, "-U", passwd_path, NULL}), 0);
    kill(t->broker.pid, SIGHUP);
    int code = -1;
    for (int i = 0; i < 50 && code != 0; i++) {
        sleep_ms(50);
        code = connack_code(t, "g1", "gina", "plain secret");
    }
    assert_int_equal(code, 0);
    assert_int_equal(connack_code(t, "f2", "frank", "f1"), 4);
}

/* A file written by starling-passwd works in Mosquitto 2 (Debian's): its
 * users get in with mosquitto_pub, a wrong password is refused. */
ITEST(test_starling_passwd_file_in_mosquitto)
{
    skip_on_mosquitto(t);
    assert_int_equal(
        run((const char *const[]){passwd_tool(), "-c", "-b", passwd_path, "hal", "h 9000", NULL}),
        0);
    chmod(dir, 0755); /* mosquitto, as root, drops to its own user to read them */
    chmod(passwd_path, 0644);
    int port = tcp_free_port();
    assert_true(port > 0);
    char conf[128], portstr[16];
    snprintf(conf, sizeof conf, "%s/mosquitto.conf", dir);
    snprintf(portstr, sizeof portstr, "%d", port);
    FILE *f = fopen(conf, "w");
    assert_non_null(f);
    fprintf(f, "listener %d 127.0.0.1\nallow_anonymous false\npassword_file %s\n", port,
            passwd_path);
    fclose(f);
    struct proc mq;
    assert_int_equal(
        proc_spawn(&mq, (const char *const[]){"/usr/sbin/mosquitto", "-c", conf, NULL}), 0);
    int fd = -1;
    for (int i = 0; i < 100 && fd < 0; i++) {
        sleep_ms(50);
        fd = tcp_connect_port(port);
    }
    assert_true(fd >= 0);
    close(fd);
    int ok = run((const char *const[]){"mosquitto_pub", "-h", "127.0.0.1", "-p", portstr, "-t", "x",
                                       "-m", "y", "-u", "hal", "-P", "h 9000", NULL});
    int bad = run((const char *const[]){"mosquitto_pub", "-h", "127.0.0.1", "-p", portstr, "-t",
                                        "x", "-m", "y", "-u", "hal", "-P", "h 900", NULL});
    kill(mq.pid, SIGTERM);
    proc_wait(&mq, 5000);
    proc_kill(&mq);
    unlink(conf);
    assert_int_equal(ok, 0);
    assert_true(bad != 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_password_file_users, setup, teardown),
        cmocka_unit_test_setup_teardown(test_password_file_with_mosquitto_clients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_no_password_file_nobody, setup, teardown),
        cmocka_unit_test_setup_teardown(test_password_file_reload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_anonymous_default_beyond_loopback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_check_mode_reads_password_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_starling_passwd_tool, setup, teardown),
        cmocka_unit_test_setup_teardown(test_starling_passwd_file_in_mosquitto, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
