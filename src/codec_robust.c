/* codec_robust.c - the robust codec (robust.h, doc/robust.md): Hu & Tang's
 * mismatch-tolerant code. The shared layout (buckets, longforms, bit I/O)
 * comes first, then the encoder and the decoder, written separately the way
 * the seed's section III states and proves them. */
#include "robust.h"
#include "detmath.h"
#include "entropy.h"
#include "kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Widening U_i by a hair beyond c^2 keeps Lemma 2 true through the rounding
 * of the bound arithmetic (a larger U_i only lengthens the prefix). */
#define ENCODER_SLACK 1e-7
/* The decoder widens U-hat_i by less, for the same reason on Lemma 1's side
 * (x_i in U-hat_i when p' is within C of p up to the rounding of the bound);
 * any slack below the encoder's keeps Lemma 2. */
#define DECODER_SLACK 1e-9

int hlz_robust_params_default(double mismatch, hlz_robust_params *p)
{
    if (!(mismatch > 1.0 && mismatch <= 65535.0)) return -1;
    p->mismatch = (uint32_t)(mismatch * HLZ_ROBUST_ONE + 0.5);
    if (p->mismatch <= HLZ_ROBUST_ONE) return -1;
    p->ratio = 8 * HLZ_ROBUST_ONE;
    p->buckets = 33;
    p->code = HLZ_ROBUST_CODE_AUTO;
    p->seed = 0;
    return 0;
}

hlz_status hlz_robust_params_check(const hlz_robust_params *p, hlz_error *e)
{
    if (p->mismatch <= HLZ_ROBUST_ONE || p->ratio <= HLZ_ROBUST_ONE || p->buckets < 2 ||
        p->buckets > HLZ_ROBUST_BUCKETS_MAX)
        return hlz_fail(e, HLZ_ERR_CORRUPT, "corrupt robust payload: mismatch, ratio or bucket count");
    if (p->code >= HLZ_ROBUST_CODE_COUNT)
        return hlz_fail(e, HLZ_ERR_VERSION, "robust bucket code %u is unknown to this hlz; upgrade hlz", p->code);
    return HLZ_OK;
}

void hlz_robust_log_softmax(const float *logits, uint32_t n, double *logp)
{
    float max = -INFINITY;
    for (uint32_t i = 0; i < n; i++) max = logits[i] > max ? logits[i] : max;
    if (!isfinite(max)) { /* no usable logits: uniform */
        for (uint32_t i = 0; i < n; i++) logp[i] = -hlz_det_log((double)n);
        return;
    }
    double sum = 0;
    for (uint32_t i = 0; i < n; i++)
        if (logits[i] == logits[i]) sum += (double)hlz_expf(logits[i] - max);
    double log_sum = hlz_det_log(sum);
    for (uint32_t i = 0; i < n; i++)
        logp[i] = logits[i] == logits[i] ? ((double)logits[i] - (double)max) - log_sum : -INFINITY;
}

/* ---- the layout both sides share ------------------------------------------ */

typedef struct {
    hlz_robust_params params;
    double log_c;       /* ln C */
    double width;       /* ln ratio: the width of a bucket in nats */
    uint32_t n_vocab;
    unsigned bits;      /* longform length l = ceil(log2 n_vocab) */
    uint32_t *longform; /* B(x): l-bit values, distinct */
    double *logp;       /* n_vocab scratch */
} layout;

/* ln of the lower bound of bucket k: ln r_k- (-inf for the last bucket). */
static double bucket_low(const layout *L, unsigned k)
{
    return k + 1u >= L->params.buckets ? -INFINITY : -(double)(k + 1) * L->width;
}

/* ln r_k+; bucket 0 ends at p = 1. */
static double bucket_high(const layout *L, unsigned k) { return k == 0 ? 0.0 : bucket_low(L, k - 1); }

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

static void layout_free(layout *L)
{
    free(L->longform);
    free(L->logp);
}

/* The longforms: a Fisher-Yates shuffle of 0 .. 2^l - 1 driven by
 * splitmix64(seed); token x gets entry x. */
static hlz_status layout_init(layout *L, const hlz_robust_params *p, uint32_t n_vocab, hlz_error *e)
{
    memset(L, 0, sizeof *L);
    L->params = *p;
    L->n_vocab = n_vocab;
    L->log_c = hlz_det_log((double)p->mismatch / HLZ_ROBUST_ONE);
    L->width = hlz_det_log((double)p->ratio / HLZ_ROBUST_ONE);
    while (L->bits < 31 && (1u << L->bits) < n_vocab) L->bits++;
    size_t space = (size_t)1 << L->bits;
    L->longform = malloc(space * sizeof *L->longform);
    L->logp = malloc((size_t)n_vocab * sizeof *L->logp);
    if (!L->longform || !L->logp) {
        layout_free(L);
        return hlz_fail(e, HLZ_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < space; i++) L->longform[i] = (uint32_t)i;
    uint64_t state = p->seed;
    for (size_t i = space; i > 1; i--) {
        /* Unbiased draw in [0, i) by rejection. */
        uint64_t limit = UINT64_MAX - UINT64_MAX % i, r;
        do r = splitmix64(&state); while (r >= limit);
        size_t j = (size_t)(r % i);
        uint32_t t = L->longform[i - 1];
        L->longform[i - 1] = L->longform[j];
        L->longform[j] = t;
    }
    return HLZ_OK;
}

/* a * b of the seed: the length of the longest common prefix of two l-bit longforms. */
static int shared_prefix(const layout *L, uint32_t a, uint32_t b)
{
    uint32_t d = a ^ b;
    if (d == 0) return (int)L->bits;
    return (int)L->bits - 32 + __builtin_clz(d);
}

/* Bit i (1-based, MSB first) of a longform. */
static unsigned longform_bit(const layout *L, uint32_t b, int i) { return (b >> (L->bits - (unsigned)i)) & 1u; }

/* ---- bucket codes (A of the seed) ----------------------------------------------- */

/* A prefix-free code of the K buckets: unary, or canonical Huffman from code
 * lengths stored in the payload. Either is fixed before the first token and
 * read without probabilities, so the decoder recovers each bucket exactly and
 * the mismatch proof does not depend on which code is used. */
typedef struct {
    uint8_t code;
    uint8_t length[HLZ_ROBUST_BUCKETS_MAX]; /* Huffman: bits of bucket k, 0 when unused */
    uint32_t word[HLZ_ROBUST_BUCKETS_MAX];  /* Huffman: its code word */
} bucket_code;

/* Canonical code words: by length, then bucket number. -1 unless the lengths
 * form a complete prefix code (Kraft sum 1; one used bucket gets length 1). */
static int canonical_words(bucket_code *a, unsigned K)
{
    uint64_t kraft = 0;
    uint32_t next = 0;
    for (unsigned len = 1; len <= HLZ_ROBUST_HUFFMAN_MAX; len++) {
        next <<= 1;
        for (unsigned k = 0; k < K; k++)
            if (a->length[k] == len) a->word[k] = next++, kraft += (uint64_t)1 << (HLZ_ROBUST_HUFFMAN_MAX - len);
    }
    unsigned used = 0;
    for (unsigned k = 0; k < K; k++) {
        if (a->length[k] > HLZ_ROBUST_HUFFMAN_MAX) return -1;
        used += a->length[k] > 0;
    }
    uint64_t full = (uint64_t)1 << HLZ_ROBUST_HUFFMAN_MAX;
    return kraft == full || (kraft == full / 2 && used == 1) ? 0 : -1; /* a single bucket: length 1 */
}

/* Huffman code lengths for the counts (O(K^2) merging; K <= 64). -1 when a
 * length would pass HLZ_ROBUST_HUFFMAN_MAX. */
static int huffman_lengths(const uint64_t *count, unsigned K, uint8_t *length)
{
    uint64_t weight[2 * HLZ_ROBUST_BUCKETS_MAX];
    int parent[2 * HLZ_ROBUST_BUCKETS_MAX], alive[2 * HLZ_ROBUST_BUCKETS_MAX];
    unsigned nodes = K, used = 0;
    for (unsigned k = 0; k < K; k++) weight[k] = count[k], alive[k] = count[k] > 0, parent[k] = -1, used += alive[k];
    memset(length, 0, K);
    if (used == 0) return -1;
    if (used == 1) {
        for (unsigned k = 0; k < K; k++) length[k] = (uint8_t)alive[k];
        return 0;
    }
    for (unsigned left = used; left > 1; left--) {
        int lo[2] = {-1, -1};
        for (unsigned i = 0; i < nodes; i++) {
            if (!alive[i]) continue;
            if (lo[0] < 0 || weight[i] < weight[lo[0]]) lo[1] = lo[0], lo[0] = (int)i;
            else if (lo[1] < 0 || weight[i] < weight[lo[1]]) lo[1] = (int)i;
        }
        weight[nodes] = weight[lo[0]] + weight[lo[1]], alive[nodes] = 1, parent[nodes] = -1;
        alive[lo[0]] = alive[lo[1]] = 0, parent[lo[0]] = parent[lo[1]] = (int)nodes;
        nodes++;
    }
    for (unsigned k = 0; k < K; k++) {
        if (!count[k]) continue;
        unsigned d = 0;
        for (int i = (int)k; parent[i] >= 0; i = parent[i]) d++;
        if (d > HLZ_ROBUST_HUFFMAN_MAX) return -1;
        length[k] = (uint8_t)d;
    }
    return 0;
}

static unsigned bucket_code_bits(const bucket_code *a, unsigned K, unsigned k)
{
    return a->code == HLZ_ROBUST_CODE_HUFFMAN ? a->length[k] : k + (k + 1u < K);
}

/* The adaptive bucket code (HLZ_ROBUST_CODE_ADAPTIVE): bucket k as D =
 * ceil(log2 K) binary decisions down a tree (most significant bit of k
 * first), each coded by rANS with a probability that adapts to the decisions
 * before it at that node. The state depends only on buckets already coded,
 * never on probabilities, so the decoder recovers every bucket exactly and
 * the mismatch proof is unchanged. (Contexts from the previous bucket and
 * faster or slower adaptation measured worse on the bench texts: doc/robust.md.) */
#define ADAPT_BITS 16  /* probabilities of a 0 decision, in 1/65536 */
#define ADAPT_SHIFT 5  /* each decision moves its probability 1/32 of the way */

typedef struct {
    unsigned depth;
    uint16_t p[HLZ_ROBUST_BUCKETS_MAX]; /* tree node 1 .. 2^D - 1 */
} adaptive;

static void adaptive_init(adaptive *m, unsigned K)
{
    m->depth = 0;
    while ((1u << m->depth) < K) m->depth++;
    for (unsigned i = 0; i < HLZ_ROBUST_BUCKETS_MAX; i++) m->p[i] = 1u << (ADAPT_BITS - 1);
}

/* The rANS interval of decision `bit` at probability p, then p's update. */
static void adaptive_step(uint16_t *p, unsigned bit, uint32_t *cum, uint32_t *freq)
{
    const unsigned scale = HLZ_FREQ_BITS - ADAPT_BITS;
    *cum = bit ? (uint32_t)*p << scale : 0;
    *freq = bit ? (uint32_t)((1u << ADAPT_BITS) - *p) << scale : (uint32_t)*p << scale;
    if (bit) *p = (uint16_t)(*p - (*p >> ADAPT_SHIFT));
    else *p = (uint16_t)(*p + (((1u << ADAPT_BITS) - *p) >> ADAPT_SHIFT));
}

/* ---- the encoder (section III-A) --------------------------------------------- */

typedef struct {
    uint8_t *dst;
    size_t capacity, bit; /* bits written */
    int full;
} bit_writer;

static void put_bits(bit_writer *w, uint32_t v, unsigned n)
{
    for (unsigned i = n; i-- > 0;) {
        if (w->bit >> 3 >= w->capacity) {
            w->full = 1;
            return;
        }
        if ((w->bit & 7) == 0) w->dst[w->bit >> 3] = 0;
        w->dst[w->bit >> 3] |= (uint8_t)(((v >> i) & 1u) << (7 - (w->bit & 7)));
        w->bit++;
    }
}

struct hlz_robust_encoder {
    layout L;
    size_t n, at;       /* tokens expected, tokens seen */
    uint8_t *bucket;    /* per token: k(i) */
    uint32_t *tail;     /* per token: the longform prefix and terminating bit */
    uint8_t *tail_bits; /* their count */
    uint8_t asked;      /* the bucket code asked for (AUTO: the smallest) */
    hlz_robust_stats stats;
};

/* The bucket k(i) holding ln p, by the same comparisons against the same
 * bounds that U_i and the decoder's U-hat_i use. */
static unsigned bucket_of(const layout *L, double logp)
{
    unsigned k = 0;
    while (k + 1u < L->params.buckets && !(logp > bucket_low(L, k))) k++;
    return k;
}

hlz_status hlz_robust_encoder_create(const hlz_robust_params *params, uint32_t n_vocab, size_t tokens,
                                     hlz_robust_encoder **out, hlz_error *error)
{
    *out = NULL;
    hlz_robust_params p = *params;
    if (p.code == HLZ_ROBUST_CODE_AUTO) p.code = HLZ_ROBUST_CODE_UNARY;
    hlz_status st = hlz_robust_params_check(&p, error);
    if (st != HLZ_OK) return st == HLZ_ERR_VERSION ? hlz_fail(error, HLZ_ERR_PARAM, "unknown robust bucket code") : st;
    hlz_robust_encoder *c = calloc(1, sizeof *c);
    if (!c) return hlz_fail(error, HLZ_ERR_NOMEM, "out of memory");
    if ((st = layout_init(&c->L, &p, n_vocab, error)) != HLZ_OK) {
        free(c);
        return st;
    }
    size_t n = tokens ? tokens : 1;
    c->n = tokens, c->asked = params->code;
    c->bucket = malloc(n), c->tail = malloc(n * sizeof *c->tail), c->tail_bits = malloc(n);
    if (!c->bucket || !c->tail || !c->tail_bits) {
        hlz_robust_encoder_free(c);
        return hlz_fail(error, HLZ_ERR_NOMEM, "out of memory");
    }
    *out = c;
    return HLZ_OK;
}

void hlz_robust_encoder_free(hlz_robust_encoder *c)
{
    if (!c) return;
    layout_free(&c->L);
    free(c->bucket), free(c->tail), free(c->tail_bits), free(c);
}

/* y_i = A(r_k(i)) + B(x_i)[1 : m_i + 1] + not B(x_i)[m_i + 2], with m_i the
 * longest prefix B(x_i) shares with a token of U_i (-1 when U_i is empty, so
 * the terminating bit alone follows the bucket). When m_i + 1 = l the whole
 * longform is sent and no bit terminates it: the decoder stops at l bits.
 * The bucket code A is chosen once all buckets are known (finish). */
void hlz_robust_encoder_put(hlz_robust_encoder *c, const float *logits, const double *logp, int32_t token)
{
    layout *L = &c->L;
    if (c->at >= c->n) { /* more tokens than announced: finish reports it */
        c->at++;
        return;
    }
    unsigned k = bucket_of(L, logp[token]);
    double slack = 2 * L->log_c + ENCODER_SLACK;
    double low = bucket_low(L, k), high = bucket_high(L, k) + slack;
    int m = -1;
    uint32_t b = L->longform[token];
    for (uint32_t x = 0; x < L->n_vocab; x++) {
        double q = logp[x];
        /* U_i: r_k-/c^2 < p(x) < c^2 r_k+; the last bucket reaches down to p = 0. */
        if ((int32_t)x == token || !(q < high) || !(low == -INFINITY || q > low - slack)) continue;
        int s = shared_prefix(L, L->longform[x], b);
        m = s > m ? s : m;
    }
    unsigned sent = (unsigned)(m + 1);
    uint32_t v = sent ? b >> (L->bits - sent) : 0;
    if (sent < L->bits) v = v << 1 | !longform_bit(L, b, (int)sent + 1), sent++;
    c->bucket[c->at] = (uint8_t)k;
    c->tail[c->at] = v;
    c->tail_bits[c->at] = (uint8_t)sent;
    c->at++;
    c->stats.prefix_bits += sent;
    c->stats.bucket_count[k]++;
    c->stats.tokens++;
    c->stats.model_bits += hlz_llm_token_bits(logits, L->n_vocab, token);
}

/* The adaptive code's rANS stream of all buckets into buf (capacity cap):
 * its size, or 0 when it does not fit. *start receives its first byte. */
static size_t adaptive_stream(const hlz_robust_encoder *c, uint8_t *buf, size_t cap, uint8_t **start)
{
    adaptive *m = malloc(sizeof *m);
    uint32_t *cum = malloc((c->n ? c->n : 1) * HLZ_ROBUST_BUCKETS_MAX / 8 * sizeof *cum);
    uint32_t *freq = malloc((c->n ? c->n : 1) * HLZ_ROBUST_BUCKETS_MAX / 8 * sizeof *freq);
    size_t size = 0, steps = 0;
    if (m && cum && freq) {
        adaptive_init(m, c->L.params.buckets);
        for (size_t i = 0; i < c->n; i++) { /* the model runs forwards, rANS takes the steps backwards */
            unsigned node = 1, k = c->bucket[i];
            for (unsigned d = m->depth; d-- > 0;) {
                unsigned bit = (k >> d) & 1u;
                adaptive_step(&m->p[node], bit, &cum[steps], &freq[steps]);
                steps++;
                node = node << 1 | bit;
            }
        }
        hlz_rans_encoder enc;
        hlz_rans_encoder_init(&enc, buf, cap);
        int full = 0;
        for (size_t s = steps; s-- > 0 && !full;) full = hlz_rans_put(&enc, cum[s], freq[s]) != 0;
        if (!full && hlz_rans_flush(&enc, start) == 0) size = (size_t)(buf + cap - *start);
    }
    free(m), free(cum), free(freq);
    return size;
}

static void put_bucket(bit_writer *w, const bucket_code *a, unsigned K, unsigned k)
{
    if (a->code == HLZ_ROBUST_CODE_HUFFMAN) {
        put_bits(w, a->word[k], a->length[k]);
    } else { /* unary: k ones, then a zero unless k is the last bucket */
        for (unsigned i = 0; i < k; i++) put_bits(w, 1, 1);
        if (k + 1u < K) put_bits(w, 0, 1);
    }
}

static size_t put_head(uint8_t *out, uint64_t n, double bits, unsigned flags, const hlz_robust_params *p,
                       const bucket_code *a)
{
    size_t h = hlz_put_varint(out, n);
    h += hlz_put_varint(out + h, (uint64_t)(bits * 64.0 + 0.5));
    h += hlz_put_varint(out + h, flags);
    hlz_put32(out + h, p->mismatch);
    hlz_put32(out + h + 4, p->ratio);
    out[h + 8] = p->buckets;
    out[h + 9] = a->code;
    hlz_put32(out + h + 10, p->seed);
    h += HLZ_ROBUST_HEAD_SIZE;
    if (a->code == HLZ_ROBUST_CODE_HUFFMAN) memcpy(out + h, a->length, p->buckets), h += p->buckets;
    return h;
}

/* The payload of each bucket code is sized (stats.code_bytes), then the one
 * asked for, or under AUTO the smallest, is written. */
hlz_status hlz_robust_encoder_finish(hlz_robust_encoder *c, unsigned flags, uint8_t *dst, size_t capacity,
                                     size_t *coded_size, hlz_robust_stats *stats, hlz_error *error)
{
    *coded_size = 0;
    if (c->at != c->n) return hlz_fail(error, HLZ_ERR_PARAM, "robust encoder given %zu of %zu tokens", c->at, c->n);
    unsigned K = c->L.params.buckets;
    hlz_robust_params p = c->L.params;
    bucket_code huff = {.code = HLZ_ROBUST_CODE_HUFFMAN};
    int huff_ok = huffman_lengths(c->stats.bucket_count, K, huff.length) == 0 && canonical_words(&huff, K) == 0;
    uint64_t unary_bits = 0, huff_bits = 0;
    for (unsigned k = 0; k < K; k++) {
        unary_bits += c->stats.bucket_count[k] * (k + (k + 1u < K));
        huff_bits += c->stats.bucket_count[k] * huff.length[k];
    }
    size_t rans_cap = 16 + 2 * (size_t)c->n * HLZ_ROBUST_BUCKETS_MAX / 8;
    uint8_t *rans = malloc(rans_cap), *rans_start = NULL;
    if (!rans) return hlz_fail(error, HLZ_ERR_NOMEM, "out of memory");
    size_t rans_size = adaptive_stream(c, rans, rans_cap, &rans_start);
    uint8_t varint[10];
    uint8_t head[30 + HLZ_ROBUST_HEAD_SIZE + HLZ_ROBUST_BUCKETS_MAX];
    bucket_code plain = {.code = HLZ_ROBUST_CODE_UNARY};
    size_t h0 = put_head(head, c->n, c->stats.model_bits, flags, &p, &plain), prefix = c->stats.prefix_bits;
    memset(c->stats.code_bytes, 0, sizeof c->stats.code_bytes);
    c->stats.code_bytes[HLZ_ROBUST_CODE_UNARY] = h0 + (size_t)((unary_bits + prefix + 7) / 8);
    if (huff_ok) c->stats.code_bytes[HLZ_ROBUST_CODE_HUFFMAN] = h0 + K + (size_t)((huff_bits + prefix + 7) / 8);
    if (rans_size)
        c->stats.code_bytes[HLZ_ROBUST_CODE_ADAPTIVE] =
            h0 + hlz_put_varint(varint, rans_size) + rans_size + (size_t)((prefix + 7) / 8);
    uint8_t code = c->asked;
    if (code == HLZ_ROBUST_CODE_AUTO)
        for (uint8_t k = code = 0; k < HLZ_ROBUST_CODE_COUNT; k++)
            if (c->stats.code_bytes[k] && c->stats.code_bytes[k] < c->stats.code_bytes[code]) code = k;
    hlz_status st = HLZ_OK;
    if (!c->stats.code_bytes[code]) st = hlz_fail(error, HLZ_ERR_CODEC, "robust bucket code %u unusable here", code);
    const bucket_code *a = code == HLZ_ROBUST_CODE_HUFFMAN ? &huff : &plain;
    plain.code = code; /* unary or adaptive: no table */
    p.code = code;
    size_t h = put_head(head, c->n, c->stats.model_bits, flags, &p, a);
    if (code == HLZ_ROBUST_CODE_ADAPTIVE) {
        h += hlz_put_varint(head + h, rans_size);
        if (st == HLZ_OK && h + rans_size <= capacity) memcpy(dst + h, rans_start, rans_size);
        h += rans_size;
    }
    bit_writer w = {.dst = dst + (capacity > h ? h : capacity), .capacity = capacity > h ? capacity - h : 0};
    c->stats.bucket_bits = 0;
    for (size_t i = 0; st == HLZ_OK && i < c->n && !w.full; i++) {
        if (code != HLZ_ROBUST_CODE_ADAPTIVE) {
            put_bucket(&w, a, K, c->bucket[i]);
            c->stats.bucket_bits += bucket_code_bits(a, K, c->bucket[i]);
        }
        put_bits(&w, c->tail[i], c->tail_bits[i]);
    }
    if (code == HLZ_ROBUST_CODE_ADAPTIVE) c->stats.bucket_bits = 8 * (uint64_t)rans_size;
    if (st == HLZ_OK && (w.full || h > capacity)) st = hlz_fail(error, HLZ_ERR_CODEC, "robust output larger than the limit");
    if (st == HLZ_OK) {
        memcpy(dst, head, h - (code == HLZ_ROBUST_CODE_ADAPTIVE ? rans_size : 0));
        *coded_size = h + ((w.bit + 7) >> 3);
        c->stats.code = code;
    }
    if (stats) *stats = c->stats;
    free(rans);
    return st;
}

/* Thread-safe for one llm: the walk's visits run on the calling thread. */
static void encode_token(void *context, const float *logits, int32_t token, size_t at)
{
    hlz_robust_encoder *c = context;
    (void)at;
    hlz_robust_log_softmax(logits, c->L.n_vocab, c->L.logp);
    hlz_robust_encoder_put(c, logits, c->L.logp, token);
}

hlz_status hlz_robust_encode(const hlz_llm *llm, const hlz_robust_params *params, const uint8_t *src, size_t size,
                             uint8_t *dst, size_t capacity, size_t *coded_size, hlz_robust_stats *stats,
                             hlz_error *error)
{
    *coded_size = 0;
    int32_t *ids;
    size_t n;
    unsigned flags;
    hlz_robust_encoder *c;
    hlz_robust_params p = *params;
    if (p.code == HLZ_ROBUST_CODE_AUTO) p.code = HLZ_ROBUST_CODE_UNARY;
    hlz_status st = hlz_robust_params_check(&p, error);
    if (st != HLZ_OK) return st == HLZ_ERR_VERSION ? hlz_fail(error, HLZ_ERR_PARAM, "unknown robust bucket code") : st;
    if ((st = hlz_llm_tokenize(llm, src, size, &ids, &n, &flags, error)) != HLZ_OK) return st;
    st = hlz_robust_encoder_create(params, hlz_llm_vocab(llm), n, &c, error);
    if (st == HLZ_OK) st = hlz_llm_walk_encode(llm, ids, n, encode_token, c, error);
    if (st == HLZ_OK) st = hlz_robust_encoder_finish(c, flags, dst, capacity, coded_size, stats, error);
    else if (stats && c) *stats = c->stats;
    hlz_robust_encoder_free(c);
    free(ids);
    return st;
}

/* ---- the decoder (section III-B) --------------------------------------------- */

static hlz_robust_hook decode_hook;
static void *decode_hook_ctx;

void hlz_robust_set_decode_hook(hlz_robust_hook hook, void *ctx)
{
    decode_hook = hook;
    decode_hook_ctx = ctx;
}

struct hlz_robust_decoder {
    layout L;
    bucket_code A;
    adaptive *model;        /* the adaptive code's state */
    hlz_rans_decoder rans;  /* and its stream */
    const uint8_t *src;     /* the bit stream */
    size_t bits, at;        /* bits in the stream, bits read */
    uint64_t n, done;       /* tokens in the payload, tokens decoded */
    unsigned flags;
};

/* Bit `i` of the stream; 0 past its end (reading there is caught by the
 * consumed-length check). */
static unsigned peek_bit(const hlz_robust_decoder *d, size_t i)
{
    return i < d->bits ? (d->src[i >> 3] >> (7 - (i & 7))) & 1u : 0;
}

/* The bucket of the next token, by its prefix-free code A: bits only. */
static hlz_status read_bucket(hlz_robust_decoder *d, unsigned *bucket, hlz_error *e)
{
    unsigned k = 0, K = d->L.params.buckets;
    if (d->A.code == HLZ_ROBUST_CODE_ADAPTIVE) {
        adaptive *m = d->model;
        unsigned node = 1;
        for (unsigned i = 0; i < m->depth; i++) {
            uint16_t *p = &m->p[node];
            unsigned bit = hlz_rans_slot(&d->rans) >= ((uint32_t)*p << (HLZ_FREQ_BITS - ADAPT_BITS));
            uint32_t cum, freq;
            adaptive_step(p, bit, &cum, &freq);
            hlz_status st = hlz_rans_advance(&d->rans, cum, freq, e);
            if (st != HLZ_OK) return st;
            node = node << 1 | bit;
        }
        k = node - (1u << m->depth);
        if (k >= K) return hlz_fail(e, HLZ_ERR_CORRUPT, "robust data codes bucket %u of %u at token %llu", k, K,
                                    (unsigned long long)d->done);
    } else if (d->A.code == HLZ_ROBUST_CODE_HUFFMAN) {
        uint32_t word = 0;
        unsigned len = 0;
        for (;;) {
            if (++len > HLZ_ROBUST_HUFFMAN_MAX || d->at >= d->bits)
                return hlz_fail(e, HLZ_ERR_CORRUPT, "robust data ends inside a bucket code at token %llu",
                                (unsigned long long)d->done);
            word = word << 1 | peek_bit(d, d->at++);
            for (k = 0; k < K && !(d->A.length[k] == len && d->A.word[k] == word); k++) {}
            if (k < K) break;
        }
    } else {
        while (k + 1u < K && peek_bit(d, d->at)) k++, d->at++;
        if (k + 1u < K) d->at++;
    }
    *bucket = k;
    return HLZ_OK;
}

hlz_status hlz_robust_decoder_get(hlz_robust_decoder *d, const double *logp, int32_t *token, hlz_error *e)
{
    layout *L = &d->L;
    size_t at = (size_t)d->done;
    if (d->done >= d->n) return hlz_fail(e, HLZ_ERR_CORRUPT, "robust payload has only %llu tokens", (unsigned long long)d->n);
    unsigned k = 0;
    hlz_status st = read_bucket(d, &k, e);
    if (st != HLZ_OK) return st;
    /* Z_i: the next l bits, as a longform. */
    uint32_t z = 0;
    for (unsigned i = 0; i < L->bits; i++) z = z << 1 | peek_bit(d, d->at + i);
    /* U-hat_i = {x : r_k-/c < p'(x) < c r_k+}; the last bucket reaches down to p' = 0. */
    double slack = L->log_c + DECODER_SLACK;
    double low = bucket_low(L, k), high = bucket_high(L, k) + slack;
    int best = -1, ties = 0;
    int32_t pick = -1;
    for (uint32_t x = 0; x < L->n_vocab; x++) {
        double q = logp[x];
        if (!(q < high) || !(low == -INFINITY || q > low - slack)) continue;
        int s = shared_prefix(L, L->longform[x], z);
        if (s > best) best = s, pick = (int32_t)x, ties = 0;
        else if (s == best) ties++;
    }
    /* Under the mismatch bound x_i is in U-hat_i and is its only token with the
     * longest match (Proposition 1); anything else means the bound was broken. */
    if (pick < 0 || ties)
        return hlz_fail(e, HLZ_ERR_CORRUPT, "robust data does not decode at token %zu (probabilities mismatched beyond C?)", at);
    /* y_i ends at the first bit that disagrees with B(x_i), or after l bits. */
    size_t used = best < (int)L->bits ? (size_t)best + 1 : L->bits;
    if (d->at + used > d->bits)
        return hlz_fail(e, HLZ_ERR_CORRUPT, "robust data ends inside token %zu", at);
    d->at += used;
    d->done++;
    *token = pick;
    return HLZ_OK;
}

static hlz_status get_head(const uint8_t *src, size_t size, size_t *at, uint64_t *n, uint64_t *bits,
                           uint64_t *flags, hlz_robust_params *p, bucket_code *A, hlz_error *e)
{
    *at = 0;
    if (hlz_get_varint(src, size, at, n) || hlz_get_varint(src, size, at, bits) ||
        hlz_get_varint(src, size, at, flags) || *flags > HLZ_LLM_FLAG_CRLF || size - *at < HLZ_ROBUST_HEAD_SIZE)
        return hlz_fail(e, HLZ_ERR_CORRUPT, "corrupt robust payload header");
    const uint8_t *q = src + *at;
    p->mismatch = hlz_le32(q);
    p->ratio = hlz_le32(q + 4);
    p->buckets = q[8];
    p->code = q[9];
    p->seed = hlz_le32(q + 10);
    *at += HLZ_ROBUST_HEAD_SIZE;
    hlz_status st = hlz_robust_params_check(p, e);
    if (st != HLZ_OK || !A) return st;
    memset(A, 0, sizeof *A);
    A->code = p->code;
    if (p->code == HLZ_ROBUST_CODE_HUFFMAN) {
        if (size - *at < p->buckets) return hlz_fail(e, HLZ_ERR_CORRUPT, "corrupt robust payload: bucket code");
        memcpy(A->length, src + *at, p->buckets);
        *at += p->buckets;
        if (canonical_words(A, p->buckets) != 0)
            return hlz_fail(e, HLZ_ERR_CORRUPT, "corrupt robust payload: bucket code lengths");
    }
    return HLZ_OK;
}

hlz_status hlz_robust_payload_info(const uint8_t *src, size_t size, hlz_robust_params *params, uint64_t *tokens,
                                   double *model_bits, hlz_error *error)
{
    size_t at;
    uint64_t bits, flags;
    hlz_status st = get_head(src, size, &at, tokens, &bits, &flags, params, NULL, error);
    *model_bits = (double)bits / 64.0;
    return st;
}

void hlz_robust_decoder_free(hlz_robust_decoder *d)
{
    if (!d) return;
    layout_free(&d->L);
    free(d->model), free(d);
}

hlz_status hlz_robust_decoder_create(const uint8_t *src, size_t coded_size, size_t raw_size, uint32_t n_vocab,
                                     hlz_robust_decoder **out, uint64_t *tokens, hlz_error *error)
{
    *out = NULL;
    size_t at;
    uint64_t n, bits, flags;
    hlz_robust_params params;
    bucket_code A;
    hlz_status st = get_head(src, coded_size, &at, &n, &bits, &flags, &params, &A, error);
    if (st != HLZ_OK) return st;
    if (n == 0 || n > (uint64_t)raw_size + 1) return hlz_fail(error, HLZ_ERR_CORRUPT, "corrupt robust payload header");
    hlz_robust_decoder *d = calloc(1, sizeof *d);
    if (!d) return hlz_fail(error, HLZ_ERR_NOMEM, "out of memory");
    d->A = A, d->n = n, d->flags = (unsigned)flags;
    if ((st = layout_init(&d->L, &params, n_vocab, error)) != HLZ_OK) {
        free(d);
        return st;
    }
    if (A.code == HLZ_ROBUST_CODE_ADAPTIVE) { /* varint S, S bytes of rANS, then the prefixes */
        uint64_t s;
        if (hlz_get_varint(src, coded_size, &at, &s) || s > coded_size - at)
            st = hlz_fail(error, HLZ_ERR_CORRUPT, "corrupt robust payload: bucket stream size");
        if (st == HLZ_OK && !(d->model = malloc(sizeof *d->model))) st = hlz_fail(error, HLZ_ERR_NOMEM, "out of memory");
        if (st == HLZ_OK) st = hlz_rans_decoder_init(&d->rans, src + at, (size_t)s, error);
        if (st == HLZ_OK) adaptive_init(d->model, params.buckets), at += (size_t)s;
    }
    if (st != HLZ_OK) {
        hlz_robust_decoder_free(d);
        return st;
    }
    d->src = src + at, d->bits = (coded_size - at) * 8;
    if (tokens) *tokens = n;
    *out = d;
    return HLZ_OK;
}

hlz_status hlz_robust_decoder_finish(const hlz_robust_decoder *d, hlz_error *error)
{
    if (d->done != d->n) return hlz_fail(error, HLZ_ERR_CORRUPT, "robust payload not decoded to its end");
    if (d->A.code == HLZ_ROBUST_CODE_ADAPTIVE && hlz_rans_finish(&d->rans, error) != HLZ_OK)
        return HLZ_ERR_CORRUPT;
    /* Only the zero padding of the last byte may follow the last token. */
    if (d->bits - d->at >= 8 || (d->at < d->bits && (d->src[d->at >> 3] & (0xffu >> (d->at & 7)))))
        return hlz_fail(error, HLZ_ERR_CORRUPT, "robust data has bits after its last token");
    return HLZ_OK;
}

unsigned hlz_robust_decoder_flags(const hlz_robust_decoder *d) { return d->flags; }

static hlz_status decode_token(void *context, const float *logits, size_t at, int32_t *token, hlz_error *e)
{
    hlz_robust_decoder *d = context;
    hlz_robust_log_softmax(logits, d->L.n_vocab, d->L.logp);
    if (decode_hook) decode_hook(decode_hook_ctx, at, logits, d->L.logp, d->L.n_vocab);
    return hlz_robust_decoder_get(d, d->L.logp, token, e);
}

/* A started decoding for the lockstep walk (llm.h): the stream's pick is
 * decode_token on this chunk's decoder. */
hlz_status hlz_robust_decode_start(const hlz_llm *llm, const uint8_t *src, size_t coded_size, size_t raw_size,
                                   hlz_llm_stream *stream, hlz_error *error)
{
    memset(stream, 0, sizeof *stream);
    hlz_robust_decoder *d;
    uint64_t n;
    hlz_status st = hlz_robust_decoder_create(src, coded_size, raw_size, hlz_llm_vocab(llm), &d, &n, error);
    if (st != HLZ_OK) return st;
    if (!(stream->ids = malloc((size_t)n * sizeof *stream->ids))) {
        hlz_robust_decoder_free(d);
        return hlz_fail(error, HLZ_ERR_NOMEM, "out of memory");
    }
    stream->n = (size_t)n, stream->pick = decode_token, stream->ctx = d;
    return HLZ_OK;
}

hlz_status hlz_robust_decode_finish(const hlz_llm *llm, hlz_llm_stream *stream, uint8_t *dst, size_t raw_size,
                                    hlz_error *error)
{
    hlz_robust_decoder *d = stream->ctx;
    hlz_status st = stream->status;
    if (st != HLZ_OK && error) *error = stream->error;
    if (st == HLZ_OK) st = hlz_robust_decoder_finish(d, error);
    if (st == HLZ_OK) st = hlz_llm_untokenize(llm, stream->ids, stream->n, d->flags, dst, raw_size, error);
    hlz_robust_decoder_free(d);
    free(stream->ids);
    stream->ids = NULL, stream->ctx = NULL;
    return st;
}

hlz_status hlz_robust_decode(const hlz_llm *llm, const uint8_t *src, size_t coded_size, uint8_t *dst,
                             size_t raw_size, hlz_error *error)
{
    hlz_llm_stream stream;
    hlz_status st = hlz_robust_decode_start(llm, src, coded_size, raw_size, &stream, error);
    if (st != HLZ_OK) return st;
    stream.status = hlz_llm_walk_decode(llm, stream.ids, stream.n, stream.pick, stream.ctx, &stream.error);
    return hlz_robust_decode_finish(llm, &stream, dst, raw_size, error);
}
