/* The SQLite store against a temporary database: every op round-trips
 * through store_load in the stated order, sessions cascade, replacing keeps
 * what it must, everything survives a reopen, and each file it must not use
 * (in use by another store or process, not a database, corrupt, someone
 * else's, from a newer schema) is refused with its message and left as it
 * was. Write and allocation failures are injected through SQLite's own
 * hooks (a VFS wrapper, SQLITE_CONFIG_MALLOC): a failed batch applies
 * nothing and applies whole when tried again. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <fcntl.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "broker/store/store.h"
#include "tests/store_files.h"

struct tmp {
    char dir[64];
    char db[128];
};

static int setup(void **state)
{
    struct tmp *t = calloc(1, sizeof *t);
    if (t == NULL) return -1;
    strcpy(t->dir, "/tmp/starling-store-XXXXXX");
    if (mkdtemp(t->dir) == NULL) return -1;
    snprintf(t->db, sizeof t->db, "%s/s.db", t->dir);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    struct tmp *t = *state;
    store_files_remove(t->db);
    rmdir(t->dir);
    free(t);
    return 0;
}

/* ---- ops ---- */

#define B(s) (const uint8_t *)(s), strlen(s)

static struct store_op msg_put(uint64_t id, const char *topic, const char *payload, uint8_t qos,
                               bool retain)
{
    struct store_op o = {.type = STORE_MSG_PUT, .id = id, .qos = qos, .retain = retain};
    o.a = (const uint8_t *)topic;
    o.a_len = strlen(topic);
    o.b = (const uint8_t *)payload;
    o.b_len = strlen(payload);
    return o;
}

static struct store_op msg_del(uint64_t id)
{
    return (struct store_op){.type = STORE_MSG_DEL, .id = id};
}

static struct store_op retain_put(const char *topic, uint64_t id)
{
    return (struct store_op){.type = STORE_RETAIN_PUT, .id = id, .a = B(topic)};
}

static struct store_op retain_del(const char *topic)
{
    return (struct store_op){.type = STORE_RETAIN_DEL, .a = B(topic)};
}

/* user NULL: no user name. */
static struct store_op session_put(uint64_t key, const char *cid, const char *user, int64_t t)
{
    struct store_op o = {.type = STORE_SESSION_PUT, .key = key, .a = B(cid), .time = t};
    if (user != NULL) {
        o.has_user = true;
        o.b = (const uint8_t *)user;
        o.b_len = strlen(user);
    }
    return o;
}

static struct store_op session_del(uint64_t key)
{
    return (struct store_op){.type = STORE_SESSION_DEL, .key = key};
}

static struct store_op sub_put(uint64_t key, const char *filter, uint8_t qos)
{
    return (struct store_op){.type = STORE_SUB_PUT, .key = key, .a = B(filter), .qos = qos};
}

static struct store_op sub_del(uint64_t key, const char *filter)
{
    return (struct store_op){.type = STORE_SUB_DEL, .key = key, .a = B(filter)};
}

static struct store_op entry_put(uint64_t key, uint64_t seq, uint64_t msg, uint8_t qos, bool retain,
                                 uint8_t state, uint16_t pid)
{
    return (struct store_op){.type = STORE_ENTRY_PUT,
                             .key = key,
                             .seq = seq,
                             .id = msg,
                             .qos = qos,
                             .retain = retain,
                             .state = state,
                             .pid = pid};
}

static struct store_op entry_del(uint64_t key, uint64_t seq)
{
    return (struct store_op){.type = STORE_ENTRY_DEL, .key = key, .seq = seq};
}

static struct store_op rx_put(uint64_t key, uint16_t pid)
{
    return (struct store_op){.type = STORE_RX_PUT, .key = key, .pid = pid};
}

static struct store_op rx_del(uint64_t key, uint16_t pid)
{
    return (struct store_op){.type = STORE_RX_DEL, .key = key, .pid = pid};
}

#define N(a) (sizeof(a) / sizeof((a)[0]))

static void apply_ok(struct store *st, const struct store_op *ops, size_t n)
{
    char err[512];
    int rc = store_apply(st, ops, n, err, sizeof err);
    if (rc != 0) fail_msg("store_apply: %s", err);
}

static struct store *open_ok(const char *path)
{
    char err[512];
    struct store *st = store_open(path, STORE_SYNC_FULL, err, sizeof err);
    if (st == NULL) fail_msg("store_open: %s", err);
    return st;
}

/* ---- loading into a text log, one line per reported row ---- */

struct log {
    char text[16384];
    size_t len;
    int stop_after; /* stop (return -1) at this row; 0: never */
    int rows;
};

static int log_line(struct log *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int log_line(struct log *l, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(l->text + l->len, sizeof l->text - l->len, fmt, ap);
    va_end(ap);
    assert_true(n >= 0 && (size_t)n < sizeof l->text - l->len);
    l->len += (size_t)n;
    l->rows++;
    return l->stop_after != 0 && l->rows >= l->stop_after ? -1 : 0;
}

static int on_msg(void *ctx, uint64_t id, const uint8_t *topic, size_t topic_len,
                  const uint8_t *payload, size_t payload_len, uint8_t qos, bool retain)
{
    assert_non_null(topic);
    assert_non_null(payload);
    return log_line(ctx, "msg %llu %.*s '%.*s' q%u%s\n", (unsigned long long)id, (int)topic_len,
                    (const char *)topic, (int)payload_len, (const char *)payload, qos,
                    retain ? " r" : "");
}

static int on_retained(void *ctx, const uint8_t *topic, size_t topic_len, uint64_t msg_id)
{
    return log_line(ctx, "ret %.*s %llu\n", (int)topic_len, (const char *)topic,
                    (unsigned long long)msg_id);
}

static int on_session(void *ctx, uint64_t key, const uint8_t *cid, size_t id_len, bool has_user,
                      const uint8_t *user, size_t user_len, int64_t offline_since)
{
    if (has_user)
        return log_line(ctx, "ses %llu %.*s user '%.*s' %lld\n", (unsigned long long)key,
                        (int)id_len, (const char *)cid, (int)user_len, (const char *)user,
                        (long long)offline_since);
    return log_line(ctx, "ses %llu %.*s - %lld\n", (unsigned long long)key, (int)id_len,
                    (const char *)cid, (long long)offline_since);
}

static int on_sub(void *ctx, uint64_t key, const uint8_t *filter, size_t len, uint8_t qos)
{
    return log_line(ctx, "sub %llu %.*s q%u\n", (unsigned long long)key, (int)len,
                    (const char *)filter, qos);
}

static int on_entry(void *ctx, uint64_t key, uint64_t seq, uint64_t msg_id, uint8_t qos,
                    bool retain, uint8_t state, uint16_t pid)
{
    return log_line(ctx, "ent %llu %llu m%llu q%u%s s%u p%u\n", (unsigned long long)key,
                    (unsigned long long)seq, (unsigned long long)msg_id, qos, retain ? " r" : "",
                    state, pid);
}

static int on_rx(void *ctx, uint64_t key, uint16_t pid)
{
    return log_line(ctx, "rx %llu %u\n", (unsigned long long)key, pid);
}

static int load_into(struct store *st, struct log *l, char *err, size_t errlen)
{
    struct store_loader ld = {l, on_msg, on_retained, on_session, on_sub, on_entry, on_rx};
    l->len = 0;
    l->rows = 0;
    l->text[0] = '\0';
    return store_load(st, &ld, err, errlen);
}

static void assert_loads(struct store *st, const char *expected)
{
    static struct log l;
    char err[512];
    l.stop_after = 0;
    if (load_into(st, &l, err, sizeof err) != 0) fail_msg("store_load: %s", err);
    assert_string_equal(l.text, expected);
}

/* ---- raw SQLite on the file, to set up foreign files and look behind the
 * store's back ---- */

static void raw_exec(const char *path, const char *sql)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char *msg = NULL;
    int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) fail_msg("%s: %s", sql, msg);
    sqlite3_close(db);
}

static int64_t raw_int(const char *path, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *s;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(s), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

static size_t read_file(const char *path, uint8_t *buf, size_t cap)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    size_t n = fread(buf, 1, cap, f);
    fclose(f);
    return n;
}

static void write_file(const char *path, const uint8_t *buf, size_t n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(buf, 1, n, f), n);
    fclose(f);
}

static void expect_refused(const char *path, const char *expected)
{
    char err[512];
    struct store *st = store_open(path, STORE_SYNC_FULL, err, sizeof err);
    if (st != NULL) {
        store_close(st);
        fail_msg("%s was opened; expected: %s", path, expected);
    }
    assert_string_equal(err, expected);
}

static void not_ours_msg(char *out, size_t cap, const char *path, const char *reason)
{
    snprintf(out, cap,
             "%s: not a Starling database or corrupt (%s); move it away to start empty, or "
             "restore a backup",
             path, reason);
}

static void in_use_msg(char *out, size_t cap, const char *path)
{
    snprintf(out, cap,
             "database %s is in use by another process (another Starling?); stop it or use "
             "another persistence.path",
             path);
}

/* ---- tests ---- */

/* The batch every op type is tested with: two messages (one retained,
 * one with an empty payload), a session with a user and one without. */
static const char *const full_log = "msg 1 a/b 'hello' q1 r\n"
                                    "msg 2 c/d '' q2\n"
                                    "ret a/b 1\n"
                                    "ses 7 dev user 'alice' 1700000000000\n"
                                    "ses 8 online user '' 0\n"
                                    "sub 7 a/# q1\n"
                                    "sub 7 c/+ q2\n"
                                    "sub 8 x q0\n"
                                    "ent 7 1 m1 q1 r s0 p0\n"
                                    "ent 7 2 m2 q2 s2 p17\n"
                                    "ent 7 3 m0 q2 s3 p18\n"
                                    "rx 7 5\n"
                                    "rx 7 65535\n";

static void put_full(struct store *st)
{
    struct store_op ops[] = {
        msg_put(1, "a/b", "hello", 1, true),
        msg_put(2, "c/d", "", 2, false),
        retain_put("a/b", 1),
        session_put(7, "dev", "alice", 1700000000000),
        session_put(8, "online", "", 0),
        sub_put(7, "a/#", 1),
        sub_put(7, "c/+", 2),
        sub_put(8, "x", 0),
        entry_put(7, 1, 1, 1, true, 0, 0),
        entry_put(7, 2, 2, 2, false, 2, 17),
        entry_put(7, 3, 0, 2, false, 3, 18),
        rx_put(7, 5),
        rx_put(7, 65535),
    };
    apply_ok(st, ops, N(ops));
}

static void test_round_trip_every_op(void **state)
{
    struct tmp *t = *state;
    struct store *st = open_ok(t->db);
    assert_loads(st, "");
    put_full(st);
    assert_loads(st, full_log);
    struct store_op dels[] = {
        retain_del("a/b"), msg_del(2),   sub_del(7, "c/+"),
        entry_del(7, 2),   rx_del(7, 5), session_del(8),
    };
    apply_ok(st, dels, N(dels));
    assert_loads(st, "msg 1 a/b 'hello' q1 r\n"
                     "ses 7 dev user 'alice' 1700000000000\n"
                     "sub 7 a/# q1\n"
                     "ent 7 1 m1 q1 r s0 p0\n"
                     "ent 7 3 m0 q2 s3 p18\n"
                     "rx 7 65535\n");
    store_close(st);
}

static void test_session_del_cascades(void **state)
{
    struct tmp *t = *state;
    struct store *st = open_ok(t->db);
    put_full(st);
    struct store_op del = session_del(7);
    apply_ok(st, &del, 1);
    store_close(st);
    /* Gone from the tables, not only from what store_load reports. */
    assert_int_equal(raw_int(t->db, "SELECT count(*) FROM sessions WHERE key = 7"), 0);
    assert_int_equal(raw_int(t->db, "SELECT count(*) FROM subs WHERE session = 7"), 0);
    assert_int_equal(raw_int(t->db, "SELECT count(*) FROM entries WHERE session = 7"), 0);
    assert_int_equal(raw_int(t->db, "SELECT count(*) FROM rx WHERE session = 7"), 0);
    /* The other session and the messages stay. */
    st = open_ok(t->db);
    assert_loads(st, "msg 1 a/b 'hello' q1 r\n"
                     "msg 2 c/d '' q2\n"
                     "ret a/b 1\n"
                     "ses 8 online user '' 0\n"
                     "sub 8 x q0\n");
    store_close(st);
}

static void test_replace_semantics(void **state)
{
    struct tmp *t = *state;
    struct store *st = open_ok(t->db);
    put_full(st);
    struct store_op ops[] = {
        msg_put(2, "c/d", "again", 1, true), /* same id: replaced */
        msg_put(3, "a/b", "newer", 0, true),
        retain_put("a/b", 3),                /* same topic: points at the new one */
        session_put(7, "dev", NULL, 0),      /* back online, user gone, children kept */
        sub_put(7, "a/#", 0),                /* same filter: new qos */
        entry_put(7, 2, 0, 2, false, 3, 17), /* released: WAIT_PUBCOMP without message */
        rx_put(7, 5),                        /* already there: one row */
    };
    apply_ok(st, ops, N(ops));
    assert_loads(st, "msg 1 a/b 'hello' q1 r\n"
                     "msg 2 c/d 'again' q1 r\n"
                     "msg 3 a/b 'newer' q0 r\n"
                     "ret a/b 3\n"
                     "ses 7 dev - 0\n"
                     "ses 8 online user '' 0\n"
                     "sub 7 a/# q0\n"
                     "sub 7 c/+ q2\n"
                     "sub 8 x q0\n"
                     "ent 7 1 m1 q1 r s0 p0\n"
                     "ent 7 2 m0 q2 s3 p17\n"
                     "ent 7 3 m0 q2 s3 p18\n"
                     "rx 7 5\n"
                     "rx 7 65535\n");
    store_close(st);
}

/* A client id names one session: putting it under a new key replaces the
 * old session whole, instead of failing the batch on every retry. */
static void test_session_put_takes_client_id(void **state)
{
    struct tmp *t = *state;
    struct store *st = open_ok(t->db);
    put_full(st);
    struct store_op ops[] = {session_put(9, "dev", NULL, 5), sub_put(9, "z", 1)};
    apply_ok(st, ops, N(ops));
    assert_loads(st, "msg 1 a/b 'hello' q1 r\n"
                     "msg 2 c/d '' q2\n"
                     "ret a/b 1\n"
                     "ses 9 dev - 5\n"
                     "ses 8 online user '' 0\n"
                     "sub 8 x q0\n"
                     "sub 9 z q1\n");
    store_close(st);
    assert_int_equal(raw_int(t->db, "SELECT count(*) FROM entries"), 0);
}

/* Sessions oldest offline first, online ones last; children by session
 * and entries by seq, whatever order they were written in. */
static void test_load_order(void **state)
{
    struct tmp *t = *state;
    struct store *st = open_ok(t->db);
    struct store_op ops[] = {
        msg_put(9, "t", "9", 0, false),
        msg_put(4, "t", "4", 0, false),
        retain_put("z", 4),
        retain_put("b", 9),
        session_put(1, "c1", NULL, 300),
        session_put(2, "c2", NULL, 0),
        session_put(3, "c3", NULL, 100),
        session_put(4, "c4", NULL, 0),
        session_put(5, "c5", NULL, 200),
        entry_put(5, 10, 4, 0, false, 0, 0),
        entry_put(5, 2, 9, 0, false, 0, 0),
        entry_put(3, 7, 9, 0, false, 0, 0),
        rx_put(5, 9),
        rx_put(3, 2),
        rx_put(5, 1),
    };
    apply_ok(st, ops, N(ops));
    assert_loads(st, "msg 4 t '4' q0\n"
                     "msg 9 t '9' q0\n"
                     "ret b 9\n"
                     "ret z 4\n"
                     "ses 3 c3 - 100\n"
                     "ses 5 c5 - 200\n"
                     "ses 1 c1 - 300\n"
                     "ses 2 c2 - 0\n"
                     "ses 4 c4 - 0\n"
                     "ent 3 7 m9 q0 s0 p0\n"
                     "ent 5 2 m9 q0 s0 p0\n"
                     "ent 5 10 m4 q0 s0 p0\n"
                     "rx 3 2\n"
                     "rx 5 1\n"
                     "rx 5 9\n");
    store_close(st);
}

/* A row whose session or message is missing (a caller's ordering slip) is
 * not reported, so the loader never meets a dangling reference. */
static void test_load_skips_dangling_rows(void **state)
{
    struct tmp *t = *state;
    struct store *st = open_ok(t->db);
    struct store_op ops[] = {
        msg_put(1, "t", "x", 1, false),     retain_put("gone", 5),
        session_put(1, "c", NULL, 0),       entry_put(1, 1, 1, 1, false, 0, 0),
        entry_put(1, 2, 6, 1, false, 0, 0), sub_put(2, "orphan", 0),
        entry_put(2, 1, 1, 1, false, 0, 0), rx_put(2, 3),
    };
    apply_ok(st, ops, N(ops));
    assert_loads(st, "msg 1 t 'x' q1\n"
                     "ses 1 c - 0\n"
                     "ent 1 1 m1 q1 s0 p0\n");
    store_close(st);
}

static void test_loader_stop(void **state)
{
    struct tmp *t = *state;
    struct store *st = open_ok(t->db);
    put_full(st);
    static struct log l;
    char err[64];
    l.stop_after = 2;
    assert_int_equal(load_into(st, &l, err, sizeof err), -1);
    assert_string_equal(err, "stopped");
    assert_string_equal(l.text, "msg 1 a/b 'hello' q1 r\nmsg 2 c/d '' q2\n");
    /* A loader may leave out what it does not want. */
    struct store_loader only = {.ctx = &l, .sub = on_sub};
    l.stop_after = 0;
    l.len = 0;
    l.text[0] = '\0';
    assert_int_equal(store_load(st, &only, err, sizeof err), 0);
    assert_string_equal(l.text, "sub 7 a/# q1\nsub 7 c/+ q2\nsub 8 x q0\n");
    store_close(st);
}

static void test_max_ids(void **state)
{
    struct tmp *t = *state;
    struct store *st = open_ok(t->db);
    uint64_t m, k;
    store_max_ids(st, &m, &k);
    assert_int_equal(m, 0);
    assert_int_equal(k, 0);
    struct store_op ops[] = {
        msg_put(5, "t", "", 0, false), msg_put(9, "t", "", 0, false), msg_put(3, "t", "", 0, false),
        session_put(7, "a", NULL, 0),  session_put(2, "b", NULL, 0),
    };
    apply_ok(st, ops, N(ops));
    store_max_ids(st, &m, &k);
    assert_int_equal(m, 9);
    assert_int_equal(k, 7);
    store_close(st);
    st = open_ok(t->db);
    store_max_ids(st, &m, &k);
    assert_int_equal(m, 9);
    assert_int_equal(k, 7);
    store_close(st);
}

static void test_reopen_keeps_everything(void **state)
{
    struct tmp *t = *state;
    struct store *st = open_ok(t->db);
    put_full(st);
    store_close(st);
    char err[512];
    st = store_open(t->db, STORE_SYNC_NORMAL, err, sizeof err);
    if (st == NULL) fail_msg("%s", err);
    assert_loads(st, full_log);
    struct store_op ops[] = {msg_del(2), entry_del(7, 2)};
    apply_ok(st, ops, N(ops));
    store_close(st);
    st = open_ok(t->db);
    assert_loads(st, "msg 1 a/b 'hello' q1 r\n"
                     "ret a/b 1\n"
                     "ses 7 dev user 'alice' 1700000000000\n"
                     "ses 8 online user '' 0\n"
                     "sub 7 a/# q1\n"
                     "sub 7 c/+ q2\n"
                     "sub 8 x q0\n"
                     "ent 7 1 m1 q1 r s0 p0\n"
                     "ent 7 3 m0 q2 s3 p18\n"
                     "rx 7 5\n"
                     "rx 7 65535\n");
    store_close(st);
}

/* A batch that fails part way (here on an op the store does not know)
 * leaves nothing behind, and the store takes the next batch. */
static void test_failed_batch_applies_nothing(void **state)
{
    struct tmp *t = *state;
    struct store *st = open_ok(t->db);
    struct store_op bad[] = {
        msg_put(1, "a", "1", 1, false), {.type = 99}, msg_put(2, "b", "2", 1, false)};
    char err[512], expected[512];
    snprintf(expected, sizeof expected, "%s: cannot write the database (op 1 has unknown type 99)",
             t->db);
    assert_int_equal(store_apply(st, bad, N(bad), err, sizeof err), -1);
    assert_string_equal(err, expected);
    assert_loads(st, "");
    uint64_t m, k;
    store_max_ids(st, &m, &k);
    assert_int_equal(m, 0);
    apply_ok(st, bad + 2, 1);
    assert_loads(st, "msg 2 b '2' q1\n");
    store_close(st);
}

/* A broker that dies without closing (SIGKILL, a crash) leaves its last
 * commits in the WAL and its lock to the kernel: the next open has both. */
static void test_crash_keeps_commits(void **state)
{
    struct tmp *t = *state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        char err[512];
        struct store *st = store_open(t->db, STORE_SYNC_FULL, err, sizeof err);
        if (st == NULL) _exit(2);
        put_full(st);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char wal[160];
    struct stat sb;
    snprintf(wal, sizeof wal, "%s-wal", t->db);
    assert_int_equal(stat(wal, &sb), 0);
    assert_true(sb.st_size > 0);
    struct store *st = open_ok(t->db);
    assert_loads(st, full_log);
    store_close(st);
}

static void test_disk_bytes(void **state)
{
    struct tmp *t = *state;
    struct store *st = open_ok(t->db);
    static char payload[65536];
    memset(payload, 'p', sizeof payload - 1);
    uint64_t before = store_disk_bytes(st);
    struct store_op ops[16];
    for (size_t i = 0; i < N(ops); i++)
        ops[i] = msg_put(i + 1, "big", payload, 1, false);
    apply_ok(st, ops, N(ops));
    uint64_t after = store_disk_bytes(st);
    struct stat db, wal;
    char walp[160];
    snprintf(walp, sizeof walp, "%s-wal", t->db);
    assert_int_equal(stat(t->db, &db), 0);
    assert_int_equal(stat(walp, &wal), 0);
    assert_int_equal(after, (uint64_t)db.st_size + (uint64_t)wal.st_size);
    assert_true(after >= before + N(ops) * (sizeof payload - 1));
    /* Exclusive locking keeps the WAL index in memory: no -shm file. */
    snprintf(walp, sizeof walp, "%s-shm", t->db);
    assert_int_equal(stat(walp, &wal), -1);
    store_close(st);
}

static void test_cannot_create(void **state)
{
    struct tmp *t = *state;
    char path[160], expected[512];
    snprintf(path, sizeof path, "%s/missing/s.db", t->dir);
    snprintf(expected, sizeof expected,
             "%s: cannot open or create the database (unable to open database file: No such "
             "file or directory); check that its folder exists and is writable",
             path);
    expect_refused(path, expected);
}

/* Names SQLite would take for a database in memory, lost at close. */
static void test_memory_names_refused(void **state)
{
    (void)state;
    expect_refused(":memory:", "\":memory:\": not a file name for the database (SQLite keeps it "
                               "in memory only); name a file, such as ./:memory:");
    expect_refused("", "\"\": not a file name for the database (SQLite keeps it in memory "
                       "only); name a file, such as ./starling.db");
}

static void test_second_open_refused(void **state)
{
    struct tmp *t = *state;
    struct store *st = open_ok(t->db);
    char expected[512];
    in_use_msg(expected, sizeof expected, t->db);
    expect_refused(t->db, expected);
    /* The first store is unharmed, and the file is free once it closes. */
    put_full(st);
    store_close(st);
    st = open_ok(t->db);
    assert_loads(st, full_log);
    store_close(st);
}

/* A real second broker is another process: the child is forked before the
 * parent opens the store, so it shares no SQLite state and meets only the
 * file lock. */
static void test_second_open_refused_other_process(void **state)
{
    struct tmp *t = *state;
    int go[2], result[2];
    assert_int_equal(pipe(go), 0);
    assert_int_equal(pipe(result), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(go[1]);
        close(result[0]);
        char c, err[512];
        if (read(go[0], &c, 1) != 1) _exit(2);
        struct store *st = store_open(t->db, STORE_SYNC_FULL, err, sizeof err);
        if (st != NULL) snprintf(err, sizeof err, "opened");
        ssize_t w = write(result[1], err, strlen(err));
        _exit(w == (ssize_t)strlen(err) ? 0 : 2);
    }
    close(go[0]);
    close(result[1]);
    struct store *st = open_ok(t->db);
    assert_int_equal(write(go[1], "g", 1), 1);
    char got[512];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof got - 1 && (r = read(result[0], got + n, sizeof got - 1 - n)) > 0)
        n += (size_t)r;
    got[n] = '\0';
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    close(go[1]);
    close(result[0]);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char expected[512];
    in_use_msg(expected, sizeof expected, t->db);
    assert_string_equal(got, expected);
    put_full(st);
    store_close(st);
}

/* Random bytes, and a file of zeros (what a crash mid-rewrite can leave
 * with other brokers): refused, and left as they were. */
static void test_not_a_database_refused(void **state)
{
    struct tmp *t = *state;
    static uint8_t bytes[8192], back[8192];
    char expected[512];
    not_ours_msg(expected, sizeof expected, t->db, "file is not a database");
    uint32_t x = 12345;
    for (size_t i = 0; i < sizeof bytes; i++) {
        x = x * 1103515245u + 12345u;
        bytes[i] = (uint8_t)(x >> 16);
    }
    for (int zeros = 0; zeros < 2; zeros++) {
        if (zeros) memset(bytes, 0, sizeof bytes);
        write_file(t->db, bytes, sizeof bytes);
        expect_refused(t->db, expected);
        assert_int_equal(read_file(t->db, back, sizeof back), sizeof bytes);
        assert_memory_equal(back, bytes, sizeof bytes);
    }
}

/* A Starling database with one page in the middle overwritten. */
static void test_corrupt_database_refused(void **state)
{
    struct tmp *t = *state;
    struct store *st = open_ok(t->db);
    static char payload[201];
    memset(payload, 'x', 200);
    static struct store_op ops[2000];
    for (size_t i = 0; i < N(ops); i++)
        ops[i] = msg_put(i + 1, "some/topic", payload, 1, false);
    apply_ok(st, ops, N(ops));
    store_close(st);
    struct stat sb;
    assert_int_equal(stat(t->db, &sb), 0);
    assert_true(sb.st_size > 100 * 4096);
    int fd = open(t->db, O_WRONLY);
    assert_true(fd >= 0);
    static uint8_t junk[4096];
    memset(junk, 0x55, sizeof junk);
    off_t mid = (sb.st_size / 2) & ~(off_t)4095;
    assert_int_equal(pwrite(fd, junk, sizeof junk, mid), (ssize_t)sizeof junk);
    close(fd);
    char err[512];
    assert_null(store_open(t->db, STORE_SYNC_FULL, err, sizeof err));
    char head[256], tail[128];
    snprintf(head, sizeof head, "%s: not a Starling database or corrupt (", t->db);
    snprintf(tail, sizeof tail, "); move it away to start empty, or restore a backup");
    assert_int_equal(strncmp(err, head, strlen(head)), 0);
    assert_true(strlen(err) > strlen(head) + strlen(tail));
    assert_string_equal(err + strlen(err) - strlen(tail), tail);
    /* Not recreated: the junk is still there. */
    fd = open(t->db, O_RDONLY);
    assert_true(fd >= 0);
    static uint8_t back[4096];
    assert_int_equal(pread(fd, back, sizeof back, mid), (ssize_t)sizeof back);
    close(fd);
    assert_memory_equal(back, junk, sizeof junk);
}

static void test_newer_schema_refused(void **state)
{
    struct tmp *t = *state;
    store_close(open_ok(t->db));
    raw_exec(t->db, "PRAGMA user_version = 2");
    char expected[512];
    snprintf(expected, sizeof expected,
             "%s: written by a newer Starling (schema 2, this build reads up to 1); run that "
             "version, or move the file away to start empty",
             t->db);
    expect_refused(t->db, expected);
    assert_int_equal(raw_int(t->db, "PRAGMA user_version"), 2);
}

/* Someone else's SQLite database: with no version, or with a version but
 * not Starling's application id. Refused, and its data kept. */
static void test_foreign_database_refused(void **state)
{
    struct tmp *t = *state;
    raw_exec(t->db, "CREATE TABLE t(x); INSERT INTO t VALUES(42)");
    char expected[512];
    not_ours_msg(expected, sizeof expected, t->db,
                 "an SQLite database with 1 tables, application_id 0, user_version 0");
    expect_refused(t->db, expected);
    raw_exec(t->db, "PRAGMA user_version = 1");
    not_ours_msg(expected, sizeof expected, t->db,
                 "an SQLite database with 1 tables, application_id 0, user_version 1");
    expect_refused(t->db, expected);
    assert_int_equal(raw_int(t->db, "SELECT x FROM t"), 42);
    assert_int_equal(raw_int(t->db, "SELECT count(*) FROM sqlite_master"), 1);
}

/* ---- I/O failure: a VFS that wraps the default one and fails writes or
 * syncs while told to ---- */

static struct {
    sqlite3_vfs *real;
    int write_rc; /* SQLITE_OK: pass writes through */
    int sync_rc;
    int failed; /* calls failed so far */
} shim;

struct shim_file {
    sqlite3_file base;
    sqlite3_file *real; /* right after this struct, in the same allocation */
};

#define REAL(f) (((struct shim_file *)(f))->real)

static int shim_close(sqlite3_file *f)
{
    return REAL(f)->pMethods->xClose(REAL(f));
}
static int shim_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off)
{
    return REAL(f)->pMethods->xRead(REAL(f), p, n, off);
}
static int shim_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off)
{
    if (shim.write_rc != SQLITE_OK) {
        shim.failed++;
        return shim.write_rc;
    }
    return REAL(f)->pMethods->xWrite(REAL(f), p, n, off);
}
static int shim_truncate(sqlite3_file *f, sqlite3_int64 size)
{
    return REAL(f)->pMethods->xTruncate(REAL(f), size);
}
static int shim_sync(sqlite3_file *f, int flags)
{
    if (shim.sync_rc != SQLITE_OK) {
        shim.failed++;
        return shim.sync_rc;
    }
    return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int shim_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
    return REAL(f)->pMethods->xFileSize(REAL(f), size);
}
static int shim_lock(sqlite3_file *f, int l)
{
    return REAL(f)->pMethods->xLock(REAL(f), l);
}
static int shim_unlock(sqlite3_file *f, int l)
{
    return REAL(f)->pMethods->xUnlock(REAL(f), l);
}
static int shim_check_lock(sqlite3_file *f, int *out)
{
    return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}
static int shim_file_control(sqlite3_file *f, int op, void *arg)
{
    return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}
static int shim_sector_size(sqlite3_file *f)
{
    return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static int shim_device(sqlite3_file *f)
{
    return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int shim_shm_map(sqlite3_file *f, int pg, int sz, int ext, void volatile **p)
{
    return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, ext, p);
}
static int shim_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
    return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}
static void shim_shm_barrier(sqlite3_file *f)
{
    REAL(f)->pMethods->xShmBarrier(REAL(f));
}
static int shim_shm_unmap(sqlite3_file *f, int del)
{
    return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}
static int shim_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **p)
{
    return REAL(f)->pMethods->xFetch(REAL(f), off, n, p);
}
static int shim_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
    return REAL(f)->pMethods->xUnfetch(REAL(f), off, p);
}

static const sqlite3_io_methods shim_io = {
    3,
    shim_close,
    shim_read,
    shim_write,
    shim_truncate,
    shim_sync,
    shim_file_size,
    shim_lock,
    shim_unlock,
    shim_check_lock,
    shim_file_control,
    shim_sector_size,
    shim_device,
    shim_shm_map,
    shim_shm_lock,
    shim_shm_barrier,
    shim_shm_unmap,
    shim_fetch,
    shim_unfetch,
};

static sqlite3_vfs shim_vfs;

static int shim_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out)
{
    (void)vfs;
    struct shim_file *sf = (struct shim_file *)f;
    sf->real = (sqlite3_file *)(sf + 1);
    int rc = shim.real->xOpen(shim.real, name, sf->real, flags, out);
    sf->base.pMethods = rc == SQLITE_OK && sf->real->pMethods != NULL ? &shim_io : NULL;
    return rc;
}

/* Make the shim the default VFS (store_open uses the default). */
static void shim_install(void)
{
    shim.real = sqlite3_vfs_find("unix");
    assert_non_null(shim.real);
    assert_true(shim.real->iVersion >= 3);
    shim_vfs = *shim.real;
    shim_vfs.zName = "starling-test-shim";
    shim_vfs.szOsFile = (int)sizeof(struct shim_file) + shim.real->szOsFile;
    shim_vfs.xOpen = shim_open;
    shim_vfs.pNext = NULL;
    assert_int_equal(sqlite3_vfs_register(&shim_vfs, 1), SQLITE_OK);
    assert_ptr_equal(sqlite3_vfs_find(NULL), &shim_vfs);
}

static void shim_remove(void)
{
    sqlite3_vfs_unregister(&shim_vfs);
    sqlite3_vfs_register(shim.real, 1);
}

/* With writes (or syncs) failing, a batch fails with the file's name and
 * SQLite's reason, applies nothing, and applies whole once they succeed
 * again (the disk was full, then space was freed). */
static void write_failure(const char *db, int *which, int rc, const char *reason)
{
    shim_install();
    struct store *st = open_ok(db);
    struct store_op first = msg_put(1, "a", "1", 1, false);
    apply_ok(st, &first, 1);
    struct store_op batch[] = {
        msg_put(2, "b", "2", 1, false),
        session_put(3, "c", NULL, 0),
        sub_put(3, "b", 1),
        entry_put(3, 1, 2, 1, false, 0, 0),
        msg_del(1),
    };
    char err[512], expected[512];
    snprintf(expected, sizeof expected, "%s: cannot write the database (%s)", db, reason);
    for (int attempt = 0; attempt < 2; attempt++) {
        shim.failed = 0;
        *which = rc;
        assert_int_equal(store_apply(st, batch, N(batch), err, sizeof err), -1);
        *which = SQLITE_OK;
        assert_true(shim.failed > 0);
        assert_string_equal(err, expected);
        assert_loads(st, "msg 1 a '1' q1\n");
        uint64_t m, k;
        store_max_ids(st, &m, &k);
        assert_int_equal(m, 1);
        assert_int_equal(k, 0);
        /* Still held: no second broker takes the file while it fails. */
        char in_use[512];
        in_use_msg(in_use, sizeof in_use, db);
        expect_refused(db, in_use);
    }
    apply_ok(st, batch, N(batch));
    const char *after = "msg 2 b '2' q1\n"
                        "ses 3 c - 0\n"
                        "sub 3 b q1\n"
                        "ent 3 1 m2 q1 s0 p0\n";
    assert_loads(st, after);
    store_close(st);
    st = open_ok(db);
    assert_loads(st, after);
    store_close(st);
    shim_remove();
}

static void test_disk_full(void **state)
{
    write_failure(((struct tmp *)*state)->db, &shim.write_rc, SQLITE_FULL,
                  "database or disk is full");
}

static void test_write_io_error(void **state)
{
    write_failure(((struct tmp *)*state)->db, &shim.write_rc, SQLITE_IOERR_WRITE, "disk I/O error");
}

static void test_sync_io_error(void **state)
{
    write_failure(((struct tmp *)*state)->db, &shim.sync_rc, SQLITE_IOERR_FSYNC, "disk I/O error");
}

/* ---- allocation failure: SQLite's allocator replaced by one that fails
 * the Nth allocation (the store allocates through it too) ---- */

static struct {
    sqlite3_mem_methods real;
    long count;
    long fail_at; /* 0: never */
    bool failed;
} mem;

static void *mem_malloc(int n)
{
    if (mem.fail_at != 0 && ++mem.count == mem.fail_at) {
        mem.failed = true;
        return NULL;
    }
    return mem.real.xMalloc(n);
}

static void *mem_realloc(void *p, int n)
{
    if (mem.fail_at != 0 && ++mem.count == mem.fail_at) {
        mem.failed = true;
        return NULL;
    }
    return mem.real.xRealloc(p, n);
}

/* The allocator can only change while SQLite is shut down. */
static void use_allocator(const sqlite3_mem_methods *m)
{
    assert_int_equal(sqlite3_shutdown(), SQLITE_OK);
    assert_int_equal(sqlite3_config(SQLITE_CONFIG_MALLOC, m), SQLITE_OK);
    assert_int_equal(sqlite3_initialize(), SQLITE_OK);
}

/* Open, apply, load and close with allocation N failing, for N = 1, 2, ...
 * until a run meets no failure. Each step either works or fails with a
 * message; the batch is then on disk whole or not at all (checked with the
 * allocator working again). */
static void test_allocation_failure(void **state)
{
    struct tmp *t = *state;
    assert_int_equal(sqlite3_shutdown(), SQLITE_OK);
    assert_int_equal(sqlite3_config(SQLITE_CONFIG_GETMALLOC, &mem.real), SQLITE_OK);
    sqlite3_mem_methods failing = mem.real;
    failing.xMalloc = mem_malloc;
    failing.xRealloc = mem_realloc;
    use_allocator(&failing);
    static struct store_op ops[64];
    char payload[65];
    memset(payload, 'q', 64);
    payload[64] = '\0';
    /* 32 messages, an entry for each but the last, their session. */
    for (size_t i = 0; i < N(ops) / 2; i++)
        ops[i] = msg_put(i + 1, "t/x", payload, 1, false);
    for (size_t i = 0; i < N(ops) / 2 - 1; i++)
        ops[N(ops) / 2 + i] = entry_put(1, i + 1, i + 1, 1, false, 0, 0);
    ops[N(ops) - 1] = session_put(1, "client", "user", 0);
    static struct log l, whole;
    long n;
    int completed = 0;
    for (n = 1; n < 20000; n++) {
        store_files_remove(t->db);
        mem.count = 0;
        mem.failed = false;
        mem.fail_at = n;
        char err[512] = "";
        bool applied = false;
        struct store *st = store_open(t->db, STORE_SYNC_NORMAL, err, sizeof err);
        if (st == NULL) {
            assert_true(err[0] != '\0');
        } else {
            err[0] = '\0';
            applied = store_apply(st, ops, N(ops), err, sizeof err) == 0;
            if (!applied) assert_true(err[0] != '\0');
            l.stop_after = 0;
            err[0] = '\0';
            if (load_into(st, &l, err, sizeof err) != 0) assert_true(err[0] != '\0');
            store_close(st);
        }
        bool failed = mem.failed;
        mem.fail_at = 0;
        /* What is on disk now, read with allocation working. */
        st = store_open(t->db, STORE_SYNC_NORMAL, err, sizeof err);
        if (st == NULL) fail_msg("after failing allocation %ld: %s", n, err);
        l.stop_after = 0;
        assert_int_equal(load_into(st, &l, err, sizeof err), 0);
        store_close(st);
        if (!failed) {
            assert_true(applied);
            completed = 1;
            whole = l;
            break;
        }
        if (applied)
            assert_int_equal(l.rows, (int)N(ops));
        else
            assert_true(l.rows == 0 || l.rows == (int)N(ops));
    }
    use_allocator(&mem.real);
    assert_true(completed);
    assert_true(n > 100); /* the failures were met, not skipped */
    assert_int_equal(whole.rows, (int)N(ops));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip_every_op, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_del_cascades, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replace_semantics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_session_put_takes_client_id, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_load_skips_dangling_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_loader_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_ids, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen_keeps_everything, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_batch_applies_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_keeps_commits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disk_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cannot_create, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_names_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_open_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_second_open_refused_other_process, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_a_database_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_database_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreign_database_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_disk_full, setup, teardown),
        cmocka_unit_test_setup_teardown(test_write_io_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sync_io_error, setup, teardown),
        cmocka_unit_test_setup_teardown(test_allocation_failure, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
