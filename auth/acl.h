/* ACL file: loads a Mosquitto acl_file (anonymous rules first, then `user`
 * sections, `topic` and `pattern` lines with read, write, readwrite or deny)
 * into precompiled per-user rule lists, and answers "may this client
 * publish to / read this topic, subscribe to this filter?". A check walks
 * the client's section and then the patterns once, O(rules x levels), with
 * no allocation. Reads only the file it is given; does no I/O on clients. */
#ifndef STARLING_AUTH_ACL_H
#define STARLING_AUTH_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A topic filter or a user name may be as long as an MQTT string; a line
 * holds one of them plus its keyword and access word. */
#define ACL_MAX_STRING 65535u
#define ACL_MAX_LINE (ACL_MAX_STRING + 64u)
/* A whole file is read into memory first: far beyond any real ACL. */
#define ACL_MAX_FILE (64u << 20)

enum acl_access {
    ACL_READ = 1,  /* receive messages on the topic */
    ACL_WRITE = 2, /* publish to the topic */
};

struct acl;

/* Who is asking: the client id and, if the client gave one, the user name
 * its CONNECT authenticated with. The bytes are borrowed for the call. */
struct acl_who {
    const uint8_t *id;
    size_t id_len;
    bool has_user;
    const uint8_t *user;
    size_t user_len;
};

/* Reads and compiles the file at path. On error returns NULL and writes one
 * line into err naming the file and line and what was expected (e.g.
 * "FILE:3: expected read, write, readwrite or deny, found 'reed'"). */
struct acl *acl_load(const char *path, char *err, size_t errlen);
/* The same from bytes in memory; name stands for the file in errors. */
struct acl *acl_parse(const char *text, size_t len, const char *name, char *err, size_t errlen);
void acl_free(struct acl *a);

/* Rules loaded (topic and pattern lines) and user sections, for the log. */
size_t acl_rule_count(const struct acl *a);
size_t acl_user_count(const struct acl *a);

/* May w publish to (ACL_WRITE) or receive (ACL_READ) this topic name?
 * Mosquitto's order: the client's own section (the anonymous one without a
 * user name), deny lines first, then the pattern lines the same way; the
 * first line that matches and denies or grants decides; nothing = denied.
 * A topic starting with '$' is matched only by a line whose first level is
 * that same '$' word (MQTT-4.7.2-1). A client id or user name containing
 * '+', '#' or '/' gets nothing from pattern lines. */
bool acl_check(const struct acl *a, const struct acl_who *w, const uint8_t *topic, size_t len,
               enum acl_access access);

/* May w subscribe to this filter? Granted when, in the same order, a line
 * granting read covers every topic the filter matches (`foo/+` under
 * `foo/#`) before a deny line covers all of it; a deny line covering only
 * part of it (`secret/#` under a `#` subscription) leaves that part to the
 * delivery check above. */
bool acl_check_subscribe(const struct acl *a, const struct acl_who *w, const uint8_t *filter,
                         size_t len);

#endif
