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

size_t hlz_attention_int8_scratch(uint32_t n, uint32_t hd)
{
    /* Per position a weight (u64) and a float (the score, then each block's u);
     * the blocks of the query and of one key row. */
    return (size_t)n * (sizeof(uint64_t) + sizeof(float)) + 2 * (size_t)(hd / HLZ_QBLOCK) * sizeof(hlz_q8_block);
}

void hlz_attention_int8(const hlz_kernels *kern, const float *q, const float *keys, const float *values,
                        size_t stride, uint32_t n, uint32_t hd, float *out, void *scratch)
{
    uint32_t nb = hd / HLZ_QBLOCK;
    uint64_t *w = scratch;
    float *s = (float *)(w + n);
    hlz_q8_block *qb = (hlz_q8_block *)(s + n), *kb = qb + nb;
    const uint64_t *table = hlz_logit_weights();
    float scale = 1.0f / sqrtf((float)hd); /* the float path's */

    /* Scores: s_j = (sum over blocks of (float)isum_b * (dq_b * dk_jb)) * scale. */
    kern->quantize_q8(q, hd, qb);
    for (uint32_t j = 0; j < n; j++) {
        kern->quantize_q8(keys + (size_t)j * stride, hd, kb);
        float acc = 0.0f;
        for (uint32_t b = 0; b < nb; b++) {
            int32_t isum = 0;
            for (int i = 0; i < HLZ_QBLOCK; i++) isum += (int32_t)qb[b].q[i] * kb[b].q[i];
            acc = acc + (float)isum * (qb[b].d * kb[b].d);
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
     * A zero weight gives u = 0 and uq = 0: its value block is not needed. */
    for (uint32_t b = 0; b < nb; b++) {
        const float *vcol = values + (size_t)b * HLZ_QBLOCK;
        hlz_q8_block vb;
        float umax = 0.0f; /* every u is >= +0 */
        for (uint32_t j = 0; j < n; j++) {
            float u = 0.0f;
            if (w[j]) {
                kern->quantize_q8(vcol + (size_t)j * stride, HLZ_QBLOCK, &vb);
                u = ((float)w[j] * 0x1p-30f) * vb.d;
            }
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
            kern->quantize_q8(vcol + (size_t)j * stride, HLZ_QBLOCK, &vb);
            for (int i = 0; i < HLZ_QBLOCK; i++) acc[i] += uq * vb.q[i];
        }
        for (int i = 0; i < HLZ_QBLOCK; i++) out[b * HLZ_QBLOCK + i] = wsum ? ((float)acc[i] * e) / den : 0.0f;
    }
}
