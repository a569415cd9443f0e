/* SPDX-License-Identifier: MIT */
/*
 * check_pool.c - the worker pool (pool.c): every job runs, the queue's
 * capacity is kept, large jobs get a worker of their own, parallel-fors
 * (nested ones too) run each index once, and destroy waits for running
 * jobs. Tests that start threads join them before they return.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "../src/service/pool.h"
#include "serviceutil.h"

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Polls `cond` for up to 10 s, then asserts it. */
#define WAIT_FOR(cond)                                                       \
    do {                                                                     \
        for (int ms_ = 0; !(cond) && ms_ < 10000; ms_++)                     \
            sleep_ms(1);                                                     \
        ck_assert_msg((cond), "timed out after 10 s waiting for %s", #cond); \
    } while (0)

/* Jobs report through a gate: a lock, a condition and counters. */
typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    bool open;      /* blocked jobs may finish */
    size_t waiting; /* blocked jobs inside */
    size_t done;    /* jobs finished */
} gate;

static void gate_init(gate *g)
{
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->changed, NULL);
    g->open = false;
    g->waiting = g->done = 0;
}

static void gate_destroy(gate *g)
{
    pthread_cond_destroy(&g->changed);
    pthread_mutex_destroy(&g->lock);
}

static void gate_open(gate *g)
{
    pthread_mutex_lock(&g->lock);
    g->open = true;
    pthread_cond_broadcast(&g->changed);
    pthread_mutex_unlock(&g->lock);
}

static size_t gate_read(gate *g, const size_t *counter)
{
    pthread_mutex_lock(&g->lock);
    size_t n = *counter;
    pthread_mutex_unlock(&g->lock);
    return n;
}

/* Waits up to `seconds` for *counter to reach want; returns what it reached. */
static size_t gate_wait_for(gate *g, const size_t *counter, size_t want, int seconds)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += seconds;
    pthread_mutex_lock(&g->lock);
    while (*counter < want && pthread_cond_timedwait(&g->changed, &g->lock, &deadline) == 0)
        ;
    size_t n = *counter;
    pthread_mutex_unlock(&g->lock);
    return n;
}

static size_t gate_wait(gate *g, const size_t *counter, size_t want)
{
    return gate_wait_for(g, counter, want, 10);
}

/* A job that counts itself done. */
static void count_job(void *arg)
{
    gate *g = arg;
    pthread_mutex_lock(&g->lock);
    g->done++;
    pthread_cond_broadcast(&g->changed);
    pthread_mutex_unlock(&g->lock);
}

/* A job that waits until the gate opens, then counts itself done. */
static void blocked_job(void *arg)
{
    gate *g = arg;
    pthread_mutex_lock(&g->lock);
    g->waiting++;
    pthread_cond_broadcast(&g->changed);
    while (!g->open)
        pthread_cond_wait(&g->changed, &g->lock);
    g->waiting--;
    g->done++;
    pthread_cond_broadcast(&g->changed);
    pthread_mutex_unlock(&g->lock);
}

/* A job that must never run. */
static void forbidden_job(void *arg)
{
    atomic_store((atomic_bool *)arg, true);
}

START_TEST(pool_runs_every_job)
{
    ck_assert_ptr_null(lossd_pool_create(0, 8));
    ck_assert_ptr_null(lossd_pool_create(2, 0));
    lossd_pool *p = lossd_pool_create(4, 64);
    ck_assert_ptr_nonnull(p);
    ck_assert_uint_eq(lossd_pool_exec(p)->width, 4);
    gate g;
    gate_init(&g);
    const size_t n_jobs = 5000;
    for (size_t i = 0; i < n_jobs; i++) {
        /* Mixed cost hints: small ones, and large ones that wake more workers. */
        size_t cost = i % 7 == 0 ? (size_t)1 << 20 : 100;
        while (lossd_pool_submit(p, count_job, &g, cost) != 0)
            sleep_ms(1); /* the queue is full: let the workers catch up */
    }
    ck_assert_uint_eq(gate_wait(&g, &g.done, n_jobs), n_jobs);
    WAIT_FOR(lossd_pool_running(p) == 0);
    ck_assert_uint_eq(lossd_pool_queued(p), 0);
    lossd_pool_destroy(p);
    ck_assert_uint_eq(g.done, n_jobs); /* and not one more */
    gate_destroy(&g);
}
END_TEST

/*
 * Tests that block workers keep their gate in static storage: should an
 * assertion fail while a worker waits on it (with CK_FORK=no the process
 * goes on), the worker keeps waiting on valid memory.
 */
START_TEST(pool_queue_capacity)
{
    static gate g;
    gate_init(&g);
    lossd_pool *p = lossd_pool_create(1, 4);
    ck_assert_ptr_nonnull(p);
    static atomic_bool ran;
    atomic_store(&ran, false);
    /* The only worker takes a job that blocks. */
    ck_assert_int_eq(lossd_pool_submit(p, blocked_job, &g, 0), 0);
    ck_assert_uint_eq(gate_wait(&g, &g.waiting, 1), 1);
    ck_assert_uint_eq(lossd_pool_running(p), 1);
    ck_assert_uint_eq(lossd_pool_queued(p), 0);
    /* Four wait in the queue; a fifth is refused at once and never runs. */
    for (size_t i = 0; i < 4; i++) {
        ck_assert_int_eq(lossd_pool_submit(p, count_job, &g, 10), 0);
        ck_assert_uint_eq(lossd_pool_queued(p), i + 1);
    }
    ck_assert_int_eq(lossd_pool_submit(p, forbidden_job, &ran, 10), -1);
    ck_assert_int_eq(lossd_pool_submit(p, forbidden_job, &ran, (size_t)1 << 30), -1);
    ck_assert_uint_eq(lossd_pool_queued(p), 4);
    ck_assert_uint_eq(lossd_pool_running(p), 1);
    ck_assert_uint_eq(gate_read(&g, &g.done), 0);
    /* Open the gate: the blocked job and the four queued ones all run. */
    gate_open(&g);
    ck_assert_uint_eq(gate_wait(&g, &g.done, 5), 5);
    WAIT_FOR(lossd_pool_running(p) == 0 && lossd_pool_queued(p) == 0);
    /* The ring wraps: the queue takes four again. */
    for (size_t i = 0; i < 4; i++)
        ck_assert_int_eq(lossd_pool_submit(p, count_job, &g, 10), 0);
    ck_assert_uint_eq(gate_wait(&g, &g.done, 9), 9);
    lossd_pool_destroy(p);
    ck_assert(!atomic_load(&ran));
    ck_assert_uint_eq(g.done, 9);
    gate_destroy(&g);
}
END_TEST

/*
 * pool.h: "small jobs are left to workers already awake, large ones wake
 * more"; pool.c: a large job "gets its own worker". So a second large job
 * submitted while one worker is busy must start on the sleeping worker,
 * not wait in the queue until the first job ends.
 */
START_TEST(pool_large_jobs_get_their_own_worker)
{
    static gate g;
    gate_init(&g);
    lossd_pool *p = lossd_pool_create(2, 8);
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(lossd_pool_submit(p, blocked_job, &g, (size_t)1 << 20), 0);
    ck_assert_uint_eq(gate_wait(&g, &g.waiting, 1), 1);
    WAIT_FOR(lossd_pool_running(p) == 1 && lossd_pool_queued(p) == 0);
    sleep_ms(50); /* let the idle worker settle into its sleep */
    ck_assert_int_eq(lossd_pool_submit(p, blocked_job, &g, (size_t)1 << 20), 0);
    size_t side_by_side = gate_wait_for(&g, &g.waiting, 2, 3);
    size_t running = lossd_pool_running(p), queued = lossd_pool_queued(p);
    /* Release both before judging, so that a failure leaves no worker blocked. */
    gate_open(&g);
    ck_assert_uint_eq(gate_wait(&g, &g.done, 2), 2);
    lossd_pool_destroy(p);
    gate_destroy(&g);
    ck_assert_msg(side_by_side == 2,
                  "a large job waited 3 s in the queue while a worker slept "
                  "(running %zu, queued %zu)",
                  running, queued);
}
END_TEST

/* A parallel-for's bookkeeping: how often each index ran, and their sum. */
typedef struct {
    atomic_uchar *hits;
    atomic_ullong sum;
    size_t n;
} tally;

static void tally_task(void *arg, size_t i)
{
    tally *t = arg;
    atomic_fetch_add(&t->hits[i], 1);
    atomic_fetch_add(&t->sum, (unsigned long long)i);
}

static void tally_init(tally *t, size_t n)
{
    t->hits = calloc(n ? n : 1, sizeof *t->hits);
    atomic_init(&t->sum, 0);
    t->n = n;
}

/* Every index ran exactly once. */
static void tally_check(tally *t)
{
    for (size_t i = 0; i < t->n; i++)
        ck_assert_msg(atomic_load(&t->hits[i]) == 1, "index %zu ran %d times", i,
                      (int)atomic_load(&t->hits[i]));
    unsigned long long n = t->n;
    ck_assert_uint_eq(atomic_load(&t->sum), n ? n * (n - 1) / 2 : 0);
    free(t->hits);
}

/* Two tasks that each wait for the other to start: they need two threads at once. */
typedef struct {
    atomic_int started;
    atomic_bool met;
} rendezvous;

static void rendezvous_task(void *arg, size_t i)
{
    rendezvous *r = arg;
    atomic_fetch_add(&r->started, 1);
    for (int ms = 0; ms < 5000 && atomic_load(&r->started) < 2; ms++)
        sleep_ms(1);
    if (atomic_load(&r->started) >= 2)
        atomic_store(&r->met, true);
}

START_TEST(pool_parallel_for)
{
    lossd_pool *p = lossd_pool_create(4, 16);
    const lossd_exec *exec = lossd_pool_exec(p);
    ck_assert_ptr_eq(lossd_pool_exec(p), exec);
    const size_t sizes[] = {0, 1, 2, 3, 100, 100000};
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        tally t;
        tally_init(&t, sizes[s]);
        lossd_exec_for(exec, t.n, tally_task, &t);
        tally_check(&t);
    }
    /* Sequential without an executor, too. */
    tally t;
    tally_init(&t, 1000);
    lossd_exec_for(NULL, t.n, tally_task, &t);
    tally_check(&t);
    /* Idle workers really take part. */
    rendezvous r = {0};
    lossd_exec_for(exec, 2, rendezvous_task, &r);
    ck_assert_msg(atomic_load(&r.met), "no worker helped with a parallel-for");
    lossd_pool_destroy(p);
}
END_TEST

/* A pool job that runs a parallel-for whose tasks run parallel-fors. */
typedef struct {
    const lossd_exec *exec;
    atomic_uchar *hits; /* outer x inner */
    size_t outer, inner;
    gate *g;
} nested_job_ctx;

typedef struct {
    nested_job_ctx *ctx;
    size_t row;
} nested_row;

static void nested_inner(void *arg, size_t j)
{
    nested_row *row = arg;
    atomic_fetch_add(&row->ctx->hits[row->row * row->ctx->inner + j], 1);
}

static void nested_outer(void *arg, size_t i)
{
    nested_job_ctx *ctx = arg;
    nested_row row = {ctx, i};
    lossd_exec_for(ctx->exec, ctx->inner, nested_inner, &row);
}

static void nested_job(void *arg)
{
    nested_job_ctx *ctx = arg;
    lossd_exec_for(ctx->exec, ctx->outer, nested_outer, ctx);
    count_job(ctx->g);
}

START_TEST(pool_nested_parallel_for)
{
    lossd_pool *p = lossd_pool_create(3, 8);
    gate g;
    gate_init(&g);
    enum { N_JOBS = 4, OUTER = 64, INNER = 500 };
    nested_job_ctx ctx[N_JOBS];
    for (int k = 0; k < N_JOBS; k++) {
        ctx[k] = (nested_job_ctx){lossd_pool_exec(p), calloc(OUTER * INNER, sizeof(atomic_uchar)),
                                  OUTER, INNER, &g};
        ck_assert_int_eq(lossd_pool_submit(p, nested_job, &ctx[k], (size_t)1 << 20), 0);
    }
    /* Meanwhile the test thread runs its own parallel-for on the same pool. */
    tally t;
    tally_init(&t, 50000);
    lossd_exec_for(lossd_pool_exec(p), t.n, tally_task, &t);
    tally_check(&t);
    ck_assert_uint_eq(gate_wait(&g, &g.done, N_JOBS), N_JOBS);
    for (int k = 0; k < N_JOBS; k++) {
        for (size_t i = 0; i < OUTER * INNER; i++)
            ck_assert_msg(atomic_load(&ctx[k].hits[i]) == 1, "job %d, index %zu ran %d times", k, i,
                          (int)atomic_load(&ctx[k].hits[i]));
        free(ctx[k].hits);
    }
    lossd_pool_destroy(p);
    gate_destroy(&g);
}
END_TEST

/* A job that takes a while, then counts itself done. */
static void slow_job(void *arg)
{
    sleep_ms(20);
    atomic_fetch_add((atomic_size_t *)arg, 1);
}

START_TEST(pool_destroy_waits)
{
    lossd_pool *p = lossd_pool_create(2, 16);
    atomic_size_t done = 0;
    for (int i = 0; i < 10; i++)
        ck_assert_int_eq(lossd_pool_submit(p, slow_job, &done, 10), 0);
    lossd_pool_destroy(p); /* the ten accepted jobs finish first */
    ck_assert_uint_eq(atomic_load(&done), 10);
    lossd_pool_destroy(NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("pool");
    add_case(s, "pool", 60, NULL, NULL,
             TESTS(pool_runs_every_job, pool_queue_capacity, pool_large_jobs_get_their_own_worker,
                   pool_parallel_for, pool_nested_parallel_for, pool_destroy_waits));
    return run_service_suite(s);
}
