/* Shared by the router and retained-store tests: a seeded PRNG and the
 * topic-matching rules of MQTT 4.7 written the obvious way, level by level,
 * as the oracle that the trie-based implementations are checked against. */
#ifndef STARLING_TESTS_UNIT_TOPIC_ORACLE_H
#define STARLING_TESTS_UNIT_TOPIC_ORACLE_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static inline uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* Does filter f match topic t (both NUL-terminated and valid)? */
static inline bool naive_match(const char *f, const char *t)
{
    if (t[0] == '$' && (f[0] == '+' || f[0] == '#')) return false;
    for (;;) { /* f and t (NULL: no level left) start a level */
        size_t fl = strcspn(f, "/");
        if (fl == 1 && f[0] == '#') return true;
        if (!t) return false;
        size_t tl = strcspn(t, "/");
        if (!(fl == 1 && f[0] == '+') && (fl != tl || memcmp(f, t, fl) != 0)) return false;
        if (!f[fl]) return !t[tl];
        f += fl + 1;
        t = t[tl] ? t + tl + 1 : NULL;
    }
}

#endif
