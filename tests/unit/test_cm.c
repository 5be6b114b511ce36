/* test_cm.c - the cm codec (context mixing) on its own: exact round trips of
 * edge cases, compression where there is structure, pinned output, and bad
 * payloads that must fail cleanly. */
#include "codec_cm.h"
#include "test.h"

/* The coded size and check32 of output_is_pinned's input (tests/golden pins the archive too). */
#define CM_PINNED_SIZE 3788
#define CM_PINNED_CHECK 0x566dfef2u

/* Encodes and decodes `n` bytes; returns the coded size, or 0 after a failed CHECK. */
static size_t round_trip(const uint8_t *src, size_t n, uint32_t *check)
{
    size_t cap = n + n / 8 + 64, coded = 0;
    uint8_t *dst = malloc(cap), *back = malloc(n + 1);
    hlz_error e;
    int ok = dst && back && hlz_codec_encode(HLZ_CODEC_CM, 9, src, n, dst, cap, &coded, &e) == HLZ_OK;
    if (ok) {
        memset(back, 0xa5, n + 1);
        ok = hlz_codec_decode(HLZ_CODEC_CM, dst, coded, back, n, &e) == HLZ_OK && memcmp(src, back, n) == 0 &&
             back[n] == 0xa5;
        if (check) *check = hlz_check32(dst, coded);
    }
    free(dst);
    free(back);
    return ok ? coded : 0;
}

/* English-like words from a small vocabulary, with punctuation and lines. */
static void fill_text(uint8_t *p, size_t n, unsigned long long seed)
{
    static const char *const words[] = {"the", "of", "and", "a", "to", "in", "is", "compression", "model",
                                        "context", "mixing", "table", "record", "byte", "bit", "arithmetic",
                                        "coder", "predicts", "every", "next", "data", "which", "it", "was"};
    size_t i = 0;
    while (i < n) {
        const char *w = words[test_rand(&seed) % (sizeof words / sizeof words[0])];
        while (*w && i < n) p[i++] = (uint8_t)*w++;
        if (i < n) p[i++] = test_rand(&seed) % 11 == 0 ? '\n' : test_rand(&seed) % 7 == 0 ? ',' : ' ';
    }
}

/* Fixed 20-byte records: a counter, a slowly growing value, a small code and a name. */
static void fill_table(uint8_t *p, size_t n, unsigned long long seed)
{
    static const char *const names[] = {"ALPHA", "BETA", "GAMMA", "DELTA"};
    uint32_t v = 1000;
    for (size_t i = 0; i * 20 < n; i++) {
        uint8_t r[20] = {0};
        v += (uint32_t)(test_rand(&seed) % 4);
        hlz_put32(r, (uint32_t)i);
        hlz_put32(r + 4, v);
        hlz_put16(r + 8, (uint16_t)(test_rand(&seed) % 50 * 7));
        memcpy(r + 12, names[test_rand(&seed) % 4], 5);
        for (size_t k = 0; k < 20 && i * 20 + k < n; k++) p[i * 20 + k] = r[k];
    }
}

static void edge_cases_round_trip(void)
{
    static uint8_t buf[200000];
    CHECK(round_trip(buf, 0, NULL) == 7); /* header and the coder's flush */
    buf[0] = 'x';
    CHECK(round_trip(buf, 1, NULL) > 0);
    for (int v = 0; v < 256; v += 255) {
        memset(buf, v, 100000);
        size_t n = round_trip(buf, 100000, NULL);
        CHECK_MSG(n > 0 && n < 200, "100000 equal bytes (%d): %zu", v, n);
    }
    for (size_t n = 2; n < 40; n++) {
        test_fill_random(buf, n, n);
        CHECK_MSG(round_trip(buf, n, NULL) > 0, "%zu random bytes", n);
    }
}

static void random_data_costs_little(void)
{
    static uint8_t buf[65536];
    test_fill_random(buf, sizeof buf, 11);
    size_t n = round_trip(buf, sizeof buf, NULL);
    CHECK_MSG(n > 0 && n < sizeof buf + sizeof buf / 100, "%zu", n);
}

static void text_and_tables_compress(void)
{
    static uint8_t buf[200000];
    fill_text(buf, sizeof buf, 3);
    size_t text = round_trip(buf, sizeof buf, NULL);
    size_t zstd = 0;
    static uint8_t z[200000];
    hlz_error e;
    CHECK(hlz_codec_encode(HLZ_CODEC_ZSTD, 9, buf, sizeof buf, z, sizeof z, &zstd, &e) == HLZ_OK);
    CHECK_MSG(text > 0 && text < zstd, "text: cm %zu, zstd -19 %zu", text, zstd);
    fill_table(buf, sizeof buf, 5);
    size_t table = round_trip(buf, sizeof buf, NULL);
    CHECK(hlz_codec_encode(HLZ_CODEC_ZSTD, 9, buf, sizeof buf, z, sizeof z, &zstd, &e) == HLZ_OK);
    CHECK_MSG(table > 0 && table * 10 < zstd * 8, "table: cm %zu, zstd -19 %zu", table, zstd);
}

/* The coded bytes are part of the format: a change of the model shows here. */
static void output_is_pinned(void)
{
    static uint8_t buf[30000];
    fill_text(buf, 15000, 9);
    fill_table(buf + 15000, 15000, 9);
    uint32_t check = 0;
    size_t n = round_trip(buf, sizeof buf, &check);
    printf("# cm pinned: %zu bytes, check %08x\n", n, (unsigned)check);
    CHECK(n == CM_PINNED_SIZE && check == CM_PINNED_CHECK);
}

static void no_room_is_codec_error(void)
{
    static uint8_t src[4096], dst[4096];
    test_fill_random(src, sizeof src, 7);
    size_t n = 123;
    hlz_error e;
    CHECK(hlz_codec_encode(HLZ_CODEC_CM, 9, src, sizeof src, dst, sizeof src - 1, &n, &e) == HLZ_ERR_CODEC);
    CHECK(n == 0);
    CHECK(hlz_codec_encode(HLZ_CODEC_CM, 9, src, 10, dst, 6, &n, &e) == HLZ_ERR_CODEC);
}

static void bad_payloads_fail_cleanly(void)
{
    static uint8_t src[3000], coded[4000], back[3000];
    fill_text(src, sizeof src, 21);
    size_t n = 0;
    hlz_error e;
    CHECK(hlz_codec_encode(HLZ_CODEC_CM, 9, src, sizeof src, coded, sizeof coded, &n, &e) == HLZ_OK);
    /* Every truncation is an error (never a crash, never a silent success). */
    for (size_t k = 0; k < n; k++) {
        hlz_status st = hlz_codec_decode(HLZ_CODEC_CM, coded, k, back, sizeof src, &e);
        CHECK_MSG(st == HLZ_ERR_CORRUPT, "truncated to %zu of %zu: %d", k, n, (int)st);
    }
    /* Bytes after the end, a wrong raw size, bad parameter bytes. */
    coded[n] = 0;
    CHECK(hlz_codec_decode(HLZ_CODEC_CM, coded, n + 1, back, sizeof src, &e) == HLZ_ERR_CORRUPT);
    CHECK(hlz_codec_decode(HLZ_CODEC_CM, coded, n, back, 100, &e) == HLZ_ERR_CORRUPT);
    CHECK(strstr(e.message, "cm") != NULL);
    for (int field = 0; field < 3; field++) {
        uint8_t saved = coded[field];
        coded[field] ^= 0x40;
        CHECK(hlz_codec_decode(HLZ_CODEC_CM, coded, n, back, sizeof src, &e) == HLZ_ERR_CORRUPT);
        coded[field] = saved;
    }
    /* Flipped bits in the coded stream decode to something or fail; the
     * chunk checksum catches wrong bytes. Never a crash (run under ASan). */
    for (size_t k = 3; k < n; k += 7) {
        coded[k] ^= (uint8_t)(1u << (k % 8));
        hlz_status st = hlz_codec_decode(HLZ_CODEC_CM, coded, n, back, sizeof src, &e);
        CHECK(st == HLZ_OK || st == HLZ_ERR_CORRUPT);
        coded[k] ^= (uint8_t)(1u << (k % 8));
    }
    CHECK(hlz_codec_decode(HLZ_CODEC_CM, coded, n, back, sizeof src, &e) == HLZ_OK);
    CHECK(memcmp(back, src, sizeof src) == 0);
}

static void memory_is_bounded(void)
{
    CHECK(hlz_cm_memory(1) < (8u << 20));
    CHECK(hlz_cm_memory(1u << 20) < (76u << 20));
    CHECK(hlz_cm_memory(HLZ_CHUNK_SIZE_MAX) < (90u << 20));
    CHECK(strcmp(hlz_codec_name(HLZ_CODEC_CM), "cm") == 0);
    hlz_codec_id id;
    CHECK(hlz_codec_from_name("cm", &id) == 0 && id == HLZ_CODEC_CM);
}

int main(void)
{
    RUN(edge_cases_round_trip);
    RUN(random_data_costs_little);
    RUN(text_and_tables_compress);
    RUN(output_is_pinned);
    RUN(no_room_is_codec_error);
    RUN(bad_payloads_fail_cleanly);
    RUN(memory_is_bounded);
    TEST_MAIN_END();
}
