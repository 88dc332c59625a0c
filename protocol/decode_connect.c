/* CONNECT body decoding (3.1). The protocol name and level are checked
 * before anything else: a client of another MQTT version lays out the rest
 * differently, and the broker must still be able to answer CONNACK 0x01. */
#include "protocol/mqtt.h"
#include "protocol/wire.h"

#define CF_RESERVED 0x01
#define CF_CLEAN 0x02
#define CF_WILL 0x04
#define CF_WILL_QOS_SHIFT 3
#define CF_WILL_RETAIN 0x20
#define CF_PASSWORD 0x40
#define CF_USERNAME 0x80

static bool bytes_eq(struct mqtt_bytes b, const char *s, size_t n)
{
    return b.len == n && memcmp(b.data, s, n) == 0;
}

static enum mqtt_err check_protocol(struct wire_cursor *c, uint8_t *level)
{
    struct mqtt_bytes name;
    if (wire_bytes(c, &name) || wire_u8(c, level)) return MQTT_ERR_TRUNCATED;
    if (bytes_eq(name, "MQTT", 4))
        return *level == MQTT_LEVEL_311 ? MQTT_OK : MQTT_ERR_PROTOCOL_LEVEL;
    if (bytes_eq(name, "MQIsdp", 6))
        return *level == MQTT_LEVEL_31 ? MQTT_OK : MQTT_ERR_PROTOCOL_LEVEL;
    return MQTT_ERR_PROTOCOL_NAME;
}

/* MQTT-3.1.2-22 is 3.1.1's: like Mosquitto, a 3.1 CONNECT may carry a
 * password without a user name (it is read; the client has no user name). */
static enum mqtt_err check_flags(uint8_t f, uint8_t level)
{
    if (f & CF_RESERVED) return MQTT_ERR_CONNECT_RESERVED;
    uint8_t will_qos = (f >> CF_WILL_QOS_SHIFT) & 3;
    if (!(f & CF_WILL) && (will_qos || (f & CF_WILL_RETAIN))) return MQTT_ERR_WILL_FLAGS;
    if (will_qos == 3) return MQTT_ERR_QOS_INVALID;
    if ((f & CF_PASSWORD) && !(f & CF_USERNAME) && level != MQTT_LEVEL_31)
        return MQTT_ERR_PASSWORD_FLAG;
    return MQTT_OK;
}

static enum mqtt_err read_string(struct wire_cursor *c, struct mqtt_bytes *b)
{
    if (wire_bytes(c, b)) return MQTT_ERR_TRUNCATED;
    return mqtt_utf8_check(b->data, b->len);
}

/* Payload fields in their fixed order (MQTT-3.1.3-1), each only if flagged. */
static enum mqtt_err read_payload(struct wire_cursor *c, struct mqtt_connect *out)
{
    enum mqtt_err rc = read_string(c, &out->client_id);
    if (rc != MQTT_OK) return rc;
    if (out->will_flag) {
        if (wire_bytes(c, &out->will_topic)) return MQTT_ERR_TRUNCATED;
        rc = mqtt_topic_name_check(out->will_topic.data, out->will_topic.len);
        if (rc != MQTT_OK) return rc;
        if (wire_bytes(c, &out->will_payload)) return MQTT_ERR_TRUNCATED;
    }
    if (out->has_username && (rc = read_string(c, &out->username)) != MQTT_OK) return rc;
    if (out->has_password && wire_bytes(c, &out->password)) return MQTT_ERR_TRUNCATED;
    return MQTT_OK;
}

enum mqtt_err wire_decode_connect(struct wire_cursor *c, struct mqtt_connect *out)
{
    enum mqtt_err rc = check_protocol(c, &out->protocol_level);
    if (rc != MQTT_OK) return rc;
    uint8_t f;
    if (wire_u8(c, &f) || wire_u16(c, &out->keepalive)) return MQTT_ERR_TRUNCATED;
    rc = check_flags(f, out->protocol_level);
    if (rc != MQTT_OK) return rc;
    out->clean_session = f & CF_CLEAN;
    out->will_flag = f & CF_WILL;
    out->will_qos = (f >> CF_WILL_QOS_SHIFT) & 3;
    out->will_retain = f & CF_WILL_RETAIN;
    out->has_username = f & CF_USERNAME;
    out->has_password = f & CF_PASSWORD;
    return read_payload(c, out);
}
