/*
 * quant_neon.c - dot products and activation quantizers for aarch64 with
 * NEON (Advanced SIMD): the table llm_kernels_neon.
 *
 * Faster twins of quant_ref.c, which defines the results; tests/test_kernels.c
 * compares every entry with its scalar twin. NEON is part of every aarch64
 * CPU, so the Makefile compiles this file with no extra flag whenever $(CC)
 * targets aarch64, and core/kernels.c offers the table there unconditionally.
 *
 * 8-bit dot products use vdotq_s32 when the compiler targets the dotprod
 * extension (__ARM_FEATURE_DOTPROD, as with -march=armv8.2-a+dotprod or
 * -mcpu=apple-m1), and vmull_s8 with vpadalq_s16 on a
 * baseline armv8-a build. The choice is made at compile time only: a baseline
 * binary does not switch to vdotq_s32 on a CPU that has it.
 *
 * What each entry promises, relative to llm_kernels_scalar:
 *   - Q3_K, Q4_K, Q5_K, Q6_K x Q8_K: bit-identical. Each super-block's
 *     integer sum is exact, and blocks are scaled and summed with the same
 *     float expression in the same order as the scalar code.
 *   - Q4_0 x Q8_0: bit-identical (one fused multiply-add per block, in order).
 *   - Q8_0 x Q8_0: the same exact integer sum per block, but the scaled
 *     blocks are summed in 4 float lanes, so only the float summation order
 *     differs.
 *   - F32 x F32, F16 x F16: the same float products summed in double, in
 *     4 lanes.
 *   - Q8_K and Q8_0 quantizers: bit-identical output.
 *   - Every other entry (all dequantizers, the F32, F16, BF16 and Q8_1
 *     activation converters, the Q2_K, Q4_1, Q5_0, Q5_1, IQ4_NL and BF16
 *     dots) is the scalar function itself (quant_ref.h).
 *
 * NOTE: bit-identical K-quant results also need the compiler to contract
 * (or not) the per-block float expression the same way here and in
 * quant_ref.c. GCC with -std=c99 contracts neither. Under clang's default
 * -ffp-contract=on both files write the same expression: clang 19 builds
 * for aarch64 Linux, baseline and -mcpu=apple-m1, pass tests/test_kernels.c
 * under qemu, but no macOS build has run the tests yet.
 */
#include <arm_neon.h>
#include <math.h>
#include <string.h>

#include "quant.h"
#include "quant_blocks.h"
#include "quant_ref.h"

/* ------------------------------------------------------------- helpers */

static float half_to_float(uint16_t h)
{
    return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0);
}

#if defined(__ARM_FEATURE_DOTPROD)
/* Dot product of 16 signed bytes a and b, as 4 int32 lanes (the dotprod extension). */
static inline int32x4_t dot_i8x16(int8x16_t a, int8x16_t b)
{
    return vdotq_s32(vdupq_n_s32(0), a, b);
}
#else
/*
 * Dot product of 16 signed bytes a and b, as 4 int32 lanes. Each int16
 * product is at most 128 * 128 in magnitude, so products are widened to
 * int32 before any two of them are added.
 */
static inline int32x4_t dot_i8x16(int8x16_t a, int8x16_t b)
{
    int32x4_t sum = vpaddlq_s16(vmull_s8(vget_low_s8(a), vget_low_s8(b)));

    return vpadalq_s16(sum, vmull_high_s8(a, b));
}
#endif

/* ------------------------------------------------- K-quants x Q8_K dots */

/*
 * Q3_K x Q8_K. Element 32j + l (j in 0..7) takes bits 2(j % 4)..2(j % 4) + 1
 * of qs[32(j / 4) + l] and bit j of hmask[l]; q = low bits + 4 * hmask bit - 4.
 * Each pass shifts the qs bytes right by 2 and the hmask bytes right by 1,
 * so the bits of the next 32 elements are always at the bottom.
 */
static float q3k_dot_q8k_neon(int64_t n, const void *weights, const void *acts)
{
    const block_q3k *w = weights;
    const block_q8k *x = acts;
    const uint8x16_t three = vdupq_n_u8(3), four = vdupq_n_u8(4);
    float sum = 0.0f;
    int64_t ib;

    for (ib = 0; ib < n / QK_K; ib++) {
        const int8_t *xq = x[ib].qs;
        uint8x16_t hmask[2] = {vld1q_u8(w[ib].hmask), vld1q_u8(w[ib].hmask + 16)};
        int32x4_t acc = vdupq_n_s32(0);
        int8_t sc[16];
        int32_t sum_q;
        int h, k, v;

        q3k_unpack_scales(w[ib].scales, sc);
        for (h = 0; h < 2; h++) {
            uint8x16_t qs[2] = {vld1q_u8(w[ib].qs + 32 * h), vld1q_u8(w[ib].qs + 32 * h + 16)};
            for (k = 0; k < 4; k++) {
                int j = 4 * h + k;
                for (v = 0; v < 2; v++) {
                    uint8x16_t u = vorrq_u8(vandq_u8(qs[v], three), vandq_u8(vshlq_n_u8(hmask[v], 2), four));
                    int8x16_t q = vsubq_s8(vreinterpretq_s8_u8(u), vreinterpretq_s8_u8(four));
                    acc = vmlaq_n_s32(acc, dot_i8x16(q, vld1q_s8(xq + 32 * j + 16 * v)), sc[2 * j + v]);
                    qs[v] = vshrq_n_u8(qs[v], 2);
                    hmask[v] = vshrq_n_u8(hmask[v], 1);
                }
            }
        }
        sum_q = vaddvq_s32(acc);
        sum += half_to_float(w[ib].d) * x[ib].d * sum_q;
    }
    return sum;
}

/*
 * Q6_K x Q8_K. For element 128h + 32k + l the low nibble comes from
 * ql[64h + 32(k % 2) + l] (low half for k < 2, high half otherwise) and the
 * high 2 bits from bits 2k..2k+1 of qh[32h + l]; q = that 6-bit code - 32.
 */
static float q6k_dot_q8k_neon(int64_t n, const void *weights, const void *acts)
{
    const block_q6k *w = weights;
    const block_q8k *x = acts;
    const uint8x16_t low4 = vdupq_n_u8(0x0F), bits45 = vdupq_n_u8(0x30);
    const int8x16_t offset = vdupq_n_s8(32);
    float sum = 0.0f;
    int64_t ib;

    for (ib = 0; ib < n / QK_K; ib++) {
        int32x4_t acc = vdupq_n_s32(0);
        int32_t sum_q;
        int h, k, v;

        for (h = 0; h < 2; h++) {
            for (v = 0; v < 2; v++) {
                const uint8_t *ql = w[ib].ql + 64 * h + 16 * v;
                uint8x16_t ql0 = vld1q_u8(ql), ql1 = vld1q_u8(ql + 32);
                uint8x16_t qh = vld1q_u8(w[ib].qh + 32 * h + 16 * v);
                uint8x16_t u[4];
                u[0] = vorrq_u8(vandq_u8(ql0, low4), vandq_u8(vshlq_n_u8(qh, 4), bits45));
                u[1] = vorrq_u8(vandq_u8(ql1, low4), vandq_u8(vshlq_n_u8(qh, 2), bits45));
                u[2] = vorrq_u8(vshrq_n_u8(ql0, 4), vandq_u8(qh, bits45));
                u[3] = vorrq_u8(vshrq_n_u8(ql1, 4), vandq_u8(vshrq_n_u8(qh, 2), bits45));
                for (k = 0; k < 4; k++) {
                    /* 16 elements from 128h + 32k + 16v: sub-block 8h + 2k + v */
                    int8x16_t q = vsubq_s8(vreinterpretq_s8_u8(u[k]), offset);
                    int8x16_t xq = vld1q_s8(x[ib].qs + 128 * h + 32 * k + 16 * v);
                    acc = vmlaq_n_s32(acc, dot_i8x16(q, xq), w[ib].scales[8 * h + 2 * k + v]);
                }
            }
        }
        sum_q = vaddvq_s32(acc);
        sum += half_to_float(w[ib].d) * x[ib].d * sum_q;
    }
    return sum;
}

/*
 * Sum over the 8 sub-blocks of sc[s] * dot(q, x), where q[2s], q[2s + 1]
 * contain the 32 quants (0..31) of sub-block s of a Q4_K or Q5_K block.
 */
static int32_t q4k_q5k_sum_q(const uint8x16_t q[16], const uint8_t sc[8], const int8_t *xq)
{
    int32x4_t acc = vdupq_n_s32(0);
    int s;

    for (s = 0; s < 8; s++) {
        int32x4_t dot = vaddq_s32(dot_i8x16(vreinterpretq_s8_u8(q[2 * s]), vld1q_s8(xq + 32 * s)),
                                  dot_i8x16(vreinterpretq_s8_u8(q[2 * s + 1]), vld1q_s8(xq + 32 * s + 16)));
        acc = vmlaq_n_s32(acc, dot, sc[s]);
    }
    return vaddvq_s32(acc);
}

/* Sum of mn[s] * (bsums[2s] + bsums[2s + 1]): the mins term of Q4_K and Q5_K. */
static int32_t mins_dot_bsums(const uint8_t mn[8], const int16_t bsums[16])
{
    int16x8_t pair_sums = vpaddq_s16(vld1q_s16(bsums), vld1q_s16(bsums + 8));
    int16x8_t mins = vreinterpretq_s16_u16(vmovl_u8(vld1_u8(mn)));
    int32x4_t sum = vmull_s16(vget_low_s16(pair_sums), vget_low_s16(mins));

    return vaddvq_s32(vmlal_high_s16(sum, pair_sums, mins));
}

/* Same float expression as the scalar q4k_q5k_dot_block, so the result is bit-identical. */
static float q4k_q5k_scale_block(uint16_t d_half, uint16_t dmin_half, int32_t sum_q, int32_t sum_min, float x_d)
{
    return half_to_float(d_half) * x_d * sum_q - half_to_float(dmin_half) * x_d * sum_min;
}

/* qs[32c + l]: the low nibble is element 64c + l, the high nibble element 64c + 32 + l. */
static void q4k_unpack_nibbles(const uint8_t qs[QK_K / 2], uint8x16_t q[16])
{
    const uint8x16_t low4 = vdupq_n_u8(0x0F);
    int c, v;

    for (c = 0; c < 4; c++) {
        for (v = 0; v < 2; v++) {
            uint8x16_t bytes = vld1q_u8(qs + 32 * c + 16 * v);
            q[4 * c + v] = vandq_u8(bytes, low4);
            q[4 * c + 2 + v] = vshrq_n_u8(bytes, 4);
        }
    }
}

static float q4k_dot_q8k_neon(int64_t n, const void *weights, const void *acts)
{
    const block_q4k *w = weights;
    const block_q8k *x = acts;
    float sum = 0.0f;
    int64_t ib;

    for (ib = 0; ib < n / QK_K; ib++) {
        uint8_t sc[8], mn[8];
        uint8x16_t q[16];

        q4k_unpack_scales(w[ib].scales, sc, mn);
        q4k_unpack_nibbles(w[ib].qs, q);
        sum += q4k_q5k_scale_block(w[ib].d, w[ib].dmin, q4k_q5k_sum_q(q, sc, x[ib].qs),
                                   mins_dot_bsums(mn, x[ib].bsums), x[ib].d);
    }
    return sum;
}

/* Q5_K: Q4_K's nibbles plus bit 4 of element 32s + l, which is bit s of qh[l]. */
static float q5k_dot_q8k_neon(int64_t n, const void *weights, const void *acts)
{
    const block_q5k *w = weights;
    const block_q8k *x = acts;
    const uint8x16_t bit4 = vdupq_n_u8(0x10);
    float sum = 0.0f;
    int64_t ib;

    for (ib = 0; ib < n / QK_K; ib++) {
        uint8x16_t qh[2] = {vld1q_u8(w[ib].qh), vld1q_u8(w[ib].qh + 16)};
        uint8_t sc[8], mn[8];
        uint8x16_t q[16];
        int s, v;

        q4k_unpack_scales(w[ib].scales, sc, mn);
        q4k_unpack_nibbles(w[ib].qs, q);
        for (s = 0; s < 8; s++) {
            for (v = 0; v < 2; v++) {
                q[2 * s + v] = vorrq_u8(q[2 * s + v], vandq_u8(vshlq_n_u8(qh[v], 4), bit4));
                qh[v] = vshrq_n_u8(qh[v], 1);
            }
        }
        sum += q4k_q5k_scale_block(w[ib].d, w[ib].dmin, q4k_q5k_sum_q(q, sc, x[ib].qs),
                                   mins_dot_bsums(mn, x[ib].bsums), x[ib].d);
    }
    return sum;
}

/* ------------------------------------------------- 32-element blocks x Q8_0 */

/* Q4_0 x Q8_0: q = nibble - 8, and qs[j] stores element j (low nibble) and j + 16 (high nibble). */
static float q4_0_dot_q8_0_neon(int64_t n, const void *weights, const void *acts)
{
    const block_q4_0 *w = weights;
    const block_q8_0 *x = acts;
    const uint8x16_t low4 = vdupq_n_u8(0x0F);
    const int8x16_t eight = vdupq_n_s8(8);
    float sum = 0.0f;
    int64_t ib;

    /* One fused multiply-add per block, in block order, as the scalar kernel sums. */
    for (ib = 0; ib < n / QK4_0; ib++) {
        uint8x16_t packed = vld1q_u8(w[ib].qs);
        int8x16_t q0 = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(packed, low4)), eight);
        int8x16_t q1 = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(packed, 4)), eight);
        int32x4_t dot = vaddq_s32(dot_i8x16(q0, vld1q_s8(x[ib].qs)), dot_i8x16(q1, vld1q_s8(x[ib].qs + 16)));
        sum = fmaf((float)vaddvq_s32(dot), half_to_float(w[ib].d) * half_to_float(x[ib].d), sum);
    }
    return sum;
}

static float q8_0_dot_q8_0_neon(int64_t n, const void *weights, const void *acts)
{
    const block_q8_0 *w = weights;
    const block_q8_0 *x = acts;
    float32x4_t acc = vdupq_n_f32(0.0f);
    int64_t ib;

    for (ib = 0; ib < n / QK8_0; ib++) {
        int32x4_t dot = vaddq_s32(dot_i8x16(vld1q_s8(w[ib].qs), vld1q_s8(x[ib].qs)),
                                  dot_i8x16(vld1q_s8(w[ib].qs + 16), vld1q_s8(x[ib].qs + 16)));
        acc = vfmaq_n_f32(acc, vcvtq_f32_s32(dot), half_to_float(w[ib].d) * half_to_float(x[ib].d));
    }
    return vaddvq_f32(acc);
}

/* ---------------------------------------------------------- float rows */

/*
 * F32 and F16 rows: each product is rounded to float as in the scalar code
 * (F16 products are exact), then summed in double. The tail of fewer than 4 elements is done one by one.
 */
static void add_products_f64(float32x4_t products, float64x2_t *acc_lo, float64x2_t *acc_hi)
{
    *acc_lo = vaddq_f64(*acc_lo, vcvt_f64_f32(vget_low_f32(products)));
    *acc_hi = vaddq_f64(*acc_hi, vcvt_high_f64_f32(products));
}

static float f32_dot_f32_neon(int64_t n, const void *weights, const void *acts)
{
    const float *w = weights, *x = acts;
    float64x2_t acc_lo = vdupq_n_f64(0.0), acc_hi = vdupq_n_f64(0.0);
    double sum;
    int64_t i;

    for (i = 0; i + 4 <= n; i += 4)
        add_products_f64(vmulq_f32(vld1q_f32(w + i), vld1q_f32(x + i)), &acc_lo, &acc_hi);
    sum = vaddvq_f64(vaddq_f64(acc_lo, acc_hi));
    for (; i < n; i++)
        sum += (double)(w[i] * x[i]);
    return (float)sum;
}

/* F16 x F16: the product of two halves is exact in float. */
static float f16_dot_f16_neon(int64_t n, const void *weights, const void *acts)
{
    const uint16_t *w = weights, *x = acts;
    float64x2_t acc_lo = vdupq_n_f64(0.0), acc_hi = vdupq_n_f64(0.0);
    double sum;
    int64_t i;

    for (i = 0; i + 4 <= n; i += 4) {
        float32x4_t wf = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(w + i)));
        float32x4_t xf = vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(x + i)));
        add_products_f64(vmulq_f32(wf, xf), &acc_lo, &acc_hi);
    }
    sum = vaddvq_f64(vaddq_f64(acc_lo, acc_hi));
    for (; i < n; i++)
        sum += (double)(half_to_float(w[i]) * half_to_float(x[i]));
    return (float)sum;
}

/* ------------------------------------------------ activation quantizers */

/* Largest |x| of n (a multiple of 4) values; vmaxnmq_f32 returns the number when one operand is NaN, so NaN is skipped. */
static float max_abs_neon(const float *x, int n)
{
    float32x4_t amax = vdupq_n_f32(0.0f);
    int j;

    for (j = 0; j < n; j += 4)
        amax = vmaxnmq_f32(amax, vabsq_f32(vld1q_f32(x + j)));
    return vmaxnmvq_f32(amax);
}

/*
 * Narrows 4 x 4 int32 to 16 int8 in element order, clamped to -127..127 as
 * the scalar rounding helpers clamp. The float-to-int conversions before it
 * already turned NaN into 0 and saturated infinities.
 */
static int8x16_t narrow_clamp_i8(const int32x4_t q[4])
{
    int16x8_t lo = vcombine_s16(vqmovn_s32(q[0]), vqmovn_s32(q[1]));
    int16x8_t hi = vcombine_s16(vqmovn_s32(q[2]), vqmovn_s32(q[3]));
    int8x16_t bytes = vcombine_s8(vqmovn_s16(lo), vqmovn_s16(hi));

    return vmaxq_s8(bytes, vdupq_n_s8(-127));
}

/*
 * Q8_K with the scalar rules: the first element of largest magnitude maps to
 * exactly -127, quants round half to even (vcvtnq_s32_f32), and d is a float.
 */
static void q8k_quantize_neon(const float *src, void *dst, int64_t n)
{
    block_q8k *y = dst;
    int64_t ib;
    int j, g, v;

    for (ib = 0; ib < n / QK_K; ib++, src += QK_K) {
        float amax = max_abs_neon(src, QK_K), max = 0.0f, inv_d;

        if (amax == 0.0f) {
            memset(&y[ib], 0, sizeof y[ib]);
            continue;
        }
        for (j = 0; j < QK_K; j++) {
            if (src[j] == amax || src[j] == -amax) {
                max = src[j];
                break;
            }
        }
        inv_d = -127.0f / max;
        for (g = 0; g < QK_K / 16; g++) {
            int32x4_t q[4];
            int8x16_t bytes;
            for (v = 0; v < 4; v++)
                q[v] = vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(src + 16 * g + 4 * v), inv_d));
            bytes = narrow_clamp_i8(q);
            vst1q_s8(y[ib].qs + 16 * g, bytes);
            y[ib].bsums[g] = (int16_t)vaddlvq_s8(bytes);
        }
        y[ib].d = 1.0f / inv_d;
    }
}

/* Q8_0 with the scalar rules: d = max|x| / 127 rounded to half, quants from the float d, half away from zero (vcvtaq_s32_f32, as roundf). */
static void q8_0_quantize_neon(const float *src, void *dst, int64_t n)
{
    block_q8_0 *y = dst;
    int64_t ib;
    int h, v;

    for (ib = 0; ib < n / QK8_0; ib++, src += QK8_0) {
        float amax = max_abs_neon(src, QK8_0);
        float inv_d = amax != 0.0f ? 127.0f / amax : 0.0f;

        y[ib].d = llm_f32_to_f16(amax / 127.0f);
        for (h = 0; h < 2; h++) {
            int32x4_t q[4];
            for (v = 0; v < 4; v++)
                q[v] = vcvtnq_s32_f32(vmulq_n_f32(vld1q_f32(src + 16 * h + 4 * v), inv_d));
            vst1q_s8(y[ib].qs + 16 * h, narrow_clamp_i8(q));
        }
    }
}

/* ---------------------------------------------------------------- table */

const llm_kernels llm_kernels_neon = {
    "neon",
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
        [LLM_TYPE_Q8_0] = q8_0_quantize_neon,
        [LLM_TYPE_Q8_1] = llm_ref_q8_1_quantize,
        [LLM_TYPE_Q8_K] = q8k_quantize_neon,
    },
    {
        [LLM_TYPE_F32] = f32_dot_f32_neon,
        [LLM_TYPE_F16] = f16_dot_f16_neon,
        [LLM_TYPE_BF16] = llm_ref_bf16_dot_bf16,
        [LLM_TYPE_Q4_0] = q4_0_dot_q8_0_neon,
        [LLM_TYPE_Q4_1] = llm_ref_q4_1_dot_q8_1,
        [LLM_TYPE_Q5_0] = llm_ref_q5_0_dot_q8_0,
        [LLM_TYPE_Q5_1] = llm_ref_q5_1_dot_q8_1,
        [LLM_TYPE_Q8_0] = q8_0_dot_q8_0_neon,
        [LLM_TYPE_Q2_K] = llm_ref_q2k_dot_q8k,
        [LLM_TYPE_Q3_K] = q3k_dot_q8k_neon,
        [LLM_TYPE_Q4_K] = q4k_dot_q8k_neon,
        [LLM_TYPE_Q5_K] = q5k_dot_q8k_neon,
        [LLM_TYPE_Q6_K] = q6k_dot_q8k_neon,
        [LLM_TYPE_IQ4_NL] = llm_ref_iq4nl_dot_q8_0,
    },
    {0}, /* no tile kernels: matmul runs one dot per token */
};
