/* Where a JSON text stops being JSON, as "<file>:<line>:<col>: invalid JSON at
 * "<text there>"": cJSON gives a byte offset, editors want line and column. */
#include "config/json_get.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Editors count columns in characters, so UTF-8 continuation bytes don't. */
static void line_col(const char *text, const char *at, unsigned *line, unsigned *col)
{
    *line = 1;
    *col = 1;
    for (const char *p = text; p < at && *p != '\0'; p++) {
        if (*p == '\n') {
            (*line)++;
            *col = 1;
        } else if (((unsigned char)*p & 0xC0) != 0x80) {
            (*col)++;
        }
    }
}

static bool json_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

/* The innermost '{' or '[' still open just before `end` (0 if none), skipping
 * brackets inside strings. Deeper nesting than this is not worth tracking. */
static char open_container(const char *text, const char *end)
{
    char stack[64];
    size_t depth = 0;
    bool in_string = false;
    for (const char *p = text; p < end; p++) {
        if (in_string) {
            if (*p == '\\' && p + 1 < end)
                p++;
            else if (*p == '"')
                in_string = false;
        } else if (*p == '"') {
            in_string = true;
        } else if (*p == '{' || *p == '[') {
            if (depth < sizeof stack) stack[depth] = *p;
            depth++;
        } else if ((*p == '}' || *p == ']') && depth > 0) {
            depth--;
        }
    }
    return depth > 0 && depth <= sizeof stack ? stack[depth - 1] : 0;
}

/* cJSON reports a missing object key (the trailing comma in {"a": 1,}, the
 * bare word in {a: 1}) one character past the culprit; point at the culprit. */
static const char *culprit(const char *text, const char *at)
{
    if (at <= text || at[-1] == '"' || json_space(at[-1])) return at;
    const char *q = at - 1;
    while (q > text && json_space(q[-1]))
        q--;
    if (q > text && (q[-1] == '{' || q[-1] == ',') && open_container(text, at - 1) == '{')
        return at - 1;
    return at;
}

int jctx_syntax_error(struct jctx *x, const char *text, const char *at)
{
    if (x->err == NULL || x->errlen == 0) return -1;
    if (at == NULL) return jctx_error(x, "cannot parse: out of memory");
    at = culprit(text, at);
    unsigned line, col;
    line_col(text, at, &line, &col);
    if (*at == '\0') {
        snprintf(x->err, x->errlen, "%s:%u:%u: invalid JSON: unexpected end of file", x->file, line,
                 col);
        return -1;
    }
    char near[32], q[128];
    size_t n = strcspn(at, "\r\n");
    if (n == 0) {
        snprintf(x->err, x->errlen, "%s:%u:%u: invalid JSON at the end of the line", x->file, line,
                 col);
        return -1;
    }
    snprintf(near, sizeof near, "%.*s", (int)(n < 20 ? n : 20), at);
    json_quote(near, q, sizeof q);
    snprintf(x->err, x->errlen, "%s:%u:%u: invalid JSON at %s", x->file, line, col, q);
    return -1;
}
