/* config_load: read a configuration file, bounded in size, and parse it. */
#include "config/config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A real configuration is a few kilobytes; a bigger file is a mistake. */
#define CONFIG_FILE_MAX (1024 * 1024)

static int fail(char *err, size_t errlen, const char *path, const char *what)
{
    if (err != NULL && errlen > 0) snprintf(err, errlen, "%s: %s", path, what);
    return -1;
}

/* The whole file, NUL-terminated, in a malloc'd buffer. */
static char *read_text(const char *path, size_t *len, char *err, size_t errlen)
{
    char msg[160];
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        snprintf(msg, sizeof msg, "cannot read: %s", strerror(errno));
        return fail(err, errlen, path, msg), NULL;
    }
    char *buf = malloc(CONFIG_FILE_MAX + 2);
    size_t n = buf ? fread(buf, 1, CONFIG_FILE_MAX + 1, f) : 0;
    int e = buf == NULL ? ENOMEM : (ferror(f) ? errno : 0);
    fclose(f);
    if (e != 0 || n > CONFIG_FILE_MAX) {
        free(buf);
        if (e != 0)
            snprintf(msg, sizeof msg, "cannot read: %s", strerror(e));
        else
            snprintf(msg, sizeof msg, "too large (more than %d bytes); not a configuration file?",
                     CONFIG_FILE_MAX);
        return fail(err, errlen, path, msg), NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

int config_load(struct config *c, const char *path, char *err, size_t errlen)
{
    size_t len;
    char *text = read_text(path, &len, err, errlen);
    if (text == NULL) return -1;
    int r;
    if (memchr(text, '\0', len) != NULL)
        r = fail(err, errlen, path, "not a text file (it contains a NUL byte)");
    else
        r = config_parse(c, path, text, err, errlen);
    free(text);
    return r;
}
