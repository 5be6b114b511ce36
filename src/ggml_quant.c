/* ggml_quant.c - quantizers for the GGUF writer's K-quant types (gguf.h):
 * Q4_K and Q6_K with ggml's block layout and its reference search for
 * scales (quantize_row_q4_K_ref / quantize_row_q6_K_ref in ggml-quants.c:
 * weighted least squares over a few candidate scales). The converter's
 * output is input to hlz, never part of an archive's format, so the
 * arithmetic here need not match ggml bit for bit; the block layout must,
 * and hlz_ggml_dequantize_row reads it back. */
#include "gguf.h"
#include "kernels.h" /* hlz_f32_to_f16, hlz_f16_to_f32, hlz_quantize_row_q8_0 */

#include <math.h>
#include <string.h>

#define QK_K 256

/* Round to nearest, ties to even, for |v| < 2^22 (ggml's nearest_int). */
static int nearest_int(float v)
{
    float x = v + 12582912.0f;
    int32_t i;
    memcpy(&i, &x, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

static int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* Levels 0..nmax for n values with weights: value ~ scale * L - min; returns
 * scale, *the_min = min (>= 0). Tries nstep + 1 inverse scales around
 * nmax / (max - min) and keeps the least weighted squared error. */
static float make_qkx2_quants(int n, int nmax, const float *x, const float *weights, uint8_t *L, float *the_min,
                              uint8_t *Laux, float rmin, float rdelta, int nstep)
{
    float min = x[0], max = x[0], sum_w = weights[0], sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min) min = x[i];
        if (x[i] > max) max = x[i];
        sum_w += weights[i];
        sum_x += weights[i] * x[i];
    }
    if (min > 0) min = 0;
    if (max == min) {
        memset(L, 0, (size_t)n);
        *the_min = -min;
        return 0.0f;
    }
    float iscale = nmax / (max - min), scale = 1 / iscale, best = 0;
    for (int i = 0; i < n; i++) {
        L[i] = (uint8_t)clampi(nearest_int(iscale * (x[i] - min)), 0, nmax);
        float diff = scale * L[i] + min - x[i];
        best += weights[i] * diff * diff;
    }
    for (int is = 0; is <= nstep; is++) {
        iscale = (rmin + rdelta * is + nmax) / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            int l = clampi(nearest_int(iscale * (x[i] - min)), 0, nmax);
            Laux[i] = (uint8_t)l;
            sum_l += weights[i] * l;
            sum_l2 += weights[i] * l * l;
            sum_xl += weights[i] * l * x[i];
        }
        float D = sum_w * sum_l2 - sum_l * sum_l;
        if (D <= 0) continue;
        float this_scale = (sum_w * sum_xl - sum_x * sum_l) / D, this_min = (sum_l2 * sum_x - sum_l * sum_xl) / D;
        if (this_min > 0) this_min = 0, this_scale = sum_xl / sum_l2;
        float err = 0;
        for (int i = 0; i < n; i++) {
            float diff = this_scale * Laux[i] + this_min - x[i];
            err += weights[i] * diff * diff;
        }
        if (err < best) {
            memcpy(L, Laux, (size_t)n);
            best = err, scale = this_scale, min = this_min;
        }
    }
    *the_min = -min;
    return scale;
}

/* The 6-bit (scale, min) of sub-block j from the 12 packed bytes. */
static void scale_min_k4(int j, const uint8_t *q, uint8_t *d, uint8_t *m)
{
    if (j < 4) {
        *d = q[j] & 63, *m = q[j + 4] & 63;
    } else {
        *d = (uint8_t)((q[j + 4] & 0xf) | ((q[j - 4] >> 6) << 4));
        *m = (uint8_t)((q[j + 4] >> 4) | ((q[j] >> 6) << 4));
    }
}

/* Block: f16 d, f16 dmin, scales[12], qs[128]; value = d * sc * q - dmin * m. */
static void quantize_q4_k(const float *x, uint8_t *y, uint64_t nb)
{
    uint8_t L[QK_K], Laux[32];
    float weights[32], mins[8], scales[8];
    for (uint64_t i = 0; i < nb; i++, x += QK_K, y += 144) {
        float max_scale = 0, max_min = 0;
        for (int j = 0; j < 8; j++) {
            float sum_x2 = 0;
            for (int l = 0; l < 32; l++) sum_x2 += x[32 * j + l] * x[32 * j + l];
            float av_x = sqrtf(sum_x2 / 32);
            for (int l = 0; l < 32; l++) weights[l] = av_x + fabsf(x[32 * j + l]);
            scales[j] = make_qkx2_quants(32, 15, x + 32 * j, weights, L + 32 * j, &mins[j], Laux, -1.0f, 0.1f, 20);
            if (scales[j] > max_scale) max_scale = scales[j];
            if (mins[j] > max_min) max_min = mins[j];
        }
        float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f, inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
        uint8_t *sc = y + 4, *qs = y + 16;
        memset(sc, 0, 12);
        for (int j = 0; j < 8; j++) {
            uint8_t ls = (uint8_t)clampi(nearest_int(inv_scale * scales[j]), 0, 63);
            uint8_t lm = (uint8_t)clampi(nearest_int(inv_min * mins[j]), 0, 63);
            if (j < 4) {
                sc[j] = ls, sc[j + 4] = lm;
            } else {
                sc[j + 4] = (uint8_t)((ls & 0xf) | ((lm & 0xf) << 4));
                sc[j - 4] |= (uint8_t)((ls >> 4) << 6);
                sc[j] |= (uint8_t)((lm >> 4) << 6);
            }
        }
        hlz_put16(y, hlz_f32_to_f16(max_scale / 63.0f));
        hlz_put16(y + 2, hlz_f32_to_f16(max_min / 63.0f));
        float d_all = hlz_f16_to_f32(hlz_le16(y)), m_all = hlz_f16_to_f32(hlz_le16(y + 2));
        for (int j = 0; j < 8; j++) {
            uint8_t s, m;
            scale_min_k4(j, sc, &s, &m);
            float d = d_all * s;
            if (d == 0) continue;
            float dm = m_all * m;
            for (int l = 0; l < 32; l++) L[32 * j + l] = (uint8_t)clampi(nearest_int((x[32 * j + l] + dm) / d), 0, 15);
        }
        for (int j = 0; j < QK_K; j += 64, qs += 32)
            for (int l = 0; l < 32; l++) qs[l] = (uint8_t)(L[j + l] | (L[j + l + 32] << 4));
    }
}

/* Signed levels -nmax..nmax-1 (stored + nmax) with squared-value weights;
 * tries 18 inverse scales around -nmax / max. Returns the scale. */
static float make_qx_quants(int n, int nmax, const float *x, uint8_t *L)
{
    float max = 0, amax = 0;
    for (int i = 0; i < n; i++) {
        float ax = fabsf(x[i]);
        if (ax > amax) amax = ax, max = x[i];
    }
    if (amax < 1e-15f) {
        memset(L, 0, (size_t)n);
        return 0.0f;
    }
    float iscale = -nmax / max, sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1);
        L[i] = (uint8_t)(l + nmax);
        float w = x[i] * x[i];
        sumlx += w * x[i] * l;
        suml2 += w * l * l;
    }
    float scale = suml2 ? sumlx / suml2 : 0.0f, best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0) continue;
        iscale = -(nmax + 0.1f * is) / max;
        sumlx = suml2 = 0;
        for (int i = 0; i < n; i++) {
            int l = clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1);
            float w = x[i] * x[i];
            sumlx += w * x[i] * l;
            suml2 += w * l * l;
        }
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; i++) L[i] = (uint8_t)(nmax + clampi(nearest_int(iscale * x[i]), -nmax, nmax - 1));
            scale = sumlx / suml2, best = scale * sumlx;
        }
    }
    return scale;
}

/* Block: ql[128], qh[64], int8 scales[16], f16 d; value = d * scale * (q - 32). */
static void quantize_q6_k(const float *x, uint8_t *y, uint64_t nb)
{
    uint8_t L[QK_K];
    float scales[16];
    for (uint64_t i = 0; i < nb; i++, x += QK_K, y += 210) {
        float max_scale = 0, max_abs = 0;
        for (int ib = 0; ib < 16; ib++) {
            scales[ib] = make_qx_quants(16, 32, x + 16 * ib, L + 16 * ib);
            if (fabsf(scales[ib]) > max_abs) max_abs = fabsf(scales[ib]), max_scale = scales[ib];
        }
        memset(y, 0, 210);
        if (max_abs < 1e-15f) continue;
        float iscale = -128.0f / max_scale;
        hlz_put16(y + 208, hlz_f32_to_f16(1 / iscale));
        int8_t *sc = (int8_t *)(y + 192);
        for (int ib = 0; ib < 16; ib++) sc[ib] = (int8_t)clampi(nearest_int(iscale * scales[ib]), -128, 127);
        float d_all = hlz_f16_to_f32(hlz_le16(y + 208));
        for (int j = 0; j < 16; j++) {
            float d = d_all * sc[j];
            if (d == 0) continue;
            for (int l = 0; l < 16; l++) L[16 * j + l] = (uint8_t)(clampi(nearest_int(x[16 * j + l] / d), -32, 31) + 32);
        }
        uint8_t *ql = y, *qh = y + 128;
        for (int j = 0; j < QK_K; j += 128, ql += 64, qh += 32) {
            for (int l = 0; l < 32; l++) {
                uint8_t q1 = L[j + l] & 0xf, q2 = L[j + l + 32] & 0xf, q3 = L[j + l + 64] & 0xf, q4 = L[j + l + 96] & 0xf;
                ql[l] = (uint8_t)(q1 | (q3 << 4));
                ql[l + 32] = (uint8_t)(q2 | (q4 << 4));
                qh[l] = (uint8_t)((L[j + l] >> 4) | ((L[j + l + 32] >> 4) << 2) | ((L[j + l + 64] >> 4) << 4) |
                                  ((L[j + l + 96] >> 4) << 6));
            }
        }
    }
}

hlz_status hlz_ggml_quantize_row(uint32_t type, const float *src, void *dst, uint64_t n, hlz_error *error)
{
    const hlz_ggml_type_info *info = hlz_ggml_type(type);
    if (!info || (type != HLZ_GGML_Q8_0 && type != HLZ_GGML_Q4_K && type != HLZ_GGML_Q6_K))
        return hlz_fail(error, HLZ_ERR_UNSUPPORTED, "cannot quantize to ggml type %s (%u)", hlz_ggml_type_name(type), type);
    if (n % info->block_size != 0)
        return hlz_fail(error, HLZ_ERR_PARAM, "%llu values are not whole %s blocks of %u", (unsigned long long)n,
                        info->name, info->block_size);
    if (type == HLZ_GGML_Q8_0) hlz_quantize_row_q8_0(src, n, dst);
    else if (type == HLZ_GGML_Q4_K) quantize_q4_k(src, dst, n / QK_K);
    else quantize_q6_k(src, dst, n / QK_K);
    return HLZ_OK;
}
