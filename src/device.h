/*
 * device.h - the optional CUDA backend of the forward pass (src/cuda/).
 *
 * The backend evaluates exactly forward.c's arithmetic: every float
 * operation is the same correctly rounded operation in the same order
 * (__fadd_rn, __fmul_rn, ..., nvcc -fmad=false), reductions follow the
 * canonical 32-lane order with a warp, and matrix products are exact int8
 * sums, so logits are bit-identical to the CPU's. Built only with
 * HLZ_HAVE_CUDA; without it every entry point reports HLZ_ERR_UNSUPPORTED
 * (device_stub.c). Internal; the public face is hlz_model_set_device.
 */
#ifndef HLZ_DEVICE_H
#define HLZ_DEVICE_H

#include "model.h"

/* Where each token of a batch belongs: its session and its position there. */
typedef struct {
    hlz_session *session;
    uint32_t pos;
} hlz_token_place;

/* Number of usable CUDA devices (0 without a GPU, a driver, or CUDA). */
int hlz_cuda_device_count(void);

/* Free memory of GPU 0 in bytes (0 without a GPU): what batch sizes adapt to. */
size_t hlz_cuda_free_memory(void);

/* Uploads the model's weights and tables to GPU 0 and sets m->cuda and
 * m->device_name; HLZ_ERR_NOMEM when the GPU memory does not suffice. */
hlz_status hlz_cuda_model_init(hlz_model *m, hlz_error *error);
void hlz_cuda_model_free(hlz_model *m);

/* Key/value caches on the GPU for a session of a CUDA model. */
hlz_status hlz_cuda_session_alloc(const hlz_model *m, hlz_session *s, hlz_error *error);
void hlz_cuda_session_free(hlz_session *s);
hlz_status hlz_cuda_session_copy(const hlz_model *m, hlz_session *dst, const hlz_session *src, hlz_error *error);

/* forward.c's forward() on the GPU: the `n` tokens placed by `place`,
 * logits to `out` (host memory, n * n_vocab floats) unless NULL. */
hlz_status hlz_cuda_forward(hlz_model *m, const hlz_token_place *place, const int32_t *tokens, size_t n,
                            float *out, hlz_error *error);

/* hlz_cuda_forward, then for each token t with next[t] >= 0 the statistics
 * of token next[t] under its logits (entropy.h), computed on the GPU: only
 * they come back to `stats` (n entries). With cands (HLZ_TABLE_CANDIDATES
 * per row, checked by the caller) also the hybrid encoder's figures of
 * each row into mix (hlz_token_mix_from_logits's). */
struct hlz_token_stats;
struct hlz_token_mix;
hlz_status hlz_cuda_forward_stats(hlz_model *m, const hlz_token_place *place, const int32_t *tokens, size_t n,
                                  const int32_t *next, struct hlz_token_stats *stats, const int32_t *cands,
                                  struct hlz_token_mix *mix, hlz_error *error);

/* hlz_cuda_forward, then for each j < n_find the token found for slots[j]
 * in the table of row rows[j]'s logits (entropy.h), computed on the GPU:
 * only they come back to `found`. */
struct hlz_token_found;
hlz_status hlz_cuda_forward_find(hlz_model *m, const hlz_token_place *place, const int32_t *tokens, size_t n,
                                 const uint32_t *rows, const uint32_t *slots, size_t n_find,
                                 struct hlz_token_found *found, hlz_error *error);

/* The hybrid decoder's tables between its two calls (model.h): rows tables
 * of n_vocab entries, in host memory for the CPU, GPU memory for the GPU
 * (grown by hlz_cuda_forward_guess, which also keeps `io` there: room for
 * the search's arguments and results, `rows` of each). */
struct hlz_kept_tables {
    bool on_device;
    uint32_t *tables;
    void *io;
    size_t rows;
    size_t n_seq;    /* sequences of the evaluation that made them */
    uint8_t *kept;   /* host, n_seq flags: the sequence had guesses, its table is kept */
    size_t kept_cap;
};

/* hlz_cuda_forward, then for each sequence j < n_seq, whose last token is
 * row rows[j]: with no guesses in cands[j * HLZ_TABLE_CANDIDATES ..] (all
 * -1), found[j] for slots[j] as hlz_cuda_forward_find gives it and fc 0s;
 * else fc[j * HLZ_TABLE_CANDIDATES ..] and the table without the guesses in
 * kept table j (hlz_token_guess_from_logits). Only fc and found come back. */
hlz_status hlz_cuda_forward_guess(hlz_model *m, const hlz_token_place *place, const int32_t *tokens, size_t n,
                                  const uint32_t *rows, const int32_t *cands, const uint32_t *slots, size_t n_seq,
                                  uint32_t *fc, struct hlz_token_found *found, struct hlz_kept_tables *kept,
                                  hlz_error *error);
/* found[j] for slots[j] in kept table seqs[j] (hlz_token_find_table), searched on the GPU. */
hlz_status hlz_cuda_find_kept(hlz_model *m, struct hlz_kept_tables *kept, const uint32_t *seqs, const uint32_t *slots,
                              size_t n, struct hlz_token_found *found, hlz_error *error);
/* Frees kept->tables and kept->io (GPU memory). */
void hlz_cuda_kept_free(struct hlz_kept_tables *kept);

/* Single-kernel entry points for tests/cuda/check_cuda.c: each runs the
 * kernel the forward pass uses on host inputs and returns host outputs.
 * 0 on success, -1 on a CUDA error. */
int hlz_cuda_test_quantize(const float *x, size_t n_tokens, uint64_t cols, hlz_q8_block *out);
/* The same quantization written as planes (the pipelined kernel's input):
 * q gets 32 int8 per block, d the blocks' scales. */
int hlz_cuda_test_quantize_planes(const float *x, size_t n_tokens, uint64_t cols, int8_t *q, float *d);
int hlz_cuda_test_matmul(const hlz_q8_0_block *w, uint64_t rows, uint64_t cols_pad, const hlz_q8_block *x,
                         size_t n_tokens, float *out);
/* The same with a given kernel: 0 dp4a, 1 mma, 2 tiled, 3 pipe (the default). */
int hlz_cuda_test_matmul_kind(int kind, const hlz_q8_0_block *w, uint64_t rows, uint64_t cols_pad,
                              const hlz_q8_block *x, size_t n_tokens, float *out);
int hlz_cuda_test_rmsnorm(const float *x, const float *w, size_t n_tokens, uint32_t dim, float eps, float *y);
/* x + r (r may be NULL: x alone), then hlz_cuda_test_rmsnorm and
 * hlz_cuda_test_quantize, fused as the forward pass runs them; sum (may be
 * NULL) gets x + r as the kernel writes it back. */
int hlz_cuda_test_rmsnorm_quantize(const float *x, const float *r, const float *w, size_t n_tokens, uint32_t dim,
                                   float eps, hlz_q8_block *out, float *sum);
/* silu(gate) * up (hlz_cuda_test_elementwise op 1), then quantized per
 * block of 32 as hlz_cuda_test_quantize does, fused as the forward pass runs them. */
int hlz_cuda_test_silu_quantize(const float *gate, const float *up, size_t n_tokens, uint64_t cols, hlz_q8_block *out);
/* op 0: out = hlz_expf(a) (b unused, may be NULL); op 1: out = silu(a) * b. */
int hlz_cuda_test_elementwise(int op, const float *a, const float *b, size_t n, float *out);
/* Rotates n_vec head vectors of head_dim values, vector i at position pos[i],
 * as the forward pass rotates queries (x, in place) and keys (k_out, the key
 * cache as the pass stores it); v_out gets the value cache (x as it was). */
int hlz_cuda_test_rope(float *x, size_t n_vec, uint32_t head_dim, const uint32_t *pos, const float *cos_tab,
                       const float *sin_tab, uint32_t n_pos, int neox, float *k_out, float *v_out);
/* One head's attention over n cached rows (row stride kv_row): out[head_dim]. */
int hlz_cuda_test_attention(const float *q, const float *k, const float *v, uint32_t n, uint32_t head_dim,
                            size_t kv_row, float *out);
/* Attention of a batch as the forward pass runs it (layer 0): n tokens,
 * token t of sequence seq[t] at position pos[t], its queries q[t] (n_head x
 * head_dim), caches k and v of n_seq sequences of n_ctx rows of n_head_kv x
 * head_dim (rows up to pos[t] filled); out as q. kind 0: k_attention_w64, 1:
 * k_attention_tile with groups of at most `tokens` tokens (0: the default)
 * (both float, head_dim 64); 2: integer attention (k_quantize_kv of every
 * cache row, then the int8 kernel HLZ_CUDA_INT8 picks, k_attention_int8_tile
 * by default; head_dim 32 .. HLZ_INT8_CUDA_MAX_HEAD, a multiple of 32),
 * groups as kind 1's; 3: kind 2 with k_attention_int8_mma where it applies
 * (kv groups of at most 16 query heads, head_dim at most 128; elsewhere
 * kind 2's kernels). */
int hlz_cuda_test_attention_batch(int kind, uint32_t tokens, const float *q, size_t n, uint32_t n_head,
                                  uint32_t n_head_kv, uint32_t head_dim, const uint32_t *seq, const uint32_t *pos,
                                  const float *k, const float *v, uint32_t n_seq, uint32_t n_ctx, float *out);

/* The statistics kernel alone: stats[r] for token next[r] under row r of
 * `logits` (n_rows x n_vocab, host memory; next[r] < 0 skips the row). */
int hlz_cuda_test_token_stats(const float *logits, size_t n_rows, uint32_t n_vocab, const int32_t *next,
                              struct hlz_token_stats *stats);
/* The same with the hybrid encoder's candidates (HLZ_TABLE_CANDIDATES per row) and figures. */
int hlz_cuda_test_token_mix(const float *logits, size_t n_rows, uint32_t n_vocab, const int32_t *next,
                            const int32_t *cands, struct hlz_token_stats *stats, struct hlz_token_mix *mix);

/* The search kernel alone: found[r] for slots[r] in the table of row r of
 * `logits` (n_rows x n_vocab, host memory). */
int hlz_cuda_test_token_find(const float *logits, size_t n_rows, uint32_t n_vocab, const uint32_t *slots,
                             struct hlz_token_found *found);

/* The hybrid decoder's kernels alone, on rows of `logits` (n_rows x n_vocab,
 * host memory) with cands (HLZ_TABLE_CANDIDATES per row): the guess kernel
 * gives fc (4 per row), found[r] for slots[r] of each row without guesses,
 * and tables (n_rows x n_vocab; rows with guesses: the kept tables); then
 * the kept-table search gives found2[r] for slots2[r] of each row with
 * guesses. Entries for the other rows are left as they were. */
int hlz_cuda_test_token_guess(const float *logits, size_t n_rows, uint32_t n_vocab, const int32_t *cands,
                              const uint32_t *slots, const uint32_t *slots2, uint32_t *fc,
                              struct hlz_token_found *found, uint32_t *tables, struct hlz_token_found *found2);

/* Benchmarks (bench/gpu_bench.c): the seconds one matrix product of rows x
 * cols_pad weights by n_tokens vectors takes on the GPU (kernel only, the
 * mean of `reps` launches), with kernel `kind` (0 dp4a, 1 mma, 2 tiled).
 * 0 on success, -1 on a CUDA error. */
int hlz_cuda_bench_matmul(uint64_t rows, uint64_t cols_pad, size_t n_tokens, int kind, int reps, double *seconds);
/* The seconds of one layer's head-dim-64 attention (kind as in
 * hlz_cuda_test_attention_batch, the default groups): n_seq sequences of
 * `window` tokens each at positions ctx .. ctx + window - 1 (window 1: a
 * decoding step), the mean of `reps` launches. 0 on success, -1 on an error. */
int hlz_cuda_bench_attention(int kind, uint32_t n_head, uint32_t n_head_kv, uint32_t n_seq, uint32_t window,
                             uint32_t ctx, int reps, double *seconds);

#endif
