/* gguf_write.c - a GGUF v3 writer: metadata and tensor infos in memory, data by reference. */
#include "gguf.h"

#include <stdlib.h>
#include <string.h>

/* Records the writer's first failure; later calls return it again. */
static hlz_status failed(hlz_gguf_writer *w, hlz_status status)
{
    if (w->status == HLZ_OK) w->status = status;
    return status;
}

static hlz_status reserve(hlz_gguf_writer *w, hlz_gguf_buf *b, size_t n)
{
    if (n <= b->cap - b->size) return HLZ_OK;
    size_t cap = b->cap ? b->cap : 256;
    while (cap - b->size < n) {
        if (cap > SIZE_MAX / 2) return failed(w, hlz_fail(&w->error, HLZ_ERR_NOMEM, "out of memory"));
        cap *= 2;
    }
    uint8_t *p = realloc(b->data, cap);
    if (p == NULL) return failed(w, hlz_fail(&w->error, HLZ_ERR_NOMEM, "out of memory"));
    b->data = p;
    b->cap = cap;
    return HLZ_OK;
}

static hlz_status append(hlz_gguf_writer *w, hlz_gguf_buf *b, const void *p, size_t n)
{
    hlz_status st = reserve(w, b, n);
    if (st == HLZ_OK && n > 0) {
        memcpy(b->data + b->size, p, n);
        b->size += n;
    }
    return st;
}

static hlz_status append32(hlz_gguf_writer *w, hlz_gguf_buf *b, uint32_t v)
{
    uint8_t x[4];
    hlz_put32(x, v);
    return append(w, b, x, 4);
}

static hlz_status append64(hlz_gguf_writer *w, hlz_gguf_buf *b, uint64_t v)
{
    uint8_t x[8];
    hlz_put64(x, v);
    return append(w, b, x, 8);
}

static hlz_status append_string(hlz_gguf_writer *w, hlz_gguf_buf *b, const char *s, size_t n)
{
    hlz_status st = append64(w, b, n);
    return st == HLZ_OK ? append(w, b, s, n) : st;
}

/* Checks a key or tensor name against its limit and the names already used
 * (`seen`, NUL-separated), then remembers it. Linear: files have hundreds. */
static hlz_status claim_name(hlz_gguf_writer *w, hlz_gguf_buf *seen, const char *name, size_t max,
                             const char *what)
{
    if (w->status != HLZ_OK) return w->status;
    size_t n = name ? strlen(name) : 0;
    if (n == 0 || n > max)
        return failed(w, hlz_fail(&w->error, HLZ_ERR_PARAM, "%s of %zu bytes (must be 1..%zu)", what, n, max));
    for (size_t at = 0; at < seen->size; at += strlen((char *)seen->data + at) + 1)
        if (strcmp((char *)seen->data + at, name) == 0)
            return failed(w, hlz_fail(&w->error, HLZ_ERR_PARAM, "duplicate %s '%.64s'", what, name));
    return append(w, seen, name, n + 1);
}

/* Starts a pair: checks and claims the key, writes it and the value type. */
static hlz_status begin_kv(hlz_gguf_writer *w, const char *key, uint32_t type)
{
    if (w->status == HLZ_OK && key && strcmp(key, "general.alignment") == 0)
        return failed(w, hlz_fail(&w->error, HLZ_ERR_PARAM,
                                  "set general.alignment through hlz_gguf_writer_init"));
    hlz_status st = claim_name(w, &w->keys, key, HLZ_GGUF_KEY_MAX, "key");
    if (st == HLZ_OK) st = append_string(w, &w->meta, key, strlen(key));
    if (st == HLZ_OK) st = append32(w, &w->meta, type);
    if (st == HLZ_OK) w->kv_count++;
    return st;
}

hlz_status hlz_gguf_writer_init(hlz_gguf_writer *w, uint32_t alignment, hlz_error *error)
{
    memset(w, 0, sizeof *w);
    if (alignment == 0) alignment = HLZ_GGUF_DEFAULT_ALIGNMENT;
    w->alignment = alignment;
    hlz_status st = HLZ_OK;
    if ((alignment & (alignment - 1)) != 0 || alignment > HLZ_GGUF_ALIGNMENT_MAX)
        st = failed(w, hlz_fail(&w->error, HLZ_ERR_PARAM, "alignment %u is not a power of two up to %u",
                                alignment, HLZ_GGUF_ALIGNMENT_MAX));
    else if (alignment != HLZ_GGUF_DEFAULT_ALIGNMENT) {
        st = claim_name(w, &w->keys, "general.alignment", HLZ_GGUF_KEY_MAX, "key");
        if (st == HLZ_OK) st = append_string(w, &w->meta, "general.alignment", 17);
        if (st == HLZ_OK) st = append32(w, &w->meta, HLZ_GGUF_UINT32);
        if (st == HLZ_OK) st = append32(w, &w->meta, alignment);
        w->kv_count = 1;
    }
    return st == HLZ_OK ? st : hlz_fail(error, st, "%s", w->error.message);
}

void hlz_gguf_writer_free(hlz_gguf_writer *w)
{
    free(w->meta.data);
    free(w->infos.data);
    free(w->keys.data);
    free(w->names.data);
    free(w->tensors);
    memset(w, 0, sizeof *w);
}

static hlz_status add_scalar(hlz_gguf_writer *w, const char *key, uint32_t type, uint64_t bits, size_t size)
{
    hlz_status st = begin_kv(w, key, type);
    uint8_t x[8];
    hlz_put64(x, bits); /* little-endian: the low `size` bytes are the value */
    return st == HLZ_OK ? append(w, &w->meta, x, size) : st;
}

hlz_status hlz_gguf_add_u8(hlz_gguf_writer *w, const char *key, uint8_t v) { return add_scalar(w, key, HLZ_GGUF_UINT8, v, 1); }
hlz_status hlz_gguf_add_i8(hlz_gguf_writer *w, const char *key, int8_t v) { return add_scalar(w, key, HLZ_GGUF_INT8, (uint8_t)v, 1); }
hlz_status hlz_gguf_add_u16(hlz_gguf_writer *w, const char *key, uint16_t v) { return add_scalar(w, key, HLZ_GGUF_UINT16, v, 2); }
hlz_status hlz_gguf_add_i16(hlz_gguf_writer *w, const char *key, int16_t v) { return add_scalar(w, key, HLZ_GGUF_INT16, (uint16_t)v, 2); }
hlz_status hlz_gguf_add_u32(hlz_gguf_writer *w, const char *key, uint32_t v) { return add_scalar(w, key, HLZ_GGUF_UINT32, v, 4); }
hlz_status hlz_gguf_add_i32(hlz_gguf_writer *w, const char *key, int32_t v) { return add_scalar(w, key, HLZ_GGUF_INT32, (uint32_t)v, 4); }
hlz_status hlz_gguf_add_u64(hlz_gguf_writer *w, const char *key, uint64_t v) { return add_scalar(w, key, HLZ_GGUF_UINT64, v, 8); }
hlz_status hlz_gguf_add_i64(hlz_gguf_writer *w, const char *key, int64_t v) { return add_scalar(w, key, HLZ_GGUF_INT64, (uint64_t)v, 8); }
hlz_status hlz_gguf_add_bool(hlz_gguf_writer *w, const char *key, bool v) { return add_scalar(w, key, HLZ_GGUF_BOOL, v ? 1 : 0, 1); }

hlz_status hlz_gguf_add_f32(hlz_gguf_writer *w, const char *key, float v)
{
    uint32_t bits;
    memcpy(&bits, &v, 4);
    return add_scalar(w, key, HLZ_GGUF_FLOAT32, bits, 4);
}

hlz_status hlz_gguf_add_f64(hlz_gguf_writer *w, const char *key, double v)
{
    uint64_t bits;
    memcpy(&bits, &v, 8);
    return add_scalar(w, key, HLZ_GGUF_FLOAT64, bits, 8);
}

hlz_status hlz_gguf_add_string(hlz_gguf_writer *w, const char *key, const char *s, size_t size)
{
    hlz_status st = begin_kv(w, key, HLZ_GGUF_STRING);
    return st == HLZ_OK ? append_string(w, &w->meta, s, size) : st;
}

hlz_status hlz_gguf_add_array(hlz_gguf_writer *w, const char *key, uint32_t elem_type,
                              const void *values, uint64_t count)
{
    size_t size = hlz_gguf_type_size(elem_type);
    if (w->status == HLZ_OK && size == 0)
        return failed(w, hlz_fail(&w->error, HLZ_ERR_PARAM, "key '%.64s': element type %s is not a number or bool",
                                  key ? key : "", hlz_gguf_type_name(elem_type)));
    if (w->status == HLZ_OK && count > SIZE_MAX / 8)
        return failed(w, hlz_fail(&w->error, HLZ_ERR_PARAM, "key '%.64s': too many elements", key ? key : ""));
    hlz_status st = begin_kv(w, key, HLZ_GGUF_ARRAY);
    if (st == HLZ_OK) st = append32(w, &w->meta, elem_type);
    if (st == HLZ_OK) st = append64(w, &w->meta, count);
    if (st == HLZ_OK) st = reserve(w, &w->meta, (size_t)count * size);
    if (st != HLZ_OK) return st;
    const uint8_t *p = values;
    uint8_t *out = w->meta.data + w->meta.size;
    for (uint64_t i = 0; i < count; i++, p += (elem_type == HLZ_GGUF_BOOL ? sizeof(bool) : size), out += size) {
        uint16_t v16;
        uint32_t v32;
        uint64_t v64;
        switch (size) {
        case 1: out[0] = elem_type == HLZ_GGUF_BOOL ? (*(const bool *)p ? 1 : 0) : p[0]; break;
        case 2: memcpy(&v16, p, 2); hlz_put16(out, v16); break;
        case 4: memcpy(&v32, p, 4); hlz_put32(out, v32); break;
        default: memcpy(&v64, p, 8); hlz_put64(out, v64); break;
        }
    }
    w->meta.size += (size_t)count * size;
    return HLZ_OK;
}

hlz_status hlz_gguf_add_string_array(hlz_gguf_writer *w, const char *key, const char *const *strs,
                                     const size_t *sizes, uint64_t count)
{
    hlz_status st = begin_kv(w, key, HLZ_GGUF_ARRAY);
    if (st == HLZ_OK) st = append32(w, &w->meta, HLZ_GGUF_STRING);
    if (st == HLZ_OK) st = append64(w, &w->meta, count);
    for (uint64_t i = 0; i < count && st == HLZ_OK; i++)
        st = append_string(w, &w->meta, strs[i], sizes ? sizes[i] : strlen(strs[i]));
    return st;
}

hlz_status hlz_gguf_add_tensor(hlz_gguf_writer *w, const char *name, uint32_t type, uint32_t n_dims,
                               const uint64_t *dims, const void *data)
{
    if (w->status != HLZ_OK) return w->status;
    char what[80];
    snprintf(what, sizeof what, "tensor '%.64s'", name ? name : "");
    if (n_dims == 0 || n_dims > HLZ_GGUF_MAX_DIMS)
        return failed(w, hlz_fail(&w->error, HLZ_ERR_PARAM, "%s: %u dims (must be 1..%d)", what, n_dims,
                                  HLZ_GGUF_MAX_DIMS));
    uint64_t size;
    hlz_status st = hlz_ggml_tensor_size(type, n_dims, dims, what, NULL, &size, &w->error);
    if (st != HLZ_OK) return failed(w, w->error.status = HLZ_ERR_PARAM); /* the caller's mistake */
    uint64_t a = w->alignment, offset = w->data_size + (a - w->data_size % a) % a;
    if (offset < w->data_size || size > UINT64_MAX - a - offset)
        return failed(w, hlz_fail(&w->error, HLZ_ERR_PARAM, "%s: the data section overflows", what));
    if (w->tensor_count == w->tensors_cap) {
        size_t cap = w->tensors_cap ? w->tensors_cap * 2 : 16;
        void *p = cap <= SIZE_MAX / sizeof *w->tensors ? realloc(w->tensors, cap * sizeof *w->tensors) : NULL;
        if (p == NULL) return failed(w, hlz_fail(&w->error, HLZ_ERR_NOMEM, "out of memory"));
        w->tensors = p;
        w->tensors_cap = cap;
    }
    if ((st = claim_name(w, &w->names, name, HLZ_GGUF_NAME_MAX, "tensor name")) != HLZ_OK) return st;
    st = append_string(w, &w->infos, name, strlen(name));
    if (st == HLZ_OK) st = append32(w, &w->infos, n_dims);
    for (uint32_t i = 0; i < n_dims && st == HLZ_OK; i++) st = append64(w, &w->infos, dims[i]);
    if (st == HLZ_OK) st = append32(w, &w->infos, type);
    if (st == HLZ_OK) st = append64(w, &w->infos, offset);
    if (st != HLZ_OK) return st;
    w->tensors[w->tensor_count++] = (struct hlz_gguf_wtensor){data, offset, size};
    w->data_size = offset + size;
    return HLZ_OK;
}

/* ---- output ---------------------------------------------------------------- */

/* Where bytes go: a stream, or a buffer known to be large enough. */
typedef struct {
    FILE *file;
    uint8_t *mem;
    uint64_t pos;
    hlz_error *error;
} sink;

static hlz_status put(sink *s, const void *p, uint64_t n)
{
    if (n == 0) return HLZ_OK;
    if (s->mem) memcpy(s->mem + s->pos, p, (size_t)n);
    else if (fwrite(p, 1, (size_t)n, s->file) != n)
        return hlz_fail(s->error, HLZ_ERR_IO, "cannot write the GGUF file");
    s->pos += n;
    return HLZ_OK;
}

/* Zero bytes up to position `to`. */
static hlz_status pad_to(sink *s, uint64_t to)
{
    static const uint8_t zeros[4096];
    hlz_status st = HLZ_OK;
    while (st == HLZ_OK && s->pos < to) {
        uint64_t n = to - s->pos < sizeof zeros ? to - s->pos : sizeof zeros;
        st = put(s, zeros, n);
    }
    return st;
}

static uint64_t align_up(uint64_t x, uint64_t a) { return x + (a - x % a) % a; }

static uint64_t total_size(const hlz_gguf_writer *w)
{
    uint64_t head = 24 + (uint64_t)w->meta.size + w->infos.size;
    return align_up(head, w->alignment) + align_up(w->data_size, w->alignment);
}

static hlz_status emit(hlz_gguf_writer *w, sink *s)
{
    uint8_t header[24];
    memcpy(header, "GGUF", 4);
    hlz_put32(header + 4, 3);
    hlz_put64(header + 8, w->tensor_count);
    hlz_put64(header + 16, w->kv_count);
    hlz_status st = put(s, header, sizeof header);
    if (st == HLZ_OK) st = put(s, w->meta.data, w->meta.size);
    if (st == HLZ_OK) st = put(s, w->infos.data, w->infos.size);
    uint64_t data_start = align_up(s->pos, w->alignment);
    for (uint64_t i = 0; i < w->tensor_count && st == HLZ_OK; i++) {
        const struct hlz_gguf_wtensor *t = &w->tensors[i];
        st = pad_to(s, data_start + t->offset);
        if (st == HLZ_OK && t->data) st = put(s, t->data, t->size);
        else if (st == HLZ_OK) st = pad_to(s, s->pos + t->size);
    }
    if (st == HLZ_OK) st = pad_to(s, data_start + align_up(w->data_size, w->alignment));
    return st;
}

hlz_status hlz_gguf_writer_write(hlz_gguf_writer *w, FILE *out, hlz_error *error)
{
    if (w->status != HLZ_OK) return hlz_fail(error, w->status, "%s", w->error.message);
    sink s = {.file = out, .error = error};
    hlz_status st = emit(w, &s);
    if (st == HLZ_OK && fflush(out) != 0) st = hlz_fail(error, HLZ_ERR_IO, "cannot write the GGUF file");
    return st;
}

hlz_status hlz_gguf_writer_to_memory(hlz_gguf_writer *w, uint8_t **out, size_t *size, hlz_error *error)
{
    *out = NULL;
    *size = 0;
    if (w->status != HLZ_OK) return hlz_fail(error, w->status, "%s", w->error.message);
    uint64_t total = total_size(w);
    if (total > SIZE_MAX) return hlz_fail(error, HLZ_ERR_NOMEM, "GGUF file too large for memory");
    sink s = {.mem = malloc(total ? (size_t)total : 1), .error = error};
    if (s.mem == NULL) return hlz_fail(error, HLZ_ERR_NOMEM, "out of memory");
    emit(w, &s); /* cannot fail in memory */
    *out = s.mem;
    *size = (size_t)total;
    return HLZ_OK;
}
