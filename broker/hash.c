/* SipHash (Aumasson and Bernstein, 2012), written out because no Debian
 * library offers the 1-3 variant: libsodium has only 2-4, which costs about
 * twice as much on the routing path, where every level of every published
 * topic is hashed. Checked against the reference 2-4 vectors in
 * tests/unit/test_hash.c. */
#include "broker/hash.h"

#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

void hash_key_random(struct hash_key *k)
{
    if (getrandom(k, sizeof(*k), 0) == (ssize_t)sizeof(*k)) return;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    k->k0 = (uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull ^ (uint64_t)getpid();
    k->k1 = (uint64_t)ts.tv_sec * 0xC2B2AE3D27D4EB4Full ^ (uint64_t)(uintptr_t)k;
}

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))

struct sip {
    uint64_t v0, v1, v2, v3;
};

static inline void sip_round(struct sip *s)
{
    s->v0 += s->v1;
    s->v1 = ROTL(s->v1, 13);
    s->v1 ^= s->v0;
    s->v0 = ROTL(s->v0, 32);
    s->v2 += s->v3;
    s->v3 = ROTL(s->v3, 16);
    s->v3 ^= s->v2;
    s->v0 += s->v3;
    s->v3 = ROTL(s->v3, 21);
    s->v3 ^= s->v0;
    s->v2 += s->v1;
    s->v1 = ROTL(s->v1, 17);
    s->v1 ^= s->v2;
    s->v2 = ROTL(s->v2, 32);
}

static inline uint64_t load_le64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

static inline uint64_t sip(const struct hash_key *k, int c, int d, const uint8_t *in, size_t len)
{
    struct sip s = {k->k0 ^ 0x736f6d6570736575ull, k->k1 ^ 0x646f72616e646f6dull,
                    k->k0 ^ 0x6c7967656e657261ull, k->k1 ^ 0x7465646279746573ull};
    static const uint8_t none[1];
    if (!in) in = none; /* an empty key may come as NULL: no arithmetic on NULL */
    const uint8_t *end = in + (len & ~(size_t)7);
    for (; in != end; in += 8) {
        uint64_t m = load_le64(in);
        s.v3 ^= m;
        for (int i = 0; i < c; i++)
            sip_round(&s);
        s.v0 ^= m;
    }
    uint64_t b = (uint64_t)len << 56;
    switch (len & 7) { /* the last 0..7 bytes, little-endian */
    case 7:
        b |= (uint64_t)in[6] << 48; /* fall through */
    case 6:
        b |= (uint64_t)in[5] << 40; /* fall through */
    case 5:
        b |= (uint64_t)in[4] << 32; /* fall through */
    case 4:
        b |= (uint64_t)in[3] << 24; /* fall through */
    case 3:
        b |= (uint64_t)in[2] << 16; /* fall through */
    case 2:
        b |= (uint64_t)in[1] << 8; /* fall through */
    case 1:
        b |= (uint64_t)in[0]; /* fall through */
    default:
        break;
    }
    s.v3 ^= b;
    for (int i = 0; i < c; i++)
        sip_round(&s);
    s.v0 ^= b;
    s.v2 ^= 0xff;
    for (int i = 0; i < d; i++)
        sip_round(&s);
    return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

uint64_t hash_bytes(const struct hash_key *k, const void *data, size_t len)
{
    return sip(k, 1, 3, data, len); /* constant rounds: the loops unroll */
}

uint64_t sip_hash(const struct hash_key *k, int c, int d, const void *data, size_t len)
{
    return sip(k, c, d, data, len);
}
