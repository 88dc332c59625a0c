/* MQTT 3.1.1 (and 3.1) wire codec: packet types, the decoded packet struct,
 * error codes, framing, decoding and encoding of all 14 packet types.
 * Pure functions over caller-owned byte buffers: no allocation, no globals.
 * Decoded strings/payloads point INTO the input buffer (zero copy): they are
 * valid only as long as that buffer is. */
#ifndef STARLING_PROTOCOL_MQTT_H
#define STARLING_PROTOCOL_MQTT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum mqtt_type {
    MQTT_CONNECT = 1,
    MQTT_CONNACK = 2,
    MQTT_PUBLISH = 3,
    MQTT_PUBACK = 4,
    MQTT_PUBREC = 5,
    MQTT_PUBREL = 6,
    MQTT_PUBCOMP = 7,
    MQTT_SUBSCRIBE = 8,
    MQTT_SUBACK = 9,
    MQTT_UNSUBSCRIBE = 10,
    MQTT_UNSUBACK = 11,
    MQTT_PINGREQ = 12,
    MQTT_PINGRESP = 13,
    MQTT_DISCONNECT = 14,
};

/* Protocol levels (3.1.2.2). A connection is decoded by the rules of the
 * level its CONNECT named; any other value (0 before CONNECT) means 3.1.1's
 * rules, the strict ones. */
#define MQTT_LEVEL_31 3  /* "MQIsdp" */
#define MQTT_LEVEL_311 4 /* "MQTT" */

/* CONNACK return codes (3.2.2.3). */
enum mqtt_connack_code {
    MQTT_CONNACK_ACCEPTED = 0,
    MQTT_CONNACK_BAD_PROTOCOL_VERSION = 1,
    MQTT_CONNACK_ID_REJECTED = 2,
    MQTT_CONNACK_SERVER_UNAVAILABLE = 3,
    MQTT_CONNACK_BAD_CREDENTIALS = 4,
    MQTT_CONNACK_NOT_AUTHORIZED = 5,
};

#define MQTT_SUBACK_FAILURE 0x80
/* Largest value the 4-byte remaining-length varint can hold. */
#define MQTT_MAX_REMAINING_LENGTH 268435455u
/* Longest fixed header: 1 type byte + 4 length bytes. */
#define MQTT_MAX_FIXED_HEADER 5

/* Every distinct reason a byte sequence is refused. Each has a stable name
 * (mqtt_err_str) used in logs and tests. */
enum mqtt_err {
    MQTT_OK = 0,
    MQTT_ERR_INCOMPLETE,         /* need more bytes (framing only, not an error) */
    MQTT_ERR_BAD_TYPE,           /* packet type 0 or 15 */
    MQTT_ERR_RESERVED_FLAGS,     /* fixed-header flags differ from the table (2.2.2) */
    MQTT_ERR_REMLEN_OVERFLOW,    /* remaining length needs more than 4 bytes */
    MQTT_ERR_TOO_LARGE,          /* packet larger than the configured maximum */
    MQTT_ERR_TRUNCATED,          /* a field runs past the remaining length */
    MQTT_ERR_TRAILING_BYTES,     /* bytes left over after the last field */
    MQTT_ERR_UTF8_INVALID,       /* ill-formed UTF-8 (overlong, bad continuation, > U+10FFFF) */
    MQTT_ERR_UTF8_NULL,          /* U+0000 inside a string */
    MQTT_ERR_UTF8_SURROGATE,     /* U+D800..U+DFFF encoded in a string */
    MQTT_ERR_TOPIC_EMPTY,        /* zero-length topic name or filter */
    MQTT_ERR_TOPIC_WILDCARD,     /* '+' or '#' in a PUBLISH topic name */
    MQTT_ERR_FILTER_INVALID,     /* '#' not last/alone, '+' not a whole level */
    MQTT_ERR_QOS_INVALID,        /* QoS 3 in PUBLISH, will QoS or SUBSCRIBE */
    MQTT_ERR_DUP_QOS0,           /* DUP=1 on a QoS 0 PUBLISH (MQTT-3.3.1-2) */
    MQTT_ERR_PACKET_ID_ZERO,     /* packet id 0 where one is required */
    MQTT_ERR_NO_TOPICS,          /* SUBSCRIBE / UNSUBSCRIBE with no topic */
    MQTT_ERR_SUBSCRIBE_RESERVED, /* reserved bits set in a requested-QoS byte */
    MQTT_ERR_PROTOCOL_NAME,      /* protocol name is neither "MQTT" nor "MQIsdp" */
    MQTT_ERR_PROTOCOL_LEVEL,     /* known name, unsupported level: CONNACK 0x01 */
    MQTT_ERR_CONNECT_RESERVED,   /* CONNECT flags bit 0 set (MQTT-3.1.2-3) */
    MQTT_ERR_WILL_FLAGS,         /* will QoS/retain set without the will flag */
    MQTT_ERR_PASSWORD_FLAG,      /* password flag without user name flag (3.1.1 only) */
    MQTT_ERR_FIRST_NOT_CONNECT,  /* first packet on a connection is not CONNECT */
    MQTT_ERR_SECOND_CONNECT,     /* CONNECT on an already connected connection */
    MQTT_ERR_UNEXPECTED_TYPE,    /* a server-to-client packet sent by a client */
    MQTT_ERR__COUNT
};

const char *mqtt_err_str(enum mqtt_err err);

/* A byte range inside the decoded buffer (or owned by the caller on encode). */
struct mqtt_bytes {
    const uint8_t *data;
    size_t len;
};

struct mqtt_sub_entry {
    struct mqtt_bytes filter;
    uint8_t qos; /* requested QoS (SUBSCRIBE); unused for UNSUBSCRIBE */
};

struct mqtt_connect {
    uint8_t protocol_level; /* 3 (MQIsdp) or 4 (MQTT) */
    bool clean_session;
    uint16_t keepalive;
    struct mqtt_bytes client_id;
    bool will_flag;
    uint8_t will_qos;
    bool will_retain;
    struct mqtt_bytes will_topic;
    struct mqtt_bytes will_payload;
    bool has_username;
    bool has_password; /* also without has_username, at level 3 only */
    struct mqtt_bytes username;
    struct mqtt_bytes password;
};

struct mqtt_connack {
    bool session_present;
    uint8_t return_code;
};

struct mqtt_publish {
    bool dup;
    uint8_t qos;
    bool retain;
    struct mqtt_bytes topic;
    uint16_t packet_id; /* 0 and absent on the wire for QoS 0 */
    struct mqtt_bytes payload;
};

/* SUBSCRIBE and UNSUBSCRIBE. Decoding validates every entry, sets `count`
 * and `raw` (the payload bytes) and leaves `entries` NULL: walk them with
 * mqtt_sub_iter. Encoding uses `entries` when non-NULL, else `raw`. */
struct mqtt_subscribe {
    uint16_t packet_id;
    size_t count;
    struct mqtt_bytes raw;
    const struct mqtt_sub_entry *entries;
};

struct mqtt_suback {
    uint16_t packet_id;
    size_t count;
    const uint8_t *codes;
};

struct mqtt_packet {
    enum mqtt_type type;
    uint8_t flags; /* low nibble of the first byte, as received */
    union {
        struct mqtt_connect connect;
        struct mqtt_connack connack;
        struct mqtt_publish publish;
        uint16_t packet_id;              /* PUBACK, PUBREC, PUBREL, PUBCOMP, UNSUBACK */
        struct mqtt_subscribe subscribe; /* SUBSCRIBE and UNSUBSCRIBE */
        struct mqtt_suback suback;
    } u;
};

/* --- framing --- */

/* Encode a remaining length; returns bytes written (1..4), 0 if len is too big. */
size_t mqtt_remlen_encode(uint8_t out[4], size_t len);

/* Find one complete packet at the start of buf[0..len). On MQTT_OK,
 * *packet_len is the whole packet's size (fixed header included).
 * MQTT_ERR_INCOMPLETE: more bytes needed (nothing consumed). Also refuses a
 * remaining length of more than 4 bytes and a packet over max_packet bytes
 * (as soon as the header shows it, without waiting for the body). */
enum mqtt_err mqtt_frame(const uint8_t *buf, size_t len, size_t max_packet, size_t *packet_len);

/* --- decoding --- */

/* Decode exactly one complete packet buf[0..len) (as framed by mqtt_frame)
 * and validate everything the spec lets a receiver check on its own, by the
 * rules of protocol `level` (MQTT_LEVEL_*). The only difference on the
 * connection's level: 3.1 lets DUP be set on a re-sent PUBREL, SUBSCRIBE or
 * UNSUBSCRIBE (flags 1010), 3.1.1 requires 0010 (MQTT-3.6.1-1, MQTT-3.8.1-1,
 * MQTT-3.10.1-1). A CONNECT is decoded by the level it names itself. */
enum mqtt_err mqtt_decode_level(const uint8_t *buf, size_t len, uint8_t level,
                                struct mqtt_packet *out);
/* mqtt_decode_level by 3.1.1's rules. */
enum mqtt_err mqtt_decode(const uint8_t *buf, size_t len, struct mqtt_packet *out);

/* Incremental decoder step: frame + decode the first packet in buf.
 * On MQTT_OK *consumed is its length; MQTT_ERR_INCOMPLETE consumes nothing. */
enum mqtt_err mqtt_next_level(const uint8_t *buf, size_t len, size_t max_packet, uint8_t level,
                              struct mqtt_packet *out, size_t *consumed);
/* mqtt_next_level by 3.1.1's rules. */
enum mqtt_err mqtt_next(const uint8_t *buf, size_t len, size_t max_packet, struct mqtt_packet *out,
                        size_t *consumed);

/* Iterate over the validated entries of a decoded SUBSCRIBE/UNSUBSCRIBE. */
struct mqtt_sub_iter {
    const uint8_t *pos, *end;
    bool with_qos;
};
void mqtt_sub_iter_init(struct mqtt_sub_iter *it, const struct mqtt_packet *p);
bool mqtt_sub_iter_next(struct mqtt_sub_iter *it, struct mqtt_sub_entry *out);

/* Check a packet type against the connection state: the first packet must be
 * CONNECT, a second CONNECT is refused, and server-only types are refused. */
enum mqtt_err mqtt_check_inbound(bool connected, enum mqtt_type type);

/* --- encoding --- */

/* Exact encoded size of p, or 0 if it cannot be encoded. */
size_t mqtt_encoded_size(const struct mqtt_packet *p);

/* Encode p into out[0..cap). Returns bytes written, 0 if cap is too small or
 * p is invalid. Fixed-header flags come from the packet fields (publish
 * dup/qos/retain; 0010 for PUBREL/SUBSCRIBE/UNSUBSCRIBE), not p->flags. */
size_t mqtt_encode(const struct mqtt_packet *p, uint8_t *out, size_t cap);

/* The bytes of a PUBLISH that precede its payload (fixed header, topic,
 * packet id), for fan-out where the payload is sent by reference.
 * Returns bytes written, 0 if cap is too small. */
size_t mqtt_encode_publish_header(uint8_t *out, size_t cap, uint8_t qos, bool dup, bool retain,
                                  const uint8_t *topic, size_t topic_len, uint16_t packet_id,
                                  size_t payload_len);

/* --- strings and topics --- */

/* Validate an MQTT string's bytes (1.5.3): well-formed UTF-8, no U+0000,
 * no surrogates. A BOM (EF BB BF) is an ordinary character. */
enum mqtt_err mqtt_utf8_check(const uint8_t *s, size_t len);

/* Topic name for PUBLISH (and will topic): non-empty, valid UTF-8, no wildcards. */
enum mqtt_err mqtt_topic_name_check(const uint8_t *s, size_t len);

/* Topic filter for SUBSCRIBE/UNSUBSCRIBE: non-empty, valid UTF-8, '#' alone
 * and last, '+' a whole level. */
enum mqtt_err mqtt_topic_filter_check(const uint8_t *s, size_t len);

/* Number of levels of a topic name or filter: one more than its '/'s
 * ("a/b" 2, "/" 2, "a" 1). The broker bounds it (limits.max_topic_levels),
 * since every level costs a trie node. */
size_t mqtt_topic_levels(const uint8_t *s, size_t len);

/* Reference matcher: does the (valid) filter match the (valid) topic name?
 * Follows 4.7, including '$' topics not matched by a leading wildcard. */
bool mqtt_topic_matches(const uint8_t *filter, size_t flen, const uint8_t *topic, size_t tlen);

#endif
