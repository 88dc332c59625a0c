/* Logging: one line per event, with a UTC timestamp and level, as text or
 * JSON, to stderr or a file. The logger is plain state owned by the broker
 * and passed explicitly; lines below the configured level cost one compare. */
#ifndef STARLING_BROKER_LOG_H
#define STARLING_BROKER_LOG_H

#include <stdio.h>

#include "config/config.h"

struct logger {
    enum log_level level;
    enum log_format format;
    FILE *out;     /* stderr or an opened file */
    bool owns_out; /* out was opened by log_open and must be closed */
};

/* Point the logger at the configured destination. Returns 0, or -1 with
 * errno set if a log file cannot be opened (the logger then uses stderr). */
int log_open(struct logger *l, const struct log_config *cfg);
void log_close(struct logger *l);
/* Re-open the destination (after logrotate moved the file, or for a new
 * path). On failure the logger keeps writing where it was; -1, errno set. */
int log_reopen(struct logger *l, const struct log_config *cfg);

#define log_enabled(l, lvl) ((lvl) <= (l)->level)

void log_write(struct logger *l, enum log_level lvl, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_error(l, ...) log_write((l), LOG_ERROR, __VA_ARGS__)
#define log_warning(l, ...)                                                                        \
    do {                                                                                           \
        if (log_enabled((l), LOG_WARNING)) log_write((l), LOG_WARNING, __VA_ARGS__);               \
    } while (0)
#define log_info(l, ...)                                                                           \
    do {                                                                                           \
        if (log_enabled((l), LOG_INFO)) log_write((l), LOG_INFO, __VA_ARGS__);                     \
    } while (0)
#define log_debug(l, ...)                                                                          \
    do {                                                                                           \
        if (log_enabled((l), LOG_DEBUG)) log_write((l), LOG_DEBUG, __VA_ARGS__);                   \
    } while (0)

#endif
