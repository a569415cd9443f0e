/* SPDX-License-Identifier: MIT */
/*
 * metrics.h - the Prometheus metrics of docs/api.md: requests by function
 * and status code, request durations by function, elements computed,
 * queue depth, in-flight requests, rejections by reason and build info.
 *
 * Series are fixed at start-up from the route table and the function
 * registry, so recording is a few atomic additions with no lock and no
 * allocation. Threading: record from any thread; render from any thread.
 */
#ifndef LOSSD_SERVICE_METRICS_H
#define LOSSD_SERVICE_METRICS_H

#include <stddef.h>

#include "buf.h"
#include "fault.h"
#include "route.h"

typedef struct lossd_metrics lossd_metrics;

typedef enum {
    LOSSD_REJECT_OVERLOADED,
    LOSSD_REJECT_DRAINING,
    LOSSD_REJECT_TOO_LARGE,
    LOSSD_REJECT_UNAUTHORIZED,
    LOSSD_REJECT_SLOW_CLIENT, /* cut off for not delivering a request within --timeout */
    LOSSD_REJECT_COUNT
} lossd_reject_reason;

lossd_metrics *lossd_metrics_create(void);
void lossd_metrics_destroy(lossd_metrics *m);

/* One finished request: its route, HTTP status, duration and numbers read. */
void lossd_metrics_request(lossd_metrics *m, const lossd_route *route, int status, double seconds,
                           size_t elements);

void lossd_metrics_reject(lossd_metrics *m, lossd_reject_reason reason);

/* Gauges read at render time. */
typedef struct {
    size_t queue_depth;
    size_t inflight; /* compute requests in the pool or being answered */
    size_t open;     /* every request from its headers to its completion */
} lossd_gauges;

/* Renders the text exposition format 0.0.4. */
void lossd_metrics_render(lossd_metrics *m, const lossd_gauges *g, lossd_buf *out);

#endif /* LOSSD_SERVICE_METRICS_H */
