/* Internal to config/: "did you mean" for misspelt keys. Picks the candidate
 * closest to a word by Damerau-Levenshtein (optimal string alignment) distance,
 * if that distance is at most 2; ties go to the earlier candidate. */
#ifndef STARLING_CONFIG_SUGGEST_H
#define STARLING_CONFIG_SUGGEST_H

#include <stddef.h>

/* Edit distance counting insertions, deletions, substitutions and swaps of
 * adjacent characters; saturates at limit+1 for long or distant strings. */
size_t edit_distance(const char *a, const char *b, size_t limit);

/* The best candidate, or NULL if none is within distance 2. */
const char *suggest_word(const char *word, const char *const cands[], size_t n);

#endif
