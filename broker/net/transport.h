/* How a connection's bytes reach its socket: plain TCP, or TLS over it
 * (WebSocket framing can stack on either later). conn_* use only these
 * calls, so nothing above the transport knows which one a connection has.
 * read and writev follow read(2)/writev(2): bytes moved, 0 at EOF (read),
 * or -1 with errno set (EAGAIN: retry when epoll says the socket is ready;
 * writev must then be retried with at least the same bytes first, as
 * outq's unchanged head guarantees). A transport never closes the fd. */
#ifndef STARLING_BROKER_TRANSPORT_H
#define STARLING_BROKER_TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

enum transport_step {
    TRANSPORT_DONE,       /* handshake complete: read and write may be used */
    TRANSPORT_WANT_READ,  /* call handshake again once the socket is readable */
    TRANSPORT_WANT_WRITE, /* ... once it is writable */
    TRANSPORT_FAILED,     /* give up: transport_error says why */
};

struct transport;

struct transport_ops {
    ssize_t (*read)(struct transport *t, int fd, void *buf, size_t len);
    ssize_t (*writev)(struct transport *t, int fd, const struct iovec *iov, int iovcnt);
    /* NULL: no handshake (TCP). */
    enum transport_step (*handshake)(struct transport *t, int fd);
    /* Input already taken from the socket but not yet returned by read:
     * epoll will not report it, so the owner must read again unasked. */
    bool (*pending)(const struct transport *t);
    /* Why the last call failed; err is the errno it left. The text may be
     * written into buf. */
    const char *(*error)(const struct transport *t, int err, char *buf, size_t cap);
    /* The authenticated peer name for the user name (TLS client
     * certificate CN): 0 none asked for, 1 *name set, -1 asked for but the
     * peer has none. */
    int (*identity)(const struct transport *t, const char **name);
    /* Say goodbye if the protocol has one (best effort), free the state. */
    void (*close)(struct transport *t, int fd);
};

struct transport {
    const struct transport_ops *ops;
    void *state; /* the implementation's, e.g. a TLS session; NULL for TCP */
    /* Memory the state holds whatever the traffic (a TLS session's record
     * buffers), counted against the budget of clients without CONNECT. */
    uint32_t mem;
};

/* Plain TCP: read(2) and writev(2) straight on the socket. */
struct transport transport_tcp(void);

static inline ssize_t transport_read(struct transport *t, int fd, void *buf, size_t len)
{
    return t->ops->read(t, fd, buf, len);
}

static inline ssize_t transport_writev(struct transport *t, int fd, const struct iovec *iov,
                                       int iovcnt)
{
    return t->ops->writev(t, fd, iov, iovcnt);
}

static inline enum transport_step transport_handshake(struct transport *t, int fd)
{
    return t->ops->handshake ? t->ops->handshake(t, fd) : TRANSPORT_DONE;
}

static inline bool transport_pending(const struct transport *t)
{
    return t->ops->pending && t->ops->pending(t);
}

#define TRANSPORT_ERR_MAX 200

static inline const char *transport_error(const struct transport *t, int err, char *buf, size_t cap)
{
    return t->ops->error(t, err, buf, cap);
}

static inline int transport_identity(const struct transport *t, const char **name)
{
    return t->ops->identity ? t->ops->identity(t, name) : 0;
}

static inline void transport_close(struct transport *t, int fd)
{
    if (t->ops && t->ops->close) t->ops->close(t, fd);
}

#endif
