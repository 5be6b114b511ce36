/*
 * kernels.h - the numeric kernels of the inference engine and their
 * arithmetic contract (doc/engine.md).
 *
 * Every kernel here has one plain C reference (kernels_ref.c) and may have
 * SIMD versions (kernels_avx2.c, kernels_avx512.c) picked once at run time.
 * All versions return bit-identical results, because:
 *   - matrix products are integer: int8 weights x int8 activations summed
 *     exactly in int32 per block of 32, and the per-block float terms are
 *     accumulated in block order with the formula written in the reference;
 *   - float reductions use one canonical order: 32 lanes, lane l summing
 *     elements l, l+32, l+64, ... in order, then a halving tree over the
 *     lanes (offsets 16, 8, 4, 2, 1), which a CUDA warp reproduces too;
 *   - only correctly rounded + - * / sqrt are used, never fma, never libm.
 */
#ifndef HLZ_KERNELS_H
#define HLZ_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#define HLZ_QBLOCK 32 /* values per quantization block */

/* An activation vector quantized per block of 32: x ~= d * q. `sum` is the
 * sum of q, needed by weight formats with an offset (Q4_K). */
typedef struct {
    float d;
    int32_t sum;
    int8_t q[HLZ_QBLOCK];
} hlz_q8_block;

/* ggml's Q8_0 weight block: 32 int8 values and an fp16 scale. */
typedef struct {
    uint16_t d;
    int8_t q[HLZ_QBLOCK];
} hlz_q8_0_block;

/* Rounds |v| < 2^22 to the nearest integer, ties to even, by adding and
 * subtracting 1.5 * 2^23 (two correctly rounded additions: no libm, no fenv). */
static inline float hlz_round_even(float v) { return (v + 12582912.0f) - 12582912.0f; }

/* Exact IEEE half and bfloat16 to float conversions (integer bit work). */
float hlz_f16_to_f32(uint16_t h);
float hlz_bf16_to_f32(uint16_t h);
/* Float to half, rounding to nearest even (as ggml does when it quantizes). */
uint16_t hlz_f32_to_f16(float f);

/* e^x with only + - * and bit operations, identical on every backend;
 * relative error below 2e-7; 0 for x < -87.33, +inf for x > 88.72. */
float hlz_expf(float x);

/* ggml's Q8_0 quantization of n (a multiple of 32) weights (its
 * quantize_row_q8_0_ref): d = amax / 127 stored as fp16, q = roundf(x * (1/d))
 * with the unrounded d. Used to convert weights once, at load or by hlz-convert. */
void hlz_quantize_row_q8_0(const float *x, uint64_t n, hlz_q8_0_block *out);

/* The operations that have SIMD versions. n is a multiple of 32 where noted. */
typedef struct {
    const char *name;
    /* Canonical-order sum of a[i] * b[i] (each product rounded, then summed). */
    float (*dot_f32)(const float *a, const float *b, size_t n);
    /* Canonical-order sum of x[i]. */
    float (*sum_f32)(const float *x, size_t n);
    /* Quantizes n (multiple of 32) floats: d = amax / 127, q = round-half-even(x * (1 / d));
     * a block holding nan or inf quantizes to d = 0, q = 0. */
    void (*quantize_q8)(const float *x, size_t n, hlz_q8_block *out);
    /* Dot product of one Q8_0 weight row (n/32 blocks) with a quantized vector:
     * acc = 0; for each block b in order: acc = acc + (float)isum_b * (d_w * d_x). */
    float (*dot_q8_0)(const hlz_q8_0_block *w, const hlz_q8_block *x, size_t n);
    /* Matrix product: rows row_begin .. row_end - 1 of a Q8_0 matrix whose
     * rows are cols_pad / 32 blocks each, stored row after row from `w`,
     * times n_tokens quantized vectors of cols_pad / 32 blocks each, stored
     * token after token from `x`:
     *     out[t * out_stride + r] = dot_q8_0(w + r * cols_pad / 32, x + t * cols_pad / 32, cols_pad)
     * bit for bit (each output follows the block order of dot_q8_0; SIMD
     * versions compute many outputs side by side, one per vector lane).
     * Every x[].sum must be the sum of that block's q, as quantize_q8 writes it. */
    void (*matmul_q8_0)(const hlz_q8_0_block *w, size_t cols_pad, const hlz_q8_block *x, size_t n_tokens,
                        float *out, size_t out_stride, size_t row_begin, size_t row_end);
} hlz_kernels;

/* SIMD entry points shared between kernel sets (x86-64 builds only). */
float hlz_dot_f32_avx2(const float *a, const float *b, size_t n);
float hlz_sum_f32_avx2(const float *x, size_t n);
void hlz_quantize_q8_avx2(const float *x, size_t n, hlz_q8_block *out);
float hlz_dot_q8_0_avx2(const hlz_q8_0_block *w, const hlz_q8_block *x, size_t n);

/* The reference kernels: plain C, the definition of every result. */
extern const hlz_kernels hlz_kernels_ref;

/* The fastest kernels this CPU supports, limited by the environment
 * variable HLZ_CPU (scalar, avx2, avx512) when it is set: tests use it to
 * switch SIMD levels off one at a time. Never NULL. */
const hlz_kernels *hlz_kernels_best(void);

/* Every kernel set this build contains that the CPU can run, the reference
 * first; returns the count written to `out` (at most `capacity`). */
size_t hlz_kernels_available(const hlz_kernels **out, size_t capacity);

#endif
