/* SIGHUP: re-read the configuration and apply what can change while
 * clients stay connected; and the file descriptor limit that
 * limits.max_connections needs (at start and after a reload). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

#include "auth/acl.h"
#include "auth/passwd.h"
#include "broker/broker.h"
#include "broker/net/listener.h"
#include "broker/route/retain.h"
#include "broker/session/session_mgr.h"

int broker_load_passwords(struct broker *b, const struct auth_config *auth, struct passwd_db **db)
{
    if (!auth->password_file[0]) {
        passwd_free(*db);
        *db = NULL;
        return 0;
    }
    char err[CONFIG_ERR_MAX];
    struct passwd_db *next = passwd_load(auth->password_file, err, sizeof err);
    if (!next) {
        log_error(&b->log, "password file: %s", err);
        return -1;
    }
    passwd_free(*db);
    *db = next;
    log_info(&b->log, "password file %s: %zu users", auth->password_file, passwd_count(next));
    return 0;
}

int broker_load_acl(struct broker *b, const struct auth_config *auth, struct acl **acl)
{
    if (!auth->acl_file[0]) {
        acl_free(*acl);
        *acl = NULL;
        return 0;
    }
    char err[CONFIG_ERR_MAX];
    struct acl *next = acl_load(auth->acl_file, err, sizeof err);
    if (!next) {
        log_error(&b->log, "ACL file: %s", err);
        return -1;
    }
    /* Sessions hold no pointer into the ACL: every check reads the one in
     * use, so the new rules apply from the next message on. */
    acl_free(*acl);
    *acl = next;
    log_info(&b->log, "ACL file %s: %zu rules, %zu users", auth->acl_file, acl_rule_count(next),
             acl_user_count(next));
    return 0;
}

/* Each connection is a file descriptor: ask for enough for max_connections.
 * Raising the hard limit works only with CAP_SYS_RESOURCE (root); otherwise
 * the soft limit goes up to the hard one. */
void broker_raise_fd_limit(struct broker *b, bool announce)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return;
    rlim_t want = (rlim_t)b->cfg.limits.max_connections + 64;
    if (rl.rlim_cur >= want) return;
    struct rlimit up = {want, rl.rlim_max > want ? rl.rlim_max : want};
    if (setrlimit(RLIMIT_NOFILE, &up) != 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    if (announce && getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < want)
        log_info(&b->log,
                 "file descriptor limit %llu is below limits.max_connections %u: it caps "
                 "connections (raise it with ulimit -n or LimitNOFILE)",
                 (unsigned long long)rl.rlim_cur, b->cfg.limits.max_connections);
}

void broker_reload_tls(struct broker *b, const struct config *next)
{
    for (size_t i = 0; i < b->n_listeners; i++) {
        struct listener *l = &b->listeners[i];
        if (!l->tls) continue;
        /* Connections made so far keep their reference to the old one. */
        if (listener_load_tls(b, l, &next->listeners[i], &l->tls) < 0) {
            log_error(&b->log, "reload: listener %s keeps the TLS certificate and key it has",
                      l->name);
            continue;
        }
        b->cfg.listeners[i].tls = next->listeners[i].tls;
        log_info(&b->log, "reload: listener %s: TLS certificate %s loaded for new connections",
                 l->name, next->listeners[i].tls.cert);
    }
}

static bool same_listeners(const struct config *a, const struct config *b)
{
    if (a->n_listeners != b->n_listeners) return false;
    for (size_t i = 0; i < a->n_listeners; i++)
        if (a->listeners[i].port != b->listeners[i].port ||
            a->listeners[i].tls.enabled != b->listeners[i].tls.enabled ||
            strcmp(a->listeners[i].bind, b->listeners[i].bind) != 0)
            return false;
    return true;
}

/* The database is opened, restored and locked once at start: switching file
 * or mode under running sessions would lose or duplicate what they hold. */
static bool same_persistence(const struct persistence_config *a, const struct persistence_config *b)
{
    return a->mode == b->mode && a->flush_interval_ms == b->flush_interval_ms &&
           a->max_pending_bytes == b->max_pending_bytes && strcmp(a->path, b->path) == 0;
}

/* SIGHUP: re-read the file; apply what can change without dropping anyone
 * (log level and format, limits, anonymous access, password and ACL
 * files, TLS files), say what needs a
 * restart, and keep everything as it was if the file is invalid. */
void broker_reload(struct broker *b)
{
    if (!b->overrides.path) {
        log_warning(&b->log, "SIGHUP: running on the built-in configuration, nothing to reload");
        return;
    }
    struct config next;
    char err[CONFIG_ERR_MAX];
    if (config_build(&next, &b->overrides, err, sizeof(err)) < 0) {
        log_error(&b->log, "reload failed, keeping the running configuration: %s", err);
        return;
    }
    if (!same_listeners(&b->cfg, &next))
        log_warning(&b->log, "reload: listeners changed in %s; restart starling to apply them",
                    b->overrides.path);
    else
        broker_reload_tls(b, &next);
    if (!same_persistence(&b->cfg.persistence, &next.persistence))
        log_warning(&b->log,
                    "reload: persistence changed in %s; restart starling to apply it (keeping "
                    "mode %s, path %s)",
                    b->overrides.path, persistence_mode_name(b->cfg.persistence.mode),
                    b->cfg.persistence.path);
    /* Re-opened even when unchanged, so logrotate can move the file away. */
    if (log_reopen(&b->log, &next.log) < 0)
        log_error(&b->log, "reload: cannot open log file %s: %s; still logging to the old one",
                  next.log.destination, strerror(errno));
    else
        snprintf(b->cfg.log.destination, sizeof(b->cfg.log.destination), "%s",
                 next.log.destination);
    b->cfg.limits = next.limits;
    retain_set_max_bytes(b->retained, next.limits.max_retained_bytes); /* existing ones stay */
    session_expiry_arm(b); /* limits.session_expiry may have changed */
    /* Read on every SIGHUP, so that added users count at once; a file that
     * does not load keeps the one in use (its error names the line). */
    if (broker_load_passwords(b, &next.auth, &b->passwd) < 0) {
        log_error(&b->log, "reload: keeping the password file in use (%s)",
                  b->cfg.auth.password_file[0] ? b->cfg.auth.password_file : "none");
        memcpy(next.auth.password_file, b->cfg.auth.password_file, sizeof next.auth.password_file);
    }
    if (broker_load_acl(b, &next.auth, &b->acl) < 0) {
        log_error(&b->log, "reload: keeping the ACL file in use (%s)",
                  b->cfg.auth.acl_file[0] ? b->cfg.auth.acl_file : "none");
        memcpy(next.auth.acl_file, b->cfg.auth.acl_file, sizeof next.auth.acl_file);
    }
    b->cfg.auth = next.auth;
    b->cfg.performance = next.performance;
    b->cfg.log.level = b->log.level = next.log.level;
    b->cfg.log.format = b->log.format = next.log.format;
    broker_raise_fd_limit(b, false);
    log_info(&b->log, "configuration reloaded from %s (log level %s)", b->overrides.path,
             log_level_name(b->log.level));
}
