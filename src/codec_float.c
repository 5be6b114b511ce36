/* codec_float.c - the float codec: plane split and static rANS (codec_float.h).
 *
 * Each struct kind is cut into planes. Floats are cut by bits: a bf16 value
 * becomes its 8 exponent bits (e) and its sign with 7 mantissa bits (r), an
 * fp32 one e and three sign/mantissa bytes; the exponents carry the
 * redundancy, the rest is close to random. Quantized blocks are cut into
 * byte fields (scales apart from quantized values). A plane is stored raw,
 * as a constant, or rANS-coded (rans16.h) with 1..16 static tables, each
 * run of B symbols picking one: weights of different tensors (and of
 * different parts of one) have different exponent distributions, and a few
 * shared tables capture that for a few bytes. The encoder finds the tables
 * by k-means over per-block histograms and picks the mode from exact
 * integer costs, so its choices are the same on every machine; a coded
 * plane must save 1/64 of its raw size, because a raw plane decodes at
 * memory speed. bf16 has a second layout (kind 6, "joint"): the exponent
 * and the top 2 mantissa bits are one symbol, because within a binade the
 * weights' density falls and those bits follow the exponent; the sign and
 * the low 5 mantissa bits are packed raw. The encoder estimates both
 * layouts per segment and writes the smaller. */
#include "codec_float.h"

#include "rans16.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#define PROB_BITS HLZ_RANS_PROB_BITS
#define PROB_TOTAL HLZ_RANS_TOTAL
#define TABLES_MAX 16
#define KMEANS_ROUNDS 2 /* more rounds measured no gain on stories260K or the default model */
#define BLOCK HLZ_COUNT_BLOCK /* the encoder's table-switching block, in symbols */
/* Kind 6 (the joint bf16 symbol, about 84 values where an exponent takes 25)
 * is planned in two steps, one k-means round each: tables on COARSE_BLOCK
 * blocks, then every JOINT_BLOCK block moved to its cheapest table. Finer
 * switching gained 0.3% on stories260K; two rounds each gained 0.02% for a
 * tenth more compression time (bench/results/2026-12-02-float-ideas.txt). */
#define JOINT_BLOCK 1024
#define COARSE_BLOCK 4096
#define COARSE_ROUNDS 1
#define FINE_ROUNDS 1

/* Opaque segments over 64 KiB (a GGUF's metadata: the default model's first
 * chunk holds 263 KB of tokenizer) take zstd level 12 at most. At -19 that
 * one segment took longer than all the tensor chunks together, so extra
 * threads could not help, for metadata 4.5% smaller (0.02% of the file). */
#define BYTES_BIG 65536
#define BYTES_BIG_LEVEL 12

enum { MODE_RAW = 0, MODE_CONST = 1, MODE_RANS = 2 };
enum { BYTES_RAW = 0, BYTES_ZSTD = 1 };

typedef struct {
    uint16_t pos, len;
} field;

typedef struct {
    uint32_t width;
    uint32_t nfields; /* planes; for W16 and W32 bit planes, not byte fields */
    field fields[6];
} layout;

/* Byte fields of the quantized kinds in coding order (W16 and W32: their
 * planes have length 1, see split_values). */
static const layout layouts[HLZ_SEG_KIND_COUNT] = {
    [HLZ_SEG_BYTES] = {1, 0, {{0, 0}}},
    [HLZ_SEG_W16] = {2, 2, {{0, 1}, {1, 1}}},
    [HLZ_SEG_W32] = {4, 4, {{0, 1}, {1, 1}, {2, 1}, {3, 1}}},
    [HLZ_SEG_Q8_0] = {34, 3, {{1, 1}, {0, 1}, {2, 32}}},
    [HLZ_SEG_Q4_K] = {144, 6, {{1, 1}, {0, 1}, {3, 1}, {2, 1}, {4, 12}, {16, 128}}},
    [HLZ_SEG_Q6_K] = {210, 5, {{0, 128}, {128, 64}, {192, 16}, {209, 1}, {208, 1}}},
    [HLZ_SEG_W16J] = {2, 2, {{0, 1}, {1, 1}}},
};

uint32_t hlz_segment_width(unsigned kind) { return kind < HLZ_SEG_KIND_COUNT ? layouts[kind].width : 0; }

static bool bit_planes(unsigned kind) { return kind == HLZ_SEG_W16 || kind == HLZ_SEG_W32 || kind == HLZ_SEG_W16J; }

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

/* ---- scratch memory ------------------------------------------------------ */

/* Each thread keeps its encoder's and its decoder's working memory (about
 * twice a chunk) from one chunk to the next: freed and allocated again for
 * every chunk, glibc hands such blocks back to the system and the page
 * faults of getting them again cost about a tenth of the coding time. The
 * memory goes with the thread (a key destructor). */
typedef struct {
    void *p[2];
    size_t cap[2];
} scratch_set;

static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static bool scratch_ok;

static void scratch_free(void *v)
{
    scratch_set *s = v;
    free(s->p[0]), free(s->p[1]), free(s);
}

static void scratch_init(void) { scratch_ok = pthread_key_create(&scratch_key, scratch_free) == 0; }

/* At least n bytes for user `which` (0 encoder, 1 decoder) of this thread, or NULL. */
static void *scratch(int which, size_t n)
{
    pthread_once(&scratch_once, scratch_init);
    if (!scratch_ok) return NULL;
    scratch_set *s = pthread_getspecific(scratch_key);
    if (!s) {
        if (!(s = calloc(1, sizeof *s))) return NULL;
        if (pthread_setspecific(scratch_key, s) != 0) { free(s); return NULL; }
    }
    if (s->cap[which] < n) {
        free(s->p[which]);
        s->cap[which] = 0;
        if (!(s->p[which] = malloc(n))) return NULL;
        s->cap[which] = n;
    }
    return s->p[which];
}

/* Carves n bytes, 64-aligned, off *at. */
static void *carve(uint8_t **at, size_t n)
{
    void *p = *at;
    *at += (n + 63) / 64 * 64;
    return p;
}

/* ---- planes -------------------------------------------------------------- */

/* fp32 v = s|e8|m23 as planes e = exponent, (s << 7) | m[22:16], m[15:8], m[7:0]. */
static void split32(const uint8_t *src, size_t n, uint8_t *const *pl)
{
    for (size_t i = 0; i < n; i++) {
        const uint8_t *s = src + 4 * i;
        pl[0][i] = (uint8_t)((s[3] << 1) | (s[2] >> 7));
        pl[1][i] = (uint8_t)((s[3] & 0x80) | (s[2] & 0x7f));
        pl[2][i] = s[1];
        pl[3][i] = s[0];
    }
}

static void merge32(const uint8_t *const *pl, size_t n, uint8_t *dst)
{
    const uint8_t *e = pl[0], *r = pl[1], *b1 = pl[2], *b0 = pl[3];
    for (size_t i = 0; i < n; i++) {
        uint8_t *d = dst + 4 * i;
        d[0] = b0[i], d[1] = b1[i];
        d[2] = (uint8_t)((e[i] << 7) | (r[i] & 0x7f));
        d[3] = (uint8_t)((r[i] & 0x80) | (e[i] >> 1));
    }
}

/* Field f of n structs into plane[j * len + k], and back. */
/* Copies of a constant length become a few moves, not a call per struct. */
#define COPY_FIELDS(DST, DSTEP, SRC, SSTEP, LEN)                                                  \
    switch (LEN) {                                                                                \
    case 1: for (size_t i = 0; i < n; i++) (DST)[i * (DSTEP)] = (SRC)[i * (SSTEP)]; break;        \
    case 12: for (size_t i = 0; i < n; i++) memcpy((DST) + i * (DSTEP), (SRC) + i * (SSTEP), 12); break;  \
    case 16: for (size_t i = 0; i < n; i++) memcpy((DST) + i * (DSTEP), (SRC) + i * (SSTEP), 16); break;  \
    case 32: for (size_t i = 0; i < n; i++) memcpy((DST) + i * (DSTEP), (SRC) + i * (SSTEP), 32); break;  \
    case 64: for (size_t i = 0; i < n; i++) memcpy((DST) + i * (DSTEP), (SRC) + i * (SSTEP), 64); break;  \
    case 128: for (size_t i = 0; i < n; i++) memcpy((DST) + i * (DSTEP), (SRC) + i * (SSTEP), 128); break; \
    default: for (size_t i = 0; i < n; i++) memcpy((DST) + i * (DSTEP), (SRC) + i * (SSTEP), LEN); break; \
    }

static void gather(const uint8_t *src, uint32_t width, const field *f, size_t n, uint8_t *plane)
{
    const uint8_t *s = src + f->pos;
    size_t len = f->len;
    COPY_FIELDS(plane, len, s, width, len)
}

static void scatter(const uint8_t *plane, uint32_t width, const field *f, size_t n, uint8_t *dst)
{
    uint8_t *d = dst + f->pos;
    size_t len = f->len;
    COPY_FIELDS(d, width, plane, len, len)
}

/* ---- tables -------------------------------------------------------------- */

/* -log2(f / 4096) in 1/65536 bit for f = 1..4096, from integers only (the
 * bit-by-bit squaring method): costs, and so mode choices, are the same on
 * every machine. */
static uint32_t cost_table[PROB_TOTAL + 1];

static uint32_t log2_fixed16(uint32_t f)
{
    int k = 31 - __builtin_clz(f);
    uint64_t m = ((uint64_t)f << 31) >> k; /* f / 2^k in 1.31 fixed point, in [1, 2): m * m fits */
    uint32_t frac = 0;
    for (int i = 15; i >= 0; i--) {
        m = (m * m) >> 31;
        if (m >= ((uint64_t)2 << 31)) { m >>= 1; frac |= 1u << i; }
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

/* Counts to frequencies summing to PROB_TOTAL, every present symbol >= 1:
 * each rounded to nearest, then the difference spread one unit at a time
 * over the most frequent symbols (where a unit costs least). Putting it all
 * on one symbol, as a first version did, costs several percent on flat
 * distributions such as Q8_0's quantized values. */
static void normalize(const uint32_t *count, uint64_t total, uint32_t *freq)
{
    int64_t sum = 0;
    uint8_t order[256];
    int n = 0;
    for (int s = 0; s < 256; s++) {
        freq[s] = 0;
        if (!count[s]) continue;
        uint64_t f = ((uint64_t)count[s] * PROB_TOTAL * 2 + total) / (2 * total);
        freq[s] = f ? (uint32_t)f : 1;
        sum += freq[s];
        order[n++] = (uint8_t)s;
    }
    if (sum == PROB_TOTAL) return;
    /* A difference of at most 32 (the usual case): the first |difference|
     * symbols of that order (for a decrease: of those above 1) kept in a
     * short sorted list while scanning, instead of sorting all. */
    int need = (int)(sum > PROB_TOTAL ? sum - PROB_TOTAL : PROB_TOTAL - sum);
    if (need <= 32) {
        uint8_t top[32];
        int kept = 0;
        for (int i = 0; i < n; i++) {
            int v = order[i]; /* ascending symbols: a tie keeps the earlier one first */
            if (sum > PROB_TOTAL && freq[v] == 1) continue;
            if (kept == need && count[top[kept - 1]] >= count[v]) continue;
            int j = kept < need ? kept++ : need - 1;
            while (j > 0 && count[top[j - 1]] < count[v]) top[j] = top[j - 1], j--;
            top[j] = (uint8_t)v;
        }
        if (kept == need) {
            for (int i = 0; i < need; i++) freq[top[i]] = sum > PROB_TOTAL ? freq[top[i]] - 1 : freq[top[i]] + 1;
            return;
        }
    }
    /* Most frequent first, ties by symbol: insertion sort (n <= 256, rare). */
    for (int i = 1; i < n; i++) {
        uint8_t v = order[i];
        int j = i;
        while (j > 0 && (count[order[j - 1]] < count[v] || (count[order[j - 1]] == count[v] && order[j - 1] > v)))
            order[j] = order[j - 1], j--;
        order[j] = v;
    }
    while (sum < PROB_TOTAL)
        for (int i = 0; i < n && sum < PROB_TOTAL; i++) freq[order[i]]++, sum++;
    while (sum > PROB_TOTAL) {
        bool changed = false;
        for (int i = 0; i < n && sum > PROB_TOTAL; i++)
            if (freq[order[i]] > 1) freq[order[i]]--, sum--, changed = true;
        if (!changed) break; /* cannot happen: n <= 256 < PROB_TOTAL */
    }
}

/* A table: varint c (present symbols, 1..256), then c pairs varint gap
 * (symbol minus the previous symbol minus 1; the first from -1), varint f.
 * A compact table (kind 6's joint symbols: runs of neighbours with similar
 * frequencies): varint r (runs, 1..128), then per run varint gap (from the
 * previous run's end, the first from -1), varint len (>= 1), and len
 * zigzag varints of f minus the previous f (the first from 0). */
static uint64_t zigzag(int64_t d) { return d < 0 ? ((uint64_t)(-d) << 1) - 1 : (uint64_t)d << 1; }

static void put_table(out_buf *o, const uint32_t *freq, bool compact)
{
    int c = 0, prev = -1;
    if (compact) {
        int runs = 0;
        for (int s = 0; s < 256; s++) runs += freq[s] && (s == 0 || !freq[s - 1]);
        put_varint(o, (uint64_t)runs);
        int64_t last = 0;
        for (int s = 0; s < 256; s++) {
            if (!freq[s] || (s > 0 && freq[s - 1])) continue;
            int len = 0;
            while (s + len < 256 && freq[s + len]) len++;
            put_varint(o, (uint64_t)(s - prev - 1));
            put_varint(o, (uint64_t)len);
            for (int k = 0; k < len; k++) put_varint(o, zigzag((int64_t)freq[s + k] - last)), last = freq[s + k];
            prev = s + len - 1;
        }
        return;
    }
    for (int s = 0; s < 256; s++) c += freq[s] != 0;
    put_varint(o, (uint64_t)c);
    for (int s = 0; s < 256; s++) {
        if (!freq[s]) continue;
        put_varint(o, (uint64_t)(s - prev - 1));
        put_varint(o, freq[s]);
        prev = s;
    }
}

/* Bytes of put_table's output, in 1/65536 bit. */
static uint64_t table_bits(const uint32_t *freq, bool compact)
{
    uint64_t bytes = 0;
    int prev = -1, c = 0, runs = 0;
    int64_t last = 0;
    for (int s = 0; s < 256; s++) {
        if (!freq[s]) continue;
        if (compact) {
            if (s == 0 || !freq[s - 1]) {
                int len = 0;
                while (s + len < 256 && freq[s + len]) len++;
                bytes += (uint64_t)varint_size((uint64_t)(s - prev - 1)) + (uint64_t)varint_size((uint64_t)len);
                runs++;
            }
            bytes += (uint64_t)varint_size(zigzag((int64_t)freq[s] - last));
            last = freq[s];
        } else bytes += (uint64_t)varint_size((uint64_t)(s - prev - 1)) + (uint64_t)varint_size(freq[s]);
        prev = s, c++;
    }
    return (bytes + (uint64_t)varint_size((uint64_t)(compact ? runs : c))) * 8 << 16;
}

static bool read_table(in_buf *in, uint32_t *freq, bool compact)
{
    uint64_t c, gap, f, sum = 0;
    memset(freq, 0, 256 * sizeof *freq);
    if (compact) {
        uint64_t runs, len, z;
        int s = -1;
        int64_t last = 0;
        if (!get_varint(in, &runs) || runs < 1 || runs > 128) return false;
        for (uint64_t r = 0; r < runs; r++) {
            if (!get_varint(in, &gap) || !get_varint(in, &len) || len < 1 || gap + len > (uint64_t)(255 - s) ||
                (r > 0 && gap == 0))
                return false;
            s += (int)gap;
            for (uint64_t k = 0; k < len; k++) {
                if (!get_varint(in, &z) || z > 2 * PROB_TOTAL) return false; /* no overflow below */
                last += (z & 1) ? -(int64_t)((z + 1) >> 1) : (int64_t)(z >> 1);
                if (last < 1 || last > PROB_TOTAL) return false;
                freq[++s] = (uint32_t)last;
                sum += (uint64_t)last;
            }
        }
        return sum == PROB_TOTAL;
    }
    if (!get_varint(in, &c) || c < 1 || c > 256) return false;
    int s = -1;
    for (uint64_t k = 0; k < c; k++) {
        if (s >= 255 || !get_varint(in, &gap) || gap > (uint64_t)(254 - s) || !get_varint(in, &f) || f < 1 || f > PROB_TOTAL)
            return false;
        s += (int)gap + 1;
        freq[s] = (uint32_t)f;
        sum += f;
    }
    return sum == PROB_TOTAL;
}

/* Order-0 bits (1/65536) of counts totalling m, the table included. */
static uint64_t order0_bits(const uint32_t *count, uint64_t m)
{
    uint32_t freq[256];
    normalize(count, m, freq);
    uint64_t bits = table_bits(freq, false);
    for (int s = 0; s < 256; s++) bits += (uint64_t)count[s] * cost_table[freq[s]];
    return bits;
}

/* order0_bits in two parts: returns the data's, *table the table's. */
static uint64_t order0_split(const uint32_t *count, uint64_t m, uint64_t *table)
{
    uint32_t freq[256];
    normalize(count, m, freq);
    *table = table_bits(freq, false);
    uint64_t bits = 0;
    for (int s = 0; s < 256; s++) bits += (uint64_t)count[s] * cost_table[freq[s]];
    return bits;
}

/* ---- table planning ---------------------------------------------------------- */

typedef struct {
    uint32_t (*hist)[256];      /* per BLOCK symbols: the plane's being planned */
    uint32_t (*own_hist)[256];  /* room for counting one */
    uint8_t *sel, *best_sel;    /* per block */
    uint32_t freq[TABLES_MAX][256], best_freq[TABLES_MAX][256];
    uint32_t cost[TABLES_MAX][256];
    uint32_t count[TABLES_MAX][256], best_count[TABLES_MAX][256]; /* per table: the counts of its blocks */
    uint16_t plan_cost[256][HLZ_PLAN_TABLES]; /* cost in 1/256 bit, at most PLAN_INF: for choosing tables */
    int k, best_k;
    hlz_rans_sym syms[TABLES_MAX * 256];
    uint16_t *words;    /* the rANS encoder's output */
    bool compact;       /* compact tables (kind 6's joint symbols) */
    uint32_t *rank;     /* per block: its place by mean symbol */
    uint64_t *keys;     /* per block: room for sorting */
    size_t block;       /* symbols per histogram */
    uint8_t *present;   /* per block, 256 bytes: its distinct symbols, */
    uint16_t *npresent; /* and how many there are */
} planner_state;

#define COST_INF ((uint32_t)1 << 30)
#define PLAN_INF 32767 /* a symbol the table lacks; real costs stay under 12 * 256 */

static void set_plan_costs(planner_state *ps)
{
    for (int s = 0; s < 256; s++)
        for (int t = 0; t < HLZ_PLAN_TABLES; t++)
            ps->plan_cost[s][t] = t < ps->k && ps->cost[t][s] != COST_INF ? (uint16_t)((ps->cost[t][s] + 128) >> 8) : PLAN_INF;
}

/* Moves every block to its cheapest table (ties: the one it has, else the
 * first); true when one moved. */
static bool assign_blocks(planner_state *ps, size_t nb)
{
    bool moved = false;
    set_plan_costs(ps);
    for (size_t b = 0; b < nb; b++) {
        uint32_t cost[HLZ_PLAN_TABLES];
        hlz_block_costs(ps->hist[b], ps->present + 256 * b, ps->npresent[b], (const uint16_t (*)[HLZ_PLAN_TABLES])ps->plan_cost, cost);
        uint32_t low = cost[0];
        for (int c = 1; c < ps->k; c++) low = cost[c] < low ? cost[c] : low;
        int pick = ps->sel[b];
        if (cost[pick] != low) for (pick = 0; cost[pick] != low; pick++) {}
        if (pick != ps->sel[b]) {
            uint32_t *from = ps->count[ps->sel[b]], *to = ps->count[pick];
            const uint8_t *sy = ps->present + 256 * b;
            for (int j = 0; j < ps->npresent[b]; j++) from[sy[j]] -= ps->hist[b][sy[j]], to[sy[j]] += ps->hist[b][sy[j]];
            moved = true;
            ps->sel[b] = (uint8_t)pick;
        }
    }
    return moved;
}

/* Tables from the blocks' current assignment; unused tables dropped. Returns
 * the total cost (data, tables, selectors) in 1/65536 bit. */
/* Each table's counts from the blocks' assignment (assign_blocks keeps
 * them up to date after that). */
static void count_tables(planner_state *ps, size_t nb, int k)
{
    memset(ps->count, 0, sizeof ps->count[0] * (size_t)k);
    for (size_t b = 0; b < nb; b++) {
        const uint8_t *sy = ps->present + 256 * b;
        uint32_t *c = ps->count[ps->sel[b]];
        for (int j = 0; j < ps->npresent[b]; j++) c[sy[j]] += ps->hist[b][sy[j]];
    }
}

static uint64_t fit_tables(planner_state *ps, size_t nb, int k, bool exact)
{
    uint32_t (*count)[256] = ps->count;
    uint64_t total[TABLES_MAX] = {0};
    int remap[TABLES_MAX], used = 0;
    for (int c = 0; c < k; c++) {
        for (int s = 0; s < 256; s++) total[c] += count[c][s];
        remap[c] = total[c] ? used++ : -1;
    }
    uint64_t bits = 0;
    for (int c = 0; c < k; c++) {
        if (remap[c] < 0) continue;
        int t = remap[c];
        if (!exact) {
            /* Between k-means rounds only the costs matter: frequencies
             * rounded, not made to sum to 4096 (normalize's search for that
             * was a tenth of the encoder's time). */
            for (int s = 0; s < 256; s++) {
                uint64_t f = count[c][s] ? ((uint64_t)count[c][s] * PROB_TOTAL * 2 + total[c]) / (2 * total[c]) : 0;
                ps->cost[t][s] = count[c][s] ? cost_table[f ? f : 1] : COST_INF;
            }
            continue;
        }
        normalize(count[c], total[c], ps->freq[t]);
        bits += table_bits(ps->freq[t], ps->compact);
        for (int s = 0; s < 256; s++) {
            ps->cost[t][s] = ps->freq[t][s] ? cost_table[ps->freq[t][s]] : COST_INF;
            bits += (uint64_t)count[c][s] * ps->cost[t][s];
        }
    }
    for (size_t b = 0; b < nb; b++) ps->sel[b] = (uint8_t)remap[ps->sel[b]];
    for (int c = 0; c < k; c++) if (remap[c] >= 0 && remap[c] != c) memcpy(count[remap[c]], count[c], sizeof count[c]);
    ps->k = used;
    if (used > 1) bits += ((uint64_t)nb + (uint64_t)varint_size(ps->block)) * 8 << 16;
    return bits;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Finds 1..TABLES_MAX tables for nb blocks (their histograms in ps->hist):
 * k-means from contiguous runs of blocks, for k = 1, 2, 4, 8, 16. More
 * tables are tried only while the best so far costs less than `skip`. */
static uint64_t plan_tables(planner_state *ps, size_t nb, uint64_t skip)
{
    for (size_t b = 0; b < nb; b++) {
        int j = 0;
        uint8_t *out = ps->present + 256 * b;
        for (int s = 0; s < 256; s++) out[j] = (uint8_t)s, j += ps->hist[b][s] != 0; /* no branch */
        ps->npresent[b] = (uint16_t)j;
    }
    /* Blocks ranked by their mean symbol (for floats: their scale), ties by
     * position: k-means starts from k runs of that order. Contiguous runs of
     * blocks were a worse start where a chunk repeats itself (the halves'
     * tables equal, all blocks went to one). */
    uint32_t *rank = ps->rank;
    {
        uint64_t *key = ps->keys;
        for (size_t b = 0; b < nb; b++) {
            uint64_t sum = 0, cnt = 0;
            for (int j = 0; j < ps->npresent[b]; j++) {
                uint8_t sy = ps->present[256 * b + j];
                sum += (uint64_t)sy * ps->hist[b][sy], cnt += ps->hist[b][sy];
            }
            key[b] = (cnt ? (sum << 16) / cnt : 0) << 24 | b; /* mean in 1/65536 symbol, then the index (nb < 2^24) */
        }
        qsort(key, nb, sizeof *key, cmp_u64);
        for (size_t r = 0; r < nb; r++) rank[key[r] & 0xffffff] = (uint32_t)r;
    }
    uint64_t best = UINT64_MAX;
    for (int k = 1; k <= TABLES_MAX && (size_t)k <= nb && (best == UINT64_MAX || best < skip); k *= 2) {
        for (size_t b = 0; b < nb; b++) ps->sel[b] = (uint8_t)((ps->compact ? rank[b] : b) * (size_t)k / nb);
        count_tables(ps, nb, k);
        uint64_t bits = fit_tables(ps, nb, k, !ps->compact);
        for (int round = 0; round < (ps->compact ? COARSE_ROUNDS : KMEANS_ROUNDS) && ps->k > 1; round++) {
            if (!assign_blocks(ps, nb)) break;
            bits = fit_tables(ps, nb, ps->k, !ps->compact);
        }
        if (ps->compact) bits = fit_tables(ps, nb, ps->k, true);
        if (bits < best) {
            best = bits;
            ps->best_k = ps->k;
            memcpy(ps->best_freq, ps->freq, sizeof ps->freq[0] * (size_t)ps->k);
            memcpy(ps->best_sel, ps->sel, nb);
            if (ps->compact) memcpy(ps->best_count, ps->count, sizeof ps->count[0] * (size_t)ps->k); /* plan_fine's start */
        }
        if (ps->k < k) break; /* tables went unused: more will not help */
        if (bits > best) break; /* doubling k lost: more will not win */
    }
    return best;
}

/* plan_tables for histograms of JOINT_BLOCK symbols: k-means on their sums
 * over BLOCK symbols (a sixteenth of the work), then each small block moved
 * to its cheapest table and the tables refitted, kept while that wins. */
static uint64_t plan_fine(planner_state *ps, size_t nb, uint64_t skip)
{
    size_t f = COARSE_BLOCK / JOINT_BLOCK, nbc = (nb + f - 1) / f;
    uint32_t (*fine)[256] = ps->hist;
    for (size_t b = 0; b < nbc; b++) {
        uint32_t acc[256]; /* local: the compiler vectorizes the sums */
        memcpy(acc, fine[b * f], sizeof acc);
        for (size_t j = b * f + 1; j < nb && j < b * f + f; j++) {
            const uint32_t *h = fine[j];
            for (int s = 0; s < 256; s++) acc[s] += h[s];
        }
        memcpy(ps->own_hist[b], acc, sizeof acc);
    }
    ps->hist = ps->own_hist, ps->block = COARSE_BLOCK;
    uint64_t best = plan_tables(ps, nbc, skip);
    ps->hist = fine;
    if (ps->best_k == 1) return best;
    /* A small block's symbols are among its large block's: search those
     * (from the last large block back, so that no list is overwritten
     * before its small blocks have read it). */
    for (size_t b = nb; b-- > 0;) {
        uint8_t cand[256];
        int nc = ps->npresent[b / f], j = 0;
        memcpy(cand, ps->present + 256 * (b / f), (size_t)nc);
        uint8_t *out = ps->present + 256 * b;
        for (int i = 0; i < nc; i++) out[j] = cand[i], j += fine[b][cand[i]] != 0;
        ps->npresent[b] = (uint16_t)j;
        ps->sel[b] = ps->best_sel[b / f];
    }
    ps->k = ps->best_k;
    for (int t = 0; t < ps->k; t++)
        for (int s = 0; s < 256; s++) ps->cost[t][s] = ps->best_freq[t][s] ? cost_table[ps->best_freq[t][s]] : COST_INF;
    ps->block = JOINT_BLOCK;
    memcpy(ps->count, ps->best_count, sizeof ps->count[0] * (size_t)ps->k); /* the same values, in smaller blocks */
    bool won = false;
    for (int round = 0; round < FINE_ROUNDS; round++) {
        assign_blocks(ps, nb);
        if (round + 1 < FINE_ROUNDS) fit_tables(ps, nb, ps->k, false);
    }
    uint64_t bits = fit_tables(ps, nb, ps->k, true);
    if (bits < best) {
        best = bits, won = true;
        ps->best_k = ps->k;
        memcpy(ps->best_freq, ps->freq, sizeof ps->freq[0] * (size_t)ps->k);
        memcpy(ps->best_sel, ps->sel, nb);
    }
    if (!won) ps->block = COARSE_BLOCK;
    return best;
}

/* ---- planes as streams -------------------------------------------------------- */

/* Codes one plane of m bytes. hist: its hlz_count_blocks, or NULL (counted here). */
static void encode_plane(planner_state *ps, const uint8_t *plane, size_t m, uint32_t (*hist)[256], out_buf *o)
{
    ps->block = hist ? ps->block : BLOCK;
    size_t nb = (m + ps->block - 1) / ps->block;
    ps->hist = hist ? hist : ps->own_hist;
    if (!hist) {
        /* A sample first (every 8th block): a plane that looks near-random
         * there is stored raw without counting the rest. */
        uint32_t sample[256] = {0};
        uint64_t ns = 0;
        for (size_t b = 0; b < nb; b += 8) {
            size_t len = m - b * BLOCK < BLOCK ? m - b * BLOCK : BLOCK;
            memset(ps->hist, 0, sizeof *ps->hist);
            hlz_count_blocks(plane + b * BLOCK, len, ps->hist);
            for (int s = 0; s < 256; s++) sample[s] += ps->hist[0][s];
            ns += len;
        }
        if (nb >= 8 && order0_bits(sample, ns) >= (ns * 8 << 16) - (ns * 8 << 16) / 128) {
            put_u8(o, MODE_RAW);
            put(o, plane, m);
            return;
        }
        memset(ps->hist, 0, sizeof *ps->hist * nb);
        hlz_count_blocks(plane, m, ps->hist);
    }
    uint32_t all[256] = {0};
    int distinct = 0;
    for (size_t b = 0; b < nb; b++) for (int s = 0; s < 256; s++) all[s] += ps->hist[b][s];
    for (int s = 0; s < 256; s++) distinct += all[s] != 0;
    if (distinct <= 1) { put_u8(o, MODE_CONST); put_u8(o, m ? plane[0] : 0); return; }
    uint64_t raw_bits = (uint64_t)m * 8 << 16;
    /* Near-random planes (order 0 saves under 1/128) are not clustered: that would cost more time than it can save. */
    uint64_t fixed = (4 * HLZ_RANS_LANES + 16) * 8 << 16; /* states, mode bytes */
    uint64_t skip = raw_bits - raw_bits / 128 - fixed;
    uint64_t coded = (ps->block == BLOCK ? plan_tables(ps, nb, skip) : plan_fine(ps, nb, skip)) + fixed;
    if (coded >= raw_bits - raw_bits / 64) {
        put_u8(o, MODE_RAW);
        put(o, plane, m);
        return;
    }
    int k = ps->best_k;
    put_u8(o, MODE_RANS);
    put_u8(o, (uint8_t)k);
    if (k > 1) {
        put_varint(o, ps->block);
        put(o, ps->best_sel, (m + ps->block - 1) / ps->block); /* plan_fine may keep the coarse blocks */
    }
    for (int t = 0; t < k; t++) {
        put_table(o, ps->best_freq[t], ps->compact);
        hlz_rans_enc_table(ps->best_freq[t], ps->syms + 256 * t);
    }
    uint32_t state[HLZ_RANS_LANES];
    size_t nwords;
    const uint16_t *words = hlz_rans_encode(plane, m, ps->syms, k > 1 ? ps->best_sel : NULL, ps->block, ps->words, &nwords, state);
    put_varint(o, 4 * HLZ_RANS_LANES + 2 * (uint64_t)nwords);
    uint8_t head[4 * HLZ_RANS_LANES];
    for (int l = 0; l < HLZ_RANS_LANES; l++) hlz_put32(head + 4 * l, state[l]);
    put(o, head, sizeof head);
    if (!o->full) {
        if ((size_t)(o->end - o->p) < 2 * nwords) o->full = true;
        else {
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
            memcpy(o->p, words, 2 * nwords);
            o->p += 2 * nwords;
#else
            for (size_t j = 0; j < nwords; j++, o->p += 2) hlz_put16(o->p, words[j]);
#endif
        }
    }
}

/* Decodes a plane of m bytes. *out points to the bytes: into the payload
 * for a raw plane, else to buf (m bytes). slots: TABLES_MAX * 4096 entries. */
static bool decode_plane(in_buf *in, size_t m, bool compact, uint8_t *buf, uint32_t *slots, const uint8_t **out)
{
    uint8_t mode;
    if (!get_u8(in, &mode)) return false;
    if (mode == MODE_CONST) {
        uint8_t v;
        if (!get_u8(in, &v)) return false;
        memset(buf, v, m);
        *out = buf;
        return true;
    }
    if (mode == MODE_RAW) {
        if ((size_t)(in->end - in->p) < m) return false;
        *out = in->p;
        in->p += m;
        return true;
    }
    uint8_t k;
    if (mode != MODE_RANS || !get_u8(in, &k) || k < 1 || k > TABLES_MAX) return false;
    uint64_t block = m ? m : 1;
    const uint8_t *sel = NULL;
    size_t nb = 1;
    if (k > 1) {
        if (!get_varint(in, &block) || block < HLZ_RANS_LANES || block % HLZ_RANS_LANES != 0) return false;
        nb = (size_t)(m / block + (m % block != 0)); /* no overflow for a huge B */
        if ((size_t)(in->end - in->p) < nb) return false;
        sel = in->p;
        in->p += nb;
        for (size_t b = 0; b < nb; b++) if (sel[b] >= k) return false;
    }
    for (int t = 0; t < k; t++) {
        uint32_t freq[256];
        if (!read_table(in, freq, compact)) return false;
        hlz_rans_dec_table(freq, slots + (size_t)t * PROB_TOTAL);
    }
    uint64_t size;
    if (!get_varint(in, &size) || size > (uint64_t)(in->end - in->p) || size < 4 * HLZ_RANS_LANES ||
        (size - 4 * HLZ_RANS_LANES) % 2 != 0)
        return false;
    hlz_rans_dec d;
    for (int l = 0; l < HLZ_RANS_LANES; l++) {
        d.x[l] = hlz_le32(in->p + 4 * l);
        if (d.x[l] < HLZ_RANS_L || d.x[l] >= (uint32_t)1 << 31) return false;
    }
    d.p = in->p + 4 * HLZ_RANS_LANES, d.end = in->p + size;
    for (size_t b = 0, at = 0; at < m; b++, at += (size_t)block) {
        size_t len = m - at < block ? m - at : (size_t)block;
        if (!hlz_rans_decode(&d, slots + (size_t)(sel ? sel[b] : 0) * PROB_TOTAL, buf + at, len)) return false;
    }
    for (int l = 0; l < HLZ_RANS_LANES; l++) if (d.x[l] != HLZ_RANS_L) return false;
    if (d.p != d.end) return false;
    in->p = d.end;
    *out = buf;
    return true;
}

/* ---- segments -------------------------------------------------------------- */

/* True when the joint layout (kind 6) is estimated smaller than the split
 * one (kind 1) for n bf16/fp16 values; *base: the joint layout's base. From every 16th block of BLOCK
 * values: the base that leaves the fewest escapes, then order-0 costs (one
 * table each) of s plus 6 raw bits plus 16 bits per escape against e plus
 * 8 raw bits. fp16 (5-bit exponent: h has too many values for one window:
 * escapes) keeps kind 1. */
static bool choose_joint(const uint8_t *src, size_t n, unsigned *base_out)
{
    uint32_t h[1024] = {0}, e[256] = {0}, low[256] = {0}, sc[256] = {0};
    uint64_t ns = 0;
    for (size_t b = 0; b * BLOCK < n; b += 16) {
        size_t end = n - b * BLOCK < BLOCK ? n : b * BLOCK + BLOCK;
        for (size_t i = b * BLOCK; i < end; i++) {
            unsigned v = hlz_le16(src + 2 * i);
            h[(v >> 5) & 1023]++, low[((v >> 10) & 32) | (v & 31)]++;
        }
        ns += end - b * BLOCK;
    }
    /* Sign and low mantissa bits that are not near-random (order 0 saves
     * 1/128: data of lower precision, or not floats): kind 1, which codes
     * them if it pays. */
    bool random_low = order0_bits(low, ns) >= (ns * 6 << 16) - (ns * 6 << 16) / 128;
    /* The window of 254 values: centred on the sampled ones where they fit
     * (values the sample missed are likeliest next to them), else the one
     * that holds the most. */
    unsigned lo = 1, hi = 1023, base = 1;
    while (lo < 1023 && !h[lo]) lo++;
    while (hi > lo && !h[hi]) hi--;
    if (hi - lo < 254) {
        unsigned spare = 253 - (hi - lo);
        base = lo > spare / 2 ? lo - spare / 2 : 1;
    } else {
        uint64_t win = 0, best = 0;
        for (unsigned t = 1; t < 1024; t++) {
            win += h[t];
            if (t >= 255) win -= h[t - 254];
            if (win > best) best = win, base = t >= 254 ? t - 253 : 1;
        }
    }
    if (base > HLZ_J_BASE_MAX) base = HLZ_J_BASE_MAX;
    *base_out = base;
    if (!random_low) return false;
    for (unsigned t = 0; t < 1024; t++) {
        e[t >> 2] += h[t];
        sc[t == 0 ? 0 : t - base < 254 ? t - base + 1 : HLZ_J_ESCAPE] += h[t];
    }
    /* Values outside one window (fp16, whose 5-bit exponent spreads h
     * wide) cost 16 bits each and more than the estimate sees: past 1 in
     * 256, kind 1. */
    if (sc[HLZ_J_ESCAPE] > ns / 256) return false;
    /* The sample's bits per value, for all n values, and each table once
     * (a compact table costs about 2/3 of the plain form). */
    uint64_t te, ts, de = order0_split(e, ns, &te), ds = order0_split(sc, ns, &ts);
    uint64_t old = de / ns * n + te + ((uint64_t)n * 8 << 16);
    uint64_t joint = ds / ns * n + ts * 2 / 3 + (((uint64_t)n * 6 + (uint64_t)sc[HLZ_J_ESCAPE] * n / ns * 16) << 16);
    return joint < old;
}

static hlz_status encode_structs(unsigned kind, const uint8_t *src, size_t n, const unsigned *joint_base, out_buf *o,
                                 hlz_error *error)
{
    const layout *lay = &layouts[kind];
    size_t biggest = 0;
    for (uint32_t k = 0; k < lay->nfields; k++) if (lay->fields[k].len > biggest) biggest = lay->fields[k].len;
    size_t m_max = n * biggest, nb = (m_max + JOINT_BLOCK - 1) / JOINT_BLOCK + 1;
    bool bits = bit_planes(kind);
    size_t plane_bytes = bits ? n * lay->width + 1 : m_max + 1, words = (m_max + HLZ_RANS_SLACK) * sizeof(uint16_t);
    size_t need = plane_bytes + sizeof(planner_state) + 2 * nb * sizeof(uint32_t[256]) + 2 * nb + nb * 256 +
                  nb * sizeof(uint16_t) + nb * (sizeof(uint32_t) + sizeof(uint64_t)) + words + 12 * 64;
    uint8_t *at = scratch(0, need);
    if (!at) return hlz_fail(error, HLZ_ERR_NOMEM, "float: out of memory");
    uint8_t *planes = carve(&at, plane_bytes);
    planner_state *ps = carve(&at, sizeof *ps);
    uint32_t(*hist)[256] = carve(&at, nb * sizeof *hist);
    ps->hist = ps->own_hist = carve(&at, nb * sizeof *ps->hist);
    ps->sel = carve(&at, nb), ps->best_sel = carve(&at, nb);
    ps->present = carve(&at, nb * 256), ps->npresent = carve(&at, nb * sizeof *ps->npresent);
    ps->words = carve(&at, words);
    ps->compact = false;
    ps->rank = carve(&at, nb * sizeof *ps->rank), ps->keys = carve(&at, nb * sizeof *ps->keys);
    if (kind == HLZ_SEG_W16 || kind == HLZ_SEG_W16J) memset(hist, 0, nb * sizeof *hist);
    if (kind == HLZ_SEG_W16J) {
        unsigned base = *joint_base;
        uint8_t *sym = planes, *low = planes + n;
        hlz_split16j(src, n, base, sym, low);
        hlz_count_blocks_of(sym, n, JOINT_BLOCK, hist);
        ps->block = JOINT_BLOCK;
        put_varint(o, base);
        ps->compact = true;
        encode_plane(ps, sym, n, hist, o);
        ps->compact = false;
    ps->rank = carve(&at, nb * sizeof *ps->rank), ps->keys = carve(&at, nb * sizeof *ps->keys);
        uint32_t nesc = 0;
        for (size_t b = 0; b < nb; b++) nesc += hist[b][HLZ_J_ESCAPE];
        put_varint(o, nesc);
        for (const uint8_t *q = sym; nesc && (q = memchr(q, HLZ_J_ESCAPE, n - (size_t)(q - sym))) != NULL; q++, nesc--) {
            size_t i = (size_t)(q - sym);
            uint8_t h[2];
            hlz_put16(h, (uint16_t)((hlz_le16(src + 2 * i) >> 5) & 1023));
            put(o, h, 2);
        }
        put(o, low, hlz_j_low_size(n));
    } else if (kind == HLZ_SEG_W16) {
        hlz_split16(src, n, planes, planes + n, hist);
        ps->block = BLOCK;
        encode_plane(ps, planes, n, hist, o);
        encode_plane(ps, planes + n, n, NULL, o);
    } else if (kind == HLZ_SEG_W32) {
        uint8_t *pl[4] = {planes, planes + n, planes + 2 * n, planes + 3 * n};
        split32(src, n, pl);
        for (int k = 0; k < 4 && !o->full; k++) encode_plane(ps, pl[k], n, NULL, o);
    } else {
        for (uint32_t k = 0; k < lay->nfields && !o->full; k++) {
            const field *f = &lay->fields[k];
            gather(src, lay->width, f, n, planes);
            encode_plane(ps, planes, n * f->len, NULL, o);
        }
    }
    return HLZ_OK;
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
        const uint8_t *p = src + at;
        size_t n = (size_t)segs[i].size;
        unsigned kind = segs[i].kind, base = 1;
        if ((kind == HLZ_SEG_W16 || kind == HLZ_SEG_W16J) && n > 0 && choose_joint(p, n / 2, &base)) kind = HLZ_SEG_W16J;
        put_u8(&o, (uint8_t)kind);
        put_varint(&o, segs[i].size);
        at += n;
        if (kind != HLZ_SEG_BYTES) {
            hlz_status st = encode_structs(kind, p, n / w, &base, &o, error);
            if (st != HLZ_OK) return st;
            continue;
        }
        size_t bound = ZSTD_compressBound(n), z = 0;
        uint8_t *tmp = n >= 64 ? malloc(bound) : NULL;
        int zl = hlz_zstd_level(level);
        if (n > BYTES_BIG && zl > BYTES_BIG_LEVEL) zl = BYTES_BIG_LEVEL;
        if (tmp) z = ZSTD_compress(tmp, bound, p, n, zl);
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

/* Decodes the planes of n structs of a float or block kind into dst.
 * planes: room for n * width bytes. */
static bool decode_structs(in_buf *in, unsigned kind, size_t n, uint8_t *dst, uint8_t *planes, uint32_t *slots)
{
    const layout *lay = &layouts[kind];
    if (kind == HLZ_SEG_W16J) {
        uint64_t base, nesc;
        const uint8_t *sym;
        if (!get_varint(in, &base) || base < 1 || base > HLZ_J_BASE_MAX || !decode_plane(in, n, true, planes, slots, &sym) ||
            !get_varint(in, &nesc) || nesc > n || (uint64_t)(in->end - in->p) < 2 * nesc + hlz_j_low_size(n))
            return false;
        const uint8_t *esc = in->p, *low = in->p + 2 * nesc;
        in->p = low + hlz_j_low_size(n);
        for (size_t i = n / 64 * 48; i < hlz_j_low_size(n); i++) if (low[i] >= 64) return false;
        hlz_merge16j(sym, low, (unsigned)base, dst, n);
        const uint8_t *q = sym;
        for (uint64_t k = 0; k < nesc; k++, q++, esc += 2) {
            unsigned h = hlz_le16(esc);
            if (h >= 1024 || !(q = memchr(q, HLZ_J_ESCAPE, n - (size_t)(q - sym)))) return false;
            uint8_t *d = dst + 2 * (size_t)(q - sym);
            hlz_put16(d, (uint16_t)((hlz_le16(d) & 0x801f) | h << 5));
        }
        return n == 0 || !memchr(q, HLZ_J_ESCAPE, n - (size_t)(q - sym));
    }
    if (bit_planes(kind)) {
        const uint8_t *pl[4];
        for (uint32_t k = 0; k < lay->nfields; k++)
            if (!decode_plane(in, n, false, planes + k * n, slots, &pl[k])) return false;
        if (kind == HLZ_SEG_W16) hlz_merge16(pl[0], pl[1], dst, n);
        else merge32(pl, n, dst);
        return true;
    }
    for (uint32_t k = 0; k < lay->nfields; k++) {
        const field *f = &lay->fields[k];
        const uint8_t *plane;
        if (!decode_plane(in, n * f->len, false, planes, slots, &plane)) return false;
        scatter(plane, lay->width, f, n, dst);
    }
    return true;
}

hlz_status hlz_float_decode(const uint8_t *src, size_t coded_size, uint8_t *dst, size_t raw_size,
                            hlz_error *error)
{
    in_buf in = {src, src + coded_size};
    uint64_t nseg;
    if (!get_varint(&in, &nseg) || nseg > raw_size)
        return hlz_fail(error, HLZ_ERR_CORRUPT, "corrupt float data (segment count)");
    uint32_t *slots = NULL;
    uint8_t *planes = NULL;
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
            if (!slots) {
                uint8_t *at = scratch(1, sizeof *slots * TABLES_MAX * PROB_TOTAL + raw_size + 128);
                if (!at) return hlz_fail(error, HLZ_ERR_NOMEM, "float: out of memory");
                slots = carve(&at, sizeof *slots * TABLES_MAX * PROB_TOTAL);
                planes = carve(&at, raw_size + 1);
            }
            if (!decode_structs(&in, kind, (size_t)n / layouts[kind].width, dst + at, planes, slots)) goto corrupt;
        }
        at += (size_t)n;
    }
    if (at != raw_size || in.p != in.end)
        return hlz_fail(error, HLZ_ERR_CORRUPT, "corrupt float data (%zu of %zu bytes)", at, raw_size);
    return HLZ_OK;
corrupt:
    return hlz_fail(error, HLZ_ERR_CORRUPT, "corrupt float data (segment at byte %zu)", at);
}

/* Order-0 cost of one plane's counts, never above raw. */
static uint64_t plane_estimate(const uint32_t *count, uint64_t m)
{
    if (m == 0) return 0;
    uint64_t c = order0_bits(count, m) >> 16, raw = m * 8;
    return c < raw ? c : raw;
}

uint64_t hlz_float_estimate(unsigned kind, const uint8_t *src, size_t n)
{
    init_costs();
    const layout *lay = &layouts[kind];
    uint64_t bits = 0;
    if (bit_planes(kind)) {
        uint32_t count[4][256];
        memset(count, 0, sizeof count);
        for (size_t i = 0; i < n; i++) {
            const uint8_t *s = src + i * lay->width;
            uint8_t hi = s[lay->width - 1], lo = s[lay->width - 2];
            count[0][(uint8_t)((hi << 1) | (lo >> 7))]++;
            count[1][(hi & 0x80) | (lo & 0x7f)]++;
            if (kind == HLZ_SEG_W32) count[2][s[1]]++, count[3][s[0]]++;
        }
        for (uint32_t k = 0; k < lay->nfields; k++) bits += plane_estimate(count[k], n);
        return bits;
    }
    for (uint32_t k = 0; k < lay->nfields; k++) {
        const field *f = &lay->fields[k];
        uint32_t count[256] = {0};
        for (size_t i = 0; i < n; i++)
            for (uint32_t b = 0; b < f->len; b++) count[src[i * lay->width + f->pos + b]]++;
        bits += plane_estimate(count, (uint64_t)n * f->len);
    }
    return bits;
}
