/* model.c - loading llama and qwen2 models from GGUF: hyperparameters,
 * weights (bound in place when already Q8_0, converted once otherwise),
 * the RoPE tables, and the sessions that hold key/value caches. */
#include "device.h"
#include "detmath.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LAYERS 1024
#define MAX_WIDTH (1u << 17)
#define MAX_VOCAB (1u << 22)
#define MAX_CTX (1u << 16) /* bounds the RoPE tables and sessions */

static void *keep(hlz_model *m, size_t bytes)
{
    if (m->owned_count == m->owned_cap) {
        size_t cap = m->owned_cap ? 2 * m->owned_cap : 64;
        void **grown = realloc(m->owned, cap * sizeof *grown);
        if (!grown) return NULL;
        m->owned = grown;
        m->owned_cap = cap;
    }
    void *p = calloc(1, bytes ? bytes : 1);
    if (p) m->owned[m->owned_count++] = p;
    return p;
}

static hlz_status get_tensor(hlz_model *m, const char *name, uint32_t n_dims, uint64_t d0, uint64_t d1,
                             const hlz_gguf_tensor **out, hlz_error *e)
{
    hlz_status st = hlz_gguf_get_tensor(&m->file, name, out, e);
    if (st != HLZ_OK) return st;
    const hlz_gguf_tensor *t = *out;
    if (t->n_dims != n_dims || t->dims[0] != d0 || (n_dims == 2 && t->dims[1] != d1))
        return hlz_fail(e, HLZ_ERR_MODEL, "tensor '%s' has shape [%llu, %llu], expected [%llu, %llu]", name,
                        (unsigned long long)t->dims[0], (unsigned long long)(t->n_dims > 1 ? t->dims[1] : 1),
                        (unsigned long long)d0, (unsigned long long)(n_dims == 2 ? d1 : 1));
    return HLZ_OK;
}

/* Binds or converts a [rows x cols] weight matrix to Q8_0. */
static hlz_status load_matrix(hlz_model *m, const char *name, uint64_t rows, uint64_t cols, hlz_matrix *out,
                              hlz_error *e)
{
    const hlz_gguf_tensor *t;
    hlz_status st = get_tensor(m, name, 2, cols, rows, &t, e);
    if (st != HLZ_OK) return st;
    out->rows = rows;
    out->cols = cols;
    out->cols_pad = hlz_pad32(cols);
    if (t->type == HLZ_GGML_Q8_0) {
        out->blocks = (const hlz_q8_0_block *)t->data;
        return HLZ_OK;
    }
    uint64_t pad = out->cols_pad;
    hlz_q8_0_block *blocks = keep(m, rows * pad / HLZ_QBLOCK * sizeof *blocks);
    float *row = calloc(pad, sizeof *row);
    if (!blocks || !row) {
        free(row);
        return hlz_fail(e, HLZ_ERR_NOMEM, "out of memory converting tensor '%s'", name);
    }
    for (uint64_t r = 0; r < rows && st == HLZ_OK; r++) {
        st = hlz_gguf_tensor_row(t, r, row, e);
        hlz_quantize_row_q8_0(row, pad, blocks + r * (pad / HLZ_QBLOCK));
    }
    free(row);
    out->blocks = blocks;
    return st;
}

static hlz_status load_vector(hlz_model *m, const char *name, uint64_t n, bool optional, const float **out,
                              hlz_error *e)
{
    *out = NULL;
    if (optional && !hlz_gguf_find_tensor(&m->file, name)) return HLZ_OK;
    const hlz_gguf_tensor *t;
    hlz_status st = get_tensor(m, name, 1, n, 1, &t, e);
    if (st != HLZ_OK) return st;
    if (t->type == HLZ_GGML_F32) {
        *out = (const float *)t->data;
        return HLZ_OK;
    }
    float *v = keep(m, n * sizeof *v);
    if (!v) return hlz_fail(e, HLZ_ERR_NOMEM, "out of memory");
    *out = v;
    return hlz_gguf_tensor_row(t, 0, v, e);
}

static hlz_status get_u32_default(const hlz_gguf *g, const char *key, uint32_t fallback, uint32_t *out,
                                  hlz_error *e)
{
    if (!hlz_gguf_find(g, key)) {
        *out = fallback;
        return HLZ_OK;
    }
    return hlz_gguf_get_u32(g, key, out, e);
}

static hlz_status get_f32_default(const hlz_gguf *g, const char *key, float fallback, float *out, hlz_error *e)
{
    if (!hlz_gguf_find(g, key)) {
        *out = fallback;
        return HLZ_OK;
    }
    return hlz_gguf_get_f32(g, key, out, e);
}

static hlz_status read_config(hlz_model *m, hlz_error *e)
{
    hlz_model_config *c = &m->config;
    hlz_gguf_str arch;
    hlz_status st = hlz_gguf_get_string(&m->file, "general.architecture", &arch, e);
    if (st != HLZ_OK) return st;
    const char *a;
    if (arch.size == 5 && memcmp(arch.data, "llama", 5) == 0) c->arch = HLZ_ARCH_LLAMA, a = "llama";
    else if (arch.size == 5 && memcmp(arch.data, "qwen2", 5) == 0) c->arch = HLZ_ARCH_QWEN2, a = "qwen2";
    else
        return hlz_fail(e, HLZ_ERR_MODEL, "unsupported architecture '%.*s' (hlz runs llama and qwen2)",
                        (int)(arch.size > 64 ? 64 : arch.size), arch.data);
    char key[128];
#define KEY(suffix) (snprintf(key, sizeof key, "%s.%s", a, suffix), key)
    if ((st = hlz_gguf_get_u32(&m->file, KEY("embedding_length"), &c->n_embd, e)) ||
        (st = hlz_gguf_get_u32(&m->file, KEY("block_count"), &c->n_layer, e)) ||
        (st = hlz_gguf_get_u32(&m->file, KEY("attention.head_count"), &c->n_head, e)) ||
        (st = hlz_gguf_get_u32(&m->file, KEY("feed_forward_length"), &c->n_ff, e)) ||
        (st = get_u32_default(&m->file, KEY("context_length"), 2048, &c->n_ctx, e)) ||
        (st = get_u32_default(&m->file, KEY("attention.head_count_kv"), c->n_head, &c->n_head_kv, e)) ||
        (st = get_f32_default(&m->file, KEY("attention.layer_norm_rms_epsilon"), 1e-5f, &c->rms_eps, e)) ||
        (st = get_f32_default(&m->file, KEY("rope.freq_base"), 10000.0f, &c->rope_base, e)))
        return st;
    if (c->n_head == 0 || c->n_head > 1024)
        return hlz_fail(e, HLZ_ERR_MODEL, "head count %u out of range", (unsigned)c->n_head);
    if ((st = get_u32_default(&m->file, KEY("attention.key_length"), c->n_embd / c->n_head, &c->head_dim, e)))
        return st;
    uint32_t n_rot;
    if ((st = get_u32_default(&m->file, KEY("rope.dimension_count"), c->head_dim, &n_rot, e))) return st;
#undef KEY
    c->rope_neox = c->arch == HLZ_ARCH_QWEN2;
    if (c->n_layer == 0 || c->n_layer > MAX_LAYERS)
        return hlz_fail(e, HLZ_ERR_MODEL, "layer count %u out of range", (unsigned)c->n_layer);
    if (c->n_embd == 0 || c->n_embd > MAX_WIDTH)
        return hlz_fail(e, HLZ_ERR_MODEL, "model width %u out of range", (unsigned)c->n_embd);
    if (c->n_head_kv == 0 || c->n_head % c->n_head_kv)
        return hlz_fail(e, HLZ_ERR_MODEL, "%u heads cannot share %u key/value heads", (unsigned)c->n_head,
                        (unsigned)c->n_head_kv);
    if (c->head_dim == 0 || c->head_dim % 2 || c->head_dim > 1024)
        return hlz_fail(e, HLZ_ERR_MODEL, "unsupported head size %u", (unsigned)c->head_dim);
    if (n_rot != c->head_dim)
        return hlz_fail(e, HLZ_ERR_MODEL, "partial rotary embeddings (%u of %u dims) are not supported",
                        (unsigned)n_rot, (unsigned)c->head_dim);
    if (c->n_ff == 0 || c->n_ff > 8 * MAX_WIDTH)
        return hlz_fail(e, HLZ_ERR_MODEL, "feed-forward width %u out of range", (unsigned)c->n_ff);
    if (!(c->rms_eps > 0.0f && c->rms_eps < 1.0f) || !(c->rope_base > 1.0f && c->rope_base < 1e12f))
        return hlz_fail(e, HLZ_ERR_MODEL, "norm epsilon or RoPE base out of range");
    if (c->n_ctx == 0) c->n_ctx = 2048;
    if (c->n_ctx > MAX_CTX) c->n_ctx = MAX_CTX;
    return HLZ_OK;
}

/* cos and sin of pos * theta_i, theta_i = base^(-2i/d) / factor_i, from the
 * deterministic double functions, rounded once to float. */
static hlz_status build_rope(hlz_model *m, hlz_error *e)
{
    const hlz_model_config *c = &m->config;
    uint32_t half = c->head_dim / 2;
    const float *factors;
    hlz_status st = load_vector(m, "rope_freqs.weight", half, true, &factors, e);
    if (st != HLZ_OK) return st;
    m->rope_cos = keep(m, (size_t)c->n_ctx * half * sizeof(float));
    m->rope_sin = keep(m, (size_t)c->n_ctx * half * sizeof(float));
    double *theta = malloc(half * sizeof *theta);
    if (!m->rope_cos || !m->rope_sin || !theta) {
        free(theta);
        return hlz_fail(e, HLZ_ERR_NOMEM, "out of memory for RoPE tables");
    }
    double log_base = hlz_det_log((double)c->rope_base);
    for (uint32_t i = 0; i < half; i++) {
        theta[i] = hlz_det_exp(-(double)(2 * i) / (double)c->head_dim * log_base);
        if (factors) theta[i] = theta[i] / (double)factors[i];
    }
    for (uint32_t pos = 0; pos < c->n_ctx; pos++)
        for (uint32_t i = 0; i < half; i++) {
            double s, co;
            hlz_det_sincos((double)pos * theta[i], &s, &co);
            m->rope_cos[(size_t)pos * half + i] = (float)co;
            m->rope_sin[(size_t)pos * half + i] = (float)s;
        }
    free(theta);
    return HLZ_OK;
}

static hlz_status load_weights(hlz_model *m, hlz_error *e)
{
    hlz_model_config *c = &m->config;
    hlz_status st = hlz_gguf_get_tensor(&m->file, "token_embd.weight", &m->token_embd, e);
    if (st != HLZ_OK) return st;
    const hlz_gguf_tensor *te = m->token_embd;
    if (te->n_dims != 2 || te->dims[0] != c->n_embd || te->dims[1] == 0 || te->dims[1] > MAX_VOCAB)
        return hlz_fail(e, HLZ_ERR_MODEL, "tensor 'token_embd.weight' does not have the shape [%u, vocabulary]",
                        (unsigned)c->n_embd);
    if (!hlz_ggml_type(te->type)->supported)
        return hlz_fail(e, HLZ_ERR_MODEL, "tensor 'token_embd.weight' has unsupported type %s",
                        hlz_ggml_type_name(te->type));
    c->n_vocab = (uint32_t)te->dims[1];
    uint64_t q_dim = (uint64_t)c->n_head * c->head_dim, kv_dim = (uint64_t)c->n_head_kv * c->head_dim;
    if ((st = load_vector(m, "output_norm.weight", c->n_embd, false, &m->output_norm, e))) return st;
    const char *out_name = hlz_gguf_find_tensor(&m->file, "output.weight") ? "output.weight" : "token_embd.weight";
    if ((st = load_matrix(m, out_name, c->n_vocab, c->n_embd, &m->output, e))) return st;
    m->layers = keep(m, c->n_layer * sizeof *m->layers);
    if (!m->layers) return hlz_fail(e, HLZ_ERR_NOMEM, "out of memory");
    bool bias = c->arch == HLZ_ARCH_QWEN2;
    for (uint32_t i = 0; i < c->n_layer; i++) {
        hlz_layer *l = &m->layers[i];
        char name[96];
#define NAME(s) (snprintf(name, sizeof name, "blk.%u.%s", (unsigned)i, s), name)
        if ((st = load_vector(m, NAME("attn_norm.weight"), c->n_embd, false, &l->attn_norm, e)) ||
            (st = load_vector(m, NAME("ffn_norm.weight"), c->n_embd, false, &l->ffn_norm, e)) ||
            (st = load_matrix(m, NAME("attn_q.weight"), q_dim, c->n_embd, &l->wq, e)) ||
            (st = load_matrix(m, NAME("attn_k.weight"), kv_dim, c->n_embd, &l->wk, e)) ||
            (st = load_matrix(m, NAME("attn_v.weight"), kv_dim, c->n_embd, &l->wv, e)) ||
            (st = load_matrix(m, NAME("attn_output.weight"), c->n_embd, q_dim, &l->wo, e)) ||
            (st = load_matrix(m, NAME("ffn_gate.weight"), c->n_ff, c->n_embd, &l->w_gate, e)) ||
            (st = load_matrix(m, NAME("ffn_up.weight"), c->n_ff, c->n_embd, &l->w_up, e)) ||
            (st = load_matrix(m, NAME("ffn_down.weight"), c->n_embd, c->n_ff, &l->w_down, e)))
            return st;
        if (bias && ((st = load_vector(m, NAME("attn_q.bias"), q_dim, false, &l->bq, e)) ||
                     (st = load_vector(m, NAME("attn_k.bias"), kv_dim, false, &l->bk, e)) ||
                     (st = load_vector(m, NAME("attn_v.bias"), kv_dim, false, &l->bv, e))))
            return st;
#undef NAME
    }
    return build_rope(m, e);
}

/* general.name as a C string (empty when absent), for messages and archive headers. */
static hlz_status read_name(hlz_model *m, hlz_error *e)
{
    hlz_gguf_str name = {"", 0};
    if (hlz_gguf_find(&m->file, "general.name")) {
        hlz_status st = hlz_gguf_get_string(&m->file, "general.name", &name, e);
        if (st != HLZ_OK) return st;
    }
    size_t n = name.size > 255 ? 255 : name.size;
    char *s = keep(m, n + 1);
    if (!s) return hlz_fail(e, HLZ_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) s[i] = name.data[i] ? name.data[i] : '?';
    m->name = s;
    return HLZ_OK;
}

static hlz_status finish_open(hlz_model *m, hlz_model **out, hlz_error *e)
{
    m->kernels = hlz_kernels_best();
    m->threads = 1;
    m->device_name = "cpu";
    hlz_fingerprint128(m->file.base, m->file.file_size, m->fingerprint);
    hlz_status st = read_config(m, e);
    if (st == HLZ_OK) st = load_weights(m, e);
    if (st == HLZ_OK) st = read_name(m, e);
    if (st == HLZ_OK) st = hlz_model_load_tokenizer(m, e);
    if (st != HLZ_OK) {
        hlz_model_free(m);
        return st;
    }
    *out = m;
    return HLZ_OK;
}

hlz_status hlz_model_open(hlz_model **out, const char *path, hlz_error *error)
{
    *out = NULL;
    hlz_model *m = calloc(1, sizeof *m);
    if (!m) return hlz_fail(error, HLZ_ERR_NOMEM, "out of memory");
    hlz_status st = hlz_gguf_open(&m->file, path, error);
    if (st != HLZ_OK) {
        free(m);
        return st;
    }
    return finish_open(m, out, error);
}

hlz_status hlz_model_open_memory(hlz_model **out, const void *data, size_t size, hlz_error *error)
{
    *out = NULL;
    hlz_model *m = calloc(1, sizeof *m);
    if (!m) return hlz_fail(error, HLZ_ERR_NOMEM, "out of memory");
    hlz_status st = hlz_gguf_open_memory(&m->file, data, size, error);
    if (st != HLZ_OK) {
        free(m);
        return st;
    }
    return finish_open(m, out, error);
}

void hlz_model_free(hlz_model *m)
{
    if (!m) return;
    hlz_cuda_model_free(m);
    hlz_tokenizer_free(m->tok);
    for (size_t i = 0; i < m->owned_count; i++) free(m->owned[i]);
    free(m->owned);
    hlz_gguf_close(&m->file);
    free(m);
}

void hlz_model_get_info(const hlz_model *m, hlz_model_info *info)
{
    const hlz_model_config *c = &m->config;
    memset(info, 0, sizeof *info);
    info->architecture = c->arch == HLZ_ARCH_QWEN2 ? "qwen2" : "llama";
    info->name = m->name;
    info->n_vocab = c->n_vocab, info->n_ctx = c->n_ctx, info->n_embd = c->n_embd, info->n_layer = c->n_layer;
    info->n_head = c->n_head, info->n_head_kv = c->n_head_kv, info->n_ff = c->n_ff;
    for (uint64_t i = 0; i < m->file.tensor_count; i++)
        if (strcmp(m->file.tensors[i].name, "rope_freqs.weight") != 0) info->n_params += m->file.tensors[i].n_elements;
    memcpy(info->fingerprint, m->fingerprint, 16);
    info->kernels = m->kernels->name;
    info->device = m->device_name;
}

hlz_status hlz_model_set_device(hlz_model *m, hlz_device device, hlz_error *error)
{
    if (device == HLZ_DEVICE_CPU) {
        hlz_cuda_model_free(m);
        return HLZ_OK;
    }
    if (device != HLZ_DEVICE_AUTO && device != HLZ_DEVICE_CUDA)
        return hlz_fail(error, HLZ_ERR_PARAM, "unknown device %d", (int)device);
    if (device == HLZ_DEVICE_AUTO && hlz_cuda_device_count() < 1) return HLZ_OK;
    hlz_error ignored;
    hlz_status st = hlz_cuda_model_init(m, device == HLZ_DEVICE_AUTO ? &ignored : error);
    return device == HLZ_DEVICE_AUTO ? HLZ_OK : st; /* auto falls back to the CPU */
}

uint32_t hlz_session_length(const hlz_session *s) { return s->n_past; }

void hlz_model_set_threads(hlz_model *m, int threads)
{
    m->threads = threads < 1 ? 1 : threads > HLZ_THREADS_MAX ? HLZ_THREADS_MAX : threads;
}

hlz_status hlz_session_create(const hlz_model *m, uint32_t n_ctx, hlz_session **out, hlz_error *error)
{
    *out = NULL;
    const hlz_model_config *c = &m->config;
    if (n_ctx == 0 || n_ctx > c->n_ctx)
        return hlz_fail(error, HLZ_ERR_PARAM, "context of %u tokens: the model allows 1..%u", (unsigned)n_ctx,
                        (unsigned)c->n_ctx);
    hlz_session *s = calloc(1, sizeof *s);
    size_t per = (size_t)c->n_layer * n_ctx * c->n_head_kv * c->head_dim;
    if (s && m->cuda) {
        s->n_ctx = n_ctx;
        hlz_status st = hlz_cuda_session_alloc(m, s, error);
        if (st != HLZ_OK) {
            free(s);
            return st;
        }
        *out = s;
        return HLZ_OK;
    }
    if (s) {
        s->k = malloc(per * sizeof(float));
        s->v = malloc(per * sizeof(float));
    }
    if (!s || !s->k || !s->v) {
        hlz_session_free(s);
        return hlz_fail(error, HLZ_ERR_NOMEM, "out of memory for a %u-token key/value cache", (unsigned)n_ctx);
    }
    s->n_ctx = n_ctx;
    *out = s;
    return HLZ_OK;
}

void hlz_session_free(hlz_session *s)
{
    if (!s) return;
    if (s->on_device) {
        hlz_cuda_session_free(s);
        free(s);
        return;
    }
    free(s->k), free(s->v), free(s->kq), free(s->vq);
    free(s);
}

hlz_status hlz_session_copy(const hlz_model *m, hlz_session *dst, const hlz_session *src, hlz_error *error)
{
    const hlz_model_config *c = &m->config;
    if (dst->n_ctx < src->n_past)
        return hlz_fail(error, HLZ_ERR_PARAM, "session too small for the copy");
    if (dst->on_device != src->on_device)
        return hlz_fail(error, HLZ_ERR_PARAM, "sessions of the CPU and of the GPU cannot be copied into each other");
    dst->attention = src->attention;
    if (src->on_device) return hlz_cuda_session_copy(m, dst, src, error);
    size_t row = (size_t)c->n_head_kv * c->head_dim;
    for (uint32_t l = 0; l < c->n_layer; l++) {
        memcpy(dst->k + (size_t)l * dst->n_ctx * row, src->k + (size_t)l * src->n_ctx * row,
               (size_t)src->n_past * row * sizeof(float));
        memcpy(dst->v + (size_t)l * dst->n_ctx * row, src->v + (size_t)l * src->n_ctx * row,
               (size_t)src->n_past * row * sizeof(float));
    }
    if (src->kq && src->n_past) { /* the int8 caches, when the source has them */
        size_t nbk = row / HLZ_QBLOCK, blocks = (size_t)c->n_layer * dst->n_ctx * nbk;
        if (!dst->kq) {
            dst->kq = malloc(blocks * sizeof *dst->kq), dst->vq = malloc(blocks * sizeof *dst->vq);
            if (!dst->kq || !dst->vq) {
                free(dst->kq), free(dst->vq);
                dst->kq = dst->vq = NULL;
                dst->n_past = 0;
                return hlz_fail(error, HLZ_ERR_NOMEM, "out of memory for a %u-token int8 key/value cache",
                                (unsigned)dst->n_ctx);
            }
        }
        for (uint32_t l = 0; l < c->n_layer; l++) {
            memcpy(dst->kq + (size_t)l * dst->n_ctx * nbk, src->kq + (size_t)l * src->n_ctx * nbk,
                   (size_t)src->n_past * nbk * sizeof *dst->kq);
            memcpy(dst->vq + (size_t)l * dst->n_ctx * nbk, src->vq + (size_t)l * src->n_ctx * nbk,
                   (size_t)src->n_past * nbk * sizeof *dst->vq);
        }
    }
    dst->n_past = src->n_past;
    return HLZ_OK;
}
