/* MQTT string validation (1.5.3): well-formed UTF-8 with no U+0000 and no
 * surrogates. Every topic passes through here, so plain ASCII is checked
 * eight bytes at a time and only other chunks take the per-character path. */
#include "protocol/mqtt.h"

#include <string.h>

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* True when all 8 bytes are ASCII and none is zero. The zero-byte test
 * (v - ONES) & ~v & HIGHS is exact about whether any byte is zero. */
static bool chunk_plain_ascii(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return ((v | ((v - ONES) & ~v)) & HIGHS) == 0;
}

/* Decodes one multi-byte sequence at s[0..left); *n gets its length. */
static enum mqtt_err check_sequence(const uint8_t *s, size_t left, size_t *n)
{
    static const uint32_t min_cp[5] = {0, 0, 0x80, 0x800, 0x10000};
    uint8_t b = s[0];
    size_t len;
    uint32_t cp;
    if (b >= 0xc0 && b <= 0xdf) {
        len = 2, cp = b & 0x1f;
    } else if (b >= 0xe0 && b <= 0xef) {
        len = 3, cp = b & 0x0f;
    } else if (b >= 0xf0 && b <= 0xf4) {
        len = 4, cp = b & 0x07;
    } else {
        return MQTT_ERR_UTF8_INVALID; /* stray continuation, F5..FF */
    }
    if (left < len) return MQTT_ERR_UTF8_INVALID;
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) return MQTT_ERR_UTF8_INVALID;
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if (cp < min_cp[len] || cp > 0x10ffff) /* overlong (C0, C1, ...) or too big */
        return MQTT_ERR_UTF8_INVALID;
    if (cp >= 0xd800 && cp <= 0xdfff) return MQTT_ERR_UTF8_SURROGATE;
    *n = len;
    return MQTT_OK;
}

enum mqtt_err mqtt_utf8_check(const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        if (len - i >= 8 && chunk_plain_ascii(s + i)) {
            i += 8;
            continue;
        }
        if (s[i] == 0) return MQTT_ERR_UTF8_NULL;
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        size_t n;
        enum mqtt_err rc = check_sequence(s + i, len - i, &n);
        if (rc != MQTT_OK) return rc;
        i += n;
    }
    return MQTT_OK;
}
