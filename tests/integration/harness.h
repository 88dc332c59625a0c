/* Integration-test harness: runs the broker under test (build/starling, or
 * Mosquitto when STARLING_TEST_MOSQUITTO=1) on a free loopback port, speaks raw
 * MQTT 3.1.1 to it over TCP and runs mosquitto_pub/mosquitto_sub against it.
 * Every wait is bounded; everything a test opens is released by itest_teardown. */
#ifndef STARLING_TESTS_INTEGRATION_HARNESS_H
#define STARLING_TESTS_INTEGRATION_HARNESS_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <stdbool.h>
#include <sys/types.h>

#define IT_WAIT 3000 /* ms to wait for something that must arrive */
#define IT_QUIET 300 /* ms watched to conclude that nothing arrives */

/* ---- the broker process ---- */

/* Broker limits a test may set; 0 keeps the broker's default. */
struct broker_cfg {
    int max_keepalive;
    long max_packet_size;
    int max_inflight;
    int max_queued_messages;
    int connect_timeout; /* Starling only */
    bool deny_anonymous; /* auth.allow_anonymous = false */
    /* Starling only: auth.password_file, and leaving allow_anonymous to its
     * default instead of writing it. */
    const char *password_file;
    bool anonymous_default;
    /* auth.acl_file (Mosquitto: acl_file), or NULL for none. */
    const char *acl_file;
    /* Starling only: raw JSON members appended to "limits", and listener
     * objects appended after the first (test port) listener. */
    const char *extra_limits;
    const char *extra_listeners;
    /* Starling only: raw JSON object for the test port listener's "tls"
     * (tls_listener_json builds one). */
    const char *listener_tls;
    const char *log_level;       /* default "info" */
    const char *log_format;      /* default "text" */
    const char *log_destination; /* default "stderr" */
    /* "persistence" (Mosquitto: persistence true, persistence_file and
     * autosave_interval from flush_interval_ms): NULL mode leaves it out. */
    const char *persist_mode; /* "off", "periodic", "durable" */
    const char *persist_path; /* the database file (absolute) */
    int flush_interval_ms;    /* 0: the broker's default */
    long max_pending_bytes;   /* Starling only; 0: the default */
};

struct broker {
    pid_t pid;
    int port;
    bool mosquitto;
    char conf_path[64];
    char log_path[64];
};

bool testing_mosquitto(void);
/* Start and wait until the port accepts TCP. 0 on success, -1 (reason printed) on failure. */
int broker_start(struct broker *b, const struct broker_cfg *cfg);
/* SIGTERM, bounded wait (SIGKILL after 10 s). 0 only if it exited with status 0. */
int broker_stop(struct broker *b);
int broker_stop_signal(struct broker *b, int sig);
/* Start a broker that must refuse to run: wait (5 s at most) for it to exit.
 * Its exit status (128 + signal if killed by one), or -1 if it was still
 * running (then stopped). The log stays readable until broker_remove_files. */
int broker_start_refused(struct broker *b, const struct broker_cfg *cfg);
/* $STARLING_BIN, default build/starling */
const char *starling_bin(void);
/* The broker under test was built with ASan (build/san/...): its memory
 * readings include the sanitizer's quarantine of freed blocks. */
bool starling_sanitized(void);
/* A "Vm...:" field (e.g. "VmRSS", "VmHWM") of the broker's /proc status in
 * kB; asserts it could be read. */
long broker_status_kb(const struct broker *b, const char *field);
void broker_remove_files(struct broker *b);
void broker_print_log_tail(const struct broker *b, int lines);
bool broker_log_contains(const struct broker *b, const char *needle);
/* Some log line contains both words (case-insensitive). */
bool broker_log_has_line(const struct broker *b, const char *word1, const char *word2);
/* Lines containing both words, counted up to max. */
int broker_log_count(const struct broker *b, const char *word1, const char *word2, int max);

/* ---- child processes (mosquitto_pub / mosquitto_sub) ---- */

struct proc {
    pid_t pid;
    char out_path[64];
};

/* Spawn argv (no shell) with stdout and stderr to a temp file. 0 or -1. */
int proc_spawn(struct proc *p, const char *const argv[]);
/* Exit status, or -1 if still running after timeout_ms (then killed). */
int proc_wait(struct proc *p, int timeout_ms);
/* NUL-terminated copy of the output so far (truncated to cap - 1). */
size_t proc_output(const struct proc *p, char *buf, size_t cap);
bool proc_output_contains(const struct proc *p, const char *needle);
/* Poll the output until it contains needle; false on timeout. */
bool proc_wait_output(const struct proc *p, const char *needle, int timeout_ms);
void proc_kill(struct proc *p); /* SIGKILL + reap + remove the output file */

/* ---- per-test context ---- */

#define IT_MAX_FDS 64
#define IT_MAX_PROCS 8

struct itest {
    struct broker broker;
    bool started;
    bool passed; /* set when the test body returns: teardown shows the log otherwise */
    int fds[IT_MAX_FDS];
    int nfds;
    struct proc procs[IT_MAX_PROCS];
    int nprocs;
};

/* cmocka fixtures: setup starts a default broker, teardown closes every socket,
 * kills every child, stops the broker and fails if its exit status is not 0. */
int itest_setup(void **state);
int itest_teardown(void **state);
/* Replace the running broker (if any) by one with this configuration. */
void it_restart(struct itest *t, const struct broker_cfg *cfg);
/* Stop the broker (SIGTERM, closing every client first); asserts exit 0. */
void it_stop(struct itest *t);
void skip_on_mosquitto(struct itest *t);
/* Skip the test, printing why (a missing privilege, not a failure). */
void it_skip(struct itest *t, const char *reason);
/* Crash the broker (SIGKILL) and close every client; it_restart starts the
 * next one. */
void it_kill(struct itest *t);
int it_port(const struct itest *t);
/* Forget fd (the test closed it itself). */
void it_forget_fd(struct itest *t, int fd);

/* A test body receives the context; the wrapper records that it finished. */
#define ITEST(name)                                                                                \
    static void name##_body(struct itest *t);                                                      \
    static void name(void **state)                                                                 \
    {                                                                                              \
        struct itest *t_ = *state;                                                                 \
        name##_body(t_);                                                                           \
        t_->passed = true;                                                                         \
    }                                                                                              \
    static void name##_body(struct itest *t)

#define IT(name) cmocka_unit_test_setup_teardown(name, itest_setup, itest_teardown)

/* mosquitto_pub -h 127.0.0.1 -p PORT args...; bounded (5 s); returns exit status. */
int it_mosquitto_pub(struct itest *t, const char *const args[]);
/* mosquitto_sub -d -h 127.0.0.1 -p PORT args..., returned once its SUBACK arrived. */
struct proc *it_mosquitto_sub(struct itest *t, const char *const args[]);
/* The same without waiting for the SUBACK (it may exit before it, e.g. -C). */
struct proc *it_mosquitto_sub_start(struct itest *t, const char *const args[]);

/* ---- raw sockets ---- */

int tcp_connect_port(int port); /* -1 on failure */
int tcp_free_port(void);        /* a free port on 127.0.0.1, -1 if none */
int it_tcp(struct itest *t);    /* connected to the broker (asserts), auto-closed */
void send_bytes(int fd, const void *buf, size_t n); /* asserts all sent */
/* 0: got n bytes; -1: timeout; -2: closed (EOF or reset) before n bytes. */
int recv_exact(int fd, void *buf, size_t n, int timeout_ms);
void expect_bytes(int fd, const void *expected, size_t n, int timeout_ms);
/* The peer closes (EOF or reset) within timeout_ms without sending a byte. */
void expect_closed(int fd, int timeout_ms);
/* Nothing arrives for ms milliseconds and the connection stays open. */
void expect_silence(int fd, int ms);
long now_ms(void);
void sleep_ms(int ms);

/* ---- MQTT packets ---- */

#define PKT_MAX (70 * 1024)

/* A packet body under construction (without fixed header). */
struct wbuf {
    uint8_t d[PKT_MAX];
    size_t n;
};
void wb_u8(struct wbuf *w, uint8_t v);
void wb_u16(struct wbuf *w, uint16_t v);
void wb_mem(struct wbuf *w, const void *p, size_t n);
void wb_str(struct wbuf *w, const char *s); /* length-prefixed */
void wb_lstr(struct wbuf *w, const void *s, size_t n);
/* Send first_byte + remaining length + body. */
void send_packet(int fd, uint8_t first_byte, const struct wbuf *body);
/* The same packet written into out (cap >= body->n + 5); returns its size. */
size_t packet_bytes(uint8_t *out, size_t cap, uint8_t first_byte, const struct wbuf *body);

struct pkt {
    uint8_t type;  /* high nibble of the first byte */
    uint8_t flags; /* low nibble */
    size_t len;    /* remaining length */
    uint8_t body[PKT_MAX];
};
/* 0: one packet read; -1 timeout; -2 closed; -3 too large for PKT_MAX. */
int read_packet(int fd, struct pkt *p, int timeout_ms);
/* Read one packet within IT_WAIT and assert its type. */
void expect_packet(int fd, struct pkt *p, uint8_t type);

struct conn_opts {
    const char *client_id; /* NULL = "" */
    bool clean;
    uint16_t keepalive;
    const char *will_topic; /* non-NULL sets the will flag */
    const char *will_payload;
    uint8_t will_qos;
    bool will_retain;
    const char *username;
    const char *password;
};
/* CONNECT variable header + payload for name "MQTT", level 4. */
void build_connect(struct wbuf *w, const struct conn_opts *o);
void send_connect(int fd, const struct conn_opts *o);
/* The whole CONNECT packet (under 128 bytes) into out; returns its size. */
size_t connect_packet(uint8_t *out, size_t cap, const struct conn_opts *o);
/* Open, CONNECT, assert CONNACK accepted; returns the fd. */
int it_connect(struct itest *t, const struct conn_opts *o, bool *session_present);
/* Clean-session client with keepalive 60. */
int it_client(struct itest *t, const char *client_id);
/* A client with this id and clean session flag (keep-alive 30); asserts
 * CONNACK 0 and sets *session_present if not NULL. */
int it_session(struct itest *t, const char *client_id, bool clean, bool *session_present);
/* DISCONNECT, and wait until the broker has closed the connection (its
 * session, if persistent, is then offline); fd is forgotten. */
void it_leave(struct itest *t, int fd);

void send_publish(int fd, const char *topic, const void *payload, size_t len, int qos, bool retain,
                  bool dup, uint16_t pid);
/* Publish and complete the QoS handshake (PUBACK or PUBREC/PUBREL/PUBCOMP). */
void publish(int fd, const char *topic, const char *payload, int qos, bool retain);
void send_subscribe(int fd, uint16_t pid, int n, const char *const filters[], const uint8_t qos[]);
/* SUBSCRIBE one filter and assert the SUBACK grants qos. */
void subscribe(int fd, const char *filter, uint8_t qos);
void send_unsubscribe(int fd, uint16_t pid, int n, const char *const filters[]);
void unsubscribe(int fd, const char *filter);
/* PUBACK/PUBREC/PUBREL/PUBCOMP/UNSUBACK: first byte + packet id. */
void send_ack(int fd, uint8_t first_byte, uint16_t pid);
void expect_ack(int fd, uint8_t first_byte, uint16_t pid);
/* The receiver's side of a QoS 2 delivery: PUBREC, the broker's PUBREL,
 * PUBCOMP. */
void complete_qos2(int fd, uint16_t pid);
void send_disconnect(int fd);

struct msg {
    int qos;
    bool dup, retain;
    char topic[1024];
    size_t topic_len;
    uint16_t pid;
    const uint8_t *payload; /* points into the pkt */
    size_t payload_len;
};
void parse_publish(const struct pkt *p, struct msg *m);
/* Read a PUBLISH and assert topic, payload, QoS and RETAIN; returns its packet id. */
uint16_t expect_publish(int fd, const char *topic, const char *payload, int qos, bool retain);
/* Read a PUBLISH and assert payload, QoS and DUP flag; returns its packet id. */
uint16_t expect_publish_dup(int fd, const char *payload, int qos, bool dup);
/* expect_publish, then acknowledge it as its QoS requires (full QoS 2 flow). */
void expect_publish_ack(int fd, const char *topic, const char *payload, int qos, bool retain);

/* A subscriber on "obs/#" made before a misbehaving client: after the bad
 * client is closed, a fresh client publishes and the observer must get it. */
int observer_start(struct itest *t);
void observer_check(struct itest *t, int observer);

/* ---- TLS (harness_tls.c): certificates made at test time ---- */

/* A temporary folder of PEM files made with the openssl command: ca.crt /
 * ca.key (the test CA), server.crt / server.key (CN starling-test, for
 * 127.0.0.1, signed by the CA). Never committed: made per test binary. */
struct tls_pki {
    char dir[64];
};
void tls_pki_make(struct tls_pki *k);
void tls_pki_remove(struct tls_pki *k);
/* dir/name into out; returns out. */
const char *tls_path(const struct tls_pki *k, const char *name, char *out, size_t cap);
/* A self-signed CA name.crt / name.key. */
void tls_make_ca(const struct tls_pki *k, const char *name);
/* name.crt / name.key: an EC P-256 key, subject subj (e.g. "/CN=alice"),
 * signed by the CA issuer (a tls_make_ca name, e.g. "ca"), valid for days
 * (a negative number: expired that many days ago). For servers it names
 * 127.0.0.1 and localhost. */
void tls_make_cert(const struct tls_pki *k, const char *name, const char *subj, const char *issuer,
                   int days);
/* {"cert": dir/cert.crt, "key": dir/cert.key, ...extra} into out (extra:
 * more JSON members, or NULL). */
/* The same with a subject of one CN given as raw text, "\\0" standing for a
 * NUL byte (a certificate openssl's command line cannot make). */
void tls_make_cert_raw_cn(const struct tls_pki *k, const char *name, const char *cn,
                          const char *issuer);
const char *tls_listener_json(const struct tls_pki *k, const char *cert, const char *extra,
                              char *out, size_t cap);
/* openssl s_client -connect 127.0.0.1:port args... with stdin at EOF; its
 * output into out. True if a TLS session was established. */
bool tls_s_client(int port, const char *const args[], char *out, size_t cap);

#endif
