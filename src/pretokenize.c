/*
 * pretokenize.c - the pre-tokenizer regexes of GPT-2, Llama 3 and Qwen 2,
 * written as code.
 *
 * A regex split takes, at each position, the first alternative that matches
 * there (leftmost-first, as in Oniguruma, PCRE, JavaScript and fancy-regex),
 * each quantifier greedy with backtracking. Every character is covered by
 * some alternative, so the match always starts at the current position and
 * is never empty: splitting is "match, advance, repeat". Each function below
 * returns the length of that match, alternative by alternative in the
 * regex's order; comments show the alternative being tried.
 *
 * Characters are code points of well-formed UTF-8; every other byte is one
 * character of category "other" (see unicode.h).
 */
#include "tokenizer.h"
#include "unicode.h"

/* Category of an ASCII character, without the table search. */
static inline int ascii_category(uint8_t b)
{
    if ((unsigned)((b | 32) - 'a') < 26) return HLZ_UCAT_LETTER;
    if ((unsigned)(b - '0') < 10) return HLZ_UCAT_NUMBER;
    if (b == ' ' || (b >= 9 && b <= 13)) return HLZ_UCAT_SPACE;
    return HLZ_UCAT_OTHER;
}

/* One character at text[pos] (pos < size): its code point, length and category. */
typedef struct {
    uint32_t cp;
    size_t len;
    int cat;
} character;

static inline character char_at(const uint8_t *text, size_t size, size_t pos)
{
    character c;
    if (text[pos] < 0x80) {
        c.cp = text[pos];
        c.len = 1;
        c.cat = ascii_category(text[pos]);
        return c;
    }
    c.len = hlz_utf8_decode(text + pos, size - pos, &c.cp);
    c.cat = c.cp == HLZ_UTF8_INVALID ? HLZ_UCAT_OTHER : hlz_unicode_category(c.cp);
    return c;
}

/* End of the run of characters of category `cat` that starts at pos
 * (pos itself when there is none). */
static size_t run_end(const uint8_t *text, size_t size, size_t pos, int cat)
{
    while (pos < size) {
        character c = char_at(text, size, pos);
        if (c.cat != cat) break;
        pos += c.len;
    }
    return pos;
}

/* The contractions 's 't 're 've 'm 'll 'd at text[0] (text[0] == '\''):
 * their length, or 0. `fold` makes the letters case-insensitive (ASCII
 * only, as the JavaScript form of Llama 3's (?i:...) is). */
static size_t contraction(const uint8_t *text, size_t size, int fold)
{
    if (size < 2) return 0;
    uint8_t a = text[1], b = size >= 3 ? text[2] : 0;
    if (fold) {
        if (a >= 'A' && a <= 'Z') a = (uint8_t)(a + 32);
        if (b >= 'A' && b <= 'Z') b = (uint8_t)(b + 32);
    }
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return 2;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return 3;
    return 0;
}

/* The whitespace run at text[0] (a space character) for \s+(?!\S)|\s+:
 * the whole run when it ends the text, else the run less its last character
 * (which then precedes the non-space), unless that would leave nothing. */
static size_t space_run(const uint8_t *text, size_t size)
{
    size_t pos = 0, last = 0;
    while (pos < size) {
        character c = char_at(text, size, pos);
        if (c.cat != HLZ_UCAT_SPACE) break;
        last = pos;
        pos += c.len;
    }
    if (pos == size) return pos;  /* \s+(?!\S) at the end of the text */
    if (last > 0) return last;    /* \s+(?!\S), backtracked by one character */
    return pos;                   /* \s+ */
}

/* 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+ */
static size_t next_gpt2(const uint8_t *text, size_t size)
{
    size_t n;
    if (text[0] == '\'' && (n = contraction(text, size, 0)) > 0) return n;
    character c = char_at(text, size, 0);
    if (text[0] == ' ' && size > 1) {
        /* ' ?X+' with the space, for X = \p{L}, \p{N}, [^\s\p{L}\p{N}] */
        character d = char_at(text, size, 1);
        if (d.cat != HLZ_UCAT_SPACE) return run_end(text, size, 1, d.cat);
    }
    if (c.cat != HLZ_UCAT_SPACE) return run_end(text, size, 0, c.cat); /* 'X+' without the space */
    return space_run(text, size);
}

/* (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|
 * \s*[\r\n]+|\s+(?!\S)|\s+ -- with max_digits 1, Qwen 2's \p{N} for \p{N}{1,3}. */
static size_t next_llama3(const uint8_t *text, size_t size, int max_digits)
{
    size_t n;
    if (text[0] == '\'' && (n = contraction(text, size, 1)) > 0) return n;
    character c = char_at(text, size, 0);

    /* [^\r\n\p{L}\p{N}]?\p{L}+ */
    if (c.cat == HLZ_UCAT_LETTER) return run_end(text, size, 0, HLZ_UCAT_LETTER);
    if (c.cat != HLZ_UCAT_NUMBER && c.cp != '\r' && c.cp != '\n' && c.len < size &&
        char_at(text, size, c.len).cat == HLZ_UCAT_LETTER)
        return run_end(text, size, c.len, HLZ_UCAT_LETTER);

    /* \p{N}{1,3} */
    if (c.cat == HLZ_UCAT_NUMBER) {
        size_t pos = 0;
        for (int i = 0; i < max_digits && pos < size; i++) {
            character d = char_at(text, size, pos);
            if (d.cat != HLZ_UCAT_NUMBER) break;
            pos += d.len;
        }
        return pos;
    }

    /* ' ?[^\s\p{L}\p{N}]+[\r\n]*' */
    size_t start = SIZE_MAX;
    if (c.cat == HLZ_UCAT_OTHER) start = 0;
    else if (text[0] == ' ' && size > 1 && char_at(text, size, 1).cat == HLZ_UCAT_OTHER) start = 1;
    if (start != SIZE_MAX) {
        size_t pos = run_end(text, size, start, HLZ_UCAT_OTHER);
        while (pos < size && (text[pos] == '\r' || text[pos] == '\n')) pos++;
        return pos;
    }

    /* \s*[\r\n]+ : through the last CR or LF of the whitespace run */
    size_t pos = 0, through = 0;
    while (pos < size) {
        character d = char_at(text, size, pos);
        if (d.cat != HLZ_UCAT_SPACE) break;
        if (d.cp == '\r' || d.cp == '\n') through = pos + 1;
        pos += d.len;
    }
    if (through > 0) return through;

    /* \s+(?!\S)|\s+ */
    return space_run(text, size);
}

size_t hlz_pretokenize_next(hlz_tok_pre pre, const uint8_t *text, size_t size)
{
    if (size == 0) return 0;
    switch (pre) {
    case HLZ_TOK_PRE_GPT2: return next_gpt2(text, size);
    case HLZ_TOK_PRE_LLAMA3: return next_llama3(text, size, 3);
    case HLZ_TOK_PRE_QWEN2: return next_llama3(text, size, 1);
    default: return size;
    }
}
