/* test_llm.c - the llm codec: round trips through small random models with
 * a byte-level tokenizer, window and carry edges, archives that name their
 * model, thread invariance, wrong and missing models, damaged streams. */
#include "archive_util.h"
#include "llm.h"
#include "model.h"
#include "model_util.h"

static const test_model_shape shape = {"llama", 64, 2, 4, 2, 96, 300, 128, HLZ_GGML_Q8_0, 11};


static const char *texts[] = {
    "a",
    "the quick brown fox jumps over the lazy dog\n",
    "\xff\xfe invalid \xc3 utf-8 \x80\x80 and NUL \0 inside",
};

static void codec_round_trips(void)
{
    uint8_t *bytes;
    hlz_model *m = tm_open(&shape, &bytes);
    CHECK(m != NULL);
    /* windows: one token, small with and without carry, and the default */
    hlz_llm_params ps[4] = {{HLZ_PRIME_BOS, 1, 0}, {HLZ_PRIME_TEXT, 7, 0}, {HLZ_PRIME_TEXT, 9, 4}, {0, 0, 0}};
    hlz_llm_params_default(m, &ps[3]);
    uint8_t long_text[3000];
    for (size_t i = 0; i < sizeof long_text; i++) long_text[i] = (uint8_t)("lorem ipsum dolor sit amet, "[i % 28] ^ (i % 97 == 0));
    for (int p = 0; p < 4; p++) {
        hlz_llm *llm;
        hlz_error e;
        CHECK_MSG(hlz_llm_create(m, &ps[p], &llm, &e) == HLZ_OK, "%s", e.message);
        for (int t = 0; t < 4; t++) {
            const uint8_t *src = t < 3 ? (const uint8_t *)texts[t] : long_text;
            size_t n = t < 3 ? strlen(texts[t]) + (t == 2 ? 9 : 0) : sizeof long_text;
            size_t cap = n * 4 + 64, coded;
            uint8_t *dst = malloc(cap), *back = malloc(n);
            CHECK_MSG(hlz_llm_encode(llm, src, n, dst, cap, &coded, &e) == HLZ_OK, "encode: %s", e.message);
            CHECK_MSG(hlz_llm_decode(llm, dst, coded, back, n, &e) == HLZ_OK, "params %d text %d: %s", p, t, e.message);
            CHECK(memcmp(back, src, n) == 0);
            uint64_t tokens;
            double bits;
            CHECK(hlz_llm_payload_info(dst, coded, &tokens, &bits, NULL, &e) == HLZ_OK && tokens >= 1 && bits > 0);
            /* The coded size is the model's cross-entropy plus a little. */
            CHECK_MSG(8.0 * coded <= bits * 1.01 + 200, "%zu bytes for %.1f bits", coded, bits);
            /* A wrong size or a cut stream is an error, never a crash. */
            CHECK(hlz_llm_decode(llm, dst, coded, back, n - 1 + (n == 1) * 2, &e) != HLZ_OK);
            CHECK(hlz_llm_decode(llm, dst, coded - 1, back, n, &e) != HLZ_OK);
            free(dst), free(back);
        }
        hlz_llm_free(llm);
    }
    hlz_model_free(m);
    free(bytes);
}

/* Options: codec, chunk size, threads, model. */
static hlz_options llm_opts(hlz_model *m, hlz_codec_id codec, uint32_t chunk, int threads)
{
    hlz_options o;
    hlz_options_default(&o);
    o.codec = codec, o.chunk_size = chunk, o.threads = threads, o.model = m;
    return o;
}

static int count_llm(void *user, const hlz_chunk_info *c)
{
    if (c->codec == HLZ_CODEC_LLM && c->tokens > 0 && c->model_bits > 0) ++*(int *)user;
    return 0;
}

static void archives_with_a_model(void)
{
    uint8_t *bytes, *bytes2;
    hlz_model *m = tm_open(&shape, &bytes);
    test_model_shape other = shape;
    other.seed = 12;
    hlz_model *m2 = tm_open(&other, &bytes2);
    CHECK(m && m2);
    size_t n = 6000;
    uint8_t *text = malloc(n);
    /* Two-letter tokens ("ae", "be", ...) in random order: a random model
     * codes each in about 8 bits, half their size, so llm chunks appear. */
    unsigned long long r = 3;
    for (size_t i = 0; i < n; i += 2) text[i] = (uint8_t)('a' + test_rand(&r) % 26), text[i + 1] = 'e';
    test_fill_random(text + 4096, 1024, 5); /* one chunk of noise: stored, not llm */
    unsigned char *a1, *a3, *back;
    size_t n1, n3, nb;
    hlz_options o = llm_opts(m, HLZ_CODEC_LLM, 1024, 1);
    CHECK(compress_buffer(text, n, &o, &a1, &n1) == HLZ_OK);
    CHECK_MSG(n1 < n * 3 / 4, "llm archive of %zu bytes for %zu", n1, n);
    o.threads = 3;
    CHECK(compress_buffer(text, n, &o, &a3, &n3) == HLZ_OK);
    CHECK_MSG(n1 == n3 && memcmp(a1, a3, n1) == 0, "archive differs between 1 and 3 threads");
    /* decode with the model, with 1 and 2 threads */
    FILE *in = file_from(a1, n1), *out = tmpfile();
    hlz_options d = llm_opts(m, HLZ_CODEC_AUTO, 1024, 2);
    hlz_error e;
    CHECK_MSG(hlz_decompress_file(in, out, &d, NULL, &e) == HLZ_OK, "%s", e.message);
    back = file_contents(out, &nb);
    CHECK(nb == n && memcmp(back, text, n) == 0);
    free(back), fclose(in), fclose(out);
    /* listing shows llm chunks with tokens */
    in = file_from(a1, n1);
    hlz_stats s;
    int llm_chunks = 0;
    hlz_list_callbacks cb = {.on_chunk = count_llm, .user = &llm_chunks};
    CHECK(hlz_list_file(in, &cb, &s, &e) == HLZ_OK && s.raw_bytes == n);
    CHECK_MSG(llm_chunks == 5, "%d llm chunks", llm_chunks);
    fclose(in);
    /* without the model, or with another one: a clear error */
    in = file_from(a1, n1), out = tmpfile();
    d.model = NULL;
    hlz_status st = hlz_decompress_file(in, out, &d, NULL, &e);
    CHECK_MSG(st == HLZ_ERR_MODEL && strstr(e.message, "needs the model"), "%s: %s", hlz_status_name(st), e.message);
    fclose(in), fclose(out);
    in = file_from(a1, n1), out = tmpfile();
    d.model = m2;
    CHECK(hlz_decompress_file(in, out, &d, NULL, &e) == HLZ_ERR_MODEL && strstr(e.message, "fingerprint"));
    fclose(in), fclose(out);
    /* forced llm on noise falls back to store; forced llm without a model is refused */
    o = llm_opts(m, HLZ_CODEC_LLM, 1024, 1);
    unsigned char *a4;
    size_t n4;
    CHECK(compress_buffer(text + 4096, 1024, &o, &a4, &n4) == HLZ_OK);
    free(a4);
    o.model = NULL;
    in = file_from(text, 10), out = tmpfile();
    CHECK(hlz_compress_file(in, out, &o, NULL, &e) == HLZ_ERR_PARAM);
    fclose(in), fclose(out);
    free(a1), free(a3), free(text);
    hlz_model_free(m), hlz_model_free(m2);
    free(bytes), free(bytes2);
}

int main(void)
{
    RUN(codec_round_trips);
    RUN(archives_with_a_model);
    TEST_MAIN_END();
}
