/* MQTT client side of the load generator: packets put into a bconn's write
 * buffer, and the publisher's QoS 1/2 window of packet identifiers (each
 * slot remembers the sequence number it carries until PUBACK/PUBCOMP). */
#ifndef STARLING_BENCH_CLIENT_H
#define STARLING_BENCH_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tests/bench/net.h"

/* Each returns false when the packet does not fit in the write buffer. */
/* clean: the clean-session flag; false asks the broker to keep the session. */
bool put_connect(struct bconn *c, const char *client_id, bool clean);
bool put_subscribe(struct bconn *c, uint16_t packet_id, const char *filter, uint8_t qos);
bool put_publish(struct bconn *c, const char *topic, uint8_t qos, bool retain, uint16_t packet_id,
                 const uint8_t *payload, size_t len);
/* PUBACK, PUBREC, PUBREL, PUBCOMP with a packet id; PINGREQ, DISCONNECT without. */
bool put_ack(struct bconn *c, enum mqtt_type type, uint16_t packet_id);

enum { SLOT_FREE, SLOT_WAIT_ACK, SLOT_WAIT_COMP };

struct pubwin {
    uint8_t *slot; /* 65536 entries, indexed by packet id */
    uint64_t *seq; /* the sequence number each busy slot carries */
    uint32_t inflight, limit;
    uint16_t next;
};

bool pubwin_init(struct pubwin *w, uint32_t limit);
void pubwin_free(struct pubwin *w);
bool pubwin_full(const struct pubwin *w);
/* Takes a free packet id for sequence `seq` (the window must not be full). */
uint16_t pubwin_take(struct pubwin *w, uint64_t seq);

/* Applies PUBACK, PUBREC or PUBCOMP. Returns 1 when the message is complete
 * (*seq set), 0 when a PUBREL must be sent (PUBREC), -1 when the packet id
 * is not awaiting that acknowledgement (a protocol error by the broker). */
int pubwin_ack(struct pubwin *w, enum mqtt_type type, uint16_t packet_id, uint64_t *seq);

#endif
