/* A TLS listener's configuration, loaded from its files: certificate,
 * key, client CAs, the cipher policy, session-ticket keys. Reference
 * counted: the listener holds one reference and each connection accepted
 * on it another, so a SIGHUP can put a new certificate on the listener
 * while connections keep the one they started with. The struct is shared
 * by tls_ctx.c (loading) and transport_tls.c (sessions) only. */
#ifndef STARLING_BROKER_TLS_CTX_H
#define STARLING_BROKER_TLS_CTX_H

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ticket.h>
#include <mbedtls/x509_crt.h>
#include <stdbool.h>
#include <stddef.h>

#include "broker/net/transport.h"
#include "config/config.h"

/* Resumption tickets are valid this long; their key changes as often. */
#define TLS_TICKET_LIFETIME_S 86400

struct tls_ctx {
    unsigned refs;
    bool use_identity; /* tls.use_identity_as_username */
    mbedtls_ssl_config conf;
    mbedtls_x509_crt cert, ca;
    mbedtls_pk_context key;
    mbedtls_entropy_context entropy;
    mbedtls_ctr_drbg_context drbg;
    mbedtls_ssl_ticket_context ticket;
    char warning[CONFIG_PATH_MAX + 96]; /* e.g. the certificate has expired; "" if none */
};

/* Read cfg's files and build the configuration. NULL with "<file>:
 * <mbedtls's reason>" (or "out of memory") in err. */
struct tls_ctx *tls_ctx_new(const struct tls_config *cfg, char *err, size_t errlen);
struct tls_ctx *tls_ctx_ref(struct tls_ctx *c);
void tls_ctx_unref(struct tls_ctx *c); /* NULL is fine */

/* A TLS server session on the accepted socket fd into *t, holding a
 * reference to ctx. -1 on out of memory (*t untouched). */
int transport_tls(struct transport *t, struct tls_ctx *ctx, int fd);
/* What one such session holds from accept on (t->mem). */
size_t transport_tls_mem(void);

#endif
