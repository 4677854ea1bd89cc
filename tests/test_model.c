/*
 * test_model.c - the model loader's checks of hyperparameters, tensors and
 * vocabulary, on tiny F32 models built in memory.
 *
 * build_model() writes a complete Llama model (SentencePiece vocabulary of
 * 8 tokens, F32 weights) from a spec. Each case changes one field of the
 * spec and expects llm_model_open() to reject the file with its own message.
 */
#include "check.h"
#include "gguf_writer.h"
#include "llm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_TOKENS 8

typedef struct {
    const char *arch;
    uint32_t n_embd, n_heads, n_kv_heads, n_ff, n_layers, n_ctx;
    uint32_t key_length;     /* written only when has_key_length */
    int has_key_length;
    float rope_base;         /* 0: key absent */
    float eps;
    uint32_t bos, eos;
    uint64_t embd_rows;      /* rows of token_embd.weight */
    const char *omit_tensor; /* this tensor is left out */
    const char *wide_tensor; /* this tensor gets one more column than expected */
} model_spec;

static model_spec default_spec(void)
{
    model_spec s;

    memset(&s, 0, sizeof s);
    s.arch = "llama";
    s.n_embd = 32;
    s.n_heads = 4;
    s.n_kv_heads = 2;
    s.n_ff = 64;
    s.n_layers = 2;
    s.n_ctx = 64;
    s.eps = 1e-5f;
    s.bos = 1;
    s.eos = 2;
    s.embd_rows = N_TOKENS;
    return s;
}

typedef struct {
    char name[64];
    uint64_t ne[2];
    uint32_t n_dims;
} tensor_spec;

/* Lists the tensors of the spec's model in file order; returns their count. */
static int list_tensors(const model_spec *s, tensor_spec *t)
{
    uint32_t head_dim = s->has_key_length && s->key_length ? s->key_length : s->n_embd / s->n_heads;
    uint64_t q_dim = (uint64_t)s->n_heads * head_dim, kv_dim = (uint64_t)s->n_kv_heads * head_dim;
    static const char *const layer_names[] = {"attn_norm", "attn_q", "attn_k", "attn_v", "attn_output",
                                              "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"};
    uint32_t il, j;
    int n = 0;

#define ADD(nm, e0, e1, dims)                                    \
    do {                                                         \
        snprintf(t[n].name, sizeof t[n].name, "%s", nm);        \
        t[n].ne[0] = e0;                                         \
        t[n].ne[1] = e1;                                         \
        t[n].n_dims = dims;                                      \
        n++;                                                     \
    } while (0)

    ADD("token_embd.weight", s->n_embd, s->embd_rows, 2);
    ADD("output_norm.weight", s->n_embd, 1, 1);
    ADD("output.weight", s->n_embd, s->embd_rows, 2);
    for (il = 0; il < s->n_layers; il++) {
        for (j = 0; j < sizeof layer_names / sizeof layer_names[0]; j++) {
            char nm[64];
            uint64_t e0 = s->n_embd, e1 = 1;
            uint32_t dims = 2;
            snprintf(nm, sizeof nm, "blk.%u.%s.weight", il, layer_names[j]);
            if (strstr(nm, "norm"))
                dims = 1;
            else if (strstr(nm, "attn_q"))
                e1 = q_dim;
            else if (strstr(nm, "attn_k") || strstr(nm, "attn_v"))
                e1 = kv_dim;
            else if (strstr(nm, "attn_output")) {
                e0 = q_dim;
                e1 = s->n_embd;
            } else if (strstr(nm, "ffn_down")) {
                e0 = s->n_ff;
                e1 = s->n_embd;
            } else
                e1 = s->n_ff;
            ADD(nm, e0, e1, dims);
        }
    }
#undef ADD
    return n;
}

static void put_kv_f32(gguf_writer *w, const char *key, float v)
{
    gguf_put_key(w, key, GGUF_FLOAT32);
    gguf_put_f32(w, v);
}

/* Writes the whole model of spec s into w. */
static void build_model(gguf_writer *w, const model_spec *s)
{
    static const char *const tokens[N_TOKENS] = {"<unk>", "<s>", "</s>", "\xe2\x96\x81", "a", "b", "\xe2\x96\x81" "a", "ab"};
    static const uint32_t types[N_TOKENS] = {2, 3, 3, 1, 1, 1, 1, 1};
    tensor_spec t[64];
    uint64_t offset = 0, n_kv = 0;
    int n_tensors = list_tensors(s, t), kept = 0, i;
    uint32_t seed = 12345;

    for (i = 0; i < n_tensors; i++)
        kept += !(s->omit_tensor && strcmp(t[i].name, s->omit_tensor) == 0);
    gguf_writer_init(w);
    gguf_put_header(w, 3, (uint64_t)kept, 0);

    gguf_put_kv_str(w, "general.architecture", s->arch), n_kv++;
    gguf_put_kv_u32(w, "llama.embedding_length", s->n_embd), n_kv++;
    gguf_put_kv_u32(w, "llama.block_count", s->n_layers), n_kv++;
    gguf_put_kv_u32(w, "llama.feed_forward_length", s->n_ff), n_kv++;
    gguf_put_kv_u32(w, "llama.attention.head_count", s->n_heads), n_kv++;
    gguf_put_kv_u32(w, "llama.attention.head_count_kv", s->n_kv_heads), n_kv++;
    gguf_put_kv_u32(w, "llama.context_length", s->n_ctx), n_kv++;
    put_kv_f32(w, "llama.attention.layer_norm_rms_epsilon", s->eps), n_kv++;
    if (s->has_key_length)
        gguf_put_kv_u32(w, "llama.attention.key_length", s->key_length), n_kv++;
    if (s->rope_base != 0.0f)
        put_kv_f32(w, "llama.rope.freq_base", s->rope_base), n_kv++;
    gguf_put_kv_str(w, "tokenizer.ggml.model", "llama"), n_kv++;
    gguf_put_key(w, "tokenizer.ggml.tokens", GGUF_ARRAY), n_kv++;
    gguf_put_array(w, GGUF_STRING, N_TOKENS);
    for (i = 0; i < N_TOKENS; i++)
        gguf_put_str(w, tokens[i]);
    gguf_put_key(w, "tokenizer.ggml.scores", GGUF_ARRAY), n_kv++;
    gguf_put_array(w, GGUF_FLOAT32, N_TOKENS);
    for (i = 0; i < N_TOKENS; i++)
        gguf_put_f32(w, (float)-i);
    gguf_put_key(w, "tokenizer.ggml.token_type", GGUF_ARRAY), n_kv++;
    gguf_put_array(w, GGUF_INT32, N_TOKENS);
    for (i = 0; i < N_TOKENS; i++)
        gguf_put_u32(w, types[i]);
    gguf_put_kv_u32(w, "tokenizer.ggml.bos_token_id", s->bos), n_kv++;
    gguf_put_kv_u32(w, "tokenizer.ggml.eos_token_id", s->eos), n_kv++;
    gguf_patch_u64(w, 16, n_kv);

    for (i = 0; i < n_tensors; i++) {
        uint64_t ne0 = t[i].ne[0] + (s->wide_tensor && strcmp(t[i].name, s->wide_tensor) == 0);
        if (s->omit_tensor && strcmp(t[i].name, s->omit_tensor) == 0)
            continue;
        t[i].ne[0] = ne0;
        gguf_put_tensor_info(w, t[i].name, t[i].n_dims, t[i].ne, LLM_TYPE_F32, offset);
        offset += (t[i].ne[0] * t[i].ne[1] * 4 + 31) / 32 * 32;
    }
    gguf_put_padding(w, 32);
    for (i = 0; i < n_tensors; i++) {
        uint64_t j, n = t[i].ne[0] * t[i].ne[1];
        if (s->omit_tensor && strcmp(t[i].name, s->omit_tensor) == 0)
            continue;
        for (j = 0; j < n; j++) {
            seed = seed * 1664525u + 1013904223u;
            gguf_put_f32(w, strstr(t[i].name, "norm") ? 1.0f : ((float)(seed >> 8) / 16777216.0f - 0.5f) * 0.2f);
        }
        gguf_put_padding(w, 32);
    }
}

/* Builds the model of s and expects llm_model_open to fail with a message containing expected. */
static void expect_rejected(const char *case_name, const model_spec *s, const char *expected)
{
    gguf_writer w;
    llm_error err;
    llm_model *m;

    build_model(&w, s);
    err.message[0] = 0;
    m = llm_model_open(w.bytes, w.n_bytes, "tiny.gguf", &err);
    check(m == NULL && strstr(err.message, expected) != NULL && strstr(err.message, "tiny.gguf") != NULL, case_name,
          "expected rejection with \"%s\", got %s: %s", expected, m ? "an open model" : "rejection",
          err.message);
    llm_model_close(m);
    gguf_writer_free(&w);
}

static void test_valid_model(void)
{
    model_spec s = default_spec();
    gguf_writer w;
    llm_error err;
    llm_model *m;
    llm_ctx *c = NULL;
    llm_ctx_params cp;
    int32_t ids[4] = {1, 4, 5, 6};
    int i, finite = 1;
    uint64_t before;

    build_model(&w, &s);
    m = llm_model_open(w.bytes, w.n_bytes, "tiny.gguf", &err);
    check(m != NULL, "model tiny opens", "%s", m ? "" : err.message);
    if (!m) {
        gguf_writer_free(&w);
        return;
    }
    memset(&cp, 0, sizeof cp);
    cp.n_ctx = 16;
    before = llm_ctx_bytes(m, 16);
    c = llm_ctx_new(m, &cp, &err);
    check(c != NULL && llm_eval(c, ids, 4, &err) == LLM_OK, "model tiny evaluates", "%s", c ? err.message : "");
    for (i = 0; c && i < N_TOKENS; i++)
        finite &= isfinite(llm_logits(c)[i]) != 0;
    check(finite, "model tiny logits finite", "every logit after 4 tokens is finite");

    /* Memory is fixed at creation: the size does not depend on how many tokens were evaluated. */
    for (i = 0; c && i < 12; i++)
        llm_eval(c, &ids[i % 4], 1, &err);
    check(llm_ctx_bytes(m, 16) == before && c && llm_ctx_pos(c) == 16, "model context size fixed",
          "context bytes %llu before and %llu after 16 tokens", (unsigned long long)before,
          (unsigned long long)llm_ctx_bytes(m, 16));
    check(c && llm_eval(c, ids, 1, &err) == LLM_ERR && strstr(err.message, "context full") != NULL,
          "model context full", "message: %s", err.message);

    /* A context larger than the training context is rejected by size, with the limit. */
    cp.n_ctx = 65;
    llm_ctx_free(c);
    c = llm_ctx_new(m, &cp, &err);
    check(c == NULL && strstr(err.message, "trained for 64") != NULL, "model context over training",
          "message: %s", c ? "(none)" : err.message);
    llm_ctx_free(c);
    llm_model_close(m);
    gguf_writer_free(&w);
}

/* Peeks at the model in w with its first n bytes at hand; returns LLM_OK, LLM_ERR or LLM_MORE. */
static int peek_prefix(const gguf_writer *w, size_t n, llm_hparams *hp, llm_error *err)
{
    err->message[0] = 0;
    return llm_model_peek(w->bytes, n, w->n_bytes, "tiny.gguf", hp, err);
}

/*
 * Runs llm_model_peek on every prefix of a model up to its tensor data. It
 * returns LLM_MORE until the header is complete and then the hyperparameters
 * that llm_model_open gives, never an error on the way.
 */
static void test_peek(void)
{
    model_spec s = default_spec();
    gguf_writer w;
    llm_error err;
    llm_hparams hp;
    llm_model *m;
    size_t n, first_ok = 0, data_offset;
    int wrong = 0, status;

    build_model(&w, &s);
    m = llm_model_open(w.bytes, w.n_bytes, "tiny.gguf", &err);
    if (!m) {
        check(0, "model peek", "the tiny model does not open: %s", err.message);
        gguf_writer_free(&w);
        return;
    }
    data_offset = (size_t)llm_model_file(m)->data_offset;
    for (n = 0; n <= data_offset; n++) {
        status = peek_prefix(&w, n, &hp, &err);
        if (status == LLM_OK && !first_ok)
            first_ok = n;
        if (status == LLM_ERR || (status == LLM_MORE && first_ok))
            wrong++;
    }
    check(wrong == 0 && first_ok > 0, "model peek prefixes",
          "%d prefixes gave an error or asked for more after the header was complete (%s); first complete at %zu "
          "of %zu header bytes",
          wrong, err.message, first_ok, data_offset);
    memset(&hp, 0, sizeof hp);
    status = peek_prefix(&w, data_offset, &hp, &err);
    check(status == LLM_OK && memcmp(&hp, llm_model_hparams(m), sizeof hp) == 0 &&
              llm_hparams_ctx_bytes(&hp, 16, 1) == llm_ctx_bytes(m, 16),
          "model peek hparams", "status %d, n_vocab %u vs %u, context bytes %llu vs %llu", status, hp.n_vocab,
          llm_model_hparams(m)->n_vocab, (unsigned long long)llm_hparams_ctx_bytes(&hp, 16, 1),
          (unsigned long long)llm_ctx_bytes(m, 16));
    check(peek_prefix(&w, w.n_bytes, &hp, &err) == LLM_OK, "model peek whole file", "%s", err.message);
    llm_model_close(m);
    gguf_writer_free(&w);

    /* A model pinfer cannot run is refused from its header, before the tensor data would be downloaded. */
    s = default_spec();
    s.arch = "gemma2";
    build_model(&w, &s);
    status = peek_prefix(&w, w.n_bytes / 2, &hp, &err);
    check(status == LLM_ERR && strstr(err.message, "architecture 'gemma2'") != NULL, "model peek other architecture",
          "status %d: %s", status, err.message);
    gguf_writer_free(&w);

    /* A web page saved as .gguf is refused from its first bytes. */
    {
        static const char page[] = "<!DOCTYPE html><html><body>Not found</body></html>";
        err.message[0] = 0;
        status = llm_model_peek(page, 16, 4u << 20, "page.gguf", &hp, &err);
        check(status == LLM_ERR && strstr(err.message, "not a GGUF file") != NULL, "model peek not GGUF",
              "status %d: %s", status, err.message);
    }
}

void test_model(void)
{
    model_spec s;

    test_valid_model();
    test_peek();

    s = default_spec();
    s.n_heads = 5;
    expect_rejected("model heads not dividing embd", &s, "head_count 5");

    s = default_spec();
    s.n_kv_heads = 3;
    expect_rejected("model kv heads not dividing", &s, "head_count_kv is 3");

    s = default_spec();
    s.key_length = 0;
    s.has_key_length = 1;
    expect_rejected("model key_length zero", &s, "key_length 0");

    s = default_spec();
    s.n_ctx = 0;
    expect_rejected("model context length zero", &s, "context_length 0");

    s = default_spec();
    s.rope_base = -1.0f;
    expect_rejected("model rope base negative", &s, "rope.freq_base is -1");

    s = default_spec();
    s.rope_base = NAN;
    expect_rejected("model rope base NaN", &s, "rope.freq_base is nan");

    s = default_spec();
    s.eps = NAN;
    expect_rejected("model epsilon NaN", &s, "layer_norm_rms_epsilon is nan");

    s = default_spec();
    s.embd_rows = N_TOKENS + 2;
    expect_rejected("model vocab size mismatch", &s, "the vocabulary has 8 tokens but token_embd.weight has 10");

    s = default_spec();
    s.omit_tensor = "blk.1.ffn_up.weight";
    expect_rejected("model tensor missing", &s, "tensor 'blk.1.ffn_up.weight' is missing");

    s = default_spec();
    s.wide_tensor = "blk.0.attn_k.weight";
    expect_rejected("model tensor wrong shape", &s, "tensor 'blk.0.attn_k.weight' has shape 33 x 16");

    s = default_spec();
    s.bos = 99;
    expect_rejected("model BOS past vocab", &s, "99");

    s = default_spec();
    s.eos = 8;
    expect_rejected("model EOS past vocab", &s, "8");

    s = default_spec();
    s.arch = "gemma2";
    expect_rejected("model other architecture", &s, "architecture 'gemma2' is not supported");
}
