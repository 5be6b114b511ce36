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
    RUN(dispatch_honours_hlz_cpu);
    TEST_MAIN_END();
}
