/* test_hybrid.c - the hybrid predictor (hybrid.h): encoder and decoder walk
 * the same way for every set of parts, without a model (synthetic tables),
 * the online models learn repeats, the symbols are valid rANS symbols, the
 * model alone codes exactly its own table, and the llm codec's payloads with
 * hybrid parts round-trip and refuse damaged parts. */
#include "archive_util.h"
#include "hybrid.h"
#include "llm.h"
#include "model.h"
#include "model_util.h"

#include <math.h>

#define VOCAB 300
#define TOKENS 6000

/* A model's table for position i: a peaked, position-dependent shape that
 * sums to HLZ_FREQ_TOTAL with every entry at least 1. */
static void synthetic_table(size_t i, uint32_t *f)
{
    unsigned long long r = 0x9e3779b97f4a7c15ull * (i + 1);
    uint32_t used = 0;
    for (uint32_t k = 0; k < VOCAB; k++) {
        uint32_t w = 1 + (uint32_t)(test_rand(&r) % 1000);
        if ((k + i) % 37 == 0) w *= 400; /* a few likely tokens */
        f[k] = w;
        used += w;
    }
    /* Scale to the total: floor, then the rest to token 0. */
    uint64_t total = 0;
    for (uint32_t k = 0; k < VOCAB; k++) {
        f[k] = 1 + (uint32_t)(((uint64_t)f[k] * (HLZ_FREQ_TOTAL - VOCAB)) / used);
        total += f[k];
    }
    f[0] += (uint32_t)(HLZ_FREQ_TOTAL - total);
}

/* Tokens with structure the model's tables do not know: a phrase that
 * recurs with changes, and noise between. */
static void synthetic_tokens(int32_t *ids, size_t n)
{
    unsigned long long r = 42;
    int32_t phrase[40];
    for (int k = 0; k < 40; k++) phrase[k] = (int32_t)(test_rand(&r) % VOCAB);
    for (size_t i = 0; i < n; i++) {
        if ((i / 40) % 3 == 2) ids[i] = (int32_t)(test_rand(&r) % VOCAB);
        else ids[i] = test_rand(&r) % 50 == 0 ? (int32_t)(test_rand(&r) % VOCAB) : phrase[i % 40];
    }
}

static double code_bits(const hlz_symbol *s, size_t k)
{
    double bits = 0;
    for (size_t j = 0; j < k; j++) bits += HLZ_FREQ_BITS - log2((double)s[j].freq);
    return bits;
}

static void synthetic_round_trips(void)
{
    int32_t *ids = malloc(TOKENS * sizeof *ids), *back = malloc(TOKENS * sizeof *back);
    hlz_symbol *sym = malloc(TOKENS * HLZ_HYBRID_SYMBOLS * sizeof *sym);
    uint32_t f[VOCAB], g[VOCAB];
    size_t cap = TOKENS * HLZ_HYBRID_SYMBOLS * 8 + 64;
    uint8_t *stream = malloc(cap);
    synthetic_tokens(ids, TOKENS);
    double bits[HLZ_MIX_ALL + 1];
    for (unsigned parts = 0; parts <= HLZ_MIX_ALL; parts++) {
        hlz_hybrid *h;
        hlz_error e;
        CHECK(hlz_hybrid_create(parts, VOCAB, TOKENS, &h, &e) == HLZ_OK);
        size_t n_sym = 0;
        int exact = 1, valid = 1;
        for (size_t i = 0; i < TOKENS; i++) {
            synthetic_table(i, f);
            memcpy(g, f, sizeof f);
            size_t k = hlz_hybrid_encode(h, g, ids[i], sym + n_sym);
            valid &= k >= 1 && k <= HLZ_HYBRID_SYMBOLS;
            for (size_t j = 0; j < k; j++)
                valid &= sym[n_sym + j].freq >= 1 && sym[n_sym + j].cum + (uint64_t)sym[n_sym + j].freq <= HLZ_FREQ_TOTAL;
            if (parts == 0) { /* the model alone: its own table, one symbol */
                uint32_t cum = 0;
                for (int32_t t = 0; t < ids[i]; t++) cum += f[t];
                exact &= k == 1 && sym[n_sym].cum == cum && sym[n_sym].freq == f[ids[i]];
            }
            n_sym += k;
        }
        hlz_hybrid_free(h);
        CHECK_MSG(valid, "parts %u: a symbol outside the table", parts);
        CHECK(exact);
        bits[parts] = code_bits(sym, n_sym);

        hlz_rans_encoder enc;
        hlz_rans_encoder_init(&enc, stream, cap);
        for (size_t j = n_sym; j-- > 0;) CHECK(hlz_rans_put(&enc, sym[j].cum, sym[j].freq) == 0);
        uint8_t *start;
        CHECK(hlz_rans_flush(&enc, &start) == 0);
        size_t size = (size_t)(stream + cap - start);
        hlz_rans_decoder d;
        CHECK(hlz_rans_decoder_init(&d, start, size, &e) == HLZ_OK);
        CHECK(hlz_hybrid_create(parts, VOCAB, TOKENS, &h, &e) == HLZ_OK);
        hlz_status st = HLZ_OK;
        for (size_t i = 0; i < TOKENS && st == HLZ_OK; i++) {
            synthetic_table(i, f);
            st = hlz_hybrid_decode(h, f, &d, &back[i], &e);
        }
        CHECK_MSG(st == HLZ_OK, "parts %u: %s", parts, e.message);
        CHECK(hlz_rans_finish(&d, &e) == HLZ_OK);
        CHECK_MSG(memcmp(ids, back, TOKENS * sizeof *ids) == 0, "parts %u decodes other tokens", parts);
        /* One token more than the chunk holds is refused. */
        CHECK(hlz_hybrid_decode(h, f, &d, &back[0], &e) == HLZ_ERR_CORRUPT);
        hlz_hybrid_free(h);

        /* The decoder in pieces, as the GPU's walk runs it: its guesses are the
         * encoder's guess pass's (hlz_hybrid_candidates), the decisions need
         * only their frequencies, and the rest is a search of the table
         * without them. Both outcomes occur where online models take part. */
        hlz_hybrid *guess;
        CHECK(hlz_hybrid_create(parts, VOCAB, TOKENS, &guess, &e) == HLZ_OK);
        CHECK(hlz_hybrid_create(parts, VOCAB, TOKENS, &h, &e) == HLZ_OK);
        CHECK(hlz_rans_decoder_init(&d, start, size, &e) == HLZ_OK);
        size_t guessed = 0, searched = 0, same_guesses = 1;
        memset(back, 0xff, TOKENS * sizeof *back);
        for (size_t i = 0; i < TOKENS && st == HLZ_OK; i++) {
            int32_t want[HLZ_HYBRID_CANDIDATES], cand[HLZ_HYBRID_CANDIDATES];
            uint32_t fc[HLZ_HYBRID_CANDIDATES];
            hlz_hybrid_candidates(guess, ids[i], want);
            if ((st = hlz_hybrid_decode_guess(h, cand, &e)) != HLZ_OK) break;
            same_guesses &= memcmp(want, cand, sizeof cand) == 0;
            synthetic_table(i, f);
            size_t k = 0;
            for (size_t j = 0; j < HLZ_HYBRID_CANDIDATES; j++) fc[j] = cand[j] >= 0 ? f[cand[j]] : 0, k += cand[j] >= 0;
            if ((st = hlz_hybrid_decode_decide(h, fc, &d, &back[i], &e)) != HLZ_OK) break;
            if (back[i] >= 0) {
                guessed++;
                continue;
            }
            searched++;
            hlz_freq_exclude(f, VOCAB, cand, k);
            hlz_token_found t;
            hlz_token_find_table(f, VOCAB, hlz_rans_slot(&d), &t);
            back[i] = (int32_t)t.token;
            st = hlz_hybrid_decode_finish(h, &d, back[i], t.cum, t.freq, &e);
        }
        CHECK_MSG(st == HLZ_OK, "parts %u in pieces: %s", parts, e.message);
        CHECK_MSG(same_guesses, "parts %u: the decoder guesses other tokens than the encoder's guess pass", parts);
        CHECK(hlz_rans_finish(&d, &e) == HLZ_OK);
        CHECK_MSG(memcmp(ids, back, TOKENS * sizeof *ids) == 0, "parts %u in pieces decodes other tokens", parts);
        CHECK(guessed + searched == TOKENS);
        CHECK_MSG(parts & (HLZ_MIX_MATCH | HLZ_MIX_CONTEXT) ? guessed > TOKENS / 4 && searched > 0 : guessed == 0,
                  "parts %u: %zu tokens guessed, %zu searched", parts, guessed, searched);
        int32_t cand[HLZ_HYBRID_CANDIDATES];
        CHECK(hlz_hybrid_decode_guess(h, cand, &e) == HLZ_ERR_CORRUPT);
        hlz_hybrid_free(h), hlz_hybrid_free(guess);
    }
    /* The online models find the recurring phrase that the tables do not know. */
    CHECK_MSG(bits[HLZ_MIX_MATCH] < 0.7 * bits[0], "match: %.0f bits against %.0f", bits[HLZ_MIX_MATCH], bits[0]);
    CHECK_MSG(bits[HLZ_MIX_CONTEXT] < 0.7 * bits[0], "context: %.0f bits against %.0f", bits[HLZ_MIX_CONTEXT], bits[0]);
    CHECK_MSG(bits[HLZ_MIX_ALL] < bits[HLZ_MIX_MATCH | HLZ_MIX_CONTEXT] * 1.01, "sse: %.0f against %.0f",
              bits[HLZ_MIX_ALL], bits[HLZ_MIX_MATCH | HLZ_MIX_CONTEXT]);
    /* On tokens with no structure, mixing costs almost nothing. */
    hlz_hybrid *h;
    hlz_error e;
    unsigned long long r = 7;
    for (size_t i = 0; i < TOKENS; i++) ids[i] = (int32_t)(test_rand(&r) % VOCAB);
    double plain = 0, mixed = 0;
    CHECK(hlz_hybrid_create(HLZ_MIX_ALL, VOCAB, TOKENS, &h, &e) == HLZ_OK);
    for (size_t i = 0; i < TOKENS; i++) {
        synthetic_table(i, f);
        plain += HLZ_FREQ_BITS - log2((double)f[ids[i]]);
        size_t k = hlz_hybrid_encode(h, f, ids[i], sym);
        mixed += code_bits(sym, k);
    }
    hlz_hybrid_free(h);
    CHECK_MSG(mixed < plain * 1.01, "noise: %.0f bits mixed against %.0f", mixed, plain);
    CHECK(hlz_hybrid_create(8, VOCAB, TOKENS, &h, &e) == HLZ_ERR_CORRUPT && h == NULL);
    free(ids), free(back), free(sym), free(stream);
}

static const test_model_shape shape = {"llama", 64, 2, 4, 2, 96, 300, 128, HLZ_GGML_Q8_0, 11};

/* Through the llm codec: every level round-trips, the payload records the
 * parts, and parts 0 or unknown bits are refused. */
static void llm_payloads(void)
{
    uint8_t *bytes;
    hlz_model *m = tm_open(&shape, &bytes);
    CHECK(m != NULL);
    hlz_llm_params p;
    hlz_llm_params_default(m, &p);
    p.window = 16, p.carry = 4;
    hlz_llm *llm;
    hlz_error e;
    CHECK_MSG(hlz_llm_create(m, &p, &llm, &e) == HLZ_OK, "%s", e.message);
    uint8_t text[2000];
    for (size_t i = 0; i < sizeof text; i++) text[i] = (uint8_t)("to be or not to be, "[i % 20] + (i % 301 == 0));
    size_t cap = sizeof text * 4 + 64, coded, plain = 0;
    uint8_t *dst = malloc(cap), back[sizeof text];
    const char *levels[] = {"none", "match", "context", "full"};
    for (int level = 0; level < 4; level++) {
        unsigned parts = (unsigned)hlz_mix_from_name(levels[level]);
        hlz_llm_set_mix(llm, parts);
        CHECK_MSG(hlz_llm_encode(llm, text, sizeof text, dst, cap, &coded, &e) == HLZ_OK, "%s", e.message);
        CHECK_MSG(hlz_llm_decode(llm, dst, coded, back, sizeof text, &e) == HLZ_OK, "%s: %s", levels[level], e.message);
        CHECK(memcmp(back, text, sizeof text) == 0);
        uint64_t tokens;
        double bits;
        unsigned mix = 99;
        CHECK(hlz_llm_payload_info(dst, coded, &tokens, &bits, &mix, &e) == HLZ_OK && mix == parts);
        if (level == 0) plain = coded;
        else CHECK_MSG(coded < plain, "%s: %zu bytes, the model alone %zu", levels[level], coded, plain);
    }
    /* The payload header: varints tokens, bits, flags (2: hybrid), parts. */
    size_t at = 0;
    uint64_t v;
    CHECK(hlz_get_varint(dst, coded, &at, &v) == 0 && hlz_get_varint(dst, coded, &at, &v) == 0);
    CHECK(hlz_get_varint(dst, coded, &at, &v) == 0 && v == HLZ_LLM_FLAG_HYBRID);
    CHECK(dst[at] == HLZ_MIX_ALL);
    const uint8_t bad[] = {0, 8, 0x7f};
    for (size_t b = 0; b < sizeof bad; b++) {
        dst[at] = bad[b];
        CHECK_MSG(hlz_llm_decode(llm, dst, coded, back, sizeof text, &e) == HLZ_ERR_CORRUPT, "parts %u", bad[b]);
    }
    dst[at] = HLZ_MIX_ALL;
    /* A flipped bit anywhere in the stream is an error (or, rarely, other
     * bytes that the chunk checksum then catches), never a crash. */
    for (size_t i = at + 1; i < coded; i += 7) {
        dst[i] ^= 0x10;
        hlz_status st = hlz_llm_decode(llm, dst, coded, back, sizeof text, &e);
        CHECK(st == HLZ_ERR_CORRUPT || (st == HLZ_OK && memcmp(back, text, sizeof text) != 0));
        dst[i] ^= 0x10;
    }
    CHECK(hlz_mix_from_name("all") == -1 && hlz_mix_from_name("full") == (int)HLZ_MIX_ALL);
    free(dst);
    hlz_llm_free(llm);
    hlz_model_free(m);
    free(bytes);
}

int main(void)
{
    RUN(synthetic_round_trips);
    RUN(llm_payloads);
    TEST_MAIN_END();
}
