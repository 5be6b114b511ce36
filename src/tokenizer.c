/*
 * tokenizer.c - byte-level BPE (gpt2) and SentencePiece-style BPE (llama)
 * over a vocabulary description; see tokenizer.h for the contracts.
 *
 * Both kinds share one BPE engine: a text (or a pre-tokenizer piece) starts
 * as a list of symbols, each a token id (or -1: no token, to be spelled with
 * byte tokens); the adjacent pair with the lowest rank merges first, ties to
 * the leftmost, until no pair of the list has a rank. A binary heap holds the
 * candidate pairs; an entry whose symbols changed since it was pushed is
 * skipped when it comes out. Ranks come from the merges list (gpt2, and
 * llama from tokenizer.json) or, for llama from GGUF, from the scores: every
 * split of a token into two tokens is a pair, ranked by the token's score.
 */
#include "internal.h"
#include "tokenizer.h"
#include "unicode.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

/* ---- the tokenizer ---------------------------------------------------------- */

typedef struct {
    uint64_t key;   /* left id << 32 | right id; PAIR_EMPTY when free */
    uint32_t rank;
    int32_t merged;
} pair_slot;

#define PAIR_EMPTY UINT64_MAX

struct hlz_tokenizer {
    hlz_tok_model model;
    hlz_tok_pre pre;
    uint32_t n_tokens;
    int32_t bos, eos, unk;
    bool add_bos, ignore_merges, add_space_prefix;
    bool split_at_spaces;   /* llama: no token has "▁" after another character */

    char *strings;          /* token i: strings + string_off[i], NUL-terminated */
    uint32_t *string_off;   /* n_tokens + 1 offsets */
    uint8_t *pieces;        /* decoded bytes of token i: pieces + piece_off[i] */
    uint32_t *piece_off;    /* n_tokens + 1 offsets */
    uint8_t *types;         /* hlz_token_type */

    uint32_t *str_slots;    /* string -> id + 1 (0: free), open addressing */
    size_t str_mask;
    pair_slot *pair_slots;  /* (left, right) -> rank, merged */
    size_t pair_mask;

    int32_t byte_token[256]; /* gpt2: the token of a byte's character; llama: <0xXX>; -1: none */
    int32_t space_token;     /* llama: "▁", or -1 */
    uint16_t byte_char[256]; /* bytes_to_unicode */
};

/* GPT-2's bytes_to_unicode: printable Latin-1 bytes map to themselves, the
 * other 68 to U+0100.. in byte order. */
static uint32_t byte_to_unicode(unsigned b)
{
    if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255)) return b;
    unsigned n = 0;
    for (unsigned c = 0; c < b; c++)
        if (!((c >= 33 && c <= 126) || (c >= 161 && c <= 172) || (c >= 174 && c <= 255))) n++;
    return 256 + n;
}

/* Token types the BPE may use as symbols and merge results: those whose
 * piece is their string decoded the kind's way, so that a merge's piece is
 * the pieces of its parts. User-defined tokens decode to their raw text and
 * are left out, like control tokens (added tokens in the text are not
 * parsed); byte tokens only serve the byte fallback. */
static bool usable_type(uint8_t type)
{
    return type == HLZ_TOKEN_NORMAL || type == HLZ_TOKEN_UNUSED;
}

static const char *token_str(const hlz_tokenizer *t, uint32_t id) { return t->strings + t->string_off[id]; }
static uint32_t token_len(const hlz_tokenizer *t, uint32_t id) { return t->string_off[id + 1] - t->string_off[id] - 1; }

/* ---- string -> id ------------------------------------------------------------ */

static int32_t find_string(const hlz_tokenizer *t, const void *s, size_t size)
{
    size_t i = (size_t)XXH3_64bits(s, size) & t->str_mask;
    for (;; i = (i + 1) & t->str_mask) {
        uint32_t v = t->str_slots[i];
        if (v == 0) return -1;
        if (token_len(t, v - 1) == size && memcmp(token_str(t, v - 1), s, size) == 0) return (int32_t)(v - 1);
    }
}

/* The id of s if it is a token the BPE may use, else -1. */
static int32_t find_usable(const hlz_tokenizer *t, const void *s, size_t size)
{
    int32_t id = find_string(t, s, size);
    return id >= 0 && usable_type(t->types[id]) ? id : -1;
}

/* Inserts token `id` unless its string is empty or already there (the
 * first inserted wins: create inserts the usable tokens first). */
static void insert_string(hlz_tokenizer *t, uint32_t id)
{
    size_t size = token_len(t, id);
    if (size == 0) return;
    const char *s = token_str(t, id);
    size_t i = (size_t)XXH3_64bits(s, size) & t->str_mask;
    for (;; i = (i + 1) & t->str_mask) {
        uint32_t v = t->str_slots[i];
        if (v == 0) break;
        if (token_len(t, v - 1) == size && memcmp(token_str(t, v - 1), s, size) == 0) return;
    }
    t->str_slots[i] = id + 1;
}

/* ---- (left, right) -> rank, merged --------------------------------------------- */

static inline size_t pair_hash(uint64_t key, size_t mask)
{
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 29) & mask;
}

static inline const pair_slot *find_pair(const hlz_tokenizer *t, int32_t left, int32_t right)
{
    uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    for (size_t i = pair_hash(key, t->pair_mask);; i = (i + 1) & t->pair_mask) {
        const pair_slot *p = &t->pair_slots[i];
        if (p->key == key) return p;
        if (p->key == PAIR_EMPTY) return NULL;
    }
}

/* Adds a pair, or lowers the rank of one already there. */
static void insert_pair(hlz_tokenizer *t, int32_t left, int32_t right, uint32_t rank, int32_t merged)
{
    uint64_t key = (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
    for (size_t i = pair_hash(key, t->pair_mask);; i = (i + 1) & t->pair_mask) {
        pair_slot *p = &t->pair_slots[i];
        if (p->key == PAIR_EMPTY) {
            p->key = key;
            p->rank = rank;
            p->merged = merged;
            return;
        }
        if (p->key == key) {
            if (rank < p->rank) p->rank = rank, p->merged = merged;
            return;
        }
    }
}

static size_t pow2_at_least(size_t n)
{
    size_t p = 16;
    while (p < n) p <<= 1;
    return p;
}

/* ---- building ------------------------------------------------------------------ */

void hlz_vocab_desc_init(hlz_vocab_desc *desc)
{
    memset(desc, 0, sizeof *desc);
    desc->bos_id = desc->eos_id = desc->unk_id = -1;
    desc->add_space_prefix = true;
}

static const char *const pre_names[HLZ_TOK_PRE_COUNT] = {"none", "gpt2", "llama3", "qwen2"};

const char *hlz_tok_pre_name(hlz_tok_pre pre)
{
    return (unsigned)pre < HLZ_TOK_PRE_COUNT ? pre_names[pre] : "?";
}

int hlz_tok_pre_from_name(const char *name)
{
    for (int i = 0; i < HLZ_TOK_PRE_COUNT; i++)
        if (strcmp(name, pre_names[i]) == 0) return i;
    return -1;
}

/* "<0xXX>" with two upper-case hex digits: the byte, else -1. */
static int byte_token_value(const char *s, size_t size)
{
    static const char hex[] = "0123456789ABCDEF";
    if (size != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>') return -1;
    const char *hi = s[3] ? strchr(hex, s[3]) : NULL, *lo = s[4] ? strchr(hex, s[4]) : NULL;
    if (!hi || !lo) return -1;
    return (int)((hi - hex) * 16 + (lo - hex));
}

static size_t desc_token_len(const hlz_vocab_desc *d, uint32_t i)
{
    return d->token_lengths ? d->token_lengths[i] : strlen(d->tokens[i]);
}

/* Checks what create relies on before anything is copied. */
static hlz_status check_desc(const hlz_vocab_desc *d, hlz_error *error)
{
    if (d->model != HLZ_TOK_MODEL_GPT2 && d->model != HLZ_TOK_MODEL_LLAMA)
        return hlz_fail(error, HLZ_ERR_UNSUPPORTED, "tokenizer model %d is not supported (gpt2 or llama)", (int)d->model);
    if (d->model == HLZ_TOK_MODEL_GPT2 &&
        d->pre != HLZ_TOK_PRE_GPT2 && d->pre != HLZ_TOK_PRE_LLAMA3 && d->pre != HLZ_TOK_PRE_QWEN2)
        return hlz_fail(error, HLZ_ERR_UNSUPPORTED, "pre-tokenizer %d is not supported for gpt2 (gpt2, llama3 or qwen2)",
                        (int)d->pre);
    if (d->model == HLZ_TOK_MODEL_LLAMA && d->pre != HLZ_TOK_PRE_NONE)
        return hlz_fail(error, HLZ_ERR_UNSUPPORTED, "the llama tokenizer takes no pre-tokenizer (got %s)",
                        hlz_tok_pre_name(d->pre));
    if (d->n_tokens == 0 || d->n_tokens > HLZ_TOKENIZER_MAX_TOKENS)
        return hlz_fail(error, HLZ_ERR_PARAM, "vocabulary of %u tokens (1..%u)", d->n_tokens, HLZ_TOKENIZER_MAX_TOKENS);
    if (!d->tokens) return hlz_fail(error, HLZ_ERR_PARAM, "vocabulary without token strings");
    uint64_t total = 0;
    for (uint32_t i = 0; i < d->n_tokens; i++) {
        if (!d->tokens[i] && (!d->token_lengths || d->token_lengths[i] != 0))
            return hlz_fail(error, HLZ_ERR_PARAM, "token %u has no string", i);
        size_t n = d->tokens[i] ? desc_token_len(d, i) : 0;
        if (n > HLZ_TOKENIZER_MAX_TOKEN_BYTES)
            return hlz_fail(error, HLZ_ERR_PARAM, "token %u is %zu bytes long (at most %u)", i, n,
                            HLZ_TOKENIZER_MAX_TOKEN_BYTES);
        total += n + 1;
        if (d->types && (d->types[i] < HLZ_TOKEN_NORMAL || d->types[i] > HLZ_TOKEN_BYTE))
            return hlz_fail(error, HLZ_ERR_PARAM, "token %u has type %u (1..6)", i, d->types[i]);
    }
    if (total >= UINT32_MAX / 2) return hlz_fail(error, HLZ_ERR_PARAM, "token strings too large (%llu bytes)",
                                                 (unsigned long long)total);
    int32_t ids[3] = {d->bos_id, d->eos_id, d->unk_id};
    for (int k = 0; k < 3; k++)
        if (ids[k] < -1 || ids[k] >= (int64_t)d->n_tokens)
            return hlz_fail(error, HLZ_ERR_PARAM, "special token id %d outside the vocabulary of %u", ids[k], d->n_tokens);
    if (d->n_merges > 0 && !d->merges) return hlz_fail(error, HLZ_ERR_PARAM, "%u merges without strings", d->n_merges);
    if (d->n_merges >= UINT32_MAX / 2) return hlz_fail(error, HLZ_ERR_PARAM, "too many merges (%u)", d->n_merges);
    for (uint32_t i = 0; i < d->n_merges; i++)
        if (!d->merges[i]) return hlz_fail(error, HLZ_ERR_PARAM, "merge %u has no string", i);
    if (d->model == HLZ_TOK_MODEL_LLAMA && d->n_merges == 0 && !d->scores)
        return hlz_fail(error, HLZ_ERR_PARAM, "a llama vocabulary needs scores or merges");
    return HLZ_OK;
}

/* Writes the bytes token i decodes to (at most its string's length) to
 * `out` and returns their count. `inverse` undoes bytes_to_unicode. */
static size_t decode_token(const hlz_tokenizer *t, uint32_t i, const int16_t inverse[324], uint8_t *out)
{
    const uint8_t *s = (const uint8_t *)token_str(t, i);
    size_t n = token_len(t, i), o = 0;
    uint8_t type = t->types[i];
    if (type == HLZ_TOKEN_CONTROL || type == HLZ_TOKEN_UNKNOWN) return 0;
    if (type == HLZ_TOKEN_USER_DEFINED) {
        memcpy(out, s, n);
        return n;
    }
    if (t->model == HLZ_TOK_MODEL_LLAMA) {
        if (type == HLZ_TOKEN_BYTE) {
            int b = byte_token_value((const char *)s, n);
            if (b < 0) return 0;
            out[0] = (uint8_t)b;
            return 1;
        }
        for (size_t k = 0; k < n;) {
            if (k + 3 <= n && memcmp(s + k, "\xE2\x96\x81", 3) == 0) out[o++] = ' ', k += 3;
            else out[o++] = s[k++];
        }
        return o;
    }
    /* gpt2: undo bytes_to_unicode; characters outside its image stay as they are */
    for (size_t k = 0; k < n;) {
        uint32_t cp;
        size_t len = hlz_utf8_decode(s + k, n - k, &cp);
        if (cp < 324 && inverse[cp] >= 0) out[o++] = (uint8_t)inverse[cp];
        else memcpy(out + o, s + k, len), o += len;
        k += len;
    }
    return o;
}

static hlz_status build_pairs_from_merges(hlz_tokenizer *t, const hlz_vocab_desc *d, hlz_error *error)
{
    size_t cap = 2 * HLZ_TOKENIZER_MAX_TOKEN_BYTES;
    char *buf = malloc(cap);
    if (!buf) return hlz_fail(error, HLZ_ERR_NOMEM, "tokenizer: out of memory");
    for (uint32_t r = 0; r < d->n_merges; r++) {
        const char *m = d->merges[r];
        size_t n = d->merge_lengths ? d->merge_lengths[r] : strlen(m);
        const char *space = n > 1 ? memchr(m + 1, ' ', n - 1) : NULL;
        if (!space) continue; /* not "left right": no tokenizer can apply it */
        size_t nl = (size_t)(space - m), nr = n - nl - 1;
        if (nl + nr > cap) continue; /* longer than any token */
        int32_t left = find_usable(t, m, nl), right = find_usable(t, space + 1, nr);
        if (left < 0 || right < 0) continue;
        memcpy(buf, m, nl);
        memcpy(buf + nl, space + 1, nr);
        int32_t merged = find_usable(t, buf, nl + nr);
        if (merged < 0) continue;
        insert_pair(t, left, right, r, merged);
    }
    free(buf);
    return HLZ_OK;
}

typedef struct {
    float score;
    uint32_t id;
} scored_token;

/* Higher score first, then lower id (NaN scores were made -inf). */
static int by_score(const void *a, const void *b)
{
    const scored_token *x = a, *y = b;
    if (x->score != y->score) return x->score > y->score ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

/* SentencePiece: a pair (a, b) merges into token a+b, the higher its score
 * the sooner. Every split of a token into two tokens is such a pair; all
 * pairs of one token share its rank (the leftmost merges first). */
static hlz_status build_pairs_from_scores(hlz_tokenizer *t, const hlz_vocab_desc *d, hlz_error *error)
{
    scored_token *order = malloc((size_t)t->n_tokens * sizeof *order);
    if (!order) return hlz_fail(error, HLZ_ERR_NOMEM, "tokenizer: out of memory");
    uint32_t n = 0;
    for (uint32_t i = 0; i < t->n_tokens; i++)
        if (usable_type(t->types[i]) && token_len(t, i) > 1) {
            float score = d->scores[i];
            order[n].score = score == score ? score : -HUGE_VALF;
            order[n++].id = i;
        }
    qsort(order, n, sizeof *order, by_score);
    for (uint32_t k = 0; k < n; k++) {
        uint32_t id = order[k].id;
        const char *s = token_str(t, id);
        size_t len = token_len(t, id);
        for (size_t p = 1; p < len; p++) {
            if (((uint8_t)s[p] & 0xC0) == 0x80) continue; /* split at character boundaries */
            int32_t left = find_usable(t, s, p), right = find_usable(t, s + p, len - p);
            if (left >= 0 && right >= 0) insert_pair(t, left, right, k, (int32_t)id);
        }
    }
    free(order);
    return HLZ_OK;
}

/* True when no token the BPE uses has "▁" right after another character,
 * so no merge can join a symbol to a following space: the text may then be
 * cut before every space that follows a non-space and each part tokenized
 * alone, which bounds working memory and keeps it in cache. */
static bool spaces_never_follow(const hlz_tokenizer *t)
{
    for (uint32_t i = 0; i < t->n_tokens; i++) {
        if (!usable_type(t->types[i])) continue;
        const char *s = token_str(t, i);
        size_t n = token_len(t, i);
        for (size_t k = 1; k + 3 <= n; k++)
            if (memcmp(s + k, "\xE2\x96\x81", 3) == 0 && (k < 3 || memcmp(s + k - 3, "\xE2\x96\x81", 3) != 0))
                return false;
    }
    return true;
}

hlz_status hlz_tokenizer_create(const hlz_vocab_desc *d, hlz_tokenizer **out, hlz_error *error)
{
    *out = NULL;
    hlz_status st = check_desc(d, error);
    if (st != HLZ_OK) return st;

    hlz_tokenizer *t = calloc(1, sizeof *t);
    if (!t) return hlz_fail(error, HLZ_ERR_NOMEM, "tokenizer: out of memory");
    t->model = d->model;
    t->pre = d->pre;
    t->n_tokens = d->n_tokens;
    t->bos = d->bos_id;
    t->eos = d->eos_id;
    t->unk = d->unk_id;
    t->add_bos = d->add_bos;
    t->ignore_merges = d->model == HLZ_TOK_MODEL_GPT2 && d->ignore_merges;
    t->add_space_prefix = d->model == HLZ_TOK_MODEL_LLAMA && d->add_space_prefix;

    /* strings and types */
    size_t n = d->n_tokens, total = 0;
    for (size_t i = 0; i < n; i++) total += (d->tokens[i] ? desc_token_len(d, (uint32_t)i) : 0) + 1;
    t->strings = malloc(total);
    t->string_off = malloc((n + 1) * sizeof *t->string_off);
    t->types = malloc(n);
    t->piece_off = malloc((n + 1) * sizeof *t->piece_off);
    t->pieces = malloc(total);
    t->str_mask = pow2_at_least(2 * n) - 1;
    t->str_slots = calloc(t->str_mask + 1, sizeof *t->str_slots);
    size_t n_pairs = d->n_merges;
    if (d->n_merges == 0 && d->model == HLZ_TOK_MODEL_LLAMA) /* pairs from scores: one per character boundary */
        for (size_t i = 0; i < n; i++) n_pairs += d->tokens[i] ? desc_token_len(d, (uint32_t)i) : 0;
    t->pair_mask = pow2_at_least(n_pairs + n_pairs / 3 + 1) - 1;
    t->pair_slots = malloc((t->pair_mask + 1) * sizeof *t->pair_slots);
    if (!t->strings || !t->string_off || !t->types || !t->piece_off || !t->pieces || !t->str_slots || !t->pair_slots) {
        hlz_tokenizer_free(t);
        return hlz_fail(error, HLZ_ERR_NOMEM, "tokenizer: out of memory for %zu tokens", n);
    }
    for (size_t i = 0; i <= t->pair_mask; i++) t->pair_slots[i].key = PAIR_EMPTY;
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        size_t len = d->tokens[i] ? desc_token_len(d, (uint32_t)i) : 0;
        t->string_off[i] = (uint32_t)off;
        if (len) memcpy(t->strings + off, d->tokens[i], len);
        t->strings[off + len] = 0;
        off += len + 1;
        uint8_t type = d->types ? d->types[i] : HLZ_TOKEN_NORMAL;
        /* llama: "<0xXX>" is the byte fallback token whatever its stated type, unless special */
        if (d->model == HLZ_TOK_MODEL_LLAMA && (type == HLZ_TOKEN_NORMAL || type == HLZ_TOKEN_BYTE) &&
            byte_token_value(t->strings + t->string_off[i], len) >= 0)
            type = HLZ_TOKEN_BYTE;
        t->types[i] = type;
    }
    t->string_off[n] = (uint32_t)off;
    for (int pass = 0; pass < 2; pass++) /* usable tokens first: a shadowed duplicate must not hide one */
        for (size_t i = 0; i < n; i++)
            if (usable_type(t->types[i]) == (pass == 0)) insert_string(t, (uint32_t)i);

    /* decoded pieces */
    for (unsigned b = 0; b < 256; b++) t->byte_char[b] = (uint16_t)byte_to_unicode(b);
    int16_t inverse[324];
    for (int c = 0; c < 324; c++) inverse[c] = -1;
    for (unsigned b = 0; b < 256; b++) inverse[byte_to_unicode(b)] = (int16_t)b;
    off = 0;
    for (size_t i = 0; i < n; i++) {
        t->piece_off[i] = (uint32_t)off;
        off += decode_token(t, (uint32_t)i, inverse, t->pieces + off);
    }
    t->piece_off[n] = (uint32_t)off;

    /* the tokens of single bytes */
    for (unsigned b = 0; b < 256; b++) {
        if (t->model == HLZ_TOK_MODEL_GPT2) {
            uint8_t utf8[4];
            size_t len = hlz_utf8_encode(byte_to_unicode(b), utf8);
            t->byte_token[b] = find_usable(t, utf8, len);
        } else {
            char name[8];
            snprintf(name, sizeof name, "<0x%02X>", b);
            int32_t id = find_string(t, name, 6);
            t->byte_token[b] = id >= 0 && t->types[id] == HLZ_TOKEN_BYTE ? id : -1;
        }
    }
    t->space_token = t->model == HLZ_TOK_MODEL_LLAMA ? find_usable(t, "\xE2\x96\x81", 3) : -1;
    t->split_at_spaces = t->model == HLZ_TOK_MODEL_LLAMA && spaces_never_follow(t);

    st = d->n_merges > 0 ? build_pairs_from_merges(t, d, error) : t->model == HLZ_TOK_MODEL_LLAMA
                                                                  ? build_pairs_from_scores(t, d, error)
                                                                  : HLZ_OK;
    if (st != HLZ_OK) {
        hlz_tokenizer_free(t);
        return st;
    }
    *out = t;
    return HLZ_OK;
}

void hlz_tokenizer_free(hlz_tokenizer *t)
{
    if (!t) return;
    free(t->strings);
    free(t->string_off);
    free(t->types);
    free(t->pieces);
    free(t->piece_off);
    free(t->str_slots);
    free(t->pair_slots);
    free(t);
}

/* ---- encoding ---------------------------------------------------------------------- */

typedef struct {
    int32_t id;          /* token, or -1: spelled with the byte tokens of src */
    uint32_t len;        /* bytes of text it stands for; 0: merged into its left neighbour */
    const uint8_t *src;  /* those bytes (the dummy prefix points to a static " ") */
    int32_t prev, next;  /* neighbours in the list, -1 at the ends */
} symbol;

typedef struct {
    uint64_t key;        /* rank << 32 | index of the left symbol: lowest first, ties leftmost */
    int32_t left, right; /* the ids the pair had when pushed */
    int32_t merged;
} candidate;

/* Working memory of one encode call and its output. */
typedef struct {
    symbol *sym;
    size_t sym_cap;
    candidate *heap;
    size_t heap_n, heap_cap;
    uint8_t *mapped;     /* gpt2 ignore_merges: a piece in bytes_to_unicode form */
    size_t mapped_cap;
    int32_t *ids;
    size_t n_ids, capacity;
    hlz_error *error;
} work;

/* Room for `n` symbols (and their candidates and mapped form). */
static hlz_status reserve(work *w, size_t n)
{
    if (n <= w->sym_cap) return HLZ_OK;
    size_t cap = n < 256 ? 256 : n + n / 2;
    if (cap > (SIZE_MAX / 3) / sizeof(candidate)) return hlz_fail(w->error, HLZ_ERR_NOMEM, "tokenizer: text too long");
    symbol *sym = realloc(w->sym, cap * sizeof *sym);
    if (sym) w->sym = sym;
    candidate *heap = realloc(w->heap, 3 * cap * sizeof *heap);
    if (heap) w->heap = heap;
    uint8_t *mapped = realloc(w->mapped, 2 * cap);
    if (mapped) w->mapped = mapped;
    if (!sym || !heap || !mapped) return hlz_fail(w->error, HLZ_ERR_NOMEM, "tokenizer: out of memory for %zu symbols", n);
    w->sym_cap = cap;
    w->heap_cap = 3 * cap;
    w->mapped_cap = 2 * cap;
    return HLZ_OK;
}

static void heap_push(work *w, candidate c)
{
    size_t i = w->heap_n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (w->heap[parent].key <= c.key) break;
        w->heap[i] = w->heap[parent];
        i = parent;
    }
    w->heap[i] = c;
}

static candidate heap_pop(work *w)
{
    candidate top = w->heap[0], last = w->heap[--w->heap_n];
    size_t i = 0, n = w->heap_n;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= n) break;
        if (child + 1 < n && w->heap[child + 1].key < w->heap[child].key) child++;
        if (last.key <= w->heap[child].key) break;
        w->heap[i] = w->heap[child];
        i = child;
    }
    if (n > 0) w->heap[i] = last;
    return top;
}

/* Pushes the pair that symbol i starts, if it has a rank. */
static inline void push_pair(const hlz_tokenizer *t, work *w, int32_t i)
{
    const symbol *a = &w->sym[i];
    if (a->id < 0 || a->next < 0) return;
    const symbol *b = &w->sym[a->next];
    if (b->id < 0) return;
    const pair_slot *p = find_pair(t, a->id, b->id);
    if (!p) return;
    candidate c = {(uint64_t)p->rank << 32 | (uint32_t)i, a->id, b->id, p->merged};
    heap_push(w, c);
}

/* Merges w->sym[0..n) (prev/next not yet set) until no ranked pair is left.
 * Each merge pushes at most two pairs, so 3n heap entries suffice. */
static void bpe(const hlz_tokenizer *t, work *w, size_t n)
{
    symbol *sym = w->sym;
    for (size_t i = 0; i < n; i++) {
        sym[i].prev = (int32_t)i - 1;
        sym[i].next = i + 1 < n ? (int32_t)i + 1 : -1;
    }
    w->heap_n = 0;
    for (size_t i = 0; i + 1 < n; i++) push_pair(t, w, (int32_t)i);
    while (w->heap_n > 0) {
        candidate c = heap_pop(w);
        int32_t i = (int32_t)(uint32_t)c.key;
        symbol *a = &sym[i];
        if (a->len == 0 || a->id != c.left || a->next < 0) continue;
        symbol *b = &sym[a->next];
        if (b->id != c.right) continue;
        a->id = c.merged;
        a->len += b->len;
        b->len = 0;
        a->next = b->next;
        if (a->next >= 0) sym[a->next].prev = i;
        if (a->prev >= 0) push_pair(t, w, a->prev);
        push_pair(t, w, i);
    }
}

static hlz_status emit(work *w, int32_t id)
{
    if (w->n_ids >= w->capacity)
        return hlz_fail(w->error, HLZ_ERR_PARAM, "tokenizer: more than %zu ids (see hlz_tokenizer_encode_bound)",
                        w->capacity);
    w->ids[w->n_ids++] = id;
    return HLZ_OK;
}

/* Appends the ids of the list that starts at symbol 0. */
static hlz_status emit_symbols(const hlz_tokenizer *t, work *w)
{
    for (int32_t i = 0; i >= 0; i = w->sym[i].next) {
        const symbol *s = &w->sym[i];
        hlz_status st;
        if (s->id >= 0) {
            if ((st = emit(w, s->id)) != HLZ_OK) return st;
            continue;
        }
        for (uint32_t k = 0; k < s->len; k++) {
            int32_t id = t->byte_token[s->src[k]];
            if (id < 0)
                return hlz_fail(w->error, HLZ_ERR_UNSUPPORTED, "the vocabulary has no token for byte 0x%02X", s->src[k]);
            if ((st = emit(w, id)) != HLZ_OK) return st;
        }
    }
    return HLZ_OK;
}

/* gpt2: one pre-tokenizer piece. */
static hlz_status encode_piece_gpt2(const hlz_tokenizer *t, work *w, const uint8_t *p, size_t n)
{
    hlz_status st = reserve(w, n);
    if (st != HLZ_OK) return st;
    if (t->ignore_merges && n > 1) {
        size_t m = 0;
        for (size_t k = 0; k < n; k++) {
            uint32_t cp = t->byte_char[p[k]];
            if (cp < 0x80) w->mapped[m++] = (uint8_t)cp;
            else w->mapped[m++] = (uint8_t)(0xC0 | (cp >> 6)), w->mapped[m++] = (uint8_t)(0x80 | (cp & 0x3F));
        }
        int32_t id = find_usable(t, w->mapped, m);
        if (id >= 0) return emit(w, id);
    }
    for (size_t k = 0; k < n; k++) {
        w->sym[k].id = t->byte_token[p[k]];
        w->sym[k].len = 1;
        w->sym[k].src = p + k;
    }
    bpe(t, w, n);
    return emit_symbols(t, w);
}

/* llama: the whole text, or (split_at_spaces) one part per run of spaces
 * and the non-spaces after it; the dummy "▁" goes in front of the first. */
static hlz_status encode_llama(const hlz_tokenizer *t, work *w, const uint8_t *text, size_t size)
{
    static const uint8_t space = ' ';
    bool first = true;
    for (size_t pos = 0; pos < size;) {
        size_t end = size;
        if (t->split_at_spaces) {
            end = pos;
            while (end < size && text[end] == ' ') end++;
            while (end < size && text[end] != ' ') end++;
        }
        hlz_status st = reserve(w, end - pos + 1);
        if (st != HLZ_OK) return st;
        size_t n = 0;
        if (first && t->add_space_prefix) w->sym[n++] = (symbol){t->space_token, 1, &space, 0, 0};
        first = false;
        for (size_t p = pos; p < end;) {
            symbol *s = &w->sym[n++];
            if (text[p] == ' ') {
                *s = (symbol){t->space_token, 1, text + p, 0, 0};
                p++;
                continue;
            }
            uint32_t cp;
            size_t len = hlz_utf8_decode(text + p, size - p, &cp);
            /* a literal "▁" is spelled with bytes: the "▁" token means a space */
            int32_t id = cp == HLZ_UTF8_INVALID || cp == 0x2581 ? -1 : find_usable(t, text + p, len);
            *s = (symbol){id, (uint32_t)len, text + p, 0, 0};
            p += len;
        }
        bpe(t, w, n);
        if ((st = emit_symbols(t, w)) != HLZ_OK) return st;
        pos = end;
    }
    return HLZ_OK;
}

hlz_status hlz_tokenizer_encode(const hlz_tokenizer *t, const uint8_t *text, size_t size, int32_t *ids,
                                size_t capacity, size_t *n_ids, hlz_error *error)
{
    *n_ids = 0;
    if (size > 0 && !text) return hlz_fail(error, HLZ_ERR_PARAM, "tokenizer: no text");
    if (size >= UINT32_MAX / 4) return hlz_fail(error, HLZ_ERR_PARAM, "tokenizer: text of %zu bytes is too long", size);
    work w = {0};
    w.ids = ids;
    w.capacity = ids ? capacity : 0;
    w.error = error;
    hlz_status st = HLZ_OK;
    if (t->model == HLZ_TOK_MODEL_LLAMA) {
        st = encode_llama(t, &w, text, size);
    } else {
        for (size_t pos = 0; pos < size && st == HLZ_OK;) {
            size_t n = hlz_pretokenize_next(t->pre, text + pos, size - pos);
            st = encode_piece_gpt2(t, &w, text + pos, n);
            pos += n;
        }
    }
    free(w.sym);
    free(w.heap);
    free(w.mapped);
    if (st == HLZ_OK) *n_ids = w.n_ids;
    return st;
}

/* ---- decoding and lookups -------------------------------------------------------------- */

hlz_status hlz_tokenizer_decode(const hlz_tokenizer *t, const int32_t *ids, size_t n_ids, uint8_t *out,
                                size_t capacity, size_t *size, hlz_error *error)
{
    size_t o = 0;
    bool strip = t->add_space_prefix;
    *size = 0;
    for (size_t k = 0; k < n_ids; k++) {
        if (ids[k] < 0 || (uint32_t)ids[k] >= t->n_tokens)
            return hlz_fail(error, HLZ_ERR_PARAM, "tokenizer: id %d at %zu is outside the vocabulary of %u", ids[k], k,
                            t->n_tokens);
        const uint8_t *p = t->pieces + t->piece_off[ids[k]];
        size_t n = t->piece_off[ids[k] + 1] - t->piece_off[ids[k]];
        if (strip && n > 0) {
            if (p[0] == ' ') p++, n--; /* the dummy prefix */
            strip = false;
        }
        if (o < capacity) memcpy(out + o, p, n < capacity - o ? n : capacity - o);
        o += n;
    }
    *size = o;
    if (o > capacity) return hlz_fail(error, HLZ_ERR_PARAM, "tokenizer: %zu bytes do not fit in %zu", o, capacity);
    return HLZ_OK;
}

const uint8_t *hlz_tokenizer_piece(const hlz_tokenizer *t, int32_t id, size_t *size)
{
    *size = 0;
    if (id < 0 || (uint32_t)id >= t->n_tokens) return NULL;
    *size = t->piece_off[id + 1] - t->piece_off[id];
    return t->pieces + t->piece_off[id];
}

const char *hlz_tokenizer_token(const hlz_tokenizer *t, int32_t id, size_t *size)
{
    if (size) *size = 0;
    if (id < 0 || (uint32_t)id >= t->n_tokens) return NULL;
    if (size) *size = token_len(t, (uint32_t)id);
    return token_str(t, (uint32_t)id);
}

int32_t hlz_tokenizer_find(const hlz_tokenizer *t, const char *s, size_t size)
{
    return size == 0 ? -1 : find_string(t, s, size);
}

uint32_t hlz_tokenizer_n_tokens(const hlz_tokenizer *t) { return t->n_tokens; }
hlz_tok_model hlz_tokenizer_model(const hlz_tokenizer *t) { return t->model; }
hlz_tok_pre hlz_tokenizer_pre(const hlz_tokenizer *t) { return t->pre; }
int32_t hlz_tokenizer_bos(const hlz_tokenizer *t) { return t->bos; }
int32_t hlz_tokenizer_eos(const hlz_tokenizer *t) { return t->eos; }
bool hlz_tokenizer_add_bos(const hlz_tokenizer *t) { return t->add_bos; }

int hlz_tokenizer_token_type(const hlz_tokenizer *t, int32_t id)
{
    return id < 0 || (uint32_t)id >= t->n_tokens ? 0 : t->types[id];
}
