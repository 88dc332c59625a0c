/* Spelling suggestions for unknown config keys. */
#include "config/suggest.h"

#include <string.h>

/* Keys are short; anything longer than this is not a misspelling of one. */
#define WORD_MAX 64

static size_t min3(size_t a, size_t b, size_t c)
{
    size_t m = a < b ? a : b;
    return m < c ? m : c;
}

size_t edit_distance(const char *a, const char *b, size_t limit)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > WORD_MAX || lb > WORD_MAX) return limit + 1;
    if ((la > lb ? la - lb : lb - la) > limit) return limit + 1;
    /* d[i][j]: distance between the first i chars of a and first j of b */
    size_t d[WORD_MAX + 1][WORD_MAX + 1];
    for (size_t i = 0; i <= la; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= lb; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= la; i++) {
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            d[i][j] = min3(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < d[i][j])
                d[i][j] = d[i - 2][j - 2] + 1;
        }
    }
    return d[la][lb] > limit ? limit + 1 : d[la][lb];
}

const char *suggest_word(const char *word, const char *const cands[], size_t n)
{
    const char *best = NULL;
    size_t best_d = 3;
    for (size_t i = 0; i < n; i++) {
        size_t d = edit_distance(word, cands[i], 2);
        if (d < best_d) {
            best_d = d;
            best = cands[i];
        }
    }
    return best;
}
