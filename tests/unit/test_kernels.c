/* test_kernels.c - every kernel set against the plain C reference, bit for
 * bit, and the reference against independent definitions. */
#include "kernels.h"
#include "internal.h"
#include "test.h"

#include <math.h>

static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    return u;
}

static float random_float(unsigned long long *s, float scale)
{
    return scale * ((float)(test_rand(s) >> 40) / (float)(1ull << 24) - 0.5f);
}

static void half_conversions_exhaustive(void)
{
#ifndef __FLT16_MANT_DIG__
    SKIP("this compiler has no _Float16 to compare with");
#else
    for (uint32_t h = 0; h < 65536; h++) {
        float f = hlz_f16_to_f32((uint16_t)h);
        _Float16 ref_h;
        uint16_t hh = (uint16_t)h;
        memcpy(&ref_h, &hh, 2);
        float ref = (float)ref_h;
        if (f != f) {
            CHECK_MSG(ref != ref, "half 0x%04x: nan mismatch", h);
            continue;
        }
        CHECK_MSG(bits_of(f) == bits_of(ref), "half 0x%04x: %g vs %g", h, f, ref);
        CHECK_MSG(hlz_f32_to_f16(f) == h, "half 0x%04x does not round-trip", h);
    }
    /* float -> half rounding against the compiler's conversion on random floats */
    unsigned long long s = 1;
    for (int i = 0; i < 1000000; i++) {
        uint32_t u = (uint32_t)(test_rand(&s) >> 32);
        float f;
        memcpy(&f, &u, 4);
        if (f != f) continue;
        _Float16 r = (_Float16)f;
        uint16_t rb;
        memcpy(&rb, &r, 2);
        CHECK_MSG(hlz_f32_to_f16(f) == rb, "float 0x%08x: 0x%04x vs 0x%04x", u, hlz_f32_to_f16(f), rb);
    }
    CHECK(hlz_bf16_to_f32(0x3f80) == 1.0f && hlz_bf16_to_f32(0xc000) == -2.0f);
#endif
}

static void expf_accuracy_and_golden(void)
{
    double worst = 0;
    unsigned long long h = 0;
    for (float x = -87.0f; x <= 88.0f; x += 0.001953125f) {
        float e = hlz_expf(x);
        double rel = fabs((double)e - exp((double)x)) / exp((double)x);
        if (rel > worst) worst = rel;
        uint32_t b = bits_of(e);
        h = h * 1000003u ^ b;
    }
    CHECK_MSG(worst < 3e-7, "worst relative error %g", worst);
    CHECK(hlz_expf(0.0f) == 1.0f);
    CHECK(hlz_expf(-100.0f) == 0.0f && isinf(hlz_expf(100.0f)) && isnan(hlz_expf(NAN)));
    /* The exact bits are part of the archive format once the llm codec uses them. */
    CHECK_MSG(h == 0x4e8955cad1e56dc7ull, "expf golden hash %016llx", h);
}

static void float_reductions_match(void)
{
    const hlz_kernels *sets[8];
    size_t count = hlz_kernels_available(sets, 8);
    unsigned long long s = 7;
    static float a[4099], b[4099];
    for (size_t i = 0; i < 4099; i++) a[i] = random_float(&s, 10), b[i] = random_float(&s, 3);
    size_t sizes[] = {0, 1, 31, 32, 33, 64, 100, 576, 4099};
    for (size_t k = 1; k < count; k++)
        for (size_t z = 0; z < sizeof sizes / sizeof sizes[0]; z++) {
            size_t n = sizes[z];
            CHECK_MSG(bits_of(sets[k]->dot_f32(a, b, n)) == bits_of(hlz_kernels_ref.dot_f32(a, b, n)),
                      "%s dot_f32 n=%zu", sets[k]->name, n);
            CHECK_MSG(bits_of(sets[k]->sum_f32(a, n)) == bits_of(hlz_kernels_ref.sum_f32(a, n)),
                      "%s sum_f32 n=%zu", sets[k]->name, n);
        }
    /* The canonical order is not the naive one: make sure the reference sums in lanes. */
    float lanes_sum = hlz_kernels_ref.sum_f32(a, 4099), naive = 0;
    for (size_t i = 0; i < 4099; i++) naive += a[i];
    CHECK(fabsf(lanes_sum - naive) < 1e-2f);
}

static void quantize_matches(void)
{
    const hlz_kernels *sets[8];
    size_t count = hlz_kernels_available(sets, 8);
    enum { N = 32 * 64 };
    static float x[N];
    static hlz_q8_block ref[N / 32], got[N / 32];
    unsigned long long s = 11;
    for (size_t i = 0; i < N; i++) x[i] = random_float(&s, (float)(1 + i % 7) * 0.37f);
    for (size_t i = 0; i < 32; i++) x[64 + i] = 0.0f;                /* an all-zero block */
    x[160] = NAN;                                                     /* a nan block */
    x[200] = INFINITY;                                                /* an inf block */
    for (size_t i = 0; i < 32; i++) x[256 + i] = (float)i - 15.5f;    /* ties at .5 */
    hlz_kernels_ref.quantize_q8(x, N, ref);
    CHECK(ref[2].d == 0 && ref[2].sum == 0);
    CHECK(ref[5].d == 0 && ref[5].q[0] == 0 && ref[6].d == 0);
    for (size_t k = 1; k < count; k++) {
        memset(got, 0x55, sizeof got);
        sets[k]->quantize_q8(x, N, got);
        for (size_t b = 0; b < N / 32; b++)
            CHECK_MSG(bits_of(got[b].d) == bits_of(ref[b].d) && got[b].sum == ref[b].sum &&
                          memcmp(got[b].q, ref[b].q, 32) == 0,
                      "%s quantize block %zu", sets[k]->name, b);
    }
    /* Round-half-even on exact ties: 15.5 / (15.5 / 127) is not exact, so check the map instead. */
    for (size_t b = 0; b < N / 32; b++)
        for (int i = 0; i < 32; i++) CHECK(ref[b].q[i] >= -127 && ref[b].q[i] <= 127);
}

static void q8_0_dot_matches(void)
{
    const hlz_kernels *sets[8];
    size_t count = hlz_kernels_available(sets, 8);
    enum { N = 32 * 48 };
    static hlz_q8_0_block w[N / 32];
    static hlz_q8_block x[N / 32];
    static float xf[N];
    unsigned long long s = 13;
    for (size_t b = 0; b < N / 32; b++) {
        w[b].d = hlz_f32_to_f16(random_float(&s, 0.01f));
        for (int i = 0; i < 32; i++) w[b].q[i] = (int8_t)(test_rand(&s) >> 56);
    }
    w[3].q[0] = -128; /* the extreme a file may hold */
    for (size_t i = 0; i < N; i++) xf[i] = random_float(&s, 4);
    hlz_kernels_ref.quantize_q8(xf, N, x);
    float ref = hlz_kernels_ref.dot_q8_0(w, x, N);
    /* Independent check: the integer sums and the written formula. */
    float acc = 0;
    for (size_t b = 0; b < N / 32; b++) {
        long isum = 0;
        for (int i = 0; i < 32; i++) isum += (long)w[b].q[i] * x[b].q[i];
        acc = acc + (float)isum * (hlz_f16_to_f32(w[b].d) * x[b].d);
    }
    CHECK(bits_of(acc) == bits_of(ref));
    for (size_t k = 1; k < count; k++)
        CHECK_MSG(bits_of(sets[k]->dot_q8_0(w, x, N)) == bits_of(ref), "%s dot_q8_0", sets[k]->name);
}

/* Weights in the full int8 range, -128 included, with fp16 scales that are
 * normal, subnormal, zero or negative zero; plus a row of -128 blocks and a
 * block of zeros. `special` adds inf and nan scales (one per row at most). */
static void random_q8_0_matrix(hlz_q8_0_block *w, size_t rows, size_t blocks, unsigned long long *s, int special)
{
    for (size_t i = 0; i < rows * blocks; i++) {
        unsigned kind = (unsigned)(test_rand(s) >> 60);
        w[i].d = kind == 0   ? (uint16_t)(test_rand(s) >> 54) /* subnormal */
                 : kind == 1 ? 0x0000                         /* +0 */
                 : kind == 2 ? 0x8000                         /* -0 */
                             : hlz_f32_to_f16(random_float(s, 0.02f));
        for (int j = 0; j < 32; j++) w[i].q[j] = (int8_t)(test_rand(s) >> 56);
    }
    if (rows > 2) {
        for (size_t b = 0; b < blocks; b++) memset(w[2 * blocks + b].q, 0x80, 32); /* row 2: all -128 */
        memset(w[1 * blocks + blocks / 2].q, 0, 32);                              /* a zero block */
    }
    if (special)
        for (size_t r = 0; r < rows; r += 3) w[r * blocks + (r * 7) % blocks].d = r % 2 ? 0x7c00 : 0xfe01;
}

/* Activations as quantize_q8 makes them, with a zero block, a nan block and
 * blocks at the +-127 extremes. */
static void random_q8_vectors(hlz_q8_block *x, size_t n_tokens, size_t blocks, unsigned long long *s)
{
    size_t n = n_tokens * blocks * 32;
    float *f = malloc(n * sizeof *f);
    for (size_t i = 0; i < n; i++) f[i] = random_float(s, (float)(1 + (i / 32) % 5) * 0.7f);
    if (n_tokens * blocks > 3) {
        for (int i = 0; i < 32; i++) f[32 + i] = 0.0f;              /* a zero block */
        f[64 + 5] = NAN;                                           /* a nan block: zeros */
        for (int i = 0; i < 32; i++) f[96 + i] = i % 3 ? -3.0f : 3.0f; /* +-127 */
    }
    hlz_kernels_ref.quantize_q8(f, n, x);
    free(f);
}

static void matmul_matches(void)
{
    const hlz_kernels *sets[8];
    size_t count = hlz_kernels_available(sets, 8);
    size_t rows_list[] = {1, 7, 16, 17, 33, 40}, blocks_list[] = {1, 2, 18, 49, 97};
    size_t tokens_list[] = {1, 2, 3, 8, 9, 13, 33};
    unsigned long long s = 17;
    for (size_t ri = 0; ri < sizeof rows_list / sizeof *rows_list; ri++)
        for (size_t bi = 0; bi < sizeof blocks_list / sizeof *blocks_list; bi++)
            for (size_t ti = 0; ti < sizeof tokens_list / sizeof *tokens_list; ti++) {
                size_t rows = rows_list[ri], blocks = blocks_list[bi], nt = tokens_list[ti], stride = rows + 3;
                int special = (ri + bi + ti) % 3 == 0;
                hlz_q8_0_block *w = malloc(rows * blocks * sizeof *w);
                hlz_q8_block *x = malloc(nt * blocks * sizeof *x);
                float *ref = malloc(nt * stride * sizeof *ref), *got = malloc(nt * stride * sizeof *got);
                random_q8_0_matrix(w, rows, blocks, &s, special);
                random_q8_vectors(x, nt, blocks, &s);
                memset(ref, 0xa5, nt * stride * sizeof *ref);
                hlz_kernels_ref.matmul_q8_0(w, blocks * 32, x, nt, ref, stride, 0, rows);
                /* the reference is one dot_q8_0 per output */
                for (size_t t = 0; t < nt; t++)
                    for (size_t r = 0; r < rows; r++)
                        CHECK(bits_of(ref[t * stride + r]) ==
                              bits_of(hlz_kernels_ref.dot_q8_0(w + r * blocks, x + t * blocks, blocks * 32)));
                for (size_t k = 1; k < count; k++) {
                    /* all rows, then a middle range: outputs outside it stay untouched */
                    size_t ranges[2][2] = {{0, rows}, {rows / 3, rows - rows / 4}};
                    for (int g = 0; g < 2; g++) {
                        size_t r0 = ranges[g][0], r1 = ranges[g][1];
                        memset(got, 0xa5, nt * stride * sizeof *got);
                        sets[k]->matmul_q8_0(w, blocks * 32, x, nt, got, stride, r0, r1);
                        for (size_t t = 0; t < nt; t++)
                            for (size_t r = 0; r < stride; r++) {
                                uint32_t want = r >= r0 && r < r1 ? bits_of(ref[t * stride + r]) : 0xa5a5a5a5u;
                                CHECK_MSG(bits_of(got[t * stride + r]) == want,
                                          "%s matmul rows %zu (of %zu..%zu) x %zu blocks, token %zu of %zu: "
                                          "%08x, want %08x",
                                          sets[k]->name, r, r0, r1, blocks, t, nt, bits_of(got[t * stride + r]),
                                          want);
                            }
                    }
                }
                free(w), free(x), free(ref), free(got);
            }
}

/* Sums at the int32 extremes of a block: every weight -128 against every
 * activation +-127, and +127 against -127. */
static void matmul_extremes(void)
{
    const hlz_kernels *sets[8];
    size_t count = hlz_kernels_available(sets, 8);
    enum { ROWS = 19, BLOCKS = 3, NT = 4 };
    static hlz_q8_0_block w[ROWS * BLOCKS];
    static hlz_q8_block x[NT * BLOCKS];
    for (size_t i = 0; i < ROWS * BLOCKS; i++) {
        w[i].d = 0x3c00; /* 1.0 */
        memset(w[i].q, i % 2 ? 0x80 : 0x7f, 32);
    }
    for (size_t i = 0; i < NT * BLOCKS; i++) {
        x[i].d = 1.0f;
        memset(x[i].q, i % 3 ? 127 : -127, 32);
        x[i].sum = 32 * (i % 3 ? 127 : -127);
    }
    float ref[NT * ROWS], got[NT * ROWS];
    hlz_kernels_ref.matmul_q8_0(w, BLOCKS * 32, x, NT, ref, ROWS, 0, ROWS);
    for (size_t t = 0; t < NT; t++)
        for (size_t r = 0; r < ROWS; r++) {
            double want = 0;
            for (size_t b = 0; b < BLOCKS; b++) want += 32.0 * w[r * BLOCKS + b].q[0] * x[t * BLOCKS + b].q[0];
            CHECK_MSG(ref[t * ROWS + r] == (float)want, "reference %g, want %g", ref[t * ROWS + r], want);
        }
    for (size_t k = 1; k < count; k++) {
        sets[k]->matmul_q8_0(w, BLOCKS * 32, x, NT, got, ROWS, 0, ROWS);
        CHECK_MSG(memcmp(got, ref, sizeof ref) == 0, "%s matmul at the extremes", sets[k]->name);
    }
}

static void dispatch_honours_hlz_cpu(void)
{
    const hlz_kernels *sets[8];
    size_t count = hlz_kernels_available(sets, 8);
    setenv("HLZ_CPU", "scalar", 1);
    CHECK(hlz_kernels_best() == &hlz_kernels_ref);
    setenv("HLZ_CPU", "bogus", 1);
    CHECK(hlz_kernels_best() == &hlz_kernels_ref);
    unsetenv("HLZ_CPU");
    CHECK(hlz_kernels_best() == sets[count - 1]);
    printf("# kernel sets on this CPU:");
    for (size_t k = 0; k < count; k++) printf(" %s", sets[k]->name);
    printf("\n");
}

int main(void)
{
    RUN(half_conversions_exhaustive);
    RUN(expf_accuracy_and_golden);
    RUN(float_reductions_match);
    RUN(quantize_matches);
    RUN(q8_0_dot_matches);
    RUN(matmul_matches);
    RUN(matmul_extremes);
    RUN(dispatch_honours_hlz_cpu);
    TEST_MAIN_END();
}
