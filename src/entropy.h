/*
 * entropy.h - from logits to bits: the integer frequency tables handed to the
 * entropy coder, and the range coder itself (rANS, 64-bit state).
 *
 * Both are part of the archive format (doc/format.md, "llm codec"): the
 * mapping from logits to frequencies uses integer operations only after one
 * rounding of each logit to a grid of 1/32 nat, so every backend that
 * produces the same logits produces the same tables, bit for bit.
 */
#ifndef HLZ_ENTROPY_H
#define HLZ_ENTROPY_H

#include "internal.h"
#include "kernels.h"

#include <math.h>

#define HLZ_FREQ_BITS 28                       /* tables sum to 2^28 */
#define HLZ_FREQ_TOTAL ((uint32_t)1 << HLZ_FREQ_BITS)
#define HLZ_LOGIT_STEPS 32                     /* grid steps per nat */
#define HLZ_LOGIT_KMAX 640                     /* 20 nats below the top: only the floor of 1 */
#define HLZ_VOCAB_MAX ((uint32_t)1 << 22)

/* weight[k] = round(2^30 * e^(-k/32)) for k < HLZ_LOGIT_KMAX, from the
 * deterministic double exp (detmath.c); computed once, thread-safe. */
const uint64_t *hlz_logit_weights(void);

/* The grid step of logit x against m, the largest finite logit of its
 * position: k = round-half-even((m - x) * 32) in float32, HLZ_LOGIT_KMAX when
 * that is KMAX or more, or x is nan or -inf; 0 when x is +inf. */
static inline uint32_t hlz_logit_step(float x, float m)
{
    if (x != x || x == -INFINITY) return HLZ_LOGIT_KMAX;
    if (x == INFINITY) return 0;
    float r = (m - x) * (float)HLZ_LOGIT_STEPS;
    if (!(r < (float)HLZ_LOGIT_KMAX)) return HLZ_LOGIT_KMAX; /* also inf and nan */
    uint32_t k = (uint32_t)hlz_round_even(r);                /* 0 <= r < 640 */
    return k < HLZ_LOGIT_KMAX ? k : HLZ_LOGIT_KMAX;
}

/* The frequency table of one position: n_vocab (2 .. HLZ_VOCAB_MAX) entries,
 * each at least 1, summing to exactly HLZ_FREQ_TOTAL. With m the largest
 * finite logit: k_i = round-half-even((m - logit_i) * 32), capped at KMAX
 * (nan and -inf count as KMAX, +inf as 0); w_i = weight[k_i] (0 at KMAX);
 * W = sum of w_i; M = floor(((2^28 - n_vocab) << 34) / W);
 * f_i = 1 + ((w_i * M) >> 34); what is left of 2^28 goes to the first token
 * with the smallest k. Returns that token (the most likely one). */
uint32_t hlz_freq_from_logits(const float *logits, uint32_t n_vocab, uint32_t *freq);

/* What the llm encoder keeps of one position, for its token: the token's
 * cumulative frequency and frequency in the table above, and the terms of
 * its cross-entropy (hlz_token_stats_bits). The CUDA backend computes the
 * same on the GPU, so that only these 24 bytes per token leave it. */
typedef struct hlz_token_stats {
    uint32_t cum, freq;
    float max;    /* logits[0], then each larger logit in order (nan when logits[0] is nan) */
    float logit;  /* logits[token] */
    double sum;   /* the sum, in order of i, of (double)hlz_expf(logits[i] - max) */
} hlz_token_stats;

/* Fills *out for `token`; `scratch` holds n_vocab entries. */
void hlz_token_stats_from_logits(const float *logits, uint32_t n_vocab, int32_t token, uint32_t *scratch,
                                 hlz_token_stats *out);

/* The token's cross-entropy in bits: (ln(sum) - (logit - max)) / ln 2, with
 * the deterministic log of detmath.c. */
double hlz_token_stats_bits(const hlz_token_stats *s);

/* What the llm decoder needs of one position: the token whose interval of
 * the table holds the rANS slot, and that interval (hlz_freq_find's). */
typedef struct hlz_token_found {
    uint32_t token, cum, freq;
} hlz_token_found;

/* The table of `logits` (hlz_freq_from_logits) searched for `slot`
 * (hlz_freq_find); `scratch` holds n_vocab entries. */
void hlz_token_find_from_logits(const float *logits, uint32_t n_vocab, uint32_t slot, uint32_t *scratch,
                                hlz_token_found *out);

/* The hybrid coder (hybrid.h) guesses up to HLZ_TABLE_CANDIDATES tokens
 * before it codes from the table. hlz_freq_exclude removes them from a
 * table and rescales the rest to HLZ_FREQ_TOTAL: with R the sum of the
 * removed entries and k their number, M = floor(((2^28 - (n - k)) << 34) /
 * (2^28 - R - (n - k))) (0 when that is 0), g_i = 1 + ((f_i - 1) * M >> 34)
 * in 64-bit wrapping arithmetic for the others, 0 for the candidates, and
 * what is left of 2^28 goes to the first other token of the largest f_i.
 * cand holds k distinct tokens. */
#define HLZ_TABLE_CANDIDATES 4
void hlz_freq_exclude(uint32_t *freq, uint32_t n_vocab, const int32_t *cand, size_t k);

/* What the hybrid encoder reads of one position's table (hlz_hybrid_encode_mix):
 * the table's frequency of each candidate (0 past k), and the token's
 * interval in the table without them (freq 0 when the token is one). */
typedef struct hlz_token_mix {
    uint32_t fc[HLZ_TABLE_CANDIDATES];
    uint32_t cum, freq;
} hlz_token_mix;

/* Fills *out for `token` and the candidates cand[0..k-1] (k <= 4, distinct);
 * `scratch` holds n_vocab entries. */
void hlz_token_mix_from_logits(const float *logits, uint32_t n_vocab, int32_t token, const int32_t *cand, size_t k,
                               uint32_t *scratch, hlz_token_mix *out);

/* What the hybrid decoder reads of one position's table before it knows the
 * token (hybrid.h hlz_hybrid_decode_decide): the table's frequency of each
 * candidate cand[0..k-1] into fc[HLZ_TABLE_CANDIDATES] (0 past k, as
 * hlz_token_mix's fc), and into `table` (n_vocab entries) the table without
 * them (hlz_freq_exclude), where the token is searched when it is none of
 * them (hlz_token_find_table). k <= 4, distinct. */
void hlz_token_guess_from_logits(const float *logits, uint32_t n_vocab, const int32_t *cand, size_t k,
                                 uint32_t *table, uint32_t *fc);

/* hlz_freq_find's token for `slot` in `table`, with its interval. */
void hlz_token_find_table(const uint32_t *table, uint32_t n_vocab, uint32_t slot, hlz_token_found *out);

/* ---- rANS: 64-bit state, 32-bit words ------------------------------------
 * The encoder takes symbols in reverse order and writes words downwards from
 * the end of its buffer; the stream is the 8-byte final state then the words,
 * little-endian. The decoder reads forwards, and at the end its state must be
 * back at the initial 2^31 and every word consumed: a built-in check. */

typedef struct {
    uint64_t x;
    uint8_t *begin, *at; /* buffer start; current front (moves down) */
} hlz_rans_encoder;

/* `buffer` of `capacity` bytes; the stream ends at buffer + capacity. */
void hlz_rans_encoder_init(hlz_rans_encoder *e, uint8_t *buffer, size_t capacity);

/* Encodes a symbol of frequency `freq` (>= 1) at cumulative `cum`, with
 * cum + freq <= 2^HLZ_FREQ_BITS. Returns -1 when the buffer is full. */
int hlz_rans_put(hlz_rans_encoder *e, uint32_t cum, uint32_t freq);

/* Writes the final state; the stream is [*start, buffer + capacity). -1 when full. */
int hlz_rans_flush(hlz_rans_encoder *e, uint8_t **start);

typedef struct {
    uint64_t x;
    const uint8_t *at, *end;
} hlz_rans_decoder;

/* Starts on a stream; HLZ_ERR_CORRUPT when it cannot hold a state. */
hlz_status hlz_rans_decoder_init(hlz_rans_decoder *d, const uint8_t *stream, size_t size, hlz_error *error);

/* The slot of the next symbol: the symbol is the one whose [cum, cum+freq) holds it. */
static inline uint32_t hlz_rans_slot(const hlz_rans_decoder *d) { return (uint32_t)(d->x & (HLZ_FREQ_TOTAL - 1)); }

/* Consumes the symbol found for the slot. HLZ_ERR_CORRUPT if the stream runs out. */
hlz_status hlz_rans_advance(hlz_rans_decoder *d, uint32_t cum, uint32_t freq, hlz_error *error);

/* HLZ_ERR_CORRUPT unless the decoder ended where the encoder started. */
hlz_status hlz_rans_finish(const hlz_rans_decoder *d, hlz_error *error);

/* Finds the symbol of `slot` in a frequency table: returns it and sets *cum. */
uint32_t hlz_freq_find(const uint32_t *freq, uint32_t n_vocab, uint32_t slot, uint32_t *cum);

#endif
