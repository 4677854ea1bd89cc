/*
 * utf8.h - holds back the bytes of an unfinished UTF-8 character while
 * token pieces stream out, so a reader never sees half a character.
 */
#ifndef PINFER_UTF8_H
#define PINFER_UTF8_H

#include <stddef.h>

typedef struct {
    char pending[4]; /* the start of a character whose last bytes have not arrived */
    size_t n_pending;
} llm_utf8_stream;

/*
 * Appends n bytes and writes to out every byte that ends a complete
 * character, or that can never become one (invalid bytes pass through as
 * they are). out needs room for n + 4 bytes. Returns the bytes written.
 */
size_t llm_utf8_push(llm_utf8_stream *s, const char *bytes, size_t n, char *out);

/* Writes whatever is still held (at most 4 bytes) and empties the stream. */
size_t llm_utf8_flush(llm_utf8_stream *s, char *out);

#endif
