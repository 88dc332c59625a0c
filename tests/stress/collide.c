/* Strings that all collide under the 32-bit FNV-1a the broker used before
 * keyed hashing: FNV-1a is an iterated 32-bit state, so one colliding pair
 * of blocks from each state (found by a birthday search, ~2^16 tries) chains
 * into 2^pairs equal hashes (Joux's multicollision). */
#include "tests/stress/attack.h"

#include <stdlib.h>
#include <string.h>

#define FNV_BASIS 2166136261u
#define FNV_PRIME 16777619u
/* 12 letters of a 4-letter alphabet per block: shorter blocks of FNV-1a
 * steps turn out (nearly) injective, so no pair is found. */
#define BLOCK 12
#define BITS 2
#define TABLE_BITS 19

static const char alphabet[] = "ABCD";

static void block_of(uint32_t j, char out[BLOCK])
{
    for (int k = 0; k < BLOCK; k++, j >>= BITS)
        out[k] = alphabet[j & ((1u << BITS) - 1)];
}

static uint32_t fnv_step(uint32_t h, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * FNV_PRIME;
    return h;
}

/* Two different blocks taking state h to the same state; false if none
 * was found before the table filled up. */
static bool find_pair(uint32_t h, uint32_t *slot_state, uint32_t *slot_j, char a[BLOCK],
                      char b[BLOCK])
{
    size_t mask = ((size_t)1 << TABLE_BITS) - 1;
    memset(slot_j, 0xff, sizeof(uint32_t) << TABLE_BITS);
    for (uint32_t j = 0; j < mask / 4 * 3; j++) { /* 393k tries: a miss has odds e^-18 */
        char blk[BLOCK];
        block_of(j, blk);
        uint32_t s = fnv_step(h, blk, BLOCK);
        size_t i = (s * 2654435761u) & mask;
        while (slot_j[i] != UINT32_MAX && slot_state[i] != s)
            i = (i + 1) & mask;
        if (slot_j[i] != UINT32_MAX) {
            block_of(slot_j[i], a);
            memcpy(b, blk, BLOCK);
            return true;
        }
        slot_state[i] = s;
        slot_j[i] = j;
    }
    return false;
}

size_t fnv_multicollision(int pairs, char *out)
{
    uint32_t *st = malloc(sizeof(uint32_t) << TABLE_BITS);
    uint32_t *jj = malloc(sizeof(uint32_t) << TABLE_BITS);
    char(*blk)[2][BLOCK] = malloc((size_t)pairs * sizeof *blk);
    size_t len = 0;
    if (st && jj && blk) {
        uint32_t h = FNV_BASIS;
        int i = 0;
        for (; i < pairs && find_pair(h, st, jj, blk[i][0], blk[i][1]); i++)
            h = fnv_step(h, blk[i][0], BLOCK);
        if (i == pairs) len = (size_t)pairs * BLOCK;
    }
    for (size_t n = 0; len && n < ((size_t)1 << pairs); n++) {
        char *s = out + n * (len + 1);
        for (int i = 0; i < pairs; i++)
            memcpy(s + i * BLOCK, blk[i][(n >> i) & 1], BLOCK);
        s[len] = '\0';
    }
    free(st);
    free(jj);
    free(blk);
    return len;
}
