/*
 * model.c - the Llama forward pass (Llama 2, 3, 3.1 and 3.2 layouts).
 *
 * llm_model_open() finds every tensor by name, checks its shape and type
 * against the hyperparameters, and keeps pointers into the file buffer: no
 * weight is copied. llm_eval() runs tokens one position at a time; matrix
 * products quantize the activation row to the weight type's dot type first,
 * as llama.cpp's CPU backend does, so logits agree closely with it. The KV
 * cache is stored as F16, also as llama.cpp stores it by default.
 */
#include "llm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LAYERS 512

typedef struct {
    const gguf_tensor *attn_norm, *wq, *wk, *wv, *wo;
    const gguf_tensor *ffn_norm, *w_gate, *w_up, *w_down;
} llm_layer;

struct llm_model {
    gguf_file file;
    llm_hparams hp;
    llm_vocab *vocab;
    const gguf_tensor *token_embd, *output_norm, *output;
    const float *rope_freqs; /* [n_rot / 2] divisors of each RoPE frequency, or NULL */
    llm_layer *layers;       /* [n_layers] */
    uint64_t n_params;
};

struct llm_ctx {
    const llm_model *m;
    const llm_kernels *k;
    uint32_t n_ctx;
    uint32_t pos; /* tokens already in the cache */

    uint16_t *k_cache; /* [n_layers][n_ctx][n_kv_heads * head_dim], F16 */
    uint16_t *v_cache; /* [n_layers][n_ctx][n_kv_heads * v_head_dim], F16 */

    float *x;      /* [n_embd] residual stream */
    float *xb;     /* [max(n_embd, q_dim, v_dim)] normed input of a block */
    float *q;      /* [n_heads * head_dim] */
    float *kv_row; /* [max(k_dim, v_dim)] the new key or value before F16 storage */
    float *att;    /* [n_heads * v_head_dim] attention output */
    float *scores; /* [n_ctx] one head's attention weights */
    float *gate;   /* [n_ff] */
    float *up;     /* [n_ff] */
    float *logits; /* [n_vocab] */
    float *rope_cos, *rope_sin; /* [n_rot / 2] for the current position */
    void *acts;    /* activation row converted to a dot type; sized for the widest input */
};

/* ---- loading ---------------------------------------------------------- */

static int read_u32_key(const gguf_file *f, const char *key, uint32_t *out, int required, uint32_t fallback,
                        llm_error *err)
{
    if (!gguf_find(f, key) && !required) {
        *out = fallback;
        return LLM_OK;
    }
    return gguf_get_u32(f, key, out, err);
}

static int read_f32_key(const gguf_file *f, const char *key, float *out, int required, float fallback,
                        llm_error *err)
{
    double d;

    if (!gguf_find(f, key) && !required) {
        *out = fallback;
        return LLM_OK;
    }
    if (gguf_get_f64(f, key, &d, err) != LLM_OK)
        return LLM_ERR;
    *out = (float)d;
    return LLM_OK;
}

static int read_hparams(llm_model *m, llm_error *err)
{
    const gguf_file *f = &m->file;
    llm_hparams *hp = &m->hp;
    gguf_str arch;

    if (gguf_get_str(f, "general.architecture", &arch, err) != LLM_OK)
        return LLM_ERR;
    /* LIMIT: only general.architecture "llama"; other architectures are rejected by name here. */
    if (!gguf_str_eq(arch, "llama")) {
        char shown[64];
        size_t n = arch.len < sizeof shown - 1 ? (size_t)arch.len : sizeof shown - 1;
        memcpy(shown, arch.ptr, n);
        shown[n] = 0;
        return llm_fail(err, "%s: architecture '%s' is not supported, expected 'llama' (Llama 2, 3, 3.1, 3.2)",
                        f->name, shown);
    }
    if (read_u32_key(f, "llama.embedding_length", &hp->n_embd, 1, 0, err) ||
        read_u32_key(f, "llama.block_count", &hp->n_layers, 1, 0, err) ||
        read_u32_key(f, "llama.feed_forward_length", &hp->n_ff, 1, 0, err) ||
        read_u32_key(f, "llama.attention.head_count", &hp->n_heads, 1, 0, err) ||
        read_u32_key(f, "llama.context_length", &hp->n_ctx_train, 1, 0, err) ||
        read_f32_key(f, "llama.attention.layer_norm_rms_epsilon", &hp->rms_eps, 1, 0, err) ||
        read_f32_key(f, "llama.rope.freq_base", &hp->rope_base, 0, 10000.0f, err))
        return LLM_ERR;
    if (hp->n_embd == 0 || hp->n_layers == 0 || hp->n_heads == 0 || hp->n_ff == 0 || hp->n_ctx_train == 0)
        return llm_fail(err,
                        "%s: embedding_length %u, block_count %u, feed_forward_length %u, head_count %u, "
                        "context_length %u: expected all above 0",
                        f->name, hp->n_embd, hp->n_layers, hp->n_ff, hp->n_heads, hp->n_ctx_train);
    if (hp->n_layers > MAX_LAYERS)
        return llm_fail(err, "%s: block_count is %u, expected at most %d", f->name, hp->n_layers, MAX_LAYERS);
    if (read_u32_key(f, "llama.attention.head_count_kv", &hp->n_kv_heads, 0, hp->n_heads, err) ||
        read_u32_key(f, "llama.attention.key_length", &hp->head_dim, 0, hp->n_embd / hp->n_heads, err) ||
        read_u32_key(f, "llama.attention.value_length", &hp->v_head_dim, 0, hp->head_dim, err) ||
        read_u32_key(f, "llama.rope.dimension_count", &hp->n_rot, 0, hp->head_dim, err))
        return LLM_ERR;
    if (hp->n_kv_heads == 0 || hp->n_heads % hp->n_kv_heads != 0)
        return llm_fail(err, "%s: head_count_kv is %u, expected a divisor of head_count %u", f->name,
                        hp->n_kv_heads, hp->n_heads);
    if (hp->head_dim == 0 || hp->v_head_dim == 0 || hp->head_dim > 4096 || hp->v_head_dim > 4096)
        return llm_fail(err, "%s: key_length %u and value_length %u, expected 1 to 4096", f->name, hp->head_dim,
                        hp->v_head_dim);
    if (hp->n_rot == 0 || hp->n_rot > hp->head_dim || hp->n_rot % 2 != 0)
        return llm_fail(err, "%s: rope.dimension_count is %u, expected an even number from 2 to key_length %u",
                        f->name, hp->n_rot, hp->head_dim);
    if (!(hp->rope_base > 0.0f) || !isfinite(hp->rope_base))
        return llm_fail(err, "%s: rope.freq_base is %g, expected a finite number above 0", f->name,
                        (double)hp->rope_base);
    if (!(hp->rms_eps >= 0.0f) || !isfinite(hp->rms_eps))
        return llm_fail(err, "%s: attention.layer_norm_rms_epsilon is %g, expected a finite number >= 0", f->name,
                        (double)hp->rms_eps);
    return LLM_OK;
}

/* Finds a tensor and checks it is a matrix of ne0 x ne1 (ne1 = 1 for a vector). */
static const gguf_tensor *find_tensor(const llm_model *m, const char *name, uint64_t ne0, uint64_t ne1,
                                      int optional, llm_error *err)
{
    const gguf_tensor *t = gguf_find_tensor(&m->file, name);

    if (!t) {
        if (!optional)
            llm_fail(err, "%s: tensor '%s' is missing (expected shape %llu x %llu)", m->file.name, name,
                     (unsigned long long)ne0, (unsigned long long)ne1);
        return NULL;
    }
    if (t->ne[0] != ne0 || t->ne[1] != ne1 || t->ne[2] != 1 || t->ne[3] != 1) {
        llm_fail(err, "%s: tensor '%s' has shape %llu x %llu x %llu x %llu, expected %llu x %llu", m->file.name,
                 name, (unsigned long long)t->ne[0], (unsigned long long)t->ne[1], (unsigned long long)t->ne[2],
                 (unsigned long long)t->ne[3], (unsigned long long)ne0, (unsigned long long)ne1);
        return NULL;
    }
    return t;
}

/* A vector read directly as floats (norm weights, rope_freqs). */
static const gguf_tensor *find_f32_vector(const llm_model *m, const char *name, uint64_t n, int optional,
                                          llm_error *err)
{
    const gguf_tensor *t = find_tensor(m, name, n, 1, optional, err);

    if (t && t->type != LLM_TYPE_F32) {
        llm_fail(err, "%s: tensor '%s' has type %s, expected F32", m->file.name, name, llm_type_name(t->type));
        return NULL;
    }
    return t;
}

static int find_layer(llm_model *m, uint32_t il, llm_error *err)
{
    const llm_hparams *hp = &m->hp;
    llm_layer *l = &m->layers[il];
    uint64_t q_dim = (uint64_t)hp->n_heads * hp->head_dim;
    uint64_t k_dim = (uint64_t)hp->n_kv_heads * hp->head_dim;
    uint64_t v_dim = (uint64_t)hp->n_kv_heads * hp->v_head_dim;
    uint64_t att_dim = (uint64_t)hp->n_heads * hp->v_head_dim;
    char name[64];

#define LAYER_TENSOR(field, suffix, ne0, ne1)                                        \
    snprintf(name, sizeof name, "blk.%u.%s.weight", il, suffix);                     \
    if (!(l->field = find_tensor(m, name, ne0, ne1, 0, err)))                        \
        return LLM_ERR;

    LAYER_TENSOR(wq, "attn_q", hp->n_embd, q_dim)
    LAYER_TENSOR(wk, "attn_k", hp->n_embd, k_dim)
    LAYER_TENSOR(wv, "attn_v", hp->n_embd, v_dim)
    LAYER_TENSOR(wo, "attn_output", att_dim, hp->n_embd)
    LAYER_TENSOR(w_gate, "ffn_gate", hp->n_embd, hp->n_ff)
    LAYER_TENSOR(w_up, "ffn_up", hp->n_embd, hp->n_ff)
    LAYER_TENSOR(w_down, "ffn_down", hp->n_ff, hp->n_embd)
#undef LAYER_TENSOR

    snprintf(name, sizeof name, "blk.%u.attn_norm.weight", il);
    if (!(l->attn_norm = find_f32_vector(m, name, hp->n_embd, 0, err)))
        return LLM_ERR;
    snprintf(name, sizeof name, "blk.%u.ffn_norm.weight", il);
    if (!(l->ffn_norm = find_f32_vector(m, name, hp->n_embd, 0, err)))
        return LLM_ERR;
    return LLM_OK;
}

/* Every matrix must have rows that its dot type can hold in whole blocks. */
static int check_matrix_types(const llm_model *m, llm_error *err)
{
    uint64_t i;
    char name[300];

    for (i = 0; i < m->file.n_tensors; i++) {
        const gguf_tensor *t = &m->file.tensors[i];
        const llm_type_info *dot = llm_type_get(llm_type_get(t->type)->dot_type);
        if (t->n_dims >= 2 && t->ne[0] % (uint64_t)dot->block_size != 0) {
            size_t n = t->name.len < 200 ? (size_t)t->name.len : 200;
            memcpy(name, t->name.ptr, n);
            name[n] = 0;
            return llm_fail(err, "%s: tensor '%s' has rows of %llu, expected a multiple of %d for %s activations",
                            m->file.name, name, (unsigned long long)t->ne[0], dot->block_size, dot->name);
        }
    }
    return LLM_OK;
}

static int find_tensors(llm_model *m, llm_error *err)
{
    const llm_hparams *hp = &m->hp;
    const gguf_tensor *t;
    uint32_t il;
    uint64_t i;

    m->token_embd = gguf_find_tensor(&m->file, "token_embd.weight");
    if (!m->token_embd)
        return llm_fail(err, "%s: tensor 'token_embd.weight' is missing", m->file.name);
    m->hp.n_vocab = (uint32_t)m->token_embd->ne[1];
    if (m->token_embd->ne[1] > INT32_MAX || !find_tensor(m, "token_embd.weight", hp->n_embd, hp->n_vocab, 0, err))
        return llm_fail(err, "%s: tensor 'token_embd.weight' has shape %llu x %llu, expected %u x n_vocab",
                        m->file.name, (unsigned long long)m->token_embd->ne[0],
                        (unsigned long long)m->token_embd->ne[1], hp->n_embd);
    if (!(m->output_norm = find_f32_vector(m, "output_norm.weight", hp->n_embd, 0, err)))
        return LLM_ERR;

    /* Llama 3.2 1B and 3B tie the output projection to the embedding. */
    m->output = find_tensor(m, "output.weight", hp->n_embd, hp->n_vocab, 1, err);
    if (!m->output && gguf_find_tensor(&m->file, "output.weight"))
        return LLM_ERR;
    if (!m->output)
        m->output = m->token_embd;

    t = find_f32_vector(m, "rope_freqs.weight", hp->n_rot / 2, 1, err);
    if (!t && gguf_find_tensor(&m->file, "rope_freqs.weight"))
        return LLM_ERR;
    m->rope_freqs = t ? (const float *)t->data : NULL;

    m->layers = calloc(hp->n_layers, sizeof *m->layers);
    if (!m->layers)
        return llm_fail(err, "%s: out of memory for %u layers", m->file.name, hp->n_layers);
    for (il = 0; il < hp->n_layers; il++) {
        if (find_layer(m, il, err) != LLM_OK)
            return LLM_ERR;
    }
    if (check_matrix_types(m, err) != LLM_OK)
        return LLM_ERR;

    for (i = 0; i < m->file.n_tensors; i++) {
        const gguf_tensor *x = &m->file.tensors[i];
        m->n_params += x->ne[0] * x->ne[1] * x->ne[2] * x->ne[3];
    }
    return LLM_OK;
}

llm_model *llm_model_open(const void *bytes, size_t n_bytes, const char *name, llm_error *err)
{
    llm_model *m = calloc(1, sizeof *m);

    if (!m) {
        llm_fail(err, "%s: out of memory", name);
        return NULL;
    }
    if (gguf_open(&m->file, bytes, n_bytes, name, err) != LLM_OK) {
        free(m);
        return NULL;
    }
    if (read_hparams(m, err) != LLM_OK || find_tensors(m, err) != LLM_OK)
        goto fail;
    m->vocab = llm_vocab_open(&m->file, err);
    if (!m->vocab)
        goto fail;
    if (llm_vocab_size(m->vocab) != (int32_t)m->hp.n_vocab) {
        llm_fail(err, "%s: the vocabulary has %d tokens but token_embd.weight has %u rows, expected equal counts",
                 name, llm_vocab_size(m->vocab), m->hp.n_vocab);
        goto fail;
    }
    return m;

fail:
    llm_model_close(m);
    return NULL;
}

void llm_model_close(llm_model *m)
{
    if (!m)
        return;
    llm_vocab_close(m->vocab);
    free(m->layers);
    gguf_close(&m->file);
    free(m);
}

const llm_hparams *llm_model_hparams(const llm_model *m)
{
    return &m->hp;
}

const llm_vocab *llm_model_vocab(const llm_model *m)
{
    return m->vocab;
}

const gguf_file *llm_model_file(const llm_model *m)
{
    return &m->file;
}

uint64_t llm_model_n_params(const llm_model *m)
{
    return m->n_params;
}

void llm_model_describe_types(const llm_model *m, char *buf, size_t cap)
{
    uint64_t counts[LLM_TYPE_COUNT] = {0};
    uint64_t i;
    size_t used = 0;
    int t;

    for (i = 0; i < m->file.n_tensors; i++)
        counts[m->file.tensors[i].type]++;
    buf[0] = 0;
    for (t = 0; t < LLM_TYPE_COUNT && used < cap; t++) {
        if (counts[t])
            used += (size_t)snprintf(buf + used, cap - used, "%s%s %llu", used ? ", " : "", llm_type_name((uint32_t)t),
                                     (unsigned long long)counts[t]);
    }
}

/* ---- context ---------------------------------------------------------- */

static uint64_t max_u64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

/* Widest activation row any matrix product takes, in elements. */
static uint64_t widest_input(const llm_hparams *hp)
{
    return max_u64(max_u64(hp->n_embd, hp->n_ff), (uint64_t)hp->n_heads * hp->v_head_dim);
}

uint64_t llm_ctx_bytes(const llm_model *m, uint32_t n_ctx)
{
    const llm_hparams *hp = &m->hp;
    uint64_t kv_width = (uint64_t)hp->n_kv_heads * (hp->head_dim + hp->v_head_dim);
    uint64_t floats = hp->n_embd + widest_input(hp) + (uint64_t)hp->n_heads * hp->head_dim +
                      (uint64_t)hp->n_kv_heads * max_u64(hp->head_dim, hp->v_head_dim) +
                      (uint64_t)hp->n_heads * hp->v_head_dim + n_ctx + 2 * (uint64_t)hp->n_ff + hp->n_vocab +
                      hp->n_rot;
    /* A Q8_K block (292 bytes per 256) is the largest per-element cost of any dot type but F32. */
    uint64_t acts = widest_input(hp) * 4 + 1024;

    return (uint64_t)hp->n_layers * n_ctx * kv_width * 2 + floats * 4 + acts;
}

llm_ctx *llm_ctx_new(const llm_model *m, const llm_ctx_params *p, llm_error *err)
{
    const llm_hparams *hp = &m->hp;
    llm_ctx *c;
    uint32_t n_ctx = p && p->n_ctx ? p->n_ctx : hp->n_ctx_train;
    uint64_t k_dim = (uint64_t)hp->n_kv_heads * hp->head_dim, v_dim = (uint64_t)hp->n_kv_heads * hp->v_head_dim;
    uint64_t cache_rows = (uint64_t)hp->n_layers * n_ctx;
    uint64_t bytes = llm_ctx_bytes(m, n_ctx);

    if (n_ctx > hp->n_ctx_train) {
        llm_fail(err, "%s: context of %u tokens requested but the model was trained for %u (use -c %u or less)",
                 m->file.name, n_ctx, hp->n_ctx_train, hp->n_ctx_train);
        return NULL;
    }
    if (bytes > (uint64_t)SIZE_MAX / 2) {
        llm_fail(err, "%s: a context of %u tokens needs %llu bytes, more than this platform can address (use a smaller -c)",
                 m->file.name, n_ctx, (unsigned long long)bytes);
        return NULL;
    }
    c = calloc(1, sizeof *c);
    if (!c) {
        llm_fail(err, "out of memory for the context");
        return NULL;
    }
    c->m = m;
    c->k = p && p->kernels ? p->kernels : &llm_kernels_scalar;
    c->n_ctx = n_ctx;
    c->k_cache = malloc((size_t)(cache_rows * k_dim * 2));
    c->v_cache = malloc((size_t)(cache_rows * v_dim * 2));
    c->x = malloc((size_t)hp->n_embd * 4);
    c->xb = malloc((size_t)widest_input(hp) * 4);
    c->q = malloc((size_t)hp->n_heads * hp->head_dim * 4);
    c->kv_row = malloc((size_t)max_u64(k_dim, v_dim) * 4);
    c->att = malloc((size_t)hp->n_heads * hp->v_head_dim * 4);
    c->scores = malloc((size_t)n_ctx * 4);
    c->gate = malloc((size_t)hp->n_ff * 4);
    c->up = malloc((size_t)hp->n_ff * 4);
    c->logits = malloc((size_t)hp->n_vocab * 4);
    c->rope_cos = malloc((size_t)hp->n_rot / 2 * 4);
    c->rope_sin = malloc((size_t)hp->n_rot / 2 * 4);
    c->acts = malloc((size_t)widest_input(hp) * 4 + 1024);
    if (!c->k_cache || !c->v_cache || !c->x || !c->xb || !c->q || !c->kv_row || !c->att || !c->scores ||
        !c->gate || !c->up || !c->logits || !c->rope_cos || !c->rope_sin || !c->acts) {
        llm_fail(err, "%s: out of memory allocating %.1f MiB for a context of %u tokens (use a smaller -c)",
                 m->file.name, (double)bytes / (1024.0 * 1024.0), n_ctx);
        llm_ctx_free(c);
        return NULL;
    }
    memset(c->logits, 0, (size_t)hp->n_vocab * 4);
    return c;
}

void llm_ctx_free(llm_ctx *c)
{
    if (!c)
        return;
    free(c->k_cache);
    free(c->v_cache);
    free(c->x);
    free(c->xb);
    free(c->q);
    free(c->kv_row);
    free(c->att);
    free(c->scores);
    free(c->gate);
    free(c->up);
    free(c->logits);
    free(c->rope_cos);
    free(c->rope_sin);
    free(c->acts);
    free(c);
}

const float *llm_logits(const llm_ctx *c)
{
    return c->logits;
}

uint32_t llm_ctx_pos(const llm_ctx *c)
{
    return c->pos;
}

uint32_t llm_ctx_size(const llm_ctx *c)
{
    return c->n_ctx;
}

/* ---- operations ------------------------------------------------------- */

/* out = W · x for a weight matrix W of ne[1] rows of ne[0] elements. */
static void matmul(llm_ctx *c, float *out, const gguf_tensor *w, const float *x)
{
    const llm_type_info *info = llm_type_get(w->type);
    size_t row_bytes = llm_row_bytes(w->type, (int64_t)w->ne[0]);
    const uint8_t *row = w->data;
    llm_dot_fn dot = c->k->dot[w->type];
    uint64_t i;

    c->k->quantize[info->dot_type](x, c->acts, (int64_t)w->ne[0]);
    for (i = 0; i < w->ne[1]; i++, row += row_bytes)
        out[i] = dot((int64_t)w->ne[0], row, c->acts);
}

/* out = x / sqrt(mean(x²) + eps) ⊙ weight */
static void rmsnorm(float *out, const float *x, const float *weight, uint32_t n, float eps)
{
    double sum = 0.0;
    float scale;
    uint32_t i;

    for (i = 0; i < n; i++)
        sum += (double)x[i] * x[i];
    scale = 1.0f / sqrtf((float)(sum / n) + eps);
    for (i = 0; i < n; i++)
        out[i] = x[i] * scale * weight[i];
}

/*
 * Fills the rotation of each pair (x[2i], x[2i+1]) at position pos:
 * angle_i = pos · base^(-2i / n_rot) / freq_factor_i. The angle is stepped
 * by repeated multiplication in float, as ggml computes it.
 */
static void rope_angles(llm_ctx *c, uint32_t pos)
{
    const llm_hparams *hp = &c->m->hp;
    float theta = (float)pos, step = powf(hp->rope_base, -2.0f / (float)hp->n_rot);
    uint32_t i;

    for (i = 0; i < hp->n_rot / 2; i++) {
        float angle = c->m->rope_freqs ? theta / c->m->rope_freqs[i] : theta;
        c->rope_cos[i] = cosf(angle);
        c->rope_sin[i] = sinf(angle);
        theta *= step;
    }
}

/* Rotates the first n_rot dimensions of each of n_heads heads of head_dim. */
static void rope(const llm_ctx *c, float *x, uint32_t n_heads, uint32_t head_dim)
{
    uint32_t h, i;

    for (h = 0; h < n_heads; h++) {
        float *v = x + (size_t)h * head_dim;
        for (i = 0; i < c->m->hp.n_rot / 2; i++) {
            float x0 = v[2 * i], x1 = v[2 * i + 1];
            v[2 * i] = x0 * c->rope_cos[i] - x1 * c->rope_sin[i];
            v[2 * i + 1] = x0 * c->rope_sin[i] + x1 * c->rope_cos[i];
        }
    }
}

/* Rounds through F16, as llama.cpp does for the operands of its F16 attention products. */
static float round_f16(float x)
{
    return llm_f16_to_f32(llm_f32_to_f16(x));
}

/*
 * One query head over positions 0..n_pos-1 of its KV head:
 * out = Σ_t softmax_t(q·k_t / sqrt(head_dim)) · v_t
 */
static void attend_head(llm_ctx *c, float *out, const float *q, const uint16_t *k_base, const uint16_t *v_base,
                        uint32_t n_pos)
{
    const llm_hparams *hp = &c->m->hp;
    size_t k_stride = (size_t)hp->n_kv_heads * hp->head_dim, v_stride = (size_t)hp->n_kv_heads * hp->v_head_dim;
    float scale = 1.0f / sqrtf((float)hp->head_dim), max = -INFINITY;
    double sum = 0.0;
    uint32_t t, i;

    for (t = 0; t < n_pos; t++) {
        const uint16_t *k = k_base + t * k_stride;
        double dot = 0.0;
        for (i = 0; i < hp->head_dim; i++)
            dot += (double)round_f16(q[i]) * llm_f16_to_f32(k[i]);
        c->scores[t] = (float)dot * scale;
        if (c->scores[t] > max)
            max = c->scores[t];
    }
    for (t = 0; t < n_pos; t++) {
        c->scores[t] = expf(c->scores[t] - max);
        sum += c->scores[t];
    }
    for (i = 0; i < hp->v_head_dim; i++)
        out[i] = 0.0f;
    for (t = 0; t < n_pos; t++) {
        const uint16_t *v = v_base + t * v_stride;
        float p = round_f16((float)(c->scores[t] / sum));
        for (i = 0; i < hp->v_head_dim; i++)
            out[i] += p * llm_f16_to_f32(v[i]);
    }
}

static void store_f16(uint16_t *dst, const float *src, size_t n)
{
    size_t i;

    for (i = 0; i < n; i++)
        dst[i] = llm_f32_to_f16(src[i]);
}

static float silu(float x)
{
    return x / (1.0f + expf(-x));
}

/* Runs one token at position c->pos through every layer; logits only when want_logits. */
static void forward(llm_ctx *c, int32_t token, int want_logits)
{
    const llm_model *m = c->m;
    const llm_hparams *hp = &m->hp;
    uint32_t pos = c->pos, il, h, i;
    uint32_t k_dim = hp->n_kv_heads * hp->head_dim, v_dim = hp->n_kv_heads * hp->v_head_dim;
    uint32_t group = hp->n_heads / hp->n_kv_heads;
    size_t embd_row = llm_row_bytes(m->token_embd->type, hp->n_embd);

    /* 1. x = token_embd[token] */
    c->k->dequantize[m->token_embd->type]((const uint8_t *)m->token_embd->data + (size_t)token * embd_row, c->x,
                                          hp->n_embd);
    rope_angles(c, pos);

    for (il = 0; il < hp->n_layers; il++) {
        const llm_layer *l = &m->layers[il];
        uint16_t *k_cache = c->k_cache + (size_t)il * c->n_ctx * k_dim;
        uint16_t *v_cache = c->v_cache + (size_t)il * c->n_ctx * v_dim;

        /* 2. h = rmsnorm(x) ⊙ attn_norm; q, k, v = Wq·h, Wk·h, Wv·h; rotate q and k */
        rmsnorm(c->xb, c->x, l->attn_norm->data, hp->n_embd, hp->rms_eps);
        matmul(c, c->q, l->wq, c->xb);
        rope(c, c->q, hp->n_heads, hp->head_dim);
        matmul(c, c->kv_row, l->wk, c->xb);
        rope(c, c->kv_row, hp->n_kv_heads, hp->head_dim);
        store_f16(k_cache + (size_t)pos * k_dim, c->kv_row, k_dim);
        matmul(c, c->kv_row, l->wv, c->xb);
        store_f16(v_cache + (size_t)pos * v_dim, c->kv_row, v_dim);

        /* 3. each query head attends over positions 0..pos of its KV head (grouped-query attention) */
        for (h = 0; h < hp->n_heads; h++) {
            uint32_t kv_h = h / group;
            attend_head(c, c->att + (size_t)h * hp->v_head_dim, c->q + (size_t)h * hp->head_dim,
                        k_cache + (size_t)kv_h * hp->head_dim, v_cache + (size_t)kv_h * hp->v_head_dim, pos + 1);
        }

        /* 4. x += Wo · att */
        matmul(c, c->xb, l->wo, c->att);
        for (i = 0; i < hp->n_embd; i++)
            c->x[i] += c->xb[i];

        /* 5. x += W_down · (silu(W_gate·h) ⊙ (W_up·h)), h = rmsnorm(x) ⊙ ffn_norm */
        rmsnorm(c->xb, c->x, l->ffn_norm->data, hp->n_embd, hp->rms_eps);
        matmul(c, c->gate, l->w_gate, c->xb);
        matmul(c, c->up, l->w_up, c->xb);
        for (i = 0; i < hp->n_ff; i++)
            c->gate[i] = silu(c->gate[i]) * c->up[i];
        matmul(c, c->xb, l->w_down, c->gate);
        for (i = 0; i < hp->n_embd; i++)
            c->x[i] += c->xb[i];
    }

    /* 6. logits = W_out · (rmsnorm(x) ⊙ output_norm) */
    if (want_logits) {
        rmsnorm(c->xb, c->x, m->output_norm->data, hp->n_embd, hp->rms_eps);
        matmul(c, c->logits, m->output, c->xb);
    }
}

int llm_eval(llm_ctx *c, const int32_t *tokens, int n, llm_error *err)
{
    int i;

    if (n <= 0)
        return llm_fail(err, "nothing to evaluate: %d tokens given, expected at least 1", n);
    if ((uint64_t)c->pos + (uint64_t)n > c->n_ctx)
        return llm_fail(err, "context full: %u tokens in a context of %u, cannot add %d more (use a larger -c)",
                        c->pos, c->n_ctx, n);
    for (i = 0; i < n; i++) {
        if (tokens[i] < 0 || (uint32_t)tokens[i] >= c->m->hp.n_vocab)
            return llm_fail(err, "token id %d at index %d is outside the vocabulary of %u tokens", tokens[i], i,
                            c->m->hp.n_vocab);
    }
    for (i = 0; i < n; i++) {
        forward(c, tokens[i], i == n - 1);
        c->pos++;
    }
    return LLM_OK;
}
