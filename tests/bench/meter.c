/* Clocks and /proc readings (meter.h). */
#include "tests/bench/meter.h"

#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Reads /proc/PID/<file> into buf; 0 on success. */
static int read_proc(pid_t pid, const char *file, char *buf, size_t cap)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
    FILE *f = fopen(path, "r");
    if (!f) return -1;
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    return 0;
}

/* Field 3 (state) onwards follow the last ')' because comm may hold spaces. */
static const char *stat_fields(pid_t pid, char *buf, size_t cap)
{
    if (pid <= 0 || read_proc(pid, "stat", buf, cap) < 0) return NULL;
    const char *p = strrchr(buf, ')');
    return p ? p + 2 : NULL;
}

double proc_cpu_s(pid_t pid)
{
    char buf[1024];
    const char *p = stat_fields(pid, buf, sizeof buf);
    unsigned long long ut, st;
    /* state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
    if (!p || sscanf(p, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

long proc_rss_kb(pid_t pid)
{
    char buf[4096];
    if (pid <= 0 || read_proc(pid, "status", buf, sizeof buf) < 0) return -1;
    const char *p = strstr(buf, "VmRSS:");
    long kb;
    return p && sscanf(p, "VmRSS: %ld", &kb) == 1 ? kb : -1;
}

int proc_alive(pid_t pid)
{
    char buf[1024];
    const char *p = stat_fields(pid, buf, sizeof buf);
    return p && *p != 'Z' && *p != 'X';
}

static double self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

void meter_start(struct meter *m, pid_t pid)
{
    m->pid = pid;
    m->broker_cpu0 = proc_cpu_s(pid);
    m->self_cpu0 = self_cpu_s();
}

void meter_stop(const struct meter *m, struct bench_result *r)
{
    double b = proc_cpu_s(m->pid);
    r->broker_cpu_s = (b >= 0 && m->broker_cpu0 >= 0) ? b - m->broker_cpu0 : -1;
    r->bench_cpu_s = self_cpu_s() - m->self_cpu0;
    r->rss_kb = proc_rss_kb(m->pid);
}
