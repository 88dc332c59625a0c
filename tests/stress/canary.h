/* The canary: a well-behaved client on its own thread that, every 0.5 s,
 * publishes one QoS 1 message to a topic it subscribes to at QoS 1 and
 * times PUBLISH sent -> PUBLISH received. A round trip not completed within
 * CANARY_LOST_MS (or cut by a closed connection) is lost; after a loss the
 * canary reconnects. */
#ifndef STARLING_TESTS_STRESS_CANARY_H
#define STARLING_TESTS_STRESS_CANARY_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#define CANARY_PERIOD_MS 500
#define CANARY_LOST_MS 60000 /* a round trip longer than this counts as lost */
#define CANARY_GRACE_MS 5000 /* after stop, how long an outstanding round trip may still finish */

struct canary {
    int port;
    pthread_t thread;
    atomic_bool stop;
    atomic_long stop_at_ms;
    atomic_long worst_us;
    atomic_int done, lost;
    atomic_bool ready; /* first round trip completed */
};

/* Start the thread; false if it could not complete a first round trip within 5 s. */
bool canary_start(struct canary *c, int port);
/* Stop after the outstanding round trip (or its grace) and join. */
void canary_stop(struct canary *c);

#endif
