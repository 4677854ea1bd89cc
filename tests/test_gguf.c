/*
 * test_gguf.c - the GGUF reader on the fixture models, on a built file with
 * every metadata value type, and on one broken file per failure kind.
 *
 * Broken files are the sample file of build_sample() with one field changed
 * or cut short. Each is opened from a heap copy of exactly its size, so that
 * AddressSanitizer reports any read past the end. test_cli.c replays the same
 * cases through the CLI via gguf_broken_case().
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "gguf.h"
#include "gguf_writer.h"
#include "quant.h"

/* ---- helpers ---- */

/*
 * Opens a copy of bytes[0..n) held in a buffer of exactly n bytes and closes
 * it again. Returns what gguf_open() returned, and err contains its message.
 */
static int open_status(const uint8_t *bytes, size_t n, llm_error *err)
{
    uint8_t *copy = malloc(n);
    gguf_file f;
    int status;

    if (!copy && n) {
        fprintf(stderr, "test_gguf: out of memory copying %zu bytes\n", n);
        abort();
    }
    if (n)
        memcpy(copy, bytes, n);
    err->message[0] = 0;
    status = gguf_open(&f, copy, n, "broken.gguf", err);
    if (status == LLM_OK)
        gguf_close(&f);
    free(copy);
    return status;
}

static uint64_t load_u64(const uint8_t *p)
{
    uint64_t v = 0;
    int i;

    for (i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint32_t load_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* ---- the sample file that broken cases mutate ---- */

enum { KV_ALIGNMENT, KV_TOKENS, KV_ARCH, KV_COUNTS, KV_FLAG, KV_NESTED, SAMPLE_N_KV };
enum { T_A, T_B, SAMPLE_N_TENSORS };

static const char *const sample_keys[SAMPLE_N_KV] = {
    "general.alignment", "tokenizer.ggml.tokens", "general.architecture", "test.counts", "test.flag", "test.nested",
};
static const char *const sample_tensors[SAMPLE_N_TENSORS] = {"a.weight", "b.weight"};

/* Byte offsets of the fields of the sample file. */
struct sample {
    size_t version_at, n_tensors_at, n_kv_at;
    size_t kv_at[SAMPLE_N_KV + 1]; /* start of each pair, then of the first tensor info */
    size_t type_at[SAMPLE_N_KV];   /* value type of each pair */
    size_t value_at[SAMPLE_N_KV];  /* value of each pair (an array's starts with its element type) */
    size_t tensor_at[SAMPLE_N_TENSORS + 1]; /* start of each tensor info, then of the padding */
    size_t n_dims_at[SAMPLE_N_TENSORS], ne_at[SAMPLE_N_TENSORS];
    size_t tensor_type_at[SAMPLE_N_TENSORS], offset_at[SAMPLE_N_TENSORS];
    size_t data_at;
};

/*
 * Builds a valid GGUF v3 file of 6 metadata pairs and 2 tensors into an empty
 * w and records where each field is:
 *   general.alignment     uint32 32
 *   tokenizer.ggml.tokens array of string ["a", "bc"]
 *   general.architecture  string "llama"
 *   test.counts           array of uint32 [1, 2, 3]
 *   test.flag             bool 1
 *   test.nested           array of array of uint8 [[7], [8, 9]]
 *   a.weight  F32  [8, 2] at data offset 0, 64 bytes
 *   b.weight  Q8_0 [32]   at data offset 64, 34 bytes, which end the file
 */
static void build_sample(gguf_writer *w, struct sample *at)
{
    uint64_t ne_a[2] = {8, 2}, ne_b[1] = {32};
    const uint64_t *ne[SAMPLE_N_TENSORS] = {ne_a, ne_b};
    const uint32_t n_dims[SAMPLE_N_TENSORS] = {2, 1};
    const uint32_t types[SAMPLE_N_TENSORS] = {LLM_TYPE_F32, LLM_TYPE_Q8_0};
    const uint64_t offsets[SAMPLE_N_TENSORS] = {0, 64};
    int i;

    gguf_put_header(w, 3, SAMPLE_N_TENSORS, SAMPLE_N_KV);
    at->version_at = 4;
    at->n_tensors_at = 8;
    at->n_kv_at = 16;

    for (i = 0; i < SAMPLE_N_KV; i++) {
        at->kv_at[i] = w->n_bytes;
        gguf_put_str(w, sample_keys[i]);
        at->type_at[i] = w->n_bytes;
        at->value_at[i] = w->n_bytes + 4;
        switch (i) {
        case KV_ALIGNMENT:
            gguf_put_u32(w, GGUF_UINT32);
            gguf_put_u32(w, 32);
            break;
        case KV_COUNTS:
            gguf_put_u32(w, GGUF_ARRAY);
            gguf_put_array(w, GGUF_UINT32, 3);
            gguf_put_u32(w, 1);
            gguf_put_u32(w, 2);
            gguf_put_u32(w, 3);
            break;
        case KV_ARCH:
            gguf_put_u32(w, GGUF_STRING);
            gguf_put_str(w, "llama");
            break;
        case KV_TOKENS:
            gguf_put_u32(w, GGUF_ARRAY);
            gguf_put_array(w, GGUF_STRING, 2);
            gguf_put_str(w, "a");
            gguf_put_str(w, "bc");
            break;
        case KV_FLAG:
            gguf_put_u32(w, GGUF_BOOL);
            gguf_put_u8(w, 1);
            break;
        case KV_NESTED:
            gguf_put_u32(w, GGUF_ARRAY);
            gguf_put_array(w, GGUF_ARRAY, 2);
            gguf_put_array(w, GGUF_UINT8, 1);
            gguf_put_u8(w, 7);
            gguf_put_array(w, GGUF_UINT8, 2);
            gguf_put_u8(w, 8);
            gguf_put_u8(w, 9);
            break;
        }
    }
    at->kv_at[SAMPLE_N_KV] = w->n_bytes;

    for (i = 0; i < SAMPLE_N_TENSORS; i++) {
        at->tensor_at[i] = w->n_bytes;
        at->n_dims_at[i] = w->n_bytes + 8 + strlen(sample_tensors[i]);
        at->ne_at[i] = at->n_dims_at[i] + 4;
        at->tensor_type_at[i] = at->ne_at[i] + 8 * n_dims[i];
        at->offset_at[i] = at->tensor_type_at[i] + 4;
        gguf_put_tensor_info(w, sample_tensors[i], n_dims[i], ne[i], types[i], offsets[i]);
    }
    at->tensor_at[SAMPLE_N_TENSORS] = w->n_bytes;

    gguf_put_padding(w, 32);
    at->data_at = w->n_bytes;
    gguf_put_zeros(w, 64 + 34);
}

/* ---- broken files, one per failure kind ---- */

/* A broken case: changes the sample file (built with layout at) in place. */
typedef void (*break_fn)(gguf_writer *w, const struct sample *at);

static void break_magic(gguf_writer *w, const struct sample *at)
{
    (void)at;
    memcpy(w->bytes, "PK\x03\x04", 4);
}

static void break_empty(gguf_writer *w, const struct sample *at)
{
    (void)at;
    w->n_bytes = 0;
}

static void break_version_1(gguf_writer *w, const struct sample *at)
{
    gguf_patch_u32(w, at->version_at, 1);
}

static void break_version_4(gguf_writer *w, const struct sample *at)
{
    gguf_patch_u32(w, at->version_at, 4);
}

static void break_version_big_endian(gguf_writer *w, const struct sample *at)
{
    gguf_patch_u32(w, at->version_at, 0x03000000u);
}

static void cut_header(gguf_writer *w, const struct sample *at)
{
    w->n_bytes = at->n_kv_at + 3;
}

static void cut_key_length(gguf_writer *w, const struct sample *at)
{
    w->n_bytes = at->kv_at[KV_FLAG] + 5;
}

static void cut_key(gguf_writer *w, const struct sample *at)
{
    w->n_bytes = at->kv_at[KV_FLAG] + 8 + 4;
}

static void cut_value_type(gguf_writer *w, const struct sample *at)
{
    w->n_bytes = at->type_at[KV_FLAG] + 2;
}

static void cut_value(gguf_writer *w, const struct sample *at)
{
    w->n_bytes = at->value_at[KV_COUNTS] + 12 + 6;
}

static void cut_string(gguf_writer *w, const struct sample *at)
{
    w->n_bytes = at->value_at[KV_ARCH] + 8 + 3;
}

static void cut_array(gguf_writer *w, const struct sample *at)
{
    w->n_bytes = at->value_at[KV_TOKENS] + 12 + 4;
}

static void cut_nested_array(gguf_writer *w, const struct sample *at)
{
    w->n_bytes = at->value_at[KV_NESTED] + 12 + 24;
}

static void cut_tensor_name(gguf_writer *w, const struct sample *at)
{
    w->n_bytes = at->tensor_at[T_B] + 8 + 3;
}

static void cut_tensor_dims(gguf_writer *w, const struct sample *at)
{
    w->n_bytes = at->ne_at[T_B] + 5;
}

static void cut_tensor_type(gguf_writer *w, const struct sample *at)
{
    w->n_bytes = at->tensor_type_at[T_B] + 1;
}

static void cut_tensor_offset(gguf_writer *w, const struct sample *at)
{
    w->n_bytes = at->offset_at[T_B] + 7;
}

static void cut_padding(gguf_writer *w, const struct sample *at)
{
    w->n_bytes = at->data_at - 1;
}

static void cut_data(gguf_writer *w, const struct sample *at)
{
    w->n_bytes = at->data_at + 80;
}

static void break_n_kv(gguf_writer *w, const struct sample *at)
{
    gguf_patch_u64(w, at->n_kv_at, UINT64_MAX);
}

static void break_n_tensors(gguf_writer *w, const struct sample *at)
{
    gguf_patch_u64(w, at->n_tensors_at, UINT64_MAX);
}

static void break_array_length(gguf_writer *w, const struct sample *at)
{
    gguf_patch_u64(w, at->value_at[KV_COUNTS] + 4, UINT64_MAX);
}

/* 2^62 + 1 uint32 elements: their byte count wraps to 4 in 64 bits. */
static void break_array_length_wraps(gguf_writer *w, const struct sample *at)
{
    gguf_patch_u64(w, at->value_at[KV_COUNTS] + 4, ((uint64_t)1 << 62) + 1);
}

static void break_string_array_length(gguf_writer *w, const struct sample *at)
{
    gguf_patch_u64(w, at->value_at[KV_TOKENS] + 4, UINT64_MAX);
}

static void break_nested_array_length(gguf_writer *w, const struct sample *at)
{
    gguf_patch_u64(w, at->value_at[KV_NESTED] + 12 + 4, UINT64_MAX);
}

static void break_string_length(gguf_writer *w, const struct sample *at)
{
    gguf_patch_u64(w, at->value_at[KV_ARCH], UINT64_MAX);
}

static void break_key_length(gguf_writer *w, const struct sample *at)
{
    gguf_patch_u64(w, at->kv_at[KV_FLAG], UINT64_MAX - 3);
}

static void break_string_past_end(gguf_writer *w, const struct sample *at)
{
    gguf_patch_u64(w, at->value_at[KV_ARCH], 1000);
}

static void break_dims_product(gguf_writer *w, const struct sample *at)
{
    gguf_patch_u64(w, at->ne_at[T_A], (uint64_t)1 << 32);
    gguf_patch_u64(w, at->ne_at[T_A] + 8, (uint64_t)1 << 32);
}

static void break_dim_zero(gguf_writer *w, const struct sample *at)
{
    gguf_patch_u64(w, at->ne_at[T_A] + 8, 0);
}

/* 2^62 F32 elements in one row: the row's byte count is 2^64, which wraps to 0. */
static void break_row_bytes(gguf_writer *w, const struct sample *at)
{
    gguf_patch_u64(w, at->ne_at[T_A], (uint64_t)1 << 62);
    gguf_patch_u64(w, at->ne_at[T_A] + 8, 1);
}

/* 2^62 + 16 F32 elements in one row: the row's byte count wraps to 64, the tensor's true size. */
static void break_row_bytes_wraps(gguf_writer *w, const struct sample *at)
{
    gguf_patch_u64(w, at->ne_at[T_A], ((uint64_t)1 << 62) + 16);
    gguf_patch_u64(w, at->ne_at[T_A] + 8, 1);
}

static void break_n_dims_5(gguf_writer *w, const struct sample *at)
{
    gguf_patch_u32(w, at->n_dims_at[T_A], 5);
}

static void break_n_dims_0(gguf_writer *w, const struct sample *at)
{
    gguf_patch_u32(w, at->n_dims_at[T_A], 0);
}

static void break_value_type(gguf_writer *w, const struct sample *at)
{
    gguf_patch_u32(w, at->type_at[KV_FLAG], GGUF_VALUE_TYPE_COUNT);
}

static void break_array_type(gguf_writer *w, const struct sample *at)
{
    gguf_patch_u32(w, at->value_at[KV_COUNTS], GGUF_VALUE_TYPE_COUNT);
}

static void break_nested_array_type(gguf_writer *w, const struct sample *at)
{
    gguf_patch_u32(w, at->value_at[KV_NESTED] + 12, 0xffffffffu);
}

static void break_tensor_type_99(gguf_writer *w, const struct sample *at)
{
    gguf_patch_u32(w, at->tensor_type_at[T_A], 99);
}

/* IQ2_XS is ggml type 17: known to ggml, but this build has no kernels for it. */
static void break_tensor_type_iq2_xs(gguf_writer *w, const struct sample *at)
{
    gguf_patch_u32(w, at->tensor_type_at[T_A], 17);
}

static void break_block_multiple(gguf_writer *w, const struct sample *at)
{
    gguf_patch_u64(w, at->ne_at[T_B], 31);
}

static void break_offset_past_end(gguf_writer *w, const struct sample *at)
{
    gguf_patch_u64(w, at->offset_at[T_B], 4096);
}

/* The largest multiple of 32: data_offset + offset wraps past 2^64. */
static void break_offset_near_2_64(gguf_writer *w, const struct sample *at)
{
    gguf_patch_u64(w, at->offset_at[T_B], UINT64_MAX - 31);
}

static void break_tensor_past_end(gguf_writer *w, const struct sample *at)
{
    gguf_patch_u64(w, at->offset_at[T_B], 96);
}

static void break_offset_misaligned(gguf_writer *w, const struct sample *at)
{
    gguf_patch_u64(w, at->offset_at[T_B], 65);
}

static void break_alignment_48(gguf_writer *w, const struct sample *at)
{
    gguf_patch_u32(w, at->value_at[KV_ALIGNMENT], 48);
}

static void break_alignment_0(gguf_writer *w, const struct sample *at)
{
    gguf_patch_u32(w, at->value_at[KV_ALIGNMENT], 0);
}

static void break_alignment_type(gguf_writer *w, const struct sample *at)
{
    gguf_patch_u32(w, at->type_at[KV_ALIGNMENT], GGUF_INT32);
}

/* "test.nested" becomes "test.counts", which has the same length. */
static void break_duplicate_key(gguf_writer *w, const struct sample *at)
{
    memcpy(w->bytes + at->kv_at[KV_NESTED] + 8, "test.counts", 11);
}

static void break_duplicate_tensor(gguf_writer *w, const struct sample *at)
{
    w->bytes[at->tensor_at[T_B] + 8] = 'a';
}

static void break_overlap(gguf_writer *w, const struct sample *at)
{
    gguf_patch_u64(w, at->offset_at[T_B], 32);
}

static void break_bool(gguf_writer *w, const struct sample *at)
{
    w->bytes[at->value_at[KV_FLAG]] = 2;
}

/* Replaces the whole file by one array nested one level deeper than the reader allows. */
static void break_nesting(gguf_writer *w, const struct sample *at)
{
    int depth;

    (void)at;
    w->n_bytes = 0;
    gguf_put_header(w, 3, 0, 1);
    gguf_put_key(w, "test.deep", GGUF_ARRAY);
    for (depth = 1; depth < 9; depth++)
        gguf_put_array(w, GGUF_ARRAY, 1);
    gguf_put_array(w, GGUF_UINT8, 1);
    gguf_put_u8(w, 1);
}

static const struct {
    const char *name;
    break_fn mutate;
    const char *expected; /* a distinctive part of gguf_open()'s message */
} broken_cases[] = {
    {"bad magic", break_magic, "not a GGUF file (first bytes 50 4b 03 04, expected 'GGUF')"},
    {"empty file", break_empty, "the file is empty"},
    {"version 1", break_version_1, "GGUF version 1 is not supported, expected 2 or 3 (version 1 files"},
    {"version 4", break_version_4, "GGUF version 4 is not supported, expected 2 or 3"},
    {"big-endian version 3", break_version_big_endian, "(a big-endian file?"},
    {"cut in header", cut_header, "file truncated in the header"},
    {"cut in key length", cut_key_length, "file truncated in the key of metadata pair 5 of 6"},
    {"cut in key", cut_key, "string in the key of metadata pair 5 of 6"},
    {"cut in value type", cut_value_type, "file truncated in metadata 'test.flag'"},
    {"cut in value", cut_value, "metadata 'test.counts' claims 3 elements of uint32"},
    {"cut in string", cut_string, "string in metadata 'general.architecture'"},
    {"cut in array", cut_array, "metadata 'tokenizer.ggml.tokens' claims 2 elements of string"},
    {"cut in nested array", cut_nested_array, "file truncated in metadata 'test.nested'"},
    {"cut in tensor name", cut_tensor_name, "string in the name of tensor 2 of 2"},
    {"cut in tensor dims", cut_tensor_dims, "file truncated in tensor info 'b.weight': needs 8 more bytes"},
    {"cut in tensor type", cut_tensor_type, "file truncated in tensor info 'b.weight': needs 4 more bytes"},
    {"cut in tensor offset", cut_tensor_offset, "file truncated in tensor info 'b.weight': needs 8 more bytes"},
    {"cut in padding", cut_padding, "tensor data should start at byte"},
    {"cut in data", cut_data, "tensor 'b.weight' ends at byte"},
    {"n_kv overflow", break_n_kv, "header claims 18446744073709551615 metadata pairs"},
    {"n_tensors overflow", break_n_tensors, "header claims 18446744073709551615 tensors"},
    {"array length 2^64-1", break_array_length, "claims 18446744073709551615 elements of uint32"},
    {"array bytes wrap", break_array_length_wraps, "claims 4611686018427387905 elements of uint32"},
    {"string array length", break_string_array_length, "claims 18446744073709551615 elements of string"},
    {"nested array length", break_nested_array_length, "claims 18446744073709551615 elements of uint8"},
    {"string length 2^64-1", break_string_length, "claims 18446744073709551615 bytes but only"},
    {"key length near 2^64", break_key_length, "claims 18446744073709551612 bytes but only"},
    {"string past end", break_string_past_end, "claims 1000 bytes but only"},
    {"dims product overflow", break_dims_product, "dimension 1 of size 4294967296, which makes the element count"},
    {"dim of size 0", break_dim_zero, "dimension 1 of size 0"},
    {"row bytes 2^64", break_row_bytes, "tensor 'a.weight' has rows of 4611686018427387904 elements"},
    {"row bytes wrap", break_row_bytes_wraps, "tensor 'a.weight' has rows of 4611686018427387920 elements"},
    {"n_dims 5", break_n_dims_5, "tensor 'a.weight' has 5 dimensions, expected 1 to 4"},
    {"n_dims 0", break_n_dims_0, "tensor 'a.weight' has 0 dimensions, expected 1 to 4"},
    {"unknown value type", break_value_type, "metadata 'test.flag' has value type 13, expected one of 0..12"},
    {"unknown array type", break_array_type, "metadata 'test.counts' has value type 13"},
    {"unknown nested type", break_nested_array_type, "metadata 'test.nested' has value type 4294967295"},
    {"tensor type 99", break_tensor_type_99, "tensor 'a.weight' has unknown type 99"},
    {"tensor type IQ2_XS", break_tensor_type_iq2_xs, "tensor 'a.weight' has type IQ2_XS, which this build cannot read"},
    {"row not whole blocks", break_block_multiple, "has rows of 31 elements, expected a multiple of 32 for type Q8_0"},
    {"offset past end", break_offset_past_end, "tensor 'b.weight' starts at data offset 4096"},
    {"offset near 2^64", break_offset_near_2_64, "starts at data offset 18446744073709551584"},
    {"tensor past end", break_tensor_past_end, "tensor 'b.weight' ends at byte"},
    {"misaligned offset", break_offset_misaligned, "starts at data offset 65, expected a multiple of the alignment 32"},
    {"alignment 48", break_alignment_48, "general.alignment is 48, expected a power of two"},
    {"alignment 0", break_alignment_0, "general.alignment is 0, expected a power of two"},
    {"alignment type", break_alignment_type, "general.alignment has type int32, expected uint32"},
    {"duplicate key", break_duplicate_key, "metadata key 'test.counts' appears more than once"},
    {"duplicate tensor", break_duplicate_tensor, "tensor 'a.weight' appears more than once"},
    {"overlapping data", break_overlap, "'a.weight' (bytes 0..64 of the data section) overlaps tensor 'b.weight'"},
    {"bool value 2", break_bool, "metadata 'test.flag' is a bool with value 2, expected 0 or 1"},
    {"arrays nested 9 deep", break_nesting, "nests arrays 9 deep, expected at most 8"},
};

#define N_BROKEN_CASES (sizeof broken_cases / sizeof broken_cases[0])

int gguf_broken_case(size_t i, gguf_writer *w, const char **name, const char **expected)
{
    struct sample at;

    if (i >= N_BROKEN_CASES)
        return 0;
    w->n_bytes = 0;
    build_sample(w, &at);
    broken_cases[i].mutate(w, &at);
    *name = broken_cases[i].name;
    *expected = broken_cases[i].expected;
    return 1;
}

static void test_broken_cases(void)
{
    gguf_writer w;
    const char *name, *expected;
    llm_error err;
    char label[128];
    size_t i;

    gguf_writer_init(&w);
    for (i = 0; gguf_broken_case(i, &w, &name, &expected); i++) {
        int status = open_status(w.bytes, w.n_bytes, &err);
        snprintf(label, sizeof label, "gguf broken: %s", name);
        check(status == LLM_ERR && strstr(err.message, expected) != NULL, label,
              "gguf_open returned %d with message '%s', expected %d and a message containing '%s'", status,
              err.message, LLM_ERR, expected);
    }
    gguf_writer_free(&w);
}

/* ---- truncation at every byte ---- */

/* A run of bytes of the sample file and the message a file cut inside it must give. */
struct region {
    size_t start, end;
    char label[64];
    char expected[128];
};

static size_t add_region(struct region *r, size_t n, size_t start, size_t end, const char *label, const char *expected)
{
    r[n].start = start;
    r[n].end = end;
    snprintf(r[n].label, sizeof r[n].label, "%s", label);
    snprintf(r[n].expected, sizeof r[n].expected, "%s", expected);
    return n + 1;
}

/* Splits the sample file into one region per field, in file order. */
static size_t sample_regions(const struct sample *at, size_t n_bytes, struct region *r)
{
    char label[64], expected[128];
    size_t n = 0;
    int i;

    n = add_region(r, n, 0, 1, "empty", "the file is empty");
    n = add_region(r, n, 1, 4, "magic", "not a GGUF file");
    n = add_region(r, n, 4, 24, "header", "file truncated in the header");
    for (i = 0; i < SAMPLE_N_KV; i++) {
        snprintf(label, sizeof label, "key length of pair %d", i + 1);
        snprintf(expected, sizeof expected, "file truncated in the key of metadata pair %d of %d", i + 1,
                 SAMPLE_N_KV);
        n = add_region(r, n, at->kv_at[i], at->kv_at[i] + 8, label, expected);
        snprintf(label, sizeof label, "key of pair %d", i + 1);
        snprintf(expected, sizeof expected, "string in the key of metadata pair %d of %d", i + 1, SAMPLE_N_KV);
        n = add_region(r, n, at->kv_at[i] + 8, at->type_at[i], label, expected);
        snprintf(label, sizeof label, "value type of '%s'", sample_keys[i]);
        snprintf(expected, sizeof expected, "file truncated in metadata '%s'", sample_keys[i]);
        n = add_region(r, n, at->type_at[i], at->value_at[i], label, expected);
        /* A value's message depends on the part cut (length, bytes, element count), but all name the key. */
        snprintf(label, sizeof label, "value of '%s'", sample_keys[i]);
        snprintf(expected, sizeof expected, "metadata '%s'", sample_keys[i]);
        n = add_region(r, n, at->value_at[i], at->kv_at[i + 1], label, expected);
    }
    for (i = 0; i < SAMPLE_N_TENSORS; i++) {
        const char *t = sample_tensors[i];
        snprintf(label, sizeof label, "name length of tensor %d", i + 1);
        snprintf(expected, sizeof expected, "file truncated in the name of tensor %d of %d", i + 1, SAMPLE_N_TENSORS);
        n = add_region(r, n, at->tensor_at[i], at->tensor_at[i] + 8, label, expected);
        snprintf(label, sizeof label, "name of tensor %d", i + 1);
        snprintf(expected, sizeof expected, "string in the name of tensor %d of %d", i + 1, SAMPLE_N_TENSORS);
        n = add_region(r, n, at->tensor_at[i] + 8, at->n_dims_at[i], label, expected);
        snprintf(expected, sizeof expected, "file truncated in tensor info '%s'", t);
        snprintf(label, sizeof label, "n_dims of '%s'", t);
        n = add_region(r, n, at->n_dims_at[i], at->ne_at[i], label, expected);
        snprintf(label, sizeof label, "dims of '%s'", t);
        n = add_region(r, n, at->ne_at[i], at->tensor_type_at[i], label, expected);
        snprintf(label, sizeof label, "type of '%s'", t);
        n = add_region(r, n, at->tensor_type_at[i], at->offset_at[i], label, expected);
        snprintf(label, sizeof label, "offset of '%s'", t);
        n = add_region(r, n, at->offset_at[i], at->tensor_at[i + 1], label, expected);
    }
    n = add_region(r, n, at->tensor_at[SAMPLE_N_TENSORS], at->data_at, "padding", "tensor data should start at byte");
    n = add_region(r, n, at->data_at, n_bytes, "data", "ends at byte");
    return n;
}

/*
 * The header's counts are checked against the bytes left before any pair is
 * read (13 bytes per pair and 28 per tensor at least), so a file cut early
 * fails on them first.
 */
static void expected_for_cut(const struct region *r, size_t cut, char *expected, size_t cap)
{
    size_t left = cut >= 24 ? cut - 24 : 0;

    if (cut >= 24 && left / 13 < SAMPLE_N_KV)
        snprintf(expected, cap, "header claims %d metadata pairs", SAMPLE_N_KV);
    else if (cut >= 24 && left / 28 < SAMPLE_N_TENSORS)
        snprintf(expected, cap, "header claims %d tensors", SAMPLE_N_TENSORS);
    else
        snprintf(expected, cap, "%s", r->expected);
}

static void test_truncation(void)
{
    gguf_writer w;
    struct sample at;
    struct region regions[64];
    size_t n_regions, i, cut, covered = 0;
    llm_error err;
    char label[128], expected[128];
    int status;

    gguf_writer_init(&w);
    build_sample(&w, &at);
    status = open_status(w.bytes, w.n_bytes, &err);
    check(status == LLM_OK, "gguf sample file opens", "gguf_open returned %d (%s), expected %d", status,
          err.message, LLM_OK);
    check(at.tensor_at[SAMPLE_N_TENSORS] + 2 <= at.data_at, "gguf sample has padding",
          "tensor infos end at byte %zu and data starts at %zu, expected at least 2 bytes of padding between",
          at.tensor_at[SAMPLE_N_TENSORS], at.data_at);

    n_regions = sample_regions(&at, w.n_bytes, regions);
    for (i = 0; i < n_regions; i++) {
        const struct region *r = &regions[i];
        size_t bad_cut = 0;
        int bad_status = LLM_ERR;
        char bad_message[sizeof err.message] = "", bad_expected[128] = "";

        if (r->start != covered)
            break;
        covered = r->end;
        for (cut = r->start; cut < r->end; cut++) {
            status = open_status(w.bytes, cut, &err);
            expected_for_cut(r, cut, expected, sizeof expected);
            if (status != LLM_ERR || !strstr(err.message, expected)) {
                bad_cut = cut;
                bad_status = status;
                snprintf(bad_message, sizeof bad_message, "%s", err.message);
                snprintf(bad_expected, sizeof bad_expected, "%s", expected);
                break;
            }
        }
        snprintf(label, sizeof label, "gguf cut in %s", r->label);
        if (cut == r->end)
            check(1, label, "all %zu cuts in bytes %zu..%zu rejected", r->end - r->start, r->start, r->end);
        else
            check(0, label, "file cut to %zu bytes: gguf_open returned %d with message '%s', expected %d and '%s'",
                  bad_cut, bad_status, bad_message, LLM_ERR, bad_expected);
    }
    check(covered == w.n_bytes, "gguf cuts cover the file", "regions cover bytes 0..%zu of %zu", covered, w.n_bytes);
    gguf_writer_free(&w);
}

/*
 * Sets each byte of the sample file in turn to 0x00, 0x01, 0x7f, 0x80 and
 * 0xff. Any outcome is allowed except a crash, a sanitizer report, or a
 * rejection without a message that names the file.
 */
static void test_byte_changes(void)
{
    static const uint8_t values[] = {0x00, 0x01, 0x7f, 0x80, 0xff};
    gguf_writer w;
    struct sample at;
    llm_error err;
    size_t pos, v, n_rejected = 0, n_accepted = 0;
    int ok = 1;

    gguf_writer_init(&w);
    build_sample(&w, &at);
    for (pos = 0; pos < w.n_bytes && ok; pos++) {
        uint8_t original = w.bytes[pos];
        for (v = 0; v < sizeof values && ok; v++) {
            w.bytes[pos] = values[v];
            if (open_status(w.bytes, w.n_bytes, &err) == LLM_OK) {
                n_accepted++;
            } else {
                n_rejected++;
                ok = strncmp(err.message, "broken.gguf: ", 13) == 0;
            }
        }
        w.bytes[pos] = original;
    }
    if (ok)
        check(1, "gguf changed bytes", "%zu files rejected with a message and %zu accepted", n_rejected, n_accepted);
    else
        check(0, "gguf changed bytes", "byte %zu set to 0x%02x: rejected with message '%s', expected 'broken.gguf: '",
              pos - 1, values[v - 1], err.message);
    gguf_writer_free(&w);
}

/* ---- a valid file with every value type ---- */

/* Appends an array of 8 nested levels, the most the reader accepts, holding one uint8 7. */
static void put_deepest_array(gguf_writer *w)
{
    int depth;

    gguf_put_key(w, "t.arr.deep", GGUF_ARRAY);
    for (depth = 1; depth < 8; depth++)
        gguf_put_array(w, GGUF_ARRAY, 1);
    gguf_put_array(w, GGUF_UINT8, 1);
    gguf_put_u8(w, 7);
}

#define ALL_TYPES_N_KV 30

/* Builds a file of the given version with one pair of every value type, alignment 64 and two tensors. */
static void build_all_types(gguf_writer *w, uint32_t version)
{
    uint64_t ne_w[2] = {3, 5}, ne_h[4] = {4, 1, 2, 1};
    int i;

    gguf_put_header(w, version, 2, ALL_TYPES_N_KV);
    gguf_put_key(w, "t.u8", GGUF_UINT8);
    gguf_put_u8(w, 200);
    gguf_put_key(w, "t.i8", GGUF_INT8);
    gguf_put_u8(w, (uint8_t)-100);
    gguf_put_key(w, "t.u16", GGUF_UINT16);
    gguf_put_u16(w, 60000);
    gguf_put_key(w, "t.i16", GGUF_INT16);
    gguf_put_u16(w, (uint16_t)-30000);
    gguf_put_key(w, "t.u32", GGUF_UINT32);
    gguf_put_u32(w, 4000000000u);
    gguf_put_key(w, "t.i32", GGUF_INT32);
    gguf_put_u32(w, (uint32_t)-2000000000);
    gguf_put_key(w, "t.f32", GGUF_FLOAT32);
    gguf_put_f32(w, 1.5f);
    gguf_put_key(w, "t.bool", GGUF_BOOL);
    gguf_put_u8(w, 1);
    gguf_put_kv_str(w, "t.str", "h\xc3\xa9llo");
    gguf_put_key(w, "t.u64", GGUF_UINT64);
    gguf_put_u64(w, ((uint64_t)1 << 63) + 5);
    gguf_put_key(w, "t.i64", GGUF_INT64);
    gguf_put_u64(w, (uint64_t)(-((int64_t)1 << 62) - 3));
    gguf_put_key(w, "t.f64", GGUF_FLOAT64);
    gguf_put_f64(w, -0.1);
    gguf_put_kv_str(w, "t.empty_str", "");
    gguf_put_kv_u32(w, "general.alignment", 64);

    gguf_put_key(w, "t.arr.u8", GGUF_ARRAY);
    gguf_put_array(w, GGUF_UINT8, 3);
    gguf_put_u8(w, 1);
    gguf_put_u8(w, 2);
    gguf_put_u8(w, 255);
    gguf_put_key(w, "t.arr.i8", GGUF_ARRAY);
    gguf_put_array(w, GGUF_INT8, 3);
    gguf_put_u8(w, (uint8_t)-1);
    gguf_put_u8(w, 127);
    gguf_put_u8(w, (uint8_t)-128);
    gguf_put_key(w, "t.arr.u16", GGUF_ARRAY);
    gguf_put_array(w, GGUF_UINT16, 2);
    gguf_put_u16(w, 65535);
    gguf_put_u16(w, 0);
    gguf_put_key(w, "t.arr.i16", GGUF_ARRAY);
    gguf_put_array(w, GGUF_INT16, 2);
    gguf_put_u16(w, (uint16_t)-32768);
    gguf_put_u16(w, 32767);
    gguf_put_key(w, "t.arr.u32", GGUF_ARRAY);
    gguf_put_array(w, GGUF_UINT32, 1);
    gguf_put_u32(w, 4294967295u);
    gguf_put_key(w, "t.arr.i32", GGUF_ARRAY);
    gguf_put_array(w, GGUF_INT32, 2);
    gguf_put_u32(w, (uint32_t)INT32_MIN);
    gguf_put_u32(w, 5);
    gguf_put_key(w, "t.arr.f32", GGUF_ARRAY);
    gguf_put_array(w, GGUF_FLOAT32, 2);
    gguf_put_f32(w, 0.25f);
    gguf_put_f32(w, -2.0f);
    gguf_put_key(w, "t.arr.bool", GGUF_ARRAY);
    gguf_put_array(w, GGUF_BOOL, 2);
    gguf_put_u8(w, 1);
    gguf_put_u8(w, 0);
    gguf_put_key(w, "t.arr.str", GGUF_ARRAY);
    gguf_put_array(w, GGUF_STRING, 3);
    gguf_put_str(w, "");
    gguf_put_str(w, "x");
    gguf_put_str(w, "yz");
    gguf_put_key(w, "t.arr.u64", GGUF_ARRAY);
    gguf_put_array(w, GGUF_UINT64, 1);
    gguf_put_u64(w, ((uint64_t)1 << 40) + 1);
    gguf_put_key(w, "t.arr.i64", GGUF_ARRAY);
    gguf_put_array(w, GGUF_INT64, 1);
    gguf_put_u64(w, (uint64_t)(-((int64_t)1 << 40)));
    gguf_put_key(w, "t.arr.f64", GGUF_ARRAY);
    gguf_put_array(w, GGUF_FLOAT64, 1);
    gguf_put_f64(w, 1e300);
    gguf_put_key(w, "t.arr.empty", GGUF_ARRAY);
    gguf_put_array(w, GGUF_UINT32, 0);
    /* [[1, 2], [3]] of int32 */
    gguf_put_key(w, "t.arr.nested", GGUF_ARRAY);
    gguf_put_array(w, GGUF_ARRAY, 2);
    gguf_put_array(w, GGUF_INT32, 2);
    gguf_put_u32(w, 1);
    gguf_put_u32(w, 2);
    gguf_put_array(w, GGUF_INT32, 1);
    gguf_put_u32(w, 3);
    /* [["a"], []] of string */
    gguf_put_key(w, "t.arr.nested_str", GGUF_ARRAY);
    gguf_put_array(w, GGUF_ARRAY, 2);
    gguf_put_array(w, GGUF_STRING, 1);
    gguf_put_str(w, "a");
    gguf_put_array(w, GGUF_STRING, 0);
    put_deepest_array(w);

    /* w is F32 [3, 5], 60 bytes at offset 0, and h is F16 [4, 1, 2, 1], 16 bytes at offset 64. */
    gguf_put_tensor_info(w, "w", 2, ne_w, LLM_TYPE_F32, 0);
    gguf_put_tensor_info(w, "h", 4, ne_h, LLM_TYPE_F16, 64);
    gguf_put_padding(w, 64);
    for (i = 0; i < 15; i++)
        gguf_put_f32(w, (float)i);
    gguf_put_zeros(w, 4);
    for (i = 0; i < 8; i++)
        gguf_put_u16(w, llm_f32_to_f16((float)i));
}

/* Checks one unsigned scalar pair: its type and value. */
static void check_unsigned(const gguf_file *f, const char *key, uint32_t type, uint64_t expected, const char *label)
{
    const gguf_kv *kv = gguf_find(f, key);
    char name[128];

    snprintf(name, sizeof name, "%s %s", label, key);
    if (!kv) {
        check(0, name, "key not found");
        return;
    }
    check(kv->type == type && kv->v.u == expected, name, "type %s value %llu, expected %s %llu",
          gguf_value_type_name(kv->type), (unsigned long long)kv->v.u, gguf_value_type_name(type),
          (unsigned long long)expected);
}

static void check_signed(const gguf_file *f, const char *key, uint32_t type, int64_t expected, const char *label)
{
    const gguf_kv *kv = gguf_find(f, key);
    char name[128];

    snprintf(name, sizeof name, "%s %s", label, key);
    if (!kv) {
        check(0, name, "key not found");
        return;
    }
    check(kv->type == type && kv->v.i == expected, name, "type %s value %lld, expected %s %lld",
          gguf_value_type_name(kv->type), (long long)kv->v.i, gguf_value_type_name(type), (long long)expected);
}

static void check_float(const gguf_file *f, const char *key, uint32_t type, double expected, const char *label)
{
    const gguf_kv *kv = gguf_find(f, key);
    char name[128];

    snprintf(name, sizeof name, "%s %s", label, key);
    if (!kv) {
        check(0, name, "key not found");
        return;
    }
    /* Exact, because each value is written from a double that float32 or float64 represents exactly. */
    check(kv->type == type && kv->v.f == expected, name, "type %s value %.17g, expected %s %.17g",
          gguf_value_type_name(kv->type), kv->v.f, gguf_value_type_name(type), expected);
}

static void check_string(const gguf_file *f, const char *key, const char *expected, const char *label)
{
    gguf_str s = {NULL, 0};
    llm_error err;
    char name[128];
    int status = gguf_get_str(f, key, &s, &err);

    snprintf(name, sizeof name, "%s %s", label, key);
    check(status == LLM_OK && gguf_str_eq(s, expected), name, "gguf_get_str returned %d, '%.*s', expected '%s'",
          status, status == LLM_OK ? (int)s.len : 0, status == LLM_OK ? s.ptr : "", expected);
}

/* Checks an array of integers (or bools) read through gguf_array_i64(). */
static void check_int_array(const gguf_file *f, const char *key, uint32_t type, uint64_t n, const int64_t *expected,
                            const char *label)
{
    const gguf_kv *kv = gguf_find(f, key);
    char name[128];
    uint64_t i;

    snprintf(name, sizeof name, "%s %s", label, key);
    if (!kv || kv->type != GGUF_ARRAY || kv->v.arr.type != type || kv->v.arr.n != n) {
        check(0, name, "found %s, expected an array of %llu %s", kv ? gguf_value_type_name(kv->type) : "no key",
              (unsigned long long)n, gguf_value_type_name(type));
        return;
    }
    for (i = 0; i < n; i++) {
        if (gguf_array_i64(kv, i) != expected[i])
            break;
    }
    if (i == n)
        check(1, name, "%llu elements of %s match", (unsigned long long)n, gguf_value_type_name(type));
    else
        check(0, name, "element %llu is %lld, expected %lld", (unsigned long long)i, (long long)gguf_array_i64(kv, i),
              (long long)expected[i]);
}

static void check_float_array(const gguf_file *f, const char *key, uint32_t type, uint64_t n, const double *expected,
                              const char *label)
{
    const gguf_kv *kv = gguf_find(f, key);
    char name[128];
    uint64_t i;

    snprintf(name, sizeof name, "%s %s", label, key);
    if (!kv || kv->type != GGUF_ARRAY || kv->v.arr.type != type || kv->v.arr.n != n) {
        check(0, name, "found %s, expected an array of %llu %s", kv ? gguf_value_type_name(kv->type) : "no key",
              (unsigned long long)n, gguf_value_type_name(type));
        return;
    }
    for (i = 0; i < n; i++) {
        if (gguf_array_f64(kv, i) != expected[i])
            break;
    }
    if (i == n)
        check(1, name, "%llu elements of %s match", (unsigned long long)n, gguf_value_type_name(type));
    else
        check(0, name, "element %llu is %.17g, expected %.17g", (unsigned long long)i, gguf_array_f64(kv, i),
              expected[i]);
}

static void check_string_array(const gguf_file *f, const char *key, uint64_t n, const char *const *expected,
                               const char *label)
{
    const gguf_kv *kv = gguf_find(f, key);
    gguf_str got[8];
    char name[128];
    uint64_t i;

    snprintf(name, sizeof name, "%s %s", label, key);
    if (!kv || kv->type != GGUF_ARRAY || kv->v.arr.type != GGUF_STRING || kv->v.arr.n != n || n > 8) {
        check(0, name, "found %s, expected an array of %llu strings", kv ? gguf_value_type_name(kv->type) : "no key",
              (unsigned long long)n);
        return;
    }
    gguf_array_strings(kv, got);
    for (i = 0; i < n; i++) {
        if (!gguf_str_eq(got[i], expected[i]))
            break;
    }
    if (i == n)
        check(1, name, "%llu strings match", (unsigned long long)n);
    else
        check(0, name, "string %llu is '%.*s', expected '%s'", (unsigned long long)i, (int)got[i].len, got[i].ptr,
              expected[i]);
}

/*
 * Checks an array of arrays: the element type and count, the bytes of all
 * elements, and the header of the first inner array.
 */
static void check_nested_array(const gguf_file *f, const char *key, uint64_t n, uint64_t n_bytes, uint32_t inner_type,
                               uint64_t inner_n, const char *label)
{
    const gguf_kv *kv = gguf_find(f, key);
    char name[128];

    snprintf(name, sizeof name, "%s %s", label, key);
    if (!kv || kv->type != GGUF_ARRAY || kv->v.arr.type != GGUF_ARRAY || kv->v.arr.n != n ||
        kv->v.arr.n_bytes != n_bytes) {
        check(0, name, "found %s of %llu elements in %llu bytes, expected an array of %llu arrays in %llu bytes",
              kv ? gguf_value_type_name(kv->type) : "no key", kv ? (unsigned long long)kv->v.arr.n : 0,
              kv ? (unsigned long long)kv->v.arr.n_bytes : 0, (unsigned long long)n, (unsigned long long)n_bytes);
        return;
    }
    check(load_u32(kv->v.arr.data) == inner_type && load_u64(kv->v.arr.data + 4) == inner_n, name,
          "first inner array holds %llu of %s, expected %llu of %s", (unsigned long long)load_u64(kv->v.arr.data + 4),
          gguf_value_type_name(load_u32(kv->v.arr.data)), (unsigned long long)inner_n,
          gguf_value_type_name(inner_type));
}

static void check_getters(const gguf_file *f, const char *label)
{
    llm_error err;
    uint32_t u = 0;
    double d = 0;
    char name[128];
    int status;

    snprintf(name, sizeof name, "%s get_u32 of uint8", label);
    status = gguf_get_u32(f, "t.u8", &u, &err);
    check(status == LLM_OK && u == 200, name, "returned %d and %u, expected %d and 200", status, u, LLM_OK);

    snprintf(name, sizeof name, "%s get_u32 of negative", label);
    status = gguf_get_u32(f, "t.i8", &u, &err);
    check(status == LLM_ERR && strstr(err.message, "is -100, expected 0 to 4294967295"), name,
          "returned %d (%s), expected %d and a range message", status, status ? err.message : "", LLM_ERR);

    snprintf(name, sizeof name, "%s get_u32 of 2^63+5", label);
    status = gguf_get_u32(f, "t.u64", &u, &err);
    check(status == LLM_ERR, name, "returned %d, expected %d", status, LLM_ERR);

    snprintf(name, sizeof name, "%s get_u32 of string", label);
    status = gguf_get_u32(f, "t.str", &u, &err);
    check(status == LLM_ERR && strstr(err.message, "has type string, expected an integer"), name,
          "returned %d (%s), expected %d and a type message", status, status ? err.message : "", LLM_ERR);

    snprintf(name, sizeof name, "%s get_u32 of missing key", label);
    status = gguf_get_u32(f, "t.none", &u, &err);
    check(status == LLM_ERR && strstr(err.message, "metadata key 't.none' is missing"), name,
          "returned %d (%s), expected %d and a missing-key message", status, status ? err.message : "", LLM_ERR);

    snprintf(name, sizeof name, "%s get_f64 of float32", label);
    status = gguf_get_f64(f, "t.f32", &d, &err);
    check(status == LLM_OK && d == 1.5, name, "returned %d and %g, expected %d and 1.5", status, d, LLM_OK);

    snprintf(name, sizeof name, "%s get_str of uint32", label);
    {
        gguf_str s;
        status = gguf_get_str(f, "t.u32", &s, &err);
    }
    check(status == LLM_ERR && strstr(err.message, "has type uint32, expected string"), name,
          "returned %d (%s), expected %d and a type message", status, status ? err.message : "", LLM_ERR);
}

static void check_all_types_tensors(const gguf_file *f, const char *label)
{
    const gguf_tensor *w = gguf_find_tensor(f, "w"), *h = gguf_find_tensor(f, "h");
    char name[128];
    float v7 = -1.0f;
    uint16_t h7 = 0;

    snprintf(name, sizeof name, "%s data offset", label);
    check(f->alignment == 64 && f->data_offset % 64 == 0, name,
          "alignment %llu, data at byte %llu, expected 64 and a multiple of it", (unsigned long long)f->alignment,
          (unsigned long long)f->data_offset);

    snprintf(name, sizeof name, "%s tensor w", label);
    check(w && w->n_dims == 2 && w->ne[0] == 3 && w->ne[1] == 5 && w->ne[2] == 1 && w->ne[3] == 1 &&
              w->type == LLM_TYPE_F32 && w->n_bytes == 60 && w->data == f->bytes + f->data_offset,
          name, "expected F32 [3, 5, 1, 1] of 60 bytes at the data section start");
    if (w) {
        memcpy(&v7, (const uint8_t *)w->data + 7 * 4, 4);
        snprintf(name, sizeof name, "%s tensor w element 7", label);
        check(v7 == 7.0f, name, "%g, expected 7", v7);
    }

    snprintf(name, sizeof name, "%s tensor h", label);
    check(h && h->n_dims == 4 && h->ne[0] == 4 && h->ne[1] == 1 && h->ne[2] == 2 && h->ne[3] == 1 &&
              h->type == LLM_TYPE_F16 && h->offset == 64 && h->n_bytes == 16 &&
              h->data == f->bytes + f->data_offset + 64,
          name, "expected F16 [4, 1, 2, 1] of 16 bytes at data offset 64");
    if (h) {
        memcpy(&h7, (const uint8_t *)h->data + 7 * 2, 2);
        snprintf(name, sizeof name, "%s tensor h element 7", label);
        check(llm_f16_to_f32(h7) == 7.0f, name, "%g, expected 7", llm_f16_to_f32(h7));
    }

    snprintf(name, sizeof name, "%s missing tensor", label);
    check(gguf_find_tensor(f, "nope") == NULL, name, "gguf_find_tensor found a tensor named 'nope'");
}

static void test_all_types(uint32_t version)
{
    static const int64_t u8s[] = {1, 2, 255}, i8s[] = {-1, 127, -128}, u16s[] = {65535, 0}, i16s[] = {-32768, 32767};
    static const int64_t u32s[] = {4294967295LL}, i32s[] = {INT32_MIN, 5}, bools[] = {1, 0};
    static const int64_t u64s[] = {((int64_t)1 << 40) + 1}, i64s[] = {-((int64_t)1 << 40)};
    static const double f32s[] = {0.25, -2.0}, f64s[] = {1e300};
    static const char *const strs[] = {"", "x", "yz"};
    gguf_writer w;
    gguf_file f;
    llm_error err;
    char label[32], name[128];
    uint8_t *copy;
    int status;

    snprintf(label, sizeof label, "gguf v%u", version);
    gguf_writer_init(&w);
    build_all_types(&w, version);
    copy = malloc(w.n_bytes);
    if (!copy)
        abort();
    memcpy(copy, w.bytes, w.n_bytes);
    status = gguf_open(&f, copy, w.n_bytes, "all-types.gguf", &err);
    snprintf(name, sizeof name, "%s all types open", label);
    check(status == LLM_OK, name, "gguf_open returned %d (%s), expected %d", status, status ? err.message : "",
          LLM_OK);
    if (status != LLM_OK) {
        free(copy);
        gguf_writer_free(&w);
        return;
    }

    snprintf(name, sizeof name, "%s header", label);
    check(f.version == version && f.n_kv == ALL_TYPES_N_KV && f.n_tensors == 2, name,
          "version %u, %llu pairs, %llu tensors, expected %u, %d, 2", f.version, (unsigned long long)f.n_kv,
          (unsigned long long)f.n_tensors, version, ALL_TYPES_N_KV);

    check_unsigned(&f, "t.u8", GGUF_UINT8, 200, label);
    check_signed(&f, "t.i8", GGUF_INT8, -100, label);
    check_unsigned(&f, "t.u16", GGUF_UINT16, 60000, label);
    check_signed(&f, "t.i16", GGUF_INT16, -30000, label);
    check_unsigned(&f, "t.u32", GGUF_UINT32, 4000000000u, label);
    check_signed(&f, "t.i32", GGUF_INT32, -2000000000, label);
    check_float(&f, "t.f32", GGUF_FLOAT32, 1.5, label);
    check_unsigned(&f, "t.bool", GGUF_BOOL, 1, label);
    check_string(&f, "t.str", "h\xc3\xa9llo", label);
    check_unsigned(&f, "t.u64", GGUF_UINT64, ((uint64_t)1 << 63) + 5, label);
    check_signed(&f, "t.i64", GGUF_INT64, -((int64_t)1 << 62) - 3, label);
    check_float(&f, "t.f64", GGUF_FLOAT64, -0.1, label);
    check_string(&f, "t.empty_str", "", label);
    check_unsigned(&f, "general.alignment", GGUF_UINT32, 64, label);

    check_int_array(&f, "t.arr.u8", GGUF_UINT8, 3, u8s, label);
    check_int_array(&f, "t.arr.i8", GGUF_INT8, 3, i8s, label);
    check_int_array(&f, "t.arr.u16", GGUF_UINT16, 2, u16s, label);
    check_int_array(&f, "t.arr.i16", GGUF_INT16, 2, i16s, label);
    check_int_array(&f, "t.arr.u32", GGUF_UINT32, 1, u32s, label);
    check_int_array(&f, "t.arr.i32", GGUF_INT32, 2, i32s, label);
    check_float_array(&f, "t.arr.f32", GGUF_FLOAT32, 2, f32s, label);
    check_int_array(&f, "t.arr.bool", GGUF_BOOL, 2, bools, label);
    check_string_array(&f, "t.arr.str", 3, strs, label);
    check_int_array(&f, "t.arr.u64", GGUF_UINT64, 1, u64s, label);
    check_int_array(&f, "t.arr.i64", GGUF_INT64, 1, i64s, label);
    check_float_array(&f, "t.arr.f64", GGUF_FLOAT64, 1, f64s, label);
    check_int_array(&f, "t.arr.empty", GGUF_UINT32, 0, NULL, label);
    /* [1, 2] is 12 + 8 bytes and [3] is 12 + 4. */
    check_nested_array(&f, "t.arr.nested", 2, 36, GGUF_INT32, 2, label);
    /* ["a"] is 12 + 9 bytes and [] is 12. */
    check_nested_array(&f, "t.arr.nested_str", 2, 33, GGUF_STRING, 1, label);
    /* 7 inner array headers of 12 bytes and one uint8. */
    check_nested_array(&f, "t.arr.deep", 1, 85, GGUF_ARRAY, 1, label);

    check_getters(&f, label);
    check_all_types_tensors(&f, label);

    gguf_close(&f);
    free(copy);
    gguf_writer_free(&w);
}

/* A file with metadata only, as a vocabulary file has, is valid. */
static void test_no_tensors(void)
{
    gguf_writer w;
    gguf_file f;
    llm_error err;
    int status;

    gguf_writer_init(&w);
    gguf_put_header(&w, 3, 0, 1);
    gguf_put_kv_str(&w, "general.architecture", "llama");
    status = gguf_open(&f, w.bytes, w.n_bytes, "vocab.gguf", &err);
    check(status == LLM_OK && f.n_tensors == 0 && f.n_kv == 1, "gguf no tensors",
          "gguf_open returned %d (%s), expected %d with 0 tensors and 1 pair", status, status ? err.message : "",
          LLM_OK);
    if (status == LLM_OK)
        gguf_close(&f);
    gguf_writer_free(&w);
}

/* ---- the fixture models ---- */

struct model_expectation {
    const char *file;
    uint64_t n_tensors, n_kv;
    const char *tensor;
    uint32_t type;
    uint64_t ne0, ne1, offset, n_bytes;
};

static const struct model_expectation model_expectations[] = {
    {"stories260K.gguf", 48, 19, "token_embd.weight", LLM_TYPE_F32, 64, 512, 0, 64 * 512 * 4},
    {"stories260K.gguf", 48, 19, "output_norm.weight", LLM_TYPE_F32, 64, 1, 131072, 64 * 4},
    /* Q3_K takes 110 bytes per 256 weights and Q6_K 210. */
    {"stories260K-32h-Q3_K_L.gguf", 48, 21, "token_embd.weight", LLM_TYPE_Q3_K, 256, 512, 108544, 512 * 110},
    {"stories260K-32h-Q3_K_L.gguf", 48, 21, "output.weight", LLM_TYPE_Q6_K, 256, 512, 0, 512 * 210},
};

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* Checks one tensor of a model against the expectation table. */
static void check_model_tensor(const gguf_file *f, const struct model_expectation *e)
{
    const gguf_tensor *t = gguf_find_tensor(f, e->tensor);
    char name[160];

    snprintf(name, sizeof name, "model %s %s", e->file, e->tensor);
    if (!t) {
        check(0, name, "tensor not found");
        return;
    }
    check(t->type == e->type && t->ne[0] == e->ne0 && t->ne[1] == e->ne1 && t->offset == e->offset &&
              t->n_bytes == e->n_bytes && t->data == f->bytes + f->data_offset + e->offset,
          name, "%s [%llu, %llu] at offset %llu, %llu bytes, expected %s [%llu, %llu] at %llu, %llu bytes",
          llm_type_name(t->type), (unsigned long long)t->ne[0], (unsigned long long)t->ne[1],
          (unsigned long long)t->offset, (unsigned long long)t->n_bytes, llm_type_name(e->type),
          (unsigned long long)e->ne0, (unsigned long long)e->ne1, (unsigned long long)e->offset,
          (unsigned long long)e->n_bytes);
}

/* Checks every tensor's size against llm_row_bytes() and its extent against the file. */
static void check_model_extents(const gguf_file *f, const char *file)
{
    uint64_t i;
    char name[160];

    for (i = 0; i < f->n_tensors; i++) {
        const gguf_tensor *t = &f->tensors[i];
        uint64_t rows = t->ne[1] * t->ne[2] * t->ne[3];
        uint64_t expected = (uint64_t)llm_row_bytes(t->type, (int64_t)t->ne[0]) * rows;
        uint64_t end = f->data_offset + t->offset + t->n_bytes;
        if (t->n_bytes != expected || end > f->n_bytes) {
            snprintf(name, sizeof name, "model %s tensor extents", file);
            check(0, name, "tensor %llu '%.*s' has %llu bytes ending at %llu, expected %llu bytes within %llu",
                  (unsigned long long)i, (int)t->name.len, t->name.ptr, (unsigned long long)t->n_bytes,
                  (unsigned long long)end, (unsigned long long)expected, (unsigned long long)f->n_bytes);
            return;
        }
    }
    snprintf(name, sizeof name, "model %s tensor extents", file);
    check(1, name, "%llu tensors within %llu bytes", (unsigned long long)f->n_tensors, (unsigned long long)f->n_bytes);
}

static void check_model(const char *path, void *ctx)
{
    const char *file = base_name(path);
    size_t n_bytes = 0, i;
    void *bytes = read_file(path, &n_bytes);
    gguf_file f;
    gguf_str arch = {NULL, 0};
    llm_error err;
    char name[160];
    int status;

    (void)ctx;
    snprintf(name, sizeof name, "model %s opens", file);
    if (!bytes) {
        check(0, name, "cannot read %s", path);
        return;
    }
    status = gguf_open(&f, bytes, n_bytes, file, &err);
    check(status == LLM_OK, name, "gguf_open returned %d (%s), expected %d", status, status ? err.message : "",
          LLM_OK);
    if (status != LLM_OK) {
        free(bytes);
        return;
    }

    snprintf(name, sizeof name, "model %s header", file);
    check(f.version == 3 && f.alignment == 32 && f.data_offset % 32 == 0 && f.n_tensors > 0, name,
          "version %u, alignment %llu, data at byte %llu, %llu tensors, expected version 3, alignment 32 and tensors",
          f.version, (unsigned long long)f.alignment, (unsigned long long)f.data_offset,
          (unsigned long long)f.n_tensors);

    snprintf(name, sizeof name, "model %s architecture", file);
    status = gguf_get_str(&f, "general.architecture", &arch, &err);
    check(status == LLM_OK && gguf_str_eq(arch, "llama"), name, "'%.*s', expected 'llama'",
          status == LLM_OK ? (int)arch.len : 0, status == LLM_OK ? arch.ptr : "");

    check_model_extents(&f, file);
    for (i = 0; i < sizeof model_expectations / sizeof model_expectations[0]; i++) {
        const struct model_expectation *e = &model_expectations[i];
        if (strcmp(e->file, file) != 0)
            continue;
        snprintf(name, sizeof name, "model %s counts", file);
        if (i == 0 || strcmp(model_expectations[i - 1].file, file) != 0)
            check(f.n_tensors == e->n_tensors && f.n_kv == e->n_kv, name,
                  "%llu tensors and %llu pairs, expected %llu and %llu", (unsigned long long)f.n_tensors,
                  (unsigned long long)f.n_kv, (unsigned long long)e->n_tensors, (unsigned long long)e->n_kv);
        check_model_tensor(&f, e);
    }
    gguf_close(&f);
    free(bytes);
}

static void test_models(void)
{
    int n_found = for_each_file(shared_path("models"), ".gguf", check_model, NULL);

    check(n_found > 0, "gguf fixture models found", "%d .gguf files in %s, expected some", n_found,
          shared_path("models"));
}

void test_gguf(void)
{
    test_models();
    test_all_types(2);
    test_all_types(3);
    test_no_tensors();
    test_broken_cases();
    test_truncation();
    test_byte_changes();
}
