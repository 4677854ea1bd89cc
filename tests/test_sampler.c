/*
 * test_sampler.c - sampling filters, seeds, and the UTF-8 stream that
 * carries token pieces to the output.
 */
#include "check.h"
#include "llm.h"
#include "utf8.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#define N_VOCAB 8

static llm_sampler *make_sampler(float temp, int top_k, float top_p, float min_p, float penalty, uint64_t seed)
{
    llm_sampler_params p;
    llm_error err;

    llm_sampler_defaults(&p);
    p.temperature = temp;
    p.top_k = top_k;
    p.top_p = top_p;
    p.min_p = min_p;
    p.repeat_penalty = penalty;
    p.seed = seed;
    return llm_sampler_new(&p, N_VOCAB, &err);
}

/* Draws n tokens from fixed logits and counts how often each id came up. */
static void histogram(llm_sampler *s, const float *logits, int n, int *counts)
{
    int i;

    memset(counts, 0, N_VOCAB * sizeof *counts);
    for (i = 0; i < n; i++)
        counts[llm_sampler_sample(s, logits)]++;
}

static void test_filters(void)
{
    const float logits[N_VOCAB] = {1.0f, 3.0f, 2.9f, 0.5f, -1.0f, 2.0f, -3.0f, 0.0f};
    int counts[N_VOCAB], i, others;
    llm_sampler *s;

    s = make_sampler(0.0f, 40, 0.95f, 0.05f, 1.0f, 1);
    check(llm_sampler_sample(s, logits) == 1, "sampler greedy", "temp 0 picks the argmax, token 1");
    llm_sampler_free(s);

    s = make_sampler(1.0f, 1, 1.0f, 0.0f, 1.0f, 7);
    histogram(s, logits, 200, counts);
    check(counts[1] == 200, "sampler top-k 1", "token 1 drawn %d of 200 times, expected all", counts[1]);
    llm_sampler_free(s);

    s = make_sampler(1.0f, 2, 1.0f, 0.0f, 1.0f, 7);
    histogram(s, logits, 2000, counts);
    others = 2000 - counts[1] - counts[2];
    check(others == 0 && counts[1] > 800 && counts[2] > 800, "sampler top-k 2",
          "tokens 1 and 2 drawn %d and %d times, others %d; expected only 1 and 2, about evenly", counts[1],
          counts[2], others);
    llm_sampler_free(s);

    /* p(1) = 0.39, p(2) = 0.35 at temperature 1, so top-p 0.35 keeps token 1 alone. */
    s = make_sampler(1.0f, 0, 0.35f, 0.0f, 1.0f, 3);
    histogram(s, logits, 500, counts);
    check(counts[1] == 500, "sampler top-p", "top-p 0.35: token 1 drawn %d of 500 times, expected all", counts[1]);
    llm_sampler_free(s);

    /* min-p 0.5 keeps logits within log(2) of the best: tokens 1 and 2 only. */
    s = make_sampler(1.0f, 0, 1.0f, 0.5f, 1.0f, 3);
    histogram(s, logits, 1000, counts);
    others = 1000 - counts[1] - counts[2];
    check(others == 0 && counts[2] > 0, "sampler min-p",
          "min-p 0.5: tokens 1, 2 drawn %d, %d times and others %d; expected only 1 and 2", counts[1], counts[2],
          others);
    llm_sampler_free(s);

    /* A penalty of 2 halves token 1's logit to 1.5, so greedy moves to token 2. */
    s = make_sampler(0.0f, 40, 1.0f, 0.0f, 2.0f, 1);
    llm_sampler_accept(s, 1);
    check(llm_sampler_sample(s, logits) == 2, "sampler repeat penalty", "greedy after penalizing token 1 picks 2");
    llm_sampler_free(s);

    /* The same seed draws the same sequence; a different seed draws another. */
    {
        int a[64], b[64], c[64], same_ab = 1, same_ac = 1;
        llm_sampler *sa = make_sampler(1.5f, 0, 1.0f, 0.0f, 1.0f, 42);
        llm_sampler *sb = make_sampler(1.5f, 0, 1.0f, 0.0f, 1.0f, 42);
        llm_sampler *sc = make_sampler(1.5f, 0, 1.0f, 0.0f, 1.0f, 43);
        for (i = 0; i < 64; i++) {
            a[i] = llm_sampler_sample(sa, logits);
            b[i] = llm_sampler_sample(sb, logits);
            c[i] = llm_sampler_sample(sc, logits);
            same_ab &= a[i] == b[i];
            same_ac &= a[i] == c[i];
        }
        check(same_ab, "sampler seed repeats", "seed 42 twice gives the same 64 draws");
        check(!same_ac, "sampler seed varies", "seeds 42 and 43 give different draws");
        llm_sampler_free(sa);
        llm_sampler_free(sb);
        llm_sampler_free(sc);
    }

    /* NaN logits are never picked. */
    {
        float with_nan[N_VOCAB];
        memcpy(with_nan, logits, sizeof with_nan);
        with_nan[0] = NAN;
        s = make_sampler(0.0f, 40, 1.0f, 0.0f, 1.0f, 1);
        check(llm_sampler_sample(s, with_nan) == 1, "sampler NaN logit", "greedy skips a NaN logit");
        llm_sampler_free(s);
    }
}

static void test_invalid_params(void)
{
    llm_sampler_params p;
    llm_error err;
    llm_sampler *s;

    llm_sampler_defaults(&p);
    p.repeat_penalty = 0.0f;
    s = llm_sampler_new(&p, N_VOCAB, &err);
    check(s == NULL && strstr(err.message, "repeat-penalty") != NULL, "sampler rejects penalty 0", "message: %s",
          s ? "(none)" : err.message);
    llm_sampler_free(s);

    llm_sampler_defaults(&p);
    p.temperature = NAN;
    s = llm_sampler_new(&p, N_VOCAB, &err);
    check(s == NULL && strstr(err.message, "temp") != NULL, "sampler rejects NaN temp", "message: %s",
          s ? "(none)" : err.message);
    llm_sampler_free(s);
}

static void test_utf8_stream(void)
{
    /* "é" (c3 a9), "€" (e2 82 ac) and "😀" (f0 9f 98 80) split across pieces. */
    const char *pieces[] = {"a\xc3", "\xa9\xe2\x82", "\xac", "\xf0\x9f", "\x98", "\x80z"};
    const char *expected[] = {"a", "\xc3\xa9", "\xe2\x82\xac", "", "", "\xf0\x9f\x98\x80z"};
    llm_utf8_stream st = {{0}, 0};
    char out[64];
    size_t i, n;

    for (i = 0; i < sizeof pieces / sizeof pieces[0]; i++) {
        n = llm_utf8_push(&st, pieces[i], strlen(pieces[i]), out);
        check(n == strlen(expected[i]) && memcmp(out, expected[i], n) == 0, "utf8 stream piece",
              "piece %d wrote %d bytes, expected %d", (int)i, (int)n, (int)strlen(expected[i]));
    }

    /* A lone continuation byte or an invalid lead byte passes through at once. */
    n = llm_utf8_push(&st, "\x80\xff", 2, out);
    check(n == 2, "utf8 stream invalid bytes", "wrote %d bytes, expected 2", (int)n);

    /* An unfinished character is written by flush at the end. */
    n = llm_utf8_push(&st, "\xe2\x82", 2, out);
    check(n == 0, "utf8 stream holds partial", "wrote %d bytes, expected 0", (int)n);
    n = llm_utf8_flush(&st, out);
    check(n == 2 && st.n_pending == 0, "utf8 stream flush", "flushed %d bytes, expected 2", (int)n);
}

void test_sampler(void)
{
    test_filters();
    test_invalid_params();
    test_utf8_stream();
}
