/* SPDX-License-Identifier: MIT */
/*
 * check_http_requests.c - what clients send besides the numbers, over
 * real HTTP on /v1 and /v2: query strings (never silently ignored on a
 * compute endpoint), request ids (echoed on every reply, or generated),
 * media types and bodies that are not quite JSON objects, null for a
 * default, friendlier 404s, batch job ids, the process metrics, the Host
 * header HTTP/1.1 requires and header values trimmed of the whitespace
 * around them. An in-process server per test (tests/httputil.h).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "httputil.h"

static void small_body(lossd_config *c)
{
    c->max_body = 4096;
}

static void start_small(void)
{
    http_start(small_body);
}

/* The message of a /v1 error reply. */
static const char *error_message(const http_reply *r)
{
    return json_string_value(json_object_get(json_object_get(r->json, "error"), "message"));
}

/* Expects a /v1 error whose message contains `fragment`. */
static void expect_error_saying(const http_reply *r, long status, const char *code,
                                const char *field, const char *fragment)
{
    expect_http_error(r, status, code, field);
    const char *message = error_message(r);
    ck_assert_msg(strstr(message, fragment) != NULL, "\"%s\" does not say \"%s\"", message,
                  fragment);
}

/* ------------------------------------------------------------ query strings */

START_TEST(query_strings_are_refused)
{
    const char *body = "{\"input\":[1,2],\"target\":[0,0]}";
    http_reply r = http_post("/v1/loss/mse", body);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "{\"loss\":2.5,\"n\":2}"); /* the mean */
    http_reply_free(&r);
    /* ?reduction=sum would have been the sum: never the mean instead, silently */
    r = http_post("/v1/loss/mse?reduction=sum", body);
    expect_error_saying(&r, 422, "invalid_argument", "query",
                        "query: a compute endpoint takes no query string, got ?reduction=sum; "
                        "send parameters in the JSON body");
    http_reply_free(&r);
    r = http_post("/v1/loss/mse?reduction=sum&grad=true", body);
    expect_error_saying(&r, 422, "invalid_argument", "query", "got ?reduction=sum&...;");
    http_reply_free(&r);
    r = http_post("/v1/activation/relu?grad", "{\"input\":[1]}");
    expect_error_saying(&r, 422, "invalid_argument", "query", "got ?grad;");
    http_reply_free(&r);
    r = http_post("/v1/batch?x=1", "{\"jobs\":[]}");
    expect_http_error(&r, 422, "invalid_argument", "query");
    http_reply_free(&r);
    r = http_post("/v2/models/loss.mse/infer?reduction=sum", "{\"inputs\":[]}");
    expect_v2_error(&r, 422,
                    "query: an inference endpoint takes no query string, got "
                    "?reduction=sum");
    http_reply_free(&r);

    /* In a batch, a job's path with a query is the same 422, not a 404; the others run. */
    r = http_post("/v1/batch", "{\"jobs\":[{\"path\":\"/v1/loss/mse?reduction=sum\",\"body\":"
                               "{\"input\":[1,2],\"target\":[0,0]}},{\"path\":\"/v1/loss/mse\","
                               "\"body\":{\"input\":[1,2],\"target\":[0,0]}}]}");
    ck_assert_int_eq(r.status, 200);
    json_t *results = json_object_get(r.json, "results");
    json_t *first = json_array_get(results, 0), *second = json_array_get(results, 1);
    ck_assert_int_eq(json_integer_value(json_object_get(first, "status")), 422);
    json_t *error = json_object_get(json_object_get(first, "body"), "error");
    ck_assert_str_eq(json_string_value(json_object_get(error, "field")), "path");
    ck_assert_str_eq(json_string_value(json_object_get(error, "message")),
                     "path: a job's path takes no query string, got ?reduction=sum; send "
                     "parameters in the job's body");
    ck_assert_int_eq(json_integer_value(json_object_get(second, "status")), 200);
    http_reply_free(&r);

    /* GET endpoints take no input: a query (a cache-buster) is ignored. */
    static const char *const gets[] = {"/healthz?x=1",         "/readyz?_=1700000000",
                                       "/v1/functions?x",      "/metrics?name[]=up",
                                       "/v2/health/ready?x=1", "/v2/models/loss.mse?x=1"};
    for (size_t i = 0; i < sizeof gets / sizeof gets[0]; i++) {
        r = http_get(gets[i]);
        ck_assert_msg(r.status == 200, "%s: %ld %s", gets[i], r.status, r.body);
        http_reply_free(&r);
    }
}
END_TEST

/* ------------------------------------------------------------ request ids */

/* Sends a request with X-Request-Id `id` (NULL: none) and returns the reply. */
static http_reply with_id(const char *method, const char *path, const char *body, const char *id)
{
    char header[512];
    const char *headers[] = {header, NULL};
    snprintf(header, sizeof header, "X-Request-Id: %s", id ? id : "");
    return http_request(method, path, body, body ? strlen(body) : 0, id ? headers : NULL);
}

/* Whether id has the form lossd generates: 16 hex digits, '-', thread, '-', sequence. */
static bool generated(const char *id)
{
    return id && strspn(id, "0123456789abcdef") == 16 && id[16] == '-' &&
           strchr(id + 17, '-') != NULL;
}

START_TEST(request_ids_are_echoed)
{
    /* Echoed on every reply: computed, refused early or late, GET, /v2, errors of each kind. */
    static const struct {
        const char *method, *path, *body;
        long status;
    } requests[] = {
        {"POST", "/v1/loss/mse", "{\"input\":[1],\"target\":[0]}", 200},
        {"POST", "/v1/loss/mse", "{\"input\":[1]}", 422},
        {"POST", "/v1/loss/mse", "{\"input\":", 400},
        {"POST", "/v1/loss/msee", "{}", 404},
        {NULL, "/v1/loss/mse", NULL, 405},
        {NULL, "/healthz", NULL, 200},
        {NULL, "/metrics", NULL, 200},
        {NULL, "/nowhere", NULL, 404},
        {"POST", "/v1/batch", "{\"jobs\":[]}", 200},
        {"POST", "/v2/models/loss.mse/infer", "{\"inputs\":[]}", 422},
        {NULL, "/v2/models/loss.mse", NULL, 200},
        {"POST", "/v1/loss/mse?x=1", "{}", 422},
    };
    const char *id = "0f8e2a7c-4b1d-4e5f-9a3b-2c6d8e0f1a2b";
    for (size_t i = 0; i < sizeof requests / sizeof requests[0]; i++) {
        http_reply r = with_id(requests[i].method, requests[i].path, requests[i].body, id);
        ck_assert_msg(r.status == requests[i].status, "%s: %ld %s", requests[i].path, r.status,
                      r.body);
        const char *echoed = http_header(&r, "X-Request-Id");
        ck_assert_msg(echoed && strcmp(echoed, id) == 0, "%s: X-Request-Id %s", requests[i].path,
                      echoed ? echoed : "missing");
        http_reply_free(&r);
    }
    /* A body past --max-body, refused before it is read, carries it too. */
    char *big = malloc(8192);
    memset(big, ' ', 8191);
    big[8191] = '\0';
    http_reply r = with_id("POST", "/v1/loss/mse", big, "big-one");
    ck_assert_int_eq(r.status, 413);
    ck_assert_str_eq(http_header(&r, "X-Request-Id"), "big-one");
    http_reply_free(&r);
    free(big);

    /* 128 visible ASCII bytes, punctuation included, are taken as they are. */
    char longest[129];
    memset(longest, 'a', 128);
    longest[128] = '\0';
    longest[0] = '"';
    longest[1] = '\\';
    r = with_id(NULL, "/healthz", NULL, longest);
    ck_assert_str_eq(http_header(&r, "X-Request-Id"), longest);
    http_reply_free(&r);
}
END_TEST

START_TEST(request_ids_are_generated)
{
    /* None sent, or one unfit to echo and log: lossd makes one up, never refuses. */
    char too_long[130];
    memset(too_long, 'a', 129);
    too_long[129] = '\0';
    const char *unfit[] = {NULL, "", "has space", too_long, "caf\xc3\xa9"};
    char seen[5][64] = {{0}};
    for (size_t i = 0; i < 5; i++) {
        http_reply r = with_id(NULL, "/healthz", NULL, unfit[i]);
        ck_assert_int_eq(r.status, 200);
        const char *id = http_header(&r, "X-Request-Id");
        ck_assert_msg(generated(id), "sent \"%s\", got X-Request-Id %s", unfit[i] ? unfit[i] : "",
                      id ? id : "none");
        snprintf(seen[i], sizeof seen[i], "%s", id);
        for (size_t j = 0; j < i; j++)
            ck_assert_str_ne(seen[i], seen[j]);
        http_reply_free(&r);
    }
    http_reply r = http_post("/v2/models/loss.mse/infer", "{}");
    ck_assert(generated(http_header(&r, "X-Request-Id")));
    http_reply_free(&r);
}
END_TEST

/* ------------------------------------------------------------ not quite right */

START_TEST(not_found_says_what_was_meant)
{
    http_reply r = http_post("/v1/loss/relu", "{\"input\":[1]}");
    expect_error_saying(&r, 404, "not_found", NULL, "relu is an activation: /v1/activation/relu");
    http_reply_free(&r);
    r = http_post("/v1/loss/smooth-l1", "{}");
    expect_error_saying(&r, 404, "not_found", NULL, "did you mean /v1/loss/smooth_l1?");
    http_reply_free(&r);
    r = http_post("/v1/loss/mse/", "{}");
    expect_error_saying(&r, 404, "not_found", NULL, "did you mean /v1/loss/mse?");
    http_reply_free(&r);
    r = http_post("/v2/models/loss.relu/infer", "{}");
    expect_v2_error(&r, 404, "relu is an activation: /v2/models/activation.relu/infer");
    http_reply_free(&r);
    r = http_get("/v2/models/Loss.Smooth-L1");
    expect_v2_error(&r, 404, "did you mean /v2/models/loss.smooth_l1?");
    http_reply_free(&r);
    /* in a batch too */
    r = http_post("/v1/batch", "{\"jobs\":[{\"path\":\"/v1/loss/relu\",\"body\":{}}]}");
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_nonnull(strstr(r.body, "relu is an activation: /v1/activation/relu"));
    http_reply_free(&r);
}
END_TEST

START_TEST(bodies_that_are_not_objects)
{
    const char *empty_json[] = {"Content-Type: application/json", NULL};
    http_reply r = http_request("POST", "/v1/loss/mse", "", 0, empty_json);
    expect_error_saying(&r, 400, "invalid_json", NULL,
                        "the body is empty; send a JSON object, such as {\"input\": [...]}");
    http_reply_free(&r);
    r = http_post("/v1/loss/mse", "[1,2]");
    expect_error_saying(&r, 400, "invalid_json", NULL,
                        "the body must be a JSON object {...}, got an array");
    http_reply_free(&r);
    r = http_post("/v1/loss/mse", "\"input\"");
    expect_error_saying(&r, 400, "invalid_json", NULL, "got a string");
    http_reply_free(&r);
    r = http_post("/v2/models/loss.mse/infer", "  ");
    expect_v2_error(&r, 400, "the body is empty");
    http_reply_free(&r);
    r = http_post("/v1/loss/mse", "{\"input\":\"a\\u0000\"}");
    expect_error_saying(&r, 400, "invalid_json", NULL, "a string holds \\u0000");
    ck_assert_ptr_null(strstr(r.body, "JSON_"));
    http_reply_free(&r);

    /* A UTF-8 byte-order mark before the object is skipped, on /v1 and /v2. */
    r = http_post("/v1/loss/mse", "\xEF\xBB\xBF{\"input\":[1,2],\"target\":[0,0]}");
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "{\"loss\":2.5,\"n\":2}");
    http_reply_free(&r);
    r = http_post("/v2/models/activation.relu/infer",
                  "\xEF\xBB\xBF{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":"
                  "\"FP64\",\"data\":[-1]}],\"outputs\":[{\"name\":\"output\"}]}");
    ck_assert_msg(r.status == 200, "%s", r.body);
    http_reply_free(&r);
}
END_TEST

START_TEST(json_media_types)
{
    /* +json types are JSON (RFC 6839); a problem report is not a request. */
    const char *ok = "{\"input\":[1],\"target\":[0]}";
    static const char *const json_types[] = {
        "Content-Type: application/vnd.api+json",
        "Content-Type: application/merge-patch+json; charset=utf-8",
        "Content-Type: Application/LD+JSON",
    };
    for (size_t i = 0; i < sizeof json_types / sizeof json_types[0]; i++) {
        const char *headers[] = {json_types[i], NULL};
        http_reply r = http_request(NULL, "/v1/loss/mse", ok, strlen(ok), headers);
        ck_assert_msg(r.status == 200, "%s: %ld %s", json_types[i], r.status, r.body);
        ck_assert_str_eq(r.body, "{\"loss\":1.0,\"n\":1}");
        http_reply_free(&r);
    }
    static const char *const not_json[] = {
        "Content-Type: application/problem+json", "Content-Type: application/+json",
        "Content-Type: text/x+json", "Content-Type: application/jsonl"};
    for (size_t i = 0; i < sizeof not_json / sizeof not_json[0]; i++) {
        const char *headers[] = {not_json[i], NULL};
        http_reply r = http_request(NULL, "/v1/loss/mse", ok, strlen(ok), headers);
        expect_http_error(&r, 415, "unsupported_media_type", NULL);
        http_reply_free(&r);
    }
    const char *problem[] = {"Content-Type: application/problem+json", NULL};
    http_reply r = http_request(NULL, "/v1/loss/mse", ok, strlen(ok), problem);
    ck_assert_ptr_nonnull(strstr(error_message(&r), "describes an error, not a request"));
    http_reply_free(&r);
    const char *vnd[] = {"Content-Type: application/vnd.api+json", NULL};
    const char *v2 = "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP64\","
                     "\"data\":[2]}]}";
    r = http_request(NULL, "/v2/models/activation.relu/infer", v2, strlen(v2), vnd);
    ck_assert_msg(r.status == 200, "%s", r.body);
    http_reply_free(&r);
}
END_TEST

/* ------------------------------------------------------------ null */

START_TEST(null_is_the_default)
{
    /* null for an optional parameter is its default on /v1, as on /v2 (None, undefined). */
    http_reply plain = http_post("/v1/loss/smooth_l1", "{\"input\":[0.1,2],\"target\":[0,0]}");
    http_reply nulls =
        http_post("/v1/loss/smooth_l1", "{\"input\":[0.1,2],\"target\":[0,0],\"beta\":null,"
                                        "\"reduction\":null,\"grad\":null,\"grad_output\":null}");
    ck_assert_int_eq(plain.status, 200);
    ck_assert_msg(nulls.status == 200, "%s", nulls.body);
    ck_assert_str_eq(nulls.body, plain.body);
    http_reply v2 = http_post("/v2/models/loss.smooth_l1/infer",
                              "{\"parameters\":{\"beta\":null,\"reduction\":null},\"inputs\":["
                              "{\"name\":\"input\",\"shape\":[2],\"datatype\":\"FP64\","
                              "\"data\":[0.1,2]},{\"name\":\"target\",\"shape\":[2],"
                              "\"datatype\":\"FP64\",\"data\":[0,0]}],\"outputs\":[{\"name\":"
                              "\"loss\"}]}");
    ck_assert_msg(v2.status == 200, "%s", v2.body);
    json_t *loss = json_object_get(json_array_get(json_object_get(v2.json, "outputs"), 0), "data");
    ck_assert(same_bits(json_real_value(json_array_get(loss, 0)),
                        json_real_value(json_object_get(plain.json, "loss"))));
    http_reply_free(&plain);
    http_reply_free(&nulls);
    http_reply_free(&v2);
    /* a required operand is still required; a field nobody takes is still a typo */
    http_reply r = http_post("/v1/loss/mse", "{\"input\":null,\"target\":[1]}");
    expect_http_error(&r, 422, "invalid_argument", "input");
    http_reply_free(&r);
    r = http_post("/v1/loss/mse", "{\"input\":[1],\"target\":[1],\"betta\":null}");
    expect_http_error(&r, 422, "invalid_argument", "betta");
    http_reply_free(&r);
}
END_TEST

/* ------------------------------------------------------------ batch ids, metrics */

START_TEST(batch_jobs_carry_ids)
{
    /* A job's "id" comes back in its result, whatever became of the job. */
    http_reply r =
        http_post("/v1/batch",
                  "{\"jobs\":[{\"id\":\"box-7\",\"path\":\"/v1/loss/mse\",\"body\":{\"input\":[1],"
                  "\"target\":[0]}},{\"path\":\"/v1/loss/mse\",\"body\":{\"input\":[1]},\"id\":"
                  "\"caf\\u00e9 \\\"2\\\"\"},{\"path\":\"/v1/loss/mse\",\"body\":{\"input\":[1],"
                  "\"target\":[0]}},{\"id\":3,\"path\":\"/v1/loss/mse\",\"body\":{}},{\"id\":null,"
                  "\"path\":\"/v1/loss/relu\",\"body\":{}}]}");
    ck_assert_msg(r.status == 200, "%s", r.body);
    json_t *results = json_object_get(r.json, "results");
    ck_assert_uint_eq(json_array_size(results), 5);
    json_t *a = json_array_get(results, 0), *b = json_array_get(results, 1);
    ck_assert_str_eq(json_string_value(json_object_get(a, "id")), "box-7");
    ck_assert_int_eq(json_integer_value(json_object_get(a, "status")), 200);
    ck_assert_str_eq(json_string_value(json_object_get(b, "id")), "caf\xc3\xa9 \"2\"");
    ck_assert_int_eq(json_integer_value(json_object_get(b, "status")), 422);
    ck_assert_ptr_null(json_object_get(json_array_get(results, 2), "id")); /* none sent */
    /* an id that is not a string fails its job, naming it; null is no id */
    json_t *c = json_array_get(results, 3), *d = json_array_get(results, 4);
    ck_assert_int_eq(json_integer_value(json_object_get(c, "status")), 422);
    ck_assert_str_eq(json_string_value(json_object_get(
                         json_object_get(json_object_get(c, "body"), "error"), "message")),
                     "id: expected a string, got a number");
    ck_assert_ptr_null(json_object_get(c, "id"));
    ck_assert_ptr_null(json_object_get(d, "id"));
    ck_assert_int_eq(json_integer_value(json_object_get(d, "status")), 404);
    /* the reply keeps the order id, status, body */
    ck_assert_ptr_nonnull(
        strstr(r.body, "{\"results\":[{\"id\":\"box-7\",\"status\":200,\"body\":"));
    http_reply_free(&r);
    r = http_post("/v1/batch",
                  "{\"jobs\":[{\"path\":\"/v1/loss/mse\",\"body\":{},\"ids\":\"x\"}]}");
    ck_assert_ptr_nonnull(strstr(r.body, "ids: unknown field; a job takes: path, body, id"));
    http_reply_free(&r);
}
END_TEST

START_TEST(metrics_of_the_process)
{
    http_reply r = http_get("/metrics");
    ck_assert_int_eq(r.status, 200);
    static const char *const names[] = {"\nprocess_cpu_seconds_total ",
                                        "\nprocess_resident_memory_bytes ",
                                        "\nprocess_virtual_memory_bytes ",
                                        "\nprocess_open_fds ",
                                        "\nprocess_max_fds ",
                                        "\nprocess_start_time_seconds "};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        ck_assert_msg(strstr(r.body, names[i]) != NULL, "no%s", names[i]);
    http_reply_free(&r);
}
END_TEST

/* ------------------------------------------------------------ headers */

/* Sends `request` as it is on a new connection; the reply's text, up to its close (caller frees).
 */
static char *raw_exchange(const char *request)
{
    int fd = raw_connect();
    size_t len = strlen(request);
    ck_assert_int_eq(send(fd, request, len, 0), (ssize_t)len);
    char *got = raw_read(fd, NULL, NULL);
    close(fd);
    return got;
}

/* Expects a raw reply with `status` whose text contains `fragment`. */
static void expect_raw(const char *request, const char *status, const char *fragment)
{
    char *got = raw_exchange(request);
    ck_assert_msg(strncmp(got, status, strlen(status)) == 0 && strstr(got, fragment) != NULL,
                  "%.60s...: want %s ... %s, got: %.400s", request, status, fragment, got);
    free(got);
}

START_TEST(http_1_1_needs_one_host)
{
    static const char mse[] = "{\"input\":[1],\"target\":[0]}";
    char post[512];
    /* RFC 9112, section 3.2: without a Host header, or with two, a 400 - on every endpoint */
    expect_raw("GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n", "HTTP/1.1 400",
               "an HTTP/1.1 request must carry a Host header (RFC 9112, section 3.2)");
    expect_raw("GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\nConnection: close\r\n\r\n",
               "HTTP/1.1 400", "must carry one Host header, not several");
    snprintf(post, sizeof post,
             "POST /v1/loss/mse HTTP/1.1\r\nConnection: close\r\nContent-Type: "
             "application/json\r\nContent-Length: %zu\r\n\r\n%s",
             sizeof mse - 1, mse);
    expect_raw(post, "HTTP/1.1 400", "\"code\":\"bad_request\"");
    /* before the route: an unknown path without Host is the same 400, not a 404 */
    expect_raw("GET /nowhere HTTP/1.1\r\nConnection: close\r\n\r\n", "HTTP/1.1 400",
               "must carry a Host header");
    snprintf(post, sizeof post,
             "POST /v2/models/loss.mse/infer HTTP/1.1\r\nConnection: close\r\nContent-Length: "
             "2\r\n\r\n{}");
    expect_raw(post, "HTTP/1.1 400", "{\"error\":\"an HTTP/1.1 request must carry a Host header");
    /* with its Host, the same requests are served; HTTP/1.0 has no Host to require */
    expect_raw("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "HTTP/1.1 200",
               "{\"status\":\"ok\"}");
    expect_raw("GET /healthz HTTP/1.0\r\n\r\n", "HTTP/1.1 200", "{\"status\":\"ok\"}");
    snprintf(post, sizeof post,
             "POST /v1/loss/mse HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: "
             "application/json\r\nContent-Length: %zu\r\n\r\n%s",
             sizeof mse - 1, mse);
    expect_raw(post, "HTTP/1.1 200", "{\"loss\":1.0,\"n\":1}");
}
END_TEST

START_TEST(header_values_are_trimmed)
{
    /* Optional whitespace on either side of a value is not part of it (RFC 9110, section 5.5). */
    expect_raw("GET /healthz HTTP/1.1\r\nHost: x\r\nX-Request-Id: \t my-id \t \r\n"
               "Connection: close\r\n\r\n",
               "HTTP/1.1 200", "X-Request-Id: my-id\r\n");
    static const char header[] = "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":"
                                 "\"FP64\",\"data\":[3]},{\"name\":\"target\",\"shape\":[1],"
                                 "\"datatype\":\"FP64\",\"data\":[1]}]}";
    static const struct {
        const char *before, *after;
    } spaced[] = {{"", ""}, {" ", ""}, {"", " "}, {"\t", " \t"}};
    for (size_t i = 0; i < sizeof spaced / sizeof spaced[0]; i++) {
        char length[32], post[1024];
        snprintf(length, sizeof length, "%s%zu%s", spaced[i].before, sizeof header - 1,
                 spaced[i].after);
        snprintf(post, sizeof post,
                 "POST /v2/models/loss.mse/infer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
                 "Content-Type: application/octet-stream \r\nInference-Header-Content-Length: "
                 "%s\r\nContent-Length: %zu\r\n\r\n%s",
                 length, sizeof header - 1, header);
        expect_raw(post, "HTTP/1.1 200", "\"data\":[4.0]");
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("http requests");
    add_case(s, "query strings", 30, http_setup, http_stop, TESTS(query_strings_are_refused));
    add_case(s, "request ids", 30, start_small, http_stop,
             TESTS(request_ids_are_echoed, request_ids_are_generated));
    add_case(s, "not quite right", 30, http_setup, http_stop,
             TESTS(not_found_says_what_was_meant, bodies_that_are_not_objects, json_media_types,
                   null_is_the_default));
    add_case(s, "batch ids and metrics", 30, http_setup, http_stop,
             TESTS(batch_jobs_carry_ids, metrics_of_the_process));
    add_case(s, "headers", 30, http_setup, http_stop,
             TESTS(http_1_1_needs_one_host, header_values_are_trimmed));
    return run_http_suite(s);
}
