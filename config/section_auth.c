/* "auth": who may connect. Password and ACL files will join this section. */
#include "config/sections.h"

static const char *const auth_keys[] = {"allow_anonymous"};

void config_auth_defaults(struct config *c)
{
    c->auth.allow_anonymous = true;
}

int config_auth_parse(struct jctx *x, const cJSON *v, struct config *c)
{
    if (jcheck_keys(x, v, auth_keys, 1) < 0 ||
        jget_bool(x, v, "allow_anonymous", &c->auth.allow_anonymous) < 0)
        return -1;
    return 0;
}
