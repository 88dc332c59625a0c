/* starling: command line, configuration, and the broker's lifetime. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/acl.h"
#include "auth/passwd.h"
#include "broker/broker.h"
#include "broker/healthcheck.h"
#include "broker/net/tls_ctx.h"
#include "config/config.h"

#ifndef STARLING_VERSION
#define STARLING_VERSION "0.1.0"
#endif

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: starling [-c FILE] [-p PORT] [-v] [-t | --healthcheck] [--help] [--version]\n"
            "\n"
            "An MQTT 3.1.1 (and 3.1) broker.\n"
            "\n"
            "  -c FILE     load the JSON configuration FILE (see config/README.md);\n"
            "              without it: listen on 127.0.0.1:1883, anonymous clients allowed\n"
            "  -p PORT     listen on PORT instead of the first listener's port\n"
            "  -v          verbose: log at debug level\n"
            "  -t          check the configuration, print the verdict, exit 0 (valid) or 1\n"
            "  --healthcheck  one MQTT round trip through the broker FILE configures\n"
            "              (its first plain TCP listener), exit 0 (healthy) or 1\n"
            "  --help      show this help and exit\n"
            "  --version   show the version and exit\n"
            "\n"
            "Environment: STARLING_LOG_LEVEL, STARLING_PASSWORD_FILE, STARLING_ACL_FILE,\n"
            "STARLING_ALLOW_ANONYMOUS; for --healthcheck STARLING_HEALTHCHECK_USERNAME and\n"
            "STARLING_HEALTHCHECK_PASSWORD (see README.md).\n"
            "Precedence: built-in defaults < configuration file < environment < command line.\n"
            "SIGINT or SIGTERM shut the broker down cleanly; SIGHUP reloads FILE.\n");
}

static int parse_port(const char *s, uint16_t *port)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || *s == '\0' || *end != '\0' || v < 0 || v > 65535) return -1;
    *port = (uint16_t)v;
    return 0;
}

/* Parse argv into o; returns -1 to exit with *rc (help, version, bad usage). */
enum mode { MODE_RUN, MODE_CHECK_CONFIG, MODE_HEALTHCHECK };

static int parse_args(int argc, char **argv, struct config_overrides *o, enum mode *mode, int *rc)
{
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            *rc = 0;
            return -1;
        } else if (strcmp(a, "--version") == 0) {
            printf("starling %s (MQTT 3.1.1 and 3.1)\n", STARLING_VERSION);
            *rc = 0;
            return -1;
        } else if (strcmp(a, "-v") == 0) {
            o->verbose = true;
        } else if (strcmp(a, "-t") == 0) {
            *mode = MODE_CHECK_CONFIG;
        } else if (strcmp(a, "--healthcheck") == 0) {
            *mode = MODE_HEALTHCHECK;
        } else if (strcmp(a, "-c") == 0 && i + 1 < argc) {
            o->path = argv[++i];
        } else if (strcmp(a, "-p") == 0 && i + 1 < argc) {
            uint16_t port;
            if (parse_port(argv[++i], &port) < 0) {
                fprintf(stderr, "starling: -p: expected a port from 0 to 65535, found '%s'\n",
                        argv[i]);
                *rc = 2;
                return -1;
            }
            o->port = port;
        } else {
            fprintf(stderr, "starling: unknown or incomplete option '%s'\n\n", a);
            usage(stderr);
            *rc = 2;
            return -1;
        }
    }
    return 0;
}

/* starling -t: every TLS listener's certificate, key and CA must load. */
static int check_tls_files(const struct config *cfg)
{
    for (size_t i = 0; i < cfg->n_listeners; i++) {
        if (!cfg->listeners[i].tls.enabled) continue;
        char err[CONFIG_ERR_MAX];
        struct tls_ctx *ctx = tls_ctx_new(&cfg->listeners[i].tls, err, sizeof err);
        if (!ctx) {
            fprintf(stderr, "starling: listeners[%zu].tls: %s\n", i, err);
            return -1;
        }
        if (ctx->warning[0])
            fprintf(stderr, "starling: warning: listeners[%zu].tls: %s\n", i, ctx->warning);
        tls_ctx_unref(ctx);
    }
    return 0;
}

int main(int argc, char **argv)
{
    struct config_overrides o = {.path = NULL, .port = -1, .verbose = false};
    config_env_read(&o.env);
    enum mode mode = MODE_RUN;
    int rc = 0;
    if (parse_args(argc, argv, &o, &mode, &rc) < 0) return rc;
    bool test_only = mode == MODE_CHECK_CONFIG;

    struct config cfg;
    char err[CONFIG_ERR_MAX];
    if (config_build(&cfg, &o, err, sizeof(err)) < 0) {
        fprintf(stderr, "starling: %s\n", err);
        return 1;
    }
    if (mode == MODE_HEALTHCHECK) {
        struct healthcheck_opts h = {.username = getenv("STARLING_HEALTHCHECK_USERNAME"),
                                     .password = getenv("STARLING_HEALTHCHECK_PASSWORD"),
                                     .timeout_ms = 4000}; /* within Docker's usual 5 s */
        return healthcheck_run(&cfg, &h, stdout);
    }
    if (test_only && cfg.auth.password_file[0]) { /* the password file must load too */
        struct passwd_db *db = passwd_load(cfg.auth.password_file, err, sizeof(err));
        if (!db) {
            fprintf(stderr, "starling: password file: %s\n", err);
            return 1;
        }
        passwd_free(db);
    }
    if (test_only && cfg.auth.acl_file[0]) { /* and the ACL file */
        struct acl *acl = acl_load(cfg.auth.acl_file, err, sizeof(err));
        if (!acl) {
            fprintf(stderr, "starling: ACL file: %s\n", err);
            return 1;
        }
        acl_free(acl);
    }
    if (test_only && check_tls_files(&cfg) < 0) return 1;
    if (test_only) { /* like nginx -t: check, say so, touch nothing */
        printf("starling: configuration %s is valid\n", o.path ? o.path : "(built-in default)");
        return 0;
    }

    static struct broker broker; /* the one broker context; large, so not on the stack */
    rc = 1;
    if (broker_init(&broker, &cfg, &o) == 0) {
        log_info(&broker.log, "starling %s running", STARLING_VERSION);
        rc = broker_run(&broker);
    }
    broker_free(&broker);
    return rc;
}
