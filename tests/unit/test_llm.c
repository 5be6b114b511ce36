/* test_llm.c - the llm codec: round trips through small random models with
 * a byte-level tokenizer, window and carry edges, archives that name their
 * model, thread invariance, wrong and missing models, damaged streams. */
#include "archive_util.h"
#include "entropy.h"
#include "llm.h"
#include "robust.h"
#include "model.h"
#include "model_util.h"

#include <stdatomic.h>

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
    hlz_llm_params ps[4] = {{HLZ_PRIME_BOS, 1, 0, 0}, {HLZ_PRIME_TEXT, 7, 0, 0}, {HLZ_PRIME_TEXT, 9, 4, 0}, {0, 0, 0, 0}};
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
    /* 1 thread: 5 llm chunks are CPU_LOCKSTEP_FROM per thread, so the CPU
     * decodes them in lockstep on its own; HLZ_LOCKSTEP=0 keeps it chunk by
     * chunk. Both give the text. */
    hlz_options d1 = llm_opts(m, HLZ_CODEC_AUTO, 1024, 1);
    for (int k = 0; k < 2; k++) {
        if (k) setenv("HLZ_LOCKSTEP", "0", 1);
        in = file_from(a1, n1), out = tmpfile();
        CHECK_MSG(hlz_decompress_file(in, out, &d1, NULL, &e) == HLZ_OK, "1 thread%s: %s", k ? ", HLZ_LOCKSTEP=0" : "",
                  e.message);
        back = file_contents(out, &nb);
        CHECK_MSG(nb == n && memcmp(back, text, n) == 0, "1 thread%s", k ? ", HLZ_LOCKSTEP=0" : "");
        free(back), fclose(in), fclose(out);
    }
    unsetenv("HLZ_LOCKSTEP");
    /* the GPU's lockstep decoder, with logits and with token searches, here
     * on the CPU; with token searches also split into cohorts (5 llm chunks:
     * 2 and 3 cohorts, uneven, one of a single chunk; 8, more than chunks),
     * which decode the same bytes, and fail on a damaged chunk with the
     * same error */
    static const char *lockstep[] = {"1", "find", "find", "find", "find"};
    static const char *cohorts[] = {NULL, NULL, "2", "3", "8"};
    unsigned char *bad = malloc(n1);
    memcpy(bad, a1, n1);
    bad[n1 / 3] ^= 0x20;
    hlz_status bad_status = HLZ_OK;
    char bad_message[sizeof e.message] = "";
    for (int k = 0; k < 5; k++) {
        setenv("HLZ_LOCKSTEP", lockstep[k], 1);
        if (cohorts[k]) setenv("HLZ_LOCKSTEP_COHORTS", cohorts[k], 1);
        in = file_from(a1, n1), out = tmpfile();
        CHECK_MSG(hlz_decompress_file(in, out, &d, NULL, &e) == HLZ_OK, "lockstep %s: %s", lockstep[k], e.message);
        back = file_contents(out, &nb);
        CHECK_MSG(nb == n && memcmp(back, text, n) == 0, "lockstep %s, cohorts %s", lockstep[k],
                  cohorts[k] ? cohorts[k] : "-");
        free(back), fclose(in), fclose(out);
        /* a damaged llm chunk is an error there too */
        in = file_from(bad, n1), out = tmpfile();
        hlz_status st = hlz_decompress_file(in, out, &d, NULL, &e);
        CHECK(st != HLZ_OK);
        if (k == 1) bad_status = st, snprintf(bad_message, sizeof bad_message, "%s", e.message);
        if (k > 1)
            CHECK_MSG(st == bad_status && strcmp(e.message, bad_message) == 0, "cohorts %s: %s (%s), not %s (%s)",
                      cohorts[k], hlz_status_name(st), e.message, hlz_status_name(bad_status), bad_message);
        fclose(in), fclose(out);
    }
    free(bad);
    unsetenv("HLZ_LOCKSTEP");
    unsetenv("HLZ_LOCKSTEP_COHORTS");
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

/* What a walk showed visit(): position, token and a hash of the logits, in call order. */
typedef struct {
    uint64_t *seen;
    size_t n, cap;
} visit_log;

static void log_visit(void *ctx, const float *logits, int32_t token, size_t at)
{
    visit_log *v = ctx;
    uint64_t h = 1469598103934665603ull;
    const uint8_t *p = (const uint8_t *)logits;
    for (size_t i = 0; i < shape.n_vocab * sizeof(float); i++) h = (h ^ p[i]) * 1099511628211ull;
    if (v->n + 3 > v->cap) v->cap = v->cap ? 2 * v->cap : 1024, v->seen = realloc(v->seen, v->cap * sizeof *v->seen);
    v->seen[v->n++] = at, v->seen[v->n++] = (uint64_t)token, v->seen[v->n++] = h;
}

/* Many windows per evaluation call (the GPU's encoder) visit the same
 * tokens with the same logits in the same order as one window at a time,
 * and the payloads are the same bytes, also when made from token statistics. */
static void grouped_windows(void)
{
    uint8_t *bytes;
    hlz_model *m = tm_open(&shape, &bytes);
    CHECK(m != NULL);
    hlz_llm_params ps[3] = {{HLZ_PRIME_TEXT, 9, 4, 0}, {HLZ_PRIME_BOS, 5, 0, 0}, {0, 0, 0, 0}};
    hlz_llm_params_default(m, &ps[2]);
    size_t n = 700;
    int32_t *ids = malloc(n * sizeof *ids);
    unsigned long long r = 9;
    for (size_t i = 0; i < n; i++) ids[i] = (int32_t)(test_rand(&r) % shape.n_vocab);
    uint8_t text[400];
    for (size_t i = 0; i < sizeof text; i++) text[i] = (uint8_t)("grouped windows, "[i % 17]);
    for (int p = 0; p < 3; p++) {
        hlz_llm *llm;
        hlz_error e;
        CHECK_MSG(hlz_llm_create(m, &ps[p], &llm, &e) == HLZ_OK, "%s", e.message);
        static const uint32_t groups[] = {1, 2, 3, 7, 1000};
        visit_log ref = {0};
        uint8_t coded_ref[2][2048];
        size_t size_ref[2] = {0, 0};
        for (size_t g = 0; g < sizeof groups / sizeof *groups; g++) {
            hlz_llm_set_group(llm, groups[g]);
            for (size_t len = 1; len <= n; len = len * 3 + 1) { /* 1, 4, 13, 40, 121, 364 tokens */
                visit_log v = {0};
                CHECK(hlz_llm_walk_encode(llm, ids, len, log_visit, &v, &e) == HLZ_OK);
                CHECK(v.n == 3 * len);
                for (size_t i = 0; i < len && v.n == 3 * len; i++) CHECK(v.seen[3 * i] == i);
                if (g == 0 && len == 364) ref = v;
                else if (len == 364) {
                    CHECK_MSG(v.n == ref.n && memcmp(v.seen, ref.seen, v.n * sizeof *v.seen) == 0,
                              "params %d: group %u visits differently", p, (unsigned)groups[g]);
                    free(v.seen);
                } else {
                    free(v.seen);
                }
            }
            /* The payload, from visits of logits and from token statistics (the GPU's way),
             * with the model alone and with the online models (their guesses made first). */
            for (int mix = 0; mix < 2; mix++)
                for (int stats = 0; stats < 2; stats++) {
                    uint8_t coded[2048];
                    size_t size;
                    hlz_llm_set_mix(llm, mix ? HLZ_MIX_ALL : 0);
                    hlz_llm_set_stats(llm, stats);
                    CHECK_MSG(hlz_llm_encode(llm, text, sizeof text, coded, sizeof coded, &size, &e) == HLZ_OK, "%s",
                              e.message);
                    if (g == 0 && !stats) memcpy(coded_ref[mix], coded, size), size_ref[mix] = size;
                    else CHECK_MSG(size == size_ref[mix] && memcmp(coded, coded_ref[mix], size) == 0,
                                   "group %u mix %d stats %d payload differs", (unsigned)groups[g], mix, stats);
                }
            hlz_llm_set_stats(llm, false);
            hlz_llm_set_mix(llm, 0);
        }
        free(ref.seen);
        hlz_llm_free(llm);
    }
    free(ids);
    hlz_model_free(m);
    free(bytes);
}

/* Picks of the lockstep walk, counted: with token searches only the tokens
 * the prime predicts (the first of each chunk here) are picked from logits.
 * Cohorts pick at once. */
static hlz_llm_pick real_pick;
static atomic_size_t picks;

static hlz_status counting_pick(void *ctx, const float *logits, size_t at, int32_t *token, hlz_error *e)
{
    picks++;
    return real_pick(ctx, logits, at, token, e);
}

/* Guesses the model refuses (not distinct): the evaluation itself fails. */
static hlz_status bad_guess(void *ctx, int32_t *cand, hlz_error *e)
{
    (void)ctx, (void)e;
    cand[0] = cand[1] = 0, cand[2] = cand[3] = -1;
    return HLZ_OK;
}

static hlz_status no_decide(void *ctx, const uint32_t *fc, int32_t *token, hlz_error *e)
{
    (void)ctx, (void)fc, (void)token;
    return hlz_fail(e, HLZ_ERR_CORRUPT, "not reached");
}

/* Chunks decoded in lockstep (the GPU's decoder) give what one at a time
 * gives; a damaged stream fails alone; robust streams mix with llm ones, and
 * hybrid ones (--mix) with those of the model alone, also with token
 * searches (the hybrid's guesses, decisions, then a search of the table
 * without the guesses). Split into cohorts (2, 3: uneven; 6: one of a single
 * stream; 16: more than streams, capped) each stream's outcome is the same,
 * bytes, status and message; an evaluation that fails in one cohort fails
 * the walk with every split. */
static void lockstep_decoding(void)
{
    uint8_t *bytes;
    hlz_model *m = tm_open(&shape, &bytes);
    CHECK(m != NULL);
    hlz_llm_params params = {HLZ_PRIME_TEXT, 9, 4, 0};
    hlz_llm *llm;
    hlz_error e;
    CHECK_MSG(hlz_llm_create(m, &params, &llm, &e) == HLZ_OK, "%s", e.message);
    hlz_robust_params rp;
    CHECK(hlz_robust_params_default(3.0, &rp) == 0);
    enum { N = 11 };
    static const size_t sizes[N] = {1, 2, 9, 10, 57, 300, 123, 1, 40, 700, 500};
    uint8_t *src[N], *coded[N], *back[N];
    size_t coded_size[N];
    bool robust[N], damaged[N];
    uint8_t *ref[N];
    hlz_status ref_status[N];
    char ref_error[N][sizeof e.message];
    for (int i = 0; i < N; i++) {
        src[i] = malloc(sizes[i]), back[i] = malloc(sizes[i]), coded[i] = malloc(4 * sizes[i] + 256);
        ref[i] = malloc(sizes[i]);
        for (size_t k = 0; k < sizes[i]; k++) src[i][k] = (uint8_t)("lockstep decoding of chunks "[(k + i) % 28]);
        if (i == 9) /* repeats with changes: the guesses are right and wrong */
            for (size_t k = 0; k < sizes[i]; k += 37) src[i][k] = (uint8_t)('A' + k % 26);
        robust[i] = i == 4, damaged[i] = i == 5 || i == 10;
        hlz_llm_set_mix(llm, i >= 7 ? HLZ_MIX_ALL : 0); /* chunks 7..10 hybrid */
        hlz_status st = robust[i] ? hlz_robust_encode(llm, &rp, src[i], sizes[i], coded[i], 4 * sizes[i] + 256,
                                                      &coded_size[i], NULL, &e)
                                  : hlz_llm_encode(llm, src[i], sizes[i], coded[i], 4 * sizes[i] + 256,
                                                   &coded_size[i], &e);
        CHECK_MSG(st == HLZ_OK, "encode %d: %s", i, e.message);
        if (damaged[i]) coded[i][coded_size[i] / 2] ^= 0x5a;
        uint64_t tokens;
        double bits;
        unsigned mix;
        CHECK(robust[i] || (hlz_llm_payload_info(coded[i], coded_size[i], &tokens, &bits, &mix, &e) == HLZ_OK &&
                            mix == (i >= 7 ? HLZ_MIX_ALL : 0u)));
    }
    hlz_llm_set_mix(llm, 0);
    /* Configurations: 1 thread; 3 threads with carried tokens 3 rows per call
     * (split across calls); token searches instead of logits (the GPU's
     * way, here on the CPU), for the llm streams only (robust ones need
     * logits), on 1 and 6 threads. */
    static const size_t cohorts[] = {1, 2, 3, 6, 16};
    for (int run = 0; run < 4 * 5; run++) {
        int config = run / 5;
        size_t k = cohorts[run % 5];
        int threads = config == 1 ? 3 : config == 3 ? 6 : 1; /* 6: cohorts on pools of their own at once */
        hlz_llm_set_logits_budget(llm, config == 1 ? 3 * shape.n_vocab * sizeof(float) : (size_t)1 << 28);
        hlz_llm_set_stats(llm, config >= 2);
        hlz_llm_stream streams[N];
        int idx[N], count = 0;
        for (int i = 0; i < N; i++)
            if (config < 2 || !robust[i]) idx[count++] = i;
        for (int j = 0; j < count; j++) {
            int i = idx[j];
            CHECK((robust[i] ? hlz_robust_decode_start : hlz_llm_decode_start)(llm, coded[i], coded_size[i], sizes[i],
                                                                              &streams[j], &e) == HLZ_OK);
            if (config >= 2) real_pick = streams[j].pick, streams[j].pick = counting_pick;
        }
        picks = 0;
        CHECK_MSG(hlz_llm_walk_decode_many(llm, streams, (size_t)count, threads, k, &e) == HLZ_OK, "%s", e.message);
        if (config >= 2) CHECK_MSG(picks == (size_t)count, "%zu picks from logits for %d streams", (size_t)picks, count);
        for (int j = 0; j < count; j++) {
            int i = idx[j];
            memset(back[i], 0, sizes[i]);
            hlz_status st = (robust[i] ? hlz_robust_decode_finish : hlz_llm_decode_finish)(llm, &streams[j], back[i],
                                                                                          sizes[i], &e);
            if (k > 1) { /* the outcome of one walk */
                CHECK_MSG(st == ref_status[i] && (st == HLZ_OK || strcmp(e.message, ref_error[i]) == 0) &&
                              memcmp(back[i], ref[i], sizes[i]) == 0,
                          "config %d, %zu cohorts, chunk %d: %s (%s)", config, k, i, hlz_status_name(st),
                          st == HLZ_OK ? "" : e.message);
                continue;
            }
            ref_status[i] = st;
            memcpy(ref[i], back[i], sizes[i]);
            snprintf(ref_error[i], sizeof ref_error[i], "%s", st == HLZ_OK ? "" : e.message);
            /* The same outcome as decoding the chunk alone. */
            uint8_t *alone = malloc(sizes[i]);
            hlz_error e2;
            hlz_status st2 = robust[i] ? hlz_robust_decode(llm, coded[i], coded_size[i], alone, sizes[i], &e2)
                                       : hlz_llm_decode(llm, coded[i], coded_size[i], alone, sizes[i], &e2);
            CHECK_MSG(st == st2, "config %d chunk %d: lockstep %s, alone %s", config, i, hlz_status_name(st),
                      hlz_status_name(st2));
            if (!damaged[i]) CHECK_MSG(st == HLZ_OK && memcmp(back[i], src[i], sizes[i]) == 0, "config %d chunk %d", config, i);
            else CHECK(st != HLZ_OK || memcmp(back[i], src[i], sizes[i]) != 0);
            free(alone);
        }
    }
    /* Chunk 6's guesses are refused: the walk fails, whatever the split, and
     * every stream is finished with its error. */
    for (int c = 0; c < 3; c++) {
        hlz_llm_stream streams[N];
        int idx[N], count = 0;
        for (int i = 0; i < N; i++)
            if (!robust[i]) idx[count++] = i;
        for (int j = 0; j < count; j++) {
            CHECK(hlz_llm_decode_start(llm, coded[idx[j]], coded_size[idx[j]], sizes[idx[j]], &streams[j], &e) == HLZ_OK);
            if (idx[j] == 6) streams[j].guess = bad_guess, streams[j].decide = no_decide;
        }
        hlz_status st = hlz_llm_walk_decode_many(llm, streams, (size_t)count, 2, cohorts[c], &e);
        CHECK_MSG(st == HLZ_ERR_PARAM && strstr(e.message, "guesses must be distinct"), "%zu cohorts: %s: %s",
                  cohorts[c], hlz_status_name(st), e.message);
        hlz_error walk_error = e;
        for (int j = 0; j < count; j++) {
            streams[j].status = st, streams[j].error = walk_error;
            CHECK(hlz_llm_decode_finish(llm, &streams[j], back[idx[j]], sizes[idx[j]], &e) == HLZ_ERR_PARAM);
        }
    }
    hlz_llm_set_stats(llm, false);
    CHECK(hlz_llm_walk_decode_many(llm, NULL, 0, 1, 2, &e) == HLZ_OK);
    for (int i = 0; i < N; i++) free(src[i]), free(coded[i]), free(back[i]), free(ref[i]);
    hlz_llm_free(llm);
    hlz_model_free(m);
    free(bytes);
}

/* The hybrid decoder's model calls on the CPU (the reference the GPU's are
 * checked against, tests/cuda/check_cuda.c): hlz_model_eval_batch_guess
 * gives each sequence without guesses the search of its table, and each with
 * guesses their frequencies, keeping its table without them, which
 * hlz_model_find_kept searches: the entropy.c functions on the logits of
 * the same tokens. Guesses that are not distinct tokens then -1s, and
 * searches of sequences with nothing kept, are refused. */
static void guess_evaluation(void)
{
    uint8_t *bytes;
    hlz_model *m = tm_open(&shape, &bytes);
    CHECK(m != NULL);
    enum { S = 5, G = HLZ_TABLE_CANDIDATES };
    uint32_t nv = shape.n_vocab;
    int32_t ids[40];
    unsigned long long r = 17;
    for (size_t i = 0; i < 40; i++) ids[i] = (int32_t)(test_rand(&r) % nv);
    static const size_t counts[S] = {1, 3, 12, 40, 7};
    hlz_session *s[S];
    const int32_t *toks[S];
    hlz_error e;
    float *logits = malloc(40 * (size_t)nv * sizeof *logits);
    uint32_t *table = malloc(nv * sizeof *table);
    hlz_kept_tables *kept;
    CHECK(hlz_kept_tables_create(m, &kept, &e) == HLZ_OK);
    for (int round = 0; round < 3; round++) {
        int32_t cands[S * G];
        uint32_t slots[S], fc[S * G], seqs[S], slots2[S];
        hlz_token_found found[S], found2[S];
        size_t n2 = 0;
        for (int i = 0; i < S; i++) {
            CHECK(hlz_session_create(m, 64, &s[i], &e) == HLZ_OK);
            toks[i] = ids;
            int k = (i + round) % (G + 1); /* 0..4 guesses: the token that follows, the last entry, others */
            for (int j = 0; j < G; j++)
                cands[i * G + j] = j >= k ? -1 : j == 0 ? (int32_t)nv - 1 : j == 1 ? ids[counts[i] % 40] : (int32_t)(j * 7 + i);
            for (int j = 1; j < k; j++) /* distinct: cut at a repeat */
                for (int jj = 0; jj < j; jj++)
                    if (cands[i * G + j] == cands[i * G + jj]) k = j;
            for (int j = k; j < G; j++) cands[i * G + j] = -1;
            slots[i] = round == 0 ? 0 : round == 1 ? HLZ_FREQ_TOTAL - 1 : (uint32_t)(test_rand(&r) % HLZ_FREQ_TOTAL);
            if (k > 0) seqs[n2] = (uint32_t)i, slots2[n2++] = round == 1 ? 0 : round == 0 ? HLZ_FREQ_TOTAL - 1
                                                                     : (uint32_t)(test_rand(&r) % HLZ_FREQ_TOTAL);
        }
        memset(fc, 0xff, sizeof fc);
        CHECK_MSG(hlz_model_eval_batch_guess(m, s, toks, counts, S, cands, slots, fc, found, kept, &e) == HLZ_OK, "%s",
                  e.message);
        CHECK(hlz_model_find_kept(m, kept, seqs, slots2, n2, found2, &e) == HLZ_OK);
        for (size_t i = 0, k2 = 0; i < S; i++) {
            hlz_session *one;
            CHECK(hlz_session_create(m, 64, &one, &e) == HLZ_OK);
            CHECK(hlz_model_eval(m, one, ids, counts[i], logits, &e) == HLZ_OK);
            hlz_session_free(one);
            const float *row = logits + (counts[i] - 1) * nv;
            const int32_t *c = cands + i * G;
            size_t k = 0;
            while (k < G && c[k] >= 0) k++;
            uint32_t want_fc[G];
            hlz_token_found want;
            if (k == 0) {
                hlz_token_find_from_logits(row, nv, slots[i], table, &want);
                CHECK_MSG(memcmp(&want, &found[i], sizeof want) == 0, "round %d sequence %zu: search", round, i);
                for (size_t j = 0; j < G; j++) CHECK(fc[i * G + j] == 0);
                continue;
            }
            hlz_token_guess_from_logits(row, nv, c, k, table, want_fc);
            CHECK_MSG(memcmp(want_fc, fc + i * G, sizeof want_fc) == 0, "round %d sequence %zu: fc", round, i);
            for (size_t j = 0; j < G; j++) CHECK((j < k) == (want_fc[j] > 0));
            /* The table without the guesses: 0 for them, and still a whole table. */
            uint64_t sum = 0;
            for (uint32_t t = 0; t < nv; t++) sum += table[t];
            CHECK(sum == HLZ_FREQ_TOTAL && table[c[0]] == 0);
            hlz_token_find_table(table, nv, slots2[k2], &want);
            CHECK_MSG(memcmp(&want, &found2[k2], sizeof want) == 0, "round %d sequence %zu: kept search", round, i);
            CHECK(found2[k2].freq > 0 && found2[k2].cum <= slots2[k2] && slots2[k2] - found2[k2].cum < found2[k2].freq);
            for (size_t j = 0; j < k; j++) CHECK(found2[k2].token != (uint32_t)c[j]);
            k2++;
        }
        for (int i = 0; i < S; i++) hlz_session_free(s[i]);
    }
    /* Refused: a repeated guess, a gap, a token outside the vocabulary; a search where nothing is kept. */
    static const int32_t bad[3][G] = {{4, 4, -1, -1}, {4, -1, 5, -1}, {1000000, -1, -1, -1}};
    for (int b = 0; b < 3; b++) {
        hlz_session *one;
        CHECK(hlz_session_create(m, 64, &one, &e) == HLZ_OK);
        uint32_t slot = 0, fc[G];
        hlz_token_found f;
        size_t n1 = 1;
        const int32_t *t = ids;
        CHECK(hlz_model_eval_batch_guess(m, &one, &t, &n1, 1, bad[b], &slot, fc, &f, kept, &e) == HLZ_ERR_PARAM);
        CHECK(hlz_session_length(one) == 0);
        hlz_session_free(one);
    }
    uint32_t seq = 0, slot = 0;
    hlz_token_found f;
    CHECK(hlz_model_find_kept(m, kept, &seq, &slot, 1, &f, &e) == HLZ_ERR_PARAM); /* the last call failed */
    hlz_kept_tables_free(kept);
    free(logits), free(table);
    hlz_model_free(m);
    free(bytes);
}

int main(void)
{
    RUN(codec_round_trips);
    RUN(archives_with_a_model);
    RUN(grouped_windows);
    RUN(lockstep_decoding);
    RUN(guess_evaluation);
    TEST_MAIN_END();
}
