/*
 * quant_ref.c - the type table, half-float conversions, and the scalar
 * kernels that define what every tensor type means.
 *
 * Dequantizers reproduce ggml's dequantize_row_* bit for bit: each weight is
 * computed with the same float operations in the same order. Activation
 * quantizers round as llama.cpp's CPU backend does on x86-64 and arm64 (its
 * SIMD Q8_0 and Q8_1 quantizers, and quantize_row_q8_K_ref), so a dot product
 * multiplies the same integers as llama.cpp's. Dot products sum integers
 * within a block and scale once per block. For Q4_0, Q4_1 and Q5_1 the float
 * sums also follow the order of llama.cpp's x86-64 kernels: at a near tie
 * between two tokens, a last-bit difference there can change the greedy token. tests/test_quant.c checks these kernels against tensors
 * that llama.cpp dequantized and against a double-precision reference.
 */
#include "quant.h"
#include "quant_blocks.h"
#include "quant_ref.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

/* ---------------------------------------------------------------- types */

/* Names of ggml type ids 0..39, readable or not, for messages. */
static const char *const ggml_type_names[LLM_TYPE_COUNT] = {
    "F32", "F16", "Q4_0", "Q4_1",
    "Q4_2", "Q4_3", /* removed from ggml before GGUF existed */
    "Q5_0", "Q5_1", "Q8_0", "Q8_1",
    "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K",
    "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS",
    "I8", "I16", "I32", "I64", "F64", "IQ1_M", "BF16",
    "Q4_0_4_4", "Q4_0_4_8", "Q4_0_8_8", /* repacked in memory, no longer valid in files */
    "TQ1_0", "TQ2_0",
    "IQ4_NL_4_4", "IQ4_NL_4_8", "IQ4_NL_8_8", /* likewise */
    "MXFP4",
};

/*
 * Geometry of the ids in enum llm_type; other slots stay zero. Q8_1 and Q8_K
 * only ever hold activations, so they are not readable and have no dot_type.
 * F16 and BF16 rows take activations rounded to F16 or BF16, as llama.cpp's
 * CPU backend rounds them, so that logits of such models agree with its own.
 */
static const llm_type_info type_table[LLM_TYPE_COUNT] = {
    [LLM_TYPE_F32] = {"F32", 1, 4, 1, LLM_TYPE_F32},
    [LLM_TYPE_F16] = {"F16", 1, 2, 1, LLM_TYPE_F16},
    [LLM_TYPE_BF16] = {"BF16", 1, 2, 1, LLM_TYPE_BF16},
    [LLM_TYPE_Q4_0] = {"Q4_0", QK4_0, sizeof(block_q4_0), 1, LLM_TYPE_Q8_0},
    [LLM_TYPE_Q4_1] = {"Q4_1", QK4_1, sizeof(block_q4_1), 1, LLM_TYPE_Q8_1},
    [LLM_TYPE_Q5_0] = {"Q5_0", QK5_0, sizeof(block_q5_0), 1, LLM_TYPE_Q8_0},
    [LLM_TYPE_Q5_1] = {"Q5_1", QK5_1, sizeof(block_q5_1), 1, LLM_TYPE_Q8_1},
    [LLM_TYPE_Q8_0] = {"Q8_0", QK8_0, sizeof(block_q8_0), 1, LLM_TYPE_Q8_0},
    [LLM_TYPE_Q8_1] = {"Q8_1", QK8_1, sizeof(block_q8_1), 0, 0},
    [LLM_TYPE_Q2_K] = {"Q2_K", QK_K, sizeof(block_q2k), 1, LLM_TYPE_Q8_K},
    [LLM_TYPE_Q3_K] = {"Q3_K", QK_K, sizeof(block_q3k), 1, LLM_TYPE_Q8_K},
    [LLM_TYPE_Q4_K] = {"Q4_K", QK_K, sizeof(block_q4k), 1, LLM_TYPE_Q8_K},
    [LLM_TYPE_Q5_K] = {"Q5_K", QK_K, sizeof(block_q5k), 1, LLM_TYPE_Q8_K},
    [LLM_TYPE_Q6_K] = {"Q6_K", QK_K, sizeof(block_q6k), 1, LLM_TYPE_Q8_K},
    [LLM_TYPE_Q8_K] = {"Q8_K", QK_K, sizeof(block_q8k), 0, 0},
    [LLM_TYPE_IQ4_NL] = {"IQ4_NL", QK4_NL, sizeof(block_iq4nl), 1, LLM_TYPE_Q8_0},
};

const llm_type_info *llm_type_get(uint32_t type)
{
    if (type >= LLM_TYPE_COUNT || type_table[type].name == NULL)
        return NULL;
    return &type_table[type];
}

/*
 * An id ggml has never assigned is formatted into one static buffer, which
 * the next such call overwrites.
 * NOTE: so that one case is not thread-safe; known ids return string constants.
 */
const char *llm_type_name(uint32_t type)
{
    static char unknown[32];

    if (type < LLM_TYPE_COUNT)
        return ggml_type_names[type];
    snprintf(unknown, sizeof unknown, "type %lu", (unsigned long)type);
    return unknown;
}

/* Lists the readable types of type_table in id order; tests/test_quant.c checks that the two agree. */
const char *llm_type_supported_list(void)
{
    return "F32, F16, Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K, IQ4_NL, BF16";
}

/* Also returns 0 for an unknown type, a negative n, or a size that does not fit in size_t. */
size_t llm_row_bytes(uint32_t type, int64_t n)
{
    const llm_type_info *info = llm_type_get(type);
    uint64_t n_blocks;

    if (info == NULL || n < 0 || n % info->block_size != 0)
        return 0;
    n_blocks = (uint64_t)(n / info->block_size);
    if (n_blocks > SIZE_MAX / (size_t)info->type_size)
        return 0;
    return (size_t)n_blocks * (size_t)info->type_size;
}

/* ---------------------------------------------------------- half floats */

static float float_from_bits(uint32_t bits)
{
    float f;

    memcpy(&f, &bits, sizeof f);
    return f;
}

static uint32_t bits_from_float(float f)
{
    uint32_t bits;

    memcpy(&bits, &f, sizeof bits);
    return bits;
}

/* Half: 1 sign bit, 5 exponent bits (bias 15), 10 mantissa bits. */
float llm_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exponent = (h >> 10) & 0x1F;
    uint32_t mantissa = h & 0x3FF;
    float magnitude;

    if (exponent == 0x1F) /* infinity or NaN, payload kept */
        return float_from_bits(sign | 0x7F800000 | (mantissa << 13));
    if (exponent == 0) {
        /* zero or subnormal: mantissa * 2^-24, exact in float */
        magnitude = (float)mantissa * (1.0f / 16777216.0f);
        return float_from_bits(sign | bits_from_float(magnitude));
    }
    /* normal: rebias the exponent from 15 to 127 */
    return float_from_bits(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

/*
 * Shifts m right by shift (1..24) bits, rounding to nearest with ties to
 * even on the bits shifted out.
 */
static uint32_t shift_right_round_even(uint32_t m, int shift)
{
    uint32_t shifted = m >> shift;
    uint32_t rest = m & ((1u << shift) - 1);
    uint32_t half = 1u << (shift - 1);

    if (rest > half || (rest == half && (shifted & 1)))
        shifted++;
    return shifted;
}

/*
 * Rounds to nearest, ties to even, like F16C's vcvtps2ph and ggml's scalar
 * fallback. Magnitudes of 65520 and up become infinity. NaN becomes the
 * quiet NaN 0x7E00 with the sign kept, as in ggml's fallback.
 */
uint16_t llm_f32_to_f16(float f)
{
    uint32_t bits = bits_from_float(f);
    uint16_t sign = (uint16_t)((bits >> 16) & 0x8000);
    uint32_t magnitude = bits & 0x7FFFFFFF;
    uint32_t exponent = magnitude >> 23;

    if (magnitude > 0x7F800000)
        return sign | 0x7E00;
    if (magnitude >= 0x477FF000) /* 65520.0f: halfway from 65504 to 65536, ties to infinity */
        return sign | 0x7C00;
    if (magnitude >= 0x38800000) {
        /* normal half (2^-14 and up): rebias the exponent, round off 13 mantissa bits;
           a carry out of the mantissa correctly bumps the exponent */
        return sign | (uint16_t)shift_right_round_even(magnitude - 0x38000000, 13);
    }
    if (exponent < 102) /* below 2^-25: rounds to zero (2^-25 itself ties to zero below) */
        return sign;
    /* subnormal half: value = significand * 2^(exponent - 150), in units of 2^-24 */
    return sign | (uint16_t)shift_right_round_even((magnitude & 0x7FFFFF) | 0x800000, 126 - (int)exponent);
}

/* bfloat16 is the top half of a float, so widening is exact. */
float llm_bf16_to_f32(uint16_t h)
{
    return float_from_bits((uint32_t)h << 16);
}

/* ------------------------------------------------------- unpacking quants */

/*
 * Each *_unpack_quants writes the integer quants of one block in element
 * order, offsets applied (Q4_0's q - 8, Q3_K's high bit, IQ4_NL's table), so
 * that a block's dequantizer and its dot product read the packing in one
 * place.
 */

const int8_t llm_iq4nl_values[16] = {
    -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
};

static uint32_t read_u32_le(const uint8_t b[4])
{
    return (uint32_t)b[0] | ((uint32_t)b[1] << 8) | ((uint32_t)b[2] << 16) | ((uint32_t)b[3] << 24);
}

static void q4_0_unpack_quants(const block_q4_0 *b, int8_t q[QK4_0])
{
    int j;

    for (j = 0; j < QK4_0 / 2; j++) {
        q[j] = (int8_t)((b->qs[j] & 0x0F) - 8);
        q[j + QK4_0 / 2] = (int8_t)((b->qs[j] >> 4) - 8);
    }
}

static void q4_1_unpack_quants(const block_q4_1 *b, int8_t q[QK4_1])
{
    int j;

    for (j = 0; j < QK4_1 / 2; j++) {
        q[j] = (int8_t)(b->qs[j] & 0x0F);
        q[j + QK4_1 / 2] = (int8_t)(b->qs[j] >> 4);
    }
}

/* Shared by Q5_0 and Q5_1: 0..31, bit 4 of element i from bit i of qh. */
static void q5_unpack_quants(const uint8_t qh_bytes[4], const uint8_t qs[16], int8_t q[32])
{
    uint32_t qh = read_u32_le(qh_bytes);
    int j;

    for (j = 0; j < 16; j++) {
        q[j] = (int8_t)((qs[j] & 0x0F) | (((qh >> j) & 1) << 4));
        q[j + 16] = (int8_t)((qs[j] >> 4) | (((qh >> (j + 16)) & 1) << 4));
    }
}

static void iq4nl_unpack_quants(const block_iq4nl *b, int8_t q[QK4_NL])
{
    int j;

    for (j = 0; j < QK4_NL / 2; j++) {
        q[j] = llm_iq4nl_values[b->qs[j] & 0x0F];
        q[j + QK4_NL / 2] = llm_iq4nl_values[b->qs[j] >> 4];
    }
}

/* Element 128*h + 32*k + l of a 2-bit plane array is bits 2k..2k+1 of qs[32*h + l]. */
static int bit_plane_2(const uint8_t qs[QK_K / 4], int i)
{
    return (qs[32 * (i / 128) + i % 32] >> (2 * ((i % 128) / 32))) & 3;
}

static void q2k_unpack_quants(const block_q2k *b, int8_t q[QK_K])
{
    int i;

    for (i = 0; i < QK_K; i++)
        q[i] = (int8_t)bit_plane_2(b->qs, i);
}

static void q3k_unpack_quants(const block_q3k *b, int8_t q[QK_K])
{
    int i;

    for (i = 0; i < QK_K; i++) {
        int high_bit = (b->hmask[i % 32] >> (i / 32)) & 1;
        q[i] = (int8_t)(bit_plane_2(b->qs, i) - (high_bit ? 0 : 4));
    }
}

/* Low 4 bits of Q4_K and Q5_K element i. */
static int q4k_nibble(const uint8_t qs[QK_K / 2], int i)
{
    uint8_t byte = qs[32 * (i / 64) + i % 32];

    return (i % 64) < 32 ? byte & 0x0F : byte >> 4;
}

static void q4k_unpack_quants(const block_q4k *b, int8_t q[QK_K])
{
    int i;

    for (i = 0; i < QK_K; i++)
        q[i] = (int8_t)q4k_nibble(b->qs, i);
}

static void q5k_unpack_quants(const block_q5k *b, int8_t q[QK_K])
{
    int i;

    for (i = 0; i < QK_K; i++) {
        int high_bit = (b->qh[i % 32] >> (i / 32)) & 1;
        q[i] = (int8_t)(q4k_nibble(b->qs, i) | (high_bit << 4));
    }
}

static void q6k_unpack_quants(const block_q6k *b, int8_t q[QK_K])
{
    int i;

    for (i = 0; i < QK_K; i++) {
        int h = i / 128, k = (i % 128) / 32, l = i % 32;
        uint8_t low_byte = b->ql[64 * h + 32 * (k % 2) + l];
        int low = k < 2 ? low_byte & 0x0F : low_byte >> 4;
        int high = (b->qh[32 * h + l] >> (2 * k)) & 3;
        q[i] = (int8_t)((low | (high << 4)) - 32);
    }
}

/* --------------------------------------------------------- dequantizers */

/*
 * In every formula below the product before an add or subtract is exact in
 * float (at most 22 significant bits), so the one rounding per weight
 * happens at the same place as in ggml, FMA contraction or not. Only Q6_K
 * rounds a product, and it multiplies in ggml's order, (d * scale) * q.
 */

void llm_ref_f32_dequantize(const void *src, float *dst, int64_t n)
{
    memcpy(dst, src, (size_t)n * sizeof(float));
}

void llm_ref_f16_dequantize(const void *src, float *dst, int64_t n)
{
    const uint16_t *h = src;
    int64_t i;

    for (i = 0; i < n; i++)
        dst[i] = llm_f16_to_f32(h[i]);
}

void llm_ref_bf16_dequantize(const void *src, float *dst, int64_t n)
{
    const uint16_t *h = src;
    int64_t i;

    for (i = 0; i < n; i++)
        dst[i] = llm_bf16_to_f32(h[i]);
}

void llm_ref_q4_0_dequantize(const void *src, float *dst, int64_t n)
{
    const block_q4_0 *b = src;
    int8_t q[QK4_0];
    int64_t ib;
    int j;

    for (ib = 0; ib < n / QK4_0; ib++, dst += QK4_0) {
        float d = llm_f16_to_f32(b[ib].d);
        q4_0_unpack_quants(&b[ib], q);
        for (j = 0; j < QK4_0; j++)
            dst[j] = q[j] * d;
    }
}

void llm_ref_q4_1_dequantize(const void *src, float *dst, int64_t n)
{
    const block_q4_1 *b = src;
    int8_t q[QK4_1];
    int64_t ib;
    int j;

    for (ib = 0; ib < n / QK4_1; ib++, dst += QK4_1) {
        float d = llm_f16_to_f32(b[ib].d);
        float m = llm_f16_to_f32(b[ib].m);
        q4_1_unpack_quants(&b[ib], q);
        for (j = 0; j < QK4_1; j++)
            dst[j] = q[j] * d + m;
    }
}

void llm_ref_q5_0_dequantize(const void *src, float *dst, int64_t n)
{
    const block_q5_0 *b = src;
    int8_t q[QK5_0];
    int64_t ib;
    int j;

    for (ib = 0; ib < n / QK5_0; ib++, dst += QK5_0) {
        float d = llm_f16_to_f32(b[ib].d);
        q5_unpack_quants(b[ib].qh, b[ib].qs, q);
        for (j = 0; j < QK5_0; j++)
            dst[j] = (q[j] - 16) * d;
    }
}

void llm_ref_q5_1_dequantize(const void *src, float *dst, int64_t n)
{
    const block_q5_1 *b = src;
    int8_t q[QK5_1];
    int64_t ib;
    int j;

    for (ib = 0; ib < n / QK5_1; ib++, dst += QK5_1) {
        float d = llm_f16_to_f32(b[ib].d);
        float m = llm_f16_to_f32(b[ib].m);
        q5_unpack_quants(b[ib].qh, b[ib].qs, q);
        for (j = 0; j < QK5_1; j++)
            dst[j] = q[j] * d + m;
    }
}

void llm_ref_q8_0_dequantize(const void *src, float *dst, int64_t n)
{
    const block_q8_0 *b = src;
    int64_t ib;
    int j;

    for (ib = 0; ib < n / QK8_0; ib++, dst += QK8_0) {
        float d = llm_f16_to_f32(b[ib].d);
        for (j = 0; j < QK8_0; j++)
            dst[j] = b[ib].qs[j] * d;
    }
}

void llm_ref_iq4nl_dequantize(const void *src, float *dst, int64_t n)
{
    const block_iq4nl *b = src;
    int8_t q[QK4_NL];
    int64_t ib;
    int j;

    for (ib = 0; ib < n / QK4_NL; ib++, dst += QK4_NL) {
        float d = llm_f16_to_f32(b[ib].d);
        iq4nl_unpack_quants(&b[ib], q);
        for (j = 0; j < QK4_NL; j++)
            dst[j] = d * q[j];
    }
}

void llm_ref_q2k_dequantize(const void *src, float *dst, int64_t n)
{
    const block_q2k *b = src;
    int8_t q[QK_K];
    int64_t ib;
    int s, j;

    for (ib = 0; ib < n / QK_K; ib++, dst += QK_K) {
        float d = llm_f16_to_f32(b[ib].d);
        float dmin = llm_f16_to_f32(b[ib].dmin);
        q2k_unpack_quants(&b[ib], q);
        for (s = 0; s < QK_K / 16; s++) {
            float scale = d * (b[ib].scales[s] & 0x0F);
            float offset = dmin * (b[ib].scales[s] >> 4);
            for (j = 16 * s; j < 16 * s + 16; j++)
                dst[j] = scale * q[j] - offset;
        }
    }
}

void llm_ref_q3k_dequantize(const void *src, float *dst, int64_t n)
{
    const block_q3k *b = src;
    int8_t q[QK_K], sc[16];
    int64_t ib;
    int s, j;

    for (ib = 0; ib < n / QK_K; ib++, dst += QK_K) {
        float d = llm_f16_to_f32(b[ib].d);
        q3k_unpack_scales(b[ib].scales, sc);
        q3k_unpack_quants(&b[ib], q);
        for (s = 0; s < QK_K / 16; s++) {
            float scale = d * sc[s];
            for (j = 16 * s; j < 16 * s + 16; j++)
                dst[j] = scale * q[j];
        }
    }
}

/* Q4_K and Q5_K differ only in how the quants are packed. */
static void q4k_q5k_dequantize_block(uint16_t d_half, uint16_t dmin_half, const uint8_t packed_scales[12],
                                     const int8_t q[QK_K], float *dst)
{
    float d = llm_f16_to_f32(d_half);
    float dmin = llm_f16_to_f32(dmin_half);
    uint8_t sc[8], mn[8];
    int s, j;

    q4k_unpack_scales(packed_scales, sc, mn);
    for (s = 0; s < QK_K / 32; s++) {
        float scale = d * sc[s];
        float offset = dmin * mn[s];
        for (j = 32 * s; j < 32 * s + 32; j++)
            dst[j] = scale * q[j] - offset;
    }
}

void llm_ref_q4k_dequantize(const void *src, float *dst, int64_t n)
{
    const block_q4k *b = src;
    int8_t q[QK_K];
    int64_t ib;

    for (ib = 0; ib < n / QK_K; ib++, dst += QK_K) {
        q4k_unpack_quants(&b[ib], q);
        q4k_q5k_dequantize_block(b[ib].d, b[ib].dmin, b[ib].scales, q, dst);
    }
}

void llm_ref_q5k_dequantize(const void *src, float *dst, int64_t n)
{
    const block_q5k *b = src;
    int8_t q[QK_K];
    int64_t ib;

    for (ib = 0; ib < n / QK_K; ib++, dst += QK_K) {
        q5k_unpack_quants(&b[ib], q);
        q4k_q5k_dequantize_block(b[ib].d, b[ib].dmin, b[ib].scales, q, dst);
    }
}

void llm_ref_q6k_dequantize(const void *src, float *dst, int64_t n)
{
    const block_q6k *b = src;
    int8_t q[QK_K];
    int64_t ib;
    int s, j;

    for (ib = 0; ib < n / QK_K; ib++, dst += QK_K) {
        float d = llm_f16_to_f32(b[ib].d);
        q6k_unpack_quants(&b[ib], q);
        for (s = 0; s < QK_K / 16; s++) {
            float scale = d * b[ib].scales[s];
            for (j = 16 * s; j < 16 * s + 16; j++)
                dst[j] = scale * q[j];
        }
    }
}

/* ------------------------------------------------ activation quantizers */

void llm_ref_f32_copy(const float *src, void *dst, int64_t n)
{
    memcpy(dst, src, (size_t)n * sizeof(float));
}

/*
 * Rounds half to even, as the nearest_int of ggml's Q8_K quantizer (a float
 * addition of 1.5 * 2^23 in the default rounding mode) and the rounding
 * instructions of its x86-64 and arm64 Q8_0 and Q8_1 quantizers. The clamp
 * and the NaN case (which only a broken model produces) keep the conversion
 * to int8 defined; in-range input never reaches them.
 */
static int8_t round_even_int8(float v)
{
    float below, fraction;

    if (v != v)
        return 0;
    if (v >= 127.0f)
        return 127;
    if (v <= -127.0f)
        return -127;
    below = floorf(v);
    fraction = v - below; /* exact for |v| < 2^23 */
    if (fraction > 0.5f || (fraction == 0.5f && fmodf(below, 2.0f) != 0.0f))
        below += 1.0f;
    return (int8_t)below;
}

/* Largest |x[j]| of n values; NaN is skipped, as by ggml's MAX. */
static float max_abs(const float *x, int n)
{
    float amax = 0.0f;
    int j;

    for (j = 0; j < n; j++) {
        float ax = fabsf(x[j]);
        if (ax > amax)
            amax = ax;
    }
    return amax;
}

/*
 * Q8_0: d = max|x| / 127 and q = round(x * (127 / max|x|)), ties to even.
 * The block keeps d rounded to half, as in ggml.
 */
static void q8_0_quantize(const float *src, void *dst, int64_t n)
{
    block_q8_0 *y = dst;
    int64_t ib;
    int j;

    for (ib = 0; ib < n / QK8_0; ib++, src += QK8_0) {
        float amax = max_abs(src, QK8_0);
        float inv_d = amax != 0.0f ? 127.0f / amax : 0.0f;

        y[ib].d = llm_f32_to_f16(amax / 127.0f);
        for (j = 0; j < QK8_0; j++)
            y[ib].qs[j] = round_even_int8(src[j] * inv_d);
    }
}

/* Q8_1: Q8_0 plus s = half(sum(q) * d), with the float d. */
void llm_ref_q8_1_quantize(const float *src, void *dst, int64_t n)
{
    block_q8_1 *y = dst;
    int64_t ib;
    int j;

    for (ib = 0; ib < n / QK8_1; ib++, src += QK8_1) {
        float amax = max_abs(src, QK8_1);
        float d = amax / 127.0f;
        float inv_d = amax != 0.0f ? 127.0f / amax : 0.0f;
        int sum = 0;

        y[ib].d = llm_f32_to_f16(d);
        for (j = 0; j < QK8_1; j++) {
            y[ib].qs[j] = round_even_int8(src[j] * inv_d);
            sum += y[ib].qs[j];
        }
        y[ib].s = llm_f32_to_f16(sum * d);
    }
}

/*
 * Q8_K: the element of largest magnitude, max, maps to exactly -127, so
 * d = max / -127 is negative when max is positive; d stays a float.
 */
static void q8k_quantize(const float *src, void *dst, int64_t n)
{
    block_q8k *y = dst;
    int64_t ib;
    int j, g;

    for (ib = 0; ib < n / QK_K; ib++, src += QK_K) {
        float amax = 0.0f, max = 0.0f, inv_d;

        for (j = 0; j < QK_K; j++) {
            float ax = fabsf(src[j]);
            if (ax > amax) {
                amax = ax;
                max = src[j];
            }
        }
        if (amax == 0.0f) {
            memset(&y[ib], 0, sizeof y[ib]);
            continue;
        }
        inv_d = -127.0f / max;
        for (j = 0; j < QK_K; j++)
            y[ib].qs[j] = round_even_int8(inv_d * src[j]);
        for (g = 0; g < QK_K / 16; g++) {
            int sum = 0;
            for (j = 16 * g; j < 16 * g + 16; j++)
                sum += y[ib].qs[j];
            y[ib].bsums[g] = (int16_t)sum;
        }
        y[ib].d = 1.0f / inv_d;
    }
}

/* F16 activations for F16 rows, rounded to nearest even. */
void llm_ref_f16_quantize(const float *src, void *dst, int64_t n)
{
    uint16_t *y = dst;
    int64_t i;

    for (i = 0; i < n; i++)
        y[i] = llm_f32_to_f16(src[i]);
}

/* BF16 activations for BF16 rows: the top 16 bits, rounded to nearest even; NaN stays a quiet NaN. */
void llm_ref_bf16_quantize(const float *src, void *dst, int64_t n)
{
    uint16_t *y = dst;
    uint32_t u;
    int64_t i;

    for (i = 0; i < n; i++) {
        memcpy(&u, &src[i], 4);
        if ((u & 0x7fffffffu) > 0x7f800000u)
            y[i] = (uint16_t)((u >> 16) | 0x40u);
        else
            y[i] = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
    }
}

/* --------------------------------------------------------- dot products */

/* F32 rows against F32 activations, F16 and BF16 rows against their own type: float products summed in double. */
float llm_ref_f32_dot_f32(int64_t n, const void *weights, const void *acts)
{
    const float *w = weights, *x = acts;
    double sum = 0.0;
    int64_t i;

    for (i = 0; i < n; i++)
        sum += (double)(w[i] * x[i]);
    return (float)sum;
}

static float f16_dot_f16(int64_t n, const void *weights, const void *acts)
{
    const uint16_t *w = weights, *x = acts;
    double sum = 0.0;
    int64_t i;

    for (i = 0; i < n; i++)
        sum += (double)(llm_f16_to_f32(w[i]) * llm_f16_to_f32(x[i]));
    return (float)sum;
}

float llm_ref_bf16_dot_bf16(int64_t n, const void *weights, const void *acts)
{
    const uint16_t *w = weights, *x = acts;
    double sum = 0.0;
    int64_t i;

    for (i = 0; i < n; i++)
        sum += (double)(llm_bf16_to_f32(w[i]) * llm_bf16_to_f32(x[i]));
    return (float)sum;
}

static int32_t dot_i8(const int8_t *a, const int8_t *b, int n)
{
    int32_t sum = 0;
    int j;

    for (j = 0; j < n; j++)
        sum += a[j] * b[j];
    return sum;
}

/*
 * Eight partial sums, lane j over elements 4j..4j+3 of a 32-element block,
 * as the int32 lanes of an x86-64 multiply-add of 32 bytes leave them.
 */
static void dot_i8_lanes(const int8_t *a, const int8_t *b, float lanes[8])
{
    int j;

    for (j = 0; j < 8; j++)
        lanes[j] = (float)dot_i8(a + 4 * j, b + 4 * j, 4);
}

/* Sums eight lanes in the order of ggml's hsum_float_8: halves, then pairs, then the last two. */
static float sum_lanes(const float a[8])
{
    float r0 = a[0] + a[4], r1 = a[1] + a[5], r2 = a[2] + a[6], r3 = a[3] + a[7];

    return (r0 + r2) + (r1 + r3);
}

/*
 * Q4_0 x Q8_0: sum of d_w * d_x * sum(q_w * q_x) over blocks, one fused
 * multiply-add per block in block order, as llama.cpp's x86-64 kernels for
 * Q4_0 weights repacked 8 rows at a time sum each row.
 */
float llm_ref_q4_0_dot_q8_0(int64_t n, const void *weights, const void *acts)
{
    const block_q4_0 *w = weights;
    const block_q8_0 *x = acts;
    int8_t q[QK4_0];
    float sum = 0.0f;
    int64_t ib;

    for (ib = 0; ib < n / QK4_0; ib++) {
        float d = llm_f16_to_f32(w[ib].d) * llm_f16_to_f32(x[ib].d);
        q4_0_unpack_quants(&w[ib], q);
        sum = fmaf((float)dot_i8(q, x[ib].qs, QK4_0), d, sum);
    }
    return sum;
}

float llm_ref_q5_0_dot_q8_0(int64_t n, const void *weights, const void *acts)
{
    const block_q5_0 *w = weights;
    const block_q8_0 *x = acts;
    int8_t q[QK5_0];
    float sum = 0.0f;
    int64_t ib;
    int j;

    for (ib = 0; ib < n / QK5_0; ib++) {
        q5_unpack_quants(w[ib].qh, w[ib].qs, q);
        for (j = 0; j < QK5_0; j++)
            q[j] = (int8_t)(q[j] - 16);
        sum += (llm_f16_to_f32(w[ib].d) * llm_f16_to_f32(x[ib].d)) * dot_i8(q, x[ib].qs, QK5_0);
    }
    return sum;
}

static float q8_0_dot_q8_0(int64_t n, const void *weights, const void *acts)
{
    const block_q8_0 *w = weights;
    const block_q8_0 *x = acts;
    float sum = 0.0f;
    int64_t ib;

    for (ib = 0; ib < n / QK8_0; ib++)
        sum += dot_i8(w[ib].qs, x[ib].qs, QK8_0) * (llm_f16_to_f32(w[ib].d) * llm_f16_to_f32(x[ib].d));
    return sum;
}

float llm_ref_iq4nl_dot_q8_0(int64_t n, const void *weights, const void *acts)
{
    const block_iq4nl *w = weights;
    const block_q8_0 *x = acts;
    int8_t q[QK4_NL];
    float sum = 0.0f;
    int64_t ib;

    for (ib = 0; ib < n / QK4_NL; ib++) {
        float d = llm_f16_to_f32(x[ib].d) * llm_f16_to_f32(w[ib].d);
        iq4nl_unpack_quants(&w[ib], q);
        sum += d * dot_i8(q, x[ib].qs, QK4_NL);
    }
    return sum;
}

/*
 * Q4_1 x Q8_1: w = d_w * q + m, so w . x = d_w * d_x * sum(q_w * q_x) + m * s_x.
 * As llama.cpp's x86-64 kernel: the first term in eight lanes with fused
 * multiply-adds, the m * s_x terms in their own sum, added last.
 */
float llm_ref_q4_1_dot_q8_1(int64_t n, const void *weights, const void *acts)
{
    const block_q4_1 *w = weights;
    const block_q8_1 *x = acts;
    int8_t q[QK4_1];
    float acc[8] = {0}, lanes[8], offsets = 0.0f;
    int64_t ib;
    int j;

    for (ib = 0; ib < n / QK4_1; ib++) {
        float scale = llm_f16_to_f32(w[ib].d) * llm_f16_to_f32(x[ib].d);
        offsets += llm_f16_to_f32(w[ib].m) * llm_f16_to_f32(x[ib].s);
        q4_1_unpack_quants(&w[ib], q);
        dot_i8_lanes(q, x[ib].qs, lanes);
        for (j = 0; j < 8; j++)
            acc[j] = fmaf(scale, lanes[j], acc[j]);
    }
    return sum_lanes(acc) + offsets;
}

/* Q5_1 x Q8_1: as Q4_1, with five-bit quants. */
float llm_ref_q5_1_dot_q8_1(int64_t n, const void *weights, const void *acts)
{
    const block_q5_1 *w = weights;
    const block_q8_1 *x = acts;
    int8_t q[QK5_1];
    float acc[8] = {0}, lanes[8], offsets = 0.0f;
    int64_t ib;
    int j;

    for (ib = 0; ib < n / QK5_1; ib++) {
        float scale = llm_f16_to_f32(w[ib].d) * llm_f16_to_f32(x[ib].d);
        offsets += llm_f16_to_f32(w[ib].m) * llm_f16_to_f32(x[ib].s);
        q5_unpack_quants(w[ib].qh, w[ib].qs, q);
        dot_i8_lanes(q, x[ib].qs, lanes);
        for (j = 0; j < 8; j++)
            acc[j] = fmaf(scale, lanes[j], acc[j]);
    }
    return sum_lanes(acc) + offsets;
}

/*
 * K-quants x Q8_K. Per super-block the sum of sc[s] * dot(q_w, q_x) over
 * sub-blocks is one exact int32 (at most 128 * 32 * 127 * 256 < 2^31), scaled
 * once by d_w * d_x. The "- dmin * mn[s]" term uses the activation block's
 * bsums. ggml's scalar Q3_K..Q6_K code spreads the same integers over 8 float
 * lanes, so results agree with it up to float rounding, not bit for bit.
 */

float llm_ref_q2k_dot_q8k(int64_t n, const void *weights, const void *acts)
{
    const block_q2k *w = weights;
    const block_q8k *x = acts;
    int8_t q[QK_K];
    float sum = 0.0f;
    int64_t ib;
    int s;

    for (ib = 0; ib < n / QK_K; ib++) {
        int32_t sum_q = 0, sum_min = 0;
        float d = x[ib].d * llm_f16_to_f32(w[ib].d);
        float dmin = x[ib].d * llm_f16_to_f32(w[ib].dmin);

        q2k_unpack_quants(&w[ib], q);
        for (s = 0; s < QK_K / 16; s++) {
            sum_q += (w[ib].scales[s] & 0x0F) * dot_i8(q + 16 * s, x[ib].qs + 16 * s, 16);
            sum_min += (w[ib].scales[s] >> 4) * x[ib].bsums[s];
        }
        sum += d * sum_q - dmin * sum_min;
    }
    return sum;
}

static float q3k_dot_q8k(int64_t n, const void *weights, const void *acts)
{
    const block_q3k *w = weights;
    const block_q8k *x = acts;
    int8_t q[QK_K], sc[16];
    float sum = 0.0f;
    int64_t ib;
    int s;

    for (ib = 0; ib < n / QK_K; ib++) {
        int32_t sum_q = 0;

        q3k_unpack_scales(w[ib].scales, sc);
        q3k_unpack_quants(&w[ib], q);
        for (s = 0; s < QK_K / 16; s++)
            sum_q += sc[s] * dot_i8(q + 16 * s, x[ib].qs + 16 * s, 16);
        sum += llm_f16_to_f32(w[ib].d) * x[ib].d * sum_q;
    }
    return sum;
}

/* Q4_K and Q5_K share scales, mins and the formula; only the quants differ. */
static float q4k_q5k_dot_block(uint16_t d_half, uint16_t dmin_half, const uint8_t packed_scales[12],
                               const int8_t q[QK_K], const block_q8k *x)
{
    uint8_t sc[8], mn[8];
    int32_t sum_q = 0, sum_min = 0;
    int s;

    q4k_unpack_scales(packed_scales, sc, mn);
    for (s = 0; s < QK_K / 32; s++) {
        sum_q += sc[s] * dot_i8(q + 32 * s, x->qs + 32 * s, 32);
        sum_min += mn[s] * (x->bsums[2 * s] + x->bsums[2 * s + 1]);
    }
    return llm_f16_to_f32(d_half) * x->d * sum_q - llm_f16_to_f32(dmin_half) * x->d * sum_min;
}

static float q4k_dot_q8k(int64_t n, const void *weights, const void *acts)
{
    const block_q4k *w = weights;
    const block_q8k *x = acts;
    int8_t q[QK_K];
    float sum = 0.0f;
    int64_t ib;

    for (ib = 0; ib < n / QK_K; ib++) {
        q4k_unpack_quants(&w[ib], q);
        sum += q4k_q5k_dot_block(w[ib].d, w[ib].dmin, w[ib].scales, q, &x[ib]);
    }
    return sum;
}

static float q5k_dot_q8k(int64_t n, const void *weights, const void *acts)
{
    const block_q5k *w = weights;
    const block_q8k *x = acts;
    int8_t q[QK_K];
    float sum = 0.0f;
    int64_t ib;

    for (ib = 0; ib < n / QK_K; ib++) {
        q5k_unpack_quants(&w[ib], q);
        sum += q4k_q5k_dot_block(w[ib].d, w[ib].dmin, w[ib].scales, q, &x[ib]);
    }
    return sum;
}

static float q6k_dot_q8k(int64_t n, const void *weights, const void *acts)
{
    const block_q6k *w = weights;
    const block_q8k *x = acts;
    int8_t q[QK_K];
    float sum = 0.0f;
    int64_t ib;
    int s;

    for (ib = 0; ib < n / QK_K; ib++) {
        int32_t sum_q = 0;

        q6k_unpack_quants(&w[ib], q);
        for (s = 0; s < QK_K / 16; s++)
            sum_q += w[ib].scales[s] * dot_i8(q + 16 * s, x[ib].qs + 16 * s, 16);
        sum += llm_f16_to_f32(w[ib].d) * x[ib].d * sum_q;
    }
    return sum;
}

/* ---------------------------------------------------------------- table */

const llm_kernels llm_kernels_scalar = {
    "scalar",
    {
        [LLM_TYPE_F32] = llm_ref_f32_dequantize,
        [LLM_TYPE_F16] = llm_ref_f16_dequantize,
        [LLM_TYPE_BF16] = llm_ref_bf16_dequantize,
        [LLM_TYPE_Q4_0] = llm_ref_q4_0_dequantize,
        [LLM_TYPE_Q4_1] = llm_ref_q4_1_dequantize,
        [LLM_TYPE_Q5_0] = llm_ref_q5_0_dequantize,
        [LLM_TYPE_Q5_1] = llm_ref_q5_1_dequantize,
        [LLM_TYPE_Q8_0] = llm_ref_q8_0_dequantize,
        [LLM_TYPE_Q2_K] = llm_ref_q2k_dequantize,
        [LLM_TYPE_Q3_K] = llm_ref_q3k_dequantize,
        [LLM_TYPE_Q4_K] = llm_ref_q4k_dequantize,
        [LLM_TYPE_Q5_K] = llm_ref_q5k_dequantize,
        [LLM_TYPE_Q6_K] = llm_ref_q6k_dequantize,
        [LLM_TYPE_IQ4_NL] = llm_ref_iq4nl_dequantize,
    },
    {
        [LLM_TYPE_F32] = llm_ref_f32_copy,
        [LLM_TYPE_F16] = llm_ref_f16_quantize,
        [LLM_TYPE_BF16] = llm_ref_bf16_quantize,
        [LLM_TYPE_Q8_0] = q8_0_quantize,
        [LLM_TYPE_Q8_1] = llm_ref_q8_1_quantize,
        [LLM_TYPE_Q8_K] = q8k_quantize,
    },
    {
        [LLM_TYPE_F32] = llm_ref_f32_dot_f32,
        [LLM_TYPE_F16] = f16_dot_f16,
        [LLM_TYPE_BF16] = llm_ref_bf16_dot_bf16,
        [LLM_TYPE_Q4_0] = llm_ref_q4_0_dot_q8_0,
        [LLM_TYPE_Q4_1] = llm_ref_q4_1_dot_q8_1,
        [LLM_TYPE_Q5_0] = llm_ref_q5_0_dot_q8_0,
        [LLM_TYPE_Q5_1] = llm_ref_q5_1_dot_q8_1,
        [LLM_TYPE_Q8_0] = q8_0_dot_q8_0,
        [LLM_TYPE_Q2_K] = llm_ref_q2k_dot_q8k,
        [LLM_TYPE_Q3_K] = q3k_dot_q8k,
        [LLM_TYPE_Q4_K] = q4k_dot_q8k,
        [LLM_TYPE_Q5_K] = q5k_dot_q8k,
        [LLM_TYPE_Q6_K] = q6k_dot_q8k,
        [LLM_TYPE_IQ4_NL] = llm_ref_iq4nl_dot_q8_0,
    },
    {0}, /* no tile kernels: matmul runs one dot per token */
};
