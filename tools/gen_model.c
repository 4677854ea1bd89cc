/*
 * gen_model.c - writes a synthetic Llama 3.x GGUF with random weights, for benchmarks.
 *
 * The file has the tensor names, shapes and types of a real Llama 3.1 8B or
 * Llama 3.2 3B / 1B GGUF at a chosen llama-quantize type mix. Its tokenizer
 * metadata is copied from a template GGUF. An engine therefore parses and
 * computes on it as on the real model. The weights are random
 * blocks whose half-float scales are chosen so that every weight has a root
 * mean square near WEIGHT_RMS, which keeps activations finite through all
 * layers; the text it generates is gibberish.
 *
 *   build/gen_model --preset 8b --type Q3_K_L --seed 1 \
 *       --vocab llama3-tiny-q3kl.gguf -o llama-8b-Q3_K_L.gguf
 *
 * The same preset, type, seed and template give the same bytes. The output
 * is written to "<out>.partial" and renamed when complete, so an interrupted
 * run never leaves a file that looks finished.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "gguf.h"
#include "quant.h"
#include "quant_blocks.h"

/* Root mean square of every random weight, close to that of trained Llama weights. */
#define WEIGHT_RMS 0.02f

/* Bytes collected before each write() call. */
#define WRITE_BUFFER_BYTES ((size_t)16 << 20)

typedef struct {
    const char *name;
    const char *description; /* for general.name */
    uint32_t n_embd, n_layers, n_heads, n_kv_heads, n_ff;
    int tied_output;     /* 1: no output.weight, the output projection reuses token_embd */
    float rope_scale;    /* Llama 3.x rope_scaling.factor: 8 for 3.1, 32 for 3.2 */
} model_preset;

/* Shapes from Meta's config.json of Llama 3.1 8B and Llama 3.2 3B and 1B. */
static const model_preset presets[] = {
    {"8b", "Llama 3.1 8B", 4096, 32, 32, 8, 14336, 0, 8.0f},
    {"3b", "Llama 3.2 3B", 3072, 28, 24, 8, 8192, 1, 32.0f},
    {"1b", "Llama 3.2 1B", 2048, 16, 32, 8, 8192, 1, 32.0f},
};

#define CONTEXT_LENGTH 131072
#define ROPE_FREQ_BASE 500000.0f
#define RMS_EPS 1e-5f
/* Llama 3.x rope_scaling: frequencies of wavelength below 8192/4 keep their value,
 * above 8192/1 are divided by the factor, and a smooth ramp joins the two. */
#define ROPE_ORIGINAL_CONTEXT 8192.0
#define ROPE_LOW_FREQ_FACTOR 1.0
#define ROPE_HIGH_FREQ_FACTOR 4.0

enum tensor_role {
    ROLE_TOKEN_EMBD,
    ROLE_OUTPUT,
    ROLE_ATTN_Q,
    ROLE_ATTN_K,
    ROLE_ATTN_V,
    ROLE_ATTN_OUTPUT,
    ROLE_FFN_GATE,
    ROLE_FFN_UP,
    ROLE_FFN_DOWN,
    ROLE_NORM,
    ROLE_ROPE_FREQS
};

typedef struct {
    const char *name;
    uint32_t file_type; /* general.file_type, llama.cpp's LLAMA_FTYPE number */
} type_mix;

static const type_mix mixes[] = {
    {"Q3_K_L", 13},
    {"Q4_K_M", 15},
    {"Q8_0", 7},
    {"F16", 1},
};

/*
 * llama-quantize's rule for the layers that get more bits in Q4_K_M: the
 * first and last eighth of the layers, and every third layer in between.
 */
static int layer_gets_more_bits(uint32_t il, uint32_t n_layers)
{
    return il < n_layers / 8 || il >= 7 * n_layers / 8 || (il >= n_layers / 8 && (il - n_layers / 8) % 3 == 2);
}

/*
 * Returns the tensor type of a weight in a mix. Q3_K_L matches the tensor
 * types of Meta-Llama-3.1-8B-Instruct-Q3_K_L. A tied token_embd is also the
 * output projection, so it gets the output's type.
 * NOTE: Q4_K_M is an estimate of llama-quantize's choice. It applies only
 * the attn_v / ffn_down rule of layer_gets_more_bits, so other special
 * cases of llama-quantize, if any apply, are missing.
 */
static uint32_t tensor_type(const type_mix *mix, enum tensor_role role, uint32_t il, uint32_t n_layers,
                            int tied_output)
{
    int q3kl = strcmp(mix->name, "Q3_K_L") == 0;

    if (role == ROLE_NORM || role == ROLE_ROPE_FREQS)
        return LLM_TYPE_F32;
    if (strcmp(mix->name, "F16") == 0)
        return LLM_TYPE_F16;
    if (strcmp(mix->name, "Q8_0") == 0)
        return LLM_TYPE_Q8_0;
    if (role == ROLE_OUTPUT || (role == ROLE_TOKEN_EMBD && tied_output))
        return LLM_TYPE_Q6_K;

    switch (role) {
    case ROLE_ATTN_V:
    case ROLE_FFN_DOWN:
        if (q3kl)
            return LLM_TYPE_Q5_K;
        return layer_gets_more_bits(il, n_layers) ? LLM_TYPE_Q6_K : LLM_TYPE_Q4_K;
    case ROLE_ATTN_OUTPUT:
        return q3kl ? LLM_TYPE_Q5_K : LLM_TYPE_Q4_K;
    default:
        return q3kl ? LLM_TYPE_Q3_K : LLM_TYPE_Q4_K;
    }
}

typedef struct {
    char name[64];
    enum tensor_role role;
    uint32_t n_dims;
    uint64_t ne[2];
    uint32_t type;
    uint64_t offset;  /* from the start of the data section */
    uint64_t n_bytes;
} tensor_plan;

/* ---- output: one large buffer, flushed with write() ------------------ */

typedef struct {
    const char *path;
    int fd;
    uint8_t *buf;
    size_t len;
    uint64_t written; /* bytes already passed to write() */
} out_file;

static void fail(const char *fmt, const char *arg)
{
    fprintf(stderr, "gen_model: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    exit(1);
}

static void out_flush(out_file *o)
{
    size_t done = 0;

    while (done < o->len) {
        ssize_t n = write(o->fd, o->buf + done, o->len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            fprintf(stderr, "gen_model: %s: write failed after %llu bytes: %s (disk full?)\n", o->path,
                    (unsigned long long)(o->written + done), n < 0 ? strerror(errno) : "no progress");
            exit(1);
        }
        done += (size_t)n;
    }
    o->written += o->len;
    o->len = 0;
}

/* Returns room for n contiguous bytes (n <= WRITE_BUFFER_BYTES) at the end of the buffer. */
static uint8_t *out_reserve(out_file *o, size_t n)
{
    uint8_t *p;

    if (o->len + n > WRITE_BUFFER_BYTES)
        out_flush(o);
    p = o->buf + o->len;
    o->len += n;
    return p;
}

static void out_bytes(out_file *o, const void *bytes, uint64_t n)
{
    const uint8_t *src = bytes;

    while (n > 0) {
        size_t chunk = n < WRITE_BUFFER_BYTES ? (size_t)n : WRITE_BUFFER_BYTES;
        memcpy(out_reserve(o, chunk), src, chunk);
        src += chunk;
        n -= chunk;
    }
}

static uint64_t out_position(const out_file *o)
{
    return o->written + o->len;
}

static void out_u32(out_file *o, uint32_t v)
{
    out_bytes(o, &v, 4);
}

static void out_u64(out_file *o, uint64_t v)
{
    out_bytes(o, &v, 8);
}

static void out_f32(out_file *o, float v)
{
    out_bytes(o, &v, 4);
}

static void out_str(out_file *o, const char *s, uint64_t len)
{
    out_u64(o, len);
    out_bytes(o, s, len);
}

static void out_key(out_file *o, const char *key, uint32_t type)
{
    out_str(o, key, strlen(key));
    out_u32(o, type);
}

static void out_kv_u32(out_file *o, const char *key, uint32_t v)
{
    out_key(o, key, GGUF_UINT32);
    out_u32(o, v);
}

static void out_kv_f32(out_file *o, const char *key, float v)
{
    out_key(o, key, GGUF_FLOAT32);
    out_f32(o, v);
}

static void out_kv_str(out_file *o, const char *key, const char *v)
{
    out_key(o, key, GGUF_STRING);
    out_str(o, v, strlen(v));
}

static void out_padding(out_file *o, uint64_t alignment)
{
    static const uint8_t zeros[64];
    uint64_t pad = (alignment - out_position(o) % alignment) % alignment;

    out_bytes(o, zeros, pad);
}

/* Bytes of one scalar metadata value of this type, or 0 for strings and arrays. */
static uint64_t scalar_bytes(uint32_t type)
{
    switch (type) {
    case GGUF_UINT8:
    case GGUF_INT8:
    case GGUF_BOOL:
        return 1;
    case GGUF_UINT16:
    case GGUF_INT16:
        return 2;
    case GGUF_UINT32:
    case GGUF_INT32:
    case GGUF_FLOAT32:
        return 4;
    case GGUF_UINT64:
    case GGUF_INT64:
    case GGUF_FLOAT64:
        return 8;
    default:
        return 0;
    }
}

/* Writes a metadata pair of the template file as it was stored there. */
static void out_copied_kv(out_file *o, const gguf_kv *kv)
{
    out_str(o, kv->key.ptr, kv->key.len);
    out_u32(o, kv->type);
    if (kv->type == GGUF_STRING) {
        out_str(o, kv->v.s.ptr, kv->v.s.len);
    } else if (kv->type == GGUF_ARRAY) {
        out_u32(o, kv->v.arr.type);
        out_u64(o, kv->v.arr.n);
        out_bytes(o, kv->v.arr.data, kv->v.arr.n_bytes);
    } else if (kv->type == GGUF_FLOAT32) {
        out_f32(o, (float)kv->v.f);
    } else if (kv->type == GGUF_FLOAT64) {
        out_bytes(o, &kv->v.f, 8);
    } else {
        /* The low bytes of the widened integer are the stored little-endian value. */
        uint64_t u = kv->v.u;
        out_bytes(o, &u, scalar_bytes(kv->type));
    }
}

/* ---- random weights -------------------------------------------------- */

/* splitmix64: one 64-bit state, a full period and good statistics for random bytes. */
static uint64_t next_random(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);

    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void fill_random(uint8_t *dst, size_t n, uint64_t *state)
{
    size_t i;

    for (i = 0; i + 8 <= n; i += 8) {
        uint64_t r = next_random(state);
        memcpy(dst + i, &r, 8);
    }
    if (i < n) {
        uint64_t r = next_random(state);
        memcpy(dst + i, &r, n - i);
    }
}

static void put_half(uint8_t *dst, float value)
{
    uint16_t h = llm_f32_to_f16(value);
    memcpy(dst, &h, 2);
}

/*
 * Overwrites the scale fields of n_blocks random blocks. With uniform random
 * quants and sub-block scales, each d below gives weights of root mean square
 * near WEIGHT_RMS: d = WEIGHT_RMS / rms(scale x quant), with the rms of the
 * product taken over the uniform ranges listed in quant_blocks.h. For the
 * types with a min term, dmin = d x mean(quant) makes the mean weight near 0.
 */
static void set_block_scales(uint32_t type, uint8_t *blocks, size_t n_blocks)
{
    /* rms(sc) x rms(q): Q3_K sc -32..31, q -4..3; Q6_K sc -128..127, q -32..31;
     * Q8_0 q -128..127; Q4_K and Q5_K: std of sc x q - (mean q) x mn, sc and mn 0..63. */
    const float q3k_d = WEIGHT_RMS / (18.5f * 2.35f);
    const float q4k_d = WEIGHT_RMS / 245.0f;
    const float q5k_d = WEIGHT_RMS / 527.0f;
    const float q6k_d = WEIGHT_RMS / (73.9f * 18.5f);
    const float q80_d = WEIGHT_RMS / 73.9f;
    size_t b;

    for (b = 0; b < n_blocks; b++) {
        switch (type) {
        case LLM_TYPE_Q3_K: {
            uint8_t *blk = blocks + b * sizeof(block_q3k);
            put_half(blk + offsetof(block_q3k, d), q3k_d);
            break;
        }
        case LLM_TYPE_Q4_K: {
            uint8_t *blk = blocks + b * sizeof(block_q4k);
            put_half(blk + offsetof(block_q4k, d), q4k_d);
            put_half(blk + offsetof(block_q4k, dmin), q4k_d * 7.5f);
            break;
        }
        case LLM_TYPE_Q5_K: {
            uint8_t *blk = blocks + b * sizeof(block_q5k);
            put_half(blk + offsetof(block_q5k, d), q5k_d);
            put_half(blk + offsetof(block_q5k, dmin), q5k_d * 15.5f);
            break;
        }
        case LLM_TYPE_Q6_K: {
            uint8_t *blk = blocks + b * sizeof(block_q6k);
            put_half(blk + offsetof(block_q6k, d), q6k_d);
            break;
        }
        case LLM_TYPE_Q8_0: {
            uint8_t *blk = blocks + b * sizeof(block_q8_0);
            put_half(blk + offsetof(block_q8_0, d), q80_d);
            break;
        }
        default:
            break;
        }
    }
}

/* F16 weights uniform in [-a, a], a = sqrt(3) x WEIGHT_RMS. */
static void fill_f16(uint8_t *dst, size_t n_values, uint64_t *state)
{
    const float a = 1.7320508f * WEIGHT_RMS;
    size_t i;

    for (i = 0; i < n_values; i++) {
        float u = (float)(next_random(state) >> 40) * (1.0f / 16777216.0f); /* [0, 1) */
        put_half(dst + 2 * i, (2.0f * u - 1.0f) * a);
    }
}

/* Llama 3.x rope_freqs.weight: the divisor of each of the n_rot / 2 RoPE frequencies. */
static void fill_rope_freqs(float *dst, uint32_t n, uint32_t n_rot, float scale)
{
    const double pi = 3.14159265358979323846;
    const double low_freq_wavelen = ROPE_ORIGINAL_CONTEXT / ROPE_LOW_FREQ_FACTOR;
    const double high_freq_wavelen = ROPE_ORIGINAL_CONTEXT / ROPE_HIGH_FREQ_FACTOR;
    uint32_t i;

    for (i = 0; i < n; i++) {
        double freq = pow(ROPE_FREQ_BASE, -2.0 * i / n_rot);
        double wavelen = 2.0 * pi / freq;
        double factor;
        if (wavelen < high_freq_wavelen) {
            factor = 1.0;
        } else if (wavelen > low_freq_wavelen) {
            factor = scale;
        } else {
            double smooth = (ROPE_ORIGINAL_CONTEXT / wavelen - ROPE_LOW_FREQ_FACTOR) /
                            (ROPE_HIGH_FREQ_FACTOR - ROPE_LOW_FREQ_FACTOR);
            factor = 1.0 / ((1.0 - smooth) / scale + smooth);
        }
        dst[i] = (float)factor;
    }
}

/* Writes the data of one tensor. Each tensor has its own random stream, from the seed and its index. */
static void out_tensor_data(out_file *o, const tensor_plan *t, size_t index, uint64_t seed,
                            const model_preset *p)
{
    const llm_type_info *info = llm_type_get(t->type);
    uint64_t state = seed * 0x100000001B3ull + index;
    uint64_t remaining = t->n_bytes;
    size_t chunk_max = WRITE_BUFFER_BYTES / (size_t)info->type_size * (size_t)info->type_size;

    next_random(&state);
    if (t->role == ROLE_ROPE_FREQS) {
        float freqs[512]; /* head_dim / 2 values; head_dim is at most 1024 in every preset */
        fill_rope_freqs(freqs, (uint32_t)t->ne[0], p->n_embd / p->n_heads, p->rope_scale);
        out_bytes(o, freqs, t->n_bytes);
        return;
    }
    while (remaining > 0) {
        size_t chunk = remaining < chunk_max ? (size_t)remaining : chunk_max;
        uint8_t *dst = out_reserve(o, chunk);
        if (t->type == LLM_TYPE_F32) {
            float one = 1.0f; /* norm weights */
            size_t i;
            for (i = 0; i < chunk / 4; i++)
                memcpy(dst + 4 * i, &one, 4);
        } else if (t->type == LLM_TYPE_F16) {
            fill_f16(dst, chunk / 2, &state);
        } else {
            fill_random(dst, chunk, &state);
            set_block_scales(t->type, dst, chunk / (size_t)info->type_size);
        }
        remaining -= chunk;
    }
}

/* ---- the tensor list ------------------------------------------------- */

static void add_tensor(tensor_plan *list, size_t *n, const char *name, enum tensor_role role, uint64_t ne0,
                       uint64_t ne1, uint32_t type)
{
    tensor_plan *t = &list[(*n)++];

    snprintf(t->name, sizeof t->name, "%s", name);
    t->role = role;
    t->n_dims = ne1 > 1 ? 2 : 1;
    t->ne[0] = ne0;
    t->ne[1] = ne1;
    t->type = type;
    t->n_bytes = (uint64_t)llm_row_bytes(type, (int64_t)ne0) * ne1;
}

/* Lists the tensors in llama.cpp's file order and returns their count. */
static size_t plan_tensors(tensor_plan *list, const model_preset *p, const type_mix *mix, uint32_t n_vocab)
{
    static const struct {
        const char *suffix;
        enum tensor_role role;
    } layer_tensors[] = {
        {"attn_norm", ROLE_NORM},   {"attn_q", ROLE_ATTN_Q},     {"attn_k", ROLE_ATTN_K},
        {"attn_v", ROLE_ATTN_V},    {"attn_output", ROLE_ATTN_OUTPUT}, {"ffn_norm", ROLE_NORM},
        {"ffn_gate", ROLE_FFN_GATE}, {"ffn_up", ROLE_FFN_UP},    {"ffn_down", ROLE_FFN_DOWN},
    };
    uint32_t head_dim = p->n_embd / p->n_heads;
    uint64_t kv_dim = (uint64_t)p->n_kv_heads * head_dim;
    size_t n = 0;
    uint64_t offset = 0;
    uint32_t il;
    size_t i;

    add_tensor(list, &n, "token_embd.weight", ROLE_TOKEN_EMBD, p->n_embd, n_vocab,
               tensor_type(mix, ROLE_TOKEN_EMBD, 0, p->n_layers, p->tied_output));
    add_tensor(list, &n, "rope_freqs.weight", ROLE_ROPE_FREQS, head_dim / 2, 1, LLM_TYPE_F32);
    for (il = 0; il < p->n_layers; il++) {
        for (i = 0; i < sizeof layer_tensors / sizeof layer_tensors[0]; i++) {
            enum tensor_role role = layer_tensors[i].role;
            uint64_t ne0 = p->n_embd, ne1 = p->n_embd;
            char name[64];
            if (role == ROLE_NORM)
                ne1 = 1;
            else if (role == ROLE_ATTN_K || role == ROLE_ATTN_V)
                ne1 = kv_dim;
            else if (role == ROLE_FFN_GATE || role == ROLE_FFN_UP)
                ne1 = p->n_ff;
            else if (role == ROLE_FFN_DOWN)
                ne0 = p->n_ff;
            snprintf(name, sizeof name, "blk.%u.%s.weight", il, layer_tensors[i].suffix);
            add_tensor(list, &n, name, role, ne0, ne1, tensor_type(mix, role, il, p->n_layers, p->tied_output));
        }
    }
    add_tensor(list, &n, "output_norm.weight", ROLE_NORM, p->n_embd, 1, LLM_TYPE_F32);
    if (!p->tied_output)
        add_tensor(list, &n, "output.weight", ROLE_OUTPUT, p->n_embd, n_vocab,
                   tensor_type(mix, ROLE_OUTPUT, 0, p->n_layers, 0));

    for (i = 0; i < n; i++) {
        list[i].offset = offset;
        offset += (list[i].n_bytes + GGUF_DEFAULT_ALIGNMENT - 1) / GGUF_DEFAULT_ALIGNMENT * GGUF_DEFAULT_ALIGNMENT;
    }
    return n;
}

/* ---- the vocabulary template ----------------------------------------- */

typedef struct {
    void *map;
    size_t map_bytes;
    gguf_file file;
    uint32_t n_vocab;
    uint64_t n_tokenizer_kv; /* pairs whose key starts with "tokenizer." */
} vocab_template;

static int is_tokenizer_key(const gguf_kv *kv)
{
    static const char prefix[] = "tokenizer.";
    return kv->key.len >= sizeof prefix - 1 && memcmp(kv->key.ptr, prefix, sizeof prefix - 1) == 0;
}

static void open_template(vocab_template *t, const char *path)
{
    const gguf_kv *tokens;
    llm_error err;
    struct stat st;
    uint64_t i;
    int fd = open(path, O_RDONLY);

    if (fd < 0 || fstat(fd, &st) != 0)
        fail("%s: cannot open the vocabulary template", path);
    t->map_bytes = (size_t)st.st_size;
    t->map = mmap(NULL, t->map_bytes, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (t->map == MAP_FAILED)
        fail("%s: cannot map the vocabulary template", path);
    if (gguf_open(&t->file, t->map, t->map_bytes, path, &err) != LLM_OK)
        fail("%s", err.message);

    tokens = gguf_find(&t->file, "tokenizer.ggml.tokens");
    if (!tokens || tokens->type != GGUF_ARRAY || tokens->v.arr.type != GGUF_STRING || tokens->v.arr.n == 0 ||
        tokens->v.arr.n > INT32_MAX)
        fail("%s: no tokenizer.ggml.tokens string array; expected a GGUF with a vocabulary, such as "
             "llama3-tiny-q3kl.gguf",
             path);
    t->n_vocab = (uint32_t)tokens->v.arr.n;
    for (i = 0; i < t->file.n_kv; i++)
        t->n_tokenizer_kv += is_tokenizer_key(&t->file.kv[i]);
}

static void close_template(vocab_template *t)
{
    gguf_close(&t->file);
    munmap(t->map, t->map_bytes);
}

/* ---- main ------------------------------------------------------------- */

static void usage(FILE *out)
{
    fprintf(out,
            "usage: gen_model --preset 8b|3b|1b --type Q3_K_L|Q4_K_M|Q8_0|F16 --vocab FILE -o FILE [--seed N]\n"
            "\n"
            "Writes a Llama 3.x GGUF with random weights and the vocabulary of a template GGUF.\n"
            "\n"
            "  --preset NAME  8b: Llama 3.1 8B (untied output); 3b, 1b: Llama 3.2 (tied output)\n"
            "  --type MIX     tensor types as llama-quantize assigns them for this mix\n"
            "  --vocab FILE   GGUF whose tokenizer.* metadata is copied (the Llama 3 vocabulary)\n"
            "  --seed N       seed of the random weights (default: 1)\n"
            "  -o FILE        output path; written as FILE.partial, then renamed\n");
}

int main(int argc, char **argv)
{
    const model_preset *preset = NULL;
    const type_mix *mix = NULL;
    const char *vocab_path = NULL, *out_path = NULL;
    uint64_t seed = 1;
    vocab_template tmpl;
    tensor_plan *tensors;
    size_t n_tensors, i;
    uint64_t n_kv, data_bytes = 0;
    char partial[4096], general_name[128];
    out_file o;
    struct timespec t0, t1;
    double seconds;
    int a;

    for (a = 1; a < argc; a++) {
        const char *arg = argv[a];
        const char *value = a + 1 < argc ? argv[a + 1] : NULL;
        if (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0) {
            usage(stdout);
            return 0;
        }
        if (!value) {
            fprintf(stderr, "gen_model: %s needs a value\n", arg);
            usage(stderr);
            return 1;
        }
        a++;
        if (strcmp(arg, "--preset") == 0) {
            for (i = 0; i < sizeof presets / sizeof presets[0]; i++)
                if (strcmp(value, presets[i].name) == 0)
                    preset = &presets[i];
            if (!preset)
                fail("--preset '%s' is unknown; expected 8b, 3b or 1b", value);
        } else if (strcmp(arg, "--type") == 0) {
            for (i = 0; i < sizeof mixes / sizeof mixes[0]; i++)
                if (strcmp(value, mixes[i].name) == 0)
                    mix = &mixes[i];
            if (!mix)
                fail("--type '%s' is unknown; expected Q3_K_L, Q4_K_M, Q8_0 or F16", value);
        } else if (strcmp(arg, "--seed") == 0) {
            char *end;
            seed = strtoull(value, &end, 10);
            if (*value == 0 || *end != 0)
                fail("--seed '%s' is not a non-negative integer", value);
        } else if (strcmp(arg, "--vocab") == 0) {
            vocab_path = value;
        } else if (strcmp(arg, "-o") == 0 || strcmp(arg, "--output") == 0) {
            out_path = value;
        } else {
            fprintf(stderr, "gen_model: unknown option %s\n", arg);
            usage(stderr);
            return 1;
        }
    }
    if (!preset || !mix || !vocab_path || !out_path) {
        fprintf(stderr, "gen_model: --preset, --type, --vocab and -o are required\n");
        usage(stderr);
        return 1;
    }
    if (strlen(out_path) + sizeof ".partial" > sizeof partial)
        fail("%s: output path is too long", out_path);
    snprintf(partial, sizeof partial, "%s.partial", out_path);

    clock_gettime(CLOCK_MONOTONIC, &t0);
    memset(&tmpl, 0, sizeof tmpl);
    open_template(&tmpl, vocab_path);

    tensors = calloc(4 + 9 * (size_t)preset->n_layers, sizeof *tensors);
    if (!tensors)
        fail("%s", "out of memory for the tensor list");
    n_tensors = plan_tensors(tensors, preset, mix, tmpl.n_vocab);

    o.path = partial;
    o.len = 0;
    o.written = 0;
    o.buf = malloc(WRITE_BUFFER_BYTES);
    if (!o.buf)
        fail("%s", "out of memory for the write buffer");
    o.fd = open(partial, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (o.fd < 0) {
        fprintf(stderr, "gen_model: %s: cannot create: %s\n", partial, strerror(errno));
        return 1;
    }

    /* Header, then metadata in the order llama.cpp's converter writes it. */
    n_kv = 14 + tmpl.n_tokenizer_kv;
    out_bytes(&o, "GGUF", 4);
    out_u32(&o, 3);
    out_u64(&o, n_tensors);
    out_u64(&o, n_kv);
    snprintf(general_name, sizeof general_name, "synthetic %s %s, seed %llu", preset->description, mix->name,
             (unsigned long long)seed);
    out_kv_str(&o, "general.architecture", "llama");
    out_kv_str(&o, "general.name", general_name);
    out_kv_u32(&o, "llama.block_count", preset->n_layers);
    out_kv_u32(&o, "llama.context_length", CONTEXT_LENGTH);
    out_kv_u32(&o, "llama.embedding_length", preset->n_embd);
    out_kv_u32(&o, "llama.feed_forward_length", preset->n_ff);
    out_kv_u32(&o, "llama.attention.head_count", preset->n_heads);
    out_kv_u32(&o, "llama.attention.head_count_kv", preset->n_kv_heads);
    out_kv_f32(&o, "llama.rope.freq_base", ROPE_FREQ_BASE);
    out_kv_f32(&o, "llama.attention.layer_norm_rms_epsilon", RMS_EPS);
    out_kv_u32(&o, "general.file_type", mix->file_type);
    out_kv_u32(&o, "llama.vocab_size", tmpl.n_vocab);
    out_kv_u32(&o, "llama.rope.dimension_count", preset->n_embd / preset->n_heads);
    for (i = 0; i < tmpl.file.n_kv; i++)
        if (is_tokenizer_key(&tmpl.file.kv[i]))
            out_copied_kv(&o, &tmpl.file.kv[i]);
    out_kv_u32(&o, "general.quantization_version", 2);

    for (i = 0; i < n_tensors; i++) {
        const tensor_plan *t = &tensors[i];
        out_str(&o, t->name, strlen(t->name));
        out_u32(&o, t->n_dims);
        out_bytes(&o, t->ne, 8 * (uint64_t)t->n_dims);
        out_u32(&o, t->type);
        out_u64(&o, t->offset);
    }
    out_padding(&o, GGUF_DEFAULT_ALIGNMENT);

    for (i = 0; i < n_tensors; i++) {
        out_tensor_data(&o, &tensors[i], i, seed, preset);
        out_padding(&o, GGUF_DEFAULT_ALIGNMENT);
        data_bytes += tensors[i].n_bytes;
    }
    out_flush(&o);
    if (close(o.fd) != 0) {
        fprintf(stderr, "gen_model: %s: close failed: %s\n", partial, strerror(errno));
        return 1;
    }
    if (rename(partial, out_path) != 0) {
        fprintf(stderr, "gen_model: cannot rename %s to %s: %s\n", partial, out_path, strerror(errno));
        return 1;
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);

    fprintf(stderr, "# %s: %s, %zu tensors, %.1f MiB of weights, %llu bytes in %.1f s (%.0f MiB/s)\n", out_path,
            general_name, n_tensors, (double)data_bytes / 1048576.0, (unsigned long long)o.written, seconds,
            (double)o.written / 1048576.0 / seconds);

    free(o.buf);
    free(tensors);
    close_template(&tmpl);
    return 0;
}
