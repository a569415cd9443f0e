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
    bool compute, needs_key;
} fixed_routes[] = {
    {"/healthz", "GET", LOSSD_ROUTE_HEALTHZ, false, false},
    {"/readyz", "GET", LOSSD_ROUTE_READYZ, false, false},
    {"/metrics", "GET", LOSSD_ROUTE_METRICS, false, false},
    {"/v1", "GET", LOSSD_ROUTE_V1, false, true},
    {"/v1/functions", "GET", LOSSD_ROUTE_FUNCTIONS, false, true},
    {"/v1/batch", "POST", LOSSD_ROUTE_BATCH, true, true},
    {"/v2", "GET", LOSSD_ROUTE_V2, false, true},
    {"/v2/health/live", "GET", LOSSD_ROUTE_V2_LIVE, false, false},
    {"/v2/health/ready", "GET", LOSSD_ROUTE_V2_READY, false, false},
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

/*
 * /v2/models/{kind}.{name}[/versions/1][/ready|/infer]: `rest` is what
 * follows /v2/models/. The model is found in the registry; its only
 * version is 1.
 */
static int find_model(const char *method, const char *rest, lossd_route *r, lossd_fault *f)
{
    const char *end = strchr(rest, '/');
    size_t len = end ? (size_t)(end - rest) : strlen(rest);
    const char *tail = rest + len;
    static const char versions[] = "/versions/";
    if (strncmp(tail, versions, sizeof versions - 1) == 0) {
        const char *v = tail + sizeof versions - 1, *v_end = strchr(v, '/');
        size_t v_len = v_end ? (size_t)(v_end - v) : strlen(v);
        if (v_len != 1 || v[0] != '1')
            return lossd_fault_set(f, LOSSD_FAULT_NOT_FOUND, NULL,
                                   "model %.*s has no version \"%.*s\"; its only version is 1",
                                   (int)(len < 100 ? len : 100), rest,
                                   (int)(v_len < 32 ? v_len : 32), v);
        tail = v + v_len;
    }
    lossd_endpoint endpoint;
    if (tail[0] == '\0')
        endpoint = LOSSD_ROUTE_V2_MODEL;
    else if (strcmp(tail, "/ready") == 0)
        endpoint = LOSSD_ROUTE_V2_MODEL_READY;
    else if (strcmp(tail, "/infer") == 0)
        endpoint = LOSSD_ROUTE_V2_INFER;
    else
        return lossd_fault_set(f, LOSSD_FAULT_NOT_FOUND, NULL,
                               "no endpoint at /v2/models/%.100s; a model has /ready and /infer",
                               rest);
    char model[128];
    if (len >= sizeof model)
        len = sizeof model - 1;
    memcpy(model, rest, len);
    model[len] = '\0';
    r->needs_key = true;
    const char *dot = strchr(model, '.');
    int kind = -1;
    for (int k = 0; dot && k < LOSSD_KIND_COUNT; k++)
        if (strlen(lossd_kind_name((lossd_kind)k)) == (size_t)(dot - model) &&
            strncmp(model, lossd_kind_name((lossd_kind)k), (size_t)(dot - model)) == 0)
            kind = k;
    if (kind < 0)
        return lossd_fault_set(f, LOSSD_FAULT_NOT_FOUND, NULL,
                               "no model called \"%s\"; models are named {kind}.{name}, such as "
                               "loss.ciou, with kind loss, activation, info or pairwise "
                               "(GET /v1/functions lists them)",
                               model);
    const lossd_function *fn = lossd_function_find((lossd_kind)kind, dot + 1);
    if (fn == NULL) {
        char names[512];
        kind_names((lossd_kind)kind, names, sizeof names);
        return lossd_fault_set(f, LOSSD_FAULT_NOT_FOUND, NULL,
                               "no model called \"%s\"; the %s models are %s.{name} with name "
                               "one of: %s",
                               model, lossd_kind_name((lossd_kind)kind),
                               lossd_kind_name((lossd_kind)kind), names);
    }
    r->endpoint = endpoint;
    r->fn = fn;
    r->compute = endpoint == LOSSD_ROUTE_V2_INFER;
    r->allow = r->compute ? "POST" : "GET";
    if (!method_is(method, r->allow))
        return method_fault(r, r->allow, method, "this model path", f);
    return 0;
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
        r->needs_key = fixed_routes[i].needs_key;
        r->allow = fixed_routes[i].method;
        r->v2 = strncmp(path, "/v2", 3) == 0;
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
            r->needs_key = true;
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
    if (strncmp(path, "/v2/", 4) == 0) {
        r->v2 = true;
        static const char models[] = "/v2/models/";
        if (strncmp(path, models, sizeof models - 1) == 0)
            return find_model(method, path + sizeof models - 1, r, f);
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
        "healthz",  "readyz",         "metrics", "v1",     "functions", "batch",
        "compute",  "function",       "web",     "v2",     "v2_live",   "v2_ready",
        "v2_model", "v2_model_ready", "infer",   "unknown"};
    if ((r->endpoint == LOSSD_ROUTE_COMPUTE || r->endpoint == LOSSD_ROUTE_V2_INFER) && r->fn) {
        snprintf(buf, size, "%s/%s", lossd_kind_name(r->fn->kind), r->fn->name);
        return buf;
    }
    return (unsigned)r->endpoint < LOSSD_ROUTE_COUNT ? labels[r->endpoint] : "unknown";
}
