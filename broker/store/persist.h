/* The broker's side of persistence (config persistence.mode): every change
 * to stored state (retained topics, persistent sessions, their
 * subscriptions, outgoing entries and inbound QoS 2 ids) is recorded here as
 * it happens in memory, into the open batch; batches are committed by the
 * writer thread (writer.h) one at a time while the next fills (group
 * commit: one commit per loop turn or more under load, never one per
 * message).
 *
 * durable: output produced while a batch with changes is open or
 * committing (acks above all) is held on its connection until that batch is
 * committed (conn_hold.c), so nothing acknowledged is lost to a crash.
 * periodic: a batch is committed every flush_interval_ms and at shutdown;
 * nothing is held.
 *
 * Every function is a no-op with persistence off, and the session ones for
 * clean sessions. Messages are stored once, with a count of the stored
 * references to them (msg.h store_refs). */
#ifndef STARLING_BROKER_PERSIST_H
#define STARLING_BROKER_PERSIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct broker;
struct session;
struct inflight;
struct msg;

/* At start, after the router and stores exist: open the database, restore
 * what it holds into b, start the writer. -1 (logged with the file and what
 * to do) if it cannot be opened or read; b must not serve then. */
int persist_open(struct broker *b);
/* At shutdown: persistent sessions still online are recorded offline, the
 * last batch is committed (retried for a while on a failing disk), the
 * writer stopped and the database closed. */
void persist_close(struct broker *b);

/* The writer's eventfd is readable: a commit finished (or failed). */
void persist_on_commit(struct broker *b);
/* End of a loop turn (before output is flushed): hand the open batch to the
 * writer when durable and it is idle, release what nothing holds. */
void persist_end_turn(struct broker *b);
/* The periodic flush or retry timer fired. */
void persist_on_timer(struct broker *b);

/* durable, and a batch with changes is open or committing: output queued
 * now must wait for it (its number: persist_open_batch). */
bool persist_holding(const struct broker *b);
uint32_t persist_open_batch(const struct broker *b);
/* More than persistence.max_pending_bytes waits for the disk: hold the
 * client that adds more back (woken when a commit completes). */
bool persist_backlogged(const struct broker *b);
/* Changes recorded so far (0 with persistence off): whether handling a
 * packet added any. */
uint64_t persist_changes(const struct broker *b);

void persist_retained(struct broker *b, const uint8_t *topic, size_t len, struct msg *old,
                      struct msg *now);
void persist_session_online(struct broker *b, struct session *s);
void persist_session_offline(struct broker *b, struct session *s);
void persist_session_gone(struct broker *b, struct session *s);
void persist_sub(struct broker *b, struct session *s, const uint8_t *filter, size_t len,
                 uint8_t qos);
void persist_unsub(struct broker *b, struct session *s, const uint8_t *filter, size_t len);
/* A new entry (queued, or straight into the window) holding m. */
void persist_entry_new(struct broker *b, struct session *s, uint64_t seq, struct msg *m,
                       uint8_t qos, bool retain, uint8_t state, uint16_t pid);
/* e changed: left the queue for the window, or PUBREC released its
 * message (call before e->m is dropped: its stored reference goes too). */
void persist_entry_update(struct broker *b, struct session *s, const struct inflight *e);
/* The entry seq (holding m, or NULL) is gone: acknowledged or dropped. */
void persist_entry_done(struct broker *b, struct session *s, uint64_t seq, struct msg *m);
void persist_rx(struct broker *b, struct session *s, uint16_t pid, bool awaiting);

#endif
