/*
 * test.h - a minimal test harness. Each test binary prints one line per
 * case ("ok NAME", "FAIL NAME: why", "skip NAME: why"); tests/run.sh counts
 * them. A failed CHECK ends its case and marks it failed.
 */
#ifndef HLZ_TEST_H
#define HLZ_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The whole file at `path` in a malloc'd buffer (size in *size), or NULL. */
static inline unsigned char *test_read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *p = n >= 0 ? malloc(n > 0 ? (size_t)n : 1) : NULL;
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) free(p), p = NULL;
    fclose(f);
    *size = p ? (size_t)n : 0;
    return p;
}

static int test_failed_cases, test_case_failed;
static const char *test_case_name;

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            printf("FAIL %s: %s:%d: %s\n", test_case_name, __FILE__, __LINE__, #cond);         \
            test_case_failed = 1;                                                              \
            return;                                                                            \
        }                                                                                      \
    } while (0)

#define CHECK_MSG(cond, ...)                                                                   \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            printf("FAIL %s: %s:%d: ", test_case_name, __FILE__, __LINE__);                    \
            printf(__VA_ARGS__);                                                               \
            printf("\n");                                                                      \
            test_case_failed = 1;                                                              \
            return;                                                                            \
        }                                                                                      \
    } while (0)

/* Marks the running case skipped with a reason and ends it. */
#define SKIP(why)                                                                              \
    do {                                                                                       \
        printf("skip %s: %s\n", test_case_name, why);                                          \
        test_case_failed = -1;                                                                 \
        return;                                                                                \
    } while (0)

#define RUN(fn)                                                                                \
    do {                                                                                       \
        test_case_name = #fn;                                                                  \
        test_case_failed = 0;                                                                  \
        fn();                                                                                  \
        if (test_case_failed == 0) printf("ok %s\n", #fn);                                     \
        else if (test_case_failed > 0) test_failed_cases++;                                    \
        fflush(stdout);                                                                        \
    } while (0)

#define TEST_MAIN_END() return test_failed_cases ? 1 : 0

/* Deterministic pseudo-random bytes (xorshift64*), for generated inputs. */
static inline unsigned long long test_rand(unsigned long long *state)
{
    unsigned long long x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 2685821657736338717ull;
}

static inline void test_fill_random(unsigned char *p, size_t n, unsigned long long seed)
{
    unsigned long long s = seed | 1;
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(test_rand(&s) >> 56);
}

/* Path of ../shared/bench as seen from the repository root, or NULL when absent. */
static inline const char *test_bench_dir(void)
{
    const char *env = getenv("HLZ_BENCH_DIR");
    const char *dir = env ? env : "../shared/bench";
    FILE *f;
    char probe[4096];
    snprintf(probe, sizeof probe, "%s/README.md", dir);
    if ((f = fopen(probe, "rb")) == NULL) return NULL;
    fclose(f);
    return dir;
}

#endif
