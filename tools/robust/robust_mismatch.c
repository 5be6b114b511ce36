/* robust_mismatch.c - a real mismatch experiment for the robust codec: the
 * integer engine encodes; the decoder's probabilities come from a plain
 * float32 forward pass written here (weights dequantized from Q8_0,
 * activations never quantized, libm expf, no fixed summation order). Reports
 * the distribution of |ln p - ln p'| (for the coded token and the largest
 * over the vocabulary, per position) and, for each C, whether each window of
 * tokens and the whole chunk decode.
 *
 *   build/robust-mismatch MODEL FILE [BYTES] [C,C,...]
 *
 * The float pass sees the true tokens as context: until the decoder's first
 * error that is exactly what a float decoder sees, and the first error ends
 * the chunk. Window k "decodes" when every token of windows 0..k does. */
#include "robust.h"
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void matvec(const hlz_matrix *w, const float *x, float *y)
{
    for (uint64_t r = 0; r < w->rows; r++) {
        const hlz_q8_0_block *b = w->blocks + r * (w->cols_pad / 32);
        float acc = 0;
        for (uint64_t c = 0; c < w->cols; c++) acc += hlz_f16_to_f32(b[c / 32].d) * (float)b[c / 32].q[c % 32] * x[c];
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

typedef struct {
    uint32_t n_vocab;
    double *logp;          /* [n_tokens][n_vocab]: the float pass's ln p' */
    const int32_t *ids;
    double *diff_token, *diff_max; /* per token, filled by the hook */
    size_t failed_at;
} experiment;

/* The engine's side of every position: how far the float pass is from it. */
static void measure(void *ctx, const float *logits, int32_t token, size_t at)
{
    experiment *x = ctx;
    uint32_t n = x->n_vocab;
    double *logp = malloc(n * sizeof *logp), worst = 0;
    hlz_robust_log_softmax(logits, n, logp);
    for (uint32_t i = 0; i < n; i++) {
        double d = fabs(logp[i] - x->logp[at * n + i]);
        if (logp[i] > -700 && d > worst) worst = d;
    }
    x->diff_token[at] = fabs(logp[token] - x->logp[at * n + token]);
    x->diff_max[at] = worst;
    free(logp);
}

static void float_probabilities(void *ctx, size_t at, const float *logits, double *logp, uint32_t n)
{
    experiment *x = ctx;
    (void)logits;
    memcpy(logp, x->logp + at * n, n * sizeof *logp);
    x->failed_at = at; /* the last token the decoder reached */
}

static int cmp(const void *a, const void *b) { double x = *(const double *)a, y = *(const double *)b; return (x > y) - (x < y); }

int main(int argc, char **argv)
{
    if (argc < 3) return fprintf(stderr, "usage: %s MODEL FILE [BYTES] [C,...]\n", argv[0]), 1;
    hlz_model *m;
    hlz_error e;
    if (hlz_model_open(&m, argv[1], &e) != HLZ_OK) return fprintf(stderr, "%s\n", e.message), 1;
    FILE *f = fopen(argv[2], "rb");
    if (!f) return perror(argv[2]), 1;
    size_t limit = argc > 3 ? (size_t)strtoull(argv[3], NULL, 10) : 8192;
    uint8_t *text = malloc(limit);
    size_t n = fread(text, 1, limit, f);
    fclose(f);
    double cs[16] = {1.01, 1.1, 1.5, 2, 10.0 / 3};
    int n_c = 5;
    if (argc > 4) {
        n_c = 0;
        for (char *s = argv[4]; s && n_c < 16; s = strchr(s, ',') ? strchr(s, ',') + 1 : NULL) cs[n_c++] = atof(s);
    }
    hlz_llm_params lp;
    hlz_llm_params_default(m, &lp);
    hlz_llm *llm;
    if (hlz_llm_create(m, &lp, &llm, &e) != HLZ_OK) return fprintf(stderr, "%s\n", e.message), 1;
    int32_t *ids;
    size_t nt;
    unsigned flags;
    if (hlz_llm_tokenize(llm, text, n, &ids, &nt, &flags, &e) != HLZ_OK) return fprintf(stderr, "%s\n", e.message), 1;
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
    experiment x = {.n_vocab = V, .ids = ids, .logp = malloc(nt * V * sizeof(double)),
                    .diff_token = calloc(nt, sizeof(double)), .diff_max = calloc(nt, sizeof(double))};
    int32_t *seq = malloc((np + lp.carry + lp.window) * sizeof *seq);
    float *logits = malloc((np + lp.carry + lp.window) * (size_t)V * sizeof *logits);
    for (size_t begin = 0; begin < nt; begin += lp.window) {
        size_t end = nt - begin < lp.window ? nt : begin + lp.window;
        size_t first = begin - (begin < lp.carry ? begin : lp.carry), len = np;
        memcpy(seq, prime, np * sizeof *seq);
        for (size_t i = first; i + 1 < end; i++) seq[len++] = ids[i];
        forward(m, seq, len, logits);
        for (size_t a = begin; a < end; a++) /* token a follows seq position np - 1 + (a - first) */
            hlz_robust_log_softmax(logits + (np - 1 + (a - first)) * V, V, x.logp + a * V);
    }
    size_t cap = n * 4 + 4096, coded;
    uint8_t *dst = malloc(cap), *back = malloc(n + 1);
    printf("# %s: %zu bytes, %zu tokens, windows of %u (carry %u)\n", argv[2], n, nt, lp.window, lp.carry);
    hlz_llm_walk_encode(llm, ids, nt, measure, &x, &e);
    double *sorted = malloc(nt * sizeof *sorted);
    for (int which = 0; which < 2; which++) {
        memcpy(sorted, which ? x.diff_max : x.diff_token, nt * sizeof *sorted);
        qsort(sorted, nt, sizeof *sorted, cmp);
        size_t within[5] = {0};
        for (size_t i = 0; i < nt; i++)
            for (int ci = 0; ci < 5; ci++) within[ci] += sorted[i] < log((double[]){1.01, 1.1, 1.5, 2, 10.0 / 3}[ci]);
        printf("|ln p - ln p'| %s: median %.3g, p90 %.3g, p99 %.3g, max %.3g; share below ln C for C = 1.01, 1.1, "
               "1.5, 2, 10/3: %.4f %.4f %.4f %.4f %.4f\n", which ? "max over the vocabulary (p > e^-700)" : "coded token",
               sorted[nt / 2], sorted[nt * 9 / 10], sorted[nt * 99 / 100], sorted[nt - 1], (double)within[0] / nt,
               (double)within[1] / nt, (double)within[2] / nt, (double)within[3] / nt, (double)within[4] / nt);
    }
    for (int ci = 0; ci < n_c; ci++) {
        hlz_robust_params rp;
        hlz_robust_params_default(cs[ci], &rp);
        if (hlz_robust_encode(llm, &rp, text, n, dst, cap, &coded, NULL, &e) != HLZ_OK) return fprintf(stderr, "%s\n", e.message), 1;
        x.failed_at = 0;
        hlz_robust_set_decode_hook(float_probabilities, &x);
        hlz_status st = hlz_robust_decode(llm, dst, coded, back, n, &e);
        hlz_robust_set_decode_hook(NULL, NULL);
        int ok = st == HLZ_OK && memcmp(back, text, n) == 0;
        size_t reached = ok ? nt : x.failed_at, windows = (nt + lp.window - 1) / lp.window;
        printf("C %.4g: chunk %s; %zu of %zu windows decode; first failing token %zd; %.3f bits/token\n", cs[ci],
               ok ? "decodes" : "fails", ok ? windows : reached / lp.window, windows, ok ? (ssize_t)-1 : (ssize_t)reached,
               8.0 * coded / nt);
    }
    return 0;
}
