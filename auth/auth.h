/* Connection policy: may this client connect? Answers with a CONNACK return
 * code and the reason, from the configuration and the loaded password file
 * (auth/passwd.h); does no I/O. ACLs will extend this module without
 * changing its callers. */
#ifndef STARLING_AUTH_AUTH_H
#define STARLING_AUTH_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/passwd.h"
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
    /* The user name is the CN of a client certificate the listener
     * verified (tls.use_identity_as_username): as Mosquitto, it is trusted
     * without a password and the password file is not consulted. */
    bool username_from_certificate;
};

/* 0 (accepted), MQTT_CONNACK_BAD_CREDENTIALS (4) for a user name and
 * password the file does not hold, or MQTT_CONNACK_NOT_AUTHORIZED (5). As
 * Mosquitto: without a user name a client is anonymous; with anonymous
 * access off and no password file, nobody gets in. db may be NULL (no
 * file). *why says why a client was refused (never the password). */
uint8_t auth_connect(const struct auth_config *cfg, const struct passwd_db *db,
                     const struct auth_request *req, const char **why);

#endif
