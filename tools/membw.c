/*
 * membw.c - measures the machine's memory read bandwidth, the bound on token generation.
 *
 * Generating one token reads every weight byte once, so tokens/s x model
 * bytes can at best reach the rate at which the cores can stream memory. This
 * program sums a buffer far larger than the caches with 1 to N threads, each
 * thread reading its own contiguous slice, and prints the best of several
 * passes for each thread count, one line each on stdout:
 *
 *   read 2 threads: 11.52 GB/s (1024 MiB buffer, best of 5 passes)
 *
 * GB is 10^9 bytes. Usage: membw [THREADS [MIB [PASSES]]], defaults 2, 1024, 5.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    const uint64_t *words;
    size_t n_words;
    uint64_t sum; /* kept so that the compiler cannot drop the reads */
} slice;

/* Sums a slice with four independent accumulators, so the loop is bound by loads, not by one add chain. */
static void *sum_slice(void *arg)
{
    slice *s = arg;
    uint64_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
    size_t i;

    for (i = 0; i + 4 <= s->n_words; i += 4) {
        a0 += s->words[i];
        a1 += s->words[i + 1];
        a2 += s->words[i + 2];
        a3 += s->words[i + 3];
    }
    s->sum = a0 + a1 + a2 + a3;
    return NULL;
}

static double now_seconds(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Returns the seconds one pass over the buffer takes with n_threads threads. */
static double timed_pass(const uint64_t *words, size_t n_words, int n_threads, uint64_t *checksum)
{
    pthread_t threads[64];
    slice slices[64];
    size_t per_thread = n_words / (size_t)n_threads;
    double t0;
    int i;

    for (i = 0; i < n_threads; i++) {
        slices[i].words = words + (size_t)i * per_thread;
        slices[i].n_words = per_thread;
    }
    t0 = now_seconds();
    for (i = 1; i < n_threads; i++) {
        if (pthread_create(&threads[i], NULL, sum_slice, &slices[i]) != 0) {
            fprintf(stderr, "membw: pthread_create failed for thread %d\n", i);
            exit(1);
        }
    }
    sum_slice(&slices[0]);
    for (i = 1; i < n_threads; i++)
        pthread_join(threads[i], NULL);
    for (i = 0; i < n_threads; i++)
        *checksum += slices[i].sum;
    return now_seconds() - t0;
}

int main(int argc, char **argv)
{
    int max_threads = argc > 1 ? atoi(argv[1]) : 2;
    long mib = argc > 2 ? atol(argv[2]) : 1024;
    int passes = argc > 3 ? atoi(argv[3]) : 5;
    size_t n_bytes, n_words;
    uint64_t *words, checksum = 0;
    int n_threads, p;

    if (max_threads < 1 || max_threads > 64 || mib < 64 || passes < 1) {
        fprintf(stderr, "usage: membw [THREADS 1..64 [MIB >= 64 [PASSES >= 1]]] (got %s %s %s)\n",
                argc > 1 ? argv[1] : "-", argc > 2 ? argv[2] : "-", argc > 3 ? argv[3] : "-");
        return 1;
    }
    n_bytes = (size_t)mib << 20;
    n_words = n_bytes / sizeof *words;
    words = malloc(n_bytes);
    if (!words) {
        fprintf(stderr, "membw: cannot allocate %ld MiB\n", mib);
        return 1;
    }
    /* Writing every page first makes the kernel back the buffer, so the passes time reads only. */
    memset(words, 1, n_bytes);

    for (n_threads = 1; n_threads <= max_threads; n_threads++) {
        double best = 1e30;
        for (p = 0; p < passes; p++) {
            double t = timed_pass(words, n_words, n_threads, &checksum);
            if (t < best)
                best = t;
        }
        printf("read %d threads: %.2f GB/s (%ld MiB buffer, best of %d passes)\n", n_threads,
               (double)(n_words / (size_t)n_threads * (size_t)n_threads * sizeof *words) / best / 1e9, mib,
               passes);
    }
    fprintf(stderr, "# membw checksum %llx\n", (unsigned long long)checksum);
    free(words);
    return 0;
}
