/*
 * float_bench.c - the float codec on real weights: ratio against zstd -19
 * on the same bytes (same run), the byte-marginal ceiling, and speed.
 *
 *   float_bench [-T threads] [-r repeats] [-z] KIND:PATH ...   (-z: no zstd -19 column, 0 there)
 *
 * KIND is llama2c (a llama2.c checkpoint: its fp32 weights, and bf16 and
 * fp16 derived from them by round-to-nearest-even, labelled as derived),
 * bf16, fp16, fp32 (raw little-endian arrays) or file (any file, planned as
 * hlz plans it: a GGUF or safetensors header in the first chunk, else a
 * guessed float width). Chunks are 1 MiB. Speed: the input tiled to at
 * least 64 MiB (files of 8 MiB or more: as they are), every chunk encoded then decoded (verified), the median of
 * the repeats, on `threads` threads (hlz_parallel_for over chunks), in wall
 * time and in process CPU time (which a shared machine disturbs less), and
 * zstd -3 on the same chunks in the same repeats as a yardstick.
 * Ceiling: 8w / sum of the order-0 entropies of the w byte positions of a
 * w-byte value (16/(H_high+H_low) for bf16); for files whose tensors are
 * mostly 16- or 32-bit floats, the same over those tensors' values pooled;
 * for other files, 8/H of all bytes.
 */
#include "codec_float.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zstd.h>

#define CHUNK ((size_t)1 << 20)
#define TILE_MIN ((size_t)64 << 20)

static double clock_of(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static double now(void) { return clock_of(CLOCK_MONOTONIC); }
static double cpu_now(void) { return clock_of(CLOCK_PROCESS_CPUTIME_ID); }

static double entropy(const uint8_t *p, size_t n, size_t stride)
{
    size_t c[256] = {0}, m = 0;
    for (size_t i = 0; i < n; i += stride) c[p[i]]++, m++;
    double h = 0;
    for (int s = 0; s < 256; s++) if (c[s]) h -= (double)c[s] / (double)m * log2((double)c[s] / (double)m);
    return h;
}

typedef struct {
    const uint8_t *data;
    size_t size, nchunks;
    int kind; /* a segment kind, or -1: plan as hlz does */
    hlz_tensor_map map;
    uint8_t **coded;
    size_t *coded_size;
    uint8_t *back;
    int failed;
} job;

static void encode_one(void *ctx, size_t i)
{
    job *j = ctx;
    size_t off = i * CHUNK, n = j->size - off < CHUNK ? j->size - off : CHUNK;
    hlz_segment segs[HLZ_SEGMENTS_MAX];
    size_t nseg;
    uint32_t w = j->kind >= 0 ? hlz_segment_width((unsigned)j->kind) : 1;
    if (j->kind >= 0) {
        nseg = 0;
        if (n / w) segs[nseg++] = (hlz_segment){(uint8_t)j->kind, n / w * w};
        if (n % w) segs[nseg++] = (hlz_segment){HLZ_SEG_BYTES, n % w};
    } else {
        unsigned percent;
        nseg = hlz_float_plan(&j->map, off, j->data + off, n, segs, &percent);
        if (nseg == 0) segs[0] = (hlz_segment){HLZ_SEG_BYTES, n}, nseg = 1;
    }
    hlz_error e;
    if (hlz_float_encode(segs, nseg, 9, j->data + off, n, j->coded[i], 2 * n + 1024, &j->coded_size[i], &e) != HLZ_OK)
        j->failed = 1;
}

static void decode_one(void *ctx, size_t i)
{
    job *j = ctx;
    size_t off = i * CHUNK, n = j->size - off < CHUNK ? j->size - off : CHUNK;
    hlz_error e;
    if (hlz_float_decode(j->coded[i], j->coded_size[i], j->back + off, n, &e) != HLZ_OK) j->failed = 1;
}

/* zstd -3 on the same chunks: the yardstick measured beside the codec. */
static void zstd_encode_one(void *ctx, size_t i)
{
    job *j = ctx;
    size_t off = i * CHUNK, n = j->size - off < CHUNK ? j->size - off : CHUNK;
    size_t z = ZSTD_compress(j->coded[i], 2 * n + 1024, j->data + off, n, 3);
    if (ZSTD_isError(z)) j->failed = 1;
    else j->coded_size[i] = z;
}

static void zstd_decode_one(void *ctx, size_t i)
{
    job *j = ctx;
    size_t off = i * CHUNK, n = j->size - off < CHUNK ? j->size - off : CHUNK;
    if (ZSTD_decompress(j->back + off, n, j->coded[i], j->coded_size[i]) != n) j->failed = 1;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int job_init(job *j, const uint8_t *data, size_t size, int kind)
{
    memset(j, 0, sizeof *j);
    j->data = data, j->size = size, j->kind = kind;
    j->nchunks = (size + CHUNK - 1) / CHUNK;
    j->coded = calloc(j->nchunks, sizeof *j->coded);
    j->coded_size = calloc(j->nchunks, sizeof *j->coded_size);
    j->back = malloc(size);
    if (!j->coded || !j->coded_size || !j->back) return -1;
    for (size_t i = 0; i < j->nchunks; i++) if (!(j->coded[i] = malloc(2 * CHUNK + 1024))) return -1;
    if (kind < 0) hlz_tensor_map_build(data, size < CHUNK ? size : CHUNK, &j->map);
    return 0;
}

static void job_free(job *j)
{
    for (size_t i = 0; j->coded && i < j->nchunks; i++) free(j->coded[i]);
    free(j->coded), free(j->coded_size), free(j->back);
    hlz_tensor_map_free(&j->map);
}

static int no_zstd19; /* -z: skip the zstd -19 ratio (slow on large inputs; the first pass has it) */

static void bench(const char *label, const uint8_t *data, size_t size, int kind, int threads, int repeats)
{
    /* Ratio on the bytes themselves. */
    job j;
    if (job_init(&j, data, size, kind) != 0) { fprintf(stderr, "out of memory\n"); exit(1); }
    hlz_parallel_for(1, j.nchunks, encode_one, &j);
    hlz_parallel_for(1, j.nchunks, decode_one, &j);
    size_t coded = 0;
    for (size_t i = 0; i < j.nchunks; i++) coded += j.coded_size[i];
    if (j.failed || memcmp(j.back, data, size) != 0) { fprintf(stderr, "%s: ROUND TRIP FAILED\n", label); exit(1); }
    job_free(&j);
    size_t zb = ZSTD_compressBound(size), zs = (size_t)-1; /* an error code */
    uint8_t *z = no_zstd19 ? NULL : malloc(zb);
    if (z) zs = ZSTD_compress(z, zb, data, size, 19);
    free(z);
    uint32_t w = kind >= 0 ? hlz_segment_width((unsigned)kind) : 1;
    double h = 0;
    for (uint32_t k = 0; k < w; k++) h += entropy(data + k, size - k, w);
    double ceiling = 8.0 * w / h;
    if (kind < 0) {
        /* A GGUF or safetensors file: the ceiling of its 16- or 32-bit tensors
         * (16/(H_high+H_low) of all bf16/fp16 values pooled, or the 4-byte
         * analogue), when those are most of the file; else 8/H of its bytes. */
        hlz_tensor_map map;
        hlz_tensor_map_build(data, size < CHUNK ? size : CHUNK, &map);
        for (unsigned fk = HLZ_SEG_W16; fk <= HLZ_SEG_W32; fk++) {
            uint32_t fw = hlz_segment_width(fk);
            size_t total = 0;
            for (size_t r = 0; r < map.count; r++) if (map.ranges[r].kind == fk) total += (size_t)map.ranges[r].size;
            if (total * 2 < size) continue;
            uint8_t *pool = malloc(total), *at = pool;
            for (size_t r = 0; r < map.count && pool; r++)
                if (map.ranges[r].kind == fk && map.ranges[r].offset + map.ranges[r].size <= size)
                    memcpy(at, data + map.ranges[r].offset, (size_t)map.ranges[r].size), at += map.ranges[r].size;
            double hh = 0;
            for (uint32_t k = 0; pool && k < fw; k++) hh += entropy(pool + k, (size_t)(at - pool) - k, fw);
            if (pool && hh > 0) ceiling = 8.0 * fw / hh;
            free(pool);
        }
        hlz_tensor_map_free(&map);
    }

    /* Speed on a tiled copy. */
    /* Files of 8 MiB or more are timed as they are: a tiled GGUF's later
     * copies lie outside its header's tensor map. */
    size_t copies = kind < 0 && size >= ((size_t)8 << 20) ? 1 : (TILE_MIN + size - 1) / size, tsize = copies * size;
    uint8_t *tiled = malloc(tsize);
    if (!tiled) { fprintf(stderr, "out of memory\n"); exit(1); }
    for (size_t c = 0; c < copies; c++) memcpy(tiled + c * size, data, size);
    if (job_init(&j, tiled, tsize, kind) != 0) { fprintf(stderr, "out of memory\n"); exit(1); }
    /* Each repeat times the float codec then zstd -3 on the same chunks, so
     * that both see the same load; wall and process CPU time, medians. */
    double *t[6];
    for (int k = 0; k < 6; k++) t[k] = calloc((size_t)repeats, sizeof *t[k]);
    job zj;
    if (job_init(&zj, tiled, tsize, kind) != 0) { fprintf(stderr, "out of memory\n"); exit(1); }
    for (int r = 0; r < repeats; r++) {
        double t0 = now(), c0 = cpu_now();
        hlz_parallel_for(threads, j.nchunks, encode_one, &j);
        double t1 = now(), c1 = cpu_now();
        hlz_parallel_for(threads, j.nchunks, decode_one, &j);
        double t2 = now(), c2 = cpu_now();
        hlz_parallel_for(threads, zj.nchunks, zstd_encode_one, &zj);
        double t3 = now();
        hlz_parallel_for(threads, zj.nchunks, zstd_decode_one, &zj);
        double t4 = now();
        t[0][r] = t1 - t0, t[1][r] = t2 - t1, t[2][r] = c1 - c0, t[3][r] = c2 - c1, t[4][r] = t3 - t2, t[5][r] = t4 - t3;
    }
    if (j.failed || memcmp(j.back, tiled, tsize) != 0) { fprintf(stderr, "%s: TILED ROUND TRIP FAILED\n", label); exit(1); }
    if (zj.failed || memcmp(zj.back, tiled, tsize) != 0) { fprintf(stderr, "%s: ZSTD ROUND TRIP FAILED\n", label); exit(1); }
    double gbs[6];
    for (int k = 0; k < 6; k++) {
        qsort(t[k], (size_t)repeats, sizeof *t[k], cmp_double);
        gbs[k] = (double)tsize / t[k][repeats / 2] / 1e9;
    }
    printf("| %s | %zu | %.4f | %.4f | %.4f | %d | %.3f | %.3f | %.3f | %.3f | %.3f | %.3f | %.2f |\n", label, size,
           (double)size / (double)coded, ZSTD_isError(zs) ? 0.0 : (double)size / (double)zs, ceiling, threads,
           gbs[0], gbs[1], gbs[2], gbs[3], gbs[4], gbs[5], gbs[1] / gbs[5]);
    fflush(stdout);
    for (int k = 0; k < 6; k++) free(t[k]);
    job_free(&zj);
    job_free(&j);
    free(tiled);
}

static uint8_t *load(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *p = malloc(n > 0 ? (size_t)n : 1);
    if (p && fread(p, 1, (size_t)n, f) != (size_t)n) { free(p); p = NULL; }
    fclose(f);
    *size = (size_t)n;
    return p;
}

int main(int argc, char **argv)
{
    int threads = 1, repeats = 5;
    printf("| input | bytes | float ratio | zstd -19 ratio | byte-marginal ceiling | threads | compress GB/s | "
           "decompress GB/s | compress GB/s (CPU time) | decompress GB/s (CPU time) | zstd -3 compress GB/s | "
           "zstd -3 decompress GB/s | decompress / zstd -3 decompress |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (int a = 1; a < argc; a++) {
        if (strcmp(argv[a], "-T") == 0 && a + 1 < argc) { threads = atoi(argv[++a]); continue; }
        if (strcmp(argv[a], "-r") == 0 && a + 1 < argc) { repeats = atoi(argv[++a]); continue; }
        if (strcmp(argv[a], "-z") == 0) { no_zstd19 = 1; continue; }
        char *colon = strchr(argv[a], ':');
        if (!colon) { fprintf(stderr, "usage: float_bench [-T n] [-r n] KIND:PATH ...\n"); return 2; }
        *colon = 0;
        const char *kind = argv[a], *path = colon + 1;
        size_t size;
        uint8_t *data = load(path, &size);
        if (!data) { fprintf(stderr, "%s: cannot read\n", path); return 1; }
        const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
        char label[512];
        if (strcmp(kind, "llama2c") == 0) {
            size_t n = (size - 28) / 4;
            uint8_t *bf = malloc(2 * n), *h = malloc(2 * n);
            for (size_t i = 0; i < n; i++) {
                uint32_t u = hlz_le32(data + 28 + 4 * i);
                uint16_t b = (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
                hlz_put16(bf + 2 * i, b);
                float f;
                memcpy(&f, &u, 4);
                _Float16 x = (_Float16)f; /* round to nearest even */
                memcpy(h + 2 * i, &x, 2);
            }
            snprintf(label, sizeof label, "%s fp32", base);
            bench(label, data + 28, 4 * n, HLZ_SEG_W32, threads, repeats);
            snprintf(label, sizeof label, "%s bf16 (derived)", base);
            bench(label, bf, 2 * n, HLZ_SEG_W16, threads, repeats);
            snprintf(label, sizeof label, "%s fp16 (derived)", base);
            bench(label, h, 2 * n, HLZ_SEG_W16, threads, repeats);
            for (size_t i = 0; i < n; i++) { memset(data + 28 + 4 * i, 0, 2); memcpy(data + 28 + 4 * i + 2, bf + 2 * i, 2); }
            snprintf(label, sizeof label, "%s fp32 upcast from bf16 (derived)", base);
            bench(label, data + 28, 4 * n, HLZ_SEG_W32, threads, repeats);
            free(bf), free(h);
        } else {
            int k = strcmp(kind, "bf16") == 0 || strcmp(kind, "fp16") == 0 ? HLZ_SEG_W16
                    : strcmp(kind, "fp32") == 0 ? HLZ_SEG_W32 : -1;
            snprintf(label, sizeof label, "%s (%s)", base, kind);
            bench(label, data, size, k, threads, repeats);
        }
        free(data);
    }
    return 0;
}
