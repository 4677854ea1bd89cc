/* gguf_writer.c - the in-memory GGUF builder of gguf_writer.h. */
#include "gguf_writer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gguf.h"

void gguf_writer_init(gguf_writer *w)
{
    memset(w, 0, sizeof *w);
}

void gguf_writer_free(gguf_writer *w)
{
    free(w->bytes);
    memset(w, 0, sizeof *w);
}

int gguf_writer_save(const gguf_writer *w, const char *path)
{
    FILE *fp = fopen(path, "wb");
    int ok;

    if (!fp)
        return -1;
    ok = fwrite(w->bytes, 1, w->n_bytes, fp) == w->n_bytes;
    ok = fclose(fp) == 0 && ok;
    return ok ? 0 : -1;
}

/* Returns room for n more bytes at the end of the file. */
static uint8_t *grow(gguf_writer *w, size_t n)
{
    uint8_t *p;

    if (w->capacity - w->n_bytes < n) {
        size_t capacity = w->capacity ? w->capacity : 256;
        while (capacity - w->n_bytes < n)
            capacity *= 2;
        w->bytes = realloc(w->bytes, capacity);
        if (!w->bytes) {
            fprintf(stderr, "gguf_writer: out of memory growing a test file to %zu bytes\n", capacity);
            abort();
        }
        w->capacity = capacity;
    }
    p = w->bytes + w->n_bytes;
    w->n_bytes += n;
    return p;
}

static void store_le(uint8_t *p, uint64_t v, int n_bytes)
{
    int i;

    for (i = 0; i < n_bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

void gguf_put_u8(gguf_writer *w, uint8_t v)
{
    store_le(grow(w, 1), v, 1);
}

void gguf_put_u16(gguf_writer *w, uint16_t v)
{
    store_le(grow(w, 2), v, 2);
}

void gguf_put_u32(gguf_writer *w, uint32_t v)
{
    store_le(grow(w, 4), v, 4);
}

void gguf_put_u64(gguf_writer *w, uint64_t v)
{
    store_le(grow(w, 8), v, 8);
}

void gguf_put_f32(gguf_writer *w, float v)
{
    uint32_t bits;

    memcpy(&bits, &v, 4);
    gguf_put_u32(w, bits);
}

void gguf_put_f64(gguf_writer *w, double v)
{
    uint64_t bits;

    memcpy(&bits, &v, 8);
    gguf_put_u64(w, bits);
}

void gguf_put_bytes(gguf_writer *w, const void *bytes, size_t n)
{
    if (n)
        memcpy(grow(w, n), bytes, n);
}

void gguf_put_zeros(gguf_writer *w, size_t n)
{
    if (n)
        memset(grow(w, n), 0, n);
}

void gguf_put_str(gguf_writer *w, const char *s)
{
    size_t n = strlen(s);

    gguf_put_u64(w, n);
    gguf_put_bytes(w, s, n);
}

void gguf_put_header(gguf_writer *w, uint32_t version, uint64_t n_tensors, uint64_t n_kv)
{
    gguf_put_bytes(w, "GGUF", 4);
    gguf_put_u32(w, version);
    gguf_put_u64(w, n_tensors);
    gguf_put_u64(w, n_kv);
}

void gguf_put_key(gguf_writer *w, const char *key, uint32_t type)
{
    gguf_put_str(w, key);
    gguf_put_u32(w, type);
}

void gguf_put_array(gguf_writer *w, uint32_t element_type, uint64_t n)
{
    gguf_put_u32(w, element_type);
    gguf_put_u64(w, n);
}

void gguf_put_kv_u32(gguf_writer *w, const char *key, uint32_t v)
{
    gguf_put_key(w, key, GGUF_UINT32);
    gguf_put_u32(w, v);
}

void gguf_put_kv_str(gguf_writer *w, const char *key, const char *v)
{
    gguf_put_key(w, key, GGUF_STRING);
    gguf_put_str(w, v);
}

void gguf_put_tensor_info(gguf_writer *w, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type,
                          uint64_t offset)
{
    uint32_t d;

    gguf_put_str(w, name);
    gguf_put_u32(w, n_dims);
    for (d = 0; d < n_dims; d++)
        gguf_put_u64(w, ne[d]);
    gguf_put_u32(w, type);
    gguf_put_u64(w, offset);
}

void gguf_put_padding(gguf_writer *w, uint64_t alignment)
{
    uint64_t rest = w->n_bytes % alignment;

    if (rest)
        gguf_put_zeros(w, (size_t)(alignment - rest));
}

/* Overwrites n_bytes at offset. A patch past the end is a bug in the test, so it aborts. */
static void patch(gguf_writer *w, size_t offset, uint64_t v, int n_bytes)
{
    if (offset > w->n_bytes || w->n_bytes - offset < (size_t)n_bytes) {
        fprintf(stderr, "gguf_writer: patch of %d bytes at offset %zu is past the end of a %zu-byte file\n", n_bytes,
                offset, w->n_bytes);
        abort();
    }
    store_le(w->bytes + offset, v, n_bytes);
}

void gguf_patch_u32(gguf_writer *w, size_t offset, uint32_t v)
{
    patch(w, offset, v, 4);
}

void gguf_patch_u64(gguf_writer *w, size_t offset, uint64_t v)
{
    patch(w, offset, v, 8);
}
