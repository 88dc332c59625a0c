/* A listener's "tls" object: certificate, key, client-certificate policy.
 * Only the shape is checked here; the files are read by the broker at
 * start (and by `starling -t`), so that errors name mbedtls's reason. */
#include "config/sections.h"

#include <stdio.h>
#include <string.h>

static const char *const tls_keys[] = {"cert", "key", "ca_file", "require_certificate",
                                       "use_identity_as_username"};

#define PATH_WHAT "a file path of 1 to 255 bytes"

static int required(struct jctx *x, const char *key, const char *what)
{
    jctx_push_key(x, key);
    return jctx_expected_text(x, "nothing", "%s", what);
}

static int check_policy(struct jctx *x, const struct tls_config *t)
{
    if (!t->cert[0]) return required(x, "cert", PATH_WHAT " (the server's PEM certificate)");
    if (!t->key[0]) return required(x, "key", PATH_WHAT " (the certificate's PEM private key)");
    if (t->require_certificate && !t->ca_file[0])
        return required(x, "ca_file",
                        PATH_WHAT " (the CA that signs client certificates, since "
                                  "require_certificate is true)");
    if (t->use_identity_as_username && !t->require_certificate) {
        jctx_push_key(x, "use_identity_as_username");
        return jctx_error(x, "true needs \"require_certificate\": true (the user name comes "
                             "from the client's certificate)");
    }
    return 0;
}

int config_listener_tls_parse(struct jctx *x, const cJSON *v, struct tls_config *t)
{
    if (!cJSON_IsObject(v))
        return jctx_expected(x, v,
                             "an object like {\"cert\": \"server.crt\", \"key\": "
                             "\"server.key\"}");
    memset(t, 0, sizeof *t);
    t->enabled = true;
    if (jcheck_keys(x, v, tls_keys, sizeof tls_keys / sizeof tls_keys[0]) < 0 ||
        jget_path(x, v, "cert", PATH_WHAT, t->cert, sizeof t->cert) < 0 ||
        jget_path(x, v, "key", PATH_WHAT, t->key, sizeof t->key) < 0 ||
        jget_path(x, v, "ca_file", PATH_WHAT, t->ca_file, sizeof t->ca_file) < 0 ||
        jget_bool(x, v, "require_certificate", &t->require_certificate) < 0 ||
        jget_bool(x, v, "use_identity_as_username", &t->use_identity_as_username) < 0 ||
        check_policy(x, t) < 0)
        return -1;
    return 0;
}
