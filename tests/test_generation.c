/*
 * test_generation.c - the engine against llama.cpp's outputs in reference/generation.
 *
 * For every <model>.<prompt>.json: the prompt's token ids, the full logit
 * vector after the prompt (<model>.<prompt>.logits0.f32), the top-8 logits
 * at every greedy step, the greedy token ids and the greedy text. Then the
 * CLI (PINFER_CLI, default build/pinfer) must print exactly the greedy text.
 */
#include "check.h"
#include "json.h"
#include "llm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/*
 * LOGIT_TOLERANCE: pinfer quantizes activations as llama.cpp does and keeps
 * its KV cache in F16 as llama.cpp does, so for the first steps most logits
 * agree to 1e-5. They do not stay that close. llama.cpp sums each dot
 * product in its SIMD lane order, so results differ in the last bit. Now
 * and then such a bit moves a value across a rounding boundary of the F16
 * cache or of the 8-bit activation quantization, and the flipped value then
 * stays in the KV cache. On the fixtures one flip moves logits by up to 0.35
 * (Q2_K, Q3_K_L and Q5_K_M stories models, measured with pinfer's scalar
 * kernels), while the Llama 3 and F32 models stay within 0.05. The bound,
 * 0.5, sits above those flips and far below what a wrong kernel, RoPE or
 * attention mask does to these logits (several units: the top logit is
 * 10 to 17 and the gap to the second is usually above 1).
 */
#define LOGIT_TOLERANCE 0.5

/*
 * A step whose two best reference logits are closer than twice the
 * tolerance is a near-tie: the same flips may pick the other token. There
 * the test accepts either token and the CLI text is compared up to it.
 */
#define NEAR_TIE (2 * LOGIT_TOLERANCE)

/*
 * The only cases where a near-tie may go the other way. llama.cpp itself
 * does not reproduce them: its build bundled with node-llama-cpp 3.22.1, on
 * the x86-64 machine these tests were written on, leaves the reference at
 * step 45, 41, 41 and 37 of these four. Every other case must give the
 * reference tokens one for one.
 */
static const char *const build_dependent_cases[] = {
    "stories260K-32h-IQ4_NL/empty",
    "stories260K-32h-IQ4_NL/story-once",
    "stories260K-32h-Q5_K_M/empty",
    "stories260K-32h-Q5_K_M/story-once",
};

static int build_dependent(const char *case_name)
{
    size_t i;

    for (i = 0; i < sizeof build_dependent_cases / sizeof build_dependent_cases[0]; i++) {
        if (strcmp(case_name, build_dependent_cases[i]) == 0)
            return 1;
    }
    return 0;
}

#define MAX_CASES 256

/* Bytes of greedy text before the first near-tie that went the other way, or -1 when none did. */
static struct {
    char name[600];
    long tie_prefix;
} case_results[MAX_CASES];
static int n_case_results;

typedef struct {
    char model[256];
    llm_model *m;
    void *bytes;
} loaded_model;

static int within_tolerance(double got, double want)
{
    return fabs(got - want) <= LOGIT_TOLERANCE;
}

static void record_case(const char *name, long tie_prefix)
{
    if (n_case_results == MAX_CASES)
        return;
    snprintf(case_results[n_case_results].name, sizeof case_results[0].name, "%s", name);
    case_results[n_case_results].tie_prefix = tie_prefix;
    n_case_results++;
}

/* -2 when the engine checks did not pass for the case, so the CLI has nothing to be held to. */
static long recorded_tie_prefix(const char *name)
{
    int i;

    for (i = 0; i < n_case_results; i++) {
        if (strcmp(case_results[i].name, name) == 0)
            return case_results[i].tie_prefix;
    }
    return -2;
}

static int argmax(const float *x, int n)
{
    int best = 0, i;

    for (i = 1; i < n; i++) {
        if (x[i] > x[best])
            best = i;
    }
    return best;
}

/* Loads models/<name>.gguf unless it is the one already loaded. */
static llm_model *load_model(loaded_model *cache, const char *name)
{
    char rel[512], path[4096];
    size_t n;
    llm_error err;

    if (cache->m && strcmp(cache->model, name) == 0)
        return cache->m;
    llm_model_close(cache->m);
    free(cache->bytes);
    cache->m = NULL;
    snprintf(cache->model, sizeof cache->model, "%s", name);
    snprintf(rel, sizeof rel, "models/%s.gguf", name);
    snprintf(path, sizeof path, "%s", shared_path(rel));
    cache->bytes = read_file(path, &n);
    if (!cache->bytes) {
        check(0, name, "cannot read %s", path);
        return NULL;
    }
    cache->m = llm_model_open(cache->bytes, n, name, &err);
    if (!cache->m)
        check(0, name, "model did not open: %s", err.message);
    return cache->m;
}

static int is_chat_prompt(const char *prompt)
{
    return strcmp(prompt, "chat-llama3") == 0;
}

/* Compares the logits after the prompt with every value in the .logits0.f32 file. */
static void check_logits0(const char *case_name, const char *json_path, const float *logits, int n_vocab)
{
    char path[4096];
    size_t n_bytes, len = strlen(json_path) - strlen(".json");
    float *want;
    double worst = 0.0;
    int i, worst_i = 0, outside = 0;

    snprintf(path, sizeof path, "%.*s.logits0.f32", (int)len, json_path);
    want = read_file(path, &n_bytes);
    if (!want || n_bytes != (size_t)n_vocab * 4) {
        check(0, case_name, "logits0: %s missing or not %d floats", path, n_vocab);
        free(want);
        return;
    }
    for (i = 0; i < n_vocab; i++) {
        double d = fabs((double)logits[i] - want[i]);
        if (!within_tolerance(logits[i], want[i]))
            outside++;
        if (d > worst) {
            worst = d;
            worst_i = i;
        }
    }
    check(outside == 0, case_name, "logits0: %d of %d logits outside tolerance; largest difference %.5f at token %d",
          outside, n_vocab, worst, worst_i);
    free(want);
}

struct case_ctx {
    loaded_model models;
    double worst_top8;
    const llm_kernels *kernels; /* table for llm_ctx_new, from PINFER_KERNELS */
};

/*
 * Returns the kernel table named by PINFER_KERNELS (scalar when unset), so
 * that tests/run.sh can repeat this suite with every table the CPU supports.
 * Records a failure and returns NULL for a name this CPU cannot run.
 */
static const llm_kernels *kernels_from_env(void)
{
    const char *name = getenv("PINFER_KERNELS");
    const llm_kernels *k;

    if (!name || !*name)
        return &llm_kernels_scalar;
    k = llm_kernels_by_name(name);
    check(k != NULL, "generation kernels", "PINFER_KERNELS=%s is unknown or not supported by this CPU", name);
    return k;
}

static void run_reference_case(const char *json_path, void *arg)
{
    struct case_ctx *cc = arg;
    const char *file = strrchr(json_path, '/') + 1;
    char model_name[256], prompt_name[256], case_name[600], rel[512];
    const char *dot = strchr(file, '.');
    size_t text_len, json_bytes;
    char *text, *json_text;
    json_value *ref;
    const json_value *want_prompt, *want_greedy, *steps;
    llm_model *m;
    llm_ctx *c = NULL;
    llm_ctx_params cp;
    llm_error err;
    int32_t ids[4096];
    int n_ids, i, step, ok, n_steps, n_vocab;
    long tie_prefix = -1;
    char got_text[8192];
    size_t got_len = 0, want_len;
    const char *want_text;

    if (strstr(file, ".logits0.") || !dot)
        return;
    snprintf(model_name, sizeof model_name, "%.*s", (int)(dot - file), file);
    snprintf(prompt_name, sizeof prompt_name, "%.*s", (int)(strlen(dot + 1) - strlen(".json")), dot + 1);
    snprintf(case_name, sizeof case_name, "%s/%s", model_name, prompt_name);

    json_text = read_file(json_path, &json_bytes);
    ref = json_text ? json_parse(json_text, json_bytes) : NULL;
    snprintf(rel, sizeof rel, "reference/prompts/%s.txt", prompt_name);
    text = read_file(shared_path(rel), &text_len);
    m = load_model(&cc->models, model_name);
    if (!ref || !text || !m) {
        check(0, case_name, "could not read the reference (%s), the prompt (%s) or the model", json_path, rel);
        goto done;
    }
    n_vocab = (int)llm_model_hparams(m)->n_vocab;

    /* 1. prompt tokens: BOS added unless present; special tokens parsed only in the chat prompt */
    want_prompt = json_get(ref, "prompt_tokens");
    n_ids = llm_tokenize(llm_model_vocab(m), text, text_len, 1, is_chat_prompt(prompt_name), ids, 4096);
    ok = n_ids == (int)json_len(want_prompt);
    for (i = 0; ok && i < n_ids; i++)
        ok = ids[i] == (int32_t)json_number(json_at(want_prompt, (size_t)i));
    check(ok, case_name, "prompt tokens: got %d ids, expected %d", n_ids, (int)json_len(want_prompt));
    if (!ok)
        goto done;

    /* 2. evaluate the prompt, then step greedily, checking the top-8 logits of each step */
    want_greedy = json_get(ref, "greedy_tokens");
    steps = json_get(ref, "steps");
    n_steps = (int)json_len(steps);
    memset(&cp, 0, sizeof cp);
    cp.n_ctx = (uint32_t)(n_ids + (int)json_len(want_greedy) + 1);
    cp.kernels = cc->kernels;
    c = llm_ctx_new(m, &cp, &err);
    if (!c || llm_eval(c, ids, n_ids, &err) != LLM_OK) {
        check(0, case_name, "evaluation failed: %s", err.message);
        goto done;
    }
    check_logits0(case_name, json_path, llm_logits(c), n_vocab);

    ok = 1;
    for (step = 0; step < (int)json_len(want_greedy) && ok; step++) {
        const float *logits = llm_logits(c);
        int32_t want_id = (int32_t)json_number(json_at(want_greedy, (size_t)step)), got_id = argmax(logits, n_vocab);
        const json_value *top = step < n_steps ? json_get(json_at(steps, (size_t)step), "top") : NULL;
        char piece[256];
        int n_piece;

        for (i = 0; top && i < (int)json_len(top); i++) {
            const json_value *pair = json_at(top, (size_t)i);
            int id = (int)json_number(json_at(pair, 0));
            double want = json_number(json_at(pair, 1)), got = logits[id];
            if (fabs(got - want) > cc->worst_top8)
                cc->worst_top8 = fabs(got - want);
            if (!within_tolerance(got, want)) {
                check(0, case_name, "step %d: logit of token %d is %.5f, expected %.5f within %.2f", step, id, got,
                      want, LOGIT_TOLERANCE);
                ok = 0;
                break;
            }
        }
        if (ok && got_id != want_id) {
            double gap = top && json_len(top) > 1
                             ? json_number(json_at(json_at(top, 0), 1)) - json_number(json_at(json_at(top, 1), 1))
                             : 1e9;
            int tie_ok = gap < NEAR_TIE && top && (int32_t)json_number(json_at(json_at(top, 1), 0)) == got_id &&
                         build_dependent(case_name);
            check(tie_ok, case_name,
                  "step %d: greedy token %d, expected %d (reference gap to the second token %.4f, near-tie bound "
                  "%.2f; only the cases in build_dependent_cases may differ at a near-tie)",
                  step, got_id, want_id, gap, NEAR_TIE);
            if (tie_ok && tie_prefix < 0)
                tie_prefix = (long)got_len;
            if (!tie_ok)
                ok = 0;
            if (tie_ok)
                printf("# %s: step %d is a near-tie (reference gap %.4f); pinfer picks token %d, llama.cpp %d\n",
                       case_name, step, gap, got_id, want_id);
            got_id = want_id; /* follow the reference so later steps stay comparable */
        }
        n_piece = llm_token_piece(llm_model_vocab(m), got_id, piece, (int)sizeof piece);
        if (n_piece > 0 && got_len + (size_t)n_piece < sizeof got_text) {
            memcpy(got_text + got_len, piece, (size_t)n_piece);
            got_len += (size_t)n_piece;
        }
        if (step + 1 < (int)json_len(want_greedy) && llm_eval(c, &got_id, 1, &err) != LLM_OK) {
            check(0, case_name, "evaluation failed at step %d: %s", step, err.message);
            ok = 0;
        }
    }
    check(ok, case_name, "greedy tokens and top-8 logits over %d steps", (int)json_len(want_greedy));
    if (ok)
        record_case(case_name, tie_prefix);

    /* 3. the text of the greedy tokens */
    want_text = json_string(json_get(ref, "greedy_text"), &want_len);
    if (ok)
        check(want_text && got_len == want_len && memcmp(got_text, want_text, want_len) == 0, case_name,
              "greedy text: got \"%.*s\", expected \"%.*s\"", (int)got_len, got_text, (int)want_len,
              want_text ? want_text : "");

done:
    llm_ctx_free(c);
    json_free(ref);
    free(json_text);
    free(text);
}

/* Runs the CLI greedily on one reference case and compares stdout with greedy_text. */
static void run_cli_case(const char *json_path, void *arg)
{
    const char *file = strrchr(json_path, '/') + 1, *dot = strchr(file, '.');
    const char *cli = getenv("PINFER_CLI");
    char model_name[256], prompt_name[256], case_name[600], model_rel[512], prompt_rel[512];
    char model_path[4096], prompt_path[4096], command[10000], out_path[] = "/tmp/pinfer-cli-XXXXXX";
    size_t json_bytes, got_len = 0, want_len;
    char *json_text = NULL, *got = NULL;
    json_value *ref = NULL;
    const char *want;
    long tie_prefix;
    int status, fd;

    (void)arg;
    if (strstr(file, ".logits0.") || !dot)
        return;
    snprintf(model_name, sizeof model_name, "%.*s", (int)(dot - file), file);
    snprintf(prompt_name, sizeof prompt_name, "%.*s", (int)(strlen(dot + 1) - strlen(".json")), dot + 1);
    snprintf(case_name, sizeof case_name, "cli %s/%s", model_name, prompt_name);
    snprintf(model_rel, sizeof model_rel, "models/%s.gguf", model_name);
    snprintf(model_path, sizeof model_path, "%s", shared_path(model_rel));
    snprintf(prompt_rel, sizeof prompt_rel, "reference/prompts/%s.txt", prompt_name);
    snprintf(prompt_path, sizeof prompt_path, "%s", shared_path(prompt_rel));

    json_text = read_file(json_path, &json_bytes);
    ref = json_text ? json_parse(json_text, json_bytes) : NULL;
    want = ref ? json_string(json_get(ref, "greedy_text"), &want_len) : NULL;
    fd = mkstemp(out_path);
    if (!want || fd < 0) {
        check(0, case_name, "cannot read %s or create a temporary file", json_path);
        goto done;
    }
    snprintf(command, sizeof command,
             "'%s' -m '%s' -f '%s' -n %d --temp 0 --no-display-prompt > '%s' 2>/dev/null",
             cli ? cli : "build/pinfer", model_path, prompt_path, (int)json_len(json_get(ref, "greedy_tokens")),
             out_path);
    status = system(command);
    got = read_file(out_path, &got_len);
    tie_prefix = recorded_tie_prefix(case_name + strlen("cli "));
    if (tie_prefix == -2) {
        check(0, case_name, "skipped: the engine checks of this case failed");
    } else if (tie_prefix >= 0) {
        /* After a near-tie the continuation may differ; the text before it may not. */
        check(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0 && got &&
                  got_len >= (size_t)tie_prefix && memcmp(got, want, (size_t)tie_prefix) == 0,
              case_name, "stdout \"%.*s\" should start with the %ld bytes before the near-tie: \"%.*s\"",
              got ? (int)got_len : 0, got ? got : "", tie_prefix, (int)tie_prefix, want);
    } else {
        check(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0 && got && got_len == want_len &&
                  memcmp(got, want, want_len) == 0,
              case_name, "stdout \"%.*s\" (exit %d), expected \"%.*s\"", got ? (int)got_len : 0, got ? got : "",
              WIFEXITED(status) ? WEXITSTATUS(status) : -1, (int)want_len, want);
    }
    remove(out_path);

done:
    if (fd >= 0)
        close(fd);
    free(got);
    json_free(ref);
    free(json_text);
}

void test_generation(void)
{
    struct case_ctx cc;
    char dir[4096];

    memset(&cc, 0, sizeof cc);
    cc.kernels = kernels_from_env();
    if (!cc.kernels)
        return;
    printf("# kernels %s\n", cc.kernels->name);
    snprintf(dir, sizeof dir, "%s", shared_path("reference/generation"));
    for_each_file(dir, ".json", run_reference_case, &cc);
    printf("# largest top-8 logit difference from llama.cpp: %.5f\n", cc.worst_top8);
    llm_model_close(cc.models.m);
    free(cc.models.bytes);

    for_each_file(dir, ".json", run_cli_case, NULL);
}
