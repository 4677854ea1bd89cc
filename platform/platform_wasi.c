/*
 * platform_wasi.c - clock, core count and thread pool for a WASI command.
 *
 * WASI preview 1 has no threads, so the pool is the calling thread alone:
 * platform_pool_new accepts only n_threads = 1, and the CLI reports any
 * larger -t as threads it cannot start.
 */
#include "platform.h"

#include <stdlib.h>
#include <time.h>

struct platform_pool {
    int n_threads;
};

/* CLOCK_MONOTONIC maps to WASI's clock_time_get(monotonic), which every runtime provides. */
double platform_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* One, because one thread is all this module can use. */
int platform_physical_cores(void)
{
    return 1;
}

platform_pool *platform_pool_new(int n_threads)
{
    platform_pool *pool;

    if (n_threads != 1)
        return NULL;
    pool = calloc(1, sizeof *pool);
    if (pool)
        pool->n_threads = 1;
    return pool;
}

void platform_pool_free(platform_pool *pool)
{
    free(pool);
}

void platform_pool_run(void *pool, void (*fn)(void *arg, int ith, int nth), void *arg)
{
    (void)pool;
    fn(arg, 0, 1);
}
