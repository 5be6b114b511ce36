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

/* A [rows x cols] fp32 matrix (row-major, a row is `cols` long). */
hlz_status add_matrix(converter *c, const char *name, const float *data, uint64_t rows, uint64_t cols)
{
    uint64_t dims[2] = {cols, rows};
    if (c->q8 && cols % 32 == 0) {
        hlz_q8_0_block *q = own(c, rows * cols / 32 * sizeof *q);
        if (!q) return HLZ_ERR_NOMEM;
        for (uint64_t r = 0; r < rows; r++) hlz_quantize_row_q8_0(data + r * cols, cols, q + r * (cols / 32));
        return hlz_gguf_add_tensor(&c->w, name, HLZ_GGML_Q8_0, 2, dims, q);
    }
    return hlz_gguf_add_tensor(&c->w, name, HLZ_GGML_F32, 2, dims, data);
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
    fprintf(f, "Usage: hlz-convert llama2c CHECKPOINT TOKENIZER OUT.gguf [--type f32|q8_0] [--name NAME]\n"
               "       hlz-convert hf DIR OUT.gguf [--type f32|q8_0] [--name NAME]\n"
               "       hlz-convert tokenizer TOKENIZER.json OUT.gguf [--name NAME]\n"
               "  llama2c: a llama2.c checkpoint and its tokenizer.bin\n"
               "  hf:      a Hugging Face directory: config.json, *.safetensors, tokenizer.json (optional)\n"
               "  tokenizer: a vocabulary-only GGUF (no weights), for hlz-lm tokenize\n"
               "  --type:  q8_0 stores 2-D weights as Q8_0 (rows that are whole blocks), f32 (default) as float32\n");
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
            if (strcmp(t, "q8_0") == 0) c.q8 = 1;
            else if (strcmp(t, "f32") != 0) return fail(t, "unknown type (f32 or q8_0)");
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
