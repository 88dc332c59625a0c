/* Internal to broker/store/: the persistence state shared by persist.c
 * (recording and group commit) and restore.c (loading at start). */
#ifndef STARLING_BROKER_PERSIST_INTERNAL_H
#define STARLING_BROKER_PERSIST_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/store/batch.h"
#include "config/config.h"

struct broker;
struct store;
struct writer;

struct persist {
    enum persistence_mode mode;
    struct writer *w;
    /* batch[cur] fills; batch[cur ^ 1] is with the writer while committing
     * (also after a failure, until it is retried with success). */
    struct batch batch[2];
    uint8_t cur;
    bool committing;
    /* Batch numbers: the one filling, the one committing, the last one
     * committed. Output held for batch n leaves once done_no >= n. */
    uint32_t open_no, committing_no, done_no;
    uint64_t next_msg_id, next_key; /* the last used */
    bool failing;
    uint32_t retry_ms;
    uint64_t fail_log_ms;
    uint64_t lost;     /* changes not recorded for lack of memory */
    uint64_t recorded; /* changes recorded, ever */
};

/* Append one op to the filling batch (batch_add's arguments); out of
 * memory is logged and counted. */
void persist_record(struct broker *b, const struct store_op *op, bool copy_a, bool copy_b,
                    struct msg *keep);

struct persist_restored {
    size_t retained, sessions, entries;
};
/* Load st into b (router, retained store, sessions) at start. -1 with err. */
int persist_restore(struct broker *b, struct store *st, struct persist_restored *got, char *err,
                    size_t errlen);

/* CLOCK_REALTIME in ms: offline times survive a restart in these. */
int64_t persist_wall_ms(void);

#endif
