/* One benchmark client connection: a non-blocking TCP socket in a shared
 * level-triggered epoll set, a read buffer parsed packet by packet with
 * mqtt_next, and a write buffer that many packets fill before one write.
 * With TLS (bconn_start_tls) the same buffers go through one SSL: the
 * handshake runs after the TCP connect, and a flush writes the buffer as
 * records of up to 16 KiB, as many as the socket takes. */
#ifndef STARLING_BENCH_NET_H
#define STARLING_BENCH_NET_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/mqtt.h"
#include "tests/bench/tls.h"

enum bconn_state { BCONN_CONNECTING, BCONN_HANDSHAKE, BCONN_OPEN, BCONN_CLOSED };

struct bconn {
    int fd;
    enum bconn_state state;
    uint32_t events; /* the mask registered with epoll */
    uint8_t *rbuf, *wbuf;
    size_t rlen, rcap, woff, wlen, wcap;
    int index;        /* position in the scenario's own array */
    void *owner;      /* scenario state handed to the packet callback */
    struct btls *tls; /* NULL: plain TCP */
    SSL *ssl;
    size_t tls_wlen; /* length of an SSL_write to repeat after WANT_WRITE, 0 if none */
};

/* Called for every complete inbound packet; non-zero closes the connection. */
typedef int (*bconn_packet_fn)(struct bconn *c, const struct mqtt_packet *p);

/* Allocates the buffers and starts a non-blocking connect to dst, from src
 * when non-NULL (port chosen at connect time). Returns 0 or -errno. */
int bconn_open(struct bconn *c, int epfd, const struct sockaddr_in *dst,
               const struct sockaddr_in *src, size_t rcap, size_t wcap);
void bconn_close(struct bconn *c, int epfd);
/* Makes the connection TLS (right after bconn_open): the handshake starts
 * when the TCP connect completes. Returns 0, or -1 if no SSL could be made. */
int bconn_start_tls(struct bconn *c, struct btls *t);

/* Handles one epoll event: completes the connect (and TLS handshake), reads
 * and parses, flushes.
 * Returns -1 when the connection failed or was closed by the peer. */
int bconn_event(struct bconn *c, int epfd, uint32_t ev, bconn_packet_fn fn);

/* Free space at the end of the write buffer, compacting it first. */
size_t bconn_room(struct bconn *c);
/* Encodes p into the write buffer; false when it does not fit. */
bool bconn_put(struct bconn *c, const struct mqtt_packet *p);
/* Writes what is buffered (once; with TLS, record after record); waits for
 * EPOLLOUT if the socket is full. */
int bconn_flush(struct bconn *c, int epfd);

/* Numeric IPv4 address and port into sa; false if host is not numeric. */
bool bench_addr(struct sockaddr_in *sa, const char *host, int port);

#endif
