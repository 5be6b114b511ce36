/* test_entropy.c - the logit-to-frequency mapping and the rANS coder on their
 * own: exact round trips under random and adversarial distributions. */
#include "entropy.h"
#include "test.h"

#include <math.h>

static void weights_table_is_pinned(void)
{
    const uint64_t *w = hlz_logit_weights();
    CHECK(w[0] == 1073741824ull);                 /* 2^30 */
    CHECK(w[32] == 395007542ull);                 /* 2^30 / e, rounded */
    CHECK(w[HLZ_LOGIT_KMAX - 1] >= 1);
    for (int k = 1; k < HLZ_LOGIT_KMAX; k++) CHECK(w[k] <= w[k - 1]);
    CHECK_MSG(hlz_checksum64(w, HLZ_LOGIT_KMAX * sizeof *w, 0) == 0x7ab3cccb448183e3ull, "weights hash %016llx",
              (unsigned long long)hlz_checksum64(w, HLZ_LOGIT_KMAX * sizeof *w, 0));
}

static int table_ok(const uint32_t *f, uint32_t n)
{
    uint64_t sum = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (f[i] == 0) return 0;
        sum += f[i];
    }
    return sum == HLZ_FREQ_TOTAL;
}

static void tables_are_exact(void)
{
    enum { V = 50000 };
    static float l[V];
    static uint32_t f[V];
    unsigned long long s = 5;
    for (int round = 0; round < 20; round++) {
        float spread = (float)(round + 1) * 1.5f;
        for (uint32_t i = 0; i < V; i++) l[i] = spread * ((float)(test_rand(&s) >> 40) / (float)(1 << 24)) - 3.0f;
        uint32_t best = hlz_freq_from_logits(l, V, f);
        CHECK(table_ok(f, V));
        /* the first token on the top grid step: within half a step of the maximum */
        for (uint32_t i = 0; i < V; i++) CHECK(l[i] <= l[best] + 1.0f / HLZ_LOGIT_STEPS);
        /* Monotone: a larger logit never gets a smaller frequency (bar the argmax's leftover). */
        for (uint32_t i = 1; i < V; i++)
            if (i != best && i - 1 != best && l[i] > l[i - 1]) CHECK(f[i] >= f[i - 1]);
    }
    /* Degenerate inputs: all equal, nan, infinities, two tokens. */
    for (uint32_t i = 0; i < V; i++) l[i] = 1.0f;
    CHECK(hlz_freq_from_logits(l, V, f) == 0 && table_ok(f, V));
    CHECK(f[1] == f[V - 1]);
    for (uint32_t i = 0; i < V; i++) l[i] = NAN;
    CHECK(hlz_freq_from_logits(l, V, f) == 0 && table_ok(f, V) && f[1] == 1);
    l[7] = INFINITY;
    CHECK(hlz_freq_from_logits(l, V, f) == 7 && table_ok(f, V));
    l[7] = -INFINITY;
    l[9] = 3e38f;
    l[10] = -3e38f;
    CHECK(hlz_freq_from_logits(l, V, f) == 9 && table_ok(f, V) && f[10] == 1);
    float two[2] = {0.0f, -1.0f};
    uint32_t f2[2];
    CHECK(hlz_freq_from_logits(two, 2, f2) == 0 && f2[0] + f2[1] == HLZ_FREQ_TOTAL);
    double p = (double)f2[1] / HLZ_FREQ_TOTAL, expect = exp(-1.0) / (1 + exp(-1.0));
    CHECK_MSG(fabs(p - expect) < 1e-3, "p %f vs %f", p, expect);
}

/* Codes `n` symbols drawn by `pick` from tables made by `make`, decodes, compares. */
typedef void (*make_fn)(float *logits, uint32_t V, int step, unsigned long long *s);

static int round_trip(uint32_t V, int n, make_fn make, int adversarial_pick, size_t *bytes)
{
    float *l = malloc(V * sizeof *l);
    uint32_t *f = malloc(V * sizeof *f);
    uint32_t *sym = malloc(n * sizeof *sym), *cum = malloc(n * sizeof *cum), *fr = malloc(n * sizeof *fr);
    size_t cap = (size_t)n * 8 + 64;
    uint8_t *buf = malloc(cap), *start;
    unsigned long long s = 77;
    int ok = 1;
    for (int t = 0; t < n; t++) {
        make(l, V, t, &s);
        hlz_freq_from_logits(l, V, f);
        uint32_t x;
        if (adversarial_pick) { /* the least likely token, last of them */
            x = 0;
            for (uint32_t i = 0; i < V; i++) if (f[i] <= f[x]) x = i;
        } else { /* a sample from the table itself */
            uint32_t ignored;
            x = hlz_freq_find(f, V, (uint32_t)(test_rand(&s) % HLZ_FREQ_TOTAL), &ignored);
        }
        uint32_t c = 0;
        for (uint32_t i = 0; i < x; i++) c += f[i];
        sym[t] = x, cum[t] = c, fr[t] = f[x];
    }
    hlz_rans_encoder e;
    hlz_rans_encoder_init(&e, buf, cap);
    for (int t = n - 1; t >= 0 && ok; t--) ok = hlz_rans_put(&e, cum[t], fr[t]) == 0;
    ok = ok && hlz_rans_flush(&e, &start) == 0;
    size_t size = (size_t)(buf + cap - start);
    *bytes = size;
    hlz_rans_decoder d;
    hlz_error err;
    s = 77;
    ok = ok && hlz_rans_decoder_init(&d, start, size, &err) == HLZ_OK;
    for (int t = 0; t < n && ok; t++) {
        make(l, V, t, &s);
        hlz_freq_from_logits(l, V, f);
        uint32_t c, x = hlz_freq_find(f, V, hlz_rans_slot(&d), &c);
        ok = x == sym[t] && hlz_rans_advance(&d, c, f[x], &err) == HLZ_OK;
    }
    ok = ok && hlz_rans_finish(&d, &err) == HLZ_OK;
    free(l), free(f), free(sym), free(cum), free(fr), free(buf);
    return ok;
}

/* Tables depend only on `step`, so the decoder can remake them. */
static void make_peaked(float *l, uint32_t V, int step, unsigned long long *s)
{
    (void)s;
    for (uint32_t i = 0; i < V; i++) l[i] = -40.0f;
    l[(uint32_t)step % V] = 40.0f; /* one token with almost all the mass */
}
static void make_uniform(float *l, uint32_t V, int step, unsigned long long *s)
{
    (void)s, (void)step;
    for (uint32_t i = 0; i < V; i++) l[i] = 0.5f;
}
static void make_random(float *l, uint32_t V, int step, unsigned long long *s)
{
    (void)s;
    unsigned long long r = 1000003ull * (unsigned long long)(step + 1);
    for (uint32_t i = 0; i < V; i++) l[i] = (float)(test_rand(&r) >> 40) / (float)(1 << 20) - 8.0f;
}

static void rans_round_trips(void)
{
    size_t bytes;
    CHECK(round_trip(32000, 3000, make_peaked, 0, &bytes));
    CHECK_MSG(bytes < 3000 * 1 / 8 + 64, "peaked: %zu bytes for 3000 near-certain symbols", bytes);
    CHECK(round_trip(131072, 400, make_uniform, 0, &bytes));
    /* uniform over 2^17 symbols: 17 bits each, within a fraction of a percent */
    CHECK_MSG(bytes >= 400 * 17 / 8 && bytes < 400 * 17 / 8 * 1.01 + 16, "uniform: %zu bytes", bytes);
    CHECK(round_trip(1000, 5000, make_random, 0, &bytes));
    CHECK(round_trip(50000, 2000, make_peaked, 1, &bytes)); /* long runs of the least likely token */
    CHECK_MSG(bytes > 2000 * 27 / 8, "least likely tokens cost about 28 bits each: %zu bytes", bytes);
    CHECK(round_trip(2, 10000, make_random, 1, &bytes));
}

static void rans_rejects_damage(void)
{
    uint8_t buf[64], *start;
    hlz_rans_encoder e;
    hlz_rans_encoder_init(&e, buf, sizeof buf);
    CHECK(hlz_rans_put(&e, 0, HLZ_FREQ_TOTAL / 2) == 0);
    CHECK(hlz_rans_flush(&e, &start) == 0);
    size_t n = (size_t)(buf + sizeof buf - start);
    hlz_rans_decoder d;
    hlz_error err;
    CHECK(hlz_rans_decoder_init(&d, start, 7, &err) == HLZ_ERR_CORRUPT);
    CHECK(hlz_rans_decoder_init(&d, start, n, &err) == HLZ_OK);
    CHECK(hlz_rans_slot(&d) < HLZ_FREQ_TOTAL / 2);
    CHECK(hlz_rans_advance(&d, 0, HLZ_FREQ_TOTAL / 2, &err) == HLZ_OK && hlz_rans_finish(&d, &err) == HLZ_OK);
    /* Decoding one symbol too many runs out of words or state. */
    CHECK(hlz_rans_decoder_init(&d, start, n, &err) == HLZ_OK);
    hlz_rans_advance(&d, 0, HLZ_FREQ_TOTAL / 2, &err);
    hlz_status st = hlz_rans_advance(&d, 0, HLZ_FREQ_TOTAL / 2, &err);
    CHECK(st != HLZ_OK || hlz_rans_finish(&d, &err) != HLZ_OK);
    /* A full buffer is reported, not overrun. */
    hlz_rans_encoder_init(&e, buf, 6);
    int full = 0;
    for (int i = 0; i < 100 && !full; i++) full = hlz_rans_put(&e, 0, 1) != 0;
    CHECK(full || hlz_rans_flush(&e, &start) != 0);
}

int main(void)
{
    RUN(weights_table_is_pinned);
    RUN(tables_are_exact);
    RUN(rans_round_trips);
    RUN(rans_rejects_damage);
    TEST_MAIN_END();
}
