#include "broker/route/msg.h"

#include <stdlib.h>
#include <string.h>

struct msg *msg_new(const uint8_t *topic, size_t topic_len, const uint8_t *payload,
                    size_t payload_len, uint8_t qos, bool retain)
{
    if (topic_len > UINT16_MAX) return NULL;
    struct msg *m = malloc(sizeof(*m) + 2 + topic_len + payload_len);
    if (!m) return NULL;
    m->refs = 1;
    m->store_refs = 0;
    m->store_id = 0;
    m->qos = qos;
    m->retain = retain;
    m->topic_len = (uint16_t)topic_len;
    m->payload_len = payload_len;
    m->wire[0] = (uint8_t)(topic_len >> 8);
    m->wire[1] = (uint8_t)topic_len;
    if (topic_len) memcpy(m->wire + 2, topic, topic_len);
    if (payload_len) memcpy(m->wire + 2 + topic_len, payload, payload_len);
    m->topic = m->wire + 2;
    m->payload = m->wire + 2 + topic_len;
    return m;
}

struct msg *msg_ref(struct msg *m)
{
    m->refs++;
    return m;
}

void msg_unref(struct msg *m)
{
    if (m && --m->refs == 0) free(m);
}
