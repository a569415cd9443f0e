/* SPDX-License-Identifier: MIT */
/*
 * httputil.h - the harness of the HTTP suites: a real lossd server in the
 * test process on an ephemeral port, requests to it with libcurl (any
 * method, body bytes and headers), raw sockets for what curl will not
 * send, and replies with status, headers by name, the raw body bytes and
 * the body parsed as JSON.
 *
 * A typical test case:
 *
 *     static void small_body(lossd_config *c) { c->max_body = 4096; }
 *     static void start_small(void) { http_start(small_body); }
 *     ...
 *     add_case(s, "limits", 30, start_small, http_stop, TESTS(body_too_large));
 *
 * and in the test, http_reply r = http_post("/v1/loss/mse", "{...}");
 * then r.status, r.json, http_header(&r, "Retry-After"); http_reply_free(&r).
 *
 * Threads: one server at a time, started and stopped on the test's
 * thread (by a checked fixture, so in the forked test child). Requests and
 * raw sockets may come from several client threads at once. Every helper
 * fails the current test on an error of its own (no connection, a curl
 * error); an HTTP error status is a reply, not a failure.
 */
#ifndef LOSSD_TESTS_HTTPUTIL_H
#define LOSSD_TESTS_HTTPUTIL_H

#include <curl/curl.h>
#include <jansson.h>
#include <stddef.h>

#include "../src/service/options.h"
#include "../src/service/server.h"
#include "serviceutil.h"

/* A reply; the caller releases it with http_reply_free(). */
typedef struct {
    long status;    /* the HTTP status */
    char *body;     /* the body's raw bytes, then a NUL not counted in len ("" when none) */
    size_t len;     /* bytes in body */
    json_t *json;   /* the body parsed as JSON; NULL when it is not JSON */
    double seconds; /* from the start of the request to the end of the reply */
    /* private: the header lines, each NUL-terminated (read them with http_header) */
    char *headers_;
    size_t headers_len_;
} http_reply;

/*
 * Runs an HTTP suite: what run_service_suite() does, with libcurl's global
 * state set up around it. Returns main()'s exit status.
 */
int run_http_suite(Suite *s);

/*
 * Starts the server with the tests' defaults (127.0.0.1:0, 2 workers, no
 * log), changed by `adjust` when given, and points the requests at it
 * (over TLS when adjust sets a certificate).
 */
void http_start(void (*adjust)(lossd_config *cfg));
/* http_start(NULL), as a fixture. */
void http_setup(void);
/* Drains the server, expects it idle within 10 s and stops it (a fixture; nothing when none runs).
 */
void http_stop(void);

/* The server http_start() started, and its configuration. */
lossd_server *http_server(void);
const lossd_config *http_config(void);
/* Points the requests at another server on 127.0.0.1 (a lossd process a test started). */
void http_target(unsigned port);
/* The port the requests go to. */
unsigned http_port(void);

/*
 * One request on a new connection. method: NULL for GET, or POST when
 * there is a body; HEAD reads no body. body: `len` bytes sent as they are
 * (NUL bytes included), or NULL for none. headers: extra header lines
 * ("Name: value"), NULL-terminated, or NULL. A body goes out as
 * application/json unless headers name a Content-Type ("Content-Type:"
 * alone sends none).
 */
http_reply http_request(const char *method, const char *path, const void *body, size_t len,
                        const char *const *headers);
/* The same on a curl handle the caller keeps: its requests share a keep-alive connection. */
http_reply http_request_on(CURL *curl, const char *method, const char *path, const void *body,
                           size_t len, const char *const *headers);
/* GET path. */
http_reply http_get(const char *path);
/* POST a JSON text to path. */
http_reply http_post(const char *path, const char *json);

/*
 * The value of the reply's first header called `name` (any case), without
 * the spaces around it, or NULL when it has none. Valid until
 * http_reply_free().
 */
const char *http_header(const http_reply *r, const char *name);
/*
 * The reply's header lines one at a time, as received ("Name: value"; the
 * status line first): NULL gives the first, a line the one after it, and
 * NULL comes after the last. For headers that repeat (Vary) or a family of
 * them (Access-Control-*). Valid until http_reply_free().
 */
const char *http_header_line(const http_reply *r, const char *prev);
/*
 * The body of a reply that says Content-Encoding: gzip or deflate (the
 * zlib format), inflated with zlib: malloc'd and NUL-terminated, its
 * length in *len (caller frees). Fails the test unless the body is one
 * whole stream in the coding the reply names, with nothing after it.
 */
char *http_inflated(const http_reply *r, size_t *len);
void http_reply_free(http_reply *r);

/* Expects r to have `status` (showing its body when not) and frees it:
   expect_status(http_get("/healthz"), 200). */
void expect_status(http_reply r, long status);

/* Expects an error reply: status, JSON content type, code and (when given) field. */
void expect_http_error(const http_reply *r, long status, const char *code, const char *field);

/* Expects a /v2 error: status, JSON, and an "error" string containing `needle`. */
void expect_v2_error(const http_reply *r, long status, const char *needle);

/*
 * GET /metrics once it holds every one of the n lines of want, or after
 * 2 s (a request is counted when libmicrohttpd reports it complete,
 * which may come just after its client has read the reply).
 */
http_reply http_metrics_with(const char *const *want, size_t n);

/* A TCP connection to the server, with a 10 s receive timeout. */
int raw_connect(void);
/*
 * Reads from fd until the peer closes it or `want` (when given) has
 * arrived; *seconds (when given) gets how long that took. Returns what
 * was read, NUL-terminated (caller frees).
 */
char *raw_read(int fd, const char *want, double *seconds);

/*
 * A request body that keeps a worker busy a while: a CIoU matrix of n x n
 * boxes for /v1/pairwise/ciou (tens of milliseconds at HEAVY_N, seconds
 * under the sanitizers). Caller frees.
 */
#define HEAVY_N 600
char *heavy_body(int n);

#endif /* LOSSD_TESTS_HTTPUTIL_H */
