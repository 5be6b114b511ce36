/*
 * gguf.h - GGUF model files (the llama.cpp format): reading, writing, and the
 * ggml tensor types with their reference dequantization. Internal, not installed.
 *
 * A GGUF file (versions 2 and 3 share one layout), all integers little-endian:
 *
 *   "GGUF"  u32 version  u64 tensor_count  u64 kv_count
 *   kv_count x { string key, u32 value_type, value }
 *   tensor_count x { string name, u32 n_dims, u64 dims[n_dims], u32 ggml_type, u64 offset }
 *   zero padding to a multiple of the alignment (the u32 "general.alignment", else 32)
 *   tensor data: each tensor at data_start + offset, offset a multiple of the alignment
 *
 * A string is a u64 byte count and the bytes (no NUL). A value is one of the
 * scalar types below, a string, or an array: u32 element type, u64 count,
 * the elements. dims[0] is the row length: the contiguous, innermost one.
 *
 * Sections, one per source file:
 *   ggml_types.c  tensor type table, row dequantization (f16/bf16 come from kernels.h)
 *   gguf.c        the reader: open (mmap or memory), checks, metadata getters, tensors
 *   gguf_write.c  a writer, for the converter, the tests and fuzz seeds
 *
 * Every function that can fail returns an hlz_status and explains itself in
 * the hlz_error it was given (which may be NULL), like the rest of libhlz.
 */
#ifndef HLZ_GGUF_H
#define HLZ_GGUF_H

#include "internal.h"

/* ---- ggml_types.c: tensor types ----------------------------------------- */

/* ggml type ids as stored in tensor infos. The ones named here are those
 * this build can dequantize; the table knows the sizes of the others too, so
 * files that hold them still open (their tensors just cannot be computed). */
enum {
    HLZ_GGML_F32 = 0,
    HLZ_GGML_F16 = 1,
    HLZ_GGML_Q8_0 = 8,  /* 32 values: f16 d, int8 q[32]; x = d*q */
    HLZ_GGML_Q4_K = 12, /* 256 values: f16 d, f16 dmin, u8 scales[12], u8 qs[128] */
    HLZ_GGML_Q6_K = 14, /* 256 values: u8 ql[128], u8 qh[64], int8 scales[16], f16 d */
    HLZ_GGML_BF16 = 30,
    HLZ_GGML_TYPE_COUNT = 40 /* ids at or past this are unknown */
};

typedef struct {
    const char *name;     /* "Q4_K"; NULL for ids that are unknown or retired */
    uint32_t block_size;  /* values per block */
    uint32_t type_size;   /* bytes per block */
    bool supported;       /* hlz_ggml_dequantize_row handles it */
} hlz_ggml_type_info;

/* The table entry of ggml type `type`, or NULL when the id is unknown. */
const hlz_ggml_type_info *hlz_ggml_type(uint32_t type);

/* A printable name for any id: "Q6_K", or "unknown" for ids without an entry. */
const char *hlz_ggml_type_name(uint32_t type);

/* Bytes of a tensor of `type` with `n_dims` (0..4) dims: checks that the type
 * is known, that every dim is at least 1, that dims[0] is a multiple of the
 * block size and that neither the element count nor the byte count overflow
 * 63 bits. `what` names the tensor in messages ("tensor 'x'"). Sets
 * *n_elements and *size; either may be NULL. */
hlz_status hlz_ggml_tensor_size(uint32_t type, uint32_t n_dims, const uint64_t *dims,
                                const char *what, uint64_t *n_elements, uint64_t *size,
                                hlz_error *error);

/* Plain C reference: dequantizes `n` consecutive values of `type` starting at
 * a block boundary of `src` (which holds n / block_size * type_size bytes,
 * any alignment) into dst[0..n). n must be a multiple of the block size.
 * Results equal ggml's reference dequantization bit for bit (same operations
 * in the same order, compiled with -ffp-contract=off). HLZ_ERR_UNSUPPORTED
 * for types this build cannot dequantize, HLZ_ERR_PARAM for a bad n. */
hlz_status hlz_ggml_dequantize_row(uint32_t type, const void *src, float *dst, uint64_t n,
                                   hlz_error *error);

/* ggml_quant.c: quantizes n values (whole blocks) of src into dst in ggml's
 * block layout for Q8_0, Q4_K and Q6_K (ggml's reference scale search for
 * the K types). HLZ_ERR_UNSUPPORTED for other types, HLZ_ERR_PARAM for a bad n. */
hlz_status hlz_ggml_quantize_row(uint32_t type, const float *src, void *dst, uint64_t n, hlz_error *error);

/* ---- gguf.c: the reader --------------------------------------------------- */

/* Metadata value types as stored in the file. */
enum {
    HLZ_GGUF_UINT8 = 0, HLZ_GGUF_INT8 = 1, HLZ_GGUF_UINT16 = 2, HLZ_GGUF_INT16 = 3,
    HLZ_GGUF_UINT32 = 4, HLZ_GGUF_INT32 = 5, HLZ_GGUF_FLOAT32 = 6, HLZ_GGUF_BOOL = 7,
    HLZ_GGUF_STRING = 8, HLZ_GGUF_ARRAY = 9, HLZ_GGUF_UINT64 = 10, HLZ_GGUF_INT64 = 11,
    HLZ_GGUF_FLOAT64 = 12,
    HLZ_GGUF_TYPE_COUNT
};

#define HLZ_GGUF_MAX_DIMS 4
#define HLZ_GGUF_DEFAULT_ALIGNMENT 32
#define HLZ_GGUF_ALIGNMENT_MAX (1u << 20)
#define HLZ_GGUF_KEY_MAX 65535   /* bytes in a key (the spec's limit) */
#define HLZ_GGUF_NAME_MAX 255    /* bytes in a tensor name (the spec says 64; we allow more) */

/* "uint32", "string", ...; "unknown" for other ids. */
const char *hlz_gguf_type_name(uint32_t type);

/* Bytes of one value of a fixed-size type (the numbers and bool); 0 for
 * string, array and unknown ids. */
size_t hlz_gguf_type_size(uint32_t type);

/* A string inside the file: `size` bytes at `data`, not NUL-terminated, any
 * byte values (token texts may hold anything). */
typedef struct {
    const char *data;
    size_t size;
} hlz_gguf_str;

/* One metadata key-value pair. Everything points into the file bytes. */
typedef struct {
    const char *key;       /* NUL-terminated copy; never contains NUL itself */
    uint32_t type;         /* value type (HLZ_GGUF_*) */
    uint32_t elem_type;    /* arrays: element type (never ARRAY); otherwise == type */
    uint64_t count;        /* arrays: element count; otherwise 1 */
    const uint8_t *data;   /* the value's bytes: a scalar, a string's text, an array's first element */
    uint64_t size;         /* bytes at data */
    const uint8_t **items; /* arrays of strings: where each element (its u64 length) starts; else NULL */
} hlz_gguf_kv;

/* One tensor. Its data lies inside the file bytes (the mapping), uncopied. */
typedef struct {
    const char *name;      /* NUL-terminated copy */
    uint32_t type;         /* ggml type id; hlz_ggml_type(type) is never NULL */
    uint32_t n_dims;       /* 0..HLZ_GGUF_MAX_DIMS as stored (0: a scalar) */
    uint64_t dims[HLZ_GGUF_MAX_DIMS]; /* dims[0] is the row length; dims past n_dims are 1 */
    uint64_t n_elements;   /* product of dims, at least 1 */
    uint64_t n_rows;       /* n_elements / dims[0] */
    uint64_t row_size;     /* bytes of one row */
    uint64_t offset;       /* of the data, from the start of the file */
    uint64_t size;         /* bytes of data: n_rows * row_size */
    const uint8_t *data;   /* file bytes + offset */
} hlz_gguf_tensor;

/* An open GGUF file. Fields are read-only for callers. Zero it (or let a
 * failed open leave it) and hlz_gguf_close is always safe. */
typedef struct {
    const uint8_t *base;   /* the file's bytes */
    uint64_t file_size;
    uint32_t version;
    uint32_t alignment;    /* of tensor data */
    uint64_t data_offset;  /* where the tensor data section starts */
    uint64_t kv_count;
    hlz_gguf_kv *kvs;      /* in file order */
    uint64_t tensor_count;
    hlz_gguf_tensor *tensors; /* in file order */
    /* private */
    hlz_gguf_kv **kv_sorted;          /* by key, for lookups */
    hlz_gguf_tensor **tensor_sorted;  /* by name */
    char *names;                      /* storage of every key and tensor name */
    void *mapping;                    /* non-NULL when we own an mmap of mapping_size bytes */
    size_t mapping_size;
} hlz_gguf;

/* Memory-maps the file at `path` read-only and parses it (hlz_gguf_open_memory
 * describes the checks). Tensor data stays in the mapping: opening a large
 * model costs page-table entries, not reads. On failure *g is left closed.
 * Messages do not repeat the path. Changing the file while it is open is
 * undefined (the mapping would change under us, or fault when truncated). */
hlz_status hlz_gguf_open(hlz_gguf *g, const char *path, hlz_error *error);

/* Parses the `size` bytes at `data`, which the caller keeps alive and
 * unchanged until hlz_gguf_close. Checks everything read against the bytes
 * that remain and against overflow, and rejects: a wrong magic, versions
 * other than 2 and 3, big-endian files, unknown value or ggml types, arrays
 * of arrays, bools other than 0/1, NULs in keys or tensor names, duplicate
 * keys or tensor names, a general.alignment that is not a u32 power of two
 * up to HLZ_GGUF_ALIGNMENT_MAX, more than 4 dims, zero dims, rows that are
 * not whole blocks, unaligned, overlapping or out-of-file tensor data, and
 * more than an alignment's worth of bytes after the last tensor (a sign of
 * a wrong count). Allocations grow with what was parsed, never with what a
 * count claims. On failure *g is left closed. */
hlz_status hlz_gguf_open_memory(hlz_gguf *g, const void *data, size_t size, hlz_error *error);

/* Parses only the header (metadata and tensor infos) from the first `size`
 * bytes of a file whose tensor data may lie past them, with every check of
 * hlz_gguf_open_memory except those on the data's end: tensor offsets are
 * checked for alignment and overlap but not against a file size, and every
 * tensor's data is NULL. For the float codec's scout, which sees only the
 * first chunk. */
hlz_status hlz_gguf_open_prefix(hlz_gguf *g, const void *data, size_t size, hlz_error *error);

/* Frees what open allocated and unmaps the file; *g is zeroed. */
void hlz_gguf_close(hlz_gguf *g);

/* The pair whose key is `key`, or NULL. O(log kv_count). */
const hlz_gguf_kv *hlz_gguf_find(const hlz_gguf *g, const char *key);

/* Typed getters. Each fails with HLZ_ERR_MODEL when the key is missing
 * ("missing key 'x'") or holds another type ("key 'x' is a string, not a
 * uint32"). Integer getters take any integer type whose value fits the
 * result ("key 'x': value -5 does not fit in a uint32" otherwise); get_f32
 * takes float32, and float64 rounded to nearest. */
hlz_status hlz_gguf_get_u32(const hlz_gguf *g, const char *key, uint32_t *out, hlz_error *error);
hlz_status hlz_gguf_get_u64(const hlz_gguf *g, const char *key, uint64_t *out, hlz_error *error);
hlz_status hlz_gguf_get_i32(const hlz_gguf *g, const char *key, int32_t *out, hlz_error *error);
hlz_status hlz_gguf_get_f32(const hlz_gguf *g, const char *key, float *out, hlz_error *error);
hlz_status hlz_gguf_get_bool(const hlz_gguf *g, const char *key, bool *out, hlz_error *error);
hlz_status hlz_gguf_get_string(const hlz_gguf *g, const char *key, hlz_gguf_str *out, hlz_error *error);

/* An array of `elem_type` (HLZ_GGUF_TYPE_COUNT: any element type): sets *out
 * to its pair, whose count and elem_type describe it. HLZ_ERR_MODEL when
 * missing, not an array, or of another element type. */
hlz_status hlz_gguf_get_array(const hlz_gguf *g, const char *key, uint32_t elem_type,
                              const hlz_gguf_kv **out, hlz_error *error);

/* Element i of an array of strings, or the value of a string pair (i == 0).
 * An empty string when i is out of range or kv holds no strings. */
hlz_gguf_str hlz_gguf_kv_string(const hlz_gguf_kv *kv, uint64_t i);

/* Copies the array `key` into out[0..count): its length must be exactly
 * `count`. The f32 form takes float32 elements; the i32 form takes any
 * integer elements whose values fit an int32 (token types, for instance). */
hlz_status hlz_gguf_get_f32_array(const hlz_gguf *g, const char *key, float *out, uint64_t count,
                                  hlz_error *error);
hlz_status hlz_gguf_get_i32_array(const hlz_gguf *g, const char *key, int32_t *out, uint64_t count,
                                  hlz_error *error);

/* The tensor named `name`, or NULL. O(log tensor_count). */
const hlz_gguf_tensor *hlz_gguf_find_tensor(const hlz_gguf *g, const char *name);

/* Like hlz_gguf_find_tensor, but a missing tensor is HLZ_ERR_MODEL
 * ("missing tensor 'x'"). */
hlz_status hlz_gguf_get_tensor(const hlz_gguf *g, const char *name, const hlz_gguf_tensor **out,
                               hlz_error *error);

/* Dequantizes row `row` (< n_rows) of `t` into dst[0..dims[0]). */
hlz_status hlz_gguf_tensor_row(const hlz_gguf_tensor *t, uint64_t row, float *dst, hlz_error *error);

/* ---- gguf_write.c: the writer ------------------------------------------- */

/* Builds a GGUF v3 file: metadata and tensor infos are kept in memory; tensor
 * data is referenced, not copied, until written. Errors are sticky: after the
 * first failure every call returns it again, so a caller may check only the
 * final write. The writer refuses what the reader would reject (duplicate
 * keys and names, bad dims or types, ...). */
typedef struct {
    uint8_t *data;
    size_t size, cap;
} hlz_gguf_buf;

typedef struct {
    hlz_gguf_buf meta;    /* serialised kv pairs */
    hlz_gguf_buf infos;   /* serialised tensor infos */
    uint64_t kv_count, tensor_count;
    uint32_t alignment;
    uint64_t data_size;   /* bytes of the data section so far, padding between tensors included */
    struct hlz_gguf_wtensor { const void *data; uint64_t offset, size; } *tensors;
    size_t tensors_cap;
    hlz_gguf_buf keys;    /* every key and tensor name written, NUL-terminated, */
    hlz_gguf_buf names;   /* for the duplicate checks */
    hlz_status status;    /* the first failure, sticky */
    hlz_error error;
} hlz_gguf_writer;

/* Starts an empty file whose tensor data is aligned to `alignment` (a power
 * of two up to HLZ_GGUF_ALIGNMENT_MAX; 0 means 32). A non-default alignment
 * is recorded as the first pair, general.alignment. */
hlz_status hlz_gguf_writer_init(hlz_gguf_writer *w, uint32_t alignment, hlz_error *error);

/* Frees everything; the referenced tensor data is the caller's. */
void hlz_gguf_writer_free(hlz_gguf_writer *w);

/* Scalar pairs. `key` is NUL-terminated, 1..HLZ_GGUF_KEY_MAX bytes. */
hlz_status hlz_gguf_add_u8(hlz_gguf_writer *w, const char *key, uint8_t v);
hlz_status hlz_gguf_add_i8(hlz_gguf_writer *w, const char *key, int8_t v);
hlz_status hlz_gguf_add_u16(hlz_gguf_writer *w, const char *key, uint16_t v);
hlz_status hlz_gguf_add_i16(hlz_gguf_writer *w, const char *key, int16_t v);
hlz_status hlz_gguf_add_u32(hlz_gguf_writer *w, const char *key, uint32_t v);
hlz_status hlz_gguf_add_i32(hlz_gguf_writer *w, const char *key, int32_t v);
hlz_status hlz_gguf_add_u64(hlz_gguf_writer *w, const char *key, uint64_t v);
hlz_status hlz_gguf_add_i64(hlz_gguf_writer *w, const char *key, int64_t v);
hlz_status hlz_gguf_add_f32(hlz_gguf_writer *w, const char *key, float v);
hlz_status hlz_gguf_add_f64(hlz_gguf_writer *w, const char *key, double v);
hlz_status hlz_gguf_add_bool(hlz_gguf_writer *w, const char *key, bool v);
/* `size` bytes of `s` (any bytes). */
hlz_status hlz_gguf_add_string(hlz_gguf_writer *w, const char *key, const char *s, size_t size);

/* An array of `count` numbers or bools of `elem_type` from `values`, an array
 * of the matching C type in host order (uint8_t, ..., float, double, bool). */
hlz_status hlz_gguf_add_array(hlz_gguf_writer *w, const char *key, uint32_t elem_type,
                              const void *values, uint64_t count);

/* An array of `count` strings: strs[i] of sizes[i] bytes (sizes NULL: NUL-terminated). */
hlz_status hlz_gguf_add_string_array(hlz_gguf_writer *w, const char *key, const char *const *strs,
                                     const size_t *sizes, uint64_t count);

/* A tensor of ggml `type` and n_dims (1..4) dims, dims[0] the row length.
 * `data` (its hlz_ggml_tensor_size bytes) must stay valid until the write;
 * NULL writes zeros. Its offset is the next aligned one. */
hlz_status hlz_gguf_add_tensor(hlz_gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                               const uint64_t *dims, const void *data);

/* Writes the whole file to `out` (sequentially; it may be a pipe), ending
 * with padding to the alignment as llama.cpp does. */
hlz_status hlz_gguf_writer_write(hlz_gguf_writer *w, FILE *out, hlz_error *error);

/* Writes the whole file into a new malloc'd buffer the caller frees. */
hlz_status hlz_gguf_writer_to_memory(hlz_gguf_writer *w, uint8_t **out, size_t *size,
                                     hlz_error *error);

#endif /* HLZ_GGUF_H */
