/* The one machine-readable RESULT line per scenario (README.md documents
 * every key); the reason for a failure goes to stderr. */
#include "tests/bench/bench.h"

#include <stdarg.h>
#include <stdio.h>

void result_fail(struct bench_result *r, const char *fmt, ...)
{
    if (!r->ok) return;
    r->ok = false;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->why, sizeof r->why, fmt, ap);
    va_end(ap);
}

void report_print(const struct bench_opts *o, const struct bench_result *r)
{
    double rate = r->secs > 0 ? (double)r->msgs / r->secs : 0;
    printf("RESULT scenario=%s broker=%s status=%s msgs=%llu secs=%.3f rate=%.0f sent=%llu "
           "acked=%llu received=%llu lost=%llu dup=%llu ooo=%llu p50_us=%llu p99_us=%llu "
           "p999_us=%llu broker_cpu_s=%.2f bench_cpu_s=%.2f rss_kb=%ld per_conn_bytes=%ld",
           o->label, o->name, r->ok ? "ok" : "fail", (unsigned long long)r->msgs, r->secs, rate,
           (unsigned long long)r->sent, (unsigned long long)r->acked,
           (unsigned long long)r->received, (unsigned long long)r->lost, (unsigned long long)r->dup,
           (unsigned long long)r->ooo, (unsigned long long)r->p50_us, (unsigned long long)r->p99_us,
           (unsigned long long)r->p999_us, r->broker_cpu_s, r->bench_cpu_s, r->rss_kb,
           r->per_conn_bytes);
    /* Only TLS runs carry these, so plain RESULT lines stay as they were. */
    if (r->tls)
        printf(" tls=%s full=%llu resumed=%llu", r->suite[0] ? r->suite : "-",
               (unsigned long long)r->tls_full, (unsigned long long)r->tls_resumed);
    putchar('\n');
    fflush(stdout);
    if (!r->ok) fprintf(stderr, "starling-bench: %s on %s FAILED: %s\n", o->label, o->name, r->why);
}
