/*
 * check_server.c - the service over real HTTP: an in-process server on an
 * ephemeral port (a fresh one per test, started in the forked test child),
 * driven with libcurl and raw sockets; and the lossd binary itself for
 * signals and draining.
 *
 * Values are checked against the core: the reply of every request must be
 * exactly (json_equal, so every number bit for bit) what binding the same
 * body and computing it in-process gives.
 */
#define _GNU_SOURCE /* strcasestr */
#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <check.h>
#include <lossd/lossd.h>

#include "../src/service/arena.h"
#include "../src/service/codec.h"
#include "../src/service/log.h"
#include "../src/service/route.h"
#include "../src/service/server.h"

static lossd_config cfg;
static lossd_server *server;
static unsigned port;

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
    ck_assert_uint_gt(port, 0);
}

static void setup(void)
{
    start_with(NULL);
}

static void teardown(void)
{
    if (server) {
        lossd_server_drain(server);
        ck_assert(lossd_server_wait_idle(server, 10));
        lossd_server_stop(server);
        server = NULL;
    }
}

/* ------------------------------------------------------------ HTTP client */

typedef struct {
    long status;
    char *body;
    size_t len;
    char headers[4096];
    size_t headers_len;
    json_t *json; /* the body parsed, when it is JSON */
    double seconds;
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
    size_t len = size * n;
    if (r->headers_len + len < sizeof r->headers) {
        memcpy(r->headers + r->headers_len, data, len);
        r->headers_len += len;
        r->headers[r->headers_len] = '\0';
    }
    return len;
}

static void reply_free(reply *r)
{
    free(r->body);
    json_decref(r->json);
    memset(r, 0, sizeof *r);
}

/*
 * One request. method NULL means GET (POST when body is given); headers
 * is a NULL-terminated list or NULL. TLS peers are not verified (the test
 * certificate is self-signed).
 */
static reply http_ex(const char *scheme, const char *method, const char *path, const char *body,
                     const char *const *headers)
{
    reply r = {0};
    char url[512];
    snprintf(url, sizeof url, "%s://127.0.0.1:%u%s", scheme, port, path);
    CURL *curl = curl_easy_init();
    ck_assert_ptr_nonnull(curl);
    struct curl_slist *list = NULL;
    for (size_t i = 0; headers && headers[i]; i++)
        list = curl_slist_append(list, headers[i]);
    if (body && !headers)
        list = curl_slist_append(list, "Content-Type: application/json");
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &r);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    if (body) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
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
    curl_easy_cleanup(curl);
    if (r.body)
        r.json = json_loads(r.body, 0, NULL);
    return r;
}

static reply http(const char *method, const char *path, const char *body)
{
    return http_ex("http", method, path, body, NULL);
}

static reply post(const char *path, const char *body)
{
    return http(NULL, path, body);
}

static bool has_header(const reply *r, const char *line)
{
    return strcasestr(r->headers, line) != NULL;
}

/* Checks an error reply: status, code and (when given) field. */
static void expect_fault(const reply *r, long status, const char *code, const char *field)
{
    ck_assert_msg(r->status == status, "status %ld, want %ld: %s", r->status, status,
                  r->body ? r->body : "");
    ck_assert_msg(has_header(r, "Content-Type: application/json"), "no JSON content type");
    ck_assert_ptr_nonnull(r->json);
    json_t *error = json_object_get(r->json, "error");
    ck_assert_ptr_nonnull(error);
    ck_assert_str_eq(json_string_value(json_object_get(error, "code")), code);
    ck_assert_ptr_nonnull(json_string_value(json_object_get(error, "message")));
    if (field)
        ck_assert_str_eq(json_string_value(json_object_get(error, "field")), field);
}

/*
 * The reply the core gives for this body, written by the codec exactly as
 * the server writes it (sequentially).
 */
static json_t *expected_reply(const char *path, const char *body)
{
    lossd_route route;
    lossd_fault f = {0};
    ck_assert_int_eq(lossd_route_find("POST", path, &route, &f), 0);
    json_t *root = json_loads(body, JSON_DECODE_INT_AS_REAL, NULL);
    ck_assert_ptr_nonnull(root);
    lossd_limits lim = {cfg.max_elements, cfg.max_jobs};
    lossd_tensors store = {0};
    lossd_call c;
    ck_assert_int_eq(lossd_codec_bind(route.fn, root, &lim, &c, &store, &f), 0);
    lossd_error err = {0};
    ck_assert_msg(lossd_call_compute(&c, &err) == 0, "%s", err.message);
    lossd_buf b;
    lossd_buf_init(&b, 0);
    lossd_codec_write_reply(&c, NULL, &b);
    json_t *want = json_loads(b.data, 0, NULL);
    ck_assert_ptr_nonnull(want);
    lossd_buf_cleanup(&b);
    lossd_call_cleanup(&c);
    lossd_tensors_free(&store);
    json_decref(root);
    return want;
}

static void expect_core_reply(const char *path, const char *body)
{
    reply r = post(path, body);
    ck_assert_msg(r.status == 200, "%s: %ld %s", path, r.status, r.body ? r.body : "");
    ck_assert_msg(has_header(&r, "Content-Type: application/json"), "%s: content type", path);
    json_t *want = expected_reply(path, body);
    ck_assert_msg(json_equal(r.json, want), "%s: reply %s differs from the core's", path, r.body);
    json_decref(want);
    reply_free(&r);
}

/* ------------------------------------------------------------ endpoints */

START_TEST(service_endpoints)
{
    reply r = http(NULL, "/healthz", NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "{\"status\":\"ok\"}");
    reply_free(&r);
    r = http(NULL, "/readyz", NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "{\"status\":\"ready\"}");
    reply_free(&r);
    r = http(NULL, "/v1", NULL);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "name")), "lossd");
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "version")), LOSSD_VERSION_STRING);
    ck_assert_int_eq(json_integer_value(json_object_get(r.json, "functions")),
                     (json_int_t)lossd_function_count());
    reply_free(&r);
    r = http("HEAD", "/healthz", NULL);
    ck_assert_int_eq(r.status, 200);
    reply_free(&r);

    /* the catalog: every registered function, with its path and details */
    r = http(NULL, "/v1/functions", NULL);
    ck_assert_int_eq(r.status, 200);
    json_t *list = json_object_get(r.json, "functions");
    ck_assert_uint_eq(json_array_size(list), lossd_function_count());
    for (size_t i = 0; i < lossd_function_count(); i++) {
        const lossd_function *fn = lossd_function_at(i);
        json_t *entry = json_array_get(list, i);
        char path[96];
        snprintf(path, sizeof path, "/v1/%s/%s", lossd_kind_name(fn->kind), fn->name);
        ck_assert_str_eq(json_string_value(json_object_get(entry, "path")), path);
        ck_assert_str_eq(json_string_value(json_object_get(entry, "formula")), fn->formula);
        ck_assert_uint_eq(json_array_size(json_object_get(entry, "params")), fn->n_params);
        ck_assert(json_is_boolean(json_object_get(entry, "grad")));
    }
    reply_free(&r);
}
END_TEST

/*
 * /metrics once it holds every line of want, or after 2 s. A request is
 * counted when libmicrohttpd reports it complete, which may come just after
 * its client has read the reply.
 */
static reply metrics_with(const char *const *want, size_t n)
{
    for (int attempt = 0;; attempt++) {
        reply r = http(NULL, "/metrics", NULL);
        size_t found = 0;
        while (r.body && found < n && strstr(r.body, want[found]))
            found++;
        if (found == n || attempt == 200)
            return r;
        reply_free(&r);
        usleep(10000);
    }
}

START_TEST(metrics_after_requests)
{
    reply r = post("/v1/loss/giou", "{\"input\":[0,0,1,1],\"target\":[0,0,2,2]}");
    ck_assert_int_eq(r.status, 200);
    reply_free(&r);
    r = post("/v1/loss/giou", "{\"input\":[0,0,1,1]}");
    ck_assert_int_eq(r.status, 422);
    reply_free(&r);
    const char *want[] = {
        "lossd_requests_total{function=\"loss/giou\",code=\"200\"} 1\n",
        "lossd_requests_total{function=\"loss/giou\",code=\"422\"} 1\n",
        "lossd_request_duration_seconds_count{function=\"loss/giou\"} 2\n",
        "lossd_elements_total{function=\"loss/giou\"} 12\n",
        "lossd_queue_depth 0\n",
        "lossd_inflight_requests 0\n",
        "lossd_open_requests 1\n", /* the scrape itself */
        "lossd_rejected_total{reason=\"overloaded\"} 0\n",
        "lossd_build_info{version=\"" LOSSD_VERSION_STRING "\"} 1\n",
    };
    r = metrics_with(want, sizeof want / sizeof want[0]);
    ck_assert_int_eq(r.status, 200);
    ck_assert(has_header(&r, "Content-Type: text/plain; version=0.0.4"));
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        ck_assert_msg(strstr(r.body, want[i]) != NULL, "/metrics lacks %s", want[i]);
    reply_free(&r);
}
END_TEST

/* One valid request per function family, checked against the core. */
static const struct {
    const char *path, *body;
} family_requests[] = {
    {"/v1/loss/l1", "{\"input\":[[1,2],[3,4]],\"target\":[[0,2],[5,1]],\"grad\":true}"},
    {"/v1/loss/mse", "{\"input\":[0.1,0.2,0.3],\"target\":[0.3,0.2,0.1],\"reduction\":\"sum\"}"},
    {"/v1/loss/smooth_l1",
     "{\"input\":[0.1,2,-3],\"target\":[0,0,0],\"beta\":0.5,\"reduction\":\"none\","
     "\"grad\":true,\"grad_output\":[1,2,3]}"},
    {"/v1/loss/huber", "{\"input\":[0.1,2,-3],\"target\":[0,0,0],\"delta\":2,\"grad\":true}"},
    {"/v1/loss/bce", "{\"input\":[0.2,0.9,0],\"target\":[0,1,1],\"weight\":[1,2,3],\"grad\":true}"},
    {"/v1/loss/bce_with_logits",
     "{\"input\":[[1000,-2],[0.5,3]],\"target\":[[0,1],[1,0.5]],\"pos_weight\":[2,0.5],"
     "\"grad\":true}"},
    {"/v1/loss/cross_entropy",
     "{\"input\":[[1,2,3],[3,1,-1]],\"target\":[2,-100],\"weight\":[1,2,3],"
     "\"label_smoothing\":0.1,\"grad\":true}"},
    {"/v1/loss/cross_entropy",
     "{\"input\":[[1,2,3],[3,1,-1]],\"target\":[[0.2,0.3,0.5],[1,0,0]],\"grad\":true}"},
    {"/v1/loss/nll", "{\"input\":[[-1.2,-0.4,-2.3]],\"target\":[1],\"grad\":true}"},
    {"/v1/loss/kl_div",
     "{\"input\":[[-1.2,-0.4]],\"target\":[[0.3,0.7]],\"reduction\":\"batchmean\",\"grad\":true}"},
    {"/v1/loss/sigmoid_focal",
     "{\"input\":[0.5,-2,30],\"target\":[1,0,1],\"alpha\":-1,\"gamma\":1.5,\"grad\":true}"},
    {"/v1/loss/focal", "{\"input\":[[1,2,0.5],[0,0,4]],\"target\":[0,2],\"grad\":true}"},
    {"/v1/loss/iou", "{\"input\":[[0,0,2,2]],\"target\":[[1,1,3,3]],\"grad\":true,\"terms\":true}"},
    {"/v1/loss/giou",
     "{\"input\":[[0,0,2,2],[0,0,1,1]],\"target\":[[1,1,3,3],[2,2,3,3]],\"grad\":true,"
     "\"reduction\":\"none\",\"terms\":true}"},
    {"/v1/loss/diou",
     "{\"input\":[[1,1,2,2]],\"target\":[[1.5,1.5,2,2]],\"box_format\":\"cxcywh\",\"grad\":true}"},
    {"/v1/loss/ciou",
     "{\"input\":[[0,0,2,1]],\"target\":[[0,0,1,2]],\"grad\":true,\"terms\":true,\"eps\":0.1}"},
    {"/v1/activation/relu", "{\"input\":[-1,0,2.5],\"grad\":true}"},
    {"/v1/activation/leaky_relu", "{\"input\":[[-1,0],[2,-3]],\"negative_slope\":0.2}"},
    {"/v1/activation/prelu", "{\"input\":[[-1,2],[-3,4]],\"weight\":[0.1,0.3],\"grad\":true}"},
    {"/v1/activation/gelu", "{\"input\":[-1,0.5,3],\"approximate\":\"tanh\",\"grad\":true,"
                            "\"grad_output\":[1,-1,2]}"},
    {"/v1/activation/softplus", "{\"input\":[-1,0.5,30],\"beta\":2,\"threshold\":10}"},
    {"/v1/activation/softmax", "{\"input\":[[1,2,3],[0,0,0]],\"grad\":true}"},
    {"/v1/info/self_information", "{\"p\":[0.5,0.25,0.25,0],\"base\":2}"},
    {"/v1/info/entropy", "{\"p\":[[1,2,5],[1,1,2]],\"normalize\":true,\"base\":\"e\"}"},
    {"/v1/info/cross_entropy", "{\"p\":[0.5,0.5],\"q\":[0.9,0.1]}"},
    {"/v1/info/kl_divergence", "{\"p\":[0.5,0.5],\"q\":[1,0]}"},
    {"/v1/info/js_divergence", "{\"p\":[1,0],\"q\":[0,1],\"base\":2}"},
    {"/v1/pairwise/iou", "{\"boxes1\":[[0,0,1,1],[0,0,2,2]],\"boxes2\":[[0,0,1,1],[1,1,3,3]]}"},
    {"/v1/pairwise/giou",
     "{\"boxes1\":[[0,0,1,1]],\"boxes2\":[[2,2,3,3]],\"box_format\":\"xyxy\"}"},
    {"/v1/pairwise/diou", "{\"boxes1\":[[0,0,1,1]],\"boxes2\":[[0.5,0.5,1,1]],\"eps\":0}"},
    {"/v1/pairwise/ciou", "{\"boxes1\":[[0,0,1,2]],\"boxes2\":[[0,0,2,1],[0,0,1,2]]}"},
};

START_TEST(every_family_matches_the_core)
{
    for (size_t i = 0; i < sizeof family_requests / sizeof family_requests[0]; i++)
        expect_core_reply(family_requests[i].path, family_requests[i].body);
}
END_TEST

START_TEST(every_function_answers)
{
    /* Each registered function answers its own catalog path: a request
       missing its operands names the first missing field (422), never 404. */
    for (size_t i = 0; i < lossd_function_count(); i++) {
        const lossd_function *fn = lossd_function_at(i);
        char path[96];
        snprintf(path, sizeof path, "/v1/%s/%s", lossd_kind_name(fn->kind), fn->name);
        reply r = post(path, "{}");
        expect_fault(&r, 422, "invalid_argument", fn->operands[0].name);
        reply_free(&r);
    }
}
END_TEST

START_TEST(known_values)
{
    /* A few replies pinned to hand-computed numbers. */
    reply r = post("/v1/loss/mse", "{\"input\":[1,2],\"target\":[0,0]}");
    ck_assert_str_eq(r.body, "{\"loss\":2.5,\"n\":2}");
    reply_free(&r);
    r = post("/v1/activation/relu", "{\"input\":[-1,0,2.5],\"grad\":true}");
    ck_assert_str_eq(r.body, "{\"output\":[0.0,0.0,2.5],\"grad\":[0.0,0.0,1.0],"
                             "\"stats\":{\"n\":3,\"zero_grad_fraction\":0.6666666666666666}}");
    reply_free(&r);
    r = post("/v1/info/entropy", "{\"p\":[0.5,0.5],\"base\":2}");
    ck_assert_str_eq(r.body, "{\"value\":1.0}");
    reply_free(&r);
    r = post("/v1/pairwise/iou", "{\"boxes1\":[[0,0,1,1],[0,0,2,2]],\"boxes2\":[[0,0,1,1]]}");
    ck_assert_str_eq(r.body, "{\"matrix\":[[1.0],[0.25]]}");
    reply_free(&r);
    r = post("/v1/loss/mse", "{\"input\":[],\"target\":[]}");
    ck_assert_str_eq(r.body, "{\"loss\":0.0,\"n\":0}");
    reply_free(&r);
    r = post("/v1/info/kl_divergence", "{\"p\":[0.5,0.5],\"q\":[1,0]}");
    ck_assert_str_eq(r.body, "{\"value\":null,\"nonfinite\":1}");
    reply_free(&r);
    r = post("/v1/loss/mse", "{\"input\":0.1,\"target\":0.3}");
    ck_assert_str_eq(r.body,
                     "{\"loss\":0.039999999999999994,\"n\":1}"); /* (0.1 - 0.3)^2 in binary64 */
    reply_free(&r);
}
END_TEST

START_TEST(batch_runs_jobs_in_order)
{
    /* 200 jobs, some bad: each result is in its place, the bad do not spoil the good. */
    size_t n = 200;
    char *body = malloc(n * 128 + 64), *p = body;
    p += sprintf(p, "{\"jobs\":[");
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s{\"path\":\"/v1/loss/%s\",\"body\":{\"input\":[%zu],\"target\":[0]}}",
                     i ? "," : "", i % 7 == 3 ? "nope" : (i % 5 == 1 ? "bce" : "mse"), i);
    sprintf(p, "]}");
    reply r = post("/v1/batch", body);
    ck_assert_int_eq(r.status, 200);
    json_t *results = json_object_get(r.json, "results");
    ck_assert_uint_eq(json_array_size(results), n);
    for (size_t i = 0; i < n; i++) {
        json_t *res = json_array_get(results, i);
        long status = (long)json_integer_value(json_object_get(res, "status"));
        json_t *jb = json_object_get(res, "body");
        if (i % 7 == 3) {
            ck_assert_int_eq(status, 404);
        } else if (i % 5 == 1 && i > 1) { /* bce of a probability > 1 */
            ck_assert_int_eq(status, 422);
            ck_assert_str_eq(
                json_string_value(json_object_get(json_object_get(jb, "error"), "field")),
                "input[0]");
        } else if (i % 5 != 1) {
            ck_assert_int_eq(status, 200);
            ck_assert_double_eq(json_real_value(json_object_get(jb, "loss")), (double)(i * i));
        }
    }
    reply_free(&r);
    free(body);
    /* batch-level faults */
    r = post("/v1/batch", "{\"jobs\":[{\"path\":\"/v1/batch\",\"body\":{}}]}");
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(json_integer_value(json_object_get(
                         json_array_get(json_object_get(r.json, "results"), 0), "status")),
                     422);
    reply_free(&r);
    r = post("/v1/batch", "{\"job\":[]}");
    expect_fault(&r, 422, "invalid_argument", "job");
    reply_free(&r);
}
END_TEST

/* ------------------------------------------------------------ every status of the error table */

static void small_limits(lossd_config *c)
{
    c->max_body = 4096;
    c->max_elements = 100;
    c->max_jobs = 3;
}

START_TEST(error_table)
{
    reply r = post("/v1/loss/mse", "{\"input\":[1,2],");
    expect_fault(&r, 400, "invalid_json", NULL);
    ck_assert_ptr_nonnull(strstr(
        json_string_value(json_object_get(json_object_get(r.json, "error"), "message")), "line 1"));
    reply_free(&r);
    r = post("/v1/loss/mse", "[1,2]");
    expect_fault(&r, 400, "invalid_json", NULL);
    reply_free(&r);
    r = post("/v1/loss/mse", "{\"input\":[1],\"input\":[2]}");
    expect_fault(&r, 400, "invalid_json", NULL); /* duplicate keys */
    reply_free(&r);
    /* nesting: refused before jansson recurses */
    size_t depth = 3000;
    char *body = malloc(depth + 64);
    strcpy(body, "{\"input\":");
    memset(body + strlen(body), '[', depth);
    body[10 + depth] = '\0';
    strcat(body, "}");
    r = post("/v1/loss/mse", body);
    expect_fault(&r, 400, "invalid_json", NULL);
    reply_free(&r);
    free(body);
    r = post("/v3/loss/mse", "{}");
    expect_fault(&r, 404, "not_found", NULL);
    reply_free(&r);
    r = post("/v1/loss/msee", "{}");
    expect_fault(&r, 404, "not_found", NULL);
    ck_assert_ptr_nonnull(strstr(r.body, "l1, mse, smooth_l1")); /* lists the valid names */
    reply_free(&r);
    r = http("GET", "/v1/loss/mse", NULL);
    expect_fault(&r, 405, "method_not_allowed", NULL);
    ck_assert(has_header(&r, "Allow: POST"));
    reply_free(&r);
    r = http("DELETE", "/healthz", NULL);
    expect_fault(&r, 405, "method_not_allowed", NULL);
    ck_assert(has_header(&r, "Allow: GET"));
    reply_free(&r);
    const char *xml[] = {"Content-Type: application/xml", NULL};
    r = http_ex("http", NULL, "/v1/loss/mse", "{}", xml);
    expect_fault(&r, 415, "unsupported_media_type", NULL);
    reply_free(&r);
    const char *charset[] = {"Content-Type: application/json; charset=utf-8", NULL};
    r = http_ex("http", NULL, "/v1/loss/mse", "{\"input\":[1],\"target\":[1]}", charset);
    ck_assert_int_eq(r.status, 200);
    reply_free(&r);
    const char *none[] = {"Content-Type:", NULL}; /* no Content-Type: read as JSON */
    r = http_ex("http", NULL, "/v1/loss/mse", "{\"input\":[1],\"target\":[1]}", none);
    ck_assert_int_eq(r.status, 200);
    reply_free(&r);
    r = post("/v1/loss/mse", "{\"input\":[1,2],\"target\":[1]}");
    expect_fault(&r, 422, "invalid_argument", "target");
    reply_free(&r);
    r = post("/v1/loss/giou", "{\"input\":[[0,0,1,1],[2,0,1,1]],\"target\":[[0,0,1,1],[0,0,1,1]]}");
    expect_fault(&r, 422, "invalid_argument", "input[1]");
    reply_free(&r);
    r = post("/v1/loss/mse", "{\"input\":[1],\"target\":[1],\"reduction\":\"avg\"}");
    expect_fault(&r, 422, "invalid_argument", "reduction");
    reply_free(&r);
}
END_TEST

START_TEST(limits_give_413)
{
    /* body over --max-body, elements over --max-elements, jobs over --max-jobs, reply too big */
    char *big = malloc(8192);
    memset(big, ' ', 8191);
    big[8191] = '\0';
    memcpy(big, "{\"input\":[1],\"target\":[1]}", 26);
    reply r = post("/v1/loss/mse", big);
    expect_fault(&r, 413, "payload_too_large", NULL);
    reply_free(&r);
    free(big);
    char body[2048], *p = body;
    p += sprintf(p, "{\"input\":[");
    for (int i = 0; i < 101; i++)
        p += sprintf(p, "%s%d", i ? "," : "", i);
    sprintf(p, "],\"target\":[1]}");
    r = post("/v1/loss/mse", body);
    expect_fault(&r, 413, "payload_too_large", "input");
    reply_free(&r);
    r = post("/v1/batch", "{\"jobs\":[{},{},{},{}]}");
    expect_fault(&r, 413, "payload_too_large", "jobs");
    reply_free(&r);
    /* an 11 x 11 matrix is 121 numbers: more than the reply may hold */
    p = body;
    p += sprintf(p, "{\"boxes1\":[");
    for (int i = 0; i < 11; i++)
        p += sprintf(p, "%s[0,0,1,1]", i ? "," : "");
    p += sprintf(p, "],\"boxes2\":[");
    for (int i = 0; i < 11; i++)
        p += sprintf(p, "%s[0,0,1,1]", i ? "," : "");
    sprintf(p, "]}");
    r = post("/v1/pairwise/iou", body);
    expect_fault(&r, 413, "payload_too_large", "boxes2");
    reply_free(&r);
}
END_TEST

/* Connects a raw TCP socket to the server. */
static int raw_connect(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

/* Reads until the peer closes or `want` appears; returns what was read. */
static char *raw_read(int fd, const char *want, double *seconds)
{
    static char buf[65536];
    size_t len = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        ssize_t got = recv(fd, buf + len, sizeof buf - 1 - len, 0);
        if (got <= 0)
            break;
        len += (size_t)got;
        buf[len] = '\0';
        if (want && strstr(buf, want))
            break;
    }
    buf[len] = '\0';
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (seconds)
        *seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    return buf;
}

START_TEST(too_large_before_the_body)
{
    /* A gigabyte announced and never sent: 413 comes back anyway. */
    int fd = raw_connect();
    const char *head = "POST /v1/loss/mse HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       "Content-Length: 1000000000\r\n\r\n";
    ck_assert_int_eq(send(fd, head, strlen(head), 0), (ssize_t)strlen(head));
    char *got = raw_read(fd, "}}", NULL);
    ck_assert_msg(strncmp(got, "HTTP/1.1 413", 12) == 0, "got: %s", got);
    ck_assert_ptr_nonnull(strstr(got, "payload_too_large"));
    close(fd);
    /* both Content-Length and Transfer-Encoding: 400 */
    fd = raw_connect();
    head = "POST /v1/loss/mse HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
           "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n";
    send(fd, head, strlen(head), 0);
    got = raw_read(fd, "}}", NULL);
    ck_assert_msg(strncmp(got, "HTTP/1.1 400", 12) == 0, "got: %s", got);
    ck_assert_ptr_nonnull(strstr(got, "bad_request"));
    close(fd);
    /* a chunked body past --max-body: 413 at its end */
    fd = raw_connect();
    head = "POST /v1/loss/mse HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
    send(fd, head, strlen(head), 0);
    char chunk[300];
    memset(chunk, 'x', sizeof chunk);
    for (int i = 0; i < 20; i++) {
        send(fd, "12c\r\n", 5, 0);
        send(fd, chunk, sizeof chunk, 0);
        send(fd, "\r\n", 2, 0);
    }
    send(fd, "0\r\n\r\n", 5, 0);
    got = raw_read(fd, "}}", NULL);
    ck_assert_msg(strncmp(got, "HTTP/1.1 413", 12) == 0, "got: %s", got);
    close(fd);
}
END_TEST

/* ------------------------------------------------------------ auth */

static char key_file[64];

static void with_keys(lossd_config *c)
{
    strcpy(key_file, "/tmp/lossd-keys-XXXXXX");
    int fd = mkstemp(key_file);
    ck_assert_int_ge(fd, 0);
    const char *keys = "# test keys\nalpha-123\n\n  beta-456  \n";
    ck_assert_int_eq(write(fd, keys, strlen(keys)), (ssize_t)strlen(keys));
    close(fd);
    strcpy(c->api_key_file, key_file);
}

static void setup_keys(void)
{
    start_with(with_keys);
}

START_TEST(api_keys)
{
    const char *body = "{\"input\":[1],\"target\":[0]}";
    reply r = post("/v1/loss/mse", body);
    expect_fault(&r, 401, "unauthorized", NULL);
    ck_assert(has_header(&r, "WWW-Authenticate: Bearer"));
    reply_free(&r);
    const char *wrong[] = {"Authorization: Bearer alpha-12", "Content-Type: application/json",
                           NULL};
    r = http_ex("http", NULL, "/v1/loss/mse", body, wrong);
    expect_fault(&r, 401, "unauthorized", NULL);
    reply_free(&r);
    const char *right[] = {"Authorization: Bearer beta-456", "Content-Type: application/json",
                           NULL};
    r = http_ex("http", NULL, "/v1/loss/mse", body, right);
    ck_assert_int_eq(r.status, 200);
    reply_free(&r);
    r = http_ex("http", "GET", "/v1/functions", NULL, right);
    ck_assert_int_eq(r.status, 200);
    reply_free(&r);
    r = http(NULL, "/v1/functions", NULL);
    expect_fault(&r, 401, "unauthorized", NULL);
    reply_free(&r);
    /* the probes and metrics stay open */
    const char *open_paths[] = {"/healthz", "/readyz", "/metrics"};
    for (int i = 0; i < 3; i++) {
        r = http(NULL, open_paths[i], NULL);
        ck_assert_int_eq(r.status, 200);
        reply_free(&r);
    }
    unlink(key_file);
}
END_TEST

START_TEST(no_keys_means_open)
{
    reply r = post("/v1/loss/mse", "{\"input\":[1],\"target\":[0]}");
    ck_assert_int_eq(r.status, 200);
    reply_free(&r);
}
END_TEST

/* ------------------------------------------------------------ concurrency */

typedef struct {
    int id;
    atomic_int *failures;
} client_arg;

static void *client(void *arg_)
{
    client_arg *arg = arg_;
    for (int k = 0; k < 10; k++) {
        char body[128];
        double a = arg->id * 0.5 + k, b = -k - 1; /* a > b: l1's gradient is 1 */
        snprintf(body, sizeof body, "{\"input\":[%.17g],\"target\":[%.17g],\"grad\":true}", a, b);
        reply r = post("/v1/loss/l1", body);
        double want = fabs(a - b);
        bool ok = r.status == 200 && r.json &&
                  json_real_value(json_object_get(r.json, "loss")) == want &&
                  json_real_value(json_array_get(json_object_get(r.json, "grad"), 0)) == 1.0;
        if (!ok) {
            fprintf(stderr, "client %d/%d: status %ld, reply %s\n", arg->id, k, r.status,
                    r.body ? r.body : "(none)");
            atomic_fetch_add(arg->failures, 1);
        }
        reply_free(&r);
    }
    return NULL;
}

START_TEST(sixty_four_clients)
{
    enum { N = 64 };
    pthread_t threads[N];
    client_arg args[N];
    atomic_int failures = 0;
    for (int i = 0; i < N; i++) {
        args[i] = (client_arg){i, &failures};
        ck_assert_int_eq(pthread_create(&threads[i], NULL, client, &args[i]), 0);
    }
    for (int i = 0; i < N; i++)
        pthread_join(threads[i], NULL);
    ck_assert_int_eq(atomic_load(&failures), 0);
}
END_TEST

/*
 * A request that keeps a worker busy for a while: a CIoU matrix of
 * HEAVY_N x HEAVY_N (tens of milliseconds; seconds under the sanitizers,
 * which the overload and drain tests must also survive).
 */
#define HEAVY_N 600
static char *heavy_body(int n)
{
    char *body = malloc((size_t)n * 64 + 64), *p = body;
    p += sprintf(p, "{\"boxes1\":[");
    for (int i = 0; i < n; i++)
        p += sprintf(p, "%s[%d,0,%d,2]", i ? "," : "", i % 17, i % 17 + 3);
    p += sprintf(p, "],\"boxes2\":[");
    for (int i = 0; i < n; i++)
        p += sprintf(p, "%s[0,%d,2,%d]", i ? "," : "", i % 13, i % 13 + 5);
    sprintf(p, "]}");
    return body;
}

static void tiny_queue(lossd_config *c)
{
    c->workers = 1;
    c->queue = 1;
    c->max_elements = 1 << 24;
}

static void setup_tiny_queue(void)
{
    start_with(tiny_queue);
}

typedef struct {
    const char *body;
    long status;
    bool retry_after, correct;
    double seconds;
} heavy_arg;

static void *heavy_client(void *arg_)
{
    heavy_arg *arg = arg_;
    reply r = post("/v1/pairwise/ciou", arg->body);
    arg->status = r.status;
    arg->seconds = r.seconds;
    arg->retry_after = has_header(&r, "Retry-After: 1");
    arg->correct = r.status == 200 &&
                   json_array_size(json_object_get(r.json, "matrix")) == HEAVY_N &&
                   json_array_size(json_array_get(json_object_get(r.json, "matrix"), 0)) == HEAVY_N;
    if (r.status == 503)
        arg->correct = strstr(r.body, "\"overloaded\"") != NULL;
    reply_free(&r);
    return NULL;
}

START_TEST(overload_then_recovery)
{
    enum { N = 8 };
    char *body = heavy_body(HEAVY_N);
    pthread_t threads[N];
    heavy_arg args[N];
    for (int i = 0; i < N; i++) {
        args[i] = (heavy_arg){.body = body};
        pthread_create(&threads[i], NULL, heavy_client, &args[i]);
    }
    for (int i = 0; i < N; i++)
        pthread_join(threads[i], NULL);
    int ok = 0, rejected = 0;
    double slowest_rejection = 0, slowest_success = 0;
    for (int i = 0; i < N; i++) {
        ck_assert_msg(args[i].correct, "client %d: status %ld, wrong reply", i, args[i].status);
        if (args[i].status == 200) {
            ok++;
            slowest_success = fmax(slowest_success, args[i].seconds);
        } else {
            ck_assert_int_eq(args[i].status, 503);
            ck_assert(args[i].retry_after);
            rejected++;
            slowest_rejection = fmax(slowest_rejection, args[i].seconds);
        }
    }
    /* one running and one queued at most: the others are refused */
    ck_assert_int_ge(ok, 1);
    ck_assert_int_ge(rejected, 1);
    /* refusals come at once, not after the work: faster than the slowest success */
    ck_assert_msg(slowest_rejection < slowest_success, "503 after %.3fs, work took %.3fs",
                  slowest_rejection, slowest_success);
    /* and the server recovers */
    reply r = post("/v1/loss/mse", "{\"input\":[3],\"target\":[1]}");
    ck_assert_int_eq(r.status, 200);
    ck_assert_double_eq(json_real_value(json_object_get(r.json, "loss")), 4.0);
    reply_free(&r);
    r = http(NULL, "/readyz", NULL);
    ck_assert_int_eq(r.status, 200);
    reply_free(&r);
    free(body);
}
END_TEST

START_TEST(large_request_uses_the_pool)
{
    /* A call large enough to split over the workers gives the same bytes as the core. */
    size_t n = 200000;
    char *body = malloc(n * 24 + 64), *p = body;
    p += sprintf(p, "{\"input\":[");
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s%.6f", i ? "," : "", sin((double)i) * 4);
    sprintf(p, "],\"grad\":true}");
    expect_core_reply("/v1/activation/gelu", body);
    free(body);
}
END_TEST

/* ------------------------------------------------------------ slow clients */

static void short_timeout(lossd_config *c)
{
    c->timeout = 1;
}

static void setup_short_timeout(void)
{
    start_with(short_timeout);
}

START_TEST(slow_client_is_cut_off)
{
    /* A client that sends half a request line and stalls is closed after
       the timeout, while others are served at once. */
    int fd = raw_connect();
    send(fd, "POST /v1/loss/mse HTTP/1.1\r\nHo", 30, 0);
    reply r = post("/v1/loss/mse", "{\"input\":[2],\"target\":[0]}");
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(r.seconds < 0.5, "a normal client waited %.3fs", r.seconds);
    reply_free(&r);
    double waited;
    char *got = raw_read(fd, NULL, &waited);
    ck_assert_str_eq(got, ""); /* closed without a reply */
    ck_assert_msg(waited > 0.5 && waited < 5, "closed after %.3fs", waited);
    close(fd);
}
END_TEST

typedef struct {
    int fd;
    const char *text;
    bool cut;
    double seconds;
} trickle_arg;

/* Sends one byte every 100 ms until the server hangs up. */
static void *trickle(void *arg_)
{
    trickle_arg *arg = arg_;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (size_t i = 0; arg->text[i]; i++) {
        if (send(arg->fd, arg->text + i, 1, MSG_NOSIGNAL) != 1) {
            arg->cut = true;
            break;
        }
        usleep(100000);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    arg->seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    return NULL;
}

START_TEST(trickling_clients_are_cut_off)
{
    /* Clients that keep sending - a header byte, or a body byte, every
       100 ms - never look idle, yet must not hold a connection forever: the
       whole request must arrive within --timeout (1 s here). Meanwhile a
       normal client is served at once. */
    enum { N = 20 };
    static char header[200], body_req[400];
    snprintf(header, sizeof header, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: %s\r\n\r\n",
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    snprintf(
        body_req, sizeof body_req,
        "POST /v1/loss/mse HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n%s",
        "{\"input\":[1],\"target\":[1]}                                                          ");
    pthread_t threads[N];
    trickle_arg args[N];
    for (int i = 0; i < N; i++) {
        int fd = raw_connect();
        const char *text = header; /* odd: the headers byte by byte */
        if (i % 2 == 0) {          /* even: the headers at once, then the body byte by byte */
            send(fd, body_req, 60, 0);
            text = body_req + 60;
        }
        args[i] = (trickle_arg){fd, text, false, 0};
        pthread_create(&threads[i], NULL, trickle, &args[i]);
    }
    usleep(300000);
    reply r = post("/v1/loss/mse", "{\"input\":[2],\"target\":[0]}");
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(r.seconds < 0.5, "a normal client waited %.3fs", r.seconds);
    reply_free(&r);
    for (int i = 0; i < N; i++) {
        pthread_join(threads[i], NULL);
        ck_assert_msg(args[i].cut, "trickler %d was never cut off", i);
        ck_assert_msg(args[i].seconds > 0.8 && args[i].seconds < 3, "trickler %d cut after %.2fs",
                      i, args[i].seconds);
        close(args[i].fd);
    }
    char want[64];
    snprintf(want, sizeof want, "lossd_rejected_total{reason=\"slow_client\"} %d\n", N);
    const char *wants[] = {want};
    r = metrics_with(wants, 1);
    ck_assert_msg(strstr(r.body, want) != NULL, "metrics lack %s", want);
    reply_free(&r);
}
END_TEST

/* ------------------------------------------------------------ connection limits */

static void few_connections(lossd_config *c)
{
    c->max_connections = 4;
}

static void setup_few_connections(void)
{
    start_with(few_connections);
}

static void few_per_ip(lossd_config *c)
{
    c->max_connections_per_ip = 2;
}

static void setup_few_per_ip(void)
{
    start_with(few_per_ip);
}

/* Whether the server closes a fresh connection without answering a request on it. */
static bool refused(void)
{
    int fd = raw_connect();
    const char *req = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    send(fd, req, strlen(req), MSG_NOSIGNAL);
    char *got = raw_read(fd, "\"ok\"}", NULL);
    bool closed = strstr(got, "200") == NULL;
    close(fd);
    return closed;
}

/* Opens n connections that each hold a request open (headers sent, no end). */
static void hold(int *fds, int n)
{
    for (int i = 0; i < n; i++) {
        fds[i] = raw_connect();
        send(fds[i], "GET /healthz HTTP/1.1\r\nHo", 26, 0);
    }
    usleep(100000); /* let the server accept them */
}

START_TEST(max_connections)
{
    int fds[4];
    hold(fds, 4);
    ck_assert_msg(refused(), "a fifth connection was served past --max-connections 4");
    for (int i = 0; i < 4; i++)
        close(fds[i]);
    usleep(200000);
    ck_assert_msg(!refused(), "the server did not recover its connections");
}
END_TEST

START_TEST(max_connections_per_ip)
{
    int fds[2];
    hold(fds, 2);
    ck_assert_msg(refused(), "a third connection from one address was served");
    close(fds[0]);
    usleep(200000);
    ck_assert_msg(!refused(), "a freed slot was not given back");
    close(fds[1]);
}
END_TEST

/* ------------------------------------------------------------ buffered bodies */

static void small_budget(lossd_config *c)
{
    c->max_body = 4096;
    c->max_buffered = 6000;
}

static void setup_small_budget(void)
{
    start_with(small_budget);
}

START_TEST(buffered_bodies_are_bounded)
{
    /* One upload holds 4000 of the 6000 bytes bodies may hold: a second one
       of 4000 is refused at once with 503 and Retry-After, before its body;
       when the first is done, it goes through. */
    char body[4001];
    memset(body, ' ', 4000);
    body[4000] = '\0';
    memcpy(body, "{\"input\":[3],\"target\":[1]}", 26);
    int slow = raw_connect();
    const char *head = "POST /v1/loss/mse HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       "Content-Length: 4000\r\n\r\n";
    send(slow, head, strlen(head), 0);
    send(slow, body, 100, 0); /* the rest later */
    usleep(100000);
    reply r = post("/v1/loss/mse", body);
    expect_fault(&r, 503, "overloaded", NULL);
    ck_assert(has_header(&r, "Retry-After: 1"));
    ck_assert_ptr_nonnull(strstr(r.body, "--max-buffered"));
    reply_free(&r);
    /* small bodies still fit beside it */
    r = post("/v1/loss/mse", "{\"input\":[3],\"target\":[1]}");
    ck_assert_int_eq(r.status, 200);
    reply_free(&r);
    send(slow, body + 100, 3900, 0);
    char *got = raw_read(slow, "}", NULL);
    ck_assert_msg(strncmp(got, "HTTP/1.1 200", 12) == 0, "got: %s", got);
    close(slow);
    r = post("/v1/loss/mse", body);
    ck_assert_int_eq(r.status, 200);
    ck_assert_double_eq(json_real_value(json_object_get(r.json, "loss")), 4.0);
    reply_free(&r);
}
END_TEST

/* ------------------------------------------------------------ HTTPS */

static void with_tls(lossd_config *c)
{
    snprintf(c->tls_cert, sizeof c->tls_cert, "%s/tls/cert.pem", TEST_DATA_DIR);
    snprintf(c->tls_key, sizeof c->tls_key, "%s/tls/key.pem", TEST_DATA_DIR);
}

static void setup_tls(void)
{
    if (lossd_server_tls_available())
        start_with(with_tls);
}

START_TEST(https)
{
    /* This libmicrohttpd (Debian's) has TLS: the test insists on it. */
    ck_assert_msg(lossd_server_tls_available(), "libmicrohttpd lacks TLS support");
    reply r = http_ex("https", NULL, "/v1/loss/mse", "{\"input\":[3],\"target\":[1]}",
                      (const char *const[]){"Content-Type: application/json", NULL});
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "{\"loss\":4.0,\"n\":1}");
    reply_free(&r);
}
END_TEST

/* ------------------------------------------------------------ the binary: signals */

typedef struct {
    pid_t pid;
    int err_fd; /* the child's stderr */
    unsigned port;
} child;

/* Starts ./lossd on a free port; reads the port from its first log line. */
static child spawn_lossd(const char *const *extra)
{
    int pipefd[2];
    ck_assert_int_eq(pipe(pipefd), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        dup2(pipefd[1], 2);
        close(pipefd[0]);
        const char *argv[16] = {LOSSD_BINARY, "--listen", "127.0.0.1:0", "--drain-timeout", "10"};
        int argc = 5;
        for (int i = 0; extra && extra[i]; i++)
            argv[argc++] = extra[i];
        argv[argc] = NULL;
        execv(LOSSD_BINARY, (char *const *)argv);
        _exit(127);
    }
    close(pipefd[1]);
    child c = {pid, pipefd[0], 0};
    char line[1024];
    FILE *f = fdopen(dup(c.err_fd), "r");
    while (fgets(line, sizeof line, f)) {
        char *at = strstr(line, "listening on 127.0.0.1:");
        if (at) {
            c.port = (unsigned)atoi(at + strlen("listening on 127.0.0.1:"));
            break;
        }
    }
    fclose(f);
    ck_assert_msg(c.port > 0, "lossd did not say where it listens");
    return c;
}

/* Whether a new connection is refused outright (the listener is closed). */
static bool listener_closed(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    bool closed = connect(fd, (struct sockaddr *)&sa, sizeof sa) == -1 && errno == ECONNREFUSED;
    close(fd);
    return closed;
}

/* The value of /metrics' lossd_open_requests, the scrape itself included. */
static unsigned open_requests(void)
{
    reply m = http(NULL, "/metrics", NULL);
    ck_assert_int_eq(m.status, 200);
    const char *at = strstr(m.body, "\nlossd_open_requests ");
    ck_assert_ptr_nonnull(at);
    unsigned n = (unsigned)strtoul(at + strlen("\nlossd_open_requests "), NULL, 10);
    reply_free(&m);
    return n;
}

/* Waits (up to 10 s) until n requests besides the scrape are open. */
static void wait_open(unsigned n)
{
    for (int i = 0; i < 1000 && open_requests() < n + 1; i++)
        usleep(10000);
    ck_assert_uint_eq(open_requests(), n + 1);
}

/* Sends a request whole but for its body's last byte: lossd has read its
   headers and admitted it, and it stays open until release_held(). */
static int hold_request(const char *path, const char *body)
{
    int fd = raw_connect();
    char head[256];
    size_t len = strlen(body);
    int n = snprintf(head, sizeof head,
                     "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Content-Length: %zu\r\n\r\n",
                     path, len);
    ck_assert_int_eq(send(fd, head, (size_t)n, 0), n);
    for (size_t off = 0; off < len - 1;) {
        ssize_t sent = send(fd, body + off, len - 1 - off, 0);
        ck_assert_int_gt(sent, 0);
        off += (size_t)sent;
    }
    return fd;
}

/* Sends the last byte and reads the reply until lossd closes the connection
   (as it does while draining). The whole response, NUL-terminated. */
static char *release_held(int fd, const char *body)
{
    ck_assert_int_eq(send(fd, body + strlen(body) - 1, 1, 0), 1);
    size_t cap = 1 << 16, len = 0;
    char *out = malloc(cap);
    for (ssize_t got; (got = recv(fd, out + len, cap - 1 - len, 0)) > 0;) {
        len += (size_t)got;
        if (cap - 1 - len < 4096)
            out = realloc(out, cap *= 2);
    }
    out[len] = '\0';
    close(fd);
    return out;
}

/* The JSON body of a whole response, checked to be 200 with Connection: close. */
static json_t *closing_200(const char *response)
{
    ck_assert_msg(strncmp(response, "HTTP/1.1 200 ", 13) == 0, "got: %.200s", response);
    const char *end = strstr(response, "\r\n\r\n");
    ck_assert_ptr_nonnull(end);
    ck_assert_msg(strcasestr(response, "\r\nConnection: close\r\n") < end,
                  "no Connection: close in %.*s", (int)(end - response), response);
    json_t *j = json_loads(end + 4, 0, NULL);
    ck_assert_ptr_nonnull(j);
    return j;
}

static const char small_body[] = "{\"input\":[3],\"target\":[1]}";

START_TEST(open_request_outlives_the_drain)
{
    /* In-process: a request whose headers were read before the drain is
       answered after it, even though the rest of its body comes later. */
    int fd = hold_request("/v1/loss/mse", small_body);
    wait_open(1);
    lossd_server_drain(server);
    char *got = release_held(fd, small_body);
    json_t *j = closing_200(got);
    ck_assert_double_eq(json_real_value(json_object_get(j, "loss")), 4.0);
    json_decref(j);
    free(got);
    ck_assert(lossd_server_wait_idle(server, 5));
}
END_TEST

START_TEST(sigterm_drains)
{
    child c = spawn_lossd(NULL);
    port = c.port;
    /* A large request and a small one are open when the signal comes; their
       last bytes go out once the listener is closed, so both are parsed and
       computed during the drain, with no race against the signal. */
    char *heavy = heavy_body(HEAVY_N);
    int heavy_fd = hold_request("/v1/pairwise/ciou", heavy);
    int small_fd = hold_request("/v1/loss/mse", small_body);
    wait_open(2);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_int_eq(kill(c.pid, SIGTERM), 0);
    bool closed = false;
    for (int i = 0; i < 1000 && !(closed = listener_closed()); i++)
        usleep(10000);
    ck_assert_msg(closed, "the listener is still open 10 s after SIGTERM");
    char *got = release_held(heavy_fd, heavy);
    json_t *j = closing_200(got);
    ck_assert_uint_eq(json_array_size(json_object_get(j, "matrix")), HEAVY_N);
    json_decref(j);
    free(got);
    got = release_held(small_fd, small_body);
    j = closing_200(got);
    ck_assert_double_eq(json_real_value(json_object_get(j, "loss")), 4.0);
    json_decref(j);
    free(got);
    int status;
    ck_assert_int_eq(waitpid(c.pid, &status, 0), c.pid);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ck_assert(WIFEXITED(status));
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    double took = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    ck_assert_msg(took < 10, "drain took %.1fs", took);
    close(c.err_fd);
    free(heavy);
}
END_TEST

START_TEST(readiness_turns_during_drain)
{
    /* In-process: after drain starts, /readyz is 503 draining and compute 503 draining
       on an existing keep-alive connection. */
    CURL *curl = curl_easy_init();
    char url[128];
    reply r = {0};
    snprintf(url, sizeof url, "http://127.0.0.1:%u/readyz", port);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r);
    ck_assert_int_eq(curl_easy_perform(curl), CURLE_OK); /* opens the connection */
    free(r.body);
    memset(&r, 0, sizeof r);
    lossd_server_drain(server);
    ck_assert_int_eq(curl_easy_perform(curl), CURLE_OK); /* reuses it */
    long status;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
    ck_assert_int_eq(status, 503);
    ck_assert_str_eq(r.body, "{\"status\":\"draining\"}");
    free(r.body);
    curl_easy_cleanup(curl);
    /* and a new connection is refused at once, not left in the listen backlog */
    ck_assert(listener_closed());
}
END_TEST

START_TEST(healthcheck_flag)
{
    child c = spawn_lossd(NULL);
    char listen[64], cmd[256];
    snprintf(listen, sizeof listen, "127.0.0.1:%u", c.port);
    snprintf(cmd, sizeof cmd, "%s --healthcheck --listen %s 2>/dev/null", LOSSD_BINARY, listen);
    ck_assert_int_eq(system(cmd), 0);
    kill(c.pid, SIGTERM);
    int status;
    waitpid(c.pid, &status, 0);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    /* nothing listening any more: the check fails */
    ck_assert_int_ne(system(cmd), 0);
    close(c.err_fd);
}
END_TEST

START_TEST(access_log_lines)
{
    /* One JSON access line per request on stderr, written by the log thread
       (and flushed on exit): method, path, status, sizes, duration, function. */
    const char *flags[] = {"--log-format", "json", NULL};
    child c = spawn_lossd(flags);
    port = c.port;
    reply r = post("/v1/loss/mse", "{\"input\":[3],\"target\":[1]}");
    ck_assert_int_eq(r.status, 200);
    reply_free(&r);
    r = post("/v1/loss/mse", "{\"input\":[3]}");
    ck_assert_int_eq(r.status, 422);
    reply_free(&r);
    kill(c.pid, SIGTERM);
    int status;
    waitpid(c.pid, &status, 0);
    char log[65536];
    ssize_t len = read(c.err_fd, log, sizeof log - 1), got;
    while (len >= 0 && (got = read(c.err_fd, log + len, sizeof log - 1 - (size_t)len)) > 0)
        len += got;
    ck_assert_int_gt(len, 0);
    log[len] = '\0';
    close(c.err_fd);
    int ok = 0, bad = 0;
    for (char *line = strtok(log, "\n"); line; line = strtok(NULL, "\n")) {
        json_t *j = json_loads(line, 0, NULL);
        ck_assert_msg(j != NULL, "not a JSON line: %s", line);
        const char *path = json_string_value(json_object_get(j, "path"));
        if (path && strcmp(path, "/v1/loss/mse") == 0) {
            ck_assert_str_eq(json_string_value(json_object_get(j, "method")), "POST");
            ck_assert_str_eq(json_string_value(json_object_get(j, "function")), "loss/mse");
            ck_assert_str_eq(json_string_value(json_object_get(j, "remote")), "127.0.0.1");
            ck_assert(json_is_number(json_object_get(j, "duration_ms")));
            long code = (long)json_integer_value(json_object_get(j, "status"));
            if (code == 200) {
                ok++;
                ck_assert_ptr_null(json_object_get(j, "error"));
            } else {
                bad++;
                ck_assert_int_eq(code, 422);
                ck_assert_str_eq(json_string_value(json_object_get(j, "error")),
                                 "invalid_argument");
            }
        }
        json_decref(j);
    }
    ck_assert_int_eq(ok, 1);
    ck_assert_int_eq(bad, 1);
}
END_TEST

static Suite *server_suite(void)
{
    Suite *s = suite_create("server");
    TCase *endpoints = tcase_create("endpoints");
    tcase_add_checked_fixture(endpoints, setup, teardown);
    tcase_set_timeout(endpoints, 60);
    tcase_add_test(endpoints, service_endpoints);
    tcase_add_test(endpoints, metrics_after_requests);
    tcase_add_test(endpoints, every_family_matches_the_core);
    tcase_add_test(endpoints, every_function_answers);
    tcase_add_test(endpoints, known_values);
    tcase_add_test(endpoints, batch_runs_jobs_in_order);
    tcase_add_test(endpoints, error_table);
    tcase_add_test(endpoints, no_keys_means_open);
    tcase_add_test(endpoints, large_request_uses_the_pool);
    tcase_add_test(endpoints, readiness_turns_during_drain);
    tcase_add_test(endpoints, open_request_outlives_the_drain);
    suite_add_tcase(s, endpoints);
    return s;
}

/* Test cases whose server needs other options. */
static void add_case(Suite *s, const char *name, void (*set)(void), const TTest *test, int timeout)
{
    TCase *tc = tcase_create(name);
    tcase_add_checked_fixture(tc, set, teardown);
    tcase_set_timeout(tc, timeout);
    tcase_add_test(tc, test);
    suite_add_tcase(s, tc);
}

static void setup_small_limits(void)
{
    start_with(small_limits);
}

int main(void)
{
    json_object_seed(0);
    lossd_arena_install(); /* as main() does: request trees go to arenas */
    curl_global_init(CURL_GLOBAL_ALL);
    Suite *s = server_suite();
    add_case(s, "limits", setup_small_limits, limits_give_413, 30);
    add_case(s, "protocol", setup_small_limits, too_large_before_the_body, 30);
    add_case(s, "auth", setup_keys, api_keys, 30);
    add_case(s, "concurrency", setup, sixty_four_clients, 120);
    add_case(s, "overload", setup_tiny_queue, overload_then_recovery, 120);
    add_case(s, "slow clients", setup_short_timeout, slow_client_is_cut_off, 30);
    add_case(s, "trickling clients", setup_short_timeout, trickling_clients_are_cut_off, 30);
    add_case(s, "max connections", setup_few_connections, max_connections, 30);
    add_case(s, "buffered bodies", setup_small_budget, buffered_bodies_are_bounded, 30);
    add_case(s, "max connections per ip", setup_few_per_ip, max_connections_per_ip, 30);
    add_case(s, "tls", setup_tls, https, 30);
    add_case(s, "signals", NULL, sigterm_drains, 60);
    add_case(s, "healthcheck", NULL, healthcheck_flag, 30);
    add_case(s, "access log", NULL, access_log_lines, 30);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    curl_global_cleanup();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
