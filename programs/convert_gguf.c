/* convert_gguf.c - a GGUF stored again with other tensor types: the
 * metadata copied as it is, every tensor dequantized to fp32 and added
 * through add_matrix (2-D) or as fp32 (other shapes). Used to derive Q4_K
 * files from the project's Q8_0 models for the float codec's benchmarks. */
#include "convert.h"

#include <stdlib.h>
#include <string.h>

/* One metadata pair into the writer. Numbers in the file are little-endian,
 * as is every host hlz builds on (the writer takes host order). */
static hlz_status copy_kv(hlz_gguf_writer *w, const hlz_gguf_kv *kv, converter *c)
{
    const uint8_t *d = kv->data;
    switch (kv->type) {
    case HLZ_GGUF_UINT8: return hlz_gguf_add_u8(w, kv->key, d[0]);
    case HLZ_GGUF_INT8: return hlz_gguf_add_i8(w, kv->key, (int8_t)d[0]);
    case HLZ_GGUF_UINT16: return hlz_gguf_add_u16(w, kv->key, hlz_le16(d));
    case HLZ_GGUF_INT16: return hlz_gguf_add_i16(w, kv->key, (int16_t)hlz_le16(d));
    case HLZ_GGUF_UINT32: return hlz_gguf_add_u32(w, kv->key, hlz_le32(d));
    case HLZ_GGUF_INT32: return hlz_gguf_add_i32(w, kv->key, (int32_t)hlz_le32(d));
    case HLZ_GGUF_UINT64: return hlz_gguf_add_u64(w, kv->key, hlz_le64(d));
    case HLZ_GGUF_INT64: return hlz_gguf_add_i64(w, kv->key, (int64_t)hlz_le64(d));
    case HLZ_GGUF_BOOL: return hlz_gguf_add_bool(w, kv->key, d[0] != 0);
    case HLZ_GGUF_FLOAT32: { float f; memcpy(&f, d, 4); return hlz_gguf_add_f32(w, kv->key, f); }
    case HLZ_GGUF_FLOAT64: { double f; memcpy(&f, d, 8); return hlz_gguf_add_f64(w, kv->key, f); }
    case HLZ_GGUF_STRING: return hlz_gguf_add_string(w, kv->key, (const char *)d, (size_t)kv->size);
    case HLZ_GGUF_ARRAY:
        if (kv->elem_type != HLZ_GGUF_STRING) return hlz_gguf_add_array(w, kv->key, kv->elem_type, d, kv->count);
        {
            const char **strs = own(c, kv->count * sizeof *strs);
            size_t *sizes = own(c, kv->count * sizeof *sizes);
            if (!strs || !sizes) return HLZ_ERR_NOMEM;
            for (uint64_t i = 0; i < kv->count; i++) {
                hlz_gguf_str s = hlz_gguf_kv_string(kv, i);
                strs[i] = s.data, sizes[i] = s.size;
            }
            return hlz_gguf_add_string_array(w, kv->key, strs, sizes, kv->count);
        }
    default: return HLZ_ERR_UNSUPPORTED;
    }
}

int convert_gguf(converter *c, const char *path)
{
    hlz_gguf *g = own(c, sizeof *g);
    hlz_error e = {0};
    if (!g) return fail(path, "out of memory");
    if (hlz_gguf_open(g, path, &e) != HLZ_OK) return fail(path, e.message);
    int rc = 1;
    const hlz_gguf_kv *arch = hlz_gguf_find(g, "general.architecture");
    if (arch && arch->type == HLZ_GGUF_STRING) {
        char key[300];
        snprintf(key, sizeof key, "%.*s.block_count", (int)arch->size, (const char *)arch->data);
        uint32_t layers;
        if (hlz_gguf_get_u32(g, key, &layers, NULL) == HLZ_OK) c->layers = layers;
    }
    for (uint64_t i = 0; i < g->kv_count; i++) {
        /* The writer sets its own alignment. */
        if (strcmp(g->kvs[i].key, "general.alignment") == 0) continue;
        if (copy_kv(&c->w, &g->kvs[i], c) != HLZ_OK) { rc = fail(g->kvs[i].key, "cannot copy this metadata"); goto done; }
    }
    for (uint64_t i = 0; i < g->tensor_count; i++) {
        const hlz_gguf_tensor *t = &g->tensors[i];
        float *x = own(c, t->n_elements * sizeof *x);
        if (!x) { rc = fail(path, "out of memory"); goto done; }
        for (uint64_t r = 0; r < t->n_rows; r++)
            if (hlz_gguf_tensor_row(t, r, x + r * t->dims[0], &e) != HLZ_OK) { rc = fail(t->name, e.message); goto done; }
        hlz_status st = t->n_dims == 2 ? add_matrix(c, t->name, x, t->dims[1], t->dims[0])
                                       : hlz_gguf_add_tensor(&c->w, t->name, HLZ_GGML_F32, t->n_dims ? t->n_dims : 1,
                                                             t->dims, x);
        if (st != HLZ_OK) { rc = fail(t->name, hlz_status_name(st)); goto done; }
    }
    rc = 0;
done:
    /* The writer has copied names and metadata; tensor data is ours (x, q). */
    hlz_gguf_close(g);
    return rc;
}
