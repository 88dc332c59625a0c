/* Message delivery: route a message through the trie to every matching
 * session once, at min(message QoS, highest granted QoS); put it on the
 * wire, in the inflight window, or in the session queue; resend and drain
 * when a client comes back or acks. */
#ifndef STARLING_BROKER_DELIVER_H
#define STARLING_BROKER_DELIVER_H

#include <stdbool.h>
#include <stdint.h>

#include <stddef.h>

#include "broker/route/msg.h"

struct broker;
struct session;

/* A message being delivered. Its bytes may still be in a connection's read
 * buffer: a msg (one allocation and copy) is made only when something must
 * keep the message (a queue, the inflight window, the retained store, or a
 * large payload shared by reference), so small QoS 0 traffic allocates
 * nothing per message. */
struct pub {
    const uint8_t *topic;
    uint16_t topic_len;
    const uint8_t *payload;
    size_t payload_len;
    uint8_t qos;
    bool retain;
    struct msg *m; /* the kept form, once made */
    bool own;      /* m was made here and is released by pub_release */
};

/* A pub over the bytes of a decoded PUBLISH (or will, retained message). */
struct pub pub_of_bytes(const uint8_t *topic, size_t topic_len, const uint8_t *payload,
                        size_t payload_len, uint8_t qos, bool retain);
/* A pub over an existing msg (borrowed: the caller keeps its reference). */
struct pub pub_of_msg(struct msg *m);
/* The kept form, made on first use; NULL on out of memory. */
struct msg *pub_msg(struct pub *p);
void pub_release(struct pub *p);

/* A client (or a will) published p: update the retained store if p->retain,
 * then deliver to every matching subscription with RETAIN=0. */
void broker_publish(struct broker *b, struct pub *p);

/* Publish the will of session s after the current packet is handled (takes
 * a ref), if the ACL lets s publish to its topic. */
void broker_queue_will(struct broker *b, struct msg *will, const struct session *s,
                       const char *addr);
/* Publish the queued wills. */
void broker_publish_wills(struct broker *b);

/* Deliver m to one session at qos (already downgraded) with the given RETAIN flag. */
void session_deliver(struct broker *b, struct session *s, struct pub *p, uint8_t qos, bool retain);

/* The session is no longer at its queue bound (drained, or went offline):
 * publishers held back for it may go on. */
void session_uncongest(struct broker *b, struct session *s);

/* Send queued messages while the window has room (after an ack or reconnect). */
void session_pump(struct broker *b, struct session *s);

/* On reconnect of a persistent session: resend the window in order, PUBLISH
 * with DUP=1 or PUBREL, with the original packet ids (MQTT-4.4.0-1). */
void session_resend(struct broker *b, struct session *s);

#endif
