/* convert_hf.c - Hugging Face model directories (config.json, *.safetensors,
 * tokenizer.json) of the llama and qwen2 families, as GGUF files laid out
 * the way llama.cpp's converter lays them out. */
#include "convert.h"
#include "detmath.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_FILES 256
#define MAX_HEADER (100u << 20)

typedef struct {
    const char *name;     /* inside the file's parsed JSON */
    const uint8_t *data;
    uint64_t rows, cols;  /* 1-D tensors: rows = 1 */
    int dtype;            /* 0 F32, 1 F16, 2 BF16 */
} st_tensor;

typedef struct {
    unsigned char *files[MAX_FILES];
    cJSON *headers[MAX_FILES];
    size_t n_files;
    st_tensor *tensors;
    size_t n_tensors;
} st_set;

static int st_add_file(st_set *s, const char *path)
{
    const char *why;
    size_t size;
    unsigned char *buf = read_file(path, &size, &why);
    if (!buf) return fail(path, why);
    s->files[s->n_files] = buf;
    uint64_t hsize = 0;
    if (size < 8) return fail(path, "too short for a safetensors file");
    for (int i = 7; i >= 0; i--) hsize = hsize << 8 | buf[i];
    if (hsize > MAX_HEADER || hsize > size - 8) return fail(path, "safetensors header size out of range");
    cJSON *h = cJSON_ParseWithLength((const char *)buf + 8, (size_t)hsize);
    if (!h || !cJSON_IsObject(h)) { cJSON_Delete(h); return fail(path, "safetensors header is not a JSON object"); }
    s->headers[s->n_files++] = h;
    const uint8_t *data = buf + 8 + hsize;
    uint64_t data_size = size - 8 - hsize;
    for (cJSON *t = h->child; t; t = t->next) {
        if (strcmp(t->string, "__metadata__") == 0) continue;
        cJSON *dt = cJSON_GetObjectItem(t, "dtype"), *shape = cJSON_GetObjectItem(t, "shape"),
              *off = cJSON_GetObjectItem(t, "data_offsets");
        if (!cJSON_IsString(dt) || !cJSON_IsArray(shape) || cJSON_GetArraySize(off) != 2)
            return fail(path, "malformed tensor entry in the safetensors header");
        st_tensor x = {.name = t->string, .rows = 1, .cols = 1};
        const char *d = dt->valuestring;
        x.dtype = strcmp(d, "F32") == 0 ? 0 : strcmp(d, "F16") == 0 ? 1 : strcmp(d, "BF16") == 0 ? 2 : -1;
        int nd = cJSON_GetArraySize(shape);
        if (x.dtype < 0 || nd < 1 || nd > 2) continue; /* not a weight we convert */
        double dims[2] = {1, 1};
        for (int i = 0; i < nd; i++) dims[i] = cJSON_GetArrayItem(shape, i)->valuedouble;
        if (dims[0] < 1 || dims[1] < 1 || dims[0] > 1e9 || dims[1] > 1e9) return fail(t->string, "bad shape");
        x.rows = nd == 2 ? (uint64_t)dims[0] : 1;
        x.cols = nd == 2 ? (uint64_t)dims[1] : (uint64_t)dims[0];
        double b = cJSON_GetArrayItem(off, 0)->valuedouble, e = cJSON_GetArrayItem(off, 1)->valuedouble;
        uint64_t need = x.rows * x.cols * (x.dtype == 0 ? 4 : 2);
        if (b < 0 || e < b || e > (double)data_size || (uint64_t)(e - b) != need)
            return fail(t->string, "data offsets disagree with the shape or the file");
        x.data = data + (uint64_t)b;
        st_tensor *grown = realloc(s->tensors, (s->n_tensors + 1) * sizeof *grown);
        if (!grown) return fail(path, "out of memory");
        s->tensors = grown;
        s->tensors[s->n_tensors++] = x;
    }
    return 0;
}

static void st_free(st_set *s)
{
    for (size_t i = 0; i < s->n_files; i++) free(s->files[i]), cJSON_Delete(s->headers[i]);
    free(s->tensors);
}

static const st_tensor *st_find(const st_set *s, const char *name)
{
    for (size_t i = 0; i < s->n_tensors; i++)
        if (strcmp(s->tensors[i].name, name) == 0) return &s->tensors[i];
    return NULL;
}

/* The tensor as float32 rows (exact for every source type). */
static float *st_to_f32(converter *c, const st_tensor *t)
{
    uint64_t n = t->rows * t->cols;
    float *out = own(c, n * sizeof *out);
    if (!out) return NULL;
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *p = t->data + i * (t->dtype == 0 ? 4 : 2);
        if (t->dtype == 0) memcpy(&out[i], p, 4);
        else {
            uint16_t h = (uint16_t)(p[0] | p[1] << 8);
            out[i] = t->dtype == 1 ? hlz_f16_to_f32(h) : hlz_bf16_to_f32(h);
        }
    }
    return out;
}

/* HF rotates the two halves of each head; GGUF's llama layout rotates
 * adjacent pairs: row h*hd + 2i + j of the result is row h*hd + j*hd/2 + i. */
static float *permute_rows(converter *c, const float *w, uint64_t heads, uint64_t hd, uint64_t cols)
{
    float *out = own(c, heads * hd * cols * sizeof *out);
    if (!out) return NULL;
    for (uint64_t h = 0; h < heads; h++)
        for (uint64_t i = 0; i < hd / 2; i++)
            for (uint64_t j = 0; j < 2; j++)
                memcpy(out + (h * hd + 2 * i + j) * cols, w + (h * hd + j * hd / 2 + i) * cols, cols * sizeof *w);
    return out;
}

static double num(const cJSON *cfg, const char *key, double fallback)
{
    const cJSON *v = cJSON_GetObjectItem(cfg, key);
    return cJSON_IsNumber(v) ? v->valuedouble : fallback;
}

/* Llama 3 rope scaling as per-frequency divisors (llama.cpp's rope_freqs tensor). */
static float *llama3_factors(converter *c, const cJSON *sc, double base, uint64_t hd)
{
    double factor = num(sc, "factor", 8), lo = num(sc, "low_freq_factor", 1), hi = num(sc, "high_freq_factor", 4),
           old = num(sc, "original_max_position_embeddings", 8192);
    float *f = own(c, hd / 2 * sizeof *f);
    if (!f) return NULL;
    for (uint64_t i = 0; i < hd / 2; i++) {
        double freq = hlz_det_exp(-(double)(2 * i) / (double)hd * hlz_det_log(base));
        double wavelen = 2 * 3.14159265358979323846 / freq;
        if (wavelen < old / hi) f[i] = 1.0f;
        else if (wavelen > old / lo) f[i] = (float)factor;
        else {
            double smooth = (old / wavelen - lo) / (hi - lo);
            f[i] = (float)(1.0 / ((1 - smooth) / factor + smooth));
        }
    }
    return f;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

int convert_hf(converter *c, const char *dir, const char *name)
{
    char path[4096];
    const char *why;
    size_t size;
    snprintf(path, sizeof path, "%s/config.json", dir);
    unsigned char *text = read_file(path, &size, &why);
    if (!text) return fail(path, why);
    cJSON *cfg = cJSON_ParseWithLength((const char *)text, size);
    free(text);
    if (!cfg) return fail(path, "not valid JSON");
    st_set st = {0};
    int rc = 1;
    const cJSON *type = cJSON_GetObjectItem(cfg, "model_type");
    const char *arch = cJSON_IsString(type) ? type->valuestring : "";
    bool qwen2 = strcmp(arch, "qwen2") == 0;
    if (!qwen2 && strcmp(arch, "llama") != 0) {
        rc = fail(path, "model_type is not llama or qwen2");
        goto done;
    }
    uint64_t H = (uint64_t)num(cfg, "hidden_size", 0), L = (uint64_t)num(cfg, "num_hidden_layers", 0),
             nh = (uint64_t)num(cfg, "num_attention_heads", 0), ff = (uint64_t)num(cfg, "intermediate_size", 0);
    c->layers = (uint32_t)L;
    uint64_t nkv = (uint64_t)num(cfg, "num_key_value_heads", (double)nh);
    if (!H || !L || !nh || !ff || !nkv || nh % nkv || H > 65536 || L > 1024) {
        rc = fail(path, "missing or implausible sizes");
        goto done;
    }
    uint64_t hd = (uint64_t)num(cfg, "head_dim", (double)(H / nh));
    const cJSON *rp = cJSON_GetObjectItem(cfg, "rope_parameters"), *sc = cJSON_GetObjectItem(cfg, "rope_scaling");
    double base = num(cfg, "rope_theta", rp ? num(rp, "rope_theta", 10000) : 10000);
    if (!cJSON_IsObject(sc)) sc = rp;
    const cJSON *rtype = sc ? cJSON_GetObjectItem(sc, "rope_type") : NULL;
    if (!cJSON_IsString(rtype) && sc) rtype = cJSON_GetObjectItem(sc, "type");
    const char *rope_type = cJSON_IsString(rtype) ? rtype->valuestring : "default";
    if (strcmp(rope_type, "default") != 0 && strcmp(rope_type, "llama3") != 0) {
        rc = fail(path, "unsupported rope scaling (default and llama3 are)");
        goto done;
    }
    bool tied = cJSON_IsTrue(cJSON_GetObjectItem(cfg, "tie_word_embeddings"));

    /* Every *.safetensors in the directory, in name order. */
    DIR *d = opendir(dir);
    if (!d) { rc = fail(dir, "cannot open the directory"); goto done; }
    char *names[MAX_FILES];
    size_t n_names = 0;
    struct dirent *ent;
    while ((ent = readdir(d)) && n_names < MAX_FILES) {
        size_t n = strlen(ent->d_name);
        if (n > 12 && strcmp(ent->d_name + n - 12, ".safetensors") == 0) names[n_names++] = strdup(ent->d_name);
    }
    closedir(d);
    qsort(names, n_names, sizeof *names, cmp_str);
    int bad = n_names == 0;
    for (size_t i = 0; i < n_names; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        if (!bad && st_add_file(&st, path)) bad = 1;
        free(names[i]);
    }
    if (bad) {
        rc = n_names == 0 ? fail(dir, "no .safetensors files") : 1;
        goto done;
    }

    hlz_gguf_writer *w = &c->w;
    const char *a = qwen2 ? "qwen2" : "llama";
    char key[128];
#define KEY(s) (snprintf(key, sizeof key, "%s.%s", a, s), key)
    hlz_gguf_add_string(w, "general.architecture", a, strlen(a));
    hlz_gguf_add_string(w, "general.name", name, strlen(name));
    hlz_gguf_add_u32(w, KEY("context_length"), (uint32_t)num(cfg, "max_position_embeddings", 2048));
    hlz_gguf_add_u32(w, KEY("embedding_length"), (uint32_t)H);
    hlz_gguf_add_u32(w, KEY("block_count"), (uint32_t)L);
    hlz_gguf_add_u32(w, KEY("feed_forward_length"), (uint32_t)ff);
    hlz_gguf_add_u32(w, KEY("attention.head_count"), (uint32_t)nh);
    hlz_gguf_add_u32(w, KEY("attention.head_count_kv"), (uint32_t)nkv);
    hlz_gguf_add_u32(w, KEY("rope.dimension_count"), (uint32_t)hd);
    if (hd != H / nh) {
        hlz_gguf_add_u32(w, KEY("attention.key_length"), (uint32_t)hd);
        hlz_gguf_add_u32(w, KEY("attention.value_length"), (uint32_t)hd);
    }
    hlz_gguf_add_f32(w, KEY("attention.layer_norm_rms_epsilon"), (float)num(cfg, "rms_norm_eps", 1e-6));
    hlz_gguf_add_f32(w, KEY("rope.freq_base"), (float)base);
#undef KEY

    struct { const char *hf, *gguf; int kind; } map[] = {
        /* kind: 0 vector, 1 matrix, 2 q (permuted for llama), 3 k (permuted for llama), 4 bias (qwen2) */
        {"input_layernorm.weight", "attn_norm.weight", 0}, {"post_attention_layernorm.weight", "ffn_norm.weight", 0},
        {"self_attn.q_proj.weight", "attn_q.weight", 2},  {"self_attn.k_proj.weight", "attn_k.weight", 3},
        {"self_attn.v_proj.weight", "attn_v.weight", 1},  {"self_attn.o_proj.weight", "attn_output.weight", 1},
        {"mlp.gate_proj.weight", "ffn_gate.weight", 1},   {"mlp.up_proj.weight", "ffn_up.weight", 1},
        {"mlp.down_proj.weight", "ffn_down.weight", 1},   {"self_attn.q_proj.bias", "attn_q.bias", 4},
        {"self_attn.k_proj.bias", "attn_k.bias", 4},      {"self_attn.v_proj.bias", "attn_v.bias", 4},
    };
    const st_tensor *t;
    float *f;
#define NEED(n) do { if (!(t = st_find(&st, n))) { rc = fail(n, "missing from the safetensors files"); goto done; } \
                     if (!(f = st_to_f32(c, t))) { rc = fail(n, "out of memory"); goto done; } } while (0)
    NEED("model.embed_tokens.weight");
    add_matrix(c, "token_embd.weight", f, t->rows, t->cols);
    NEED("model.norm.weight");
    add_vector(c, "output_norm.weight", f, t->cols);
    if (!tied && st_find(&st, "lm_head.weight")) {
        NEED("lm_head.weight");
        add_matrix(c, "output.weight", f, t->rows, t->cols);
    }
    if (strcmp(rope_type, "llama3") == 0) {
        float *factors = llama3_factors(c, sc, base, hd);
        if (!factors) { rc = fail(dir, "out of memory"); goto done; }
        add_vector(c, "rope_freqs.weight", factors, hd / 2);
    }
    for (uint64_t l = 0; l < L; l++)
        for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
            char hf[160], gg[96];
            snprintf(hf, sizeof hf, "model.layers.%llu.%s", (unsigned long long)l, map[i].hf);
            snprintf(gg, sizeof gg, "blk.%llu.%s", (unsigned long long)l, map[i].gguf);
            if (map[i].kind == 4 && !qwen2) continue;
            NEED(hf);
            if (map[i].kind == 0 || map[i].kind == 4) {
                add_vector(c, gg, f, t->rows * t->cols);
                continue;
            }
            if (map[i].kind >= 2 && !qwen2) {
                uint64_t heads = map[i].kind == 2 ? nh : nkv;
                if (t->rows != heads * hd) { rc = fail(hf, "rows are not heads x head size"); goto done; }
                if (!(f = permute_rows(c, f, heads, hd, t->cols))) { rc = fail(hf, "out of memory"); goto done; }
            }
            add_matrix(c, gg, f, t->rows, t->cols);
        }
#undef NEED
    snprintf(path, sizeof path, "%s/tokenizer.json", dir);
    FILE *tj = fopen(path, "rb");
    if (tj) {
        fclose(tj);
        if (add_tokenizer_json(c, path)) goto done;
    }
    rc = 0;
done:
    /* The writer references tensor data in the files: they live as long as the converter. */
    for (size_t i = 0; i < st.n_files; i++)
        if (rc == 0 && adopt(c, st.files[i]) == 0) st.files[i] = NULL;
    st_free(&st);
    cJSON_Delete(cfg);
    return rc;
}
