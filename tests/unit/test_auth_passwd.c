/* auth/passwd: Mosquitto password files of every format, read and checked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <argon2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth/passwd.h"

#define MOSQUITTO_PASSWD "/usr/bin/mosquitto_passwd"

/* Fixed vectors, made once with Python's hashlib, independently of the code
 * under test:
 *   salt = bytes(range(1, 13))
 *   "$6$" + b64(salt) + "$" + b64(sha512(b"sesame" + salt))
 *   salt = bytes((i*7+3) & 255 for i in range(64))     (2.1's 64-byte salt)
 *   "$7$1000$" + b64(salt) + "$" + b64(pbkdf2_hmac("sha512", b"correct horse", salt, 1000, 64))
 *   salt = b"twelve bytes"                              (2.0's 12-byte salt)
 *   "$7$101$" + b64(salt) + "$" + b64(pbkdf2_hmac("sha512", b"", salt, 101, 64))
 * and with Debian's argon2 command:
 *   echo -n "battery staple" | argon2 starlingsalt16b -id -t 2 -m 12 -p 1 -e */
#define V6                                                                                         \
    "$6$AQIDBAUGBwgJCgsM$Rn+KLkn4sTlhlIRNbhmm0OCZUV5VNRpgVdWWvGaK2C+1scUDZVgYtugAo5/"              \
    "nzbKdscmrRgAsCajZqqvxtUIVgA=="
#define V7                                                                                         \
    "$7$1000$AwoRGB8mLTQ7QklQV15lbHN6gYiPlp2kq7K5wMfO1dzj6vH4/"                                    \
    "wYNFBsiKTA3PkVMU1phaG92fYSLkpmgp661vA==$"                                                     \
    "N17jwK067lLXQyX6yjsmZhSCnBj2CQaNjvC1lxN9kWTQEVYJPpUIrvgM4vbQ5kVk1mld+flS36YIUYI+cc0Naw=="
#define V7_EMPTY                                                                                   \
    "$7$101$dHdlbHZlIGJ5dGVz$m/FwKeJsr9WGQLiraQq7P8lG5aD67oJm/"                                    \
    "5AcTxxUyqHZ+23tDUrpEem4YY5wGWRYsBD83zhaVq6qEu+ZhONl0g=="
#define VARGON                                                                                     \
    "$argon2id$v=19$m=4096,t=2,p=1$c3RhcmxpbmdzYWx0MTZi$"                                          \
    "V5AC9pGQTkAkO8fy5D7fLIwvxAPrryamZP7GI3K8a6U"

struct fixture {
    char dir[64];
    char path[96];
    char err[256];
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    if (!fx) return -1;
    strcpy(fx->dir, "/tmp/starling-passwd-XXXXXX");
    if (!mkdtemp(fx->dir)) return -1;
    snprintf(fx->path, sizeof fx->path, "%s/pwfile", fx->dir);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    unlink(fx->path);
    rmdir(fx->dir);
    free(fx);
    return 0;
}

static void write_file(const struct fixture *fx, const char *text)
{
    FILE *f = fopen(fx->path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(text, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static struct passwd_db *load_text(struct fixture *fx, const char *text)
{
    write_file(fx, text);
    fx->err[0] = '\0';
    return passwd_load(fx->path, fx->err, sizeof fx->err);
}

static enum passwd_result check(const struct passwd_db *db, const char *user, const char *pw)
{
    return passwd_check(db, (const uint8_t *)user, strlen(user), (const uint8_t *)pw, strlen(pw));
}

static void test_mosquitto_passwd_file(void **state)
{
    struct fixture *fx = *state;
    if (access(MOSQUITTO_PASSWD, X_OK) != 0) skip();
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             MOSQUITTO_PASSWD " -b -c %s alice apple && " MOSQUITTO_PASSWD
                              " -b %s bob banana && " MOSQUITTO_PASSWD
                              " -b %s carol 'two words' >/dev/null 2>&1",
             fx->path, fx->path, fx->path);
    assert_int_equal(system(cmd), 0);

    struct passwd_db *db = passwd_load(fx->path, fx->err, sizeof fx->err);
    assert_non_null(db);
    assert_int_equal(passwd_count(db), 3);
    assert_int_equal(check(db, "alice", "apple"), PASSWD_OK);
    assert_int_equal(check(db, "bob", "banana"), PASSWD_OK);
    assert_int_equal(check(db, "carol", "two words"), PASSWD_OK);
    assert_int_equal(check(db, "alice", "banana"), PASSWD_BAD);
    assert_int_equal(check(db, "bob", "banan"), PASSWD_BAD);
    assert_int_equal(check(db, "carol", ""), PASSWD_BAD);
    assert_int_equal(check(db, "dave", "apple"), PASSWD_BAD);
    assert_int_equal(check(db, "alic", "apple"), PASSWD_BAD);
    assert_int_equal(check(db, "alicee", "apple"), PASSWD_BAD);
    passwd_free(db);
}

static void test_fixed_vectors(void **state)
{
    struct fixture *fx = *state;
    struct passwd_db *db = load_text(fx, "old:" V6 "\n"
                                         "new:" V7 "\n"
                                         "empty:" V7_EMPTY "\n"
                                         "argon:" VARGON "\n");
    assert_non_null(db);
    assert_int_equal(passwd_count(db), 4);
    assert_int_equal(check(db, "old", "sesame"), PASSWD_OK);
    assert_int_equal(check(db, "old", "Sesame"), PASSWD_BAD);
    assert_int_equal(check(db, "new", "correct horse"), PASSWD_OK);
    assert_int_equal(check(db, "new", "correct horse "), PASSWD_BAD);
    assert_int_equal(check(db, "empty", ""), PASSWD_OK);
    assert_int_equal(passwd_check(db, (const uint8_t *)"empty", 5, NULL, 0), PASSWD_OK);
    assert_int_equal(check(db, "empty", "x"), PASSWD_BAD);
    assert_int_equal(check(db, "argon", "battery staple"), PASSWD_OK);
    assert_int_equal(check(db, "argon", "battery stapl"), PASSWD_BAD);
    assert_int_equal(check(db, "new", "sesame"), PASSWD_BAD);
    passwd_free(db);
}

static void test_argon2_from_library(void **state)
{
    struct fixture *fx = *state;
    const char *pw = "hunter2";
    const uint8_t salt[16] = "0123456789abcdef";
    char encoded[160], line[200];
    assert_int_equal(argon2id_hash_encoded(1, 1024, 1, pw, strlen(pw), salt, sizeof salt, 32,
                                           encoded, sizeof encoded),
                     ARGON2_OK);
    snprintf(line, sizeof line, "zoe:%s\n", encoded);
    struct passwd_db *db = load_text(fx, line);
    assert_non_null(db);
    assert_int_equal(check(db, "zoe", "hunter2"), PASSWD_OK);
    assert_int_equal(check(db, "zoe", "hunter3"), PASSWD_BAD);
    passwd_free(db);
}

static void test_comments_blank_crlf(void **state)
{
    struct fixture *fx = *state;
    struct passwd_db *db = load_text(fx, "# made by hand\r\n"
                                         "\r\n"
                                         "\n"
                                         "   \t\n"
                                         "old:" V6 "\r\n"
                                         "#new:" V7 "\n"
                                         "new:" V7); /* no final newline */
    assert_non_null(db);
    assert_int_equal(passwd_count(db), 2);
    assert_int_equal(check(db, "old", "sesame"), PASSWD_OK);
    assert_int_equal(check(db, "new", "correct horse"), PASSWD_OK);
    assert_int_equal(check(db, "#new", "correct horse"), PASSWD_BAD);
    passwd_free(db);
}

/* Each bad line, third in a file, is refused with "FILE:3: " and why. */
static void test_malformed_lines(void **state)
{
    struct fixture *fx = *state;
    static const struct {
        const char *line;
        const char *why;
    } cases[] = {
        {"alice", "expected user:$7$"},
        {":" V7, "empty user name"},
        {"alice:secret", "plain-text"},
        {"alice:$5$abc$def", "expected user:$7$"},
        {"alice:$6$AQIDBAUGBwgJCgsM", "bad $6$"},
        {"alice:$6$AQIDBAUGBwgJCgsM$c2hvcnQ=", "bad $6$"},
        {"alice:$6$$"
         "Rn+KLkn4sTlhlIRNbhmm0OCZUV5VNRpgVdWWvGaK2C+1scUDZVgYtugAo5/nzbKdscmrRgAsCajZqqvxtUIVgA==",
         "bad $6$"},
        {"alice:$7$0$dHdlbHZlIGJ5dGVz$c2hvcnQ=", "bad $7$"},
        {"alice:$7$x$dHdlbHZlIGJ5dGVz$c2hvcnQ=", "bad $7$"},
        {"alice:$7$101$dHdlbHZlIGJ5dGVz$c2hvcnQ=", "bad $7$"},
        {"alice:$7$101$!!!!$c2hvcnQ=", "bad $7$"},
        {"alice:$7$2000000$dHdlbHZlIGJ5dGVz$c2hvcnQ=",
         "iteration count 2000000 above the maximum 100000"},
        {"alice:$7$99999999999999$dHdlbHZlIGJ5dGVz$c2hvcnQ=", "above the maximum"},
        {"alice:$argon2id$v=19$m=1048576,t=2,p=1$c3RhcmxpbmdzYWx0MTZi$V5AC9pGQTkAkO8fy5D7fLI",
         "argon2id cost above"},
        {"alice:$argon2id$v=19$m=65536,t=3,p=1$c3RhcmxpbmdzYWx0MTZi$V5AC9pGQTkAkO8fy5D7fLI",
         "argon2id cost above"},
        {"alice:$argon2id$v=19$m=4096,t=100,p=1$c3RhcmxpbmdzYWx0MTZi$V5AC9pGQTkAkO8fy5D7fLI",
         "argon2id cost above"},
        {"alice:$argon2id$v=19$m=4096,t=2$c3RhcmxpbmdzYWx0MTZi$V5AC9pGQTkAkO8fy5D7fLI",
         "bad $argon2id$"},
        {"alice:$argon2id$v=19$m=4096,t=2,p=1$c3RhcmxpbmdzYWx0MTZi", "bad $argon2id$"},
        {"alice:$argon2id$v=19$m=4096,t=2,p=1$c3Rh!mxpbmdzYWx0MTZi$V5AC9pGQTkAkO8fy5D7fLI",
         "bad $argon2id$"},
        {"alice:$argon2id$v=7$m=4096,t=2,p=1$c3RhcmxpbmdzYWx0MTZi$V5AC9pGQTkAkO8fy5D7fLI",
         "bad $argon2id$"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[512], want[160];
        snprintf(text, sizeof text, "# users\nold:%s\n%s\nnew:%s\n", V6, cases[i].line, V7);
        struct passwd_db *db = load_text(fx, text);
        if (db) fail_msg("line accepted: %s", cases[i].line);
        snprintf(want, sizeof want, "%s:3: ", fx->path);
        if (strncmp(fx->err, want, strlen(want)) != 0 || !strstr(fx->err, cases[i].why))
            fail_msg("for %s: got \"%s\", want \"%s...%s\"", cases[i].line, fx->err, want,
                     cases[i].why);
        assert_null(strchr(fx->err, '\n'));
    }
}

/* The limits themselves are accepted (loading does not hash). */
static void test_limits_accepted(void **state)
{
    struct fixture *fx = *state;
    struct passwd_db *db = load_text(
        fx, "a:$7$100000$dHdlbHZlIGJ5dGVz$m/FwKeJsr9WGQLiraQq7P8lG5aD67oJm/"
            "5AcTxxUyqHZ+23tDUrpEem4YY5wGWRYsBD83zhaVq6qEu+ZhONl0g==\n"
            "b:$argon2id$v=19$m=65536,t=2,p=16$c3RhcmxpbmdzYWx0MTZi$V5AC9pGQTkAkO8fy5D7fLI\n"
            "c:$argon2id$m=4096,t=2,p=1$c3RhcmxpbmdzYWx0MTZi$V5AC9pGQTkAkO8fy5D7fLI\n");
    if (!db) fail_msg("%s", fx->err);
    assert_int_equal(passwd_count(db), 3);
    passwd_free(db);
}

static void test_nul_byte_refused(void **state)
{
    struct fixture *fx = *state;
    FILE *f = fopen(fx->path, "w");
    assert_non_null(f);
    fwrite("a:$6$\0x\n", 1, 8, f);
    fclose(f);
    assert_null(passwd_load(fx->path, fx->err, sizeof fx->err));
    assert_non_null(strstr(fx->err, ":1: "));
}

static void test_duplicate_user(void **state)
{
    struct fixture *fx = *state;
    struct passwd_db *db = load_text(fx, "alice:" V6 "\nbob:" V7 "\n\nalice:" V7 "\n");
    assert_null(db);
    char want[160];
    snprintf(want, sizeof want, "%s:4: duplicate user (also on line 1)", fx->path);
    assert_string_equal(fx->err, want);
}

static void test_missing_file(void **state)
{
    struct fixture *fx = *state;
    assert_null(passwd_load(fx->path, fx->err, sizeof fx->err));
    assert_non_null(strstr(fx->err, fx->path));
    assert_null(passwd_load(fx->path, NULL, 0)); /* no room for a message: still fine */
}

/* An unknown user is refused even with the password of the entry whose cost
 * it borrows, and an empty file or no file knows nobody. */
static void test_unknown_user(void **state)
{
    struct fixture *fx = *state;
    struct passwd_db *db = load_text(fx, "new:" V7 "\n");
    assert_non_null(db);
    assert_int_equal(check(db, "zed", "correct horse"), PASSWD_BAD);
    assert_int_equal(check(db, "", "correct horse"), PASSWD_BAD);
    assert_int_equal(passwd_check(db, NULL, 0, NULL, 0), PASSWD_BAD);
    passwd_free(db);

    db = load_text(fx, "# nobody yet\n");
    assert_non_null(db);
    assert_int_equal(passwd_count(db), 0);
    assert_int_equal(check(db, "new", "correct horse"), PASSWD_BAD);
    passwd_free(db);
    assert_int_equal(check(NULL, "new", "correct horse"), PASSWD_BAD);
    assert_int_equal(passwd_count(NULL), 0);
    passwd_free(NULL);
}

/* "$7$ITER$SALT$HASH": 12-byte salt (16 base64 chars), 64-byte hash (88). */
static void assert_hash7_shape(const char *s, unsigned iterations)
{
    char prefix[32];
    snprintf(prefix, sizeof prefix, "$7$%u$", iterations);
    assert_int_equal(strncmp(s, prefix, strlen(prefix)), 0);
    const char *salt = s + strlen(prefix);
    const char *dollar = strchr(salt, '$');
    assert_non_null(dollar);
    assert_int_equal(dollar - salt, 16);
    assert_int_equal(strlen(dollar + 1), 88);
    assert_int_equal(
        strspn(salt, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/="), 16);
}

static void test_hash7_round_trip(void **state)
{
    struct fixture *fx = *state;
    const char *pw = "s3cret: with colon";
    char a[PASSWD_HASH7_MAX], b[PASSWD_HASH7_MAX], text[400];
    assert_int_equal(
        passwd_hash7((const uint8_t *)pw, strlen(pw), PASSWD_DEFAULT_ITERATIONS, a, sizeof a), 0);
    assert_int_equal(passwd_hash7((const uint8_t *)pw, strlen(pw), 101, b, sizeof b), 0);
    assert_hash7_shape(a, PASSWD_DEFAULT_ITERATIONS);
    assert_hash7_shape(b, 101);

    snprintf(text, sizeof text, "u1:%s\nu2:%s\n", a, b);
    struct passwd_db *db = load_text(fx, text);
    assert_non_null(db);
    assert_int_equal(check(db, "u1", pw), PASSWD_OK);
    assert_int_equal(check(db, "u2", pw), PASSWD_OK);
    assert_int_equal(check(db, "u1", "s3cret"), PASSWD_BAD);
    passwd_free(db);

    /* A random salt: the same password twice gives two strings. */
    assert_int_equal(passwd_hash7((const uint8_t *)pw, strlen(pw), 101, a, sizeof a), 0);
    assert_string_not_equal(a, b);

    assert_int_equal(passwd_hash7((const uint8_t *)pw, strlen(pw), 0, a, sizeof a), -1);
    assert_int_equal(
        passwd_hash7((const uint8_t *)pw, strlen(pw), PASSWD_MAX_ITERATIONS + 1, a, sizeof a), -1);
    assert_int_equal(passwd_hash7((const uint8_t *)pw, strlen(pw), 101, a, 100), -1);
}

/* The string Starling writes is read by Mosquitto's own tool: updating the
 * file keeps our line byte for byte, and a user it adds still loads here. */
static void test_hash7_file_mixed_with_mosquitto(void **state)
{
    struct fixture *fx = *state;
    if (access(MOSQUITTO_PASSWD, X_OK) != 0) skip();
    char h[PASSWD_HASH7_MAX], text[256], cmd[256];
    assert_int_equal(passwd_hash7((const uint8_t *)"ours", 4, 1000, h, sizeof h), 0);
    snprintf(text, sizeof text, "starling:%s\n", h);
    write_file(fx, text);
    snprintf(cmd, sizeof cmd, MOSQUITTO_PASSWD " -b %s mosq theirs >/dev/null 2>&1", fx->path);
    assert_int_equal(system(cmd), 0);
    struct passwd_db *db = passwd_load(fx->path, fx->err, sizeof fx->err);
    assert_non_null(db);
    assert_int_equal(passwd_count(db), 2);
    assert_int_equal(check(db, "starling", "ours"), PASSWD_OK);
    assert_int_equal(check(db, "mosq", "theirs"), PASSWD_OK);
    passwd_free(db);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mosquitto_passwd_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fixed_vectors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_argon2_from_library, setup, teardown),
        cmocka_unit_test_setup_teardown(test_comments_blank_crlf, setup, teardown),
        cmocka_unit_test_setup_teardown(test_malformed_lines, setup, teardown),
        cmocka_unit_test_setup_teardown(test_limits_accepted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_nul_byte_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_duplicate_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_unknown_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hash7_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hash7_file_mixed_with_mosquitto, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
