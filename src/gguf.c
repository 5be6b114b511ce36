/* gguf.c - the GGUF reader: parse and check a file in memory, then look things up. */
#include "gguf.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define HEADER_SIZE 24
#define MIN_KV_SIZE 13     /* empty key, type, one-byte value */
#define MIN_TENSOR_SIZE 24 /* empty name, n_dims 0, type, offset */

typedef unsigned long long ull; /* for printf */

static const char *const value_type_names[HLZ_GGUF_TYPE_COUNT] = {
    "uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
    "bool", "string", "array", "uint64", "int64", "float64",
};
static const uint8_t value_sizes[HLZ_GGUF_TYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

const char *hlz_gguf_type_name(uint32_t type)
{
    return type < HLZ_GGUF_TYPE_COUNT ? value_type_names[type] : "unknown";
}

size_t hlz_gguf_type_size(uint32_t type) { return type < HLZ_GGUF_TYPE_COUNT ? value_sizes[type] : 0; }

/* A name from the file made safe for a message: printable ASCII, at most 48
 * bytes, then "...". */
typedef struct {
    char s[56];
} quoted;

static quoted quote(const char *name, uint64_t size)
{
    quoted q;
    size_t n = size > 48 ? 48 : (size_t)size;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        q.s[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    strcpy(q.s + n, size > 48 ? "..." : "");
    return q;
}

static quoted quote_c(const char *name) { return quote(name, strlen(name)); }

/* ---- parsing -------------------------------------------------------------- */

typedef struct {
    const uint8_t *p;
    uint64_t size, pos;
    hlz_error *error;
    hlz_gguf_buf names; /* keys then tensor names, each NUL-terminated, in file order */
    uint64_t kv_cap, tensor_cap;
    bool prefix; /* hlz_gguf_open_prefix: the tensor data lies past the bytes we have */
} parser;

static uint64_t left(const parser *r) { return r->size - r->pos; }

static hlz_status grow(void **array, uint64_t *cap, uint64_t need, size_t elem, uint64_t limit,
                       hlz_error *error)
{
    if (need <= *cap) return HLZ_OK;
    uint64_t n = *cap ? *cap * 2 : 16;
    if (n > limit) n = limit;
    if (n < need) n = need;
    if (n > SIZE_MAX / elem) return hlz_fail(error, HLZ_ERR_NOMEM, "out of memory");
    void *p = realloc(*array, (size_t)n * elem);
    if (p == NULL) return hlz_fail(error, HLZ_ERR_NOMEM, "out of memory");
    *array = p;
    *cap = n;
    return HLZ_OK;
}

static hlz_status push_name(parser *r, const uint8_t *s, uint64_t size)
{
    hlz_gguf_buf *b = &r->names;
    if (size + 1 > b->cap - b->size) {
        uint64_t cap = b->cap, need = b->size + size + 1;
        hlz_status st = grow((void **)&b->data, &cap, need, 1, UINT64_MAX, r->error);
        if (st != HLZ_OK) return st;
        b->cap = (size_t)cap;
    }
    memcpy(b->data + b->size, s, (size_t)size);
    b->data[b->size + size] = 0;
    b->size += (size_t)size + 1;
    return HLZ_OK;
}

/* Reads a key or a tensor name (`what`, numbered i for messages) of at most
 * `max` bytes, copies it into the name store and quotes it into *q. */
static hlz_status read_name(parser *r, const char *what, uint64_t i, uint64_t max, quoted *q)
{
    if (left(r) < 8)
        return hlz_fail(r->error, HLZ_ERR_TRUNCATED, "file ends inside %s %llu", what, (ull)i);
    uint64_t size = hlz_le64(r->p + r->pos);
    r->pos += 8;
    if (size > max)
        return hlz_fail(r->error, HLZ_ERR_CORRUPT, "%s %llu: name of %llu bytes is longer than %llu",
                        what, (ull)i, (ull)size, (ull)max);
    if (size > left(r))
        return hlz_fail(r->error, HLZ_ERR_TRUNCATED, "%s %llu: name runs past the end of the file",
                        what, (ull)i);
    const char *s = (const char *)r->p + r->pos;
    *q = quote(s, size);
    if (memchr(s, 0, (size_t)size))
        return hlz_fail(r->error, HLZ_ERR_CORRUPT, "%s %llu: name '%s' contains a NUL byte", what,
                        (ull)i, q->s);
    r->pos += size;
    return push_name(r, (const uint8_t *)s, size);
}

static hlz_status read_value(parser *r, hlz_gguf_kv *kv, const char *key)
{
    uint64_t start = r->pos;
    if (kv->elem_type == HLZ_GGUF_STRING) {
        /* Each string is at least its 8-byte length: that caps the count. */
        if (kv->count > left(r) / 8)
            return hlz_fail(r->error, HLZ_ERR_TRUNCATED,
                            "key '%s': %llu strings run past the end of the file", key,
                            (ull)kv->count);
        if (kv->type == HLZ_GGUF_ARRAY && kv->count > 0) {
            kv->items = malloc((size_t)kv->count * sizeof *kv->items);
            if (kv->items == NULL) return hlz_fail(r->error, HLZ_ERR_NOMEM, "out of memory");
        }
        for (uint64_t i = 0; i < kv->count; i++) {
            if (left(r) < 8)
                return hlz_fail(r->error, HLZ_ERR_TRUNCATED,
                                "key '%s': string %llu runs past the end of the file", key, (ull)i);
            uint64_t size = hlz_le64(r->p + r->pos);
            if (size > left(r) - 8)
                return hlz_fail(r->error, HLZ_ERR_TRUNCATED,
                                "key '%s': string %llu runs past the end of the file", key, (ull)i);
            if (kv->items) kv->items[i] = r->p + r->pos;
            r->pos += 8 + size;
        }
        if (kv->type == HLZ_GGUF_STRING) start += 8; /* a lone string's data is its text */
    } else {
        uint64_t size = value_sizes[kv->elem_type];
        if (kv->count > left(r) / size)
            return hlz_fail(r->error, HLZ_ERR_TRUNCATED, "key '%s': value runs past the end of the file",
                            key);
        if (kv->elem_type == HLZ_GGUF_BOOL)
            for (uint64_t i = 0; i < kv->count; i++)
                if (r->p[r->pos + i] > 1)
                    return hlz_fail(r->error, HLZ_ERR_CORRUPT, "key '%s': bool value %u is neither 0 nor 1",
                                    key, r->p[r->pos + i]);
        r->pos += kv->count * size;
    }
    kv->data = r->p + start;
    kv->size = r->pos - start;
    return HLZ_OK;
}

static hlz_status read_kv(parser *r, uint64_t i, hlz_gguf_kv *kv)
{
    quoted key;
    hlz_status st = read_name(r, "metadata key", i, HLZ_GGUF_KEY_MAX, &key);
    if (st != HLZ_OK) return st;
    if (left(r) < 4)
        return hlz_fail(r->error, HLZ_ERR_TRUNCATED, "key '%s': file ends before its value type", key.s);
    kv->type = kv->elem_type = hlz_le32(r->p + r->pos);
    kv->count = 1;
    r->pos += 4;
    if (kv->type >= HLZ_GGUF_TYPE_COUNT)
        return hlz_fail(r->error, HLZ_ERR_CORRUPT, "key '%s': unknown value type %u", key.s, kv->type);
    if (kv->type == HLZ_GGUF_ARRAY) {
        if (left(r) < 12)
            return hlz_fail(r->error, HLZ_ERR_TRUNCATED, "key '%s': file ends inside the array header",
                            key.s);
        kv->elem_type = hlz_le32(r->p + r->pos);
        kv->count = hlz_le64(r->p + r->pos + 4);
        r->pos += 12;
        if (kv->elem_type == HLZ_GGUF_ARRAY)
            return hlz_fail(r->error, HLZ_ERR_UNSUPPORTED, "key '%s': arrays of arrays are not supported",
                            key.s);
        if (kv->elem_type >= HLZ_GGUF_TYPE_COUNT)
            return hlz_fail(r->error, HLZ_ERR_CORRUPT, "key '%s': unknown array element type %u", key.s,
                            kv->elem_type);
    }
    return read_value(r, kv, key.s);
}

static hlz_status read_tensor_info(parser *r, uint64_t i, hlz_gguf_tensor *t)
{
    quoted name;
    hlz_status st = read_name(r, "tensor", i, HLZ_GGUF_NAME_MAX, &name);
    if (st != HLZ_OK) return st;
    char what[80];
    snprintf(what, sizeof what, "tensor '%s'", name.s);
    if (left(r) < 4)
        return hlz_fail(r->error, HLZ_ERR_TRUNCATED, "%s: file ends inside its info", what);
    t->n_dims = hlz_le32(r->p + r->pos);
    r->pos += 4;
    if (t->n_dims > HLZ_GGUF_MAX_DIMS)
        return hlz_fail(r->error, HLZ_ERR_CORRUPT, "%s: %u dims, more than %d", what, t->n_dims,
                        HLZ_GGUF_MAX_DIMS);
    if (left(r) < 8 * (uint64_t)t->n_dims + 12)
        return hlz_fail(r->error, HLZ_ERR_TRUNCATED, "%s: file ends inside its info", what);
    for (uint32_t d = 0; d < HLZ_GGUF_MAX_DIMS; d++)
        t->dims[d] = d < t->n_dims ? hlz_le64(r->p + r->pos + 8 * d) : 1;
    r->pos += 8 * (uint64_t)t->n_dims;
    t->type = hlz_le32(r->p + r->pos);
    t->offset = hlz_le64(r->p + r->pos + 4); /* relative to the data section until check_data */
    r->pos += 12;
    st = hlz_ggml_tensor_size(t->type, t->n_dims, t->dims, what, &t->n_elements, &t->size, r->error);
    if (st != HLZ_OK) return st;
    t->n_rows = t->n_elements / t->dims[0];
    t->row_size = t->size / t->n_rows;
    return HLZ_OK;
}

static hlz_status read_header(hlz_gguf *g, parser *r)
{
    if (r->size < 4 || memcmp(r->p, "GGUF", 4) != 0) {
        if (r->size < 4)
            return hlz_fail(r->error, HLZ_ERR_MODEL, "not a GGUF file (only %llu bytes)", (ull)r->size);
        return hlz_fail(r->error, HLZ_ERR_MODEL,
                        "not a GGUF file (it starts with %02x %02x %02x %02x, not \"GGUF\")", r->p[0],
                        r->p[1], r->p[2], r->p[3]);
    }
    if (r->size < HEADER_SIZE) return hlz_fail(r->error, HLZ_ERR_TRUNCATED, "file ends inside the GGUF header");
    g->version = hlz_le32(r->p + 4);
    uint64_t tensors = hlz_le64(r->p + 8), kvs = hlz_le64(r->p + 16);
    r->pos = HEADER_SIZE;
    if (g->version > 0xffff && (g->version & 0xffff) == 0)
        return hlz_fail(r->error, HLZ_ERR_UNSUPPORTED, "big-endian GGUF files are not supported");
    if (g->version == 0) return hlz_fail(r->error, HLZ_ERR_CORRUPT, "GGUF version 0 is invalid");
    if (g->version == 1)
        return hlz_fail(r->error, HLZ_ERR_VERSION, "GGUF version 1 is not supported (only 2 and 3)");
    if (g->version > 3)
        return hlz_fail(r->error, HLZ_ERR_VERSION, "GGUF version %u is newer than this reader (3)",
                        g->version);
    /* Every pair and info takes a minimum of bytes: counts beyond what the file
     * can hold are corrupt, and allocations never follow such a count. */
    if (kvs > left(r) / MIN_KV_SIZE || tensors > (left(r) - kvs * MIN_KV_SIZE) / MIN_TENSOR_SIZE)
        return hlz_fail(r->error, HLZ_ERR_TRUNCATED,
                        "header claims %llu metadata pairs and %llu tensors, more than the file can hold",
                        (ull)kvs, (ull)tensors);
    g->kv_count = kvs;
    g->tensor_count = tensors;
    return HLZ_OK;
}

static int compare_kv(const void *a, const void *b)
{
    return strcmp((*(hlz_gguf_kv *const *)a)->key, (*(hlz_gguf_kv *const *)b)->key);
}

static int compare_tensor_name(const void *a, const void *b)
{
    return strcmp((*(hlz_gguf_tensor *const *)a)->name, (*(hlz_gguf_tensor *const *)b)->name);
}

static int compare_tensor_offset(const void *a, const void *b)
{
    uint64_t x = (*(hlz_gguf_tensor *const *)a)->offset, y = (*(hlz_gguf_tensor *const *)b)->offset;
    return x < y ? -1 : x > y;
}

/* Gives every pair and tensor its name from the store and builds the sorted
 * lookup tables, rejecting duplicates. */
static hlz_status index_names(hlz_gguf *g, parser *r)
{
    g->names = (char *)r->names.data;
    r->names.data = NULL;
    const char *p = g->names;
    for (uint64_t i = 0; i < g->kv_count; i++, p += strlen(p) + 1) g->kvs[i].key = p;
    for (uint64_t i = 0; i < g->tensor_count; i++, p += strlen(p) + 1) g->tensors[i].name = p;

    g->kv_sorted = malloc((size_t)g->kv_count * sizeof *g->kv_sorted + 1);
    g->tensor_sorted = malloc((size_t)g->tensor_count * sizeof *g->tensor_sorted + 1);
    if (g->kv_sorted == NULL || g->tensor_sorted == NULL)
        return hlz_fail(r->error, HLZ_ERR_NOMEM, "out of memory");
    for (uint64_t i = 0; i < g->kv_count; i++) g->kv_sorted[i] = &g->kvs[i];
    for (uint64_t i = 0; i < g->tensor_count; i++) g->tensor_sorted[i] = &g->tensors[i];
    if (g->kv_count > 1) qsort(g->kv_sorted, (size_t)g->kv_count, sizeof *g->kv_sorted, compare_kv);
    if (g->tensor_count > 1)
        qsort(g->tensor_sorted, (size_t)g->tensor_count, sizeof *g->tensor_sorted, compare_tensor_name);
    for (uint64_t i = 1; i < g->kv_count; i++)
        if (strcmp(g->kv_sorted[i - 1]->key, g->kv_sorted[i]->key) == 0)
            return hlz_fail(r->error, HLZ_ERR_CORRUPT, "duplicate key '%s'", quote_c(g->kv_sorted[i]->key).s);
    for (uint64_t i = 1; i < g->tensor_count; i++)
        if (strcmp(g->tensor_sorted[i - 1]->name, g->tensor_sorted[i]->name) == 0)
            return hlz_fail(r->error, HLZ_ERR_CORRUPT, "duplicate tensor name '%s'",
                            quote_c(g->tensor_sorted[i]->name).s);
    return HLZ_OK;
}

static hlz_status read_alignment(hlz_gguf *g, hlz_error *error)
{
    g->alignment = HLZ_GGUF_DEFAULT_ALIGNMENT;
    const hlz_gguf_kv *kv = hlz_gguf_find(g, "general.alignment");
    if (kv == NULL) return HLZ_OK;
    if (kv->type != HLZ_GGUF_UINT32)
        return hlz_fail(error, HLZ_ERR_CORRUPT, "key 'general.alignment' is a %s, not a uint32",
                        hlz_gguf_type_name(kv->type));
    uint32_t a = hlz_le32(kv->data);
    if (a == 0 || (a & (a - 1)) != 0 || a > HLZ_GGUF_ALIGNMENT_MAX)
        return hlz_fail(error, HLZ_ERR_CORRUPT, "general.alignment %u is not a power of two up to %u", a,
                        HLZ_GGUF_ALIGNMENT_MAX);
    g->alignment = a;
    return HLZ_OK;
}

/* Places the tensor data after the infos and checks it lies in the file,
 * aligned, without overlaps, and with no more than padding after it. */
static hlz_status check_data(hlz_gguf *g, uint64_t infos_end, bool prefix, hlz_error *error)
{
    uint64_t a = g->alignment, size = prefix ? (uint64_t)1 << 62 : g->file_size;
    g->data_offset = infos_end + (a - infos_end % a) % a; /* infos_end <= size: no overflow */
    uint64_t end = infos_end;
    for (uint64_t i = 0; i < g->tensor_count; i++) {
        hlz_gguf_tensor *t = &g->tensors[i];
        quoted name = quote_c(t->name);
        if (t->offset % a != 0)
            return hlz_fail(error, HLZ_ERR_CORRUPT,
                            "tensor '%s': data offset %llu is not a multiple of the alignment %u", name.s,
                            (ull)t->offset, g->alignment);
        if (g->data_offset > size || t->offset > size - g->data_offset ||
            t->size > size - g->data_offset - t->offset)
            return hlz_fail(error, HLZ_ERR_TRUNCATED, "tensor '%s': data runs past the end of the file",
                            name.s);
        t->offset += g->data_offset;
        t->data = prefix ? NULL : g->base + t->offset;
        if (t->offset + t->size > end) end = t->offset + t->size;
    }
    /* tensor_sorted serves as scratch: sort by offset, compare neighbours, restore. */
    hlz_gguf_tensor **by = g->tensor_sorted;
    if (g->tensor_count > 1) qsort(by, (size_t)g->tensor_count, sizeof *by, compare_tensor_offset);
    for (uint64_t i = 1; i < g->tensor_count; i++)
        if (by[i - 1]->offset + by[i - 1]->size > by[i]->offset)
            return hlz_fail(error, HLZ_ERR_CORRUPT, "tensors '%s' and '%s' overlap",
                            quote_c(by[i - 1]->name).s, quote_c(by[i]->name).s);
    if (g->tensor_count > 1) qsort(by, (size_t)g->tensor_count, sizeof *by, compare_tensor_name);
    if (!prefix && size - end >= a)
        return hlz_fail(error, HLZ_ERR_CORRUPT,
                        "%llu bytes of unexpected data after the last tensor (wrong tensor count?)",
                        (ull)(size - end));
    return HLZ_OK;
}

static hlz_status parse(hlz_gguf *g, parser *r)
{
    hlz_status st = read_header(g, r);
    if (st != HLZ_OK) return st;
    uint64_t kvs = g->kv_count, tensors = g->tensor_count;
    g->kv_count = g->tensor_count = 0; /* count what is filled, for hlz_gguf_close */
    for (uint64_t i = 0; i < kvs; i++) {
        st = grow((void **)&g->kvs, &r->kv_cap, i + 1, sizeof *g->kvs, kvs, r->error);
        if (st != HLZ_OK) return st;
        memset(&g->kvs[i], 0, sizeof g->kvs[i]);
        g->kv_count = i + 1;
        st = read_kv(r, i, &g->kvs[i]);
        if (st != HLZ_OK) return st;
    }
    for (uint64_t i = 0; i < tensors; i++) {
        st = grow((void **)&g->tensors, &r->tensor_cap, i + 1, sizeof *g->tensors, tensors, r->error);
        if (st != HLZ_OK) return st;
        memset(&g->tensors[i], 0, sizeof g->tensors[i]);
        st = read_tensor_info(r, i, &g->tensors[i]);
        if (st != HLZ_OK) return st;
        g->tensor_count = i + 1;
    }
    if ((st = index_names(g, r)) != HLZ_OK) return st;
    if ((st = read_alignment(g, r->error)) != HLZ_OK) return st;
    return check_data(g, r->pos, r->prefix, r->error);
}

hlz_status hlz_gguf_open_memory(hlz_gguf *g, const void *data, size_t size, hlz_error *error)
{
    memset(g, 0, sizeof *g);
    static const uint8_t empty[1];
    g->base = data ? data : empty;
    g->file_size = size;
    parser r = {.p = g->base, .size = size, .error = error};
    hlz_status st = parse(g, &r);
    free(r.names.data);
    if (st != HLZ_OK) hlz_gguf_close(g);
    return st;
}

hlz_status hlz_gguf_open_prefix(hlz_gguf *g, const void *data, size_t size, hlz_error *error)
{
    memset(g, 0, sizeof *g);
    static const uint8_t empty[1];
    g->base = data ? data : empty;
    g->file_size = size;
    parser r = {.p = g->base, .size = size, .error = error, .prefix = true};
    hlz_status st = parse(g, &r);
    free(r.names.data);
    if (st != HLZ_OK) hlz_gguf_close(g);
    return st;
}

hlz_status hlz_gguf_open(hlz_gguf *g, const char *path, hlz_error *error)
{
    memset(g, 0, sizeof *g);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return hlz_fail(error, HLZ_ERR_IO, "cannot open: %s", strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        return hlz_fail(error, HLZ_ERR_IO, "cannot stat: %s", strerror(e));
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return hlz_fail(error, HLZ_ERR_IO, "not a regular file");
    }
    if ((uint64_t)sb.st_size > SIZE_MAX) {
        close(fd);
        return hlz_fail(error, HLZ_ERR_UNSUPPORTED, "file too large to map on this machine");
    }
    size_t size = (size_t)sb.st_size;
    void *map = NULL;
    if (size > 0) {
        map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            int e = errno;
            close(fd);
            return hlz_fail(error, HLZ_ERR_IO, "cannot map: %s", strerror(e));
        }
    }
    close(fd); /* the mapping keeps the file */
    hlz_status st = hlz_gguf_open_memory(g, map, size, error);
    if (st != HLZ_OK) {
        if (map) munmap(map, size);
        return st;
    }
    g->mapping = map;
    g->mapping_size = size;
    return HLZ_OK;
}

void hlz_gguf_close(hlz_gguf *g)
{
    for (uint64_t i = 0; i < g->kv_count; i++) free(g->kvs[i].items);
    free(g->kvs);
    free(g->tensors);
    free(g->kv_sorted);
    free(g->tensor_sorted);
    free(g->names);
    if (g->mapping) munmap(g->mapping, g->mapping_size);
    memset(g, 0, sizeof *g);
}

/* ---- lookups and typed getters ------------------------------------------- */

const hlz_gguf_kv *hlz_gguf_find(const hlz_gguf *g, const char *key)
{
    uint64_t lo = 0, hi = g->kv_count;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        int c = strcmp(g->kv_sorted[mid]->key, key);
        if (c == 0) return g->kv_sorted[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

const hlz_gguf_tensor *hlz_gguf_find_tensor(const hlz_gguf *g, const char *name)
{
    uint64_t lo = 0, hi = g->tensor_count;
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        int c = strcmp(g->tensor_sorted[mid]->name, name);
        if (c == 0) return g->tensor_sorted[mid];
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

hlz_status hlz_gguf_get_tensor(const hlz_gguf *g, const char *name, const hlz_gguf_tensor **out,
                               hlz_error *error)
{
    *out = hlz_gguf_find_tensor(g, name);
    if (*out == NULL) return hlz_fail(error, HLZ_ERR_MODEL, "missing tensor '%s'", quote_c(name).s);
    return HLZ_OK;
}

/* "a string", "an array of int32": what a pair holds, for messages. */
static const char *describe(uint32_t type, uint32_t elem_type, char buf[32])
{
    const char *n = hlz_gguf_type_name(type == HLZ_GGUF_ARRAY ? elem_type : type);
    const char *an = strchr("aeio", n[0]) ? "an" : "a"; /* "an int32", "a uint32" */
    if (type == HLZ_GGUF_ARRAY) snprintf(buf, 32, "an array of %s", n);
    else snprintf(buf, 32, "%s %s", an, n);
    return buf;
}

static hlz_status missing(const char *key, hlz_error *error)
{
    return hlz_fail(error, HLZ_ERR_MODEL, "missing key '%s'", quote_c(key).s);
}

/* "key 'x' is a string, not a uint32": `want` is what the caller expected. */
static hlz_status wrong_type(const hlz_gguf_kv *kv, const char *want, hlz_error *error)
{
    char have[32];
    return hlz_fail(error, HLZ_ERR_MODEL, "key '%s' is %s, not %s", quote_c(kv->key).s,
                    describe(kv->type, kv->elem_type, have), want);
}

/* Finds `key` and checks its type is `type` (and, for arrays, its element
 * type `elem`, HLZ_GGUF_TYPE_COUNT for any). */
static hlz_status lookup(const hlz_gguf *g, const char *key, uint32_t type, uint32_t elem,
                         const hlz_gguf_kv **out, hlz_error *error)
{
    const hlz_gguf_kv *kv = hlz_gguf_find(g, key);
    if (kv == NULL) return missing(key, error);
    if (kv->type != type ||
        (type == HLZ_GGUF_ARRAY && elem != HLZ_GGUF_TYPE_COUNT && kv->elem_type != elem)) {
        char want[32];
        if (type == HLZ_GGUF_ARRAY && elem == HLZ_GGUF_TYPE_COUNT) strcpy(want, "an array");
        else describe(type, elem, want);
        return wrong_type(kv, want, error);
    }
    *out = kv;
    return HLZ_OK;
}

static bool is_integer(uint32_t t)
{
    return t <= HLZ_GGUF_INT32 || t == HLZ_GGUF_UINT64 || t == HLZ_GGUF_INT64;
}

/* An integer as sign and magnitude, so every stored type compares exactly. */
typedef struct {
    bool negative;
    uint64_t magnitude;
} integer;

static integer read_integer(uint32_t type, const uint8_t *p)
{
    int64_t s;
    switch (type) {
    case HLZ_GGUF_UINT8: return (integer){false, p[0]};
    case HLZ_GGUF_UINT16: return (integer){false, hlz_le16(p)};
    case HLZ_GGUF_UINT32: return (integer){false, hlz_le32(p)};
    case HLZ_GGUF_UINT64: return (integer){false, hlz_le64(p)};
    case HLZ_GGUF_INT8: s = (int8_t)p[0]; break;
    case HLZ_GGUF_INT16: s = (int16_t)hlz_le16(p); break;
    case HLZ_GGUF_INT32: s = (int32_t)hlz_le32(p); break;
    default: s = (int64_t)hlz_le64(p); break;
    }
    return s < 0 ? (integer){true, 0 - (uint64_t)s} : (integer){false, (uint64_t)s};
}

/* Checks that v lies in [-min_magnitude, max]. */
static bool fits(integer v, uint64_t min_magnitude, uint64_t max)
{
    return v.negative ? v.magnitude <= min_magnitude : v.magnitude <= max;
}

/* The integer `key` as a value in [-min_magnitude, max], the range of `type`. */
static hlz_status get_integer(const hlz_gguf *g, const char *key, uint64_t min_magnitude, uint64_t max,
                              uint32_t type, integer *out, hlz_error *error)
{
    const hlz_gguf_kv *kv = hlz_gguf_find(g, key);
    char want[32];
    if (kv == NULL) return missing(key, error);
    if (!is_integer(kv->type)) return wrong_type(kv, describe(type, 0, want), error);
    *out = read_integer(kv->type, kv->data);
    if (!fits(*out, min_magnitude, max))
        return hlz_fail(error, HLZ_ERR_MODEL, "key '%s': value %s%llu does not fit in %s",
                        quote_c(key).s, out->negative ? "-" : "", (ull)out->magnitude, describe(type, 0, want));
    return HLZ_OK;
}

hlz_status hlz_gguf_get_u32(const hlz_gguf *g, const char *key, uint32_t *out, hlz_error *error)
{
    integer v;
    hlz_status st = get_integer(g, key, 0, UINT32_MAX, HLZ_GGUF_UINT32, &v, error);
    if (st == HLZ_OK) *out = (uint32_t)v.magnitude;
    return st;
}

hlz_status hlz_gguf_get_u64(const hlz_gguf *g, const char *key, uint64_t *out, hlz_error *error)
{
    integer v;
    hlz_status st = get_integer(g, key, 0, UINT64_MAX, HLZ_GGUF_UINT64, &v, error);
    if (st == HLZ_OK) *out = v.magnitude;
    return st;
}

hlz_status hlz_gguf_get_i32(const hlz_gguf *g, const char *key, int32_t *out, hlz_error *error)
{
    integer v;
    hlz_status st = get_integer(g, key, (uint64_t)INT32_MAX + 1, INT32_MAX, HLZ_GGUF_INT32, &v, error);
    if (st == HLZ_OK) *out = (int32_t)(v.negative ? -(int64_t)v.magnitude : (int64_t)v.magnitude);
    return st;
}

static float f32_at(const uint8_t *p)
{
    uint32_t bits = hlz_le32(p);
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

hlz_status hlz_gguf_get_f32(const hlz_gguf *g, const char *key, float *out, hlz_error *error)
{
    const hlz_gguf_kv *kv = hlz_gguf_find(g, key);
    if (kv && kv->type == HLZ_GGUF_FLOAT64) {
        uint64_t bits = hlz_le64(kv->data);
        double d;
        memcpy(&d, &bits, sizeof d);
        *out = (float)d;
        return HLZ_OK;
    }
    hlz_status st = lookup(g, key, HLZ_GGUF_FLOAT32, 0, &kv, error);
    if (st == HLZ_OK) *out = f32_at(kv->data);
    return st;
}

hlz_status hlz_gguf_get_bool(const hlz_gguf *g, const char *key, bool *out, hlz_error *error)
{
    const hlz_gguf_kv *kv;
    hlz_status st = lookup(g, key, HLZ_GGUF_BOOL, 0, &kv, error);
    if (st == HLZ_OK) *out = kv->data[0] != 0;
    return st;
}

hlz_status hlz_gguf_get_string(const hlz_gguf *g, const char *key, hlz_gguf_str *out, hlz_error *error)
{
    const hlz_gguf_kv *kv;
    hlz_status st = lookup(g, key, HLZ_GGUF_STRING, 0, &kv, error);
    if (st == HLZ_OK) *out = hlz_gguf_kv_string(kv, 0);
    return st;
}

hlz_status hlz_gguf_get_array(const hlz_gguf *g, const char *key, uint32_t elem_type,
                              const hlz_gguf_kv **out, hlz_error *error)
{
    return lookup(g, key, HLZ_GGUF_ARRAY, elem_type, out, error);
}

hlz_gguf_str hlz_gguf_kv_string(const hlz_gguf_kv *kv, uint64_t i)
{
    if (kv->type == HLZ_GGUF_STRING && i == 0) return (hlz_gguf_str){(const char *)kv->data, (size_t)kv->size};
    if (kv->items == NULL || i >= kv->count) return (hlz_gguf_str){"", 0};
    return (hlz_gguf_str){(const char *)kv->items[i] + 8, (size_t)hlz_le64(kv->items[i])};
}

static hlz_status check_count(const hlz_gguf_kv *kv, uint64_t count, hlz_error *error)
{
    if (kv->count != count)
        return hlz_fail(error, HLZ_ERR_MODEL, "key '%s' has %llu elements, expected %llu",
                        quote_c(kv->key).s, (ull)kv->count, (ull)count);
    return HLZ_OK;
}

hlz_status hlz_gguf_get_f32_array(const hlz_gguf *g, const char *key, float *out, uint64_t count,
                                  hlz_error *error)
{
    const hlz_gguf_kv *kv;
    hlz_status st = lookup(g, key, HLZ_GGUF_ARRAY, HLZ_GGUF_FLOAT32, &kv, error);
    if (st == HLZ_OK) st = check_count(kv, count, error);
    if (st != HLZ_OK) return st;
    for (uint64_t i = 0; i < count; i++) out[i] = f32_at(kv->data + 4 * i);
    return HLZ_OK;
}

hlz_status hlz_gguf_get_i32_array(const hlz_gguf *g, const char *key, int32_t *out, uint64_t count,
                                  hlz_error *error)
{
    const hlz_gguf_kv *kv = hlz_gguf_find(g, key);
    hlz_status st;
    if (kv == NULL) return missing(key, error);
    if (kv->type != HLZ_GGUF_ARRAY || !is_integer(kv->elem_type))
        return wrong_type(kv, "an array of integers", error);
    if ((st = check_count(kv, count, error)) != HLZ_OK) return st;
    size_t size = value_sizes[kv->elem_type];
    for (uint64_t i = 0; i < count; i++) {
        integer v = read_integer(kv->elem_type, kv->data + size * i);
        if (!fits(v, (uint64_t)INT32_MAX + 1, INT32_MAX))
            return hlz_fail(error, HLZ_ERR_MODEL, "key '%s': element %llu (%s%llu) does not fit in an int32",
                            quote_c(key).s, (ull)i, v.negative ? "-" : "", (ull)v.magnitude);
        out[i] = (int32_t)(v.negative ? -(int64_t)v.magnitude : (int64_t)v.magnitude);
    }
    return HLZ_OK;
}

hlz_status hlz_gguf_tensor_row(const hlz_gguf_tensor *t, uint64_t row, float *dst, hlz_error *error)
{
    if (row >= t->n_rows)
        return hlz_fail(error, HLZ_ERR_PARAM, "tensor '%s': row %llu is past its %llu rows",
                        quote_c(t->name).s, (ull)row, (ull)t->n_rows);
    return hlz_ggml_dequantize_row(t->type, t->data + row * t->row_size, dst, t->dims[0], error);
}
