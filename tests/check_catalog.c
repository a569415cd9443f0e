/* SPDX-License-Identifier: MIT */
/*
 * check_catalog.c - the catalog documents (catalog.c): /v1/functions with
 * every registered function's entry and, value by value, the details of
 * a few (terms, reductions, parameters' types, defaults and domains,
 * operands); and /v1.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/service/catalog.h"
#include "serviceutil.h"

/* A parameter's "constraints" say its domain as data: the same bounds the registry row has. */
static void expect_constraints(const json_t *p, const lossd_param_spec *spec)
{
    const json_t *c = json_object_get(p, "constraints");
    const lossd_domain *d = &spec->domain;
    ck_assert_msg(json_is_object(c), "%s: no constraints", spec->name);
    if (spec->type == LOSSD_PARAM_NUMBER || spec->type == LOSSD_PARAM_INTEGER) {
        const json_t *min = json_object_get(c, "min"), *max = json_object_get(c, "max");
        ck_assert((min != NULL) == isfinite(d->lo));
        ck_assert((max != NULL) == isfinite(d->hi));
        if (min) {
            ck_assert(same_bits(json_number_value(min), d->lo));
            ck_assert(json_is_true(json_object_get(c, "min_exclusive")) == d->lo_open);
        }
        if (max) {
            ck_assert(same_bits(json_number_value(max), d->hi));
            ck_assert(json_is_true(json_object_get(c, "max_exclusive")) == d->hi_open);
        }
        const json_t *also = json_object_get(c, "also"), *except = json_object_get(c, "except");
        ck_assert((also != NULL) == d->has_also);
        ck_assert((except != NULL) == d->has_except);
        if (also)
            ck_assert(same_bits(json_number_value(json_array_get(also, 0)), d->also));
        if (except)
            ck_assert(same_bits(json_number_value(json_array_get(except, 0)), d->except));
        ck_assert(json_is_true(json_object_get(c, "integer")) ==
                  (spec->type == LOSSD_PARAM_INTEGER));
    }
    if (spec->type == LOSSD_PARAM_CHOICE) {
        const json_t *choices = json_object_get(c, "choices");
        size_t n = 0;
        for (; spec->choices[n]; n++)
            ck_assert_str_eq(json_string_value(json_array_get(choices, n)), spec->choices[n]);
        ck_assert_uint_eq(json_array_size(choices), n);
    }
}

/* An operand's spec says its rule's shape and values as data. */
static void expect_operand_spec(const json_t *o, const lossd_function *fn, size_t k)
{
    const lossd_operand_spec *op = &fn->operands[k];
    const lossd_rule *rule = lossd_rule_get(op->rule);
    const json_t *shape = json_object_get(o, "shape"), *values = json_object_get(o, "values");
    ck_assert_str_eq(string_at(o, "name"), op->name);
    ck_assert_str_eq(string_at(o, "rule"), rule->name);
    ck_assert_str_eq(string_at(o, "summary"), op->summary);
    bool like = op->flags & LOSSD_OPERAND_LIKE_INPUT;
    ck_assert((json_object_get(shape, "like") != NULL) == like);
    if (like) {
        ck_assert_str_eq(string_at(shape, "like"), fn->operands[0].name);
    } else if (rule->rows_of_first) {
        ck_assert_str_eq(string_at(shape, "rows_of"), fn->operands[0].name);
    } else {
        const json_t *rank = json_object_get(shape, "rank");
        ck_assert(same_bits(number_at(rank, "min"), rule->min_rank));
        ck_assert(same_bits(number_at(rank, "max"), rule->max_rank));
        const json_t *axis = json_object_get(shape, "last_axis");
        if (rule->last_axis.size)
            ck_assert(same_bits(number_at(axis, "size"), (double)rule->last_axis.size));
        else if (rule->last_axis.min)
            ck_assert(same_bits(number_at(axis, "min"), (double)rule->last_axis.min));
        else if (!rule->last_axis.param)
            ck_assert_ptr_null(axis);
        ck_assert(json_is_true(json_object_get(shape, "empty_batch")) == rule->empty_batch);
    }
    unsigned has_grad = k == 0 ? LOSSD_FN_GRAD : LOSSD_FN_GRAD_SECOND;
    ck_assert(json_is_true(json_object_get(o, "grad")) == ((fn->flags & has_grad) != 0));
    ck_assert_str_eq(string_at(values, "kind"), rule->values);
    ck_assert(json_is_true(json_object_get(values, "integers")) == rule->integers);
    if (strcmp(rule->values, "range") == 0) {
        ck_assert(same_bits(number_at(values, "min"), rule->lo));
        ck_assert(same_bits(number_at(values, "max"), rule->hi));
    }
}

START_TEST(catalog_functions)
{
    char *text = lossd_catalog_functions_json();
    ck_assert_ptr_nonnull(text);
    json_t *doc = parse_json(text);
    json_t *list = json_object_get(doc, "functions");
    ck_assert_uint_eq(json_array_size(list), lossd_function_count());
    ck_assert(same_bits(number_at(doc, "count"), (double)lossd_function_count()));
    for (size_t i = 0; i < lossd_function_count(); i++) {
        const lossd_function *fn = lossd_function_at(i);
        json_t *entry = json_array_get(list, i);
        char path[128];
        snprintf(path, sizeof path, "/v1/%s/%s", lossd_kind_name(fn->kind), fn->name);
        ck_assert_str_eq(string_at(entry, "kind"), lossd_kind_name(fn->kind));
        ck_assert_str_eq(string_at(entry, "name"), fn->name);
        ck_assert_str_eq(string_at(entry, "path"), path);
        ck_assert_str_eq(string_at(entry, "summary"), fn->summary);
        ck_assert_str_eq(string_at(entry, "formula"), fn->formula);
        ck_assert_str_eq(string_at(entry, "reference"), fn->reference);
        ck_assert(json_is_boolean(json_object_get(entry, "grad")));
        ck_assert(json_is_true(json_object_get(entry, "grad")) ==
                  ((fn->flags & LOSSD_FN_GRAD) != 0));
        /* The path routes back to this very function. */
        lossd_route r = route_of("POST", path);
        ck_assert_ptr_eq(r.fn, fn);
        /* Operands by request field name. */
        json_t *operands = json_object_get(entry, "operands");
        ck_assert(json_is_object(operands));
        size_t n_operands = 0;
        for (size_t k = 0; k < 2; k++)
            if (fn->operands[k].rule != LOSSD_RULE_NONE) {
                ck_assert_str_eq(string_at(operands, fn->operands[k].name),
                                 fn->operands[k].summary);
                n_operands++;
            }
        ck_assert_uint_eq(json_object_size(operands), n_operands);
        /* ... and as data, in order */
        json_t *specs = json_object_get(entry, "operand_specs");
        ck_assert_uint_eq(json_array_size(specs), n_operands);
        for (size_t k = 0; k < n_operands; k++)
            expect_operand_spec(json_array_get(specs, k), fn, k);
        /* Parameters in registry order, each with name, type, default, domain and summary. */
        json_t *params = json_object_get(entry, "params");
        ck_assert_uint_eq(json_array_size(params), fn->n_params);
        for (size_t k = 0; k < fn->n_params; k++) {
            json_t *p = json_array_get(params, k);
            const lossd_param_spec *spec = &fn->params[k];
            char domain[256];
            lossd_param_domain_text(spec, domain, sizeof domain);
            ck_assert_str_eq(string_at(p, "name"), spec->name);
            ck_assert_str_eq(string_at(p, "type"), lossd_param_type_name(spec->type));
            ck_assert_str_eq(string_at(p, "domain"), domain);
            ck_assert_str_eq(string_at(p, "summary"), spec->summary);
            ck_assert_ptr_nonnull(json_object_get(p, "default"));
            ck_assert(json_is_true(json_object_get(p, "required")) == spec->required);
            expect_constraints(p, spec);
        }
        /* Losses list their reductions; only box losses have terms. */
        json_t *reductions = json_object_get(entry, "reductions");
        ck_assert((reductions != NULL) == (fn->kind == LOSSD_KIND_LOSS));
        if (reductions) {
            ck_assert_str_eq(json_string_value(json_array_get(reductions, 0)), "mean");
            ck_assert_str_eq(json_string_value(json_array_get(reductions, 1)), "sum");
            ck_assert_str_eq(json_string_value(json_array_get(reductions, 2)), "none");
            ck_assert_uint_eq(json_array_size(reductions),
                              (fn->flags & LOSSD_FN_BATCHMEAN) ? 4 : 3);
        }
        ck_assert((json_object_get(entry, "terms") != NULL) == ((fn->flags & LOSSD_FN_TERMS) != 0));
    }
    json_decref(doc);
    free(text);
}
END_TEST

/* The catalog entry of kind/name. */
static json_t *catalog_entry(json_t *doc, const char *kind, const char *name)
{
    size_t i;
    json_t *entry;
    json_array_foreach(json_object_get(doc, "functions"), i, entry)
    {
        if (strcmp(string_at(entry, "kind"), kind) == 0 &&
            strcmp(string_at(entry, "name"), name) == 0)
            return entry;
    }
    ck_abort_msg("%s/%s is not in the catalog", kind, name);
    return NULL;
}

/* The parameter `name` of a catalog entry. */
static json_t *catalog_param(json_t *entry, const char *name)
{
    size_t i;
    json_t *p;
    json_array_foreach(json_object_get(entry, "params"), i, p)
    {
        if (strcmp(string_at(p, "name"), name) == 0)
            return p;
    }
    ck_abort_msg("no parameter %s", name);
    return NULL;
}

START_TEST(catalog_details)
{
    char *text = lossd_catalog_functions_json();
    json_t *doc = parse_json(text);

    json_t *giou = catalog_entry(doc, "loss", "giou");
    json_t *want = json_pack("[s, s]", "iou", "enclosing_area");
    ck_assert(json_equal(json_object_get(giou, "terms"), want));
    json_decref(want);
    want = json_pack("[s, s, s]", "mean", "sum", "none");
    ck_assert(json_equal(json_object_get(giou, "reductions"), want));
    json_decref(want);
    ck_assert(json_is_true(json_object_get(giou, "grad")));
    json_t *eps = json_object_get(catalog_param(giou, "eps"), "default");
    ck_assert(json_is_real(eps));
    ck_assert(same_bits(json_real_value(eps), 1e-7));
    ck_assert_ptr_nonnull(strstr(text, "\"name\":\"eps\",\"type\":\"number\",\"default\":1e-7,"));
    ck_assert_str_eq(string_at(catalog_param(giou, "box_format"), "default"), "xyxy");
    ck_assert_str_eq(string_at(catalog_param(giou, "box_format"), "type"), "string");
    ck_assert_str_eq(string_at(catalog_param(giou, "eps"), "type"), "number");
    ck_assert_str_eq(string_at(json_object_get(giou, "operands"), "input"),
                     "predicted boxes (..., 4)");

    json_t *kl = catalog_entry(doc, "loss", "kl_div");
    want = json_pack("[s, s, s, s]", "mean", "sum", "none", "batchmean");
    ck_assert(json_equal(json_object_get(kl, "reductions"), want));
    json_decref(want);
    ck_assert(json_is_false(json_object_get(catalog_param(kl, "log_target"), "default")));
    ck_assert_str_eq(string_at(catalog_param(kl, "log_target"), "type"), "boolean");

    json_t *prelu = catalog_entry(doc, "activation", "prelu");
    json_t *weight = catalog_param(prelu, "weight");
    ck_assert(json_is_true(json_object_get(weight, "required")));
    ck_assert(json_is_null(json_object_get(weight, "default")));
    ck_assert_str_eq(string_at(weight, "type"), "tensor");
    ck_assert_ptr_null(json_object_get(prelu, "reductions"));
    ck_assert_ptr_null(json_object_get(
        catalog_param(catalog_entry(doc, "activation", "gelu"), "approximate"), "required"));

    json_t *ce = catalog_entry(doc, "loss", "cross_entropy");
    json_t *ignore = json_object_get(catalog_param(ce, "ignore_index"), "default");
    ck_assert(json_is_integer(ignore) && json_integer_value(ignore) == -100);
    ck_assert_str_eq(string_at(catalog_param(ce, "ignore_index"), "type"), "integer");
    ck_assert(same_bits(number_at(catalog_param(ce, "label_smoothing"), "default"), 0.0));
    ck_assert_str_eq(string_at(catalog_param(ce, "label_smoothing"), "domain"), "[0, 1]");

    json_t *entropy = catalog_entry(doc, "info", "entropy");
    ck_assert_str_eq(string_at(catalog_param(entropy, "base"), "default"), "e");
    ck_assert(json_is_true(json_object_get(entropy, "grad")));
    ck_assert_ptr_null(json_object_get(entropy, "reductions"));

    json_t *pairwise = catalog_entry(doc, "pairwise", "ciou");
    ck_assert_str_eq(string_at(pairwise, "path"), "/v1/pairwise/ciou");
    ck_assert_uint_eq(json_object_size(json_object_get(pairwise, "operands")), 2);

    /* siou follows mmdetection's arithmetic, not its default: the entry says so */
    json_t *siou = catalog_entry(doc, "loss", "siou");
    ck_assert(json_is_true(json_object_get(catalog_param(siou, "neg_gamma"), "default")));
    const char *reference = string_at(siou, "reference");
    ck_assert_msg(strstr(reference, "siou_loss") && strstr(reference, "neg_gamma true") &&
                      strstr(reference, "defaults it to false"),
                  "siou's reference does not say its default differs from mmdetection's: %s",
                  reference);

    json_t *focal = catalog_entry(doc, "loss", "sigmoid_focal");
    ck_assert(same_bits(number_at(catalog_param(focal, "alpha"), "default"), 0.25));
    ck_assert_str_eq(string_at(catalog_param(focal, "alpha"), "domain"), "[0, 1] or -1");

    json_decref(doc);
    free(text);

    text = lossd_catalog_v1_json();
    ck_assert_ptr_nonnull(text);
    doc = parse_json(text);
    ck_assert_uint_eq(json_object_size(doc), 4); /* name, version, functions, links */
    ck_assert_str_eq(string_at(doc, "name"), "lossd");
    ck_assert_str_eq(string_at(doc, "version"), LOSSD_VERSION_STRING);
    ck_assert(json_is_integer(json_object_get(doc, "functions")));
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "functions")),
                     (json_int_t)lossd_function_count());
    json_decref(doc);
    free(text);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("catalog");
    add_case(s, "catalog", 10, NULL, NULL, TESTS(catalog_functions, catalog_details));
    return run_service_suite(s);
}
