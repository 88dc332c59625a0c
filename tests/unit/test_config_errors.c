/* config/: every way a configuration can be wrong is refused with one line
 * naming the file, the JSON path, what was expected and what was found, and
 * leaves the caller's config untouched. Messages are compared whole, because
 * the exact text is what an operator reads. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include "config/config.h"

#include <stdio.h>
#include <string.h>

/* Parses json as "starling.json", which must fail with exactly `want`, on one
 * line, with *c unchanged. */
static void expect_error(const char *json, const char *want)
{
    struct config c, before;
    config_defaults(&c);
    c.listeners[0].port = 4242;
    c.limits.max_inflight = 7;
    c.auth.allow_anonymous = false;
    before = c;
    char err[CONFIG_ERR_MAX] = "";
    assert_int_equal(config_parse(&c, "starling.json", json, err, sizeof err), -1);
    assert_string_equal(err, want);
    assert_null(strchr(err, '\n'));
    assert_int_equal(c.listeners[0].port, before.listeners[0].port);
    assert_int_equal(c.limits.max_inflight, before.limits.max_inflight);
    assert_int_equal(c.auth.allow_anonymous, before.auth.allow_anonymous);
    assert_int_equal(c.n_listeners, before.n_listeners);
    assert_int_equal(c.log.level, before.log.level);
}

static void port_out_of_range_names_the_listener(void **state)
{
    (void)state;
    expect_error("{\"listeners\": [{\"port\": 1883}, {\"port\": 70000}]}",
                 "starling.json: listeners[1].port: expected an integer from 0 to 65535, "
                 "found 70000");
}

static void integer_given_as_string(void **state)
{
    (void)state;
    expect_error("{\"limits\": {\"max_inflight\": \"20\"}}",
                 "starling.json: limits.max_inflight: expected an integer from 1 to 65535, "
                 "found \"20\"");
}

static void non_integral_number(void **state)
{
    (void)state;
    expect_error("{\"limits\": {\"max_inflight\": 1.5}}",
                 "starling.json: limits.max_inflight: expected an integer from 1 to 65535, "
                 "found 1.5");
}

static void negative_number(void **state)
{
    (void)state;
    expect_error("{\"limits\": {\"max_queued_messages\": -1}}",
                 "starling.json: limits.max_queued_messages: expected an integer from 0 to "
                 "100000000, found -1");
}

static void each_limit_has_its_range(void **state)
{
    (void)state;
    expect_error("{\"limits\": {\"max_connections\": 0}}",
                 "starling.json: limits.max_connections: expected an integer from 1 to "
                 "10000000, found 0");
    expect_error("{\"limits\": {\"max_packet_size\": 268435461}}",
                 "starling.json: limits.max_packet_size: expected an integer from 16 to "
                 "268435460, found 268435461");
    expect_error("{\"limits\": {\"max_packet_size\": 15}}",
                 "starling.json: limits.max_packet_size: expected an integer from 16 to "
                 "268435460, found 15");
    expect_error("{\"limits\": {\"max_inflight\": 65536}}",
                 "starling.json: limits.max_inflight: expected an integer from 1 to 65535, "
                 "found 65536");
    expect_error("{\"limits\": {\"max_queued_messages\": 100000001}}",
                 "starling.json: limits.max_queued_messages: expected an integer from 0 to "
                 "100000000, found 100000001");
    expect_error("{\"limits\": {\"max_keepalive\": 0}}",
                 "starling.json: limits.max_keepalive: expected an integer from 1 to 65535, "
                 "found 0");
    expect_error("{\"performance\": {\"busy_poll_us\": -1}}",
                 "starling.json: performance.busy_poll_us: expected an integer from 0 to 1000000, "
                 "found -1");
    expect_error("{\"limits\": {\"connect_timeout\": 3601}}",
                 "starling.json: limits.connect_timeout: expected an integer from 1 to 3600, "
                 "found 3601");
}

/* 2^40 + 1 is still an exact double, so the bound is checked exactly. */
static void queued_bytes_just_over_two_to_the_forty(void **state)
{
    (void)state;
    expect_error("{\"limits\": {\"max_queued_bytes\": 1099511627777}}",
                 "starling.json: limits.max_queued_bytes: expected an integer from 0 to "
                 "1099511627776, found 1099511627777");
}

static void number_too_large_for_a_double(void **state)
{
    (void)state;
    expect_error("{\"limits\": {\"connect_timeout\": 1e400}}",
                 "starling.json: limits.connect_timeout: expected an integer from 1 to 3600, "
                 "found a number too large to represent");
}

static void found_names_the_type_of_non_scalars(void **state)
{
    (void)state;
    expect_error("{\"limits\": {\"max_inflight\": true}}",
                 "starling.json: limits.max_inflight: expected an integer from 1 to 65535, "
                 "found a boolean");
    expect_error("{\"limits\": {\"max_inflight\": {\"a\": 1}}}",
                 "starling.json: limits.max_inflight: expected an integer from 1 to 65535, "
                 "found an object");
    expect_error("{\"limits\": {\"max_inflight\": [20]}}",
                 "starling.json: limits.max_inflight: expected an integer from 1 to 65535, "
                 "found an array");
    expect_error("{\"limits\": {\"max_inflight\": null}}",
                 "starling.json: limits.max_inflight: expected an integer from 1 to 65535, "
                 "found null");
}

static void long_found_string_is_truncated_and_escaped(void **state)
{
    (void)state;
    expect_error("{\"log\": {\"level\": \"a\\\"b\\nccccccccccccccccccccccccccccccccccccccccc\"}}",
                 "starling.json: log.level: expected \"error\", \"warning\", \"info\" or "
                 "\"debug\", found \"a\\\"b\\ncccccccccccccccccccccccccccccccccccc\"...");
}

static void bind_must_be_a_numeric_address(void **state)
{
    (void)state;
    expect_error("{\"listeners\": [{\"bind\": \"localhost\"}]}",
                 "starling.json: listeners[0].bind: expected a numeric IPv4 or IPv6 address "
                 "such as \"127.0.0.1\", \"0.0.0.0\" or \"::\", found \"localhost\"");
    expect_error("{\"listeners\": [{\"bind\": \"::1\"}, {\"bind\": \"::g\"}]}",
                 "starling.json: listeners[1].bind: expected a numeric IPv4 or IPv6 address "
                 "such as \"127.0.0.1\", \"0.0.0.0\" or \"::\", found \"::g\"");
    expect_error("{\"listeners\": [{\"bind\": 127}]}",
                 "starling.json: listeners[0].bind: expected a numeric IPv4 or IPv6 address "
                 "such as \"127.0.0.1\", \"0.0.0.0\" or \"::\", found 127");
}

static void empty_listeners_array(void **state)
{
    (void)state;
    expect_error("{\"listeners\": []}", "starling.json: listeners: expected an array of 1 to 16 "
                                        "listener objects, found an empty array");
}

static void too_many_listeners(void **state)
{
    (void)state;
    char json[1024] = "{\"listeners\": [";
    for (int i = 0; i <= CONFIG_MAX_LISTENERS; i++) {
        char one[48];
        snprintf(one, sizeof one, "%s{\"port\": %d}", i ? ", " : "", 2000 + i);
        strcat(json, one);
    }
    strcat(json, "]}");
    expect_error(json, "starling.json: listeners: expected an array of 1 to 16 listener "
                       "objects, found 17 listeners");
}

static void listeners_of_the_wrong_shape(void **state)
{
    (void)state;
    expect_error("{\"listeners\": {\"port\": 1883}}", "starling.json: listeners: expected an "
                                                      "array of 1 to 16 listener objects, found "
                                                      "an object");
    expect_error("{\"listeners\": [1883]}",
                 "starling.json: listeners[0]: expected an object like {\"bind\": "
                 "\"127.0.0.1\", \"port\": 1883}, found 1883");
}

static void duplicate_listener(void **state)
{
    (void)state;
    expect_error("{\"listeners\": [{\"bind\": \"::1\", \"port\": 1883}, {\"port\": 1884},"
                 " {\"bind\": \"0:0::1\", \"port\": 1883}]}",
                 "starling.json: listeners[2]: same address and port as listeners[0] "
                 "(0:0::1 port 1883)");
}

static void log_values(void **state)
{
    (void)state;
    expect_error("{\"log\": {\"level\": \"verbose\"}}",
                 "starling.json: log.level: expected \"error\", \"warning\", \"info\" or "
                 "\"debug\", found \"verbose\"");
    expect_error("{\"log\": {\"format\": \"xml\"}}",
                 "starling.json: log.format: expected \"text\" or \"json\", found \"xml\"");
    expect_error("{\"log\": {\"destination\": \"\"}}",
                 "starling.json: log.destination: expected \"stderr\" or a file path of 1 to "
                 "255 bytes, found \"\"");
    char json[400], path[257];
    memset(path, 'p', 256);
    path[256] = '\0';
    snprintf(json, sizeof json, "{\"log\": {\"destination\": \"%s\"}}", path);
    expect_error(json, "starling.json: log.destination: expected \"stderr\" or a file path of 1 "
                       "to 255 bytes, found a string of 256 bytes");
}

static void allow_anonymous_must_be_a_boolean(void **state)
{
    (void)state;
    expect_error("{\"auth\": {\"allow_anonymous\": \"yes\"}}",
                 "starling.json: auth.allow_anonymous: expected true or false, found \"yes\"");
    expect_error("{\"auth\": {\"allow_anonymous\": 1}}",
                 "starling.json: auth.allow_anonymous: expected true or false, found 1");
}

static void acl_file_must_be_a_path(void **state)
{
    (void)state;
    expect_error("{\"auth\": {\"acl_file\": 1}}",
                 "starling.json: auth.acl_file: expected a file path of up to 255 bytes, or \"\", "
                 "found 1");
}

static void persistence_values(void **state)
{
    (void)state;
    expect_error("{\"persistence\": {\"mode\": \"on\"}}",
                 "starling.json: persistence.mode: expected \"off\", \"periodic\" or "
                 "\"durable\", found \"on\"");
    expect_error("{\"persistence\": {\"mode\": true}}",
                 "starling.json: persistence.mode: expected \"off\", \"periodic\" or "
                 "\"durable\", found a boolean");
    expect_error("{\"persistence\": {\"path\": \"\"}}",
                 "starling.json: persistence.path: expected a file path of 1 to 255 bytes, "
                 "found \"\"");
    expect_error("{\"persistence\": {\"path\": 7}}",
                 "starling.json: persistence.path: expected a file path of 1 to 255 bytes, "
                 "found 7");
    expect_error("{\"persistence\": {\"flush_interval_ms\": 0}}",
                 "starling.json: persistence.flush_interval_ms: expected an integer from 1 to "
                 "3600000, found 0");
    expect_error("{\"persistence\": {\"flush_interval_ms\": 3600001}}",
                 "starling.json: persistence.flush_interval_ms: expected an integer from 1 to "
                 "3600000, found 3600001");
    expect_error("{\"persistence\": {\"max_pending_bytes\": 1048575}}",
                 "starling.json: persistence.max_pending_bytes: expected an integer from "
                 "1048576 to 1099511627776, found 1048575");
    expect_error("{\"persistence\": {\"max_pending_bytes\": \"64M\"}}",
                 "starling.json: persistence.max_pending_bytes: expected an integer from "
                 "1048576 to 1099511627776, found \"64M\"");
    expect_error("{\"persistence\": \"durable\"}",
                 "starling.json: persistence: expected an object, found \"durable\"");
    expect_error("{\"persistence\": {\"mdoe\": \"durable\"}}",
                 "starling.json: persistence.mdoe: unknown key (did you mean "
                 "\"persistence.mode\"?)");
    expect_error("{\"persistance\": {}}",
                 "starling.json: persistance: unknown key (did you mean \"persistence\"?)");
    expect_error("{\"persistence\": {\"autosave\": 1}}",
                 "starling.json: persistence.autosave: unknown key (the keys allowed here are: "
                 "mode, path, flush_interval_ms, max_pending_bytes)");
}

/* A path that fits alone but not once joined to the config file's folder. */
static void persistence_path_too_long_beside_the_file(void **state)
{
    (void)state;
    char json[400], name[256];
    memset(name, 'd', 250);
    name[250] = '\0';
    snprintf(json, sizeof json, "{\"persistence\": {\"path\": \"%s\"}}", name);
    struct config c;
    config_defaults(&c);
    char err[CONFIG_ERR_MAX] = "";
    assert_int_equal(config_parse(&c, "/etc/starling/starling.json", json, err, sizeof err), -1);
    assert_string_equal(err, "/etc/starling/starling.json: persistence.path: expected a file "
                             "path of 1 to 255 bytes, found a path of 264 bytes beside "
                             "/etc/starling/starling.json");
    assert_string_equal(c.persistence.path, "starling.db");
}

static void section_must_be_an_object(void **state)
{
    (void)state;
    expect_error("{\"limits\": 5}", "starling.json: limits: expected an object, found 5");
    expect_error("{\"auth\": [true]}", "starling.json: auth: expected an object, found an array");
}

static void top_level_must_be_an_object(void **state)
{
    (void)state;
    expect_error("[]",
                 "starling.json: expected a JSON object at the top level, found an empty array");
    expect_error("\"listeners\"",
                 "starling.json: expected a JSON object at the top level, found \"listeners\"");
    expect_error("  \n", "starling.json: the file is empty; expected a JSON object such as {}");
}

static void misspelt_top_level_key_gets_a_suggestion(void **state)
{
    (void)state;
    expect_error("{\"limts\": {}}", "starling.json: limts: unknown key (did you mean \"limits\"?)");
    /* adjacent letters swapped count as one edit */
    expect_error("{\"lgo\": {}}", "starling.json: lgo: unknown key (did you mean \"log\"?)");
    expect_error("{\"Auth\": {}}", "starling.json: Auth: unknown key (did you mean \"auth\"?)");
}

static void misspelt_nested_key_gets_a_suggestion_with_its_path(void **state)
{
    (void)state;
    expect_error("{\"limits\": {\"max_inflgiht\": 10}}",
                 "starling.json: limits.max_inflgiht: unknown key (did you mean "
                 "\"limits.max_inflight\"?)");
    expect_error("{\"listeners\": [{\"port\": 1}, {\"prot\": 2}]}",
                 "starling.json: listeners[1].prot: unknown key (did you mean "
                 "\"listeners[1].port\"?)");
    expect_error("{\"log\": {\"levle\": \"info\"}}",
                 "starling.json: log.levle: unknown key (did you mean \"log.level\"?)");
}

static void unknown_key_far_from_any_lists_the_valid_ones(void **state)
{
    (void)state;
    expect_error("{\"storage\": {}}",
                 "starling.json: storage: unknown key (the keys allowed here are: listeners, "
                 "limits, log, auth, performance, persistence)");
    expect_error("{\"auth\": {\"groups\": \"x\"}}",
                 "starling.json: auth.groups: unknown key (the keys allowed here are: "
                 "allow_anonymous, password_file, acl_file)");
    /* a key that is not a plain word is quoted so the path stays one line */
    expect_error("{\"log\": {\"a b\\n\": 1}}",
                 "starling.json: log[\"a b\\n\"]: unknown key (the keys allowed here are: "
                 "level, format, destination)");
}

/* JSON allows repeated keys, and cJSON keeps both: which one wins would be a
 * guess, so it is an error. */
static void duplicate_key(void **state)
{
    (void)state;
    expect_error("{\"log\": {\"level\": \"debug\", \"level\": \"error\"}}",
                 "starling.json: log.level: duplicate key (each key may appear only once)");
}

static void first_error_in_the_file_is_reported(void **state)
{
    (void)state;
    expect_error("{\"limits\": {\"max_inflight\": 0, \"max_keepalive\": 0}}",
                 "starling.json: limits.max_inflight: expected an integer from 1 to 65535, "
                 "found 0");
    /* a valid section before a bad one must not leak into *c either */
    expect_error("{\"listeners\": [{\"port\": 1}], \"limits\": {\"max_inflight\": 0}}",
                 "starling.json: limits.max_inflight: expected an integer from 1 to 65535, "
                 "found 0");
}

static void invalid_json_reports_line_and_column(void **state)
{
    (void)state;
    expect_error("{\n  \"log\": {\n    \"level\": \"info\",,\n  }\n}",
                 "starling.json:3:21: invalid JSON at \",\"");
    /* the trailing comma: the culprit is the closing brace after it */
    expect_error("{\"a\": 1,}", "starling.json:1:9: invalid JSON at \"}\"");
    expect_error("{\"a\": tru}", "starling.json:1:7: invalid JSON at \"tru}\"");
    expect_error("{\"a\": 1}\n  x", "starling.json:2:3: invalid JSON at \"x\"");
    expect_error("{\"a\": [1, 2", "starling.json:1:12: invalid JSON: unexpected end of file");
}

/* Columns count characters, not bytes, as editors do. */
static void invalid_json_column_counts_utf8_characters(void **state)
{
    (void)state;
    expect_error("{\"é\": \"ü\" x}", "starling.json:1:11: invalid JSON at \"x}\"");
}

static void error_buffer_is_bounded(void **state)
{
    (void)state;
    struct config c;
    char err[24];
    memset(err, 'Z', sizeof err);
    assert_int_equal(config_parse(&c, "starling.json", "{\"limts\": 1}", err, 16), -1);
    assert_int_equal(strlen(err), 15);
    assert_int_equal(err[16], 'Z');
    assert_int_equal(config_parse(&c, "starling.json", "{\"limts\": 1}", NULL, 0), -1);
}

/* listeners[].tls: the shape and the policy's dependencies. */
static void tls_keys_are_checked(void **state)
{
    (void)state;
    expect_error("{\"listeners\": [{\"port\": 1}, {\"tls\": true}]}",
                 "starling.json: listeners[1].tls: expected an object like {\"cert\": "
                 "\"server.crt\", \"key\": \"server.key\"}, found a boolean");
    expect_error("{\"listeners\": [{\"port\": 1}, {\"tls\": {\"key\": \"k.pem\"}}]}",
                 "starling.json: listeners[1].tls.cert: expected a file path of 1 to 255 bytes "
                 "(the server's PEM certificate), found nothing");
    expect_error("{\"listeners\": [{\"tls\": {\"cert\": \"c.pem\"}}]}",
                 "starling.json: listeners[0].tls.key: expected a file path of 1 to 255 bytes "
                 "(the certificate's PEM private key), found nothing");
    expect_error("{\"listeners\": [{\"tls\": {\"cert\": \"\", \"key\": \"k\"}}]}",
                 "starling.json: listeners[0].tls.cert: expected a file path of 1 to 255 bytes, "
                 "found \"\"");
    expect_error("{\"listeners\": [{\"tls\": {\"cert\": \"c\", \"key\": \"k\", "
                 "\"require_certificate\": true}}]}",
                 "starling.json: listeners[0].tls.ca_file: expected a file path of 1 to 255 bytes "
                 "(the CA that signs client certificates, since require_certificate is true), "
                 "found nothing");
    expect_error("{\"listeners\": [{\"tls\": {\"cert\": \"c\", \"key\": \"k\", "
                 "\"ca_file\": \"ca\", \"use_identity_as_username\": true}}]}",
                 "starling.json: listeners[0].tls.use_identity_as_username: true needs "
                 "\"require_certificate\": true (the user name comes from the client's "
                 "certificate)");
    expect_error("{\"listeners\": [{\"tls\": {\"cert\": \"c\", \"key\": \"k\", "
                 "\"require_certificate\": \"yes\"}}]}",
                 "starling.json: listeners[0].tls.require_certificate: expected true or false, "
                 "found \"yes\"");
    expect_error("{\"listeners\": [{\"tls\": {\"cert\": \"c\", \"key\": \"k\", "
                 "\"cafile\": \"ca\"}}]}",
                 "starling.json: listeners[0].tls.cafile: unknown key (did you mean "
                 "\"listeners[0].tls.ca_file\"?)");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(port_out_of_range_names_the_listener),
        cmocka_unit_test(integer_given_as_string),
        cmocka_unit_test(non_integral_number),
        cmocka_unit_test(negative_number),
        cmocka_unit_test(each_limit_has_its_range),
        cmocka_unit_test(queued_bytes_just_over_two_to_the_forty),
        cmocka_unit_test(number_too_large_for_a_double),
        cmocka_unit_test(found_names_the_type_of_non_scalars),
        cmocka_unit_test(long_found_string_is_truncated_and_escaped),
        cmocka_unit_test(bind_must_be_a_numeric_address),
        cmocka_unit_test(empty_listeners_array),
        cmocka_unit_test(too_many_listeners),
        cmocka_unit_test(listeners_of_the_wrong_shape),
        cmocka_unit_test(duplicate_listener),
        cmocka_unit_test(log_values),
        cmocka_unit_test(allow_anonymous_must_be_a_boolean),
        cmocka_unit_test(acl_file_must_be_a_path),
        cmocka_unit_test(persistence_values),
        cmocka_unit_test(persistence_path_too_long_beside_the_file),
        cmocka_unit_test(section_must_be_an_object),
        cmocka_unit_test(top_level_must_be_an_object),
        cmocka_unit_test(misspelt_top_level_key_gets_a_suggestion),
        cmocka_unit_test(misspelt_nested_key_gets_a_suggestion_with_its_path),
        cmocka_unit_test(unknown_key_far_from_any_lists_the_valid_ones),
        cmocka_unit_test(duplicate_key),
        cmocka_unit_test(first_error_in_the_file_is_reported),
        cmocka_unit_test(invalid_json_reports_line_and_column),
        cmocka_unit_test(invalid_json_column_counts_utf8_characters),
        cmocka_unit_test(error_buffer_is_bounded),
        cmocka_unit_test(tls_keys_are_checked),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
