/* One switch from packet type to handler. */
#include "broker/broker.h"
#include "broker/handle/handlers.h"
#include "broker/store/persist.h"

void handle_packet(struct broker *b, struct conn *c, const struct mqtt_packet *p)
{
    static const uint8_t pingresp[2] = {MQTT_PINGRESP << 4, 0};
    uint64_t changes = persist_changes(b);
    switch (p->type) {
    case MQTT_CONNECT:
        handle_connect(b, c, &p->u.connect);
        break;
    case MQTT_PUBLISH:
        handle_publish(b, c, &p->u.publish);
        break;
    case MQTT_PUBACK:
    case MQTT_PUBREC:
    case MQTT_PUBREL:
    case MQTT_PUBCOMP:
        handle_ack(b, c, p->type, p->u.packet_id);
        break;
    case MQTT_SUBSCRIBE:
        handle_subscribe(b, c, p);
        break;
    case MQTT_UNSUBSCRIBE:
        handle_unsubscribe(b, c, p);
        break;
    case MQTT_PINGREQ:
        conn_send(b, c, pingresp, sizeof(pingresp)); /* MQTT-3.12.4-1 */
        break;
    case MQTT_DISCONNECT: /* MQTT-3.14.4-3: the will is discarded */
        conn_close(b, c, "client sent DISCONNECT", false);
        break;
    default: /* mqtt_check_inbound refused the rest */
        break;
    }
    /* The packet added changes to store (a PUBLISH, SUBSCRIBE, persistent
     * CONNECT, ack...) while more than persistence.max_pending_bytes wait
     * for the disk: stop reading from this client until a commit goes
     * through, so no client can grow the batch while the disk is slow or
     * failing. Clients that change nothing stored go on being served. */
    if (persist_changes(b) != changes && persist_backlogged(b) && c->state != CONN_CLOSED) {
        b->stats.store_backlog_pauses++;
        conn_pause(b, c, CONN_PAUSE_SUBSCRIBERS);
    }
}
