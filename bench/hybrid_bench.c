/* hybrid_bench.c - what each online model of the hybrid predictor gains,
 * from one evaluation of the language model.
 *
 *   build/hybrid-bench MODEL FILE [BYTES] [DEVICE] [THREADS]
 *
 * Tokenizes the first BYTES of FILE (default: all, at most 64 MiB) as one
 * llm chunk, keeps the model's frequency table of every token (n_vocab
 * 32-bit entries each: mind the memory), then replays the hybrid coder with
 * the parts of each --mix level: none, match, context, full. The size of a
 * level is the exact code length of its rANS symbols, sum of 28 - log2(freq)
 * bits (hlz adds about 8 bytes of stream state and the payload header).
 * One tab-separated line per level, header first. DEVICE: cpu (default),
 * cuda or auto. With $HLZ_TABLE_CACHE set to a file name, the tables are
 * read from it when it exists (for the same file and model) and written to
 * it otherwise, so that tuning the online models needs no model evaluation. */
#include "hybrid.h"
#include "llm.h"
#include "model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct {
    uint32_t n_vocab;
    uint32_t *tables; /* [token][n_vocab] */
    double model_bits;
} store;

static void keep(void *context, const float *logits, int32_t token, size_t at)
{
    store *s = context;
    hlz_freq_from_logits(logits, s->n_vocab, s->tables + at * s->n_vocab);
    s->model_bits += hlz_llm_token_bits(logits, s->n_vocab, token);
}

static double seconds(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL FILE [BYTES] [DEVICE] [THREADS]\n", argv[0]);
        return 1;
    }
    hlz_model *m;
    hlz_error e;
    if (hlz_model_open(&m, argv[1], &e) != HLZ_OK) return fprintf(stderr, "%s\n", e.message), 1;
    const char *name = argc > 4 ? argv[4] : "cpu";
    hlz_device device = strcmp(name, "cuda") == 0 ? HLZ_DEVICE_CUDA : strcmp(name, "auto") == 0 ? HLZ_DEVICE_AUTO : HLZ_DEVICE_CPU;
    if (hlz_model_set_device(m, device, &e) != HLZ_OK) return fprintf(stderr, "%s\n", e.message), 1;
    hlz_model_set_threads(m, argc > 5 ? atoi(argv[5]) : 1);
    FILE *f = fopen(argv[2], "rb");
    if (!f) return perror(argv[2]), 1;
    size_t limit = argc > 3 ? (size_t)strtoull(argv[3], NULL, 10) : 0;
    if (limit == 0 || limit > ((size_t)64 << 20)) limit = (size_t)64 << 20;
    uint8_t *text = malloc(limit);
    size_t bytes = fread(text, 1, limit, f);
    fclose(f);

    hlz_llm_params params;
    hlz_llm_params_default(m, &params);
    hlz_llm *llm;
    if (hlz_llm_create(m, &params, &llm, &e) != HLZ_OK) return fprintf(stderr, "%s\n", e.message), 1;
    int32_t *ids;
    size_t n;
    unsigned flags;
    if (hlz_llm_tokenize(llm, text, bytes, &ids, &n, &flags, &e) != HLZ_OK) return fprintf(stderr, "%s\n", e.message), 1;
    store s = {.n_vocab = hlz_llm_vocab(llm)};
    s.tables = malloc(n * (size_t)s.n_vocab * sizeof *s.tables);
    uint32_t *scratch = malloc(s.n_vocab * sizeof *scratch);
    if (!s.tables || !scratch) return fprintf(stderr, "out of memory for %zu tables\n", n), 1;
    double t0 = seconds();
    const char *cache = getenv("HLZ_TABLE_CACHE");
    FILE *c = cache ? fopen(cache, "rb") : NULL;
    if (c) {
        size_t want = n * (size_t)s.n_vocab;
        if (fread(&s.model_bits, sizeof s.model_bits, 1, c) != 1 || fread(s.tables, sizeof *s.tables, want, c) != want)
            return fprintf(stderr, "%s: short cache\n", cache), 1;
        fclose(c);
    } else {
        if (hlz_llm_walk_encode(llm, ids, n, keep, &s, &e) != HLZ_OK) return fprintf(stderr, "%s\n", e.message), 1;
        if (cache && (c = fopen(cache, "wb")) != NULL) {
            fwrite(&s.model_bits, sizeof s.model_bits, 1, c);
            fwrite(s.tables, sizeof *s.tables, n * (size_t)s.n_vocab, c);
            fclose(c);
        }
    }
    double t_model = seconds() - t0;

    printf("file\tbytes\ttokens\tmix\tbits_per_byte\tgain_vs_none\tmodel_float_bpb\tmodel_s\tmix_s\n");
    static const char *const levels[] = {"none", "match", "context", "full"};
    double none_bits = 0;
    for (int level = 0; level < 4; level++) {
        hlz_hybrid *h;
        if (hlz_hybrid_create((unsigned)hlz_mix_from_name(levels[level]), s.n_vocab, n, &h, &e) != HLZ_OK)
            return fprintf(stderr, "%s\n", e.message), 1;
        double bits = 0;
        t0 = seconds();
        for (size_t i = 0; i < n; i++) {
            hlz_symbol sym[HLZ_HYBRID_SYMBOLS];
            memcpy(scratch, s.tables + i * s.n_vocab, s.n_vocab * sizeof *scratch);
            size_t k = hlz_hybrid_encode(h, scratch, ids[i], sym);
            for (size_t j = 0; j < k; j++) bits += HLZ_FREQ_BITS - log2((double)sym[j].freq);
        }
        double t_mix = seconds() - t0;
        hlz_hybrid_free(h);
        if (level == 0) none_bits = bits;
        printf("%s\t%zu\t%zu\t%s\t%.4f\t%+.2f%%\t%.4f\t%.2f\t%.2f\n", argv[2], bytes, n, levels[level], bits / bytes,
               100 * (bits / none_bits - 1), s.model_bits / bytes, t_model, t_mix);
    }
    free(s.tables), free(scratch), free(ids), free(text);
    hlz_llm_free(llm);
    hlz_model_free(m);
    return 0;
}
