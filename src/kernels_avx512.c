/* kernels_avx512.c - AVX-512 (F, BW, VL, VNNI) kernel set, bit-identical to
 * kernels_ref.c. It differs from the AVX2 set only in the integer dot
 * product: vpdpbusd sums four byte products into int32 exactly. */
#include "kernels.h"

#if defined(__x86_64__) && defined(HLZ_BUILD_AVX512)
#include <immintrin.h>

static float dot_q8_0_avx512(const hlz_q8_0_block *w, const hlz_q8_block *x, size_t n)
{
    float acc = 0.0f;
    for (size_t b = 0; b < n / HLZ_QBLOCK; b++) {
        __m256i wq = _mm256_loadu_si256((const __m256i *)w[b].q), xq = _mm256_loadu_si256((const __m256i *)x[b].q);
        __m256i p = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_abs_epi8(wq), _mm256_sign_epi8(xq, wq));
        __m128i s = _mm_add_epi32(_mm256_castsi256_si128(p), _mm256_extracti128_si256(p, 1));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
        s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
        int32_t isum = _mm_cvtsi128_si32(s);
        acc = acc + (float)isum * (hlz_f16_to_f32(w[b].d) * x[b].d);
    }
    return acc;
}

const hlz_kernels hlz_kernels_avx512 = {
    .name = "avx512",
    .dot_f32 = hlz_dot_f32_avx2,
    .sum_f32 = hlz_sum_f32_avx2,
    .quantize_q8 = hlz_quantize_q8_avx2,
    .dot_q8_0 = dot_q8_0_avx512,
};
#endif
