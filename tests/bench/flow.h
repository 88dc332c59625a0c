/* The message-flow scenarios (fanin_qos0, fanin_qos1, fanout, latency,
 * qos2): P publishers and S subscribers on one topic, one epoll loop.
 * Shared state of one run, used by flow.c (setup, loop, verdict) and
 * flow_io.c (what each connection does with the packets it receives). */
#ifndef STARLING_BENCH_FLOW_H
#define STARLING_BENCH_FLOW_H

#include "tests/bench/bench.h"
#include "tests/bench/client.h"
#include "tests/bench/meter.h"
#include "tests/bench/net.h"
#include "tests/bench/track.h"

#define FLOW_TOPIC "bench/flow"

struct flow_pub {
    struct bconn c;
    bool ready; /* CONNACK received */
    uint64_t sent, acked,
        received;        /* received: distinct deliveries of its messages, all subscribers */
    uint8_t *acked_bits; /* per sequence: the broker acknowledged it */
    struct pubwin win;
};

struct flow_sub {
    struct bconn c;
    bool ready;   /* SUBACK received */
    uint8_t *rel; /* QoS 2: 65536 bits, packet ids awaiting PUBREL */
};

struct flow {
    const struct bench_opts *o;
    struct bench_result *r;
    int epfd;
    struct flow_pub *pubs;
    struct flow_sub *subs;
    struct track track;
    uint64_t per_pub; /* messages each publisher sends */
    uint64_t total_sent, distinct;
    uint64_t bad_payload, bad_ack;
    int ready_pubs, ready_subs;
    int64_t now, t_start, t_last_recv; /* t_start: first send, 0 before */
    int64_t t_progress;                /* last delivery or acknowledgement */
    char end[160];                     /* why the loop ended early, "" if it did not */
    uint8_t *payload;
    struct meter meter;
    struct btls *tls; /* NULL: plain TCP */
};

/* Packet callbacks for bconn_event: c->owner is the flow, c->index the
 * publisher index, or pubs + subscriber index. */
int flow_on_packet(struct bconn *c, const struct mqtt_packet *p);

/* Fills publisher i's write buffer as far as the windows and pacing allow,
 * then writes once. Returns true if it stopped only for lack of buffer. */
bool flow_pump(struct flow *f, int i);

#endif
