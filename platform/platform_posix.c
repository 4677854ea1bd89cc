/*
 * platform_posix.c - clock, core count and thread pool on Linux and macOS.
 *
 * The pool's workers spin on a generation counter, then sleep on a
 * condition variable. Atomics are the GCC/Clang __atomic builtins, since C99
 * has none.
 */
#include "platform.h"

#include <pthread.h>
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

/* About 50 to 100 microseconds of pause instructions on current x86 cores. */
#define SPINS_BEFORE_SLEEP 2000

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

/*
 * The pool's threads spin for a short while between tasks, because a token
 * runs hundreds of tasks microseconds apart. Then they sleep on a condition
 * variable, so that an idle pool, or one sharing busy cores with other
 * processes, does not keep the cores. Every counter below is read and
 * written with sequentially consistent atomics: a thread stores "I am
 * sleeping" before it checks the counter it waits on, and the other side
 * changes the counter before it checks "is anyone sleeping", so one of the
 * two always observes the other and no wake-up is lost.
 */
struct platform_pool {
    int n_threads;
    pthread_t *threads;
    worker_arg *workers;
    void (*fn)(void *arg, int ith, int nth);
    void *arg;
    unsigned generation; /* bumped to start a task */
    int n_done;          /* workers finished with the current task */
    int stop;
    int n_sleeping;      /* workers waiting on wake */
    int main_sleeping;   /* 1 while the caller waits on done */
    pthread_mutex_t lock;
    pthread_cond_t wake; /* signalled when a task starts or the pool stops */
    pthread_cond_t done; /* signalled when the last worker finishes */
};

struct platform_pool_worker {
    platform_pool *pool;
    int ith;
};

#define SEQ __ATOMIC_SEQ_CST

/* Spins until generation moves past seen, then sleeps until it does; returns the new generation. */
static unsigned wait_for_task(platform_pool *pool, unsigned seen)
{
    unsigned gen;
    int spins;

    for (spins = 0; spins < SPINS_BEFORE_SLEEP; spins++) {
        gen = __atomic_load_n(&pool->generation, SEQ);
        if (gen != seen)
            return gen;
        cpu_relax();
    }
    pthread_mutex_lock(&pool->lock);
    __atomic_add_fetch(&pool->n_sleeping, 1, SEQ);
    while ((gen = __atomic_load_n(&pool->generation, SEQ)) == seen)
        pthread_cond_wait(&pool->wake, &pool->lock);
    __atomic_sub_fetch(&pool->n_sleeping, 1, SEQ);
    pthread_mutex_unlock(&pool->lock);
    return gen;
}

static void *worker_main(void *p)
{
    worker_arg *w = p;
    platform_pool *pool = w->pool;
    unsigned seen = 0;

    for (;;) {
        seen = wait_for_task(pool, seen);
        if (__atomic_load_n(&pool->stop, SEQ))
            return NULL;
        pool->fn(pool->arg, w->ith, pool->n_threads);
        if (__atomic_add_fetch(&pool->n_done, 1, SEQ) == pool->n_threads - 1 &&
            __atomic_load_n(&pool->main_sleeping, SEQ)) {
            pthread_mutex_lock(&pool->lock);
            pthread_cond_signal(&pool->done);
            pthread_mutex_unlock(&pool->lock);
        }
    }
}

/* Bumps the generation and wakes the workers that went to sleep. */
static void start_task(platform_pool *pool)
{
    __atomic_add_fetch(&pool->generation, 1, SEQ);
    if (__atomic_load_n(&pool->n_sleeping, SEQ) > 0) {
        pthread_mutex_lock(&pool->lock);
        pthread_cond_broadcast(&pool->wake);
        pthread_mutex_unlock(&pool->lock);
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
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->wake, NULL);
    pthread_cond_init(&pool->done, NULL);
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
    int spins, target = pool->n_threads - 1;

    if (pool->n_threads == 1) {
        fn(arg, 0, 1);
        return;
    }
    pool->fn = fn;
    pool->arg = arg;
    __atomic_store_n(&pool->n_done, 0, SEQ);
    start_task(pool);
    fn(arg, 0, pool->n_threads);

    for (spins = 0; spins < SPINS_BEFORE_SLEEP; spins++) {
        if (__atomic_load_n(&pool->n_done, SEQ) == target)
            return;
        cpu_relax();
    }
    __atomic_store_n(&pool->main_sleeping, 1, SEQ);
    if (__atomic_load_n(&pool->n_done, SEQ) != target) {
        pthread_mutex_lock(&pool->lock);
        while (__atomic_load_n(&pool->n_done, SEQ) != target)
            pthread_cond_wait(&pool->done, &pool->lock);
        pthread_mutex_unlock(&pool->lock);
    }
    __atomic_store_n(&pool->main_sleeping, 0, SEQ);
}

void platform_pool_free(platform_pool *pool)
{
    int i;

    if (!pool)
        return;
    __atomic_store_n(&pool->stop, 1, SEQ);
    start_task(pool);
    for (i = 1; i < pool->n_threads; i++)
        pthread_join(pool->threads[i], NULL);
    pthread_mutex_destroy(&pool->lock);
    pthread_cond_destroy(&pool->wake);
    pthread_cond_destroy(&pool->done);
    free(pool->threads);
    free(pool->workers);
    free(pool);
}
