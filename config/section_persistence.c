/* "persistence": whether retained messages and persistent sessions are kept
 * in a database across restarts, where, and how soon a change is committed.
 * The default (off) keeps `make run` and existing setups free of any file. */
#include "config/sections.h"

#include <stdio.h>

/* Indexed by enum persistence_mode. */
static const char *const mode_names[] = {"off", "periodic", "durable"};
static const char *const persistence_keys[] = {"mode", "path", "flush_interval_ms",
                                               "max_pending_bytes"};

/* One hour between commits is already more than any periodic setup wants;
 * longer would make "a crash loses at most flush_interval_ms" meaningless. */
#define FLUSH_INTERVAL_MAX_MS 3600000u
/* Below 1 MiB one large message could hold every publisher back. The upper
 * bound is the one every other byte limit has. */
#define PENDING_BYTES_MIN (UINT64_C(1) << 20)
#define PENDING_BYTES_MAX (UINT64_C(1) << 40)

void config_persistence_defaults(struct config *c)
{
    c->persistence.mode = PERSIST_OFF;
    /* Relative to the working directory: no config file to stand beside. */
    snprintf(c->persistence.path, sizeof c->persistence.path, "starling.db");
    c->persistence.flush_interval_ms = 1000;
    c->persistence.max_pending_bytes = UINT64_C(64) * 1024 * 1024;
}

int config_persistence_parse(struct jctx *x, const cJSON *v, struct config *c)
{
    struct persistence_config *p = &c->persistence;
    int mode = (int)p->mode;
    if (jcheck_keys(x, v, persistence_keys, 4) < 0 ||
        jget_enum(x, v, "mode", mode_names, 3, &mode) < 0 ||
        jget_path(x, v, "path", "a file path of 1 to 255 bytes", p->path, sizeof p->path) < 0 ||
        jget_u32(x, v, "flush_interval_ms", 1, FLUSH_INTERVAL_MAX_MS, &p->flush_interval_ms) < 0 ||
        jget_u64(x, v, "max_pending_bytes", PENDING_BYTES_MIN, PENDING_BYTES_MAX,
                 &p->max_pending_bytes) < 0)
        return -1;
    p->mode = (enum persistence_mode)mode;
    return 0;
}

const char *persistence_mode_name(enum persistence_mode m)
{
    if ((unsigned)m < sizeof mode_names / sizeof mode_names[0]) return mode_names[m];
    return "unknown";
}
