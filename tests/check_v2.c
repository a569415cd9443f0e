/* SPDX-License-Identifier: MIT */
/*
 * check_v2.c - the Open Inference Protocol module (src/service/v2.c) below
 * HTTP: requests framed as tritonclient frames them (tests/v2client.c) go
 * through lossd_handle() exactly as a worker runs them, and the reply is
 * read back as the bytes the server would send.
 *
 * Metadata must follow the registry; every framing mismatch must be a 400
 * naming the input; contract violations 422s as on /v1; outputs come in
 * the form and order asked for; and a /v2 request must give the same
 * doubles, bit for bit, as the same request over /v1.
 */
#include <check.h>
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <lossd/lossd.h>

#include "../src/service/arena.h"
#include "../src/service/handler.h"
#include "../src/service/route.h"
#include "../src/service/v2.h"
#include "serviceutil.h"
#include "v2client.h"

static const lossd_handler handler = {{100000, 16}, NULL};

/* A reply as the server would put it on the wire. */
typedef struct {
    int status;
    char *bytes; /* decompressed when it was compressed */
    size_t len;
    size_t header_len;
    bool compressed;
    const char *content_type;
    json_t *json; /* the whole body parsed, when it is JSON alone */
} wire;

static void wire_free(wire *w)
{
    free(w->bytes);
    json_decref(w->json);
    memset(w, 0, sizeof *w);
}

/*
 * Serves one request to `path` in-process. align_at: where the body's
 * aligned byte goes (the server aligns the binary part: header_len).
 */
static wire serve_at(const char *path, const char *body, size_t len, size_t header_len,
                     size_t align_at)
{
    lossd_route route;
    lossd_fault f = {0};
    ck_assert_msg(lossd_route_find("POST", path, &route, &f) == 0, "%s: %s", path, f.message);
    lossd_request req = {&route, {0}, header_len, LOSSD_ENCODING_IDENTITY};
    lossd_body_init(&req.body, align_at);
    ck_assert(lossd_body_append(&req.body, body, len, len));
    lossd_reply reply;
    lossd_reply_init(&reply);
    lossd_handle(&handler, &req, &reply);
    wire w = {.status = reply.status,
              .header_len = reply.header_len,
              .content_type = reply.content_type ? reply.content_type : "application/json"};
    size_t total = lossd_buf_len(&reply.body);
    for (size_t i = 0; i < reply.n_segments; i++)
        total += reply.segments[i].len;
    w.bytes = malloc(total + 1);
    memcpy(w.bytes, lossd_buf_data(&reply.body), lossd_buf_len(&reply.body));
    w.len = lossd_buf_len(&reply.body);
    for (size_t i = 0; i < reply.n_segments; i++) {
        memcpy(w.bytes + w.len, reply.segments[i].data, reply.segments[i].len);
        w.len += reply.segments[i].len;
    }
    w.bytes[w.len] = '\0';
    lossd_reply_cleanup(&reply);
    if (w.header_len == 0)
        w.json = json_loadb(w.bytes, w.len, 0, NULL);
    return w;
}

static wire serve(const char *model, const v2_request *req)
{
    char path[128];
    snprintf(path, sizeof path, "/v2/models/%s/infer", model);
    size_t header_len = req->header_len ? req->header_len : LOSSD_NO_HEADER_LEN;
    return serve_at(path, req->body, req->len, header_len, req->header_len);
}

static wire serve_json(const char *model, const char *body)
{
    char path[128];
    snprintf(path, sizeof path, "/v2/models/%s/infer", model);
    return serve_at(path, body, strlen(body), LOSSD_NO_HEADER_LEN, 0);
}

/* Asserts a v2 error: the status, and an "error" string containing `needle`. */
static void expect_v2_error(const wire *w, int status, const char *needle)
{
    ck_assert_msg(w->status == status, "status %d, want %d: %s", w->status, status, w->bytes);
    ck_assert_msg(json_is_object(w->json), "not JSON: %s", w->bytes);
    const char *error = json_string_value(json_object_get(w->json, "error"));
    ck_assert_msg(error != NULL, "no error string: %s", w->bytes);
    ck_assert_msg(strstr(error, needle) != NULL, "error \"%s\" does not say \"%s\"", error, needle);
}

static v2_result parsed(const wire *w)
{
    ck_assert_msg(w->status == 200, "status %d: %s", w->status, w->bytes);
    return v2_parse(w->bytes, w->len, w->header_len);
}

/* ------------------------------------------------------------ metadata */

static json_t *model_metadata(const lossd_function *fn)
{
    char *text = lossd_v2_model_json(fn);
    ck_assert_ptr_nonnull(text);
    json_t *m = json_loads(text, 0, NULL);
    free(text);
    ck_assert_ptr_nonnull(m);
    return m;
}

static bool has_named(json_t *list, const char *name)
{
    size_t i;
    json_t *o;
    json_array_foreach(list, i, o) if (strcmp(json_string_value(json_object_get(o, "name")),
                                              name) == 0) return true;
    return false;
}

START_TEST(metadata_follows_the_registry)
{
    for (size_t i = 0; i < lossd_function_count(); i++) {
        const lossd_function *fn = lossd_function_at(i);
        json_t *m = model_metadata(fn);
        char name[96];
        snprintf(name, sizeof name, "%s.%s", lossd_kind_name(fn->kind), fn->name);
        ck_assert_str_eq(json_string_value(json_object_get(m, "name")), name);
        ck_assert_str_eq(json_string_value(json_array_get(json_object_get(m, "versions"), 0)), "1");
        ck_assert_str_eq(json_string_value(json_object_get(m, "platform")), "lossd");
        json_t *inputs = json_object_get(m, "inputs"), *outputs = json_object_get(m, "outputs");
        size_t n_inputs = 0;
        for (size_t k = 0; k < 2; k++)
            if (fn->operands[k].rule != LOSSD_RULE_NONE) {
                ck_assert_msg(has_named(inputs, fn->operands[k].name), "%s: no input %s", name,
                              fn->operands[k].name);
                n_inputs++;
            }
        size_t n_scalars = fn->kind == LOSSD_KIND_LOSS; /* reduction */
        for (size_t p = 0; p < fn->n_params; p++) {
            if (fn->params[p].type == LOSSD_PARAM_TENSOR) {
                ck_assert_msg(has_named(inputs, fn->params[p].name), "%s: %s is not an input", name,
                              fn->params[p].name);
                n_inputs++;
            } else {
                ck_assert_msg(has_named(json_object_get(m, "parameters"), fn->params[p].name),
                              "%s: %s is not a parameter", name, fn->params[p].name);
                n_scalars++;
            }
        }
        bool grad = fn->flags & LOSSD_FN_GRAD;
        ck_assert_uint_eq(json_array_size(inputs), n_inputs + grad);
        ck_assert_uint_eq(json_array_size(json_object_get(m, "parameters")), n_scalars);
        ck_assert(has_named(inputs, "grad_output") == grad);
        ck_assert(has_named(outputs, "grad") == grad);
        static const char *const main_names[] = {"loss", "output", "value", "matrix"};
        ck_assert(has_named(outputs, main_names[fn->kind]));
        for (size_t t = 0; (fn->flags & LOSSD_FN_TERMS) && fn->terms[t]; t++) {
            char term[64];
            snprintf(term, sizeof term, "terms.%s", fn->terms[t]);
            ck_assert_msg(has_named(outputs, term), "%s: no output %s", name, term);
        }
        size_t j;
        json_t *o;
        json_array_foreach(outputs, j, o)
        {
            ck_assert_str_eq(json_string_value(json_object_get(o, "datatype")), "FP64");
            ck_assert(json_is_array(json_object_get(o, "shape")));
        }
        json_array_foreach(inputs, j, o)
        {
            json_t *shape = json_object_get(o, "shape");
            ck_assert_uint_ge(json_array_size(shape), 1);
            for (size_t d = 0; d < json_array_size(shape); d++) {
                json_int_t len = json_integer_value(json_array_get(shape, d));
                ck_assert(len == -1 || len == 4);
            }
        }
        json_decref(m);
    }
    /* the box losses' boxes are (N, 4); class indices are INT64 */
    json_t *m = model_metadata(must_find(LOSSD_KIND_LOSS, "giou"));
    json_t *shape = json_object_get(json_array_get(json_object_get(m, "inputs"), 0), "shape");
    ck_assert_int_eq(json_integer_value(json_array_get(shape, 0)), -1);
    ck_assert_int_eq(json_integer_value(json_array_get(shape, 1)), 4);
    json_decref(m);
    m = model_metadata(must_find(LOSSD_KIND_LOSS, "nll"));
    json_t *target = json_array_get(json_object_get(m, "inputs"), 1);
    ck_assert_str_eq(json_string_value(json_object_get(target, "datatype")), "INT64");
    json_decref(m);
    char *server = lossd_v2_server_json();
    m = json_loads(server, 0, NULL);
    free(server);
    ck_assert_str_eq(json_string_value(json_object_get(m, "name")), "lossd");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(m, "extensions"), 0)),
                     "binary_tensor_data");
    json_decref(m);
}
END_TEST

/* ------------------------------------------------------------ values */

START_TEST(binary_in_binary_out)
{
    v2_request req = v2_fixture_request("request-7");
    wire w = serve("loss.ciou", &req);
    ck_assert_str_eq(w.content_type, "application/octet-stream");
    ck_assert_uint_gt(w.header_len, 0);
    v2_result r = parsed(&w);
    ck_assert_str_eq(json_string_value(json_object_get(r.header, "id")), "request-7");
    ck_assert_str_eq(json_string_value(json_object_get(r.header, "model_name")), "loss.ciou");
    ck_assert_str_eq(json_string_value(json_object_get(r.header, "model_version")), "1");
    /* every output, in binary, in the metadata's order */
    static const char *const order[] = {"loss",       "n",        "grad",    "terms.iou",
                                        "terms.rho2", "terms.c2", "terms.v", "terms.alpha"};
    json_t *outputs = json_object_get(r.header, "outputs");
    ck_assert_uint_eq(json_array_size(outputs), 8);
    for (size_t i = 0; i < 8; i++) {
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(outputs, i), "name")),
                         order[i]);
        ck_assert(v2_output_is_binary(&r, order[i]));
    }
    /* the same numbers as the core computes for the same boxes */
    lossd_call c;
    v2_fixture_expected(&c);
    size_t n, dims[8];
    int rank;
    double *loss = v2_output_values(&r, "loss", &n, dims, &rank);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(rank, 1);
    ck_assert(memcmp(loss, &c.loss, sizeof(double)) == 0);
    double *grad = v2_output_values(&r, "grad", &n, dims, &rank);
    ck_assert_uint_eq(n, 12);
    ck_assert_int_eq(rank, 2);
    ck_assert_uint_eq(dims[0], 3);
    ck_assert_uint_eq(dims[1], 4);
    ck_assert(memcmp(grad, c.grad, 12 * sizeof(double)) == 0);
    double *alpha = v2_output_values(&r, "terms.alpha", &n, NULL, NULL);
    ck_assert(memcmp(alpha, c.terms[4], 3 * sizeof(double)) == 0);
    double *count = v2_output_values(&r, "n", &n, NULL, NULL);
    ck_assert(count[0] == 3.0);
    free(loss), free(grad), free(alpha), free(count);
    lossd_call_cleanup(&c);
    v2_result_free(&r);
    wire_free(&w);
    v2_request_free(&req);
}
END_TEST

START_TEST(outputs_as_asked)
{
    v2_input in[] = {
        {"input", "FP64", 2, {3, 4}, v2_fixture_input, false},
        {"target", "FP64", 2, {3, 4}, v2_fixture_target, true}}; /* one JSON, one binary */
    v2_output out[] = {{"grad", true}, {"loss", false}};
    v2_request req = v2_frame(in, 2, out, 2, "{\"reduction\":\"sum\"}", NULL);
    wire w = serve("loss.giou", &req);
    v2_result r = parsed(&w);
    json_t *outputs = json_object_get(r.header, "outputs");
    ck_assert_uint_eq(json_array_size(outputs), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(outputs, 0), "name")),
                     "grad");
    ck_assert(v2_output_is_binary(&r, "grad"));
    ck_assert(!v2_output_is_binary(&r, "loss"));
    ck_assert_ptr_null(json_object_get(r.header, "id"));
    size_t n;
    double *loss = v2_output_values(&r, "loss", &n, NULL, NULL);
    ck_assert_uint_eq(n, 1);
    free(loss);
    v2_result_free(&r);
    wire_free(&w);
    v2_request_free(&req);

    /* JSON only: no binary part, no header length, application/json */
    v2_output json_only[] = {{"loss", false}};
    req = v2_frame(in, 2, json_only, 1, NULL, NULL);
    w = serve("loss.giou", &req);
    ck_assert_uint_eq(w.header_len, 0);
    ck_assert_str_eq(w.content_type, "application/json");
    ck_assert(json_is_object(w.json));
    ck_assert_uint_eq(json_array_size(json_object_get(w.json, "outputs")), 1);
    wire_free(&w);
    v2_request_free(&req);

    /* binary_data_output false: everything in JSON */
    req = v2_frame(in, 2, NULL, 0, "{\"binary_data_output\":false}", NULL);
    w = serve("loss.giou", &req);
    ck_assert_uint_eq(w.header_len, 0);
    /* loss, n, grad, terms.iou, terms.enclosing_area */
    ck_assert_uint_eq(json_array_size(json_object_get(w.json, "outputs")), 5);
    wire_free(&w);
    v2_request_free(&req);

    /* reduction none: the loss is a tensor shaped like the terms */
    v2_output loss_only[] = {{"loss", true}};
    req = v2_frame(in, 2, loss_only, 1, "{\"reduction\":\"none\",\"eps\":null}", NULL);
    w = serve("loss.giou", &req);
    r = parsed(&w);
    size_t dims[8];
    int rank;
    loss = v2_output_values(&r, "loss", &n, dims, &rank);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(rank, 1);
    free(loss);
    v2_result_free(&r);
    wire_free(&w);
    v2_request_free(&req);
}
END_TEST

START_TEST(datatypes_are_widened_exactly)
{
    /* FP32 inputs: the float values, computed in float64 */
    static const double logits[] = {0.1, 2.5, -1.25, 3.0, 0.333, -0.7};
    double as_float[6];
    for (size_t i = 0; i < 6; i++)
        as_float[i] = (float)logits[i];
    static const double classes[] = {2, 0};
    static const char *const index_types[] = {"INT64", "INT32", "FP64", "FP32"};
    double reference[2] = {0};
    for (size_t t = 0; t < 4; t++) {
        for (int json = 0; json < 2; json++) {
            v2_input in[] = {{"input", "FP32", 2, {2, 3}, logits, json},
                             {"target", index_types[t], 1, {2}, classes, json}};
            v2_output out[] = {{"loss", true}, {"grad", true}};
            v2_request req = v2_frame(in, 2, out, 2, NULL, NULL);
            wire w = serve("loss.cross_entropy", &req);
            v2_result r = parsed(&w);
            size_t n;
            double *loss = v2_output_values(&r, "loss", &n, NULL, NULL);
            if (t == 0 && json == 0) {
                /* the core on the float values */
                lossd_call c;
                lossd_error err = {0};
                size_t s2[] = {2, 3}, s1[] = {2};
                lossd_tensor a = tensor_of(as_float, 2, s2), b = tensor_of(classes, 1, s1);
                lossd_call_init(&c, must_find(LOSSD_KIND_LOSS, "cross_entropy"));
                lossd_call_set_operand(&c, "input", &a, &err);
                lossd_call_set_operand(&c, "target", &b, &err);
                ck_assert_int_eq(lossd_call_compute(&c, &err), 0);
                reference[0] = c.loss;
                lossd_call_cleanup(&c);
            }
            ck_assert_msg(memcmp(loss, &reference[0], sizeof(double)) == 0, "%s %s: %.17g != %.17g",
                          index_types[t], json ? "json" : "binary", loss[0], reference[0]);
            free(loss);
            v2_result_free(&r);
            wire_free(&w);
            v2_request_free(&req);
        }
    }
    /* class indices where v1 takes them only */
    static const double three[] = {1, 0, 2};
    v2_input bad[] = {{"input", "INT64", 1, {3}, three, false}};
    v2_request req = v2_frame(bad, 1, NULL, 0, NULL, NULL);
    wire w = serve("activation.relu", &req);
    expect_v2_error(&w, 400, "input: datatype INT64 is not accepted");
    wire_free(&w);
    v2_request_free(&req);
    w = serve_json(
        "activation.relu",
        "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP16\",\"data\":[1]}]}");
    expect_v2_error(&w, 400, "datatype FP16 is not accepted");
    wire_free(&w);
    /* JSON numbers must fit their datatype */
    w = serve_json("loss.nll",
                   "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,2],\"datatype\":\"FP64\","
                   "\"data\":[-1,-2]},{\"name\":\"target\",\"shape\":[1],\"datatype\":"
                   "\"INT64\",\"data\":[0.30824]}]}");
    expect_v2_error(&w, 400, "target[0]: 0.30824 is not an INT64"); /* as sent, not %.17g */
    wire_free(&w);
    w = serve_json(
        "activation.relu",
        "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP32\",\"data\":[1e300]}]}");
    expect_v2_error(&w, 400, "input[0]: 1e+300 is not representable as FP32");
    wire_free(&w);
}
END_TEST

START_TEST(nonfinite_results)
{
    static const double big[] = {1e200, 1}, zero[] = {0, 0};
    v2_input in[] = {{"input", "FP64", 1, {2}, big, false},
                     {"target", "FP64", 1, {2}, zero, false}};
    v2_output out[] = {{"loss", false}};
    v2_request req = v2_frame(in, 2, out, 1, "{\"reduction\":\"none\"}", NULL);
    wire w = serve("loss.mse", &req);
    v2_result r = parsed(&w);
    ck_assert_int_eq(
        json_integer_value(json_object_get(json_object_get(r.header, "parameters"), "nonfinite")),
        1);
    json_t *data = json_object_get(json_array_get(json_object_get(r.header, "outputs"), 0), "data");
    ck_assert(json_is_null(json_array_get(data, 0)));
    ck_assert(json_number_value(json_array_get(data, 1)) == 1.0);
    v2_result_free(&r);
    wire_free(&w);
    v2_request_free(&req);
    /* binary carries the infinity itself */
    out[0].binary = true;
    req = v2_frame(in, 2, out, 1, "{\"reduction\":\"none\"}", NULL);
    w = serve("loss.mse", &req);
    r = parsed(&w);
    size_t n;
    double *loss = v2_output_values(&r, "loss", &n, NULL, NULL);
    ck_assert(isinf(loss[0]) && loss[0] > 0);
    free(loss);
    v2_result_free(&r);
    wire_free(&w);
    v2_request_free(&req);
}
END_TEST

START_TEST(nested_and_flat_data)
{
    const char *flat = "{\"inputs\":[{\"name\":\"input\",\"shape\":[2,2],\"datatype\":\"FP64\","
                       "\"data\":[1,2,3,4]},{\"name\":\"target\",\"shape\":[2,2],\"datatype\":"
                       "\"FP64\",\"data\":[[0,0],[0,0]]}],\"outputs\":[{\"name\":\"loss\"}]}";
    wire w = serve_json("loss.mse", flat);
    ck_assert_int_eq(w.status, 200);
    json_t *data = json_object_get(json_array_get(json_object_get(w.json, "outputs"), 0), "data");
    ck_assert(json_number_value(json_array_get(data, 0)) == 7.5);
    wire_free(&w);
    /* data against shape */
    w = serve_json("loss.mse", "{\"inputs\":[{\"name\":\"input\",\"shape\":[2,2],\"datatype\":"
                               "\"FP64\",\"data\":[1,2,3]}]}");
    expect_v2_error(&w, 400, "input: \"data\" holds 3 numbers, but the shape (2, 2) has 4");
    wire_free(&w);
    w = serve_json("loss.mse", "{\"inputs\":[{\"name\":\"input\",\"shape\":[2,2],\"datatype\":"
                               "\"FP64\",\"data\":[[1,2],[3]]}]}");
    expect_v2_error(&w, 400,
                    "input[1]: expected 2 numbers, got 1 (\"data\" follows the shape (2, 2))");
    wire_free(&w);
    w = serve_json("loss.mse", "{\"inputs\":[{\"name\":\"input\",\"shape\":[2],\"datatype\":"
                               "\"FP64\",\"data\":[1,\"2\"]}]}");
    expect_v2_error(&w, 400, "input[1]: expected a number, got a string");
    wire_free(&w);
    w = serve_json("loss.mse", "{\"inputs\":[{\"name\":\"input\",\"shape\":[2,-1],\"datatype\":"
                               "\"FP64\",\"data\":[1,2]}]}");
    expect_v2_error(&w, 400, "dimension 1 of input is not a whole number");
    wire_free(&w);
    w = serve_json("loss.mse", "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,1,1,1,1,1,1,1,1],"
                               "\"datatype\":\"FP64\",\"data\":[1]}]}");
    expect_v2_error(&w, 422, "at most 8");
    wire_free(&w);
}
END_TEST

/* ------------------------------------------------------------ framing */

/* A correct binary request for mse over two (2) inputs, with header_len N. */
static v2_request mse_request(void)
{
    static const double x[] = {1, 2}, y[] = {0, 0};
    v2_input in[] = {{"input", "FP64", 1, {2}, x, false}, {"target", "FP64", 1, {2}, y, false}};
    return v2_frame(in, 2, NULL, 0, NULL, NULL);
}

START_TEST(framing_mismatches_are_400s)
{
    v2_request req = mse_request();
    /* the header length says more than the body holds */
    wire w = serve_at("/v2/models/loss.mse/infer", req.body, req.len, req.len + 1, 0);
    expect_v2_error(&w, 400, "Inference-Header-Content-Length is");
    wire_free(&w);
    /* binary bytes missing: the body ends early */
    w = serve_at("/v2/models/loss.mse/infer", req.body, req.len - 3, req.header_len,
                 req.header_len);
    expect_v2_error(&w, 400, "target: binary_data_size is 16 bytes, but only 13 bytes");
    wire_free(&w);
    /* bytes left over after the last binary input */
    char *longer = malloc(req.len + 8);
    memcpy(longer, req.body, req.len);
    memset(longer + req.len, 0, 8);
    w = serve_at("/v2/models/loss.mse/infer", longer, req.len + 8, req.header_len, req.header_len);
    expect_v2_error(&w, 400,
                    "40 bytes of binary data after its JSON header, but the inputs' "
                    "binary_data_size add up to 32");
    wire_free(&w);
    free(longer);
    /* no header length: the binary bytes make the body invalid JSON */
    w = serve_at("/v2/models/loss.mse/infer", req.body, req.len, LOSSD_NO_HEADER_LEN, 0);
    ck_assert_int_eq(w.status, 400);
    wire_free(&w);
    /* a header length that cuts the JSON */
    w = serve_at("/v2/models/loss.mse/infer", req.body, req.len, req.header_len - 1, 0);
    ck_assert_int_eq(w.status, 400);
    wire_free(&w);
    v2_request_free(&req);

    /* binary_data_size against shape and datatype */
    const char *header = "{\"inputs\":[{\"name\":\"input\",\"shape\":[2],\"datatype\":\"FP64\","
                         "\"parameters\":{\"binary_data_size\":12}}]}";
    char body[256];
    size_t hl = strlen(header);
    memcpy(body, header, hl);
    memset(body + hl, 0, 12);
    w = serve_at("/v2/models/activation.relu/infer", body, hl + 12, hl, hl);
    expect_v2_error(&w, 400, "input: binary_data_size is 12 bytes, but 2 numbers of FP64 take 16");
    wire_free(&w);
    /* binary_data_size without Inference-Header-Content-Length */
    w = serve_json("activation.relu", header);
    expect_v2_error(&w, 400, "no Inference-Header-Content-Length");
    wire_free(&w);
    /* both data and binary, and neither */
    w = serve_json("activation.relu",
                   "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP64\","
                   "\"data\":[1],\"parameters\":{\"binary_data_size\":8}}]}");
    expect_v2_error(&w, 400, "has both \"data\" and a binary_data_size");
    wire_free(&w);
    w = serve_json("activation.relu",
                   "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP64\"}]}");
    expect_v2_error(&w, 400, "input: inputs[0] has no data");
    wire_free(&w);
    w = serve_json("activation.relu", "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],"
                                      "\"datatype\":\"FP64\",\"parameters\":{"
                                      "\"binary_data_size\":-8}}]}");
    expect_v2_error(&w, 400, "binary_data_size: expected a whole number of bytes");
    wire_free(&w);
}
END_TEST

/*
 * A repeated binary header is read from the thread's cache of parsed
 * headers: the numbers still come from each request's own bytes, the
 * framing is still checked against each body, and the same header bytes
 * sent to another model are that model's request.
 */
START_TEST(repeated_headers_are_read_afresh)
{
    static const double x1[] = {1, 2}, x2[] = {-3, 0.5}, y[] = {0, 0};
    for (int round = 0; round < 3; round++) {
        const double *x = round % 2 ? x2 : x1;
        v2_input in[] = {{"input", "FP64", 1, {2}, x, false}, {"target", "FP64", 1, {2}, y, false}};
        v2_request req = v2_frame(in, 2, NULL, 0, NULL, NULL);
        wire w = serve("loss.mse", &req);
        v2_result r = parsed(&w);
        size_t n;
        double *loss = v2_output_values(&r, "loss", &n, NULL, NULL);
        ck_assert_uint_eq(n, 1);
        ck_assert_double_eq(loss[0], (x[0] * x[0] + x[1] * x[1]) / 2);
        free(loss);
        v2_result_free(&r);
        wire_free(&w);
        /* the same header, its body short by a byte: still a 400 */
        w = serve_at("/v2/models/loss.mse/infer", req.body, req.len - 1, req.header_len,
                     req.header_len);
        expect_v2_error(&w, 400, "target: binary_data_size is 16 bytes, but only 15 bytes");
        wire_free(&w);
        /* the same header to l1: l1's loss */
        w = serve("loss.l1", &req);
        r = parsed(&w);
        loss = v2_output_values(&r, "loss", &n, NULL, NULL);
        ck_assert_double_eq(loss[0], (fabs(x[0]) + fabs(x[1])) / 2);
        free(loss);
        v2_result_free(&r);
        wire_free(&w);
        v2_request_free(&req);
    }
}
END_TEST

START_TEST(contract_violations_are_422s)
{
    static const struct {
        const char *model, *body, *status_and_needle;
    } cases[] = {
        {"activation.relu",
         "{\"inputs\":[{\"name\":\"x\",\"shape\":[1],\"datatype\":\"FP64\",\"data\":[1]}]}",
         "422 inputs[0].name: activation.relu has no input \"x\"; its inputs are: input, "
         "grad_output"},
        {"activation.relu",
         "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP64\",\"data\":[1]},"
         "{\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP64\",\"data\":[1]}]}",
         "422 inputs[1].name: the input \"input\" is given twice"},
        {"activation.relu", "{\"inputs\":[],\"parameters\":{\"beta\":1}}",
         "422 parameters.beta: unknown parameter; activation.relu takes none"},
        {"loss.mse", "{\"inputs\":[],\"parameters\":{\"grad\":true}}",
         "422 parameters.grad: unknown parameter; ask for the outputs you want in"},
        {"loss.smooth_l1", "{\"inputs\":[],\"parameters\":{\"bata\":1}}",
         "422 parameters.bata: unknown parameter; loss.smooth_l1 takes: reduction, beta"},
        {"loss.smooth_l1", "{\"inputs\":[],\"parameters\":{\"beta\":-1}}", "422 beta: "},
        {"loss.smooth_l1", "{\"inputs\":[],\"parameters\":{\"beta\":\"1\"}}",
         "422 beta: expected a number"},
        {"loss.bce", "{\"inputs\":[],\"parameters\":{\"weight\":[1]}}",
         "422 parameters.weight: weight is a tensor: send it as an input"},
        {"loss.mse", "{\"inputs\":[],\"outputs\":[{\"name\":\"output\"}]}",
         "422 outputs[0].name: loss.mse has no output \"output\"; its outputs are: loss, n, grad"},
        {"loss.mse", "{\"inputs\":[],\"outputs\":[{\"name\":\"loss\"},{\"name\":\"loss\"}]}",
         "422 outputs[1].name: \"loss\" is asked for twice"},
        {"loss.mse",
         "{\"inputs\":[],\"outputs\":[{\"name\":\"loss\",\"parameters\":{\"binary\":true}}]}",
         "422 outputs[0].parameters.binary: unknown parameter"},
        {"loss.mse", "{\"inputs\":[],\"outputs\":[{\"name\":\"loss\",\"shape\":[1]}]}",
         "422 outputs[0].shape: unknown field"},
        {"loss.mse", "{\"inputs\":[],\"id\":7}", "422 id: expected a string"},
        {"loss.mse", "{\"inputs\":[],\"model_name\":\"loss.l1\"}",
         "422 model_name: does not match"},
        {"loss.mse", "{\"inputs\":[],\"inputz\":[]}", "422 inputz: unknown field"},
        {"loss.mse", "{\"outputs\":[]}", "422 inputs: required"},
        {"loss.mse", "{\"inputs\":{}}", "422 inputs: expected an array"},
        {"loss.mse",
         "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP64\",\"data\":[1],"
         "\"dims\":[1]}]}",
         "422 inputs[0].dims: unknown field"},
        {"loss.mse",
         "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":\"FP64\",\"data\":[1]}]}",
         "422 target: required"},
        {"loss.mse",
         "{\"inputs\":[{\"name\":\"input\",\"shape\":[2],\"datatype\":\"FP64\",\"data\":[1,2]},"
         "{\"name\":\"target\",\"shape\":[3],\"datatype\":\"FP64\",\"data\":[1,2,3]}]}",
         "422 target: "},
        {"loss.giou",
         "{\"inputs\":[{\"name\":\"input\",\"shape\":[1,4],\"datatype\":\"FP64\",\"data\":[2,0,1,1]"
         "},"
         "{\"name\":\"target\",\"shape\":[1,4],\"datatype\":\"FP64\",\"data\":[0,0,1,1]}]}",
         "422 input[0]: invalid box"},
        {"loss.mse", "[1]", "400 "},
        {"loss.mse", "{\"inputs\":", "400 "},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wire w = serve_json(cases[i].model, cases[i].body);
        expect_v2_error(&w, atoi(cases[i].status_and_needle), cases[i].status_and_needle + 4);
        wire_free(&w);
    }
}
END_TEST

START_TEST(limits_hold_for_binary_requests)
{
    /* 100,001 numbers against --max-elements 100,000 */
    size_t n = 100001;
    double *values = calloc(n, sizeof *values);
    v2_input in[] = {{"input", "FP64", 1, {n}, values, false}};
    v2_request req = v2_frame(in, 1, NULL, 0, NULL, NULL);
    wire w = serve("activation.relu", &req);
    expect_v2_error(&w, 413, "more than 100000 numbers (--max-elements)");
    wire_free(&w);
    v2_request_free(&req);
    /* a shape whose element count overflows */
    w = serve_json("activation.relu",
                   "{\"inputs\":[{\"name\":\"input\",\"shape\":[4294967296,4294967296,16],"
                   "\"datatype\":\"FP64\",\"parameters\":{\"binary_data_size\":0}}]}");
    expect_v2_error(&w, 413, "--max-elements");
    wire_free(&w);
    free(values);
}
END_TEST

START_TEST(alignment_does_not_change_the_numbers)
{
    /* The server aligns the binary part; a body aligned anywhere else is read through a copy. */
    v2_input in[] = {{"input", "FP64", 2, {3, 4}, v2_fixture_input, false},
                     {"target", "FP64", 2, {3, 4}, v2_fixture_target, false}};
    v2_output out[] = {{"grad", true}};
    v2_request req = v2_frame(in, 2, out, 1, NULL, NULL);
    char *first = NULL;
    size_t first_len = 0;
    for (size_t shift = 0; shift < 9; shift++) {
        wire w = serve_at("/v2/models/loss.diou/infer", req.body, req.len, req.header_len,
                          req.header_len + shift);
        ck_assert_int_eq(w.status, 200);
        if (first == NULL) {
            first = w.bytes;
            first_len = w.len;
            w.bytes = NULL;
        } else {
            ck_assert_uint_eq(w.len, first_len);
            ck_assert(memcmp(w.bytes, first, first_len) == 0);
        }
        wire_free(&w);
    }
    free(first);
    v2_request_free(&req);
}
END_TEST

START_TEST(empty_batches_and_scalars)
{
    v2_input in[] = {{"input", "FP64", 2, {0, 4}, NULL, false},
                     {"target", "FP64", 2, {0, 4}, NULL, false}};
    v2_request req = v2_frame(in, 2, NULL, 0, NULL, NULL);
    wire w = serve("loss.giou", &req);
    v2_result r = parsed(&w);
    size_t n;
    double *loss = v2_output_values(&r, "loss", &n, NULL, NULL),
           *count = v2_output_values(&r, "n", &n, NULL, NULL);
    ck_assert(loss[0] == 0.0 && count[0] == 0.0);
    free(loss), free(count);
    v2_result_free(&r);
    wire_free(&w);
    v2_request_free(&req);
    static const double x = -2;
    v2_input scalar[] = {{"input", "FP64", 0, {0}, &x, false}};
    req = v2_frame(scalar, 1, NULL, 0, NULL, NULL);
    w = serve("activation.relu", &req);
    r = parsed(&w);
    int rank;
    double *y = v2_output_values(&r, "output", &n, NULL, &rank);
    ck_assert_int_eq(rank, 0);
    ck_assert(y[0] == 0.0);
    double *zero = v2_output_values(&r, "stats.zero_grad_fraction", &n, NULL, NULL);
    ck_assert(zero[0] == 1.0);
    free(y), free(zero);
    v2_result_free(&r);
    wire_free(&w);
    v2_request_free(&req);
}
END_TEST

START_TEST(ids_are_echoed_as_sent)
{
    wire w = serve_json("activation.relu",
                        "{\"id\":\"q\\\"\\u00e9\\n1\",\"inputs\":[{\"name\":"
                        "\"input\",\"shape\":[1],\"datatype\":\"FP64\",\"data\":[1]}]}");
    ck_assert_int_eq(w.status, 200);
    ck_assert_str_eq(json_string_value(json_object_get(w.json, "id")), "q\"\xc3\xa9\n1");
    wire_free(&w);
}
END_TEST

/* ------------------------------------------------------------ golden vectors */

/* Whether operand k of gc holds class indices (sent as INT64 then). */
static bool class_index_operand(const lossd_function *fn, const golden_case *gc, size_t k)
{
    const lossd_rule *rule = lossd_rule_get(fn->operands[k].rule);
    if (!rule->integers)
        return false;
    /* read as probabilities when shaped like the first operand */
    return !rule->or_like_first || gc->operands[k].t.rank != gc->operands[0].t.rank;
}

static v2_input input_of(const golden_tensor *t, const char *datatype, bool json)
{
    v2_input in = {t->name, datatype, t->t.rank, {0}, t->data, json};
    memcpy(in.shape, t->t.shape, sizeof(size_t) * (size_t)t->t.rank);
    return in;
}

/*
 * Compares a /v2 output with the core's numbers - bit for bit, but for the
 * non-finite values JSON writes as null - and with the golden ones.
 */
static void expect_output(const golden_case *gc, const v2_result *r, const char *name,
                          const double *core, size_t core_n, const lossd_tensor *golden,
                          double rtol, double atol)
{
    size_t n;
    double *got = v2_output_values(r, name, &n, NULL, NULL);
    ck_assert_msg(got != NULL, "%s: no output %s", gc->label, name);
    ck_assert_msg(n == core_n, "%s: %s has %zu values, the core %zu", gc->label, name, n, core_n);
    for (size_t i = 0; i < n; i++) {
        /* JSON writes every non-finite value as null, read back here as NaN */
        bool json_null = !v2_output_is_binary(r, name) && isnan(got[i]) && !isfinite(core[i]);
        ck_assert_msg(json_null || same_bits(got[i], core[i]),
                      "%s: %s[%zu]: /v2 %.17g, the core %.17g", gc->label, name, i, got[i],
                      core[i]);
        if (golden && !json_null)
            ck_assert_msg(close_enough(got[i], golden->data[i], rtol, atol),
                          "%s: %s[%zu]: %.17g, golden %.17g", gc->label, name, i, got[i],
                          golden->data[i]);
    }
    free(got);
}

/*
 * One golden case over /v2: its operands, tensor parameters and grad_output
 * as inputs - binary in and out for even-numbered cases, JSON for odd ones,
 * class indices as INT64 - its scalar parameters in "parameters", and its
 * expectations as the outputs asked for.
 */
static void golden_over_v2(const golden_case *gc, const lossd_function *fn, void *arg)
{
    /* a non-finite scalar parameter has no JSON spelling: no /v2 request carries one */
    for (size_t i = 0; i < gc->n_params; i++)
        if (strcmp(gc->params[i].type, "number") == 0 && !isfinite(gc->params[i].number))
            return;
    size_t *count = arg;
    /* error cases go binary: their bad numbers (NaN) have no JSON spelling either */
    bool json = !gc->has_error && (*count)++ % 2;
    v2_input inputs[8];
    size_t n_inputs = 0;
    for (size_t k = 0; k < gc->n_operands; k++)
        inputs[n_inputs++] =
            /* an error case's bad class index may not be whole: it goes as it is */
            input_of(&gc->operands[k],
                     class_index_operand(fn, gc, k) && !gc->has_error ? "INT64" : "FP64", json);
    golden_tensor tensor_params[GOLDEN_MAX_PARAMS]; /* named: the directive keeps the name apart */
    json_t *params = json_object();
    if (gc->reduction[0])
        json_object_set_new(params, "reduction", json_string(gc->reduction));
    for (size_t i = 0; i < gc->n_params; i++) {
        const char *type = gc->params[i].type, *name = gc->params[i].name;
        if (strcmp(type, "tensor") == 0) {
            tensor_params[i] = gc->params[i].tensor;
            snprintf(tensor_params[i].name, sizeof tensor_params[i].name, "%s", name);
            inputs[n_inputs++] = input_of(&tensor_params[i], "FP64", json);
        } else if (strcmp(type, "number") == 0)
            json_object_set_new(params, name, json_real(gc->params[i].number));
        else if (strcmp(type, "bool") == 0)
            json_object_set_new(params, name,
                                json_boolean(strcmp(gc->params[i].text, "true") == 0));
        else
            json_object_set_new(params, name, json_string(gc->params[i].text));
    }
    golden_tensor upstream = gc->grad_output; /* named, as above */
    snprintf(upstream.name, sizeof upstream.name, "grad_output");
    if (gc->has_grad_output)
        inputs[n_inputs++] = input_of(&upstream, "FP64", json);
    static const char *const main_names[] = {"loss", "output", "value", "matrix"};
    v2_output outputs[5 + LOSSD_MAX_TERMS];
    char term_names[LOSSD_MAX_TERMS][64], grad_second[64];
    size_t n_outputs = 0;
    outputs[n_outputs++] = (v2_output){main_names[fn->kind], !json};
    if (gc->has_grad)
        outputs[n_outputs++] = (v2_output){"grad", !json};
    snprintf(grad_second, sizeof grad_second, "grad_%s", fn->operands[1].name);
    if (gc->has_grad_second)
        outputs[n_outputs++] = (v2_output){grad_second, !json};
    if (gc->has_zero)
        outputs[n_outputs++] = (v2_output){"stats.zero_grad_fraction", !json};
    for (size_t k = 0; k < gc->n_terms; k++) {
        snprintf(term_names[k], sizeof term_names[k], "terms.%s", gc->terms_expect[k].name);
        outputs[n_outputs++] = (v2_output){term_names[k], !json};
    }
    char *param_text = json_dumps(params, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(params);
    v2_request req = v2_frame(inputs, n_inputs, outputs, n_outputs, param_text, gc->label);
    free(param_text);
    char model[96];
    snprintf(model, sizeof model, "%s.%s", lossd_kind_name(fn->kind), fn->name);
    wire w = serve(model, &req);
    if (gc->has_error) { /* a contract case: the 422 names the same field as on /v1 */
        expect_v2_error(&w, 422, gc->error_field);
        wire_free(&w);
        v2_request_free(&req);
        return;
    }
    ck_assert_msg(w.status == 200, "%s: %d %s", gc->label, w.status, w.bytes);
    v2_result r = parsed(&w);
    ck_assert_str_eq(json_string_value(json_object_get(r.header, "id")), gc->label);

    /* the core, on the same case */
    lossd_call c;
    lossd_error err = {0};
    golden_bind(gc, fn, &c);
    ck_assert_msg(lossd_call_compute(&c, &err) == 0, "%s: %s", gc->label, err.message);
    /* the loosest tolerance any golden file promises (LOSSES-NEXT.md: 1e-10, 1e-8) */
    const double value_rtol = 1e-10, grad_rtol = 1e-8;
    bool reduced = fn->kind == LOSSD_KIND_LOSS && c.reduction != LOSSD_REDUCTION_NONE;
    if (reduced) {
        lossd_tensor want = tensor_of(&gc->loss, 0, NULL);
        expect_output(gc, &r, "loss", &c.loss, 1, gc->has_loss ? &want : NULL, value_rtol, 0);
    } else {
        expect_output(gc, &r, main_names[fn->kind], c.output.data, c.output.size,
                      gc->has_output ? &gc->output.t : NULL, value_rtol, 0);
    }
    if (gc->has_grad)
        expect_output(gc, &r, "grad", c.grad, c.operand[0].size, &gc->grad_expect.t, grad_rtol,
                      GRAD_ATOL);
    if (gc->has_grad_second)
        expect_output(gc, &r, grad_second, c.grad_second, c.operand[1].size,
                      &gc->grad_second_expect.t, grad_rtol, GRAD_ATOL);
    if (gc->has_zero) {
        lossd_tensor want = tensor_of(&gc->zero_grad_fraction, 0, NULL);
        expect_output(gc, &r, "stats.zero_grad_fraction", &c.zero_grad_fraction, 1, &want,
                      value_rtol, 0);
    }
    for (size_t k = 0; k < gc->n_terms; k++) {
        const double *core = NULL;
        for (size_t j = 0; lossd_call_term_name(&c, j); j++)
            if (strcmp(lossd_call_term_name(&c, j), gc->terms_expect[k].name) == 0)
                core = c.terms[j];
        ck_assert_ptr_nonnull(core);
        expect_output(gc, &r, term_names[k], core, c.output.size, &gc->terms_expect[k].t,
                      value_rtol, 0);
    }
    lossd_call_cleanup(&c);
    v2_result_free(&r);
    wire_free(&w);
    v2_request_free(&req);
}

START_TEST(golden_cases_over_v2)
{
    /* every model family, every golden case, JSON and binary both ways */
    size_t total = 0;
    for (size_t i = 0; i < lossd_function_count(); i++) {
        const lossd_function *fn = lossd_function_at(i);
        size_t before = total;
        golden_foreach_case(fn, golden_over_v2, &total);
        ck_assert_msg(total > before, "%s/%s: no golden case went over /v2",
                      lossd_kind_name(fn->kind), fn->name);
    }
    ck_assert_uint_gt(total, 500);
}
END_TEST

/* An integer datatype declares class indices: where the shapes say probabilities, a 400. */
START_TEST(integer_targets_are_class_indices)
{
    static const char *const shapes[][3] = {
        /* input shape, input data, target shape and data */
        {"[2]", "[0.5, 1]", "\"shape\":[2],\"data\":[1, 0]"},
        {"[2,3]", "[0.5, 1, 2, 3, 4, 5]", "\"shape\":[2,3],\"data\":[1, 0, 0, 0, 1, 0]"},
    };
    static const char *const types[] = {"INT64", "INT32", "FP64", "FP32"};
    for (size_t i = 0; i < 2; i++)
        for (size_t t = 0; t < 4; t++) {
            char body[512];
            snprintf(body, sizeof body,
                     "{\"inputs\":[{\"name\":\"input\",\"shape\":%s,\"datatype\":\"FP64\","
                     "\"data\":%s},{\"name\":\"target\",\"datatype\":\"%s\",%s}]}",
                     shapes[i][0], shapes[i][1], types[t], shapes[i][2]);
            wire w = serve_json("loss.cross_entropy", body);
            if (t < 2) { /* integers where the shape says probabilities */
                expect_v2_error(&w, 400, "target: an integer datatype says class indices");
                expect_v2_error(&w, 400, i ? "have shape (2)" : "have shape ()");
            } else { /* the same numbers as floats are probabilities, and score */
                ck_assert_msg(w.status == 200, "%s: %d %s", body, w.status, w.bytes);
            }
            wire_free(&w);
        }
    /* class indices of the right shape, as INT64, are what they say */
    wire w = serve_json("loss.cross_entropy",
                        "{\"inputs\":[{\"name\":\"input\",\"shape\":[2,3],\"datatype\":\"FP64\","
                        "\"data\":[0.5,1,2,3,4,5]},{\"name\":\"target\",\"shape\":[2],"
                        "\"datatype\":\"INT64\",\"data\":[1,0]}]}");
    ck_assert_msg(w.status == 200, "%d %s", w.status, w.bytes);
    wire_free(&w);
}
END_TEST

/* A binary body whose header length is missing or wrong is told so, in the protocol's terms. */
START_TEST(framing_errors_name_the_header)
{
    v2_request req = v2_fixture_request(NULL);
    char path[] = "/v2/models/loss.ciou/infer", want[256];
    /* no Inference-Header-Content-Length: the JSON header is followed by the tensors */
    wire w = serve_at(path, req.body, req.len, LOSSD_NO_HEADER_LEN, 0);
    snprintf(want, sizeof want,
             "the body is a JSON header of %zu bytes followed by %zu more bytes, but the request "
             "has no Inference-Header-Content-Length",
             req.header_len, req.len - req.header_len);
    expect_v2_error(&w, 400, want);
    wire_free(&w);
    /* one byte short: the length ends inside the JSON */
    w = serve_at(path, req.body, req.len, req.header_len - 1, req.header_len - 1);
    snprintf(want, sizeof want,
             "Inference-Header-Content-Length is %zu, but the JSON header is %zu bytes: the "
             "length ends inside the JSON, at byte %zu",
             req.header_len - 1, req.header_len, req.header_len - 1);
    expect_v2_error(&w, 400, want);
    wire_free(&w);
    /* one byte long: it ends after it, inside the tensors */
    w = serve_at(path, req.body, req.len, req.header_len + 1, req.header_len + 1);
    expect_v2_error(&w, 400, "the length ends after the JSON");
    wire_free(&w);
    /* broken JSON is still the parser's error, not a framing one */
    w = serve_json("loss.ciou", "{\"inputs\": [1,}");
    expect_v2_error(&w, 400, "line 1, column");
    wire_free(&w);
    v2_request_free(&req);
}
END_TEST

/* parameters.nonfinite "strings": JSON data reads and writes NaN and infinities as strings. */
START_TEST(nonfinite_strings_in_json_data)
{
    wire w = serve_json(
        "loss.mse", "{\"parameters\":{\"nonfinite\":\"strings\",\"reduction\":\"none\"},"
                    "\"inputs\":[{\"name\":\"input\",\"shape\":[3],\"datatype\":\"FP64\","
                    "\"data\":[\"Infinity\",1,\"-Infinity\"]},{\"name\":\"target\",\"shape\":[3],"
                    "\"datatype\":\"FP32\",\"data\":[1,\"NaN\",\"-Infinity\"]}],"
                    "\"outputs\":[{\"name\":\"loss\"}]}");
    ck_assert_msg(w.status == 200, "%d %s", w.status, w.bytes);
    ck_assert_ptr_nonnull(strstr(w.bytes, "\"data\":[\"Infinity\",\"NaN\",\"NaN\"]"));
    ck_assert_ptr_nonnull(strstr(w.bytes, "\"parameters\":{\"nonfinite\":3}"));
    wire_free(&w);
    /* without it, strings are not numbers; integers cannot be NaN; the option has two values */
    w = serve_json("loss.mse", "{\"inputs\":[{\"name\":\"input\",\"shape\":[1],\"datatype\":"
                               "\"FP64\",\"data\":[\"NaN\"]},{\"name\":\"target\",\"shape\":[1],"
                               "\"datatype\":\"FP64\",\"data\":[1]}]}");
    expect_v2_error(&w, 400, "input[0]: expected a number, got a string (for NaN and infinities");
    wire_free(&w);
    w = serve_json("loss.nll",
                   "{\"parameters\":{\"nonfinite\":\"strings\"},\"inputs\":[{\"name\":\"input\","
                   "\"shape\":[1,2],\"datatype\":\"FP64\",\"data\":[-1,-2]},{\"name\":\"target\","
                   "\"shape\":[1],\"datatype\":\"INT64\",\"data\":[\"NaN\"]}]}");
    expect_v2_error(&w, 400, "target[0]: NaN is not an INT64");
    wire_free(&w);
    w = serve_json("loss.mse", "{\"parameters\":{\"nonfinite\":\"text\"},\"inputs\":[]}");
    expect_v2_error(&w, 422, "parameters.nonfinite: expected \"null\"");
    wire_free(&w);
}
END_TEST

START_TEST(header_length_values)
{
    size_t n = 0;
    static const char *const good[] = {"95", " 95", "95 ", "\t95\t ", "0"};
    static const size_t want[] = {95, 95, 95, 95, 0};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        ck_assert_msg(lossd_v2_header_len(good[i], &n) == 0, "\"%s\"", good[i]);
        ck_assert_uint_eq(n, want[i]);
    }
    static const char *const bad[] = {"", " ", "9 5", "+9", "-1", "9x", "0x10"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(lossd_v2_header_len(bad[i], &n) < 0, "\"%s\"", bad[i]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("v2");
    add_case(s, "metadata", 0, NULL, NULL, TESTS(metadata_follows_the_registry));
    add_case(s, "golden", 120, NULL, NULL, TESTS(golden_cases_over_v2));
    add_case(s, "values", 30, NULL, NULL,
             TESTS(binary_in_binary_out, outputs_as_asked, datatypes_are_widened_exactly,
                   nonfinite_results, nested_and_flat_data, alignment_does_not_change_the_numbers,
                   empty_batches_and_scalars, ids_are_echoed_as_sent));
    add_case(s, "errors", 0, NULL, NULL,
             TESTS(framing_mismatches_are_400s, repeated_headers_are_read_afresh,
                   contract_violations_are_422s, limits_hold_for_binary_requests,
                   integer_targets_are_class_indices, framing_errors_name_the_header,
                   header_length_values, nonfinite_strings_in_json_data));
    return run_service_suite(s);
}
