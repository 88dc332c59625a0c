/* starling-bench: the options every scenario reads and the one result each
 * scenario fills. A scenario runs against a broker on host:port, verifies
 * what it measures and prints exactly one RESULT line (report.c). */
#ifndef STARLING_BENCH_BENCH_H
#define STARLING_BENCH_BENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct bench_opts {
    const char *scenario; /* fanin_qos0, fanin_qos1, fanout, latency, qos2, conns, retained,
                             handshakes_full, handshakes_resumed */
    const char *label;    /* scenario= value in the RESULT line (default: scenario) */
    const char *name;     /* broker= value in the RESULT line */
    const char *host;     /* broker address, numeric IPv4 */
    int port;
    pid_t pid;          /* broker process, for CPU and memory; 0 = unknown */
    long count;         /* messages in total over all publishers */
    int pubs, subs;     /* publisher and subscriber connections */
    int qos;            /* publish QoS, also the subscription's requested QoS */
    bool clean;         /* subscribers' clean-session flag; false: persistent, fixed ids */
    int payload;        /* payload bytes (at least 20: id, sequence, timestamp) */
    long window;        /* messages sent but not yet received, at most (per subscriber) */
    int inflight;       /* unacknowledged QoS 1/2 publishes per publisher, at most */
    long rate;          /* paced messages per second in total; 0 = as fast as possible */
    double secs;        /* paced run length (rate * secs messages) */
    long conns;         /* idle connections for `conns` */
    int pending;        /* connection handshakes in flight, at most */
    long per_source;    /* conns per source address 127.0.0.2, .3, ...; 0 = 5000 each beyond 20000,
                           else 127.0.0.1 */
    double timeout;     /* wall-clock limit of the whole scenario, seconds */
    const char *tls_ca; /* TLS to the broker, verified against this CA file; NULL = plain TCP */
};

struct bench_result {
    uint64_t msgs; /* what `rate` counts: deliveries, or connections held */
    double secs;
    uint64_t sent, acked, received, lost, dup, ooo;
    uint64_t p50_us, p99_us, p999_us;
    double broker_cpu_s, bench_cpu_s;
    long rss_kb, per_conn_bytes;
    bool ok;
    char why[256]; /* the first reason for failing */
    /* TLS runs only: what was negotiated, and how many handshakes were
     * full or resumed (abbreviated, the offered session accepted). */
    bool tls;
    char suite[96];
    uint64_t tls_full, tls_resumed;
};

struct btls;
/* For a run with o->tls_ca: the client context, NULL (r failed) if it
 * cannot be made. Without TLS: NULL and nothing failed. */
struct btls *bench_tls_new(const struct bench_opts *o, struct bench_result *r);
/* True (and r failed with the reason) once a handshake of t failed. */
bool bench_tls_failed(const struct btls *t, struct bench_result *r);
/* Copies the handshake counts and suite into r, fails r if a handshake
 * failed, and frees t (NULL is fine). */
void bench_tls_end(struct btls *t, struct bench_result *r);

/* Marks the result failed with a reason (the first reason is kept). */
void result_fail(struct bench_result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void report_print(const struct bench_opts *o, const struct bench_result *r);

int scenario_flow(const struct bench_opts *o, struct bench_result *r);
int scenario_conns(const struct bench_opts *o, struct bench_result *r);
int scenario_retained(const struct bench_opts *o, struct bench_result *r);
int scenario_handshakes(const struct bench_opts *o, struct bench_result *r);

#endif
