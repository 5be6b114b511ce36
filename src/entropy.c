/* entropy.c - logits to integer frequency tables, and the rANS coder. */
#include "entropy.h"
#include "detmath.h"
#include "kernels.h"

#include <math.h>

#include <pthread.h>

static uint64_t weights[HLZ_LOGIT_KMAX];
static pthread_once_t weights_once = PTHREAD_ONCE_INIT;

static void make_weights(void)
{
    for (int k = 0; k < HLZ_LOGIT_KMAX; k++) {
        double w = 1073741824.0 * hlz_det_exp(-(double)k / HLZ_LOGIT_STEPS);
        weights[k] = (uint64_t)(w + 0.5);
    }
}

const uint64_t *hlz_logit_weights(void)
{
    pthread_once(&weights_once, make_weights);
    return weights;
}

uint32_t hlz_freq_from_logits(const float *logits, uint32_t n, uint32_t *freq)
{
    const uint64_t *w = hlz_logit_weights();
    float max = -INFINITY;
    for (uint32_t i = 0; i < n; i++) {
        float x = logits[i];
        if (x == x && x != INFINITY && x > max) max = x;
    }
    uint64_t total = 0;
    uint32_t best = 0, best_k = HLZ_LOGIT_KMAX + 1;
    /* freq[] holds k first, then the frequency: one pass over the logits. */
    for (uint32_t i = 0; i < n; i++) {
        uint32_t k = hlz_logit_step(logits[i], max);
        freq[i] = k;
        if (k < best_k) best_k = k, best = i;
        if (k < HLZ_LOGIT_KMAX) total += w[k];
    }
    uint32_t left = HLZ_FREQ_TOTAL - n, used = 0;
    uint64_t scale = total ? ((uint64_t)left << 34) / total : 0;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t wi = freq[i] < HLZ_LOGIT_KMAX ? w[freq[i]] : 0;
        uint32_t f = 1 + (uint32_t)((wi * scale) >> 34);
        freq[i] = f;
        used += f;
    }
    freq[best] += HLZ_FREQ_TOTAL - used;
    return best;
}

void hlz_token_stats_from_logits(const float *logits, uint32_t n, int32_t token, uint32_t *scratch,
                                 hlz_token_stats *out)
{
    uint32_t best = hlz_freq_from_logits(logits, n, scratch);
    (void)best;
    uint32_t c = 0;
    for (int32_t k = 0; k < token; k++) c += scratch[k];
    out->cum = c;
    out->freq = scratch[token];
    float max = logits[0];
    for (uint32_t i = 1; i < n; i++) max = logits[i] > max ? logits[i] : max;
    double sum = 0;
    for (uint32_t i = 0; i < n; i++) sum += (double)hlz_expf(logits[i] - max);
    out->max = max;
    out->logit = logits[token];
    out->sum = sum;
}

void hlz_token_find_table(const uint32_t *table, uint32_t n, uint32_t slot, hlz_token_found *out)
{
    out->token = hlz_freq_find(table, n, slot, &out->cum);
    out->freq = table[out->token];
}

void hlz_token_find_from_logits(const float *logits, uint32_t n, uint32_t slot, uint32_t *scratch,
                                hlz_token_found *out)
{
    hlz_freq_from_logits(logits, n, scratch);
    hlz_token_find_table(scratch, n, slot, out);
}

void hlz_freq_exclude(uint32_t *f, uint32_t n, const int32_t *cand, size_t k)
{
    uint64_t removed = 0;
    for (size_t j = 0; j < k; j++) removed += f[cand[j]], f[cand[j]] = 0;
    uint64_t rest = HLZ_FREQ_TOTAL - removed - (n - k); /* sum of (f - 1) over the others */
    uint64_t target = HLZ_FREQ_TOTAL - (n - k);
    uint64_t scale = rest ? (target << 34) / rest : 0;
    uint32_t used = 0, best = n, best_f = 0;
    for (uint32_t i = 0; i < n; i++) {
        if (f[i] == 0) continue;
        if (f[i] > best_f) best_f = f[i], best = i;
        f[i] = 1 + (uint32_t)(((uint64_t)(f[i] - 1) * scale) >> 34);
        used += f[i];
    }
    if (best < n) f[best] += HLZ_FREQ_TOTAL - used; /* (every entry a candidate: nothing is left) */
}

void hlz_token_mix_from_logits(const float *logits, uint32_t n, int32_t token, const int32_t *cand, size_t k,
                               uint32_t *scratch, hlz_token_mix *out)
{
    hlz_freq_from_logits(logits, n, scratch);
    bool is_cand = false;
    for (size_t j = 0; j < HLZ_TABLE_CANDIDATES; j++) {
        out->fc[j] = j < k ? scratch[cand[j]] : 0;
        is_cand |= j < k && cand[j] == token;
    }
    hlz_freq_exclude(scratch, n, cand, k);
    uint32_t c = 0;
    for (int32_t i = 0; i < token; i++) c += scratch[i];
    out->cum = is_cand ? 0 : c;
    out->freq = is_cand ? 0 : scratch[token];
}

void hlz_token_guess_from_logits(const float *logits, uint32_t n, const int32_t *cand, size_t k, uint32_t *table,
                                 uint32_t *fc)
{
    hlz_freq_from_logits(logits, n, table);
    for (size_t j = 0; j < HLZ_TABLE_CANDIDATES; j++) fc[j] = j < k ? table[cand[j]] : 0;
    hlz_freq_exclude(table, n, cand, k);
}

double hlz_token_stats_bits(const hlz_token_stats *s)
{
    return (hlz_det_log(s->sum) - ((double)s->logit - (double)s->max)) / 0.69314718055994530942;
}

uint32_t hlz_freq_find(const uint32_t *freq, uint32_t n, uint32_t slot, uint32_t *cum)
{
    uint32_t c = 0;
    for (uint32_t i = 0; i + 1 < n; i++) {
        if (slot < c + freq[i]) {
            *cum = c;
            return i;
        }
        c += freq[i];
    }
    *cum = c;
    return n - 1;
}

/* ---- rANS -------------------------------------------------------------------- */

#define RANS_L ((uint64_t)1 << 31) /* lower bound of the normalised state */

void hlz_rans_encoder_init(hlz_rans_encoder *e, uint8_t *buffer, size_t capacity)
{
    e->x = RANS_L;
    e->begin = buffer;
    e->at = buffer + capacity;
}

static int put32(hlz_rans_encoder *e, uint32_t v)
{
    if ((size_t)(e->at - e->begin) < 4) return -1;
    e->at -= 4;
    hlz_put32(e->at, v);
    return 0;
}

int hlz_rans_put(hlz_rans_encoder *e, uint32_t cum, uint32_t freq)
{
    uint64_t x = e->x, x_max = ((RANS_L >> HLZ_FREQ_BITS) << 32) * freq;
    if (x >= x_max) {
        if (put32(e, (uint32_t)x) != 0) return -1;
        x >>= 32;
    }
    e->x = ((x / freq) << HLZ_FREQ_BITS) + (x % freq) + cum;
    return 0;
}

int hlz_rans_flush(hlz_rans_encoder *e, uint8_t **start)
{
    if (put32(e, (uint32_t)(e->x >> 32)) != 0 || put32(e, (uint32_t)e->x) != 0) return -1;
    *start = e->at;
    return 0;
}

hlz_status hlz_rans_decoder_init(hlz_rans_decoder *d, const uint8_t *stream, size_t size, hlz_error *error)
{
    if (size < 8) return hlz_fail(error, HLZ_ERR_CORRUPT, "coded stream too short");
    d->x = hlz_le64(stream);
    d->at = stream + 8;
    d->end = stream + size;
    if (d->x < RANS_L) return hlz_fail(error, HLZ_ERR_CORRUPT, "coded stream starts with an invalid state");
    return HLZ_OK;
}

hlz_status hlz_rans_advance(hlz_rans_decoder *d, uint32_t cum, uint32_t freq, hlz_error *error)
{
    uint32_t slot = hlz_rans_slot(d);
    d->x = freq * (d->x >> HLZ_FREQ_BITS) + slot - cum;
    if (d->x < RANS_L) {
        if (d->end - d->at < 4) return hlz_fail(error, HLZ_ERR_CORRUPT, "coded stream ends early");
        d->x = (d->x << 32) | hlz_le32(d->at);
        d->at += 4;
    }
    return HLZ_OK;
}

hlz_status hlz_rans_finish(const hlz_rans_decoder *d, hlz_error *error)
{
    if (d->x != RANS_L || d->at != d->end)
        return hlz_fail(error, HLZ_ERR_CORRUPT, "coded stream does not end where it should");
    return HLZ_OK;
}
