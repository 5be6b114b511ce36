/* forward.c - the forward pass of llama and qwen2 models (model.h states the
 * arithmetic contract). Each step below says the order of its operations;
 * the CUDA backend reproduces exactly these. */
#include "device.h"
#include "entropy.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

/* RMSNorm: scale = 1 / sqrt(dot(x, x) / n + eps); y[i] = (x[i] * scale) * w[i]. */
static void rmsnorm(const hlz_kernels *k, float *y, const float *x, const float *w, uint32_t n, float eps)
{
    float ss = k->dot_f32(x, x, n);
    float scale = 1.0f / sqrtf(ss / (float)n + eps);
    for (uint32_t i = 0; i < n; i++) y[i] = (x[i] * scale) * w[i];
}

/* ---- matrix products, rows split over threads --------------------------- */

typedef struct {
    const hlz_kernels *k;
    const hlz_matrix *w;
    const hlz_q8_block *x;  /* n_tokens vectors of w->cols_pad / 32 blocks */
    size_t n_tokens;
    float *out;             /* [n_tokens][w->rows] */
    uint64_t rows_per_job;
} matmul_job;

/* One job: a range of rows for every token (jobs are whole multiples of 16
 * rows, the kernels' tiles). Each output is the same dot_q8_0 whatever the
 * split, so the result does not depend on it. */
static void matmul_rows(void *context, size_t job)
{
    matmul_job *j = context;
    uint64_t rows = j->w->rows;
    uint64_t r0 = job * j->rows_per_job, r1 = r0 + j->rows_per_job < rows ? r0 + j->rows_per_job : rows;
    j->k->matmul_q8_0(j->w->blocks, j->w->cols_pad, j->x, j->n_tokens, j->out, rows, r0, r1);
}

static void matmul(const hlz_model *m, const hlz_matrix *w, const hlz_q8_block *x, size_t n_tokens, float *out)
{
    /* Threads pay off from a few hundred thousand multiply-adds (the pool's
     * workers wake in microseconds); the result is the same either way. */
    int threads = (double)w->rows * (double)w->cols * (double)n_tokens < 2e5 ? 1 : m->threads;
    /* Whole tiles of 16 rows, about 4 jobs per thread so that they even out. */
    uint64_t tiles = (w->rows + 15) / 16, per_job = (tiles + 4 * (uint64_t)threads - 1) / (4 * (uint64_t)threads);
    matmul_job j = {.k = m->kernels, .w = w, .x = x, .n_tokens = n_tokens, .out = out, .rows_per_job = 16 * per_job};
    size_t jobs = (size_t)((w->rows + j.rows_per_job - 1) / j.rows_per_job);
    hlz_parallel_for(threads, jobs, matmul_rows, &j);
}

/* Quantizes n_tokens vectors of `cols` floats into hlz_pad32(cols) / 32
 * blocks each; a partial last block is padded with zeros. */
static void quantize_rows(const hlz_kernels *k, const float *x, size_t n_tokens, uint64_t cols, hlz_q8_block *q)
{
    uint64_t full = cols / HLZ_QBLOCK * HLZ_QBLOCK, blocks = hlz_pad32(cols) / HLZ_QBLOCK;
    for (size_t t = 0; t < n_tokens; t++) {
        const float *v = x + t * cols;
        hlz_q8_block *out = q + t * blocks;
        k->quantize_q8(v, full, out);
        if (full < cols) {
            float tail[HLZ_QBLOCK] = {0};
            memcpy(tail, v + full, (cols - full) * sizeof *tail);
            k->quantize_q8(tail, HLZ_QBLOCK, out + full / HLZ_QBLOCK);
        }
    }
}

/* ---- rotary position embedding ---------------------------------------- */

/* Rotates pairs of one head vector: (x[i], x[i + half]) for neox, else
 * (x[2i], x[2i+1]); a' = a*c - b*s, b' = a*s + b*c. */
static void rope(const hlz_model *m, float *x, uint32_t pos)
{
    uint32_t half = m->config.head_dim / 2;
    const float *c = m->rope_cos + (size_t)pos * half, *s = m->rope_sin + (size_t)pos * half;
    for (uint32_t i = 0; i < half; i++) {
        float *a = m->config.rope_neox ? &x[i] : &x[2 * i];
        float *b = m->config.rope_neox ? &x[i + half] : &x[2 * i + 1];
        float a0 = *a, b0 = *b;
        *a = a0 * c[i] - b0 * s[i];
        *b = a0 * s[i] + b0 * c[i];
    }
}

/* ---- attention ------------------------------------------------------------- */

typedef hlz_token_place token_place; /* device.h */

typedef struct {
    const hlz_model *m;
    const token_place *place;
    uint32_t layer;
    const float *q;   /* [n_tokens][n_head * head_dim] */
    float *out;       /* same shape */
    float *scratch;   /* per job: scratch_stride floats */
    size_t scratch_stride;
} attention_job;

/* One (token, head), in its session's attention arithmetic: int8
 * (hlz_attention_int8), or float: scores s_j = dot(q, k_j) * (1 / sqrt(d)) for j <= pos;
 * p_j = e^(s_j - max) / sum; out = sum over j of p_j * v_j, each sum in the
 * canonical 32-lane order over j. */
static void attend(void *context, size_t job)
{
    attention_job *a = context;
    const hlz_model_config *c = &a->m->config;
    const hlz_kernels *k = a->m->kernels;
    uint32_t hd = c->head_dim, h = (uint32_t)(job % c->n_head);
    size_t t = job / c->n_head;
    const hlz_session *s = a->place[t].session;
    uint32_t n = a->place[t].pos + 1, kv_h = h / (c->n_head / c->n_head_kv);
    size_t kv_row = (size_t)c->n_head_kv * hd;
    const float *kc = s->k + (size_t)a->layer * s->n_ctx * kv_row + (size_t)kv_h * hd;
    const float *vc = s->v + (size_t)a->layer * s->n_ctx * kv_row + (size_t)kv_h * hd;
    const float *q = a->q + t * c->n_head * hd + (size_t)h * hd;
    float *lanes = a->scratch + job * a->scratch_stride, *scores = lanes + 32 * (size_t)hd;
    if (s->attention == HLZ_ATTENTION_INT8) { /* the session's quantized caches */
        size_t nbk = kv_row / HLZ_QBLOCK, at = (size_t)a->layer * s->n_ctx * nbk + (size_t)kv_h * (hd / HLZ_QBLOCK);
        hlz_attention_int8_blocks(k, q, s->kq + at, s->vq + at, nbk, n, hd,
                                  a->out + t * c->n_head * hd + (size_t)h * hd, lanes);
        return;
    }
    float scale = 1.0f / sqrtf((float)hd);
    float max = -INFINITY;
    for (uint32_t j = 0; j < n; j++) {
        scores[j] = k->dot_f32(q, kc + (size_t)j * kv_row, hd) * scale;
        max = scores[j] > max ? scores[j] : max;
    }
    for (uint32_t j = 0; j < n; j++) scores[j] = hlz_expf(scores[j] - max);
    float sum = k->sum_f32(scores, n);
    for (uint32_t j = 0; j < n; j++) scores[j] = scores[j] / sum;
    memset(lanes, 0, 32 * hd * sizeof *lanes);
    for (uint32_t j = 0; j < n; j++) {
        float *lane = lanes + (size_t)(j % 32) * hd, p = scores[j];
        const float *v = vc + (size_t)j * kv_row;
        for (uint32_t d = 0; d < hd; d++) lane[d] = lane[d] + p * v[d];
    }
    for (uint32_t off = 16; off > 0; off >>= 1)
        for (uint32_t l = 0; l < off; l++)
            for (uint32_t d = 0; d < hd; d++) lanes[l * hd + d] = lanes[l * hd + d] + lanes[(l + off) * hd + d];
    memcpy(a->out + t * c->n_head * hd + (size_t)h * hd, lanes, hd * sizeof *lanes);
}

/* ---- the whole pass ------------------------------------------------------- */

static float silu(float x) { return x / (1.0f + hlz_expf(-x)); }

/* Runs the `n` tokens placed by `place` (each appended to its session at
 * its position) through the model as one batch. */
static hlz_status forward(hlz_model *m, const token_place *place, const int32_t *tokens, size_t n, float *out,
                          hlz_error *error)
{
    const hlz_model_config *c = &m->config;
    const hlz_kernels *k = m->kernels;
    uint32_t dim = c->n_embd, hd = c->head_dim, longest = 0;
    for (size_t t = 0; t < n; t++) longest = place[t].pos + 1 > longest ? place[t].pos + 1 : longest;
    size_t q_dim = (size_t)c->n_head * hd, kv_dim = (size_t)c->n_head_kv * hd;
    size_t widest = dim > q_dim ? dim : q_dim;
    widest = widest > c->n_ff ? widest : c->n_ff;
    float *x = malloc(n * dim * sizeof *x), *xb = malloc(n * widest * sizeof *xb);
    float *q = malloc(n * q_dim * sizeof *q), *att = malloc(n * q_dim * sizeof *att);
    float *kv = malloc(n * kv_dim * 2 * sizeof *kv);
    float *gate = malloc(n * c->n_ff * sizeof *gate), *up = malloc(n * c->n_ff * sizeof *up);
    hlz_q8_block *xq = malloc(n * (hlz_pad32(widest) / HLZ_QBLOCK) * sizeof *xq);
    size_t jobs = n * c->n_head, stride = 32 * (size_t)hd + longest;
    for (size_t t = 0; t < n; t++)
        if (place[t].session->attention == HLZ_ATTENTION_INT8) { /* its scratch: whole uint64_t from each job's start */
            size_t need = (hlz_attention_int8_blocks_scratch(longest, hd) + 7) / 8 * 2;
            stride = stride > need ? stride : need;
            stride += stride & 1;
            break;
        }
    float *scratch = malloc(jobs * stride * sizeof *scratch);
    hlz_status st = HLZ_OK;
    if (!x || !xb || !q || !att || !kv || !gate || !up || !xq || !scratch) {
        st = hlz_fail(error, HLZ_ERR_NOMEM, "out of memory evaluating %zu tokens", n);
        goto done;
    }
    for (size_t t = 0; t < n && st == HLZ_OK; t++)
        st = hlz_gguf_tensor_row(m->token_embd, (uint64_t)tokens[t], x + t * dim, error);
    for (size_t t = 0; t < n && st == HLZ_OK; t++) { /* int8 sessions' quantized caches, on first use */
        hlz_session *s = place[t].session;
        if (s->attention != HLZ_ATTENTION_INT8 || s->kq) continue; /* eval_batch refused a late change */
        size_t blocks = (size_t)c->n_layer * s->n_ctx * (kv_dim / HLZ_QBLOCK);
        s->kq = malloc(blocks * sizeof *s->kq), s->vq = malloc(blocks * sizeof *s->vq);
        if (!s->kq || !s->vq) {
            free(s->kq), free(s->vq);
            s->kq = s->vq = NULL;
            st = hlz_fail(error, HLZ_ERR_NOMEM, "out of memory for a %u-token int8 key/value cache", (unsigned)s->n_ctx);
        }
    }
    if (st != HLZ_OK) goto done;

    for (uint32_t l = 0; l < c->n_layer; l++) {
        const hlz_layer *w = &m->layers[l];
        for (size_t t = 0; t < n; t++) rmsnorm(k, xb + t * dim, x + t * dim, w->attn_norm, dim, c->rms_eps);
        quantize_rows(k, xb, n, dim, xq);
        float *kn = kv, *vn = kv + n * kv_dim;
        matmul(m, &w->wq, xq, n, q);
        matmul(m, &w->wk, xq, n, kn);
        matmul(m, &w->wv, xq, n, vn);
        for (size_t t = 0; t < n; t++) {
            hlz_session *s = place[t].session;
            uint32_t pos = place[t].pos;
            if (w->bq) {
                for (size_t i = 0; i < q_dim; i++) q[t * q_dim + i] = q[t * q_dim + i] + w->bq[i];
                for (size_t i = 0; i < kv_dim; i++) kn[t * kv_dim + i] = kn[t * kv_dim + i] + w->bk[i];
                for (size_t i = 0; i < kv_dim; i++) vn[t * kv_dim + i] = vn[t * kv_dim + i] + w->bv[i];
            }
            for (uint32_t h = 0; h < c->n_head; h++) rope(m, q + t * q_dim + (size_t)h * hd, pos);
            for (uint32_t h = 0; h < c->n_head_kv; h++) rope(m, kn + t * kv_dim + (size_t)h * hd, pos);
            size_t at = ((size_t)l * s->n_ctx + pos) * kv_dim;
            memcpy(s->k + at, kn + t * kv_dim, kv_dim * sizeof *kn);
            memcpy(s->v + at, vn + t * kv_dim, kv_dim * sizeof *vn);
            if (s->attention == HLZ_ATTENTION_INT8) { /* quantized once here, not per query */
                k->quantize_q8(kn + t * kv_dim, kv_dim, s->kq + at / HLZ_QBLOCK);
                k->quantize_q8(vn + t * kv_dim, kv_dim, s->vq + at / HLZ_QBLOCK);
            }
        }
        attention_job aj = {.m = m, .place = place, .layer = l, .q = q, .out = att, .scratch = scratch,
                            .scratch_stride = stride};
        hlz_parallel_for(jobs * longest < 4096 ? 1 : m->threads, jobs, attend, &aj);
        quantize_rows(k, att, n, q_dim, xq);
        matmul(m, &w->wo, xq, n, xb);
        for (size_t i = 0; i < n * dim; i++) x[i] = x[i] + xb[i];

        for (size_t t = 0; t < n; t++) rmsnorm(k, xb + t * dim, x + t * dim, w->ffn_norm, dim, c->rms_eps);
        quantize_rows(k, xb, n, dim, xq);
        matmul(m, &w->w_gate, xq, n, gate);
        matmul(m, &w->w_up, xq, n, up);
        for (size_t i = 0; i < n * c->n_ff; i++) gate[i] = silu(gate[i]) * up[i];
        quantize_rows(k, gate, n, c->n_ff, xq);
        matmul(m, &w->w_down, xq, n, xb);
        for (size_t i = 0; i < n * dim; i++) x[i] = x[i] + xb[i];
    }
    if (out) {
        for (size_t t = 0; t < n; t++) rmsnorm(k, xb + t * dim, x + t * dim, m->output_norm, dim, c->rms_eps);
        quantize_rows(k, xb, n, dim, xq);
        matmul(m, &m->output, xq, n, out);
    }
done:
    free(x), free(xb), free(q), free(att), free(kv), free(gate), free(up), free(xq), free(scratch);
    return st;
}

/* The number of candidates in a row of HLZ_TABLE_CANDIDATES (distinct
 * tokens, then -1s), or -1 when the row is not like that. */
static int candidate_count(const int32_t *c, uint32_t n_vocab)
{
    int k = 0;
    while (k < HLZ_TABLE_CANDIDATES && c[k] >= 0) {
        if ((uint32_t)c[k] >= n_vocab) return -1;
        for (int j = 0; j < k; j++)
            if (c[j] == c[k]) return -1;
        k++;
    }
    for (int j = k; j < HLZ_TABLE_CANDIDATES; j++)
        if (c[j] != -1) return -1;
    return k;
}

/* Numbers the evaluation calls: a session listed twice in one is the one
 * already marked with its number. (Comparing every pair cost the lockstep
 * decoder about a millisecond of host time per step at 1800 sequences.) */
static atomic_ullong batches;

/* hlz_model_eval_batch, with `next` its statistics variant (and with
 * `cands` those of the hybrid encoder), with `slots` its search variant
 * (and with `guesses` the hybrid decoder's, into fc and kept). */
static hlz_status eval_batch(hlz_model *m, hlz_session *const *sessions, const int32_t *const *tokens,
                             const size_t *counts, size_t n_seq, float *logits, const int32_t *next,
                             hlz_token_stats *stats, const int32_t *cands, hlz_token_mix *mix,
                             const uint32_t *slots, hlz_token_found *found, const int32_t *guesses, uint32_t *fc,
                             hlz_kept_tables *kept, hlz_error *error)
{
    size_t n = 0;
    unsigned long long batch = atomic_fetch_add_explicit(&batches, 1, memory_order_relaxed) + 1;
    if (kept) kept->n_seq = 0; /* nothing is kept until this call succeeds */
    for (size_t i = 0; i < n_seq; i++) {
        hlz_session *s = sessions[i];
        if (s->batch == batch) return hlz_fail(error, HLZ_ERR_PARAM, "a session appears twice in one batch");
        s->batch = batch;
        if (counts[i] > s->n_ctx - s->n_past)
            return hlz_fail(error, HLZ_ERR_PARAM, "%zu tokens do not fit the context (%u of %u used)", counts[i],
                            (unsigned)s->n_past, (unsigned)s->n_ctx);
        for (size_t t = 0; t < counts[i]; t++)
            if (tokens[i][t] < 0 || (uint32_t)tokens[i][t] >= m->config.n_vocab)
                return hlz_fail(error, HLZ_ERR_PARAM, "token id %d is outside the vocabulary (%u)",
                                (int)tokens[i][t], (unsigned)m->config.n_vocab);
        n += counts[i];
    }
    for (size_t t = 0; next && t < n; t++)
        if (next[t] >= 0 && (uint32_t)next[t] >= m->config.n_vocab)
            return hlz_fail(error, HLZ_ERR_PARAM, "token id %d is outside the vocabulary (%u)", (int)next[t],
                            (unsigned)m->config.n_vocab);
    for (size_t t = 0; cands && t < n; t++)
        if (next[t] >= 0 && candidate_count(cands + t * HLZ_TABLE_CANDIDATES, m->config.n_vocab) < 0)
            return hlz_fail(error, HLZ_ERR_PARAM, "row %zu: candidates must be distinct tokens, then -1", t);
    for (size_t i = 0; slots && i < n_seq; i++)
        if (counts[i] == 0) return hlz_fail(error, HLZ_ERR_PARAM, "a sequence without tokens has nothing to search");
    for (size_t i = 0; guesses && i < n_seq; i++)
        if (candidate_count(guesses + i * HLZ_TABLE_CANDIDATES, m->config.n_vocab) < 0)
            return hlz_fail(error, HLZ_ERR_PARAM, "sequence %zu: guesses must be distinct tokens, then -1", i);
    if (guesses) {
        if (kept->on_device != (m->cuda != NULL))
            return hlz_fail(error, HLZ_ERR_PARAM, "kept tables made for the model on another device");
        if (kept->kept_cap < n_seq) {
            uint8_t *grown = realloc(kept->kept, n_seq);
            if (!grown) return hlz_fail(error, HLZ_ERR_NOMEM, "out of memory");
            kept->kept = grown, kept->kept_cap = n_seq;
        }
        if (!kept->on_device && kept->rows < n_seq) {
            uint32_t *grown = realloc(kept->tables, n_seq * (size_t)m->config.n_vocab * sizeof *grown);
            if (!grown) return hlz_fail(error, HLZ_ERR_NOMEM, "out of memory for %zu tables", n_seq);
            kept->tables = grown, kept->rows = n_seq;
        }
    }
    /* int8 needs heads of whole blocks; the GPU runs one arithmetic per call, int8 for heads of up to
     * HLZ_INT8_CUDA_MAX_HEAD. */
    for (size_t i = 0; i < n_seq; i++) {
        if (sessions[i]->attention == HLZ_ATTENTION_INT8 && m->config.head_dim % HLZ_QBLOCK)
            return hlz_fail(error, HLZ_ERR_UNSUPPORTED, "integer attention needs a head dimension that is a multiple of 32");
        /* int8 caches start with the first int8 evaluation (or a copy): earlier positions have none */
        if (sessions[i]->attention == HLZ_ATTENTION_INT8 && sessions[i]->n_past &&
            !(m->cuda ? (void *)sessions[i]->k8 : (void *)sessions[i]->kq))
            return hlz_fail(error, HLZ_ERR_PARAM, "a session's attention arithmetic changed after its first evaluation");
        if (!m->cuda) continue;
        if (sessions[i]->attention != sessions[0]->attention)
            return hlz_fail(error, HLZ_ERR_UNSUPPORTED, "one GPU evaluation mixes float and int8 attention");
        if (sessions[i]->attention == HLZ_ATTENTION_INT8 && m->config.head_dim > HLZ_INT8_CUDA_MAX_HEAD)
            return hlz_fail(error, HLZ_ERR_UNSUPPORTED,
                            "integer attention on the GPU allows heads of at most %d; this model's are %u",
                            HLZ_INT8_CUDA_MAX_HEAD, (unsigned)m->config.head_dim);
    }
    if (n == 0) return HLZ_OK;
    bool derived = (next || slots) && !m->cuda; /* the CPU makes statistics and searches from logits */
    token_place *place = malloc(n * sizeof *place);
    int32_t *flat = malloc(n * sizeof *flat);
    float *rows = derived ? malloc(n * (size_t)m->config.n_vocab * sizeof *rows) : NULL;
    uint32_t *scratch = derived ? malloc(m->config.n_vocab * sizeof *scratch) : NULL;
    uint32_t *last = slots ? malloc(n_seq * sizeof *last) : NULL;
    if (!place || !flat || (derived && (!rows || !scratch)) || (slots && !last)) {
        free(place), free(flat), free(rows), free(scratch), free(last);
        return hlz_fail(error, HLZ_ERR_NOMEM, "out of memory");
    }
    size_t at = 0;
    for (size_t i = 0; i < n_seq; i++) {
        for (size_t t = 0; t < counts[i]; t++, at++) {
            place[at] = (token_place){sessions[i], sessions[i]->n_past + (uint32_t)t};
            flat[at] = tokens[i][t];
        }
        if (last) last[i] = (uint32_t)(at - 1);
    }
    hlz_status st;
    uint32_t nv = m->config.n_vocab;
    /* Without a guess in the batch the search alone (the GPU's k_token_find) does it. */
    bool guessing = false;
    for (size_t i = 0; guesses && i < n_seq; i++) guessing |= guesses[i * HLZ_TABLE_CANDIDATES] >= 0;
    if (next && m->cuda) {
        st = hlz_cuda_forward_stats(m, place, flat, n, next, stats, cands, mix, error);
    } else if (slots && guessing && m->cuda) {
        st = hlz_cuda_forward_guess(m, place, flat, n, last, guesses, slots, n_seq, fc, found, kept, error);
    } else if (slots && m->cuda) {
        st = hlz_cuda_forward_find(m, place, flat, n, last, slots, n_seq, found, error);
    } else {
        st = m->cuda ? hlz_cuda_forward(m, place, flat, n, derived ? rows : logits, error)
                     : forward(m, place, flat, n, derived ? rows : logits, error);
        for (size_t t = 0; next && st == HLZ_OK && t < n; t++)
            if (next[t] >= 0) {
                hlz_token_stats_from_logits(rows + t * nv, nv, next[t], scratch, &stats[t]);
                if (cands) {
                    const int32_t *c = cands + t * HLZ_TABLE_CANDIDATES;
                    hlz_token_mix_from_logits(rows + t * nv, nv, next[t], c, (size_t)candidate_count(c, nv), scratch,
                                              &mix[t]);
                }
            }
        for (size_t i = 0; slots && st == HLZ_OK && i < n_seq; i++) {
            const float *row = rows + (size_t)last[i] * nv;
            int k = guesses ? candidate_count(guesses + i * HLZ_TABLE_CANDIDATES, nv) : 0;
            if (k > 0) {
                hlz_token_guess_from_logits(row, nv, guesses + i * HLZ_TABLE_CANDIDATES, (size_t)k,
                                            kept->tables + i * (size_t)nv, fc + i * HLZ_TABLE_CANDIDATES);
                continue;
            }
            hlz_token_find_from_logits(row, nv, slots[i], scratch, &found[i]);
        }
    }
    if (st == HLZ_OK && guesses) {
        for (size_t i = 0; i < n_seq; i++) {
            kept->kept[i] = guesses[i * HLZ_TABLE_CANDIDATES] >= 0;
            for (size_t j = 0; !kept->kept[i] && j < HLZ_TABLE_CANDIDATES; j++) fc[i * HLZ_TABLE_CANDIDATES + j] = 0;
        }
        kept->n_seq = n_seq;
    }
    if (st == HLZ_OK)
        for (size_t i = 0; i < n_seq; i++) sessions[i]->n_past += (uint32_t)counts[i];
    free(place), free(flat), free(rows), free(scratch), free(last);
    return st;
}

hlz_status hlz_model_eval_batch(hlz_model *m, hlz_session *const *sessions, const int32_t *const *tokens,
                                const size_t *counts, size_t n_seq, float *logits, hlz_error *error)
{
    return eval_batch(m, sessions, tokens, counts, n_seq, logits, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                      error);
}

hlz_status hlz_model_eval_batch_stats(hlz_model *m, hlz_session *const *sessions, const int32_t *const *tokens,
                                      const size_t *counts, size_t n_seq, const int32_t *next,
                                      hlz_token_stats *stats, hlz_error *error)
{
    return eval_batch(m, sessions, tokens, counts, n_seq, NULL, next, stats, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
                      error);
}

hlz_status hlz_model_eval_batch_stats_mix(hlz_model *m, hlz_session *const *sessions, const int32_t *const *tokens,
                                          const size_t *counts, size_t n_seq, const int32_t *next,
                                          const int32_t *cands, hlz_token_stats *stats, hlz_token_mix *mix,
                                          hlz_error *error)
{
    return eval_batch(m, sessions, tokens, counts, n_seq, NULL, next, stats, cands, mix, NULL, NULL, NULL, NULL, NULL,
                      error);
}

hlz_status hlz_model_eval_batch_find(hlz_model *m, hlz_session *const *sessions, const int32_t *const *tokens,
                                     const size_t *counts, size_t n_seq, const uint32_t *slots,
                                     hlz_token_found *found, hlz_error *error)
{
    return eval_batch(m, sessions, tokens, counts, n_seq, NULL, NULL, NULL, NULL, NULL, slots, found, NULL, NULL, NULL,
                      error);
}

hlz_status hlz_model_eval_batch_guess(hlz_model *m, hlz_session *const *sessions, const int32_t *const *tokens,
                                      const size_t *counts, size_t n_seq, const int32_t *cands, const uint32_t *slots,
                                      uint32_t *fc, hlz_token_found *found, hlz_kept_tables *kept, hlz_error *error)
{
    return eval_batch(m, sessions, tokens, counts, n_seq, NULL, NULL, NULL, NULL, NULL, slots, found, cands, fc, kept,
                      error);
}

hlz_status hlz_model_find_kept(hlz_model *m, hlz_kept_tables *kept, const uint32_t *seqs, const uint32_t *slots,
                               size_t n, hlz_token_found *found, hlz_error *error)
{
    if (kept->on_device != (m->cuda != NULL))
        return hlz_fail(error, HLZ_ERR_PARAM, "kept tables made for the model on another device");
    for (size_t j = 0; j < n; j++)
        if (seqs[j] >= kept->n_seq || !kept->kept[seqs[j]])
            return hlz_fail(error, HLZ_ERR_PARAM, "sequence %u has no kept table", (unsigned)seqs[j]);
    if (n == 0) return HLZ_OK;
    if (m->cuda) return hlz_cuda_find_kept(m, kept, seqs, slots, n, found, error);
    uint32_t nv = m->config.n_vocab;
    for (size_t j = 0; j < n; j++) hlz_token_find_table(kept->tables + (size_t)seqs[j] * nv, nv, slots[j], &found[j]);
    return HLZ_OK;
}

hlz_status hlz_kept_tables_create(hlz_model *m, hlz_kept_tables **out, hlz_error *error)
{
    *out = calloc(1, sizeof **out);
    if (!*out) return hlz_fail(error, HLZ_ERR_NOMEM, "out of memory");
    (*out)->on_device = m->cuda != NULL;
    return HLZ_OK;
}

void hlz_kept_tables_free(hlz_kept_tables *kept)
{
    if (!kept) return;
    if (kept->on_device) hlz_cuda_kept_free(kept);
    else free(kept->tables);
    free(kept->kept);
    free(kept);
}

hlz_status hlz_model_eval(hlz_model *m, hlz_session *s, const int32_t *tokens, size_t n, float *logits,
                          hlz_error *error)
{
    return hlz_model_eval_batch(m, &s, &tokens, &n, 1, logits, error);
}
