#include "auth/auth.h"

/* Values of protocol/mqtt.h's enum mqtt_connack_code; auth/ depends on libc
 * only, so they are restated rather than included. */
#define CONNACK_ACCEPTED 0
#define CONNACK_NOT_AUTHORIZED 5

uint8_t auth_connect(const struct auth_config *cfg, const struct auth_request *req)
{
    /* Like Mosquitto without a password file: a user name is enough. */
    if (!req->has_username && !cfg->allow_anonymous) return CONNACK_NOT_AUTHORIZED;
    return CONNACK_ACCEPTED;
}
