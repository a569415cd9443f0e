/* SPDX-License-Identifier: MIT */
/*
 * httputil.c - the HTTP suites' harness (see httputil.h): the server
 * under test, libcurl requests and raw sockets.
 *
 * The server's state is file-global and owned by the test's thread; the
 * client helpers only read the port and keep everything else on their
 * own stack, so client threads may call them at once.
 */
#define _GNU_SOURCE /* usleep, strncasecmp */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "../src/service/log.h"
#include "httputil.h"

static lossd_config cfg;
static lossd_server *server;
static unsigned port;
static const char *scheme = "http";

/* ------------------------------------------------------------ the server */

int run_http_suite(Suite *s)
{
    curl_global_init(CURL_GLOBAL_ALL);
    int status = run_service_suite(s);
    curl_global_cleanup();
    return status;
}

void http_start(void (*adjust)(lossd_config *cfg))
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
    ck_assert_uint_gt(port, 0);
    scheme = cfg.tls_cert[0] ? "https" : "http";
}

void http_setup(void)
{
    http_start(NULL);
}

void http_stop(void)
{
    if (server) {
        lossd_server_drain(server);
        ck_assert(lossd_server_wait_idle(server, 10));
        lossd_server_stop(server);
        server = NULL;
    }
}

lossd_server *http_server(void)
{
    return server;
}

const lossd_config *http_config(void)
{
    return &cfg;
}

void http_target(unsigned target)
{
    port = target;
    scheme = "http";
}

unsigned http_port(void)
{
    return port;
}

/* ------------------------------------------------------------ requests */

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    http_reply *r = arg;
    char *p = realloc(r->body, r->len + size * n + 1);
    if (p == NULL)
        return 0;
    r->body = p;
    memcpy(r->body + r->len, data, size * n);
    r->len += size * n;
    r->body[r->len] = '\0';
    return size * n;
}

/* Keeps the header lines of the last response (after a 100 Continue, the final one's). */
static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    http_reply *r = arg;
    size_t len = size * n;
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0)
        r->headers_len_ = 0; /* a status line starts a response */
    size_t line = len;
    while (line > 0 && (data[line - 1] == '\r' || data[line - 1] == '\n'))
        line--;
    if (line == 0)
        return len;
    char *p = realloc(r->headers_, r->headers_len_ + line + 1);
    if (p == NULL)
        return 0;
    r->headers_ = p;
    memcpy(r->headers_ + r->headers_len_, data, line);
    r->headers_len_ += line;
    r->headers_[r->headers_len_++] = '\0';
    return len;
}

/* Whether a header list names `name` ("Name:" at the start of a line, any case). */
static bool names_header(const char *const *headers, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; headers && headers[i]; i++)
        if (strncasecmp(headers[i], name, n) == 0 && headers[i][n] == ':')
            return true;
    return false;
}

http_reply http_request_on(CURL *curl, const char *method, const char *path, const void *body,
                           size_t len, const char *const *headers)
{
    http_reply r = {0};
    char url[512];
    snprintf(url, sizeof url, "%s://127.0.0.1:%u%s", scheme, port, path);
    curl_easy_reset(curl); /* the options of a previous request; connections stay */
    struct curl_slist *list = NULL;
    for (size_t i = 0; headers && headers[i]; i++)
        list = curl_slist_append(list, headers[i]);
    if (body && !names_header(headers, "Content-Type"))
        list = curl_slist_append(list, "Content-Type: application/json");
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    /* The test certificate is self-signed. */
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    if (body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    if (method)
        curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    if (method && strcmp(method, "HEAD") == 0)
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    CURLcode rc = curl_easy_perform(curl);
    ck_assert_msg(rc == CURLE_OK, "%s %s: %s", method ? method : "-", path, curl_easy_strerror(rc));
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
    curl_easy_getinfo(curl, CURLINFO_TOTAL_TIME, &r.seconds);
    curl_slist_free_all(list);
    if (r.body == NULL) {
        r.body = malloc(1);
        ck_assert_ptr_nonnull(r.body);
        r.body[0] = '\0';
    }
    r.json = json_loadb(r.body, r.len, 0, NULL);
    return r;
}

http_reply http_request(const char *method, const char *path, const void *body, size_t len,
                        const char *const *headers)
{
    CURL *curl = curl_easy_init();
    ck_assert_ptr_nonnull(curl);
    http_reply r = http_request_on(curl, method, path, body, len, headers);
    curl_easy_cleanup(curl);
    return r;
}

http_reply http_get(const char *path)
{
    return http_request(NULL, path, NULL, 0, NULL);
}

http_reply http_post(const char *path, const char *json)
{
    return http_request(NULL, path, json, strlen(json), NULL);
}

const char *http_header(const http_reply *r, const char *name)
{
    size_t n = strlen(name);
    for (size_t at = 0; at < r->headers_len_; at += strlen(r->headers_ + at) + 1) {
        const char *line = r->headers_ + at;
        if (strncasecmp(line, name, n) == 0 && line[n] == ':') {
            const char *value = line + n + 1;
            while (*value == ' ' || *value == '\t')
                value++;
            return value;
        }
    }
    return NULL;
}

const char *http_header_line(const http_reply *r, const char *prev)
{
    size_t at = prev ? (size_t)(prev - r->headers_) + strlen(prev) + 1 : 0;
    return at < r->headers_len_ ? r->headers_ + at : NULL;
}

char *http_inflated(const http_reply *r, size_t *len)
{
    const char *coding = http_header(r, "Content-Encoding");
    ck_assert_msg(coding && (strcmp(coding, "gzip") == 0 || strcmp(coding, "deflate") == 0),
                  "Content-Encoding %s", coding ? coding : "(none)");
    z_stream z = {0};
    ck_assert_int_eq(inflateInit2(&z, coding[0] == 'g' ? 15 + 16 : 15), Z_OK);
    size_t cap = 4 * r->len + 4096, at = 0;
    char *out = malloc(cap + 1);
    ck_assert_ptr_nonnull(out);
    z.next_in = (Bytef *)r->body;
    z.avail_in = (uInt)r->len;
    int rc;
    do {
        if (at == cap) {
            out = realloc(out, (cap *= 2) + 1);
            ck_assert_ptr_nonnull(out);
        }
        z.next_out = (Bytef *)out + at;
        z.avail_out = (uInt)(cap - at);
        rc = inflate(&z, Z_NO_FLUSH);
        at = cap - z.avail_out;
    } while (rc == Z_OK);
    ck_assert_msg(rc == Z_STREAM_END && z.avail_in == 0,
                  "a %s body of %zu bytes: zlib says %d with %u bytes left", coding, r->len, rc,
                  z.avail_in);
    inflateEnd(&z);
    out[at] = '\0';
    *len = at;
    return out;
}

void http_reply_free(http_reply *r)
{
    free(r->body);
    free(r->headers_);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

void expect_status(http_reply r, long status)
{
    ck_assert_msg(r.status == status, "status %ld, want %ld: %s", r.status, status, r.body);
    http_reply_free(&r);
}

void expect_http_error(const http_reply *r, long status, const char *code, const char *field)
{
    ck_assert_msg(r->status == status, "status %ld, want %ld: %s", r->status, status, r->body);
    ck_assert_str_eq(http_header(r, "Content-Type"), "application/json");
    ck_assert_ptr_nonnull(r->json);
    json_t *error = json_object_get(r->json, "error");
    ck_assert_ptr_nonnull(error);
    ck_assert_str_eq(json_string_value(json_object_get(error, "code")), code);
    ck_assert_ptr_nonnull(json_string_value(json_object_get(error, "message")));
    if (field)
        ck_assert_str_eq(json_string_value(json_object_get(error, "field")), field);
}

void expect_v2_error(const http_reply *r, long status, const char *needle)
{
    ck_assert_msg(r->status == status, "status %ld, want %ld: %s", r->status, status, r->body);
    ck_assert_str_eq(http_header(r, "Content-Type"), "application/json");
    const char *error = json_string_value(json_object_get(r->json, "error"));
    ck_assert_msg(error && strstr(error, needle), "error %s does not say \"%s\"", r->body, needle);
}

http_reply http_metrics_with(const char *const *want, size_t n)
{
    for (int attempt = 0;; attempt++) {
        http_reply r = http_get("/metrics");
        size_t found = 0;
        while (found < n && strstr(r.body, want[found]))
            found++;
        if (found == n || attempt == 200)
            return r;
        http_reply_free(&r);
        usleep(10000);
    }
}

/* ------------------------------------------------------------ raw sockets */

int raw_connect(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

char *raw_read(int fd, const char *want, double *seconds)
{
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    buf[0] = '\0';
    for (ssize_t got; (got = recv(fd, buf + len, cap - 1 - len, 0)) > 0;) {
        len += (size_t)got;
        buf[len] = '\0';
        if (want && strstr(buf, want))
            break;
        if (cap - 1 - len < 4096) {
            buf = realloc(buf, cap *= 2);
            ck_assert_ptr_nonnull(buf);
        }
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (seconds)
        *seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    return buf;
}

/* ------------------------------------------------------------ bodies */

char *heavy_body(int n)
{
    char *body = malloc((size_t)n * 64 + 64), *p = body;
    ck_assert_ptr_nonnull(body);
    p += sprintf(p, "{\"boxes1\":[");
    for (int i = 0; i < n; i++)
        p += sprintf(p, "%s[%d,0,%d,2]", i ? "," : "", i % 17, i % 17 + 3);
    p += sprintf(p, "],\"boxes2\":[");
    for (int i = 0; i < n; i++)
        p += sprintf(p, "%s[0,%d,2,%d]", i ? "," : "", i % 13, i % 13 + 5);
    sprintf(p, "]}");
    return body;
}
