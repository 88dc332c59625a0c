/* TCP and TLS listeners (IPv4 and IPv6) and accepting clients onto
 * connections, within limits.max_connections and the process's file
 * descriptor limit. A TLS listener's connections get the TLS transport
 * with the listener's configuration of the moment. */
#ifndef STARLING_BROKER_LISTENER_H
#define STARLING_BROKER_LISTENER_H

struct broker;
struct listener;
struct listener_config;
struct tls_ctx;

/* Load cfg's TLS files into *ctx (replacing and releasing the old one).
 * -1, logged with the listener, file and reason, leaves *ctx as it was;
 * warnings (an expired certificate) are logged too. */
int listener_load_tls(struct broker *b, const struct listener *l, const struct listener_config *cfg,
                      struct tls_ctx **ctx);

/* Bind and listen; logs and returns -1 on failure. */
int listener_open(struct broker *b, struct listener *l, const struct listener_config *cfg);
void listener_close(struct broker *b, struct listener *l);
void listener_accept(struct broker *b, struct listener *l);

/* Stop / resume polling the listeners (out of file descriptors). */
void listeners_pause(struct broker *b, unsigned ms);
void listeners_maybe_resume(struct broker *b);

#endif
