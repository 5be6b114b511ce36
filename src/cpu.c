/* cpu.c - picks the kernel set once, from what the CPU supports and what
 * the environment variable HLZ_CPU allows (scalar, avx2, avx512). */
#include "kernels.h"

#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__) && defined(HLZ_BUILD_AVX2) && defined(HLZ_BUILD_AVX512)
extern const hlz_kernels hlz_kernels_avx2, hlz_kernels_avx512;

static int cpu_has_avx2(void) { return __builtin_cpu_supports("avx2"); }
static int cpu_has_avx512(void)
{
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni") && cpu_has_avx2();
}
#define HAVE_X86 1
#endif

size_t hlz_kernels_available(const hlz_kernels **out, size_t capacity)
{
    size_t n = 0;
    if (n < capacity) out[n++] = &hlz_kernels_ref;
#ifdef HAVE_X86
    if (n < capacity && cpu_has_avx2()) out[n++] = &hlz_kernels_avx2;
    if (n < capacity && cpu_has_avx512()) out[n++] = &hlz_kernels_avx512;
#endif
    return n;
}

const hlz_kernels *hlz_kernels_best(void)
{
    const hlz_kernels *sets[8];
    size_t n = hlz_kernels_available(sets, 8);
    const char *limit = getenv("HLZ_CPU");
    if (!limit || !*limit) return sets[n - 1];
    /* The best set at or below the named level; an unknown name means scalar. */
    const hlz_kernels *pick = sets[0];
    for (size_t i = 0; i < n; i++) {
        pick = sets[i];
        if (strcmp(sets[i]->name, limit) == 0) return pick;
    }
    return strcmp(limit, "avx512") == 0 ? pick : sets[0];
}
