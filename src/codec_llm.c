/* codec_llm.c - the llm codec (llm.h): windows of tokens coded with the
 * model's frequency tables and one rANS stream per chunk. */
#include "llm.h"
#include "detmath.h"
#include "entropy.h"
#include "hybrid.h"
#include "model.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define EVAL_PIECE 64 /* tokens per evaluation call on the CPU: bounds the logits buffer */
#define PRIME_MAX 64  /* tokens of the priming text at most */
/* On the GPU a walk evaluates many windows (encoder) or many chunks
 * (decoder) per call; their logits come back to the host, and this bounds
 * them: 256 MiB per walk. */
#define GROUP_LOGITS_BYTES ((size_t)256 << 20)
#define GROUP_MAX 256 /* windows per call at most */
#define COHORTS_MAX 64 /* lockstep walks at once at most */

static const char prime_text[] = "The following is a plain text document.\n\n";

struct hlz_llm {
    hlz_model *model;
    hlz_llm_params params;
    hlz_session *prime;   /* the model's state after the priming tokens */
    float *prime_logits;  /* the logits that follow them */
    uint32_t n_vocab;
    unsigned mix;         /* encoder: the hybrid parts (HLZ_MIX_*) chunks are coded with */
    uint32_t group;       /* windows the encoder evaluates per call (1: the CPU's piecewise path) */
    size_t budget;        /* bytes of logits the lockstep decoder's calls for carried tokens return at most */
    bool stats;           /* hlz_llm_encode asks the model for token statistics, not logits (the GPU) */
};

void hlz_llm_params_default(const hlz_model *model, hlz_llm_params *p)
{
    /* The prime takes at most PRIME_MAX tokens; windows and carry share the rest. */
    uint32_t room = model->config.n_ctx > PRIME_MAX ? model->config.n_ctx - PRIME_MAX : 1;
    p->prime = HLZ_PRIME_TEXT;
    p->attention = HLZ_ATTENTION_FLOAT;
    p->window = room * 4 / 5 < 512 ? room * 4 / 5 : 512;
    if (p->window == 0) p->window = 1;
    p->carry = p->window / 4 < room - p->window ? p->window / 4 : room - p->window;
}

const hlz_llm_params *hlz_llm_get_params(const hlz_llm *llm) { return &llm->params; }
void hlz_llm_set_mix(hlz_llm *llm, unsigned parts) { llm->mix = parts & HLZ_MIX_ALL; }
void hlz_llm_set_logits_budget(hlz_llm *llm, size_t bytes) { llm->budget = bytes; }
void hlz_llm_set_stats(hlz_llm *llm, bool on) { llm->stats = on; }

void hlz_llm_set_group(hlz_llm *llm, uint32_t windows)
{
    llm->group = windows < 1 ? 1 : windows > GROUP_MAX ? GROUP_MAX : windows;
}
uint32_t hlz_llm_vocab(const hlz_llm *llm) { return llm->n_vocab; }

void hlz_llm_free(hlz_llm *llm)
{
    if (!llm) return;
    hlz_session_free(llm->prime);
    free(llm->prime_logits);
    free(llm);
}

hlz_status hlz_llm_create(hlz_model *model, const hlz_llm_params *params, hlz_llm **out, hlz_error *e)
{
    *out = NULL;
    const hlz_model_config *c = &model->config;
    if (!model->tok) return hlz_fail(e, HLZ_ERR_MODEL, "the model has no tokenizer, so it cannot code text");
    if (params->prime == 0 || params->prime >= HLZ_PRIME_COUNT)
        return hlz_fail(e, HLZ_ERR_UNSUPPORTED, "priming text %u is unknown to this hlz", params->prime);
    int32_t prime[PRIME_MAX];
    size_t n_prime = 0;
    int32_t bos = hlz_model_bos(model);
    if (bos >= 0) prime[n_prime++] = bos;
    const char *text = params->prime == HLZ_PRIME_TEXT ? prime_text : bos >= 0 ? "" : "\n";
    int32_t *ids;
    size_t n_ids;
    hlz_status st = hlz_model_tokenize(model, (const uint8_t *)text, strlen(text), &ids, &n_ids, e);
    if (st != HLZ_OK) return st;
    if (n_prime + n_ids > sizeof prime / sizeof prime[0]) n_ids = sizeof prime / sizeof prime[0] - n_prime;
    memcpy(prime + n_prime, ids, n_ids * sizeof *ids);
    n_prime += n_ids;
    free(ids);
    if (params->window == 0 || params->carry >= params->window ||
        (uint64_t)n_prime + params->carry + params->window > c->n_ctx)
        return hlz_fail(e, HLZ_ERR_MODEL, "windows of %u tokens with %u carried do not fit the model's context of %u",
                        (unsigned)params->window, (unsigned)params->carry, (unsigned)c->n_ctx);
    if (params->attention >= HLZ_ATTENTION_COUNT)
        return hlz_fail(e, HLZ_ERR_UNSUPPORTED, "attention arithmetic %u is unknown to this hlz", params->attention);
    if (params->attention == HLZ_ATTENTION_INT8) {
        if (c->head_dim % HLZ_QBLOCK != 0)
            return hlz_fail(e, HLZ_ERR_UNSUPPORTED,
                            "integer attention needs a head dimension that is a multiple of 32; this model's is %u",
                            (unsigned)c->head_dim);
        /* The integer sums of the weighted values stay below 2^31 for fewer than 65536 positions. */
        if ((uint64_t)n_prime + params->carry + params->window > 65535)
            return hlz_fail(e, HLZ_ERR_UNSUPPORTED,
                            "integer attention allows at most 65535 positions: %zu of the prime, %u carried, "
                            "windows of %u", n_prime, (unsigned)params->carry, (unsigned)params->window);
        if (model->cuda && c->head_dim > HLZ_INT8_CUDA_MAX_HEAD)
            return hlz_fail(e, HLZ_ERR_UNSUPPORTED,
                            "integer attention on the GPU allows heads of at most %d; this model's are %u "
                            "(--device cpu codes it)", HLZ_INT8_CUDA_MAX_HEAD, (unsigned)c->head_dim);
    }
    hlz_llm *llm = calloc(1, sizeof *llm);
    if (!llm) return hlz_fail(e, HLZ_ERR_NOMEM, "out of memory");
    llm->model = model;
    llm->params = *params;
    llm->n_vocab = c->n_vocab;
    llm->group = 1;
    llm->budget = GROUP_LOGITS_BYTES;
    /* HLZ_GPU_TABLES=0 keeps the GPU's encoder on logits (for comparisons). */
    const char *tables = getenv("HLZ_GPU_TABLES");
    llm->stats = model->cuda != NULL && !(tables && strcmp(tables, "0") == 0);
    if (model->cuda) {
        size_t per_window = ((size_t)params->carry + params->window) * c->n_vocab * sizeof(float);
        size_t g = GROUP_LOGITS_BYTES / per_window;
        llm->group = g < 1 ? 1 : g > GROUP_MAX ? GROUP_MAX : (uint32_t)g;
    }
    float *all = malloc(n_prime * (size_t)c->n_vocab * sizeof *all);
    llm->prime_logits = malloc((size_t)c->n_vocab * sizeof *llm->prime_logits);
    if (!all || !llm->prime_logits) st = hlz_fail(e, HLZ_ERR_NOMEM, "out of memory");
    if (st == HLZ_OK) st = hlz_session_create(model, (uint32_t)n_prime, &llm->prime, e);
    if (st == HLZ_OK) llm->prime->attention = params->attention; /* every window's session copies it */
    if (st == HLZ_OK) st = hlz_model_eval(model, llm->prime, prime, n_prime, all, e);
    if (st == HLZ_OK) memcpy(llm->prime_logits, all + (n_prime - 1) * c->n_vocab, c->n_vocab * sizeof *all);
    free(all);
    if (st != HLZ_OK) {
        hlz_llm_free(llm);
        return st;
    }
    *out = llm;
    return HLZ_OK;
}

/* ---- the window walk shared by both sides --------------------------------- */

double hlz_llm_token_bits(const float *logits, uint32_t n, int32_t token)
{
    float max = logits[0];
    for (uint32_t i = 1; i < n; i++) max = logits[i] > max ? logits[i] : max;
    double sum = 0;
    for (uint32_t i = 0; i < n; i++) sum += (double)hlz_expf(logits[i] - max);
    return (hlz_det_log(sum) - ((double)logits[token] - (double)max)) / 0.69314718055994530942;
}

/* The tokens a window is evaluated on: `carry` tokens before it (fewer at
 * the start of the chunk), then its own but the last. */
static size_t window_first(const hlz_llm *llm, size_t begin)
{
    return begin - (begin < llm->params.carry ? begin : llm->params.carry);
}

/* Calls visit for every token of window [begin, end). */
static hlz_status encode_window(const hlz_llm *llm, hlz_session *s, const int32_t *ids, size_t begin, size_t end,
                                float *logits, hlz_llm_visit visit, void *ctx, hlz_error *e)
{
    size_t first = window_first(llm, begin);
    hlz_status st = hlz_session_copy(llm->model, s, llm->prime, e);
    if (st == HLZ_OK && first == begin) visit(ctx, llm->prime_logits, ids[begin], begin);
    /* Evaluate [first, end - 1) in pieces; row i of a piece starting at u predicts token u + i + 1. */
    for (size_t u = first; st == HLZ_OK && u + 1 < end; u += EVAL_PIECE) {
        size_t n = end - 1 - u < EVAL_PIECE ? end - 1 - u : EVAL_PIECE;
        st = hlz_model_eval(llm->model, s, ids + u, n, logits, e);
        for (size_t i = 0; st == HLZ_OK && i < n; i++)
            if (u + i + 1 >= begin) visit(ctx, logits + i * llm->n_vocab, ids[u + i + 1], u + i + 1);
    }
    return st;
}

/* The CPU's walk: one window at a time, evaluated in pieces of EVAL_PIECE. */
static hlz_status walk_encode_single(const hlz_llm *llm, const int32_t *ids, size_t n, hlz_llm_visit visit,
                                     void *ctx, hlz_error *error)
{
    float *logits = malloc((size_t)EVAL_PIECE * llm->n_vocab * sizeof *logits);
    hlz_session *s = NULL;
    hlz_status st = logits ? HLZ_OK : hlz_fail(error, HLZ_ERR_NOMEM, "out of memory");
    if (st == HLZ_OK) st = hlz_session_create(llm->model, llm->model->config.n_ctx, &s, error);
    for (size_t begin = 0; st == HLZ_OK && begin < n; begin += llm->params.window) {
        size_t end = n - begin < llm->params.window ? n : begin + llm->params.window;
        st = encode_window(llm, s, ids, begin, end, logits, visit, ctx, error);
    }
    hlz_session_free(s);
    free(logits);
    return st;
}

/* Windows [w0, w0 + count) of the chunk in one evaluation call, each in its
 * own session, then visit() for their tokens in order of position. */
static hlz_status encode_group(const hlz_llm *llm, hlz_session **s, const int32_t *ids, size_t n, size_t w0,
                               size_t count, float *logits, hlz_llm_visit visit, void *ctx, hlz_error *e)
{
    const int32_t *toks[GROUP_MAX];
    size_t counts[GROUP_MAX], window = llm->params.window;
    hlz_status st = HLZ_OK;
    for (size_t k = 0; k < count && st == HLZ_OK; k++) {
        size_t begin = (w0 + k) * window, end = n - begin < window ? n : begin + window;
        size_t first = window_first(llm, begin);
        st = hlz_session_copy(llm->model, s[k], llm->prime, e);
        toks[k] = ids + first;
        counts[k] = end - 1 - first; /* row i predicts token first + i + 1 */
    }
    if (st == HLZ_OK) st = hlz_model_eval_batch(llm->model, s, toks, counts, count, logits, e);
    const float *row = logits;
    for (size_t k = 0; k < count && st == HLZ_OK; k++) {
        size_t begin = (w0 + k) * window, first = window_first(llm, begin);
        if (first == begin) visit(ctx, llm->prime_logits, ids[begin], begin);
        for (size_t i = 0; i < counts[k]; i++, row += llm->n_vocab)
            if (first + i + 1 >= begin) visit(ctx, row, ids[first + i + 1], first + i + 1);
    }
    return st;
}

hlz_status hlz_llm_walk_encode(const hlz_llm *llm, const int32_t *ids, size_t n, hlz_llm_visit visit, void *ctx,
                               hlz_error *error)
{
    size_t window = llm->params.window, windows = (n + window - 1) / window;
    size_t group = llm->group < windows ? llm->group : windows;
    if (group <= 1) return walk_encode_single(llm, ids, n, visit, ctx, error);
    uint32_t n_ctx = hlz_session_length(llm->prime) + llm->params.carry + llm->params.window;
    hlz_session *s[GROUP_MAX] = {0};
    float *logits = NULL;
    hlz_status st = HLZ_OK;
    for (size_t w0 = 0; st == HLZ_OK && w0 < windows;) {
        if (!logits) { /* (re)made for `group` windows */
            logits = malloc(group * (llm->params.carry + window) * (size_t)llm->n_vocab * sizeof *logits);
            if (!logits) st = hlz_fail(error, HLZ_ERR_NOMEM, "out of memory for the logits of %zu windows", group);
            for (size_t k = 0; k < group && st == HLZ_OK; k++)
                if (!s[k]) st = hlz_session_create(llm->model, n_ctx, &s[k], error);
        }
        size_t count = windows - w0 < group ? windows - w0 : group;
        if (st == HLZ_OK) st = encode_group(llm, s, ids, n, w0, count, logits, visit, ctx, error);
        if (st == HLZ_ERR_NOMEM && group > 1) {
            /* The GPU (or the host) is short of memory: fewer windows per call.
             * Nothing was visited for this group (the evaluation failed first). */
            for (size_t k = group / 2; k < group; k++) hlz_session_free(s[k]), s[k] = NULL;
            group /= 2;
            free(logits), logits = NULL;
            st = HLZ_OK;
            continue;
        }
        w0 += count;
    }
    for (size_t k = 0; k < GROUP_MAX; k++) hlz_session_free(s[k]);
    free(logits);
    return st;
}

static bool all_crlf(const uint8_t *p, size_t n)
{
    size_t lf = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] == '\r' && (i + 1 == n || p[i + 1] != '\n')) return false;
        if (p[i] == '\n' && (i == 0 || p[i - 1] != '\r')) return false;
        lf += p[i] == '\n';
    }
    return lf > 0;
}

hlz_status hlz_llm_tokenize(const hlz_llm *llm, const uint8_t *src, size_t size, int32_t **ids, size_t *n,
                            unsigned *flags, hlz_error *error)
{
    *flags = all_crlf(src, size) ? HLZ_LLM_FLAG_CRLF : 0;
    uint8_t *lf = NULL;
    if (*flags & HLZ_LLM_FLAG_CRLF) {
        if (!(lf = malloc(size))) return hlz_fail(error, HLZ_ERR_NOMEM, "out of memory");
        size_t k = 0;
        for (size_t i = 0; i < size; i++)
            if (src[i] != '\r') lf[k++] = src[i];
        src = lf, size = k;
    }
    hlz_status st = hlz_model_tokenize(llm->model, src, size, ids, n, error);
    free(lf);
    if (st != HLZ_OK) return st == HLZ_ERR_NOMEM ? st : hlz_fail(error, HLZ_ERR_CODEC, "the tokenizer cannot spell this chunk");
    return HLZ_OK;
}

typedef struct {
    const hlz_llm *llm;
    hlz_hybrid *hybrid;    /* the online models (with no parts: the model's table alone) */
    hlz_symbol *sym;       /* the rANS symbols of the chunk, in coding order */
    size_t n_sym;
    uint32_t *table;       /* n_vocab scratch */
    int32_t *cands;        /* the online models' guesses, HLZ_HYBRID_CANDIDATES per position (GPU walk) */
    bool broken;           /* a position's figures did not fit its guesses */
    double bits;
} encode_tables;

/* Positions are recorded in order: the bits are a sum in that order. */
static void record_stats(encode_tables *t, const hlz_token_stats *s, size_t at)
{
    (void)at;
    t->sym[t->n_sym++] = (hlz_symbol){s->cum, s->freq};
    t->bits += hlz_token_stats_bits(s);
}

static void record(void *context, const float *logits, int32_t token, size_t at)
{
    encode_tables *t = context;
    (void)at;
    hlz_freq_from_logits(logits, t->llm->n_vocab, t->table);
    t->n_sym += hlz_hybrid_encode(t->hybrid, t->table, token, t->sym + t->n_sym);
    t->bits += hlz_llm_token_bits(logits, t->llm->n_vocab, token);
}

/* A position of a hybrid chunk from the model's figures for its guesses. */
static void record_mix(encode_tables *t, const hlz_token_stats *s, const hlz_token_mix *m, int32_t token, size_t at)
{
    size_t k = hlz_hybrid_encode_mix(t->hybrid, t->cands + at * HLZ_HYBRID_CANDIDATES, m, token, t->sym + t->n_sym);
    t->broken |= k == 0;
    t->n_sym += k;
    t->bits += hlz_token_stats_bits(s);
}

/* The encoder's walk when the model gives token statistics (the GPU): the
 * windows of hlz_llm_walk_encode, `group` per call, with only each token's
 * statistics coming back (24 bytes; 48 for hybrid chunks, whose guesses go
 * up with the tokens, t->cands); recorded in order of position. */
static hlz_status walk_encode_stats(const hlz_llm *llm, const int32_t *ids, size_t n, encode_tables *t,
                                    hlz_error *error)
{
    size_t window = llm->params.window, windows = (n + window - 1) / window;
    size_t group = llm->group < windows ? llm->group : windows;
    uint32_t n_ctx = hlz_session_length(llm->prime) + llm->params.carry + llm->params.window;
    hlz_session *s[GROUP_MAX] = {0};
    const int32_t *toks[GROUP_MAX];
    size_t counts[GROUP_MAX];
    size_t rows_max = GROUP_MAX * (llm->params.carry + window);
    int32_t *next = malloc(rows_max * sizeof *next);
    hlz_token_stats *stats = malloc(rows_max * sizeof *stats);
    bool mixed = t->cands != NULL;
    int32_t *cands = mixed ? malloc(rows_max * HLZ_HYBRID_CANDIDATES * sizeof *cands) : NULL;
    hlz_token_mix *mix = mixed ? malloc(rows_max * sizeof *mix) : NULL;
    hlz_status st = next && stats && (!mixed || (cands && mix)) ? HLZ_OK : hlz_fail(error, HLZ_ERR_NOMEM, "out of memory");
    for (size_t w0 = 0; st == HLZ_OK && w0 < windows;) {
        size_t count = windows - w0 < group ? windows - w0 : group, rows = 0;
        for (size_t k = 0; k < count && st == HLZ_OK; k++) {
            size_t begin = (w0 + k) * window, end = n - begin < window ? n : begin + window;
            size_t first = window_first(llm, begin);
            if (!s[k]) st = hlz_session_create(llm->model, n_ctx, &s[k], error);
            if (st == HLZ_OK) st = hlz_session_copy(llm->model, s[k], llm->prime, error);
            toks[k] = ids + first;
            counts[k] = end - 1 - first; /* row i predicts token first + i + 1 */
            for (size_t i = 0; i < counts[k]; i++, rows++) {
                size_t at = first + i + 1;
                next[rows] = at >= begin ? ids[at] : -1;
                for (size_t j = 0; mixed && j < HLZ_HYBRID_CANDIDATES; j++)
                    cands[rows * HLZ_HYBRID_CANDIDATES + j] = at >= begin ? t->cands[at * HLZ_HYBRID_CANDIDATES + j] : -1;
            }
        }
        if (st == HLZ_OK)
            st = mixed ? hlz_model_eval_batch_stats_mix(llm->model, s, toks, counts, count, next, cands, stats, mix, error)
                       : hlz_model_eval_batch_stats(llm->model, s, toks, counts, count, next, stats, error);
        if (st == HLZ_ERR_NOMEM && group > 1) { /* fewer windows per call; nothing was recorded for these */
            for (size_t k = group / 2; k < group; k++) hlz_session_free(s[k]), s[k] = NULL;
            group /= 2;
            st = HLZ_OK;
            continue;
        }
        for (size_t k = 0, row = 0; k < count && st == HLZ_OK; k++) {
            size_t begin = (w0 + k) * window, first = window_first(llm, begin);
            if (first == begin && mixed) {
                record(t, llm->prime_logits, ids[begin], begin);
            } else if (first == begin) {
                hlz_token_stats p;
                hlz_token_stats_from_logits(llm->prime_logits, llm->n_vocab, ids[begin], t->table, &p);
                record_stats(t, &p, begin);
            }
            for (size_t i = 0; i < counts[k]; i++, row++)
                if (next[row] >= 0 && mixed) record_mix(t, &stats[row], &mix[row], next[row], first + i + 1);
                else if (next[row] >= 0) record_stats(t, &stats[row], first + i + 1);
        }
        w0 += count;
    }
    if (st == HLZ_OK && t->broken) st = hlz_fail(error, HLZ_ERR_CODEC, "the hybrid coder's guesses changed between passes");
    for (size_t k = 0; k < GROUP_MAX; k++) hlz_session_free(s[k]);
    free(next), free(stats), free(cands), free(mix);
    return st;
}

hlz_status hlz_llm_encode(const hlz_llm *llm, const uint8_t *src, size_t size, uint8_t *dst, size_t capacity,
                          size_t *coded_size, hlz_error *error)
{
    *coded_size = 0;
    int32_t *ids;
    size_t n;
    unsigned flags;
    hlz_status st = hlz_llm_tokenize(llm, src, size, &ids, &n, &flags, error);
    if (st != HLZ_OK) return st;
    if (llm->mix) flags |= HLZ_LLM_FLAG_HYBRID;
    encode_tables t = {.llm = llm, .sym = malloc(n * HLZ_HYBRID_SYMBOLS * sizeof(hlz_symbol)),
                       .table = malloc(llm->n_vocab * sizeof(uint32_t))};
    if (!t.sym || !t.table) st = hlz_fail(error, HLZ_ERR_NOMEM, "out of memory");
    if (st == HLZ_OK) st = hlz_hybrid_create(llm->mix, llm->n_vocab, n, &t.hybrid, error);
    if (st == HLZ_OK && llm->stats && llm->mix) {
        /* The online models' guesses depend on the tokens alone: made first, on a state of their own. */
        hlz_hybrid *guess = NULL;
        t.cands = malloc(n * HLZ_HYBRID_CANDIDATES * sizeof *t.cands);
        st = t.cands ? hlz_hybrid_create(llm->mix, llm->n_vocab, n, &guess, error)
                     : hlz_fail(error, HLZ_ERR_NOMEM, "out of memory");
        for (size_t i = 0; st == HLZ_OK && i < n; i++) hlz_hybrid_candidates(guess, ids[i], t.cands + i * HLZ_HYBRID_CANDIDATES);
        hlz_hybrid_free(guess);
    }
    if (st == HLZ_OK) st = llm->stats ? walk_encode_stats(llm, ids, n, &t, error)
                                      : hlz_llm_walk_encode(llm, ids, n, record, &t, error);
    if (st == HLZ_OK) {
        uint8_t head[40];
        size_t h = hlz_put_varint(head, n);
        h += hlz_put_varint(head + h, (uint64_t)(t.bits * 64.0 + 0.5));
        h += hlz_put_varint(head + h, flags);
        if (flags & HLZ_LLM_FLAG_HYBRID) h += hlz_put_varint(head + h, llm->mix);
        hlz_rans_encoder enc;
        uint8_t *start = NULL;
        int full = capacity < h;
        if (!full) {
            hlz_rans_encoder_init(&enc, dst + h, capacity - h);
            for (size_t i = t.n_sym; i-- > 0 && !full;) full = hlz_rans_put(&enc, t.sym[i].cum, t.sym[i].freq) != 0;
            full = full || hlz_rans_flush(&enc, &start) != 0;
        }
        if (full) {
            st = hlz_fail(error, HLZ_ERR_CODEC, "llm output larger than the limit");
        } else {
            size_t stream = (size_t)(dst + capacity - start);
            memmove(dst + h, start, stream);
            memcpy(dst, head, h);
            *coded_size = h + stream;
        }
    }
    hlz_hybrid_free(t.hybrid);
    free(ids), free(t.sym), free(t.table), free(t.cands);
    return st;
}

hlz_status hlz_llm_payload_info(const uint8_t *src, size_t size, uint64_t *tokens, double *model_bits,
                                unsigned *mix, hlz_error *error)
{
    size_t at = 0;
    uint64_t bits, flags, parts = 0;
    if (hlz_get_varint(src, size, &at, tokens) || hlz_get_varint(src, size, &at, &bits) ||
        hlz_get_varint(src, size, &at, &flags) || flags > HLZ_LLM_FLAGS ||
        ((flags & HLZ_LLM_FLAG_HYBRID) && (hlz_get_varint(src, size, &at, &parts) || parts == 0 || parts > HLZ_MIX_ALL)))
        return hlz_fail(error, HLZ_ERR_CORRUPT, "corrupt llm payload header");
    *model_bits = (double)bits / 64.0;
    if (mix) *mix = (unsigned)parts;
    return HLZ_OK;
}

hlz_status hlz_llm_walk_decode(const hlz_llm *llm, int32_t *ids, size_t n, hlz_llm_pick pick, void *ctx,
                               hlz_error *error)
{
    float *logits = malloc((size_t)EVAL_PIECE * llm->n_vocab * sizeof *logits);
    hlz_session *s = NULL;
    hlz_status st = logits ? HLZ_OK : hlz_fail(error, HLZ_ERR_NOMEM, "out of memory");
    if (st == HLZ_OK) st = hlz_session_create(llm->model, llm->model->config.n_ctx, &s, error);
    for (size_t begin = 0; st == HLZ_OK && begin < n; begin += llm->params.window) {
        size_t end = n - begin < llm->params.window ? n : begin + llm->params.window;
        size_t first = window_first(llm, begin);
        const float *next = llm->prime_logits;
        st = hlz_session_copy(llm->model, s, llm->prime, error);
        for (size_t u = first; st == HLZ_OK && u < begin; u += EVAL_PIECE) { /* the carried context */
            size_t k = begin - u < EVAL_PIECE ? begin - u : EVAL_PIECE;
            st = hlz_model_eval(llm->model, s, ids + u, k, logits, error);
            next = logits + (k - 1) * llm->n_vocab;
        }
        for (size_t a = begin; st == HLZ_OK && a < end; a++) {
            st = pick(ctx, next, a, &ids[a], error);
            if (st == HLZ_OK && (ids[a] < 0 || (uint32_t)ids[a] >= llm->n_vocab))
                st = hlz_fail(error, HLZ_ERR_CORRUPT, "decoded token %ld is not in the vocabulary", (long)ids[a]);
            if (st == HLZ_OK && a + 1 < end) {
                st = hlz_model_eval(llm->model, s, &ids[a], 1, logits, error);
                next = logits;
            }
        }
    }
    hlz_session_free(s);
    free(logits);
    return st;
}

/* ---- many chunks in lockstep (the GPU's decoder) ----------------------------- */

typedef struct {
    hlz_session *s;
    size_t begin, end, at;  /* the window [begin, end) and the next token to decide */
    size_t pending;         /* carried tokens still to evaluate before `at` can be decided */
    bool active, started;
} stream_state;

typedef struct {
    const hlz_llm *llm;
    hlz_llm_stream *streams;
    size_t count;
    stream_state *state;
    const float **next;     /* per stream: the n_vocab logits that predict its token `at` */
    float *carried;         /* per stream: n_vocab logits after its carried tokens */
    float *step;            /* the logits of one step, row after row */
    float *logits;          /* room rows for the carried tokens */
    size_t room;
    hlz_session **ses;      /* the arguments of one batched evaluation */
    const int32_t **toks;
    size_t *counts, *who;
} lockstep;

/* Starts the window at `at`: the prime, then its carried tokens (pending). */
static hlz_status start_window(lockstep *L, size_t i, hlz_error *e)
{
    stream_state *t = &L->state[i];
    const hlz_llm *llm = L->llm;
    t->begin = t->at;
    t->end = L->streams[i].n - t->begin < llm->params.window ? L->streams[i].n : t->begin + llm->params.window;
    t->pending = t->begin - window_first(llm, t->begin);
    t->started = true;
    L->next[i] = llm->prime_logits;
    return hlz_session_copy(llm->model, t->s, llm->prime, e);
}

/* Evaluates the pending carried tokens of every stream, in calls of at most
 * `room` tokens, and keeps the logits after each stream's last one. */
static hlz_status eval_carried(lockstep *L, hlz_error *e)
{
    const hlz_llm *llm = L->llm;
    size_t i = 0, v = llm->n_vocab;
    for (;;) {
        size_t m = 0, used = 0;
        for (; i < L->count && used < L->room; i++) {
            stream_state *t = &L->state[i];
            if (t->pending == 0) continue;
            size_t k = t->pending < L->room - used ? t->pending : L->room - used;
            L->ses[m] = t->s, L->toks[m] = L->streams[i].ids + t->begin - t->pending;
            L->counts[m] = k, L->who[m] = i, used += k, m++;
            t->pending -= k;
            if (t->pending > 0) break; /* the rest of this stream goes in the next call */
        }
        if (m == 0) return HLZ_OK;
        hlz_status st = hlz_model_eval_batch(llm->model, L->ses, L->toks, L->counts, m, L->logits, e);
        if (st != HLZ_OK) return st;
        size_t row = 0;
        for (size_t j = 0; j < m; j++) {
            row += L->counts[j];
            size_t w = L->who[j];
            if (L->state[w].pending > 0) continue;
            memcpy(L->carried + w * v, L->logits + (row - 1) * v, v * sizeof(float));
            L->next[w] = L->carried + w * v;
        }
    }
}

/* Evaluates the token each active stream just decided, when the next one
 * is in the same window: one call, one row per stream. */
static hlz_status eval_step(lockstep *L, hlz_error *e)
{
    size_t m = 0;
    for (size_t i = 0; i < L->count; i++) {
        stream_state *t = &L->state[i];
        if (!t->active || t->at >= t->end) continue;
        L->ses[m] = t->s, L->toks[m] = L->streams[i].ids + t->at - 1, L->counts[m] = 1, L->who[m] = i, m++;
    }
    if (m == 0) return HLZ_OK;
    hlz_status st = hlz_model_eval_batch(L->llm->model, L->ses, L->toks, L->counts, m, L->step, e);
    for (size_t j = 0; j < m && st == HLZ_OK; j++) L->next[L->who[j]] = L->step + j * L->llm->n_vocab;
    return st;
}

typedef struct {
    lockstep *L;
    size_t *list; /* the streams deciding a token this step */
} pick_job;

static void pick_one(void *context, size_t j)
{
    pick_job *p = context;
    lockstep *L = p->L;
    size_t i = p->list[j];
    hlz_llm_stream *c = &L->streams[i];
    stream_state *t = &L->state[i];
    c->status = c->pick(c->ctx, L->next[i], t->at, &c->ids[t->at], &c->error);
    if (c->status == HLZ_OK && (c->ids[t->at] < 0 || (uint32_t)c->ids[t->at] >= L->llm->n_vocab))
        c->status = hlz_fail(&c->error, HLZ_ERR_CORRUPT, "decoded token %ld is not in the vocabulary",
                             (long)c->ids[t->at]);
    if (c->status != HLZ_OK) t->active = false;
    else t->at++;
}

/* The lockstep walk with token searches: each step, every unfinished
 * stream contributes the token it decided last (or, at a window's start,
 * its carried tokens), its guesses (hybrid streams) and its slot; one call
 * evaluates them all and returns the next token of each stream without
 * guesses with its interval, and for the others the table's frequency of
 * each guess, from which the stream decides; those that decide "none of
 * them" are searched in their tables without the guesses, kept where they
 * were made, in a second call. The streams' own work (guesses, decisions,
 * consuming a token) is independent between streams: it runs on the
 * threads, each stream's in its order. */
typedef struct {
    hlz_session *s;
    size_t at, end;
    bool active, started;
} find_state;

typedef struct {
    const hlz_llm *llm;
    hlz_llm_stream *streams;
    find_state *state;
    size_t *who;            /* row j of the step is stream who[j] */
    int32_t *cands;         /* HLZ_TABLE_CANDIDATES guesses per row */
    uint32_t *slots, *fc;   /* per row: the slot (rows without guesses), the guesses' frequencies */
    hlz_token_found *found; /* per row, then per search */
    uint8_t *search;        /* per row: its token is none of its guesses */
    const uint32_t *seqs;   /* the rows of the searches */
} find_step;

/* A found token for stream c: consumed, or the stream stops. */
static void take_found(const hlz_llm *llm, hlz_llm_stream *c, find_state *t, const hlz_token_found *f)
{
    c->ids[t->at] = (int32_t)f->token;
    c->status = f->token < llm->n_vocab ? c->advance(c->ctx, (int32_t)f->token, f->cum, f->freq, &c->error)
                                        : hlz_fail(&c->error, HLZ_ERR_CORRUPT, "decoded token %lu is not in the vocabulary",
                                                   (unsigned long)f->token);
    if (c->status != HLZ_OK) t->active = false;
    else t->at++;
}

/* Row j: the stream's guesses for its next token (none without a guess callback) and, without guesses, its slot. */
static void guess_row(void *context, size_t j)
{
    find_step *p = context;
    size_t i = p->who[j];
    hlz_llm_stream *c = &p->streams[i];
    int32_t *g = p->cands + j * HLZ_TABLE_CANDIDATES;
    for (size_t k = 0; k < HLZ_TABLE_CANDIDATES; k++) g[k] = -1;
    if (c->guess && (c->status = c->guess(c->ctx, g, &c->error)) != HLZ_OK) {
        p->state[i].active = false; /* the row is evaluated all the same; nothing reads it */
        for (size_t k = 0; k < HLZ_TABLE_CANDIDATES; k++) g[k] = -1;
    }
    p->slots[j] = g[0] < 0 && p->state[i].active ? c->slot(c->ctx) : 0;
}

/* Row j after the evaluation: the token found, or the decisions on the guesses. */
static void decide_row(void *context, size_t j)
{
    find_step *p = context;
    size_t i = p->who[j];
    hlz_llm_stream *c = &p->streams[i];
    find_state *t = &p->state[i];
    p->search[j] = 0;
    if (!t->active) return;
    if (p->cands[j * HLZ_TABLE_CANDIDATES] < 0) {
        take_found(p->llm, c, t, &p->found[j]);
        return;
    }
    int32_t token;
    c->status = c->decide(c->ctx, p->fc + j * HLZ_TABLE_CANDIDATES, &token, &c->error);
    if (c->status != HLZ_OK) t->active = false;
    else if (token >= 0) c->ids[t->at++] = token; /* one of the guesses */
    else p->search[j] = 1;
}

/* Search k, on row seqs[k]: the token found in the table without the guesses. */
static void finish_search(void *context, size_t k)
{
    find_step *p = context;
    size_t i = p->who[p->seqs[k]];
    take_found(p->llm, &p->streams[i], &p->state[i], &p->found[k]);
}

/* `stop` (or NULL) is shared with the other cohorts of a split walk: the
 * first that fails sets it, and the others end at their next step. */
static bool stopped(atomic_int *stop) { return stop && atomic_load_explicit(stop, memory_order_relaxed); }

static hlz_status walk_decode_find(const hlz_llm *llm, hlz_llm_stream *streams, size_t count, int threads,
                                   atomic_int *stop, hlz_error *error)
{
    enum { G = HLZ_TABLE_CANDIDATES };
    uint32_t n_ctx = hlz_session_length(llm->prime) + llm->params.carry + llm->params.window;
    find_state *state = calloc(count, sizeof *state);
    hlz_session **ses = malloc(count * sizeof *ses);
    const int32_t **toks = malloc(count * sizeof *toks);
    size_t *counts = malloc(count * sizeof *counts), *who = malloc(count * sizeof *who);
    uint32_t *slots = malloc(count * sizeof *slots), *fc = malloc(count * G * sizeof *fc);
    uint32_t *seqs = malloc(count * sizeof *seqs), *slots2 = malloc(count * sizeof *slots2);
    int32_t *cands = malloc(count * G * sizeof *cands);
    uint8_t *search = malloc(count);
    hlz_token_found *found = malloc(count * sizeof *found), *found2 = malloc(count * sizeof *found2);
    hlz_kept_tables *kept = NULL;
    hlz_status st = HLZ_OK;
    if (!state || !ses || !toks || !counts || !who || !slots || !fc || !seqs || !slots2 || !cands || !search || !found ||
        !found2)
        st = hlz_fail(error, HLZ_ERR_NOMEM, "out of memory decoding %zu chunks", count);
    if (st == HLZ_OK) st = hlz_kept_tables_create(llm->model, &kept, error);
    for (size_t i = 0; i < count && st == HLZ_OK; i++) {
        streams[i].status = HLZ_OK;
        state[i].active = streams[i].n > 0;
        if (state[i].active) st = hlz_session_create(llm->model, n_ctx, &state[i].s, error);
    }
    find_step step = {.llm = llm, .streams = streams, .state = state, .who = who, .cands = cands, .slots = slots,
                      .fc = fc, .search = search};
    while (st == HLZ_OK && !stopped(stop)) {
        size_t m = 0;
        for (size_t i = 0; i < count && st == HLZ_OK; i++) {
            find_state *t = &state[i];
            hlz_llm_stream *c = &streams[i];
            while (t->active) {
                if (t->at == c->n) { /* done */
                    t->active = false;
                    break;
                }
                if (t->started && t->at < t->end) { /* the token before `at` predicts it */
                    ses[m] = t->s, toks[m] = c->ids + t->at - 1, counts[m] = 1;
                    break;
                }
                /* A window starts at `at`: the prime, then its carried tokens. */
                size_t begin = t->at, first = window_first(llm, begin);
                t->end = c->n - begin < llm->params.window ? c->n : begin + llm->params.window;
                t->started = true;
                if ((st = hlz_session_copy(llm->model, t->s, llm->prime, error)) != HLZ_OK) break;
                if (first < begin) {
                    ses[m] = t->s, toks[m] = c->ids + first, counts[m] = begin - first;
                    break;
                }
                /* The prime's logits predict it: decided here, then the walk goes on. */
                c->status = c->pick(c->ctx, llm->prime_logits, t->at, &c->ids[t->at], &c->error);
                if (c->status == HLZ_OK && (c->ids[t->at] < 0 || (uint32_t)c->ids[t->at] >= llm->n_vocab))
                    c->status = hlz_fail(&c->error, HLZ_ERR_CORRUPT, "decoded token %ld is not in the vocabulary",
                                         (long)c->ids[t->at]);
                if (c->status != HLZ_OK) t->active = false;
                else t->at++;
            }
            if (st == HLZ_OK && t->active) who[m++] = i;
        }
        if (st != HLZ_OK || m == 0) break;
        hlz_parallel_for(threads, m, guess_row, &step);
        st = hlz_model_eval_batch_guess(llm->model, ses, toks, counts, m, cands, slots, fc, found, kept, error);
        if (st != HLZ_OK) break;
        step.found = found;
        hlz_parallel_for(threads, m, decide_row, &step);
        size_t m2 = 0;
        for (size_t j = 0; j < m; j++)
            if (search[j]) seqs[m2] = (uint32_t)j, slots2[m2++] = streams[who[j]].slot(streams[who[j]].ctx);
        if (m2 == 0) continue;
        if ((st = hlz_model_find_kept(llm->model, kept, seqs, slots2, m2, found2, error)) != HLZ_OK) break;
        step.found = found2, step.seqs = seqs;
        hlz_parallel_for(threads, m2, finish_search, &step);
    }
    if (st != HLZ_OK && stop) atomic_store(stop, 1);
    for (size_t i = 0; state && i < count; i++) hlz_session_free(state[i].s);
    hlz_kept_tables_free(kept);
    free(state), free(ses), free(toks), free(counts), free(who), free(slots), free(fc), free(seqs), free(slots2);
    free(cands), free(search), free(found), free(found2);
    return st;
}

/* The lockstep walk with logits; carried tokens are evaluated in calls that
 * return at most `budget` bytes of them. */
static hlz_status walk_decode_logits(const hlz_llm *llm, hlz_llm_stream *streams, size_t count, int threads,
                                     size_t budget, atomic_int *stop, hlz_error *error)
{
    size_t v = llm->n_vocab;
    /* Tokens per call for the carried tokens: the logits budget, and no more
     * than every stream's carried tokens can use. */
    size_t room = budget / (v * sizeof(float));
    room = room < 1 ? 1 : room;
    room = room < count * llm->params.carry ? room : count * llm->params.carry;
    uint32_t n_ctx = hlz_session_length(llm->prime) + llm->params.carry + llm->params.window;
    lockstep L = {.llm = llm, .streams = streams, .count = count, .state = calloc(count, sizeof(stream_state)),
                  .next = malloc(count * sizeof(float *)), .carried = malloc(count * v * sizeof(float)),
                  .step = malloc(count * v * sizeof(float)), .logits = malloc((room ? room : 1) * v * sizeof(float)),
                  .room = room, .ses = malloc(count * sizeof(hlz_session *)),
                  .toks = malloc(count * sizeof(int32_t *)), .counts = malloc(count * sizeof(size_t)),
                  .who = malloc(count * sizeof(size_t))};
    size_t *list = malloc(count * sizeof *list);
    hlz_status st = HLZ_OK;
    if (!L.state || !L.next || !L.carried || !L.step || !L.logits || !L.ses || !L.toks || !L.counts || !L.who || !list)
        st = hlz_fail(error, HLZ_ERR_NOMEM, "out of memory decoding %zu chunks", count);
    for (size_t i = 0; i < count && st == HLZ_OK; i++) {
        streams[i].status = HLZ_OK;
        L.state[i].active = streams[i].n > 0;
        if (L.state[i].active) st = hlz_session_create(llm->model, n_ctx, &L.state[i].s, error);
    }
    while (st == HLZ_OK && !stopped(stop)) {
        size_t m = 0;
        for (size_t i = 0; i < count && st == HLZ_OK; i++) {
            stream_state *t = &L.state[i];
            if (t->active && t->at == streams[i].n) t->active = false; /* done */
            if (t->active && (!t->started || t->at == t->end)) st = start_window(&L, i, error);
            if (t->active) list[m++] = i;
        }
        if (st != HLZ_OK || m == 0) break;
        if ((st = eval_carried(&L, error)) != HLZ_OK) break;
        /* The picks are independent (one context per chunk): spread them over the threads. */
        pick_job p = {&L, list};
        hlz_parallel_for(threads, m, pick_one, &p);
        st = eval_step(&L, error);
    }
    if (st != HLZ_OK && stop) atomic_store(stop, 1);
    for (size_t i = 0; L.state && i < count; i++) hlz_session_free(L.state[i].s);
    free(L.state), free(L.next), free(L.carried), free(L.step), free(L.logits), free(L.ses), free(L.toks);
    free(L.counts), free(L.who), free(list);
    return st;
}

/* ---- cohorts: walks that overlap --------------------------------------------- */

/* One walk of a split: its streams (copies, gathered), threads and outcome. */
typedef struct {
    const hlz_llm *llm;
    hlz_llm_stream *streams;
    size_t count;
    int threads;
    bool find;
    size_t budget;
    atomic_int *stop;
    hlz_status status;
    hlz_error error;
} cohort;

static void *walk_cohort(void *arg)
{
    cohort *c = arg;
    c->status = c->find ? walk_decode_find(c->llm, c->streams, c->count, c->threads, c->stop, &c->error)
                        : walk_decode_logits(c->llm, c->streams, c->count, c->threads, c->budget, c->stop, &c->error);
    return NULL;
}

/* Stream i goes to cohort i % k, as its (i / k)-th: chunks of one batch end
 * at different steps, and interleaving keeps the cohorts' sizes even. The
 * caller walks cohort 0, a thread each of the others; every cohort has its
 * own sessions, buffers and kept tables, and the model serialises their
 * evaluations (the GPU's lock; the CPU's needs none, forward.c keeps all its
 * state in the call). */
static hlz_status walk_cohorts(const hlz_llm *llm, hlz_llm_stream *streams, size_t count, int threads, size_t k,
                               bool find, hlz_error *error)
{
    hlz_llm_stream *mine = malloc(count * sizeof *mine);
    if (!mine) return hlz_fail(error, HLZ_ERR_NOMEM, "out of memory decoding %zu chunks", count);
    cohort c[COHORTS_MAX];
    pthread_t ids[COHORTS_MAX];
    bool running[COHORTS_MAX] = {false};
    atomic_int stop;
    atomic_init(&stop, 0);
    for (size_t j = 0, at = 0; j < k; j++) {
        size_t n = (count - j + k - 1) / k;
        int share = threads / (int)k + ((int)j < threads % (int)k);
        c[j] = (cohort){.llm = llm, .streams = mine + at, .count = n, .threads = share < 1 ? 1 : share,
                        .find = find, .budget = llm->budget / k, .stop = &stop, .status = HLZ_OK};
        for (size_t q = 0; q < n; q++) mine[at + q] = streams[j + q * k];
        at += n;
    }
    for (size_t j = 1; j < k; j++) running[j] = pthread_create(&ids[j], NULL, walk_cohort, &c[j]) == 0;
    walk_cohort(&c[0]);
    for (size_t j = 1; j < k; j++) {
        if (running[j]) pthread_join(ids[j], NULL);
        else walk_cohort(&c[j]); /* no thread for it: after the caller's */
    }
    hlz_status st = HLZ_OK;
    for (size_t j = 0, at = 0; j < k; at += c[j].count, j++) {
        for (size_t q = 0; q < c[j].count; q++) streams[j + q * k] = mine[at + q];
        if (st == HLZ_OK && c[j].status != HLZ_OK) {
            st = c[j].status;
            if (error) *error = c[j].error;
        }
    }
    free(mine);
    return st;
}

hlz_status hlz_llm_walk_decode_many(const hlz_llm *llm, hlz_llm_stream *streams, size_t count, int threads,
                                    size_t cohorts, hlz_error *error)
{
    if (count == 0) return HLZ_OK;
    bool find = llm->stats;
    for (size_t i = 0; i < count; i++)
        find = find && streams[i].slot && streams[i].advance && (!streams[i].guess || streams[i].decide);
    size_t k = cohorts < count ? cohorts : count;
    k = k > COHORTS_MAX ? COHORTS_MAX : k;
    if (k > 1) return walk_cohorts(llm, streams, count, threads, k, find, error);
    return find ? walk_decode_find(llm, streams, count, threads, NULL, error)
                : walk_decode_logits(llm, streams, count, threads, llm->budget, NULL, error);
}

hlz_status hlz_llm_untokenize(const hlz_llm *llm, const int32_t *ids, size_t n, unsigned flags, uint8_t *dst,
                              size_t raw_size, hlz_error *error)
{
    uint8_t *text;
    size_t size;
    hlz_status st = hlz_model_detokenize(llm->model, ids, n, &text, &size, error);
    if (st != HLZ_OK) return st == HLZ_ERR_NOMEM ? st : hlz_fail(error, HLZ_ERR_CORRUPT, "llm data decodes to invalid tokens");
    size_t out = size;
    if (flags & HLZ_LLM_FLAG_CRLF)
        for (size_t i = 0; i < size; i++) out += text[i] == '\n';
    if (out != raw_size) {
        st = hlz_fail(error, HLZ_ERR_CORRUPT, "llm data decodes to %zu bytes, not %zu", out, raw_size);
    } else if (flags & HLZ_LLM_FLAG_CRLF) {
        for (size_t i = 0, k = 0; i < size; i++) {
            if (text[i] == '\n') dst[k++] = '\r';
            dst[k++] = text[i];
        }
    } else {
        memcpy(dst, text, size);
    }
    free(text);
    return st;
}

typedef struct {
    const hlz_llm *llm;
    hlz_rans_decoder d;
    hlz_hybrid *hybrid;
    uint32_t *table;
    unsigned flags;
} decode_tables;

/* Decodes one token from the table of `logits`. */
static hlz_status decode_token(void *context, const float *logits, size_t at, int32_t *token, hlz_error *e)
{
    decode_tables *t = context;
    (void)at;
    hlz_freq_from_logits(logits, t->llm->n_vocab, t->table);
    return hlz_hybrid_decode(t->hybrid, t->table, &t->d, token, e);
}

static uint32_t decode_slot(void *context) { return hlz_rans_slot(&((decode_tables *)context)->d); }

/* The lockstep walk's pieces of hlz_hybrid_decode (with no parts: the model's table alone). */
static hlz_status decode_guess(void *context, int32_t *cand, hlz_error *e)
{
    return hlz_hybrid_decode_guess(((decode_tables *)context)->hybrid, cand, e);
}

static hlz_status decode_decide(void *context, const uint32_t *fc, int32_t *token, hlz_error *e)
{
    decode_tables *t = context;
    return hlz_hybrid_decode_decide(t->hybrid, fc, &t->d, token, e);
}

static hlz_status decode_advance(void *context, int32_t token, uint32_t cum, uint32_t freq, hlz_error *e)
{
    decode_tables *t = context;
    return hlz_hybrid_decode_finish(t->hybrid, &t->d, token, cum, freq, e);
}

hlz_status hlz_llm_decode_start(const hlz_llm *llm, const uint8_t *src, size_t coded_size, size_t raw_size,
                                hlz_llm_stream *stream, hlz_error *error)
{
    memset(stream, 0, sizeof *stream);
    size_t at = 0;
    uint64_t n, bits, flags, parts = 0;
    if (hlz_get_varint(src, coded_size, &at, &n) || hlz_get_varint(src, coded_size, &at, &bits) ||
        hlz_get_varint(src, coded_size, &at, &flags) || flags > HLZ_LLM_FLAGS || n == 0 ||
        n > (uint64_t)raw_size + 1 ||
        ((flags & HLZ_LLM_FLAG_HYBRID) &&
         (hlz_get_varint(src, coded_size, &at, &parts) || parts == 0 || parts > HLZ_MIX_ALL)))
        return hlz_fail(error, HLZ_ERR_CORRUPT, "corrupt llm payload header");
    decode_tables *t = calloc(1, sizeof *t);
    if (!t) return hlz_fail(error, HLZ_ERR_NOMEM, "out of memory");
    t->llm = llm, t->flags = (unsigned)flags & HLZ_LLM_FLAG_CRLF;
    hlz_status st = hlz_rans_decoder_init(&t->d, src + at, coded_size - at, error);
    if (st == HLZ_OK) {
        stream->ids = malloc((size_t)n * sizeof *stream->ids);
        t->table = malloc(llm->n_vocab * sizeof *t->table);
        if (!stream->ids || !t->table) st = hlz_fail(error, HLZ_ERR_NOMEM, "out of memory");
    }
    if (st == HLZ_OK) st = hlz_hybrid_create((unsigned)parts, llm->n_vocab, (size_t)n, &t->hybrid, error);
    if (st != HLZ_OK) {
        hlz_hybrid_free(t->hybrid);
        free(stream->ids), free(t->table), free(t);
        stream->ids = NULL;
        return st;
    }
    stream->n = (size_t)n, stream->pick = decode_token, stream->ctx = t;
    /* For the GPU's token searches: the same decoder in pieces. */
    stream->slot = decode_slot, stream->advance = decode_advance;
    if (parts) stream->guess = decode_guess, stream->decide = decode_decide;
    return HLZ_OK;
}

hlz_status hlz_llm_decode_finish(const hlz_llm *llm, hlz_llm_stream *stream, uint8_t *dst, size_t raw_size,
                                 hlz_error *error)
{
    decode_tables *t = stream->ctx;
    hlz_status st = stream->status;
    if (st != HLZ_OK && error) *error = stream->error;
    if (st == HLZ_OK) st = hlz_rans_finish(&t->d, error);
    if (st == HLZ_OK) st = hlz_llm_untokenize(llm, stream->ids, stream->n, t->flags, dst, raw_size, error);
    hlz_hybrid_free(t->hybrid);
    free(stream->ids), free(t->table), free(t);
    stream->ids = NULL, stream->ctx = NULL;
    return st;
}

hlz_status hlz_llm_decode(const hlz_llm *llm, const uint8_t *src, size_t coded_size, uint8_t *dst,
                          size_t raw_size, hlz_error *error)
{
    hlz_llm_stream stream;
    hlz_status st = hlz_llm_decode_start(llm, src, coded_size, raw_size, &stream, error);
    if (st != HLZ_OK) return st;
    stream.status = hlz_llm_walk_decode(llm, stream.ids, stream.n, stream.pick, stream.ctx, &stream.error);
    return hlz_llm_decode_finish(llm, &stream, dst, raw_size, error);
}

/* ---- the header option ------------------------------------------------------ */

void hlz_llm_option_write(const hlz_llm_params *p, uint8_t out[4 + HLZ_OPTION_LLM_SIZE])
{
    hlz_put16(out, HLZ_OPTION_LLM);
    hlz_put16(out + 2, HLZ_OPTION_LLM_SIZE);
    out[4] = p->prime;
    out[5] = p->attention;
    hlz_put16(out + 6, 0);
    hlz_put32(out + 8, p->window);
    hlz_put32(out + 12, p->carry);
}

hlz_status hlz_llm_option_parse(const uint8_t *v, size_t size, hlz_llm_params *p, hlz_error *error)
{
    if (size != HLZ_OPTION_LLM_SIZE || hlz_le16(v + 2) != 0)
        return hlz_fail(error, HLZ_ERR_CORRUPT, "corrupt header: llm option");
    p->prime = v[0];
    p->attention = v[1];
    p->window = hlz_le32(v + 4);
    p->carry = hlz_le32(v + 8);
    if (p->prime == 0 || p->prime >= HLZ_PRIME_COUNT)
        return hlz_fail(error, HLZ_ERR_VERSION, "archive uses priming text %u, unknown to this hlz; upgrade hlz", p->prime);
    if (p->attention >= HLZ_ATTENTION_COUNT)
        return hlz_fail(error, HLZ_ERR_VERSION, "archive uses attention arithmetic %u, unknown to this hlz; upgrade hlz",
                        p->attention);
    if (p->window == 0 || p->carry >= p->window)
        return hlz_fail(error, HLZ_ERR_CORRUPT, "corrupt header: llm windows of %u tokens with %u carried",
                        (unsigned)p->window, (unsigned)p->carry);
    return HLZ_OK;
}
