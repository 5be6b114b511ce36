/* model_util.h - small random llama and qwen2 models built in memory with
 * the GGUF writer, for engine tests that must run without ../shared. */
#ifndef HLZ_MODEL_UTIL_H
#define HLZ_MODEL_UTIL_H

#include "gguf.h"
#include "model.h"
#include "kernels.h"
#include "test.h"

#include <math.h>
#include <unistd.h>

typedef struct {
    const char *arch;            /* "llama" or "qwen2" */
    uint32_t n_embd, n_layer, n_head, n_head_kv, n_ff, n_vocab, n_ctx;
    uint32_t type;               /* ggml type of the 2-D weights: F32, F16, BF16 or Q8_0 */
    unsigned long long seed;
} test_model_shape;

static inline float tm_uniform(unsigned long long *s, float scale)
{
    return scale * ((float)(test_rand(s) >> 40) / (float)(1ull << 24) * 2.0f - 1.0f);
}

/* A [rows x cols] random matrix in `type`, scaled like a trained layer (1/sqrt(cols)). */
static inline void *tm_matrix(uint32_t type, uint64_t rows, uint64_t cols, unsigned long long *s)
{
    float scale = 1.0f / sqrtf((float)cols) * 1.7f;
    uint64_t n = rows * cols;
    if (type == HLZ_GGML_F32) {
        float *p = malloc(n * 4);
        for (uint64_t i = 0; i < n; i++) p[i] = tm_uniform(s, scale);
        return p;
    }
    if (type == HLZ_GGML_F16 || type == HLZ_GGML_BF16) {
        uint16_t *p = malloc(n * 2);
        for (uint64_t i = 0; i < n; i++) {
            float f = tm_uniform(s, scale);
            uint32_t u;
            memcpy(&u, &f, 4);
            p[i] = type == HLZ_GGML_F16 ? hlz_f32_to_f16(f) : (uint16_t)(u >> 16);
        }
        return p;
    }
    hlz_q8_0_block *p = malloc(n / 32 * sizeof *p); /* Q8_0 */
    for (uint64_t b = 0; b < n / 32; b++) {
        p[b].d = hlz_f32_to_f16(scale / 127.0f * (0.5f + 0.5f * (float)(test_rand(s) >> 60) / 15.0f));
        for (int i = 0; i < 32; i++) p[b].q[i] = (int8_t)((int)(test_rand(s) >> 56) % 128);
    }
    return p;
}

/* GPT-2's bytes_to_unicode: byte b's character, UTF-8 encoded into out (returns its length). */
static inline size_t tm_byte_char(unsigned b, char *out)
{
    unsigned cp = b;
    if (!((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255))) {
        unsigned n = 0;
        for (unsigned x = 0; x < b; x++)
            if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255))) n++;
        cp = 256 + n;
    }
    if (cp < 0x80) { out[0] = (char)cp; return 1; }
    out[0] = (char)(0xc0 | (cp >> 6));
    out[1] = (char)(0x80 | (cp & 0x3f));
    return 2;
}

/* A byte-level BPE vocabulary of n tokens (>= 256): the 256 bytes, then
 * merges of two lowercase letters ("t h" -> "th", ...), gpt2 pre-tokenizer. */
static inline void tm_add_tokenizer(hlz_gguf_writer *w, uint32_t n)
{
    char (*tok)[8] = calloc(n, 8);
    char (*mer)[8] = calloc(n, 8);
    const char **tp = calloc(n, sizeof *tp), **mp = calloc(n, sizeof *mp);
    uint32_t m = 0;
    for (unsigned b = 0; b < 256; b++) tm_byte_char(b, tok[b]);
    for (uint32_t i = 256; i < n; i++, m++) {
        char a = (char)('a' + (i - 256) % 26), c = (char)("etaoinshrdlu"[((i - 256) / 26) % 12]);
        snprintf(tok[i], 8, "%c%c", a, c);
        snprintf(mer[m], 8, "%c %c", a, c);
    }
    for (uint32_t i = 0; i < n; i++) tp[i] = tok[i];
    for (uint32_t i = 0; i < m; i++) mp[i] = mer[i];
    hlz_gguf_add_string(w, "tokenizer.ggml.model", "gpt2", 4);
    hlz_gguf_add_string(w, "tokenizer.ggml.pre", "gpt-2", 5);
    hlz_gguf_add_string_array(w, "tokenizer.ggml.tokens", tp, NULL, n);
    hlz_gguf_add_string_array(w, "tokenizer.ggml.merges", mp, NULL, m);
    free(tok), free(mer), free(tp), free(mp);
}

/* Builds the GGUF bytes of a random model; the caller frees *out. */
static inline int tm_build(const test_model_shape *sh, uint8_t **out, size_t *size)
{
    hlz_gguf_writer w;
    hlz_error e;
    if (hlz_gguf_writer_init(&w, 0, &e) != HLZ_OK) return -1;
    unsigned long long s = sh->seed | 1;
    char key[128];
    const char *a = sh->arch;
    uint32_t hd = sh->n_embd / sh->n_head, kv = hd * sh->n_head_kv;
    hlz_gguf_add_string(&w, "general.architecture", a, strlen(a));
#define K(x) (snprintf(key, sizeof key, "%s.%s", a, x), key)
    hlz_gguf_add_u32(&w, K("context_length"), sh->n_ctx);
    hlz_gguf_add_u32(&w, K("embedding_length"), sh->n_embd);
    hlz_gguf_add_u32(&w, K("block_count"), sh->n_layer);
    hlz_gguf_add_u32(&w, K("feed_forward_length"), sh->n_ff);
    hlz_gguf_add_u32(&w, K("attention.head_count"), sh->n_head);
    hlz_gguf_add_u32(&w, K("attention.head_count_kv"), sh->n_head_kv);
    hlz_gguf_add_f32(&w, K("attention.layer_norm_rms_epsilon"), 1e-6f);
    hlz_gguf_add_f32(&w, K("rope.freq_base"), 10000.0f);
#undef K
    if (sh->n_vocab >= 256) tm_add_tokenizer(&w, sh->n_vocab);
    void *ptrs[64 * 16];
    size_t np = 0;
    uint64_t d1[1], d2[2];
#define MAT(name, rows, cols) (d2[0] = (cols), d2[1] = (rows), ptrs[np] = tm_matrix(sh->type, rows, cols, &s), \
                               hlz_gguf_add_tensor(&w, name, sh->type, 2, d2, ptrs[np++]))
#define VEC(name, n, base, spread) do { float *v = malloc((n) * 4); for (uint64_t i = 0; i < (n); i++) v[i] = (base) + tm_uniform(&s, spread); \
                                        d1[0] = (n); ptrs[np++] = v; hlz_gguf_add_tensor(&w, name, HLZ_GGML_F32, 1, d1, v); } while (0)
    MAT("token_embd.weight", sh->n_vocab, sh->n_embd);
    VEC("output_norm.weight", sh->n_embd, 1.0f, 0.2f);
    MAT("output.weight", sh->n_vocab, sh->n_embd);
    for (uint32_t l = 0; l < sh->n_layer; l++) {
        char n[64];
#define N(x) (snprintf(n, sizeof n, "blk.%u.%s", l, x), n)
        VEC(N("attn_norm.weight"), sh->n_embd, 1.0f, 0.2f);
        VEC(N("ffn_norm.weight"), sh->n_embd, 1.0f, 0.2f);
        MAT(N("attn_q.weight"), sh->n_embd, sh->n_embd);
        MAT(N("attn_k.weight"), kv, sh->n_embd);
        MAT(N("attn_v.weight"), kv, sh->n_embd);
        MAT(N("attn_output.weight"), sh->n_embd, sh->n_embd);
        MAT(N("ffn_gate.weight"), sh->n_ff, sh->n_embd);
        MAT(N("ffn_up.weight"), sh->n_ff, sh->n_embd);
        MAT(N("ffn_down.weight"), sh->n_embd, sh->n_ff);
        if (strcmp(a, "qwen2") == 0) {
            VEC(N("attn_q.bias"), sh->n_embd, 0.0f, 0.3f);
            VEC(N("attn_k.bias"), kv, 0.0f, 0.3f);
            VEC(N("attn_v.bias"), kv, 0.0f, 0.3f);
        }
#undef N
    }
#undef MAT
#undef VEC
    hlz_status st = hlz_gguf_writer_to_memory(&w, out, size, &e);
    hlz_gguf_writer_free(&w);
    for (size_t i = 0; i < np; i++) free(ptrs[i]);
    return st == HLZ_OK ? 0 : -1;
}
 
/* Builds a random model and opens it; *bytes (freed by the caller) must
 * outlive the model. NULL on failure, with the reason printed as a comment. */
static inline hlz_model *tm_open(const test_model_shape *sh, uint8_t **bytes)
{
    size_t size;
    if (tm_build(sh, bytes, &size) != 0) return NULL;
    hlz_model *m = NULL;
    hlz_error e;
    if (hlz_model_open_memory(&m, *bytes, size, &e) != HLZ_OK) printf("# open: %s\n", e.message);
    return m;
}

#endif
