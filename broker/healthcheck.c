/* starling --healthcheck: see healthcheck.h. A blocking client with one
 * deadline for the whole exchange: every wait is a poll bounded by what is
 * left of it, so a broker that hangs mid-way is reported, never waited on. */
#include "broker/healthcheck.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "protocol/mqtt.h"

struct hc {
    int fd;
    long deadline_ms;
    uint8_t in[4096];
    size_t in_len;
    char why[160]; /* the step that failed */
};

static long mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static int fail(struct hc *h, const char *what, const char *detail)
{
    snprintf(h->why, sizeof h->why, "%s%s%s", what, detail ? ": " : "", detail ? detail : "");
    return -1;
}

static int wait_for(struct hc *h, short events, const char *step)
{
    long left = h->deadline_ms - mono_ms();
    if (left <= 0) return fail(h, step, "timed out");
    struct pollfd p = {.fd = h->fd, .events = events};
    int r = poll(&p, 1, (int)left);
    if (r < 0) return fail(h, step, strerror(errno));
    if (r == 0) return fail(h, step, "timed out");
    return 0;
}

/* Where a listener is reached from this host: a wildcard bind on loopback. */
static int listener_addr(const struct listener_config *l, struct sockaddr_storage *ss,
                         socklen_t *len, char *shown, size_t cap)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, l->bind, &v4->sin_addr) == 1) {
        if (v4->sin_addr.s_addr == htonl(INADDR_ANY)) v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        v4->sin_family = AF_INET;
        v4->sin_port = htons(l->port);
        *len = sizeof *v4;
        inet_ntop(AF_INET, &v4->sin_addr, shown, (socklen_t)cap);
    } else if (inet_pton(AF_INET6, l->bind, &v6->sin6_addr) == 1) {
        if (IN6_IS_ADDR_UNSPECIFIED(&v6->sin6_addr)) v6->sin6_addr = in6addr_loopback;
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(l->port);
        *len = sizeof *v6;
        char a[INET6_ADDRSTRLEN];
        inet_ntop(AF_INET6, &v6->sin6_addr, a, sizeof a);
        snprintf(shown, cap, "[%s]", a);
    } else {
        return -1;
    }
    size_t n = strlen(shown);
    snprintf(shown + n, cap - n, ":%u", (unsigned)l->port);
    return 0;
}

static int open_connection(struct hc *h, const struct sockaddr_storage *ss, socklen_t len)
{
    h->fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (h->fd < 0) return fail(h, "socket", strerror(errno));
    int one = 1;
    setsockopt(h->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(h->fd, (const struct sockaddr *)ss, len) == 0) return 0;
    if (errno != EINPROGRESS) return fail(h, "connect", strerror(errno));
    if (wait_for(h, POLLOUT, "connect") < 0) return -1;
    int err = 0;
    socklen_t elen = sizeof err;
    getsockopt(h->fd, SOL_SOCKET, SO_ERROR, &err, &elen);
    return err ? fail(h, "connect", strerror(err)) : 0;
}

static int send_packet(struct hc *h, const struct mqtt_packet *p, const char *step)
{
    uint8_t buf[1024];
    size_t n = mqtt_encode(p, buf, sizeof buf);
    if (n == 0) return fail(h, step, "packet too large to encode");
    for (size_t off = 0; off < n;) {
        ssize_t w = send(h->fd, buf + off, n - off, MSG_NOSIGNAL);
        if (w > 0) {
            off += (size_t)w;
        } else if (w < 0 && errno == EAGAIN) {
            if (wait_for(h, POLLOUT, step) < 0) return -1;
        } else {
            return fail(h, step, w < 0 ? strerror(errno) : "connection closed");
        }
    }
    return 0;
}

/* The next packet from the broker into *p (pointing into h->in, valid until
 * the next call); *used is what to drop from h->in before that call. */
static int recv_packet(struct hc *h, struct mqtt_packet *p, size_t *used, const char *step)
{
    for (;;) {
        enum mqtt_err e = mqtt_next(h->in, h->in_len, sizeof h->in, p, used);
        if (e == MQTT_OK) return 0;
        if (e != MQTT_ERR_INCOMPLETE) return fail(h, step, mqtt_err_str(e));
        if (wait_for(h, POLLIN, step) < 0) return -1;
        ssize_t r = recv(h->fd, h->in + h->in_len, sizeof h->in - h->in_len, 0);
        if (r == 0) return fail(h, step, "the broker closed the connection");
        if (r < 0 && errno != EAGAIN) return fail(h, step, strerror(errno));
        if (r > 0) h->in_len += (size_t)r;
    }
}

static void consume(struct hc *h, size_t used)
{
    memmove(h->in, h->in + used, h->in_len - used);
    h->in_len -= used;
}

static const char *const connack_reasons[] = {
    "accepted",           "unacceptable protocol version", "client id rejected",
    "server unavailable", "bad user name or password",     "not authorised",
};

static int handshake(struct hc *h, const struct healthcheck_opts *o, const char *client_id)
{
    struct mqtt_packet p = {.type = MQTT_CONNECT};
    struct mqtt_connect *c = &p.u.connect;
    c->protocol_level = MQTT_LEVEL_311;
    c->clean_session = true;
    c->keepalive = 30;
    c->client_id = (struct mqtt_bytes){(const uint8_t *)client_id, strlen(client_id)};
    if (o->username) {
        c->has_username = true;
        c->username = (struct mqtt_bytes){(const uint8_t *)o->username, strlen(o->username)};
        if (o->password) {
            c->has_password = true;
            c->password = (struct mqtt_bytes){(const uint8_t *)o->password, strlen(o->password)};
        }
    }
    if (send_packet(h, &p, "CONNECT") < 0) return -1;
    size_t used;
    if (recv_packet(h, &p, &used, "CONNACK") < 0) return -1;
    if (p.type != MQTT_CONNACK) return fail(h, "CONNACK", "another packet came first");
    uint8_t rc = p.u.connack.return_code;
    consume(h, used);
    if (rc == 0) return 0;
    char d[128];
    snprintf(d, sizeof d, "refused with code %u (%s)%s", rc,
             rc < 6 ? connack_reasons[rc] : "unknown",
             rc == 4 || rc == 5 ? "; set STARLING_HEALTHCHECK_USERNAME and _PASSWORD" : "");
    return fail(h, "CONNACK", d);
}

/* SUBSCRIBE, PUBLISH, then both the PUBACK and our own message back (acked,
 * as a QoS 1 delivery must be), in whichever order they come. */
static int round_trip(struct hc *h, const char *topic)
{
    const struct mqtt_sub_entry sub = {{(const uint8_t *)topic, strlen(topic)}, 1};
    struct mqtt_packet p = {.type = MQTT_SUBSCRIBE};
    p.u.subscribe = (struct mqtt_subscribe){.packet_id = 1, .count = 1, .entries = &sub};
    if (send_packet(h, &p, "SUBSCRIBE") < 0) return -1;
    size_t used;
    if (recv_packet(h, &p, &used, "SUBACK") < 0) return -1;
    if (p.type != MQTT_SUBACK || p.u.suback.count != 1)
        return fail(h, "SUBACK", "another packet came first");
    bool denied = p.u.suback.codes[0] == MQTT_SUBACK_FAILURE;
    consume(h, used);
    if (denied) return fail(h, "SUBACK", "the subscription was refused (ACL read access?)");

    static const char payload[] = "starling healthcheck";
    p = (struct mqtt_packet){.type = MQTT_PUBLISH};
    p.u.publish = (struct mqtt_publish){.qos = 1,
                                        .topic = sub.filter,
                                        .packet_id = 2,
                                        .payload = {(const uint8_t *)payload, sizeof payload - 1}};
    if (send_packet(h, &p, "PUBLISH") < 0) return -1;
    bool acked = false, delivered = false;
    for (int packets = 0; !(acked && delivered); packets++) {
        if (packets == 8) return fail(h, "delivery", "unexpected packets from the broker");
        const char *step = acked ? "delivery (ACL write access?)" : "PUBACK";
        if (recv_packet(h, &p, &used, step) < 0) return -1;
        if (p.type == MQTT_PUBACK && p.u.packet_id == 2) {
            acked = true;
        } else if (p.type == MQTT_PUBLISH && p.u.publish.topic.len == sub.filter.len &&
                   memcmp(p.u.publish.topic.data, topic, sub.filter.len) == 0) {
            delivered = p.u.publish.payload.len == sizeof payload - 1 &&
                        memcmp(p.u.publish.payload.data, payload, sizeof payload - 1) == 0;
            if (!delivered) return fail(h, "delivery", "the payload came back changed");
            struct mqtt_packet ack = {.type = MQTT_PUBACK, .u.packet_id = p.u.publish.packet_id};
            consume(h, used);
            if (send_packet(h, &ack, "PUBACK to the broker") < 0) return -1;
            continue;
        }
        consume(h, used);
    }
    p = (struct mqtt_packet){.type = MQTT_DISCONNECT};
    return send_packet(h, &p, "DISCONNECT");
}

int healthcheck_run(const struct config *cfg, const struct healthcheck_opts *o, FILE *out)
{
    const struct listener_config *l = NULL;
    for (size_t i = 0; i < cfg->n_listeners && !l; i++)
        if (!cfg->listeners[i].tls.enabled) l = &cfg->listeners[i];
    if (!l) {
        fprintf(out, "starling: unhealthy: no plain TCP listener to check (add one bound to "
                     "127.0.0.1 for the health check)\n");
        return 1;
    }
    struct sockaddr_storage ss;
    socklen_t len;
    char where[96];
    if (listener_addr(l, &ss, &len, where, sizeof where) < 0) {
        fprintf(out, "starling: unhealthy: cannot reach bind address '%s'\n", l->bind);
        return 1;
    }
    uint8_t rnd[6] = {0};
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        long t = mono_ms();
        memcpy(rnd, &t, sizeof rnd); /* unique enough for a client id */
    }
    char client_id[64], topic[96];
    snprintf(client_id, sizeof client_id, "starling-healthcheck-%02x%02x%02x%02x%02x%02x", rnd[0],
             rnd[1], rnd[2], rnd[3], rnd[4], rnd[5]);
    snprintf(topic, sizeof topic, "starling/healthcheck/%s", client_id);

    struct hc h = {.fd = -1};
    long start = mono_ms();
    h.deadline_ms = start + o->timeout_ms;
    int rc = open_connection(&h, &ss, len);
    if (rc == 0) rc = handshake(&h, o, client_id);
    if (rc == 0) rc = round_trip(&h, topic);
    if (h.fd >= 0) close(h.fd);
    if (rc < 0) {
        fprintf(out, "starling: unhealthy: %s: %s\n", where, h.why);
        return 1;
    }
    fprintf(out, "starling: healthy: MQTT round trip through %s in %ld ms\n", where,
            mono_ms() - start);
    return 0;
}
