/* Mosquitto acl_file, compiled (see acl.h). Semantics follow Mosquitto 2.0's
 * src/security_default.c: sections are merged by user name, deny lines are
 * tried before grants within the client's section and within the patterns,
 * and the first line that decides wins. Parsing is one pass over the lines
 * plus one sort of the user names. */
#include "auth/acl.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum level_kind { LV_LITERAL, LV_PLUS, LV_HASH, LV_SUBST /* a pattern level with %c or %u */ };

struct acl_level {
    uint32_t off; /* into text */
    uint16_t len;
    uint8_t kind;
};

#define SECTION_ANON UINT32_MAX
#define SECTION_PATTERN (UINT32_MAX - 1)

struct acl_rule {
    uint32_t first, n_levels; /* into levels */
    uint32_t section;         /* while parsing: SECTION_* or the index of its user line */
    uint8_t access;           /* ACL_READ | ACL_WRITE, or 0 for deny */
    bool uses_user;           /* has %u: never applies to a client without a user name */
    bool dollar;              /* first level, as written, starts with '$' */
};

/* A user name (or the anonymous rules, or the patterns) and its rules:
 * order[first .. first + count), deny lines first, then file order. */
struct acl_section {
    uint32_t name_off, name_len;
    uint32_t first, count;
};

struct acl {
    char *text; /* every filter and user name, sized for the whole file */
    size_t text_len;
    struct acl_level *levels;
    size_t n_levels, cap_levels;
    struct acl_rule *rules;
    size_t n_rules, cap_rules;
    uint32_t *order;
    struct acl_section anon, patterns;
    struct acl_section *users; /* one per user name, sorted by name */
    size_t n_users;
};

/* --- parsing --- */

struct parser {
    struct acl *a;
    const char *name;
    unsigned line;
    char *err;
    size_t errlen;
    uint32_t section;          /* where topic lines go: SECTION_ANON or a user line */
    struct acl_section *lines; /* one per user line, in file order */
    size_t n_lines, cap_lines;
};

static int fail(struct parser *ps, const char *fmt, ...)
{
    int n = snprintf(ps->err, ps->errlen, "%s:%u: ", ps->name, ps->line);
    if (n >= 0 && (size_t)n < ps->errlen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int out_of_memory(struct parser *ps)
{
    snprintf(ps->err, ps->errlen, "%s: out of memory", ps->name);
    return -1;
}

/* Quoted text in errors is cut here: a line may be 64 KiB long. */
#define QUOTE_MAX 64
#define QUOTE(p, n) (int)((n) < QUOTE_MAX ? (n) : QUOTE_MAX), (p)

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

static size_t token_len(const char *p, size_t n)
{
    size_t i = 0;
    while (i < n && !is_space(p[i]))
        i++;
    return i;
}

/* Skip the token at *p and the blanks after it; returns the token length. */
static size_t take_token(const char **p, size_t *n)
{
    size_t t = token_len(*p, *n);
    *p += t;
    *n -= t;
    while (*n && is_space(**p)) {
        (*p)++;
        (*n)--;
    }
    return t;
}

static bool word_is(const char *p, size_t n, const char *w)
{
    return strlen(w) == n && memcmp(p, w, n) == 0;
}

/* The access a word gives, or -1 if it is none of the four. */
static int access_word(const char *p, size_t n)
{
    if (word_is(p, n, "read")) return ACL_READ;
    if (word_is(p, n, "write")) return ACL_WRITE;
    if (word_is(p, n, "readwrite")) return ACL_READ | ACL_WRITE;
    if (word_is(p, n, "deny")) return 0;
    return -1;
}

/* What is wrong with a filter (MQTT 4.7.1 rules), or NULL. */
static const char *filter_problem(const char *f, size_t n)
{
    if (n > ACL_MAX_STRING) return "longer than 65535 bytes";
    for (size_t i = 0; i < n; i++) {
        if (f[i] != '+' && f[i] != '#') continue;
        bool whole = (i == 0 || f[i - 1] == '/') && (i + 1 == n || f[i + 1] == '/');
        if (!whole) return "'+' and '#' must each be a whole level";
        if (f[i] == '#' && i + 1 != n) return "'#' must be the last level";
    }
    return NULL;
}

static int grow(void **p, size_t *cap, size_t n, size_t size)
{
    if (n < *cap) return 0;
    size_t ncap = *cap ? *cap * 2 : 16;
    void *q = realloc(*p, ncap * size);
    if (!q) return -1;
    *p = q;
    *cap = ncap;
    return 0;
}

/* Copy into the text arena (sized for the whole input, so never full). */
static uint32_t keep_text(struct acl *a, const char *p, size_t n)
{
    uint32_t off = (uint32_t)a->text_len;
    memcpy(a->text + off, p, n);
    a->text_len += n;
    return off;
}

static bool has_subst(const char *p, size_t n, char which)
{
    for (size_t i = 0; i + 1 < n; i++)
        if (p[i] == '%' && p[i + 1] == which) return true;
    return false;
}

static int add_level(struct parser *ps, struct acl_rule *r, const char *p, size_t n, bool pattern)
{
    struct acl *a = ps->a;
    if (grow((void **)&a->levels, &a->cap_levels, a->n_levels, sizeof(*a->levels)) < 0)
        return out_of_memory(ps);
    uint8_t kind = LV_LITERAL;
    if (n == 1 && p[0] == '+')
        kind = LV_PLUS;
    else if (n == 1 && p[0] == '#')
        kind = LV_HASH;
    else if (pattern && (has_subst(p, n, 'c') || has_subst(p, n, 'u')))
        kind = LV_SUBST;
    if (pattern && has_subst(p, n, 'u')) r->uses_user = true;
    if (r->n_levels == 0) r->dollar = n > 0 && p[0] == '$';
    a->levels[a->n_levels++] = (struct acl_level){keep_text(a, p, n), (uint16_t)n, kind};
    r->n_levels++;
    return 0;
}

static int add_rule(struct parser *ps, const char *f, size_t n, int access, bool pattern)
{
    struct acl *a = ps->a;
    if (grow((void **)&a->rules, &a->cap_rules, a->n_rules, sizeof(*a->rules)) < 0)
        return out_of_memory(ps);
    struct acl_rule r = {(uint32_t)a->n_levels, 0,     pattern ? SECTION_PATTERN : ps->section,
                         (uint8_t)access,       false, false};
    for (size_t start = 0;;) {
        const char *slash = memchr(f + start, '/', n - start);
        size_t end = slash ? (size_t)(slash - f) : n;
        if (add_level(ps, &r, f + start, end - start, pattern) < 0) return -1;
        if (!slash) break;
        start = end + 1;
    }
    a->rules[a->n_rules++] = r;
    return 0;
}

static int parse_user(struct parser *ps, const char *rest, size_t n)
{
    if (!n) return fail(ps, "expected a user name after 'user'");
    if (n > ACL_MAX_STRING) return fail(ps, "user name longer than 65535 bytes");
    if (grow((void **)&ps->lines, &ps->cap_lines, ps->n_lines, sizeof(*ps->lines)) < 0)
        return out_of_memory(ps);
    ps->section = (uint32_t)ps->n_lines;
    ps->lines[ps->n_lines++] = (struct acl_section){keep_text(ps->a, rest, n), (uint32_t)n, 0, 0};
    return 0;
}

/* topic|pattern [read|write|readwrite|deny] FILTER: the filter is the rest
 * of the line (it may hold spaces); a lone word is the filter, readwrite. */
static int parse_rule(struct parser *ps, bool pattern, const char *kw, size_t kwlen,
                      const char *rest, size_t n)
{
    if (!n)
        return fail(ps, "expected an access word or a topic filter after '%.*s'", (int)kwlen, kw);
    const char *word = rest;
    size_t wlen = take_token(&rest, &n);
    int access = access_word(word, wlen);
    if (!n) {
        /* Mosquitto would take "topic read" as the filter "read": almost
         * surely a line missing its filter, so it is refused. */
        if (access >= 0)
            return fail(ps, "expected a topic filter after '%.*s %.*s'", (int)kwlen, kw, (int)wlen,
                        word);
        rest = word;
        n = wlen;
        access = ACL_READ | ACL_WRITE;
    } else if (access < 0) {
        return fail(ps, "expected read, write, readwrite or deny after '%.*s', found '%.*s'",
                    (int)kwlen, kw, QUOTE(word, wlen));
    }
    const char *why = filter_problem(rest, n);
    if (why) return fail(ps, "invalid topic filter '%.*s': %s", QUOTE(rest, n), why);
    return add_rule(ps, rest, n, access, pattern);
}

static int parse_line(struct parser *ps, const char *p, size_t n)
{
    if (n > ACL_MAX_LINE) return fail(ps, "line longer than %u bytes", ACL_MAX_LINE);
    if (memchr(p, '\0', n)) return fail(ps, "NUL byte in the line");
    while (n && is_space(*p)) {
        p++;
        n--;
    }
    while (n && is_space(p[n - 1]))
        n--;
    if (!n || p[0] == '#') return 0; /* blank line or comment */
    const char *kw = p;
    size_t kwlen = take_token(&p, &n);
    if (word_is(kw, kwlen, "user")) return parse_user(ps, p, n);
    if (word_is(kw, kwlen, "topic")) return parse_rule(ps, false, kw, kwlen, p, n);
    if (word_is(kw, kwlen, "pattern")) return parse_rule(ps, true, kw, kwlen, p, n);
    return fail(ps, "expected topic, pattern or user, found '%.*s'", QUOTE(kw, kwlen));
}

/* --- compiling the sections --- */

static int name_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
    int c = memcmp(a, b, alen < blen ? alen : blen);
    if (c) return c;
    return alen < blen ? -1 : alen > blen;
}

static int line_cmp(const void *x, const void *y, void *text)
{
    const struct acl_section *a = x, *b = y;
    int c = name_cmp((const char *)text + a->name_off, a->name_len,
                     (const char *)text + b->name_off, b->name_len);
    if (c) return c;
    return a->first < b->first ? -1 : a->first > b->first; /* stable: file order */
}

/* Sort the user lines by name and merge equal names (Mosquitto appends a
 * repeated section to the first); map[line] = its user. */
static int merge_users(struct parser *ps, uint32_t *map)
{
    struct acl *a = ps->a;
    for (size_t i = 0; i < ps->n_lines; i++)
        ps->lines[i].first = (uint32_t)i; /* the line's index, through the sort */
    if (ps->n_lines) qsort_r(ps->lines, ps->n_lines, sizeof(*ps->lines), line_cmp, a->text);
    a->users = calloc(ps->n_lines ? ps->n_lines : 1, sizeof(*a->users));
    if (!a->users) return out_of_memory(ps);
    for (size_t i = 0; i < ps->n_lines; i++) {
        const struct acl_section *l = &ps->lines[i];
        const struct acl_section *last = a->n_users ? &a->users[a->n_users - 1] : NULL;
        if (!last || name_cmp(a->text + last->name_off, last->name_len, a->text + l->name_off,
                              l->name_len) != 0)
            a->users[a->n_users++] = (struct acl_section){l->name_off, l->name_len, 0, 0};
        map[l->first] = (uint32_t)(a->n_users - 1);
    }
    return 0;
}

static struct acl_section *section_at(struct acl *a, const uint32_t *map, uint32_t section)
{
    if (section == SECTION_ANON) return &a->anon;
    if (section == SECTION_PATTERN) return &a->patterns;
    return &a->users[map[section]];
}

/* order[]: each section's rules together, its deny lines first. */
static int build_order(struct parser *ps, const uint32_t *map)
{
    struct acl *a = ps->a;
    a->order = malloc((a->n_rules ? a->n_rules : 1) * sizeof(*a->order));
    if (!a->order) return out_of_memory(ps);
    for (size_t i = 0; i < a->n_rules; i++)
        section_at(a, map, a->rules[i].section)->count++;
    uint32_t next = 0;
    a->anon.first = next, next += a->anon.count;
    a->patterns.first = next, next += a->patterns.count;
    for (size_t u = 0; u < a->n_users; u++)
        a->users[u].first = next, next += a->users[u].count;
    /* Filled with count as the cursor, which ends where it started. */
    for (size_t i = 0; i < a->n_rules; i++)
        section_at(a, map, a->rules[i].section)->count = 0;
    for (int deny = 1; deny >= 0; deny--)
        for (size_t i = 0; i < a->n_rules; i++) {
            if ((a->rules[i].access == 0) != deny) continue;
            struct acl_section *s = section_at(a, map, a->rules[i].section);
            a->order[s->first + s->count++] = (uint32_t)i;
        }
    return 0;
}

static int compile(struct parser *ps)
{
    uint32_t *map = malloc((ps->n_lines ? ps->n_lines : 1) * sizeof(*map));
    int r = map ? merge_users(ps, map) : out_of_memory(ps);
    if (r == 0) r = build_order(ps, map);
    free(map);
    return r;
}

struct acl *acl_parse(const char *text, size_t len, const char *name, char *err, size_t errlen)
{
    struct acl *a = calloc(1, sizeof(*a));
    struct parser ps = {a, name, 0, err, errlen, SECTION_ANON, NULL, 0, 0};
    if (!a || !(a->text = malloc(len ? len : 1))) {
        out_of_memory(&ps);
        free(a);
        return NULL;
    }
    int r = 0;
    for (size_t pos = 0; r == 0 && pos < len;) {
        const char *nl = memchr(text + pos, '\n', len - pos);
        size_t end = nl ? (size_t)(nl - text) : len;
        ps.line++;
        r = parse_line(&ps, text + pos, end - pos);
        pos = end + 1;
    }
    if (r == 0) r = compile(&ps);
    free(ps.lines);
    if (r < 0) {
        acl_free(a);
        return NULL;
    }
    return a;
}

/* Whole file into memory, bounded. */
static char *read_file(const char *path, size_t *len, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        char *nb = cap <= ACL_MAX_FILE ? realloc(buf, cap * 2) : NULL;
        if (!nb) {
            snprintf(err, errlen, "%s: %s", path,
                     cap > ACL_MAX_FILE ? "larger than 64 MiB" : "out of memory");
            free(buf);
            fclose(f);
            return NULL;
        }
        buf = nb;
        cap *= 2;
    }
    bool bad = !buf || ferror(f);
    if (bad) snprintf(err, errlen, "%s: %s", path, buf ? strerror(errno) : "out of memory");
    fclose(f);
    if (bad) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

struct acl *acl_load(const char *path, char *err, size_t errlen)
{
    size_t len;
    char *text = read_file(path, &len, err, errlen);
    if (!text) return NULL;
    struct acl *a = acl_parse(text, len, path, err, errlen);
    free(text);
    return a;
}

void acl_free(struct acl *a)
{
    if (!a) return;
    free(a->text);
    free(a->levels);
    free(a->rules);
    free(a->order);
    free(a->users);
    free(a);
}

size_t acl_rule_count(const struct acl *a)
{
    return a->n_rules;
}

size_t acl_user_count(const struct acl *a)
{
    return a->n_users;
}

/* --- checking --- */

/* One rule level against one topic (or filter) level, %c and %u replaced
 * by the client's id and user name as they are compared: no copy. */
static bool level_eq(const struct acl *a, const struct acl_level *lv, const uint8_t *t, size_t n,
                     const struct acl_who *w)
{
    const char *p = a->text + lv->off;
    if (lv->kind == LV_LITERAL) return lv->len == n && memcmp(p, t, n) == 0;
    size_t at = 0;
    for (size_t i = 0; i < lv->len; i++) {
        if (p[i] == '%' && i + 1 < lv->len && (p[i + 1] == 'c' || p[i + 1] == 'u')) {
            const uint8_t *v = p[i + 1] == 'c' ? w->id : w->user;
            size_t vlen = p[i + 1] == 'c' ? w->id_len : w->user_len;
            if (n - at < vlen || (vlen && memcmp(t + at, v, vlen) != 0)) return false;
            at += vlen;
            i++;
        } else if (at == n || t[at++] != (uint8_t)p[i]) {
            return false;
        }
    }
    return at == n;
}

static size_t level_len(const uint8_t *t, size_t pos, size_t len)
{
    const uint8_t *slash = memchr(t + pos, '/', len - pos);
    return slash ? (size_t)(slash - (t + pos)) : len - pos;
}

/* Does the rule match this topic name? "a/#" also matches "a". */
static bool matches(const struct acl *a, const struct acl_rule *r, const struct acl_who *w,
                    const uint8_t *t, size_t len)
{
    if ((len && t[0] == '$') != r->dollar) return false; /* MQTT-4.7.2-1 */
    const struct acl_level *lv = a->levels + r->first;
    size_t pos = 0; /* start of the next topic level; len + 1 once all are used */
    for (uint32_t i = 0; i < r->n_levels; i++) {
        if (lv[i].kind == LV_HASH) return true;
        if (pos > len) return false;
        size_t n = level_len(t, pos, len);
        if (lv[i].kind != LV_PLUS && !level_eq(a, &lv[i], t + pos, n, w)) return false;
        pos += n + 1;
    }
    return pos > len;
}

/* Does the rule match every topic the filter matches? */
static bool covers(const struct acl *a, const struct acl_rule *r, const struct acl_who *w,
                   const uint8_t *f, size_t len)
{
    if ((len && f[0] == '$') != r->dollar) return false; /* wildcards never reach '$' topics */
    const struct acl_level *lv = a->levels + r->first;
    size_t pos = 0;
    for (uint32_t i = 0; i < r->n_levels; i++) {
        if (lv[i].kind == LV_HASH) return true;
        if (pos > len) return false;
        size_t n = level_len(f, pos, len);
        bool wild = n == 1 && (f[pos] == '+' || f[pos] == '#');
        if (n == 1 && f[pos] == '#') return false; /* only '#' covers '#' */
        if (lv[i].kind != LV_PLUS && (wild || !level_eq(a, &lv[i], f + pos, n, w))) return false;
        pos += n + 1;
    }
    return pos > len;
}

/* 1 granted, 0 denied, -1 no line of the section decides. */
static int decide(const struct acl *a, const struct acl_section *s, const struct acl_who *w,
                  const uint8_t *t, size_t len, unsigned access, bool subscribe)
{
    for (uint32_t i = 0; i < s->count; i++) {
        const struct acl_rule *r = &a->rules[a->order[s->first + i]];
        if (r->uses_user && !w->has_user) continue;
        if (!(subscribe ? covers(a, r, w, t, len) : matches(a, r, w, t, len))) continue;
        if (r->access == 0) return 0;
        if (r->access & access) return 1;
    }
    return -1;
}

static int user_cmp(const void *key, const void *elem, void *ctx)
{
    const struct acl_who *w = key;
    const struct acl_section *s = elem;
    return name_cmp((const char *)w->user, w->user_len, (const char *)ctx + s->name_off,
                    s->name_len);
}

/* bsearch with a context: glibc has none, so a plain binary search. */
static const struct acl_section *find_user(const struct acl *a, const struct acl_who *w)
{
    size_t lo = 0, hi = a->n_users;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = user_cmp(w, &a->users[mid], a->text);
        if (c == 0) return &a->users[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

/* A wildcard or separator in an id or name would let a pattern reach
 * other clients' topics once substituted. */
static bool unsafe_name(const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] == '+' || p[i] == '#' || p[i] == '/') return true;
    return false;
}

static bool check(const struct acl *a, const struct acl_who *w, const uint8_t *t, size_t len,
                  unsigned access, bool subscribe)
{
    const struct acl_section *s = w->has_user ? find_user(a, w) : &a->anon;
    int d = s ? decide(a, s, w, t, len, access, subscribe) : -1;
    if (d >= 0) return d == 1;
    if (!a->patterns.count || unsafe_name(w->id, w->id_len) ||
        (w->has_user && unsafe_name(w->user, w->user_len)))
        return false;
    return decide(a, &a->patterns, w, t, len, access, subscribe) == 1;
}

bool acl_check(const struct acl *a, const struct acl_who *w, const uint8_t *topic, size_t len,
               enum acl_access access)
{
    return check(a, w, topic, len, access, false);
}

bool acl_check_subscribe(const struct acl *a, const struct acl_who *w, const uint8_t *filter,
                         size_t len)
{
    return check(a, w, filter, len, ACL_READ, true);
}
