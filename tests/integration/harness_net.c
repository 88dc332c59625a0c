/* Raw TCP for the integration tests: connect to 127.0.0.1, send all, receive
 * exactly n bytes with a deadline, and assert "closed" or "silent". */
#include "tests/integration/harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

void sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

int tcp_connect_port(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int one = 1;
    if (fd < 0) return -1;
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    return fd;
}

void send_bytes(int fd, const void *buf, size_t n)
{
    const uint8_t *p = buf;
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) fail_msg("send failed: %s", strerror(errno));
        p += w;
        n -= (size_t)w;
    }
}

int recv_exact(int fd, void *buf, size_t n, int timeout_ms)
{
    uint8_t *p = buf;
    long deadline = now_ms() + timeout_ms;
    while (n > 0) {
        long left = deadline - now_ms();
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (left <= 0) return -1;
        int pr = poll(&pfd, 1, (int)left);
        if (pr < 0 && errno == EINTR) continue;
        if (pr == 0) return -1;
        ssize_t r = recv(fd, p, n, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -2;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

void expect_bytes(int fd, const void *expected, size_t n, int timeout_ms)
{
    uint8_t got[256];
    assert_true(n <= sizeof got);
    int rc = recv_exact(fd, got, n, timeout_ms);
    if (rc == -1) fail_msg("timed out waiting for %zu bytes", n);
    if (rc == -2) fail_msg("connection closed while waiting for %zu bytes", n);
    assert_memory_equal(got, expected, n);
}

void expect_closed(int fd, int timeout_ms)
{
    uint8_t b;
    long deadline = now_ms() + timeout_ms;
    for (;;) {
        long left = deadline - now_ms();
        struct pollfd pfd = {.fd = fd, .events = POLLIN};
        if (left <= 0) fail_msg("connection still open after %d ms", timeout_ms);
        int pr = poll(&pfd, 1, (int)left);
        if (pr < 0 && errno == EINTR) continue;
        if (pr == 0) continue;
        ssize_t r = recv(fd, &b, 1, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r == 0 || (r < 0 && errno == ECONNRESET)) return;
        if (r > 0) fail_msg("expected close, got byte 0x%02x", b);
        fail_msg("recv: %s", strerror(errno));
    }
}

void expect_silence(int fd, int ms)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    long deadline = now_ms() + ms;
    for (long left = ms; left > 0; left = deadline - now_ms()) {
        int pr = poll(&pfd, 1, (int)left);
        if (pr < 0 && errno == EINTR) continue;
        if (pr == 0) return;
        uint8_t b;
        ssize_t r = recv(fd, &b, 1, MSG_PEEK);
        if (r > 0) fail_msg("expected silence, got byte 0x%02x", b);
        fail_msg("expected an open, silent connection; it was closed");
    }
}
