/* The TLS transport: one mbedtls server session per connection, on the
 * non-blocking socket. The handshake is stepped by the event loop
 * (WANT_READ / WANT_WRITE); reads fill the caller's buffer from as many
 * records as are there; writes pack the output queue into full records
 * (one record per small packet would cost a MAC and a header each), and a
 * write that blocked is retried with the same length, as mbedtls requires.
 *
 * Memory per connection: mbedtls_ssl_setup allocates its input and output
 * record buffers (about 16.7 KiB each with this mbedtls) at accept, plus
 * the context (about 0.5 KiB) and, once established, the session keys
 * (about 1.5 KiB); the handshake state is freed by mbedtls when the
 * handshake ends. Buffer pages never written are not resident, so an idle
 * connection costs the few pages its records touched. While input
 * arrives, up to TLS_READ_AHEAD bytes read ahead are held too, freed as
 * soon as mbedtls has taken them. The number of connections is bounded by
 * limits.max_connections. */
#include <errno.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/oid.h>
#include <mbedtls/version.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker/net/tls_ctx.h"

/* The largest plaintext one record carries. */
#define TLS_RECORD_MAX 16384
/* Socket bytes read at once: a whole record of the largest size (header,
 * explicit IV, tag). mbedtls asks for a record's header, then its body:
 * two reads per record, or two per PUBLISH from a client that sends each
 * in its own record; reading ahead makes that one read per burst. */
#define TLS_READ_AHEAD (TLS_RECORD_MAX + 512)

struct tls_session {
    mbedtls_ssl_context ssl;
    struct tls_ctx *ctx; /* a reference: the configuration this session started with */
    int fd;
    int last_err;       /* mbedtls error of the last failure, 0 for a socket error */
    int sock_errno;     /* errno of the last socket failure */
    int read_end;       /* read hit EOF (1) or an error (<0) after returning bytes */
    uint32_t verify;    /* client certificate verification flags at a failure */
    size_t write_retry; /* length of a record mbedtls holds half-sent, 0 if none */
    char *cn;           /* the client certificate's subject CN, if use_identity */
    /* Socket bytes read ahead and not yet taken by mbedtls; allocated
     * while there are some, so idle connections hold none. */
    unsigned char *ahead;
    uint32_t ahead_off, ahead_len;
    bool established, no_cn;
};

static int bio_send(void *p, const unsigned char *buf, size_t len)
{
    struct tls_session *s = p;
    ssize_t n;
    do
        n = send(s->fd, buf, len, MSG_NOSIGNAL);
    while (n < 0 && errno == EINTR);
    if (n >= 0) return (int)n;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return MBEDTLS_ERR_SSL_WANT_WRITE;
    s->sock_errno = errno;
    return MBEDTLS_ERR_NET_SEND_FAILED;
}

static int socket_read(struct tls_session *s, unsigned char *buf, size_t len)
{
    ssize_t n;
    do
        n = read(s->fd, buf, len);
    while (n < 0 && errno == EINTR);
    if (n >= 0) return (int)n; /* 0: EOF, mbedtls reports MBEDTLS_ERR_SSL_CONN_EOF */
    if (errno == EAGAIN || errno == EWOULDBLOCK) return MBEDTLS_ERR_SSL_WANT_READ;
    s->sock_errno = errno;
    return MBEDTLS_ERR_NET_RECV_FAILED;
}

/* Release the read-ahead buffer once mbedtls has taken all of it. */
static void ahead_release(struct tls_session *s)
{
    if (s->ahead && s->ahead_off == s->ahead_len) {
        free(s->ahead);
        s->ahead = NULL;
        s->ahead_off = s->ahead_len = 0;
    }
}

static int bio_recv(void *p, unsigned char *buf, size_t len)
{
    struct tls_session *s = p;
    if (!s->ahead) {
        s->ahead = malloc(TLS_READ_AHEAD);
        if (!s->ahead) return socket_read(s, buf, len); /* no memory: unbuffered */
        int n = socket_read(s, s->ahead, TLS_READ_AHEAD);
        if (n <= 0) {
            free(s->ahead);
            s->ahead = NULL;
            return n;
        }
        s->ahead_len = (uint32_t)n;
    }
    size_t avail = s->ahead_len - s->ahead_off;
    size_t take = len < avail ? len : avail;
    memcpy(buf, s->ahead + s->ahead_off, take);
    s->ahead_off += (uint32_t)take;
    ahead_release(s);
    return (int)take;
}

/* Sets errno for the caller from an mbedtls result; returns -1. */
static ssize_t failed(struct tls_session *s, int rc)
{
    if (rc == MBEDTLS_ERR_NET_SEND_FAILED || rc == MBEDTLS_ERR_NET_RECV_FAILED) {
        s->last_err = 0;
        errno = s->sock_errno;
    } else {
        s->last_err = rc;
        errno = EPROTO;
    }
    return -1;
}

static bool is_eof(int rc)
{
    return rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY || rc == MBEDTLS_ERR_SSL_CONN_EOF;
}

static ssize_t tls_read(struct transport *t, int fd, void *buf, size_t len)
{
    (void)fd;
    struct tls_session *s = t->state;
    size_t got = 0;
    int end = s->read_end;
    while (!end && got < len) {
        int r = mbedtls_ssl_read(&s->ssl, (unsigned char *)buf + got, len - got);
        if (r > 0)
            got += (size_t)r;
        else if (r == MBEDTLS_ERR_SSL_WANT_READ || r == MBEDTLS_ERR_SSL_WANT_WRITE)
            break; /* the socket is drained */
        else
            end = is_eof(r) ? 1 : r;
    }
    if (got) {
        s->read_end = end; /* reported by the next read; pending() asks for it */
        return (ssize_t)got;
    }
    s->read_end = 0;
    if (end == 1) return 0;
    if (end) return failed(s, end);
    errno = EAGAIN;
    return -1;
}

/* Up to max bytes of iov, contiguous: the first iovec itself when it is
 * long enough (no copy), else gathered into rec. */
static const unsigned char *gather(const struct iovec *iov, int iovcnt, size_t max,
                                   unsigned char *rec, size_t *len)
{
    if (iovcnt == 1 || iov[0].iov_len >= max) {
        *len = iov[0].iov_len < max ? iov[0].iov_len : max;
        return iov[0].iov_base;
    }
    size_t n = 0;
    for (int i = 0; i < iovcnt && n < max; i++) {
        size_t take = iov[i].iov_len < max - n ? iov[i].iov_len : max - n;
        memcpy(rec + n, iov[i].iov_base, take);
        n += take;
    }
    *len = n;
    return rec;
}

static ssize_t tls_writev(struct transport *t, int fd, const struct iovec *iov, int iovcnt)
{
    (void)fd;
    struct tls_session *s = t->state;
    unsigned char rec[TLS_RECORD_MAX];
    int maxp = mbedtls_ssl_get_max_out_record_payload(&s->ssl);
    size_t max = maxp > 0 && (size_t)maxp < sizeof rec ? (size_t)maxp : sizeof rec;
    /* A record that blocked half-sent lives in mbedtls: the same length
     * must be asked again (the bytes are the queue's unchanged head). */
    if (s->write_retry) max = s->write_retry;
    size_t len;
    const unsigned char *buf = gather(iov, iovcnt, max, rec, &len);
    int r = mbedtls_ssl_write(&s->ssl, buf, len);
    if (r == MBEDTLS_ERR_SSL_WANT_WRITE || r == MBEDTLS_ERR_SSL_WANT_READ) {
        s->write_retry = len;
        errno = EAGAIN;
        return -1;
    }
    s->write_retry = 0;
    if (r < 0) return failed(s, r);
    return r;
}

/* The subject's first CN, copied; NULL if there is none (or no memory:
 * *oom). A CN holding a NUL byte is none: as a C string "admin\0.evil"
 * would read as "admin", a user name the CA never vouched for. */
static char *subject_cn(const mbedtls_x509_crt *crt, bool *oom)
{
    *oom = false;
    for (const mbedtls_x509_name *n = crt ? &crt->subject : NULL; n; n = n->next) {
        if (MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) != 0 || n->val.len == 0) continue;
        if (memchr(n->val.p, '\0', n->val.len)) return NULL;
        char *cn = malloc(n->val.len + 1);
        if (!cn) {
            *oom = true;
            return NULL;
        }
        memcpy(cn, n->val.p, n->val.len);
        cn[n->val.len] = '\0';
        return cn;
    }
    return NULL;
}

#if MBEDTLS_VERSION_MAJOR < 3
/* Give back the pages of buf[keep..len) that lie wholly inside it: they
 * read as zeros when next touched, which is all their content means to
 * mbedtls once no record is in them. */
static void drop_pages(unsigned char *buf, size_t keep, size_t len)
{
    uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
    uintptr_t from = ((uintptr_t)buf + keep + page - 1) & ~(page - 1);
    uintptr_t to = ((uintptr_t)buf + len) & ~(page - 1);
    if (to > from) madvise((void *)from, to - from, MADV_DONTNEED);
}

/* mbedtls callocs both record buffers whole (about 16.7 KiB each), and
 * calloc's memset makes every page resident, though an idle connection's
 * records (PINGREQ, acks) use the first few hundred bytes. Once the
 * handshake is over and nothing is buffered, the rest is returned to the
 * kernel. The first 256 bytes (sequence counters, record headers, a small
 * record) are kept. */
static void trim_buffers(mbedtls_ssl_context *ssl)
{
    if (ssl->in_left || ssl->out_left || mbedtls_ssl_get_bytes_avail(ssl)) return;
    drop_pages(ssl->in_buf, 256, MBEDTLS_SSL_IN_CONTENT_LEN); /* the buffers are longer */
    drop_pages(ssl->out_buf, 256, MBEDTLS_SSL_OUT_CONTENT_LEN);
}
#else
static void trim_buffers(mbedtls_ssl_context *ssl)
{
    (void)ssl; /* 3.x: private fields; MBEDTLS_SSL_VARIABLE_BUFFER_LENGTH does it */
}
#endif

static enum transport_step tls_handshake(struct transport *t, int fd)
{
    (void)fd;
    struct tls_session *s = t->state;
    int r = mbedtls_ssl_handshake(&s->ssl);
    if (r == MBEDTLS_ERR_SSL_WANT_READ) return TRANSPORT_WANT_READ;
    if (r == MBEDTLS_ERR_SSL_WANT_WRITE) return TRANSPORT_WANT_WRITE;
    if (r != 0) {
        s->verify = mbedtls_ssl_get_verify_result(&s->ssl);
        failed(s, r);
        return TRANSPORT_FAILED;
    }
    s->established = true;
    trim_buffers(&s->ssl);
    if (s->ctx->use_identity) {
        bool oom;
        s->cn = subject_cn(mbedtls_ssl_get_peer_cert(&s->ssl), &oom);
        if (oom) {
            failed(s, MBEDTLS_ERR_SSL_ALLOC_FAILED);
            return TRANSPORT_FAILED;
        }
        s->no_cn = s->cn == NULL;
    }
    return TRANSPORT_DONE;
}

static bool tls_pending(const struct transport *t)
{
    const struct tls_session *s = t->state;
    return s->read_end || s->ahead || mbedtls_ssl_get_bytes_avail(&s->ssl) > 0 ||
           mbedtls_ssl_check_pending(&s->ssl);
}

static const char *tls_error(const struct transport *t, int err, char *buf, size_t cap)
{
    const struct tls_session *s = t->state;
    if (!s || s->last_err == 0) return strerror(err);
    if (s->last_err == MBEDTLS_ERR_SSL_ALLOC_FAILED) return "out of memory";
    mbedtls_strerror(s->last_err, buf, cap);
    size_t n = strlen(buf);
    if (s->verify && s->verify != (uint32_t)-1 && n + 3 < cap) {
        memcpy(buf + n, ": ", 2);
        /* one line for the log: the flags' descriptions end in '\n' */
        mbedtls_x509_crt_verify_info(buf + n + 2, cap - n - 2, "", s->verify);
        for (char *c = buf + n; *c; c++)
            if (*c == '\n') *c = c[1] ? ';' : '\0';
    }
    return buf;
}

static int tls_identity(const struct transport *t, const char **name)
{
    const struct tls_session *s = t->state;
    if (!s->ctx->use_identity) return 0;
    *name = s->cn;
    return s->cn ? 1 : -1;
}

static void tls_close(struct transport *t, int fd)
{
    struct tls_session *s = t->state;
    if (!s) return;
    if (fd >= 0 && s->established && !s->write_retry)
        mbedtls_ssl_close_notify(&s->ssl); /* best effort: one try, never waits */
    mbedtls_ssl_free(&s->ssl);
    free(s->ahead);
    free(s->cn);
    tls_ctx_unref(s->ctx);
    free(s);
    t->state = NULL;
}

static const struct transport_ops tls_ops = {
    .read = tls_read,
    .writev = tls_writev,
    .handshake = tls_handshake,
    .pending = tls_pending,
    .error = tls_error,
    .identity = tls_identity,
    .close = tls_close,
};

size_t transport_tls_mem(void)
{
    /* The context and both record buffers (content, header, IV and tag). */
    return sizeof(struct tls_session) + MBEDTLS_SSL_IN_CONTENT_LEN + MBEDTLS_SSL_OUT_CONTENT_LEN +
           2 * 512;
}

int transport_tls(struct transport *t, struct tls_ctx *ctx, int fd)
{
    struct tls_session *s = calloc(1, sizeof *s);
    if (!s) return -1;
    mbedtls_ssl_init(&s->ssl);
    if (mbedtls_ssl_setup(&s->ssl, &ctx->conf) != 0) {
        mbedtls_ssl_free(&s->ssl);
        free(s);
        return -1;
    }
    s->fd = fd;
    s->ctx = tls_ctx_ref(ctx);
    mbedtls_ssl_set_bio(&s->ssl, s, bio_send, bio_recv, NULL);
    *t = (struct transport){&tls_ops, s, (uint32_t)transport_tls_mem()};
    return 0;
}
