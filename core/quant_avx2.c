/*
 * quant_avx2.c - dot products and activation quantizers for x86-64 with
 * AVX2, FMA and F16C: the table llm_kernels_avx2.
 *
 * Faster twins of quant_ref.c, which defines the results; tests/test_kernels.c
 * compares every entry with its scalar twin. The Makefile compiles this file,
 * and only this file, with -mavx2 -mfma -mf16c, so core/kernels.c hands the
 * table out only after CPUID confirms those features.
 *
 * What each entry promises, relative to llm_kernels_scalar:
 *   - Q3_K, Q4_K, Q5_K, Q6_K x Q8_K, dots and tile kernels: bit-identical.
 *     Each super-block's integer sum is exact, and blocks are scaled and
 *     summed with the same float operations in the same order as the scalar
 *     code.
 *   - Q4_0 x Q8_0: bit-identical (one fused multiply-add per block, in order).
 *   - Q8_0 x Q8_0: the same exact integer sum per block, but the scaled
 *     blocks are summed in 8 float lanes, so only the float summation order
 *     differs.
 *   - F32 x F32, F16 x F16: the same float products summed in double, in
 *     4 lanes.
 *   - Q8_K and Q8_0 quantizers: bit-identical output.
 *   - Every other entry (all dequantizers, the F32, F16, BF16 and Q8_1
 *     activation converters, the Q2_K, Q4_1, Q5_0, Q5_1, IQ4_NL and BF16
 *     dots) is the scalar function itself (quant_ref.h).
 *
 * LIMIT: the Q4_0 and Q8_0 dots negate activation quants with vpsignb, which
 * maps -128 to itself. The Q8_0 quantizer writes only -127..127, so only a
 * Q8_0 activation row made elsewhere could hold -128 and get a wrong sum.
 */
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "quant.h"
#include "quant_blocks.h"
#include "quant_ref.h"

/* ------------------------------------------------------------- helpers */

static float half_to_float(uint16_t h)
{
    return _cvtsh_ss(h);
}

static int32_t sum_i32x8(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));

    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4E));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xB1));
    return _mm_cvtsi128_si32(s);
}

static float sum_f32x8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));

    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static float max_f32x8(__m256 v)
{
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));

    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

static __m256 abs_f32x8(__m256 v)
{
    return _mm256_and_ps(v, _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF)));
}

/* sc[s] * bsums[s] over the 16 sub-blocks of a Q8_K block, in 8 int32 lanes of two products each. */
static __m256i scales_times_bsums(__m128i sc, const int16_t bsums[16])
{
    __m256i b = _mm256_loadu_si256((const __m256i *)bsums);

    return _mm256_madd_epi16(_mm256_cvtepi8_epi16(sc), b);
}

/*
 * Dot product of 32 signed bytes a and b, as 8 int32 lanes. vpmaddubsw reads |a|
 * as unsigned, so a may contain -128. b takes a's sign, so b must not contain -128.
 */
static __m256i dot_i8x32(__m256i a, __m256i b)
{
    __m256i products = _mm256_maddubs_epi16(_mm256_sign_epi8(a, a), _mm256_sign_epi8(b, a));

    return _mm256_madd_epi16(products, _mm256_set1_epi16(1));
}

/* ------------------------------------------------------- K-quant scales */

/*
 * Unpacks the 16 six-bit Q3_K scales (layout in quant_blocks.h above
 * q3k_unpack_scales) as 16 int8 in -32..31. With w0, w1, w2 the three
 * little-endian words of packed, dword k of the result contains scales 4k..4k+3:
 * low nibbles from w0, w1, w0 >> 4, w1 >> 4 and high bits from w2 >> 2k.
 * All in registers: a scalar unpack stored to memory and reloaded as one
 * vector stalls on store forwarding.
 */
static __m128i q3k_scales(const uint8_t packed[12])
{
    uint32_t w[3];
    __m128i low, high;

    memcpy(w, packed, sizeof w);
    low = _mm_srlv_epi32(_mm_setr_epi32((int)w[0], (int)w[1], (int)w[0], (int)w[1]), _mm_setr_epi32(0, 0, 4, 4));
    high = _mm_srlv_epi32(_mm_set1_epi32((int)w[2]), _mm_setr_epi32(0, 2, 4, 6));
    low = _mm_and_si128(low, _mm_set1_epi8(0x0F));
    high = _mm_and_si128(_mm_slli_epi32(high, 4), _mm_set1_epi8(0x30));
    return _mm_sub_epi8(_mm_or_si128(low, high), _mm_set1_epi8(32));
}

/*
 * The 16 scales of sc as int16, even sub-blocks in the low 128 bits and odd
 * ones in the high 128 bits, so that one in-lane vpshufb (pair_multipliers)
 * gives the multipliers of sub-blocks 2p and 2p + 1.
 */
static __m256i scales_even_odd_i16(__m128i sc)
{
    const __m128i even_odd = _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);

    return _mm256_cvtepi8_epi16(_mm_shuffle_epi8(sc, even_odd));
}

/*
 * Int16 multipliers for the two 16-element sub-blocks 2p and 2p + 1 of a
 * 32-byte vector: the low 128 bits repeat sc[2p], the high 128 bits
 * sc[2p + 1]. Lined up with the 16 pair sums of vpmaddubsw, vpmaddwd then
 * weights each sub-block by its own scale.
 */
static inline __m256i pair_multipliers(__m256i sc_even_odd, int p)
{
    return _mm256_shuffle_epi8(sc_even_odd, _mm256_set1_epi16((short)(0x0100 + 0x0202 * p)));
}

/*
 * Unpacks the 8 scales and 8 mins of a Q4_K or Q5_K block (layout in
 * quant_blocks.h above q4k_unpack_scales) as 16 uint8: scales in bytes 0..7,
 * mins in bytes 8..15. With w0, w1, w2 the three little-endian words of
 * packed, the dwords are w0 & 0x3F, w2 & 0x0F plus bits 6..7 of w0 moved to
 * 4..5, then the same for the mins from w1 and w2 >> 4.
 */
static __m128i q4k_scales_mins(const uint8_t packed[12])
{
    uint32_t w[3];
    __m128i low, high;

    memcpy(w, packed, sizeof w);
    low = _mm_srlv_epi32(_mm_setr_epi32((int)w[0], (int)w[2], (int)w[1], (int)w[2]), _mm_setr_epi32(0, 0, 0, 4));
    low = _mm_and_si128(low, _mm_setr_epi32(0x3F3F3F3F, 0x0F0F0F0F, 0x3F3F3F3F, 0x0F0F0F0F));
    high = _mm_srli_epi32(_mm_setr_epi32(0, (int)w[0], 0, (int)w[1]), 2);
    return _mm_or_si128(low, _mm_and_si128(high, _mm_set1_epi8(0x30)));
}

/* Sum of mn[s] * (bsums[2s] + bsums[2s + 1]), the mins term of Q4_K and Q5_K, with mn in bytes 8..15. */
static int32_t mins_dot_bsums(__m128i scales_mins, const int16_t bsums[16])
{
    const __m128i twice = _mm_setr_epi8(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15);
    __m256i b = _mm256_loadu_si256((const __m256i *)bsums);

    return sum_i32x8(_mm256_madd_epi16(_mm256_cvtepu8_epi16(_mm_shuffle_epi8(scales_mins, twice)), b));
}

/* ------------------------------------------------- K-quants x Q8_K dots */

/*
 * Adds sc[s] * dot(u, x) for the 32 elements 32j .. 32j + 31 of a Q3_K block
 * (sub-blocks 2j and 2j + 1) to acc, where u = q + 4 is built from bits
 * 2(j % 4)..2(j % 4) + 1 of qs (the 32 bytes of its half) and bit j of hmask,
 * which a 16-bit shift by j - 2 moves to bit 2 of the same byte. Written for
 * constant j, so that every shift count and mask is an immediate.
 */
static inline __m256i q3k_add_quarter(__m256i acc, __m256i qs, __m256i hmask, __m256i sc_even_odd, const int8_t *xq,
                                      int j)
{
    __m256i low = j % 4 == 0 ? qs : _mm256_srli_epi16(qs, 2 * (j % 4));
    __m256i high = j < 2 ? _mm256_slli_epi16(hmask, 2 - j) : j == 2 ? hmask : _mm256_srli_epi16(hmask, j - 2);
    __m256i u = _mm256_or_si256(_mm256_and_si256(low, _mm256_set1_epi8(3)), _mm256_and_si256(high, _mm256_set1_epi8(4)));
    __m256i products = _mm256_maddubs_epi16(u, _mm256_loadu_si256((const __m256i *)(xq + 32 * j)));

    return _mm256_add_epi32(acc, _mm256_madd_epi16(products, pair_multipliers(sc_even_odd, j)));
}

/*
 * Q3_K x Q8_K. With u = q + 4 in 0..7 (2 low bits plus 4 when the hmask bit
 * is set), sum sc * q * x = sum sc * u * x - 4 * sum sc * bsum, so vpmaddubsw
 * can take u as its unsigned operand.
 */
static float q3k_dot_q8k_avx2(int64_t n, const void *weights, const void *acts)
{
    const block_q3k *w = weights;
    const block_q8k *x = acts;
    float sum = 0.0f;
    int64_t ib;

    for (ib = 0; ib < n / QK_K; ib++) {
        const int8_t *xq = x[ib].qs;
        __m128i sc = q3k_scales(w[ib].scales);
        __m256i sc_even_odd = scales_even_odd_i16(sc);
        __m256i hmask = _mm256_loadu_si256((const __m256i *)w[ib].hmask);
        __m256i qs0 = _mm256_loadu_si256((const __m256i *)w[ib].qs);
        __m256i qs1 = _mm256_loadu_si256((const __m256i *)(w[ib].qs + 32));
        __m256i acc = _mm256_setzero_si256();
        int32_t sum_q;

        acc = q3k_add_quarter(acc, qs0, hmask, sc_even_odd, xq, 0);
        acc = q3k_add_quarter(acc, qs0, hmask, sc_even_odd, xq, 1);
        acc = q3k_add_quarter(acc, qs0, hmask, sc_even_odd, xq, 2);
        acc = q3k_add_quarter(acc, qs0, hmask, sc_even_odd, xq, 3);
        acc = q3k_add_quarter(acc, qs1, hmask, sc_even_odd, xq, 4);
        acc = q3k_add_quarter(acc, qs1, hmask, sc_even_odd, xq, 5);
        acc = q3k_add_quarter(acc, qs1, hmask, sc_even_odd, xq, 6);
        acc = q3k_add_quarter(acc, qs1, hmask, sc_even_odd, xq, 7);
        acc = _mm256_sub_epi32(acc, _mm256_slli_epi32(scales_times_bsums(sc, x[ib].bsums), 2));
        sum_q = sum_i32x8(acc);
        sum += half_to_float(w[ib].d) * x[ib].d * sum_q;
    }
    return sum;
}

/* Q6_K x Q8_K. q + 32 is the unsigned 6-bit code u, so sum sc*q*x = sum sc*u*x - 32 * sum sc * bsum. */
static float q6k_dot_q8k_avx2(int64_t n, const void *weights, const void *acts)
{
    const block_q6k *w = weights;
    const block_q8k *x = acts;
    const __m256i low4 = _mm256_set1_epi8(0x0F), bits45 = _mm256_set1_epi8(0x30);
    float sum = 0.0f;
    int64_t ib;

    for (ib = 0; ib < n / QK_K; ib++) {
        __m128i sc = _mm_loadu_si128((const __m128i *)w[ib].scales);
        __m256i sc_even_odd = scales_even_odd_i16(sc);
        __m256i acc = _mm256_setzero_si256();
        int32_t sum_q;
        int h, k;

        for (h = 0; h < 2; h++) {
            __m256i ql0 = _mm256_loadu_si256((const __m256i *)(w[ib].ql + 64 * h));
            __m256i ql1 = _mm256_loadu_si256((const __m256i *)(w[ib].ql + 64 * h + 32));
            __m256i qh = _mm256_loadu_si256((const __m256i *)(w[ib].qh + 32 * h));
            /* element 128h + 32k + l: nibble of ql0 (k even) or ql1 (k odd), high bits 2k..2k+1 of qh */
            __m256i u[4];
            u[0] = _mm256_or_si256(_mm256_and_si256(ql0, low4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), bits45));
            u[1] = _mm256_or_si256(_mm256_and_si256(ql1, low4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), bits45));
            u[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4), _mm256_and_si256(qh, bits45));
            u[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4),
                                   _mm256_and_si256(_mm256_srli_epi16(qh, 2), bits45));
            for (k = 0; k < 4; k++) {
                __m256i xq = _mm256_loadu_si256((const __m256i *)(x[ib].qs + 128 * h + 32 * k));
                __m256i products = _mm256_maddubs_epi16(u[k], xq);
                acc = _mm256_add_epi32(acc, _mm256_madd_epi16(products, pair_multipliers(sc_even_odd, 4 * h + k)));
            }
        }
        acc = _mm256_sub_epi32(acc, _mm256_slli_epi32(scales_times_bsums(sc, x[ib].bsums), 5));
        sum_q = sum_i32x8(acc);
        sum += half_to_float(w[ib].d) * x[ib].d * sum_q;
    }
    return sum;
}

/*
 * Adds sc[s] * dot(u, x) for sub-block s (elements 32s .. 32s + 31) of a
 * Q4_K or Q5_K block to acc, u being its unsigned quants. sc16 contains the 8
 * scales as int16 in both 128-bit lanes, so one vpshufb broadcasts sc[s].
 * Written for constant s, so that the vpshufb pattern is a constant.
 */
static inline __m256i q4k_q5k_add_sub_block(__m256i acc, __m256i u, __m256i sc16, const int8_t *xq, int s)
{
    __m256i products = _mm256_maddubs_epi16(u, _mm256_loadu_si256((const __m256i *)(xq + 32 * s)));
    __m256i multiplier = _mm256_shuffle_epi8(sc16, _mm256_set1_epi16((short)(0x0100 + 0x0202 * s)));

    return _mm256_add_epi32(acc, _mm256_madd_epi16(products, multiplier));
}

/* The 8 scales of a Q4_K or Q5_K block (bytes 0..7 of scales_mins) as int16, repeated in both 128-bit lanes. */
static inline __m256i q4k_scales_i16(__m128i scales_mins)
{
    return _mm256_broadcastsi128_si256(_mm_cvtepu8_epi16(scales_mins));
}

/* Same float expression as the scalar q4k_q5k_dot_block, so the result is bit-identical. */
static float q4k_q5k_scale_block(uint16_t d_half, uint16_t dmin_half, int32_t sum_q, int32_t sum_min, float x_d)
{
    return half_to_float(d_half) * x_d * sum_q - half_to_float(dmin_half) * x_d * sum_min;
}

static float q4k_dot_q8k_avx2(int64_t n, const void *weights, const void *acts)
{
    const block_q4k *w = weights;
    const block_q8k *x = acts;
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    float sum = 0.0f;
    int64_t ib;

    for (ib = 0; ib < n / QK_K; ib++) {
        const int8_t *xq = x[ib].qs;
        __m128i scales_mins = q4k_scales_mins(w[ib].scales);
        __m256i sc16 = q4k_scales_i16(scales_mins);
        /* qs[32c + l]: low nibble is element 64c + l, high nibble element 64c + 32 + l */
        __m256i qs0 = _mm256_loadu_si256((const __m256i *)w[ib].qs);
        __m256i qs1 = _mm256_loadu_si256((const __m256i *)(w[ib].qs + 32));
        __m256i qs2 = _mm256_loadu_si256((const __m256i *)(w[ib].qs + 64));
        __m256i qs3 = _mm256_loadu_si256((const __m256i *)(w[ib].qs + 96));
        __m256i acc = _mm256_setzero_si256();

        acc = q4k_q5k_add_sub_block(acc, _mm256_and_si256(qs0, low4), sc16, xq, 0);
        acc = q4k_q5k_add_sub_block(acc, _mm256_and_si256(_mm256_srli_epi16(qs0, 4), low4), sc16, xq, 1);
        acc = q4k_q5k_add_sub_block(acc, _mm256_and_si256(qs1, low4), sc16, xq, 2);
        acc = q4k_q5k_add_sub_block(acc, _mm256_and_si256(_mm256_srli_epi16(qs1, 4), low4), sc16, xq, 3);
        acc = q4k_q5k_add_sub_block(acc, _mm256_and_si256(qs2, low4), sc16, xq, 4);
        acc = q4k_q5k_add_sub_block(acc, _mm256_and_si256(_mm256_srli_epi16(qs2, 4), low4), sc16, xq, 5);
        acc = q4k_q5k_add_sub_block(acc, _mm256_and_si256(qs3, low4), sc16, xq, 6);
        acc = q4k_q5k_add_sub_block(acc, _mm256_and_si256(_mm256_srli_epi16(qs3, 4), low4), sc16, xq, 7);
        sum += q4k_q5k_scale_block(w[ib].d, w[ib].dmin, sum_i32x8(acc), mins_dot_bsums(scales_mins, x[ib].bsums),
                                   x[ib].d);
    }
    return sum;
}

/*
 * The 5-bit quants of Q5_K sub-block s: the nibble, plus bit s of qh[l] moved
 * to bit 4 of its byte by a 16-bit shift of qh by 4 - s.
 */
static inline __m256i q5k_quants(__m256i nibble, __m256i qh, int s)
{
    __m256i high = s < 4 ? _mm256_slli_epi16(qh, 4 - s) : s == 4 ? qh : _mm256_srli_epi16(qh, s - 4);

    return _mm256_or_si256(nibble, _mm256_and_si256(high, _mm256_set1_epi8(0x10)));
}

static float q5k_dot_q8k_avx2(int64_t n, const void *weights, const void *acts)
{
    const block_q5k *w = weights;
    const block_q8k *x = acts;
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    float sum = 0.0f;
    int64_t ib;

    for (ib = 0; ib < n / QK_K; ib++) {
        const int8_t *xq = x[ib].qs;
        __m128i scales_mins = q4k_scales_mins(w[ib].scales);
        __m256i sc16 = q4k_scales_i16(scales_mins);
        __m256i qh = _mm256_loadu_si256((const __m256i *)w[ib].qh);
        __m256i qs0 = _mm256_loadu_si256((const __m256i *)w[ib].qs);
        __m256i qs1 = _mm256_loadu_si256((const __m256i *)(w[ib].qs + 32));
        __m256i qs2 = _mm256_loadu_si256((const __m256i *)(w[ib].qs + 64));
        __m256i qs3 = _mm256_loadu_si256((const __m256i *)(w[ib].qs + 96));
        __m256i acc = _mm256_setzero_si256();

        acc = q4k_q5k_add_sub_block(acc, q5k_quants(_mm256_and_si256(qs0, low4), qh, 0), sc16, xq, 0);
        acc = q4k_q5k_add_sub_block(acc, q5k_quants(_mm256_and_si256(_mm256_srli_epi16(qs0, 4), low4), qh, 1), sc16, xq, 1);
        acc = q4k_q5k_add_sub_block(acc, q5k_quants(_mm256_and_si256(qs1, low4), qh, 2), sc16, xq, 2);
        acc = q4k_q5k_add_sub_block(acc, q5k_quants(_mm256_and_si256(_mm256_srli_epi16(qs1, 4), low4), qh, 3), sc16, xq, 3);
        acc = q4k_q5k_add_sub_block(acc, q5k_quants(_mm256_and_si256(qs2, low4), qh, 4), sc16, xq, 4);
        acc = q4k_q5k_add_sub_block(acc, q5k_quants(_mm256_and_si256(_mm256_srli_epi16(qs2, 4), low4), qh, 5), sc16, xq, 5);
        acc = q4k_q5k_add_sub_block(acc, q5k_quants(_mm256_and_si256(qs3, low4), qh, 6), sc16, xq, 6);
        acc = q4k_q5k_add_sub_block(acc, q5k_quants(_mm256_and_si256(_mm256_srli_epi16(qs3, 4), low4), qh, 7), sc16, xq, 7);
        sum += q4k_q5k_scale_block(w[ib].d, w[ib].dmin, sum_i32x8(acc), mins_dot_bsums(scales_mins, x[ib].bsums),
                                   x[ib].d);
    }
    return sum;
}

/* ------------------------------------------- K-quants x Q8_K, many tokens */

/*
 * The tile kernels below unpack a weight block once into u (unsigned quants)
 * and mult (the matching int16 sub-block scales), then run the rest of the
 * single-token dot for every token: the same per-block integer sum, and the
 * same float operations in the same block order, so each result is
 * bit-identical to the dot above. Tokens go in passes of TILE_TOKENS so that
 * their running sums stay on the stack.
 */
#define TILE_TOKENS 64

/* Activation block ib of token j, token rows being act_stride bytes apart. */
static inline const block_q8k *tile_block(const void *acts, size_t act_stride, int j, int64_t ib)
{
    return (const block_q8k *)((const uint8_t *)acts + (size_t)j * act_stride) + ib;
}

/* Sum over the 8 vectors of 32 elements of a block of mult[k] * (u[k] . x[32k .. 32k + 31]), as 8 int32 lanes. */
static inline __m256i block_scaled_dot(const __m256i u[8], const __m256i mult[8], const int8_t *xq)
{
    __m256i acc = _mm256_setzero_si256();
    int k;

    for (k = 0; k < 8; k++) {
        __m256i products = _mm256_maddubs_epi16(u[k], _mm256_loadu_si256((const __m256i *)(xq + 32 * k)));
        acc = _mm256_add_epi32(acc, _mm256_madd_epi16(products, mult[k]));
    }
    return acc;
}

/* Stores the sums of a pass of n_pass tokens that starts at token j0. */
static void store_tile_sums(const float *sums, int n_pass, int j0, float *out, size_t out_stride)
{
    int j;

    for (j = 0; j < n_pass; j++)
        out[(size_t)(j0 + j) * out_stride] = sums[j];
}

/* The sums of 4 int32x8 accumulators, in the 4 lanes of the result. */
static inline __m128i sum_i32x8_4(__m256i a, __m256i b, __m256i c, __m256i d)
{
    __m256i abcd = _mm256_hadd_epi32(_mm256_hadd_epi32(a, b), _mm256_hadd_epi32(c, d));

    return _mm_add_epi32(_mm256_castsi256_si128(abcd), _mm256_extracti128_si256(abcd, 1));
}

/* The activation scales of block ib of tokens j .. j + 3. */
static inline __m128 tile_scales_4(const void *acts, size_t act_stride, int j, int64_t ib)
{
    return _mm_setr_ps(tile_block(acts, act_stride, j, ib)->d, tile_block(acts, act_stride, j + 1, ib)->d,
                       tile_block(acts, act_stride, j + 2, ib)->d, tile_block(acts, act_stride, j + 3, ib)->d);
}

/*
 * Returns one token's integer block sum for a Q3_K or Q6_K block, whose dot
 * is d * x_d * (sum sc * u * x - offset * sum sc * bsum) with sc16 its 16
 * scales: offset_shift is log2 of the offset, 2 for Q3_K (u = q + 4) and 5
 * for Q6_K (u = q + 32).
 */
static inline __m256i sc16_token_acc(const __m256i u[8], const __m256i mult[8], __m256i sc16, int offset_shift,
                                     const block_q8k *x)
{
    __m256i offset = _mm256_madd_epi16(sc16, _mm256_loadu_si256((const __m256i *)x->bsums));

    return _mm256_sub_epi32(block_scaled_dot(u, mult, x->qs), _mm256_sll_epi32(offset, _mm_cvtsi32_si128(offset_shift)));
}

/*
 * Runs one Q3_K or Q6_K block for every token of a pass, 4 tokens at a time:
 * their 4 integer sums come out of one reduction, and the float step
 * sums += d * x_d * sum_q runs in 4 lanes with the scalar operations.
 */
static inline void sc16_block_tile(const __m256i u[8], __m128i sc, float d, int offset_shift, int64_t ib,
                                   const void *acts, size_t act_stride, int n_pass, float *sums)
{
    __m256i sc_even_odd = scales_even_odd_i16(sc), sc16 = _mm256_cvtepi8_epi16(sc);
    __m256i mult[8];
    int j, k;

    for (k = 0; k < 8; k++)
        mult[k] = pair_multipliers(sc_even_odd, k);
    for (j = 0; j + 4 <= n_pass; j += 4) {
        __m256i a0 = sc16_token_acc(u, mult, sc16, offset_shift, tile_block(acts, act_stride, j, ib));
        __m256i a1 = sc16_token_acc(u, mult, sc16, offset_shift, tile_block(acts, act_stride, j + 1, ib));
        __m256i a2 = sc16_token_acc(u, mult, sc16, offset_shift, tile_block(acts, act_stride, j + 2, ib));
        __m256i a3 = sc16_token_acc(u, mult, sc16, offset_shift, tile_block(acts, act_stride, j + 3, ib));
        __m128 d_x = _mm_mul_ps(_mm_set1_ps(d), tile_scales_4(acts, act_stride, j, ib));
        __m128 block = _mm_mul_ps(d_x, _mm_cvtepi32_ps(sum_i32x8_4(a0, a1, a2, a3)));
        _mm_storeu_ps(sums + j, _mm_add_ps(_mm_loadu_ps(sums + j), block));
    }
    for (; j < n_pass; j++) {
        const block_q8k *x = tile_block(acts, act_stride, j, ib);
        sums[j] += d * x->d * sum_i32x8(sc16_token_acc(u, mult, sc16, offset_shift, x));
    }
}

/* Unpacks the 8 vectors u = q + 4 of a Q3_K block, vector j being elements 32j .. 32j + 31 (see q3k_add_quarter). */
static inline void q3k_unpack_u(const block_q3k *b, __m256i u[8])
{
    const __m256i two_bits = _mm256_set1_epi8(3), bit2 = _mm256_set1_epi8(4);
    __m256i hmask = _mm256_loadu_si256((const __m256i *)b->hmask);
    __m256i qs0 = _mm256_loadu_si256((const __m256i *)b->qs);
    __m256i qs1 = _mm256_loadu_si256((const __m256i *)(b->qs + 32));

    u[0] = _mm256_or_si256(_mm256_and_si256(qs0, two_bits), _mm256_and_si256(_mm256_slli_epi16(hmask, 2), bit2));
    u[1] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(qs0, 2), two_bits),
                           _mm256_and_si256(_mm256_slli_epi16(hmask, 1), bit2));
    u[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(qs0, 4), two_bits), _mm256_and_si256(hmask, bit2));
    u[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(qs0, 6), two_bits),
                           _mm256_and_si256(_mm256_srli_epi16(hmask, 1), bit2));
    u[4] = _mm256_or_si256(_mm256_and_si256(qs1, two_bits), _mm256_and_si256(_mm256_srli_epi16(hmask, 2), bit2));
    u[5] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(qs1, 2), two_bits),
                           _mm256_and_si256(_mm256_srli_epi16(hmask, 3), bit2));
    u[6] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(qs1, 4), two_bits),
                           _mm256_and_si256(_mm256_srli_epi16(hmask, 4), bit2));
    u[7] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(qs1, 6), two_bits),
                           _mm256_and_si256(_mm256_srli_epi16(hmask, 5), bit2));
}

static void q3k_dot_row_tile(int64_t n, const void *weights, const void *acts, size_t act_stride, int n_tokens,
                            float *out, size_t out_stride)
{
    const block_q3k *w = weights;
    float sums[TILE_TOKENS];
    int j0;

    for (j0 = 0; j0 < n_tokens; j0 += TILE_TOKENS) {
        const uint8_t *pass_acts = (const uint8_t *)acts + (size_t)j0 * act_stride;
        int n_pass = n_tokens - j0 < TILE_TOKENS ? n_tokens - j0 : TILE_TOKENS;
        int64_t ib;

        memset(sums, 0, sizeof sums);
        for (ib = 0; ib < n / QK_K; ib++) {
            __m256i u[8];
            q3k_unpack_u(&w[ib], u);
            sc16_block_tile(u, q3k_scales(w[ib].scales), half_to_float(w[ib].d), 2, ib, pass_acts, act_stride,
                            n_pass, sums);
        }
        store_tile_sums(sums, n_pass, j0, out, out_stride);
    }
}

/* Unpacks the 8 vectors u = q + 32 of a Q6_K block, vector 4h + k being elements 128h + 32k .. +31. */
static inline void q6k_unpack_u(const block_q6k *b, __m256i u[8])
{
    const __m256i low4 = _mm256_set1_epi8(0x0F), bits45 = _mm256_set1_epi8(0x30);
    int h;

    for (h = 0; h < 2; h++) {
        __m256i ql0 = _mm256_loadu_si256((const __m256i *)(b->ql + 64 * h));
        __m256i ql1 = _mm256_loadu_si256((const __m256i *)(b->ql + 64 * h + 32));
        __m256i qh = _mm256_loadu_si256((const __m256i *)(b->qh + 32 * h));

        u[4 * h] = _mm256_or_si256(_mm256_and_si256(ql0, low4), _mm256_and_si256(_mm256_slli_epi16(qh, 4), bits45));
        u[4 * h + 1] = _mm256_or_si256(_mm256_and_si256(ql1, low4), _mm256_and_si256(_mm256_slli_epi16(qh, 2), bits45));
        u[4 * h + 2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql0, 4), low4), _mm256_and_si256(qh, bits45));
        u[4 * h + 3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(ql1, 4), low4),
                                       _mm256_and_si256(_mm256_srli_epi16(qh, 2), bits45));
    }
}

static void q6k_dot_row_tile(int64_t n, const void *weights, const void *acts, size_t act_stride, int n_tokens,
                            float *out, size_t out_stride)
{
    const block_q6k *w = weights;
    float sums[TILE_TOKENS];
    int j0;

    for (j0 = 0; j0 < n_tokens; j0 += TILE_TOKENS) {
        const uint8_t *pass_acts = (const uint8_t *)acts + (size_t)j0 * act_stride;
        int n_pass = n_tokens - j0 < TILE_TOKENS ? n_tokens - j0 : TILE_TOKENS;
        int64_t ib;

        memset(sums, 0, sizeof sums);
        for (ib = 0; ib < n / QK_K; ib++) {
            __m256i u[8];
            q6k_unpack_u(&w[ib], u);
            sc16_block_tile(u, _mm_loadu_si128((const __m128i *)w[ib].scales), half_to_float(w[ib].d), 5, ib,
                            pass_acts, act_stride, n_pass, sums);
        }
        store_tile_sums(sums, n_pass, j0, out, out_stride);
    }
}

/*
 * Runs one Q4_K or Q5_K block, whose unsigned quants are u (vector s being
 * sub-block s), for every token of a pass, 4 tokens at a time as in
 * sc16_block_tile, with the float expression of q4k_q5k_scale_block.
 */
static inline void q4k_q5k_block_tile(const __m256i u[8], __m128i scales_mins, uint16_t d_half, uint16_t dmin_half,
                                      int64_t ib, const void *acts, size_t act_stride, int n_pass, float *sums)
{
    const __m128i twice = _mm_setr_epi8(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15);
    __m256i sc16 = q4k_scales_i16(scales_mins);
    __m256i mins16 = _mm256_cvtepu8_epi16(_mm_shuffle_epi8(scales_mins, twice));
    float d = half_to_float(d_half), dmin = half_to_float(dmin_half);
    __m256i mult[8];
    int j, s;

    for (s = 0; s < 8; s++)
        mult[s] = _mm256_shuffle_epi8(sc16, _mm256_set1_epi16((short)(0x0100 + 0x0202 * s)));
    for (j = 0; j + 4 <= n_pass; j += 4) {
        const block_q8k *x0 = tile_block(acts, act_stride, j, ib), *x1 = tile_block(acts, act_stride, j + 1, ib);
        const block_q8k *x2 = tile_block(acts, act_stride, j + 2, ib), *x3 = tile_block(acts, act_stride, j + 3, ib);
        __m128i sum_q = sum_i32x8_4(block_scaled_dot(u, mult, x0->qs), block_scaled_dot(u, mult, x1->qs),
                                    block_scaled_dot(u, mult, x2->qs), block_scaled_dot(u, mult, x3->qs));
        __m128i sum_min = sum_i32x8_4(_mm256_madd_epi16(mins16, _mm256_loadu_si256((const __m256i *)x0->bsums)),
                                      _mm256_madd_epi16(mins16, _mm256_loadu_si256((const __m256i *)x1->bsums)),
                                      _mm256_madd_epi16(mins16, _mm256_loadu_si256((const __m256i *)x2->bsums)),
                                      _mm256_madd_epi16(mins16, _mm256_loadu_si256((const __m256i *)x3->bsums)));
        __m128 x_d = _mm_setr_ps(x0->d, x1->d, x2->d, x3->d);
        __m128 scaled_q = _mm_mul_ps(_mm_mul_ps(_mm_set1_ps(d), x_d), _mm_cvtepi32_ps(sum_q));
        __m128 scaled_min = _mm_mul_ps(_mm_mul_ps(_mm_set1_ps(dmin), x_d), _mm_cvtepi32_ps(sum_min));
        _mm_storeu_ps(sums + j, _mm_add_ps(_mm_loadu_ps(sums + j), _mm_sub_ps(scaled_q, scaled_min)));
    }
    for (; j < n_pass; j++) {
        const block_q8k *x = tile_block(acts, act_stride, j, ib);
        int32_t sum_q = sum_i32x8(block_scaled_dot(u, mult, x->qs));
        int32_t sum_min = sum_i32x8(_mm256_madd_epi16(mins16, _mm256_loadu_si256((const __m256i *)x->bsums)));

        sums[j] += d * x->d * sum_q - dmin * x->d * sum_min;
    }
}

static void q4k_dot_row_tile(int64_t n, const void *weights, const void *acts, size_t act_stride, int n_tokens,
                            float *out, size_t out_stride)
{
    const block_q4k *w = weights;
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    float sums[TILE_TOKENS];
    int j0;

    for (j0 = 0; j0 < n_tokens; j0 += TILE_TOKENS) {
        const uint8_t *pass_acts = (const uint8_t *)acts + (size_t)j0 * act_stride;
        int n_pass = n_tokens - j0 < TILE_TOKENS ? n_tokens - j0 : TILE_TOKENS;
        int64_t ib;

        memset(sums, 0, sizeof sums);
        for (ib = 0; ib < n / QK_K; ib++) {
            __m256i u[8];
            int c;
            for (c = 0; c < 4; c++) {
                __m256i qs = _mm256_loadu_si256((const __m256i *)(w[ib].qs + 32 * c));
                u[2 * c] = _mm256_and_si256(qs, low4);
                u[2 * c + 1] = _mm256_and_si256(_mm256_srli_epi16(qs, 4), low4);
            }
            q4k_q5k_block_tile(u, q4k_scales_mins(w[ib].scales), w[ib].d, w[ib].dmin, ib, pass_acts, act_stride,
                               n_pass, sums);
        }
        store_tile_sums(sums, n_pass, j0, out, out_stride);
    }
}

static void q5k_dot_row_tile(int64_t n, const void *weights, const void *acts, size_t act_stride, int n_tokens,
                            float *out, size_t out_stride)
{
    const block_q5k *w = weights;
    const __m256i low4 = _mm256_set1_epi8(0x0F);
    float sums[TILE_TOKENS];
    int j0;

    for (j0 = 0; j0 < n_tokens; j0 += TILE_TOKENS) {
        const uint8_t *pass_acts = (const uint8_t *)acts + (size_t)j0 * act_stride;
        int n_pass = n_tokens - j0 < TILE_TOKENS ? n_tokens - j0 : TILE_TOKENS;
        int64_t ib;

        memset(sums, 0, sizeof sums);
        for (ib = 0; ib < n / QK_K; ib++) {
            __m256i qh = _mm256_loadu_si256((const __m256i *)w[ib].qh);
            __m256i qs0 = _mm256_loadu_si256((const __m256i *)w[ib].qs);
            __m256i qs1 = _mm256_loadu_si256((const __m256i *)(w[ib].qs + 32));
            __m256i qs2 = _mm256_loadu_si256((const __m256i *)(w[ib].qs + 64));
            __m256i qs3 = _mm256_loadu_si256((const __m256i *)(w[ib].qs + 96));
            __m256i u[8];

            u[0] = q5k_quants(_mm256_and_si256(qs0, low4), qh, 0);
            u[1] = q5k_quants(_mm256_and_si256(_mm256_srli_epi16(qs0, 4), low4), qh, 1);
            u[2] = q5k_quants(_mm256_and_si256(qs1, low4), qh, 2);
            u[3] = q5k_quants(_mm256_and_si256(_mm256_srli_epi16(qs1, 4), low4), qh, 3);
            u[4] = q5k_quants(_mm256_and_si256(qs2, low4), qh, 4);
            u[5] = q5k_quants(_mm256_and_si256(_mm256_srli_epi16(qs2, 4), low4), qh, 5);
            u[6] = q5k_quants(_mm256_and_si256(qs3, low4), qh, 6);
            u[7] = q5k_quants(_mm256_and_si256(_mm256_srli_epi16(qs3, 4), low4), qh, 7);
            q4k_q5k_block_tile(u, q4k_scales_mins(w[ib].scales), w[ib].d, w[ib].dmin, ib, pass_acts, act_stride,
                               n_pass, sums);
        }
        store_tile_sums(sums, n_pass, j0, out, out_stride);
    }
}

/* The llm_dot_tile_fn entries: one row at a time, each through its row tile kernel above. */
static void q3k_dot_tile_avx2(int64_t n, const void *weights, size_t row_bytes, int n_rows, const void *acts,
                              size_t act_stride, int n_tokens, float *out, size_t out_stride)
{
    int r;

    for (r = 0; r < n_rows; r++)
        q3k_dot_row_tile(n, (const uint8_t *)weights + (size_t)r * row_bytes, acts, act_stride, n_tokens, out + r,
                         out_stride);
}

static void q4k_dot_tile_avx2(int64_t n, const void *weights, size_t row_bytes, int n_rows, const void *acts,
                              size_t act_stride, int n_tokens, float *out, size_t out_stride)
{
    int r;

    for (r = 0; r < n_rows; r++)
        q4k_dot_row_tile(n, (const uint8_t *)weights + (size_t)r * row_bytes, acts, act_stride, n_tokens, out + r,
                         out_stride);
}

static void q5k_dot_tile_avx2(int64_t n, const void *weights, size_t row_bytes, int n_rows, const void *acts,
                              size_t act_stride, int n_tokens, float *out, size_t out_stride)
{
    int r;

    for (r = 0; r < n_rows; r++)
        q5k_dot_row_tile(n, (const uint8_t *)weights + (size_t)r * row_bytes, acts, act_stride, n_tokens, out + r,
                         out_stride);
}

static void q6k_dot_tile_avx2(int64_t n, const void *weights, size_t row_bytes, int n_rows, const void *acts,
                              size_t act_stride, int n_tokens, float *out, size_t out_stride)
{
    int r;

    for (r = 0; r < n_rows; r++)
        q6k_dot_row_tile(n, (const uint8_t *)weights + (size_t)r * row_bytes, acts, act_stride, n_tokens, out + r,
                         out_stride);
}

/* ------------------------------------------------- 32-element blocks x Q8_0 */

/* Q4_0 x Q8_0: q = nibble - 8, and qs[j] stores element j (low nibble) and j + 16 (high nibble). */
static float q4_0_dot_q8_0_avx2(int64_t n, const void *weights, const void *acts)
{
    const block_q4_0 *w = weights;
    const block_q8_0 *x = acts;
    const __m256i low4 = _mm256_set1_epi8(0x0F), eight = _mm256_set1_epi8(8);
    float sum = 0.0f;
    int64_t ib;

    /* One fused multiply-add per block, in block order, as the scalar kernel sums. */
    for (ib = 0; ib < n / QK4_0; ib++) {
        __m128i packed = _mm_loadu_si128((const __m128i *)w[ib].qs);
        __m256i nibbles = _mm256_set_m128i(_mm_srli_epi16(packed, 4), packed);
        __m256i q = _mm256_sub_epi8(_mm256_and_si256(nibbles, low4), eight);
        __m256i xq = _mm256_loadu_si256((const __m256i *)x[ib].qs);
        float d = half_to_float(w[ib].d) * half_to_float(x[ib].d);
        sum = fmaf((float)sum_i32x8(dot_i8x32(q, xq)), d, sum);
    }
    return sum;
}

static float q8_0_dot_q8_0_avx2(int64_t n, const void *weights, const void *acts)
{
    const block_q8_0 *w = weights;
    const block_q8_0 *x = acts;
    __m256 acc = _mm256_setzero_ps();
    int64_t ib;

    for (ib = 0; ib < n / QK8_0; ib++) {
        __m256i wq = _mm256_loadu_si256((const __m256i *)w[ib].qs);
        __m256i xq = _mm256_loadu_si256((const __m256i *)x[ib].qs);
        __m256 d = _mm256_set1_ps(half_to_float(w[ib].d) * half_to_float(x[ib].d));
        acc = _mm256_fmadd_ps(d, _mm256_cvtepi32_ps(dot_i8x32(wq, xq)), acc);
    }
    return sum_f32x8(acc);
}

/* ---------------------------------------------------------- float rows */

/*
 * F32 and F16 rows: each product is rounded to float as in the scalar code
 * (F16 products are exact), then summed in double. The tail of fewer than 8 elements is done one by one.
 */
static void add_products_f64(__m256 products, __m256d *acc_lo, __m256d *acc_hi)
{
    *acc_lo = _mm256_add_pd(*acc_lo, _mm256_cvtps_pd(_mm256_castps256_ps128(products)));
    *acc_hi = _mm256_add_pd(*acc_hi, _mm256_cvtps_pd(_mm256_extractf128_ps(products, 1)));
}

static double sum_f64x4(__m256d v)
{
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));

    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

static float f32_dot_f32_avx2(int64_t n, const void *weights, const void *acts)
{
    const float *w = weights, *x = acts;
    __m256d acc_lo = _mm256_setzero_pd(), acc_hi = _mm256_setzero_pd();
    double sum;
    int64_t i;

    for (i = 0; i + 8 <= n; i += 8)
        add_products_f64(_mm256_mul_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i)), &acc_lo, &acc_hi);
    sum = sum_f64x4(_mm256_add_pd(acc_lo, acc_hi));
    for (; i < n; i++)
        sum += (double)(w[i] * x[i]);
    return (float)sum;
}

/* F16 x F16: the product of two halves is exact in float. */
static float f16_dot_f16_avx2(int64_t n, const void *weights, const void *acts)
{
    const uint16_t *w = weights, *x = acts;
    __m256d acc_lo = _mm256_setzero_pd(), acc_hi = _mm256_setzero_pd();
    double sum;
    int64_t i;

    for (i = 0; i + 8 <= n; i += 8) {
        __m256 wf = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i)));
        __m256 xf = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i)));
        add_products_f64(_mm256_mul_ps(wf, xf), &acc_lo, &acc_hi);
    }
    sum = sum_f64x4(_mm256_add_pd(acc_lo, acc_hi));
    for (; i < n; i++)
        sum += (double)(half_to_float(w[i]) * half_to_float(x[i]));
    return (float)sum;
}

/* ------------------------------------------------ activation quantizers */

/* Largest |x| of n (a multiple of 8) values; NaN lanes are skipped because vmaxps returns its second operand. */
static float max_abs_avx2(const float *x, int n)
{
    __m256 amax = _mm256_setzero_ps();
    int j;

    for (j = 0; j < n; j += 8)
        amax = _mm256_max_ps(abs_f32x8(_mm256_loadu_ps(x + j)), amax);
    return max_f32x8(amax);
}

/* NaN becomes 0, then the value is clamped to -127..127, as in the scalar rounding helpers. */
static __m256 clamp_int8_range(__m256 v)
{
    v = _mm256_and_ps(v, _mm256_cmp_ps(v, v, _CMP_ORD_Q));
    return _mm256_min_ps(_mm256_max_ps(v, _mm256_set1_ps(-127.0f)), _mm256_set1_ps(127.0f));
}

/* Packs 4 x 8 int32 in -127..127 to 32 int8 in element order. */
static __m256i pack_i32_to_i8(__m256i a, __m256i b, __m256i c, __m256i d)
{
    __m256i packed = _mm256_packs_epi16(_mm256_packs_epi32(a, b), _mm256_packs_epi32(c, d));

    /* the two pack steps interleave 128-bit lanes: dwords come out in order 0 4 1 5 2 6 3 7 */
    return _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/*
 * Q8_K with the scalar rules: the first element of largest magnitude maps to
 * exactly -127, quants round half to even (vroundps in nearest mode), and d
 * is a float.
 */
static void q8k_quantize_avx2(const float *src, void *dst, int64_t n)
{
    block_q8k *y = dst;
    int64_t ib;
    int j, g;

    for (ib = 0; ib < n / QK_K; ib++, src += QK_K) {
        float amax = max_abs_avx2(src, QK_K), max = 0.0f, inv_d;
        __m256 scale;

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
        scale = _mm256_set1_ps(inv_d);
        for (g = 0; g < QK_K / 32; g++) {
            __m256i q[4];
            int v;
            for (v = 0; v < 4; v++) {
                __m256 scaled = _mm256_mul_ps(scale, _mm256_loadu_ps(src + 32 * g + 8 * v));
                __m256 rounded = _mm256_round_ps(clamp_int8_range(scaled), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
                q[v] = _mm256_cvtps_epi32(rounded);
            }
            y[ib].bsums[2 * g] = (int16_t)sum_i32x8(_mm256_add_epi32(q[0], q[1]));
            y[ib].bsums[2 * g + 1] = (int16_t)sum_i32x8(_mm256_add_epi32(q[2], q[3]));
            _mm256_storeu_si256((__m256i *)(y[ib].qs + 32 * g), pack_i32_to_i8(q[0], q[1], q[2], q[3]));
        }
        y[ib].d = 1.0f / inv_d;
    }
}

/* Q8_0 with the scalar rules: d = max|x| / 127 rounded to half, quants scaled by 127 / max|x|, ties to even. */
static void q8_0_quantize_avx2(const float *src, void *dst, int64_t n)
{
    block_q8_0 *y = dst;
    int64_t ib;
    int v;

    for (ib = 0; ib < n / QK8_0; ib++, src += QK8_0) {
        float amax = max_abs_avx2(src, QK8_0);
        __m256 scale = _mm256_set1_ps(amax != 0.0f ? 127.0f / amax : 0.0f);
        __m256i q[4];

        y[ib].d = llm_f32_to_f16(amax / 127.0f);
        for (v = 0; v < 4; v++) {
            __m256 scaled = _mm256_mul_ps(_mm256_loadu_ps(src + 8 * v), scale);
            __m256 rounded = _mm256_round_ps(scaled, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
            q[v] = _mm256_cvtps_epi32(clamp_int8_range(rounded));
        }
        _mm256_storeu_si256((__m256i *)y[ib].qs, pack_i32_to_i8(q[0], q[1], q[2], q[3]));
    }
}

/* ---------------------------------------------------------------- table */

const llm_kernels llm_kernels_avx2 = {
    "avx2",
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
        [LLM_TYPE_Q8_0] = q8_0_quantize_avx2,
        [LLM_TYPE_Q8_1] = llm_ref_q8_1_quantize,
        [LLM_TYPE_Q8_K] = q8k_quantize_avx2,
    },
    {
        [LLM_TYPE_F32] = f32_dot_f32_avx2,
        [LLM_TYPE_F16] = f16_dot_f16_avx2,
        [LLM_TYPE_BF16] = llm_ref_bf16_dot_bf16,
        [LLM_TYPE_Q4_0] = q4_0_dot_q8_0_avx2,
        [LLM_TYPE_Q4_1] = llm_ref_q4_1_dot_q8_1,
        [LLM_TYPE_Q5_0] = llm_ref_q5_0_dot_q8_0,
        [LLM_TYPE_Q5_1] = llm_ref_q5_1_dot_q8_1,
        [LLM_TYPE_Q8_0] = q8_0_dot_q8_0_avx2,
        [LLM_TYPE_Q2_K] = llm_ref_q2k_dot_q8k,
        [LLM_TYPE_Q3_K] = q3k_dot_q8k_avx2,
        [LLM_TYPE_Q4_K] = q4k_dot_q8k_avx2,
        [LLM_TYPE_Q5_K] = q5k_dot_q8k_avx2,
        [LLM_TYPE_Q6_K] = q6k_dot_q8k_avx2,
        [LLM_TYPE_IQ4_NL] = llm_ref_iq4nl_dot_q8_0,
    },
    {
        [LLM_TYPE_Q3_K] = q3k_dot_tile_avx2,
        [LLM_TYPE_Q4_K] = q4k_dot_tile_avx2,
        [LLM_TYPE_Q5_K] = q5k_dot_tile_avx2,
        [LLM_TYPE_Q6_K] = q6k_dot_tile_avx2,
    },
};
