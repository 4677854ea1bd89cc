/*
 * test_kernels.c - every kernel table this CPU can run against
 * llm_kernels_scalar, entry by entry.
 *
 * Dot products run on fixed-seed random rows of 256, 4096 and 14336 elements
 * (and 135 for F32, F16 and BF16) and on rows of the fixture models' tensors; the two results may differ only
 * by the float summation order, within the tolerance named per type below.
 * Activation quantizers must write the same bytes as the scalar ones, because
 * the reference tests against llama.cpp depend on their rounding.
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

/* xorshift64*, fixed seed per case so that a failure repeats. */
static uint32_t rng_u32(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545F4914F6CDD1DULL) >> 32);
}

/* Approximately standard normal: the sum of 4 uniforms, centred and scaled. */
static float rng_normal(void)
{
    double sum = 0.0;
    int i;

    for (i = 0; i < 4; i++)
        sum += rng_u32() / 4294967296.0;
    return (float)((sum - 2.0) * 1.7320508);
}

/* Finite half in [0.5, 1.5) * scale, random sign. */
static uint16_t random_half(float scale)
{
    float v = (float)(0.5 + rng_u32() / 4294967296.0) * scale;

    return llm_f32_to_f16(rng_u32() & 1 ? -v : v);
}

/*
 * Fills a row with random bits, then gives every half-float scale a finite
 * value, so that all quant and sub-block scale patterns occur but no block
 * decodes to NaN or infinity.
 */
static void fill_weights(uint32_t type, void *row, int64_t n)
{
    uint8_t *bytes = row;
    size_t i, n_bytes = llm_row_bytes(type, n);
    int64_t ib, n_blocks = n / llm_type_get(type)->block_size;

    for (i = 0; i < n_bytes; i++)
        bytes[i] = (uint8_t)rng_u32();
    for (ib = 0; ib < n_blocks; ib++) {
        float f = rng_normal() * 0.1f;
        uint32_t f_bits;
        memcpy(&f_bits, &f, sizeof f_bits);
        switch (type) {
        case LLM_TYPE_F32: ((float *)row)[ib] = f; break;
        case LLM_TYPE_F16: ((uint16_t *)row)[ib] = llm_f32_to_f16(f); break;
        case LLM_TYPE_BF16: ((uint16_t *)row)[ib] = (uint16_t)(f_bits >> 16); break;
        case LLM_TYPE_Q4_0: ((block_q4_0 *)row)[ib].d = random_half(0.02f); break;
        case LLM_TYPE_Q5_0: ((block_q5_0 *)row)[ib].d = random_half(0.01f); break;
        case LLM_TYPE_Q8_0: ((block_q8_0 *)row)[ib].d = random_half(0.001f); break;
        case LLM_TYPE_IQ4_NL: ((block_iq4nl *)row)[ib].d = random_half(0.001f); break;
        case LLM_TYPE_Q3_K: ((block_q3k *)row)[ib].d = random_half(0.003f); break;
        case LLM_TYPE_Q6_K: ((block_q6k *)row)[ib].d = random_half(0.0001f); break;
        case LLM_TYPE_Q4_1:
            ((block_q4_1 *)row)[ib].d = random_half(0.02f);
            ((block_q4_1 *)row)[ib].m = random_half(0.15f);
            break;
        case LLM_TYPE_Q5_1:
            ((block_q5_1 *)row)[ib].d = random_half(0.01f);
            ((block_q5_1 *)row)[ib].m = random_half(0.15f);
            break;
        case LLM_TYPE_Q2_K:
            ((block_q2k *)row)[ib].d = random_half(0.01f);
            ((block_q2k *)row)[ib].dmin = random_half(0.005f);
            break;
        case LLM_TYPE_Q4_K:
            ((block_q4k *)row)[ib].d = random_half(0.001f);
            ((block_q4k *)row)[ib].dmin = random_half(0.001f);
            break;
        case LLM_TYPE_Q5_K:
            ((block_q5k *)row)[ib].d = random_half(0.0005f);
            ((block_q5k *)row)[ib].dmin = random_half(0.001f);
            break;
        default:
            break;
        }
    }
}

/* ------------------------------------------------------------ tolerances */

/*
 * Largest |dot(table) - dot(scalar)| allowed, as a fraction of sum |w_i x_i|
 * over the row (w the dequantized weights, x the dequantized activations).
 * Unit roundoff u = 2^-24.
 */

/*
 * K-quants x Q8_K, and Q4_0 x Q8_0: exact. The integer sum of a block is
 * exact in any order. A table must scale and add the blocks with the scalar
 * float operations in the scalar order: for Q4_0, one fused multiply-add per
 * 32 weights, as llama.cpp's x86-64 kernels do.
 */
#define TOL_K_QUANT 0.0

/*
 * 32-element blocks x Q8_0/Q8_1: each block's integer sum is exact, but a
 * SIMD table accumulates the scaled blocks in 8 float lanes with FMA while
 * the scalar code adds them one by one. Each side's rounding is at most
 * (number of additions + 2 roundings per term) * u * sum|terms|: for 14336
 * elements, 448 serial additions against about 56 + 3 in lanes, so
 * (448 + 59 + 4) * 2^-24 = 3.0e-5.
 * NOTE: for Q4_1 and Q5_1 the offset term m * s is not in sum |w_i x_i|, so
 * rows where w = d*q + m nearly cancels would need a looser bound.
 */
#define TOL_BLOCKS_IN_LANES 4e-5

/*
 * F32 x F32, F16 x F16, BF16 x BF16: both sides round the same float
 * products and sum them in double (error below n * 2^-53 relative, 1.6e-12 at n = 14336);
 * each then rounds once to float, 2^-24 of |result| at most.
 */
#define TOL_DOUBLE_SUM (2.0 * 5.97e-8 + 1e-11)

static double dot_tolerance(uint32_t type)
{
    switch (type) {
    case LLM_TYPE_Q2_K:
    case LLM_TYPE_Q3_K:
    case LLM_TYPE_Q4_K:
    case LLM_TYPE_Q5_K:
    case LLM_TYPE_Q6_K:
    case LLM_TYPE_Q4_0:
        return TOL_K_QUANT;
    case LLM_TYPE_F32:
    case LLM_TYPE_F16:
    case LLM_TYPE_BF16:
        return TOL_DOUBLE_SUM;
    default:
        return TOL_BLOCKS_IN_LANES;
    }
}

/* --------------------------------------------------------- dot products */

static const uint32_t dot_types[] = {
    LLM_TYPE_Q3_K, LLM_TYPE_Q5_K, LLM_TYPE_Q6_K, LLM_TYPE_Q4_K, LLM_TYPE_Q2_K, LLM_TYPE_Q8_0,   LLM_TYPE_Q4_0,
    LLM_TYPE_Q4_1, LLM_TYPE_Q5_0, LLM_TYPE_Q5_1, LLM_TYPE_F32,  LLM_TYPE_F16,  LLM_TYPE_IQ4_NL, LLM_TYPE_BF16,
};
#define N_DOT_TYPES (sizeof dot_types / sizeof dot_types[0])

/* The activation values a dot product sees: the quantized row decoded back to float. */
static void decode_activations(uint32_t dot_type, const void *acts, int64_t n, double *x)
{
    int64_t i;

    for (i = 0; i < n; i++) {
        switch (dot_type) {
        case LLM_TYPE_Q8_0: {
            const block_q8_0 *b = (const block_q8_0 *)acts + i / QK8_0;
            x[i] = (double)llm_f16_to_f32(b->d) * b->qs[i % QK8_0];
            break;
        }
        case LLM_TYPE_Q8_1: {
            const block_q8_1 *b = (const block_q8_1 *)acts + i / QK8_1;
            x[i] = (double)llm_f16_to_f32(b->d) * b->qs[i % QK8_1];
            break;
        }
        case LLM_TYPE_Q8_K: {
            const block_q8k *b = (const block_q8k *)acts + i / QK_K;
            x[i] = (double)b->d * b->qs[i % QK_K];
            break;
        }
        case LLM_TYPE_F16:
            x[i] = llm_f16_to_f32(((const uint16_t *)acts)[i]);
            break;
        case LLM_TYPE_BF16:
            x[i] = llm_bf16_to_f32(((const uint16_t *)acts)[i]);
            break;
        default:
            x[i] = ((const float *)acts)[i];
            break;
        }
    }
}

/* Scratch for one comparison: a weight row, its activations, and decoded copies. */
typedef struct {
    float *x;       /* [n] activations before quantization */
    void *acts;     /* [act bytes] activations in the weight type's dot_type */
    float *w_hat;   /* [n] dequantized weights */
    double *x_hat;  /* [n] decoded activations */
} dot_scratch;

static int scratch_init(dot_scratch *s, int64_t n)
{
    s->x = malloc((size_t)n * sizeof *s->x);
    s->acts = malloc((size_t)n * sizeof(float) + 64);
    s->w_hat = malloc((size_t)n * sizeof *s->w_hat);
    s->x_hat = malloc((size_t)n * sizeof *s->x_hat);
    return s->x && s->acts && s->w_hat && s->x_hat;
}

static void scratch_free(dot_scratch *s)
{
    free(s->x);
    free(s->acts);
    free(s->w_hat);
    free(s->x_hat);
}

typedef struct {
    int n_rows;
    double max_error; /* largest |difference| / sum |w_i x_i| seen */
    int n_over;       /* rows over the tolerance */
} dot_stats;

/*
 * Compares one weight row's dot product under table k and the scalar table.
 * s->x must hold the row's float activations; the scalar quantizer converts
 * them, so both tables see the same bytes.
 */
static void compare_row(const llm_kernels *k, uint32_t type, const void *row, int64_t n, dot_scratch *s,
                        dot_stats *stats)
{
    uint32_t dot_type = llm_type_get(type)->dot_type;
    double terms = 0.0, error;
    float got, want;
    int64_t i;

    llm_kernels_scalar.quantize[dot_type](s->x, s->acts, n);
    want = llm_kernels_scalar.dot[type](n, row, s->acts);
    got = k->dot[type](n, row, s->acts);
    llm_kernels_scalar.dequantize[type](row, s->w_hat, n);
    decode_activations(dot_type, s->acts, n, s->x_hat);
    for (i = 0; i < n; i++)
        terms += fabs(s->w_hat[i] * s->x_hat[i]);

    error = got == want ? 0.0 : fabs((double)got - want) / (terms > 0.0 ? terms : 1e-300);
    if (got != got || want != want)
        error = INFINITY;
    stats->n_rows++;
    if (error > stats->max_error)
        stats->max_error = error;
    if (error > dot_tolerance(type))
        stats->n_over++;
}

static void report(const llm_kernels *k, uint32_t type, const char *what, const dot_stats *stats)
{
    char name[128];

    snprintf(name, sizeof name, "%s dot %s %s", k->name, llm_type_name(type), what);
    check(stats->n_rows > 0 && stats->n_over == 0, name,
          "%d rows, %d over the bound; max |diff| / sum|w x| %.3g, bound %.3g", stats->n_rows, stats->n_over,
          stats->max_error, dot_tolerance(type));
}

static void check_random_dots(const llm_kernels *k, uint32_t type)
{
    /* 135 runs only for the types with 1-element blocks (F32, F16, BF16), and leaves a tail after any vector width */
    static const int64_t widths[] = {256, 4096, 14336, 135};
    size_t w;

    for (w = 0; w < sizeof widths / sizeof widths[0]; w++) {
        int64_t n = widths[w], i;
        void *row;
        dot_scratch s;
        dot_stats stats;
        char what[64];
        int r;

        if (n % llm_type_get(type)->block_size != 0)
            continue;
        row = malloc(llm_row_bytes(type, n));
        memset(&stats, 0, sizeof stats);
        if (!row || !scratch_init(&s, n)) {
            check(0, "kernels scratch", "out of memory for a row of %lld", (long long)n);
            free(row);
            scratch_free(&s);
            return;
        }
        rng_state = 0x9E3779B97F4A7C15ULL ^ ((uint64_t)type << 32) ^ (uint64_t)n;
        for (r = 0; r < 8; r++) {
            fill_weights(type, row, n);
            for (i = 0; i < n; i++)
                s.x[i] = rng_normal();
            compare_row(k, type, row, n, &s, &stats);
        }
        snprintf(what, sizeof what, "random n=%lld", (long long)n);
        report(k, type, what, &stats);
        scratch_free(&s);
        free(row);
    }
}

/* ------------------------------------------------------- tile kernels */

/*
 * Checks k->dot_tile[type] against k->dot[type] on fixed-seed random rows:
 * 6 weight rows (a tile kernel may take rows in groups, so 6 leaves a
 * partial group) times 1, 2, 7, 32 and 70 tokens (more than one pass of
 * a kernel that takes 64 at a time), and every result must be
 * bit-identical. Activation rows are 64 bytes further apart than a row
 * needs and output rows have 2 unused floats, which must keep their value.
 */
static void check_tile_dots(const llm_kernels *k, uint32_t type)
{
    static const int64_t widths[] = {256, 4096, 14336};
    static const int token_counts[] = {1, 2, 7, 32, 70};
    enum { n_rows = 6, max_tokens = 70, out_stride = n_rows + 2 };
    uint32_t dot_type = llm_type_get(type)->dot_type;
    size_t w, c;

    for (w = 0; w < sizeof widths / sizeof widths[0]; w++) {
        int64_t n = widths[w], i;
        size_t row_bytes = llm_row_bytes(type, n), act_stride = llm_row_bytes(dot_type, n) + 64;
        uint8_t *rows = malloc(row_bytes * n_rows);
        uint8_t *acts = malloc(act_stride * max_tokens);
        float *x = malloc((size_t)n * sizeof *x);
        float out[max_tokens * out_stride];
        int n_calls = 0, n_diff = 0, n_clobbered = 0, first_j = -1, first_r = -1;
        float first_got = 0.0f, first_want = 0.0f;
        char name[128];

        if (!rows || !acts || !x) {
            check(0, "kernels tile scratch", "out of memory for rows of %lld", (long long)n);
            free(rows);
            free(acts);
            free(x);
            return;
        }
        rng_state = 0x5851F42D4C957F2DULL ^ ((uint64_t)type << 32) ^ (uint64_t)n;
        for (c = 0; c < sizeof token_counts / sizeof token_counts[0]; c++) {
            int n_tokens = token_counts[c], j, r;

            for (r = 0; r < n_rows; r++)
                fill_weights(type, rows + (size_t)r * row_bytes, n);
            memset(acts, 0xA5, act_stride * max_tokens);
            for (j = 0; j < n_tokens; j++) {
                for (i = 0; i < n; i++)
                    x[i] = rng_normal();
                llm_kernels_scalar.quantize[dot_type](x, acts + (size_t)j * act_stride, n);
            }
            for (j = 0; j < max_tokens * out_stride; j++)
                out[j] = -1.0f;
            k->dot_tile[type](n, rows, row_bytes, n_rows, acts, act_stride, n_tokens, out, out_stride);
            n_calls++;
            for (j = 0; j < n_tokens; j++) {
                for (r = 0; r < n_rows; r++) {
                    float want = k->dot[type](n, rows + (size_t)r * row_bytes, acts + (size_t)j * act_stride);
                    float got = out[j * out_stride + r];
                    if (memcmp(&got, &want, sizeof got) != 0 && n_diff++ == 0) {
                        first_j = j;
                        first_r = r;
                        first_got = got;
                        first_want = want;
                    }
                }
                for (r = n_rows; r < out_stride; r++)
                    n_clobbered += out[j * out_stride + r] != -1.0f;
            }
        }
        snprintf(name, sizeof name, "%s dot_tile %s n=%lld", k->name, llm_type_name(type), (long long)n);
        if (n_diff == 0)
            check(1, name, "%d calls of %d rows x 1, 2, 7, 32 and 70 tokens, every result equal to the dot", n_calls,
                  n_rows);
        else
            check(0, name, "%d results differ from the dot; first at row %d, token %d: %.9g, expected %.9g", n_diff,
                  first_r, first_j, first_got, first_want);
        snprintf(name, sizeof name, "%s dot_tile %s n=%lld output gaps", k->name, llm_type_name(type), (long long)n);
        check(n_clobbered == 0, name, "%d floats outside the %d result columns changed", n_clobbered, n_rows);
        free(rows);
        free(acts);
        free(x);
    }
}

/* ----------------------------------------------------- fixture tensors */

typedef struct {
    const llm_kernels *k;
    dot_stats stats[LLM_TYPE_COUNT]; /* by weight type, over every model */
} fixture_run;

/* Compares up to 16 rows, spread over the tensor, of every tensor of a model file. */
static void check_model_dots(const char *path, void *ctx)
{
    fixture_run *run = ctx;
    size_t n_bytes = 0;
    void *bytes = read_file(path, &n_bytes);
    gguf_file f;
    llm_error err;
    uint64_t t;

    if (!bytes || gguf_open(&f, bytes, n_bytes, path, &err) != LLM_OK) {
        check(0, "kernels fixture", "cannot open %s: %s", path, bytes ? err.message : "unreadable");
        free(bytes);
        return;
    }
    for (t = 0; t < f.n_tensors; t++) {
        const gguf_tensor *tensor = &f.tensors[t];
        int64_t n = (int64_t)tensor->ne[0], i;
        uint64_t n_rows = tensor->n_bytes / llm_row_bytes(tensor->type, n), r, step;
        dot_scratch s;

        if (tensor->type >= LLM_TYPE_COUNT || !run->k->dot[tensor->type] || n_rows == 0)
            continue;
        if (!scratch_init(&s, n)) {
            scratch_free(&s);
            break;
        }
        rng_state = 0xD1B54A32D192ED03ULL ^ t;
        step = n_rows > 16 ? n_rows / 16 : 1;
        for (r = 0; r < n_rows; r += step) {
            const uint8_t *row = (const uint8_t *)tensor->data + r * llm_row_bytes(tensor->type, n);
            for (i = 0; i < n; i++)
                s.x[i] = rng_normal();
            compare_row(run->k, tensor->type, row, n, &s, &run->stats[tensor->type]);
        }
        scratch_free(&s);
    }
    gguf_close(&f);
    free(bytes);
}

static void check_fixture_dots(const llm_kernels *k)
{
    fixture_run *run = calloc(1, sizeof *run);
    char dir[4096];
    size_t i;
    int n;

    if (!run)
        return;
    run->k = k;
    snprintf(dir, sizeof dir, "%s", shared_path("models"));
    n = for_each_file(dir, ".gguf", check_model_dots, run);
    check(n > 0, "kernels fixture models", "%d models in %s", n, dir);
    for (i = 0; i < N_DOT_TYPES; i++) {
        if (run->stats[dot_types[i]].n_rows > 0)
            report(k, dot_types[i], "fixture rows", &run->stats[dot_types[i]]);
    }
    free(run);
}

/* ------------------------------------------------ activation quantizers */

/*
 * A row of 512 values whose rounding is easy to get wrong: the first block of
 * 32 has its largest magnitude at -127 (so both Q8_0 and Q8_K scale by
 * exactly 1) and then halves, which round away from zero in Q8_0 and to even
 * in Q8_K; a block of zeros; NaN; and an infinity in the second Q8_K block.
 */
static void fill_edge_activations(float *x)
{
    static const float halves[] = {2.5f, -3.5f, 0.5f, -0.5f, 126.5f, -126.5f, 1.5f, -2.5f};
    int i;

    for (i = 0; i < 512; i++)
        x[i] = rng_normal() * 20.0f;
    x[0] = -127.0f;
    for (i = 1; i < 32; i++)
        x[i] = halves[i % 8];
    for (i = 32; i < 64; i++)
        x[i] = 0.0f;
    x[300] = NAN;
    x[301] = INFINITY;
    x[400] = -INFINITY;
}

static void check_quantizer(const llm_kernels *k, uint32_t dot_type, const float *x, int64_t n, const char *what)
{
    size_t n_bytes = llm_row_bytes(dot_type, n);
    uint8_t *want = malloc(n_bytes), *got = malloc(n_bytes);
    size_t first_diff = n_bytes, i;
    char name[128];

    if (!want || !got) {
        free(want);
        free(got);
        return;
    }
    memset(want, 0xAA, n_bytes);
    memset(got, 0x55, n_bytes);
    llm_kernels_scalar.quantize[dot_type](x, want, n);
    k->quantize[dot_type](x, got, n);
    for (i = 0; i < n_bytes && first_diff == n_bytes; i++) {
        if (got[i] != want[i])
            first_diff = i;
    }
    snprintf(name, sizeof name, "%s quantize %s %s", k->name, llm_type_name(dot_type), what);
    if (first_diff == n_bytes)
        check(1, name, "%lu bytes identical", (unsigned long)n_bytes);
    else
        check(0, name, "%lu bytes; first difference at byte %lu: 0x%02x, expected 0x%02x", (unsigned long)n_bytes,
              (unsigned long)first_diff, got[first_diff], want[first_diff]);
    free(want);
    free(got);
}

static void check_quantizers(const llm_kernels *k)
{
    static const uint32_t act_types[] = {LLM_TYPE_F32, LLM_TYPE_F16, LLM_TYPE_BF16, LLM_TYPE_Q8_0, LLM_TYPE_Q8_1, LLM_TYPE_Q8_K};
    int64_t n = 14336, i;
    float *x = malloc((size_t)n * sizeof *x);
    size_t t;

    if (!x)
        return;
    for (t = 0; t < sizeof act_types / sizeof act_types[0]; t++) {
        uint32_t type = act_types[t];
        check(k->quantize[type] != NULL, "kernels quantizer present", "%s quantize %s", k->name, llm_type_name(type));
        if (!k->quantize[type])
            continue;
        rng_state = 0x2545F4914F6CDD1DULL + type;
        for (i = 0; i < n; i++)
            x[i] = rng_normal() * (i % 7 == 0 ? 100.0f : 1.0f);
        check_quantizer(k, type, x, n, "random n=14336");
        if (type == LLM_TYPE_Q8_0 || type == LLM_TYPE_Q8_1 || type == LLM_TYPE_Q8_K) {
            fill_edge_activations(x);
            check_quantizer(k, type, x, 512, "ties, zeros, NaN, inf");
        }
    }
    free(x);
}

/* ----------------------------------------------------------------- suite */

static void check_selection(void)
{
    const llm_kernels *tables[LLM_KERNELS_MAX];
    int n = llm_kernels_supported(tables, LLM_KERNELS_MAX), i;

    check(n >= 1 && n <= LLM_KERNELS_MAX && tables[0] == &llm_kernels_scalar, "kernels supported list",
          "%d tables, first %s", n, n >= 1 ? tables[0]->name : "none");
    check(llm_kernels_best() == tables[n - 1], "kernels best", "best %s, last supported %s", llm_kernels_best()->name,
          tables[n - 1]->name);
    for (i = 0; i < n; i++)
        check(llm_kernels_by_name(tables[i]->name) == tables[i], "kernels by name", "%s", tables[i]->name);
    check(llm_kernels_by_name("sse9") == NULL, "kernels unknown name", "sse9 should be rejected");
}

void test_kernels(void)
{
    const llm_kernels *tables[LLM_KERNELS_MAX];
    int n, i;
    size_t t;

    check_selection();
    n = llm_kernels_supported(tables, LLM_KERNELS_MAX);
    printf("# kernel tables on this CPU:");
    for (i = 0; i < n; i++)
        printf(" %s", tables[i]->name);
    printf("\n");
    /* tables[0] is the scalar table itself */
    for (i = 1; i < n; i++) {
        const llm_kernels *k = tables[i];
        for (t = 0; t < N_DOT_TYPES; t++) {
            uint32_t type = dot_types[t];
            check(k->dot[type] != NULL && k->dequantize[type] != NULL, "kernels entries present", "%s %s", k->name,
                  llm_type_name(type));
            if (k->dot[type])
                check_random_dots(k, type);
            if (k->dot[type] && k->dot_tile[type])
                check_tile_dots(k, type);
        }
        check_fixture_dots(k);
        check_quantizers(k);
    }
}
