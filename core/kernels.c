/*
 * kernels.c - picks the kernel table at start-up from what the CPU supports.
 *
 * On x86-64 the AVX2 and AVX-512 tables are compiled in (the Makefile builds
 * quant_avx2.c and quant_avx512.c only for x86-64 targets) and chosen through
 * CPUID. A wasm32 build with -msimd128 adds llm_kernels_wasm, and one with
 * -mrelaxed-simd also llm_kernels_wasm_relaxed. An aarch64
 * build adds llm_kernels_neon (quant_neon.c, built only for aarch64) with no
 * check, because NEON is part of the base architecture. On every other
 * target only llm_kernels_scalar exists.
 */
#include <string.h>

#include "quant.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define LLM_KERNELS_X86 1
#else
#define LLM_KERNELS_X86 0
#endif

#if LLM_KERNELS_X86
/* Also checks that the OS saves the YMM and ZMM registers (XGETBV), not only CPUID. */
static int cpu_has_avx2(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
}

/* The AVX-512 table also runs AVX2 code, so it needs both. */
static int cpu_has_avx512(void)
{
    return cpu_has_avx2() && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
}
#endif

int llm_kernels_supported(const llm_kernels **tables, int max_tables)
{
    int n = 0;

    if (n < max_tables)
        tables[n] = &llm_kernels_scalar;
    n++;
#if LLM_KERNELS_X86
    if (cpu_has_avx2()) {
        if (n < max_tables)
            tables[n] = &llm_kernels_avx2;
        n++;
    }
    if (cpu_has_avx512()) {
        if (n < max_tables)
            tables[n] = &llm_kernels_avx512;
        n++;
    }
#endif
#if defined(__wasm_simd128__)
    /* A runtime without SIMD128 rejects the whole module when it loads, so no check is needed here. */
    if (n < max_tables)
        tables[n] = &llm_kernels_wasm;
    n++;
#endif
#if defined(__wasm_relaxed_simd__)
    /* A runtime without relaxed SIMD rejects this module (build/pinfer-relaxed.wasm) when it loads. */
    if (n < max_tables)
        tables[n] = &llm_kernels_wasm_relaxed;
    n++;
#endif
#if defined(__aarch64__)
    if (n < max_tables)
        tables[n] = &llm_kernels_neon;
    n++;
#endif
    return n;
}

const llm_kernels *llm_kernels_best(void)
{
    const llm_kernels *tables[LLM_KERNELS_MAX];
    int n = llm_kernels_supported(tables, LLM_KERNELS_MAX);

    return tables[(n < LLM_KERNELS_MAX ? n : LLM_KERNELS_MAX) - 1];
}

const llm_kernels *llm_kernels_by_name(const char *name)
{
    const llm_kernels *tables[LLM_KERNELS_MAX];
    int n = llm_kernels_supported(tables, LLM_KERNELS_MAX), i;

    for (i = 0; i < n && i < LLM_KERNELS_MAX; i++) {
        if (strcmp(tables[i]->name, name) == 0)
            return tables[i];
    }
    return NULL;
}

int llm_kernels_tile_for_one_token(const llm_kernels *k)
{
#if LLM_KERNELS_X86
    /* quant_avx512.c takes one token 4 rows at a time, while the other tables unpack each block for many tokens. */
    return k == &llm_kernels_avx512;
#else
    (void)k;
    return 0;
#endif
}
