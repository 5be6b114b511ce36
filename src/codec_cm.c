/* codec_cm.c - the cm codec: bitwise context mixing (doc/format.md, "Codec 5: cm").
 *
 * Probabilities are 16-bit (P(bit = 1) in 1/65536), the logistic ("stretch")
 * domain is in 1/256, clamped to +-2047. Everything is integer arithmetic;
 * right shifts of negative values go through asr(), a floor division, so
 * nothing depends on implementation-defined behaviour. */
#include "codec_cm.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define CM_VERSION 1
#define CM_HEADER_SIZE 3        /* version, hash-table bits, match-table bits */
#define CM_HASH_BITS_MIN 12
#define CM_HASH_BITS_MAX 22     /* 16-byte buckets: 64 MiB */
#define CM_MATCH_BITS_MIN 10
#define CM_MATCH_BITS_MAX 22    /* 4-byte positions: 16 MiB */

#define NCTX 15                 /* hashed context models */
#define NIN (NCTX + 2)          /* mixer inputs: NCTX, match, bias */
#define PERIOD_MAX 1024         /* periods the autocorrelation counts: 2..PERIOD_MAX - 1 */
#define SETS_A 256              /* weight set by the partial byte c0 */
#define SETS_B (17 * 8)         /* by match state and bit position */
#define SETS_C 256              /* by the previous byte */
#define SETS_D (128 * 8)        /* by column in the record (or 0) and bit position */
#define NFINAL 4                /* the final mixer's inputs: the four sets' outputs */
#define SM_LIMIT 1023           /* adaptive probabilities stop slowing down after this many updates */
#define MATCH_MIN 6             /* bytes hashed to find a match */
#define MATCH_MAX 65535
#define LR_SETS 32              /* mixer learning rates (see mix_train) */
#define LR_FINAL 8
#define APM_RATE 6

/* ---- tables: squash, stretch, reciprocals, bit-history transitions ----- */

static uint16_t squash_table[4095]; /* d = -2047..2047 -> 65536 / (1 + e^(-d/256)), in 1..65535 */
static int16_t stretch_table[4096]; /* p >> 4 -> the smallest d with squash(d) >= p*16 + 8 */
static uint32_t reciprocal[SM_LIMIT + 1]; /* 2^17 / (2n + 3) = 2^16 / (n + 1.5) */
static uint8_t next_state[2][256];
static uint32_t state_p22[256];     /* initial probability of each bit-history state, 22 bits */
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

/* floor(x / 2^s) for |x| < 2^62, without shifting a negative value. */
static inline int32_t asr(int64_t x, int s)
{
    return (int32_t)((int64_t)(((uint64_t)x + ((uint64_t)1 << 62)) >> s) - (int64_t)((uint64_t)1 << (62 - s)));
}

static void make_tables(void)
{
    /* e^(-k/256) in 2^32 fixed point, k = 0..2047, by repeated multiplication
     * with round(2^32 e^(-1/256)) = 4278222805: integer code only. */
    uint64_t e = (uint64_t)1 << 32;
    for (int k = 0; k <= 2047; k++) {
        uint64_t up = ((uint64_t)65536 << 32) / (((uint64_t)1 << 32) + e);   /* squash(k) */
        uint64_t down = ((uint64_t)65536 * e) / (((uint64_t)1 << 32) + e);   /* squash(-k) */
        squash_table[2047 + k] = (uint16_t)(up > 65535 ? 65535 : up);
        squash_table[2047 - k] = (uint16_t)(down < 1 ? 1 : down);
        e = (e * 4278222805u + ((uint64_t)1 << 31)) >> 32;
    }
    int d = -2047;
    for (int i = 0; i < 4096; i++) {
        uint32_t p = (uint32_t)i * 16 + 8;
        while (d < 2047 && squash_table[d + 2047] < p) d++;
        stretch_table[i] = (int16_t)d;
    }
    for (uint32_t n = 0; n <= SM_LIMIT; n++) reciprocal[n] = 131072 / (2 * n + 3);
    /* Bit-history state: n0 | n1 << 4, counts 0..15. The count
     * of the bit seen grows; the other, when above 2, is about halved, so
     * the history follows changes (a nonstationary counter). */
    for (int s = 0; s < 256; s++) {
        int n0 = s & 15, n1 = s >> 4;
        for (int y = 0; y < 2; y++) {
            int a = n0, b = n1;
            if (y) {
                if (b < 15) b++;
                if (a > 2) a = (a + 2) / 2;
            } else {
                if (a < 15) a++;
                if (b > 2) b = (b + 2) / 2;
            }
            next_state[y][s] = (uint8_t)(a | b << 4);
        }
        state_p22[s] = (uint32_t)(((uint64_t)(2 * n1 + 1) << 22) / (uint64_t)(2 * (n0 + n1) + 2));
    }
}

static inline int squash(int d) { return squash_table[(d < -2047 ? -2047 : d > 2047 ? 2047 : d) + 2047]; }
static inline int stretch(uint32_t p16) { return stretch_table[p16 >> 4]; }

/* An adaptive probability: p (22 bits) << 10 | update count (10 bits). */
static inline uint32_t ap_p16(uint32_t a) { return a >> 16; }
static inline void ap_update(uint32_t *a, int y)
{
    uint32_t n = *a & 1023, p = *a >> 10;
    int64_t target = y ? (1 << 22) - 1 : 0;
    p = (uint32_t)((int64_t)p + asr((target - (int64_t)p) * reciprocal[n], 16));
    *a = p << 10 | (n < SM_LIMIT ? n + 1 : n);
}

/* ---- hashing ------------------------------------------------------------ */

static inline uint32_t finalize(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

static inline uint32_t hash3(uint32_t i, uint32_t a, uint32_t b)
{
    return finalize(a * 0x9E3779B1u + b * 0x85EBCA77u + (i + 1) * 0xC2B2AE3Du);
}

/* ---- the model ------------------------------------------------------------ */

typedef struct {
    const uint8_t *buf;  /* the chunk's bytes; buf[0..pos) are known */
    size_t pos;
    uint32_t c0;         /* 1, then the bits of the current byte so far */
    uint32_t nib;        /* 1, then the bits of the current nibble so far */
    int bitpos;
    uint32_t c4, c8;     /* the last 8 bytes, most recent in the low byte of c4 */
    uint32_t word, last_word;

    uint8_t *ht;         /* 16-byte buckets: check byte, 15 bit-history states */
    int hash_shift;
    uint32_t ctx[NCTX];
    uint8_t *bucket[NCTX];
    uint8_t *slot[NCTX];
    uint32_t sm[NCTX][256];

    uint32_t *mt;        /* match table: hash of the last MATCH_MIN bytes -> position after them */
    int match_shift;
    size_t match_ptr;
    uint32_t match_len;
    int match_miss;      /* the current byte already left the predicted one */
    int match_ctx;       /* index into match_sm, or -1 */
    uint32_t match_sm[64];

    uint32_t last_pos[256], last_dist[256];
    uint32_t rec_cand, rec_score, rec_len;
    uint16_t period_count[PERIOD_MAX]; /* entry k counts period PERIOD_MAX - 1 - k */
    uint32_t period1, period2;

    int32_t x[NIN];
    int32_t wa[SETS_A][NIN], wb[SETS_B][NIN], wc[SETS_C][NIN], wd[SETS_D][NIN], wf[NFINAL];
    int sa, sb, sc, sd;
    int32_t d3[NFINAL];
    int p3[NFINAL];
    int dmix, pmix;

    uint16_t apm1[256][33];
    uint16_t (*apm2)[33]; /* 65536 contexts */
    int apm1_i, apm2_i;
    int pfinal;
} cm_model;

static int match_class(uint32_t len)
{
    if (len < 16) return (int)len;
    if (len < 32) return 16 + (int)(len - 16) / 4;
    if (len < 64) return 20 + (int)(len - 32) / 8;
    if (len < 128) return 24 + (int)(len - 64) / 32;
    if (len < 256) return 26;
    if (len < 512) return 27;
    if (len < 1024) return 28;
    if (len < 4096) return 29;
    if (len < 16384) return 30;
    return 31;
}

static unsigned ceil_log2(size_t n)
{
    unsigned b = 0;
    while (b < 63 && ((size_t)1 << b) < n) b++;
    return b;
}

static unsigned clampu(unsigned v, unsigned lo, unsigned hi) { return v < lo ? lo : v > hi ? hi : v; }

static unsigned hash_bits_for(size_t n) { return clampu(ceil_log2(n) + 2, CM_HASH_BITS_MIN, CM_HASH_BITS_MAX); }
static unsigned match_bits_for(size_t n) { return clampu(ceil_log2(n), CM_MATCH_BITS_MIN, CM_MATCH_BITS_MAX); }

size_t hlz_cm_memory(size_t raw_size)
{
    return sizeof(cm_model) + ((size_t)16 << hash_bits_for(raw_size)) + ((size_t)4 << match_bits_for(raw_size)) +
           (size_t)65536 * 33 * sizeof(uint16_t);
}

/* The bucket of context hash h for the nibble that starts with partial byte
 * c0: of the two buckets i and i ^ 1, the one whose check byte matches, else
 * the one whose first state has seen fewer bits, cleared. */
static uint8_t *find_bucket(cm_model *m, uint32_t h)
{
    uint32_t i = h >> m->hash_shift;
    uint8_t check = (uint8_t)h;
    uint8_t *b0 = m->ht + (size_t)i * 16, *b1 = m->ht + (size_t)(i ^ 1) * 16;
    if (b0[0] == check) return b0;
    if (b1[0] == check) return b1;
    int u0 = (b0[1] & 15) + (b0[1] >> 4), u1 = (b1[1] & 15) + (b1[1] >> 4);
    uint8_t *v = u0 <= u1 ? b0 : b1;
    memset(v, 0, 16);
    v[0] = check;
    return v;
}

static void find_buckets(cm_model *m)
{
    /* Hash all first and prefetch: the table lookups then overlap (speed only). */
    uint32_t h[NCTX];
    for (int i = 0; i < NCTX; i++) {
        h[i] = finalize(m->ctx[i] + m->c0 * 0x27D4EB2Fu);
        __builtin_prefetch(m->ht + (size_t)(h[i] >> m->hash_shift) * 16);
    }
    for (int i = 0; i < NCTX; i++) m->bucket[i] = find_bucket(m, h[i]);
}

static void model_init(cm_model *m, const uint8_t *buf, unsigned hash_bits, unsigned match_bits)
{
    /* The caller cleared everything (calloc). */
    m->buf = buf;
    m->c0 = 1;
    m->nib = 1;
    m->hash_shift = 32 - (int)hash_bits;
    m->match_shift = 32 - (int)match_bits;
    m->match_ctx = -1;
    for (int i = 0; i < NCTX; i++)
        for (int s = 0; s < 256; s++) m->sm[i][s] = state_p22[s] << 10;
    for (int s = 0; s < 64; s++) m->match_sm[s] = (uint32_t)(1 << 21) << 10;
    for (int s = 0; s < SETS_A; s++)
        for (int k = 0; k < NIN; k++) m->wa[s][k] = 1 << 14;
    for (int s = 0; s < SETS_B; s++)
        for (int k = 0; k < NIN; k++) m->wb[s][k] = 1 << 14;
    for (int s = 0; s < SETS_C; s++)
        for (int k = 0; k < NIN; k++) m->wc[s][k] = 1 << 14;
    for (int s = 0; s < SETS_D; s++)
        for (int k = 0; k < NIN; k++) m->wd[s][k] = 1 << 14;
    for (int k = 0; k < NFINAL; k++) m->wf[k] = 65536 / NFINAL;
    for (int k = 0; k <= 32; k++) {
        uint16_t v = (uint16_t)squash((k - 16) * 128);
        for (int c = 0; c < 256; c++) m->apm1[c][k] = v;
        m->apm2[0][k] = v;
    }
    /* Every context of apm2 starts as row 0: copies of doubling size (4 MiB
     * per chunk, written in order rather than column by column). */
    for (size_t done = 1; done < 65536; done *= 2)
        memcpy(m->apm2 + done, m->apm2, (done < 65536 - done ? done : 65536 - done) * sizeof *m->apm2);
    for (int i = 0; i < NCTX; i++) m->ctx[i] = hash3((uint32_t)i, 0, 0);
    find_buckets(m);
}

/* count[k] += q[k] == c for the PERIOD_MAX - 2 periods. Exact integer work
 * in any order, so the compiler may vectorize it (GCC does at -O3). */
#if defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("O3")))
#endif
static void count_periods(uint16_t *restrict count, const uint8_t *restrict q, uint8_t c)
{
    for (int k = 0; k < PERIOD_MAX - 2; k++) count[k] = (uint16_t)(count[k] + (q[k] == c));
}

/* Contexts for the next byte, after byte c was appended at buf[pos - 1]. */
static void byte_update(cm_model *m, uint32_t c)
{
    const uint8_t *buf = m->buf;
    size_t pos = ++m->pos;
    m->c8 = m->c8 << 8 | m->c4 >> 24;
    m->c4 = m->c4 << 8 | c;

    /* Word: letters (ASCII case folded) and bytes >= 128, hashed. */
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 128) {
        uint32_t lc = c >= 'A' && c <= 'Z' ? c + 32 : c;
        m->word = (m->word ^ lc) * 0x01000193u;
    } else if (m->word) {
        m->last_word = m->word;
        m->word = 0;
    }

    /* Record length: a byte value seen three times at equal distances votes
     * for that distance; the majority candidate is the record length once
     * its score reaches 2. */
    uint32_t p32 = (uint32_t)pos; /* chunks are < 2^32 bytes */
    uint32_t d = p32 - m->last_pos[c];
    if (m->last_pos[c] && d == m->last_dist[c] && d >= 2 && d <= 4096) {
        if (d == m->rec_cand) {
            if (m->rec_score < 64) m->rec_score++;
        } else if (m->rec_score > 0) {
            m->rec_score--;
        } else {
            m->rec_cand = d, m->rec_score = 1;
        }
        m->rec_len = m->rec_score >= 2 ? m->rec_cand : m->rec_len;
    }
    m->last_dist[c] = m->last_pos[c] ? d : 0;
    m->last_pos[c] = p32;

    /* Periods: how often a byte that differs from the one before equals the
     * byte D back, for D = 2..PERIOD_MAX-1, halved every 1024 bytes; the two
     * best periods (the smaller on ties) are chosen every 1024 bytes. */
    if (pos > PERIOD_MAX && c != buf[pos - 2]) count_periods(m->period_count, buf + pos - PERIOD_MAX, (uint8_t)c);
    if ((pos & 1023) == 0) {
        uint32_t b1 = 0, b2 = 0;
        int best1 = -1, best2 = -1;
        for (int k = PERIOD_MAX - 3; k >= 0; k--) {
            uint32_t v = m->period_count[k];
            if (best1 < 0 || v > b1) best2 = best1, b2 = b1, best1 = k, b1 = v;
            else if (best2 < 0 || v > b2) best2 = k, b2 = v;
            m->period_count[k] = (uint16_t)(v >> 1);
        }
        m->period1 = b1 ? (uint32_t)(PERIOD_MAX - 1 - best1) : 0;
        m->period2 = b2 ? (uint32_t)(PERIOD_MAX - 1 - best2) : 0;
    }

    /* Match: extend, or look the last MATCH_MIN bytes up and measure the
     * match backwards. */
    if (m->match_len && buf[m->match_ptr] == c) {
        if (m->match_len < MATCH_MAX) m->match_len++;
        m->match_ptr++;
    } else {
        m->match_len = 0;
    }
    if (pos >= MATCH_MIN) {
        uint32_t h = finalize(m->c4 * 0x9E3779B1u + (m->c8 & 0xffff) * 0x85EBCA77u) >> m->match_shift;
        if (m->match_len == 0) {
            uint32_t cand = m->mt[h];
            if (cand) {
                uint32_t len = 0;
                while (len < MATCH_MAX && len < cand && buf[cand - 1 - len] == buf[pos - 1 - len]) len++;
                if (len) m->match_len = len, m->match_ptr = cand;
            }
        }
        m->mt[h] = p32;
    }
    m->match_miss = 0;

    uint32_t c1 = c, c4 = m->c4;
    uint32_t R = m->rec_len;
    uint32_t above = R && pos >= R ? buf[pos - R] : 0, above2 = R && pos >= 2 * R ? buf[pos - 2 * R] : 0;
    m->ctx[0] = hash3(0, 0, 0);
    m->ctx[1] = hash3(1, c1, 0);
    m->ctx[2] = hash3(2, c4 & 0xffff, 0);
    m->ctx[3] = hash3(3, c4 & 0xffffff, 0);
    m->ctx[4] = hash3(4, c4, 0);
    m->ctx[5] = hash3(5, c4, m->c8 & 0xffff);
    m->ctx[6] = m->word ? hash3(6, m->word, 0) : hash3(6, m->last_word, c1 + 1);
    m->ctx[7] = hash3(7, c4 & 0xffff00, 0);
    m->ctx[8] = hash3(8, c4 & 0xffff0000, 0);
    m->ctx[9] = hash3(9, c4 & 0xff00ff, 0);
    m->ctx[10] = hash3(10, above | c1 << 8, R);
    m->ctx[11] = hash3(11, above | above2 << 8, R);
    uint32_t around = R && pos > R ? (uint32_t)buf[pos - R - 1] | (uint32_t)buf[pos - R + 1] << 8 : 0;
    m->ctx[12] = hash3(12, above | around << 8, R);
    uint32_t P1 = m->period1, P2 = m->period2;
    uint32_t at1 = P1 && pos >= P1 ? buf[pos - P1] : 0, at2 = P2 && pos >= P2 ? buf[pos - P2] : 0;
    m->ctx[13] = hash3(13, at1 | c1 << 8, P1);
    m->ctx[14] = hash3(14, at1 | at2 << 8, P1 | P2 << 16);
}

static inline int32_t dot(const int32_t *x, const int32_t *w, int n)
{
    int64_t s = 0;
    for (int k = 0; k < n; k++) s += (int64_t)x[k] * w[k];
    int32_t d = asr(s, 16);
    return d < -2047 ? -2047 : d > 2047 ? 2047 : d;
}

/* w += x * err * rate, err the 12-bit prediction error. */
static inline void mix_train(const int32_t *x, int32_t *w, int n, int err, int rate)
{
    int32_t e = err * rate;
    for (int k = 0; k < n; k++) {
        int64_t v = (int64_t)w[k] + asr((int64_t)x[k] * e, 16);
        w[k] = (int32_t)(v < -(1 << 22) ? -(1 << 22) : v > (1 << 22) ? (1 << 22) : v);
    }
}

/* P(next bit = 1), 16 bits. */
static int predict(cm_model *m)
{
    uint32_t j = m->nib;
    for (int i = 0; i < NCTX; i++) {
        uint8_t *s = m->bucket[i] + j;
        m->slot[i] = s;
        m->x[i] = stretch(ap_p16(m->sm[i][*s]));
    }
    m->match_ctx = -1;
    int mstate = 0;
    if (m->match_len && !m->match_miss) {
        uint32_t pb = m->buf[m->match_ptr] | 256u;
        if ((pb >> (8 - m->bitpos)) == m->c0) {
            int bit = (pb >> (7 - m->bitpos)) & 1;
            int q = match_class(m->match_len);
            m->match_ctx = q * 2 + bit;
            mstate = 1 + q / 2;
        } else {
            m->match_miss = 1;
        }
    }
    m->x[NCTX] = m->match_ctx >= 0 ? stretch(ap_p16(m->match_sm[m->match_ctx])) : 0;
    m->x[NCTX + 1] = 256;

    m->sa = (int)m->c0;
    m->sb = mstate * 8 + m->bitpos;
    m->sc = (int)(m->c4 & 0xff);
    m->d3[0] = dot(m->x, m->wa[m->sa], NIN);
    m->d3[1] = dot(m->x, m->wb[m->sb], NIN);
    m->d3[2] = dot(m->x, m->wc[m->sc], NIN);
    uint32_t col = m->rec_len ? (uint32_t)(m->pos % m->rec_len) : 0;
    m->sd = (int)((col < 127 ? col : 127) * 8 + (uint32_t)m->bitpos);
    m->d3[3] = dot(m->x, m->wd[m->sd], NIN);
    for (int k = 0; k < NFINAL; k++) m->p3[k] = squash(m->d3[k]);
    m->dmix = dot(m->d3, m->wf, NFINAL);
    m->pmix = squash(m->dmix);

    /* Two secondary estimations on the mixed logit, interpolated between
     * 33 knots: by c0, and by c0 with the previous byte. */
    int t = m->dmix + 2048, lo = t >> 7, frac = t & 127;
    const uint16_t *a1 = m->apm1[m->c0], *a2 = m->apm2[m->c0 | (m->c4 & 0xff) << 8];
    int p1 = (a1[lo] * (128 - frac) + a1[lo + 1] * frac) >> 7;
    int p2 = (a2[lo] * (128 - frac) + a2[lo + 1] * frac) >> 7;
    m->apm1_i = (int)m->c0 * 33 + lo + (frac >> 6);
    m->apm2_i = (int)(m->c0 | (m->c4 & 0xff) << 8) * 33 + lo + (frac >> 6);
    int p = (m->pmix + p1 + 2 * p2 + 2) >> 2;
    m->pfinal = p < 1 ? 1 : p > 65535 ? 65535 : p;
    return m->pfinal;
}

static void update(cm_model *m, int y)
{
    for (int i = 0; i < NCTX; i++) {
        uint8_t *s = m->slot[i];
        ap_update(&m->sm[i][*s], y);
        *s = next_state[y][*s];
    }
    if (m->match_ctx >= 0) ap_update(&m->match_sm[m->match_ctx], y);

    int target = y ? 65535 : 0;
    mix_train(m->x, m->wa[m->sa], NIN, asr(target - m->p3[0], 4), LR_SETS);
    mix_train(m->x, m->wb[m->sb], NIN, asr(target - m->p3[1], 4), LR_SETS);
    mix_train(m->x, m->wc[m->sc], NIN, asr(target - m->p3[2], 4), LR_SETS);
    mix_train(m->x, m->wd[m->sd], NIN, asr(target - m->p3[3], 4), LR_SETS);
    mix_train(m->d3, m->wf, NFINAL, asr(target - m->pmix, 4), LR_FINAL);
    uint16_t *a1 = &m->apm1[0][0] + m->apm1_i, *a2 = &m->apm2[0][0] + m->apm2_i;
    *a1 = (uint16_t)(*a1 + asr(target - *a1, APM_RATE));
    *a2 = (uint16_t)(*a2 + asr(target - *a2, APM_RATE));

    m->c0 = m->c0 << 1 | (uint32_t)y;
    m->nib = m->nib << 1 | (uint32_t)y;
    m->bitpos++;
    if (m->bitpos == 8) {
        byte_update(m, m->c0 & 0xff);
        m->c0 = 1, m->nib = 1, m->bitpos = 0;
        find_buckets(m);
    } else if (m->bitpos == 4) {
        m->nib = 1;
        find_buckets(m);
    }
}

static hlz_status model_create(cm_model **out, const uint8_t *buf, unsigned hash_bits, unsigned match_bits,
                               hlz_error *error)
{
    pthread_once(&tables_once, make_tables);
    cm_model *m = calloc(1, sizeof *m);
    if (m) {
        m->ht = calloc((size_t)1 << hash_bits, 16);
        m->mt = calloc((size_t)1 << match_bits, sizeof *m->mt);
        m->apm2 = malloc((size_t)65536 * sizeof *m->apm2);
    }
    if (!m || !m->ht || !m->mt || !m->apm2) {
        if (m) free(m->ht), free(m->mt), free(m->apm2);
        free(m);
        return hlz_fail(error, HLZ_ERR_NOMEM, "out of memory for the cm codec's tables (%zu MiB)",
                        hlz_cm_memory((size_t)1 << (hash_bits - 2)) >> 20);
    }
    model_init(m, buf, hash_bits, match_bits);
    *out = m;
    return HLZ_OK;
}

static void model_free(cm_model *m)
{
    if (!m) return;
    free(m->ht);
    free(m->mt);
    free(m->apm2);
    free(m);
}

/* ---- the binary arithmetic coder (32-bit, carryless) --------------------- */

static inline uint32_t split(uint32_t x1, uint32_t x2, int p16)
{
    return x1 + (uint32_t)(((uint64_t)(x2 - x1) * (uint32_t)p16) >> 16);
}

hlz_status hlz_cm_encode(const uint8_t *src, size_t size, uint8_t *dst, size_t dst_capacity, size_t *coded_size,
                         hlz_error *error)
{
    *coded_size = 0;
    if (size > UINT32_MAX - 1) return hlz_fail(error, HLZ_ERR_PARAM, "cm: chunk too large");
    if (dst_capacity < CM_HEADER_SIZE + 4) return hlz_fail(error, HLZ_ERR_CODEC, "cm output larger than its input");
    unsigned hb = hash_bits_for(size), mb = match_bits_for(size);
    cm_model *m;
    hlz_status st = model_create(&m, src, hb, mb, error);
    if (st != HLZ_OK) return st;
    dst[0] = CM_VERSION, dst[1] = (uint8_t)hb, dst[2] = (uint8_t)mb;
    size_t n = CM_HEADER_SIZE;
    uint32_t x1 = 0, x2 = 0xffffffffu;
    for (size_t i = 0; i < size; i++) {
        uint32_t c = src[i];
        for (int b = 7; b >= 0; b--) {
            int y = (c >> b) & 1;
            uint32_t mid = split(x1, x2, predict(m));
            if (y) x2 = mid;
            else x1 = mid + 1;
            update(m, y);
            while (((x1 ^ x2) & 0xff000000u) == 0) {
                if (n >= dst_capacity) goto full;
                dst[n++] = (uint8_t)(x2 >> 24);
                x1 <<= 8;
                x2 = x2 << 8 | 255;
            }
        }
    }
    /* Flush all of x1: the decoder then lands inside the last interval
     * without reading past the payload. */
    if (dst_capacity - n < 4) goto full;
    for (int k = 3; k >= 0; k--) dst[n++] = (uint8_t)(x1 >> (8 * k));
    model_free(m);
    *coded_size = n;
    return HLZ_OK;
full:
    model_free(m);
    return hlz_fail(error, HLZ_ERR_CODEC, "cm output larger than its input");
}

hlz_status hlz_cm_decode(const uint8_t *src, size_t coded_size, uint8_t *dst, size_t raw_size, hlz_error *error)
{
    if (coded_size < CM_HEADER_SIZE + 4) return hlz_fail(error, HLZ_ERR_CORRUPT, "cm payload truncated");
    if (src[0] != CM_VERSION)
        return hlz_fail(error, HLZ_ERR_CORRUPT, "cm payload version %u unknown", (unsigned)src[0]);
    unsigned hb = src[1], mb = src[2];
    if (raw_size > UINT32_MAX - 1 || hb != hash_bits_for(raw_size) || mb != match_bits_for(raw_size))
        return hlz_fail(error, HLZ_ERR_CORRUPT, "cm payload has table sizes %u/%u, not those of %zu bytes", hb, mb,
                        raw_size);
    cm_model *m;
    hlz_status st = model_create(&m, dst, hb, mb, error);
    if (st != HLZ_OK) return st;
    size_t at = CM_HEADER_SIZE, over = 0;
    uint32_t x1 = 0, x2 = 0xffffffffu, x = 0;
    for (int k = 0; k < 4; k++) x = x << 8 | src[at++];
    for (size_t i = 0; i < raw_size; i++) {
        uint32_t c = 0;
        for (int b = 0; b < 8; b++) {
            uint32_t mid = split(x1, x2, predict(m));
            int y = x <= mid;
            if (y) x2 = mid;
            else x1 = mid + 1;
            c = c << 1 | (uint32_t)y;
            if (b == 7) dst[i] = (uint8_t)c; /* byte_update (inside update) reads it */
            update(m, y);
            while (((x1 ^ x2) & 0xff000000u) == 0) {
                x1 <<= 8;
                x2 = x2 << 8 | 255;
                uint32_t next = 0;
                if (at < coded_size) next = src[at++];
                else over++;
                x = x << 8 | next;
            }
        }
        if (over) break;
    }
    model_free(m);
    if (over) return hlz_fail(error, HLZ_ERR_CORRUPT, "cm payload truncated");
    if (at != coded_size)
        return hlz_fail(error, HLZ_ERR_CORRUPT, "cm payload has %zu bytes after its end", coded_size - at);
    return HLZ_OK;
}
