/* The plain TCP transport: the socket calls themselves, nothing more, so
 * the TCP path costs exactly what it did before transports existed. */
#include "broker/net/transport.h"

#include <errno.h>
#include <string.h>
#include <unistd.h>

static ssize_t tcp_read(struct transport *t, int fd, void *buf, size_t len)
{
    (void)t;
    ssize_t n;
    do
        n = read(fd, buf, len);
    while (n < 0 && errno == EINTR);
    return n;
}

static ssize_t tcp_writev(struct transport *t, int fd, const struct iovec *iov, int iovcnt)
{
    (void)t;
    return writev(fd, iov, iovcnt);
}

static const char *tcp_error(const struct transport *t, int err, char *buf, size_t cap)
{
    (void)t;
    (void)buf;
    (void)cap;
    return strerror(err);
}

static const struct transport_ops tcp_ops = {
    .read = tcp_read,
    .writev = tcp_writev,
    .error = tcp_error,
};

struct transport transport_tcp(void)
{
    return (struct transport){&tcp_ops, NULL, 0};
}
