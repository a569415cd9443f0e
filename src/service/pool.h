/* SPDX-License-Identifier: MIT */
/*
 * pool.h - the worker pool: a bounded queue of request jobs served by N
 * threads, and a parallel-for through which a job (a large call, a batch)
 * lets idle workers help with it.
 *
 * Threading: every function may be called from any thread, including from
 * inside a job. lossd_pool_destroy() waits for every accepted job.
 */
#ifndef LOSSD_SERVICE_POOL_H
#define LOSSD_SERVICE_POOL_H

#include <stddef.h>

#include "exec.h"

typedef struct lossd_pool lossd_pool;

typedef void (*lossd_job_fn)(void *arg);

/* Starts n_workers threads behind a queue of at most `capacity` waiting jobs. NULL on failure. */
lossd_pool *lossd_pool_create(size_t n_workers, size_t capacity);

/*
 * Queues fn(arg) and returns 0; a worker runs it. If the queue is full (or
 * the pool is stopping), returns -1 at once and nothing runs. `cost` is a
 * hint of the job's size (the server passes the body's bytes): small jobs
 * are left to workers already awake, large ones wake more.
 */
int lossd_pool_submit(lossd_pool *p, lossd_job_fn fn, void *arg, size_t cost);

/* Jobs waiting in the queue, and jobs being run. */
size_t lossd_pool_queued(lossd_pool *p);
size_t lossd_pool_running(lossd_pool *p);

/* An executor whose parallel_for shares work with idle workers (valid while p lives). */
const lossd_exec *lossd_pool_exec(lossd_pool *p);

/* Stops taking jobs, lets the accepted ones finish, joins the threads and frees p. */
void lossd_pool_destroy(lossd_pool *p);

#endif /* LOSSD_SERVICE_POOL_H */
