/*
 * llm.h - the llm codec: text coded with a language model and rANS.
 *
 * A chunk is tokenized whole, then coded in windows of `window` tokens.
 * Every window starts from the static prime cache (the model's state after
 * the priming tokens, computed once per process) followed by the last
 * `carry` tokens of the window before it (already known to the decoder), so
 * windows are independent given the tokens: the encoder evaluates them in
 * any order or batch, the decoder one token at a time. The frequency table
 * of each token comes from hlz_freq_from_logits; one rANS stream per chunk.
 *
 * Payload (doc/format.md): varint token count, varint model cross-entropy
 * of the chunk in 1/64 bits (informational), varint flags (1: CRLF line ends
 * removed before tokenizing; 2: hybrid, then a varint of its parts,
 * HLZ_MIX_*: the online models of hybrid.h take part), then the rANS stream.
 */
#ifndef HLZ_LLM_H
#define HLZ_LLM_H

#include "internal.h"

/* Priming texts, by the id stored in the archive. Part of the format. */
#define HLZ_PRIME_BOS 1   /* the BOS token alone (or "\n" when the model has no BOS) */
#define HLZ_PRIME_TEXT 2  /* BOS, then a short neutral English text */
#define HLZ_PRIME_COUNT 3

typedef struct {
    uint8_t prime;     /* HLZ_PRIME_* */
    uint32_t window;   /* tokens coded per window, >= 1 */
    uint32_t carry;    /* tokens of the previous window kept as context, < window */
    uint8_t attention; /* HLZ_ATTENTION_* (hlz.h): the model's attention arithmetic */
} hlz_llm_params;

/* The header option HLZ_OPTION_LLM (critical) records them: u8 prime, u8
 * attention, u16 0, u32 window, u32 carry. */

typedef struct hlz_llm hlz_llm;

/* Defaults for `model`: the text prime, windows of up to 512 tokens (4/5 of
 * what the context leaves after the prime), a quarter of them carried,
 * float attention. */
void hlz_llm_params_default(const hlz_model *model, hlz_llm_params *params);

/* Checks params against the model (prime + carry + window must fit its
 * context; int8 attention needs a head dimension that is a multiple of 32,
 * prime + carry + window <= 65535 and the model on the CPU), tokenizes the
 * prime and evaluates it once, in a session of params->attention that every
 * window's session copies. The model must
 * outlive the codec; it is used read-only (its thread count is left alone). */
hlz_status hlz_llm_create(hlz_model *model, const hlz_llm_params *params, hlz_llm **out, hlz_error *error);
void hlz_llm_free(hlz_llm *llm);
const hlz_llm_params *hlz_llm_get_params(const hlz_llm *llm);

/* Encoder: the hybrid parts (HLZ_MIX_*, hybrid.h) to code chunks with; 0
 * (the default) codes with the model's tables alone, as hlz 0.1 did. Call
 * before encoding starts. */
void hlz_llm_set_mix(hlz_llm *llm, unsigned parts);

/* Codes `size` bytes of text into dst (capacity `capacity`). HLZ_ERR_CODEC
 * when the result would not fit or the tokenizer cannot spell the text:
 * callers then use another codec. Thread-safe for one llm. */
hlz_status hlz_llm_encode(const hlz_llm *llm, const uint8_t *src, size_t size, uint8_t *dst, size_t capacity,
                          size_t *coded_size, hlz_error *error);

/* Decodes a payload into exactly raw_size bytes, or fails with HLZ_ERR_CORRUPT. */
hlz_status hlz_llm_decode(const hlz_llm *llm, const uint8_t *src, size_t coded_size, uint8_t *dst,
                          size_t raw_size, hlz_error *error);

/* Reads the token count, cross-entropy (bits) and hybrid parts (0: none;
 * `mix` may be NULL) a payload records. */
hlz_status hlz_llm_payload_info(const uint8_t *src, size_t size, uint64_t *tokens, double *model_bits,
                                unsigned *mix, hlz_error *error);

/* The header option that records params, and back. */
void hlz_llm_option_write(const hlz_llm_params *params, uint8_t out[4 + HLZ_OPTION_LLM_SIZE]);
hlz_status hlz_llm_option_parse(const uint8_t *value, size_t size, hlz_llm_params *params, hlz_error *error);

/* ---- the parts the robust codec (robust.h) shares ------------------------- */

uint32_t hlz_llm_vocab(const hlz_llm *llm);

/* Payload flag CRLF: every '\n' of the chunk follows a '\r' and there is no
 * other '\r'; the model sees the text without them (models are trained on LF
 * text, and a '\r' it never saw costs many bits) and the decoder puts them back. */
#define HLZ_LLM_FLAG_CRLF 1u
#define HLZ_LLM_FLAG_HYBRID 2u /* llm payloads only */
#define HLZ_LLM_FLAGS 3u

/* Tokenizes a chunk whole, after removing its '\r' when the CRLF flag
 * applies (set in *flags). HLZ_ERR_CODEC when the tokenizer cannot spell it. */
hlz_status hlz_llm_tokenize(const hlz_llm *llm, const uint8_t *src, size_t size, int32_t **ids, size_t *n,
                            unsigned *flags, hlz_error *error);

/* The inverse: detokenizes n tokens, undoes the CRLF flag, and checks that
 * exactly raw_size bytes result (HLZ_ERR_CORRUPT otherwise). */
hlz_status hlz_llm_untokenize(const hlz_llm *llm, const int32_t *ids, size_t n, unsigned flags, uint8_t *dst,
                              size_t raw_size, hlz_error *error);

/* Cross-entropy in bits of `token` under `logits` (deterministic arithmetic). */
double hlz_llm_token_bits(const float *logits, uint32_t n, int32_t token);

/* The window walk, encoder side: calls visit(ctx, logits, ids[at], at) with
 * the n_vocab logits that predict token `at`, for every token in order. */
typedef void (*hlz_llm_visit)(void *ctx, const float *logits, int32_t token, size_t at);
hlz_status hlz_llm_walk_encode(const hlz_llm *llm, const int32_t *ids, size_t n, hlz_llm_visit visit, void *ctx,
                               hlz_error *error);

/* Decoder side: pick(ctx, logits, at, &ids[at], error) decides each token
 * from the logits that predict it (the walk then feeds it to the model); a
 * token outside the vocabulary or a failing pick stops it. */
typedef hlz_status (*hlz_llm_pick)(void *ctx, const float *logits, size_t at, int32_t *token, hlz_error *error);
hlz_status hlz_llm_walk_decode(const hlz_llm *llm, int32_t *ids, size_t n, hlz_llm_pick pick, void *ctx,
                               hlz_error *error);

/* Many chunks decoded in lockstep (the GPU's decoder): each step decides
 * one token of every unfinished stream with its own pick and context (the
 * picks run on up to `threads` threads at once, so contexts must not be
 * shared) and evaluates all those tokens in one batched call. Each stream
 * gets the tokens, the logits and the positions hlz_llm_walk_decode would
 * give it, in the same order. A stream whose pick fails (or decides a token
 * outside the vocabulary) stops with its status and error set; the others go
 * on. The return value is HLZ_OK unless the evaluation itself failed (out of
 * memory, a device error), which stops every stream.
 *
 * With `cohorts` > 1 the streams are split into that many independent walks
 * (stream i in cohort i % cohorts; at most one per stream, and 64) that run
 * at once, each on its own thread with its share of `threads`, so that one
 * cohort's host work (guesses, decisions, window starts) overlaps another's
 * evaluation on the GPU. The streams' results are the same for any split;
 * when a cohort's evaluation fails the others stop too, and the first
 * failing cohort's status is returned. 0 or 1: one walk. */
typedef struct {
    int32_t *ids;          /* n tokens to decide */
    size_t n;
    hlz_llm_pick pick;
    void *ctx;
    /* Optional, the llm codec's: a token is the one whose interval of the
     * table holds slot(ctx), and advance(ctx, token, cum, freq, error)
     * consumes it. When every stream has them and the model gives token
     * searches (the GPU; hlz_llm_set_stats), the tables are searched where
     * the logits are and only (token, cum, freq) comes back; pick is then
     * used only for tokens predicted by the prime. Hybrid streams (hybrid.h)
     * also have guess(ctx, cand, error), the guesses for the next token
     * (HLZ_TABLE_CANDIDATES, -1 past the last), and, when there are any,
     * decide(ctx, fc, &token, error) reads the decisions given the table's
     * frequency of each: the token is the guess it gives, or (-1) the one
     * whose interval of the table without the guesses holds slot(ctx), for
     * advance as above. */
    uint32_t (*slot)(void *ctx);
    hlz_status (*advance)(void *ctx, int32_t token, uint32_t cum, uint32_t freq, hlz_error *error);
    hlz_status (*guess)(void *ctx, int32_t *cand, hlz_error *error);
    hlz_status (*decide)(void *ctx, const uint32_t *fc, int32_t *token, hlz_error *error);
    hlz_status status;     /* out: HLZ_OK or why this stream stopped */
    hlz_error error;       /* out */
} hlz_llm_stream;
hlz_status hlz_llm_walk_decode_many(const hlz_llm *llm, hlz_llm_stream *streams, size_t count, int threads,
                                    size_t cohorts, hlz_error *error);

/* hlz_llm_decode in parts, for the lockstep walk: start parses the payload
 * and fills *stream (ids, n, pick, ctx); finish checks the end of the
 * stream, detokenizes into dst and frees what start made. Call finish for
 * every started stream, whatever happened: when stream->status (or the
 * walk) failed it only frees and returns that status (stream->error copied
 * to *error); set stream->status to the walk's error when the walk failed. */
hlz_status hlz_llm_decode_start(const hlz_llm *llm, const uint8_t *src, size_t coded_size, size_t raw_size,
                                hlz_llm_stream *stream, hlz_error *error);
hlz_status hlz_llm_decode_finish(const hlz_llm *llm, hlz_llm_stream *stream, uint8_t *dst, size_t raw_size,
                                 hlz_error *error);

/* Windows the encoder's walk evaluates per call: chosen at creation from a
 * 256 MiB logits budget when the model is on the GPU (1, window by window,
 * on the CPU); the walk halves it when memory runs out. Tests set it to
 * compare paths; any value gives the same visits in the same order. */
void hlz_llm_set_group(hlz_llm *llm, uint32_t windows);

/* hlz_llm_encode asks the model for the statistics of each token (entropy.h:
 * on the GPU only they come back, not the logits) rather than walking with
 * visit(), and the lockstep decoder asks for token searches when its streams
 * allow: on by default when the model is on the GPU (HLZ_GPU_TABLES=0 in the
 * environment turns that off). The results are the same either way; tests
 * turn it on for the CPU. */
void hlz_llm_set_stats(hlz_llm *llm, bool on);

/* The lockstep decoder evaluates carried tokens in calls that return at
 * most this many bytes of logits (256 MiB, shared by its cohorts; at least
 * one row): for tests. */
void hlz_llm_set_logits_budget(hlz_llm *llm, size_t bytes);

#endif
