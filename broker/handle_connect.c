/* CONNECT: identity, authentication, takeover, session resumption, will. */
#include <stdio.h>

#include "auth/auth.h"
#include "broker/broker.h"
#include "broker/deliver.h"
#include "broker/handlers.h"
#include "broker/msg.h"
#include "broker/session.h"
#include "broker/session_mgr.h"

/* MQTT-3.2.2-4/5: a refusing CONNACK has session present 0 and is followed
 * by closing the connection. */
static void refuse(struct broker *b, struct conn *c, uint8_t code, const char *why)
{
    uint8_t connack[4] = {MQTT_CONNACK << 4, 2, 0, code};
    conn_send(b, c, connack, sizeof(connack));
    log_info(&b->log, "connection refused: addr=%s code=%u: %s", c->addr, code, why);
    conn_close(b, c, why, false);
}

static bool keepalive_allowed(const struct broker *b, uint16_t keepalive)
{
    uint16_t max = b->cfg.limits.max_keepalive;
    if (max == UINT16_MAX) return true;
    return keepalive != 0 && keepalive <= max; /* 0 means "forever" */
}

static uint8_t authenticate(struct broker *b, const struct mqtt_connect *p)
{
    struct auth_request req = {
        .client_id = p->client_id.data,
        .client_id_len = p->client_id.len,
        .has_username = p->has_username,
        .username = p->username.data,
        .username_len = p->username.len,
        .has_password = p->has_password,
        .password = p->password.data,
        .password_len = p->password.len,
    };
    return auth_connect(&b->cfg.auth, &req);
}

static void send_connack(struct broker *b, struct conn *c, bool present)
{
    uint8_t connack[4] = {MQTT_CONNACK << 4, 2, present ? 1 : 0, MQTT_CONNACK_ACCEPTED};
    conn_send(b, c, connack, sizeof(connack)); /* MQTT-3.2.0-1, MQTT-3.1.4-4 */
}

void handle_connect(struct broker *b, struct conn *c, const struct mqtt_connect *p)
{
    const uint8_t *id = p->client_id.data;
    size_t id_len = p->client_id.len;
    char auto_id[40];
    if (id_len == 0) {
        if (!p->clean_session) { /* MQTT-3.1.3-8 */
            refuse(b, c, MQTT_CONNACK_ID_REJECTED, "empty client id needs clean session");
            return;
        }
        /* MQTT-3.1.3-6 */
        id_len = (size_t)snprintf(auto_id, sizeof(auto_id), "auto-%08x-%012llx", b->auto_id_prefix,
                                  (unsigned long long)++b->next_auto_id);
        id = (const uint8_t *)auto_id;
    }
    if (!keepalive_allowed(b, p->keepalive)) {
        refuse(b, c, MQTT_CONNACK_ID_REJECTED, "keep-alive above limits.max_keepalive");
        return;
    }
    uint8_t code = authenticate(b, p);
    if (code != MQTT_CONNACK_ACCEPTED) {
        refuse(b, c, code, "not authorized");
        return;
    }
    struct msg *will = NULL;
    if (p->will_flag) {
        will = msg_new(p->will_topic.data, p->will_topic.len, p->will_payload.data,
                       p->will_payload.len, p->will_qos, p->will_retain);
        if (!will) {
            refuse(b, c, MQTT_CONNACK_SERVER_UNAVAILABLE, "out of memory");
            return;
        }
    }

    uint32_t hash = session_id_hash(&b->sessions, id, id_len);
    struct session *old = session_table_find(&b->sessions, id, id_len, hash);
    if (old && old->conn) /* MQTT-3.1.4-2 */
        conn_close(b, old->conn, "session taken over by a new connection", true);

    bool present;
    const char *why = NULL;
    struct session *s = session_open(b, id, id_len, p->clean_session, &present, &why);
    if (!s) {
        msg_unref(will);
        refuse(b, c, MQTT_CONNACK_SERVER_UNAVAILABLE, why);
        return;
    }
    s->conn = c;
    c->session = s;
    c->will = will;
    c->keepalive = p->keepalive;
    c->state = CONN_ACTIVE;
    send_connack(b, c, present); /* MQTT-3.2.2-1..3 */
    log_info(&b->log,
             "client connected: client=%s addr=%s protocol=%s clean=%d keepalive=%u "
             "session_present=%d",
             s->client_id, c->addr, p->protocol_level == 3 ? "3.1" : "3.1.1",
             p->clean_session ? 1 : 0, p->keepalive, present ? 1 : 0);
    conn_touch(b, c);
    if (present) session_resend(b, s); /* MQTT-4.4.0-1 */
}
