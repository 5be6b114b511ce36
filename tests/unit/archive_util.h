/* archive_util.h - in-memory helpers for tests: compress and decompress
 * byte buffers through the public stream API. */
#ifndef HLZ_ARCHIVE_UTIL_H
#define HLZ_ARCHIVE_UTIL_H

#include "hlz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A temporary FILE holding `size` bytes, positioned at the start. */
static inline FILE *file_from(const void *data, size_t size)
{
    FILE *f = tmpfile();
    if (!f) return NULL;
    if (size && fwrite(data, 1, size, f) != size) { fclose(f); return NULL; }
    rewind(f);
    return f;
}

/* Reads a whole FILE from its start into a malloc'd buffer. */
static inline unsigned char *file_contents(FILE *f, size_t *size)
{
    *size = 0;
    fflush(f);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    rewind(f);
    unsigned char *p = malloc(n > 0 ? (size_t)n : 1);
    if (!p) return NULL;
    *size = fread(p, 1, (size_t)n, f);
    return p;
}

static inline hlz_status compress_buffer(const void *src, size_t size, const hlz_options *o,
                                         unsigned char **out, size_t *out_size)
{
    FILE *in = file_from(src, size), *out_f = tmpfile();
    hlz_error e;
    *out_size = 0;
    hlz_status st = hlz_compress_file(in, out_f, o, NULL, &e);
    *out = file_contents(out_f, out_size);
    fclose(in);
    fclose(out_f);
    return st;
}

/* Decodes an archive; `error` may be NULL. threads: 1.. */
static inline hlz_status decompress_buffer(const void *src, size_t size, int threads, unsigned char **out,
                                           size_t *out_size, hlz_error *error)
{
    FILE *in = file_from(src, size), *out_f = tmpfile();
    hlz_options o;
    hlz_options_default(&o);
    o.threads = threads;
    hlz_status st = hlz_decompress_file(in, out_f, &o, NULL, error);
    *out = file_contents(out_f, out_size);
    fclose(in);
    fclose(out_f);
    return st;
}

#endif
