/* device_stub.c - the CUDA entry points of device.h in a build without CUDA:
 * there is no GPU, and asking for one is HLZ_ERR_UNSUPPORTED. */
#include "device.h"
#include "internal.h"

#ifndef HLZ_HAVE_CUDA
int hlz_cuda_device_count(void) { return 0; }
size_t hlz_cuda_free_memory(void) { return 0; }

hlz_status hlz_cuda_model_init(hlz_model *m, hlz_error *error)
{
    (void)m;
    return hlz_fail(error, HLZ_ERR_UNSUPPORTED, "this build of hlz has no CUDA backend");
}

void hlz_cuda_model_free(hlz_model *m) { (void)m; }

hlz_status hlz_cuda_session_alloc(const hlz_model *m, hlz_session *s, hlz_error *error)
{
    (void)m, (void)s;
    return hlz_fail(error, HLZ_ERR_UNSUPPORTED, "this build of hlz has no CUDA backend");
}

void hlz_cuda_session_free(hlz_session *s) { (void)s; }

hlz_status hlz_cuda_session_copy(const hlz_model *m, hlz_session *dst, const hlz_session *src, hlz_error *error)
{
    (void)m, (void)dst, (void)src;
    return hlz_fail(error, HLZ_ERR_UNSUPPORTED, "this build of hlz has no CUDA backend");
}

hlz_status hlz_cuda_forward(hlz_model *m, const hlz_token_place *place, const int32_t *tokens, size_t n,
                            float *out, hlz_error *error)
{
    (void)m, (void)place, (void)tokens, (void)n, (void)out;
    return hlz_fail(error, HLZ_ERR_UNSUPPORTED, "this build of hlz has no CUDA backend");
}
hlz_status hlz_cuda_forward_stats(hlz_model *m, const hlz_token_place *place, const int32_t *tokens, size_t n,
                                  const int32_t *next, struct hlz_token_stats *stats, const int32_t *cands,
                                  struct hlz_token_mix *mix, hlz_error *error)
{
    (void)m, (void)place, (void)tokens, (void)n, (void)next, (void)stats, (void)cands, (void)mix;
    return hlz_fail(error, HLZ_ERR_UNSUPPORTED, "this build of hlz has no CUDA backend");
}

hlz_status hlz_cuda_forward_find(hlz_model *m, const hlz_token_place *place, const int32_t *tokens, size_t n,
                                 const uint32_t *rows, const uint32_t *slots, size_t n_find,
                                 struct hlz_token_found *found, hlz_error *error)
{
    (void)m, (void)place, (void)tokens, (void)n, (void)rows, (void)slots, (void)n_find, (void)found;
    return hlz_fail(error, HLZ_ERR_UNSUPPORTED, "this build of hlz has no CUDA backend");
}

hlz_status hlz_cuda_forward_guess(hlz_model *m, const hlz_token_place *place, const int32_t *tokens, size_t n,
                                  const uint32_t *rows, const int32_t *cands, const uint32_t *slots, size_t n_seq,
                                  uint32_t *fc, struct hlz_token_found *found, struct hlz_kept_tables *kept,
                                  hlz_error *error)
{
    (void)m, (void)place, (void)tokens, (void)n, (void)rows, (void)cands, (void)slots, (void)n_seq, (void)fc;
    (void)found, (void)kept;
    return hlz_fail(error, HLZ_ERR_UNSUPPORTED, "this build of hlz has no CUDA backend");
}

hlz_status hlz_cuda_find_kept(hlz_model *m, struct hlz_kept_tables *kept, const uint32_t *seqs, const uint32_t *slots,
                              size_t n, struct hlz_token_found *found, hlz_error *error)
{
    (void)m, (void)kept, (void)seqs, (void)slots, (void)n, (void)found;
    return hlz_fail(error, HLZ_ERR_UNSUPPORTED, "this build of hlz has no CUDA backend");
}

void hlz_cuda_kept_free(struct hlz_kept_tables *kept) { (void)kept; }

int hlz_cuda_bench_matmul(uint64_t rows, uint64_t cols_pad, size_t n_tokens, int kind, int reps, double *seconds)
{
    (void)rows, (void)cols_pad, (void)n_tokens, (void)kind, (void)reps, (void)seconds;
    return -1;
}

int hlz_cuda_bench_attention(int kind, uint32_t n_head, uint32_t n_head_kv, uint32_t n_seq, uint32_t window,
                             uint32_t ctx, int reps, double *seconds)
{
    (void)kind, (void)n_head, (void)n_head_kv, (void)n_seq, (void)window, (void)ctx, (void)reps, (void)seconds;
    return -1;
}
#endif
