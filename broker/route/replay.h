/* Retained replay as a stream: each new subscription of a session gets a job
 * (a retain cursor and its granted QoS) that produces the filter's retained
 * messages only while the client has room (output under one chunk; for QoS
 * 1/2 a free inflight slot and an empty session queue), at most one chunk
 * per session per loop turn. At most one job per filter of the session. */
#ifndef STARLING_BROKER_REPLAY_H
#define STARLING_BROKER_REPLAY_H

#include <stddef.h>
#include <stdint.h>

struct broker;
struct session;
struct replay;

/* Replay the filter's retained messages at granted QoS qos (after its
 * SUBACK). A job already running for the same filter starts over instead
 * (MQTT-3.8.4-3). 0, or -1 on out of memory (nothing changed). */
int replay_add(struct broker *b, struct session *s, const uint8_t *filter, size_t len, uint8_t qos);
/* The filter was unsubscribed: its replay stops (MQTT-3.10.4-2). */
void replay_cancel(struct broker *b, struct session *s, const uint8_t *filter, size_t len);
/* The client may have room again (output drained, an ack, a reconnect):
 * produce more at the end of this loop turn. Cheap when nothing replays. */
void replay_wake(struct broker *b, struct session *s);
/* End of a loop turn: one chunk for each session woken since the last. */
void replay_run(struct broker *b);
/* Free a session's jobs (session_free). */
void replay_free(struct replay *r);

#endif
