/*
 * gpu_bench.c - measurements of the CUDA backend for bench/gpu_throughput.sh
 * (a benchmark, not a test; needs a GPU).
 *
 *   build/gpu-bench model OUT.gguf smollm2|llama3-8b
 *       writes a random Q8_0 model: SmolLM2-135M's shape (hidden 576, 30
 *       layers, 9/3 heads, FFN 1536, vocabulary 49152, context 2048) or
 *       Llama-3-8B's (4096, 32 layers, 32/8 heads, FFN 14336, vocabulary
 *       128256, context 8192; 8.5 GB, about 17 GB of memory to make) with a
 *       byte-level BPE tokenizer (tests/unit/model_util.h)
 *   build/gpu-bench sweep MODEL.gguf [quick]
 *       tokens/s and GPU memory against batch size, 1..4096 tokens per call:
 *       "step" = that many sequences, one token each after 256 tokens of
 *       context (the lockstep decoder); "prefill" = sequences of up to 640
 *       tokens (the encoder's windows), logits for every token; "prefill,
 *       token statistics" = the same with only the statistics coming back;
 *       quick: batch sizes 1, 64 and 512 only
 *   build/gpu-bench matmul
 *       the matrix-product kernels alone (mma, tiled and dp4a) on the
 *       shapes of the default model and SmolLM2-135M: int8 TOPS
 *   build/gpu-bench attention
 *       one layer's head-dim-64 attention alone, the warp kernel
 *       (HLZ_CUDA_ATTENTION=warp) against the tile kernel (the default) in
 *       the same run, on the default model's heads (6/2) and SmolLM2's (9/3):
 *       the encoder's windows (512 tokens, with and without 512 rows of
 *       carried context) and decoding steps (1800 sequences, one token each);
 *       HLZ_CUDA_ATTENTION_TOKENS=N caps the tile kernel's tokens per block
 */
#include "device.h"
#include "entropy.h"
#include "model_util.h"

#include <time.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int write_model(const char *path, const char *which)
{
    test_model_shape sh = {"llama", 576, 30, 9, 3, 1536, 49152, 2048, HLZ_GGML_Q8_0, 135};
    static const test_model_shape llama3 = {"llama", 4096, 32, 32, 8, 14336, 128256, 8192, HLZ_GGML_Q8_0, 8};
    if (strcmp(which, "llama3-8b") == 0) sh = llama3;
    else if (strcmp(which, "smollm2") != 0) {
        fprintf(stderr, "gpu-bench: unknown model shape '%s'\n", which);
        return 2;
    }
    uint8_t *bytes;
    size_t size;
    if (tm_build(&sh, &bytes, &size) != 0) return 1;
    FILE *f = fopen(path, "wb");
    int ok = f && fwrite(bytes, 1, size, f) == size;
    if (f && fclose(f) != 0) ok = 0;
    free(bytes);
    if (!ok) fprintf(stderr, "gpu-bench: cannot write %s\n", path);
    return ok ? 0 : 1;
}

static int sweep(const char *path, bool quick)
{
    hlz_model *m = NULL;
    hlz_error e;
    if (hlz_model_open(&m, path, &e) != HLZ_OK || hlz_model_set_device(m, HLZ_DEVICE_CUDA, &e) != HLZ_OK) {
        fprintf(stderr, "gpu-bench: %s: %s\n", path, e.message);
        return 1;
    }
    const hlz_model_config *c = &m->config;
    printf("# %s: n_embd %u, layers %u, heads %u/%u, ffn %u, vocab %u on %s\n", path, c->n_embd, c->n_layer,
           c->n_head, c->n_head_kv, c->n_ff, c->n_vocab, m->device_name);
    printf("| mode | tokens per call | sequences | tokens/s | GPU memory used (MiB) |\n|---|---|---|---|---|\n");
    static const size_t all[] = {1, 4, 16, 64, 256, 1024, 4096}, few[] = {1, 64, 512};
    const size_t *batches = quick ? few : all;
    size_t n_batches = quick ? sizeof few / sizeof *few : sizeof all / sizeof *all;
    size_t base_free = hlz_cuda_free_memory();
    static const char *modes[] = {"step", "prefill", "prefill, token statistics"};
    for (int mode = 0; mode < 3; mode++)
        for (size_t bi = 0; bi < n_batches; bi++) {
            size_t n = batches[bi], per = mode == 0 ? 1 : 640, seqs = (n + per - 1) / per;
            uint32_t ctx = mode == 0 ? 257 : 640;
            hlz_session **s = calloc(seqs, sizeof *s);
            const int32_t **toks = malloc(seqs * sizeof *toks);
            size_t *counts = malloc(seqs * sizeof *counts);
            int32_t *ids = malloc(640 * sizeof *ids);
            float *logits = mode < 2 ? malloc(n * (size_t)c->n_vocab * sizeof *logits) : malloc(4);
            hlz_token_stats *stats = malloc(n * sizeof *stats);
            int32_t *next = malloc(n * sizeof *next);
            for (size_t i = 0; next && i < n; i++) next[i] = (int32_t)((i * 31u + 7u) % c->n_vocab);
            for (int i = 0; i < 640; i++) ids[i] = (int32_t)((i * 7919u) % c->n_vocab);
            hlz_status st = s && toks && counts && ids && logits && stats && next ? HLZ_OK : HLZ_ERR_NOMEM;
            hlz_session *ctx_prime = NULL;
            if (st == HLZ_OK && mode == 0) {
                st = hlz_session_create(m, ctx, &ctx_prime, &e);
                if (st == HLZ_OK) st = hlz_model_eval(m, ctx_prime, ids, 256, NULL, &e);
            }
            for (size_t i = 0; i < seqs && st == HLZ_OK; i++) {
                st = hlz_session_create(m, ctx, &s[i], &e);
                toks[i] = mode == 0 ? ids + 256 : ids;
                counts[i] = mode == 0 ? 1 : (i + 1 < seqs ? per : n - per * (seqs - 1));
            }
            double best = 1e30;
            for (int rep = 0; rep < 3 && st == HLZ_OK; rep++) {
                for (size_t i = 0; i < seqs && st == HLZ_OK; i++) {
                    if (mode == 0) st = hlz_session_copy(m, s[i], ctx_prime, &e);
                    else s[i]->n_past = 0;
                }
                double t0 = now();
                if (st == HLZ_OK)
                    st = mode < 2 ? hlz_model_eval_batch(m, s, toks, counts, seqs, logits, &e)
                                  : hlz_model_eval_batch_stats(m, s, toks, counts, seqs, next, stats, &e);
                double t = now() - t0;
                best = t < best ? t : best;
            }
            size_t used = base_free - hlz_cuda_free_memory();
            if (st == HLZ_OK)
                printf("| %s | %zu | %zu | %.0f | %.0f |\n", modes[mode], n, seqs, (double)n / best,
                       (double)used / 1048576.0);
            else
                printf("| %s | %zu | %zu | error: %s | |\n", modes[mode], n, seqs, e.message);
            for (size_t i = 0; i < seqs && s; i++) hlz_session_free(s[i]);
            hlz_session_free(ctx_prime);
            free(s), free(toks), free(counts), free(ids), free(logits), free(stats), free(next);
        }
    hlz_model_free(m);
    return 0;
}

static int matmul(void)
{
    static const struct {
        const char *what;
        uint64_t rows, cols;
    } shapes[] = {{"default ffn up (1024x384)", 1024, 384},   {"default ffn down (384x1024)", 384, 1024},
                  {"default output (8192x384)", 8192, 384},  {"smollm2 ffn up (1536x576)", 1536, 576},
                  {"smollm2 output (49152x576)", 49152, 576}, {"square 4096x4096", 4096, 4096}};
    printf("| matrix | tokens | kernel | time (ms) | int8 TOPS |\n|---|---|---|---|---|\n");
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++)
        for (int kind = 3; kind >= 0; kind--) {
            static const char *names[] = {"dp4a", "mma", "tiled", "pipe (default)"};
            size_t n = 4096;
            double t = 0;
            int reps = kind ? 20 : 3;
            if (hlz_cuda_bench_matmul(shapes[i].rows, shapes[i].cols, n, kind, reps, &t) != 0) {
                printf("| %s | %zu | %s | CUDA error | |\n", shapes[i].what, n, names[kind]);
                continue;
            }
            double ops = 2.0 * (double)shapes[i].rows * (double)shapes[i].cols * (double)n;
            printf("| %s | %zu | %s | %.3f | %.1f |\n", shapes[i].what, n, names[kind], t * 1e3, ops / t / 1e12);
        }
    return 0;
}

static int attention(void)
{
    static const struct {
        const char *what;
        uint32_t n_head, n_head_kv, n_seq, window, ctx;
    } shapes[] = {{"default, prefill: 16 windows of 512", 6, 2, 16, 512, 0},
                  {"default, prefill: 16 windows of 512 after 512 rows", 6, 2, 16, 512, 512},
                  {"default, step: 1800 sequences at 600 rows", 6, 2, 1800, 1, 600},
                  {"default, step: 1800 sequences at 1100 rows", 6, 2, 1800, 1, 1100},
                  {"smollm2, prefill: 16 windows of 512 after 512 rows", 9, 3, 16, 512, 512},
                  {"smollm2, step: 512 sequences at 1024 rows", 9, 3, 512, 1, 1024}};
    printf("| shape | kernel | time (ms) | query-rows per ns |\n|---|---|---|---|\n");
    for (size_t i = 0; i < sizeof shapes / sizeof *shapes; i++) {
        double rows = 0; /* (token, head, row) triples */
        for (uint32_t p = 0; p < shapes[i].window; p++) rows += (double)(shapes[i].ctx + p + 1);
        rows *= (double)shapes[i].n_seq * shapes[i].n_head;
        for (int kind = 0; kind < 4; kind++) {
            static const char *names[] = {"warp (float)", "tile (float, default)", "int8 (HLZ_CUDA_INT8, tile)",
                                          "int8 mma"};
            double t = 0;
            if (hlz_cuda_bench_attention(kind, shapes[i].n_head, shapes[i].n_head_kv, shapes[i].n_seq, shapes[i].window,
                                         shapes[i].ctx, 10, &t) != 0) {
                printf("| %s | %s | CUDA error | |\n", shapes[i].what, names[kind]);
                continue;
            }
            printf("| %s | %s | %.3f | %.2f |\n", shapes[i].what, names[kind], t * 1e3, rows / t * 1e-9);
        }
    }
    return 0;
}

int main(int argc, char **argv)
{
    (void)test_case_name, (void)test_failed_cases, (void)test_case_failed; /* from test.h, unused here */
    if (hlz_cuda_device_count() < 1 && !(argc == 4 && strcmp(argv[1], "model") == 0)) {
        printf("gpu-bench: no usable CUDA GPU\n");
        return 1;
    }
    if (argc == 4 && strcmp(argv[1], "model") == 0) return write_model(argv[2], argv[3]);
    if ((argc == 3 || argc == 4) && strcmp(argv[1], "sweep") == 0)
        return sweep(argv[2], argc == 4 && strcmp(argv[3], "quick") == 0);
    if (argc == 2 && strcmp(argv[1], "matmul") == 0) return matmul();
    if (argc == 2 && strcmp(argv[1], "attention") == 0) return attention();
    fprintf(stderr, "usage: gpu-bench model OUT.gguf smollm2|llama3-8b | sweep MODEL.gguf [quick] | matmul | attention\n");
    return 2;
}
