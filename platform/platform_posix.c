/*
 * platform_posix.c - clock, core count and thread pool on Linux and macOS.
 *
 * The pool's workers spin on a generation counter, then fall back to
 * sched_yield() after a while so an idle pool does not hold the cores.
 * Atomics are the GCC/Clang __atomic builtins, since C99 has none.
 */
#include "platform.h"

#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

#define SPINS_BEFORE_YIELD 20000

double platform_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* Counts distinct (physical id, core id) pairs in /proc/cpuinfo; elsewhere, the online CPUs. */
int platform_physical_cores(void)
{
    FILE *fp = fopen("/proc/cpuinfo", "r");
    char line[256];
    int physical = -1, core, pairs[1024][2], n_pairs = 0, i;
    long online = sysconf(_SC_NPROCESSORS_ONLN);

    if (fp) {
        while (fgets(line, sizeof line, fp)) {
            if (sscanf(line, "physical id : %d", &physical) == 1)
                continue;
            if (sscanf(line, "core id : %d", &core) != 1)
                continue;
            for (i = 0; i < n_pairs && (pairs[i][0] != physical || pairs[i][1] != core); i++)
                ;
            if (i == n_pairs && n_pairs < 1024) {
                pairs[n_pairs][0] = physical;
                pairs[n_pairs][1] = core;
                n_pairs++;
            }
        }
        fclose(fp);
    }
    if (n_pairs > 0)
        return n_pairs;
    return online > 0 ? (int)online : 1;
}

typedef struct platform_pool_worker worker_arg;

struct platform_pool {
    int n_threads;
    pthread_t *threads;
    worker_arg *workers;
    void (*fn)(void *arg, int ith, int nth);
    void *arg;
    unsigned generation; /* bumped to start a task */
    int n_done;          /* workers finished with the current task */
    int stop;
};

struct platform_pool_worker {
    platform_pool *pool;
    int ith;
};

static void *worker_main(void *p)
{
    worker_arg *w = p;
    platform_pool *pool = w->pool;
    unsigned seen = 0;

    for (;;) {
        unsigned gen;
        int spins = 0;
        while ((gen = __atomic_load_n(&pool->generation, __ATOMIC_ACQUIRE)) == seen) {
            if (++spins < SPINS_BEFORE_YIELD)
                cpu_relax();
            else
                sched_yield();
        }
        seen = gen;
        if (__atomic_load_n(&pool->stop, __ATOMIC_ACQUIRE))
            return NULL;
        pool->fn(pool->arg, w->ith, pool->n_threads);
        __atomic_add_fetch(&pool->n_done, 1, __ATOMIC_ACQ_REL);
    }
}

platform_pool *platform_pool_new(int n_threads)
{
    platform_pool *pool;
    int i;

    if (n_threads < 1 || n_threads > 1024)
        return NULL;
    pool = calloc(1, sizeof *pool);
    if (!pool)
        return NULL;
    pool->n_threads = n_threads;
    pool->threads = calloc((size_t)n_threads, sizeof *pool->threads);
    pool->workers = calloc((size_t)n_threads, sizeof *pool->workers);
    if (!pool->threads || !pool->workers) {
        free(pool->threads);
        free(pool->workers);
        free(pool);
        return NULL;
    }
    for (i = 1; i < n_threads; i++) {
        pool->workers[i].pool = pool;
        pool->workers[i].ith = i;
        if (pthread_create(&pool->threads[i], NULL, worker_main, &pool->workers[i]) != 0) {
            pool->n_threads = i;
            platform_pool_free(pool);
            return NULL;
        }
    }
    return pool;
}

void platform_pool_run(void *p, void (*fn)(void *arg, int ith, int nth), void *arg)
{
    platform_pool *pool = p;
    int spins = 0;

    if (pool->n_threads == 1) {
        fn(arg, 0, 1);
        return;
    }
    pool->fn = fn;
    pool->arg = arg;
    __atomic_store_n(&pool->n_done, 0, __ATOMIC_RELAXED);
    __atomic_add_fetch(&pool->generation, 1, __ATOMIC_ACQ_REL);
    fn(arg, 0, pool->n_threads);
    while (__atomic_load_n(&pool->n_done, __ATOMIC_ACQUIRE) < pool->n_threads - 1) {
        if (++spins < SPINS_BEFORE_YIELD)
            cpu_relax();
        else
            sched_yield();
    }
}

void platform_pool_free(platform_pool *pool)
{
    int i;

    if (!pool)
        return;
    __atomic_store_n(&pool->stop, 1, __ATOMIC_RELEASE);
    __atomic_add_fetch(&pool->generation, 1, __ATOMIC_ACQ_REL);
    for (i = 1; i < pool->n_threads; i++)
        pthread_join(pool->threads[i], NULL);
    free(pool->threads);
    free(pool->workers);
    free(pool);
}
