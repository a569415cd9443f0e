/* SPDX-License-Identifier: MIT */
/*
 * v2_meta.c - /v2's server and model metadata and Triton's repository
 * index (see v2.h), from the models of model.h. The metadata is written
 * with jansson, built once at start-up; the index, whose request has a
 * body, is read and written per request on the thread serving it.
 */
#include <string.h>

#include <jansson.h>

#include "catalog.h"
#include "codec.h"
#include "model.h"
#include "v2.h"

static char *dump(json_t *doc)
{
    /* Defaults are short decimals: 15 digits print them as written (1e-7, not 9.99...e-8). */
    char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(doc);
    return text;
}

char *lossd_v2_server_json(void)
{
    return dump(json_pack("{s:s, s:s, s:[s, s]}", "name", "lossd", "version", LOSSD_VERSION_STRING,
                          "extensions", "binary_tensor_data", "model_repository"));
}

static json_t *shape_json(int rank, const long long *shape)
{
    json_t *a = json_array();
    for (int d = 0; a && d < rank; d++)
        json_array_append_new(a, json_integer(shape[d]));
    return a;
}

static json_t *input_json(const lossd_model_input *in)
{
    json_t *types = json_array();
    static const lossd_datatype order[] = {LOSSD_DT_INT64, LOSSD_DT_INT32, LOSSD_DT_FP64,
                                           LOSSD_DT_FP32};
    for (size_t i = 0; types && i < sizeof order / sizeof order[0]; i++)
        if (lossd_model_input_takes(in, order[i]))
            json_array_append_new(types, json_string(lossd_datatype_name(order[i])));
    json_t *entry =
        json_pack("{s:s, s:s, s:o, s:o, s:s}", "name", in->name, "datatype",
                  in->index_only ? "INT64" : "FP64", "shape", shape_json(in->rank, in->shape),
                  "datatypes", types, "summary", in->summary ? in->summary : "");
    if (entry && in->optional)
        json_object_set_new(entry, "optional", json_true());
    return entry;
}

static json_t *output_json(const lossd_model_output *out)
{
    char path[64];
    return json_pack("{s:s, s:s, s:o}", "name", lossd_model_output_path(out, path, sizeof path),
                     "datatype", "FP64", "shape", shape_json(out->rank, out->shape));
}

char *lossd_v2_model_json(const lossd_function *fn)
{
    const lossd_model *m = lossd_model_of(fn);
    if (m == NULL)
        return NULL;
    json_t *ins = json_array(), *outs = json_array(), *params = json_array();
    for (size_t i = 0; i < m->n_inputs; i++)
        json_array_append_new(ins, input_json(&m->inputs[i]));
    for (size_t i = 0; i < m->n_outputs; i++)
        json_array_append_new(outs, output_json(&m->outputs[i]));
    if (fn->kind == LOSSD_KIND_LOSS) {
        bool batchmean = fn->flags & LOSSD_FN_BATCHMEAN;
        json_t *choices = json_pack("[s, s, s]", "mean", "sum", "none");
        if (batchmean)
            json_array_append_new(choices, json_string("batchmean"));
        json_array_append_new(
            params,
            json_pack("{s:s, s:s, s:s, s:s, s:{s:o}, s:s}", "name", "reduction", "type", "string",
                      "default", "mean", "domain",
                      batchmean ? "one of: mean, sum, none, batchmean" : "one of: mean, sum, none",
                      "constraints", "choices", choices, "summary",
                      "how the loss terms are combined"));
    }
    for (size_t i = 0; i < fn->n_params; i++)
        if (fn->params[i].type != LOSSD_PARAM_TENSOR)
            json_array_append_new(params, lossd_catalog_param(&fn->params[i]));
    return dump(json_pack("{s:s, s:[s], s:s, s:o, s:o, s:o}", "name", m->name, "versions", "1",
                          "platform", "lossd", "inputs", ins, "outputs", outs, "parameters",
                          params));
}

/*
 * Reads an index request: no body, or an object whose one field, "ready",
 * is a boolean (every model is ready: both answers list them all). Returns
 * 0, or -1 with f set.
 */
static int read_index_request(const lossd_body *body, lossd_fault *f)
{
    if (body->len == 0)
        return 0; /* what tritonclient's get_model_repository_index() sends */
    json_t *root = lossd_codec_load(body->data, body->len, NULL, f);
    if (root == NULL)
        return -1;
    const char *key;
    json_t *v;
    int rc = 0;
    json_object_foreach(root, key, v)
    {
        if (strcmp(key, "ready") != 0)
            rc = lossd_fault_set(f, LOSSD_FAULT_INVALID_ARGUMENT, key,
                                 "unknown field; a repository index request takes: ready");
        else if (!json_is_boolean(v))
            rc = lossd_fault_set(f, LOSSD_FAULT_INVALID_ARGUMENT, key, "expected a boolean, got %s",
                                 lossd_codec_type_name(v));
        if (rc < 0)
            break;
    }
    json_decref(root);
    return rc;
}

void lossd_v2_repository_index(lossd_body *body, lossd_reply *reply)
{
    lossd_fault f = {0};
    int rc = read_index_request(body, &f);
    lossd_body_cleanup(body);
    if (rc < 0) {
        lossd_reply_fault(reply, &f, true);
        return;
    }
    lossd_buf *out = &reply->body;
    lossd_buf_puts(out, "[");
    for (size_t i = 0; i < lossd_function_count(); i++) {
        const lossd_model *m = lossd_model_of(lossd_function_at(i));
        lossd_buf_printf(out, "%s{\"name\":\"%s\",\"version\":\"1\",\"state\":\"READY\"}",
                         i ? "," : "", m->name);
    }
    lossd_buf_puts(out, "]");
    if (lossd_buf_failed(out)) {
        lossd_fault_set(&f, LOSSD_FAULT_INTERNAL, NULL, "out of memory for the repository index");
        lossd_reply_fault(reply, &f, true);
    }
}
