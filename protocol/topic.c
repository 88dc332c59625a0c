/* Topic names and filters (4.7): validation and the reference matcher.
 * Matching compares raw bytes, level by level, with no normalisation. */
#include "protocol/mqtt.h"

#include <string.h>

enum mqtt_err mqtt_topic_name_check(const uint8_t *s, size_t len)
{
    if (len == 0) return MQTT_ERR_TOPIC_EMPTY;
    enum mqtt_err rc = mqtt_utf8_check(s, len);
    if (rc != MQTT_OK) return rc;
    if (memchr(s, '+', len) || memchr(s, '#', len)) return MQTT_ERR_TOPIC_WILDCARD;
    return MQTT_OK;
}

size_t mqtt_topic_levels(const uint8_t *s, size_t len)
{
    size_t n = 1;
    for (const uint8_t *p = s, *end = s + len; (p = memchr(p, '/', (size_t)(end - p))); p++)
        n++;
    return n;
}

/* End (index of '/' or len) of the level starting at `start`. */
static size_t level_end(const uint8_t *s, size_t start, size_t len)
{
    const uint8_t *slash = start < len ? memchr(s + start, '/', len - start) : NULL;
    return slash ? (size_t)(slash - s) : len;
}

enum mqtt_err mqtt_topic_filter_check(const uint8_t *s, size_t len)
{
    if (len == 0) return MQTT_ERR_TOPIC_EMPTY;
    enum mqtt_err rc = mqtt_utf8_check(s, len);
    if (rc != MQTT_OK) return rc;
    for (size_t start = 0; start <= len;) {
        size_t end = level_end(s, start, len);
        size_t n = end - start;
        const uint8_t *lvl = s + start;
        bool wild = memchr(lvl, '+', n) || memchr(lvl, '#', n);
        if (wild && n != 1) return MQTT_ERR_FILTER_INVALID; /* "a+", "sport/tennis#" */
        if (wild && lvl[0] == '#' && end != len) return MQTT_ERR_FILTER_INVALID; /* "a/#/b" */
        start = end + 1;
    }
    return MQTT_OK;
}

static bool level_is(const uint8_t *s, size_t start, size_t end, char c)
{
    return end - start == 1 && s[start] == c;
}

/* Positions past the last level are `len + 1`: that tells "no more levels"
 * apart from "one more, empty, level" (as in "sport/"). */
bool mqtt_topic_matches(const uint8_t *filter, size_t flen, const uint8_t *topic, size_t tlen)
{
    if (tlen > 0 && topic[0] == '$' && flen > 0 && (filter[0] == '+' || filter[0] == '#'))
        return false; /* MQTT-4.7.2-1 */
    size_t fi = 0, ti = 0;
    for (;;) {
        if (fi > flen) return ti > tlen;
        size_t fe = level_end(filter, fi, flen);
        if (level_is(filter, fi, fe, '#'))
            return true; /* also matches the parent level: "sport/#" ~ "sport" */
        if (ti > tlen) return false;
        size_t te = level_end(topic, ti, tlen);
        if (!level_is(filter, fi, fe, '+') &&
            (fe - fi != te - ti || (fe > fi && memcmp(filter + fi, topic + ti, fe - fi) != 0)))
            return false;
        fi = fe + 1;
        ti = te + 1;
    }
}
