/* test_gguf.c - the GGUF reader and writer, ggml types and dequantization. */
#include "gguf.h"
#include "test.h"

#include <stdint.h>
#include <unistd.h>

/* ---- helpers -------------------------------------------------------------- */

static hlz_error last; /* the error of the latest open_fails */

/* Opens `size` bytes that must fail with `status` (HLZ_OK: any failure) and a
 * message containing `needle` (NULL: any). */
static int open_fails(const void *data, size_t size, hlz_status status, const char *needle)
{
    hlz_gguf g;
    memset(&last, 0, sizeof last);
    if (hlz_gguf_open_memory(&g, data, size, &last) == HLZ_OK) {
        hlz_gguf_close(&g);
        snprintf(last.message, sizeof last.message, "(opened without error)");
        return 0;
    }
    return (status == HLZ_OK || last.status == status) && (needle == NULL || strstr(last.message, needle));
}

#define CHECK_FAILS(data_, size_, status_, needle_)                                              \
    CHECK_MSG(open_fails(data_, size_, status_, needle_), "got %s: %s", hlz_status_name(last.status), \
              last.message)

/* Hand-made files, for what the writer refuses to produce. */
typedef struct {
    uint8_t b[8192];
    size_t n;
} raw;

static void put_u32(raw *r, uint32_t v) { hlz_put32(r->b + r->n, v); r->n += 4; }
static void put_u64(raw *r, uint64_t v) { hlz_put64(r->b + r->n, v); r->n += 8; }
static void put_bytes(raw *r, const void *p, size_t n) { memcpy(r->b + r->n, p, n); r->n += n; }
static void put_str(raw *r, const char *s) { put_u64(r, strlen(s)); put_bytes(r, s, strlen(s)); }
static void put_zeros(raw *r, size_t n) { memset(r->b + r->n, 0, n); r->n += n; }
static void pad32(raw *r) { put_zeros(r, (32 - r->n % 32) % 32); }

static void put_header(raw *r, uint32_t version, uint64_t tensors, uint64_t kvs)
{
    r->n = 0;
    put_bytes(r, "GGUF", 4);
    put_u32(r, version);
    put_u64(r, tensors);
    put_u64(r, kvs);
}

static void put_tensor(raw *r, const char *name, uint32_t n_dims, const uint64_t *dims, uint32_t type,
                       uint64_t offset)
{
    put_str(r, name);
    put_u32(r, n_dims);
    for (uint32_t i = 0; i < n_dims; i++) put_u64(r, dims[i]);
    put_u32(r, type);
    put_u64(r, offset);
}

/* One F32 tensor of `n` values named `name` at `offset`, then `data_bytes` of data. */
static void raw_f32_file(raw *r, const char *name, uint64_t n, uint64_t offset, size_t data_bytes)
{
    put_header(r, 3, 1, 0);
    put_tensor(r, name, 1, &n, HLZ_GGML_F32, offset);
    pad32(r);
    put_zeros(r, data_bytes);
}

/* Sample content: every metadata type and every tensor type. */
static const char str_value[] = "hello\0w\xc3\xb6rld\xff"; /* NUL and non-ASCII bytes survive */
static const uint8_t a_u8[] = {1, 2, 255};
static const int8_t a_i8[] = {-128, 0, 127};
static const uint16_t a_u16[] = {0, 65535};
static const int16_t a_i16[] = {-32768, 32767};
static const uint32_t a_u32[] = {7, 4000000000u};
static const int32_t a_i32[] = {-1, INT32_MAX, INT32_MIN};
static const uint64_t a_u64[] = {UINT64_MAX, 0};
static const int64_t a_i64[] = {INT64_MIN, 5};
static const float a_f32[] = {0.5f, -1.25f, 3e38f};
static const double a_f64[] = {0.1, -2.5};
static const bool a_bool[] = {true, false, true};
static const char *const a_str[] = {"a", "", "x\0y"};
static const size_t a_str_sizes[] = {1, 0, 3};

typedef struct {
    const char *name;
    uint32_t type, n_dims;
    uint64_t dims[4];
    size_t bytes;
    uint8_t data[600];
} sample_tensor;

static sample_tensor sample_tensors[] = {
    {"token_embd.weight", HLZ_GGML_F32, 2, {8, 3}, 96, {0}},
    {"w.f16", HLZ_GGML_F16, 2, {4, 2}, 16, {0}},
    {"w.bf16", HLZ_GGML_BF16, 1, {6}, 12, {0}},
    {"w.q8_0", HLZ_GGML_Q8_0, 2, {64, 2}, 136, {0}},
    {"w.q4_k", HLZ_GGML_Q4_K, 3, {256, 2, 1}, 288, {0}},
    {"w.q6_k", HLZ_GGML_Q6_K, 4, {256, 1, 1, 1}, 210, {0}},
    {"w.q5_k", 13 /* Q5_K: known, not dequantizable */, 1, {256}, 176, {0}},
};
#define SAMPLE_TENSORS (sizeof sample_tensors / sizeof sample_tensors[0])

/* Builds the sample file into a new buffer; NULL on failure (message in *e). */
static uint8_t *build_sample(uint32_t alignment, size_t *size, hlz_error *e)
{
    hlz_gguf_writer w;
    uint8_t *out = NULL;
    if (hlz_gguf_writer_init(&w, alignment, e) != HLZ_OK) return NULL;
    hlz_gguf_add_string(&w, "general.architecture", "llama", 5);
    hlz_gguf_add_u8(&w, "t.u8", 200);
    hlz_gguf_add_i8(&w, "t.i8", -100);
    hlz_gguf_add_u16(&w, "t.u16", 60000);
    hlz_gguf_add_i16(&w, "t.i16", -30000);
    hlz_gguf_add_u32(&w, "t.u32", 4000000000u);
    hlz_gguf_add_i32(&w, "t.i32", -2000000000);
    hlz_gguf_add_u64(&w, "t.u64", (uint64_t)1 << 40);
    hlz_gguf_add_i64(&w, "t.i64", -5);
    hlz_gguf_add_f32(&w, "t.f32", 1.5f);
    hlz_gguf_add_f64(&w, "t.f64", 0.1);
    hlz_gguf_add_bool(&w, "t.bool", true);
    hlz_gguf_add_bool(&w, "t.false", false);
    hlz_gguf_add_string(&w, "t.str", str_value, sizeof str_value - 1);
    hlz_gguf_add_string(&w, "t.empty", "", 0);
    hlz_gguf_add_array(&w, "a.u8", HLZ_GGUF_UINT8, a_u8, 3);
    hlz_gguf_add_array(&w, "a.i8", HLZ_GGUF_INT8, a_i8, 3);
    hlz_gguf_add_array(&w, "a.u16", HLZ_GGUF_UINT16, a_u16, 2);
    hlz_gguf_add_array(&w, "a.i16", HLZ_GGUF_INT16, a_i16, 2);
    hlz_gguf_add_array(&w, "a.u32", HLZ_GGUF_UINT32, a_u32, 2);
    hlz_gguf_add_array(&w, "a.i32", HLZ_GGUF_INT32, a_i32, 3);
    hlz_gguf_add_array(&w, "a.u64", HLZ_GGUF_UINT64, a_u64, 2);
    hlz_gguf_add_array(&w, "a.i64", HLZ_GGUF_INT64, a_i64, 2);
    hlz_gguf_add_array(&w, "a.f32", HLZ_GGUF_FLOAT32, a_f32, 3);
    hlz_gguf_add_array(&w, "a.f64", HLZ_GGUF_FLOAT64, a_f64, 2);
    hlz_gguf_add_array(&w, "a.bool", HLZ_GGUF_BOOL, a_bool, 3);
    hlz_gguf_add_array(&w, "a.empty", HLZ_GGUF_UINT32, NULL, 0);
    hlz_gguf_add_string_array(&w, "a.str", a_str, a_str_sizes, 3);
    hlz_gguf_add_string_array(&w, "a.nostr", NULL, NULL, 0);
    for (size_t i = 0; i < SAMPLE_TENSORS; i++) {
        sample_tensor *t = &sample_tensors[i];
        test_fill_random(t->data, t->bytes, 1000 + i);
        hlz_gguf_add_tensor(&w, t->name, t->type, t->n_dims, t->dims, t->data);
    }
    hlz_gguf_writer_to_memory(&w, &out, size, e);
    hlz_gguf_writer_free(&w);
    return out;
}

/* ---- round trips ---------------------------------------------------------- */

static void test_metadata_scalars_round_trip(void)
{
    hlz_error e = {0};
    size_t size;
    uint8_t *file = build_sample(0, &size, &e);
    CHECK_MSG(file != NULL, "%s", e.message);
    hlz_gguf g;
    hlz_status st = hlz_gguf_open_memory(&g, file, size, &e);
    CHECK_MSG(st == HLZ_OK, "%s", e.message);
    CHECK(g.version == 3 && g.alignment == 32 && g.kv_count == 29);
    uint32_t u32;
    uint64_t u64;
    int32_t i32;
    float f;
    bool b;
    hlz_gguf_str s;
    CHECK(hlz_gguf_get_u32(&g, "t.u8", &u32, &e) == HLZ_OK && u32 == 200);
    CHECK(hlz_gguf_get_i32(&g, "t.i8", &i32, &e) == HLZ_OK && i32 == -100);
    CHECK(hlz_gguf_get_u32(&g, "t.u16", &u32, &e) == HLZ_OK && u32 == 60000);
    CHECK(hlz_gguf_get_i32(&g, "t.i16", &i32, &e) == HLZ_OK && i32 == -30000);
    CHECK(hlz_gguf_get_u32(&g, "t.u32", &u32, &e) == HLZ_OK && u32 == 4000000000u);
    CHECK(hlz_gguf_get_i32(&g, "t.i32", &i32, &e) == HLZ_OK && i32 == -2000000000);
    CHECK(hlz_gguf_get_u64(&g, "t.u64", &u64, &e) == HLZ_OK && u64 == (uint64_t)1 << 40);
    CHECK(hlz_gguf_get_i32(&g, "t.i64", &i32, &e) == HLZ_OK && i32 == -5);
    CHECK(hlz_gguf_get_f32(&g, "t.f32", &f, &e) == HLZ_OK && f == 1.5f);
    CHECK(hlz_gguf_get_f32(&g, "t.f64", &f, &e) == HLZ_OK && f == (float)0.1);
    CHECK(hlz_gguf_get_bool(&g, "t.bool", &b, &e) == HLZ_OK && b);
    CHECK(hlz_gguf_get_bool(&g, "t.false", &b, &e) == HLZ_OK && !b);
    CHECK(hlz_gguf_get_string(&g, "t.str", &s, &e) == HLZ_OK);
    CHECK(s.size == sizeof str_value - 1 && memcmp(s.data, str_value, s.size) == 0);
    CHECK(hlz_gguf_get_string(&g, "t.empty", &s, &e) == HLZ_OK && s.size == 0);
    CHECK(hlz_gguf_get_string(&g, "general.architecture", &s, &e) == HLZ_OK);
    CHECK(s.size == 5 && memcmp(s.data, "llama", 5) == 0);
    const hlz_gguf_kv *kv = hlz_gguf_find(&g, "t.i16");
    CHECK(kv && kv->type == HLZ_GGUF_INT16 && kv->count == 1 && kv->size == 2);
    CHECK(kv == &g.kvs[4]); /* file order kept */
    CHECK(hlz_gguf_find(&g, "t.nope") == NULL && hlz_gguf_find(&g, "") == NULL);
    hlz_gguf_close(&g);
    free(file);
}

static void test_metadata_arrays_round_trip(void)
{
    hlz_error e = {0};
    size_t size;
    uint8_t *file = build_sample(0, &size, &e);
    CHECK_MSG(file != NULL, "%s", e.message);
    hlz_gguf g;
    CHECK(hlz_gguf_open_memory(&g, file, size, &e) == HLZ_OK);
    const hlz_gguf_kv *kv;
    struct {
        const char *key;
        uint32_t type;
        const void *values;
        uint64_t count;
        size_t elem;
    } arrays[] = {
        {"a.u8", HLZ_GGUF_UINT8, a_u8, 3, 1},      {"a.i8", HLZ_GGUF_INT8, a_i8, 3, 1},
        {"a.u16", HLZ_GGUF_UINT16, a_u16, 2, 2},   {"a.i16", HLZ_GGUF_INT16, a_i16, 2, 2},
        {"a.u32", HLZ_GGUF_UINT32, a_u32, 2, 4},   {"a.i32", HLZ_GGUF_INT32, a_i32, 3, 4},
        {"a.u64", HLZ_GGUF_UINT64, a_u64, 2, 8},   {"a.i64", HLZ_GGUF_INT64, a_i64, 2, 8},
        {"a.f32", HLZ_GGUF_FLOAT32, a_f32, 3, 4},  {"a.f64", HLZ_GGUF_FLOAT64, a_f64, 2, 8},
        {"a.bool", HLZ_GGUF_BOOL, a_bool, 3, 1},   {"a.empty", HLZ_GGUF_UINT32, NULL, 0, 4},
    };
    for (size_t i = 0; i < sizeof arrays / sizeof arrays[0]; i++) {
        CHECK_MSG(hlz_gguf_get_array(&g, arrays[i].key, arrays[i].type, &kv, &e) == HLZ_OK, "%s", e.message);
        CHECK(kv->type == HLZ_GGUF_ARRAY && kv->count == arrays[i].count);
        CHECK(kv->size == arrays[i].count * arrays[i].elem);
        /* The test runs on a little-endian host, so file bytes equal memory. */
        CHECK_MSG(arrays[i].count == 0 || memcmp(kv->data, arrays[i].values, kv->size) == 0, "%s",
                  arrays[i].key);
    }
    CHECK(hlz_gguf_get_array(&g, "a.str", HLZ_GGUF_STRING, &kv, &e) == HLZ_OK && kv->count == 3);
    for (uint64_t i = 0; i < 3; i++) {
        hlz_gguf_str s = hlz_gguf_kv_string(kv, i);
        CHECK(s.size == a_str_sizes[i] && memcmp(s.data, a_str[i], s.size) == 0);
    }
    CHECK(hlz_gguf_kv_string(kv, 3).size == 0); /* out of range: empty */
    CHECK(hlz_gguf_get_array(&g, "a.nostr", HLZ_GGUF_TYPE_COUNT, &kv, &e) == HLZ_OK);
    CHECK(kv->count == 0 && kv->elem_type == HLZ_GGUF_STRING);
    float f[3];
    int32_t i32[3];
    CHECK(hlz_gguf_get_f32_array(&g, "a.f32", f, 3, &e) == HLZ_OK);
    CHECK(f[0] == 0.5f && f[1] == -1.25f && f[2] == 3e38f);
    CHECK(hlz_gguf_get_i32_array(&g, "a.i32", i32, 3, &e) == HLZ_OK);
    CHECK(i32[0] == -1 && i32[1] == INT32_MAX && i32[2] == INT32_MIN);
    CHECK(hlz_gguf_get_i32_array(&g, "a.u8", i32, 3, &e) == HLZ_OK && i32[2] == 255);
    CHECK(hlz_gguf_get_i32_array(&g, "a.i16", i32, 2, &e) == HLZ_OK && i32[0] == -32768);
    hlz_gguf_close(&g);
    free(file);
}

static void test_tensors_round_trip(void)
{
    hlz_error e = {0};
    size_t size;
    uint8_t *file = build_sample(0, &size, &e);
    CHECK_MSG(file != NULL, "%s", e.message);
    hlz_gguf g;
    CHECK(hlz_gguf_open_memory(&g, file, size, &e) == HLZ_OK);
    CHECK(g.tensor_count == SAMPLE_TENSORS);
    CHECK(g.data_offset % 32 == 0);
    for (size_t i = 0; i < SAMPLE_TENSORS; i++) {
        const sample_tensor *s = &sample_tensors[i];
        const hlz_gguf_tensor *t = hlz_gguf_find_tensor(&g, s->name);
        CHECK_MSG(t == &g.tensors[i], "%s", s->name);
        CHECK(strcmp(t->name, s->name) == 0 && t->type == s->type && t->n_dims == s->n_dims);
        uint64_t n = 1;
        for (int d = 0; d < 4; d++) {
            CHECK(t->dims[d] == (d < (int)s->n_dims ? s->dims[d] : 1));
            n *= t->dims[d];
        }
        CHECK(t->n_elements == n && t->n_rows == n / t->dims[0]);
        CHECK(t->size == s->bytes && t->row_size * t->n_rows == t->size);
        CHECK(t->offset >= g.data_offset && (t->offset - g.data_offset) % 32 == 0);
        CHECK(t->data == file + t->offset && memcmp(t->data, s->data, s->bytes) == 0);
    }
    CHECK(hlz_gguf_find_tensor(&g, "w.q8_") == NULL && hlz_gguf_find_tensor(&g, "zzz") == NULL);
    const hlz_gguf_tensor *t;
    CHECK(hlz_gguf_get_tensor(&g, "blk.9.ffn_up.weight", &t, &e) == HLZ_ERR_MODEL && t == NULL);
    CHECK(strcmp(e.message, "missing tensor 'blk.9.ffn_up.weight'") == 0);
    hlz_gguf_close(&g);
    free(file);
}

static void test_custom_alignment(void)
{
    hlz_error e = {0};
    size_t size;
    uint8_t *file = build_sample(256, &size, &e);
    CHECK_MSG(file != NULL, "%s", e.message);
    hlz_gguf g;
    CHECK(hlz_gguf_open_memory(&g, file, size, &e) == HLZ_OK);
    uint32_t a;
    CHECK(hlz_gguf_get_u32(&g, "general.alignment", &a, &e) == HLZ_OK && a == 256);
    CHECK(g.alignment == 256 && g.data_offset % 256 == 0 && size % 256 == 0);
    for (uint64_t i = 0; i < g.tensor_count; i++) CHECK(g.tensors[i].offset % 256 == 0);
    hlz_gguf_close(&g);
    free(file);
}

static void test_open_mmap(void)
{
    hlz_error e = {0};
    size_t size;
    uint8_t *file = build_sample(0, &size, &e);
    CHECK_MSG(file != NULL, "%s", e.message);
    char path[] = "/tmp/hlz-test-gguf-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    FILE *f = fdopen(fd, "wb");
    hlz_gguf_writer w; /* write through the stream path too */
    hlz_gguf_writer_init(&w, 0, NULL);
    hlz_gguf_add_string(&w, "general.architecture", "llama", 5);
    hlz_gguf_add_tensor(&w, "x", HLZ_GGML_Q8_0, 2, (const uint64_t[]){32, 3}, NULL);
    const float five[5] = {1, 2, 3, 4, -5};
    hlz_gguf_add_tensor(&w, "y", HLZ_GGML_F32, 1, (const uint64_t[]){5}, five);
    hlz_status st = hlz_gguf_writer_write(&w, f, &e);
    hlz_gguf_writer_free(&w);
    fclose(f);
    hlz_gguf g;
    if (st == HLZ_OK) st = hlz_gguf_open(&g, path, &e);
    unlink(path);
    free(file);
    CHECK_MSG(st == HLZ_OK, "%s", e.message);
    CHECK(g.mapping != NULL && g.tensor_count == 2);
    const hlz_gguf_tensor *x = hlz_gguf_find_tensor(&g, "x"), *y = hlz_gguf_find_tensor(&g, "y");
    CHECK(x && y && x->size == 102 && y->size == 20);
    for (int i = 0; i < 102; i++) CHECK(x->data[i] == 0);
    float back[5];
    CHECK(hlz_gguf_tensor_row(y, 0, back, &e) == HLZ_OK && memcmp(back, five, sizeof five) == 0);
    hlz_gguf_close(&g);
    CHECK(g.mapping == NULL && g.kvs == NULL);
    hlz_gguf_close(&g); /* closing twice is harmless */
}

static void test_open_errors(void)
{
    hlz_gguf g;
    hlz_error e = {0};
    CHECK(hlz_gguf_open(&g, "/nonexistent/model.gguf", &e) == HLZ_ERR_IO);
    CHECK(strstr(e.message, "cannot open") != NULL);
    CHECK(hlz_gguf_open(&g, "/tmp", &e) == HLZ_ERR_IO && strstr(e.message, "not a regular file"));
    char path[] = "/tmp/hlz-test-gguf-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    hlz_status st = hlz_gguf_open(&g, path, &e); /* empty */
    unlink(path);
    CHECK(st == HLZ_ERR_MODEL && strstr(e.message, "not a GGUF file"));
    hlz_gguf_close(&g);
}

/* ---- getters -------------------------------------------------------------- */

/* Runs a getter expression that must fail with HLZ_ERR_MODEL and exactly `msg`. */
#define CHECK_GET_FAILS(expr, msg)                                                            \
    do {                                                                                      \
        hlz_status st_ = (expr);                                                              \
        CHECK_MSG(st_ == HLZ_ERR_MODEL && strcmp(e.message, msg) == 0, "%s: %s", #expr, e.message); \
    } while (0)

static void test_getter_type_errors(void)
{
    hlz_error e = {0};
    size_t size;
    uint8_t *file = build_sample(0, &size, &e);
    CHECK_MSG(file != NULL, "%s", e.message);
    hlz_gguf g;
    CHECK(hlz_gguf_open_memory(&g, file, size, &e) == HLZ_OK);
    uint32_t u32;
    int32_t i32[3];
    float f;
    bool b;
    hlz_gguf_str s;
    const hlz_gguf_kv *kv;
    CHECK_GET_FAILS(hlz_gguf_get_u32(&g, "llama.block_count", &u32, &e), "missing key 'llama.block_count'");
    CHECK_GET_FAILS(hlz_gguf_get_u32(&g, "t.str", &u32, &e), "key 't.str' is a string, not a uint32");
    CHECK_GET_FAILS(hlz_gguf_get_i32(&g, "t.f32", i32, &e), "key 't.f32' is a float32, not an int32");
    CHECK_GET_FAILS(hlz_gguf_get_f32(&g, "t.u8", &f, &e), "key 't.u8' is a uint8, not a float32");
    CHECK_GET_FAILS(hlz_gguf_get_bool(&g, "t.u8", &b, &e), "key 't.u8' is a uint8, not a bool");
    CHECK_GET_FAILS(hlz_gguf_get_string(&g, "a.str", &s, &e), "key 'a.str' is an array of string, not a string");
    CHECK_GET_FAILS(hlz_gguf_get_u32(&g, "a.u32", &u32, &e), "key 'a.u32' is an array of uint32, not a uint32");
    CHECK_GET_FAILS(hlz_gguf_get_array(&g, "t.str", HLZ_GGUF_TYPE_COUNT, &kv, &e),
                    "key 't.str' is a string, not an array");
    CHECK_GET_FAILS(hlz_gguf_get_array(&g, "a.u8", HLZ_GGUF_STRING, &kv, &e),
                    "key 'a.u8' is an array of uint8, not an array of string");
    CHECK_GET_FAILS(hlz_gguf_get_f32_array(&g, "a.f64", &f, 2, &e),
                    "key 'a.f64' is an array of float64, not an array of float32");
    CHECK_GET_FAILS(hlz_gguf_get_i32_array(&g, "a.f32", i32, 3, &e),
                    "key 'a.f32' is an array of float32, not an array of integers");
    CHECK_GET_FAILS(hlz_gguf_get_i32_array(&g, "a.i32", i32, 2, &e), "key 'a.i32' has 3 elements, expected 2");
    hlz_gguf_close(&g);
    free(file);
}

static void test_getter_integer_ranges(void)
{
    hlz_error e = {0};
    size_t size;
    uint8_t *file = build_sample(0, &size, &e);
    CHECK_MSG(file != NULL, "%s", e.message);
    hlz_gguf g;
    CHECK(hlz_gguf_open_memory(&g, file, size, &e) == HLZ_OK);
    uint32_t u32;
    uint64_t u64;
    int32_t i32[3];
    CHECK(hlz_gguf_get_u64(&g, "t.u8", &u64, &e) == HLZ_OK && u64 == 200); /* widening is fine */
    CHECK_GET_FAILS(hlz_gguf_get_u32(&g, "t.u64", &u32, &e), "key 't.u64': value 1099511627776 does not fit in a uint32");
    CHECK_GET_FAILS(hlz_gguf_get_u32(&g, "t.i8", &u32, &e), "key 't.i8': value -100 does not fit in a uint32");
    CHECK_GET_FAILS(hlz_gguf_get_u64(&g, "t.i64", &u64, &e), "key 't.i64': value -5 does not fit in a uint64");
    CHECK_GET_FAILS(hlz_gguf_get_i32(&g, "t.u32", i32, &e), "key 't.u32': value 4000000000 does not fit in an int32");
    CHECK_GET_FAILS(hlz_gguf_get_i32_array(&g, "a.u32", i32, 2, &e),
                    "key 'a.u32': element 1 (4000000000) does not fit in an int32");
    CHECK_GET_FAILS(hlz_gguf_get_i32_array(&g, "a.i64", i32, 2, &e),
                    "key 'a.i64': element 0 (-9223372036854775808) does not fit in an int32");
    hlz_gguf_close(&g);
    free(file);
}

/* ---- hostile input -------------------------------------------------------- */

static void test_truncation_at_every_length(void)
{
    hlz_error e = {0};
    size_t size;
    uint8_t *file = build_sample(0, &size, &e);
    CHECK_MSG(file != NULL, "%s", e.message);
    hlz_gguf g;
    CHECK(hlz_gguf_open_memory(&g, file, size, &e) == HLZ_OK);
    uint64_t need = 0; /* the end of the last tensor: what follows is padding */
    for (uint64_t i = 0; i < g.tensor_count; i++)
        if (g.tensors[i].offset + g.tensors[i].size > need) need = g.tensors[i].offset + g.tensors[i].size;
    hlz_gguf_close(&g);
    CHECK(need <= size && size - need < 32);
    for (size_t n = 0; n <= size; n++) {
        uint8_t *copy = malloc(n ? n : 1); /* exact size, so ASan sees any over-read */
        memcpy(copy, file, n);
        int failed = hlz_gguf_open_memory(&g, copy, n, &e) != HLZ_OK;
        if (!failed) hlz_gguf_close(&g);
        free(copy);
        CHECK_MSG(failed == (n < need), "length %zu of %zu: %s", n, size, failed ? e.message : "opened");
    }
    free(file);
}

static void test_header_count_corruption(void)
{
    hlz_error e = {0};
    size_t size;
    uint8_t *file = build_sample(0, &size, &e);
    CHECK_MSG(file != NULL, "%s", e.message);
    static const uint8_t masks[] = {0x01, 0x02, 0x04, 0x10, 0x80, 0xff};
    for (size_t at = 8; at < 24; at++) /* tensor_count, then kv_count */
        for (size_t m = 0; m < sizeof masks; m++) {
            file[at] ^= masks[m];
            int ok = open_fails(file, size, HLZ_OK, NULL);
            file[at] ^= masks[m];
            CHECK_MSG(ok, "byte %zu ^ 0x%02x: %s", at, masks[m], last.message);
        }
    free(file);
}

/* Random byte changes anywhere: the result may open or not, but never crash
 * (run under ASan/UBSan) and what opens is walkable. */
static void test_random_corruption_is_safe(void)
{
    hlz_error e = {0};
    size_t size;
    uint8_t *file = build_sample(0, &size, &e);
    CHECK_MSG(file != NULL, "%s", e.message);
    uint8_t *copy = malloc(size);
    unsigned long long rng = 77;
    float row[512];
    for (int iter = 0; iter < 3000; iter++) {
        memcpy(copy, file, size);
        int changes = 1 + (int)(test_rand(&rng) % 4);
        for (int c = 0; c < changes; c++) copy[test_rand(&rng) % size] = (uint8_t)(test_rand(&rng) >> 56);
        hlz_gguf g;
        if (hlz_gguf_open_memory(&g, copy, size, &e) != HLZ_OK) continue;
        for (uint64_t i = 0; i < g.tensor_count; i++) {
            const hlz_gguf_tensor *t = &g.tensors[i];
            CHECK(hlz_gguf_find_tensor(&g, t->name) == t);
            if (t->dims[0] <= 512 && hlz_ggml_type(t->type)->supported)
                CHECK(hlz_gguf_tensor_row(t, t->n_rows - 1, row, &e) == HLZ_OK);
        }
        for (uint64_t i = 0; i < g.kv_count; i++) CHECK(hlz_gguf_find(&g, g.kvs[i].key) == &g.kvs[i]);
        hlz_gguf_close(&g);
    }
    free(copy);
    free(file);
}

static void test_bad_magic_and_version(void)
{
    raw r;
    put_header(&r, 3, 0, 0);
    hlz_gguf g;
    hlz_error e;
    CHECK(hlz_gguf_open_memory(&g, r.b, r.n, &e) == HLZ_OK); /* the empty file is valid */
    CHECK(g.kv_count == 0 && g.tensor_count == 0 && g.data_offset == 32);
    hlz_gguf_close(&g);
    r.b[3] = 'X';
    CHECK_FAILS(r.b, r.n, HLZ_ERR_MODEL, "not a GGUF file (it starts with 47 47 55 58");
    CHECK_FAILS("GG", 2, HLZ_ERR_MODEL, "not a GGUF file (only 2 bytes)");
    CHECK_FAILS("GGUF\3\0\0", 7, HLZ_ERR_TRUNCATED, "file ends inside the GGUF header");
    put_header(&r, 1, 0, 0);
    CHECK_FAILS(r.b, r.n, HLZ_ERR_VERSION, "GGUF version 1 is not supported");
    put_header(&r, 4, 0, 0);
    CHECK_FAILS(r.b, r.n, HLZ_ERR_VERSION, "GGUF version 4 is newer");
    put_header(&r, 0, 0, 0);
    CHECK_FAILS(r.b, r.n, HLZ_ERR_CORRUPT, "version 0");
    put_header(&r, 0x03000000, 0, 0);
    CHECK_FAILS(r.b, r.n, HLZ_ERR_UNSUPPORTED, "big-endian");
    put_header(&r, 2, 0, 0); /* version 2 has the same layout */
    CHECK(hlz_gguf_open_memory(&g, r.b, r.n, &e) == HLZ_OK && g.version == 2);
    hlz_gguf_close(&g);
}

static void test_counts_past_the_end(void)
{
    raw r;
    put_header(&r, 3, 0, (uint64_t)1 << 62);
    CHECK_FAILS(r.b, r.n, HLZ_ERR_TRUNCATED, "more than the file can hold");
    put_header(&r, 3, UINT64_MAX, 0);
    CHECK_FAILS(r.b, r.n, HLZ_ERR_TRUNCATED, "more than the file can hold");
    put_header(&r, 3, 0, 1); /* a key whose length runs past the end */
    put_u64(&r, 1000);
    put_zeros(&r, 20);
    CHECK_FAILS(r.b, r.n, HLZ_ERR_TRUNCATED, "metadata key 0: name runs past the end of the file");
    put_header(&r, 3, 0, 1);
    put_u64(&r, UINT64_MAX); /* length that overflows any pos + len */
    put_zeros(&r, 20);
    CHECK_FAILS(r.b, r.n, HLZ_ERR_CORRUPT, "longer than 65535");
    put_header(&r, 3, 0, 1); /* a string value past the end */
    put_str(&r, "general.name");
    put_u32(&r, HLZ_GGUF_STRING);
    put_u64(&r, UINT64_MAX - 3);
    put_zeros(&r, 16);
    CHECK_FAILS(r.b, r.n, HLZ_ERR_TRUNCATED, "key 'general.name': string 0 runs past the end of the file");
    put_header(&r, 3, 0, 1); /* an array count past the end */
    put_str(&r, "a");
    put_u32(&r, HLZ_GGUF_ARRAY);
    put_u32(&r, HLZ_GGUF_UINT64);
    put_u64(&r, (uint64_t)1 << 61);
    put_zeros(&r, 64);
    CHECK_FAILS(r.b, r.n, HLZ_ERR_TRUNCATED, "key 'a': value runs past the end of the file");
    put_header(&r, 3, 0, 1); /* a string array count past the end */
    put_str(&r, "tokenizer.ggml.tokens");
    put_u32(&r, HLZ_GGUF_ARRAY);
    put_u32(&r, HLZ_GGUF_STRING);
    put_u64(&r, UINT64_MAX);
    put_zeros(&r, 64);
    CHECK_FAILS(r.b, r.n, HLZ_ERR_TRUNCATED, "key 'tokenizer.ggml.tokens': 18446744073709551615 strings");
}

static void test_bad_values(void)
{
    raw r;
    put_header(&r, 3, 0, 1);
    put_str(&r, "x.y");
    put_u32(&r, 13);
    put_zeros(&r, 8);
    CHECK_FAILS(r.b, r.n, HLZ_ERR_CORRUPT, "key 'x.y': unknown value type 13");
    put_header(&r, 3, 0, 1);
    put_str(&r, "x.y");
    put_u32(&r, HLZ_GGUF_ARRAY);
    put_u32(&r, HLZ_GGUF_ARRAY);
    put_u64(&r, 1);
    put_zeros(&r, 16);
    CHECK_FAILS(r.b, r.n, HLZ_ERR_UNSUPPORTED, "key 'x.y': arrays of arrays are not supported");
    put_header(&r, 3, 0, 1);
    put_str(&r, "x.y");
    put_u32(&r, HLZ_GGUF_ARRAY);
    put_u32(&r, 99);
    put_u64(&r, 1);
    put_zeros(&r, 16);
    CHECK_FAILS(r.b, r.n, HLZ_ERR_CORRUPT, "key 'x.y': unknown array element type 99");
    put_header(&r, 3, 0, 1);
    put_str(&r, "x.flag");
    put_u32(&r, HLZ_GGUF_BOOL);
    put_bytes(&r, "\2", 1);
    CHECK_FAILS(r.b, r.n, HLZ_ERR_CORRUPT, "key 'x.flag': bool value 2 is neither 0 nor 1");
    put_header(&r, 3, 0, 1);
    put_u64(&r, 3);
    put_bytes(&r, "a\0b", 3);
    put_u32(&r, HLZ_GGUF_UINT8);
    put_zeros(&r, 1);
    CHECK_FAILS(r.b, r.n, HLZ_ERR_CORRUPT, "metadata key 0: name 'a?b' contains a NUL byte");
    put_header(&r, 3, 0, 1); /* unprintable bytes are masked in messages */
    put_str(&r, "k\x1b[31m");
    put_u32(&r, 200);
    CHECK_FAILS(r.b, r.n, HLZ_ERR_CORRUPT, "key 'k?[31m': unknown value type 200");
}

static void test_bad_tensor_infos(void)
{
    raw r;
    raw_f32_file(&r, "blk.0.attn_q.weight", 4, 0, 16);
    hlz_gguf g;
    hlz_error e;
    CHECK(hlz_gguf_open_memory(&g, r.b, r.n, &e) == HLZ_OK); /* the base case is valid */
    hlz_gguf_close(&g);

    raw_f32_file(&r, "blk.0.attn_q.weight", 4, 0, 8);
    CHECK_FAILS(r.b, r.n, HLZ_ERR_TRUNCATED, "tensor 'blk.0.attn_q.weight': data runs past the end of the file");
    raw_f32_file(&r, "t", 4, (uint64_t)1 << 63, 16);
    CHECK_FAILS(r.b, r.n, HLZ_ERR_TRUNCATED, "tensor 't': data runs past the end of the file");
    raw_f32_file(&r, "t", 4, 8, 32);
    CHECK_FAILS(r.b, r.n, HLZ_ERR_CORRUPT, "tensor 't': data offset 8 is not a multiple of the alignment 32");

    uint64_t dims5[5] = {1, 1, 1, 1, 1}, zero[2] = {4, 0}, big[2] = {(uint64_t)1 << 32, (uint64_t)1 << 32};
    uint64_t huge = (uint64_t)1 << 62, q33 = 33, n4 = 4;
    put_header(&r, 3, 1, 0);
    put_tensor(&r, "t", 5, dims5, HLZ_GGML_F32, 0);
    CHECK_FAILS(r.b, r.n, HLZ_ERR_CORRUPT, "tensor 't': 5 dims, more than 4");
    put_header(&r, 3, 1, 0);
    put_tensor(&r, "t", 2, zero, HLZ_GGML_F32, 0);
    CHECK_FAILS(r.b, r.n, HLZ_ERR_CORRUPT, "tensor 't': dim 1 is zero");
    put_header(&r, 3, 1, 0);
    put_tensor(&r, "t", 2, big, HLZ_GGML_F32, 0);
    CHECK_FAILS(r.b, r.n, HLZ_ERR_CORRUPT, "tensor 't': element count overflows");
    put_header(&r, 3, 1, 0);
    put_tensor(&r, "t", 1, &huge, HLZ_GGML_F32, 0);
    CHECK_FAILS(r.b, r.n, HLZ_ERR_CORRUPT, "tensor 't': byte size overflows");
    put_header(&r, 3, 1, 0);
    put_tensor(&r, "t", 1, &q33, HLZ_GGML_Q8_0, 0);
    CHECK_FAILS(r.b, r.n, HLZ_ERR_CORRUPT, "tensor 't': row length 33 is not a multiple of the Q8_0 block size 32");
    put_header(&r, 3, 1, 0);
    put_tensor(&r, "t", 1, &n4, 4 /* retired Q4_2 */, 0);
    CHECK_FAILS(r.b, r.n, HLZ_ERR_CORRUPT, "tensor 't': unknown ggml type 4");
    put_header(&r, 3, 1, 0);
    put_tensor(&r, "t", 1, &n4, 1000, 0);
    CHECK_FAILS(r.b, r.n, HLZ_ERR_CORRUPT, "tensor 't': unknown ggml type 1000");
    put_header(&r, 3, 1, 0);
    put_tensor(&r, "t", 1, &n4, HLZ_GGML_F32, 0);
    r.n -= 3; /* cut inside the offset */
    CHECK_FAILS(r.b, r.n, HLZ_ERR_TRUNCATED, "tensor 't': file ends inside its info");
    char name[300];
    memset(name, 'n', sizeof name - 1);
    name[sizeof name - 1] = 0;
    put_header(&r, 3, 1, 0);
    put_tensor(&r, name, 1, &n4, HLZ_GGML_F32, 0);
    CHECK_FAILS(r.b, r.n, HLZ_ERR_CORRUPT, "tensor 0: name of 299 bytes is longer than 255");
    put_header(&r, 3, 1, 0); /* a scalar: n_dims 0 means one element */
    put_tensor(&r, "s", 0, NULL, HLZ_GGML_F32, 0);
    pad32(&r);
    put_zeros(&r, 4);
    CHECK(hlz_gguf_open_memory(&g, r.b, r.n, &e) == HLZ_OK);
    CHECK(g.tensors[0].n_elements == 1 && g.tensors[0].size == 4 && g.tensors[0].dims[0] == 1);
    hlz_gguf_close(&g);
}

static void test_overlapping_tensors(void)
{
    raw r;
    uint64_t n16 = 16;
    put_header(&r, 3, 2, 0);
    put_tensor(&r, "b", 1, &n16, HLZ_GGML_F32, 32);
    put_tensor(&r, "a", 1, &n16, HLZ_GGML_F32, 64);
    pad32(&r);
    put_zeros(&r, 128);
    CHECK_FAILS(r.b, r.n, HLZ_ERR_CORRUPT, "tensors 'b' and 'a' overlap");
    put_header(&r, 3, 2, 0); /* the same offset twice */
    put_tensor(&r, "a", 1, &n16, HLZ_GGML_F32, 0);
    put_tensor(&r, "b", 1, &n16, HLZ_GGML_F32, 0);
    pad32(&r);
    put_zeros(&r, 64);
    CHECK_FAILS(r.b, r.n, HLZ_ERR_CORRUPT, "overlap");
    put_header(&r, 3, 2, 0); /* gaps and any order are fine */
    put_tensor(&r, "a", 1, &n16, HLZ_GGML_F32, 128);
    put_tensor(&r, "b", 1, &n16, HLZ_GGML_F32, 0);
    pad32(&r);
    put_zeros(&r, 192);
    hlz_gguf g;
    hlz_error e;
    CHECK_MSG(hlz_gguf_open_memory(&g, r.b, r.n, &e) == HLZ_OK, "%s", e.message);
    hlz_gguf_close(&g);
}

static void test_trailing_data(void)
{
    raw r;
    raw_f32_file(&r, "t", 8, 0, 32 + 31); /* up to alignment - 1 bytes of padding: fine */
    hlz_gguf g;
    hlz_error e;
    CHECK(hlz_gguf_open_memory(&g, r.b, r.n, &e) == HLZ_OK);
    hlz_gguf_close(&g);
    raw_f32_file(&r, "t", 8, 0, 64);
    CHECK_FAILS(r.b, r.n, HLZ_ERR_CORRUPT, "32 bytes of unexpected data after the last tensor");
}

/* Patches the first occurrence of `from` in the buffer to `to` (same length). */
static int patch(uint8_t *p, size_t size, const char *from, const char *to)
{
    size_t n = strlen(from);
    for (size_t i = 0; i + n <= size; i++)
        if (memcmp(p + i, from, n) == 0) {
            memcpy(p + i, to, n);
            return 1;
        }
    return 0;
}

static void test_duplicates(void)
{
    hlz_gguf_writer w;
    hlz_error e = {0};
    uint8_t *file;
    size_t size;
    CHECK(hlz_gguf_writer_init(&w, 0, &e) == HLZ_OK);
    hlz_gguf_add_u32(&w, "dup.a", 1);
    hlz_gguf_add_u32(&w, "dup.b", 2);
    hlz_gguf_add_tensor(&w, "tensor.a", HLZ_GGML_F32, 1, (const uint64_t[]){8}, NULL);
    hlz_gguf_add_tensor(&w, "tensor.b", HLZ_GGML_F32, 1, (const uint64_t[]){8}, NULL);
    CHECK(hlz_gguf_writer_to_memory(&w, &file, &size, &e) == HLZ_OK);
    hlz_gguf_writer_free(&w);
    CHECK(patch(file, size, "dup.b", "dup.a"));
    CHECK_FAILS(file, size, HLZ_ERR_CORRUPT, "duplicate key 'dup.a'");
    CHECK(patch(file, size, "dup.a", "dup.c") && patch(file, size, "tensor.b", "tensor.a"));
    CHECK_FAILS(file, size, HLZ_ERR_CORRUPT, "duplicate tensor name 'tensor.a'");
    free(file);
}

static void test_bad_alignment_key(void)
{
    raw r;
    put_header(&r, 3, 0, 1);
    put_str(&r, "general.alignment");
    put_u32(&r, HLZ_GGUF_UINT64);
    put_u64(&r, 64);
    CHECK_FAILS(r.b, r.n, HLZ_ERR_CORRUPT, "key 'general.alignment' is a uint64, not a uint32");
    static const uint32_t bad[] = {0, 48, HLZ_GGUF_ALIGNMENT_MAX * 2, 0x80000000u};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        put_header(&r, 3, 0, 1);
        put_str(&r, "general.alignment");
        put_u32(&r, HLZ_GGUF_UINT32);
        put_u32(&r, bad[i]);
        CHECK_FAILS(r.b, r.n, HLZ_ERR_CORRUPT, "is not a power of two");
    }
}

static void test_writer_refuses_invalid(void)
{
    hlz_gguf_writer w;
    hlz_error e = {0};
    const uint64_t d33[] = {33}, d0[] = {4, 0}, d4[] = {4};
    CHECK(hlz_gguf_writer_init(&w, 48, &e) == HLZ_ERR_PARAM && strstr(e.message, "power of two"));
    hlz_gguf_writer_free(&w);
    struct {
        int step;
        const char *needle;
    } cases[] = {
        {0, "duplicate key 'k'"},   {1, "duplicate tensor name 't'"}, {2, "5 dims"},
        {3, "dim 1 is zero"},       {4, "not a multiple of the Q8_0 block size"},
        {5, "unknown ggml type 4"}, {6, "through hlz_gguf_writer_init"}, {7, "key of 0 bytes"},
        {8, "not a number or bool"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        CHECK(hlz_gguf_writer_init(&w, 0, &e) == HLZ_OK);
        hlz_gguf_add_u32(&w, "k", 1);
        hlz_gguf_add_tensor(&w, "t", HLZ_GGML_F32, 1, d4, NULL);
        hlz_status st = HLZ_OK;
        switch (cases[i].step) {
        case 0: st = hlz_gguf_add_string(&w, "k", "x", 1); break;
        case 1: st = hlz_gguf_add_tensor(&w, "t", HLZ_GGML_F32, 1, d4, NULL); break;
        case 2: st = hlz_gguf_add_tensor(&w, "u", HLZ_GGML_F32, 5, d4, NULL); break;
        case 3: st = hlz_gguf_add_tensor(&w, "u", HLZ_GGML_F32, 2, d0, NULL); break;
        case 4: st = hlz_gguf_add_tensor(&w, "u", HLZ_GGML_Q8_0, 1, d33, NULL); break;
        case 5: st = hlz_gguf_add_tensor(&w, "u", 4, 1, d4, NULL); break;
        case 6: st = hlz_gguf_add_u32(&w, "general.alignment", 64); break;
        case 7: st = hlz_gguf_add_u32(&w, "", 64); break;
        case 8: st = hlz_gguf_add_array(&w, "s", HLZ_GGUF_STRING, NULL, 0); break;
        }
        CHECK_MSG(st == HLZ_ERR_PARAM, "case %d", cases[i].step);
        /* Sticky: later calls and the final write report the first failure. */
        CHECK(hlz_gguf_add_u32(&w, "fresh", 1) == HLZ_ERR_PARAM);
        uint8_t *file;
        size_t size;
        CHECK(hlz_gguf_writer_to_memory(&w, &file, &size, &e) == HLZ_ERR_PARAM && file == NULL);
        CHECK_MSG(strstr(e.message, cases[i].needle) != NULL, "case %d: %s", cases[i].step, e.message);
        hlz_gguf_writer_free(&w);
    }
}

/* ---- types and dequantization ------------------------------------------- */

static void test_ggml_type_table(void)
{
    CHECK(hlz_ggml_type(HLZ_GGML_Q8_0)->block_size == 32 && hlz_ggml_type(HLZ_GGML_Q8_0)->type_size == 34);
    CHECK(hlz_ggml_type(HLZ_GGML_Q4_K)->block_size == 256 && hlz_ggml_type(HLZ_GGML_Q4_K)->type_size == 144);
    CHECK(hlz_ggml_type(HLZ_GGML_Q6_K)->block_size == 256 && hlz_ggml_type(HLZ_GGML_Q6_K)->type_size == 210);
    CHECK(hlz_ggml_type(HLZ_GGML_BF16)->type_size == 2 && hlz_ggml_type(HLZ_GGML_BF16)->supported);
    CHECK(!hlz_ggml_type(13)->supported && strcmp(hlz_ggml_type_name(13), "Q5_K") == 0);
    CHECK(hlz_ggml_type(4) == NULL && hlz_ggml_type(31) == NULL && hlz_ggml_type(40) == NULL);
    CHECK(strcmp(hlz_ggml_type_name(12345), "unknown") == 0);
    CHECK(strcmp(hlz_gguf_type_name(HLZ_GGUF_FLOAT64), "float64") == 0);
    CHECK(strcmp(hlz_gguf_type_name(99), "unknown") == 0);
}

static void test_dequant_plain_types(void)
{
    hlz_error e;
    float y[4];
    const uint8_t f16[] = {0x00, 0x3c, 0x00, 0xc0, 0x00, 0x38, 0xff, 0x7b}; /* 1, -2, 0.5, 65504 */
    CHECK(hlz_ggml_dequantize_row(HLZ_GGML_F16, f16, y, 4, &e) == HLZ_OK);
    CHECK(y[0] == 1.0f && y[1] == -2.0f && y[2] == 0.5f && y[3] == 65504.0f);
    const uint8_t bf16[] = {0x80, 0x3f, 0x40, 0xc0, 0x49, 0x40}; /* 1, -3, 3.140625 */
    CHECK(hlz_ggml_dequantize_row(HLZ_GGML_BF16, bf16, y, 3, &e) == HLZ_OK);
    CHECK(y[0] == 1.0f && y[1] == -3.0f && y[2] == 3.140625f);
    const uint8_t f32[] = {0x00, 0x00, 0xc0, 0x3f, 0x00, 0x00, 0x20, 0xc1}; /* 1.5, -10 */
    CHECK(hlz_ggml_dequantize_row(HLZ_GGML_F32, f32 + 0, y, 2, &e) == HLZ_OK);
    CHECK(y[0] == 1.5f && y[1] == -10.0f);
    uint8_t odd[9]; /* any alignment of the source is fine */
    memcpy(odd + 1, f32, 8);
    CHECK(hlz_ggml_dequantize_row(HLZ_GGML_F32, odd + 1, y, 2, &e) == HLZ_OK && y[1] == -10.0f);
    CHECK(hlz_ggml_dequantize_row(13, f32, y, 256, &e) == HLZ_ERR_UNSUPPORTED);
    CHECK(strcmp(e.message, "cannot dequantize ggml type Q5_K (13)") == 0);
    CHECK(hlz_ggml_dequantize_row(777, f32, y, 1, &e) == HLZ_ERR_UNSUPPORTED);
    CHECK(hlz_ggml_dequantize_row(HLZ_GGML_Q8_0, f32, y, 31, &e) == HLZ_ERR_PARAM);
}

static void test_dequant_q8_0(void)
{
    uint8_t b[68];
    hlz_put16(b, 0x3800); /* d = 0.5 */
    for (int j = 0; j < 32; j++) b[2 + j] = (uint8_t)(int8_t)(j - 16);
    hlz_put16(b + 34, 0xc000); /* d = -2 */
    for (int j = 0; j < 32; j++) b[36 + j] = (uint8_t)(int8_t)(4 * j - 64);
    float y[64];
    hlz_error e;
    CHECK(hlz_ggml_dequantize_row(HLZ_GGML_Q8_0, b, y, 64, &e) == HLZ_OK);
    CHECK(y[0] == -8.0f && y[16] == 0.0f && y[31] == 7.5f); /* (j - 16) * 0.5 */
    CHECK(y[32] == 128.0f && y[63] == -120.0f);            /* (4j - 64) * -2 */
    for (int j = 0; j < 32; j++) CHECK(y[j] == (j - 16) * 0.5f && y[32 + j] == (4 * j - 64) * -2.0f);
}

/* A quant pattern in which values 32, 64 and 96 apart differ in their low
 * 4 bits, so swapped nibbles or bytes in a layout cannot go unnoticed. */
static int quant(int k, int mask) { return ((29 * k + 7) ^ (k >> 3)) & mask; }

/* Q4_K reference values: d = 0.25, dmin = 0.5, sub-block s (32 values) has
 * scale 8s+3 and min 60-7s (both past 15, exercising the 6-bit packing), and
 * value k has quant(k, 15): x = 0.25*scale*q - 0.5*min, exact in float. */
static void test_dequant_q4_k(void)
{
    uint8_t b[144] = {0}, sc[8], mn[8];
    hlz_put16(b, 0x3400);
    hlz_put16(b + 2, 0x3800);
    for (int s = 0; s < 8; s++) {
        sc[s] = (uint8_t)(8 * s + 3);
        mn[s] = (uint8_t)(60 - 7 * s);
    }
    uint8_t *q = b + 4;
    for (int j = 0; j < 4; j++) {
        q[j] = (uint8_t)(sc[j] | (sc[j + 4] >> 4) << 6);
        q[j + 4] = (uint8_t)(mn[j] | (mn[j + 4] >> 4) << 6);
        q[j + 8] = (uint8_t)((sc[j + 4] & 0xf) | (mn[j + 4] & 0xf) << 4);
    }
    for (int k = 0; k < 256; k++) {
        int nib = quant(k, 15), byte = 16 + (k / 64) * 32 + k % 32;
        b[byte] |= (uint8_t)((k % 64) < 32 ? nib : nib << 4);
    }
    float y[256];
    hlz_error e;
    CHECK(hlz_ggml_dequantize_row(HLZ_GGML_Q4_K, b, y, 256, &e) == HLZ_OK);
    CHECK(y[0] == -24.75f);  /* 0.25*3*7 - 0.5*60 */
    CHECK(y[100] == 27.75f); /* sub-block 3: 0.25*27*7 - 0.5*39 */
    CHECK(y[200] == 67.5f);  /* sub-block 6: 0.25*51*6 - 0.5*18 */
    CHECK(y[255] == 68.25f); /* sub-block 7: 0.25*59*5 - 0.5*11 */
    for (int k = 0; k < 256; k++) {
        int s = k / 32;
        CHECK_MSG(y[k] == 0.25f * sc[s] * quant(k, 15) - 0.5f * mn[s], "value %d: %g", k, y[k]);
    }
}

/* Q6_K reference values: d = 0.125, scale i = (13i mod 41) - 20 (negative
 * ones too), value k has quant quant(k, 63) - 32: x = d * scale * q. */
static void test_dequant_q6_k(void)
{
    uint8_t b[210] = {0};
    int8_t sc[16];
    for (int i = 0; i < 16; i++) {
        sc[i] = (int8_t)((i * 13) % 41 - 20);
        b[192 + i] = (uint8_t)sc[i];
    }
    hlz_put16(b + 208, 0x3000);
    for (int k = 0; k < 256; k++) {
        int q = quant(k, 63), h = k / 128, quarter = (k % 128) / 32, l = k % 32;
        int ql = h * 64 + l + (quarter & 1) * 32;
        b[ql] |= (uint8_t)(quarter < 2 ? (q & 15) : (q & 15) << 4);
        b[128 + h * 32 + l] |= (uint8_t)((q >> 4) << (2 * quarter));
    }
    float y[256];
    hlz_error e;
    CHECK(hlz_ggml_dequantize_row(HLZ_GGML_Q6_K, b, y, 256, &e) == HLZ_OK);
    CHECK(y[0] == 62.5f);      /* scale 0 (-20), q 7-32 = -25 */
    CHECK(y[77] == 25.875f);   /* scale 4 (-9), q 9-32 = -23 */
    CHECK(y[150] == -16.875f); /* scale 9 (15), q 23-32 = -9 */
    CHECK(y[255] == 28.875f);  /* scale 15 (11), q 53-32 = 21 */
    for (int k = 0; k < 256; k++) {
        int h = k / 128, quarter = (k % 128) / 32, l = k % 32;
        int s = h * 8 + l / 16 + 2 * quarter;
        CHECK_MSG(y[k] == 0.125f * sc[s] * (quant(k, 63) - 32), "value %d: %g", k, y[k]);
    }
}

static void test_tensor_row(void)
{
    uint8_t q8[4 * 34]; /* 2 rows of 64 */
    for (int blk = 0; blk < 4; blk++) {
        hlz_put16(q8 + 34 * blk, 0x3c00); /* d = 1 */
        for (int j = 0; j < 32; j++) q8[34 * blk + 2 + j] = (uint8_t)(blk * 32 + j - 64);
    }
    hlz_gguf_writer w;
    hlz_error e;
    uint8_t *file;
    size_t size;
    hlz_gguf_writer_init(&w, 0, &e);
    hlz_gguf_add_tensor(&w, "q", HLZ_GGML_Q8_0, 2, (const uint64_t[]){64, 2}, q8);
    CHECK(hlz_gguf_writer_to_memory(&w, &file, &size, &e) == HLZ_OK);
    hlz_gguf_writer_free(&w);
    hlz_gguf g;
    CHECK(hlz_gguf_open_memory(&g, file, size, &e) == HLZ_OK);
    const hlz_gguf_tensor *t = hlz_gguf_find_tensor(&g, "q");
    CHECK(t && t->n_rows == 2 && t->row_size == 68);
    float y[64];
    CHECK(hlz_gguf_tensor_row(t, 1, y, &e) == HLZ_OK);
    for (int j = 0; j < 64; j++) CHECK(y[j] == (float)j);
    CHECK(hlz_gguf_tensor_row(t, 2, y, &e) == HLZ_ERR_PARAM && strstr(e.message, "row 2 is past its 2 rows"));
    hlz_gguf_close(&g);
    free(file);
}

int main(void)
{
    RUN(test_metadata_scalars_round_trip);
    RUN(test_metadata_arrays_round_trip);
    RUN(test_tensors_round_trip);
    RUN(test_custom_alignment);
    RUN(test_open_mmap);
    RUN(test_open_errors);
    RUN(test_getter_type_errors);
    RUN(test_getter_integer_ranges);
    RUN(test_truncation_at_every_length);
    RUN(test_header_count_corruption);
    RUN(test_random_corruption_is_safe);
    RUN(test_bad_magic_and_version);
    RUN(test_counts_past_the_end);
    RUN(test_bad_values);
    RUN(test_bad_tensor_infos);
    RUN(test_overlapping_tensors);
    RUN(test_trailing_data);
    RUN(test_duplicates);
    RUN(test_bad_alignment_key);
    RUN(test_writer_refuses_invalid);
    RUN(test_ggml_type_table);
    RUN(test_dequant_plain_types);
    RUN(test_dequant_q8_0);
    RUN(test_dequant_q4_k);
    RUN(test_dequant_q6_k);
    RUN(test_tensor_row);
    TEST_MAIN_END();
}
