/*
 * tokenizer.h - the tokenizers of the inference engine.
 *
 * Two kinds, as GGUF names them (tokenizer.ggml.model):
 *   gpt2   byte-level BPE: a pre-tokenizer (a regex, written here as code)
 *          splits the text into pieces, each piece's bytes become the
 *          printable characters of GPT-2's bytes_to_unicode table ("Ġ" is
 *          the space), and merges are applied by rank. Pre-tokenizers: gpt2,
 *          llama3 (Llama 3, SmolLM 2, ...) and qwen2 (Qwen 2 and 3).
 *   llama  SentencePiece-style BPE (Llama 2, Mistral, TinyLlama): spaces
 *          become "▁", a dummy "▁" is put in front of the text, pieces merge
 *          by score (or by rank when merges are given), and characters
 *          outside the vocabulary fall back to the byte tokens <0x00>..<0xFF>.
 *
 * A tokenizer is built from a plain description of its vocabulary
 * (hlz_vocab_desc) that a GGUF reader or the tokenizer.json loader
 * (tokenizer_json.c) fills in; the tokenizer copies what it needs.
 *
 * Contracts:
 *   - Lossless: for every byte string x (invalid UTF-8, NUL and control bytes
 *     included), decode(encode(x)) == x, or encode fails with
 *     HLZ_ERR_UNSUPPORTED because the vocabulary cannot spell some byte (it
 *     lacks a byte token). Ill-formed UTF-8 is split into single bytes that
 *     the pre-tokenizers class as "other" (not letter, number or space).
 *   - Faithful: on ordinary text the ids equal those of the reference
 *     tokenizer (Hugging Face tokenizers / transformers.js), with these
 *     deliberate exceptions, all needed for losslessness or left out:
 *       * no normalizer runs (Qwen's NFC would change the bytes);
 *       * special and added tokens in the text are not parsed: "<s>" is
 *         spelled with ordinary tokens, and encode never emits a control token;
 *       * llama kind: a literal "▁" (U+2581) in the text is spelled with its
 *         byte tokens, since the "▁" token means a space;
 *       * \s is Unicode White_Space (U+0085 is a space, U+FEFF is not), as
 *         in Oniguruma and Rust's regex, where JavaScript differs.
 *   - encode adds no BOS or EOS; the caller decides.
 *   - Tokenizers are immutable after creation: any number of threads may
 *     use one tokenizer at once.
 *   - Nothing aborts; every failure is an hlz_status with a message.
 */
#ifndef HLZ_TOKENIZER_H
#define HLZ_TOKENIZER_H

#include "hlz.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef enum {
    HLZ_TOK_MODEL_GPT2 = 1,  /* byte-level BPE */
    HLZ_TOK_MODEL_LLAMA = 2, /* SentencePiece-style BPE with byte fallback */
} hlz_tok_model;

typedef enum {
    HLZ_TOK_PRE_NONE = 0,   /* llama kind: no pre-tokenizer */
    HLZ_TOK_PRE_GPT2 = 1,   /* 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
    HLZ_TOK_PRE_LLAMA3 = 2, /* (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
                               ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+ */
    HLZ_TOK_PRE_QWEN2 = 3,  /* LLAMA3 with \p{N} instead of \p{N}{1,3} */
    HLZ_TOK_PRE_COUNT
} hlz_tok_pre;

/* Token types, numbered as GGUF's tokenizer.ggml.token_type. */
typedef enum {
    HLZ_TOKEN_NORMAL = 1,
    HLZ_TOKEN_UNKNOWN = 2,      /* <unk> */
    HLZ_TOKEN_CONTROL = 3,      /* <s>, </s>, <|begin_of_text|>, ... */
    HLZ_TOKEN_USER_DEFINED = 4, /* added tokens that are not special */
    HLZ_TOKEN_UNUSED = 5,
    HLZ_TOKEN_BYTE = 6,         /* llama kind: <0x00>..<0xFF> */
} hlz_token_type;

/* A vocabulary as GGUF and tokenizer.json store it. Only the pointers the
 * kind needs must be set; the description is read during hlz_tokenizer_create
 * and may be freed afterwards. */
typedef struct {
    hlz_tok_model model;
    hlz_tok_pre pre;              /* HLZ_TOK_PRE_NONE for the llama kind */
    uint32_t n_tokens;            /* 1 .. HLZ_TOKENIZER_MAX_TOKENS */
    /* Token i is tokens[i], token_lengths[i] bytes (NULL: NUL-terminated),
     * in its stored form: gpt2 "Ġthe" (bytes_to_unicode), llama "▁the" and
     * "<0x0A>". Strings of ids that are not used may be empty. */
    const char *const *tokens;
    const uint32_t *token_lengths;
    const float *scores;          /* llama kind: n_tokens scores, higher merges first; or NULL */
    const uint8_t *types;         /* n_tokens hlz_token_type; NULL: all normal (llama: "<0xXX>" are bytes) */
    /* BPE merges in rank order, each "left right" (split at the first space
     * after the first byte), n_merges of them (lengths: NULL = NUL-terminated).
     * Required for gpt2; for llama they replace the scores when given. */
    uint32_t n_merges;
    const char *const *merges;
    const uint32_t *merge_lengths;
    int32_t bos_id, eos_id, unk_id; /* -1 when the vocabulary has none */
    bool add_bos;                 /* informative: the model expects a BOS first */
    bool ignore_merges;           /* gpt2: a piece that is a whole token is taken as is (Llama 3's
                                     tokenizer.json says so; GGUF does not: set it for pre llama3) */
    bool add_space_prefix;        /* llama: put the dummy "▁" in front (usual: true) */
} hlz_vocab_desc;

#define HLZ_TOKENIZER_MAX_TOKENS ((uint32_t)1 << 24)
#define HLZ_TOKENIZER_MAX_TOKEN_BYTES 16384 /* longest token string accepted */

typedef struct hlz_tokenizer hlz_tokenizer;

/* Fills `desc` with zeros and the defaults: no special ids (-1),
 * add_space_prefix true. */
void hlz_vocab_desc_init(hlz_vocab_desc *desc);

/* "gpt2", "llama3", "qwen2", "none" ("?" for other values), and back:
 * hlz_tok_pre_from_name returns -1 for names it does not know. */
const char *hlz_tok_pre_name(hlz_tok_pre pre);
int hlz_tok_pre_from_name(const char *name);

/* Builds a tokenizer from `desc`. Checks the description (kind and
 * pre-tokenizer known and matching, counts and lengths within the limits,
 * special ids in range, merges and scores present as the kind needs) and
 * fails with HLZ_ERR_PARAM or HLZ_ERR_UNSUPPORTED and a message naming the
 * problem. Merges that name strings outside the vocabulary are skipped, as
 * the reference tokenizers never apply them. Duplicate token strings: the
 * lowest id of a normal or unused token wins, else the lowest id. Token
 * strings may contain any bytes, NUL included. On success *out owns copies
 * of everything it uses. */
hlz_status hlz_tokenizer_create(const hlz_vocab_desc *desc, hlz_tokenizer **out, hlz_error *error);

/* Frees a tokenizer; NULL is allowed. */
void hlz_tokenizer_free(hlz_tokenizer *tok);

/* The most ids encode can produce for `size` bytes: size + 1. */
static inline size_t hlz_tokenizer_encode_bound(size_t size) { return size + 1; }

/* Tokenizes `size` bytes of `text` (any bytes) into ids[0 .. *n_ids), with
 * no BOS. `capacity` ids are available; hlz_tokenizer_encode_bound(size)
 * always suffices (less: HLZ_ERR_PARAM when it is exceeded). Fails with
 * HLZ_ERR_UNSUPPORTED when the vocabulary cannot spell a byte of the text
 * (no byte token for it), HLZ_ERR_NOMEM when working memory is short. */
hlz_status hlz_tokenizer_encode(const hlz_tokenizer *tok, const uint8_t *text, size_t size,
                                int32_t *ids, size_t capacity, size_t *n_ids, hlz_error *error);

/* Turns ids back into bytes: the concatenation of hlz_tokenizer_piece of
 * every id, less the dummy space of the llama kind (one leading space of the
 * result is removed when the vocabulary adds a space prefix). Writes the
 * first min(needed, capacity) bytes to `out` (which may be NULL when capacity
 * is 0), sets *size to the bytes needed, and returns HLZ_ERR_PARAM when they
 * do not fit or an id is outside [0, n_tokens). */
hlz_status hlz_tokenizer_decode(const hlz_tokenizer *tok, const int32_t *ids, size_t n_ids,
                                uint8_t *out, size_t capacity, size_t *size, hlz_error *error);

/* The bytes token `id` stands for in decoded text (gpt2: bytes_to_unicode
 * undone; llama: "▁" -> " ", <0xXX> -> that byte; both: control and
 * unknown tokens -> nothing, user-defined tokens -> their text). Sets *size;
 * returns NULL (and *size 0) for an id out of range. The bytes are not
 * NUL-terminated and live as long as the tokenizer. */
const uint8_t *hlz_tokenizer_piece(const hlz_tokenizer *tok, int32_t id, size_t *size);

/* The stored string of token `id` ("Ġthe", "<0x0A>", "<s>"), as in the
 * description; NULL for an id out of range. */
const char *hlz_tokenizer_token(const hlz_tokenizer *tok, int32_t id, size_t *size);

/* The id of the token whose stored string is s[0..size), or -1. */
int32_t hlz_tokenizer_find(const hlz_tokenizer *tok, const char *s, size_t size);

/* Facts about the vocabulary. hlz_tokenizer_token_type returns 0 for an id
 * out of range. */
uint32_t hlz_tokenizer_n_tokens(const hlz_tokenizer *tok);
hlz_tok_model hlz_tokenizer_model(const hlz_tokenizer *tok);
hlz_tok_pre hlz_tokenizer_pre(const hlz_tokenizer *tok);
int32_t hlz_tokenizer_bos(const hlz_tokenizer *tok);
int32_t hlz_tokenizer_eos(const hlz_tokenizer *tok);
bool hlz_tokenizer_add_bos(const hlz_tokenizer *tok);
int hlz_tokenizer_token_type(const hlz_tokenizer *tok, int32_t id);

/* ---- pre-tokenizers (pretokenize.c) --------------------------------------- */

/* Bytes of the piece that starts at text[0] (size >= 1) under `pre`, always
 * 1..size: the match the pre-tokenizer's regex finds there, with ill-formed
 * UTF-8 bytes matching as single "other" characters. Splitting a text is
 * calling this until it is consumed. HLZ_TOK_PRE_NONE returns size. */
size_t hlz_pretokenize_next(hlz_tok_pre pre, const uint8_t *text, size_t size);

/* ---- tokenizer.json (tokenizer_json.c) ------------------------------------- */

/* A vocabulary description read from a Hugging Face tokenizer.json, with the
 * storage its pointers use. */
typedef struct hlz_tokenizer_json hlz_tokenizer_json;

/* Reads `json` (size bytes, a tokenizer.json) and, when `config` is not NULL,
 * the companion tokenizer_config.json (config_size bytes: bos, eos and unk
 * token names, add_bos_token). Supported: model.type "BPE" with vocab,
 * merges ("a b" strings or [a, b] arrays), added_tokens, byte_fallback,
 * ignore_merges; a pre_tokenizer whose Split regex is GPT-2's, Llama 3's or
 * Qwen 2's (or ByteLevel with use_regex) for the gpt2 kind, or a
 * SentencePiece setup (Prepend/Replace "▁" normalizers or a Metaspace
 * pre-tokenizer, byte_fallback) for the llama kind. Anything else fails with
 * HLZ_ERR_UNSUPPORTED naming what was found; malformed JSON with
 * HLZ_ERR_CORRUPT. Normalizers such as NFC are not applied (see the top of
 * this file). */
hlz_status hlz_tokenizer_json_parse(const char *json, size_t size, const char *config, size_t config_size,
                                    hlz_tokenizer_json **out, hlz_error *error);

/* Reads the files and calls hlz_tokenizer_json_parse; config_path may be NULL. */
hlz_status hlz_tokenizer_json_read(const char *path, const char *config_path, hlz_tokenizer_json **out,
                                   hlz_error *error);

/* The description; valid until hlz_tokenizer_json_free. */
const hlz_vocab_desc *hlz_tokenizer_json_desc(const hlz_tokenizer_json *tj);

/* Frees it; NULL is allowed. */
void hlz_tokenizer_json_free(hlz_tokenizer_json *tj);

#endif
