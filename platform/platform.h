/*
 * platform.h - what each platform gives the engine: a clock and a pool of
 * threads that runs one task on every thread at once.
 *
 * The core never starts threads itself; it receives an llm_parallel (llm.h)
 * whose run() the platform fills with platform_pool_run.
 */
#ifndef PINFER_PLATFORM_H
#define PINFER_PLATFORM_H

/* Milliseconds from an arbitrary start, monotonic. */
double platform_now_ms(void);

/* Physical cores of this machine (logical CPUs when that cannot be determined), at least 1. */
int platform_physical_cores(void);

typedef struct platform_pool platform_pool;

/* Starts n_threads - 1 workers; the calling thread is the n-th. NULL if threads cannot start. */
platform_pool *platform_pool_new(int n_threads);
void platform_pool_free(platform_pool *pool);

/*
 * Runs fn(arg, i, n) on every thread i of the pool's n (the caller is thread
 * 0) and returns when all have finished. Between tasks the threads spin
 * briefly, because a token runs hundreds of short tasks, and then sleep.
 */
void platform_pool_run(void *pool, void (*fn)(void *arg, int ith, int nth), void *arg);

#endif
