/* utf8.c - see utf8.h. */
#include "utf8.h"

#include <string.h>

/* Length of the sequence a lead byte starts, 0 for a continuation byte, 1 for an invalid lead. */
static size_t sequence_length(unsigned char c)
{
    if (c < 0x80)
        return 1;
    if (c < 0xc0)
        return 0;
    if (c < 0xe0)
        return 2;
    if (c < 0xf0)
        return 3;
    if (c < 0xf8)
        return 4;
    return 1;
}

size_t llm_utf8_push(llm_utf8_stream *s, const char *bytes, size_t n, char *out)
{
    size_t total, i, start, keep = 0;

    memcpy(out, s->pending, s->n_pending);
    memcpy(out + s->n_pending, bytes, n);
    total = s->n_pending + n;

    /* Look back at most 3 bytes for the lead byte of the last character. */
    for (i = 0; i < 4 && i < total; i++) {
        start = total - 1 - i;
        size_t len = sequence_length((unsigned char)out[start]);
        if (len == 0)
            continue;
        if (len > i + 1)
            keep = i + 1;
        break;
    }
    memcpy(s->pending, out + total - keep, keep);
    s->n_pending = keep;
    return total - keep;
}

size_t llm_utf8_flush(llm_utf8_stream *s, char *out)
{
    size_t n = s->n_pending;

    memcpy(out, s->pending, n);
    s->n_pending = 0;
    return n;
}
