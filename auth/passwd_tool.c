/* starling-passwd: manage a password file the way mosquitto_passwd does, with
 * the same options, writing $7$ (PBKDF2-HMAC-SHA512) lines that both
 * Starling and Mosquitto read. The file is replaced atomically (a temporary
 * file in the same folder, fsync, rename), mode 0600. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "auth/passwd.h"

#define MAX_LINE 2048
#define MAX_LINES 100000

static void usage(FILE *out)
{
    fprintf(out,
            "starling-passwd manages password files for Starling (and Mosquitto).\n"
            "\n"
            "Usage: starling-passwd [-c | -D] passwordfile username\n"
            "       starling-passwd [-c] -b passwordfile username password\n"
            "       starling-passwd -U passwordfile\n"
            " -b : batch mode: the password is taken from the command line.\n"
            " -c : create a new password file, replacing any existing one.\n"
            " -D : delete the user instead of adding it or changing its password.\n"
            " -U : hash every plain-text password of the file (user:password lines).\n"
            "Hashes are $7$ (PBKDF2-HMAC-SHA512, %u iterations, random salt).\n",
            PASSWD_DEFAULT_ITERATIONS);
}

/* The file's lines, as read (without their newline). */
struct lines {
    char **v;
    size_t n;
};

static void lines_free(struct lines *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

static int lines_add(struct lines *l, const char *s)
{
    if (l->n == MAX_LINES) return -1;
    char **v = realloc(l->v, (l->n + 1) * sizeof(*v));
    if (!v) return -1;
    l->v = v;
    if (!(l->v[l->n] = strdup(s))) return -1;
    l->n++;
    return 0;
}

static int lines_read(const char *path, struct lines *l)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "starling-passwd: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    char buf[MAX_LINE];
    int rc = 0;
    while (rc == 0 && fgets(buf, sizeof buf, f)) {
        buf[strcspn(buf, "\r\n")] = '\0';
        rc = lines_add(l, buf);
    }
    fclose(f);
    if (rc < 0) fprintf(stderr, "starling-passwd: %s: too many lines or out of memory\n", path);
    return rc;
}

/* Replace path by the lines, atomically: readers see the old file or the
 * new one, never half of it, and a crash leaves the old one. */
static int lines_write(const char *path, const struct lines *l)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.XXXXXX", path) >= (int)sizeof tmp) return -1;
    int fd = mkstemp(tmp);
    if (fd < 0) {
        fprintf(stderr, "starling-passwd: cannot create %s: %s\n", tmp, strerror(errno));
        return -1;
    }
    fchmod(fd, 0600);
    FILE *f = fdopen(fd, "w");
    bool ok = f != NULL;
    for (size_t i = 0; ok && i < l->n; i++)
        ok = fprintf(f, "%s\n", l->v[i]) >= 0;
    ok = ok && fflush(f) == 0 && fsync(fd) == 0;
    if (f)
        ok = fclose(f) == 0 && ok;
    else
        close(fd);
    if (!ok || rename(tmp, path) != 0) {
        fprintf(stderr, "starling-passwd: cannot write %s: %s\n", path, strerror(errno));
        unlink(tmp);
        return -1;
    }
    return 0;
}

/* The line of user ("user:..."), or -1. */
static long find_user(const struct lines *l, const char *user)
{
    size_t ulen = strlen(user);
    for (size_t i = 0; i < l->n; i++)
        if (strncmp(l->v[i], user, ulen) == 0 && l->v[i][ulen] == ':') return (long)i;
    return -1;
}

static int hashed_line(const char *user, const char *pw, char *out, size_t cap)
{
    char hash[PASSWD_HASH7_MAX];
    if (passwd_hash7((const uint8_t *)pw, strlen(pw), PASSWD_DEFAULT_ITERATIONS, hash,
                     sizeof hash) < 0) {
        fprintf(stderr, "starling-passwd: cannot hash the password (no random bytes?)\n");
        return -1;
    }
    if (snprintf(out, cap, "%s:%s", user, hash) >= (int)cap) return -1;
    return 0;
}

static int set_user(struct lines *l, const char *user, const char *pw)
{
    char line[MAX_LINE];
    if (hashed_line(user, pw, line, sizeof line) < 0) return -1;
    long i = find_user(l, user);
    if (i < 0) return lines_add(l, line);
    char *copy = strdup(line);
    if (!copy) return -1;
    free(l->v[i]);
    l->v[i] = copy;
    return 0;
}

/* Read a password from the terminal without echo, twice; NULL on mismatch. */
static char *prompt_password(char *buf, size_t cap)
{
    char again[MAX_LINE];
    struct termios old, quiet;
    bool tty = tcgetattr(STDIN_FILENO, &old) == 0;
    if (tty) {
        quiet = old;
        quiet.c_lflag &= ~(tcflag_t)ECHO;
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
    }
    fprintf(stderr, "Password: ");
    bool ok = fgets(buf, (int)cap, stdin) != NULL;
    fprintf(stderr, "\nReenter password: ");
    ok = ok && fgets(again, sizeof again, stdin) != NULL;
    fprintf(stderr, "\n");
    if (tty) tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
    if (!ok) return NULL;
    buf[strcspn(buf, "\r\n")] = '\0';
    again[strcspn(again, "\r\n")] = '\0';
    if (strcmp(buf, again) != 0) {
        fprintf(stderr, "starling-passwd: passwords do not match\n");
        return NULL;
    }
    return buf;
}

/* -U: every "user:password" line that is not a hash yet gets hashed. */
static int upgrade(struct lines *l)
{
    for (size_t i = 0; i < l->n; i++) {
        char *s = l->v[i], *colon = strchr(s, ':');
        if (s[0] == '#' || s[0] == '\0' || !colon || colon[1] == '$') continue;
        *colon = '\0';
        char line[MAX_LINE];
        int rc = hashed_line(s, colon + 1, line, sizeof line);
        *colon = ':';
        if (rc < 0) return -1;
        char *copy = strdup(line);
        if (!copy) return -1;
        free(l->v[i]);
        l->v[i] = copy;
    }
    return 0;
}

static bool valid_user(const char *user)
{
    return user[0] != '\0' && !strchr(user, ':') && strlen(user) < 65536;
}

int main(int argc, char **argv)
{
    bool create = false, batch = false, del = false, upg = false;
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] && !argv[i][2]; i++) {
        switch (argv[i][1]) {
        case 'c':
            create = true;
            break;
        case 'b':
            batch = true;
            break;
        case 'D':
            del = true;
            break;
        case 'U':
            upg = true;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 1;
        }
    }
    int left = argc - i;
    bool shape = upg ? left == 1 && !create && !batch && !del
                     : (batch ? left == 3 && !del : left == 2) && !(create && del);
    if (!shape) {
        usage(stderr);
        return 1;
    }
    const char *path = argv[i], *user = argv[i + 1];
    struct lines l = {0};
    int rc = (create ? 0 : lines_read(path, &l));
    if (rc == 0 && upg) {
        rc = upgrade(&l);
    } else if (rc == 0 && !valid_user(user)) {
        fprintf(stderr, "starling-passwd: a user name may not be empty or contain ':'\n");
        rc = -1;
    } else if (rc == 0 && del) {
        long at = find_user(&l, user);
        if (at < 0) {
            fprintf(stderr, "starling-passwd: user %s not found\n", user);
            rc = -1;
        } else {
            free(l.v[at]);
            memmove(&l.v[at], &l.v[at + 1], (l.n - (size_t)at - 1) * sizeof(*l.v));
            l.n--;
        }
    } else if (rc == 0) {
        char buf[MAX_LINE];
        const char *pw = batch ? argv[i + 2] : prompt_password(buf, sizeof buf);
        rc = pw ? set_user(&l, user, pw) : -1;
        if (!batch) memset(buf, 0, sizeof buf);
    }
    if (rc == 0) rc = lines_write(path, &l);
    lines_free(&l);
    return rc == 0 ? 0 : 1;
}
