/*
 * fuzz_gguf.c - libFuzzer target for the GGUF reader (and, through a round
 * trip, the writer).
 *
 * Parses the input bytes with hlz_gguf_open_memory. Nothing may crash, leak
 * or trip ASan/UBSan. Beyond that it aborts (a finding) when:
 *   - a failing open leaves a status other than the one it returned in the
 *     hlz_error, an empty message, or a non-zeroed hlz_gguf;
 *   - a file that opened is not self-consistent: every key and tensor is
 *     found by name, string items lie inside the file, tensor data lies
 *     inside the file, aligned and without overlaps, sizes agree with dims;
 *     getters succeed or fail with HLZ_ERR_MODEL; the first and last rows
 *     of every dequantizable tensor decode;
 *   - re-writing an opened file with the writer (same pairs, same tensors)
 *     fails, or reading it back gives other metadata or tensor bytes;
 *   - the float codec's scout (the same bytes read as the first chunk of a
 *     GGUF or safetensors file, or with their first 8 bytes replaced by a
 *     safetensors header length) gives a map whose ranges are sorted and
 *     disjoint, a plan whose segments do not tile the chunk, or a float
 *     coding of that plan that does not decode to the same bytes.
 *
 * Seeds: with HLZ_FUZZ_SEED_DIR set, the target first writes a few valid
 * GGUF files (made by the writer) into that directory.
 * Build: make build-fuzz/fuzz_gguf; run: make fuzz-gguf.
 */
#include "codec_float.h"
#include "gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REQUIRE(cond)                                                                  \
    do {                                                                               \
        if (!(cond)) {                                                                 \
            fprintf(stderr, "fuzz_gguf: %s:%d: property failed: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                   \
        }                                                                              \
    } while (0)

static volatile float sink; /* keeps dequantized values alive */

static void check_kv(const hlz_gguf *g, const hlz_gguf_kv *kv)
{
    hlz_error e;
    REQUIRE(hlz_gguf_find(g, kv->key) == kv);
    REQUIRE(kv->data >= g->base && kv->size <= g->file_size &&
            (uint64_t)(kv->data - g->base) <= g->file_size - kv->size);
    uint64_t n = kv->type == HLZ_GGUF_STRING ? 1 : kv->elem_type == HLZ_GGUF_STRING ? kv->count : 0;
    for (uint64_t i = 0; i < n; i++) {
        hlz_gguf_str s = hlz_gguf_kv_string(kv, i);
        REQUIRE((const uint8_t *)s.data >= kv->data && s.size <= kv->size);
        if (s.size) sink = (float)(s.data[0] + s.data[s.size - 1]);
    }
    /* Every getter either succeeds or says the type is not the one asked for. */
    uint32_t u32;
    uint64_t u64;
    int32_t i32;
    float f;
    bool b;
    hlz_gguf_str s;
    const hlz_gguf_kv *out;
    hlz_status st[] = {
        hlz_gguf_get_u32(g, kv->key, &u32, &e),  hlz_gguf_get_u64(g, kv->key, &u64, &e),
        hlz_gguf_get_i32(g, kv->key, &i32, &e),  hlz_gguf_get_f32(g, kv->key, &f, &e),
        hlz_gguf_get_bool(g, kv->key, &b, &e),   hlz_gguf_get_string(g, kv->key, &s, &e),
        hlz_gguf_get_array(g, kv->key, HLZ_GGUF_TYPE_COUNT, &out, &e),
    };
    for (size_t i = 0; i < sizeof st / sizeof st[0]; i++) REQUIRE(st[i] == HLZ_OK || st[i] == HLZ_ERR_MODEL);
    REQUIRE((st[5] == HLZ_OK) == (kv->type == HLZ_GGUF_STRING));
    REQUIRE((st[6] == HLZ_OK) == (kv->type == HLZ_GGUF_ARRAY));
    if (kv->type == HLZ_GGUF_ARRAY && kv->count <= 4096) {
        static float fa[4096];
        static int32_t ia[4096];
        hlz_status a = hlz_gguf_get_f32_array(g, kv->key, fa, kv->count, &e);
        REQUIRE((a == HLZ_OK) == (kv->elem_type == HLZ_GGUF_FLOAT32));
        a = hlz_gguf_get_i32_array(g, kv->key, ia, kv->count, &e);
        REQUIRE(a == HLZ_OK || a == HLZ_ERR_MODEL);
    }
}

static void check_tensor(const hlz_gguf *g, const hlz_gguf_tensor *t)
{
    REQUIRE(hlz_gguf_find_tensor(g, t->name) == t);
    const hlz_ggml_type_info *info = hlz_ggml_type(t->type);
    REQUIRE(info != NULL && t->n_dims <= HLZ_GGUF_MAX_DIMS);
    REQUIRE(t->offset >= g->data_offset && (t->offset - g->data_offset) % g->alignment == 0);
    REQUIRE(t->offset <= g->file_size && t->size <= g->file_size - t->offset);
    REQUIRE(t->data == g->base + t->offset && t->n_rows * t->row_size == t->size);
    REQUIRE(t->dims[0] % info->block_size == 0 && t->row_size == t->dims[0] / info->block_size * info->type_size);
    sink = (float)(t->data[0] + t->data[t->size - 1]);
    if (!info->supported || t->dims[0] > 65536) return;
    static float row[65536];
    hlz_error e;
    REQUIRE(hlz_gguf_tensor_row(t, 0, row, &e) == HLZ_OK);
    REQUIRE(hlz_gguf_tensor_row(t, t->n_rows - 1, row, &e) == HLZ_OK);
    sink = row[0] + row[t->dims[0] - 1];
    REQUIRE(hlz_gguf_tensor_row(t, t->n_rows, row, &e) == HLZ_ERR_PARAM);
}

/* Adds pair `kv` to the writer with the writer's own typed calls. */
static void rewrite_kv(hlz_gguf_writer *w, const hlz_gguf_kv *kv)
{
    const uint8_t *p = kv->data;
    switch (kv->type) {
    case HLZ_GGUF_UINT8: hlz_gguf_add_u8(w, kv->key, p[0]); break;
    case HLZ_GGUF_INT8: hlz_gguf_add_i8(w, kv->key, (int8_t)p[0]); break;
    case HLZ_GGUF_UINT16: hlz_gguf_add_u16(w, kv->key, hlz_le16(p)); break;
    case HLZ_GGUF_INT16: hlz_gguf_add_i16(w, kv->key, (int16_t)hlz_le16(p)); break;
    case HLZ_GGUF_UINT32: hlz_gguf_add_u32(w, kv->key, hlz_le32(p)); break;
    case HLZ_GGUF_INT32: hlz_gguf_add_i32(w, kv->key, (int32_t)hlz_le32(p)); break;
    case HLZ_GGUF_UINT64: hlz_gguf_add_u64(w, kv->key, hlz_le64(p)); break;
    case HLZ_GGUF_INT64: hlz_gguf_add_i64(w, kv->key, (int64_t)hlz_le64(p)); break;
    case HLZ_GGUF_BOOL: hlz_gguf_add_bool(w, kv->key, p[0] != 0); break;
    case HLZ_GGUF_FLOAT32: {
        float f;
        uint32_t bits = hlz_le32(p);
        memcpy(&f, &bits, 4);
        hlz_gguf_add_f32(w, kv->key, f);
        break;
    }
    case HLZ_GGUF_FLOAT64: {
        double d;
        uint64_t bits = hlz_le64(p);
        memcpy(&d, &bits, 8);
        hlz_gguf_add_f64(w, kv->key, d);
        break;
    }
    case HLZ_GGUF_STRING: hlz_gguf_add_string(w, kv->key, (const char *)p, (size_t)kv->size); break;
    default: /* an array; elements are little-endian in the file, as on the hosts we fuzz on */
        if (kv->elem_type == HLZ_GGUF_STRING) {
            const char **strs = malloc((size_t)kv->count * sizeof *strs + 1);
            size_t *sizes = malloc((size_t)kv->count * sizeof *sizes + 1);
            REQUIRE(strs && sizes);
            for (uint64_t i = 0; i < kv->count; i++) {
                hlz_gguf_str s = hlz_gguf_kv_string(kv, i);
                strs[i] = s.data;
                sizes[i] = s.size;
            }
            hlz_gguf_add_string_array(w, kv->key, strs, sizes, kv->count);
            free(strs);
            free(sizes);
        } else {
            hlz_gguf_add_array(w, kv->key, kv->elem_type, p, kv->count);
        }
    }
}

/* Writes `g` again and checks that reading the result gives the same content. */
static void check_round_trip(const hlz_gguf *g)
{
    /* The writer only makes what a careful writer should: skip the legal
     * oddities it refuses to produce (empty names, scalar tensors). */
    for (uint64_t i = 0; i < g->kv_count; i++)
        if (g->kvs[i].key[0] == 0) return;
    for (uint64_t i = 0; i < g->tensor_count; i++)
        if (g->tensors[i].name[0] == 0 || g->tensors[i].n_dims == 0) return;
    hlz_gguf_writer w;
    hlz_error e;
    REQUIRE(hlz_gguf_writer_init(&w, g->alignment, &e) == HLZ_OK);
    for (uint64_t i = 0; i < g->kv_count; i++)
        if (strcmp(g->kvs[i].key, "general.alignment") != 0) rewrite_kv(&w, &g->kvs[i]);
    for (uint64_t i = 0; i < g->tensor_count; i++) {
        const hlz_gguf_tensor *t = &g->tensors[i];
        hlz_gguf_add_tensor(&w, t->name, t->type, t->n_dims, t->dims, t->data);
    }
    uint8_t *file;
    size_t size;
    hlz_status st = hlz_gguf_writer_to_memory(&w, &file, &size, &e);
    if (st != HLZ_OK) fprintf(stderr, "fuzz_gguf: rewrite failed: %s\n", e.message);
    REQUIRE(st == HLZ_OK);
    hlz_gguf_writer_free(&w);
    hlz_gguf h;
    st = hlz_gguf_open_memory(&h, file, size, &e);
    if (st != HLZ_OK) fprintf(stderr, "fuzz_gguf: rewritten file does not open: %s\n", e.message);
    REQUIRE(st == HLZ_OK);
    REQUIRE(h.alignment == g->alignment && h.tensor_count == g->tensor_count);
    uint64_t explicit_alignment = hlz_gguf_find(g, "general.alignment") != NULL;
    REQUIRE(h.kv_count == g->kv_count - explicit_alignment + (g->alignment != 32 ? 1 : 0));
    for (uint64_t i = 0; i < g->kv_count; i++) {
        if (strcmp(g->kvs[i].key, "general.alignment") == 0) continue; /* compared as h.alignment */
        const hlz_gguf_kv *a = &g->kvs[i], *b = hlz_gguf_find(&h, a->key);
        REQUIRE(b && a->type == b->type && a->elem_type == b->elem_type && a->count == b->count);
        REQUIRE(a->size == b->size && memcmp(a->data, b->data, (size_t)a->size) == 0);
    }
    for (uint64_t i = 0; i < g->tensor_count; i++) {
        const hlz_gguf_tensor *a = &g->tensors[i], *b = &h.tensors[i];
        REQUIRE(strcmp(a->name, b->name) == 0 && a->type == b->type && a->n_dims == b->n_dims);
        REQUIRE(memcmp(a->dims, b->dims, sizeof a->dims) == 0 && a->size == b->size);
        REQUIRE(memcmp(a->data, b->data, (size_t)a->size) == 0);
    }
    hlz_gguf_close(&h);
    free(file);
}

static void check_scout(const uint8_t *data, size_t size)
{
    hlz_tensor_map map;
    hlz_tensor_map_build(data, size, &map);
    for (size_t i = 1; i < map.count; i++)
        REQUIRE(map.ranges[i - 1].offset + map.ranges[i - 1].size <= map.ranges[i].offset);
    REQUIRE(map.count == 0 || map.ranges != NULL);
    static hlz_segment segs[HLZ_SEGMENTS_MAX];
    unsigned percent;
    size_t n = hlz_float_plan(&map, 0, data, size, segs, &percent), sum = 0;
    for (size_t i = 0; i < n; i++) {
        REQUIRE(segs[i].kind < HLZ_SEG_KIND_COUNT && segs[i].size % hlz_segment_width(segs[i].kind) == 0);
        sum += segs[i].size;
    }
    REQUIRE(n == 0 || sum == size);
    if (n && size) {
        uint8_t *coded = malloc(2 * size + 64), *back = malloc(size);
        size_t c = 0;
        REQUIRE(coded && back);
        hlz_status st = hlz_float_encode(segs, n, 1, data, size, coded, 2 * size + 64, &c, NULL);
        REQUIRE(st == HLZ_OK);
        REQUIRE(hlz_float_decode(coded, c, back, size, NULL) == HLZ_OK && memcmp(back, data, size) == 0);
        free(coded), free(back);
    }
    hlz_tensor_map_free(&map);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_scout(data, size);
    if (size >= 8 && size <= 65536) {
        /* The same bytes behind a safetensors length that points at their JSON-looking part. */
        uint8_t *copy = malloc(size);
        REQUIRE(copy);
        memcpy(copy, data, size);
        hlz_put64(copy, (uint64_t)data[0] % (size - 7));
        check_scout(copy, size);
        free(copy);
    }
    hlz_gguf g;
    hlz_error e = {.status = HLZ_OK, .message = ""};
    hlz_status st = hlz_gguf_open_memory(&g, data, size, &e);
    if (st != HLZ_OK) {
        REQUIRE(e.status == st && e.message[0] != 0);
        REQUIRE(g.kvs == NULL && g.tensors == NULL && g.names == NULL && g.kv_count == 0);
        return 0;
    }
    REQUIRE(g.data_offset % g.alignment == 0 && g.data_offset >= 24);
    for (uint64_t i = 0; i < g.kv_count; i++) check_kv(&g, &g.kvs[i]);
    for (uint64_t i = 0; i < g.tensor_count; i++) check_tensor(&g, &g.tensors[i]);
    for (uint64_t i = 1; i < g.tensor_count && g.tensor_count <= 512; i++)
        for (uint64_t j = 0; j < i; j++) {
            const hlz_gguf_tensor *a = &g.tensors[i], *b = &g.tensors[j];
            REQUIRE(a->offset + a->size <= b->offset || b->offset + b->size <= a->offset);
        }
    check_round_trip(&g);
    hlz_gguf_close(&g);
    return 0;
}

/* ---- seeds ------------------------------------------------------------------- */

static void write_seed(const char *dir, const char *name, hlz_gguf_writer *w)
{
    char path[4096];
    hlz_error e;
    snprintf(path, sizeof path, "%s/seed-%s.gguf", dir, name);
    FILE *f = fopen(path, "wb");
    if (f == NULL || hlz_gguf_writer_write(w, f, &e) != HLZ_OK) fprintf(stderr, "fuzz_gguf: cannot write %s\n", path);
    if (f) fclose(f);
    hlz_gguf_writer_free(w);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *dir = getenv("HLZ_FUZZ_SEED_DIR");
    if (dir == NULL) return 0;
    static uint8_t data[4096];
    for (size_t i = 0; i < sizeof data; i++) data[i] = (uint8_t)(i * 131 + (i >> 5));
    static const uint32_t u32s[] = {1, 2, 3};
    static const float f32s[] = {0.5f, -1.0f};
    static const bool bools[] = {true, false};
    static const char *const tokens[] = {"<s>", "</s>", "a", "\xe2\x96\x81the"};
    const uint64_t d32x2[] = {32, 2}, d256[] = {256}, d8x2x2[] = {8, 2, 2}, d4[] = {4};
    hlz_gguf_writer w;

    hlz_gguf_writer_init(&w, 0, NULL);
    write_seed(dir, "empty", &w);

    hlz_gguf_writer_init(&w, 0, NULL);
    hlz_gguf_add_string(&w, "general.architecture", "llama", 5);
    hlz_gguf_add_u32(&w, "llama.block_count", 1);
    hlz_gguf_add_f32(&w, "llama.attention.layer_norm_rms_epsilon", 1e-5f);
    hlz_gguf_add_bool(&w, "x.flag", true);
    hlz_gguf_add_i64(&w, "x.i64", -7);
    hlz_gguf_add_f64(&w, "x.f64", 0.25);
    hlz_gguf_add_string_array(&w, "tokenizer.ggml.tokens", tokens, NULL, 4);
    hlz_gguf_add_array(&w, "tokenizer.ggml.scores", HLZ_GGUF_FLOAT32, f32s, 2);
    hlz_gguf_add_array(&w, "x.u32s", HLZ_GGUF_UINT32, u32s, 3);
    hlz_gguf_add_array(&w, "x.bools", HLZ_GGUF_BOOL, bools, 2);
    write_seed(dir, "metadata", &w);

    hlz_gguf_writer_init(&w, 0, NULL);
    hlz_gguf_add_string(&w, "general.architecture", "llama", 5);
    hlz_gguf_add_tensor(&w, "token_embd.weight", HLZ_GGML_F32, 3, d8x2x2, data);
    hlz_gguf_add_tensor(&w, "blk.0.attn_q.weight", HLZ_GGML_Q8_0, 2, d32x2, data);
    hlz_gguf_add_tensor(&w, "blk.0.ffn_up.weight", HLZ_GGML_Q4_K, 1, d256, data);
    hlz_gguf_add_tensor(&w, "blk.0.ffn_down.weight", HLZ_GGML_Q6_K, 1, d256, data);
    hlz_gguf_add_tensor(&w, "output_norm.weight", HLZ_GGML_F16, 1, d4, data);
    hlz_gguf_add_tensor(&w, "x.bf16", HLZ_GGML_BF16, 1, d4, data);
    hlz_gguf_add_tensor(&w, "x.q5_k", 13, 1, d256, data);
    write_seed(dir, "tensors", &w);

    hlz_gguf_writer_init(&w, 64, NULL);
    hlz_gguf_add_u8(&w, "x.u8", 9);
    hlz_gguf_add_tensor(&w, "a", HLZ_GGML_F32, 1, d4, data);
    hlz_gguf_add_tensor(&w, "b", HLZ_GGML_Q8_0, 1, d32x2, data);
    write_seed(dir, "aligned64", &w);
    return 0;
}
