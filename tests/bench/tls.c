/* The generator's TLS client context (tls.h). */
#include "tests/bench/tls.h"
#include "tests/bench/bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509v3.h>

static void ssl_error(const char *what, const char *file)
{
    char buf[256];
    ERR_error_string_n(ERR_get_error(), buf, sizeof buf);
    fprintf(stderr, "starling-bench: %s %s: %s\n", what, file, buf);
}

struct btls *btls_new(const char *ca_file, bool verify)
{
    struct btls *t = calloc(1, sizeof *t);
    if (!t || !(t->ctx = SSL_CTX_new(TLS_client_method()))) goto fail;
    SSL_CTX *c = t->ctx;
    /* The suite the comparison is about; a broker that cannot do it fails
     * the handshake instead of being measured with something else. */
    if (!SSL_CTX_set_min_proto_version(c, TLS1_2_VERSION) ||
        !SSL_CTX_set_max_proto_version(c, TLS1_2_VERSION) ||
        !SSL_CTX_set_cipher_list(c, "ECDHE-ECDSA-AES128-GCM-SHA256") ||
        !SSL_CTX_set1_groups_list(c, "P-256"))
        goto fail;
    if (SSL_CTX_load_verify_locations(c, ca_file, NULL) != 1) {
        ssl_error("cannot load CA file", ca_file);
        goto fail;
    }
    SSL_CTX_set_verify(c, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
    /* The write buffer may move between a WANT_WRITE and its retry (it is
     * compacted), and idle connections should not hold 2 x 16 KiB here. */
    SSL_CTX_set_mode(c, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
    /* Many small records per read(): net.c drains what OpenSSL buffered. */
    SSL_CTX_set_read_ahead(c, 1);
    /* Sessions are kept only where a scenario asks for them (resume). */
    SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
    return t;
fail:
    if (t && t->ctx) ERR_print_errors_fp(stderr);
    btls_free(t);
    return NULL;
}

void btls_free(struct btls *t)
{
    if (!t) return;
    SSL_SESSION_free(t->resume);
    SSL_CTX_free(t->ctx);
    free(t);
}

SSL *btls_ssl(struct btls *t, int fd)
{
    SSL *s = SSL_new(t->ctx);
    if (!s) return NULL;
    if (!SSL_set_fd(s, fd) || !X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s), "127.0.0.1") ||
        (t->resume && !SSL_set_session(s, t->resume))) {
        SSL_free(s);
        return NULL;
    }
    SSL_set_connect_state(s);
    return s;
}

void btls_failed(struct btls *t, SSL *s, int ret)
{
    if (t->error[0]) return;
    int e = SSL_get_error(s, ret);
    unsigned long code = ERR_peek_error();
    if (code) {
        ERR_error_string_n(code, t->error, sizeof t->error);
    } else if (e == SSL_ERROR_SYSCALL || e == SSL_ERROR_ZERO_RETURN) {
        snprintf(t->error, sizeof t->error,
                 "the broker closed the connection during the handshake");
    } else {
        snprintf(t->error, sizeof t->error, "handshake failed (SSL error %d)", e);
    }
    ERR_clear_error();
}

void btls_done(struct btls *t, SSL *s)
{
    if (SSL_session_reused(s))
        t->resumed++;
    else
        t->full++;
    if (t->suite[0]) return;
    int group = SSL_get_negotiated_group(s);
    const char *g = group ? OBJ_nid2sn(group) : "?";
    snprintf(t->suite, sizeof t->suite, "%s/%s/%s", SSL_get_version(s), SSL_get_cipher_name(s), g);
}

struct btls *bench_tls_new(const struct bench_opts *o, struct bench_result *r)
{
    if (!o->tls_ca) return NULL;
    r->tls = true;
    /* Checking the chain costs the generator (OpenSSL 3.0) about 0.4 ms
     * per handshake; where handshakes are what is measured it is skipped.
     * The server's signature over its ECDHE key is checked either way. */
    struct btls *t = btls_new(o->tls_ca, strncmp(o->scenario, "handshakes", 10) != 0);
    if (!t) result_fail(r, "cannot set up TLS with CA file %s", o->tls_ca);
    return t;
}

bool bench_tls_failed(const struct btls *t, struct bench_result *r)
{
    if (!t || !t->error[0]) return false;
    result_fail(r, "TLS handshake failed: %s", t->error);
    return true;
}

void bench_tls_end(struct btls *t, struct bench_result *r)
{
    if (!t) return;
    snprintf(r->suite, sizeof r->suite, "%s", t->suite);
    r->tls_full = t->full;
    r->tls_resumed = t->resumed;
    if (t->error[0]) result_fail(r, "TLS handshake failed: %s", t->error);
    btls_free(t);
}
