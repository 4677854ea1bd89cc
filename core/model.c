/*
 * model.c - the Llama forward pass (Llama 2, 3, 3.1 and 3.2 layouts).
 *
 * llm_model_open() finds every tensor by name, checks its shape and type
 * against the hyperparameters, and keeps pointers into the file buffer: no
 * weight is copied. llm_eval() runs tokens in tiles of LLM_BATCH; matrix
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

/*
 * Tokens per tile of prompt processing: each weight row is read, and each
 * weight block unpacked, once per tile. 64 ran a 256-token prompt of the
 * synthetic 1B Q3_K_L model about 8 % faster than 32 (AVX-512, Zen 4).
 */
#define LLM_BATCH 64

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
    llm_parallel par;
    int n_threads;
    uint32_t n_ctx;
    uint32_t pos; /* tokens already in the cache */

    uint16_t *k_cache; /* [n_layers][n_ctx][n_kv_heads * head_dim], F16 */
    uint16_t *v_cache; /* [n_layers][n_kv_heads * v_head_dim][n_ctx], F16, transposed for the weighted sum of values */

    /* Per-token scratch for a tile of up to LLM_BATCH tokens: [LLM_BATCH][width]. */
    float *x;        /* n_embd: the residual stream */
    float *xb;       /* widest_input: normed input of a block, or a block's output */
    float *q;        /* n_heads * head_dim */
    float *kv_row;   /* max(k_dim, v_dim): new keys, then new values, before F16 storage */
    float *att;      /* n_heads * v_head_dim: attention output */
    float *gate;     /* n_ff */
    float *up;       /* n_ff */
    float *rope_cos; /* n_rot / 2 */
    float *rope_sin; /* n_rot / 2 */
    void *acts;      /* act_row_bytes: activation rows converted to a dot type */

    float *scores; /* [n_threads][n_ctx] one head's attention weights per thread */
    uint16_t *head_f16; /* [n_threads][head_dim + n_ctx] one head's query, then its attention weights, in F16 */
    float *logits; /* [n_vocab] for the last evaluated token */
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
    if (!gguf_find(f, "llama.attention.key_length") && hp->n_embd % hp->n_heads != 0)
        return llm_fail(err,
                        "%s: embedding_length %u is not a multiple of head_count %u, and no "
                        "attention.key_length gives the head size",
                        f->name, hp->n_embd, hp->n_heads);
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

int llm_model_peek(const void *bytes, size_t n_loaded, uint64_t file_bytes, const char *name, llm_hparams *hp,
                   llm_error *err)
{
    llm_model m;
    int status;

    memset(&m, 0, sizeof m);
    status = gguf_open_header(&m.file, bytes, n_loaded, file_bytes, name ? name : "model", err);
    if (status != LLM_OK)
        return status == GGUF_MORE ? LLM_MORE : LLM_ERR;
    /* The tensors' shapes and types are checked too, but no data is read: it has not arrived. */
    status = read_hparams(&m, err) == LLM_OK && find_tensors(&m, err) == LLM_OK ? LLM_OK : LLM_ERR;
    if (status == LLM_OK)
        *hp = m.hp;
    free(m.layers);
    gguf_close(&m.file);
    return status;
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

/*
 * Bytes of one activation row converted to any dot type: F32 takes 4 bytes
 * per element and every 8-bit block type less (Q8_K: 292 bytes per 256).
 */
static uint64_t act_row_bytes(const llm_hparams *hp)
{
    return widest_input(hp) * 4;
}

static int threads_of(const llm_ctx_params *p)
{
    return p && p->parallel.run && p->parallel.n_threads > 1 ? p->parallel.n_threads : 1;
}

/* Bytes of every buffer llm_ctx_new allocates, in the order it allocates them. */
static uint64_t ctx_bytes(const llm_hparams *hp, uint32_t n_ctx, int n_threads)
{
    uint64_t q_dim = (uint64_t)hp->n_heads * hp->head_dim, att_dim = (uint64_t)hp->n_heads * hp->v_head_dim;
    uint64_t k_dim = (uint64_t)hp->n_kv_heads * hp->head_dim, v_dim = (uint64_t)hp->n_kv_heads * hp->v_head_dim;
    uint64_t per_token = hp->n_embd + widest_input(hp) + q_dim + max_u64(k_dim, v_dim) + att_dim + 2 * (uint64_t)hp->n_ff +
                         hp->n_rot;
    uint64_t floats = LLM_BATCH * per_token + (uint64_t)n_threads * n_ctx + hp->n_vocab;
    uint64_t halves = (uint64_t)hp->n_layers * n_ctx * (k_dim + v_dim) + (uint64_t)n_threads * (hp->head_dim + n_ctx);

    return halves * 2 + floats * 4 + LLM_BATCH * act_row_bytes(hp);
}

uint64_t llm_ctx_bytes(const llm_model *m, uint32_t n_ctx)
{
    return ctx_bytes(&m->hp, n_ctx, 1);
}

uint64_t llm_hparams_ctx_bytes(const llm_hparams *hp, uint32_t n_ctx, int n_threads)
{
    return ctx_bytes(hp, n_ctx, n_threads > 0 ? n_threads : 1);
}

static void *alloc_floats(uint64_t n, int *failed)
{
    void *p = malloc((size_t)(n ? n * 4 : 4));
    if (!p)
        *failed = 1;
    return p;
}

llm_ctx *llm_ctx_new(const llm_model *m, const llm_ctx_params *p, llm_error *err)
{
    const llm_hparams *hp = &m->hp;
    llm_ctx *c;
    uint32_t n_ctx = p && p->n_ctx ? p->n_ctx : hp->n_ctx_train;
    int n_threads = threads_of(p), failed = 0;
    uint64_t k_dim = (uint64_t)hp->n_kv_heads * hp->head_dim, v_dim = (uint64_t)hp->n_kv_heads * hp->v_head_dim;
    uint64_t bytes = ctx_bytes(hp, n_ctx, n_threads);

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
    c->n_threads = n_threads;
    if (n_threads > 1)
        c->par = p->parallel;
    c->k_cache = alloc_floats(((uint64_t)hp->n_layers * n_ctx * k_dim + 1) / 2, &failed);
    c->v_cache = alloc_floats(((uint64_t)hp->n_layers * n_ctx * v_dim + 1) / 2, &failed);
    c->x = alloc_floats(LLM_BATCH * (uint64_t)hp->n_embd, &failed);
    c->xb = alloc_floats(LLM_BATCH * widest_input(hp), &failed);
    c->q = alloc_floats(LLM_BATCH * (uint64_t)hp->n_heads * hp->head_dim, &failed);
    c->kv_row = alloc_floats(LLM_BATCH * max_u64(k_dim, v_dim), &failed);
    c->att = alloc_floats(LLM_BATCH * (uint64_t)hp->n_heads * hp->v_head_dim, &failed);
    c->gate = alloc_floats(LLM_BATCH * (uint64_t)hp->n_ff, &failed);
    c->up = alloc_floats(LLM_BATCH * (uint64_t)hp->n_ff, &failed);
    c->rope_cos = alloc_floats(LLM_BATCH * (uint64_t)hp->n_rot / 2, &failed);
    c->rope_sin = alloc_floats(LLM_BATCH * (uint64_t)hp->n_rot / 2, &failed);
    c->scores = alloc_floats((uint64_t)n_threads * n_ctx, &failed);
    c->head_f16 = alloc_floats(((uint64_t)n_threads * (hp->head_dim + n_ctx) + 1) / 2, &failed);
    c->logits = alloc_floats(hp->n_vocab, &failed);
    c->acts = alloc_floats(LLM_BATCH * act_row_bytes(hp) / 4, &failed);
    if (failed) {
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
    free(c->gate);
    free(c->up);
    free(c->rope_cos);
    free(c->rope_sin);
    free(c->scores);
    free(c->head_f16);
    free(c->logits);
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

const char *llm_ctx_kernels(const llm_ctx *c)
{
    return c->k->name;
}

/* ---- operations ------------------------------------------------------- */

/* Runs fn on every thread of the context, or once on this one. */
static void parallel_for(llm_ctx *c, void (*fn)(void *arg, int ith, int nth), void *arg)
{
    if (c->n_threads > 1)
        c->par.run(c->par.pool, fn, arg);
    else
        fn(arg, 0, 1);
}

typedef struct {
    llm_ctx *c;
    const gguf_tensor *w;
    float *out;        /* [n_tokens][out_stride] */
    size_t out_stride;
    size_t act_bytes;  /* one converted activation row */
    int n_tokens;
} matmul_task;

/*
 * Thread ith takes its share of the weight rows and uses each row for every
 * token of the tile. It calls the table's tile kernel when the type has one
 * and the tile has more than one token, or the table's tile kernels are the
 * faster choice for one token too. Otherwise it runs one dot per token.
 */
static void matmul_rows(void *arg, int ith, int nth)
{
    const matmul_task *t = arg;
    const gguf_tensor *w = t->w;
    size_t row_bytes = llm_row_bytes(w->type, (int64_t)w->ne[0]);
    uint64_t r0 = w->ne[1] * (uint64_t)ith / (uint64_t)nth, r1 = w->ne[1] * (uint64_t)(ith + 1) / (uint64_t)nth, r;
    llm_dot_fn dot = t->c->k->dot[w->type];
    int use_tile = t->n_tokens > 1 || llm_kernels_tile_for_one_token(t->c->k);
    llm_dot_tile_fn dot_tile = use_tile ? t->c->k->dot_tile[w->type] : NULL;
    const uint8_t *acts = t->c->acts;
    int j;

    if (dot_tile && r1 > r0) {
        dot_tile((int64_t)w->ne[0], (const uint8_t *)w->data + r0 * row_bytes, row_bytes, (int)(r1 - r0), acts,
                 t->act_bytes, t->n_tokens, t->out + r0, t->out_stride);
        return;
    }
    for (r = r0; r < r1; r++) {
        const uint8_t *row = (const uint8_t *)w->data + r * row_bytes;
        for (j = 0; j < t->n_tokens; j++)
            t->out[(size_t)j * t->out_stride + r] = dot((int64_t)w->ne[0], row, acts + (size_t)j * t->act_bytes);
    }
}

/*
 * out[j] = W · x[j] for the n_tokens rows of x (stride x_stride floats),
 * W having ne[1] rows of ne[0] elements; out rows are out_stride apart.
 */
static void matmul(llm_ctx *c, float *out, size_t out_stride, const gguf_tensor *w, const float *x, size_t x_stride,
                   int n_tokens)
{
    const llm_type_info *info = llm_type_get(w->type);
    matmul_task t;
    int j;

    t.c = c;
    t.w = w;
    t.out = out;
    t.out_stride = out_stride;
    t.act_bytes = (size_t)act_row_bytes(&c->m->hp);
    t.n_tokens = n_tokens;
    for (j = 0; j < n_tokens; j++)
        c->k->quantize[info->dot_type](x + (size_t)j * x_stride, (uint8_t *)c->acts + (size_t)j * t.act_bytes,
                                       (int64_t)w->ne[0]);
    parallel_for(c, matmul_rows, &t);
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
static void rope_angles(const llm_model *m, float *cos_out, float *sin_out, uint32_t pos)
{
    const llm_hparams *hp = &m->hp;
    float theta = (float)pos, step = powf(hp->rope_base, -2.0f / (float)hp->n_rot);
    uint32_t i;

    for (i = 0; i < hp->n_rot / 2; i++) {
        float angle = m->rope_freqs ? theta / m->rope_freqs[i] : theta;
        cos_out[i] = cosf(angle);
        sin_out[i] = sinf(angle);
        theta *= step;
    }
}

/* Rotates the first n_rot dimensions of each of n_heads heads of head_dim. */
static void rope(float *x, const float *cos_a, const float *sin_a, uint32_t n_rot, uint32_t n_heads, uint32_t head_dim)
{
    uint32_t h, i;

    for (h = 0; h < n_heads; h++) {
        float *v = x + (size_t)h * head_dim;
        for (i = 0; i < n_rot / 2; i++) {
            float x0 = v[2 * i], x1 = v[2 * i + 1];
            v[2 * i] = x0 * cos_a[i] - x1 * sin_a[i];
            v[2 * i + 1] = x0 * sin_a[i] + x1 * cos_a[i];
        }
    }
}

/*
 * One query head over positions 0..n_pos-1 of its KV head:
 * out = Σ_t softmax_t(q·k_t / sqrt(head_dim)) · v_t. As in llama.cpp, q and
 * the weights softmax_t are rounded to F16. Both products use the table's
 * F16 dot: q·k_t runs over the head's dimensions, and each output dimension
 * runs over the positions of the transposed values. head_f16 is scratch for
 * head_dim + n_pos halves.
 */
static void attend_head(const llm_ctx *c, float *scores, uint16_t *head_f16, float *out, const float *q,
                        const uint16_t *k_base, const uint16_t *v_base, uint32_t n_pos)
{
    const llm_hparams *hp = &c->m->hp;
    llm_dot_fn dot_f16 = c->k->dot[LLM_TYPE_F16];
    size_t k_stride = (size_t)hp->n_kv_heads * hp->head_dim;
    uint16_t *q_f16 = head_f16, *weights_f16 = head_f16 + hp->head_dim;
    float scale = 1.0f / sqrtf((float)hp->head_dim), max = -INFINITY;
    double sum = 0.0;
    uint32_t t, i;

    for (i = 0; i < hp->head_dim; i++)
        q_f16[i] = llm_f32_to_f16(q[i]);
    for (t = 0; t < n_pos; t++) {
        scores[t] = dot_f16(hp->head_dim, k_base + t * k_stride, q_f16) * scale;
        if (scores[t] > max)
            max = scores[t];
    }
    for (t = 0; t < n_pos; t++) {
        scores[t] = expf(scores[t] - max);
        sum += scores[t];
    }
    for (t = 0; t < n_pos; t++)
        weights_f16[t] = llm_f32_to_f16((float)(scores[t] / sum));
    for (i = 0; i < hp->v_head_dim; i++)
        out[i] = dot_f16(n_pos, v_base + (size_t)i * c->n_ctx, weights_f16);
}

typedef struct {
    llm_ctx *c;
    uint32_t layer;
    int n_tokens;
} attention_task;

/* Splits the (token, head) pairs of a tile across threads. Token j attends to positions 0..pos + j. */
static void attention_heads(void *arg, int ith, int nth)
{
    const attention_task *t = arg;
    llm_ctx *c = t->c;
    const llm_hparams *hp = &c->m->hp;
    uint32_t k_dim = hp->n_kv_heads * hp->head_dim, v_dim = hp->n_kv_heads * hp->v_head_dim;
    uint32_t group = hp->n_heads / hp->n_kv_heads;
    const uint16_t *k_cache = c->k_cache + (size_t)t->layer * c->n_ctx * k_dim;
    const uint16_t *v_cache = c->v_cache + (size_t)t->layer * c->n_ctx * v_dim;
    uint64_t n_pairs = (uint64_t)t->n_tokens * hp->n_heads, i;
    float *scores = c->scores + (size_t)ith * c->n_ctx;
    uint16_t *head_f16 = c->head_f16 + (size_t)ith * (hp->head_dim + c->n_ctx);

    for (i = n_pairs * (uint64_t)ith / (uint64_t)nth; i < n_pairs * (uint64_t)(ith + 1) / (uint64_t)nth; i++) {
        uint32_t j = (uint32_t)(i / hp->n_heads), h = (uint32_t)(i % hp->n_heads), kv_h = h / group;
        attend_head(c, scores, head_f16, c->att + ((size_t)j * hp->n_heads + h) * hp->v_head_dim,
                    c->q + ((size_t)j * hp->n_heads + h) * hp->head_dim, k_cache + (size_t)kv_h * hp->head_dim,
                    v_cache + (size_t)kv_h * hp->v_head_dim * c->n_ctx, c->pos + j + 1);
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

/*
 * Runs a tile of n tokens (n <= LLM_BATCH) at positions c->pos.. through
 * every layer; computes the logits of the tile's last token when want_logits.
 */
static void forward(llm_ctx *c, const int32_t *tokens, int n, int want_logits)
{
    const llm_model *m = c->m;
    const llm_hparams *hp = &m->hp;
    uint32_t il, i, half_rot = hp->n_rot / 2;
    uint32_t q_dim = hp->n_heads * hp->head_dim, att_dim = hp->n_heads * hp->v_head_dim;
    uint32_t k_dim = hp->n_kv_heads * hp->head_dim, v_dim = hp->n_kv_heads * hp->v_head_dim;
    size_t kv_stride = (size_t)max_u64(k_dim, v_dim), wide = (size_t)widest_input(hp);
    size_t embd_row = llm_row_bytes(m->token_embd->type, hp->n_embd);
    attention_task at;
    int j;

    /* 1. x = token_embd[token]; RoPE angles for each position of the tile */
    for (j = 0; j < n; j++) {
        c->k->dequantize[m->token_embd->type]((const uint8_t *)m->token_embd->data + (size_t)tokens[j] * embd_row,
                                              c->x + (size_t)j * hp->n_embd, hp->n_embd);
        rope_angles(m, c->rope_cos + (size_t)j * half_rot, c->rope_sin + (size_t)j * half_rot, c->pos + (uint32_t)j);
    }

    for (il = 0; il < hp->n_layers; il++) {
        const llm_layer *l = &m->layers[il];
        uint16_t *k_cache = c->k_cache + (size_t)il * c->n_ctx * k_dim;
        uint16_t *v_cache = c->v_cache + (size_t)il * c->n_ctx * v_dim;

        /* 2. h = rmsnorm(x) ⊙ attn_norm; q, k, v = Wq·h, Wk·h, Wv·h; rotate q and k; append k, v to the cache */
        for (j = 0; j < n; j++)
            rmsnorm(c->xb + j * wide, c->x + (size_t)j * hp->n_embd, l->attn_norm->data, hp->n_embd, hp->rms_eps);
        matmul(c, c->q, q_dim, l->wq, c->xb, wide, n);
        matmul(c, c->kv_row, kv_stride, l->wk, c->xb, wide, n);
        for (j = 0; j < n; j++) {
            const float *cos_a = c->rope_cos + (size_t)j * half_rot, *sin_a = c->rope_sin + (size_t)j * half_rot;
            rope(c->q + (size_t)j * q_dim, cos_a, sin_a, hp->n_rot, hp->n_heads, hp->head_dim);
            rope(c->kv_row + j * kv_stride, cos_a, sin_a, hp->n_rot, hp->n_kv_heads, hp->head_dim);
            store_f16(k_cache + (size_t)(c->pos + j) * k_dim, c->kv_row + j * kv_stride, k_dim);
        }
        matmul(c, c->kv_row, kv_stride, l->wv, c->xb, wide, n);
        for (j = 0; j < n; j++) {
            for (i = 0; i < v_dim; i++)
                v_cache[(size_t)i * c->n_ctx + c->pos + (uint32_t)j] = llm_f32_to_f16(c->kv_row[j * kv_stride + i]);
        }

        /* 3. each query head attends over the positions up to its own (grouped-query, causal) */
        at.c = c;
        at.layer = il;
        at.n_tokens = n;
        parallel_for(c, attention_heads, &at);

        /* 4. x += Wo · att */
        matmul(c, c->xb, wide, l->wo, c->att, att_dim, n);
        for (j = 0; j < n; j++) {
            for (i = 0; i < hp->n_embd; i++)
                c->x[(size_t)j * hp->n_embd + i] += c->xb[j * wide + i];
        }

        /* 5. x += W_down · (silu(W_gate·h) ⊙ (W_up·h)), h = rmsnorm(x) ⊙ ffn_norm */
        for (j = 0; j < n; j++)
            rmsnorm(c->xb + j * wide, c->x + (size_t)j * hp->n_embd, l->ffn_norm->data, hp->n_embd, hp->rms_eps);
        matmul(c, c->gate, hp->n_ff, l->w_gate, c->xb, wide, n);
        matmul(c, c->up, hp->n_ff, l->w_up, c->xb, wide, n);
        for (i = 0; i < (uint32_t)n * hp->n_ff; i++)
            c->gate[i] = silu(c->gate[i]) * c->up[i];
        matmul(c, c->xb, wide, l->w_down, c->gate, hp->n_ff, n);
        for (j = 0; j < n; j++) {
            for (i = 0; i < hp->n_embd; i++)
                c->x[(size_t)j * hp->n_embd + i] += c->xb[j * wide + i];
        }
    }

    /* 6. logits = W_out · (rmsnorm(x) ⊙ output_norm), for the last token only */
    if (want_logits) {
        rmsnorm(c->xb, c->x + (size_t)(n - 1) * hp->n_embd, m->output_norm->data, hp->n_embd, hp->rms_eps);
        matmul(c, c->logits, hp->n_vocab, m->output, c->xb, wide, 1);
    }
}

int llm_eval(llm_ctx *c, const int32_t *tokens, int n, llm_error *err)
{
    int i, tile;

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
    for (i = 0; i < n; i += tile) {
        tile = n - i < LLM_BATCH ? n - i : LLM_BATCH;
        forward(c, tokens + i, tile, i + tile == n);
        c->pos += (uint32_t)tile;
    }
    return LLM_OK;
}
