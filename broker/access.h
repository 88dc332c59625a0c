/* Access control in the broker: the ACL loaded from auth.acl_file
 * (auth/acl.h) applied to a session's publishes, subscriptions, deliveries
 * and will, with the session's client id and the user name its CONNECT
 * authenticated with. Denials are counted in the stats; denied publishes
 * and subscriptions are logged at most once a second broker-wide, with the
 * number left out. Without an ACL file every check is one branch. */
#ifndef STARLING_BROKER_ACCESS_H
#define STARLING_BROKER_ACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "broker/broker.h"

struct session;

/* May s publish to this topic? what ("PUBLISH", "will") is for the log. */
bool access_may_publish(struct broker *b, const struct session *s, const uint8_t *topic, size_t len,
                        const char *what);
/* May s subscribe to this filter (SUBACK 0x80 otherwise)? */
bool access_may_subscribe(struct broker *b, const struct session *s, const uint8_t *filter,
                          size_t len);

bool access_read_check(struct broker *b, const struct session *s, const uint8_t *topic, size_t len);
/* May s receive a message on this topic? Asked for every delivery, so the
 * rights of the moment apply (after a reload, to the next message). */
static inline bool access_may_read(struct broker *b, const struct session *s, const uint8_t *topic,
                                   size_t len)
{
    return !b->acl || access_read_check(b, s, topic, len);
}

#endif
