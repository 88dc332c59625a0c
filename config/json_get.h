/* Internal to config/: typed reads of JSON values that track the JSON path of
 * what is being read. A failing read writes one line "<file>: <json.path>:
 * expected <what>, found <what>" into the error buffer and returns -1. */
#ifndef STARLING_CONFIG_JSON_GET_H
#define STARLING_CONFIG_JSON_GET_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define JPATH_MAX 256

/* Where errors go and the JSON path of the value being read. */
struct jctx {
    const char *file;
    char *err;
    size_t errlen;
    size_t path_len;
    char path[JPATH_MAX];
};

/* Extend the path by ".key" (or ["odd key"]) or "[i]"; each returns a mark
 * that jctx_pop restores. */
size_t jctx_push_key(struct jctx *x, const char *key);
size_t jctx_push_index(struct jctx *x, size_t i);
void jctx_pop(struct jctx *x, size_t mark);

/* "<file>: <path>: <message>" (no path part at the top level). Return -1. */
int jctx_error(struct jctx *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "<file>: <path>: expected <fmt...>, found <found described>". Return -1. */
int jctx_expected(struct jctx *x, const cJSON *found, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The same with the "found" part given as text. */
int jctx_expected_text(struct jctx *x, const char *found, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* "<file>:<line>:<col>: invalid JSON at ..." for a parse that failed at `at`
 * (NULL: out of memory) in text. Returns -1. */
int jctx_syntax_error(struct jctx *x, const char *text, const char *at);

/* A JSON value for a message: scalars as written (strings quoted, escaped and
 * truncated), containers by type ("an object", "an empty array"). */
void json_describe(const cJSON *v, char *out, size_t n);
void json_quote(const char *s, char *out, size_t n);

/* Checks that obj is an object whose keys are all in keys[] (n <= 64), each
 * at most once; an unknown key gets a spelling suggestion. */
int jcheck_keys(struct jctx *x, const cJSON *obj, const char *const keys[], size_t n);

/* Optional members of obj: absent leaves *out untouched and returns 0; present
 * and valid sets *out and returns 0; otherwise -1 with the error written. */
int jget_u16(struct jctx *x, const cJSON *obj, const char *key, uint16_t min, uint16_t max,
             uint16_t *out);
int jget_u32(struct jctx *x, const cJSON *obj, const char *key, uint32_t min, uint32_t max,
             uint32_t *out);
int jget_u64(struct jctx *x, const cJSON *obj, const char *key, uint64_t min, uint64_t max,
             uint64_t *out);
int jget_bool(struct jctx *x, const cJSON *obj, const char *key, bool *out);
/* One of names[0..n-1]; *out is the index. */
int jget_enum(struct jctx *x, const cJSON *obj, const char *key, const char *const names[],
              size_t n, int *out);
/* A string of 1 to outsize-1 bytes, copied into out; `what` is the expectation. */
int jget_string(struct jctx *x, const cJSON *obj, const char *key, const char *what, char *out,
                size_t outsize);
/* The same for a file path; a relative one is taken beside the
 * configuration file (x->file), the result still within outsize. */
int jget_path(struct jctx *x, const cJSON *obj, const char *key, const char *what, char *out,
              size_t outsize);

/* The value itself (path already pushed): an integer in [min, max]. */
int jval_uint(struct jctx *x, const cJSON *v, uint64_t min, uint64_t max, uint64_t *out);

#endif
