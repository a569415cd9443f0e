/* SPDX-License-Identifier: MIT */
/*
 * check_http_v2.c - the Open Inference Protocol and content codings over
 * real HTTP (tests/httputil.h): the /v2 endpoints, requests framed byte
 * for byte as tritonclient frames them (tests/v2client.h: no
 * Content-Type, binary in and out), the same request over /v1 and /v2
 * giving the same doubles, gzip and deflate in both directions on both
 * versions, a decompression bomb, header framing errors, API keys and
 * readiness while draining.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "httputil.h"
#include "v2client.h"

/* The headers tritonclient sends with a binary request: the header length, and no Content-Type. */
static http_reply triton_post(const char *model, const v2_request *req, const char *extra)
{
    char path[128], length[64];
    snprintf(path, sizeof path, "/v2/models/%s/infer", model);
    snprintf(length, sizeof length, "Inference-Header-Content-Length: %zu", req->header_len);
    const char *headers[] = {"Content-Type:", req->header_len ? length : extra,
                             req->header_len ? extra : NULL, NULL};
    return http_request("POST", path, req->body, req->len, headers);
}

static v2_result triton_result(const http_reply *r)
{
    ck_assert_msg(r->status == 200, "status %ld: %s", r->status, r->body);
    const char *length = http_header(r, "Inference-Header-Content-Length");
    return v2_parse(r->body, r->len, length ? strtoull(length, NULL, 10) : 0);
}

/* ------------------------------------------------------------ endpoints */

START_TEST(v2_endpoints)
{
    http_reply r = http_get("/v2");
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "name")), "lossd");
    ck_assert_str_eq(json_string_value(json_object_get(r.json, "version")), LOSSD_VERSION_STRING);
    http_reply_free(&r);
    r = http_get("/v2/health/live");
    ck_assert_str_eq(r.body, "{\"live\":true}");
    http_reply_free(&r);
    r = http_get("/v2/health/ready");
    ck_assert_str_eq(r.body, "{\"ready\":true}");
    http_reply_free(&r);
    /* every registry function is a model, with and without its version */
    for (size_t i = 0; i < lossd_function_count(); i++) {
        const lossd_function *fn = lossd_function_at(i);
        char path[160], name[96];
        snprintf(name, sizeof name, "%s.%s", lossd_kind_name(fn->kind), fn->name);
        snprintf(path, sizeof path, "/v2/models/%s", name);
        r = http_get(path);
        ck_assert_msg(r.status == 200, "%s: %ld", path, r.status);
        ck_assert_str_eq(json_string_value(json_object_get(r.json, "name")), name);
        http_reply_free(&r);
        snprintf(path, sizeof path, "/v2/models/%s/versions/1/ready", name);
        r = http_get(path);
        ck_assert_str_eq(json_string_value(json_object_get(r.json, "name")), name);
        ck_assert(json_is_true(json_object_get(r.json, "ready")));
        http_reply_free(&r);
    }
    r = http_get("/v2/models/loss.ciouu");
    expect_v2_error(&r, 404, "no model called \"loss.ciouu\"; the loss models are");
    http_reply_free(&r);
    r = http_get("/v2/models/ciou"); /* no kind: the models of that name */
    expect_v2_error(&r, 404,
                    "ciou is a loss: /v2/models/loss.ciou, and a pairwise box matrix: "
                    "/v2/models/pairwise.ciou");
    http_reply_free(&r);
    r = http_get("/v2/models/nothing");
    expect_v2_error(&r, 404, "models are named {kind}.{name}");
    http_reply_free(&r);
    r = http_get("/v2/models/loss.ciou/versions/2");
    expect_v2_error(&r, 404, "its only version is 1");
    http_reply_free(&r);
    r = http_get("/v2/models/loss.ciou/stats");
    expect_v2_error(&r, 404, "a model has /ready and /infer");
    http_reply_free(&r);
    r = http_get("/v2/models/loss.ciou/infer");
    expect_v2_error(&r, 405, "GET is not allowed");
    ck_assert_str_eq(http_header(&r, "Allow"), "POST");
    http_reply_free(&r);
    r = http_post("/v2/models/loss.ciou", "{}");
    expect_v2_error(&r, 405, "POST is not allowed");
    ck_assert_str_eq(http_header(&r, "Allow"), "GET");
    http_reply_free(&r);
    /* the repository has an index, but no models to load or unload */
    r = http_post("/v2/repository/models/loss.mse/load", "{}");
    expect_v2_error(&r, 404, "no endpoint at /v2/repository/models/loss.mse/load");
    http_reply_free(&r);
}
END_TEST

/* ------------------------------------------------------------ inference */

START_TEST(a_tritonclient_request)
{
    v2_request req = v2_fixture_request("42");
    http_reply r = triton_post("loss.ciou", &req, NULL);
    ck_assert_str_eq(http_header(&r, "Content-Type"), "application/octet-stream");
    v2_result res = triton_result(&r);
    ck_assert_str_eq(json_string_value(json_object_get(res.header, "id")), "42");
    size_t n;
    double *loss = v2_output_values(&res, "loss", &n, NULL, NULL);
    double *grad = v2_output_values(&res, "grad", &n, NULL, NULL);
    ck_assert_uint_eq(n, 12);
    /* the core's numbers, bit for bit */
    lossd_call c;
    v2_fixture_expected(&c);
    ck_assert(same_bits(loss[0], c.loss));
    for (size_t i = 0; i < 12; i++)
        ck_assert(same_bits(grad[i], c.grad[i]));
    lossd_call_cleanup(&c);
    free(loss), free(grad);
    v2_result_free(&res);
    http_reply_free(&r);
    /* the media types a v2 body may carry; any other is 415 */
    static const char *const types[] = {"Content-Type: application/octet-stream",
                                        "Content-Type: application/json"};
    for (size_t i = 0; i < 2; i++) {
        r = triton_post("loss.ciou", &req, types[i]);
        ck_assert_msg(r.status == 200, "%s: %ld", types[i], r.status);
        http_reply_free(&r);
    }
    r = triton_post("loss.ciou", &req, "Content-Type: text/plain");
    expect_v2_error(&r, 415, "application/json or application/octet-stream");
    http_reply_free(&r);
    /* /v1 takes no raw bytes */
    const char *octets[] = {"Content-Type: application/octet-stream", NULL};
    r = http_request("POST", "/v1/loss/ciou", "{}", 2, octets);
    expect_http_error(&r, 415, "unsupported_media_type", NULL);
    http_reply_free(&r);
    v2_request_free(&req);
}
END_TEST

/*
 * Binary tensors of every size class over HTTP: a few bytes (copied behind
 * the JSON header), tens of kilobytes (sent from the call's arrays as an
 * iovec) and megabytes (request body and outputs in huge-page mappings):
 * every number back, bit for bit, for leaky_relu with its gradient.
 */
START_TEST(binary_tensors_of_every_size)
{
    static const size_t sizes[] = {3, 5000, 400000};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        double *x = malloc(n * sizeof *x);
        for (size_t i = 0; i < n; i++)
            x[i] = (double)(i % 13) - 6.5 + 1.0 / (double)(i + 1);
        v2_input in[] = {{"input", "FP64", 1, {n}, x, false}};
        v2_output out[] = {{"output", true}, {"grad", true}};
        v2_request req = v2_frame(in, 1, out, 2, "{\"negative_slope\":0.25}", NULL);
        http_reply r = triton_post("activation.leaky_relu", &req, NULL);
        v2_result res = triton_result(&r);
        size_t got;
        double *y = v2_output_values(&res, "output", &got, NULL, NULL);
        ck_assert_uint_eq(got, n);
        double *g = v2_output_values(&res, "grad", &got, NULL, NULL);
        ck_assert_uint_eq(got, n);
        for (size_t i = 0; i < n; i++) {
            ck_assert_msg(same_bits(y[i], x[i] > 0 ? x[i] : 0.25 * x[i]), "%zu of %zu", i, n);
            ck_assert_msg(same_bits(g[i], x[i] > 0 ? 1.0 : 0.25), "%zu of %zu", i, n);
        }
        free(y), free(g), free(x);
        v2_result_free(&res);
        http_reply_free(&r);
        v2_request_free(&req);
    }
}
END_TEST

/* The numbers of a /v1 reply field (nested arrays flattened). */
static size_t flatten(const json_t *v, double *out)
{
    if (json_is_number(v)) {
        *out = json_number_value(v);
        return 1;
    }
    size_t n = 0, i;
    json_t *item;
    json_array_foreach(v, i, item) n += flatten(item, out + n);
    return n;
}

START_TEST(v1_and_v2_give_the_same_doubles)
{
    static const double logits[] = {0.1, 2.5, -1.25, 3.0, 0.333, -0.7, 7, -3, 0.02};
    static const double classes[] = {2, 0, 1};
    static const double p[] = {0.2, 0.3, 0.5, 0.1, 0.1, 0.8},
                        q[] = {0.25, 0.25, 0.5, 0.3, 0.3, 0.4};
    static const struct {
        const char *v1_path, *model, *v1_body, *main, *extra;
        v2_input inputs[2];
        const char *params;
    } cases[] = {
        {"/v1/loss/giou",
         "loss.giou",
         "{\"input\":[[0,0,2,1],[1,1,3,4],[0.5,0.25,1,2]],\"target\":[[0,0,1,2],[0,1,2,3],[0.5,"
         "0.25,1.5,2]],\"grad\":true,\"reduction\":\"sum\"}",
         "loss",
         "grad",
         {{"input", "FP64", 2, {3, 4}, v2_fixture_input, false},
          {"target", "FP64", 2, {3, 4}, v2_fixture_target, false}},
         "{\"reduction\":\"sum\"}"},
        {"/v1/loss/cross_entropy",
         "loss.cross_entropy",
         "{\"input\":[[0.1,2.5,-1.25],[3.0,0.333,-0.7],[7,-3,0.02]],\"target\":[2,0,1],\"grad\":"
         "true,"
         "\"label_smoothing\":0.1}",
         "loss",
         "grad",
         {{"input", "FP64", 2, {3, 3}, logits, false}, {"target", "INT64", 1, {3}, classes, false}},
         "{\"label_smoothing\":0.1}"},
        {"/v1/activation/gelu",
         "activation.gelu",
         "{\"input\":[0.1,2.5,-1.25,3.0,0.333,-0.7,7,-3,0.02],\"grad\":true,\"approximate\":"
         "\"tanh\"}",
         "output",
         "grad",
         {{"input", "FP64", 1, {9}, logits, false}},
         "{\"approximate\":\"tanh\"}"},
        {"/v1/activation/softmax",
         "activation.softmax",
         "{\"input\":[[0.1,2.5,-1.25],[3.0,0.333,-0.7],[7,-3,0.02]],\"grad\":true}",
         "output",
         "grad",
         {{"input", "FP64", 2, {3, 3}, logits, true}},
         NULL},
        {"/v1/info/kl_divergence",
         "info.kl_divergence",
         "{\"p\":[[0.2,0.3,0.5],[0.1,0.1,0.8]],\"q\":[[0.25,0.25,0.5],[0.3,0.3,0.4]],\"base\":2}",
         "value",
         NULL,
         {{"p", "FP64", 2, {2, 3}, p, false}, {"q", "FP64", 2, {2, 3}, q, false}},
         "{\"base\":2}"},
        {"/v1/pairwise/ciou",
         "pairwise.ciou",
         "{\"boxes1\":[[0,0,2,1],[1,1,3,4],[0.5,0.25,1,2]],\"boxes2\":[[0,0,1,2],[0,1,2,3],[0.5,0."
         "25,"
         "1.5,2]]}",
         "matrix",
         NULL,
         {{"boxes1", "FP64", 2, {3, 4}, v2_fixture_input, false},
          {"boxes2", "FP64", 2, {3, 4}, v2_fixture_target, false}},
         NULL},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        http_reply v1 = http_post(cases[k].v1_path, cases[k].v1_body);
        ck_assert_msg(v1.status == 200, "%s: %s", cases[k].v1_path, v1.body);
        size_t n_inputs = cases[k].inputs[1].name ? 2 : 1;
        v2_request req = v2_frame(cases[k].inputs, n_inputs, NULL, 0, cases[k].params, NULL);
        http_reply v2 = triton_post(cases[k].model, &req, NULL);
        v2_result res = triton_result(&v2);
        const char *fields[] = {cases[k].main, cases[k].extra};
        for (size_t f = 0; f < 2 && fields[f]; f++) {
            double want[64];
            size_t n_want = flatten(json_object_get(v1.json, fields[f]), want), n;
            double *got = v2_output_values(&res, fields[f], &n, NULL, NULL);
            ck_assert_msg(n == n_want, "%s %s: %zu numbers, v1 has %zu", cases[k].model, fields[f],
                          n, n_want);
            for (size_t i = 0; i < n; i++)
                ck_assert_msg(same_bits(got[i], want[i]), "%s %s[%zu]: v2 %.17g, v1 %.17g",
                              cases[k].model, fields[f], i, got[i], want[i]);
            free(got);
        }
        v2_result_free(&res);
        http_reply_free(&v2);
        http_reply_free(&v1);
        v2_request_free(&req);
    }
}
END_TEST

/* ------------------------------------------------------------ codings */

/* body compressed as gzip (window 31) or zlib's deflate (15); caller frees. */
static unsigned char *pack(const void *body, size_t len, int window, size_t *out_len)
{
    z_stream z = {0};
    ck_assert_int_eq(deflateInit2(&z, 6, Z_DEFLATED, window, 8, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = deflateBound(&z, len) + 64;
    unsigned char *out = malloc(cap);
    z.next_in = (Bytef *)body;
    z.avail_in = (uInt)len;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    ck_assert_int_eq(deflate(&z, Z_FINISH), Z_STREAM_END);
    *out_len = cap - z.avail_out;
    deflateEnd(&z);
    return out;
}

/* A v1 body of n boxes with gradient: a reply of some kilobytes. */
static char *boxes_json(size_t n)
{
    char *body = malloc(64 * n + 64), *p = body;
    p += sprintf(p, "{\"grad\":true,\"reduction\":\"none\",\"input\":[");
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s[%zu,0,%zu.5,2]", i ? "," : "", i, i + 1);
    p += sprintf(p, "],\"target\":[");
    for (size_t i = 0; i < n; i++)
        p += sprintf(p, "%s[%zu.25,0.5,%zu,3]", i ? "," : "", i, i + 2);
    strcpy(p, "]}");
    return body;
}

START_TEST(compressed_requests_and_replies)
{
    char *body = boxes_json(200);
    size_t len = strlen(body);
    http_reply plain = http_post("/v1/loss/diou", body);
    ck_assert_int_eq(plain.status, 200);
    ck_assert_uint_gt(plain.len, 4096);
    ck_assert_ptr_null(http_header(&plain, "Content-Encoding"));
    ck_assert_str_eq(http_header(&plain, "Vary"), "Accept-Encoding");
    static const struct {
        int window;
        const char *coding;
    } forms[] = {{31, "gzip"}, {15, "deflate"}};
    for (size_t f = 0; f < 2; f++) {
        size_t packed_len;
        unsigned char *packed = pack(body, len, forms[f].window, &packed_len);
        char encoding[64], accept[64];
        snprintf(encoding, sizeof encoding, "Content-Encoding: %s", forms[f].coding);
        snprintf(accept, sizeof accept, "Accept-Encoding: %s", forms[f].coding);
        /* compressed in, plain out: the same reply */
        const char *in_only[] = {encoding, NULL};
        http_reply r = http_request("POST", "/v1/loss/diou", packed, packed_len, in_only);
        ck_assert_msg(r.status == 200, "%s: %ld %s", forms[f].coding, r.status, r.body);
        ck_assert_uint_eq(r.len, plain.len);
        ck_assert(memcmp(r.body, plain.body, plain.len) == 0);
        http_reply_free(&r);
        /* compressed both ways */
        const char *both[] = {encoding, accept, NULL};
        r = http_request("POST", "/v1/loss/diou", packed, packed_len, both);
        ck_assert_int_eq(r.status, 200);
        ck_assert_str_eq(http_header(&r, "Content-Encoding"), forms[f].coding);
        ck_assert_str_eq(http_header(&r, "Vary"), "Accept-Encoding");
        ck_assert_uint_lt(r.len, plain.len / 2);
        size_t out_len;
        char *out = http_inflated(&r, &out_len);
        ck_assert_uint_eq(out_len, plain.len);
        ck_assert(memcmp(out, plain.body, plain.len) == 0);
        free(out);
        http_reply_free(&r);
        free(packed);
    }
    /* a small reply stays as it is */
    const char *accept_gzip[] = {"Accept-Encoding: gzip", NULL};
    http_reply r =
        http_request("POST", "/v1/loss/mse", "{\"input\":[1],\"target\":[0]}", 26, accept_gzip);
    ck_assert_int_eq(r.status, 200);
    ck_assert_ptr_null(http_header(&r, "Content-Encoding"));
    http_reply_free(&r);
    /* GET endpoints too: the catalog */
    r = http_request("GET", "/v1/functions", NULL, 0, accept_gzip);
    ck_assert_str_eq(http_header(&r, "Content-Encoding"), "gzip");
    size_t out_len;
    char *out = http_inflated(&r, &out_len);
    json_t *catalog = json_loadb(out, out_len, 0, NULL);
    ck_assert_uint_eq(json_array_size(json_object_get(catalog, "functions")),
                      lossd_function_count());
    json_decref(catalog);
    free(out);
    http_reply_free(&r);
    http_reply_free(&plain);
    free(body);
}
END_TEST

START_TEST(compressed_v2_both_ways)
{
    size_t n = 500;
    double *a = malloc(4 * n * sizeof *a), *b = malloc(4 * n * sizeof *b);
    for (size_t i = 0; i < n; i++) {
        double box_a[4] = {(double)i, 0, i + 1.5, 2}, box_b[4] = {i + 0.25, 0.5, (double)i + 2, 3};
        memcpy(a + 4 * i, box_a, sizeof box_a);
        memcpy(b + 4 * i, box_b, sizeof box_b);
    }
    v2_input in[] = {{"input", "FP64", 2, {n, 4}, a, false},
                     {"target", "FP64", 2, {n, 4}, b, false}};
    v2_output out[] = {{"loss", false}, {"grad", true}};
    v2_request req = v2_frame(in, 2, out, 2, NULL, NULL);
    http_reply plain = triton_post("loss.giou", &req, NULL);
    v2_result want = triton_result(&plain);
    size_t packed_len;
    unsigned char *packed = pack(req.body, req.len, 31, &packed_len);
    char length[64];
    snprintf(length, sizeof length, "Inference-Header-Content-Length: %zu", req.header_len);
    /* as tritonclient sends it with request and response compression: gzip */
    const char *headers[] = {"Content-Type:", length, "Content-Encoding: gzip",
                             "Accept-Encoding: gzip", NULL};
    http_reply r = http_request("POST", "/v2/models/loss.giou/infer", packed, packed_len, headers);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(http_header(&r, "Content-Encoding"), "gzip");
    ck_assert_str_eq(http_header(&r, "Content-Type"), "application/octet-stream");
    /* the header length counts the uncompressed JSON header, as InferResult reads it */
    ck_assert_str_eq(http_header(&r, "Inference-Header-Content-Length"),
                     http_header(&plain, "Inference-Header-Content-Length"));
    size_t out_len;
    char *unpacked = http_inflated(&r, &out_len);
    ck_assert_uint_eq(out_len, plain.len);
    ck_assert(memcmp(unpacked, plain.body, plain.len) == 0);
    free(unpacked);
    http_reply_free(&r);
    v2_result_free(&want);
    http_reply_free(&plain);
    free(packed);
    v2_request_free(&req);
    free(a), free(b);
}
END_TEST

START_TEST(codings_lossd_does_not_decode)
{
    const char *br[] = {"Content-Encoding: br", NULL};
    http_reply r = http_request("POST", "/v1/loss/mse", "{\"input\":[1],\"target\":[0]}", 26, br);
    expect_http_error(&r, 415, "unsupported_media_type", NULL);
    ck_assert(
        strstr(json_string_value(json_object_get(json_object_get(r.json, "error"), "message")),
               "Content-Encoding br is not supported"));
    http_reply_free(&r);
    const char *two[] = {"Content-Encoding: gzip, br", NULL};
    r = http_request("POST", "/v2/models/loss.mse/infer", "{}", 2, two);
    expect_v2_error(&r, 415, "Content-Encoding gzip, br is not supported");
    http_reply_free(&r);
    /* gzip that is not gzip, and gzip cut short */
    const char *gzip[] = {"Content-Encoding: gzip", NULL};
    r = http_request("POST", "/v1/loss/mse", "{\"input\":[1],\"target\":[0]}", 26, gzip);
    expect_http_error(&r, 400, "bad_request", NULL);
    http_reply_free(&r);
    size_t len;
    const char *body = "{\"input\":[1,2,3],\"target\":[0,0,0]}";
    unsigned char *packed = pack(body, strlen(body), 31, &len);
    r = http_request("POST", "/v1/loss/mse", packed, len - 4, gzip);
    expect_http_error(&r, 400, "bad_request", NULL);
    ck_assert(
        strstr(json_string_value(json_object_get(json_object_get(r.json, "error"), "message")),
               "ends before its data does"));
    http_reply_free(&r);
    r = http_request("POST", "/v1/loss/mse", packed, len, gzip);
    ck_assert_int_eq(r.status, 200);
    http_reply_free(&r);
    free(packed);
}
END_TEST

/* A compressed body sent without its Content-Encoding is named for what it is, on both versions. */
START_TEST(compressed_bodies_without_their_coding)
{
    static const struct {
        int window;
        const char *coding;
    } forms[] = {{31, "gzip"}, {15, "deflate"}};
    const char *v1 = "{\"input\":[1,2,3],\"target\":[0,0,0]}";
    double a[4] = {0, 0, 2, 2}, b[4] = {1, 1, 3, 3};
    v2_input in[] = {{"input", "FP64", 2, {1, 4}, a, false},
                     {"target", "FP64", 2, {1, 4}, b, false}};
    v2_request binary = v2_frame(in, 2, NULL, 0, NULL, NULL);
    in[0].json = in[1].json = true;
    v2_request json = v2_frame(in, 2, NULL, 0, NULL, NULL);
    ck_assert_uint_eq(json.header_len, 0);
    ck_assert_uint_gt(binary.header_len, 0);
    for (size_t f = 0; f < 2; f++) {
        char want[160];
        snprintf(want, sizeof want,
                 "the body looks %s-compressed, but the request has no Content-Encoding: send "
                 "the header Content-Encoding: %s with it",
                 forms[f].coding, forms[f].coding);
        size_t len;
        unsigned char *packed = pack(v1, strlen(v1), forms[f].window, &len);
        http_reply r = http_request("POST", "/v1/loss/mse", packed, len, NULL);
        expect_http_error(&r, 400, "invalid_json", NULL);
        const char *message =
            json_string_value(json_object_get(json_object_get(r.json, "error"), "message"));
        ck_assert_msg(strstr(message, want), "%s", message);
        http_reply_free(&r);
        const char *identity[] = {"Content-Encoding: identity", NULL};
        r = http_request("POST", "/v1/loss/mse", packed, len, identity);
        expect_http_error(&r, 400, "invalid_json", NULL);
        http_reply_free(&r);
        free(packed);
        /* /v2: a JSON body, and a binary one with its header length */
        packed = pack(json.body, json.len, forms[f].window, &len);
        r = http_request("POST", "/v2/models/loss.giou/infer", packed, len, NULL);
        expect_v2_error(&r, 400, want);
        http_reply_free(&r);
        free(packed);
        packed = pack(binary.body, binary.len, forms[f].window, &len);
        char length[64];
        /* the header's length as sent, at most the body's: past it is a framing error of its own */
        snprintf(length, sizeof length, "Inference-Header-Content-Length: %zu",
                 len < binary.header_len ? len : binary.header_len);
        const char *octets[] = {"Content-Type: application/octet-stream", length, NULL};
        r = http_request("POST", "/v2/models/loss.giou/infer", packed, len, octets);
        expect_v2_error(&r, 400, want);
        http_reply_free(&r);
        free(packed);
    }
    v2_request_free(&json);
    v2_request_free(&binary);
}
END_TEST

static void small_body(lossd_config *c)
{
    c->max_body = (size_t)1 << 20;
}

static void start_small(void)
{
    http_start(small_body);
}

/* The process's peak resident memory (VmHWM), in bytes. */
static size_t peak_rss(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    size_t kb = 0;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmHWM:", 6) == 0)
            kb = strtoull(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kb * 1024;
}

START_TEST(a_decompression_bomb_is_a_413)
{
    /* 128 MiB of zeros, streamed through zlib a chunk at a time (no 128 MiB buffer here) */
    static unsigned char zeros[1 << 16];
    z_stream z = {0};
    ck_assert_int_eq(deflateInit2(&z, 9, Z_DEFLATED, 31, 9, Z_DEFAULT_STRATEGY), Z_OK);
    size_t cap = 1 << 20, len;
    unsigned char *bomb = malloc(cap);
    z.next_out = bomb;
    z.avail_out = (uInt)cap;
    for (int i = 0; i < 2048; i++) {
        z.next_in = zeros;
        z.avail_in = sizeof zeros;
        ck_assert_int_eq(deflate(&z, i == 2047 ? Z_FINISH : Z_NO_FLUSH),
                         i == 2047 ? Z_STREAM_END : Z_OK);
    }
    len = cap - z.avail_out;
    deflateEnd(&z);
    ck_assert_uint_lt(len, (size_t)200 << 10);
    size_t before = peak_rss();
    const char *gzip[] = {"Content-Encoding: gzip", NULL};
    http_reply r = http_request("POST", "/v1/loss/mse", bomb, len, gzip);
    expect_http_error(&r, 413, "payload_too_large", NULL);
    ck_assert(
        strstr(json_string_value(json_object_get(json_object_get(r.json, "error"), "message")),
               "inflates to more than 1048576 bytes"));
    http_reply_free(&r);
    /* the server (in this process) held at most about --max-body for it */
    size_t grew = peak_rss() - before;
    ck_assert_msg(grew < ((size_t)8 << 20), "the bomb raised peak memory by %zu bytes", grew);
    /* and the same on /v2 */
    const char *v2[] = {"Content-Encoding: gzip", "Inference-Header-Content-Length: 10", NULL};
    r = http_request("POST", "/v2/models/loss.mse/infer", bomb, len, v2);
    expect_v2_error(&r, 413, "inflates to more than");
    http_reply_free(&r);
    free(bomb);
}
END_TEST

/* Optional whitespace around the header's value is not part of it (RFC 9110 section 5.5). */
START_TEST(header_length_whitespace_is_trimmed)
{
    v2_request req = v2_fixture_request(NULL);
    static const char *const pads[][2] = {{" ", ""}, {"", " "}, {"\t ", " \t"}};
    for (size_t i = 0; i < sizeof pads / sizeof pads[0]; i++) {
        char length[96];
        snprintf(length, sizeof length, "Inference-Header-Content-Length: %s%zu%s", pads[i][0],
                 req.header_len, pads[i][1]);
        const char *headers[] = {length, NULL};
        http_reply r =
            http_request("POST", "/v2/models/loss.ciou/infer", req.body, req.len, headers);
        ck_assert_msg(r.status == 200, "\"%s\": %ld %s", length, r.status, r.body);
        http_reply_free(&r);
    }
    v2_request_free(&req);
}
END_TEST

START_TEST(header_length_framing)
{
    static const char *const bad[] = {"abc", "-1", "12x", " 7", "99999999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char header[96];
        snprintf(header, sizeof header, "Inference-Header-Content-Length: %s", bad[i]);
        const char *headers[] = {header, NULL};
        http_reply r = http_request("POST", "/v2/models/loss.mse/infer", "{}", 2, headers);
        expect_v2_error(&r, 400, "Inference-Header-Content-Length");
        http_reply_free(&r);
    }
    const char *longer[] = {"Inference-Header-Content-Length: 3", NULL};
    http_reply r = http_request("POST", "/v2/models/loss.mse/infer", "{}", 2, longer);
    expect_v2_error(&r, 400, "Inference-Header-Content-Length is 3, more than the body's 2 bytes");
    http_reply_free(&r);
}
END_TEST

START_TEST(limits_hold_on_v2)
{
    /* a binary body over --max-body (1 MiB here) is refused before it is read */
    size_t n = 140000;
    double *x = calloc(n, sizeof *x);
    v2_input in[] = {{"input", "FP64", 1, {n}, x, false}};
    v2_request req = v2_frame(in, 1, NULL, 0, NULL, NULL);
    http_reply r = triton_post("activation.relu", &req, NULL);
    expect_v2_error(&r, 413, "(--max-body)");
    http_reply_free(&r);
    v2_request_free(&req);
    free(x);
}
END_TEST

/* ------------------------------------------------------------ keys, draining */

static char key_file[64];

static void with_keys(lossd_config *c)
{
    char *path = temp_file("sesame\n");
    snprintf(key_file, sizeof key_file, "%s", path);
    free(path);
    strcpy(c->api_key_file, key_file);
}

static void start_keys(void)
{
    http_start(with_keys);
}

/* Triton's model repository extension: POST /v2/repository/index lists every model, READY. */
START_TEST(the_repository_index_lists_every_model)
{
    http_reply r = http_get("/v2");
    json_t *extensions = json_object_get(r.json, "extensions");
    bool listed = false;
    for (size_t i = 0; i < json_array_size(extensions); i++)
        listed |= strcmp(json_string_value(json_array_get(extensions, i)), "model_repository") == 0;
    ck_assert_msg(listed, "GET /v2 does not list model_repository: %s", r.body);
    http_reply_free(&r);
    /* as tritonclient's get_model_repository_index() asks: no body; and with "ready" */
    static const char *const bodies[] = {"", "{}", "{\"ready\":true}", "{\"ready\":false}"};
    for (size_t b = 0; b < sizeof bodies / sizeof bodies[0]; b++) {
        r = http_request("POST", "/v2/repository/index", bodies[b], strlen(bodies[b]), NULL);
        ck_assert_msg(r.status == 200, "%s: %ld %s", bodies[b], r.status, r.body);
        ck_assert_uint_eq(json_array_size(r.json), lossd_function_count());
        for (size_t i = 0; i < lossd_function_count(); i++) {
            const lossd_function *fn = lossd_function_at(i);
            json_t *model = json_array_get(r.json, i);
            char name[96];
            snprintf(name, sizeof name, "%s.%s", lossd_kind_name(fn->kind), fn->name);
            ck_assert_str_eq(json_string_value(json_object_get(model, "name")), name);
            ck_assert_str_eq(json_string_value(json_object_get(model, "version")), "1");
            ck_assert_str_eq(json_string_value(json_object_get(model, "state")), "READY");
            ck_assert_uint_eq(json_object_size(model), 3);
        }
        http_reply_free(&r);
    }
    r = http_post("/v2/repository/index", "{\"ready\":1}");
    expect_v2_error(&r, 422, "ready: expected a boolean, got a number");
    http_reply_free(&r);
    r = http_post("/v2/repository/index", "{\"repository_name\":\"x\"}");
    expect_v2_error(&r, 422,
                    "repository_name: unknown field; a repository index request takes: ready");
    http_reply_free(&r);
    r = http_post("/v2/repository/index", "[]");
    ck_assert_int_eq(r.status, 400);
    http_reply_free(&r);
    r = http_get("/v2/repository/index");
    expect_v2_error(&r, 405, "GET is not allowed on /v2/repository/index; use POST");
    ck_assert_str_eq(http_header(&r, "Allow"), "POST");
    http_reply_free(&r);
}
END_TEST

START_TEST(keys_guard_models_not_health)
{
    expect_status(http_get("/v2/health/live"), 200);
    expect_status(http_get("/v2/health/ready"), 200);
    http_reply r = http_get("/v2/models/loss.mse");
    expect_v2_error(&r, 401, "a valid API key is required");
    ck_assert_str_eq(http_header(&r, "WWW-Authenticate"), "Bearer realm=\"lossd\"");
    http_reply_free(&r);
    r = http_post("/v2/models/loss.mse/infer", "{}");
    expect_v2_error(&r, 401, "a valid API key is required");
    http_reply_free(&r);
    expect_status(http_get("/v2"), 401);
    r = http_post("/v2/repository/index", "{}");
    expect_v2_error(&r, 401, "a valid API key is required");
    http_reply_free(&r);
    const char *key[] = {"Authorization: Bearer sesame", NULL};
    expect_status(http_request("GET", "/v2/models/loss.mse", NULL, 0, key), 200);
    expect_status(http_request("POST", "/v2/repository/index", "", 0, key), 200);
    unlink(key_file);
}
END_TEST

START_TEST(readiness_turns_when_draining)
{
    /* on a keep-alive connection opened before the drain, as a kubelet's probe may be */
    CURL *curl = curl_easy_init();
    ck_assert_ptr_nonnull(curl);
    expect_status(http_request_on(curl, NULL, "/v2/health/ready", NULL, 0, NULL), 200);
    lossd_server_drain(http_server());
    http_reply r = http_request_on(curl, NULL, "/v2/health/ready", NULL, 0, NULL);
    long new_connections = -1;
    curl_easy_getinfo(curl, CURLINFO_NUM_CONNECTS, &new_connections);
    ck_assert_int_eq(new_connections, 0);
    ck_assert_int_eq(r.status, 503);
    ck_assert_str_eq(r.body, "{\"ready\":false}");
    ck_assert_str_eq(http_header(&r, "Connection"), "close");
    http_reply_free(&r);
    curl_easy_cleanup(curl);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("http_v2");
    add_case(s, "endpoints", 30, http_setup, http_stop,
             TESTS(v2_endpoints, the_repository_index_lists_every_model, a_tritonclient_request,
                   binary_tensors_of_every_size, v1_and_v2_give_the_same_doubles));
    add_case(s, "codings", 30, http_setup, http_stop,
             TESTS(compressed_requests_and_replies, compressed_v2_both_ways,
                   codings_lossd_does_not_decode, compressed_bodies_without_their_coding,
                   header_length_framing, header_length_whitespace_is_trimmed));
    add_case(s, "limits", 30, start_small, http_stop,
             TESTS(a_decompression_bomb_is_a_413, limits_hold_on_v2));
    add_case(s, "keys", 30, start_keys, http_stop, TESTS(keys_guard_models_not_health));
    add_case(s, "draining", 30, http_setup, http_stop, TESTS(readiness_turns_when_draining));
    return run_http_suite(s);
}
