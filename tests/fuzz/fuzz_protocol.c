/* libFuzzer target for protocol/: whatever the bytes, framing and decoding
 * never read out of bounds, and every packet that decodes re-encodes to
 * bytes that decode to the same packet. Like the broker, the stream is
 * decoded by the level of its first packet if that is a CONNECT (3.1 or
 * 3.1.1 rules), and 3.1's rules accept whatever 3.1.1's do. Run with
 * `make fuzz`. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/mqtt.h"

#define MAX_PACKET (1u << 20)

static void check_round_trip(const struct mqtt_packet *p)
{
    static uint8_t buf[MAX_PACKET + 16];
    size_t n = mqtt_encode(p, buf, sizeof buf);
    if (n == 0) return; /* e.g. a PUBLISH whose payload alone is too big for buf */
    if (n != mqtt_encoded_size(p)) abort();
    struct mqtt_packet q;
    if (mqtt_decode(buf, n, &q) != MQTT_OK) abort();
    if (q.type != p->type) abort();
    if (p->type == MQTT_PUBLISH && (q.u.publish.topic.len != p->u.publish.topic.len ||
                                    q.u.publish.payload.len != p->u.publish.payload.len ||
                                    memcmp(q.u.publish.payload.data, p->u.publish.payload.data,
                                           p->u.publish.payload.len) != 0))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;
    uint8_t level = 0;
    for (int i = 0; i < 1000 && off < size; i++) {
        struct mqtt_packet p;
        size_t used = 0;
        enum mqtt_err e = mqtt_next_level(data + off, size - off, MAX_PACKET, level, &p, &used);
        if (e != MQTT_OK) break;
        if (used == 0 || used > size - off) abort();
        if (level != MQTT_LEVEL_31 && mqtt_decode_level(data + off, used, MQTT_LEVEL_31, &p))
            abort();
        if (i == 0 && p.type == MQTT_CONNECT) level = p.u.connect.protocol_level;
        if (p.type == MQTT_SUBSCRIBE || p.type == MQTT_UNSUBSCRIBE) {
            struct mqtt_sub_iter it;
            struct mqtt_sub_entry en;
            size_t count = 0;
            mqtt_sub_iter_init(&it, &p);
            while (count <= p.u.subscribe.count && mqtt_sub_iter_next(&it, &en))
                count++;
            if (count != p.u.subscribe.count) abort();
        }
        check_round_trip(&p);
        mqtt_check_inbound(i > 0, p.type);
        off += used;
    }
    return 0;
}
