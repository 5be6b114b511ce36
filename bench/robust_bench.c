/* robust_bench.c - what the robust codec costs against the llm codec, on the
 * same model, windows and text: bits per token and per byte for each C and
 * bucket layout asked for, and the bucket statistics behind them.
 *
 *   build/robust-bench MODEL FILE [BYTES] [C,C,...] [RATIO,RATIO,...] [BUCKETS]
 *
 * Defaults: the whole file, C = 1.01,1.1,1.5,2,3.3333, ratio 8, 33 buckets,
 * the bucket code chosen per chunk ($ROBUST_CODE=unary or huffman forces one).
 * One line per setting (tab-separated; header first). The tokens are coded in
 * one chunk of at most 64 MiB, the way hlz codes a chunk. */
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
           "prefix_bits_per_token\tmodel_bits_per_token\ttop_bucket_share\tbucket_entropy\tcode\n");
    printf("%s\t%zu\t%llu\tllm\t-\t-\t-\t%.4f\t%.4f\t-\t-\t%.4f\t-\t-\t-\n", argv[2], n, (unsigned long long)tokens,
           8.0 * coded / tokens, 8.0 * coded / n, model_bits / tokens);
    fflush(stdout);
    for (int r = 0; r < n_r; r++)
        for (int c = 0; c < n_c; c++) {
            hlz_robust_params rp;
            if (hlz_robust_params_default(cs[c], &rp) != 0) return fprintf(stderr, "bad C %g\n", cs[c]), 1;
            rp.ratio = (uint32_t)(ratios[r] * HLZ_ROBUST_ONE + 0.5);
            rp.buckets = (uint8_t)buckets;
            const char *code = getenv("ROBUST_CODE");
            if (code) rp.code = strcmp(code, "unary") == 0 ? HLZ_ROBUST_CODE_UNARY : HLZ_ROBUST_CODE_HUFFMAN;
            hlz_robust_stats st;
            if (hlz_robust_encode(llm, &rp, text, n, dst, cap, &coded, &st, &e) != HLZ_OK)
                return fprintf(stderr, "robust: %s\n", e.message), 1;
            printf("%s\t%zu\t%llu\trobust\t%.4g\t%.4g\t%d\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%.4f\t%s\n", argv[2], n,
                   (unsigned long long)st.tokens, cs[c], ratios[r], buckets, 8.0 * coded / st.tokens,
                   8.0 * coded / n, (double)st.bucket_bits / st.tokens, (double)st.prefix_bits / st.tokens,
                   st.model_bits / st.tokens, (double)st.bucket_count[0] / st.tokens, entropy(&st),
                   st.code == HLZ_ROBUST_CODE_HUFFMAN ? "huffman" : "unary");
            fflush(stdout);
        }
    hlz_llm_free(llm);
    hlz_model_free(m);
    free(text), free(dst);
    return 0;
}
