/* TLS client side of the load generator (OpenSSL libssl, not mbedtls: see
 * README.md "TLS"). One btls per run holds the client context (TLS 1.2
 * only, ECDHE-ECDSA-AES128-GCM-SHA256 on P-256, the server certificate
 * verified against the bench CA or not), an optional session to resume, and the
 * counts of full and resumed handshakes every connection of the run adds to.
 * Connections (net.h) carry one SSL each and never block. */
#ifndef STARLING_BENCH_TLS_H
#define STARLING_BENCH_TLS_H

#include <stdbool.h>
#include <stdint.h>

#include <openssl/ssl.h>

struct btls {
    SSL_CTX *ctx;
    SSL_SESSION *resume;    /* offered by every new connection when set */
    uint64_t full, resumed; /* completed handshakes, by kind */
    char suite[96];         /* what the first handshake negotiated */
    char error[200];        /* why the first failed handshake failed, "" if none did */
};

/* Builds the context, verifying the server's certificate (chain to
 * ca_file, IP 127.0.0.1) if verify; NULL (reason on stderr) if ca_file
 * cannot be used. */
struct btls *btls_new(const char *ca_file, bool verify);
void btls_free(struct btls *t);

/* A new client SSL on fd, offering t->resume if set; NULL on failure. */
SSL *btls_ssl(struct btls *t, int fd);
/* Remembers why a handshake failed (SSL_do_handshake returned ret), once. */
void btls_failed(struct btls *t, SSL *s, int ret);
/* Counts a completed handshake of s and remembers the suite. */
void btls_done(struct btls *t, SSL *s);

#endif
