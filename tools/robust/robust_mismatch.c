/* robust_mismatch.c - a real mismatch experiment for the robust codec: the
 * integer engine encodes; the decoder's probabilities come from a plain
 * float32 forward pass written here (weights dequantized from Q8_0,
 * activations never quantized, libm expf, no fixed summation order). Reports
 * the distribution of |ln p - ln p'| (for the coded token and the largest
 * over the vocabulary, per position) and, for each C, whether the whole
 * text, coded as one chunk, decodes (and where it first fails), and how many
 * of its windows decode when each window is coded as a chunk of its own.
 *
 *   build/robust-mismatch MODEL FILE [BYTES] [C,C,...]     (BYTES 0: the whole file)
 *
 * The float pass sees the true tokens as context: until a decoder's first
 * error that is exactly what a float decoder sees, and the first error ends
 * its chunk. Memory and time: one window at a time; the weights are
 * dequantized once to float (4 bytes a weight). The float pass is the slow
 * part: with it, about 600 tokens/s on one core of the development machine
 * with the stand-in, about 100 with the default model. */
#include "robust.h"
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The Q8_0 weights dequantized once (w = d * q in float, the product the
 * pass takes first), kept per matrix: the conversion dominated the pass. */
enum { DEQ_MAX = 512 };
static struct {
    const hlz_matrix *w;
    float *f;
} deq_cache[DEQ_MAX];
static int deq_count;

static const float *dequantized(const hlz_matrix *w)
{
    for (int i = 0; i < deq_count; i++)
        if (deq_cache[i].w == w) return deq_cache[i].f;
    float *f = malloc(w->rows * w->cols * sizeof *f);
    if (!f || deq_count == DEQ_MAX) fprintf(stderr, "out of memory\n"), exit(1);
    for (uint64_t r = 0; r < w->rows; r++) {
        const hlz_q8_0_block *b = w->blocks + r * (w->cols_pad / 32);
        for (uint64_t c = 0; c < w->cols; c++) f[r * w->cols + c] = hlz_f16_to_f32(b[c / 32].d) * (float)b[c / 32].q[c % 32];
    }
    deq_cache[deq_count].w = w, deq_cache[deq_count].f = f;
    return deq_cache[deq_count++].f;
}

/* y = W x, each row summed in column order (d * q * x term by term, as
 * before the weights were cached); four rows at a time only to overlap
 * their additions, which changes no sum. */
static void matvec(const hlz_matrix *w, const float *x, float *y)
{
    const float *f = dequantized(w);
    uint64_t n = w->cols, r = 0;
    for (; r + 4 <= w->rows; r += 4) {
        const float *a = f + r * n, *b = a + n, *c = b + n, *d = c + n;
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (uint64_t i = 0; i < n; i++) s0 += a[i] * x[i], s1 += b[i] * x[i], s2 += c[i] * x[i], s3 += d[i] * x[i];
        y[r] = s0, y[r + 1] = s1, y[r + 2] = s2, y[r + 3] = s3;
    }
    for (; r < w->rows; r++) {
        float acc = 0;
        for (uint64_t i = 0; i < n; i++) acc += f[r * n + i] * x[i];
        y[r] = acc;
    }
}

static void rmsnorm(float *y, const float *x, const float *w, uint32_t n, float eps)
{
    float ss = 0;
    for (uint32_t i = 0; i < n; i++) ss += x[i] * x[i];
    float s = 1.0f / sqrtf(ss / n + eps);
    for (uint32_t i = 0; i < n; i++) y[i] = x[i] * s * w[i];
}

static void rope(const hlz_model *m, float *x, uint32_t pos)
{
    uint32_t half = m->config.head_dim / 2;
    for (uint32_t i = 0; i < half; i++) {
        double theta = pos * pow(m->config.rope_base, -2.0 * i / m->config.head_dim);
        float c = (float)cos(theta), s = (float)sin(theta);
        float *a = m->config.rope_neox ? &x[i] : &x[2 * i], *b = m->config.rope_neox ? &x[i + half] : &x[2 * i + 1];
        float a0 = *a, b0 = *b;
        *a = a0 * c - b0 * s, *b = a0 * s + b0 * c;
    }
}

/* Logits after every token of seq[0..n): out[n][n_vocab]. */
static int forward(const hlz_model *m, const int32_t *seq, size_t n, float *out)
{
    const hlz_model_config *c = &m->config;
    uint32_t dim = c->n_embd, hd = c->head_dim, qd = c->n_head * hd, kvd = c->n_head_kv * hd;
    float *x = malloc(n * dim * 4), *xb = malloc((dim > qd ? dim : qd) * 4 + c->n_ff * 4), *q = malloc(qd * 4);
    float *K = malloc(n * kvd * 4), *V = malloc(n * kvd * 4), *att = malloc(qd * 4), *sc = malloc(n * 4);
    float *g = malloc(c->n_ff * 4), *u = malloc(c->n_ff * 4), *o = malloc(dim * 4);
    hlz_error e;
    for (size_t t = 0; t < n; t++)
        if (hlz_gguf_tensor_row(m->token_embd, (uint64_t)seq[t], x + t * dim, &e) != HLZ_OK) return -1;
    for (uint32_t l = 0; l < c->n_layer; l++) {
        const hlz_layer *w = &m->layers[l];
        for (size_t t = 0; t < n; t++) { /* causal: position t sees keys 0..t, all of them computed in order */
            float *xt = x + t * dim;
            rmsnorm(xb, xt, w->attn_norm, dim, c->rms_eps);
            matvec(&w->wq, xb, q), matvec(&w->wk, xb, K + t * kvd), matvec(&w->wv, xb, V + t * kvd);
            if (w->bq) {
                for (uint32_t i = 0; i < qd; i++) q[i] += w->bq[i];
                for (uint32_t i = 0; i < kvd; i++) K[t * kvd + i] += w->bk[i], V[t * kvd + i] += w->bv[i];
            }
            for (uint32_t h = 0; h < c->n_head; h++) rope(m, q + h * hd, (uint32_t)t);
            for (uint32_t h = 0; h < c->n_head_kv; h++) rope(m, K + t * kvd + h * hd, (uint32_t)t);
            for (uint32_t h = 0; h < c->n_head; h++) {
                uint32_t kh = h / (c->n_head / c->n_head_kv);
                float max = -INFINITY, sum = 0;
                for (size_t j = 0; j <= t; j++) {
                    float s = 0;
                    for (uint32_t d = 0; d < hd; d++) s += q[h * hd + d] * K[j * kvd + kh * hd + d];
                    sc[j] = s / sqrtf((float)hd);
                    max = sc[j] > max ? sc[j] : max;
                }
                for (size_t j = 0; j <= t; j++) sc[j] = expf(sc[j] - max), sum += sc[j];
                for (uint32_t d = 0; d < hd; d++) {
                    float acc = 0;
                    for (size_t j = 0; j <= t; j++) acc += sc[j] / sum * V[j * kvd + kh * hd + d];
                    att[h * hd + d] = acc;
                }
            }
            matvec(&w->wo, att, o);
            for (uint32_t i = 0; i < dim; i++) xt[i] += o[i];
            rmsnorm(xb, xt, w->ffn_norm, dim, c->rms_eps);
            matvec(&w->w_gate, xb, g), matvec(&w->w_up, xb, u);
            for (uint32_t i = 0; i < c->n_ff; i++) g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
            matvec(&w->w_down, g, o);
            for (uint32_t i = 0; i < dim; i++) xt[i] += o[i];
        }
    }
    for (size_t t = 0; t < n; t++) {
        rmsnorm(xb, x + t * dim, m->output_norm, dim, c->rms_eps);
        matvec(&m->output, xb, out + t * c->n_vocab);
    }
    free(x), free(xb), free(q), free(K), free(V), free(att), free(sc), free(g), free(u), free(o);
    return 0;
}

enum { MAX_C = 16 };

typedef struct {
    const hlz_model *m;
    const hlz_llm_params *lp;
    uint32_t V;
    const int32_t *ids;
    size_t nt;
    const int32_t *prime;
    size_t np;
    int n_c;
    hlz_robust_params rp[MAX_C];
    /* walk 1: the encoders; walk 2: the decoders */
    hlz_robust_encoder *whole_enc[MAX_C], *win_enc[MAX_C];
    uint8_t *whole[MAX_C];           /* whole-text payloads */
    size_t whole_size[MAX_C];
    uint8_t **win;                   /* [window * MAX_C + c]: window payloads */
    size_t *win_size;
    hlz_robust_decoder *whole_dec[MAX_C], *win_dec[MAX_C];
    size_t whole_failed[MAX_C];      /* first failing token, nt when none */
    size_t win_ok[MAX_C];
    int win_alive[MAX_C];
    double bits[MAX_C];              /* window chunks: total payload bits */
    double *logp, *flogp;            /* integer ln p of this token; float ln p' of this window's tokens */
    float *logits;
    int32_t *seq;
    double *diff_token, *diff_max;   /* per token */
    size_t cap;
    uint8_t *buf;
    size_t window_bytes;             /* raw size bound for a window chunk's decoder */
    int pass;
} experiment;

static void die(const char *what, const hlz_error *e)
{
    fprintf(stderr, "%s: %s\n", what, e->message);
    exit(1);
}

/* The float pass for the window starting at token `begin`: ln p' of its tokens in x->flogp. */
static void float_window(experiment *x, size_t begin)
{
    const hlz_llm_params *lp = x->lp;
    size_t end = x->nt - begin < lp->window ? x->nt : begin + lp->window;
    size_t first = begin - (begin < lp->carry ? begin : lp->carry), len = x->np;
    memcpy(x->seq, x->prime, x->np * sizeof *x->seq);
    for (size_t i = first; i + 1 < end; i++) x->seq[len++] = x->ids[i];
    forward(x->m, x->seq, len, x->logits);
    for (size_t a = begin; a < end; a++) /* token a follows seq position np - 1 + (a - first) */
        hlz_robust_log_softmax(x->logits + (x->np - 1 + (a - first)) * x->V, x->V, x->flogp + (a - begin) * x->V);
}

static void finish_window(experiment *x, size_t w)
{
    hlz_error e;
    for (int c = 0; c < x->n_c; c++) {
        if (x->pass == 1) {
            size_t size;
            if (hlz_robust_encoder_finish(x->win_enc[c], 0, x->buf, x->cap, &size, NULL, &e) != HLZ_OK) die("encode", &e);
            x->win[w * MAX_C + c] = malloc(size);
            memcpy(x->win[w * MAX_C + c], x->buf, size);
            x->win_size[w * MAX_C + c] = size;
            x->bits[c] += 8.0 * size;
            hlz_robust_encoder_free(x->win_enc[c]);
        } else {
            if (x->win_alive[c] && hlz_robust_decoder_finish(x->win_dec[c], &e) == HLZ_OK) x->win_ok[c]++;
            hlz_robust_decoder_free(x->win_dec[c]);
        }
    }
}

static void start_window(experiment *x, size_t w, size_t begin)
{
    hlz_error e;
    size_t n = x->nt - begin < x->lp->window ? x->nt - begin : x->lp->window;
    for (int c = 0; c < x->n_c; c++) {
        if (x->pass == 1) {
            if (hlz_robust_encoder_create(&x->rp[c], x->V, n, &x->win_enc[c], &e) != HLZ_OK) die("encoder", &e);
        } else {
            if (hlz_robust_decoder_create(x->win[w * MAX_C + c], x->win_size[w * MAX_C + c], x->window_bytes, x->V,
                                          &x->win_dec[c], NULL, &e) != HLZ_OK)
                die("decoder", &e);
            x->win_alive[c] = 1;
        }
    }
    if (x->pass == 2) float_window(x, begin);
}

static void visit(void *ctx, const float *logits, int32_t token, size_t at)
{
    experiment *x = ctx;
    size_t window = x->lp->window, w = at / window;
    if (at % window == 0) {
        if (at > 0) finish_window(x, w - 1);
        start_window(x, w, at);
    }
    hlz_robust_log_softmax(logits, x->V, x->logp);
    if (x->pass == 1) {
        for (int c = 0; c < x->n_c; c++) {
            hlz_robust_encoder_put(x->whole_enc[c], logits, x->logp, token);
            hlz_robust_encoder_put(x->win_enc[c], logits, x->logp, token);
        }
    } else {
        double *f = x->flogp + (at % window) * x->V, worst = 0;
        for (uint32_t i = 0; i < x->V; i++) {
            double d = fabs(x->logp[i] - f[i]);
            if (x->logp[i] > -700 && d > worst) worst = d;
        }
        x->diff_token[at] = fabs(x->logp[token] - f[token]);
        x->diff_max[at] = worst;
        hlz_error e;
        for (int c = 0; c < x->n_c; c++) {
            int32_t got;
            if (x->whole_failed[c] == x->nt &&
                (hlz_robust_decoder_get(x->whole_dec[c], f, &got, &e) != HLZ_OK || got != token))
                x->whole_failed[c] = at;
            if (x->win_alive[c] && (hlz_robust_decoder_get(x->win_dec[c], f, &got, &e) != HLZ_OK || got != token))
                x->win_alive[c] = 0;
        }
    }
    if (at + 1 == x->nt) finish_window(x, w);
}

static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }

int main(int argc, char **argv)
{
    if (argc < 3) return fprintf(stderr, "usage: %s MODEL FILE [BYTES] [C,...]\n", argv[0]), 1;
    hlz_model *m;
    hlz_error e;
    if (hlz_model_open(&m, argv[1], &e) != HLZ_OK) die("model", &e);
    FILE *f = fopen(argv[2], "rb");
    if (!f) return perror(argv[2]), 1;
    size_t limit = argc > 3 ? (size_t)strtoull(argv[3], NULL, 10) : 8192;
    if (limit == 0) limit = (size_t)64 << 20;
    uint8_t *text = malloc(limit);
    size_t n = fread(text, 1, limit, f);
    fclose(f);
    static const double issue_c[5] = {1.01, 1.1, 1.5, 2, 10.0 / 3};
    double cs[MAX_C] = {1.01, 1.1, 1.5, 2, 10.0 / 3};
    int n_c = 5;
    if (argc > 4) {
        n_c = 0;
        for (char *s = argv[4]; s && n_c < MAX_C; s = strchr(s, ',') ? strchr(s, ',') + 1 : NULL) cs[n_c++] = atof(s);
    }
    hlz_llm_params lp;
    hlz_llm_params_default(m, &lp);
    hlz_llm *llm;
    if (hlz_llm_create(m, &lp, &llm, &e) != HLZ_OK) die("llm", &e);
    int32_t *ids;
    size_t nt;
    unsigned flags;
    if (hlz_llm_tokenize(llm, text, n, &ids, &nt, &flags, &e) != HLZ_OK) die("tokenize", &e);
    /* The prime, as hlz_llm_create builds it (prime 2). */
    int32_t prime[64];
    size_t np = 0;
    if (hlz_model_bos(m) >= 0) prime[np++] = hlz_model_bos(m);
    int32_t *pt;
    size_t npt;
    const char *ptext = "The following is a plain text document.\n\n";
    hlz_model_tokenize(m, (const uint8_t *)ptext, strlen(ptext), &pt, &npt, &e);
    for (size_t i = 0; i < npt && np < 64; i++) prime[np++] = pt[i];
    uint32_t V = m->config.n_vocab;
    size_t windows = (nt + lp.window - 1) / lp.window;
    experiment x = {.m = m, .lp = &lp, .V = V, .ids = ids, .nt = nt, .prime = prime, .np = np, .n_c = n_c,
                    .win = calloc(windows * MAX_C, sizeof(uint8_t *)), .win_size = calloc(windows * MAX_C, sizeof(size_t)),
                    .logp = malloc(V * sizeof(double)), .flogp = malloc((size_t)lp.window * V * sizeof(double)),
                    .logits = malloc((np + lp.carry + lp.window) * (size_t)V * sizeof(float)),
                    .seq = malloc((np + lp.carry + lp.window) * sizeof(int32_t)),
                    .diff_token = calloc(nt, sizeof(double)), .diff_max = calloc(nt, sizeof(double)),
                    .cap = n * 4 + 4096, .window_bytes = n};
    x.buf = malloc(x.cap);
    for (int c = 0; c < n_c; c++) {
        if (hlz_robust_params_default(cs[c], &x.rp[c]) != 0) return fprintf(stderr, "bad C %g\n", cs[c]), 1;
        if (hlz_robust_encoder_create(&x.rp[c], V, nt, &x.whole_enc[c], &e) != HLZ_OK) die("encoder", &e);
    }
    printf("# %s: %zu bytes, %zu tokens, windows of %u (carry %u)\n", argv[2], n, nt, lp.window, lp.carry);
    x.pass = 1;
    if (hlz_llm_walk_encode(llm, ids, nt, visit, &x, &e) != HLZ_OK) die("walk", &e);
    for (int c = 0; c < n_c; c++) {
        if (hlz_robust_encoder_finish(x.whole_enc[c], flags, x.buf, x.cap, &x.whole_size[c], NULL, &e) != HLZ_OK)
            die("encode", &e);
        x.whole[c] = malloc(x.whole_size[c]);
        memcpy(x.whole[c], x.buf, x.whole_size[c]);
        hlz_robust_encoder_free(x.whole_enc[c]);
        if (hlz_robust_decoder_create(x.whole[c], x.whole_size[c], n, V, &x.whole_dec[c], NULL, &e) != HLZ_OK)
            die("decoder", &e);
        x.whole_failed[c] = nt;
    }
    x.pass = 2;
    if (hlz_llm_walk_encode(llm, ids, nt, visit, &x, &e) != HLZ_OK) die("walk", &e);
    double *sorted = malloc(nt * sizeof *sorted);
    for (int which = 0; which < 2; which++) {
        memcpy(sorted, which ? x.diff_max : x.diff_token, nt * sizeof *sorted);
        qsort(sorted, nt, sizeof *sorted, cmp);
        size_t within[5] = {0};
        for (size_t i = 0; i < nt; i++)
            for (int ci = 0; ci < 5; ci++) within[ci] += sorted[i] < log(issue_c[ci]);
        printf("|ln p - ln p'| %s: median %.3g, p90 %.3g, p99 %.3g, p99.9 %.3g, max %.3g; share below ln C for C = "
               "1.01, 1.1, 1.5, 2, 10/3: %.4f %.4f %.4f %.4f %.4f\n",
               which ? "max over the vocabulary (p > e^-700)" : "coded token", sorted[nt / 2], sorted[nt * 9 / 10],
               sorted[nt * 99 / 100], sorted[nt * 999 / 1000], sorted[nt - 1], (double)within[0] / nt,
               (double)within[1] / nt, (double)within[2] / nt, (double)within[3] / nt, (double)within[4] / nt);
    }
    for (int c = 0; c < n_c; c++) {
        int whole_ok = x.whole_failed[c] == nt && hlz_robust_decoder_finish(x.whole_dec[c], &e) == HLZ_OK;
        char where[64] = "decodes";
        if (!whole_ok) snprintf(where, sizeof where, "fails at token %zu", x.whole_failed[c]);
        printf("C %.4g: whole text (one chunk, %.3f bits/token) %s; windows as chunks (%.3f bits/token): %zu of %zu "
               "decode (%.4f)\n",
               cs[c], 8.0 * x.whole_size[c] / nt, where, x.bits[c] / nt, x.win_ok[c], windows,
               (double)x.win_ok[c] / windows);
        hlz_robust_decoder_free(x.whole_dec[c]);
        free(x.whole[c]);
    }
    for (size_t i = 0; i < windows * MAX_C; i++) free(x.win[i]);
    free(x.win), free(x.win_size), free(x.logp), free(x.flogp), free(x.logits), free(x.seq), free(x.diff_token);
    free(x.diff_max), free(x.buf), free(sorted), free(ids), free(text), free(pt);
    hlz_llm_free(llm);
    hlz_model_free(m);
    return 0;
}
