/*
 * hlz-convert.c - turns other model formats into GGUF files hlz can run:
 * argument parsing, shared helpers and the output file. The formats are in
 * convert_llama2c.c and convert_hf.c.
 */
#include "convert.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *program = "hlz-convert";

int fail(const char *what, const char *why)
{
    fprintf(stderr, "%s: %s: %s\n", program, what, why);
    return 1;
}

unsigned char *read_file(const char *path, size_t *size, const char **why)
{
    FILE *f = fopen(path, "rb");
    if (!f) { *why = strerror(errno); return NULL; }
    unsigned char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap ? 2 * cap : 1 << 20;
            unsigned char *grown = realloc(buf, cap);
            if (!grown) { free(buf); fclose(f); *why = "out of memory"; return NULL; }
            buf = grown;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) break;
    }
    int err = ferror(f);
    fclose(f);
    if (err) { free(buf); *why = "read error"; return NULL; }
    *size = n;
    return buf;
}

int adopt(converter *c, void *p)
{
    void **grown = realloc(c->owned, (c->owned_count + 1) * sizeof *grown);
    if (!grown) return -1;
    c->owned = grown;
    c->owned[c->owned_count++] = p;
    return 0;
}

void *own(converter *c, size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    if (p && adopt(c, p) != 0) {
        free(p);
        return NULL;
    }
    return p;
}

/* llama.cpp's Q4_K_M rule for attn_v and ffn_down: more bits in the first
 * and last eighth of the layers and in every third layer between. */
static int more_bits(uint32_t layer, uint32_t layers)
{
    return layer < layers / 8 || layer >= 7 * layers / 8 || (layer >= layers / 8 && (layer - layers / 8) % 3 == 2);
}

/* The type of a 2-D weight: --type q8_0 gives Q8_0; --type q4_k gives Q4_K,
 * or Q6_K for output.weight and the more_bits layers of attn_v and
 * ffn_down (a Q4_K_M-style mix). K-quants need rows of whole 256-value
 * blocks: other tensors get Q8_0 (llama.cpp also falls back, to Q5_0/Q8_0),
 * or with --k-flat their K type over the tensor flattened to 1-D. */
static uint32_t pick_type(const converter *c, const char *name, uint64_t cols, uint64_t count, int *flat)
{
    *flat = 0;
    if (c->qtype == HLZ_GGML_F32 || c->qtype == HLZ_GGML_BF16) return c->qtype;
    if (c->qtype == HLZ_GGML_Q4_K) {
        uint32_t t = HLZ_GGML_Q4_K;
        unsigned layer;
        if (strcmp(name, "output.weight") == 0) t = HLZ_GGML_Q6_K;
        else if ((strstr(name, ".attn_v.") || strstr(name, ".ffn_down.")) && sscanf(name, "blk.%u.", &layer) == 1 &&
                 more_bits(layer, c->layers ? c->layers : 1))
            t = HLZ_GGML_Q6_K;
        if (cols % 256 == 0) return t;
        if (c->flat && count % 256 == 0) { *flat = 1; return t; }
    }
    return cols % 32 == 0 ? HLZ_GGML_Q8_0 : HLZ_GGML_F32;
}

/* A [rows x cols] fp32 matrix (row-major, a row is `cols` long). */
hlz_status add_matrix(converter *c, const char *name, const float *data, uint64_t rows, uint64_t cols)
{
    uint64_t dims[2] = {cols, rows}, count = rows * cols;
    int flat;
    uint32_t type = pick_type(c, name, cols, count, &flat);
    if (type == HLZ_GGML_F32) return hlz_gguf_add_tensor(&c->w, name, HLZ_GGML_F32, 2, dims, data);
    if (type == HLZ_GGML_BF16) {
        uint8_t *b = own(c, count * 2);
        if (!b) return HLZ_ERR_NOMEM;
        for (uint64_t i = 0; i < count; i++) { /* round to nearest even; NaNs stay quiet NaNs */
            uint32_t u;
            memcpy(&u, &data[i], 4);
            uint16_t h = (u & 0x7fffffff) > 0x7f800000 ? (uint16_t)((u >> 16) | 0x40) : (uint16_t)((u + 0x7fff + ((u >> 16) & 1)) >> 16);
            hlz_put16(b + 2 * i, h);
        }
        return hlz_gguf_add_tensor(&c->w, name, HLZ_GGML_BF16, 2, dims, b);
    }
    const hlz_ggml_type_info *info = hlz_ggml_type(type);
    uint8_t *q = own(c, count / info->block_size * info->type_size);
    if (!q) return HLZ_ERR_NOMEM;
    hlz_error e;
    hlz_status st = HLZ_OK;
    if (flat) st = hlz_ggml_quantize_row(type, data, q, count, &e);
    else
        for (uint64_t r = 0; r < rows && st == HLZ_OK; r++)
            st = hlz_ggml_quantize_row(type, data + r * cols, q + r * (cols / info->block_size) * info->type_size, cols, &e);
    if (st != HLZ_OK) return st;
    return flat ? hlz_gguf_add_tensor(&c->w, name, type, 1, &count, q) : hlz_gguf_add_tensor(&c->w, name, type, 2, dims, q);
}

hlz_status add_vector(converter *c, const char *name, const float *data, uint64_t n)
{
    return hlz_gguf_add_tensor(&c->w, name, HLZ_GGML_F32, 1, &n, data);
}

/* Writes the GGUF to a temporary name beside `out` and renames it when complete. */
static int write_output(converter *c, const char *out)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp%ld", out, (long)getpid()) >= (int)sizeof tmp) return fail(out, "name too long");
    FILE *f = fopen(tmp, "wb");
    if (!f) return fail(out, strerror(errno));
    hlz_error e = {0};
    hlz_status st = hlz_gguf_writer_write(&c->w, f, &e);
    if (fclose(f) != 0 && st == HLZ_OK) st = hlz_fail(&e, HLZ_ERR_IO, "write error: %s", strerror(errno));
    if (st == HLZ_OK && rename(tmp, out) != 0) st = hlz_fail(&e, HLZ_ERR_IO, "%s", strerror(errno));
    if (st != HLZ_OK) {
        unlink(tmp);
        return fail(out, e.message[0] ? e.message : hlz_status_name(st));
    }
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f, "Usage: hlz-convert llama2c CHECKPOINT TOKENIZER OUT.gguf [--type T] [--k-flat] [--name NAME]\n"
               "       hlz-convert hf DIR OUT.gguf [--type T] [--k-flat] [--name NAME]\n"
               "       hlz-convert gguf IN.gguf OUT.gguf [--type T] [--k-flat]\n"
               "       hlz-convert tokenizer TOKENIZER.json OUT.gguf [--name NAME]\n"
               "  llama2c: a llama2.c checkpoint and its tokenizer.bin\n"
               "  hf:      a Hugging Face directory: config.json, *.safetensors, tokenizer.json (optional)\n"
               "  tokenizer: a vocabulary-only GGUF (no weights), for hlz-lm tokenize\n"
               "  gguf:    another GGUF, every tensor dequantized and stored again as --type says\n"
               "  --type:  f32 (default) stores weights as float32; bf16 stores 2-D weights as bf16 (rounded to\n"
               "           nearest even); q8_0 stores 2-D weights as Q8_0 (rows that\n"
               "           are whole blocks); q4_k as Q4_K, with Q6_K for output.weight and some layers' attn_v\n"
               "           and ffn_down (a Q4_K_M-style mix); rows that are not whole 256-value blocks: Q8_0\n"
               "  --k-flat: K-quantize those over the tensor flattened to 1-D instead (not a runnable model;\n"
               "           for measuring compression of K-quant blocks on small models)\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 1 : 0;
    }
    converter c = {0};
    const char *name = "model";
    int positional = 0;
    const char *args[4] = {0};
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--type") == 0 && i + 1 < argc) {
            const char *t = argv[++i];
            if (strcmp(t, "q8_0") == 0) c.qtype = HLZ_GGML_Q8_0;
            else if (strcmp(t, "q4_k") == 0) c.qtype = HLZ_GGML_Q4_K;
            else if (strcmp(t, "f32") == 0) c.qtype = HLZ_GGML_F32;
            else if (strcmp(t, "bf16") == 0) c.qtype = HLZ_GGML_BF16;
            else return fail(t, "unknown type (f32, bf16, q8_0 or q4_k)");
        } else if (strcmp(argv[i], "--k-flat") == 0) {
            c.flat = 1;
        } else if (strcmp(argv[i], "--name") == 0 && i + 1 < argc) {
            name = argv[++i];
        } else if (positional < 4) {
            args[positional++] = argv[i];
        } else {
            usage(stderr);
            return 1;
        }
    }
    hlz_error e = {0};
    if (hlz_gguf_writer_init(&c.w, 0, &e) != HLZ_OK) return fail("writer", e.message);
    int rc;
    if (strcmp(argv[1], "llama2c") == 0 && positional == 3) {
        rc = convert_llama2c(&c, args[0], args[1], name);
        if (rc == 0) rc = write_output(&c, args[2]);
    } else if (strcmp(argv[1], "tokenizer") == 0 && positional == 2) {
        rc = convert_tokenizer(&c, args[0], name);
        if (rc == 0) rc = write_output(&c, args[1]);
    } else if (strcmp(argv[1], "gguf") == 0 && positional == 2) {
        rc = convert_gguf(&c, args[0]);
        if (rc == 0) rc = write_output(&c, args[1]);
    } else if (strcmp(argv[1], "hf") == 0 && positional == 2) {
        rc = convert_hf(&c, args[0], name);
        if (rc == 0) rc = write_output(&c, args[1]);
    } else {
        usage(stderr);
        rc = 1;
    }
    hlz_gguf_writer_free(&c.w);
    for (size_t i = 0; i < c.owned_count; i++) free(c.owned[i]);
    free(c.owned);
    return rc;
}
