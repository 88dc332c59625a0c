/* Internal to protocol/: big-endian field access and a bounds-checked read
 * cursor shared by the decoders and encoders. Every cursor read either
 * succeeds or reports MQTT_ERR_TRUNCATED; nothing ever reads past `end`. */
#ifndef STARLING_PROTOCOL_WIRE_H
#define STARLING_PROTOCOL_WIRE_H

#include "protocol/mqtt.h"

#include <string.h>

static inline uint16_t wire_get16(const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint8_t *wire_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    return p + 2;
}

/* memcpy with a length of 0 and a NULL source is undefined behaviour. */
static inline uint8_t *wire_put_raw(uint8_t *p, const uint8_t *src, size_t len)
{
    if (len) memcpy(p, src, len);
    return p + len;
}

/* A length-prefixed field (string or binary data). */
static inline uint8_t *wire_put_bytes(uint8_t *p, struct mqtt_bytes b)
{
    p = wire_put16(p, (uint16_t)b.len);
    return wire_put_raw(p, b.data, b.len);
}

struct wire_cursor {
    const uint8_t *pos, *end;
};

static inline size_t wire_left(const struct wire_cursor *c)
{
    return (size_t)(c->end - c->pos);
}

static inline enum mqtt_err wire_u8(struct wire_cursor *c, uint8_t *v)
{
    if (wire_left(c) < 1) return MQTT_ERR_TRUNCATED;
    *v = *c->pos++;
    return MQTT_OK;
}

static inline enum mqtt_err wire_u16(struct wire_cursor *c, uint16_t *v)
{
    if (wire_left(c) < 2) return MQTT_ERR_TRUNCATED;
    *v = wire_get16(c->pos);
    c->pos += 2;
    return MQTT_OK;
}

/* Reads a 2-byte length and that many bytes, pointing into the buffer. */
static inline enum mqtt_err wire_bytes(struct wire_cursor *c, struct mqtt_bytes *b)
{
    uint16_t n;
    if (wire_u16(c, &n) != MQTT_OK || wire_left(c) < n) return MQTT_ERR_TRUNCATED;
    b->data = c->pos;
    b->len = n;
    c->pos += n;
    return MQTT_OK;
}

/* Remaining-length varint at p[0..avail): MQTT_OK with the value and its size
 * in bytes, MQTT_ERR_INCOMPLETE, or MQTT_ERR_REMLEN_OVERFLOW as soon as the
 * 4th byte still has its continuation bit. */
enum mqtt_err wire_remlen_decode(const uint8_t *p, size_t avail, size_t *value, size_t *nbytes);

/* Body decoder for CONNECT (decode_connect.c). */
enum mqtt_err wire_decode_connect(struct wire_cursor *c, struct mqtt_connect *out);

#endif
