/*
 * route.c - endpoint resolution (see route.h).
 */
#include <stdio.h>
#include <string.h>

#include "route.h"
#include "web.h"

static const struct {
    const char *path;
    const char *method;
    lossd_endpoint endpoint;
    bool compute, protected_;
} fixed_routes[] = {
    {"/healthz", "GET", LOSSD_ROUTE_HEALTHZ, false, false},
    {"/readyz", "GET", LOSSD_ROUTE_READYZ, false, false},
    {"/metrics", "GET", LOSSD_ROUTE_METRICS, false, false},
    {"/v1", "GET", LOSSD_ROUTE_V1, false, true},
    {"/v1/functions", "GET", LOSSD_ROUTE_FUNCTIONS, false, true},
    {"/v1/batch", "POST", LOSSD_ROUTE_BATCH, true, true},
};

#define N_FIXED (sizeof fixed_routes / sizeof fixed_routes[0])

static int method_fault(lossd_route *r, const char *allow, const char *method, const char *path,
                        lossd_fault *f)
{
    r->allow = allow;
    /* HEAD is GET without a body; libmicrohttpd handles that for us. */
    return lossd_fault_set(f, LOSSD_FAULT_METHOD, NULL, "%s is not allowed on %s; use %s", method,
                           path, allow);
}

static bool method_is(const char *method, const char *want)
{
    return strcmp(method, want) == 0 || (strcmp(want, "GET") == 0 && strcmp(method, "HEAD") == 0);
}

/* Lists the names of one kind, comma-separated. */
static void kind_names(lossd_kind kind, char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < lossd_function_count(); i++) {
        const lossd_function *fn = lossd_function_at(i);
        if (fn->kind != kind)
            continue;
        int n = snprintf(buf + used, size - used, "%s%s", used ? ", " : "", fn->name);
        if (n < 0 || used + (size_t)n >= size)
            break;
        used += (size_t)n;
    }
}

int lossd_route_find(const char *method, const char *path, lossd_route *r, lossd_fault *f)
{
    memset(r, 0, sizeof *r);
    r->endpoint = LOSSD_ROUTE_UNKNOWN;
    for (size_t i = 0; i < N_FIXED; i++) {
        if (strcmp(path, fixed_routes[i].path) != 0)
            continue;
        r->endpoint = fixed_routes[i].endpoint;
        r->compute = fixed_routes[i].compute;
        r->protected_ = fixed_routes[i].protected_;
        r->allow = fixed_routes[i].method;
        if (!method_is(method, fixed_routes[i].method))
            return method_fault(r, fixed_routes[i].method, method, path, f);
        return 0;
    }
    static const char prefix[] = "/v1/", entry[] = "/v1/functions/";
    /* GET /v1/functions/{kind}/{name} is one catalog entry; POST /v1/{kind}/{name} computes. */
    bool catalog_entry = strncmp(path, entry, sizeof entry - 1) == 0;
    if (catalog_entry || strncmp(path, prefix, sizeof prefix - 1) == 0) {
        const char *rest = path + (catalog_entry ? sizeof entry : sizeof prefix) - 1;
        const char *slash = strchr(rest, '/');
        for (int k = 0; slash && k < LOSSD_KIND_COUNT; k++) {
            const char *kind = lossd_kind_name((lossd_kind)k);
            if (strlen(kind) != (size_t)(slash - rest) || strncmp(rest, kind, strlen(kind)) != 0)
                continue;
            r->protected_ = true;
            const lossd_function *fn = lossd_function_find((lossd_kind)k, slash + 1);
            if (fn == NULL) {
                char names[512];
                kind_names((lossd_kind)k, names, sizeof names);
                return lossd_fault_set(f, LOSSD_FAULT_NOT_FOUND, NULL,
                                       "no %s function called \"%.64s\"; the %s functions are: %s",
                                       kind, slash + 1, kind, names);
            }
            r->endpoint = catalog_entry ? LOSSD_ROUTE_FUNCTION : LOSSD_ROUTE_COMPUTE;
            r->fn = fn;
            r->compute = !catalog_entry;
            r->allow = catalog_entry ? "GET" : "POST";
            if (!method_is(method, r->allow))
                return method_fault(r, r->allow, method, path, f);
            return 0;
        }
    }
    if ((r->asset = lossd_web_asset_find(path)) != NULL) {
        r->endpoint = LOSSD_ROUTE_WEB;
        r->allow = "GET";
        if (!method_is(method, "GET"))
            return method_fault(r, "GET", method, path, f);
        return 0;
    }
    return lossd_fault_set(f, LOSSD_FAULT_NOT_FOUND, NULL,
                           "no endpoint at %.100s; see GET /v1/functions for the catalog", path);
}

const char *lossd_route_label(const lossd_route *r, char *buf, size_t size)
{
    static const char *const labels[LOSSD_ROUTE_COUNT] = {
        "healthz", "readyz",  "metrics",  "v1",  "functions",
        "batch",   "compute", "function", "web", "unknown"};
    if (r->endpoint == LOSSD_ROUTE_COMPUTE && r->fn) {
        snprintf(buf, size, "%s/%s", lossd_kind_name(r->fn->kind), r->fn->name);
        return buf;
    }
    return (unsigned)r->endpoint < LOSSD_ROUTE_COUNT ? labels[r->endpoint] : "unknown";
}
