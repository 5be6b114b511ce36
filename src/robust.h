/*
 * robust.h - the robust codec: Hu & Tang's mismatch-tolerant code (seed 002,
 * section III; doc/robust.md). It decodes correctly whenever the decoder's
 * probability of every token is within a factor C of the encoder's,
 * |ln p(x) - ln p'(x)| < ln C, so an archive survives a decoder whose
 * arithmetic differs from the encoder's.
 *
 * Per token: a code of the bucket holding p(x_i) (buckets over [0,1] whose
 * bounds are powers of `ratio`; unary, Huffman, or adaptive rANS in a stream
 * of its own: all read without probabilities), then the shortest prefix of the
 * token's fixed-length longform (a seeded permutation) that no other token
 * of the expanded bucket U_i shares, then one terminating bit. The tokens,
 * windows and prime are the llm codec's (llm.h, option 0x8001).
 *
 * Payload (doc/format.md): varint token count, varint cross-entropy in 1/64
 * bits (informational), varint flags (1: CRLF), u32 C x 2^16, u32 ratio x
 * 2^16, u8 bucket count, u8 bucket code, u32 seed, for the Huffman code K
 * code lengths, for the adaptive code a varint size and the buckets' rANS
 * stream, then the bit stream.
 */
#ifndef HLZ_ROBUST_H
#define HLZ_ROBUST_H

#include "llm.h"

#define HLZ_ROBUST_ONE 65536u        /* fixed-point 1.0 of mismatch and ratio */
#define HLZ_ROBUST_BUCKETS_MAX 64
#define HLZ_ROBUST_CODE_UNARY 0      /* bucket k: k ones then a zero; the last: K-1 ones */
#define HLZ_ROBUST_CODE_HUFFMAN 1    /* canonical Huffman, K code lengths stored after the seed */
#define HLZ_ROBUST_CODE_ADAPTIVE 2   /* adaptive binary rANS of the bucket index (codec_robust.c) */
#define HLZ_ROBUST_CODE_COUNT 3
#define HLZ_ROBUST_CODE_AUTO 255     /* encoder request, never stored: the smallest of them */
#define HLZ_ROBUST_HUFFMAN_MAX 30    /* longest Huffman code word */
#define HLZ_ROBUST_HEAD_SIZE 14      /* the fixed fields after the varints */

typedef struct {
    uint32_t mismatch; /* C in 1/65536, > 65536 */
    uint32_t ratio;    /* bucket k holds p in (ratio^-(k+1), ratio^-k], in 1/65536, > 65536 */
    uint8_t buckets;   /* K in 2..HLZ_ROBUST_BUCKETS_MAX; the last bucket is [0, ratio^-(K-1)] */
    uint8_t code;      /* HLZ_ROBUST_CODE_* (AUTO only as an encoder request) */
    uint32_t seed;     /* of the longform permutation */
} hlz_robust_params;

/* The seed's experimental layout, ratio 8 and 33 buckets, with the bucket
 * code chosen per chunk (AUTO: the smallest payload of the three), seed 0;
 * C rounded to 1/65536. Returns -1 when C is not a number in (1, 65535]. */
int hlz_robust_params_default(double mismatch, hlz_robust_params *params);

/* Checks a parameter set: HLZ_ERR_CORRUPT (HLZ_ERR_VERSION for an unknown code). */
hlz_status hlz_robust_params_check(const hlz_robust_params *params, hlz_error *error);

/* What an encoding cost, for measurements (hlz_robust_encode fills it when not NULL). */
typedef struct {
    uint64_t tokens;
    uint64_t bucket_bits;  /* sum of |A(r_k(i))| */
    uint64_t prefix_bits;  /* sum of the longform prefixes and terminating bits */
    uint64_t bucket_count[HLZ_ROBUST_BUCKETS_MAX];
    double model_bits;     /* the model's cross-entropy of the tokens */
    uint8_t code;          /* the bucket code used */
    size_t code_bytes[HLZ_ROBUST_CODE_COUNT]; /* the payload size with each code (0: unusable) */
} hlz_robust_stats;

/* Codes `size` bytes of text into dst (capacity `capacity`) with the llm's
 * model and windows. HLZ_ERR_CODEC when it does not fit or the tokenizer
 * cannot spell the text. Thread-safe for one llm. */
hlz_status hlz_robust_encode(const hlz_llm *llm, const hlz_robust_params *params, const uint8_t *src, size_t size,
                             uint8_t *dst, size_t capacity, size_t *coded_size, hlz_robust_stats *stats,
                             hlz_error *error);

/* Decodes a payload into exactly raw_size bytes, or fails with
 * HLZ_ERR_CORRUPT (which includes probabilities mismatched beyond C when
 * the decoder notices; when it does not, the chunk checksum does). */
hlz_status hlz_robust_decode(const hlz_llm *llm, const uint8_t *src, size_t coded_size, uint8_t *dst,
                             size_t raw_size, hlz_error *error);

/* hlz_robust_decode in parts, for hlz_llm_walk_decode_many: the same
 * contract as hlz_llm_decode_start / hlz_llm_decode_finish (llm.h). */
hlz_status hlz_robust_decode_start(const hlz_llm *llm, const uint8_t *src, size_t coded_size, size_t raw_size,
                                   hlz_llm_stream *stream, hlz_error *error);
hlz_status hlz_robust_decode_finish(const hlz_llm *llm, hlz_llm_stream *stream, uint8_t *dst, size_t raw_size,
                                    hlz_error *error);

/* Reads what a payload records. */
hlz_status hlz_robust_payload_info(const uint8_t *src, size_t size, hlz_robust_params *params, uint64_t *tokens,
                                   double *model_bits, hlz_error *error);

/* ---- stepwise coding: for callers that walk the model themselves ----------
 * hlz_robust_encode and hlz_robust_decode are these steps inside the llm's
 * window walk; tests and experiments drive several encoders or decoders
 * from one walk (one model evaluation for all of them). */

typedef struct hlz_robust_encoder hlz_robust_encoder;

/* An encoder for exactly `tokens` tokens of an n_vocab vocabulary. */
hlz_status hlz_robust_encoder_create(const hlz_robust_params *params, uint32_t n_vocab, size_t tokens,
                                     hlz_robust_encoder **out, hlz_error *error);

/* The next token, with the logits that predict it (for the cross-entropy
 * recorded) and their ln p (hlz_robust_log_softmax of the logits). */
void hlz_robust_encoder_put(hlz_robust_encoder *enc, const float *logits, const double *logp, int32_t token);

/* Writes the payload (flags: the tokenizer's HLZ_LLM_FLAG_*): HLZ_ERR_CODEC
 * when it does not fit, HLZ_ERR_PARAM unless all tokens were put. stats may
 * be NULL. The encoder stays valid only for hlz_robust_encoder_free. */
hlz_status hlz_robust_encoder_finish(hlz_robust_encoder *enc, unsigned flags, uint8_t *dst, size_t capacity,
                                     size_t *coded_size, hlz_robust_stats *stats, hlz_error *error);
void hlz_robust_encoder_free(hlz_robust_encoder *enc);

typedef struct hlz_robust_decoder hlz_robust_decoder;

/* A decoder of a payload for raw_size bytes; *tokens (may be NULL) gets
 * its token count. HLZ_ERR_CORRUPT or HLZ_ERR_VERSION for a bad header. */
hlz_status hlz_robust_decoder_create(const uint8_t *src, size_t coded_size, size_t raw_size, uint32_t n_vocab,
                                     hlz_robust_decoder **out, uint64_t *tokens, hlz_error *error);

/* The next token from the decoder's ln p' of every token (which may differ
 * from the encoder's by up to C). HLZ_ERR_CORRUPT when it cannot decode. */
hlz_status hlz_robust_decoder_get(hlz_robust_decoder *dec, const double *logp, int32_t *token, hlz_error *error);

/* After the last token: HLZ_ERR_CORRUPT unless the payload ended exactly there. */
hlz_status hlz_robust_decoder_finish(const hlz_robust_decoder *dec, hlz_error *error);

/* The payload's HLZ_LLM_FLAG_* (for hlz_llm_untokenize). */
unsigned hlz_robust_decoder_flags(const hlz_robust_decoder *dec);
void hlz_robust_decoder_free(hlz_robust_decoder *dec);

/* Test and experiment hook, process-wide, NULL by default: the decoder calls
 * hook(ctx, at, logits, logp, n_vocab) on the natural-log probabilities it
 * computed for token `at` before using them, so tests can perturb them
 * (mismatch) or replace them with another arithmetic's. Not for production:
 * set it before decoding starts, from one thread. */
typedef void (*hlz_robust_hook)(void *ctx, size_t at, const float *logits, double *logp, uint32_t n_vocab);
void hlz_robust_set_decode_hook(hlz_robust_hook hook, void *ctx);

/* ln p of every token from logits, in deterministic double arithmetic
 * (hlz_expf terms summed in order); nan logits count as -inf. */
void hlz_robust_log_softmax(const float *logits, uint32_t n, double *logp);

#endif
