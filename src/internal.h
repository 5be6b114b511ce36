/*
 * internal.h - declarations shared by libhlz's source files; not installed.
 * One section per source file.
 */
#ifndef HLZ_INTERNAL_H
#define HLZ_INTERNAL_H

#include "hlz.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- error.c ------------------------------------------------------------ */

/* Records `status` and a printf-style message in `error` (which may be NULL)
 * and returns `status`, so callers can write `return hlz_fail(e, ...)`. */
hlz_status hlz_fail(hlz_error *error, hlz_status status, const char *format, ...)
    __attribute__((format(printf, 3, 4)));

/* ---- bytes.h-style helpers: little-endian loads and stores ------------- */

static inline uint16_t hlz_le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }
static inline uint32_t hlz_le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}
static inline uint64_t hlz_le64(const uint8_t *p) { return hlz_le32(p) | ((uint64_t)hlz_le32(p + 4) << 32); }
static inline void hlz_put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void hlz_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) p[i] = (uint8_t)(v >> (8 * i));
}
static inline void hlz_put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) p[i] = (uint8_t)(v >> (8 * i));
}

/* ---- LEB128 varints (doc/format.md), used by codec payloads ------------ */

static inline size_t hlz_put_varint(uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) p[n++] = (uint8_t)(v | 0x80), v >>= 7;
    p[n++] = (uint8_t)v;
    return n;
}

/* Reads one varint at *at; -1 when it is truncated or longer than 64 bits. */
static inline int hlz_get_varint(const uint8_t *p, size_t size, size_t *at, uint64_t *v)
{
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (*at >= size) return -1;
        uint8_t b = p[(*at)++];
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) return shift == 63 && b > 1 ? -1 : 0;
    }
    return -1;
}

/* ---- checksum.c ---------------------------------------------------------- */

/* XXH3-64 (xxHash 0.8 stable output) seeded with the chunk's number in its
 * archive: the checksum of raw chunk bytes. The seed makes a chunk record
 * that moved (swapped or repeated) fail its check. */
uint64_t hlz_checksum64(const void *data, size_t size, uint64_t chunk);
/* XXH3-128 of `data` in its canonical (big-endian) byte order: the model
 * fingerprint recorded in archive headers. */
void hlz_fingerprint128(const void *data, size_t size, uint8_t out[16]);

/* Low 32 bits of unseeded XXH3-64: the check field of headers and records. */
uint32_t hlz_check32(const void *data, size_t size);

/* ---- format.c: records of doc/format.md --------------------------------- */

#define HLZ_MAGIC_SIZE 8
extern const uint8_t hlz_magic[HLZ_MAGIC_SIZE];
extern const uint8_t hlz_end_magic[4];

#define HLZ_HEADER_FIXED_SIZE 44   /* header without model name and options */
#define HLZ_HEADER_SIZE_MAX 65535
#define HLZ_CHUNK_RECORD_SIZE 32   /* chunk record header; the payload follows */
#define HLZ_INDEX_FIXED_SIZE 21    /* index record without its entries: type, count, raw size, check */
#define HLZ_INDEX_ENTRY_SIZE 4
#define HLZ_TRAILER_SIZE 16
#define HLZ_RECORD_CHUNK 0x43      /* 'C' */
#define HLZ_RECORD_INDEX 0x49      /* 'I' */
#define HLZ_OPTION_CRITICAL 0x8000 /* option tags a reader must understand */
#define HLZ_OPTION_LLM 0x8001      /* the llm codec's settings (llm.h) */
#define HLZ_OPTION_LLM_SIZE 12

typedef struct {
    uint16_t version;
    uint32_t flags;
    uint32_t chunk_size;
    uint8_t model_fingerprint[16];
    uint8_t model_name_size;
    char model_name[256];   /* NUL-terminated copy of the name bytes */
    uint16_t options_size;
    uint8_t options[HLZ_HEADER_SIZE_MAX];
    bool has_llm;                     /* set by hlz_header_parse when the llm option is present */
    uint8_t llm_option[HLZ_OPTION_LLM_SIZE];
} hlz_header;

/* True when the header names a model (fingerprint or name set). */
bool hlz_header_uses_model(const hlz_header *h);

/* Serialises `h` into `out` (capacity HLZ_HEADER_SIZE_MAX); returns its size. */
size_t hlz_header_write(const hlz_header *h, uint8_t *out);

/* Bytes of the header that starts with `prefix` (at least 12 bytes: magic,
 * version, size), after checking magic, version and size limits. */
hlz_status hlz_header_size(const uint8_t *prefix, size_t *size, hlz_error *error);

/* Parses and checks a whole header of `size` bytes (from hlz_header_size). */
hlz_status hlz_header_parse(const uint8_t *data, size_t size, hlz_header *h, hlz_error *error);

typedef struct {
    uint8_t codec;
    uint8_t reason;
    uint8_t entropy32;      /* order-0 entropy in 1/32 bits per byte, saturating at 255 */
    uint8_t utf8_percent;
    uint8_t probe_percent;
    uint32_t raw_size;
    uint32_t coded_size;
    uint64_t checksum;      /* of the raw bytes, seeded with the chunk number */
    uint32_t payload_check; /* hlz_check32 of the coded payload */
} hlz_chunk_record;

/* Hex form of a model fingerprint, for messages: 33 bytes with the NUL. */
void hlz_fingerprint_hex(const uint8_t fingerprint[16], char out[33]);

void hlz_chunk_record_write(const hlz_chunk_record *r, uint8_t out[HLZ_CHUNK_RECORD_SIZE]);

/* Parses a chunk record header and checks it against the archive's chunk
 * size; `chunk` numbers the message. Does not look at the payload. */
/* Checks a payload against its record before any codec sees it. */
hlz_status hlz_payload_check(const hlz_chunk_record *r, const uint8_t *payload, uint64_t chunk, hlz_error *error);

hlz_status hlz_chunk_record_parse(const uint8_t in[HLZ_CHUNK_RECORD_SIZE], uint32_t chunk_size,
                                  uint64_t chunk, hlz_chunk_record *r, hlz_error *error);

/* The index record of `count` chunks whose coded sizes are `coded_sizes`:
 * returns its size (HLZ_INDEX_FIXED_SIZE + 4 * count); `out` must hold it. */
size_t hlz_index_record_write(uint64_t count, uint64_t raw_size, const uint32_t *coded_sizes, uint8_t *out);

/* Checks an index record of `size` bytes; on success sets the chunk count
 * and content size. The entries stay in `data` (u32 coded sizes from offset 17). */
hlz_status hlz_index_record_parse(const uint8_t *data, size_t size, uint64_t *count,
                                  uint64_t *raw_size, hlz_error *error);

/* Checks that `raw_size` bytes fit `count` chunks of `chunk_size`, all full but the last. */
hlz_status hlz_check_raw_total(uint64_t count, uint64_t raw_size, uint32_t chunk_size, hlz_error *error);

void hlz_trailer_write(uint64_t index_offset, uint8_t out[HLZ_TRAILER_SIZE]);

/* Checks the trailer's end magic and check value and returns the index offset. */
hlz_status hlz_trailer_parse(const uint8_t in[HLZ_TRAILER_SIZE], uint64_t *index_offset, hlz_error *error);

/* ---- scout.c -------------------------------------------------------------- */

typedef struct {
    uint8_t entropy32;
    uint8_t utf8_percent;
    uint8_t probe_percent;
    uint8_t codec;   /* the codec the scout recommends */
    uint8_t reason;
} hlz_scout_result;

/* Cheap pre-scan of one chunk: byte entropy, share of valid UTF-8, and a
 * fast zstd probe on a sample; recommends a codec. Never fails: a probe that
 * cannot run counts as "no gain". */
void hlz_scout(const uint8_t *data, size_t size, hlz_scout_result *result);

/* Order-0 entropy of `data` in 1/32 bits per byte, rounded down, at most 255. */
uint8_t hlz_entropy32(const uint8_t *data, size_t size);

/* Percentage (0..100, rounded down) of bytes that belong to well-formed UTF-8
 * sequences (RFC 3629: no overlongs, surrogates or code points past U+10FFFF). */
uint8_t hlz_utf8_percent(const uint8_t *data, size_t size);
uint8_t hlz_utf8_percent_ref(const uint8_t *data, size_t size); /* the plain loop that defines it */

/* ---- codec.c: store and zstd ---------------------------------------------- */

/* Encodes `src` with codec `id` into `dst` (capacity `dst_capacity`, at least
 * `size` bytes). Sets *coded_size. Returns HLZ_ERR_CODEC with *coded_size ==
 * 0 when the output would not fit, which callers treat as "store instead". */
hlz_status hlz_codec_encode(unsigned id, int level, const uint8_t *src, size_t size,
                            uint8_t *dst, size_t dst_capacity, size_t *coded_size,
                            hlz_error *error);

/* Decodes `coded_size` bytes made by codec `id` into exactly `raw_size` bytes
 * at `dst`; anything else (an error, fewer or more bytes) is HLZ_ERR_CORRUPT. */
hlz_status hlz_codec_decode(unsigned id, const uint8_t *src, size_t coded_size,
                            uint8_t *dst, size_t raw_size, hlz_error *error);

/* zstd level used for hlz level 1..9. */
int hlz_zstd_level(int level);

/* ---- parallel.c ------------------------------------------------------------- */

/* Runs fn(context, i) for every i in [0, count) on up to `threads` threads
 * (the caller's included). Items must be independent; which thread runs
 * which item is unspecified, so results must not depend on it. Falls back
 * to the calling thread alone if threads cannot be created. Threads may
 * call it at once: a few callers get persistent workers of their own (one
 * pool each), the others threads created for the call. */
void hlz_parallel_for(int threads, size_t count, void (*fn)(void *context, size_t i), void *context);

#endif /* HLZ_INTERNAL_H */
