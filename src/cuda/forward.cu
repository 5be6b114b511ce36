/*
 * forward.cu - forward.c on a CUDA GPU, bit for bit (device.h).
 *
 * Each kernel names the forward.c / kernels_ref.c step it reproduces. Only
 * __fadd_rn, __fsub_rn, __fmul_rn, __fdiv_rn and __fsqrt_rn touch floats
 * (never a contraction: they cannot fuse, and the build adds -fmad=false).
 */
extern "C" {
#include "device.h"
#include "entropy.h"
#include "internal.h"
}

#include <cuda_runtime.h>
#include <float.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- device arithmetic (kernels_ref.c) ------------------------------------ */

__device__ static float d_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, mant = h & 0x3ff, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else if (exp != 0) {
        bits = sign | ((exp + 112) << 23) | (mant << 13);
    } else if (mant == 0) {
        bits = sign;
    } else {
        int shift = 0;
        while (!(mant & 0x400)) mant <<= 1, shift++;
        bits = sign | ((uint32_t)(113 - shift) << 23) | ((mant & 0x3ff) << 13);
    }
    return __uint_as_float(bits);
}

__device__ static float d_round_even(float v) { return __fsub_rn(__fadd_rn(v, 12582912.0f), 12582912.0f); }

/* hlz_expf, operation for operation. */
__device__ static float d_expf(float x)
{
    if (x != x) return x;
    if (x > 88.0f) return __int_as_float(0x7f800000);
    if (x < -87.33f) return 0.0f;
    float n = d_round_even(__fmul_rn(x, 1.44269504f));
    float r = __fsub_rn(x, __fmul_rn(n, 0.693145751953125f));
    r = __fsub_rn(r, __fmul_rn(n, 1.42860677e-06f));
    /* 1/720, 1/120, 1/24 and 1/6 rounded to float, as the C compiler folds
     * hlz_expf's 1.0f / 720.0f ...: written out, because __fdiv_rn of two
     * constants stays a division at run time (four per exponential). */
    float p = 0x1.6c16c2p-10f;
    p = __fadd_rn(__fmul_rn(p, r), 0x1.111112p-7f);
    p = __fadd_rn(__fmul_rn(p, r), 0x1.555556p-5f);
    p = __fadd_rn(__fmul_rn(p, r), 0x1.555556p-3f);
    p = __fadd_rn(__fmul_rn(p, r), 0.5f);
    p = __fadd_rn(__fmul_rn(p, r), 1.0f);
    p = __fadd_rn(__fmul_rn(p, r), 1.0f);
    int e = __float2int_rz(n);
    float scale = __uint_as_float((uint32_t)(e + 127) << 23);
    return __fmul_rn(p, scale);
}

/* The canonical tree over the 32 lanes of a warp: lane i takes lane i + off
 * for off = 16, 8, 4, 2, 1 (lanes[i] = lanes[i] + lanes[i + off]); lane 0
 * ends with the sum. */
__device__ static float warp_tree(float v)
{
    for (int off = 16; off > 0; off >>= 1) v = __fadd_rn(v, __shfl_down_sync(0xffffffffu, v, off));
    return v;
}

/* The same tree over 32 values held by one thread: v[i] = v[i] + v[i + off]
 * for off = 16, 8, 4, 2, 1 (templates, so that every index is a constant
 * and the values stay in registers). */
template <int OFF> __device__ static inline void tree_level(float *v)
{
#pragma unroll
    for (int i = 0; i < OFF; i++) v[i] = __fadd_rn(v[i], v[i + OFF]);
}

__device__ static inline float tree32(float *v)
{
    tree_level<16>(v), tree_level<8>(v), tree_level<4>(v), tree_level<2>(v), tree_level<1>(v);
    return v[0];
}

/* ---- kernels ----------------------------------------------------------------- */

/* rmsnorm: one warp per token. ss = dot_f32(x, x) in the canonical order;
 * scale = 1 / sqrt(ss / n + eps); y = (x * scale) * w. Only check-cuda runs
 * it (the pass runs the same steps fused: k_rmsnorm_quantize), so that the
 * normalized floats themselves are compared with the CPU's. */
__global__ static void k_rmsnorm(const float *x, const float *w, float *y, uint32_t dim, float eps)
{
    const float *v = x + (size_t)blockIdx.x * dim;
    float *o = y + (size_t)blockIdx.x * dim;
    unsigned lane = threadIdx.x;
    float acc = 0.0f;
    for (uint32_t i = lane; i < dim; i += 32) acc = __fadd_rn(acc, __fmul_rn(v[i], v[i]));
    float ss = __shfl_sync(0xffffffffu, warp_tree(acc), 0);
    float scale = __fdiv_rn(1.0f, __fsqrt_rn(__fadd_rn(__fdiv_rn(ss, (float)dim), eps)));
    for (uint32_t i = lane; i < dim; i += 32) o[i] = __fmul_rn(__fmul_rn(v[i], scale), w[i]);
}

/* quantize_q8_ref of one block by one warp, the arithmetic: lane i holds
 * element i (y); returns its q, and the block's scale d in every lane. */
__device__ static int quantize_lane(float y, float *d_out)
{
    float a = fabsf(y), amax = a; /* +0 for -0, as the reference's max from 0 */
    int bad = __any_sync(0xffffffffu, !(a <= FLT_MAX));
    for (int off = 16; off > 0; off >>= 1) {
        float o = __shfl_xor_sync(0xffffffffu, amax, off);
        amax = o > amax ? o : amax;
    }
    float d = 0.0f;
    int qi = 0;
    if (!bad) {
        d = __fdiv_rn(amax, 127.0f);
        float inv = d != 0.0f ? __fdiv_rn(1.0f, d) : 0.0f;
        qi = (int)d_round_even(__fmul_rn(y, inv));
        qi = qi > 127 ? 127 : qi < -127 ? -127 : qi;
    }
    *d_out = d;
    return qi;
}

/* quantize_lane, then the block written: lane i holds element i (y, zero
 * past the row's end); the block's maximum, its bad-value test and its
 * integer sum are the same whatever the order. Writes block `id` of
 * whichever layout is given (hlz_q8_block's, or the planes pq/pd). */
__device__ static void quantize_block_warp(float y, unsigned lane, size_t id, hlz_q8_block *out, int8_t *pq, float *pd)
{
    float d;
    int qi = quantize_lane(y, &d);
    int sum = qi;
    for (int off = 16; off > 0; off >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, off);
    if (out) {
        out[id].q[lane] = (int8_t)qi;
        if (lane == 0) out[id].d = d, out[id].sum = sum;
    }
    if (pq) {
        pq[id * HLZ_QBLOCK + lane] = (int8_t)qi;
        if (lane == 0) pd[id] = d;
    }
}

/* x = x + r (forward.c's residual add, when r is given), then k_rmsnorm
 * and k_quantize_warp in one pass, one warp per token. Writes the sum
 * back to x and the layout of q (blocks or planes), not the normalized
 * floats. */
__global__ static void k_rmsnorm_quantize(float *x, const float *r, size_t n, const float *w, uint32_t dim, float eps,
                                          uint64_t blocks, hlz_q8_block *out, int8_t *pq, float *pd)
{
    size_t t = blockIdx.x * (size_t)(blockDim.x / 32) + threadIdx.x / 32;
    if (t >= n) return;
    float *v = x + t * dim;
    unsigned lane = threadIdx.x % 32;
    if (r) {
        const float *rv = r + t * dim;
        for (uint32_t i = lane; i < dim; i += 32) v[i] = __fadd_rn(v[i], rv[i]);
        __syncwarp();
    }
    float acc = 0.0f;
    for (uint32_t i = lane; i < dim; i += 32) acc = __fadd_rn(acc, __fmul_rn(v[i], v[i]));
    float ss = __shfl_sync(0xffffffffu, warp_tree(acc), 0);
    float scale = __fdiv_rn(1.0f, __fsqrt_rn(__fadd_rn(__fdiv_rn(ss, (float)dim), eps)));
    for (uint64_t b = 0; b < blocks; b++) {
        uint64_t i = b * HLZ_QBLOCK + lane;
        float y = i < dim ? __fmul_rn(__fmul_rn(v[i], scale), w[i]) : 0.0f;
        quantize_block_warp(y, lane, t * blocks + b, out, pq, pd);
    }
}

/* quantize_rows + quantize_q8_ref, one warp per block of 32 (lane i reads
 * element i, zero past `cols`: the warp's loads are one line), through
 * quantize_block_warp, into hlz_q8_block's (out) or, for the pipelined
 * matrix product, the planes pq (32 int8 per block) and pd (the scales). */
__global__ static void k_quantize_warp(const float *x, size_t n_blocks, uint64_t cols, uint64_t blocks,
                                       hlz_q8_block *out, int8_t *pq, float *pd)
{
    size_t id = blockIdx.x * (size_t)(blockDim.x / 32) + threadIdx.x / 32;
    if (id >= n_blocks) return;
    unsigned lane = threadIdx.x % 32;
    uint64_t c = id % blocks * HLZ_QBLOCK + lane;
    quantize_block_warp(c < cols ? x[id / blocks * cols + c] : 0.0f, lane, id, out, pq, pd);
}

/* k_elementwise's silu(gate) * up, then k_quantize_warp, one warp per block of
 * 32 of a token's row: writes only the quantized layout. */
__global__ static void k_silu_quantize(const float *gate, const float *up, size_t n_blocks, uint64_t cols,
                                       uint64_t blocks, hlz_q8_block *out, int8_t *pq, float *pd)
{
    size_t id = blockIdx.x * (size_t)(blockDim.x / 32) + threadIdx.x / 32;
    if (id >= n_blocks) return;
    unsigned lane = threadIdx.x % 32;
    size_t t = id / blocks;
    uint64_t c = id % blocks * HLZ_QBLOCK + lane;
    float y = 0.0f;
    if (c < cols) {
        float a = gate[t * cols + c];
        y = __fmul_rn(__fdiv_rn(a, __fadd_rn(1.0f, d_expf(-a))), up[t * cols + c]);
    }
    quantize_block_warp(y, lane, id, out, pq, pd);
}

/* matmul_q8_0_ref: out[t * rows + r] = dot_q8_0(row r, token t). A 16 x 16
 * tile of outputs per thread block; blocks of 32 are staged in shared
 * memory MM_KB at a time; each output adds its blocks in block order:
 * acc = acc + (float)isum * (d_w * d_x), isum exact (dp4a). */
#define MM_TILE 16
#define MM_KB 4
__global__ static void k_matmul(const hlz_q8_0_block *w, uint64_t rows, uint64_t nb, const hlz_q8_block *x,
                                size_t n_tokens, float *out)
{
    __shared__ int wq[MM_TILE][MM_KB][8], xq[MM_TILE][MM_KB][8];
    __shared__ float wd[MM_TILE][MM_KB], xd[MM_TILE][MM_KB];
    unsigned tr = threadIdx.x % MM_TILE, tt = threadIdx.x / MM_TILE, tid = threadIdx.x;
    uint64_t r0 = (uint64_t)blockIdx.x * MM_TILE, t0 = (uint64_t)blockIdx.y * MM_TILE;
    uint64_t r = r0 + tr, t = t0 + tt;
    float acc = 0.0f;
    for (uint64_t b0 = 0; b0 < nb; b0 += MM_KB) {
        /* 256 threads: 16 rows x 4 blocks x 8 words for each operand, 2 words each. */
        for (unsigned k = tid; k < MM_TILE * MM_KB * 8; k += blockDim.x) {
            unsigned row = k / (MM_KB * 8), kb = (k / 8) % MM_KB, word = k % 8;
            uint64_t gb = b0 + kb;
            int wv = 0, xv = 0;
            if (r0 + row < rows && gb < nb) {
                const int8_t *p = w[(r0 + row) * nb + gb].q + 4 * word;
                wv = (int)(uint8_t)p[0] | (int)(uint8_t)p[1] << 8 | (int)(uint8_t)p[2] << 16 | (int)(uint8_t)p[3] << 24;
                if (word == 0) wd[row][kb] = d_f16_to_f32(w[(r0 + row) * nb + gb].d);
            }
            if (t0 + row < n_tokens && gb < nb) {
                const hlz_q8_block *xb = &x[(t0 + row) * nb + gb];
                xv = *(const int *)(xb->q + 4 * word); /* hlz_q8_block keeps q 4-byte aligned */
                if (word == 0) xd[row][kb] = xb->d;
            }
            wq[row][kb][word] = wv;
            xq[row][kb][word] = xv;
        }
        __syncthreads();
        for (unsigned kb = 0; kb < MM_KB && b0 + kb < nb; kb++) {
            int isum = 0;
            for (int i = 0; i < 8; i++) isum = __dp4a(wq[tr][kb][i], xq[tt][kb][i], isum);
            if (r < rows && t < n_tokens) acc = __fadd_rn(acc, __fmul_rn(__int2float_rn(isum), __fmul_rn(wd[tr][kb], xd[tt][kb])));
        }
        __syncthreads();
    }
    if (r < rows && t < n_tokens) out[t * rows + r] = acc;
}

/* The same products on the tensor cores: the weights repacked at upload
 * into int8 rows (q: rows x nb x 32, 16-byte aligned) and float scales
 * (d: rows x nb, the exact f32 values of the fp16 scales). Each warp owns 16
 * rows x MMA_NT * 8 tokens; for every block of 32 it runs one
 * mma.sync.m16n8k32 s8 x s8 -> s32 per 8 tokens from a zero accumulator, so
 * isum_b is the exact int32 sum of the block, then adds
 * (float)isum_b * (d_w * d_x) to each output in block order: exactly
 * matmul_q8_0_ref. Fragments (PTX ISA, m16n8k32 .s8): lane = 4 g + c holds
 * A rows g and g + 8, bytes 4c..4c+3 and 16+4c..16+4c+3; B token g, the same
 * bytes; D rows g, g + 8, tokens 2c, 2c + 1. */
#define MMA_WARPS 4
#define MMA_NT 4
__global__ static void __launch_bounds__(MMA_WARPS * 32)
k_matmul_mma(const int8_t *wq, const float *wd, uint64_t rows, uint64_t nb, const hlz_q8_block *x, size_t n_tokens,
             float *out)
{
    unsigned lane = threadIdx.x % 32, warp = threadIdx.x / 32, g = lane / 4, c = lane % 4;
    uint64_t r0 = ((uint64_t)blockIdx.x * (blockDim.x / 32) + warp) * 16;
    size_t t0 = (size_t)blockIdx.y * MMA_NT * 8;
    if (r0 >= rows) return;
    uint64_t ra = r0 + g, rb = r0 + g + 8;
    bool va = ra < rows, vb = rb < rows;
    const int8_t *pa = wq + (va ? ra : 0) * nb * 32, *pb = wq + (vb ? rb : 0) * nb * 32;
    float acc[MMA_NT][4];
#pragma unroll
    for (int j = 0; j < MMA_NT; j++)
#pragma unroll
        for (int i = 0; i < 4; i++) acc[j][i] = 0.0f;
    /* Unrolled so that the loads of later blocks are in flight while the
     * sums of earlier ones (in order) go on. */
#pragma unroll 4
    for (uint64_t b = 0; b < nb; b++) {
        int a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        float da = 0.0f, db = 0.0f;
        if (va) {
            a0 = *(const int *)(pa + b * 32 + 4 * c), a2 = *(const int *)(pa + b * 32 + 16 + 4 * c);
            da = wd[ra * nb + b];
        }
        if (vb) {
            a1 = *(const int *)(pb + b * 32 + 4 * c), a3 = *(const int *)(pb + b * 32 + 16 + 4 * c);
            db = wd[rb * nb + b];
        }
#pragma unroll
        for (int j = 0; j < MMA_NT; j++) {
            size_t tb = t0 + (size_t)j * 8 + g; /* this lane's B column */
            int b0 = 0, b1 = 0;
            if (tb < n_tokens) {
                const hlz_q8_block *xb = &x[tb * nb + b];
                b0 = *(const int *)(xb->q + 4 * c), b1 = *(const int *)(xb->q + 16 + 4 * c);
            }
            int d0, d1, d2, d3;
            asm volatile("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                         "{%10,%10,%10,%10};\n"
                         : "=r"(d0), "=r"(d1), "=r"(d2), "=r"(d3)
                         : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1), "r"(0));
            size_t tc = t0 + (size_t)j * 8 + 2 * c; /* this lane's D columns: tc, tc + 1 */
            float x0 = tc < n_tokens ? x[tc * nb + b].d : 0.0f, x1 = tc + 1 < n_tokens ? x[(tc + 1) * nb + b].d : 0.0f;
            acc[j][0] = __fadd_rn(acc[j][0], __fmul_rn(__int2float_rn(d0), __fmul_rn(da, x0)));
            acc[j][1] = __fadd_rn(acc[j][1], __fmul_rn(__int2float_rn(d1), __fmul_rn(da, x1)));
            acc[j][2] = __fadd_rn(acc[j][2], __fmul_rn(__int2float_rn(d2), __fmul_rn(db, x0)));
            acc[j][3] = __fadd_rn(acc[j][3], __fmul_rn(__int2float_rn(d3), __fmul_rn(db, x1)));
        }
    }
#pragma unroll
    for (int j = 0; j < MMA_NT; j++) {
        size_t tc = t0 + (size_t)j * 8 + 2 * c;
        if (va && tc < n_tokens) out[tc * rows + ra] = acc[j][0];
        if (va && tc + 1 < n_tokens) out[(tc + 1) * rows + ra] = acc[j][1];
        if (vb && tc < n_tokens) out[tc * rows + rb] = acc[j][2];
        if (vb && tc + 1 < n_tokens) out[(tc + 1) * rows + rb] = acc[j][3];
    }
}

/* The same products with shared-memory tiles (HLZ_CUDA_MATMUL=tiled, for
 * measurements): a thread block stages TL_KS blocks of 32 of 64 weight rows
 * and 64 tokens, each of its 4 warps computes 16 rows x 64 tokens (8
 * mma.sync per block of 32), and every output still adds its blocks in
 * block order. Rows of the staged tiles are padded to 12 words, so that the
 * fragment reads of a warp hit 32 different banks. */
#define TL_KS 2
#define TL_PAD 12
__global__ static void __launch_bounds__(128)
k_matmul_tiled(const int8_t *wq, const float *wd, uint64_t rows, uint64_t nb, const hlz_q8_block *x, size_t n_tokens,
               float *out)
{
    __shared__ int sa[TL_KS][64][TL_PAD], sb[TL_KS][64][TL_PAD];
    __shared__ float sad[TL_KS][64], sbd[TL_KS][64];
    unsigned tid = threadIdx.x, lane = tid % 32, warp = tid / 32, g = lane / 4, c = lane % 4;
    uint64_t r0 = (uint64_t)blockIdx.x * 64;
    size_t t0 = (size_t)blockIdx.y * 64;
    float acc[8][4];
#pragma unroll
    for (int j = 0; j < 8; j++)
#pragma unroll
        for (int i = 0; i < 4; i++) acc[j][i] = 0.0f;
    for (uint64_t b0 = 0; b0 < nb; b0 += TL_KS) {
        for (unsigned idx = tid; idx < TL_KS * 64 * 8; idx += 128) {
            unsigned kb = idx / 512, row = (idx / 8) % 64, word = idx % 8;
            uint64_t b = b0 + kb, r = r0 + row;
            size_t t = t0 + row;
            sa[kb][row][word] = r < rows && b < nb ? *(const int *)(wq + (r * nb + b) * 32 + 4 * word) : 0;
            sb[kb][row][word] = t < n_tokens && b < nb ? *(const int *)(x[t * nb + b].q + 4 * word) : 0;
        }
        {
            unsigned kb = tid / 64, row = tid % 64;
            uint64_t b = b0 + kb, r = r0 + row;
            size_t t = t0 + row;
            sad[kb][row] = r < rows && b < nb ? wd[r * nb + b] : 0.0f;
            sbd[kb][row] = t < n_tokens && b < nb ? x[t * nb + b].d : 0.0f;
        }
        __syncthreads();
        for (unsigned kb = 0; kb < TL_KS && b0 + kb < nb; kb++) {
            unsigned ra = warp * 16 + g;
            int a0 = sa[kb][ra][c], a1 = sa[kb][ra + 8][c], a2 = sa[kb][ra][c + 4], a3 = sa[kb][ra + 8][c + 4];
            float da = sad[kb][ra], db = sad[kb][ra + 8];
#pragma unroll
            for (int j = 0; j < 8; j++) {
                int b0r = sb[kb][j * 8 + g][c], b1r = sb[kb][j * 8 + g][c + 4];
                int d0, d1, d2, d3;
                asm volatile("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                             "{%10,%10,%10,%10};\n"
                             : "=r"(d0), "=r"(d1), "=r"(d2), "=r"(d3)
                             : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0r), "r"(b1r), "r"(0));
                float x0 = sbd[kb][j * 8 + 2 * c], x1 = sbd[kb][j * 8 + 2 * c + 1];
                acc[j][0] = __fadd_rn(acc[j][0], __fmul_rn(__int2float_rn(d0), __fmul_rn(da, x0)));
                acc[j][1] = __fadd_rn(acc[j][1], __fmul_rn(__int2float_rn(d1), __fmul_rn(da, x1)));
                acc[j][2] = __fadd_rn(acc[j][2], __fmul_rn(__int2float_rn(d2), __fmul_rn(db, x0)));
                acc[j][3] = __fadd_rn(acc[j][3], __fmul_rn(__int2float_rn(d3), __fmul_rn(db, x1)));
            }
        }
        __syncthreads();
    }
    uint64_t ra = r0 + warp * 16 + g, rb = ra + 8;
#pragma unroll
    for (int j = 0; j < 8; j++) {
        size_t tc = t0 + (size_t)j * 8 + 2 * c;
        if (ra < rows && tc < n_tokens) out[tc * rows + ra] = acc[j][0];
        if (ra < rows && tc + 1 < n_tokens) out[(tc + 1) * rows + ra] = acc[j][1];
        if (rb < rows && tc < n_tokens) out[tc * rows + rb] = acc[j][2];
        if (rb < rows && tc + 1 < n_tokens) out[(tc + 1) * rows + rb] = acc[j][3];
    }
}

/* The same products, pipelined (the default): a thread block of 4 warps
 * owns 64 rows x 128 tokens; PP_KS blocks of 32 of both operands (int8
 * planes and float scales) are copied into shared memory by cp.async while
 * the previous ones are multiplied (two stages); each warp computes 32 rows
 * x 8 NJ tokens, 2 NJ mma.sync per block of 32 (NJ 8 for big batches, 2
 * when that leaves SMs idle). Every output still adds its
 * blocks in block order, acc + (float)isum * (d_w * d_x); isum is converted
 * by exact_i2f_biased (a float subtraction instead of the quarter-rate conversion:
 * the mma's accumulator input adds the magic number, so no integer add is
 * left either). Staged rows are padded to 12 words (fragment
 * reads hit 32 different banks); rows and tokens past the end read the last
 * one (valid memory) and are not stored. */
#define PP_KS 2
#define PP_PAD 12
#define PP_BM 64

/* (float)v for |v| < 2^22, exactly: 1.5 * 2^23 + v has v in its low bits.
 * A block's isum is at most 32 * 128 * 127 in size. The pipelined kernel's
 * mma starts from EXACT_I2F_BIAS, so that it returns the biased sum itself
 * (integer mma sums are exact) and exact_i2f_biased is one subtraction. */
#define EXACT_I2F_BIAS 0x4B400000
__device__ static inline float exact_i2f_biased(int biased) { return __fsub_rn(__int_as_float(biased), 12582912.0f); }

__device__ static inline void cp_async16(void *smem, const void *gmem)
{
    unsigned s = (unsigned)__cvta_generic_to_shared(smem);
    asm volatile("cp.async.cg.shared.global [%0], [%1], 16;\n" ::"r"(s), "l"(gmem));
}

__device__ static inline void cp_async4(void *smem, const void *gmem)
{
    unsigned s = (unsigned)__cvta_generic_to_shared(smem);
    asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\n" ::"r"(s), "l"(gmem));
}

/* Where a matrix product's rows go: rows [0, end0) to p0, [end0, end1) to
 * p1, [end1, end2) to p2, each as tokens x (its rows). One part for one
 * matrix; three for q, k and v (or two for gate and up) multiplied at once
 * as one matrix of their rows, which gives every output the same bits. */
typedef struct {
    float *p0, *p1, *p2;
    uint64_t end0, end1, end2;
} out_parts;

__device__ static inline void put_out(const out_parts &o, size_t t, uint64_t r, float v)
{
    if (r < o.end0) o.p0[t * o.end0 + r] = v;
    else if (r < o.end1) o.p1[t * (o.end1 - o.end0) + (r - o.end0)] = v;
    else o.p2[t * (o.end2 - o.end1) + (r - o.end1)] = v;
}

template <int NJ> /* 8 tokens per mma, NJ mma per warp and block of 32: 2 * NJ * 8 tokens a block */
__global__ static void __launch_bounds__(128)
k_matmul_pipe(const int8_t *wq, const float *wd, uint64_t rows, uint64_t nb, const int8_t *xq, const float *xd,
              size_t n_tokens, out_parts out)
{
    constexpr int PP_BN = 2 * NJ * 8;
    __shared__ __align__(16) int sa[2][PP_KS][PP_BM][PP_PAD];
    __shared__ __align__(16) int sb[2][PP_KS][PP_BN][PP_PAD];
    __shared__ float sad[2][PP_KS][PP_BM], sbd[2][PP_KS][PP_BN];
    unsigned tid = threadIdx.x, lane = tid % 32, warp = tid / 32, g = lane / 4, c = lane % 4;
    unsigned wr = warp % 2, wt = warp / 2;
    uint64_t r0 = (uint64_t)blockIdx.x * PP_BM;
    size_t t0 = (size_t)blockIdx.y * PP_BN;
    float acc[2][NJ][4];
#pragma unroll
    for (int mi = 0; mi < 2; mi++)
#pragma unroll
        for (int j = 0; j < NJ; j++)
#pragma unroll
            for (int i = 0; i < 4; i++) acc[mi][j][i] = 0.0f;
    uint64_t n_iter = (nb + PP_KS - 1) / PP_KS;
    /* Copies the blocks b0 .. b0 + PP_KS - 1 into stage st. */
    auto load = [&](int st, uint64_t b0) {
#pragma unroll
        for (unsigned idx = tid; idx < PP_KS * PP_BM * 2; idx += 128) {
            unsigned kb = idx / (PP_BM * 2), row = (idx / 2) % PP_BM, half = idx % 2;
            uint64_t b = b0 + kb, r = r0 + row < rows ? r0 + row : rows - 1;
            if (b < nb) cp_async16(&sa[st][kb][row][half * 4], wq + (r * nb + b) * 32 + half * 16);
        }
#pragma unroll
        for (unsigned idx = tid; idx < PP_KS * PP_BN * 2; idx += 128) {
            unsigned kb = idx / (PP_BN * 2), row = (idx / 2) % PP_BN, half = idx % 2;
            uint64_t b = b0 + kb;
            size_t t = t0 + row < n_tokens ? t0 + row : n_tokens - 1;
            if (b < nb) cp_async16(&sb[st][kb][row][half * 4], xq + (t * nb + b) * 32 + half * 16);
        }
#pragma unroll
        for (unsigned idx = tid; idx < PP_KS * PP_BM; idx += 128) {
            unsigned kb = idx / PP_BM, row = idx % PP_BM;
            uint64_t b = b0 + kb, r = r0 + row < rows ? r0 + row : rows - 1;
            if (b < nb) cp_async4(&sad[st][kb][row], wd + r * nb + b);
        }
#pragma unroll
        for (unsigned idx = tid; idx < PP_KS * PP_BN; idx += 128) {
            unsigned kb = idx / PP_BN, row = idx % PP_BN;
            uint64_t b = b0 + kb;
            size_t t = t0 + row < n_tokens ? t0 + row : n_tokens - 1;
            if (b < nb) cp_async4(&sbd[st][kb][row], xd + t * nb + b);
        }
        asm volatile("cp.async.commit_group;\n" ::);
    };
    load(0, 0);
    for (uint64_t it = 0; it < n_iter; it++) {
        int st = (int)(it & 1);
        if (it + 1 < n_iter) load(st ^ 1, (it + 1) * PP_KS);
        else asm volatile("cp.async.commit_group;\n" ::); /* an empty group keeps the count */
        asm volatile("cp.async.wait_group 1;\n" ::);
        __syncthreads();
        for (unsigned kb = 0; kb < PP_KS && it * PP_KS + kb < nb; kb++) {
            int a[2][4];
            float da[2][2];
#pragma unroll
            for (int mi = 0; mi < 2; mi++) {
                unsigned ra = wr * 32 + mi * 16 + g;
                a[mi][0] = sa[st][kb][ra][c], a[mi][1] = sa[st][kb][ra + 8][c];
                a[mi][2] = sa[st][kb][ra][c + 4], a[mi][3] = sa[st][kb][ra + 8][c + 4];
                da[mi][0] = sad[st][kb][ra], da[mi][1] = sad[st][kb][ra + 8];
            }
#pragma unroll
            for (int j = 0; j < NJ; j++) {
                unsigned tb = wt * NJ * 8 + j * 8;
                int b0r = sb[st][kb][tb + g][c], b1r = sb[st][kb][tb + g][c + 4];
                float x0 = sbd[st][kb][tb + 2 * c], x1 = sbd[st][kb][tb + 2 * c + 1];
#pragma unroll
                for (int mi = 0; mi < 2; mi++) {
                    int d0, d1, d2, d3;
                    asm volatile(
                        "mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                        "{%10,%10,%10,%10};\n"
                        : "=r"(d0), "=r"(d1), "=r"(d2), "=r"(d3)
                        : "r"(a[mi][0]), "r"(a[mi][1]), "r"(a[mi][2]), "r"(a[mi][3]), "r"(b0r), "r"(b1r),
                          "r"(EXACT_I2F_BIAS));
                    acc[mi][j][0] = __fadd_rn(acc[mi][j][0], __fmul_rn(exact_i2f_biased(d0), __fmul_rn(da[mi][0], x0)));
                    acc[mi][j][1] = __fadd_rn(acc[mi][j][1], __fmul_rn(exact_i2f_biased(d1), __fmul_rn(da[mi][0], x1)));
                    acc[mi][j][2] = __fadd_rn(acc[mi][j][2], __fmul_rn(exact_i2f_biased(d2), __fmul_rn(da[mi][1], x0)));
                    acc[mi][j][3] = __fadd_rn(acc[mi][j][3], __fmul_rn(exact_i2f_biased(d3), __fmul_rn(da[mi][1], x1)));
                }
            }
        }
        __syncthreads();
    }
#pragma unroll
    for (int mi = 0; mi < 2; mi++) {
        uint64_t ra = r0 + wr * 32 + mi * 16 + g, rb = ra + 8;
#pragma unroll
        for (int j = 0; j < NJ; j++) {
            size_t tc = t0 + wt * NJ * 8 + (size_t)j * 8 + 2 * c;
            if (ra < rows && tc < n_tokens) put_out(out, tc, ra, acc[mi][j][0]);
            if (ra < rows && tc + 1 < n_tokens) put_out(out, tc + 1, ra, acc[mi][j][1]);
            if (rb < rows && tc < n_tokens) put_out(out, tc, rb, acc[mi][j][2]);
            if (rb < rows && tc + 1 < n_tokens) put_out(out, tc + 1, rb, acc[mi][j][3]);
        }
    }
}

/* The tensor-core layout of a Q8_0 matrix: q (32 int8 per block) and d. */
__global__ static void k_repack(const hlz_q8_0_block *w, size_t blocks, int8_t *q, float *d)
{
    size_t id = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (id >= blocks) return;
    for (int i = 0; i < HLZ_QBLOCK; i++) q[id * HLZ_QBLOCK + i] = w[id].q[i];
    d[id] = d_f16_to_f32(w[id].d);
}

/* qwen2 biases: a[t][i] = a[t][i] + bias[i]. */
__global__ static void k_add_bias(float *a, const float *bias, size_t n, size_t width)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i < n) a[i] = __fadd_rn(a[i], bias[i % width]);
}

/* gate = silu(gate) * up, silu(x) = x / (1 + e^-x); op 0 is e^x alone. Only
 * check-cuda runs it (the pass fuses silu into k_silu_quantize), so that
 * d_expf and silu's floats themselves are compared with the CPU's. */
__global__ static void k_elementwise(int op, float *a, const float *b, size_t n)
{
    size_t i = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    if (op == 0) a[i] = d_expf(a[i]);
    else a[i] = __fmul_rn(__fdiv_rn(a[i], __fadd_rn(1.0f, d_expf(-a[i]))), b[i]);
}


/* x[t] = row tokens[t] of the float embedding table. */
__global__ static void k_embed(const float *table, const int32_t *tokens, size_t n, uint32_t dim, float *x)
{
    size_t id = (size_t)blockIdx.x * blockDim.x + threadIdx.x;
    if (id >= n * dim) return;
    size_t t = id / dim;
    x[id] = table[(size_t)tokens[t] * dim + id % dim];
}

/* A token's place on the device: its session's caches and its position. */
typedef struct {
    float *k, *v;
    uint32_t n_ctx, pos;
    int8_t *k8, *v8;   /* int8 attention's quantized caches (hlz_session's), or NULL */
    float *kd, *vd;
} dev_place;


/* rope on the queries and the keys, and the keys and values stored into
 * each token's caches, in one pass: a thread per (query vector, pair), then
 * per (key vector, pair), a' = a*c - b*s, b' = a*s + b*c; a key thread
 * writes its rotated pair into the token's key cache and the same two
 * values of v into its value cache (the queries stay in q, rotated). */
__global__ static void k_rope_store(float *q, const float *kn, const float *vn, const dev_place *pl, size_t n,
                                    uint32_t n_head, uint32_t n_head_kv, uint32_t hd, const uint32_t *pos,
                                    const float *cos_tab, const float *sin_tab, int neox, uint32_t layer)
{
    uint32_t half = hd / 2;
    size_t id = (size_t)blockIdx.x * blockDim.x + threadIdx.x, nq = n * n_head * half;
    if (id >= nq + n * n_head_kv * half) return;
    bool key = id >= nq;
    size_t vec = (key ? id - nq : id) / half, t = vec / (key ? n_head_kv : n_head);
    uint32_t i = (uint32_t)((key ? id - nq : id) % half), p = pos[t];
    size_t ia = neox ? i : 2 * i, ib = neox ? i + half : 2 * i + 1; /* the pair's two elements */
    const float *v = key ? kn + vec * hd : q + vec * hd;
    float c = cos_tab[(size_t)p * half + i], s = sin_tab[(size_t)p * half + i], a0 = v[ia], b0 = v[ib];
    float a = __fsub_rn(__fmul_rn(a0, c), __fmul_rn(b0, s)), b = __fadd_rn(__fmul_rn(a0, s), __fmul_rn(b0, c));
    if (!key) {
        q[vec * hd + ia] = a, q[vec * hd + ib] = b;
        return;
    }
    size_t kv_dim = (size_t)n_head_kv * hd, e = (vec % n_head_kv) * hd;
    size_t at = ((size_t)layer * pl[t].n_ctx + pl[t].pos) * kv_dim + e;
    pl[t].k[at + ia] = a, pl[t].k[at + ib] = b;
    pl[t].v[at + ia] = vn[vec * hd + ia], pl[t].v[at + ib] = vn[vec * hd + ib];
}

/* The softmax's first half by one warp, for attend_one and both head-dim-64
 * kernels: m = the max of the non-nan scores (what the sequential loop
 * keeps; which zero wins a tie of +0 and -0 does not change s - m), then
 * scores[j] = e^(s_j - m) and their canonical sum (lane l adds j = l, l +
 * 32, ... in order, then the tree), returned to every lane. Lane l touches
 * only the entries j = l (mod 32). */
__device__ static float softmax_exp(float *scores, uint32_t n)
{
    unsigned lane = threadIdx.x % 32;
    float m = -__int_as_float(0x7f800000);
    for (uint32_t j = lane; j < n; j += 32) m = scores[j] > m ? scores[j] : m;
    for (int off = 16; off > 0; off >>= 1) {
        float o = __shfl_down_sync(0xffffffffu, m, off);
        m = o > m ? o : m;
    }
    m = __shfl_sync(0xffffffffu, m, 0);
    float acc = 0.0f;
    for (uint32_t j = lane; j < n; j += 32) {
        float e = d_expf(__fsub_rn(scores[j], m));
        scores[j] = e;
        acc = __fadd_rn(acc, e);
    }
    return __shfl_sync(0xffffffffu, warp_tree(acc), 0);
}

/* attend(): one thread block per (token, head), blockDim a multiple of 32
 * holding head_dim. Scores: warp w takes rows j = w, w + warps, ..., each a
 * canonical-order dot; max; e^(s - max) and their canonical sum in warp 0;
 * p = e / sum; then thread d keeps the 32 lane sums of column d
 * (lane j % 32 adds p_j * v_j[d] in order of j) and runs the tree itself. */
__device__ static void attend_one(const float *q, const float *kc, const float *vc, uint32_t n, uint32_t hd,
                                  size_t kv_row, float *scores, float *out)
{
    __shared__ float s_sum;
    unsigned lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
    float scale = __fdiv_rn(1.0f, __fsqrt_rn((float)hd));
#pragma unroll 4
    for (uint32_t j = warp; j < n; j += warps) {
        const float *kr = kc + (size_t)j * kv_row;
        float acc = 0.0f;
        for (uint32_t d = lane; d < hd; d += 32) acc = __fadd_rn(acc, __fmul_rn(q[d], kr[d]));
        acc = warp_tree(acc);
        if (lane == 0) scores[j] = __fmul_rn(acc, scale);
    }
    __syncthreads();
    if (warp == 0) {
        float sum = softmax_exp(scores, n);
        if (lane == 0) s_sum = sum;
    }
    __syncthreads();
    float sum = s_sum;
    for (uint32_t j = threadIdx.x; j < n; j += blockDim.x) scores[j] = __fdiv_rn(scores[j], sum);
    __syncthreads();
    uint32_t d = threadIdx.x;
    if (d < hd) {
        float l[32];
#pragma unroll
        for (int i = 0; i < 32; i++) l[i] = 0.0f;
        for (uint32_t j0 = 0; j0 < n; j0 += 32) {
#pragma unroll
            for (int i = 0; i < 32; i++)
                if (j0 + i < n) l[i] = __fadd_rn(l[i], __fmul_rn(scores[j0 + i], vc[(size_t)(j0 + i) * kv_row + d]));
        }
        out[d] = tree32(l);
    }
}

/* dot_f32(q, k) of head_dim 64 by one thread, q in registers, k a row of
 * 16 float4 (shared memory): the 32 lane sums (0 + q[l] k[l]) + q[l + 32]
 * k[l + 32], then the tree. */
__device__ static inline float dot64(const float *qr, const float4 *kr)
{
    float v[32];
#pragma unroll
    for (int i = 0; i < 8; i++) {
        float4 a = kr[i], b = kr[i + 8];
        v[4 * i] = __fadd_rn(__fadd_rn(0.0f, __fmul_rn(qr[4 * i], a.x)), __fmul_rn(qr[4 * i + 32], b.x));
        v[4 * i + 1] = __fadd_rn(__fadd_rn(0.0f, __fmul_rn(qr[4 * i + 1], a.y)), __fmul_rn(qr[4 * i + 33], b.y));
        v[4 * i + 2] = __fadd_rn(__fadd_rn(0.0f, __fmul_rn(qr[4 * i + 2], a.z)), __fmul_rn(qr[4 * i + 34], b.z));
        v[4 * i + 3] = __fadd_rn(__fadd_rn(0.0f, __fmul_rn(qr[4 * i + 3], a.w)), __fmul_rn(qr[4 * i + 35], b.w));
    }
    return tree32(v);
}

/* attend_one for head_dim 64 with one warp per (token, head) and no block
 * barriers, the same operations in the same order: lane i computes the
 * scores of rows j = i (mod 32) whole (its 32 "lane" sums of q[d] * k[d],
 * d = l and l + 32, then the tree of warp_tree, in registers), keys staged
 * 32 rows at a time in the warp's shared tile (rows padded to 17 float4,
 * so that the float4 reads of 8 lanes hit 32 banks); then the softmax of
 * attend_one; then each lane keeps the 32 residue sums of columns lane and
 * lane + 32 and runs the tree itself. */
#define AW_WARPS 4
__device__ static void attend_warp64(const float *q, const float *kc, const float *vc, uint32_t n, size_t kv_row,
                                     float *scores, float *out, float4 (*ks)[17])
{
    unsigned lane = threadIdx.x % 32;
    float scale = __fdiv_rn(1.0f, __fsqrt_rn(64.0f));
    float qr[64];
#pragma unroll
    for (int i = 0; i < 16; i++) {
        float4 v = ((const float4 *)q)[i];
        qr[4 * i] = v.x, qr[4 * i + 1] = v.y, qr[4 * i + 2] = v.z, qr[4 * i + 3] = v.w;
    }
    for (uint32_t j0 = 0; j0 < n; j0 += 32) {
#pragma unroll
        for (unsigned k = 0; k < 16; k++) {
            unsigned idx = k * 32 + lane, r = idx / 16, c4 = idx % 16;
            if (j0 + r < n) ks[r][c4] = *(const float4 *)(kc + (size_t)(j0 + r) * kv_row + c4 * 4);
        }
        __syncwarp();
        if (j0 + lane < n) scores[j0 + lane] = __fmul_rn(dot64(qr, ks[lane]), scale);
        __syncwarp();
    }
    /* The softmax: each lane reads back only the scores it wrote. */
    float sum = softmax_exp(scores, n);
    for (uint32_t j = lane; j < n; j += 32) scores[j] = __fdiv_rn(scores[j], sum);
    __syncwarp();
    float l0[32], l1[32];
#pragma unroll
    for (int i = 0; i < 32; i++) l0[i] = 0.0f, l1[i] = 0.0f;
    for (uint32_t j0 = 0; j0 < n; j0 += 32) {
#pragma unroll
        for (int i = 0; i < 32; i++)
            if (j0 + i < n) {
                float p = scores[j0 + i];
                const float *vr = vc + (size_t)(j0 + i) * kv_row;
                l0[i] = __fadd_rn(l0[i], __fmul_rn(p, vr[lane]));
                l1[i] = __fadd_rn(l1[i], __fmul_rn(p, vr[lane + 32]));
            }
    }
    out[lane] = tree32(l0);
    out[lane + 32] = tree32(l1);
}

__global__ static void __launch_bounds__(AW_WARPS * 32)
k_attention_w64(const dev_place *pl, const float *q, float *out, float *scratch, size_t stride, size_t jobs,
                uint32_t n_head, uint32_t n_head_kv, uint32_t layer)
{
    __shared__ float4 ks[AW_WARPS][32][17];
    unsigned warp = threadIdx.x / 32;
    size_t job = (size_t)blockIdx.x * AW_WARPS + warp, t = job / n_head;
    if (job >= jobs) return;
    uint32_t h = (uint32_t)(job % n_head), kv_h = h / (n_head / n_head_kv);
    size_t kv_row = (size_t)n_head_kv * 64;
    const float *kc = pl[t].k + (size_t)layer * pl[t].n_ctx * kv_row + (size_t)kv_h * 64;
    const float *vc = pl[t].v + (size_t)layer * pl[t].n_ctx * kv_row + (size_t)kv_h * 64;
    size_t qo = t * n_head * 64 + (size_t)h * 64;
    attend_warp64(q + qo, kc, vc, pl[t].pos + 1, kv_row, scratch + job * stride, out + qo, ks[warp]);
}

__global__ static void __launch_bounds__(32)
k_attention_w64_test(const float *q, const float *k, const float *v, uint32_t n, size_t kv_row, float *scores,
                     float *out)
{
    __shared__ float4 ks[32][17];
    attend_warp64(q, k, v, n, kv_row, scores, out, ks);
}

/* The canonical tree of 32 lane sums across the lanes of a warp, for C
 * columns at once: lane l holds node l's sums v[0 .. C - 1]; the level of
 * offset C / 4 adds nodes l and l + off (lanes[l] = lanes[l] + lanes[l +
 * off], as tree32) with the columns split between the two lanes: each keeps
 * half and takes its partner's sums of that half (addition commutes, so
 * which lane adds changes nothing). After the levels 64 .. 4 of 64 columns,
 * lane l holds columns 2 l and 2 l + 1 of node 0, the result. */
template <int C> __device__ static inline void xor_level(float *v, unsigned lane)
{
    constexpr int H = C / 2, OFF = C / 4;
    bool up = lane & OFF;
#pragma unroll
    for (int k = 0; k < H; k++) {
        float send = up ? v[k] : v[H + k], keep = up ? v[H + k] : v[k];
        v[k] = __fadd_rn(keep, __shfl_xor_sync(0xffffffffu, send, OFF));
    }
}

/* The same operations as attend_warp64 for whole groups of queries that
 * read the same cache rows (the default for head_dim 64): a thread block
 * takes the n_head / n_head_kv query heads of one kv head for up to
 * AT_WARPS / that many consecutive tokens of one sequence (a group: grp[g]
 * .. grp[g + 1] - 1, made by attention_groups), one warp per (token, head).
 * The key tiles, then the value tiles, of 32 rows are copied into shared
 * memory once per block by cp.async, the next tile while the warps work on
 * this one (two stages), up to the longest n of the group; a warp whose rows
 * have ended, or that has no query, skips the work but joins every barrier
 * (the loops' bounds are the block's). Lane l scores row l of each key tile
 * (dot64, as attend_warp64), the softmax is softmax_exp, and for p.v lane
 * l adds p_j v_j of the rows j = l (mod 32) into 64 column sums (the
 * residue sums of attend_warp64, held by residue instead of by column: one
 * float4 row read per 4 products instead of a p and two values per 2),
 * then xor_level makes the tree. Scores live in shared memory when sstride
 * != 0 (sstride floats per warp), else in the global scratch (stride floats
 * per (token, head), as k_attention_w64); a lane only ever touches its own
 * entries j = l (mod 32). Tile rows are padded to 17 float4, so that the
 * lanes' row reads hit 32 banks. */
#define AT_WARPS 12
#define AT_TILE (32 * 17) /* float4 per stage */
#define AT_SMEM_SCORES 65536 /* at most this many bytes of scores per block in shared memory */
__global__ static void __launch_bounds__(AT_WARPS * 32)
k_attention_tile(const dev_place *pl, const uint32_t *grp, const float *q, float *out, float *scratch, size_t stride,
                 uint32_t sstride, uint32_t n_head, uint32_t n_head_kv, uint32_t layer)
{
    __shared__ __align__(16) float4 tile[2][AT_TILE];
    extern __shared__ float s_scores[];
    unsigned lane = threadIdx.x % 32, warp = threadIdx.x / 32, tid = threadIdx.x, threads = blockDim.x;
    uint32_t per = n_head / n_head_kv, kv_h = blockIdx.y;
    size_t first = grp[blockIdx.x], end = grp[blockIdx.x + 1], t = first + warp / per;
    uint32_t h = kv_h * per + warp % per, n_max = 0;
    for (size_t i = first; i < end; i++) n_max = pl[i].pos + 1 > n_max ? pl[i].pos + 1 : n_max;
    bool has = t < end;
    uint32_t n = has ? pl[t].pos + 1 : 0;
    size_t kv_row = (size_t)n_head_kv * 64, job = t * n_head + h, qo = job * 64;
    const float *kc = pl[first].k + (size_t)layer * pl[first].n_ctx * kv_row + (size_t)kv_h * 64;
    const float *vc = pl[first].v + (size_t)layer * pl[first].n_ctx * kv_row + (size_t)kv_h * 64;
    float *scores = sstride ? s_scores + (size_t)warp * sstride : scratch + (has ? job : 0) * stride;
    uint32_t tiles = (n_max + 31) / 32;
    /* Stage i < tiles is key tile i, then value tile i - tiles. */
    auto load = [&](uint32_t i) {
        if (i < 2 * tiles) {
            bool key = i < tiles;
            uint32_t j0 = (key ? i : i - tiles) * 32;
            const float *src = key ? kc : vc;
            float4 *dst = tile[i & 1];
            for (unsigned idx = tid; idx < 32 * 16; idx += threads) {
                unsigned r = idx / 16, c4 = idx % 16;
                if (j0 + r < n_max) cp_async16(&dst[r * 17 + c4], src + (size_t)(j0 + r) * kv_row + c4 * 4);
            }
        }
        asm volatile("cp.async.commit_group;\n" ::); /* empty past the end: keeps the count */
    };
    float scale = __fdiv_rn(1.0f, __fsqrt_rn(64.0f));
    float qr[64];
#pragma unroll
    for (int i = 0; i < 16; i++) {
        float4 v = has ? ((const float4 *)(q + qo))[i] : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
        qr[4 * i] = v.x, qr[4 * i + 1] = v.y, qr[4 * i + 2] = v.z, qr[4 * i + 3] = v.w;
    }
    load(0);
    for (uint32_t i = 0; i < tiles; i++) {
        load(i + 1);
        asm volatile("cp.async.wait_group 1;\n" ::);
        __syncthreads();
        uint32_t j = i * 32 + lane;
        if (j < n) scores[j] = __fmul_rn(dot64(qr, &tile[i & 1][lane * 17]), scale);
        __syncthreads();
    }
    if (n) {
        float sum = softmax_exp(scores, n);
        for (uint32_t j = lane; j < n; j += 32) scores[j] = __fdiv_rn(scores[j], sum);
    }
    /* p.v: lane l keeps the residue-l sums of all 64 columns, adding row j = l (mod 32) of each tile
     * (whose p_j it wrote itself), then the butterfly tree. */
    float acc[64];
#pragma unroll
    for (int d = 0; d < 64; d++) acc[d] = 0.0f;
    for (uint32_t i = tiles; i < 2 * tiles; i++) {
        load(i + 1);
        asm volatile("cp.async.wait_group 1;\n" ::);
        __syncthreads();
        uint32_t j = (i - tiles) * 32 + lane;
        if (j < n) {
            float p = scores[j];
            const float4 *vr = &tile[i & 1][lane * 17];
#pragma unroll
            for (int c4 = 0; c4 < 16; c4++) {
                float4 x = vr[c4];
                acc[4 * c4] = __fadd_rn(acc[4 * c4], __fmul_rn(p, x.x));
                acc[4 * c4 + 1] = __fadd_rn(acc[4 * c4 + 1], __fmul_rn(p, x.y));
                acc[4 * c4 + 2] = __fadd_rn(acc[4 * c4 + 2], __fmul_rn(p, x.z));
                acc[4 * c4 + 3] = __fadd_rn(acc[4 * c4 + 3], __fmul_rn(p, x.w));
            }
        }
        __syncthreads();
    }
    if (has) { /* warp-uniform: the shuffles need the whole warp */
        xor_level<64>(acc, lane), xor_level<32>(acc, lane), xor_level<16>(acc, lane), xor_level<8>(acc, lane);
        xor_level<4>(acc, lane);
        *(float2 *)(out + qo + 2 * lane) = make_float2(acc[0], acc[1]);
    }
}

__global__ static void k_attention(const dev_place *pl, const float *q, float *out, float *scratch, size_t stride,
                                   uint32_t n_head, uint32_t n_head_kv, uint32_t hd, uint32_t layer)
{
    size_t job = blockIdx.x, t = job / n_head;
    uint32_t h = (uint32_t)(job % n_head), kv_h = h / (n_head / n_head_kv);
    size_t kv_row = (size_t)n_head_kv * hd;
    const float *kc = pl[t].k + (size_t)layer * pl[t].n_ctx * kv_row + (size_t)kv_h * hd;
    const float *vc = pl[t].v + (size_t)layer * pl[t].n_ctx * kv_row + (size_t)kv_h * hd;
    size_t qo = t * n_head * hd + (size_t)h * hd;
    attend_one(q + qo, kc, vc, pl[t].pos + 1, hd, kv_row, scratch + job * stride, out + qo);
}

__global__ static void k_attention_test(const float *q, const float *k, const float *v, uint32_t n, uint32_t hd,
                                        size_t kv_row, float *scores, float *out)
{
    attend_one(q, k, v, n, hd, kv_row, scores, out);
}


/* ---- token statistics (entropy.c: hlz_token_stats_from_logits) -------------- */

#define ST_THREADS 256

/* hlz_logit_step (entropy.h): the grid step of x below the top m. */
__device__ static uint32_t d_logit_step(float x, float m)
{
    if (x != x || x == -__int_as_float(0x7f800000)) return HLZ_LOGIT_KMAX;
    if (x == __int_as_float(0x7f800000)) return 0;
    float r = __fmul_rn(__fsub_rn(m, x), (float)HLZ_LOGIT_STEPS);
    if (!(r < (float)HLZ_LOGIT_KMAX)) return HLZ_LOGIT_KMAX;
    uint32_t k = (uint32_t)d_round_even(r);
    return k < HLZ_LOGIT_KMAX ? k : HLZ_LOGIT_KMAX;
}

/* ---- integer attention ("attention 1", attention_int8.c) ------------------ */

/* The int8 value cache is stored transposed, so that the p.v sums read four
 * consecutive positions of one column as one word: byte (layer, column c
 * of the kv row, position j) at (layer * kv_dim + c) * v8_pitch(n_ctx) + j.
 * The key cache and both scale caches are by position, as the float ones
 * ([layer][n_ctx][kv_dim] bytes, [layer][n_ctx][kv_dim / 32] floats). */
__host__ __device__ static inline size_t v8_pitch(uint32_t n_ctx) { return ((size_t)n_ctx + 15) / 16 * 16; }

/* The keys and values of the n tokens just stored in their caches (layer
 * `layer`), quantized per block of 32 into the int8 caches as quantize_q8
 * does them (quantize_lane): one warp per block, keys first, then values,
 * of each token. */
__global__ static void k_quantize_kv(const dev_place *pl, size_t n, uint32_t kv_dim, uint32_t layer)
{
    uint32_t nbk = kv_dim / HLZ_QBLOCK;
    size_t id = blockIdx.x * (size_t)(blockDim.x / 32) + threadIdx.x / 32, t = id / (2 * nbk);
    if (t >= n) return;
    unsigned lane = threadIdx.x % 32;
    uint32_t r = (uint32_t)(id % (2 * nbk)), b = r % nbk, c = b * HLZ_QBLOCK + lane, pos = pl[t].pos;
    bool value = r >= nbk;
    size_t row = (size_t)layer * pl[t].n_ctx + pos;
    float d;
    int qi = quantize_lane((value ? pl[t].v : pl[t].k)[row * kv_dim + c], &d);
    if (value) {
        pl[t].v8[((size_t)layer * kv_dim + c) * v8_pitch(pl[t].n_ctx) + pos] = (int8_t)qi;
        if (lane == 0) pl[t].vd[row * nbk + b] = d;
    } else {
        pl[t].k8[row * kv_dim + c] = (int8_t)qi;
        if (lane == 0) pl[t].kd[row * nbk + b] = d;
    }
}

/* Four int8 x int8 products added to c: exact in int32, whatever the order. */
__device__ static inline int dot4_s8(const int a, const int b, int c) { return __dp4a(a, b, c); }

/* Four u8 x int8 products added to c (dp4a with an unsigned first operand). */
__device__ static inline int dot4_u8s8(unsigned a, int b, int c)
{
    int d;
    asm("dp4a.u32.s32 %0, %1, %2, %3;" : "=r"(d) : "r"(a), "r"(b), "r"(c));
    return d;
}

/* The weights step of int8 attention for one (token, head) by one warp:
 * w_j = weights[hlz_logit_step(s_j, m)] replaces s_j in the scratch sc
 * (lane l takes positions 4l .. 4l + 3 of each 128: those the plain and tile
 * kernels' p.v passes read back in the same lane); returns wsum, their
 * exact sum, and gives e_b = max(umax_b / 255, FLT_MIN), umax_b the largest
 * (w_j 2^-30) dv_jb, and inv_b = 1 / e_b, the same in every lane. */
template <int NB>
__device__ static unsigned long long int8_weights(float *sc, uint32_t n, float m, const uint32_t *s_w, const float *vd,
                                                  uint32_t nbk, unsigned lane, float e[NB], float inv[NB])
{
    uint32_t *sw = (uint32_t *)sc;
    unsigned long long wsum = 0;
    float umax[NB];
#pragma unroll
    for (int b = 0; b < NB; b++) umax[b] = 0.0f;
    for (uint32_t j = 4 * lane; j < n; j += 128)
        for (uint32_t i = j; i < j + 4 && i < n; i++) {
            uint32_t w = s_w[d_logit_step(sc[i], m)];
            sw[i] = w;
            wsum += w;
            float wf = __fmul_rn(__uint2float_rn(w), 0x1p-30f);
#pragma unroll
            for (int b = 0; b < NB; b++) {
                float u = __fmul_rn(wf, vd[(size_t)i * nbk + b]);
                umax[b] = u > umax[b] ? u : umax[b];
            }
        }
    for (int off = 16; off > 0; off >>= 1) wsum += __shfl_xor_sync(0xffffffffu, wsum, off);
#pragma unroll
    for (int b = 0; b < NB; b++) {
        for (int off = 16; off > 0; off >>= 1) {
            float o = __shfl_xor_sync(0xffffffffu, umax[b], off);
            umax[b] = o > umax[b] ? o : umax[b];
        }
        e[b] = __fdiv_rn(umax[b], 255.0f);
        if (e[b] < FLT_MIN) e[b] = FLT_MIN;
        inv[b] = __fdiv_rn(1.0f, e[b]);
    }
    return wsum;
}

/* hlz_attention_int8 of whole groups (attention_groups), for head_dim NB *
 * 32: a thread block takes one kv head of a group's tokens, and its warps
 * the (token, query head) jobs in turn (job w, w + warps, ...). Per job, as
 * the reference in the same order of float operations:
 * - q is quantized per block (quantize_block_warp into the warp's shared
 *   bytes); lane l scores rows j = l (mod 32): isum_b by dp4a over the int8
 *   key cache, acc = (0 + isum_0 (dq_0 dk_j0)) + isum_1 (dq_1 dk_j1) ...,
 *   s_j = acc * scale, into the scratch; m the largest non-nan score below
 *   +inf (a max: the same whatever the order);
 * - w_j = weight[hlz_logit_step(s_j, m)] (the 640 weights in shared memory,
 *   as uint32: at most 2^30) replaces s_j; wsum is their exact sum, umax_b
 *   the largest u_jb = (w_j 2^-30) dv_jb;
 * - e_b = max(umax_b / 255, FLT_MIN); lane k makes uq_jb = min(round(u_jb /
 *   e_b), 255) for rows j = 4k .. 4k + 3 of each 128, packed in one word
 *   and shuffled to the others; lane l keeps the exact int32 sums of column
 *   b * 32 + l, four rows per dp4a over the transposed value cache;
 * - out = (acc e_b) / (wsum 2^-30), 0 when wsum is 0.
 * The scratch holds `stride` floats per (token, head), as the float
 * kernels'; `weights` are the 640 entries of hlz_logit_weights. */
#define AI_WARPS 12
template <int NB>
__global__ static void __launch_bounds__(AI_WARPS * 32)
k_attention_int8(const dev_place *pl, const uint32_t *grp, const float *q, float *out, float *scratch, size_t stride,
                 const uint64_t *weights, uint32_t n_head, uint32_t n_head_kv, uint32_t layer)
{
    constexpr uint32_t HD = NB * HLZ_QBLOCK;
    __shared__ __align__(16) int8_t s_q[AI_WARPS][HD];
    __shared__ float s_dq[AI_WARPS][NB];
    __shared__ uint32_t s_w[HLZ_LOGIT_KMAX + 1];
    unsigned lane = threadIdx.x % 32, warp = threadIdx.x / 32, warps = blockDim.x / 32;
    for (unsigned i = threadIdx.x; i <= HLZ_LOGIT_KMAX; i += blockDim.x)
        s_w[i] = i < HLZ_LOGIT_KMAX ? (uint32_t)weights[i] : 0; /* entry KMAX: the weight 0 */
    __syncthreads();
    uint32_t per = n_head / n_head_kv, kv_h = blockIdx.y, kv_dim = n_head_kv * HD, nbk = n_head_kv * NB;
    size_t first = grp[blockIdx.x], end = grp[blockIdx.x + 1], jobs = (end - first) * per;
    const float scale = __fdiv_rn(1.0f, __fsqrt_rn((float)HD)), inf = __int_as_float(0x7f800000);
    for (size_t job = warp; job < jobs; job += warps) {
        size_t t = first + job / per;
        uint32_t h = kv_h * per + (uint32_t)(job % per), n = pl[t].pos + 1;
        size_t row0 = (size_t)layer * pl[t].n_ctx, qo = (t * n_head + h) * HD, pitch = v8_pitch(pl[t].n_ctx);
        const int8_t *k8 = pl[t].k8 + row0 * kv_dim + (size_t)kv_h * HD;
        const int8_t *v8 = pl[t].v8 + ((size_t)layer * kv_dim + (size_t)kv_h * HD) * pitch;
        const float *kd = pl[t].kd + row0 * nbk + (size_t)kv_h * NB, *vd = pl[t].vd + row0 * nbk + (size_t)kv_h * NB;
        float *sc = scratch + (t * n_head + h) * stride;
        uint32_t *sw = (uint32_t *)sc;
#pragma unroll
        for (int b = 0; b < NB; b++) quantize_block_warp(q[qo + b * 32 + lane], lane, b, NULL, s_q[warp], s_dq[warp]);
        __syncwarp();
        float m = -inf;
        for (uint32_t j = lane; j < n; j += 32) {
            const int4 *kr = (const int4 *)(k8 + (size_t)j * kv_dim);
            const int4 *qr = (const int4 *)s_q[warp];
            float acc = 0.0f;
#pragma unroll
            for (int b = 0; b < NB; b++) {
                int4 k0 = kr[2 * b], k1 = kr[2 * b + 1], q0 = qr[2 * b], q1 = qr[2 * b + 1];
                int isum = dot4_s8(q0.x, k0.x, 0);
                isum = dot4_s8(q0.y, k0.y, isum), isum = dot4_s8(q0.z, k0.z, isum), isum = dot4_s8(q0.w, k0.w, isum);
                isum = dot4_s8(q1.x, k1.x, isum), isum = dot4_s8(q1.y, k1.y, isum);
                isum = dot4_s8(q1.z, k1.z, isum), isum = dot4_s8(q1.w, k1.w, isum);
                acc = __fadd_rn(acc, __fmul_rn(__int2float_rn(isum), __fmul_rn(s_dq[warp][b], kd[(size_t)j * nbk + b])));
            }
            float sj = __fmul_rn(acc, scale);
            sc[j] = sj;
            if (sj == sj && sj != inf && sj > m) m = sj;
        }
        __syncwarp(); /* the scores, read next by other lanes */
        for (int off = 16; off > 0; off >>= 1) {
            float o = __shfl_xor_sync(0xffffffffu, m, off);
            m = o > m ? o : m;
        }
        float e[NB], inv[NB];
        unsigned long long wsum = int8_weights<NB>(sc, n, m, s_w, vd, nbk, lane, e, inv);
        int acc[NB];
#pragma unroll
        for (int b = 0; b < NB; b++) acc[b] = 0;
        for (uint32_t j0 = 0; j0 < n; j0 += 128) {
            unsigned pk[NB];
#pragma unroll
            for (int b = 0; b < NB; b++) pk[b] = 0;
            for (uint32_t i = 0; i < 4; i++) {
                uint32_t j = j0 + 4 * lane + i;
                if (j >= n) break;
                float wf = __fmul_rn(__uint2float_rn(sw[j]), 0x1p-30f);
#pragma unroll
                for (int b = 0; b < NB; b++) {
                    float u = __fmul_rn(wf, vd[(size_t)j * nbk + b]);
                    int r = (int)d_round_even(__fmul_rn(u, inv[b]));
                    pk[b] |= (unsigned)(r < 255 ? r : 255) << (8 * i);
                }
            }
            uint32_t words = (n - j0 + 3) / 4;
            words = words < 32 ? words : 32;
            for (uint32_t k = 0; k < words; k++) {
#pragma unroll
                for (int b = 0; b < NB; b++) {
                    unsigned a = __shfl_sync(0xffffffffu, pk[b], k);
                    int v = *(const int *)(v8 + (size_t)(b * 32 + lane) * pitch + j0 + 4 * k);
                    acc[b] = dot4_u8s8(a, v, acc[b]);
                }
            }
        }
        float den = __fmul_rn(__ull2float_rn(wsum), 0x1p-30f);
#pragma unroll
        for (int b = 0; b < NB; b++)
            out[qo + b * 32 + lane] = wsum ? __fdiv_rn(__fmul_rn(__int2float_rn(acc[b]), e[b]), den) : 0.0f;
        __syncwarp(); /* s_q is the next job's */
    }
}

/* k_attention_int8 with the caches staged in shared memory, for kv groups
 * that fit a block (n_head / n_head_kv <= AI_WARPS): one warp per (token,
 * head) of the group, all warps through the same tiles up to the longest
 * n, two stages by cp.async (the pattern of k_attention_tile). Key tiles
 * are AI_KT rows (padded to HD + 16 bytes: lane l's 16-byte reads of rows
 * l, l + 32, ... hit distinct banks in each quarter warp) and their scales; value tiles
 * are 128 positions of every column of the transposed cache (a column's
 * 32 words padded to 36: lane l's 16-byte read of column l takes 16
 * positions, conflict-free). The arithmetic, and its order, are
 * k_attention_int8's; scores and weights stay in the global scratch. */
#define AI_KROW(HD) ((HD) + 16)
#define AI_VROW 36
#define AI_KT 128 /* key rows per tile: four per lane, so that a barrier pair serves 128 rows */
#define AI_KSTAGE(NB) (AI_KT * AI_KROW((NB) * 32) + AI_KT * (NB) * 4)
#define AI_VSTAGE(NB) ((NB) * 32 * AI_VROW * 4)
#define AI_STAGE(NB) (AI_KSTAGE(NB) > AI_VSTAGE(NB) ? AI_KSTAGE(NB) : AI_VSTAGE(NB))
template <int NB> static size_t attention_int8_smem(void) { return 2 * (size_t)AI_STAGE(NB); }

/* Copies stage i of an int8 attention block's walk into its half of smem
 * (cp.async, one commit group, empty past the end so that the count holds):
 * stage i < ktiles is key tile i (AI_KT rows of n_max, then their scales),
 * then value tile i - ktiles (128 transposed positions of every column).
 * Every thread of the block takes part. */
template <int NB>
__device__ static void stage_int8_tile(unsigned char *smem, uint32_t i, uint32_t ktiles, uint32_t vtiles, uint32_t n_max,
                                       const int8_t *k8, const float *kd, const int8_t *v8, size_t pitch, uint32_t kv_dim,
                                       uint32_t nbk)
{
    constexpr uint32_t HD = NB * HLZ_QBLOCK, KROW = AI_KROW(HD);
    unsigned tid = threadIdx.x, threads = blockDim.x;
    unsigned char *dst = smem + (size_t)(i & 1) * AI_STAGE(NB);
    if (i < ktiles) {
        uint32_t j0 = i * AI_KT;
        for (unsigned idx = tid; idx < AI_KT * (HD / 16); idx += threads) {
            unsigned r = idx / (HD / 16), c = idx % (HD / 16);
            if (j0 + r < n_max) cp_async16(dst + r * KROW + c * 16, k8 + (size_t)(j0 + r) * kv_dim + c * 16);
        }
        float *dd = (float *)(dst + AI_KT * KROW);
        for (unsigned idx = tid; idx < AI_KT * NB; idx += threads) {
            unsigned r = idx / NB, b = idx % NB;
            if (j0 + r < n_max) cp_async4(dd + idx, kd + (size_t)(j0 + r) * nbk + b);
        }
    } else if (i < ktiles + vtiles) {
        uint32_t j0 = (i - ktiles) * 128;
        for (unsigned idx = tid; idx < HD * 8; idx += threads) {
            unsigned c = idx / 8, w4 = idx % 8;
            if (j0 + 16 * w4 < n_max) cp_async16(dst + (c * AI_VROW + 4 * w4) * 4, v8 + c * pitch + j0 + 16 * w4);
        }
    }
    asm volatile("cp.async.commit_group;\n" ::);
}

template <int NB>
__global__ static void __launch_bounds__(AI_WARPS * 32)
k_attention_int8_tile(const dev_place *pl, const uint32_t *grp, const float *q, float *out, float *scratch,
                      size_t stride, const uint64_t *weights, uint32_t n_head, uint32_t n_head_kv, uint32_t layer)
{
    constexpr uint32_t HD = NB * HLZ_QBLOCK, KROW = AI_KROW(HD), STAGE = AI_STAGE(NB);
    extern __shared__ __align__(16) unsigned char smem[];
    __shared__ __align__(16) int8_t s_q[AI_WARPS][HD];
    __shared__ float s_dq[AI_WARPS][NB];
    __shared__ uint32_t s_w[HLZ_LOGIT_KMAX + 1];
    unsigned lane = threadIdx.x % 32, warp = threadIdx.x / 32, tid = threadIdx.x, threads = blockDim.x;
    for (unsigned i = tid; i <= HLZ_LOGIT_KMAX; i += threads) s_w[i] = i < HLZ_LOGIT_KMAX ? (uint32_t)weights[i] : 0;
    uint32_t per = n_head / n_head_kv, kv_h = blockIdx.y, kv_dim = n_head_kv * HD, nbk = n_head_kv * NB;
    size_t first = grp[blockIdx.x], end = grp[blockIdx.x + 1], t = first + warp / per;
    uint32_t h = kv_h * per + warp % per, n_max = 0;
    for (size_t i = first; i < end; i++) n_max = pl[i].pos + 1 > n_max ? pl[i].pos + 1 : n_max;
    bool has = t < end;
    uint32_t n = has ? pl[t].pos + 1 : 0;
    const dev_place &p0 = pl[first];
    size_t row0 = (size_t)layer * p0.n_ctx, pitch = v8_pitch(p0.n_ctx), job = t * n_head + h, qo = job * HD;
    const int8_t *k8 = p0.k8 + row0 * kv_dim + (size_t)kv_h * HD;
    const int8_t *v8 = p0.v8 + ((size_t)layer * kv_dim + (size_t)kv_h * HD) * pitch;
    const float *kd = p0.kd + row0 * nbk + (size_t)kv_h * NB, *vd = p0.vd + row0 * nbk + (size_t)kv_h * NB;
    float *sc = scratch + (has ? job : 0) * stride;
    uint32_t *sw = (uint32_t *)sc;
    uint32_t ktiles = (n_max + AI_KT - 1) / AI_KT, vtiles = (n_max + 127) / 128;
    auto load = [&](uint32_t i) { stage_int8_tile<NB>(smem, i, ktiles, vtiles, n_max, k8, kd, v8, pitch, kv_dim, nbk); };
    if (has) {
#pragma unroll
        for (int b = 0; b < NB; b++) quantize_block_warp(q[qo + b * 32 + lane], lane, b, NULL, s_q[warp], s_dq[warp]);
    }
    const float scale = __fdiv_rn(1.0f, __fsqrt_rn((float)HD)), inf = __int_as_float(0x7f800000);
    float m = -inf;
    load(0);
    for (uint32_t i = 0; i < ktiles; i++) {
        load(i + 1);
        asm volatile("cp.async.wait_group 1;\n" ::);
        __syncthreads();
        const unsigned char *st = smem + (size_t)(i & 1) * STAGE;
        for (uint32_t rr = lane; rr < AI_KT; rr += 32) { /* rows j = lane (mod 32), as the plain kernel's */
            uint32_t j = i * AI_KT + rr;
            if (j >= n) break;
            const int4 *kr = (const int4 *)(st + rr * KROW), *qr = (const int4 *)s_q[warp];
            const float *dk = (const float *)(st + AI_KT * KROW) + rr * NB;
            float acc = 0.0f;
#pragma unroll
            for (int b = 0; b < NB; b++) {
                int4 k0 = kr[2 * b], k1 = kr[2 * b + 1], q0 = qr[2 * b], q1 = qr[2 * b + 1];
                int isum = dot4_s8(q0.x, k0.x, 0);
                isum = dot4_s8(q0.y, k0.y, isum), isum = dot4_s8(q0.z, k0.z, isum), isum = dot4_s8(q0.w, k0.w, isum);
                isum = dot4_s8(q1.x, k1.x, isum), isum = dot4_s8(q1.y, k1.y, isum);
                isum = dot4_s8(q1.z, k1.z, isum), isum = dot4_s8(q1.w, k1.w, isum);
                acc = __fadd_rn(acc, __fmul_rn(__int2float_rn(isum), __fmul_rn(s_dq[warp][b], dk[b])));
            }
            float sj = __fmul_rn(acc, scale);
            sc[j] = sj;
            if (sj == sj && sj != inf && sj > m) m = sj;
        }
        __syncthreads();
    }
    unsigned long long wsum = 0;
    float e[NB], inv[NB];
    int acc[NB];
    if (has) { /* warp-uniform */
        for (int off = 16; off > 0; off >>= 1) {
            float o = __shfl_xor_sync(0xffffffffu, m, off);
            m = o > m ? o : m;
        }
        wsum = int8_weights<NB>(sc, n, m, s_w, vd, nbk, lane, e, inv);
#pragma unroll
        for (int b = 0; b < NB; b++) acc[b] = 0;
    }
    for (uint32_t i = ktiles; i < ktiles + vtiles; i++) {
        load(i + 1);
        asm volatile("cp.async.wait_group 1;\n" ::);
        __syncthreads();
        uint32_t j0 = (i - ktiles) * 128;
        if (has && j0 < n) { /* warp-uniform */
            unsigned pk[NB];
#pragma unroll
            for (int b = 0; b < NB; b++) pk[b] = 0;
            for (uint32_t r = 0; r < 4; r++) {
                uint32_t j = j0 + 4 * lane + r;
                if (j >= n) break;
                float wf = __fmul_rn(__uint2float_rn(sw[j]), 0x1p-30f);
#pragma unroll
                for (int b = 0; b < NB; b++) {
                    float u = __fmul_rn(wf, vd[(size_t)j * nbk + b]);
                    int rq = (int)d_round_even(__fmul_rn(u, inv[b]));
                    pk[b] |= (unsigned)(rq < 255 ? rq : 255) << (8 * r);
                }
            }
            const uint32_t *vt = (const uint32_t *)(smem + (size_t)(i & 1) * STAGE);
            uint32_t quads = (n - j0 + 15) / 16;
            quads = quads < 8 ? quads : 8;
            for (uint32_t k = 0; k < quads; k++) {
#pragma unroll
                for (int b = 0; b < NB; b++) {
                    int4 v = *(const int4 *)(vt + (b * 32 + lane) * AI_VROW + 4 * k);
                    acc[b] = dot4_u8s8(__shfl_sync(0xffffffffu, pk[b], 4 * k), v.x, acc[b]);
                    acc[b] = dot4_u8s8(__shfl_sync(0xffffffffu, pk[b], 4 * k + 1), v.y, acc[b]);
                    acc[b] = dot4_u8s8(__shfl_sync(0xffffffffu, pk[b], 4 * k + 2), v.z, acc[b]);
                    acc[b] = dot4_u8s8(__shfl_sync(0xffffffffu, pk[b], 4 * k + 3), v.w, acc[b]);
                }
            }
        }
        __syncthreads();
    }
    if (has) {
        float den = __fmul_rn(__ull2float_rn(wsum), 0x1p-30f);
#pragma unroll
        for (int b = 0; b < NB; b++)
            out[qo + b * 32 + lane] = wsum ? __fdiv_rn(__fmul_rn(__int2float_rn(acc[b]), e[b]), den) : 0.0f;
    }
}

/* k_attention_int8 on tensor cores (HLZ_CUDA_INT8=mma), for groups of at
 * most AM_ROWS (token, head) jobs and heads of at most 128 values: the
 * block's jobs are the rows of mma.sync m16n8k32's A operand (rows past the
 * group's are zero and never stored). Stages and their layouts are
 * k_attention_int8_tile's (stage_int8_tile); the float operations and their
 * order are the reference's:
 * - scores: warp w takes keys 32w .. 32w + 31 of each key tile, four n-tiles
 *   of 8; one s8 x s8 mma per block b of the head gives isum_b for 16 rows x
 *   8 keys (exact; the accumulator input adds EXACT_I2F_BIAS), then acc = acc
 *   + isum_b (dq_b dk_jb) in block order and s_j = acc * scale go to the
 *   scratch; m is the largest non-nan score below +inf, reduced over the
 *   lanes and warps;
 * - weights: warp w takes rows w, w + AM_WARPS, ...: w_j replaces s_j,
 *   wsum, umax_b, e_b and inv_b as k_attention_int8_tile's;
 * - p.v: warp w takes positions 32w .. 32w + 31 of each value tile: it
 *   makes uq_jb of its rows and positions (the A operand, u8, one per block b)
 *   and multiplies them into the columns of block b (u8 x s8 mma, the
 *   running int32 sums in the accumulators); the warps' sums are added in
 *   shared memory (integer adds: exact in any order), and out follows. */
#define AM_WARPS 4
#define AM_ROWS 16
#define AM_MAX_NB 4 /* heads of at most 128: HD / 8 accumulators of 4 per thread */
__device__ static inline void mma_s8(int d[4], const unsigned a[4], unsigned b0, unsigned b1, int c0, int c1, int c2,
                                     int c3)
{
    asm volatile("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%10,%11,%12,%13};\n"
                 : "=r"(d[0]), "=r"(d[1]), "=r"(d[2]), "=r"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1), "r"(c0), "r"(c1), "r"(c2), "r"(c3));
}

__device__ static inline void mma_u8s8_acc(int d[4], const unsigned a[4], unsigned b0, unsigned b1)
{
    asm volatile("mma.sync.aligned.m16n8k32.row.col.s32.u8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                 "{%0,%1,%2,%3};\n"
                 : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
                 : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
}

template <int NB>
__global__ static void __launch_bounds__(AM_WARPS * 32)
k_attention_int8_mma(const dev_place *pl, const uint32_t *grp, const float *q, float *out, float *scratch,
                     size_t stride, const uint64_t *weights, uint32_t n_head, uint32_t n_head_kv, uint32_t layer)
{
    constexpr uint32_t HD = NB * HLZ_QBLOCK, KROW = AI_KROW(HD), STAGE = AI_STAGE(NB), NT = HD / 8;
    extern __shared__ __align__(16) unsigned char smem[];
    __shared__ __align__(16) int8_t s_q[AM_ROWS][HD];
    __shared__ float s_dq[AM_ROWS][NB], s_e[AM_ROWS][NB], s_inv[AM_ROWS][NB], s_m[AM_WARPS][AM_ROWS];
    __shared__ unsigned long long s_wsum[AM_ROWS];
    __shared__ uint32_t s_n[AM_ROWS], s_w[HLZ_LOGIT_KMAX + 1];
    __shared__ size_t s_job[AM_ROWS];
    unsigned lane = threadIdx.x % 32, warp = threadIdx.x / 32, tid = threadIdx.x, g = lane / 4, c = lane % 4;
    for (unsigned i = tid; i <= HLZ_LOGIT_KMAX; i += AM_WARPS * 32) s_w[i] = i < HLZ_LOGIT_KMAX ? (uint32_t)weights[i] : 0;
    uint32_t per = n_head / n_head_kv, kv_h = blockIdx.y, kv_dim = n_head_kv * HD, nbk = n_head_kv * NB;
    size_t first = grp[blockIdx.x], end = grp[blockIdx.x + 1];
    uint32_t rows = (uint32_t)(end - first) * per, n_max = 0; /* rows <= AM_ROWS: the launcher's choice */
    for (size_t i = first; i < end; i++) n_max = pl[i].pos + 1 > n_max ? pl[i].pos + 1 : n_max;
    if (tid < AM_ROWS) {
        size_t t = first + tid / per;
        s_n[tid] = tid < rows ? pl[t].pos + 1 : 0;
        s_job[tid] = tid < rows ? t * n_head + kv_h * per + tid % per : 0;
    }
    __syncthreads();
    for (uint32_t r = warp; r < AM_ROWS; r += AM_WARPS) /* the queries, quantized; zero rows past the group's */
#pragma unroll
        for (int b = 0; b < NB; b++) {
            float d = 0.0f;
            int qi = r < rows ? quantize_lane(q[s_job[r] * HD + b * 32 + lane], &d) : 0;
            s_q[r][b * 32 + lane] = (int8_t)qi;
            if (lane == 0) s_dq[r][b] = d;
        }
    const dev_place &p0 = pl[first];
    size_t row0 = (size_t)layer * p0.n_ctx, pitch = v8_pitch(p0.n_ctx);
    const int8_t *k8 = p0.k8 + row0 * kv_dim + (size_t)kv_h * HD;
    const int8_t *v8 = p0.v8 + ((size_t)layer * kv_dim + (size_t)kv_h * HD) * pitch;
    const float *kd = p0.kd + row0 * nbk + (size_t)kv_h * NB, *vd = p0.vd + row0 * nbk + (size_t)kv_h * NB;
    uint32_t ktiles = (n_max + AI_KT - 1) / AI_KT, vtiles = (n_max + 127) / 128;
    auto load = [&](uint32_t i) { stage_int8_tile<NB>(smem, i, ktiles, vtiles, n_max, k8, kd, v8, pitch, kv_dim, nbk); };
    load(0);
    __syncthreads(); /* s_q, s_dq */
    /* This thread's rows g and g + 8: their query fragments, scales, lengths and scratch. */
    unsigned qa[NB][4];
    float dq0[NB], dq1[NB];
#pragma unroll
    for (int b = 0; b < NB; b++) {
        qa[b][0] = *(const unsigned *)&s_q[g][b * 32 + 4 * c], qa[b][1] = *(const unsigned *)&s_q[g + 8][b * 32 + 4 * c];
        qa[b][2] = *(const unsigned *)&s_q[g][b * 32 + 16 + 4 * c];
        qa[b][3] = *(const unsigned *)&s_q[g + 8][b * 32 + 16 + 4 * c];
        dq0[b] = s_dq[g][b], dq1[b] = s_dq[g + 8][b];
    }
    uint32_t n0 = s_n[g], n1 = s_n[g + 8]; /* 0 for rows past the group's: nothing is stored for them */
    float *sc0 = scratch + s_job[g] * stride, *sc1 = scratch + s_job[g + 8] * stride;
    const float scale = __fdiv_rn(1.0f, __fsqrt_rn((float)HD)), inf = __int_as_float(0x7f800000);
    float m0 = -inf, m1 = -inf;
    for (uint32_t i = 0; i < ktiles; i++) {
        load(i + 1);
        asm volatile("cp.async.wait_group 1;\n" ::);
        __syncthreads();
        const unsigned char *st = smem + (size_t)(i & 1) * STAGE;
        const float *dks = (const float *)(st + AI_KT * KROW);
#pragma unroll
        for (uint32_t nt = 0; nt < AI_KT / 8 / AM_WARPS; nt++) {
            uint32_t kr = warp * (AI_KT / AM_WARPS) + nt * 8, ja = i * AI_KT + kr + 2 * c, jb = ja + 1;
            if (i * AI_KT + kr >= n_max) break; /* warp-uniform */
            float acc[4] = {0.0f, 0.0f, 0.0f, 0.0f};
#pragma unroll
            for (int b = 0; b < NB; b++) {
                const unsigned char *kg = st + (kr + g) * KROW + b * 32 + 4 * c;
                int d[4];
                mma_s8(d, qa[b], *(const unsigned *)kg, *(const unsigned *)(kg + 16), EXACT_I2F_BIAS, EXACT_I2F_BIAS,
                       EXACT_I2F_BIAS, EXACT_I2F_BIAS);
                float dka = dks[(kr + 2 * c) * NB + b], dkb = dks[(kr + 2 * c + 1) * NB + b];
                acc[0] = __fadd_rn(acc[0], __fmul_rn(exact_i2f_biased(d[0]), __fmul_rn(dq0[b], dka)));
                acc[1] = __fadd_rn(acc[1], __fmul_rn(exact_i2f_biased(d[1]), __fmul_rn(dq0[b], dkb)));
                acc[2] = __fadd_rn(acc[2], __fmul_rn(exact_i2f_biased(d[2]), __fmul_rn(dq1[b], dka)));
                acc[3] = __fadd_rn(acc[3], __fmul_rn(exact_i2f_biased(d[3]), __fmul_rn(dq1[b], dkb)));
            }
            float s;
            s = __fmul_rn(acc[0], scale);
            if (ja < n0) sc0[ja] = s, m0 = s == s && s != inf && s > m0 ? s : m0;
            s = __fmul_rn(acc[1], scale);
            if (jb < n0) sc0[jb] = s, m0 = s == s && s != inf && s > m0 ? s : m0;
            s = __fmul_rn(acc[2], scale);
            if (ja < n1) sc1[ja] = s, m1 = s == s && s != inf && s > m1 ? s : m1;
            s = __fmul_rn(acc[3], scale);
            if (jb < n1) sc1[jb] = s, m1 = s == s && s != inf && s > m1 ? s : m1;
        }
        __syncthreads();
    }
    for (int off = 1; off < 4; off <<= 1) { /* over the four lanes of a row */
        float o0 = __shfl_xor_sync(0xffffffffu, m0, off), o1 = __shfl_xor_sync(0xffffffffu, m1, off);
        m0 = o0 > m0 ? o0 : m0, m1 = o1 > m1 ? o1 : m1;
    }
    if (c == 0) s_m[warp][g] = m0, s_m[warp][g + 8] = m1;
    __syncthreads(); /* s_m and every warp's scores */
    for (uint32_t r = warp; r < rows; r += AM_WARPS) {
        float m = s_m[0][r];
        for (int w = 1; w < AM_WARPS; w++) m = s_m[w][r] > m ? s_m[w][r] : m;
        float e[NB], inv[NB];
        unsigned long long wsum = int8_weights<NB>(scratch + s_job[r] * stride, s_n[r], m, s_w, vd, nbk, lane, e, inv);
        if (lane == 0) {
            s_wsum[r] = wsum;
#pragma unroll
            for (int b = 0; b < NB; b++) s_e[r][b] = e[b], s_inv[r][b] = inv[b];
        }
    }
    /* The first value tile's barrier makes the weights and s_inv visible. */
    int acc[NT][4];
#pragma unroll
    for (int t = 0; t < (int)NT; t++) acc[t][0] = acc[t][1] = acc[t][2] = acc[t][3] = 0;
    const uint32_t *sw0 = (const uint32_t *)sc0, *sw1 = (const uint32_t *)sc1;
    for (uint32_t i = ktiles; i < ktiles + vtiles; i++) {
        load(i + 1);
        asm volatile("cp.async.wait_group 1;\n" ::);
        __syncthreads();
        uint32_t jw = (i - ktiles) * 128 + 32 * warp;
        if (jw < n_max) { /* warp-uniform */
            /* uq of rows g (registers 0, 2) and g + 8 (1, 3) at positions jw + 4c + k (0, 1) and jw + 16 + 4c + k (2, 3). */
            unsigned ua[NB][4];
#pragma unroll
            for (int b = 0; b < NB; b++) ua[b][0] = ua[b][1] = ua[b][2] = ua[b][3] = 0;
#pragma unroll
            for (int half = 0; half < 2; half++)
#pragma unroll
                for (int k = 0; k < 4; k++) {
                    uint32_t j = jw + 16 * half + 4 * c + k;
                    if (j >= n_max) continue;
                    float dv[NB];
#pragma unroll
                    for (int b = 0; b < NB; b++) dv[b] = vd[(size_t)j * nbk + b];
#pragma unroll
                    for (int rr = 0; rr < 2; rr++) {
                        uint32_t r = g + 8 * rr;
                        if (j >= (rr ? n1 : n0)) continue;
                        float wf = __fmul_rn(__uint2float_rn((rr ? sw1 : sw0)[j]), 0x1p-30f);
#pragma unroll
                        for (int b = 0; b < NB; b++) {
                            float u = __fmul_rn(wf, dv[b]);
                            int rq = (int)d_round_even(__fmul_rn(u, s_inv[r][b]));
                            ua[b][rr + 2 * half] |= (unsigned)(rq < 255 ? rq : 255) << (8 * k);
                        }
                    }
                }
            const uint32_t *vt = (const uint32_t *)(smem + (size_t)(i & 1) * STAGE);
#pragma unroll
            for (int t = 0; t < (int)NT; t++) {
                const uint32_t *col = vt + (t * 8 + g) * AI_VROW + 8 * warp + c;
                mma_u8s8_acc(acc[t], ua[t / 4], col[0], col[4]);
            }
        }
        __syncthreads();
    }
    /* The warps' sums, added in the stages' area (free now), then out. */
    int *red = (int *)smem; /* [AM_ROWS][HD] */
    asm volatile("cp.async.wait_group 0;\n" ::); /* (the last group is empty) */
    for (unsigned i = tid; i < AM_ROWS * HD; i += AM_WARPS * 32) red[i] = 0;
    __syncthreads();
#pragma unroll
    for (int t = 0; t < (int)NT; t++) {
        atomicAdd(&red[g * HD + t * 8 + 2 * c], acc[t][0]), atomicAdd(&red[g * HD + t * 8 + 2 * c + 1], acc[t][1]);
        atomicAdd(&red[(g + 8) * HD + t * 8 + 2 * c], acc[t][2]);
        atomicAdd(&red[(g + 8) * HD + t * 8 + 2 * c + 1], acc[t][3]);
    }
    __syncthreads();
    for (unsigned i = tid; i < rows * HD; i += AM_WARPS * 32) {
        uint32_t r = i / HD, col = i % HD;
        unsigned long long wsum = s_wsum[r];
        float den = __fmul_rn(__ull2float_rn(wsum), 0x1p-30f);
        out[s_job[r] * HD + col] = wsum ? __fdiv_rn(__fmul_rn(__int2float_rn(red[i]), s_e[r][col / 32]), den) : 0.0f;
    }
}

/* The int8 attention kernels: k_attention_int8 (plain), k_attention_int8_tile
 * (tile, the default) and k_attention_int8_mma (mma); HLZ_CUDA_INT8=plain|
 * tile|mma picks one for comparisons. A kernel that cannot take a call's
 * groups (kv groups wider than a block, heads wider than the mma kernel's)
 * leaves it to the next simpler one. */
enum { INT8_PLAIN, INT8_TILE, INT8_MMA };
static int int8_kernel(void)
{
    static int kind = -1;
    if (kind < 0) {
        const char *v = getenv("HLZ_CUDA_INT8");
        kind = v && strcmp(v, "plain") == 0 ? INT8_PLAIN : v && strcmp(v, "mma") == 0 ? INT8_MMA : INT8_TILE;
    }
    return kind;
}

static bool int8_mma_fits(uint32_t per, uint32_t hd) { return per <= AM_ROWS && hd / HLZ_QBLOCK <= AM_MAX_NB; }

/* Tokens per block of int8 kernel `kind`: the heads of a kv group share one,
 * for up to AI_WARPS (AM_ROWS for mma) / (n_head / n_head_kv) tokens, at least one. */
static uint32_t attention_int8_tokens(int kind, uint32_t per, uint32_t hd)
{
    if (kind == INT8_MMA && int8_mma_fits(per, hd)) return AM_ROWS / per;
    return per >= AI_WARPS ? 1 : AI_WARPS / per;
}

/* One layer's int8 attention of n tokens in groups dgrp (their caches
 * already quantized), head_dim hd (a multiple of 32, at most
 * HLZ_INT8_CUDA_MAX_HEAD), by kernel `kind` (int8_kernel()). */
static void launch_attention_int8(int kind, const dev_place *dpl, const uint32_t *dgrp, size_t groups, uint32_t largest,
                                  const float *q, float *att, float *scratch, size_t stride, const uint64_t *weights,
                                  uint32_t n_head, uint32_t n_head_kv, uint32_t hd, uint32_t layer)
{
    if (groups == 0) return;
    uint32_t per = n_head / n_head_kv, jobs = largest * per;
    unsigned warps = jobs < AI_WARPS ? jobs : AI_WARPS;
    dim3 grid((unsigned)groups, n_head_kv);
    if (kind == INT8_MMA && !(int8_mma_fits(per, hd) && jobs <= AM_ROWS)) kind = INT8_TILE;
    if (kind == INT8_TILE && per > AI_WARPS) kind = INT8_PLAIN;
#define AI_LAUNCH(NB)                                                                                               \
    case NB:                                                                                                        \
        if (kind == INT8_MMA && NB <= AM_MAX_NB) {                                                                  \
            static bool attr;                                                                                       \
            if (!attr)                                                                                              \
                cudaFuncSetAttribute(k_attention_int8_mma<NB <= AM_MAX_NB ? NB : 1>,                                \
                                     cudaFuncAttributeMaxDynamicSharedMemorySize, (int)attention_int8_smem<NB>());  \
            attr = true;                                                                                            \
            k_attention_int8_mma<NB <= AM_MAX_NB ? NB : 1><<<grid, AM_WARPS * 32, attention_int8_smem<NB>()>>>(     \
                dpl, dgrp, q, att, scratch, stride, weights, n_head, n_head_kv, layer);                             \
        } else if (kind != INT8_PLAIN) {                                                                            \
            static bool attr;                                                                                       \
            if (!attr)                                                                                              \
                cudaFuncSetAttribute(k_attention_int8_tile<NB>, cudaFuncAttributeMaxDynamicSharedMemorySize,        \
                                     (int)attention_int8_smem<NB>());                                               \
            attr = true;                                                                                            \
            k_attention_int8_tile<NB><<<grid, warps * 32, attention_int8_smem<NB>()>>>(                             \
                dpl, dgrp, q, att, scratch, stride, weights, n_head, n_head_kv, layer);                             \
        } else {                                                                                                    \
            k_attention_int8<NB><<<grid, warps * 32>>>(dpl, dgrp, q, att, scratch, stride, weights, n_head,         \
                                                       n_head_kv, layer);                                           \
        }                                                                                                           \
        break
    switch (hd / HLZ_QBLOCK) {
        AI_LAUNCH(1); AI_LAUNCH(2); AI_LAUNCH(3); AI_LAUNCH(4); AI_LAUNCH(5); AI_LAUNCH(6); AI_LAUNCH(7); AI_LAUNCH(8);
    default: break; /* refused before (forward.c's eval_batch) */
    }
#undef AI_LAUNCH
}

/* The largest finite logit of a row (entropy.c's max, from -inf), by the
 * whole block; s_v is ST_THREADS floats of shared scratch. */
__device__ static float d_finite_max(const float *l, uint32_t nv, float *s_v)
{
    unsigned tid = threadIdx.x;
    float m2 = -__int_as_float(0x7f800000);
    for (uint32_t i = tid; i < nv; i += ST_THREADS) {
        float x = l[i];
        if (x == x && x != __int_as_float(0x7f800000) && x > m2) m2 = x;
    }
    s_v[tid] = m2;
    __syncthreads();
    for (unsigned off = ST_THREADS / 2; off > 0; off >>= 1) {
        if (tid < off && s_v[tid + off] > s_v[tid]) s_v[tid] = s_v[tid + off];
        __syncthreads();
    }
    m2 = s_v[0];
    __syncthreads();
    return m2;
}

/* "a before b" in a first-occurrence maximum: the larger value, or of equal
 * values the lower index; a missing entry (index UINT32_MAX) never wins. */
__device__ static bool first_max(float a, uint32_t ia, float b, uint32_t ib)
{
    if (ib == 0xffffffffu) return true;
    if (ia == 0xffffffffu) return false;
    return a > b || (!(b > a) && ia < ib);
}

/* One thread block per row. The values are the sequential loops' (order
 * does not matter for maxima of first occurrences, for integer sums and for
 * the per-element steps), except the sum of exponentials, which one thread
 * adds in order of i, as the CPU does. The row is overwritten with the
 * exponentials. */
/* Steps 2 of hlz_freq_from_logits for one block (ST_THREADS threads), given
 * the largest finite logit m2: the scale M = ((2^28 - nv) << 34) / W, and in
 * *best the first entry of the smallest step. The reduction's shape is fixed
 * (the sum is of integers, the tie-break by index), so the result is exact. */
__device__ static unsigned long long d_weight_scale(const float *l, uint32_t nv, float m2, const uint64_t *w,
                                                    unsigned long long *s_sum, uint32_t *s_i, uint32_t *s_k,
                                                    uint32_t *best)
{
    unsigned tid = threadIdx.x;
    unsigned long long total = 0;
    uint32_t bk = HLZ_LOGIT_KMAX + 1, bi = 0xffffffffu;
    for (uint32_t i = tid; i < nv; i += ST_THREADS) {
        uint32_t k = d_logit_step(l[i], m2);
        if (k < bk) bk = k, bi = i;
        if (k < HLZ_LOGIT_KMAX) total += w[k];
    }
    s_sum[tid] = total, s_i[tid] = bi, s_k[tid] = bk;
    __syncthreads();
    for (unsigned off = ST_THREADS / 2; off > 0; off >>= 1) {
        if (tid < off) {
            s_sum[tid] += s_sum[tid + off];
            uint32_t ok = s_k[tid + off], oi = s_i[tid + off];
            if (ok < s_k[tid] || (ok == s_k[tid] && oi < s_i[tid])) s_k[tid] = ok, s_i[tid] = oi;
        }
        __syncthreads();
    }
    total = s_sum[0];
    *best = s_i[0];
    __syncthreads();
    return total ? ((unsigned long long)(HLZ_FREQ_TOTAL - nv) << 34) / total : 0;
}

/* f_i of the table (entropy.c hlz_freq_from_logits): the entry's share of
 * the weights, plus what is left for the first most likely entry. */
__device__ static uint32_t d_freq_entry(const float *l, uint32_t i, float m2, const uint64_t *w,
                                        unsigned long long scale, uint32_t best, uint32_t extra)
{
    uint32_t k = d_logit_step(l[i], m2);
    unsigned long long wi = k < HLZ_LOGIT_KMAX ? w[k] : 0;
    return 1 + (uint32_t)((wi * scale) >> 34) + (i == best ? extra : 0);
}

/* The table's entries before the extra (d_freq_entry without it): their
 * sum (what the extra is 2^28 less), and in *cum the sum of those before
 * entry tok, by reductions of fixed shape (integers). */
__device__ static uint32_t d_table_sums(const float *l, uint32_t nv, float m2, const uint64_t *w,
                                        unsigned long long scale, uint32_t tok, uint32_t *s_used, uint32_t *s_cum,
                                        uint32_t *cum)
{
    unsigned tid = threadIdx.x;
    uint32_t used = 0, c = 0;
    for (uint32_t i = tid; i < nv; i += ST_THREADS) {
        uint32_t f = d_freq_entry(l, i, m2, w, scale, 0xffffffffu, 0);
        used += f;
        if (i < tok) c += f;
    }
    s_used[tid] = used, s_cum[tid] = c;
    __syncthreads();
    for (unsigned off = ST_THREADS / 2; off > 0; off >>= 1) {
        if (tid < off) s_used[tid] += s_used[tid + off], s_cum[tid] += s_cum[tid + off];
        __syncthreads();
    }
    used = s_used[0], *cum = s_cum[0];
    __syncthreads();
    return used;
}

/* What hlz_freq_exclude makes of the table (l, m2, scale, best, extra) with
 * the candidates cr[0..k-1] removed: g_i = 1 + ((f_i - 1) * scale2 >> 34)
 * for the others, 0 for the candidates, plus extra2 at entry b2 (none when
 * every entry is a candidate). */
typedef struct {
    unsigned long long scale2;
    uint32_t b2, extra2;
    uint32_t cum2; /* the sum of g_i before the token asked for */
} exclusion;

__device__ static bool is_candidate(uint32_t i, const int32_t *cr, uint32_t k)
{
    bool hit = false;
#pragma unroll
    for (uint32_t j = 0; j < HLZ_TABLE_CANDIDATES; j++) hit |= j < k && (uint32_t)cr[j] == i;
    return hit;
}

__device__ static uint32_t d_excluded_entry(const exclusion &x, uint32_t f)
{
    return 1 + (uint32_t)(((unsigned long long)(f - 1) * x.scale2) >> 34);
}

/* The exclusion, by the whole block: the candidates' frequencies into fc[]
 * (thread 0 writes them, 0 past k), then the excluded table's sums and its
 * first largest entry (of f_i, as hlz_freq_exclude picks it) by reductions
 * of fixed shape (integers, ties to the lower index). cum2 is the sum of
 * g_i before entry tok. Every thread returns the same figures. */
__device__ static exclusion d_exclusion(const float *l, uint32_t nv, float m2, const uint64_t *w,
                                        unsigned long long scale, uint32_t best, uint32_t extra, const int32_t *cr,
                                        uint32_t k, uint32_t tok, uint32_t *fc)
{
    __shared__ uint32_t s_f[ST_THREADS], s_b[ST_THREADS], s_used2[ST_THREADS], s_cum2[ST_THREADS];
    __shared__ unsigned long long s_scale2;
    unsigned tid = threadIdx.x;
    if (tid == 0) {
        unsigned long long removed = 0;
        for (uint32_t j = 0; j < HLZ_TABLE_CANDIDATES; j++) {
            uint32_t f = j < k ? d_freq_entry(l, (uint32_t)cr[j], m2, w, scale, best, extra) : 0;
            fc[j] = f;
            removed += f;
        }
        unsigned long long rest = HLZ_FREQ_TOTAL - removed - (nv - k), target = HLZ_FREQ_TOTAL - (nv - k);
        s_scale2 = rest ? (target << 34) / rest : 0;
    }
    __syncthreads();
    exclusion x;
    x.scale2 = s_scale2;
    uint32_t used = 0, cum = 0, bf = 0, bi = 0xffffffffu;
    for (uint32_t i = tid; i < nv; i += ST_THREADS) {
        if (is_candidate(i, cr, k)) continue;
        uint32_t f = d_freq_entry(l, i, m2, w, scale, best, extra);
        if (f > bf) bf = f, bi = i; /* i grows: the first of the largest */
        uint32_t g = d_excluded_entry(x, f);
        used += g;
        if (i < tok) cum += g;
    }
    s_f[tid] = bf, s_b[tid] = bi, s_used2[tid] = used, s_cum2[tid] = cum;
    __syncthreads();
    for (unsigned off = ST_THREADS / 2; off > 0; off >>= 1) {
        if (tid < off) {
            s_used2[tid] += s_used2[tid + off], s_cum2[tid] += s_cum2[tid + off];
            uint32_t of = s_f[tid + off], ob = s_b[tid + off];
            if (of > s_f[tid] || (of == s_f[tid] && ob < s_b[tid])) s_f[tid] = of, s_b[tid] = ob;
        }
        __syncthreads();
    }
    x.b2 = s_b[0], x.extra2 = HLZ_FREQ_TOTAL - s_used2[0], x.cum2 = s_cum2[0];
    __syncthreads();
    return x;
}

/* The hybrid encoder's figures of one row (entropy.c hlz_token_mix_from_logits):
 * the exclusion, then the token's interval in the excluded table. */
__device__ static void token_mix(const float *l, uint32_t nv, float m2, const uint64_t *w, unsigned long long scale,
                                 uint32_t best, uint32_t extra, int32_t tok, const int32_t *cand, hlz_token_mix *out)
{
    int32_t cr[HLZ_TABLE_CANDIDATES];
    uint32_t k = 0;
    for (int j = 0; j < HLZ_TABLE_CANDIDATES; j++) cr[j] = cand[j];
    while (k < HLZ_TABLE_CANDIDATES && cr[k] >= 0) k++;
    exclusion x = d_exclusion(l, nv, m2, w, scale, best, extra, cr, k, (uint32_t)tok, out->fc);
    if (threadIdx.x == 0) {
        if (is_candidate((uint32_t)tok, cr, k)) {
            out->cum = 0, out->freq = 0;
        } else {
            uint32_t f = d_freq_entry(l, (uint32_t)tok, m2, w, scale, best, extra);
            out->freq = d_excluded_entry(x, f) + (x.b2 == (uint32_t)tok ? x.extra2 : 0);
            out->cum = x.cum2 + (x.b2 < (uint32_t)tok ? x.extra2 : 0);
        }
    }
    __syncthreads();
}

__global__ static void __launch_bounds__(ST_THREADS)
k_token_stats(float *logits, uint32_t nv, const int32_t *next, const uint64_t *w, hlz_token_stats *out,
              const int32_t *cands, hlz_token_mix *mix)
{
    __shared__ float s_v[ST_THREADS], s_v2[ST_THREADS];
    __shared__ uint32_t s_i[ST_THREADS], s_i2[ST_THREADS];
    __shared__ unsigned long long s_sum[ST_THREADS];
    __shared__ uint32_t s_cum[ST_THREADS], s_used[ST_THREADS];
    size_t row = blockIdx.x;
    int32_t tok = next[row];
    if (tok < 0) return;
    float *l = logits + row * nv;
    unsigned tid = threadIdx.x;
    /* 1. m2: the largest finite logit (entropy.c's max, from -inf); m1: hlz_token_stats' max. */
    float m1 = 0.0f, m2 = -__int_as_float(0x7f800000);
    uint32_t i1 = 0xffffffffu;
    for (uint32_t i = tid; i < nv; i += ST_THREADS) {
        float x = l[i];
        if (x == x && x != __int_as_float(0x7f800000) && x > m2) m2 = x;
        if (x == x && first_max(x, i, m1, i1)) m1 = x, i1 = i;
    }
    s_v[tid] = m1, s_i[tid] = i1, s_v2[tid] = m2;
    __syncthreads();
    for (unsigned off = ST_THREADS / 2; off > 0; off >>= 1) {
        if (tid < off) {
            if (first_max(s_v[tid + off], s_i[tid + off], s_v[tid], s_i[tid])) s_v[tid] = s_v[tid + off], s_i[tid] = s_i[tid + off];
            if (s_v2[tid + off] > s_v2[tid]) s_v2[tid] = s_v2[tid + off];
        }
        __syncthreads();
    }
    float l0 = l[0];
    m1 = l0 != l0 ? l0 : s_v[0]; /* nothing is larger than a leading nan */
    m2 = s_v2[0];
    __syncthreads();
    /* 2. W = the sum of the weights; the first token of the smallest step. */
    uint32_t best;
    unsigned long long scale = d_weight_scale(l, nv, m2, w, s_sum, s_i, s_i2, &best);
    /* 3. f_i; the sum of all of them (so the extra) and of those before the token. */
    uint32_t cum, extra = HLZ_FREQ_TOTAL - d_table_sums(l, nv, m2, w, scale, (uint32_t)tok, s_used, s_cum, &cum);
    if (tid == 0) {
        out[row].freq = d_freq_entry(l, (uint32_t)tok, m2, w, scale, best, extra);
        out[row].cum = cum + (best < (uint32_t)tok ? extra : 0);
        out[row].max = m1;
        out[row].logit = l[tok];
    }
    __syncthreads();
    if (cands) token_mix(l, nv, m2, w, scale, best, extra, tok, cands + row * HLZ_TABLE_CANDIDATES, &mix[row]);
    /* 4. The exponentials (k_exp_sums adds them). */
    for (uint32_t i = tid; i < nv; i += ST_THREADS) l[i] = d_expf(__fsub_rn(l[i], m1));
}

/* The sum of each row's exponentials in order of i, in double, as the CPU
 * adds them: one thread per row (a sequential sum cannot be split), rows
 * read through a shared tile so that a warp's loads are coalesced. */
#define ES_ROWS 128
__global__ static void __launch_bounds__(ES_ROWS)
k_exp_sums(const float *expo, uint32_t nv, const int32_t *next, size_t n_rows, hlz_token_stats *out)
{
    __shared__ float tile[ES_ROWS / 32][32][33];
    unsigned lane = threadIdx.x % 32, warp = threadIdx.x / 32;
    size_t r0 = (size_t)blockIdx.x * ES_ROWS + (size_t)warp * 32, row = r0 + lane;
    double sum = 0;
    for (uint32_t c0 = 0; c0 < nv; c0 += 32) {
        for (unsigned j = 0; j < 32; j++) {
            size_t r = r0 + j;
            tile[warp][j][lane] = r < n_rows && c0 + lane < nv ? expo[r * nv + c0 + lane] : 0.0f;
        }
        __syncwarp();
        uint32_t m = nv - c0 < 32 ? nv - c0 : 32;
        for (uint32_t k = 0; k < m; k++) sum = __dadd_rn(sum, (double)tile[warp][lane][k]);
        __syncwarp();
    }
    if (row < n_rows && next[row] >= 0) out[row].sum = sum;
}

/* hlz_freq_find's search of a table for `slot`, by the whole block: the
 * table's entry i is f(i), plus the extra (2^28 less the sum of all f(i)) at
 * entry `best` (0xffffffff: no extra; the table is complete). Each thread
 * takes a contiguous run of entries, a scan of the runs' sums gives each
 * run's start, and since the cumulative frequencies only grow, the first
 * entry i < n - 1 with slot < cum_i + f_i over all runs is the one (else
 * the last entry). s_* are ST_THREADS entries of shared scratch each; the
 * result is thread 0's. */
template <class Entry>
__device__ static hlz_token_found d_find_slot(const Entry &f, uint32_t nv, uint32_t slot, uint32_t best, uint32_t *s_i,
                                              uint32_t *s_c, uint32_t *s_f)
{
    __shared__ uint32_t s_extra, s_all;
    unsigned tid = threadIdx.x;
    uint32_t run = (nv + ST_THREADS - 1) / ST_THREADS, r0 = tid * run < nv ? tid * run : nv;
    uint32_t r1 = r0 + run < nv ? r0 + run : nv, used = 0;
    for (uint32_t i = r0; i < r1; i++) used += f(i);
    s_f[tid] = used;
    __syncthreads();
    if (tid == 0) {
        uint32_t all = 0;
        for (unsigned t = 0; t < ST_THREADS; t++) {
            uint32_t u = s_f[t];
            s_f[t] = all; /* each run's start, before the extra */
            all += u;
        }
        s_all = all;
        s_extra = best < nv ? HLZ_FREQ_TOTAL - all : 0;
    }
    __syncthreads();
    uint32_t extra = s_extra, c = s_f[tid] + (best < r0 ? extra : 0), found = 0xffffffffu, fc = 0, ff = 0;
    for (uint32_t i = r0; i < r1 && i + 1 < nv; i++) {
        uint32_t fi = f(i) + (i == best ? extra : 0);
        if (slot < c + fi) {
            found = i, fc = c, ff = fi;
            break;
        }
        c += fi;
    }
    s_i[tid] = found, s_c[tid] = fc, s_f[tid] = ff;
    __syncthreads();
    hlz_token_found r = {0xffffffffu, 0, 0};
    if (tid == 0) {
        for (unsigned t = 0; t < ST_THREADS; t++)
            if (s_i[t] != 0xffffffffu) {
                r.token = s_i[t], r.cum = s_c[t], r.freq = s_f[t];
                break; /* the runs are in order of entries: the first found is the smallest */
            }
        if (r.token == 0xffffffffu) { /* the last entry: its cumulative frequency is the sum of all the others */
            uint32_t i = nv - 1;
            r.freq = f(i) + (i == best ? extra : 0);
            r.token = i, r.cum = s_all + extra - r.freq;
        }
    }
    __syncthreads();
    return r;
}

/* The entries of a row's table from its logits, before the extra. */
struct logit_entry {
    const float *l;
    float m2;
    const uint64_t *w;
    unsigned long long scale;
    __device__ uint32_t operator()(uint32_t i) const { return d_freq_entry(l, i, m2, w, scale, 0xffffffffu, 0); }
};

/* The entries of a table held whole (a kept table). */
struct table_entry {
    const uint32_t *t;
    __device__ uint32_t operator()(uint32_t i) const { return t[i]; }
};

/* The decoder's search of one row (entropy.c hlz_token_find_from_logits):
 * its table as k_token_stats makes it, searched for slot. */
__device__ static hlz_token_found token_find(const float *l, uint32_t nv, uint32_t slot, const uint64_t *w)
{
    __shared__ float s_v[ST_THREADS];
    __shared__ uint32_t s_i[ST_THREADS], s_k[ST_THREADS], s_used[ST_THREADS];
    __shared__ unsigned long long s_sum[ST_THREADS];
    float m2 = d_finite_max(l, nv, s_v);
    uint32_t best;
    unsigned long long scale = d_weight_scale(l, nv, m2, w, s_sum, s_i, s_k, &best);
    logit_entry f = {l, m2, w, scale};
    return d_find_slot(f, nv, slot, best, s_i, s_k, s_used);
}

/* found[j] for slots[j] in the table of row rows[j]. */
__global__ static void __launch_bounds__(ST_THREADS)
k_token_find(const float *logits, uint32_t nv, const uint32_t *rows, const uint32_t *slots, const uint64_t *w,
             hlz_token_found *out)
{
    hlz_token_found r = token_find(logits + (size_t)rows[blockIdx.x] * nv, nv, slots[blockIdx.x], w);
    if (threadIdx.x == 0) out[blockIdx.x] = r;
}

/* The hybrid decoder's first step (entropy.c hlz_token_guess_from_logits),
 * for sequence j, whose table is row rows[j]: without guesses (all of
 * cands[j] -1) the search for slots[j] into found[j], as k_token_find; with
 * them the table's frequency of each into fc[j], and the table without them
 * (hlz_freq_exclude, by d_exclusion's figures) into kept table j. */
__global__ static void __launch_bounds__(ST_THREADS)
k_token_guess(const float *logits, uint32_t nv, const uint32_t *rows, const int32_t *cands, const uint32_t *slots,
              const uint64_t *w, uint32_t *fc, hlz_token_found *found, uint32_t *kept)
{
    __shared__ float s_v[ST_THREADS];
    __shared__ uint32_t s_i[ST_THREADS], s_k[ST_THREADS];
    __shared__ unsigned long long s_sum[ST_THREADS];
    size_t j = blockIdx.x;
    const float *l = logits + (size_t)rows[j] * nv;
    unsigned tid = threadIdx.x;
    int32_t cr[HLZ_TABLE_CANDIDATES];
    uint32_t k = 0;
    for (int c = 0; c < HLZ_TABLE_CANDIDATES; c++) cr[c] = cands[j * HLZ_TABLE_CANDIDATES + c];
    while (k < HLZ_TABLE_CANDIDATES && cr[k] >= 0) k++;
    if (k == 0) { /* the same for every thread of the block */
        hlz_token_found r = token_find(l, nv, slots[j], w);
        if (tid == 0) {
            found[j] = r;
            for (int c = 0; c < HLZ_TABLE_CANDIDATES; c++) fc[j * HLZ_TABLE_CANDIDATES + c] = 0;
        }
        return;
    }
    float m2 = d_finite_max(l, nv, s_v);
    uint32_t best, cum;
    unsigned long long scale = d_weight_scale(l, nv, m2, w, s_sum, s_i, s_k, &best);
    uint32_t extra = HLZ_FREQ_TOTAL - d_table_sums(l, nv, m2, w, scale, 0, s_i, s_k, &cum);
    exclusion x = d_exclusion(l, nv, m2, w, scale, best, extra, cr, k, 0, fc + j * HLZ_TABLE_CANDIDATES);
    uint32_t *t = kept + j * nv;
    for (uint32_t i = tid; i < nv; i += ST_THREADS) {
        uint32_t g = 0;
        if (!is_candidate(i, cr, k))
            g = d_excluded_entry(x, d_freq_entry(l, i, m2, w, scale, best, extra)) + (i == x.b2 ? x.extra2 : 0);
        t[i] = g;
    }
}

/* The hybrid decoder's second step: found[j] for slots[j] in kept table seqs[j]. */
__global__ static void __launch_bounds__(ST_THREADS)
k_kept_find(const uint32_t *kept, uint32_t nv, const uint32_t *seqs, const uint32_t *slots, hlz_token_found *out)
{
    __shared__ uint32_t s_i[ST_THREADS], s_c[ST_THREADS], s_f[ST_THREADS];
    table_entry f = {kept + (size_t)seqs[blockIdx.x] * nv};
    hlz_token_found r = d_find_slot(f, nv, slots[blockIdx.x], 0xffffffffu, s_i, s_c, s_f);
    if (threadIdx.x == 0) out[blockIdx.x] = r;
}

/* ---- the model on the device ------------------------------------------------- */

typedef struct {
    const hlz_q8_0_block *blocks;  /* as on the host (the dp4a kernel) */
    uint64_t rows, cols_pad;
    const int8_t *q;               /* repacked for the tensor cores (k_repack) */
    const float *d;
} dev_matrix;

typedef struct {
    float *attn_norm, *ffn_norm, *bq, *bk, *bv;
    dev_matrix wq, wk, wv, wo, w_gate, w_up, w_down;
    dev_matrix qkv, gate_up; /* the planes of wq, wk, wv (w_gate, w_up) one after the other; theirs point in */
} dev_layer;

/* One evaluation in flight: its device workspace, its pinned host staging
 * (inputs, then results; grown as needed) and the events around its work. */
typedef struct {
    void *work;
    size_t work_size;
    char *host;
    size_t host_size;
    cudaEvent_t start, done;
    bool events, busy;
} eval_slot;
#define EVAL_SLOTS 2

struct hlz_cuda_model {
    dev_layer *layers;
    dev_matrix output;
    float *output_norm, *rope_cos, *rope_sin;
    uint64_t *logit_w;  /* hlz_logit_weights(), for the token statistics */
    float *embd;        /* the token embedding as floats (hlz_gguf_tensor_row's), or NULL: rows from the host */
    void **owned;
    size_t owned_count, owned_cap;
    /* The evaluations in flight, each with its own workspace; the mutex
     * orders the threads that share the model (one queues work at a time). */
    pthread_mutex_t lock;
    pthread_cond_t slot_free;
    eval_slot slot[EVAL_SLOTS];
    char name[256];
};

static hlz_status cuda_fail(hlz_error *e, cudaError_t err, const char *what)
{
    hlz_status st = err == cudaErrorMemoryAllocation ? HLZ_ERR_NOMEM : HLZ_ERR_UNSUPPORTED;
    cudaGetLastError(); /* clear a non-sticky error */
    return hlz_fail(e, st, "CUDA: %s: %s", what, cudaGetErrorString(err));
}

/* GPU memory that the model owns (freed with it). */
static hlz_status alloc_owned(hlz_cuda_model *g, size_t bytes, void **out, hlz_error *e)
{
    *out = NULL;
    if (g->owned_count == g->owned_cap) {
        size_t cap = g->owned_cap ? 2 * g->owned_cap : 64;
        void **grown = (void **)realloc(g->owned, cap * sizeof *grown);
        if (!grown) return hlz_fail(e, HLZ_ERR_NOMEM, "out of memory");
        g->owned = grown, g->owned_cap = cap;
    }
    void *p = NULL;
    cudaError_t err = cudaMalloc(&p, bytes ? bytes : 1);
    if (err != cudaSuccess) return cuda_fail(e, err, "uploading the model");
    g->owned[g->owned_count++] = p;
    *out = p;
    return HLZ_OK;
}

static hlz_status upload(hlz_cuda_model *g, const void *src, size_t bytes, void **out, hlz_error *e)
{
    *out = NULL;
    if (!src) return HLZ_OK;
    void *p;
    hlz_status st = alloc_owned(g, bytes, &p, e);
    if (st != HLZ_OK) return st;
    cudaError_t err = cudaMemcpy(p, src, bytes, cudaMemcpyHostToDevice);
    if (err != cudaSuccess) return cuda_fail(e, err, "uploading the model");
    *out = p;
    return HLZ_OK;
}

static unsigned grid_for(size_t n, unsigned threads) { return (unsigned)((n + threads - 1) / threads); }

static hlz_status upload_matrix(hlz_cuda_model *g, const hlz_matrix *m, dev_matrix *out, hlz_error *e)
{
    void *p, *q, *d;
    size_t blocks = m->rows * (m->cols_pad / HLZ_QBLOCK);
    out->rows = m->rows, out->cols_pad = m->cols_pad;
    hlz_status st = upload(g, m->blocks, blocks * sizeof(hlz_q8_0_block), &p, e);
    out->blocks = (const hlz_q8_0_block *)p;
    if (st == HLZ_OK) st = alloc_owned(g, blocks * HLZ_QBLOCK, &q, e);
    if (st == HLZ_OK) st = alloc_owned(g, blocks * sizeof(float), &d, e);
    if (st != HLZ_OK) return st;
    if (blocks) k_repack<<<grid_for(blocks, 256), 256>>>(out->blocks, blocks, (int8_t *)q, (float *)d);
    cudaError_t err = cudaGetLastError();
    if (err != cudaSuccess) return cuda_fail(e, err, "repacking the model");
    out->q = (const int8_t *)q, out->d = (const float *)d;
    return HLZ_OK;
}

/* Matrices of one input uploaded with their planes one after the other in
 * `joined` (one launch multiplies them all); each part's q and d point into
 * it. Without a common width they are uploaded alone (joined stays empty). */
static hlz_status upload_joined(hlz_cuda_model *g, const hlz_matrix *const *ms, dev_matrix *const *outs, int count,
                                dev_matrix *joined, hlz_error *e)
{
    uint64_t rows = 0;
    bool same = true;
    for (int i = 0; i < count; i++) rows += ms[i]->rows, same = same && ms[i]->cols_pad == ms[0]->cols_pad;
    if (!same) {
        for (int i = 0; i < count; i++) {
            hlz_status st = upload_matrix(g, ms[i], outs[i], e);
            if (st != HLZ_OK) return st;
        }
        return HLZ_OK;
    }
    uint64_t nb = ms[0]->cols_pad / HLZ_QBLOCK;
    void *q, *d;
    hlz_status st = alloc_owned(g, rows * nb * HLZ_QBLOCK, &q, e);
    if (st == HLZ_OK) st = alloc_owned(g, rows * nb * sizeof(float), &d, e);
    uint64_t at = 0;
    for (int i = 0; i < count && st == HLZ_OK; i++) {
        const hlz_matrix *m = ms[i];
        dev_matrix *out = outs[i];
        void *p;
        size_t blocks = m->rows * nb;
        out->rows = m->rows, out->cols_pad = m->cols_pad;
        st = upload(g, m->blocks, blocks * sizeof(hlz_q8_0_block), &p, e);
        if (st != HLZ_OK) break;
        out->blocks = (const hlz_q8_0_block *)p;
        out->q = (const int8_t *)q + at * nb * HLZ_QBLOCK, out->d = (const float *)d + at * nb;
        if (blocks) k_repack<<<grid_for(blocks, 256), 256>>>(out->blocks, blocks, (int8_t *)out->q, (float *)out->d);
        cudaError_t err = cudaGetLastError();
        if (err != cudaSuccess) return cuda_fail(e, err, "repacking the model");
        at += m->rows;
    }
    if (st != HLZ_OK) return st;
    joined->rows = rows, joined->cols_pad = ms[0]->cols_pad, joined->blocks = NULL;
    joined->q = (const int8_t *)q, joined->d = (const float *)d;
    return HLZ_OK;
}

static hlz_status upload_vec(hlz_cuda_model *g, const float *v, size_t n, float **out, hlz_error *e)
{
    void *p;
    hlz_status st = upload(g, v, n * sizeof(float), &p, e);
    *out = (float *)p;
    return st;
}

extern "C" int hlz_cuda_device_count(void)
{
    int n = 0;
    if (cudaGetDeviceCount(&n) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    return n;
}

extern "C" size_t hlz_cuda_free_memory(void)
{
    size_t free_bytes = 0, total = 0;
    if (cudaMemGetInfo(&free_bytes, &total) != cudaSuccess) {
        cudaGetLastError();
        return 0;
    }
    return free_bytes;
}

extern "C" void hlz_cuda_model_free(hlz_model *m)
{
    hlz_cuda_model *g = m->cuda;
    if (!g) return;
    for (size_t i = 0; i < g->owned_count; i++) cudaFree(g->owned[i]);
    for (int i = 0; i < EVAL_SLOTS; i++) {
        eval_slot *s = &g->slot[i];
        cudaFree(s->work), cudaFreeHost(s->host);
        if (s->events) cudaEventDestroy(s->start), cudaEventDestroy(s->done);
    }
    free(g->owned);
    free(g->layers);
    pthread_mutex_destroy(&g->lock);
    pthread_cond_destroy(&g->slot_free);
    free(g);
    m->cuda = NULL;
    m->device_name = "cpu";
}

extern "C" hlz_status hlz_cuda_model_init(hlz_model *m, hlz_error *e)
{
    if (m->cuda) return HLZ_OK;
    if (hlz_cuda_device_count() < 1) return hlz_fail(e, HLZ_ERR_UNSUPPORTED, "no CUDA GPU is available");
    const hlz_model_config *c = &m->config;
    hlz_cuda_model *g = (hlz_cuda_model *)calloc(1, sizeof *g);
    if (!g) return hlz_fail(e, HLZ_ERR_NOMEM, "out of memory");
    g->layers = (dev_layer *)calloc(c->n_layer, sizeof *g->layers);
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->slot_free, NULL);
    m->cuda = g;
    if (!g->layers) {
        hlz_cuda_model_free(m);
        return hlz_fail(e, HLZ_ERR_NOMEM, "out of memory");
    }
    cudaDeviceProp prop;
    cudaError_t err = cudaGetDeviceProperties(&prop, 0);
    snprintf(g->name, sizeof g->name, "%s", err == cudaSuccess ? prop.name : "CUDA GPU");
    size_t q_dim = (size_t)c->n_head * c->head_dim, kv_dim = (size_t)c->n_head_kv * c->head_dim;
    size_t half = c->head_dim / 2;
    hlz_status st = HLZ_OK;
    for (uint32_t l = 0; l < c->n_layer && st == HLZ_OK; l++) {
        const hlz_layer *w = &m->layers[l];
        dev_layer *d = &g->layers[l];
        if (!st) st = upload_vec(g, w->attn_norm, c->n_embd, &d->attn_norm, e);
        if (!st) st = upload_vec(g, w->ffn_norm, c->n_embd, &d->ffn_norm, e);
        if (!st) st = upload_vec(g, w->bq, q_dim, &d->bq, e);
        if (!st) st = upload_vec(g, w->bk, kv_dim, &d->bk, e);
        if (!st) st = upload_vec(g, w->bv, kv_dim, &d->bv, e);
        const hlz_matrix *qkv[] = {&w->wq, &w->wk, &w->wv}, *gate_up[] = {&w->w_gate, &w->w_up};
        dev_matrix *dqkv[] = {&d->wq, &d->wk, &d->wv}, *dgate_up[] = {&d->w_gate, &d->w_up};
        if (!st) st = upload_joined(g, qkv, dqkv, 3, &d->qkv, e);
        if (!st) st = upload_matrix(g, &w->wo, &d->wo, e);
        if (!st) st = upload_joined(g, gate_up, dgate_up, 2, &d->gate_up, e);
        if (!st) st = upload_matrix(g, &w->w_down, &d->w_down, e);
    }
    if (!st) st = upload_vec(g, m->output_norm, c->n_embd, &g->output_norm, e);
    if (!st) st = upload_matrix(g, &m->output, &g->output, e);
    if (!st) st = upload_vec(g, m->rope_cos, (size_t)c->n_ctx * half, &g->rope_cos, e);
    if (!st) st = upload_vec(g, m->rope_sin, (size_t)c->n_ctx * half, &g->rope_sin, e);
    /* The embedding as floats on the device when it takes at most 1 GiB
     * (one row per token then needs no work on the host). */
    size_t embd_bytes = (size_t)c->n_vocab * c->n_embd * sizeof(float);
    if (!st && m->token_embd->n_rows == c->n_vocab && embd_bytes <= ((size_t)1 << 30)) {
        float *host = (float *)malloc(embd_bytes);
        for (uint32_t r = 0; host && r < c->n_vocab && !st; r++)
            st = hlz_gguf_tensor_row(m->token_embd, r, host + (size_t)r * c->n_embd, e);
        void *p = NULL;
        if (host && !st) st = upload(g, host, embd_bytes, &p, e);
        g->embd = (float *)p;
        free(host);
    }
    void *lw;
    if (!st) st = upload(g, hlz_logit_weights(), HLZ_LOGIT_KMAX * sizeof(uint64_t), &lw, e);
    if (!st) g->logit_w = (uint64_t *)lw;
    if (st) {
        hlz_cuda_model_free(m);
        return st;
    }
    m->device_name = g->name;
    return HLZ_OK;
}

extern "C" hlz_status hlz_cuda_session_alloc(const hlz_model *m, hlz_session *s, hlz_error *e)
{
    const hlz_model_config *c = &m->config;
    size_t per = (size_t)c->n_layer * s->n_ctx * c->n_head_kv * c->head_dim * sizeof(float);
    cudaError_t err = cudaMalloc((void **)&s->k, per);
    if (err == cudaSuccess) err = cudaMalloc((void **)&s->v, per);
    if (err != cudaSuccess) {
        cudaFree(s->k);
        s->k = s->v = NULL;
        return cuda_fail(e, err, "allocating a key/value cache");
    }
    s->on_device = true;
    return HLZ_OK;
}

extern "C" void hlz_cuda_session_free(hlz_session *s)
{
    cudaFree(s->k), cudaFree(s->v), cudaFree(s->k8), cudaFree(s->v8), cudaFree(s->kd), cudaFree(s->vd);
    s->k = s->v = s->kd = s->vd = NULL;
    s->k8 = s->v8 = NULL;
}

/* The int8 caches of a session (hlz_session's k8 ... vd), on its first
 * int8 evaluation or copy. */
static hlz_status session_int8_caches(const hlz_model_config *c, hlz_session *s, hlz_error *e)
{
    if (s->k8) return HLZ_OK;
    size_t kv_dim = (size_t)c->n_head_kv * c->head_dim, per = (size_t)c->n_layer * s->n_ctx * kv_dim;
    cudaError_t err = cudaMalloc((void **)&s->k8, per);
    if (err == cudaSuccess) err = cudaMalloc((void **)&s->v8, (size_t)c->n_layer * kv_dim * v8_pitch(s->n_ctx));
    if (err == cudaSuccess) err = cudaMalloc((void **)&s->kd, per / HLZ_QBLOCK * sizeof(float));
    if (err == cudaSuccess) err = cudaMalloc((void **)&s->vd, per / HLZ_QBLOCK * sizeof(float));
    if (err != cudaSuccess) {
        cudaFree(s->k8), cudaFree(s->v8), cudaFree(s->kd), cudaFree(s->vd);
        s->k8 = s->v8 = NULL;
        s->kd = s->vd = NULL;
        return cuda_fail(e, err, "allocating an int8 key/value cache");
    }
    return HLZ_OK;
}

/* The copies are queued on the stream every evaluation uses, so they
 * are ordered before dst's next evaluation without blocking the caller
 * (a synchronous copy waits for all the GPU's queued work, the other
 * threads' included). */
extern "C" hlz_status hlz_cuda_session_copy(const hlz_model *m, hlz_session *dst, const hlz_session *src,
                                            hlz_error *e)
{
    const hlz_model_config *c = &m->config;
    size_t r8 = (size_t)c->n_head_kv * c->head_dim, row = r8 * sizeof(float), rd = r8 / HLZ_QBLOCK * sizeof(float);
    const cudaMemcpyKind dd = cudaMemcpyDeviceToDevice;
    dst->n_past = 0;
    if (src->n_past == 0) return HLZ_OK;
    size_t np = src->n_past, layers = c->n_layer;
    cudaError_t err = cudaMemcpy2DAsync(dst->k, dst->n_ctx * row, src->k, src->n_ctx * row, np * row, layers, dd, 0);
    if (err == cudaSuccess)
        err = cudaMemcpy2DAsync(dst->v, dst->n_ctx * row, src->v, src->n_ctx * row, np * row, layers, dd, 0);
    if (err == cudaSuccess && src->k8) { /* the int8 caches, when the source has them */
        hlz_status st = session_int8_caches(c, dst, e);
        if (st != HLZ_OK) return st;
        err = cudaMemcpy2DAsync(dst->k8, dst->n_ctx * r8, src->k8, src->n_ctx * r8, np * r8, layers, dd, 0);
        if (err == cudaSuccess) /* transposed: n_past bytes of each (layer, column) */
            err = cudaMemcpy2DAsync(dst->v8, v8_pitch(dst->n_ctx), src->v8, v8_pitch(src->n_ctx), np, layers * r8, dd, 0);
        if (err == cudaSuccess)
            err = cudaMemcpy2DAsync(dst->kd, dst->n_ctx * rd, src->kd, src->n_ctx * rd, np * rd, layers, dd, 0);
        if (err == cudaSuccess)
            err = cudaMemcpy2DAsync(dst->vd, dst->n_ctx * rd, src->vd, src->n_ctx * rd, np * rd, layers, dd, 0);
    }
    if (err != cudaSuccess) return cuda_fail(e, err, "copying a key/value cache");
    dst->n_past = src->n_past;
    return HLZ_OK;
}

/* ---- the pass ---------------------------------------------------------------- */

/* Where the evaluation time goes, for benchmarks: HLZ_CUDA_STATS=1 prints
 * the sums at exit (stderr). Nanoseconds: lock-wait is the wait for the
 * lock and a free slot; queue the host's time under the lock: staging the
 * inputs (workspace growth included), queueing the uploads (the two are
 * also shown alone), then the kernels and downloads; gpu the time between
 * the events around a call's work on the GPU; results-copy the host's
 * copies of the results (and of logits, when a call returns them). */
static struct {
    unsigned long long calls, tokens, logit_bytes, wait_ns, prepare_ns, stage_ns, upload_ns, kernel_ns, copy_ns;
} timing;

static unsigned long long now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000000000ull + (unsigned long long)ts.tv_nsec;
}

__attribute__((destructor)) static void print_stats(void)
{
    const char *v = getenv("HLZ_CUDA_STATS");
    if (!v || !*v || strcmp(v, "0") == 0 || timing.calls == 0) return;
    fprintf(stderr,
            "hlz-cuda-stats: calls %llu tokens %llu (%.1f per call) lock-wait %.3f s queue %.3f s (staging %.3f s, "
            "uploads %.3f s) gpu %.3f s results-copy %.3f s (%.1f MB)\n",
            timing.calls, timing.tokens, (double)timing.tokens / (double)timing.calls, timing.wait_ns * 1e-9,
            timing.prepare_ns * 1e-9, timing.stage_ns * 1e-9, timing.upload_ns * 1e-9, timing.kernel_ns * 1e-9,
            timing.copy_ns * 1e-9, timing.logit_bytes / 1e6);
}

/* HLZ_CUDA_PROFILE=1: the kernels' time by kind (CUDA events between the
 * launches of each kind; the sums print at exit beside the stats). */
enum { P_NORM, P_MATMUL, P_ROPE, P_ATTENTION, P_ELEMENTWISE, P_OUTPUT, P_TABLES, P_END, P_KINDS };
static const char *const prof_names[P_KINDS] = {"norm+quantize", "matmul", "rope+kv", "attention", "add+silu",
                                                "output matmul", "tables", "-"};
#define PROF_EVENTS 1024
static struct {
    int on, n;
    cudaEvent_t ev[PROF_EVENTS];
    int kind[PROF_EVENTS];
    double ms[P_KINDS];
} prof;

static bool prof_enabled(void)
{
    if (prof.on == 0) {
        const char *v = getenv("HLZ_CUDA_PROFILE");
        prof.on = v && *v && strcmp(v, "0") != 0 ? 1 : -1;
        for (int i = 0; prof.on > 0 && i < PROF_EVENTS; i++) cudaEventCreate(&prof.ev[i]);
    }
    return prof.on > 0;
}

static void prof_mark(int kind)
{
    if (!prof_enabled() || prof.n >= PROF_EVENTS) return;
    cudaEventRecord(prof.ev[prof.n], 0);
    prof.kind[prof.n++] = kind;
}

/* After the synchronization: adds up the intervals of this call. */
static void prof_collect(void)
{
    for (int i = 0; prof.on > 0 && i + 1 < prof.n; i++) {
        float ms = 0;
        if (cudaEventElapsedTime(&ms, prof.ev[i], prof.ev[i + 1]) == cudaSuccess) prof.ms[prof.kind[i]] += ms;
    }
    prof.n = 0;
}

__attribute__((destructor)) static void print_prof(void)
{
    if (prof.on <= 0) return;
    fprintf(stderr, "hlz-cuda-profile:");
    for (int k = 0; k < P_END; k++) fprintf(stderr, " %s %.3f s", prof_names[k], prof.ms[k] * 1e-3);
    fprintf(stderr, "\n");
}

/* The matrix-product kernels: 0 dp4a, 1 mma, 2 tiled, 3 pipe (the
 * default). HLZ_CUDA_MATMUL=dp4a|mma|tiled|pipe picks one (for
 * comparisons); all give the same bits. */
static int matmul_kind(void)
{
    static int kind = -1;
    if (kind < 0) {
        const char *v = getenv("HLZ_CUDA_MATMUL");
        kind = !v ? 3 : strcmp(v, "dp4a") == 0 ? 0 : strcmp(v, "mma") == 0 ? 1 : strcmp(v, "tiled") == 0 ? 2 : 3;
    }
    return kind;
}

/* Quantized activations on the device: hlz_q8_block's, or the planes of the
 * pipelined kernel (32 int8 per block, then the scales). */
typedef struct {
    hlz_q8_block *blocks;
    int8_t *q;
    float *d;
} dev_act;

/* The pipelined kernel over `rows` rows of planes q/d, outputs as o says. */
static void launch_pipe(const int8_t *q, const float *d, uint64_t rows, uint64_t nb, const dev_act *x, size_t n,
                        const out_parts &o)
{
    /* Blocks of 128 tokens, unless that gives fewer than 2 blocks per SM
     * (a decoding step): then blocks of 32. */
    unsigned row_blocks = (unsigned)((rows + PP_BM - 1) / PP_BM);
    if ((size_t)row_blocks * ((n + 127) / 128) >= 264)
        k_matmul_pipe<8><<<dim3(row_blocks, (unsigned)((n + 127) / 128)), 128>>>(q, d, rows, nb, x->q, x->d, n, o);
    else
        k_matmul_pipe<2><<<dim3(row_blocks, (unsigned)((n + 31) / 32)), 128>>>(q, d, rows, nb, x->q, x->d, n, o);
}

static void launch_matmul_kind(int kind, const dev_matrix *w, const dev_act *x, size_t n, float *out)
{
    uint64_t nb = w->cols_pad / HLZ_QBLOCK;
    if (n == 0 || w->rows == 0) return;
    if (kind == 3 && w->q && x->q) {
        out_parts o = {out, out, out, w->rows, w->rows, w->rows};
        launch_pipe(w->q, w->d, w->rows, nb, x, n, o);
    } else if (kind == 2 && w->q) {
        dim3 grid((unsigned)((w->rows + 63) / 64), (unsigned)((n + 63) / 64));
        k_matmul_tiled<<<grid, 128>>>(w->q, w->d, w->rows, nb, x->blocks, n, out);
    } else if (kind == 1 && w->q) {
        /* Few tokens (a decoding step): one warp per block, so that the rows
         * spread over more of the GPU; the outputs are the same. */
        unsigned warps = n <= 64 ? 1 : MMA_WARPS;
        dim3 grid((unsigned)((w->rows + 16 * warps - 1) / (16 * warps)), (unsigned)((n + 8 * MMA_NT - 1) / (8 * MMA_NT)));
        k_matmul_mma<<<grid, warps * 32>>>(w->q, w->d, w->rows, nb, x->blocks, n, out);
    } else {
        dim3 grid((unsigned)((w->rows + MM_TILE - 1) / MM_TILE), (unsigned)((n + MM_TILE - 1) / MM_TILE));
        k_matmul<<<grid, MM_TILE * MM_TILE>>>(w->blocks, w->rows, nb, x->blocks, n, out);
    }
}

static void launch_matmul(const dev_matrix *w, const dev_act *x, size_t n, float *out)
{
    launch_matmul_kind(matmul_kind(), w, x, n, out);
}

/* Two or three matrices of one input (parts, whose planes lie one after the
 * other in `joined`): one launch of the pipelined kernel, or one each. */
static void launch_matmul_joined(const dev_matrix *joined, const dev_matrix *const *parts, float *const *outs, int count,
                                 const dev_act *x, size_t n)
{
    if (n == 0) return;
    if (matmul_kind() == 3 && joined->q && x->q) {
        uint64_t e0 = parts[0]->rows, e1 = e0 + parts[1]->rows, e2 = count > 2 ? e1 + parts[2]->rows : e1;
        out_parts o = {outs[0], outs[1], count > 2 ? outs[2] : outs[1], e0, e1, e2};
        launch_pipe(joined->q, joined->d, joined->rows, joined->cols_pad / HLZ_QBLOCK, x, n, o);
        return;
    }
    for (int i = 0; i < count; i++) launch_matmul(parts[i], x, n, outs[i]);
}

/* Quantizes n rows of `cols` into whichever layout x has: a warp per block
 * of 32 (k_quantize_warp), whose loads are whole lines. */
static void launch_quantize(const float *x, size_t n, uint64_t cols, const dev_act *q)
{
    uint64_t blocks = hlz_pad32(cols) / HLZ_QBLOCK;
    if (n) k_quantize_warp<<<grid_for(n * blocks, 4), 128>>>(x, n * blocks, cols, blocks, q->blocks, q->q, q->d);
}

/* x = x + r (r may be NULL), then rmsnorm and quantization: 4 tokens a block, a warp each. */
static void launch_rmsnorm_quantize(float *x, const float *r, const float *w, size_t n, uint32_t dim, float eps,
                                    const dev_act *q)
{
    if (n)
        k_rmsnorm_quantize<<<grid_for(n, 4), 128>>>(x, r, n, w, dim, eps, hlz_pad32(dim) / HLZ_QBLOCK, q->blocks, q->q,
                                                    q->d);
}

/* silu(gate) * up, quantized: a warp per block of 32. */
static void launch_silu_quantize(const float *gate, const float *up, size_t n, uint64_t cols, const dev_act *q)
{
    uint64_t blocks = hlz_pad32(cols) / HLZ_QBLOCK;
    if (n) k_silu_quantize<<<grid_for(n * blocks, 4), 128>>>(gate, up, n * blocks, cols, blocks, q->blocks, q->q, q->d);
}

static unsigned attention_threads(uint32_t hd)
{
    unsigned t = (hd + 31) / 32 * 32;
    return t < 128 ? 128 : t;
}

/* The attention kernels for head_dim 64: 0 warp (k_attention_w64, one warp
 * per (token, head)), 1 tile (k_attention_tile, the default).
 * HLZ_CUDA_ATTENTION=warp|tile picks one (for comparisons); both give the
 * same bits. HLZ_CUDA_ATTENTION_TOKENS=N (for measurements) caps the tokens
 * of a tile block (default AT_WARPS / (n_head / n_head_kv)). */
static int attention_kind(void)
{
    static int kind = -1;
    if (kind < 0) {
        const char *v = getenv("HLZ_CUDA_ATTENTION");
        kind = v && strcmp(v, "warp") == 0 ? 0 : 1;
    }
    return kind;
}

static uint32_t attention_tokens(uint32_t per)
{
    static long cap = -1;
    if (cap < 0) {
        const char *v = getenv("HLZ_CUDA_ATTENTION_TOKENS");
        cap = v ? strtol(v, NULL, 10) : 0;
        cap = cap < 0 ? 0 : cap;
    }
    uint32_t most = AT_WARPS / per;
    return cap > 0 && (uint32_t)cap < most ? (uint32_t)cap : most;
}

/* Whether k_attention_tile runs this shape: head_dim 64 and a kv group that fits a block. */
static bool attention_tiled(int kind, uint32_t hd, uint32_t n_head, uint32_t n_head_kv)
{
    return kind == 1 && hd == 64 && n_head / n_head_kv <= AT_WARPS;
}

/* The groups of k_attention_tile: runs of at most `most` tokens that are
 * consecutive in the batch, of one sequence (the same caches) and at
 * consecutive positions. grp[0 .. groups] gets the first token of each and
 * then n; returns the number of groups, *largest the size of the largest. */
static size_t attention_groups(const dev_place *pl, size_t n, uint32_t most, uint32_t *grp, uint32_t *largest)
{
    size_t groups = 0;
    *largest = 0;
    for (size_t t = 0; t < n; t++) {
        if (t == 0 || t - grp[groups - 1] >= most || pl[t].k != pl[t - 1].k || pl[t].v != pl[t - 1].v ||
            pl[t].n_ctx != pl[t - 1].n_ctx || pl[t].pos != pl[t - 1].pos + 1) {
            if (groups) *largest = t - grp[groups - 1] > *largest ? (uint32_t)(t - grp[groups - 1]) : *largest;
            grp[groups++] = (uint32_t)t;
        }
    }
    if (groups) *largest = n - grp[groups - 1] > *largest ? (uint32_t)(n - grp[groups - 1]) : *largest;
    grp[groups] = (uint32_t)n;
    return groups;
}

/* One layer's attention of n tokens (the caches already hold their keys and
 * values): k_attention_tile over the groups in dgrp when attention_tiled,
 * else k_attention_w64 (head_dim 64) or k_attention. scratch holds
 * n * n_head * stride floats, stride >= the longest n. */
static void launch_attention(int kind, const dev_place *dpl, const uint32_t *dgrp, size_t groups, uint32_t largest,
                             const float *q, float *att, float *scratch, size_t stride, size_t n, uint32_t n_head,
                             uint32_t n_head_kv, uint32_t hd, uint32_t layer)
{
    size_t jobs = n * n_head;
    if (n == 0) return;
    if (attention_tiled(kind, hd, n_head, n_head_kv) && groups) {
        static bool attr;
        if (!attr) cudaFuncSetAttribute(k_attention_tile, cudaFuncAttributeMaxDynamicSharedMemorySize, AT_SMEM_SCORES);
        attr = true;
        unsigned warps = largest * (n_head / n_head_kv);
        size_t sstride = (stride + 31) / 32 * 32;
        if ((size_t)warps * sstride * 4 > AT_SMEM_SCORES) sstride = 0;
        k_attention_tile<<<dim3((unsigned)groups, n_head_kv), warps * 32, (size_t)warps * sstride * 4>>>(
            dpl, dgrp, q, att, scratch, stride, (uint32_t)sstride, n_head, n_head_kv, layer);
    } else if (hd == 64) {
        k_attention_w64<<<(unsigned)((jobs + AW_WARPS - 1) / AW_WARPS), AW_WARPS * 32>>>(dpl, q, att, scratch, stride,
                                                                                        jobs, n_head, n_head_kv, layer);
    } else {
        k_attention<<<(unsigned)jobs, attention_threads(hd)>>>(dpl, q, att, scratch, stride, n_head, n_head_kv, hd,
                                                              layer);
    }
}

/* Carves the workspace into aligned pieces. */
static void *carve(char **at, size_t bytes)
{
    void *p = *at;
    *at += (bytes + 255) / 256 * 256;
    return p;
}

/* The hybrid decoder's part of a search (hlz_cuda_forward_guess). */
typedef struct {
    const int32_t *cands; /* HLZ_TABLE_CANDIDATES per searched sequence */
    uint32_t *fc;         /* out, as many */
    hlz_kept_tables *kept;
} guess_args;

/* The kept tables and their search's room for `rows` sequences (under the lock). */
static hlz_status kept_reserve(hlz_kept_tables *k, size_t rows, uint32_t nv, hlz_error *e)
{
    if (k->rows >= rows) return HLZ_OK;
    hlz_cuda_kept_free(k);
    cudaError_t err = cudaMalloc(&k->tables, rows * nv * sizeof(uint32_t));
    if (err == cudaSuccess) err = cudaMalloc(&k->io, rows * (8 + sizeof(hlz_token_found)));
    if (err != cudaSuccess) {
        hlz_cuda_kept_free(k);
        return cuda_fail(e, err, "allocating the kept tables");
    }
    k->rows = rows;
    return HLZ_OK;
}

/* One evaluation's arguments, as forward_any's callers give them. */
typedef struct {
    const hlz_token_place *place;
    const int32_t *tokens;
    size_t n;
    float *out;               /* the logits, to the host (or NULL) */
    const int32_t *next;      /* token statistics: the token after each row ... */
    hlz_token_stats *stats;   /* ... and each row's statistics (or NULL) */
    const int32_t *cands;     /* the hybrid encoder's guesses per row (or NULL) ... */
    hlz_token_mix *mix;       /* ... and their figures */
    const uint32_t *rows, *slots;
    size_t n_find;            /* token searches: rows[k] is searched at slots[k] ... */
    hlz_token_found *found;   /* ... and found[k] is what it finds */
    const guess_args *guess;  /* the hybrid decoder's guesses of the searched rows (or NULL) */
} eval_args;

/* Pinned staging of one evaluation: its inputs, then its results, each
 * piece 256-byte aligned. */
typedef struct {
    int32_t *tokens;
    float *rows_x;            /* embedding rows when the table is not on the device */
    dev_place *place;
    uint32_t *pos;            /* positions, then the attention groups */
    int32_t *next, *cands, *gcands;
    uint32_t *rows, *slots;
    hlz_token_stats *stats;   /* results from here on */
    hlz_token_mix *mix;
    hlz_token_found *found;
    uint32_t *fc;
} host_stage;

static size_t stage_layout(const hlz_model_config *c, const eval_args *a, bool embd, char *base, host_stage *h)
{
    enum { G = HLZ_TABLE_CANDIDATES };
    size_t n = a->n, nf = a->found ? a->n_find : 0;
    size_t sizes[] = {embd ? n * 4 : 0, embd ? 0 : n * c->n_embd * 4, n * sizeof(dev_place), (2 * n + 1) * 4,
                      a->stats ? n * 4 : 0, a->cands ? n * G * 4 : 0, a->guess ? nf * G * 4 : 0, nf * 4, nf * 4,
                      a->stats ? n * sizeof(hlz_token_stats) : 0, a->cands ? n * sizeof(hlz_token_mix) : 0,
                      nf * sizeof(hlz_token_found), a->guess ? nf * G * 4 : 0};
    void **ptrs[] = {(void **)&h->tokens, (void **)&h->rows_x, (void **)&h->place, (void **)&h->pos,
                     (void **)&h->next, (void **)&h->cands, (void **)&h->gcands, (void **)&h->rows,
                     (void **)&h->slots, (void **)&h->stats, (void **)&h->mix, (void **)&h->found, (void **)&h->fc};
    size_t at = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        *ptrs[i] = base ? base + at : NULL;
        at += (sizes[i] + 255) / 256 * 256;
    }
    return at;
}

/* Queues one evaluation on the GPU in slot s (under the lock): the inputs
 * through s's pinned staging, the kernels, the results back into the
 * staging; s->done is recorded after them. The logits (a->out) are copied
 * to the caller synchronously. */
static hlz_status forward_enqueue(hlz_model *m, hlz_cuda_model *g, eval_slot *s, const eval_args *a, hlz_error *e)
{
    const hlz_token_place *place = a->place;
    size_t n = a->n, n_find = a->found ? a->n_find : 0;
    const guess_args *guess = a->guess;
    bool want = a->out || a->stats || a->found; /* the logits, on the device */
    const hlz_model_config *c = &m->config;
    unsigned long long t_stage = now_ns();
    uint32_t dim = c->n_embd, hd = c->head_dim, longest = 0;
    for (size_t t = 0; t < n; t++) longest = place[t].pos + 1 > longest ? place[t].pos + 1 : longest;
    size_t q_dim = (size_t)c->n_head * hd, kv_dim = (size_t)c->n_head_kv * hd;
    size_t widest = dim > q_dim ? dim : q_dim;
    widest = widest > c->n_ff ? widest : c->n_ff;
    size_t jobs = n * c->n_head, stride = longest;
    size_t sizes[] = {n * dim * 4, n * widest * 4, n * q_dim * 4, n * q_dim * 4, n * kv_dim * 4, n * kv_dim * 4,
                      n * c->n_ff * 4, n * c->n_ff * 4, n * (hlz_pad32(widest) / HLZ_QBLOCK) * sizeof(hlz_q8_block) + 256,
                      jobs * stride * 4, n * sizeof(dev_place), (2 * n + 1) * 4, want ? n * (size_t)c->n_vocab * 4 : 0,
                      a->stats ? n * 4 : 0, a->stats ? n * sizeof *a->stats : 0, n_find * 8,
                      n_find * sizeof *a->found, n * 4, a->cands ? n * HLZ_TABLE_CANDIDATES * 4 : 0,
                      a->cands ? n * sizeof *a->mix : 0, guess ? n_find * HLZ_TABLE_CANDIDATES * 4 : 0,
                      guess ? n_find * HLZ_TABLE_CANDIDATES * 4 : 0};
    size_t need = 0;
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) need += (sizes[i] + 255) / 256 * 256;
    if (need > s->work_size) {
        cudaFree(s->work);
        s->work = NULL, s->work_size = 0;
        cudaError_t err = cudaMalloc(&s->work, need);
        if (err != cudaSuccess) return cuda_fail(e, err, "allocating the evaluation workspace");
        s->work_size = need;
    }
    host_stage h;
    size_t host_need = stage_layout(c, a, g->embd != NULL, NULL, &h);
    if (host_need > s->host_size) {
        cudaFreeHost(s->host);
        s->host = NULL, s->host_size = 0;
        cudaError_t err = cudaHostAlloc((void **)&s->host, host_need, cudaHostAllocDefault);
        if (err != cudaSuccess) return cuda_fail(e, err, "allocating pinned host memory for an evaluation");
        s->host_size = host_need;
    }
    stage_layout(c, a, g->embd != NULL, s->host, &h);
    char *at = (char *)s->work;
    float *x = (float *)carve(&at, sizes[0]), *xb = (float *)carve(&at, sizes[1]);
    float *q = (float *)carve(&at, sizes[2]), *att = (float *)carve(&at, sizes[3]);
    float *kn = (float *)carve(&at, sizes[4]), *vn = (float *)carve(&at, sizes[5]);
    float *gate = (float *)carve(&at, sizes[6]), *up = (float *)carve(&at, sizes[7]);
    dev_act xq = {NULL, NULL, NULL};
    {
        /* One area: the blocks (40 bytes each) or the planes (32 + 4). */
        char *area = (char *)carve(&at, sizes[8]);
        size_t nbw = n * (hlz_pad32(widest) / HLZ_QBLOCK);
        if (matmul_kind() == 3) xq.q = (int8_t *)area, xq.d = (float *)(area + (nbw * 32 + 255) / 256 * 256);
        else xq.blocks = (hlz_q8_block *)area;
    }
    float *scratch = (float *)carve(&at, sizes[9]);
    dev_place *dpl = (dev_place *)carve(&at, sizes[10]);
    uint32_t *dpos = (uint32_t *)carve(&at, sizes[11]), *dgrp = dpos + n; /* positions, then the groups */
    float *logits = (float *)carve(&at, sizes[12]);
    int32_t *dnext = (int32_t *)carve(&at, sizes[13]);
    hlz_token_stats *dstats = (hlz_token_stats *)carve(&at, sizes[14]);
    uint32_t *drows = (uint32_t *)carve(&at, sizes[15]), *dslots = drows + n_find;
    hlz_token_found *dfound = (hlz_token_found *)carve(&at, sizes[16]);
    int32_t *dtokens = (int32_t *)carve(&at, sizes[17]);
    int32_t *dcands = (int32_t *)carve(&at, sizes[18]);
    hlz_token_mix *dmix = (hlz_token_mix *)carve(&at, sizes[19]);
    int32_t *dguess = (int32_t *)carve(&at, sizes[20]);
    uint32_t *dfc = (uint32_t *)carve(&at, sizes[21]);
    if (guess) {
        hlz_status kst = kept_reserve(guess->kept, n_find, c->n_vocab, e);
        if (kst != HLZ_OK) return kst;
    }

    /* One attention arithmetic per call, of heads the kernels take: forward.c's eval_batch refused the rest. */
    bool int8 = n && place[0].session->attention == HLZ_ATTENTION_INT8;
    /* Host side: the embedding rows (or token ids), the places, the positions and the groups. */
    for (size_t t = 0; t < n; t++) {
        const int32_t tok = a->tokens[t];
        if (g->embd && (tok < 0 || (uint32_t)tok >= c->n_vocab))
            return hlz_fail(e, HLZ_ERR_PARAM, "token %d is not in the vocabulary", tok);
        if (!g->embd) {
            hlz_status st = hlz_gguf_tensor_row(m->token_embd, (uint64_t)tok, h.rows_x + t * dim, e);
            if (st != HLZ_OK) return st;
        }
        hlz_session *ss = place[t].session;
        if (int8 && !ss->k8) {
            hlz_status st = session_int8_caches(c, ss, e);
            if (st != HLZ_OK) return st;
        }
        h.place[t] = (dev_place){ss->k, ss->v, ss->n_ctx, place[t].pos, ss->k8, ss->v8, ss->kd, ss->vd};
        h.pos[t] = place[t].pos;
    }
    int at_kind = attention_kind();
    size_t groups = 0;
    uint32_t largest = 0, per = c->n_head / c->n_head_kv;
    if (int8) groups = attention_groups(h.place, n, attention_int8_tokens(int8_kernel(), per, hd), h.pos + n, &largest);
    else if (attention_tiled(at_kind, hd, c->n_head, c->n_head_kv))
        groups = attention_groups(h.place, n, attention_tokens(per), h.pos + n, &largest);
    if (g->embd) memcpy(h.tokens, a->tokens, n * 4);
    if (a->stats) memcpy(h.next, a->next, n * 4);
    if (a->cands) memcpy(h.cands, a->cands, n * HLZ_TABLE_CANDIDATES * 4);
    if (n_find) memcpy(h.rows, a->rows, n_find * 4), memcpy(h.slots, a->slots, n_find * 4);
    if (guess) memcpy(h.gcands, guess->cands, n_find * HLZ_TABLE_CANDIDATES * 4);

    unsigned long long t_up = now_ns();
    timing.stage_ns += t_up - t_stage;
    t_stage = t_up;
    cudaError_t err = cudaEventRecord(s->start, 0);
    const cudaMemcpyKind up_kind = cudaMemcpyHostToDevice;
    if (err == cudaSuccess) {
        if (g->embd) {
            err = cudaMemcpyAsync(dtokens, h.tokens, n * 4, up_kind, 0);
            if (err == cudaSuccess) k_embed<<<grid_for(n * dim, 256), 256>>>(g->embd, dtokens, n, dim, x);
        } else {
            err = cudaMemcpyAsync(x, h.rows_x, n * dim * 4, up_kind, 0);
        }
    }
    if (err == cudaSuccess) err = cudaMemcpyAsync(dpl, h.place, n * sizeof *h.place, up_kind, 0);
    if (err == cudaSuccess) err = cudaMemcpyAsync(dpos, h.pos, (n + (groups ? groups + 1 : 0)) * 4, up_kind, 0);
    if (err == cudaSuccess && a->stats) err = cudaMemcpyAsync(dnext, h.next, n * 4, up_kind, 0);
    if (err == cudaSuccess && a->stats) err = cudaMemsetAsync(dstats, 0, n * sizeof *dstats, 0);
    if (err == cudaSuccess && a->cands) err = cudaMemcpyAsync(dcands, h.cands, n * HLZ_TABLE_CANDIDATES * 4, up_kind, 0);
    if (err == cudaSuccess && n_find) err = cudaMemcpyAsync(drows, h.rows, n_find * 4, up_kind, 0);
    if (err == cudaSuccess && n_find) err = cudaMemcpyAsync(dslots, h.slots, n_find * 4, up_kind, 0);
    if (err == cudaSuccess && guess)
        err = cudaMemcpyAsync(dguess, h.gcands, n_find * HLZ_TABLE_CANDIDATES * 4, up_kind, 0);
    if (err != cudaSuccess) return cuda_fail(e, err, "uploading a batch");
    timing.upload_ns += now_ns() - t_stage;

    for (uint32_t l = 0; l < c->n_layer; l++) {
        const dev_layer *w = &g->layers[l];
        /* The residual of the layer before is added as the norm reads x. */
        prof_mark(P_NORM);
        launch_rmsnorm_quantize(x, l ? xb : NULL, w->attn_norm, n, dim, c->rms_eps, &xq);
        prof_mark(P_MATMUL);
        const dev_matrix *qkv[] = {&w->wq, &w->wk, &w->wv}, *gate_up[] = {&w->w_gate, &w->w_up};
        float *qkv_out[] = {q, kn, vn}, *gate_up_out[] = {gate, up};
        launch_matmul_joined(&w->qkv, qkv, qkv_out, 3, &xq, n);
        prof_mark(P_ROPE);
        if (w->bq) {
            k_add_bias<<<grid_for(n * q_dim, 256), 256>>>(q, w->bq, n * q_dim, q_dim);
            k_add_bias<<<grid_for(n * kv_dim, 256), 256>>>(kn, w->bk, n * kv_dim, kv_dim);
            k_add_bias<<<grid_for(n * kv_dim, 256), 256>>>(vn, w->bv, n * kv_dim, kv_dim);
        }
        k_rope_store<<<grid_for(n * (c->n_head + c->n_head_kv) * (hd / 2), 256), 256>>>(
            q, kn, vn, dpl, n, c->n_head, c->n_head_kv, hd, dpos, g->rope_cos, g->rope_sin, c->rope_neox, l);
        if (int8)
            k_quantize_kv<<<grid_for(n * 2 * (kv_dim / HLZ_QBLOCK), 8), 256>>>(dpl, n, (uint32_t)kv_dim, l);
        prof_mark(P_ATTENTION);
        if (int8)
            launch_attention_int8(int8_kernel(), dpl, dgrp, groups, largest, q, att, scratch, stride, g->logit_w, c->n_head,
                                  c->n_head_kv, hd, l);
        else
            launch_attention(at_kind, dpl, dgrp, groups, largest, q, att, scratch, stride, n, c->n_head, c->n_head_kv,
                             hd, l);
        prof_mark(P_NORM);
        launch_quantize(att, n, q_dim, &xq);
        prof_mark(P_MATMUL);
        launch_matmul(&w->wo, &xq, n, xb);

        prof_mark(P_NORM);
        launch_rmsnorm_quantize(x, xb, w->ffn_norm, n, dim, c->rms_eps, &xq);
        prof_mark(P_MATMUL);
        launch_matmul_joined(&w->gate_up, gate_up, gate_up_out, 2, &xq, n);
        prof_mark(P_ELEMENTWISE);
        launch_silu_quantize(gate, up, n, c->n_ff, &xq);
        prof_mark(P_MATMUL);
        launch_matmul(&w->w_down, &xq, n, xb);
    }
    /* Without logits the last residual is not needed: the caches hold the keys and values. */
    if (want) {
        prof_mark(P_NORM);
        launch_rmsnorm_quantize(x, c->n_layer ? xb : NULL, g->output_norm, n, dim, c->rms_eps, &xq);
        prof_mark(P_OUTPUT);
        launch_matmul(&g->output, &xq, n, logits);
    }
    prof_mark(P_TABLES);
    if (a->stats) {
        k_token_stats<<<(unsigned)n, ST_THREADS>>>(logits, c->n_vocab, dnext, g->logit_w, dstats, a->cands ? dcands : NULL,
                                                   dmix);
        k_exp_sums<<<grid_for(n, ES_ROWS), ES_ROWS>>>(logits, c->n_vocab, dnext, n, dstats);
    }
    if (n_find && guess)
        k_token_guess<<<(unsigned)n_find, ST_THREADS>>>(logits, c->n_vocab, drows, dguess, dslots, g->logit_w, dfc, dfound,
                                                       guess->kept->tables);
    else if (n_find)
        k_token_find<<<(unsigned)n_find, ST_THREADS>>>(logits, c->n_vocab, drows, dslots, g->logit_w, dfound);
    prof_mark(P_END);
    err = cudaGetLastError();
    const cudaMemcpyKind down = cudaMemcpyDeviceToHost;
    if (err == cudaSuccess && a->out) err = cudaMemcpy(a->out, logits, n * (size_t)c->n_vocab * 4, down);
    if (err == cudaSuccess && a->stats) err = cudaMemcpyAsync(h.stats, dstats, n * sizeof *dstats, down, 0);
    if (err == cudaSuccess && a->cands) err = cudaMemcpyAsync(h.mix, dmix, n * sizeof *dmix, down, 0);
    if (err == cudaSuccess && n_find) err = cudaMemcpyAsync(h.found, dfound, n_find * sizeof *dfound, down, 0);
    if (err == cudaSuccess && guess) err = cudaMemcpyAsync(h.fc, dfc, n_find * HLZ_TABLE_CANDIDATES * 4, down, 0);
    if (err == cudaSuccess) err = cudaEventRecord(s->done, 0);
    if (err != cudaSuccess) return cuda_fail(e, err, "evaluating a batch");
    return HLZ_OK;
}

/* The results of a finished evaluation, from its staging to the caller. */
static void stage_results(const hlz_model_config *c, const eval_args *a, bool embd, char *base)
{
    host_stage h;
    stage_layout(c, a, embd, base, &h);
    size_t nf = a->found ? a->n_find : 0;
    if (a->stats) memcpy(a->stats, h.stats, a->n * sizeof *a->stats);
    if (a->cands) memcpy(a->mix, h.mix, a->n * sizeof *a->mix);
    if (nf) memcpy(a->found, h.found, nf * sizeof *a->found);
    if (nf && a->guess) memcpy(a->guess->fc, h.fc, nf * HLZ_TABLE_CANDIDATES * 4);
}

/* One evaluation: a free slot (EVAL_SLOTS of them), the work queued under
 * the lock, then the wait for it outside the lock, so that the next
 * caller's preparation and uploads overlap this one's kernels. Profiling
 * and logits to the host keep the whole call under the lock. */
static hlz_status forward_any(hlz_model *m, const eval_args *a, hlz_error *e)
{
    hlz_cuda_model *g = m->cuda;
    for (size_t t = 0; t < a->n; t++)
        if (!a->place[t].session->on_device)
            return hlz_fail(e, HLZ_ERR_PARAM, "a session made before the model moved to the GPU");
    unsigned long long t0 = now_ns();
    pthread_mutex_lock(&g->lock);
    eval_slot *s = NULL;
    while (!s) {
        for (int i = 0; i < EVAL_SLOTS && !s; i++)
            if (!g->slot[i].busy) s = &g->slot[i];
        if (!s) pthread_cond_wait(&g->slot_free, &g->lock);
    }
    s->busy = true;
    unsigned long long t1 = now_ns();
    timing.wait_ns += t1 - t0; /* under the lock, like the other sums */
    hlz_status st = HLZ_OK;
    cudaError_t err = cudaSuccess;
    if (!s->events) {
        err = cudaEventCreate(&s->start);
        if (err == cudaSuccess) err = cudaEventCreateWithFlags(&s->done, cudaEventBlockingSync);
        if (err == cudaSuccess) s->events = true;
        else st = cuda_fail(e, err, "creating CUDA events");
    }
    if (st == HLZ_OK) st = forward_enqueue(m, g, s, a, e);
    unsigned long long t2 = now_ns();
    timing.prepare_ns += t2 - t1;
    bool inside = st != HLZ_OK || prof_enabled() || a->out;
    if (inside) {
        err = st == HLZ_OK ? cudaEventSynchronize(s->done) : cudaDeviceSynchronize();
        prof_collect();
    }
    pthread_mutex_unlock(&g->lock);
    if (!inside) err = cudaEventSynchronize(s->done);
    unsigned long long t3 = now_ns();
    if (st == HLZ_OK && err == cudaSuccess) stage_results(&m->config, a, g->embd != NULL, s->host);
    unsigned long long t4 = now_ns();
    pthread_mutex_lock(&g->lock);
    float ms = 0;
    if (st == HLZ_OK && err == cudaSuccess && cudaEventElapsedTime(&ms, s->start, s->done) == cudaSuccess)
        timing.kernel_ns += (unsigned long long)((double)ms * 1e6);
    timing.copy_ns += t4 - t3;
    timing.calls++, timing.tokens += a->n;
    timing.logit_bytes += a->out     ? a->n * (size_t)m->config.n_vocab * 4
                          : a->stats ? a->n * (sizeof *a->stats + (a->cands ? sizeof *a->mix : 0))
                          : a->found ? a->n_find * (sizeof *a->found + (a->guess ? HLZ_TABLE_CANDIDATES * 4 : 0))
                                     : 0;
    s->busy = false;
    pthread_cond_signal(&g->slot_free);
    pthread_mutex_unlock(&g->lock);
    if (st == HLZ_OK && err != cudaSuccess) st = cuda_fail(e, err, "evaluating a batch");
    return st;
}

extern "C" hlz_status hlz_cuda_forward(hlz_model *m, const hlz_token_place *place, const int32_t *tokens, size_t n,
                                       float *out, hlz_error *e)
{
    eval_args a = {place, tokens, n, out, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL, NULL};
    return forward_any(m, &a, e);
}

extern "C" hlz_status hlz_cuda_forward_stats(hlz_model *m, const hlz_token_place *place, const int32_t *tokens,
                                             size_t n, const int32_t *next, hlz_token_stats *stats,
                                             const int32_t *cands, hlz_token_mix *mix, hlz_error *e)
{
    eval_args a = {place, tokens, n, NULL, next, stats, cands, mix, NULL, NULL, 0, NULL, NULL};
    return forward_any(m, &a, e);
}

extern "C" hlz_status hlz_cuda_forward_find(hlz_model *m, const hlz_token_place *place, const int32_t *tokens,
                                            size_t n, const uint32_t *rows, const uint32_t *slots, size_t n_find,
                                            hlz_token_found *found, hlz_error *e)
{
    eval_args a = {place, tokens, n, NULL, NULL, NULL, NULL, NULL, rows, slots, n_find, found, NULL};
    return forward_any(m, &a, e);
}

extern "C" hlz_status hlz_cuda_forward_guess(hlz_model *m, const hlz_token_place *place, const int32_t *tokens,
                                             size_t n, const uint32_t *rows, const int32_t *cands, const uint32_t *slots,
                                             size_t n_seq, uint32_t *fc, hlz_token_found *found, hlz_kept_tables *kept,
                                             hlz_error *e)
{
    guess_args guess = {cands, fc, kept};
    eval_args a = {place, tokens, n, NULL, NULL, NULL, NULL, NULL, rows, slots, n_seq, found, &guess};
    return forward_any(m, &a, e);
}

extern "C" void hlz_cuda_kept_free(hlz_kept_tables *k)
{
    cudaFree(k->tables), cudaFree(k->io);
    k->tables = NULL, k->io = NULL, k->rows = 0;
}

/* The search of kept tables: a small upload, one kernel, 12 bytes back per
 * sequence; under the model's lock like every evaluation, though it needs
 * only the kept tables and their io room. */
extern "C" hlz_status hlz_cuda_find_kept(hlz_model *m, hlz_kept_tables *k, const uint32_t *seqs, const uint32_t *slots,
                                         size_t n, hlz_token_found *found, hlz_error *e)
{
    if (n > k->rows) return hlz_fail(e, HLZ_ERR_PARAM, "%zu searches in %zu kept tables", n, k->rows);
    hlz_cuda_model *g = m->cuda;
    uint32_t *dseqs = (uint32_t *)k->io, *dslots = dseqs + k->rows;
    hlz_token_found *dfound = (hlz_token_found *)(dslots + k->rows);
    unsigned long long t0 = now_ns();
    pthread_mutex_lock(&g->lock);
    unsigned long long t1 = now_ns();
    cudaError_t err = cudaMemcpy(dseqs, seqs, n * 4, cudaMemcpyHostToDevice);
    if (err == cudaSuccess) err = cudaMemcpy(dslots, slots, n * 4, cudaMemcpyHostToDevice);
    if (err == cudaSuccess) {
        k_kept_find<<<(unsigned)n, ST_THREADS>>>(k->tables, m->config.n_vocab, dseqs, dslots, dfound);
        err = cudaGetLastError();
    }
    if (err == cudaSuccess) err = cudaMemcpy(found, dfound, n * sizeof *found, cudaMemcpyDeviceToHost);
    unsigned long long t2 = now_ns();
    timing.wait_ns += t1 - t0, timing.logit_bytes += n * sizeof *found, timing.copy_ns += t2 - t1;
    pthread_mutex_unlock(&g->lock);
    return err == cudaSuccess ? HLZ_OK : cuda_fail(e, err, "searching kept tables");
}

/* ---- single kernels for the check program --------------------------------------- */

/* Device copies of host buffers, freed together. */
typedef struct {
    void *p[16];
    int n;
    cudaError_t err;
} dev_bufs;

static void *dev_in(dev_bufs *b, const void *src, size_t bytes)
{
    void *p = NULL;
    if (b->err == cudaSuccess) b->err = cudaMalloc(&p, bytes ? bytes : 1);
    if (b->err == cudaSuccess && src) b->err = cudaMemcpy(p, src, bytes, cudaMemcpyHostToDevice);
    if (p) b->p[b->n++] = p;
    return p;
}

static int dev_out(dev_bufs *b, void *dst, const void *src, size_t bytes)
{
    if (b->err == cudaSuccess) b->err = cudaGetLastError();
    if (b->err == cudaSuccess) b->err = cudaDeviceSynchronize();
    if (b->err == cudaSuccess) b->err = cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToHost);
    for (int i = 0; i < b->n; i++) cudaFree(b->p[i]);
    if (b->err != cudaSuccess) fprintf(stderr, "CUDA error: %s\n", cudaGetErrorString(b->err));
    return b->err == cudaSuccess ? 0 : -1;
}

extern "C" int hlz_cuda_test_quantize(const float *x, size_t n_tokens, uint64_t cols, hlz_q8_block *out)
{
    dev_bufs b = {};
    size_t qb = n_tokens * (hlz_pad32(cols) / HLZ_QBLOCK) * sizeof *out;
    float *dx = (float *)dev_in(&b, x, n_tokens * cols * 4);
    dev_act dq = {(hlz_q8_block *)dev_in(&b, NULL, qb), NULL, NULL};
    if (b.err == cudaSuccess) launch_quantize(dx, n_tokens, cols, &dq);
    return dev_out(&b, out, dq.blocks, qb);
}

extern "C" int hlz_cuda_test_quantize_planes(const float *x, size_t n_tokens, uint64_t cols, int8_t *q, float *d)
{
    dev_bufs b = {};
    size_t blocks = n_tokens * (hlz_pad32(cols) / HLZ_QBLOCK);
    float *dx = (float *)dev_in(&b, x, n_tokens * cols * 4);
    dev_act dq = {NULL, (int8_t *)dev_in(&b, NULL, blocks * HLZ_QBLOCK), (float *)dev_in(&b, NULL, blocks * 4)};
    if (b.err == cudaSuccess) launch_quantize(dx, n_tokens, cols, &dq);
    if (b.err == cudaSuccess) b.err = cudaGetLastError();
    if (b.err == cudaSuccess) b.err = cudaDeviceSynchronize();
    if (b.err == cudaSuccess) b.err = cudaMemcpy(q, dq.q, blocks * HLZ_QBLOCK, cudaMemcpyDeviceToHost);
    return dev_out(&b, d, dq.d, blocks * 4);
}

/* Device copies of a matrix (as uploaded: blocks and the repacked planes)
 * and of activations (blocks, and planes for the pipelined kernel). */
static void test_operands(dev_bufs *b, const hlz_q8_0_block *w, uint64_t rows, uint64_t cols_pad,
                          const hlz_q8_block *x, size_t n_tokens, dev_matrix *dm, dev_act *dx)
{
    uint64_t nb = cols_pad / HLZ_QBLOCK;
    *dm = (dev_matrix){(const hlz_q8_0_block *)dev_in(b, w, rows * nb * sizeof *w), rows, cols_pad, NULL, NULL};
    dm->q = (const int8_t *)dev_in(b, NULL, rows * nb * HLZ_QBLOCK);
    dm->d = (const float *)dev_in(b, NULL, rows * nb * sizeof(float));
    if (b->err == cudaSuccess && rows > 0 && nb > 0)
        k_repack<<<grid_for(rows * nb, 256), 256>>>(dm->blocks, rows * nb, (int8_t *)dm->q, (float *)dm->d);
    size_t blocks = n_tokens * nb;
    int8_t *hq = (int8_t *)malloc(blocks * HLZ_QBLOCK + 1);
    float *hd = (float *)malloc(blocks * 4 + 1);
    if (!hq || !hd) b->err = cudaErrorMemoryAllocation;
    for (size_t i = 0; hq && hd && i < blocks; i++) {
        memcpy(hq + i * HLZ_QBLOCK, x[i].q, HLZ_QBLOCK);
        hd[i] = x[i].d;
    }
    dx->blocks = (hlz_q8_block *)dev_in(b, x, blocks * sizeof *x);
    dx->q = (int8_t *)dev_in(b, hq, blocks * HLZ_QBLOCK);
    dx->d = (float *)dev_in(b, hd, blocks * 4);
    free(hq), free(hd);
}

extern "C" int hlz_cuda_test_matmul_kind(int kind, const hlz_q8_0_block *w, uint64_t rows, uint64_t cols_pad,
                                         const hlz_q8_block *x, size_t n_tokens, float *out)
{
    dev_bufs b = {};
    dev_matrix dm;
    dev_act dx;
    test_operands(&b, w, rows, cols_pad, x, n_tokens, &dm, &dx);
    float *dout = (float *)dev_in(&b, NULL, n_tokens * rows * 4);
    if (b.err == cudaSuccess) launch_matmul_kind(kind < 0 ? matmul_kind() : kind, &dm, &dx, n_tokens, dout);
    return dev_out(&b, out, dout, n_tokens * rows * 4);
}

extern "C" int hlz_cuda_test_matmul(const hlz_q8_0_block *w, uint64_t rows, uint64_t cols_pad, const hlz_q8_block *x,
                                    size_t n_tokens, float *out)
{
    return hlz_cuda_test_matmul_kind(-1, w, rows, cols_pad, x, n_tokens, out);
}

extern "C" int hlz_cuda_test_rmsnorm(const float *x, const float *w, size_t n_tokens, uint32_t dim, float eps, float *y)
{
    dev_bufs b = {};
    float *dx = (float *)dev_in(&b, x, n_tokens * dim * 4), *dw = (float *)dev_in(&b, w, dim * 4);
    float *dy = (float *)dev_in(&b, NULL, n_tokens * dim * 4);
    if (b.err == cudaSuccess) k_rmsnorm<<<(unsigned)n_tokens, 32>>>(dx, dw, dy, dim, eps);
    return dev_out(&b, y, dy, n_tokens * dim * 4);
}

extern "C" int hlz_cuda_test_rmsnorm_quantize(const float *x, const float *r, const float *w, size_t n_tokens,
                                              uint32_t dim, float eps, hlz_q8_block *out, float *sum)
{
    dev_bufs b = {};
    size_t qb = n_tokens * (hlz_pad32(dim) / HLZ_QBLOCK) * sizeof *out;
    float *dx = (float *)dev_in(&b, x, n_tokens * dim * 4), *dw = (float *)dev_in(&b, w, dim * 4);
    float *dr = r ? (float *)dev_in(&b, r, n_tokens * dim * 4) : NULL;
    dev_act dq = {(hlz_q8_block *)dev_in(&b, NULL, qb), NULL, NULL};
    if (b.err == cudaSuccess) launch_rmsnorm_quantize(dx, dr, dw, n_tokens, dim, eps, &dq);
    if (b.err == cudaSuccess) b.err = cudaGetLastError();
    if (b.err == cudaSuccess) b.err = cudaDeviceSynchronize();
    if (b.err == cudaSuccess && sum) b.err = cudaMemcpy(sum, dx, n_tokens * dim * 4, cudaMemcpyDeviceToHost);
    return dev_out(&b, out, dq.blocks, qb);
}

extern "C" int hlz_cuda_test_silu_quantize(const float *gate, const float *up, size_t n_tokens, uint64_t cols,
                                           hlz_q8_block *out)
{
    dev_bufs b = {};
    size_t qb = n_tokens * (hlz_pad32(cols) / HLZ_QBLOCK) * sizeof *out;
    float *dg = (float *)dev_in(&b, gate, n_tokens * cols * 4), *du = (float *)dev_in(&b, up, n_tokens * cols * 4);
    dev_act dq = {(hlz_q8_block *)dev_in(&b, NULL, qb), NULL, NULL};
    if (b.err == cudaSuccess) launch_silu_quantize(dg, du, n_tokens, cols, &dq);
    return dev_out(&b, out, dq.blocks, qb);
}

extern "C" int hlz_cuda_test_elementwise(int op, const float *a, const float *bv, size_t n, float *out)
{
    dev_bufs b = {};
    float *da = (float *)dev_in(&b, a, n * 4), *db = (float *)dev_in(&b, bv ? bv : a, n * 4);
    if (b.err == cudaSuccess) k_elementwise<<<grid_for(n, 256), 256>>>(op, da, db, n);
    return dev_out(&b, out, da, n * 4);
}

extern "C" int hlz_cuda_test_rope(float *x, size_t n_vec, uint32_t hd, const uint32_t *pos, const float *cos_tab,
                                  const float *sin_tab, uint32_t n_pos, int neox, float *k_out, float *v_out)
{
    dev_bufs b = {};
    size_t half = hd / 2, bytes = n_vec * hd * 4;
    /* Each vector is a token's one query head and one key head (the same
     * values; v too), its caches one row of their own. */
    float *dq = (float *)dev_in(&b, x, bytes), *dk = (float *)dev_in(&b, x, bytes), *dv = (float *)dev_in(&b, x, bytes);
    float *ck = (float *)dev_in(&b, NULL, bytes), *cv = (float *)dev_in(&b, NULL, bytes);
    uint32_t *dp = (uint32_t *)dev_in(&b, pos, n_vec * 4);
    float *dc = (float *)dev_in(&b, cos_tab, n_pos * half * 4), *ds = (float *)dev_in(&b, sin_tab, n_pos * half * 4);
    dev_place *hpl = (dev_place *)malloc(n_vec * sizeof *hpl + 1);
    if (!hpl) b.err = cudaErrorMemoryAllocation;
    for (size_t t = 0; hpl && t < n_vec; t++) hpl[t] = (dev_place){ck + t * hd, cv + t * hd, 1, 0, NULL, NULL, NULL, NULL};
    dev_place *dpl = (dev_place *)dev_in(&b, hpl, n_vec * sizeof *hpl);
    free(hpl);
    if (b.err == cudaSuccess)
        k_rope_store<<<grid_for(n_vec * 2 * half, 256), 256>>>(dq, dk, dv, dpl, n_vec, 1, 1, hd, dp, dc, ds, neox, 0);
    if (b.err == cudaSuccess) b.err = cudaGetLastError();
    if (b.err == cudaSuccess) b.err = cudaDeviceSynchronize();
    if (b.err == cudaSuccess) b.err = cudaMemcpy(k_out, ck, bytes, cudaMemcpyDeviceToHost);
    if (b.err == cudaSuccess) b.err = cudaMemcpy(v_out, cv, bytes, cudaMemcpyDeviceToHost);
    return dev_out(&b, x, dq, bytes);
}

extern "C" int hlz_cuda_test_attention(const float *q, const float *k, const float *v, uint32_t n, uint32_t hd,
                                       size_t kv_row, float *out)
{
    dev_bufs b = {};
    size_t rows = ((size_t)n - 1) * kv_row + hd;
    float *dq = (float *)dev_in(&b, q, hd * 4), *dk = (float *)dev_in(&b, k, rows * 4);
    float *dv = (float *)dev_in(&b, v, rows * 4), *ds = (float *)dev_in(&b, NULL, (size_t)n * 4);
    float *dout = (float *)dev_in(&b, NULL, hd * 4);
    /* The kernel the forward pass uses for this head_dim. */
    if (b.err == cudaSuccess && hd == 64) k_attention_w64_test<<<1, 32>>>(dq, dk, dv, n, kv_row, ds, dout);
    else if (b.err == cudaSuccess) k_attention_test<<<1, attention_threads(hd)>>>(dq, dk, dv, n, hd, kv_row, ds, dout);
    return dev_out(&b, out, dout, hd * 4);
}

/* One launch_attention (or launch_attention_int8), its arguments kept (the benchmark repeats it). */
typedef struct {
    int kind;
    const dev_place *pl;
    const uint32_t *grp;
    size_t groups;
    uint32_t largest;
    const float *q;
    float *out, *scratch;
    size_t stride, n;
    uint32_t n_head, n_head_kv, hd;
    const uint64_t *weights;
} attention_args;

static void attention_run(const attention_args *a)
{
    if (a->kind >= 2)
        launch_attention_int8(a->kind == 3 ? INT8_MMA : int8_kernel(), a->pl, a->grp, a->groups, a->largest, a->q, a->out,
                              a->scratch, a->stride, a->weights, a->n_head, a->n_head_kv, a->hd, 0);
    else
        launch_attention(a->kind, a->pl, a->grp, a->groups, a->largest, a->q, a->out, a->scratch, a->stride, a->n,
                         a->n_head, a->n_head_kv, a->hd, 0);
}

/* Device copies of the caches and queries of an attention batch (layer 0
 * of n_seq caches of n_ctx rows of n_head_kv x hd), its places and, for
 * the tile and int8 kernels, its groups of at most `tokens` tokens (0: the
 * default); for int8 (kind 2: int8_kernel()'s kernel, 3: the mma kernel)
 * every cache row quantized by k_quantize_kv, as the pass stores them; then
 * one launch. */
static void attention_batch(dev_bufs *b, int kind, uint32_t tokens, const float *q, size_t n, uint32_t n_head,
                            uint32_t n_head_kv, uint32_t hd, const uint32_t *seq, const uint32_t *pos, const float *k,
                            const float *v, uint32_t n_seq, uint32_t n_ctx, attention_args *a)
{
    size_t kv_row = (size_t)n_head_kv * hd, rows = (size_t)n_seq * n_ctx, cache = rows * kv_row;
    size_t q_dim = (size_t)n_head * hd;
    uint32_t longest = 0, per = n_head / n_head_kv;
    bool int8 = kind >= 2;
    *a = (attention_args){kind, NULL, NULL, 0, 0, NULL, NULL, NULL, 0, n, n_head, n_head_kv, hd, NULL};
    a->q = (const float *)dev_in(b, q, n * q_dim * 4);
    float *dk = (float *)dev_in(b, k, cache * 4), *dv = (float *)dev_in(b, v, cache * 4);
    int8_t *k8 = NULL, *v8 = NULL;
    float *kd = NULL, *vd = NULL;
    size_t v8_seq = kv_row * v8_pitch(n_ctx); /* one sequence's transposed value cache */
    if (int8) {
        k8 = (int8_t *)dev_in(b, NULL, cache), v8 = (int8_t *)dev_in(b, NULL, n_seq * v8_seq);
        kd = (float *)dev_in(b, NULL, cache / HLZ_QBLOCK * 4), vd = (float *)dev_in(b, NULL, cache / HLZ_QBLOCK * 4);
        a->weights = (const uint64_t *)dev_in(b, hlz_logit_weights(), HLZ_LOGIT_KMAX * sizeof(uint64_t));
    }
    a->out = (float *)dev_in(b, NULL, n * q_dim * 4);
    size_t places = n > rows ? n : rows;
    dev_place *hpl = (dev_place *)malloc(places * sizeof *hpl + 1);
    uint32_t *grp = (uint32_t *)malloc((n + 1) * 4);
    if (!hpl || !grp) b->err = cudaErrorMemoryAllocation;
    if (int8 && hpl && b->err == cudaSuccess) { /* every row of every cache, as if just stored */
        for (size_t r = 0; r < rows; r++)
            hpl[r] = (dev_place){dk + r / n_ctx * n_ctx * kv_row, dv + r / n_ctx * n_ctx * kv_row, n_ctx,
                                 (uint32_t)(r % n_ctx), k8 + r / n_ctx * n_ctx * kv_row, v8 + r / n_ctx * v8_seq,
                                 kd + r / n_ctx * n_ctx * (kv_row / HLZ_QBLOCK), vd + r / n_ctx * n_ctx * (kv_row / HLZ_QBLOCK)};
        dev_place *all = (dev_place *)dev_in(b, hpl, rows * sizeof *hpl);
        if (b->err == cudaSuccess)
            k_quantize_kv<<<grid_for(rows * 2 * (kv_row / HLZ_QBLOCK), 8), 256>>>(all, rows, (uint32_t)kv_row, 0);
    }
    for (size_t t = 0; hpl && t < n; t++) {
        size_t r0 = (size_t)seq[t] * n_ctx;
        hpl[t] = (dev_place){dk + r0 * kv_row, dv + r0 * kv_row, n_ctx, pos[t], NULL, NULL, NULL, NULL};
        if (int8)
            hpl[t].k8 = k8 + r0 * kv_row, hpl[t].v8 = v8 + seq[t] * v8_seq, hpl[t].kd = kd + r0 * (kv_row / HLZ_QBLOCK),
            hpl[t].vd = vd + r0 * (kv_row / HLZ_QBLOCK);
        longest = pos[t] + 1 > longest ? pos[t] + 1 : longest;
    }
    uint32_t most = int8 ? attention_int8_tokens(kind == 3 ? INT8_MMA : int8_kernel(), per, hd) : attention_tokens(per);
    most = tokens && tokens < most ? tokens : most;
    if (hpl && grp && (int8 || attention_tiled(kind, hd, n_head, n_head_kv)))
        a->groups = attention_groups(hpl, n, most, grp, &a->largest);
    a->pl = (const dev_place *)dev_in(b, hpl, n * sizeof *hpl);
    a->grp = (const uint32_t *)dev_in(b, grp, (n + 1) * 4);
    a->stride = longest;
    a->scratch = (float *)dev_in(b, NULL, n * n_head * (size_t)longest * 4);
    free(hpl), free(grp);
    if (b->err == cudaSuccess) attention_run(a);
}

extern "C" int hlz_cuda_test_attention_batch(int kind, uint32_t tokens, const float *q, size_t n, uint32_t n_head,
                                             uint32_t n_head_kv, uint32_t hd, const uint32_t *seq, const uint32_t *pos,
                                             const float *k, const float *v, uint32_t n_seq, uint32_t n_ctx, float *out)
{
    dev_bufs b = {};
    attention_args a;
    attention_batch(&b, kind, tokens, q, n, n_head, n_head_kv, hd, seq, pos, k, v, n_seq, n_ctx, &a);
    return dev_out(&b, out, a.out, n * n_head * hd * 4);
}

/* n_seq sequences of `window` tokens at positions ctx .. ctx + window - 1
 * (a prefill after ctx rows of context; window 1 is a decoding step), random
 * caches: the mean seconds of one layer's attention over `reps` launches. */
/* The benchmarks' timer: seconds per call of run(ctx), over reps calls
 * timed with events (the caller warms up first). */
static double seconds_per_rep(void (*run)(const void *), const void *ctx, int reps)
{
    cudaEvent_t e0, e1;
    cudaEventCreate(&e0), cudaEventCreate(&e1);
    cudaEventRecord(e0);
    for (int i = 0; i < reps; i++) run(ctx);
    cudaEventRecord(e1);
    cudaEventSynchronize(e1);
    float ms = 0;
    cudaEventElapsedTime(&ms, e0, e1);
    cudaEventDestroy(e0), cudaEventDestroy(e1);
    return ms * 1e-3 / reps;
}

static void run_attention(const void *a) { attention_run((const attention_args *)a); }

typedef struct {
    int kind;
    const dev_matrix *w;
    const dev_act *x;
    size_t n;
    float *out;
} matmul_job;

static void run_matmul(const void *job)
{
    const matmul_job *j = (const matmul_job *)job;
    launch_matmul_kind(j->kind, j->w, j->x, j->n, j->out);
}

extern "C" int hlz_cuda_bench_attention(int kind, uint32_t n_head, uint32_t n_head_kv, uint32_t n_seq,
                                        uint32_t window, uint32_t ctx, int reps, double *seconds)
{
    size_t n = (size_t)n_seq * window, q_dim = (size_t)n_head * 64;
    uint32_t n_ctx = ctx + window;
    size_t cache = (size_t)n_seq * n_ctx * n_head_kv * 64;
    float *q = (float *)malloc(n * q_dim * 4), *kv = (float *)malloc(cache * 4);
    uint32_t *seq = (uint32_t *)malloc(n * 4), *pos = (uint32_t *)malloc(n * 4);
    if (!q || !kv || !seq || !pos) {
        free(q), free(kv), free(seq), free(pos);
        return -1;
    }
    unsigned r = 12345;
    for (size_t i = 0; i < n * q_dim; i++) q[i] = (float)((r = r * 1103515245u + 12345u) >> 8) * 0x1p-24f - 0.5f;
    for (size_t i = 0; i < cache; i++) kv[i] = (float)((r = r * 1103515245u + 12345u) >> 8) * 0x1p-24f - 0.5f;
    for (size_t t = 0; t < n; t++) seq[t] = (uint32_t)(t / window), pos[t] = ctx + (uint32_t)(t % window);
    dev_bufs b = {};
    attention_args a;
    attention_batch(&b, kind, 0, q, n, n_head, n_head_kv, 64, seq, pos, kv, kv, n_seq, n_ctx, &a); /* warms up */
    free(q), free(kv), free(seq), free(pos);
    if (b.err == cudaSuccess) *seconds = seconds_per_rep(run_attention, &a, reps);
    float one;
    return dev_out(&b, &one, a.out, sizeof one);
}

extern "C" int hlz_cuda_bench_matmul(uint64_t rows, uint64_t cols_pad, size_t n_tokens, int kind, int reps,
                                     double *seconds)
{
    uint64_t nb = cols_pad / HLZ_QBLOCK;
    hlz_q8_0_block *w = (hlz_q8_0_block *)malloc(rows * nb * sizeof *w);
    hlz_q8_block *x = (hlz_q8_block *)malloc(n_tokens * nb * sizeof *x);
    if (!w || !x) {
        free(w), free(x);
        return -1;
    }
    unsigned s = 12345;
    for (uint64_t i = 0; i < rows * nb; i++) {
        w[i].d = 0x2000; /* an ordinary fp16 */
        for (int k = 0; k < HLZ_QBLOCK; k++) w[i].q[k] = (int8_t)((s = s * 1103515245u + 12345u) >> 24);
    }
    for (size_t i = 0; i < n_tokens * nb; i++) {
        x[i].d = 0.01f, x[i].sum = 0;
        for (int k = 0; k < HLZ_QBLOCK; k++) x[i].q[k] = (int8_t)((s = s * 1103515245u + 12345u) >> 24);
    }
    dev_bufs b = {};
    dev_matrix dm;
    dev_act dx;
    test_operands(&b, w, rows, cols_pad, x, n_tokens, &dm, &dx);
    float *dout = (float *)dev_in(&b, NULL, n_tokens * rows * 4);
    free(w), free(x);
    if (b.err == cudaSuccess) {
        matmul_job job = {kind, &dm, &dx, n_tokens, dout};
        run_matmul(&job); /* warm up */
        *seconds = seconds_per_rep(run_matmul, &job, reps);
    }
    float one;
    return dev_out(&b, &one, dout, sizeof one);
}

extern "C" int hlz_cuda_test_token_stats(const float *logits, size_t n_rows, uint32_t n_vocab, const int32_t *next,
                                         hlz_token_stats *stats)
{
    dev_bufs b = {};
    float *dl = (float *)dev_in(&b, logits, n_rows * n_vocab * 4);
    int32_t *dn = (int32_t *)dev_in(&b, next, n_rows * 4);
    uint64_t *dw = (uint64_t *)dev_in(&b, hlz_logit_weights(), HLZ_LOGIT_KMAX * sizeof(uint64_t));
    hlz_token_stats *ds = (hlz_token_stats *)dev_in(&b, NULL, n_rows * sizeof *stats);
    if (b.err == cudaSuccess) b.err = cudaMemset(ds, 0, n_rows * sizeof *stats);
    if (b.err == cudaSuccess) {
        k_token_stats<<<(unsigned)n_rows, ST_THREADS>>>(dl, n_vocab, dn, dw, ds, NULL, NULL);
        k_exp_sums<<<grid_for(n_rows, ES_ROWS), ES_ROWS>>>(dl, n_vocab, dn, n_rows, ds);
    }
    return dev_out(&b, stats, ds, n_rows * sizeof *stats);
}

extern "C" int hlz_cuda_test_token_mix(const float *logits, size_t n_rows, uint32_t n_vocab, const int32_t *next,
                                       const int32_t *cands, hlz_token_stats *stats, hlz_token_mix *mix)
{
    dev_bufs b = {};
    float *dl = (float *)dev_in(&b, logits, n_rows * n_vocab * 4);
    int32_t *dn = (int32_t *)dev_in(&b, next, n_rows * 4);
    int32_t *dc = (int32_t *)dev_in(&b, cands, n_rows * HLZ_TABLE_CANDIDATES * 4);
    uint64_t *dw = (uint64_t *)dev_in(&b, hlz_logit_weights(), HLZ_LOGIT_KMAX * sizeof(uint64_t));
    hlz_token_stats *ds = (hlz_token_stats *)dev_in(&b, NULL, n_rows * sizeof *stats);
    hlz_token_mix *dm = (hlz_token_mix *)dev_in(&b, NULL, n_rows * sizeof *mix);
    if (b.err == cudaSuccess) b.err = cudaMemset(ds, 0, n_rows * sizeof *stats);
    if (b.err == cudaSuccess) b.err = cudaMemset(dm, 0, n_rows * sizeof *mix);
    if (b.err == cudaSuccess) {
        k_token_stats<<<(unsigned)n_rows, ST_THREADS>>>(dl, n_vocab, dn, dw, ds, dc, dm);
        k_exp_sums<<<grid_for(n_rows, ES_ROWS), ES_ROWS>>>(dl, n_vocab, dn, n_rows, ds);
    }
    if (b.err == cudaSuccess) b.err = cudaGetLastError();
    if (b.err == cudaSuccess) b.err = cudaDeviceSynchronize();
    if (b.err == cudaSuccess) b.err = cudaMemcpy(mix, dm, n_rows * sizeof *mix, cudaMemcpyDeviceToHost);
    return dev_out(&b, stats, ds, n_rows * sizeof *stats);
}

extern "C" int hlz_cuda_test_token_find(const float *logits, size_t n_rows, uint32_t n_vocab, const uint32_t *slots,
                                        hlz_token_found *found)
{
    dev_bufs b = {};
    uint32_t *rows = (uint32_t *)malloc(n_rows * 4);
    if (!rows) return -1;
    for (size_t r = 0; r < n_rows; r++) rows[r] = (uint32_t)r;
    float *dl = (float *)dev_in(&b, logits, n_rows * n_vocab * 4);
    uint32_t *dr = (uint32_t *)dev_in(&b, rows, n_rows * 4), *ds = (uint32_t *)dev_in(&b, slots, n_rows * 4);
    uint64_t *dw = (uint64_t *)dev_in(&b, hlz_logit_weights(), HLZ_LOGIT_KMAX * sizeof(uint64_t));
    hlz_token_found *df = (hlz_token_found *)dev_in(&b, NULL, n_rows * sizeof *found);
    free(rows);
    if (b.err == cudaSuccess) k_token_find<<<(unsigned)n_rows, ST_THREADS>>>(dl, n_vocab, dr, ds, dw, df);
    return dev_out(&b, found, df, n_rows * sizeof *found);
}

extern "C" int hlz_cuda_test_token_guess(const float *logits, size_t n_rows, uint32_t n_vocab, const int32_t *cands,
                                         const uint32_t *slots, const uint32_t *slots2, uint32_t *fc,
                                         hlz_token_found *found, uint32_t *tables, hlz_token_found *found2)
{
    dev_bufs b = {};
    uint32_t *rows = (uint32_t *)malloc(n_rows * 4), *seqs = (uint32_t *)malloc(n_rows * 4);
    uint32_t *s2 = (uint32_t *)malloc(n_rows * 4);
    hlz_token_found *f2 = (hlz_token_found *)malloc(n_rows * sizeof *f2);
    if (!rows || !seqs || !s2 || !f2) {
        free(rows), free(seqs), free(s2), free(f2);
        return -1;
    }
    size_t n2 = 0;
    for (size_t r = 0; r < n_rows; r++) {
        rows[r] = (uint32_t)r;
        if (cands[r * HLZ_TABLE_CANDIDATES] >= 0) seqs[n2] = (uint32_t)r, s2[n2++] = slots2[r];
    }
    float *dl = (float *)dev_in(&b, logits, n_rows * n_vocab * 4);
    uint32_t *dr = (uint32_t *)dev_in(&b, rows, n_rows * 4), *ds = (uint32_t *)dev_in(&b, slots, n_rows * 4);
    int32_t *dc = (int32_t *)dev_in(&b, cands, n_rows * HLZ_TABLE_CANDIDATES * 4);
    uint64_t *dw = (uint64_t *)dev_in(&b, hlz_logit_weights(), HLZ_LOGIT_KMAX * sizeof(uint64_t));
    uint32_t *dfc = (uint32_t *)dev_in(&b, fc, n_rows * HLZ_TABLE_CANDIDATES * 4);
    hlz_token_found *df = (hlz_token_found *)dev_in(&b, found, n_rows * sizeof *found);
    uint32_t *dt = (uint32_t *)dev_in(&b, tables, n_rows * n_vocab * 4);
    uint32_t *dseqs = (uint32_t *)dev_in(&b, seqs, n_rows * 4), *ds2 = (uint32_t *)dev_in(&b, s2, n_rows * 4);
    hlz_token_found *df2 = (hlz_token_found *)dev_in(&b, NULL, n_rows * sizeof *found2);
    if (b.err == cudaSuccess) k_token_guess<<<(unsigned)n_rows, ST_THREADS>>>(dl, n_vocab, dr, dc, ds, dw, dfc, df, dt);
    if (b.err == cudaSuccess && n2) k_kept_find<<<(unsigned)n2, ST_THREADS>>>(dt, n_vocab, dseqs, ds2, df2);
    if (b.err == cudaSuccess) b.err = cudaGetLastError();
    if (b.err == cudaSuccess) b.err = cudaDeviceSynchronize();
    if (b.err == cudaSuccess) b.err = cudaMemcpy(fc, dfc, n_rows * HLZ_TABLE_CANDIDATES * 4, cudaMemcpyDeviceToHost);
    if (b.err == cudaSuccess) b.err = cudaMemcpy(tables, dt, n_rows * n_vocab * 4, cudaMemcpyDeviceToHost);
    if (b.err == cudaSuccess && n2) b.err = cudaMemcpy(f2, df2, n2 * sizeof *f2, cudaMemcpyDeviceToHost);
    for (size_t j = 0; b.err == cudaSuccess && j < n2; j++) found2[seqs[j]] = f2[j];
    free(rows), free(seqs), free(s2), free(f2);
    return dev_out(&b, found, df, n_rows * sizeof *found);
}
