/* convert_tokenizer.c - a Hugging Face tokenizer.json as GGUF tokenizer
 * metadata (tokenizer.ggml.*), the way llama.cpp's converter writes it. */
#include "convert.h"
#include "tokenizer.h"

#include <stdlib.h>
#include <string.h>

static const char *gguf_pre_name(hlz_tok_pre pre)
{
    switch (pre) {
    case HLZ_TOK_PRE_LLAMA3: return "llama-bpe";
    case HLZ_TOK_PRE_QWEN2: return "qwen2";
    default: return "gpt-2";
    }
}

int add_tokenizer_json(converter *c, const char *path)
{
    /* tokenizer_config.json beside it names the special tokens, when present. */
    char config[4096];
    const char *slash = strrchr(path, '/');
    int dir = slash ? (int)(slash - path) + 1 : 0;
    snprintf(config, sizeof config, "%.*stokenizer_config.json", dir, path);
    FILE *f = fopen(config, "rb");
    if (f) fclose(f);
    hlz_tokenizer_json *tj;
    hlz_error e = {0};
    if (hlz_tokenizer_json_read(path, f ? config : NULL, &tj, &e) != HLZ_OK) return fail(path, e.message);
    const hlz_vocab_desc *d = hlz_tokenizer_json_desc(tj);
    /* Check it builds before writing it. */
    hlz_tokenizer *tok;
    if (hlz_tokenizer_create(d, &tok, &e) != HLZ_OK) {
        hlz_tokenizer_json_free(tj);
        return fail(path, e.message);
    }
    hlz_tokenizer_free(tok);
    hlz_gguf_writer *w = &c->w;
    size_t *lens = own(c, d->n_tokens * sizeof *lens);
    int32_t *types = own(c, d->n_tokens * sizeof *types);
    size_t *mlens = own(c, (d->n_merges + 1) * sizeof *mlens);
    if (!lens || !types || !mlens) {
        hlz_tokenizer_json_free(tj);
        return fail(path, "out of memory");
    }
    for (uint32_t i = 0; i < d->n_tokens; i++) {
        lens[i] = d->token_lengths ? d->token_lengths[i] : strlen(d->tokens[i]);
        types[i] = d->types ? d->types[i] : HLZ_TOKEN_NORMAL;
    }
    for (uint32_t i = 0; i < d->n_merges; i++) mlens[i] = d->merge_lengths ? d->merge_lengths[i] : strlen(d->merges[i]);
    bool gpt2 = d->model == HLZ_TOK_MODEL_GPT2;
    hlz_gguf_add_string(w, "tokenizer.ggml.model", gpt2 ? "gpt2" : "llama", gpt2 ? 4 : 5);
    if (gpt2) {
        const char *pre = gguf_pre_name(d->pre);
        hlz_gguf_add_string(w, "tokenizer.ggml.pre", pre, strlen(pre));
    }
    hlz_gguf_add_string_array(w, "tokenizer.ggml.tokens", d->tokens, lens, d->n_tokens);
    hlz_gguf_add_array(w, "tokenizer.ggml.token_type", HLZ_GGUF_INT32, types, d->n_tokens);
    if (d->scores) hlz_gguf_add_array(w, "tokenizer.ggml.scores", HLZ_GGUF_FLOAT32, d->scores, d->n_tokens);
    if (d->n_merges) hlz_gguf_add_string_array(w, "tokenizer.ggml.merges", d->merges, mlens, d->n_merges);
    if (d->bos_id >= 0) hlz_gguf_add_u32(w, "tokenizer.ggml.bos_token_id", (uint32_t)d->bos_id);
    if (d->eos_id >= 0) hlz_gguf_add_u32(w, "tokenizer.ggml.eos_token_id", (uint32_t)d->eos_id);
    if (d->unk_id >= 0) hlz_gguf_add_u32(w, "tokenizer.ggml.unknown_token_id", (uint32_t)d->unk_id);
    hlz_gguf_add_bool(w, "tokenizer.ggml.add_bos_token", d->add_bos);
    if (!gpt2) hlz_gguf_add_bool(w, "tokenizer.ggml.add_space_prefix", d->add_space_prefix);
    /* The writer copies metadata as it goes, so the description may go now. */
    hlz_tokenizer_json_free(tj);
    return c->w.status == HLZ_OK ? 0 : fail(path, c->w.error.message);
}

int convert_tokenizer(converter *c, const char *path, const char *name)
{
    const char *arch = "llama";
    hlz_gguf_add_string(&c->w, "general.architecture", arch, strlen(arch));
    hlz_gguf_add_string(&c->w, "general.name", name, strlen(name));
    hlz_gguf_add_string(&c->w, "general.type", "vocab", 5);
    return add_tokenizer_json(c, path);
}
