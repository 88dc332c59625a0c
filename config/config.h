/* Broker configuration: one plain struct with defaults, loaded from a JSON
 * file. Loading validates everything before the broker opens any socket and
 * reports the first problem as one line naming the file, the JSON path of
 * the key (e.g. listeners[1].port), what was expected and what was found.
 * Each feature owns one top-level section; adding one touches only its own
 * parser (see config/config.c). */
#ifndef STARLING_CONFIG_CONFIG_H
#define STARLING_CONFIG_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_MAX_LISTENERS 16
#define CONFIG_ERR_MAX 512

enum log_level { LOG_ERROR = 0, LOG_WARNING = 1, LOG_INFO = 2, LOG_DEBUG = 3 };
enum log_format { LOG_FORMAT_TEXT = 0, LOG_FORMAT_JSON = 1 };

#define CONFIG_PATH_MAX 256

/* A listener's "tls" object. Paths are resolved at load: relative ones
 * against the configuration file's folder. */
struct tls_config {
    bool enabled;
    char cert[CONFIG_PATH_MAX];    /* PEM certificate (chain) the server presents */
    char key[CONFIG_PATH_MAX];     /* its PEM private key */
    char ca_file[CONFIG_PATH_MAX]; /* PEM CAs client certificates must chain to, or "" */
    bool require_certificate;      /* clients must present a certificate ca_file signed */
    bool use_identity_as_username; /* the certificate's subject CN is the user name */
};

struct listener_config {
    char bind[64]; /* numeric IPv4 or IPv6 address, e.g. "127.0.0.1", "::", "0.0.0.0" */
    uint16_t port; /* 0 asks the OS for a free port; default 1883, 8883 with tls */
    struct tls_config tls;
};

struct limits_config {
    uint32_t max_connections;     /* concurrent client connections */
    uint32_t max_packet_size;     /* bytes, whole packet, inbound */
    uint16_t max_inflight;        /* outgoing QoS 1/2 awaiting ack, per session */
    uint32_t max_queued_messages; /* waiting behind the inflight window, per session */
    uint64_t max_queued_bytes;    /* payload bytes of those, per session */
    uint16_t max_keepalive;       /* seconds; CONNECTs asking for more are refused */
    uint32_t connect_timeout;     /* seconds a new connection has to send CONNECT */
    /* Slow subscribers (Redis-style output limits): an online subscriber at
     * its queue bound makes its publishers wait; one that stays there this
     * long, or whose queued + unsent bytes pass the hard limit, is dropped. */
    uint32_t slow_subscriber_timeout;   /* seconds */
    uint64_t slow_subscriber_max_bytes; /* 0 = no hard limit */
    uint64_t max_qos0_pending_bytes;    /* unsent bytes before QoS 0 to a client is dropped */
    /* Hardening against hostile clients (see config/README.md). */
    uint64_t max_pending_bytes_total;   /* unsent output of all clients together */
    uint32_t max_connect_size;          /* bytes a connection may send before its CONNECT is done */
    uint64_t max_unauthenticated_bytes; /* input held by all not-yet-connected clients */
    uint32_t max_topic_levels;          /* levels of a topic name or filter */
    uint32_t max_subscriptions_per_client; /* filters per session; more get SUBACK 0x80 */
    uint32_t max_sessions;                 /* sessions, online and offline */
    uint32_t session_expiry; /* seconds a disconnected persistent session is kept; 0 = forever */
    uint64_t max_queued_bytes_total; /* payload bytes queued for offline sessions, all together */
    uint64_t max_retained_bytes;     /* memory of the retained store */
    uint64_t max_input_bytes_total;  /* partial packets buffered by all clients together */
};

struct log_config {
    enum log_level level;
    enum log_format format;
    char destination[256]; /* "stderr" or a file path */
};

struct auth_config {
    bool allow_anonymous;
    /* allow_anonymous came from the default rule, not the file: false when
     * a file opens a non-loopback listener or names a password file. */
    bool anonymous_defaulted;
    char password_file[256]; /* Mosquitto password file, or "" for none */
    char acl_file[256];      /* Mosquitto acl_file, or "" for none (everything allowed) */
};

struct performance_config {
    /* After handling events, keep polling this long (microseconds) before
     * sleeping: a waiting broker wakes without a scheduler round trip, at
     * the cost of a busy core while traffic flows. 0 = off. */
    uint32_t busy_poll_us;
};

enum persistence_mode {
    PERSIST_OFF,      /* nothing stored: a restart starts empty */
    PERSIST_PERIODIC, /* changes committed every flush_interval_ms and at shutdown */
    PERSIST_DURABLE,  /* every acknowledgement waits for the commit that holds it */
};

struct persistence_config {
    enum persistence_mode mode; /* default off */
    /* The SQLite database; default "starling.db" in the working directory,
     * a relative path in a config file is found beside that file. */
    char path[CONFIG_PATH_MAX];
    uint32_t flush_interval_ms; /* periodic mode's commit interval; default 1000 */
    /* Stored changes waiting for their commit (a slow or failing disk):
     * past this, publishers are held back until the disk catches up.
     * Default 64 MiB. */
    uint64_t max_pending_bytes;
};

struct config {
    struct listener_config listeners[CONFIG_MAX_LISTENERS];
    size_t n_listeners;
    struct limits_config limits;
    struct log_config log;
    struct auth_config auth;
    struct performance_config performance;
    struct persistence_config persistence;
};

/* What the command line sets; re-applied over the file at every (re)load,
 * so precedence stays: built-in defaults < file < command line. */
/* The few settings most often changed without editing a file (containers,
 * systemd units), from STARLING_* environment variables; NULL where unset.
 * Checked by config_build like the file's keys. */
struct config_env {
    const char *log_level;       /* STARLING_LOG_LEVEL: error|warning|info|debug */
    const char *password_file;   /* STARLING_PASSWORD_FILE: anonymous off, unless... */
    const char *allow_anonymous; /* STARLING_ALLOW_ANONYMOUS: true|false */
    const char *acl_file;        /* STARLING_ACL_FILE: "" for none */
};

/* Fill e from the process environment. */
void config_env_read(struct config_env *e);

struct config_overrides {
    const char *path;      /* -c FILE, or NULL for the embedded default */
    struct config_env env; /* over the file */
    int port;              /* -p PORT for the first listener, or -1 */
    bool verbose;          /* -v: log level debug */
};

/* Build the configuration: defaults, then the file (if any), then the
 * environment, then the command line. Same error contract as config_load
 * (an environment variable's problem names the variable). */
int config_build(struct config *c, const struct config_overrides *o, char *err, size_t errlen);

/* Whether a listener is reachable only from this host. */
bool config_listener_is_loopback(const struct listener_config *l);

/* The embedded default: one listener on 127.0.0.1:1883, anonymous allowed. */
void config_defaults(struct config *c);

/* Load path over the defaults into *c. Returns 0, or -1 with a one-line
 * message in err (and *c untouched). */
int config_load(struct config *c, const char *path, char *err, size_t errlen);

/* Parse a JSON text (as if read from `name`) over the defaults. Same contract
 * as config_load; used by it and by the tests. */
int config_parse(struct config *c, const char *name, const char *json, char *err, size_t errlen);

const char *log_level_name(enum log_level l);
/* "off", "periodic" or "durable", as the config file spells it. */
const char *persistence_mode_name(enum persistence_mode m);

#endif
