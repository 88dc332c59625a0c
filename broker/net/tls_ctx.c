/* Loading a TLS listener's files and its policy: TLS 1.2 or newer, ECDHE
 * key exchange with AEAD ciphers only, no renegotiation, X25519/P-256/P-384,
 * session tickets for cheap reconnects, client certificates on demand. */
#include "broker/net/tls_ctx.h"

#include <errno.h>
#include <mbedtls/error.h>
#include <mbedtls/version.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Forward secrecy and authenticated encryption only: no static RSA, CBC,
 * RC4, 3DES, NULL or export suites. ECDSA first, it is cheaper. The server
 * picks from its own order, and ChaCha20-Poly1305 comes first: in mbedtls
 * 2.28 it encrypts 16 KiB records about 1.6x as fast as AES-GCM (its GHASH
 * multiplies one block at a time), and most clients offer it. */
static const int ciphersuites[] = {
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
    MBEDTLS_TLS1_3_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS1_3_AES_128_GCM_SHA256,
    MBEDTLS_TLS1_3_AES_256_GCM_SHA384,
#endif
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
    MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
    MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
    0,
};

#if MBEDTLS_VERSION_MAJOR >= 3
static const uint16_t groups[] = {
    MBEDTLS_SSL_IANA_TLS_GROUP_X25519, MBEDTLS_SSL_IANA_TLS_GROUP_SECP256R1,
    MBEDTLS_SSL_IANA_TLS_GROUP_SECP384R1, MBEDTLS_SSL_IANA_TLS_GROUP_NONE};
#else
static const mbedtls_ecp_group_id curves[] = {MBEDTLS_ECP_DP_CURVE25519, MBEDTLS_ECP_DP_SECP256R1,
                                              MBEDTLS_ECP_DP_SECP384R1, MBEDTLS_ECP_DP_NONE};
#endif

static void ctx_free(struct tls_ctx *c)
{
    mbedtls_ssl_ticket_free(&c->ticket);
    mbedtls_ssl_config_free(&c->conf);
    mbedtls_ctr_drbg_free(&c->drbg);
    mbedtls_entropy_free(&c->entropy);
    mbedtls_pk_free(&c->key);
    mbedtls_x509_crt_free(&c->ca);
    mbedtls_x509_crt_free(&c->cert);
    free(c);
}

/* "<what>: <mbedtls's reason>" into err; returns -1. */
static int fail(char *err, size_t errlen, const char *what, int rc)
{
    char reason[160];
    if (rc > 0)
        snprintf(reason, sizeof reason, "%d certificate(s) in it could not be parsed", rc);
    else if (rc == MBEDTLS_ERR_SSL_ALLOC_FAILED || rc == MBEDTLS_ERR_X509_ALLOC_FAILED ||
             rc == MBEDTLS_ERR_PK_ALLOC_FAILED)
        snprintf(reason, sizeof reason, "out of memory");
    else
        mbedtls_strerror(rc, reason, sizeof reason);
    snprintf(err, errlen, "%s: %s", what, reason);
    return -1;
}

static void format_time(const mbedtls_x509_time *t, char *out, size_t cap)
{
    snprintf(out, cap, "%04d-%02d-%02d %02d:%02d:%02d UTC", t->year, t->mon, t->day, t->hour,
             t->min, t->sec);
}

/* An expired or not yet valid server certificate still loads (clients
 * decide), but the operator is told at once. */
static void check_validity(struct tls_ctx *c, const char *path)
{
    char when[40];
    c->warning[0] = '\0';
    if (mbedtls_x509_time_is_past(&c->cert.valid_to)) {
        format_time(&c->cert.valid_to, when, sizeof when);
        snprintf(c->warning, sizeof c->warning, "certificate %s expired on %s", path, when);
    } else if (mbedtls_x509_time_is_future(&c->cert.valid_from)) {
        format_time(&c->cert.valid_from, when, sizeof when);
        snprintf(c->warning, sizeof c->warning, "certificate %s is not valid before %s", path,
                 when);
    }
}

/* mbedtls says only "file read failed": say which errno. */
static int readable(const char *path, char *err, size_t errlen)
{
    if (access(path, R_OK) == 0) return 0;
    snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
    return -1;
}

static int load_files(struct tls_ctx *c, const struct tls_config *cfg, char *err, size_t errlen)
{
    if (readable(cfg->cert, err, errlen) < 0 || readable(cfg->key, err, errlen) < 0 ||
        (cfg->ca_file[0] && readable(cfg->ca_file, err, errlen) < 0))
        return -1;
    int rc = mbedtls_x509_crt_parse_file(&c->cert, cfg->cert);
    if (rc != 0) return fail(err, errlen, cfg->cert, rc);
#if MBEDTLS_VERSION_MAJOR >= 3
    rc = mbedtls_pk_parse_keyfile(&c->key, cfg->key, NULL, mbedtls_ctr_drbg_random, &c->drbg);
#else
    rc = mbedtls_pk_parse_keyfile(&c->key, cfg->key, NULL);
#endif
    if (rc != 0) return fail(err, errlen, cfg->key, rc);
#if MBEDTLS_VERSION_MAJOR >= 3
    rc = mbedtls_pk_check_pair(&c->cert.pk, &c->key, mbedtls_ctr_drbg_random, &c->drbg);
#else
    rc = mbedtls_pk_check_pair(&c->cert.pk, &c->key);
#endif
    if (rc != 0) {
        char what[CONFIG_PATH_MAX * 2 + 48];
        snprintf(what, sizeof what, "%s: does not match certificate %s", cfg->key, cfg->cert);
        return fail(err, errlen, what, rc);
    }
    if (cfg->ca_file[0] && (rc = mbedtls_x509_crt_parse_file(&c->ca, cfg->ca_file)) != 0)
        return fail(err, errlen, cfg->ca_file, rc);
    check_validity(c, cfg->cert);
    return 0;
}

static void set_policy(struct tls_ctx *c, const struct tls_config *cfg)
{
    mbedtls_ssl_config *conf = &c->conf;
    mbedtls_ssl_conf_rng(conf, mbedtls_ctr_drbg_random, &c->drbg);
    mbedtls_ssl_conf_ciphersuites(conf, ciphersuites);
#if MBEDTLS_VERSION_MAJOR >= 3
    mbedtls_ssl_conf_min_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_2);
#if defined(MBEDTLS_SSL_PROTO_TLS1_3)
    mbedtls_ssl_conf_max_tls_version(conf, MBEDTLS_SSL_VERSION_TLS1_3);
#endif
    mbedtls_ssl_conf_groups(conf, groups);
#else
    mbedtls_ssl_conf_min_version(conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
    mbedtls_ssl_conf_curves(conf, curves);
#endif
#if defined(MBEDTLS_SSL_RENEGOTIATION)
    mbedtls_ssl_conf_renegotiation(conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
#endif
    if (cfg->require_certificate) {
        mbedtls_ssl_conf_ca_chain(conf, &c->ca, NULL);
        mbedtls_ssl_conf_authmode(conf, MBEDTLS_SSL_VERIFY_REQUIRED);
    } else {
        mbedtls_ssl_conf_authmode(conf, MBEDTLS_SSL_VERIFY_NONE);
    }
}

static int build(struct tls_ctx *c, const struct tls_config *cfg, char *err, size_t errlen)
{
    static const char pers[] = "starling tls";
    int rc = mbedtls_ctr_drbg_seed(&c->drbg, mbedtls_entropy_func, &c->entropy,
                                   (const unsigned char *)pers, sizeof pers - 1);
    if (rc != 0) return fail(err, errlen, "random generator", rc);
    if (load_files(c, cfg, err, errlen) < 0) return -1;
    rc = mbedtls_ssl_config_defaults(&c->conf, MBEDTLS_SSL_IS_SERVER, MBEDTLS_SSL_TRANSPORT_STREAM,
                                     MBEDTLS_SSL_PRESET_DEFAULT);
    if (rc != 0) return fail(err, errlen, "TLS configuration", rc);
    set_policy(c, cfg);
    rc = mbedtls_ssl_conf_own_cert(&c->conf, &c->cert, &c->key);
    if (rc != 0) return fail(err, errlen, cfg->cert, rc);
    rc = mbedtls_ssl_ticket_setup(&c->ticket, mbedtls_ctr_drbg_random, &c->drbg,
                                  MBEDTLS_CIPHER_AES_256_GCM, TLS_TICKET_LIFETIME_S);
    if (rc != 0) return fail(err, errlen, "session tickets", rc);
    mbedtls_ssl_conf_session_tickets_cb(&c->conf, mbedtls_ssl_ticket_write,
                                        mbedtls_ssl_ticket_parse, &c->ticket);
    return 0;
}

struct tls_ctx *tls_ctx_new(const struct tls_config *cfg, char *err, size_t errlen)
{
    struct tls_ctx *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->refs = 1;
    c->use_identity = cfg->use_identity_as_username;
    mbedtls_x509_crt_init(&c->cert);
    mbedtls_x509_crt_init(&c->ca);
    mbedtls_pk_init(&c->key);
    mbedtls_entropy_init(&c->entropy);
    mbedtls_ctr_drbg_init(&c->drbg);
    mbedtls_ssl_config_init(&c->conf);
    mbedtls_ssl_ticket_init(&c->ticket);
    if (build(c, cfg, err, errlen) < 0) {
        ctx_free(c);
        return NULL;
    }
    return c;
}

struct tls_ctx *tls_ctx_ref(struct tls_ctx *c)
{
    c->refs++;
    return c;
}

void tls_ctx_unref(struct tls_ctx *c)
{
    if (c && --c->refs == 0) ctx_free(c);
}
