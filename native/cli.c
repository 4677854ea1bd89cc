/*
 * cli.c - the pinfer command line: flags, tokenize, evaluate, sample, stream
 * the text to stdout and statistics to stderr.
 *
 * Shared by the native build (native/main.c) and the WASI build
 * (wasi/main.c), which supply the cli_platform_* functions of cli.h. Flags
 * follow llama.cpp's command-line examples. Every error is one line on
 * stderr and exit status 1.
 */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "llm.h"
#include "platform.h"
#include "utf8.h"

#define DEFAULT_CTX_UNBOUNDED 4096 /* llama.cpp's default -c when -n is -1 */

typedef struct {
    const char *model_path;
    const char *prompt;
    const char *prompt_file;
    int n_predict;
    long n_ctx;
    int n_threads;
    int have_seed;
    llm_sampler_params sampling;
    int display_prompt;
    cli_load_options load;
    const llm_kernels *kernels;
} options;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: pinfer -m FILE [-p TEXT | -f FILE] [options]\n"
            "\n"
            "Generates text from a Llama-family GGUF model on the CPU.\n"
            "\n"
            "  -m, --model FILE        GGUF model file\n"
            "  -p, --prompt TEXT       prompt (default: empty, which starts from BOS)\n"
            "  -f, --file FILE         read the prompt from a file\n"
            "  -n, --n-predict N       tokens to generate; -1 runs until end of generation or a full\n"
            "                          context (default: -1)\n"
            "  -c, --ctx-size N        context size in tokens (default: prompt + n-predict, or 4096\n"
            "                          with -n -1, capped by the model's training context)\n"
            "  -t, --threads N         threads (default: the number of physical cores)\n"
            "  -s, --seed N            random seed (default: from the clock)\n"
            "      --temp T            temperature; 0 picks the most likely token (default: 0.8)\n"
            "      --top-k N           keep the N most likely tokens, 0 = off (default: 40)\n"
            "      --top-p P           keep the smallest set with probability >= P, 1 = off (default: 0.95)\n"
            "      --min-p P           drop tokens below P x the top probability, 0 = off (default: 0.05)\n"
            "      --repeat-penalty R  penalize recent tokens, 1 = off (default: 1.0)\n"
            "      --repeat-last-n N   tokens the penalty looks back over (default: 64)\n"
            "      --no-display-prompt print only the generated text on stdout\n"
            "      --no-mmap           read the model into memory instead of mapping the file\n"
            "      --mlock             keep the model's pages in memory (may need a higher ulimit -l)\n"
            "      --kernels NAME      kernel table: scalar, avx2, avx512, neon, wasm-simd128 or\n"
            "                          wasm-relaxed-simd, as this build has them (default: the fastest\n"
            "                          this CPU supports)\n"
            "  -h, --help              show this help\n"
            "\n"
            "Statistics go to stderr as lines starting with '#'.\n");
}

int cli_fail(const char *fmt, const char *a, const char *b)
{
    fprintf(stderr, "pinfer: ");
    fprintf(stderr, fmt, a, b);
    fprintf(stderr, "\n");
    return 1;
}

static int parse_long(const char *flag, const char *text, long min, long max, long *out)
{
    char *end;
    long v;

    errno = 0;
    v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < min || v > max) {
        fprintf(stderr, "pinfer: invalid value '%s' for %s: expected an integer from %ld to %ld\n", text, flag, min,
                max);
        return 1;
    }
    *out = v;
    return 0;
}

static int parse_float(const char *flag, const char *text, float min, float max, float *out)
{
    char *end;
    double v;

    errno = 0;
    v = strtod(text, &end);
    if (errno || end == text || *end || !(v >= min) || !(v <= max)) {
        fprintf(stderr, "pinfer: invalid value '%s' for %s: expected a number from %g to %g\n", text, flag,
                (double)min, (double)max);
        return 1;
    }
    *out = (float)v;
    return 0;
}

/* Reports a --kernels name that is unknown or needs features this CPU lacks, with the names it can run. */
static int fail_kernels(const char *name)
{
    const llm_kernels *tables[LLM_KERNELS_MAX];
    char supported[64] = "";
    int n = llm_kernels_supported(tables, LLM_KERNELS_MAX), i;

    for (i = 0; i < n && i < LLM_KERNELS_MAX; i++) {
        if (i > 0)
            strcat(supported, ", ");
        strcat(supported, tables[i]->name);
    }
    return cli_fail("--kernels %s: unknown, or not supported by this CPU (this CPU runs: %s)", name, supported);
}

static int parse_args(int argc, char **argv, options *o)
{
    int i;
    long v;

    memset(o, 0, sizeof *o);
    o->n_predict = -1;
    o->n_threads = platform_physical_cores();
    o->display_prompt = 1;
    o->kernels = llm_kernels_best();
    llm_sampler_defaults(&o->sampling);

    for (i = 1; i < argc; i++) {
        const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        int takes_value = 1;

#define IS(short_name, long_name) (strcmp(a, short_name) == 0 || strcmp(a, long_name) == 0)
        if (IS("-h", "--help")) {
            usage(stdout);
            exit(0);
        } else if (IS("--no-display-prompt", "--no-display-prompt")) {
            o->display_prompt = 0;
            takes_value = 0;
        } else if (IS("--no-mmap", "--no-mmap")) {
            o->load.no_mmap = 1;
            takes_value = 0;
        } else if (IS("--mlock", "--mlock")) {
            o->load.mlock = 1;
            takes_value = 0;
        } else if (!IS("-m", "--model") && !IS("-p", "--prompt") && !IS("-f", "--file") &&
                   !IS("-n", "--n-predict") && !IS("-c", "--ctx-size") && !IS("-t", "--threads") &&
                   !IS("-s", "--seed") && !IS("--temp", "--temp") && !IS("--top-k", "--top-k") &&
                   !IS("--top-p", "--top-p") && !IS("--min-p", "--min-p") &&
                   !IS("--repeat-penalty", "--repeat-penalty") && !IS("--repeat-last-n", "--repeat-last-n") &&
                   !IS("--kernels", "--kernels")) {
            return cli_fail("unknown option '%s'%s (see pinfer --help)", a, "");
        }
        if (!takes_value)
            continue;
        if (!val)
            return cli_fail("option %s needs a value%s (see pinfer --help)", a, "");
        i++;
        if (IS("-m", "--model"))
            o->model_path = val;
        else if (IS("-p", "--prompt"))
            o->prompt = val;
        else if (IS("-f", "--file"))
            o->prompt_file = val;
        else if (IS("-n", "--n-predict")) {
            if (parse_long(a, val, -1, INT_MAX / 2, &v))
                return 1;
            o->n_predict = (int)v;
        } else if (IS("-c", "--ctx-size")) {
            if (parse_long(a, val, 0, INT_MAX / 2, &v))
                return 1;
            o->n_ctx = v;
        } else if (IS("-t", "--threads")) {
            if (parse_long(a, val, 1, 1024, &v))
                return 1;
            o->n_threads = (int)v;
        } else if (IS("-s", "--seed")) {
            if (parse_long(a, val, 0, LONG_MAX, &v))
                return 1;
            o->sampling.seed = (uint64_t)v;
            o->have_seed = 1;
        } else if (IS("--temp", "--temp")) {
            if (parse_float(a, val, 0.0f, 1e6f, &o->sampling.temperature))
                return 1;
        } else if (IS("--top-k", "--top-k")) {
            if (parse_long(a, val, 0, INT_MAX, &v))
                return 1;
            o->sampling.top_k = (int)v;
        } else if (IS("--top-p", "--top-p")) {
            if (parse_float(a, val, 0.0f, 1.0f, &o->sampling.top_p))
                return 1;
        } else if (IS("--min-p", "--min-p")) {
            if (parse_float(a, val, 0.0f, 1.0f, &o->sampling.min_p))
                return 1;
        } else if (IS("--repeat-penalty", "--repeat-penalty")) {
            if (parse_float(a, val, 1e-6f, 1e6f, &o->sampling.repeat_penalty))
                return 1;
        } else if (IS("--repeat-last-n", "--repeat-last-n")) {
            if (parse_long(a, val, 0, 1 << 20, &v))
                return 1;
            o->sampling.repeat_last_n = (int)v;
        } else if (IS("--kernels", "--kernels")) {
            o->kernels = llm_kernels_by_name(val);
            if (!o->kernels)
                return fail_kernels(val);
        }
#undef IS
    }
    if (!o->model_path)
        return cli_fail("no model given: use -m FILE with a GGUF model%s%s (see pinfer --help)", "", "");
    if (o->prompt && o->prompt_file)
        return cli_fail("both -p and -f given: use one of them%s%s", "", "");
    return 0;
}

static char *read_text_file(const char *path, size_t *n)
{
    FILE *fp = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, len = 0, got;

    if (!fp)
        return NULL;
    do {
        if (len + 4096 + 1 > cap) {
            char *grown;
            cap = cap ? cap * 2 : 8192;
            grown = realloc(buf, cap);
            if (!grown) {
                free(buf);
                fclose(fp);
                return NULL;
            }
            buf = grown;
        }
        got = fread(buf + len, 1, 4096, fp);
        len += got;
    } while (got > 0);
    if (ferror(fp)) {
        int saved = errno; /* reading a directory fails here with EISDIR */
        free(buf);
        fclose(fp);
        errno = saved;
        return NULL;
    }
    fclose(fp);
    buf[len] = 0;
    *n = len;
    return buf;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

static void print_model_line(const llm_model *m, const char *path, size_t n_bytes, const char *kernels, int threads)
{
    const llm_hparams *hp = llm_model_hparams(m);
    char types[512];

    llm_model_describe_types(m, types, sizeof types);
    fprintf(stderr, "# model: %s, llama, %.1fM params, %.1f MiB, kernels %s, %d thread%s\n", base_name(path),
            (double)llm_model_n_params(m) / 1e6, (double)n_bytes / (1024.0 * 1024.0), kernels, threads,
            threads == 1 ? "" : "s");
    fprintf(stderr, "# tensors: %s\n", types);
    fprintf(stderr,
            "# hparams: n_vocab %u, n_embd %u, n_layers %u, n_heads %u, n_kv_heads %u, head_dim %u, n_ff %u, "
            "n_ctx_train %u, rope_base %g\n",
            hp->n_vocab, hp->n_embd, hp->n_layers, hp->n_heads, hp->n_kv_heads, hp->head_dim, hp->n_ff,
            hp->n_ctx_train, (double)hp->rope_base);
}

static double per_second(int n, double ms)
{
    return ms > 0.0 ? n * 1000.0 / ms : 0.0;
}

typedef struct {
    cli_model_file file;
    platform_pool *pool;
    llm_model *model;
    llm_ctx *ctx;
    llm_sampler *sampler;
    int32_t *tokens;
    char *prompt_buf;
    int mid_line; /* the text on stdout does not end with a newline */
} session;

static void close_session(session *s)
{
    llm_sampler_free(s->sampler);
    llm_ctx_free(s->ctx);
    llm_model_close(s->model);
    platform_pool_free(s->pool);
    cli_platform_unload_model(&s->file);
    free(s->tokens);
    free(s->prompt_buf);
}

/* Tokenizes the prompt with BOS added (unless present) and special tokens parsed, as llama-cli does. */
static int tokenize_prompt(session *s, const char *text, size_t len, int *n_prompt)
{
    const llm_vocab *vocab = llm_model_vocab(s->model);
    int need = llm_tokenize(vocab, text, len, 1, 1, NULL, 0);

    if (need < 0)
        return cli_fail("cannot tokenize the prompt%s%s", "", "");
    s->tokens = malloc(((size_t)need + 1) * sizeof *s->tokens);
    if (!s->tokens)
        return cli_fail("out of memory for the prompt's tokens%s%s", "", "");
    *n_prompt = llm_tokenize(vocab, text, len, 1, 1, s->tokens, need);
    return 0;
}

static uint32_t choose_context(const options *o, const llm_hparams *hp, int n_prompt)
{
    uint64_t want;

    if (o->n_ctx > 0)
        return (uint32_t)o->n_ctx;
    want = o->n_predict >= 0 ? (uint64_t)n_prompt + (uint64_t)o->n_predict : DEFAULT_CTX_UNBOUNDED;
    if (want < (uint64_t)n_prompt)
        want = (uint64_t)n_prompt;
    if (want == 0)
        want = 1;
    return want > hp->n_ctx_train ? hp->n_ctx_train : (uint32_t)want;
}

/* Writes generated text to stdout at once and remembers whether it ended a line. */
static void write_text(session *s, const char *text, size_t n)
{
    if (n == 0)
        return;
    fwrite(text, 1, n, stdout);
    fflush(stdout);
    s->mid_line = text[n - 1] != '\n';
}

/*
 * Starts a stats line on a fresh line of the terminal when stdout and stderr
 * both go to one and the text stopped mid-line. Redirected output is left as it is.
 */
static void start_stats_line(session *s)
{
    if (s->mid_line && isatty(1) && isatty(2))
        fputc('\n', stderr);
    s->mid_line = 0;
}

static int generate(session *s, const options *o, double *t_gen_ms, int *n_generated)
{
    const llm_vocab *vocab = llm_model_vocab(s->model);
    llm_utf8_stream stream = {{0}, 0};
    char piece[256], out[256 + 8];
    llm_error err;
    double t0 = platform_now_ms();
    int i;

    *n_generated = 0;
    for (i = 0; o->n_predict < 0 || i < o->n_predict; i++) {
        int32_t id = llm_sampler_sample(s->sampler, llm_logits(s->ctx));
        int n_piece;
        size_t n_out;

        if (llm_vocab_is_eog(vocab, id))
            break;
        n_piece = llm_token_piece(vocab, id, piece, (int)sizeof piece);
        if (n_piece > (int)sizeof piece)
            n_piece = (int)sizeof piece; /* NOTE: pieces over 256 bytes are cut; no known vocabulary has one */
        n_out = llm_utf8_push(&stream, piece, (size_t)n_piece, out);
        write_text(s, out, n_out);
        (*n_generated)++;
        if (llm_ctx_pos(s->ctx) >= llm_ctx_size(s->ctx)) {
            uint32_t n_ctx = llm_ctx_size(s->ctx);
            start_stats_line(s);
            if (n_ctx >= llm_model_hparams(s->model)->n_ctx_train)
                fprintf(stderr, "# stopped: the context of %u tokens, the model's training context, is full\n", n_ctx);
            else
                fprintf(stderr, "# stopped: the context of %u tokens is full (use a larger -c, at most %u)\n", n_ctx,
                        llm_model_hparams(s->model)->n_ctx_train);
            break;
        }
        if (o->n_predict >= 0 && i + 1 >= o->n_predict)
            break;
        if (llm_eval(s->ctx, &id, 1, &err) != LLM_OK)
            return cli_fail("%s%s", err.message, "");
    }
    write_text(s, out, llm_utf8_flush(&stream, out));
    *t_gen_ms = platform_now_ms() - t0;
    return 0;
}

static int run(const options *o, session *s)
{
    llm_error err;
    llm_ctx_params cp;
    llm_sampler_params sp = o->sampling;
    const char *prompt = o->prompt ? o->prompt : "";
    size_t prompt_len = strlen(prompt);
    double t0 = platform_now_ms(), t_load, t_prompt, t_gen = 0.0;
    int n_prompt = 0, n_generated = 0, i;

    if (o->prompt_file) {
        s->prompt_buf = read_text_file(o->prompt_file, &prompt_len);
        if (!s->prompt_buf) {
            int err = errno;
            if (cli_platform_explain_open_error(o->prompt_file, err))
                return 1;
            return cli_fail("%s: cannot read the prompt file: %s", o->prompt_file, strerror(err));
        }
        prompt = s->prompt_buf;
    }
    if (cli_platform_load_model(o->model_path, &o->load, &s->file))
        return 1;
    s->model = llm_model_open(s->file.bytes, s->file.n_bytes, base_name(o->model_path), &err);
    if (!s->model)
        return cli_fail("%s%s", err.message, "");

    if (tokenize_prompt(s, prompt, prompt_len, &n_prompt))
        return 1;
    memset(&cp, 0, sizeof cp);
    cp.n_ctx = choose_context(o, llm_model_hparams(s->model), n_prompt);
    cp.kernels = o->kernels;
    if (o->n_threads > 1) {
        s->pool = platform_pool_new(o->n_threads);
        if (!s->pool)
#if defined(__wasi__)
            return fprintf(stderr,
                           "pinfer: cannot start %d threads: WASI preview 1 has no threads, so pinfer.wasm runs "
                           "one (use -t 1 or leave -t out)\n",
                           o->n_threads),
                   1;
#else
            return fprintf(stderr, "pinfer: cannot start %d threads (try a smaller -t)\n", o->n_threads), 1;
#endif
        cp.parallel.run = platform_pool_run;
        cp.parallel.pool = s->pool;
        cp.parallel.n_threads = o->n_threads;
    }
    if ((uint32_t)n_prompt > cp.n_ctx)
        return fprintf(stderr,
                       "pinfer: the prompt has %d tokens but the context holds %u (use a larger -c, at most %u)\n",
                       n_prompt, cp.n_ctx, llm_model_hparams(s->model)->n_ctx_train),
               1;
    if (cli_platform_check_context(o->model_path, s->model, cp.n_ctx))
        return 1;
    s->ctx = llm_ctx_new(s->model, &cp, &err);
    if (!s->ctx)
        return cli_fail("%s%s", err.message, "");
    print_model_line(s->model, o->model_path, s->file.n_bytes, llm_ctx_kernels(s->ctx), o->n_threads);
    if (!o->have_seed)
        sp.seed = (uint64_t)time(NULL);
    s->sampler = llm_sampler_new(&sp, (int32_t)llm_model_hparams(s->model)->n_vocab, &err);
    if (!s->sampler)
        return cli_fail("%s%s", err.message, "");
    t_load = platform_now_ms() - t0;
    fprintf(stderr, "# context: %u tokens, %.1f MiB | load: %.1f ms | seed %llu\n", cp.n_ctx,
            (double)llm_ctx_bytes(s->model, cp.n_ctx) / (1024.0 * 1024.0), t_load, (unsigned long long)sp.seed);

    if (o->display_prompt)
        write_text(s, prompt, prompt_len);
    t0 = platform_now_ms();
    if (llm_eval(s->ctx, s->tokens, n_prompt, &err) != LLM_OK)
        return cli_fail("%s%s", err.message, "");
    t_prompt = platform_now_ms() - t0;
    for (i = 0; i < n_prompt; i++)
        llm_sampler_accept(s->sampler, s->tokens[i]);

    if (o->n_predict != 0 && generate(s, o, &t_gen, &n_generated))
        return 1;
    if (o->display_prompt)
        write_text(s, "\n", 1);
    start_stats_line(s);
    fprintf(stderr, "# prompt: %d tokens in %.1f ms (%.1f tok/s) | generate: %d tokens in %.1f ms (%.1f tok/s)\n",
            n_prompt, t_prompt, per_second(n_prompt, t_prompt), n_generated, t_gen, per_second(n_generated, t_gen));
    return 0;
}

int cli_main(int argc, char **argv)
{
    options o;
    session s;
    int status;

    if (parse_args(argc, argv, &o))
        return 1;
    memset(&s, 0, sizeof s);
    status = run(&o, &s);
    close_session(&s);
    return status;
}
