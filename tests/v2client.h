/* SPDX-License-Identifier: MIT */
/*
 * v2client.h - an Open Inference Protocol client for the tests, framing
 * requests byte for byte as tritonclient.http does
 * (tritonclient/http/_utils.py, _get_inference_request): the JSON header
 * first, then the raw little-endian tensors of the binary inputs in input
 * order; "binary_data_output": true in the request's parameters when no
 * outputs are named; the header's length for Inference-Header-Content-Length;
 * no Content-Type. And the reply's reader, as InferResult does: the JSON
 * header, then each binary output's bytes in order.
 *
 * Test code: single-threaded, everything it returns belongs to the caller.
 */
#ifndef LOSSD_TESTS_V2CLIENT_H
#define LOSSD_TESTS_V2CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include <lossd/lossd.h>

/* One input tensor. `values` are converted to `datatype` (FP64, FP32, INT64, INT32). */
typedef struct {
    const char *name;
    const char *datatype;
    int rank;
    size_t shape[8];
    const double *values;
    bool json; /* send as JSON "data" instead of binary (tritonclient's binary_data=False) */
} v2_input;

/* One requested output. */
typedef struct {
    const char *name;
    bool binary;
} v2_output;

typedef struct {
    char *body; /* header + binary tensors */
    size_t len;
    size_t header_len; /* 0 when no input is binary: no Inference-Header-Content-Length */
} v2_request;

/*
 * Frames a request. outputs NULL: every output, in binary (as tritonclient
 * does when none are named). `parameters` is a JSON object text merged
 * into the request's parameters (NULL: none); `id` may be NULL.
 */
v2_request v2_frame(const v2_input *inputs, size_t n_inputs, const v2_output *outputs,
                    size_t n_outputs, const char *parameters, const char *id);
void v2_request_free(v2_request *r);

/* A parsed reply. */
typedef struct {
    json_t *header;     /* the JSON header (or whole body) */
    const char *binary; /* the bytes after the header */
    size_t binary_len;
} v2_result;

/*
 * Parses a reply body; header_len is the reply's
 * Inference-Header-Content-Length (0 when absent). Fails the test when the
 * reply is malformed: a header that is not JSON, binary sizes that do not
 * add up to the bytes present.
 */
v2_result v2_parse(const char *body, size_t len, size_t header_len);
void v2_result_free(v2_result *r);

/*
 * The values of output `name` (binary or JSON data; JSON null read as
 * NaN) in a new array, its element count in *count and its shape in
 * shape/rank (when not NULL). NULL when the reply has no such output.
 */
double *v2_output_values(const v2_result *r, const char *name, size_t *count, size_t *shape,
                         int *rank);

/* Whether the output `name` came as binary data. */
bool v2_output_is_binary(const v2_result *r, const char *name);

/*
 * The fixture both /v2 suites send: three box pairs for loss.ciou as
 * binary FP64 tensors, and the core's own answer for them.
 */
extern const double v2_fixture_input[12], v2_fixture_target[12];

/* The fixture as a binary request with that id (NULL: none); v2_request_free() it. */
v2_request v2_fixture_request(const char *id);

/*
 * Computes loss.ciou of the fixture in-process, with its gradient and
 * terms, into c (checked: it must compute); lossd_call_cleanup() it.
 */
void v2_fixture_expected(lossd_call *c);

#endif /* LOSSD_TESTS_V2CLIENT_H */
