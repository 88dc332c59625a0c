#include "auth/passwd.h"

#include <argon2.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <mbedtls/base64.h>
#include <mbedtls/md.h>
#include <mbedtls/pkcs5.h>
#include <mbedtls/platform_util.h>
#include <mbedtls/sha512.h>

#define DIGEST_LEN 64    /* SHA-512, and the PBKDF2 output Mosquitto writes */
#define MAX_SALT_LEN 128 /* Mosquitto 2.1 writes 64 bytes; leave room */
#define HASH7_SALT_LEN 12

enum kind {
    KIND_SHA512, /* $6$: SHA-512(password || salt), Mosquitto 1.x */
    KIND_PBKDF2, /* $7$: PBKDF2-HMAC-SHA512, Mosquitto 2.x */
    KIND_ARGON2, /* $argon2id$: checked by libargon2 from the string */
};

struct entry {
    uint8_t *user;
    size_t ulen;
    unsigned line; /* in the file, for duplicate errors and the dummy */
    enum kind kind;
    unsigned iterations;
    size_t salt_len;
    uint8_t salt[MAX_SALT_LEN];
    uint8_t hash[DIGEST_LEN];
    char *encoded; /* the whole $argon2id$ string, for argon2id_verify */
};

struct passwd_db {
    struct entry *entries; /* sorted by user name for bsearch */
    size_t count;
    size_t dummy; /* the entry unknown users are checked against */
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- hashing ---------------------------------------------------------- */

/* No early exit: the time taken does not depend on where they differ. */
static bool equal_ct(const uint8_t *a, const uint8_t *b, size_t n)
{
    uint8_t diff = 0;
    for (size_t i = 0; i < n; i++)
        diff |= a[i] ^ b[i];
    return diff == 0;
}

static int pbkdf2_sha512(const uint8_t *pw, size_t pwlen, const uint8_t *salt, size_t slen,
                         unsigned iterations, uint8_t out[DIGEST_LEN])
{
    mbedtls_md_context_t md;
    mbedtls_md_init(&md);
    int rc = mbedtls_md_setup(&md, mbedtls_md_info_from_type(MBEDTLS_MD_SHA512), 1);
    if (rc == 0)
        rc = mbedtls_pkcs5_pbkdf2_hmac(&md, pw, pwlen, salt, slen, iterations, DIGEST_LEN, out);
    mbedtls_md_free(&md);
    return rc;
}

static int sha512_salted(const uint8_t *pw, size_t pwlen, const uint8_t *salt, size_t slen,
                         uint8_t out[DIGEST_LEN])
{
    mbedtls_sha512_context ctx;
    mbedtls_sha512_init(&ctx);
    int rc = mbedtls_sha512_starts_ret(&ctx, 0);
    if (rc == 0) rc = mbedtls_sha512_update_ret(&ctx, pw, pwlen);
    if (rc == 0) rc = mbedtls_sha512_update_ret(&ctx, salt, slen);
    if (rc == 0) rc = mbedtls_sha512_finish_ret(&ctx, out);
    mbedtls_sha512_free(&ctx);
    return rc;
}

static bool entry_matches(const struct entry *e, const uint8_t *pw, size_t pwlen)
{
    uint8_t digest[DIGEST_LEN];
    int rc;
    switch (e->kind) {
    case KIND_SHA512:
        rc = sha512_salted(pw, pwlen, e->salt, e->salt_len, digest);
        break;
    case KIND_PBKDF2:
        rc = pbkdf2_sha512(pw, pwlen, e->salt, e->salt_len, e->iterations, digest);
        break;
    case KIND_ARGON2:
        if (pwlen > UINT32_MAX) return false;
        return argon2id_verify(e->encoded, pw, pwlen) == ARGON2_OK;
    default:
        return false;
    }
    bool ok = rc == 0 && equal_ct(digest, e->hash, DIGEST_LEN);
    mbedtls_platform_zeroize(digest, sizeof digest);
    return ok;
}

/* ---- parsing one line ------------------------------------------------- */

/* A decimal number of at most 10 digits; *out is clipped above UINT32_MAX so
 * that the caller reports "above the maximum" rather than wrapping. */
static bool parse_uint(const char **p, const char *end, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    while (s < end && *s >= '0' && *s <= '9') {
        if (v <= UINT32_MAX) v = v * 10 + (uint64_t)(*s - '0');
        s++;
    }
    if (s == *p) return false;
    *out = v > UINT32_MAX ? (uint64_t)UINT32_MAX + 1 : v;
    *p = s;
    return true;
}

static bool decode_b64(const char *s, size_t slen, uint8_t *out, size_t cap, size_t *outlen)
{
    if (slen == 0) return false;
    return mbedtls_base64_decode(out, cap, outlen, (const unsigned char *)s, slen) == 0 &&
           *outlen > 0;
}

/* "SALT$HASH" to the end of the line, both base64; the hash is 64 bytes. */
static bool parse_salt_hash(const char *p, const char *end, struct entry *e)
{
    const char *dollar = memchr(p, '$', (size_t)(end - p));
    if (!dollar) return false;
    size_t hlen;
    return decode_b64(p, (size_t)(dollar - p), e->salt, sizeof e->salt, &e->salt_len) &&
           decode_b64(dollar + 1, (size_t)(end - dollar - 1), e->hash, sizeof e->hash, &hlen) &&
           hlen == DIGEST_LEN;
}

static const char *parse_pbkdf2(const char *p, const char *end, struct entry *e)
{
    static char why[96];
    uint64_t iter;
    if (!parse_uint(&p, end, &iter) || iter == 0 || p == end || *p != '$')
        return "bad $7$ hash: expected $7$ITERATIONS$SALT$HASH";
    if (iter > PASSWD_MAX_ITERATIONS) {
        snprintf(why, sizeof why, "iteration count %llu above the maximum %u",
                 (unsigned long long)iter, PASSWD_MAX_ITERATIONS);
        return why;
    }
    e->kind = KIND_PBKDF2;
    e->iterations = (unsigned)iter;
    if (!parse_salt_hash(p + 1, end, e))
        return "bad $7$ hash: expected $7$ITERATIONS$SALT$HASH in base64, 64-byte hash";
    return NULL;
}

/* One "NAME=NUMBER" of an argon2 parameter list. */
static bool parse_param(const char **p, const char *end, const char *name, uint64_t *out)
{
    size_t n = strlen(name);
    if ((size_t)(end - *p) < n || memcmp(*p, name, n) != 0) return false;
    *p += n;
    return parse_uint(p, end, out);
}

/* argon2's unpadded base64, at least min bytes long once decoded. */
static bool is_b64_field(const char *s, const char *end, size_t min)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t n = (size_t)(end - s);
    for (size_t i = 0; i < n; i++)
        if (!s[i] || !strchr(alphabet, s[i])) return false;
    return n % 4 != 1 && n * 3 / 4 >= min;
}

/* "$argon2id$[v=19$]m=M,t=T,p=P$SALT$HASH": the parameters are checked here
 * so that a costly line is refused at load, the rest by libargon2 at check
 * time (its decoder is not public), after a shape check here. */
static const char *parse_argon2(const char *line, const char *end, struct entry *e)
{
    static char why[96];
    const char *bad = "bad $argon2id$ hash: expected $argon2id$v=19$m=M,t=T,p=P$SALT$HASH";
    const char *p = line + strlen("$argon2id$");
    uint64_t v = 19, m, t, lanes;
    if (parse_param(&p, end, "v=", &v) && (p == end || *p++ != '$')) return bad;
    if (v != 19 && v != 16) return bad;
    if (!parse_param(&p, end, "m=", &m) || p == end || *p++ != ',' ||
        !parse_param(&p, end, "t=", &t) || p == end || *p++ != ',' ||
        !parse_param(&p, end, "p=", &lanes) || p == end || *p++ != '$')
        return bad;
    if (m > PASSWD_MAX_ARGON2_MEMORY_KIB || t > PASSWD_MAX_ARGON2_PASSES ||
        lanes > PASSWD_MAX_ARGON2_LANES || m * t > PASSWD_MAX_ARGON2_WORK_KIB) {
        snprintf(why, sizeof why, "argon2id cost above the maximum m=%u,t=%u,p=%u,m*t=%u",
                 PASSWD_MAX_ARGON2_MEMORY_KIB, PASSWD_MAX_ARGON2_PASSES, PASSWD_MAX_ARGON2_LANES,
                 PASSWD_MAX_ARGON2_WORK_KIB);
        return why;
    }
    if (t == 0 || lanes == 0 || m < 8 * lanes) return bad;
    const char *dollar = memchr(p, '$', (size_t)(end - p));
    if (!dollar || !is_b64_field(p, dollar, ARGON2_MIN_SALT_LENGTH) ||
        !is_b64_field(dollar + 1, end, ARGON2_MIN_OUTLEN))
        return bad;
    e->kind = KIND_ARGON2;
    e->encoded = strndup(line, (size_t)(end - line));
    return e->encoded ? NULL : "out of memory";
}

static bool has_prefix(const char *p, const char *end, const char *prefix)
{
    size_t n = strlen(prefix);
    return (size_t)(end - p) >= n && memcmp(p, prefix, n) == 0;
}

/* Fills e from "user:hash"; returns NULL or why the line is refused. */
static const char *parse_line(const char *line, size_t len, struct entry *e)
{
    const char *end = line + len;
    const char *colon = memchr(line, ':', len);
    if (!colon) return "expected user:$7$...";
    if (colon == line) return "empty user name";
    const char *h = colon + 1, *why;
    if (has_prefix(h, end, "$6$")) {
        e->kind = KIND_SHA512;
        why = parse_salt_hash(h + 3, end, e) ? NULL
                                             : "bad $6$ hash: expected $6$SALT$HASH in base64, "
                                               "64-byte hash";
    } else if (has_prefix(h, end, "$7$")) {
        why = parse_pbkdf2(h + 3, end, e);
    } else if (has_prefix(h, end, "$argon2id$")) {
        why = parse_argon2(h, end, e);
    } else {
        why = "expected user:$7$... (a plain-text password? hash the file first)";
    }
    if (why) return why;
    e->ulen = (size_t)(colon - line);
    e->user = malloc(e->ulen);
    if (!e->user) return "out of memory";
    memcpy(e->user, line, e->ulen);
    return NULL;
}

/* ---- the table -------------------------------------------------------- */

static int cmp_user(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0; /* a may be NULL when alen is 0 */
    if (c) return c;
    return alen < blen ? -1 : alen > blen;
}

static int cmp_entries(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    return cmp_user(x->user, x->ulen, y->user, y->ulen);
}

static void entry_free(struct entry *e)
{
    free(e->user);
    free(e->encoded);
    mbedtls_platform_zeroize(e, sizeof *e);
}

void passwd_free(struct passwd_db *db)
{
    if (!db) return;
    for (size_t i = 0; i < db->count; i++)
        entry_free(&db->entries[i]);
    free(db->entries);
    free(db);
}

size_t passwd_count(const struct passwd_db *db)
{
    return db ? db->count : 0;
}

static bool is_blank(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (s[i] != ' ' && s[i] != '\t') return false;
    return true;
}

static bool push_entry(struct passwd_db *db, size_t *cap, const struct entry *e)
{
    if (db->count == *cap) {
        size_t ncap = *cap ? *cap * 2 : 16;
        struct entry *n = realloc(db->entries, ncap * sizeof *n);
        if (!n) return false;
        db->entries = n;
        *cap = ncap;
    }
    db->entries[db->count++] = *e;
    return true;
}

/* Reads every line into db; 0, or -1 with err set. */
static int read_lines(FILE *f, const char *path, struct passwd_db *db, char *err, size_t errlen)
{
    char *buf = NULL;
    size_t bufcap = 0, cap = 0;
    ssize_t got;
    unsigned lineno = 0;
    int rc = 0;
    while (rc == 0 && (got = getline(&buf, &bufcap, f)) >= 0) {
        size_t len = (size_t)got;
        lineno++;
        while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
            len--;
        if (memchr(buf, '\0', len)) {
            set_err(err, errlen, "%s:%u: NUL byte in line", path, lineno);
            rc = -1;
            break;
        }
        if (len == 0 || buf[0] == '#' || is_blank(buf, len)) continue;
        struct entry e = {.line = lineno};
        const char *why = parse_line(buf, len, &e);
        if (!why && !push_entry(db, &cap, &e)) why = "out of memory";
        if (why) {
            entry_free(&e);
            set_err(err, errlen, "%s:%u: %s", path, lineno, why);
            rc = -1;
        }
    }
    if (rc == 0 && ferror(f)) {
        set_err(err, errlen, "%s: read error: %s", path, strerror(errno));
        rc = -1;
    }
    free(buf);
    return rc;
}

/* Sorts for lookup; refuses a user named twice (which entry should win is
 * not obvious to whoever edited the file, so say so instead of guessing).
 * Picks the first line of the file as the dummy: a typical cost. */
static int index_entries(struct passwd_db *db, const char *path, char *err, size_t errlen)
{
    if (db->count == 0) return 0; /* entries is NULL: not even qsort may see it */
    qsort(db->entries, db->count, sizeof *db->entries, cmp_entries);
    for (size_t i = 0; i < db->count; i++) {
        const struct entry *e = &db->entries[i];
        if (i > 0 && cmp_entries(e - 1, e) == 0) {
            unsigned a = e[-1].line, b = e->line;
            set_err(err, errlen, "%s:%u: duplicate user (also on line %u)", path, a > b ? a : b,
                    a > b ? b : a);
            return -1;
        }
        if (e->line < db->entries[db->dummy].line) db->dummy = i;
    }
    return 0;
}

struct passwd_db *passwd_load(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        set_err(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct passwd_db *db = calloc(1, sizeof *db);
    if (!db) {
        set_err(err, errlen, "%s: out of memory", path);
        fclose(f);
        return NULL;
    }
    int rc = read_lines(f, path, db, err, errlen);
    fclose(f);
    if (rc == 0) rc = index_entries(db, path, err, errlen);
    if (rc != 0) {
        passwd_free(db);
        return NULL;
    }
    return db;
}

enum passwd_result passwd_check(const struct passwd_db *db, const uint8_t *user, size_t ulen,
                                const uint8_t *pw, size_t pwlen)
{
    if (!db || db->count == 0) return PASSWD_BAD;
    if (!pw) pw = (const uint8_t *)"";
    size_t lo = 0, hi = db->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        const struct entry *e = &db->entries[mid];
        int c = cmp_user(user, ulen, e->user, e->ulen);
        if (c == 0) return entry_matches(e, pw, pwlen) ? PASSWD_OK : PASSWD_BAD;
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    /* Unknown user: spend the time a wrong password would, then refuse even
     * if the password happens to be the dummy entry's. */
    (void)entry_matches(&db->entries[db->dummy], pw, pwlen);
    return PASSWD_BAD;
}

/* ---- making hashes ---------------------------------------------------- */

static bool random_bytes(uint8_t *buf, size_t n)
{
    while (n > 0) {
        ssize_t got = getrandom(buf, n, 0);
        if (got < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        buf += got;
        n -= (size_t)got;
    }
    return true;
}

int passwd_hash7(const uint8_t *pw, size_t len, unsigned iterations, char *out, size_t outlen)
{
    if (iterations == 0 || iterations > PASSWD_MAX_ITERATIONS) return -1;
    if (!pw) pw = (const uint8_t *)"";
    uint8_t salt[HASH7_SALT_LEN], digest[DIGEST_LEN];
    unsigned char salt64[32], hash64[96];
    size_t n;
    if (!random_bytes(salt, sizeof salt)) return -1;
    int rc = pbkdf2_sha512(pw, len, salt, sizeof salt, iterations, digest);
    if (rc == 0) rc = mbedtls_base64_encode(salt64, sizeof salt64, &n, salt, sizeof salt);
    if (rc == 0) rc = mbedtls_base64_encode(hash64, sizeof hash64, &n, digest, sizeof digest);
    mbedtls_platform_zeroize(digest, sizeof digest);
    if (rc != 0) return -1;
    int w = snprintf(out, outlen, "$7$%u$%s$%s", iterations, salt64, hash64);
    return w > 0 && (size_t)w < outlen ? 0 : -1;
}
