/*
 * quant_wasm.c - dot products and activation quantizers for WebAssembly
 * SIMD128: the table llm_kernels_wasm ("wasm-simd128").
 *
 * Faster twins of quant_ref.c, which defines the results; tests/test_kernels.c
 * compares every entry with its scalar twin when the test runner is built
 * for wasm32-wasi. The Makefile compiles this file only for the WASI build,
 * where -msimd128 is on for every file.
 *
 * What each entry promises, relative to llm_kernels_scalar:
 *   - Q3_K, Q4_K, Q5_K, Q6_K x Q8_K and Q8_0 x Q8_0: bit-identical. Each
 *     block's integer sum is exact (i32x4.dot_i16x8 on quants widened to
 *     16 bits), and blocks are scaled and summed with the same float
 *     operations in the same order as the scalar code.
 *   - Q3_K, Q5_K and Q6_K dot_tile: bit-identical to the row dots; each
 *     weight block is decoded once for all the tokens of a tile.
 *   - Q8_K and Q8_0 quantizers: bit-identical output.
 *   - Every other entry (all dequantizers, the F32, F16, BF16 and Q8_1
 *     activation converters, the F32, F16, BF16, Q2_K, Q4_0, Q4_1, Q5_0,
 *     Q5_1 and IQ4_NL dots) forwards to the scalar function.
 */
#include <math.h>
#include <string.h>
#include <wasm_simd128.h>

#include "quant.h"
#include "quant_blocks.h"

/* ------------------------------------------------------------- helpers */

/* Sum of the products of 16 signed bytes, as 4 partial int32 sums. */
static v128_t dot_i8x16(v128_t a, v128_t b)
{
    v128_t low = wasm_i32x4_dot_i16x8(wasm_i16x8_extend_low_i8x16(a), wasm_i16x8_extend_low_i8x16(b));
    v128_t high = wasm_i32x4_dot_i16x8(wasm_i16x8_extend_high_i8x16(a), wasm_i16x8_extend_high_i8x16(b));

    return wasm_i32x4_add(low, high);
}

static int32_t sum_i32x4(v128_t v)
{
    return wasm_i32x4_extract_lane(v, 0) + wasm_i32x4_extract_lane(v, 1) + wasm_i32x4_extract_lane(v, 2) +
           wasm_i32x4_extract_lane(v, 3);
}

/* acc + scale * dot(q, 16 activation quants at x). */
static v128_t add_scaled_dot(v128_t acc, v128_t q, const int8_t *x, int32_t scale)
{
    v128_t dot = dot_i8x16(q, wasm_v128_load(x));

    return wasm_i32x4_add(acc, wasm_i32x4_mul(dot, wasm_i32x4_splat(scale)));
}

/*
 * Largest |x[j]| of n values (a multiple of 4). pmax(a, b) is "a < b ? b :
 * a", so a NaN in x never replaces the running maximum, as in the scalar
 * max_abs.
 */
static float max_abs_f32x4(const float *x, int n)
{
    v128_t amax = wasm_f32x4_splat(0.0f);
    float lanes[4], result = 0.0f;
    int j;

    for (j = 0; j < n; j += 4)
        amax = wasm_f32x4_pmax(amax, wasm_f32x4_abs(wasm_v128_load(x + j)));
    wasm_v128_store(lanes, amax);
    for (j = 0; j < 4; j++)
        result = lanes[j] > result ? lanes[j] : result;
    return result;
}

/*
 * Clamps rounded values to -127..127 and converts them to int32. pmin and
 * pmax keep a NaN, and the saturating conversion turns it into 0, as the
 * scalar rounding helpers do.
 */
static v128_t clamp_to_i32(v128_t rounded)
{
    v128_t clamped = wasm_f32x4_pmax(wasm_f32x4_pmin(rounded, wasm_f32x4_splat(127.0f)), wasm_f32x4_splat(-127.0f));

    return wasm_i32x4_trunc_sat_f32x4(clamped);
}

/* Packs 16 int32 in -127..127 into 16 bytes at dst. */
static void store_i8x16(int8_t *dst, v128_t a, v128_t b, v128_t c, v128_t d)
{
    v128_t ab = wasm_i16x8_narrow_i32x4(a, b);
    v128_t cd = wasm_i16x8_narrow_i32x4(c, d);

    wasm_v128_store(dst, wasm_i8x16_narrow_i16x8(ab, cd));
}

/*
 * Rounds half away from zero, as roundf: truncate, then step one away from
 * zero when the dropped fraction (exact for |v| < 2^23) is at least 0.5.
 */
static v128_t round_half_away(v128_t v)
{
    v128_t truncated = wasm_f32x4_trunc(v);
    v128_t fraction = wasm_f32x4_abs(wasm_f32x4_sub(v, truncated));
    v128_t sign_one = wasm_v128_or(wasm_f32x4_splat(1.0f), wasm_v128_and(v, wasm_f32x4_splat(-0.0f)));
    v128_t step = wasm_v128_and(wasm_f32x4_ge(fraction, wasm_f32x4_splat(0.5f)), sign_one);

    return wasm_f32x4_add(truncated, step);
}

/* ------------------------------------------------------- dot products */

/* Q8_0 x Q8_0: one exact int32 per block, scaled by (d_w * d_x) in block order. */
static float q8_0_dot_q8_0_wasm(int64_t n, const void *weights, const void *acts)
{
    const block_q8_0 *w = weights;
    const block_q8_0 *x = acts;
    float sum = 0.0f;
    int64_t ib;

    for (ib = 0; ib < n / QK8_0; ib++) {
        v128_t low = dot_i8x16(wasm_v128_load(w[ib].qs), wasm_v128_load(x[ib].qs));
        v128_t high = dot_i8x16(wasm_v128_load(w[ib].qs + 16), wasm_v128_load(x[ib].qs + 16));
        int32_t sum_q = sum_i32x4(wasm_i32x4_add(low, high));

        sum += sum_q * (llm_f16_to_f32(w[ib].d) * llm_f16_to_f32(x[ib].d));
    }
    return sum;
}

/*
 * Q3_K x Q8_K. For h in 0..1 and k in 0..3, bits 2k..2k+1 of qs[32h + l] and
 * bit 4h + k of hmask[l] make the quant of element 128h + 32k + l, which
 * belongs to sub-block 8h + 2k + (l >= 16).
 */
static float q3k_dot_q8k_wasm(int64_t n, const void *weights, const void *acts)
{
    const block_q3k *w = weights;
    const block_q8k *x = acts;
    const v128_t two_bits = wasm_i8x16_splat(3), one_bit = wasm_i8x16_splat(1), four = wasm_i8x16_splat(4);
    float sum = 0.0f;
    int64_t ib;
    int h, k, half;

    for (ib = 0; ib < n / QK_K; ib++) {
        const int8_t *xq = x[ib].qs;
        v128_t hmask[2], acc = wasm_i32x4_splat(0);
        int8_t sc[16];

        q3k_unpack_scales(w[ib].scales, sc);
        hmask[0] = wasm_v128_load(w[ib].hmask);
        hmask[1] = wasm_v128_load(w[ib].hmask + 16);
        for (h = 0; h < 2; h++) {
            v128_t planes[2];
            planes[0] = wasm_v128_load(w[ib].qs + 32 * h);
            planes[1] = wasm_v128_load(w[ib].qs + 32 * h + 16);
            for (k = 0; k < 4; k++) {
                for (half = 0; half < 2; half++) {
                    v128_t low = wasm_v128_and(wasm_u8x16_shr(planes[half], (uint32_t)(2 * k)), two_bits);
                    v128_t high = wasm_v128_and(wasm_u8x16_shr(hmask[half], (uint32_t)(4 * h + k)), one_bit);
                    v128_t q = wasm_i8x16_sub(wasm_v128_or(low, wasm_i8x16_shl(high, 2)), four);
                    acc = add_scaled_dot(acc, q, xq + 128 * h + 32 * k + 16 * half, sc[8 * h + 2 * k + half]);
                }
            }
        }
        sum += llm_f16_to_f32(w[ib].d) * x[ib].d * sum_i32x4(acc);
    }
    return sum;
}

/*
 * Q4_K and Q5_K after the quants: sum_q from the 8 per-sub-block dot
 * products in dots (as int32x4 partial sums), sum_min from the bsums, and
 * the scalar formula in the scalar order.
 */
static float q4k_q5k_finish_block(uint16_t d_half, uint16_t dmin_half, const uint8_t packed_scales[12],
                                  const v128_t dots[8], const block_q8k *x)
{
    uint8_t sc[8], mn[8];
    int32_t sum_min = 0;
    v128_t acc = wasm_i32x4_splat(0);
    int s;

    q4k_unpack_scales(packed_scales, sc, mn);
    for (s = 0; s < QK_K / 32; s++) {
        acc = wasm_i32x4_add(acc, wasm_i32x4_mul(dots[s], wasm_i32x4_splat(sc[s])));
        sum_min += mn[s] * (x->bsums[2 * s] + x->bsums[2 * s + 1]);
    }
    return llm_f16_to_f32(d_half) * x->d * sum_i32x4(acc) - llm_f16_to_f32(dmin_half) * x->d * sum_min;
}

/*
 * Q4_K x Q8_K. qs[32c + l] stores element 64c + l (sub-block 2c) in its low
 * nibble and element 64c + 32 + l (sub-block 2c + 1) in its high nibble.
 */
static float q4k_dot_q8k_wasm(int64_t n, const void *weights, const void *acts)
{
    const block_q4k *w = weights;
    const block_q8k *x = acts;
    const v128_t nibble = wasm_i8x16_splat(0x0F);
    float sum = 0.0f;
    int64_t ib;
    int c, half;

    for (ib = 0; ib < n / QK_K; ib++) {
        const int8_t *xq = x[ib].qs;
        v128_t dots[8];

        for (c = 0; c < 4; c++) {
            dots[2 * c] = wasm_i32x4_splat(0);
            dots[2 * c + 1] = wasm_i32x4_splat(0);
            for (half = 0; half < 2; half++) {
                v128_t bytes = wasm_v128_load(w[ib].qs + 32 * c + 16 * half);
                v128_t low = wasm_v128_and(bytes, nibble);
                v128_t high = wasm_u8x16_shr(bytes, 4);
                dots[2 * c] = wasm_i32x4_add(dots[2 * c], dot_i8x16(low, wasm_v128_load(xq + 64 * c + 16 * half)));
                dots[2 * c + 1] =
                    wasm_i32x4_add(dots[2 * c + 1], dot_i8x16(high, wasm_v128_load(xq + 64 * c + 32 + 16 * half)));
            }
        }
        sum += q4k_q5k_finish_block(w[ib].d, w[ib].dmin, w[ib].scales, dots, &x[ib]);
    }
    return sum;
}

/* Q5_K x Q8_K: the Q4_K nibbles plus bit 2c (low nibble) or 2c + 1 (high nibble) of qh[l] as bit 4. */
static float q5k_dot_q8k_wasm(int64_t n, const void *weights, const void *acts)
{
    const block_q5k *w = weights;
    const block_q8k *x = acts;
    const v128_t nibble = wasm_i8x16_splat(0x0F), bit4 = wasm_i8x16_splat(0x10);
    float sum = 0.0f;
    int64_t ib;
    int c, half;

    for (ib = 0; ib < n / QK_K; ib++) {
        const int8_t *xq = x[ib].qs;
        v128_t dots[8], qh[2];

        qh[0] = wasm_v128_load(w[ib].qh);
        qh[1] = wasm_v128_load(w[ib].qh + 16);
        for (c = 0; c < 4; c++) {
            dots[2 * c] = wasm_i32x4_splat(0);
            dots[2 * c + 1] = wasm_i32x4_splat(0);
            for (half = 0; half < 2; half++) {
                v128_t bytes = wasm_v128_load(w[ib].qs + 32 * c + 16 * half);
                v128_t high_bits_low = wasm_v128_and(wasm_i8x16_shl(wasm_u8x16_shr(qh[half], (uint32_t)(2 * c)), 4), bit4);
                v128_t high_bits_high =
                    wasm_v128_and(wasm_i8x16_shl(wasm_u8x16_shr(qh[half], (uint32_t)(2 * c + 1)), 4), bit4);
                v128_t low = wasm_v128_or(wasm_v128_and(bytes, nibble), high_bits_low);
                v128_t high = wasm_v128_or(wasm_u8x16_shr(bytes, 4), high_bits_high);
                dots[2 * c] = wasm_i32x4_add(dots[2 * c], dot_i8x16(low, wasm_v128_load(xq + 64 * c + 16 * half)));
                dots[2 * c + 1] =
                    wasm_i32x4_add(dots[2 * c + 1], dot_i8x16(high, wasm_v128_load(xq + 64 * c + 32 + 16 * half)));
            }
        }
        sum += q4k_q5k_finish_block(w[ib].d, w[ib].dmin, w[ib].scales, dots, &x[ib]);
    }
    return sum;
}

/*
 * Q6_K x Q8_K. Element 128h + 32k + l takes its low 4 bits from the low
 * (k < 2) or high (k >= 2) nibble of ql[64h + 32(k % 2) + l], its high 2 bits
 * from bits 2k..2k+1 of qh[32h + l], and belongs to sub-block 8h + 2k + (l >= 16).
 */
static float q6k_dot_q8k_wasm(int64_t n, const void *weights, const void *acts)
{
    const block_q6k *w = weights;
    const block_q8k *x = acts;
    const v128_t nibble = wasm_i8x16_splat(0x0F), two_bits = wasm_i8x16_splat(3), offset = wasm_i8x16_splat(32);
    float sum = 0.0f;
    int64_t ib;
    int h, k, half;

    for (ib = 0; ib < n / QK_K; ib++) {
        const int8_t *xq = x[ib].qs;
        v128_t acc = wasm_i32x4_splat(0);

        for (h = 0; h < 2; h++) {
            for (k = 0; k < 4; k++) {
                for (half = 0; half < 2; half++) {
                    v128_t ql = wasm_v128_load(w[ib].ql + 64 * h + 32 * (k % 2) + 16 * half);
                    v128_t qh = wasm_v128_load(w[ib].qh + 32 * h + 16 * half);
                    v128_t low = k < 2 ? wasm_v128_and(ql, nibble) : wasm_u8x16_shr(ql, 4);
                    v128_t high = wasm_v128_and(wasm_u8x16_shr(qh, (uint32_t)(2 * k)), two_bits);
                    v128_t q = wasm_i8x16_sub(wasm_v128_or(low, wasm_i8x16_shl(high, 4)), offset);
                    acc = add_scaled_dot(acc, q, xq + 128 * h + 32 * k + 16 * half, w[ib].scales[8 * h + 2 * k + half]);
                }
            }
        }
        sum += llm_f16_to_f32(w[ib].d) * x[ib].d * sum_i32x4(acc);
    }
    return sum;
}

/* ------------------------------------------------ activation quantizers */

/* Q8_0 with the scalar rules: d = max|x| / 127 rounded to half, quants from the float d, half away from zero. */
static void q8_0_quantize_wasm(const float *src, void *dst, int64_t n)
{
    block_q8_0 *y = dst;
    int64_t ib;
    int v;

    for (ib = 0; ib < n / QK8_0; ib++, src += QK8_0) {
        float d = max_abs_f32x4(src, QK8_0) / 127.0f;
        v128_t scale = wasm_f32x4_splat(d != 0.0f ? 1.0f / d : 0.0f);
        v128_t q[8];

        y[ib].d = llm_f32_to_f16(d);
        for (v = 0; v < 8; v++)
            q[v] = clamp_to_i32(round_half_away(wasm_f32x4_mul(wasm_v128_load(src + 4 * v), scale)));
        store_i8x16(y[ib].qs, q[0], q[1], q[2], q[3]);
        store_i8x16(y[ib].qs + 16, q[4], q[5], q[6], q[7]);
    }
}

/*
 * Q8_K with the scalar rules: the first element of largest magnitude maps
 * to exactly -127, quants round half to even (f32x4.nearest), d stays a float.
 */
static void q8k_quantize_wasm(const float *src, void *dst, int64_t n)
{
    block_q8k *y = dst;
    int64_t ib;
    int j, g;

    for (ib = 0; ib < n / QK_K; ib++, src += QK_K) {
        float amax = max_abs_f32x4(src, QK_K), max = 0.0f, inv_d;
        v128_t scale;

        if (amax == 0.0f) {
            memset(&y[ib], 0, sizeof y[ib]);
            continue;
        }
        for (j = 0; j < QK_K; j++) {
            if (fabsf(src[j]) == amax) {
                max = src[j];
                break;
            }
        }
        inv_d = -127.0f / max;
        scale = wasm_f32x4_splat(inv_d);
        for (j = 0; j < QK_K; j += 16) {
            v128_t q[4];
            int v;
            for (v = 0; v < 4; v++)
                q[v] = clamp_to_i32(wasm_f32x4_nearest(wasm_f32x4_mul(scale, wasm_v128_load(src + j + 4 * v))));
            store_i8x16(y[ib].qs + j, q[0], q[1], q[2], q[3]);
        }
        for (g = 0; g < QK_K / 16; g++) {
            v128_t pairs = wasm_i16x8_extadd_pairwise_i8x16(wasm_v128_load(y[ib].qs + 16 * g));
            y[ib].bsums[g] = (int16_t)sum_i32x4(wasm_i32x4_extadd_pairwise_i16x8(pairs));
        }
        y[ib].d = 1.0f / inv_d;
    }
}

/* ------------------------------------------------------- tile kernels */

/*
 * The dot_tile entries decode each weight block once into int8 quants and
 * its scales, then take the exact integer sum against every token's block.
 * out[j][r] accumulates the blocks with the float expression of the row dot,
 * in block order, so each output is bit-identical to the row dot.
 */

/* Sum of sc[s] * dot(q, x) over the 16 sub-blocks of 16 quants. */
static int32_t sum_scaled_16x16(const int8_t q[QK_K], const int8_t *x, const int8_t sc[16])
{
    v128_t acc = wasm_i32x4_splat(0);
    int s;

    for (s = 0; s < 16; s++)
        acc = add_scaled_dot(acc, wasm_v128_load(q + 16 * s), x + 16 * s, sc[s]);
    return sum_i32x4(acc);
}

/* Q3_K quants in element order, in -4..3 (layout as in q3k_dot_q8k_wasm). */
static void q3k_decode(const block_q3k *b, int8_t q[QK_K])
{
    const v128_t two_bits = wasm_i8x16_splat(3), one_bit = wasm_i8x16_splat(1), four = wasm_i8x16_splat(4);
    v128_t hmask[2];
    int h, k, half;

    hmask[0] = wasm_v128_load(b->hmask);
    hmask[1] = wasm_v128_load(b->hmask + 16);
    for (h = 0; h < 2; h++) {
        for (half = 0; half < 2; half++) {
            v128_t plane = wasm_v128_load(b->qs + 32 * h + 16 * half);
            for (k = 0; k < 4; k++) {
                v128_t low = wasm_v128_and(wasm_u8x16_shr(plane, (uint32_t)(2 * k)), two_bits);
                v128_t high = wasm_v128_and(wasm_u8x16_shr(hmask[half], (uint32_t)(4 * h + k)), one_bit);
                wasm_v128_store(q + 128 * h + 32 * k + 16 * half,
                                wasm_i8x16_sub(wasm_v128_or(low, wasm_i8x16_shl(high, 2)), four));
            }
        }
    }
}

/* Q6_K quants in element order, in -32..31 (layout as in q6k_dot_q8k_wasm). */
static void q6k_decode(const block_q6k *b, int8_t q[QK_K])
{
    const v128_t nibble = wasm_i8x16_splat(0x0F), two_bits = wasm_i8x16_splat(3), offset = wasm_i8x16_splat(32);
    int h, k, half;

    for (h = 0; h < 2; h++) {
        for (k = 0; k < 4; k++) {
            for (half = 0; half < 2; half++) {
                v128_t ql = wasm_v128_load(b->ql + 64 * h + 32 * (k % 2) + 16 * half);
                v128_t qh = wasm_v128_load(b->qh + 32 * h + 16 * half);
                v128_t low = k < 2 ? wasm_v128_and(ql, nibble) : wasm_u8x16_shr(ql, 4);
                v128_t high = wasm_v128_and(wasm_u8x16_shr(qh, (uint32_t)(2 * k)), two_bits);
                wasm_v128_store(q + 128 * h + 32 * k + 16 * half,
                                wasm_i8x16_sub(wasm_v128_or(low, wasm_i8x16_shl(high, 4)), offset));
            }
        }
    }
}

/* Q5_K quants in element order, in 0..31 (layout as in q5k_dot_q8k_wasm). */
static void q5k_decode(const block_q5k *b, int8_t q[QK_K])
{
    const v128_t nibble = wasm_i8x16_splat(0x0F), bit4 = wasm_i8x16_splat(0x10);
    int c, half;

    for (c = 0; c < 4; c++) {
        for (half = 0; half < 2; half++) {
            v128_t bytes = wasm_v128_load(b->qs + 32 * c + 16 * half);
            v128_t qh = wasm_v128_load(b->qh + 16 * half);
            v128_t high_low = wasm_v128_and(wasm_i8x16_shl(wasm_u8x16_shr(qh, (uint32_t)(2 * c)), 4), bit4);
            v128_t high_high = wasm_v128_and(wasm_i8x16_shl(wasm_u8x16_shr(qh, (uint32_t)(2 * c + 1)), 4), bit4);
            wasm_v128_store(q + 64 * c + 16 * half, wasm_v128_or(wasm_v128_and(bytes, nibble), high_low));
            wasm_v128_store(q + 64 * c + 32 + 16 * half, wasm_v128_or(wasm_u8x16_shr(bytes, 4), high_high));
        }
    }
}

/* Activation block ib of token j. */
static const block_q8k *act_block(const void *acts, size_t act_stride, int j, int64_t ib)
{
    return (const block_q8k *)((const uint8_t *)acts + (size_t)j * act_stride) + ib;
}

static void q3k_dot_tile_wasm(int64_t n, const void *weights, size_t row_bytes, int n_rows, const void *acts,
                              size_t act_stride, int n_tokens, float *out, size_t out_stride)
{
    int8_t q[QK_K], sc[16];
    int64_t ib;
    int r, j;

    for (r = 0; r < n_rows; r++) {
        const block_q3k *w = (const block_q3k *)((const uint8_t *)weights + (size_t)r * row_bytes);
        for (j = 0; j < n_tokens; j++)
            out[(size_t)j * out_stride + r] = 0.0f;
        for (ib = 0; ib < n / QK_K; ib++) {
            float d = llm_f16_to_f32(w[ib].d);
            q3k_unpack_scales(w[ib].scales, sc);
            q3k_decode(&w[ib], q);
            for (j = 0; j < n_tokens; j++) {
                const block_q8k *x = act_block(acts, act_stride, j, ib);
                out[(size_t)j * out_stride + r] += d * x->d * sum_scaled_16x16(q, x->qs, sc);
            }
        }
    }
}

static void q6k_dot_tile_wasm(int64_t n, const void *weights, size_t row_bytes, int n_rows, const void *acts,
                              size_t act_stride, int n_tokens, float *out, size_t out_stride)
{
    int8_t q[QK_K];
    int64_t ib;
    int r, j;

    for (r = 0; r < n_rows; r++) {
        const block_q6k *w = (const block_q6k *)((const uint8_t *)weights + (size_t)r * row_bytes);
        for (j = 0; j < n_tokens; j++)
            out[(size_t)j * out_stride + r] = 0.0f;
        for (ib = 0; ib < n / QK_K; ib++) {
            float d = llm_f16_to_f32(w[ib].d);
            q6k_decode(&w[ib], q);
            for (j = 0; j < n_tokens; j++) {
                const block_q8k *x = act_block(acts, act_stride, j, ib);
                out[(size_t)j * out_stride + r] += d * x->d * sum_scaled_16x16(q, x->qs, w[ib].scales);
            }
        }
    }
}

static void q5k_dot_tile_wasm(int64_t n, const void *weights, size_t row_bytes, int n_rows, const void *acts,
                              size_t act_stride, int n_tokens, float *out, size_t out_stride)
{
    int8_t q[QK_K];
    uint8_t sc[8], mn[8];
    int64_t ib;
    int r, j, s;

    for (r = 0; r < n_rows; r++) {
        const block_q5k *w = (const block_q5k *)((const uint8_t *)weights + (size_t)r * row_bytes);
        for (j = 0; j < n_tokens; j++)
            out[(size_t)j * out_stride + r] = 0.0f;
        for (ib = 0; ib < n / QK_K; ib++) {
            float d = llm_f16_to_f32(w[ib].d), dmin = llm_f16_to_f32(w[ib].dmin);
            q4k_unpack_scales(w[ib].scales, sc, mn);
            q5k_decode(&w[ib], q);
            for (j = 0; j < n_tokens; j++) {
                const block_q8k *x = act_block(acts, act_stride, j, ib);
                v128_t acc = wasm_i32x4_splat(0);
                int32_t sum_min = 0;
                for (s = 0; s < QK_K / 32; s++) {
                    v128_t low = dot_i8x16(wasm_v128_load(q + 32 * s), wasm_v128_load(x->qs + 32 * s));
                    v128_t high = dot_i8x16(wasm_v128_load(q + 32 * s + 16), wasm_v128_load(x->qs + 32 * s + 16));
                    acc = wasm_i32x4_add(acc, wasm_i32x4_mul(wasm_i32x4_add(low, high), wasm_i32x4_splat(sc[s])));
                    sum_min += mn[s] * (x->bsums[2 * s] + x->bsums[2 * s + 1]);
                }
                out[(size_t)j * out_stride + r] += d * x->d * sum_i32x4(acc) - dmin * x->d * sum_min;
            }
        }
    }
}

/* --------------------------------------------- entries left to the scalar code */

#define FORWARD_DEQUANTIZE(name, type)                        \
    static void name(const void *src, float *dst, int64_t n) \
    {                                                         \
        llm_kernels_scalar.dequantize[type](src, dst, n);    \
    }
#define FORWARD_QUANTIZE(name, type)                          \
    static void name(const float *src, void *dst, int64_t n) \
    {                                                         \
        llm_kernels_scalar.quantize[type](src, dst, n);      \
    }
#define FORWARD_DOT(name, type)                                         \
    static float name(int64_t n, const void *weights, const void *acts) \
    {                                                                   \
        return llm_kernels_scalar.dot[type](n, weights, acts);          \
    }

FORWARD_DEQUANTIZE(f32_dequantize_scalar, LLM_TYPE_F32)
FORWARD_DEQUANTIZE(f16_dequantize_scalar, LLM_TYPE_F16)
FORWARD_DEQUANTIZE(bf16_dequantize_scalar, LLM_TYPE_BF16)
FORWARD_DEQUANTIZE(q4_0_dequantize_scalar, LLM_TYPE_Q4_0)
FORWARD_DEQUANTIZE(q4_1_dequantize_scalar, LLM_TYPE_Q4_1)
FORWARD_DEQUANTIZE(q5_0_dequantize_scalar, LLM_TYPE_Q5_0)
FORWARD_DEQUANTIZE(q5_1_dequantize_scalar, LLM_TYPE_Q5_1)
FORWARD_DEQUANTIZE(q8_0_dequantize_scalar, LLM_TYPE_Q8_0)
FORWARD_DEQUANTIZE(q2k_dequantize_scalar, LLM_TYPE_Q2_K)
FORWARD_DEQUANTIZE(q3k_dequantize_scalar, LLM_TYPE_Q3_K)
FORWARD_DEQUANTIZE(q4k_dequantize_scalar, LLM_TYPE_Q4_K)
FORWARD_DEQUANTIZE(q5k_dequantize_scalar, LLM_TYPE_Q5_K)
FORWARD_DEQUANTIZE(q6k_dequantize_scalar, LLM_TYPE_Q6_K)
FORWARD_DEQUANTIZE(iq4nl_dequantize_scalar, LLM_TYPE_IQ4_NL)
FORWARD_QUANTIZE(f32_copy_scalar, LLM_TYPE_F32)
FORWARD_QUANTIZE(f16_quantize_scalar, LLM_TYPE_F16)
FORWARD_QUANTIZE(bf16_quantize_scalar, LLM_TYPE_BF16)
FORWARD_QUANTIZE(q8_1_quantize_scalar, LLM_TYPE_Q8_1)
FORWARD_DOT(f32_dot_f32_scalar, LLM_TYPE_F32)
FORWARD_DOT(f16_dot_f16_scalar, LLM_TYPE_F16)
FORWARD_DOT(bf16_dot_bf16_scalar, LLM_TYPE_BF16)
FORWARD_DOT(q4_0_dot_q8_0_scalar, LLM_TYPE_Q4_0)
FORWARD_DOT(q4_1_dot_q8_1_scalar, LLM_TYPE_Q4_1)
FORWARD_DOT(q5_0_dot_q8_0_scalar, LLM_TYPE_Q5_0)
FORWARD_DOT(q5_1_dot_q8_1_scalar, LLM_TYPE_Q5_1)
FORWARD_DOT(q2k_dot_q8k_scalar, LLM_TYPE_Q2_K)
FORWARD_DOT(iq4nl_dot_q8_0_scalar, LLM_TYPE_IQ4_NL)

/* ---------------------------------------------------------------- table */

const llm_kernels llm_kernels_wasm = {
    "wasm-simd128",
    {
        [LLM_TYPE_F32] = f32_dequantize_scalar,
        [LLM_TYPE_F16] = f16_dequantize_scalar,
        [LLM_TYPE_BF16] = bf16_dequantize_scalar,
        [LLM_TYPE_Q4_0] = q4_0_dequantize_scalar,
        [LLM_TYPE_Q4_1] = q4_1_dequantize_scalar,
        [LLM_TYPE_Q5_0] = q5_0_dequantize_scalar,
        [LLM_TYPE_Q5_1] = q5_1_dequantize_scalar,
        [LLM_TYPE_Q8_0] = q8_0_dequantize_scalar,
        [LLM_TYPE_Q2_K] = q2k_dequantize_scalar,
        [LLM_TYPE_Q3_K] = q3k_dequantize_scalar,
        [LLM_TYPE_Q4_K] = q4k_dequantize_scalar,
        [LLM_TYPE_Q5_K] = q5k_dequantize_scalar,
        [LLM_TYPE_Q6_K] = q6k_dequantize_scalar,
        [LLM_TYPE_IQ4_NL] = iq4nl_dequantize_scalar,
    },
    {
        [LLM_TYPE_F32] = f32_copy_scalar,
        [LLM_TYPE_F16] = f16_quantize_scalar,
        [LLM_TYPE_BF16] = bf16_quantize_scalar,
        [LLM_TYPE_Q8_0] = q8_0_quantize_wasm,
        [LLM_TYPE_Q8_1] = q8_1_quantize_scalar,
        [LLM_TYPE_Q8_K] = q8k_quantize_wasm,
    },
    {
        [LLM_TYPE_F32] = f32_dot_f32_scalar,
        [LLM_TYPE_F16] = f16_dot_f16_scalar,
        [LLM_TYPE_BF16] = bf16_dot_bf16_scalar,
        [LLM_TYPE_Q4_0] = q4_0_dot_q8_0_scalar,
        [LLM_TYPE_Q4_1] = q4_1_dot_q8_1_scalar,
        [LLM_TYPE_Q5_0] = q5_0_dot_q8_0_scalar,
        [LLM_TYPE_Q5_1] = q5_1_dot_q8_1_scalar,
        [LLM_TYPE_Q8_0] = q8_0_dot_q8_0_wasm,
        [LLM_TYPE_Q2_K] = q2k_dot_q8k_scalar,
        [LLM_TYPE_Q3_K] = q3k_dot_q8k_wasm,
        [LLM_TYPE_Q4_K] = q4k_dot_q8k_wasm,
        [LLM_TYPE_Q5_K] = q5k_dot_q8k_wasm,
        [LLM_TYPE_Q6_K] = q6k_dot_q8k_wasm,
        [LLM_TYPE_IQ4_NL] = iq4nl_dot_q8_0_scalar,
    },
    {
        [LLM_TYPE_Q3_K] = q3k_dot_tile_wasm,
        [LLM_TYPE_Q5_K] = q5k_dot_tile_wasm,
        [LLM_TYPE_Q6_K] = q6k_dot_tile_wasm,
    },
};
