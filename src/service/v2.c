/* SPDX-License-Identifier: MIT */
/*
 * v2.c - inference over the Open Inference Protocol's REST binding (see
 * v2.h): reading a request's JSON header and binary data, and writing the
 * reply. What a model is - its inputs, outputs, datatypes, how a tensor
 * binds to the call - is model.c's, shared with the gRPC binding.
 *
 * An inference request is read in one pass over its JSON header, in this
 * order whatever the order of its keys: the request's parameters (the
 * function's scalar parameters, and binary_data_output), the outputs asked
 * for (which decide whether gradients and terms are computed at all), then
 * the inputs - each checked against its shape, datatype and the bytes
 * present, read, and bound to the call - then the count of binary bytes,
 * which must come out exact. The core validates the rest (shapes against
 * each other, domains) exactly as for /v1, so both protocols answer the
 * same numbers and the same 422s.
 *
 * Errors follow the protocol: {"error": "<path>: <message>"}. What is
 * wrong with the framing - lengths, sizes, shapes against data, datatypes -
 * is a 400 naming the input; what breaks the function's contract (unknown
 * inputs or parameters, bad values) is a 422 as on /v1.
 *
 * Threading: see v2.h; nothing here is shared between requests.
 */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../debug.h"
#include "arena.h"
#include "model.h"
#include "util.h"
#include "v2.h"
#include "v2_cache.h"

/* The parameters the REST binding adds to every model's own. */
#define V2_OWN_PARAMETERS "the protocol's binary_data_output, and nonfinite"

/* ---------------------------------------------------------------- framing */

/* Optional whitespace around a header's value (RFC 9110 section 5.5). */
static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

int lossd_v2_header_len(const char *value, size_t *len)
{
    size_t n = 0;
    if (value == NULL)
        return -1;
    const char *p = value, *end = value + strlen(value);
    while (p < end && is_ows(*p))
        p++;
    while (end > p && is_ows(end[-1]))
        end--;
    if (p == end)
        return -1;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9' || n > (SIZE_MAX - 9) / 10)
            return -1;
        n = n * 10 + (size_t)(*p - '0');
    }
    if (n == LOSSD_NO_HEADER_LEN)
        return -1;
    *len = n;
    return 0;
}

/* ---------------------------------------------------------------- a request */

/* What a reply's binary outputs point into, freed once the reply is sent. */
static void request_release(void *owner)
{
    lossd_model_request *r = owner;
    lossd_model_request_cleanup(r);
    free(r);
}

typedef struct {
    const lossd_handler *h;
    const lossd_model *model;
    lossd_model_request *req;
    bool binary_default; /* binary_data_output */
    bool strings;        /* nonfinite: "strings" - NaN and infinities as strings in JSON data */
    const char *binary;  /* the bytes after the JSON header */
    size_t binary_len, binary_used;
    bool has_header_len; /* the request carried Inference-Header-Content-Length */
    bool json_data;      /* an input carried its numbers in the header ("data") */
    lossd_fault f;
} infer;

/*
 * The path of a field of the request, formatted into a local `field`
 * buffer only where an error needs it: a request that is right pays for
 * no formatting.
 */
#define AT(...) (snprintf(field, sizeof field, __VA_ARGS__), field)

/* A 422: the request breaks the function's contract. */
__attribute__((format(printf, 3, 4))) static int invalid(infer *x, const char *field,
                                                         const char *fmt, ...)
{
    char message[LOSSD_FAULT_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    return lossd_fault_set(&x->f, LOSSD_FAULT_INVALID_ARGUMENT, field, "%s", message);
}

/* A 422 for a value of the wrong JSON type, or a missing one ("required"). */
static int expected(infer *x, const char *field, const char *what, const json_t *v)
{
    if (v == NULL)
        return invalid(x, field, "required");
    return invalid(x, field, "expected %s, got %s", what, lossd_codec_type_name(v));
}

/* ---- parameters */

static int read_parameters(infer *x, const json_t *params)
{
    lossd_call *c = &x->req->call;
    const char *key;
    json_t *v;
    char field[LOSSD_FIELD_MAX];
    if (!json_is_object(params))
        return expected(x, "parameters", "an object", params);
    json_object_foreach((json_t *)params, key, v)
    {
        if (strcmp(key, "binary_data_output") == 0) {
            if (!json_is_boolean(v))
                return expected(x, AT("parameters.%s", key), "true or false", v);
            x->binary_default = json_is_true(v);
            continue;
        }
        if (strcmp(key, "nonfinite") == 0) {
            if (!json_is_null(v) &&
                lossd_codec_nonfinite_option(v, AT("parameters.%s", key), &x->strings, &x->f) < 0)
                return -1;
            continue;
        }
        const lossd_param_spec *spec;
        if (lossd_model_parameter(x->model, key, V2_OWN_PARAMETERS, AT("parameters.%s", key), &x->f,
                                  &spec) < 0)
            return -1;
        if (json_is_null(v))
            continue;       /* null: the default, as an absent parameter */
        if (spec == NULL) { /* reduction */
            lossd_error err = {0};
            if (!json_is_string(v))
                return expected(x, AT("parameters.%s", key), "a string", v);
            if (lossd_call_set_reduction(c, json_string_value(v), &err) < 0)
                return lossd_fault_from_error(&x->f, &err);
            continue;
        }
        if (lossd_codec_bind_param(c, spec, v, &x->h->limits, &x->req->store, &x->f) < 0)
            return -1;
    }
    return 0;
}

/* ---- outputs */

static int read_output_parameters(infer *x, size_t i, const json_t *params, bool *binary)
{
    const char *key;
    json_t *v;
    char field[LOSSD_FIELD_MAX];
    if (!json_is_object(params))
        return expected(x, AT("outputs[%zu].parameters", i), "an object", params);
    json_object_foreach((json_t *)params, key, v)
    {
        if (strcmp(key, "binary_data") != 0)
            return invalid(x, AT("outputs[%zu].parameters.%s", i, key),
                           "unknown parameter; an output takes: %s", "binary_data");
        if (!json_is_boolean(v))
            return expected(x, AT("outputs[%zu].parameters.%s", i, key), "true or false", v);
        *binary = json_is_true(v);
    }
    return 0;
}

static int read_output(infer *x, size_t i, const json_t *o)
{
    char field[LOSSD_FIELD_MAX];
    if (!json_is_object(o))
        return expected(x, AT("outputs[%zu]", i), "an object {\"name\": ...}", o);
    const char *key;
    json_t *v, *name = NULL, *params = NULL;
    json_object_foreach((json_t *)o, key, v)
    {
        if (strcmp(key, "name") == 0)
            name = v;
        else if (strcmp(key, "parameters") == 0)
            params = v;
        else
            return invalid(x, AT("outputs[%zu].%s", i, key), "unknown field; an output takes: %s",
                           "name, parameters");
    }
    if (!json_is_string(name))
        return expected(x, AT("outputs[%zu].name", i), "a string", name);
    const lossd_model_output *out = lossd_model_find_output(x->model, json_string_value(name),
                                                            AT("outputs[%zu].name", i), &x->f);
    if (out == NULL)
        return -1;
    bool binary = x->binary_default;
    if (params && read_output_parameters(x, i, params, &binary) < 0)
        return -1;
    return lossd_model_request_want(x->req, out, binary, AT("outputs[%zu].name", i), &x->f);
}

static int read_outputs(infer *x, const json_t *outputs)
{
    if (outputs == NULL) { /* every output */
        lossd_model_request_want_all(x->req, x->binary_default);
        return 0;
    }
    if (!json_is_array(outputs))
        return expected(x, "outputs", "an array", outputs);
    size_t i;
    json_t *o;
    json_array_foreach(outputs, i, o)
    {
        if (read_output(x, i, o) < 0)
            return -1;
    }
    return 0;
}

/* ---- inputs */

/* A number of "data" in the input's datatype (model.h's rules), for the nested reader. */
static bool datatype_number(void *ctx, double x, double *out, const char **what)
{
    lossd_datatype dt = *(const lossd_datatype *)ctx;
    if (!lossd_model_number_fits(dt, x, what))
        return false;
    *out = lossd_model_number_value(dt, x);
    return true;
}

/* Reads "data", flat (count numbers) or nested as the shape, into out. */
static int read_json_data(infer *x, const char *name, const json_t *data, lossd_datatype dt,
                          const size_t *shape, int rank, size_t count, double *out)
{
    char text[96];
    if (!json_is_array(data))
        return lossd_fault_set(&x->f, LOSSD_FAULT_BAD_REQUEST, name,
                               "\"data\" must be an array, got %s", lossd_codec_type_name(data));
    lossd_shape_text(text, sizeof text, rank, shape);
    char why[160];
    snprintf(why, sizeof why, " (\"data\" follows the shape %s)", text);
    lossd_nested n = {.name = name,
                      .rank = rank,
                      .shape = shape,
                      .kind = LOSSD_FAULT_BAD_REQUEST,
                      .why = why,
                      .convert = datatype_number,
                      .ctx = &dt,
                      .nonfinite_strings = x->strings,
                      .f = &x->f};
    size_t len = json_array_size(data);
    bool flat = rank <= 1 || len == 0 || !json_is_array(json_array_get(data, 0));
    if (!flat)
        return lossd_codec_read_nested(&n, data, out);
    if (len != count)
        return lossd_fault_set(&x->f, LOSSD_FAULT_BAD_REQUEST, name,
                               "\"data\" holds %zu numbers, but the shape %s has %zu", len, text,
                               count);
    n.rank = 1; /* flat: one run of count numbers */
    n.shape = &count;
    return lossd_codec_read_nested(&n, data, out);
}

/*
 * The binary data of an input: size bytes at the current position, read
 * by model.c (in place for aligned little-endian FP64).
 */
static const double *read_binary_data(infer *x, const char *name, size_t index, lossd_datatype dt,
                                      size_t count, size_t size)
{
    size_t elem = lossd_datatype_size(dt);
    if (count > SIZE_MAX / elem) {
        lossd_fault_set(&x->f, LOSSD_FAULT_TOO_LARGE, name, "%zu numbers are too many", count);
        return NULL;
    }
    size_t need = count * elem;
    if (!x->has_header_len) {
        lossd_fault_set(&x->f, LOSSD_FAULT_BAD_REQUEST, name,
                        "inputs[%zu] has a binary_data_size, but the request has no "
                        "Inference-Header-Content-Length header saying where its JSON ends",
                        index);
        return NULL;
    }
    if (size != need) {
        lossd_fault_set(
            &x->f, LOSSD_FAULT_BAD_REQUEST, name,
            "binary_data_size is %zu bytes, but %zu numbers of %s take %zu (inputs[%zu])", size,
            count, lossd_datatype_name(dt), need, index);
        return NULL;
    }
    if (size > x->binary_len - x->binary_used) {
        lossd_fault_set(&x->f, LOSSD_FAULT_BAD_REQUEST, name,
                        "binary_data_size is %zu bytes, but only %zu bytes of binary data are "
                        "left in the body (inputs[%zu])",
                        size, x->binary_len - x->binary_used, index);
        return NULL;
    }
    const char *bytes = x->binary + x->binary_used;
    x->binary_used += size;
    return lossd_model_raw_tensor(x->req, name, dt, bytes, count, &x->h->limits, &x->f);
}

/* Reads the shape of inputs[index] into shape; returns the rank, or -1 with the fault set. */
static int read_shape(infer *x, const char *name, size_t index, const json_t *v, size_t *shape,
                      size_t *count)
{
    char field[LOSSD_FIELD_MAX];
    if (!json_is_array(v))
        return lossd_fault_set(&x->f, LOSSD_FAULT_BAD_REQUEST, AT("inputs[%zu].shape", index),
                               v ? "expected an array of whole numbers, got %s" : "required%s",
                               v ? lossd_codec_type_name(v) : "");
    size_t rank = json_array_size(v);
    if (rank > LOSSD_MAX_RANK)
        return lossd_fault_set(&x->f, LOSSD_FAULT_INVALID_ARGUMENT, AT("inputs[%zu].shape", index),
                               "%s has %zu dimensions; a tensor has at most %d", name, rank,
                               LOSSD_MAX_RANK);
    *count = 1;
    for (size_t d = 0; d < rank; d++) {
        const json_t *dim = json_array_get(v, d);
        double len = json_is_number(dim) ? json_number_value(dim) : -1;
        if (!(len >= 0 && len == floor(len) && len < LOSSD_EXACT_INT_MAX))
            return lossd_fault_set(&x->f, LOSSD_FAULT_BAD_REQUEST, AT("inputs[%zu].shape", index),
                                   "dimension %zu of %s is not a whole number >= 0", d, name);
        shape[d] = (size_t)len;
        if (shape[d] != 0 && *count > SIZE_MAX / shape[d])
            *count = SIZE_MAX; /* far past any limit: the element count says so */
        else
            *count *= shape[d];
    }
    return (int)rank;
}

/* An input's "parameters": binary_data_size, if any (*binary says whether it was given). */
static int read_input_parameters(infer *x, size_t index, const json_t *params, bool *binary,
                                 size_t *binary_size)
{
    const char *key;
    json_t *v;
    char field[LOSSD_FIELD_MAX];
    if (!json_is_object(params))
        return expected(x, AT("inputs[%zu].parameters", index), "an object", params);
    json_object_foreach((json_t *)params, key, v)
    {
        if (strcmp(key, "binary_data_size") != 0)
            return invalid(x, AT("inputs[%zu].parameters.%s", index, key),
                           "unknown parameter; an input takes: %s", "binary_data_size");
        double size = json_is_number(v) ? json_number_value(v) : -1;
        if (!(size >= 0 && size == floor(size) && size < LOSSD_EXACT_INT_MAX))
            return lossd_fault_set(&x->f, LOSSD_FAULT_BAD_REQUEST,
                                   AT("inputs[%zu].parameters.%s", index, key),
                                   "expected a whole number of bytes >= 0");
        *binary = true;
        *binary_size = (size_t)size;
    }
    return 0;
}

/* The fields of one entry of "inputs". */
typedef struct {
    const json_t *name, *shape, *datatype, *parameters, *data;
} input_fields;

static int read_input_fields(infer *x, size_t index, const json_t *o, input_fields *in)
{
    char field[LOSSD_FIELD_MAX];
    if (!json_is_object(o))
        return expected(x, AT("inputs[%zu]", index),
                        "an object {\"name\", \"shape\", \"datatype\", ...}", o);
    const char *key;
    json_t *v;
    *in = (input_fields){0};
    json_object_foreach((json_t *)o, key, v)
    {
        if (strcmp(key, "name") == 0)
            in->name = v;
        else if (strcmp(key, "shape") == 0)
            in->shape = v;
        else if (strcmp(key, "datatype") == 0)
            in->datatype = v;
        else if (strcmp(key, "parameters") == 0)
            in->parameters = v;
        else if (strcmp(key, "data") == 0)
            in->data = v;
        else
            return invalid(x, AT("inputs[%zu].%s", index, key), "unknown field; an input takes: %s",
                           "name, shape, datatype, parameters, data");
    }
    if (!json_is_string(in->name))
        return expected(x, AT("inputs[%zu].name", index), "a string", in->name);
    return 0;
}

/* Reads, checks and binds inputs[index]. */
static int read_input(infer *x, size_t index, const json_t *o)
{
    char field[LOSSD_FIELD_MAX];
    input_fields fields = {0};
    if (read_input_fields(x, index, o, &fields) < 0)
        return -1;
    const lossd_model_input *in = lossd_model_request_input(x->req, json_string_value(fields.name),
                                                            AT("inputs[%zu].name", index), &x->f);
    if (in == NULL)
        return -1;
    const char *name = in->name; /* static text: the tree goes away before the call is done */

    if (!json_is_string(fields.datatype))
        return lossd_fault_set(&x->f, LOSSD_FAULT_BAD_REQUEST, AT("inputs[%zu].datatype", index),
                               fields.datatype ? "expected a string, got %s" : "required%s",
                               fields.datatype ? lossd_codec_type_name(fields.datatype) : "");
    int dt = lossd_datatype_find(json_string_value(fields.datatype));
    if (dt < 0)
        return lossd_fault_set(&x->f, LOSSD_FAULT_BAD_REQUEST, name,
                               "datatype %.32s is not accepted (inputs[%zu]); send %s",
                               json_string_value(fields.datatype), index,
                               lossd_model_input_datatypes(in));
    if (lossd_model_check_datatype(in, (lossd_datatype)dt, AT("inputs[%zu]", index), &x->f) < 0)
        return -1;

    size_t shape[LOSSD_MAX_RANK], count = 0;
    int rank = read_shape(x, name, index, fields.shape, shape, &count);
    if (rank < 0)
        return -1;

    bool binary = false;
    size_t binary_size = 0;
    if (fields.parameters &&
        read_input_parameters(x, index, fields.parameters, &binary, &binary_size) < 0)
        return -1;
    if (binary == (fields.data != NULL))
        return lossd_fault_set(&x->f, LOSSD_FAULT_BAD_REQUEST, name,
                               binary ? "inputs[%zu] has both \"data\" and a binary_data_size"
                                      : "inputs[%zu] has no data: give \"data\", or binary data "
                                        "with a binary_data_size parameter",
                               index);
    if (count > x->h->limits.max_elements)
        return lossd_fault_set(&x->f, LOSSD_FAULT_TOO_LARGE, name,
                               "the request holds more than %zu numbers (--max-elements)",
                               x->h->limits.max_elements);

    const double *values;
    if (binary) {
        values = read_binary_data(x, name, index, (lossd_datatype)dt, count, binary_size);
    } else {
        x->json_data = true;
        double *out = lossd_tensors_alloc(&x->req->store, count, name, &x->h->limits, &x->f);
        if (out &&
            read_json_data(x, name, fields.data, (lossd_datatype)dt, shape, rank, count, out) < 0)
            out = NULL;
        values = out;
    }
    if (values == NULL)
        return -1;
    return lossd_model_bind(x->req, in, (lossd_datatype)dt, rank, shape, values, &x->f);
}

static int read_inputs(infer *x, const json_t *inputs)
{
    if (!json_is_array(inputs))
        return lossd_fault_set(&x->f, LOSSD_FAULT_INVALID_ARGUMENT, "inputs",
                               inputs ? "expected an array of inputs, got %s" : "required%s",
                               inputs ? lossd_codec_type_name(inputs) : "");
    size_t i;
    json_t *o;
    json_array_foreach(inputs, i, o)
    {
        if (read_input(x, i, o) < 0)
            return -1;
    }
    if (x->binary_used != x->binary_len)
        return lossd_fault_set(&x->f, LOSSD_FAULT_BAD_REQUEST, NULL,
                               "the body has %zu bytes of binary data after its JSON header, but "
                               "the inputs' binary_data_size add up to %zu",
                               x->binary_len, x->binary_used);
    return 0;
}

/* ---- the request object */

/* Some clients repeat the path's model in the body: allowed when it agrees. */
static int check_model_field(infer *x, const char *key, const json_t *v, const char *want)
{
    const char *text = json_is_string(v) ? json_string_value(v) : NULL;
    if (text && strcmp(text, want) == 0)
        return 0;
    return lossd_fault_set(&x->f, LOSSD_FAULT_INVALID_ARGUMENT, key,
                           "does not match the path's model %s, version 1", x->model->name);
}

/*
 * Reads the request's top level: parameters first, then outputs (which
 * decide what is computed), then inputs. *id is set to the request's id.
 */
static int read_request(infer *x, const json_t *root, const char **id)
{
    const char *key;
    json_t *v, *params = NULL, *outputs = NULL, *inputs = NULL;
    *id = NULL;
    json_object_foreach((json_t *)root, key, v)
    {
        if (strcmp(key, "id") == 0) {
            if (!json_is_string(v))
                return expected(x, "id", "a string", v);
            *id = json_string_value(v);
        } else if (strcmp(key, "parameters") == 0) {
            params = v;
        } else if (strcmp(key, "inputs") == 0) {
            inputs = v;
        } else if (strcmp(key, "outputs") == 0) {
            outputs = v;
        } else if (strcmp(key, "model_name") == 0) {
            if (check_model_field(x, key, v, x->model->name) < 0)
                return -1;
        } else if (strcmp(key, "model_version") == 0) {
            if (check_model_field(x, key, v, "1") < 0)
                return -1;
        } else {
            return invalid(x, key, "unknown field; an inference request takes: %s",
                           "id, parameters, inputs, outputs");
        }
    }
    if (params && read_parameters(x, params) < 0)
        return -1;
    if (read_outputs(x, outputs) < 0)
        return -1;
    return read_inputs(x, inputs);
}

/* ---- the reply */

static void write_id(lossd_buf *out, const char *id)
{
    json_t *s = json_string(id);
    char *text = s ? json_dumps(s, JSON_ENCODE_ANY | JSON_ENSURE_ASCII) : NULL;
    if (text) {
        lossd_buf_puts(out, ",\"id\":");
        lossd_buf_puts(out, text);
    }
    free(text);
    json_decref(s);
}

static void write_reply(infer *x, const char *id, lossd_reply *reply)
{
    lossd_model_request *r = x->req;
    lossd_buf *out = &reply->body;
    /* Written piece by piece: printf would cost more than the rest of a small reply. */
    lossd_buf_puts(out, "{\"model_name\":\"");
    lossd_buf_puts(out, x->model->name);
    lossd_buf_puts(out, "\",\"model_version\":\"1\"");
    if (id)
        write_id(out, id);
    if (r->call.n_nonfinite) {
        lossd_buf_puts(out, ",\"parameters\":{\"nonfinite\":");
        lossd_buf_uint(out, r->call.n_nonfinite);
        lossd_buf_puts(out, "}");
    }
    lossd_buf_puts(out, ",\"outputs\":[");
    for (size_t i = 0; i < r->n_want; i++) {
        int rank;
        const size_t *shape;
        size_t count;
        const lossd_model_output *o = r->want[i].output;
        const double *data = lossd_model_output_data(r, i, &rank, &shape, &count);
        lossd_buf_puts(out, i ? ",{\"name\":\"" : "{\"name\":\"");
        lossd_buf_puts(out, o->prefix);
        lossd_buf_puts(out, o->name);
        lossd_buf_puts(out, "\",\"datatype\":\"FP64\",\"shape\":[");
        for (int d = 0; d < rank; d++) {
            if (d)
                lossd_buf_puts(out, ",");
            lossd_buf_uint(out, shape[d]);
        }
        if (r->want[i].binary) {
            lossd_buf_puts(out, "],\"parameters\":{\"binary_data_size\":");
            lossd_buf_uint(out, count * sizeof(double));
            lossd_buf_puts(out, "}}");
            if (count && reply->n_segments < LOSSD_REPLY_MAX_SEGMENTS)
                reply->segments[reply->n_segments++] = (lossd_piece){data, count * sizeof(double)};
        } else {
            lossd_buf_puts(out, "],\"data\":");
            lossd_number_format how = {x->h->exec, x->strings};
            lossd_codec_write_numbers(out, data, count, &how);
            lossd_buf_puts(out, "}");
        }
    }
    lossd_buf_puts(out, "]}");
}

/*
 * After the JSON header failed to parse: when the body starts with a
 * whole JSON object that the framing cut short or ran past, says so in
 * the protocol's terms (the header length is missing, or ends inside or
 * after the JSON) instead of the parser's "end of file expected".
 */
static void explain_framing(infer *x, const lossd_body *body, size_t json_len)
{
    size_t header = body->data ? lossd_codec_object_prefix(body->data, body->len) : 0;
    if (header == 0 || header == json_len)
        return; /* not a framing problem: the JSON itself is broken */
    x->f = (lossd_fault){0};
    if (!x->has_header_len)
        lossd_fault_set(&x->f, LOSSD_FAULT_BAD_REQUEST, NULL,
                        "the body is a JSON header of %zu bytes followed by %zu more bytes, but "
                        "the request has no Inference-Header-Content-Length header saying where "
                        "the JSON ends: send Inference-Header-Content-Length: %zu with binary "
                        "tensor data",
                        header, body->len - header, header);
    else
        lossd_fault_set(&x->f, LOSSD_FAULT_BAD_REQUEST, NULL,
                        "Inference-Header-Content-Length is %zu, but the JSON header is %zu bytes: "
                        "the length ends %s the JSON, at byte %zu",
                        json_len, header, json_len < header ? "inside" : "after", json_len);
}

/*
 * Parses (or finds in this thread's cache) the JSON header of the body
 * and reads the request from it; *id gets a copy of its id. The parse
 * tree is gone when this returns: what the call needs was copied or is in
 * the body.
 */
static void read_body(infer *x, const lossd_body *body, size_t json_len, char **id)
{
    lossd_arena tree = {0};
    const json_t *root = NULL;
    lossd_v2_cache_key key = {0};
    if (x->has_header_len)
        root = lossd_v2_cache_find(body->data, json_len, &key);
    bool from_cache = root != NULL;
    if (root == NULL &&
        (root = lossd_codec_load(body->data ? body->data : "", json_len, &tree, &x->f)) == NULL)
        explain_framing(x, body, json_len);
    const char *id_in_tree = NULL;
    bool read = root && read_request(x, root, &id_in_tree) == 0;
    if (read && !from_cache && !x->json_data)
        lossd_v2_cache_put(&key, body->data, json_len, root);
    if (read && id_in_tree && (*id = strdup(id_in_tree)) == NULL)
        lossd_fault_set(&x->f, LOSSD_FAULT_INTERNAL, NULL, "out of memory");
    lossd_arena_release(&tree);
}

void lossd_v2_infer(const lossd_handler *h, const lossd_function *fn, lossd_body *body,
                    size_t header_len, lossd_reply *reply)
{
    LOSSD_ASSERT(h && fn && body && reply);
    infer x = {.h = h, .model = lossd_model_of(fn)};
    lossd_model_request *r = x.req = x.model ? malloc(sizeof *r) : NULL;
    char *id = NULL;
    if (r == NULL) {
        lossd_fault_set(&x.f, LOSSD_FAULT_INTERNAL, NULL, "out of memory");
        lossd_reply_fault(reply, &x.f, true);
        lossd_body_cleanup(body);
        return;
    }
    lossd_model_request_init(r, x.model, h->limits.max_elements);

    size_t json_len = body->len;
    if (header_len != LOSSD_NO_HEADER_LEN) {
        x.has_header_len = true;
        if (header_len > body->len)
            lossd_fault_set(&x.f, LOSSD_FAULT_BAD_REQUEST, NULL,
                            "Inference-Header-Content-Length is %zu, but the body has only %zu "
                            "bytes",
                            header_len, body->len);
        else
            json_len = header_len;
    }
    x.binary = body->data ? body->data + json_len : NULL;
    x.binary_len = body->len - json_len;
    if (x.f.kind == LOSSD_FAULT_NONE)
        read_body(&x, body, json_len, &id);
    reply->elements += r->store.elements;

    if (x.f.kind == LOSSD_FAULT_NONE && lossd_model_request_prepare(r, &x.f) == 0) {
        lossd_handler_compute(h, &r->call);
        /* The outputs are in the call: the inputs' memory can go before the reply is written. */
        lossd_tensors_free(&r->store);
        lossd_body_cleanup(body);
        write_reply(&x, id, reply);
        if (lossd_buf_failed(&reply->body))
            lossd_fault_set(&x.f, LOSSD_FAULT_INTERNAL, NULL, "out of memory writing the reply");
    }
    if (x.f.kind != LOSSD_FAULT_NONE) {
        reply->n_segments = 0;
        lossd_reply_fault(reply, &x.f, true);
        request_release(r);
    } else if (reply->n_segments > 0) {
        reply->status = 200;
        reply->content_type = "application/octet-stream";
        reply->header_len = lossd_buf_len(&reply->body);
        reply->owner = r;
        reply->release = request_release;
    } else {
        reply->status = 200;
        request_release(r);
    }
    lossd_body_cleanup(body);
    free(id);
}
