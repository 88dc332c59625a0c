/* Message delivery: route a message through the trie to every matching
 * session once, at min(message QoS, highest granted QoS); put it on the
 * wire, in the inflight window, or in the session queue; resend and drain
 * when a client comes back or acks. */
#ifndef STARLING_BROKER_DELIVER_H
#define STARLING_BROKER_DELIVER_H

#include <stdbool.h>
#include <stdint.h>

struct broker;
struct session;
struct msg;

/* A client (or a will) published m: update the retained store if m->retain,
 * then deliver to every matching subscription with RETAIN=0. */
void broker_publish(struct broker *b, struct msg *m);

/* Publish a will after the current packet is handled (takes a ref). */
void broker_queue_will(struct broker *b, struct msg *will, const char *addr);
/* Publish the queued wills. */
void broker_publish_wills(struct broker *b);

/* Deliver m to one session at qos (already downgraded) with the given RETAIN flag. */
void session_deliver(struct broker *b, struct session *s, struct msg *m, uint8_t qos, bool retain);

/* The session is no longer at its queue bound (drained, or went offline):
 * publishers held back for it may go on. */
void session_uncongest(struct broker *b, struct session *s);

/* Send queued messages while the window has room (after an ack or reconnect). */
void session_pump(struct broker *b, struct session *s);

/* On reconnect of a persistent session: resend the window in order, PUBLISH
 * with DUP=1 or PUBREL, with the original packet ids (MQTT-4.4.0-1). */
void session_resend(struct broker *b, struct session *s);

#endif
