/*
 * engine_bench.c - speed of the inference engine on this machine (a
 * benchmark, not a test: `make bench-engine` builds and runs it).
 *
 * 1. The int8 peak of this CPU: a loop of independent vpdpbusd (AVX-512
 *    VNNI, 512 and 256 bits) and of the AVX2 maddubs + madd + add sequence,
 *    on 1 thread and on every thread. The 512-bit VNNI figure is "the peak".
 * 1b. Each kernel set's matmul_q8_0 alone on the matrix shapes of
 *    SmolLM2-135M, 1 thread, 1 to 128 tokens: GMAC/s and % of peak.
 * 2. Tokens per second of the forward pass for
 *      (a) stories260K, converted with build/hlz-convert llama2c from
 *          ../shared/models/stories260K (skipped when absent), and
 *      (b) a random Q8_0 model of SmolLM2-135M's shape (hidden 576, 30
 *          layers, 9 heads, 3 KV heads, FFN 1536, vocabulary 49152) built in
 *          memory with the GGUF writer (tests/unit/model_util.h);
 *    in prefill (N tokens in one hlz_model_eval, logits for every token, as
 *    the compressor needs them) and per step (one token per call, with the
 *    key/value cache), with -T 1 and -T 2, the median of a few repeats.
 * 3. Where the time goes: the bench is linked with
 *    -Wl,--wrap=hlz_parallel_for, so every parallel region of the forward
 *    pass is timed (wall clock). Regions run once per layer are the
 *    attention; the others (7 per layer + 1 for the logits) are the matrix
 *    products; the remainder of the eval time (norms, quantization of the
 *    activations, rope, silu, residuals, embedding rows) is "other".
 *    Matrix-product MACs are counted from the shapes (rows x padded columns
 *    x tokens) and divided by the matrix-product time: the achieved int8
 *    MAC/s, as a fraction of the measured 512-bit VNNI peak for the same
 *    number of threads.
 *
 * Output: a markdown report on standard output and in
 * bench/out/engine-YYYY-MM-DD-HHMMSS.md.
 *
 * Usage: build/bench-engine [--quick] [--kernels] [--shared DIR] [--convert PATH]
 *   --quick     fewer repeats and tokens (a smoke run)
 *   --kernels   only the peak and the matrix-product kernels alone
 */
#include "model.h"
#include "internal.h"
#include "model_util.h"

#include <errno.h>
#include <stdarg.h>
#include <pthread.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- report: printed and kept for bench/out ------------------------------ */

static char *report;
static size_t report_len, report_cap;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    char line[4096];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    if ((size_t)n >= sizeof line) n = sizeof line - 1;
    fputs(line, stdout);
    fflush(stdout);
    if (report_len + (size_t)n + 1 > report_cap) {
        report_cap = (report_len + (size_t)n + 1) * 2;
        report = realloc(report, report_cap);
        if (!report) exit(2);
    }
    memcpy(report + report_len, line, (size_t)n + 1);
    report_len += (size_t)n;
}

/* ---- 1. int8 peak ---------------------------------------------------------- */

#define PEAK_ACC 12
static volatile int32_t peak_sink;

/* Twelve named accumulators (an array would live in memory at -O2). */
#define ACC12(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)

#if defined(__x86_64__)
__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))) static double peak_vnni512(long iters)
{
    volatile int32_t seed = 0x01020304;
    __m512i u = _mm512_set1_epi32(seed), s = _mm512_set1_epi32(seed + 1);
#define DECL(j) __m512i a##j = _mm512_set1_epi32(seed + j);
#define STEP(j) a##j = _mm512_dpbusd_epi32(a##j, u, s);
#define SUM(j) t = _mm512_add_epi32(t, a##j);
    ACC12(DECL)
    for (long i = 0; i < iters; i++) {
        ACC12(STEP)
    }
    __m512i t = _mm512_setzero_si512();
    ACC12(SUM)
    peak_sink = _mm512_reduce_add_epi32(t);
#undef DECL
#undef STEP
#undef SUM
    return (double)iters * PEAK_ACC * 64;
}

__attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni"))) static double peak_vnni256(long iters)
{
    volatile int32_t seed = 0x01020304;
    __m256i u = _mm256_set1_epi32(seed), s = _mm256_set1_epi32(seed + 1);
#define DECL(j) __m256i a##j = _mm256_set1_epi32(seed + j);
#define STEP(j) a##j = _mm256_dpbusd_epi32(a##j, u, s);
#define SUM(j) t = _mm256_add_epi32(t, a##j);
    ACC12(DECL)
    for (long i = 0; i < iters; i++) {
        ACC12(STEP)
    }
    __m256i t = _mm256_setzero_si256();
    ACC12(SUM)
#undef DECL
#undef STEP
#undef SUM
    int32_t lanes[8];
    _mm256_storeu_si256((__m256i *)lanes, t);
    peak_sink = lanes[0] + lanes[7];
    return (double)iters * PEAK_ACC * 32;
}

/* The AVX2 exact int8 step: vpmaddubsw (u8 x s8 pairs to int16), vpmaddwd
 * with ones (to int32), vpaddd: 32 MACs per 3 instructions. Written in asm
 * so the compiler can neither hoist nor merge the loop-invariant products. */
__attribute__((target("avx2"))) static double peak_avx2(long iters)
{
    volatile int32_t seed = 0x01020304;
    __m256i u = _mm256_set1_epi32(seed), s = _mm256_set1_epi32(seed + 1), ones = _mm256_set1_epi16(1);
    __m256i a0 = u, a1 = s, a2 = u, a3 = s, a4 = u, a5 = s, a6 = u, a7 = s, t0, t1, t2, t3;
    for (long i = 0; i < iters; i++)
        __asm__ volatile(
            "vpmaddubsw %13, %12, %8\n\t"
            "vpmaddwd %14, %8, %8\n\t"
            "vpaddd %8, %0, %0\n\t"
            "vpmaddubsw %13, %12, %9\n\t"
            "vpmaddwd %14, %9, %9\n\t"
            "vpaddd %9, %1, %1\n\t"
            "vpmaddubsw %13, %12, %10\n\t"
            "vpmaddwd %14, %10, %10\n\t"
            "vpaddd %10, %2, %2\n\t"
            "vpmaddubsw %13, %12, %11\n\t"
            "vpmaddwd %14, %11, %11\n\t"
            "vpaddd %11, %3, %3\n\t"
            "vpmaddubsw %13, %12, %8\n\t"
            "vpmaddwd %14, %8, %8\n\t"
            "vpaddd %8, %4, %4\n\t"
            "vpmaddubsw %13, %12, %9\n\t"
            "vpmaddwd %14, %9, %9\n\t"
            "vpaddd %9, %5, %5\n\t"
            "vpmaddubsw %13, %12, %10\n\t"
            "vpmaddwd %14, %10, %10\n\t"
            "vpaddd %10, %6, %6\n\t"
            "vpmaddubsw %13, %12, %11\n\t"
            "vpmaddwd %14, %11, %11\n\t"
            "vpaddd %11, %7, %7\n\t"
            : "+x"(a0), "+x"(a1), "+x"(a2), "+x"(a3), "+x"(a4), "+x"(a5), "+x"(a6), "+x"(a7),
              "=&x"(t0), "=&x"(t1), "=&x"(t2), "=&x"(t3)
            : "x"(u), "x"(s), "x"(ones));
    __m256i t = _mm256_add_epi32(_mm256_add_epi32(_mm256_add_epi32(a0, a1), _mm256_add_epi32(a2, a3)),
                                 _mm256_add_epi32(_mm256_add_epi32(a4, a5), _mm256_add_epi32(a6, a7)));
    int32_t lanes[8];
    _mm256_storeu_si256((__m256i *)lanes, t);
    peak_sink = lanes[0] + lanes[7];
    return (double)iters * 8 * 32;
}
#endif

typedef struct {
    double (*fn)(long);
    long iters;
    double macs;
    pthread_barrier_t *start;
} peak_arg;

static void *peak_thread(void *p)
{
    peak_arg *a = p;
    pthread_barrier_wait(a->start);
    a->macs = a->fn(a->iters);
    return NULL;
}

/* MAC/s of `fn` on `threads` threads at once (the best of 3 runs). */
static double measure_peak(double (*fn)(long), int threads)
{
    long iters = 1000;
    for (;;) { /* calibrate to about 0.1 s on one thread */
        double t0 = now();
        fn(iters);
        if (now() - t0 > 0.02) break;
        iters *= 4;
    }
    iters *= 5;
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        pthread_t ids[HLZ_THREADS_MAX];
        peak_arg args[HLZ_THREADS_MAX];
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, (unsigned)threads + 1);
        for (int i = 0; i < threads; i++) {
            args[i] = (peak_arg){fn, iters, 0, &start};
            pthread_create(&ids[i], NULL, peak_thread, &args[i]);
        }
        pthread_barrier_wait(&start);
        double t0 = now(), macs = 0;
        for (int i = 0; i < threads; i++) pthread_join(ids[i], NULL), macs += args[i].macs;
        double rate = macs / (now() - t0);
        pthread_barrier_destroy(&start);
        best = rate > best ? rate : best;
    }
    return best;
}

/* ---- 3. timing the parallel regions of the forward pass ------------------ */

void __real_hlz_parallel_for(int threads, size_t count, void (*fn)(void *context, size_t i), void *context);

#define REGION_MAX 16
static struct {
    void (*fn)(void *, size_t);
    long calls;
    double seconds;
} regions[REGION_MAX];
static int region_count;

void __wrap_hlz_parallel_for(int threads, size_t count, void (*fn)(void *context, size_t i), void *context);
void __wrap_hlz_parallel_for(int threads, size_t count, void (*fn)(void *context, size_t i), void *context)
{
    double t0 = now();
    __real_hlz_parallel_for(threads, count, fn, context);
    double dt = now() - t0;
    int i = 0;
    while (i < region_count && regions[i].fn != fn) i++;
    if (i == region_count) {
        if (region_count == REGION_MAX) return;
        regions[region_count].fn = fn;
        regions[region_count].calls = 0;
        regions[region_count++].seconds = 0;
    }
    regions[i].calls++;
    regions[i].seconds += dt;
}

typedef struct {
    double total, matmul, attention; /* seconds */
} split;

/* Splits the regions recorded since the last reset over `evals` evals of
 * a model of n_layer layers: a function called exactly once per layer per
 * eval is the attention, every other one a matrix product. */
static split take_split(double total, long evals, uint32_t n_layer)
{
    split s = {total, 0, 0};
    for (int i = 0; i < region_count; i++) {
        if (regions[i].calls == evals * (long)n_layer) s.attention += regions[i].seconds;
        else s.matmul += regions[i].seconds;
    }
    region_count = 0;
    return s;
}

/* ---- 2. the models ---------------------------------------------------------- */

/* Multiply-accumulates of the matrix products for `n` tokens with logits. */
static double matmul_macs(const hlz_model *m, double n)
{
    double per = (double)m->output.rows * (double)m->output.cols_pad;
    for (uint32_t l = 0; l < m->config.n_layer; l++) {
        const hlz_layer *w = &m->layers[l];
        const hlz_matrix *all[] = {&w->wq, &w->wk, &w->wv, &w->wo, &w->w_gate, &w->w_up, &w->w_down};
        for (int i = 0; i < 7; i++) per += (double)all[i]->rows * (double)all[i]->cols_pad;
    }
    return per * n;
}

typedef struct {
    int repeats, prefill, steps;
} plan;

typedef struct {
    double tok_s;            /* median tokens per second */
    split part;              /* seconds of the median run */
    double macs;             /* matrix-product MACs of one run */
} result;

static int cmp_result(const void *a, const void *b)
{
    double x = ((const result *)a)->tok_s, y = ((const result *)b)->tok_s;
    return x < y ? -1 : x > y;
}

static void fail(const char *what, const hlz_error *e)
{
    fprintf(stderr, "engine_bench: %s: %s\n", what, e->message);
    exit(1);
}

/* Prefill: `n` tokens in one eval from an empty session, logits for all. */
static result run_prefill(hlz_model *m, int n, int repeats, const int32_t *tokens, float *logits)
{
    result r[16];
    for (int rep = 0; rep < repeats; rep++) {
        hlz_session *s;
        hlz_error e;
        if (hlz_session_create(m, (uint32_t)n, &s, &e) != HLZ_OK) fail("session", &e);
        region_count = 0;
        double t0 = now();
        if (hlz_model_eval(m, s, tokens, (size_t)n, logits, &e) != HLZ_OK) fail("prefill", &e);
        double dt = now() - t0;
        r[rep] = (result){n / dt, take_split(dt, 1, m->config.n_layer), matmul_macs(m, n)};
        hlz_session_free(s);
    }
    qsort(r, (size_t)repeats, sizeof r[0], cmp_result);
    return r[repeats / 2];
}

/* Per step: `n` evals of one token each, from an empty session. */
static result run_steps(hlz_model *m, int n, int repeats, const int32_t *tokens, float *logits)
{
    result r[16];
    for (int rep = 0; rep < repeats; rep++) {
        hlz_session *s;
        hlz_error e;
        if (hlz_session_create(m, (uint32_t)n, &s, &e) != HLZ_OK) fail("session", &e);
        region_count = 0;
        double t0 = now();
        for (int i = 0; i < n; i++)
            if (hlz_model_eval(m, s, tokens + i, 1, logits, &e) != HLZ_OK) fail("step", &e);
        double dt = now() - t0;
        r[rep] = (result){n / dt, take_split(dt, n, m->config.n_layer), matmul_macs(m, n)};
        hlz_session_free(s);
    }
    qsort(r, (size_t)repeats, sizeof r[0], cmp_result);
    return r[repeats / 2];
}

static double peak_1, peak_all;
static int cpus;

/* The 1-minute load average: other work on the machine skews every number. */
static double load_average(void)
{
    double l = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        if (fscanf(f, "%lf", &l) != 1) l = -1;
        fclose(f);
    }
    return l;
}

/* ---- the matrix-product kernels alone --------------------------------------- */

/* GMAC/s of one kernel set's matmul_q8_0 on one thread for a rows x cols
 * matrix and n tokens (the best of a few runs of at least 20 ms). */
static double kernel_rate(const hlz_kernels *k, const hlz_q8_0_block *w, size_t rows, size_t cols,
                          const hlz_q8_block *x, size_t n, float *out)
{
    double best = 0;
    for (int rep = 0; rep < 3; rep++) {
        long calls = 0;
        double t0 = now(), dt;
        do {
            k->matmul_q8_0(w, cols, x, n, out, rows, 0, rows);
            calls++;
        } while ((dt = now() - t0) < 0.02);
        double rate = (double)calls * (double)rows * (double)cols * (double)n / dt;
        best = rate > best ? rate : best;
    }
    return best;
}

static void bench_kernels(int quick)
{
    const hlz_kernels *sets[8];
    size_t count = hlz_kernels_available(sets, 8);
    struct {
        size_t rows, cols;
        const char *what;
    } shapes[] = {{576, 576, "q, o"}, {192, 576, "k, v"}, {1536, 576, "gate, up"}, {576, 1536, "down"},
                  {49152, 576, "logits"}};
    size_t tokens[] = {1, 4, 16, 128};
    size_t n_shapes = sizeof shapes / sizeof *shapes, n_tok = sizeof tokens / sizeof *tokens;
    say("\n### matrix-product kernels alone (1 thread, GMAC/s; %% of the 1-thread peak)\n\n");
    say("Shapes of the SmolLM2-135M-shaped model; random weights, activations from quantize_q8.\n\n");
    say("| rows x cols (use) | kernels |");
    for (size_t i = 0; i < n_tok; i++) say(" %zu token%s |", tokens[i], tokens[i] > 1 ? "s" : "");
    say("\n|---|---|");
    for (size_t i = 0; i < n_tok; i++) say("---:|");
    say("\n");
    unsigned long long seed = 5;
    for (size_t si = 0; si < n_shapes; si++) {
        size_t rows = shapes[si].rows, cols = shapes[si].cols, blocks = cols / 32, nmax = tokens[n_tok - 1];
        if (quick && rows > 10000) continue;
        hlz_q8_0_block *w = malloc(rows * blocks * sizeof *w);
        hlz_q8_block *x = malloc(nmax * blocks * sizeof *x);
        float *xf = malloc(nmax * cols * sizeof *xf), *out = malloc(nmax * rows * sizeof *out);
        if (!w || !x || !xf || !out) exit(2);
        for (size_t i = 0; i < rows * blocks; i++) {
            w[i].d = hlz_f32_to_f16(0.001f * (float)(1 + test_rand(&seed) % 16));
            for (int j = 0; j < 32; j++) w[i].q[j] = (int8_t)(test_rand(&seed) >> 56);
        }
        for (size_t i = 0; i < nmax * cols; i++) xf[i] = tm_uniform(&seed, 1.0f);
        hlz_kernels_ref.quantize_q8(xf, nmax * cols, x);
        for (size_t k = 0; k < count; k++) {
            if (k == 0 && quick) continue;
            say("| %zu x %zu (%s) | %s |", rows, cols, shapes[si].what, sets[k]->name);
            for (size_t i = 0; i < n_tok; i++) {
                if (k == 0 && tokens[i] * rows > 100000) { /* the scalar reference: too slow to bother */
                    say(" - |");
                    continue;
                }
                double r = kernel_rate(sets[k], w, rows, cols, x, tokens[i], out);
                say(" %.1f (%.0f%%) |", r / 1e9, 100 * r / peak_1);
            }
            say("\n");
        }
        free(w), free(x), free(xf), free(out);
    }
}

static void bench_model(const char *name, hlz_model *m, const plan *p)
{
    const hlz_model_config *c = &m->config;
    int n_max = p->prefill > p->steps ? p->prefill : p->steps;
    if ((uint32_t)n_max > c->n_ctx) n_max = (int)c->n_ctx;
    int prefill = p->prefill < n_max ? p->prefill : n_max, steps = p->steps < n_max ? p->steps : n_max;
    int32_t *tokens = malloc((size_t)n_max * sizeof *tokens);
    float *logits = malloc((size_t)n_max * c->n_vocab * sizeof *logits);
    if (!tokens || !logits) exit(2);
    for (int i = 0; i < n_max; i++) tokens[i] = (int32_t)((i * 7919u + 13u) % c->n_vocab);
    say("\n### %s\n\n", name);
    say("n_embd %u, %u layers, %u heads (%u KV, head_dim %u), FFN %u, vocabulary %u; kernels: %s; "
        "matrix-product MACs per token: %.1f M\n\n",
        c->n_embd, c->n_layer, c->n_head, c->n_head_kv, c->head_dim, c->n_ff, c->n_vocab, m->kernels->name,
        matmul_macs(m, 1) / 1e6);
    say("| mode | threads | tokens/s | ms/token | matmul | attention | other | matmul GMAC/s | of peak |\n");
    say("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (int mode = 0; mode < 2; mode++)
        for (int threads = 1; threads <= 2; threads++) {
            hlz_model_set_threads(m, threads);
            int n = mode == 0 ? prefill : steps;
            /* one untimed warm-up run */
            if (mode == 0) run_prefill(m, n, 1, tokens, logits);
            else run_steps(m, n < 8 ? n : 8, 1, tokens, logits);
            result r = mode == 0 ? run_prefill(m, n, p->repeats, tokens, logits)
                                 : run_steps(m, n, p->repeats, tokens, logits);
            double t = r.part.total, mm = r.part.matmul, at = r.part.attention, other = t - mm - at;
            double rate = r.macs / mm, peak = threads == 1 ? peak_1 : peak_all;
            if (threads > cpus) peak = peak_all;
            char label[64];
            snprintf(label, sizeof label, mode == 0 ? "prefill %d" : "step (%d)", n);
            say("| %s | %d | %.1f | %.2f | %.0f%% | %.0f%% | %.0f%% | %.1f | %.1f%% |\n", label, threads, r.tok_s,
                1e3 / r.tok_s, 100 * mm / t, 100 * at / t, 100 * other / t, rate / 1e9, 100 * rate / peak);
        }
    int finite = 1;
    for (size_t i = 0; i < (size_t)c->n_vocab; i++) finite &= logits[i] == logits[i];
    if (!finite) say("\n(note: this model's logits contain nan)\n");
    free(tokens);
    free(logits);
}

int main(int argc, char **argv)
{
    const char *shared = "../shared", *convert = "build/hlz-convert";
    int quick = 0, kernels_only = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) quick = 1;
        else if (strcmp(argv[i], "--kernels") == 0) kernels_only = 1;
        else if (strcmp(argv[i], "--shared") == 0 && i + 1 < argc) shared = argv[++i];
        else if (strcmp(argv[i], "--convert") == 0 && i + 1 < argc) convert = argv[++i];
        else {
            fprintf(stderr, "usage: %s [--quick] [--kernels] [--shared DIR] [--convert PATH]\n", argv[0]);
            return 2;
        }
    }
    (void)test_case_name, (void)test_failed_cases, (void)test_case_failed; /* from test.h, unused here */
    cpu_set_t allowed;
    cpus = sched_getaffinity(0, sizeof allowed, &allowed) == 0 ? CPU_COUNT(&allowed) : 0;
    if (cpus < 1) cpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 1) cpus = 1;
    struct utsname u;
    uname(&u);
    char cpu_model[256] = "unknown";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f))
            if (strncmp(line, "model name", 10) == 0) {
                char *v = strchr(line, ':');
                if (v) snprintf(cpu_model, sizeof cpu_model, "%s", v + 2);
                cpu_model[strcspn(cpu_model, "\n")] = '\0';
                break;
            }
        fclose(f);
    }
    time_t t = time(NULL);
    char date[64];
    strftime(date, sizeof date, "%Y-%m-%d %H:%M:%S", localtime(&t));
    say("## hlz engine benchmark, %s\n\n", date);
    say("Machine: %s, %d CPUs, %s; compiler %s; kernels picked: %s; load average at start %.2f\n\n", u.machine,
        cpus, cpu_model, __VERSION__, hlz_kernels_best()->name, load_average());

    say("### int8 peak of this CPU (GMAC/s, best of 3)\n\n");
    say("| loop | 1 thread | %d threads |\n|---|---:|---:|\n", cpus);
#if defined(__x86_64__)
    if (__builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vl")) {
        peak_1 = measure_peak(peak_vnni512, 1);
        peak_all = measure_peak(peak_vnni512, cpus);
        say("| vpdpbusd zmm (AVX-512 VNNI), %d accumulators | %.1f | %.1f |\n", PEAK_ACC, peak_1 / 1e9,
            peak_all / 1e9);
        say("| vpdpbusd ymm, %d accumulators | %.1f | %.1f |\n", PEAK_ACC, measure_peak(peak_vnni256, 1) / 1e9,
            measure_peak(peak_vnni256, cpus) / 1e9);
    }
    if (__builtin_cpu_supports("avx2")) {
        double a1 = measure_peak(peak_avx2, 1), an = measure_peak(peak_avx2, cpus);
        say("| AVX2 vpmaddubsw + vpmaddwd + vpaddd ymm, 8 accumulators | %.1f | %.1f |\n", a1 / 1e9, an / 1e9);
        if (peak_1 == 0) peak_1 = a1, peak_all = an;
    }
#endif
    if (peak_1 == 0) {
        say("| (no SIMD int8 loop for this CPU) | - | - |\n");
        peak_1 = peak_all = 1e30;
    }
    say("\n\"of peak\" below: the matrix products' MAC/s over the first row (1 thread, or all threads).\n");

    bench_kernels(quick);
    if (kernels_only) {
        free(report);
        return 0;
    }

    plan small = {quick ? 3 : 7, 256, 256}, smol = {quick ? 1 : 3, quick ? 64 : 128, quick ? 8 : 32};

    /* (a) stories260K */
    char ckpt[4096], tok[4096], cmd[16384];
    snprintf(ckpt, sizeof ckpt, "%s/models/stories260K/stories260K.bin", shared);
    snprintf(tok, sizeof tok, "%s/models/stories260K/tok512.bin", shared);
    struct stat st;
    if (stat(ckpt, &st) != 0 || stat(tok, &st) != 0) {
        say("\n### stories260K\n\nskipped: %s is absent\n", ckpt);
    } else {
        char out[] = "/tmp/hlz-bench-s260k-XXXXXX";
        int fd = mkstemp(out);
        if (fd < 0) return 2;
        close(fd);
        snprintf(cmd, sizeof cmd, "'%s' llama2c '%s' '%s' '%s' --name stories260K >/dev/null", convert, ckpt, tok,
                 out);
        if (system(cmd) != 0) {
            unlink(out);
            say("\n### stories260K\n\nskipped: `%s` failed (run make first)\n", cmd);
        } else {
            hlz_model *m;
            hlz_error e;
            hlz_status s = hlz_model_open(&m, out, &e);
            unlink(out);
            if (s != HLZ_OK) fail("stories260K", &e);
            bench_model("stories260K (llama2.c checkpoint, Q8_0 at load)", m, &small);
            hlz_model_free(m);
        }
    }

    /* (b) a random model of SmolLM2-135M's shape */
    test_model_shape shape = {"llama", 576, 30, 9, 3, 1536, 49152, 512, HLZ_GGML_Q8_0, 42};
    uint8_t *bytes;
    size_t size;
    double t0 = now();
    if (tm_build(&shape, &bytes, &size) != 0) {
        fprintf(stderr, "engine_bench: could not build the random model\n");
        return 1;
    }
    hlz_model *m;
    hlz_error e;
    if (hlz_model_open_memory(&m, bytes, size, &e) != HLZ_OK) fail("random SmolLM2-135M shape", &e);
    fprintf(stderr, "(random model built in %.1f s, %.0f MB)\n", now() - t0, (double)size / 1e6);
    bench_model("random Q8_0 model of SmolLM2-135M's shape", m, &smol);
    hlz_model_free(m);
    free(bytes);

    say("\nmatmul, attention, other: shares of the wall time (parallel regions timed through "
        "--wrap=hlz_parallel_for; other = norms, activation quantization, rope, silu, residuals, embedding). "
        "Step rows: tokens 1..N one at a time from an empty cache.\n");

    say("\nLoad average at the end: %.2f (above 0 means other work shared the CPUs).\n", load_average());

    mkdir("bench/out", 0777);
    char path[256];
    strftime(date, sizeof date, "%Y-%m-%d-%H%M%S", localtime(&t));
    snprintf(path, sizeof path, "bench/out/engine-%s.md", date);
    f = fopen(path, "w");
    if (f) {
        fwrite(report, 1, report_len, f);
        fclose(f);
        fprintf(stderr, "report written to %s\n", path);
    } else {
        fprintf(stderr, "engine_bench: cannot write %s: %s\n", path, strerror(errno));
    }
    free(report);
    return 0;
}
