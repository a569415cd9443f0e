/* SPDX-License-Identifier: MIT */
/*
 * openapi.c - the OpenAPI document from the registry (see openapi.h).
 *
 * What varies with the registry is read from it as data, never from its
 * prose: a function's fields from its row (operands, reduction, grad,
 * terms, nonfinite, parameters; check_openapi holds them to the codec's
 * list), a parameter's schema from its catalog constraints (bounds and
 * their openness, the values accepted or refused besides, choices,
 * integers) and default, an operand's schema from its rule's row (ranks,
 * the last axis' length, the values' range, whole numbers): one component
 * per rule, so a new rule is a new component and a new function a new
 * path, with nothing else to edit. Prose goes only where people read it,
 * in descriptions.
 *
 * Built with jansson, once, at start-up; the builders below spread a
 * failed allocation upwards (a NULL anywhere makes the document NULL), so
 * a document is whole or absent.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lossd/lossd.h>

#include "catalog.h"
#include "compress.h"
#include "fault.h"
#include "openapi.h"
#include "openapi_json.h"
#include "util.h"
#include "yaml.h"

/* The error replies of /v1 (and, with their own body, /v2): by status, the contract's cases. */
static const struct {
    const char *status, *text;
} error_replies[] = {
    {"400", "the body is empty or not one JSON object (invalid_json), or bad framing "
            "(bad_request)"},
    {"401", "API keys are configured and the bearer token is missing or wrong"},
    {"404", "unknown path or function"},
    {"405", "wrong method"},
    {"413", "body, elements, reply or jobs over a limit"},
    {"415", "a Content-Type that is not JSON (application/json, application/*+json), or a "
            "Content-Encoding lossd does not decode"},
    {"422", "valid JSON that breaks the contract, or a query string; `field` names the first "
            "offending path (`query` for a query string)"},
    {"503", "the work queue is full (overloaded, with Retry-After) or the server is draining"},
};
#define N_ERRORS (sizeof error_replies / sizeof error_replies[0])

/* The reply schema of each kind of function. */
static const char *const reply_schema[LOSSD_KIND_COUNT] = {
    [LOSSD_KIND_LOSS] = "LossReply",
    [LOSSD_KIND_ACTIVATION] = "ActivationReply",
    [LOSSD_KIND_INFO] = "InfoReply",
    [LOSSD_KIND_PAIRWISE] = "PairwiseReply",
};

/* ---------------------------------------------------------------- operands */

/* A rule's component: "boxes" -> "BoxesOperand", "class_indices" -> "ClassIndicesOperand". */
static const char *rule_component(const lossd_rule *rule, char *buf, size_t size)
{
    size_t n = 0;
    bool upper = true;
    for (const char *p = rule->name; *p && n + 1 < size; p++) {
        if (*p == '_') {
            upper = true;
            continue;
        }
        buf[n++] = upper && *p >= 'a' && *p <= 'z' ? (char)(*p - 'a' + 'A') : *p;
        upper = false;
    }
    snprintf(buf + n, size - n, "Operand");
    return buf;
}

static json_t *rule_ref(const lossd_rule *rule)
{
    char name[96];
    return oa_ref(rule_component(rule, name, sizeof name));
}

/*
 * One value under a rule: a number; whole for integer rules; within [lo, hi]
 * for a range (unless the values may be given as their logarithms instead);
 * when any number will do, NaN and the infinities too, which a request
 * with "nonfinite": "strings" writes as strings.
 */
static json_t *rule_value(const lossd_rule *rule)
{
    json_t *value = oa_type(rule->integers ? "integer" : "number");
    if (strcmp(rule->values, "range") == 0 && rule->log_param == NULL) {
        value = oa_with(value, "minimum", json_real(rule->lo));
        value = oa_with(value, "maximum", json_real(rule->hi));
    }
    if (strcmp(rule->values, "any") == 0 && !rule->integers)
        return oa_obj("anyOf", oa_items(2, value, oa_ref("NonFinite")), NULL);
    return value;
}

/* Adds a rank's schema to the alternatives; an alternative of alternatives joins them. */
static json_t *push_rank(json_t *ranks, json_t *schema)
{
    json_t *any = json_object_get(schema, "anyOf");
    if (any == NULL || json_object_size(schema) != 1)
        return oa_push(ranks, schema);
    if (ranks && json_array_extend(ranks, any) < 0) {
        json_decref(ranks);
        ranks = NULL;
    }
    json_decref(schema);
    return ranks;
}

/* The shortest and longest last axis a rule allows: fixed, at least, per choice (0: any). */
static void last_axis_bounds(const lossd_axis_rule *axis, size_t *lo, size_t *hi)
{
    *lo = axis->size ? axis->size : axis->min;
    *hi = axis->size;
    for (size_t i = 0; axis->param && axis->choices[i]; i++) {
        size_t len = axis->sizes[i];
        *lo = i == 0 || len < *lo ? len : *lo;
        *hi = len > *hi ? len : *hi;
    }
}

static json_t *with_length(json_t *array, size_t lo, size_t hi)
{
    if (lo)
        array = oa_with(array, "minItems", json_integer((json_int_t)lo));
    if (hi)
        array = oa_with(array, "maxItems", json_integer((json_int_t)hi));
    return array;
}

/*
 * The least length of an array around the innermost one. JSON writes a
 * shape (0, K) as [], which is shape (0): its last axis is 0, so with a
 * last axis of at least one, [] is refused unless the rule takes it as an
 * empty batch.
 */
static size_t outer_min(const lossd_rule *rule)
{
    size_t lo, hi;
    last_axis_bounds(&rule->last_axis, &lo, &hi);
    return lo > 0 && !rule->empty_batch ? 1 : 0;
}

/* An array of `items`, as long as a level above the innermost may be. */
static json_t *outer_array(const lossd_rule *rule, json_t *items)
{
    json_t *array = oa_obj("type", json_string("array"), "items", items, NULL);
    return with_length(array, outer_min(rule), 0);
}

/* Values of the rule nested `depth` arrays deep, the innermost as long as the last axis says. */
static json_t *nested(const lossd_rule *rule, int depth)
{
    if (depth == 0)
        return rule_value(rule);
    if (depth > 1)
        return outer_array(rule, nested(rule, depth - 1));
    size_t lo, hi;
    last_axis_bounds(&rule->last_axis, &lo, &hi);
    return with_length(oa_obj("type", json_string("array"), "items", rule_value(rule), NULL), lo,
                       hi);
}

/*
 * A rule's component: its ranks as nested arrays. Ranks up to the
 * library's maximum are written as recursion (min_rank deep, or an array
 * of these), a few ranks one by one; one per row of the first operand is
 * any rank (the first operand's less one). Probabilities shaped like the
 * first operand are the alternative that or_like_first allows.
 */
static json_t *rule_schema(const lossd_rule *rule)
{
    json_t *ranks = json_array();
    if (rule->rows_of_first || rule->max_rank >= LOSSD_MAX_RANK) {
        ranks = push_rank(ranks, nested(rule, rule->rows_of_first ? 0 : rule->min_rank));
        ranks = oa_push(ranks, outer_array(rule, rule_ref(rule)));
    } else {
        for (int r = rule->min_rank; r <= rule->max_rank; r++)
            ranks = push_rank(ranks, nested(rule, r));
    }
    if (rule->or_like_first)
        ranks = oa_push(ranks, rule_ref(lossd_rule_get(LOSSD_RULE_PROBABILITIES)));
    json_t *schema = json_array_size(ranks) == 1 ? json_incref(json_array_get(ranks, 0))
                                                 : oa_obj("anyOf", json_incref(ranks), NULL);
    json_decref(ranks);
    const char *cap = rule->max_rank >= LOSSD_MAX_RANK && !rule->rows_of_first ? ", rank <= " : "";
    return oa_with(
        schema, "description",
        *cap ? json_sprintf("%s%s%d: %s", rule->shape_text, cap, LOSSD_MAX_RANK, rule->values_text)
             : json_sprintf("%s: %s", rule->shape_text, rule->values_text));
}

/* Every rule's component into schemas. */
static json_t *with_rules(json_t *schemas)
{
    for (int id = LOSSD_RULE_NONE + 1; id < LOSSD_RULE_COUNT; id++) {
        const lossd_rule *rule = lossd_rule_get((lossd_rule_id)id);
        char name[96];
        schemas = oa_with(schemas, rule_component(rule, name, sizeof name), rule_schema(rule));
    }
    return schemas;
}

/* ---------------------------------------------------------------- parameters */

/* A constraint's number copied under the schema's key, and its openness. */
static json_t *with_bound(json_t *schema, const json_t *c, const char *key, const char *open,
                          const char *schema_key, const char *schema_open)
{
    json_t *bound = json_object_get(c, key);
    if (bound == NULL)
        return schema;
    schema = oa_with(schema, schema_key, json_deep_copy(bound));
    return json_is_true(json_object_get(c, open)) ? oa_with(schema, schema_open, json_true())
                                                  : schema;
}

/*
 * A parameter's values from its catalog constraints: numbers (whole for
 * integers) within its bounds and not its exceptions; the values it accepts
 * besides; its choices. Several of these are alternatives (oneOf).
 */
static json_t *param_values(const lossd_param_spec *spec, const json_t *c)
{
    const char *number = json_is_true(json_object_get(c, "integer")) ? "integer" : "number";
    json_t *ways = json_array(), *except = json_object_get(c, "except");
    json_t *also = json_object_get(c, "also"), *choices = json_object_get(c, "choices");
    if (spec->type == LOSSD_PARAM_BOOL)
        ways = oa_push(ways, oa_type("boolean"));
    if (spec->type == LOSSD_PARAM_NUMBER || spec->type == LOSSD_PARAM_INTEGER ||
        spec->type == LOSSD_PARAM_LOG_BASE) {
        json_t *range = oa_type(number);
        range = with_bound(range, c, "min", "min_exclusive", "minimum", "exclusiveMinimum");
        range = with_bound(range, c, "max", "max_exclusive", "maximum", "exclusiveMaximum");
        if (except)
            range = oa_with(range, "not", oa_obj("enum", json_deep_copy(except), NULL));
        ways = oa_push(ways, range);
    }
    if (also)
        ways =
            oa_push(ways, oa_obj("type", json_string(number), "enum", json_deep_copy(also), NULL));
    if (choices)
        ways = oa_push(
            ways, oa_obj("type", json_string("string"), "enum", json_deep_copy(choices), NULL));
    json_t *schema = json_array_size(ways) == 1 ? json_incref(json_array_get(ways, 0))
                                                : oa_obj("oneOf", json_incref(ways), NULL);
    json_decref(ways);
    return schema;
}

/* A tensor parameter's shape, relative to the input (lossd_param_shape). */
static json_t *tensor_param(lossd_param_shape shape)
{
    json_t *numbers = oa_obj("type", json_string("array"), "items", oa_type("number"), NULL);
    switch (shape) {
    case LOSSD_PSHAPE_CLASSES: /* (C) */
        return numbers;
    case LOSSD_PSHAPE_CHANNELS: /* a number, or (C) */
        return oa_obj("oneOf", oa_items(2, oa_type("number"), numbers), NULL);
    case LOSSD_PSHAPE_NONE:
    case LOSSD_PSHAPE_BROADCAST:
        break;
    }
    json_decref(numbers);
    return oa_obj("allOf", oa_items(1, oa_ref("Tensor")), NULL);
}

/* A parameter's property: its values, default and what it means (with its domain, for people). */
static json_t *param_schema(const lossd_param_spec *spec)
{
    json_t *entry = lossd_catalog_param(spec);
    if (entry == NULL)
        return NULL;
    json_t *schema = spec->type == LOSSD_PARAM_TENSOR
                         ? tensor_param(spec->shape)
                         : param_values(spec, json_object_get(entry, "constraints"));
    if (spec->type != LOSSD_PARAM_TENSOR && !spec->required)
        schema = oa_with(schema, "default", json_deep_copy(json_object_get(entry, "default")));
    schema = oa_with(schema, "description",
                     json_sprintf("%s. Domain: %s.", spec->summary,
                                  json_string_value(json_object_get(entry, "domain"))));
    json_decref(entry);
    return schema;
}

/* ---------------------------------------------------------------- functions */

/* props[name] = schema; an optional field may be null, which stands for its default. */
static json_t *with_field(json_t *props, json_t **required, const char *name, json_t *schema,
                          bool is_required)
{
    if (is_required)
        *required = oa_push(*required, json_string(name));
    else
        schema = oa_with(schema, "nullable", json_true());
    return oa_with(props, name, schema);
}

static json_t *described(json_t *schema, const char *description)
{
    return oa_with(schema, "description", json_string(description));
}

/*
 * "grad": true for the gradient with respect to the first operand, or the
 * operands to differentiate with respect to by name: the first, and the
 * second when the function has that gradient too (LOSSD_FN_GRAD_SECOND).
 */
static json_t *grad_schema(const lossd_function *fn)
{
    json_t *names = oa_items(1, json_string(fn->operands[0].name));
    if (fn->flags & LOSSD_FN_GRAD_SECOND)
        names = oa_push(names, json_string(fn->operands[1].name));
    json_t *list = oa_obj("type", json_string("array"), "items",
                          oa_obj("type", json_string("string"), "enum", names, NULL), NULL);
    return described(
        oa_obj("oneOf", oa_items(2, oa_type("boolean"), list), "default", json_false(), NULL),
        "true: the gradient with respect to the first operand; or the operands to "
        "differentiate with respect to, by name (the reply's grad, grad_<name>)");
}

/* The fields every call of fn may add to its operands and parameters, in the codec's order. */
static json_t *with_options(json_t *props, json_t **required, const lossd_function *fn)
{
    if (fn->kind == LOSSD_KIND_LOSS)
        props =
            with_field(props, required, "reduction",
                       oa_obj("type", json_string("string"), "enum", lossd_catalog_reductions(fn),
                              "default", json_string("mean"), NULL),
                       false);
    if (fn->flags & LOSSD_FN_GRAD) {
        props = with_field(props, required, "grad", grad_schema(fn), false);
        props = with_field(props, required, "grad_output",
                           described(oa_obj("allOf", oa_items(1, oa_ref("Tensor")), NULL),
                                     "upstream gradient, shaped like the unreduced output "
                                     "(losses: only with reduction none)"),
                           false);
    }
    if (fn->flags & LOSSD_FN_TERMS) {
        char names[256] = "";
        for (size_t i = 0; fn->terms[i]; i++)
            lossd_names_add(names, sizeof names, fn->terms[i]);
        json_t *terms = oa_obj("type", json_string("boolean"), "default", json_false(), NULL);
        terms = oa_with(terms, "description", json_sprintf("add per-box terms: %s", names));
        props = with_field(props, required, "terms", terms, false);
    }
    json_t *nonfinite =
        oa_obj("type", json_string("string"), "enum", oa_strings("null", "strings", NULL),
               "default", json_string("null"), NULL);
    return with_field(props, required, "nonfinite",
                      described(nonfinite, "how NaN and infinities are written: null in replies "
                                           "(the default), or as the strings NaN, Infinity and "
                                           "-Infinity in replies and requests alike"),
                      false);
}

/* The fields fn accepts, exactly: its operands, the options above and its parameters. */
static json_t *request_schema(const lossd_function *fn)
{
    json_t *props = json_object(), *required = json_array();
    for (size_t k = 0; k < 2; k++) {
        const lossd_operand_spec *op = &fn->operands[k];
        if (op->rule == LOSSD_RULE_NONE)
            continue;
        json_t *schema = oa_obj("allOf", oa_items(1, rule_ref(lossd_rule_get(op->rule))), NULL);
        props = with_field(props, &required, op->name, described(schema, op->summary), true);
    }
    props = with_options(props, &required, fn);
    for (size_t i = 0; i < fn->n_params; i++)
        props = with_field(props, &required, fn->params[i].name, param_schema(&fn->params[i]),
                           fn->params[i].required);
    return oa_obj("type", json_string("object"), "properties", props, "required", required,
                  "additionalProperties", json_false(), NULL);
}

/* {"400": {"$ref": E400}, ...}: the error replies, after `responses`' own. */
static json_t *with_errors(json_t *responses, const char *prefix)
{
    for (size_t i = 0; i < N_ERRORS; i++)
        responses = oa_with(
            responses, error_replies[i].status,
            oa_obj("$ref",
                   json_sprintf("#/components/responses/%s%s", prefix, error_replies[i].status),
                   NULL));
    return responses;
}

/* {description, content: {type: {schema}}}: one reply. */
static json_t *reply(const char *description, const char *type, json_t *schema)
{
    return oa_obj("description", json_string(description), "content",
                  oa_obj(type, oa_obj("schema", schema, NULL), NULL), NULL);
}

/* POST /v1/{kind}/{name}. */
static json_t *function_path(const lossd_function *fn)
{
    const char *kind = lossd_kind_name(fn->kind);
    json_t *responses = oa_obj(
        "200", reply("the result", "application/json", oa_ref(reply_schema[fn->kind])), NULL);
    json_t *body =
        oa_obj("required", json_true(), "content",
               oa_obj("application/json", oa_obj("schema", request_schema(fn), NULL), NULL), NULL);
    json_t *op =
        oa_obj("operationId", json_sprintf("%s_%s", kind, fn->name), "tags",
               oa_items(1, json_string(kind)), "summary", json_string(fn->summary), "description",
               json_sprintf("Matches %s.\n\n$$ %s $$", fn->reference, fn->formula), "requestBody",
               body, "responses", with_errors(responses, "E"), NULL);
    return oa_obj("post", op, NULL);
}

/* ---------------------------------------------------------------- the service */

/*
 * A GET: a 200 whose body is `schema` as `type`, the `more` responses
 * after it (stolen; NULL for none), open to everyone (security: []) or,
 * when `keyed`, under the API key like every /v1 path.
 */
static json_t *get_op(const char *summary, bool keyed, const char *type, json_t *schema,
                      json_t *more)
{
    json_t *responses = oa_obj("200", reply("OK", type, schema), NULL);
    if (more)
        responses = oa_merge(responses, more);
    json_t *op = oa_obj("summary", json_string(summary), NULL);
    if (!keyed)
        op = oa_with(op, "security", json_array());
    return oa_with(op, "responses", responses);
}

/* {"get": get_op(...)}: a path with one GET. */
static json_t *get_path(const char *summary, bool keyed, const char *type, json_t *schema,
                        json_t *more)
{
    return oa_obj("get", get_op(summary, keyed, type, schema, more), NULL);
}

static json_t *status_schema(void)
{
    return oa_obj("type", json_string("object"), "properties",
                  oa_obj("status", oa_type("string"), NULL), "required", oa_strings("status", NULL),
                  NULL);
}

static json_t *not_found(void)
{
    return oa_obj("404", oa_obj("$ref", json_string("#/components/responses/E404"), NULL), NULL);
}

/* The path parameter {kind}: the registry's kinds. */
static json_t *kind_param(void)
{
    json_t *kinds = json_array();
    for (int k = 0; k < LOSSD_KIND_COUNT; k++)
        kinds = oa_push(kinds, json_string(lossd_kind_name((lossd_kind)k)));
    return oa_obj("name", json_string("kind"), "in", json_string("path"), "required", json_true(),
                  "schema", oa_obj("type", json_string("string"), "enum", kinds, NULL), NULL);
}

/* GET /v1/functions/{kind}/{name}. */
static json_t *entry_path(void)
{
    json_t *op = get_op("one function's catalog entry, with an example request body that "
                        "computes",
                        true, "application/json", oa_ref("CatalogEntry"), not_found());
    json_t *params = oa_items(2, kind_param(),
                              oa_obj("name", json_string("name"), "in", json_string("path"),
                                     "required", json_true(), "schema", oa_type("string"),
                                     "example", json_string("giou"), NULL));
    return oa_obj("get", oa_with(op, "parameters", params), NULL);
}

/* GET /v1/functions/{kind}. */
static json_t *kind_path(void)
{
    json_t *op = get_op("the catalog of one kind of function", true, "application/json",
                        oa_ref("KindCatalog"), not_found());
    return oa_obj("get", oa_with(op, "parameters", oa_items(1, kind_param())), NULL);
}

/* The endpoints before the functions': health, metrics, /v1, the catalog, the web. */
static json_t *with_service_paths(json_t *paths)
{
    json_t *busy =
        oa_obj("503", reply("draining or overloaded", "application/json", status_schema()), NULL);
    paths = oa_with(paths, "/healthz",
                    get_path("liveness: 200 while the process serves", false, "application/json",
                             status_schema(), NULL));
    paths = oa_with(paths, "/readyz",
                    get_path("readiness: 503 while draining or overloaded", false,
                             "application/json", status_schema(), busy));
    paths = oa_with(paths, "/metrics",
                    get_path("Prometheus metrics (text format 0.0.4)", false, "text/plain",
                             oa_type("string"), NULL));
    paths = oa_with(paths, "/v1",
                    get_path("the service's name, version and number of functions", true,
                             "application/json", oa_ref("About"), NULL));
    paths = oa_with(paths, "/v1/functions",
                    get_path("the catalog of every function", true, "application/json",
                             oa_ref("Catalog"), NULL));
    paths = oa_with(paths, "/v1/functions/{kind}/{name}", entry_path());
    paths = oa_with(paths, "/v1/functions/{kind}", kind_path());
    paths = oa_with(paths, "/",
                    get_path("the playground: an HTML page (404 with --playground off)", false,
                             "text/html", oa_type("string"), not_found()));
    paths = oa_with(paths, "/openapi.yaml",
                    get_path("this document", false, "application/yaml", oa_type("string"), NULL));
    return oa_with(
        paths, "/openapi.json",
        get_path("this document as JSON", false, "application/json", oa_type("object"), NULL));
}

static json_t *batch_path(void)
{
    json_t *responses = oa_obj(
        "200", reply("one result per job, in order", "application/json", oa_ref("BatchReply")),
        NULL);
    json_t *body = oa_obj(
        "required", json_true(), "content",
        oa_obj("application/json", oa_obj("schema", oa_ref("BatchRequest"), NULL), NULL), NULL);
    return oa_obj("post",
                  oa_obj("operationId", json_string("batch"), "tags", oa_strings("batch", NULL),
                         "summary",
                         json_string("many jobs at once, run in parallel on the worker pool"),
                         "requestBody", body, "responses", with_errors(responses, "E"), NULL),
                  NULL);
}

/* ---------------------------------------------------------------- components */

/* A number (or NaN or an infinity as a string), or an array of `self`: any rank. */
static json_t *recursive_tensor(const char *self, const char *description)
{
    return oa_obj("description", json_string(description), "oneOf",
                  oa_items(3, oa_type("number"), oa_ref("NonFinite"),
                           oa_obj("type", json_string("array"), "items", oa_ref(self), NULL)),
                  NULL);
}

/* NaN and the infinities as "nonfinite": "strings" writes them. */
static json_t *nonfinite_schema(void)
{
    return oa_obj("type", json_string("string"), "enum",
                  oa_strings("NaN", "Infinity", "-Infinity", NULL), "description",
                  json_string("a number that is not finite, in a request or reply with "
                              "\"nonfinite\": \"strings\""),
                  NULL);
}

static json_t *error_schema(void)
{
    json_t *codes = json_array();
    for (int k = LOSSD_FAULT_NONE + 1; k < LOSSD_FAULT_COUNT; k++)
        codes = oa_push(codes, json_string(lossd_fault_code((lossd_fault_kind)k)));
    json_t *error = oa_obj(
        "type", json_string("object"), "required", oa_strings("code", "message", NULL),
        "properties",
        oa_obj("code", oa_obj("type", json_string("string"), "enum", codes, NULL), "message",
               oa_type("string"), "field",
               described(oa_type("string"), "path of the offending field, e.g. target[3]"), NULL),
        NULL);
    return oa_obj("type", json_string("object"), "required", oa_strings("error", NULL),
                  "properties", oa_obj("error", error, NULL), NULL);
}

/* {type: object, required: [...], properties}: most reply schemas. */
static json_t *object_schema(json_t *required, json_t *properties)
{
    return oa_obj("type", json_string("object"), "required", required, "properties", properties,
                  NULL);
}

static json_t *nonfinite(void)
{
    return oa_obj("type", json_string("integer"), "minimum", json_integer(1), "description",
                  json_string("how many results are not finite (written as null, or as strings)"),
                  NULL);
}

/* The replies of the four kinds of function. */
static json_t *with_reply_schemas(json_t *s)
{
    const char *result = "ResultTensor";
    s = oa_with(s, "LossReply",
                object_schema(
                    oa_strings("loss", "n", NULL),
                    oa_obj("loss", oa_ref(result), "n",
                           oa_obj("type", json_string("integer"), "minimum", json_integer(0), NULL),
                           "grad", oa_ref(result), "grad_target", oa_ref(result), "terms",
                           oa_obj("type", json_string("object"), "additionalProperties",
                                  oa_ref(result), NULL),
                           "nonfinite", nonfinite(), NULL)));
    json_t *stats = object_schema(
        oa_strings("n", "zero_grad_fraction", NULL),
        oa_obj("n", oa_type("integer"), "zero_grad_fraction", oa_type("number"), NULL));
    s = oa_with(s, "ActivationReply",
                object_schema(oa_strings("output", "stats", NULL),
                              oa_obj("output", oa_ref(result), "grad", oa_ref(result), "stats",
                                     stats, "nonfinite", nonfinite(), NULL)));
    s = oa_with(s, "InfoReply",
                object_schema(oa_strings("value", NULL),
                              oa_obj("value", oa_ref(result), "grad", oa_ref(result), "grad_q",
                                     oa_ref(result), "nonfinite", nonfinite(), NULL)));
    return oa_with(s, "PairwiseReply",
                   object_schema(oa_strings("matrix", NULL),
                                 oa_obj("matrix", oa_ref(result), "nonfinite", nonfinite(), NULL)));
}

static json_t *with_batch_schemas(json_t *s)
{
    json_t *job = oa_obj(
        "type", json_string("object"), "required", oa_strings("path", "body", NULL),
        "additionalProperties", json_false(), "properties",
        oa_obj("id",
               oa_obj("type", json_string("string"), "nullable", json_true(), "description",
                      json_string("echoed in the job's result"), NULL),
               "path",
               oa_obj("type", json_string("string"), "example", json_string("/v1/loss/giou"), NULL),
               "body", oa_type("object"), NULL),
        NULL);
    s = oa_with(
        s, "BatchRequest",
        oa_obj("type", json_string("object"), "required", oa_strings("jobs", NULL),
               "additionalProperties", json_false(), "properties",
               oa_obj("jobs", oa_obj("type", json_string("array"), "items", job, NULL), NULL),
               NULL));
    json_t *result = object_schema(oa_strings("status", "body", NULL),
                                   oa_obj("id", oa_type("string"), "status", oa_type("integer"),
                                          "body", oa_type("object"), NULL));
    return oa_with(
        s, "BatchReply",
        object_schema(
            oa_strings("results", NULL),
            oa_obj("results", oa_obj("type", json_string("array"), "items", result, NULL), NULL)));
}

/* The catalog's fields every entry has. */
static json_t *entry_fields(const char *extra)
{
    return oa_strings("kind", "name", "path", "summary", "formula", "reference", "operands",
                      "operand_specs", "params", "grad", extra, NULL);
}

static json_t *with_catalog_schemas(json_t *s)
{
    json_t *links = described(
        oa_obj("type", json_string("object"), "additionalProperties", oa_type("string"), NULL),
        "where the catalog, one kind's, one entry, the OpenAPI document and the "
        "playground are");
    s = oa_with(s, "About",
                object_schema(oa_strings("name", "version", "functions", NULL),
                              oa_obj("name", oa_type("string"), "version", oa_type("string"),
                                     "functions", oa_type("integer"), "links", links, NULL)));
    json_t *example = described(oa_type("object"),
                                "a request body for `path` that computes: operands of the right "
                                "shapes, every parameter at its default");
    s = oa_with(s, "CatalogEntry",
                object_schema(entry_fields("example"), oa_obj("example", example, NULL)));
    json_t *entry = oa_obj("type", json_string("object"), "required", entry_fields(NULL), NULL);
    json_t *kind = object_schema(
        oa_strings("kind", "functions", "count", NULL),
        oa_obj("kind", oa_type("string"), "count", oa_type("integer"), "functions",
               oa_obj("type", json_string("array"), "items", json_deep_copy(entry), NULL), NULL));
    s = oa_with(s, "KindCatalog",
                described(kind, "the catalog's entries of one kind, as in Catalog"));
    return oa_with(
        s, "Catalog",
        object_schema(oa_strings("functions", "count", NULL),
                      oa_obj("count", oa_type("integer"), "functions",
                             oa_obj("type", json_string("array"), "items", entry, NULL), NULL)));
}

static json_t *schemas(void)
{
    char tensor[96];
    snprintf(tensor, sizeof tensor,
             "a number or a rectangular nested array of numbers, rank 0 to %d", LOSSD_MAX_RANK);
    json_t *s =
        oa_obj("Tensor", recursive_tensor("Tensor", tensor), "ResultTensor",
               oa_with(recursive_tensor("ResultTensor",
                                        "like Tensor; non-finite values are null, or strings with "
                                        "\"nonfinite\": \"strings\""),
                       "nullable", json_true()),
               "NonFinite", nonfinite_schema(), "Error", error_schema(), NULL);
    s = with_reply_schemas(s);
    s = with_batch_schemas(s);
    s = with_catalog_schemas(s);
    return with_rules(s);
}

/* E400 ...: each error reply, with the contract's error body. */
static json_t *error_responses(void)
{
    json_t *responses = json_object();
    for (size_t i = 0; i < N_ERRORS; i++) {
        char name[8];
        snprintf(name, sizeof name, "E%s", error_replies[i].status);
        responses = oa_with(responses, name,
                            reply(error_replies[i].text, "application/json", oa_ref("Error")));
    }
    return responses;
}

/* ---------------------------------------------------------------- the document */

json_t *lossd_openapi_document(void)
{
    json_t *paths = with_service_paths(json_object());
    for (size_t i = 0; i < lossd_function_count(); i++) {
        const lossd_function *fn = lossd_function_at(i);
        char path[96];
        snprintf(path, sizeof path, "/v1/%s/%s", lossd_kind_name(fn->kind), fn->name);
        paths = oa_with(paths, path, function_path(fn));
    }
    json_t *s = schemas(), *responses = error_responses(), *errors = json_object();
    for (size_t i = 0; i < N_ERRORS; i++)
        errors = oa_with(errors, error_replies[i].status, json_string(error_replies[i].text));
    if (paths && s && responses && errors &&
        lossd_openapi_add_v2(paths, s, responses, errors) < 0) {
        json_decref(paths);
        paths = NULL;
    }
    json_decref(errors);
    paths = oa_with(paths, "/v1/batch", batch_path());
    json_t *bearer =
        oa_obj("type", json_string("http"), "scheme", json_string("bearer"), "description",
               json_string("needed on /v1, /v2 and /v2/models when lossd runs with "
                           "--api-key-file (not on /v2/health)"),
               NULL);
    json_t *info = oa_obj(
        "title", json_string("lossd"), "version", json_string(LOSSD_VERSION_STRING), "description",
        json_string("Loss functions, activations, information measures and pairwise box "
                    "matrices with PyTorch/torchvision float64 semantics. Built by lossd from "
                    "its function registry; see docs/api.md for examples."),
        NULL);
    return oa_obj("openapi", json_string("3.0.3"), "info", info, "servers",
                  oa_items(1, oa_obj("url", json_string("http://127.0.0.1:8080"), NULL)),
                  "security", oa_items(2, json_object(), oa_obj("bearerAuth", json_array(), NULL)),
                  "paths", paths, "components",
                  oa_obj("schemas", s, "responses", responses, "securitySchemes",
                         oa_obj("bearerAuth", bearer, NULL), NULL),
                  NULL);
}

/* ---------------------------------------------------------------- serving */

struct lossd_openapi {
    lossd_asset files[2]; /* /openapi.yaml, /openapi.json */
};

/* A file of `text` (taken over), gzip'd beside it. */
static bool make_file(lossd_asset *file, const char *path, const char *type, char *text, size_t len)
{
    *file = (lossd_asset){
        .path = path, .content_type = type, .data = (unsigned char *)text, .size = len};
    if (text == NULL)
        return false;
    size_t packed_len;
    void *packed = lossd_compress(LOSSD_ENCODING_GZIP, &(lossd_piece){text, len}, 1, &packed_len);
    file->gzip = packed;
    file->gzip_size = packed_len;
    return packed != NULL;
}

lossd_openapi *lossd_openapi_create(void)
{
    lossd_openapi *doc = calloc(1, sizeof *doc);
    json_t *tree = doc ? lossd_openapi_document() : NULL;
    if (tree == NULL) {
        free(doc);
        return NULL;
    }
    size_t yaml_len = 0;
    char *yaml = lossd_yaml_dump(tree,
                                 "lossd's OpenAPI document, built from its function registry "
                                 "(GET /openapi.yaml; the same as JSON at /openapi.json).",
                                 &yaml_len);
    char *json = json_dumps(tree, JSON_INDENT(1) | JSON_REAL_PRECISION(15));
    json_decref(tree);
    bool ok = make_file(&doc->files[0], "/openapi.yaml", "application/yaml", yaml, yaml_len);
    ok = make_file(&doc->files[1], "/openapi.json", "application/json", json,
                   json ? strlen(json) : 0) &&
         ok;
    if (!ok) {
        lossd_openapi_destroy(doc);
        return NULL;
    }
    return doc;
}

void lossd_openapi_destroy(lossd_openapi *doc)
{
    for (size_t i = 0; doc && i < 2; i++) {
        free((void *)doc->files[i].data);
        free((void *)doc->files[i].gzip);
    }
    free(doc);
}

const lossd_asset *lossd_openapi_find(const lossd_openapi *doc, const char *path)
{
    for (size_t i = 0; i < 2; i++)
        if (strcmp(doc->files[i].path, path) == 0)
            return &doc->files[i];
    return NULL;
}
