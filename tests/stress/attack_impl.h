/* Internal to tests/stress: one function per attack, and the helpers they
 * share. Each attack runs to completion or to the size's deadline, keeps its
 * sockets open for hold_ms, closes them and says whether it completed. */
#ifndef STARLING_TESTS_STRESS_ATTACK_IMPL_H
#define STARLING_TESTS_STRESS_ATTACK_IMPL_H

#include "tests/stress/attack.h"
#include "tests/stress/net.h"

typedef bool attack_fn(const struct attack_size *sz, int port, struct attack_result *r);

attack_fn atk_subscribe_pipeline, atk_flood, atk_fanout, atk_replay, atk_deep, atk_collide,
    atk_preconnect, atk_sessions, atk_many_filters;

/* Open, CONNECT, wait for the CONNACK (any code). False if none came. */
bool atk_client(struct st_peer *p, int port, const char *id, bool clean, int rcvbuf, long deadline);
/* Send on p, reconnecting (same id, clean) first if the broker closed it.
 * 0 sent, -1 could not reconnect, -2 deadline; *reconnects counts. */
int atk_send_resilient(struct st_peer *p, int port, const char *id, const struct st_buf *b,
                       long deadline, int *reconnects);
/* PINGREQ, then wait for its PINGRESP: everything sent before is handled. */
bool atk_sync(struct st_peer *p, long deadline);
void atk_hold(const struct attack_size *sz);
long atk_deadline(const struct attack_size *sz);

#endif
