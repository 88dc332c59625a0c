/* Stable, lower-case, human-readable names of the codec's error codes. */
#include "protocol/mqtt.h"

static const char *const err_names[MQTT_ERR__COUNT] = {
    [MQTT_OK] = "ok",
    [MQTT_ERR_INCOMPLETE] = "incomplete packet",
    [MQTT_ERR_BAD_TYPE] = "invalid packet type",
    [MQTT_ERR_RESERVED_FLAGS] = "reserved flag bits set",
    [MQTT_ERR_REMLEN_OVERFLOW] = "remaining length longer than 4 bytes",
    [MQTT_ERR_TOO_LARGE] = "packet too large",
    [MQTT_ERR_TRUNCATED] = "field runs past end of packet",
    [MQTT_ERR_TRAILING_BYTES] = "trailing bytes after last field",
    [MQTT_ERR_UTF8_INVALID] = "invalid UTF-8 in string",
    [MQTT_ERR_UTF8_NULL] = "U+0000 in string",
    [MQTT_ERR_UTF8_SURROGATE] = "UTF-16 surrogate in string",
    [MQTT_ERR_TOPIC_EMPTY] = "empty topic",
    [MQTT_ERR_TOPIC_WILDCARD] = "wildcard in topic name",
    [MQTT_ERR_FILTER_INVALID] = "invalid topic filter",
    [MQTT_ERR_QOS_INVALID] = "invalid QoS",
    [MQTT_ERR_DUP_QOS0] = "DUP set on QoS 0 publish",
    [MQTT_ERR_PACKET_ID_ZERO] = "packet id is zero",
    [MQTT_ERR_NO_TOPICS] = "no topics in packet",
    [MQTT_ERR_SUBSCRIBE_RESERVED] = "reserved bits set in requested QoS",
    [MQTT_ERR_PROTOCOL_NAME] = "unknown protocol name",
    [MQTT_ERR_PROTOCOL_LEVEL] = "unsupported protocol level",
    [MQTT_ERR_CONNECT_RESERVED] = "reserved CONNECT flag set",
    [MQTT_ERR_WILL_FLAGS] = "will QoS or retain without will flag",
    [MQTT_ERR_PASSWORD_FLAG] = "password without user name",
    [MQTT_ERR_FIRST_NOT_CONNECT] = "first packet is not CONNECT",
    [MQTT_ERR_SECOND_CONNECT] = "second CONNECT",
    [MQTT_ERR_UNEXPECTED_TYPE] = "packet type not allowed from a client",
};

const char *mqtt_err_str(enum mqtt_err err)
{
    if ((unsigned)err >= MQTT_ERR__COUNT || !err_names[err]) return "unknown error";
    return err_names[err];
}
