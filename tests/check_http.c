/* SPDX-License-Identifier: MIT */
/*
 * check_http.c - the service over real HTTP, as the contract promises it
 * (docs/api.md): the fixed endpoints and the catalog, replies of every
 * function family exactly what the core computes, pinned values, batches,
 * every status of the error table, API keys and HTTPS. An in-process
 * server on an ephemeral port, a fresh one per test (tests/httputil.h).
 *
 * Values are checked against the core: the reply of every request must be
 * exactly (json_equal, so every number bit for bit) what binding the same
 * body and computing it in-process gives.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../src/service/route.h"
#include "httputil.h"

/*
 * The reply the core gives for this body, written by the codec exactly as
 * a worker writes it (sequentially).
 */
static json_t *expected_reply(const char *path, const char *body)
{
    lossd_route route;
    lossd_fault f = {0};
    ck_assert_int_eq(lossd_route_find("POST", path, &route, &f), 0);
    char *text = reply_text(route.fn->kind, route.fn->name, body, NULL);
    json_t *want = parse_json(text);
    free(text);
    return want;
}

static void expect_core_reply(const char *path, const char *body)
{
    http_reply r = http_post(path, body);
    ck_assert_msg(r.status == 200, "%s: %ld %s", path, r.status, r.body);
    ck_assert_str_eq(http_header(&r, "Content-Type"), "application/json");
    json_t *want = expected_reply(path, body);
    ck_assert_msg(json_equal(r.json, want), "%s: reply %s differs from the core's", path, r.body);
    json_decref(want);
    http_reply_free(&r);
}

/* ------------------------------------------------------------ endpoints */

START_TEST(service_endpoints)
{
    http_reply r = http_get("/healthz");
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "{\"status\":\"ok\"}");
    http_reply_free(&r);
    r = http_get("/readyz");
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "{\"status\":\"ready\"}");
    http_reply_free(&r);
    r = http_get("/v1");
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "name")), "lossd");
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "version")), LOSSD_VERSION_STRING);
    ck_assert_int_eq(json_integer_value(json_object_get(r.json, "functions")),
                     (json_int_t)lossd_function_count());
    http_reply_free(&r);
    expect_status(http_request("HEAD", "/healthz", NULL, 0, NULL), 200);

    /* the catalog: every registered function, with its path and details */
    r = http_get("/v1/functions");
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
    http_reply_free(&r);
}
END_TEST

/* GET /v1/functions/{kind}: the catalog's entries of one kind, byte for byte. */
START_TEST(functions_of_one_kind)
{
    http_reply all = http_get("/v1/functions");
    json_t *entries = json_object_get(all.json, "functions");
    size_t seen = 0;
    for (int k = 0; k < LOSSD_KIND_COUNT; k++) {
        const char *kind = lossd_kind_name((lossd_kind)k);
        char path[64];
        snprintf(path, sizeof path, "/v1/functions/%s", kind);
        http_reply r = http_get(path);
        ck_assert_msg(r.status == 200, "%s: %ld", path, r.status);
        ck_assert_str_eq(json_string_value(json_object_get(r.json, "kind")), kind);
        json_t *list = json_object_get(r.json, "functions");
        ck_assert_int_eq(json_integer_value(json_object_get(r.json, "count")),
                         (json_int_t)json_array_size(list));
        ck_assert_uint_gt(json_array_size(list), 0);
        size_t j = 0;
        for (size_t i = 0; i < json_array_size(entries); i++) {
            json_t *entry = json_array_get(entries, i);
            if (strcmp(json_string_value(json_object_get(entry, "kind")), kind) != 0)
                continue;
            ck_assert_msg(json_equal(json_array_get(list, j), entry), "%s: entry %zu", path, j);
            j++;
        }
        ck_assert_uint_eq(j, json_array_size(list));
        seen += j;
        http_reply_free(&r);
    }
    ck_assert_uint_eq(seen, lossd_function_count());
    http_reply_free(&all);
    http_reply r = http_get("/v1/functions/losses");
    expect_http_error(&r, 404, "not_found", NULL);
    ck_assert_str_eq(
        json_string_value(json_object_get(json_object_get(r.json, "error"), "message")),
        "no kind of function called \"losses\"; the kinds are: loss, activation, info, pairwise");
    http_reply_free(&r);
    r = http_get("/v1/functions/Loss");
    expect_http_error(&r, 404, "not_found", NULL);
    ck_assert(
        strstr(json_string_value(json_object_get(json_object_get(r.json, "error"), "message")),
               "did you mean /v1/functions/loss?"));
    http_reply_free(&r);
    r = http_post("/v1/functions/loss", "{}");
    expect_http_error(&r, 405, "method_not_allowed", NULL);
    http_reply_free(&r);
    r = http_get("/v1");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(r.json, "links"), "kind")),
                     "/v1/functions/{kind}");
    http_reply_free(&r);
}
END_TEST

START_TEST(metrics_after_requests)
{
    expect_status(http_post("/v1/loss/giou", "{\"input\":[0,0,1,1],\"target\":[0,0,2,2]}"), 200);
    expect_status(http_post("/v1/loss/giou", "{\"input\":[0,0,1,1]}"), 422);
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
    http_reply r = http_metrics_with(want, sizeof want / sizeof want[0]);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(http_header(&r, "Content-Type"), "text/plain; version=0.0.4; charset=utf-8");
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        ck_assert_msg(strstr(r.body, want[i]) != NULL, "/metrics lacks %s", want[i]);
    http_reply_free(&r);
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
        http_reply r = http_post(path, "{}");
        expect_http_error(&r, 422, "invalid_argument", fn->operands[0].name);
        http_reply_free(&r);
    }
}
END_TEST

START_TEST(known_values)
{
    /* A few replies pinned to hand-computed numbers. */
    http_reply r = http_post("/v1/loss/mse", "{\"input\":[1,2],\"target\":[0,0]}");
    ck_assert_str_eq(r.body, "{\"loss\":2.5,\"n\":2}");
    http_reply_free(&r);
    r = http_post("/v1/activation/relu", "{\"input\":[-1,0,2.5],\"grad\":true}");
    ck_assert_str_eq(r.body, "{\"output\":[0.0,0.0,2.5],\"grad\":[0.0,0.0,1.0],"
                             "\"stats\":{\"n\":3,\"zero_grad_fraction\":0.6666666666666666}}");
    http_reply_free(&r);
    r = http_post("/v1/info/entropy", "{\"p\":[0.5,0.5],\"base\":2}");
    ck_assert_str_eq(r.body, "{\"value\":1.0}");
    http_reply_free(&r);
    r = http_post("/v1/pairwise/iou", "{\"boxes1\":[[0,0,1,1],[0,0,2,2]],\"boxes2\":[[0,0,1,1]]}");
    ck_assert_str_eq(r.body, "{\"matrix\":[[1.0],[0.25]]}");
    http_reply_free(&r);
    r = http_post("/v1/loss/mse", "{\"input\":[],\"target\":[]}");
    ck_assert_str_eq(r.body, "{\"loss\":null,\"n\":0,\"nonfinite\":1}"); /* PyTorch's 0/0 */
    http_reply_free(&r);
    r = http_post("/v1/info/kl_divergence", "{\"p\":[0.5,0.5],\"q\":[1,0]}");
    ck_assert_str_eq(r.body, "{\"value\":null,\"nonfinite\":1}");
    http_reply_free(&r);
    r = http_post("/v1/loss/mse", "{\"input\":0.1,\"target\":0.3}");
    ck_assert_str_eq(r.body,
                     "{\"loss\":0.039999999999999994,\"n\":1}"); /* (0.1 - 0.3)^2 in binary64 */
    http_reply_free(&r);
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
    http_reply r = http_post("/v1/batch", body);
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
    http_reply_free(&r);
    free(body);
    /* batch-level faults */
    r = http_post("/v1/batch", "{\"jobs\":[{\"path\":\"/v1/batch\",\"body\":{}}]}");
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(json_integer_value(json_object_get(
                         json_array_get(json_object_get(r.json, "results"), 0), "status")),
                     422);
    http_reply_free(&r);
    r = http_post("/v1/batch", "{\"job\":[]}");
    expect_http_error(&r, 422, "invalid_argument", "job");
    http_reply_free(&r);
}
END_TEST

START_TEST(error_table)
{
    http_reply r = http_post("/v1/loss/mse", "{\"input\":[1,2],");
    expect_http_error(&r, 400, "invalid_json", NULL);
    ck_assert_ptr_nonnull(strstr(
        json_string_value(json_object_get(json_object_get(r.json, "error"), "message")), "line 1"));
    http_reply_free(&r);
    r = http_post("/v1/loss/mse", "[1,2]");
    expect_http_error(&r, 400, "invalid_json", NULL);
    http_reply_free(&r);
    r = http_post("/v1/loss/mse", "{\"input\":[1],\"input\":[2]}");
    expect_http_error(&r, 400, "invalid_json", NULL); /* duplicate keys */
    http_reply_free(&r);
    /* nesting: refused before jansson recurses */
    size_t depth = 3000;
    char *body = malloc(depth + 64);
    strcpy(body, "{\"input\":");
    memset(body + strlen(body), '[', depth);
    body[10 + depth] = '\0';
    strcat(body, "}");
    r = http_post("/v1/loss/mse", body);
    expect_http_error(&r, 400, "invalid_json", NULL);
    http_reply_free(&r);
    free(body);
    r = http_post("/v3/loss/mse", "{}");
    expect_http_error(&r, 404, "not_found", NULL);
    http_reply_free(&r);
    r = http_post("/v1/loss/msee", "{}");
    expect_http_error(&r, 404, "not_found", NULL);
    ck_assert_ptr_nonnull(strstr(r.body, "l1, mse, smooth_l1")); /* lists the valid names */
    http_reply_free(&r);
    r = http_get("/v1/loss/mse");
    expect_http_error(&r, 405, "method_not_allowed", NULL);
    ck_assert_str_eq(http_header(&r, "Allow"), "POST");
    http_reply_free(&r);
    r = http_request("DELETE", "/healthz", NULL, 0, NULL);
    expect_http_error(&r, 405, "method_not_allowed", NULL);
    ck_assert_str_eq(http_header(&r, "Allow"), "GET");
    http_reply_free(&r);
    const char *xml[] = {"Content-Type: application/xml", NULL};
    r = http_request(NULL, "/v1/loss/mse", "{}", 2, xml);
    expect_http_error(&r, 415, "unsupported_media_type", NULL);
    http_reply_free(&r);
    const char *charset[] = {"Content-Type: application/json; charset=utf-8", NULL};
    const char *ones = "{\"input\":[1],\"target\":[1]}";
    expect_status(http_request(NULL, "/v1/loss/mse", ones, strlen(ones), charset), 200);
    const char *none[] = {"Content-Type:", NULL}; /* no Content-Type: read as JSON */
    expect_status(http_request(NULL, "/v1/loss/mse", ones, strlen(ones), none), 200);
    r = http_post("/v1/loss/mse", "{\"input\":[1,2],\"target\":[1]}");
    expect_http_error(&r, 422, "invalid_argument", "target");
    http_reply_free(&r);
    r = http_post("/v1/loss/giou",
                  "{\"input\":[[0,0,1,1],[2,0,1,1]],\"target\":[[0,0,1,1],[0,0,1,1]]}");
    expect_http_error(&r, 422, "invalid_argument", "input[1]");
    http_reply_free(&r);
    r = http_post("/v1/loss/mse", "{\"input\":[1],\"target\":[1],\"reduction\":\"avg\"}");
    expect_http_error(&r, 422, "invalid_argument", "reduction");
    http_reply_free(&r);
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

/* ------------------------------------------------------------ auth */

static char *key_file;

static void with_keys(lossd_config *c)
{
    key_file = temp_file("# test keys\nalpha-123\n\n  beta-456  \n");
    ck_assert_uint_lt(strlen(key_file), sizeof c->api_key_file);
    strcpy(c->api_key_file, key_file);
}

static void setup_keys(void)
{
    http_start(with_keys);
}

START_TEST(api_keys)
{
    const char *body = "{\"input\":[1],\"target\":[0]}";
    http_reply r = http_post("/v1/loss/mse", body);
    expect_http_error(&r, 401, "unauthorized", NULL);
    ck_assert_str_eq(http_header(&r, "WWW-Authenticate"), "Bearer realm=\"lossd\"");
    http_reply_free(&r);
    const char *wrong[] = {"Authorization: Bearer alpha-12", NULL};
    r = http_request(NULL, "/v1/loss/mse", body, strlen(body), wrong);
    expect_http_error(&r, 401, "unauthorized", NULL);
    http_reply_free(&r);
    const char *right[] = {"Authorization: Bearer beta-456", NULL};
    expect_status(http_request(NULL, "/v1/loss/mse", body, strlen(body), right), 200);
    expect_status(http_request("GET", "/v1/functions", NULL, 0, right), 200);
    r = http_get("/v1/functions");
    expect_http_error(&r, 401, "unauthorized", NULL);
    http_reply_free(&r);
    /* the probes and metrics stay open */
    const char *open_paths[] = {"/healthz", "/readyz", "/metrics"};
    for (int i = 0; i < 3; i++) {
        expect_status(http_get(open_paths[i]), 200);
    }
    unlink(key_file);
    free(key_file);
}
END_TEST

START_TEST(no_keys_means_open)
{
    expect_status(http_post("/v1/loss/mse", "{\"input\":[1],\"target\":[0]}"), 200);
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
        http_start(with_tls);
}

START_TEST(https)
{
    /* This libmicrohttpd (Debian's) has TLS: the test insists on it. */
    ck_assert_msg(lossd_server_tls_available(), "libmicrohttpd lacks TLS support");
    http_reply r = http_post("/v1/loss/mse", "{\"input\":[3],\"target\":[1]}");
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "{\"loss\":4.0,\"n\":1}");
    http_reply_free(&r);
    /* That was HTTPS: the port answers no plain-text request. */
    int fd = raw_connect();
    const char *plain = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
    send(fd, plain, strlen(plain), MSG_NOSIGNAL);
    char *got = raw_read(fd, NULL, NULL);
    ck_assert_msg(strncmp(got, "HTTP/", 5) != 0, "plain HTTP was answered: %.80s", got);
    free(got);
    close(fd);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("http");
    add_case(s, "endpoints", 60, http_setup, http_stop,
             TESTS(service_endpoints, functions_of_one_kind, metrics_after_requests,
                   every_family_matches_the_core, every_function_answers, known_values,
                   batch_runs_jobs_in_order, error_table, no_keys_means_open,
                   large_request_uses_the_pool));
    add_case(s, "auth", 30, setup_keys, http_stop, TESTS(api_keys));
    add_case(s, "tls", 30, setup_tls, http_stop, TESTS(https));
    return run_http_suite(s);
}
