/*
 * llm.h - the public C API of the pinfer core.
 *
 * The core takes bytes, not paths: the caller maps or reads the model file
 * and keeps the buffer alive while the model is open. Every call that can
 * fail fills an llm_error; nothing here prints, exits or starts threads.
 *
 *   m = llm_model_open(bytes, n_bytes, "model.gguf", &err);
 *   c = llm_ctx_new(m, &params, &err);
 *   n = llm_tokenize(llm_model_vocab(m), text, len, 1, 1, ids, max);
 *   llm_eval(c, ids, n, &err);          appends n tokens to the context
 *   id = llm_sampler_sample(s, llm_logits(c), n_vocab);
 */
#ifndef PINFER_LLM_H
#define PINFER_LLM_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "gguf.h"
#include "quant.h"
#include "vocab.h"

typedef struct {
    uint32_t n_vocab;
    uint32_t n_embd;
    uint32_t n_layers;
    uint32_t n_heads;
    uint32_t n_kv_heads;
    uint32_t head_dim;   /* key_length: dimension of one query/key head */
    uint32_t v_head_dim; /* value_length: dimension of one value head */
    uint32_t n_ff;
    uint32_t n_rot; /* leading dimensions of each head that RoPE rotates */
    uint32_t n_ctx_train;
    float rms_eps;
    float rope_base;
} llm_hparams;

typedef struct llm_model llm_model;
typedef struct llm_ctx llm_ctx;

/*
 * Opens a Llama-family model from a GGUF file in memory. name is used in
 * messages. The tensors point into bytes, which must outlive the model.
 */
llm_model *llm_model_open(const void *bytes, size_t n_bytes, const char *name, llm_error *err);
void llm_model_close(llm_model *m);

/* Returned by llm_model_peek when the header goes on past the bytes at hand. */
#define LLM_MORE 1

/*
 * Checks a model from the first n_loaded bytes of a file of file_bytes
 * (header, metadata, tensor shapes and types) and fills hp, so that a caller
 * streaming the file can refuse it, or size a context, before the rest
 * arrives. Returns LLM_OK, LLM_ERR with the message llm_model_open would
 * give, or LLM_MORE when the header needs more bytes than n_loaded.
 */
int llm_model_peek(const void *bytes, size_t n_loaded, uint64_t file_bytes, const char *name, llm_hparams *hp,
                   llm_error *err);

const llm_hparams *llm_model_hparams(const llm_model *m);
const llm_vocab *llm_model_vocab(const llm_model *m);
const gguf_file *llm_model_file(const llm_model *m);
uint64_t llm_model_n_params(const llm_model *m);

/* Writes "Q3_K 129, Q5_K 96, F32 65"-style counts of tensor types into buf. */
void llm_model_describe_types(const llm_model *m, char *buf, size_t cap);

/*
 * A parallel-for supplied by the platform: run(pool, fn, arg) calls
 * fn(arg, i, n_threads) once on each of n_threads threads and returns when
 * all are done. run = NULL means one thread.
 */
typedef struct {
    void (*run)(void *pool, void (*fn)(void *arg, int ith, int nth), void *arg);
    void *pool;
    int n_threads;
} llm_parallel;

typedef struct {
    uint32_t n_ctx;              /* tokens the KV cache holds; 0 = the training context */
    const llm_kernels *kernels;  /* NULL = llm_kernels_scalar */
    llm_parallel parallel;
} llm_ctx_params;

/* Bytes llm_ctx_new would allocate for n_ctx tokens (KV cache and scratch). */
uint64_t llm_ctx_bytes(const llm_model *m, uint32_t n_ctx);
/* The same from hyperparameters (llm_model_peek), for a context run by n_threads threads. */
uint64_t llm_hparams_ctx_bytes(const llm_hparams *hp, uint32_t n_ctx, int n_threads);

/* Allocates the KV cache and all scratch once; evaluation allocates nothing. */
llm_ctx *llm_ctx_new(const llm_model *m, const llm_ctx_params *p, llm_error *err);
void llm_ctx_free(llm_ctx *c);

/*
 * Runs n tokens through the model at the next positions of the context and
 * leaves the logits of the last one in llm_logits(). Fails, changing
 * nothing, when the tokens do not fit or an id is out of range.
 */
int llm_eval(llm_ctx *c, const int32_t *tokens, int n, llm_error *err);

/* Logits of the last evaluated position, n_vocab floats. */
const float *llm_logits(const llm_ctx *c);
uint32_t llm_ctx_pos(const llm_ctx *c);
uint32_t llm_ctx_size(const llm_ctx *c);
/* Name of the kernel table the context uses, as in the model log line. */
const char *llm_ctx_kernels(const llm_ctx *c);

/* Sampling; see sampler.c for the order the filters run in. */
typedef struct {
    float temperature;     /* <= 0: greedy */
    int top_k;             /* <= 0: off */
    float top_p;           /* >= 1: off */
    float min_p;           /* <= 0: off */
    float repeat_penalty;  /* 1: off */
    int repeat_last_n;     /* tokens the penalty looks back over */
    uint64_t seed;
} llm_sampler_params;

typedef struct llm_sampler llm_sampler;

void llm_sampler_defaults(llm_sampler_params *p);
llm_sampler *llm_sampler_new(const llm_sampler_params *p, int32_t n_vocab, llm_error *err);
void llm_sampler_free(llm_sampler *s);
/* Records a token as seen (for the repetition penalty), e.g. each prompt token. */
void llm_sampler_accept(llm_sampler *s, int32_t id);
/* Picks the next token from logits (not modified) and accepts it. */
int32_t llm_sampler_sample(llm_sampler *s, const float *logits);

#endif
