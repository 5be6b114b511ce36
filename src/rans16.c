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
void hlz_count_blocks(const uint8_t *e, size_t n, uint32_t (*hist)[256]) { hlz_count_blocks_of(e, n, HLZ_COUNT_BLOCK, hist); }

void hlz_count_blocks_of(const uint8_t *e, size_t n, size_t block, uint32_t (*hist)[256])
{
    size_t b = 0;
    /* Four whole blocks at a time, one stream each: the increments of one
     * count wait on each other only every fourth step. */
    for (; (b + 4) * block <= n; b += 4) {
        const uint8_t *p = e + b * block;
        uint32_t *h0 = hist[b], *h1 = hist[b + 1], *h2 = hist[b + 2], *h3 = hist[b + 3];
        for (size_t i = 0; i < block; i++) h0[p[i]]++, h1[p[i + block]]++, h2[p[i + 2 * block]]++, h3[p[i + 3 * block]]++;
    }
    for (; b * block < n; b++) {
        uint32_t h[4][256];
        memset(h, 0, sizeof h);
        const uint8_t *p = e + b * block;
        size_t m = n - b * block < block ? n - b * block : block, i = 0;
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

static inline uint8_t j_sym(unsigned h, unsigned base)
{
    unsigned t = h - base; /* wraps for h < base */
    return h == 0 ? 0 : t < 254 ? (uint8_t)(t + 1) : HLZ_J_ESCAPE;
}

void hlz_split16j_ref(const uint8_t *src, size_t n, unsigned base, uint8_t *s, uint8_t *low)
{
    size_t g = 0;
    for (; g + 64 <= n; g += 64, low += 48) {
        uint8_t l[64];
        for (int j = 0; j < 64; j++) {
            unsigned v = le16(src + 2 * (g + (size_t)j));
            s[g + (size_t)j] = j_sym((v >> 5) & 1023, base);
            l[j] = (uint8_t)(((v >> 10) & 32) | (v & 31));
        }
        for (int j = 0; j < 48; j++) low[j] = (uint8_t)(l[j] | ((l[48 + j % 16] >> (2 * (j / 16))) & 3) << 6);
    }
    for (; g < n; g++) {
        unsigned v = le16(src + 2 * g);
        s[g] = j_sym((v >> 5) & 1023, base);
        *low++ = (uint8_t)(((v >> 10) & 32) | (v & 31));
    }
}

static inline void j_put(uint8_t *dst, unsigned s, unsigned l, unsigned base)
{
    unsigned h = (s ? base - 1 + s : 0) & 1023, v = (l & 32) << 10 | h << 5 | (l & 31);
    dst[0] = (uint8_t)v, dst[1] = (uint8_t)(v >> 8);
}

void hlz_merge16j_ref(const uint8_t *s, const uint8_t *low, unsigned base, uint8_t *dst, size_t n)
{
    size_t g = 0;
    for (; g + 64 <= n; g += 64, low += 48) {
        for (int j = 0; j < 48; j++) j_put(dst + 2 * (g + (size_t)j), s[g + (size_t)j], low[j] & 63, base);
        for (int k = 0; k < 16; k++) {
            unsigned l = (unsigned)(low[k] >> 6 | (low[16 + k] >> 6) << 2 | (low[32 + k] >> 6) << 4);
            j_put(dst + 2 * (g + 48 + (size_t)k), s[g + 48 + (size_t)k], l, base);
        }
    }
    for (; g < n; g++) j_put(dst + 2 * g, s[g], *low++, base);
}

void hlz_block_costs_ref(const uint32_t *hist, const uint8_t *present, int npresent, const uint16_t (*cost)[HLZ_PLAN_TABLES],
                         uint32_t *out)
{
    for (int c = 0; c < HLZ_PLAN_TABLES; c++) out[c] = 0;
    for (int j = 0; j < npresent; j++)
        for (int c = 0; c < HLZ_PLAN_TABLES; c++) out[c] += hist[present[j]] * cost[present[j]][c];
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
void hlz_split16j_avx2(const uint8_t *src, size_t n, unsigned base, uint8_t *s, uint8_t *low)
{
    hlz_split16j_ref(src, n, base, s, low);
}
void hlz_block_costs_avx2(const uint32_t *hist, const uint8_t *present, int npresent, const uint16_t (*cost)[HLZ_PLAN_TABLES],
                          uint32_t *out)
{
    hlz_block_costs_ref(hist, present, npresent, cost, out);
}
void hlz_merge16j_avx2(const uint8_t *s, const uint8_t *low, unsigned base, uint8_t *dst, size_t n)
{
    hlz_merge16j_ref(s, low, base, dst, n);
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

void hlz_split16j(const uint8_t *src, size_t n, unsigned base, uint8_t *s, uint8_t *low)
{
    if (hlz_rans_have_avx2()) hlz_split16j_avx2(src, n, base, s, low);
    else hlz_split16j_ref(src, n, base, s, low);
}

void hlz_merge16j(const uint8_t *s, const uint8_t *low, unsigned base, uint8_t *dst, size_t n)
{
    if (hlz_rans_have_avx2()) hlz_merge16j_avx2(s, low, base, dst, n);
    else hlz_merge16j_ref(s, low, base, dst, n);
}

void hlz_block_costs(const uint32_t *hist, const uint8_t *present, int npresent, const uint16_t (*cost)[HLZ_PLAN_TABLES],
                     uint32_t *out)
{
    if (hlz_rans_have_avx2()) hlz_block_costs_avx2(hist, present, npresent, cost, out);
    else hlz_block_costs_ref(hist, present, npresent, cost, out);
}
