/* parallel.c - a minimal parallel-for over independent items. */
#include "internal.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

typedef struct {
    void (*fn)(void *context, size_t i);
    void *context;
    size_t count;
    atomic_size_t next;
} work;

static void *worker(void *arg)
{
    work *w = arg;
    for (;;) {
        size_t i = atomic_fetch_add(&w->next, 1);
        if (i >= w->count) return NULL;
        w->fn(w->context, i);
    }
}

void hlz_parallel_for(int threads, size_t count, void (*fn)(void *context, size_t i), void *context)
{
    work w = {.fn = fn, .context = context, .count = count};
    atomic_init(&w.next, 0);
    if (threads > HLZ_THREADS_MAX) threads = HLZ_THREADS_MAX;
    size_t extra = threads > 1 ? (size_t)threads - 1 : 0;
    if (extra > count) extra = count ? count - 1 : 0;
    pthread_t ids[HLZ_THREADS_MAX];
    size_t started = 0;
    while (started < extra && pthread_create(&ids[started], NULL, worker, &w) == 0) started++;
    worker(&w);
    for (size_t i = 0; i < started; i++) pthread_join(ids[i], NULL);
}
