/* Framing: the remaining-length varint, finding packet boundaries in a
 * stream, the incremental decoder step, and the per-connection type check. */
#include "protocol/mqtt.h"
#include "protocol/wire.h"

size_t mqtt_remlen_encode(uint8_t out[4], size_t len)
{
    if (len > MQTT_MAX_REMAINING_LENGTH) return 0;
    size_t n = 0;
    do {
        uint8_t b = (uint8_t)(len & 0x7f);
        len >>= 7;
        out[n++] = len ? (uint8_t)(b | 0x80) : b;
    } while (len);
    return n;
}

enum mqtt_err wire_remlen_decode(const uint8_t *p, size_t avail, size_t *value, size_t *nbytes)
{
    size_t v = 0;
    for (size_t i = 0; i < 4; i++) {
        if (i >= avail) return MQTT_ERR_INCOMPLETE;
        v |= (size_t)(p[i] & 0x7f) << (7 * i);
        if (!(p[i] & 0x80)) {
            *value = v;
            *nbytes = i + 1;
            return MQTT_OK;
        }
    }
    return MQTT_ERR_REMLEN_OVERFLOW;
}

/* max_packet == 0 means "no limit beyond the varint's own". */
enum mqtt_err mqtt_frame(const uint8_t *buf, size_t len, size_t max_packet, size_t *packet_len)
{
    *packet_len = 0;
    if (len < 1) return MQTT_ERR_INCOMPLETE;
    unsigned type = buf[0] >> 4;
    /* Refuse a bad type on its first byte: no reason to buffer more. */
    if (type == 0 || type == 15) return MQTT_ERR_BAD_TYPE;
    size_t remlen, n;
    enum mqtt_err rc = wire_remlen_decode(buf + 1, len - 1, &remlen, &n);
    if (rc != MQTT_OK) return rc;
    size_t total = 1 + n + remlen;
    if (max_packet && total > max_packet) return MQTT_ERR_TOO_LARGE;
    if (len < total) return MQTT_ERR_INCOMPLETE;
    *packet_len = total;
    return MQTT_OK;
}

enum mqtt_err mqtt_next(const uint8_t *buf, size_t len, size_t max_packet, struct mqtt_packet *out,
                        size_t *consumed)
{
    return mqtt_next_level(buf, len, max_packet, MQTT_LEVEL_311, out, consumed);
}

enum mqtt_err mqtt_next_level(const uint8_t *buf, size_t len, size_t max_packet, uint8_t level,
                              struct mqtt_packet *out, size_t *consumed)
{
    size_t plen;
    *consumed = 0;
    enum mqtt_err rc = mqtt_frame(buf, len, max_packet, &plen);
    if (rc != MQTT_OK) return rc;
    rc = mqtt_decode_level(buf, plen, level, out);
    if (rc == MQTT_OK) *consumed = plen;
    return rc;
}

enum mqtt_err mqtt_check_inbound(bool connected, enum mqtt_type type)
{
    if (type < MQTT_CONNECT || type > MQTT_DISCONNECT) return MQTT_ERR_BAD_TYPE;
    if (!connected) return type == MQTT_CONNECT ? MQTT_OK : MQTT_ERR_FIRST_NOT_CONNECT;
    switch (type) {
    case MQTT_CONNECT:
        return MQTT_ERR_SECOND_CONNECT;
    case MQTT_CONNACK:
    case MQTT_SUBACK:
    case MQTT_UNSUBACK:
    case MQTT_PINGRESP:
        return MQTT_ERR_UNEXPECTED_TYPE;
    default:
        return MQTT_OK;
    }
}
