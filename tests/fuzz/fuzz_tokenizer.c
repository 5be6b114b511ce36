/*
 * fuzz_tokenizer.c - libFuzzer target: tokenization is lossless.
 *
 * For every input x and every tokenizer below, checks (aborting, a finding,
 * when one fails):
 *   - the pre-tokenizer splits x into pieces of 1..remaining bytes;
 *   - encode(x) succeeds with at most hlz_tokenizer_encode_bound(|x|) ids,
 *     all inside the vocabulary and none a control token;
 *   - decode(encode(x)) == x, byte for byte, and decode reports its size
 *     exactly when asked with no buffer.
 * Tokenizers: a built-in byte-level vocabulary under each pre-tokenizer
 * (gpt2, llama3, llama3 with ignore_merges, qwen2) and a built-in
 * SentencePiece-style one (scores, merges, no dummy prefix, and one whose
 * tokens put "▁" after letters so the text is not cut at spaces). When
 * HLZ_TOKENIZER_DIR is set, DIR/NAME/tokenizer.json for NAME = llama3,
 * qwen3, llama2 are added (as written by tools/tokenizer-vectors).
 *
 * Build: make build-fuzz/fuzz_tokenizer; run: make fuzz-tokenizer.
 */
#include "hlz.h"
#include "tokenizer.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TOKENIZERS 16

static hlz_tokenizer *tokenizers[MAX_TOKENIZERS];
static int n_tokenizers;

static void fail(const char *what, int which)
{
    fprintf(stderr, "fuzz_tokenizer: tokenizer %d: %s\n", which, what);
    abort();
}

static void add(const hlz_vocab_desc *d)
{
    hlz_error e;
    hlz_tokenizer *t;
    if (hlz_tokenizer_create(d, &t, &e) != HLZ_OK) {
        fprintf(stderr, "fuzz_tokenizer: built-in vocabulary %d: %s\n", n_tokenizers, e.message);
        abort();
    }
    tokenizers[n_tokenizers++] = t;
}

/* Byte-level pieces merged by the merges below (in bytes_to_unicode form:
 * "Ġ" is the space, "Ċ" the line feed, "č" the carriage return, "ä¸Ń"
 * the bytes of U+4E2D). */
static const char *const gpt2_merges[] = {
    "\xC4\xA0 t", "h e", "\xC4\xA0t he", "i n", "in g", "\xC4\xA0 \xC4\xA0", "\xC4\xA0\xC4\xA0 \xC4\xA0\xC4\xA0",
    "1 2", "12 3", "\xC4\x8A \xC4\x8A", "\xC4\xA0 a", "' s", "\xC3\xA4 \xC2\xB8", "\xC3\xA4\xC2\xB8 \xC5\x83",
    "\xC4\xA0 \xC3\xA4\xC2\xB8\xC5\x83", "e r", "\xC4\xA0t h", "\xC4\xA0th er", ". \xC4\x8A", "\xC4\x8D \xC4\x8A",
};

static void add_gpt2(void)
{
    static char strings[256 + 32][16];
    static const char *tokens[256 + 32];
    uint32_t n = 0;
    for (unsigned b = 0; b < 256; b++, n++) {
        unsigned cp = b;
        if (!((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174)) {
            unsigned k = 0;
            for (unsigned c = 0; c < b; c++)
                if (!((c >= 33 && c <= 126) || (c >= 161 && c <= 172) || c >= 174)) k++;
            cp = 256 + k;
        }
        if (cp < 0x80) strings[n][0] = (char)cp;
        else strings[n][0] = (char)(0xC0 | (cp >> 6)), strings[n][1] = (char)(0x80 | (cp & 0x3F));
        tokens[n] = strings[n];
    }
    size_t n_merges = sizeof gpt2_merges / sizeof *gpt2_merges;
    for (size_t m = 0; m < n_merges; m++, n++) {
        const char *space = strchr(gpt2_merges[m], ' ');
        snprintf(strings[n], sizeof strings[n], "%.*s%s", (int)(space - gpt2_merges[m]), gpt2_merges[m], space + 1);
        tokens[n] = strings[n];
    }
    strcpy(strings[n], "<|endoftext|>");
    tokens[n] = strings[n];
    hlz_vocab_desc d;
    hlz_vocab_desc_init(&d);
    d.model = HLZ_TOK_MODEL_GPT2;
    d.n_tokens = n + 1;
    d.tokens = tokens;
    d.eos_id = (int32_t)n;
    d.n_merges = (uint32_t)n_merges;
    d.merges = gpt2_merges;
    static const hlz_tok_pre pres[] = {HLZ_TOK_PRE_GPT2, HLZ_TOK_PRE_LLAMA3, HLZ_TOK_PRE_LLAMA3, HLZ_TOK_PRE_QWEN2};
    for (size_t k = 0; k < sizeof pres / sizeof *pres; k++) {
        d.pre = pres[k];
        d.ignore_merges = k == 2;
        add(&d);
    }
}

static void add_llama(void)
{
    static const char *const pieces[] = {
        "\xE2\x96\x81t", "he", "\xE2\x96\x81the", "\xE2\x96\x81\xE2\x96\x81", "in", "ing", "\xE2\x96\x81\x61",
        "\xE2\x96\x81\xE2\x96\x81\xE2\x96\x81\xE2\x96\x81", "er", "\xE2\x96\x81\xE4\xB8\xAD", "\xE2\x96\x81", "t", "h",
        "e", "i", "n", "g", "a", "r", "\xC3\xA9", "\xE4\xB8\xAD", "1", "2", "\xF0\x9F\x98\x80", "<", ">", "s",
        "er\xE2\x96\x81", /* only in the last vocabulary: "▁" after a letter */
    };
    static const char *const merges[] = {"\xE2\x96\x81 t", "h e", "\xE2\x96\x81t he", "\xE2\x96\x81 \xE2\x96\x81",
                                         "i n", "in g", "\xE2\x96\x81 a",
                                         "\xE2\x96\x81\xE2\x96\x81 \xE2\x96\x81\xE2\x96\x81", "e r",
                                         "\xE2\x96\x81 \xE4\xB8\xAD", "er \xE2\x96\x81"};
    static char strings[3 + 256 + 32][16];
    static const char *tokens[3 + 256 + 32];
    static float scores[3 + 256 + 32];
    static uint8_t types[3 + 256 + 32];
    uint32_t n = 0;
    static const char *const specials[] = {"<unk>", "<s>", "</s>"};
    for (int k = 0; k < 3; k++, n++) {
        tokens[n] = specials[k];
        types[n] = k == 0 ? HLZ_TOKEN_UNKNOWN : HLZ_TOKEN_CONTROL;
    }
    for (unsigned b = 0; b < 256; b++, n++) {
        snprintf(strings[n], sizeof strings[n], "<0x%02X>", b);
        tokens[n] = strings[n];
        types[n] = HLZ_TOKEN_BYTE;
    }
    size_t n_pieces = sizeof pieces / sizeof *pieces;
    for (size_t p = 0; p < n_pieces; p++, n++) {
        tokens[n] = pieces[p];
        types[n] = HLZ_TOKEN_NORMAL;
        scores[n] = -(float)p;
    }
    hlz_vocab_desc d;
    hlz_vocab_desc_init(&d);
    d.model = HLZ_TOK_MODEL_LLAMA;
    d.n_tokens = n - 1; /* without "er▁" */
    d.tokens = tokens;
    d.types = types;
    d.scores = scores;
    d.unk_id = 0, d.bos_id = 1, d.eos_id = 2;
    add(&d);
    d.add_space_prefix = false;
    add(&d);
    d.add_space_prefix = true;
    d.scores = NULL;
    d.merges = merges;
    d.n_merges = sizeof merges / sizeof *merges - 1;
    add(&d);
    d.n_tokens = n; /* with "er▁": no cutting at spaces */
    d.n_merges++;
    add(&d);
    d.scores = scores;
    d.merges = NULL;
    d.n_merges = 0;
    add(&d);
}

static void add_references(void)
{
    const char *dir = getenv("HLZ_TOKENIZER_DIR");
    static const char *const names[] = {"llama3", "qwen3", "llama2"};
    for (size_t k = 0; dir && k < sizeof names / sizeof *names && n_tokenizers < MAX_TOKENIZERS; k++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s/tokenizer.json", dir, names[k]);
        hlz_tokenizer_json *tj;
        hlz_error e;
        if (hlz_tokenizer_json_read(path, NULL, &tj, &e) != HLZ_OK) {
            fprintf(stderr, "fuzz_tokenizer: %s\n", e.message);
            continue;
        }
        add(hlz_tokenizer_json_desc(tj));
        hlz_tokenizer_json_free(tj);
        fprintf(stderr, "fuzz_tokenizer: added %s\n", path);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (n_tokenizers == 0) {
        add_gpt2();
        add_llama();
        add_references();
    }
    for (hlz_tok_pre pre = HLZ_TOK_PRE_GPT2; pre <= HLZ_TOK_PRE_QWEN2; pre++)
        for (size_t pos = 0, n; pos < size; pos += n) {
            n = hlz_pretokenize_next(pre, data + pos, size - pos);
            if (n < 1 || n > size - pos) fail("a pre-tokenizer piece is out of bounds", (int)pre);
        }
    size_t cap = hlz_tokenizer_encode_bound(size);
    int32_t *ids = malloc(cap * sizeof *ids);
    uint8_t *back = malloc(size + 1);
    if (!ids || !back) abort();
    for (int k = 0; k < n_tokenizers; k++) {
        const hlz_tokenizer *t = tokenizers[k];
        size_t n = 0, back_size = 0, needed = 0;
        hlz_error e;
        if (hlz_tokenizer_encode(t, data, size, ids, cap, &n, &e) != HLZ_OK) fail(e.message, k);
        if (n > cap) fail("more ids than the bound", k);
        for (size_t i = 0; i < n; i++) {
            int type = hlz_tokenizer_token_type(t, ids[i]);
            if (type == 0) fail("an id outside the vocabulary", k);
            if (type == HLZ_TOKEN_CONTROL || type == HLZ_TOKEN_UNKNOWN) fail("a control or unknown token", k);
        }
        if (hlz_tokenizer_decode(t, ids, n, NULL, 0, &needed, &e) != (size ? HLZ_ERR_PARAM : HLZ_OK))
            fail("decode with no buffer", k);
        if (hlz_tokenizer_decode(t, ids, n, back, size + 1, &back_size, &e) != HLZ_OK) fail(e.message, k);
        if (needed != back_size || back_size != size || memcmp(back, data, size) != 0)
            fail("decode(encode(x)) != x", k);
    }
    free(ids);
    free(back);
    return 0;
}
