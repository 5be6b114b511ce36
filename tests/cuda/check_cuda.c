/*
 * check_cuda.c - the CUDA backend against the CPU reference, bit for bit.
 *
 *   build/check-cuda [MODEL.gguf]
 *
 * First every GPU kernel alone against its plain C reference (random inputs,
 * odd shapes, extremes; both head-dim-64 attention kernels on batches of
 * several sequences), then whole-model logits GPU versus CPU for the given
 * model (default models/stand-in/stand-in.gguf) and random llama and qwen2
 * models, batch sizes 1, 2, 7, 64, 512, several sequences per batch and a
 * copied prefix. A mismatch prints the kernel, the first differing index and
 * both values as hex floats. Ends with "check-cuda: PASS" or "check-cuda:
 * FAIL (N cases)"; without a usable GPU it prints "skip" lines and exits 0.
 */
#include "device.h"
#include "entropy.h"
#include "model_util.h"

#include <float.h>
#include <math.h>
#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static unsigned long long seed = 0x5eed;

static float rnd(float scale) { return tm_uniform(&seed, scale); }

/* First index where two float arrays differ in bits, or -1. Two nans are
 * equal whatever their payloads (x86 and CUDA make different default nans,
 * and nothing downstream reads a nan's bits: quantize zeroes a nan block). */
static long first_diff(const float *a, const float *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (memcmp(&a[i], &b[i], 4) != 0 && !(a[i] != a[i] && b[i] != b[i])) return (long)i;
    return -1;
}

#define CHECK_SAME(what, cpu, gpu, n)                                                                       \
    do {                                                                                                    \
        long at_ = first_diff(cpu, gpu, n);                                                                 \
        CHECK_MSG(at_ < 0, "%s: first difference at %ld of %zu: cpu %a gpu %a", what, at_, (size_t)(n),    \
                  (double)(cpu)[at_ < 0 ? 0 : at_], (double)(gpu)[at_ < 0 ? 0 : at_]);                      \
    } while (0)

/* A value from a mix of ordinary, tiny, huge and special floats. */
static float extreme(void)
{
    unsigned k = (unsigned)(test_rand(&seed) >> 58);
    switch (k) {
    case 0: return 0.0f;
    case 1: return -0.0f;
    case 2: return 1e-40f; /* subnormal */
    case 3: return rnd(1e30f);
    case 4: return 0.5f;  /* ties of round-half-even after scaling */
    case 5: return -1.5f;
    default: return rnd(4.0f);
    }
}

static void check_quantize(void)
{
    static const uint64_t cols[] = {32, 33, 64, 100, 288, 4103};
    const hlz_kernels *k = &hlz_kernels_ref;
    for (size_t c = 0; c < sizeof cols / sizeof *cols; c++) {
        size_t n = 7;
        uint64_t blocks = hlz_pad32(cols[c]) / 32;
        float *x = malloc(n * cols[c] * 4);
        hlz_q8_block *ref = calloc(n * blocks, sizeof *ref), *gpu = calloc(n * blocks, sizeof *gpu);
        for (size_t i = 0; i < n * cols[c]; i++) x[i] = extreme();
        x[3] = NAN, x[cols[c] + 40 < n * cols[c] ? cols[c] + 40 : 0] = INFINITY; /* bad blocks become zeros */
        for (size_t t = 0; t < n; t++) {
            uint64_t full = cols[c] / 32 * 32;
            k->quantize_q8(x + t * cols[c], full, ref + t * blocks);
            if (full < cols[c]) {
                float tail[32] = {0};
                memcpy(tail, x + t * cols[c] + full, (cols[c] - full) * 4);
                k->quantize_q8(tail, 32, ref + t * blocks + full / 32);
            }
        }
        CHECK(hlz_cuda_test_quantize(x, n, cols[c], gpu) == 0);
        for (size_t b = 0; b < n * blocks; b++)
            CHECK_MSG(memcmp(&ref[b], &gpu[b], sizeof ref[b]) == 0,
                      "quantize cols %llu: block %zu differs: cpu d %a sum %d q0 %d, gpu d %a sum %d q0 %d",
                      (unsigned long long)cols[c], b, (double)ref[b].d, ref[b].sum, ref[b].q[0], (double)gpu[b].d,
                      gpu[b].sum, gpu[b].q[0]);
        /* The planes of the pipelined kernel: the same values. */
        int8_t *pq = malloc(n * blocks * 32);
        float *pd = malloc(n * blocks * 4);
        CHECK(hlz_cuda_test_quantize_planes(x, n, cols[c], pq, pd) == 0);
        for (size_t b = 0; b < n * blocks; b++)
            CHECK_MSG(memcmp(ref[b].q, pq + b * 32, 32) == 0 && memcmp(&ref[b].d, &pd[b], 4) == 0,
                      "quantize planes cols %llu: block %zu differs", (unsigned long long)cols[c], b);
        free(pq), free(pd);
        free(x), free(ref), free(gpu);
    }
}

static void check_matmul(void)
{
    /* rows x cols x tokens: partial tiles of both kernels (16 x 16; 64 rows x 32 tokens), long rows, big batches */
    static const uint64_t shapes[][3] = {{1, 32, 1}, {15, 96, 3}, {17, 160, 17}, {100, 1024, 40}, {576, 576, 64},
                                         {33, 4096, 5}, {65, 64, 33}, {384, 384, 1000}, {1000, 96, 257},
                                         {128, 1024, 129}, {8192, 384, 300}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        uint64_t rows = shapes[s][0], cols = shapes[s][1], n = shapes[s][2], nb = cols / 32;
        hlz_q8_0_block *w = malloc(rows * nb * sizeof *w);
        for (uint64_t b = 0; b < rows * nb; b++) {
            unsigned kind = (unsigned)(test_rand(&seed) >> 60);
            w[b].d = kind == 0 ? 0 : kind == 1 ? 0x0001 /* subnormal */ : kind == 2 ? 0x7bff : hlz_f32_to_f16(rnd(0.02f));
            for (int i = 0; i < 32; i++) w[b].q[i] = (int8_t)(kind == 3 ? (i & 1 ? 127 : -128) : (int)(test_rand(&seed) >> 56));
        }
        float *xf = malloc(n * cols * 4), *ref = malloc(n * rows * 4), *gpu = malloc(n * rows * 4);
        hlz_q8_block *x = malloc(n * nb * sizeof *x);
        for (uint64_t i = 0; i < n * cols; i++) xf[i] = extreme();
        hlz_kernels_ref.quantize_q8(xf, n * cols, x);
        hlz_kernels_ref.matmul_q8_0(w, cols, x, n, ref, rows, 0, rows);
        /* Every kernel (dp4a, mma, tiled, pipe), whichever HLZ_CUDA_MATMUL picks for the model. */
        for (int kind = 0; kind < 4; kind++) {
            memset(gpu, 0xff, n * rows * 4);
            CHECK(hlz_cuda_test_matmul_kind(kind, w, rows, cols, x, n, gpu) == 0);
            char what[64];
            snprintf(what, sizeof what, "matmul (kernel %d) %llux%llu x %llu", kind, (unsigned long long)rows,
                     (unsigned long long)cols, (unsigned long long)n);
            CHECK_SAME(what, ref, gpu, n * rows);
        }
        free(w), free(xf), free(ref), free(gpu), free(x);
    }
}

static void check_rmsnorm(void)
{
    static const uint32_t dims[] = {1, 31, 64, 288, 577, 4096};
    for (size_t d = 0; d < sizeof dims / sizeof *dims; d++) {
        uint32_t dim = dims[d];
        size_t n = 5;
        float *x = malloc(n * dim * 4), *w = malloc(dim * 4), *ref = malloc(n * dim * 4), *gpu = malloc(n * dim * 4);
        for (size_t i = 0; i < n * dim; i++) x[i] = i < dim ? rnd(1e-3f) : rnd(30.0f);
        for (uint32_t i = 0; i < dim; i++) w[i] = rnd(2.0f);
        for (size_t t = 0; t < n; t++) { /* forward.c's rmsnorm */
            const float *v = x + t * dim;
            float ss = hlz_kernels_ref.dot_f32(v, v, dim);
            float scale = 1.0f / sqrtf(ss / (float)dim + 1e-5f);
            for (uint32_t i = 0; i < dim; i++) ref[t * dim + i] = (v[i] * scale) * w[i];
        }
        CHECK(hlz_cuda_test_rmsnorm(x, w, n, dim, 1e-5f, gpu) == 0);
        CHECK_SAME("rmsnorm", ref, gpu, n * dim);
        /* Fused with the quantization, as the forward pass runs it. */
        uint64_t blocks = hlz_pad32(dim) / 32;
        hlz_q8_block *qref = calloc(n * blocks, sizeof *qref), *qgpu = calloc(n * blocks, sizeof *qgpu);
        for (size_t t = 0; t < n; t++) {
            float *row = calloc(blocks * 32, 4);
            memcpy(row, ref + t * dim, dim * 4);
            hlz_kernels_ref.quantize_q8(row, blocks * 32, qref + t * blocks);
            free(row);
        }
        CHECK(hlz_cuda_test_rmsnorm_quantize(x, NULL, w, n, dim, 1e-5f, qgpu, NULL) == 0);
        for (size_t b = 0; b < n * blocks; b++)
            CHECK_MSG(memcmp(&qref[b], &qgpu[b], sizeof qref[b]) == 0, "rmsnorm+quantize dim %u: block %zu differs", dim, b);
        /* With the residual added first (x = x + r, written back), as the layers run it: r = x - x0 gives x back. */
        float *x0 = malloc(n * dim * 4), *r = malloc(n * dim * 4), *sum = malloc(n * dim * 4), *sref = malloc(n * dim * 4);
        for (size_t i = 0; i < n * dim; i++) x0[i] = rnd(4.0f), r[i] = x[i] - x0[i], sref[i] = x0[i] + r[i];
        memset(qgpu, 0, n * blocks * sizeof *qgpu);
        CHECK(hlz_cuda_test_rmsnorm_quantize(x0, r, w, n, dim, 1e-5f, qgpu, sum) == 0);
        CHECK_SAME("x + r", sref, sum, n * dim);
        for (size_t t = 0; t < n; t++) {
            const float *v = sref + t * dim;
            float ss = hlz_kernels_ref.dot_f32(v, v, dim), scale = 1.0f / sqrtf(ss / (float)dim + 1e-5f);
            float *row = calloc(blocks * 32, 4);
            for (uint32_t i = 0; i < dim; i++) row[i] = (v[i] * scale) * w[i];
            hlz_kernels_ref.quantize_q8(row, blocks * 32, qref + t * blocks);
            free(row);
        }
        for (size_t b = 0; b < n * blocks; b++)
            CHECK_MSG(memcmp(&qref[b], &qgpu[b], sizeof qref[b]) == 0, "add+rmsnorm+quantize dim %u: block %zu differs", dim,
                      b);
        free(x0), free(r), free(sum), free(sref);
        free(qref), free(qgpu);
        free(x), free(w), free(ref), free(gpu);
    }
}

static void check_elementwise(void)
{
    size_t n = 200000;
    float *a = malloc(n * 4), *b = malloc(n * 4), *ref = malloc(n * 4), *gpu = malloc(n * 4);
    for (size_t i = 0; i < n; i++) {
        a[i] = i < 100000 ? -100.0f + 200.0f * (float)i / 100000.0f : rnd(i % 3 ? 10.0f : 90.0f);
        b[i] = rnd(3.0f);
    }
    float special[] = {NAN, INFINITY, -INFINITY, 0.0f, -0.0f, 1e-40f, -1e-40f, 88.0f, 88.1f, -87.33f, -87.34f, 1e30f};
    memcpy(a, special, sizeof special);
    for (size_t i = 0; i < n; i++) ref[i] = hlz_expf(a[i]);
    CHECK(hlz_cuda_test_elementwise(0, a, b, n, gpu) == 0);
    CHECK_SAME("hlz_expf", ref, gpu, n);
    for (size_t i = 0; i < n; i++) ref[i] = (a[i] / (1.0f + hlz_expf(-a[i]))) * b[i];
    CHECK(hlz_cuda_test_elementwise(1, a, b, n, gpu) == 0);
    CHECK_SAME("silu(gate) * up", ref, gpu, n);
    /* Fused with the quantization, as the forward pass runs it: rows of 1000 and 1536 (1000 ends in a partial block). */
    static const uint64_t widths[] = {1000, 1536, 32};
    for (size_t k = 0; k < sizeof widths / sizeof *widths; k++) {
        uint64_t cols = widths[k], blocks = hlz_pad32(cols) / 32;
        size_t rows = n / cols;
        hlz_q8_block *qref = calloc(rows * blocks, sizeof *qref), *qgpu = calloc(rows * blocks, sizeof *qgpu);
        float *row = malloc(blocks * 32 * 4);
        for (size_t t = 0; t < rows; t++) {
            memset(row, 0, blocks * 32 * 4);
            memcpy(row, ref + t * cols, cols * 4);
            hlz_kernels_ref.quantize_q8(row, blocks * 32, qref + t * blocks);
        }
        CHECK(hlz_cuda_test_silu_quantize(a, b, rows, cols, qgpu) == 0);
        for (size_t i = 0; i < rows * blocks; i++)
            CHECK_MSG(memcmp(&qref[i], &qgpu[i], sizeof qref[i]) == 0, "silu+quantize %llu columns: block %zu differs",
                      (unsigned long long)cols, i);
        free(qref), free(qgpu), free(row);
    }
    free(a), free(b), free(ref), free(gpu);
}

static void check_rope(void)
{
    static const uint32_t hds[] = {2, 8, 48, 64, 128};
    for (size_t h = 0; h < sizeof hds / sizeof *hds; h++)
        for (int neox = 0; neox < 2; neox++) {
            uint32_t hd = hds[h], half = hd / 2, n_pos = 300;
            size_t n_vec = 37;
            float *c = malloc(n_pos * half * 4), *s = malloc(n_pos * half * 4);
            float *x = malloc(n_vec * hd * 4), *ref = malloc(n_vec * hd * 4);
            uint32_t *pos = malloc(n_vec * 4);
            for (size_t i = 0; i < (size_t)n_pos * half; i++) c[i] = rnd(1.0f), s[i] = rnd(1.0f);
            for (size_t i = 0; i < n_vec * hd; i++) x[i] = extreme();
            for (size_t v = 0; v < n_vec; v++) pos[v] = (uint32_t)(test_rand(&seed) % n_pos);
            memcpy(ref, x, n_vec * hd * 4);
            for (size_t v = 0; v < n_vec; v++) /* forward.c's rope */
                for (uint32_t i = 0; i < half; i++) {
                    float *xv = ref + v * hd, *pa = neox ? &xv[i] : &xv[2 * i], *pb = neox ? &xv[i + half] : &xv[2 * i + 1];
                    float a0 = *pa, b0 = *pb, cc = c[(size_t)pos[v] * half + i], ss = s[(size_t)pos[v] * half + i];
                    *pa = a0 * cc - b0 * ss;
                    *pb = a0 * ss + b0 * cc;
                }
            float *x0 = malloc(n_vec * hd * 4), *kc = malloc(n_vec * hd * 4), *vc = malloc(n_vec * hd * 4);
            memcpy(x0, x, n_vec * hd * 4);
            CHECK(hlz_cuda_test_rope(x, n_vec, hd, pos, c, s, n_pos, neox, kc, vc) == 0);
            CHECK_SAME(neox ? "rope (neox)" : "rope", ref, x, n_vec * hd);
            CHECK_SAME(neox ? "rope (neox) of keys, in the cache" : "rope of keys, in the cache", ref, kc, n_vec * hd);
            CHECK_SAME("values, in the cache", x0, vc, n_vec * hd);
            free(x0), free(kc), free(vc);
            free(c), free(s), free(x), free(ref), free(pos);
        }
}

/* forward.c's attend for one head. */
static void attend_ref(const float *q, const float *kc, const float *vc, uint32_t n, uint32_t hd, size_t kv_row,
                       float *out)
{
    const hlz_kernels *k = &hlz_kernels_ref;
    float *scores = calloc(n, 4), *lanes = calloc(32 * (size_t)hd, 4);
    float scale = 1.0f / sqrtf((float)hd), max = -INFINITY;
    for (uint32_t j = 0; j < n; j++) {
        scores[j] = k->dot_f32(q, kc + (size_t)j * kv_row, hd) * scale;
        max = scores[j] > max ? scores[j] : max;
    }
    for (uint32_t j = 0; j < n; j++) scores[j] = hlz_expf(scores[j] - max);
    float sum = k->sum_f32(scores, n);
    for (uint32_t j = 0; j < n; j++) scores[j] = scores[j] / sum;
    for (uint32_t j = 0; j < n; j++)
        for (uint32_t d = 0; d < hd; d++)
            lanes[(j % 32) * hd + d] = lanes[(j % 32) * hd + d] + scores[j] * vc[(size_t)j * kv_row + d];
    for (uint32_t off = 16; off > 0; off >>= 1)
        for (uint32_t l = 0; l < off; l++)
            for (uint32_t d = 0; d < hd; d++) lanes[l * hd + d] = lanes[l * hd + d] + lanes[(l + off) * hd + d];
    memcpy(out, lanes, hd * 4);
    free(scores), free(lanes);
}

static void check_attention(void)
{
    static const uint32_t ns[] = {1, 2, 31, 32, 33, 100, 1000, 2049};
    static const uint32_t hds[] = {8, 32, 48, 64, 128};
    for (size_t a = 0; a < sizeof ns / sizeof *ns; a++)
        for (size_t h = 0; h < sizeof hds / sizeof *hds; h++) {
            uint32_t n = ns[a], hd = hds[h];
            size_t kv_row = 3 * (size_t)hd, rows = (size_t)n * kv_row;
            float *q = malloc(hd * 4), *kc = malloc(rows * 4), *vc = malloc(rows * 4);
            float *ref = malloc(hd * 4), *gpu = malloc(hd * 4);
            float big = a % 2 ? 30.0f : 1.0f; /* peaked and flat softmaxes */
            for (uint32_t d = 0; d < hd; d++) q[d] = rnd(big);
            for (size_t i = 0; i < rows; i++) kc[i] = rnd(1.0f), vc[i] = extreme();
            attend_ref(q, kc, vc, n, hd, kv_row, ref);
            CHECK(hlz_cuda_test_attention(q, kc, vc, n, hd, kv_row, gpu) == 0);
            char what[64];
            snprintf(what, sizeof what, "attention n %u head_dim %u", n, hd);
            CHECK_SAME(what, ref, gpu, hd);
            free(q), free(kc), free(vc), free(ref), free(gpu);
        }
}

/* Head-dim-64 attention of whole batches (hlz_cuda_test_attention_batch),
 * both kernels, against attend_ref for every (token, head): kv groups of 1,
 * 2, 3, 4 and 16 query heads (16 is past k_attention_tile's block: the warp
 * kernel runs), several tokens of a sequence in a block (consecutive
 * positions, lengths not multiples of 32), sequences that break the groups
 * (interleaved tokens, a gap in positions), decoding steps (one token per
 * sequence), tile blocks of 1, 2, 5 tokens and the default, scores in
 * shared memory (short) and in the global scratch (long). */
static void check_attention_batch(void)
{
    static const uint32_t heads[][2] = {{4, 4}, {4, 2}, {6, 2}, {9, 3}, {8, 2}, {16, 1}};
    enum { N_SEQ = 5 };
    static const struct {
        const char *what;
        uint32_t n_ctx;
        uint32_t runs[6][3]; /* sequence, first position, tokens; tokens 0 ends */
    } cases[] = {
        {"prefill of 3 sequences", 200, {{0, 0, 45}, {1, 0, 1}, {2, 100, 70}, {0, 0, 0}}},
        {"interleaved, a gap", 200, {{0, 5, 3}, {1, 7, 2}, {0, 8, 4}, {0, 13, 9}, {3, 31, 2}, {4, 63, 1}}},
        {"a long window (scores in shared memory)", 1200, {{1, 1000, 40}, {2, 1100, 33}, {0, 0, 0}}},
        {"long contexts (scores in the global scratch)", 3100, {{0, 2000, 37}, {3, 3000, 12}, {0, 0, 0}}},
        {"decoding steps", 1200, {{0, 1150, 1}, {1, 30, 1}, {2, 31, 1}, {3, 1, 1}, {4, 1100, 1}, {0, 0, 0}}},
    };
    static const uint32_t tokens[] = {0, 1, 2, 5};
    for (size_t hi = 0; hi < sizeof heads / sizeof *heads; hi++)
        for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
            uint32_t n_head = heads[hi][0], n_head_kv = heads[hi][1], n_ctx = cases[ci].n_ctx;
            size_t kv_row = (size_t)n_head_kv * 64, q_dim = (size_t)n_head * 64, n = 0;
            for (int r = 0; r < 6 && cases[ci].runs[r][2]; r++) n += cases[ci].runs[r][2];
            uint32_t *seq = malloc(n * 4), *pos = malloc(n * 4);
            size_t t = 0;
            for (int r = 0; r < 6 && cases[ci].runs[r][2]; r++)
                for (uint32_t i = 0; i < cases[ci].runs[r][2]; i++, t++)
                    seq[t] = cases[ci].runs[r][0], pos[t] = cases[ci].runs[r][1] + i;
            size_t cache = (size_t)N_SEQ * n_ctx * kv_row;
            float *q = malloc(n * q_dim * 4), *kc = malloc(cache * 4), *vc = malloc(cache * 4);
            float *ref = malloc(n * q_dim * 4), *gpu = malloc(n * q_dim * 4);
            float big = ci % 2 ? 30.0f : 1.0f; /* peaked and flat softmaxes */
            for (size_t i = 0; i < n * q_dim; i++) q[i] = rnd(big);
            for (size_t i = 0; i < cache; i++) kc[i] = rnd(1.0f), vc[i] = extreme();
            for (t = 0; t < n; t++)
                for (uint32_t h = 0; h < n_head; h++) {
                    size_t at = (size_t)seq[t] * n_ctx * kv_row + (size_t)(h / (n_head / n_head_kv)) * 64;
                    attend_ref(q + t * q_dim + (size_t)h * 64, kc + at, vc + at, pos[t] + 1, 64, kv_row,
                               ref + t * q_dim + (size_t)h * 64);
                }
            for (int kind = 0; kind < 2; kind++) /* warp, tile */
                for (size_t ti = 0; ti < (kind ? sizeof tokens / sizeof *tokens : 1); ti++) {
                    memset(gpu, 0xff, n * q_dim * 4);
                    CHECK(hlz_cuda_test_attention_batch(kind, tokens[ti], q, n, n_head, n_head_kv, 64, seq, pos, kc, vc,
                                                        N_SEQ, n_ctx, gpu) == 0);
                    char what[160];
                    snprintf(what, sizeof what, "attention batch (%s, tokens %u) heads %u/%u, %s (index = token * %zu + d)",
                             kind ? "tile" : "warp", tokens[ti], n_head, n_head_kv, cases[ci].what, q_dim);
                    CHECK_SAME(what, ref, gpu, n * q_dim);
                }
            free(seq), free(pos), free(q), free(kc), free(vc), free(ref), free(gpu);
        }
}

/* Token statistics: the same bits as hlz_token_stats_from_logits (two nans are equal). */
static int same_stats(const hlz_token_stats *a, const hlz_token_stats *b)
{
    return a->cum == b->cum && a->freq == b->freq && first_diff(&a->max, &b->max, 1) < 0 &&
           first_diff(&a->logit, &b->logit, 1) < 0 &&
           (memcmp(&a->sum, &b->sum, sizeof a->sum) == 0 || (a->sum != a->sum && b->sum != b->sum));
}

static void check_token_stats(void)
{
    static const uint32_t vocabs[] = {2, 257, 300, 8192, 49152};
    enum { ROWS = 9 };
    for (size_t v = 0; v < sizeof vocabs / sizeof *vocabs; v++) {
        uint32_t nv = vocabs[v];
        float *l = malloc((size_t)ROWS * nv * 4);
        int32_t next[ROWS];
        hlz_token_stats ref[ROWS], gpu[ROWS];
        uint32_t *scratch = malloc(nv * 4);
        for (int r = 0; r < ROWS; r++) {
            float *x = l + (size_t)r * nv;
            for (uint32_t i = 0; i < nv; i++) {
                switch (r) {
                case 0: x[i] = rnd(8.0f); break;                          /* ordinary */
                case 1: x[i] = rnd(8.0f) + (i == nv / 3 ? 40.0f : 0.0f); break; /* peaked */
                case 2: x[i] = extreme(); break;                          /* zeros of both signs, huge, ties */
                case 3: x[i] = (float)(i % 5); break;                     /* many ties of the top */
                case 4: x[i] = i % 7 == 0 ? NAN : i % 11 == 0 ? INFINITY : rnd(3.0f); break;
                case 5: x[i] = i == 0 ? NAN : rnd(3.0f); break;           /* a leading nan */
                case 6: x[i] = -INFINITY; break;                          /* nothing finite */
                case 7: x[i] = i % 2 ? -0.0f : 0.0f; break;
                default: x[i] = rnd(1e4f); break;                         /* beyond the 20-nat floor */
                }
            }
            next[r] = r == 3 ? -1 : (int32_t)(r == 0 ? 0 : r == 1 ? nv / 3 : r == 2 ? nv - 1 : test_rand(&seed) % nv);
        }
        for (int r = 0; r < ROWS; r++)
            if (next[r] >= 0) hlz_token_stats_from_logits(l + (size_t)r * nv, nv, next[r], scratch, &ref[r]);
        CHECK(hlz_cuda_test_token_stats(l, ROWS, nv, next, gpu) == 0);
        /* The decoder's search on the same rows: slots at the ends of the range and in between. */
        uint32_t slots[ROWS];
        hlz_token_found fref[ROWS], fgpu[ROWS];
        for (int r = 0; r < ROWS; r++) {
            slots[r] = r == 0 ? 0 : r == 1 ? HLZ_FREQ_TOTAL - 1 : (uint32_t)(test_rand(&seed) % HLZ_FREQ_TOTAL);
            hlz_token_find_from_logits(l + (size_t)r * nv, nv, slots[r], scratch, &fref[r]);
        }
        CHECK(hlz_cuda_test_token_find(l, ROWS, nv, slots, fgpu) == 0);
        for (int r = 0; r < ROWS; r++)
            CHECK_MSG(fref[r].token == fgpu[r].token && fref[r].cum == fgpu[r].cum && fref[r].freq == fgpu[r].freq,
                      "token search vocab %u row %d slot %u: cpu %u [%u, +%u), gpu %u [%u, +%u)", nv, r, slots[r],
                      fref[r].token, fref[r].cum, fref[r].freq, fgpu[r].token, fgpu[r].cum, fgpu[r].freq);
        for (int r = 0; r < ROWS; r++)
            CHECK_MSG(next[r] < 0 || same_stats(&ref[r], &gpu[r]),
                      "token stats vocab %u row %d token %d: cpu cum %u freq %u max %a logit %a sum %a, gpu cum %u freq %u "
                      "max %a logit %a sum %a",
                      nv, r, next[r], ref[r].cum, ref[r].freq, (double)ref[r].max, (double)ref[r].logit, ref[r].sum,
                      gpu[r].cum, gpu[r].freq, (double)gpu[r].max, (double)gpu[r].logit, gpu[r].sum);
        /* With the hybrid encoder's guesses: none, some holding the token, the table's best, the last entry. */
        int32_t cands[ROWS * HLZ_TABLE_CANDIDATES];
        hlz_token_mix mref[ROWS], mgpu[ROWS];
        for (int r = 0; r < ROWS; r++) {
            int32_t *c = cands + r * HLZ_TABLE_CANDIDATES;
            size_t k = nv < 4 ? nv : (size_t)(r % 5);
            for (size_t j = 0; j < HLZ_TABLE_CANDIDATES; j++) c[j] = -1;
            for (size_t j = 0; j < k; j++) {
                int32_t x = j == 0 && r % 2 && next[r] >= 0 ? next[r] : j == 1 ? (int32_t)(nv - 1) : j == 2 ? 0
                            : (int32_t)(test_rand(&seed) % nv);
                for (size_t i = 0; i < j; i++)
                    if (c[i] == x) x = -1;
                if (x < 0) break;
                c[j] = x;
            }
            size_t kk = 0;
            while (kk < HLZ_TABLE_CANDIDATES && c[kk] >= 0) kk++;
            if (next[r] >= 0) hlz_token_mix_from_logits(l + (size_t)r * nv, nv, next[r], c, kk, scratch, &mref[r]);
        }
        CHECK(hlz_cuda_test_token_mix(l, ROWS, nv, next, cands, gpu, mgpu) == 0);
        for (int r = 0; r < ROWS; r++)
            CHECK_MSG(next[r] < 0 || (same_stats(&ref[r], &gpu[r]) && memcmp(&mref[r], &mgpu[r], sizeof mref[r]) == 0),
                      "token mix vocab %u row %d token %d: cpu fc %u %u %u %u [%u, +%u), gpu fc %u %u %u %u [%u, +%u)", nv,
                      r, next[r], mref[r].fc[0], mref[r].fc[1], mref[r].fc[2], mref[r].fc[3], mref[r].cum, mref[r].freq,
                      mgpu[r].fc[0], mgpu[r].fc[1], mgpu[r].fc[2], mgpu[r].fc[3], mgpu[r].cum, mgpu[r].freq);
        /* The hybrid decoder's kernels on the same rows and guesses (row 3's are
         * made absent: every -1): the guesses' frequencies, the search of rows
         * without guesses, the kept tables without the guesses and their search. */
        for (size_t j = 0; j < HLZ_TABLE_CANDIDATES; j++) cands[3 * HLZ_TABLE_CANDIDATES + j] = -1;
        uint32_t slots2[ROWS], fcref[ROWS * HLZ_TABLE_CANDIDATES], fcgpu[ROWS * HLZ_TABLE_CANDIDATES];
        uint32_t *tref = malloc((size_t)ROWS * nv * 4), *tgpu = malloc((size_t)ROWS * nv * 4);
        hlz_token_found gref[ROWS], ggpu[ROWS], kref[ROWS], kgpu[ROWS];
        memset(tref, 0, (size_t)ROWS * nv * 4), memset(tgpu, 0, (size_t)ROWS * nv * 4);
        memset(gref, 0, sizeof gref), memset(ggpu, 0, sizeof ggpu), memset(kref, 0, sizeof kref), memset(kgpu, 0, sizeof kgpu);
        memset(fcgpu, 0xff, sizeof fcgpu);
        for (int r = 0; r < ROWS; r++) {
            const int32_t *c = cands + r * HLZ_TABLE_CANDIDATES;
            size_t kk = 0;
            while (kk < HLZ_TABLE_CANDIDATES && c[kk] >= 0) kk++;
            slots2[r] = r % 3 == 0 ? 0 : r % 3 == 1 ? HLZ_FREQ_TOTAL - 1 : (uint32_t)(test_rand(&seed) % HLZ_FREQ_TOTAL);
            if (kk == 0) {
                hlz_token_find_from_logits(l + (size_t)r * nv, nv, slots[r], scratch, &gref[r]);
                memset(fcref + r * HLZ_TABLE_CANDIDATES, 0, HLZ_TABLE_CANDIDATES * 4);
            } else {
                uint32_t *t = tref + (size_t)r * nv;
                hlz_token_guess_from_logits(l + (size_t)r * nv, nv, c, kk, t, fcref + r * HLZ_TABLE_CANDIDATES);
                hlz_token_find_table(t, nv, slots2[r], &kref[r]);
            }
        }
        CHECK(hlz_cuda_test_token_guess(l, ROWS, nv, cands, slots, slots2, fcgpu, ggpu, tgpu, kgpu) == 0);
        for (int r = 0; r < ROWS; r++) {
            const int32_t *c = cands + r * HLZ_TABLE_CANDIDATES;
            const uint32_t *fr = fcref + r * HLZ_TABLE_CANDIDATES, *fg = fcgpu + r * HLZ_TABLE_CANDIDATES;
            CHECK_MSG(memcmp(fr, fg, HLZ_TABLE_CANDIDATES * 4) == 0,
                      "token guess vocab %u row %d guesses %d %d %d %d: cpu fc %u %u %u %u, gpu %u %u %u %u", nv, r, c[0],
                      c[1], c[2], c[3], fr[0], fr[1], fr[2], fr[3], fg[0], fg[1], fg[2], fg[3]);
            if (c[0] < 0) {
                CHECK_MSG(memcmp(&gref[r], &ggpu[r], sizeof gref[r]) == 0,
                          "token guess vocab %u row %d (no guesses) slot %u: cpu %u [%u, +%u), gpu %u [%u, +%u)", nv, r,
                          slots[r], gref[r].token, gref[r].cum, gref[r].freq, ggpu[r].token, ggpu[r].cum, ggpu[r].freq);
                continue;
            }
            long d = -1;
            for (uint32_t i = 0; i < nv && d < 0; i++)
                if (tref[(size_t)r * nv + i] != tgpu[(size_t)r * nv + i]) d = (long)i;
            CHECK_MSG(d < 0, "kept table vocab %u row %d entry %ld: cpu %u, gpu %u", nv, r, d,
                      d < 0 ? 0 : tref[(size_t)r * nv + d], d < 0 ? 0 : tgpu[(size_t)r * nv + d]);
            CHECK_MSG(memcmp(&kref[r], &kgpu[r], sizeof kref[r]) == 0,
                      "kept search vocab %u row %d slot %u: cpu %u [%u, +%u), gpu %u [%u, +%u)", nv, r, slots2[r],
                      kref[r].token, kref[r].cum, kref[r].freq, kgpu[r].token, kgpu[r].cum, kgpu[r].freq);
        }
        free(tref), free(tgpu);
        free(l), free(scratch);
    }
}

/* Integer attention (kind 2, then kind 3: the mma kernel, which takes head
 * dimensions up to 128 and kv groups up to 16 here) of whole batches against
 * hlz_attention_int8 (the CPU reference, kernels_ref), bit for bit: head
 * dimensions 32, 64, 96, 128 and 256, kv groups of 1, 3 and 16 query heads
 * (16: several jobs per warp), prefills, interleaved tokens, decoding steps, blocks of 1 and 5
 * tokens and the default. Caches of ordinary values with a few huge ones,
 * an inf in a key and a nan in a value (their blocks quantize to zero), and
 * queries of 1e30 in some tokens, whose scores become inf or nan. */
static void check_attention_int8(void)
{
    static const uint32_t dims[] = {64, 32, 96, 128, 256};
    static const uint32_t heads[][2] = {{6, 2}, {4, 4}, {16, 1}};
    enum { N_SEQ = 4 };
    static const struct {
        const char *what;
        uint32_t n_ctx;
        uint32_t runs[5][3]; /* sequence, first position, tokens; tokens 0 ends */
    } cases[] = {
        {"prefill of 2 sequences", 300, {{0, 0, 45}, {1, 200, 70}, {0, 0, 0}}},
        {"interleaved, a gap", 300, {{0, 5, 3}, {1, 7, 2}, {0, 8, 4}, {0, 13, 9}, {3, 31, 2}}},
        {"decoding steps", 700, {{0, 650, 1}, {1, 30, 1}, {2, 31, 1}, {3, 0, 1}, {0, 0, 0}}},
    };
    static const uint32_t tokens[] = {0, 1, 5};
    for (size_t di = 0; di < sizeof dims / sizeof *dims; di++)
        for (size_t hi = 0; hi < sizeof heads / sizeof *heads; hi++)
            for (size_t ci = 0; ci < sizeof cases / sizeof *cases; ci++) {
                uint32_t hd = dims[di], n_head = heads[hi][0], n_head_kv = heads[hi][1], n_ctx = cases[ci].n_ctx;
                size_t kv_row = (size_t)n_head_kv * hd, q_dim = (size_t)n_head * hd, n = 0;
                for (int r = 0; r < 5 && cases[ci].runs[r][2]; r++) n += cases[ci].runs[r][2];
                uint32_t *seq = malloc(n * 4), *pos = malloc(n * 4), longest = 0;
                size_t t = 0;
                for (int r = 0; r < 5 && cases[ci].runs[r][2]; r++)
                    for (uint32_t i = 0; i < cases[ci].runs[r][2]; i++, t++) {
                        seq[t] = cases[ci].runs[r][0], pos[t] = cases[ci].runs[r][1] + i;
                        longest = pos[t] + 1 > longest ? pos[t] + 1 : longest;
                    }
                size_t cache = (size_t)N_SEQ * n_ctx * kv_row;
                float *q = malloc(n * q_dim * 4), *kc = malloc(cache * 4), *vc = malloc(cache * 4);
                float *ref = malloc(n * q_dim * 4), *gpu = malloc(n * q_dim * 4);
                void *scratch = malloc(hlz_attention_int8_scratch(longest, hd));
                float big = ci % 2 ? 8.0f : 1.0f; /* peaked and flat softmaxes */
                for (size_t i = 0; i < n * q_dim; i++) q[i] = i / q_dim % 7 == 3 && i % 5 == 0 ? 1e30f : rnd(big);
                for (size_t i = 0; i < cache; i++) {
                    kc[i] = i % 97 == 5 ? rnd(1e30f) : rnd(1.0f);
                    vc[i] = extreme();
                }
                kc[3 * kv_row + 1] = INFINITY, vc[2 * kv_row + 7] = NAN;
                for (t = 0; t < n; t++)
                    for (uint32_t h = 0; h < n_head; h++) {
                        size_t at = (size_t)seq[t] * n_ctx * kv_row + (size_t)(h / (n_head / n_head_kv)) * hd;
                        hlz_attention_int8(&hlz_kernels_ref, q + t * q_dim + (size_t)h * hd, kc + at, vc + at, kv_row,
                                           pos[t] + 1, hd, ref + t * q_dim + (size_t)h * hd, scratch);
                    }
                for (int kind = 2; kind <= 3; kind++) /* the default int8 kernels, then the mma one */
                    for (size_t ti = 0; ti < sizeof tokens / sizeof *tokens; ti++) {
                        memset(gpu, 0xff, n * q_dim * 4);
                        CHECK(hlz_cuda_test_attention_batch(kind, tokens[ti], q, n, n_head, n_head_kv, hd, seq, pos, kc,
                                                            vc, N_SEQ, n_ctx, gpu) == 0);
                        char what[180];
                        snprintf(what, sizeof what,
                                 "int8 attention%s (tokens %u) head_dim %u heads %u/%u, %s (index = token * %zu + d)",
                                 kind == 3 ? " mma" : "", tokens[ti], hd, n_head, n_head_kv, cases[ci].what, q_dim);
                        CHECK_SAME(what, ref, gpu, n * q_dim);
                    }
                free(seq), free(pos), free(q), free(kc), free(vc), free(ref), free(gpu), free(scratch);
            }
}

/* ---- whole models ----------------------------------------------------------- */

#define SEQ 600 /* tokens per sequence: batch 512 plus a tail */

/* The attention arithmetic of the sessions check_model makes (HLZ_ATTENTION_*). */
static uint8_t attention_mode = HLZ_ATTENTION_FLOAT;

static hlz_status new_session(hlz_model *m, uint32_t n, hlz_session **s, hlz_error *e)
{
    hlz_status st = hlz_session_create(m, n, s, e);
    if (st == HLZ_OK) (*s)->attention = attention_mode;
    return st;
}

/* Logits of `ids` evaluated `batch` tokens per call in a fresh session. */
static int eval_pieces(hlz_model *m, const int32_t *ids, size_t n, size_t batch, float *out)
{
    hlz_session *s = NULL;
    hlz_error e;
    uint32_t nv = m->config.n_vocab;
    if (new_session(m, (uint32_t)n, &s, &e) != HLZ_OK) {
        printf("# session: %s\n", e.message);
        return -1;
    }
    for (size_t at = 0; at < n; at += batch) {
        size_t k = n - at < batch ? n - at : batch;
        if (hlz_model_eval(m, s, ids + at, k, out + at * nv, &e) != HLZ_OK) {
            printf("# eval: %s\n", e.message);
            hlz_session_free(s);
            return -1;
        }
    }
    hlz_session_free(s);
    return 0;
}

/* cpu and gpu are two openings of the same model, gpu moved to the GPU. */
static void check_model(const char *label, hlz_model *cpu, hlz_model *gpu)
{
    uint32_t nv = cpu->config.n_vocab;
    size_t n = SEQ < cpu->config.n_ctx ? SEQ : cpu->config.n_ctx;
    int32_t *ids = malloc(n * 4);
    float *ref = malloc(n * nv * 4), *got = malloc(n * nv * 4);
    for (size_t i = 0; i < n; i++) ids[i] = (int32_t)(test_rand(&seed) % nv);
    double t0 = now();
    CHECK(eval_pieces(cpu, ids, n, n, ref) == 0);
    printf("# %s: cpu (16 threads) one prefill of %zu tokens: %.0f tokens/s\n", label, n, (double)n / (now() - t0));
    static const size_t batches[] = {512, 64, 7, 2, 1};
    for (size_t b = 0; b < sizeof batches / sizeof *batches; b++) {
        memset(got, 0xff, n * nv * 4);
        t0 = now();
        CHECK(eval_pieces(gpu, ids, n, batches[b], got) == 0);
        printf("# %s: gpu, %zu tokens per call: %.0f tokens/s (one sequence)\n", label, batches[b],
               (double)n / (now() - t0));
        char what[96];
        snprintf(what, sizeof what, "%s logits, batch %zu (index = token * %u + id)", label, batches[b], nv);
        CHECK_SAME(what, ref, got, n * nv);
    }
    /* Several sequences in one batch, after a copied prefix (the llm codec's
     * prime): sequence i continues a copy of the first 50 tokens with counts[i]. */
    hlz_error e;
    hlz_session *prime = NULL, *s[4] = {0};
    CHECK(new_session(gpu, (uint32_t)n, &prime, &e) == HLZ_OK);
    CHECK(hlz_model_eval(gpu, prime, ids, 50, NULL, &e) == HLZ_OK);
    size_t counts[4] = {1, 7, 130, 33};
    const int32_t *toks[4];
    float *batch_out = malloc((1 + 7 + 130 + 33) * (size_t)nv * 4);
    for (int i = 0; i < 4; i++) {
        CHECK(new_session(gpu, (uint32_t)n, &s[i], &e) == HLZ_OK);
        CHECK(hlz_session_copy(gpu, s[i], prime, &e) == HLZ_OK);
        toks[i] = ids + 50;
    }
    CHECK_MSG(hlz_model_eval_batch(gpu, s, toks, counts, 4, batch_out, &e) == HLZ_OK, "%s", e.message);
    size_t at = 0;
    for (int i = 0; i < 4; i++) {
        char what[96];
        snprintf(what, sizeof what, "%s logits, sequence %d of a 4-sequence batch after a copied prefix", label, i);
        CHECK_SAME(what, ref + 50 * (size_t)nv, batch_out + at * nv, counts[i] * nv);
        at += counts[i];
    }
    for (int i = 0; i < 4; i++) hlz_session_free(s[i]);
    hlz_session_free(prime);
    free(batch_out);
    if (attention_mode != HLZ_ATTENTION_FLOAT) { /* the rest reads the same logits the same way */
        free(ids), free(ref), free(got);
        return;
    }
    /* Over 4096 tokens in one call: 7 sequences of n tokens. */
    enum { MANY = 7 };
    hlz_session *ms[MANY] = {0};
    const int32_t *mt[MANY];
    size_t mc[MANY];
    float *many = malloc(MANY * n * nv * 4);
    for (int i = 0; i < MANY; i++) {
        CHECK(new_session(gpu, (uint32_t)n, &ms[i], &e) == HLZ_OK);
        mt[i] = ids, mc[i] = n;
    }
    t0 = now();
    CHECK_MSG(hlz_model_eval_batch(gpu, ms, mt, mc, MANY, many, &e) == HLZ_OK, "%s", e.message);
    printf("# %s: gpu, %d sequences of %zu tokens in one call: %.0f tokens/s\n", label, MANY, n,
           (double)(MANY * n) / (now() - t0));
    for (int i = 0; i < MANY; i++) {
        char what[96];
        snprintf(what, sizeof what, "%s logits, sequence %d of a %zu-token batch", label, i, MANY * n);
        CHECK_SAME(what, ref, many + (size_t)i * n * nv, n * nv);
        hlz_session_free(ms[i]);
    }
    free(many);
    /* Token statistics (hlz_model_eval_batch_stats, the encoder's GPU path)
     * against those of the CPU's logits: row t for token ids[t + 1]. */
    hlz_session *ss = NULL;
    int32_t *next = malloc(n * 4);
    hlz_token_stats *st = malloc(n * sizeof *st), want;
    uint32_t *scratch = malloc(nv * 4);
    for (size_t t = 0; t < n; t++) next[t] = t + 1 < n && t % 3 != 1 ? ids[t + 1] : -1;
    CHECK(new_session(gpu, (uint32_t)n, &ss, &e) == HLZ_OK);
    const int32_t *all = ids;
    t0 = now();
    CHECK_MSG(hlz_model_eval_batch_stats(gpu, &ss, &all, &n, 1, next, st, &e) == HLZ_OK, "%s", e.message);
    printf("# %s: gpu, token statistics of %zu tokens in one call: %.0f tokens/s\n", label, n, (double)n / (now() - t0));
    for (size_t t = 0; t < n; t++) {
        if (next[t] < 0) continue;
        hlz_token_stats_from_logits(ref + t * nv, nv, next[t], scratch, &want);
        CHECK_MSG(same_stats(&want, &st[t]), "%s: token statistics of row %zu differ (cum %u/%u freq %u/%u sum %a/%a)",
                  label, t, want.cum, st[t].cum, want.freq, st[t].freq, want.sum, st[t].sum);
        if (test_case_failed) break;
    }
    /* The same with the hybrid encoder's guesses (hlz_model_eval_batch_stats_mix). */
    {
        int32_t *cands = malloc(n * HLZ_TABLE_CANDIDATES * sizeof *cands);
        hlz_token_mix *mix = malloc(n * sizeof *mix), mwant;
        for (size_t t = 0; t < n; t++)
            for (size_t j = 0; j < HLZ_TABLE_CANDIDATES; j++)
                cands[t * HLZ_TABLE_CANDIDATES + j] = j < t % 5 ? (int32_t)((t * 7 + j * 131) % nv) : -1;
        ss->n_past = 0;
        CHECK_MSG(hlz_model_eval_batch_stats_mix(gpu, &ss, &all, &n, 1, next, cands, st, mix, &e) == HLZ_OK, "%s",
                  e.message);
        for (size_t t = 0; t < n; t++) {
            if (next[t] < 0) continue;
            const int32_t *c = cands + t * HLZ_TABLE_CANDIDATES;
            hlz_token_mix_from_logits(ref + t * nv, nv, next[t], c, t % 5, scratch, &mwant);
            CHECK_MSG(memcmp(&mwant, &mix[t], sizeof mwant) == 0, "%s: hybrid figures of row %zu differ", label, t);
            if (test_case_failed) break;
        }
        free(cands), free(mix);
    }
    hlz_session_free(ss);
    /* Token searches (hlz_model_eval_batch_find, the decoder's GPU path): 3
     * sequences of 1, 5 and 40 tokens after a copied prefix, one search each. */
    hlz_session *fs[3] = {0}, *fprime = NULL;
    CHECK(new_session(gpu, (uint32_t)n, &fprime, &e) == HLZ_OK);
    CHECK(hlz_model_eval(gpu, fprime, ids, 50, NULL, &e) == HLZ_OK);
    size_t fcounts[3] = {1, 5, 40};
    const int32_t *ftoks[3] = {ids + 50, ids + 50, ids + 50};
    uint32_t fslots[3] = {0, HLZ_FREQ_TOTAL - 1, (uint32_t)(test_rand(&seed) % HLZ_FREQ_TOTAL)};
    hlz_token_found ffound[3], fwant;
    for (int i = 0; i < 3; i++) {
        CHECK(new_session(gpu, (uint32_t)n, &fs[i], &e) == HLZ_OK);
        CHECK(hlz_session_copy(gpu, fs[i], fprime, &e) == HLZ_OK);
    }
    CHECK_MSG(hlz_model_eval_batch_find(gpu, fs, ftoks, fcounts, 3, fslots, ffound, &e) == HLZ_OK, "%s", e.message);
    for (int i = 0; i < 3; i++) {
        hlz_token_find_from_logits(ref + (50 + fcounts[i] - 1) * nv, nv, fslots[i], scratch, &fwant);
        CHECK_MSG(fwant.token == ffound[i].token && fwant.cum == ffound[i].cum && fwant.freq == ffound[i].freq,
                  "%s: token search of sequence %d differs (cpu %u, gpu %u)", label, i, fwant.token, ffound[i].token);
        hlz_session_free(fs[i]);
    }
    /* The hybrid decoder's calls (hlz_model_eval_batch_guess, then
     * hlz_model_find_kept), twice on the same kept tables (the second call
     * with more sequences, so they grow): sequences of 1..40 tokens after
     * the copied prefix, with 0..4 guesses; the GPU against the CPU's
     * logits through the reference functions, and against the CPU model's
     * own calls. */
    {
        enum { GS = 6 };
        hlz_kept_tables *kg = NULL, *kc = NULL;
        CHECK(hlz_kept_tables_create(gpu, &kg, &e) == HLZ_OK && hlz_kept_tables_create(cpu, &kc, &e) == HLZ_OK);
        hlz_session *gs[GS] = {0}, *cs[GS] = {0}, *cprime = NULL;
        CHECK(new_session(cpu, (uint32_t)n, &cprime, &e) == HLZ_OK);
        CHECK(hlz_model_eval(cpu, cprime, ids, 50, NULL, &e) == HLZ_OK);
        for (int i = 0; i < GS; i++) {
            CHECK(new_session(gpu, (uint32_t)n, &gs[i], &e) == HLZ_OK);
            CHECK(new_session(cpu, (uint32_t)n, &cs[i], &e) == HLZ_OK);
        }
        static const size_t gcounts[GS] = {1, 5, 40, 2, 17, 9};
        for (int round = 0; round < 2; round++) {
            size_t m = round == 0 ? 3 : GS;
            const int32_t *gt[GS];
            int32_t gc[GS * HLZ_TABLE_CANDIDATES];
            uint32_t gsl[GS], gfc[GS * HLZ_TABLE_CANDIDATES], cfc[GS * HLZ_TABLE_CANDIDATES], seqs[GS], sl2[GS];
            hlz_token_found gf[GS], cf[GS], gk[GS], ck[GS];
            size_t m2 = 0;
            for (size_t i = 0; i < m; i++) {
                CHECK(hlz_session_copy(gpu, gs[i], fprime, &e) == HLZ_OK);
                CHECK(hlz_session_copy(cpu, cs[i], cprime, &e) == HLZ_OK);
                gt[i] = ids + 50;
                size_t k = (i + (size_t)round) % 5, last = 50 + gcounts[i] - 1;
                for (size_t j = 0; j < HLZ_TABLE_CANDIDATES; j++)
                    gc[i * HLZ_TABLE_CANDIDATES + j] = j < k ? (int32_t)((last * 13 + j * 101 + (size_t)round) % nv) : -1;
                if (k > 0) gc[i * HLZ_TABLE_CANDIDATES] = ids[last + 1]; /* the token that follows */
                for (size_t j = 1; j < k; j++) /* distinct guesses: cut at a repeat */
                    for (size_t jj = 0; jj < j; jj++)
                        if (gc[i * HLZ_TABLE_CANDIDATES + j] == gc[i * HLZ_TABLE_CANDIDATES + jj]) k = j;
                for (size_t j = k; j < HLZ_TABLE_CANDIDATES; j++) gc[i * HLZ_TABLE_CANDIDATES + j] = -1;
                gsl[i] = (uint32_t)(test_rand(&seed) % HLZ_FREQ_TOTAL);
                if (k > 0) seqs[m2] = (uint32_t)i, sl2[m2++] = i == 2 ? 0 : (uint32_t)(test_rand(&seed) % HLZ_FREQ_TOTAL);
            }
            CHECK_MSG(hlz_model_eval_batch_guess(gpu, gs, gt, gcounts, m, gc, gsl, gfc, gf, kg, &e) == HLZ_OK, "%s",
                      e.message);
            CHECK_MSG(hlz_model_eval_batch_guess(cpu, cs, gt, gcounts, m, gc, gsl, cfc, cf, kc, &e) == HLZ_OK, "%s",
                      e.message);
            CHECK_MSG(hlz_model_find_kept(gpu, kg, seqs, sl2, m2, gk, &e) == HLZ_OK, "%s", e.message);
            CHECK_MSG(hlz_model_find_kept(cpu, kc, seqs, sl2, m2, ck, &e) == HLZ_OK, "%s", e.message);
            uint32_t *table = malloc(nv * 4);
            for (size_t i = 0, k2 = 0; i < m; i++) {
                const int32_t *c = gc + i * HLZ_TABLE_CANDIDATES;
                const float *row = ref + (50 + gcounts[i] - 1) * nv;
                size_t k = 0;
                while (k < HLZ_TABLE_CANDIDATES && c[k] >= 0) k++;
                CHECK_MSG(memcmp(gfc + i * HLZ_TABLE_CANDIDATES, cfc + i * HLZ_TABLE_CANDIDATES, HLZ_TABLE_CANDIDATES * 4) == 0,
                          "%s: guess round %d sequence %zu: fc differ between gpu and cpu", label, round, i);
                if (k == 0) {
                    hlz_token_find_from_logits(row, nv, gsl[i], scratch, &fwant);
                    CHECK_MSG(memcmp(&fwant, &gf[i], sizeof fwant) == 0 && memcmp(&fwant, &cf[i], sizeof fwant) == 0,
                              "%s: guess round %d sequence %zu (no guesses): search differs", label, round, i);
                    continue;
                }
                uint32_t fc[HLZ_TABLE_CANDIDATES];
                hlz_token_guess_from_logits(row, nv, c, k, table, fc);
                CHECK_MSG(memcmp(fc, gfc + i * HLZ_TABLE_CANDIDATES, sizeof fc) == 0,
                          "%s: guess round %d sequence %zu: fc differ from the reference", label, round, i);
                hlz_token_find_table(table, nv, sl2[k2], &fwant);
                CHECK_MSG(memcmp(&fwant, &gk[k2], sizeof fwant) == 0 && memcmp(&fwant, &ck[k2], sizeof fwant) == 0,
                          "%s: kept search round %d sequence %zu slot %u: cpu %u, gpu %u, reference %u", label, round, i,
                          sl2[k2], ck[k2].token, gk[k2].token, fwant.token);
                k2++;
            }
            free(table);
        }
        /* Only sequences with guesses have kept tables. */
        uint32_t none = 4, slot0 = 0; /* sequence 4 had no guesses in round 1 */
        hlz_token_found dummy;
        CHECK(hlz_model_find_kept(gpu, kg, &none, &slot0, 1, &dummy, &e) == HLZ_ERR_PARAM);
        for (int i = 0; i < GS; i++) hlz_session_free(gs[i]), hlz_session_free(cs[i]);
        hlz_session_free(cprime);
        hlz_kept_tables_free(kg), hlz_kept_tables_free(kc);
    }
    hlz_session_free(fprime);
    free(next), free(st), free(scratch);
    free(ids), free(ref), free(got);
}

/* check_model's logits and batches with int8 attention sessions, for a
 * head dimension the integer attention takes. */
static void check_model_int8(const char *label, hlz_model *cpu, hlz_model *gpu)
{
    uint32_t hd = cpu->config.head_dim;
    if (hd % 32 || hd > HLZ_INT8_CUDA_MAX_HEAD) {
        printf("# %s: head_dim %u, no int8 attention\n", label, hd);
        return;
    }
    char l2[128];
    snprintf(l2, sizeof l2, "%s, int8 attention", label);
    attention_mode = HLZ_ATTENTION_INT8;
    check_model(l2, cpu, gpu);
    attention_mode = HLZ_ATTENTION_FLOAT;
}

static const char *model_path = "models/stand-in/stand-in.gguf";

static void check_model_file(void)
{
    hlz_model *cpu = NULL, *gpu = NULL;
    hlz_error e;
    CHECK_MSG(hlz_model_open(&cpu, model_path, &e) == HLZ_OK, "%s: %s", model_path, e.message);
    CHECK(hlz_model_open(&gpu, model_path, &e) == HLZ_OK);
    hlz_model_set_threads(cpu, 16);
    CHECK_MSG(hlz_model_set_device(gpu, HLZ_DEVICE_CUDA, &e) == HLZ_OK, "%s", e.message);
    check_model(model_path, cpu, gpu);
    check_model_int8(model_path, cpu, gpu);
    hlz_model_free(cpu), hlz_model_free(gpu);
}

static void check_shape(const test_model_shape *sh)
{
    uint8_t *b1 = NULL, *b2 = NULL;
    hlz_model *cpu = tm_open(sh, &b1), *gpu = tm_open(sh, &b2);
    hlz_error e;
    if (cpu && gpu) {
        hlz_model_set_threads(cpu, 16);
        if (hlz_model_set_device(gpu, HLZ_DEVICE_CUDA, &e) != HLZ_OK) printf("# device: %s\n", e.message);
        else {
            char label[96];
            snprintf(label, sizeof label, "random %s %u/%u/%u/%u/%u", sh->arch, sh->n_embd, sh->n_layer, sh->n_head,
                     sh->n_head_kv, sh->n_ff);
            check_model(label, cpu, gpu);
            if (!test_case_failed) check_model_int8(label, cpu, gpu);
        }
    } else {
        CHECK(cpu && gpu);
    }
    hlz_model_free(cpu), hlz_model_free(gpu);
    free(b1), free(b2);
}

static void check_random_llama(void)
{
    static const test_model_shape a = {"llama", 64, 2, 4, 2, 96, 300, 640, HLZ_GGML_F32, 1};
    static const test_model_shape b = {"llama", 288, 3, 6, 6, 768, 512, 640, HLZ_GGML_Q8_0, 3}; /* head_dim 48 */
    /* head_dim 64 (the tile kernel) with kv groups of 1 and 4 query heads */
    static const test_model_shape c = {"llama", 256, 2, 4, 4, 384, 300, 640, HLZ_GGML_Q8_0, 5};
    static const test_model_shape d = {"llama", 512, 2, 8, 2, 768, 300, 640, HLZ_GGML_Q8_0, 6};
    check_shape(&a);
    if (!test_case_failed) check_shape(&b);
    if (!test_case_failed) check_shape(&c);
    if (!test_case_failed) check_shape(&d);
}

static void check_random_qwen2(void)
{
    static const test_model_shape a = {"qwen2", 96, 2, 6, 2, 160, 257, 640, HLZ_GGML_Q8_0, 2};
    static const test_model_shape b = {"qwen2", 576, 2, 9, 3, 1536, 1000, 640, HLZ_GGML_BF16, 4}; /* SmolLM2 widths */
    check_shape(&a);
    if (!test_case_failed) check_shape(&b);
}

int main(int argc, char **argv)
{
    if (argc > 1) model_path = argv[1];
    int gpus = hlz_cuda_device_count();
    if (gpus < 1) {
        printf("skip check_cuda: no usable CUDA GPU (or a build without CUDA)\n");
        printf("check-cuda: SKIP\n");
        return 0;
    }
    printf("# %d CUDA device(s)\n", gpus);
    RUN(check_quantize);
    RUN(check_matmul);
    RUN(check_rmsnorm);
    RUN(check_elementwise);
    RUN(check_rope);
    RUN(check_attention);
    RUN(check_attention_batch);
    RUN(check_attention_int8);
    RUN(check_token_stats);
    RUN(check_model_file);
    RUN(check_random_llama);
    RUN(check_random_qwen2);
    if (test_failed_cases) printf("check-cuda: FAIL (%d cases)\n", test_failed_cases);
    else printf("check-cuda: PASS\n");
    TEST_MAIN_END();
}
