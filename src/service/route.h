/* SPDX-License-Identifier: MIT */
/*
 * route.h - from method and path to an endpoint: the fixed service
 * endpoints from one table, /v1/{kind}/{name}, /v1/functions/{kind}[/{name}]
 * and /v2/models/{kind}.{name} from the core's function registry (no
 * second list of function names exists), and the files built in (web.h).
 *
 * Thread-safe: reads immutable tables only.
 */
#ifndef LOSSD_SERVICE_ROUTE_H
#define LOSSD_SERVICE_ROUTE_H

#include <lossd/lossd.h>

#include "fault.h"

typedef enum {
    LOSSD_ROUTE_HEALTHZ,
    LOSSD_ROUTE_READYZ,
    LOSSD_ROUTE_METRICS,
    LOSSD_ROUTE_V1,
    LOSSD_ROUTE_FUNCTIONS,
    LOSSD_ROUTE_BATCH,
    LOSSD_ROUTE_COMPUTE,        /* /v1/{kind}/{name}: fn is set */
    LOSSD_ROUTE_FUNCTION,       /* GET /v1/functions/{kind}/{name}: fn is set */
    LOSSD_ROUTE_WEB,            /* a file built into the binary (web.h): asset is set */
    LOSSD_ROUTE_V2,             /* GET /v2: server metadata */
    LOSSD_ROUTE_V2_LIVE,        /* GET /v2/health/live */
    LOSSD_ROUTE_V2_READY,       /* GET /v2/health/ready */
    LOSSD_ROUTE_V2_MODEL,       /* GET /v2/models/{kind.name}[/versions/1]: fn is set */
    LOSSD_ROUTE_V2_MODEL_READY, /* GET .../ready: fn is set */
    LOSSD_ROUTE_V2_INFER,       /* POST .../infer: fn is set */
    LOSSD_ROUTE_FUNCTIONS_KIND, /* GET /v1/functions/{kind}: kind is set */
    LOSSD_ROUTE_V2_INDEX,       /* POST /v2/repository/index: every model and its state */
    LOSSD_ROUTE_OPENAPI,        /* GET /openapi.yaml, /openapi.json (openapi.h) */
    LOSSD_ROUTE_UNKNOWN,        /* no such path: metrics label only */
    LOSSD_ROUTE_COUNT
} lossd_endpoint;

struct lossd_asset;

typedef struct {
    lossd_endpoint endpoint;
    const lossd_function *fn;        /* COMPUTE, FUNCTION and the V2_MODEL* routes */
    size_t fn_index;                 /* fn's place in the registry (lossd_function_at) */
    lossd_kind kind;                 /* FUNCTIONS_KIND, and fn's kind where fn is set */
    const struct lossd_asset *asset; /* LOSSD_ROUTE_WEB */
    bool compute;      /* POST with a body, served by handler.c (on the worker pool when large) */
    bool needs_key;    /* under /v1 and /v2/models: needs the API key when keys are configured */
    const char *allow; /* the Allow header for 405 */
    bool v2;           /* under /v2: errors in the Open Inference Protocol's form */
} lossd_route;

/*
 * Resolves method + path. Returns 0, or -1 with f set: 404 (unknown path,
 * kind or function; the message lists the valid names of that kind) or 405
 * (wrong method; r->allow tells which). r->endpoint is set either way (to
 * LOSSD_ROUTE_UNKNOWN for 404s).
 */
int lossd_route_find(const char *method, const char *path, lossd_route *r, lossd_fault *f);

/*
 * The fixed endpoints (fixed_routes: /healthz, /v1, /openapi.json, ...),
 * for the documents that list them: the i-th one's path, and its method in
 * *method; NULL past the last.
 */
const char *lossd_route_fixed(size_t i, const char **method);

/* A short stable label for metrics and logs: "healthz", "loss/giou" (v1 or v2), "unknown". */
const char *lossd_route_label(const lossd_route *r, char *buf, size_t size);

#endif /* LOSSD_SERVICE_ROUTE_H */
