/* Per-connection packet handling and publishing for the flow scenarios. */
#include "tests/bench/flow.h"

#include <string.h>

static int pub_packet(struct flow *f, struct flow_pub *p, const struct mqtt_packet *pk)
{
    uint64_t seq;
    switch (pk->type) {
    case MQTT_CONNACK:
        if (pk->u.connack.return_code != 0) return -1;
        p->ready = true;
        f->ready_pubs++;
        return 0;
    case MQTT_PUBACK:
    case MQTT_PUBREC:
    case MQTT_PUBCOMP: {
        bool type_ok = f->o->qos == 1 ? pk->type == MQTT_PUBACK : pk->type != MQTT_PUBACK;
        int rc = type_ok ? pubwin_ack(&p->win, pk->type, pk->u.packet_id, &seq) : -1;
        if (rc < 0) {
            f->bad_ack++;
            return 0;
        }
        if (rc == 0) return put_ack(&p->c, MQTT_PUBREL, pk->u.packet_id) ? 0 : -1;
        p->acked++;
        f->t_progress = f->now;
        p->acked_bits[seq >> 3] |= (uint8_t)(1u << (seq & 7));
        return 0;
    }
    default:
        return 0;
    }
}

static bool rel_test(const uint8_t *bits, uint16_t id)
{
    return (bits[id >> 3] >> (id & 7)) & 1;
}

static void rel_set(uint8_t *bits, uint16_t id, bool on)
{
    uint8_t bit = (uint8_t)(1u << (id & 7));
    bits[id >> 3] = on ? (bits[id >> 3] | bit) : (bits[id >> 3] & ~bit);
}

/* QoS 2 is delivered once: a re-sent PUBLISH whose PUBREL has not arrived
 * yet is acknowledged again but not counted again. */
static int sub_publish(struct flow *f, struct flow_sub *s, int si, const struct mqtt_publish *pb)
{
    bool resend = pb->qos == 2 && rel_test(s->rel, pb->packet_id);
    if (!resend) {
        int rc = track_record(&f->track, si, pb->payload.data, pb->payload.len, f->now);
        if (rc < 0) f->bad_payload++;
        if (rc == 1) {
            f->pubs[stamp_pub(pb->payload.data)].received++;
            f->distinct++;
        }
        f->t_last_recv = f->t_progress = f->now;
    }
    if (pb->qos == 1) return put_ack(&s->c, MQTT_PUBACK, pb->packet_id) ? 0 : -1;
    if (pb->qos == 2) {
        rel_set(s->rel, pb->packet_id, true);
        return put_ack(&s->c, MQTT_PUBREC, pb->packet_id) ? 0 : -1;
    }
    return 0;
}

static int sub_packet(struct flow *f, struct flow_sub *s, int si, const struct mqtt_packet *pk)
{
    switch (pk->type) {
    case MQTT_CONNACK:
        if (pk->u.connack.return_code != 0) return -1;
        /* Messages left in an old session would not be this run's. */
        if (pk->u.connack.session_present) {
            result_fail(f->r,
                        "subscriber %d: the broker resumed an old session (session "
                        "present); start it with a fresh database",
                        si);
            return -1;
        }
        return put_subscribe(&s->c, 1, FLOW_TOPIC, (uint8_t)f->o->qos) ? 0 : -1;
    case MQTT_SUBACK:
        if (pk->u.suback.count != 1 || pk->u.suback.codes[0] != f->o->qos) {
            result_fail(f->r, "subscriber %d: SUBACK granted 0x%02x, asked QoS %d", si,
                        pk->u.suback.count ? pk->u.suback.codes[0] : 0xff, f->o->qos);
            return -1;
        }
        s->ready = true;
        f->ready_subs++;
        return 0;
    case MQTT_PUBLISH:
        return sub_publish(f, s, si, &pk->u.publish);
    case MQTT_PUBREL:
        rel_set(s->rel, pk->u.packet_id, false);
        return put_ack(&s->c, MQTT_PUBCOMP, pk->u.packet_id) ? 0 : -1;
    default:
        return 0;
    }
}

int flow_on_packet(struct bconn *c, const struct mqtt_packet *p)
{
    struct flow *f = c->owner;
    int npubs = f->o->pubs;
    if (c->index < npubs) return pub_packet(f, &f->pubs[c->index], p);
    return sub_packet(f, &f->subs[c->index - npubs], c->index - npubs, p);
}

/* How many more messages publisher i may send now: its share of the
 * received-window, its QoS 1/2 window, and the pacing schedule. */
static uint64_t pub_allowance(const struct flow *f, const struct flow_pub *p)
{
    const struct bench_opts *o = f->o;
    uint64_t left = f->per_pub - p->sent;
    if (o->window > 0) {
        uint64_t share = (uint64_t)o->window / (uint64_t)o->pubs + 1;
        uint64_t out = p->sent - p->received / (uint64_t)o->subs;
        left = out >= share ? 0 : (left < share - out ? left : share - out);
    }
    if (o->rate > 0) {
        double el = (double)(f->now - f->t_start) / 1e9;
        uint64_t due = (uint64_t)(el * (double)o->rate / o->pubs) + 1;
        uint64_t ahead = due > p->sent ? due - p->sent : 0;
        if (ahead < left) left = ahead;
    }
    return left;
}

bool flow_pump(struct flow *f, int i)
{
    struct flow_pub *p = &f->pubs[i];
    const struct bench_opts *o = f->o;
    if (!p->ready || p->c.state != BCONN_OPEN) return false;
    uint64_t left = pub_allowance(f, p);
    size_t need = (size_t)o->payload + sizeof FLOW_TOPIC + 16;
    size_t reserve = 4u * (size_t)o->inflight + 64; /* room for PUBRELs */
    bool starved = false;
    for (; left > 0; left--) {
        if (o->qos > 0 && pubwin_full(&p->win)) break;
        if (bconn_room(&p->c) < need + reserve) {
            starved = true;
            break;
        }
        uint16_t id = o->qos > 0 ? pubwin_take(&p->win, p->sent) : 0;
        stamp_write(f->payload, (uint32_t)i, p->sent, f->now);
        put_publish(&p->c, FLOW_TOPIC, (uint8_t)o->qos, false, id, f->payload, (size_t)o->payload);
        p->sent++;
        f->total_sent++;
    }
    if (bconn_flush(&p->c, f->epfd) < 0) return false;
    return starved && p->c.wlen == p->c.woff;
}
