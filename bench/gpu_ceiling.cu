/*
 * gpu_ceiling.cu - the GPU's matrix ceilings, measured (bench/gpu_throughput.sh):
 *   - int8 and bf16 warp-level tensor-core loops (mma.sync m16n8k32 s8 and
 *     m16n8k16 bf16, 8 independent accumulators per warp, no memory traffic):
 *     the ceiling of the instruction hlz's kernel uses;
 *   - with -DHAVE_CUBLAS, cublasGemmEx on 8192^3 int8 (int32 accumulation)
 *     and bf16 (fp32 accumulation) matrices: what a library reaches.
 * Prints one markdown table. Build: nvcc -O3 -arch=sm_90 [-DHAVE_CUBLAS -lcublas].
 */
#include <cuda_runtime.h>
#include <stdio.h>
#ifdef HAVE_CUBLAS
#include <cublas_v2.h>
#endif

#define ITERS 4096
#define ACC 8

__global__ void loop_s8(int *sink)
{
    int a0 = threadIdx.x, a1 = a0 * 3, a2 = a0 * 5, a3 = a0 * 7, b0 = a0 ^ 0x55, b1 = a0 ^ 0x33;
    int d[ACC][4] = {};
    for (int it = 0; it < ITERS; it++)
#pragma unroll
        for (int k = 0; k < ACC; k++)
            asm volatile("mma.sync.aligned.m16n8k32.row.col.s32.s8.s8.s32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                         "{%0,%1,%2,%3};\n"
                         : "+r"(d[k][0]), "+r"(d[k][1]), "+r"(d[k][2]), "+r"(d[k][3])
                         : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
    int s = 0;
    for (int k = 0; k < ACC; k++) s += d[k][0] + d[k][1] + d[k][2] + d[k][3];
    if (s == 0x12345678) sink[0] = s;
}

__global__ void loop_bf16(float *sink)
{
    unsigned a0 = 0x3f803f80u + threadIdx.x, a1 = a0 ^ 1, a2 = a0 ^ 2, a3 = a0 ^ 3, b0 = a0 ^ 4, b1 = a0 ^ 5;
    float d[ACC][4] = {};
    for (int it = 0; it < ITERS; it++)
#pragma unroll
        for (int k = 0; k < ACC; k++)
            asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0,%1,%2,%3}, {%4,%5,%6,%7}, {%8,%9}, "
                         "{%0,%1,%2,%3};\n"
                         : "+f"(d[k][0]), "+f"(d[k][1]), "+f"(d[k][2]), "+f"(d[k][3])
                         : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
    float s = 0;
    for (int k = 0; k < ACC; k++) s += d[k][0] + d[k][1] + d[k][2] + d[k][3];
    if (s == 1234.5f) sink[0] = s;
}

static double time_ms(void (*launch)(void *), void *arg)
{
    cudaEvent_t e0, e1;
    cudaEventCreate(&e0), cudaEventCreate(&e1);
    launch(arg); /* warm up */
    cudaEventRecord(e0);
    launch(arg);
    cudaEventRecord(e1);
    cudaEventSynchronize(e1);
    float ms = 0;
    cudaEventElapsedTime(&ms, e0, e1);
    cudaEventDestroy(e0), cudaEventDestroy(e1);
    return ms;
}

static int sms;
static void *sink;
static void launch_s8(void *) { loop_s8<<<sms * 8, 256>>>((int *)sink); }
static void launch_bf16(void *) { loop_bf16<<<sms * 8, 256>>>((float *)sink); }

#ifdef HAVE_CUBLAS
typedef struct {
    cublasHandle_t h;
    int n, bf16;
    void *a, *b, *c;
} gemm_arg;

static cublasStatus_t gemm_status;
static void launch_gemm(void *p)
{
    gemm_arg *g = (gemm_arg *)p;
    if (g->bf16) {
        float one = 1, zero = 0;
        gemm_status = cublasGemmEx(g->h, CUBLAS_OP_T, CUBLAS_OP_N, g->n, g->n, g->n, &one, g->a, CUDA_R_16BF, g->n,
                                   g->b, CUDA_R_16BF, g->n, &zero, g->c, CUDA_R_32F, g->n, CUBLAS_COMPUTE_32F,
                                   CUBLAS_GEMM_DEFAULT);
    } else {
        int one = 1, zero = 0;
        gemm_status = cublasGemmEx(g->h, CUBLAS_OP_T, CUBLAS_OP_N, g->n, g->n, g->n, &one, g->a, CUDA_R_8I, g->n,
                                   g->b, CUDA_R_8I, g->n, &zero, g->c, CUDA_R_32I, g->n, CUBLAS_COMPUTE_32I,
                                   CUBLAS_GEMM_DEFAULT);
    }
}
#endif

int main(void)
{
    cudaDeviceProp prop;
    if (cudaGetDeviceProperties(&prop, 0) != cudaSuccess) {
        printf("gpu-ceiling: no GPU\n");
        return 1;
    }
    sms = prop.multiProcessorCount;
    cudaMalloc(&sink, 16);
    printf("# %s, %d SMs\n| ceiling | TOPS (dense) |\n|---|---|\n", prop.name, sms);
    double mmas = (double)sms * 8 * 8 * ITERS * ACC; /* blocks x warps x iterations x accumulators */
    double ms = time_ms(launch_s8, NULL);
    printf("| int8 mma.sync m16n8k32 loop | %.0f |\n", mmas * 2 * 16 * 8 * 32 / (ms * 1e-3) / 1e12);
    ms = time_ms(launch_bf16, NULL);
    printf("| bf16 mma.sync m16n8k16 loop | %.0f |\n", mmas * 2 * 16 * 8 * 16 / (ms * 1e-3) / 1e12);
#ifdef HAVE_CUBLAS
    gemm_arg g = {};
    g.n = 8192;
    cublasCreate(&g.h);
    size_t nn = (size_t)g.n * g.n;
    cudaMalloc(&g.a, nn * 2), cudaMalloc(&g.b, nn * 2), cudaMalloc(&g.c, nn * 4);
    cudaMemset(g.a, 0, nn * 2), cudaMemset(g.b, 0, nn * 2);
    for (g.bf16 = 0; g.bf16 < 2; g.bf16++) {
        ms = time_ms(launch_gemm, &g);
        if (gemm_status != CUBLAS_STATUS_SUCCESS)
            printf("| cublasGemmEx %s 8192^3 | error %d |\n", g.bf16 ? "bf16" : "int8", (int)gemm_status);
        else
            printf("| cublasGemmEx %s 8192^3 | %.0f |\n", g.bf16 ? "bf16" : "int8",
                   2.0 * g.n * (double)g.n * g.n / (ms * 1e-3) / 1e12);
    }
    cublasDestroy(g.h);
#else
    printf("| cuBLAS | not found on this machine |\n");
#endif
    cudaError_t err = cudaDeviceSynchronize();
    if (err != cudaSuccess) printf("gpu-ceiling: CUDA error: %s\n", cudaGetErrorString(err));
    return err == cudaSuccess ? 0 : 1;
}
