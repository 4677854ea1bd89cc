/*
 * quant_blocks.h - the byte layout of every packed block type, shared by
 * quant_ref.c and the SIMD kernels.
 *
 * Each struct has the size and field order of ggml's block of the same type
 * (ggml-common.h), because weights are used in place, straight from the GGUF
 * file. d, dmin and m fields are IEEE half floats kept as raw uint16_t. Every
 * formula below gives weight i of the block; "sub-block" is the group of
 * elements that shares one scale.
 *
 * LIMIT: multi-byte fields are little-endian in GGUF and are read as native
 * integers here, so a big-endian host would decode garbage. Every target of
 * this project (x86-64, arm64, wasm32) is little-endian.
 */
#ifndef PINFER_QUANT_BLOCKS_H
#define PINFER_QUANT_BLOCKS_H

#include <stdint.h>

#include "quant.h"

/* Fails to compile when a struct's size differs from the GGUF block size. */
#define LLM_CHECK_BLOCK_SIZE(type, bytes) \
    typedef char type##_has_wrong_size[(sizeof(type) == (bytes)) ? 1 : -1]

#define QK4_0 32
#define QK4_1 32
#define QK5_0 32
#define QK5_1 32
#define QK8_0 32
#define QK8_1 32
#define QK4_NL 32

/*
 * Q4_0: w[i] = d * (q[i] - 8), q in 0..15.
 * qs[j] stores q[j] in its low nibble and q[j + 16] in its high nibble.
 * 18 bytes per 32 weights = 4.5 bits per weight.
 */
typedef struct {
    uint16_t d;
    uint8_t qs[QK4_0 / 2];
} block_q4_0;
LLM_CHECK_BLOCK_SIZE(block_q4_0, 18);

/*
 * Q4_1: w[i] = d * q[i] + m, q in 0..15. Nibbles as in Q4_0.
 * 20 bytes per 32 weights = 5 bits per weight.
 */
typedef struct {
    uint16_t d;
    uint16_t m;
    uint8_t qs[QK4_1 / 2];
} block_q4_1;
LLM_CHECK_BLOCK_SIZE(block_q4_1, 20);

/*
 * Q5_0: w[i] = d * (q[i] - 16), q in 0..31.
 * Low 4 bits as the nibbles of Q4_0; bit 4 of q[i] is bit i of the
 * little-endian 32-bit word qh.
 * 22 bytes per 32 weights = 5.5 bits per weight.
 */
typedef struct {
    uint16_t d;
    uint8_t qh[4];
    uint8_t qs[QK5_0 / 2];
} block_q5_0;
LLM_CHECK_BLOCK_SIZE(block_q5_0, 22);

/*
 * Q5_1: w[i] = d * q[i] + m, q in 0..31. Bits as in Q5_0.
 * 24 bytes per 32 weights = 6 bits per weight.
 */
typedef struct {
    uint16_t d;
    uint16_t m;
    uint8_t qh[4];
    uint8_t qs[QK5_1 / 2];
} block_q5_1;
LLM_CHECK_BLOCK_SIZE(block_q5_1, 24);

/*
 * Q8_0: w[i] = d * qs[i], qs in -128..127 (the quantizer writes -127..127).
 * 34 bytes per 32 weights = 8.5 bits per weight. Also the activation type
 * for Q4_0, Q5_0, Q8_0 and IQ4_NL weights.
 */
typedef struct {
    uint16_t d;
    int8_t qs[QK8_0];
} block_q8_0;
LLM_CHECK_BLOCK_SIZE(block_q8_0, 34);

/*
 * Q8_1: Q8_0 plus s = d * sum(qs), rounded to half, so that the offset term
 * m * sum(x) of a Q4_1 or Q5_1 dot product costs one multiply per block.
 * 36 bytes per 32 values. Activations only.
 */
typedef struct {
    uint16_t d;
    uint16_t s;
    int8_t qs[QK8_1];
} block_q8_1;
LLM_CHECK_BLOCK_SIZE(block_q8_1, 36);

/*
 * IQ4_NL: w[i] = d * llm_iq4nl_values[q[i]], q in 0..15; nibbles as in Q4_0.
 * The 16 levels are spaced non-uniformly, denser near zero.
 * 18 bytes per 32 weights = 4.5 bits per weight.
 */
typedef struct {
    uint16_t d;
    uint8_t qs[QK4_NL / 2];
} block_iq4nl;
LLM_CHECK_BLOCK_SIZE(block_iq4nl, 18);

extern const int8_t llm_iq4nl_values[16];

/*
 * K-quants: a super-block of QK_K = 256 weights in 16 sub-blocks of 16 (Q2_K,
 * Q3_K, Q6_K) or 8 sub-blocks of 32 (Q4_K, Q5_K). The sub-block scales are
 * small integers, themselves scaled by the half float d.
 *
 * 2- and 3-bit quants are spread over bit planes: qs[l + 32*h] stores, at bits
 * 2k..2k+1, the quant of element 128*h + 32*k + l (h in 0..1, k in 0..3, l in
 * 0..31).
 */

/*
 * Q2_K: w[i] = d * sc[s] * q[i] - dmin * mn[s], q in 0..3, s = i / 16.
 * scales[s] stores sc[s] in its low nibble and mn[s] in its high nibble.
 * 84 bytes per 256 weights = 2.625 bits per weight.
 */
typedef struct {
    uint8_t scales[QK_K / 16];
    uint8_t qs[QK_K / 4];
    uint16_t d;
    uint16_t dmin;
} block_q2k;
LLM_CHECK_BLOCK_SIZE(block_q2k, 84);

/*
 * Q3_K: w[i] = d * sc[s] * q[i], q in -4..3, s = i / 16, sc in -32..31.
 * q = (2 low bits from qs) - (bit (i / 32) of hmask[i % 32] ? 0 : 4).
 * The 16 six-bit scales are packed into 12 bytes (q3k_unpack_scales).
 * 110 bytes per 256 weights = 3.4375 bits per weight.
 */
typedef struct {
    uint8_t hmask[QK_K / 8];
    uint8_t qs[QK_K / 4];
    uint8_t scales[12];
    uint16_t d;
} block_q3k;
LLM_CHECK_BLOCK_SIZE(block_q3k, 110);

/*
 * Q4_K: w[i] = d * sc[s] * q[i] - dmin * mn[s], q in 0..15, s = i / 32,
 * sc and mn six-bit unsigned, packed into 12 bytes (q4k_unpack_scales).
 * qs[l + 32*c] stores element 64*c + l in its low nibble and 64*c + 32 + l in
 * its high nibble (c in 0..3, l in 0..31).
 * 144 bytes per 256 weights = 4.5 bits per weight.
 */
typedef struct {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[12];
    uint8_t qs[QK_K / 2];
} block_q4k;
LLM_CHECK_BLOCK_SIZE(block_q4k, 144);

/*
 * Q5_K: Q4_K with q in 0..31; bit 4 of q[i] is bit (i / 32) of qh[i % 32].
 * 176 bytes per 256 weights = 5.5 bits per weight.
 */
typedef struct {
    uint16_t d;
    uint16_t dmin;
    uint8_t scales[12];
    uint8_t qh[QK_K / 8];
    uint8_t qs[QK_K / 2];
} block_q5k;
LLM_CHECK_BLOCK_SIZE(block_q5k, 176);

/*
 * Q6_K: w[i] = d * scales[s] * (q[i] - 32), q in 0..63, s = i / 16, scales
 * signed 8-bit. For element 128*h + 32*k + l (h in 0..1, k in 0..3, l in
 * 0..31): the low 4 bits are the low nibble (k = 0, 1) or high nibble
 * (k = 2, 3) of ql[64*h + 32*(k % 2) + l]; the high 2 bits are bits 2k..2k+1
 * of qh[32*h + l].
 * 210 bytes per 256 weights = 6.5625 bits per weight.
 */
typedef struct {
    uint8_t ql[QK_K / 2];
    uint8_t qh[QK_K / 4];
    int8_t scales[QK_K / 16];
    uint16_t d;
} block_q6k;
LLM_CHECK_BLOCK_SIZE(block_q6k, 210);

/*
 * Q8_K: x[i] = d * qs[i], with d a float; activations only. bsums[g] is the
 * sum of qs[16g .. 16g + 15], which turns the "- dmin * mn[s]" term of Q2_K,
 * Q4_K and Q5_K into a few multiplies per super-block.
 * 292 bytes per 256 values.
 */
typedef struct {
    float d;
    int8_t qs[QK_K];
    int16_t bsums[QK_K / 16];
} block_q8k;
LLM_CHECK_BLOCK_SIZE(block_q8k, 292);

/*
 * Unpacks the 16 scales of a Q3_K block, each 6 bits stored with a bias of
 * 32, into sc[0..15] in -32..31:
 *
 *   byte      7 6 5 4 3 2 1 0
 *   0..7     [ sc[j+8] lo  ][  sc[j] lo   ]     j = byte, low 4 bits each
 *   8..11    [sc12+k][sc8+k][sc4+k][sc0+k]      k = byte - 8, high 2 bits each
 */
static inline void q3k_unpack_scales(const uint8_t packed[12], int8_t sc[16])
{
    int j;

    for (j = 0; j < 16; j++) {
        int low = j < 8 ? packed[j] & 0x0F : packed[j - 8] >> 4;
        int high = (packed[8 + j % 4] >> (2 * (j / 4))) & 3;
        sc[j] = (int8_t)((low | (high << 4)) - 32);
    }
}

/*
 * Unpacks the 8 scales and 8 mins of a Q4_K or Q5_K block, 6 bits each, into
 * sc[0..7] and mn[0..7]:
 *
 *   byte      7 6 5 4 3 2 1 0
 *   0..3     [sc4+j hi][   sc[j]     ]      j = byte
 *   4..7     [mn4+j hi][   mn[j]     ]      j = byte - 4
 *   8..11    [ mn4+j lo ][ sc4+j lo  ]      j = byte - 8
 */
static inline void q4k_unpack_scales(const uint8_t packed[12], uint8_t sc[8], uint8_t mn[8])
{
    int j;

    for (j = 0; j < 4; j++) {
        sc[j] = packed[j] & 0x3F;
        mn[j] = packed[j + 4] & 0x3F;
        sc[j + 4] = (uint8_t)((packed[j + 8] & 0x0F) | ((packed[j] >> 6) << 4));
        mn[j + 4] = (uint8_t)((packed[j + 8] >> 4) | ((packed[j + 4] >> 6) << 4));
    }
}

#endif
