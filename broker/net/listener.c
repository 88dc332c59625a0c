#include "broker/net/listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/net/tls_ctx.h"

#define ACCEPTS_PER_EVENT 64

static int make_addr(const char *bind_addr, uint16_t port, struct sockaddr_storage *ss,
                     socklen_t *len)
{
    memset(ss, 0, sizeof(*ss));
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, bind_addr, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        *len = sizeof(*v4);
        return 0;
    }
    if (inet_pton(AF_INET6, bind_addr, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        *len = sizeof(*v6);
        return 0;
    }
    return -1;
}

static void format_addr(const struct sockaddr_storage *ss, char *out, size_t cap)
{
    char ip[INET6_ADDRSTRLEN] = "?";
    unsigned port = 0;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &v4->sin_addr, ip, sizeof(ip));
        port = ntohs(v4->sin_port);
        snprintf(out, cap, "%s:%u", ip, port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)ss;
        inet_ntop(AF_INET6, &v6->sin6_addr, ip, sizeof(ip));
        port = ntohs(v6->sin6_port);
        snprintf(out, cap, "[%s]:%u", ip, port);
    } else {
        snprintf(out, cap, "?");
    }
}

int listener_load_tls(struct broker *b, const struct listener *l, const struct listener_config *cfg,
                      struct tls_ctx **ctx)
{
    char err[CONFIG_ERR_MAX], name[96];
    if (l->name[0])
        snprintf(name, sizeof name, "%s", l->name);
    else
        snprintf(name, sizeof name, "%s port %u", cfg->bind, (unsigned)cfg->port);
    struct tls_ctx *next = tls_ctx_new(&cfg->tls, err, sizeof err);
    if (!next) {
        log_error(&b->log, "listener %s: TLS: %s", name, err);
        return -1;
    }
    if (next->warning[0]) log_warning(&b->log, "listener %s: TLS: %s", name, next->warning);
    tls_ctx_unref(*ctx);
    *ctx = next;
    return 0;
}

int listener_open(struct broker *b, struct listener *l, const struct listener_config *cfg)
{
    struct sockaddr_storage ss;
    socklen_t len;
    l->io.kind = IO_LISTENER;
    l->io.fd = -1;
    l->tls = NULL;
    if (make_addr(cfg->bind, cfg->port, &ss, &len) < 0) {
        log_error(&b->log, "listener %s: not a numeric IPv4 or IPv6 address", cfg->bind);
        return -1;
    }
    if (cfg->tls.enabled && listener_load_tls(b, l, cfg, &l->tls) < 0) return -1;
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) goto fail;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    /* "::" must not also claim IPv4, so "0.0.0.0" and "::" can both be listed. */
    if (ss.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, SOMAXCONN) < 0) goto fail;
    len = sizeof(ss);
    getsockname(fd, (struct sockaddr *)&ss, &len);
    format_addr(&ss, l->name, sizeof(l->name));
    l->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                            : ((struct sockaddr_in6 *)&ss)->sin6_port);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &l->io};
    if (epoll_ctl(b->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) goto fail;
    l->io.fd = fd;
    log_info(&b->log, "listening on %s%s", l->name, l->tls ? " (TLS)" : "");
    return 0;
fail:
    log_error(&b->log, "listener %s port %u: %s", cfg->bind, cfg->port, strerror(errno));
    if (fd >= 0) close(fd);
    tls_ctx_unref(l->tls);
    l->tls = NULL;
    return -1;
}

void listener_close(struct broker *b, struct listener *l)
{
    tls_ctx_unref(l->tls); /* connections hold their own references */
    l->tls = NULL;
    if (l->io.fd < 0) return;
    epoll_ctl(b->epfd, EPOLL_CTL_DEL, l->io.fd, NULL);
    close(l->io.fd);
    l->io.fd = -1;
}

void listeners_pause(struct broker *b, unsigned ms)
{
    if (!b->accept_paused)
        for (size_t i = 0; i < b->n_listeners; i++)
            epoll_ctl(b->epfd, EPOLL_CTL_DEL, b->listeners[i].io.fd, NULL);
    b->accept_paused = true;
    b->accept_resume_ms = b->now_ms + ms;
}

void listeners_maybe_resume(struct broker *b)
{
    if (!b->accept_paused || b->now_ms < b->accept_resume_ms) return;
    for (size_t i = 0; i < b->n_listeners; i++) {
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &b->listeners[i].io};
        epoll_ctl(b->epfd, EPOLL_CTL_ADD, b->listeners[i].io.fd, &ev);
    }
    b->accept_paused = false;
}

/* Logged at most once a second: a flood of refusals must not flood the log. */
static void refuse(struct broker *b, int fd, const char *why)
{
    close(fd);
    if (b->now_ms - b->last_refuse_log_ms >= 1000) {
        log_warning(&b->log, "connection refused: %s (%zu connections)", why, b->n_conns);
        b->last_refuse_log_ms = b->now_ms;
    }
}

void listener_accept(struct broker *b, struct listener *l)
{
    for (int i = 0; i < ACCEPTS_PER_EVENT; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof(ss);
        int fd = accept4(l->io.fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) return;
            if (errno == EINTR || errno == ECONNABORTED) continue;
            b->stats.accept_errors++;
            log_warning(&b->log, "accept on %s: %s; pausing new connections for 1 s", l->name,
                        strerror(errno));
            listeners_pause(b, 1000); /* EMFILE and friends: let closes free some */
            return;
        }
        if (b->n_conns >= b->cfg.limits.max_connections) {
            b->stats.refused_max_connections++;
            refuse(b, fd, "limits.max_connections reached");
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        char addr[56];
        format_addr(&ss, addr, sizeof(addr));
        struct transport tr = transport_tcp();
        uint64_t unauth = b->cfg.limits.max_unauthenticated_bytes;
        if (l->tls && unauth && b->unauth_in_bytes + transport_tls_mem() > unauth) {
            b->stats.refused_unauthenticated_bytes++;
            refuse(b, fd,
                   "TLS handshakes and connections without CONNECT hold "
                   "limits.max_unauthenticated_bytes");
            continue;
        }
        if (l->tls && transport_tls(&tr, l->tls, fd) < 0) {
            refuse(b, fd, "out of memory (TLS session)");
            continue;
        }
        struct conn *c = conn_new_over(b, fd, addr, tr);
        if (!c) {
            refuse(b, fd, "out of memory");
            continue;
        }
        b->stats.connections_total++;
        log_debug(&b->log, "new connection from %s on %s", addr, l->name);
    }
}
