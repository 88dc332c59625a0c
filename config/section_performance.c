/* "performance": trade-offs between CPU and latency that an operator picks. */
#include "config/sections.h"

static const char *const performance_keys[] = {"busy_poll_us"};

void config_performance_defaults(struct config *c)
{
    c->performance.busy_poll_us = 0;
}

int config_performance_parse(struct jctx *x, const cJSON *v, struct config *c)
{
    if (jcheck_keys(x, v, performance_keys, 1) < 0 ||
        jget_u32(x, v, "busy_poll_us", 0, 1000000, &c->performance.busy_poll_us) < 0)
        return -1;
    return 0;
}
