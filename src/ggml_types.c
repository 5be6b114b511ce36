/* ggml_types.c - ggml tensor types: block sizes and reference dequantization. */
#include "gguf.h"
#include "kernels.h" /* hlz_f16_to_f32, hlz_bf16_to_f32 */

#include <string.h>

/* Block geometry of every type a GGUF file may hold (ggml-common.h), so that
 * files with types we cannot compute still open and get their bounds checked.
 * Ids 4, 5 and 31..33 were retired from the format and stay unknown. */
static const hlz_ggml_type_info types[HLZ_GGML_TYPE_COUNT] = {
    [0] = {"F32", 1, 4, true},       [1] = {"F16", 1, 2, true},
    [2] = {"Q4_0", 32, 18, false},   [3] = {"Q4_1", 32, 20, false},
    [6] = {"Q5_0", 32, 22, false},   [7] = {"Q5_1", 32, 24, false},
    [8] = {"Q8_0", 32, 34, true},    [9] = {"Q8_1", 32, 36, false},
    [10] = {"Q2_K", 256, 84, false}, [11] = {"Q3_K", 256, 110, false},
    [12] = {"Q4_K", 256, 144, true}, [13] = {"Q5_K", 256, 176, false},
    [14] = {"Q6_K", 256, 210, true}, [15] = {"Q8_K", 256, 292, false},
    [16] = {"IQ2_XXS", 256, 66, false}, [17] = {"IQ2_XS", 256, 74, false},
    [18] = {"IQ3_XXS", 256, 98, false}, [19] = {"IQ1_S", 256, 50, false},
    [20] = {"IQ4_NL", 32, 18, false},   [21] = {"IQ3_S", 256, 110, false},
    [22] = {"IQ2_S", 256, 82, false},   [23] = {"IQ4_XS", 256, 136, false},
    [24] = {"I8", 1, 1, false},  [25] = {"I16", 1, 2, false}, [26] = {"I32", 1, 4, false},
    [27] = {"I64", 1, 8, false}, [28] = {"F64", 1, 8, false},
    [29] = {"IQ1_M", 256, 56, false},   [30] = {"BF16", 1, 2, true},
    [34] = {"TQ1_0", 256, 54, false},   [35] = {"TQ2_0", 256, 66, false},
    [39] = {"MXFP4", 32, 17, false},
};

const hlz_ggml_type_info *hlz_ggml_type(uint32_t type)
{
    if (type >= HLZ_GGML_TYPE_COUNT || types[type].name == NULL) return NULL;
    return &types[type];
}

const char *hlz_ggml_type_name(uint32_t type)
{
    const hlz_ggml_type_info *info = hlz_ggml_type(type);
    return info ? info->name : "unknown";
}

#define SIZE_LIMIT ((uint64_t)INT64_MAX) /* ggml counts in int64_t */

hlz_status hlz_ggml_tensor_size(uint32_t type, uint32_t n_dims, const uint64_t *dims,
                                const char *what, uint64_t *n_elements, uint64_t *size,
                                hlz_error *error)
{
    const hlz_ggml_type_info *info = hlz_ggml_type(type);
    if (info == NULL) return hlz_fail(error, HLZ_ERR_CORRUPT, "%s: unknown ggml type %u", what, type);
    if (n_dims > HLZ_GGUF_MAX_DIMS)
        return hlz_fail(error, HLZ_ERR_CORRUPT, "%s: %u dims, more than %d", what, n_dims,
                        HLZ_GGUF_MAX_DIMS);
    uint64_t count = 1;
    for (uint32_t i = 0; i < n_dims; i++) {
        if (dims[i] == 0) return hlz_fail(error, HLZ_ERR_CORRUPT, "%s: dim %u is zero", what, i);
        if (dims[i] > SIZE_LIMIT / count)
            return hlz_fail(error, HLZ_ERR_CORRUPT, "%s: element count overflows", what);
        count *= dims[i];
    }
    uint64_t row = n_dims > 0 ? dims[0] : 1;
    if (row % info->block_size != 0)
        return hlz_fail(error, HLZ_ERR_CORRUPT,
                        "%s: row length %llu is not a multiple of the %s block size %u", what,
                        (unsigned long long)row, info->name, info->block_size);
    uint64_t blocks = count / info->block_size;
    if (blocks > SIZE_LIMIT / info->type_size)
        return hlz_fail(error, HLZ_ERR_CORRUPT, "%s: byte size overflows", what);
    if (n_elements) *n_elements = count;
    if (size) *size = blocks * info->type_size;
    return HLZ_OK;
}

static float from_bits(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* The formulas below keep ggml's operation order (e.g. (d * sc) * q), so that
 * with -ffp-contract=off they round exactly as ggml's reference does. */

static void dequant_q8_0(const uint8_t *b, float *y, uint64_t blocks)
{
    for (uint64_t i = 0; i < blocks; i++, b += 34, y += 32) {
        float d = hlz_f16_to_f32(hlz_le16(b));
        for (int j = 0; j < 32; j++) y[j] = (float)(int8_t)b[2 + j] * d;
    }
}

/* Q4_K packs 8 (scale, min) pairs of 6 bits into 12 bytes: pairs 0..3 in the
 * low 6 bits of bytes 0..3 (scale) and 4..7 (min); pairs 4..7 take their low
 * 4 bits from bytes 8..11 and their high 2 bits from the tops of bytes 0..7. */
static void q4k_scale_min(const uint8_t *s, int j, uint8_t *sc, uint8_t *m)
{
    if (j < 4) {
        *sc = s[j] & 63;
        *m = s[j + 4] & 63;
    } else {
        *sc = (uint8_t)((s[j + 4] & 0xf) | ((s[j - 4] >> 6) << 4));
        *m = (uint8_t)((s[j + 4] >> 4) | ((s[j] >> 6) << 4));
    }
}

/* Block: f16 d, f16 dmin, scales[12], qs[128]. Each 64 values share 32 bytes
 * of qs: the low nibbles are the first 32 values, the high nibbles the next. */
static void dequant_q4_k(const uint8_t *b, float *y, uint64_t blocks)
{
    for (uint64_t i = 0; i < blocks; i++, b += 144) {
        float d = hlz_f16_to_f32(hlz_le16(b)), dmin = hlz_f16_to_f32(hlz_le16(b + 2));
        const uint8_t *scales = b + 4, *q = b + 16;
        for (int j = 0; j < 8; j += 2, q += 32) {
            uint8_t sc, m;
            q4k_scale_min(scales, j, &sc, &m);
            float d1 = d * sc, m1 = dmin * m;
            q4k_scale_min(scales, j + 1, &sc, &m);
            float d2 = d * sc, m2 = dmin * m;
            for (int l = 0; l < 32; l++) *y++ = d1 * (q[l] & 0xf) - m1;
            for (int l = 0; l < 32; l++) *y++ = d2 * (q[l] >> 4) - m2;
        }
    }
}

/* Block: ql[128], qh[64], int8 scales[16], f16 d. Each half of 128 values uses
 * 64 bytes of ql (4 low bits), 32 of qh (2 high bits) and 8 scales: value
 * l + 32*k (l < 32, k < 4) takes the low (k < 2) or high nibble of
 * ql[l + 32*(k&1)], bits 2k..2k+1 of qh[l], and scale l/16 + 2k. */
static void dequant_q6_k(const uint8_t *b, float *y, uint64_t blocks)
{
    for (uint64_t i = 0; i < blocks; i++, b += 210) {
        const uint8_t *ql = b, *qh = b + 128;
        const int8_t *sc = (const int8_t *)(b + 192);
        float d = hlz_f16_to_f32(hlz_le16(b + 208));
        for (int half = 0; half < 2; half++, ql += 64, qh += 32, sc += 8, y += 128) {
            for (int l = 0; l < 32; l++) {
                int is = l / 16;
                int q1 = ((ql[l] & 0xf) | (((qh[l] >> 0) & 3) << 4)) - 32;
                int q2 = ((ql[l + 32] & 0xf) | (((qh[l] >> 2) & 3) << 4)) - 32;
                int q3 = ((ql[l] >> 4) | (((qh[l] >> 4) & 3) << 4)) - 32;
                int q4 = ((ql[l + 32] >> 4) | (((qh[l] >> 6) & 3) << 4)) - 32;
                y[l + 0] = d * sc[is + 0] * q1;
                y[l + 32] = d * sc[is + 2] * q2;
                y[l + 64] = d * sc[is + 4] * q3;
                y[l + 96] = d * sc[is + 6] * q4;
            }
        }
    }
}

hlz_status hlz_ggml_dequantize_row(uint32_t type, const void *src, float *dst, uint64_t n,
                                   hlz_error *error)
{
    const hlz_ggml_type_info *info = hlz_ggml_type(type);
    if (info == NULL || !info->supported)
        return hlz_fail(error, HLZ_ERR_UNSUPPORTED, "cannot dequantize ggml type %s (%u)",
                        hlz_ggml_type_name(type), type);
    if (n % info->block_size != 0)
        return hlz_fail(error, HLZ_ERR_PARAM, "%llu values are not whole %s blocks of %u",
                        (unsigned long long)n, info->name, info->block_size);
    const uint8_t *p = src;
    uint64_t blocks = n / info->block_size;
    switch (type) {
    case HLZ_GGML_F32:
        for (uint64_t i = 0; i < n; i++) dst[i] = from_bits(hlz_le32(p + 4 * i));
        break;
    case HLZ_GGML_F16:
        for (uint64_t i = 0; i < n; i++) dst[i] = hlz_f16_to_f32(hlz_le16(p + 2 * i));
        break;
    case HLZ_GGML_BF16:
        for (uint64_t i = 0; i < n; i++) dst[i] = hlz_bf16_to_f32(hlz_le16(p + 2 * i));
        break;
    case HLZ_GGML_Q8_0: dequant_q8_0(p, dst, blocks); break;
    case HLZ_GGML_Q4_K: dequant_q4_k(p, dst, blocks); break;
    case HLZ_GGML_Q6_K: dequant_q6_k(p, dst, blocks); break;
    }
    return HLZ_OK;
}
