/*
 * hlz.h - the public interface of libhlz, a lossless archival compressor.
 *
 * An hlz archive (doc/format.md) is a header, a sequence of independently
 * coded chunks, an index and a trailer. Each chunk records the codec that
 * made it (store, zstd, llm, float, robust, cm) and a 64-bit checksum of its
 * raw bytes, so decoding verifies
 * everything it outputs.
 *
 * Levels of this API, simplest first:
 *   1. hlz_compress_file / hlz_decompress_file: stream to stream (FILE *).
 *   2. hlz_list_file: walk an archive's records without decoding payloads.
 *   3. hlz_index_read / hlz_decode_chunk: random access to one chunk of a
 *      seekable archive through the index at its end.
 *   4. Building blocks (scout, codecs, format records) in the internal
 *      headers under src/, which are not part of the stable API.
 *
 * Contracts that hold for every function here:
 *   - Nothing calls exit() or abort(); every failure is an hlz_status value
 *     with a message in the hlz_error the caller passed (which may be NULL).
 *   - Every length and offset read from an archive is checked against the
 *     format's limits and against overflow before it is used.
 *   - The archive bytes depend only on the input and the options that are
 *     recorded in the archive (codec, level, chunk size): never on the
 *     thread count or on timing.
 */
#ifndef HLZ_H
#define HLZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HLZ_VERSION_STRING "0.1.0"
#define HLZ_FORMAT_VERSION 2

/* ---- Errors ------------------------------------------------------------ */

typedef enum {
    HLZ_OK = 0,
    HLZ_ERR_IO,          /* reading or writing failed (errno-level problem) */
    HLZ_ERR_NOMEM,       /* an allocation failed */
    HLZ_ERR_PARAM,       /* a caller passed an invalid option or argument */
    HLZ_ERR_NOT_ARCHIVE, /* the input does not start with the hlz magic */
    HLZ_ERR_VERSION,     /* made by a newer format version, or needs a feature this build lacks */
    HLZ_ERR_TRUNCATED,   /* the input ends before the archive does */
    HLZ_ERR_CORRUPT,     /* a field is malformed, out of its limits or fails its check */
    HLZ_ERR_CHECKSUM,    /* a chunk decoded to bytes whose checksum differs from the recorded one */
    HLZ_ERR_CODEC,       /* a codec failed on data that passed the structural checks */
    HLZ_ERR_MODEL,       /* a model is missing, unreadable, or not the one the archive needs */
    HLZ_ERR_UNSUPPORTED, /* a valid request this build cannot serve (e.g. a reserved codec) */
    HLZ_STATUS_COUNT
} hlz_status;

/* Where a failing call leaves its explanation. `message` is a complete
 * sentence fragment a user understands, e.g. "chunk 3: checksum mismatch",
 * without the program or file name. */
typedef struct {
    hlz_status status;
    char message[256];
} hlz_error;

/* A short stable identifier of a status ("checksum", "truncated", ...). */
const char *hlz_status_name(hlz_status status);

/* ---- Codecs and options ------------------------------------------------ */

/* Codec ids as stored in chunk records. The values are part of the format. */
typedef enum {
    HLZ_CODEC_STORE = 0,
    HLZ_CODEC_ZSTD = 1,
    HLZ_CODEC_LLM = 2,    /* language model + rANS (needs options.model) */
    HLZ_CODEC_FLOAT = 3,  /* model weights: float fields and quantized blocks, rANS-coded */
    HLZ_CODEC_ROBUST = 4, /* mismatch-tolerant llm codec (Hu & Tang), options.mismatch */
    HLZ_CODEC_CM = 5,     /* bitwise context mixing for data the model cannot predict (no model needed) */
    HLZ_CODEC_COUNT,
    HLZ_CODEC_AUTO = 255  /* options only: let the scout decide per chunk */
} hlz_codec_id;

/* "store", "zstd", ...; "?" for an unknown id. */
const char *hlz_codec_name(unsigned codec_id);

/* Parses a codec name ("auto", "store", "zstd", ...). Returns 0 on success. */
int hlz_codec_from_name(const char *name, hlz_codec_id *out);

/* The online models the llm codec mixes with the language model (a bit
 * mask, recorded in each llm chunk). They learn the chunk as it is coded, so
 * they find what the model's window cannot see: repeats far back, names and
 * phrases particular to the file. */
#define HLZ_MIX_MATCH 1u    /* match model: what followed the last long repeat of the recent tokens */
#define HLZ_MIX_CONTEXT 2u  /* order-1..4 token context models */
#define HLZ_MIX_SSE 4u      /* secondary estimation of the mixed probability */
#define HLZ_MIX_ALL 7u

/* Parses a --mix level, each including the ones before: "none" (the
 * language model alone, as hlz 0.1), "match", "context", "full" (all, the
 * default). Returns the parts, or -1 for an unknown name. */
int hlz_mix_from_name(const char *name);

/* The arithmetic of the model's attention in llm and robust chunks
 * (recorded in the archive; doc/engine.md): float (the default), or int8,
 * integer products of quantized queries, keys, weights and values that GPU
 * tensor cores compute exactly (head dimensions a multiple of 32 only; no
 * CUDA kernel yet: such archives are made and decoded on the CPU). */
#define HLZ_ATTENTION_FLOAT 0u
#define HLZ_ATTENTION_INT8 1u
#define HLZ_ATTENTION_COUNT 2u

#define HLZ_CHUNK_SIZE_MIN ((uint32_t)1 << 10)       /* 1 KiB */
#define HLZ_CHUNK_SIZE_MAX ((uint32_t)1 << 26)       /* 64 MiB: bounds decoder memory */
#define HLZ_CHUNK_SIZE_DEFAULT ((uint32_t)1 << 20)   /* 1 MiB */
#define HLZ_LEVEL_MIN 1
#define HLZ_LEVEL_MAX 9
#define HLZ_LEVEL_DEFAULT 9
/* From this level on, auto codes chunks that are not text for the model (or
 * all chunks, without a model) with the cm codec, about 1 MB/s (like zstd
 * -19, which hlz level 9 runs anyway), keeping zstd when it is smaller; text
 * chunks try cm beside llm and zstd. */
#define HLZ_CM_LEVEL_MIN 8
#define HLZ_THREADS_MAX 256

/* A language model (the "Language models" section below). */
typedef struct hlz_model hlz_model;
typedef struct hlz_session hlz_session;

/* Called now and then during long work with the bytes read and written so
 * far. It must not call back into the same compressor. */
typedef void (*hlz_progress_fn)(void *user, uint64_t bytes_in, uint64_t bytes_out);

typedef struct {
    hlz_codec_id codec;   /* HLZ_CODEC_AUTO (default), STORE, ZSTD, LLM, FLOAT, ROBUST or CM */
    uint32_t chunk_size;  /* raw bytes per chunk, HLZ_CHUNK_SIZE_MIN..MAX */
    int level;            /* 1 (fast) .. 9 (small); mapped onto zstd levels */
    int threads;          /* worker threads, 1..HLZ_THREADS_MAX */
    hlz_progress_fn progress;
    void *progress_user;
    /* The language model of the llm codec, or NULL. Compressing: with a
     * model, auto sends text-like chunks to llm (keeping the smaller of llm
     * and zstd), and the archive records the model's fingerprint and name.
     * Decompressing: llm chunks need the model the archive names (its
     * fingerprint is checked). The library sets the model's thread count
     * during the call. */
    hlz_model *model;
    /* The robust codec's certified mismatch C (> 1, at most 65535; stored in
     * 1/65536 in each robust chunk): its chunks decode correctly whenever the
     * decoder's probability of every token is within a factor C of the
     * encoder's. Only used with codec ROBUST, which auto never picks. */
    double mismatch;
    /* llm codec: the online models mixed with the language model (HLZ_MIX_*,
     * default HLZ_MIX_ALL; 0 codes with the model alone). */
    unsigned mix;
    /* llm codec: the attention arithmetic, HLZ_ATTENTION_* (default FLOAT).
     * Compressing only; decompressing reads it from the archive. */
    unsigned attention;
} hlz_options;

/* Fills `options` with the defaults: auto codec, 1 MiB chunks, level 9,
 * one thread, no progress callback, no model. */
void hlz_options_default(hlz_options *options);

/* ---- Level 1: streams --------------------------------------------------- */

/* Totals of one compression or decompression. */
typedef struct {
    uint64_t raw_bytes;     /* bytes before compression */
    uint64_t archive_bytes; /* bytes of the archive, all records included */
    uint64_t chunks;
} hlz_stats;

/* Reads `in` to its end and writes one complete archive to `out`, which is
 * written strictly sequentially (it may be a pipe). `stats` may be NULL.
 * On failure `out` holds a partial archive that any decoder rejects. */
hlz_status hlz_compress_file(FILE *in, FILE *out, const hlz_options *options,
                             hlz_stats *stats, hlz_error *error);

/* Decodes every archive in `in` (several archives written one after another
 * decode to the concatenation of their contents) and writes the raw bytes to
 * `out`; `out` may be NULL to only verify (hlz -t). Each chunk is checked
 * against its checksum before it is written, and the index and trailer are
 * checked at the end, so a failure can come after some output was written:
 * callers that write files write to a temporary name and rename on success.
 * Only options->threads and the progress callback are used; `options` may
 * be NULL. */
hlz_status hlz_decompress_file(FILE *in, FILE *out, const hlz_options *options,
                               hlz_stats *stats, hlz_error *error);

/* ---- Level 2: listing ---------------------------------------------------- */

/* What the scout saw in a chunk when it chose the codec. Stored in each chunk
 * record so that `hlz -l -v` can explain decisions after the fact. */
typedef enum {
    HLZ_REASON_FORCED = 0,        /* the user asked for this codec */
    HLZ_REASON_INCOMPRESSIBLE = 1,/* high byte entropy and the zstd probe gained nothing: store */
    HLZ_REASON_COMPRESSIBLE = 2,  /* the zstd probe gained: zstd */
    HLZ_REASON_FALLBACK = 3,      /* the chosen codec did not beat the raw size: stored */
    HLZ_REASON_TEXT = 4,          /* text-like: llm and zstd tried, the smaller kept */
    HLZ_REASON_TENSOR = 5,        /* tensors named by a GGUF/safetensors header, or a float array: float */
    HLZ_REASON_MIXING = 6,        /* levels >= HLZ_CM_LEVEL_MIN, not text for the model: cm and zstd tried */
    HLZ_REASON_COUNT
} hlz_reason;

/* A short explanation of a reason code, e.g. "incompressible". */
const char *hlz_reason_name(unsigned reason);

typedef struct {
    uint32_t chunk_size;
    uint16_t format_version;
    uint32_t flags;
    uint8_t model_fingerprint[16]; /* all zero when no model was used */
    char model_name[256];          /* empty when no model was used */
    unsigned attention;            /* the llm codec's attention arithmetic (HLZ_ATTENTION_*); 0 without it */
} hlz_header_info;

typedef struct {
    uint64_t index;        /* 0-based position in its archive */
    uint64_t offset;       /* byte offset of the chunk record in the archive */
    uint64_t raw_offset;   /* offset of its first raw byte in the content */
    uint32_t raw_size;
    uint32_t coded_size;   /* payload bytes, record header not included */
    uint8_t codec;         /* hlz_codec_id */
    uint8_t reason;        /* hlz_reason */
    double entropy;        /* order-0 byte entropy, bits per byte (1/32 resolution) */
    unsigned utf8_percent; /* share of bytes in valid UTF-8 sequences */
    unsigned probe_percent;/* zstd probe output as a percentage of its input */
    uint64_t checksum;     /* XXH3-64 of the raw bytes, seeded with `index` */
    uint64_t tokens;       /* llm and robust chunks: tokens coded; else 0 */
    double model_bits;     /* llm chunks: the model's cross-entropy of the chunk in bits
                              (float probabilities, before integer tables); robust too; else 0 */
    double mismatch;       /* robust chunks: the certified mismatch C; else 0 */
    unsigned mix;          /* llm chunks: the online models mixed in (HLZ_MIX_*); else 0 */
} hlz_chunk_info;

/* Receives the header once per archive, then each chunk in order. Return
 * nonzero to stop the walk early (hlz_list_file then returns HLZ_OK). */
typedef struct {
    int (*on_header)(void *user, const hlz_header_info *header);
    int (*on_chunk)(void *user, const hlz_chunk_info *chunk);
    void *user;
} hlz_list_callbacks;

/* Walks every record of every archive in `in`, checking all structural
 * checks (header, record and index checks, the end marker) but not decoding
 * payloads: hlz -t verifies the data. */
hlz_status hlz_list_file(FILE *in, const hlz_list_callbacks *callbacks,
                         hlz_stats *stats, hlz_error *error);

/* ---- Level 3: random access -------------------------------------------- */

typedef struct {
    hlz_header_info header;
    uint64_t chunk_count;
    uint64_t raw_size;       /* total content bytes */
    hlz_chunk_info *chunks;  /* chunk_count entries (no scout fields: those live in the records) */
} hlz_index;

/* Reads the header and the index of the single archive in the seekable file
 * `in` (from its trailer: O(1) seeks). On success the caller frees the index
 * with hlz_index_free. */
hlz_status hlz_index_read(FILE *in, hlz_index *index, hlz_error *error);

void hlz_index_free(hlz_index *index);

/* Returns the chunk that holds content byte `raw_offset`, or chunk_count
 * when raw_offset is at or past the end. */
uint64_t hlz_index_find(const hlz_index *index, uint64_t raw_offset);

/* Decodes chunk `chunk` of the archive `in` into `dst` (capacity at least
 * that chunk's raw_size) without touching other chunks, verifying its record
 * and checksum. */
hlz_status hlz_decode_chunk(FILE *in, const hlz_index *index, uint64_t chunk,
                            uint8_t *dst, size_t dst_capacity, hlz_error *error);

/* ---- Language models ----------------------------------------------------- *
 * GGUF models of the llama and qwen2 architectures, evaluated with exact
 * integer matrix products (int8 weights and activations) and float32 in one
 * written order: the logits are bit-identical on every machine, thread
 * count, SIMD level, batch composition, and for prefill versus one token at
 * a time (doc/engine.md). Weights stay memory-mapped; types other than Q8_0
 * are converted to Q8_0 once, at open. */

typedef struct {
    const char *architecture;     /* "llama" or "qwen2" */
    const char *name;             /* general.name, or "" */
    uint32_t n_vocab, n_ctx, n_embd, n_layer, n_head, n_head_kv, n_ff;
    uint64_t n_params;            /* weights, counted from the tensor shapes */
    uint8_t fingerprint[16];      /* XXH3-128 of the model file's bytes */
    const char *kernels;          /* the CPU kernel set in use: "scalar", "avx2", "avx512" */
    const char *device;           /* where evaluations run: "cpu" or the GPU's name */
} hlz_model_info;

/* Where a model evaluates (hlz_model_set_device). */
typedef enum {
    HLZ_DEVICE_AUTO, /* the GPU when this build has CUDA and one is usable, else the CPU */
    HLZ_DEVICE_CPU,
    HLZ_DEVICE_CUDA  /* GPU 0 through CUDA */
} hlz_device;

/* Opens the GGUF model at `path`. Malformed or unsupported files give
 * HLZ_ERR_MODEL (or HLZ_ERR_IO) with a message naming the problem. The
 * model is read-only afterwards and may be shared by threads, each with its
 * own sessions, provided hlz_model_set_threads is not called meanwhile. */
hlz_status hlz_model_open(hlz_model **model, const char *path, hlz_error *error);

/* Frees the model; NULL is allowed. Sessions must be freed first. */
void hlz_model_free(hlz_model *model);

/* Tokenizes `size` bytes (any bytes) with the model's own tokenizer into a
 * malloc'd array of ids (no BOS added). Lossless: hlz_model_detokenize of
 * the ids gives the bytes back. HLZ_ERR_MODEL when the model has no
 * tokenizer; HLZ_ERR_UNSUPPORTED when its vocabulary cannot spell a byte. */
hlz_status hlz_model_tokenize(const hlz_model *model, const uint8_t *text, size_t size, int32_t **ids,
                              size_t *n_ids, hlz_error *error);

/* The bytes of `n` ids, in a malloc'd buffer. HLZ_ERR_PARAM for an id
 * outside the vocabulary. */
hlz_status hlz_model_detokenize(const hlz_model *model, const int32_t *ids, size_t n, uint8_t **text,
                                size_t *size, hlz_error *error);

/* The beginning-of-sequence token, or -1. */
int32_t hlz_model_bos(const hlz_model *model);

/* Facts about the model; the strings live as long as the model. */
void hlz_model_get_info(const hlz_model *model, hlz_model_info *info);

/* Worker threads used inside one evaluation (1..HLZ_THREADS_MAX; default 1).
 * Results do not depend on it. */
void hlz_model_set_threads(hlz_model *model, int threads);

/* Moves the model's evaluation to `device` (a new model evaluates on the
 * CPU). Call it before creating sessions: sessions belong to the device
 * they were made on (evaluating or copying across devices is HLZ_ERR_PARAM).
 * Results are bit-identical on every device. HLZ_DEVICE_CUDA fails with
 * HLZ_ERR_UNSUPPORTED when the build has no CUDA or no GPU is usable and
 * HLZ_ERR_NOMEM when the weights do not fit in GPU memory; HLZ_DEVICE_AUTO
 * falls back to the CPU instead of failing. */
hlz_status hlz_model_set_device(hlz_model *model, hlz_device device, hlz_error *error);

/* A key/value cache for up to `n_ctx` tokens (1..the model's context length). */
hlz_status hlz_session_create(const hlz_model *model, uint32_t n_ctx, hlz_session **session, hlz_error *error);

/* Frees a session; NULL is allowed. */
void hlz_session_free(hlz_session *session);

/* Tokens evaluated so far in the session. */
uint32_t hlz_session_length(const hlz_session *session);

/* Makes `dst` continue exactly where `src` is (same model, dst large enough):
 * how a cached prefix such as the static prime is reused. The copy takes
 * src's attention arithmetic too. */
hlz_status hlz_session_copy(const hlz_model *model, hlz_session *dst, const hlz_session *src, hlz_error *error);

/* Appends `n` tokens to the session and writes the logits of the next token
 * after each: logits[i * n_vocab + j] (NULL when not needed). Ids must be
 * below n_vocab and fit the session; on error the session is unchanged. */
hlz_status hlz_model_eval(hlz_model *model, hlz_session *session, const int32_t *tokens, size_t n,
                          float *logits, hlz_error *error);

/* Evaluates several independent sequences in one batch: counts[i] tokens of
 * tokens[i] are appended to sessions[i] (all distinct). Logits are written
 * sequence after sequence. Bit-identical to evaluating each alone. */
hlz_status hlz_model_eval_batch(hlz_model *model, hlz_session *const *sessions, const int32_t *const *tokens,
                                const size_t *counts, size_t n_seq, float *logits, hlz_error *error);

#ifdef __cplusplus
}
#endif

#endif /* HLZ_H */
