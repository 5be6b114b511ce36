/* kernels_avx2.c - AVX2 versions of the kernels, bit-identical to
 * kernels_ref.c (built with -mavx2 and no FMA; see kernels.h). */
#include "kernels.h"

#if defined(__x86_64__) && defined(HLZ_BUILD_AVX2)
#include <float.h>
#include <immintrin.h>
#include <string.h>

/* The same lane tree as the reference, on the 32 lanes stored by the loop. */
static float lane_tree(float lanes[32])
{
    for (int off = 16; off > 0; off >>= 1)
        for (int i = 0; i < off; i++) lanes[i] = lanes[i] + lanes[i + off];
    return lanes[0];
}

float hlz_dot_f32_avx2(const float *a, const float *b, size_t n)
{
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    size_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int j = 0; j < 4; j++)
            acc[j] = _mm256_add_ps(acc[j], _mm256_mul_ps(_mm256_loadu_ps(a + i + 8 * j), _mm256_loadu_ps(b + i + 8 * j)));
    float lanes[32];
    for (int j = 0; j < 4; j++) _mm256_storeu_ps(lanes + 8 * j, acc[j]);
    for (size_t k = 0; i < n; i++, k++) lanes[k] = lanes[k] + a[i] * b[i];
    return lane_tree(lanes);
}

float hlz_sum_f32_avx2(const float *x, size_t n)
{
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    size_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int j = 0; j < 4; j++) acc[j] = _mm256_add_ps(acc[j], _mm256_loadu_ps(x + i + 8 * j));
    float lanes[32];
    for (int j = 0; j < 4; j++) _mm256_storeu_ps(lanes + 8 * j, acc[j]);
    for (size_t k = 0; i < n; i++, k++) lanes[k] = lanes[k] + x[i];
    return lane_tree(lanes);
}

static int32_t hsum_i32(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

void hlz_quantize_q8_avx2(const float *x, size_t n, hlz_q8_block *out)
{
    const __m256 sign = _mm256_set1_ps(-0.0f), magic = _mm256_set1_ps(12582912.0f), big = _mm256_set1_ps(FLT_MAX);
    const __m256i lo = _mm256_set1_epi32(-127), hi = _mm256_set1_epi32(127);
    for (size_t b = 0; b < n / HLZ_QBLOCK; b++) {
        const float *v = x + b * HLZ_QBLOCK;
        __m256 m = _mm256_setzero_ps();
        int bad = 0;
        for (int j = 0; j < 4; j++) {
            __m256 a = _mm256_andnot_ps(sign, _mm256_loadu_ps(v + 8 * j));
            bad |= _mm256_movemask_ps(_mm256_cmp_ps(a, big, _CMP_NLE_UQ));
            m = _mm256_max_ps(m, a);
        }
        float lanes[8];
        _mm256_storeu_ps(lanes, m);
        float amax = 0.0f;
        for (int j = 0; j < 8; j++) amax = lanes[j] > amax ? lanes[j] : amax;
        if (bad) {
            memset(&out[b], 0, sizeof out[b]);
            continue;
        }
        float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        __m256 vid = _mm256_set1_ps(id);
        __m256i sum = _mm256_setzero_si256();
        int32_t q32[32];
        for (int j = 0; j < 4; j++) {
            __m256 r = _mm256_sub_ps(_mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(v + 8 * j), vid), magic), magic);
            __m256i q = _mm256_min_epi32(_mm256_max_epi32(_mm256_cvtps_epi32(r), lo), hi);
            sum = _mm256_add_epi32(sum, q);
            _mm256_storeu_si256((__m256i *)(q32 + 8 * j), q);
        }
        for (int j = 0; j < 32; j++) out[b].q[j] = (int8_t)q32[j];
        out[b].d = d;
        out[b].sum = hsum_i32(sum);
    }
}

float hlz_dot_q8_0_avx2(const hlz_q8_0_block *w, const hlz_q8_block *x, size_t n)
{
    const __m256i ones = _mm256_set1_epi16(1);
    float acc = 0.0f;
    for (size_t b = 0; b < n / HLZ_QBLOCK; b++) {
        __m256i wq = _mm256_loadu_si256((const __m256i *)w[b].q), xq = _mm256_loadu_si256((const __m256i *)x[b].q);
        /* |w| * (x with w's sign): unsigned x signed pairs, then pairs of int16 to int32; exact
         * because |q| <= 128 keeps each pair sum within int16. */
        __m256i p16 = _mm256_maddubs_epi16(_mm256_sign_epi8(wq, wq), _mm256_sign_epi8(xq, wq));
        int32_t isum = hsum_i32(_mm256_madd_epi16(p16, ones));
        acc = acc + (float)isum * (hlz_f16_to_f32(w[b].d) * x[b].d);
    }
    return acc;
}

const hlz_kernels hlz_kernels_avx2 = {
    .name = "avx2",
    .dot_f32 = hlz_dot_f32_avx2,
    .sum_f32 = hlz_sum_f32_avx2,
    .quantize_q8 = hlz_quantize_q8_avx2,
    .dot_q8_0 = hlz_dot_q8_0_avx2,
};
#endif
