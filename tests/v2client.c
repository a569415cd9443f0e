/* SPDX-License-Identifier: MIT */
/*
 * v2client.c - the tests' Open Inference Protocol client (see v2client.h).
 */
#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "v2client.h"

static size_t element_size(const char *datatype)
{
    if (strcmp(datatype, "FP64") == 0 || strcmp(datatype, "INT64") == 0)
        return 8;
    if (strcmp(datatype, "FP32") == 0 || strcmp(datatype, "INT32") == 0)
        return 4;
    ck_abort_msg("v2client: datatype %s", datatype);
    return 0;
}

static size_t element_count(const v2_input *in)
{
    size_t n = 1;
    for (int d = 0; d < in->rank; d++)
        n *= in->shape[d];
    return n;
}

/* Writes value i of `in` as its datatype, little-endian, at p. */
static void put_element(const v2_input *in, size_t i, unsigned char *p)
{
    unsigned char raw[8];
    size_t size = element_size(in->datatype);
    if (strcmp(in->datatype, "FP64") == 0) {
        memcpy(raw, &in->values[i], 8);
    } else if (strcmp(in->datatype, "FP32") == 0) {
        float f = (float)in->values[i];
        memcpy(raw, &f, 4);
    } else if (strcmp(in->datatype, "INT64") == 0) {
        int64_t v = (int64_t)in->values[i];
        memcpy(raw, &v, 8);
    } else {
        int32_t v = (int32_t)in->values[i];
        memcpy(raw, &v, 4);
    }
    for (size_t b = 0; b < size; b++)
        p[b] = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? raw[b] : raw[size - 1 - b];
}

static json_t *json_value(const v2_input *in, size_t i)
{
    if (strcmp(in->datatype, "INT64") == 0 || strcmp(in->datatype, "INT32") == 0)
        return json_integer((json_int_t)in->values[i]);
    if (strcmp(in->datatype, "FP32") == 0)
        return json_real((float)in->values[i]);
    return json_real(in->values[i]);
}

v2_request v2_frame(const v2_input *inputs, size_t n_inputs, const v2_output *outputs,
                    size_t n_outputs, const char *parameters, const char *id)
{
    json_t *req = json_object(), *ins = json_array(), *params = json_object();
    size_t binary_bytes = 0;
    bool any_binary = false; /* even an empty one: tritonclient then sends the header length */
    if (id)
        json_object_set_new(req, "id", json_string(id));
    for (size_t i = 0; i < n_inputs; i++) {
        const v2_input *in = &inputs[i];
        json_t *shape = json_array();
        for (int d = 0; d < in->rank; d++)
            json_array_append_new(shape, json_integer((json_int_t)in->shape[d]));
        json_t *t = json_pack("{s:s, s:o, s:s}", "name", in->name, "shape", shape, "datatype",
                              in->datatype);
        size_t n = element_count(in);
        if (in->json) {
            json_t *data = json_array();
            for (size_t k = 0; k < n; k++)
                json_array_append_new(data, json_value(in, k));
            json_object_set_new(t, "data", data);
        } else {
            size_t bytes = n * element_size(in->datatype);
            json_object_set_new(t, "parameters",
                                json_pack("{s:I}", "binary_data_size", (json_int_t)bytes));
            binary_bytes += bytes;
            any_binary = true;
        }
        json_array_append_new(ins, t);
    }
    json_object_set_new(req, "inputs", ins);
    if (outputs) {
        json_t *outs = json_array();
        for (size_t i = 0; i < n_outputs; i++) {
            json_t *o = json_pack("{s:s}", "name", outputs[i].name);
            if (outputs[i].binary)
                json_object_set_new(o, "parameters", json_pack("{s:b}", "binary_data", 1));
            json_array_append_new(outs, o);
        }
        json_object_set_new(req, "outputs", outs);
    } else {
        json_object_set_new(params, "binary_data_output", json_true());
    }
    if (parameters) {
        json_error_t err;
        json_t *extra = json_loads(parameters, 0, &err);
        ck_assert_msg(json_is_object(extra), "v2client: parameters: %s", err.text);
        json_object_update(params, extra);
        json_decref(extra);
    }
    if (json_object_size(params))
        json_object_set(req, "parameters", params);
    json_decref(params);
    char *header = json_dumps(req, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(req);
    ck_assert_ptr_nonnull(header);
    size_t header_len = strlen(header);
    v2_request r = {malloc(header_len + binary_bytes + 1), header_len + binary_bytes,
                    any_binary ? header_len : 0};
    ck_assert_ptr_nonnull(r.body);
    memcpy(r.body, header, header_len);
    free(header);
    unsigned char *p = (unsigned char *)r.body + header_len;
    for (size_t i = 0; i < n_inputs; i++) {
        if (inputs[i].json)
            continue;
        size_t n = element_count(&inputs[i]), size = element_size(inputs[i].datatype);
        for (size_t k = 0; k < n; k++, p += size)
            put_element(&inputs[i], k, p);
    }
    return r;
}

void v2_request_free(v2_request *r)
{
    free(r->body);
    memset(r, 0, sizeof *r);
}

v2_result v2_parse(const char *body, size_t len, size_t header_len)
{
    v2_result r = {0};
    size_t json_len = header_len ? header_len : len;
    ck_assert_msg(json_len <= len, "v2client: header length %zu past the body's %zu", json_len,
                  len);
    json_error_t err;
    r.header = json_loadb(body, json_len, 0, &err);
    ck_assert_msg(r.header != NULL, "v2client: the reply's header is not JSON: %s", err.text);
    r.binary = body + json_len;
    r.binary_len = len - json_len;
    size_t sum = 0, i;
    json_t *o;
    json_array_foreach(json_object_get(r.header, "outputs"), i, o)
    {
        json_t *size = json_object_get(json_object_get(o, "parameters"), "binary_data_size");
        if (size)
            sum += (size_t)json_integer_value(size);
    }
    ck_assert_msg(sum == r.binary_len, "v2client: binary outputs of %zu bytes, %zu present", sum,
                  r.binary_len);
    return r;
}

void v2_result_free(v2_result *r)
{
    json_decref(r->header);
    memset(r, 0, sizeof *r);
}

/* The output called name and the offset of its binary data. */
static json_t *find_output(const v2_result *r, const char *name, size_t *offset)
{
    size_t i;
    json_t *o;
    *offset = 0;
    json_array_foreach(json_object_get(r->header, "outputs"), i, o)
    {
        json_t *size = json_object_get(json_object_get(o, "parameters"), "binary_data_size");
        if (strcmp(json_string_value(json_object_get(o, "name")), name) == 0)
            return o;
        if (size)
            *offset += (size_t)json_integer_value(size);
    }
    return NULL;
}

bool v2_output_is_binary(const v2_result *r, const char *name)
{
    size_t offset;
    json_t *o = find_output(r, name, &offset);
    return o && json_object_get(json_object_get(o, "parameters"), "binary_data_size");
}

double *v2_output_values(const v2_result *r, const char *name, size_t *count, size_t *shape,
                         int *rank)
{
    size_t offset;
    json_t *o = find_output(r, name, &offset);
    if (o == NULL)
        return NULL;
    ck_assert_str_eq(json_string_value(json_object_get(o, "datatype")), "FP64");
    json_t *dims = json_object_get(o, "shape");
    size_t n = 1;
    for (size_t d = 0; d < json_array_size(dims); d++) {
        size_t len = (size_t)json_integer_value(json_array_get(dims, d));
        if (shape)
            shape[d] = len;
        n *= len;
    }
    if (rank)
        *rank = (int)json_array_size(dims);
    double *out = malloc((n ? n : 1) * sizeof *out);
    ck_assert_ptr_nonnull(out);
    json_t *size = json_object_get(json_object_get(o, "parameters"), "binary_data_size");
    if (size) {
        ck_assert_uint_eq((size_t)json_integer_value(size), n * 8);
        for (size_t i = 0; i < n; i++) {
            unsigned char raw[8];
            const unsigned char *p = (const unsigned char *)r->binary + offset + 8 * i;
            for (size_t b = 0; b < 8; b++)
                raw[b] = __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ ? p[b] : p[7 - b];
            memcpy(&out[i], raw, 8);
        }
    } else {
        json_t *data = json_object_get(o, "data");
        ck_assert_uint_eq(json_array_size(data), n);
        for (size_t i = 0; i < n; i++) {
            json_t *v = json_array_get(data, i);
            out[i] = json_is_null(v) ? NAN : json_number_value(v);
        }
    }
    *count = n;
    return out;
}

const double v2_fixture_input[12] = {0, 0, 2, 1, 1, 1, 3, 4, 0.5, 0.25, 1, 2};
const double v2_fixture_target[12] = {0, 0, 1, 2, 0, 1, 2, 3, 0.5, 0.25, 1.5, 2};

v2_request v2_fixture_request(const char *id)
{
    v2_input in[] = {{"input", "FP64", 2, {3, 4}, v2_fixture_input, false},
                     {"target", "FP64", 2, {3, 4}, v2_fixture_target, false}};
    return v2_frame(in, 2, NULL, 0, NULL, id);
}

void v2_fixture_expected(lossd_call *c)
{
    lossd_error err = {0};
    size_t shape[2] = {3, 4};
    lossd_tensor a, b;
    ck_assert_int_eq(lossd_tensor_view(&a, v2_fixture_input, 2, shape), 0);
    ck_assert_int_eq(lossd_tensor_view(&b, v2_fixture_target, 2, shape), 0);
    lossd_call_init(c, lossd_function_find(LOSSD_KIND_LOSS, "ciou"));
    lossd_call_set_operand(c, "input", &a, &err);
    lossd_call_set_operand(c, "target", &b, &err);
    c->want_grad = c->want_terms = true;
    ck_assert_msg(lossd_call_compute(c, &err) == 0, "%s", err.message);
}
