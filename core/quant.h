/*
 * quant.h - tensor types: ids, block geometry, and the kernel table.
 *
 * Type ids are the ggml/GGUF numbers. A kernel table maps a weight type to
 * its row dequantizer and its dot product against one activation row that
 * was first converted to the weight type's dot_type (Q8_0, Q8_1, Q8_K or
 * F32), as llama.cpp's CPU backend does. quant_ref.c contains the scalar table,
 * which is the specification for every faster table.
 */
#ifndef PINFER_QUANT_H
#define PINFER_QUANT_H

#include <stddef.h>
#include <stdint.h>

enum llm_type {
    LLM_TYPE_F32 = 0,
    LLM_TYPE_F16 = 1,
    LLM_TYPE_Q4_0 = 2,
    LLM_TYPE_Q4_1 = 3,
    LLM_TYPE_Q5_0 = 6,
    LLM_TYPE_Q5_1 = 7,
    LLM_TYPE_Q8_0 = 8,
    LLM_TYPE_Q8_1 = 9,
    LLM_TYPE_Q2_K = 10,
    LLM_TYPE_Q3_K = 11,
    LLM_TYPE_Q4_K = 12,
    LLM_TYPE_Q5_K = 13,
    LLM_TYPE_Q6_K = 14,
    LLM_TYPE_Q8_K = 15,
    LLM_TYPE_IQ4_NL = 20,
    LLM_TYPE_BF16 = 30,
    LLM_TYPE_COUNT = 40 /* one past the largest id any table is indexed by */
};

#define QK_K 256 /* elements per K-quant super-block */

typedef struct {
    const char *name;  /* "Q3_K"; NULL for ids this build does not know */
    int block_size;    /* elements per block */
    int type_size;     /* bytes per block */
    int readable;      /* 1 if tensors of this type can be used as weights */
    uint32_t dot_type; /* activation type of the dot product */
} llm_type_info;

/* Returns the info of a type id, or NULL when the id is not one listed above. */
const llm_type_info *llm_type_get(uint32_t type);

/* Name of any ggml type id, known or not ("IQ2_XS", "type 99"), for messages. */
const char *llm_type_name(uint32_t type);

/* Comma-separated names of the readable types, for messages. */
const char *llm_type_supported_list(void);

/* Bytes of a row of n elements, or 0 when n is not a whole number of blocks. */
size_t llm_row_bytes(uint32_t type, int64_t n);

typedef void (*llm_dequantize_fn)(const void *src, float *dst, int64_t n);
typedef void (*llm_quantize_fn)(const float *src, void *dst, int64_t n);
typedef float (*llm_dot_fn)(int64_t n, const void *weights, const void *acts);

/*
 * Dot products of n_rows weight rows, row_bytes apart, with n_tokens
 * activation rows, act_stride bytes apart: stores out[j * out_stride + r] =
 * dot(n, row r, activation row j), bit-identical to the same table's dot.
 * A tile kernel decodes each weight block once for all the tokens, and loads
 * each activation block once for several rows.
 */
typedef void (*llm_dot_tile_fn)(int64_t n, const void *weights, size_t row_bytes, int n_rows, const void *acts,
                                size_t act_stride, int n_tokens, float *out, size_t out_stride);

typedef struct {
    const char *name; /* "scalar", "avx2", ... as printed in the model log line */
    llm_dequantize_fn dequantize[LLM_TYPE_COUNT]; /* by weight type */
    llm_quantize_fn quantize[LLM_TYPE_COUNT];     /* by dot_type: F32, Q8_0, Q8_1, Q8_K */
    llm_dot_fn dot[LLM_TYPE_COUNT];               /* by weight type; acts are in its dot_type */
    llm_dot_tile_fn dot_tile[LLM_TYPE_COUNT];     /* by weight type; NULL where the table has none */
} llm_kernels;

extern const llm_kernels llm_kernels_scalar;

/* x86-64 only: AVX2 + FMA + F16C. */
extern const llm_kernels llm_kernels_avx2;

/* x86-64 only: AVX-512 F, BW, VL and VNNI on top of the AVX2 table's features. */
extern const llm_kernels llm_kernels_avx512;

/* wasm32 with SIMD128 only (quant_wasm.c, built by make wasi). */
extern const llm_kernels llm_kernels_wasm;

/* wasm32 with SIMD128 and relaxed SIMD only (quant_wasm.c built with -mrelaxed-simd). */
extern const llm_kernels llm_kernels_wasm_relaxed;

/* aarch64 only: NEON, which every aarch64 CPU has (quant_neon.c). */
extern const llm_kernels llm_kernels_neon;

#define LLM_KERNELS_MAX 3 /* tables any one build may offer */

/*
 * Returns 1 when table k's dot_tile entries are faster with one token than
 * one dot per row, so that generation's matrix-vector products call them
 * too. Returns 0 when its tile kernels pay off only for several tokens.
 */
int llm_kernels_tile_for_one_token(const llm_kernels *k);

/*
 * Stores up to max_tables of the tables that this build has and this CPU can
 * run, scalar first and fastest last, and returns how many there are.
 */
int llm_kernels_supported(const llm_kernels **tables, int max_tables);

/* Returns the fastest table this CPU can run (llm_kernels_scalar off x86-64, aarch64 and wasm32 SIMD128). */
const llm_kernels *llm_kernels_best(void);

/* Returns the table named name ("scalar", "avx2", "avx512", "wasm-simd128", "wasm-relaxed-simd", "neon"), or NULL when the name is unknown or this CPU lacks it. */
const llm_kernels *llm_kernels_by_name(const char *name);

/* IEEE half and bfloat16 conversions (round to nearest even). */
float llm_f16_to_f32(uint16_t h);
uint16_t llm_f32_to_f16(float f);
float llm_bf16_to_f32(uint16_t h);

#endif
