/*
 * hlz-lm.c - a small tool for people who inspect models:
 *
 *   hlz-lm info MODEL                 hyperparameters, tokenizer, fingerprint, tensor types
 *   hlz-lm tokenize MODEL [FILE]      ids on one line (FILE or stdin; vocabulary-only GGUFs too)
 *   hlz-lm detokenize MODEL           ids on stdin, bytes on stdout
 *   hlz-lm generate MODEL N [PROMPT]  greedy continuation of BOS (+ PROMPT): N new tokens as text
 *   hlz-lm score MODEL [FILE] [--prime N]  tokens, bits under the engine's probabilities, bits per
 *                                     byte (N: 1 BOS only, 2 BOS and the priming text; default 2)
 */
#include "llm.h"
#include "model.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fail(const char *what, const char *why)
{
    fprintf(stderr, "hlz-lm: %s: %s\n", what, why);
    return 1;
}

static unsigned char *read_all(FILE *f, size_t *size)
{
    size_t cap = 1 << 16, n = 0;
    unsigned char *buf = malloc(cap);
    while (buf) {
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
        if (n == cap) {
            unsigned char *grown = realloc(buf, cap *= 2);
            if (!grown) { free(buf); return NULL; }
            buf = grown;
        }
    }
    if (buf && ferror(f)) { free(buf); return NULL; }
    *size = n;
    return buf;
}

static unsigned char *read_input(const char *path, size_t *size)
{
    FILE *f = path ? fopen(path, "rb") : stdin;
    if (!f) return NULL;
    unsigned char *buf = read_all(f, size);
    if (path) fclose(f);
    return buf;
}

/* Tokenizer-only commands open the GGUF without preparing weights. */
static int with_tokenizer(const char *path, hlz_gguf *g, hlz_tokenizer **tok)
{
    hlz_error e = {0};
    if (hlz_gguf_open(g, path, &e) != HLZ_OK) return fail(path, e.message);
    if (hlz_tokenizer_from_gguf(g, HLZ_TOKENIZER_MAX_TOKENS, tok, &e) != HLZ_OK) return fail(path, e.message);
    if (!*tok) return fail(path, "the file has no tokenizer");
    return 0;
}

static int cmd_tokenize(const char *model, const char *file)
{
    hlz_gguf g = {0};
    hlz_tokenizer *tok = NULL;
    int rc = with_tokenizer(model, &g, &tok);
    size_t size;
    unsigned char *text = rc ? NULL : read_input(file, &size);
    if (!rc && !text) rc = fail(file ? file : "(stdin)", strerror(errno));
    if (!rc) {
        size_t cap = hlz_tokenizer_encode_bound(size), n;
        int32_t *ids = malloc(cap * sizeof *ids);
        hlz_error e = {0};
        if (!ids || hlz_tokenizer_encode(tok, text, size, ids, cap, &n, &e) != HLZ_OK) rc = fail(model, ids ? e.message : "out of memory");
        for (size_t i = 0; !rc && i < n; i++) printf(i ? " %d" : "%d", (int)ids[i]);
        if (!rc) printf("\n");
        free(ids);
    }
    free(text);
    hlz_tokenizer_free(tok);
    hlz_gguf_close(&g);
    return rc;
}

static int cmd_detokenize(const char *model)
{
    hlz_gguf g = {0};
    hlz_tokenizer *tok = NULL;
    int rc = with_tokenizer(model, &g, &tok);
    size_t n = 0, cap = 1024;
    int32_t *ids = malloc(cap * sizeof *ids);
    long v;
    while (!rc && ids && scanf("%ld", &v) == 1) {
        if (v < 0 || v > INT32_MAX) { rc = fail("(stdin)", "ids must be non-negative integers"); break; }
        if (n == cap) {
            int32_t *grown = realloc(ids, (cap *= 2) * sizeof *ids);
            if (!grown) break;
            ids = grown;
        }
        ids[n++] = (int32_t)v;
    }
    if (!rc && !feof(stdin)) rc = fail("(stdin)", "expected ids: integers separated by white space");
    if (!rc) {
        size_t size;
        hlz_error e = {0};
        hlz_tokenizer_decode(tok, ids, n, NULL, 0, &size, &e);
        unsigned char *out = malloc(size + 1);
        if (!out || hlz_tokenizer_decode(tok, ids, n, out, size, &size, &e) != HLZ_OK) rc = fail(model, out ? e.message : "out of memory");
        else fwrite(out, 1, size, stdout);
        free(out);
    }
    free(ids);
    hlz_tokenizer_free(tok);
    hlz_gguf_close(&g);
    return rc;
}

static int cmd_info(const char *path)
{
    hlz_model *m;
    hlz_error e = {0};
    if (hlz_model_open(&m, path, &e) != HLZ_OK) return fail(path, e.message);
    hlz_model_info i;
    hlz_model_get_info(m, &i);
    char fp[33];
    hlz_fingerprint_hex(i.fingerprint, fp);
    printf("file:          %s\nname:          %s\narchitecture:  %s\nparameters:    %llu\n", path,
           i.name[0] ? i.name : "(none)", i.architecture, (unsigned long long)i.n_params);
    printf("width:         %u\nlayers:        %u\nheads:         %u (%u key/value)\nhead size:     %u\n", i.n_embd,
           i.n_layer, i.n_head, i.n_head_kv, m->config.head_dim);
    printf("feed-forward:  %u\nvocabulary:    %u\ncontext:       %u\nrope base:     %g%s\nnorm epsilon:  %g\n",
           i.n_ff, i.n_vocab, i.n_ctx, (double)m->config.rope_base,
           hlz_gguf_find_tensor(&m->file, "rope_freqs.weight") ? " (with frequency factors)" : "",
           (double)m->config.rms_eps);
    if (m->tok)
        printf("tokenizer:     %s, %u tokens, pre-tokenizer %s, bos %d, eos %d\n",
               hlz_tokenizer_model(m->tok) == HLZ_TOK_MODEL_GPT2 ? "byte-level BPE (gpt2)" : "SentencePiece BPE (llama)",
               hlz_tokenizer_n_tokens(m->tok), hlz_tok_pre_name(hlz_tokenizer_pre(m->tok)),
               (int)hlz_tokenizer_bos(m->tok), (int)hlz_tokenizer_eos(m->tok));
    else
        printf("tokenizer:     none\n");
    uint64_t count[HLZ_GGML_TYPE_COUNT] = {0};
    for (uint64_t t = 0; t < m->file.tensor_count; t++) count[m->file.tensors[t].type]++;
    printf("tensors:      ");
    for (int t = 0; t < HLZ_GGML_TYPE_COUNT; t++)
        if (count[t]) printf(" %s %llu", hlz_ggml_type_name((uint32_t)t), (unsigned long long)count[t]);
    printf("\nfingerprint:   %s\nkernels:       %s\n", fp, i.kernels);
    hlz_model_free(m);
    return 0;
}

static int cmd_generate(const char *path, long n_new, const char *prompt)
{
    hlz_model *m;
    hlz_error e = {0};
    if (n_new < 0) return fail("N", "must be a count of tokens");
    if (hlz_model_open(&m, path, &e) != HLZ_OK) return fail(path, e.message);
    int rc = 0;
    int32_t *prompt_ids = NULL;
    size_t n_prompt = 0;
    if (prompt && hlz_model_tokenize(m, (const uint8_t *)prompt, strlen(prompt), &prompt_ids, &n_prompt, &e) != HLZ_OK)
        rc = fail(path, e.message);
    uint32_t n_ctx = m->config.n_ctx, V = m->config.n_vocab;
    int32_t *ids = malloc((n_ctx + 1) * sizeof *ids);
    float *logits = malloc((size_t)(n_prompt + 1) * V * sizeof *logits);
    hlz_session *s = NULL;
    size_t n = 0;
    if (!rc && (!ids || !logits)) rc = fail(path, "out of memory");
    if (!rc && hlz_session_create(m, n_ctx, &s, &e) != HLZ_OK) rc = fail(path, e.message);
    if (!rc) {
        if (hlz_model_bos(m) >= 0) ids[n++] = hlz_model_bos(m);
        for (size_t i = 0; i < n_prompt && n < n_ctx; i++) ids[n++] = prompt_ids[i];
        if (n == 0) rc = fail(path, "give a prompt: the model has no BOS token");
    }
    size_t first_new = n;
    const float *last = NULL;
    if (!rc && hlz_model_eval(m, s, ids, n, logits, &e) != HLZ_OK) rc = fail(path, e.message);
    last = logits + (n - 1) * (size_t)V;
    for (long k = 0; !rc && k < n_new && n < n_ctx; k++) {
        int32_t best = 0;
        for (uint32_t j = 1; j < V; j++) best = last[j] > last[best] ? (int32_t)j : best;
        ids[n++] = best;
        if (k + 1 < n_new && n < n_ctx) {
            if (hlz_model_eval(m, s, &ids[n - 1], 1, logits, &e) != HLZ_OK) rc = fail(path, e.message);
            last = logits;
        }
    }
    if (!rc) {
        uint8_t *text;
        size_t size;
        if (hlz_model_detokenize(m, ids + first_new, n - first_new, &text, &size, &e) != HLZ_OK) rc = fail(path, e.message);
        else fwrite(text, 1, size, stdout), printf("\n"), free(text);
    }
    hlz_session_free(s);
    free(ids), free(logits), free(prompt_ids);
    hlz_model_free(m);
    return rc;
}

static int cmd_score(const char *path, const char *file, int prime)
{
    hlz_model *m;
    hlz_error e = {0};
    if (hlz_model_open(&m, path, &e) != HLZ_OK) return fail(path, e.message);
    size_t size;
    unsigned char *text = read_input(file, &size);
    int rc = text ? 0 : fail(file ? file : "(stdin)", strerror(errno));
    hlz_llm *llm = NULL;
    hlz_llm_params p;
    hlz_llm_params_default(m, &p);
    if (prime) p.prime = (uint8_t)prime;
    if (!rc && size == 0) rc = fail(file ? file : "(stdin)", "empty input");
    if (!rc && hlz_llm_create(m, &p, &llm, &e) != HLZ_OK) rc = fail(path, e.message);
    size_t cap = size * 2 + 1024, coded;
    unsigned char *out = rc ? NULL : malloc(cap);
    if (!rc && !out) rc = fail(path, "out of memory");
    if (!rc && hlz_llm_encode(llm, text, size, out, cap, &coded, &e) != HLZ_OK) rc = fail(path, e.message);
    if (!rc) {
        uint64_t tokens;
        double bits;
        hlz_llm_payload_info(out, coded, &tokens, &bits, NULL, &e);
        printf("bytes %zu\ntokens %llu\nbits %.1f\nbits per token %.4f\nbits per byte %.4f\n"
               "coded bytes %zu (bits per byte %.4f, %+.2f%% against the model)\n",
               size, (unsigned long long)tokens, bits, bits / (double)tokens, bits / (double)size, coded,
               8.0 * coded / (double)size, 100 * (8.0 * coded / bits - 1));
    }
    free(out), free(text);
    hlz_llm_free(llm);
    hlz_model_free(m);
    return rc;
}

static void usage(FILE *f)
{
    fprintf(f, "Usage: hlz-lm info MODEL\n"
               "       hlz-lm tokenize MODEL [FILE]\n"
               "       hlz-lm detokenize MODEL < IDS\n"
               "       hlz-lm generate MODEL N [PROMPT]\n"
               "       hlz-lm score MODEL [FILE] [--prime 1|2]\n");
}

int main(int argc, char **argv)
{
    if (argc >= 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) { usage(stdout); return 0; }
    if (argc < 3) { usage(stderr); return 1; }
    const char *cmd = argv[1], *model = argv[2];
    if (!strcmp(cmd, "info") && argc == 3) return cmd_info(model);
    if (!strcmp(cmd, "tokenize") && argc <= 4) return cmd_tokenize(model, argc == 4 ? argv[3] : NULL);
    if (!strcmp(cmd, "detokenize") && argc == 3) return cmd_detokenize(model);
    if (!strcmp(cmd, "generate") && (argc == 4 || argc == 5)) {
        char *end;
        long n = strtol(argv[3], &end, 10);
        if (*end || end == argv[3]) return fail(argv[3], "N must be a number of tokens");
        return cmd_generate(model, n, argc == 5 ? argv[4] : NULL);
    }
    if (!strcmp(cmd, "score") && argc <= 6) {
        int prime = 0;
        if (argc >= 5 && !strcmp(argv[argc - 2], "--prime")) prime = atoi(argv[argc - 1]), argc -= 2;
        if (argc <= 4) return cmd_score(model, argc == 4 ? argv[3] : NULL, prime);
    }
    usage(stderr);
    return 1;
}
