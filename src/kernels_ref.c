/* kernels_ref.c - the plain C reference kernels: the definition of every
 * result the engine computes (see kernels.h for the arithmetic contract). */
#include "kernels.h"

#include <float.h>
#include <math.h>
#include <string.h>

float hlz_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (mant << 13); /* inf, nan */
    } else if (exp != 0) {
        bits = sign | ((exp + 112) << 23) | (mant << 13);
    } else if (mant == 0) {
        bits = sign;
    } else { /* subnormal half: normalise */
        int shift = 0;
        while (!(mant & 0x400)) mant <<= 1, shift++;
        bits = sign | ((uint32_t)(113 - shift) << 23) | ((mant & 0x3ff) << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

float hlz_bf16_to_f32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t hlz_f32_to_f16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000, exp = (x >> 23) & 0xff, mant = x & 0x7fffff;
    if (exp == 0xff) return (uint16_t)(sign | 0x7c00 | (mant ? 0x200 : 0));
    int e = (int)exp - 127 + 15;
    if (e >= 0x1f) return (uint16_t)(sign | 0x7c00);
    if (e <= 0) {
        if (e < -10) return (uint16_t)sign;
        mant |= 0x800000;
        int shift = 14 - e;
        uint32_t half = mant >> shift, rest = mant & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rest > mid || (rest == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    uint32_t half = ((uint32_t)e << 10) | (mant >> 13), rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (half & 1))) half++; /* may carry into the exponent: still right */
    return (uint16_t)(sign | half);
}

void hlz_quantize_row_q8_0(const float *x, uint64_t n, hlz_q8_0_block *out)
{
    for (uint64_t b = 0; b < n / HLZ_QBLOCK; b++) {
        const float *v = x + b * HLZ_QBLOCK;
        float amax = 0.0f;
        for (int i = 0; i < HLZ_QBLOCK; i++) amax = fabsf(v[i]) > amax ? fabsf(v[i]) : amax;
        float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        out[b].d = hlz_f32_to_f16(d);
        /* roundf is exact (ties away from zero), the same everywhere. */
        for (int i = 0; i < HLZ_QBLOCK; i++) out[b].q[i] = (int8_t)roundf(v[i] * id);
    }
}

float hlz_expf(float x)
{
    if (x != x) return x;
    if (x > 88.0f) return INFINITY;
    if (x < -87.33f) return 0.0f;
    float n = hlz_round_even(x * 1.44269504f);      /* x / ln 2 */
    float r = x - n * 0.693145751953125f;            /* ln 2, high part: n * it is exact */
    r = r - n * 1.42860677e-06f;                     /* ln 2, low part */
    float p = 1.0f / 720.0f;                         /* Taylor series of e^r, |r| <= 0.35 */
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int e = (int)n;                                  /* -126 .. 127 */
    uint32_t bits = (uint32_t)(e + 127) << 23;
    float scale;
    memcpy(&scale, &bits, 4);
    return p * scale;
}

/* The canonical tree over 32 lanes: offsets 16, 8, 4, 2, 1. */
static float lane_tree(float lanes[32])
{
    for (int off = 16; off > 0; off >>= 1)
        for (int i = 0; i < off; i++) lanes[i] = lanes[i] + lanes[i + off];
    return lanes[0];
}

static float dot_f32_ref(const float *a, const float *b, size_t n)
{
    float lanes[32] = {0};
    for (size_t i = 0; i < n; i++) lanes[i % 32] = lanes[i % 32] + a[i] * b[i];
    return lane_tree(lanes);
}

static float sum_f32_ref(const float *x, size_t n)
{
    float lanes[32] = {0};
    for (size_t i = 0; i < n; i++) lanes[i % 32] = lanes[i % 32] + x[i];
    return lane_tree(lanes);
}

static void quantize_q8_ref(const float *x, size_t n, hlz_q8_block *out)
{
    for (size_t b = 0; b < n / HLZ_QBLOCK; b++) {
        const float *v = x + b * HLZ_QBLOCK;
        float amax = 0.0f;
        int bad = 0;
        for (int i = 0; i < HLZ_QBLOCK; i++) {
            float a = v[i] < 0 ? -v[i] : v[i];
            bad |= !(a <= FLT_MAX); /* nan or inf */
            if (a > amax) amax = a;
        }
        /* A block with nan or inf becomes zeros: the same on every backend,
         * whatever order a SIMD max would meet the nan in. */
        if (bad) {
            memset(&out[b], 0, sizeof out[b]);
            continue;
        }
        float d = amax / 127.0f, id = d != 0.0f ? 1.0f / d : 0.0f;
        int32_t sum = 0;
        for (int i = 0; i < HLZ_QBLOCK; i++) {
            float r = hlz_round_even(v[i] * id);
            int q = (int)r;
            q = q > 127 ? 127 : q < -127 ? -127 : q;
            out[b].q[i] = (int8_t)q;
            sum += q;
        }
        out[b].d = d;
        out[b].sum = sum;
    }
}

static float dot_q8_0_ref(const hlz_q8_0_block *w, const hlz_q8_block *x, size_t n)
{
    float acc = 0.0f;
    for (size_t b = 0; b < n / HLZ_QBLOCK; b++) {
        int32_t isum = 0;
        for (int i = 0; i < HLZ_QBLOCK; i++) isum += (int32_t)w[b].q[i] * x[b].q[i];
        acc = acc + (float)isum * (hlz_f16_to_f32(w[b].d) * x[b].d);
    }
    return acc;
}

/* The definition of the matrix product: one dot_q8_0 per output. */
static void matmul_q8_0_ref(const hlz_q8_0_block *w, size_t cols_pad, const hlz_q8_block *x, size_t n_tokens,
                            float *out, size_t out_stride, size_t row_begin, size_t row_end)
{
    size_t blocks = cols_pad / HLZ_QBLOCK;
    for (size_t r = row_begin; r < row_end; r++)
        for (size_t t = 0; t < n_tokens; t++)
            out[t * out_stride + r] = dot_q8_0_ref(w + r * blocks, x + t * blocks, cols_pad);
}

const hlz_kernels hlz_kernels_ref = {
    .name = "scalar",
    .dot_f32 = dot_f32_ref,
    .sum_f32 = sum_f32_ref,
    .quantize_q8 = quantize_q8_ref,
    .dot_q8_0 = dot_q8_0_ref,
    .matmul_q8_0 = matmul_q8_0_ref,
};
