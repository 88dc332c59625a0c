/* Session lifecycle in the broker: find or create the session for a CONNECT
 * (clean-session rules of 3.1.2.4, limits.max_sessions), take persistent
 * sessions offline and expire them (limits.session_expiry), and destroy one
 * with its subscriptions. */
#ifndef STARLING_BROKER_SESSION_MGR_H
#define STARLING_BROKER_SESSION_MGR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct broker;
struct session;

/* The session for client id (created if needed; an old one is discarded
 * first when clean or expired). *present tells whether stored state was
 * resumed. A new session past limits.max_sessions evicts the oldest offline
 * one. NULL with *why set when out of memory or when every session is
 * online at the limit (refused). The caller attaches its connection. */
struct session *session_open(struct broker *b, const uint8_t *id, size_t len, bool clean,
                             bool *present, const char **why);

/* The session's client disconnected: a clean one is destroyed, a
 * persistent one joins the offline list and its expiry clock starts. */
void session_offline(struct broker *b, struct session *s);

/* Remove the session's subscriptions from the router and forget it; its
 * memory is released at the end of the loop turn. */
void session_destroy(struct broker *b, struct session *s);

/* b->expiry_timer fired: destroy the sessions offline for session_expiry
 * (a bounded batch per turn) and re-arm for the next. */
void session_expiry_on_timer(struct broker *b);
/* Point b->expiry_timer at the oldest offline session's deadline (after a
 * reload changed limits.session_expiry, or when the list was empty). */
void session_expiry_arm(struct broker *b);

#endif
