/* Keyed hashing against hash flooding: SipHash matches the published
 * reference vectors, the key changes every hash, and a set of topic levels
 * built to collide under the old unkeyed FNV-1a spreads evenly under the
 * keyed hash, both as raw hashes and in a real topic_map. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/hash.h"
#include "broker/session/session_table.h"
#include "broker/route/topic_map.h"

static const struct hash_key ref_key = {0x0706050403020100ull, 0x0f0e0d0c0b0a0908ull};

/* SipHash-2-4 with key 00..0f over the messages 00, 00 01, ... (the
 * reference implementation's vectors.h and the paper's appendix A). */
static void test_siphash24_reference_vectors(void **state)
{
    (void)state;
    static const struct {
        size_t len;
        uint64_t want;
    } v[] = {
        {0, 0x726fdb47dd0e0e31ull}, {1, 0x74f839c593dc67fdull},  {2, 0x0d6c8009d9a94f5aull},
        {3, 0x85676696d7fb7e2dull}, {15, 0xa129ca6149be45e5ull},
    };
    uint8_t msg[64];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)i;
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        assert_true(sip_hash(&ref_key, 2, 4, msg, v[i].len) == v[i].want);
}

/* The hash the tables use is the 1-3 variant and depends on every byte of
 * the key and of the input. */
static void test_hash_depends_on_key_and_input(void **state)
{
    (void)state;
    const char *s = "sensors/temperature";
    uint64_t h = hash_bytes(&ref_key, s, strlen(s));
    assert_true(h == sip_hash(&ref_key, 1, 3, s, strlen(s)));
    assert_true(h != sip_hash(&ref_key, 2, 4, s, strlen(s)));
    for (int bit = 0; bit < 128; bit++) {
        struct hash_key k = ref_key;
        if (bit < 64)
            k.k0 ^= 1ull << bit;
        else
            k.k1 ^= 1ull << (bit - 64);
        assert_true(hash_bytes(&k, s, strlen(s)) != h);
    }
    assert_true(hash_bytes(&ref_key, s, strlen(s) - 1) != h);
    struct hash_key a, b;
    hash_key_random(&a);
    hash_key_random(&b);
    assert_true(a.k0 != b.k0 || a.k1 != b.k1);
}

/* --- a set built to flood the old unkeyed FNV-1a tables --- */

#define FNV_PRIME 16777619u
#define N_COLLIDING 4096

static uint32_t fnv1a(const uint8_t *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ s[i]) * FNV_PRIME;
    return h;
}

static bool level_byte(unsigned c)
{
    return c >= 0x21 && c <= 0x7e && c != '/' && c != '+' && c != '#';
}

/* Strings "kNNNNNNab" whose FNV-1a hashes share their low 16 bits, so in
 * any table of up to 65536 slots they all start probing at one slot. The
 * low 16 bits of an FNV-1a step depend only on the low 16 bits of the
 * state, so a meet in the middle over the last two bytes finds them: the
 * byte before the target state is fixed by the last byte, backwards. */
static size_t make_colliding(char out[][16], size_t want)
{
    const uint16_t target = 0x5a5a;
    uint16_t inv = (uint16_t)FNV_PRIME; /* inverse of the prime mod 2^16 by Newton steps */
    for (int i = 0; i < 5; i++)
        inv = (uint16_t)(inv * (uint16_t)(2 - (uint16_t)FNV_PRIME * inv));
    static int16_t back[65536]; /* state before the last byte -> last byte, or -1 */
    memset(back, -1, sizeof back);
    for (unsigned b2 = 0; b2 < 256; b2++)
        if (level_byte(b2)) back[(uint16_t)(target * inv) ^ b2] = (int16_t)b2;
    size_t n = 0;
    for (unsigned p = 0; n < want && p < 10000000; p++) {
        char pre[12];
        int len = snprintf(pre, sizeof pre, "k%07u", p);
        uint32_t h = fnv1a((const uint8_t *)pre, (size_t)len);
        for (unsigned b1 = 0; b1 < 256 && n < want; b1++) {
            if (!level_byte(b1)) continue;
            uint16_t h1 = (uint16_t)((uint16_t)(h ^ b1) * (uint16_t)FNV_PRIME);
            if (back[h1] < 0) continue;
            memcpy(out[n], pre, (size_t)len);
            out[n][len] = (char)b1;
            out[n][len + 1] = (char)back[h1];
            out[n++][len + 2] = '\0';
        }
    }
    return n;
}

static char colliding[N_COLLIDING][16];

static int setup_colliding(void **state)
{
    (void)state;
    size_t n = make_colliding(colliding, N_COLLIDING);
    assert_int_equal(n, N_COLLIDING);
    for (size_t i = 0; i < n; i++) /* they do flood FNV-1a */
        assert_int_equal(fnv1a((const uint8_t *)colliding[i], strlen(colliding[i])) & 0xffff,
                         0x5a5a);
    return 0;
}

static size_t distinct_low_bits(uint32_t (*h)(const char *), unsigned bits)
{
    static uint8_t seen[1 << 16];
    memset(seen, 0, sizeof seen);
    size_t distinct = 0;
    for (size_t i = 0; i < N_COLLIDING; i++) {
        uint32_t slot = h(colliding[i]) & ((1u << bits) - 1);
        if (!seen[slot]++) distinct++;
    }
    return distinct;
}

static uint32_t topic_level_hash(const char *s)
{
    return topic_hash(&ref_key, (const uint8_t *)s, strlen(s));
}

static uint32_t client_id_hash(const char *s)
{
    static const struct session_table t = {.key = {0x1234, 0x5678}};
    return session_id_hash(&t, (const uint8_t *)s, strlen(s));
}

/* 4096 keys into 4096 buckets: a random hash fills about 63% of them
 * (1 - 1/e); FNV-1a puts all of them in one. */
static void test_colliding_set_spreads_under_keyed_hash(void **state)
{
    (void)state;
    assert_true(distinct_low_bits(topic_level_hash, 12) > 2400);
    assert_true(distinct_low_bits(client_id_hash, 12) > 2400);
}

/* The same set as children of one topic-trie node: every key is found, and
 * no lookup walks a long probe chain (with FNV-1a the longest was the
 * whole set, 4096 comparisons per lookup). */
static void test_colliding_set_in_topic_map(void **state)
{
    (void)state;
    struct topic_key *keys = calloc(N_COLLIDING, sizeof(*keys));
    assert_non_null(keys);
    struct topic_map m;
    topic_map_init(&m);
    for (size_t i = 0; i < N_COLLIDING; i++) {
        size_t len = strlen(colliding[i]);
        const uint8_t *bytes = (const uint8_t *)colliding[i];
        keys[i] = (struct topic_key){bytes, topic_hash(&ref_key, bytes, len), (uint32_t)len};
        assert_int_equal(topic_map_put(&m, &keys[i]), 0);
    }
    for (size_t i = 0; i < N_COLLIDING; i++)
        assert_ptr_equal(topic_map_get(&m, keys[i].bytes, keys[i].len, keys[i].hash), &keys[i]);
    assert_true(topic_map_max_probe(&m) < 32);
    topic_map_free(&m);
    free(keys);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_siphash24_reference_vectors),
        cmocka_unit_test(test_hash_depends_on_key_and_input),
        cmocka_unit_test_setup(test_colliding_set_spreads_under_keyed_hash, setup_colliding),
        cmocka_unit_test_setup(test_colliding_set_in_topic_map, setup_colliding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
