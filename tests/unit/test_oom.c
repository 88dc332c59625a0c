/* Out-of-memory paths, exercised rather than hoped for (the SQLite habit):
 * this binary is linked with malloc, calloc and realloc wrapped, so each
 * test can make the Nth allocation fail. Every operation is retried with
 * the failure at allocation 0, 1, 2, ... until it succeeds; each failed
 * attempt must report the failure, leave the structure as it was (checked
 * by behaviour) and leak nothing (checked by the sanitizer run). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/acl.h"
#include "broker/session/id_set.h"
#include "broker/route/msg.h"
#include "broker/net/outq.h"
#include "broker/route/retain.h"
#include "broker/session/session.h"
#include "broker/session/sub_index.h"
#include "broker/route/trie.h"
#include "broker/hash.h"
#include "broker/store/batch.h"
#include "config/config.h"
#include "broker/net/tls_ctx.h"

#include <mbedtls/net_sockets.h>

#include <sys/socket.h>
#include <unistd.h>

/* Tests hash under a fixed key, so a failure reproduces. */
static const struct hash_key test_key = {0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull};

/* -1: never fail; otherwise the number of allocations that still succeed. */
static long fail_after = -1;
static long failures;

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);

static int should_fail(void)
{
    if (fail_after < 0) return 0;
    if (fail_after == 0) {
        failures++;
        return 1;
    }
    fail_after--;
    return 0;
}

void *__wrap_malloc(size_t n)
{
    return should_fail() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return should_fail() ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t n)
{
    return should_fail() ? NULL : __real_realloc(p, n);
}

static void fail_at(long n)
{
    fail_after = n;
    failures = 0;
}

static void no_failures(void)
{
    fail_after = -1;
}

#define MAX_ATTEMPTS 200

static const uint8_t *u(const char *s)
{
    return (const uint8_t *)s;
}

static void count_match(void *ctx, void *sub, uint8_t qos)
{
    (void)sub;
    (void)qos;
    (*(int *)ctx)++;
}

static int matches(const struct trie *t, const char *topic)
{
    int n = 0;
    trie_match(t, u(topic), strlen(topic), count_match, &n);
    return n;
}

/* A deep new filter needs several nodes; failing any of them must leave no
 * half-built path: the trie still matches exactly what it did. */
static void trie_subscribe_survives_every_allocation_failure(void **state)
{
    (void)state;
    struct trie *t = trie_new(&test_key);
    assert_non_null(t);
    int subs[40];
    for (int i = 0; i < 40; i++) /* many subscribers: the node grows its index */
        assert_int_equal(trie_subscribe(t, u("a/b"), 3, &subs[i], 1), 1);
    const char *filter = "a/b/c/+/e/#";
    int ok = 0, failed = 0;
    for (long n = 0; n < MAX_ATTEMPTS && !ok; n++) {
        fail_at(n);
        int r = trie_subscribe(t, u(filter), strlen(filter), &subs[0], 2);
        no_failures();
        if (r < 0) {
            failed++;
            assert_true(failures > 0);
            assert_int_equal(trie_count(t), 40);
            assert_int_equal(matches(t, "a/b/c/d/e/f"), 0);
            assert_int_equal(matches(t, "a/b"), 40);
        } else {
            ok = 1;
        }
    }
    assert_true(ok);
    assert_true(failed >= 4); /* one per node of the new path, at least */
    assert_int_equal(matches(t, "a/b/c/d/e/f"), 1);
    assert_true(trie_unsubscribe(t, u(filter), strlen(filter), &subs[0]));
    trie_free(t);
}

static void count_retained(void *ctx, struct msg *m)
{
    (void)m;
    (*(int *)ctx)++;
}

static void retain_set_survives_every_allocation_failure(void **state)
{
    (void)state;
    struct retain_store *rs = retain_new(&test_key);
    assert_non_null(rs);
    struct msg *old = msg_new(u("x/y"), 3, u("1"), 1, 0, true);
    assert_int_equal(retain_set(rs, old), 0);
    struct msg *m = msg_new(u("p/q/r/s"), 7, u("v"), 1, 1, true);
    int ok = 0, failed = 0;
    for (long n = 0; n < MAX_ATTEMPTS && !ok; n++) {
        fail_at(n);
        int r = retain_set(rs, m);
        no_failures();
        if (r < 0) {
            failed++;
            assert_int_equal(retain_count(rs), 1);
            assert_int_equal(m->refs, 1); /* no reference taken on failure */
        } else {
            ok = 1;
        }
    }
    assert_true(ok);
    assert_true(failed >= 4);
    int seen = 0;
    retain_match(rs, u("#"), 1, count_retained, &seen);
    assert_int_equal(seen, 2);
    msg_unref(m);
    msg_unref(old);
    retain_free(rs);
}

/* A cursor that cannot be made is NULL; a retained publish that fails under
 * a node a cursor stands on (erased, kept only by the cursor) undoes itself
 * without freeing that node, and the walk then finds what finally got in. */
static void retain_cursor_survives_allocation_failures(void **state)
{
    (void)state;
    struct retain_store *rs = retain_new(&test_key);
    struct msg *b = msg_new(u("a/b"), 3, u("1"), 1, 0, true);
    struct msg *c = msg_new(u("a/c"), 3, u("1"), 1, 0, true);
    struct msg *erase = msg_new(u("a/b"), 3, u(""), 0, 0, true);
    struct msg *deep = msg_new(u("a/b/x/y"), 7, u("2"), 1, 0, true);
    assert_int_equal(retain_set(rs, b), 0);
    assert_int_equal(retain_set(rs, c), 0);
    fail_at(0);
    assert_null(retain_cursor_new(rs, u("a/#"), 3));
    no_failures();
    struct retain_cursor *cur = retain_cursor_new(rs, u("a/#"), 3);
    assert_non_null(cur);
    uint32_t budget = 100;
    struct msg *m;
    assert_int_equal(retain_cursor_next(cur, &budget, &m), RETAIN_MSG);
    assert_ptr_equal(m, c); /* newest first: the cursor now stands on a/b */
    assert_int_equal(retain_set(rs, erase), 0);
    int ok = 0, failed = 0;
    for (long n = 0; n < MAX_ATTEMPTS && !ok; n++) {
        fail_at(n);
        int r = retain_set(rs, deep);
        no_failures();
        if (r < 0)
            failed++;
        else
            ok = 1;
    }
    assert_true(ok && failed >= 2);
    budget = 100;
    assert_int_equal(retain_cursor_next(cur, &budget, &m), RETAIN_MSG);
    assert_ptr_equal(m, deep);
    assert_int_equal(retain_cursor_next(cur, &budget, &m), RETAIN_DONE);
    retain_cursor_free(cur);
    assert_int_equal(retain_count(rs), 2);
    retain_free(rs);
    msg_unref(b);
    msg_unref(c);
    msg_unref(erase);
    msg_unref(deep);
}

/* Session bookkeeping: a failed add changes nothing and takes no reference. */
static void session_survives_every_allocation_failure(void **state)
{
    (void)state;
    struct session *s = session_new(u("client"), 6, 0);
    assert_non_null(s);
    struct msg *m = msg_new(u("t"), 1, u("payload"), 7, 1, false);
    assert_non_null(m);
    for (int i = 0; i < 3; i++)
        assert_non_null(session_inflight_add(s, 20, m, 1, false));
    for (int i = 0; i < 4; i++)
        assert_int_equal(session_queue_push(s, m, 1, false, 100, 0), 0);
    assert_int_equal(m->refs, 8);

    int done_sub = 0, done_if = 0, done_q = 0, done_rx = 0;
    for (long n = 0; n < MAX_ATTEMPTS && !(done_sub && done_if && done_q && done_rx); n++) {
        uint32_t subs = session_sub_count(s), ifl = s->if_len, ql = s->q_len, rx = s->rx_qos2.n;
        uint32_t refs = m->refs;
        fail_at(n);
        if (!done_sub) done_sub = session_sub_set(s, &test_key, u("a/#"), 3, 1) == 1;
        if (!done_if) done_if = session_inflight_add(s, 20, m, 2, false) != NULL;
        if (!done_q) done_q = session_queue_push(s, m, 1, false, 100, 0) == 0;
        if (!done_rx) done_rx = session_rx_qos2_add(s, 77) == 1;
        no_failures();
        assert_int_equal(session_sub_count(s), subs + (done_sub && session_sub_count(s) != subs));
        assert_true(s->if_len == ifl || s->if_len == ifl + 1);
        assert_true(s->q_len == ql || s->q_len == ql + 1);
        assert_true(s->rx_qos2.n == rx || s->rx_qos2.n == rx + 1);
        /* exactly one reference per entry that was really added */
        assert_int_equal(m->refs, refs + (s->if_len - ifl) + (s->q_len - ql));
    }
    assert_true(done_sub && done_if && done_q && done_rx);
    assert_int_equal(session_sub_count(s), 1);
    assert_int_equal(s->if_len, 4);
    assert_int_equal(s->q_len, 5);
    session_free(s);
    assert_int_equal(m->refs, 1);
    msg_unref(m);
}

static int index_qos(const struct sub_index *x, const char *f)
{
    const struct sub_filter *e = sub_index_find(x, &test_key, u(f), strlen(f));
    return e ? e->qos : -1;
}

/* A session's filter set: a failed add (growing the table or copying the
 * filter) leaves every filter as it was and adds nothing; a remove whose
 * shrink cannot allocate still removes, and the rest stay found. */
static void sub_index_survives_every_allocation_failure(void **state)
{
    (void)state;
    struct sub_index x = {0};
    char f[16];
    for (int i = 0; i < 3; i++) { /* the next add grows the 4-slot table */
        snprintf(f, sizeof(f), "f/%d", i);
        assert_int_equal(sub_index_set(&x, &test_key, u(f), strlen(f), 1), 1);
    }
    int ok = 0, failed = 0;
    for (long n = 0; n < MAX_ATTEMPTS && !ok; n++) {
        fail_at(n);
        int r = sub_index_set(&x, &test_key, u("new/#"), 5, 2);
        no_failures();
        if (r < 0) {
            failed++;
            assert_int_equal(x.count, 3);
            assert_int_equal(index_qos(&x, "new/#"), -1);
        } else {
            assert_int_equal(r, 1);
            ok = 1;
        }
        for (int i = 0; i < 3; i++) {
            snprintf(f, sizeof(f), "f/%d", i);
            assert_int_equal(index_qos(&x, f), 1);
        }
    }
    assert_true(ok);
    assert_int_equal(failed, 2); /* the table, then the filter copy */
    assert_int_equal(index_qos(&x, "new/#"), 2);

    for (int i = 3; i < 64; i++) {
        snprintf(f, sizeof(f), "f/%d", i);
        assert_int_equal(sub_index_set(&x, &test_key, u(f), strlen(f), 0), 1);
    }
    fail_at(0); /* every shrink on the way down fails */
    for (int i = 0; i < 60; i++) {
        snprintf(f, sizeof(f), "f/%d", i);
        assert_true(sub_index_remove(&x, &test_key, u(f), strlen(f)));
    }
    no_failures();
    assert_true(failures > 0);
    assert_int_equal(x.count, 5);
    assert_int_equal(index_qos(&x, "f/0"), -1);
    for (int i = 60; i < 64; i++) {
        snprintf(f, sizeof(f), "f/%d", i);
        assert_int_equal(index_qos(&x, f), 0);
    }
    assert_int_equal(index_qos(&x, "new/#"), 2);
    sub_index_free(&x);
}

/* A failed output append keeps what was queued before, byte for byte, and
 * the owner's memory counter stays exact. */
static void outq_survives_every_allocation_failure(void **state)
{
    (void)state;
    uint64_t total = 0;
    struct outq q = {.total = &total};
    assert_int_equal(outq_put_bytes(&q, "head", 4), 0);
    struct msg *m = msg_new(u("t"), 1, u("payload"), 7, 0, false);
    int ok = 0, failed = 0;
    for (long n = 0; n < MAX_ATTEMPTS && !ok; n++) {
        size_t before = q.bytes;
        uint32_t refs = m->refs;
        fail_at(n);
        static uint8_t big[5000];
        int r = outq_put_bytes(&q, big, sizeof big);
        if (r == 0) r = outq_put_msg(&q, m, 0, 10);
        no_failures();
        assert_int_equal(total, outq_mem(&q));
        if (r < 0) {
            failed++;
            assert_true(q.bytes == before || q.bytes == before + sizeof big);
            assert_true(m->refs == refs);
        } else {
            ok = 1;
        }
    }
    assert_true(ok);
    assert_true(failed > 0);
    assert_true(q.bytes >= 4 + 5000 + 10);
    outq_clear(&q);
    assert_int_equal(total, 0);
    assert_int_equal(m->refs, 1);
    msg_unref(m);
}

/* The configuration parser: any allocation failure is an error message,
 * never a crash, and leaves the target untouched. */
static void config_parse_survives_every_allocation_failure(void **state)
{
    (void)state;
    const char *json = "{\"listeners\": [{\"bind\": \"::1\", \"port\": 1884}],"
                       " \"limits\": {\"max_inflight\": 7}, \"log\": {\"level\": \"debug\"}}";
    /* cJSON is a shared library: route its allocations through the wrapper. */
    cJSON_Hooks hooks = {__wrap_malloc, free};
    cJSON_InitHooks(&hooks);
    int ok = 0, failed = 0;
    for (long n = 0; n < MAX_ATTEMPTS && !ok; n++) {
        struct config c;
        config_defaults(&c);
        char err[CONFIG_ERR_MAX] = "";
        fail_at(n);
        int r = config_parse(&c, "oom.json", json, err, sizeof err);
        no_failures();
        if (r < 0) {
            failed++;
            assert_true(err[0] != '\0');
            assert_int_equal(c.limits.max_inflight, 20);
        } else {
            ok = 1;
            assert_int_equal(c.limits.max_inflight, 7);
        }
    }
    cJSON_InitHooks(NULL);
    assert_true(ok);
    assert_true(failed > 0);
}

/* Growing the id array and turning it into the bit map may fail at any
 * allocation: the set is then unchanged and still answers correctly. */
static void id_set_survives_every_allocation_failure(void **state)
{
    (void)state;
    struct id_set s = {0};
    for (uint16_t id = 1; id <= 100; id++) {
        int added = -1;
        for (long n = 0; n < MAX_ATTEMPTS && added < 0; n++) {
            uint32_t held = s.n;
            fail_at(n);
            added = id_set_add(&s, id);
            no_failures();
            assert_int_equal(s.n, held + (added == 1 ? 1 : 0));
        }
        assert_int_equal(added, 1);
    }
    for (uint16_t id = 1; id <= 100; id++)
        assert_true(id_set_remove(&s, id));
    assert_null(s.p);
}

/* Recording a store op (the op array, a copied client id or topic, the
 * reference array) may fail at any allocation: the batch is then exactly
 * as before; compacting without memory drops nothing. */
static void batch_survives_every_allocation_failure(void **state)
{
    (void)state;
    struct batch bt = {0};
    struct msg *m = msg_new((const uint8_t *)"a/b", 3, (const uint8_t *)"payload", 7, 1, false);
    static const uint8_t big[20000]; /* a copy larger than one block */
    for (uint64_t i = 1; i <= 200; i++) {
        struct store_op op = {.type = STORE_SESSION_PUT,
                              .key = i,
                              .a = big,
                              .a_len = i % 50 == 0 ? sizeof big : 8,
                              .b = big,
                              .b_len = 4,
                              .has_user = true};
        int r = -1;
        for (long n = 0; n < MAX_ATTEMPTS && r < 0; n++) {
            size_t held = bt.n, refs = bt.n_refs;
            fail_at(n);
            r = batch_add(&bt, &op, true, true, i % 3 ? m : NULL);
            no_failures();
            assert_int_equal(bt.n, held + (r == 0));
            assert_int_equal(bt.n_refs, refs + (r == 0 && i % 3));
        }
        assert_int_equal(r, 0);
    }
    assert_int_equal(m->refs, 1 + bt.n_refs);
    fail_at(0);
    batch_compact(&bt); /* no table: nothing dropped */
    no_failures();
    assert_int_equal(bt.n, 200);
    batch_free(&bt);
    assert_int_equal(m->refs, 1);
    msg_unref(m);
}

/* Compiling an ACL (rule, level and section arrays, the user sort) may
 * fail at any allocation: then NULL with the reason, never a partial ACL;
 * the one that loads answers as it should. Setting a session's user name
 * may fail too, leaving the session as it was. */
static void acl_parse_survives_every_allocation_failure(void **state)
{
    (void)state;
    static const char text[] = "topic read pub/#\ntopic deny pub/secret\nuser bob\ntopic a/#\n"
                               "user alice\ntopic write a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s\n"
                               "user bob\ntopic b\npattern read d/%c/#\n";
    int ok = 0, failed = 0;
    for (long n = 0; n < MAX_ATTEMPTS && !ok; n++) {
        char err[128] = "";
        fail_at(n);
        struct acl *a = acl_parse(text, sizeof text - 1, "acl", err, sizeof err);
        no_failures();
        if (!a) {
            failed++;
            assert_string_equal(err, "acl: out of memory");
            continue;
        }
        ok = 1;
        struct acl_who bob = {u("c"), 1, true, u("bob"), 3};
        assert_true(acl_check(a, &bob, u("a/x"), 3, ACL_READ));
        assert_true(acl_check(a, &bob, u("b"), 1, ACL_WRITE));
        assert_true(acl_check(a, &bob, u("d/c/x"), 5, ACL_READ));
        assert_false(acl_check(a, &bob, u("pub/x"), 5, ACL_READ));
        acl_free(a);
    }
    assert_true(ok);
    assert_true(failed > 2);

    struct session *s = session_new(u("id"), 2, 0);
    assert_non_null(s);
    fail_at(0);
    assert_int_equal(session_set_user(s, true, u("alice"), 5), -1);
    no_failures();
    assert_string_equal(s->client_id, "id");
    assert_null(session_user(s));
    assert_int_equal(session_set_user(s, true, u("alice"), 5), 0);
    assert_string_equal(session_user(s), "alice");
    assert_string_equal(s->client_id, "id");
    session_free(s);
}

/* An mbedtls client on the other end of a socket pair, for the handshake. */
struct tls_client {
    mbedtls_ssl_config conf;
    mbedtls_ssl_context ssl;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    int fd;
};

static void tls_client_init(struct tls_client *c, int fd)
{
    mbedtls_ssl_config_init(&c->conf);
    mbedtls_ssl_init(&c->ssl);
    mbedtls_entropy_init(&c->entropy);
    mbedtls_ctr_drbg_init(&c->drbg);
    assert_int_equal(mbedtls_ctr_drbg_seed(&c->drbg, mbedtls_entropy_func, &c->entropy, NULL, 0),
                     0);
    assert_int_equal(mbedtls_ssl_config_defaults(&c->conf, MBEDTLS_SSL_IS_CLIENT,
                                                 MBEDTLS_SSL_TRANSPORT_STREAM,
                                                 MBEDTLS_SSL_PRESET_DEFAULT),
                     0);
    mbedtls_ssl_conf_authmode(&c->conf, MBEDTLS_SSL_VERIFY_NONE);
    mbedtls_ssl_conf_rng(&c->conf, mbedtls_ctr_drbg_random, &c->drbg);
    assert_int_equal(mbedtls_ssl_setup(&c->ssl, &c->conf), 0);
    c->fd = fd;
    mbedtls_ssl_set_bio(&c->ssl, &c->fd, mbedtls_net_send, mbedtls_net_recv, NULL);
}

static void tls_client_free(struct tls_client *c)
{
    mbedtls_ssl_free(&c->ssl);
    mbedtls_ssl_config_free(&c->conf);
    mbedtls_ctr_drbg_free(&c->drbg);
    mbedtls_entropy_free(&c->entropy);
}

/* Both handshakes stepped in turn; the server's under injected failures. */
static enum transport_step handshake_pair(struct transport *t, int fd, struct tls_client *c)
{
    enum transport_step s = TRANSPORT_WANT_READ;
    for (int i = 0; i < 100 && s != TRANSPORT_DONE && s != TRANSPORT_FAILED; i++) {
        int r = mbedtls_ssl_handshake(&c->ssl);
        assert_true(r == 0 || r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE);
        s = transport_handshake(t, fd);
    }
    return s;
}

/* TLS: the listener's configuration, a connection's session, its
 * handshake and a record each way. Our allocations fail (mbedtls's own are
 * in its shared library, beyond the wrap): each failure is an error or a
 * slower path, never a crash or a leak. */
static void tls_survives_allocation_failures(void **state)
{
    (void)state;
    char dir[] = "/tmp/starling-oom-XXXXXX", cmd[512];
    assert_non_null(mkdtemp(dir));
    snprintf(cmd, sizeof cmd,
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout %s/k.pem -out %s/c.pem -days 2 -subj /CN=oom >/dev/null 2>&1",
             dir, dir);
    assert_int_equal(system(cmd), 0);
    struct tls_config cfg = {.enabled = true};
    snprintf(cfg.cert, sizeof cfg.cert, "%s/c.pem", dir);
    snprintf(cfg.key, sizeof cfg.key, "%s/k.pem", dir);
    struct tls_ctx *ctx = NULL;
    long refused = 0;
    for (long n = 0; n < MAX_ATTEMPTS && !ctx; n++) {
        char err[CONFIG_ERR_MAX] = "";
        fail_at(n);
        ctx = tls_ctx_new(&cfg, err, sizeof err);
        no_failures();
        if (!ctx) assert_string_equal(err, "out of memory");
        refused += !ctx;
    }
    assert_non_null(ctx);
    assert_true(refused > 0);
    int done = 0;
    long injected = 0;
    for (long n = 0; n < MAX_ATTEMPTS && !done; n++) {
        int sv[2];
        assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
        struct tls_client c;
        tls_client_init(&c, sv[1]);
        struct transport t;
        fail_at(n);
        int r = transport_tls(&t, ctx, sv[0]);
        enum transport_step s = r == 0 ? handshake_pair(&t, sv[0], &c) : TRANSPORT_FAILED;
        ssize_t got = -1;
        if (s == TRANSPORT_DONE) {
            char buf[16];
            assert_int_equal(mbedtls_ssl_write(&c.ssl, (const unsigned char *)"ping", 4), 4);
            got = transport_read(&t, sv[0], buf, sizeof buf);
            struct iovec iov = {"pong", 4};
            if (got == 4) assert_int_equal(transport_writev(&t, sv[0], &iov, 1), 4);
        }
        done = got == 4 && failures == 0;
        injected += failures;
        no_failures();
        if (r == 0) transport_close(&t, sv[0]);
        tls_client_free(&c);
        close(sv[0]);
        close(sv[1]);
    }
    assert_true(done);
    assert_true(injected >= 2); /* the session, the read-ahead buffer */
    tls_ctx_unref(ctx);
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(trie_subscribe_survives_every_allocation_failure),
        cmocka_unit_test(retain_set_survives_every_allocation_failure),
        cmocka_unit_test(retain_cursor_survives_allocation_failures),
        cmocka_unit_test(session_survives_every_allocation_failure),
        cmocka_unit_test(sub_index_survives_every_allocation_failure),
        cmocka_unit_test(outq_survives_every_allocation_failure),
        cmocka_unit_test(config_parse_survives_every_allocation_failure),
        cmocka_unit_test(id_set_survives_every_allocation_failure),
        cmocka_unit_test(batch_survives_every_allocation_failure),
        cmocka_unit_test(acl_parse_survives_every_allocation_failure),
        cmocka_unit_test(tls_survives_allocation_failures),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
