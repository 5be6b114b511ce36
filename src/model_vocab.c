/* model_vocab.c - the tokenizer a GGUF model carries in its metadata
 * (tokenizer.ggml.*), built with tokenizer.c, and the model-level tokenize
 * and detokenize of hlz.h. */
#include "model.h"
#include "tokenizer.h"

#include <stdlib.h>
#include <string.h>

/* tokenizer.ggml.pre names (llama.cpp's) and the rules they stand for. */
static int pre_from_gguf(const char *name, size_t size)
{
    static const struct { const char *name; hlz_tok_pre pre; } names[] = {
        {"default", HLZ_TOK_PRE_GPT2}, {"gpt-2", HLZ_TOK_PRE_GPT2}, {"gpt2", HLZ_TOK_PRE_GPT2},
        {"llama-bpe", HLZ_TOK_PRE_LLAMA3}, {"llama3", HLZ_TOK_PRE_LLAMA3}, {"qwen2", HLZ_TOK_PRE_QWEN2},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strlen(names[i].name) == size && memcmp(names[i].name, name, size) == 0) return (int)names[i].pre;
    return -1;
}

static int32_t optional_id(const hlz_gguf *g, const char *key, uint32_t n_tokens)
{
    uint32_t v;
    if (!hlz_gguf_find(g, key) || hlz_gguf_get_u32(g, key, &v, NULL) != HLZ_OK || v >= n_tokens) return -1;
    return (int32_t)v;
}

static bool optional_bool(const hlz_gguf *g, const char *key, bool fallback)
{
    bool v;
    if (!hlz_gguf_find(g, key) || hlz_gguf_get_bool(g, key, &v, NULL) != HLZ_OK) return fallback;
    return v;
}

hlz_status hlz_tokenizer_from_gguf(const hlz_gguf *g, uint32_t max_tokens, hlz_tokenizer **out, hlz_error *e)
{
    *out = NULL;
    if (!hlz_gguf_find(g, "tokenizer.ggml.model")) return HLZ_OK; /* a file without a tokenizer */
    hlz_gguf_str kind;
    const hlz_gguf_kv *tokens, *merges = NULL;
    hlz_status st = hlz_gguf_get_string(g, "tokenizer.ggml.model", &kind, e);
    if (st == HLZ_OK) st = hlz_gguf_get_array(g, "tokenizer.ggml.tokens", HLZ_GGUF_STRING, &tokens, e);
    if (st != HLZ_OK) return st;
    hlz_vocab_desc d;
    hlz_vocab_desc_init(&d);
    if (kind.size == 4 && memcmp(kind.data, "gpt2", 4) == 0) {
        d.model = HLZ_TOK_MODEL_GPT2;
        hlz_gguf_str pre = {"default", 7};
        if (hlz_gguf_find(g, "tokenizer.ggml.pre") && (st = hlz_gguf_get_string(g, "tokenizer.ggml.pre", &pre, e)))
            return st;
        int p = pre_from_gguf(pre.data, pre.size);
        if (p < 0)
            return hlz_fail(e, HLZ_ERR_MODEL, "tokenizer pre-tokenizer '%.*s' is not supported (gpt-2, llama-bpe, qwen2 are)",
                            (int)(pre.size > 40 ? 40 : pre.size), pre.data);
        d.pre = (hlz_tok_pre)p;
        d.ignore_merges = d.pre == HLZ_TOK_PRE_LLAMA3;
        if ((st = hlz_gguf_get_array(g, "tokenizer.ggml.merges", HLZ_GGUF_STRING, &merges, e))) return st;
    } else if (kind.size == 5 && memcmp(kind.data, "llama", 5) == 0) {
        d.model = HLZ_TOK_MODEL_LLAMA;
        d.pre = HLZ_TOK_PRE_NONE;
        d.add_space_prefix = optional_bool(g, "tokenizer.ggml.add_space_prefix", true);
        if (hlz_gguf_find(g, "tokenizer.ggml.merges") &&
            (st = hlz_gguf_get_array(g, "tokenizer.ggml.merges", HLZ_GGUF_STRING, &merges, e)))
            return st;
    } else {
        return hlz_fail(e, HLZ_ERR_MODEL, "tokenizer model '%.*s' is not supported (gpt2 and llama are)",
                        (int)(kind.size > 40 ? 40 : kind.size), kind.data);
    }
    if (tokens->count == 0 || tokens->count > HLZ_TOKENIZER_MAX_TOKENS)
        return hlz_fail(e, HLZ_ERR_MODEL, "tokenizer has %llu tokens", (unsigned long long)tokens->count);
    uint32_t n = (uint32_t)tokens->count, n_merges = merges ? (uint32_t)merges->count : 0;
    const char **strs = malloc(n * sizeof *strs), **mstrs = malloc((n_merges + 1) * sizeof *mstrs);
    uint32_t *lens = malloc(n * sizeof *lens), *mlens = malloc((n_merges + 1) * sizeof *mlens);
    float *scores = NULL;
    int32_t *types32 = NULL;
    uint8_t *types = NULL;
    if (!strs || !mstrs || !lens || !mlens) { st = hlz_fail(e, HLZ_ERR_NOMEM, "out of memory"); goto done; }
    for (uint32_t i = 0; i < n; i++) {
        hlz_gguf_str s = hlz_gguf_kv_string(tokens, i);
        strs[i] = s.data, lens[i] = (uint32_t)s.size;
    }
    for (uint32_t i = 0; i < n_merges; i++) {
        hlz_gguf_str s = hlz_gguf_kv_string(merges, i);
        mstrs[i] = s.data, mlens[i] = (uint32_t)s.size;
    }
    if (hlz_gguf_find(g, "tokenizer.ggml.scores")) {
        if (!(scores = malloc(n * sizeof *scores))) { st = hlz_fail(e, HLZ_ERR_NOMEM, "out of memory"); goto done; }
        if ((st = hlz_gguf_get_f32_array(g, "tokenizer.ggml.scores", scores, n, e))) goto done;
    }
    if (hlz_gguf_find(g, "tokenizer.ggml.token_type")) {
        types32 = malloc(n * sizeof *types32);
        types = malloc(n);
        if (!types32 || !types) { st = hlz_fail(e, HLZ_ERR_NOMEM, "out of memory"); goto done; }
        if ((st = hlz_gguf_get_i32_array(g, "tokenizer.ggml.token_type", types32, n, e))) goto done;
        for (uint32_t i = 0; i < n; i++) types[i] = types32[i] >= 1 && types32[i] <= 6 ? (uint8_t)types32[i] : 1;
    }
    d.n_tokens = n;
    d.tokens = strs;
    d.token_lengths = lens;
    d.scores = scores;
    d.types = types;
    d.n_merges = n_merges;
    d.merges = n_merges ? mstrs : NULL;
    d.merge_lengths = n_merges ? mlens : NULL;
    d.bos_id = optional_id(g, "tokenizer.ggml.bos_token_id", n);
    d.eos_id = optional_id(g, "tokenizer.ggml.eos_token_id", n);
    d.unk_id = optional_id(g, "tokenizer.ggml.unknown_token_id", n);
    d.add_bos = optional_bool(g, "tokenizer.ggml.add_bos_token", d.model == HLZ_TOK_MODEL_LLAMA);
    if (n > max_tokens)
        st = hlz_fail(e, HLZ_ERR_MODEL, "tokenizer has %u tokens, more than the model's %u outputs", (unsigned)n,
                      (unsigned)max_tokens);
    else
        st = hlz_tokenizer_create(&d, out, e);
    if (st != HLZ_OK && st != HLZ_ERR_NOMEM) st = HLZ_ERR_MODEL, e ? (void)(e->status = st) : (void)0;
done:
    free(strs), free(mstrs), free(lens), free(mlens), free(scores), free(types32), free(types);
    return st;
}

hlz_status hlz_model_load_tokenizer(hlz_model *m, hlz_error *e)
{
    return hlz_tokenizer_from_gguf(&m->file, m->config.n_vocab, &m->tok, e);
}

hlz_status hlz_model_tokenize(const hlz_model *m, const uint8_t *text, size_t size, int32_t **ids, size_t *n_ids,
                              hlz_error *error)
{
    *ids = NULL;
    *n_ids = 0;
    if (!m->tok) return hlz_fail(error, HLZ_ERR_MODEL, "the model has no tokenizer");
    size_t cap = hlz_tokenizer_encode_bound(size);
    int32_t *out = malloc(cap * sizeof *out);
    if (!out) return hlz_fail(error, HLZ_ERR_NOMEM, "out of memory tokenizing %zu bytes", size);
    hlz_status st = hlz_tokenizer_encode(m->tok, text, size, out, cap, n_ids, error);
    if (st != HLZ_OK) {
        free(out);
        *n_ids = 0;
        return st;
    }
    *ids = out;
    return HLZ_OK;
}

hlz_status hlz_model_detokenize(const hlz_model *m, const int32_t *ids, size_t n, uint8_t **text, size_t *size,
                                hlz_error *error)
{
    *text = NULL;
    *size = 0;
    if (!m->tok) return hlz_fail(error, HLZ_ERR_MODEL, "the model has no tokenizer");
    size_t need;
    hlz_status st = hlz_tokenizer_decode(m->tok, ids, n, NULL, 0, &need, error);
    if (st != HLZ_OK && st != HLZ_ERR_PARAM) return st;
    uint8_t *out = malloc(need ? need : 1);
    if (!out) return hlz_fail(error, HLZ_ERR_NOMEM, "out of memory");
    st = hlz_tokenizer_decode(m->tok, ids, n, out, need, &need, error);
    if (st != HLZ_OK) {
        free(out);
        return st;
    }
    *text = out;
    *size = need;
    return HLZ_OK;
}

int32_t hlz_model_bos(const hlz_model *m) { return m->tok ? hlz_tokenizer_bos(m->tok) : -1; }
