/* The broker's reaction to each decoded packet from a client: session and
 * QoS state changes, replies queued on the connection. A handler that meets
 * a protocol violation closes the connection itself. */
#ifndef STARLING_BROKER_HANDLERS_H
#define STARLING_BROKER_HANDLERS_H

#include "protocol/mqtt.h"

struct broker;
struct conn;

/* Dispatch one packet (already validated by protocol/ on its own). */
void handle_packet(struct broker *b, struct conn *c, const struct mqtt_packet *p);

void handle_connect(struct broker *b, struct conn *c, const struct mqtt_connect *p);
void handle_publish(struct broker *b, struct conn *c, const struct mqtt_publish *p);
void handle_ack(struct broker *b, struct conn *c, enum mqtt_type type, uint16_t pid);
void handle_subscribe(struct broker *b, struct conn *c, const struct mqtt_packet *p);
void handle_unsubscribe(struct broker *b, struct conn *c, const struct mqtt_packet *p);

#endif
