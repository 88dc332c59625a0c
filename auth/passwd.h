/* Password file: loads a Mosquitto password file ($6$, $7$ and $argon2id$
 * lines) into memory and answers "is this the password of that user?" in
 * time that does not reveal whether the user exists. Reads only the file it
 * is given; knows nothing of clients or the network. */
#ifndef STARLING_AUTH_PASSWD_H
#define STARLING_AUTH_PASSWD_H

#include <stddef.h>
#include <stdint.h>

/* Iterations of PBKDF2-HMAC-SHA512 for hashes this module makes. Mosquitto
 * 2.0 writes 101 and 2.1 writes 1000; 2000 is twice 2.1's. The check runs on
 * the event loop's thread, and mbedtls 2.28 takes about 2.5 us an iteration
 * (measured on the 2-core dev box: 10000 iterations cost 25 ms, which would
 * cap CONNECTs at 40 a second), so 2000 keeps one CONNECT near 5 ms. */
#define PASSWD_DEFAULT_ITERATIONS 2000u

/* Limits on what a file line may ask for, so that one hostile or mistaken
 * line cannot stall the event loop for seconds on every CONNECT. A line
 * above them is refused. 100000 iterations cost about 250 ms there; the
 * argon2id limit on memory x passes about 300 ms (libargon2, one lane). */
#define PASSWD_MAX_ITERATIONS 100000u
#define PASSWD_MAX_ARGON2_MEMORY_KIB 65536u /* 64 MiB */
#define PASSWD_MAX_ARGON2_PASSES 16u
#define PASSWD_MAX_ARGON2_WORK_KIB 131072u /* memory x passes */
#define PASSWD_MAX_ARGON2_LANES 16u

/* Room for any string passwd_hash7 writes, with its NUL. */
#define PASSWD_HASH7_MAX 160

enum passwd_result {
    PASSWD_OK,  /* the user exists and the password is theirs */
    PASSWD_BAD, /* wrong password or unknown user: the caller cannot tell which */
};

struct passwd_db;

/* Reads the file at path. On error returns NULL and writes one line into err
 * (file name and line number for a bad line, e.g. "FILE:3: expected
 * user:$7$..."). A user that appears twice is an error naming both lines. */
struct passwd_db *passwd_load(const char *path, char *err, size_t errlen);

void passwd_free(struct passwd_db *db);

size_t passwd_count(const struct passwd_db *db);

/* An unknown user is checked against a stored entry of the same cost, so it
 * takes as long as a wrong password. A NULL db knows nobody. */
enum passwd_result passwd_check(const struct passwd_db *db, const uint8_t *user, size_t ulen,
                                const uint8_t *pw, size_t pwlen);

/* Writes "$7$ITER$SALT$HASH" (random 12-byte salt from getrandom, as
 * Mosquitto 2.0 writes, so its readers accept it) for pw into out.
 * Returns 0, or -1 if iterations is 0 or above the maximum, outlen is too
 * small, or no random bytes could be had. */
int passwd_hash7(const uint8_t *pw, size_t len, unsigned iterations, char *out, size_t outlen);

#endif
