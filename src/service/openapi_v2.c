/* SPDX-License-Identifier: MIT */
/*
 * openapi_v2.c - the Open Inference Protocol's part of the OpenAPI
 * document (see openapi.h): /v2, its health, and per model (every
 * registered function, {kind}.{name}) its metadata, readiness and
 * inference, with and without /versions/1; the request and reply schemas;
 * the error replies, whose body is /v2's {"error": "..."}.
 *
 * Built once, at start-up, with the builders of openapi_json.h.
 */
#include <stdio.h>
#include <string.h>

#include <lossd/lossd.h>

#include "openapi.h"
#include "openapi_json.h"

/* /v2's 400 says more than /v1's: its framing has more parts. */
static const char bad_request_v2[] =
    "the body is not JSON, or its framing does not add up: Inference-Header-Content-Length, a "
    "binary_data_size, a shape, a datatype and the bytes present; the message names the input";

static const char infer_description[] =
    "Inputs are the function's operands, tensor parameters and grad_output under their /v1 names "
    "(GET /v2/models/{model} lists them with their datatypes and shapes); scalar parameters go "
    "in the request's `parameters`; `outputs` names the outputs wanted (absent: all of them), and "
    "only those are computed. With Triton's binary tensor data extension the body is a JSON "
    "header of Inference-Header-Content-Length bytes followed by the raw little-endian tensors of "
    "the inputs that carry a binary_data_size, in input order; outputs asked for with binary_data "
    "(or all, with binary_data_output) come raw after the reply's JSON header.";

static json_t *error_ref(const char *status)
{
    return oa_obj("$ref", json_sprintf("#/components/responses/V2E%s", status), NULL);
}

/* The error replies of these statuses (NULL-terminated) added to responses. */
static json_t *with_errors(json_t *responses, const char *const *statuses)
{
    for (size_t i = 0; statuses[i]; i++)
        responses = oa_with(responses, statuses[i], error_ref(statuses[i]));
    return responses;
}

static json_t *json_reply(const char *description, json_t *schema)
{
    return oa_obj("description", json_string(description), "content",
                  oa_obj("application/json", oa_obj("schema", schema, NULL), NULL), NULL);
}

/*
 * {"get": ...} tagged v2: a 200 of `schema`, the error replies of
 * `errors`, the `more` responses (stolen; NULL for none); open to everyone
 * unless `keyed`.
 */
static json_t *v2_get(const char *summary, json_t *schema, const char *const *errors, bool keyed,
                      json_t *more)
{
    json_t *responses = with_errors(oa_obj("200", json_reply("OK", schema), NULL), errors);
    if (more)
        responses = oa_merge(responses, more);
    json_t *op = oa_obj("tags", oa_strings("v2", NULL), "summary", json_string(summary),
                        "responses", responses, NULL);
    if (!keyed)
        op = oa_with(op, "security", json_array());
    return oa_obj("get", op, NULL);
}

static json_t *flag_schema(const char *name)
{
    return oa_obj("type", json_string("object"), "required", oa_strings(name, NULL), "properties",
                  oa_obj(name, oa_type("boolean"), NULL), NULL);
}

static json_t *infer_op(void)
{
    static const char *const errors[] = {"400", "401", "404", "413", "415", "422", "503", NULL};
    json_t *header = oa_obj(
        "name", json_string("Inference-Header-Content-Length"), "in", json_string("header"),
        "required", json_false(), "schema",
        oa_obj("type", json_string("integer"), "minimum", json_integer(0), NULL), "description",
        json_string("the JSON header's length when binary tensors follow it"), NULL);
    json_t *binary = oa_obj("type", json_string("string"), "format", json_string("binary"), NULL);
    json_t *body = oa_obj(
        "required", json_true(), "content",
        oa_obj(
            "application/json", oa_obj("schema", oa_ref("V2InferenceRequest"), NULL),
            "application/octet-stream",
            oa_obj("schema",
                   oa_with(json_deep_copy(binary), "description",
                           json_string("a V2InferenceRequest JSON header, then the raw tensors")),
                   NULL),
            NULL),
        NULL);
    json_t *ok = oa_obj(
        "description",
        json_string("the outputs; with binary outputs, the JSON header is followed by their raw "
                    "bytes and the reply carries Inference-Header-Content-Length"),
        "headers",
        oa_obj("Inference-Header-Content-Length", oa_obj("schema", oa_type("integer"), NULL), NULL),
        "content",
        oa_obj("application/json", oa_obj("schema", oa_ref("V2InferenceResponse"), NULL),
               "application/octet-stream", oa_obj("schema", binary, NULL), NULL),
        NULL);
    json_t *op =
        oa_obj("tags", oa_strings("v2", NULL), "summary",
               json_string("inference: the function's outputs for its inputs"), "description",
               json_string(infer_description), "parameters", oa_items(1, header), "requestBody",
               body, "responses", with_errors(oa_obj("200", ok, NULL), errors), NULL);
    return oa_obj("post", op, NULL);
}

/* The path parameters {model} (every function, {kind}.{name}) and {version}. */
static json_t *model_param(void)
{
    json_t *models = json_array();
    for (size_t i = 0; i < lossd_function_count(); i++) {
        const lossd_function *fn = lossd_function_at(i);
        models = oa_push(models, json_sprintf("%s.%s", lossd_kind_name(fn->kind), fn->name));
    }
    return oa_obj("name", json_string("model"), "in", json_string("path"), "required", json_true(),
                  "description", json_string("a function as a model: {kind}.{name}"), "schema",
                  oa_obj("type", json_string("string"), "enum", models, NULL), "example",
                  json_string("loss.ciou"), NULL);
}

static json_t *version_param(void)
{
    return oa_obj("name", json_string("version"), "in", json_string("path"), "required",
                  json_true(), "schema",
                  oa_obj("type", json_string("string"), "enum", oa_strings("1", NULL), NULL), NULL);
}

/*
 * A model path: `template`'s operation (copied) with the path's
 * parameters before its own and an operationId, "v2_<name>" (+ "_version").
 */
static json_t *model_path(const json_t *template, const char *name, bool versioned)
{
    json_t *path = json_deep_copy(template);
    const char *method;
    json_t *op;
    json_object_foreach(path, method, op)
    {
        json_t *params = oa_items(1, model_param());
        if (versioned)
            params = oa_push(params, version_param());
        json_t *own = json_object_get(op, "parameters");
        if (params && own)
            json_array_extend(params, own);
        op = oa_with(json_incref(op), "parameters", params);
        op = oa_with(op, "operationId", json_sprintf("v2_%s%s", name, versioned ? "_version" : ""));
        if (op == NULL) {
            json_decref(path);
            return NULL;
        }
        json_decref(op);
    }
    return path;
}

static json_t *with_model_paths(json_t *paths)
{
    static const char *const keyed[] = {"401", "404", NULL};
    json_t *ready = oa_obj(
        "type", json_string("object"), "required", oa_strings("name", "ready", NULL), "properties",
        oa_obj("name", oa_type("string"), "ready", oa_type("boolean"), NULL), NULL);
    const struct {
        const char *suffix, *name;
        json_t *op;
    } ops[] = {
        {"", "model_metadata",
         v2_get("model metadata, from the registry", oa_ref("V2ModelMetadata"), keyed, true, NULL)},
        {"/ready", "model_ready", v2_get("model readiness", ready, keyed, true, NULL)},
        {"/infer", "infer", infer_op()},
    };
    for (int versioned = 0; versioned < 2; versioned++)
        for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
            char path[96];
            snprintf(path, sizeof path, "/v2/models/{model}%s%s",
                     versioned ? "/versions/{version}" : "", ops[i].suffix);
            paths = oa_with(paths, path,
                            ops[i].op ? model_path(ops[i].op, ops[i].name, versioned) : NULL);
        }
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++)
        json_decref(ops[i].op);
    return paths;
}

/* POST /v2/repository/index: Triton's model repository extension, every model READY. */
static json_t *index_path(void)
{
    static const char *const errors[] = {"400", "401", "422", NULL};
    json_t *entry = oa_obj(
        "type", json_string("object"), "required", oa_strings("name", "version", "state", NULL),
        "properties",
        oa_obj("name", oa_type("string"), "version", oa_type("string"), "state",
               oa_obj("type", json_string("string"), "enum", oa_strings("READY", NULL), NULL),
               NULL),
        NULL);
    json_t *request =
        oa_obj("type", json_string("object"), "additionalProperties", json_false(), "properties",
               oa_obj("ready",
                      oa_obj("type", json_string("boolean"), "description",
                             json_string("only ready models: every model is"), NULL),
                      NULL),
               NULL);
    json_t *ok = json_reply("every model, in registry order",
                            oa_obj("type", json_string("array"), "items", entry, NULL));
    json_t *op =
        oa_obj("tags", oa_strings("v2", NULL), "operationId", json_string("v2_repository_index"),
               "summary", json_string("Triton's model repository index: every model, READY"),
               "requestBody",
               oa_obj("required", json_false(), "content",
                      oa_obj("application/json", oa_obj("schema", request, NULL), NULL), NULL),
               "responses", with_errors(oa_obj("200", ok, NULL), errors), NULL);
    return oa_obj("post", op, NULL);
}

static json_t *with_paths(json_t *paths)
{
    static const char *const keyed[] = {"401", NULL}, *const none[] = {NULL};
    json_t *busy = oa_obj("503", json_reply("draining or overloaded", flag_schema("ready")), NULL);
    paths = oa_with(paths, "/v2",
                    v2_get("server metadata", oa_ref("V2ServerMetadata"), keyed, true, NULL));
    paths = oa_with(
        paths, "/v2/health/live",
        v2_get("liveness: 200 while the process serves", flag_schema("live"), none, false, NULL));
    paths = oa_with(paths, "/v2/health/ready",
                    v2_get("readiness: 503 while draining or while the queue is full, as /readyz",
                           flag_schema("ready"), none, false, busy));
    paths = oa_with(paths, "/v2/repository/index", index_path());
    return with_model_paths(paths);
}

/* ---------------------------------------------------------------- schemas */

static json_t *array_of(json_t *items)
{
    return oa_obj("type", json_string("array"), "items", items, NULL);
}

static json_t *object_of(json_t *required, json_t *properties)
{
    return oa_obj("type", json_string("object"), "required", required, "properties", properties,
                  NULL);
}

/* An object of exactly one optional property. */
static json_t *only(const char *name, json_t *schema)
{
    return oa_obj("type", json_string("object"), "additionalProperties", json_false(), "properties",
                  oa_obj(name, schema, NULL), NULL);
}

static json_t *model_metadata(void)
{
    json_t *tensor = object_of(
        oa_strings("name", "datatype", "shape", NULL),
        oa_obj("name", oa_type("string"), "datatype", oa_type("string"), "shape",
               array_of(oa_obj("type", json_string("integer"), "minimum", json_integer(-1), NULL)),
               "datatypes",
               oa_with(array_of(oa_type("string")), "description",
                       json_string("every datatype the input accepts")),
               "summary", oa_type("string"), "optional", oa_type("boolean"), NULL));
    return object_of(
        oa_strings("name", "versions", "platform", "inputs", "outputs", "parameters", NULL),
        oa_obj("name", oa_type("string"), "versions", array_of(oa_type("string")), "platform",
               oa_obj("type", json_string("string"), "enum", oa_strings("lossd", NULL), NULL),
               "inputs", array_of(json_deep_copy(tensor)), "outputs", array_of(tensor),
               "parameters", array_of(oa_type("object")), NULL));
}

static json_t *inference_request(void)
{
    json_t *parameter =
        oa_obj("nullable", json_true(), "oneOf",
               oa_items(3, oa_type("string"), oa_type("number"), oa_type("boolean")), NULL);
    json_t *size = oa_obj("type", json_string("integer"), "minimum", json_integer(0), NULL);
    json_t *input = oa_obj(
        "type", json_string("object"), "required", oa_strings("name", "shape", "datatype", NULL),
        "additionalProperties", json_false(), "properties",
        oa_obj("name", oa_type("string"), "shape", array_of(json_deep_copy(size)), "datatype",
               oa_obj("type", json_string("string"), "enum",
                      oa_strings("FP64", "FP32", "INT64", "INT32", NULL), NULL),
               "parameters", only("binary_data_size", size), "data",
               oa_obj("description", json_string("row-major values, flat or nested as the shape"),
                      "type", json_string("array"), "items", json_object(), NULL),
               NULL),
        NULL);
    json_t *output = oa_obj("type", json_string("object"), "required", oa_strings("name", NULL),
                            "additionalProperties", json_false(), "properties",
                            oa_obj("name", oa_type("string"), "parameters",
                                   only("binary_data", oa_type("boolean")), NULL),
                            NULL);
    return oa_obj(
        "type", json_string("object"), "required", oa_strings("inputs", NULL), "properties",
        oa_obj("id", oa_type("string"), "model_name", oa_type("string"), "model_version",
               oa_type("string"), "parameters",
               oa_obj("type", json_string("object"), "additionalProperties", parameter, NULL),
               "inputs", array_of(input), "outputs", array_of(output), NULL),
        "additionalProperties", json_false(), NULL);
}

static json_t *inference_response(void)
{
    json_t *output = object_of(
        oa_strings("name", "datatype", "shape", NULL),
        oa_obj("name", oa_type("string"), "datatype",
               oa_obj("type", json_string("string"), "enum", oa_strings("FP64", NULL), NULL),
               "shape", array_of(oa_type("integer")), "parameters",
               oa_obj("type", json_string("object"), "properties",
                      oa_obj("binary_data_size", oa_type("integer"), NULL), NULL),
               "data",
               array_of(oa_obj("nullable", json_true(), "oneOf",
                               oa_items(2, oa_type("number"), oa_ref("NonFinite")), NULL)),
               NULL));
    json_t *nonfinite = oa_obj("type", json_string("integer"), "description",
                               json_string("how many values are not finite (null in JSON)"), NULL);
    return object_of(oa_strings("model_name", "outputs", NULL),
                     oa_obj("model_name", oa_type("string"), "model_version", oa_type("string"),
                            "id", oa_type("string"), "parameters",
                            oa_obj("type", json_string("object"), "properties",
                                   oa_obj("nonfinite", nonfinite, NULL), NULL),
                            "outputs", array_of(output), NULL));
}

static json_t *with_schemas(json_t *schemas)
{
    json_t *error = object_of(oa_strings("error", NULL),
                              oa_obj("error",
                                     oa_obj("type", json_string("string"), "description",
                                            json_string("<field path>: <message>"), NULL),
                                     NULL));
    json_t *server = object_of(oa_strings("name", "version", "extensions", NULL),
                               oa_obj("name", oa_type("string"), "version", oa_type("string"),
                                      "extensions", array_of(oa_type("string")), NULL));
    schemas = oa_with(schemas, "V2Error", error);
    schemas = oa_with(schemas, "V2ServerMetadata", server);
    schemas = oa_with(schemas, "V2ModelMetadata", model_metadata());
    schemas = oa_with(schemas, "V2InferenceRequest", inference_request());
    return oa_with(schemas, "V2InferenceResponse", inference_response());
}

/* V2E400 ...: /v1's error replies with /v2's error body (and its own 400). */
static json_t *with_responses(json_t *responses, const json_t *errors)
{
    const char *status;
    json_t *text;
    json_object_foreach((json_t *)errors, status, text)
    {
        char name[16];
        snprintf(name, sizeof name, "V2E%s", status);
        const char *description =
            strcmp(status, "400") == 0 ? bad_request_v2 : json_string_value(text);
        responses = oa_with(responses, name, json_reply(description, oa_ref("V2Error")));
    }
    return responses;
}

/*
 * Whether a builder given json_incref(obj), the caller's obj, succeeded;
 * drops that reference if it did (on failure the builder released it).
 */
static bool kept(const json_t *built, json_t *obj)
{
    if (built == NULL)
        return false;
    json_decref(obj);
    return true;
}

int lossd_openapi_add_v2(json_t *paths, json_t *schemas, json_t *responses, const json_t *errors)
{
    bool ok = kept(with_paths(json_incref(paths)), paths);
    ok = kept(with_schemas(json_incref(schemas)), schemas) && ok;
    ok = kept(with_responses(json_incref(responses), errors), responses) && ok;
    return ok ? 0 : -1;
}
