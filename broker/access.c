/* The ACL applied to sessions, and the denial log (see access.h). */
#include "broker/access.h"

#include "auth/acl.h"
#include "broker/session/session.h"

static struct acl_who who_of(const struct session *s)
{
    return (struct acl_who){(const uint8_t *)s->client_id, s->id_len, s->has_user,
                            (const uint8_t *)session_user(s), s->user_len};
}

/* At most one line a second: a client that keeps publishing where it may
 * not cannot flood the log. The next line says how many were left out. */
#define DENIAL_LOG_INTERVAL_MS 1000
#define TOPIC_LOG_MAX 256

static void log_denial(struct broker *b, const struct session *s, const char *what,
                       const uint8_t *topic, size_t len)
{
    if (b->now_ms < b->acl_log_next_ms) {
        b->acl_log_suppressed++;
        return;
    }
    const char *user = session_user(s);
    log_warning(&b->log,
                "ACL denied %s: client=%s user=%s topic=%.*s (denials not logged in the last "
                "second: %llu)",
                what, s->client_id, user ? user : "-",
                (int)(len < TOPIC_LOG_MAX ? len : TOPIC_LOG_MAX), (const char *)topic,
                (unsigned long long)b->acl_log_suppressed);
    b->acl_log_next_ms = b->now_ms + DENIAL_LOG_INTERVAL_MS;
    b->acl_log_suppressed = 0;
}

bool access_may_publish(struct broker *b, const struct session *s, const uint8_t *topic, size_t len,
                        const char *what)
{
    if (!b->acl) return true;
    struct acl_who w = who_of(s);
    if (acl_check(b->acl, &w, topic, len, ACL_WRITE)) return true;
    b->stats.acl_denied_publishes++;
    log_denial(b, s, what, topic, len);
    return false;
}

bool access_may_subscribe(struct broker *b, const struct session *s, const uint8_t *filter,
                          size_t len)
{
    if (!b->acl) return true;
    struct acl_who w = who_of(s);
    if (acl_check_subscribe(b->acl, &w, filter, len)) return true;
    b->stats.acl_denied_subscriptions++;
    log_denial(b, s, "SUBSCRIBE", filter, len);
    return false;
}

bool access_read_check(struct broker *b, const struct session *s, const uint8_t *topic, size_t len)
{
    struct acl_who w = who_of(s);
    if (acl_check(b->acl, &w, topic, len, ACL_READ)) return true;
    b->stats.acl_denied_deliveries++; /* not logged: a '#' subscriber meets them all the time */
    return false;
}
