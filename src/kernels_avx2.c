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

/* ---- matrix product ----------------------------------------------------------
 *
 * Rows are taken 8 at a time, one per lane of a ymm. A tile of 8 rows is
 * repacked, MM_CHUNK blocks at a time, so that vector g of block b holds
 * bytes 4g..4g+3 of that block of each of the 8 rows (an 8 x 8 dword
 * transpose), once as |w| (unsigned) and once as w (for its signs), with
 * the 8 row scales as floats. Then for each token and block:
 *     isum = sum over g of vpmaddwd(vpmaddubsw(|w|, sign(broadcast(x[4g..4g+3]), w)), 1)
 * exact in every lane (|w| <= 128 and |x| <= 127 keep each int16 pair sum
 * below 2^15), and acc = acc + (float)isum * (d_w * d_x): the reference's
 * operations in the reference's block order, one output per lane. */

#define MM_CHUNK 48 /* blocks repacked at a time: 48 * 544 bytes = 25.5 KiB */

/* Four activation bytes read as one int32 (to broadcast them). */
typedef int32_t __attribute__((may_alias, aligned(1))) i32_unaligned;

/* Exact IEEE half to float conversion of 8 halves (in the low 16 bits of
 * each lane), as hlz_f16_to_f32 does it, without F16C: normal halves by
 * moving the bits, subnormals as an integer times 2^-24, inf and nan by
 * setting the exponent. */
static __m256 half_to_float8(__m256i h)
{
    __m256i mag = _mm256_and_si256(h, _mm256_set1_epi32(0x7fff)), exp = _mm256_and_si256(h, _mm256_set1_epi32(0x7c00));
    __m256i sign = _mm256_slli_epi32(_mm256_and_si256(h, _mm256_set1_epi32(0x8000)), 16);
    __m256i normal = _mm256_add_epi32(_mm256_slli_epi32(mag, 13), _mm256_set1_epi32(112 << 23));
    __m256i special = _mm256_or_si256(_mm256_slli_epi32(_mm256_and_si256(h, _mm256_set1_epi32(0x3ff)), 13),
                                      _mm256_set1_epi32(0x7f800000));
    __m256i sub = _mm256_castps_si256(_mm256_mul_ps(_mm256_cvtepi32_ps(mag), _mm256_set1_ps(1.0f / 16777216.0f)));
    __m256i bits = _mm256_blendv_epi8(normal, special, _mm256_cmpeq_epi32(exp, _mm256_set1_epi32(0x7c00)));
    bits = _mm256_blendv_epi8(bits, sub, _mm256_cmpeq_epi32(exp, _mm256_setzero_si256()));
    return _mm256_castsi256_ps(_mm256_or_si256(bits, sign));
}

/* Repacks blocks b0 .. b0 + nb - 1 of the nr (1..8) rows at w (rows of
 * `blocks` blocks) into wp: per block 8 vectors of |w|, then 8 of w; lanes
 * past nr repeat the last row (their results are never stored). The rows
 * of `next` (the next tile, or NULL) are prefetched on the way. */
static void mm_pack8(const hlz_q8_0_block *w, size_t blocks, size_t nr, size_t b0, size_t nb, __m256i *wp,
                     __m256 *dwp, const hlz_q8_0_block *next)
{
    const char *row[8];
    int32_t offs[8];
    for (size_t i = 0; i < 8; i++) {
        size_t r = i < nr ? i : nr - 1;
        row[i] = (const char *)(w + r * blocks + b0);
        offs[i] = (int32_t)(r * blocks * sizeof(hlz_q8_0_block));
    }
    const char *r0 = row[0], *r1 = row[1], *r2 = row[2], *r3 = row[3], *r4 = row[4], *r5 = row[5], *r6 = row[6],
               *r7 = row[7], *base = (const char *)(w + b0);
    const char *pf = next ? (const char *)(next + b0) : NULL;
    size_t pf_row = blocks * sizeof(hlz_q8_0_block);
    const __m256i idx = _mm256_loadu_si256((const __m256i *)offs), low16 = _mm256_set1_epi32(0xffff);
    for (size_t b = 0, at = 2; b < nb; b++, at += sizeof(hlz_q8_0_block)) {
#define ROW(a) _mm256_loadu_si256((const __m256i *)(a + at))
        __m256i z0 = ROW(r0), z1 = ROW(r1), z2 = ROW(r2), z3 = ROW(r3), z4 = ROW(r4), z5 = ROW(r5), z6 = ROW(r6),
                z7 = ROW(r7);
#undef ROW
        if (pf)
            for (int k = 0; k < 8; k++) _mm_prefetch(pf + k * pf_row + at, _MM_HINT_T0);
        __m256i t0 = _mm256_unpacklo_epi32(z0, z1), t1 = _mm256_unpackhi_epi32(z0, z1);
        __m256i t2 = _mm256_unpacklo_epi32(z2, z3), t3 = _mm256_unpackhi_epi32(z2, z3);
        __m256i t4 = _mm256_unpacklo_epi32(z4, z5), t5 = _mm256_unpackhi_epi32(z4, z5);
        __m256i t6 = _mm256_unpacklo_epi32(z6, z7), t7 = _mm256_unpackhi_epi32(z6, z7);
        /* u_j, 128-bit lanes: rows 0-3 dword j, rows 0-3 dword 4+j; v_j the same for rows 4-7 */
        __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
        __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
        __m256i v0 = _mm256_unpacklo_epi64(t4, t6), v1 = _mm256_unpackhi_epi64(t4, t6);
        __m256i v2 = _mm256_unpacklo_epi64(t5, t7), v3 = _mm256_unpackhi_epi64(t5, t7);
        __m256i *out = wp + b * 16;
#define PUT(j, u, v)                                                                                  \
    do {                                                                                              \
        __m256i a = _mm256_permute2x128_si256(u, v, 0x20), c = _mm256_permute2x128_si256(u, v, 0x31); \
        _mm256_store_si256(out + j, _mm256_abs_epi8(a));                                              \
        _mm256_store_si256(out + 4 + j, _mm256_abs_epi8(c));                                          \
        _mm256_store_si256(out + 8 + j, a);                                                           \
        _mm256_store_si256(out + 12 + j, c);                                                          \
    } while (0)
        PUT(0, u0, v0);
        PUT(1, u1, v1);
        PUT(2, u2, v2);
        PUT(3, u3, v3);
#undef PUT
        __m256i d = _mm256_i32gather_epi32((const int *)(const void *)(base + at - 2), idx, 1);
        _mm256_store_ps((float *)(dwp + b), half_to_float8(_mm256_and_si256(d, low16)));
    }
}

static inline __attribute__((always_inline)) void mm_tokens(const __m256i *wp, const __m256 *dwp, size_t nb,
                                                            const hlz_q8_block *x, size_t xs, __m256 *acc,
                                                            const int T)
{
    const __m256i ones = _mm256_set1_epi16(1);
    for (size_t b = 0; b < nb; b++) {
        const __m256i *wb = wp + b * 16;
        __m256 dw = dwp[b];
#pragma GCC unroll 4
        for (int t = 0; t < T; t++) {
            const hlz_q8_block *xb = x + (size_t)t * xs + b;
            const i32_unaligned *q = (const i32_unaligned *)(const void *)xb->q;
            __m256i s = _mm256_setzero_si256();
#pragma GCC unroll 8
            for (int g = 0; g < 8; g++) {
                __m256i xs8 = _mm256_sign_epi8(_mm256_set1_epi32(q[g]), wb[8 + g]);
                s = _mm256_add_epi32(s, _mm256_madd_epi16(_mm256_maddubs_epi16(wb[g], xs8), ones));
            }
            __m256 scale = _mm256_mul_ps(dw, _mm256_set1_ps(xb->d));
            acc[t] = _mm256_add_ps(acc[t], _mm256_mul_ps(_mm256_cvtepi32_ps(s), scale));
        }
    }
}

static inline __attribute__((always_inline)) void mm_group(const __m256i *wp, const __m256 *dwp, size_t nb,
                                                           const hlz_q8_block *x, size_t xs, float *out,
                                                           size_t out_stride, __m256i mask, int first,
                                                           const int T)
{
    __m256 acc[4];
#pragma GCC unroll 4
    for (int t = 0; t < T; t++)
        acc[t] = first ? _mm256_setzero_ps() : _mm256_maskload_ps(out + (size_t)t * out_stride, mask);
    mm_tokens(wp, dwp, nb, x, xs, acc, T);
#pragma GCC unroll 4
    for (int t = 0; t < T; t++) _mm256_maskstore_ps(out + (size_t)t * out_stride, mask, acc[t]);
}

static void matmul_q8_0_avx2(const hlz_q8_0_block *w, size_t cols_pad, const hlz_q8_block *x, size_t n_tokens,
                             float *out, size_t out_stride, size_t row_begin, size_t row_end)
{
    size_t blocks = cols_pad / HLZ_QBLOCK;
    if (blocks > (size_t)INT32_MAX / 8 / sizeof(hlz_q8_0_block)) { /* row offsets past int32 (never in practice) */
        for (size_t r = row_begin; r < row_end; r++)
            for (size_t t = 0; t < n_tokens; t++)
                out[t * out_stride + r] = hlz_dot_q8_0_avx2(w + r * blocks, x + t * blocks, cols_pad);
        return;
    }
    __m256i wp[MM_CHUNK * 16];
    __m256 dwp[MM_CHUNK];
    for (size_t r0 = row_begin; r0 < row_end; r0 += 8) {
        size_t nr = row_end - r0 < 8 ? row_end - r0 : 8;
        __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)nr), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        for (size_t b0 = 0; b0 < blocks; b0 += MM_CHUNK) {
            size_t nb = blocks - b0 < MM_CHUNK ? blocks - b0 : MM_CHUNK;
            mm_pack8(w + r0 * blocks, blocks, nr, b0, nb, wp, dwp,
                     row_end - r0 > 8 ? w + (r0 + 8) * blocks : NULL);
            size_t t = 0;
            int first = b0 == 0;
            for (; t + 4 <= n_tokens; t += 4)
                mm_group(wp, dwp, nb, x + t * blocks + b0, blocks, out + t * out_stride + r0, out_stride, mask,
                         first, 4);
            const hlz_q8_block *xt = x + t * blocks + b0;
            float *ot = out + t * out_stride + r0;
            switch (n_tokens - t) {
            case 3: mm_group(wp, dwp, nb, xt, blocks, ot, out_stride, mask, first, 3); break;
            case 2: mm_group(wp, dwp, nb, xt, blocks, ot, out_stride, mask, first, 2); break;
            case 1: mm_group(wp, dwp, nb, xt, blocks, ot, out_stride, mask, first, 1); break;
            default: break;
            }
        }
    }
}

const hlz_kernels hlz_kernels_avx2 = {
    .name = "avx2",
    .dot_f32 = hlz_dot_f32_avx2,
    .sum_f32 = hlz_sum_f32_avx2,
    .quantize_q8 = hlz_quantize_q8_avx2,
    .dot_q8_0 = hlz_dot_q8_0_avx2,
    .matmul_q8_0 = matmul_q8_0_avx2,
};
#endif
