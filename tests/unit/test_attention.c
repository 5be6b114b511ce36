/* test_attention.c - the int8 attention ("attention 1", doc/engine.md):
 * hlz_attention_int8 against a plain reference written here from the
 * definition, on every kernel set, with random and extreme inputs; the
 * forward pass with it (prefill equals one token at a time, threads, kernel
 * sets, batches that mix float and int8 sessions); the llm option; archives
 * with int8 attention (round trips, the lockstep decoders, unlike float
 * ones) and the refusals (head dimension, positions, the GPU). */
#include "archive_util.h"
#include "entropy.h"
#include "llm.h"
#include "model.h"
#include "model_util.h"

#include <float.h>
#include <math.h>

/* ---- the function against the definition ---------------------------------- */

/* The definition step by step: all blocks quantized first (hlz_kernels_ref),
 * the logit step with rintf (ties to even), 64-bit sums checked to fit int32.
 * Returns 0, or -1 when a sum leaves int32. */
static int reference(const float *q, const float *k, const float *v, size_t stride, uint32_t n, uint32_t hd,
                     float *out)
{
    uint32_t nb = hd / 32;
    hlz_q8_block *qb = malloc(nb * sizeof *qb), *kb = malloc((size_t)n * nb * sizeof *kb);
    hlz_q8_block *vb = malloc((size_t)n * nb * sizeof *vb);
    float *s = malloc(n * sizeof *s), *u = malloc(n * sizeof *u);
    uint64_t *w = malloc(n * sizeof *w);
    int rc = 0;
    hlz_kernels_ref.quantize_q8(q, hd, qb);
    for (uint32_t j = 0; j < n; j++) {
        hlz_kernels_ref.quantize_q8(k + j * stride, hd, kb + (size_t)j * nb);
        hlz_kernels_ref.quantize_q8(v + j * stride, hd, vb + (size_t)j * nb);
    }
    float scale = 1.0f / sqrtf((float)hd);
    for (uint32_t j = 0; j < n; j++) {
        float acc = 0.0f;
        for (uint32_t b = 0; b < nb; b++) {
            const hlz_q8_block *x = &qb[b], *y = &kb[(size_t)j * nb + b];
            int32_t isum = 0;
            for (int i = 0; i < 32; i++) isum += x->q[i] * y->q[i];
            float dd = x->d * y->d;
            acc = acc + (float)isum * dd;
        }
        s[j] = acc * scale;
    }
    float m = -INFINITY;
    for (uint32_t j = 0; j < n; j++)
        if (isfinite(s[j]) && s[j] > m) m = s[j];
    const uint64_t *W = hlz_logit_weights();
    uint64_t wsum = 0;
    for (uint32_t j = 0; j < n; j++) {
        uint32_t step;
        if (isnan(s[j]) || s[j] == -INFINITY) step = 640;
        else if (s[j] == INFINITY) step = 0;
        else {
            float r = (m - s[j]) * 32.0f;
            step = r >= 640.0f ? 640 : (uint32_t)rintf(r);
            if (step > 640) step = 640;
        }
        w[j] = step < 640 ? W[step] : 0;
        wsum += w[j];
    }
    for (uint32_t b = 0; b < nb; b++) {
        for (uint32_t j = 0; j < n; j++) {
            float wf = (float)w[j] * 0x1p-30f;
            u[j] = wf * vb[(size_t)j * nb + b].d;
        }
        float umax = u[0];
        for (uint32_t j = 1; j < n; j++) umax = fmaxf(umax, u[j]);
        float e = umax / 255.0f;
        if (e < FLT_MIN) e = FLT_MIN;
        float inv = 1.0f / e;
        long long acc[32] = {0};
        for (uint32_t j = 0; j < n; j++) {
            long uq = lrintf(u[j] * inv);
            if (uq > 255) uq = 255;
            for (int i = 0; i < 32; i++) acc[i] += uq * vb[(size_t)j * nb + b].q[i];
        }
        for (int i = 0; i < 32; i++) {
            if (acc[i] > INT32_MAX || acc[i] < INT32_MIN) rc = -1;
            float den = (float)wsum * 0x1p-30f;
            out[b * 32 + i] = wsum == 0 ? 0.0f : ((float)(int32_t)acc[i] * e) / den;
        }
    }
    free(qb), free(kb), free(vb), free(s), free(u), free(w);
    return rc;
}

static float uniform(unsigned long long *r) { return (float)(test_rand(r) >> 40) / (float)(1 << 23) - 1.0f; }

/* Fills count values: kind 0 random at `scale`, 1 zeros, 2 random with nan
 * and +-inf sprinkled, 3 huge, 4 tiny (subnormal to FLT_MIN), 5 the same
 * random row at every position (ties), 6 every fifth row huge, the others
 * at `scale` (with a huge query: infinite and finite scores side by side). */
static void fill(float *x, size_t rows, size_t stride, uint32_t hd, int kind, float scale, unsigned long long *r)
{
    float row0[128];
    for (uint32_t i = 0; i < hd; i++) row0[i] = uniform(r) * scale;
    for (size_t j = 0; j < rows; j++)
        for (uint32_t i = 0; i < hd; i++) {
            float *p = &x[j * stride + i], y = uniform(r);
            switch (kind) {
            case 0: *p = y * scale; break;
            case 1: *p = 0.0f; break;
            case 2: {
                unsigned c = (unsigned)(test_rand(r) % 40);
                *p = c == 0 ? NAN : c == 1 ? INFINITY : c == 2 ? -INFINITY : y * scale;
                break;
            }
            case 3: *p = y * FLT_MAX; break;
            case 4: *p = y * FLT_MIN * (test_rand(r) % 2 ? 1.0f : 0x1p-20f); break;
            case 5: *p = row0[i]; break;
            default: *p = y * (j % 5 == 0 ? 1e20f : scale); break;
            }
        }
}

static int same_bits(const float *a, const float *b, uint32_t n) { return memcmp(a, b, n * sizeof *a) == 0; }

static void matches_the_definition(void)
{
    static const uint32_t hds[] = {32, 64, 128}, ns[] = {1, 31, 33, 700};
    /* (q kind, q scale, k kind, k scale, v kind, v scale) */
    static const struct { int qk; float qs; int kk; float ks; int vk; float vs; } cases[] = {
        {0, 1.0f, 0, 1.0f, 0, 1.0f},     {0, 4.0f, 0, 4.0f, 0, 0.5f},  /* scores spread over 20 nats */
        {0, 30.0f, 0, 30.0f, 0, 3.0f},   {0, 1e-3f, 0, 1e-3f, 0, 1.0f}, /* near-uniform weights */
        {1, 0, 1, 0, 1, 0},              {0, 1.0f, 2, 1.0f, 2, 1.0f},  /* zeros; nan and inf in k and v */
        {3, 0, 3, 0, 3, 0},              {0, 1.0f, 0, 1.0f, 3, 0},     /* huge: inf and nan scores; huge v */
        {4, 0, 4, 0, 4, 0},              {0, 1.0f, 0, 1.0f, 4, 0},     /* tiny: e clamped to FLT_MIN */
        {0, 1.0f, 5, 1.0f, 0, 1.0f},     {0, 1e4f, 0, 1e4f, 0, 1e4f},  /* tied keys; large everything */
        {0, 1e20f, 6, 1e-19f, 0, 1.0f},                                /* +-inf and nan among finite scores */
    };
    const hlz_kernels *sets[8];
    size_t n_sets = hlz_kernels_available(sets, 8);
    unsigned long long r = 99;
    int checked = 0;
    for (size_t h = 0; h < 3; h++)
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
            for (size_t a = 0; a < 4; a++) {
                uint32_t hd = hds[h], n = ns[a];
                size_t stride = 2 * (size_t)hd + 32; /* rows of a cache with other heads between */
                float *q = malloc(hd * sizeof *q), *k = malloc(n * stride * sizeof *k), *v = malloc(n * stride * sizeof *v);
                float want[128], got[128];
                fill(q, 1, hd, hd, cases[c].qk == 5 ? 0 : cases[c].qk, cases[c].qs, &r);
                fill(k, n, stride, hd, cases[c].kk, cases[c].ks, &r);
                fill(v, n, stride, hd, cases[c].vk, cases[c].vs, &r);
                CHECK_MSG(reference(q, k, v, stride, n, hd, want) == 0, "int32 overflow: hd %u n %u case %zu", hd, n, c);
                void *scratch = malloc(hlz_attention_int8_scratch(n, hd));
                for (size_t s = 0; s < n_sets; s++) {
                    memset(got, 0x55, sizeof got);
                    hlz_attention_int8(sets[s], q, k, v, stride, n, hd, got, scratch);
                    CHECK_MSG(same_bits(want, got, hd), "%s kernels: hd %u, n %u, case %zu: %g, not %g", sets[s]->name,
                              hd, n, c, (double)got[0], (double)want[0]);
                    checked++;
                }
                free(q), free(k), free(v), free(scratch);
            }
    /* Every score nan (q in the first half of each block, k in the second:
     * isum 0 times an infinite scale): no weight, the output is 0. */
    float q[32], k[3 * 32], v[3 * 32], out[32];
    for (int i = 0; i < 32; i++) q[i] = i < 16 ? 3e38f : 0.0f;
    for (int j = 0; j < 3; j++)
        for (int i = 0; i < 32; i++) k[j * 32 + i] = i < 16 ? 0.0f : -3e38f, v[j * 32 + i] = 1.0f + (float)i;
    uint64_t scratch[64];
    hlz_attention_int8(&hlz_kernels_ref, q, k, v, 32, 3, 32, out, scratch);
    for (int i = 0; i < 32; i++) CHECK(out[i] == 0.0f && !signbit(out[i]));
    /* One position: the output is v as quantized (uq = 255, e = dv / 255). */
    float one[32];
    for (int i = 0; i < 32; i++) v[i] = (float)(i - 16) / 8.0f;
    hlz_attention_int8(&hlz_kernels_ref, v, v, v, 32, 1, 32, one, scratch);
    hlz_q8_block vb;
    hlz_kernels_ref.quantize_q8(v, 32, &vb);
    for (int i = 0; i < 32; i++) CHECK_MSG(fabsf(one[i] - vb.d * vb.q[i]) <= 1e-6f, "%d: %g", i, (double)one[i]);
    CHECK(checked == (int)(3 * 4 * n_sets * (sizeof cases / sizeof cases[0])));
}

/* ---- the forward pass -------------------------------------------------------- */

/* hd 32 with grouped-query heads; qwen2 with hd 64. */
static const test_model_shape llama32 = {"llama", 128, 2, 4, 2, 96, 300, 256, HLZ_GGML_Q8_0, 21};
static const test_model_shape qwen64 = {"qwen2", 128, 1, 2, 1, 64, 300, 256, HLZ_GGML_Q8_0, 22};

static hlz_session *new_session(hlz_model *m, unsigned attention)
{
    hlz_session *s = NULL;
    hlz_error e;
    if (hlz_session_create(m, m->config.n_ctx, &s, &e) != HLZ_OK) return NULL;
    s->attention = (uint8_t)attention;
    return s;
}

static void forward_invariances(void)
{
    const test_model_shape *shapes[2] = {&llama32, &qwen64};
    enum { N = 70 };
    int32_t toks[N];
    unsigned long long r = 5;
    for (int i = 0; i < N; i++) toks[i] = (int32_t)(test_rand(&r) % 300);
    for (int sh = 0; sh < 2; sh++) {
        uint8_t *bytes;
        hlz_model *m = tm_open(shapes[sh], &bytes);
        CHECK(m != NULL);
        uint32_t nv = m->config.n_vocab;
        float *all = malloc((size_t)N * nv * sizeof *all), *one = malloc((size_t)N * nv * sizeof *one);
        float *flt = malloc((size_t)N * nv * sizeof *flt);
        hlz_error e;
        /* prefill in one call, 3 threads */
        hlz_model_set_threads(m, 3);
        hlz_session *s = new_session(m, HLZ_ATTENTION_INT8), *f = new_session(m, HLZ_ATTENTION_FLOAT);
        CHECK(s && f);
        CHECK_MSG(hlz_model_eval(m, s, toks, N, all, &e) == HLZ_OK, "%s", e.message);
        CHECK(hlz_model_eval(m, f, toks, N, flt, &e) == HLZ_OK);
        CHECK_MSG(memcmp(all, flt, (size_t)N * nv * sizeof *all) != 0, "int8 attention gives the float logits");
        /* one token at a time on every kernel set, 1 thread, from a copy of a 1-token prefix */
        hlz_model_set_threads(m, 1);
        const hlz_kernels *sets[8], *kept = m->kernels;
        size_t n_sets = hlz_kernels_available(sets, 8);
        for (size_t k = 0; k < n_sets; k++) {
            m->kernels = sets[k];
            hlz_session *p = new_session(m, HLZ_ATTENTION_INT8), *c = new_session(m, HLZ_ATTENTION_FLOAT);
            CHECK(p && c);
            CHECK(hlz_model_eval(m, p, toks, 1, one, &e) == HLZ_OK);
            CHECK(hlz_session_copy(m, c, p, &e) == HLZ_OK && c->attention == HLZ_ATTENTION_INT8);
            for (int t = 1; t < N; t++) CHECK(hlz_model_eval(m, c, toks + t, 1, one + (size_t)t * nv, &e) == HLZ_OK);
            CHECK_MSG(memcmp(all, one, (size_t)N * nv * sizeof *all) == 0, "%s kernels: step by step differs",
                      sets[k]->name);
            hlz_session_free(p), hlz_session_free(c);
        }
        m->kernels = kept;
        /* one batch with a float and an int8 session: each gets its own logits */
        hlz_session *b[2] = {new_session(m, HLZ_ATTENTION_FLOAT), new_session(m, HLZ_ATTENTION_INT8)};
        const int32_t *bt[2] = {toks, toks};
        size_t counts[2] = {N, 40};
        float *mixed = malloc((size_t)(N + 40) * nv * sizeof *mixed);
        hlz_model_set_threads(m, 2);
        CHECK(b[0] && b[1] && hlz_model_eval_batch(m, b, bt, counts, 2, mixed, &e) == HLZ_OK);
        CHECK(memcmp(mixed, flt, (size_t)N * nv * sizeof *flt) == 0);
        CHECK(memcmp(mixed + (size_t)N * nv, all, (size_t)40 * nv * sizeof *all) == 0);
        /* on the GPU one call runs one arithmetic: a model there refuses
         * this batch before any GPU work (a stand-in pointer: nothing
         * reaches the device code) */
        hlz_session *g[2] = {new_session(m, HLZ_ATTENTION_FLOAT), new_session(m, HLZ_ATTENTION_INT8)};
        CHECK(g[0] && g[1]);
        m->cuda = (struct hlz_cuda_model *)(void *)1;
        hlz_status st = hlz_model_eval_batch(m, g, bt, counts, 2, mixed, &e);
        m->cuda = NULL;
        CHECK_MSG(st == HLZ_ERR_UNSUPPORTED && strstr(e.message, "mixes float and int8"), "%d %s", (int)st, e.message);
        hlz_session_free(g[0]), hlz_session_free(g[1]);
        hlz_session_free(b[0]), hlz_session_free(b[1]), hlz_session_free(s), hlz_session_free(f);
        free(all), free(one), free(flt), free(mixed);
        hlz_model_free(m);
        free(bytes);
    }
}

/* ---- the option, archives, refusals -------------------------------------------- */

static void option_round_trip(void)
{
    uint8_t opt[4 + HLZ_OPTION_LLM_SIZE];
    hlz_error e;
    for (unsigned a = 0; a < 2; a++) {
        hlz_llm_params p = {HLZ_PRIME_TEXT, 400, 100, (uint8_t)a}, back;
        memset(&back, 0xff, sizeof back);
        hlz_llm_option_write(&p, opt);
        CHECK(opt[5] == a && opt[4] == HLZ_PRIME_TEXT);
        CHECK(hlz_llm_option_parse(opt + 4, HLZ_OPTION_LLM_SIZE, &back, &e) == HLZ_OK);
        CHECK(back.prime == p.prime && back.window == 400 && back.carry == 100 && back.attention == a);
    }
    for (unsigned a = 2; a < 256; a += 253) {
        hlz_llm_params back;
        opt[5] = (uint8_t)a;
        CHECK(hlz_llm_option_parse(opt + 4, HLZ_OPTION_LLM_SIZE, &back, &e) == HLZ_ERR_VERSION);
        char want[64];
        snprintf(want, sizeof want, "attention arithmetic %u, unknown", a);
        CHECK_MSG(strstr(e.message, want) && strstr(e.message, "upgrade hlz"), "%s", e.message);
    }
}

static int header_attention(void *user, const hlz_header_info *h)
{
    *(unsigned *)user = h->attention;
    return 0;
}

static int count_llm(void *user, const hlz_chunk_info *c)
{
    if (c->codec == HLZ_CODEC_LLM || c->codec == HLZ_CODEC_ROBUST) ++*(int *)user;
    return 0;
}

static void archives(void)
{
    uint8_t *bytes;
    hlz_model *m = tm_open(&llama32, &bytes);
    CHECK(m != NULL);
    size_t n = 3000;
    uint8_t *text = malloc(n);
    unsigned long long r = 3; /* two-letter tokens: a random model codes them in about half their size */
    for (size_t i = 0; i < n; i += 2) text[i] = (uint8_t)('a' + test_rand(&r) % 26), text[i + 1] = 'e';
    hlz_options o;
    hlz_options_default(&o);
    o.codec = HLZ_CODEC_LLM, o.chunk_size = 1024, o.model = m, o.mix = 0, o.attention = HLZ_ATTENTION_INT8;
    unsigned char *a1, *a3, *af, *back;
    size_t n1, n3, nf, nb;
    hlz_error e;
    CHECK(compress_buffer(text, n, &o, &a1, &n1) == HLZ_OK);
    o.threads = 3, o.mix = HLZ_MIX_ALL;
    unsigned char *ah;
    size_t nh;
    CHECK(compress_buffer(text, n, &o, &ah, &nh) == HLZ_OK); /* hybrid chunks too */
    o.mix = 0;
    CHECK(compress_buffer(text, n, &o, &a3, &n3) == HLZ_OK);
    CHECK_MSG(n1 == n3 && memcmp(a1, a3, n1) == 0, "archive differs between 1 and 3 threads");
    o.attention = HLZ_ATTENTION_FLOAT;
    CHECK(compress_buffer(text, n, &o, &af, &nf) == HLZ_OK);
    CHECK_MSG(nf != n1 || memcmp(af, a1, n1) != 0, "the int8 archive is the float one");
    int llm = 0;
    unsigned att = 99;
    hlz_list_callbacks cb = {header_attention, NULL, &att};
    FILE *in = file_from(a1, n1);
    CHECK(hlz_list_file(in, &cb, NULL, &e) == HLZ_OK && att == HLZ_ATTENTION_INT8);
    fclose(in);
    in = file_from(af, nf);
    CHECK(hlz_list_file(in, &cb, NULL, &e) == HLZ_OK && att == HLZ_ATTENTION_FLOAT);
    fclose(in);
    hlz_index idx;
    in = file_from(a1, n1);
    CHECK(hlz_index_read(in, &idx, &e) == HLZ_OK && idx.header.attention == HLZ_ATTENTION_INT8);
    hlz_index_free(&idx), fclose(in);
    in = file_from(af, nf);
    CHECK(hlz_index_read(in, &idx, &e) == HLZ_OK && idx.header.attention == HLZ_ATTENTION_FLOAT);
    hlz_index_free(&idx), fclose(in);
    hlz_list_callbacks cc = {NULL, count_llm, &llm};
    in = file_from(a1, n1);
    CHECK(hlz_list_file(in, &cc, NULL, &e) == HLZ_OK && llm == 3);
    fclose(in);
    /* decode: the plain walk, the lockstep one with logits and with token
     * searches; the int8 and float archives concatenated (each archive's
     * sessions in its own arithmetic); the hybrid one */
    unsigned char *cat = malloc(n1 + nf);
    memcpy(cat, a1, n1), memcpy(cat + n1, af, nf);
    static const char *lockstep[] = {NULL, "1", "find"};
    hlz_options d;
    hlz_options_default(&d);
    d.model = m, d.threads = 2;
    for (int k = 0; k < 3; k++) {
        if (lockstep[k]) setenv("HLZ_LOCKSTEP", lockstep[k], 1);
        const unsigned char *srcs[3] = {a1, cat, ah};
        size_t sizes[3] = {n1, n1 + nf, nh}, want[3] = {n, 2 * n, n};
        for (int a = 0; a < 3; a++) {
            in = file_from(srcs[a], sizes[a]);
            FILE *out = tmpfile();
            CHECK_MSG(hlz_decompress_file(in, out, &d, NULL, &e) == HLZ_OK, "lockstep %s, archive %d: %s",
                      lockstep[k] ? lockstep[k] : "off", a, e.message);
            back = file_contents(out, &nb);
            CHECK(nb == want[a] && memcmp(back, text, n) == 0 && (a != 1 || memcmp(back + n, text, n) == 0));
            free(back), fclose(in), fclose(out);
        }
    }
    unsetenv("HLZ_LOCKSTEP");
    /* the robust codec takes the same attention */
    o.codec = HLZ_CODEC_ROBUST, o.mismatch = 1.5, o.attention = HLZ_ATTENTION_INT8, o.threads = 1;
    unsigned char *ar;
    size_t nr;
    CHECK(compress_buffer(text, 2048, &o, &ar, &nr) == HLZ_OK);
    llm = 0;
    in = file_from(ar, nr);
    CHECK(hlz_list_file(in, &cc, NULL, &e) == HLZ_OK && llm == 2);
    fclose(in);
    in = file_from(ar, nr);
    FILE *out = tmpfile();
    CHECK_MSG(hlz_decompress_file(in, out, &d, NULL, &e) == HLZ_OK, "robust: %s", e.message);
    back = file_contents(out, &nb);
    CHECK(nb == 2048 && memcmp(back, text, 2048) == 0);
    free(back), fclose(in), fclose(out);
    free(a1), free(a3), free(af), free(ah), free(ar), free(cat), free(text);
    hlz_model_free(m);
    free(bytes);
}

static void refusals(void)
{
    hlz_error e;
    hlz_llm *llm = NULL;
    /* head dimension 16 */
    static const test_model_shape hd16 = {"llama", 64, 1, 4, 2, 96, 300, 128, HLZ_GGML_Q8_0, 11};
    uint8_t *bytes;
    hlz_model *m = tm_open(&hd16, &bytes);
    CHECK(m != NULL);
    hlz_llm_params p = {HLZ_PRIME_TEXT, 32, 8, HLZ_ATTENTION_INT8};
    CHECK(hlz_llm_create(m, &p, &llm, &e) == HLZ_ERR_UNSUPPORTED && llm == NULL);
    CHECK_MSG(strstr(e.message, "multiple of 32") && strstr(e.message, "16"), "%s", e.message);
    hlz_options o;
    hlz_options_default(&o);
    o.codec = HLZ_CODEC_LLM, o.model = m, o.attention = HLZ_ATTENTION_INT8;
    unsigned char *a;
    size_t na;
    CHECK(compress_buffer("some text", 9, &o, &a, &na) == HLZ_ERR_UNSUPPORTED);
    free(a);
    o.attention = 2;
    CHECK(compress_buffer("some text", 9, &o, &a, &na) == HLZ_ERR_PARAM);
    free(a);
    p.attention = HLZ_ATTENTION_FLOAT;
    CHECK(hlz_llm_create(m, &p, &llm, &e) == HLZ_OK); /* float is fine */
    hlz_llm_free(llm), llm = NULL;
    /* the engine refuses an int8 session of such a model too */
    int32_t tok = 1;
    float *row = malloc(m->config.n_vocab * sizeof *row);
    hlz_session *s = new_session(m, HLZ_ATTENTION_INT8);
    CHECK(s && hlz_model_eval(m, s, &tok, 1, row, &e) == HLZ_ERR_UNSUPPORTED && strstr(e.message, "multiple of 32"));
    hlz_session_free(s);
    hlz_model_free(m);
    free(bytes);
    /* a session's arithmetic is set before its first evaluation: its int8 caches start there */
    m = tm_open(&llama32, &bytes);
    CHECK(m != NULL);
    s = new_session(m, HLZ_ATTENTION_FLOAT);
    CHECK(s && hlz_model_eval(m, s, &tok, 1, row, &e) == HLZ_OK);
    s->attention = HLZ_ATTENTION_INT8;
    CHECK_MSG(hlz_model_eval(m, s, &tok, 1, row, &e) == HLZ_ERR_PARAM && strstr(e.message, "changed after"), "%s",
              e.message);
    hlz_session_free(s);
    hlz_model_free(m);
    free(bytes), free(row);
    /* more than 65535 positions, and the GPU */
    test_model_shape big = llama32;
    big.n_ctx = 65536, big.n_layer = 1;
    m = tm_open(&big, &bytes);
    CHECK(m != NULL);
    hlz_llm_params wide = {HLZ_PRIME_BOS, 65535, 0, HLZ_ATTENTION_INT8};
    CHECK(hlz_llm_create(m, &wide, &llm, &e) == HLZ_ERR_UNSUPPORTED && llm == NULL);
    CHECK_MSG(strstr(e.message, "65535 positions"), "%s", e.message);
    wide.attention = HLZ_ATTENTION_FLOAT; /* float takes the whole context */
    CHECK_MSG(hlz_llm_create(m, &wide, &llm, &e) == HLZ_OK, "%s", e.message);
    hlz_llm_free(llm), llm = NULL;
    wide.window = 65534, wide.attention = HLZ_ATTENTION_INT8; /* BOS + 65534 = 65535 positions */
    CHECK_MSG(hlz_llm_create(m, &wide, &llm, &e) == HLZ_OK, "%s", e.message);
    hlz_llm_free(llm), llm = NULL;
    hlz_model_free(m);
    free(bytes);
    /* the GPU's kernel takes heads of up to HLZ_INT8_CUDA_MAX_HEAD: one of 288 is refused there */
    static const test_model_shape hd288 = {"llama", 288, 1, 1, 1, 96, 300, 128, HLZ_GGML_Q8_0, 12};
    m = tm_open(&hd288, &bytes);
    CHECK(m != NULL);
    p.attention = HLZ_ATTENTION_INT8;
    CHECK_MSG(hlz_llm_create(m, &p, &llm, &e) == HLZ_OK, "%s", e.message); /* the CPU takes it */
    hlz_llm_free(llm), llm = NULL;
    m->cuda = (struct hlz_cuda_model *)(void *)1; /* a stand-in: the codec must refuse before using it */
    hlz_status st = hlz_llm_create(m, &p, &llm, &e);
    m->cuda = NULL;
    CHECK_MSG(st == HLZ_ERR_UNSUPPORTED && llm == NULL && strstr(e.message, "at most 256") &&
                  strstr(e.message, "--device cpu"), "%s", e.message);
    hlz_model_free(m);
    free(bytes);
}

int main(void)
{
    RUN(matches_the_definition);
    RUN(forward_invariances);
    RUN(option_round_trip);
    RUN(archives);
    RUN(refusals);
    TEST_MAIN_END();
}
