/*
 * quant_wasm.c - dot products and activation quantizers for WebAssembly
 * SIMD128: the table llm_kernels_wasm ("wasm-simd128").
 *
 * Faster twins of quant_ref.c, which defines the results; tests/test_kernels.c
 * compares every entry with its scalar twin when the test runner is built
 * for wasm32-wasi. The file includes only clang's wasm_simd128.h, string.h
 * and math.h and makes no WASI call, so any clang wasm32 build with
 * -msimd128 compiles it. The Makefile builds it for the WASI command only.
 *
 * What each entry promises, relative to llm_kernels_scalar:
 *   - Q3_K, Q4_K, Q5_K, Q6_K x Q8_K and Q8_0 x Q8_0: bit-identical. Each
 *     block's integer sum is exact, and blocks are scaled and summed with the
 *     same float operations in the same order as the scalar code.
 *   - Q3_K, Q4_K, Q5_K and Q6_K dot_tile: bit-identical to the row dots.
 *   - F16 x F16: the scalar products summed in double in another order,
 *     equal to the scalar result unless a double sum rounds.
 *   - Q8_K and Q8_0 quantizers: bit-identical output.
 *   - Every other entry (all dequantizers, the F32, F16, BF16 and Q8_1
 *     activation converters, the F32, BF16, Q2_K, Q4_0, Q4_1, Q5_0, Q5_1
 *     and IQ4_NL dots) is the scalar function itself (quant_ref.h).
 *
 * How the K-quant dots keep the x86-64 code short. Most SIMD128 operations
 * become one SSE or AVX instruction in wasmtime 51's Cranelift output, so
 * the count of wasm operations per 16 weights sets the speed:
 *   - They decode the unsigned quant u = q + offset (Q3_K: offset 4, Q6_K:
 *     32, Q4_K and Q5_K: 0). The offset comes off once per block as
 *     offset * sum_s sc[s] * bsums[s], so the signed q is never formed.
 *   - Bit fields are cut out with 16-bit shifts and byte masks. x86 has no
 *     8-bit shift, so an i8x16 shift costs a shift, a mask load and an AND.
 *   - i32x4.dot_i16x8 takes u and the activations widened to 16 bits. The
 *     activations are widened by v128.load8x8_s, one instruction with a
 *     memory operand.
 *   - One multiply applies the scales of two sub-blocks, after a transpose
 *     that costs two shuffles and an add.
 */
#include <math.h>
#include <string.h>
#include <wasm_simd128.h>

#include "quant.h"
#include "quant_blocks.h"
#include "quant_ref.h"

/* ------------------------------------------------------------- helpers */

static inline int32_t sum_i32x4(v128_t v)
{
    return wasm_i32x4_extract_lane(v, 0) + wasm_i32x4_extract_lane(v, 1) + wasm_i32x4_extract_lane(v, 2) +
           wasm_i32x4_extract_lane(v, 3);
}

/*
 * Converts a half to float as llm_f16_to_f32 does, without a call. A normal
 * half only needs its exponent rebiased from 15 to 127. A subnormal half is
 * its mantissa times 2^-24, converted from the integer. Placing its bits in
 * a float and scaling would make a subnormal float, which x86 multiplies
 * through a slow microcode assist, and the K-quant d of small weights is
 * often a subnormal half. Infinity and NaN go to llm_f16_to_f32.
 */
static inline float half_to_float(uint16_t h)
{
    uint32_t exponent = h & 0x7C00, bits;
    float f;

    if (exponent == 0x7C00)
        return llm_f16_to_f32(h);
    if (exponent == 0) {
        f = (float)(h & 0x03FF) * 0x1p-24f;
        return h & 0x8000 ? -f : f;
    }
    bits = ((uint32_t)(h & 0x8000) << 16) | (((uint32_t)(h & 0x7FFF) << 13) + (112u << 23));
    memcpy(&f, &bits, 4);
    return f;
}

/* The products of 16 unsigned bytes u (each below 128) and the 16 signed bytes at y, summed into 4 int32 lanes. */
static inline v128_t dot_u8x16_i8(v128_t u, const int8_t *y)
{
    v128_t low = wasm_i32x4_dot_i16x8(wasm_u16x8_extend_low_u8x16(u), wasm_i16x8_load8x8(y));
    v128_t high = wasm_i32x4_dot_i16x8(wasm_u16x8_extend_high_u8x16(u), wasm_i16x8_load8x8(y + 8));

    return wasm_i32x4_add(low, high);
}

/*
 * Sums a and b partly and interleaves them: [a0 + a2, b0 + b2, a1 + a3,
 * b1 + b3]. Multiplying this by [sa, sb, sa, sb] scales the whole sum of a by
 * sa and of b by sb, which is how two sub-blocks share one multiply.
 */
static inline v128_t interleave_sums(v128_t a, v128_t b)
{
    return wasm_i32x4_add(wasm_i32x4_shuffle(a, b, 0, 4, 1, 5), wasm_i32x4_shuffle(a, b, 2, 6, 3, 7));
}

/* Returns acc + sc[0] * dot(u0, y[0..15]) + sc[1] * dot(u1, y[16..31]), spread over 4 lanes. */
static inline v128_t add_two_scaled_dots(v128_t acc, v128_t u0, v128_t u1, const int8_t *y, const int32_t *sc)
{
    v128_t dots = interleave_sums(dot_u8x16_i8(u0, y), dot_u8x16_i8(u1, y + 16));

    return wasm_i32x4_add(acc, wasm_i32x4_mul(dots, wasm_v128_load64_splat(sc)));
}

/* Stores the 16 int8 lanes of v as 16 int32. */
static inline void store_i8x16_as_i32(int32_t out[16], v128_t v)
{
    v128_t low = wasm_i16x8_extend_low_i8x16(v), high = wasm_i16x8_extend_high_i8x16(v);

    wasm_v128_store(out, wasm_i32x4_extend_low_i16x8(low));
    wasm_v128_store(out + 4, wasm_i32x4_extend_high_i16x8(low));
    wasm_v128_store(out + 8, wasm_i32x4_extend_low_i16x8(high));
    wasm_v128_store(out + 12, wasm_i32x4_extend_high_i16x8(high));
}

/* Returns sum_s sc[s] * bsums[s] over the 16 sub-blocks of 16 as 4 int32 lanes, sc being 16 int8 lanes. */
static inline v128_t scaled_bsums(v128_t sc, const int16_t bsums[16])
{
    v128_t low = wasm_i32x4_dot_i16x8(wasm_i16x8_extend_low_i8x16(sc), wasm_v128_load(bsums));
    v128_t high = wasm_i32x4_dot_i16x8(wasm_i16x8_extend_high_i8x16(sc), wasm_v128_load(bsums + 8));

    return wasm_i32x4_add(low, high);
}

/*
 * Unpacks the 16 Q3_K scales, as q3k_unpack_scales does, into 16 int8 lanes,
 * four at a time in 32-bit words. Word w takes its low 4 bits from packed
 * word w % 2, shifted right by 4 for w >= 2, and its high 2 bits from bits
 * 2w..2w+1 of each byte of packed word 2.
 */
static inline v128_t q3k_scales(const uint8_t packed[12])
{
    uint32_t low0, low1, high;
    v128_t biased;

    memcpy(&low0, packed, 4);
    memcpy(&low1, packed + 4, 4);
    memcpy(&high, packed + 8, 4);
    biased = wasm_u32x4_make((low0 & 0x0F0F0F0F) | ((high & 0x03030303) << 4),
                             (low1 & 0x0F0F0F0F) | (((high >> 2) & 0x03030303) << 4),
                             ((low0 >> 4) & 0x0F0F0F0F) | (((high >> 4) & 0x03030303) << 4),
                             ((low1 >> 4) & 0x0F0F0F0F) | (((high >> 6) & 0x03030303) << 4));
    return wasm_i8x16_sub(biased, wasm_i8x16_splat(32));
}

/*
 * Unpacks the 8 scales and 8 mins of a Q4_K or Q5_K block, as
 * q4k_unpack_scales does, into 16 uint8 lanes with the scales first. Of the
 * packed words a, b and c, scales 0..3 are a & 63, and scales 4..7 are the
 * low nibbles of c with the top 2 bits of a above them. The mins come the
 * same way from b and the high nibbles of c.
 */
static inline v128_t q4k_scales_mins(const uint8_t packed[12])
{
    uint32_t a, b, c;

    memcpy(&a, packed, 4);
    memcpy(&b, packed + 4, 4);
    memcpy(&c, packed + 8, 4);
    return wasm_u32x4_make(a & 0x3F3F3F3F, (c & 0x0F0F0F0F) | ((a >> 2) & 0x30303030), b & 0x3F3F3F3F,
                           ((c >> 4) & 0x0F0F0F0F) | ((b >> 2) & 0x30303030));
}

/* Returns sum_s mn[s] * (bsums[2s] + bsums[2s + 1]) over 8 sub-blocks of 32 as 4 int32 lanes, mn being lanes 8..15 of scales_mins. */
static inline v128_t min_bsums(v128_t scales_mins, const int16_t bsums[16])
{
    v128_t mins = wasm_u16x8_extend_high_u8x16(scales_mins);
    v128_t low = wasm_i32x4_dot_i16x8(wasm_i16x8_shuffle(mins, mins, 0, 0, 1, 1, 2, 2, 3, 3), wasm_v128_load(bsums));
    v128_t high =
        wasm_i32x4_dot_i16x8(wasm_i16x8_shuffle(mins, mins, 4, 4, 5, 5, 6, 6, 7, 7), wasm_v128_load(bsums + 8));

    return wasm_i32x4_add(low, high);
}

/* ------------------------------------------------------- dot products */

/*
 * Converts 4 halves, zero-extended to 32-bit lanes, to floats as
 * half_to_float does: normal halves by rebiasing the exponent, infinity and
 * NaN by rebiasing it twice (31 + 112 + 112 = 255), subnormal halves and
 * zero as their mantissa times 2^-24, from the integer.
 */
static inline v128_t halves_to_floats(v128_t h)
{
    v128_t exponent = wasm_v128_and(h, wasm_i32x4_splat(0x7C00));
    v128_t is_special = wasm_i32x4_eq(exponent, wasm_i32x4_splat(0x7C00));
    v128_t is_subnormal = wasm_i32x4_eq(exponent, wasm_i32x4_splat(0));
    v128_t rebias = wasm_i32x4_add(wasm_i32x4_splat(112 << 23), wasm_v128_and(is_special, wasm_i32x4_splat(112 << 23)));
    v128_t normal = wasm_i32x4_add(wasm_i32x4_shl(wasm_v128_and(h, wasm_i32x4_splat(0x7FFF)), 13), rebias);
    v128_t subnormal = wasm_f32x4_mul(wasm_f32x4_convert_i32x4(wasm_v128_and(h, wasm_i32x4_splat(0x03FF))),
                                      wasm_f32x4_splat(0x1p-24f));
    v128_t sign = wasm_i32x4_shl(wasm_v128_and(h, wasm_i32x4_splat(0x8000)), 16);

    return wasm_v128_or(wasm_v128_bitselect(subnormal, normal, is_subnormal), sign);
}

/*
 * F16 x F16 as the scalar dot: each product of two halves is exact in
 * float, and the products are summed in double, here in 4 lanes. Sums of
 * such products are exact in double unless their exponents span more than
 * about 30 bits, so the result nearly always equals the scalar one. Where a
 * double sum rounds, it may differ in the last bit, within the bound that
 * tests/test_kernels.c sets.
 */
static float f16_dot_f16_wasm(int64_t n, const void *weights, const void *acts)
{
    const uint16_t *w = weights, *x = acts;
    v128_t acc_low = wasm_f64x2_splat(0.0), acc_high = wasm_f64x2_splat(0.0);
    double sum;
    int64_t i;

    for (i = 0; i + 4 <= n; i += 4) {
        v128_t wf = halves_to_floats(wasm_u32x4_load16x4(w + i));
        v128_t xf = halves_to_floats(wasm_u32x4_load16x4(x + i));
        v128_t products = wasm_f32x4_mul(wf, xf);

        acc_low = wasm_f64x2_add(acc_low, wasm_f64x2_promote_low_f32x4(products));
        acc_high = wasm_f64x2_add(acc_high, wasm_f64x2_promote_low_f32x4(wasm_i64x2_shuffle(products, products, 1, 0)));
    }
    acc_low = wasm_f64x2_add(acc_low, acc_high);
    sum = wasm_f64x2_extract_lane(acc_low, 0) + wasm_f64x2_extract_lane(acc_low, 1);
    for (; i < n; i++)
        sum += (double)(half_to_float(w[i]) * half_to_float(x[i]));
    return (float)sum;
}

/* Q8_0 x Q8_0: one exact int32 per block, scaled by (d_w * d_x) in block order. */
static float q8_0_dot_q8_0_wasm(int64_t n, const void *weights, const void *acts)
{
    const block_q8_0 *w = weights;
    const block_q8_0 *x = acts;
    float sum = 0.0f;
    int64_t ib;
    int i;

    for (ib = 0; ib < n / QK8_0; ib++) {
        v128_t acc = wasm_i32x4_splat(0);
        for (i = 0; i < QK8_0; i += 8)
            acc = wasm_i32x4_add(acc, wasm_i32x4_dot_i16x8(wasm_i16x8_load8x8(w[ib].qs + i),
                                                           wasm_i16x8_load8x8(x[ib].qs + i)));
        sum += sum_i32x4(acc) * (half_to_float(w[ib].d) * half_to_float(x[ib].d));
    }
    return sum;
}

/*
 * Q3_K block: sum_s sc[s] * dot(q, y) over the 16 sub-blocks. Bits 2k..2k+1
 * of qs[32h + l] and bit 4h + k of hmask[l] make u = q + 4 of element
 * 128h + 32k + l, in sub-block 8h + 2k + (l >= 16). Step j = 4h + k shifts
 * the planes right by 2 (loading those of h = 1 at j = 4) and the masks
 * right by 1, so its fields are at bits 0..1 and bit 0 of each byte. The
 * bits that the 16-bit shifts move in from the next byte stay above them.
 */
static inline int32_t q3k_block_sum(const block_q3k *w, const block_q8k *x)
{
    const v128_t two_bits = wasm_i8x16_splat(3), bit2 = wasm_i8x16_splat(4);
    v128_t sc = q3k_scales(w->scales);
    v128_t acc = wasm_i32x4_neg(wasm_i32x4_shl(scaled_bsums(sc, x->bsums), 2));
    v128_t planes0 = wasm_v128_load(w->qs), planes1 = wasm_v128_load(w->qs + 16);
    v128_t hmask0 = wasm_v128_load(w->hmask), hmask1 = wasm_v128_load(w->hmask + 16);
    int32_t sc32[16];
    int j;

    store_i8x16_as_i32(sc32, sc);
    /* Unrolled, it ran 8 % faster under wasmtime 51 on rows of 2048 weights. */
#pragma clang loop unroll(full)
    for (j = 0; j < 8; j++) {
        v128_t u0 = wasm_v128_or(wasm_v128_and(planes0, two_bits), wasm_v128_and(wasm_i16x8_shl(hmask0, 2), bit2));
        v128_t u1 = wasm_v128_or(wasm_v128_and(planes1, two_bits), wasm_v128_and(wasm_i16x8_shl(hmask1, 2), bit2));

        acc = add_two_scaled_dots(acc, u0, u1, x->qs + 32 * j, sc32 + 2 * j);
        if (j == 3) {
            planes0 = wasm_v128_load(w->qs + 32);
            planes1 = wasm_v128_load(w->qs + 48);
        } else {
            planes0 = wasm_u16x8_shr(planes0, 2);
            planes1 = wasm_u16x8_shr(planes1, 2);
        }
        hmask0 = wasm_u16x8_shr(hmask0, 1);
        hmask1 = wasm_u16x8_shr(hmask1, 1);
    }
    return sum_i32x4(acc);
}

static float q3k_dot_q8k_wasm(int64_t n, const void *weights, const void *acts)
{
    const block_q3k *w = weights;
    const block_q8k *x = acts;
    float sum = 0.0f;
    int64_t ib;

    for (ib = 0; ib < n / QK_K; ib++)
        sum += half_to_float(w[ib].d) * x[ib].d * q3k_block_sum(&w[ib], &x[ib]);
    return sum;
}

/*
 * Q4_K and Q5_K block: sum_s sc[s] * dot(q, y) over the 8 sub-blocks of 32.
 * qs[32c + l] stores element 64c + l (sub-block 2c) in its low nibble and
 * element 64c + 32 + l (sub-block 2c + 1) in its high nibble. For Q5_K, bits
 * 2c and 2c + 1 of qh[l] are their bit 4. qh is NULL for Q4_K.
 */
static inline int32_t q4k_q5k_block_sum(const uint8_t qs[QK_K / 2], const uint8_t *qh, v128_t scales_mins,
                                        const block_q8k *x)
{
    const v128_t nibble = wasm_i8x16_splat(0x0F), bit4 = wasm_i8x16_splat(0x10);
    v128_t acc = wasm_i32x4_splat(0), high_bits0 = wasm_i32x4_splat(0), high_bits1 = wasm_i32x4_splat(0);
    v128_t scales = wasm_u16x8_extend_low_u8x16(scales_mins);
    int32_t sc32[8];
    int c;

    wasm_v128_store(sc32, wasm_u32x4_extend_low_u16x8(scales));
    wasm_v128_store(sc32 + 4, wasm_u32x4_extend_high_u16x8(scales));
    if (qh) {
        high_bits0 = wasm_v128_load(qh);
        high_bits1 = wasm_v128_load(qh + 16);
    }
    for (c = 0; c < 4; c++) {
        const int8_t *y = x->qs + 64 * c;
        v128_t bytes0 = wasm_v128_load(qs + 32 * c), bytes1 = wasm_v128_load(qs + 32 * c + 16);
        v128_t low0 = wasm_v128_and(bytes0, nibble), low1 = wasm_v128_and(bytes1, nibble);
        v128_t high0 = wasm_v128_and(wasm_u16x8_shr(bytes0, 4), nibble);
        v128_t high1 = wasm_v128_and(wasm_u16x8_shr(bytes1, 4), nibble);
        v128_t dots_low, dots_high;

        if (qh) {
            low0 = wasm_v128_or(low0, wasm_v128_and(wasm_i16x8_shl(high_bits0, 4), bit4));
            low1 = wasm_v128_or(low1, wasm_v128_and(wasm_i16x8_shl(high_bits1, 4), bit4));
            high0 = wasm_v128_or(high0, wasm_v128_and(wasm_i16x8_shl(high_bits0, 3), bit4));
            high1 = wasm_v128_or(high1, wasm_v128_and(wasm_i16x8_shl(high_bits1, 3), bit4));
            high_bits0 = wasm_u16x8_shr(high_bits0, 2);
            high_bits1 = wasm_u16x8_shr(high_bits1, 2);
        }
        dots_low = wasm_i32x4_add(dot_u8x16_i8(low0, y), dot_u8x16_i8(low1, y + 16));
        dots_high = wasm_i32x4_add(dot_u8x16_i8(high0, y + 32), dot_u8x16_i8(high1, y + 48));
        acc = wasm_i32x4_add(acc, wasm_i32x4_mul(interleave_sums(dots_low, dots_high),
                                                 wasm_v128_load64_splat(sc32 + 2 * c)));
    }
    return sum_i32x4(acc);
}

static float q4k_dot_q8k_wasm(int64_t n, const void *weights, const void *acts)
{
    const block_q4k *w = weights;
    const block_q8k *x = acts;
    float sum = 0.0f;
    int64_t ib;

    for (ib = 0; ib < n / QK_K; ib++) {
        v128_t scales_mins = q4k_scales_mins(w[ib].scales);
        int32_t sum_q = q4k_q5k_block_sum(w[ib].qs, NULL, scales_mins, &x[ib]);
        int32_t sum_min = sum_i32x4(min_bsums(scales_mins, x[ib].bsums));

        sum += half_to_float(w[ib].d) * x[ib].d * sum_q - half_to_float(w[ib].dmin) * x[ib].d * sum_min;
    }
    return sum;
}

static float q5k_dot_q8k_wasm(int64_t n, const void *weights, const void *acts)
{
    const block_q5k *w = weights;
    const block_q8k *x = acts;
    float sum = 0.0f;
    int64_t ib;

    for (ib = 0; ib < n / QK_K; ib++) {
        v128_t scales_mins = q4k_scales_mins(w[ib].scales);
        int32_t sum_q = q4k_q5k_block_sum(w[ib].qs, w[ib].qh, scales_mins, &x[ib]);
        int32_t sum_min = sum_i32x4(min_bsums(scales_mins, x[ib].bsums));

        sum += half_to_float(w[ib].d) * x[ib].d * sum_q - half_to_float(w[ib].dmin) * x[ib].d * sum_min;
    }
    return sum;
}

/* Moves bits 2k..2k+1 of each byte of qh to bits 4..5 and clears the others (k a constant 0..3). */
static inline v128_t q6k_high_bits(v128_t qh, int k)
{
    v128_t moved = k == 0 ? wasm_i16x8_shl(qh, 4) : k == 1 ? wasm_i16x8_shl(qh, 2) : k == 2 ? qh : wasm_u16x8_shr(qh, 2);

    return wasm_v128_and(moved, wasm_i8x16_splat(0x30));
}

/*
 * Q6_K block: sum_s sc[s] * dot(q, y) over the 16 sub-blocks. Element
 * 128h + 32k + l, in sub-block 8h + 2k + (l >= 16), takes u = q + 32 from
 * the low (k < 2) or high (k >= 2) nibble of ql[64h + 32(k % 2) + l] and
 * bits 2k..2k+1 of qh[32h + l] as bits 4..5.
 */
static inline int32_t q6k_block_sum(const block_q6k *w, const block_q8k *x)
{
    const v128_t nibble = wasm_i8x16_splat(0x0F);
    v128_t sc = wasm_v128_load(w->scales);
    v128_t acc = wasm_i32x4_neg(wasm_i32x4_shl(scaled_bsums(sc, x->bsums), 5));
    int32_t sc32[16];
    int h;

    store_i8x16_as_i32(sc32, sc);
    for (h = 0; h < 2; h++) {
        const uint8_t *ql = w->ql + 64 * h, *qh = w->qh + 32 * h;
        const int8_t *y = x->qs + 128 * h;
        const int32_t *sc_h = sc32 + 8 * h;
        v128_t a0 = wasm_v128_load(ql), a1 = wasm_v128_load(ql + 16);
        v128_t b0 = wasm_v128_load(ql + 32), b1 = wasm_v128_load(ql + 48);
        v128_t qh0 = wasm_v128_load(qh), qh1 = wasm_v128_load(qh + 16);

        acc = add_two_scaled_dots(acc, wasm_v128_or(wasm_v128_and(a0, nibble), q6k_high_bits(qh0, 0)),
                                  wasm_v128_or(wasm_v128_and(a1, nibble), q6k_high_bits(qh1, 0)), y, sc_h);
        acc = add_two_scaled_dots(acc, wasm_v128_or(wasm_v128_and(b0, nibble), q6k_high_bits(qh0, 1)),
                                  wasm_v128_or(wasm_v128_and(b1, nibble), q6k_high_bits(qh1, 1)), y + 32, sc_h + 2);
        acc = add_two_scaled_dots(acc, wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(a0, 4), nibble), q6k_high_bits(qh0, 2)),
                                  wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(a1, 4), nibble), q6k_high_bits(qh1, 2)),
                                  y + 64, sc_h + 4);
        acc = add_two_scaled_dots(acc, wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(b0, 4), nibble), q6k_high_bits(qh0, 3)),
                                  wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(b1, 4), nibble), q6k_high_bits(qh1, 3)),
                                  y + 96, sc_h + 6);
    }
    return sum_i32x4(acc);
}

static float q6k_dot_q8k_wasm(int64_t n, const void *weights, const void *acts)
{
    const block_q6k *w = weights;
    const block_q8k *x = acts;
    float sum = 0.0f;
    int64_t ib;

    for (ib = 0; ib < n / QK_K; ib++)
        sum += half_to_float(w[ib].d) * x[ib].d * q6k_block_sum(&w[ib], &x[ib]);
    return sum;
}

/* ------------------------------------------------ activation quantizers */

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

/* Q8_0 with the scalar rules: d = max|x| / 127 rounded to half, quants scaled by 127 / max|x|, ties to even. */
static void q8_0_quantize_wasm(const float *src, void *dst, int64_t n)
{
    block_q8_0 *y = dst;
    int64_t ib;
    int v;

    for (ib = 0; ib < n / QK8_0; ib++, src += QK8_0) {
        float amax = max_abs_f32x4(src, QK8_0);
        v128_t scale = wasm_f32x4_splat(amax != 0.0f ? 127.0f / amax : 0.0f);
        v128_t q[8];

        y[ib].d = llm_f32_to_f16(amax / 127.0f);
        for (v = 0; v < 8; v++)
            q[v] = clamp_to_i32(wasm_f32x4_nearest(wasm_f32x4_mul(wasm_v128_load(src + 4 * v), scale)));
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
 * The dot_tile entries decode each weight block once into the int16
 * products sc[s] * q (scaled_block). Each token's exact integer sum then
 * takes one i32x4.dot_i16x8 per 8 weights. out[j][r] adds the blocks with
 * the float expression of the row dot, in block order, so each output is
 * bit-identical to the row dot.
 */
typedef struct {
    int16_t scaled[QK_K]; /* sc[s] * q; at most 128 * 32 = 4096 in magnitude (Q6_K) */
    int16_t mins[16];     /* Q4_K, Q5_K: mn[s] at 2s and 2s + 1, the multipliers of bsums[2s] and bsums[2s + 1] */
    float d, dmin;        /* dmin: Q4_K and Q5_K only */
} scaled_block;

typedef void (*decode_block_fn)(const void *block, scaled_block *out);

/* Stores scale times the 16 int8 lanes of q as 16 int16 at out. */
static inline void store_scaled(int16_t *out, v128_t q, int16_t scale)
{
    v128_t s = wasm_i16x8_splat(scale);

    wasm_v128_store(out, wasm_i16x8_mul(wasm_i16x8_extend_low_i8x16(q), s));
    wasm_v128_store(out + 8, wasm_i16x8_mul(wasm_i16x8_extend_high_i8x16(q), s));
}

/* Decodes a Q3_K block, whose quant layout q3k_block_sum describes. */
static void q3k_decode_block(const void *block, scaled_block *out)
{
    const block_q3k *w = block;
    const v128_t two_bits = wasm_i8x16_splat(3), bit2 = wasm_i8x16_splat(4), four = wasm_i8x16_splat(4);
    v128_t planes0 = wasm_v128_load(w->qs), planes1 = wasm_v128_load(w->qs + 16);
    v128_t hmask0 = wasm_v128_load(w->hmask), hmask1 = wasm_v128_load(w->hmask + 16);
    int8_t sc[16];
    int j;

    wasm_v128_store(sc, q3k_scales(w->scales));
    for (j = 0; j < 8; j++) {
        v128_t u0 = wasm_v128_or(wasm_v128_and(planes0, two_bits), wasm_v128_and(wasm_i16x8_shl(hmask0, 2), bit2));
        v128_t u1 = wasm_v128_or(wasm_v128_and(planes1, two_bits), wasm_v128_and(wasm_i16x8_shl(hmask1, 2), bit2));

        store_scaled(out->scaled + 32 * j, wasm_i8x16_sub(u0, four), sc[2 * j]);
        store_scaled(out->scaled + 32 * j + 16, wasm_i8x16_sub(u1, four), sc[2 * j + 1]);
        if (j == 3) {
            planes0 = wasm_v128_load(w->qs + 32);
            planes1 = wasm_v128_load(w->qs + 48);
        } else {
            planes0 = wasm_u16x8_shr(planes0, 2);
            planes1 = wasm_u16x8_shr(planes1, 2);
        }
        hmask0 = wasm_u16x8_shr(hmask0, 1);
        hmask1 = wasm_u16x8_shr(hmask1, 1);
    }
    out->d = half_to_float(w->d);
}

/* Decodes a Q4_K or Q5_K block, whose quant layout q4k_q5k_block_sum describes. qh is NULL for Q4_K. */
static void q4k_q5k_decode_block(uint16_t d, uint16_t dmin, const uint8_t packed_scales[12], const uint8_t qs[QK_K / 2],
                                 const uint8_t *qh, scaled_block *out)
{
    const v128_t nibble = wasm_i8x16_splat(0x0F), bit4 = wasm_i8x16_splat(0x10);
    v128_t scales_mins = q4k_scales_mins(packed_scales);
    v128_t mins = wasm_u16x8_extend_high_u8x16(scales_mins);
    v128_t high_bits0 = wasm_i32x4_splat(0), high_bits1 = wasm_i32x4_splat(0);
    uint8_t sc[16];
    int c;

    wasm_v128_store(sc, scales_mins);
    wasm_v128_store(out->mins, wasm_i16x8_shuffle(mins, mins, 0, 0, 1, 1, 2, 2, 3, 3));
    wasm_v128_store(out->mins + 8, wasm_i16x8_shuffle(mins, mins, 4, 4, 5, 5, 6, 6, 7, 7));
    if (qh) {
        high_bits0 = wasm_v128_load(qh);
        high_bits1 = wasm_v128_load(qh + 16);
    }
    for (c = 0; c < 4; c++) {
        v128_t bytes0 = wasm_v128_load(qs + 32 * c), bytes1 = wasm_v128_load(qs + 32 * c + 16);
        v128_t low0 = wasm_v128_and(bytes0, nibble), low1 = wasm_v128_and(bytes1, nibble);
        v128_t high0 = wasm_v128_and(wasm_u16x8_shr(bytes0, 4), nibble);
        v128_t high1 = wasm_v128_and(wasm_u16x8_shr(bytes1, 4), nibble);

        if (qh) {
            low0 = wasm_v128_or(low0, wasm_v128_and(wasm_i16x8_shl(high_bits0, 4), bit4));
            low1 = wasm_v128_or(low1, wasm_v128_and(wasm_i16x8_shl(high_bits1, 4), bit4));
            high0 = wasm_v128_or(high0, wasm_v128_and(wasm_i16x8_shl(high_bits0, 3), bit4));
            high1 = wasm_v128_or(high1, wasm_v128_and(wasm_i16x8_shl(high_bits1, 3), bit4));
            high_bits0 = wasm_u16x8_shr(high_bits0, 2);
            high_bits1 = wasm_u16x8_shr(high_bits1, 2);
        }
        store_scaled(out->scaled + 64 * c, low0, sc[2 * c]);
        store_scaled(out->scaled + 64 * c + 16, low1, sc[2 * c]);
        store_scaled(out->scaled + 64 * c + 32, high0, sc[2 * c + 1]);
        store_scaled(out->scaled + 64 * c + 48, high1, sc[2 * c + 1]);
    }
    out->d = half_to_float(d);
    out->dmin = half_to_float(dmin);
}

static void q4k_decode_block(const void *block, scaled_block *out)
{
    const block_q4k *w = block;

    q4k_q5k_decode_block(w->d, w->dmin, w->scales, w->qs, NULL, out);
}

static void q5k_decode_block(const void *block, scaled_block *out)
{
    const block_q5k *w = block;

    q4k_q5k_decode_block(w->d, w->dmin, w->scales, w->qs, w->qh, out);
}

/* Decodes a Q6_K block, whose quant layout q6k_block_sum describes. */
static void q6k_decode_block(const void *block, scaled_block *out)
{
    const block_q6k *w = block;
    const v128_t nibble = wasm_i8x16_splat(0x0F), offset = wasm_i8x16_splat(32);
    int h, k, half;

    for (h = 0; h < 2; h++) {
        for (half = 0; half < 2; half++) {
            v128_t a = wasm_v128_load(w->ql + 64 * h + 16 * half), b = wasm_v128_load(w->ql + 64 * h + 32 + 16 * half);
            v128_t qh = wasm_v128_load(w->qh + 32 * h + 16 * half);
            v128_t low[4];

            low[0] = wasm_v128_and(a, nibble);
            low[1] = wasm_v128_and(b, nibble);
            low[2] = wasm_v128_and(wasm_u16x8_shr(a, 4), nibble);
            low[3] = wasm_v128_and(wasm_u16x8_shr(b, 4), nibble);
            for (k = 0; k < 4; k++) {
                v128_t u = wasm_v128_or(low[k], q6k_high_bits(qh, k));
                int s = 8 * h + 2 * k + half;
                store_scaled(out->scaled + 16 * s, wasm_i8x16_sub(u, offset), w->scales[s]);
            }
        }
    }
    out->d = half_to_float(w->d);
}

/* Returns sum_i scaled[i] * y[i] over a block, exact. */
static inline int32_t dot_scaled_block(const int16_t scaled[QK_K], const int8_t y[QK_K])
{
    v128_t acc0 = wasm_i32x4_splat(0), acc1 = wasm_i32x4_splat(0);
    int i;

    for (i = 0; i < QK_K; i += 16) {
        acc0 = wasm_i32x4_add(acc0, wasm_i32x4_dot_i16x8(wasm_v128_load(scaled + i), wasm_i16x8_load8x8(y + i)));
        acc1 = wasm_i32x4_add(acc1, wasm_i32x4_dot_i16x8(wasm_v128_load(scaled + i + 8), wasm_i16x8_load8x8(y + i + 8)));
    }
    return sum_i32x4(wasm_i32x4_add(acc0, acc1));
}

/* Activation block ib of token j, token rows being act_stride bytes apart. */
static const block_q8k *act_block(const void *acts, size_t act_stride, int j, int64_t ib)
{
    return (const block_q8k *)((const uint8_t *)acts + (size_t)j * act_stride) + ib;
}

#define TILE_ROWS 4 /* rows whose decoded blocks share each load of a token's activations */

/*
 * Stores sum_i b[g].scaled[i] * y[i] of each of the TILE_ROWS blocks in
 * sums[g], exact. Each 8 activations are widened once for all the rows.
 */
static inline void dot_scaled_blocks(const scaled_block b[TILE_ROWS], const int8_t y[QK_K], int32_t sums[TILE_ROWS])
{
    v128_t acc[TILE_ROWS];
    int i, g;

    for (g = 0; g < TILE_ROWS; g++)
        acc[g] = wasm_i32x4_splat(0);
    for (i = 0; i < QK_K; i += 16) {
        v128_t y_low = wasm_i16x8_load8x8(y + i), y_high = wasm_i16x8_load8x8(y + i + 8);
        for (g = 0; g < TILE_ROWS; g++) {
            v128_t low = wasm_i32x4_dot_i16x8(wasm_v128_load(b[g].scaled + i), y_low);
            v128_t high = wasm_i32x4_dot_i16x8(wasm_v128_load(b[g].scaled + i + 8), y_high);
            acc[g] = wasm_i32x4_add(acc[g], wasm_i32x4_add(low, high));
        }
    }
    wasm_v128_store(sums, wasm_i32x4_add(wasm_i64x2_shuffle(interleave_sums(acc[0], acc[1]), interleave_sums(acc[2], acc[3]), 0, 2),
                                         wasm_i64x2_shuffle(interleave_sums(acc[0], acc[1]), interleave_sums(acc[2], acc[3]), 1, 3)));
}

/* Returns sum_s mn[s] * (bsums[2s] + bsums[2s + 1]) for a decoded Q4_K or Q5_K block. */
static inline int32_t scaled_block_min_sum(const scaled_block *b, const int16_t bsums[16])
{
    v128_t m = wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_v128_load(b->mins), wasm_v128_load(bsums)),
                              wasm_i32x4_dot_i16x8(wasm_v128_load(b->mins + 8), wasm_v128_load(bsums + 8)));

    return sum_i32x4(m);
}

/* Adds row block b's term for token block x to *o, in the float expression of the row dot. */
static inline void add_block_term(float *o, const scaled_block *b, int has_mins, const block_q8k *x, int32_t sum_q)
{
    if (has_mins)
        *o += b->d * x->d * sum_q - b->dmin * x->d * scaled_block_min_sum(b, x->bsums);
    else
        *o += b->d * x->d * sum_q;
}

/*
 * Runs the body of every tile kernel: rows in groups of TILE_ROWS, whose
 * decoded blocks go through each token together, and the rows left over one
 * at a time. has_mins selects the Q4_K and Q5_K float step.
 */
static void dot_tile_scaled(decode_block_fn decode, size_t block_bytes, int has_mins, int64_t n, const void *weights,
                            size_t row_bytes, int n_rows, const void *acts, size_t act_stride, int n_tokens, float *out,
                            size_t out_stride)
{
    scaled_block b[TILE_ROWS];
    int32_t sums[TILE_ROWS];
    int64_t ib;
    int r0, g, j;

    for (r0 = 0; r0 < n_rows; r0 += TILE_ROWS) {
        int n_group = n_rows - r0 < TILE_ROWS ? n_rows - r0 : TILE_ROWS;
        const uint8_t *group = (const uint8_t *)weights + (size_t)r0 * row_bytes;

        for (j = 0; j < n_tokens; j++) {
            for (g = 0; g < n_group; g++)
                out[(size_t)j * out_stride + r0 + g] = 0.0f;
        }
        for (ib = 0; ib < n / QK_K; ib++) {
            for (g = 0; g < n_group; g++)
                decode(group + (size_t)g * row_bytes + (size_t)ib * block_bytes, &b[g]);
            for (j = 0; j < n_tokens; j++) {
                const block_q8k *x = act_block(acts, act_stride, j, ib);
                float *o = &out[(size_t)j * out_stride + r0];

                if (n_group == TILE_ROWS) {
                    dot_scaled_blocks(b, x->qs, sums);
                    for (g = 0; g < TILE_ROWS; g++)
                        add_block_term(&o[g], &b[g], has_mins, x, sums[g]);
                } else {
                    for (g = 0; g < n_group; g++)
                        add_block_term(&o[g], &b[g], has_mins, x, dot_scaled_block(b[g].scaled, x->qs));
                }
            }
        }
    }
}

static void q3k_dot_tile_wasm(int64_t n, const void *weights, size_t row_bytes, int n_rows, const void *acts,
                              size_t act_stride, int n_tokens, float *out, size_t out_stride)
{
    dot_tile_scaled(q3k_decode_block, sizeof(block_q3k), 0, n, weights, row_bytes, n_rows, acts, act_stride,
                    n_tokens, out, out_stride);
}

static void q4k_dot_tile_wasm(int64_t n, const void *weights, size_t row_bytes, int n_rows, const void *acts,
                              size_t act_stride, int n_tokens, float *out, size_t out_stride)
{
    dot_tile_scaled(q4k_decode_block, sizeof(block_q4k), 1, n, weights, row_bytes, n_rows, acts, act_stride,
                    n_tokens, out, out_stride);
}

static void q5k_dot_tile_wasm(int64_t n, const void *weights, size_t row_bytes, int n_rows, const void *acts,
                              size_t act_stride, int n_tokens, float *out, size_t out_stride)
{
    dot_tile_scaled(q5k_decode_block, sizeof(block_q5k), 1, n, weights, row_bytes, n_rows, acts, act_stride,
                    n_tokens, out, out_stride);
}

static void q6k_dot_tile_wasm(int64_t n, const void *weights, size_t row_bytes, int n_rows, const void *acts,
                              size_t act_stride, int n_tokens, float *out, size_t out_stride)
{
    dot_tile_scaled(q6k_decode_block, sizeof(block_q6k), 0, n, weights, row_bytes, n_rows, acts, act_stride,
                    n_tokens, out, out_stride);
}

#if defined(__wasm_relaxed_simd__)
/* ---------------------------------------------- relaxed SIMD dot products */

/*
 * The table llm_kernels_wasm_relaxed ("wasm-relaxed-simd"), built only with
 * -mrelaxed-simd, because a runtime without relaxed SIMD rejects any module
 * that contains one of its instructions. Its Q3_K, Q4_K, Q5_K and Q6_K dots
 * multiply with i16x8.relaxed_dot_i8x16_i7x16_s, one PMADDUBSW on x86-64,
 * in place of widening both operands to 16 bits. That instruction's result
 * is implementation-defined only when a lane of its second operand is above
 * 127; the unsigned quants u are at most 63, so every runtime returns the
 * exact sums, and the table keeps the bit-identical promise of
 * llm_kernels_wasm. Its other entries are those of llm_kernels_wasm.
 */

/* Byte indices that copy int16 lane i to all 8 lanes. */
static const uint8_t broadcast_i16_index[8][16] = {
    {0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1},
    {2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3},
    {4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5, 4, 5},
    {6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7, 6, 7},
    {8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9, 8, 9},
    {10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11, 10, 11},
    {12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13, 12, 13},
    {14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15, 14, 15},
};

/* Returns int16 lane `lane` of v in all 8 lanes, one PSHUFB. */
static inline v128_t broadcast_i16(v128_t v, int lane)
{
    return wasm_i8x16_relaxed_swizzle(v, wasm_v128_load(broadcast_i16_index[lane]));
}

/* Returns the sums of adjacent products of the 16 signed bytes at y and the 16 bytes of u (each below 128), as 8 int16. */
static inline v128_t dot_pairs_relaxed(v128_t u, const int8_t *y)
{
    return wasm_i16x8_relaxed_dot_i8x16_i7x16(wasm_v128_load(y), u);
}

/* Returns acc + scale * dot(u, 16 bytes at y), scale being int16 lane `lane` of scales. */
static inline v128_t add_scaled_dot_relaxed(v128_t acc, v128_t u, const int8_t *y, v128_t scales, int lane)
{
    return wasm_i32x4_add(acc, wasm_i32x4_dot_i16x8(dot_pairs_relaxed(u, y), broadcast_i16(scales, lane)));
}

/* Q3_K block as q3k_block_sum, with the quant layout described there. */
static inline int32_t q3k_block_sum_relaxed(const block_q3k *w, const block_q8k *x)
{
    const v128_t two_bits = wasm_i8x16_splat(3), bit2 = wasm_i8x16_splat(4);
    v128_t sc = q3k_scales(w->scales);
    v128_t sc16[2];
    v128_t acc = wasm_i32x4_neg(wasm_i32x4_shl(scaled_bsums(sc, x->bsums), 2));
    v128_t planes0 = wasm_v128_load(w->qs), planes1 = wasm_v128_load(w->qs + 16);
    v128_t hmask0 = wasm_v128_load(w->hmask), hmask1 = wasm_v128_load(w->hmask + 16);
    int j;

    sc16[0] = wasm_i16x8_extend_low_i8x16(sc);
    sc16[1] = wasm_i16x8_extend_high_i8x16(sc);
    /* Rolled, it ran 20 % slower under wasmtime 51 on rows of 2048 weights. */
#pragma clang loop unroll(full)
    for (j = 0; j < 8; j++) {
        v128_t u0 = wasm_v128_or(wasm_v128_and(planes0, two_bits), wasm_v128_and(wasm_i16x8_shl(hmask0, 2), bit2));
        v128_t u1 = wasm_v128_or(wasm_v128_and(planes1, two_bits), wasm_v128_and(wasm_i16x8_shl(hmask1, 2), bit2));

        acc = add_scaled_dot_relaxed(acc, u0, x->qs + 32 * j, sc16[j / 4], 2 * j % 8);
        acc = add_scaled_dot_relaxed(acc, u1, x->qs + 32 * j + 16, sc16[j / 4], 2 * j % 8 + 1);
        if (j == 3) {
            planes0 = wasm_v128_load(w->qs + 32);
            planes1 = wasm_v128_load(w->qs + 48);
        } else {
            planes0 = wasm_u16x8_shr(planes0, 2);
            planes1 = wasm_u16x8_shr(planes1, 2);
        }
        hmask0 = wasm_u16x8_shr(hmask0, 1);
        hmask1 = wasm_u16x8_shr(hmask1, 1);
    }
    return sum_i32x4(acc);
}

static float q3k_dot_q8k_relaxed(int64_t n, const void *weights, const void *acts)
{
    const block_q3k *w = weights;
    const block_q8k *x = acts;
    float sum = 0.0f;
    int64_t ib;

    for (ib = 0; ib < n / QK_K; ib++)
        sum += half_to_float(w[ib].d) * x[ib].d * q3k_block_sum_relaxed(&w[ib], &x[ib]);
    return sum;
}

/*
 * Q4_K and Q5_K block as q4k_q5k_block_sum, with the quant layout described
 * there. The int16 pair sums of the two halves of a sub-block of 32 are
 * added before the scale multiply; they stay below 2 * 2 * 31 * 128 = 15872.
 */
static inline int32_t q4k_q5k_block_sum_relaxed(const uint8_t qs[QK_K / 2], const uint8_t *qh, v128_t scales_mins,
                                                const block_q8k *x)
{
    const v128_t nibble = wasm_i8x16_splat(0x0F), bit4 = wasm_i8x16_splat(0x10);
    v128_t scales = wasm_u16x8_extend_low_u8x16(scales_mins);
    v128_t acc = wasm_i32x4_splat(0), high_bits0 = wasm_i32x4_splat(0), high_bits1 = wasm_i32x4_splat(0);
    int c;

    if (qh) {
        high_bits0 = wasm_v128_load(qh);
        high_bits1 = wasm_v128_load(qh + 16);
    }
    /* Unrolled, this loop spills registers under wasmtime 51 and ran 10 % slower on rows of 8192 weights. */
#pragma clang loop unroll(disable)
    for (c = 0; c < 4; c++) {
        const int8_t *y = x->qs + 64 * c;
        v128_t bytes0 = wasm_v128_load(qs + 32 * c), bytes1 = wasm_v128_load(qs + 32 * c + 16);
        v128_t low0 = wasm_v128_and(bytes0, nibble), low1 = wasm_v128_and(bytes1, nibble);
        v128_t high0 = wasm_v128_and(wasm_u16x8_shr(bytes0, 4), nibble);
        v128_t high1 = wasm_v128_and(wasm_u16x8_shr(bytes1, 4), nibble);
        v128_t pairs_low, pairs_high;

        if (qh) {
            low0 = wasm_v128_or(low0, wasm_v128_and(wasm_i16x8_shl(high_bits0, 4), bit4));
            low1 = wasm_v128_or(low1, wasm_v128_and(wasm_i16x8_shl(high_bits1, 4), bit4));
            high0 = wasm_v128_or(high0, wasm_v128_and(wasm_i16x8_shl(high_bits0, 3), bit4));
            high1 = wasm_v128_or(high1, wasm_v128_and(wasm_i16x8_shl(high_bits1, 3), bit4));
            high_bits0 = wasm_u16x8_shr(high_bits0, 2);
            high_bits1 = wasm_u16x8_shr(high_bits1, 2);
        }
        pairs_low = wasm_i16x8_add(dot_pairs_relaxed(low0, y), dot_pairs_relaxed(low1, y + 16));
        pairs_high = wasm_i16x8_add(dot_pairs_relaxed(high0, y + 32), dot_pairs_relaxed(high1, y + 48));
        acc = wasm_i32x4_add(acc, wasm_i32x4_dot_i16x8(pairs_low, broadcast_i16(scales, 2 * c)));
        acc = wasm_i32x4_add(acc, wasm_i32x4_dot_i16x8(pairs_high, broadcast_i16(scales, 2 * c + 1)));
    }
    return sum_i32x4(acc);
}

static float q4k_dot_q8k_relaxed(int64_t n, const void *weights, const void *acts)
{
    const block_q4k *w = weights;
    const block_q8k *x = acts;
    float sum = 0.0f;
    int64_t ib;

    for (ib = 0; ib < n / QK_K; ib++) {
        v128_t scales_mins = q4k_scales_mins(w[ib].scales);
        int32_t sum_q = q4k_q5k_block_sum_relaxed(w[ib].qs, NULL, scales_mins, &x[ib]);
        int32_t sum_min = sum_i32x4(min_bsums(scales_mins, x[ib].bsums));

        sum += half_to_float(w[ib].d) * x[ib].d * sum_q - half_to_float(w[ib].dmin) * x[ib].d * sum_min;
    }
    return sum;
}

static float q5k_dot_q8k_relaxed(int64_t n, const void *weights, const void *acts)
{
    const block_q5k *w = weights;
    const block_q8k *x = acts;
    float sum = 0.0f;
    int64_t ib;

    for (ib = 0; ib < n / QK_K; ib++) {
        v128_t scales_mins = q4k_scales_mins(w[ib].scales);
        int32_t sum_q = q4k_q5k_block_sum_relaxed(w[ib].qs, w[ib].qh, scales_mins, &x[ib]);
        int32_t sum_min = sum_i32x4(min_bsums(scales_mins, x[ib].bsums));

        sum += half_to_float(w[ib].d) * x[ib].d * sum_q - half_to_float(w[ib].dmin) * x[ib].d * sum_min;
    }
    return sum;
}

/* Q6_K block as q6k_block_sum, with the quant layout described there. */
static inline int32_t q6k_block_sum_relaxed(const block_q6k *w, const block_q8k *x)
{
    const v128_t nibble = wasm_i8x16_splat(0x0F);
    v128_t sc = wasm_v128_load(w->scales);
    v128_t acc = wasm_i32x4_neg(wasm_i32x4_shl(scaled_bsums(sc, x->bsums), 5));
    int h;

    for (h = 0; h < 2; h++) {
        const uint8_t *ql = w->ql + 64 * h, *qh = w->qh + 32 * h;
        const int8_t *y = x->qs + 128 * h;
        v128_t sc16 = h == 0 ? wasm_i16x8_extend_low_i8x16(sc) : wasm_i16x8_extend_high_i8x16(sc);
        v128_t a0 = wasm_v128_load(ql), a1 = wasm_v128_load(ql + 16);
        v128_t b0 = wasm_v128_load(ql + 32), b1 = wasm_v128_load(ql + 48);
        v128_t qh0 = wasm_v128_load(qh), qh1 = wasm_v128_load(qh + 16);

        acc = add_scaled_dot_relaxed(acc, wasm_v128_or(wasm_v128_and(a0, nibble), q6k_high_bits(qh0, 0)), y, sc16, 0);
        acc = add_scaled_dot_relaxed(acc, wasm_v128_or(wasm_v128_and(a1, nibble), q6k_high_bits(qh1, 0)), y + 16, sc16, 1);
        acc = add_scaled_dot_relaxed(acc, wasm_v128_or(wasm_v128_and(b0, nibble), q6k_high_bits(qh0, 1)), y + 32, sc16, 2);
        acc = add_scaled_dot_relaxed(acc, wasm_v128_or(wasm_v128_and(b1, nibble), q6k_high_bits(qh1, 1)), y + 48, sc16, 3);
        acc = add_scaled_dot_relaxed(acc, wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(a0, 4), nibble), q6k_high_bits(qh0, 2)),
                                     y + 64, sc16, 4);
        acc = add_scaled_dot_relaxed(acc, wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(a1, 4), nibble), q6k_high_bits(qh1, 2)),
                                     y + 80, sc16, 5);
        acc = add_scaled_dot_relaxed(acc, wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(b0, 4), nibble), q6k_high_bits(qh0, 3)),
                                     y + 96, sc16, 6);
        acc = add_scaled_dot_relaxed(acc, wasm_v128_or(wasm_v128_and(wasm_u16x8_shr(b1, 4), nibble), q6k_high_bits(qh1, 3)),
                                     y + 112, sc16, 7);
    }
    return sum_i32x4(acc);
}

static float q6k_dot_q8k_relaxed(int64_t n, const void *weights, const void *acts)
{
    const block_q6k *w = weights;
    const block_q8k *x = acts;
    float sum = 0.0f;
    int64_t ib;

    for (ib = 0; ib < n / QK_K; ib++)
        sum += half_to_float(w[ib].d) * x[ib].d * q6k_block_sum_relaxed(&w[ib], &x[ib]);
    return sum;
}

#endif

/* ---------------------------------------------------------------- tables */

/* The entries that llm_kernels_wasm and llm_kernels_wasm_relaxed share. */
#define WASM_DEQUANTIZERS                                \
    {                                                    \
        [LLM_TYPE_F32] = llm_ref_f32_dequantize,          \
        [LLM_TYPE_F16] = llm_ref_f16_dequantize,          \
        [LLM_TYPE_BF16] = llm_ref_bf16_dequantize,        \
        [LLM_TYPE_Q4_0] = llm_ref_q4_0_dequantize,        \
        [LLM_TYPE_Q4_1] = llm_ref_q4_1_dequantize,        \
        [LLM_TYPE_Q5_0] = llm_ref_q5_0_dequantize,        \
        [LLM_TYPE_Q5_1] = llm_ref_q5_1_dequantize,        \
        [LLM_TYPE_Q8_0] = llm_ref_q8_0_dequantize,        \
        [LLM_TYPE_Q2_K] = llm_ref_q2k_dequantize,         \
        [LLM_TYPE_Q3_K] = llm_ref_q3k_dequantize,         \
        [LLM_TYPE_Q4_K] = llm_ref_q4k_dequantize,         \
        [LLM_TYPE_Q5_K] = llm_ref_q5k_dequantize,         \
        [LLM_TYPE_Q6_K] = llm_ref_q6k_dequantize,         \
        [LLM_TYPE_IQ4_NL] = llm_ref_iq4nl_dequantize,     \
    }
#define WASM_QUANTIZERS                           \
    {                                             \
        [LLM_TYPE_F32] = llm_ref_f32_copy,         \
        [LLM_TYPE_F16] = llm_ref_f16_quantize,     \
        [LLM_TYPE_BF16] = llm_ref_bf16_quantize,   \
        [LLM_TYPE_Q8_0] = q8_0_quantize_wasm,     \
        [LLM_TYPE_Q8_1] = llm_ref_q8_1_quantize,   \
        [LLM_TYPE_Q8_K] = q8k_quantize_wasm,      \
    }
#define WASM_DOTS_BUT_K_QUANTS                      \
    [LLM_TYPE_F32] = llm_ref_f32_dot_f32,            \
    [LLM_TYPE_F16] = f16_dot_f16_wasm,              \
    [LLM_TYPE_BF16] = llm_ref_bf16_dot_bf16,         \
    [LLM_TYPE_Q4_0] = llm_ref_q4_0_dot_q8_0,         \
    [LLM_TYPE_Q4_1] = llm_ref_q4_1_dot_q8_1,         \
    [LLM_TYPE_Q5_0] = llm_ref_q5_0_dot_q8_0,         \
    [LLM_TYPE_Q5_1] = llm_ref_q5_1_dot_q8_1,         \
    [LLM_TYPE_Q8_0] = q8_0_dot_q8_0_wasm,           \
    [LLM_TYPE_Q2_K] = llm_ref_q2k_dot_q8k,           \
    [LLM_TYPE_IQ4_NL] = llm_ref_iq4nl_dot_q8_0
#define WASM_TILES                                  \
    {                                               \
        [LLM_TYPE_Q3_K] = q3k_dot_tile_wasm,        \
        [LLM_TYPE_Q4_K] = q4k_dot_tile_wasm,        \
        [LLM_TYPE_Q5_K] = q5k_dot_tile_wasm,        \
        [LLM_TYPE_Q6_K] = q6k_dot_tile_wasm,        \
    }

const llm_kernels llm_kernels_wasm = {
    "wasm-simd128",
    WASM_DEQUANTIZERS,
    WASM_QUANTIZERS,
    {
        WASM_DOTS_BUT_K_QUANTS,
        [LLM_TYPE_Q3_K] = q3k_dot_q8k_wasm,
        [LLM_TYPE_Q4_K] = q4k_dot_q8k_wasm,
        [LLM_TYPE_Q5_K] = q5k_dot_q8k_wasm,
        [LLM_TYPE_Q6_K] = q6k_dot_q8k_wasm,
    },
    WASM_TILES,
};

#if defined(__wasm_relaxed_simd__)
const llm_kernels llm_kernels_wasm_relaxed = {
    "wasm-relaxed-simd",
    WASM_DEQUANTIZERS,
    WASM_QUANTIZERS,
    {
        WASM_DOTS_BUT_K_QUANTS,
        [LLM_TYPE_Q3_K] = q3k_dot_q8k_relaxed,
        [LLM_TYPE_Q4_K] = q4k_dot_q8k_relaxed,
        [LLM_TYPE_Q5_K] = q5k_dot_q8k_relaxed,
        [LLM_TYPE_Q6_K] = q6k_dot_q8k_relaxed,
    },
    WASM_TILES,
};
#endif
