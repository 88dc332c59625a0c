/* starling --healthcheck: one MQTT round trip through a running broker, for
 * container health checks and monitoring scripts.
 *
 * It connects to the configuration's first plain-TCP listener (a wildcard
 * bind address is reached on loopback), sends CONNECT (clean session, a
 * unique client id, the user name and password given), subscribes at QoS 1
 * to a topic of its own under starling/healthcheck/, publishes one QoS 1
 * message to it and waits for both the PUBACK and the delivery. Healthy only
 * if all of that happens within timeout_ms: a broker that accepts
 * connections but cannot route, store (durable persistence acknowledges
 * after the commit) or authenticate is reported unhealthy, with the step
 * that failed. Prints one line on out; returns 0 (healthy) or 1. */
#ifndef STARLING_BROKER_HEALTHCHECK_H
#define STARLING_BROKER_HEALTHCHECK_H

#include <stdio.h>

#include "config/config.h"

struct healthcheck_opts {
    const char *username; /* NULL: none */
    const char *password; /* NULL: none (sent only with a user name) */
    int timeout_ms;       /* for the whole round trip */
};

int healthcheck_run(const struct config *cfg, const struct healthcheck_opts *o, FILE *out);

#endif
