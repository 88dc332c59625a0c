/* Command-line overrides over the file: the last step of building a config. */
#include "config/config.h"

int config_build(struct config *c, const struct config_overrides *o, char *err, size_t errlen)
{
    struct config next;
    config_defaults(&next);
    if (o->path && config_load(&next, o->path, err, errlen) < 0) return -1;
    if (o->port >= 0) next.listeners[0].port = (uint16_t)o->port;
    if (o->verbose) next.log.level = LOG_DEBUG;
    *c = next;
    return 0;
}
