/* attention_int8.c - the integer attention, "attention 1" of doc/engine.md
 * (model.h hlz_attention_int8). Queries, keys and values are quantized per
 * block of 32 as activations are; the softmax is taken on the logit grid of
 * the frequency tables (entropy.h); each weight times a value block's scale
 * is rounded to 8 unsigned bits. So every product is an int8 (or u8) x int8
 * sum, exact in int32 whatever its order, which GPU tensor cores compute
 * exactly, and the few float operations between are written in one order. */
#include "entropy.h"
#include "model.h"

#include <float.h>
#include <math.h>

size_t hlz_attention_int8_blocks_scratch(uint32_t n, uint32_t hd)
{
    /* Per position a weight (u64) and a float (the score, then each block's u); the blocks of the query. */
    return (size_t)n * (sizeof(uint64_t) + sizeof(float)) + (size_t)(hd / HLZ_QBLOCK) * sizeof(hlz_q8_block);
}

size_t hlz_attention_int8_scratch(uint32_t n, uint32_t hd)
{
    /* hlz_attention_int8_blocks', then the blocks of every key and value. */
    return hlz_attention_int8_blocks_scratch(n, hd) + 2 * (size_t)n * (hd / HLZ_QBLOCK) * sizeof(hlz_q8_block);
}

void hlz_attention_int8_blocks(const hlz_kernels *kern, const float *q, const hlz_q8_block *kb,
                               const hlz_q8_block *vb, size_t bstride, uint32_t n, uint32_t hd, float *out,
                               void *scratch)
{
    uint32_t nb = hd / HLZ_QBLOCK;
    uint64_t *w = scratch;
    float *s = (float *)(w + n);
    hlz_q8_block *qb = (hlz_q8_block *)(s + n);
    const uint64_t *table = hlz_logit_weights();
    float scale = 1.0f / sqrtf((float)hd); /* the float path's */

    /* Scores: s_j = (sum over blocks of (float)isum_b * (dq_b * dk_jb)) * scale. */
    kern->quantize_q8(q, hd, qb);
    for (uint32_t j = 0; j < n; j++) {
        const hlz_q8_block *k = kb + (size_t)j * bstride;
        float acc = 0.0f;
        for (uint32_t b = 0; b < nb; b++) {
            int32_t isum = 0;
            for (int i = 0; i < HLZ_QBLOCK; i++) isum += (int32_t)qb[b].q[i] * k[b].q[i];
            acc = acc + (float)isum * (qb[b].d * k[b].d);
        }
        s[j] = acc * scale;
    }

    /* Weights: e^(s_j - m) on the grid of the frequency tables, 2^30 for the top. */
    float m = -INFINITY;
    for (uint32_t j = 0; j < n; j++)
        if (s[j] == s[j] && s[j] != INFINITY && s[j] > m) m = s[j];
    uint64_t wsum = 0;
    for (uint32_t j = 0; j < n; j++) {
        uint32_t k = hlz_logit_step(s[j], m);
        w[j] = k < HLZ_LOGIT_KMAX ? table[k] : 0;
        wsum += w[j];
    }
    float den = (float)wsum * 0x1p-30f;

    /* Per block of the head: u_j = (w_j / 2^30) * dv_jb rounded to 8 bits on
     * the scale e_b = max u / 255, then the exact sums of uq_j * vq_ji.
     * A zero weight gives u = 0 and uq = 0: its value block is not read. */
    for (uint32_t b = 0; b < nb; b++) {
        float umax = 0.0f; /* every u is >= +0 */
        for (uint32_t j = 0; j < n; j++) {
            float u = w[j] ? ((float)w[j] * 0x1p-30f) * vb[(size_t)j * bstride + b].d : 0.0f;
            s[j] = u;
            umax = u > umax ? u : umax;
        }
        float e = umax / 255.0f;
        if (e < FLT_MIN) e = FLT_MIN;
        float inv = 1.0f / e;
        int32_t acc[HLZ_QBLOCK] = {0}; /* |sum| <= 255 * 127 * 65535 < 2^31 */
        for (uint32_t j = 0; j < n; j++) {
            if (s[j] == 0.0f) continue;
            int uq = (int)hlz_round_even(s[j] * inv); /* 0 <= s[j] * inv <= about 255 */
            uq = uq < 255 ? uq : 255;
            if (uq == 0) continue;
            const int8_t *v = vb[(size_t)j * bstride + b].q;
            for (int i = 0; i < HLZ_QBLOCK; i++) acc[i] += uq * v[i];
        }
        for (int i = 0; i < HLZ_QBLOCK; i++) out[b * HLZ_QBLOCK + i] = wsum ? ((float)acc[i] * e) / den : 0.0f;
    }
}

void hlz_attention_int8(const hlz_kernels *kern, const float *q, const float *keys, const float *values,
                        size_t stride, uint32_t n, uint32_t hd, float *out, void *scratch)
{
    /* Every key and value quantized once, after the blocks' own scratch. */
    uint32_t nb = hd / HLZ_QBLOCK;
    hlz_q8_block *kb = (hlz_q8_block *)((char *)scratch + hlz_attention_int8_blocks_scratch(n, hd));
    hlz_q8_block *vb = kb + (size_t)n * nb;
    for (uint32_t j = 0; j < n; j++) {
        kern->quantize_q8(keys + (size_t)j * stride, hd, kb + (size_t)j * nb);
        kern->quantize_q8(values + (size_t)j * stride, hd, vb + (size_t)j * nb);
    }
    hlz_attention_int8_blocks(kern, q, kb, vb, nb, n, hd, out, scratch);
}
