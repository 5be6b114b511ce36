/* convert.h - shared pieces of the hlz-convert program. */
#ifndef HLZ_CONVERT_H
#define HLZ_CONVERT_H

#include "gguf.h"
#include "kernels.h"

typedef struct {
    hlz_gguf_writer w;
    int q8;                 /* write 2-D weights as Q8_0 where rows allow it */
    void **owned;
    size_t owned_count;
} converter;

extern const char *program;

/* Prints "hlz-convert: WHAT: WHY" and returns 1. */
int fail(const char *what, const char *why);
/* The whole file at `path` (malloc'd), or NULL with *why set. */
unsigned char *read_file(const char *path, size_t *size, const char **why);
/* Registers malloc'd `p` to be freed with the converter; 0 on success. */
int adopt(converter *c, void *p);
/* A buffer freed with the converter. */
void *own(converter *c, size_t bytes);
/* Adds a [rows x cols] fp32 matrix (Q8_0 with --type q8_0 when rows are whole blocks). */
hlz_status add_matrix(converter *c, const char *name, const float *data, uint64_t rows, uint64_t cols);
/* Adds a fp32 vector. */
hlz_status add_vector(converter *c, const char *name, const float *data, uint64_t n);

int convert_llama2c(converter *c, const char *checkpoint, const char *tokenizer, const char *name);
int convert_hf(converter *c, const char *dir, const char *name);
/* A vocabulary-only GGUF from a tokenizer.json (like llama.cpp's ggml-vocab files). */
int convert_tokenizer(converter *c, const char *path, const char *name);
/* Adds the tokenizer of a Hugging Face tokenizer.json (and the tokenizer_config.json
 * beside it, if any) as tokenizer.ggml.* metadata; 0 on success. */
int add_tokenizer_json(converter *c, const char *path);


#endif
