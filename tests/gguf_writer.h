/*
 * gguf_writer.h - builds GGUF files in memory for tests.
 *
 * The writer appends fields in file order, little-endian, and validates
 * nothing, so a test can write a valid file and then break one field of it.
 * To do so, record w.n_bytes before a field, then patch that field or cut
 * the file there by lowering w.n_bytes.
 *
 * A metadata pair is gguf_put_key() followed by its value: one gguf_put_*
 * scalar, gguf_put_str(), or gguf_put_array() followed by the elements.
 * Arrays nest the same way: an element of an array of arrays is another
 * gguf_put_array() and its elements.
 *
 *   gguf_put_header(&w, 3, 1, 2);
 *   gguf_put_kv_str(&w, "general.architecture", "llama");
 *   gguf_put_key(&w, "test.pairs", GGUF_ARRAY);
 *   gguf_put_array(&w, GGUF_ARRAY, 1);
 *   gguf_put_array(&w, GGUF_UINT8, 2);
 *   gguf_put_u8(&w, 1);
 *   gguf_put_u8(&w, 2);
 *   gguf_put_tensor_info(&w, "w", 1, ne, LLM_TYPE_F32, 0);
 *   gguf_put_padding(&w, 32);
 *   gguf_put_zeros(&w, 4 * ne[0]);
 */
#ifndef PINFER_GGUF_WRITER_H
#define PINFER_GGUF_WRITER_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    uint8_t *bytes;
    size_t n_bytes;
    size_t capacity;
} gguf_writer;

/* Starts an empty file, which gguf_writer_free() releases. */
void gguf_writer_init(gguf_writer *w);
void gguf_writer_free(gguf_writer *w);

/* Writes the file to path. Returns 0, or -1 if it cannot be written. */
int gguf_writer_save(const gguf_writer *w, const char *path);

/* Appends one field. Each aborts the test run when memory runs out. */
void gguf_put_u8(gguf_writer *w, uint8_t v);
void gguf_put_u16(gguf_writer *w, uint16_t v);
void gguf_put_u32(gguf_writer *w, uint32_t v);
void gguf_put_u64(gguf_writer *w, uint64_t v);
void gguf_put_f32(gguf_writer *w, float v);
void gguf_put_f64(gguf_writer *w, double v);
void gguf_put_bytes(gguf_writer *w, const void *bytes, size_t n);
void gguf_put_zeros(gguf_writer *w, size_t n);

/* Appends a GGUF string: u64 length, then the bytes of s without its NUL. */
void gguf_put_str(gguf_writer *w, const char *s);

/* Appends magic "GGUF", version, tensor count and metadata pair count. */
void gguf_put_header(gguf_writer *w, uint32_t version, uint64_t n_tensors, uint64_t n_kv);

/* Appends the key and value type of a metadata pair. The caller appends the value. */
void gguf_put_key(gguf_writer *w, const char *key, uint32_t type);

/* Appends an array header (element type, count). The caller appends n elements. */
void gguf_put_array(gguf_writer *w, uint32_t element_type, uint64_t n);

/* Appends a whole metadata pair of the common types. */
void gguf_put_kv_u32(gguf_writer *w, const char *key, uint32_t v);
void gguf_put_kv_str(gguf_writer *w, const char *key, const char *v);

/* Appends a tensor info: name, n_dims, ne[0..n_dims), type, data offset. */
void gguf_put_tensor_info(gguf_writer *w, const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t type,
                          uint64_t offset);

/* Appends zero bytes up to the next multiple of alignment. */
void gguf_put_padding(gguf_writer *w, uint64_t alignment);

/* Overwrites a field appended earlier at byte offset. */
void gguf_patch_u32(gguf_writer *w, size_t offset, uint32_t v);
void gguf_patch_u64(gguf_writer *w, size_t offset, uint64_t v);

/*
 * The broken files of test_gguf.c, one per failure kind, for test_cli.c to
 * replay through the CLI. Builds case i into an empty w and stores its name
 * and a distinctive part of the message gguf_open() must give. Returns 1, or
 * 0 when i is past the last case.
 */
int gguf_broken_case(size_t i, gguf_writer *w, const char **name, const char **expected);

#endif
