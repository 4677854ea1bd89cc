/*
 * gguf.h - a validating reader for GGUF files (versions 2 and 3) held in memory.
 *
 * gguf_open() parses the header, every metadata pair and every tensor info
 * from (bytes, n_bytes) and checks each count, length, type, shape and
 * offset against the buffer before use. After it succeeds, every pointer in
 * gguf_file points inside the caller's buffer, which must outlive it.
 * Nothing is copied except the two index arrays.
 */
#ifndef PINFER_GGUF_H
#define PINFER_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"

/* Metadata value types, numbered as in the GGUF specification. */
enum gguf_value_type {
    GGUF_UINT8 = 0,
    GGUF_INT8 = 1,
    GGUF_UINT16 = 2,
    GGUF_INT16 = 3,
    GGUF_UINT32 = 4,
    GGUF_INT32 = 5,
    GGUF_FLOAT32 = 6,
    GGUF_BOOL = 7,
    GGUF_STRING = 8,
    GGUF_ARRAY = 9,
    GGUF_UINT64 = 10,
    GGUF_INT64 = 11,
    GGUF_FLOAT64 = 12,
    GGUF_VALUE_TYPE_COUNT
};

#define GGUF_MAX_DIMS 4
#define GGUF_DEFAULT_ALIGNMENT 32

/* A string inside the file: not NUL-terminated, len bytes at ptr. */
typedef struct {
    const char *ptr;
    uint64_t len;
} gguf_str;

typedef struct {
    gguf_str key;
    uint32_t type; /* enum gguf_value_type */
    union {
        uint64_t u;   /* UINT8..UINT64 and BOOL, zero-extended */
        int64_t i;    /* INT8..INT64, sign-extended */
        double f;     /* FLOAT32, FLOAT64 */
        gguf_str s;   /* STRING */
        struct {
            uint32_t type;       /* element type; may itself be GGUF_ARRAY */
            uint64_t n;          /* element count */
            const uint8_t *data; /* first element as stored in the file */
            uint64_t n_bytes;    /* bytes of all elements as stored */
        } arr;
    } v;
} gguf_kv;

typedef struct {
    gguf_str name;
    uint32_t n_dims;
    uint64_t ne[GGUF_MAX_DIMS]; /* elements per dimension, ne[0] is the row; unused dims are 1 */
    uint32_t type;              /* enum llm_type (quant.h) */
    uint64_t offset;            /* from the start of the data section */
    uint64_t n_bytes;           /* size of the data, from type and shape */
    const void *data;           /* points into the file buffer */
} gguf_tensor;

typedef struct {
    const char *name; /* file name for messages; not owned */
    const uint8_t *bytes;
    uint64_t n_bytes;
    uint32_t version;
    uint64_t n_kv;
    gguf_kv *kv;
    uint64_t n_tensors;
    gguf_tensor *tensors;
    uint64_t alignment;
    uint64_t data_offset; /* start of the tensor data section */
} gguf_file;

/*
 * Parses a GGUF file from memory into f. name appears in error messages.
 * Returns LLM_OK, or LLM_ERR with a message naming the file, what was found
 * and what was expected; f then owns nothing to free.
 */
int gguf_open(gguf_file *f, const void *bytes, size_t n_bytes, const char *name, llm_error *err);

/* Returned by gguf_open_header when the header goes on past the bytes at hand. */
#define GGUF_MORE 1

/*
 * Parses the header, metadata and tensor infos from the first n_loaded bytes
 * of a file of file_bytes, for a caller that streams the file in and wants
 * to check it before the rest arrives. Counts, shapes and offsets are checked
 * against file_bytes; every tensor's data pointer is NULL. Returns LLM_OK,
 * LLM_ERR with a message, or GGUF_MORE when the header needs more bytes than
 * n_loaded (call again with a longer part).
 */
int gguf_open_header(gguf_file *f, const void *bytes, size_t n_loaded, uint64_t file_bytes, const char *name,
                     llm_error *err);
void gguf_close(gguf_file *f);

/* Returns the pair with this key, or NULL. */
const gguf_kv *gguf_find(const gguf_file *f, const char *key);
const gguf_tensor *gguf_find_tensor(const gguf_file *f, const char *name);

/* 1 if s equals the NUL-terminated text, else 0. */
int gguf_str_eq(gguf_str s, const char *text);

/*
 * Typed getters. Each returns LLM_OK and stores the value, or LLM_ERR when
 * the key is missing or has a type that does not convert without loss
 * (any integer type converts to another if the value fits; FLOAT32 and
 * FLOAT64 convert to double).
 */
int gguf_get_u32(const gguf_file *f, const char *key, uint32_t *out, llm_error *err);
int gguf_get_f64(const gguf_file *f, const char *key, double *out, llm_error *err);
int gguf_get_str(const gguf_file *f, const char *key, gguf_str *out, llm_error *err);

/*
 * Fills out[0..n) with the strings of an array of GGUF_STRING (the caller
 * gets n from kv->v.arr.n). The array was validated by gguf_open().
 */
void gguf_array_strings(const gguf_kv *kv, gguf_str *out);

/* Element i of a numeric array, widened; the caller checks i < n and the type. */
double gguf_array_f64(const gguf_kv *kv, uint64_t i);
int64_t gguf_array_i64(const gguf_kv *kv, uint64_t i);

const char *gguf_value_type_name(uint32_t type);

#endif
