/* PUBLISH from a client and the acknowledgements of both QoS flows. */
#include "broker/access.h"
#include "broker/broker.h"
#include "broker/route/deliver.h"
#include "broker/handle/handlers.h"
#include "broker/route/msg.h"
#include "broker/session/session.h"
#include "broker/store/persist.h"

static void send_ack(struct broker *b, struct conn *c, enum mqtt_type type, uint16_t pid)
{
    uint8_t ack[4] = {(uint8_t)(type << 4 | (type == MQTT_PUBREL ? 0x02 : 0)), 2,
                      (uint8_t)(pid >> 8), (uint8_t)pid}; /* MQTT-2.3.1-6 */
    if (conn_after_commit(b, c)) conn_send(b, c, ack, sizeof(ack));
}

/* Out of memory on the way only costs the subscribers it hits (counted and
 * logged in deliver.c): the publisher's packet is still handled. A publish
 * the ACL denies is dropped here, retained or not; its QoS flow completes
 * as usual (as Mosquitto: the client is not told). */
static void route(struct broker *b, struct conn *c, const struct mqtt_publish *p)
{
    if (!access_may_publish(b, c->session, p->topic.data, p->topic.len, "PUBLISH")) return;
    struct pub pub = pub_of_bytes(p->topic.data, p->topic.len, p->payload.data, p->payload.len,
                                  p->qos, p->retain);
    b->route_congested = false;
    broker_publish(b, &pub);
    pub_release(&pub);
    /* A subscriber it feeds is at its queue bound: stop reading from this
     * publisher until it drains, so TCP slows the publisher down. */
    if (b->route_congested) conn_pause(b, c, CONN_PAUSE_SUBSCRIBERS);
}

/* Every level costs a trie node when routed or retained, so a topic over
 * limits.max_topic_levels is a protocol violation by our bound: the
 * connection is closed (will published, as for any protocol error). The
 * length test keeps common topics free of the scan: n levels need n-1 bytes. */
static bool topic_too_deep(struct broker *b, struct conn *c, const struct mqtt_publish *p)
{
    uint32_t max = b->cfg.limits.max_topic_levels;
    if (p->topic.len < max) return false;
    size_t n = mqtt_topic_levels(p->topic.data, p->topic.len);
    if (n <= max) return false;
    b->stats.protocol_errors++;
    b->stats.refused_topic_levels++;
    log_warning(&b->log,
                "protocol error: client=%s addr=%s: topic has %zu levels, over "
                "limits.max_topic_levels (%u)",
                conn_client_id(c), c->addr, n, max);
    conn_close(b, c, "topic over limits.max_topic_levels", true);
    return true;
}

void handle_publish(struct broker *b, struct conn *c, const struct mqtt_publish *p)
{
    if (topic_too_deep(b, c, p)) return;
    b->stats.msgs_received++;
    switch (p->qos) {
    case 0:
        route(b, c, p);
        break;
    case 1: /* MQTT-4.3.2-2: PUBACK once the message is routed (ours) */
        route(b, c, p);
        send_ack(b, c, MQTT_PUBACK, p->packet_id);
        break;
    case 2: { /* MQTT-4.3.3-2: a re-sent id before PUBREL is not routed twice */
        int fresh = session_rx_qos2_add(c->session, p->packet_id);
        if (fresh < 0) {
            conn_close(b, c, "out of memory", true); /* MQTT-4.8.0-2 */
            return;
        }
        if (fresh) {
            persist_rx(b, c->session, p->packet_id, true);
            route(b, c, p);
        }
        send_ack(b, c, MQTT_PUBREC, p->packet_id);
        break;
    }
    }
}

void handle_ack(struct broker *b, struct conn *c, enum mqtt_type type, uint16_t pid)
{
    struct session *s = c->session;
    struct inflight *e;
    switch (type) {
    case MQTT_PUBACK:
        if ((e = session_inflight_find(s, pid, WAIT_PUBACK))) {
            persist_entry_done(b, s, e->seq, e->m);
            session_inflight_release(s, e);
            session_pump(b, s);
        }
        break;
    case MQTT_PUBREC: /* MQTT-4.3.3-1: from now on only PUBREL is re-sent */
        if ((e = session_inflight_find(s, pid, WAIT_PUBREC))) {
            e->state = WAIT_PUBCOMP;
            persist_entry_update(b, s, e);
            msg_unref(e->m);
            e->m = NULL;
        } else if (!session_inflight_find(s, pid, WAIT_PUBCOMP)) {
            break; /* unknown id: nothing to release */
        }
        send_ack(b, c, MQTT_PUBREL, pid);
        break;
    case MQTT_PUBREL: /* PUBCOMP even for an id already released (a re-sent PUBREL) */
        if (session_rx_qos2_remove(s, pid)) persist_rx(b, s, pid, false);
        send_ack(b, c, MQTT_PUBCOMP, pid);
        break;
    case MQTT_PUBCOMP:
        if ((e = session_inflight_find(s, pid, WAIT_PUBCOMP))) {
            persist_entry_done(b, s, e->seq, NULL);
            session_inflight_release(s, e);
            session_pump(b, s);
        }
        break;
    default:
        break;
    }
}
