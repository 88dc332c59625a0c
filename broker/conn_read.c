/* Reading from a client: one read per readable event into the shared buffer,
 * packets parsed in place, and the tail of an incomplete packet kept in the
 * connection between reads. */
#include "broker/conn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/handlers.h"
#include "protocol/mqtt.h"

/* Reads per readable event before other sockets get their turn. */
#define READS_PER_EVENT 16
#define IN_MIN_CAP 4096

static void protocol_error(struct broker *b, struct conn *c, enum mqtt_err e)
{
    b->stats.protocol_errors++;
    if (e == MQTT_ERR_TOO_LARGE) b->stats.refused_packet_too_large++;
    log_warning(&b->log, "protocol error: client=%s addr=%s: %s", conn_client_id(c), c->addr,
                mqtt_err_str(e));
    conn_close(b, c, mqtt_err_str(e), true);
}

/* Handle every complete packet in data[0..len); returns the bytes used. */
static size_t consume(struct broker *b, struct conn *c, const uint8_t *data, size_t len)
{
    size_t off = 0;
    while (off < len && c->state != CONN_CLOSED && !c->pause) {
        struct mqtt_packet p;
        size_t used;
        /* 0 before CONNECT: 3.1.1's rules; handle_connect sets the level,
         * so packets pipelined behind a 3.1 CONNECT get 3.1's. */
        enum mqtt_err e = mqtt_next_level(data + off, len - off, b->cfg.limits.max_packet_size,
                                          c->protocol_level, &p, &used);
        if (e == MQTT_ERR_INCOMPLETE) break;
        if (e == MQTT_OK) e = mqtt_check_inbound(c->state == CONN_ACTIVE, p.type);
        if (e == MQTT_ERR_PROTOCOL_LEVEL && c->state == CONN_AWAIT_CONNECT) {
            /* MQTT-3.1.2-2: a version we do not speak gets CONNACK 0x01. */
            static const uint8_t refuse[] = {0x20, 0x02, 0x00, MQTT_CONNACK_BAD_PROTOCOL_VERSION};
            conn_send(b, c, refuse, sizeof(refuse));
            log_info(&b->log, "connection refused: addr=%s: unsupported protocol level", c->addr);
            conn_close(b, c, "unsupported protocol level", false);
            break;
        }
        if (e != MQTT_OK) {
            protocol_error(b, c, e);
            break;
        }
        if (c->state == CONN_ACTIVE) c->last_rx_ms = b->now_ms;
        handle_packet(b, c, &p);
        off += used;
    }
    return off;
}

/* Room to read the rest of a partial packet into c->in. Grows by doubling
 * rather than straight to the announced size, so memory follows the bytes
 * that actually arrived. */
static bool reserve_in(struct broker *b, struct conn *c)
{
    size_t need = c->in_len + IN_MIN_CAP;
    size_t pkt;
    if (mqtt_frame(c->in, c->in_len, b->cfg.limits.max_packet_size, &pkt) == MQTT_OK &&
        pkt > c->in_len)
        need = pkt;
    if (need <= c->in_cap) return true;
    size_t ncap = c->in_cap ? (size_t)c->in_cap * 2 : IN_MIN_CAP;
    if (ncap > need) ncap = need;
    uint8_t *n = realloc(c->in, ncap);
    if (!n) return false;
    c->in = n;
    c->in_cap = (uint32_t)ncap;
    return true;
}

static bool keep_partial(struct conn *c, const uint8_t *data, size_t len)
{
    if (len == 0) {
        free(c->in); /* idle connections hold no read buffer */
        c->in = NULL;
        c->in_len = c->in_cap = 0;
        return true;
    }
    if (c->in && data >= c->in && data < c->in + c->in_cap) {
        memmove(c->in, data, len); /* the tail of our own buffer */
    } else {
        if (c->in_cap < len) {
            uint8_t *n = realloc(c->in, len < IN_MIN_CAP ? IN_MIN_CAP : len);
            if (!n) return false;
            c->in = n;
            c->in_cap = (uint32_t)(len < IN_MIN_CAP ? IN_MIN_CAP : len);
        }
        memcpy(c->in, data, len);
    }
    c->in_len = (uint32_t)len;
    return true;
}

void conn_on_readable(struct broker *b, struct conn *c)
{
    for (int i = 0; i < READS_PER_EVENT && c->state != CONN_CLOSED && !c->pause; i++) {
        bool direct = c->in_len == 0; /* parse straight from the shared buffer */
        if (!direct && !reserve_in(b, c)) {
            conn_close(b, c, "out of memory", true);
            return;
        }
        uint8_t *buf = direct ? b->rbuf : c->in + c->in_len;
        size_t room = direct ? b->rbuf_size : c->in_cap - c->in_len;
        ssize_t n = read(c->io.fd, buf, room);
        if (n == 0) {
            conn_close(b, c, "connection closed by peer", true);
            return;
        }
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            conn_close(b, c, strerror(errno), true);
            return;
        }
        const uint8_t *data = direct ? b->rbuf : c->in;
        size_t len = direct ? (size_t)n : c->in_len + (size_t)n;
        size_t used = consume(b, c, data, len);
        if (c->state == CONN_CLOSED) return;
        if (!keep_partial(c, data + used, len - used)) {
            conn_close(b, c, "out of memory", true);
            return;
        }
        if ((size_t)n < room) return; /* socket drained */
    }
}

void conn_process_buffered(struct broker *b, struct conn *c)
{
    conn_unlink_ready(b, c);
    if (c->state == CONN_CLOSED || c->pause || c->in_len == 0) return;
    size_t used = consume(b, c, c->in, c->in_len);
    if (c->state == CONN_CLOSED) return;
    if (!keep_partial(c, c->in + used, c->in_len - used)) conn_close(b, c, "out of memory", true);
}
