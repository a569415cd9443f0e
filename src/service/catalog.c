/*
 * catalog.c - the /v1/functions catalog from the registry (see catalog.h).
 * Written with jansson: it is built once and small.
 */
#include <stdio.h>
#include <string.h>

#include <jansson.h>
#include <lossd/lossd.h>

#include "catalog.h"

static json_t *param_default(const lossd_param_spec *spec)
{
    char text[64];
    switch (spec->type) {
    case LOSSD_PARAM_NUMBER:
        return json_real(spec->default_number);
    case LOSSD_PARAM_INTEGER:
        return json_integer((json_int_t)spec->default_number);
    case LOSSD_PARAM_BOOL:
        return json_boolean(spec->default_number != 0);
    case LOSSD_PARAM_TENSOR:
        return json_null();
    case LOSSD_PARAM_CHOICE:
    case LOSSD_PARAM_LOG_BASE:
        lossd_param_default_text(spec, text, sizeof text);
        if (spec->type == LOSSD_PARAM_LOG_BASE && spec->default_number != 0)
            return json_real(spec->default_number);
        return json_string(text);
    }
    return json_null();
}

json_t *lossd_catalog_param(const lossd_param_spec *spec)
{
    char domain[256];
    lossd_param_domain_text(spec, domain, sizeof domain);
    json_t *p = json_pack("{s:s, s:s, s:o, s:s, s:s}", "name", spec->name, "type",
                          lossd_param_type_name(spec->type), "default", param_default(spec),
                          "domain", domain, "summary", spec->summary);
    if (p && spec->required)
        json_object_set_new(p, "required", json_true());
    return p;
}

static json_t *describe(const lossd_function *fn)
{
    char path[96];
    snprintf(path, sizeof path, "/v1/%s/%s", lossd_kind_name(fn->kind), fn->name);
    json_t *operands = json_object(), *params = json_array();
    for (size_t k = 0; k < 2; k++)
        if (fn->operands[k].shape != LOSSD_SHAPE_NONE)
            json_object_set_new(operands, fn->operands[k].name,
                                json_string(fn->operands[k].summary));
    for (size_t i = 0; i < fn->n_params; i++)
        json_array_append_new(params, lossd_catalog_param(&fn->params[i]));
    json_t *entry =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:b}", "kind",
                  lossd_kind_name(fn->kind), "name", fn->name, "path", path, "summary", fn->summary,
                  "formula", fn->formula, "reference", fn->reference, "operands", operands,
                  "params", params, "grad", (fn->flags & LOSSD_FN_GRAD) != 0);
    if (fn->kind == LOSSD_KIND_LOSS) {
        json_t *reductions = json_pack("[s, s, s]", "mean", "sum", "none");
        if (fn->flags & LOSSD_FN_BATCHMEAN)
            json_array_append_new(reductions, json_string("batchmean"));
        json_object_set_new(entry, "reductions", reductions);
    }
    if (fn->flags & LOSSD_FN_TERMS) {
        json_t *terms = json_array();
        for (size_t k = 0; fn->terms[k]; k++)
            json_array_append_new(terms, json_string(fn->terms[k]));
        json_object_set_new(entry, "terms", terms);
    }
    return entry;
}

static char *dump(json_t *doc)
{
    /* Defaults are short decimals: 15 digits print them as written (1e-7, not 9.99...e-8). */
    char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(doc);
    return text;
}

char *lossd_catalog_functions_json(void)
{
    json_t *list = json_array();
    for (size_t i = 0; list && i < lossd_function_count(); i++)
        if (json_array_append_new(list, describe(lossd_function_at(i))) < 0) {
            json_decref(list);
            return NULL;
        }
    return dump(json_pack("{s:o, s:i}", "functions", list, "count", (int)lossd_function_count()));
}

char *lossd_catalog_v1_json(void)
{
    return dump(json_pack("{s:s, s:s, s:i}", "name", "lossd", "version", LOSSD_VERSION_STRING,
                          "functions", (int)lossd_function_count()));
}
