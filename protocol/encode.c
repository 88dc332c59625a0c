/* Encoding of all 14 packet types. Only what the wire format cannot carry
 * is refused (QoS > 2, a string over 65535 bytes, a packet over the varint
 * limit); semantic rules are the sender's business, so tests can build
 * deliberately wrong packets with the same encoder. */
#include "protocol/mqtt.h"
#include "protocol/wire.h"

#define TOO_BIG ((size_t)-1)

/* Adds a length-prefixed field's size, poisoning the sum if it cannot fit. */
static size_t add_field(size_t sum, struct mqtt_bytes b)
{
    return (sum == TOO_BIG || b.len > 0xffff) ? TOO_BIG : sum + 2 + b.len;
}

static const char *protocol_name(uint8_t level)
{
    return level == 3 ? "MQIsdp" : "MQTT";
}

static size_t connect_size(const struct mqtt_connect *c)
{
    if (c->will_flag && c->will_qos > 2) return TOO_BIG;
    size_t n = 2 + strlen(protocol_name(c->protocol_level)) + 1 + 1 + 2;
    n = add_field(n, c->client_id);
    if (c->will_flag) n = add_field(add_field(n, c->will_topic), c->will_payload);
    if (c->has_username) n = add_field(n, c->username);
    if (c->has_password) n = add_field(n, c->password);
    return n;
}

static size_t publish_size(const struct mqtt_publish *p)
{
    if (p->qos > 2 || p->payload.len > MQTT_MAX_REMAINING_LENGTH) return TOO_BIG;
    size_t n = add_field(p->qos ? 2 : 0, p->topic);
    return n == TOO_BIG ? n : n + p->payload.len;
}

static size_t subscribe_size(const struct mqtt_subscribe *s, bool with_qos)
{
    if (!s->entries) return s->raw.len > MQTT_MAX_REMAINING_LENGTH ? TOO_BIG : 2 + s->raw.len;
    size_t n = 2;
    for (size_t i = 0; i < s->count && n <= MQTT_MAX_REMAINING_LENGTH; i++) {
        if (with_qos && s->entries[i].qos > 2) return TOO_BIG;
        n = add_field(n, s->entries[i].filter);
        if (n == TOO_BIG) return TOO_BIG;
        n += with_qos;
    }
    return n;
}

/* Remaining length of p, or TOO_BIG (also for an unknown type). */
static size_t remaining_length(const struct mqtt_packet *p)
{
    switch (p->type) {
    case MQTT_CONNECT:
        return connect_size(&p->u.connect);
    case MQTT_PUBLISH:
        return publish_size(&p->u.publish);
    case MQTT_SUBSCRIBE:
        return subscribe_size(&p->u.subscribe, true);
    case MQTT_UNSUBSCRIBE:
        return subscribe_size(&p->u.subscribe, false);
    case MQTT_SUBACK:
        return p->u.suback.count > MQTT_MAX_REMAINING_LENGTH ? TOO_BIG : 2 + p->u.suback.count;
    case MQTT_CONNACK:
    case MQTT_PUBACK:
    case MQTT_PUBREC:
    case MQTT_PUBREL:
    case MQTT_PUBCOMP:
    case MQTT_UNSUBACK:
        return 2;
    case MQTT_PINGREQ:
    case MQTT_PINGRESP:
    case MQTT_DISCONNECT:
        return 0;
    }
    return TOO_BIG;
}

size_t mqtt_encoded_size(const struct mqtt_packet *p)
{
    uint8_t tmp[4];
    size_t rl = remaining_length(p);
    size_t n = mqtt_remlen_encode(tmp, rl); /* 0 when rl is over the limit */
    return n ? 1 + n + rl : 0;
}

static uint8_t first_byte(const struct mqtt_packet *p)
{
    uint8_t flags = 0;
    if (p->type == MQTT_PUBLISH) {
        const struct mqtt_publish *pub = &p->u.publish;
        flags = (uint8_t)((pub->dup ? 8 : 0) | (pub->qos << 1) | (pub->retain ? 1 : 0));
    } else if (p->type == MQTT_PUBREL || p->type == MQTT_SUBSCRIBE || p->type == MQTT_UNSUBSCRIBE) {
        flags = 2;
    }
    return (uint8_t)((p->type << 4) | flags);
}

static uint8_t connect_flags(const struct mqtt_connect *c)
{
    uint8_t f = c->clean_session ? 0x02 : 0;
    if (c->will_flag) f |= (uint8_t)(0x04 | (c->will_qos << 3) | (c->will_retain ? 0x20 : 0));
    if (c->has_password) f |= 0x40;
    if (c->has_username) f |= 0x80;
    return f;
}

static uint8_t *put_connect(uint8_t *w, const struct mqtt_connect *c)
{
    const char *name = protocol_name(c->protocol_level);
    struct mqtt_bytes nb = {(const uint8_t *)name, strlen(name)};
    w = wire_put_bytes(w, nb);
    *w++ = c->protocol_level;
    *w++ = connect_flags(c);
    w = wire_put16(w, c->keepalive);
    w = wire_put_bytes(w, c->client_id);
    if (c->will_flag) {
        w = wire_put_bytes(w, c->will_topic);
        w = wire_put_bytes(w, c->will_payload);
    }
    if (c->has_username) w = wire_put_bytes(w, c->username);
    if (c->has_password) w = wire_put_bytes(w, c->password);
    return w;
}

static uint8_t *put_subscribe(uint8_t *w, const struct mqtt_subscribe *s, bool with_qos)
{
    w = wire_put16(w, s->packet_id);
    if (!s->entries) return wire_put_raw(w, s->raw.data, s->raw.len);
    for (size_t i = 0; i < s->count; i++) {
        w = wire_put_bytes(w, s->entries[i].filter);
        if (with_qos) *w++ = s->entries[i].qos;
    }
    return w;
}

static uint8_t *put_body(uint8_t *w, const struct mqtt_packet *p)
{
    const struct mqtt_publish *pub = &p->u.publish;
    switch (p->type) {
    case MQTT_CONNECT:
        return put_connect(w, &p->u.connect);
    case MQTT_CONNACK:
        *w++ = p->u.connack.session_present ? 1 : 0;
        *w++ = p->u.connack.return_code;
        return w;
    case MQTT_PUBLISH:
        w = wire_put_bytes(w, pub->topic);
        if (pub->qos) w = wire_put16(w, pub->packet_id);
        return wire_put_raw(w, pub->payload.data, pub->payload.len);
    case MQTT_SUBSCRIBE:
    case MQTT_UNSUBSCRIBE:
        return put_subscribe(w, &p->u.subscribe, p->type == MQTT_SUBSCRIBE);
    case MQTT_SUBACK:
        w = wire_put16(w, p->u.suback.packet_id);
        return wire_put_raw(w, p->u.suback.codes, p->u.suback.count);
    case MQTT_PINGREQ:
    case MQTT_PINGRESP:
    case MQTT_DISCONNECT:
        return w;
    default: /* PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK */
        return wire_put16(w, p->u.packet_id);
    }
}

size_t mqtt_encode(const struct mqtt_packet *p, uint8_t *out, size_t cap)
{
    size_t total = mqtt_encoded_size(p);
    if (total == 0 || total > cap) return 0;
    out[0] = first_byte(p);
    size_t n = mqtt_remlen_encode(out + 1, remaining_length(p));
    uint8_t *end = put_body(out + 1 + n, p);
    return (size_t)(end - out);
}

size_t mqtt_encode_publish_header(uint8_t *out, size_t cap, uint8_t qos, bool dup, bool retain,
                                  const uint8_t *topic, size_t topic_len, uint16_t packet_id,
                                  size_t payload_len)
{
    if (qos > 2 || topic_len > 0xffff || payload_len > MQTT_MAX_REMAINING_LENGTH) return 0;
    size_t head = 2 + topic_len + (qos ? 2 : 0);
    uint8_t len_bytes[4];
    size_t n = mqtt_remlen_encode(len_bytes, head + payload_len);
    if (n == 0 || 1 + n + head > cap) return 0;
    out[0] = (uint8_t)((MQTT_PUBLISH << 4) | (dup ? 8 : 0) | (qos << 1) | (retain ? 1 : 0));
    uint8_t *w = wire_put_raw(out + 1, len_bytes, n);
    w = wire_put16(w, (uint16_t)topic_len);
    w = wire_put_raw(w, topic, topic_len);
    if (qos) w = wire_put16(w, packet_id);
    return (size_t)(w - out);
}
