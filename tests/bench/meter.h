/* Clocks and resource readings for a measurement window: the broker's CPU
 * (utime+stime from /proc/PID/stat) and memory (VmRSS from
 * /proc/PID/status), and the load generator's own CPU (getrusage). */
#ifndef STARLING_BENCH_METER_H
#define STARLING_BENCH_METER_H

#include <stdint.h>
#include <sys/types.h>

#include "tests/bench/bench.h"

struct meter {
    pid_t pid;
    double broker_cpu0, self_cpu0;
};

int64_t now_ns(void);
/* Broker CPU seconds so far, -1 if unknown (no pid or unreadable). */
double proc_cpu_s(pid_t pid);
/* Broker resident memory in KiB, -1 if unknown. */
long proc_rss_kb(pid_t pid);
/* True while the process exists and is not a zombie. */
int proc_alive(pid_t pid);

void meter_start(struct meter *m, pid_t pid);
/* Fills broker_cpu_s, bench_cpu_s and rss_kb of r for the window. */
void meter_stop(const struct meter *m, struct bench_result *r);

#endif
