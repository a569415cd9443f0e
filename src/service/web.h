/* SPDX-License-Identifier: MIT */
/*
 * web.h - what lossd serves to browsers: the playground's files (compiled
 * into the binary at build time by scripts/embed-assets, nothing read from
 * disk or fetched at run time; the OpenAPI document, built at start-up,
 * is served the same way, openapi.h), the headers that go with them (a
 * strict Content-Security-Policy), and CORS for pages of other origins
 * (--cors-origin).
 *
 * Knows nothing of libmicrohttpd: the server asks which headers a reply
 * gets and adds them itself.
 *
 * Threading: the asset table is immutable, and the decisions read only
 * the configuration (read-only once the server starts): any thread.
 */
#ifndef LOSSD_SERVICE_WEB_H
#define LOSSD_SERVICE_WEB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "compress.h"
#include "fault.h"
#include "options.h"
#include "route.h"

/*
 * One file served as it is. The generated src/service/web_assets.c holds
 * the table: each file, and, for one larger than LOSSD_COMPRESS_MIN that is
 * not compressed already (fonts are), the same file gzip'd at build time.
 */
typedef struct lossd_asset {
    const char *path;         /* URL path: "/", "/js/main.js", "/openapi.yaml" */
    const char *content_type; /* "text/html; charset=utf-8", "font/woff2", ... */
    const unsigned char *data;
    size_t size;
    const unsigned char *gzip; /* the file gzip'd (gzip -9 -n), or NULL */
    size_t gzip_size;
    bool playground; /* part of the page: --playground off hides it */
} lossd_asset;

extern const lossd_asset lossd_web_assets[];
extern const size_t lossd_web_asset_count;

/* The asset served at `path` (exact match), or NULL. */
const lossd_asset *lossd_web_asset_find(const char *path);

/*
 * The bytes to send of asset `a` to a client whose Accept-Encoding allows
 * `accepts` (lossd_encoding_accepted): the gzip form when the asset has
 * one and the client takes gzip, else the file itself (a client that takes
 * only deflate gets the file: nothing is compressed per request). Sets
 * *size and *encoding (LOSSD_ENCODING_GZIP or _IDENTITY). The bytes are
 * the table's own: never freed, valid for the life of the process.
 */
const unsigned char *lossd_web_asset_body(const lossd_asset *a, lossd_encoding accepts,
                                          size_t *size, lossd_encoding *encoding);

/*
 * Whether a --cors-origin value is well formed: "*", or a comma-separated
 * list of origins "scheme://host[:port]" (no path, no trailing slash).
 * On failure writes the reason to `why`.
 */
bool lossd_web_origins_valid(const char *list, char *why, size_t why_size);

/*
 * Decides what the web layer does with a routed request, after
 * lossd_route_find() (whose result `found` and fault `f` it takes):
 *   1  a CORS preflight (OPTIONS on a known path, with --cors-origin):
 *      answer 204 with lossd_web_headers(); f is cleared;
 *   0  go on as routed;
 *  -1  refused: f is set (the playground's files are 404 with
 *      --playground off, and their route becomes LOSSD_ROUTE_UNKNOWN),
 *      or was already set by the router.
 * A preflight is answered before the API key is checked: browsers never
 * send credentials with one.
 */
int lossd_web_admit(const lossd_config *cfg, const char *method, int found, lossd_route *route,
                    lossd_fault *f);

typedef struct {
    const char *name, *value;
} lossd_header;

#define LOSSD_WEB_HEADERS_MAX 10

/*
 * The headers a reply gets from the web layer, written into out (at most
 * LOSSD_WEB_HEADERS_MAX); returns how many. `origin` is the request's
 * Origin header or NULL; values may point into it, so they are valid for
 * as long as it is. Files (route->asset set: the playground's, the OpenAPI
 * document) get the Content-Security-Policy and nosniff; with --cors-origin, a reply to an allowed
 * Origin gets Access-Control-Allow-Origin and Vary: Origin, and a preflight also the allowed
 * methods and headers and how long to cache them. Without the option, no CORS header is ever added.
 */
size_t lossd_web_headers(const lossd_config *cfg, const lossd_route *route, const char *origin,
                         bool preflight, lossd_header out[LOSSD_WEB_HEADERS_MAX]);

#endif /* LOSSD_SERVICE_WEB_H */
