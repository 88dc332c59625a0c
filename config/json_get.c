/* Typed getters for optional members of a JSON object, and the key check that
 * catches misspelt and repeated keys before any value is read. */
#include "config/json_get.h"
#include "config/suggest.h"

#include <inttypes.h>
#include <math.h> /* isfinite, a macro: no libm needed */
#include <stdio.h>
#include <string.h>

int jval_uint(struct jctx *x, const cJSON *v, uint64_t min, uint64_t max, uint64_t *out)
{
    /* Bounds up to 2^53 are exact doubles, so the comparison is exact too. */
    if (cJSON_IsNumber(v)) {
        double d = v->valuedouble;
        if (isfinite(d) && d >= (double)min && d <= (double)max && d == (double)(uint64_t)d) {
            *out = (uint64_t)d;
            return 0;
        }
    }
    return jctx_expected(x, v, "an integer from %" PRIu64 " to %" PRIu64, min, max);
}

/* Reads obj[key] into *out: 1 if set, 0 if absent, -1 on error. */
static int get_uint(struct jctx *x, const cJSON *obj, const char *key, uint64_t min, uint64_t max,
                    uint64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (v == NULL) return 0;
    size_t mark = jctx_push_key(x, key);
    if (jval_uint(x, v, min, max, out) < 0) return -1;
    jctx_pop(x, mark);
    return 1;
}

int jget_u16(struct jctx *x, const cJSON *obj, const char *key, uint16_t min, uint16_t max,
             uint16_t *out)
{
    uint64_t v;
    int r = get_uint(x, obj, key, min, max, &v);
    if (r == 1) *out = (uint16_t)v;
    return r < 0 ? -1 : 0;
}

int jget_u32(struct jctx *x, const cJSON *obj, const char *key, uint32_t min, uint32_t max,
             uint32_t *out)
{
    uint64_t v;
    int r = get_uint(x, obj, key, min, max, &v);
    if (r == 1) *out = (uint32_t)v;
    return r < 0 ? -1 : 0;
}

int jget_u64(struct jctx *x, const cJSON *obj, const char *key, uint64_t min, uint64_t max,
             uint64_t *out)
{
    uint64_t v;
    int r = get_uint(x, obj, key, min, max, &v);
    if (r == 1) *out = v;
    return r < 0 ? -1 : 0;
}

int jget_bool(struct jctx *x, const cJSON *obj, const char *key, bool *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (v == NULL) return 0;
    size_t mark = jctx_push_key(x, key);
    if (!cJSON_IsBool(v)) return jctx_expected(x, v, "true or false");
    *out = cJSON_IsTrue(v);
    jctx_pop(x, mark);
    return 0;
}

/* "\"a\", \"b\" or \"c\"" for messages. */
static void list_quoted(const char *const names[], size_t n, char *out, size_t size)
{
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < n && o < size; i++) {
        const char *sep = i == 0 ? "" : (i + 1 == n ? " or " : ", ");
        int w = snprintf(out + o, size - o, "%s\"%s\"", sep, names[i]);
        if (w < 0) break;
        o += (size_t)w;
    }
}

int jget_enum(struct jctx *x, const cJSON *obj, const char *key, const char *const names[],
              size_t n, int *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (v == NULL) return 0;
    size_t mark = jctx_push_key(x, key);
    for (size_t i = 0; cJSON_IsString(v) && i < n; i++) {
        if (strcmp(v->valuestring, names[i]) == 0) {
            *out = (int)i;
            jctx_pop(x, mark);
            return 0;
        }
    }
    char list[256];
    list_quoted(names, n, list, sizeof list);
    return jctx_expected(x, v, "%s", list);
}

int jget_string(struct jctx *x, const cJSON *obj, const char *key, const char *what, char *out,
                size_t outsize)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (v == NULL) return 0;
    size_t mark = jctx_push_key(x, key);
    if (!cJSON_IsString(v) || v->valuestring[0] == '\0') return jctx_expected(x, v, "%s", what);
    size_t len = strlen(v->valuestring);
    if (len >= outsize) {
        char found[64];
        snprintf(found, sizeof found, "a string of %zu bytes", len);
        return jctx_expected_text(x, found, "%s", what);
    }
    memcpy(out, v->valuestring, len + 1);
    jctx_pop(x, mark);
    return 0;
}

/* A relative path names a file beside the configuration file, wherever
 * starling was started from (systemd, Docker and `-c` from another folder
 * all find the same files). */
int jget_path(struct jctx *x, const cJSON *obj, const char *key, const char *what, char *out,
              size_t outsize)
{
    if (jget_string(x, obj, key, what, out, outsize) < 0) return -1;
    const char *slash = strrchr(x->file, '/');
    if (!cJSON_GetObjectItemCaseSensitive(obj, key) || out[0] == '/' || !slash) return 0;
    char joined[4096];
    int n = snprintf(joined, sizeof joined, "%.*s/%s", (int)(slash - x->file), x->file, out);
    if (n < 0 || (size_t)n >= outsize) {
        jctx_push_key(x, key);
        char found[64];
        snprintf(found, sizeof found, "a path of %d bytes beside %s", n, x->file);
        return jctx_expected_text(x, found, "%s", what);
    }
    memcpy(out, joined, (size_t)n + 1);
    return 0;
}

static size_t key_index(const char *key, const char *const keys[], size_t n)
{
    size_t i = 0;
    while (i < n && strcmp(key, keys[i]) != 0)
        i++;
    return i;
}

/* The path is at the unknown key; `parent` is the path of its object. */
static int unknown_key(struct jctx *x, const char *key, const char *parent,
                       const char *const keys[], size_t n)
{
    const char *best = suggest_word(key, keys, n);
    if (best != NULL)
        return jctx_error(x, "unknown key (did you mean \"%s%s%s\"?)", parent,
                          parent[0] != '\0' ? "." : "", best);
    char list[384];
    size_t o = 0;
    list[0] = '\0';
    for (size_t i = 0; i < n && o < sizeof list; i++) {
        int w = snprintf(list + o, sizeof list - o, "%s%s", i ? ", " : "", keys[i]);
        if (w < 0) break;
        o += (size_t)w;
    }
    return jctx_error(x, "unknown key (the keys allowed here are: %s)", list);
}

int jcheck_keys(struct jctx *x, const cJSON *obj, const char *const keys[], size_t n)
{
    if (!cJSON_IsObject(obj)) return jctx_expected(x, obj, "an object");
    uint64_t seen = 0; /* one bit per known key: n <= 64 */
    for (const cJSON *m = obj->child; m != NULL; m = m->next) {
        char parent[JPATH_MAX];
        memcpy(parent, x->path, x->path_len + 1);
        size_t k = key_index(m->string, keys, n);
        size_t mark = jctx_push_key(x, m->string);
        if (k >= n || k >= 64) return unknown_key(x, m->string, parent, keys, n);
        if (seen & (UINT64_C(1) << k))
            return jctx_error(x, "duplicate key (each key may appear only once)");
        seen |= UINT64_C(1) << k;
        jctx_pop(x, mark);
    }
    return 0;
}
