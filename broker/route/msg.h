/* An application message as the router sees it: immutable after creation,
 * reference-counted, one allocation. The payload is copied once on the way
 * in and then shared by every subscriber, session queue and the retained
 * store. The topic is stored with its 2-byte length prefix so it can be
 * written to a socket as-is. Single-threaded: refcounts are not atomic. */
#ifndef STARLING_BROKER_MSG_H
#define STARLING_BROKER_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct msg {
    uint32_t refs;
    /* References to it from stored state (retained topic, session entries):
     * persist.c stores it when this becomes 1 and deletes it at 0. */
    uint32_t store_refs;
    uint64_t store_id; /* its id in the store once stored, else 0 */
    uint8_t qos;
    bool retain;
    uint16_t topic_len;
    size_t payload_len;
    const uint8_t *topic;   /* topic_len bytes, not NUL-terminated */
    const uint8_t *payload; /* payload_len bytes */
    uint8_t wire[];         /* [len hi][len lo][topic][payload] */
};

/* NULL on out of memory. refs starts at 1. */
struct msg *msg_new(const uint8_t *topic, size_t topic_len, const uint8_t *payload,
                    size_t payload_len, uint8_t qos, bool retain);
struct msg *msg_ref(struct msg *m);
void msg_unref(struct msg *m);

/* The topic with its length prefix, ready to be written (2 + topic_len bytes). */
static inline const uint8_t *msg_topic_wire(const struct msg *m)
{
    return m->wire;
}

#endif
