/* Decoding of one framed packet: fixed header, then a body decoder per type.
 * Every check a receiver can make alone is made here, each with its own
 * error code; decoded fields point into the caller's buffer. */
#include "protocol/mqtt.h"
#include "protocol/wire.h"

/* Fixed-header flag table of 2.2.2. MQTT 3.1 gave every packet DUP, QoS and
 * RETAIN bits and says DUP is set when PUBREL, SUBSCRIBE or UNSUBSCRIBE is
 * re-sent, so at that level those three also take 1010. */
static enum mqtt_err check_flags(enum mqtt_type type, uint8_t flags, uint8_t level)
{
    switch (type) {
    case MQTT_PUBLISH: {
        uint8_t qos = (flags >> 1) & 3;
        if (qos == 3) return MQTT_ERR_QOS_INVALID;
        if ((flags & 8) && qos == 0) return MQTT_ERR_DUP_QOS0;
        return MQTT_OK;
    }
    case MQTT_PUBREL:
    case MQTT_SUBSCRIBE:
    case MQTT_UNSUBSCRIBE:
        if (flags == 2 || (flags == 0x0a && level == MQTT_LEVEL_31)) return MQTT_OK;
        return MQTT_ERR_RESERVED_FLAGS;
    default:
        return flags == 0 ? MQTT_OK : MQTT_ERR_RESERVED_FLAGS;
    }
}

static enum mqtt_err decode_connack(struct wire_cursor *c, struct mqtt_connack *out)
{
    uint8_t ack_flags, code;
    if (wire_u8(c, &ack_flags) || wire_u8(c, &code)) return MQTT_ERR_TRUNCATED;
    if (ack_flags & 0xfe) /* bits 7-1 are reserved (3.2.2.1) */
        return MQTT_ERR_RESERVED_FLAGS;
    out->session_present = ack_flags & 1;
    out->return_code = code;
    return MQTT_OK;
}

static enum mqtt_err decode_publish(struct wire_cursor *c, uint8_t flags, struct mqtt_publish *out)
{
    out->dup = flags & 8;
    out->qos = (flags >> 1) & 3;
    out->retain = flags & 1;
    if (wire_bytes(c, &out->topic)) return MQTT_ERR_TRUNCATED;
    enum mqtt_err rc = mqtt_topic_name_check(out->topic.data, out->topic.len);
    if (rc != MQTT_OK) return rc;
    if (out->qos > 0) {
        if (wire_u16(c, &out->packet_id)) return MQTT_ERR_TRUNCATED;
        if (out->packet_id == 0) return MQTT_ERR_PACKET_ID_ZERO;
    }
    out->payload.data = c->pos;
    out->payload.len = wire_left(c);
    c->pos = c->end;
    return MQTT_OK;
}

static enum mqtt_err decode_sub_entry(struct wire_cursor *c, bool with_qos)
{
    struct mqtt_bytes filter;
    if (wire_bytes(c, &filter)) return MQTT_ERR_TRUNCATED;
    enum mqtt_err rc = mqtt_topic_filter_check(filter.data, filter.len);
    if (rc != MQTT_OK || !with_qos) return rc;
    uint8_t qos;
    if (wire_u8(c, &qos)) return MQTT_ERR_TRUNCATED;
    if (qos & 0xfc) return MQTT_ERR_SUBSCRIBE_RESERVED;
    return qos == 3 ? MQTT_ERR_QOS_INVALID : MQTT_OK;
}

/* SUBSCRIBE and UNSUBSCRIBE: entries are validated now, walked later. */
static enum mqtt_err decode_subscribe(struct wire_cursor *c, bool with_qos,
                                      struct mqtt_subscribe *out)
{
    if (wire_u16(c, &out->packet_id)) return MQTT_ERR_TRUNCATED;
    if (out->packet_id == 0) return MQTT_ERR_PACKET_ID_ZERO;
    out->raw.data = c->pos;
    out->raw.len = wire_left(c);
    out->count = 0;
    while (wire_left(c) > 0) {
        enum mqtt_err rc = decode_sub_entry(c, with_qos);
        if (rc != MQTT_OK) return rc;
        out->count++;
    }
    return out->count ? MQTT_OK : MQTT_ERR_NO_TOPICS;
}

static enum mqtt_err decode_suback(struct wire_cursor *c, struct mqtt_suback *out)
{
    if (wire_u16(c, &out->packet_id)) return MQTT_ERR_TRUNCATED;
    out->codes = c->pos;
    out->count = wire_left(c);
    for (size_t i = 0; i < out->count; i++)
        if (out->codes[i] > 2 && out->codes[i] != MQTT_SUBACK_FAILURE) return MQTT_ERR_QOS_INVALID;
    c->pos = c->end;
    return out->count ? MQTT_OK : MQTT_ERR_NO_TOPICS;
}

static enum mqtt_err decode_body(struct wire_cursor *c, struct mqtt_packet *out)
{
    switch (out->type) {
    case MQTT_CONNECT:
        return wire_decode_connect(c, &out->u.connect);
    case MQTT_CONNACK:
        return decode_connack(c, &out->u.connack);
    case MQTT_PUBLISH:
        return decode_publish(c, out->flags, &out->u.publish);
    case MQTT_PUBACK:
    case MQTT_PUBREC:
    case MQTT_PUBREL:
    case MQTT_PUBCOMP:
    case MQTT_UNSUBACK:
        return wire_u16(c, &out->u.packet_id);
    case MQTT_SUBSCRIBE:
        return decode_subscribe(c, true, &out->u.subscribe);
    case MQTT_UNSUBSCRIBE:
        return decode_subscribe(c, false, &out->u.subscribe);
    case MQTT_SUBACK:
        return decode_suback(c, &out->u.suback);
    default: /* PINGREQ, PINGRESP, DISCONNECT: no body */
        return MQTT_OK;
    }
}

enum mqtt_err mqtt_decode(const uint8_t *buf, size_t len, struct mqtt_packet *out)
{
    return mqtt_decode_level(buf, len, MQTT_LEVEL_311, out);
}

enum mqtt_err mqtt_decode_level(const uint8_t *buf, size_t len, uint8_t level,
                                struct mqtt_packet *out)
{
    memset(out, 0, sizeof(*out));
    if (len < 2) return MQTT_ERR_TRUNCATED;
    unsigned type = buf[0] >> 4;
    if (type == 0 || type == 15) return MQTT_ERR_BAD_TYPE;
    out->type = (enum mqtt_type)type;
    out->flags = buf[0] & 0x0f;
    enum mqtt_err rc = check_flags(out->type, out->flags, level);
    if (rc != MQTT_OK) return rc;
    size_t remlen, n;
    rc = wire_remlen_decode(buf + 1, len - 1, &remlen, &n);
    if (rc == MQTT_ERR_INCOMPLETE || (rc == MQTT_OK && len - 1 - n < remlen))
        return MQTT_ERR_TRUNCATED;
    if (rc != MQTT_OK) return rc;
    if (len - 1 - n > remlen) return MQTT_ERR_TRAILING_BYTES;
    struct wire_cursor c = {buf + 1 + n, buf + len};
    rc = decode_body(&c, out);
    if (rc == MQTT_OK && wire_left(&c) > 0) return MQTT_ERR_TRAILING_BYTES;
    return rc;
}

void mqtt_sub_iter_init(struct mqtt_sub_iter *it, const struct mqtt_packet *p)
{
    it->pos = p->u.subscribe.raw.data;
    it->end = it->pos ? it->pos + p->u.subscribe.raw.len : it->pos;
    it->with_qos = p->type == MQTT_SUBSCRIBE;
}

/* Entries were validated by mqtt_decode; bounds are still checked so a
 * hand-built packet cannot make the iterator read past its raw bytes. */
bool mqtt_sub_iter_next(struct mqtt_sub_iter *it, struct mqtt_sub_entry *out)
{
    struct wire_cursor c = {it->pos, it->end};
    if (!c.pos || wire_bytes(&c, &out->filter)) return false;
    out->qos = 0;
    if (it->with_qos && wire_u8(&c, &out->qos)) return false;
    it->pos = c.pos;
    return true;
}
