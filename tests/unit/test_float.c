/* test_float.c - the float codec: exact round trips of every segment kind,
 * damaged payloads, the upcast-bf16 case, the AVX2 coder against the plain
 * C one, the tensor map of GGUF and safetensors headers (hostile ones
 * included), the Q4_K/Q6_K quantizers against ggml's dequantization
 * formulas, and real weights (stories260K from ../shared, skipped when
 * absent) against zstd -19. */
#include "codec_float.h"
#include "gguf.h"
#include "kernels.h"
#include "rans16.h"
#include "test.h"

#include <math.h>
#include <zstd.h>

#define STORIES "../shared/models/stories260K/stories260K.bin"

/* Weight-like values: a sum of uniforms (roughly normal), scaled small. */
static float weight(unsigned long long *st)
{
    double s = 0;
    for (int i = 0; i < 4; i++) s += (double)(test_rand(st) >> 11) / 9007199254740992.0 - 0.5;
    return (float)(s * 0.05);
}

static uint32_t f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }

static void fill_bf16(uint8_t *p, size_t n, unsigned long long seed)
{
    for (size_t i = 0; i < n; i++) {
        uint32_t u = f32_bits(weight(&seed));
        uint16_t b = (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
        p[2 * i] = (uint8_t)b, p[2 * i + 1] = (uint8_t)(b >> 8);
    }
}

static size_t roundtrip(const hlz_segment *segs, size_t nseg, const uint8_t *src, size_t size, uint8_t *coded,
                        uint8_t *back)
{
    size_t n = 0;
    hlz_error e;
    if (hlz_float_encode(segs, nseg, 9, src, size, coded, size, &n, &e) != HLZ_OK) return 0;
    memset(back, 0xee, size);
    if (hlz_float_decode(coded, n, back, size, &e) != HLZ_OK) return 0;
    return memcmp(src, back, size) == 0 ? n : 0;
}

static void every_kind(void)
{
    enum { N = 210 * 144 * 4 };
    static uint8_t src[N + 7], coded[N + 7], back[N + 7];
    fill_bf16(src, sizeof src / 2, 7);
    for (unsigned kind = 0; kind < HLZ_SEG_KIND_COUNT; kind++) {
        if (kind == HLZ_SEG_W16J) continue; /* below, with room to expand */
        uint32_t w = hlz_segment_width(kind);
        hlz_segment segs[3] = {{HLZ_SEG_BYTES, 3}, {(uint8_t)kind, (N / w) * w}, {HLZ_SEG_BYTES, 0}};
        segs[2].size = sizeof src - 3 - segs[1].size;
        size_t n = roundtrip(segs, 3, src, sizeof src, coded, back);
        CHECK_MSG(n > 0, "kind %u", kind);
    }
    /* The joint layout forced onto bf16 values a byte off (near-random to it) still round-trips. */
    {
        static uint8_t big[2 * (N + 7)];
        hlz_segment segs[3] = {{HLZ_SEG_BYTES, 3}, {HLZ_SEG_W16J, N}, {HLZ_SEG_BYTES, 4}};
        size_t n = 0;
        hlz_error e;
        CHECK(hlz_float_encode(segs, 3, 9, src, sizeof src, big, sizeof big, &n, &e) == HLZ_OK && big[7] == HLZ_SEG_W16J); /* after the count and 3 raw bytes */
        CHECK(hlz_float_decode(big, n, back, sizeof src, &e) == HLZ_OK && memcmp(back, src, sizeof src) == 0);
    }
    /* bf16 split at the right alignment beats the raw size clearly. */
    hlz_segment one = {HLZ_SEG_W16, N};
    size_t n = roundtrip(&one, 1, src, N, coded, back);
    CHECK(n > 0 && n < N * 80 / 100);
    CHECK(hlz_segment_width(HLZ_SEG_KIND_COUNT) == 0);
}

static void constant_and_random(void)
{
    static uint8_t src[65536], coded[65536], back[65536];
    hlz_segment seg = {HLZ_SEG_W32, sizeof src};
    memset(src, 0, sizeof src);
    size_t n = roundtrip(&seg, 1, src, sizeof src, coded, back);
    CHECK(n > 0 && n < 64);
    test_fill_random(src, sizeof src, 3);
    hlz_error e;
    CHECK(hlz_float_encode(&seg, 1, 9, src, sizeof src, coded, sizeof src - 1, &n, &e) == HLZ_ERR_CODEC);
    hlz_segment two[2] = {{HLZ_SEG_W16, 1000}, {HLZ_SEG_BYTES, 100}};
    CHECK(hlz_float_encode(two, 2, 9, src, sizeof src, coded, sizeof src, &n, &e) == HLZ_ERR_PARAM);
    two[0].size = 1001;
    CHECK(hlz_float_encode(two, 1, 9, src, 1001, coded, sizeof src, &n, &e) == HLZ_ERR_PARAM);
}

/* fp32 that is upcast bf16: the zero low halves cost next to nothing. */
static void upcast_bf16(void)
{
    enum { N = 32768 };
    static uint8_t bf[2 * N], f32[4 * N], coded[4 * N], back[4 * N];
    fill_bf16(bf, N, 11);
    memset(f32, 0, sizeof f32);
    for (size_t i = 0; i < N; i++) memcpy(f32 + 4 * i + 2, bf + 2 * i, 2);
    hlz_segment s16 = {HLZ_SEG_W16, sizeof bf}, s32 = {HLZ_SEG_W32, sizeof f32};
    size_t n16 = roundtrip(&s16, 1, bf, sizeof bf, coded, back);
    size_t n32 = roundtrip(&s32, 1, f32, sizeof f32, coded, back);
    /* fp32 keeps the split layout, bf16 may take the joint one (kind 6): within 2% */
    CHECK_MSG(n16 > 0 && n32 > 0 && n32 < n16 + n16 / 50 + 64, "bf16 %zu, fp32 %zu", n16, n32);
}

/* Every truncation fails; every single damaged byte fails or decodes without harm. */
static void damaged(void)
{
    enum { N = 4096 };
    static uint8_t src[N], coded[N], back[N], bad[N];
    fill_bf16(src, N / 2, 5);
    hlz_segment segs[2] = {{HLZ_SEG_BYTES, 100}, {HLZ_SEG_W16, N - 100}};
    memset(src, 'x', 100);
    size_t n = roundtrip(segs, 2, src, N, coded, back);
    CHECK(n > 0);
    hlz_error e;
    for (size_t cut = 0; cut < n; cut++) CHECK_MSG(hlz_float_decode(coded, cut, back, N, &e) == HLZ_ERR_CORRUPT, "cut %zu", cut);
    CHECK(hlz_float_decode(coded, n, back, N - 1, &e) == HLZ_ERR_CORRUPT);
    /* A table block size B near 2^64 (ceil(m / B) must not wrap to 0), at the end of the payload. */
    static const uint8_t huge_b[] = {1, HLZ_SEG_W16, 64, 2, 2, 0xe0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01};
    CHECK(hlz_float_decode(huge_b, sizeof huge_b, back, 64, &e) == HLZ_ERR_CORRUPT);
    /* A table that goes on after symbol 255 (the fuzzer found the decoder writing past its table). */
    static const uint8_t past_255[] = {1, HLZ_SEG_W16, 64, 2, 1, 2, 0x80 | 127, 1, 0xa0, 0x1f, 0, 96};
    CHECK(hlz_float_decode(past_255, sizeof past_255, back, 64, &e) == HLZ_ERR_CORRUPT);
    for (size_t i = 0; i < n; i++) {
        memcpy(bad, coded, n);
        bad[i] ^= (uint8_t)(1u << (i % 8));
        hlz_status st = hlz_float_decode(bad, n, back, N, &e);
        CHECK_MSG(st == HLZ_OK || st == HLZ_ERR_CORRUPT, "byte %zu: %d", i, (int)st);
    }
}

/* Random bodies behind plausible segment headers: errors, never a crash (ASan runs this). */
static void hostile(void)
{
    static uint8_t buf[2048], back[4096];
    unsigned long long st = 99;
    hlz_error e;
    for (int round = 0; round < 3000; round++) {
        test_fill_random(buf, sizeof buf, (unsigned long long)round + 1);
        unsigned kind = 1 + (unsigned)(test_rand(&st) % (HLZ_SEG_KIND_COUNT - 1));
        uint32_t w = hlz_segment_width(kind);
        size_t raw = (size_t)w * (1 + test_rand(&st) % (sizeof back / w));
        buf[0] = 1, buf[1] = (uint8_t)kind;
        buf[2] = (uint8_t)(raw | 0x80), buf[3] = (uint8_t)(raw >> 7);
        buf[4] = (uint8_t)(test_rand(&st) % 4);      /* a plane mode (3 is unknown) */
        if (buf[4] == 2) buf[5] = (uint8_t)(1 + test_rand(&st) % 16); /* tables */
        size_t n = 6 + (size_t)(test_rand(&st) % (sizeof buf - 6));
        hlz_status r = hlz_float_decode(buf, n, back, raw, &e);
        CHECK_MSG(r == HLZ_OK || r == HLZ_ERR_CORRUPT, "round %d: %d", round, (int)r);
    }
}

/* The payload of a fixed input is pinned: a change here changes the format. */
static void golden_payload(void)
{
    enum { N = 8192 };
    static uint8_t src[N], coded[N], back[N];
    fill_bf16(src, N / 2, 1);
    hlz_segment seg = {HLZ_SEG_W16, N};
    size_t n = roundtrip(&seg, 1, src, N, coded, back);
    CHECK(n > 0);
    unsigned long long h = (unsigned long long)hlz_checksum64(coded, n, 0);
    if (getenv("HLZ_PRINT_GOLDEN")) printf("# golden_payload %016llx %zu\n", h, n);
    CHECK_MSG(h == 0x6a9604e0fb003083ull || getenv("HLZ_PRINT_GOLDEN"), "payload hash %016llx, %zu bytes", h, n);
    CHECK(coded[1] == HLZ_SEG_W16J); /* the joint layout */
    /* Payloads of this input kept in tests/golden decode to it forever: the
     * split layout (kind 1, by hlz before kind 6; hash 68cc571417bb5bea)
     * and the joint layout. */
    static const char *const kept[] = {"tests/golden/float-w16-split.payload", "tests/golden/float-w16-joint.payload"};
    for (int k = 0; k < 2; k++) {
        size_t size;
        uint8_t *p = test_read_file(kept[k], &size);
        hlz_error e;
        CHECK_MSG(p && size > 2 && p[1] == (k ? HLZ_SEG_W16J : HLZ_SEG_W16), "%s", kept[k]);
        if (!p) continue;
        memset(back, 0, sizeof back);
        CHECK_MSG(hlz_float_decode(p, size, back, N, &e) == HLZ_OK && memcmp(back, src, N) == 0, "%s", kept[k]);
        free(p);
    }
}

/* The joint layout (kind 6) on weight-like bf16 with zeros, values outside
 * the window (escapes) and a tail that is not a whole group of 64: the
 * encoder picks it, it round-trips at every plane mode, and damage is
 * caught. */
static void joint_layout(void)
{
    enum { N = 2 * 40000 + 2 * 37 };
    static uint8_t src[N], coded[2 * N], back[N];
    fill_bf16(src, N / 2, 21);
    for (size_t i = 0; i < N / 2; i += 97) src[2 * i] = 0, src[2 * i + 1] = (uint8_t)(i % 2 ? 0x80 : 0); /* +-0 */
    for (size_t i = 50; i < N / 2; i += 1001) src[2 * i + 1] = (uint8_t)(i % 2 ? 0x7f : 0x01); /* huge, tiny: escapes */
    hlz_segment seg = {HLZ_SEG_W16, N};
    size_t n = roundtrip(&seg, 1, src, N, coded, back);
    CHECK_MSG(n > 0 && n < N * 80 / 100 && coded[1] == HLZ_SEG_W16J, "%zu bytes, kind %u", n, coded[1]);
    hlz_error e;
    for (size_t cut = 0; cut < n; cut += 1 + cut / 16)
        CHECK_MSG(hlz_float_decode(coded, cut, back, N, &e) == HLZ_ERR_CORRUPT, "cut %zu", cut);
    static uint8_t bad[2 * N];
    for (size_t i = 0; i < n; i += 1 + i / 64) {
        memcpy(bad, coded, n);
        bad[i] ^= (uint8_t)(1u << (i % 8));
        hlz_status st = hlz_float_decode(bad, n, back, N, &e);
        CHECK_MSG(st == HLZ_OK || st == HLZ_ERR_CORRUPT, "byte %zu: %d", i, (int)st);
    }
    /* A constant exponent (one symbol: mode 1) and near-random values (mode 0), forced. */
    for (int c = 0; c < 2; c++) {
        static uint8_t raw[8192], out[2 * 8192 + 64], got[8192];
        test_fill_random(raw, sizeof raw, 4);
        if (c == 0) for (size_t i = 0; i < sizeof raw; i += 2) raw[i] &= 0x1f, raw[i + 1] = 0x3f | (raw[i + 1] & 0x80);
        hlz_segment f = {HLZ_SEG_W16J, sizeof raw};
        size_t m = 0;
        CHECK(hlz_float_encode(&f, 1, 9, raw, sizeof raw, out, sizeof out, &m, &e) == HLZ_OK);
        CHECK_MSG(hlz_float_decode(out, m, got, sizeof raw, &e) == HLZ_OK && memcmp(got, raw, sizeof raw) == 0, "case %d", c);
    }
}

static void put_le64(uint8_t *p, uint64_t v) { for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i)); }

static void safetensors_map(void)
{
    static uint8_t file[8 + 256 + 4096];
    const char *json = "{\"__metadata__\":{\"format\":\"pt\"},\"a\":{\"dtype\":\"BF16\",\"shape\":[1024],"
                       "\"data_offsets\":[0,2048]},\"b\":{\"dtype\":\"F32\",\"shape\":[512],\"data_offsets\":[2048,4096]}}";
    size_t j = strlen(json);
    CHECK(j <= 256);
    memset(file, ' ', sizeof file);
    put_le64(file, 256);
    memcpy(file + 8, json, j);
    fill_bf16(file + 264, 2048, 9);
    hlz_tensor_map map;
    hlz_tensor_map_build(file, sizeof file, &map);
    CHECK(map.count == 2 && map.ranges[0].offset == 264 && map.ranges[0].kind == HLZ_SEG_W16 &&
          map.ranges[1].offset == 264 + 2048 && map.ranges[1].size == 2048 && map.ranges[1].kind == HLZ_SEG_W32);
    hlz_segment segs[HLZ_SEGMENTS_MAX];
    unsigned percent;
    size_t k = hlz_float_plan(&map, 0, file, sizeof file, segs, &percent);
    CHECK(k == 3 && segs[0].kind == HLZ_SEG_BYTES && segs[0].size == 264 && segs[1].kind == HLZ_SEG_W16 &&
          segs[2].kind == HLZ_SEG_W32 && percent == 0);
    /* A chunk that starts inside tensor a: its first byte is half a value. */
    k = hlz_float_plan(&map, 265, file + 265, 1000, segs, &percent);
    CHECK(k == 3 && segs[0].kind == HLZ_SEG_BYTES && segs[0].size == 1 && segs[1].size == 998);
    hlz_tensor_map_free(&map);
    /* Hostile headers leave the map empty. */
    const char *bad[] = {"{\"a\":{\"dtype\":\"BF16\",\"data_offsets\":[10,2]}}", "{\"a\":[1,2]}", "{\"a\":{\"dtype\":7,",
                         "{\"a\":{\"dtype\":\"F16\",\"data_offsets\":[-4,2]}}", "[]"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        memset(file, ' ', sizeof file);
        put_le64(file, strlen(bad[i]));
        memcpy(file + 8, bad[i], strlen(bad[i]));
        hlz_tensor_map_build(file, sizeof file, &map);
        CHECK_MSG(map.count == 0 && map.ranges == NULL, "case %zu", i);
    }
    put_le64(file, (uint64_t)1 << 40);
    hlz_tensor_map_build(file, sizeof file, &map);
    CHECK(map.count == 0);
}

static int count_float(void *user, const hlz_chunk_info *c)
{
    *(unsigned *)user += c->codec == HLZ_CODEC_FLOAT;
    return 0;
}

/* Compresses `data` with the library (auto codec) and decodes it back. */
static int archive_roundtrip(const uint8_t *data, size_t size, uint32_t chunk, size_t *archive, unsigned *float_chunks)
{
    FILE *in = fmemopen((void *)data, size, "rb"), *out = tmpfile(), *back = tmpfile();
    if (!in || !out || !back) return 0;
    hlz_options o;
    hlz_options_default(&o);
    o.chunk_size = chunk;
    o.level = 3;
    hlz_stats s;
    hlz_error e;
    int ok = hlz_compress_file(in, out, &o, &s, &e) == HLZ_OK;
    *archive = (size_t)s.archive_bytes;
    rewind(out);
    ok = ok && hlz_decompress_file(out, back, &o, NULL, &e) == HLZ_OK;
    size_t n = 0;
    uint8_t *got = malloc(size + 1);
    rewind(back);
    if (ok && got) n = fread(got, 1, size + 1, back);
    ok = ok && got && n == size && memcmp(got, data, size) == 0;
    /* Count float chunks from the records. */
    *float_chunks = 0;
    rewind(out);
    hlz_list_callbacks cb = {NULL, count_float, float_chunks};
    ok = ok && hlz_list_file(out, &cb, NULL, &e) == HLZ_OK;
    free(got);
    fclose(in), fclose(out), fclose(back);
    return ok;
}

static void gguf_file(void)
{
    size_t size;
    uint8_t *g = test_read_file("models/stand-in/stand-in.gguf", &size);
    if (!g) SKIP("models/stand-in/stand-in.gguf not found (run from the repository root)");
    hlz_tensor_map map;
    hlz_tensor_map_build(g, size < 1048576 ? size : 1048576, &map);
    int has_q8 = 0;
    for (size_t i = 0; i < map.count; i++) has_q8 |= map.ranges[i].kind == HLZ_SEG_Q8_0;
    size_t count = map.count;
    hlz_tensor_map_free(&map);
    /* The header does not fit in 1 KiB: no map, never a crash. */
    hlz_tensor_map_build(g, 1024, &map);
    size_t small = map.count;
    size_t archive = 0;
    unsigned floats = 0;
    int ok = archive_roundtrip(g, size, 1 << 18, &archive, &floats);
    free(g);
    CHECK(count > 10 && has_q8 && small == 0);
    CHECK(ok);
}

/* The AVX2 encoder writes the same words and states as the plain C one, and
 * both decoders read them back, for skewed, flat and one-sided tables, with
 * table switching and lengths that are not whole rounds. */
static void rans_simd(void)
{
    enum { N = 3 * 4096 + 77 };
    static uint8_t sym[N], back[N], sel[4];
    static uint16_t w1[N + HLZ_RANS_SLACK], w2[N + HLZ_RANS_SLACK];
    static hlz_rans_sym syms[3 * 256];
    static uint32_t slots[3 * HLZ_RANS_TOTAL];
    uint32_t freq[3][256];
    memset(freq, 0, sizeof freq);
    for (int s = 0; s < 256; s++) freq[0][s] = 16;                       /* flat */
    freq[1][7] = 4000, freq[1][8] = 1, freq[1][200] = 95;                 /* skewed, a frequency of 1 */
    freq[2][255] = 4095, freq[2][0] = 1;                                  /* nearly one symbol */
    unsigned long long st = 5;
    for (int case_ = 0; case_ < 2; case_++) {
        for (int t = 0; t < 3; t++) {
            hlz_rans_enc_table(freq[t], syms + 256 * t);
            hlz_rans_dec_table(freq[t], slots + t * HLZ_RANS_TOTAL);
        }
        for (int b = 0; b < 4; b++) sel[b] = (uint8_t)(case_ ? (b * 2 + 1) % 3 : 0);
        for (size_t i = 0; i < N; i++) { /* draw from the block's table */
            const uint32_t *f = freq[sel[i / 4096]];
            uint32_t r = (uint32_t)(test_rand(&st) % HLZ_RANS_TOTAL), s = 0;
            while (r >= f[s]) r -= f[s], s++;
            sym[i] = (uint8_t)s;
        }
        uint32_t x1[HLZ_RANS_LANES], x2[HLZ_RANS_LANES];
        size_t n1, n2;
        const uint16_t *p1 = hlz_rans_encode_ref(sym, N, syms, sel, 4096, w1, &n1, x1);
        const uint16_t *p2 = hlz_rans_encode_avx2(sym, N, syms, sel, 4096, w2, &n2, x2);
        CHECK_MSG(n1 == n2 && memcmp(p1, p2, 2 * n1) == 0 && memcmp(x1, x2, sizeof x1) == 0, "case %d", case_);
        for (int v = 0; v < 2; v++) {
            hlz_rans_dec d;
            memcpy(d.x, x1, sizeof x1);
            d.p = (const uint8_t *)p1, d.end = (const uint8_t *)(p1 + n1);
            bool ok = true;
            memset(back, 0, sizeof back);
            for (size_t at = 0; at < N && ok; at += 4096) {
                size_t len = N - at < 4096 ? N - at : 4096;
                const uint32_t *t = slots + sel[at / 4096] * HLZ_RANS_TOTAL;
                ok = v ? hlz_rans_decode_avx2(&d, t, back + at, len) : hlz_rans_decode_ref(&d, t, back + at, len);
            }
            int final = 1;
            for (int l = 0; l < HLZ_RANS_LANES; l++) final &= d.x[l] == HLZ_RANS_L;
            CHECK_MSG(ok && final && d.p == d.end && memcmp(back, sym, N) == 0, "case %d decoder %d", case_, v);
        }
    }
    /* The bf16 split and merge, both ways. */
    static uint8_t vals[2 * N], e1[N], r1[N], e2[N], r2[N], m1[2 * N], m2[2 * N];
    static uint32_t h1[4][256], h2[4][256];
    test_fill_random(vals, sizeof vals, 17);
    hlz_split16_ref(vals, N, e1, r1, h1);
    hlz_split16_avx2(vals, N, e2, r2, h2);
    CHECK(memcmp(e1, e2, N) == 0 && memcmp(r1, r2, N) == 0 && memcmp(h1, h2, sizeof h1) == 0);
    hlz_merge16_ref(e1, r1, m1, N);
    hlz_merge16_avx2(e1, r1, m2, N);
    CHECK(memcmp(m1, vals, sizeof vals) == 0 && memcmp(m2, vals, sizeof vals) == 0);
    uint32_t total = 0;
    for (int b = 0; b < 4; b++) for (int s = 0; s < 256; s++) total += h1[b][s];
    CHECK(total == N);
    /* Counts in blocks of 1024 (four at a time) against a plain count. */
    static uint32_t hb[13][256], hc[13][256];
    memset(hb, 0, sizeof hb), memset(hc, 0, sizeof hc);
    hlz_count_blocks_of(e1, N, 1024, hb);
    for (size_t i = 0; i < N; i++) hc[i / 1024][e1[i]]++;
    CHECK(memcmp(hb, hc, sizeof hb) == 0);
    /* The joint split and merge (kind 6), both ways, for bases at the ends
     * of their range and lengths that are not whole groups of 64. */
    static uint8_t s1[N], s2[N], l1[N], l2[N];
    static const unsigned bases[] = {1, 200, 480, HLZ_J_BASE_MAX};
    for (int k = 0; k < 4; k++) {
        size_t n = N - (size_t)k * 17;
        memset(l1, 0, sizeof l1), memset(l2, 0, sizeof l2);
        hlz_split16j_ref(vals, n, bases[k], s1, l1);
        hlz_split16j_avx2(vals, n, bases[k], s2, l2);
        CHECK_MSG(memcmp(s1, s2, n) == 0 && memcmp(l1, l2, hlz_j_low_size(n)) == 0, "split base %u", bases[k]);
        hlz_merge16j_ref(s1, l1, bases[k], m1, n);
        hlz_merge16j_avx2(s1, l1, bases[k], m2, n);
        CHECK_MSG(memcmp(m1, m2, 2 * n) == 0, "merge base %u", bases[k]);
        size_t wrong = 0, esc = 0;
        for (size_t i = 0; i < n; i++) {
            unsigned v = hlz_le16(vals + 2 * i), h = (v >> 5) & 1023, got = hlz_le16(m1 + 2 * i);
            esc += s1[i] == HLZ_J_ESCAPE;
            wrong += s1[i] == HLZ_J_ESCAPE ? (got & 0x801f) != (v & 0x801f) : got != v;
            wrong += s1[i] != (h == 0 ? 0 : h - bases[k] < 254 ? h - bases[k] + 1 : HLZ_J_ESCAPE);
        }
        CHECK_MSG(wrong == 0 && esc > 0 && esc < n, "base %u: %zu wrong, %zu escapes", bases[k], wrong, esc);
    }
    /* The planner's block costs. */
    static uint16_t cost[256][HLZ_PLAN_TABLES];
    uint32_t hist[256], c1[HLZ_PLAN_TABLES], c2[HLZ_PLAN_TABLES];
    uint8_t present[256];
    for (int s = 0; s < 256; s++) {
        hist[s] = (uint32_t)(test_rand(&st) % 300);
        present[s] = (uint8_t)(255 - s);
        for (int t = 0; t < HLZ_PLAN_TABLES; t++) cost[s][t] = (uint16_t)(test_rand(&st) % 32768);
    }
    for (int np = 0; np <= 256; np += 51) {
        hlz_block_costs_ref(hist, present, np, (const uint16_t (*)[HLZ_PLAN_TABLES])cost, c1);
        hlz_block_costs_avx2(hist, present, np, (const uint16_t (*)[HLZ_PLAN_TABLES])cost, c2);
        CHECK_MSG(memcmp(c1, c2, sizeof c1) == 0, "%d present", np);
    }
}

/* ggml's formulas, written out here from the block layouts (ggml-common.h). */
static float ref_f16(const uint8_t *p) { return hlz_f16_to_f32((uint16_t)(p[0] | p[1] << 8)); }

static void ref_q4_k(const uint8_t *b, float *y)
{
    float d = ref_f16(b), dmin = ref_f16(b + 2);
    const uint8_t *sc = b + 4, *q = b + 16;
    for (int j = 0; j < 8; j++) {
        int s, m;
        if (j < 4) s = sc[j] & 63, m = sc[j + 4] & 63;
        else s = (sc[j + 4] & 0xf) | ((sc[j - 4] >> 6) << 4), m = (sc[j + 4] >> 4) | ((sc[j] >> 6) << 4);
        float d1 = d * (float)s, m1 = dmin * (float)m;
        for (int l = 0; l < 32; l++) {
            int v = j % 2 == 0 ? q[32 * (j / 2) + l] & 0xf : q[32 * (j / 2) + l] >> 4;
            y[32 * j + l] = d1 * (float)v - m1;
        }
    }
}

static void ref_q6_k(const uint8_t *b, float *y)
{
    float d = ref_f16(b + 208);
    const int8_t *sc = (const int8_t *)(b + 192);
    for (int i = 0; i < 256; i++) {
        int half = i / 128, k = (i % 128) / 32, l = i % 32;
        uint8_t lo = b[64 * half + l + 32 * (k & 1)];
        int q = ((k < 2 ? lo & 0xf : lo >> 4) | (((b[128 + 32 * half + l] >> (2 * k)) & 3) << 4)) - 32;
        y[i] = d * (float)sc[8 * half + l / 16 + 2 * k] * (float)q;
    }
}

/* The converter's quantizers: blocks that dequantize by ggml's formulas
 * exactly as hlz's reader does, close to their input; a GGUF of them round
 * trips through hlz with float chunks. */
static void quantizers(void)
{
    enum { N = 4096 };
    static float x[N], y1[N], y2[N];
    static uint8_t q4[N / 256 * 144], q6[N / 256 * 210];
    unsigned long long st = 21;
    double sum2 = 0;
    for (int i = 0; i < N; i++) x[i] = weight(&st) * (i < 1024 ? 1.0f : 4.0f), sum2 += (double)x[i] * x[i];
    hlz_error e;
    CHECK(hlz_ggml_quantize_row(HLZ_GGML_Q4_K, x, q4, N, &e) == HLZ_OK);
    CHECK(hlz_ggml_quantize_row(HLZ_GGML_Q6_K, x, q6, N, &e) == HLZ_OK);
    CHECK(hlz_ggml_quantize_row(HLZ_GGML_Q4_K, x, q4, N - 32, &e) == HLZ_ERR_PARAM);
    CHECK(hlz_ggml_quantize_row(13 /* Q5_K */, x, q4, N, &e) == HLZ_ERR_UNSUPPORTED);
    const struct { uint32_t type; const uint8_t *q; size_t bs; void (*ref)(const uint8_t *, float *); double tol; } k[2] = {
        {HLZ_GGML_Q4_K, q4, 144, ref_q4_k, 0.12}, {HLZ_GGML_Q6_K, q6, 210, ref_q6_k, 0.03}};
    for (int t = 0; t < 2; t++) {
        CHECK(hlz_ggml_dequantize_row(k[t].type, k[t].q, y1, N, &e) == HLZ_OK);
        for (int b = 0; b < N / 256; b++) k[t].ref(k[t].q + b * k[t].bs, y2 + 256 * b);
        double err = 0;
        for (int i = 0; i < N; i++) err += ((double)y1[i] - x[i]) * ((double)y1[i] - x[i]);
        CHECK_MSG(memcmp(y1, y2, sizeof y1) == 0, "type %u: reader and formula differ", k[t].type);
        CHECK_MSG(err < k[t].tol * k[t].tol * sum2, "type %u: relative rms error %.4f", k[t].type, sqrt(err / sum2));
    }
    /* A GGUF of both through the archive (auto codec). */
    hlz_gguf_writer w;
    CHECK(hlz_gguf_writer_init(&w, 0, &e) == HLZ_OK);
    hlz_gguf_add_string(&w, "general.architecture", "test", 4);
    uint64_t dims[2] = {256, N / 256};
    hlz_gguf_add_tensor(&w, "a", HLZ_GGML_Q4_K, 2, dims, q4);
    hlz_gguf_add_tensor(&w, "b", HLZ_GGML_Q6_K, 2, dims, q6);
    uint8_t *file = NULL;
    size_t size = 0, archive = 0;
    unsigned floats = 0;
    CHECK(hlz_gguf_writer_to_memory(&w, &file, &size, &e) == HLZ_OK);
    hlz_gguf_writer_free(&w);
    int ok = file && archive_roundtrip(file, size, 1 << 16, &archive, &floats);
    free(file);
    CHECK_MSG(ok && floats > 0, "round trip %d, %u float chunks, %zu -> %zu", ok, floats, size, archive);
}

static void stories260k(void)
{
    size_t size;
    uint8_t *raw = test_read_file(STORIES, &size);
    if (!raw) SKIP(STORIES " not found");
    /* The llama2.c checkpoint: 7 int32 of config, then fp32 weights. Derived bf16 (round to nearest even). */
    size_t n = (size - 28) / 4;
    uint8_t *bf = malloc(2 * n), *coded = malloc(2 * n), *back = malloc(2 * n), *z = malloc(ZSTD_compressBound(2 * n));
    CHECK(bf && coded && back && z);
    for (size_t i = 0; i < n; i++) {
        uint32_t u = hlz_le32(raw + 28 + 4 * i);
        uint16_t b = (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
        bf[2 * i] = (uint8_t)b, bf[2 * i + 1] = (uint8_t)(b >> 8);
    }
    hlz_segment seg = {HLZ_SEG_W16, 2 * n};
    size_t c = roundtrip(&seg, 1, bf, 2 * n, coded, back);
    size_t zs = ZSTD_compress(z, ZSTD_compressBound(2 * n), bf, 2 * n, 19);
    size_t archive = 0;
    unsigned floats = 0;
    int ok = archive_roundtrip(raw, size, 1 << 18, &archive, &floats);
    free(raw), free(bf), free(coded), free(back), free(z);
    CHECK(c > 0 && !ZSTD_isError(zs));
    CHECK_MSG(c * 105 < zs * 100, "float %zu bytes, zstd -19 %zu", c, zs); /* at least 5% smaller */
    CHECK(ok);
    CHECK_MSG(floats > 0, "archive %zu bytes, no float chunk", archive);
}

int main(void)
{
    RUN(every_kind);
    RUN(constant_and_random);
    RUN(upcast_bf16);
    RUN(damaged);
    RUN(hostile);
    RUN(golden_payload);
    RUN(joint_layout);
    RUN(safetensors_map);
    RUN(gguf_file);
    RUN(rans_simd);
    RUN(quantizers);
    RUN(stories260k);
    TEST_MAIN_END();
}
