/*
 * test_quant.c - the type table, half-float conversions, activation
 * quantizers, dequantizers and dot products of the scalar kernel table.
 *
 * Dequantization is compared bit for bit with what llama.cpp decoded from
 * the same tensors. Dot products are compared with a double-precision
 * reference on fixed-seed random blocks, with bounds derived below.
 */
#include "check.h"
#include "error.h"
#include "gguf.h"
#include "quant.h"
#include "quant_blocks.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------- random data */

static uint64_t rng_state;

static void rng_seed(uint64_t seed)
{
    rng_state = seed ? seed : 1;
}

/* xorshift64*: fast, deterministic, good enough for test data. */
static uint32_t rng_u32(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545F4914F6CDD1DULL) >> 32);
}

/* Uniform in [0, 1). */
static double rng_uniform(void)
{
    return rng_u32() / 4294967296.0;
}

/* Approximately normal with mean 0 and variance 1 (sum of 12 uniforms). */
static float rng_normal(void)
{
    double sum = 0.0;
    int i;

    for (i = 0; i < 12; i++)
        sum += rng_uniform();
    return (float)(sum - 6.0);
}

static uint32_t float_bits(float f)
{
    uint32_t bits;

    memcpy(&bits, &f, sizeof bits);
    return bits;
}

static float bits_float(uint32_t bits)
{
    float f;

    memcpy(&f, &bits, sizeof f);
    return f;
}

/* ----------------------------------------------------------- type table */

static const uint32_t readable_types[] = {
    LLM_TYPE_F32,  LLM_TYPE_F16,  LLM_TYPE_Q4_0, LLM_TYPE_Q4_1, LLM_TYPE_Q5_0, LLM_TYPE_Q5_1,   LLM_TYPE_Q8_0,
    LLM_TYPE_Q2_K, LLM_TYPE_Q3_K, LLM_TYPE_Q4_K, LLM_TYPE_Q5_K, LLM_TYPE_Q6_K, LLM_TYPE_IQ4_NL, LLM_TYPE_BF16,
};
#define N_READABLE (sizeof readable_types / sizeof readable_types[0])

/*
 * Block geometry from ggml's type traits. Dot types are those of llama.cpp's
 * CPU backend.
 */
static const struct {
    uint32_t type;
    const char *name;
    int block_size, type_size, readable;
    uint32_t dot_type;
} expected_types[] = {
    {LLM_TYPE_F32, "F32", 1, 4, 1, LLM_TYPE_F32},
    {LLM_TYPE_F16, "F16", 1, 2, 1, LLM_TYPE_F16},
    {LLM_TYPE_Q4_0, "Q4_0", 32, 18, 1, LLM_TYPE_Q8_0},
    {LLM_TYPE_Q4_1, "Q4_1", 32, 20, 1, LLM_TYPE_Q8_1},
    {LLM_TYPE_Q5_0, "Q5_0", 32, 22, 1, LLM_TYPE_Q8_0},
    {LLM_TYPE_Q5_1, "Q5_1", 32, 24, 1, LLM_TYPE_Q8_1},
    {LLM_TYPE_Q8_0, "Q8_0", 32, 34, 1, LLM_TYPE_Q8_0},
    {LLM_TYPE_Q8_1, "Q8_1", 32, 36, 0, 0},
    {LLM_TYPE_Q2_K, "Q2_K", 256, 84, 1, LLM_TYPE_Q8_K},
    {LLM_TYPE_Q3_K, "Q3_K", 256, 110, 1, LLM_TYPE_Q8_K},
    {LLM_TYPE_Q4_K, "Q4_K", 256, 144, 1, LLM_TYPE_Q8_K},
    {LLM_TYPE_Q5_K, "Q5_K", 256, 176, 1, LLM_TYPE_Q8_K},
    {LLM_TYPE_Q6_K, "Q6_K", 256, 210, 1, LLM_TYPE_Q8_K},
    {LLM_TYPE_Q8_K, "Q8_K", 256, 292, 0, 0},
    {LLM_TYPE_IQ4_NL, "IQ4_NL", 32, 18, 1, LLM_TYPE_Q8_0},
    {LLM_TYPE_BF16, "BF16", 1, 2, 1, LLM_TYPE_BF16},
};

static void test_type_table(void)
{
    static const struct {
        uint32_t type;
        const char *name;
    } unreadable[] = {
        {4, "Q4_2"}, {17, "IQ2_XS"}, {23, "IQ4_XS"}, {28, "F64"}, {29, "IQ1_M"}, {34, "TQ1_0"}, {39, "MXFP4"},
    };
    static const struct {
        uint32_t type;
        const char *name;
    } unknown[] = {{40, "type 40"}, {99, "type 99"}, {0xFFFFFFFFu, "type 4294967295"}};
    static const struct {
        uint32_t type;
        int64_t n;
        size_t bytes;
    } rows[] = {
        {LLM_TYPE_F32, 3, 12},         {LLM_TYPE_BF16, 7, 14},     {LLM_TYPE_Q4_0, 64, 36},
        {LLM_TYPE_Q4_0, 33, 0},        {LLM_TYPE_Q3_K, 4096, 1760}, {LLM_TYPE_Q3_K, 255, 0},
        {LLM_TYPE_Q8_K, 512, 584},     {LLM_TYPE_Q8_0, -32, 0},     {99, 32, 0},
        {LLM_TYPE_Q6_K, 0, 0},
    };
    char expected_list[256] = "", name[64];
    size_t i, j;

    for (i = 0; i < sizeof expected_types / sizeof expected_types[0]; i++) {
        const llm_type_info *info = llm_type_get(expected_types[i].type);
        snprintf(name, sizeof name, "type table %s", expected_types[i].name);
        if (!info) {
            check(0, name, "llm_type_get(%u) returned NULL", (unsigned)expected_types[i].type);
            continue;
        }
        check(strcmp(info->name, expected_types[i].name) == 0 && info->block_size == expected_types[i].block_size &&
                  info->type_size == expected_types[i].type_size && info->readable == expected_types[i].readable &&
                  info->dot_type == expected_types[i].dot_type &&
                  strcmp(llm_type_name(expected_types[i].type), expected_types[i].name) == 0,
              name, "name %s, block %d (expected %d), bytes %d (expected %d), readable %d (expected %d), dot %s (expected %s)",
              info->name, info->block_size, expected_types[i].block_size, info->type_size, expected_types[i].type_size,
              info->readable, expected_types[i].readable, info->readable ? llm_type_name(info->dot_type) : "none",
              expected_types[i].readable ? llm_type_name(expected_types[i].dot_type) : "none");
    }

    for (i = 0; i < sizeof unreadable / sizeof unreadable[0]; i++) {
        snprintf(name, sizeof name, "type name %s", unreadable[i].name);
        check(llm_type_get(unreadable[i].type) == NULL && strcmp(llm_type_name(unreadable[i].type), unreadable[i].name) == 0,
              name, "id %u: llm_type_get %s NULL, name \"%s\" (expected \"%s\")", (unsigned)unreadable[i].type,
              llm_type_get(unreadable[i].type) ? "is not" : "is", llm_type_name(unreadable[i].type), unreadable[i].name);
    }
    for (i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        snprintf(name, sizeof name, "type name unknown %lu", (unsigned long)unknown[i].type);
        check(llm_type_get(unknown[i].type) == NULL && strcmp(llm_type_name(unknown[i].type), unknown[i].name) == 0,
              name, "llm_type_get %s NULL, name \"%s\" (expected \"%s\")", llm_type_get(unknown[i].type) ? "is not" : "is",
              llm_type_name(unknown[i].type), unknown[i].name);
    }

    for (i = 0; i < N_READABLE; i++) {
        if (i > 0)
            strcat(expected_list, ", ");
        strcat(expected_list, llm_type_name(readable_types[i]));
    }
    check(strcmp(llm_type_supported_list(), expected_list) == 0, "type supported list", "\"%s\" (expected \"%s\")",
          llm_type_supported_list(), expected_list);

    for (i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        size_t got = llm_row_bytes(rows[i].type, rows[i].n);
        snprintf(name, sizeof name, "row bytes %s n=%lld", llm_type_name(rows[i].type), (long long)rows[i].n);
        check(got == rows[i].bytes, name, "%lu bytes (expected %lu)", (unsigned long)got, (unsigned long)rows[i].bytes);
    }

    check(strcmp(llm_kernels_scalar.name, "scalar") == 0, "kernels scalar name", "\"%s\"", llm_kernels_scalar.name);
    for (i = 0; i < N_READABLE; i++) {
        uint32_t t = readable_types[i];
        uint32_t dot_type = llm_type_get(t)->dot_type;
        snprintf(name, sizeof name, "kernels scalar %s", llm_type_name(t));
        check(llm_kernels_scalar.dequantize[t] && llm_kernels_scalar.dot[t] && llm_kernels_scalar.quantize[dot_type], name,
              "dequantize %s, dot %s, quantize to %s %s", llm_kernels_scalar.dequantize[t] ? "set" : "missing",
              llm_kernels_scalar.dot[t] ? "set" : "missing", llm_type_name(dot_type),
              llm_kernels_scalar.quantize[dot_type] ? "set" : "missing");
    }
    /* a type is readable exactly when it has a dequantizer */
    for (j = 0; j < LLM_TYPE_COUNT; j++) {
        const llm_type_info *info = llm_type_get((uint32_t)j);
        int readable = info && info->readable;
        if (readable != (llm_kernels_scalar.dequantize[j] != NULL)) {
            check(0, "kernels scalar readable", "type %s: readable %d but dequantize %s", llm_type_name((uint32_t)j),
                  readable, llm_kernels_scalar.dequantize[j] ? "set" : "missing");
            return;
        }
    }
    check(1, "kernels scalar readable", "every type with a dequantizer is readable, and only those");
}

/* --------------------------------------------------------- half floats */

static void test_f16_to_f32(void)
{
    static const struct {
        uint16_t h;
        float f;
    } cases[] = {
        {0x0000, 0.0f},
        {0x3C00, 1.0f},
        {0xC000, -2.0f},
        {0x3555, 0.333251953125f},
        {0x0001, 5.9604644775390625e-8f}, /* smallest subnormal, 2^-24 */
        {0x03FF, 6.0975551605224609e-5f}, /* largest subnormal, 1023 * 2^-24 */
        {0x0400, 6.103515625e-5f},        /* smallest normal, 2^-14 */
        {0x8001, -5.9604644775390625e-8f},
        {0x7BFF, 65504.0f},
        {0xFBFF, -65504.0f},
    };
    char name[64];
    size_t i;
    float f;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        f = llm_f16_to_f32(cases[i].h);
        snprintf(name, sizeof name, "f16 to f32 0x%04x", cases[i].h);
        check(float_bits(f) == float_bits(cases[i].f), name, "%.9g (expected %.9g)", f, cases[i].f);
    }
    f = llm_f16_to_f32(0x8000);
    check(f == 0.0f && signbit(f), "f16 to f32 negative zero", "%g, sign bit %d", f, signbit(f) != 0);
    f = llm_f16_to_f32(0x7C00);
    check(isinf(f) && f > 0, "f16 to f32 infinity", "%g", f);
    f = llm_f16_to_f32(0xFC00);
    check(isinf(f) && f < 0, "f16 to f32 negative infinity", "%g", f);
    f = llm_f16_to_f32(0x7E00);
    check(isnan(f), "f16 to f32 quiet NaN", "%g", f);
    f = llm_f16_to_f32(0x7C01);
    check(isnan(f), "f16 to f32 signaling NaN", "%g", f);
}

static void test_f32_to_f16(void)
{
    static const struct {
        float f;
        uint16_t h;
        const char *what;
    } cases[] = {
        {1.0f, 0x3C00, "one"},
        {-2.0f, 0xC000, "minus two"},
        {65504.0f, 0x7BFF, "largest half"},
        {65519.99609375f, 0x7BFF, "below the overflow tie"},
        {65520.0f, 0x7C00, "overflow tie"},
        {1e6f, 0x7C00, "overflow"},
        {-1e6f, 0xFC00, "negative overflow"},
        {1.00048828125f, 0x3C00, "tie 1 + 2^-11"},
        {1.00146484375f, 0x3C02, "tie 1 + 3 * 2^-11"},
        {1.00048840046f, 0x3C01, "above a tie"},
        {6.103515625e-5f, 0x0400, "smallest normal"},
        {6.0975551605224609e-5f, 0x03FF, "largest subnormal"},
        {6.1005353927612305e-5f, 0x0400, "subnormal to normal tie"},
        {5.9604644775390625e-8f, 0x0001, "smallest subnormal"},
        {2.98023223876953125e-8f, 0x0000, "tie 2^-25 to zero"},
        {2.98023259404089e-8f, 0x0001, "above 2^-25"},
        {8.94069671630859375e-8f, 0x0002, "tie 1.5 * 2^-24"},
        {1.4901161193847656e-8f, 0x0000, "2^-26"},
        {1e-40f, 0x0000, "float subnormal"},
        {-1e-40f, 0x8000, "negative float subnormal"},
        {-0.0f, 0x8000, "negative zero"},
    };
    char name[96];
    size_t i;
    uint16_t h;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        h = llm_f32_to_f16(cases[i].f);
        snprintf(name, sizeof name, "f32 to f16 %s", cases[i].what);
        check(h == cases[i].h, name, "%.9g -> 0x%04x (expected 0x%04x)", cases[i].f, h, cases[i].h);
    }
    h = llm_f32_to_f16(bits_float(0x7F800000));
    check(h == 0x7C00, "f32 to f16 infinity", "0x%04x (expected 0x7c00)", h);
    h = llm_f32_to_f16(bits_float(0xFF800000));
    check(h == 0xFC00, "f32 to f16 negative infinity", "0x%04x (expected 0xfc00)", h);
    h = llm_f32_to_f16(bits_float(0x7FC00000));
    check((h & 0x7C00) == 0x7C00 && (h & 0x03FF) != 0, "f32 to f16 NaN", "0x%04x (expected exponent 31, mantissa not 0)", h);
    h = llm_f32_to_f16(bits_float(0xFF800001));
    check((h & 0xFC00) == 0xFC00 && (h & 0x03FF) != 0, "f32 to f16 negative NaN",
          "0x%04x (expected sign 1, exponent 31, mantissa not 0)", h);
}

/* Every half that is not NaN converts to float and back to itself. */
static void test_f16_round_trip(void)
{
    uint32_t h, n_bad = 0, first_bad = 0;

    for (h = 0; h < 0x10000; h++) {
        uint16_t back = llm_f32_to_f16(llm_f16_to_f32((uint16_t)h));
        int is_nan = (h & 0x7C00) == 0x7C00 && (h & 0x03FF) != 0;
        if (is_nan ? (back & 0x7C00) != 0x7C00 || (back & 0x03FF) == 0 || (back & 0x8000) != (h & 0x8000) : back != h) {
            if (n_bad++ == 0)
                first_bad = h;
        }
    }
    check(n_bad == 0, "f16 round trip all 65536", "%lu halves changed (first 0x%04lx)", (unsigned long)n_bad,
          (unsigned long)first_bad);
}

/*
 * Random floats in the half range against a definition of round to nearest
 * even: no neighbouring half is closer, and on a tie the result is even.
 */
static void test_f32_to_f16_random(void)
{
    const int n_cases = 200000;
    int i, n_bad = 0;
    float first_bad = 0.0f;

    rng_seed(16);
    for (i = 0; i < n_cases; i++) {
        /* exponents 2^-27 .. 2^15, mantissa and sign random */
        uint32_t exponent = 100 + rng_u32() % 43;
        float f = bits_float((rng_u32() & 0x807FFFFF) | (exponent << 23));
        uint16_t h = llm_f32_to_f16(f);
        uint16_t magnitude = h & 0x7FFF;
        double target = fabs((double)f);
        double err = fabs(llm_f16_to_f32(magnitude) - target);
        int ok = (h & 0x8000) == (float_bits(f) >> 16 & 0x8000);
        if (target >= 65520.0) /* nearer to 2^16 than to 65504, so it overflows */
            ok = ok && magnitude == 0x7C00;
        else
            ok = ok && magnitude < 0x7C00;
        if (ok && magnitude > 0 && magnitude < 0x7C00) {
            double err_below = fabs(llm_f16_to_f32((uint16_t)(magnitude - 1)) - target);
            ok = err < err_below || (err == err_below && (magnitude & 1) == 0);
        }
        if (ok && magnitude < 0x7BFF) {
            double err_above = fabs(llm_f16_to_f32((uint16_t)(magnitude + 1)) - target);
            ok = err < err_above || (err == err_above && (magnitude & 1) == 0);
        }
        if (!ok && n_bad++ == 0)
            first_bad = f;
    }
    check(n_bad == 0, "f32 to f16 random nearest even", "%d of %d not the nearest half (first %.9g)", n_bad, n_cases,
          first_bad);
}

static void test_bf16(void)
{
    static const struct {
        uint16_t h;
        uint32_t bits;
    } cases[] = {
        {0x3F80, 0x3F800000}, /* 1 */
        {0xC000, 0xC0000000}, /* -2 */
        {0x7F80, 0x7F800000}, /* infinity */
        {0x0001, 0x00010000}, /* a float subnormal */
        {0x8000, 0x80000000}, /* negative zero */
    };
    char name[64];
    size_t i;

    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        float f = llm_bf16_to_f32(cases[i].h);
        snprintf(name, sizeof name, "bf16 to f32 0x%04x", cases[i].h);
        check(float_bits(f) == cases[i].bits, name, "bits 0x%08lx (expected 0x%08lx)", (unsigned long)float_bits(f),
              (unsigned long)cases[i].bits);
    }
}

/* ------------------------------------------------ activation quantizers */

static void fill_activations(float *x, int64_t n)
{
    int64_t i;

    for (i = 0; i < n; i++) {
        x[i] = rng_normal();
        if (rng_u32() % 64 == 0) /* an outlier now and then, as in real activations */
            x[i] *= 8.0f;
    }
}

/*
 * Q8_0 then the Q8_0 dequantizer: the quantizer rounds x / d to the nearest
 * integer with the float d = max|x| / 127, so |x - q d| <= d / 2. The block
 * keeps d rounded to half, which moves q * d by up to 127 * |d - d_half|.
 */
static void test_q8_0_round_trip(int64_t n)
{
    const llm_kernels *k = &llm_kernels_scalar;
    float *x = malloc((size_t)n * sizeof *x), *y = malloc((size_t)n * sizeof *y);
    block_q8_0 *blocks = malloc(llm_row_bytes(LLM_TYPE_Q8_0, n));
    double worst = 0.0;
    int64_t ib;
    int j, n_bad_scales = 0;
    char name[64];

    fill_activations(x, n);
    k->quantize[LLM_TYPE_Q8_0](x, blocks, n);
    k->dequantize[LLM_TYPE_Q8_0](blocks, y, n);
    for (ib = 0; ib < n / QK8_0; ib++) {
        float amax = 0.0f, d, d_half;
        for (j = 0; j < QK8_0; j++)
            amax = fabsf(x[ib * QK8_0 + j]) > amax ? fabsf(x[ib * QK8_0 + j]) : amax;
        d = amax / 127.0f;
        d_half = llm_f16_to_f32(blocks[ib].d);
        n_bad_scales += blocks[ib].d != llm_f32_to_f16(d);
        for (j = 0; j < QK8_0; j++) {
            double bound = 0.5 * d + 127.0 * fabs((double)d - d_half);
            double err = fabs((double)x[ib * QK8_0 + j] - y[ib * QK8_0 + j]);
            if (err / bound > worst)
                worst = err / bound;
        }
    }
    snprintf(name, sizeof name, "Q8_0 scales n=%lld", (long long)n);
    check(n_bad_scales == 0, name, "%d of %lld blocks have d other than half(max|x| / 127)", n_bad_scales,
          (long long)(n / QK8_0));
    snprintf(name, sizeof name, "Q8_0 round trip n=%lld", (long long)n);
    check(worst <= 1.0 + 1e-5, name, "max error %.6f of the bound d/2 + 127 |d - d_half| (limit 1 + 1e-5)", worst);
    free(x);
    free(y);
    free(blocks);
}

/*
 * Q8_K: d = 1 / (-127 / max), kept as a float, so x - q d is within half a
 * step (|d| / 2); bsums are the group sums.
 */
static void test_q8k_round_trip(int64_t n)
{
    float *x = malloc((size_t)n * sizeof *x);
    block_q8k *blocks = malloc(llm_row_bytes(LLM_TYPE_Q8_K, n));
    double worst = 0.0;
    int64_t ib;
    int j, g, n_bad_sums = 0, n_bad_scales = 0;
    char name[64];

    fill_activations(x, n);
    llm_kernels_scalar.quantize[LLM_TYPE_Q8_K](x, blocks, n);
    for (ib = 0; ib < n / QK_K; ib++) {
        double half_step = fabs(blocks[ib].d) / 2.0;
        float max = 0.0f;
        for (j = 0; j < QK_K; j++)
            max = fabsf(x[ib * QK_K + j]) > fabsf(max) ? x[ib * QK_K + j] : max;
        n_bad_scales += blocks[ib].d != 1.0f / (-127.0f / max);
        for (j = 0; j < QK_K; j++) {
            double err = fabs((double)x[ib * QK_K + j] - (double)blocks[ib].qs[j] * blocks[ib].d);
            if (err / half_step > worst)
                worst = err / half_step;
        }
        for (g = 0; g < QK_K / 16; g++) {
            int sum = 0;
            for (j = 16 * g; j < 16 * g + 16; j++)
                sum += blocks[ib].qs[j];
            n_bad_sums += sum != blocks[ib].bsums[g];
        }
    }
    snprintf(name, sizeof name, "Q8_K scales n=%lld", (long long)n);
    check(n_bad_scales == 0, name, "%d of %lld blocks have d other than 1 / (-127 / max)", n_bad_scales,
          (long long)(n / QK_K));
    snprintf(name, sizeof name, "Q8_K round trip n=%lld", (long long)n);
    check(worst <= 1.0 + 1e-5, name, "max error %.6f half steps (limit 1 + 1e-5)", worst);
    snprintf(name, sizeof name, "Q8_K bsums n=%lld", (long long)n);
    check(n_bad_sums == 0, name, "%d of %lld group sums wrong", n_bad_sums, (long long)(n / 16));
    free(x);
    free(blocks);
}

/* Q8_1 has the quants and d of Q8_0, plus s = half(sum(q) * d) with the float d. */
static void test_q8_1_sum(void)
{
    enum { n = 256 };
    float x[n];
    block_q8_0 q8_0[n / QK8_0];
    block_q8_1 q8_1[n / QK8_1];
    int ib, j, n_bad = 0;

    fill_activations(x, n);
    llm_kernels_scalar.quantize[LLM_TYPE_Q8_0](x, q8_0, n);
    llm_kernels_scalar.quantize[LLM_TYPE_Q8_1](x, q8_1, n);
    for (ib = 0; ib < n / QK8_1; ib++) {
        float amax = 0.0f;
        int sum = 0;
        for (j = 0; j < QK8_1; j++) {
            amax = fabsf(x[ib * QK8_1 + j]) > amax ? fabsf(x[ib * QK8_1 + j]) : amax;
            sum += q8_1[ib].qs[j];
        }
        n_bad += q8_1[ib].d != q8_0[ib].d || memcmp(q8_1[ib].qs, q8_0[ib].qs, QK8_0) != 0 ||
                 q8_1[ib].s != llm_f32_to_f16(sum * (amax / 127.0f));
    }
    check(n_bad == 0, "Q8_1 quants and sum", "%d of %d blocks differ from Q8_0 or have a wrong s", n_bad, n / QK8_1);
}

/* Pins the rounding of ties: to even in both formats. */
static void test_activation_rounding(void)
{
    float x0[QK8_0] = {127.0f, 2.5f, -2.5f, 0.5f, 1.5f};
    float xk[QK_K] = {127.0f, 2.5f, 3.5f, 0.5f, -1.5f};
    float zeros[QK_K] = {0};
    block_q8_0 b0;
    block_q8k bk;
    int j, all_zero;

    /* The scale is 127 / 127 = 1, so the quants are x rounded, ties to even as llama.cpp's SIMD quantizers do */
    llm_kernels_scalar.quantize[LLM_TYPE_Q8_0](x0, &b0, QK8_0);
    check(b0.qs[0] == 127 && b0.qs[1] == 2 && b0.qs[2] == -2 && b0.qs[3] == 0 && b0.qs[4] == 2 && b0.d == 0x3C00,
          "Q8_0 ties to even", "127, 2.5, -2.5, 0.5, 1.5 -> %d %d %d %d %d, d 0x%04x (expected 127 2 -2 0 2, 0x3c00)",
          b0.qs[0], b0.qs[1], b0.qs[2], b0.qs[3], b0.qs[4], b0.d);

    /* max = 127 maps to -127, so d = -1 and q = round(-x) with ties to even */
    llm_kernels_scalar.quantize[LLM_TYPE_Q8_K](xk, &bk, QK_K);
    check(bk.qs[0] == -127 && bk.qs[1] == -2 && bk.qs[2] == -4 && bk.qs[3] == 0 && bk.qs[4] == 2 && bk.d == -1.0f,
          "Q8_K ties to even", "127, 2.5, 3.5, 0.5, -1.5 -> %d %d %d %d %d, d %g (expected -127 -2 -4 0 2, -1)", bk.qs[0],
          bk.qs[1], bk.qs[2], bk.qs[3], bk.qs[4], bk.d);

    xk[0] = -127.0f;
    llm_kernels_scalar.quantize[LLM_TYPE_Q8_K](xk, &bk, QK_K);
    check(bk.d == 1.0f && bk.qs[0] == -127, "Q8_K negative max", "d %g, q[0] %d (expected 1, -127)", bk.d, bk.qs[0]);

    llm_kernels_scalar.quantize[LLM_TYPE_Q8_0](zeros, &b0, QK8_0);
    all_zero = b0.d == 0;
    for (j = 0; j < QK8_0; j++)
        all_zero = all_zero && b0.qs[j] == 0;
    check(all_zero, "Q8_0 zero block", "d 0x%04x, expected d and every quant 0", b0.d);
    memset(&bk, 0x55, sizeof bk);
    llm_kernels_scalar.quantize[LLM_TYPE_Q8_K](zeros, &bk, QK_K);
    all_zero = bk.d == 0.0f;
    for (j = 0; j < QK_K; j++)
        all_zero = all_zero && bk.qs[j] == 0;
    for (j = 0; j < QK_K / 16; j++)
        all_zero = all_zero && bk.bsums[j] == 0;
    check(all_zero, "Q8_K zero block", "d %g, expected d, every quant and every sum 0", bk.d);
}

/* ------------------------------------------------------- dequantization */

/* Types of the tensors compared so far, by type id. */
struct dequant_stats {
    int seen[LLM_TYPE_COUNT];
};

/*
 * Compares one reference file with our dequantization of the same tensor.
 * Exact equality is expected: each weight is one or two float operations on
 * exactly representable operands, done in ggml's order (quant_ref.c), and
 * IEEE binary32 arithmetic with FLT_EVAL_METHOD 0 (x86-64, arm64, wasm)
 * gives the same result on every machine.
 */
static void check_dequant_file(const char *path, void *ctx)
{
    struct dequant_stats *stats = ctx;
    const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
    const char *dot = strchr(base, '.');
    char model[128], tensor[128], model_path[4096], name[300];
    size_t model_bytes = 0, ref_bytes = 0, tensor_len;
    void *model_data = NULL;
    float *ref = NULL, *got = NULL;
    gguf_file f;
    llm_error err;
    const gguf_tensor *t;
    uint64_t n_elements = 1, i, n_differ = 0;
    double max_diff = 0.0;
    int d;

    tensor_len = dot ? strlen(dot + 1) - strlen(".f32") : 0;
    if (!dot || (size_t)(dot - base) >= sizeof model || tensor_len >= sizeof tensor) {
        check(0, "dequant file name", "%s: expected <model>.<tensor>.f32", base);
        return;
    }
    memcpy(model, base, (size_t)(dot - base));
    model[dot - base] = 0;
    memcpy(tensor, dot + 1, tensor_len);
    tensor[tensor_len] = 0;
    snprintf(name, sizeof name, "dequant %s %s", model, tensor);

    snprintf(model_path, sizeof model_path, "models/%s.gguf", model);
    snprintf(model_path, sizeof model_path, "%s", shared_path(model_path));
    model_data = read_file(model_path, &model_bytes);
    ref = read_file(path, &ref_bytes);
    if (!model_data || !ref) {
        check(0, name, "cannot read %s", model_data ? path : model_path);
        free(model_data);
        free(ref);
        return;
    }
    if (gguf_open(&f, model_data, model_bytes, model_path, &err) != LLM_OK) {
        check(0, name, "%s", err.message);
        free(model_data);
        free(ref);
        return;
    }
    t = gguf_find_tensor(&f, tensor);
    if (!t) {
        check(0, name, "tensor not found in %s", model_path);
        goto done;
    }
    for (d = 0; d < GGUF_MAX_DIMS; d++)
        n_elements *= t->ne[d];
    if (ref_bytes != n_elements * sizeof(float) || !llm_kernels_scalar.dequantize[t->type]) {
        check(0, name, "type %s, %llu elements; reference has %lu bytes, expected %llu", llm_type_name(t->type),
              (unsigned long long)n_elements, (unsigned long)ref_bytes, (unsigned long long)(n_elements * sizeof(float)));
        goto done;
    }
    got = malloc((size_t)n_elements * sizeof *got);
    llm_kernels_scalar.dequantize[t->type](t->data, got, (int64_t)n_elements);
    for (i = 0; i < n_elements; i++) {
        if (float_bits(got[i]) != float_bits(ref[i])) {
            double diff = fabs((double)got[i] - ref[i]);
            n_differ++;
            max_diff = diff > max_diff ? diff : max_diff;
        }
    }
    if (t->type < LLM_TYPE_COUNT)
        stats->seen[t->type] = 1;
    check(n_differ == 0, name, "%s, %llu values: %llu differ from llama.cpp's, max |diff| %g (expected bit-exact)",
          llm_type_name(t->type), (unsigned long long)n_elements, (unsigned long long)n_differ, max_diff);
done:
    free(got);
    gguf_close(&f);
    free(model_data);
    free(ref);
}

static void test_dequant_reference(void)
{
    static const uint32_t covered[] = {
        LLM_TYPE_F16,  LLM_TYPE_BF16, LLM_TYPE_Q8_0, LLM_TYPE_Q6_K, LLM_TYPE_Q5_K, LLM_TYPE_Q5_0,   LLM_TYPE_Q5_1,
        LLM_TYPE_Q4_K, LLM_TYPE_Q4_0, LLM_TYPE_Q4_1, LLM_TYPE_Q3_K, LLM_TYPE_Q2_K, LLM_TYPE_IQ4_NL,
    };
    struct dequant_stats stats;
    char missing[256] = "", dir[4096];
    size_t i;
    int n;

    /* a copy, because check_dequant_file calls shared_path, which reuses one buffer */
    snprintf(dir, sizeof dir, "%s", shared_path("reference/dequant"));
    memset(&stats, 0, sizeof stats);
    n = for_each_file(dir, ".f32", check_dequant_file, &stats);
    check(n > 0, "dequant reference files", "%d files in %s", n, dir);
    for (i = 0; i < sizeof covered / sizeof covered[0]; i++) {
        if (!stats.seen[covered[i]]) {
            strcat(missing, " ");
            strcat(missing, llm_type_name(covered[i]));
        }
    }
    check(missing[0] == 0, "dequant reference types", "types without a matching reference file:%s",
          missing[0] ? missing : " none");
}

/* --------------------------------------------------------- dot products */

/* Random half in [0.5, 1.5) * scale with a random sign. */
static uint16_t random_half(float scale)
{
    float v = (float)(0.5 + rng_uniform()) * scale;

    return llm_f32_to_f16(rng_u32() & 1 ? -v : v);
}

/*
 * Fills a row of n weights with random bits, then replaces every half-float
 * scale with a finite random value, so that every quant and sub-block scale
 * bit pattern occurs but no block decodes to NaN or infinity.
 */
static void fill_weights(uint32_t type, void *row, int64_t n)
{
    uint8_t *bytes = row;
    size_t i, n_bytes = llm_row_bytes(type, n);
    int64_t ib, n_blocks = n / llm_type_get(type)->block_size;

    for (i = 0; i < n_bytes; i++)
        bytes[i] = (uint8_t)rng_u32();
    for (ib = 0; ib < n_blocks; ib++) {
        switch (type) {
        case LLM_TYPE_F32:
            ((float *)row)[ib] = rng_normal() * 0.1f;
            break;
        case LLM_TYPE_F16:
            ((uint16_t *)row)[ib] = llm_f32_to_f16(rng_normal() * 0.1f);
            break;
        case LLM_TYPE_BF16:
            ((uint16_t *)row)[ib] = (uint16_t)(float_bits(rng_normal() * 0.1f) >> 16);
            break;
        case LLM_TYPE_Q4_0:
            ((block_q4_0 *)row)[ib].d = random_half(0.02f);
            break;
        case LLM_TYPE_Q4_1:
            ((block_q4_1 *)row)[ib].d = random_half(0.02f);
            ((block_q4_1 *)row)[ib].m = random_half(0.15f);
            break;
        case LLM_TYPE_Q5_0:
            ((block_q5_0 *)row)[ib].d = random_half(0.01f);
            break;
        case LLM_TYPE_Q5_1:
            ((block_q5_1 *)row)[ib].d = random_half(0.01f);
            ((block_q5_1 *)row)[ib].m = random_half(0.15f);
            break;
        case LLM_TYPE_Q8_0:
            ((block_q8_0 *)row)[ib].d = random_half(0.001f);
            break;
        case LLM_TYPE_IQ4_NL:
            ((block_iq4nl *)row)[ib].d = random_half(0.001f);
            break;
        case LLM_TYPE_Q2_K:
            ((block_q2k *)row)[ib].d = random_half(0.01f);
            ((block_q2k *)row)[ib].dmin = random_half(0.005f);
            break;
        case LLM_TYPE_Q3_K:
            ((block_q3k *)row)[ib].d = random_half(0.003f);
            break;
        case LLM_TYPE_Q4_K:
            ((block_q4k *)row)[ib].d = random_half(0.001f);
            ((block_q4k *)row)[ib].dmin = random_half(0.001f);
            break;
        case LLM_TYPE_Q5_K:
            ((block_q5k *)row)[ib].d = random_half(0.0005f);
            ((block_q5k *)row)[ib].dmin = random_half(0.001f);
            break;
        case LLM_TYPE_Q6_K:
            ((block_q6k *)row)[ib].d = random_half(0.0001f);
            break;
        default:
            break;
        }
    }
}

/*
 * Magnitude of the offset term of weight i (|m| for Q4_1/Q5_1, |dmin * mn|
 * for Q2_K/Q4_K/Q5_K, else 0). The kernels sum the scaled quants and the
 * offsets separately, so their float rounding scales with both parts, which
 * may be far larger than |w| where the two nearly cancel.
 */
static void weight_offsets(uint32_t type, const void *row, int64_t n, float *offset)
{
    int64_t i;

    for (i = 0; i < n; i++) {
        int64_t ib = i / QK_K;
        int s;
        uint8_t sc[8], mn[8];

        switch (type) {
        case LLM_TYPE_Q4_1:
            offset[i] = fabsf(llm_f16_to_f32(((const block_q4_1 *)row)[i / QK4_1].m));
            break;
        case LLM_TYPE_Q5_1:
            offset[i] = fabsf(llm_f16_to_f32(((const block_q5_1 *)row)[i / QK5_1].m));
            break;
        case LLM_TYPE_Q2_K:
            s = (int)(i % QK_K) / 16;
            offset[i] = fabsf(llm_f16_to_f32(((const block_q2k *)row)[ib].dmin)) * (((const block_q2k *)row)[ib].scales[s] >> 4);
            break;
        case LLM_TYPE_Q4_K:
            q4k_unpack_scales(((const block_q4k *)row)[ib].scales, sc, mn);
            offset[i] = fabsf(llm_f16_to_f32(((const block_q4k *)row)[ib].dmin)) * mn[(i % QK_K) / 32];
            break;
        case LLM_TYPE_Q5_K:
            q4k_unpack_scales(((const block_q5k *)row)[ib].scales, sc, mn);
            offset[i] = fabsf(llm_f16_to_f32(((const block_q5k *)row)[ib].dmin)) * mn[(i % QK_K) / 32];
            break;
        default:
            offset[i] = 0.0f;
            break;
        }
    }
}

/*
 * How far the activations the kernel multiplies, x_hat, are from x.
 *
 * Each quant is x / d rounded to the nearest integer, so x_hat - x is a
 * rounding error within half a step, d / 2. Over random data these errors
 * behave as independent and uniform on [-d/2, d/2] (variance d^2 / 12), so
 * sum(w_i * (x_hat_i - x_i)) has standard deviation
 * sqrt(sum((w_i * d_i)^2) / 12). The dot checks allow ROUNDING_SIGMAS of
 * them; a normal deviate exceeds 6 with probability 2e-9. The worst case
 * sum(|w_i| * d_i / 2) is 10 or more times looser at n = 4096 and would hide
 * real faults.
 *
 * Q8_0 and Q8_1 round x / d with the float d but store d rounded to half,
 * which scales block b's x_hat by (1 + e_b) with |e_b| <= 2^-11
 * (Q8_SCALE_ERROR). Treating e_b as uniform too adds
 * (Q8_SCALE_ERROR * sum_b(w . x_hat))^2 / 3 per block to the variance. Q8_K
 * stores d as a float.
 */
#define ROUNDING_SIGMAS 6.0
#define Q8_SCALE_ERROR (1.0 / 2048.0)

/*
 * Decodes one quantized activation row: x_hat[i] is the value the dot
 * product uses and step[i] the quantization step of its block. For Q8_1,
 * sum_error[b] is s_half - d_half * sum(q) of block b, because the kernels
 * multiply the weight offset m by s, not by the sum of x_hat.
 */
static void decode_activations(uint32_t dot_type, const void *acts, const float *x, int64_t n, double *x_hat,
                               double *step, double *sum_error)
{
    int64_t i;

    for (i = 0; i < n; i++) {
        if (dot_type == LLM_TYPE_F32) {
            x_hat[i] = x[i];
            step[i] = 0.0;
        } else if (dot_type == LLM_TYPE_F16) {
            /* 10 stored mantissa bits: the rounding step is at most |x| * 2^-10 */
            x_hat[i] = llm_f16_to_f32(((const uint16_t *)acts)[i]);
            step[i] = fabs(x[i]) * 0x1p-10;
        } else if (dot_type == LLM_TYPE_BF16) {
            /* 7 stored mantissa bits: the rounding step is at most |x| * 2^-7 */
            x_hat[i] = llm_bf16_to_f32(((const uint16_t *)acts)[i]);
            step[i] = fabs(x[i]) * 0x1p-7;
        } else if (dot_type == LLM_TYPE_Q8_0) {
            const block_q8_0 *b = (const block_q8_0 *)acts + i / QK8_0;
            step[i] = llm_f16_to_f32(b->d);
            x_hat[i] = step[i] * b->qs[i % QK8_0];
        } else if (dot_type == LLM_TYPE_Q8_1) {
            const block_q8_1 *b = (const block_q8_1 *)acts + i / QK8_1;
            step[i] = llm_f16_to_f32(b->d);
            x_hat[i] = step[i] * b->qs[i % QK8_1];
            if (i % QK8_1 == 0) {
                int j, sum = 0;
                for (j = 0; j < QK8_1; j++)
                    sum += b->qs[j];
                sum_error[i / QK8_1] = llm_f16_to_f32(b->s) - step[i] * sum;
            }
        } else {
            const block_q8k *b = (const block_q8k *)acts + i / QK_K;
            step[i] = fabs(b->d);
            x_hat[i] = (double)b->d * b->qs[i % QK_K];
        }
    }
}

/*
 * Float rounding allowed in a dot product, in units of sum(|terms|): the
 * kernels sum n_blocks block results in float (each result a few roundings
 * away from exact), and the dequantized reference rounds each weight once.
 * F32, F16 and BF16 products are summed in double, which leaves only those few.
 */
static double float_rounding(uint32_t dot_type, int64_t n_blocks)
{
    int in_double = dot_type == LLM_TYPE_F32 || dot_type == LLM_TYPE_F16 || dot_type == LLM_TYPE_BF16;

    return ((in_double ? 0 : (double)n_blocks) + 4.0) * 5.96e-8; /* 2^-24 */
}

/*
 * One weight type at one row length, against two references:
 *  - "vs f32 x": sum(w_i * x_i) in double, the product a caller wants.
 *    Allowed: the activation quantization error modelled above, the Q8_1
 *    sum term, and float rounding.
 *  - "vs quantized x": sum(w_i * x_hat_i), the same integers the kernel
 *    multiplies. Allowed: float rounding only, so a wrongly unpacked bit or
 *    a swapped element fails here. F32 activations make the two the same,
 *    so F32 gets only the first.
 */
static void check_dot(uint32_t type, int64_t n)
{
    const llm_type_info *info = llm_type_get(type);
    uint32_t dot_type = info->dot_type;
    void *row = malloc(llm_row_bytes(type, n));
    void *acts = malloc(llm_row_bytes(dot_type, n));
    float *x = malloc((size_t)n * sizeof *x), *w = malloc((size_t)n * sizeof *w);
    float *offset = malloc((size_t)n * sizeof *offset);
    double *x_hat = malloc((size_t)n * sizeof *x_hat), *step = malloc((size_t)n * sizeof *step);
    double *sum_error = calloc((size_t)(n / 32), sizeof *sum_error);
    double ref_x = 0.0, ref_x_hat = 0.0, variance = 0.0, block_dot = 0.0, sum_term = 0.0, magnitude = 0.0;
    double quant_bound, rounding;
    float got;
    int64_t i;
    char name[64];

    fill_weights(type, row, n);
    fill_activations(x, n);
    llm_kernels_scalar.quantize[dot_type](x, acts, n);
    llm_kernels_scalar.dequantize[type](row, w, n);
    weight_offsets(type, row, n, offset);
    decode_activations(dot_type, acts, x, n, x_hat, step, sum_error);

    for (i = 0; i < n; i++) {
        ref_x += (double)w[i] * x[i];
        ref_x_hat += (double)w[i] * x_hat[i];
        variance += (w[i] * step[i]) * (w[i] * step[i]) / 12.0;
        block_dot += w[i] * x_hat[i];
        if ((dot_type == LLM_TYPE_Q8_0 || dot_type == LLM_TYPE_Q8_1) && i % QK8_0 == QK8_0 - 1) {
            variance += (Q8_SCALE_ERROR * block_dot) * (Q8_SCALE_ERROR * block_dot) / 3.0;
            block_dot = 0.0;
        }
        magnitude += (fabs(w[i]) + offset[i]) * fabs(x_hat[i]);
    }
    if (dot_type == LLM_TYPE_Q8_1) {
        for (i = 0; i < n / QK8_1; i++) {
            uint16_t m_half = type == LLM_TYPE_Q4_1 ? ((const block_q4_1 *)row)[i].m : ((const block_q5_1 *)row)[i].m;
            double m_times_error = llm_f16_to_f32(m_half) * sum_error[i];
            ref_x_hat += m_times_error;
            sum_term += fabs(m_times_error);
        }
    }
    rounding = float_rounding(dot_type, n / info->block_size) * magnitude;
    quant_bound = ROUNDING_SIGMAS * sqrt(variance) + sum_term;
    got = llm_kernels_scalar.dot[type](n, row, acts);

    snprintf(name, sizeof name, "%s dot n=%lld vs f32 x", info->name, (long long)n);
    check(fabs(got - ref_x) <= quant_bound + rounding, name,
          "got %.9g, reference %.9g, |diff| %.3g, bound %.3g (activation rounding %g x sigma %.3g, Q8_1 sums %.3g, "
          "float rounding %.3g)",
          got, ref_x, fabs(got - ref_x), quant_bound + rounding, ROUNDING_SIGMAS, sqrt(variance), sum_term, rounding);
    if (dot_type != LLM_TYPE_F32) {
        snprintf(name, sizeof name, "%s dot n=%lld vs quantized x", info->name, (long long)n);
        check(fabs(got - ref_x_hat) <= rounding, name,
              "got %.9g, reference %.9g, |diff| %.3g, bound %.3g (float rounding)", got, ref_x_hat,
              fabs(got - ref_x_hat), rounding);
    }

    free(row);
    free(acts);
    free(x);
    free(w);
    free(offset);
    free(x_hat);
    free(step);
    free(sum_error);
}

void test_quant(void)
{
    size_t i;

    test_type_table();

    test_f16_to_f32();
    test_f32_to_f16();
    test_f16_round_trip();
    test_f32_to_f16_random();
    test_bf16();

    rng_seed(8);
    test_q8_0_round_trip(256);
    test_q8_0_round_trip(4096);
    test_q8k_round_trip(256);
    test_q8k_round_trip(4096);
    test_q8_1_sum();
    test_activation_rounding();

    test_dequant_reference();

    rng_seed(42);
    for (i = 0; i < N_READABLE; i++) {
        check_dot(readable_types[i], 256);
        check_dot(readable_types[i], 4096);
    }
}
