/* scout_tensor.c - where the float codec's segments come from (codec_float.h).
 *
 * Chunks are coded independently, but a GGUF or safetensors file describes
 * its tensors once, in a header at its start. The compressor hands the
 * first chunk's bytes to hlz_tensor_map_build, which reads that header when
 * it fits there and keeps a sorted list of tensor byte ranges and their
 * kinds; every chunk is then cut along those ranges. The decoder never sees
 * the map: each payload lists its own segments. When no map covers a chunk
 * (raw float arrays, a header too big for the first chunk) the planner
 * guesses one width (16 or 32 bits) and alignment from the bytes. */
#include "codec_float.h"
#include "gguf.h"

#include <cjson/cJSON.h>
#include <stdlib.h>
#include <string.h>

#define SNIFF_BYTES (64 * 1024)

void hlz_tensor_map_free(hlz_tensor_map *map)
{
    free(map->ranges);
    map->ranges = NULL;
    map->count = 0;
}

static int kind_of_ggml(uint32_t type)
{
    switch (type) {
    case HLZ_GGML_F32: return HLZ_SEG_W32;
    case HLZ_GGML_F16: case HLZ_GGML_BF16: return HLZ_SEG_W16;
    case HLZ_GGML_Q8_0: return HLZ_SEG_Q8_0;
    case HLZ_GGML_Q4_K: return HLZ_SEG_Q4_K;
    case HLZ_GGML_Q6_K: return HLZ_SEG_Q6_K;
    default: return -1;
    }
}

static int compare_range(const void *a, const void *b)
{
    const struct hlz_tensor_range *x = a, *y = b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static void map_gguf(const uint8_t *data, size_t size, hlz_tensor_map *map)
{
    hlz_gguf g;
    if (hlz_gguf_open_prefix(&g, data, size, NULL) != HLZ_OK) return;
    map->ranges = calloc(g.tensor_count ? (size_t)g.tensor_count : 1, sizeof *map->ranges);
    for (uint64_t i = 0; map->ranges && i < g.tensor_count; i++) {
        int kind = kind_of_ggml(g.tensors[i].type);
        if (kind < 0) continue;
        map->ranges[map->count++] = (struct hlz_tensor_range){g.tensors[i].offset, g.tensors[i].size, (uint8_t)kind};
    }
    hlz_gguf_close(&g);
}

/* safetensors: u64 n, n bytes of JSON {"name": {"dtype", "shape", "data_offsets": [begin, end]}},
 * then the data; offsets count from its start. */
static void map_safetensors(const uint8_t *data, size_t size, hlz_tensor_map *map)
{
    if (size < 10) return;
    uint64_t n = hlz_le64(data);
    if (n < 2 || n > size - 8 || data[8] != '{') return;
    cJSON *root = cJSON_ParseWithLength((const char *)data + 8, (size_t)n);
    if (!cJSON_IsObject(root)) { cJSON_Delete(root); return; }
    size_t count = (size_t)cJSON_GetArraySize(root);
    map->ranges = calloc(count ? count : 1, sizeof *map->ranges);
    const cJSON *t;
    cJSON_ArrayForEach(t, root) {
        if (!map->ranges) break;
        const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(t, "dtype");
        const cJSON *offs = cJSON_GetObjectItemCaseSensitive(t, "data_offsets");
        if (!cJSON_IsString(dtype) || !cJSON_IsArray(offs) || cJSON_GetArraySize(offs) != 2) continue;
        const cJSON *b = cJSON_GetArrayItem(offs, 0), *e = cJSON_GetArrayItem(offs, 1);
        if (!cJSON_IsNumber(b) || !cJSON_IsNumber(e) || b->valuedouble < 0 || e->valuedouble < b->valuedouble ||
            e->valuedouble > 9e15)
            continue;
        int kind = strcmp(dtype->valuestring, "F32") == 0 ? HLZ_SEG_W32
                   : strcmp(dtype->valuestring, "F16") == 0 || strcmp(dtype->valuestring, "BF16") == 0 ? HLZ_SEG_W16
                   : -1;
        if (kind < 0) continue;
        uint64_t begin = (uint64_t)b->valuedouble, end = (uint64_t)e->valuedouble;
        map->ranges[map->count++] = (struct hlz_tensor_range){8 + n + begin, end - begin, (uint8_t)kind};
    }
    cJSON_Delete(root);
}

void hlz_tensor_map_build(const uint8_t *data, size_t size, hlz_tensor_map *map)
{
    map->count = 0;
    map->ranges = NULL;
    if (size >= 4 && memcmp(data, "GGUF", 4) == 0) map_gguf(data, size, map);
    else map_safetensors(data, size, map);
    if (map->count > 1) qsort(map->ranges, map->count, sizeof *map->ranges, compare_range);
    /* Overlapping ranges (a hostile safetensors header) are dropped. */
    size_t kept = 0;
    for (size_t i = 0; i < map->count; i++) {
        const struct hlz_tensor_range *r = &map->ranges[i];
        if (kept && map->ranges[kept - 1].offset + map->ranges[kept - 1].size > r->offset) continue;
        map->ranges[kept++] = *r;
    }
    map->count = kept;
    if (kept == 0) hlz_tensor_map_free(map);
}

typedef struct {
    hlz_segment *segs;
    size_t n;
    uint64_t at; /* chunk bytes covered so far */
} planner;

static void add(planner *p, uint8_t kind, uint64_t size)
{
    if (size == 0) return;
    if (p->n && p->segs[p->n - 1].kind == kind) p->segs[p->n - 1].size += size;
    else p->segs[p->n++] = (hlz_segment){kind, size};
    p->at += size;
}

/* Width and alignment by the estimated cost of a sample. */
static size_t sniff(const uint8_t *data, size_t size, hlz_segment *segs, unsigned *percent)
{
    size_t sample = size < SNIFF_BYTES ? size : SNIFF_BYTES;
    uint64_t best = (uint64_t)sample * 8;
    unsigned best_kind = 0, best_shift = 0;
    for (unsigned kind = HLZ_SEG_W16; kind <= HLZ_SEG_W32; kind++) {
        uint32_t w = hlz_segment_width(kind);
        for (unsigned shift = 0; shift < w && shift + w <= sample; shift++) {
            size_t n = (sample - shift) / w;
            uint64_t bits = hlz_float_estimate(kind, data + shift, n) + (uint64_t)(sample - n * w) * 8;
            if (bits < best) best = bits, best_kind = kind, best_shift = shift;
        }
    }
    *percent = sample ? (unsigned)(best * 100 / ((uint64_t)sample * 8)) : 100;
    if (best_kind == 0) return 0;
    uint32_t w = hlz_segment_width(best_kind);
    planner p = {segs, 0, 0};
    add(&p, HLZ_SEG_BYTES, best_shift);
    add(&p, (uint8_t)best_kind, (size - best_shift) / w * w);
    add(&p, HLZ_SEG_BYTES, size - p.at);
    return p.n;
}

size_t hlz_float_plan(const hlz_tensor_map *map, uint64_t offset, const uint8_t *data, size_t size,
                      hlz_segment *segs, unsigned *percent)
{
    planner p = {segs, 0, 0};
    bool typed = false;
    uint64_t end = offset + size;
    for (size_t i = 0; map && i < map->count && p.n + 2 < HLZ_SEGMENTS_MAX; i++) {
        const struct hlz_tensor_range *r = &map->ranges[i];
        if (r->offset + r->size <= offset + p.at) continue;
        if (r->offset >= end) break;
        uint64_t w = hlz_segment_width(r->kind);
        uint64_t lo = offset + p.at > r->offset ? offset + p.at : r->offset;
        uint64_t hi = r->offset + r->size < end ? r->offset + r->size : end;
        uint64_t s = r->offset + (lo - r->offset + w - 1) / w * w, e = r->offset + (hi - r->offset) / w * w;
        if (e <= s) continue;
        add(&p, HLZ_SEG_BYTES, s - offset - p.at);
        add(&p, r->kind, e - s);
        typed = true;
    }
    if (!typed) return sniff(data, size, segs, percent);
    add(&p, HLZ_SEG_BYTES, size - p.at);
    *percent = 0;
    return p.n;
}
