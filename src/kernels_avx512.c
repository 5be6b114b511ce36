/* kernels_avx512.c - AVX-512 (F, BW, VL, VNNI) kernel set, bit-identical to
 * kernels_ref.c. It differs from the AVX2 set only in the integer dot
 * product: vpdpbusd sums four byte products into int32 exactly. */
#include "kernels.h"

#if defined(__x86_64__) && defined(HLZ_BUILD_AVX512)
#include <immintrin.h>
#include <string.h>

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

/* ---- matrix product ----------------------------------------------------------
 *
 * Rows are taken 16 at a time, one per lane of a zmm. A tile of 16 rows is
 * first repacked, MM_CHUNK blocks at a time, so that vector g of block b
 * holds bytes 4g..4g+3 of that block of each of the 16 rows (a 16 x 8 dword
 * transpose), each byte plus 128 (unsigned), and the 16 row scales as floats.
 * Then for each token and block:
 *     isum = -128 * sum(x) + sum over g of vpdpbusd(w + 128, broadcast(x[4g..4g+3]))
 * which is exactly sum(w * x) in every lane (|isum| <= 2^20, no overflow),
 * and acc = acc + (float)isum * (d_w * d_x): the reference's operations in
 * the reference's block order, one output per lane. Tokens go 8 at a time so
 * that the 8 weight vectors of a block, loaded once, serve 8 tokens. */

#define MM_CHUNK 48 /* blocks repacked at a time: 48 * 576 bytes = 27 KiB, L1-resident */

/* Four activation bytes read as one int32 (for the broadcast operand of vpdpbusd). */
typedef int32_t __attribute__((may_alias, aligned(1))) i32_unaligned;

/* Repacks blocks b0 .. b0 + nb - 1 of the nr (1..16) rows at w (rows of
 * `blocks` blocks); lanes past nr repeat the last row (their results are
 * never stored). Written out in full so that everything stays in registers. */
static void mm_pack16(const hlz_q8_0_block *w, size_t blocks, size_t nr, size_t b0, size_t nb, __m512i *wp,
                      __m512 *dwp, const hlz_q8_0_block *next)
{
    /* the next tile's 16 rows (or NULL), prefetched block by block */
    const char *pf = next ? (const char *)(next + b0) : NULL;
    size_t pf_row = blocks * sizeof(hlz_q8_0_block);
    const char *row[16];
    int32_t offs[16];
    for (size_t i = 0; i < 16; i++) {
        size_t r = i < nr ? i : nr - 1;
        row[i] = (const char *)(w + r * blocks + b0);
        offs[i] = (int32_t)(r * blocks * sizeof(hlz_q8_0_block));
    }
    const char *r0 = row[0], *r1 = row[1], *r2 = row[2], *r3 = row[3], *r4 = row[4], *r5 = row[5], *r6 = row[6],
               *r7 = row[7], *r8 = row[8], *r9 = row[9], *r10 = row[10], *r11 = row[11], *r12 = row[12],
               *r13 = row[13], *r14 = row[14], *r15 = row[15];
    const __m512i flip = _mm512_set1_epi8((char)0x80), idx = _mm512_loadu_si512(offs);
    const __m512i lo = _mm512_set_epi64(13, 12, 5, 4, 9, 8, 1, 0), hi = _mm512_set_epi64(15, 14, 7, 6, 11, 10, 3, 2);
    const char *base = (const char *)(w + b0);
    for (size_t b = 0, at = 2; b < nb; b++, at += sizeof(hlz_q8_0_block)) {
#define ROWS(a, c) _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)(a + at))), \
                                      _mm256_loadu_si256((const __m256i *)(c + at)), 1)
        /* z_k, 128-bit lanes: row k dwords 0-3, 4-7, row k+8 dwords 0-3, 4-7 */
        __m512i z0 = ROWS(r0, r8), z1 = ROWS(r1, r9), z2 = ROWS(r2, r10), z3 = ROWS(r3, r11);
        __m512i z4 = ROWS(r4, r12), z5 = ROWS(r5, r13), z6 = ROWS(r6, r14), z7 = ROWS(r7, r15);
#undef ROWS
        if (pf)
            for (int k = 0; k < 16; k++) _mm_prefetch(pf + k * pf_row + at, _MM_HINT_T0);
        __m512i t0 = _mm512_unpacklo_epi32(z0, z1), t1 = _mm512_unpackhi_epi32(z0, z1);
        __m512i t2 = _mm512_unpacklo_epi32(z2, z3), t3 = _mm512_unpackhi_epi32(z2, z3);
        __m512i t4 = _mm512_unpacklo_epi32(z4, z5), t5 = _mm512_unpackhi_epi32(z4, z5);
        __m512i t6 = _mm512_unpacklo_epi32(z6, z7), t7 = _mm512_unpackhi_epi32(z6, z7);
        /* u_j, lanes: rows 0-3 dword j, rows 0-3 dword 4+j, rows 8-11 dword j, rows 8-11 dword 4+j;
         * v_j the same for rows 4-7 and 12-15 */
        __m512i u0 = _mm512_unpacklo_epi64(t0, t2), u1 = _mm512_unpackhi_epi64(t0, t2);
        __m512i u2 = _mm512_unpacklo_epi64(t1, t3), u3 = _mm512_unpackhi_epi64(t1, t3);
        __m512i v0 = _mm512_unpacklo_epi64(t4, t6), v1 = _mm512_unpackhi_epi64(t4, t6);
        __m512i v2 = _mm512_unpacklo_epi64(t5, t7), v3 = _mm512_unpackhi_epi64(t5, t7);
        __m512i *out = wp + b * 8;
        _mm512_store_si512(out + 0, _mm512_xor_si512(_mm512_permutex2var_epi64(u0, lo, v0), flip));
        _mm512_store_si512(out + 1, _mm512_xor_si512(_mm512_permutex2var_epi64(u1, lo, v1), flip));
        _mm512_store_si512(out + 2, _mm512_xor_si512(_mm512_permutex2var_epi64(u2, lo, v2), flip));
        _mm512_store_si512(out + 3, _mm512_xor_si512(_mm512_permutex2var_epi64(u3, lo, v3), flip));
        _mm512_store_si512(out + 4, _mm512_xor_si512(_mm512_permutex2var_epi64(u0, hi, v0), flip));
        _mm512_store_si512(out + 5, _mm512_xor_si512(_mm512_permutex2var_epi64(u1, hi, v1), flip));
        _mm512_store_si512(out + 6, _mm512_xor_si512(_mm512_permutex2var_epi64(u2, hi, v2), flip));
        _mm512_store_si512(out + 7, _mm512_xor_si512(_mm512_permutex2var_epi64(u3, hi, v3), flip));
        /* the 16 fp16 scales: 4-byte gathers at the blocks' starts, the low halves */
        __m512i d = _mm512_i32gather_epi32(idx, (const void *)(base + at - 2), 1);
        _mm512_store_ps(dwp + b, _mm512_cvtph_ps(_mm512_cvtepi32_epi16(d)));
    }
}

/* T tokens (x, x + xs, ...) times the repacked tile, accumulating into acc[0..T-1]. */
static inline __attribute__((always_inline)) void mm_tokens(const __m512i *wp, const __m512 *dwp, size_t nb,
                                                            const hlz_q8_block *x, size_t xs, __m512 *acc,
                                                            const int T)
{
    for (size_t b = 0; b < nb; b++) {
        const __m512i *wb = wp + b * 8;
        __m512i w0 = wb[0], w1 = wb[1], w2 = wb[2], w3 = wb[3], w4 = wb[4], w5 = wb[5], w6 = wb[6], w7 = wb[7];
        __m512 dw = dwp[b];
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) {
            const hlz_q8_block *xb = x + (size_t)t * xs + b;
            const i32_unaligned *q = (const i32_unaligned *)(const void *)xb->q;
            __m512i s = _mm512_set1_epi32(-128 * xb->sum), s2;
            s = _mm512_dpbusd_epi32(s, w0, _mm512_set1_epi32(q[0]));
            s2 = _mm512_dpbusd_epi32(_mm512_setzero_si512(), w4, _mm512_set1_epi32(q[4]));
            s = _mm512_dpbusd_epi32(s, w1, _mm512_set1_epi32(q[1]));
            s2 = _mm512_dpbusd_epi32(s2, w5, _mm512_set1_epi32(q[5]));
            s = _mm512_dpbusd_epi32(s, w2, _mm512_set1_epi32(q[2]));
            s2 = _mm512_dpbusd_epi32(s2, w6, _mm512_set1_epi32(q[6]));
            s = _mm512_dpbusd_epi32(s, w3, _mm512_set1_epi32(q[3]));
            s2 = _mm512_dpbusd_epi32(s2, w7, _mm512_set1_epi32(q[7]));
            s = _mm512_add_epi32(s, s2);
            __m512 scale = _mm512_mul_ps(dw, _mm512_set1_ps(xb->d));
            acc[t] = _mm512_add_ps(acc[t], _mm512_mul_ps(_mm512_cvtepi32_ps(s), scale));
        }
    }
}

/* One group of T tokens: accumulators start at 0 on the first chunk, are
 * reloaded from `out` on later ones, and are stored (16 lanes, or `mask`). */
static inline __attribute__((always_inline)) void mm_group(const __m512i *wp, const __m512 *dwp, size_t nb,
                                                           const hlz_q8_block *x, size_t xs, float *out,
                                                           size_t out_stride, __mmask16 mask, int first,
                                                           const int T)
{
    __m512 acc[8];
#pragma GCC unroll 8
    for (int t = 0; t < T; t++)
        acc[t] = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(mask, out + (size_t)t * out_stride);
    mm_tokens(wp, dwp, nb, x, xs, acc, T);
#pragma GCC unroll 8
    for (int t = 0; t < T; t++) _mm512_mask_storeu_ps(out + (size_t)t * out_stride, mask, acc[t]);
}

/* One token (the per-step case): no repacking. For each block, the 16 rows'
 * dpbusd(w + 128, x) partial sums (8 per row) are summed across lanes with a
 * tree of unpacks and adds (integer, so in any order), then
 * isum = that - 128 * sum(x) and acc = acc + (float)isum * (d_w * d_x). */
static void mm_one16(const hlz_q8_0_block *w, size_t blocks, size_t nr, const hlz_q8_block *x, float *out,
                     __mmask16 mask, const hlz_q8_0_block *next)
{
    const char *row[16];
    int32_t offs[16];
    for (size_t i = 0; i < 16; i++) {
        size_t r = i < nr ? i : nr - 1;
        row[i] = (const char *)(w + r * blocks);
        offs[i] = (int32_t)(r * blocks * sizeof(hlz_q8_0_block));
    }
    const char *r0 = row[0], *r1 = row[1], *r2 = row[2], *r3 = row[3], *r4 = row[4], *r5 = row[5], *r6 = row[6],
               *r7 = row[7], *r8 = row[8], *r9 = row[9], *r10 = row[10], *r11 = row[11], *r12 = row[12],
               *r13 = row[13], *r14 = row[14], *r15 = row[15];
    const char *pf = (const char *)next;
    size_t pf_row = blocks * sizeof(hlz_q8_0_block);
    const __m512i flip = _mm512_set1_epi8((char)0x80), idx = _mm512_loadu_si512(offs), zero = _mm512_setzero_si512();
    __m512 acc = _mm512_setzero_ps();
    for (size_t b = 0, at = 2; b < blocks; b++, at += sizeof(hlz_q8_0_block)) {
        __m512i xq = _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)x[b].q));
#define ROWS(a, c)                                                                                             \
    _mm512_dpbusd_epi32(zero,                                                                                  \
                        _mm512_xor_si512(_mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256(         \
                                                                (const __m256i *)(a + at))),                   \
                                                            _mm256_loadu_si256((const __m256i *)(c + at)), 1), \
                                         flip),                                                                \
                        xq)
        /* p_k: 8 partial sums of row k, then 8 of row k + 8 */
        __m512i p0 = ROWS(r0, r8), p1 = ROWS(r1, r9), p2 = ROWS(r2, r10), p3 = ROWS(r3, r11);
        __m512i p4 = ROWS(r4, r12), p5 = ROWS(r5, r13), p6 = ROWS(r6, r14), p7 = ROWS(r7, r15);
#undef ROWS
        if (pf)
            for (int k = 0; k < 16; k++) _mm_prefetch(pf + k * pf_row + at, _MM_HINT_T0);
        __m512i a0 = _mm512_add_epi32(_mm512_unpacklo_epi32(p0, p1), _mm512_unpackhi_epi32(p0, p1));
        __m512i a1 = _mm512_add_epi32(_mm512_unpacklo_epi32(p2, p3), _mm512_unpackhi_epi32(p2, p3));
        __m512i a2 = _mm512_add_epi32(_mm512_unpacklo_epi32(p4, p5), _mm512_unpackhi_epi32(p4, p5));
        __m512i a3 = _mm512_add_epi32(_mm512_unpacklo_epi32(p6, p7), _mm512_unpackhi_epi32(p6, p7));
        /* c0, 128-bit lanes: rows 0-3 (partial sums of dwords 0-3), rows 0-3 (4-7), rows 8-11, rows 8-11;
         * c1 the same for rows 4-7 and 12-15 */
        __m512i c0 = _mm512_add_epi32(_mm512_unpacklo_epi64(a0, a1), _mm512_unpackhi_epi64(a0, a1));
        __m512i c1 = _mm512_add_epi32(_mm512_unpacklo_epi64(a2, a3), _mm512_unpackhi_epi64(a2, a3));
        /* lanes: rows 0-3, 8-11, 4-7, 12-15, then in row order */
        __m512i s = _mm512_add_epi32(_mm512_shuffle_i32x4(c0, c1, 0x88), _mm512_shuffle_i32x4(c0, c1, 0xdd));
        s = _mm512_shuffle_i32x4(s, s, 0xd8);
        s = _mm512_sub_epi32(s, _mm512_set1_epi32(128 * x[b].sum));
        /* the 16 fp16 scales: 4-byte gathers at the blocks' starts, the low halves */
        __m512i d = _mm512_i32gather_epi32(idx, (const void *)(r0 + at - 2), 1);
        __m512 dw = _mm512_cvtph_ps(_mm512_cvtepi32_epi16(d));
        acc = _mm512_add_ps(acc, _mm512_mul_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(dw, _mm512_set1_ps(x[b].d))));
    }
    _mm512_mask_storeu_ps(out, mask, acc);
}

static void matmul_q8_0_avx512(const hlz_q8_0_block *w, size_t cols_pad, const hlz_q8_block *x, size_t n_tokens,
                               float *out, size_t out_stride, size_t row_begin, size_t row_end)
{
    size_t blocks = cols_pad / HLZ_QBLOCK;
    if (blocks > (size_t)INT32_MAX / 16 / sizeof(hlz_q8_0_block)) { /* row offsets past int32 (never in practice) */
        for (size_t r = row_begin; r < row_end; r++)
            for (size_t t = 0; t < n_tokens; t++)
                out[t * out_stride + r] = dot_q8_0_avx512(w + r * blocks, x + t * blocks, cols_pad);
        return;
    }
    __m512i wp[MM_CHUNK * 8];
    __m512 dwp[MM_CHUNK];
    for (size_t r0 = row_begin; r0 < row_end; r0 += 16) {
        size_t nr = row_end - r0 < 16 ? row_end - r0 : 16;
        __mmask16 mask = (__mmask16)((1u << nr) - 1);
        if (n_tokens == 1) {
            mm_one16(w + r0 * blocks, blocks, nr, x, out + r0, mask,
                     row_end - r0 > 16 ? w + (r0 + 16) * blocks : NULL);
            continue;
        }
        for (size_t b0 = 0; b0 < blocks; b0 += MM_CHUNK) {
            size_t nb = blocks - b0 < MM_CHUNK ? blocks - b0 : MM_CHUNK;
            mm_pack16(w + r0 * blocks, blocks, nr, b0, nb, wp, dwp,
                      row_end - r0 > 16 ? w + (r0 + 16) * blocks : NULL);
            size_t t = 0;
            for (; t + 8 <= n_tokens; t += 8)
                mm_group(wp, dwp, nb, x + t * blocks + b0, blocks, out + t * out_stride + r0, out_stride, mask,
                         b0 == 0, 8);
            const hlz_q8_block *xt = x + t * blocks + b0;
            float *ot = out + t * out_stride + r0;
            int first = b0 == 0;
            switch (n_tokens - t) {
            case 7: mm_group(wp, dwp, nb, xt, blocks, ot, out_stride, mask, first, 7); break;
            case 6: mm_group(wp, dwp, nb, xt, blocks, ot, out_stride, mask, first, 6); break;
            case 5: mm_group(wp, dwp, nb, xt, blocks, ot, out_stride, mask, first, 5); break;
            case 4: mm_group(wp, dwp, nb, xt, blocks, ot, out_stride, mask, first, 4); break;
            case 3: mm_group(wp, dwp, nb, xt, blocks, ot, out_stride, mask, first, 3); break;
            case 2: mm_group(wp, dwp, nb, xt, blocks, ot, out_stride, mask, first, 2); break;
            case 1: mm_group(wp, dwp, nb, xt, blocks, ot, out_stride, mask, first, 1); break;
            default: break;
            }
        }
    }
}

const hlz_kernels hlz_kernels_avx512 = {
    .name = "avx512",
    .dot_f32 = hlz_dot_f32_avx2,
    .sum_f32 = hlz_sum_f32_avx2,
    .quantize_q8 = hlz_quantize_q8_avx2,
    .dot_q8_0 = dot_q8_0_avx512,
    .matmul_q8_0 = matmul_q8_0_avx512,
};
#endif
