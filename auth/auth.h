/* Connection policy: may this client connect? Answers with a CONNACK return
 * code; does no I/O. Today: anonymous access on or off. Password files and
 * ACLs extend this module without changing its callers. */
#ifndef STARLING_AUTH_AUTH_H
#define STARLING_AUTH_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/config.h"

struct auth_request {
    const uint8_t *client_id;
    size_t client_id_len;
    bool has_username;
    const uint8_t *username;
    size_t username_len;
    bool has_password;
    const uint8_t *password;
    size_t password_len;
};

/* 0 (accepted), or MQTT_CONNACK_NOT_AUTHORIZED (5) / BAD_CREDENTIALS (4). */
uint8_t auth_connect(const struct auth_config *cfg, const struct auth_request *req);

#endif
