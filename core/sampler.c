/*
 * sampler.c - picks the next token from logits.
 *
 * The filters run in llama.cpp's default order: repetition penalty, top-k,
 * top-p, min-p, then temperature and a draw from the softmax. Temperature
 * <= 0 is greedy (argmax after the penalty). The generator is xoshiro256**
 * seeded through splitmix64, so a seed reproduces a run on every platform.
 */
#include "llm.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    int32_t id;
    float logit;
} candidate;

struct llm_sampler {
    llm_sampler_params p;
    int32_t n_vocab;
    uint64_t rng[4];
    candidate *cand;  /* [n_vocab] */
    float *probs;     /* [n_vocab] */
    int32_t *recent;  /* [repeat_last_n] ring of accepted tokens */
    int n_recent, recent_next;
};

void llm_sampler_defaults(llm_sampler_params *p)
{
    /* llama.cpp's defaults for its command-line examples (build 4748). */
    p->temperature = 0.8f;
    p->top_k = 40;
    p->top_p = 0.95f;
    p->min_p = 0.05f;
    p->repeat_penalty = 1.0f;
    p->repeat_last_n = 64;
    p->seed = 0;
}

static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t next_u64(uint64_t s[4])
{
    uint64_t result = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;

    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* Uniform in [0, 1) with 53 random bits. */
static double next_unit(uint64_t s[4])
{
    return (double)(next_u64(s) >> 11) * (1.0 / 9007199254740992.0);
}

llm_sampler *llm_sampler_new(const llm_sampler_params *p, int32_t n_vocab, llm_error *err)
{
    llm_sampler *s;
    uint64_t seed_state = p->seed;
    int i;

    if (!(p->temperature == p->temperature) || !(p->top_p == p->top_p) || !(p->min_p == p->min_p) ||
        !(p->repeat_penalty > 0.0f) || p->repeat_last_n < 0 || p->repeat_last_n > (1 << 20) || n_vocab <= 0) {
        llm_fail(err,
                 "invalid sampling parameters: temp %g, top-p %g, min-p %g, repeat-penalty %g, repeat-last-n %d "
                 "(expected numbers, a penalty above 0 and a look-back of 0 to 1048576 tokens)",
                 (double)p->temperature, (double)p->top_p, (double)p->min_p, (double)p->repeat_penalty,
                 p->repeat_last_n);
        return NULL;
    }
    s = calloc(1, sizeof *s);
    if (!s) {
        llm_fail(err, "out of memory for the sampler");
        return NULL;
    }
    s->p = *p;
    s->n_vocab = n_vocab;
    s->cand = malloc((size_t)n_vocab * sizeof *s->cand);
    s->probs = malloc((size_t)n_vocab * sizeof *s->probs);
    s->recent = malloc((size_t)(p->repeat_last_n > 0 ? p->repeat_last_n : 1) * sizeof *s->recent);
    if (!s->cand || !s->probs || !s->recent) {
        llm_sampler_free(s);
        llm_fail(err, "out of memory for the sampler (%d tokens)", n_vocab);
        return NULL;
    }
    for (i = 0; i < 4; i++)
        s->rng[i] = splitmix64(&seed_state);
    return s;
}

void llm_sampler_free(llm_sampler *s)
{
    if (!s)
        return;
    free(s->cand);
    free(s->probs);
    free(s->recent);
    free(s);
}

void llm_sampler_accept(llm_sampler *s, int32_t id)
{
    if (s->p.repeat_last_n <= 0)
        return;
    s->recent[s->recent_next] = id;
    s->recent_next = (s->recent_next + 1) % s->p.repeat_last_n;
    if (s->n_recent < s->p.repeat_last_n)
        s->n_recent++;
}

/* Divides a positive logit by the penalty and multiplies a negative one, once per distinct recent token. */
static void apply_repeat_penalty(llm_sampler *s)
{
    int i, j;

    if (s->p.repeat_penalty == 1.0f)
        return;
    for (i = 0; i < s->n_recent; i++) {
        int32_t id = s->recent[i];
        int seen = 0;
        for (j = 0; j < i && !seen; j++)
            seen = s->recent[j] == id;
        if (seen || id < 0 || id >= s->n_vocab)
            continue;
        if (s->cand[id].logit > 0.0f)
            s->cand[id].logit /= s->p.repeat_penalty;
        else
            s->cand[id].logit *= s->p.repeat_penalty;
    }
}

static int by_logit_desc(const void *a, const void *b)
{
    float x = ((const candidate *)a)->logit, y = ((const candidate *)b)->logit;
    if (x != y)
        return x > y ? -1 : 1;
    return ((const candidate *)a)->id - ((const candidate *)b)->id;
}

/* Moves the k largest candidates to the front, sorted (a full sort when k covers them all). */
static void sort_top(candidate *c, int n, int k)
{
    int i, j;

    if (k >= n || k > 256) {
        qsort(c, (size_t)n, sizeof *c, by_logit_desc);
        return;
    }
    /* Insertion into a sorted prefix of k: O(n·k) worst case, O(n) typical for small k. */
    qsort(c, (size_t)k, sizeof *c, by_logit_desc);
    for (i = k; i < n; i++) {
        candidate x = c[i];
        if (by_logit_desc(&x, &c[k - 1]) >= 0)
            continue;
        for (j = k - 1; j > 0 && by_logit_desc(&x, &c[j - 1]) < 0; j--)
            c[j] = c[j - 1];
        c[j] = x;
    }
}

/* probs[i] = softmax(logit_i / temp) over the first n candidates; returns n. */
static void softmax(llm_sampler *s, int n, float temp)
{
    double sum = 0.0;
    float max = s->cand[0].logit;
    int i;

    for (i = 0; i < n; i++) {
        s->probs[i] = expf((s->cand[i].logit - max) / temp);
        sum += s->probs[i];
    }
    for (i = 0; i < n; i++)
        s->probs[i] = (float)(s->probs[i] / sum);
}

int32_t llm_sampler_sample(llm_sampler *s, const float *logits)
{
    int n = s->n_vocab, i;
    float temp = s->p.temperature;
    double r, cum;

    for (i = 0; i < n; i++) {
        s->cand[i].id = i;
        s->cand[i].logit = logits[i] == logits[i] ? logits[i] : -INFINITY;
    }
    apply_repeat_penalty(s);

    if (!(temp > 0.0f)) {
        int best = 0;
        for (i = 1; i < n; i++) {
            if (s->cand[i].logit > s->cand[best].logit)
                best = i;
        }
        llm_sampler_accept(s, best);
        return best;
    }

    /* top-k keeps the k largest; the rest of the filters work on the sorted prefix. */
    if (s->p.top_k > 0 && s->p.top_k < n) {
        sort_top(s->cand, n, s->p.top_k);
        n = s->p.top_k;
    } else {
        sort_top(s->cand, n, n);
    }

    /* top-p keeps the smallest prefix whose probability reaches p. */
    if (s->p.top_p < 1.0f) {
        softmax(s, n, 1.0f);
        cum = 0.0;
        for (i = 0; i < n; i++) {
            cum += s->probs[i];
            if (cum >= s->p.top_p) {
                n = i + 1;
                break;
            }
        }
    }

    /* min-p keeps candidates whose probability is at least min_p times the largest. */
    if (s->p.min_p > 0.0f && s->p.min_p <= 1.0f) {
        float floor = s->cand[0].logit + logf(s->p.min_p);
        for (i = 1; i < n && s->cand[i].logit >= floor; i++)
            ;
        n = i;
    }

    softmax(s, n, temp);
    r = next_unit(s->rng);
    cum = 0.0;
    for (i = 0; i < n - 1; i++) {
        cum += s->probs[i];
        if (r < cum)
            break;
    }
    llm_sampler_accept(s, s->cand[i].id);
    return s->cand[i].id;
}
