/* test_scout.c - entropy, UTF-8 share and codec choice of the scout. */
#include "internal.h"
#include "test.h"

static void entropy_values(void)
{
    uint8_t buf[4096];
    memset(buf, 'a', sizeof buf);
    CHECK(hlz_entropy32(buf, sizeof buf) == 0);
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)(i & 1);
    CHECK(hlz_entropy32(buf, sizeof buf) == 32);       /* exactly 1 bit */
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)(i & 15);
    CHECK(hlz_entropy32(buf, sizeof buf) == 128);      /* exactly 4 bits */
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (uint8_t)i;
    CHECK(hlz_entropy32(buf, sizeof buf) == 255);      /* 8 bits saturates */
    CHECK(hlz_entropy32(buf, 0) == 0);
}

static void utf8_share(void)
{
    const char *ascii = "plain ascii text";
    CHECK(hlz_utf8_percent((const uint8_t *)ascii, strlen(ascii)) == 100);
    const char *mixed = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"; /* é € 😀 */
    CHECK(hlz_utf8_percent((const uint8_t *)mixed, strlen(mixed)) == 100);
    const uint8_t bad[] = {0xc0, 0xaf, 'a', 'b'};       /* overlong: 2 of 4 bytes valid */
    CHECK(hlz_utf8_percent(bad, sizeof bad) == 50);
    const uint8_t surrogate[] = {0xed, 0xa0, 0x80, 'x'}; /* U+D800 is not UTF-8 */
    CHECK(hlz_utf8_percent(surrogate, sizeof surrogate) == 25);
    const uint8_t too_big[] = {0xf4, 0x90, 0x80, 0x80};  /* past U+10FFFF */
    CHECK(hlz_utf8_percent(too_big, sizeof too_big) == 0);
    const uint8_t cut[] = {'a', 0xe2, 0x82};             /* truncated sequence at the end */
    CHECK(hlz_utf8_percent(cut, sizeof cut) == 33);
    /* The fast count equals the plain one: random bytes, text with every
     * kind of sequence cut at every place, and all short tails. */
    static uint8_t buf[4099];
    static const char *const seqs[] = {"a", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xed\xa0\x80",
                                       "\xf4\x90\x80\x80", "\xc0\xaf", "\xe0\x80\xaf", "\x80", "\xff"};
    unsigned long long st = 3;
    for (int round = 0; round < 200; round++) {
        size_t n = 0;
        if (round % 2) test_fill_random(buf, sizeof buf, (unsigned long long)round), n = sizeof buf;
        else
            while (n + 4 <= sizeof buf) {
                const char *q = seqs[test_rand(&st) % 10];
                size_t len = strlen(q), cut = test_rand(&st) % 8 == 0 ? test_rand(&st) % len : len;
                memcpy(buf + n, q, cut), n += cut;
            }
        for (size_t len = n; len + 12 > n && len > 0; len--)
            CHECK_MSG(hlz_utf8_percent(buf, len) == hlz_utf8_percent_ref(buf, len), "round %d, %zu bytes", round, len);
    }
}

static void decisions(void)
{
    static uint8_t buf[256 * 1024];
    hlz_scout_result r;
    test_fill_random(buf, sizeof buf, 42);
    hlz_scout(buf, sizeof buf, &r);
    CHECK(r.codec == HLZ_CODEC_STORE && r.reason == HLZ_REASON_INCOMPRESSIBLE);
    CHECK(r.entropy32 >= 254 && r.probe_percent >= 99);
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = "the quick brown fox jumps over "[i % 31];
    hlz_scout(buf, sizeof buf, &r);
    CHECK(r.codec == HLZ_CODEC_ZSTD && r.reason == HLZ_REASON_COMPRESSIBLE);
    CHECK(r.utf8_percent == 100 && r.probe_percent < 10);
    hlz_scout(buf, 1, &r); /* tiny input: never crashes, still decides */
    CHECK(r.codec == HLZ_CODEC_ZSTD || r.codec == HLZ_CODEC_STORE);
}

int main(void)
{
    RUN(entropy_values);
    RUN(utf8_share);
    RUN(decisions);
    TEST_MAIN_END();
}
