/*
 * quant_avx512.c - Q5_K, Q6_K and F16 dot products, and Q3_K to Q6_K tile
 * kernels for many tokens and for one, for x86-64 with AVX-512 F/BW/VL and
 * VNNI: the table llm_kernels_avx512.
 *
 * Faster twins of quant_ref.c, which defines the results; tests/test_kernels.c
 * compares every dot with its scalar twin and every tile kernel with the
 * table's dot. Each K-quant result is bit-identical to the scalar one: a
 * super-block's integer sum is exact in any order, and super-blocks are
 * scaled and added with the scalar float operations in the scalar order.
 * The F16 dot sums in double in another order than the scalar one, within
 * the tolerance that tests/test_kernels.c names for it.
 * Every other entry forwards to llm_kernels_avx2, which this CPU also runs.
 * The Makefile compiles this file, and only this file, with the AVX-512
 * flags, so core/kernels.c hands the table out only after CPUID confirms
 * those features.
 *
 * A 64-byte vector covers 4 sub-blocks of 16 weights, one per 128-bit lane.
 * vpmaddubsw multiplies the unsigned quants by the activation bytes into 32
 * int16 pair sums, and VNNI's vpdpwssd weights them by each lane's sub-block
 * scale and adds them to int32 lanes in one instruction.
 */
#include <immintrin.h>
#include <stddef.h>
#include <string.h>

#include "quant.h"
#include "quant_blocks.h"

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

/* vpternlog truth table of (a & b) | c, the result bit being imm[4a + 2b + c]. */
#define A_AND_B_OR_C 0xEA

/* Adds the two 256-bit halves of v. */
static __m256i fold_i32x16(__m512i v)
{
    return _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
}

/*
 * Adds scale * dot(u, x) to acc for the 4 sub-blocks of a 64-byte vector:
 * u unsigned quants, x activation bytes, multipliers one int16 scale per
 * 128-bit lane.
 */
static inline __m512i add_scaled_dot(__m512i acc, __m512i u, __m512i x, __m512i multipliers)
{
    return _mm512_dpwssd_epi32(acc, _mm512_maddubs_epi16(u, x), multipliers);
}

/*
 * Int16 multipliers for vector v of a block. scales32 contains 4 int32
 * scales per 128-bit lane: element v of lane i is the scale of that lane's
 * sub-block in vector v. vpshufb repeats its low 16 bits over the lane.
 */
static inline __m512i lane_multipliers(__m512i scales32, int v)
{
    return _mm512_shuffle_epi8(scales32, _mm512_set1_epi16((short)(0x0100 + 0x0404 * v)));
}

/* Activation bytes xq[a .. a + 31] in the low half and xq[b .. b + 31] in the high half. */
static inline __m512i load_x_halves(const int8_t *xq, int a, int b)
{
    __m512i low = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(xq + a)));

    return _mm512_inserti64x4(low, _mm256_loadu_si256((const __m256i *)(xq + b)), 1);
}

/* ------------------------------------------------------------------ Q6_K */

/*
 * Q6_K x Q8_K with u = q + 32, as in quant_avx2.c. The low nibbles of
 * ql[0..63] are elements 0..63 in order and their high nibbles elements
 * 64..127; ql[64..127] gives 128..255 the same way. So vector v contains
 * elements 64v .. 64v + 63 (sub-blocks 4v .. 4v + 3), and its 2 high bits
 * per element come from qh[32h + l] at bits 2k, with h = v / 2 and
 * k = 2(v % 2) for the low half, 2(v % 2) + 1 for the high half.
 */
static float q6k_dot_q8k_avx512(int64_t n, const void *weights, const void *acts)
{
    const block_q6k *w = weights;
    const block_q8k *x = acts;
    const __m128i lane_order = _mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    const __m512i low4 = _mm512_set1_epi8(0x0F), bits45 = _mm512_set1_epi8(0x30);
    /* per-half shifts that bring bits 2k..2k+1 of qh to bits 4..5 */
    const __m512i shift_k01 = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
    const __m512i shift_k23 = _mm512_inserti64x4(_mm512_set1_epi16(0), _mm256_set1_epi16(2), 1);
    float sum = 0.0f;
    int64_t ib;

    for (ib = 0; ib < n / QK_K; ib++) {
        const int8_t *xq = x[ib].qs;
        __m128i sc = _mm_loadu_si128((const __m128i *)w[ib].scales);
        __m512i scales32 = _mm512_cvtepi8_epi32(_mm_shuffle_epi8(sc, lane_order));
        __m512i acc = _mm512_setzero_si512();
        __m256i acc8;
        int h;

        for (h = 0; h < 2; h++) {
            __m512i ql = _mm512_loadu_si512(w[ib].ql + 64 * h);
            __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(w[ib].qh + 32 * h)));
            __m512i high01 = _mm512_and_si512(_mm512_sllv_epi16(qh, shift_k01), bits45);
            __m512i high23 = _mm512_and_si512(_mm512_srlv_epi16(qh, shift_k23), bits45);
            /* (nibble & 0x0F) | high */
            __m512i u0 = _mm512_ternarylogic_epi32(ql, low4, high01, A_AND_B_OR_C);
            __m512i u1 = _mm512_ternarylogic_epi32(_mm512_srli_epi16(ql, 4), low4, high23, A_AND_B_OR_C);
            acc = add_scaled_dot(acc, u0, _mm512_loadu_si512(xq + 128 * h), lane_multipliers(scales32, 2 * h));
            acc = add_scaled_dot(acc, u1, _mm512_loadu_si512(xq + 128 * h + 64), lane_multipliers(scales32, 2 * h + 1));
        }
        acc8 = _mm256_madd_epi16(_mm256_cvtepi8_epi16(sc), _mm256_loadu_si256((const __m256i *)x[ib].bsums));
        acc8 = _mm256_sub_epi32(fold_i32x16(acc), _mm256_slli_epi32(acc8, 5));
        sum += half_to_float(w[ib].d) * x[ib].d * sum_i32x8(acc8);
    }
    return sum;
}

/* ---------------------------------------------------------- Q4_K, Q5_K */

/*
 * Unpacks the 8 scales and 8 mins of a Q4_K or Q5_K block as 16 uint8,
 * scales in bytes 0..7 and mins in bytes 8..15, as quant_avx2.c does. It
 * loads the 16 bytes that end with packed (d, dmin and the 12 scale bytes of
 * either block type) and moves the scale words in place with vpshufb. Passing
 * them through general registers instead made the Q4_K and Q5_K one-token
 * kernels about 10 % slower on Zen 4.
 */
static __m128i q4k_scales_mins(const uint8_t packed[12])
{
    __m128i bytes = _mm_loadu_si128((const __m128i *)(packed - 4));
    /* with w0, w1, w2 the scale words at bytes 4, 8, 12: w0, w2, w1, w2 and 0, w0, 0, w1 */
    __m128i words = _mm_shuffle_epi8(bytes, _mm_setr_epi8(4, 5, 6, 7, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15));
    __m128i shifted = _mm_shuffle_epi8(bytes, _mm_setr_epi8(-1, -1, -1, -1, 4, 5, 6, 7, -1, -1, -1, -1, 8, 9, 10, 11));
    __m128i low = _mm_srlv_epi32(words, _mm_setr_epi32(0, 0, 0, 4));
    __m128i high = _mm_srli_epi32(shifted, 2);

    low = _mm_and_si128(low, _mm_setr_epi32(0x3F3F3F3F, 0x0F0F0F0F, 0x3F3F3F3F, 0x0F0F0F0F));
    return _mm_or_si128(low, _mm_and_si128(high, _mm_set1_epi8(0x30)));
}

/* Sum of mn[s] * (bsums[2s] + bsums[2s + 1]), with mn in bytes 8..15 of scales_mins. */
static int32_t mins_dot_bsums(__m128i scales_mins, const int16_t bsums[16])
{
    const __m128i twice = _mm_setr_epi8(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15);
    __m256i b = _mm256_loadu_si256((const __m256i *)bsums);

    return sum_i32x8(_mm256_madd_epi16(_mm256_cvtepu8_epi16(_mm_shuffle_epi8(scales_mins, twice)), b));
}

/*
 * The int32 scales of a Q4_K or Q5_K block laid out for lane_multipliers.
 * qs[32c + l] stores element 64c + l in its low nibble and 64c + 32 + l in
 * its high nibble, so the vectors are v = 0: low nibbles of qs[0..63]
 * (sub-blocks 0 and 2), v = 1: their high nibbles (1, 3), v = 2 and 3: the
 * same for qs[64..127] (4, 6 and 5, 7). Lanes 0 and 1 take the first
 * sub-block, lanes 2 and 3 the second.
 */
static __m512i q4k_scales32(__m128i scales_mins)
{
    const __m128i half_order = _mm_setr_epi8(0, 1, 4, 5, 2, 3, 6, 7, -1, -1, -1, -1, -1, -1, -1, -1);
    __m256i s = _mm256_cvtepu8_epi32(_mm_shuffle_epi8(scales_mins, half_order));
    __m512i wide = _mm512_castsi256_si512(s);

    /* 128-bit lanes [0, 0, 1, 1] of s */
    return _mm512_shuffle_i64x2(wide, wide, 0x50);
}

/* Same float expression as the scalar q4k_q5k_dot_block, so the result is bit-identical. */
static float q4k_q5k_scale_block(uint16_t d_half, uint16_t dmin_half, int32_t sum_q, int32_t sum_min, float x_d)
{
    return half_to_float(d_half) * x_d * sum_q - half_to_float(dmin_half) * x_d * sum_min;
}

/*
 * Sum of sc[s] * dot(u, x) over a Q4_K or Q5_K block, from the 4 vectors of
 * unsigned quants laid out as q4k_scales32 describes.
 */
static inline int32_t q4k_q5k_sum_q(__m512i u0, __m512i u1, __m512i u2, __m512i u3, __m512i scales32, const int8_t *xq)
{
    __m512i acc = _mm512_setzero_si512();

    acc = add_scaled_dot(acc, u0, load_x_halves(xq, 0, 64), lane_multipliers(scales32, 0));
    acc = add_scaled_dot(acc, u1, load_x_halves(xq, 32, 96), lane_multipliers(scales32, 1));
    acc = add_scaled_dot(acc, u2, load_x_halves(xq, 128, 192), lane_multipliers(scales32, 2));
    acc = add_scaled_dot(acc, u3, load_x_halves(xq, 160, 224), lane_multipliers(scales32, 3));
    return sum_i32x8(fold_i32x16(acc));
}

/*
 * Q5_K: bit 4 of element 32s + l is bit s of qh[l]. Vector v covers
 * sub-blocks (s, s + 2) = (0, 2), (1, 3), (4, 6), (5, 7), so per-half 16-bit
 * shifts of qh, left by 4 - s or right by s - 4, bring bit s to bit 4.
 */
static float q5k_dot_q8k_avx512(int64_t n, const void *weights, const void *acts)
{
    const block_q5k *w = weights;
    const block_q8k *x = acts;
    const __m512i low4 = _mm512_set1_epi8(0x0F), bit4 = _mm512_set1_epi8(0x10);
    const __m512i left_v0 = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
    const __m512i left_v1 = _mm512_inserti64x4(_mm512_set1_epi16(3), _mm256_set1_epi16(1), 1);
    const __m512i right_v2 = _mm512_inserti64x4(_mm512_set1_epi16(0), _mm256_set1_epi16(2), 1);
    const __m512i right_v3 = _mm512_inserti64x4(_mm512_set1_epi16(1), _mm256_set1_epi16(3), 1);
    float sum = 0.0f;
    int64_t ib;

    for (ib = 0; ib < n / QK_K; ib++) {
        __m128i scales_mins = q4k_scales_mins(w[ib].scales);
        __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)w[ib].qh));
        __m512i qs0 = _mm512_loadu_si512(w[ib].qs);
        __m512i qs1 = _mm512_loadu_si512(w[ib].qs + 64);
        __m512i u[4];

        /* (nibble & 0x0F) | high bit */
        u[0] = _mm512_ternarylogic_epi32(qs0, low4, _mm512_and_si512(_mm512_sllv_epi16(qh, left_v0), bit4), A_AND_B_OR_C);
        u[1] = _mm512_ternarylogic_epi32(_mm512_srli_epi16(qs0, 4), low4,
                                         _mm512_and_si512(_mm512_sllv_epi16(qh, left_v1), bit4), A_AND_B_OR_C);
        u[2] = _mm512_ternarylogic_epi32(qs1, low4, _mm512_and_si512(_mm512_srlv_epi16(qh, right_v2), bit4), A_AND_B_OR_C);
        u[3] = _mm512_ternarylogic_epi32(_mm512_srli_epi16(qs1, 4), low4,
                                         _mm512_and_si512(_mm512_srlv_epi16(qh, right_v3), bit4), A_AND_B_OR_C);
        sum += q4k_q5k_scale_block(w[ib].d, w[ib].dmin, q4k_q5k_sum_q(u[0], u[1], u[2], u[3], q4k_scales32(scales_mins), x[ib].qs),
                                   mins_dot_bsums(scales_mins, x[ib].bsums), x[ib].d);
    }
    return sum;
}

/* ------------------------------------------------------------------ Q3_K */

/*
 * Unpacks the 16 six-bit Q3_K scales as 16 int8 in -32..31, in registers, as
 * q3k_scales in quant_avx2.c does (bit layout in quant_blocks.h above
 * q3k_unpack_scales).
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

/* ------------------------------------------- K-quants x Q8_K, many tokens */

/*
 * The tile kernels below unpack block ib of up to TILE_ROWS weight rows into
 * unpacked_block values, then run 4 tokens at a time against all of them:
 * each 64-byte activation vector is loaded once and used for every row,
 * which keeps the loads from L2 per multiply low. Each token's per-block
 * integer sum is exact, and its float step is the scalar expression in the
 * scalar block order, done in 4 float lanes with the same roundings, so each
 * result is bit-identical to the table's dot. Tokens go in passes of
 * TILE_TOKENS so that the running sums stay on the stack.
 */
#define TILE_TOKENS 64
#define TILE_ROWS 4

/* One weight block, unpacked for the tile kernels. */
typedef struct {
    __m512i u[4];       /* unsigned quants, vector v being elements 64v .. 64v + 63 */
    __m512i mult[4];    /* per vector, the int16 scale of each 128-bit lane's sub-block */
    __m512i bsums_mult; /* Q3_K, Q6_K: int16 multipliers of the bsums term, zero in the high half */
    __m256i mins16;     /* Q4_K, Q5_K: the min of sub-block s for bsums 2s and 2s + 1 */
    float d, dmin;      /* dmin: Q4_K and Q5_K only */
} unpacked_block;

typedef void (*unpack_block_fn)(const void *block, unpacked_block *out);

/* Activation block ib of token j, token rows being act_stride bytes apart. */
static inline const block_q8k *tile_block(const void *acts, size_t act_stride, int j, int64_t ib)
{
    return (const block_q8k *)((const uint8_t *)acts + (size_t)j * act_stride) + ib;
}

/* The sums of 4 int32x16 accumulators, in the 4 lanes of the result. */
static inline __m128i sum_i32x16_4(__m512i a, __m512i b, __m512i c, __m512i d)
{
    /* per 128-bit lane: [a0 + a2, b0 + b2, a1 + a3, b1 + b3], then [a, b, c, d] */
    __m512i ab = _mm512_add_epi32(_mm512_unpacklo_epi32(a, b), _mm512_unpackhi_epi32(a, b));
    __m512i cd = _mm512_add_epi32(_mm512_unpacklo_epi32(c, d), _mm512_unpackhi_epi32(c, d));
    __m256i abcd = fold_i32x16(_mm512_add_epi32(_mm512_unpacklo_epi64(ab, cd), _mm512_unpackhi_epi64(ab, cd)));

    return _mm_add_epi32(_mm256_castsi256_si128(abcd), _mm256_extracti128_si256(abcd, 1));
}

/* The sums of 4 int32x8 accumulators, in the 4 lanes of the result. */
static inline __m128i sum_i32x8_4(__m256i a, __m256i b, __m256i c, __m256i d)
{
    __m256i abcd = _mm256_hadd_epi32(_mm256_hadd_epi32(a, b), _mm256_hadd_epi32(c, d));

    return _mm_add_epi32(_mm256_castsi256_si128(abcd), _mm256_extracti128_si256(abcd, 1));
}

/*
 * Adds block ib of n_rows unpacked rows b (a constant 1 or TILE_ROWS) times
 * tokens x[0..3] to sums[r][j + t] for t < n_valid; lanes t >= n_valid repeat
 * a valid token and are dropped. has_mins selects the Q4_K and Q5_K float
 * step d * x_d * sum_q - dmin * x_d * sum_min over the Q3_K and Q6_K step
 * d * x_d * sum_q, whose bsums term is in the integer sum.
 */
static inline __attribute__((always_inline)) void rows_times_4_tokens(const unpacked_block *b, int n_rows,
                                                                      int has_mins, const block_q8k *const x[4],
                                                                      int n_valid, float (*sums)[TILE_TOKENS], int j)
{
    __m512i acc[TILE_ROWS][4];
    __m128 x_d = _mm_setr_ps(x[0]->d, x[1]->d, x[2]->d, x[3]->d);
    int r, t, v;

#pragma GCC unroll 4
    for (r = 0; r < n_rows; r++) {
#pragma GCC unroll 4
        for (t = 0; t < 4; t++) {
            __m512i bsums = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)x[t]->bsums));
            acc[r][t] = has_mins ? _mm512_setzero_si512()
                                 : _mm512_dpwssd_epi32(_mm512_setzero_si512(), bsums, b[r].bsums_mult);
        }
    }
#pragma GCC unroll 4
    for (v = 0; v < 4; v++) {
        __m512i xv[4];
#pragma GCC unroll 4
        for (t = 0; t < 4; t++)
            xv[t] = _mm512_loadu_si512(x[t]->qs + 64 * v);
#pragma GCC unroll 4
        for (r = 0; r < n_rows; r++) {
#pragma GCC unroll 4
            for (t = 0; t < 4; t++)
                acc[r][t] = add_scaled_dot(acc[r][t], b[r].u[v], xv[t], b[r].mult[v]);
        }
    }
#pragma GCC unroll 4
    for (r = 0; r < n_rows; r++) {
        __m128i sum_q = sum_i32x16_4(acc[r][0], acc[r][1], acc[r][2], acc[r][3]);
        __m128 term = _mm_mul_ps(_mm_mul_ps(_mm_set1_ps(b[r].d), x_d), _mm_cvtepi32_ps(sum_q));
        float terms[4];

        if (has_mins) {
            __m256i m[4];
            __m128i sum_min;
#pragma GCC unroll 4
            for (t = 0; t < 4; t++)
                m[t] = _mm256_madd_epi16(b[r].mins16, _mm256_loadu_si256((const __m256i *)x[t]->bsums));
            sum_min = sum_i32x8_4(m[0], m[1], m[2], m[3]);
            term = _mm_sub_ps(term, _mm_mul_ps(_mm_mul_ps(_mm_set1_ps(b[r].dmin), x_d), _mm_cvtepi32_ps(sum_min)));
        }
        if (n_valid == 4) {
            _mm_storeu_ps(sums[r] + j, _mm_add_ps(_mm_loadu_ps(sums[r] + j), term));
            continue;
        }
        _mm_storeu_ps(terms, term);
        for (t = 0; t < n_valid; t++)
            sums[r][j + t] += terms[t];
    }
}

/* Runs block ib of n_rows unpacked rows (a constant) for every token of a pass. */
static inline __attribute__((always_inline)) void rows_times_pass(const unpacked_block *b, int n_rows, int has_mins,
                                                                  int64_t ib, const void *acts, size_t act_stride,
                                                                  int n_pass, float (*sums)[TILE_TOKENS])
{
    int j, t;

    for (j = 0; j < n_pass; j += 4) {
        int n_valid = n_pass - j < 4 ? n_pass - j : 4;
        const block_q8k *x[4];
        for (t = 0; t < 4; t++)
            x[t] = tile_block(acts, act_stride, j + (t < n_valid ? t : n_valid - 1), ib);
        rows_times_4_tokens(b, n_rows, has_mins, x, n_valid, sums, j);
    }
}

/*
 * Prefetches the block at next unless it starts at row_end. A block's
 * weights are read only after a long run of multiplies on the previous one,
 * which the hardware prefetcher does not follow: on Zen 4, unpacking took
 * 20 % of a 1B model's prompt profile without this and 9 % with it.
 */
static inline void prefetch_next_block(const uint8_t *next, size_t block_bytes, const uint8_t *row_end)
{
    size_t offset;

    if (next >= row_end)
        return;
    for (offset = 0; offset < block_bytes; offset += 64)
        _mm_prefetch((const char *)(next + offset), _MM_HINT_T0);
    _mm_prefetch((const char *)(next + block_bytes - 1), _MM_HINT_T0);
}

/*
 * The common body of the tile kernels: rows in groups of TILE_ROWS, tokens in
 * passes of TILE_TOKENS, blocks in order. A group of fewer rows runs them one
 * at a time.
 */
static void dot_tile_rows(unpack_block_fn unpack, size_t block_bytes, int has_mins, int64_t n, const void *weights,
                          size_t row_bytes, int n_rows, const void *acts, size_t act_stride, int n_tokens, float *out,
                          size_t out_stride)
{
    float sums[TILE_ROWS][TILE_TOKENS];
    unpacked_block b[TILE_ROWS];
    int r0, j0, r, j;

    for (r0 = 0; r0 < n_rows; r0 += TILE_ROWS) {
        int n_group = n_rows - r0 < TILE_ROWS ? n_rows - r0 : TILE_ROWS;
        const uint8_t *group = (const uint8_t *)weights + (size_t)r0 * row_bytes;

        for (j0 = 0; j0 < n_tokens; j0 += TILE_TOKENS) {
            const uint8_t *pass_acts = (const uint8_t *)acts + (size_t)j0 * act_stride;
            int n_pass = n_tokens - j0 < TILE_TOKENS ? n_tokens - j0 : TILE_TOKENS;
            int64_t ib;

            memset(sums, 0, sizeof sums);
            for (ib = 0; ib < n / QK_K; ib++) {
                for (r = 0; r < n_group; r++) {
                    const uint8_t *block = group + (size_t)r * row_bytes + (size_t)ib * block_bytes;
                    prefetch_next_block(block + block_bytes, block_bytes, group + (size_t)(r + 1) * row_bytes);
                    unpack(block, &b[r]);
                }
                if (n_group == TILE_ROWS && has_mins) {
                    rows_times_pass(b, TILE_ROWS, 1, ib, pass_acts, act_stride, n_pass, sums);
                } else if (n_group == TILE_ROWS) {
                    rows_times_pass(b, TILE_ROWS, 0, ib, pass_acts, act_stride, n_pass, sums);
                } else {
                    for (r = 0; r < n_group; r++) {
                        if (has_mins)
                            rows_times_pass(&b[r], 1, 1, ib, pass_acts, act_stride, n_pass, &sums[r]);
                        else
                            rows_times_pass(&b[r], 1, 0, ib, pass_acts, act_stride, n_pass, &sums[r]);
                    }
                }
            }
            for (r = 0; r < n_group; r++) {
                for (j = 0; j < n_pass; j++)
                    out[(size_t)(j0 + j) * out_stride + (size_t)(r0 + r)] = sums[r][j];
            }
        }
    }
}

/*
 * Fills the multipliers of a Q3_K or Q6_K block from its 16 int8 scales sc.
 * Its dot is d * x_d * (sum sc * u * x - offset * sum sc * bsum) with
 * u = q + offset and offset = 1 << offset_shift (4 for Q3_K, 32 for Q6_K),
 * so the bsums term gets the multipliers -(sc << offset_shift).
 */
static inline void sc16_unpack_scales(__m128i sc, int offset_shift, unpacked_block *out)
{
    const __m128i lane_order = _mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    __m512i scales32 = _mm512_cvtepi8_epi32(_mm_shuffle_epi8(sc, lane_order));
    __m256i offset_sc = _mm256_sub_epi16(_mm256_setzero_si256(),
                                         _mm256_sll_epi16(_mm256_cvtepi8_epi16(sc), _mm_cvtsi32_si128(offset_shift)));

    out->mult[0] = lane_multipliers(scales32, 0);
    out->mult[1] = lane_multipliers(scales32, 1);
    out->mult[2] = lane_multipliers(scales32, 2);
    out->mult[3] = lane_multipliers(scales32, 3);
    out->bsums_mult = _mm512_inserti64x4(_mm512_setzero_si512(), offset_sc, 0);
}

/*
 * Unpacks a Q3_K block with u = q + 4. Vector v contains quarters j = 2v and 2v + 1 (32
 * elements each): bits 2(j % 4)..2(j % 4) + 1 of the 32 qs bytes of half
 * v / 2, plus bit j of hmask moved to bit 2 (left by 2 - j for j < 2, else
 * right by j - 2).
 */
static void q3k_unpack_block(const void *block, unpacked_block *out)
{
    const block_q3k *b = block;
    const __m512i two_bits = _mm512_set1_epi8(3), bit2 = _mm512_set1_epi8(4);
    const __m512i low_shift_01 = _mm512_inserti64x4(_mm512_set1_epi16(0), _mm256_set1_epi16(2), 1);
    const __m512i low_shift_23 = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(6), 1);
    __m512i hmask = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)b->hmask));
    __m512i qs0 = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)b->qs));
    __m512i qs1 = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(b->qs + 32)));
    __m512i high[4];
    int v;

    high[0] = _mm512_sllv_epi16(hmask, _mm512_inserti64x4(_mm512_set1_epi16(2), _mm256_set1_epi16(1), 1));
    high[1] = _mm512_srlv_epi16(hmask, _mm512_inserti64x4(_mm512_set1_epi16(0), _mm256_set1_epi16(1), 1));
    high[2] = _mm512_srlv_epi16(hmask, _mm512_inserti64x4(_mm512_set1_epi16(2), _mm256_set1_epi16(3), 1));
    high[3] = _mm512_srlv_epi16(hmask, _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(5), 1));
    out->u[0] = _mm512_and_si512(_mm512_srlv_epi16(qs0, low_shift_01), two_bits);
    out->u[1] = _mm512_and_si512(_mm512_srlv_epi16(qs0, low_shift_23), two_bits);
    out->u[2] = _mm512_and_si512(_mm512_srlv_epi16(qs1, low_shift_01), two_bits);
    out->u[3] = _mm512_and_si512(_mm512_srlv_epi16(qs1, low_shift_23), two_bits);
    for (v = 0; v < 4; v++)
        out->u[v] = _mm512_ternarylogic_epi32(high[v], bit2, out->u[v], A_AND_B_OR_C);
    sc16_unpack_scales(q3k_scales(b->scales), 2, out);
    out->d = half_to_float(b->d);
}

/* Unpacks a Q6_K block with u = q + 32, laid out as in q6k_dot_q8k_avx512. */
static void q6k_unpack_block(const void *block, unpacked_block *out)
{
    const block_q6k *b = block;
    const __m512i low4 = _mm512_set1_epi8(0x0F), bits45 = _mm512_set1_epi8(0x30);
    const __m512i shift_k01 = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
    const __m512i shift_k23 = _mm512_inserti64x4(_mm512_set1_epi16(0), _mm256_set1_epi16(2), 1);
    int h;

    for (h = 0; h < 2; h++) {
        __m512i ql = _mm512_loadu_si512(b->ql + 64 * h);
        __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(b->qh + 32 * h)));
        __m512i high01 = _mm512_and_si512(_mm512_sllv_epi16(qh, shift_k01), bits45);
        __m512i high23 = _mm512_and_si512(_mm512_srlv_epi16(qh, shift_k23), bits45);

        out->u[2 * h] = _mm512_ternarylogic_epi32(ql, low4, high01, A_AND_B_OR_C);
        out->u[2 * h + 1] = _mm512_ternarylogic_epi32(_mm512_srli_epi16(ql, 4), low4, high23, A_AND_B_OR_C);
    }
    sc16_unpack_scales(_mm_loadu_si128((const __m128i *)b->scales), 5, out);
    out->d = half_to_float(b->d);
}

/*
 * Fills the multipliers and mins of a Q4_K or Q5_K block. Vector v of u is
 * sub-blocks 2v (low half) and 2v + 1 (high half), so lanes 0 and 1 take
 * scale 2v and lanes 2 and 3 scale 2v + 1.
 */
static inline void q4k_q5k_unpack_scales(const uint8_t packed[12], uint16_t d, uint16_t dmin, unpacked_block *out)
{
    const __m128i half_order = _mm_setr_epi8(0, 2, 4, 6, 1, 3, 5, 7, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m128i twice = _mm_setr_epi8(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15);
    __m128i scales_mins = q4k_scales_mins(packed);
    __m512i halves = _mm512_castsi256_si512(_mm256_cvtepu8_epi32(_mm_shuffle_epi8(scales_mins, half_order)));
    /* 128-bit lanes [0, 0, 1, 1] of halves */
    __m512i scales32 = _mm512_shuffle_i64x2(halves, halves, 0x50);

    out->mult[0] = lane_multipliers(scales32, 0);
    out->mult[1] = lane_multipliers(scales32, 1);
    out->mult[2] = lane_multipliers(scales32, 2);
    out->mult[3] = lane_multipliers(scales32, 3);
    out->mins16 = _mm256_cvtepu8_epi16(_mm_shuffle_epi8(scales_mins, twice));
    out->d = half_to_float(d);
    out->dmin = half_to_float(dmin);
}

/* Returns vector v of a Q4_K block's nibbles: qs[32v + l] stores element 64v + l low and 64v + 32 + l high. */
static inline __m512i q4k_nibbles(const uint8_t *qs, int v)
{
    const __m512i nibble_shift = _mm512_inserti64x4(_mm512_set1_epi16(0), _mm256_set1_epi16(4), 1);
    __m512i packed = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(qs + 32 * v)));

    return _mm512_and_si512(_mm512_srlv_epi16(packed, nibble_shift), _mm512_set1_epi8(0x0F));
}

static void q4k_unpack_block(const void *block, unpacked_block *out)
{
    const block_q4k *b = block;
    int v;

    for (v = 0; v < 4; v++)
        out->u[v] = q4k_nibbles(b->qs, v);
    q4k_q5k_unpack_scales(b->scales, b->d, b->dmin, out);
}

/*
 * Unpacks a Q5_K block: the Q4_K nibbles plus bit s of qh[l] as bit 4 of
 * element 32s + l (shifted left by 4 - s or right by s - 4).
 */
static void q5k_unpack_block(const void *block, unpacked_block *out)
{
    const block_q5k *b = block;
    const __m512i bit4 = _mm512_set1_epi8(0x10);
    __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)b->qh));
    __m512i high[4];
    int v;

    high[0] = _mm512_sllv_epi16(qh, _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(3), 1));
    high[1] = _mm512_sllv_epi16(qh, _mm512_inserti64x4(_mm512_set1_epi16(2), _mm256_set1_epi16(1), 1));
    high[2] = _mm512_srlv_epi16(qh, _mm512_inserti64x4(_mm512_set1_epi16(0), _mm256_set1_epi16(1), 1));
    high[3] = _mm512_srlv_epi16(qh, _mm512_inserti64x4(_mm512_set1_epi16(2), _mm256_set1_epi16(3), 1));
    for (v = 0; v < 4; v++)
        out->u[v] = _mm512_ternarylogic_epi32(high[v], bit4, q4k_nibbles(b->qs, v), A_AND_B_OR_C);
    q4k_q5k_unpack_scales(b->scales, b->d, b->dmin, out);
}

/* ------------------------------------------- K-quants x Q8_K, one token */

/*
 * Generation multiplies each weight matrix by one activation row, and the
 * dot_tile entries take that case here, 4 rows at a time without unpacking
 * to memory. Each activation block is loaded once for the 4 rows, as 32-byte
 * halves in the order of the weight bytes for Q3_K, Q4_K and Q5_K. The 4
 * rows' block sums are reduced together into 4 lanes, and lane r does row
 * r's scalar float step in block order, so each result is bit-identical to
 * the table's dot. On one Zen 4 core, with 64 rows of 4096 in cache, weight
 * bytes per second went from 12 to 16 GB/s (Q3_K), 15 to 19 (Q5_K) and 27
 * to 33 (Q6_K) against one dot per row. 2-thread generation of the synthetic
 * 8B Q3_K_L model went from about 6.0 to 6.9 tok/s.
 */
#define MATVEC_ROWS 4

/* The half floats at rows[r] + offset for r in 0..3, as 4 floats. */
static inline __m128 halves_to_floats_4(const uint8_t *const rows[4], size_t offset)
{
    uint16_t h[4];
    int r;

    for (r = 0; r < 4; r++)
        memcpy(&h[r], rows[r] + offset, sizeof h[r]);
    return _mm_cvtph_ps(_mm_loadl_epi64((const __m128i *)h));
}

/*
 * Returns the block sum of a Q3_K row against activations x, spread over 16
 * lanes. x[k] contains the elements 32k .. 32k + 31 in the low half and
 * 128 + 32k .. 128 + 32k + 31 in the high half. In that order the low 2 bits
 * of vector k are bits 2k..2k + 1 of the 64 qs bytes as stored, and the high
 * bit is bit k (low half) or 4 + k (high half) of hmask. neg_bsums4 contains
 * -4 * bsums, the offset term of u = q + 4.
 */
static inline __attribute__((always_inline)) __m512i q3k_block_sum_split(const block_q3k *b, const __m512i x[4],
                                                                         __m256i neg_bsums4)
{
    /* vector k, lane i takes the scale of sub-block 2k, 2k + 1, 8 + 2k, 9 + 2k for i = 0..3 */
    const __m128i split_order = _mm_setr_epi8(0, 2, 4, 6, 1, 3, 5, 7, 8, 10, 12, 14, 9, 11, 13, 15);
    const __m512i two_bits = _mm512_set1_epi8(3), bit2 = _mm512_set1_epi8(4);
    __m512i qs = _mm512_loadu_si512(b->qs);
    __m512i hmask = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)b->hmask));
    /* bits 4..7 of the high half moved to bits 0..3, so that bit k is at bit k in both halves */
    __m512i high = _mm512_srlv_epi16(hmask, _mm512_inserti64x4(_mm512_setzero_si512(), _mm256_set1_epi16(4), 1));
    __m128i sc = q3k_scales(b->scales);
    __m512i scales32 = _mm512_cvtepi8_epi32(_mm_shuffle_epi8(sc, split_order));
    __m512i u[4], acc;
    int k;

    u[0] = _mm512_ternarylogic_epi32(_mm512_slli_epi16(high, 2), bit2, _mm512_and_si512(qs, two_bits), A_AND_B_OR_C);
    u[1] = _mm512_ternarylogic_epi32(_mm512_slli_epi16(high, 1), bit2,
                                     _mm512_and_si512(_mm512_srli_epi16(qs, 2), two_bits), A_AND_B_OR_C);
    u[2] = _mm512_ternarylogic_epi32(high, bit2, _mm512_and_si512(_mm512_srli_epi16(qs, 4), two_bits), A_AND_B_OR_C);
    u[3] = _mm512_ternarylogic_epi32(_mm512_srli_epi16(high, 1), bit2,
                                     _mm512_and_si512(_mm512_srli_epi16(qs, 6), two_bits), A_AND_B_OR_C);
    acc = _mm512_zextsi256_si512(_mm256_madd_epi16(_mm256_cvtepi8_epi16(sc), neg_bsums4));
#pragma GCC unroll 4
    for (k = 0; k < 4; k++)
        acc = add_scaled_dot(acc, u[k], x[k], lane_multipliers(scales32, k));
    return acc;
}

/*
 * Returns the block sum of a Q4_K or Q5_K row (Q5_K when has_qh) against x,
 * laid out as in q5k_dot_q8k_avx512. x[v] holds the elements of the two
 * sub-blocks that the nibbles of vector v cover: (0, 2), (1, 3), (4, 6) and
 * (5, 7) for v = 0..3. Stores the mins term's 8 partial sums in *mins.
 */
static inline __attribute__((always_inline)) __m512i q4k_q5k_block_sum_split(const uint8_t *packed_scales,
                                                                             const uint8_t *qs, const uint8_t *qh,
                                                                             int has_qh, const __m512i x[4],
                                                                             __m256i bsums, __m256i *mins)
{
    const __m128i twice = _mm_setr_epi8(8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14, 15, 15);
    const __m512i low4 = _mm512_set1_epi8(0x0F), bit4 = _mm512_set1_epi8(0x10);
    __m128i scales_mins = q4k_scales_mins(packed_scales);
    __m512i scales32 = q4k_scales32(scales_mins);
    __m512i qs0 = _mm512_loadu_si512(qs), qs1 = _mm512_loadu_si512(qs + 64);
    __m512i u[4], acc = _mm512_setzero_si512();
    int v;

    u[0] = qs0;
    u[1] = _mm512_srli_epi16(qs0, 4);
    u[2] = qs1;
    u[3] = _mm512_srli_epi16(qs1, 4);
    if (has_qh) {
        /* bit s of qh[l] to bit 4, for the sub-blocks (0, 2), (1, 3), (4, 6), (5, 7) of the 4 vectors */
        __m512i h = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)qh));
        __m512i high[4];
        high[0] = _mm512_sllv_epi16(h, _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1));
        high[1] = _mm512_sllv_epi16(h, _mm512_inserti64x4(_mm512_set1_epi16(3), _mm256_set1_epi16(1), 1));
        high[2] = _mm512_srlv_epi16(h, _mm512_inserti64x4(_mm512_set1_epi16(0), _mm256_set1_epi16(2), 1));
        high[3] = _mm512_srlv_epi16(h, _mm512_inserti64x4(_mm512_set1_epi16(1), _mm256_set1_epi16(3), 1));
#pragma GCC unroll 4
        for (v = 0; v < 4; v++)
            u[v] = _mm512_ternarylogic_epi32(u[v], low4, _mm512_and_si512(high[v], bit4), A_AND_B_OR_C);
    } else {
#pragma GCC unroll 4
        for (v = 0; v < 4; v++)
            u[v] = _mm512_and_si512(u[v], low4);
    }
#pragma GCC unroll 4
    for (v = 0; v < 4; v++)
        acc = add_scaled_dot(acc, u[v], x[v], lane_multipliers(scales32, v));
    *mins = _mm256_madd_epi16(_mm256_cvtepu8_epi16(_mm_shuffle_epi8(scales_mins, twice)), bsums);
    return acc;
}

/*
 * Returns the block sum of a Q6_K row against the activation vectors
 * x[v] = elements 64v .. 64v + 63, laid out as in q6k_dot_q8k_avx512.
 * neg_bsums contains -bsums, so the offset term of u = q + 32 is
 * 32 * sum sc * neg_bsums.
 */
static inline __attribute__((always_inline)) __m512i q6k_block_sum(const block_q6k *b, const __m512i x[4],
                                                                   __m256i neg_bsums)
{
    const __m128i lane_order = _mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    const __m512i low4 = _mm512_set1_epi8(0x0F), bits45 = _mm512_set1_epi8(0x30);
    const __m512i shift_k01 = _mm512_inserti64x4(_mm512_set1_epi16(4), _mm256_set1_epi16(2), 1);
    const __m512i shift_k23 = _mm512_inserti64x4(_mm512_set1_epi16(0), _mm256_set1_epi16(2), 1);
    __m128i sc = _mm_loadu_si128((const __m128i *)b->scales);
    __m512i scales32 = _mm512_cvtepi8_epi32(_mm_shuffle_epi8(sc, lane_order));
    __m256i offset = _mm256_slli_epi32(_mm256_madd_epi16(_mm256_cvtepi8_epi16(sc), neg_bsums), 5);
    __m512i acc = _mm512_zextsi256_si512(offset);
    int h;

#pragma GCC unroll 2
    for (h = 0; h < 2; h++) {
        __m512i ql = _mm512_loadu_si512(b->ql + 64 * h);
        __m512i qh = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)(b->qh + 32 * h)));
        __m512i high01 = _mm512_and_si512(_mm512_sllv_epi16(qh, shift_k01), bits45);
        __m512i high23 = _mm512_and_si512(_mm512_srlv_epi16(qh, shift_k23), bits45);
        __m512i u0 = _mm512_ternarylogic_epi32(ql, low4, high01, A_AND_B_OR_C);
        __m512i u1 = _mm512_ternarylogic_epi32(_mm512_srli_epi16(ql, 4), low4, high23, A_AND_B_OR_C);
        acc = add_scaled_dot(acc, u0, x[2 * h], lane_multipliers(scales32, 2 * h));
        acc = add_scaled_dot(acc, u1, x[2 * h + 1], lane_multipliers(scales32, 2 * h + 1));
    }
    return acc;
}

/*
 * Stores dot(n, rows[r], acts) in out[r] for r in 0..3, and prefetches the
 * rows at next_group. type is a constant (Q3_K, Q4_K, Q5_K or Q6_K) and
 * block_bytes its block size.
 */
static inline __attribute__((always_inline)) void dot_4_rows(uint32_t type, size_t block_bytes, int64_t n,
                                                             const uint8_t *const rows[4], const uint8_t *next_group,
                                                             const void *acts, float out[4])
{
    const block_q8k *x = acts;
    int has_mins = type == LLM_TYPE_Q4_K || type == LLM_TYPE_Q5_K;
    /* offset of d in a block (dmin follows it in Q4_K and Q5_K) */
    size_t d_offset = type == LLM_TYPE_Q3_K ? offsetof(block_q3k, d) : type == LLM_TYPE_Q6_K ? offsetof(block_q6k, d) : 0;
    __m128 sums = _mm_setzero_ps();
    int64_t ib;
    size_t line;
    int r;

    for (ib = 0; ib < n / QK_K; ib++) {
        const int8_t *xq = x[ib].qs;
        __m256i bsums = _mm256_loadu_si256((const __m256i *)x[ib].bsums);
        __m512i xv[4], acc[4];
        __m256i mins[4];
        __m128 x_d = _mm_set1_ps(x[ib].d), d, term;
        size_t offset = (size_t)ib * block_bytes;

        /*
         * The 4 rows are read as 4 interleaved streams, often within one 4 KiB
         * page, which the hardware prefetcher does not follow. So fetch the
         * next group of rows into L2 at the rate this group is read. After the
         * last group this touches memory past the rows, which a prefetch may
         * do without faulting. Without it, 8B generation ran at half speed.
         */
        for (line = 0; line < MATVEC_ROWS * block_bytes; line += 64)
            _mm_prefetch((const char *)(next_group + MATVEC_ROWS * offset + line), _MM_HINT_T1);

        if (type == LLM_TYPE_Q3_K) {
            __m256i neg_bsums4 = _mm256_sub_epi16(_mm256_setzero_si256(), _mm256_slli_epi16(bsums, 2));
            xv[0] = load_x_halves(xq, 0, 128);
            xv[1] = load_x_halves(xq, 32, 160);
            xv[2] = load_x_halves(xq, 64, 192);
            xv[3] = load_x_halves(xq, 96, 224);
#pragma GCC unroll 4
            for (r = 0; r < 4; r++)
                acc[r] = q3k_block_sum_split((const block_q3k *)(rows[r] + offset), xv, neg_bsums4);
        } else if (type == LLM_TYPE_Q6_K) {
            __m256i neg_bsums = _mm256_sub_epi16(_mm256_setzero_si256(), bsums);
#pragma GCC unroll 4
            for (r = 0; r < 4; r++)
                xv[r] = _mm512_loadu_si512(xq + 64 * r);
#pragma GCC unroll 4
            for (r = 0; r < 4; r++)
                acc[r] = q6k_block_sum((const block_q6k *)(rows[r] + offset), xv, neg_bsums);
        } else {
            xv[0] = load_x_halves(xq, 0, 64);
            xv[1] = load_x_halves(xq, 32, 96);
            xv[2] = load_x_halves(xq, 128, 192);
            xv[3] = load_x_halves(xq, 160, 224);
#pragma GCC unroll 4
            for (r = 0; r < 4; r++) {
                if (type == LLM_TYPE_Q5_K) {
                    const block_q5k *b = (const block_q5k *)(rows[r] + offset);
                    acc[r] = q4k_q5k_block_sum_split(b->scales, b->qs, b->qh, 1, xv, bsums, &mins[r]);
                } else {
                    const block_q4k *b = (const block_q4k *)(rows[r] + offset);
                    acc[r] = q4k_q5k_block_sum_split(b->scales, b->qs, NULL, 0, xv, bsums, &mins[r]);
                }
            }
        }
        /* the scalar float step of each row: d * x_d * sum_q [- dmin * x_d * sum_min] */
        d = halves_to_floats_4(rows, offset + d_offset);
        term = _mm_mul_ps(_mm_mul_ps(d, x_d), _mm_cvtepi32_ps(sum_i32x16_4(acc[0], acc[1], acc[2], acc[3])));
        if (has_mins) {
            __m128 dmin = halves_to_floats_4(rows, offset + offsetof(block_q4k, dmin));
            __m128i sum_min = sum_i32x8_4(mins[0], mins[1], mins[2], mins[3]);
            term = _mm_sub_ps(term, _mm_mul_ps(_mm_mul_ps(dmin, x_d), _mm_cvtepi32_ps(sum_min)));
        }
        sums = _mm_add_ps(sums, term);
    }
    _mm_storeu_ps(out, sums);
}

/*
 * One token: stores dot(n, row r, acts) in out[r] for each of the n_rows
 * rows, MATVEC_ROWS at a time. A last group of fewer rows repeats its last
 * row and drops the repeated results.
 */
static inline __attribute__((always_inline)) void dot_rows_one_token(uint32_t type, size_t block_bytes, int64_t n,
                                                                     const void *weights, size_t row_bytes,
                                                                     int n_rows, const void *acts, float *out)
{
    int r0, r;

    for (r0 = 0; r0 < n_rows; r0 += MATVEC_ROWS) {
        int n_group = n_rows - r0 < MATVEC_ROWS ? n_rows - r0 : MATVEC_ROWS;
        const uint8_t *rows[MATVEC_ROWS];
        float sums[MATVEC_ROWS];

        for (r = 0; r < MATVEC_ROWS; r++)
            rows[r] = (const uint8_t *)weights + (size_t)(r0 + (r < n_group ? r : n_group - 1)) * row_bytes;
        dot_4_rows(type, block_bytes, n, rows, (const uint8_t *)weights + (size_t)(r0 + MATVEC_ROWS) * row_bytes,
                   acts, sums);
        for (r = 0; r < n_group; r++)
            out[r0 + r] = sums[r];
    }
}

static void q3k_dot_tile_avx512(int64_t n, const void *weights, size_t row_bytes, int n_rows, const void *acts,
                                size_t act_stride, int n_tokens, float *out, size_t out_stride)
{
    if (n_tokens == 1) {
        dot_rows_one_token(LLM_TYPE_Q3_K, sizeof(block_q3k), n, weights, row_bytes, n_rows, acts, out);
        return;
    }
    dot_tile_rows(q3k_unpack_block, sizeof(block_q3k), 0, n, weights, row_bytes, n_rows, acts, act_stride, n_tokens,
                  out, out_stride);
}

static void q4k_dot_tile_avx512(int64_t n, const void *weights, size_t row_bytes, int n_rows, const void *acts,
                                size_t act_stride, int n_tokens, float *out, size_t out_stride)
{
    if (n_tokens == 1) {
        dot_rows_one_token(LLM_TYPE_Q4_K, sizeof(block_q4k), n, weights, row_bytes, n_rows, acts, out);
        return;
    }
    dot_tile_rows(q4k_unpack_block, sizeof(block_q4k), 1, n, weights, row_bytes, n_rows, acts, act_stride, n_tokens,
                  out, out_stride);
}

static void q5k_dot_tile_avx512(int64_t n, const void *weights, size_t row_bytes, int n_rows, const void *acts,
                                size_t act_stride, int n_tokens, float *out, size_t out_stride)
{
    if (n_tokens == 1) {
        dot_rows_one_token(LLM_TYPE_Q5_K, sizeof(block_q5k), n, weights, row_bytes, n_rows, acts, out);
        return;
    }
    dot_tile_rows(q5k_unpack_block, sizeof(block_q5k), 1, n, weights, row_bytes, n_rows, acts, act_stride, n_tokens,
                  out, out_stride);
}

static void q6k_dot_tile_avx512(int64_t n, const void *weights, size_t row_bytes, int n_rows, const void *acts,
                                size_t act_stride, int n_tokens, float *out, size_t out_stride)
{
    if (n_tokens == 1) {
        dot_rows_one_token(LLM_TYPE_Q6_K, sizeof(block_q6k), n, weights, row_bytes, n_rows, acts, out);
        return;
    }
    dot_tile_rows(q6k_unpack_block, sizeof(block_q6k), 0, n, weights, row_bytes, n_rows, acts, act_stride, n_tokens,
                  out, out_stride);
}

/* ------------------------------------------------------------------- F16 */

/*
 * F16 x F16, as in quant_avx2.c: each product of two halves is exact in
 * float, and the products are summed in double, here in 16 lanes. Attention
 * runs its q·k and weighted-sum products through this entry.
 */
static float f16_dot_f16_avx512(int64_t n, const void *weights, const void *acts)
{
    const uint16_t *w = weights, *x = acts;
    __m512d acc_lo = _mm512_setzero_pd(), acc_hi = _mm512_setzero_pd();
    double sum;
    int64_t i;

    for (i = 0; i + 16 <= n; i += 16) {
        __m512 products = _mm512_mul_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(w + i))),
                                        _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(x + i))));
        __m256 high = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(products), 1));

        acc_lo = _mm512_add_pd(acc_lo, _mm512_cvtps_pd(_mm512_castps512_ps256(products)));
        acc_hi = _mm512_add_pd(acc_hi, _mm512_cvtps_pd(high));
    }
    sum = _mm512_reduce_add_pd(_mm512_add_pd(acc_lo, acc_hi));
    for (; i < n; i++)
        sum += (double)(half_to_float(w[i]) * half_to_float(x[i]));
    return (float)sum;
}

/* --------------------------------------------- entries left to the AVX2 table */

#define FORWARD_DEQUANTIZE(name, type)                              \
    static void name(const void *src, float *dst, int64_t n)       \
    {                                                               \
        llm_kernels_avx2.dequantize[type](src, dst, n);            \
    }
#define FORWARD_QUANTIZE(name, type)                                \
    static void name(const float *src, void *dst, int64_t n)       \
    {                                                               \
        llm_kernels_avx2.quantize[type](src, dst, n);              \
    }
#define FORWARD_DOT(name, type)                                     \
    static float name(int64_t n, const void *weights, const void *acts) \
    {                                                               \
        return llm_kernels_avx2.dot[type](n, weights, acts);        \
    }

FORWARD_DEQUANTIZE(f32_dequantize_avx2, LLM_TYPE_F32)
FORWARD_DEQUANTIZE(f16_dequantize_avx2, LLM_TYPE_F16)
FORWARD_DEQUANTIZE(bf16_dequantize_avx2, LLM_TYPE_BF16)
FORWARD_DEQUANTIZE(q4_0_dequantize_avx2, LLM_TYPE_Q4_0)
FORWARD_DEQUANTIZE(q4_1_dequantize_avx2, LLM_TYPE_Q4_1)
FORWARD_DEQUANTIZE(q5_0_dequantize_avx2, LLM_TYPE_Q5_0)
FORWARD_DEQUANTIZE(q5_1_dequantize_avx2, LLM_TYPE_Q5_1)
FORWARD_DEQUANTIZE(q8_0_dequantize_avx2, LLM_TYPE_Q8_0)
FORWARD_DEQUANTIZE(q2k_dequantize_avx2, LLM_TYPE_Q2_K)
FORWARD_DEQUANTIZE(q3k_dequantize_avx2, LLM_TYPE_Q3_K)
FORWARD_DEQUANTIZE(q4k_dequantize_avx2, LLM_TYPE_Q4_K)
FORWARD_DEQUANTIZE(q5k_dequantize_avx2, LLM_TYPE_Q5_K)
FORWARD_DEQUANTIZE(q6k_dequantize_avx2, LLM_TYPE_Q6_K)
FORWARD_DEQUANTIZE(iq4nl_dequantize_avx2, LLM_TYPE_IQ4_NL)
FORWARD_QUANTIZE(f32_copy_avx2, LLM_TYPE_F32)
FORWARD_QUANTIZE(f16_quantize_avx2, LLM_TYPE_F16)
FORWARD_QUANTIZE(bf16_quantize_avx2, LLM_TYPE_BF16)
FORWARD_QUANTIZE(q8_0_quantize_avx2, LLM_TYPE_Q8_0)
FORWARD_QUANTIZE(q8_1_quantize_avx2, LLM_TYPE_Q8_1)
FORWARD_QUANTIZE(q8k_quantize_avx2, LLM_TYPE_Q8_K)
FORWARD_DOT(f32_dot_f32_avx2, LLM_TYPE_F32)
FORWARD_DOT(bf16_dot_bf16_avx2, LLM_TYPE_BF16)
FORWARD_DOT(q4_0_dot_q8_0_avx2, LLM_TYPE_Q4_0)
FORWARD_DOT(q4_1_dot_q8_1_avx2, LLM_TYPE_Q4_1)
FORWARD_DOT(q5_0_dot_q8_0_avx2, LLM_TYPE_Q5_0)
FORWARD_DOT(q5_1_dot_q8_1_avx2, LLM_TYPE_Q5_1)
FORWARD_DOT(q8_0_dot_q8_0_avx2, LLM_TYPE_Q8_0)
FORWARD_DOT(q2k_dot_q8k_avx2, LLM_TYPE_Q2_K)
FORWARD_DOT(q3k_dot_q8k_avx2, LLM_TYPE_Q3_K)
FORWARD_DOT(q4k_dot_q8k_avx2, LLM_TYPE_Q4_K)
FORWARD_DOT(iq4nl_dot_q8_0_avx2, LLM_TYPE_IQ4_NL)

/* ---------------------------------------------------------------- table */

const llm_kernels llm_kernels_avx512 = {
    "avx512",
    {
        [LLM_TYPE_F32] = f32_dequantize_avx2,
        [LLM_TYPE_F16] = f16_dequantize_avx2,
        [LLM_TYPE_BF16] = bf16_dequantize_avx2,
        [LLM_TYPE_Q4_0] = q4_0_dequantize_avx2,
        [LLM_TYPE_Q4_1] = q4_1_dequantize_avx2,
        [LLM_TYPE_Q5_0] = q5_0_dequantize_avx2,
        [LLM_TYPE_Q5_1] = q5_1_dequantize_avx2,
        [LLM_TYPE_Q8_0] = q8_0_dequantize_avx2,
        [LLM_TYPE_Q2_K] = q2k_dequantize_avx2,
        [LLM_TYPE_Q3_K] = q3k_dequantize_avx2,
        [LLM_TYPE_Q4_K] = q4k_dequantize_avx2,
        [LLM_TYPE_Q5_K] = q5k_dequantize_avx2,
        [LLM_TYPE_Q6_K] = q6k_dequantize_avx2,
        [LLM_TYPE_IQ4_NL] = iq4nl_dequantize_avx2,
    },
    {
        [LLM_TYPE_F32] = f32_copy_avx2,
        [LLM_TYPE_F16] = f16_quantize_avx2,
        [LLM_TYPE_BF16] = bf16_quantize_avx2,
        [LLM_TYPE_Q8_0] = q8_0_quantize_avx2,
        [LLM_TYPE_Q8_1] = q8_1_quantize_avx2,
        [LLM_TYPE_Q8_K] = q8k_quantize_avx2,
    },
    {
        [LLM_TYPE_F32] = f32_dot_f32_avx2,
        [LLM_TYPE_F16] = f16_dot_f16_avx512,
        [LLM_TYPE_BF16] = bf16_dot_bf16_avx2,
        [LLM_TYPE_Q4_0] = q4_0_dot_q8_0_avx2,
        [LLM_TYPE_Q4_1] = q4_1_dot_q8_1_avx2,
        [LLM_TYPE_Q5_0] = q5_0_dot_q8_0_avx2,
        [LLM_TYPE_Q5_1] = q5_1_dot_q8_1_avx2,
        [LLM_TYPE_Q8_0] = q8_0_dot_q8_0_avx2,
        [LLM_TYPE_Q2_K] = q2k_dot_q8k_avx2,
        [LLM_TYPE_Q3_K] = q3k_dot_q8k_avx2,
        [LLM_TYPE_Q4_K] = q4k_dot_q8k_avx2,
        [LLM_TYPE_Q5_K] = q5k_dot_q8k_avx512,
        [LLM_TYPE_Q6_K] = q6k_dot_q8k_avx512,
        [LLM_TYPE_IQ4_NL] = iq4nl_dot_q8_0_avx2,
    },
    {
        [LLM_TYPE_Q3_K] = q3k_dot_tile_avx512,
        [LLM_TYPE_Q4_K] = q4k_dot_tile_avx512,
        [LLM_TYPE_Q5_K] = q5k_dot_tile_avx512,
        [LLM_TYPE_Q6_K] = q6k_dot_tile_avx512,
    },
};
