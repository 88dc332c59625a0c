/* CONNECT: identity, authentication, takeover, session resumption, will. */
#include <stdio.h>
#include <string.h>

#include "auth/auth.h"
#include "broker/broker.h"
#include "broker/route/deliver.h"
#include "broker/handle/handlers.h"
#include "broker/route/msg.h"
#include "broker/session/session.h"
#include "broker/session/session_mgr.h"
#include "broker/store/persist.h"

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

static struct auth_request auth_request_of(const struct mqtt_connect *p)
{
    return (struct auth_request){
        .client_id = p->client_id.data,
        .client_id_len = p->client_id.len,
        .has_username = p->has_username,
        .username = p->username.data,
        .username_len = p->username.len,
        .has_password = p->has_password,
        .password = p->password.data,
        .password_len = p->password.len,
    };
}

/* Every refusal is logged with the client id, user name, address and
 * reason; never with the password. A certificate identity
 * (tls.use_identity_as_username) replaces the CONNECT's user name and
 * password in *req, so the ACL sees the same user. */
static uint8_t authenticate(struct broker *b, struct conn *c, struct auth_request *req,
                            const uint8_t *id, size_t id_len)
{
    const char *cn;
    int from_cert = transport_identity(&c->tr, &cn);
    if (from_cert < 0) { /* as Mosquitto: the identity was asked for and is missing */
        log_warning(&b->log,
                    "authentication failed: client=%.*s addr=%s: client certificate "
                    "has no CN (tls.use_identity_as_username)",
                    (int)id_len, (const char *)id, c->addr);
        return MQTT_CONNACK_BAD_CREDENTIALS;
    }
    if (from_cert > 0) { /* the CONNECT's user name and password are ignored */
        req->has_username = req->username_from_certificate = true;
        req->username = (const uint8_t *)cn;
        req->username_len = strlen(cn);
        req->has_password = false;
    }
    const char *why;
    uint8_t code = auth_connect(&b->cfg.auth, b->passwd, req, &why);
    if (code != MQTT_CONNACK_ACCEPTED)
        log_warning(&b->log, "authentication failed: client=%.*s user=%.*s addr=%s: %s",
                    (int)id_len, (const char *)id, req->has_username ? (int)req->username_len : 1,
                    req->has_username ? (const char *)req->username : "-", c->addr, why);
    return code;
}

/* Session present exists only in 3.1.1: a 3.1 client gets 0 in that byte,
 * also when its session was resumed (3.1's CONNACK byte 1 is reserved). */
static void send_connack(struct broker *b, struct conn *c, uint8_t level, bool present)
{
    bool flag = present && level != MQTT_LEVEL_31;
    uint8_t connack[4] = {MQTT_CONNACK << 4, 2, flag ? 1 : 0, MQTT_CONNACK_ACCEPTED};
    conn_send(b, c, connack, sizeof(connack)); /* MQTT-3.2.0-1, MQTT-3.1.4-4 */
}

#define AUTO_ID_SIZE 40

/* The client id to use: the client's, or one generated into auto_id. False
 * after refusing the client. */
static bool choose_client_id(struct broker *b, struct conn *c, const struct mqtt_connect *p,
                             char auto_id[AUTO_ID_SIZE], const uint8_t **id, size_t *id_len)
{
    *id = p->client_id.data;
    *id_len = p->client_id.len;
    if (*id_len) return true;
    /* MQTT 3.1 requires 1 to 23 characters, whatever clean session says.
     * Longer 3.1 ids are accepted, as Mosquitto does: clients send them and
     * nothing in the broker depends on the 23. */
    if (p->protocol_level == MQTT_LEVEL_31) {
        refuse(b, c, MQTT_CONNACK_ID_REJECTED, "empty client id (MQTT 3.1 requires one)");
        return false;
    }
    if (!p->clean_session) { /* MQTT-3.1.3-8 */
        refuse(b, c, MQTT_CONNACK_ID_REJECTED, "empty client id needs clean session");
        return false;
    }
    /* MQTT-3.1.3-6 */
    *id_len = (size_t)snprintf(auto_id, AUTO_ID_SIZE, "auto-%08x-%012llx", b->auto_id_prefix,
                               (unsigned long long)++b->next_auto_id);
    *id = (const uint8_t *)auto_id;
    return true;
}

/* A will topic over limits.max_topic_levels gets 0x02. The CONNECT is
 * well-formed, so closing without a CONNACK would hide the reason; 0x03
 * (server unavailable) invites retrying the same CONNECT, 0x04/0x05 blame
 * the credentials; 0x02 already answers a keep-alive over the limit: "this
 * CONNECT, as sent, is not accepted". */
static bool will_topic_allowed(struct broker *b, struct conn *c, const struct mqtt_connect *p)
{
    uint32_t max = b->cfg.limits.max_topic_levels;
    if (!p->will_flag || p->will_topic.len < max) return true; /* n levels need n-1 bytes */
    size_t n = mqtt_topic_levels(p->will_topic.data, p->will_topic.len);
    if (n <= max) return true;
    b->stats.refused_topic_levels++;
    char why[96];
    snprintf(why, sizeof(why), "will topic has %zu levels, over limits.max_topic_levels (%u)", n,
             max);
    refuse(b, c, MQTT_CONNACK_ID_REJECTED, why);
    return false;
}

/* The will as a message, or NULL if there is none (*ok) or on OOM (!*ok). */
static struct msg *will_new(const struct mqtt_connect *p, bool *ok)
{
    *ok = true;
    if (!p->will_flag) return NULL;
    struct msg *m = msg_new(p->will_topic.data, p->will_topic.len, p->will_payload.data,
                            p->will_payload.len, p->will_qos, p->will_retain);
    *ok = m != NULL;
    return m;
}

void handle_connect(struct broker *b, struct conn *c, const struct mqtt_connect *p)
{
    const uint8_t *id;
    size_t id_len;
    char auto_id[AUTO_ID_SIZE];
    if (!choose_client_id(b, c, p, auto_id, &id, &id_len)) return;
    if (!keepalive_allowed(b, p->keepalive)) {
        refuse(b, c, MQTT_CONNACK_ID_REJECTED, "keep-alive above limits.max_keepalive");
        return;
    }
    if (!will_topic_allowed(b, c, p)) return;
    /* A 3.1 password without a user name reaches here (protocol/ lets it
     * through at level 3): has_username is false, so it is anonymous. The
     * user name authenticated here is the one the ACL checks. */
    struct auth_request req = auth_request_of(p);
    uint8_t code = authenticate(b, c, &req, id, id_len);
    if (code != MQTT_CONNACK_ACCEPTED) {
        refuse(b, c, code,
               code == MQTT_CONNACK_BAD_CREDENTIALS ? "bad user name or password"
                                                    : "not authorized");
        return;
    }
    bool ok;
    struct msg *will = will_new(p, &ok);
    if (!ok) {
        refuse(b, c, MQTT_CONNACK_SERVER_UNAVAILABLE, "out of memory");
        return;
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
    /* A resumed session takes this connection's user name. */
    if (session_set_user(s, req.has_username, req.username, req.username_len) < 0) {
        msg_unref(will);
        session_offline(b, s); /* as it was: a clean one goes, a persistent one waits */
        refuse(b, c, MQTT_CONNACK_SERVER_UNAVAILABLE, "out of memory");
        return;
    }
    persist_session_online(b, s); /* new, or resumed under this user name */
    s->conn = c;
    c->session = s;
    c->will = will;
    c->keepalive = p->keepalive;
    c->protocol_level = p->protocol_level;
    c->state = CONN_ACTIVE;
    send_connack(b, c, p->protocol_level, present); /* MQTT-3.2.2-1..3 */
    log_info(&b->log,
             "client connected: client=%s addr=%s protocol=%s clean=%d keepalive=%u "
             "session_present=%d",
             s->client_id, c->addr, p->protocol_level == MQTT_LEVEL_31 ? "3.1" : "3.1.1",
             p->clean_session ? 1 : 0, p->keepalive, present ? 1 : 0);
    conn_touch(b, c);
    if (present) session_resend(b, s); /* MQTT-4.4.0-1 */
}
