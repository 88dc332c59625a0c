/* starling --healthcheck (the Docker image's HEALTHCHECK) and the STARLING_*
 * environment variables: healthy only after a real round trip through the
 * running broker, unhealthy (exit 1, the failing step named) when it is
 * down, hung, refuses the check's credentials or its topic; the
 * environment turns on passwords, sets the log level, and is checked like
 * the configuration file. */
#include "tests/integration/harness.h"

#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static char dir[64], passwd_path[96], acl_path[96];

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

/* Once for the group: the password file the tests share. */
static int group_setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/starling-hc-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(passwd_path, sizeof passwd_path, "%s/passwd", dir);
    snprintf(acl_path, sizeof acl_path, "%s/acl", dir);
    const char *argv[] = {"mosquitto_passwd", "-c", "-b", passwd_path, "health", "s3cret", NULL};
    struct proc p;
    assert_int_equal(proc_spawn(&p, argv), 0);
    assert_int_equal(proc_wait(&p, 10000), 0);
    proc_kill(&p);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    unlink(passwd_path);
    unlink(acl_path);
    rmdir(dir);
    return 0;
}

/* starling ARGS... with the environment as it is; exit status and output. */
static int run(struct itest *t, const char *const argv[], char *out, size_t cap)
{
    assert_true(t->nprocs < IT_MAX_PROCS);
    struct proc *p = &t->procs[t->nprocs++];
    assert_int_equal(proc_spawn(p, argv), 0);
    int rc = proc_wait(p, 10000);
    proc_output(p, out, cap);
    return rc;
}

static int healthcheck(struct itest *t, const char *conf, char *out, size_t cap)
{
    const char *argv[] = {starling_bin(), "--healthcheck", "-c", conf, NULL};
    return run(t, argv, out, cap);
}

static void unset_env(void)
{
    unsetenv("STARLING_HEALTHCHECK_USERNAME");
    unsetenv("STARLING_HEALTHCHECK_PASSWORD");
    unsetenv("STARLING_PASSWORD_FILE");
    unsetenv("STARLING_ALLOW_ANONYMOUS");
    unsetenv("STARLING_LOG_LEVEL");
    unsetenv("STARLING_ACL_FILE");
}

/* A running broker is healthy: the check's message went through it (the
 * broker logged the check's client) and left nothing behind. */
ITEST(test_healthcheck_healthy)
{
    skip_on_mosquitto(t);
    struct broker_cfg cfg = {.log_level = "debug"};
    it_restart(t, &cfg);
    char out[1024];
    assert_int_equal(healthcheck(t, t->broker.conf_path, out, sizeof out), 0);
    assert_non_null(strstr(out, "healthy: MQTT round trip through 127.0.0.1:"));
    assert_true(broker_log_contains(&t->broker, "starling-healthcheck-"));
    /* clean session, no retained message: a second check is as the first */
    assert_int_equal(healthcheck(t, t->broker.conf_path, out, sizeof out), 0);
}

/* With the broker gone, unhealthy, and the output says why. */
ITEST(test_healthcheck_broker_down)
{
    skip_on_mosquitto(t);
    char conf[128];
    snprintf(conf, sizeof conf, "%s/down.json", dir);
    char text[128];
    snprintf(text, sizeof text, "{\"listeners\":[{\"bind\":\"0.0.0.0\",\"port\":%d}]}\n",
             tcp_free_port());
    write_file(conf, text);
    char out[1024];
    assert_int_equal(healthcheck(t, conf, out, sizeof out), 1);
    assert_non_null(strstr(out, "unhealthy"));
    assert_non_null(strstr(out, "Connection refused"));
    unlink(conf);
}

/* A broker that accepts TCP but never answers (hung) is unhealthy within
 * the check's own 4 s, not whenever the container runtime kills it. */
ITEST(test_healthcheck_hung_broker)
{
    skip_on_mosquitto(t);
    int l = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(l >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(l, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(l, 4), 0); /* the kernel completes connects; nobody reads */
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(l, (struct sockaddr *)&a, &len), 0);
    char conf[128], text[128];
    snprintf(conf, sizeof conf, "%s/hung.json", dir);
    snprintf(text, sizeof text, "{\"listeners\":[{\"bind\":\"127.0.0.1\",\"port\":%d}]}\n",
             ntohs(a.sin_port));
    write_file(conf, text);
    char out[1024];
    long start = now_ms();
    int rc = healthcheck(t, conf, out, sizeof out);
    long took = now_ms() - start;
    close(l);
    unlink(conf);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "CONNACK: timed out"));
    assert_true(took >= 3500 && took < 9000);
}

/* Passwords on: the check without credentials is refused and says which
 * variables to set; with them it is healthy. */
ITEST(test_healthcheck_credentials)
{
    skip_on_mosquitto(t);
    struct broker_cfg cfg = {.deny_anonymous = true, .password_file = passwd_path};
    it_restart(t, &cfg);
    char out[1024];
    assert_int_equal(healthcheck(t, t->broker.conf_path, out, sizeof out), 1);
    assert_non_null(strstr(out, "refused with code 5"));
    assert_non_null(strstr(out, "STARLING_HEALTHCHECK_USERNAME"));
    setenv("STARLING_HEALTHCHECK_USERNAME", "health", 1);
    setenv("STARLING_HEALTHCHECK_PASSWORD", "wrong", 1);
    int wrong = healthcheck(t, t->broker.conf_path, out, sizeof out);
    bool said_code4 = strstr(out, "refused with code 4") != NULL;
    setenv("STARLING_HEALTHCHECK_PASSWORD", "s3cret", 1);
    int right = healthcheck(t, t->broker.conf_path, out, sizeof out);
    unset_env();
    assert_int_equal(wrong, 1);
    assert_true(said_code4);
    assert_int_equal(right, 0);
}

/* An ACL that does not let the check read its topic makes it unhealthy,
 * naming the refused subscription; one that lets it read but not write
 * makes it wait for a delivery that never comes. */
ITEST(test_healthcheck_acl)
{
    skip_on_mosquitto(t);
    write_file(acl_path, "topic readwrite other/#\n");
    struct broker_cfg cfg = {.acl_file = acl_path};
    it_restart(t, &cfg);
    char out[1024];
    assert_int_equal(healthcheck(t, t->broker.conf_path, out, sizeof out), 1);
    assert_non_null(strstr(out, "subscription was refused"));

    write_file(acl_path, "topic read starling/healthcheck/#\n");
    kill(t->broker.pid, SIGHUP);
    int rc = 1;
    for (int i = 0; i < 20; i++) { /* until the reload has been read */
        rc = healthcheck(t, t->broker.conf_path, out, sizeof out);
        if (strstr(out, "delivery")) break;
        sleep_ms(100);
    }
    assert_int_equal(rc, 1);
    assert_non_null(strstr(out, "delivery"));

    write_file(acl_path, "topic readwrite starling/healthcheck/#\n");
    kill(t->broker.pid, SIGHUP);
    for (int i = 0; i < 20 && rc != 0; i++) {
        sleep_ms(100);
        rc = healthcheck(t, t->broker.conf_path, out, sizeof out);
    }
    assert_int_equal(rc, 0);
}

/* STARLING_PASSWORD_FILE asks for passwords even where the file allows
 * anonymous clients (as the Docker image's does); STARLING_ALLOW_ANONYMOUS
 * puts them back. */
ITEST(test_env_password_file)
{
    skip_on_mosquitto(t);
    setenv("STARLING_PASSWORD_FILE", passwd_path, 1);
    it_restart(t, &(struct broker_cfg){0}); /* its file says allow_anonymous true */
    unset_env();
    const char *anon[] = {"-t", "env/t", "-m", "anon", NULL};
    const char *user[] = {"-t", "env/t", "-m", "u", "-u", "health", "-P", "s3cret", NULL};
    assert_int_not_equal(it_mosquitto_pub(t, anon), 0);
    assert_int_equal(it_mosquitto_pub(t, user), 0);
    assert_true(broker_log_has_line(&t->broker, "anonymous", "refused"));

    setenv("STARLING_PASSWORD_FILE", passwd_path, 1);
    setenv("STARLING_ALLOW_ANONYMOUS", "true", 1);
    it_restart(t, &(struct broker_cfg){0});
    unset_env();
    assert_int_equal(it_mosquitto_pub(t, anon), 0);
    assert_int_equal(it_mosquitto_pub(t, user), 0);
}

/* STARLING_LOG_LEVEL is over the file's level, -v over both. */
ITEST(test_env_log_level)
{
    skip_on_mosquitto(t);
    setenv("STARLING_LOG_LEVEL", "debug", 1);
    it_restart(t, &(struct broker_cfg){.log_level = "info"});
    unset_env();
    it_client(t, "envdebug");
    assert_true(broker_log_has_line(&t->broker, "debug", "envdebug"));

    setenv("STARLING_LOG_LEVEL", "error", 1);
    it_restart(t, &(struct broker_cfg){.log_level = "info"});
    unset_env();
    it_client(t, "enverror");
    assert_false(broker_log_contains(&t->broker, "running"));
}

/* A bad value stops the start, naming the variable and what it takes. */
ITEST(test_env_bad_values_refused)
{
    skip_on_mosquitto(t);
    char out[1024];
    const char *argv[] = {starling_bin(), "-t", NULL};
    setenv("STARLING_LOG_LEVEL", "loud", 1);
    int rc1 = run(t, argv, out, sizeof out);
    bool named1 = strstr(out, "STARLING_LOG_LEVEL") && strstr(out, "error, warning, info, debug");
    unsetenv("STARLING_LOG_LEVEL");
    setenv("STARLING_ALLOW_ANONYMOUS", "yes", 1);
    int rc2 = run(t, argv, out, sizeof out);
    bool named2 = strstr(out, "STARLING_ALLOW_ANONYMOUS") && strstr(out, "true or false");
    unsetenv("STARLING_ALLOW_ANONYMOUS");
    setenv("STARLING_PASSWORD_FILE", "", 1);
    int rc3 = run(t, argv, out, sizeof out);
    bool named3 = strstr(out, "STARLING_PASSWORD_FILE") != NULL;
    unset_env();
    assert_int_equal(rc1, 1);
    assert_true(named1);
    assert_int_equal(rc2, 1);
    assert_true(named2);
    assert_int_equal(rc3, 1);
    assert_true(named3);
}

/* Anonymous access beyond loopback is logged as a warning at start, with
 * how to turn it off; on loopback only, it is not. */
ITEST(test_warning_anonymous_beyond_loopback)
{
    skip_on_mosquitto(t);
    assert_false(broker_log_contains(&t->broker, "anonymous clients are allowed"));
    char extra[64];
    snprintf(extra, sizeof extra, "{\"bind\":\"0.0.0.0\",\"port\":%d}", tcp_free_port());
    it_restart(t, &(struct broker_cfg){.extra_listeners = extra});
    assert_true(
        broker_log_has_line(&t->broker, "warning", "anonymous clients are allowed on 0.0.0.0"));
    assert_true(broker_log_contains(&t->broker, "STARLING_PASSWORD_FILE"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT(test_healthcheck_healthy),
        IT(test_healthcheck_broker_down),
        IT(test_healthcheck_hung_broker),
        IT(test_healthcheck_credentials),
        IT(test_healthcheck_acl),
        IT(test_env_password_file),
        IT(test_env_log_level),
        IT(test_env_bad_values_refused),
        IT(test_warning_anonymous_beyond_loopback),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
