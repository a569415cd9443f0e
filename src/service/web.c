/* SPDX-License-Identifier: MIT */
/*
 * web.c - the playground's files, their headers, and CORS (see web.h).
 *
 * The Content-Security-Policy allows nothing but this origin: the page's
 * scripts, styles and fonts are files served here (no inline script or
 * style, no eval), and it talks to nothing but this lossd. A page that
 * lossd serves cannot be made to load code from elsewhere, whatever a
 * catalog string or a reply holds.
 */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util.h"
#include "web.h"

static const char content_security_policy[] =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'";

/* What a cross-origin request may send: the v1 headers, and the v2 binary protocol's. */
static const char allow_headers[] =
    "Authorization, Content-Type, Content-Encoding, Inference-Header-Content-Length, X-Request-Id";
static const char expose_headers[] = "Inference-Header-Content-Length, X-Request-Id, Retry-After";

/* Browsers cap this (Chromium at 2 h); 10 minutes keeps a changed option from lingering. */
static const char preflight_max_age[] = "600";

const lossd_asset *lossd_web_asset_find(const char *path)
{
    for (size_t i = 0; i < lossd_web_asset_count; i++)
        if (strcmp(lossd_web_assets[i].path, path) == 0)
            return &lossd_web_assets[i];
    return NULL;
}

const unsigned char *lossd_web_asset_body(const lossd_asset *a, lossd_encoding accepts,
                                          size_t *size, lossd_encoding *encoding)
{
    if (a->gzip && accepts == LOSSD_ENCODING_GZIP) {
        *size = a->gzip_size;
        *encoding = LOSSD_ENCODING_GZIP;
        return a->gzip;
    }
    *size = a->size;
    *encoding = LOSSD_ENCODING_IDENTITY;
    return a->data;
}

/* ------------------------------------------------------------ origins */

/* Calls visit(item, len, arg) on each comma-separated item, trimmed; stops when it returns true. */
static bool each_origin(const char *list, bool (*visit)(const char *, size_t, void *), void *arg)
{
    const char *s = list;
    while (*s) {
        while (*s == ' ')
            s++;
        const char *end = strchr(s, ',');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        while (len && s[len - 1] == ' ')
            len--;
        if (visit(s, len, arg))
            return true;
        if (end == NULL)
            break;
        s = end + 1;
    }
    return false;
}

typedef struct {
    char *why;
    size_t why_size;
    size_t count;
    bool star;
} origin_check;

/* An origin as browsers send it: http(s)://host[:port], nothing after. */
static bool bad_origin(const char *item, size_t len, void *arg)
{
    origin_check *c = arg;
    c->count++;
    if (len == 1 && item[0] == '*') {
        c->star = true;
        return false;
    }
    const char *host = NULL;
    if (len > LOSSD_LITERAL_LEN("http://") && LOSSD_STARTS_WITH_CASE(item, "http://"))
        host = item + LOSSD_LITERAL_LEN("http://");
    else if (len > LOSSD_LITERAL_LEN("https://") && LOSSD_STARTS_WITH_CASE(item, "https://"))
        host = item + LOSSD_LITERAL_LEN("https://");
    size_t host_len = host ? len - (size_t)(host - item) : 0;
    bool ok = host != NULL && host_len > 0 && memchr(host, '/', host_len) == NULL &&
              memchr(host, '*', host_len) == NULL && memchr(host, ' ', host_len) == NULL;
    if (!ok)
        snprintf(c->why, c->why_size,
                 "\"%.*s\" is not an origin: expected http://host[:port] or https://host[:port], "
                 "without a path",
                 (int)(len < 100 ? len : 100), item);
    return !ok;
}

bool lossd_web_origins_valid(const char *list, char *why, size_t why_size)
{
    origin_check c = {why, why_size, 0, false};
    if (each_origin(list, bad_origin, &c))
        return false;
    if (c.count == 0) {
        snprintf(why, why_size, "expected a comma-separated list of origins, or *");
        return false;
    }
    if (c.star && c.count > 1) {
        snprintf(why, why_size, "* allows every origin: give it alone");
        return false;
    }
    return true;
}

static bool same_origin(const char *item, size_t len, void *arg)
{
    const char *origin = arg;
    return (len == 1 && item[0] == '*') ||
           (strlen(origin) == len && strncasecmp(item, origin, len) == 0);
}

static bool cors_enabled(const lossd_config *cfg)
{
    return cfg->cors_origin[0] != '\0';
}

/* ------------------------------------------------------------ decisions */

int lossd_web_admit(const lossd_config *cfg, const char *method, int found, lossd_route *route,
                    lossd_fault *f)
{
    /* A known path answers OPTIONS only as a preflight, and only with CORS on. */
    if (found < 0 && f->kind == LOSSD_FAULT_METHOD && cors_enabled(cfg) &&
        strcmp(method, "OPTIONS") == 0) {
        memset(f, 0, sizeof *f);
        return 1;
    }
    if (found < 0)
        return -1;
    if (route->endpoint == LOSSD_ROUTE_WEB && route->asset->playground && !cfg->playground) {
        /* As if it were not there: counted and logged as an unknown path. */
        route->endpoint = LOSSD_ROUTE_UNKNOWN;
        route->asset = NULL;
        return lossd_fault_set(f, LOSSD_FAULT_NOT_FOUND, NULL,
                               "the playground is off (--playground off); see GET /v1");
    }
    return 0;
}

size_t lossd_web_headers(const lossd_config *cfg, const lossd_route *route, const char *origin,
                         bool preflight, lossd_header out[LOSSD_WEB_HEADERS_MAX])
{
    size_t n = 0;
    if (route->asset) { /* a file: the playground's, or the OpenAPI document */
        out[n++] = (lossd_header){"Content-Security-Policy", content_security_policy};
        out[n++] = (lossd_header){"X-Content-Type-Options", "nosniff"};
        out[n++] = (lossd_header){"Referrer-Policy", "no-referrer"};
    }
    if (!cors_enabled(cfg) || origin == NULL ||
        !each_origin(cfg->cors_origin, same_origin, (void *)origin))
        return n;
    /* "*" is only ever given alone (lossd_web_origins_valid). */
    out[n++] =
        (lossd_header){"Access-Control-Allow-Origin", strchr(cfg->cors_origin, '*') ? "*" : origin};
    out[n++] = (lossd_header){"Vary", "Origin"};
    if (!preflight) {
        out[n++] = (lossd_header){"Access-Control-Expose-Headers", expose_headers};
        return n;
    }
    out[n++] = (lossd_header){
        "Access-Control-Allow-Methods",
        route->allow && strcmp(route->allow, "POST") == 0 ? "POST, OPTIONS" : "GET, HEAD, OPTIONS"};
    out[n++] = (lossd_header){"Access-Control-Allow-Headers", allow_headers};
    out[n++] = (lossd_header){"Access-Control-Max-Age", preflight_max_age};
    return n;
}
