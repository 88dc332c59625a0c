#include "auth/auth.h"

/* Values of protocol/mqtt.h's enum mqtt_connack_code; auth/ depends on libc
 * and mbedtls only, so they are restated rather than included. */
#define CONNACK_ACCEPTED 0
#define CONNACK_BAD_CREDENTIALS 4
#define CONNACK_NOT_AUTHORIZED 5

uint8_t auth_connect(const struct auth_config *cfg, const struct passwd_db *db,
                     const struct auth_request *req, const char **why)
{
    *why = "accepted";
    if (req->username_from_certificate) return CONNACK_ACCEPTED;
    if (!req->has_username) {
        if (cfg->allow_anonymous) return CONNACK_ACCEPTED;
        *why = "anonymous clients are not allowed (auth.allow_anonymous)";
        return CONNACK_NOT_AUTHORIZED;
    }
    if (db) {
        const uint8_t *pw = req->has_password ? req->password : (const uint8_t *)"";
        size_t pwlen = req->has_password ? req->password_len : 0;
        if (passwd_check(db, req->username, req->username_len, pw, pwlen) == PASSWD_OK)
            return CONNACK_ACCEPTED;
        *why = "bad user name or password";
        return CONNACK_BAD_CREDENTIALS;
    }
    /* Without a password file a user name proves nothing: it is let in
     * only where anonymous clients are. */
    if (cfg->allow_anonymous) return CONNACK_ACCEPTED;
    *why = "no password file (auth.password_file) and anonymous access is off";
    return CONNACK_NOT_AUTHORIZED;
}
