/*
 * gpu_api.cu - what the CUDA runtime's calls cost on the host, on this
 * machine (bench/gpu_profile.sh): hlz queues about 93 launches and a few
 * small pinned uploads per evaluation, and that queueing measured 4-8 ms per
 * call, far more than launch overhead should be. Each row is the host time of
 * one call, the median of REPEATS batches, with the GPU idle and with the GPU
 * busy (a spinning kernel queued first, so that a call which waits for the
 * stream shows the spin's length):
 *   - an empty kernel launch; cudaEventRecord;
 *   - cudaMemcpyAsync host to device of 4 KiB and 256 KiB, from pinned
 *     (cudaHostAlloc) and from pageable (malloc) memory;
 *   - a CUDA graph of 96 empty kernels: capture, instantiate, update an
 *     instantiated graph from a new capture (cudaGraphExecUpdate), launch.
 * Prints one markdown table. Build: nvcc -O3 -arch=sm_90 bench/gpu_api.cu.
 */
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define REPEATS 7
#define PER_BATCH 96 /* calls per timed batch: hlz's launches per evaluation */
#define SPIN_NS 200000000ull

#define CHECK(x)                                                                          \
    do {                                                                                  \
        cudaError_t err_ = (x);                                                           \
        if (err_ != cudaSuccess) {                                                        \
            fprintf(stderr, "gpu-api: %s: %s\n", #x, cudaGetErrorString(err_));           \
            exit(1);                                                                      \
        }                                                                                 \
    } while (0)

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

__global__ void k_empty(int *p)
{
    if (p && threadIdx.x == 1024) p[0] = 1; /* never: keeps the launch real */
}

__global__ void k_spin(unsigned long long ns)
{
    unsigned long long t0;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t0));
    for (;;) {
        unsigned long long t;
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(t));
        if (t - t0 >= ns) break;
    }
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef enum { LAUNCH, EVENT, COPY_PINNED_4K, COPY_PINNED_256K, COPY_PAGEABLE_4K, COPY_PAGEABLE_256K } op_kind;

static char *pinned, *pageable, *dev;
static cudaEvent_t ev;

static void one(op_kind k, cudaStream_t s)
{
    switch (k) {
    case LAUNCH: k_empty<<<1, 32, 0, s>>>(NULL); break;
    case EVENT: CHECK(cudaEventRecord(ev, s)); break;
    case COPY_PINNED_4K: CHECK(cudaMemcpyAsync(dev, pinned, 4096, cudaMemcpyHostToDevice, s)); break;
    case COPY_PINNED_256K: CHECK(cudaMemcpyAsync(dev, pinned, 262144, cudaMemcpyHostToDevice, s)); break;
    case COPY_PAGEABLE_4K: CHECK(cudaMemcpyAsync(dev, pageable, 4096, cudaMemcpyHostToDevice, s)); break;
    case COPY_PAGEABLE_256K: CHECK(cudaMemcpyAsync(dev, pageable, 262144, cudaMemcpyHostToDevice, s)); break;
    }
}

/* Median host microseconds per call of kind k, batches of n, GPU idle or busy. */
static double per_call(op_kind k, int n, bool busy, cudaStream_t s)
{
    double t[REPEATS];
    for (int r = 0; r < REPEATS; r++) {
        CHECK(cudaDeviceSynchronize());
        if (busy) k_spin<<<1, 1, 0, s>>>(SPIN_NS);
        double t0 = now_us();
        for (int i = 0; i < n; i++) one(k, s);
        t[r] = (now_us() - t0) / n;
        CHECK(cudaDeviceSynchronize());
    }
    qsort(t, REPEATS, sizeof *t, cmp);
    return t[REPEATS / 2];
}

static void capture(cudaStream_t s, cudaGraph_t *g)
{
    CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeThreadLocal));
    for (int i = 0; i < PER_BATCH; i++) k_empty<<<1, 32, 0, s>>>((int *)(dev + i)); /* other params each time */
    CHECK(cudaStreamEndCapture(s, g));
}

int main(void)
{
    cudaDeviceProp prop;
    CHECK(cudaGetDeviceProperties(&prop, 0));
    CHECK(cudaHostAlloc((void **)&pinned, 262144, cudaHostAllocDefault));
    pageable = (char *)malloc(262144);
    memset(pinned, 1, 262144), memset(pageable, 1, 262144);
    CHECK(cudaMalloc((void **)&dev, 262144));
    CHECK(cudaEventCreateWithFlags(&ev, cudaEventDisableTiming));
    cudaStream_t s;
    CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
    for (int i = 0; i < 100; i++) one(LAUNCH, s); /* warm up */
    CHECK(cudaDeviceSynchronize());

    printf("# gpu-api on %s: host time of one call, us, median of %d batches of %d (busy: behind a %.0f ms kernel)\n",
           prop.name, REPEATS, PER_BATCH, SPIN_NS / 1e6);
    printf("| call | GPU idle (us) | GPU busy (us) |\n|---|---:|---:|\n");
    const char *names[] = {"empty kernel launch", "cudaEventRecord", "cudaMemcpyAsync 4 KiB pinned",
                           "cudaMemcpyAsync 256 KiB pinned", "cudaMemcpyAsync 4 KiB pageable",
                           "cudaMemcpyAsync 256 KiB pageable"};
    for (int k = 0; k <= COPY_PAGEABLE_256K; k++) {
        int n = k >= COPY_PAGEABLE_4K ? 8 : PER_BATCH; /* a pageable copy that waits would take 8 spins */
        double idle = per_call((op_kind)k, n, false, s), busy = per_call((op_kind)k, n, true, s);
        printf("| %s | %.2f | %.2f |\n", names[k], idle, busy);
    }
    /* The same launches on the legacy default stream (hlz's stream 0). */
    printf("| empty kernel launch, stream 0 | %.2f | %.2f |\n", per_call(LAUNCH, PER_BATCH, false, 0),
           per_call(LAUNCH, PER_BATCH, true, 0));
    printf("| cudaMemcpyAsync 256 KiB pinned, stream 0 | %.2f | %.2f |\n", per_call(COPY_PINNED_256K, PER_BATCH, false, 0),
           per_call(COPY_PINNED_256K, PER_BATCH, true, 0));

    /* Graphs: the whole batch of PER_BATCH launches as one graph. */
    double cap[REPEATS], inst[REPEATS], upd[REPEATS], launch[REPEATS], busy_launch[REPEATS];
    cudaGraph_t g;
    cudaGraphExec_t ge;
    capture(s, &g);
    CHECK(cudaGraphInstantiate(&ge, g, 0));
    CHECK(cudaGraphDestroy(g));
    for (int r = 0; r < REPEATS; r++) {
        CHECK(cudaDeviceSynchronize());
        double t0 = now_us();
        capture(s, &g);
        double t1 = now_us();
        cudaGraphExec_t ge2;
        CHECK(cudaGraphInstantiate(&ge2, g, 0));
        double t2 = now_us();
        cudaGraphExecUpdateResultInfo info;
        CHECK(cudaGraphExecUpdate(ge, g, &info));
        double t3 = now_us();
        CHECK(cudaGraphLaunch(ge, s));
        double t4 = now_us();
        CHECK(cudaDeviceSynchronize());
        k_spin<<<1, 1, 0, s>>>(SPIN_NS);
        double t5 = now_us();
        CHECK(cudaGraphLaunch(ge, s));
        double t6 = now_us();
        CHECK(cudaDeviceSynchronize());
        cap[r] = t1 - t0, inst[r] = t2 - t1, upd[r] = t3 - t2, launch[r] = t4 - t3, busy_launch[r] = t6 - t5;
        CHECK(cudaGraphExecDestroy(ge2));
        CHECK(cudaGraphDestroy(g));
    }
    double *cols[] = {cap, inst, upd, launch, busy_launch};
    for (int c = 0; c < 5; c++) qsort(cols[c], REPEATS, sizeof(double), cmp);
    printf("| graph of %d launches: capture | %.1f | |\n", PER_BATCH, cap[REPEATS / 2]);
    printf("| graph: instantiate | %.1f | |\n", inst[REPEATS / 2]);
    printf("| graph: cudaGraphExecUpdate | %.1f | |\n", upd[REPEATS / 2]);
    printf("| graph: launch | %.1f | %.1f |\n", launch[REPEATS / 2], busy_launch[REPEATS / 2]);
    /* GPU time of the 96 launches back to back, plain and as a graph. */
    cudaEvent_t a, b;
    CHECK(cudaEventCreate(&a));
    CHECK(cudaEventCreate(&b));
    float ms_plain = 0, ms_graph = 0;
    CHECK(cudaEventRecord(a, s));
    for (int i = 0; i < PER_BATCH; i++) k_empty<<<1, 32, 0, s>>>(NULL);
    CHECK(cudaEventRecord(b, s));
    CHECK(cudaEventSynchronize(b));
    CHECK(cudaEventElapsedTime(&ms_plain, a, b));
    CHECK(cudaEventRecord(a, s));
    CHECK(cudaGraphLaunch(ge, s));
    CHECK(cudaEventRecord(b, s));
    CHECK(cudaEventSynchronize(b));
    CHECK(cudaEventElapsedTime(&ms_graph, a, b));
    printf("| GPU span of %d empty kernels: launches / graph (us) | %.1f | %.1f |\n", PER_BATCH, ms_plain * 1e3,
           ms_graph * 1e3);
    return 0;
}
