/* TLS listeners: mosquitto_pub/mosquitto_sub publish and receive over TLS
 * (large and many small messages intact), client certificates are required
 * and checked when configured, the certificate's CN can be the user name,
 * plain-TCP, silent and weak-TLS clients are refused without disturbing
 * others, sessions resume, SIGHUP swaps the certificate for new
 * connections, and bad or expired files are reported at start. The
 * certificates are made at test time (harness_tls.c). Starling only. */
#include "tests/integration/harness.h"

#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct tls_pki pki;
static char ca[128], json[1024];

static int group_setup(void **state)
{
    (void)state;
    if (testing_mosquitto()) return 0;
    tls_pki_make(&pki);
    tls_make_cert(&pki, "server2", "/CN=starling-test-2", "ca", 30);
    tls_make_cert(&pki, "expired", "/CN=starling-expired", "ca", -1);
    tls_make_cert(&pki, "alice", "/CN=alice-device", "ca", 30);
    tls_make_cert(&pki, "nocn", "/O=Starling/OU=no-cn", "ca", 30);
    tls_make_cert_raw_cn(&pki, "nulcn", "alice-device\\0.evil", "ca");
    tls_make_ca(&pki, "rogue_ca");
    tls_make_cert(&pki, "rogue", "/CN=alice-device", "rogue_ca", 30);
    tls_path(&pki, "ca.crt", ca, sizeof ca);
    return 0;
}

static int group_teardown(void **state)
{
    (void)state;
    tls_pki_remove(&pki);
    return 0;
}

/* Restart the broker with its test port as a TLS listener on cert. */
static void tls_broker(struct itest *t, const char *cert, const char *extra, struct broker_cfg *cfg)
{
    skip_on_mosquitto(t);
    struct broker_cfg plain = {0};
    if (!cfg) cfg = &plain;
    cfg->listener_tls = tls_listener_json(&pki, cert, extra, json, sizeof json);
    it_restart(t, cfg);
}

static const char *file(const char *name)
{
    static char paths[4][128];
    static int next;
    next = (next + 1) % 4;
    return tls_path(&pki, name, paths[next], sizeof paths[next]);
}

/* The broker logs a refused handshake after its alert went out: the
 * client may have exited before the line is written. */
static bool log_soon(struct itest *t, const char *word1, const char *word2)
{
    for (int i = 0; i < 60; i++) {
        if (broker_log_has_line(&t->broker, word1, word2)) return true;
        sleep_ms(50);
    }
    return false;
}

/* A TLS subscriber on topic (QoS 0) that exits after count messages. */
static struct proc *tls_sub(struct itest *t, const char *topic, const char *count)
{
    return it_mosquitto_sub(t,
                            (const char *const[]){"--cafile", ca, "-t", topic, "-C", count, NULL});
}

static int tls_pub(struct itest *t, const char *topic, const char *msg)
{
    return it_mosquitto_pub(t, (const char *const[]){"--cafile", ca, "-t", topic, "-m", msg, NULL});
}

/* MQTT-4.5.0-1: the subscriber gets what was published, over TLS both ways. */
ITEST(test_tls_publish_subscribe)
{
    tls_broker(t, "server", NULL, NULL);
    struct proc *sub = tls_sub(t, "tls/a", "1");
    assert_int_equal(tls_pub(t, "tls/a", "hello over tls"), 0);
    assert_int_equal(proc_wait(sub, IT_WAIT), 0);
    assert_true(proc_output_contains(sub, "hello over tls"));
}

/* A 1 MB payload crosses many records whole; 2,000 small messages in a
 * burst arrive complete and in order. */
ITEST(test_tls_large_and_many_messages)
{
    tls_broker(t, "server", NULL, NULL);
    enum { BIG = 1024 * 1024 };
    char *payload = malloc(BIG);
    assert_non_null(payload);
    for (size_t i = 0; i < BIG; i++)
        payload[i] = (char)('a' + (i * 7 + i / 4096) % 26);
    const char *path = file("big.bin");
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(payload, 1, BIG, f), BIG);
    assert_int_equal(fclose(f), 0);

    struct proc *sub = tls_sub(t, "tls/big", "1");
    assert_int_equal(it_mosquitto_pub(t, (const char *const[]){"--cafile", ca, "-t", "tls/big",
                                                               "-f", path, NULL}),
                     0);
    assert_int_equal(proc_wait(sub, 10000), 0);
    char *out = malloc(BIG + 64 * 1024);
    assert_non_null(out);
    size_t n = proc_output(sub, out, BIG + 64 * 1024);
    assert_non_null(memmem(out, n, payload, BIG));

    struct proc *many = it_mosquitto_sub(
        t, (const char *const[]){"--cafile", ca, "-t", "tls/many", "-C", "2000", "-q", "1", NULL});
    assert_int_equal(
        it_mosquitto_pub(t, (const char *const[]){"--cafile", ca, "-t", "tls/many", "-m", "small",
                                                  "-q", "1", "--repeat", "2000", NULL}),
        0);
    assert_int_equal(proc_wait(many, 20000), 0);
    n = proc_output(many, out, BIG);
    size_t got = 0;
    for (const char *p = out; (p = memmem(p, n - (size_t)(p - out), "received PUBLISH", 16));
         p += 16)
        got++;
    assert_int_equal(got, 2000);
    unlink(path);
    free(out);
    free(payload);
}

/* One burst of 30,000 PUBLISH packets, more than a connection may handle
 * in one loop turn: what TLS has already taken from the socket (and epoll
 * no longer reports) is handled in the next turns, and every message
 * arrives. openssl s_client sends the file as fast as TLS takes it. */
ITEST(test_tls_burst_over_turn_budget)
{
    tls_broker(t, "server", NULL, NULL);
    enum { N = 30000 };
    const char *path = file("burst.bin");
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    uint8_t pkt[128];
    size_t n = connect_packet(
        pkt, sizeof pkt, &(struct conn_opts){.client_id = "burst", .clean = true, .keepalive = 60});
    fwrite(pkt, 1, n, f);
    for (int i = 0; i < N; i++) {
        char payload[16];
        snprintf(payload, sizeof payload, "m%05d", i);
        /* PUBLISH QoS 0: topic "tls/b", 6-byte payload */
        uint8_t p[] = {0x30, 13, 0, 5, 't', 'l', 's', '/', 'b'};
        fwrite(p, 1, sizeof p, f);
        fwrite(payload, 1, 6, f);
    }
    fwrite("\xe0\x00", 1, 2, f);
    assert_int_equal(fclose(f), 0);

    struct proc *sub = tls_sub(t, "tls/b", "30000");
    char cmd[512];
    snprintf(cmd, sizeof cmd,
             "exec openssl s_client -connect 127.0.0.1:%d -quiet -no_ign_eof <%s >/dev/null 2>&1",
             it_port(t), path);
    struct proc pub;
    assert_int_equal(proc_spawn(&pub, (const char *const[]){"sh", "-c", cmd, NULL}), 0);
    assert_int_equal(proc_wait(&pub, 20000), 0);
    proc_kill(&pub);
    assert_int_equal(proc_wait(sub, 20000), 0);
    char *out = malloc(4 << 20);
    assert_non_null(out);
    size_t len = proc_output(sub, out, 4 << 20);
    size_t got = 0;
    for (const char *p = out; (p = memmem(p, len - (size_t)(p - out), "received PUBLISH", 16));
         p += 16)
        got++;
    assert_int_equal(got, N);
    assert_non_null(memmem(out, len, "\nm00000\n", 8));
    assert_non_null(memmem(out, len, "\nm29999\n", 8));
    free(out);
    unlink(path);
}

/* An MQTT client speaking plain TCP to the TLS port is
 * closed; a TLS client on the same listener is not disturbed. */
ITEST(test_tls_plain_client_refused)
{
    tls_broker(t, "server", NULL, NULL);
    struct proc *sub = tls_sub(t, "tls/p", "1");
    int fd = it_tcp(t);
    send_connect(fd, &(struct conn_opts){.client_id = "plain", .clean = true, .keepalive = 30});
    uint8_t buf[64];
    int r = recv_exact(fd, buf, 4, IT_WAIT);
    /* mbedtls may answer with an alert record (0x15), never a CONNACK */
    assert_true(r == -2 || (r == 0 && buf[0] == 0x15));
    assert_int_equal(tls_pub(t, "tls/p", "still served"), 0);
    assert_int_equal(proc_wait(sub, IT_WAIT), 0);
    assert_true(proc_output_contains(sub, "still served"));
    assert_true(log_soon(t, "handshake failed", "127.0.0.1"));
}

/* A client that opens the TLS port and sends nothing, or half a
 * ClientHello, is closed after limits.connect_timeout; meanwhile others
 * are served. */
ITEST(test_tls_silent_client_closed)
{
    struct broker_cfg cfg = {.connect_timeout = 1};
    tls_broker(t, "server", NULL, &cfg);
    int silent = it_tcp(t);
    int slow = it_tcp(t);
    send_bytes(slow, "\x16\x03\x01\x00", 4);
    assert_int_equal(tls_pub(t, "tls/s", "others go on"), 0);
    expect_closed(silent, 4000);
    expect_closed(slow, 1000);
    assert_true(broker_log_contains(&t->broker, "handshake not finished within connect_timeout"));
}

/* Every TLS session holds its record buffers (about 34 KB) before its
 * client is known, so handshakes in progress share
 * limits.max_unauthenticated_bytes with partial CONNECTs: a flood of
 * silent TLS connections is refused at accept once they use it up, and a
 * client gets in again as soon as they are gone. */
ITEST(test_tls_handshakes_bounded)
{
    struct broker_cfg cfg = {.extra_limits = "\"max_unauthenticated_bytes\":150000"};
    tls_broker(t, "server", NULL, &cfg);
    sleep_ms(200); /* the harness's readiness probe has come and gone */
    int held[6], open = 0;
    for (int i = 0; i < 6; i++)
        assert_true((held[i] = tcp_connect_port(it_port(t))) >= 0);
    for (int i = 0; i < 6; i++) {
        uint8_t b;
        open += recv_exact(held[i], &b, 1, 300) == -1; /* still waiting for a ClientHello */
    }
    assert_int_equal(open, 4); /* 4 sessions of about 34.8 KB fit in 150,000 bytes */
    assert_true(log_soon(t, "connection refused", "limits.max_unauthenticated_bytes"));
    assert_int_not_equal(tls_pub(t, "tls/b", "no room"), 0);
    for (int i = 0; i < 6; i++)
        close(held[i]);
    int rc = -1;
    for (int i = 0; i < 40 && rc != 0; i++) { /* until the broker has seen the closes */
        sleep_ms(50);
        rc = tls_pub(t, "tls/b", "room again");
    }
    assert_int_equal(rc, 0);
    struct proc *sub = tls_sub(t, "tls/b", "1");
    assert_int_equal(tls_pub(t, "tls/b", "served"), 0);
    assert_int_equal(proc_wait(sub, IT_WAIT), 0);
    assert_true(proc_output_contains(sub, "served"));
}

/* A TLS 1.2 ClientHello offering only ECDHE-ECDSA-AES128-GCM-SHA256 on
 * P-256: enough for the server to answer with its whole first flight. */
static const uint8_t client_hello[] = {
    0x16, 0x03, 0x01, 0x00, 69, /* handshake record */
    0x01, 0x00, 0x00, 65,       /* ClientHello */
    0x03, 0x03,                 /* TLS 1.2 */
    1,    2,    3,    4,    5,    6,    7,    8,    9,  10, 11, 12, 13, 14, 15, 16,
    17,   18,   19,   20,   21,   22,   23,   24,   25, 26, 27, 28, 29, 30, 31, 32, /* random */
    0x00,                                           /* no session id */
    0x00, 0x02, 0xc0, 0x2b,                         /* one suite */
    0x01, 0x00,                                     /* no compression */
    0x00, 22,                                       /* extensions */
    0x00, 0x0a, 0x00, 0x04, 0x00, 0x02, 0x00, 0x17, /* supported_groups: P-256 */
    0x00, 0x0b, 0x00, 0x02, 0x01, 0x00,             /* ec_point_formats */
    0x00, 0x0d, 0x00, 0x04, 0x00, 0x02, 0x04, 0x03, /* signature_algorithms */
};

/* A burst of TLS handshakes (each about 2.5 ms of CPU for its first
 * step) is served a few steps per loop turn: a client already connected,
 * whose PINGREQ comes after 40 ClientHellos, gets its PINGRESP before most
 * of them are answered, not after all of them. */
ITEST(test_tls_handshake_burst_does_not_hold_others)
{
    int plain_port = tcp_free_port();
    char plain[64];
    snprintf(plain, sizeof plain, "{\"bind\":\"127.0.0.1\",\"port\":%d}", plain_port);
    struct broker_cfg cfg = {.extra_listeners = plain};
    tls_broker(t, "server", NULL, &cfg);
    int c = tcp_connect_port(plain_port);
    assert_true(c >= 0);
    send_connect(c, &(struct conn_opts){.client_id = "bystander", .clean = true, .keepalive = 60});
    struct pkt p;
    expect_packet(c, &p, 2); /* CONNACK */
    enum { N = 40 };
    int hs[N];
    for (int i = 0; i < N; i++) {
        hs[i] = it_tcp(t);
        send_bytes(hs[i], client_hello, sizeof client_hello);
    }
    send_bytes(c, "\xc0\x00", 2); /* PINGREQ */
    expect_packet(c, &p, 13);     /* PINGRESP */
    int answered = 0;
    for (int i = 0; i < N; i++) {
        struct pollfd pfd = {.fd = hs[i], .events = POLLIN};
        answered += poll(&pfd, 1, 0) == 1;
    }
    close(c);
    assert_true(answered < N / 2);
    /* and every one of them is answered in the end */
    for (int i = 0; i < N; i++) {
        uint8_t b;
        assert_int_equal(recv_exact(hs[i], &b, 1, IT_WAIT), 0);
        assert_int_equal(b, 0x16); /* a handshake record: ServerHello */
    }
}

/* connect_timeout is for clients that are silent or slow, not for the
 * broker's own queue: 600 ClientHellos arriving together take longer than
 * a 1 s connect_timeout to answer (about 2.5 ms of CPU each), and every one
 * of them is answered, none closed for the time it waited for the broker. */
ITEST(test_tls_handshake_queue_not_timed_out)
{
    struct broker_cfg cfg = {.connect_timeout = 1};
    tls_broker(t, "server", NULL, &cfg);
    enum { N = 600 };
    static int hs[N];
    for (int i = 0; i < N; i++) {
        assert_true((hs[i] = tcp_connect_port(it_port(t))) >= 0); /* closed below */
        send_bytes(hs[i], client_hello, sizeof client_hello);
    }
    /* The broker answers them in the order epoll reports them, not in
     * connect order, so the wait is bounded for the queue as a whole:
     * generous, as under ASan on a busy machine each takes ~10 ms. */
    static struct pollfd pfd[N];
    for (int i = 0; i < N; i++)
        pfd[i] = (struct pollfd){.fd = hs[i], .events = POLLIN};
    long start = now_ms();
    int answered = 0;
    while (answered < N && now_ms() - start < 60 * 1000) {
        assert_true(poll(pfd, N, 1000) >= 0);
        for (int i = 0; i < N; i++) {
            if (pfd[i].fd < 0 || !pfd[i].revents) continue;
            uint8_t b = 0;
            assert_int_equal(recv(pfd[i].fd, &b, 1, 0), 1); /* not a close */
            assert_int_equal(b, 0x16);                       /* ServerHello */
            pfd[i].fd = -1;
            answered++;
        }
    }
    assert_int_equal(answered, N);
    fprintf(stderr, "600 queued handshakes answered in %ld ms (connect_timeout 1 s)\n",
            now_ms() - start);
    for (int i = 0; i < N; i++)
        close(hs[i]);
}

static bool handshake_ok(struct itest *t, const char *const args[])
{
    char out[16384];
    return tls_s_client(it_port(t), args, out, sizeof out);
}

/* TLS 1.2 or newer, ECDHE with AEAD ciphers only. */
ITEST(test_tls_versions_and_ciphers)
{
    tls_broker(t, "server", NULL, NULL);
    assert_false(
        handshake_ok(t, (const char *const[]){"-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0", NULL}));
    assert_false(
        handshake_ok(t, (const char *const[]){"-tls1", "-cipher", "DEFAULT@SECLEVEL=0", NULL}));
    assert_false(handshake_ok(t, (const char *const[]){"-tls1_2", "-cipher", "AES128-SHA", NULL}));
    assert_false(handshake_ok(
        t, (const char *const[]){"-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA", NULL}));
    assert_false(
        handshake_ok(t, (const char *const[]){"-tls1_2", "-cipher", "ECDHE-RSA-AES128-SHA", NULL}));
    assert_false(
        handshake_ok(t, (const char *const[]){"-tls1_2", "-cipher", "AES128-GCM-SHA256", NULL}));
    assert_false(
        handshake_ok(t, (const char *const[]){"-tls1_2", "-cipher", "DES-CBC3-SHA", NULL}));
    assert_true(handshake_ok(
        t, (const char *const[]){"-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-GCM-SHA256", NULL}));
    assert_true(handshake_ok(
        t, (const char *const[]){"-tls1_2", "-cipher", "ECDHE-ECDSA-AES256-GCM-SHA384", NULL}));
    assert_true(handshake_ok(
        t, (const char *const[]){"-tls1_2", "-cipher", "ECDHE-ECDSA-CHACHA20-POLY1305", NULL}));
    assert_true(log_soon(t, "handshake failed", "min/max"));
}

/* A session ticket from the first connection resumes the second. */
ITEST(test_tls_session_resumption)
{
    tls_broker(t, "server", NULL, NULL);
    const char *sess = file("session.pem");
    char out[16384];
    assert_true(tls_s_client(it_port(t), (const char *const[]){"-tls1_2", "-sess_out", sess, NULL},
                             out, sizeof out));
    assert_non_null(strstr(out, "New, TLSv1.2"));
    assert_true(tls_s_client(it_port(t), (const char *const[]){"-tls1_2", "-sess_in", sess, NULL},
                             out, sizeof out));
    assert_non_null(strstr(out, "Reused, TLSv1.2"));
    unlink(sess);
}

static int cert_pub(struct itest *t, const char *cert)
{
    char crt[64], key[64];
    snprintf(crt, sizeof crt, "%s.crt", cert);
    snprintf(key, sizeof key, "%s.key", cert);
    return it_mosquitto_pub(t, (const char *const[]){"--cafile", ca, "--cert", file(crt), "--key",
                                                     file(key), "-t", "tls/c", "-m", "x", "-u",
                                                     "bob", "-P", "not bob's", NULL});
}

static void require_cert_extra(char *out, size_t cap, bool identity)
{
    snprintf(out, cap, "\"ca_file\":\"%s\",\"require_certificate\":true%s", ca,
             identity ? ",\"use_identity_as_username\":true" : "");
}

/* require_certificate: a certificate the CA signed gets in; none, or one
 * from another CA, fails the handshake (logged). */
ITEST(test_tls_client_certificates)
{
    char extra[256];
    require_cert_extra(extra, sizeof extra, false);
    tls_broker(t, "server", extra, NULL);
    assert_int_equal(cert_pub(t, "alice"), 0);
    assert_true(tls_pub(t, "tls/c", "no certificate") != 0);
    assert_true(cert_pub(t, "rogue") != 0);
    assert_true(log_soon(t, "handshake failed", "verif"));
}

/* use_identity_as_username: the CN is the user, the CONNECT's user name
 * and password are ignored and the password file is not consulted (as
 * Mosquitto); a certificate without a CN gets CONNACK 0x04. */
ITEST(test_tls_identity_as_username)
{
    const char *passwd = file("passwd");
    struct proc p;
    assert_int_equal(proc_spawn(&p, (const char *const[]){"mosquitto_passwd", "-c", "-b", passwd,
                                                          "bob", "builder", NULL}),
                     0);
    assert_int_equal(proc_wait(&p, 10000), 0);
    proc_kill(&p);
    char extra[256];
    require_cert_extra(extra, sizeof extra, true);
    struct broker_cfg cfg = {.deny_anonymous = true, .password_file = passwd};
    tls_broker(t, "server", extra, &cfg);
    assert_int_equal(cert_pub(t, "alice"), 0); /* "bob" with a wrong password: ignored */
    assert_true(cert_pub(t, "nocn") != 0);
    /* "alice-device\0.evil" is not alice-device: no CN at all */
    assert_true(cert_pub(t, "nulcn") != 0);
    assert_true(broker_log_has_line(&t->broker, "code=4", "127.0.0.1"));
    assert_true(broker_log_contains(&t->broker, "has no CN"));
    unlink(passwd);
}

/* The certificate's CN is the user name the ACL sees: a pattern with %u
 * lets alice's certificate into devices/alice-device/ and nowhere else. */
ITEST(test_tls_identity_is_the_acl_user)
{
    const char *acl = file("acl");
    FILE *f = fopen(acl, "w");
    assert_non_null(f);
    fputs("pattern readwrite devices/%u/#\n", f);
    fclose(f);
    char extra[256];
    require_cert_extra(extra, sizeof extra, true);
    struct broker_cfg cfg = {.acl_file = acl};
    tls_broker(t, "server", extra, &cfg);
    const char *crt = file("alice.crt"), *key = file("alice.key");
    struct proc *sub =
        it_mosquitto_sub(t, (const char *const[]){"--cafile", ca, "--cert", crt, "--key", key, "-t",
                                                  "devices/alice-device/#", "-C", "1", NULL});
    assert_int_equal(
        it_mosquitto_pub(t, (const char *const[]){"--cafile", ca, "--cert", crt, "--key", key, "-t",
                                                  "devices/bob/t", "-m", "not mine", "-u", "bob",
                                                  NULL}),
        0);
    assert_true(log_soon(t, "ACL denied PUBLISH", "user=alice-device topic=devices/bob/t"));
    assert_int_equal(
        it_mosquitto_pub(t, (const char *const[]){"--cafile", ca, "--cert", crt, "--key", key, "-t",
                                                  "devices/alice-device/t", "-m", "mine", NULL}),
        0);
    assert_int_equal(proc_wait(sub, IT_WAIT), 0);
    assert_true(proc_output_contains(sub, "mine"));
    assert_false(proc_output_contains(sub, "not mine"));
    unlink(acl);
}

/* An expired server certificate still serves but is reported at start
 * with its file and date. */
ITEST(test_tls_expired_certificate_reported)
{
    tls_broker(t, "expired", NULL, NULL);
    assert_true(broker_log_has_line(&t->broker, "expired.crt", "expired on"));
}

/* starling -t and start-up both refuse unreadable, invalid and mismatched
 * files, naming the file and mbedtls's reason. */
static void expect_refused(const char *tls, const char *needle1, const char *needle2)
{
    const char *conf = file("bad.json");
    FILE *f = fopen(conf, "w");
    assert_non_null(f);
    fprintf(f, "{\"listeners\":[{\"bind\":\"127.0.0.1\",\"port\":0,\"tls\":%s}]}\n", tls);
    assert_int_equal(fclose(f), 0);
    for (int check = 0; check < 2; check++) {
        struct proc p;
        const char *argv[] = {starling_bin(), "-c", conf, check ? "-t" : NULL, NULL};
        assert_int_equal(proc_spawn(&p, argv), 0);
        assert_int_equal(proc_wait(&p, 10000), 1);
        char out[4096];
        proc_output(&p, out, sizeof out);
        proc_kill(&p);
        if (!strstr(out, needle1) || !strstr(out, needle2)) fprintf(stderr, "output: %s\n", out);
        assert_non_null(strstr(out, needle1));
        assert_non_null(strstr(out, needle2));
    }
    unlink(conf);
}

ITEST(test_tls_bad_files_stop_startup)
{
    skip_on_mosquitto(t);
    char tls[512];
    snprintf(tls, sizeof tls, "{\"cert\":\"%s\",\"key\":\"%s\"}", file("missing.crt"),
             file("server.key"));
    expect_refused(tls, "missing.crt", "No such file");
    snprintf(tls, sizeof tls, "{\"cert\":\"%s\",\"key\":\"%s\"}", file("san.ext"),
             file("server.key"));
    expect_refused(tls, "san.ext", "X509");
    snprintf(tls, sizeof tls, "{\"cert\":\"%s\",\"key\":\"%s\"}", file("server.crt"),
             file("alice.key"));
    expect_refused(tls, "alice.key", "does not match certificate");
}

static void copy_file(const char *from, const char *to)
{
    const char *argv[] = {"cp", from, to, NULL};
    struct proc p;
    assert_int_equal(proc_spawn(&p, argv), 0);
    assert_int_equal(proc_wait(&p, 5000), 0);
    proc_kill(&p);
}

/* The subject of the certificate a new connection is shown. */
static bool serves(struct itest *t, const char *cn)
{
    char out[16384], want[96];
    snprintf(want, sizeof want, "subject=CN = %s\n", cn);
    return tls_s_client(it_port(t), (const char *const[]){"-tls1_2", NULL}, out, sizeof out) &&
           strstr(out, want);
}

static bool serves_soon(struct itest *t, const char *cn)
{
    for (int i = 0; i < 40; i++) { /* the reload is asynchronous */
        if (serves(t, cn)) return true;
        sleep_ms(50);
    }
    return false;
}

/* SIGHUP: new connections get the new certificate, connections already
 * made keep working; a broken new certificate keeps the old one, logged. */
ITEST(test_tls_reload_certificate)
{
    copy_file(file("server.crt"), file("live.crt"));
    copy_file(file("server.key"), file("live.key"));
    tls_broker(t, "live", NULL, NULL);
    assert_true(serves(t, "starling-test"));
    struct proc *sub = tls_sub(t, "tls/r", "1");
    copy_file(file("server2.crt"), file("live.crt"));
    copy_file(file("server2.key"), file("live.key"));
    kill(t->broker.pid, SIGHUP);
    assert_true(serves_soon(t, "starling-test-2"));
    assert_int_equal(tls_pub(t, "tls/r", "after reload"), 0);
    assert_int_equal(proc_wait(sub, IT_WAIT), 0);
    assert_true(proc_output_contains(sub, "after reload"));

    FILE *f = fopen(file("live.crt"), "w");
    assert_non_null(f);
    fputs("-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n", f);
    assert_int_equal(fclose(f), 0);
    kill(t->broker.pid, SIGHUP);
    assert_true(log_soon(t, "keeps the TLS certificate", "reload"));
    assert_true(broker_log_has_line(&t->broker, "live.crt", "X509"));
    assert_true(serves(t, "starling-test-2"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        IT(test_tls_publish_subscribe),
        IT(test_tls_large_and_many_messages),
        IT(test_tls_burst_over_turn_budget),
        IT(test_tls_plain_client_refused),
        IT(test_tls_silent_client_closed),
        IT(test_tls_handshakes_bounded),
        IT(test_tls_handshake_burst_does_not_hold_others),
        IT(test_tls_handshake_queue_not_timed_out),
        IT(test_tls_versions_and_ciphers),
        IT(test_tls_session_resumption),
        IT(test_tls_client_certificates),
        IT(test_tls_identity_as_username),
        IT(test_tls_identity_is_the_acl_user),
        IT(test_tls_expired_certificate_reported),
        IT(test_tls_bad_files_stop_startup),
        IT(test_tls_reload_certificate),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
