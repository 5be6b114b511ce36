/* convert.h - shared pieces of the hlz-convert program. */
#ifndef HLZ_CONVERT_H
#define HLZ_CONVERT_H

#include "gguf.h"
#include "kernels.h"

typedef struct {
    hlz_gguf_writer w;
    uint32_t qtype;         /* --type: HLZ_GGML_F32, _BF16, _Q8_0 or _Q4_K (the Q4_K_M-style mix) */
    int flat;               /* --k-flat: K-quant tensors whose rows are not whole blocks as 1-D tensors */
    uint32_t layers;        /* block count, for the mix's per-layer choice (0: unknown) */
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
/* Adds a [rows x cols] fp32 matrix as --type says (see pick_type in hlz-convert.c). */
hlz_status add_matrix(converter *c, const char *name, const float *data, uint64_t rows, uint64_t cols);
/* Adds a fp32 vector. */
hlz_status add_vector(converter *c, const char *name, const float *data, uint64_t n);

int convert_llama2c(converter *c, const char *checkpoint, const char *tokenizer, const char *name);
int convert_hf(converter *c, const char *dir, const char *name);
/* Another GGUF's metadata and tensors, every tensor dequantized and stored again as --type says. */
int convert_gguf(converter *c, const char *path);
/* A vocabulary-only GGUF from a tokenizer.json (like llama.cpp's ggml-vocab files). */
int convert_tokenizer(converter *c, const char *path, const char *name);
/* Adds the tokenizer of a Hugging Face tokenizer.json (and the tokenizer_config.json
 * beside it, if any) as tokenizer.ggml.* metadata; 0 on success. */
int add_tokenizer_json(converter *c, const char *path);


#endif
