/* The JSON path of the value being read and the one-line error messages that
 * name it. Messages are built with snprintf only, so they always fit err. */
#include "config/json_get.h"

#include <math.h> /* isfinite, a macro: no libm needed */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Strings in messages are cut after this many bytes so a line stays readable. */
#define QUOTE_MAX 40

static void path_append(struct jctx *x, const char *s)
{
    size_t room = sizeof x->path - 1 - x->path_len;
    size_t n = strlen(s);
    if (n > room) n = room;
    memcpy(x->path + x->path_len, s, n);
    x->path_len += n;
    x->path[x->path_len] = '\0';
}

/* Keys made of letters, digits, '_' and '-' read naturally as a.b; anything
 * else is quoted so the path stays unambiguous and on one line. */
static bool plain_key(const char *k)
{
    size_t n = strlen(k);
    if (n == 0 || n > 64) return false;
    for (size_t i = 0; i < n; i++) {
        char ch = k[i];
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                  (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
        if (!ok) return false;
    }
    return true;
}

size_t jctx_push_key(struct jctx *x, const char *key)
{
    size_t mark = x->path_len;
    if (plain_key(key)) {
        if (x->path_len > 0) path_append(x, ".");
        path_append(x, key);
    } else {
        char q[QUOTE_MAX * 6 + 16];
        json_quote(key, q, sizeof q);
        path_append(x, "[");
        path_append(x, q);
        path_append(x, "]");
    }
    return mark;
}

size_t jctx_push_index(struct jctx *x, size_t i)
{
    size_t mark = x->path_len;
    char s[32];
    snprintf(s, sizeof s, "[%zu]", i);
    path_append(x, s);
    return mark;
}

void jctx_pop(struct jctx *x, size_t mark)
{
    if (mark <= x->path_len) {
        x->path_len = mark;
        x->path[mark] = '\0';
    }
}

static int emit(struct jctx *x, const char *msg)
{
    if (x->err == NULL || x->errlen == 0) return -1;
    if (x->path_len > 0)
        snprintf(x->err, x->errlen, "%s: %s: %s", x->file, x->path, msg);
    else
        snprintf(x->err, x->errlen, "%s: %s", x->file, msg);
    return -1;
}

int jctx_error(struct jctx *x, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return emit(x, msg);
}

static int expected_v(struct jctx *x, const char *found, const char *fmt, va_list ap)
{
    char what[384], msg[384 + QUOTE_MAX * 6 + 64];
    vsnprintf(what, sizeof what, fmt, ap);
    snprintf(msg, sizeof msg, "expected %s, found %s", what, found);
    return emit(x, msg);
}

int jctx_expected(struct jctx *x, const cJSON *found, const char *fmt, ...)
{
    char desc[QUOTE_MAX * 6 + 16];
    json_describe(found, desc, sizeof desc);
    va_list ap;
    va_start(ap, fmt);
    int r = expected_v(x, desc, fmt, ap);
    va_end(ap);
    return r;
}

int jctx_expected_text(struct jctx *x, const char *found, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = expected_v(x, found, fmt, ap);
    va_end(ap);
    return r;
}

/* Appends s at *o, never past n-1 bytes; out stays terminated. */
static void put(char *out, size_t n, size_t *o, const char *s)
{
    while (*s != '\0' && *o + 1 < n)
        out[(*o)++] = *s++;
    out[*o] = '\0';
}

static void escape_char(unsigned char ch, char esc[8])
{
    if (ch == '"' || ch == '\\')
        snprintf(esc, 8, "\\%c", ch);
    else if (ch == '\n')
        snprintf(esc, 8, "\\n");
    else if (ch == '\t')
        snprintf(esc, 8, "\\t");
    else if (ch < 0x20 || ch == 0x7f)
        snprintf(esc, 8, "\\u%04x", ch);
    else
        snprintf(esc, 8, "%c", ch);
}

void json_quote(const char *s, char *out, size_t n)
{
    if (n == 0) return;
    size_t len = strlen(s), cut = len, o = 0;
    if (len > QUOTE_MAX) {
        cut = QUOTE_MAX;
        /* never show half of a UTF-8 sequence */
        while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
            cut--;
    }
    put(out, n, &o, "\"");
    for (size_t i = 0; i < cut; i++) {
        char esc[8];
        escape_char((unsigned char)s[i], esc);
        put(out, n, &o, esc);
    }
    put(out, n, &o, cut < len ? "\"..." : "\"");
}

/* Integers as integers; anything else in the fewest digits that read back
 * as the same double, so 0.1 shows as 0.1. */
static void describe_number(double d, char *out, size_t n)
{
    if (!isfinite(d)) {
        snprintf(out, n, "a number too large to represent");
        return;
    }
    if (d > -1e18 && d < 1e18 && d == (double)(int64_t)d) {
        snprintf(out, n, "%.0f", d);
        return;
    }
    for (int p = 1; p <= 17; p++) {
        snprintf(out, n, "%.*g", p, d);
        if (strtod(out, NULL) == d) return;
    }
}

void json_describe(const cJSON *v, char *out, size_t n)
{
    if (v == NULL || cJSON_IsInvalid(v))
        snprintf(out, n, "nothing");
    else if (cJSON_IsBool(v))
        snprintf(out, n, "a boolean");
    else if (cJSON_IsNull(v))
        snprintf(out, n, "null");
    else if (cJSON_IsNumber(v))
        describe_number(v->valuedouble, out, n);
    else if (cJSON_IsString(v))
        json_quote(v->valuestring, out, n);
    else if (cJSON_IsArray(v))
        snprintf(out, n, v->child ? "an array" : "an empty array");
    else if (cJSON_IsObject(v))
        snprintf(out, n, v->child ? "an object" : "an empty object");
    else
        snprintf(out, n, "an unsupported value");
}
