/* Non-blocking client sockets for the load generator (net.h). */
#include "tests/bench/net.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

bool bench_addr(struct sockaddr_in *sa, const char *host, int port)
{
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons((uint16_t)port);
    return inet_pton(AF_INET, host, &sa->sin_addr) == 1;
}

static int set_events(struct bconn *c, int epfd, uint32_t events)
{
    if (c->events == events) return 0;
    struct epoll_event ev = {.events = events, .data.ptr = c};
    int op = c->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
    if (epoll_ctl(epfd, op, c->fd, &ev) < 0) return -1;
    c->events = events;
    return 0;
}

/* IP_BIND_ADDRESS_NO_PORT lets the kernel pick the source port at connect
 * time by the full 4-tuple, so each source address gives ~28k connections. */
static int bind_source(int fd, const struct sockaddr_in *src)
{
    int one = 1;
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    return bind(fd, (const struct sockaddr *)src, sizeof *src);
}

int bconn_open(struct bconn *c, int epfd, const struct sockaddr_in *dst,
               const struct sockaddr_in *src, size_t rcap, size_t wcap)
{
    c->fd = -1;
    c->tls = NULL;
    c->ssl = NULL;
    c->tls_wlen = 0;
    c->rbuf = malloc(rcap + wcap);
    if (!c->rbuf) return -ENOMEM;
    c->wbuf = c->rbuf + rcap;
    c->rcap = rcap;
    c->wcap = wcap;
    c->rlen = c->woff = c->wlen = 0;
    c->events = 0;
    c->state = BCONN_CLOSED;
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0) return -errno;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (src && bind_source(c->fd, src) < 0) goto fail;
    if (connect(c->fd, (const struct sockaddr *)dst, sizeof *dst) < 0 && errno != EINPROGRESS)
        goto fail;
    c->state = BCONN_CONNECTING;
    if (set_events(c, epfd, EPOLLIN | EPOLLOUT) < 0) goto fail;
    return 0;
fail:;
    int err = errno;
    close(c->fd);
    c->fd = -1;
    return -err;
}

int bconn_start_tls(struct bconn *c, struct btls *t)
{
    c->tls = t;
    c->ssl = btls_ssl(t, c->fd);
    return c->ssl ? 0 : -1;
}

void bconn_close(struct bconn *c, int epfd)
{
    /* close_notify, once and without waiting, so the broker sees an
     * orderly end rather than a truncated stream. */
    if (c->ssl && c->state == BCONN_OPEN) SSL_shutdown(c->ssl);
    SSL_free(c->ssl);
    c->ssl = NULL;
    if (c->fd >= 0) {
        epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    c->fd = -1;
    c->state = BCONN_CLOSED;
    free(c->rbuf);
    c->rbuf = c->wbuf = NULL;
}

size_t bconn_room(struct bconn *c)
{
    if (c->woff == c->wlen) {
        c->woff = c->wlen = 0;
    } else if (c->woff > c->wcap / 2) {
        memmove(c->wbuf, c->wbuf + c->woff, c->wlen - c->woff);
        c->wlen -= c->woff;
        c->woff = 0;
    }
    return c->wcap - c->wlen;
}

bool bconn_put(struct bconn *c, const struct mqtt_packet *p)
{
    size_t n = mqtt_encode(p, c->wbuf + c->wlen, bconn_room(c));
    c->wlen += n;
    return n > 0;
}

/* After a fatal error or the peer's close nothing more may be sent, not
 * even the close_notify of bconn_close. Returns -1. */
static int tls_dead(struct bconn *c)
{
    SSL_set_quiet_shutdown(c->ssl, 1);
    return -1;
}

/* One SSL_write per record of up to 16 KiB, so many small packets travel in
 * few records; after WANT_WRITE the same length is written again (OpenSSL
 * requires the retry to repeat the call; the buffer itself may have moved). */
static int tls_flush(struct bconn *c)
{
    for (int i = 0; i < 64 && c->wlen > c->woff; i++) {
        size_t left = c->wlen - c->woff;
        size_t n = c->tls_wlen ? c->tls_wlen : (left < 16384 ? left : 16384);
        int rc = SSL_write(c->ssl, c->wbuf + c->woff, (int)n);
        if (rc > 0) {
            c->woff += (size_t)rc;
            c->tls_wlen = 0;
            continue;
        }
        int e = SSL_get_error(c->ssl, rc);
        if (e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_READ) return tls_dead(c);
        c->tls_wlen = n;
        return 0;
    }
    return 0;
}

int bconn_flush(struct bconn *c, int epfd)
{
    if (c->state != BCONN_OPEN) return 0;
    if (c->ssl) {
        if (tls_flush(c) < 0) return -1;
    } else if (c->wlen > c->woff) {
        ssize_t n = write(c->fd, c->wbuf + c->woff, c->wlen - c->woff);
        if (n < 0 && errno != EAGAIN && errno != EINTR) return -1;
        if (n > 0) c->woff += (size_t)n;
    }
    bool pending = c->wlen > c->woff;
    return set_events(c, epfd, EPOLLIN | (pending ? EPOLLOUT : 0));
}

/* Parses every complete packet in the read buffer, keeps the partial tail. */
static int parse(struct bconn *c, bconn_packet_fn fn)
{
    size_t off = 0;
    while (off < c->rlen && c->state == BCONN_OPEN) {
        struct mqtt_packet p;
        size_t used;
        enum mqtt_err e = mqtt_next(c->rbuf + off, c->rlen - off, c->rcap, &p, &used);
        if (e == MQTT_ERR_INCOMPLETE) break;
        if (e != MQTT_OK || fn(c, &p) != 0) return -1;
        off += used;
    }
    memmove(c->rbuf, c->rbuf + off, c->rlen - off);
    c->rlen -= off;
    return 0;
}

/* Reads a bounded number of times so one busy socket cannot starve others. */
static int read_some(struct bconn *c, bconn_packet_fn fn)
{
    for (int i = 0; i < 8 && c->state == BCONN_OPEN; i++) {
        ssize_t n = read(c->fd, c->rbuf + c->rlen, c->rcap - c->rlen);
        if (n == 0) return -1;
        if (n < 0) return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
        c->rlen += (size_t)n;
        bool full = c->rlen == c->rcap;
        if (parse(c, fn) < 0) return -1;
        if (!full && c->rlen < c->rcap) return 0;
    }
    return 0;
}

/* With read-ahead (tls.c) one read takes as many records from the socket as
 * fit in OpenSSL's buffer, so a broker that sends one small record per
 * packet does not cost the generator two reads per packet. What OpenSSL
 * holds (SSL_has_pending) is invisible to epoll, so it is always drained
 * before returning. */
static int tls_read_some(struct bconn *c, bconn_packet_fn fn)
{
    for (int i = 0; (i < 64 || SSL_has_pending(c->ssl)) && c->state == BCONN_OPEN; i++) {
        if (c->rlen == c->rcap) return -1; /* a packet larger than the buffer */
        int n = SSL_read(c->ssl, c->rbuf + c->rlen, (int)(c->rcap - c->rlen));
        if (n <= 0) {
            int e = SSL_get_error(c->ssl, n);
            return e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE ? 0 : tls_dead(c);
        }
        c->rlen += (size_t)n;
        if (parse(c, fn) < 0) return -1;
    }
    return 0;
}

/* 1 when the handshake is complete, 0 while it waits for the socket. */
static int tls_handshake(struct bconn *c, int epfd)
{
    int rc = SSL_do_handshake(c->ssl);
    if (rc == 1) {
        btls_done(c->tls, c->ssl);
        c->state = BCONN_OPEN;
        return 1;
    }
    int e = SSL_get_error(c->ssl, rc);
    if (e == SSL_ERROR_WANT_READ) return set_events(c, epfd, EPOLLIN);
    if (e == SSL_ERROR_WANT_WRITE) return set_events(c, epfd, EPOLLIN | EPOLLOUT);
    btls_failed(c->tls, c->ssl, rc);
    return -1;
}

static int finish_connect(struct bconn *c)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) return -1;
    c->state = c->ssl ? BCONN_HANDSHAKE : BCONN_OPEN;
    return 0;
}

int bconn_event(struct bconn *c, int epfd, uint32_t ev, bconn_packet_fn fn)
{
    if (c->state == BCONN_CLOSED) return -1;
    if (c->state == BCONN_CONNECTING) {
        if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return 0;
        if (finish_connect(c) < 0) return -1;
    }
    if (c->state == BCONN_HANDSHAKE) {
        int rc = tls_handshake(c, epfd);
        if (rc <= 0) return rc;
        ev |= EPOLLIN; /* application data may have come with the last flight */
    }
    if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) {
        int rc = c->ssl ? tls_read_some(c, fn) : read_some(c, fn);
        if (rc < 0) return -1;
    }
    return bconn_flush(c, epfd);
}
