/*
 * tokenizer_json.c - a vocabulary description (tokenizer.h) from a Hugging
 * Face tokenizer.json and, optionally, its tokenizer_config.json.
 *
 * What is read:
 *   model            type "BPE"; vocab {string: id}; merges, as "a b" strings
 *                    or [a, b] arrays (tokenizers >= 0.20); unk_token;
 *                    byte_fallback; ignore_merges. Suffixes and dropout are
 *                    refused.
 *   added_tokens     [{id, content, special}]: special ones become control
 *                    tokens, the others user-defined.
 *   pre_tokenizer    ByteLevel (alone or in a Sequence) makes the gpt2 kind;
 *                    its Split regex names the pre-tokenizer (GPT-2's, Llama
 *                    3's or Qwen 2's, compared as text), or ByteLevel's own
 *                    use_regex means GPT-2's. Metaspace (with split false)
 *                    makes the llama kind.
 *   normalizer       Prepend "▁" and Replace " " -> "▁" make the llama kind
 *                    (Llama 2's tokenizer.json); NFC is accepted but not
 *                    applied (losslessness comes first); others are refused.
 *   tokenizer_config bos_token, eos_token, unk_token (strings or {content}),
 *                    add_bos_token.
 * cJSON (Debian's libcjson) parses; the strings are copied into one arena
 * and the parse tree is freed before returning. (cJSON ends a string at an
 * escaped NUL: a token holding one would be cut short.)
 */
#include "internal.h"
#include "tokenizer.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

struct hlz_tokenizer_json {
    hlz_vocab_desc desc;
    char *arena;            /* token strings, then merges, each NUL-terminated */
    size_t arena_size, arena_used;
    const char **tokens;
    uint32_t *token_lengths;
    uint8_t *types;
    const char **merges;
    uint32_t *merge_lengths;
};

static const char regex_gpt2[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
static const char regex_llama3[] = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| "
                                   "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
static const char regex_qwen2[] = "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| "
                                  "?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

static const char *json_string(const cJSON *object, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(object, key);
    return cJSON_IsString(item) ? item->valuestring : NULL;
}

static bool json_true(const cJSON *object, const char *key)
{
    return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(object, key));
}

/* A token named in tokenizer_config.json: "name" or {"content": "name"}. */
static const char *config_token(const cJSON *config, const char *key)
{
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(config, key);
    if (cJSON_IsString(item)) return item->valuestring;
    if (cJSON_IsObject(item)) return json_string(item, "content");
    return NULL;
}

/* A non-negative integer id below HLZ_TOKENIZER_MAX_TOKENS, or -1. */
static int64_t json_id(const cJSON *item)
{
    if (!cJSON_IsNumber(item)) return -1;
    double v = item->valuedouble;
    if (!(v >= 0 && v < HLZ_TOKENIZER_MAX_TOKENS) || v != (double)(int64_t)v) return -1;
    return (int64_t)v;
}

static char *arena_copy(hlz_tokenizer_json *tj, const char *a, size_t na, const char *b, size_t nb)
{
    char *p = tj->arena + tj->arena_used;
    memcpy(p, a, na);
    if (b) {
        p[na] = ' ';
        memcpy(p + na + 1, b, nb);
        na += nb + 1;
    }
    p[na] = 0;
    tj->arena_used += na + 1;
    return p;
}

/* Collects the pre-tokenizer steps of `pre` (one, or a Sequence) into the
 * kind and pre-tokenizer they imply. */
typedef struct {
    bool byte_level, byte_level_regex, metaspace, metaspace_prefix;
    const char *split_regex;
} pre_facts;

static hlz_status read_pre_tokenizer(const cJSON *pre, pre_facts *f, hlz_error *error)
{
    if (!pre || cJSON_IsNull(pre)) return HLZ_OK;
    const char *type = json_string(pre, "type");
    if (!type) return hlz_fail(error, HLZ_ERR_CORRUPT, "tokenizer.json: a pre_tokenizer has no type");
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *item;
        const cJSON *list = cJSON_GetObjectItemCaseSensitive(pre, "pretokenizers");
        cJSON_ArrayForEach(item, list) {
            hlz_status st = read_pre_tokenizer(item, f, error);
            if (st != HLZ_OK) return st;
        }
        return HLZ_OK;
    }
    if (strcmp(type, "ByteLevel") == 0) {
        f->byte_level = true;
        const cJSON *use_regex = cJSON_GetObjectItemCaseSensitive(pre, "use_regex");
        if (!use_regex || cJSON_IsTrue(use_regex)) f->byte_level_regex = true;
        if (json_true(pre, "add_prefix_space"))
            return hlz_fail(error, HLZ_ERR_UNSUPPORTED, "tokenizer.json: ByteLevel add_prefix_space is not supported");
        return HLZ_OK;
    }
    if (strcmp(type, "Split") == 0) {
        const cJSON *pattern = cJSON_GetObjectItemCaseSensitive(pre, "pattern");
        const char *regex = json_string(pattern, "Regex"), *behavior = json_string(pre, "behavior");
        if (!regex || f->split_regex || json_true(pre, "invert") || (behavior && strcmp(behavior, "Isolated") != 0))
            return hlz_fail(error, HLZ_ERR_UNSUPPORTED,
                            "tokenizer.json: only one isolating Split by regex is supported");
        f->split_regex = regex;
        return HLZ_OK;
    }
    if (strcmp(type, "Metaspace") == 0) {
        const char *replacement = json_string(pre, "replacement"), *scheme = json_string(pre, "prepend_scheme");
        if (replacement && strcmp(replacement, "\xE2\x96\x81") != 0)
            return hlz_fail(error, HLZ_ERR_UNSUPPORTED, "tokenizer.json: Metaspace replacement other than U+2581");
        const cJSON *split = cJSON_GetObjectItemCaseSensitive(pre, "split");
        if (!split || cJSON_IsTrue(split)) /* the default splits before every "▁": not SentencePiece's BPE */
            return hlz_fail(error, HLZ_ERR_UNSUPPORTED, "tokenizer.json: Metaspace with split is not supported");
        f->metaspace = true;
        f->metaspace_prefix = scheme ? strcmp(scheme, "never") != 0 : json_true(pre, "add_prefix_space");
        return HLZ_OK;
    }
    return hlz_fail(error, HLZ_ERR_UNSUPPORTED, "tokenizer.json: pre-tokenizer %.40s is not supported", type);
}

/* Normalizers: the SentencePiece pair (Prepend "▁", Replace " " -> "▁"), or
 * NFC (not applied); anything else would change the text and is refused. */
static hlz_status read_normalizer(const cJSON *norm, bool *prepend, bool *replace, hlz_error *error)
{
    if (!norm || cJSON_IsNull(norm)) return HLZ_OK;
    const char *type = json_string(norm, "type");
    if (!type) return hlz_fail(error, HLZ_ERR_CORRUPT, "tokenizer.json: a normalizer has no type");
    if (strcmp(type, "Sequence") == 0) {
        const cJSON *item;
        cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(norm, "normalizers")) {
            hlz_status st = read_normalizer(item, prepend, replace, error);
            if (st != HLZ_OK) return st;
        }
        return HLZ_OK;
    }
    if (strcmp(type, "NFC") == 0) return HLZ_OK;
    if (strcmp(type, "Prepend") == 0) {
        const char *s = json_string(norm, "prepend");
        if (s && strcmp(s, "\xE2\x96\x81") == 0) return *prepend = true, HLZ_OK;
    }
    if (strcmp(type, "Replace") == 0) {
        const char *from = json_string(cJSON_GetObjectItemCaseSensitive(norm, "pattern"), "String");
        const char *to = json_string(norm, "content");
        if (from && to && strcmp(from, " ") == 0 && strcmp(to, "\xE2\x96\x81") == 0) return *replace = true, HLZ_OK;
    }
    return hlz_fail(error, HLZ_ERR_UNSUPPORTED, "tokenizer.json: normalizer %.40s is not supported", type);
}

/* One entry of model.merges: "a b" (as is) or [a, b]. */
static hlz_status merge_strings(const cJSON *item, const char **a, const char **b, hlz_error *error)
{
    *b = NULL;
    if (cJSON_IsString(item)) {
        *a = item->valuestring;
        return HLZ_OK;
    }
    if (cJSON_IsArray(item) && cJSON_GetArraySize(item) == 2 && cJSON_IsString(cJSON_GetArrayItem(item, 0)) &&
        cJSON_IsString(cJSON_GetArrayItem(item, 1))) {
        *a = cJSON_GetArrayItem(item, 0)->valuestring;
        *b = cJSON_GetArrayItem(item, 1)->valuestring;
        /* "a b" is split at the first space after its first byte */
        if (strlen(*a) > 1 && strchr(*a + 1, ' '))
            return hlz_fail(error, HLZ_ERR_UNSUPPORTED, "tokenizer.json: a merge's left part contains a space");
        return HLZ_OK;
    }
    return hlz_fail(error, HLZ_ERR_CORRUPT, "tokenizer.json: a merge is neither \"a b\" nor [a, b]");
}

static hlz_status parse(const cJSON *root, const cJSON *config, hlz_tokenizer_json *tj, hlz_error *error)
{
    hlz_vocab_desc *d = &tj->desc;
    hlz_vocab_desc_init(d);
    const cJSON *model = cJSON_GetObjectItemCaseSensitive(root, "model");
    const char *type = json_string(model, "type");
    if (!cJSON_IsObject(model)) return hlz_fail(error, HLZ_ERR_CORRUPT, "tokenizer.json: no model object");
    if (!type || strcmp(type, "BPE") != 0)
        return hlz_fail(error, HLZ_ERR_UNSUPPORTED, "tokenizer.json: model type %.40s is not supported (BPE)",
                        type ? type : "(none)");
    const char *s;
    if (((s = json_string(model, "continuing_subword_prefix")) && *s) ||
        ((s = json_string(model, "end_of_word_suffix")) && *s))
        return hlz_fail(error, HLZ_ERR_UNSUPPORTED, "tokenizer.json: BPE subword prefixes or suffixes are not supported");
    const cJSON *dropout = cJSON_GetObjectItemCaseSensitive(model, "dropout");
    if (cJSON_IsNumber(dropout) && dropout->valuedouble != 0)
        return hlz_fail(error, HLZ_ERR_UNSUPPORTED, "tokenizer.json: BPE dropout is not supported");

    /* sizes: ids, string bytes, merges */
    const cJSON *vocab = cJSON_GetObjectItemCaseSensitive(model, "vocab");
    const cJSON *added = cJSON_GetObjectItemCaseSensitive(root, "added_tokens");
    const cJSON *merges = cJSON_GetObjectItemCaseSensitive(model, "merges");
    if (!cJSON_IsObject(vocab)) return hlz_fail(error, HLZ_ERR_CORRUPT, "tokenizer.json: model.vocab is not an object");
    int64_t max_id = -1;
    size_t bytes = 0, n_merges = 0;
    const cJSON *item;
    cJSON_ArrayForEach(item, vocab) {
        int64_t id = json_id(item);
        if (id < 0 || !item->string)
            return hlz_fail(error, HLZ_ERR_CORRUPT, "tokenizer.json: vocab entry with a bad id");
        if (id > max_id) max_id = id;
        bytes += strlen(item->string) + 1;
    }
    cJSON_ArrayForEach(item, added) {
        int64_t id = json_id(cJSON_GetObjectItemCaseSensitive(item, "id"));
        const char *content = json_string(item, "content");
        if (id < 0 || !content) return hlz_fail(error, HLZ_ERR_CORRUPT, "tokenizer.json: added token with a bad id or content");
        if (id > max_id) max_id = id;
        bytes += strlen(content) + 1;
    }
    if (max_id < 0) return hlz_fail(error, HLZ_ERR_CORRUPT, "tokenizer.json: empty vocabulary");
    cJSON_ArrayForEach(item, merges) {
        const char *a, *b;
        hlz_status st = merge_strings(item, &a, &b, error);
        if (st != HLZ_OK) return st;
        bytes += strlen(a) + (b ? strlen(b) + 1 : 0) + 1;
        n_merges++;
    }
    if (n_merges >= UINT32_MAX / 2) return hlz_fail(error, HLZ_ERR_UNSUPPORTED, "tokenizer.json: too many merges");

    size_t n = (size_t)max_id + 1;
    tj->arena_size = bytes + n + 1;
    tj->arena = malloc(tj->arena_size);
    tj->tokens = calloc(n, sizeof *tj->tokens);
    tj->token_lengths = calloc(n, sizeof *tj->token_lengths);
    tj->types = malloc(n);
    tj->merges = malloc((n_merges ? n_merges : 1) * sizeof *tj->merges);
    tj->merge_lengths = malloc((n_merges ? n_merges : 1) * sizeof *tj->merge_lengths);
    if (!tj->arena || !tj->tokens || !tj->token_lengths || !tj->types || !tj->merges || !tj->merge_lengths)
        return hlz_fail(error, HLZ_ERR_NOMEM, "tokenizer.json: out of memory for %zu tokens", n);
    char *empty = arena_copy(tj, "", 0, NULL, 0);
    for (size_t i = 0; i < n; i++) tj->tokens[i] = empty, tj->types[i] = HLZ_TOKEN_UNUSED;

    cJSON_ArrayForEach(item, vocab) {
        size_t id = (size_t)json_id(item);
        if (tj->tokens[id] != empty)
            return hlz_fail(error, HLZ_ERR_CORRUPT, "tokenizer.json: id %zu appears twice in the vocab", id);
        size_t len = strlen(item->string);
        tj->tokens[id] = arena_copy(tj, item->string, len, NULL, 0);
        tj->token_lengths[id] = (uint32_t)len;
        tj->types[id] = HLZ_TOKEN_NORMAL;
    }
    cJSON_ArrayForEach(item, added) {
        size_t id = (size_t)json_id(cJSON_GetObjectItemCaseSensitive(item, "id"));
        const char *content = json_string(item, "content");
        size_t len = strlen(content);
        tj->tokens[id] = arena_copy(tj, content, len, NULL, 0);
        tj->token_lengths[id] = (uint32_t)len;
        tj->types[id] = json_true(item, "special") ? HLZ_TOKEN_CONTROL : HLZ_TOKEN_USER_DEFINED;
    }
    n_merges = 0;
    cJSON_ArrayForEach(item, merges) {
        const char *a, *b;
        merge_strings(item, &a, &b, error);
        size_t na = strlen(a), nb = b ? strlen(b) : 0;
        tj->merges[n_merges] = arena_copy(tj, a, na, b, nb);
        tj->merge_lengths[n_merges++] = (uint32_t)(na + (b ? nb + 1 : 0));
    }

    d->n_tokens = (uint32_t)n;
    d->tokens = tj->tokens;
    d->token_lengths = tj->token_lengths;
    d->types = tj->types;
    d->n_merges = (uint32_t)n_merges;
    d->merges = tj->merges;
    d->merge_lengths = tj->merge_lengths;
    d->ignore_merges = json_true(model, "ignore_merges");

    /* the kind */
    pre_facts f = {0};
    bool prepend = false, replace = false;
    hlz_status st = read_pre_tokenizer(cJSON_GetObjectItemCaseSensitive(root, "pre_tokenizer"), &f, error);
    if (st == HLZ_OK) st = read_normalizer(cJSON_GetObjectItemCaseSensitive(root, "normalizer"), &prepend, &replace, error);
    if (st != HLZ_OK) return st;
    if (f.byte_level && !f.metaspace && !replace) {
        d->model = HLZ_TOK_MODEL_GPT2;
        if (!f.split_regex && f.byte_level_regex) d->pre = HLZ_TOK_PRE_GPT2;
        else if (f.split_regex && strcmp(f.split_regex, regex_gpt2) == 0) d->pre = HLZ_TOK_PRE_GPT2;
        else if (f.split_regex && strcmp(f.split_regex, regex_llama3) == 0) d->pre = HLZ_TOK_PRE_LLAMA3;
        else if (f.split_regex && strcmp(f.split_regex, regex_qwen2) == 0) d->pre = HLZ_TOK_PRE_QWEN2;
        else
            return hlz_fail(error, HLZ_ERR_UNSUPPORTED, "tokenizer.json: pre-tokenizer regex not supported: %.120s",
                            f.split_regex ? f.split_regex : "(none)");
        if (f.split_regex && f.byte_level_regex)
            return hlz_fail(error, HLZ_ERR_UNSUPPORTED, "tokenizer.json: Split followed by ByteLevel with use_regex");
    } else if (!f.byte_level && !f.split_regex && (f.metaspace || replace)) {
        d->model = HLZ_TOK_MODEL_LLAMA;
        d->pre = HLZ_TOK_PRE_NONE;
        d->add_space_prefix = f.metaspace ? f.metaspace_prefix : prepend;
        if (f.metaspace && replace)
            return hlz_fail(error, HLZ_ERR_UNSUPPORTED, "tokenizer.json: both Metaspace and a Replace normalizer");
    } else {
        return hlz_fail(error, HLZ_ERR_UNSUPPORTED,
                        "tokenizer.json: neither byte-level BPE nor SentencePiece-style BPE (no ByteLevel, "
                        "Metaspace or \xE2\x96\x81 normalizer)");
    }

    /* special tokens: tokenizer_config.json first, then the usual names */
    const char *bos = config_token(config, "bos_token"), *eos = config_token(config, "eos_token");
    const char *unk = config_token(config, "unk_token");
    if (!unk) unk = json_string(model, "unk_token");
    const cJSON *post = cJSON_GetObjectItemCaseSensitive(root, "post_processor");
    const cJSON *single = cJSON_GetObjectItemCaseSensitive(post, "single");
    const cJSON *first = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(single, 0), "SpecialToken");
    if (!bos && first) bos = json_string(first, "id");
    if (!bos && d->model == HLZ_TOK_MODEL_LLAMA) bos = "<s>";
    if (!eos && d->model == HLZ_TOK_MODEL_LLAMA) eos = "</s>";
    const char *names[3] = {bos, eos, unk};
    int32_t *ids[3] = {&d->bos_id, &d->eos_id, &d->unk_id};
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; names[k] && i < n; i++)
            if (strcmp(tj->tokens[i], names[k]) == 0 && *tj->tokens[i]) {
                *ids[k] = (int32_t)i;
                break;
            }
    if (d->unk_id >= 0 && tj->types[d->unk_id] == HLZ_TOKEN_NORMAL) tj->types[d->unk_id] = HLZ_TOKEN_UNKNOWN;
    const cJSON *add_bos = cJSON_GetObjectItemCaseSensitive(config, "add_bos_token");
    d->add_bos = add_bos ? cJSON_IsTrue(add_bos) : first != NULL;
    return HLZ_OK;
}

hlz_status hlz_tokenizer_json_parse(const char *json, size_t size, const char *config, size_t config_size,
                                    hlz_tokenizer_json **out, hlz_error *error)
{
    *out = NULL;
    cJSON *root = cJSON_ParseWithLength(json, size), *conf = NULL;
    if (!cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return hlz_fail(error, HLZ_ERR_CORRUPT, "tokenizer.json: not a JSON object");
    }
    if (config && !cJSON_IsObject(conf = cJSON_ParseWithLength(config, config_size))) {
        cJSON_Delete(root);
        cJSON_Delete(conf);
        return hlz_fail(error, HLZ_ERR_CORRUPT, "tokenizer_config.json: not a JSON object");
    }
    hlz_tokenizer_json *tj = calloc(1, sizeof *tj);
    hlz_status st = tj ? parse(root, conf, tj, error) : hlz_fail(error, HLZ_ERR_NOMEM, "tokenizer.json: out of memory");
    cJSON_Delete(root);
    cJSON_Delete(conf);
    if (st != HLZ_OK) {
        hlz_tokenizer_json_free(tj);
        return st;
    }
    *out = tj;
    return HLZ_OK;
}

/* Reads a whole file into a malloc'ed buffer. */
static hlz_status read_file(const char *path, char **data, size_t *size, hlz_error *error)
{
    *data = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return hlz_fail(error, HLZ_ERR_IO, "%s: %s", path, strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap) break;
        char *bigger = cap <= SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
        if (!bigger) free(buf);
        buf = bigger;
        cap *= 2;
    }
    int failed = ferror(f);
    fclose(f);
    if (!buf) return hlz_fail(error, HLZ_ERR_NOMEM, "%s: out of memory", path);
    if (failed) {
        free(buf);
        return hlz_fail(error, HLZ_ERR_IO, "%s: read error", path);
    }
    *data = buf;
    *size = n;
    return HLZ_OK;
}

hlz_status hlz_tokenizer_json_read(const char *path, const char *config_path, hlz_tokenizer_json **out,
                                   hlz_error *error)
{
    char *json = NULL, *config = NULL;
    size_t size = 0, config_size = 0;
    *out = NULL;
    hlz_status st = read_file(path, &json, &size, error);
    if (st == HLZ_OK && config_path) st = read_file(config_path, &config, &config_size, error);
    if (st == HLZ_OK) st = hlz_tokenizer_json_parse(json, size, config, config_size, out, error);
    free(json);
    free(config);
    return st;
}

const hlz_vocab_desc *hlz_tokenizer_json_desc(const hlz_tokenizer_json *tj) { return &tj->desc; }

void hlz_tokenizer_json_free(hlz_tokenizer_json *tj)
{
    if (!tj) return;
    free(tj->arena);
    free(tj->tokens);
    free(tj->token_lengths);
    free(tj->types);
    free(tj->merges);
    free(tj->merge_lengths);
    free(tj);
}
