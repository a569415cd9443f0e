/* SPDX-License-Identifier: MIT */
/*
 * route.c - endpoint resolution (see route.h).
 *
 * A 404 tries to say what was meant: the same path without a trailing
 * slash, in lower case, with '_' for '-' (/v1/loss/Smooth-L1/), or the
 * function under the kind it belongs to (/v1/loss/relu is an activation).
 * Only failures pay for that search.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "route.h"
#include "util.h"
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
    {"/v2/repository/index", "POST", LOSSD_ROUTE_V2_INDEX, true, true},
    {"/openapi.yaml", "GET", LOSSD_ROUTE_OPENAPI, false, false},
    {"/openapi.json", "GET", LOSSD_ROUTE_OPENAPI, false, false},
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

/* Lists the kinds, comma-separated: "loss, activation, info, pairwise". */
static void kind_list(char *buf, size_t size)
{
    size_t used = 0;
    buf[0] = '\0';
    for (int k = 0; k < LOSSD_KIND_COUNT; k++) {
        int n = snprintf(buf + used, size - used, "%s%s", k ? ", " : "",
                         lossd_kind_name((lossd_kind)k));
        if (n < 0 || used + (size_t)n >= size)
            break;
        used += (size_t)n;
    }
}

/* The kind called text[0..len), or -1. */
static int kind_named(const char *text, size_t len)
{
    for (int k = 0; k < LOSSD_KIND_COUNT; k++)
        if (strlen(lossd_kind_name((lossd_kind)k)) == len &&
            strncmp(text, lossd_kind_name((lossd_kind)k), len) == 0)
            return k;
    return -1;
}

/* What a function of each kind is, for "relu is an activation". */
static const char *const kind_nouns[LOSSD_KIND_COUNT] = {
    [LOSSD_KIND_LOSS] = "a loss",
    [LOSSD_KIND_ACTIVATION] = "an activation",
    [LOSSD_KIND_INFO] = "an information measure",
    [LOSSD_KIND_PAIRWISE] = "a pairwise box matrix",
};

/* How far a 404 looks for what was meant. */
typedef enum {
    SUGGEST_NOTHING,
    SUGGEST_SPELLING, /* the path as written, tidied (the function was found) */
    SUGGEST_FUNCTION, /* that, or the function under another kind */
} suggest_mode;

static int find(const char *method, const char *path, lossd_route *r, lossd_fault *f,
                suggest_mode suggest);

/*
 * The names of functions called `name` (any case, '-' for '_') whose
 * kind is not `except` (-1: any), as "relu is an activation:
 * /v1/activation/relu" - or with v2, its model path followed by `tail`.
 * "" when there is none.
 */
static void other_kinds(const char *name, size_t len, int except, bool v2, const char *tail,
                        char *buf, size_t size)
{
    char wanted[64];
    buf[0] = '\0';
    if (len == 0 || len >= sizeof wanted)
        return;
    for (size_t i = 0; i < len; i++)
        wanted[i] = name[i] == '-' ? '_' : (char)tolower((unsigned char)name[i]);
    wanted[len] = '\0';
    size_t used = 0;
    for (size_t i = 0; i < lossd_function_count(); i++) {
        const lossd_function *fn = lossd_function_at(i);
        if ((int)fn->kind == except || strcmp(fn->name, wanted) != 0)
            continue;
        const char *kind = lossd_kind_name(fn->kind);
        int n = used == 0 ? snprintf(buf, size, "%s is %s: ", fn->name, kind_nouns[fn->kind])
                          : snprintf(buf + used, size - used, ", and %s: ", kind_nouns[fn->kind]);
        if (n < 0 || used + (size_t)n >= size)
            return;
        used += (size_t)n;
        n = v2 ? snprintf(buf + used, size - used, "/v2/models/%s.%s%s", kind, fn->name, tail)
               : snprintf(buf + used, size - used, "/v1/%s/%s", kind, fn->name);
        if (n < 0 || used + (size_t)n >= size)
            return;
        used += (size_t)n;
    }
}

/*
 * A sentence for a 404 on `path` that names the path probably meant, or
 * "" when nothing comes close: the path without trailing slashes, in
 * lower case and with '_' for '-', when that exists; else (with
 * SUGGEST_FUNCTION) the function of that name under another kind.
 */
static void suggestion(const char *path, suggest_mode mode, char *buf, size_t size)
{
    char near[512];
    size_t len = strlen(path);
    buf[0] = '\0';
    if (mode == SUGGEST_NOTHING || len >= sizeof near)
        return;
    while (len > 1 && path[len - 1] == '/')
        len--;
    for (size_t i = 0; i < len; i++)
        near[i] = path[i] == '-' ? '_' : (char)tolower((unsigned char)path[i]);
    near[len] = '\0';
    lossd_route r;
    lossd_fault f = {0};
    if (strcmp(near, path) != 0 &&
        (find("GET", near, &r, &f, SUGGEST_NOTHING) == 0 || f.kind == LOSSD_FAULT_METHOD)) {
        snprintf(buf, size, "did you mean %.280s?", near);
        return;
    }
    if (mode != SUGGEST_FUNCTION)
        return;
    /* The last name in a /v1 path, or a /v2 model's name with what follows it. */
    const char *name = NULL, *tail = "";
    int kind = -1;
    bool v2 = LOSSD_STARTS_WITH(near, "/v2/models/");
    if (v2) {
        name = near + LOSSD_LITERAL_LEN("/v2/models/");
        tail = name + strcspn(name, "/");
        const char *dot = memchr(name, '.', (size_t)(tail - name));
        if (dot) {
            kind = kind_named(name, (size_t)(dot - name));
            name = dot + 1;
        }
    } else if (LOSSD_STARTS_WITH(near, "/v1/")) {
        const char *rest = near + LOSSD_LITERAL_LEN("/v1/");
        name = strrchr(near, '/') + 1;
        kind = kind_named(rest, strcspn(rest, "/"));
    }
    if (name)
        other_kinds(name, v2 ? (size_t)(tail - name) : strlen(name), kind, v2, tail, buf, size);
}

/*
 * Sets a 404: "WHAT; HINT" where WHAT is fmt's and HINT the path
 * probably meant (as far as `suggest` looks), or `otherwise`.
 * Returns -1.
 */
__attribute__((format(printf, 5, 6))) static int not_found(lossd_fault *f, const char *path,
                                                           suggest_mode suggest,
                                                           const char *otherwise, const char *fmt,
                                                           ...)
{
    char what[LOSSD_FAULT_MESSAGE_MAX], hint[320] = "";
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    suggestion(path, suggest, hint, sizeof hint);
    return lossd_fault_set(f, LOSSD_FAULT_NOT_FOUND, NULL, "%s; %s", what,
                           hint[0] ? hint : otherwise);
}

/*
 * The function of that kind and name, and its place in the registry (the
 * metrics' row), or NULL.
 */
static const lossd_function *function_named(lossd_kind kind, const char *name, size_t *index)
{
    for (size_t i = 0, n = lossd_function_count(); i < n; i++) {
        const lossd_function *fn = lossd_function_at(i);
        if (fn->kind == kind && strcmp(fn->name, name) == 0) {
            *index = i;
            return fn;
        }
    }
    return NULL;
}

/*
 * /v2/models/{kind}.{name}[/versions/1][/ready|/infer]: `rest` is what
 * follows /v2/models/ in `path`. The model is found in the registry; its
 * only version is 1.
 */
static int find_model(const char *method, const char *path, const char *rest, lossd_route *r,
                      lossd_fault *f, suggest_mode suggest)
{
    const char *end = strchr(rest, '/');
    size_t len = end ? (size_t)(end - rest) : strlen(rest);
    const char *tail = rest + len;
    static const char versions[] = "/versions/";
    if (strncmp(tail, versions, sizeof versions - 1) == 0) {
        const char *v = tail + sizeof versions - 1, *v_end = strchr(v, '/');
        size_t v_len = v_end ? (size_t)(v_end - v) : strlen(v);
        if (v_len != 1 || v[0] != '1')
            return not_found(f, path, suggest == SUGGEST_NOTHING ? suggest : SUGGEST_SPELLING,
                             "its only version is 1", "model %.*s has no version \"%.*s\"",
                             (int)(len < 100 ? len : 100), rest, (int)(v_len < 32 ? v_len : 32), v);
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
        return not_found(f, path, suggest == SUGGEST_NOTHING ? suggest : SUGGEST_SPELLING,
                         "a model has /ready and /infer", "no endpoint at /v2/models/%.100s", rest);
    char model[128];
    if (len >= sizeof model)
        len = sizeof model - 1;
    memcpy(model, rest, len);
    model[len] = '\0';
    r->needs_key = true;
    const char *dot = strchr(model, '.');
    int kind = dot ? kind_named(model, (size_t)(dot - model)) : -1;
    if (kind < 0)
        return not_found(f, path, suggest,
                         "models are named {kind}.{name}, such as loss.ciou, with kind loss, "
                         "activation, info or pairwise (GET /v1/functions lists them)",
                         "no model called \"%s\"", model);
    size_t index = 0;
    const lossd_function *fn = function_named((lossd_kind)kind, dot + 1, &index);
    if (fn == NULL) {
        char names[512], otherwise[640];
        kind_names((lossd_kind)kind, names, sizeof names);
        snprintf(otherwise, sizeof otherwise, "the %s models are %s.{name} with name one of: %s",
                 lossd_kind_name((lossd_kind)kind), lossd_kind_name((lossd_kind)kind), names);
        return not_found(f, path, suggest, otherwise, "no model called \"%s\"", model);
    }
    r->endpoint = endpoint;
    r->fn = fn;
    r->fn_index = index;
    r->kind = fn->kind;
    r->compute = endpoint == LOSSD_ROUTE_V2_INFER;
    r->allow = r->compute ? "POST" : "GET";
    if (!method_is(method, r->allow))
        return method_fault(r, r->allow, method, "this model path", f);
    return 0;
}

/*
 * GET /v1/functions/{kind}: the catalog of one kind. `name` is what follows
 * /v1/functions/ in `path`; an unknown kind is a 404 listing the kinds.
 */
static int find_kind(const char *method, const char *path, const char *name, lossd_route *r,
                     lossd_fault *f, suggest_mode suggest)
{
    r->needs_key = true;
    int kind = kind_named(name, strlen(name));
    if (kind < 0) {
        char kinds[128], otherwise[192];
        kind_list(kinds, sizeof kinds);
        snprintf(otherwise, sizeof otherwise, "the kinds are: %s", kinds);
        return not_found(f, path, suggest == SUGGEST_NOTHING ? suggest : SUGGEST_SPELLING,
                         otherwise, "no kind of function called \"%.64s\"", name);
    }
    r->endpoint = LOSSD_ROUTE_FUNCTIONS_KIND;
    r->kind = (lossd_kind)kind;
    r->allow = "GET";
    if (!method_is(method, r->allow))
        return method_fault(r, r->allow, method, path, f);
    return 0;
}

/* lossd_route_find; a 404 looks as far as `suggest` for the path probably meant. */
static int find(const char *method, const char *path, lossd_route *r, lossd_fault *f,
                suggest_mode suggest)
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
        r->v2 = LOSSD_STARTS_WITH(path, "/v2");
        if (!method_is(method, fixed_routes[i].method))
            return method_fault(r, fixed_routes[i].method, method, path, f);
        return 0;
    }
    static const char prefix[] = "/v1/", entry[] = "/v1/functions/";
    /* GET /v1/functions/{kind}/{name} is one catalog entry; POST /v1/{kind}/{name} computes. */
    bool catalog_entry = strncmp(path, entry, sizeof entry - 1) == 0;
    if (catalog_entry && strchr(path + sizeof entry - 1, '/') == NULL)
        return find_kind(method, path, path + sizeof entry - 1, r, f, suggest);
    if (catalog_entry || strncmp(path, prefix, sizeof prefix - 1) == 0) {
        const char *rest = path + (catalog_entry ? sizeof entry : sizeof prefix) - 1;
        const char *slash = strchr(rest, '/');
        for (int k = 0; slash && k < LOSSD_KIND_COUNT; k++) {
            const char *kind = lossd_kind_name((lossd_kind)k);
            if (strlen(kind) != (size_t)(slash - rest) || strncmp(rest, kind, strlen(kind)) != 0)
                continue;
            r->needs_key = true;
            size_t index = 0;
            const lossd_function *fn = function_named((lossd_kind)k, slash + 1, &index);
            if (fn == NULL) {
                char names[512], otherwise[600];
                kind_names((lossd_kind)k, names, sizeof names);
                snprintf(otherwise, sizeof otherwise, "the %s functions are: %s", kind, names);
                return not_found(f, path, suggest, otherwise, "no %s function called \"%.64s\"",
                                 kind, slash + 1);
            }
            r->endpoint = catalog_entry ? LOSSD_ROUTE_FUNCTION : LOSSD_ROUTE_COMPUTE;
            r->fn = fn;
            r->fn_index = index;
            r->kind = fn->kind;
            r->compute = !catalog_entry;
            r->allow = catalog_entry ? "GET" : "POST";
            if (!method_is(method, r->allow))
                return method_fault(r, r->allow, method, path, f);
            return 0;
        }
    }
    if (LOSSD_STARTS_WITH(path, "/v2/")) {
        r->v2 = true;
        static const char models[] = "/v2/models/";
        if (strncmp(path, models, sizeof models - 1) == 0)
            return find_model(method, path, path + sizeof models - 1, r, f, suggest);
    }
    if ((r->asset = lossd_web_asset_find(path)) != NULL) {
        r->endpoint = LOSSD_ROUTE_WEB;
        r->allow = "GET";
        if (!method_is(method, "GET"))
            return method_fault(r, "GET", method, path, f);
        return 0;
    }
    return not_found(f, path, suggest, "see GET /v1/functions for the catalog",
                     "no endpoint at %.100s", path);
}

const char *lossd_route_fixed(size_t i, const char **method)
{
    if (i >= N_FIXED)
        return NULL;
    *method = fixed_routes[i].method;
    return fixed_routes[i].path;
}

int lossd_route_find(const char *method, const char *path, lossd_route *r, lossd_fault *f)
{
    return find(method, path, r, f, SUGGEST_FUNCTION);
}

const char *lossd_route_label(const lossd_route *r, char *buf, size_t size)
{
    static const char *const labels[LOSSD_ROUTE_COUNT] = {"healthz",
                                                          "readyz",
                                                          "metrics",
                                                          "v1",
                                                          "functions",
                                                          "batch",
                                                          "compute",
                                                          "function",
                                                          "web",
                                                          "v2",
                                                          "v2_live",
                                                          "v2_ready",
                                                          "v2_model",
                                                          "v2_model_ready",
                                                          "infer",
                                                          "functions_kind",
                                                          "v2_repository_index",
                                                          "openapi",
                                                          "unknown"};
    if ((r->endpoint == LOSSD_ROUTE_COMPUTE || r->endpoint == LOSSD_ROUTE_V2_INFER) && r->fn) {
        /* kind/name, copied rather than printed: every request's log line asks */
        const char *kind = lossd_kind_name(r->fn->kind), *name = r->fn->name;
        size_t k = strlen(kind), n = strlen(name);
        if (k + 1 + n >= size) {
            snprintf(buf, size, "%s/%s", kind, name); /* cut to fit */
            return buf;
        }
        memcpy(buf, kind, k);
        buf[k] = '/';
        memcpy(buf + k + 1, name, n + 1);
        return buf;
    }
    return (unsigned)r->endpoint < LOSSD_ROUTE_COUNT ? labels[r->endpoint] : "unknown";
}
