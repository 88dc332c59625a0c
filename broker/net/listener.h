/* TCP listeners (IPv4 and IPv6) and accepting clients onto connections,
 * within limits.max_connections and the process's file descriptor limit. */
#ifndef STARLING_BROKER_LISTENER_H
#define STARLING_BROKER_LISTENER_H

struct broker;
struct listener;
struct listener_config;

/* Bind and listen; logs and returns -1 on failure. */
int listener_open(struct broker *b, struct listener *l, const struct listener_config *cfg);
void listener_close(struct broker *b, struct listener *l);
void listener_accept(struct broker *b, struct listener *l);

/* Stop / resume polling the listeners (out of file descriptors). */
void listeners_pause(struct broker *b, unsigned ms);
void listeners_maybe_resume(struct broker *b);

#endif
