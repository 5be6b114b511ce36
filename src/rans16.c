/* rans16.c - static rANS, 32 states of 32 bits, 16-bit words (rans16.h):
 * the encoder, the reference decoder, and the bf16 plane split/merge. */
#include "rans16.h"

#include "kernels.h"

#include <string.h>

#define L HLZ_RANS_L
#define TOTAL HLZ_RANS_TOTAL
#define BITS HLZ_RANS_PROB_BITS

static inline uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

/* x in [2^15, 2^31): the reciprocal is exact for x < 2^31 (rans_byte.h's
 * argument), and a symbol writes at most one word. */
static void sym_init(hlz_rans_sym *s, uint32_t start, uint32_t freq)
{
    uint32_t rcp, shift = 0, bias = start;
    if (freq < 2) {
        rcp = ~0u, bias = start + TOTAL - 1;
    } else {
        while (freq > (1u << shift)) shift++;
        rcp = (uint32_t)((((uint64_t)1 << (shift + 31)) + freq - 1) / freq);
        shift--;
    }
    s->rcp = rcp;
    s->info = (freq - 1) | bias << 12 | shift << 25;
}

void hlz_rans_enc_table(const uint32_t *freq, hlz_rans_sym *syms)
{
    uint32_t start = 0;
    for (int s = 0; s < 256; s++) {
        if (freq[s]) sym_init(&syms[s], start, freq[s]);
        else memset(&syms[s], 0, sizeof syms[s]);
        start += freq[s];
    }
}

void hlz_rans_dec_table(const uint32_t *freq, uint32_t *slots)
{
    uint32_t start = 0;
    for (uint32_t s = 0; s < 256; s++) {
        uint32_t f = freq[s];
        for (uint32_t k = 0; k < f; k++) slots[start + k] = (f - 1) | (k << 12) | (s << 24);
        start += f;
    }
}

/* One symbol: the word out if the state would overflow, then the step. */
static inline uint32_t enc_step(uint32_t x, const hlz_rans_sym *e, uint16_t **w)
{
    uint32_t f = (e->info & 0xfff) + 1, out = x >= f << 19; /* x_max = ((L >> 12) << 16) * f */
    (*w)[-1] = (uint16_t)x; /* branchless: always stored below w, kept by moving w */
    *w -= out;
    x >>= out << 4;
    uint32_t q = (uint32_t)(((uint64_t)x * e->rcp) >> 32) >> (e->info >> 25);
    return x + ((e->info >> 12) & 0x1fff) + q * (TOTAL - f);
}

uint16_t *hlz_rans_encode_tail(const uint8_t *sym, size_t n, const hlz_rans_sym *syms, const uint8_t *sel,
                               size_t block, uint16_t *w, uint32_t *x)
{
    size_t full = n / HLZ_RANS_LANES * HLZ_RANS_LANES;
    const hlz_rans_sym *t = sel ? syms + 256 * (size_t)sel[full / block] : syms;
    for (size_t i = n; i > full; i--) x[i - 1 - full] = enc_step(x[i - 1 - full], &t[sym[i - 1]], &w);
    return w;
}

const uint16_t *hlz_rans_encode_ref(const uint8_t *sym, size_t n, const hlz_rans_sym *syms, const uint8_t *sel, size_t block,
                         uint16_t *words, size_t *nwords, uint32_t state[HLZ_RANS_LANES])
{
    uint16_t *top = words + n + HLZ_RANS_SLACK, *w = top; /* written backwards */
    uint32_t x[HLZ_RANS_LANES];
    for (int l = 0; l < HLZ_RANS_LANES; l++) x[l] = L;
    w = hlz_rans_encode_tail(sym, n, syms, sel, block, w, x);
    for (size_t i = n / HLZ_RANS_LANES * HLZ_RANS_LANES; i > 0; i -= HLZ_RANS_LANES) {
        const hlz_rans_sym *t = sel ? syms + 256 * (size_t)sel[(i - HLZ_RANS_LANES) / block] : syms;
        const uint8_t *s = sym + i - HLZ_RANS_LANES;
        for (int l = HLZ_RANS_LANES - 1; l >= 0; l--) x[l] = enc_step(x[l], &t[s[l]], &w);
    }
    memcpy(state, x, sizeof x);
    *nwords = (size_t)(top - w);
    return w;
}

bool hlz_rans_decode_ref(hlz_rans_dec *d, const uint32_t *slots, uint8_t *dst, size_t n)
{
    const uint8_t *p = d->p, *end = d->end;
    size_t i = 0;
    /* Whole rounds while every state could refill: no bounds checks, no branches. */
    for (; i + HLZ_RANS_LANES <= n && (size_t)(end - p) >= 2 * HLZ_RANS_LANES; i += HLZ_RANS_LANES) {
        for (int l = 0; l < HLZ_RANS_LANES; l++) {
            uint32_t x = d->x[l], e = slots[x & (TOTAL - 1)];
            dst[i + (size_t)l] = (uint8_t)(e >> 24);
            x = ((e & 0xfff) + 1) * (x >> BITS) + ((e >> 12) & 0xfff);
            uint32_t in = x < L;
            x = in ? (x << 16) | le16(p) : x;
            p += 2 * in;
            d->x[l] = x;
        }
    }
    for (; i < n; i++) {
        uint32_t x = d->x[i % HLZ_RANS_LANES], e = slots[x & (TOTAL - 1)];
        dst[i] = (uint8_t)(e >> 24);
        x = ((e & 0xfff) + 1) * (x >> BITS) + ((e >> 12) & 0xfff);
        if (x < L) {
            if (end - p < 2) return false;
            x = (x << 16) | le16(p);
            p += 2;
        }
        d->x[i % HLZ_RANS_LANES] = x;
    }
    d->p = p;
    return true;
}

void hlz_merge16_ref(const uint8_t *e, const uint8_t *r, uint8_t *dst, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        dst[2 * i] = (uint8_t)((e[i] << 7) | (r[i] & 0x7f));
        dst[2 * i + 1] = (uint8_t)((r[i] & 0x80) | (e[i] >> 1));
    }
}

/* Counts e into hist with 4 partial tables: runs of one value would
 * otherwise wait on their own increments. */
void hlz_count_blocks(const uint8_t *e, size_t n, uint32_t (*hist)[256])
{
    for (size_t b = 0; b * HLZ_COUNT_BLOCK < n; b++) {
        uint32_t h[4][256];
        memset(h, 0, sizeof h);
        const uint8_t *p = e + b * HLZ_COUNT_BLOCK;
        size_t m = n - b * HLZ_COUNT_BLOCK < HLZ_COUNT_BLOCK ? n - b * HLZ_COUNT_BLOCK : HLZ_COUNT_BLOCK, i = 0;
        for (; i + 4 <= m; i += 4) h[0][p[i]]++, h[1][p[i + 1]]++, h[2][p[i + 2]]++, h[3][p[i + 3]]++;
        for (; i < m; i++) h[0][p[i]]++;
        for (int s = 0; s < 256; s++) hist[b][s] += h[0][s] + h[1][s] + h[2][s] + h[3][s];
    }
}

void hlz_split16_ref(const uint8_t *src, size_t n, uint8_t *e, uint8_t *r, uint32_t (*hist)[256])
{
    for (size_t i = 0; i < n; i++) {
        uint8_t lo = src[2 * i], hi = src[2 * i + 1];
        e[i] = (uint8_t)((hi << 1) | (lo >> 7));
        r[i] = (uint8_t)((hi & 0x80) | (lo & 0x7f));
    }
    hlz_count_blocks(e, n, hist);
}

#if defined(__x86_64__) && defined(HLZ_BUILD_AVX2)
#define HAVE_AVX2_BUILD 1
#endif

bool hlz_rans_have_avx2(void)
{
#ifdef HAVE_AVX2_BUILD
    static volatile int have = -1; /* benign race: every thread computes the same */
    if (have < 0) have = __builtin_cpu_supports("avx2") && strcmp(hlz_kernels_best()->name, hlz_kernels_ref.name) != 0;
    return have;
#else
    return false;
#endif
}

#ifndef HAVE_AVX2_BUILD
const uint16_t *hlz_rans_encode_avx2(const uint8_t *sym, size_t n, const hlz_rans_sym *syms, const uint8_t *sel, size_t block,
                          uint16_t *words, size_t *nwords, uint32_t state[HLZ_RANS_LANES])
{
    return hlz_rans_encode_ref(sym, n, syms, sel, block, words, nwords, state);
}
bool hlz_rans_decode_avx2(hlz_rans_dec *d, const uint32_t *slots, uint8_t *dst, size_t n)
{
    return hlz_rans_decode_ref(d, slots, dst, n);
}
void hlz_merge16_avx2(const uint8_t *e, const uint8_t *r, uint8_t *dst, size_t n) { hlz_merge16_ref(e, r, dst, n); }
void hlz_split16_avx2(const uint8_t *src, size_t n, uint8_t *e, uint8_t *r, uint32_t (*hist)[256])
{
    hlz_split16_ref(src, n, e, r, hist);
}
#endif

const uint16_t *hlz_rans_encode(const uint8_t *sym, size_t n, const hlz_rans_sym *syms, const uint8_t *sel, size_t block,
                     uint16_t *words, size_t *nwords, uint32_t state[HLZ_RANS_LANES])
{
    if (hlz_rans_have_avx2()) return hlz_rans_encode_avx2(sym, n, syms, sel, block, words, nwords, state);
    return hlz_rans_encode_ref(sym, n, syms, sel, block, words, nwords, state);
}

bool hlz_rans_decode(hlz_rans_dec *d, const uint32_t *slots, uint8_t *dst, size_t n)
{
    return hlz_rans_have_avx2() ? hlz_rans_decode_avx2(d, slots, dst, n) : hlz_rans_decode_ref(d, slots, dst, n);
}

void hlz_merge16(const uint8_t *e, const uint8_t *r, uint8_t *dst, size_t n)
{
    if (hlz_rans_have_avx2()) hlz_merge16_avx2(e, r, dst, n);
    else hlz_merge16_ref(e, r, dst, n);
}

void hlz_split16(const uint8_t *src, size_t n, uint8_t *e, uint8_t *r, uint32_t (*hist)[256])
{
    if (hlz_rans_have_avx2()) hlz_split16_avx2(src, n, e, r, hist);
    else hlz_split16_ref(src, n, e, r, hist);
}
