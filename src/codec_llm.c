/* codec_llm.c - the llm codec (llm.h): windows of tokens coded with the
 * model's frequency tables and one rANS stream per chunk. */
#include "llm.h"
#include "detmath.h"
#include "entropy.h"
#include "hybrid.h"
#include "model.h"

#include <stdlib.h>
#include <string.h>

#define EVAL_PIECE 64 /* tokens per evaluation call: bounds the logits buffer */
#define PRIME_MAX 64  /* tokens of the priming text at most */

static const char prime_text[] = "The following is a plain text document.\n\n";

struct hlz_llm {
    hlz_model *model;
    hlz_llm_params params;
    hlz_session *prime;   /* the model's state after the priming tokens */
    float *prime_logits;  /* the logits that follow them */
    uint32_t n_vocab;
    unsigned mix;         /* encoder: the hybrid parts (HLZ_MIX_*) chunks are coded with */
};

void hlz_llm_params_default(const hlz_model *model, hlz_llm_params *p)
{
    /* The prime takes at most PRIME_MAX tokens; windows and carry share the rest. */
    uint32_t room = model->config.n_ctx > PRIME_MAX ? model->config.n_ctx - PRIME_MAX : 1;
    p->prime = HLZ_PRIME_TEXT;
    p->window = room * 4 / 5 < 512 ? room * 4 / 5 : 512;
    if (p->window == 0) p->window = 1;
    p->carry = p->window / 4 < room - p->window ? p->window / 4 : room - p->window;
}

const hlz_llm_params *hlz_llm_get_params(const hlz_llm *llm) { return &llm->params; }
void hlz_llm_set_mix(hlz_llm *llm, unsigned parts) { llm->mix = parts & HLZ_MIX_ALL; }
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
    hlz_llm *llm = calloc(1, sizeof *llm);
    if (!llm) return hlz_fail(e, HLZ_ERR_NOMEM, "out of memory");
    llm->model = model;
    llm->params = *params;
    llm->n_vocab = c->n_vocab;
    float *all = malloc(n_prime * (size_t)c->n_vocab * sizeof *all);
    llm->prime_logits = malloc((size_t)c->n_vocab * sizeof *llm->prime_logits);
    if (!all || !llm->prime_logits) st = hlz_fail(e, HLZ_ERR_NOMEM, "out of memory");
    if (st == HLZ_OK) st = hlz_session_create(model, (uint32_t)n_prime, &llm->prime, e);
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

hlz_status hlz_llm_walk_encode(const hlz_llm *llm, const int32_t *ids, size_t n, hlz_llm_visit visit, void *ctx,
                               hlz_error *error)
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
    double bits;
} encode_tables;

static void record(void *context, const float *logits, int32_t token, size_t at)
{
    encode_tables *t = context;
    (void)at;
    hlz_freq_from_logits(logits, t->llm->n_vocab, t->table);
    t->n_sym += hlz_hybrid_encode(t->hybrid, t->table, token, t->sym + t->n_sym);
    t->bits += hlz_llm_token_bits(logits, t->llm->n_vocab, token);
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
    if (st == HLZ_OK) st = hlz_llm_walk_encode(llm, ids, n, record, &t, error);
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
    free(ids), free(t.sym), free(t.table);
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
} decode_tables;

/* Decodes one token from the table of `logits`. */
static hlz_status decode_token(void *context, const float *logits, size_t at, int32_t *token, hlz_error *e)
{
    decode_tables *t = context;
    (void)at;
    hlz_freq_from_logits(logits, t->llm->n_vocab, t->table);
    return hlz_hybrid_decode(t->hybrid, t->table, &t->d, token, e);
}

hlz_status hlz_llm_decode(const hlz_llm *llm, const uint8_t *src, size_t coded_size, uint8_t *dst,
                          size_t raw_size, hlz_error *error)
{
    size_t at = 0;
    uint64_t n, bits, flags, parts = 0;
    if (hlz_get_varint(src, coded_size, &at, &n) || hlz_get_varint(src, coded_size, &at, &bits) ||
        hlz_get_varint(src, coded_size, &at, &flags) || flags > HLZ_LLM_FLAGS || n == 0 ||
        n > (uint64_t)raw_size + 1 ||
        ((flags & HLZ_LLM_FLAG_HYBRID) &&
         (hlz_get_varint(src, coded_size, &at, &parts) || parts == 0 || parts > HLZ_MIX_ALL)))
        return hlz_fail(error, HLZ_ERR_CORRUPT, "corrupt llm payload header");
    decode_tables t = {.llm = llm};
    hlz_status st = hlz_rans_decoder_init(&t.d, src + at, coded_size - at, error);
    if (st != HLZ_OK) return st;
    int32_t *ids = malloc((size_t)n * sizeof *ids);
    t.table = malloc(llm->n_vocab * sizeof *t.table);
    if (!ids || !t.table) st = hlz_fail(error, HLZ_ERR_NOMEM, "out of memory");
    if (st == HLZ_OK) st = hlz_hybrid_create((unsigned)parts, llm->n_vocab, (size_t)n, &t.hybrid, error);
    if (st == HLZ_OK) st = hlz_llm_walk_decode(llm, ids, (size_t)n, decode_token, &t, error);
    if (st == HLZ_OK) st = hlz_rans_finish(&t.d, error);
    if (st == HLZ_OK)
        st = hlz_llm_untokenize(llm, ids, (size_t)n, (unsigned)flags & HLZ_LLM_FLAG_CRLF, dst, raw_size, error);
    hlz_hybrid_free(t.hybrid);
    free(ids), free(t.table);
    return st;
}

/* ---- the header option ------------------------------------------------------ */

void hlz_llm_option_write(const hlz_llm_params *p, uint8_t out[4 + HLZ_OPTION_LLM_SIZE])
{
    hlz_put16(out, HLZ_OPTION_LLM);
    hlz_put16(out + 2, HLZ_OPTION_LLM_SIZE);
    out[4] = p->prime;
    out[5] = 0;
    hlz_put16(out + 6, 0);
    hlz_put32(out + 8, p->window);
    hlz_put32(out + 12, p->carry);
}

hlz_status hlz_llm_option_parse(const uint8_t *v, size_t size, hlz_llm_params *p, hlz_error *error)
{
    if (size != HLZ_OPTION_LLM_SIZE || v[1] != 0 || hlz_le16(v + 2) != 0)
        return hlz_fail(error, HLZ_ERR_CORRUPT, "corrupt header: llm option");
    p->prime = v[0];
    p->window = hlz_le32(v + 4);
    p->carry = hlz_le32(v + 8);
    if (p->prime == 0 || p->prime >= HLZ_PRIME_COUNT)
        return hlz_fail(error, HLZ_ERR_VERSION, "archive uses priming text %u, unknown to this hlz; upgrade hlz", p->prime);
    if (p->window == 0 || p->carry >= p->window)
        return hlz_fail(error, HLZ_ERR_CORRUPT, "corrupt header: llm windows of %u tokens with %u carried",
                        (unsigned)p->window, (unsigned)p->carry);
    return HLZ_OK;
}
