/* SPDX-License-Identifier: MIT */
/*
 * exec.h - how code below the server asks for parallel work without
 * knowing the worker pool: a parallel-for the pool implements. With no
 * executor, or one task, the loop simply runs on the calling thread.
 */
#ifndef LOSSD_SERVICE_EXEC_H
#define LOSSD_SERVICE_EXEC_H

#include <stddef.h>

/* One task of a parallel-for: `index` runs from 0 to n - 1, in any order, on any thread. */
typedef void (*lossd_task_fn)(void *arg, size_t index);

typedef struct {
    /* Runs fn(arg, i) for every i < n and returns when all have finished. */
    void (*parallel_for)(void *impl, size_t n, lossd_task_fn fn, void *arg);
    void *impl;
    size_t width; /* threads that may take part (1: sequential) */
} lossd_exec;

static inline void lossd_exec_for(const lossd_exec *e, size_t n, lossd_task_fn fn, void *arg)
{
    if (e && e->parallel_for && e->width > 1 && n > 1) {
        e->parallel_for(e->impl, n, fn, arg);
        return;
    }
    for (size_t i = 0; i < n; i++)
        fn(arg, i);
}

#endif /* LOSSD_SERVICE_EXEC_H */
