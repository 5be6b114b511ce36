/* test_archive.c - whole archives through the public API: round trips of
 * edge cases and ../shared/bench, thread invariance, concatenation, random
 * access, and every single-byte corruption and truncation. */
#include "archive_util.h"
#include "internal.h"
#include "test.h"

#include <dirent.h>
#include <sys/stat.h>

static int quick(void) { return getenv("HLZ_TEST_QUICK") != NULL; }

static hlz_options opts(hlz_codec_id codec, uint32_t chunk_size, int threads)
{
    hlz_options o;
    hlz_options_default(&o);
    o.codec = codec;
    o.chunk_size = chunk_size;
    o.threads = threads;
    return o;
}

/* Compresses with `o`, decodes with 1 and 3 threads, compares. Returns 0 on success. */
static int round_trip(const unsigned char *data, size_t size, const hlz_options *o, const char **why)
{
    unsigned char *archive, *back;
    size_t archive_size = 0, back_size = 0;
    hlz_error e;
    if (compress_buffer(data, size, o, &archive, &archive_size) != HLZ_OK) { *why = "compress failed"; return 1; }
    for (int threads = 1; threads <= 3; threads += 2) {
        hlz_status st = decompress_buffer(archive, archive_size, threads, &back, &back_size, &e);
        int bad = st != HLZ_OK || back_size != size || (size && memcmp(back, data, size) != 0);
        free(back);
        if (bad) { *why = st != HLZ_OK ? e.message : "decoded bytes differ"; free(archive); return 1; }
    }
    free(archive);
    return 0;
}

static void edge_cases(void)
{
    const uint32_t cs = 4096;
    size_t max = 3 * cs + 1;
    unsigned char *buf = malloc(max);
    struct { const char *name; size_t size; int kind; } cases[] = {
        {"empty", 0, 0}, {"one byte", 1, 0}, {"exactly one chunk", cs, 1}, {"one chunk plus one byte", cs + 1, 1},
        {"all zeros", 3 * cs + 1, 2}, {"random bytes", 3 * cs, 3}, {"invalid utf-8", 2 * cs + 17, 4},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        size_t n = cases[c].size;
        for (size_t i = 0; i < n; i++) buf[i] = (unsigned char)("Lorem ipsum dolor sit amet. "[i % 28]);
        if (cases[c].kind == 2) memset(buf, 0, n);
        if (cases[c].kind == 3) test_fill_random(buf, n, 99);
        if (cases[c].kind == 4)
            for (size_t i = 0; i < n; i++) buf[i] = (unsigned char)(0x80 + (i * 37) % 0x7f); /* stray continuations */
        hlz_codec_id codecs[] = {HLZ_CODEC_AUTO, HLZ_CODEC_ZSTD, HLZ_CODEC_STORE};
        for (int k = 0; k < 3; k++) {
            hlz_options o = opts(codecs[k], cs, 2);
            const char *why = "";
            CHECK_MSG(round_trip(buf, n, &o, &why) == 0, "%s with codec %d: %s", cases[c].name, (int)codecs[k], why);
        }
    }
    free(buf);
}

/* Mixed content: text, runs, random regions, so every codec path appears. */
static void fill_mixed(unsigned char *p, size_t n, unsigned long long seed)
{
    unsigned long long s = seed | 1;
    size_t i = 0;
    while (i < n) {
        size_t run = 1000 + (size_t)(test_rand(&s) % 200000);
        if (run > n - i) run = n - i;
        switch (test_rand(&s) % 3) {
        case 0: for (size_t j = 0; j < run; j++) p[i + j] = (unsigned char)("It was a dark and stormy night; "[(i + j) % 32] ^ ((j % 4093) == 0)); break;
        case 1: test_fill_random(p + i, run, test_rand(&s)); break;
        default: memset(p + i, (int)(test_rand(&s) & 0xff), run); break;
        }
        i += run;
    }
}

static void large_input(void)
{
    size_t n = quick() ? (size_t)12 << 20 : (size_t)50 << 20;
    unsigned char *buf = malloc(n);
    CHECK(buf != NULL);
    fill_mixed(buf, n, 2026);
    hlz_options o = opts(HLZ_CODEC_AUTO, HLZ_CHUNK_SIZE_DEFAULT, 2);
    o.level = 3;
    const char *why = "";
    int rc = round_trip(buf, n, &o, &why);
    free(buf);
    CHECK_MSG(rc == 0, "%zu bytes: %s", n, why);
}

static void same_bytes_for_any_thread_count(void)
{
    size_t n = 300000;
    unsigned char *buf = malloc(n), *ref = NULL, *other;
    size_t ref_size = 0, other_size = 0;
    fill_mixed(buf, n, 5);
    int threads[] = {1, 2, 3, 8};
    for (int t = 0; t < 4; t++) {
        hlz_options o = opts(HLZ_CODEC_AUTO, 8192, threads[t]);
        CHECK(compress_buffer(buf, n, &o, &other, &other_size) == HLZ_OK);
        if (!ref) { ref = other; ref_size = other_size; continue; }
        int same = other_size == ref_size && memcmp(other, ref, ref_size) == 0;
        free(other);
        CHECK_MSG(same, "archive differs with %d threads", threads[t]);
    }
    free(ref);
    free(buf);
}

/* Store archives do not depend on the zstd version: their bytes are pinned. */
static void golden_store_archive(void)
{
    unsigned char buf[3000];
    for (size_t i = 0; i < sizeof buf; i++) buf[i] = (unsigned char)(i * 7);
    hlz_options o = opts(HLZ_CODEC_STORE, 1024, 1);
    unsigned char *a;
    size_t n = 0;
    CHECK(compress_buffer(buf, sizeof buf, &o, &a, &n) == HLZ_OK);
    /* 44 header + 3 x 32 records + 3000 payload + (21 + 3 x 4) index + 16 trailer */
    CHECK(n == 44 + 96 + 3000 + 33 + 16);
    unsigned long long h = hlz_checksum64(a, n, 0);
    free(a);
    CHECK_MSG(h == 0x927f06041e950d88ull, "archive hash %016llx", h);
}

static void concatenated_archives(void)
{
    const char *x = "first archive\n", *y = "second one\n";
    hlz_options o = opts(HLZ_CODEC_AUTO, 1024, 1);
    unsigned char *a, *b, *back;
    size_t an, bn, back_n;
    CHECK(compress_buffer(x, strlen(x), &o, &a, &an) == HLZ_OK);
    CHECK(compress_buffer(y, strlen(y), &o, &b, &bn) == HLZ_OK);
    unsigned char *both = malloc(an + bn + 1);
    memcpy(both, a, an);
    memcpy(both + an, b, bn);
    hlz_error e;
    CHECK(decompress_buffer(both, an + bn, 1, &back, &back_n, &e) == HLZ_OK);
    CHECK(back_n == strlen(x) + strlen(y) && memcmp(back, "first archive\nsecond one\n", back_n) == 0);
    free(back);
    both[an] = 'X'; /* garbage after the first archive */
    CHECK(decompress_buffer(both, an + 1, 1, &back, &back_n, &e) == HLZ_ERR_CORRUPT);
    CHECK(strstr(e.message, "after the end") != NULL);
    free(back);
    free(both);
    free(a);
    free(b);
    /* A second archive with larger chunks than the first: the chunk buffers must grow (the fuzzer found an
     * overflow when they were sized once, for the first). */
    size_t n = 20000;
    unsigned char *big = malloc(n);
    fill_mixed(big, n, 3);
    hlz_options small = opts(HLZ_CODEC_STORE, 1024, 1), large = opts(HLZ_CODEC_STORE, 16384, 1);
    CHECK(compress_buffer(big, 3000, &small, &a, &an) == HLZ_OK);
    CHECK(compress_buffer(big, n, &large, &b, &bn) == HLZ_OK);
    both = malloc(an + bn);
    memcpy(both, a, an);
    memcpy(both + an, b, bn);
    CHECK(decompress_buffer(both, an + bn, 1, &back, &back_n, &e) == HLZ_OK);
    CHECK(back_n == 3000 + n && memcmp(back, big, 3000) == 0 && memcmp(back + 3000, big, n) == 0);
    free(back), free(both), free(a), free(b), free(big);
}

static void random_access(void)
{
    size_t n = 40000;
    unsigned char *buf = malloc(n), *a, *chunk = malloc(4096);
    size_t an;
    fill_mixed(buf, n, 11);
    hlz_options o = opts(HLZ_CODEC_AUTO, 4096, 2);
    CHECK(compress_buffer(buf, n, &o, &a, &an) == HLZ_OK);
    FILE *f = file_from(a, an);
    hlz_index idx;
    hlz_error e;
    CHECK(hlz_index_read(f, &idx, &e) == HLZ_OK);
    CHECK(idx.chunk_count == 10 && idx.raw_size == n && idx.header.chunk_size == 4096);
    CHECK(hlz_index_find(&idx, 0) == 0 && hlz_index_find(&idx, 4096) == 1 && hlz_index_find(&idx, n) == 10);
    for (uint64_t i = idx.chunk_count; i-- > 0;) { /* backwards: nothing depends on order */
        CHECK(hlz_decode_chunk(f, &idx, i, chunk, 4096, &e) == HLZ_OK);
        CHECK(memcmp(chunk, buf + idx.chunks[i].raw_offset, idx.chunks[i].raw_size) == 0);
    }
    CHECK(hlz_decode_chunk(f, &idx, 10, chunk, 4096, &e) == HLZ_ERR_PARAM);
    hlz_index_free(&idx);
    fclose(f);
    free(a);
    free(buf);
    free(chunk);
}

/* A small archive with a zstd chunk and a stored chunk. zstd by name: the
 * automatic choice now takes cm for the text, and the loops below decode
 * it some 150,000 times (every chunk before the damage decodes); what they
 * test is the container's, whatever the codec (test_cm damages cm payloads). */
static unsigned char *small_archive(size_t *size, unsigned char *raw, size_t *raw_size)
{
    *raw_size = 1024 + 200;
    for (size_t i = 0; i < 1024; i++) raw[i] = (unsigned char)("small archive, two chunks. "[i % 27]);
    test_fill_random(raw + 1024, 200, 3);
    hlz_options o = opts(HLZ_CODEC_ZSTD, 1024, 1);
    unsigned char *a;
    if (compress_buffer(raw, *raw_size, &o, &a, size) != HLZ_OK) return NULL;
    return a;
}

static hlz_status decode_mem(unsigned char *a, size_t n)
{
    FILE *f = n ? fmemopen(a, n, "rb") : fopen("/dev/null", "rb");
    hlz_status st = hlz_decompress_file(f, NULL, NULL, NULL, NULL);
    fclose(f);
    return st;
}

static void every_byte_change_is_an_error(void)
{
    unsigned char raw[2048];
    size_t n, raw_n;
    unsigned char *a = small_archive(&n, raw, &raw_n);
    CHECK(a != NULL && n < 600);
    CHECK(decode_mem(a, n) == HLZ_OK);
    for (size_t pos = 0; pos < n; pos++) {
        unsigned char orig = a[pos];
        for (int v = 0; v < 256; v++) {
            if (v == orig) continue;
            a[pos] = (unsigned char)v;
            hlz_status st = decode_mem(a, n);
            CHECK_MSG(st != HLZ_OK, "byte %zu set to 0x%02x decoded without error", pos, v);
        }
        a[pos] = orig;
    }
    free(a);
}

/* Random access never returns wrong bytes, whichever byte is damaged. */
static void random_access_under_corruption(void)
{
    unsigned char raw[2048], out[1024];
    size_t n, raw_n;
    unsigned char *a = small_archive(&n, raw, &raw_n);
    CHECK(a != NULL);
    for (size_t pos = 0; pos < n; pos++) {
        a[pos] ^= 0x5a;
        FILE *f = fmemopen(a, n, "rb");
        hlz_index idx;
        if (hlz_index_read(f, &idx, NULL) == HLZ_OK) {
            for (uint64_t i = 0; i < idx.chunk_count; i++)
                if (idx.chunks[i].raw_size <= sizeof out && hlz_decode_chunk(f, &idx, i, out, sizeof out, NULL) == HLZ_OK)
                    CHECK_MSG(idx.chunks[i].raw_offset + idx.chunks[i].raw_size <= raw_n &&
                                  memcmp(out, raw + idx.chunks[i].raw_offset, idx.chunks[i].raw_size) == 0,
                              "byte %zu damaged: chunk %llu decoded to wrong bytes", pos, (unsigned long long)i);
            hlz_index_free(&idx);
        }
        fclose(f);
        a[pos] ^= 0x5a;
    }
    free(a);
}

static void every_truncation_is_an_error(void)
{
    unsigned char raw[2048];
    size_t n, raw_n;
    unsigned char *a = small_archive(&n, raw, &raw_n);
    CHECK(a != NULL);
    CHECK(decode_mem(a, 0) == HLZ_ERR_NOT_ARCHIVE);
    for (size_t len = 1; len < n; len++) {
        hlz_status st = decode_mem(a, len);
        CHECK_MSG(st == HLZ_ERR_TRUNCATED, "truncated to %zu of %zu bytes: %s", len, n, hlz_status_name(st));
    }
    free(a);
}

/* Two equal-sized chunks swapped: each is intact, but in the wrong place. */
static void swapped_chunks_are_detected(void)
{
    unsigned char raw[2048];
    memset(raw, 'a', 1024);
    memset(raw + 1024, 'b', 1024);
    hlz_options o = opts(HLZ_CODEC_ZSTD, 1024, 1);
    unsigned char *a;
    size_t n = 0;
    CHECK(compress_buffer(raw, sizeof raw, &o, &a, &n) == HLZ_OK);
    size_t first = 44, rec = 32 + (size_t)(a[first + 12] | a[first + 13] << 8);
    CHECK(a[first + rec] == 'C');
    size_t rec2 = 32 + (size_t)(a[first + rec + 12] | a[first + rec + 13] << 8);
    CHECK(rec == rec2);
    unsigned char tmp[1100];
    memcpy(tmp, a + first, rec);
    memcpy(a + first, a + first + rec, rec);
    memcpy(a + first + rec, tmp, rec);
    CHECK(decode_mem(a, n) == HLZ_ERR_CHECKSUM);
    free(a);
}

static void bench_files_round_trip(void)
{
    const char *dir = test_bench_dir();
    if (!dir) SKIP("../shared/bench is absent");
    const char *subdirs[] = {"canterbury", "snappy", "enwik"};
    int files = 0;
    for (int s = 0; s < 3; s++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, subdirs[s]);
        DIR *d = opendir(path);
        if (!d) continue;
        struct dirent *ent;
        while ((ent = readdir(d)) != NULL) {
            if (ent->d_name[0] == '.') continue;
            char file[8192];
            snprintf(file, sizeof file, "%s/%s", path, ent->d_name);
            FILE *f = fopen(file, "rb");
            if (!f) continue;
            size_t n = 0;
            unsigned char *data = file_contents(f, &n);
            fclose(f);
            hlz_options o = opts(HLZ_CODEC_AUTO, HLZ_CHUNK_SIZE_DEFAULT, 2);
            o.level = quick() ? 3 : HLZ_LEVEL_DEFAULT;
            const char *why = "";
            int rc = round_trip(data, n, &o, &why);
            free(data);
            CHECK_MSG(rc == 0, "%s: %s", file, why);
            files++;
        }
        closedir(d);
    }
    CHECK_MSG(files >= 15, "only %d bench files found", files);
}

static void bad_options(void)
{
    hlz_options o = opts(HLZ_CODEC_AUTO, 100, 1);
    hlz_error e;
    FILE *in = file_from("x", 1), *out = tmpfile();
    CHECK(hlz_compress_file(in, out, &o, NULL, &e) == HLZ_ERR_PARAM && strstr(e.message, "chunk size"));
    o = opts(HLZ_CODEC_LLM, 4096, 1); /* no model */
    CHECK(hlz_compress_file(in, out, &o, NULL, &e) == HLZ_ERR_PARAM && strstr(e.message, "model"));
    o = opts(HLZ_CODEC_ROBUST, 4096, 1); /* no model */
    CHECK(hlz_compress_file(in, out, &o, NULL, &e) == HLZ_ERR_PARAM && strstr(e.message, "model"));
    o = opts((hlz_codec_id)HLZ_CODEC_COUNT, 4096, 1); /* no such codec */
    CHECK(hlz_compress_file(in, out, &o, NULL, &e) == HLZ_ERR_UNSUPPORTED);
    o = opts(HLZ_CODEC_AUTO, 4096, 0);
    CHECK(hlz_compress_file(in, out, &o, NULL, &e) == HLZ_ERR_PARAM);
    fclose(in);
    fclose(out);
}

int main(void)
{
    RUN(edge_cases);
    RUN(golden_store_archive);
    RUN(same_bytes_for_any_thread_count);
    RUN(concatenated_archives);
    RUN(random_access);
    RUN(every_byte_change_is_an_error);
    RUN(random_access_under_corruption);
    RUN(every_truncation_is_an_error);
    RUN(swapped_chunks_are_detected);
    RUN(bad_options);
    RUN(bench_files_round_trip);
    RUN(large_input);
    TEST_MAIN_END();
}
