/* test_format.c - records of doc/format.md: exact bytes, limits, checks. */
#include "internal.h"
#include "test.h"

static void header_round_trip(void)
{
    static hlz_header h, back;
    memset(&h, 0, sizeof h);
    h.version = HLZ_FORMAT_VERSION;
    h.chunk_size = 1 << 20;
    for (int i = 0; i < 16; i++) h.model_fingerprint[i] = (uint8_t)(i * 7 + 1);
    h.model_name_size = 5;
    memcpy(h.model_name, "tiny1", 5);
    uint8_t opt[] = {0x01, 0x00, 0x02, 0x00, 0xaa, 0xbb}; /* tag 1, 2 bytes: non-critical */
    h.options_size = sizeof opt;
    memcpy(h.options, opt, sizeof opt);
    uint8_t buf[HLZ_HEADER_SIZE_MAX];
    size_t n = hlz_header_write(&h, buf);
    CHECK(n == HLZ_HEADER_FIXED_SIZE + 5 + sizeof opt);
    size_t size;
    hlz_error e;
    CHECK(hlz_header_size(buf, &size, &e) == HLZ_OK && size == n);
    CHECK(hlz_header_parse(buf, n, &back, &e) == HLZ_OK);
    CHECK(back.chunk_size == h.chunk_size && back.version == HLZ_FORMAT_VERSION);
    CHECK(memcmp(back.model_fingerprint, h.model_fingerprint, 16) == 0);
    CHECK(strcmp(back.model_name, "tiny1") == 0);
    CHECK(back.options_size == sizeof opt && hlz_header_uses_model(&back));
}

/* The fixed bytes of an empty v1 header, as doc/format.md describes them. */
static void header_golden_bytes(void)
{
    static hlz_header h;
    memset(&h, 0, sizeof h);
    h.version = 1;
    h.chunk_size = 0x00100000;
    uint8_t buf[HLZ_HEADER_SIZE_MAX];
    size_t n = hlz_header_write(&h, buf);
    static const uint8_t expect[20] = {0x89, 'H', 'L', 'Z', '\r', '\n', 0x1a, '\n', 1, 0, 44, 0,
                                       0, 0, 0, 0, 0x00, 0x00, 0x10, 0x00};
    CHECK(n == 44);
    CHECK(memcmp(buf, expect, sizeof expect) == 0);
    CHECK(hlz_le32(buf + 40) == hlz_check32(buf, 40));
    CHECK(!hlz_header_uses_model(&h));
}

static void header_rejects_bad_fields(void)
{
    static hlz_header h, back;
    memset(&h, 0, sizeof h);
    h.version = 1;
    h.chunk_size = 4096;
    uint8_t buf[HLZ_HEADER_SIZE_MAX];
    size_t n = hlz_header_write(&h, buf);
    hlz_error e;
    size_t size;
    buf[0] ^= 1;
    CHECK(hlz_header_size(buf, &size, &e) == HLZ_ERR_NOT_ARCHIVE);
    buf[0] ^= 1;
    buf[8] = HLZ_FORMAT_VERSION + 1; /* a future version */
    CHECK(hlz_header_size(buf, &size, &e) == HLZ_ERR_VERSION);
    CHECK(strstr(e.message, "newer") != NULL);
    buf[8] = 1;
    h.chunk_size = 512; /* below the minimum, check value still right */
    n = hlz_header_write(&h, buf);
    CHECK(hlz_header_parse(buf, n, &back, &e) == HLZ_ERR_CORRUPT && strstr(e.message, "chunk size"));
    h.chunk_size = HLZ_CHUNK_SIZE_MAX + 1;
    n = hlz_header_write(&h, buf);
    CHECK(hlz_header_parse(buf, n, &back, &e) == HLZ_ERR_CORRUPT);
    h.chunk_size = 4096;
    h.flags = 1; /* unknown flag */
    n = hlz_header_write(&h, buf);
    CHECK(hlz_header_parse(buf, n, &back, &e) == HLZ_ERR_VERSION);
    h.flags = 0;
    uint8_t critical[] = {0x05, 0x80, 0x00, 0x00}; /* tag 0x8005, empty: must be understood */
    h.options_size = sizeof critical;
    memcpy(h.options, critical, sizeof critical);
    n = hlz_header_write(&h, buf);
    CHECK(hlz_header_parse(buf, n, &back, &e) == HLZ_ERR_VERSION);
    uint8_t overrun[] = {0x01, 0x00, 0x09, 0x00, 0x00}; /* length 9 in a 5-byte area */
    h.options_size = sizeof overrun;
    memcpy(h.options, overrun, sizeof overrun);
    n = hlz_header_write(&h, buf);
    CHECK(hlz_header_parse(buf, n, &back, &e) == HLZ_ERR_CORRUPT);
}

static void chunk_record_round_trip_and_limits(void)
{
    hlz_chunk_record r = {.codec = HLZ_CODEC_ZSTD, .reason = HLZ_REASON_COMPRESSIBLE, .entropy32 = 150,
                          .utf8_percent = 100, .probe_percent = 40, .raw_size = 1000, .coded_size = 400,
                          .checksum = 0x0123456789abcdefull};
    uint8_t buf[HLZ_CHUNK_RECORD_SIZE];
    hlz_chunk_record_write(&r, buf);
    CHECK(buf[0] == 'C' && buf[1] == 1 && hlz_le32(buf + 8) == 1000 && hlz_le64(buf + 16) == r.checksum);
    hlz_chunk_record back;
    hlz_error e;
    CHECK(hlz_chunk_record_parse(buf, 4096, 0, &back, &e) == HLZ_OK);
    CHECK(back.coded_size == 400 && back.checksum == r.checksum && back.entropy32 == 150);
    CHECK(hlz_chunk_record_parse(buf, 999, 7, &back, &e) == HLZ_ERR_CORRUPT); /* raw > chunk size */
    CHECK(strstr(e.message, "chunk 7") != NULL);
    r.coded_size = 1001; /* expansion is never written */
    hlz_chunk_record_write(&r, buf);
    CHECK(hlz_chunk_record_parse(buf, 4096, 0, &back, &e) == HLZ_ERR_CORRUPT);
    r.coded_size = 999;
    r.codec = HLZ_CODEC_STORE; /* store must be exact */
    hlz_chunk_record_write(&r, buf);
    CHECK(hlz_chunk_record_parse(buf, 4096, 0, &back, &e) == HLZ_ERR_CORRUPT);
    r.codec = 9;
    r.coded_size = 10;
    hlz_chunk_record_write(&r, buf);
    CHECK(hlz_chunk_record_parse(buf, 4096, 0, &back, &e) == HLZ_ERR_VERSION);
    r.codec = 1;
    r.raw_size = 0;
    r.coded_size = 0;
    hlz_chunk_record_write(&r, buf);
    CHECK(hlz_chunk_record_parse(buf, 4096, 0, &back, &e) == HLZ_ERR_CORRUPT);
}

static void index_and_trailer(void)
{
    uint32_t sizes[3] = {10, 20, 30};
    uint8_t buf[64];
    size_t n = hlz_index_record_write(3, 5000, sizes, buf);
    CHECK(n == HLZ_INDEX_FIXED_SIZE + 12);
    uint64_t count, raw;
    hlz_error e;
    CHECK(hlz_index_record_parse(buf, n, &count, &raw, &e) == HLZ_OK && count == 3 && raw == 5000);
    CHECK(hlz_index_record_parse(buf, n - 4, &count, &raw, &e) == HLZ_ERR_CORRUPT);
    buf[20] ^= 4;
    CHECK(hlz_index_record_parse(buf, n, &count, &raw, &e) == HLZ_ERR_CORRUPT);
    CHECK(hlz_check_raw_total(3, 5000, 2048, &e) == HLZ_OK);
    CHECK(hlz_check_raw_total(3, 4096, 2048, &e) == HLZ_ERR_CORRUPT);  /* fits in 2 chunks */
    CHECK(hlz_check_raw_total(3, 6145, 2048, &e) == HLZ_ERR_CORRUPT);  /* needs 4 */
    CHECK(hlz_check_raw_total(0, 0, 2048, &e) == HLZ_OK);
    CHECK(hlz_check_raw_total(UINT64_MAX, 1, 2048, &e) == HLZ_ERR_CORRUPT); /* overflow */
    uint8_t t[HLZ_TRAILER_SIZE];
    hlz_trailer_write(123456789, t);
    uint64_t off;
    CHECK(hlz_trailer_parse(t, &off, &e) == HLZ_OK && off == 123456789);
    CHECK(memcmp(t + 12, "HLZE", 4) == 0);
    t[3] ^= 0x10;
    CHECK(hlz_trailer_parse(t, &off, &e) == HLZ_ERR_CORRUPT);
}

static void checksums_are_xxh3(void)
{
    /* Known XXH3-64 values (seed 0) pin the checksum to the format. */
    CHECK(hlz_checksum64("", 0, 0) == 0x2d06800538d394c2ull);
    CHECK(hlz_checksum64("a", 1, 0) == 0xe6c632b61e964e1full);
    CHECK(hlz_checksum64("a", 1, 1) != hlz_checksum64("a", 1, 0));
    CHECK(hlz_check32("", 0) == 0x38d394c2u);
}

static void status_names(void)
{
    CHECK(strcmp(hlz_status_name(HLZ_ERR_CHECKSUM), "checksum") == 0);
    CHECK(strcmp(hlz_status_name((hlz_status)999), "unknown") == 0);
    hlz_codec_id id;
    CHECK(hlz_codec_from_name("zstd", &id) == 0 && id == HLZ_CODEC_ZSTD);
    CHECK(hlz_codec_from_name("auto", &id) == 0 && id == HLZ_CODEC_AUTO);
    CHECK(hlz_codec_from_name("gzip", &id) != 0);
    CHECK(strcmp(hlz_codec_name(2), "llm") == 0 && strcmp(hlz_codec_name(200), "?") == 0);
}

int main(void)
{
    RUN(header_round_trip);
    RUN(header_golden_bytes);
    RUN(header_rejects_bad_fields);
    RUN(chunk_record_round_trip_and_limits);
    RUN(index_and_trailer);
    RUN(checksums_are_xxh3);
    RUN(status_names);
    TEST_MAIN_END();
}
