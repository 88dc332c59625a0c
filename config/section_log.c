/* "log": what the broker logs, in which format, and where to. */
#include "config/sections.h"

#include <stdio.h>

/* Indexed by enum log_level / enum log_format. */
static const char *const level_names[] = {"error", "warning", "info", "debug"};
static const char *const format_names[] = {"text", "json"};
static const char *const log_keys[] = {"level", "format", "destination"};

const char *log_level_name(enum log_level l)
{
    if ((unsigned)l < sizeof level_names / sizeof level_names[0]) return level_names[l];
    return "unknown";
}

void config_log_defaults(struct config *c)
{
    c->log.level = LOG_INFO;
    c->log.format = LOG_FORMAT_TEXT;
    snprintf(c->log.destination, sizeof c->log.destination, "stderr");
}

int config_log_parse(struct jctx *x, const cJSON *v, struct config *c)
{
    int level = (int)c->log.level, format = (int)c->log.format;
    if (jcheck_keys(x, v, log_keys, 3) < 0 ||
        jget_enum(x, v, "level", level_names, 4, &level) < 0 ||
        jget_enum(x, v, "format", format_names, 2, &format) < 0 ||
        jget_string(x, v, "destination", "\"stderr\" or a file path of 1 to 255 bytes",
                    c->log.destination, sizeof c->log.destination) < 0)
        return -1;
    c->log.level = (enum log_level)level;
    c->log.format = (enum log_format)format;
    return 0;
}
