/*
 * fixture - file-system helpers shared by the unit tests (temporary stores
 * and directories).  Test support only; linked into every unit test program.
 */
#ifndef FIXTURE_H
#define FIXTURE_H

/* Remove path and, if it is a directory, everything below it. */
void rm_rf(const char *path);
/* Remove an SQLite store and its -wal, -shm and -journal companions. */
void unlink_db(const char *path);

#endif /* !FIXTURE_H */
