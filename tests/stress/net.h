/* Client side of the stress attacks: non-blocking loopback sockets, MQTT
 * packets built into growable buffers, and a reader that frames whatever
 * the broker sends and counts it by type. Every wait takes a deadline
 * (ms on the CLOCK_MONOTONIC clock of st_now_ms); nothing here asserts. */
#ifndef STARLING_TESTS_STRESS_NET_H
#define STARLING_TESTS_STRESS_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

long st_now_ms(void);
long st_now_us(void);
void st_sleep_ms(long ms);

/* A growable byte buffer for packets (aborts on OOM: this is a test tool). */
struct st_buf {
    uint8_t *d;
    size_t n, cap;
};
void sb_free(struct st_buf *b);
void sb_mem(struct st_buf *b, const void *p, size_t n);
void sb_u8(struct st_buf *b, uint8_t v);
void sb_u16(struct st_buf *b, uint16_t v);
void sb_str(struct st_buf *b, const void *s, size_t n); /* length-prefixed */
/* Append one packet: first byte, remaining length, body. */
void sb_packet(struct st_buf *out, uint8_t first, const struct st_buf *body);
void sb_connect(struct st_buf *out, const char *client_id, bool clean, uint16_t keepalive);
void sb_publish(struct st_buf *out, const void *topic, size_t tlen, const void *payload,
                size_t plen, int qos, bool retain, uint16_t pid);
/* SUBSCRIBE of n filters produced by filter(i, ctx) (NUL-terminated). */
void sb_subscribe(struct st_buf *out, uint16_t pid, size_t n, const char *(*filter)(size_t, void *),
                  void *ctx, uint8_t qos);

/* What one connection has received, framed. */
struct st_peer {
    int fd;      /* -1 once closed */
    bool closed; /* the broker closed it (EOF/reset) */
    uint8_t *in;
    size_t in_len, in_cap;
    size_t skip;          /* bytes still to drop of a packet too large to keep */
    uint64_t count[16];   /* packets received by type */
    uint64_t granted;     /* SUBACK return codes other than 0x80 */
    uint64_t refused;     /* SUBACK return codes 0x80 */
    int connack_code;     /* -1 before CONNACK */
    bool session_present; /* of the CONNACK */
    /* Called for every packet kept whole (first byte, body, body length). */
    void (*on_packet)(struct st_peer *p, uint8_t first, const uint8_t *body, size_t len);
    void *ctx;
};

/* A loopback TCP connection (rcvbuf > 0: SO_RCVBUF set before connect),
 * non-blocking, TCP_NODELAY. -1 on failure. */
int st_tcp(int port, int rcvbuf);
/* st_tcp into a peer; false on failure. */
bool st_peer_open(struct st_peer *p, int port, int rcvbuf);
void st_peer_close(struct st_peer *p);
/* Read what is available now (does not block). False once closed. */
bool st_peer_read(struct st_peer *p);
/* Write all of buf, reading (and framing) replies meanwhile so the broker is
 * never blocked on us. 0 when written, -1 closed, -2 deadline passed. */
int st_peer_send(struct st_peer *p, const void *buf, size_t n, long deadline);
/* Read until count[type] >= n. 0, -1 closed, -2 deadline. */
int st_peer_wait(struct st_peer *p, int type, uint64_t n, long deadline);
/* Write without reading (the attacker that never reads). Same returns. */
int st_send_noread(int fd, const void *buf, size_t n, long deadline);

#endif
