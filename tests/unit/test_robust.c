/* test_robust.c - the robust codec with the committed stand-in model: exact
 * round trips; round trips of the English ../shared/bench texts while the
 * decoder's probabilities are perturbed inside (1/C, C), by independent
 * random factors and adversarially towards the bucket edges; perturbations
 * beyond C end in an error (the codec's or the chunk checksum's), never in
 * wrong output; damaged payloads and bad parameters. */
#include "archive_util.h"
#include "robust.h"
#include "model.h"
#include "test.h"

#include <math.h>
#include <pthread.h>

static int quick(void) { return getenv("HLZ_TEST_QUICK") != NULL; }

static hlz_model *open_stand_in(void)
{
    hlz_model *m = NULL;
    hlz_error e;
    if (hlz_model_open(&m, "models/stand-in/stand-in.gguf", &e) != HLZ_OK) printf("# %s\n", e.message);
    return m;
}

/* Every text file of ../shared/bench (the binaries are not text: kennedy.xls,
 * ptt5, sum, fireworks.jpeg, geo.protodata, kppkn.gtb, paper-100k.pdf), and
 * how much of each the whole-file test codes: 0 for all of it. html_x_4 is
 * html four times over (html itself is tested whole): its first 128 KiB take
 * in the seam between the first two copies. urls.10K (702 KB, 523K stand-in
 * tokens, more than the six English texts together) is tested on its first
 * 128 KiB to keep the suite's time. */
static const struct {
    const char *name;
    size_t prefix;
} bench_texts[] = {
    {"canterbury/alice29.txt", 0}, {"canterbury/asyoulik.txt", 0}, {"canterbury/cp.html", 0},
    {"canterbury/fields.c", 0},    {"canterbury/grammar.lsp", 0},  {"canterbury/lcet10.txt", 0},
    {"canterbury/plrabn12.txt", 0}, {"canterbury/xargs.1", 0},     {"enwik/enwik4", 0},
    {"enwik/enwik5", 0},           {"snappy/html", 0},             {"snappy/html_x_4", 128 << 10},
    {"snappy/urls.10K", 128 << 10},
};
enum { BENCH_TEXTS = sizeof bench_texts / sizeof *bench_texts };

/* ---- decoder-side perturbations ---------------------------------------- */

/* RANDOM and EDGE stay strictly inside (1/C, C); BEYOND draws factors up to
 * C^4 either way, EDGE_BEYOND pushes every token 2.5 ln C towards the nearer
 * bound of its bucket. */
enum { PERTURB_RANDOM, PERTURB_EDGE, PERTURB_BEYOND, PERTURB_EDGE_BEYOND };

typedef struct {
    int mode;
    double log_c, width;     /* ln C and the bucket width ln ratio of the payload */
    unsigned long long rng;
    double worst;            /* largest |ln p - ln p'| applied */
} perturb;

static double uniform(unsigned long long *s) { return (double)(test_rand(s) >> 11) / 9007199254740992.0; }

static void perturb_hook(void *ctx, size_t at, const float *logits, double *logp, uint32_t n)
{
    perturb *p = ctx;
    (void)at, (void)logits;
    double inside = p->log_c * (1 - 1e-6); /* strictly inside (1/C, C) */
    for (uint32_t x = 0; x < n; x++) {
        if (logp[x] == -INFINITY) continue;
        double d;
        if (p->mode == PERTURB_RANDOM) {
            d = (2 * uniform(&p->rng) - 1) * inside;
        } else if (p->mode == PERTURB_EDGE || p->mode == PERTURB_EDGE_BEYOND) {
            /* Push each token to the nearer bound of its bucket and as far past
             * it as the bound allows: the most bucket crossings C permits. */
            double pos = -logp[x] / p->width, frac = pos - floor(pos);
            double by = p->mode == PERTURB_EDGE ? inside : 2.5 * p->log_c;
            d = frac < 0.5 ? by : -by;
        } else {
            d = (2 * uniform(&p->rng) - 1) * 4 * p->log_c;
        }
        logp[x] += d;
        p->worst = fabs(d) > p->worst ? fabs(d) : p->worst;
    }
}

static void set_perturb(perturb *p, int mode, const hlz_robust_params *rp, unsigned long long seed)
{
    *p = (perturb){.mode = mode, .rng = seed};
    p->log_c = log((double)rp->mismatch / HLZ_ROBUST_ONE);
    p->width = log((double)rp->ratio / HLZ_ROBUST_ONE);
    hlz_robust_set_decode_hook(perturb_hook, p);
}

/* Encodes, then decodes exactly, with random and with edge perturbations
 * inside C; all must give the text back. Returns the coded size (0: failed). */
static size_t round_trips(const hlz_llm *llm, const hlz_robust_params *rp, const uint8_t *text, size_t n,
                          hlz_robust_stats *stats, char *why, size_t why_size)
{
    size_t cap = n * 2 + 64, coded = 0;
    uint8_t *dst = malloc(cap), *back = malloc(n + 1);
    hlz_error e = {0};
    snprintf(why, why_size, "ok");
    if (hlz_robust_encode(llm, rp, text, n, dst, cap, &coded, stats, &e) != HLZ_OK) {
        snprintf(why, why_size, "encode: %s", e.message);
        coded = 0;
    }
    for (int mode = -1; coded && mode <= PERTURB_EDGE; mode++) {
        perturb p;
        if (mode >= 0) set_perturb(&p, mode, rp, 1234 + (unsigned)mode);
        hlz_status st = hlz_robust_decode(llm, dst, coded, back, n, &e);
        hlz_robust_set_decode_hook(NULL, NULL);
        if (st != HLZ_OK || memcmp(back, text, n) != 0) {
            snprintf(why, why_size, "decode (perturbation %d, C %.4g): %s", mode,
                     (double)rp->mismatch / HLZ_ROBUST_ONE, st == HLZ_OK ? "wrong bytes" : e.message);
            coded = 0;
        }
        if (mode >= 0 && !(p.worst > 0.9 * p.log_c)) {
            snprintf(why, why_size, "perturbation %d only reached %.3g of ln C %.3g", mode, p.worst, p.log_c);
            coded = 0;
        }
    }
    free(dst), free(back);
    return coded;
}

static void layout_and_exact_round_trips(void)
{
    hlz_model *m = open_stand_in();
    CHECK(m != NULL);
    hlz_llm_params lp;
    hlz_llm_params_default(m, &lp);
    lp.window = 40, lp.carry = 8; /* several windows in a short text */
    hlz_llm *llm;
    hlz_error e;
    CHECK_MSG(hlz_llm_create(m, &lp, &llm, &e) == HLZ_OK, "%s", e.message);
    static const char odd[] = "\xff\xfe bytes \xc3 and NUL \0 inside, and some plain words after them.";
    const char *texts[] = {"a", "Once upon a time there was a little girl.\r\nShe liked to play.\r\n", odd};
    size_t sizes[] = {1, strlen(texts[1]), sizeof odd - 1};
    double cs[] = {1.01, 2, 10.0 / 3, 1000};
    for (int c = 0; c < 4; c++)
        for (int t = 0; t < 3; t++) {
            hlz_robust_params rp;
            CHECK(hlz_robust_params_default(cs[c], &rp) == 0);
            rp.seed = (uint32_t)(c * 7 + t);
            static const uint8_t codes[4] = {HLZ_ROBUST_CODE_UNARY, HLZ_ROBUST_CODE_HUFFMAN, HLZ_ROBUST_CODE_ADAPTIVE,
                                             HLZ_ROBUST_CODE_AUTO};
            rp.code = codes[(c + t) % 4];
            char why[512];
            hlz_robust_stats stats;
            size_t coded = round_trips(llm, &rp, (const uint8_t *)texts[t], sizes[t], &stats, why, sizeof why);
            CHECK_MSG(coded > 0, "C %g text %d: %s", cs[c], t, why);
            /* The stream is exactly the bucket codes and prefixes, and the
             * payload records what was used. */
            CHECK(stats.tokens >= 1 && stats.prefix_bits >= stats.tokens);
            hlz_robust_params got;
            uint64_t tokens;
            double bits;
            size_t cap = sizes[t] * 2 + 64, n2;
            uint8_t *dst = malloc(cap);
            CHECK(hlz_robust_encode(llm, &rp, (const uint8_t *)texts[t], sizes[t], dst, cap, &n2, NULL, &e) == HLZ_OK);
            CHECK(n2 == coded);
            CHECK(hlz_robust_payload_info(dst, n2, &got, &tokens, &bits, &e) == HLZ_OK);
            CHECK(got.mismatch == rp.mismatch && got.ratio == rp.ratio && got.buckets == rp.buckets &&
                  got.seed == rp.seed && tokens == stats.tokens && got.code == stats.code &&
                  (rp.code == HLZ_ROBUST_CODE_AUTO || got.code == rp.code));
            size_t h = n2 - (size_t)((stats.bucket_bits + stats.prefix_bits + 7) / 8);
            size_t lengths_size = got.code == HLZ_ROBUST_CODE_HUFFMAN ? got.buckets : 0;
            CHECK_MSG(h >= 3 + HLZ_ROBUST_HEAD_SIZE + lengths_size && h <= 30 + HLZ_ROBUST_HEAD_SIZE + lengths_size,
                      "head of %zu bytes", h);
            /* Damage: a cut stream, one more byte, a flipped bit, a wrong size. */
            uint8_t *back = malloc(sizes[t] + 8);
            CHECK(hlz_robust_decode(llm, dst, n2 - 1, back, sizes[t], &e) != HLZ_OK);
            dst[n2] = 0x80;
            CHECK(hlz_robust_decode(llm, dst, n2 + 1, back, sizes[t], &e) == HLZ_ERR_CORRUPT);
            dst[h] ^= 0x40;
            hlz_status st = hlz_robust_decode(llm, dst, n2, back, sizes[t], &e);
            CHECK(st != HLZ_OK || memcmp(back, texts[t], sizes[t]) != 0);
            dst[h] ^= 0x40;
            CHECK(hlz_robust_decode(llm, dst, n2, back, sizes[t] + 1, &e) == HLZ_ERR_CORRUPT);
            if (got.code == HLZ_ROBUST_CODE_ADAPTIVE) { /* a bucket stream size past the payload, or one short */
                size_t size_at = h - 1; /* a one-byte varint S just before the rANS stream */
                CHECK(dst[size_at] == stats.bucket_bits / 8 && dst[size_at] < 0x80);
                uint8_t keep = dst[size_at];
                dst[size_at] = 0x7f;
                CHECK(hlz_robust_decode(llm, dst, n2, back, sizes[t], &e) == HLZ_ERR_CORRUPT);
                dst[size_at] = (uint8_t)(keep - 1);
                CHECK(hlz_robust_decode(llm, dst, n2, back, sizes[t], &e) == HLZ_ERR_CORRUPT);
                dst[size_at] = keep;
                CHECK(hlz_robust_decode(llm, dst, n2, back, sizes[t], &e) == HLZ_OK);
            }
            if (got.code == HLZ_ROBUST_CODE_HUFFMAN) { /* code lengths that are no prefix code */
                size_t lengths = h - got.buckets;
                uint8_t keep = dst[lengths];
                dst[lengths] = 31;
                CHECK(hlz_robust_decode(llm, dst, n2, back, sizes[t], &e) == HLZ_ERR_CORRUPT);
                dst[lengths] = keep;
                CHECK(hlz_robust_decode(llm, dst, n2, back, sizes[t], &e) == HLZ_OK);
            }
            free(dst), free(back);
        }
    /* Bad parameters: C <= 1, an unknown bucket code, too many buckets. */
    hlz_robust_params rp;
    CHECK(hlz_robust_params_default(1.0, &rp) != 0 && hlz_robust_params_default(NAN, &rp) != 0 &&
          hlz_robust_params_default(1.000001, &rp) != 0);
    CHECK(hlz_robust_params_default(2, &rp) == 0 && rp.mismatch == 2 * HLZ_ROBUST_ONE);
    rp.code = 9;
    CHECK(hlz_robust_params_check(&rp, &e) == HLZ_ERR_VERSION);
    rp.code = 0, rp.buckets = HLZ_ROBUST_BUCKETS_MAX + 1;
    CHECK(hlz_robust_params_check(&rp, &e) == HLZ_ERR_CORRUPT);
    hlz_llm_free(llm);
    hlz_model_free(m);
}

/* Reads the first `take` bytes of a bench text (all of it when take is 0);
 * *whole (may be NULL) says whether that is the whole file. */
static uint8_t *read_bench_text(const char *dir, const char *name, size_t take, size_t *size, int *whole)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    uint8_t *text = test_read_file(path, size);
    if (whole) *whole = !(take && *size > take);
    if (text && take && *size > take) *size = take;
    return text;
}

/* Every text of ../shared/bench: the start of each (3 KiB; 1 KiB of two
 * under HLZ_TEST_QUICK) through hlz_robust_decode itself (the decode hook
 * perturbs inside (1/C, C)), for several C and bucket layouts. */
static void bench_texts_under_mismatch(void)
{
    const char *dir = test_bench_dir();
    if (!dir) SKIP("../shared/bench is absent");
    hlz_model *m = open_stand_in();
    CHECK(m != NULL);
    hlz_llm_params lp;
    hlz_llm_params_default(m, &lp);
    hlz_llm *llm;
    hlz_error e;
    CHECK_MSG(hlz_llm_create(m, &lp, &llm, &e) == HLZ_OK, "%s", e.message);
    int count = quick() ? 2 : BENCH_TEXTS;
    size_t take = quick() ? 1024 : 3072;
    for (int f = 0; f < count; f++) {
        size_t n;
        uint8_t *text = read_bench_text(dir, bench_texts[f].name, take, &n, NULL);
        CHECK_MSG(text != NULL, "%s/%s missing", dir, bench_texts[f].name);
        /* C cycles through the values; the ratio through 8 and the
         * seed analysis's 1/0.092; the bucket code through the three and AUTO. */
        static const double cs[] = {1.01, 1.1, 1.5, 2, 10.0 / 3};
        double c = cs[f % 5];
        hlz_robust_params rp;
        CHECK(hlz_robust_params_default(c, &rp) == 0);
        if (f % 2) rp.ratio = (uint32_t)(HLZ_ROBUST_ONE / 0.092), rp.buckets = 40;
        rp.code = f % 4 == 3 ? HLZ_ROBUST_CODE_AUTO : (uint8_t)(f % 4);
        char why[512];
        hlz_robust_stats stats;
        size_t coded = round_trips(llm, &rp, text, n, &stats, why, sizeof why);
        free(text);
        CHECK_MSG(coded > 0, "%s: %s", bench_texts[f].name, why);
        printf("# %s: %zu bytes, %llu tokens, C %.4g, code %u: %.3f bits/token (%.3f model), %.3f bpb\n",
               bench_texts[f].name, n, (unsigned long long)stats.tokens, c, stats.code, 8.0 * coded / stats.tokens,
               stats.model_bits / stats.tokens, 8.0 * coded / n);
    }
    hlz_llm_free(llm);
    hlz_model_free(m);
}

/* ---- whole files: every text of ../shared/bench, start to end -----------
 * Decoding a text once per perturbation would cost a model pass each. By the
 * determinism contract the logits for a position are the same whether the
 * model evaluates it in a batch or step by step, and a decoder that has
 * decoded every token so far has exactly the encoder's context. So one walk
 * over the true tokens feeds every encoder (one per setting), and a second
 * walk over them hands the same ln p to every decoder, each perturbing its
 * own copy: a decoder that deviates from the true token fails the test at
 * that token. The decoders are the ones hlz_robust_decode runs. */

enum { WHOLE_SETTINGS = 5, WHOLE_MODES = 3 }; /* modes: none, random, edge */

typedef struct {
    const char *name;
    uint8_t *text;
    size_t size;
    const hlz_llm *llm;
    hlz_robust_params rp[WHOLE_SETTINGS];
    hlz_robust_encoder *enc[WHOLE_SETTINGS];
    hlz_robust_decoder *dec[WHOLE_SETTINGS][WHOLE_MODES];
    perturb p[WHOLE_SETTINGS][WHOLE_MODES];
    uint8_t *payload[WHOLE_SETTINGS];
    size_t coded[WHOLE_SETTINGS];
    hlz_robust_stats stats[WHOLE_SETTINGS];
    int32_t *ids;
    size_t n;
    unsigned flags;
    int whole;      /* the whole file, not a prefix */
    double *logp, *mine;
    char why[512];  /* the first failure, "" when none */
} whole_file;

static void whole_fail(whole_file *w, const char *what, int s, int mode, size_t at, const char *msg)
{
    if (!w->why[0])
        snprintf(w->why, sizeof w->why, "%s: %s (C %.4g, code %u, perturbation %d) at token %zu: %s", w->name, what,
                 (double)w->rp[s].mismatch / HLZ_ROBUST_ONE, w->stats[s].code, mode - 1, at, msg);
}

static void whole_encode(void *ctx, const float *logits, int32_t token, size_t at)
{
    whole_file *w = ctx;
    (void)at;
    hlz_robust_log_softmax(logits, hlz_llm_vocab(w->llm), w->logp);
    for (int s = 0; s < WHOLE_SETTINGS; s++) hlz_robust_encoder_put(w->enc[s], logits, w->logp, token);
}

static void whole_decode(void *ctx, const float *logits, int32_t token, size_t at)
{
    whole_file *w = ctx;
    uint32_t n_vocab = hlz_llm_vocab(w->llm);
    hlz_robust_log_softmax(logits, n_vocab, w->logp);
    for (int s = 0; s < WHOLE_SETTINGS; s++)
        for (int mode = 0; mode < WHOLE_MODES; mode++) {
            if (!w->dec[s][mode]) continue;
            memcpy(w->mine, w->logp, n_vocab * sizeof *w->mine);
            if (mode > 0) perturb_hook(&w->p[s][mode], at, logits, w->mine, n_vocab);
            int32_t got = -1;
            hlz_error e = {0};
            if (hlz_robust_decoder_get(w->dec[s][mode], w->mine, &got, &e) != HLZ_OK || got != token) {
                whole_fail(w, "decode", s, mode, at, got == -1 ? e.message : "wrong token");
                hlz_robust_decoder_free(w->dec[s][mode]);
                w->dec[s][mode] = NULL;
            }
        }
}

/* Encodes and decodes one whole file under every setting and perturbation;
 * w->why stays empty when all round-trip. */
static void *whole_run(void *arg)
{
    whole_file *w = arg;
    hlz_error e = {0};
    uint32_t n_vocab = hlz_llm_vocab(w->llm);
    w->logp = malloc(n_vocab * sizeof *w->logp), w->mine = malloc(n_vocab * sizeof *w->mine);
    if (hlz_llm_tokenize(w->llm, w->text, w->size, &w->ids, &w->n, &w->flags, &e) != HLZ_OK) {
        snprintf(w->why, sizeof w->why, "%s: tokenize: %s", w->name, e.message);
        return NULL;
    }
    for (int s = 0; s < WHOLE_SETTINGS; s++)
        if (hlz_robust_encoder_create(&w->rp[s], n_vocab, w->n, &w->enc[s], &e) != HLZ_OK) {
            snprintf(w->why, sizeof w->why, "%s: encoder: %s", w->name, e.message);
            return NULL;
        }
    if (hlz_llm_walk_encode(w->llm, w->ids, w->n, whole_encode, w, &e) != HLZ_OK) {
        snprintf(w->why, sizeof w->why, "%s: walk: %s", w->name, e.message);
        return NULL;
    }
    for (int s = 0; s < WHOLE_SETTINGS; s++) {
        size_t cap = w->size * 2 + 64;
        w->payload[s] = malloc(cap);
        if (hlz_robust_encoder_finish(w->enc[s], w->flags, w->payload[s], cap, &w->coded[s], &w->stats[s], &e) != HLZ_OK) {
            snprintf(w->why, sizeof w->why, "%s: encode: %s", w->name, e.message);
            return NULL;
        }
        for (int mode = 0; mode < WHOLE_MODES; mode++) {
            perturb *p = &w->p[s][mode];
            *p = (perturb){.mode = mode == 1 ? PERTURB_RANDOM : PERTURB_EDGE, .rng = 777 + (unsigned)(s * 3 + mode)};
            p->log_c = log((double)w->rp[s].mismatch / HLZ_ROBUST_ONE);
            p->width = log((double)w->rp[s].ratio / HLZ_ROBUST_ONE);
            if (hlz_robust_decoder_create(w->payload[s], w->coded[s], w->size, n_vocab, &w->dec[s][mode], NULL, &e) != HLZ_OK) {
                snprintf(w->why, sizeof w->why, "%s: decoder: %s", w->name, e.message);
                return NULL;
            }
        }
    }
    if (hlz_llm_walk_encode(w->llm, w->ids, w->n, whole_decode, w, &e) != HLZ_OK) {
        snprintf(w->why, sizeof w->why, "%s: walk: %s", w->name, e.message);
        return NULL;
    }
    uint8_t *back = malloc(w->size + 1);
    for (int s = 0; s < WHOLE_SETTINGS; s++) {
        for (int mode = 0; mode < WHOLE_MODES; mode++) {
            if (!w->dec[s][mode]) continue;
            if (hlz_robust_decoder_finish(w->dec[s][mode], &e) != HLZ_OK) whole_fail(w, "finish", s, mode, w->n, e.message);
            /* the untokenizing step of hlz_robust_decode, on what every decoder gave back (the true tokens) */
            unsigned flags = hlz_robust_decoder_flags(w->dec[s][mode]);
            if (hlz_llm_untokenize(w->llm, w->ids, w->n, flags, back, w->size, &e) != HLZ_OK ||
                memcmp(back, w->text, w->size) != 0)
                whole_fail(w, "untokenize", s, mode, w->n, "not the text");
            if (mode > 0 && !(w->p[s][mode].worst > 0.9 * w->p[s][mode].log_c))
                whole_fail(w, "perturbation too small", s, mode, w->n, "");
            hlz_robust_decoder_free(w->dec[s][mode]);
        }
        hlz_robust_encoder_free(w->enc[s]);
    }
    free(back);
    return NULL;
}

/* The files of whole_bench_texts_under_mismatch, largest first, taken by
 * two threads (the suite's machines have two cores) from a shared queue. */
typedef struct {
    whole_file *w;
    int *order, count, next;
    pthread_mutex_t lock;
} whole_queue;

static void *whole_worker(void *arg)
{
    whole_queue *q = arg;
    for (;;) {
        pthread_mutex_lock(&q->lock);
        int i = q->next < q->count ? q->order[q->next++] : -1;
        pthread_mutex_unlock(&q->lock);
        if (i < 0) return NULL;
        whole_run(&q->w[i]);
    }
}

static void whole_bench_texts_under_mismatch(void)
{
    const char *dir = test_bench_dir();
    if (!dir) SKIP("../shared/bench is absent");
    hlz_model *m = open_stand_in();
    CHECK(m != NULL);
    hlz_llm_params lp;
    hlz_llm_params_default(m, &lp);
    hlz_llm *llm;
    hlz_error e;
    CHECK_MSG(hlz_llm_create(m, &lp, &llm, &e) == HLZ_OK, "%s", e.message);
    static whole_file w[BENCH_TEXTS];
    static int order[BENCH_TEXTS];
    int count = quick() ? 2 : BENCH_TEXTS;
    size_t bytes = 0, tokens = 0;
    for (int f = 0; f < count; f++) {
        w[f] = (whole_file){.name = bench_texts[f].name, .llm = llm};
        w[f].text = read_bench_text(dir, bench_texts[f].name, quick() ? 4096 : bench_texts[f].prefix, &w[f].size,
                                     &w[f].whole);
        CHECK_MSG(w[f].text != NULL, "%s/%s missing", dir, bench_texts[f].name);
        /* Each file: the five C; the three bucket codes and the two
         * ratios (8, and the seed analysis's 1/0.092) take turns. */
        static const double cs[WHOLE_SETTINGS] = {1.01, 1.1, 1.5, 2, 10.0 / 3};
        for (int s = 0; s < WHOLE_SETTINGS; s++) {
            CHECK(hlz_robust_params_default(cs[s], &w[f].rp[s]) == 0);
            w[f].rp[s].code = (uint8_t)((f + s) % HLZ_ROBUST_CODE_COUNT);
            w[f].rp[s].seed = (uint32_t)(f * 16 + s);
            if ((f + s) % 2) w[f].rp[s].ratio = (uint32_t)(HLZ_ROBUST_ONE / 0.092), w[f].rp[s].buckets = 40;
        }
        /* insertion by size, largest first */
        int at = f;
        while (at > 0 && w[order[at - 1]].size < w[f].size) order[at] = order[at - 1], at--;
        order[at] = f;
    }
    whole_queue q = {.w = w, .order = order, .count = count};
    pthread_mutex_init(&q.lock, NULL);
    pthread_t t;
    int threaded = pthread_create(&t, NULL, whole_worker, &q) == 0;
    whole_worker(&q);
    if (threaded) pthread_join(t, NULL);
    pthread_mutex_destroy(&q.lock);
    for (int f = 0; f < count; f++) {
        CHECK_MSG(w[f].why[0] == 0, "%s", w[f].why);
        bytes += w[f].size, tokens += w[f].n;
        for (int s = 0; s < WHOLE_SETTINGS; s++) {
            printf("# %s %s (%zu bytes, %zu tokens), C %.4g, ratio %.4g, code %u: %.3f bits/token, %.3f bpb; "
                   "decoded exactly, with random and with edge perturbations\n",
                   w[f].name, w[f].whole ? "whole" : "prefix", w[f].size, w[f].n,
                   (double)w[f].rp[s].mismatch / HLZ_ROBUST_ONE, (double)w[f].rp[s].ratio / HLZ_ROBUST_ONE,
                   w[f].stats[s].code, 8.0 * w[f].coded[s] / w[f].n, 8.0 * w[f].coded[s] / w[f].size);
            CHECK(w[f].stats[s].code == w[f].rp[s].code && w[f].stats[s].tokens == w[f].n);
            free(w[f].payload[s]);
        }
        free(w[f].text), free(w[f].ids), free(w[f].logp), free(w[f].mine);
    }
    printf("# %d texts, %zu bytes, %zu tokens: %d decodes of every token, all exact\n", count, bytes, tokens,
           count * WHOLE_SETTINGS * WHOLE_MODES);
    hlz_llm_free(llm);
    hlz_model_free(m);
}

/* Archives: robust chunks list C, auto never picks robust, and decoding with
 * perturbations far beyond C fails with an error, never wrong output. */
static int count_robust(void *user, const hlz_chunk_info *c)
{
    int *k = user;
    if (c->codec == HLZ_CODEC_ROBUST && c->tokens > 0 && fabs(c->mismatch - 1.5) < 1e-4) k[0]++;
    if (c->codec == HLZ_CODEC_ROBUST) k[1]++;
    return 0;
}

static hlz_status decode_archive(const uint8_t *a, size_t size, hlz_model *m, uint8_t **out, size_t *out_size,
                                 hlz_error *e)
{
    FILE *in = file_from(a, size), *o = tmpfile();
    hlz_options opt;
    hlz_options_default(&opt);
    opt.model = m;
    hlz_status st = hlz_decompress_file(in, o, &opt, NULL, e);
    *out = file_contents(o, out_size);
    fclose(in), fclose(o);
    return st;
}

static void archives_and_mismatch_beyond_c(void)
{
    hlz_model *m = open_stand_in();
    CHECK(m != NULL);
    size_t n = quick() ? 1500 : 4000;
    uint8_t *text = malloc(n);
    static const char prose[] = "Tom had a red ball. He threw it to his sister, and she laughed and ran after it. ";
    for (size_t i = 0; i < n; i++) text[i] = (uint8_t)prose[i % (sizeof prose - 1)];
    hlz_options o;
    hlz_options_default(&o);
    o.model = m, o.chunk_size = 1024, o.codec = HLZ_CODEC_ROBUST, o.mismatch = 1.5;
    uint8_t *a, *back;
    size_t a_size, back_size;
    CHECK(compress_buffer(text, n, &o, &a, &a_size) == HLZ_OK);
    int k[2] = {0, 0};
    hlz_list_callbacks cb = {.on_chunk = count_robust, .user = k};
    FILE *in = file_from(a, a_size);
    CHECK(hlz_list_file(in, &cb, NULL, NULL) == HLZ_OK);
    fclose(in);
    CHECK_MSG(k[0] == (int)((n + 1023) / 1024), "%d robust chunks listed with C", k[0]);
    hlz_error e;
    CHECK_MSG(decode_archive(a, a_size, m, &back, &back_size, &e) == HLZ_OK, "%s", e.message);
    CHECK(back_size == n && memcmp(back, text, n) == 0);
    free(back);
    /* Beyond C: factors up to C^4 either way. Every trial must fail, or give
     * the exact text back; here all fail (else the test would prove nothing). */
    hlz_robust_params rp;
    hlz_robust_params_default(1.5, &rp);
    int failed = 0, checksum = 0, trials = quick() ? 2 : 4;
    for (int t = 0; t < trials; t++) {
        perturb p;
        set_perturb(&p, PERTURB_BEYOND, &rp, 99 + (unsigned)t);
        hlz_status st = decode_archive(a, a_size, m, &back, &back_size, &e);
        hlz_robust_set_decode_hook(NULL, NULL);
        CHECK_MSG(st == HLZ_ERR_CORRUPT || st == HLZ_ERR_CHECKSUM || (st == HLZ_OK && back_size == n &&
                  memcmp(back, text, n) == 0), "trial %d: status %d", t, (int)st);
        failed += st != HLZ_OK;
        checksum += st == HLZ_ERR_CHECKSUM;
        free(back);
    }
    printf("# beyond C: %d of %d decodes failed (%d by the chunk checksum)\n", failed, trials, checksum);
    CHECK(failed == trials);
    /* auto never chooses robust, even with a mismatch set. */
    o.codec = HLZ_CODEC_AUTO;
    free(a);
    CHECK(compress_buffer(text, n, &o, &a, &a_size) == HLZ_OK);
    k[0] = k[1] = 0;
    in = file_from(a, a_size);
    CHECK(hlz_list_file(in, &cb, NULL, NULL) == HLZ_OK);
    fclose(in);
    CHECK(k[1] == 0);
    /* robust needs a model and a mismatch. */
    o.codec = HLZ_CODEC_ROBUST, o.mismatch = 1.0;
    free(a);
    CHECK(compress_buffer(text, n, &o, &a, &a_size) == HLZ_ERR_PARAM);
    o.mismatch = 2, o.model = NULL;
    free(a);
    CHECK(compress_buffer(text, n, &o, &a, &a_size) == HLZ_ERR_PARAM);
    free(a), free(text);
    hlz_model_free(m);
}

/* Every text of ../shared/bench (the first 3 KiB; 1 KiB of two under
 * HLZ_TEST_QUICK) decoded with probabilities perturbed beyond C: random
 * factors up to C^4, and every token pushed 2.5 ln C towards the nearer edge
 * of its bucket. First the codec alone (hlz_robust_decode): it must not give
 * the text back (else the test proves nothing); it either fails or returns
 * other bytes, which are the chunk checksum's to catch. Then the archive, in
 * chunks of 1 KiB: every decode must end in an error (the codec's or the
 * chunk checksum's) or give the exact text, what it wrote before the error
 * must be the text's start, and at least one must fail. (With the stand-in
 * model some texts do not shrink under robust, so hlz stores their chunks;
 * those archives have no robust chunk to test and are counted apart.) */
static int count_robust_chunks(void *user, const hlz_chunk_info *c)
{
    *(int *)user += c->codec == HLZ_CODEC_ROBUST;
    return 0;
}

static void bench_texts_beyond_c(void)
{
    const char *dir = test_bench_dir();
    if (!dir) SKIP("../shared/bench is absent");
    hlz_model *m = open_stand_in();
    CHECK(m != NULL);
    hlz_llm_params lp;
    hlz_llm_params_default(m, &lp);
    hlz_llm *llm;
    hlz_error e = {0};
    CHECK_MSG(hlz_llm_create(m, &lp, &llm, &e) == HLZ_OK, "%s", e.message);
    int count = quick() ? 2 : BENCH_TEXTS, codec_failed = 0, codec_wrong = 0, failed = 0, checksum = 0, trials = 0;
    int stored = 0;
    size_t take = quick() ? 1024 : 3072;
    static const int modes[] = {PERTURB_BEYOND, PERTURB_EDGE_BEYOND};
    for (int f = 0; f < count; f++) {
        size_t n, a_size, back_size, coded;
        uint8_t *text = read_bench_text(dir, bench_texts[f].name, take, &n, NULL), *a, *back;
        CHECK_MSG(text != NULL, "%s/%s missing", dir, bench_texts[f].name);
        static const double cs[] = {1.1, 1.5, 2, 10.0 / 3};
        double c = cs[f % 4];
        hlz_robust_params rp;
        CHECK(hlz_robust_params_default(c, &rp) == 0);
        /* the codec alone */
        uint8_t *dst = malloc(2 * n + 64);
        back = malloc(n);
        CHECK(hlz_robust_encode(llm, &rp, text, n, dst, 2 * n + 64, &coded, NULL, &e) == HLZ_OK);
        for (int t = 0; t < 2; t++) {
            perturb p;
            set_perturb(&p, modes[t], &rp, 2468 + (unsigned)(f * 2 + t));
            hlz_status st = hlz_robust_decode(llm, dst, coded, back, n, &e);
            hlz_robust_set_decode_hook(NULL, NULL);
            CHECK_MSG(st == HLZ_ERR_CORRUPT || st == HLZ_OK, "%s: status %d", bench_texts[f].name, (int)st);
            CHECK_MSG(st != HLZ_OK || memcmp(back, text, n) != 0,
                      "%s, C %g, perturbation %d: decoded exactly beyond C (the test proves nothing)",
                      bench_texts[f].name, c, modes[t]);
            CHECK(p.worst > 2 * p.log_c);
            codec_failed += st != HLZ_OK;
            codec_wrong += st == HLZ_OK;
        }
        free(dst), free(back);
        /* the archive */
        hlz_options o;
        hlz_options_default(&o);
        o.model = m, o.chunk_size = 1024, o.codec = HLZ_CODEC_ROBUST, o.mismatch = c;
        CHECK(compress_buffer(text, n, &o, &a, &a_size) == HLZ_OK);
        int robust_chunks = 0, text_failed = 0;
        hlz_list_callbacks cb = {.on_chunk = count_robust_chunks, .user = &robust_chunks};
        FILE *in = file_from(a, a_size);
        CHECK(hlz_list_file(in, &cb, NULL, NULL) == HLZ_OK);
        fclose(in);
        stored += robust_chunks == 0;
        for (int t = 0; robust_chunks && t < 2; t++) {
            perturb p;
            set_perturb(&p, modes[t], &rp, 4321 + (unsigned)(f * 2 + t));
            hlz_status st = decode_archive(a, a_size, m, &back, &back_size, &e);
            hlz_robust_set_decode_hook(NULL, NULL);
            CHECK_MSG(st == HLZ_ERR_CORRUPT || st == HLZ_ERR_CHECKSUM ||
                      (st == HLZ_OK && back_size == n && memcmp(back, text, n) == 0),
                      "%s, C %g, perturbation %d: status %d (%s)", bench_texts[f].name, c, modes[t], (int)st,
                      e.message);
            CHECK_MSG(back_size <= n && memcmp(back, text, back_size) == 0,
                      "%s, C %g, perturbation %d: %zu bytes written that are not the text's start",
                      bench_texts[f].name, c, modes[t], back_size);
            CHECK(p.worst > 2 * p.log_c);
            text_failed += st != HLZ_OK;
            checksum += st == HLZ_ERR_CHECKSUM;
            trials++;
            free(back);
        }
        CHECK_MSG(!robust_chunks || text_failed > 0, "%s: every archive decode beyond C %g gave the text back",
                  bench_texts[f].name, c);
        failed += text_failed;
        free(a), free(text);
    }
    printf("# beyond C, %d texts: the codec failed %d and returned other bytes %d times of %d; archives "
           "(%d texts, %d with no robust chunk): %d of %d decodes failed (%d by the chunk checksum), none gave "
           "wrong output\n",
           count, codec_failed, codec_wrong, 2 * count, count - stored, stored, failed, trials, checksum);
    hlz_llm_free(llm);
    hlz_model_free(m);
}

/* A wrong token that the codec cannot notice: at the last token of a
 * chunk the decoder's probabilities are changed far beyond C (the true
 * token's to 0, another token's to the true token's), choosing that other
 * token among those whose longform makes the decoder take it with exactly
 * the bits of the true one and whose text has the same length, so that the
 * stream ends where it should and the chunk has the right size. Only the
 * chunk checksum stands between it and wrong output: the archive decode must
 * fail with HLZ_ERR_CHECKSUM and write nothing of the chunk. */
typedef struct {
    size_t at;
    int32_t from, to;
    int hits;
} token_swap;
static token_swap swap;

static void swap_hook(void *ctx, size_t at, const float *logits, double *logp, uint32_t n)
{
    (void)ctx, (void)logits, (void)n;
    if (at != swap.at) return;
    logp[swap.to] = logp[swap.from];
    logp[swap.from] = -INFINITY;
    swap.hits++;
}

typedef struct {
    hlz_robust_encoder *enc;
    double *logp; /* every position's ln p, n x n_vocab */
    uint32_t n_vocab;
} recorder;

static void record_token(void *ctx, const float *logits, int32_t token, size_t at)
{
    recorder *r = ctx;
    double *lp = r->logp + at * r->n_vocab;
    hlz_robust_log_softmax(logits, r->n_vocab, lp);
    hlz_robust_encoder_put(r->enc, logits, lp, token);
}

static void wrong_token_caught_by_checksum(void)
{
    hlz_model *m = open_stand_in();
    CHECK(m != NULL);
    hlz_llm_params lp;
    hlz_llm_params_default(m, &lp);
    hlz_llm *llm;
    hlz_error e = {0};
    CHECK_MSG(hlz_llm_create(m, &lp, &llm, &e) == HLZ_OK, "%s", e.message);
    static const char prose[] = "Tom had a red ball. He threw it to his sister, and she laughed and ran after it. "
                                "Then the dog came and took the ball away, and they all ran after the dog.";
    const uint8_t *text = (const uint8_t *)prose;
    size_t size = sizeof prose - 1, n, coded;
    int32_t *ids;
    unsigned flags;
    CHECK(hlz_llm_tokenize(llm, text, size, &ids, &n, &flags, &e) == HLZ_OK && n > 2);
    uint32_t V = hlz_llm_vocab(llm);
    hlz_robust_params rp;
    CHECK(hlz_robust_params_default(2, &rp) == 0); /* what hlz --codec robust --mismatch 2 uses */
    recorder r = {.logp = malloc(n * V * sizeof(double)), .n_vocab = V};
    CHECK(hlz_robust_encoder_create(&rp, V, n, &r.enc, &e) == HLZ_OK);
    CHECK(hlz_llm_walk_encode(llm, ids, n, record_token, &r, &e) == HLZ_OK);
    uint8_t *payload = malloc(2 * size + 64), *back = malloc(size);
    CHECK(hlz_robust_encoder_finish(r.enc, flags, payload, 2 * size + 64, &coded, NULL, &e) == HLZ_OK);
    /* The replacement: same text length, decoded from exactly the true token's bits. */
    int32_t truth = ids[n - 1], found = -1;
    double *mine = malloc(V * sizeof *mine);
    for (int32_t x = 0; x < (int32_t)V && found < 0; x++) {
        if (x == truth) continue;
        ids[n - 1] = x;
        int same_length = hlz_llm_untokenize(llm, ids, n, flags, back, size, &e) == HLZ_OK && memcmp(back, text, size);
        ids[n - 1] = truth;
        if (!same_length) continue;
        hlz_robust_decoder *d;
        CHECK(hlz_robust_decoder_create(payload, coded, size, V, &d, NULL, &e) == HLZ_OK);
        int32_t got = -1;
        int ok = 1;
        for (size_t i = 0; ok && i + 1 < n; i++) ok = hlz_robust_decoder_get(d, r.logp + i * V, &got, &e) == HLZ_OK && got == ids[i];
        CHECK(ok); /* the true tokens, up to the last */
        memcpy(mine, r.logp + (n - 1) * V, V * sizeof *mine);
        swap = (token_swap){.at = n - 1, .from = truth, .to = x};
        swap_hook(NULL, n - 1, NULL, mine, V);
        if (hlz_robust_decoder_get(d, mine, &got, &e) == HLZ_OK && got == x && hlz_robust_decoder_finish(d, &e) == HLZ_OK)
            found = x;
        hlz_robust_decoder_free(d);
    }
    CHECK_MSG(found >= 0, "no replacement token for the last of %zu tokens", n);
    /* The archive: one robust chunk; decoded as it is, then with the swap. */
    hlz_options o;
    hlz_options_default(&o);
    o.model = m, o.codec = HLZ_CODEC_ROBUST, o.mismatch = 2;
    uint8_t *a, *out;
    size_t a_size, out_size;
    CHECK(compress_buffer(text, size, &o, &a, &a_size) == HLZ_OK);
    CHECK(decode_archive(a, a_size, m, &out, &out_size, &e) == HLZ_OK && out_size == size && !memcmp(out, text, size));
    free(out);
    swap = (token_swap){.at = n - 1, .from = truth, .to = found};
    hlz_robust_set_decode_hook(swap_hook, NULL);
    hlz_status st = decode_archive(a, a_size, m, &out, &out_size, &e);
    hlz_robust_set_decode_hook(NULL, NULL);
    CHECK_MSG(swap.hits == 1, "the hook ran %d times at the last token", swap.hits);
    CHECK_MSG(st == HLZ_ERR_CHECKSUM, "status %d (%s)", (int)st, e.message);
    CHECK_MSG(out_size == 0, "%zu bytes written", out_size);
    printf("# token %d (of %zu) replaced by %d: same bits, same length; the chunk checksum rejected it: %s\n",
           truth, n, found, e.message);
    free(out), free(a), free(payload), free(back), free(mine), free(r.logp), free(ids);
    hlz_robust_encoder_free(r.enc);
    hlz_llm_free(llm);
    hlz_model_free(m);
}

int main(void)
{
    RUN(layout_and_exact_round_trips);
    RUN(bench_texts_under_mismatch);
    RUN(whole_bench_texts_under_mismatch);
    RUN(archives_and_mismatch_beyond_c);
    RUN(bench_texts_beyond_c);
    RUN(wrong_token_caught_by_checksum);
    TEST_MAIN_END();
}
