#include "broker/log.h"

#include <stdarg.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

int log_open(struct logger *l, const struct log_config *cfg)
{
    l->level = cfg->level;
    l->format = cfg->format;
    l->out = stderr;
    l->owns_out = false;
    if (strcmp(cfg->destination, "stderr") == 0) return 0;
    FILE *f = fopen(cfg->destination, "a");
    if (!f) return -1;
    setvbuf(f, NULL, _IOLBF, 0);
    l->out = f;
    l->owns_out = true;
    return 0;
}

int log_reopen(struct logger *l, const struct log_config *cfg)
{
    struct logger next;
    if (log_open(&next, cfg) < 0) return -1;
    log_close(l);
    *l = next;
    return 0;
}

void log_close(struct logger *l)
{
    if (l->owns_out) fclose(l->out);
    l->out = stderr;
    l->owns_out = false;
}

static void json_escaped(FILE *out, const char *s)
{
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(out, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(out, "\\u%04x", ch);
        else
            fputc(ch, out);
    }
}

void log_write(struct logger *l, enum log_level lvl, const char *fmt, ...)
{
    if (!log_enabled(l, lvl)) return;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);

    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[32];
    strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%S", &tm);

    /* Client ids and topics are client-chosen: no control character may
     * forge or split a log line. */
    for (char *p = msg; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) *p = '?';

    if (l->format == LOG_FORMAT_JSON) {
        fprintf(l->out, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"msg\":\"", ts,
                (long)(tv.tv_usec / 1000), log_level_name(lvl));
        json_escaped(l->out, msg);
        fputs("\"}\n", l->out);
    } else {
        fprintf(l->out, "%s.%03ldZ %-7s %s\n", ts, (long)(tv.tv_usec / 1000), log_level_name(lvl),
                msg);
    }
    fflush(l->out);
}
