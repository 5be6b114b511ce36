/*
 * codec_float.h - the float codec (codec 3): model weights split into byte
 * fields, the predictable fields coded with a static rANS table, the
 * near-random ones stored. Internal, not installed. doc/format.md
 * ("Codec 3: float") specifies the payload.
 *
 * A payload is a list of segments that tile the chunk: opaque bytes (zstd)
 * or an array of structs of one kind (16-bit floats, 32-bit floats, Q8_0,
 * Q4_K or Q6_K blocks). The decoder needs nothing but the payload; how the
 * encoder finds the segments (a GGUF or safetensors header, or a guess from
 * the bytes) is its own business (scout_tensor.c).
 */
#ifndef HLZ_CODEC_FLOAT_H
#define HLZ_CODEC_FLOAT_H

#include "internal.h"

enum {
    HLZ_SEG_BYTES = 0, /* opaque: zstd or raw */
    HLZ_SEG_W16 = 1,   /* bf16 or fp16 values (the same split serves both) */
    HLZ_SEG_W32 = 2,   /* fp32 values */
    HLZ_SEG_Q8_0 = 3,  /* 34-byte blocks */
    HLZ_SEG_Q4_K = 4,  /* 144-byte blocks */
    HLZ_SEG_Q6_K = 5,  /* 210-byte blocks */
    HLZ_SEG_W16J = 6,  /* bf16 in the joint layout: the encoder picks it for W16 segments where it is
                          smaller; passed in, it forces that layout */
    HLZ_SEG_KIND_COUNT
};

typedef struct {
    uint8_t kind;
    uint64_t size; /* raw bytes; a multiple of the struct width */
} hlz_segment;

/* Bytes per struct of a segment kind (1 for bytes). */
uint32_t hlz_segment_width(unsigned kind);

/* Codes `size` bytes as the given segments (their sizes must sum to size)
 * into dst. HLZ_ERR_CODEC when the output would exceed dst_capacity. */
hlz_status hlz_float_encode(const hlz_segment *segs, size_t nseg, int level, const uint8_t *src,
                            size_t size, uint8_t *dst, size_t dst_capacity, size_t *coded_size,
                            hlz_error *error);

/* Decodes a float payload into exactly raw_size bytes; HLZ_ERR_CORRUPT otherwise. */
hlz_status hlz_float_decode(const uint8_t *src, size_t coded_size, uint8_t *dst, size_t raw_size,
                            hlz_error *error);

/* Estimated coded bits of `n` structs of `kind` at src (for planning). */
uint64_t hlz_float_estimate(unsigned kind, const uint8_t *src, size_t n);

/* ---- scout_tensor.c --------------------------------------------------- */

#define HLZ_SEGMENTS_MAX 4096

/* What the scout knows of the whole input: tensor byte ranges read from a
 * GGUF or safetensors header at its start. Empty for other inputs. */
typedef struct {
    size_t count;
    struct hlz_tensor_range { uint64_t offset, size; uint8_t kind; } *ranges; /* sorted by offset */
} hlz_tensor_map;

/* Reads the header at the start of the input from its first `size` bytes
 * (the first chunk). Never fails: a malformed or unknown header, or one
 * that does not fit in those bytes, leaves the map empty. */
void hlz_tensor_map_build(const uint8_t *data, size_t size, hlz_tensor_map *map);
void hlz_tensor_map_free(hlz_tensor_map *map);

/* Splits the chunk of `size` bytes at input offset `offset` into segments
 * (at most HLZ_SEGMENTS_MAX): from the map where it covers the chunk, else
 * by guessing a float width and alignment from the bytes. Returns the count;
 * 0 means "nothing float-like here". *percent is the guess's estimated
 * output as a percentage of the raw bytes, 0 when the map covered the chunk. */
size_t hlz_float_plan(const hlz_tensor_map *map, uint64_t offset, const uint8_t *data, size_t size,
                      hlz_segment *segs, unsigned *percent);

#endif
