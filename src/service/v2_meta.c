/* SPDX-License-Identifier: MIT */
/*
 * v2_meta.c - /v2's server and model metadata (see v2.h), from the
 * models of model.h. Written with jansson: built once at start-up.
 */
#include <jansson.h>

#include "catalog.h"
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
    return dump(json_pack("{s:s, s:s, s:[s]}", "name", "lossd", "version", LOSSD_VERSION_STRING,
                          "extensions", "binary_tensor_data"));
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
