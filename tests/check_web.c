/* SPDX-License-Identifier: MIT */
/*
 * check_web.c - what lossd serves to browsers (src/service/web.c), over
 * real HTTP to an in-process server (tests/httputil.h): the playground's
 * files byte for byte with their types and Content-Security-Policy, and
 * gzip'd as built when asked, the OpenAPI document, one catalog entry with
 * an example request that computes, --playground off, and CORS with and
 * without --cors-origin.
 */
#define _GNU_SOURCE /* strcasestr */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "../src/service/compress.h"
#include "../src/service/openapi.h"
#include "../src/service/web.h"
#include "httputil.h"

/* A request lossd answers at once, small enough never to be compressed. */
static const char l1_body[] = "{\"input\":[1.0],\"target\":[0.0]}";
#define L1_LEN (sizeof l1_body - 1)

/* ------------------------------------------------------------ fixtures */

static char *key_file;

static void playground_off(lossd_config *c)
{
    c->playground = false;
}

static void with_keys(lossd_config *c)
{
    key_file = temp_file("secret\n");
    ck_assert_uint_lt(strlen(key_file), sizeof c->api_key_file);
    strcpy(c->api_key_file, key_file);
}

static void cors_list(lossd_config *c)
{
    strcpy(c->cors_origin, "http://a.example, http://b.example:8000");
}

static void cors_any_with_keys(lossd_config *c)
{
    strcpy(c->cors_origin, "*");
    with_keys(c);
}

static void start_off(void)
{
    http_start(playground_off);
}

static void start_keys(void)
{
    http_start(with_keys);
}

static void start_cors(void)
{
    http_start(cors_list);
}

static void start_cors_any(void)
{
    http_start(cors_any_with_keys);
}

/* http_stop(), and the key file with_keys() wrote is gone. */
static void stop_keys(void)
{
    http_stop();
    if (key_file) {
        unlink(key_file);
        free(key_file);
        key_file = NULL;
    }
}

/* ------------------------------------------------------------ helpers */

/* No CORS header; Vary may name Accept-Encoding (the built-in files), never Origin. */
static void expect_no_cors(const http_reply *r)
{
    for (const char *line = http_header_line(r, NULL); line; line = http_header_line(r, line)) {
        ck_assert_msg(strncasecmp(line, "Access-Control-", 15) != 0, "a CORS header: %s", line);
        ck_assert_msg(strncasecmp(line, "Vary:", 5) != 0 || strcasestr(line, "Origin") == NULL,
                      "%s", line);
    }
}

/* A file of the source tree, whole (caller frees). */
static char *read_source(const char *relative, size_t *len)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", TOP_SRCDIR, relative);
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot read %s", path);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    rewind(f);
    char *text = malloc((size_t)size + 1);
    ck_assert_uint_eq(fread(text, 1, (size_t)size, f), (size_t)size);
    text[size] = '\0';
    fclose(f);
    *len = (size_t)size;
    return text;
}

/* ------------------------------------------------------------ the page and its files */

START_TEST(page_is_served_with_a_strict_policy)
{
    size_t len;
    char *html = read_source("web/index.html", &len);
    http_reply r = http_get("/");
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(http_header(&r, "Content-Type"), "text/html;charset=utf-8");
    ck_assert_uint_eq(r.len, len);
    ck_assert(memcmp(r.body, html, len) == 0);
    const char *csp = http_header(&r, "Content-Security-Policy");
    ck_assert_ptr_nonnull(csp);
    /* Nothing from another origin, nothing inline, nothing evaluated. */
    static const char *const must[] = {"default-src 'self'", "script-src 'self';",
                                       "style-src 'self';",  "connect-src 'self';",
                                       "object-src 'none'",  "frame-ancestors 'none'"};
    for (size_t i = 0; i < sizeof must / sizeof must[0]; i++)
        ck_assert_msg(strstr(csp, must[i]) != NULL, "CSP lacks %s: %s", must[i], csp);
    ck_assert_ptr_null(strstr(csp, "unsafe"));
    ck_assert_ptr_null(strstr(csp, "http"));
    ck_assert_ptr_null(strstr(csp, "*"));
    ck_assert_str_eq(http_header(&r, "X-Content-Type-Options"), "nosniff");
    expect_no_cors(&r);
    http_reply_free(&r);

    /* Every file the page names is one lossd serves; none is on another origin. */
    size_t refs = 0;
    for (const char *p = html; (p = strpbrk(p, "sh")) != NULL; p++) {
        const char *attr = strncmp(p, "src=\"", 5) == 0    ? p + 5
                           : strncmp(p, "href=\"", 6) == 0 ? p + 6
                                                           : NULL;
        if (attr == NULL)
            continue;
        char path[256];
        snprintf(path, sizeof path, "%.*s", (int)strcspn(attr, "\""), attr);
        if (path[0] == '#')
            continue;
        ck_assert_msg(path[0] == '/' && path[1] != '/', "index.html names %s", path);
        lossd_route route;
        lossd_fault f = {0};
        ck_assert_msg(lossd_web_asset_find(path) != NULL ||
                          lossd_route_find("GET", path, &route, &f) == 0,
                      "index.html names %s: not served", path);
        refs++;
    }
    ck_assert_uint_ge(refs, 4); /* the style sheets and scripts, at least */
    free(html);

    /* No inline script or style for the policy to block. */
    html = read_source("web/index.html", &len);
    ck_assert_ptr_null(strstr(html, "<style"));
    ck_assert_ptr_null(strstr(html, " style="));
    ck_assert_ptr_null(strstr(html, "<script>"));
    ck_assert_ptr_null(strstr(html, "onclick="));
    free(html);
}
END_TEST

START_TEST(every_file_is_served_as_built)
{
    ck_assert_uint_gt(lossd_web_asset_count, 20); /* the page, its scripts, KaTeX's fonts */
    for (size_t i = 0; i < lossd_web_asset_count; i++) {
        const lossd_asset *a = &lossd_web_assets[i];
        ck_assert_ptr_eq(lossd_web_asset_find(a->path), a);
        http_reply r = http_get(a->path);
        ck_assert_msg(r.status == 200, "%s: %ld", a->path, r.status);
        ck_assert_str_eq(http_header(&r, "Content-Type"), a->content_type);
        ck_assert_msg(r.len == a->size && memcmp(r.body, a->data, a->size) == 0,
                      "%s: %zu bytes served, %zu built in", a->path, r.len, a->size);
        http_reply_free(&r);
    }
    /* The types a browser needs to run and render them under nosniff. */
    static const struct {
        const char *path, *type;
    } types[] = {{"/js/main.js", "text/javascript;charset=utf-8"},
                 {"/playground.css", "text/css;charset=utf-8"},
                 {"/vendor/chart.min.js", "text/javascript;charset=utf-8"},
                 {"/vendor/katex/katex.min.css", "text/css;charset=utf-8"},
                 {"/vendor/katex/fonts/KaTeX_Main-Regular.woff2", "font/woff2"}};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        const lossd_asset *a = lossd_web_asset_find(types[i].path);
        ck_assert_msg(a != NULL, "%s is not built in", types[i].path);
        ck_assert_str_eq(a->content_type, types[i].type);
    }
    ck_assert_ptr_null(lossd_web_asset_find("/index.html"));
    ck_assert_ptr_null(lossd_web_asset_find("/js/"));
    ck_assert_ptr_null(lossd_web_asset_find("/js/../main.js"));
    /* The OpenAPI document is built at start-up, not built in (openapi.h). */
    ck_assert_ptr_null(lossd_web_asset_find("/openapi.yaml"));
    ck_assert_ptr_null(lossd_web_asset_find("/openapi.json"));
}
END_TEST

/*
 * Files over LOSSD_COMPRESS_MIN, fonts aside (WOFF2 is compressed
 * already), are built in gzip'd too and sent so to a client that takes
 * gzip: the bytes inflate to the file exactly. Any other client gets the
 * file itself; both forms say Vary: Accept-Encoding.
 */
START_TEST(large_files_come_gzipped_when_asked)
{
    size_t packed = 0;
    for (size_t i = 0; i < lossd_web_asset_count; i++) {
        const lossd_asset *a = &lossd_web_assets[i];
        bool compressible =
            a->size > LOSSD_COMPRESS_MIN && strcmp(a->content_type, "font/woff2") != 0;
        ck_assert_msg((a->gzip != NULL) == compressible, "%s (%zu bytes, %s): %s gzip form",
                      a->path, a->size, a->content_type, a->gzip ? "a" : "no");
        const char *const gzip[] = {"Accept-Encoding: gzip, deflate, br", NULL};
        http_reply r = http_request(NULL, a->path, NULL, 0, gzip);
        ck_assert_int_eq(r.status, 200);
        ck_assert_str_eq(http_header(&r, "Content-Type"), a->content_type);
        if (compressible) {
            ck_assert_str_eq(http_header(&r, "Content-Encoding"), "gzip");
            ck_assert_str_eq(http_header(&r, "Vary"), "Accept-Encoding");
            size_t len;
            char *plain = http_inflated(&r, &len);
            ck_assert_msg(len == a->size && memcmp(plain, a->data, len) == 0,
                          "%s: inflates to %zu bytes, not the %zu of the file", a->path, len,
                          a->size);
            ck_assert_uint_lt(r.len, a->size);
            free(plain);
            packed++;
        } else {
            ck_assert_ptr_null(http_header(&r, "Content-Encoding"));
            ck_assert(r.len == a->size && memcmp(r.body, a->data, a->size) == 0);
        }
        http_reply_free(&r);
        /* Not asked, refused, or only deflate (nothing is compressed per request): the file. */
        static const char *const others[] = {NULL, "Accept-Encoding: gzip;q=0",
                                             "Accept-Encoding: deflate",
                                             "Accept-Encoding: identity"};
        for (size_t k = 0; k < sizeof others / sizeof others[0]; k++) {
            const char *const h[] = {others[k], NULL};
            const char *asked = others[k] ? others[k] : "nothing";
            r = http_request(NULL, a->path, NULL, 0, h);
            ck_assert_int_eq(r.status, 200);
            ck_assert_msg(http_header(&r, "Content-Encoding") == NULL,
                          "%s with %s: Content-Encoding %s", a->path, asked,
                          http_header(&r, "Content-Encoding"));
            ck_assert_msg(r.len == a->size && memcmp(r.body, a->data, a->size) == 0,
                          "%s with %s: %zu bytes, not the file's %zu", a->path, asked, r.len,
                          a->size);
            if (compressible)
                ck_assert_str_eq(http_header(&r, "Vary"), "Accept-Encoding");
            http_reply_free(&r);
        }
    }
    ck_assert_uint_ge(packed, 10); /* the page, its scripts and styles, the libraries */
}
END_TEST

START_TEST(web_methods)
{
    http_reply r = http_request("POST", "/", "{}", 2, NULL);
    expect_http_error(&r, 405, "method_not_allowed", NULL);
    ck_assert_str_eq(http_header(&r, "Allow"), "GET");
    http_reply_free(&r);
    r = http_request("HEAD", "/js/main.js", NULL, 0, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.len, 0);
    http_reply_free(&r);
    r = http_get("/js/nope.js");
    expect_http_error(&r, 404, "not_found", NULL);
    http_reply_free(&r);
}
END_TEST

/*
 * GET /openapi.yaml and /openapi.json serve the document built at
 * start-up (check_openapi checks what it says): byte for byte, with their
 * types and the files' headers, gzip'd when asked; GET only.
 */
START_TEST(openapi_is_served)
{
    lossd_openapi *built = lossd_openapi_create();
    ck_assert_ptr_nonnull(built);
    static const char *const paths[] = {"/openapi.yaml", "/openapi.json"};
    for (size_t i = 0; i < 2; i++) {
        const lossd_asset *a = lossd_openapi_find(built, paths[i]);
        http_reply r = http_get(paths[i]);
        ck_assert_int_eq(r.status, 200);
        ck_assert_str_eq(http_header(&r, "Content-Type"), a->content_type);
        ck_assert_str_eq(http_header(&r, "X-Content-Type-Options"), "nosniff");
        ck_assert_ptr_nonnull(http_header(&r, "Content-Security-Policy"));
        ck_assert_msg(r.len == a->size && memcmp(r.body, a->data, a->size) == 0,
                      "%s: %zu bytes served, %zu built", paths[i], r.len, a->size);
        http_reply_free(&r);
        const char *const gzip[] = {"Accept-Encoding: gzip", NULL};
        r = http_request(NULL, paths[i], NULL, 0, gzip);
        ck_assert_str_eq(http_header(&r, "Content-Encoding"), "gzip");
        size_t len;
        char *plain = http_inflated(&r, &len);
        ck_assert(len == a->size && memcmp(plain, a->data, len) == 0);
        free(plain);
        http_reply_free(&r);
        r = http_request("POST", paths[i], "{}", 2, NULL);
        expect_http_error(&r, 405, "method_not_allowed", NULL);
        http_reply_free(&r);
    }
    http_reply r = http_get("/openapi.json");
    ck_assert_ptr_nonnull(r.json);
    json_t *doc = lossd_openapi_document();
    ck_assert(json_equal(r.json, doc));
    json_decref(doc);
    http_reply_free(&r);
    r = http_get("/openapi.yaml");
    ck_assert_ptr_nonnull(strstr(r.body, "\nopenapi: \"3.0.3\"\n"));
    http_reply_free(&r);
    lossd_openapi_destroy(built);
}
END_TEST

START_TEST(v1_links_to_the_web)
{
    http_reply r = http_get("/v1");
    ck_assert_int_eq(r.status, 200);
    json_t *links = json_object_get(r.json, "links");
    ck_assert_str_eq(json_string_value(json_object_get(links, "functions")), "/v1/functions");
    ck_assert_str_eq(json_string_value(json_object_get(links, "function")),
                     "/v1/functions/{kind}/{name}");
    ck_assert_str_eq(json_string_value(json_object_get(links, "openapi")), "/openapi.yaml");
    ck_assert_str_eq(json_string_value(json_object_get(links, "openapi_json")), "/openapi.json");
    ck_assert_str_eq(json_string_value(json_object_get(links, "playground")), "/");
    ck_assert_int_eq(json_integer_value(json_object_get(r.json, "functions")),
                     (json_int_t)lossd_function_count());
    http_reply_free(&r);
}
END_TEST

/* ------------------------------------------------------------ one catalog entry */

START_TEST(every_entry_has_an_example_that_computes)
{
    http_reply catalog = http_get("/v1/functions");
    json_t *entries = json_object_get(catalog.json, "functions");
    ck_assert_uint_eq(json_array_size(entries), lossd_function_count());
    size_t i;
    json_t *listed;
    json_array_foreach(entries, i, listed)
    {
        char path[128];
        const char *kind = json_string_value(json_object_get(listed, "kind"));
        const char *name = json_string_value(json_object_get(listed, "name"));
        snprintf(path, sizeof path, "/v1/functions/%s/%s", kind, name);
        http_reply r = http_get(path);
        ck_assert_msg(r.status == 200, "%s: %ld %s", path, r.status, r.body);
        ck_assert_str_eq(http_header(&r, "Content-Type"), "application/json");
        /* The same entry as in the list, plus the example. */
        json_t *example = json_incref(json_object_get(r.json, "example"));
        ck_assert_msg(json_is_object(example), "%s: no example", path);
        json_object_del(r.json, "example");
        ck_assert_msg(json_equal(r.json, listed), "%s differs from its /v1/functions entry", path);
        /* Every parameter with a default appears at it; the operands are all there. */
        json_t *param;
        size_t k;
        json_array_foreach(json_object_get(listed, "params"), k, param)
        {
            const char *pname = json_string_value(json_object_get(param, "name"));
            json_t *def = json_object_get(param, "default");
            if (!json_is_null(def))
                ck_assert_msg(json_equal(json_object_get(example, pname), def), "%s: %s", path,
                              pname);
        }
        const char *operand;
        json_t *shape;
        json_object_foreach(json_object_get(listed, "operands"), operand, shape)
        {
            (void)shape;
            ck_assert_msg(json_object_get(example, operand) != NULL, "%s: no %s", path, operand);
        }
        /* And the example computes (http_post sends it as application/json). */
        char *body = json_dumps(example, JSON_COMPACT);
        http_reply computed = http_post(json_string_value(json_object_get(listed, "path")), body);
        ck_assert_msg(computed.status == 200, "POST %s %s: %ld %s", path, body, computed.status,
                      computed.body);
        ck_assert_ptr_null(json_object_get(computed.json, "nonfinite"));
        free(body);
        json_decref(example);
        http_reply_free(&computed);
        http_reply_free(&r);
    }
    http_reply_free(&catalog);
}
END_TEST

START_TEST(entry_errors)
{
    http_reply r = http_get("/v1/functions/loss/msee");
    expect_http_error(&r, 404, "not_found", NULL);
    ck_assert_ptr_nonnull(strstr(r.body, "smooth_l1"));
    http_reply_free(&r);
    r = http_get("/v1/functions/nope/mse");
    expect_http_error(&r, 404, "not_found", NULL);
    http_reply_free(&r);
    r = http_get("/v1/functions/loss/");
    expect_http_error(&r, 404, "not_found", NULL);
    http_reply_free(&r);
    r = http_request("POST", "/v1/functions/loss/mse", "{}", 2, NULL);
    expect_http_error(&r, 405, "method_not_allowed", NULL);
    ck_assert_str_eq(http_header(&r, "Allow"), "GET");
    http_reply_free(&r);
    /* Computing stays at /v1/{kind}/{name}: an entry's path only describes. */
    r = http_get("/v1/loss/mse");
    expect_http_error(&r, 405, "method_not_allowed", NULL);
    http_reply_free(&r);
}
END_TEST

START_TEST(keys_guard_v1_but_not_the_page)
{
    expect_status(http_get("/"), 200); /* the page asks for the key itself */
    expect_status(http_get("/openapi.json"), 200);
    http_reply r = http_get("/v1/functions/loss/mse");
    expect_http_error(&r, 401, "unauthorized", NULL);
    http_reply_free(&r);
    const char *const key[] = {"Authorization: Bearer secret", NULL};
    expect_status(http_request(NULL, "/v1/functions/loss/mse", NULL, 0, key), 200);
}
END_TEST

/* ------------------------------------------------------------ --playground off */

START_TEST(playground_off_is_404)
{
    for (size_t i = 0; i < lossd_web_asset_count; i++) {
        const lossd_asset *a = &lossd_web_assets[i];
        http_reply r = http_get(a->path);
        if (a->playground)
            expect_http_error(&r, 404, "not_found", NULL);
        else
            ck_assert_int_eq(r.status, 200);
        http_reply_free(&r);
    }
    /* The OpenAPI document stays. */
    expect_status(http_get("/openapi.yaml"), 200);
    expect_status(http_get("/openapi.json"), 200);
    http_reply r = http_get("/");
    ck_assert_ptr_nonnull(strstr(r.body, "--playground off"));
    ck_assert_ptr_null(http_header(&r, "Content-Security-Policy"));
    http_reply_free(&r);
    expect_status(http_get("/v1/functions/loss/mse"), 200);
}
END_TEST

/* ------------------------------------------------------------ CORS */

START_TEST(no_cors_without_the_option)
{
    const char *const preflight[] = {"Origin: http://a.example",
                                     "Access-Control-Request-Method: POST",
                                     "Access-Control-Request-Headers: content-type", NULL};
    http_reply r = http_request("OPTIONS", "/v1/loss/giou", NULL, 0, preflight);
    expect_http_error(&r, 405, "method_not_allowed", NULL); /* as before CORS existed */
    ck_assert_str_eq(http_header(&r, "Allow"), "POST");
    expect_no_cors(&r);
    http_reply_free(&r);
    const char *const origin[] = {"Origin: http://a.example", NULL};
    r = http_request(NULL, "/v1/loss/l1", l1_body, L1_LEN, origin);
    ck_assert_int_eq(r.status, 200);
    expect_no_cors(&r);
    http_reply_free(&r);
    r = http_request(NULL, "/", NULL, 0, origin);
    expect_no_cors(&r);
    http_reply_free(&r);
}
END_TEST

START_TEST(preflight_from_a_listed_origin)
{
    const char *const preflight[] = {
        "Origin: http://b.example:8000", "Access-Control-Request-Method: POST",
        "Access-Control-Request-Headers: authorization, content-type", NULL};
    http_reply r = http_request("OPTIONS", "/v1/loss/giou", NULL, 0, preflight);
    ck_assert_int_eq(r.status, 204);
    ck_assert_uint_eq(r.len, 0);
    ck_assert_str_eq(http_header(&r, "Access-Control-Allow-Origin"), "http://b.example:8000");
    ck_assert_str_eq(http_header(&r, "Vary"), "Origin");
    ck_assert_str_eq(http_header(&r, "Access-Control-Allow-Methods"), "POST, OPTIONS");
    ck_assert_str_eq(http_header(&r, "Access-Control-Max-Age"), "600");
    const char *allowed = http_header(&r, "Access-Control-Allow-Headers");
    ck_assert_ptr_nonnull(allowed);
    static const char *const needed[] = {"Authorization", "Content-Type", "Content-Encoding",
                                         "Inference-Header-Content-Length"};
    for (size_t i = 0; i < sizeof needed / sizeof needed[0]; i++)
        ck_assert_msg(strstr(allowed, needed[i]) != NULL, "%s not in %s", needed[i], allowed);
    http_reply_free(&r);

    /* Every endpoint: GET ones say so. */
    static const char *const gets[] = {"/v1",      "/v1/functions", "/v1/functions/loss/mse",
                                       "/healthz", "/metrics",      "/openapi.json"};
    for (size_t i = 0; i < sizeof gets / sizeof gets[0]; i++) {
        r = http_request("OPTIONS", gets[i], NULL, 0, preflight);
        ck_assert_msg(r.status == 204, "%s: %ld", gets[i], r.status);
        ck_assert_str_eq(http_header(&r, "Access-Control-Allow-Methods"), "GET, HEAD, OPTIONS");
        http_reply_free(&r);
    }
    expect_status(http_request("OPTIONS", "/v1/batch", NULL, 0, preflight), 204);
    /* An unknown path is still unknown. */
    r = http_request("OPTIONS", "/v1/loss/nope", NULL, 0, preflight);
    expect_http_error(&r, 404, "not_found", NULL);
    http_reply_free(&r);
}
END_TEST

START_TEST(replies_name_only_allowed_origins)
{
    const char *const from_a[] = {"Origin: http://a.example", NULL};
    http_reply r = http_request(NULL, "/v1/loss/l1", l1_body, L1_LEN, from_a);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(http_header(&r, "Access-Control-Allow-Origin"), "http://a.example");
    ck_assert_str_eq(http_header(&r, "Vary"), "Origin");
    http_reply_free(&r);
    /* Errors too: a page must be able to read them. */
    const char *half = "{\"input\":[1.0]}";
    r = http_request(NULL, "/v1/loss/l1", half, strlen(half), from_a);
    expect_http_error(&r, 422, "invalid_argument", NULL);
    ck_assert_str_eq(http_header(&r, "Access-Control-Allow-Origin"), "http://a.example");
    http_reply_free(&r);

    static const char *const strangers[] = {"Origin: http://c.example",
                                            "Origin: http://a.example:8080",
                                            "Origin: https://a.example", "Origin: null"};
    for (size_t i = 0; i < sizeof strangers / sizeof strangers[0]; i++) {
        const char *const h[] = {strangers[i], "Access-Control-Request-Method: POST", NULL};
        r = http_request("OPTIONS", "/v1/loss/l1", NULL, 0, h);
        ck_assert_int_eq(r.status, 204); /* answered, but allowing nothing: the browser refuses */
        expect_no_cors(&r);
        http_reply_free(&r);
        r = http_request(NULL, "/v1", NULL, 0, h);
        ck_assert_int_eq(r.status, 200);
        expect_no_cors(&r);
        http_reply_free(&r);
    }
}
END_TEST

START_TEST(any_origin_and_keys)
{
    /* A preflight carries no credentials: it is answered before the key is checked. */
    const char *const preflight[] = {"Origin: http://x.example",
                                     "Access-Control-Request-Method: POST",
                                     "Access-Control-Request-Headers: authorization", NULL};
    http_reply r = http_request("OPTIONS", "/v1/loss/l1", NULL, 0, preflight);
    ck_assert_int_eq(r.status, 204);
    ck_assert_str_eq(http_header(&r, "Access-Control-Allow-Origin"), "*");
    http_reply_free(&r);
    /* The 401 is readable by the page, and so is the reply with the key. */
    const char *const no_key[] = {"Origin: http://x.example", NULL};
    r = http_request(NULL, "/v1/loss/l1", l1_body, L1_LEN, no_key);
    expect_http_error(&r, 401, "unauthorized", NULL);
    ck_assert_str_eq(http_header(&r, "Access-Control-Allow-Origin"), "*");
    http_reply_free(&r);
    const char *const key[] = {"Origin: http://x.example", "Authorization: Bearer secret", NULL};
    r = http_request(NULL, "/v1/loss/l1", l1_body, L1_LEN, key);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(http_header(&r, "Access-Control-Allow-Origin"), "*");
    const char *exposed = http_header(&r, "Access-Control-Expose-Headers");
    ck_assert_ptr_nonnull(exposed);
    ck_assert_ptr_nonnull(strstr(exposed, "Inference-Header-Content-Length"));
    http_reply_free(&r);
}
END_TEST

/* ------------------------------------------------------------ options */

static int load(lossd_config *cfg, const char *const *args, char *err_text, size_t size)
{
    char *argv[8] = {"lossd"};
    int argc = 1;
    for (; args[argc - 1]; argc++)
        argv[argc] = (char *)args[argc - 1];
    lossd_config_defaults(cfg);
    lossd_action action;
    FILE *err = fmemopen(err_text, size, "w");
    int rc = lossd_config_load(cfg, argc, argv, err, &action);
    fclose(err);
    return rc;
}

START_TEST(options)
{
    lossd_config cfg;
    char err[512] = "";
    const char *const none[] = {NULL};
    ck_assert_int_eq(load(&cfg, none, err, sizeof err), 0);
    ck_assert(cfg.playground);
    ck_assert_str_eq(cfg.cors_origin, "");
    const char *const off[] = {"--playground", "off", NULL};
    ck_assert_int_eq(load(&cfg, off, err, sizeof err), 0);
    ck_assert(!cfg.playground);
    const char *const maybe[] = {"--playground=maybe", NULL};
    ck_assert_int_eq(load(&cfg, maybe, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "expected on or off"));
    setenv("LOSSD_PLAYGROUND", "off", 1);
    ck_assert_int_eq(load(&cfg, none, err, sizeof err), 0);
    ck_assert(!cfg.playground);
    const char *const on[] = {"--playground", "on", NULL};
    ck_assert_int_eq(load(&cfg, on, err, sizeof err), 0); /* flags win */
    ck_assert(cfg.playground);
    unsetenv("LOSSD_PLAYGROUND");

    static const char *const good[] = {"*", "http://a.example", "https://a.example:8443",
                                       "http://a.example,https://b.example",
                                       "http://127.0.0.1:3000 , http://[::1]:3000"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        const char *const args[] = {"--cors-origin", good[i], NULL};
        ck_assert_msg(load(&cfg, args, err, sizeof err) == 0, "%s: %s", good[i], err);
        ck_assert_str_eq(cfg.cors_origin, good[i]);
    }
    static const char *const bad[] = {
        "a.example",          "ftp://a.example", "http://a.example/", "http://a.example/x",
        "*,http://a.example", "http://",         "http://*.example",  ","};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *const args[] = {"--cors-origin", bad[i], NULL};
        err[0] = '\0';
        ck_assert_msg(load(&cfg, args, err, sizeof err) == -1, "%s was accepted", bad[i]);
        ck_assert_msg(strstr(err, "--cors-origin") != NULL, "%s: %s", bad[i], err);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("web");
    add_case(s, "page", 60, http_setup, http_stop,
             TESTS(page_is_served_with_a_strict_policy, every_file_is_served_as_built,
                   large_files_come_gzipped_when_asked, web_methods, openapi_is_served,
                   v1_links_to_the_web));
    add_case(s, "catalog entry", 60, http_setup, http_stop,
             TESTS(every_entry_has_an_example_that_computes, entry_errors));
    add_case(s, "api keys", 30, start_keys, stop_keys, TESTS(keys_guard_v1_but_not_the_page));
    add_case(s, "playground off", 30, start_off, http_stop, TESTS(playground_off_is_404));
    add_case(s, "cors", 30, http_setup, http_stop, TESTS(no_cors_without_the_option));
    add_case(s, "cors list", 30, start_cors, http_stop,
             TESTS(preflight_from_a_listed_origin, replies_name_only_allowed_origins));
    add_case(s, "cors any", 30, start_cors_any, stop_keys, TESTS(any_origin_and_keys));
    add_case(s, "options", 0, NULL, NULL, TESTS(options));
    return run_http_suite(s);
}
