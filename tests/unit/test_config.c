/* config/: the defaults, every key parsed into the struct, parsing over the
 * defaults, and config_load on real files (missing, temporary, the shipped
 * example). Error messages are covered in test_config_errors.c. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "config/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void parse_ok(struct config *c, const char *json)
{
    char err[CONFIG_ERR_MAX] = "";
    int r = config_parse(c, "starling.json", json, err, sizeof err);
    if (r != 0) print_error("unexpected error: %s\n", err);
    assert_int_equal(r, 0);
}

static void assert_config_equal(const struct config *a, const struct config *b)
{
    assert_int_equal(a->n_listeners, b->n_listeners);
    for (size_t i = 0; i < a->n_listeners && i < CONFIG_MAX_LISTENERS; i++) {
        assert_string_equal(a->listeners[i].bind, b->listeners[i].bind);
        assert_int_equal(a->listeners[i].port, b->listeners[i].port);
    }
    assert_int_equal(a->limits.max_connections, b->limits.max_connections);
    assert_int_equal(a->limits.max_packet_size, b->limits.max_packet_size);
    assert_int_equal(a->limits.max_inflight, b->limits.max_inflight);
    assert_int_equal(a->limits.max_queued_messages, b->limits.max_queued_messages);
    assert_int_equal(a->limits.max_queued_bytes, b->limits.max_queued_bytes);
    assert_int_equal(a->limits.max_keepalive, b->limits.max_keepalive);
    assert_int_equal(a->limits.connect_timeout, b->limits.connect_timeout);
    assert_int_equal(a->limits.slow_subscriber_timeout, b->limits.slow_subscriber_timeout);
    assert_true(a->limits.slow_subscriber_max_bytes == b->limits.slow_subscriber_max_bytes);
    assert_true(a->limits.max_qos0_pending_bytes == b->limits.max_qos0_pending_bytes);
    assert_int_equal(a->performance.busy_poll_us, b->performance.busy_poll_us);
    assert_int_equal(a->log.level, b->log.level);
    assert_int_equal(a->log.format, b->log.format);
    assert_string_equal(a->log.destination, b->log.destination);
    assert_int_equal(a->auth.allow_anonymous, b->auth.allow_anonymous);
    assert_int_equal(a->persistence.mode, b->persistence.mode);
    assert_string_equal(a->persistence.path, b->persistence.path);
    assert_int_equal(a->persistence.flush_interval_ms, b->persistence.flush_interval_ms);
    assert_true(a->persistence.max_pending_bytes == b->persistence.max_pending_bytes);
}

static void defaults_are_those_documented(void **state)
{
    (void)state;
    struct config c;
    config_defaults(&c);
    assert_int_equal(c.n_listeners, 1);
    assert_string_equal(c.listeners[0].bind, "127.0.0.1");
    assert_int_equal(c.listeners[0].port, 1883);
    assert_int_equal(c.limits.max_connections, 100000);
    assert_int_equal(c.limits.max_packet_size, 16 * 1024 * 1024);
    assert_int_equal(c.limits.max_inflight, 20);
    assert_int_equal(c.limits.max_queued_messages, 1000);
    assert_int_equal(c.limits.max_queued_bytes, 64 * 1024 * 1024);
    assert_int_equal(c.limits.max_keepalive, 65535);
    assert_int_equal(c.limits.connect_timeout, 10);
    assert_int_equal(c.limits.slow_subscriber_timeout, 30);
    assert_true(c.limits.slow_subscriber_max_bytes == 256u * 1024 * 1024);
    assert_true(c.limits.max_qos0_pending_bytes == 8u * 1024 * 1024);
    assert_int_equal(c.log.level, LOG_INFO);
    assert_int_equal(c.log.format, LOG_FORMAT_TEXT);
    assert_string_equal(c.log.destination, "stderr");
    assert_true(c.auth.allow_anonymous);
    assert_int_equal(c.persistence.mode, PERSIST_OFF);
    assert_string_equal(c.persistence.path, "starling.db");
    assert_int_equal(c.persistence.flush_interval_ms, 1000);
    assert_true(c.persistence.max_pending_bytes == UINT64_C(64) * 1024 * 1024);
}

static void empty_object_gives_defaults(void **state)
{
    (void)state;
    struct config c, d;
    config_defaults(&d);
    memset(&c, 0, sizeof c);
    parse_ok(&c, "{}");
    assert_config_equal(&c, &d);
}

/* A partial file changes only what it names: the rest comes from the
 * defaults, not from whatever *c held before. */
static void parse_starts_from_defaults_not_from_c(void **state)
{
    (void)state;
    struct config c, d;
    config_defaults(&c);
    c.limits.max_inflight = 7;
    c.auth.allow_anonymous = false;
    c.listeners[0].port = 4242;
    parse_ok(&c, "{\"log\": {\"level\": \"debug\"}}");
    config_defaults(&d);
    d.log.level = LOG_DEBUG;
    assert_config_equal(&c, &d);
}

static void every_limit_is_parsed(void **state)
{
    (void)state;
    struct config c;
    parse_ok(&c, "{\"limits\": {\"max_connections\": 10000000, \"max_packet_size\": 268435460,"
                 " \"max_inflight\": 65535, \"max_queued_messages\": 0,"
                 " \"max_queued_bytes\": 1099511627776, \"max_keepalive\": 1,"
                 " \"connect_timeout\": 3600}}");
    assert_int_equal(c.limits.max_connections, 10000000);
    assert_int_equal(c.limits.max_packet_size, 268435460);
    assert_int_equal(c.limits.max_inflight, 65535);
    assert_int_equal(c.limits.max_queued_messages, 0);
    assert_true(c.limits.max_queued_bytes == UINT64_C(1) << 40);
    assert_int_equal(c.limits.max_keepalive, 1);
    assert_int_equal(c.limits.connect_timeout, 3600);
    parse_ok(&c, "{\"limits\": {\"slow_subscriber_timeout\": 5, \"slow_subscriber_max_bytes\": 0,"
                 " \"max_qos0_pending_bytes\": 4096}}");
    assert_int_equal(c.limits.slow_subscriber_timeout, 5);
    assert_true(c.limits.slow_subscriber_max_bytes == 0);
    assert_true(c.limits.max_qos0_pending_bytes == 4096);
    parse_ok(&c, "{\"performance\": {\"busy_poll_us\": 250}}");
    assert_int_equal(c.performance.busy_poll_us, 250);
}

static void lower_bounds_of_limits_are_accepted(void **state)
{
    (void)state;
    struct config c;
    parse_ok(&c, "{\"limits\": {\"max_connections\": 1, \"max_packet_size\": 16,"
                 " \"max_inflight\": 1, \"max_queued_messages\": 100000000,"
                 " \"max_queued_bytes\": 0, \"max_keepalive\": 65535, \"connect_timeout\": 1}}");
    assert_int_equal(c.limits.max_connections, 1);
    assert_int_equal(c.limits.max_packet_size, 16);
    assert_int_equal(c.limits.max_inflight, 1);
    assert_int_equal(c.limits.max_queued_messages, 100000000);
    assert_int_equal(c.limits.max_queued_bytes, 0);
    assert_int_equal(c.limits.connect_timeout, 1);
}

/* JSON has one number type: 20.0 and 2e1 are the integer 20. */
static void integral_numbers_in_any_notation_are_integers(void **state)
{
    (void)state;
    struct config c;
    parse_ok(&c, "{\"limits\": {\"max_inflight\": 20.0, \"connect_timeout\": 2e1}}");
    assert_int_equal(c.limits.max_inflight, 20);
    assert_int_equal(c.limits.connect_timeout, 20);
}

static void every_log_level_and_format_is_parsed(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        enum log_level level;
    } levels[] = {
        {"error", LOG_ERROR}, {"warning", LOG_WARNING}, {"info", LOG_INFO}, {"debug", LOG_DEBUG}};
    for (size_t i = 0; i < 4; i++) {
        char json[128];
        struct config c;
        snprintf(json, sizeof json, "{\"log\": {\"level\": \"%s\", \"format\": \"%s\"}}",
                 levels[i].name, i % 2 ? "json" : "text");
        parse_ok(&c, json);
        assert_int_equal(c.log.level, levels[i].level);
        assert_int_equal(c.log.format, i % 2 ? LOG_FORMAT_JSON : LOG_FORMAT_TEXT);
        assert_string_equal(log_level_name(c.log.level), levels[i].name);
    }
}

static void log_destination_is_a_path_of_up_to_255_bytes(void **state)
{
    (void)state;
    struct config c;
    parse_ok(&c, "{\"log\": {\"destination\": \"/var/log/starling.log\"}}");
    assert_string_equal(c.log.destination, "/var/log/starling.log");
    char path[256], json[400];
    memset(path, 'p', 255);
    path[255] = '\0';
    snprintf(json, sizeof json, "{\"log\": {\"destination\": \"%s\"}}", path);
    parse_ok(&c, json);
    assert_string_equal(c.log.destination, path);
}

static void multiple_listeners_ipv4_and_ipv6(void **state)
{
    (void)state;
    struct config c;
    parse_ok(&c, "{\"listeners\": [{\"bind\": \"0.0.0.0\", \"port\": 1883},"
                 " {\"bind\": \"::1\", \"port\": 8883}, {\"bind\": \"::\", \"port\": 0},"
                 " {\"bind\": \"10.1.2.3\", \"port\": 65535}]}");
    assert_int_equal(c.n_listeners, 4);
    assert_string_equal(c.listeners[0].bind, "0.0.0.0");
    assert_int_equal(c.listeners[0].port, 1883);
    assert_string_equal(c.listeners[1].bind, "::1");
    assert_int_equal(c.listeners[1].port, 8883);
    assert_string_equal(c.listeners[2].bind, "::");
    assert_int_equal(c.listeners[2].port, 0);
    assert_string_equal(c.listeners[3].bind, "10.1.2.3");
    assert_int_equal(c.listeners[3].port, 65535);
}

/* A listeners array replaces the default one; a listener's missing keys take
 * the default listener's values (127.0.0.1, 1883). */
static void listener_keys_default_individually(void **state)
{
    (void)state;
    struct config c;
    parse_ok(&c, "{\"listeners\": [{\"port\": 1884}, {\"bind\": \"::1\"}, {}]}");
    assert_int_equal(c.n_listeners, 3);
    assert_string_equal(c.listeners[0].bind, "127.0.0.1");
    assert_int_equal(c.listeners[0].port, 1884);
    assert_string_equal(c.listeners[1].bind, "::1");
    assert_int_equal(c.listeners[1].port, 1883);
    assert_string_equal(c.listeners[2].bind, "127.0.0.1");
    assert_int_equal(c.listeners[2].port, 1883);
}

static void sixteen_listeners_fit(void **state)
{
    (void)state;
    char json[1024] = "{\"listeners\": [";
    for (int i = 0; i < CONFIG_MAX_LISTENERS; i++) {
        char one[48];
        snprintf(one, sizeof one, "%s{\"port\": %d}", i ? ", " : "", 2000 + i);
        strcat(json, one);
    }
    strcat(json, "]}");
    struct config c;
    parse_ok(&c, json);
    assert_int_equal(c.n_listeners, CONFIG_MAX_LISTENERS);
    assert_int_equal(c.listeners[CONFIG_MAX_LISTENERS - 1].port, 2000 + CONFIG_MAX_LISTENERS - 1);
}

/* Port 0 asks the OS for a fresh port each time, so it can repeat. */
static void port_zero_may_repeat(void **state)
{
    (void)state;
    struct config c;
    parse_ok(&c, "{\"listeners\": [{\"port\": 0}, {\"port\": 0}]}");
    assert_int_equal(c.n_listeners, 2);
}

static void allow_anonymous_is_parsed(void **state)
{
    (void)state;
    struct config c;
    parse_ok(&c, "{\"auth\": {\"allow_anonymous\": false}}");
    assert_false(c.auth.allow_anonymous);
    parse_ok(&c, "{\"auth\": {\"allow_anonymous\": true}}");
    assert_true(c.auth.allow_anonymous);
}

/* Editors on some systems save UTF-8 with a byte order mark. */
/* allow_anonymous defaults as Mosquitto 2's: on while every listener is on
 * loopback and no password file is named, off otherwise; a value in the
 * file always wins. */
static void allow_anonymous_default_follows_listeners_and_password_file(void **state)
{
    (void)state;
    struct config c;
    parse_ok(&c, "{\"listeners\": [{\"bind\": \"127.0.0.2\"}, {\"bind\": \"::1\"}]}");
    assert_true(c.auth.allow_anonymous && c.auth.anonymous_defaulted);
    parse_ok(&c, "{\"listeners\": [{\"bind\": \"127.0.0.1\"}, {\"bind\": \"0.0.0.0\"}]}");
    assert_false(c.auth.allow_anonymous);
    assert_true(c.auth.anonymous_defaulted);
    parse_ok(&c, "{\"listeners\": [{\"bind\": \"::\"}]}");
    assert_false(c.auth.allow_anonymous);
    parse_ok(&c, "{\"auth\": {\"password_file\": \"/etc/starling/passwd\"}}");
    assert_false(c.auth.allow_anonymous);
    assert_string_equal(c.auth.password_file, "/etc/starling/passwd");
    parse_ok(&c,
             "{\"listeners\": [{\"bind\": \"0.0.0.0\"}], \"auth\": {\"allow_anonymous\": true}}");
    assert_true(c.auth.allow_anonymous);
    assert_false(c.auth.anonymous_defaulted);
    config_defaults(&c);
    assert_true(c.auth.allow_anonymous);
    assert_string_equal(c.auth.password_file, "");
}

/* auth.acl_file names a Mosquitto acl_file; "" or no key means none, and
 * it does not change who may connect. */
static void acl_file_is_a_path_or_empty(void **state)
{
    (void)state;
    struct config c;
    parse_ok(&c, "{\"auth\": {\"acl_file\": \"/etc/starling/acl\"}}");
    assert_string_equal(c.auth.acl_file, "/etc/starling/acl");
    assert_true(c.auth.allow_anonymous);
    parse_ok(&c, "{\"auth\": {\"acl_file\": \"\"}}");
    assert_string_equal(c.auth.acl_file, "");
    config_defaults(&c);
    assert_string_equal(c.auth.acl_file, "");
}

static void utf8_byte_order_mark_is_accepted(void **state)
{
    (void)state;
    struct config c;
    parse_ok(&c, "\xEF\xBB\xBF{\"log\": {\"level\": \"error\"}}");
    assert_int_equal(c.log.level, LOG_ERROR);
}

/* Writes text to a fresh file under /tmp; the caller removes it. */
static void temp_file(char path[64], const char *text, size_t len)
{
    snprintf(path, 64, "/tmp/starling-test-config-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, len), (ssize_t)len);
    assert_int_equal(close(fd), 0);
}

static void load_real_file(void **state)
{
    (void)state;
    const char *text = "{\n  \"listeners\": [{\"bind\": \"::1\", \"port\": 11883}],\n"
                       "  \"log\": {\"format\": \"json\"}\n}\n";
    char path[64], err[CONFIG_ERR_MAX] = "";
    temp_file(path, text, strlen(text));
    struct config c;
    int r = config_load(&c, path, err, sizeof err);
    unlink(path);
    assert_int_equal(r, 0);
    assert_int_equal(c.n_listeners, 1);
    assert_string_equal(c.listeners[0].bind, "::1");
    assert_int_equal(c.listeners[0].port, 11883);
    assert_int_equal(c.log.format, LOG_FORMAT_JSON);
    assert_int_equal(c.limits.max_inflight, 20);
}

static void load_missing_file_names_it_and_the_reason(void **state)
{
    (void)state;
    struct config c, before;
    config_defaults(&c);
    c.listeners[0].port = 4242;
    before = c;
    char err[CONFIG_ERR_MAX] = "";
    assert_int_equal(config_load(&c, "/nonexistent/starling.json", err, sizeof err), -1);
    assert_string_equal(err, "/nonexistent/starling.json: cannot read: No such file or directory");
    assert_config_equal(&c, &before);
}

static void load_directory_is_refused(void **state)
{
    (void)state;
    struct config c;
    char err[CONFIG_ERR_MAX] = "";
    assert_int_equal(config_load(&c, "/tmp", err, sizeof err), -1);
    assert_string_equal(err, "/tmp: cannot read: Is a directory");
}

static void load_syntax_error_names_file_line_and_column(void **state)
{
    (void)state;
    const char *text = "{\n  \"log\": {\n    \"level\": \"info\",\n  }\n}\n";
    char path[64], err[CONFIG_ERR_MAX] = "", want[CONFIG_ERR_MAX];
    temp_file(path, text, strlen(text));
    struct config c;
    int r = config_load(&c, path, err, sizeof err);
    unlink(path);
    assert_int_equal(r, -1);
    snprintf(want, sizeof want, "%s:4:3: invalid JSON at \"}\"", path);
    assert_string_equal(err, want);
}

static void load_refuses_files_over_one_mebibyte(void **state)
{
    (void)state;
    size_t len = 1024 * 1024 + 3;
    char *text = malloc(len);
    assert_non_null(text);
    memset(text, ' ', len);
    text[0] = '{';
    text[len - 1] = '}';
    char path[64], err[CONFIG_ERR_MAX] = "", want[CONFIG_ERR_MAX];
    temp_file(path, text, len);
    free(text);
    struct config c;
    int r = config_load(&c, path, err, sizeof err);
    unlink(path);
    assert_int_equal(r, -1);
    snprintf(want, sizeof want,
             "%s: too large (more than 1048576 bytes); not a configuration file?", path);
    assert_string_equal(err, want);
}

static void load_refuses_binary_file(void **state)
{
    (void)state;
    char path[64], err[CONFIG_ERR_MAX] = "", want[CONFIG_ERR_MAX];
    temp_file(path, "{}\0junk", 7);
    struct config c;
    int r = config_load(&c, path, err, sizeof err);
    unlink(path);
    assert_int_equal(r, -1);
    snprintf(want, sizeof want, "%s: not a text file (it contains a NUL byte)", path);
    assert_string_equal(err, want);
}

/* The shipped example lists every key at its default value. */
static void shipped_example_equals_defaults(void **state)
{
    (void)state;
    struct config c, d;
    char err[CONFIG_ERR_MAX] = "";
    int r = config_load(&c, "config/starling.json", err, sizeof err);
    if (r != 0) print_error("%s\n", err);
    assert_int_equal(r, 0);
    config_defaults(&d);
    assert_config_equal(&c, &d);
}

/* A tls object makes 8883 the default port; relative paths name files
 * beside the configuration file, absolute ones stay. */
static void tls_listener_defaults_and_paths(void **state)
{
    (void)state;
    struct config c;
    char err[CONFIG_ERR_MAX] = "";
    assert_int_equal(config_parse(&c, "/etc/starling/starling.json",
                                  "{\"listeners\": [{\"port\": 1883}, {\"tls\": {\"cert\": "
                                  "\"certs/server.crt\", \"key\": \"/keys/server.key\"}}, "
                                  "{\"port\": 9000, \"tls\": {\"cert\": \"a\", \"key\": \"b\", "
                                  "\"ca_file\": \"ca.crt\", \"require_certificate\": true, "
                                  "\"use_identity_as_username\": true}}]}",
                                  err, sizeof err),
                     0);
    assert_false(c.listeners[0].tls.enabled);
    assert_int_equal(c.listeners[0].port, 1883);
    assert_true(c.listeners[1].tls.enabled);
    assert_int_equal(c.listeners[1].port, 8883);
    assert_string_equal(c.listeners[1].tls.cert, "/etc/starling/certs/server.crt");
    assert_string_equal(c.listeners[1].tls.key, "/keys/server.key");
    assert_string_equal(c.listeners[1].tls.ca_file, "");
    assert_false(c.listeners[1].tls.require_certificate);
    assert_int_equal(c.listeners[2].port, 9000);
    assert_string_equal(c.listeners[2].tls.ca_file, "/etc/starling/ca.crt");
    assert_true(c.listeners[2].tls.require_certificate);
    assert_true(c.listeners[2].tls.use_identity_as_username);
    /* a file named without a folder: paths stay relative to the working one */
    parse_ok(&c, "{\"listeners\": [{\"tls\": {\"cert\": \"s.crt\", \"key\": \"s.key\"}}]}");
    assert_string_equal(c.listeners[0].tls.cert, "s.crt");
}

/* Every file a configuration names is found the same way: beside it. */
static void auth_files_are_found_beside_the_config_file(void **state)
{
    (void)state;
    struct config c;
    char err[CONFIG_ERR_MAX] = "";
    assert_int_equal(config_parse(&c, "/etc/starling/starling.json",
                                  "{\"auth\": {\"password_file\": \"passwd\", "
                                  "\"acl_file\": \"/srv/acl\"}}",
                                  err, sizeof err),
                     0);
    assert_string_equal(c.auth.password_file, "/etc/starling/passwd");
    assert_string_equal(c.auth.acl_file, "/srv/acl");
    assert_int_equal(
        config_parse(&c, "conf/s.json", "{\"auth\": {\"acl_file\": \"acl\"}}", err, sizeof err), 0);
    assert_string_equal(c.auth.acl_file, "conf/acl");
}

static void every_persistence_mode_is_parsed(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        enum persistence_mode mode;
    } modes[] = {
        {"off", PERSIST_OFF}, {"periodic", PERSIST_PERIODIC}, {"durable", PERSIST_DURABLE}};
    for (size_t i = 0; i < 3; i++) {
        char json[128];
        struct config c;
        snprintf(json, sizeof json, "{\"persistence\": {\"mode\": \"%s\"}}", modes[i].name);
        parse_ok(&c, json);
        assert_int_equal(c.persistence.mode, modes[i].mode);
        assert_string_equal(persistence_mode_name(c.persistence.mode), modes[i].name);
        /* the mode alone changes nothing else */
        assert_string_equal(c.persistence.path, "starling.db");
        assert_int_equal(c.persistence.flush_interval_ms, 1000);
    }
}

/* Both ends of each range are accepted. */
static void persistence_numbers_take_their_whole_range(void **state)
{
    (void)state;
    struct config c;
    parse_ok(&c, "{\"persistence\": {\"flush_interval_ms\": 1, \"max_pending_bytes\": 1048576}}");
    assert_int_equal(c.persistence.flush_interval_ms, 1);
    assert_true(c.persistence.max_pending_bytes == 1048576);
    assert_int_equal(c.persistence.mode, PERSIST_OFF);
    parse_ok(&c, "{\"persistence\": {\"flush_interval_ms\": 3600000,"
                 " \"max_pending_bytes\": 1099511627776}}");
    assert_int_equal(c.persistence.flush_interval_ms, 3600000);
    assert_true(c.persistence.max_pending_bytes == UINT64_C(1) << 40);
}

/* The database is found as the auth files are: beside the config file when
 * relative; the built-in default stays in the working directory. */
static void persistence_path_is_found_beside_the_config_file(void **state)
{
    (void)state;
    struct config c;
    char err[CONFIG_ERR_MAX] = "";
    assert_int_equal(
        config_parse(&c, "/etc/starling/starling.json",
                     "{\"persistence\": {\"mode\": \"durable\", \"path\": \"data/s.db\"}}", err,
                     sizeof err),
        0);
    assert_string_equal(c.persistence.path, "/etc/starling/data/s.db");
    assert_int_equal(c.persistence.mode, PERSIST_DURABLE);
    assert_int_equal(config_parse(&c, "/etc/starling/starling.json",
                                  "{\"persistence\": {\"path\": \"/var/lib/starling/s.db\"}}", err,
                                  sizeof err),
                     0);
    assert_string_equal(c.persistence.path, "/var/lib/starling/s.db");
    /* without the key the default is not moved beside the file */
    assert_int_equal(config_parse(&c, "/etc/starling/starling.json",
                                  "{\"persistence\": {\"mode\": \"periodic\"}}", err, sizeof err),
                     0);
    assert_string_equal(c.persistence.path, "starling.db");
    parse_ok(&c, "{\"persistence\": {\"path\": \"here.db\"}}");
    assert_string_equal(c.persistence.path, "here.db");
}

/* defaults < file < environment < command line, each over the one before. */
static void environment_is_between_file_and_command_line(void **state)
{
    (void)state;
    const char *text = "{\"log\": {\"level\": \"warning\"}, \"auth\": {\"allow_anonymous\": "
                       "true, \"acl_file\": \"file.acl\"}, \"listeners\": [{\"bind\": "
                       "\"0.0.0.0\", \"port\": 1883}]}";
    char path[64], err[CONFIG_ERR_MAX] = "";
    temp_file(path, text, strlen(text));
    struct config c;
    struct config_overrides o = {.path = path, .port = -1};
    assert_int_equal(config_build(&c, &o, err, sizeof err), 0);
    assert_int_equal(c.log.level, LOG_WARNING);
    assert_true(c.auth.allow_anonymous);

    o.env = (struct config_env){.log_level = "error", .password_file = "/etc/p", .acl_file = ""};
    assert_int_equal(config_build(&c, &o, err, sizeof err), 0);
    assert_int_equal(c.log.level, LOG_ERROR);
    assert_string_equal(c.auth.password_file, "/etc/p");
    assert_false(c.auth.allow_anonymous); /* a password file asks for passwords */
    assert_string_equal(c.auth.acl_file, "");

    o.env.allow_anonymous = "true";
    o.verbose = true;
    o.port = 2000;
    assert_int_equal(config_build(&c, &o, err, sizeof err), 0);
    assert_true(c.auth.allow_anonymous);
    assert_int_equal(c.log.level, LOG_DEBUG);
    assert_int_equal(c.listeners[0].port, 2000);
    unlink(path);
}

static void environment_values_are_checked(void **state)
{
    (void)state;
    static const struct {
        struct config_env env;
        const char *says;
    } bad[] = {
        {{.log_level = "verbose"},
         "environment STARLING_LOG_LEVEL: expected one of error, "
         "warning, info, debug, found 'verbose'"},
        {{.allow_anonymous = "1"},
         "environment STARLING_ALLOW_ANONYMOUS: expected true or "
         "false, found '1'"},
        {{.password_file = ""},
         "environment STARLING_PASSWORD_FILE: expected a file path of 1 "
         "to 255 bytes, found ''"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct config c;
        memset(&c, 0x5a, sizeof c);
        struct config_overrides o = {.env = bad[i].env, .port = -1};
        char err[CONFIG_ERR_MAX] = "";
        assert_int_equal(config_build(&c, &o, err, sizeof err), -1);
        assert_string_equal(err, bad[i].says);
        assert_int_equal(((unsigned char *)&c)[0], 0x5a); /* untouched */
    }
    char long_path[300];
    memset(long_path, 'a', sizeof long_path - 1);
    long_path[sizeof long_path - 1] = '\0';
    struct config c;
    struct config_overrides o = {.env = {.acl_file = long_path}, .port = -1};
    char err[CONFIG_ERR_MAX] = "";
    assert_int_equal(config_build(&c, &o, err, sizeof err), -1);
    assert_non_null(strstr(err, "STARLING_ACL_FILE"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_are_those_documented),
        cmocka_unit_test(empty_object_gives_defaults),
        cmocka_unit_test(parse_starts_from_defaults_not_from_c),
        cmocka_unit_test(every_limit_is_parsed),
        cmocka_unit_test(lower_bounds_of_limits_are_accepted),
        cmocka_unit_test(integral_numbers_in_any_notation_are_integers),
        cmocka_unit_test(every_log_level_and_format_is_parsed),
        cmocka_unit_test(log_destination_is_a_path_of_up_to_255_bytes),
        cmocka_unit_test(multiple_listeners_ipv4_and_ipv6),
        cmocka_unit_test(listener_keys_default_individually),
        cmocka_unit_test(sixteen_listeners_fit),
        cmocka_unit_test(port_zero_may_repeat),
        cmocka_unit_test(allow_anonymous_is_parsed),
        cmocka_unit_test(allow_anonymous_default_follows_listeners_and_password_file),
        cmocka_unit_test(acl_file_is_a_path_or_empty),
        cmocka_unit_test(utf8_byte_order_mark_is_accepted),
        cmocka_unit_test(load_real_file),
        cmocka_unit_test(load_missing_file_names_it_and_the_reason),
        cmocka_unit_test(load_directory_is_refused),
        cmocka_unit_test(load_syntax_error_names_file_line_and_column),
        cmocka_unit_test(load_refuses_files_over_one_mebibyte),
        cmocka_unit_test(load_refuses_binary_file),
        cmocka_unit_test(shipped_example_equals_defaults),
        cmocka_unit_test(tls_listener_defaults_and_paths),
        cmocka_unit_test(auth_files_are_found_beside_the_config_file),
        cmocka_unit_test(every_persistence_mode_is_parsed),
        cmocka_unit_test(persistence_numbers_take_their_whole_range),
        cmocka_unit_test(persistence_path_is_found_beside_the_config_file),
        cmocka_unit_test(environment_is_between_file_and_command_line),
        cmocka_unit_test(environment_values_are_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
