/* Internal to config/: one parser per top-level section of the config file.
 * Each section owns its defaults and its keys; config.c lists the sections in
 * one table, so a new feature adds a file and a row and touches nothing else. */
#ifndef STARLING_CONFIG_SECTIONS_H
#define STARLING_CONFIG_SECTIONS_H

#include "config/config.h"
#include "config/json_get.h"

struct config_section {
    const char *name;
    void (*defaults)(struct config *c);
    /* v is the section's JSON value, the path in x already names it. */
    int (*parse)(struct jctx *x, const cJSON *v, struct config *c);
};

void config_listeners_defaults(struct config *c);
int config_listeners_parse(struct jctx *x, const cJSON *v, struct config *c);
/* A listener's "tls" object into *t (path already names it). */
int config_listener_tls_parse(struct jctx *x, const cJSON *v, struct tls_config *t);
void config_limits_defaults(struct config *c);
int config_limits_parse(struct jctx *x, const cJSON *v, struct config *c);
void config_log_defaults(struct config *c);
int config_log_parse(struct jctx *x, const cJSON *v, struct config *c);
void config_auth_defaults(struct config *c);
/* After the whole file: the default of allow_anonymous depends on the
 * listeners and the password file. */
void config_auth_finish(struct config *c);
int config_auth_parse(struct jctx *x, const cJSON *v, struct config *c);
void config_performance_defaults(struct config *c);
int config_performance_parse(struct jctx *x, const cJSON *v, struct config *c);
void config_persistence_defaults(struct config *c);
int config_persistence_parse(struct jctx *x, const cJSON *v, struct config *c);

#endif
