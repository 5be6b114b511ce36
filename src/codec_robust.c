/* codec_robust.c - the robust codec (robust.h, doc/robust.md): Hu & Tang's
 * mismatch-tolerant code. The shared layout (buckets, longforms, bit I/O)
 * comes first, then the encoder and the decoder, written separately the way
 * the seed's section III states and proves them. */
#include "robust.h"
#include "detmath.h"
#include "kernels.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Widening U_i by a hair beyond c^2 keeps Lemma 2 true through the rounding
 * of the bound arithmetic (a larger U_i only lengthens the prefix). */
#define ENCODER_SLACK 1e-7

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

typedef struct {
    layout L;
    uint8_t *bucket;    /* per token: k(i) */
    uint32_t *tail;     /* per token: the longform prefix and terminating bit */
    uint8_t *tail_bits; /* their count */
    hlz_robust_stats stats;
} encoder;

/* The bucket k(i) holding ln p, by the same comparisons against the same
 * bounds that U_i and the decoder's U-hat_i use. */
static unsigned bucket_of(const layout *L, double logp)
{
    unsigned k = 0;
    while (k + 1u < L->params.buckets && !(logp > bucket_low(L, k))) k++;
    return k;
}

/* y_i = A(r_k(i)) + B(x_i)[1 : m_i + 1] + not B(x_i)[m_i + 2], with m_i the
 * longest prefix B(x_i) shares with a token of U_i (-1 when U_i is empty, so
 * the terminating bit alone follows the bucket). When m_i + 1 = l the whole
 * longform is sent and no bit terminates it: the decoder stops at l bits.
 * The bucket code A is chosen once all buckets are known (encode_bits). */
static void encode_token(void *context, const float *logits, int32_t token, size_t at)
{
    encoder *c = context;
    layout *L = &c->L;
    hlz_robust_log_softmax(logits, L->n_vocab, L->logp);
    unsigned k = bucket_of(L, L->logp[token]);
    double slack = 2 * L->log_c + ENCODER_SLACK;
    double low = bucket_low(L, k), high = bucket_high(L, k) + slack;
    int m = -1;
    uint32_t b = L->longform[token];
    for (uint32_t x = 0; x < L->n_vocab; x++) {
        double q = L->logp[x];
        /* U_i: r_k-/c^2 < p(x) < c^2 r_k+; the last bucket reaches down to p = 0. */
        if ((int32_t)x == token || !(q < high) || !(low == -INFINITY || q > low - slack)) continue;
        int s = shared_prefix(L, L->longform[x], b);
        m = s > m ? s : m;
    }
    unsigned sent = (unsigned)(m + 1);
    uint32_t v = sent ? b >> (L->bits - sent) : 0;
    if (sent < L->bits) v = v << 1 | !longform_bit(L, b, (int)sent + 1), sent++;
    c->bucket[at] = (uint8_t)k;
    c->tail[at] = v;
    c->tail_bits[at] = (uint8_t)sent;
    c->stats.prefix_bits += sent;
    c->stats.bucket_count[k]++;
    c->stats.tokens++;
    c->stats.model_bits += hlz_llm_token_bits(logits, L->n_vocab, token);
}

/* Picks the bucket code: the one asked for, or (AUTO) whichever of unary
 * and Huffman (its K length bytes included) makes the payload smaller. */
static void choose_code(const encoder *c, uint8_t asked, bucket_code *a)
{
    unsigned K = c->L.params.buckets;
    memset(a, 0, sizeof *a);
    uint64_t unary = 0, huffman = 8 * (uint64_t)K;
    int ok = asked != HLZ_ROBUST_CODE_UNARY && huffman_lengths(c->stats.bucket_count, K, a->length) == 0 &&
             canonical_words(a, K) == 0;
    for (unsigned k = 0; k < K; k++) {
        unary += c->stats.bucket_count[k] * (k + (k + 1u < K));
        huffman += c->stats.bucket_count[k] * a->length[k];
    }
    a->code = ok && (asked == HLZ_ROBUST_CODE_HUFFMAN || huffman < unary) ? HLZ_ROBUST_CODE_HUFFMAN
                                                                           : HLZ_ROBUST_CODE_UNARY;
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

hlz_status hlz_robust_encode(const hlz_llm *llm, const hlz_robust_params *params, const uint8_t *src, size_t size,
                             uint8_t *dst, size_t capacity, size_t *coded_size, hlz_robust_stats *stats,
                             hlz_error *error)
{
    *coded_size = 0;
    hlz_robust_params p = *params;
    uint8_t asked = p.code;
    if (asked == HLZ_ROBUST_CODE_AUTO) p.code = HLZ_ROBUST_CODE_UNARY;
    hlz_status st = hlz_robust_params_check(&p, error);
    if (st != HLZ_OK) return st == HLZ_ERR_VERSION ? hlz_fail(error, HLZ_ERR_PARAM, "unknown robust bucket code") : st;
    int32_t *ids;
    size_t n;
    unsigned flags;
    if ((st = hlz_llm_tokenize(llm, src, size, &ids, &n, &flags, error)) != HLZ_OK) return st;
    encoder c = {0};
    if ((st = layout_init(&c.L, &p, hlz_llm_vocab(llm), error)) != HLZ_OK) {
        free(ids);
        return st;
    }
    c.bucket = malloc(n ? n : 1), c.tail = malloc((n ? n : 1) * sizeof *c.tail), c.tail_bits = malloc(n ? n : 1);
    if (!c.bucket || !c.tail || !c.tail_bits) st = hlz_fail(error, HLZ_ERR_NOMEM, "out of memory");
    if (st == HLZ_OK) st = hlz_llm_walk_encode(llm, ids, n, encode_token, &c, error);
    if (st == HLZ_OK) {
        bucket_code a;
        choose_code(&c, asked, &a);
        p.code = a.code;
        uint8_t head[30 + HLZ_ROBUST_HEAD_SIZE + HLZ_ROBUST_BUCKETS_MAX];
        size_t h = put_head(head, n, c.stats.model_bits, flags, &p, &a);
        bit_writer w = {.dst = dst + (capacity > h ? h : capacity), .capacity = capacity > h ? capacity - h : 0};
        c.stats.bucket_bits = 0;
        for (size_t i = 0; i < n && !w.full; i++) {
            put_bucket(&w, &a, p.buckets, c.bucket[i]);
            put_bits(&w, c.tail[i], c.tail_bits[i]);
            c.stats.bucket_bits += bucket_code_bits(&a, p.buckets, c.bucket[i]);
        }
        if (w.full || h > capacity) {
            st = hlz_fail(error, HLZ_ERR_CODEC, "robust output larger than the limit");
        } else {
            memcpy(dst, head, h);
            *coded_size = h + ((w.bit + 7) >> 3);
            c.stats.code = a.code;
        }
    }
    if (stats) *stats = c.stats;
    layout_free(&c.L);
    free(ids), free(c.bucket), free(c.tail), free(c.tail_bits);
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

typedef struct {
    layout L;
    bucket_code A;
    const uint8_t *src;
    size_t bits, at; /* bits in the stream, bits read */
} decoder;

/* Bit `i` of the stream; 0 past its end (reading there is caught by the
 * consumed-length check). */
static unsigned peek_bit(const decoder *d, size_t i)
{
    return i < d->bits ? (d->src[i >> 3] >> (7 - (i & 7))) & 1u : 0;
}

static hlz_status decode_token(void *context, const float *logits, size_t at, int32_t *token, hlz_error *e)
{
    decoder *d = context;
    layout *L = &d->L;
    hlz_robust_log_softmax(logits, L->n_vocab, L->logp);
    if (decode_hook) decode_hook(decode_hook_ctx, at, logits, L->logp, L->n_vocab);
    /* The bucket, by its prefix-free code A. */
    unsigned k = 0;
    if (d->A.code == HLZ_ROBUST_CODE_HUFFMAN) {
        uint32_t word = 0;
        unsigned len = 0;
        for (;;) {
            if (++len > HLZ_ROBUST_HUFFMAN_MAX || d->at >= d->bits)
                return hlz_fail(e, HLZ_ERR_CORRUPT, "robust data ends inside a bucket code at token %zu", at);
            word = word << 1 | peek_bit(d, d->at++);
            for (k = 0; k < L->params.buckets && !(d->A.length[k] == len && d->A.word[k] == word); k++) {}
            if (k < L->params.buckets) break;
        }
    } else {
        while (k + 1u < L->params.buckets && peek_bit(d, d->at)) k++, d->at++;
        if (k + 1u < L->params.buckets) d->at++;
    }
    /* Z_i: the next l bits, as a longform. */
    uint32_t z = 0;
    for (unsigned i = 0; i < L->bits; i++) z = z << 1 | peek_bit(d, d->at + i);
    /* U-hat_i = {x : r_k-/c < p'(x) < c r_k+}; the last bucket reaches down to p' = 0. */
    double low = bucket_low(L, k), high = bucket_high(L, k) + L->log_c;
    int best = -1, ties = 0;
    int32_t pick = -1;
    for (uint32_t x = 0; x < L->n_vocab; x++) {
        double q = L->logp[x];
        if (!(q < high) || !(low == -INFINITY || q > low - L->log_c)) continue;
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

/* A started decoding: the decoder and what finish needs. */
typedef struct {
    decoder d;
    unsigned flags;
} robust_stream;

hlz_status hlz_robust_decode_start(const hlz_llm *llm, const uint8_t *src, size_t coded_size, size_t raw_size,
                                   hlz_llm_stream *stream, hlz_error *error)
{
    memset(stream, 0, sizeof *stream);
    size_t at;
    uint64_t n, bits, flags;
    hlz_robust_params params;
    robust_stream *r = calloc(1, sizeof *r);
    if (!r) return hlz_fail(error, HLZ_ERR_NOMEM, "out of memory");
    hlz_status st = get_head(src, coded_size, &at, &n, &bits, &flags, &params, &r->d.A, error);
    if (st == HLZ_OK && (n == 0 || n > (uint64_t)raw_size + 1))
        st = hlz_fail(error, HLZ_ERR_CORRUPT, "corrupt robust payload header");
    if (st != HLZ_OK) {
        free(r);
        return st;
    }
    r->d.src = src + at, r->d.bits = (coded_size - at) * 8, r->flags = (unsigned)flags;
    if ((st = layout_init(&r->d.L, &params, hlz_llm_vocab(llm), error)) != HLZ_OK) {
        free(r);
        return st;
    }
    if (!(stream->ids = malloc((size_t)n * sizeof *stream->ids))) {
        layout_free(&r->d.L);
        free(r);
        return hlz_fail(error, HLZ_ERR_NOMEM, "out of memory");
    }
    stream->n = (size_t)n, stream->pick = decode_token, stream->ctx = r;
    return HLZ_OK;
}

hlz_status hlz_robust_decode_finish(const hlz_llm *llm, hlz_llm_stream *stream, uint8_t *dst, size_t raw_size,
                                    hlz_error *error)
{
    robust_stream *r = stream->ctx;
    decoder *d = &r->d;
    hlz_status st = stream->status;
    if (st != HLZ_OK && error) *error = stream->error;
    /* Only the zero padding of the last byte may follow the last token. */
    if (st == HLZ_OK && (d->bits - d->at >= 8 || (d->at < d->bits && (d->src[d->at >> 3] & (0xffu >> (d->at & 7))))))
        st = hlz_fail(error, HLZ_ERR_CORRUPT, "robust data has bits after its last token");
    if (st == HLZ_OK) st = hlz_llm_untokenize(llm, stream->ids, stream->n, r->flags, dst, raw_size, error);
    layout_free(&d->L);
    free(stream->ids), free(r);
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
