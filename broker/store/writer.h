/* The store's writer thread: it owns the store while the broker serves and
 * applies one batch of ops at a time (store_apply: one transaction and its
 * commit, fsync included), so the event loop never waits for the disk. The
 * loop learns that a batch finished when the eventfd becomes readable. One
 * batch at most is with the writer; its ops and every byte they point to
 * must stay untouched until writer_result reports it. */
#ifndef STARLING_BROKER_WRITER_H
#define STARLING_BROKER_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/store/store.h"

struct writer;

/* Start the thread; it takes over st. NULL (err set) on failure. */
struct writer *writer_start(struct store *st, char *err, size_t errlen);
/* Stop the thread after the batch in progress, close the store, free. */
void writer_stop(struct writer *w);

/* Readable when a submitted batch finished. */
int writer_fd(const struct writer *w);
bool writer_busy(const struct writer *w);
/* Hand a batch over (the writer must not be busy). */
void writer_submit(struct writer *w, const struct store_op *ops, size_t n);
/* After writer_fd was readable: 1 and the batch's outcome (0 committed,
 * -1 failed: nothing applied, reason in err) in *result once it finished,
 * 0 while it is still running. */
int writer_poll(struct writer *w, int *result, char *err, size_t errlen);
/* Block until the batch in progress finished; its outcome as writer_poll's. */
int writer_wait(struct writer *w, char *err, size_t errlen);

/* How long the batch last reported took to apply and commit (us). */
uint64_t writer_last_us(const struct writer *w);

#endif
