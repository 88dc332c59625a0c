/* starling: command line, configuration, and the broker's lifetime. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "config/config.h"

#ifndef STARLING_VERSION
#define STARLING_VERSION "0.1.0"
#endif

static void usage(FILE *out)
{
    fprintf(out, "Usage: starling [-c FILE] [-p PORT] [-v] [--help] [--version]\n"
                 "\n"
                 "An MQTT 3.1.1 (and 3.1) broker.\n"
                 "\n"
                 "  -c FILE     load the JSON configuration FILE (see config/README.md);\n"
                 "              without it: listen on 127.0.0.1:1883, anonymous clients allowed\n"
                 "  -p PORT     listen on PORT instead of the first listener's port\n"
                 "  -v          verbose: log at debug level\n"
                 "  --help      show this help and exit\n"
                 "  --version   show the version and exit\n"
                 "\n"
                 "Precedence: built-in defaults < configuration file < command line.\n"
                 "SIGINT or SIGTERM shut the broker down cleanly.\n");
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

int main(int argc, char **argv)
{
    const char *config_path = NULL;
    const char *port_arg = NULL;
    bool verbose = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "--version") == 0) {
            printf("starling %s (MQTT 3.1.1 and 3.1)\n", STARLING_VERSION);
            return 0;
        } else if (strcmp(a, "-v") == 0) {
            verbose = true;
        } else if ((strcmp(a, "-c") == 0 || strcmp(a, "-p") == 0) && i + 1 < argc) {
            if (a[1] == 'c')
                config_path = argv[++i];
            else
                port_arg = argv[++i];
        } else {
            fprintf(stderr, "starling: unknown or incomplete option '%s'\n\n", a);
            usage(stderr);
            return 2;
        }
    }

    struct config cfg;
    config_defaults(&cfg);
    char err[CONFIG_ERR_MAX];
    if (config_path && config_load(&cfg, config_path, err, sizeof(err)) < 0) {
        fprintf(stderr, "starling: %s\n", err);
        return 1;
    }
    if (port_arg && parse_port(port_arg, &cfg.listeners[0].port) < 0) {
        fprintf(stderr, "starling: -p: expected a port from 0 to 65535, found '%s'\n", port_arg);
        return 2;
    }
    if (verbose) cfg.log.level = LOG_DEBUG;

    static struct broker broker; /* the one broker context; large, so not on the stack */
    int rc = 1;
    if (broker_init(&broker, &cfg) == 0) {
        log_info(&broker.log, "starling %s running", STARLING_VERSION);
        rc = broker_run(&broker);
    }
    broker_free(&broker);
    return rc;
}
