/* SUBSCRIBE / UNSUBSCRIBE: router updates, SUBACK / UNSUBACK, and retained
 * messages for the new subscriptions. */
#include <stdlib.h>

#include "broker/access.h"
#include "broker/broker.h"
#include "broker/route/deliver.h"
#include "broker/handle/handlers.h"
#include "broker/route/msg.h"
#include "broker/route/replay.h"
#include "broker/session/session.h"
#include "broker/route/trie.h"
#include "broker/store/persist.h"

/* Limits met while handling one SUBSCRIBE: logged once per packet. */
struct sub_refusals {
    uint32_t subscriptions, levels;
};

static bool within_limits(struct broker *b, struct session *s, const struct mqtt_sub_entry *e,
                          struct sub_refusals *r)
{
    if (mqtt_topic_levels(e->filter.data, e->filter.len) > b->cfg.limits.max_topic_levels) {
        b->stats.refused_topic_levels++;
        r->levels++;
        return false;
    }
    /* Replacing the QoS of a filter it already holds is always allowed. */
    if (session_sub_count(s) >= b->cfg.limits.max_subscriptions_per_client &&
        !session_sub_has(s, &b->hash_key, e->filter.data, e->filter.len)) {
        b->stats.refused_subscriptions++;
        r->subscriptions++;
        return false;
    }
    return true;
}

static uint8_t subscribe_one(struct broker *b, struct session *s, const struct mqtt_sub_entry *e,
                             struct sub_refusals *r)
{
    if (!access_may_subscribe(b, s, e->filter.data, e->filter.len)) return MQTT_SUBACK_FAILURE;
    if (!within_limits(b, s, e, r)) return MQTT_SUBACK_FAILURE;
    if (trie_subscribe(b->subs, e->filter.data, e->filter.len, s, e->qos) < 0)
        return MQTT_SUBACK_FAILURE;
    if (session_sub_set(s, &b->hash_key, e->filter.data, e->filter.len, e->qos) < 0) {
        trie_unsubscribe(b->subs, e->filter.data, e->filter.len, s);
        return MQTT_SUBACK_FAILURE;
    }
    persist_sub(b, s, e->filter.data, e->filter.len, e->qos);
    return e->qos; /* MQTT-3.8.4-5: the granted QoS is what was asked */
}

static void log_refusals(struct broker *b, struct session *s, const struct sub_refusals *r)
{
    if (r->subscriptions)
        log_warning(&b->log,
                    "subscription limit: client=%s holds %u filters "
                    "(limits.max_subscriptions_per_client %u): %u refused with 0x80",
                    s->client_id, session_sub_count(s), b->cfg.limits.max_subscriptions_per_client,
                    r->subscriptions);
    if (r->levels)
        log_warning(&b->log,
                    "topic level limit: client=%s: %u filters over limits.max_topic_levels %u "
                    "refused with 0x80",
                    s->client_id, r->levels, b->cfg.limits.max_topic_levels);
}

static void send_header(struct broker *b, struct conn *c, uint8_t type_flags, uint16_t pid,
                        size_t body)
{
    uint8_t hdr[1 + 4 + 2];
    hdr[0] = type_flags;
    size_t n = 1 + mqtt_remlen_encode(hdr + 1, 2 + body);
    hdr[n++] = (uint8_t)(pid >> 8); /* MQTT-2.3.1-7 */
    hdr[n++] = (uint8_t)pid;
    if (conn_after_commit(b, c)) conn_send(b, c, hdr, n);
}

void handle_subscribe(struct broker *b, struct conn *c, const struct mqtt_packet *p)
{
    const struct mqtt_subscribe *sub = &p->u.subscribe;
    struct session *s = c->session;
    uint8_t *codes = malloc(sub->count);
    if (!codes) {
        conn_close(b, c, "out of memory", true);
        return;
    }
    /* MQTT-3.8.4-4: each filter in order, as if sent one by one. */
    struct mqtt_sub_iter it;
    struct mqtt_sub_entry e;
    size_t n = 0;
    struct sub_refusals refused = {0, 0};
    mqtt_sub_iter_init(&it, p);
    while (n < sub->count && mqtt_sub_iter_next(&it, &e))
        codes[n++] = subscribe_one(b, s, &e, &refused);
    log_refusals(b, s, &refused);

    send_header(b, c, MQTT_SUBACK << 4, sub->packet_id, n); /* MQTT-3.8.4-1, MQTT-3.9.3-1 */
    conn_send(b, c, codes, n);

    /* After the SUBACK, the retained messages of each new subscription
     * (again on a repeated subscription: MQTT-3.8.4-3), streamed as the
     * client reads them; a filter listed twice is replayed once. */
    mqtt_sub_iter_init(&it, p);
    for (size_t i = 0; i < n && mqtt_sub_iter_next(&it, &e); i++) {
        if (codes[i] == MQTT_SUBACK_FAILURE) continue;
        if (replay_add(b, s, e.filter.data, e.filter.len, codes[i]) < 0) {
            conn_close(b, c, "out of memory", true);
            break;
        }
    }
    free(codes);
}

void handle_unsubscribe(struct broker *b, struct conn *c, const struct mqtt_packet *p)
{
    struct session *s = c->session;
    struct mqtt_sub_iter it;
    struct mqtt_sub_entry e;
    mqtt_sub_iter_init(&it, p);
    /* MQTT-3.10.4-1: exact string match against this session's filters. */
    while (mqtt_sub_iter_next(&it, &e))
        if (session_sub_remove(s, &b->hash_key, e.filter.data, e.filter.len)) {
            trie_unsubscribe(b->subs, e.filter.data, e.filter.len, s);
            persist_unsub(b, s, e.filter.data, e.filter.len);
            replay_cancel(b, s, e.filter.data, e.filter.len); /* MQTT-3.10.4-2 */
        }
    send_header(b, c, MQTT_UNSUBACK << 4, p->u.subscribe.packet_id, 0); /* MQTT-3.10.4-4/5 */
}
