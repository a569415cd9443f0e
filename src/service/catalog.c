/* SPDX-License-Identifier: MIT */
/*
 * catalog.c - the /v1/functions catalog and its single entries, with an
 * example request each, from the registry (see catalog.h).
 * Written with jansson: it is built once and small.
 */
#include <math.h>
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

/* Sets key to a number that is finite (an infinite bound is no bound). */
static void set_bound(json_t *obj, const char *key, double x, const char *exclusive, bool open)
{
    if (!isfinite(x))
        return;
    json_object_set_new(obj, key, json_real(x));
    if (open)
        json_object_set_new(obj, exclusive, json_true());
}

/*
 * A parameter's domain as data, beside its text: bounds with their
 * openness, the values accepted or refused besides, the choices, the
 * integer flag, a tensor's shape rule. Only what applies is present.
 */
static json_t *param_constraints(const lossd_param_spec *spec)
{
    static const char *const tensor_shapes[] = {
        [LOSSD_PSHAPE_NONE] = "any",
        [LOSSD_PSHAPE_BROADCAST] = "broadcast",
        [LOSSD_PSHAPE_CLASSES] = "classes",
        [LOSSD_PSHAPE_CHANNELS] = "channels",
    };
    const lossd_domain *d = &spec->domain;
    json_t *c = json_object(), *choices;
    switch (spec->type) {
    case LOSSD_PARAM_INTEGER:
        json_object_set_new(c, "integer", json_true());
        /* fall through */
    case LOSSD_PARAM_NUMBER:
        set_bound(c, "min", d->lo, "min_exclusive", d->lo_open);
        set_bound(c, "max", d->hi, "max_exclusive", d->hi_open);
        if (d->has_also)
            json_object_set_new(c, "also", json_pack("[f]", d->also));
        if (d->has_except)
            json_object_set_new(c, "except", json_pack("[f]", d->except));
        break;
    case LOSSD_PARAM_LOG_BASE: /* "e", or a number > 0 and != 1 */
        json_object_set_new(c, "choices", json_pack("[s]", "e"));
        set_bound(c, "min", 0, "min_exclusive", true);
        json_object_set_new(c, "except", json_pack("[f]", 1.0));
        break;
    case LOSSD_PARAM_CHOICE:
        choices = json_array();
        for (size_t i = 0; spec->choices[i]; i++)
            json_array_append_new(choices, json_string(spec->choices[i]));
        json_object_set_new(c, "choices", choices);
        break;
    case LOSSD_PARAM_TENSOR:
        json_object_set_new(c, "shape", json_string(tensor_shapes[spec->shape]));
        break;
    case LOSSD_PARAM_BOOL:
        break;
    }
    return c;
}

json_t *lossd_catalog_param(const lossd_param_spec *spec)
{
    char domain[256];
    lossd_param_domain_text(spec, domain, sizeof domain);
    json_t *p =
        json_pack("{s:s, s:s, s:o, s:s, s:o, s:s}", "name", spec->name, "type",
                  lossd_param_type_name(spec->type), "default", param_default(spec), "domain",
                  domain, "constraints", param_constraints(spec), "summary", spec->summary);
    if (p && spec->required)
        json_object_set_new(p, "required", json_true());
    return p;
}

/* The length of an operand's last axis, as data: {"size"}, {"min"}, or per choice of a parameter.
 */
static json_t *last_axis_json(const lossd_function *fn, const lossd_rule *rule)
{
    const lossd_axis_rule *axis = &rule->last_axis;
    const lossd_param_spec *spec = axis->param ? lossd_function_param(fn, axis->param) : NULL;
    if (spec) { /* the lengths of the choices this function offers */
        json_t *sizes = json_object();
        for (size_t i = 0; spec->choices[i]; i++)
            json_object_set_new(
                sizes, spec->choices[i],
                json_integer((json_int_t)lossd_rule_axis_length(rule, spec->choices[i])));
        return json_pack("{s:s, s:o}", "param", axis->param, "sizes", sizes);
    }
    if (axis->size)
        return json_pack("{s:I}", "size", (json_int_t)axis->size);
    if (axis->min)
        return json_pack("{s:I}", "min", (json_int_t)axis->min);
    return NULL;
}

/* The shape operand k may take, as data: like the first operand, one per its row, or its own ranks.
 */
static json_t *operand_shape_json(const lossd_function *fn, size_t k, const lossd_rule *rule)
{
    const char *first = fn->operands[0].name;
    json_t *shape = json_pack("{s:s}", "text", rule->shape_text);
    if (k > 0 && (fn->operands[k].flags & LOSSD_OPERAND_LIKE_INPUT)) {
        json_object_set_new(shape, "like", json_string(first));
        json_object_set_new(shape, "text", json_sprintf("%s's shape", first));
        return shape;
    }
    if (rule->rows_of_first) {
        json_object_set_new(shape, "rows_of", json_string(first));
    } else {
        json_object_set_new(shape, "rank",
                            json_pack("{s:i, s:i}", "min", rule->min_rank, "max", rule->max_rank));
        json_t *axis = last_axis_json(fn, rule);
        if (axis)
            json_object_set_new(shape, "last_axis", axis);
    }
    if (rule->empty_batch)
        json_object_set_new(shape, "empty_batch", json_true());
    if (rule->or_like_first)
        json_object_set_new(shape, "or_like", json_string(first));
    return shape;
}

static json_t *operand_values_json(const lossd_rule *rule)
{
    json_t *values = json_pack("{s:s, s:s}", "kind", rule->values, "text", rule->values_text);
    if (strcmp(rule->values, "range") == 0) {
        json_object_set_new(values, "min", json_real(rule->lo));
        json_object_set_new(values, "max", json_real(rule->hi));
    }
    if (rule->integers)
        json_object_set_new(values, "integers", json_true());
    if (rule->log_param)
        json_object_set_new(values, "logarithms_with", json_string(rule->log_param));
    return values;
}

/* Operand k as data: its rule's name, shape and values, and whether a loss has a term per row. */
static json_t *operand_json(const lossd_function *fn, size_t k)
{
    const lossd_operand_spec *op = &fn->operands[k];
    const lossd_rule *rule = lossd_rule_get(op->rule);
    json_t *entry = json_pack("{s:s, s:s, s:s, s:o, s:o}", "name", op->name, "rule", rule->name,
                              "summary", op->summary, "shape", operand_shape_json(fn, k, rule),
                              "values", operand_values_json(rule));
    if (entry && k == 0 && rule->per_row && fn->kind == LOSSD_KIND_LOSS)
        json_object_set_new(entry, "term_per_row", json_true());
    /* whether "grad" may name it: a gradient with respect to this operand */
    unsigned has_grad = k == 0 ? LOSSD_FN_GRAD : LOSSD_FN_GRAD_SECOND;
    json_object_set_new(entry, "grad", json_boolean((fn->flags & has_grad) != 0));
    return entry;
}

json_t *lossd_catalog_reductions(const lossd_function *fn)
{
    json_t *reductions = json_pack("[s, s, s]", "mean", "sum", "none");
    if (reductions && (fn->flags & LOSSD_FN_BATCHMEAN) &&
        json_array_append_new(reductions, json_string("batchmean")) < 0) {
        json_decref(reductions);
        return NULL;
    }
    return reductions;
}

static json_t *describe(const lossd_function *fn)
{
    char path[96];
    snprintf(path, sizeof path, "/v1/%s/%s", lossd_kind_name(fn->kind), fn->name);
    json_t *operands = json_object(), *specs = json_array(), *params = json_array();
    for (size_t k = 0; k < 2; k++)
        if (fn->operands[k].rule != LOSSD_RULE_NONE) {
            json_object_set_new(operands, fn->operands[k].name,
                                json_string(fn->operands[k].summary));
            json_array_append_new(specs, operand_json(fn, k));
        }
    for (size_t i = 0; i < fn->n_params; i++)
        json_array_append_new(params, lossd_catalog_param(&fn->params[i]));
    json_t *entry = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:b}", "kind",
                              lossd_kind_name(fn->kind), "name", fn->name, "path", path, "summary",
                              fn->summary, "formula", fn->formula, "reference", fn->reference,
                              "operands", operands, "operand_specs", specs, "params", params,
                              "grad", (fn->flags & LOSSD_FN_GRAD) != 0);
    if (fn->kind == LOSSD_KIND_LOSS)
        json_object_set_new(entry, "reductions", lossd_catalog_reductions(fn));
    if (fn->flags & LOSSD_FN_TERMS) {
        /* "terms": every name the reply's terms carry; "term_specs": the same, as data */
        json_t *terms = json_array(), *term_specs = json_array();
        const char *name;
        const lossd_term_alias *alias;
        for (size_t k = 0; (name = lossd_function_reported_term(fn, k, NULL, &alias)); k++) {
            json_array_append_new(terms, json_string(name));
            json_t *spec = json_pack("{s:s, s:b}", "name", name, "deprecated", alias != NULL);
            if (alias) {
                json_object_set_new(spec, "same_as", json_string(alias->term));
                json_object_set_new(spec, "removed_in", json_string(alias->removed_in));
            }
            json_array_append_new(term_specs, spec);
        }
        json_object_set_new(entry, "terms", terms);
        json_object_set_new(entry, "term_specs", term_specs);
    }
    return entry;
}

/*
 * The example value of operand k: its rule's example as a first operand,
 * or as a second (each row's second example fits its first operands'
 * examples: the same shape, or one class index per row). NULL when the
 * rule has none for that place.
 */
static json_t *example_operand(const lossd_function *fn, size_t k)
{
    const char *text = lossd_rule_get(fn->operands[k].rule)->examples[k];
    return text ? json_loads(text, 0, NULL) : NULL;
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
        if (fn->operands[k].rule == LOSSD_RULE_NONE)
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
