/* rans16_avx2.c - AVX2 versions of the rANS decoder and the bf16 plane
 * split/merge (rans16.h). Each gives exactly the reference's output; built
 * with -mavx2 and called only when the CPU has it. */
#include "rans16.h"

#if defined(__x86_64__) && defined(HLZ_BUILD_AVX2)
#include <immintrin.h>
#include <string.h>

/* refill[m]: for the lanes set in mask m, the index of the word each one
 * takes among the round's consecutive words (lanes in order). */
static int32_t refill[256][8];
static volatile int refill_ready;

static void init_refill(void)
{
    if (refill_ready) return; /* benign race: every thread writes the same */
    for (int m = 0; m < 256; m++) {
        int k = 0;
        for (int j = 0; j < 8; j++) refill[m][j] = (m >> j) & 1 ? k++ : 0;
    }
    refill_ready = 1;
}

#define VECS (HLZ_RANS_LANES / 8)

bool hlz_rans_decode_avx2(hlz_rans_dec *d, const uint32_t *slots, uint8_t *dst, size_t n)
{
    init_refill();
    const uint8_t *p = d->p, *end = d->end;
    __m256i x[VECS];
    for (int v = 0; v < VECS; v++) x[v] = _mm256_loadu_si256((const __m256i *)(d->x + 8 * v));
    const __m256i mask12 = _mm256_set1_epi32(0xfff), one = _mm256_set1_epi32(1), zero = _mm256_setzero_si256();
    /* byte 3 of each 32-bit lane to bytes 0..3 of its 128-bit half */
    const __m256i pick = _mm256_setr_epi8(3, 7, 11, 15, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
                                          3, 7, 11, 15, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m256i join = _mm256_setr_epi32(0, 4, 1, 1, 1, 1, 1, 1);
    size_t i = 0;
    /* The vectors' decoding steps are independent; only their refills
     * follow one another (each takes the words after the previous one's). */
    for (; i + HLZ_RANS_LANES <= n && (size_t)(end - p) >= 2 * HLZ_RANS_LANES; i += HLZ_RANS_LANES) {
        __m256i low[VECS];
        for (int v = 0; v < VECS; v++) {
            __m256i s = _mm256_and_si256(x[v], mask12);
            __m256i e = _mm256_i32gather_epi32((const int *)slots, s, 4);
            __m256i f = _mm256_add_epi32(_mm256_and_si256(e, mask12), one);
            __m256i b = _mm256_and_si256(_mm256_srli_epi32(e, 12), mask12);
            x[v] = _mm256_add_epi32(_mm256_mullo_epi32(f, _mm256_srli_epi32(x[v], 12)), b);
            __m256i sym = _mm256_permutevar8x32_epi32(_mm256_shuffle_epi8(e, pick), join);
            _mm_storel_epi64((__m128i *)(dst + i + 8 * v), _mm256_castsi256_si128(sym));
            low[v] = _mm256_cmpeq_epi32(_mm256_srli_epi32(x[v], 15), zero);
        }
        for (int v = 0; v < VECS; v++) {
            int m = _mm256_movemask_ps(_mm256_castsi256_ps(low[v]));
            __m256i words = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
            words = _mm256_permutevar8x32_epi32(words, _mm256_loadu_si256((const __m256i *)refill[m]));
            x[v] = _mm256_blendv_epi8(x[v], _mm256_or_si256(_mm256_slli_epi32(x[v], 16), words), low[v]);
            p += 2 * __builtin_popcount((unsigned)m);
        }
    }
    for (int v = 0; v < VECS; v++) _mm256_storeu_si256((__m256i *)(d->x + 8 * v), x[v]);
    d->p = p;
    return hlz_rans_decode_ref(d, slots, dst + i, n - i);
}

/* compact[m]: a byte shuffle that moves the 16-bit words of the lanes set
 * in m, in lane order, to the top of 8 words (the rest below is garbage). */
static uint8_t compact[256][16];
static volatile int compact_ready;

static void init_compact(void)
{
    if (compact_ready) return; /* benign race: every thread writes the same */
    for (int m = 0; m < 256; m++) {
        int k = 8 - __builtin_popcount((unsigned)m);
        memset(compact[m], 0x80, 16);
        for (int j = 0; j < 8; j++)
            if ((m >> j) & 1) compact[m][2 * k] = (uint8_t)(2 * j), compact[m][2 * k + 1] = (uint8_t)(2 * j + 1), k++;
    }
    compact_ready = 1;
}

const uint16_t *hlz_rans_encode_avx2(const uint8_t *sym, size_t n, const hlz_rans_sym *syms, const uint8_t *sel, size_t block,
                          uint16_t *words, size_t *nwords, uint32_t state[HLZ_RANS_LANES])
{
    init_compact();
    uint16_t *top = words + n + HLZ_RANS_SLACK, *w = top;
    uint32_t x0[HLZ_RANS_LANES];
    for (int l = 0; l < HLZ_RANS_LANES; l++) x0[l] = HLZ_RANS_L;
    w = hlz_rans_encode_tail(sym, n, syms, sel, block, w, x0);
    __m256i x[VECS];
    for (int v = 0; v < VECS; v++) x[v] = _mm256_loadu_si256((const __m256i *)(x0 + 8 * v));
    const __m256i mask12 = _mm256_set1_epi32(0xfff), mask13 = _mm256_set1_epi32(0x1fff);
    const __m256i one = _mm256_set1_epi32(1), total = _mm256_set1_epi32(HLZ_RANS_TOTAL);
    /* low 16 bits of each 32-bit lane to 16-bit lanes 0..3 of each half */
    const __m256i narrow = _mm256_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1,
                                            0, 1, 4, 5, 8, 9, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1);
    /* The table changes only at block starts: one division per block, not per round. */
    const int *t = (const int *)syms;
    size_t table_from = 0; /* t serves the rounds that start at or after this */
    for (size_t i = n / HLZ_RANS_LANES * HLZ_RANS_LANES; i > 0; i -= HLZ_RANS_LANES) {
        if (sel && (i == n / HLZ_RANS_LANES * HLZ_RANS_LANES || i - HLZ_RANS_LANES < table_from)) {
            size_t b = (i - HLZ_RANS_LANES) / block;
            t = (const int *)(syms + 256 * (size_t)sel[b]);
            table_from = b * block;
        }
        const uint8_t *s = sym + i - HLZ_RANS_LANES;
        for (int v = VECS - 1; v >= 0; v--) {
            __m256i idx = _mm256_slli_epi32(_mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(s + 8 * v))), 1);
            __m256i rcp = _mm256_i32gather_epi32(t, idx, 4), info = _mm256_i32gather_epi32(t + 1, idx, 4);
            __m256i f = _mm256_add_epi32(_mm256_and_si256(info, mask12), one);
            /* x >= f << 19, signed: x < 2^31 and (f << 19) - 1 <= 2^31 - 1 */
            __m256i out = _mm256_cmpgt_epi32(x[v], _mm256_sub_epi32(_mm256_slli_epi32(f, 19), one));
            int m = _mm256_movemask_ps(_mm256_castsi256_ps(out));
            __m256i wv = _mm256_permute4x64_epi64(_mm256_shuffle_epi8(x[v], narrow), 0x08);
            __m128i packed = _mm_shuffle_epi8(_mm256_castsi256_si128(wv), _mm_loadu_si128((const __m128i *)compact[m]));
            _mm_storeu_si128((__m128i *)(w - 8), packed);
            w -= __builtin_popcount((unsigned)m);
            __m256i xv = _mm256_blendv_epi8(x[v], _mm256_srli_epi32(x[v], 16), out);
            /* q = (x * rcp) >> 32 >> shift, the high halves from even and odd lanes */
            __m256i even = _mm256_srli_epi64(_mm256_mul_epu32(xv, rcp), 32);
            __m256i odd = _mm256_mul_epu32(_mm256_srli_epi64(xv, 32), _mm256_srli_epi64(rcp, 32));
            __m256i q = _mm256_srlv_epi32(_mm256_blend_epi32(even, odd, 0xaa), _mm256_srli_epi32(info, 25));
            __m256i bias = _mm256_and_si256(_mm256_srli_epi32(info, 12), mask13);
            x[v] = _mm256_add_epi32(_mm256_add_epi32(xv, bias), _mm256_mullo_epi32(q, _mm256_sub_epi32(total, f)));
        }
    }
    for (int v = 0; v < VECS; v++) _mm256_storeu_si256((__m256i *)(state + 8 * v), x[v]);
    *nwords = (size_t)(top - w);
    return w;
}

void hlz_merge16_avx2(const uint8_t *e, const uint8_t *r, uint8_t *dst, size_t n)
{
    const __m256i m7f = _mm256_set1_epi8(0x7f), m80 = _mm256_set1_epi8((char)0x80);
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i ev = _mm256_loadu_si256((const __m256i *)(e + i)), rv = _mm256_loadu_si256((const __m256i *)(r + i));
        /* bytes have no shifts: shift 16-bit lanes and mask what crossed */
        __m256i lo = _mm256_or_si256(_mm256_and_si256(_mm256_slli_epi16(ev, 7), m80), _mm256_and_si256(rv, m7f));
        __m256i hi = _mm256_or_si256(_mm256_and_si256(rv, m80), _mm256_and_si256(_mm256_srli_epi16(ev, 1), m7f));
        __m256i a = _mm256_unpacklo_epi8(lo, hi), b = _mm256_unpackhi_epi8(lo, hi);
        _mm256_storeu_si256((__m256i *)(dst + 2 * i), _mm256_permute2x128_si256(a, b, 0x20));
        _mm256_storeu_si256((__m256i *)(dst + 2 * i + 32), _mm256_permute2x128_si256(a, b, 0x31));
    }
    hlz_merge16_ref(e + i, r + i, dst + 2 * i, n - i);
}

void hlz_split16_avx2(const uint8_t *src, size_t n, uint8_t *e, uint8_t *r, uint32_t (*hist)[256])
{
    const __m256i m7f = _mm256_set1_epi16(0x7f), m80 = _mm256_set1_epi16(0x80), mff = _mm256_set1_epi16(0xff);
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m256i v0 = _mm256_loadu_si256((const __m256i *)(src + 2 * i));
        __m256i v1 = _mm256_loadu_si256((const __m256i *)(src + 2 * i + 32));
        __m256i e0 = _mm256_and_si256(_mm256_srli_epi16(v0, 7), mff), e1 = _mm256_and_si256(_mm256_srli_epi16(v1, 7), mff);
        __m256i r0 = _mm256_or_si256(_mm256_and_si256(v0, m7f), _mm256_and_si256(_mm256_srli_epi16(v0, 8), m80));
        __m256i r1 = _mm256_or_si256(_mm256_and_si256(v1, m7f), _mm256_and_si256(_mm256_srli_epi16(v1, 8), m80));
        /* packus works within 128-bit halves: fix the order with a 64-bit permute */
        _mm256_storeu_si256((__m256i *)(e + i), _mm256_permute4x64_epi64(_mm256_packus_epi16(e0, e1), 0xd8));
        _mm256_storeu_si256((__m256i *)(r + i), _mm256_permute4x64_epi64(_mm256_packus_epi16(r0, r1), 0xd8));
    }
    for (; i < n; i++) {
        uint8_t lo = src[2 * i], hi = src[2 * i + 1];
        e[i] = (uint8_t)((hi << 1) | (lo >> 7));
        r[i] = (uint8_t)((hi & 0x80) | (lo & 0x7f));
    }
    hlz_count_blocks(e, n, hist);
}
/* Groups of 64 values: 4 vectors of 16 16-bit lanes each way. */
void hlz_split16j_avx2(const uint8_t *src, size_t n, unsigned base, uint8_t *s, uint8_t *low)
{
    const __m256i m1023 = _mm256_set1_epi16(1023), m31 = _mm256_set1_epi16(31), m32 = _mm256_set1_epi16(32);
    const __m256i one = _mm256_set1_epi16(1), top = _mm256_set1_epi16(253), esc = _mm256_set1_epi16(HLZ_J_ESCAPE);
    const __m256i off = _mm256_set1_epi16((short)(base - 1)), zero = _mm256_setzero_si256();
    const __m128i m3 = _mm_set1_epi8(3);
    size_t g = 0;
    for (; g + 64 <= n; g += 64, low += 48) {
        __m256i sv[4], lv[4];
        for (int k = 0; k < 4; k++) {
            __m256i v = _mm256_loadu_si256((const __m256i *)(src + 2 * (g + 16 * (size_t)k)));
            __m256i h = _mm256_and_si256(_mm256_srli_epi16(v, 5), m1023);
            __m256i t = _mm256_sub_epi16(h, off), u = _mm256_sub_epi16(t, one); /* s = t when u < 254 */
            __m256i in = _mm256_cmpeq_epi16(_mm256_min_epu16(u, top), u);
            __m256i sym = _mm256_blendv_epi8(esc, t, in);
            sv[k] = _mm256_andnot_si256(_mm256_cmpeq_epi16(h, zero), sym);
            lv[k] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(v, 10), m32), _mm256_and_si256(v, m31));
        }
        /* packus works within 128-bit halves: a 64-bit permute restores the order */
        __m256i s01 = _mm256_permute4x64_epi64(_mm256_packus_epi16(sv[0], sv[1]), 0xd8);
        __m256i s23 = _mm256_permute4x64_epi64(_mm256_packus_epi16(sv[2], sv[3]), 0xd8);
        _mm256_storeu_si256((__m256i *)(s + g), s01);
        _mm256_storeu_si256((__m256i *)(s + g + 32), s23);
        __m256i l01 = _mm256_permute4x64_epi64(_mm256_packus_epi16(lv[0], lv[1]), 0xd8);
        __m256i l23 = _mm256_permute4x64_epi64(_mm256_packus_epi16(lv[2], lv[3]), 0xd8);
        __m128i a = _mm256_castsi256_si128(l01), b = _mm256_extracti128_si256(l01, 1);
        __m128i c = _mm256_castsi256_si128(l23), d = _mm256_extracti128_si256(l23, 1);
        /* bytes: shift 16-bit lanes, mask what crossed */
        a = _mm_or_si128(a, _mm_slli_epi16(_mm_and_si128(d, m3), 6));
        b = _mm_or_si128(b, _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(d, 2), m3), 6));
        c = _mm_or_si128(c, _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(d, 4), m3), 6));
        _mm_storeu_si128((__m128i *)low, a);
        _mm_storeu_si128((__m128i *)(low + 16), b);
        _mm_storeu_si128((__m128i *)(low + 32), c);
    }
    hlz_split16j_ref(src + 2 * g, n - g, base, s + g, low);
}

void hlz_merge16j_avx2(const uint8_t *s, const uint8_t *low, unsigned base, uint8_t *dst, size_t n)
{
    const __m256i m1023 = _mm256_set1_epi16(1023), m31 = _mm256_set1_epi16(31), m32 = _mm256_set1_epi16(32);
    const __m256i off = _mm256_set1_epi16((short)(base - 1)), zero = _mm256_setzero_si256();
    const __m128i m63 = _mm_set1_epi8(63), m3 = _mm_set1_epi8(3);
    size_t g = 0;
    for (; g + 64 <= n; g += 64, low += 48) {
        __m128i a = _mm_loadu_si128((const __m128i *)low), b = _mm_loadu_si128((const __m128i *)(low + 16));
        __m128i c = _mm_loadu_si128((const __m128i *)(low + 32));
        __m128i l[4];
        l[0] = _mm_and_si128(a, m63), l[1] = _mm_and_si128(b, m63), l[2] = _mm_and_si128(c, m63);
        l[3] = _mm_or_si128(_mm_and_si128(_mm_srli_epi16(a, 6), m3),
                            _mm_or_si128(_mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(b, 6), m3), 2),
                                         _mm_slli_epi16(_mm_and_si128(_mm_srli_epi16(c, 6), m3), 4)));
        for (int k = 0; k < 4; k++) {
            __m256i sv = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)(s + g + 16 * (size_t)k)));
            __m256i lv = _mm256_cvtepu8_epi16(l[k]);
            __m256i h = _mm256_andnot_si256(_mm256_cmpeq_epi16(sv, zero), _mm256_and_si256(_mm256_add_epi16(sv, off), m1023));
            __m256i v = _mm256_or_si256(_mm256_slli_epi16(_mm256_and_si256(lv, m32), 10),
                                        _mm256_or_si256(_mm256_slli_epi16(h, 5), _mm256_and_si256(lv, m31)));
            _mm256_storeu_si256((__m256i *)(dst + 2 * (g + 16 * (size_t)k)), v);
        }
    }
    hlz_merge16j_ref(s + g, low, base, dst + 2 * g, n - g);
}
void hlz_block_costs_avx2(const uint32_t *hist, const uint8_t *present, int npresent, const uint16_t (*cost)[HLZ_PLAN_TABLES],
                          uint32_t *out)
{
    __m256i a0 = _mm256_setzero_si256(), a1 = a0;
    for (int j = 0; j < npresent; j++) {
        __m256i h = _mm256_set1_epi32((int)hist[present[j]]);
        __m256i c = _mm256_loadu_si256((const __m256i *)cost[present[j]]);
        a0 = _mm256_add_epi32(a0, _mm256_mullo_epi32(h, _mm256_cvtepu16_epi32(_mm256_castsi256_si128(c))));
        a1 = _mm256_add_epi32(a1, _mm256_mullo_epi32(h, _mm256_cvtepu16_epi32(_mm256_extracti128_si256(c, 1))));
    }
    _mm256_storeu_si256((__m256i *)out, a0);
    _mm256_storeu_si256((__m256i *)(out + 8), a1);
}
#else
typedef int hlz_rans16_avx2_unused; /* ISO C wants something in a file */
#endif
