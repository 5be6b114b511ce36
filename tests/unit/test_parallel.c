/* test_parallel.c - the parallel-for (src/parallel.c): every item runs
 * exactly once per call, for one caller, for callers on several threads at
 * once (more of them than there are pools) and for calls nested in items. */
#include "internal.h"
#include "test.h"

#include <pthread.h>
#include <stdatomic.h>

enum { ITEMS = 500, CALLS = 300, CALLERS = 6 };

typedef struct {
    atomic_int runs[ITEMS];
    int nested;          /* threads of a parallel-for inside each item (0: none) */
} tally;

static void count_item(void *context, size_t i)
{
    tally *t = context;
    atomic_fetch_add(&t->runs[i], 1);
}

static void nesting_item(void *context, size_t i)
{
    tally *t = context;
    tally inner = {.nested = 0};
    hlz_parallel_for(t->nested, 40, count_item, &inner);
    int once = 1;
    for (size_t k = 0; k < 40; k++) once &= atomic_load(&inner.runs[k]) == 1;
    if (once) atomic_fetch_add(&t->runs[i], 1);
}

/* `calls` calls of `threads` threads over ITEMS items: each item ran `calls` times. */
static int run_calls(int threads, int calls, int nested)
{
    tally *t = calloc(1, sizeof *t);
    if (!t) return 0;
    t->nested = nested;
    for (int c = 0; c < calls; c++) hlz_parallel_for(threads, nested ? 20 : ITEMS, nested ? nesting_item : count_item, t);
    int ok = 1;
    for (size_t i = 0; i < (nested ? 20u : (size_t)ITEMS); i++) ok &= atomic_load(&t->runs[i]) == calls;
    free(t);
    return ok;
}

static void one_caller(void)
{
    for (int threads = 1; threads <= 5; threads++) CHECK_MSG(run_calls(threads, CALLS, 0), "%d threads", threads);
    CHECK(run_calls(3, 1, 0));
    hlz_parallel_for(4, 0, count_item, NULL); /* no items: nothing runs */
}

typedef struct {
    int threads, ok;
} caller;

static void *caller_main(void *arg)
{
    caller *c = arg;
    c->ok = run_calls(c->threads, CALLS, 0);
    return NULL;
}

/* More callers at once than pools: some get pooled workers, the others
 * threads made for their calls; all get every item once. */
static void many_callers(void)
{
    pthread_t ids[CALLERS];
    caller c[CALLERS];
    for (int i = 0; i < CALLERS; i++) {
        c[i] = (caller){.threads = 2 + i % 3, .ok = 0};
        CHECK(pthread_create(&ids[i], NULL, caller_main, &c[i]) == 0);
    }
    for (int i = 0; i < CALLERS; i++) pthread_join(ids[i], NULL);
    for (int i = 0; i < CALLERS; i++) CHECK_MSG(c[i].ok, "caller %d", i);
}

static void nested_calls(void)
{
    CHECK(run_calls(3, 20, 2));
    CHECK(run_calls(1, 20, 3));
}

int main(void)
{
    RUN(one_caller);
    RUN(many_callers);
    RUN(nested_calls);
    TEST_MAIN_END();
}
