/*
 * model.h - transformer models from GGUF files (llama and qwen2) and the
 * deterministic forward pass. Internal; the public face is in hlz.h.
 *
 * Arithmetic (doc/engine.md): every matrix is held as Q8_0 (int8 blocks of
 * 32 with an fp16 scale; other GGUF types are converted once at load), every
 * activation vector is quantized per block of 32 before a matrix product,
 * and products are exact integer sums combined in a fixed order
 * (kernels.h). The rest is float32 with correctly rounded operations in one
 * written order, so logits are bit-identical for any thread count, SIMD
 * level, batch size, and for prefill versus one token at a time.
 */
#ifndef HLZ_MODEL_H
#define HLZ_MODEL_H

#include "gguf.h"
#include "kernels.h"
#include "tokenizer.h"

typedef enum { HLZ_ARCH_LLAMA, HLZ_ARCH_QWEN2 } hlz_arch;

typedef struct {
    hlz_arch arch;
    uint32_t n_embd;      /* model width */
    uint32_t n_layer;
    uint32_t n_head, n_head_kv, head_dim;
    uint32_t n_ff;        /* feed-forward width */
    uint32_t n_vocab;
    uint32_t n_ctx;       /* trained context length */
    float rms_eps;
    float rope_base;
    bool rope_neox;       /* qwen2 rotates halves; llama (as stored in GGUF) rotates adjacent pairs */
} hlz_model_config;

/* A matrix of `rows` rows of `cols` values in Q8_0 blocks; rows are padded
 * with zeros to `cols_pad` (a multiple of 32), which changes no product. */
typedef struct {
    uint64_t rows, cols, cols_pad;
    const hlz_q8_0_block *blocks; /* rows * cols_pad / 32, row after row */
} hlz_matrix;

/* n rounded up to whole quantization blocks. */
static inline uint64_t hlz_pad32(uint64_t n) { return (n + 31) / 32 * 32; }

typedef struct {
    const float *attn_norm, *ffn_norm;              /* n_embd */
    hlz_matrix wq, wk, wv, wo, w_gate, w_up, w_down;
    const float *bq, *bk, *bv;                      /* qwen2 biases, else NULL */
} hlz_layer;

struct hlz_model {
    hlz_model_config config;
    uint8_t fingerprint[16];       /* XXH3-128 of the file's bytes */
    const char *name;              /* general.name, at most 255 bytes, or "" */
    hlz_tokenizer *tok;            /* from tokenizer.ggml.*, or NULL when the file has none */
    hlz_gguf file;
    const hlz_gguf_tensor *token_embd;
    const float *output_norm;
    hlz_matrix output;
    hlz_layer *layers;
    float *rope_cos, *rope_sin;    /* [n_ctx][head_dim / 2] */
    void **owned;                  /* buffers we allocated (converted weights, vectors) */
    size_t owned_count, owned_cap;
    const hlz_kernels *kernels;
    int threads;
    struct hlz_cuda_model *cuda;   /* the weights on the GPU (device.h), or NULL: the CPU evaluates */
    const char *device_name;       /* "cpu" or the GPU's name */
};

/* One sequence's key/value cache. */
struct hlz_session {
    uint32_t n_past;   /* tokens already evaluated */
    uint32_t n_ctx;    /* capacity */
    float *k, *v;      /* [n_layer][n_ctx][n_head_kv * head_dim] */
    bool on_device;    /* k and v are GPU memory (the model evaluates on the GPU) */
    /* On the GPU, int8 attention's caches: k and v quantized per block of 32
     * as the pass stores them (values [n_layer][n_ctx][n_head_kv * head_dim],
     * scales [n_layer][n_ctx][n_head_kv * head_dim / 32]); allocated by the
     * first int8 evaluation or copy, else NULL. */
    int8_t *k8, *v8;
    float *kd, *vd;
    /* On the CPU, int8 attention's caches: k and v quantized per block of
     * 32 as stored ([n_layer][n_ctx][n_head_kv * head_dim / 32] blocks),
     * allocated by the first int8 evaluation or copy, else NULL. A session's
     * attention is set before its first evaluation (else HLZ_ERR_PARAM). */
    hlz_q8_block *kq, *vq;
    unsigned long long batch; /* the last evaluation call that listed it (forward.c's check for repeats) */
    uint8_t attention; /* HLZ_ATTENTION_* (hlz.h): float from hlz_session_create; a copy takes its source's */
};

/* The int8 attention ("attention 1", doc/engine.md) of one query head q
 * (hd floats after RoPE, hd a multiple of 32) over n >= 1 cached positions
 * (n < 65536, so that the integer sums fit int32): key j at keys + j *
 * stride and value j at values + j * stride (hd floats each), into out (hd
 * floats). Quantization with kern->quantize_q8 (every kernel set gives the
 * same). `scratch` holds hlz_attention_int8_scratch(n, hd) bytes, aligned
 * for a uint64_t. */
void hlz_attention_int8(const hlz_kernels *kern, const float *q, const float *keys, const float *values,
                        size_t stride, uint32_t n, uint32_t hd, float *out, void *scratch);
size_t hlz_attention_int8_scratch(uint32_t n, uint32_t hd);

/* The same with the keys and values already quantized (as the CPU pass
 * keeps them): blocks of key j at kb + j * bstride (hd / 32 of them), of
 * value j at vb + j * bstride; the same bits as hlz_attention_int8 of the
 * floats they were made from. `scratch` holds
 * hlz_attention_int8_blocks_scratch(n, hd) bytes, aligned for a uint64_t. */
void hlz_attention_int8_blocks(const hlz_kernels *kern, const float *q, const hlz_q8_block *kb,
                               const hlz_q8_block *vb, size_t bstride, uint32_t n, uint32_t hd, float *out,
                               void *scratch);
size_t hlz_attention_int8_blocks_scratch(uint32_t n, uint32_t hd);

/* The widest head the GPU's int8 attention kernel takes (HLZ_ERR_UNSUPPORTED beyond). */
#define HLZ_INT8_CUDA_MAX_HEAD 256

/* The public model API (open, free, sessions, evaluation) is declared and
 * documented in hlz.h. For tests and tools: */

/* A tokenizer from the tokenizer.ggml.* metadata of a GGUF (a model, or a
 * vocabulary-only file like llama.cpp's ggml-vocab-*.gguf) with at most
 * `max_tokens` tokens; *out stays NULL when the file has none. */
hlz_status hlz_tokenizer_from_gguf(const hlz_gguf *gguf, uint32_t max_tokens, hlz_tokenizer **out, hlz_error *error);

/* Builds model->tok from the tokenizer.ggml.* metadata (model_vocab.c);
 * leaves it NULL when the file has no tokenizer. */
hlz_status hlz_model_load_tokenizer(hlz_model *model, hlz_error *error);

/* hlz_model_eval_batch, but instead of logits the statistics of one token
 * per row (entropy.h): row t (the t-th token of the batch, sequence after
 * sequence) gives stats[t] for token next[t], or nothing when next[t] < 0.
 * On the GPU only these statistics leave it; on the CPU they are made from
 * the logits. Either way they equal hlz_token_stats_from_logits's. */
struct hlz_token_stats;
hlz_status hlz_model_eval_batch_stats(hlz_model *model, hlz_session *const *sessions, const int32_t *const *tokens,
                                      const size_t *counts, size_t n_seq, const int32_t *next,
                                      struct hlz_token_stats *stats, hlz_error *error);

/* The same for the hybrid encoder: cands holds HLZ_TABLE_CANDIDATES guesses
 * per row (distinct tokens, then -1s; entropy.h), and mix[t] gets what
 * hlz_token_mix_from_logits gives for next[t] and those guesses. */
struct hlz_token_mix;
hlz_status hlz_model_eval_batch_stats_mix(hlz_model *model, hlz_session *const *sessions,
                                          const int32_t *const *tokens, const size_t *counts, size_t n_seq,
                                          const int32_t *next, const int32_t *cands, struct hlz_token_stats *stats,
                                          struct hlz_token_mix *mix, hlz_error *error);

/* hlz_model_eval_batch for the llm decoder: instead of logits, for each
 * sequence i the token whose interval of the table after its last token
 * holds slots[i], with that interval (entropy.h hlz_token_found; every
 * count must be >= 1). On the GPU only these 12 bytes per sequence leave it. */
struct hlz_token_found;
hlz_status hlz_model_eval_batch_find(hlz_model *model, hlz_session *const *sessions, const int32_t *const *tokens,
                                     const size_t *counts, size_t n_seq, const uint32_t *slots,
                                     struct hlz_token_found *found, hlz_error *error);

/* The hybrid decoder's evaluation (hybrid.h: its guesses come first, the
 * token's search after the decisions) in two calls, with the tables kept
 * between them where they were made (GPU memory on the GPU), so that only a
 * few figures per sequence leave it. A kept-tables object belongs to one
 * walk at a time and to the model (and its device) it was made for. */
typedef struct hlz_kept_tables hlz_kept_tables;
hlz_status hlz_kept_tables_create(hlz_model *model, hlz_kept_tables **out, hlz_error *error);
void hlz_kept_tables_free(hlz_kept_tables *kept);

/* hlz_model_eval_batch_find with guesses: cands holds HLZ_TABLE_CANDIDATES
 * per sequence (distinct tokens, then -1s). A sequence without guesses gets
 * found[i] for slots[i], as hlz_model_eval_batch_find gives it, and fc 0s;
 * one with guesses gets in fc[i * HLZ_TABLE_CANDIDATES ..] the frequency of
 * each guess in its table (0 past the last; hlz_token_guess_from_logits),
 * and its table without them stays in `kept` for hlz_model_find_kept (its
 * found[i] and slots[i] are not used). */
hlz_status hlz_model_eval_batch_guess(hlz_model *model, hlz_session *const *sessions, const int32_t *const *tokens,
                                      const size_t *counts, size_t n_seq, const int32_t *cands, const uint32_t *slots,
                                      uint32_t *fc, struct hlz_token_found *found, hlz_kept_tables *kept,
                                      hlz_error *error);

/* The search that follows: found[j] for slots[j] in the kept table (without
 * its guesses) of sequence seqs[j] of the last hlz_model_eval_batch_guess
 * with `kept`, as hlz_token_find_table gives; each must have had guesses. */
hlz_status hlz_model_find_kept(hlz_model *model, hlz_kept_tables *kept, const uint32_t *seqs, const uint32_t *slots,
                               size_t n, struct hlz_token_found *found, hlz_error *error);

/* Opens a model from `size` bytes at `data`, which must outlive the model. */
hlz_status hlz_model_open_memory(hlz_model **out, const void *data, size_t size, hlz_error *error);

#endif
