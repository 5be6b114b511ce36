/* convert_llama2c.c - llama2.c checkpoints (legacy format: 7 x int32 header,
 * fp32 weights) and their tokenizer.bin, as llama GGUF files. */
#include "convert.h"

#include <stdlib.h>
#include <string.h>

/* llama2.c's tokenizer.bin: int32 max_token_length, then per token: float
 * score, int32 length, bytes. Spaces in pieces become SentencePiece's U+2581. */
static int add_llama2c_vocab(converter *c, const unsigned char *buf, size_t size, uint32_t vocab, const char *path)
{
    char **tokens = own(c, vocab * sizeof *tokens);
    size_t *sizes = own(c, vocab * sizeof *sizes);
    float *scores = own(c, vocab * sizeof *scores);
    int32_t *types = own(c, vocab * sizeof *types);
    if (!tokens || !sizes || !scores || !types) return fail(path, "out of memory");
    size_t at = 4;
    for (uint32_t i = 0; i < vocab; i++) {
        int32_t len;
        if (size < at || size - at < 8) return fail(path, "tokenizer file ends early");
        memcpy(&scores[i], buf + at, 4);
        memcpy(&len, buf + at + 4, 4);
        at += 8;
        if (len < 0 || (size_t)len > size - at) return fail(path, "token length runs past the end");
        char *piece = own(c, (size_t)len * 3 + 1);
        if (!piece) return fail(path, "out of memory");
        size_t n = 0;
        for (int32_t j = 0; j < len; j++) {
            if (buf[at + j] == ' ') piece[n++] = (char)0xe2, piece[n++] = (char)0x96, piece[n++] = (char)0x81;
            else piece[n++] = (char)buf[at + j];
        }
        at += (size_t)len;
        tokens[i] = piece;
        sizes[i] = n;
        if (i == 0) types[i] = 2;                                     /* unknown */
        else if (i < 3) types[i] = 3;                                 /* <s>, </s>: control */
        else if (n == 6 && memcmp(piece, "<0x", 3) == 0 && piece[5] == '>') types[i] = 6; /* byte */
        else types[i] = 1;                                            /* normal */
    }
    hlz_gguf_writer *w = &c->w;
    hlz_gguf_add_string(w, "tokenizer.ggml.model", "llama", 5);
    hlz_gguf_add_string_array(w, "tokenizer.ggml.tokens", (const char *const *)tokens, sizes, vocab);
    hlz_gguf_add_array(w, "tokenizer.ggml.scores", HLZ_GGUF_FLOAT32, scores, vocab);
    hlz_gguf_add_array(w, "tokenizer.ggml.token_type", HLZ_GGUF_INT32, types, vocab);
    hlz_gguf_add_u32(w, "tokenizer.ggml.bos_token_id", 1);
    hlz_gguf_add_u32(w, "tokenizer.ggml.eos_token_id", 2);
    hlz_gguf_add_u32(w, "tokenizer.ggml.unknown_token_id", 0);
    hlz_gguf_add_bool(w, "tokenizer.ggml.add_bos_token", true);
    return 0;
}

int convert_llama2c(converter *c, const char *ckpt_path, const char *tok_path, const char *name)
{
    const char *why;
    size_t size, tok_size;
    unsigned char *buf = read_file(ckpt_path, &size, &why), *tok = NULL;
    if (!buf) return fail(ckpt_path, why);
    int rc = 1;
    int32_t h[7];
    if (size < sizeof h) { rc = fail(ckpt_path, "too short for a llama2.c header"); goto done; }
    memcpy(h, buf, sizeof h);
    int32_t dim = h[0], hidden = h[1], layers = h[2], heads = h[3], kv_heads = h[4], vocab = h[5], seq = h[6];
    int shared = vocab > 0;
    if (vocab < 0 && vocab > -(1 << 22)) vocab = -vocab;
    if (dim <= 0 || hidden <= 0 || layers <= 0 || heads <= 0 || kv_heads <= 0 || vocab <= 0 || seq <= 0 ||
        dim % heads || heads % kv_heads || dim > 65536 || hidden > 1 << 20 || layers > 1024 || vocab > 1 << 22 ||
        seq > 1 << 20) {
        rc = fail(ckpt_path, "implausible llama2.c header");
        goto done;
    }
    uint64_t hs = (uint64_t)dim / heads, kv_dim = hs * kv_heads, L = (uint64_t)layers;
    c->layers = (uint32_t)layers;
    uint64_t counts[] = {(uint64_t)vocab * dim, L * dim, L * dim * dim, L * dim * kv_dim, L * dim * kv_dim,
                         L * dim * dim, L * dim, L * dim * hidden, L * hidden * dim, L * dim * hidden, (uint64_t)dim,
                         (uint64_t)seq * hs, shared ? 0 : (uint64_t)vocab * dim};
    uint64_t need = 0;
    for (size_t i = 0; i < sizeof counts / sizeof counts[0]; i++) need += counts[i];
    if ((size - sizeof h) / 4 < need) { rc = fail(ckpt_path, "file is shorter than its header says"); goto done; }
    const float *p = (const float *)(buf + sizeof h);
    const float *emb = p, *rms_att = emb + counts[0], *wq = rms_att + counts[1], *wk = wq + counts[2],
                *wv = wk + counts[3], *wo = wv + counts[4], *rms_ffn = wo + counts[5], *w1 = rms_ffn + counts[6],
                *w2 = w1 + counts[7], *w3 = w2 + counts[8], *rms_final = w3 + counts[9];
    /* After the final norm: the old RoPE tables (seq x hs, skipped), then the classifier if not shared. */
    const float *wcls = shared ? emb : rms_final + counts[10] + counts[11];
    if (!(tok = read_file(tok_path, &tok_size, &why))) { rc = fail(tok_path, why); goto done; }

    hlz_gguf_writer *w = &c->w;
    hlz_gguf_add_string(w, "general.architecture", "llama", 5);
    hlz_gguf_add_string(w, "general.name", name, strlen(name));
    hlz_gguf_add_u32(w, "llama.context_length", (uint32_t)seq);
    hlz_gguf_add_u32(w, "llama.embedding_length", (uint32_t)dim);
    hlz_gguf_add_u32(w, "llama.block_count", (uint32_t)layers);
    hlz_gguf_add_u32(w, "llama.feed_forward_length", (uint32_t)hidden);
    hlz_gguf_add_u32(w, "llama.attention.head_count", (uint32_t)heads);
    hlz_gguf_add_u32(w, "llama.attention.head_count_kv", (uint32_t)kv_heads);
    hlz_gguf_add_u32(w, "llama.rope.dimension_count", (uint32_t)hs);
    hlz_gguf_add_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    hlz_gguf_add_f32(w, "llama.rope.freq_base", 10000.0f);
    if (tok_size < 4 || add_llama2c_vocab(c, tok, tok_size, (uint32_t)vocab, tok_path)) goto done;
    /* llama2.c rotates adjacent pairs, as GGUF's llama layout does: no permutation. */
    add_matrix(c, "token_embd.weight", emb, (uint64_t)vocab, (uint64_t)dim);
    add_vector(c, "output_norm.weight", rms_final, (uint64_t)dim);
    if (!shared) add_matrix(c, "output.weight", wcls, (uint64_t)vocab, (uint64_t)dim);
    for (uint64_t l = 0; l < L; l++) {
        char n[64];
#define T(s) (snprintf(n, sizeof n, "blk.%llu.%s", (unsigned long long)l, s), n)
        add_vector(c, T("attn_norm.weight"), rms_att + l * dim, (uint64_t)dim);
        add_matrix(c, T("attn_q.weight"), wq + l * dim * dim, (uint64_t)dim, (uint64_t)dim);
        add_matrix(c, T("attn_k.weight"), wk + l * dim * kv_dim, kv_dim, (uint64_t)dim);
        add_matrix(c, T("attn_v.weight"), wv + l * dim * kv_dim, kv_dim, (uint64_t)dim);
        add_matrix(c, T("attn_output.weight"), wo + l * dim * dim, (uint64_t)dim, (uint64_t)dim);
        add_vector(c, T("ffn_norm.weight"), rms_ffn + l * dim, (uint64_t)dim);
        add_matrix(c, T("ffn_gate.weight"), w1 + l * dim * hidden, (uint64_t)hidden, (uint64_t)dim);
        add_matrix(c, T("ffn_down.weight"), w2 + l * hidden * dim, (uint64_t)dim, (uint64_t)hidden);
        add_matrix(c, T("ffn_up.weight"), w3 + l * dim * hidden, (uint64_t)hidden, (uint64_t)dim);
#undef T
    }
    rc = 0;
done:
    /* The writer references the weights until the file is written: keep them. */
    if (rc != 0 || adopt(c, buf) != 0) {
        free(buf);
        buf = NULL;
    }
    if (rc != 0 || adopt(c, tok) != 0) free(tok);
    else if (!buf) rc = fail(ckpt_path, "out of memory");
    return rc;
}
