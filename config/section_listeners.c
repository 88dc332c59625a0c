/* "listeners": the addresses the broker accepts connections on. A listeners
 * array in the file replaces the default list; each entry's missing keys
 * take the default listener's values. */
#include "config/sections.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#define DEFAULT_BIND "127.0.0.1"
#define DEFAULT_PORT 1883
#define DEFAULT_TLS_PORT 8883

static const char *const listener_keys[] = {"bind", "port", "tls"};

static void listener_default(struct listener_config *l)
{
    snprintf(l->bind, sizeof l->bind, "%s", DEFAULT_BIND);
    l->port = DEFAULT_PORT;
}

void config_listeners_defaults(struct config *c)
{
    listener_default(&c->listeners[0]);
    c->n_listeners = 1;
}

/* Fills a 16-byte address for comparison; 0 if s is not a numeric address. */
static int address_bytes(const char *s, unsigned char out[16])
{
    memset(out, 0, 16);
    if (inet_pton(AF_INET, s, out) == 1) return 4;
    if (inet_pton(AF_INET6, s, out) == 1) return 6;
    return 0;
}

static int parse_bind(struct jctx *x, const cJSON *obj, struct listener_config *l)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, "bind");
    if (v == NULL) return 0;
    size_t mark = jctx_push_key(x, "bind");
    unsigned char addr[16];
    /* Host names are refused: resolving them would make start-up depend on DNS. */
    if (!cJSON_IsString(v) || strlen(v->valuestring) >= sizeof l->bind ||
        address_bytes(v->valuestring, addr) == 0)
        return jctx_expected(x, v,
                             "a numeric IPv4 or IPv6 address such as \"127.0.0.1\", "
                             "\"0.0.0.0\" or \"::\"");
    snprintf(l->bind, sizeof l->bind, "%s", v->valuestring);
    jctx_pop(x, mark);
    return 0;
}

static int parse_listener(struct jctx *x, const cJSON *v, struct listener_config *l)
{
    if (!cJSON_IsObject(v))
        return jctx_expected(x, v, "an object like {\"bind\": \"127.0.0.1\", \"port\": 1883}");
    listener_default(l);
    if (jcheck_keys(x, v, listener_keys, 3) < 0 || parse_bind(x, v, l) < 0) return -1;
    const cJSON *tls = cJSON_GetObjectItemCaseSensitive(v, "tls");
    if (tls) {
        size_t mark = jctx_push_key(x, "tls");
        if (config_listener_tls_parse(x, tls, &l->tls) < 0) return -1;
        jctx_pop(x, mark);
        l->port = DEFAULT_TLS_PORT; /* MQTT over TLS's registered port */
    }
    return jget_u16(x, v, "port", 0, 65535, &l->port);
}

/* Two listeners on one address and port would fail at bind() with a less
 * helpful message; port 0 picks a fresh port each time, so it never clashes. */
static int check_duplicate(struct jctx *x, const struct config *c, size_t i)
{
    const struct listener_config *a = &c->listeners[i];
    unsigned char aa[16], ab[16];
    int fa = address_bytes(a->bind, aa);
    for (size_t j = 0; j < i && a->port != 0; j++) {
        const struct listener_config *b = &c->listeners[j];
        if (b->port == a->port && address_bytes(b->bind, ab) == fa && memcmp(aa, ab, 16) == 0)
            return jctx_error(x, "same address and port as listeners[%zu] (%s port %u)", j, a->bind,
                              (unsigned)a->port);
    }
    return 0;
}

int config_listeners_parse(struct jctx *x, const cJSON *v, struct config *c)
{
    int n = cJSON_IsArray(v) ? cJSON_GetArraySize(v) : 0;
    if (!cJSON_IsArray(v) || n == 0)
        return jctx_expected(x, v, "an array of 1 to %d listener objects", CONFIG_MAX_LISTENERS);
    if (n > CONFIG_MAX_LISTENERS) {
        char found[32];
        snprintf(found, sizeof found, "%d listeners", n);
        return jctx_expected_text(x, found, "an array of 1 to %d listener objects",
                                  CONFIG_MAX_LISTENERS);
    }
    size_t i = 0;
    for (const cJSON *e = v->child; e != NULL; e = e->next, i++) {
        size_t mark = jctx_push_index(x, i);
        if (parse_listener(x, e, &c->listeners[i]) < 0 || check_duplicate(x, c, i) < 0) return -1;
        jctx_pop(x, mark);
    }
    c->n_listeners = i;
    return 0;
}
