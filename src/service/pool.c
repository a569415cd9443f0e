/* SPDX-License-Identifier: MIT */
/*
 * pool.c - the worker pool (see pool.h).
 *
 * Request jobs wait in a ring buffer of fixed capacity. Parallel-for
 * ("shared") work is kept apart from it: the thread that runs the pool's
 * parallel_for (lossd_exec_for() on lossd_pool_exec()) posts a shared
 * task on a short list, claims indices itself with an atomic counter, and
 * idle workers that see the list claim indices too. Workers prefer
 * shared work to new requests, so a large request finishes sooner rather
 * than more requests starting.
 * The caller never waits for a helper that has not started: it waits only
 * for helpers that are already inside the task, which always finish.
 * Nested parallel-fors (a batch job computing a large call) work the same
 * way, because the caller always makes progress on its own.
 *
 * Waking a sleeping worker costs the submitting thread (libmicrohttpd's)
 * a futex call and a context switch, which for small requests costs more
 * than the request; and on a small machine a second worker busy with tiny
 * jobs mostly takes CPU from the I/O thread. A busy worker checks the queue
 * before it sleeps, so submits wake a sleeper only when the work waiting
 * needs one (claim_wake: by count and by each job's cost hint, the body
 * size), and a worker taking a job wakes the next when work still waits.
 * Measured on 2 cores with wrk: small-request throughput rose from 47% to
 * about 70% of a bare libmicrohttpd handler's (docs/performance.md).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../debug.h"
#include "pool.h"

typedef struct shared_task {
    lossd_task_fn fn;
    void *arg;
    size_t n;
    atomic_size_t next;  /* next index to claim */
    size_t helpers;      /* workers inside the task (under the pool lock) */
    bool listed;         /* still on the shared list (under the pool lock) */
    pthread_cond_t done; /* signalled when helpers drops to 0 */
    struct shared_task *prev, *next_task;
} shared_task;

typedef struct {
    lossd_job_fn fn;
    void *arg;
    size_t cost;
} job;

/* A job whose cost hint reaches this is large: it gets its own worker. */
#define LARGE_JOB_COST (64 * 1024)
/* Small jobs waiting per busy worker before another worker is woken. */
#define SMALL_BACKLOG 16

struct lossd_pool {
    pthread_mutex_t lock;
    pthread_cond_t wake; /* a job or shared task arrived, or stopping */
    job *ring;
    size_t capacity, head, count;
    size_t running;       /* workers inside a job */
    size_t running_large; /* of those, inside a large job */
    size_t queued_cost;   /* sum of the waiting jobs' cost hints */
    size_t sleeping;      /* workers waiting on `wake` */
    size_t waking;        /* of those, signalled and not yet back */
    shared_task *shared;  /* list of open shared tasks */
    bool stopping;
    size_t n_threads;
    pthread_t *threads;
    lossd_exec exec;
};

/*
 * Whether a sleeping worker should be woken: more jobs wait than workers
 * are busy or already on their way (signalled, not yet back). Called under
 * the lock; when it says yes, the caller signals `wake` after unlocking, so
 * that the woken worker does not at once block on the lock we still hold.
 */
static bool claim_wake(lossd_pool *p)
{
    /* Workers that will look at the queue soon: not those inside a large job. */
    size_t coming = p->running - p->running_large + p->waking;
    if (p->count <= coming || p->sleeping <= p->waking)
        return false;
    /*
     * Small jobs are cleared by the busy workers faster than a sleeper can
     * be woken, and an extra worker would only take CPU from the I/O
     * thread that feeds them. Wake one when nobody is coming, when large
     * jobs are running or waiting, or when the backlog is long anyway.
     */
    bool needed = coming == 0 || p->running_large > 0 || p->queued_cost >= LARGE_JOB_COST ||
                  p->count > SMALL_BACKLOG * coming;
    if (needed)
        p->waking++;
    return needed;
}

/* Claims and runs indices of t until none are left. */
static void drain_task(shared_task *t)
{
    for (;;) {
        size_t i = atomic_fetch_add(&t->next, 1);
        if (i >= t->n)
            return;
        t->fn(t->arg, i);
    }
}

static void unlist(lossd_pool *p, shared_task *t)
{
    if (!t->listed)
        return;
    if (t->prev)
        t->prev->next_task = t->next_task;
    else
        p->shared = t->next_task;
    if (t->next_task)
        t->next_task->prev = t->prev;
    t->listed = false;
}

static void *worker_main(void *arg)
{
    lossd_pool *p = arg;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        /* Shared work first: it belongs to a request that already started. */
        shared_task *t = p->shared;
        while (t && atomic_load(&t->next) >= t->n)
            t = t->next_task;
        if (t) {
            t->helpers++;
            pthread_mutex_unlock(&p->lock);
            drain_task(t);
            pthread_mutex_lock(&p->lock);
            unlist(p, t); /* exhausted: nobody else need look at it */
            if (--t->helpers == 0)
                pthread_cond_signal(&t->done);
            continue;
        }
        if (p->count > 0) {
            job j = p->ring[p->head];
            p->head = (p->head + 1) % p->capacity;
            p->count--;
            p->queued_cost -= j.cost;
            p->running++;
            bool large = j.cost >= LARGE_JOB_COST;
            p->running_large += large;
            /* More waiting than the busy can take next: bring in a sleeper. */
            bool wake = claim_wake(p);
            pthread_mutex_unlock(&p->lock);
            if (wake)
                pthread_cond_signal(&p->wake);
            j.fn(j.arg);
            pthread_mutex_lock(&p->lock);
            p->running--;
            p->running_large -= large;
            continue;
        }
        if (p->stopping)
            break;
        p->sleeping++;
        pthread_cond_wait(&p->wake, &p->lock);
        p->sleeping--;
        if (p->waking > 0)
            p->waking--;
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

static void parallel_for(void *impl, size_t n, lossd_task_fn fn, void *arg)
{
    LOSSD_ASSERT(impl != NULL && (fn != NULL || n == 0));
    lossd_pool *p = impl;
    shared_task t = {.fn = fn, .arg = arg, .n = n, .listed = true};
    atomic_init(&t.next, 0);
    pthread_cond_init(&t.done, NULL);
    pthread_mutex_lock(&p->lock);
    t.next_task = p->shared;
    if (p->shared)
        p->shared->prev = &t;
    p->shared = &t;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);

    drain_task(&t);

    pthread_mutex_lock(&p->lock);
    unlist(p, &t);
    while (t.helpers > 0)
        pthread_cond_wait(&t.done, &p->lock);
    pthread_mutex_unlock(&p->lock);
    pthread_cond_destroy(&t.done);
}

lossd_pool *lossd_pool_create(size_t n_workers, size_t capacity)
{
    if (n_workers == 0 || capacity == 0)
        return NULL;
    lossd_pool *p = calloc(1, sizeof *p);
    if (p == NULL)
        return NULL;
    p->ring = calloc(capacity, sizeof *p->ring);
    p->threads = calloc(n_workers, sizeof *p->threads);
    if (p->ring == NULL || p->threads == NULL) {
        free(p->ring);
        free(p->threads);
        free(p);
        return NULL;
    }
    p->capacity = capacity;
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->wake, NULL);
    p->exec = (lossd_exec){parallel_for, p, n_workers};
    for (size_t i = 0; i < n_workers; i++) {
        if (pthread_create(&p->threads[i], NULL, worker_main, p) != 0)
            break;
        p->n_threads++;
    }
    if (p->n_threads != n_workers) {
        lossd_pool_destroy(p);
        return NULL;
    }
    return p;
}

int lossd_pool_submit(lossd_pool *p, lossd_job_fn fn, void *arg, size_t cost)
{
    LOSSD_ASSERT(p != NULL && fn != NULL);
    pthread_mutex_lock(&p->lock);
    if (p->stopping || p->count == p->capacity) {
        pthread_mutex_unlock(&p->lock);
        return -1;
    }
    p->ring[(p->head + p->count) % p->capacity] = (job){fn, arg, cost};
    p->count++;
    p->queued_cost += cost;
    bool wake = claim_wake(p);
    pthread_mutex_unlock(&p->lock);
    if (wake)
        pthread_cond_signal(&p->wake);
    return 0;
}

size_t lossd_pool_queued(lossd_pool *p)
{
    LOSSD_ASSERT(p != NULL);
    pthread_mutex_lock(&p->lock);
    size_t n = p->count;
    pthread_mutex_unlock(&p->lock);
    return n;
}

size_t lossd_pool_running(lossd_pool *p)
{
    LOSSD_ASSERT(p != NULL);
    pthread_mutex_lock(&p->lock);
    size_t n = p->running;
    pthread_mutex_unlock(&p->lock);
    return n;
}

const lossd_exec *lossd_pool_exec(lossd_pool *p)
{
    LOSSD_ASSERT(p != NULL);
    return &p->exec;
}

void lossd_pool_destroy(lossd_pool *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->lock);
    for (size_t i = 0; i < p->n_threads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
    free(p->ring);
    free(p->threads);
    free(p);
}
