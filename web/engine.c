/*
 * engine.c - the pinfer core as the browser worker calls it (Emscripten).
 *
 * web/worker.js owns one engine. It checks a model from its first bytes
 * (pf_peek) and allocates one buffer of the file's size in wasm memory
 * (pf_alloc). It copies the download into that buffer chunk by chunk and
 * opens it (pf_open). Generation runs one token per call (pf_start, then
 * pf_next), so the worker's event loop can take a Stop message between two
 * tokens. Every function reports failure through its return value and
 * leaves the message in pf_message().
 *
 * The same file builds single-threaded and with pthreads; the threaded
 * build runs the matrix work on a platform pool of n_threads threads.
 */
#include <emscripten.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "llm.h"
#include "platform.h"
#include "utf8.h"

#define WASM_PAGE_BYTES 65536.0
#define WASM32_MAX_BYTES 4294967296.0
/* Room besides the model and the context: tokens, sampler, vocabulary tables, malloc overhead (an estimate). */
#define OTHER_BYTES_ESTIMATE (64.0 * 1024 * 1024)
#define TEXT_CAP 1024

typedef struct {
    void *bytes;
    size_t n_bytes;
    char name[256];
    llm_model *model;
    llm_ctx *ctx;
    llm_sampler *sampler;
    platform_pool *pool;
    const llm_kernels *kernels;
    uint32_t n_ctx;
    int n_threads;
    int32_t *tokens; /* room for n_ctx prompt tokens */
    int32_t last;    /* the token sampled last, evaluated at the next pf_next */
    int have_last;
    int n_generated;
    llm_utf8_stream stream;
    char text[TEXT_CAP]; /* text produced by the last call */
    char info[1024];
} engine;

static engine g;
static llm_error g_err;
static llm_hparams g_peeked;

static double mib(double bytes)
{
    return bytes / (1024.0 * 1024.0);
}

/* Returns the message of the last failure. */
EMSCRIPTEN_KEEPALIVE const char *pf_message(void)
{
    return g_err.message;
}

/* Bytes wasm memory has now, and how far it can still grow. */
static double memory_in_use(void)
{
    return (double)__builtin_wasm_memory_size(0) * WASM_PAGE_BYTES;
}

EMSCRIPTEN_KEEPALIVE double pf_memory_room(void)
{
    double room = WASM32_MAX_BYTES - memory_in_use() - OTHER_BYTES_ESTIMATE;
    return room > 0 ? room : 0;
}

/*
 * Checks a model from the first n_loaded bytes of a file of file_bytes.
 * Returns 0 when it can run with a context of n_ctx tokens (0: its
 * training context) on n_threads threads and fits in what wasm memory can
 * still grow to, 1 when the header needs more bytes, -1 with a message.
 */
EMSCRIPTEN_KEEPALIVE int pf_peek(const void *bytes, double n_loaded, double file_bytes, const char *name,
                                 uint32_t n_ctx, int n_threads)
{
    double ctx_bytes, room = pf_memory_room();
    int status = llm_model_peek(bytes, (size_t)n_loaded, (uint64_t)file_bytes, name, &g_peeked, &g_err);

    if (status == LLM_MORE)
        return 1;
    if (status != LLM_OK)
        return -1;
    if (n_ctx == 0 || n_ctx > g_peeked.n_ctx_train)
        n_ctx = g_peeked.n_ctx_train;
    ctx_bytes = (double)llm_hparams_ctx_bytes(&g_peeked, n_ctx, n_threads);
    if (file_bytes + ctx_bytes > room) {
        return llm_fail(&g_err,
                        "%s: the model (%.1f MiB) and a context of %u tokens (%.1f MiB) need %.1f MiB, but this "
                        "tab's wasm memory can grow by only %.1f MiB more (4 GiB in all); choose a smaller context, "
                        "a smaller quantization or a smaller model",
                        name, mib(file_bytes), n_ctx, mib(ctx_bytes), mib(file_bytes + ctx_bytes), mib(room));
    }
    return 0;
}

/* Declared by unistd.h only outside strict POSIX mode; Emscripten's libc has it. */
void *sbrk(intptr_t increment);

/* The break moves at most this far per sbrk call, because sbrk takes a signed 32-bit increment. */
#define SBRK_STEP_BYTES (1u << 30)

/*
 * Allocates one buffer for the whole file, which the worker fills from the
 * download. Returns 0 on failure. Emscripten's malloc fails for 2 GiB or
 * more, so the buffer is taken from the top of the heap by moving the break
 * in steps, which gives contiguous memory while nothing else allocates in
 * between. The buffer is never returned to the heap: Pinfer.unload ends the
 * worker, which frees all of its memory.
 */
EMSCRIPTEN_KEEPALIVE void *pf_alloc(double n_bytes)
{
    char *start = NULL;
    double done = 0;

    if (n_bytes < 1 || n_bytes > pf_memory_room()) {
        llm_fail(&g_err, "cannot allocate %.1f MiB for the model: wasm memory can grow by only %.1f MiB more",
                 mib(n_bytes), mib(pf_memory_room()));
        return NULL;
    }
    while (done < n_bytes) {
        double left = n_bytes - done;
        intptr_t step = left > SBRK_STEP_BYTES ? (intptr_t)SBRK_STEP_BYTES : (intptr_t)left;
        char *p = sbrk(step);
        if (p == (char *)-1 || (start && p != start + (size_t)done)) {
            llm_fail(&g_err, "cannot allocate %.1f MiB for the model (%.1f MiB of wasm memory in use)",
                     mib(n_bytes), mib(memory_in_use()));
            return NULL;
        }
        if (!start)
            start = p;
        done += (double)step;
    }
    return start;
}

static void free_context(void)
{
    llm_sampler_free(g.sampler);
    llm_ctx_free(g.ctx);
    g.sampler = NULL;
    g.ctx = NULL;
}

/* Releases the model and the threads; the model's buffer stays with the worker (see pf_alloc). */
EMSCRIPTEN_KEEPALIVE void pf_close(void)
{
    free_context();
    llm_model_close(g.model);
    platform_pool_free(g.pool);
    free(g.tokens);
    memset(&g, 0, sizeof g);
}

static int new_context(void)
{
    llm_ctx_params cp;

    free_context();
    memset(&cp, 0, sizeof cp);
    cp.n_ctx = g.n_ctx;
    cp.kernels = g.kernels;
    if (g.pool) {
        cp.parallel.run = platform_pool_run;
        cp.parallel.pool = g.pool;
        cp.parallel.n_threads = g.n_threads;
    }
    g.ctx = llm_ctx_new(g.model, &cp, &g_err);
    return g.ctx ? 0 : -1;
}

/*
 * Opens the model in bytes, a buffer from pf_alloc. The context has room for n_ctx tokens (0: the
 * training context) and runs on n_threads threads. kernels names a table,
 * or is empty for the best one. Returns 0, or -1 with a message.
 */
EMSCRIPTEN_KEEPALIVE int pf_open(void *bytes, double n_bytes, const char *name, uint32_t n_ctx, int n_threads,
                                 const char *kernels)
{
    const llm_hparams *hp;

    pf_close();
    g.bytes = bytes;
    g.n_bytes = (size_t)n_bytes;
    snprintf(g.name, sizeof g.name, "%s", name);
    g.kernels = kernels && kernels[0] ? llm_kernels_by_name(kernels) : llm_kernels_best();
    if (!g.kernels) {
        const llm_kernels *tables[LLM_KERNELS_MAX];
        int n = llm_kernels_supported(tables, LLM_KERNELS_MAX);
        return llm_fail(&g_err, "no kernel table named '%s' in this build, expected %s%s%s", kernels, tables[0]->name,
                        n > 1 ? " or " : "", n > 1 ? tables[n - 1]->name : "");
    }
    g.model = llm_model_open(bytes, g.n_bytes, g.name, &g_err);
    if (!g.model)
        return -1;
    hp = llm_model_hparams(g.model);
    g.n_ctx = n_ctx == 0 || n_ctx > hp->n_ctx_train ? hp->n_ctx_train : n_ctx;
    g.n_threads = n_threads > 1 ? n_threads : 1;
    if (g.n_threads > 1) {
        g.pool = platform_pool_new(g.n_threads);
        if (!g.pool)
            return llm_fail(&g_err, "cannot start %d threads in this tab (choose fewer threads)", g.n_threads);
    }
    g.tokens = malloc((size_t)g.n_ctx * sizeof *g.tokens);
    if (!g.tokens)
        return llm_fail(&g_err, "out of memory for %u prompt tokens", g.n_ctx);
    if (new_context() != 0)
        return -1;
    {
        char types[256];
        llm_model_describe_types(g.model, types, sizeof types);
        snprintf(g.info, sizeof g.info,
                 "{\"kernels\":\"%s\",\"threads\":%d,\"n_ctx\":%u,\"n_ctx_train\":%u,\"n_vocab\":%u,\"n_embd\":%u,"
                 "\"n_layers\":%u,\"params\":%.0f,\"types\":\"%s\"}",
                 llm_ctx_kernels(g.ctx), g.n_threads, g.n_ctx, hp->n_ctx_train, hp->n_vocab, hp->n_embd,
                 hp->n_layers, (double)llm_model_n_params(g.model), types);
    }
    return 0;
}

/* Returns the model, context, threads and kernels that pf_open set up, as a JSON object. */
EMSCRIPTEN_KEEPALIVE const char *pf_info(void)
{
    return g.info;
}

/*
 * Starts a generation from the beginning of the context: tokenizes prompt
 * (BOS added unless present, special tokens parsed, as the CLI does),
 * evaluates it and sets up the sampler. temperature <= 0 is greedy.
 * Returns the number of prompt tokens, or -1 with a message.
 */
EMSCRIPTEN_KEEPALIVE int pf_start(const char *prompt, float temperature, int top_k, float top_p, float min_p,
                                  float repeat_penalty, double seed)
{
    const llm_vocab *vocab;
    llm_sampler_params sp;
    int n, i;

    if (!g.model)
        return llm_fail(&g_err, "no model is loaded");
    vocab = llm_model_vocab(g.model);
    n = llm_tokenize(vocab, prompt, strlen(prompt), 1, 1, NULL, 0);
    if (n < 0)
        return llm_fail(&g_err, "cannot tokenize the prompt");
    if ((uint32_t)n > g.n_ctx)
        return llm_fail(&g_err, "the prompt has %d tokens but the context holds %u (choose a larger context)", n,
                        g.n_ctx);
    llm_tokenize(vocab, prompt, strlen(prompt), 1, 1, g.tokens, n);
    if (new_context() != 0)
        return -1;
    llm_sampler_defaults(&sp);
    sp.temperature = temperature;
    sp.top_k = top_k;
    sp.top_p = top_p;
    sp.min_p = min_p;
    sp.repeat_penalty = repeat_penalty;
    sp.seed = (uint64_t)seed;
    g.sampler = llm_sampler_new(&sp, (int32_t)llm_model_hparams(g.model)->n_vocab, &g_err);
    if (!g.sampler)
        return -1;
    if (llm_eval(g.ctx, g.tokens, n, &g_err) != LLM_OK)
        return -1;
    for (i = 0; i < n; i++)
        llm_sampler_accept(g.sampler, g.tokens[i]);
    g.have_last = 0;
    g.n_generated = 0;
    memset(&g.stream, 0, sizeof g.stream);
    return n;
}

/*
 * Produces one token: evaluates the one sampled before (if any), samples
 * the next and leaves its complete UTF-8 text in pf_text(). Returns 1 when
 * a token was produced and -1 with a message on failure. Returns 0 when the
 * generation ended at an end-of-generation token or a full context, and the
 * message names a full context. pf_text() then contains the text that was
 * still pending.
 */
EMSCRIPTEN_KEEPALIVE int pf_next(void)
{
    char piece[256];
    int n_piece;
    size_t n_out;

    g.text[0] = 0;
    if (!g.ctx || !g.sampler)
        return llm_fail(&g_err, "no generation is running");
    if (g.have_last) {
        if (llm_ctx_pos(g.ctx) >= llm_ctx_size(g.ctx)) {
            g.text[llm_utf8_flush(&g.stream, g.text)] = 0;
            llm_fail(&g_err, "the context of %u tokens is full", g.n_ctx);
            return 0;
        }
        if (llm_eval(g.ctx, &g.last, 1, &g_err) != LLM_OK)
            return -1;
        g.have_last = 0;
    }
    g.last = llm_sampler_sample(g.sampler, llm_logits(g.ctx));
    if (llm_vocab_is_eog(llm_model_vocab(g.model), g.last)) {
        g.text[llm_utf8_flush(&g.stream, g.text)] = 0;
        g_err.message[0] = 0;
        return 0;
    }
    n_piece = llm_token_piece(llm_model_vocab(g.model), g.last, piece, (int)sizeof piece);
    if (n_piece > (int)sizeof piece)
        n_piece = (int)sizeof piece; /* NOTE: pieces over 256 bytes are cut, as in the CLI */
    n_out = llm_utf8_push(&g.stream, piece, (size_t)n_piece, g.text);
    g.text[n_out] = 0;
    g.have_last = 1;
    g.n_generated++;
    return 1;
}

/* Ends a generation early (Stop, or the token limit) and returns the text of a character still pending. */
EMSCRIPTEN_KEEPALIVE const char *pf_finish(void)
{
    g.text[llm_utf8_flush(&g.stream, g.text)] = 0;
    g.have_last = 0;
    return g.text;
}

/* Returns the text that the last pf_next produced. */
EMSCRIPTEN_KEEPALIVE const char *pf_text(void)
{
    return g.text;
}
