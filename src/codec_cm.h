/*
 * codec_cm.h - the cm codec (codec id 5): a byte-oriented, bitwise
 * context-mixing compressor for data the language model cannot predict
 * (binary tables, executables, images, text without a model). doc/format.md,
 * "Codec 5: cm", specifies it exactly.
 *
 * Each bit of a chunk is predicted by hashed context models (orders 0-4 and
 * 6, a word model, three sparse contexts, three record contexts), a match
 * model and a bias, mixed in the logistic domain by four weight sets and a
 * final mixer, refined by two secondary estimation stages and coded
 * with a 32-bit carryless binary arithmetic coder. Every step is integer
 * arithmetic on state built in the same order on both sides, so the output
 * is the same on every machine and compiler (the determinism contract).
 *
 * A chunk's state is its own: chunks code and decode independently and in
 * parallel. Memory per chunk in flight: a hash table of 16 << H bytes and a
 * match table of 4 << M bytes, H = clamp(ceil(log2 R) + 2, 12, 22) and
 * M = clamp(ceil(log2 R), 10, 22) for R raw bytes (64 MiB + 4 MiB for a 1 MiB
 * chunk), plus 4.4 MiB of fixed tables: at most 85 MiB.
 */
#ifndef HLZ_CODEC_CM_H
#define HLZ_CODEC_CM_H

#include "internal.h"

/* Bytes of memory the cm codec allocates for a chunk of `raw_size` bytes. */
size_t hlz_cm_memory(size_t raw_size);

/* Codes `size` bytes into dst (capacity dst_capacity); *coded_size is set.
 * HLZ_ERR_CODEC with *coded_size 0 when the output would not fit (the caller
 * stores instead), HLZ_ERR_NOMEM when the tables cannot be allocated. */
hlz_status hlz_cm_encode(const uint8_t *src, size_t size, uint8_t *dst, size_t dst_capacity, size_t *coded_size,
                         hlz_error *error);

/* Decodes exactly raw_size bytes from a cm payload of coded_size bytes.
 * HLZ_ERR_CORRUPT for a bad parameter byte or a payload that ends early or
 * has bytes left over; never reads outside src or writes outside dst. */
hlz_status hlz_cm_decode(const uint8_t *src, size_t coded_size, uint8_t *dst, size_t raw_size, hlz_error *error);

#endif
