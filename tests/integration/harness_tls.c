/* Certificates for the TLS tests, made with the openssl command in a
 * temporary folder (never committed), and openssl s_client runs. */
#include "tests/integration/harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Runs argv (bounded, 20 s) and asserts it succeeded. */
static void run(const char *const argv[])
{
    struct proc p;
    assert_int_equal(proc_spawn(&p, argv), 0);
    int rc = proc_wait(&p, 20000);
    if (rc != 0) {
        char out[2048];
        proc_output(&p, out, sizeof out);
        fprintf(stderr, "%s exited %d: %s\n", argv[0], rc, out);
    }
    proc_kill(&p);
    assert_int_equal(rc, 0);
}

const char *tls_path(const struct tls_pki *k, const char *name, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", k->dir, name);
    return out;
}

/* k->dir/name.ext into out (128 bytes). */
static const char *named(const struct tls_pki *k, const char *name, const char *ext, char out[128])
{
    char f[64];
    snprintf(f, sizeof f, "%s.%s", name, ext);
    return tls_path(k, f, out, 128);
}

void tls_make_ca(const struct tls_pki *k, const char *name)
{
    char crt[128], key[128], subj[96];
    named(k, name, "crt", crt);
    named(k, name, "key", key);
    snprintf(subj, sizeof subj, "/CN=Starling test CA %s", name);
    const char *argv[] = {
        "openssl", "req",     "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes",  "-keyout", key,     "-out",    crt,  "-days",    "30",
        "-subj",   subj,      NULL};
    run(argv);
}

void tls_make_cert(const struct tls_pki *k, const char *name, const char *subj, const char *issuer,
                   int days)
{
    char crt[128], key[128], csr[128], ca[128], ca_key[128], ext[128], ndays[16];
    named(k, name, "crt", crt);
    named(k, name, "key", key);
    named(k, name, "csr", csr);
    named(k, issuer, "crt", ca);
    named(k, issuer, "key", ca_key);
    tls_path(k, "san.ext", ext, sizeof ext);
    snprintf(ndays, sizeof ndays, "%d", days);
    const char *req[] = {
        "openssl", "req",     "-newkey", "ec",   "-pkeyopt", "ec_paramgen_curve:prime256v1",
        "-nodes",  "-keyout", key,       "-out", csr,        "-subj",
        subj,      NULL};
    run(req);
    const char *sign[] = {
        "openssl",         "x509", "-req", "-in",   csr,   "-CA",      ca,  "-CAkey", ca_key,
        "-CAcreateserial", "-out", crt,    "-days", ndays, "-extfile", ext, NULL};
    run(sign);
}

/* openssl's -subj cannot write a NUL byte; Python's cryptography can.
 * argv: CA certificate, CA key, certificate, key, CN ("\0" for NUL). */
static const char nul_cn_script[] =
    "import sys, datetime\n"
    "from cryptography import x509\n"
    "from cryptography.x509.oid import NameOID\n"
    "from cryptography.hazmat.primitives import hashes, serialization as s\n"
    "from cryptography.hazmat.primitives.asymmetric import ec\n"
    "ca_crt, ca_key, crt, key, cn = sys.argv[1:6]\n"
    "ca = x509.load_pem_x509_certificate(open(ca_crt, 'rb').read())\n"
    "cak = s.load_pem_private_key(open(ca_key, 'rb').read(), None)\n"
    "k = ec.generate_private_key(ec.SECP256R1())\n"
    "now = datetime.datetime.utcnow()\n"
    "name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn.replace('\\\\0', '\\0'))])\n"
    "c = (x509.CertificateBuilder().subject_name(name).issuer_name(ca.subject)\n"
    "     .public_key(k.public_key()).serial_number(x509.random_serial_number())\n"
    "     .not_valid_before(now - datetime.timedelta(days=1))\n"
    "     .not_valid_after(now + datetime.timedelta(days=30)).sign(cak, hashes.SHA256()))\n"
    "open(crt, 'wb').write(c.public_bytes(s.Encoding.PEM))\n"
    "open(key, 'wb').write(k.private_bytes(s.Encoding.PEM, s.PrivateFormat.TraditionalOpenSSL,\n"
    "                                      s.NoEncryption()))\n";

void tls_make_cert_raw_cn(const struct tls_pki *k, const char *name, const char *cn,
                          const char *issuer)
{
    char crt[128], key[128], ca[128], ca_key[128];
    named(k, name, "crt", crt);
    named(k, name, "key", key);
    named(k, issuer, "crt", ca);
    named(k, issuer, "key", ca_key);
    const char *argv[] = {"/usr/bin/python3", "-c", nul_cn_script, ca, ca_key, crt, key, cn, NULL};
    run(argv);
}

void tls_pki_make(struct tls_pki *k)
{
    snprintf(k->dir, sizeof k->dir, "/tmp/starling-tls-XXXXXX");
    assert_non_null(mkdtemp(k->dir));
    char ext[128];
    FILE *f = fopen(tls_path(k, "san.ext", ext, sizeof ext), "w");
    assert_non_null(f);
    fprintf(f, "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
    assert_int_equal(fclose(f), 0);
    tls_make_ca(k, "ca");
    tls_make_cert(k, "server", "/CN=starling-test", "ca", 30);
}

void tls_pki_remove(struct tls_pki *k)
{
    if (!k->dir[0]) return;
    const char *argv[] = {"rm", "-rf", k->dir, NULL};
    run(argv);
    k->dir[0] = '\0';
}

const char *tls_listener_json(const struct tls_pki *k, const char *cert, const char *extra,
                              char *out, size_t cap)
{
    snprintf(out, cap, "{\"cert\":\"%s/%s.crt\",\"key\":\"%s/%s.key\"%s%s}", k->dir, cert, k->dir,
             cert, extra ? "," : "", extra ? extra : "");
    return out;
}

bool tls_s_client(int port, const char *const args[], char *out, size_t cap)
{
    char target[32];
    snprintf(target, sizeof target, "127.0.0.1:%d", port);
    const char *argv[32] = {"openssl", "s_client", "-connect", target};
    int n = 4;
    for (int i = 0; args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    struct proc p;
    assert_int_equal(proc_spawn(&p, argv), 0);
    proc_wait(&p, 10000);
    proc_output(&p, out, cap);
    proc_kill(&p);
    /* "New, TLSv1.2, Cipher is X" or "Reused, ..."; "(NONE)" when it failed */
    return strstr(out, ", Cipher is ") && !strstr(out, "Cipher is (NONE)");
}
