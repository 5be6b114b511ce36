/* test_codec.c - the store and zstd codecs on their own. */
#include "internal.h"
#include "test.h"

static void store_and_zstd_round_trip(void)
{
    static uint8_t src[100000], coded[100000], back[100000];
    for (size_t i = 0; i < sizeof src; i++) src[i] = (uint8_t)("abcabd"[i % 6] + (i % 977 == 0));
    hlz_error e;
    for (unsigned id = HLZ_CODEC_STORE; id <= HLZ_CODEC_ZSTD; id++)
        for (int level = HLZ_LEVEL_MIN; level <= HLZ_LEVEL_MAX; level += 4) {
            size_t n = 0;
            CHECK(hlz_codec_encode(id, level, src, sizeof src, coded, sizeof coded, &n, &e) == HLZ_OK);
            CHECK(id == HLZ_CODEC_STORE ? n == sizeof src : n < sizeof src / 10);
            memset(back, 0, sizeof back);
            CHECK(hlz_codec_decode(id, coded, n, back, sizeof back, &e) == HLZ_OK);
            CHECK(memcmp(src, back, sizeof src) == 0);
        }
}

static void zstd_reports_no_room(void)
{
    static uint8_t src[4096], coded[4096];
    test_fill_random(src, sizeof src, 7);
    size_t n = 123;
    hlz_error e;
    CHECK(hlz_codec_encode(HLZ_CODEC_ZSTD, 9, src, sizeof src, coded, sizeof src - 1, &n, &e) == HLZ_ERR_CODEC);
    CHECK(n == 0);
}

static void zstd_rejects_wrong_sizes(void)
{
    static uint8_t src[5000], coded[5000], back[6000];
    memset(src, 'x', sizeof src);
    size_t n;
    hlz_error e;
    CHECK(hlz_codec_encode(HLZ_CODEC_ZSTD, 3, src, sizeof src, coded, sizeof coded, &n, &e) == HLZ_OK);
    CHECK(hlz_codec_decode(HLZ_CODEC_ZSTD, coded, n, back, sizeof src - 1, &e) == HLZ_ERR_CORRUPT);
    CHECK(hlz_codec_decode(HLZ_CODEC_ZSTD, coded, n, back, sizeof src + 1, &e) == HLZ_ERR_CORRUPT);
    CHECK(hlz_codec_decode(HLZ_CODEC_ZSTD, coded, n - 1, back, sizeof src, &e) == HLZ_ERR_CORRUPT);
    CHECK(hlz_codec_decode(HLZ_CODEC_ZSTD, coded, 0, back, sizeof src, &e) == HLZ_ERR_CORRUPT);
    CHECK(hlz_codec_decode(HLZ_CODEC_STORE, coded, 10, back, 11, &e) == HLZ_ERR_CORRUPT);
}

static void reserved_codecs_unsupported(void)
{
    uint8_t src[10] = {0}, dst[10];
    size_t n;
    hlz_error e;
    CHECK(hlz_codec_encode(HLZ_CODEC_LLM, 9, src, 10, dst, 10, &n, &e) == HLZ_ERR_UNSUPPORTED);
    CHECK(strstr(e.message, "llm") != NULL);
    CHECK(hlz_codec_decode(HLZ_CODEC_ROBUST, src, 10, dst, 10, &e) == HLZ_ERR_UNSUPPORTED);
    /* float is implemented: ten zero bytes are no float payload. */
    CHECK(hlz_codec_decode(HLZ_CODEC_FLOAT, src, 10, dst, 10, &e) == HLZ_ERR_CORRUPT);
}

static void level_map(void)
{
    CHECK(hlz_zstd_level(1) == 1 && hlz_zstd_level(9) == 19);
    CHECK(hlz_zstd_level(0) == 1 && hlz_zstd_level(99) == 19);
}

int main(void)
{
    RUN(store_and_zstd_round_trip);
    RUN(zstd_reports_no_room);
    RUN(zstd_rejects_wrong_sizes);
    RUN(reserved_codecs_unsupported);
    RUN(level_map);
    TEST_MAIN_END();
}
