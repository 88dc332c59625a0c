/* auth/acl: Mosquitto acl_file syntax (what loads, and the file:line errors
 * of what does not) and the meaning of the rules: read/write/readwrite/deny,
 * anonymous and user sections, patterns with %c and %u, wildcards in ids,
 * '$' topics and subscription filters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/acl.h"

static char err[256];

static struct acl *parse(const char *text)
{
    err[0] = '\0';
    struct acl *a = acl_parse(text, strlen(text), "acl", err, sizeof err);
    if (!a) fail_msg("did not load: %s", err);
    return a;
}

/* The file is refused with exactly this error. */
static void expect_error_len(const char *text, size_t len, const char *want)
{
    err[0] = '\0';
    struct acl *a = acl_parse(text, len, "acl", err, sizeof err);
    if (a) {
        acl_free(a);
        fail_msg("loaded, expected: %s", want);
    }
    assert_string_equal(err, want);
}

static void expect_error(const char *text, const char *want)
{
    expect_error_len(text, strlen(text), want);
}

/* May the client (user NULL: anonymous) do this? */
static bool can(const struct acl *a, const char *id, const char *user, const char *topic,
                enum acl_access access)
{
    struct acl_who w = {(const uint8_t *)id, strlen(id), user != NULL, (const uint8_t *)user,
                        user ? strlen(user) : 0};
    return acl_check(a, &w, (const uint8_t *)topic, strlen(topic), access);
}

static bool can_read(const struct acl *a, const char *id, const char *user, const char *topic)
{
    return can(a, id, user, topic, ACL_READ);
}

static bool can_write(const struct acl *a, const char *id, const char *user, const char *topic)
{
    return can(a, id, user, topic, ACL_WRITE);
}

static bool can_sub(const struct acl *a, const char *id, const char *user, const char *filter)
{
    struct acl_who w = {(const uint8_t *)id, strlen(id), user != NULL, (const uint8_t *)user,
                        user ? strlen(user) : 0};
    return acl_check_subscribe(a, &w, (const uint8_t *)filter, strlen(filter));
}

/* Comments, blank lines, CRLF, blanks around and between words (tabs too,
 * which Mosquitto refuses), filters holding spaces, and no access word. */
static void test_accepts_mosquitto_syntax(void **state)
{
    (void)state;
    struct acl *a = parse("# ACL\n"
                          "\n"
                          "   \t\n"
                          "topic read pub/#\r\n"
                          "  topic   write\tin/x  \n"
                          "    # an indented comment\n"
                          "topic readwrite with space/x\n"
                          "topic both\n"
                          "user alice\n"
                          "topic alice/#\n"
                          "user  bob smith \n"
                          "topic deny bob/secret\n"
                          "pattern read devices/%c/#\n"
                          "pattern write %u/out"); /* no final newline */
    assert_int_equal(acl_rule_count(a), 8);
    assert_int_equal(acl_user_count(a), 2);
    assert_true(can_read(a, "c", NULL, "pub/x"));
    assert_true(can_write(a, "c", NULL, "in/x"));
    assert_true(can_read(a, "c", NULL, "with space/x"));
    assert_true(can_write(a, "c", NULL, "both") && can_read(a, "c", NULL, "both"));
    assert_true(can_write(a, "c", "alice", "alice/x") && can_read(a, "c", "alice", "alice/x"));
    assert_false(can_read(a, "c", "bob smith", "bob/secret"));
    assert_true(can_read(a, "c", "bob smith", "devices/c/1"));
    acl_free(a);
    a = parse(""); /* an empty file loads, and grants nothing */
    assert_int_equal(acl_rule_count(a), 0);
    assert_false(can_read(a, "c", NULL, "a"));
    assert_false(can_write(a, "c", "u", "a"));
    acl_free(a);
}

/* Each malformed line is refused with file:line and what was expected. */
static void test_errors_name_file_and_line(void **state)
{
    (void)state;
    expect_error("topic a\n# c\nbogus x\n",
                 "acl:3: expected topic, pattern or user, found 'bogus'");
    expect_error("Topic a\n", "acl:1: expected topic, pattern or user, found 'Topic'");
    expect_error("\n\ntopic reed a/b\n",
                 "acl:3: expected read, write, readwrite or deny after 'topic', found 'reed'");
    expect_error("pattern rw %c\n",
                 "acl:1: expected read, write, readwrite or deny after 'pattern', found 'rw'");
    expect_error("topic\n", "acl:1: expected an access word or a topic filter after 'topic'");
    expect_error("topic a\npattern   \n",
                 "acl:2: expected an access word or a topic filter after 'pattern'");
    /* Mosquitto takes this as the filter "read"; a missing filter here */
    expect_error("topic read\n", "acl:1: expected a topic filter after 'topic read'");
    expect_error("user a\npattern deny \t\n",
                 "acl:2: expected a topic filter after 'pattern deny'");
    expect_error("user\n", "acl:1: expected a user name after 'user'");
    expect_error("user  \t\n", "acl:1: expected a user name after 'user'");
    expect_error("topic read a/#/b\n",
                 "acl:1: invalid topic filter 'a/#/b': '#' must be the last level");
    expect_error("topic a+\n", "acl:1: invalid topic filter 'a+': '+' and '#' must each be a whole "
                               "level");
    expect_error("topic read a/b#\n",
                 "acl:1: invalid topic filter 'a/b#': '+' and '#' must each be a whole level");
    static const char nul[] = "topic a\ntopic b\0c\n";
    expect_error_len(nul, sizeof nul - 1, "acl:2: NUL byte in the line");
}

static void test_errors_on_sizes(void **state)
{
    (void)state;
    size_t big = ACL_MAX_STRING + 1;
    char *text = malloc(ACL_MAX_LINE + 16);
    assert_non_null(text);
    memcpy(text, "user ", 5);
    memset(text + 5, 'u', big);
    text[5 + big] = '\0';
    expect_error(text, "acl:1: user name longer than 65535 bytes");
    text[5 + big - 1] = '\0'; /* 65535 bytes: fine */
    struct acl *a = parse(text);
    acl_free(a);
    memcpy(text, "topic", 5);
    memset(text + 5, ' ', 1);
    memset(text + 6, 'f', big);
    text[6 + big] = '\0';
    char want[128];
    snprintf(want, sizeof want, "acl:1: invalid topic filter '%.64s': longer than 65535 bytes",
             text + 6);
    expect_error(text, want);
    memset(text, ' ', ACL_MAX_LINE + 1); /* blanks only, but too long to be read as a line */
    text[ACL_MAX_LINE + 1] = '\0';
    snprintf(want, sizeof want, "acl:1: line longer than %u bytes", ACL_MAX_LINE);
    expect_error(text, want);
    free(text);
}

static void test_load_from_file(void **state)
{
    (void)state;
    char path[] = "/tmp/starling-acl-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "topic read a\nuser u\ntopic write b\ntopic read\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    assert_null(acl_load(path, err, sizeof err));
    char want[128];
    snprintf(want, sizeof want, "%s:4: expected a topic filter after 'topic read'", path);
    assert_string_equal(err, want);
    unlink(path);
    assert_null(acl_load(path, err, sizeof err));
    snprintf(want, sizeof want, "%s: No such file or directory", path);
    assert_string_equal(err, want);
}

/* read, write, readwrite and no word; the anonymous section applies only
 * to clients without a user name, a user's section only to that user, and
 * a user the file does not name gets nothing but patterns. */
static void test_sections_and_access(void **state)
{
    (void)state;
    struct acl *a = parse("topic read pub/#\n"
                          "topic write up/#\n"
                          "user alice\n"
                          "topic readwrite alice/#\n"
                          "topic shared\n"
                          "user bob\n");
    assert_true(can_read(a, "c", NULL, "pub/x"));
    assert_false(can_write(a, "c", NULL, "pub/x"));
    assert_true(can_write(a, "c", NULL, "up/x"));
    assert_false(can_read(a, "c", NULL, "up/x"));
    assert_false(can_read(a, "c", NULL, "alice/x"));
    assert_false(can_read(a, "c", "alice", "pub/x")); /* anonymous rules are not everyone's */
    assert_true(can_read(a, "c", "alice", "alice/x"));
    assert_true(can_write(a, "c", "alice", "alice/x/y"));
    assert_true(can_read(a, "c", "alice", "shared") && can_write(a, "c", "alice", "shared"));
    assert_false(can_read(a, "c", "bob", "shared"));  /* a section without rules */
    assert_false(can_read(a, "c", "carol", "pub/x")); /* not in the file */
    assert_false(can_read(a, "c", "", "pub/x"));      /* an empty user name is a user name */
    assert_false(can_read(a, "c", "Alice", "alice/x"));
    acl_free(a);
}

/* A deny line wins over grants of its section wherever it stands, and
 * only its section's: Mosquitto tries deny lines first. */
static void test_deny_precedence(void **state)
{
    (void)state;
    struct acl *a = parse("topic read #\n"
                          "topic deny secret/#\n"
                          "topic readwrite secret/open\n"
                          "user u\n"
                          "topic readwrite #\n"
                          "user v\n"
                          "topic deny v/#\n"
                          "pattern read v/%c\n"
                          "pattern deny open/%c\n"
                          "pattern read open/#\n");
    assert_true(can_read(a, "c", NULL, "news"));
    assert_false(can_read(a, "c", NULL, "secret/x"));
    assert_false(can_read(a, "c", NULL, "secret"));
    assert_false(can_read(a, "c", NULL, "secret/open"));
    assert_false(can_write(a, "c", NULL, "news"));
    assert_true(can_read(a, "c", "u", "secret/x")); /* another section */
    assert_true(can_write(a, "c", "u", "open/c"));  /* its own grant decides before patterns */
    assert_false(can_read(a, "c", "v", "v/c"));     /* its own deny decides before patterns */
    assert_false(can_read(a, "c", "w", "open/c"));  /* pattern deny before pattern grant */
    assert_true(can_read(a, "c", "w", "open/d"));
    acl_free(a);
}

/* A name given twice adds to its first section (as Mosquitto). */
static void test_repeated_user_merges(void **state)
{
    (void)state;
    struct acl *a = parse("user a\ntopic read x\nuser b\ntopic read y\nuser a\ntopic read z\n"
                          "topic deny x\n");
    assert_int_equal(acl_user_count(a), 2);
    assert_false(can_read(a, "c", "a", "x"));
    assert_false(can_read(a, "c", "a", "y"));
    assert_true(can_read(a, "c", "a", "z"));
    assert_true(can_read(a, "c", "b", "y"));
    acl_free(a);
}

/* Wildcards of the rules, MQTT 4.7: "a/#" also matches "a", "+" one level
 * (empty ones too), '#' every level below. */
static void test_rule_wildcards(void **state)
{
    (void)state;
    struct acl *a = parse("topic read a/#\ntopic read +/b\ntopic read c/+\ntopic read d\n");
    assert_true(can_read(a, "c", NULL, "a"));
    assert_true(can_read(a, "c", NULL, "a/x/y"));
    assert_false(can_read(a, "c", NULL, "ab"));
    assert_true(can_read(a, "c", NULL, "x/b"));
    assert_true(can_read(a, "c", NULL, "/b"));
    assert_false(can_read(a, "c", NULL, "x/b/c"));
    assert_true(can_read(a, "c", NULL, "c/"));
    assert_false(can_read(a, "c", NULL, "c"));
    assert_false(can_read(a, "c", NULL, "c/x/y"));
    assert_true(can_read(a, "c", NULL, "d"));
    assert_false(can_read(a, "c", NULL, "d/"));
    assert_false(can_read(a, "c", NULL, "/d"));
    acl_free(a);
}

/* %c and %u stand for the client id and user name anywhere in a level;
 * a %u line never applies to a client without a user name; pattern lines
 * apply to every client; on topic lines %c is literal. */
static void test_pattern_substitution(void **state)
{
    (void)state;
    struct acl *a = parse("topic read lit/%c\n"
                          "user u\n"
                          "topic read own/x\n"
                          "pattern read devices/%c/#\n"
                          "pattern write %u/out\n"
                          "pattern readwrite dev_%c-%u/x\n"
                          "pattern read %c%c\n");
    assert_true(can_read(a, "d1", NULL, "devices/d1/temp"));
    assert_true(can_read(a, "d1", NULL, "devices/d1"));
    assert_false(can_read(a, "d1", NULL, "devices/d2/temp"));
    assert_false(can_read(a, "d1", NULL, "devices/d/temp"));
    assert_false(can_read(a, "d1", NULL, "devices/d11/temp"));
    assert_true(can_read(a, "d1", "u", "devices/d1/x")); /* patterns after the user's own rules */
    assert_true(can_read(a, "d1", "u", "own/x"));
    assert_true(can_write(a, "d1", "u", "u/out"));
    assert_false(can_write(a, "d1", "v", "u/out"));
    assert_false(can_write(a, "d1", NULL, "%u/out"));
    assert_false(can_write(a, "d1", NULL, "/out")); /* no user name: the %u lines are skipped */
    assert_true(can_write(a, "d1", "u", "dev_d1-u/x"));
    assert_false(can_write(a, "d1", NULL, "dev_d1-/x"));
    assert_true(can_read(a, "ab", NULL, "abab"));
    assert_true(can_read(a, "d1", NULL, "lit/%c"));
    assert_false(can_read(a, "d1", NULL, "lit/d1"));
    acl_free(a);
}

/* A client id or user name with '+', '#' or '/' gains nothing through a
 * pattern: "+" or "a/#" as client id must not read other devices. Mosquitto
 * 2 denies for '+' and '#'; '/' is refused too (it would let "a/b" into
 * device a's tree). Rules of the client's own section still apply. */
static void test_wildcards_in_ids_never_widen(void **state)
{
    (void)state;
    struct acl *a = parse("user +\ntopic read plus/ok\npattern read devices/%c/#\n"
                          "pattern read users/%u/#\npattern read public/#\n");
    assert_true(can_read(a, "d", NULL, "devices/d/t"));
    const char *bad[] = {"+", "#", "a/#", "a/b", "a/+", "/"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_false(can_read(a, bad[i], NULL, "devices/x/t"));
        assert_false(can_read(a, bad[i], NULL, "devices/a/b/t"));
        assert_false(can_read(a, bad[i], NULL, "devices/+/t"));
        assert_false(can_read(a, bad[i], NULL, "public/x"));
        assert_false(can_sub(a, bad[i], NULL, "devices/#"));
        assert_false(can_sub(a, bad[i], NULL, "devices/+/t"));
        assert_false(can_read(a, "d", bad[i], "users/x/t"));
        assert_false(can_read(a, "d", bad[i], "devices/d/t")); /* the user name spoils %c too */
    }
    assert_true(can_read(a, "d", "+", "plus/ok"));
    acl_free(a);
}

/* MQTT-4.7.2-1 (for ACL lines): a '#' or '+' first level does not reach topics starting
 * with '$'; only a line whose first level is that '$' word does, and a
 * client id "$SYS" does not make "%c" one. */
static void test_dollar_topics(void **state)
{
    (void)state;
    struct acl *a = parse("topic read #\ntopic read +/x\ntopic read $SYS/broker/#\n"
                          "pattern read %c/#\n");
    assert_true(can_read(a, "c", NULL, "a/x"));
    assert_false(can_read(a, "c", NULL, "$SYS/x"));
    assert_false(can_read(a, "c", NULL, "$other/x"));
    assert_true(can_read(a, "c", NULL, "$SYS/broker/uptime"));
    assert_false(can_read(a, "c", NULL, "$SYS/clients"));
    assert_false(can_read(a, "$SYS", NULL, "$SYS/clients"));
    assert_true(can_read(a, "c", NULL, "c/x"));
    assert_false(can_sub(a, "c", NULL, "$SYS/#"));
    assert_true(can_sub(a, "c", NULL, "$SYS/broker/+"));
    assert_true(can_sub(a, "c", NULL, "#")); /* which does not deliver $SYS topics */
    acl_free(a);
}

/* A subscription is granted when one line granting read covers every topic
 * its filter matches, before a deny line covers all of it. */
static void test_subscribe_filters(void **state)
{
    (void)state;
    struct acl *a = parse("topic read foo/#\ntopic read bar/+\ntopic write w/#\n"
                          "user u\ntopic read #\ntopic deny secret/#\n");
    assert_true(can_sub(a, "c", NULL, "foo/+"));
    assert_true(can_sub(a, "c", NULL, "foo/#"));
    assert_true(can_sub(a, "c", NULL, "foo"));
    assert_true(can_sub(a, "c", NULL, "foo/a/+/b"));
    assert_false(can_sub(a, "c", NULL, "#"));
    assert_false(can_sub(a, "c", NULL, "+/x"));
    assert_true(can_sub(a, "c", NULL, "bar/x"));
    assert_true(can_sub(a, "c", NULL, "bar/+"));
    assert_false(can_sub(a, "c", NULL, "bar/#"));
    assert_false(can_sub(a, "c", NULL, "bar/x/y"));
    assert_false(can_sub(a, "c", NULL, "bar"));
    assert_false(can_sub(a, "c", NULL, "w/#")); /* write only */
    assert_true(can_sub(a, "c", "u", "#"));     /* the deny covers only part of it */
    assert_true(can_sub(a, "c", "u", "+/x"));
    assert_false(can_sub(a, "c", "u", "secret/#"));
    assert_false(can_sub(a, "c", "u", "secret/+"));
    assert_false(can_sub(a, "c", "u", "secret"));
    assert_false(can_read(a, "c", "u", "secret/x")); /* the '#' subscriber does not get it */
    acl_free(a);
    a = parse("pattern read devices/%c/#\n");
    assert_true(can_sub(a, "d1", NULL, "devices/d1/#"));
    assert_true(can_sub(a, "d1", NULL, "devices/d1/+/t"));
    assert_false(can_sub(a, "d1", NULL, "devices/+/#"));
    assert_false(can_sub(a, "d1", NULL, "devices/#"));
    acl_free(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_accepts_mosquitto_syntax),
        cmocka_unit_test(test_errors_name_file_and_line),
        cmocka_unit_test(test_errors_on_sizes),
        cmocka_unit_test(test_load_from_file),
        cmocka_unit_test(test_sections_and_access),
        cmocka_unit_test(test_deny_precedence),
        cmocka_unit_test(test_repeated_user_merges),
        cmocka_unit_test(test_rule_wildcards),
        cmocka_unit_test(test_pattern_substitution),
        cmocka_unit_test(test_wildcards_in_ids_never_widen),
        cmocka_unit_test(test_dollar_topics),
        cmocka_unit_test(test_subscribe_filters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
