/* The configuration as a whole: the table of top-level sections, the defaults
 * they assemble, and parsing a JSON text into a copy that replaces *c only
 * when every key has been validated. */
#include "config/config.h"
#include "config/sections.h"

#include <stdio.h>
#include <string.h>

/* A new feature adds its row here and its parser in its own file. */
static const struct config_section sections[] = {
    {"listeners", config_listeners_defaults, config_listeners_parse},
    {"limits", config_limits_defaults, config_limits_parse},
    {"log", config_log_defaults, config_log_parse},
    {"auth", config_auth_defaults, config_auth_parse},
    {"performance", config_performance_defaults, config_performance_parse},
    {"persistence", config_persistence_defaults, config_persistence_parse},
};
#define N_SECTIONS (sizeof sections / sizeof sections[0])

void config_defaults(struct config *c)
{
    memset(c, 0, sizeof *c);
    for (size_t i = 0; i < N_SECTIONS; i++)
        sections[i].defaults(c);
}

static int parse_root(struct jctx *x, const cJSON *root, struct config *c)
{
    if (!cJSON_IsObject(root)) return jctx_expected(x, root, "a JSON object at the top level");
    const char *names[N_SECTIONS];
    for (size_t i = 0; i < N_SECTIONS; i++)
        names[i] = sections[i].name;
    if (jcheck_keys(x, root, names, N_SECTIONS) < 0) return -1;
    for (size_t i = 0; i < N_SECTIONS; i++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, sections[i].name);
        if (v == NULL) continue;
        size_t mark = jctx_push_key(x, sections[i].name);
        if (sections[i].parse(x, v, c) < 0) return -1;
        jctx_pop(x, mark);
    }
    return 0;
}

int config_parse(struct config *c, const char *name, const char *json, char *err, size_t errlen)
{
    struct jctx x = {.file = name, .err = err, .errlen = errlen};
    x.path[0] = '\0';
    /* Some editors start UTF-8 files with a byte order mark; JSON has no use for it. */
    if (strncmp(json, "\xEF\xBB\xBF", 3) == 0) json += 3;
    if (json[strspn(json, " \t\r\n")] == '\0')
        return jctx_error(&x, "the file is empty; expected a JSON object such as {}");
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(json, &end, 1);
    if (root == NULL) return jctx_syntax_error(&x, json, end);
    struct config tmp;
    config_defaults(&tmp);
    int r = parse_root(&x, root, &tmp);
    cJSON_Delete(root);
    if (r == 0) config_auth_finish(&tmp);
    if (r == 0) *c = tmp;
    return r;
}
