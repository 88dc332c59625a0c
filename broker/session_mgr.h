/* Session lifecycle in the broker: find or create the session for a CONNECT
 * (clean-session rules of 3.1.2.4), and destroy one with its subscriptions. */
#ifndef STARLING_BROKER_SESSION_MGR_H
#define STARLING_BROKER_SESSION_MGR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct broker;
struct session;

/* The session for client id (created if needed; an old one is discarded
 * first when clean). *present tells whether stored state was resumed.
 * NULL on out of memory. The caller attaches its connection. */
struct session *session_open(struct broker *b, const uint8_t *id, size_t len, bool clean,
                             bool *present);

/* Remove the session's subscriptions from the router and forget it; its
 * memory is released at the end of the loop turn. */
void session_destroy(struct broker *b, struct session *s);

#endif
