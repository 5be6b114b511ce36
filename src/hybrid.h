/*
 * hybrid.h - online models mixed with the language model (the llm codec's
 * payload flag HYBRID; doc/format.md, "Hybrid prediction").
 *
 * The language model sees one window at a time; these models see the whole
 * chunk as it is coded and learn it: a match model (the token that followed
 * the longest earlier occurrence of the last tokens) and order-1..4 token
 * context models (the token that last followed the same 1..4 tokens). Each
 * token is coded as up to HLZ_HYBRID_CANDIDATES binary decisions "is it
 * candidate c?" and, when none is, a token of the model's table with the
 * candidates removed. The probability of each decision comes from a logistic
 * mixer over the model's own probability of c and the online models'
 * statistics, with weights chosen by the match length and the model's
 * confidence, then (optionally) secondary estimation. When the mixer trusts
 * only the model, this codes exactly what the model's table does.
 *
 * Everything is integer arithmetic on state that both sides build in the same
 * order, so it is part of the determinism contract: the tables depend only on
 * the model's integer tables and the tokens before.
 */
#ifndef HLZ_HYBRID_H
#define HLZ_HYBRID_H

#include "entropy.h"

/* The parts (HLZ_MIX_* in hlz.h) are a bit mask stored in the payload; the
 * mixer is on whenever any is. */

#define HLZ_HYBRID_CANDIDATES HLZ_TABLE_CANDIDATES       /* decisions per token at most (4) */
#define HLZ_HYBRID_SYMBOLS (HLZ_HYBRID_CANDIDATES + 1)   /* rANS symbols per token at most */

typedef struct hlz_hybrid hlz_hybrid;

typedef struct {
    uint32_t cum, freq; /* one rANS symbol over HLZ_FREQ_TOTAL */
} hlz_symbol;

/* State for coding one chunk of at most `n_tokens` tokens (table sizes grow
 * with it, up to a cap) over a vocabulary of n_vocab. parts: HLZ_MIX_*;
 * HLZ_ERR_CORRUPT for unknown bits, HLZ_ERR_NOMEM. */
hlz_status hlz_hybrid_create(unsigned parts, uint32_t n_vocab, size_t n_tokens, hlz_hybrid **out,
                             hlz_error *error);
void hlz_hybrid_free(hlz_hybrid *h);

/* Encoder: the symbols that code `token` given the model's frequency table
 * `freq` (n_vocab entries summing to HLZ_FREQ_TOTAL; used as scratch), in
 * coding order, into sym[HLZ_HYBRID_SYMBOLS]; returns how many. Then learns
 * the token. At most n_tokens calls. */
size_t hlz_hybrid_encode(hlz_hybrid *h, uint32_t *freq, int32_t token, hlz_symbol *sym);

/* The encoder in two passes, for a model that gives only a few figures per
 * position (the GPU): first, on a state of its own, the guesses for each
 * token in order: cand[HLZ_HYBRID_CANDIDATES] gets them (-1 past the last),
 * then the state learns the token. Then, on a fresh state, in the same order,
 * the symbols of hlz_hybrid_encode from the figures of the position's table
 * (entropy.h hlz_token_mix, made for those guesses): the same symbols.
 * Returns 0 when cand is not what this state guesses, or m does not fit. */
void hlz_hybrid_candidates(hlz_hybrid *h, int32_t token, int32_t *cand);
size_t hlz_hybrid_encode_mix(hlz_hybrid *h, const int32_t *cand, const hlz_token_mix *m, int32_t token,
                             hlz_symbol *sym);

/* Decoder: the same walk, reading the symbols from d. HLZ_ERR_CORRUPT when
 * the stream runs out or n_tokens would be exceeded. */
hlz_status hlz_hybrid_decode(hlz_hybrid *h, uint32_t *freq, hlz_rans_decoder *d, int32_t *token,
                             hlz_error *error);

/* The decoder in the three pieces hlz_hybrid_decode is made of, for a model
 * that gives only a few figures per position (the GPU), called in this
 * order for each token:
 *   guess: the guesses for the next token into cand[HLZ_HYBRID_CANDIDATES]
 *     (-1 past the last; none without parts): the ones the encoder's
 *     hlz_hybrid_candidates made, since both depend on the tokens before alone.
 *   decide: given fc, the table's frequency of each guess (0 past the last;
 *     entropy.h hlz_token_mix's fc), reads the decisions from d. *token is
 *     the guess it was (then learned: the token is done), or -1: then the
 *     token is the one whose interval in the table without the guesses
 *     (hlz_freq_exclude; the table itself when there are none) holds
 *     hlz_rans_slot(d), and
 *   finish consumes that interval [cum, cum + freq) and learns the token. */
hlz_status hlz_hybrid_decode_guess(hlz_hybrid *h, int32_t *cand, hlz_error *error);
hlz_status hlz_hybrid_decode_decide(hlz_hybrid *h, const uint32_t *fc, hlz_rans_decoder *d, int32_t *token,
                                    hlz_error *error);
hlz_status hlz_hybrid_decode_finish(hlz_hybrid *h, hlz_rans_decoder *d, int32_t token, uint32_t cum, uint32_t freq,
                                    hlz_error *error);

#endif
