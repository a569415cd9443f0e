/* SPDX-License-Identifier: MIT */
/*
 * catalog.c - the /v1/functions catalog and its single entries, with an
 * example request each, from the registry (see catalog.h).
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

/*
 * Example operands, by the operand's shape rule and value rule: small,
 * valid for every function whose rules they match, so that an example
 * request computes (tests/check_web.c posts every function's example).
 * The second operand's LIKE_INPUT rows follow the first operand's row.
 */
static const struct {
    lossd_shape_rule shape;
    lossd_value_rule values;
    lossd_shape_rule first; /* LIKE_INPUT: the first operand's rule; else LOSSD_SHAPE_NONE */
    const char *json;
} example_operands[] = {
    {LOSSD_SHAPE_ANY, LOSSD_VALUES_ANY, LOSSD_SHAPE_NONE, "[-1.5, -0.25, 0.0, 0.75, 2.0]"},
    {LOSSD_SHAPE_ANY, LOSSD_VALUES_PROBABILITY, LOSSD_SHAPE_NONE, "[0.1, 0.3, 0.5, 0.7, 0.9]"},
    /* in [0, 1]: kl_div's target is a probability (unless log_target) */
    {LOSSD_SHAPE_LIKE_INPUT, LOSSD_VALUES_ANY, LOSSD_SHAPE_ANY, "[0.0, 0.25, 0.5, 0.5, 1.0]"},
    {LOSSD_SHAPE_LIKE_INPUT, LOSSD_VALUES_PROBABILITY, LOSSD_SHAPE_ANY,
     "[0.0, 1.0, 0.5, 1.0, 0.0]"},
    {LOSSD_SHAPE_SCORES, LOSSD_VALUES_ANY, LOSSD_SHAPE_NONE, "[[2.0, 0.5, -1.0], [0.1, 0.2, 1.5]]"},
    {LOSSD_SHAPE_CLASS_INDEX, LOSSD_VALUES_ANY, LOSSD_SHAPE_NONE, "[0, 2]"},
    {LOSSD_SHAPE_BIN_TARGET, LOSSD_VALUES_ANY, LOSSD_SHAPE_NONE, "[0.5, 1.75]"},
    {LOSSD_SHAPE_CLASS_OR_PROB, LOSSD_VALUES_PROBABILITY, LOSSD_SHAPE_NONE, "[0, 2]"},
    {LOSSD_SHAPE_BOXES, LOSSD_VALUES_BOX, LOSSD_SHAPE_NONE,
     "[[0.0, 0.0, 2.0, 1.0], [1.0, 1.0, 3.0, 4.0]]"},
    {LOSSD_SHAPE_LIKE_INPUT, LOSSD_VALUES_BOX, LOSSD_SHAPE_BOXES,
     "[[0.0, 0.0, 1.0, 2.0], [2.0, 0.0, 4.0, 3.0]]"},
    {LOSSD_SHAPE_BOX_LIST, LOSSD_VALUES_BOX, LOSSD_SHAPE_NONE,
     "[[0.0, 0.0, 2.0, 1.0], [1.0, 1.0, 3.0, 4.0]]"},
    {LOSSD_SHAPE_DISTRIBUTIONS, LOSSD_VALUES_ANY, LOSSD_SHAPE_NONE, "[0.5, 0.25, 0.25]"},
    {LOSSD_SHAPE_LIKE_INPUT, LOSSD_VALUES_ANY, LOSSD_SHAPE_DISTRIBUTIONS, "[0.25, 0.25, 0.5]"},
};

/* The example value of operand k, or NULL when no row matches (a new rule needs a row). */
static json_t *example_operand(const lossd_function *fn, size_t k)
{
    const lossd_operand_spec *op = &fn->operands[k];
    lossd_shape_rule first = k == 0 ? LOSSD_SHAPE_NONE : fn->operands[0].shape;
    for (size_t i = 0; i < sizeof example_operands / sizeof example_operands[0]; i++) {
        if (example_operands[i].shape != op->shape || example_operands[i].values != op->values)
            continue;
        if (op->shape == LOSSD_SHAPE_LIKE_INPUT && example_operands[i].first != first)
            continue;
        return json_loads(example_operands[i].json, 0, NULL);
    }
    return NULL;
}

/* A parameter's example value: its default, or for a required tensor a single number. */
static json_t *example_param(const lossd_param_spec *spec)
{
    if (spec->type == LOSSD_PARAM_TENSOR)
        return spec->required ? json_real(0.25) : NULL;
    return param_default(spec);
}

/*
 * A request body that computes: the operands from the table above, the
 * loss reduction, and every parameter with its default (so that a form
 * built from it shows them all); optional tensor parameters are left out.
 */
static json_t *example(const lossd_function *fn)
{
    json_t *body = json_object();
    for (size_t k = 0; body && k < 2; k++) {
        if (fn->operands[k].shape == LOSSD_SHAPE_NONE)
            continue;
        json_t *value = example_operand(fn, k);
        if (value == NULL) {
            json_decref(body);
            return NULL;
        }
        json_object_set_new(body, fn->operands[k].name, value);
    }
    if (body && fn->kind == LOSSD_KIND_LOSS)
        json_object_set_new(body, "reduction", json_string("mean"));
    for (size_t i = 0; body && i < fn->n_params; i++) {
        json_t *value = example_param(&fn->params[i]);
        if (value)
            json_object_set_new(body, fn->params[i].name, value);
    }
    return body;
}

static char *dump(json_t *doc)
{
    /* Defaults are short decimals: 15 digits print them as written (1e-7, not 9.99...e-8). */
    char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(doc);
    return text;
}

/* The entries of the functions of one kind (-1: every kind), and their count. */
static json_t *entries(int kind, size_t *count)
{
    json_t *list = json_array();
    *count = 0;
    for (size_t i = 0; list && i < lossd_function_count(); i++) {
        const lossd_function *fn = lossd_function_at(i);
        if (kind >= 0 && fn->kind != (lossd_kind)kind)
            continue;
        if (json_array_append_new(list, describe(fn)) < 0) {
            json_decref(list);
            return NULL;
        }
        ++*count;
    }
    return list;
}

char *lossd_catalog_functions_json(void)
{
    size_t count;
    json_t *list = entries(-1, &count);
    return list ? dump(json_pack("{s:o, s:i}", "functions", list, "count", (int)count)) : NULL;
}

char *lossd_catalog_kind_json(lossd_kind kind)
{
    size_t count;
    json_t *list = entries((int)kind, &count);
    return list ? dump(json_pack("{s:s, s:o, s:i}", "kind", lossd_kind_name(kind), "functions",
                                 list, "count", (int)count))
                : NULL;
}

char *lossd_catalog_function_json(const lossd_function *fn)
{
    json_t *entry = describe(fn), *body = example(fn);
    if (entry == NULL || body == NULL) {
        json_decref(entry);
        json_decref(body);
        return NULL;
    }
    json_object_set_new(entry, "example", body);
    return dump(entry);
}

char *lossd_catalog_v1_json(void)
{
    json_t *links =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "functions", "/v1/functions", "kind",
                  "/v1/functions/{kind}", "function", "/v1/functions/{kind}/{name}", "openapi",
                  "/openapi.yaml", "openapi_json", "/openapi.json", "playground", "/");
    return dump(json_pack("{s:s, s:s, s:i, s:o}", "name", "lossd", "version", LOSSD_VERSION_STRING,
                          "functions", (int)lossd_function_count(), "links", links));
}
