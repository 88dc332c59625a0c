/* Loopback sockets, packet building and framing for the stress attacks. */
#include "tests/stress/net.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

#include "protocol/mqtt.h"

#define KEEP_MAX (128 * 1024) /* larger packets are counted, not kept */

long st_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

long st_now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000000L + ts.tv_nsec / 1000L;
}

void st_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

static void sb_reserve(struct st_buf *b, size_t more)
{
    if (b->n + more <= b->cap) return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->n + more)
        cap *= 2;
    b->d = realloc(b->d, cap);
    if (b->d == NULL) {
        perror("starling-stress: realloc");
        abort();
    }
    b->cap = cap;
}

void sb_free(struct st_buf *b)
{
    free(b->d);
    *b = (struct st_buf){0};
}

void sb_mem(struct st_buf *b, const void *p, size_t n)
{
    sb_reserve(b, n);
    if (n) memcpy(b->d + b->n, p, n);
    b->n += n;
}

void sb_u8(struct st_buf *b, uint8_t v)
{
    sb_mem(b, &v, 1);
}

void sb_u16(struct st_buf *b, uint16_t v)
{
    uint8_t x[2] = {(uint8_t)(v >> 8), (uint8_t)v};
    sb_mem(b, x, 2);
}

void sb_str(struct st_buf *b, const void *s, size_t n)
{
    sb_u16(b, (uint16_t)n);
    sb_mem(b, s, n);
}

void sb_packet(struct st_buf *out, uint8_t first, const struct st_buf *body)
{
    uint8_t rl[4];
    size_t k = mqtt_remlen_encode(rl, body->n);
    sb_u8(out, first);
    sb_mem(out, rl, k);
    sb_mem(out, body->d, body->n);
}

void sb_connect(struct st_buf *out, const char *client_id, bool clean, uint16_t keepalive)
{
    struct st_buf b = {0};
    sb_str(&b, "MQTT", 4);
    sb_u8(&b, 4);
    sb_u8(&b, clean ? 0x02 : 0x00);
    sb_u16(&b, keepalive);
    sb_str(&b, client_id, strlen(client_id));
    sb_packet(out, 0x10, &b);
    sb_free(&b);
}

void sb_publish(struct st_buf *out, const void *topic, size_t tlen, const void *payload,
                size_t plen, int qos, bool retain, uint16_t pid)
{
    struct st_buf b = {0};
    sb_str(&b, topic, tlen);
    if (qos > 0) sb_u16(&b, pid);
    sb_mem(&b, payload, plen);
    sb_packet(out, (uint8_t)(0x30 | (qos << 1) | (retain ? 1 : 0)), &b);
    sb_free(&b);
}

void sb_subscribe(struct st_buf *out, uint16_t pid, size_t n, const char *(*filter)(size_t, void *),
                  void *ctx, uint8_t qos)
{
    struct st_buf b = {0};
    sb_u16(&b, pid);
    for (size_t i = 0; i < n; i++) {
        const char *f = filter(i, ctx);
        sb_str(&b, f, strlen(f));
        sb_u8(&b, qos);
    }
    sb_packet(out, 0x82, &b);
    sb_free(&b);
}

int st_tcp(int port, int rcvbuf)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    return fd;
}

bool st_peer_open(struct st_peer *p, int port, int rcvbuf)
{
    void (*cb)(struct st_peer *, uint8_t, const uint8_t *, size_t) = p->on_packet;
    void *ctx = p->ctx;
    *p = (struct st_peer){.fd = -1, .connack_code = -1, .on_packet = cb, .ctx = ctx};
    p->fd = st_tcp(port, rcvbuf);
    return p->fd >= 0;
}

void st_peer_close(struct st_peer *p)
{
    if (p->fd >= 0) close(p->fd);
    p->fd = -1;
    free(p->in);
    p->in = NULL;
    p->in_len = p->in_cap = 0;
}

static void on_whole(struct st_peer *p, uint8_t first, const uint8_t *body, size_t len)
{
    int type = first >> 4;
    p->count[type]++;
    if (type == MQTT_CONNACK && len >= 2) {
        p->connack_code = body[1];
        p->session_present = body[0] & 1;
    }
    if (type == MQTT_SUBACK)
        for (size_t i = 2; i < len; i++)
            body[i] == 0x80 ? p->refused++ : p->granted++;
    if (p->on_packet) p->on_packet(p, first, body, len);
}

/* Frame the packets at the start of p->in; keep the incomplete rest. */
static void frame(struct st_peer *p)
{
    size_t off = 0;
    while (off < p->in_len) {
        size_t len = 0, k = 1;
        uint32_t mul = 1;
        for (; k < 5 && off + k < p->in_len; k++, mul <<= 7) {
            len += (size_t)(p->in[off + k] & 0x7f) * mul;
            if (!(p->in[off + k] & 0x80)) break;
        }
        if (k == 5 || off + k >= p->in_len) break; /* header incomplete (or bad: wait for EOF) */
        size_t total = k + 1 + len;
        if (total > KEEP_MAX) { /* count it and drop its bytes as they come */
            p->count[p->in[off] >> 4]++;
            size_t have = p->in_len - off;
            p->skip = total > have ? total - have : 0;
            off += total > have ? have : total;
            continue;
        }
        if (p->in_len - off < total) break;
        on_whole(p, p->in[off], p->in + off + k + 1, len);
        off += total;
    }
    memmove(p->in, p->in + off, p->in_len - off);
    p->in_len -= off;
}

bool st_peer_read(struct st_peer *p)
{
    if (p->fd < 0 || p->closed) return false;
    for (int i = 0; i < 64; i++) {
        if (p->in_cap - p->in_len < 65536) {
            p->in_cap = p->in_cap ? p->in_cap * 2 : 2 * KEEP_MAX;
            p->in = realloc(p->in, p->in_cap);
            if (p->in == NULL) abort();
        }
        ssize_t r = recv(p->fd, p->in + p->in_len, p->in_cap - p->in_len, 0);
        if (r < 0 && (errno == EAGAIN || errno == EINTR)) return true;
        if (r <= 0) {
            p->closed = true;
            return false;
        }
        size_t got = (size_t)r, drop = got < p->skip ? got : p->skip;
        p->skip -= drop;
        memmove(p->in + p->in_len, p->in + p->in_len + drop, got - drop);
        p->in_len += got - drop;
        frame(p);
    }
    return true;
}

static int wait_fd(int fd, short events, long deadline)
{
    long left = deadline - st_now_ms();
    if (left <= 0) return -2;
    struct pollfd pf = {.fd = fd, .events = events};
    int r = poll(&pf, 1, left > 100 ? 100 : (int)left);
    return r < 0 && errno != EINTR ? -1 : 0;
}

int st_peer_send(struct st_peer *p, const void *buf, size_t n, long deadline)
{
    size_t off = 0;
    while (off < n) {
        if (!st_peer_read(p)) return -1;
        ssize_t w = send(p->fd, (const uint8_t *)buf + off, n - off, MSG_NOSIGNAL);
        if (w > 0) {
            off += (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EINTR) return -1;
        if (wait_fd(p->fd, POLLIN | POLLOUT, deadline) == -2) return -2;
    }
    return 0;
}

int st_peer_wait(struct st_peer *p, int type, uint64_t n, long deadline)
{
    for (;;) {
        bool open = st_peer_read(p);
        if (p->count[type] >= n) return 0;
        if (!open) return -1;
        if (wait_fd(p->fd, POLLIN, deadline) == -2) return -2;
    }
}

int st_send_noread(int fd, const void *buf, size_t n, long deadline)
{
    size_t off = 0;
    while (off < n) {
        ssize_t w = send(fd, (const uint8_t *)buf + off, n - off, MSG_NOSIGNAL);
        if (w > 0) {
            off += (size_t)w;
            continue;
        }
        if (w < 0 && errno != EAGAIN && errno != EINTR) return -1;
        if (wait_fd(fd, POLLOUT, deadline) == -2) return -2;
    }
    return 0;
}
