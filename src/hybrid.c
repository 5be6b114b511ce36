/* hybrid.c - the match and context models and their mixer (hybrid.h).
 *
 * Probabilities are 16-bit (1/65536), logits ("stretch" domain) are in
 * 1/256 nat, clamped to +-2047, as in the PAQ family of compressors. Every
 * table is built from integer arithmetic or the deterministic double exp, so
 * encoder and decoder agree on every machine. */
#include "hybrid.h"
#include "detmath.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* Every constant below is part of the archive format (doc/format.md). */
#define ORDERS 4          /* context models of 1..ORDERS tokens */
#define MATCH_MIN 5       /* tokens that must repeat before the match model predicts */
#define MATCH_VERIFY 32   /* tokens compared backwards to measure a new match */
#define LEN_BUCKETS 8     /* match length classes for the mixer's weight sets */
#define LM_BUCKETS 3      /* classes of the model's own probability of the candidate */
#define CONF_MAX 15       /* confidence states of a context model entry */
#define INPUTS (3 + ORDERS)
#define AGREE_BUCKETS 4   /* how many online models name the candidate first: 0..3+ */

#define SETS (HLZ_HYBRID_CANDIDATES * LEN_BUCKETS * LM_BUCKETS * AGREE_BUCKETS)
#define APM_CONTEXTS (HLZ_HYBRID_CANDIDATES * 24)
#define MIX_SHIFT 20      /* learning rate of the mixer: err * x >> MIX_SHIFT per update */
#define MIX_RATE 16        /* learning rate of a weight set after many updates */
#define MIX_RATE_START 128 /* ... and when it is new: rate = RATE + (START - RATE) * D / (D + updates) */
#define MIX_DECAY 512
#define APM_RATE 6        /* secondary estimation: the nearer knot moves 1/64 of the way */
#define STATE_LIMIT 1023  /* adaptive probabilities stop slowing down after this many updates */

/* ---- squash and stretch ------------------------------------------------- */

static uint16_t squash_table[4095]; /* d = -2047..2047 -> 65536 / (1 + e^(-d/256)), in 1..65535 */
static int16_t stretch_table[4096];  /* p >> 4 -> the smallest d with squash(d) >= p */
static uint32_t reciprocal[STATE_LIMIT + 1]; /* 2^16 / (n + 1.5) */
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

static void make_tables(void)
{
    for (int d = -2047; d <= 2047; d++) {
        double p = 65536.0 / (1.0 + hlz_det_exp(-(double)d / 256.0));
        long v = (long)(p + 0.5);
        squash_table[d + 2047] = (uint16_t)(v < 1 ? 1 : v > 65535 ? 65535 : v);
    }
    int d = -2047;
    for (int i = 0; i < 4096; i++) {
        uint32_t p = (uint32_t)i * 16 + 8;
        while (d < 2047 && squash_table[d + 2047] < p) d++;
        stretch_table[i] = (int16_t)d;
    }
    for (uint32_t n = 0; n <= STATE_LIMIT; n++) reciprocal[n] = (uint32_t)(131072 / (2 * n + 3));
}

static int squash(int d) { return squash_table[(d < -2047 ? -2047 : d > 2047 ? 2047 : d) + 2047]; }
static int stretch(uint32_t p16) { return stretch_table[p16 >> 4]; }

/* ---- adaptive probabilities ---------------------------------------------- */

typedef struct {
    uint32_t p; /* probability of a 1 in 1/2^32 */
    uint32_t n; /* updates so far, at most STATE_LIMIT */
} state;

static void state_init(state *s) { s->p = 1u << 31, s->n = 0; }
static uint32_t state_p16(const state *s) { uint32_t p = s->p >> 16; return p ? p : 1; }

/* p moves by 1/(n + 1.5) of the distance to the outcome: a running average
 * at first, then an exponential one. */
static void state_update(state *s, int y)
{
    int64_t target = y ? (int64_t)0xffffffff : 0;
    s->p = (uint32_t)((int64_t)s->p + (((target - (int64_t)s->p) * reciprocal[s->n]) >> 16));
    if (s->n < STATE_LIMIT) s->n++;
}

/* ---- the models ------------------------------------------------------------ */

typedef struct {
    uint16_t check;   /* more hash bits, to tell contexts apart */
    uint8_t used;
    uint8_t conf[2];  /* times each token was confirmed, halved when passed over */
    int32_t token[2]; /* the two tokens that followed this context last, the latest first */
} ctx_entry;

struct hlz_hybrid {
    unsigned parts;
    uint32_t n_vocab;
    int32_t *hist;          /* the tokens so far */
    size_t n, cap;
    uint32_t table_bits;
    uint32_t *match_table;  /* hash of MATCH_MIN tokens -> the position after them */
    size_t match_ptr;       /* predicted token: hist[match_ptr], while match_len > 0 */
    uint32_t match_len;
    ctx_entry *ctx[ORDERS];
    state match_state[24];               /* P(the match is right | length class) */
    state ctx_state[ORDERS][2][CONF_MAX + 1]; /* P(the context's token is right | rank, confidence) */
    int32_t weight[SETS][INPUTS];
    uint32_t updates[SETS];
    uint16_t apm[APM_CONTEXTS][33];
    /* this token's candidates (filled by predict) */
    size_t n_cand;
    int32_t cand[HLZ_HYBRID_CANDIDATES];
    uint32_t ctx_hash[ORDERS];
    ctx_entry *ctx_hit[ORDERS]; /* the entry of each order for this context, or NULL */
};

static uint32_t ceil_log2(size_t n)
{
    uint32_t b = 0;
    while (b < 40 && ((size_t)1 << b) < n) b++;
    return b;
}

hlz_status hlz_hybrid_create(unsigned parts, uint32_t n_vocab, size_t n_tokens, hlz_hybrid **out, hlz_error *e)
{
    *out = NULL;
    if (parts & ~(unsigned)HLZ_MIX_ALL) return hlz_fail(e, HLZ_ERR_CORRUPT, "unknown hybrid parts 0x%x", parts);
    pthread_once(&tables_once, make_tables);
    hlz_hybrid *h = calloc(1, sizeof *h);
    if (!h) return hlz_fail(e, HLZ_ERR_NOMEM, "out of memory");
    h->parts = parts;
    h->n_vocab = n_vocab;
    h->cap = n_tokens;
    /* Two slots per token, between 2^12 and 2^22 entries: a pure function of n_tokens. */
    uint32_t bits = ceil_log2(n_tokens) + 1;
    h->table_bits = bits < 12 ? 12 : bits > 22 ? 22 : bits;
    bool ok = (h->hist = malloc((n_tokens ? n_tokens : 1) * sizeof *h->hist)) != NULL;
    if (ok && (parts & HLZ_MIX_MATCH))
        ok = (h->match_table = calloc((size_t)1 << h->table_bits, sizeof *h->match_table)) != NULL;
    for (int o = 0; ok && o < ORDERS && (parts & HLZ_MIX_CONTEXT); o++)
        ok = (h->ctx[o] = calloc((size_t)1 << h->table_bits, sizeof *h->ctx[o])) != NULL;
    if (!ok) {
        hlz_hybrid_free(h);
        return hlz_fail(e, HLZ_ERR_NOMEM, "out of memory");
    }
    for (int i = 0; i < 24; i++) state_init(&h->match_state[i]);
    for (int o = 0; o < ORDERS; o++)
        for (int r = 0; r < 2; r++)
            for (int c = 0; c <= CONF_MAX; c++) state_init(&h->ctx_state[o][r][c]);
    for (int s = 0; s < SETS; s++) h->weight[s][0] = 65536; /* trust the model alone at first */
    for (int c = 0; c < APM_CONTEXTS; c++)
        for (int k = 0; k < 33; k++) h->apm[c][k] = (uint16_t)squash(k * 128 - 2048);
    *out = h;
    return HLZ_OK;
}

void hlz_hybrid_free(hlz_hybrid *h)
{
    if (!h) return;
    free(h->hist);
    free(h->match_table);
    for (int o = 0; o < ORDERS; o++) free(h->ctx[o]);
    free(h);
}

static uint32_t mix32(uint32_t x)
{
    x ^= x >> 16, x *= 0x7feb352du;
    x ^= x >> 15, x *= 0x846ca68bu;
    return x ^ (x >> 16);
}

/* Hash of the last k tokens (k <= h->n). */
static uint32_t hash_last(const hlz_hybrid *h, size_t k, uint32_t seed)
{
    uint32_t x = seed;
    for (size_t i = h->n - k; i < h->n; i++) x = mix32(x + (uint32_t)h->hist[i] + 0x9e3779b9u);
    return x;
}

/* Length class: 0 (no match), 1..15, then one per doubling up to 23. */
static int length_class(uint32_t len)
{
    if (len < 16) return (int)len;
    int c = 16;
    for (uint32_t l = len >> 5; l && c < 23; l >>= 1) c++;
    return c;
}

static int length_bucket(uint32_t len)
{
    static const uint8_t b[24] = {0, 1, 2, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 5, 5, 5, 6, 7, 7, 7, 7, 7, 7, 7};
    return b[length_class(len)];
}

static void add_candidate(hlz_hybrid *h, int32_t token)
{
    if (h->n_cand == HLZ_HYBRID_CANDIDATES) return;
    for (size_t j = 0; j < h->n_cand; j++)
        if (h->cand[j] == token) return;
    h->cand[h->n_cand++] = token;
}

/* The candidates for the next token: the match model's, then the context
 * models' from the longest context down. */
static void predict(hlz_hybrid *h)
{
    h->n_cand = 0;
    if (h->match_len) add_candidate(h, h->hist[h->match_ptr]);
    for (int o = ORDERS - 1; o >= 0; o--) {
        h->ctx_hit[o] = NULL;
        if (!(h->parts & HLZ_MIX_CONTEXT) || h->n < (size_t)o + 1) continue;
        uint32_t x = hash_last(h, (size_t)o + 1, 0x51ed27u * (uint32_t)(o + 1));
        h->ctx_hash[o] = x;
        ctx_entry *e = &h->ctx[o][x >> (32 - h->table_bits)];
        if (e->used && e->check == (uint16_t)x) h->ctx_hit[o] = e;
    }
    /* The latest successors first, the ones before them after. */
    for (int r = 0; r < 2; r++)
        for (int o = ORDERS - 1; o >= 0; o--) {
            const ctx_entry *e = h->ctx_hit[o];
            if (e && e->token[r] >= 0) add_candidate(h, e->token[r]);
        }
}

/* The mixer's inputs and weight set for candidate j, whose model probability
 * is p16 given that the earlier candidates were wrong. */
static int features(const hlz_hybrid *h, size_t j, uint32_t p16, int *x)
{
    int32_t c = h->cand[j];
    x[0] = stretch(p16);
    x[1] = 256;
    x[2] = 0;
    bool is_match = h->match_len && h->hist[h->match_ptr] == c;
    if (is_match) x[2] = stretch(state_p16(&h->match_state[length_class(h->match_len)]));
    int agree = is_match;
    for (int o = 0; o < ORDERS; o++) {
        const ctx_entry *e = h->ctx_hit[o];
        int r = !e ? -1 : e->token[0] == c ? 0 : e->token[1] == c ? 1 : -1;
        x[3 + o] = r >= 0 ? stretch(state_p16(&h->ctx_state[o][r][e->conf[r]])) : 0;
        agree += r == 0;
    }
    int lm = (x[0] + 2048) * LM_BUCKETS / 4096;
    int len = is_match ? length_bucket(h->match_len) : 0;
    if (agree >= AGREE_BUCKETS) agree = AGREE_BUCKETS - 1;
    return (((int)j * LEN_BUCKETS + len) * LM_BUCKETS + lm) * AGREE_BUCKETS + agree;
}

static int dot(const int32_t *w, const int *x)
{
    int64_t s = 0;
    for (int i = 0; i < INPUTS; i++) s += (int64_t)w[i] * x[i];
    s >>= 16;
    return (int)(s < -2047 ? -2047 : s > 2047 ? 2047 : s);
}

/* One decision: the probability (1..65535 in 1/65536) that the next token is
 * candidate j, and what is needed to learn from the outcome. */
typedef struct {
    int x[INPUTS];
    int set, d, apm_ctx, apm_lo, apm_w;
    uint32_t p16;
} decision;

static void decide(const hlz_hybrid *h, size_t j, uint32_t model_p16, decision *q)
{
    q->set = features(h, j, model_p16, q->x);
    q->d = dot(h->weight[q->set], q->x);
    uint32_t p = (uint32_t)squash(q->d);
    if (h->parts & HLZ_MIX_SSE) {
        bool is_match = h->match_len && h->hist[h->match_ptr] == h->cand[j];
        q->apm_ctx = (int)j * 24 + (is_match ? length_class(h->match_len) : 0);
        int v = q->d + 2048; /* 1..4095 */
        q->apm_lo = v >> 7, q->apm_w = v & 127;
        const uint16_t *t = h->apm[q->apm_ctx];
        uint32_t a = ((uint32_t)t[q->apm_lo] * (uint32_t)(128 - q->apm_w) + (uint32_t)t[q->apm_lo + 1] * (uint32_t)q->apm_w) >> 7;
        p = (p + 3 * a) >> 2;
    }
    q->p16 = p < 1 ? 1 : p > 65535 ? 65535 : p;
}

static void learn_decision(hlz_hybrid *h, const decision *q, int y)
{
    uint32_t u = h->updates[q->set];
    int rate = MIX_RATE + (int)((uint32_t)(MIX_RATE_START - MIX_RATE) * MIX_DECAY / (MIX_DECAY + u));
    if (u < 0xffffffffu) h->updates[q->set] = u + 1;
    int err = ((y << 16) - (int)squash(q->d)) * rate;
    int32_t *w = h->weight[q->set];
    for (int i = 0; i < INPUTS; i++) w[i] += (int32_t)(((int64_t)q->x[i] * err) >> MIX_SHIFT);
    if (h->parts & HLZ_MIX_SSE) {
        uint16_t *t = &h->apm[q->apm_ctx][q->apm_lo + (q->apm_w >> 6)];
        int target = y ? 65535 : 0;
        *t = (uint16_t)(*t + ((target - (int)*t) >> APM_RATE));
    }
}

/* After the token is known: the online models learn it. */
static void learn_token(hlz_hybrid *h, int32_t token)
{
    if (h->match_len) state_update(&h->match_state[length_class(h->match_len)], h->hist[h->match_ptr] == token);
    for (int o = 0; o < ORDERS; o++) {
        if (!(h->parts & HLZ_MIX_CONTEXT) || h->n < (size_t)o + 1) continue;
        ctx_entry *e = h->ctx_hit[o];
        if (e) {
            for (int r = 0; r < 2; r++)
                if (e->token[r] >= 0) state_update(&h->ctx_state[o][r][e->conf[r]], e->token[r] == token);
            if (e->token[0] == token) {
                if (e->conf[0] < CONF_MAX) e->conf[0]++;
            } else {
                /* The new token goes first; the old first stays as the second. */
                uint8_t conf = e->token[1] == token ? e->conf[1] : 0;
                e->token[1] = e->token[0], e->conf[1] = e->conf[0] >> 1;
                e->token[0] = token, e->conf[0] = conf < CONF_MAX ? conf + 1 : CONF_MAX;
                if (conf == 0) e->conf[0] = 0;
            }
        } else {
            uint32_t x = h->ctx_hash[o];
            e = &h->ctx[o][x >> (32 - h->table_bits)];
            *e = (ctx_entry){.check = (uint16_t)x, .used = 1, .conf = {0, 0}, .token = {token, -1}};
        }
    }
    h->hist[h->n++] = token;
    if (!(h->parts & HLZ_MIX_MATCH)) return;
    if (h->match_len && h->hist[h->match_ptr] == token) {
        h->match_ptr++;
        if (h->match_len < 65535) h->match_len++;
    } else {
        h->match_len = 0;
    }
    if (h->n < MATCH_MIN) return;
    uint32_t slot = hash_last(h, MATCH_MIN, 0x2545f491u) >> (32 - h->table_bits);
    if (!h->match_len && h->match_table[slot]) {
        /* A new match: the position after an earlier occurrence; measure it backwards. */
        size_t p = h->match_table[slot], len = 0;
        while (len < MATCH_VERIFY && len < p && h->hist[p - 1 - len] == h->hist[h->n - 1 - len]) len++;
        if (len >= MATCH_MIN) h->match_ptr = p, h->match_len = (uint32_t)len;
    }
    h->match_table[slot] = (uint32_t)h->n;
}

/* The model's table without the candidates (entropy.h hlz_freq_exclude). */
static void exclude(const hlz_hybrid *h, uint32_t *f) { hlz_freq_exclude(f, h->n_vocab, h->cand, h->n_cand); }

/* The model's probability of candidate j given that the earlier ones were wrong. */
static uint32_t model_p16(uint32_t fc, uint64_t remaining)
{
    uint64_t p = ((uint64_t)fc << 16) / remaining;
    return p < 1 ? 1 : p > 65535 ? 65535 : (uint32_t)p;
}

static hlz_symbol decision_symbol(uint32_t p16, int y)
{
    uint32_t one = p16 << (HLZ_FREQ_BITS - 16);
    return y ? (hlz_symbol){0, one} : (hlz_symbol){one, HLZ_FREQ_TOTAL - one};
}

/* The encoder's decisions for the candidates that predict() made, given the
 * model's frequency of each (fc): their symbols into sym (*k of them) and
 * what they teach. True when the token was one of them (then learned). */
static bool encode_decisions(hlz_hybrid *h, const uint32_t *fc, int32_t token, hlz_symbol *sym, size_t *k)
{
    uint64_t remaining = HLZ_FREQ_TOTAL;
    for (size_t j = 0; j < h->n_cand; j++) {
        decision q;
        decide(h, j, model_p16(fc[j], remaining), &q);
        int y = h->cand[j] == token;
        sym[(*k)++] = decision_symbol(q.p16, y);
        learn_decision(h, &q, y);
        if (y) {
            learn_token(h, token);
            return true;
        }
        remaining -= fc[j];
    }
    return false;
}

size_t hlz_hybrid_encode(hlz_hybrid *h, uint32_t *f, int32_t token, hlz_symbol *sym)
{
    size_t k = 0;
    if (h->parts) {
        predict(h);
        uint32_t fc[HLZ_HYBRID_CANDIDATES];
        for (size_t j = 0; j < h->n_cand; j++) fc[j] = f[h->cand[j]];
        if (encode_decisions(h, fc, token, sym, &k)) return k;
        exclude(h, f);
    }
    uint32_t cum = 0;
    for (int32_t i = 0; i < token; i++) cum += f[i];
    sym[k++] = (hlz_symbol){cum, f[token]};
    if (h->parts) learn_token(h, token);
    else h->n++;
    return k;
}

void hlz_hybrid_candidates(hlz_hybrid *h, int32_t token, int32_t *cand)
{
    size_t k = 0;
    if (h->parts) {
        predict(h);
        for (; k < h->n_cand; k++) cand[k] = h->cand[k];
    }
    for (; k < HLZ_HYBRID_CANDIDATES; k++) cand[k] = -1;
    if (h->parts) learn_token(h, token);
    else h->n++;
}

size_t hlz_hybrid_encode_mix(hlz_hybrid *h, const int32_t *cand, const hlz_token_mix *m, int32_t token, hlz_symbol *sym)
{
    size_t k = 0;
    if (h->parts) {
        predict(h);
        for (size_t j = 0; j < HLZ_HYBRID_CANDIDATES; j++)
            if (cand[j] != (j < h->n_cand ? h->cand[j] : -1)) return 0; /* not the guesses these figures are for */
        if (encode_decisions(h, m->fc, token, sym, &k)) return k;
    }
    if (m->freq == 0) return 0; /* the token was said to be a candidate */
    sym[k++] = (hlz_symbol){m->cum, m->freq};
    if (h->parts) learn_token(h, token);
    else h->n++;
    return k;
}

/* The decoder in three pieces (hybrid.h); hlz_hybrid_decode below is made
 * of them, so that the GPU's decoder and the CPU's read the same way. */
hlz_status hlz_hybrid_decode_guess(hlz_hybrid *h, int32_t *cand, hlz_error *e)
{
    if (h->n >= h->cap) return hlz_fail(e, HLZ_ERR_CORRUPT, "hybrid data holds more tokens than its header");
    size_t k = 0;
    if (h->parts) {
        predict(h);
        for (; k < h->n_cand; k++) cand[k] = h->cand[k];
    }
    for (; k < HLZ_HYBRID_CANDIDATES; k++) cand[k] = -1;
    return HLZ_OK;
}

/* The decisions the encoder's encode_decisions wrote, read back: the same
 * probabilities from the same state, each consumed as it is decided. */
hlz_status hlz_hybrid_decode_decide(hlz_hybrid *h, const uint32_t *fc, hlz_rans_decoder *d, int32_t *token,
                                    hlz_error *e)
{
    *token = -1;
    if (!h->parts) return HLZ_OK;
    uint64_t remaining = HLZ_FREQ_TOTAL;
    for (size_t j = 0; j < h->n_cand; j++) {
        decision q;
        decide(h, j, model_p16(fc[j], remaining), &q);
        uint32_t one = q.p16 << (HLZ_FREQ_BITS - 16);
        int y = hlz_rans_slot(d) < one;
        hlz_symbol s = decision_symbol(q.p16, y);
        hlz_status st = hlz_rans_advance(d, s.cum, s.freq, e);
        if (st != HLZ_OK) return st;
        learn_decision(h, &q, y);
        if (y) {
            *token = h->cand[j];
            learn_token(h, *token);
            return HLZ_OK;
        }
        remaining -= fc[j];
    }
    return HLZ_OK;
}

hlz_status hlz_hybrid_decode_finish(hlz_hybrid *h, hlz_rans_decoder *d, int32_t token, uint32_t cum, uint32_t freq,
                                    hlz_error *e)
{
    hlz_status st = hlz_rans_advance(d, cum, freq, e);
    if (st != HLZ_OK) return st;
    if (h->parts) learn_token(h, token);
    else h->n++;
    return HLZ_OK;
}

hlz_status hlz_hybrid_decode(hlz_hybrid *h, uint32_t *f, hlz_rans_decoder *d, int32_t *token, hlz_error *e)
{
    int32_t cand[HLZ_HYBRID_CANDIDATES];
    uint32_t fc[HLZ_HYBRID_CANDIDATES];
    hlz_status st = hlz_hybrid_decode_guess(h, cand, e);
    if (st != HLZ_OK) return st;
    for (size_t j = 0; j < HLZ_HYBRID_CANDIDATES; j++) fc[j] = cand[j] >= 0 ? f[cand[j]] : 0;
    if ((st = hlz_hybrid_decode_decide(h, fc, d, token, e)) != HLZ_OK || *token >= 0) return st;
    if (h->parts) exclude(h, f);
    uint32_t cum, sym = hlz_freq_find(f, h->n_vocab, hlz_rans_slot(d), &cum);
    *token = (int32_t)sym;
    return hlz_hybrid_decode_finish(h, d, *token, cum, f[sym], e);
}
