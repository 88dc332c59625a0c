/* Client packets and the publisher window (client.h). */
#include "tests/bench/client.h"

#include <stdlib.h>
#include <string.h>

static struct mqtt_bytes bytes_of(const char *s)
{
    return (struct mqtt_bytes){(const uint8_t *)s, strlen(s)};
}

/* Keep-alive 0: idle benchmark connections must not be timed out. */
bool put_connect(struct bconn *c, const char *client_id, bool clean)
{
    struct mqtt_packet p = {.type = MQTT_CONNECT};
    p.u.connect.protocol_level = 4;
    p.u.connect.clean_session = clean;
    p.u.connect.client_id = bytes_of(client_id);
    return bconn_put(c, &p);
}

bool put_subscribe(struct bconn *c, uint16_t packet_id, const char *filter, uint8_t qos)
{
    struct mqtt_sub_entry e = {bytes_of(filter), qos};
    struct mqtt_packet p = {.type = MQTT_SUBSCRIBE};
    p.u.subscribe.packet_id = packet_id;
    p.u.subscribe.count = 1;
    p.u.subscribe.entries = &e;
    return bconn_put(c, &p);
}

bool put_publish(struct bconn *c, const char *topic, uint8_t qos, bool retain, uint16_t packet_id,
                 const uint8_t *payload, size_t len)
{
    struct mqtt_packet p = {.type = MQTT_PUBLISH};
    p.u.publish.qos = qos;
    p.u.publish.retain = retain;
    p.u.publish.topic = bytes_of(topic);
    p.u.publish.packet_id = packet_id;
    p.u.publish.payload = (struct mqtt_bytes){payload, len};
    return bconn_put(c, &p);
}

bool put_ack(struct bconn *c, enum mqtt_type type, uint16_t packet_id)
{
    struct mqtt_packet p = {.type = type};
    p.u.packet_id = packet_id;
    return bconn_put(c, &p);
}

bool pubwin_init(struct pubwin *w, uint32_t limit)
{
    w->slot = calloc(65536, 1);
    w->seq = calloc(65536, sizeof *w->seq);
    w->inflight = 0;
    w->limit = limit > 65535 ? 65535 : limit;
    w->next = 1;
    return w->slot && w->seq;
}

void pubwin_free(struct pubwin *w)
{
    free(w->slot);
    free(w->seq);
    w->slot = NULL;
    w->seq = NULL;
}

bool pubwin_full(const struct pubwin *w)
{
    return w->inflight >= w->limit;
}

/* Acknowledgements mostly arrive in order, so the next id is usually free. */
uint16_t pubwin_take(struct pubwin *w, uint64_t seq)
{
    for (;;) {
        uint16_t id = w->next;
        w->next = id == 65535 ? 1 : id + 1;
        if (w->slot[id] != SLOT_FREE) continue;
        w->slot[id] = SLOT_WAIT_ACK;
        w->seq[id] = seq;
        w->inflight++;
        return id;
    }
}

int pubwin_ack(struct pubwin *w, enum mqtt_type type, uint16_t packet_id, uint64_t *seq)
{
    uint8_t want = type == MQTT_PUBCOMP ? SLOT_WAIT_COMP : SLOT_WAIT_ACK;
    if (packet_id == 0 || w->slot[packet_id] != want) return -1;
    if (type == MQTT_PUBREC) {
        w->slot[packet_id] = SLOT_WAIT_COMP;
        return 0;
    }
    w->slot[packet_id] = SLOT_FREE;
    w->inflight--;
    *seq = w->seq[packet_id];
    return 1;
}
