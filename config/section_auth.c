/* "auth": who may connect, and the ACL file saying what they may touch. allow_anonymous defaults as
 * Mosquitto 2's does: on for the embedded loopback-only default, off once a file opens a listener
 * beyond loopback or names a password file, unless it says otherwise. */
#include "config/sections.h"

#include <string.h>

static const char *const auth_keys[] = {"allow_anonymous", "password_file", "acl_file"};

void config_auth_defaults(struct config *c)
{
    c->auth.allow_anonymous = true;
    c->auth.anonymous_defaulted = true;
    c->auth.password_file[0] = '\0';
    c->auth.acl_file[0] = '\0';
}

int config_auth_parse(struct jctx *x, const cJSON *v, struct config *c)
{
    /* "" names no ACL file, as leaving the key out does. */
    const cJSON *acl = cJSON_GetObjectItemCaseSensitive(v, "acl_file");
    bool no_acl = cJSON_IsString(acl) && acl->valuestring[0] == '\0';
    if (jcheck_keys(x, v, auth_keys, 3) < 0 ||
        jget_bool(x, v, "allow_anonymous", &c->auth.allow_anonymous) < 0 ||
        jget_path(x, v, "password_file", "a file path of 1 to 255 bytes", c->auth.password_file,
                  sizeof c->auth.password_file) < 0 ||
        (!no_acl && jget_path(x, v, "acl_file", "a file path of up to 255 bytes, or \"\"",
                              c->auth.acl_file, sizeof c->auth.acl_file) < 0))
        return -1;
    if (cJSON_GetObjectItemCaseSensitive(v, "allow_anonymous")) c->auth.anonymous_defaulted = false;
    return 0;
}

bool config_listener_is_loopback(const struct listener_config *l)
{
    return strncmp(l->bind, "127.", 4) == 0 || strcmp(l->bind, "::1") == 0;
}

void config_auth_finish(struct config *c)
{
    if (!c->auth.anonymous_defaulted) return;
    bool local = c->auth.password_file[0] == '\0';
    for (size_t i = 0; local && i < c->n_listeners; i++)
        local = config_listener_is_loopback(&c->listeners[i]);
    c->auth.allow_anonymous = local;
}
