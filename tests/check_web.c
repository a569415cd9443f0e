/*
 * check_web.c - what lossd serves to browsers (src/service/web.c), over
 * real HTTP to an in-process server on an ephemeral port: the playground's
 * files byte for byte with their types and Content-Security-Policy, the
 * OpenAPI document, one catalog entry with an example request that
 * computes, --playground off, and CORS with and without --cors-origin.
 */
#define _GNU_SOURCE /* strcasestr */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include <check.h>
#include <lossd/lossd.h>

#include "../src/service/arena.h"
#include "../src/service/compress.h"
#include "../src/service/log.h"
#include "../src/service/options.h"
#include "../src/service/route.h"
#include "../src/service/server.h"
#include "../src/service/web.h"

static lossd_config cfg;
static lossd_server *server;
static unsigned port;
static char key_file[] = "/tmp/lossd-web-keys-XXXXXX";

/* ------------------------------------------------------------ fixtures */

static void start_with(void (*adjust)(lossd_config *))
{
    lossd_config_defaults(&cfg);
    strcpy(cfg.listen, "127.0.0.1:0");
    cfg.workers = 2;
    cfg.log_format = LOSSD_LOG_OFF;
    if (adjust)
        adjust(&cfg);
    lossd_log_init(cfg.log_format);
    server = lossd_server_start(&cfg, stderr);
    ck_assert_ptr_nonnull(server);
    port = lossd_server_port(server);
}

static void teardown(void)
{
    if (server) {
        lossd_server_drain(server);
        ck_assert(lossd_server_wait_idle(server, 10));
        lossd_server_stop(server);
        server = NULL;
    }
    unlink(key_file);
}

static void setup(void)
{
    start_with(NULL);
}

static void playground_off(lossd_config *c)
{
    c->playground = false;
}

static void with_keys(lossd_config *c)
{
    strcpy(key_file, "/tmp/lossd-web-keys-XXXXXX");
    int fd = mkstemp(key_file);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, "secret\n", 7), 7);
    close(fd);
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

static void setup_off(void)
{
    start_with(playground_off);
}

static void setup_keys(void)
{
    start_with(with_keys);
}

static void setup_cors(void)
{
    start_with(cors_list);
}

static void setup_cors_any(void)
{
    start_with(cors_any_with_keys);
}

/* ------------------------------------------------------------ HTTP client */

typedef struct {
    long status;
    char *body;
    size_t len;
    char headers[8192];
    size_t headers_len;
    json_t *json;
} reply;

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    reply *r = arg;
    char *p = realloc(r->body, r->len + size * n + 1);
    if (p == NULL)
        return 0;
    r->body = p;
    memcpy(r->body + r->len, data, size * n);
    r->len += size * n;
    r->body[r->len] = '\0';
    return size * n;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    reply *r = arg;
    if (r->headers_len + size * n < sizeof r->headers) {
        memcpy(r->headers + r->headers_len, data, size * n);
        r->headers_len += size * n;
        r->headers[r->headers_len] = '\0';
    }
    return size * n;
}

/* One request: GET, or POST with a body; headers NULL-terminated or NULL. */
static reply http(const char *method, const char *path, const char *body,
                  const char *const *headers)
{
    reply r = {0};
    char url[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%u%s", port, path);
    CURL *curl = curl_easy_init();
    ck_assert_ptr_nonnull(curl);
    struct curl_slist *list = NULL;
    for (size_t i = 0; headers && headers[i]; i++)
        list = curl_slist_append(list, headers[i]);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    if (body)
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
    if (method)
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    if (method && strcmp(method, "HEAD") == 0)
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    CURLcode rc = curl_easy_perform(curl);
    ck_assert_msg(rc == CURLE_OK, "%s: %s", path, curl_easy_strerror(rc));
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
    curl_slist_free_all(list);
    curl_easy_cleanup(curl);
    if (r.body)
        r.json = json_loads(r.body, 0, NULL);
    return r;
}

static reply get(const char *path)
{
    return http(NULL, path, NULL, NULL);
}

static void reply_free(reply *r)
{
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

/* The value of a reply header (the first), copied into buf; NULL when absent. */
static const char *header_value(const reply *r, const char *name, char *buf, size_t size)
{
    size_t len = strlen(name);
    for (const char *line = r->headers; line && *line;) {
        const char *end = strstr(line, "\r\n");
        if (strncasecmp(line, name, len) == 0 && line[len] == ':') {
            const char *v = line + len + 1;
            while (*v == ' ')
                v++;
            size_t n = (size_t)((end ? end : v + strlen(v)) - v);
            snprintf(buf, size, "%.*s", (int)n, v);
            return buf;
        }
        line = end ? end + 2 : NULL;
    }
    return NULL;
}

static void expect_header(const reply *r, const char *name, const char *want)
{
    char buf[1024];
    const char *got = header_value(r, name, buf, sizeof buf);
    ck_assert_msg(got != NULL, "no %s header in:\n%s", name, r->headers);
    ck_assert_str_eq(got, want);
}

static void expect_no_cors(const reply *r)
{
    ck_assert_msg(strcasestr(r->headers, "Access-Control-") == NULL, "CORS headers:\n%s",
                  r->headers);
    /* Vary names Accept-Encoding on the built-in files (gzip'd or not), never Origin. */
    for (const char *line = strcasestr(r->headers, "\nVary:"); line;
         line = strcasestr(line + 1, "\nVary:")) {
        char value[256];
        snprintf(value, sizeof value, "%.*s", (int)strcspn(line + 6, "\r\n"), line + 6);
        ck_assert_msg(strcasestr(value, "Origin") == NULL, "Vary:%s in:\n%s", value, r->headers);
    }
}

static void expect_error(const reply *r, long status, const char *code)
{
    ck_assert_msg(r->status == status, "status %ld, want %ld: %s", r->status, status,
                  r->body ? r->body : "");
    ck_assert_ptr_nonnull(r->json);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(r->json, "error"), "code")),
                     code);
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
    reply r = get("/");
    ck_assert_int_eq(r.status, 200);
    expect_header(&r, "Content-Type", "text/html;charset=utf-8");
    ck_assert_uint_eq(r.len, len);
    ck_assert(memcmp(r.body, html, len) == 0);
    char csp[1024];
    ck_assert_ptr_nonnull(header_value(&r, "Content-Security-Policy", csp, sizeof csp));
    /* Nothing from another origin, nothing inline, nothing evaluated. */
    static const char *const must[] = {"default-src 'self'", "script-src 'self';",
                                       "style-src 'self';",  "connect-src 'self';",
                                       "object-src 'none'",  "frame-ancestors 'none'"};
    for (size_t i = 0; i < sizeof must / sizeof must[0]; i++)
        ck_assert_msg(strstr(csp, must[i]) != NULL, "CSP lacks %s: %s", must[i], csp);
    ck_assert_ptr_null(strstr(csp, "unsafe"));
    ck_assert_ptr_null(strstr(csp, "http"));
    ck_assert_ptr_null(strstr(csp, "*"));
    expect_header(&r, "X-Content-Type-Options", "nosniff");
    expect_no_cors(&r);
    reply_free(&r);

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
        reply r = get(a->path);
        ck_assert_msg(r.status == 200, "%s: %ld", a->path, r.status);
        expect_header(&r, "Content-Type", a->content_type);
        ck_assert_msg(r.len == a->size && memcmp(r.body, a->data, a->size) == 0,
                      "%s: %zu bytes served, %zu built in", a->path, r.len, a->size);
        reply_free(&r);
    }
    /* The types a browser needs to run and render them under nosniff. */
    static const struct {
        const char *path, *type;
    } types[] = {{"/js/main.js", "text/javascript;charset=utf-8"},
                 {"/playground.css", "text/css;charset=utf-8"},
                 {"/vendor/chart.min.js", "text/javascript;charset=utf-8"},
                 {"/vendor/katex/katex.min.css", "text/css;charset=utf-8"},
                 {"/vendor/katex/fonts/KaTeX_Main-Regular.woff2", "font/woff2"},
                 {"/openapi.yaml", "application/yaml"},
                 {"/openapi.json", "application/json"}};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        const lossd_asset *a = lossd_web_asset_find(types[i].path);
        ck_assert_msg(a != NULL, "%s is not built in", types[i].path);
        ck_assert_str_eq(a->content_type, types[i].type);
    }
    ck_assert_ptr_null(lossd_web_asset_find("/index.html"));
    ck_assert_ptr_null(lossd_web_asset_find("/js/"));
    ck_assert_ptr_null(lossd_web_asset_find("/js/../openapi.yaml"));
}
END_TEST

/* A gzip body inflated with zlib (caller frees); fails the test unless it is one whole stream. */
static unsigned char *gunzip(const char *body, size_t len, size_t *out_len)
{
    z_stream z = {0};
    ck_assert_int_eq(inflateInit2(&z, 15 + 16), Z_OK); /* gzip only */
    size_t cap = 1 << 22;
    unsigned char *out = malloc(cap);
    ck_assert_ptr_nonnull(out);
    z.next_in = (Bytef *)body;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    ck_assert_int_eq(inflate(&z, Z_FINISH), Z_STREAM_END);
    ck_assert_uint_eq(z.avail_in, 0);
    *out_len = cap - z.avail_out;
    inflateEnd(&z);
    return out;
}

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
        char coding[64];
        const char *const gzip[] = {"Accept-Encoding: gzip, deflate, br", NULL};
        reply r = http(NULL, a->path, NULL, gzip);
        ck_assert_int_eq(r.status, 200);
        expect_header(&r, "Content-Type", a->content_type);
        if (compressible) {
            expect_header(&r, "Content-Encoding", "gzip");
            expect_header(&r, "Vary", "Accept-Encoding");
            size_t len;
            unsigned char *plain = gunzip(r.body, r.len, &len);
            ck_assert_msg(len == a->size && memcmp(plain, a->data, len) == 0,
                          "%s: inflates to %zu bytes, not the %zu of the file", a->path, len,
                          a->size);
            ck_assert_uint_lt(r.len, a->size);
            free(plain);
            packed++;
        } else {
            ck_assert_ptr_null(header_value(&r, "Content-Encoding", coding, sizeof coding));
            ck_assert(r.len == a->size && memcmp(r.body, a->data, a->size) == 0);
        }
        reply_free(&r);
        /* Not asked, refused, or only deflate (nothing is compressed per request): the file. */
        static const char *const others[] = {NULL, "Accept-Encoding: gzip;q=0",
                                             "Accept-Encoding: deflate",
                                             "Accept-Encoding: identity"};
        for (size_t k = 0; k < sizeof others / sizeof others[0]; k++) {
            const char *const h[] = {others[k], NULL};
            r = http(NULL, a->path, NULL, h);
            ck_assert_int_eq(r.status, 200);
            ck_assert_msg(header_value(&r, "Content-Encoding", coding, sizeof coding) == NULL,
                          "%s with %s: Content-Encoding %s", a->path,
                          others[k] ? others[k] : "nothing", coding);
            ck_assert_msg(r.len == a->size && memcmp(r.body, a->data, a->size) == 0,
                          "%s with %s: %zu bytes, not the file's %zu", a->path,
                          others[k] ? others[k] : "nothing", r.len, a->size);
            if (compressible)
                expect_header(&r, "Vary", "Accept-Encoding");
            reply_free(&r);
        }
    }
    ck_assert_uint_ge(packed, 10); /* the page, its scripts and styles, the libraries, OpenAPI */
}
END_TEST

START_TEST(web_methods)
{
    reply r = http("POST", "/", "{}", NULL);
    expect_error(&r, 405, "method_not_allowed");
    expect_header(&r, "Allow", "GET");
    reply_free(&r);
    r = http("HEAD", "/js/main.js", NULL, NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.len, 0);
    reply_free(&r);
    r = get("/js/nope.js");
    expect_error(&r, 404, "not_found");
    reply_free(&r);
}
END_TEST

START_TEST(openapi_is_the_checked_file)
{
    size_t len;
    char *yaml = read_source("docs/openapi.yaml", &len);
    reply r = get("/openapi.yaml");
    ck_assert_int_eq(r.status, 200);
    ck_assert_uint_eq(r.len, len);
    ck_assert(memcmp(r.body, yaml, len) == 0);
    reply_free(&r);
    free(yaml);

    char *text = read_source("docs/openapi.json", &len);
    r = get("/openapi.json");
    ck_assert_int_eq(r.status, 200);
    expect_header(&r, "Content-Type", "application/json");
    ck_assert_uint_eq(r.len, len);
    ck_assert(memcmp(r.body, text, len) == 0);
    ck_assert_ptr_nonnull(r.json);
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "openapi")), "3.0.3");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(r.json, "info"), "version")),
                     LOSSD_VERSION_STRING);
    json_t *paths = json_object_get(r.json, "paths");
    for (size_t i = 0; i < lossd_function_count(); i++) {
        const lossd_function *fn = lossd_function_at(i);
        char path[96];
        snprintf(path, sizeof path, "/v1/%s/%s", lossd_kind_name(fn->kind), fn->name);
        ck_assert_msg(json_object_get(paths, path) != NULL, "no %s in openapi.json", path);
    }
    static const char *const web_paths[] = {"/", "/openapi.yaml", "/openapi.json",
                                            "/v1/functions/{kind}/{name}"};
    for (size_t i = 0; i < sizeof web_paths / sizeof web_paths[0]; i++)
        ck_assert_msg(json_object_get(paths, web_paths[i]) != NULL, "no %s in openapi.json",
                      web_paths[i]);
    reply_free(&r);
    free(text);
}
END_TEST

START_TEST(v1_links_to_the_web)
{
    reply r = get("/v1");
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
    reply_free(&r);
}
END_TEST

/* ------------------------------------------------------------ one catalog entry */

START_TEST(every_entry_has_an_example_that_computes)
{
    reply catalog = get("/v1/functions");
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
        reply r = get(path);
        ck_assert_msg(r.status == 200, "%s: %ld %s", path, r.status, r.body);
        expect_header(&r, "Content-Type", "application/json");
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
        /* And the example computes. */
        char *body = json_dumps(example, JSON_COMPACT);
        const char *const json_type[] = {"Content-Type: application/json", NULL};
        reply computed =
            http(NULL, json_string_value(json_object_get(listed, "path")), body, json_type);
        ck_assert_msg(computed.status == 200, "POST %s %s: %ld %s", path, body, computed.status,
                      computed.body);
        ck_assert_ptr_null(json_object_get(computed.json, "nonfinite"));
        free(body);
        json_decref(example);
        reply_free(&computed);
        reply_free(&r);
    }
    reply_free(&catalog);
}
END_TEST

START_TEST(entry_errors)
{
    reply r = get("/v1/functions/loss/msee");
    expect_error(&r, 404, "not_found");
    ck_assert_ptr_nonnull(strstr(r.body, "smooth_l1"));
    reply_free(&r);
    r = get("/v1/functions/nope/mse");
    expect_error(&r, 404, "not_found");
    reply_free(&r);
    r = get("/v1/functions/loss/");
    expect_error(&r, 404, "not_found");
    reply_free(&r);
    r = http("POST", "/v1/functions/loss/mse", "{}", NULL);
    expect_error(&r, 405, "method_not_allowed");
    expect_header(&r, "Allow", "GET");
    reply_free(&r);
    /* Computing stays at /v1/{kind}/{name}: an entry's path only describes. */
    r = get("/v1/loss/mse");
    expect_error(&r, 405, "method_not_allowed");
    reply_free(&r);
}
END_TEST

START_TEST(keys_guard_v1_but_not_the_page)
{
    reply r = get("/");
    ck_assert_int_eq(r.status, 200); /* the page asks for the key itself */
    reply_free(&r);
    r = get("/openapi.json");
    ck_assert_int_eq(r.status, 200);
    reply_free(&r);
    r = get("/v1/functions/loss/mse");
    expect_error(&r, 401, "unauthorized");
    reply_free(&r);
    const char *const key[] = {"Authorization: Bearer secret", NULL};
    r = http(NULL, "/v1/functions/loss/mse", NULL, key);
    ck_assert_int_eq(r.status, 200);
    reply_free(&r);
}
END_TEST

/* ------------------------------------------------------------ --playground off */

START_TEST(playground_off_is_404)
{
    for (size_t i = 0; i < lossd_web_asset_count; i++) {
        const lossd_asset *a = &lossd_web_assets[i];
        reply r = get(a->path);
        if (a->playground)
            expect_error(&r, 404, "not_found");
        else
            ck_assert_int_eq(r.status, 200); /* the OpenAPI document stays */
        reply_free(&r);
    }
    reply r = get("/");
    ck_assert_ptr_nonnull(strstr(r.body, "--playground off"));
    ck_assert_ptr_null(strcasestr(r.headers, "Content-Security-Policy"));
    reply_free(&r);
    r = get("/v1/functions/loss/mse");
    ck_assert_int_eq(r.status, 200);
    reply_free(&r);
}
END_TEST

/* ------------------------------------------------------------ CORS */

START_TEST(no_cors_without_the_option)
{
    const char *const preflight[] = {"Origin: http://a.example",
                                     "Access-Control-Request-Method: POST",
                                     "Access-Control-Request-Headers: content-type", NULL};
    reply r = http("OPTIONS", "/v1/loss/giou", NULL, preflight);
    expect_error(&r, 405, "method_not_allowed"); /* as before CORS existed */
    expect_header(&r, "Allow", "POST");
    expect_no_cors(&r);
    reply_free(&r);
    const char *const origin[] = {"Origin: http://a.example", "Content-Type: application/json",
                                  NULL};
    r = http(NULL, "/v1/loss/l1", "{\"input\":[1.0],\"target\":[0.0]}", origin);
    ck_assert_int_eq(r.status, 200);
    expect_no_cors(&r);
    reply_free(&r);
    r = http(NULL, "/", NULL, origin);
    expect_no_cors(&r);
    reply_free(&r);
}
END_TEST

START_TEST(preflight_from_a_listed_origin)
{
    const char *const preflight[] = {
        "Origin: http://b.example:8000", "Access-Control-Request-Method: POST",
        "Access-Control-Request-Headers: authorization, content-type", NULL};
    reply r = http("OPTIONS", "/v1/loss/giou", NULL, preflight);
    ck_assert_int_eq(r.status, 204);
    ck_assert_uint_eq(r.len, 0);
    expect_header(&r, "Access-Control-Allow-Origin", "http://b.example:8000");
    expect_header(&r, "Vary", "Origin");
    expect_header(&r, "Access-Control-Allow-Methods", "POST, OPTIONS");
    expect_header(&r, "Access-Control-Max-Age", "600");
    char allowed[512];
    ck_assert_ptr_nonnull(
        header_value(&r, "Access-Control-Allow-Headers", allowed, sizeof allowed));
    static const char *const needed[] = {"Authorization", "Content-Type", "Content-Encoding",
                                         "Inference-Header-Content-Length"};
    for (size_t i = 0; i < sizeof needed / sizeof needed[0]; i++)
        ck_assert_msg(strstr(allowed, needed[i]) != NULL, "%s not in %s", needed[i], allowed);
    reply_free(&r);

    /* Every endpoint: GET ones say so. */
    static const char *const gets[] = {"/v1",      "/v1/functions", "/v1/functions/loss/mse",
                                       "/healthz", "/metrics",      "/openapi.json"};
    for (size_t i = 0; i < sizeof gets / sizeof gets[0]; i++) {
        r = http("OPTIONS", gets[i], NULL, preflight);
        ck_assert_msg(r.status == 204, "%s: %ld", gets[i], r.status);
        expect_header(&r, "Access-Control-Allow-Methods", "GET, HEAD, OPTIONS");
        reply_free(&r);
    }
    r = http("OPTIONS", "/v1/batch", NULL, preflight);
    ck_assert_int_eq(r.status, 204);
    reply_free(&r);
    /* An unknown path is still unknown. */
    r = http("OPTIONS", "/v1/loss/nope", NULL, preflight);
    expect_error(&r, 404, "not_found");
    reply_free(&r);
}
END_TEST

START_TEST(replies_name_only_allowed_origins)
{
    const char *const from_a[] = {"Origin: http://a.example", "Content-Type: application/json",
                                  NULL};
    reply r = http(NULL, "/v1/loss/l1", "{\"input\":[1.0],\"target\":[0.0]}", from_a);
    ck_assert_int_eq(r.status, 200);
    expect_header(&r, "Access-Control-Allow-Origin", "http://a.example");
    expect_header(&r, "Vary", "Origin");
    reply_free(&r);
    /* Errors too: a page must be able to read them. */
    r = http(NULL, "/v1/loss/l1", "{\"input\":[1.0]}", from_a);
    expect_error(&r, 422, "invalid_argument");
    expect_header(&r, "Access-Control-Allow-Origin", "http://a.example");
    reply_free(&r);

    static const char *const strangers[] = {"Origin: http://c.example",
                                            "Origin: http://a.example:8080",
                                            "Origin: https://a.example", "Origin: null"};
    for (size_t i = 0; i < sizeof strangers / sizeof strangers[0]; i++) {
        const char *const h[] = {strangers[i], "Access-Control-Request-Method: POST", NULL};
        r = http("OPTIONS", "/v1/loss/l1", NULL, h);
        ck_assert_int_eq(r.status, 204); /* answered, but allowing nothing: the browser refuses */
        expect_no_cors(&r);
        reply_free(&r);
        r = http(NULL, "/v1", NULL, h);
        ck_assert_int_eq(r.status, 200);
        expect_no_cors(&r);
        reply_free(&r);
    }
}
END_TEST

START_TEST(any_origin_and_keys)
{
    /* A preflight carries no credentials: it is answered before the key is checked. */
    const char *const preflight[] = {"Origin: http://x.example",
                                     "Access-Control-Request-Method: POST",
                                     "Access-Control-Request-Headers: authorization", NULL};
    reply r = http("OPTIONS", "/v1/loss/l1", NULL, preflight);
    ck_assert_int_eq(r.status, 204);
    expect_header(&r, "Access-Control-Allow-Origin", "*");
    reply_free(&r);
    /* The 401 is readable by the page, and so is the reply with the key. */
    const char *const no_key[] = {"Origin: http://x.example", NULL};
    r = http(NULL, "/v1/loss/l1", "{\"input\":[1.0],\"target\":[0.0]}", no_key);
    expect_error(&r, 401, "unauthorized");
    expect_header(&r, "Access-Control-Allow-Origin", "*");
    reply_free(&r);
    const char *const key[] = {"Origin: http://x.example", "Authorization: Bearer secret",
                               "Content-Type: application/json", NULL};
    r = http(NULL, "/v1/loss/l1", "{\"input\":[1.0],\"target\":[0.0]}", key);
    ck_assert_int_eq(r.status, 200);
    expect_header(&r, "Access-Control-Allow-Origin", "*");
    char exposed[256];
    ck_assert_ptr_nonnull(
        header_value(&r, "Access-Control-Expose-Headers", exposed, sizeof exposed));
    ck_assert_ptr_nonnull(strstr(exposed, "Inference-Header-Content-Length"));
    reply_free(&r);
}
END_TEST

/* ------------------------------------------------------------ options */

static int load(const char *const *args, char *err_text, size_t size)
{
    char *argv[8] = {"lossd"};
    int argc = 1;
    for (; args[argc - 1]; argc++)
        argv[argc] = (char *)args[argc - 1];
    lossd_config_defaults(&cfg);
    lossd_action action;
    FILE *err = fmemopen(err_text, size, "w");
    int rc = lossd_config_load(&cfg, argc, argv, err, &action);
    fclose(err);
    return rc;
}

START_TEST(options)
{
    char err[512] = "";
    const char *const none[] = {NULL};
    ck_assert_int_eq(load(none, err, sizeof err), 0);
    ck_assert(cfg.playground);
    ck_assert_str_eq(cfg.cors_origin, "");
    const char *const off[] = {"--playground", "off", NULL};
    ck_assert_int_eq(load(off, err, sizeof err), 0);
    ck_assert(!cfg.playground);
    const char *const maybe[] = {"--playground=maybe", NULL};
    ck_assert_int_eq(load(maybe, err, sizeof err), -1);
    ck_assert_ptr_nonnull(strstr(err, "expected on or off"));
    setenv("LOSSD_PLAYGROUND", "off", 1);
    ck_assert_int_eq(load(none, err, sizeof err), 0);
    ck_assert(!cfg.playground);
    const char *const on[] = {"--playground", "on", NULL};
    ck_assert_int_eq(load(on, err, sizeof err), 0); /* flags win */
    ck_assert(cfg.playground);
    unsetenv("LOSSD_PLAYGROUND");

    static const char *const good[] = {"*", "http://a.example", "https://a.example:8443",
                                       "http://a.example,https://b.example",
                                       "http://127.0.0.1:3000 , http://[::1]:3000"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        const char *const args[] = {"--cors-origin", good[i], NULL};
        ck_assert_msg(load(args, err, sizeof err) == 0, "%s: %s", good[i], err);
        ck_assert_str_eq(cfg.cors_origin, good[i]);
    }
    static const char *const bad[] = {
        "a.example",          "ftp://a.example", "http://a.example/", "http://a.example/x",
        "*,http://a.example", "http://",         "http://*.example",  ","};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *const args[] = {"--cors-origin", bad[i], NULL};
        err[0] = '\0';
        ck_assert_msg(load(args, err, sizeof err) == -1, "%s was accepted", bad[i]);
        ck_assert_msg(strstr(err, "--cors-origin") != NULL, "%s: %s", bad[i], err);
    }
}
END_TEST

/* A TCase of the given tests, each on a server started by `setup` (none when NULL). */
static void add_case(Suite *s, const char *name, void (*setup_fn)(void), const TTest *const *tests)
{
    TCase *tc = tcase_create(name);
    if (setup_fn)
        tcase_add_checked_fixture(tc, setup_fn, teardown);
    for (size_t i = 0; tests[i]; i++)
        tcase_add_test(tc, tests[i]);
    suite_add_tcase(s, tc);
}

static Suite *web_suite(void)
{
    Suite *s = suite_create("web");
    add_case(s, "page", setup,
             (const TTest *const[]){page_is_served_with_a_strict_policy,
                                    every_file_is_served_as_built,
                                    large_files_come_gzipped_when_asked, web_methods,
                                    openapi_is_the_checked_file, v1_links_to_the_web, NULL});
    add_case(s, "catalog entry", setup,
             (const TTest *const[]){every_entry_has_an_example_that_computes, entry_errors, NULL});
    add_case(s, "api keys", setup_keys,
             (const TTest *const[]){keys_guard_v1_but_not_the_page, NULL});
    add_case(s, "playground off", setup_off, (const TTest *const[]){playground_off_is_404, NULL});
    add_case(s, "cors", setup, (const TTest *const[]){no_cors_without_the_option, NULL});
    add_case(s, "cors list", setup_cors,
             (const TTest *const[]){preflight_from_a_listed_origin,
                                    replies_name_only_allowed_origins, NULL});
    add_case(s, "cors any", setup_cors_any, (const TTest *const[]){any_origin_and_keys, NULL});
    add_case(s, "options", NULL, (const TTest *const[]){options, NULL});
    return s;
}

int main(void)
{
    json_object_seed(0);
    lossd_arena_install(); /* as main() does: request trees go to arenas */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    SRunner *runner = srunner_create(web_suite());
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    curl_global_cleanup();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
