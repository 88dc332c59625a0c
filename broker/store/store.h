/* Durable storage of broker state behind one small interface, so the backend
 * can change (the one backend is SQLite in WAL mode, store_sqlite.c). What is
 * stored: messages (once each, by id), the retained message of each topic (a
 * reference to a message), persistent sessions (an integer key, client id,
 * user name, when they went offline) with their subscriptions, their outgoing
 * entries (queued or inflight, in send order, each a reference to a message)
 * and their inbound QoS 2 packet ids awaiting PUBREL.
 *
 * Threading: store_open and store_load run on the loop thread before the
 * broker serves; afterwards store_apply runs on the store's writer thread
 * only. A store handle is used by one thread at a time. Ids and keys are
 * chosen by the caller (store_load reports the highest in use). */
#ifndef STARLING_BROKER_STORE_H
#define STARLING_BROKER_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/* The schema this build writes. Older versions are migrated forward at
 * open; a newer one is refused (a newer Starling wrote it). */
#define STORE_SCHEMA_VERSION 1

enum store_sync {
    STORE_SYNC_FULL,   /* each commit is on disk when store_apply returns (durable) */
    STORE_SYNC_NORMAL, /* WAL with synchronous=NORMAL: a power cut may lose the last commits */
};

/* Open (creating if absent) the database at path: WAL mode, schema checked
 * or created or migrated. Refused, with a message naming the file and what
 * to do in err: cannot be opened or created; locked by another process (a
 * second broker on the same file: the store takes an exclusive lock for as
 * long as it is open); not a database or corrupt (integrity check at open);
 * schema newer than STORE_SCHEMA_VERSION. NULL on failure. */
struct store *store_open(const char *path, enum store_sync sync, char *err, size_t errlen);
void store_close(struct store *st);

/* One change. Which fields matter depends on the type (listed per type);
 * byte ranges are borrowed for the duration of store_apply. */
enum store_op_type {
    STORE_MSG_PUT,     /* id, a=topic, b=payload, qos, retain (insert or replace) */
    STORE_MSG_DEL,     /* id */
    STORE_RETAIN_PUT,  /* a=topic, id=message id (insert or replace) */
    STORE_RETAIN_DEL,  /* a=topic */
    STORE_SESSION_PUT, /* key, a=client id, b=user name if has_user, time=offline since
                          (wall-clock ms since the epoch, 0 = online) (insert or update:
                          the session's children stay; a client id another key holds
                          takes that session's place, which is deleted as by SESSION_DEL) */
    STORE_SESSION_DEL, /* key: the session with its subscriptions, entries and rx ids */
    STORE_SUB_PUT,     /* key, a=filter, qos (insert or replace) */
    STORE_SUB_DEL,     /* key, a=filter */
    STORE_ENTRY_PUT,   /* key, seq, id=message id (0 once released: WAIT_PUBCOMP), qos,
                          retain, state (0 = queued, else session.h's inflight_state),
                          pid (insert or replace) */
    STORE_ENTRY_DEL,   /* key, seq */
    STORE_RX_PUT,      /* key, pid */
    STORE_RX_DEL,      /* key, pid */
};

struct store_op {
    uint8_t type; /* enum store_op_type */
    uint8_t qos;
    uint8_t state;
    bool retain;
    bool has_user;
    /* Ignored by the store: set on an ENTRY_PUT that creates its row, so a
     * batch can drop an entry created and deleted within it (batch.h). */
    bool created;
    uint16_t pid;
    uint64_t id;  /* message id */
    uint64_t key; /* session key */
    uint64_t seq; /* entry sequence within its session */
    int64_t time; /* SESSION_PUT: offline since */
    const uint8_t *a;
    size_t a_len;
    const uint8_t *b;
    size_t b_len;
};

/* Apply ops in order as one transaction and commit it (all or nothing).
 * 0, or -1 with the file and the reason in err (disk full, I/O error, an
 * unknown op type): nothing of the batch is applied then, and the same
 * batch may be tried again (the file stays locked meanwhile). */
int store_apply(struct store *st, const struct store_op *ops, size_t n, char *err, size_t errlen);

/* What is stored, reported in this order: every message (by id), every
 * retained topic, every session (oldest offline first, online ones last, by
 * key among equals), then subscriptions, entries (per session in seq order)
 * and rx ids, each by session key. A row whose session, or message, is not
 * stored is not reported (an entry's message id 0 is reported). A NULL
 * callback skips its rows. A callback returning nonzero stops the load
 * (store_load then returns -1, err as the callback left it through its ctx
 * if err is that buffer, else "stopped"). Byte ranges are valid during the
 * call and never NULL. */
struct store_loader {
    void *ctx;
    int (*msg)(void *ctx, uint64_t id, const uint8_t *topic, size_t topic_len,
               const uint8_t *payload, size_t payload_len, uint8_t qos, bool retain);
    int (*retained)(void *ctx, const uint8_t *topic, size_t topic_len, uint64_t msg_id);
    int (*session)(void *ctx, uint64_t key, const uint8_t *client_id, size_t id_len, bool has_user,
                   const uint8_t *user, size_t user_len, int64_t offline_since);
    int (*sub)(void *ctx, uint64_t key, const uint8_t *filter, size_t len, uint8_t qos);
    int (*entry)(void *ctx, uint64_t key, uint64_t seq, uint64_t msg_id, uint8_t qos, bool retain,
                 uint8_t state, uint16_t pid);
    int (*rx)(void *ctx, uint64_t key, uint16_t pid);
};
int store_load(struct store *st, const struct store_loader *l, char *err, size_t errlen);

/* The highest message id and session key stored at open or committed
 * since (0 if none), for the caller to continue from. Cannot fail. */
void store_max_ids(struct store *st, uint64_t *msg_id, uint64_t *session_key);

/* Bytes the database file and its WAL take now (their sizes). */
uint64_t store_disk_bytes(const struct store *st);

#endif
