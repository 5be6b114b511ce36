/* parallel.c - a parallel-for over independent items, on a persistent pool.
 *
 * The forward pass calls hlz_parallel_for hundreds of times per token (one
 * matrix product, one attention step at a time), so creating threads per
 * call would cost more than the work. Worker threads are started once, on
 * first use, and wait for work: they spin briefly (a new job usually comes
 * within microseconds), then sleep on a condition variable. A worker whose
 * CPU is busy elsewhere never delays a job it has not joined: the caller
 * runs the items it finds left and closes the job.
 *
 * One caller at a time owns a pool. There are POOLS of them, so that a few
 * threads can each run parallel-fors at once (the lockstep decoder's
 * cohorts, codec_llm.c): a call takes the first free pool. A call made while
 * every pool is busy (many threads' parallel-fors, or parallel-fors nested
 * inside items) runs the way it always did: on threads created for that
 * call. Items are handed out one by one from an atomic counter, so which
 * thread runs which item is unspecified; callers' results must not depend
 * on it (and in the engine they do not: every item writes its own outputs). */
#include "internal.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#define cpu_relax() __builtin_ia32_pause()
#else
#define cpu_relax() ((void)0)
#endif

#define SPIN_NS 50000 /* how long an idle worker spins before it sleeps */

typedef struct {
    void (*fn)(void *context, size_t i);
    void *context;
    size_t count;
    atomic_size_t next;
} work;

static void run_items(work *w)
{
    for (;;) {
        size_t i = atomic_fetch_add_explicit(&w->next, 1, memory_order_relaxed);
        if (i >= w->count) return;
        w->fn(w->context, i);
    }
}

/* ---- one-off threads (the pool is busy) ----------------------------------- */

static void *spawned_worker(void *arg)
{
    run_items(arg);
    return NULL;
}

static void parallel_spawn(int threads, work *w)
{
    size_t extra = (size_t)threads - 1;
    if (extra > w->count - 1) extra = w->count - 1;
    pthread_t ids[HLZ_THREADS_MAX];
    size_t started = 0;
    while (started < extra && pthread_create(&ids[started], NULL, spawned_worker, w) == 0) started++;
    run_items(w);
    for (size_t i = 0; i < started; i++) pthread_join(ids[i], NULL);
}

/* ---- the pools ----------------------------------------------------------- */

/* The job in progress, in one atomic word: its number (high 32 bits), a
 * closed flag and the number of workers running its items. A worker joins
 * only an open job; the caller closes it when it has no items left and no
 * worker runs any, so a worker that wakes late (its CPU busy with another
 * process) never holds the caller up: it finds the job closed and skips it. */
#define JOB_CLOSED (1ull << 31)
#define JOB_ACTIVE 0x7fffffffull
#define POOLS 4 /* callers running parallel-fors on pooled workers at once */

typedef struct pool pool;

typedef struct {
    _Alignas(64) atomic_ullong go; /* the number of the job this worker is asked to join; 0: none yet */
    pool *home;                    /* the pool the worker belongs to */
} worker_slot;

struct pool {
    pthread_mutex_t owner;       /* held by the caller running a job */
    pthread_mutex_t sleep_lock;
    pthread_cond_t wake;
    atomic_int sleepers;
    atomic_int shutdown;
    int started;
    pthread_t ids[HLZ_THREADS_MAX];
    worker_slot slot[HLZ_THREADS_MAX];
    unsigned long long job;      /* number of the last job (owner only) */
    work *current;
    _Alignas(64) atomic_ullong state;
};

#define POOL_INIT {.owner = PTHREAD_MUTEX_INITIALIZER, .sleep_lock = PTHREAD_MUTEX_INITIALIZER, \
                   .wake = PTHREAD_COND_INITIALIZER}
static pool pools[POOLS] = {POOL_INIT, POOL_INIT, POOL_INIT, POOL_INIT};
_Static_assert(POOLS == 4, "one POOL_INIT per pool");

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Joins job `go` of pool p if it is still open and runs its items. */
static void join_job(pool *p, unsigned long long go)
{
    unsigned long long st = atomic_load_explicit(&p->state, memory_order_acquire);
    for (;;) {
        if ((st >> 32) != (go & 0xffffffffull) || (st & JOB_CLOSED)) return;
        if (atomic_compare_exchange_weak_explicit(&p->state, &st, st + 1, memory_order_acquire,
                                                  memory_order_acquire))
            break;
    }
    run_items(p->current);
    atomic_fetch_sub_explicit(&p->state, 1, memory_order_release);
}

static void *pool_worker(void *arg)
{
    worker_slot *slot = arg;
    pool *p = slot->home;
    unsigned long long seen = 0; /* a worker's slot is first written after the worker exists */
    for (;;) {
        unsigned long long go = atomic_load_explicit(&slot->go, memory_order_acquire);
        if (go == seen) {
            uint64_t start = now_ns();
            for (int spins = 1; (go = atomic_load_explicit(&slot->go, memory_order_acquire)) == seen; spins++) {
                cpu_relax();
                if (spins % 256 == 0 && now_ns() - start > SPIN_NS) {
                    pthread_mutex_lock(&p->sleep_lock);
                    atomic_fetch_add(&p->sleepers, 1);
                    while ((go = atomic_load(&slot->go)) == seen) pthread_cond_wait(&p->wake, &p->sleep_lock);
                    atomic_fetch_sub(&p->sleepers, 1);
                    pthread_mutex_unlock(&p->sleep_lock);
                    break;
                }
            }
        }
        seen = go;
        if (atomic_load(&p->shutdown)) return NULL;
        join_job(p, go);
    }
}

/* Joins the workers at exit (when no job is running), so that tools that
 * look for leaks at exit find none. */
__attribute__((destructor)) static void pool_stop(void)
{
    for (pool *p = pools; p < pools + POOLS; p++) {
        if (pthread_mutex_trylock(&p->owner) != 0) continue;
        if (p->started) {
            atomic_store(&p->shutdown, 1);
            for (int i = 0; i < p->started; i++) atomic_fetch_add(&p->slot[i].go, 1);
            pthread_mutex_lock(&p->sleep_lock);
            pthread_cond_broadcast(&p->wake);
            pthread_mutex_unlock(&p->sleep_lock);
            for (int i = 0; i < p->started; i++) pthread_join(p->ids[i], NULL);
            for (int i = 0; i < p->started; i++) atomic_store(&p->slot[i].go, 0);
            p->started = 0;
            atomic_store(&p->shutdown, 0);
        }
        pthread_mutex_unlock(&p->owner);
    }
}

/* Runs `w` on the caller and up to `helpers` workers of pool p (its owner lock held). */
static void parallel_pool(pool *p, int helpers, work *w)
{
    while (p->started < helpers) {
        p->slot[p->started].home = p;
        if (pthread_create(&p->ids[p->started], NULL, pool_worker, &p->slot[p->started]) != 0) break;
        p->started++;
    }
    if (helpers > p->started) helpers = p->started;
    p->current = w;
    p->job++;
    atomic_store_explicit(&p->state, (p->job & 0xffffffffull) << 32, memory_order_release);
    for (int i = 0; i < helpers; i++) atomic_store(&p->slot[i].go, p->job);
    if (atomic_load(&p->sleepers) > 0) {
        pthread_mutex_lock(&p->sleep_lock);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->sleep_lock);
    }
    run_items(w);
    /* No item is left to start: close the job once no worker runs one. */
    unsigned long long st = atomic_load_explicit(&p->state, memory_order_acquire);
    for (int spins = 1;; spins++) {
        if ((st & JOB_ACTIVE) == 0 &&
            atomic_compare_exchange_weak_explicit(&p->state, &st, st | JOB_CLOSED, memory_order_acq_rel,
                                                  memory_order_acquire))
            break;
        cpu_relax();
        if (spins % 1024 == 0) sched_yield(); /* a worker may share this CPU */
        st = atomic_load_explicit(&p->state, memory_order_acquire);
    }
}

void hlz_parallel_for(int threads, size_t count, void (*fn)(void *context, size_t i), void *context)
{
    work w = {.fn = fn, .context = context, .count = count};
    atomic_init(&w.next, 0);
    if (threads > HLZ_THREADS_MAX) threads = HLZ_THREADS_MAX;
    if (threads > 1 && (size_t)threads > count) threads = count > 1 ? (int)count : 1;
    if (threads <= 1) {
        run_items(&w);
        return;
    }
    for (pool *p = pools; p < pools + POOLS; p++)
        if (pthread_mutex_trylock(&p->owner) == 0) {
            parallel_pool(p, threads - 1, &w);
            pthread_mutex_unlock(&p->owner);
            return;
        }
    parallel_spawn(threads, &w);
}
