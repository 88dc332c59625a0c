/* Shared by the store's unit tests and the broker fuzzer: remove a SQLite
 * database with the files SQLite keeps beside it (the WAL; a -shm and a
 * -journal, which Starling's exclusive WAL mode never leaves, but would be
 * left behind if it did). */
#ifndef STARLING_TESTS_STORE_FILES_H
#define STARLING_TESTS_STORE_FILES_H

#include <stdio.h>
#include <unistd.h>

static inline void store_files_remove(const char *db)
{
    static const char *const beside[] = {"-wal", "-shm", "-journal"};
    char p[4096];
    unlink(db);
    for (size_t i = 0; i < sizeof beside / sizeof beside[0]; i++) {
        snprintf(p, sizeof p, "%s%s", db, beside[i]);
        unlink(p);
    }
}

#endif
