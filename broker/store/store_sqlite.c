/* The SQLite backend of store.h: one database file in WAL mode, held with an
 * exclusive lock for as long as the store is open (so a second broker on the
 * same file is refused at once), its schema version in PRAGMA user_version
 * and Starling's mark in PRAGMA application_id. Every statement store_apply
 * runs is prepared once at open; each call is one transaction.
 *
 * Schema v1 (see schema_steps): messages by id, retained topic -> message id,
 * sessions by key with a unique client id, and per session its subscriptions,
 * outgoing entries by seq and inbound QoS 2 packet ids. The child tables are
 * WITHOUT ROWID so that their primary key is the table's order: a session's
 * rows sit together, entries in seq order, and a point delete is one b-tree
 * descent. No foreign keys: a constraint failure would make a batch fail
 * forever and stop durable mode; store_load reports only rows whose session
 * (and message) exists instead. */
#include "broker/store/store.h"

#include <errno.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

/* "Star": marks the file as Starling's, so someone else's SQLite database
 * (whatever its user_version) is refused rather than written into. */
#define STORE_APPLICATION_ID 0x53746172

/* schema_steps[k] turns schema version k into k+1, inside the transaction
 * that then sets user_version. Step 0 creates the schema on an empty file;
 * a later change appends a step (an ALTER TABLE, a new table) and raises
 * STORE_SCHEMA_VERSION. */
static const char *const schema_steps[] = {
    ("CREATE TABLE msgs(id INTEGER PRIMARY KEY, topic BLOB NOT NULL, payload BLOB NOT NULL,"
     " qos INT NOT NULL, retain INT NOT NULL);"
     "CREATE TABLE retained(topic BLOB PRIMARY KEY, msg INT NOT NULL) WITHOUT ROWID;"
     "CREATE TABLE sessions(key INTEGER PRIMARY KEY, client_id BLOB NOT NULL UNIQUE, user BLOB,"
     " offline_since INT NOT NULL);"
     "CREATE TABLE subs(session INT, filter BLOB, qos INT NOT NULL,"
     " PRIMARY KEY(session, filter)) WITHOUT ROWID;"
     "CREATE TABLE entries(session INT, seq INT, msg INT NOT NULL, qos INT NOT NULL,"
     " retain INT NOT NULL, state INT NOT NULL, pid INT NOT NULL,"
     " PRIMARY KEY(session, seq)) WITHOUT ROWID;"
     "CREATE TABLE rx(session INT, pid INT, PRIMARY KEY(session, pid)) WITHOUT ROWID;"),
};
_Static_assert(sizeof schema_steps / sizeof schema_steps[0] == STORE_SCHEMA_VERSION,
               "one schema step per version");

/* The statements of store_apply, in this order in struct store. */
enum {
    S_BEGIN,
    S_COMMIT,
    S_ROLLBACK,
    S_MSG_PUT,
    S_MSG_DEL,
    S_RETAIN_PUT,
    S_RETAIN_DEL,
    S_SESSION_OTHER, /* another session holding the client id SESSION_PUT names */
    S_SESSION_PUT,
    S_SESSION_DEL,
    S_SESSION_SUBS_DEL,
    S_SESSION_ENTRIES_DEL,
    S_SESSION_RX_DEL,
    S_SUB_PUT,
    S_SUB_DEL,
    S_ENTRY_PUT,
    S_ENTRY_DEL,
    S_RX_PUT,
    S_RX_DEL,
    S_COUNT
};

static const char *const stmt_sql[S_COUNT] = {
    [S_BEGIN] = "BEGIN",
    [S_COMMIT] = "COMMIT",
    [S_ROLLBACK] = "ROLLBACK",
    [S_MSG_PUT] = "INSERT OR REPLACE INTO msgs(id, topic, payload, qos, retain) VALUES(?,?,?,?,?)",
    [S_MSG_DEL] = "DELETE FROM msgs WHERE id = ?",
    [S_RETAIN_PUT] = "INSERT OR REPLACE INTO retained(topic, msg) VALUES(?,?)",
    [S_RETAIN_DEL] = "DELETE FROM retained WHERE topic = ?",
    [S_SESSION_OTHER] = "SELECT key FROM sessions WHERE client_id = ? AND key <> ?",
    /* An upsert, not REPLACE: REPLACE would delete the row first, and a
     * session's update (going offline) must keep its children. */
    [S_SESSION_PUT] = ("INSERT INTO sessions(key, client_id, user, offline_since) VALUES(?,?,?,?)"
                       " ON CONFLICT(key) DO UPDATE SET client_id = excluded.client_id,"
                       " user = excluded.user, offline_since = excluded.offline_since"),
    [S_SESSION_DEL] = "DELETE FROM sessions WHERE key = ?",
    [S_SESSION_SUBS_DEL] = "DELETE FROM subs WHERE session = ?",
    [S_SESSION_ENTRIES_DEL] = "DELETE FROM entries WHERE session = ?",
    [S_SESSION_RX_DEL] = "DELETE FROM rx WHERE session = ?",
    [S_SUB_PUT] = "INSERT OR REPLACE INTO subs(session, filter, qos) VALUES(?,?,?)",
    [S_SUB_DEL] = "DELETE FROM subs WHERE session = ? AND filter = ?",
    [S_ENTRY_PUT] = ("INSERT OR REPLACE INTO entries(session, seq, msg, qos, retain, state, pid)"
                     " VALUES(?,?,?,?,?,?,?)"),
    [S_ENTRY_DEL] = "DELETE FROM entries WHERE session = ? AND seq = ?",
    [S_RX_PUT] = "INSERT OR REPLACE INTO rx(session, pid) VALUES(?,?)",
    [S_RX_DEL] = "DELETE FROM rx WHERE session = ? AND pid = ?",
};

struct store {
    sqlite3 *db;
    sqlite3_stmt *stmt[S_COUNT];
    /* Highest ids committed, kept here so store_max_ids cannot fail. */
    uint64_t max_msg_id;
    uint64_t max_session_key;
    char *path; /* for messages and store_disk_bytes */
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* SQLite's message for the last error, with the OS's when there is one
 * (an I/O error says which). */
static void db_reason(sqlite3 *db, int rc, char *out, size_t cap)
{
    const char *msg = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    int sys = db ? sqlite3_system_errno(db) : 0;
    if (sys != 0)
        snprintf(out, cap, "%s: %s", msg, strerror(sys));
    else
        snprintf(out, cap, "%s", msg);
}

/* The error of a failed step of store_open, in the words the operator
 * needs: which case it is and what to do about it. */
static void open_error(const char *path, sqlite3 *db, int rc, char *err, size_t errlen)
{
    char why[512];
    db_reason(db, rc, why, sizeof why);
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        set_err(err, errlen,
                "database %s is in use by another process (another Starling?); stop it or "
                "use another persistence.path",
                path);
        break;
    case SQLITE_NOTADB:
    case SQLITE_CORRUPT:
        set_err(err, errlen,
                "%s: not a Starling database or corrupt (%s); move it away to start empty, "
                "or restore a backup",
                path, why);
        break;
    case SQLITE_CANTOPEN:
        set_err(err, errlen,
                "%s: cannot open or create the database (%s); check that its folder exists "
                "and is writable",
                path, why);
        break;
    case SQLITE_READONLY:
        set_err(err, errlen,
                "%s: cannot write the database (%s); check the permissions of the file and "
                "its folder, and that the file system is not read-only",
                path, why);
        break;
    default:
        set_err(err, errlen, "%s: cannot open the database (%s)", path, why);
        break;
    }
}

/* Run one statement of store_open that returns at most one integer. */
static int query_int(sqlite3 *db, const char *sql, int64_t *out)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
    if (rc != SQLITE_OK) return rc;
    *out = 0;
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(s, 0);
        rc = sqlite3_step(s);
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* PRAGMA quick_check: "ok", or the first problem found into why. Returns
 * SQLITE_OK with *ok set, or the error that stopped the check. */
static int quick_check(sqlite3 *db, bool *ok, char *why, size_t cap)
{
    sqlite3_stmt *s;
    int rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &s, NULL);
    if (rc != SQLITE_OK) return rc;
    *ok = false;
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const char *r = (const char *)sqlite3_column_text(s, 0);
        if (r == NULL && sqlite3_errcode(db) == SQLITE_NOMEM) {
            rc = SQLITE_NOMEM;
        } else {
            *ok = r != NULL && strcmp(r, "ok") == 0;
            snprintf(why, cap, "integrity check: %s", r ? r : "?");
            rc = SQLITE_DONE;
        }
    }
    sqlite3_finalize(s);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Inside the exclusive transaction of store_open: check the file is
 * Starling's (or empty), then create or migrate its schema. 0, or -1 with
 * err set (*rc holds SQLite's code when SQLite failed, else SQLITE_OK). */
static int check_schema(sqlite3 *db, const char *path, int *rc, char *err, size_t errlen)
{
    char why[256];
    bool ok;
    int64_t app_id, version, tables;
    if ((*rc = quick_check(db, &ok, why, sizeof why)) != SQLITE_OK) return -1;
    if (!ok) {
        set_err(err, errlen,
                "%s: not a Starling database or corrupt (%s); move it away to start empty, or "
                "restore a backup",
                path, why);
        return -1;
    }
    if ((*rc = query_int(db, "PRAGMA application_id", &app_id)) != SQLITE_OK ||
        (*rc = query_int(db, "PRAGMA user_version", &version)) != SQLITE_OK ||
        (*rc = query_int(db, "SELECT count(*) FROM sqlite_master", &tables)) != SQLITE_OK)
        return -1;
    bool empty = app_id == 0 && version == 0 && tables == 0;
    if (!empty && (app_id != STORE_APPLICATION_ID || version == 0)) {
        set_err(err, errlen,
                "%s: not a Starling database or corrupt (an SQLite database with %" PRId64
                " tables, application_id %" PRId64 ", user_version %" PRId64
                "); move it away to start empty, or restore a backup",
                path, tables, app_id, version);
        return -1;
    }
    if (version > STORE_SCHEMA_VERSION) {
        set_err(err, errlen,
                "%s: written by a newer Starling (schema %" PRId64
                ", this build reads up to %d); run that version, or move the file away to "
                "start empty",
                path, version, STORE_SCHEMA_VERSION);
        return -1;
    }
    if (version == STORE_SCHEMA_VERSION) return 0;
    for (int64_t v = version; v < STORE_SCHEMA_VERSION; v++)
        if ((*rc = sqlite3_exec(db, schema_steps[v], NULL, NULL, NULL)) != SQLITE_OK) return -1;
    char sql[96];
    snprintf(sql, sizeof sql, "PRAGMA application_id = %d; PRAGMA user_version = %d",
             STORE_APPLICATION_ID, STORE_SCHEMA_VERSION);
    if ((*rc = sqlite3_exec(db, sql, NULL, NULL, NULL)) != SQLITE_OK) return -1;
    return 0;
}

/* The connection's settings. locking_mode comes first: set before the
 * first access in WAL mode, SQLite keeps the WAL index in heap memory (no
 * -shm file) and holds an exclusive lock on the file until close. */
static int configure(sqlite3 *db, enum store_sync sync, char *mode, size_t cap)
{
    sqlite3_stmt *s;
    int rc = sqlite3_exec(db, "PRAGMA locking_mode = EXCLUSIVE", NULL, NULL, NULL);
    if (rc != SQLITE_OK) return rc;
    /* The first read of the file: locked, not-a-database and the like
     * show here. */
    if ((rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &s, NULL)) != SQLITE_OK)
        return rc;
    mode[0] = '\0';
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const char *m = (const char *)sqlite3_column_text(s, 0);
        snprintf(mode, cap, "%s", m ? m : "");
        rc = sqlite3_step(s);
    }
    sqlite3_finalize(s);
    if (rc != SQLITE_DONE) return rc;
    /* FULL: the WAL is synced at every commit. NORMAL: only at checkpoints,
     * so a power cut may lose the last commits, never the file. The
     * journal_size_limit truncates a WAL a big batch grew, once
     * checkpointed. */
    return sqlite3_exec(db,
                        sync == STORE_SYNC_FULL
                            ? "PRAGMA synchronous = FULL; PRAGMA journal_size_limit = 16777216;"
                              " PRAGMA cache_size = -16384"
                            : "PRAGMA synchronous = NORMAL; PRAGMA journal_size_limit = 16777216;"
                              " PRAGMA cache_size = -16384",
                        NULL, NULL, NULL);
}

void store_close(struct store *st)
{
    if (st == NULL) return;
    for (int i = 0; i < S_COUNT; i++)
        sqlite3_finalize(st->stmt[i]);
    sqlite3_close(st->db);
    sqlite3_free(st->path);
    sqlite3_free(st);
}

struct store *store_open(const char *path, enum store_sync sync, char *err, size_t errlen)
{
    set_err(err, errlen, "%s", "");
    /* SQLite reads these two names as a database that vanishes at close. */
    if (path[0] == '\0' || strcmp(path, ":memory:") == 0) {
        set_err(err, errlen,
                "\"%s\": not a file name for the database (SQLite keeps it in memory only); "
                "name a file, such as ./%s",
                path, path[0] ? path : "starling.db");
        return NULL;
    }
    /* sqlite3_malloc, so that the test's allocation failures reach these
     * too. */
    struct store *st = sqlite3_malloc(sizeof *st);
    if (st == NULL) {
        set_err(err, errlen, "%s: cannot open the database (out of memory)", path);
        return NULL;
    }
    memset(st, 0, sizeof *st);
    st->path = sqlite3_mprintf("%s", path);
    if (st->path == NULL) {
        sqlite3_free(st);
        set_err(err, errlen, "%s: cannot open the database (out of memory)", path);
        return NULL;
    }
    /* No URI names: a path is a file name, whatever it looks like. NOMUTEX:
     * one thread at a time uses the handle (store.h). */
    int rc = sqlite3_open_v2(
        path, &st->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) goto sqlite_fail;
    sqlite3_extended_result_codes(st->db, 1);
    /* Locked is refused at once, not waited on. */
    sqlite3_busy_timeout(st->db, 0);
    /* READWRITE silently falls back to read-only on a read-only file. */
    if (sqlite3_db_readonly(st->db, "main") == 1) {
        rc = SQLITE_READONLY;
        goto sqlite_fail;
    }
    char mode[16];
    if ((rc = configure(st->db, sync, mode, sizeof mode)) != SQLITE_OK) goto sqlite_fail;
    if (strcmp(mode, "wal") != 0) {
        set_err(err, errlen, "%s: cannot use WAL mode (journal mode stays \"%s\")", path, mode);
        goto fail;
    }
    /* One exclusive transaction checks, creates or migrates the schema;
     * the first write lock also makes sure the file is ours from now on. */
    if ((rc = sqlite3_exec(st->db, "BEGIN EXCLUSIVE", NULL, NULL, NULL)) != SQLITE_OK)
        goto sqlite_fail;
    if (check_schema(st->db, path, &rc, err, errlen) != 0) {
        sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        if (rc != SQLITE_OK) goto sqlite_fail;
        goto fail;
    }
    if ((rc = sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL)) != SQLITE_OK) {
        if (!sqlite3_get_autocommit(st->db)) sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
        goto sqlite_fail;
    }
    for (int i = 0; i < S_COUNT; i++)
        if ((rc = sqlite3_prepare_v3(st->db, stmt_sql[i], -1, SQLITE_PREPARE_PERSISTENT,
                                     &st->stmt[i], NULL)) != SQLITE_OK)
            goto sqlite_fail;
    int64_t max_msg, max_key;
    if ((rc = query_int(st->db, "SELECT max(id) FROM msgs", &max_msg)) != SQLITE_OK ||
        (rc = query_int(st->db, "SELECT max(key) FROM sessions", &max_key)) != SQLITE_OK)
        goto sqlite_fail;
    st->max_msg_id = (uint64_t)max_msg;
    st->max_session_key = (uint64_t)max_key;
    return st;
sqlite_fail:
    open_error(path, st->db, rc, err, errlen);
fail:
    store_close(st);
    return NULL;
}

/* A byte range as a BLOB. SQLite reads a NULL pointer as SQL NULL, so an
 * empty range is bound as an empty blob instead. */
static int bind_bytes(sqlite3_stmt *s, int i, const uint8_t *p, size_t n)
{
    if (n == 0) return sqlite3_bind_zeroblob(s, i, 0);
    return sqlite3_bind_blob64(s, i, p, n, SQLITE_STATIC);
}

static int bind_u64(sqlite3_stmt *s, int i, uint64_t v)
{
    return sqlite3_bind_int64(s, i, (sqlite3_int64)v);
}

/* Step a statement that returns no rows, and reset it. */
static int run(sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* Delete a session with its subscriptions, entries and rx ids. */
static int session_del(struct store *st, uint64_t key)
{
    static const int del[] = {S_SESSION_SUBS_DEL, S_SESSION_ENTRIES_DEL, S_SESSION_RX_DEL,
                              S_SESSION_DEL};
    for (size_t i = 0; i < sizeof del / sizeof del[0]; i++) {
        sqlite3_stmt *s = st->stmt[del[i]];
        int rc = bind_u64(s, 1, key);
        if (rc == SQLITE_OK) rc = run(s);
        if (rc != SQLITE_OK) return rc;
    }
    return SQLITE_OK;
}

/* A client id belongs to one session: a SESSION_PUT naming another
 * session's client id replaces that session whole (a UNIQUE failure would
 * make the batch fail on every retry). */
static int session_put(struct store *st, const struct store_op *op)
{
    sqlite3_stmt *s = st->stmt[S_SESSION_OTHER];
    int rc = bind_bytes(s, 1, op->a, op->a_len);
    if (rc == SQLITE_OK) rc = bind_u64(s, 2, op->key);
    if (rc != SQLITE_OK) return rc;
    rc = sqlite3_step(s);
    uint64_t other = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    if (rc == SQLITE_ROW)
        rc = session_del(st, other);
    else if (rc == SQLITE_DONE)
        rc = SQLITE_OK;
    if (rc != SQLITE_OK) return rc;
    s = st->stmt[S_SESSION_PUT];
    if ((rc = bind_u64(s, 1, op->key)) != SQLITE_OK ||
        (rc = bind_bytes(s, 2, op->a, op->a_len)) != SQLITE_OK ||
        (rc = op->has_user ? bind_bytes(s, 3, op->b, op->b_len) : sqlite3_bind_null(s, 3)) !=
            SQLITE_OK ||
        (rc = sqlite3_bind_int64(s, 4, op->time)) != SQLITE_OK)
        return rc;
    return run(s);
}

/* Bind and run the statement of one op (SQLITE_MISUSE for an unknown type). */
static int apply_one(struct store *st, const struct store_op *op)
{
    sqlite3_stmt *s;
    int rc;
    switch (op->type) {
    case STORE_MSG_PUT:
        s = st->stmt[S_MSG_PUT];
        if ((rc = bind_u64(s, 1, op->id)) != SQLITE_OK ||
            (rc = bind_bytes(s, 2, op->a, op->a_len)) != SQLITE_OK ||
            (rc = bind_bytes(s, 3, op->b, op->b_len)) != SQLITE_OK ||
            (rc = sqlite3_bind_int(s, 4, op->qos)) != SQLITE_OK ||
            (rc = sqlite3_bind_int(s, 5, op->retain)) != SQLITE_OK)
            return rc;
        return run(s);
    case STORE_MSG_DEL:
        s = st->stmt[S_MSG_DEL];
        if ((rc = bind_u64(s, 1, op->id)) != SQLITE_OK) return rc;
        return run(s);
    case STORE_RETAIN_PUT:
        s = st->stmt[S_RETAIN_PUT];
        if ((rc = bind_bytes(s, 1, op->a, op->a_len)) != SQLITE_OK ||
            (rc = bind_u64(s, 2, op->id)) != SQLITE_OK)
            return rc;
        return run(s);
    case STORE_RETAIN_DEL:
        s = st->stmt[S_RETAIN_DEL];
        if ((rc = bind_bytes(s, 1, op->a, op->a_len)) != SQLITE_OK) return rc;
        return run(s);
    case STORE_SESSION_PUT:
        return session_put(st, op);
    case STORE_SESSION_DEL:
        return session_del(st, op->key);
    case STORE_SUB_PUT:
        s = st->stmt[S_SUB_PUT];
        if ((rc = bind_u64(s, 1, op->key)) != SQLITE_OK ||
            (rc = bind_bytes(s, 2, op->a, op->a_len)) != SQLITE_OK ||
            (rc = sqlite3_bind_int(s, 3, op->qos)) != SQLITE_OK)
            return rc;
        return run(s);
    case STORE_SUB_DEL:
        s = st->stmt[S_SUB_DEL];
        if ((rc = bind_u64(s, 1, op->key)) != SQLITE_OK ||
            (rc = bind_bytes(s, 2, op->a, op->a_len)) != SQLITE_OK)
            return rc;
        return run(s);
    case STORE_ENTRY_PUT:
        s = st->stmt[S_ENTRY_PUT];
        if ((rc = bind_u64(s, 1, op->key)) != SQLITE_OK ||
            (rc = bind_u64(s, 2, op->seq)) != SQLITE_OK ||
            (rc = bind_u64(s, 3, op->id)) != SQLITE_OK ||
            (rc = sqlite3_bind_int(s, 4, op->qos)) != SQLITE_OK ||
            (rc = sqlite3_bind_int(s, 5, op->retain)) != SQLITE_OK ||
            (rc = sqlite3_bind_int(s, 6, op->state)) != SQLITE_OK ||
            (rc = sqlite3_bind_int(s, 7, op->pid)) != SQLITE_OK)
            return rc;
        return run(s);
    case STORE_ENTRY_DEL:
        s = st->stmt[S_ENTRY_DEL];
        if ((rc = bind_u64(s, 1, op->key)) != SQLITE_OK ||
            (rc = bind_u64(s, 2, op->seq)) != SQLITE_OK)
            return rc;
        return run(s);
    case STORE_RX_PUT:
    case STORE_RX_DEL:
        s = st->stmt[op->type == STORE_RX_PUT ? S_RX_PUT : S_RX_DEL];
        if ((rc = bind_u64(s, 1, op->key)) != SQLITE_OK ||
            (rc = sqlite3_bind_int(s, 2, op->pid)) != SQLITE_OK)
            return rc;
        return run(s);
    default:
        return SQLITE_MISUSE;
    }
}

/* Statements keep SQLITE_STATIC pointers to the caller's bytes after
 * store_apply returns; that is safe because every statement is reset and
 * is bound again before its next step. */
int store_apply(struct store *st, const struct store_op *ops, size_t n, char *err, size_t errlen)
{
    if (n == 0) return 0;
    uint64_t max_msg = st->max_msg_id, max_key = st->max_session_key;
    size_t i = 0;
    int rc = run(st->stmt[S_BEGIN]);
    bool begun = rc == SQLITE_OK;
    for (; rc == SQLITE_OK && i < n; i++) {
        if ((rc = apply_one(st, &ops[i])) != SQLITE_OK) break;
        if (ops[i].type == STORE_MSG_PUT && ops[i].id > max_msg) max_msg = ops[i].id;
        if (ops[i].type == STORE_SESSION_PUT && ops[i].key > max_key) max_key = ops[i].key;
    }
    if (rc == SQLITE_OK) rc = run(st->stmt[S_COMMIT]);
    if (rc == SQLITE_OK) {
        st->max_msg_id = max_msg;
        st->max_session_key = max_key;
        return 0;
    }
    char why[512];
    if (begun && i < n && ops[i].type > STORE_RX_DEL)
        snprintf(why, sizeof why, "op %zu has unknown type %u", i, ops[i].type);
    else
        db_reason(st->db, rc, why, sizeof why);
    set_err(err, errlen, "%s: cannot write the database (%s)", st->path, why);
    /* SQLite rolls back by itself after some errors (disk full, I/O); then
     * there is no transaction left to end. */
    if (!sqlite3_get_autocommit(st->db)) run(st->stmt[S_ROLLBACK]);
    return -1;
}

/* Bytes of a BLOB column; never NULL, so callers may memcpy from it. */
static const uint8_t *col_bytes(sqlite3_stmt *s, int i, size_t *len)
{
    const uint8_t *p = sqlite3_column_blob(s, i);
    *len = (size_t)sqlite3_column_bytes(s, i);
    return p ? p : (const uint8_t *)"";
}

/* The queries of store_load, in the order it reports. Children are reported
 * only for a session that exists, an entry only with its message (or none,
 * once released) and a retained topic only with its message, so the caller
 * never meets a dangling reference. */
enum { L_MSG, L_RETAINED, L_SESSION, L_SUB, L_ENTRY, L_RX, L_COUNT };
static const char *const load_sql[L_COUNT] = {
    [L_MSG] = "SELECT id, topic, payload, qos, retain FROM msgs ORDER BY id",
    [L_RETAINED] = ("SELECT r.topic, r.msg FROM retained r JOIN msgs m ON m.id = r.msg"
                    " ORDER BY r.topic"),
    [L_SESSION] = ("SELECT key, client_id, user, offline_since FROM sessions"
                   " ORDER BY offline_since = 0, offline_since, key"),
    [L_SUB] = ("SELECT s.session, s.filter, s.qos FROM subs s"
               " WHERE s.session IN (SELECT key FROM sessions) ORDER BY s.session, s.filter"),
    [L_ENTRY] = ("SELECT e.session, e.seq, e.msg, e.qos, e.retain, e.state, e.pid FROM entries e"
                 " WHERE e.session IN (SELECT key FROM sessions)"
                 " AND (e.msg = 0 OR EXISTS (SELECT 1 FROM msgs m WHERE m.id = e.msg))"
                 " ORDER BY e.session, e.seq"),
    [L_RX] = ("SELECT x.session, x.pid FROM rx x WHERE x.session IN (SELECT key FROM sessions)"
              " ORDER BY x.session, x.pid"),
};

/* Report one row to its callback. */
static int load_row(int which, sqlite3_stmt *s, const struct store_loader *l)
{
    size_t n1, n2;
    const uint8_t *p1, *p2;
    switch (which) {
    case L_MSG:
        p1 = col_bytes(s, 1, &n1);
        p2 = col_bytes(s, 2, &n2);
        return l->msg(l->ctx, (uint64_t)sqlite3_column_int64(s, 0), p1, n1, p2, n2,
                      (uint8_t)sqlite3_column_int(s, 3), sqlite3_column_int(s, 4) != 0);
    case L_RETAINED:
        p1 = col_bytes(s, 0, &n1);
        return l->retained(l->ctx, p1, n1, (uint64_t)sqlite3_column_int64(s, 1));
    case L_SESSION: {
        bool has_user = sqlite3_column_type(s, 2) != SQLITE_NULL;
        p1 = col_bytes(s, 1, &n1);
        p2 = col_bytes(s, 2, &n2);
        return l->session(l->ctx, (uint64_t)sqlite3_column_int64(s, 0), p1, n1, has_user, p2, n2,
                          sqlite3_column_int64(s, 3));
    }
    case L_SUB:
        p1 = col_bytes(s, 1, &n1);
        return l->sub(l->ctx, (uint64_t)sqlite3_column_int64(s, 0), p1, n1,
                      (uint8_t)sqlite3_column_int(s, 2));
    case L_ENTRY:
        return l->entry(l->ctx, (uint64_t)sqlite3_column_int64(s, 0),
                        (uint64_t)sqlite3_column_int64(s, 1), (uint64_t)sqlite3_column_int64(s, 2),
                        (uint8_t)sqlite3_column_int(s, 3), sqlite3_column_int(s, 4) != 0,
                        (uint8_t)sqlite3_column_int(s, 5), (uint16_t)sqlite3_column_int(s, 6));
    default:
        return l->rx(l->ctx, (uint64_t)sqlite3_column_int64(s, 0),
                     (uint16_t)sqlite3_column_int(s, 1));
    }
}

static bool has_callback(int which, const struct store_loader *l)
{
    switch (which) {
    case L_MSG:
        return l->msg != NULL;
    case L_RETAINED:
        return l->retained != NULL;
    case L_SESSION:
        return l->session != NULL;
    case L_SUB:
        return l->sub != NULL;
    case L_ENTRY:
        return l->entry != NULL;
    default:
        return l->rx != NULL;
    }
}

int store_load(struct store *st, const struct store_loader *l, char *err, size_t errlen)
{
    set_err(err, errlen, "%s", "");
    /* One read transaction: one snapshot, and no lock dance per query. */
    int rc = sqlite3_exec(st->db, "BEGIN", NULL, NULL, NULL);
    bool stopped = false;
    for (int which = 0; rc == SQLITE_OK && !stopped && which < L_COUNT; which++) {
        if (!has_callback(which, l)) continue;
        sqlite3_stmt *s;
        if ((rc = sqlite3_prepare_v2(st->db, load_sql[which], -1, &s, NULL)) != SQLITE_OK) break;
        while ((rc = sqlite3_step(s)) == SQLITE_ROW)
            if (load_row(which, s, l) != 0) {
                stopped = true;
                break;
            }
        if (rc == SQLITE_DONE || stopped) rc = SQLITE_OK;
        sqlite3_finalize(s);
    }
    char why[512];
    if (rc != SQLITE_OK) db_reason(st->db, rc, why, sizeof why);
    if (!sqlite3_get_autocommit(st->db)) sqlite3_exec(st->db, "COMMIT", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        set_err(err, errlen, "%s: cannot read the database (%s)", st->path, why);
        return -1;
    }
    if (stopped) {
        if (errlen > 0 && err[0] == '\0') set_err(err, errlen, "stopped");
        return -1;
    }
    return 0;
}

void store_max_ids(struct store *st, uint64_t *msg_id, uint64_t *session_key)
{
    *msg_id = st->max_msg_id;
    *session_key = st->max_session_key;
}

static uint64_t file_bytes(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

uint64_t store_disk_bytes(const struct store *st)
{
    char wal[4096];
    int n = snprintf(wal, sizeof wal, "%s-wal", st->path);
    uint64_t wal_bytes = n > 0 && (size_t)n < sizeof wal ? file_bytes(wal) : 0;
    return file_bytes(st->path) + wal_bytes;
}
