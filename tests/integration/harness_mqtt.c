/* MQTT 3.1.1 packets written byte by byte and read back with a deadline.
 * Independent of protocol/ on purpose: the tests must not share the broker's
 * codec bugs, and malformed packets need exact control over every byte. */
#include "tests/integration/harness.h"

#include <stdio.h>
#include <string.h>

void wb_u8(struct wbuf *w, uint8_t v)
{
    assert_true(w->n < sizeof w->d);
    w->d[w->n++] = v;
}

void wb_u16(struct wbuf *w, uint16_t v)
{
    wb_u8(w, (uint8_t)(v >> 8));
    wb_u8(w, (uint8_t)(v & 0xff));
}

void wb_mem(struct wbuf *w, const void *p, size_t n)
{
    assert_true(n <= sizeof w->d - w->n);
    memcpy(w->d + w->n, p, n);
    w->n += n;
}

void wb_lstr(struct wbuf *w, const void *s, size_t n)
{
    wb_u16(w, (uint16_t)n);
    wb_mem(w, s, n);
}

void wb_str(struct wbuf *w, const char *s)
{
    wb_lstr(w, s, strlen(s));
}

size_t packet_bytes(uint8_t *out, size_t cap, uint8_t first_byte, const struct wbuf *body)
{
    size_t n = 0, len = body->n;
    assert_true(cap >= body->n + 5);
    out[n++] = first_byte;
    do {
        uint8_t b = len % 128;
        len /= 128;
        out[n++] = len ? (uint8_t)(b | 0x80) : b;
    } while (len);
    memcpy(out + n, body->d, body->n);
    return n + body->n;
}

void send_packet(int fd, uint8_t first_byte, const struct wbuf *body)
{
    static uint8_t out[PKT_MAX + 5];
    send_bytes(fd, out, packet_bytes(out, sizeof out, first_byte, body));
}

static int read_remaining_length(int fd, size_t *len, int timeout_ms)
{
    size_t value = 0, mult = 1;
    for (int i = 0; i < 4; i++) {
        uint8_t b;
        int rc = recv_exact(fd, &b, 1, timeout_ms);
        if (rc) return rc;
        value += (b & 0x7f) * mult;
        mult *= 128;
        if (!(b & 0x80)) {
            *len = value;
            return 0;
        }
    }
    return -3;
}

int read_packet(int fd, struct pkt *p, int timeout_ms)
{
    uint8_t first;
    int rc = recv_exact(fd, &first, 1, timeout_ms);
    if (rc) return rc;
    p->type = first >> 4;
    p->flags = first & 0x0f;
    rc = read_remaining_length(fd, &p->len, timeout_ms);
    if (rc) return rc;
    if (p->len > sizeof p->body) return -3;
    return recv_exact(fd, p->body, p->len, timeout_ms);
}

void expect_packet(int fd, struct pkt *p, uint8_t type)
{
    int rc = read_packet(fd, p, IT_WAIT);
    if (rc == -1) fail_msg("timed out waiting for packet type %d", type);
    if (rc == -2) fail_msg("connection closed while waiting for packet type %d", type);
    assert_int_equal(rc, 0);
    if (p->type != type) fail_msg("expected packet type %d, got %d", type, p->type);
}

void build_connect(struct wbuf *w, const struct conn_opts *o)
{
    uint8_t flags = o->clean ? 0x02 : 0;
    if (o->will_topic) flags |= (uint8_t)(0x04 | (o->will_qos << 3) | (o->will_retain ? 0x20 : 0));
    if (o->username) flags |= 0x80;
    if (o->password) flags |= 0x40;
    w->n = 0;
    wb_str(w, "MQTT");
    wb_u8(w, 4);
    wb_u8(w, flags);
    wb_u16(w, o->keepalive);
    wb_str(w, o->client_id ? o->client_id : "");
    if (o->will_topic) {
        wb_str(w, o->will_topic);
        wb_str(w, o->will_payload ? o->will_payload : "");
    }
    if (o->username) wb_str(w, o->username);
    if (o->password) wb_str(w, o->password);
}

size_t connect_packet(uint8_t *out, size_t cap, const struct conn_opts *o)
{
    static struct wbuf w;
    build_connect(&w, o);
    assert_true(w.n < 128 && w.n + 2 <= cap); /* one remaining-length byte */
    out[0] = 0x10;
    out[1] = (uint8_t)w.n;
    memcpy(out + 2, w.d, w.n);
    return w.n + 2;
}

void send_connect(int fd, const struct conn_opts *o)
{
    static struct wbuf w;
    build_connect(&w, o);
    send_packet(fd, 0x10, &w);
}

int it_connect(struct itest *t, const struct conn_opts *o, bool *session_present)
{
    int fd = it_tcp(t);
    uint8_t ack[4];
    send_connect(fd, o);
    int rc = recv_exact(fd, ack, 4, IT_WAIT);
    if (rc)
        fail_msg("no CONNACK for client '%s' (%s)", o->client_id ? o->client_id : "",
                 rc == -1 ? "timeout" : "closed");
    assert_int_equal(ack[0], 0x20);
    assert_int_equal(ack[1], 2);
    assert_int_equal(ack[3], 0);
    assert_true(ack[2] <= 1);
    if (session_present) *session_present = ack[2] == 1;
    return fd;
}

int it_client(struct itest *t, const char *client_id)
{
    struct conn_opts o = {.client_id = client_id, .clean = true, .keepalive = 60};
    return it_connect(t, &o, NULL);
}

int it_session(struct itest *t, const char *client_id, bool clean, bool *session_present)
{
    struct conn_opts o = {.client_id = client_id, .clean = clean, .keepalive = 30};
    return it_connect(t, &o, session_present);
}

void it_leave(struct itest *t, int fd)
{
    send_disconnect(fd);
    expect_closed(fd, IT_WAIT);
    it_forget_fd(t, fd);
}

void send_publish(int fd, const char *topic, const void *payload, size_t len, int qos, bool retain,
                  bool dup, uint16_t pid)
{
    static struct wbuf w;
    w.n = 0;
    wb_str(&w, topic);
    if (qos > 0) wb_u16(&w, pid);
    wb_mem(&w, payload, len);
    send_packet(fd, (uint8_t)(0x30 | (dup ? 8 : 0) | (qos << 1) | (retain ? 1 : 0)), &w);
}

void publish(int fd, const char *topic, const char *payload, int qos, bool retain)
{
    const uint16_t pid = 0x4d2;
    send_publish(fd, topic, payload, strlen(payload), qos, retain, false, pid);
    if (qos == 1) expect_ack(fd, 0x40, pid);
    if (qos == 2) {
        expect_ack(fd, 0x50, pid);
        send_ack(fd, 0x62, pid);
        expect_ack(fd, 0x70, pid);
    }
}

static void build_filters(struct wbuf *w, uint16_t pid, int n, const char *const filters[],
                          const uint8_t qos[])
{
    w->n = 0;
    wb_u16(w, pid);
    for (int i = 0; i < n; i++) {
        wb_str(w, filters[i]);
        if (qos) wb_u8(w, qos[i]);
    }
}

void send_subscribe(int fd, uint16_t pid, int n, const char *const filters[], const uint8_t qos[])
{
    static struct wbuf w;
    build_filters(&w, pid, n, filters, qos);
    send_packet(fd, 0x82, &w);
}

void subscribe(int fd, const char *filter, uint8_t qos)
{
    const char *f[] = {filter};
    send_subscribe(fd, 0x1111, 1, f, &qos);
    uint8_t want[] = {0x90, 3, 0x11, 0x11, qos};
    expect_bytes(fd, want, sizeof want, IT_WAIT);
}

void send_unsubscribe(int fd, uint16_t pid, int n, const char *const filters[])
{
    static struct wbuf w;
    build_filters(&w, pid, n, filters, NULL);
    send_packet(fd, 0xa2, &w);
}

void unsubscribe(int fd, const char *filter)
{
    const char *f[] = {filter};
    send_unsubscribe(fd, 0x2222, 1, f);
    expect_ack(fd, 0xb0, 0x2222);
}

void send_ack(int fd, uint8_t first_byte, uint16_t pid)
{
    uint8_t b[] = {first_byte, 2, (uint8_t)(pid >> 8), (uint8_t)pid};
    send_bytes(fd, b, sizeof b);
}

void expect_ack(int fd, uint8_t first_byte, uint16_t pid)
{
    uint8_t b[] = {first_byte, 2, (uint8_t)(pid >> 8), (uint8_t)pid};
    expect_bytes(fd, b, sizeof b, IT_WAIT);
}

void send_disconnect(int fd)
{
    uint8_t b[] = {0xe0, 0};
    send_bytes(fd, b, sizeof b);
}

void parse_publish(const struct pkt *p, struct msg *m)
{
    assert_int_equal(p->type, 3);
    m->dup = p->flags & 8;
    m->qos = (p->flags >> 1) & 3;
    m->retain = p->flags & 1;
    assert_true(p->len >= 2);
    m->topic_len = (size_t)p->body[0] << 8 | p->body[1];
    size_t pos = 2 + m->topic_len;
    assert_true(pos + (m->qos ? 2 : 0) <= p->len);
    size_t copy = m->topic_len < sizeof m->topic - 1 ? m->topic_len : sizeof m->topic - 1;
    memcpy(m->topic, p->body + 2, copy);
    m->topic[copy] = '\0';
    m->pid = 0;
    if (m->qos) {
        m->pid = (uint16_t)(p->body[pos] << 8 | p->body[pos + 1]);
        pos += 2;
    }
    m->payload = p->body + pos;
    m->payload_len = p->len - pos;
}

uint16_t expect_publish(int fd, const char *topic, const char *payload, int qos, bool retain)
{
    static struct pkt p;
    struct msg m;
    expect_packet(fd, &p, 3);
    parse_publish(&p, &m);
    assert_string_equal(m.topic, topic);
    if (m.payload_len != strlen(payload) || memcmp(m.payload, payload, m.payload_len) != 0)
        fail_msg("payload on '%s': got '%.*s', want '%s'", topic, (int)m.payload_len,
                 (const char *)m.payload, payload);
    if (m.qos != qos) fail_msg("'%s' delivered at QoS %d, want %d", payload, m.qos, qos);
    if (m.retain != retain) fail_msg("'%s' RETAIN=%d, want %d", payload, m.retain, retain);
    if (qos > 0) assert_int_not_equal(m.pid, 0);
    return m.pid;
}

void expect_publish_ack(int fd, const char *topic, const char *payload, int qos, bool retain)
{
    uint16_t pid = expect_publish(fd, topic, payload, qos, retain);
    if (qos == 1) send_ack(fd, 0x40, pid);
    if (qos == 2) complete_qos2(fd, pid);
}

void complete_qos2(int fd, uint16_t pid)
{
    send_ack(fd, 0x50, pid);
    expect_ack(fd, 0x62, pid);
    send_ack(fd, 0x70, pid);
}

uint16_t expect_publish_dup(int fd, const char *payload, int qos, bool dup)
{
    static struct pkt p;
    struct msg m;
    expect_packet(fd, &p, 3);
    parse_publish(&p, &m);
    if (m.payload_len != strlen(payload) || memcmp(m.payload, payload, m.payload_len) != 0)
        fail_msg("got '%.*s', want '%s'", (int)m.payload_len, (const char *)m.payload, payload);
    assert_int_equal(m.qos, qos);
    if (m.dup != dup) fail_msg("'%s' DUP=%d, want %d", payload, m.dup, dup);
    return m.pid;
}
