/*
 * check.h - the test runner's counting and fixture helpers.
 *
 * A suite is a void function listed in test_main.c. Each check() counts one
 * pass or one failure and prints a line for each failure (and, with -v, for
 * each pass) that shows what was measured and the bound.
 */
#ifndef PINFER_CHECK_H
#define PINFER_CHECK_H

#include <stddef.h>

/* Records one check named name; on failure prints name and the formatted detail. */
void check(int ok, const char *name, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Path of a fixture under ${PINFER_SHARED:-../shared}, in a static buffer. */
const char *shared_path(const char *relative);

/*
 * Reads a whole file into malloc'd memory (NUL-terminated, length in *n).
 * Returns NULL if it cannot; the caller frees.
 */
void *read_file(const char *path, size_t *n);

/* Calls fn(path, ctx) for each file in a directory whose name ends with suffix, in sorted order. */
int for_each_file(const char *dir, const char *suffix, void (*fn)(const char *path, void *ctx), void *ctx);

#endif
