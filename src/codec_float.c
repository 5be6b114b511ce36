/* codec_float.c - the float codec: field split and static rANS (codec_float.h).
 *
 * Each struct kind is cut into fields (a byte position and length inside
 * the struct); a field's bytes across all structs form one stream. A stream
 * is stored raw, as a constant, or rANS-coded with one static 12-bit table
 * (order 0) or with up to 16 tables picked by the byte of another field of
 * the same struct (order 1: the low byte of a float conditioned on its
 * high byte, the sign ignored). The encoder picks the cheapest mode from
 * exact integer costs of the normalized tables, so the choice is the same
 * on every machine. The rANS coder interleaves 4 states of 64 bits with
 * 32-bit renormalization: one table lookup per symbol decodes it. */
#include "codec_float.h"

#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#define PROB_BITS 12
#define PROB_TOTAL (1u << PROB_BITS)
#define RANS_L ((uint64_t)1 << 31)
#define LANES 4
#define GROUPS_MAX 16

enum { MODE_RAW = 0, MODE_CONST = 1, MODE_O0 = 2, MODE_O1 = 3 };
enum { BYTES_RAW = 0, BYTES_ZSTD = 1 };

typedef struct {
    uint16_t pos, len;
    int16_t ctx; /* struct position of the context byte (an earlier field), or -1 */
} field;

typedef struct {
    uint32_t width;
    uint32_t nfields;
    field fields[6];
} layout;

/* Fields in coding order; a context byte is always decoded before its user. */
static const layout layouts[HLZ_SEG_KIND_COUNT] = {
    [HLZ_SEG_BYTES] = {1, 0, {{0}}},
    [HLZ_SEG_W16] = {2, 2, {{1, 1, -1}, {0, 1, 1}}},
    [HLZ_SEG_W32] = {4, 4, {{3, 1, -1}, {2, 1, 3}, {1, 1, -1}, {0, 1, -1}}},
    [HLZ_SEG_Q8_0] = {34, 3, {{1, 1, -1}, {0, 1, 1}, {2, 32, -1}}},
    [HLZ_SEG_Q4_K] = {144, 6, {{1, 1, -1}, {0, 1, 1}, {3, 1, -1}, {2, 1, 3}, {4, 12, -1}, {16, 128, -1}}},
    [HLZ_SEG_Q6_K] = {210, 5, {{0, 128, -1}, {128, 64, -1}, {192, 16, -1}, {209, 1, -1}, {208, 1, 209}}},
};

uint32_t hlz_segment_width(unsigned kind) { return kind < HLZ_SEG_KIND_COUNT ? layouts[kind].width : 0; }

/* ---- byte output with bounds -------------------------------------------- */

typedef struct {
    uint8_t *p, *end;
    bool full;
} out_buf;

static void put(out_buf *o, const void *data, size_t n)
{
    if (o->full || (size_t)(o->end - o->p) < n) { o->full = true; return; }
    memcpy(o->p, data, n);
    o->p += n;
}

static void put_u8(out_buf *o, uint8_t v) { put(o, &v, 1); }

static void put_varint(out_buf *o, uint64_t v)
{
    uint8_t b[10];
    int n = 0;
    do { b[n] = (uint8_t)(v & 0x7f); v >>= 7; if (v) b[n] |= 0x80; n++; } while (v);
    put(o, b, (size_t)n);
}

static int varint_size(uint64_t v) { int n = 1; while (v >= 0x80) v >>= 7, n++; return n; }

typedef struct {
    const uint8_t *p, *end;
} in_buf;

static bool get_u8(in_buf *in, uint8_t *v)
{
    if (in->p >= in->end) return false;
    *v = *in->p++;
    return true;
}

static bool get_varint(in_buf *in, uint64_t *v)
{
    uint64_t x = 0;
    for (int i = 0; i < 10; i++) {
        uint8_t b;
        if (!get_u8(in, &b)) return false;
        if (i == 9 && b > 1) return false;
        x |= (uint64_t)(b & 0x7f) << (7 * i);
        if (!(b & 0x80)) { *v = x; return true; }
    }
    return false;
}

/* ---- tables -------------------------------------------------------------- */

/* -log2(f / 4096) in 1/65536 bit for f = 1..4096, from integers only (the
 * bit-by-bit squaring method): costs, and so mode choices, are the same on
 * every machine. */
static uint32_t cost_table[PROB_TOTAL + 1];

static uint32_t log2_fixed16(uint32_t f)
{
    int k = 31 - __builtin_clz(f);
    uint64_t m = ((uint64_t)f << 32) >> k; /* f / 2^k in 32.32, in [1, 2) */
    uint32_t frac = 0;
    for (int i = 15; i >= 0; i--) {
        m = (m * m) >> 32;
        if (m >= ((uint64_t)2 << 32)) { m >>= 1; frac |= 1u << i; }
    }
    return ((uint32_t)k << 16) | frac;
}

static void init_costs(void)
{
    static volatile int done; /* benign: every thread writes the same values */
    if (done) return;
    for (uint32_t f = 1; f <= PROB_TOTAL; f++) cost_table[f] = (PROB_BITS << 16) - log2_fixed16(f);
    done = 1;
}

/* Counts to frequencies summing to PROB_TOTAL, every present symbol >= 1. */
static void normalize(const uint32_t *count, uint64_t total, uint32_t *freq)
{
    uint32_t sum = 0;
    int best = 0;
    for (int s = 0; s < 256; s++) {
        freq[s] = count[s] ? (uint32_t)((uint64_t)count[s] * PROB_TOTAL / total) : 0;
        if (count[s] && freq[s] == 0) freq[s] = 1;
        sum += freq[s];
        if (count[s] > count[best]) best = s;
    }
    if (sum <= PROB_TOTAL) { freq[best] += PROB_TOTAL - sum; return; }
    while (sum > PROB_TOTAL) { /* rare: many rare symbols rounded up */
        int m = 0;
        for (int s = 1; s < 256; s++) if (freq[s] > freq[m]) m = s;
        freq[m]--, sum--;
    }
}

/* Bits (1/65536) to code `count` with `freq`, its table included. */
static uint64_t table_cost(const uint32_t *count, const uint32_t *freq)
{
    uint64_t bits = 0;
    for (int s = 0; s < 256; s++) {
        if (count[s]) bits += (uint64_t)count[s] * cost_table[freq[s]];
        bits += (uint64_t)varint_size(freq[s]) * 8 << 16;
    }
    return bits;
}

static void put_table(out_buf *o, const uint32_t *freq)
{
    for (int s = 0; s < 256; s++) put_varint(o, freq[s]);
}

/* Decoder slot entry: freq-1 (12 bits), slot - start (12 bits), symbol (8 bits). */
static bool read_table(in_buf *in, uint32_t *slots)
{
    uint32_t start = 0;
    for (uint32_t s = 0; s < 256; s++) {
        uint64_t f;
        if (!get_varint(in, &f) || f > PROB_TOTAL - start) return false;
        for (uint32_t k = 0; k < f; k++) slots[start + k] = (uint32_t)(f - 1) | (k << 12) | (s << 24);
        start += (uint32_t)f;
    }
    return start == PROB_TOTAL;
}

/* ---- rANS ---------------------------------------------------------------- */

typedef struct {
    uint64_t rcp;
    uint32_t bias, cmpl, shift;
    uint64_t x_max;
} enc_sym;

/* Division by multiplication (F. Giesen's rans64 reciprocals). */
static void enc_sym_init(enc_sym *e, uint32_t start, uint32_t freq)
{
    e->x_max = ((RANS_L >> PROB_BITS) << 32) * freq;
    e->cmpl = PROB_TOTAL - freq;
    if (freq < 2) {
        e->rcp = ~(uint64_t)0, e->shift = 0, e->bias = start + PROB_TOTAL - 1;
    } else {
        uint32_t shift = 0;
        while (freq > (1u << shift)) shift++;
        uint64_t x0 = freq - 1, x1 = (uint64_t)1 << (shift + 31);
        uint64_t t1 = x1 / freq;
        x0 += (x1 % freq) << 32;
        uint64_t t0 = x0 / freq;
        e->rcp = t0 + (t1 << 32), e->shift = shift - 1, e->bias = start;
    }
}

static void enc_table(const uint32_t *freq, enc_sym *syms)
{
    uint32_t start = 0;
    for (int s = 0; s < 256; s++) {
        if (freq[s]) enc_sym_init(&syms[s], start, freq[s]);
        start += freq[s];
    }
}

/* Codes sym[0..n) (symbol i with table tabs[group[i]] or tabs[0] when
 * group is NULL) into o: the byte count, 4 states, then the words. Symbol i
 * belongs to state i mod 4; the states live in locals so that the stores
 * of bytes cannot alias them. */
static void rans_encode(const uint8_t *sym, const uint8_t *group, size_t n, const enc_sym *tabs, out_buf *o)
{
    size_t cap = n + n / 2 + 64; /* 12 bits a symbol at worst, plus the states */
    uint32_t *words = malloc(cap / 4 * 4 + 4);
    if (!words) { o->full = true; return; }
    uint32_t *w = words + cap / 4;
    uint64_t x[LANES] = {RANS_L, RANS_L, RANS_L, RANS_L};
    uint64_t x0 = RANS_L, x1 = RANS_L, x2 = RANS_L, x3 = RANS_L;
#define ENC(X, I)                                                                                 \
    do {                                                                                          \
        const enc_sym *e = &tabs[(group ? (size_t)group[I] * 256 : 0) + sym[I]];                  \
        if (X >= e->x_max) *--w = (uint32_t)X, X >>= 32;                                          \
        uint64_t q = (uint64_t)(((unsigned __int128)X * e->rcp) >> 64) >> e->shift;               \
        X += e->bias + q * e->cmpl;                                                               \
    } while (0)
    size_t i = n;
    while (i % LANES) {
        i--;
        switch (i % LANES) { case 0: ENC(x0, i); break; case 1: ENC(x1, i); break; default: ENC(x2, i); break; }
    }
    /* At most 4 words a round: the capacity bound keeps w above words. */
    for (; i > 0; i -= LANES) {
        ENC(x3, i - 1);
        ENC(x2, i - 2);
        ENC(x1, i - 3);
        ENC(x0, i - 4);
    }
#undef ENC
    x[0] = x0, x[1] = x1, x[2] = x2, x[3] = x3;
    if (w < words) { free(words); o->full = true; return; } /* cannot happen: see cap */
    uint8_t head[8 * LANES];
    for (int l = 0; l < LANES; l++) hlz_put64(head + 8 * l, x[l]);
    size_t nwords = (size_t)(words + cap / 4 - w);
    put_varint(o, sizeof head + 4 * nwords);
    put(o, head, sizeof head);
    if (!o->full) {
        if ((size_t)(o->end - o->p) < 4 * nwords) o->full = true;
        else for (size_t k = 0; k < nwords; k++, o->p += 4) hlz_put32(o->p, w[k]);
    }
    free(words);
}

/* Decodes n symbols into dst[i * stride] for i < n; with ctx, symbol i uses
 * the table map[ctx[i * stride]], else tables[0]. */
static bool rans_decode(in_buf *in, uint8_t *dst, size_t stride, size_t n, const uint32_t *tables,
                        const uint8_t *ctx, const uint8_t *map)
{
    uint64_t size;
    if (!get_varint(in, &size) || size > (uint64_t)(in->end - in->p) || size < 8 * LANES ||
        (size - 8 * LANES) % 4 != 0)
        return false;
    const uint8_t *p = in->p + 8 * LANES, *end = in->p + size;
    uint64_t x0 = hlz_le64(in->p), x1 = hlz_le64(in->p + 8), x2 = hlz_le64(in->p + 16), x3 = hlz_le64(in->p + 24);
    /* The bounds check of a renormalization is done for 4 symbols at once:
     * a round reads at most 16 bytes. */
#define DEC(X, I)                                                                                 \
    do {                                                                                          \
        const uint32_t *t = ctx ? tables + ((size_t)map[ctx[(I) * stride]] << PROB_BITS) : tables; \
        uint32_t e = t[X & (PROB_TOTAL - 1)];                                                     \
        dst[(I) * stride] = (uint8_t)(e >> 24);                                                   \
        X = ((e & 0xfff) + 1) * (X >> PROB_BITS) + ((e >> 12) & 0xfff);                           \
        if (X < RANS_L) X = (X << 32) | hlz_le32(p), p += 4;                                      \
    } while (0)
    size_t i = 0;
    for (; i + LANES <= n && end - p >= 16; i += LANES) {
        DEC(x0, i);
        DEC(x1, i + 1);
        DEC(x2, i + 2);
        DEC(x3, i + 3);
    }
#undef DEC
    uint64_t x[LANES] = {x0, x1, x2, x3};
    for (; i < n; i++) { /* the last rounds, checking every word */
        const uint32_t *t = ctx ? tables + ((size_t)map[ctx[i * stride]] << PROB_BITS) : tables;
        uint64_t *s = &x[i & (LANES - 1)];
        uint32_t e = t[*s & (PROB_TOTAL - 1)];
        dst[i * stride] = (uint8_t)(e >> 24);
        *s = ((e & 0xfff) + 1) * (*s >> PROB_BITS) + ((e >> 12) & 0xfff);
        if (*s < RANS_L) {
            if (end - p < 4) return false;
            *s = (*s << 32) | hlz_le32(p);
            p += 4;
        }
    }
    for (int l = 0; l < LANES; l++) if (x[l] != RANS_L) return false;
    if (p != end) return false;
    in->p = end;
    return true;
}

/* ---- streams --------------------------------------------------------------- */

/* Gathers field f of n structs into plane[j * len + k]. */
static void gather(const uint8_t *src, uint32_t width, const field *f, size_t n, uint8_t *plane)
{
    if (f->len == 1) {
        const uint8_t *s = src + f->pos;
        for (size_t i = 0; i < n; i++) plane[i] = s[i * width];
    } else {
        for (size_t i = 0; i < n; i++) memcpy(plane + i * f->len, src + i * width + f->pos, f->len);
    }
}

typedef struct {
    uint32_t joint[128][256]; /* [context byte & 0x7f][symbol]; o1 only */
    uint32_t count[256];
    uint32_t freq[GROUPS_MAX][256];
    uint8_t map[256];
    int groups;
    enc_sym syms[GROUPS_MAX * 256];
} stream_state;

/* Order-1 grouping with g tables: the g-1 most frequent contexts (sign
 * ignored) get their own, the rest share the last. Returns its cost. */
static uint64_t plan_groups(stream_state *st, int g, uint64_t total_ctx[128])
{
    uint8_t rank[128];
    bool taken[128] = {false};
    for (int k = 0; k < g - 1; k++) {
        int best = -1;
        for (int c = 0; c < 128; c++)
            if (!taken[c] && (best < 0 || total_ctx[c] > total_ctx[best])) best = c;
        taken[best] = true;
        rank[k] = (uint8_t)best;
    }
    for (int c = 0; c < 256; c++) st->map[c] = (uint8_t)(g - 1);
    for (int k = 0; k < g - 1; k++) st->map[rank[k]] = st->map[rank[k] | 0x80] = (uint8_t)k;
    uint64_t bits = 0;
    for (int k = 0; k < g; k++) {
        uint32_t cnt[256] = {0};
        uint64_t tot = 0;
        for (int c = 0; c < 128; c++) {
            if (st->map[c] != k) continue;
            for (int s = 0; s < 256; s++) cnt[s] += st->joint[c][s];
            tot += total_ctx[c];
        }
        if (tot == 0) { memset(st->freq[k], 0, sizeof st->freq[k]); st->freq[k][0] = PROB_TOTAL; }
        else normalize(cnt, tot, st->freq[k]);
        bits += table_cost(cnt, st->freq[k]);
    }
    st->groups = g;
    return bits;
}

static void encode_stream(stream_state *st, const uint8_t *plane, size_t m, const uint8_t *ctx_plane,
                          uint8_t *group_scratch, out_buf *o)
{
    memset(st->count, 0, sizeof st->count);
    for (size_t i = 0; i < m; i++) st->count[plane[i]]++;
    int distinct = 0;
    for (int s = 0; s < 256; s++) distinct += st->count[s] != 0;
    if (distinct <= 1) { put_u8(o, MODE_CONST); put_u8(o, m ? plane[0] : 0); return; }
    uint32_t freq0[256];
    normalize(st->count, m, freq0);
    uint64_t raw_bits = (uint64_t)m * 8 << 16, o0_bits = table_cost(st->count, freq0), o1_bits = UINT64_MAX;
    int best_g = 0;
    if (ctx_plane) {
        memset(st->joint, 0, sizeof st->joint);
        uint64_t total_ctx[128] = {0};
        for (size_t i = 0; i < m; i++) st->joint[ctx_plane[i] & 0x7f][plane[i]]++;
        for (int c = 0; c < 128; c++)
            for (int s = 0; s < 256; s++) total_ctx[c] += st->joint[c][s];
        static const int tries[] = {2, 4, 8, 16};
        for (int k = 0; k < 4; k++) {
            uint64_t b = plan_groups(st, tries[k], total_ctx) + (256 << 19);
            if (b < o1_bits) o1_bits = b, best_g = tries[k];
        }
        if (o1_bits < o0_bits) plan_groups(st, best_g, total_ctx);
    }
    if (raw_bits <= o0_bits && raw_bits <= o1_bits) {
        put_u8(o, MODE_RAW);
        put(o, plane, m);
    } else if (o0_bits <= o1_bits) {
        put_u8(o, MODE_O0);
        put_table(o, freq0);
        enc_table(freq0, st->syms);
        rans_encode(plane, NULL, m, st->syms, o);
    } else {
        put_u8(o, MODE_O1);
        put_u8(o, (uint8_t)st->groups);
        put(o, st->map, 256);
        for (int k = 0; k < st->groups; k++) {
            put_table(o, st->freq[k]);
            enc_table(st->freq[k], st->syms + 256 * k);
        }
        for (size_t i = 0; i < m; i++) group_scratch[i] = st->map[ctx_plane[i]];
        rans_encode(plane, group_scratch, m, st->syms, o);
    }
}

static bool decode_stream(in_buf *in, uint8_t *dst, uint32_t width, const field *f, size_t n, uint32_t *tables)
{
    uint8_t mode;
    if (!get_u8(in, &mode)) return false;
    size_t m = n * f->len;
    uint8_t *base = dst + f->pos;
    if (mode == MODE_CONST) {
        uint8_t v;
        if (!get_u8(in, &v)) return false;
        for (size_t i = 0; i < n; i++) memset(base + i * width, v, f->len);
        return true;
    }
    if (mode == MODE_RAW) {
        if ((size_t)(in->end - in->p) < m) return false;
        if (f->len == 1) for (size_t i = 0; i < n; i++) base[i * width] = in->p[i];
        else for (size_t i = 0; i < n; i++) memcpy(base + i * width, in->p + i * f->len, f->len);
        in->p += m;
        return true;
    }
    if (mode == MODE_O0) {
        if (!read_table(in, tables)) return false;
        if (f->len == 1) return rans_decode(in, base, width, n, tables, NULL, NULL);
        uint8_t *plane = malloc(m ? m : 1);
        if (!plane) return false;
        bool ok = rans_decode(in, plane, 1, m, tables, NULL, NULL);
        if (ok) for (size_t i = 0; i < n; i++) memcpy(base + i * width, plane + i * f->len, f->len);
        free(plane);
        return ok;
    }
    if (mode != MODE_O1 || f->ctx < 0 || f->len != 1) return false;
    uint8_t g, map[256];
    if (!get_u8(in, &g) || g < 2 || g > GROUPS_MAX || (size_t)(in->end - in->p) < 256) return false;
    memcpy(map, in->p, 256);
    in->p += 256;
    for (int c = 0; c < 256; c++) if (map[c] >= g) return false;
    for (int k = 0; k < g; k++) if (!read_table(in, tables + ((size_t)k << PROB_BITS))) return false;
    return rans_decode(in, base, width, n, tables, dst + f->ctx, map);
}

/* ---- segments -------------------------------------------------------------- */

static hlz_status encode_structs(unsigned kind, const uint8_t *src, size_t n, out_buf *o, hlz_error *error)
{
    const layout *lay = &layouts[kind];
    size_t biggest = 0;
    for (uint32_t k = 0; k < lay->nfields; k++) if (lay->fields[k].len > biggest) biggest = lay->fields[k].len;
    uint8_t *plane = malloc(n * biggest + 1), *ctx = malloc(n + 1), *grp = malloc(n + 1);
    stream_state *st = malloc(sizeof *st);
    hlz_status status = HLZ_OK;
    if (!plane || !ctx || !grp || !st) { status = hlz_fail(error, HLZ_ERR_NOMEM, "float: out of memory"); goto done; }
    for (uint32_t k = 0; k < lay->nfields && !o->full; k++) {
        const field *f = &lay->fields[k];
        gather(src, lay->width, f, n, plane);
        if (f->ctx >= 0) {
            field cf = {(uint16_t)f->ctx, 1, -1};
            gather(src, lay->width, &cf, n, ctx);
        }
        encode_stream(st, plane, n * f->len, f->ctx >= 0 ? ctx : NULL, grp, o);
    }
done:
    free(plane), free(ctx), free(grp), free(st);
    return status;
}

hlz_status hlz_float_encode(const hlz_segment *segs, size_t nseg, int level, const uint8_t *src,
                            size_t size, uint8_t *dst, size_t dst_capacity, size_t *coded_size,
                            hlz_error *error)
{
    init_costs();
    out_buf o = {dst, dst + dst_capacity, false};
    *coded_size = 0;
    put_varint(&o, nseg);
    size_t at = 0;
    for (size_t i = 0; i < nseg && !o.full; i++) {
        uint32_t w = hlz_segment_width(segs[i].kind);
        if (w == 0 || segs[i].size % w != 0 || segs[i].size > size - at)
            return hlz_fail(error, HLZ_ERR_PARAM, "float: bad segment %zu", i);
        put_u8(&o, segs[i].kind);
        put_varint(&o, segs[i].size);
        const uint8_t *p = src + at;
        size_t n = (size_t)segs[i].size;
        at += n;
        if (segs[i].kind != HLZ_SEG_BYTES) {
            hlz_status st = encode_structs(segs[i].kind, p, n / w, &o, error);
            if (st != HLZ_OK) return st;
            continue;
        }
        size_t bound = ZSTD_compressBound(n), z = 0;
        uint8_t *tmp = n >= 64 ? malloc(bound) : NULL;
        if (tmp) z = ZSTD_compress(tmp, bound, p, n, hlz_zstd_level(level));
        if (tmp && !ZSTD_isError(z) && z + 4 < n) {
            put_u8(&o, BYTES_ZSTD);
            put_varint(&o, z);
            put(&o, tmp, z);
        } else {
            put_u8(&o, BYTES_RAW);
            put(&o, p, n);
        }
        free(tmp);
    }
    if (at != size && !o.full) return hlz_fail(error, HLZ_ERR_PARAM, "float: segments do not cover the chunk");
    if (o.full) return hlz_fail(error, HLZ_ERR_CODEC, "float output larger than its input");
    *coded_size = (size_t)(o.p - dst);
    return HLZ_OK;
}

hlz_status hlz_float_decode(const uint8_t *src, size_t coded_size, uint8_t *dst, size_t raw_size,
                            hlz_error *error)
{
    in_buf in = {src, src + coded_size};
    uint64_t nseg;
    if (!get_varint(&in, &nseg) || nseg > raw_size)
        return hlz_fail(error, HLZ_ERR_CORRUPT, "corrupt float data (segment count)");
    uint32_t *tables = NULL;
    size_t at = 0;
    for (uint64_t i = 0; i < nseg; i++) {
        uint8_t kind, mode;
        uint64_t n;
        if (!get_u8(&in, &kind) || kind >= HLZ_SEG_KIND_COUNT || !get_varint(&in, &n) || n > raw_size - at ||
            n % layouts[kind].width != 0)
            goto corrupt;
        if (kind == HLZ_SEG_BYTES) {
            if (!get_u8(&in, &mode)) goto corrupt;
            if (mode == BYTES_RAW) {
                if ((uint64_t)(in.end - in.p) < n) goto corrupt;
                memcpy(dst + at, in.p, (size_t)n);
                in.p += n;
            } else if (mode == BYTES_ZSTD) {
                uint64_t z;
                if (!get_varint(&in, &z) || z > (uint64_t)(in.end - in.p)) goto corrupt;
                size_t got = ZSTD_decompress(dst + at, (size_t)n, in.p, (size_t)z);
                if (ZSTD_isError(got) || got != n) goto corrupt;
                in.p += z;
            } else goto corrupt;
        } else {
            if (!tables && !(tables = malloc(sizeof *tables * GROUPS_MAX * PROB_TOTAL))) {
                free(tables);
                return hlz_fail(error, HLZ_ERR_NOMEM, "float: out of memory");
            }
            const layout *lay = &layouts[kind];
            for (uint32_t k = 0; k < lay->nfields; k++)
                if (!decode_stream(&in, dst + at, lay->width, &lay->fields[k], (size_t)n / lay->width, tables))
                    goto corrupt;
        }
        at += (size_t)n;
    }
    free(tables);
    if (at != raw_size || in.p != in.end)
        return hlz_fail(error, HLZ_ERR_CORRUPT, "corrupt float data (%zu of %zu bytes)", at, raw_size);
    return HLZ_OK;
corrupt:
    free(tables);
    return hlz_fail(error, HLZ_ERR_CORRUPT, "corrupt float data (segment at byte %zu)", at);
}

uint64_t hlz_float_estimate(unsigned kind, const uint8_t *src, size_t n)
{
    init_costs();
    const layout *lay = &layouts[kind];
    uint64_t bits = 0;
    for (uint32_t k = 0; k < lay->nfields; k++) {
        const field *f = &lay->fields[k];
        uint32_t count[256] = {0}, freq[256];
        for (size_t i = 0; i < n; i++)
            for (uint32_t b = 0; b < f->len; b++) count[src[i * lay->width + f->pos + b]]++;
        if (n == 0) continue;
        normalize(count, (uint64_t)n * f->len, freq);
        uint64_t c = table_cost(count, freq) >> 16, raw = (uint64_t)n * f->len * 8;
        bits += c < raw ? c : raw;
    }
    return bits;
}
