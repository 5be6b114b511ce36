/* test_model.c - the forward pass: bit-identical logits for every thread
 * count, SIMD level, prefill split and session reuse; golden hashes that pin
 * the arithmetic; clear errors for malformed models; stories260K greedy text. */
#include "model.h"
#include "model_util.h"

static const test_model_shape llama_shape = {"llama", 64, 2, 4, 2, 96, 300, 64, HLZ_GGML_F32, 1};
static const test_model_shape qwen_shape = {"qwen2", 96, 2, 6, 2, 160, 257, 64, HLZ_GGML_Q8_0, 2};

#define N_TOKENS 37


static void tokens_for(const hlz_model *m, int32_t *t)
{
    for (int i = 0; i < N_TOKENS; i++) t[i] = (int32_t)((i * 7919u + 13u) % m->config.n_vocab);
}

/* Logits of N_TOKENS evaluated in pieces of `step` tokens (0: all at once). */
static float *run(hlz_model *m, int threads, const hlz_kernels *k, size_t step)
{
    int32_t t[N_TOKENS];
    tokens_for(m, t);
    hlz_model_set_threads(m, threads);
    m->kernels = k;
    hlz_session *s;
    hlz_error e;
    if (hlz_session_create(m, 64, &s, &e) != HLZ_OK) return NULL;
    float *logits = malloc((size_t)N_TOKENS * m->config.n_vocab * sizeof *logits);
    size_t done = 0;
    while (done < N_TOKENS) {
        size_t n = step ? step : N_TOKENS;
        if (n > N_TOKENS - done) n = N_TOKENS - done;
        if (hlz_model_eval(m, s, t + done, n, logits + done * m->config.n_vocab, &e) != HLZ_OK) {
            printf("# eval: %s\n", e.message);
            free(logits);
            logits = NULL;
            break;
        }
        done += n;
    }
    hlz_session_free(s);
    return logits;
}

static int same(const float *a, const float *b, size_t n) { return memcmp(a, b, n * sizeof *a) == 0; }

static void check_invariance(const test_model_shape *sh)
{
    uint8_t *bytes;
    hlz_model *m = tm_open(sh, &bytes);
    CHECK(m != NULL);
    size_t n = (size_t)N_TOKENS * m->config.n_vocab;
    float *ref = run(m, 1, &hlz_kernels_ref, 0);
    CHECK(ref != NULL);
    const hlz_kernels *sets[8];
    size_t count = hlz_kernels_available(sets, 8);
    for (size_t k = 0; k < count; k++)
        for (int threads = 1; threads <= 3; threads++) {
            size_t steps[] = {0, 1, 5};
            for (int s = 0; s < 3; s++) {
                float *got = run(m, threads, sets[k], steps[s]);
                int ok = got && same(got, ref, n);
                free(got);
                CHECK_MSG(ok, "%s: %s, %d threads, pieces of %zu differ", sh->arch, sets[k]->name, threads, steps[s]);
            }
        }
    /* Logits are finite and not all equal: the test would catch a dead model. */
    int varied = 0;
    for (size_t i = 0; i < n; i++) {
        CHECK(ref[i] == ref[i] && ref[i] > -1e30f && ref[i] < 1e30f);
        varied |= ref[i] != ref[0];
    }
    CHECK(varied);
    free(ref);
    hlz_model_free(m);
    free(bytes);
}

static void llama_bit_identical_everywhere(void) { check_invariance(&llama_shape); }
static void qwen2_bit_identical_everywhere(void) { check_invariance(&qwen_shape); }

static void session_copy_continues_identically(void)
{
    uint8_t *bytes;
    hlz_model *m = tm_open(&llama_shape, &bytes);
    CHECK(m != NULL);
    int32_t t[N_TOKENS];
    tokens_for(m, t);
    hlz_session *a, *b;
    hlz_error e;
    CHECK(hlz_session_create(m, 64, &a, &e) == HLZ_OK && hlz_session_create(m, 64, &b, &e) == HLZ_OK);
    size_t v = m->config.n_vocab;
    float *la = malloc(N_TOKENS * v * 4), *lb = malloc(N_TOKENS * v * 4);
    CHECK(hlz_model_eval(m, a, t, 10, NULL, &e) == HLZ_OK);
    CHECK(hlz_session_copy(m, b, a, &e) == HLZ_OK && b->n_past == 10);
    CHECK(hlz_model_eval(m, a, t + 10, N_TOKENS - 10, la, &e) == HLZ_OK);
    CHECK(hlz_model_eval(m, b, t + 10, N_TOKENS - 10, lb, &e) == HLZ_OK);
    CHECK(same(la, lb, (N_TOKENS - 10) * v));
    /* A full session refuses more tokens instead of overrunning. */
    CHECK(hlz_model_eval(m, a, t, 64 - N_TOKENS + 1, NULL, &e) == HLZ_ERR_PARAM);
    int32_t bad = (int32_t)v;
    CHECK(hlz_model_eval(m, b, &bad, 1, NULL, &e) == HLZ_ERR_PARAM && strstr(e.message, "vocabulary"));
    free(la), free(lb);
    hlz_session_free(a), hlz_session_free(b);
    hlz_model_free(m);
    free(bytes);
}

/* Independent sequences in one batch give exactly what each gives alone,
 * whatever their positions and lengths. */
static void batch_of_sequences_matches_singles(void)
{
    const test_model_shape *shapes[] = {&llama_shape, &qwen_shape};
    for (int sh = 0; sh < 2; sh++) {
        uint8_t *bytes;
        hlz_model *m = tm_open(shapes[sh], &bytes);
        CHECK(m != NULL);
        hlz_model_set_threads(m, 2);
        int32_t t[N_TOKENS];
        tokens_for(m, t);
        size_t v = m->config.n_vocab, pre[3] = {0, 5, 11}, cnt[3] = {7, 1, 13}, total = 21;
        hlz_session *a[3], *b[3];
        hlz_error e;
        for (int i = 0; i < 3; i++) {
            CHECK(hlz_session_create(m, 64, &a[i], &e) == HLZ_OK && hlz_session_create(m, 64, &b[i], &e) == HLZ_OK);
            CHECK(hlz_model_eval(m, a[i], t + 20, pre[i], NULL, &e) == HLZ_OK);
            CHECK(hlz_model_eval(m, b[i], t + 20, pre[i], NULL, &e) == HLZ_OK);
        }
        float *batch = malloc(total * v * 4), *single = malloc(total * v * 4);
        const int32_t *toks[3] = {t, t + 3, t + 9};
        CHECK(hlz_model_eval_batch(m, a, toks, cnt, 3, batch, &e) == HLZ_OK);
        size_t at = 0;
        for (int i = 0; i < 3; i++) {
            CHECK(hlz_model_eval(m, b[i], toks[i], cnt[i], single + at * v, &e) == HLZ_OK);
            at += cnt[i];
        }
        CHECK_MSG(same(batch, single, total * v), "%s: batch differs from singles", shapes[sh]->arch);
        hlz_session *twice[2] = {a[0], a[0]};
        CHECK(hlz_model_eval_batch(m, twice, toks, cnt, 2, batch, &e) == HLZ_ERR_PARAM && strstr(e.message, "twice"));
        /* a repeat apart is one too; the sessions of earlier calls are not */
        hlz_session *apart[3] = {a[1], a[2], a[1]}, *again[2] = {a[2], a[1]};
        CHECK(hlz_model_eval_batch(m, apart, toks, cnt, 3, batch, &e) == HLZ_ERR_PARAM && strstr(e.message, "twice"));
        size_t ones[2] = {1, 1};
        CHECK_MSG(hlz_model_eval_batch(m, again, toks, ones, 2, batch, &e) == HLZ_OK, "%s", e.message);
        for (int i = 0; i < 3; i++) hlz_session_free(a[i]), hlz_session_free(b[i]);
        free(batch), free(single);
        hlz_model_free(m);
        free(bytes);
    }
}

static unsigned long long hash_floats(const float *x, size_t n)
{
    return (unsigned long long)hlz_checksum64(x, n * sizeof *x, 0);
}

/* The bits of the logits are part of the archive format once the llm codec
 * codes with them: a change here needs a format version bump. */
static void golden_logits(void)
{
    const test_model_shape *shapes[] = {&llama_shape, &qwen_shape};
    const unsigned long long golden[] = {0xf5eb1cdd0c6aa16full, 0x86f3b00bafbf7cd6ull};
    for (int i = 0; i < 2; i++) {
        uint8_t *bytes;
        hlz_model *m = tm_open(shapes[i], &bytes);
        CHECK(m != NULL);
        float *l = run(m, 2, hlz_kernels_best(), 0);
        CHECK(l != NULL);
        unsigned long long h = hash_floats(l, (size_t)N_TOKENS * m->config.n_vocab);
        free(l);
        hlz_model_free(m);
        free(bytes);
        printf("# %s logits hash %016llx\n", shapes[i]->arch, h);
        CHECK_MSG(h == golden[i], "%s logits hash %016llx", shapes[i]->arch, h);
    }
}

static void weight_types_agree(void)
{
    /* F16 and BF16 weights are converted to Q8_0 at load: the model runs and stays finite. */
    uint32_t types[] = {HLZ_GGML_F16, HLZ_GGML_BF16};
    for (int i = 0; i < 2; i++) {
        test_model_shape sh = llama_shape;
        sh.type = types[i];
        uint8_t *bytes;
        hlz_model *m = tm_open(&sh, &bytes);
        CHECK(m != NULL);
        float *l = run(m, 1, &hlz_kernels_ref, 0);
        CHECK(l != NULL && l[0] == l[0]);
        free(l);
        hlz_model_free(m);
        free(bytes);
    }
}

static void malformed_models_are_refused(void)
{
    uint8_t *bytes;
    size_t size;
    test_model_shape sh = llama_shape;
    sh.arch = "gpt2";
    CHECK(tm_build(&sh, &bytes, &size) == 0);
    hlz_model *m;
    hlz_error e;
    CHECK(hlz_model_open_memory(&m, bytes, size, &e) == HLZ_ERR_MODEL && strstr(e.message, "unsupported architecture"));
    free(bytes);
    /* Every truncation of a model file is an error, never a crash. */
    sh = llama_shape;
    sh.n_layer = 1;
    sh.n_vocab = 40;
    CHECK(tm_build(&sh, &bytes, &size) == 0);
    for (size_t cut = 0; cut < size; cut += 1 + cut / 64) {
        uint8_t *copy = malloc(cut ? cut : 1);
        memcpy(copy, bytes, cut);
        hlz_status st = hlz_model_open_memory(&m, copy, cut, &e);
        free(copy);
        CHECK_MSG(st != HLZ_OK, "model cut to %zu of %zu bytes opened", cut, size);
    }
    free(bytes);
}

static void stories260k_greedy_text(void)
{
    const char *dir = getenv("HLZ_SHARED_DIR") ? getenv("HLZ_SHARED_DIR") : "../shared";
    char ckpt[4096], tok[4096], cmd[16384];
    snprintf(ckpt, sizeof ckpt, "%s/models/stories260K/stories260K.bin", dir);
    snprintf(tok, sizeof tok, "%s/models/stories260K/tok512.bin", dir);
    FILE *f = fopen(ckpt, "rb");
    if (!f) SKIP("../shared/models/stories260K is absent");
    fclose(f);
    const char *convert = getenv("HLZ_CONVERT") ? getenv("HLZ_CONVERT") : "build/hlz-convert";
    char out[] = "/tmp/hlz-test-s260k-XXXXXX";
    int fd = mkstemp(out);
    CHECK(fd >= 0);
    close(fd);
    snprintf(cmd, sizeof cmd, "%s llama2c '%s' '%s' '%s' --name stories260K", convert, ckpt, tok, out);
    CHECK_MSG(system(cmd) == 0, "%s failed", cmd);
    hlz_model *m;
    hlz_error e;
    hlz_status st = hlz_model_open(&m, out, &e);
    unlink(out);
    CHECK_MSG(st == HLZ_OK, "%s", e.message);
    hlz_session *s;
    CHECK(hlz_session_create(m, m->config.n_ctx, &s, &e) == HLZ_OK);
    const hlz_gguf_kv *pieces = hlz_gguf_find(&m->file, "tokenizer.ggml.tokens");
    CHECK(pieces != NULL);
    char text[4096];
    size_t len = 0;
    float *logits = malloc(m->config.n_vocab * sizeof *logits);
    int32_t token = 1; /* BOS */
    for (int i = 0; i < 60; i++) {
        CHECK(hlz_model_eval(m, s, &token, 1, logits, &e) == HLZ_OK);
        int32_t best = 0;
        for (uint32_t j = 1; j < m->config.n_vocab; j++) best = logits[j] > logits[best] ? (int32_t)j : best;
        hlz_gguf_str p = hlz_gguf_kv_string(pieces, (uint64_t)best);
        for (size_t k = 0; k < p.size && len < sizeof text - 1; k++) {
            if (k + 2 < p.size && memcmp(p.data + k, "\xe2\x96\x81", 3) == 0) text[len++] = ' ', k += 2;
            else text[len++] = p.data[k];
        }
        token = best;
    }
    text[len] = '\0';
    free(logits);
    hlz_session_free(s);
    hlz_model_free(m);
    const char *expect = " Once upon a time, there was a little girl named Lily. She loved to play outside in the "
                         "park. One day, she saw a big, red ball. She wanted to play with it, but it was too high";
    CHECK_MSG(strcmp(text, expect) == 0, "generated: %s", text);
}

int main(void)
{
    RUN(llama_bit_identical_everywhere);
    RUN(qwen2_bit_identical_everywhere);
    RUN(session_copy_continues_identically);
    RUN(batch_of_sequences_matches_singles);
    RUN(golden_logits);
    RUN(weight_types_agree);
    RUN(malformed_models_are_refused);
    RUN(stories260k_greedy_text);
    TEST_MAIN_END();
}
