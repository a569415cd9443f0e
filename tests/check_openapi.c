/* SPDX-License-Identifier: MIT */
/*
 * check_openapi.c - the OpenAPI document lossd builds (openapi.c,
 * openapi_v2.c) and its YAML form (yaml.c).
 *
 * Paths: every registered function has its POST path taking exactly its
 * fields. Parameters: each schema says what the registry row's domain
 * says. Operands: each rule has its component, and a small validator of
 * the JSON Schema the document uses accepts every catalog example and
 * refuses what lossd refuses (a box of three numbers, a probability of
 * 1.5, a class index of 0.5, an unknown field...). YAML: read back by a
 * reader written here for the emitter's block layout, the YAML is the
 * JSON's tree; and the scalars YAML readers resolve differently from JSON
 * (reals without a point, keys such as "200" or "on", line separators)
 * come out in the forms they must. (scripts/check-docs reads it with
 * PyYAML too.) The document served over HTTP is check_web's.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/service/catalog.h"
#include "../src/service/codec.h"
#include "../src/service/openapi.h"
#include "../src/service/route.h"
#include "../src/service/yaml.h"
#include "../src/service/util.h"
#include "serviceutil.h"

/* ------------------------------------------------------------ helpers */

static const json_t *at(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    ck_assert_msg(v != NULL, "no \"%s\"", key);
    return v;
}

/* The request body schema of fn's POST path. */
static const json_t *request_schema(const json_t *doc, const lossd_function *fn)
{
    char path[96];
    snprintf(path, sizeof path, "/v1/%s/%s", lossd_kind_name(fn->kind), fn->name);
    const json_t *p = json_object_get(at(doc, "paths"), path);
    ck_assert_msg(p != NULL, "no path %s", path);
    return at(at(at(at(at(p, "post"), "requestBody"), "content"), "application/json"), "schema");
}

static bool has_string(const json_t *array, const char *s)
{
    size_t i;
    const json_t *v;
    json_array_foreach(array, i, v) if (strcmp(json_string_value(v), s) == 0) return true;
    return false;
}

/* ------------------------------------------------------------ a JSON Schema subset */

static bool valid(const json_t *doc, const json_t *schema, const json_t *value);

static bool valid_type(const char *type, const json_t *value)
{
    if (strcmp(type, "integer") == 0)
        return json_is_integer(value) ||
               (json_is_real(value) && json_real_value(value) == floor(json_real_value(value)));
    if (strcmp(type, "number") == 0)
        return json_is_number(value);
    if (strcmp(type, "string") == 0)
        return json_is_string(value);
    if (strcmp(type, "boolean") == 0)
        return json_is_boolean(value);
    if (strcmp(type, "array") == 0)
        return json_is_array(value);
    return strcmp(type, "object") == 0 && json_is_object(value);
}

/* minimum, maximum (with OpenAPI 3.0's boolean exclusive flags), enum, not. */
static bool valid_value(const json_t *doc, const json_t *schema, const json_t *value)
{
    const json_t *lo = json_object_get(schema, "minimum"), *hi = json_object_get(schema, "maximum");
    double x = json_number_value(value);
    if (lo && json_is_number(value) &&
        (json_is_true(json_object_get(schema, "exclusiveMinimum")) ? x <= json_number_value(lo)
                                                                   : x < json_number_value(lo)))
        return false;
    if (hi && json_is_number(value) &&
        (json_is_true(json_object_get(schema, "exclusiveMaximum")) ? x >= json_number_value(hi)
                                                                   : x > json_number_value(hi)))
        return false;
    const json_t *choices = json_object_get(schema, "enum"), *not = json_object_get(schema, "not");
    if (choices) {
        bool found = false;
        size_t i;
        const json_t *c;
        json_array_foreach(choices, i, c) found =
            found || json_equal(c, value) ||
            (json_is_number(c) && json_is_number(value) && json_number_value(c) == x);
        if (!found)
            return false;
    }
    return not == NULL || !valid(doc, not, value);
}

/* items, minItems, maxItems; properties, required, additionalProperties: false. */
static bool valid_container(const json_t *doc, const json_t *schema, const json_t *value)
{
    const json_t *items = json_object_get(schema, "items");
    const json_t *min = json_object_get(schema, "minItems"),
                 *max = json_object_get(schema, "maxItems");
    if (json_is_array(value)) {
        size_t n = json_array_size(value), i;
        if ((min && n < (size_t)json_integer_value(min)) ||
            (max && n > (size_t)json_integer_value(max)))
            return false;
        const json_t *item;
        json_array_foreach(value, i, item) if (items && !valid(doc, items, item)) return false;
    }
    if (!json_is_object(value))
        return true;
    const json_t *props = json_object_get(schema, "properties"), *v, *name;
    size_t i;
    json_array_foreach(json_object_get(schema, "required"), i,
                       name) if (json_object_get(value, json_string_value(name)) ==
                                 NULL) return false;
    const char *key;
    json_object_foreach((json_t *)value, key, v)
    {
        const json_t *p = json_object_get(props, key);
        if (p == NULL && json_is_false(json_object_get(schema, "additionalProperties")))
            return false;
        if (p && !valid(doc, p, v))
            return false;
    }
    return true;
}

/* How many of the schemas in `list` value satisfies. */
static size_t n_valid(const json_t *doc, const json_t *list, const json_t *value)
{
    size_t n = 0, i;
    const json_t *s;
    json_array_foreach(list, i, s) n += valid(doc, s, value);
    return n;
}

/* The keywords the document uses: $ref, allOf, anyOf, oneOf, nullable, type and the above. */
static bool valid(const json_t *doc, const json_t *schema, const json_t *value)
{
    const json_t *ref = json_object_get(schema, "$ref");
    if (ref) {
        const char *name = json_string_value(ref) + strlen("#/components/schemas/");
        return valid(doc, at(at(at(doc, "components"), "schemas"), name), value);
    }
    if (json_is_null(value))
        return json_is_true(json_object_get(schema, "nullable"));
    const json_t *all = json_object_get(schema, "allOf"), *any = json_object_get(schema, "anyOf");
    const json_t *one = json_object_get(schema, "oneOf"), *type = json_object_get(schema, "type");
    if ((all && n_valid(doc, all, value) != json_array_size(all)) ||
        (any && n_valid(doc, any, value) == 0) || (one && n_valid(doc, one, value) != 1))
        return false;
    if (type && !valid_type(json_string_value(type), value))
        return false;
    return valid_value(doc, schema, value) && valid_container(doc, schema, value);
}

/* fn's catalog example with `field` set to the JSON `value` (NULL text: removed). */
static json_t *example_with(const lossd_function *fn, const char *field, const char *value)
{
    char *text = lossd_catalog_function_json(fn);
    ck_assert_ptr_nonnull(text);
    json_t *entry = parse_json(text);
    free(text);
    json_t *body = json_incref(json_object_get(entry, "example"));
    json_decref(entry);
    ck_assert_ptr_nonnull(body);
    if (field && value)
        json_object_set_new(body, field, json_loads(value, JSON_DECODE_ANY, NULL));
    else if (field)
        json_object_del(body, field);
    return body;
}

/* Whether the document's schema for fn takes its example with field = value. */
static bool takes(const json_t *doc, lossd_kind kind, const char *name, const char *field,
                  const char *value)
{
    const lossd_function *fn = lossd_function_find(kind, name);
    ck_assert_msg(fn != NULL, "no function %s", name);
    json_t *body = example_with(fn, field, value);
    bool ok = valid(doc, request_schema(doc, fn), body);
    json_decref(body);
    return ok;
}

/* A body to try: fn's catalog example with field = value (JSON), and whether the document takes it.
 */
typedef struct {
    bool takes;
    lossd_kind kind;
    const char *name, *field, *value;
} body_case;

static void expect_cases(const json_t *doc, const body_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const body_case *c = &cases[i];
        ck_assert_msg(takes(doc, c->kind, c->name, c->field, c->value) == c->takes,
                      "%s/%s with %s = %s: %s", lossd_kind_name(c->kind), c->name, c->field,
                      c->value, c->takes ? "refused" : "taken");
    }
}

/* ------------------------------------------------------------ paths */

/* Every function has its path, whose body takes exactly its fields, and nothing else. */
START_TEST(every_function_has_its_fields)
{
    json_t *doc = lossd_openapi_document();
    ck_assert_ptr_nonnull(doc);
    ck_assert_str_eq(string_at(doc, "openapi"), "3.0.3");
    ck_assert_str_eq(string_at(at(doc, "info"), "version"), LOSSD_VERSION_STRING);
    for (size_t i = 0; i < lossd_function_count(); i++) {
        const lossd_function *fn = lossd_function_at(i);
        const json_t *schema = request_schema(doc, fn), *props = at(schema, "properties");
        const json_t *required = at(schema, "required");
        ck_assert(json_is_false(at(schema, "additionalProperties")));
        /* the codec's own list of the fields fn takes, in its order */
        char want[512], have[512] = "";
        lossd_codec_field_names(fn, want, sizeof want);
        const char *key;
        const json_t *p;
        size_t n_required = 0;
        json_object_foreach((json_t *)props, key, p)
        {
            lossd_names_add(have, sizeof have, key);
            const lossd_param_spec *spec = lossd_function_param(fn, key);
            bool operand =
                strcmp(key, fn->operands[0].name) == 0 ||
                (fn->operands[1].rule != LOSSD_RULE_NONE && strcmp(key, fn->operands[1].name) == 0);
            bool is_required = operand || (spec && spec->required);
            n_required += is_required;
            ck_assert_msg(has_string(required, key) == is_required, "%s.%s", fn->name, key);
            /* null stands for an optional field's default */
            ck_assert(json_is_true(json_object_get(p, "nullable")) == !is_required);
        }
        ck_assert_str_eq(have, want);
        ck_assert_uint_eq(json_array_size(required), n_required);
        if (fn->flags & LOSSD_FN_GRAD) {
            const json_t *names = at(json_array_get(at(at(props, "grad"), "oneOf"), 1), "items");
            ck_assert(has_string(at(names, "enum"), fn->operands[0].name));
            ck_assert_uint_eq(json_array_size(at(names, "enum")),
                              (fn->flags & LOSSD_FN_GRAD_SECOND) ? 2 : 1);
        }
        if (fn->kind == LOSSD_KIND_LOSS) {
            json_t *reductions = lossd_catalog_reductions(fn);
            ck_assert(json_equal(at(at(props, "reduction"), "enum"), reductions));
            json_decref(reductions);
        }
    }
    /* Every fixed endpoint of the router, with its method. */
    const char *method;
    for (size_t i = 0; lossd_route_fixed(i, &method); i++) {
        const char *path = lossd_route_fixed(i, &method);
        char verb[8];
        size_t n = 0;
        for (; method[n] && n + 1 < sizeof verb; n++)
            verb[n] = (char)(method[n] | 0x20); /* "GET" -> "get" */
        verb[n] = '\0';
        const json_t *p = json_object_get(at(doc, "paths"), path);
        ck_assert_msg(p != NULL, "no %s in the document", path);
        ck_assert_msg(json_object_get(p, verb) != NULL, "no %s %s in the document", method, path);
    }
    /* The paths that name registry entries, and /v2's per model. */
    static const char *const paths[] = {"/v1/functions/{kind}",
                                        "/v1/functions/{kind}/{name}",
                                        "/",
                                        "/v2/models/{model}",
                                        "/v2/models/{model}/ready",
                                        "/v2/models/{model}/infer",
                                        "/v2/models/{model}/versions/{version}/infer"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++)
        ck_assert_msg(json_object_get(at(doc, "paths"), paths[i]) != NULL, "no %s", paths[i]);
    const json_t *models = at(
        at(json_array_get(
               at(at(at(at(doc, "paths"), "/v2/models/{model}/infer"), "post"), "parameters"), 0),
           "schema"),
        "enum");
    ck_assert_uint_eq(json_array_size(models), lossd_function_count());
    ck_assert(has_string(models, "loss.ciou"));
    json_decref(doc);
}
END_TEST

/* ------------------------------------------------------------ parameters */

/* The numeric alternative of a parameter's schema (the one with a "type" of number or integer). */
static const json_t *numeric(const json_t *schema)
{
    const json_t *one = json_object_get(schema, "oneOf"), *s;
    size_t i;
    if (one == NULL)
        return schema;
    json_array_foreach(one, i, s) if (!json_object_get(s, "enum")) return s;
    return NULL;
}

/* Each parameter's schema has its row's bounds, openness, exceptions, choices and default. */
START_TEST(parameters_carry_their_domains)
{
    json_t *doc = lossd_openapi_document();
    size_t n_bounded = 0;
    for (size_t i = 0; i < lossd_function_count(); i++) {
        const lossd_function *fn = lossd_function_at(i);
        const json_t *props = at(request_schema(doc, fn), "properties");
        for (size_t p = 0; p < fn->n_params; p++) {
            const lossd_param_spec *spec = &fn->params[p];
            const json_t *schema = at(props, spec->name);
            const lossd_domain *d = &spec->domain;
            if (spec->type == LOSSD_PARAM_NUMBER || spec->type == LOSSD_PARAM_INTEGER) {
                const json_t *n = numeric(schema);
                ck_assert_ptr_nonnull(n);
                ck_assert_str_eq(string_at(n, "type"),
                                 spec->type == LOSSD_PARAM_INTEGER ? "integer" : "number");
                const json_t *lo = json_object_get(n, "minimum"),
                             *hi = json_object_get(n, "maximum");
                ck_assert_msg((lo != NULL) == isfinite(d->lo), "%s.%s", fn->name, spec->name);
                ck_assert((hi != NULL) == isfinite(d->hi));
                if (lo)
                    ck_assert(json_number_value(lo) == d->lo &&
                              json_is_true(json_object_get(n, "exclusiveMinimum")) == d->lo_open);
                if (hi)
                    ck_assert(json_number_value(hi) == d->hi &&
                              json_is_true(json_object_get(n, "exclusiveMaximum")) == d->hi_open);
                n_bounded += lo || hi;
                ck_assert((json_object_get(n, "not") != NULL) == d->has_except);
                ck_assert((json_object_get(schema, "oneOf") != NULL) == d->has_also);
                ck_assert(json_number_value(at(schema, "default")) == spec->default_number);
            } else if (spec->type == LOSSD_PARAM_CHOICE) {
                const json_t *choices = at(schema, "enum");
                size_t k = 0;
                for (; spec->choices[k]; k++)
                    ck_assert_str_eq(json_string_value(json_array_get(choices, k)),
                                     spec->choices[k]);
                ck_assert_uint_eq(json_array_size(choices), k);
                ck_assert_str_eq(string_at(schema, "default"), spec->choices[0]);
            } else if (spec->type == LOSSD_PARAM_BOOL) {
                ck_assert_str_eq(string_at(schema, "type"), "boolean");
                ck_assert(json_is_true(at(schema, "default")) == (spec->default_number != 0));
            }
            ck_assert_ptr_nonnull(strstr(string_at(schema, "description"), spec->summary));
        }
    }
    ck_assert_uint_ge(n_bounded, 10);
    /* Bodies the domains refuse, and those they take (a catalog example with one field set). */
    static const body_case cases[] = {
        /* Values the domains refuse, and the ones they take besides. */
        {true, LOSSD_KIND_LOSS, "smooth_l1", "beta", "0"},
        {false, LOSSD_KIND_LOSS, "smooth_l1", "beta", "-1"},
        {false, LOSSD_KIND_LOSS, "huber", "delta", "0"},
        {false, LOSSD_KIND_LOSS, "cross_entropy", "label_smoothing", "1.5"},
        {false, LOSSD_KIND_LOSS, "cross_entropy", "ignore_index", "1.5"},
        {true, LOSSD_KIND_LOSS, "sigmoid_focal", "alpha", "-1"},
        {false, LOSSD_KIND_LOSS, "sigmoid_focal", "alpha", "-0.5"},
        {false, LOSSD_KIND_ACTIVATION, "celu", "alpha", "0"},
        {false, LOSSD_KIND_LOSS, "iou", "box_format", "\"xyz\""},
        {true, LOSSD_KIND_LOSS, "iou", "box_format", "\"cxcywh\""},
        {true, LOSSD_KIND_INFO, "entropy", "base", "2"},
        {true, LOSSD_KIND_INFO, "entropy", "base", "\"e\""},
        {false, LOSSD_KIND_INFO, "entropy", "base", "1"},
        {false, LOSSD_KIND_INFO, "entropy", "base", "\"2\""},
        {true, LOSSD_KIND_LOSS, "mse", "reduction", "null"},
        {false, LOSSD_KIND_LOSS, "mse", "reduction", "\"batchmean\""},
        {true, LOSSD_KIND_LOSS, "kl_div", "reduction", "\"batchmean\""},
        /* The options every call has: grad as a flag or by operand, nonfinite. */
        {true, LOSSD_KIND_LOSS, "mse", "grad", "[\"input\"]"},
        {true, LOSSD_KIND_LOSS, "mse", "grad", "[\"target\"]"},
        {false, LOSSD_KIND_LOSS, "nll", "grad", "[\"target\"]"},
        {false, LOSSD_KIND_LOSS, "mse", "grad", "1"},
        {true, LOSSD_KIND_LOSS, "mse", "nonfinite", "\"strings\""},
        {false, LOSSD_KIND_LOSS, "mse", "nonfinite", "\"nan\""},
        {true, LOSSD_KIND_INFO, "entropy", "grad", "true"},
        {false, LOSSD_KIND_INFO, "entropy", "grad", "[\"q\"]"},
        {true, LOSSD_KIND_INFO, "js_divergence", "grad", "[\"p\", \"q\"]"},
        {false, LOSSD_KIND_PAIRWISE, "iou", "grad", "true"},
    };
    expect_cases(doc, cases, sizeof cases / sizeof cases[0]);
    json_decref(doc);
}
END_TEST

/* ------------------------------------------------------------ operands */

/* Each rule has a component, and each operand refers to its rule's. */
START_TEST(operands_follow_their_rules)
{
    json_t *doc = lossd_openapi_document();
    const json_t *schemas = at(at(doc, "components"), "schemas");
    for (size_t i = 0; i < lossd_function_count(); i++) {
        const lossd_function *fn = lossd_function_at(i);
        const json_t *props = at(request_schema(doc, fn), "properties");
        for (size_t k = 0; k < 2; k++) {
            const lossd_operand_spec *op = &fn->operands[k];
            if (op->rule == LOSSD_RULE_NONE)
                continue;
            const char *ref =
                string_at(json_array_get(at(at(props, op->name), "allOf"), 0), "$ref");
            const char *name = strrchr(ref, '/') + 1;
            ck_assert_ptr_nonnull(json_object_get(schemas, name));
            /* "class_indices" -> "ClassIndicesOperand": the rule's name without its underscores */
            const char *rule = lossd_rule_get(op->rule)->name;
            size_t r = 0, c = 0;
            for (; rule[r]; r++)
                if (rule[r] != '_')
                    ck_assert_msg((rule[r] | 0x20) == (name[c++] | 0x20), "%s for %s", name, rule);
            ck_assert_str_eq(name + c, "Operand");
        }
    }
    /* The examples of the catalog fit; what lossd refuses does not. */
    for (size_t i = 0; i < lossd_function_count(); i++) {
        const lossd_function *fn = lossd_function_at(i);
        json_t *body = example_with(fn, NULL, NULL);
        ck_assert_msg(valid(doc, request_schema(doc, fn), body), "%s's example", fn->name);
        json_decref(body);
        ck_assert(!takes(doc, fn->kind, fn->name, "no_such_field", "1"));
        ck_assert(!takes(doc, fn->kind, fn->name, fn->operands[0].name, NULL));
        ck_assert(!takes(doc, fn->kind, fn->name, fn->operands[0].name, "\"1\""));
    }
    /* What the operands' rules refuse, and what they take. */
    static const body_case cases[] = {
        {false, LOSSD_KIND_LOSS, "iou", "input", "[[0, 0, 1]]"},
        {false, LOSSD_KIND_LOSS, "iou", "input", "[[0, 0, 1, 1, 2]]"},
        {true, LOSSD_KIND_LOSS, "iou", "input", "[[[0, 0, 1, 1]], [[1, 1, 2, 2]]]"},
        {true, LOSSD_KIND_LOSS, "iou", "input", "[]"}, /* an empty batch */
        {false, LOSSD_KIND_PAIRWISE, "iou", "boxes1", "[[[0, 0, 1, 1]]]"},
        {true, LOSSD_KIND_PAIRWISE, "iou", "boxes1", "[0, 0, 1, 1]"},
        {false, LOSSD_KIND_LOSS, "bce", "target", "[1.5]"},
        {true, LOSSD_KIND_LOSS, "bce", "target", "[[0.25], [1]]"},
        {true, LOSSD_KIND_LOSS, "kl_div", "target", "[-1.5]"}, /* logarithms */
        {false, LOSSD_KIND_LOSS, "nll", "target", "[0.5, 1]"},
        {true, LOSSD_KIND_LOSS, "cross_entropy", "target",
         "[[0.5, 0.5, 0], [0, 0, 1]]"}, /* probabilities */
        {false, LOSSD_KIND_LOSS, "cross_entropy", "input", "[[]]"},
        {false, LOSSD_KIND_LOSS, "cross_entropy", "input", "[[[1]]]"},
        {false, LOSSD_KIND_INFO, "entropy", "p", "[]"},
        {false, LOSSD_KIND_INFO, "entropy", "p", "[1.5]"},
        {true, LOSSD_KIND_INFO, "entropy", "p", "[[1], [0.5]]"},
        /* NaN and infinities as strings ("nonfinite": "strings") where any number will do. */
        {true, LOSSD_KIND_LOSS, "mse", "input", "[\"NaN\", [\"-Infinity\"]]"},
        {false, LOSSD_KIND_LOSS, "mse", "input", "[\"nan\"]"},
        {false, LOSSD_KIND_LOSS, "bce", "target", "[\"NaN\"]"},
        {false, LOSSD_KIND_LOSS, "iou", "input", "[[\"NaN\", 0, 1, 1]]"},
        {false, LOSSD_KIND_LOSS, "nll", "target", "[\"Infinity\"]"},
        {true, LOSSD_KIND_LOSS, "nll", "input", "[[\"Infinity\", 0]]"},
    };
    expect_cases(doc, cases, sizeof cases / sizeof cases[0]);
    json_decref(doc);
}
END_TEST

/* ------------------------------------------------------------ YAML */

/*
 * A reader of the block layout lossd_yaml_dump() writes: "key: scalar",
 * "key:" with its block two columns in, "- " items (a block item starts
 * on the dash's line), scalars in JSON's syntax. Independent of the
 * emitter: it knows the layout, not the code.
 */
typedef struct {
    char **lines;
    size_t n, i;
    size_t col; /* with hang: where the rest of line i starts (after "- ") */
    bool hang;
} reader;

static size_t indent_of(const char *line)
{
    return strspn(line, " ");
}

/* Line i holds a node at column col: fresh at that indent, or hanging after "- " there. */
static bool node_at(const reader *r, size_t col)
{
    return r->i < r->n && (r->hang ? r->col == col : indent_of(r->lines[r->i]) == col);
}

static json_t *read_node(reader *r, size_t col);

/* A mapping entry's key at text ("name" or "\"200\""), and where the text after its ':' starts. */
static char *read_key(const char *text, const char **rest)
{
    if (text[0] == '"') {
        size_t n = 1;
        while (text[n] != '"')
            n += text[n] == '\\' ? 2 : 1;
        char *quoted = strndup(text, n + 1);
        json_t *s = json_loads(quoted, JSON_DECODE_ANY, NULL);
        free(quoted);
        ck_assert_msg(json_is_string(s) && text[n + 1] == ':', "bad key: %s", text);
        char *key = strdup(json_string_value(s));
        json_decref(s);
        *rest = text + n + 2;
        return key;
    }
    const char *colon = strchr(text, ':');
    ck_assert_msg(colon != NULL, "no key: %s", text);
    *rest = colon + 1;
    return strndup(text, (size_t)(colon - text));
}

/* Whether the text at col of line i is a mapping entry (scalars hold no plain ':'). */
static bool is_entry(const char *text)
{
    if (text[0] == '"') {
        size_t n = 1;
        while (text[n] && text[n] != '"')
            n += text[n] == '\\' ? 2 : 1;
        return text[n] == '"' && text[n + 1] == ':';
    }
    return strchr(text, ':') != NULL;
}

static json_t *read_scalar(reader *r, const char *text)
{
    json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
    ck_assert_msg(v != NULL, "line %zu: not a scalar: %s", r->i + 1, text);
    r->i++;
    r->hang = false;
    return v;
}

static json_t *read_map(reader *r, size_t col)
{
    json_t *obj = json_object();
    while (node_at(r, col) && strncmp(r->lines[r->i] + col, "- ", 2) != 0) {
        const char *rest;
        char *key = read_key(r->lines[r->i] + col, &rest);
        r->hang = false;
        json_t *value;
        if (*rest == '\0') {
            r->i++;
            value = read_node(r, col + 2);
        } else {
            ck_assert_msg(*rest == ' ', "line %zu: no space after the colon", r->i + 1);
            value = read_scalar(r, rest + 1);
        }
        ck_assert_msg(json_object_get(obj, key) == NULL, "line %zu: %s twice", r->i, key);
        json_object_set_new(obj, key, value);
        free(key);
    }
    return obj;
}

static json_t *read_seq(reader *r, size_t col)
{
    json_t *array = json_array();
    while (node_at(r, col) && strncmp(r->lines[r->i] + col, "- ", 2) == 0) {
        r->hang = true;
        r->col = col + 2;
        json_array_append_new(array, read_node(r, col + 2));
    }
    return array;
}

static json_t *read_node(reader *r, size_t col)
{
    ck_assert_msg(node_at(r, col), "line %zu: nothing at column %zu", r->i + 1, col);
    const char *text = r->lines[r->i] + col;
    if (strncmp(text, "- ", 2) == 0)
        return read_seq(r, col);
    if (is_entry(text))
        return read_map(r, col);
    return read_scalar(r, text);
}

/* The tree of a YAML text (after its "# " comment lines). */
static json_t *read_yaml(const char *text)
{
    char *copy = strdup(text);
    reader r = {.lines = calloc(strlen(text) + 1, sizeof(char *))};
    for (char *line = strtok(copy, "\n"); line; line = strtok(NULL, "\n"))
        if (line[0] != '#')
            r.lines[r.n++] = line;
    json_t *doc = read_node(&r, 0);
    ck_assert_msg(r.i == r.n, "line %zu of %zu not read: %s", r.i + 1, r.n,
                  r.i < r.n ? r.lines[r.i] : "");
    free(r.lines);
    free(copy);
    return doc;
}

/* The YAML served is the JSON served, as a tree, and both are the document. */
START_TEST(yaml_is_the_json_tree)
{
    lossd_openapi *served = lossd_openapi_create();
    ck_assert_ptr_nonnull(served);
    const lossd_asset *yaml = lossd_openapi_find(served, "/openapi.yaml");
    const lossd_asset *json = lossd_openapi_find(served, "/openapi.json");
    ck_assert_ptr_nonnull(yaml);
    ck_assert_ptr_nonnull(json);
    ck_assert_ptr_null(lossd_openapi_find(served, "/openapi.yml"));
    ck_assert_str_eq(yaml->content_type, "application/yaml");
    ck_assert_str_eq(json->content_type, "application/json");
    ck_assert(yaml->gzip != NULL && yaml->gzip_size < yaml->size / 4);
    ck_assert(!yaml->playground && !json->playground);
    char *text = strndup((const char *)yaml->data, yaml->size);
    ck_assert_uint_eq(strlen(text), yaml->size);
    json_t *from_yaml = read_yaml(text);
    json_t *from_json = json_loadb((const char *)json->data, json->size, 0, NULL);
    json_t *doc = lossd_openapi_document();
    ck_assert_ptr_nonnull(from_json);
    ck_assert(json_equal(from_json, doc));
    ck_assert(json_equal(from_yaml, doc));
    /* a real of the document with no point in JSON ("1e-7") has one in YAML */
    ck_assert_ptr_nonnull(strstr(text, "default: 1.0e-7\n"));
    ck_assert_ptr_nonnull(strstr(text, "\n        \"200\":\n"));
    json_decref(doc);
    json_decref(from_json);
    json_decref(from_yaml);
    free(text);
    lossd_openapi_destroy(served);
}
END_TEST

/* The scalars YAML readers take otherwise than JSON does come out in forms they cannot misread. */
START_TEST(yaml_scalars)
{
    json_t *tree = json_pack(
        "{s:f, s:f, s:f, s:f, s:I, s:b, s:n, s:s, s:s, s:s, s:s, s:{}, s:[], s:[[i, i], {s:i}]}",
        "tiny", 1e-7, "huge", 1e20, "plain", 12.8, "whole", 3.0, "int", (json_int_t)-100, "on", 1,
        "null", "200", "yes", "s/p-a_c.e$", "x: y #z", "break",
        "a\xe2\x80\xa8"
        "b\x7f\n\t\"\\",
        "Ǝ", "γ", "empty", "none", "rows", 1, 2, "k", 3);
    size_t len;
    char *text = lossd_yaml_dump(tree, "line one\nline two", &len);
    ck_assert_ptr_nonnull(text);
    ck_assert_uint_eq(strlen(text), len);
    static const char want[] = "# line one\n"
                               "# line two\n"
                               "tiny: 1.0e-7\n"
                               "huge: 1.0e+20\n"
                               "plain: 12.8\n"
                               "whole: 3.0\n"
                               "int: -100\n"
                               "\"on\": true\n"
                               "\"null\": null\n"
                               "\"200\": \"yes\"\n"
                               "s/p-a_c.e$: \"x: y #z\"\n"
                               "break: \"a\\u2028b\\u007f\\n\\t\\\"\\\\\"\n"
                               "\"Ǝ\": \"γ\"\n"
                               "empty: {}\n"
                               "none: []\n"
                               "rows:\n"
                               "  - - 1\n"
                               "    - 2\n"
                               "  - k: 3\n";
    ck_assert_str_eq(text, want);
    json_t *back = read_yaml(text);
    ck_assert(json_equal(back, tree));
    json_decref(back);
    free(text);
    ck_assert_ptr_null(lossd_yaml_dump(json_object_get(tree, "int"), NULL, &len));
    ck_assert_ptr_null(lossd_yaml_dump(json_object_get(tree, "empty"), NULL, &len));
    json_decref(tree);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("openapi");
    add_case(s, "openapi", 30, NULL, NULL,
             TESTS(every_function_has_its_fields, parameters_carry_their_domains,
                   operands_follow_their_rules, yaml_is_the_json_tree, yaml_scalars));
    return run_service_suite(s);
}
