/* The last steps of building a config: the environment over the file, then
 * the command line over both. */
#include "config/config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void config_env_read(struct config_env *e)
{
    e->log_level = getenv("STARLING_LOG_LEVEL");
    e->password_file = getenv("STARLING_PASSWORD_FILE");
    e->allow_anonymous = getenv("STARLING_ALLOW_ANONYMOUS");
    e->acl_file = getenv("STARLING_ACL_FILE");
}

static int env_fail(char *err, size_t errlen, const char *var, const char *expected,
                    const char *found)
{
    snprintf(err, errlen, "environment %s: expected %s, found '%.64s'", var, expected, found);
    return -1;
}

static int env_path(const char *var, const char *v, bool empty_ok, char *dst, size_t cap, char *err,
                    size_t errlen)
{
    size_t n = strlen(v);
    if ((n == 0 && !empty_ok) || n >= cap) {
        char what[64];
        snprintf(what, sizeof what, "a file path of %d to %zu bytes", empty_ok ? 0 : 1, cap - 1);
        return env_fail(err, errlen, var, what, v);
    }
    memcpy(dst, v, n + 1);
    return 0;
}

static int apply_env(struct config *c, const struct config_env *e, char *err, size_t errlen)
{
    if (e->log_level) {
        int level = -1;
        for (int l = LOG_ERROR; l <= LOG_DEBUG; l++)
            if (strcmp(e->log_level, log_level_name((enum log_level)l)) == 0) level = l;
        if (level < 0)
            return env_fail(err, errlen, "STARLING_LOG_LEVEL", "one of error, warning, info, debug",
                            e->log_level);
        c->log.level = (enum log_level)level;
    }
    if (e->password_file) {
        if (env_path("STARLING_PASSWORD_FILE", e->password_file, false, c->auth.password_file,
                     sizeof c->auth.password_file, err, errlen) < 0)
            return -1;
        /* Naming a password file asks for passwords, whatever the file says
         * about anonymous clients (the Docker image's allows them). */
        c->auth.allow_anonymous = false;
        c->auth.anonymous_defaulted = true;
    }
    if (e->allow_anonymous) {
        bool yes = strcmp(e->allow_anonymous, "true") == 0;
        if (!yes && strcmp(e->allow_anonymous, "false") != 0)
            return env_fail(err, errlen, "STARLING_ALLOW_ANONYMOUS", "true or false",
                            e->allow_anonymous);
        c->auth.allow_anonymous = yes;
        c->auth.anonymous_defaulted = false;
    }
    if (e->acl_file && env_path("STARLING_ACL_FILE", e->acl_file, true, c->auth.acl_file,
                                sizeof c->auth.acl_file, err, errlen) < 0)
        return -1;
    return 0;
}

int config_build(struct config *c, const struct config_overrides *o, char *err, size_t errlen)
{
    struct config next;
    config_defaults(&next);
    if (o->path && config_load(&next, o->path, err, errlen) < 0) return -1;
    if (apply_env(&next, &o->env, err, errlen) < 0) return -1;
    if (o->port >= 0) next.listeners[0].port = (uint16_t)o->port;
    if (o->verbose) next.log.level = LOG_DEBUG;
    *c = next;
    return 0;
}
