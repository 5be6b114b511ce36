/* robust_bench.c - what the robust codec costs against the llm codec, on the
 * same model, windows and text: bits per token and per byte for each C and
 * bucket layout asked for, and the bucket statistics behind them.
 *
 *   build/robust-bench MODEL FILE [BYTES] [C,C,...] [RATIO,RATIO,...] [BUCKETS]
 *
 * Defaults: the whole file, C = 1.01,1.1,1.5,2,3.3333, ratio 8, 33 buckets.
 * One line per setting (tab-separated; header first) with the payload size
 * of each bucket code (unary, Huffman, adaptive) and the one hlz picks. The
 * tokens are coded in one chunk of at most 64 MiB; one walk of the model
 * feeds the encoders of every setting (the llm codec's size takes another). */
#include "robust.h"
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int parse_list(const char *s, double *out, int max)
{
    int n = 0;
    while (s && *s && n < max) {
        char *end;
        out[n++] = strtod(s, &end);
        s = *end == ',' ? end + 1 : NULL;
    }
    return n;
}

/* Order-0 entropy of the bucket indices in bits per token: what an ideal
 * static (or adaptive) code of the bucket would spend. */
static double entropy(const hlz_robust_stats *st)
{
    double h = 0;
    for (int k = 0; k < HLZ_ROBUST_BUCKETS_MAX; k++)
        if (st->bucket_count[k]) {
            double q = (double)st->bucket_count[k] / st->tokens;
            h -= q * log2(q);
        }
    return h;
}

typedef struct {
    int count;
    hlz_robust_encoder **enc;
    double *logp;
    uint32_t n_vocab;
} settings;

static void visit(void *ctx, const float *logits, int32_t token, size_t at)
{
    settings *s = ctx;
    (void)at;
    hlz_robust_log_softmax(logits, s->n_vocab, s->logp);
    for (int i = 0; i < s->count; i++) hlz_robust_encoder_put(s->enc[i], logits, s->logp, token);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL FILE [BYTES] [C,...] [RATIO,...] [BUCKETS]\n", argv[0]);
        return 1;
    }
    hlz_model *m;
    hlz_error e;
    if (hlz_model_open(&m, argv[1], &e) != HLZ_OK) return fprintf(stderr, "%s\n", e.message), 1;
    FILE *f = fopen(argv[2], "rb");
    if (!f) return perror(argv[2]), 1;
    size_t limit = argc > 3 ? (size_t)strtoull(argv[3], NULL, 10) : 0;
    if (limit == 0 || limit > ((size_t)64 << 20)) limit = (size_t)64 << 20;
    uint8_t *text = malloc(limit);
    size_t n = fread(text, 1, limit, f);
    fclose(f);
    double cs[16] = {1.01, 1.1, 1.5, 2, 10.0 / 3}, ratios[16] = {8};
    int n_c = argc > 4 ? parse_list(argv[4], cs, 16) : 5, n_r = argc > 5 ? parse_list(argv[5], ratios, 16) : 1;
    int buckets = argc > 6 ? atoi(argv[6]) : 33;
    hlz_llm_params lp;
    hlz_llm_params_default(m, &lp);
    hlz_llm *llm;
    if (hlz_llm_create(m, &lp, &llm, &e) != HLZ_OK) return fprintf(stderr, "%s\n", e.message), 1;
    size_t cap = n * 4 + 4096, coded;
    uint8_t *dst = malloc(cap);
    if (hlz_llm_encode(llm, text, n, dst, cap, &coded, &e) != HLZ_OK) return fprintf(stderr, "llm: %s\n", e.message), 1;
    uint64_t tokens;
    double model_bits;
    hlz_llm_payload_info(dst, coded, &tokens, &model_bits, NULL, &e);
    printf("file\tbytes\ttokens\tcodec\tC\tratio\tbuckets\tbits_per_token\tbpb\tbucket_bits_per_token\t"
           "prefix_bits_per_token\tmodel_bits_per_token\ttop_bucket_share\tbucket_entropy\tcode\t"
           "unary_bits_per_token\thuffman_bits_per_token\tadaptive_bits_per_token\n");
    printf("%s\t%zu\t%llu\tllm\t-\t-\t-\t%.4f\t%.4f\t-\t-\t%.4f\t-\t-\t-\t-\t-\t-\n", argv[2], n,
           (unsigned long long)tokens, 8.0 * coded / tokens, 8.0 * coded / n, model_bits / tokens);
    fflush(stdout);
    int32_t *ids;
    size_t nt;
    unsigned flags;
    if (hlz_llm_tokenize(llm, text, n, &ids, &nt, &flags, &e) != HLZ_OK) return fprintf(stderr, "%s\n", e.message), 1;
    settings s = {.count = n_r * n_c, .n_vocab = hlz_llm_vocab(llm)};
    s.enc = calloc((size_t)s.count, sizeof *s.enc);
    s.logp = malloc(s.n_vocab * sizeof *s.logp);
    for (int r = 0; r < n_r; r++)
        for (int c = 0; c < n_c; c++) {
            hlz_robust_params rp;
            if (hlz_robust_params_default(cs[c], &rp) != 0) return fprintf(stderr, "bad C %g\n", cs[c]), 1;
            rp.ratio = (uint32_t)(ratios[r] * HLZ_ROBUST_ONE + 0.5);
            rp.buckets = (uint8_t)buckets;
            if (hlz_robust_encoder_create(&rp, s.n_vocab, nt, &s.enc[r * n_c + c], &e) != HLZ_OK)
                return fprintf(stderr, "robust: %s\n", e.message), 1;
        }
    if (hlz_llm_walk_encode(llm, ids, nt, visit, &s, &e) != HLZ_OK) return fprintf(stderr, "%s\n", e.message), 1;
    static const char *const names[] = {"unary", "huffman", "adaptive"};
    for (int r = 0; r < n_r; r++)
        for (int c = 0; c < n_c; c++) {
            hlz_robust_stats st;
            if (hlz_robust_encoder_finish(s.enc[r * n_c + c], flags, dst, cap, &coded, &st, &e) != HLZ_OK)
                return fprintf(stderr, "robust: %s\n", e.message), 1;
            printf("%s\t%zu\t%llu\trobust\t%.4g\t%.4g\t%d\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%s", argv[2], n,
                   (unsigned long long)st.tokens, cs[c], ratios[r], buckets, 8.0 * coded / st.tokens,
                   8.0 * coded / n, (double)st.bucket_bits / st.tokens, (double)st.prefix_bits / st.tokens,
                   st.model_bits / st.tokens, (double)st.bucket_count[0] / st.tokens, entropy(&st), names[st.code]);
            for (int k = 0; k < HLZ_ROBUST_CODE_COUNT; k++) printf("\t%.4f", 8.0 * st.code_bytes[k] / st.tokens);
            printf("\n");
            hlz_robust_encoder_free(s.enc[r * n_c + c]);
        }
    hlz_llm_free(llm);
    hlz_model_free(m);
    free(text), free(dst), free(ids), free(s.enc), free(s.logp);
    return 0;
}
