/* SPDX-License-Identifier: MIT */
/*
 * codec.c - JSON request bodies to lossd calls, and finished calls to
 * JSON replies (see codec.h).
 *
 * Binding is strict, in the order the fields appear: a field the function
 * does not take, a value of the wrong JSON type, a ragged or non-numeric
 * tensor each stop binding with a fault that names the field path. The
 * core then checks shapes and domains against the registry row.
 *
 * Replies are written by hand rather than through json_t trees: a reply
 * can hold millions of numbers, and every number must be the shortest text
 * that reads back to the same double (dtoa.h), which jansson's %.17g does
 * not give. Large tensors are formatted in row ranges on several workers
 * and joined in order.
 *
 * Threading: runs on the worker owning the request.
 */
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../hugemap.h"
#include "codec.h"
#include "dtoa.h"
#include "util.h"

/* Tensors of at least this many numbers are formatted in parallel. */
#define PARALLEL_FORMAT_MIN 32768
/* Numbers per formatting task. */
#define FORMAT_TASK_NUMBERS 16384

int lossd_tensors_count(lossd_tensors *store, size_t n, const char *name, const lossd_limits *lim,
                        lossd_fault *f)
{
    if (n > lim->max_elements - store->elements)
        return lossd_fault_set(f, LOSSD_FAULT_TOO_LARGE, name,
                               "the request holds more than %zu numbers (--max-elements)",
                               lim->max_elements);
    store->elements += n;
    return 0;
}

double *lossd_tensors_alloc(lossd_tensors *store, size_t n, const char *name,
                            const lossd_limits *lim, lossd_fault *f)
{
    if (store->n_data == LOSSD_CODEC_MAX_TENSORS) {
        lossd_fault_set(f, LOSSD_FAULT_INVALID_ARGUMENT, name, "too many tensors in one request");
        return NULL;
    }
    if (lossd_tensors_count(store, n, name, lim, f) < 0)
        return NULL;
    /* written whole as soon as it is read: megabytes are made resident at once */
    size_t mapped;
    double *data = lossd_huge_alloc((n ? n : 1) * sizeof *data, &mapped, 1);
    if (data == NULL) {
        store->elements -= n;
        lossd_fault_set(f, LOSSD_FAULT_INTERNAL, name, "out of memory for %zu numbers", n);
        return NULL;
    }
    store->mapped[store->n_data] = mapped;
    store->data[store->n_data++] = data;
    return data;
}

void lossd_tensors_free(lossd_tensors *store)
{
    for (size_t i = 0; i < store->n_data; i++)
        lossd_huge_free(store->data[i], store->mapped[i]);
    store->n_data = 0;
    store->elements = 0;
}

/* ------------------------------------------------------------ loading */

/*
 * The deepest nesting in body, ignoring brackets inside strings; stops
 * early once past `limit`. jansson's parser recurses once per level, so
 * this runs first and keeps hostile nesting away from the thread's stack.
 */
static int nesting_depth(const char *body, size_t len, int limit, size_t *where)
{
    int depth = 0, deepest = 0;
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        char ch = body[i];
        if (in_string) {
            if (ch == '\\')
                i++;
            else if (ch == '"')
                in_string = false;
        } else if (ch == '"') {
            in_string = true;
        } else if (ch == '[' || ch == '{') {
            if (++depth > deepest) {
                deepest = depth;
                if (deepest > limit) {
                    *where = i;
                    return deepest;
                }
            }
        } else if (ch == ']' || ch == '}') {
            depth--;
        }
    }
    return deepest;
}

const char *lossd_codec_type_name(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return "an object";
    case JSON_ARRAY:
        return "an array";
    case JSON_STRING:
        return "a string";
    case JSON_INTEGER:
    case JSON_REAL:
        return "a number";
    case JSON_TRUE:
    case JSON_FALSE:
        return "a boolean";
    case JSON_NULL:
        return "null";
    }
    return "a value";
}

/* What a parse error says, in lossd's words where jansson's would name its own flags. */
static void parse_fault(const json_error_t *error, lossd_fault *f)
{
    enum json_error_code code = json_error_code(error);
    if (code == json_error_null_character || code == json_error_null_byte_in_key)
        lossd_fault_set(f, LOSSD_FAULT_INVALID_JSON, NULL,
                        "a string holds \\u0000, which lossd does not take (line %d, column %d)",
                        error->line, error->column);
    else
        lossd_fault_set(f, LOSSD_FAULT_INVALID_JSON, NULL, "%s (line %d, column %d)", error->text,
                        error->line, error->column);
}

/*
 * Python's json.dumps writes NaN, Infinity and -Infinity bare unless told
 * not to (allow_nan=False), and they are not JSON: when the parser stopped
 * at one, say so, and what lossd takes instead. Returns whether it did.
 */
static bool bare_nonfinite(const char *body, size_t len, const json_error_t *error, lossd_fault *f)
{
    if (json_error_code(error) != json_error_invalid_syntax ||
        strncmp(error->text, "invalid token", 13) != 0)
        return false;
    size_t at = (size_t)error->position, lo = at > 12 ? at - 12 : 0, hi = at + 12;
    static const char *const tokens[] = {"NaN", "Infinity"};
    for (size_t i = lo; i < hi && i < len; i++)
        for (size_t t = 0; t < 2; t++) {
            size_t n = strlen(tokens[t]);
            if (i + n <= len && memcmp(body + i, tokens[t], n) == 0 &&
                (i == 0 || body[i - 1] != '"')) {
                lossd_fault_set(f, LOSSD_FAULT_INVALID_JSON, NULL,
                                "%s is not JSON (line %d, column %d): Python's json.dumps writes "
                                "NaN, Infinity and -Infinity unless allow_nan=False. Send them "
                                "as the strings \"NaN\", \"Infinity\", \"-Infinity\", with "
                                "\"nonfinite\": \"strings\" in the request",
                                i > 0 && body[i - 1] == '-' && t == 1 ? "-Infinity" : tokens[t],
                                error->line, error->column);
                return true;
            }
        }
    return false;
}

json_t *lossd_codec_load(const char *body, size_t len, lossd_arena *arena, lossd_fault *f)
{
    /* A UTF-8 byte-order mark (some Windows tools write one) is not part of the JSON. */
    if (len >= 3 && memcmp(body, "\xEF\xBB\xBF", 3) == 0) {
        body += 3;
        len -= 3;
    }
    size_t blank = 0;
    while (blank < len && strchr(" \t\r\n", body[blank]) && body[blank] != '\0')
        blank++;
    if (blank == len) {
        lossd_fault_set(f, LOSSD_FAULT_INVALID_JSON, NULL,
                        "the body is empty; send a JSON object, such as {\"input\": [...]}");
        return NULL;
    }
    size_t where = 0;
    if (nesting_depth(body, len, LOSSD_MAX_JSON_DEPTH, &where) > LOSSD_MAX_JSON_DEPTH) {
        lossd_fault_set(f, LOSSD_FAULT_INVALID_JSON, NULL,
                        "JSON nested deeper than %d levels (at byte %zu); lossd requests "
                        "never need more",
                        LOSSD_MAX_JSON_DEPTH, where);
        return NULL;
    }
    json_error_t error;
    if (arena)
        lossd_arena_begin(arena);
    /* Any value, so that a number or a string is told apart from broken JSON. */
    json_t *root = json_loadb(
        body, len, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL | JSON_DECODE_ANY, &error);
    if (arena)
        lossd_arena_end(arena);
    if (root == NULL) {
        if (!bare_nonfinite(body, len, &error, f))
            parse_fault(&error, f);
        return NULL;
    }
    if (!json_is_object(root)) {
        lossd_fault_set(f, LOSSD_FAULT_INVALID_JSON, NULL,
                        "the body must be a JSON object {...}, got %s",
                        lossd_codec_type_name(root));
        if (arena == NULL)
            json_decref(root);
        return NULL;
    }
    return root;
}

size_t lossd_codec_object_prefix(const char *body, size_t len)
{
    size_t where = 0;
    if (len == 0 || nesting_depth(body, len, LOSSD_MAX_JSON_DEPTH, &where) > LOSSD_MAX_JSON_DEPTH)
        return 0;
    json_error_t error;
    json_t *root = json_loadb(body, len, JSON_DISABLE_EOF_CHECK | JSON_DECODE_INT_AS_REAL, &error);
    size_t end = json_is_object(root) ? error.position : 0;
    json_decref(root);
    return end;
}

/* ------------------------------------------------------------ tensors */

/* A number of a tensor: as it was written (v1 JSON takes any JSON number). */
static bool plain_number(void *ctx, double x, double *out, const char **what)
{
    (void)ctx;
    (void)what;
    *out = x;
    return true;
}

/*
 * The fault at the element or level idx[0..depth) of the tensor being
 * read; a misfit of the shape (not of a number) says why the shape is what
 * it is.
 */
__attribute__((format(printf, 5, 6))) static int
nested_fault(const lossd_nested *n, const size_t *idx, int depth, bool shape, const char *fmt, ...)
{
    char path[LOSSD_FIELD_MAX], message[LOSSD_FAULT_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    lossd_path_index(path, sizeof path, n->name, idx, depth);
    return lossd_fault_set(n->f, n->kind, path, "%s%s", message, shape && n->why ? n->why : "");
}

/* The number a JSON string names with "nonfinite": "strings"; false when it names none. */
static bool nonfinite_string(const json_t *v, double *x)
{
    const char *text = json_string_value(v);
    if (text && strcmp(text, "NaN") == 0)
        *x = NAN;
    else if (text && strcmp(text, "Infinity") == 0)
        *x = INFINITY;
    else if (text && strcmp(text, "-Infinity") == 0)
        *x = -INFINITY;
    else
        return false;
    return true;
}

static int read_number(const lossd_nested *n, const json_t *v, double *out, const size_t *idx,
                       int depth)
{
    const char *what = "a number";
    double x = 0;
    if (json_is_number(v))
        x = json_number_value(v);
    else if (!(n->nonfinite_strings && nonfinite_string(v, &x)))
        return nested_fault(n, idx, depth, false, "expected a number, got %s%s",
                            lossd_codec_type_name(v),
                            json_is_string(v) && !n->nonfinite_strings
                                ? " (for NaN and infinities, send \"nonfinite\": \"strings\" and "
                                  "\"NaN\", \"Infinity\", \"-Infinity\")"
                                : "");
    if (!n->convert(n->ctx, x, out, &what)) {
        char text[LOSSD_DTOA_MAX + 1];
        return nested_fault(n, idx, depth, false, "%s is not %s", lossd_dtoa_text(x, text), what);
    }
    return 0;
}

static int read_level(const lossd_nested *n, const json_t *v, int depth, size_t *idx,
                      double **cursor)
{
    if (depth == n->rank)
        return read_number(n, v, (*cursor)++, idx, depth);
    if (!json_is_array(v))
        return nested_fault(n, idx, depth, true, "expected an array of %zu, got %s",
                            n->shape[depth], lossd_codec_type_name(v));
    size_t len = json_array_size(v);
    if (len != n->shape[depth])
        return nested_fault(n, idx, depth, true, "expected %zu %s, got %zu", n->shape[depth],
                            depth + 1 == n->rank ? "numbers" : "arrays", len);
    for (size_t i = 0; i < len; i++) {
        idx[depth] = i;
        if (read_level(n, json_array_get(v, i), depth + 1, idx, cursor) < 0)
            return -1;
    }
    return 0;
}

int lossd_codec_read_nested(const lossd_nested *n, const json_t *v, double *out)
{
    size_t idx[LOSSD_MAX_RANK] = {0};
    double *cursor = out;
    return read_level(n, v, 0, idx, &cursor);
}

/*
 * Reads a number or a rectangular nested array of numbers into a new
 * tensor owned by `store`. The shape comes from the first element at each
 * level; every other element must agree.
 */
static int read_tensor(const json_t *v, const char *name, const lossd_limits *lim,
                       lossd_tensors *store, lossd_tensor *out, bool strings, lossd_fault *f)
{
    size_t shape[LOSSD_MAX_RANK];
    int rank = 0;
    const json_t *probe = v;
    while (json_is_array(probe)) {
        if (rank == LOSSD_MAX_RANK)
            return lossd_fault_set(f, LOSSD_FAULT_INVALID_ARGUMENT, name,
                                   "a tensor has at most %d dimensions", LOSSD_MAX_RANK);
        size_t n = json_array_size(probe);
        shape[rank++] = n;
        if (n == 0)
            break;
        probe = json_array_get(probe, 0);
    }
    double x;
    if (!json_is_array(v) && !json_is_number(v) && !(strings && nonfinite_string(v, &x)))
        return lossd_fault_set(f, LOSSD_FAULT_INVALID_ARGUMENT, name,
                               "expected a number or an array of numbers, got %s",
                               lossd_codec_type_name(v));
    lossd_tensor t;
    if (lossd_tensor_view(&t, NULL, rank, shape) < 0)
        return lossd_fault_set(f, LOSSD_FAULT_TOO_LARGE, name,
                               "the request holds more than %zu numbers (--max-elements)",
                               lim->max_elements);
    double *data = lossd_tensors_alloc(store, t.size, name, lim, f);
    if (data == NULL)
        return -1;
    lossd_nested n = {.name = name,
                      .rank = rank,
                      .shape = shape,
                      .kind = LOSSD_FAULT_INVALID_ARGUMENT,
                      .why = " (tensors must be rectangular)",
                      .convert = plain_number,
                      .nonfinite_strings = strings,
                      .f = f};
    if (lossd_codec_read_nested(&n, v, data) < 0)
        return -1;
    t.data = data;
    *out = t;
    return 0;
}

/* ------------------------------------------------------------ binding */

/* Request fields every function of a kind takes besides its parameters. */
typedef enum {
    FIELD_REDUCTION,
    FIELD_GRAD,
    FIELD_GRAD_OUTPUT,
    FIELD_TERMS,
    FIELD_NONFINITE,
    FIELD_COUNT
} field_id;

static const char *const field_names[FIELD_COUNT] = {"reduction", "grad", "grad_output", "terms",
                                                     "nonfinite"};

static bool takes_field(const lossd_function *fn, field_id id)
{
    switch (id) {
    case FIELD_REDUCTION:
        return fn->kind == LOSSD_KIND_LOSS;
    case FIELD_GRAD:
    case FIELD_GRAD_OUTPUT:
        return fn->flags & LOSSD_FN_GRAD;
    case FIELD_TERMS:
        return fn->flags & LOSSD_FN_TERMS;
    case FIELD_NONFINITE:
        return true;
    case FIELD_COUNT:
        break;
    }
    return false;
}

void lossd_codec_field_names(const lossd_function *fn, char *buf, size_t size)
{
    buf[0] = '\0';
    for (size_t k = 0; k < 2; k++)
        if (fn->operands[k].rule != LOSSD_RULE_NONE)
            lossd_names_add(buf, size, fn->operands[k].name);
    for (int id = 0; id < FIELD_COUNT; id++)
        if (takes_field(fn, (field_id)id))
            lossd_names_add(buf, size, field_names[id]);
    for (size_t i = 0; i < fn->n_params; i++)
        lossd_names_add(buf, size, fn->params[i].name);
}

/*
 * Whether `key` is a field fn takes that may be left out: reduction, grad,
 * grad_output, terms and every parameter (a parameter without a default
 * left out is then missing, as when absent). Operands may not.
 */
static bool is_optional(const lossd_function *fn, const char *key)
{
    for (int id = 0; id < FIELD_COUNT; id++)
        if (takes_field(fn, (field_id)id) && strcmp(key, field_names[id]) == 0)
            return true;
    return lossd_function_param(fn, key) != NULL;
}

static int expect_type(bool ok, const char *field, const char *want, const json_t *v,
                       lossd_fault *f)
{
    if (ok)
        return 0;
    return lossd_fault_set(f, LOSSD_FAULT_INVALID_ARGUMENT, field, "expected %s, got %s", want,
                           lossd_codec_type_name(v));
}

int lossd_codec_bind_param(lossd_call *c, const lossd_param_spec *spec, const json_t *v,
                           const lossd_limits *lim, lossd_tensors *store, lossd_fault *f)
{
    lossd_error err = {0};
    int rc = 0;
    switch (spec->type) {
    case LOSSD_PARAM_NUMBER:
    case LOSSD_PARAM_INTEGER:
        if (expect_type(json_is_number(v), spec->name,
                        spec->type == LOSSD_PARAM_NUMBER ? "a number" : "an integer", v, f) < 0)
            return -1;
        rc = lossd_call_set_number(c, spec->name, json_number_value(v), &err);
        break;
    case LOSSD_PARAM_BOOL:
        if (expect_type(json_is_boolean(v), spec->name, "true or false", v, f) < 0)
            return -1;
        rc = lossd_call_set_bool(c, spec->name, json_is_true(v), &err);
        break;
    case LOSSD_PARAM_CHOICE:
        if (expect_type(json_is_string(v), spec->name, "a string", v, f) < 0)
            return -1;
        rc = lossd_call_set_choice(c, spec->name, json_string_value(v), &err);
        break;
    case LOSSD_PARAM_LOG_BASE:
        if (expect_type(json_is_number(v) || json_is_string(v), spec->name, "a number or \"e\"", v,
                        f) < 0)
            return -1;
        rc = json_is_number(v) ? lossd_call_set_number(c, spec->name, json_number_value(v), &err)
                               : lossd_call_set_choice(c, spec->name, json_string_value(v), &err);
        break;
    case LOSSD_PARAM_TENSOR: {
        lossd_tensor t;
        if (read_tensor(v, spec->name, lim, store, &t, false, f) < 0)
            return -1;
        rc = lossd_call_set_tensor(c, spec->name, &t, &err);
        break;
    }
    }
    return rc < 0 ? lossd_fault_from_error(f, &err) : 0;
}

/* The name of the operand whose gradient is written under "grad_<name>" (target, q), or NULL. */
const char *lossd_codec_second_grad_operand(const lossd_function *fn)
{
    return (fn->flags & LOSSD_FN_GRAD_SECOND) ? fn->operands[1].name : NULL;
}

/*
 * "grad": true (the first operand's gradient, as always), false, or the
 * list of operands to differentiate with respect to, by name:
 * ["input", "target"], ["target"], ["p", "q"].
 */
static int bind_grad(lossd_call *c, const json_t *v, lossd_fault *f)
{
    const lossd_function *fn = c->fn;
    if (json_is_boolean(v)) {
        c->want_grad = json_is_true(v);
        return 0;
    }
    const char *second = lossd_codec_second_grad_operand(fn);
    char names[96] = "";
    lossd_names_add(names, sizeof names, fn->operands[0].name);
    if (second)
        lossd_names_add(names, sizeof names, second);
    if (!json_is_array(v))
        return lossd_fault_set(f, LOSSD_FAULT_INVALID_ARGUMENT, "grad",
                               "expected true, false or a list of operand names (%s), got %s",
                               names, lossd_codec_type_name(v));
    size_t i;
    const json_t *name;
    json_array_foreach(v, i, name)
    {
        char field[32];
        snprintf(field, sizeof field, "grad[%zu]", i);
        const char *text = json_string_value(name);
        if (text == NULL)
            return lossd_fault_set(f, LOSSD_FAULT_INVALID_ARGUMENT, field,
                                   "expected an operand's name (%s), got %s", names,
                                   lossd_codec_type_name(name));
        if (strcmp(text, fn->operands[0].name) == 0)
            c->want_grad = true;
        else if (second && strcmp(text, second) == 0)
            c->want_grad_second = true;
        else
            return lossd_fault_set(f, LOSSD_FAULT_INVALID_ARGUMENT, field,
                                   "%s/%s has no gradient with respect to \"%.32s\"; it has one "
                                   "with respect to: %s",
                                   lossd_kind_name(fn->kind), fn->name, text, names);
    }
    return 0;
}

int lossd_codec_nonfinite_option(const json_t *v, const char *field, bool *strings, lossd_fault *f)
{
    const char *text = json_string_value(v);
    if (text && (strcmp(text, "null") == 0 || strcmp(text, "strings") == 0)) {
        *strings = text[0] == 's';
        return 0;
    }
    char got[64];
    if (text)
        snprintf(got, sizeof got, "\"%.32s\"", text);
    else
        snprintf(got, sizeof got, "%s", lossd_codec_type_name(v));
    return lossd_fault_set(f, LOSSD_FAULT_INVALID_ARGUMENT, field,
                           "expected \"null\" (non-finite numbers as null, the default) or "
                           "\"strings\" (as \"NaN\", \"Infinity\", \"-Infinity\"), got %s",
                           got);
}

int lossd_codec_bind(const lossd_function *fn, const json_t *obj, const lossd_limits *lim,
                     lossd_call *c, lossd_tensors *store, bool *nonfinite_strings, lossd_fault *f)
{
    lossd_call_init(c, fn);
    c->max_output = lim->max_elements;
    *nonfinite_strings = false;
    if (!json_is_object(obj))
        return lossd_fault_set(f, LOSSD_FAULT_INVALID_ARGUMENT, NULL,
                               "the request must be a JSON object, got %s",
                               lossd_codec_type_name(obj));
    const char *key;
    const json_t *v;
    lossd_error err = {0};
    /* First: it decides how the tensors' numbers read, whatever the order of the keys. */
    const json_t *option = json_object_get(obj, "nonfinite");
    if (option && !json_is_null(option) &&
        lossd_codec_nonfinite_option(option, "nonfinite", nonfinite_strings, f) < 0)
        return -1;
    bool strings = *nonfinite_strings;
    json_object_foreach((json_t *)obj, key, v)
    {
        lossd_tensor t;
        if (json_is_null(v) && is_optional(fn, key))
            continue; /* null is the default, as Python's None and JS's undefined */
        if (fn->operands[0].rule != LOSSD_RULE_NONE && strcmp(key, fn->operands[0].name) == 0) {
            if (read_tensor(v, key, lim, store, &t, strings, f) < 0)
                return -1;
            lossd_call_set_operand(c, key, &t, &err);
        } else if (fn->operands[1].rule != LOSSD_RULE_NONE &&
                   strcmp(key, fn->operands[1].name) == 0) {
            if (read_tensor(v, key, lim, store, &t, strings, f) < 0)
                return -1;
            lossd_call_set_operand(c, key, &t, &err);
        } else if (takes_field(fn, FIELD_REDUCTION) && strcmp(key, "reduction") == 0) {
            if (expect_type(json_is_string(v), key, "a string", v, f) < 0)
                return -1;
            if (lossd_call_set_reduction(c, json_string_value(v), &err) < 0)
                return lossd_fault_from_error(f, &err);
        } else if (takes_field(fn, FIELD_GRAD) && strcmp(key, "grad") == 0) {
            if (bind_grad(c, v, f) < 0)
                return -1;
        } else if (strcmp(key, "nonfinite") == 0) {
            continue; /* read first, above */
        } else if (takes_field(fn, FIELD_TERMS) && strcmp(key, "terms") == 0) {
            if (expect_type(json_is_boolean(v), key, "true or false", v, f) < 0)
                return -1;
            c->want_terms = json_is_true(v);
        } else if (takes_field(fn, FIELD_GRAD_OUTPUT) && strcmp(key, "grad_output") == 0) {
            if (read_tensor(v, key, lim, store, &c->grad_output, strings, f) < 0)
                return -1;
            c->grad_output_set = true;
        } else {
            const lossd_param_spec *spec = lossd_function_param(fn, key);
            if (spec == NULL) {
                char names[512];
                lossd_codec_field_names(fn, names, sizeof names);
                return lossd_fault_set(f, LOSSD_FAULT_INVALID_ARGUMENT, key,
                                       "unknown field; %s/%s takes: %s", lossd_kind_name(fn->kind),
                                       fn->name, names);
            }
            if (lossd_codec_bind_param(c, spec, v, lim, store, f) < 0)
                return -1;
        }
    }
    return 0;
}

/* ------------------------------------------------------------ replies */

/* Appends numbers data[0..n) as "a,b,c" (no brackets). */
static void write_run(lossd_buf *out, const double *data, size_t n, bool strings)
{
    char *start = n ? lossd_buf_prepare(out, n * (LOSSD_DTOA_MAX + 1)) : NULL;
    if (start == NULL)
        return;
    char *p = start;
    for (size_t i = 0; i < n; i++) {
        if (i)
            *p++ = ',';
        p += strings ? lossd_dtoa_json(data[i], p, true) : lossd_dtoa(data[i], p);
    }
    lossd_buf_commit(out, (size_t)(p - start));
}

/* Appends rows [begin, end) of a tensor (each a sub-tensor along axis 0), comma-separated. */
static void write_rows(lossd_buf *out, const double *data, int rank, const size_t *shape,
                       size_t begin, size_t end, bool strings)
{
    if (rank == 1) {
        write_run(out, data + begin, end - begin, strings);
        return;
    }
    size_t row = 1;
    for (int d = 1; d < rank; d++)
        row *= shape[d];
    for (size_t r = begin; r < end; r++) {
        if (r > begin)
            lossd_buf_append(out, ",", 1);
        lossd_buf_append(out, "[", 1);
        write_rows(out, data + r * row, rank - 1, shape + 1, 0, shape[1], strings);
        lossd_buf_append(out, "]", 1);
    }
}

typedef struct {
    const double *data;
    int rank;
    const size_t *shape;
    size_t rows_per_task, n_rows;
    bool strings;
    lossd_buf *parts;
} format_job;

static void format_task(void *arg, size_t i)
{
    format_job *job = arg;
    size_t begin = i * job->rows_per_task;
    size_t end =
        begin + job->rows_per_task < job->n_rows ? begin + job->rows_per_task : job->n_rows;
    lossd_buf_init(&job->parts[i], 0);
    write_rows(&job->parts[i], job->data, job->rank, job->shape, begin, end, job->strings);
}

/* Appends a tensor as JSON: a number for rank 0, nested arrays otherwise. */
static void write_number(lossd_buf *out, double x, const lossd_number_format *how)
{
    char *p = lossd_buf_prepare(out, LOSSD_DTOA_MAX);
    if (p)
        lossd_buf_commit(out, lossd_dtoa_json(x, p, how->nonfinite_strings));
}

static void write_tensor(lossd_buf *out, const double *data, int rank, const size_t *shape,
                         const lossd_number_format *how)
{
    const lossd_exec *exec = how->exec;
    bool strings = how->nonfinite_strings;
    if (rank == 0) {
        write_number(out, data[0], how);
        return;
    }
    size_t size = 1;
    for (int d = 0; d < rank; d++)
        size *= shape[d];
    lossd_buf_append(out, "[", 1);
    size_t n_rows = shape[0], row = n_rows ? size / n_rows : 0;
    size_t rows_per_task = row ? (FORMAT_TASK_NUMBERS + row - 1) / row : n_rows;
    size_t n_tasks = rows_per_task ? (n_rows + rows_per_task - 1) / rows_per_task : 0;
    if (size < PARALLEL_FORMAT_MIN || exec == NULL || exec->width < 2 || n_tasks < 2) {
        write_rows(out, data, rank, shape, 0, n_rows, strings);
    } else {
        lossd_buf *parts = calloc(n_tasks, sizeof *parts);
        if (parts == NULL) {
            lossd_buf_fail(out);
            return;
        }
        format_job job = {data, rank, shape, rows_per_task, n_rows, strings, parts};
        lossd_exec_for(exec, n_tasks, format_task, &job);
        size_t total = n_tasks + 1; /* the commas and the closing bracket */
        for (size_t i = 0; i < n_tasks; i++)
            total += lossd_buf_len(&parts[i]);
        lossd_buf_reserve(out, total); /* one exact allocation, not doubling */
        for (size_t i = 0; i < n_tasks; i++) {
            if (i)
                lossd_buf_append(out, ",", 1);
            if (lossd_buf_failed(&parts[i]))
                lossd_buf_fail(out);
            lossd_buf_append(out, lossd_buf_data(&parts[i]), lossd_buf_len(&parts[i]));
            lossd_buf_cleanup(&parts[i]);
        }
        free(parts);
    }
    lossd_buf_append(out, "]", 1);
}

void lossd_codec_write_numbers(lossd_buf *out, const double *data, size_t n,
                               const lossd_number_format *how)
{
    write_tensor(out, data, 1, &n, how);
}

static void write_field(lossd_buf *out, const char *name, const lossd_tensor *shape,
                        const double *data, const lossd_number_format *how)
{
    lossd_buf_puts(out, ",\"");
    lossd_buf_puts(out, name);
    lossd_buf_puts(out, "\":");
    write_tensor(out, data, shape->rank, shape->shape, how);
}

void lossd_codec_write_reply(const lossd_call *c, const lossd_number_format *how, lossd_buf *out)
{
    const lossd_function *fn = c->fn;
    lossd_buf_puts(out, "{\"");
    lossd_buf_puts(out, lossd_kind_result(fn->kind));
    lossd_buf_puts(out, "\":");
    if (fn->kind == LOSSD_KIND_LOSS && c->reduction != LOSSD_REDUCTION_NONE)
        write_number(out, c->loss, how);
    else
        write_tensor(out, c->output.data, c->output.rank, c->output.shape, how);
    if (fn->kind == LOSSD_KIND_LOSS) {
        lossd_buf_puts(out, ",\"n\":");
        lossd_buf_uint(out, c->n_terms);
    }
    if (c->grad)
        write_field(out, "grad", &c->operand[0], c->grad, how);
    if (c->grad_second) {
        char name[64];
        snprintf(name, sizeof name, "grad_%s", fn->operands[1].name);
        write_field(out, name, &c->operand[1], c->grad_second, how);
    }
    if (c->want_terms) {
        lossd_buf_puts(out, ",\"terms\":{");
        for (size_t k = 0; lossd_call_term_name(c, k); k++) {
            lossd_buf_puts(out, k ? ",\"" : "\"");
            lossd_buf_puts(out, lossd_call_term_name(c, k));
            lossd_buf_puts(out, "\":");
            write_tensor(out, c->terms[k], c->output.rank, c->output.shape, how);
        }
        lossd_buf_puts(out, "}");
    }
    if (fn->kind == LOSSD_KIND_ACTIVATION) {
        lossd_buf_puts(out, ",\"stats\":{\"n\":");
        lossd_buf_uint(out, c->n_terms);
        lossd_buf_puts(out, ",\"zero_grad_fraction\":");
        write_number(out, c->zero_grad_fraction, how);
        lossd_buf_puts(out, "}");
    }
    if (c->n_nonfinite) {
        lossd_buf_puts(out, ",\"nonfinite\":");
        lossd_buf_uint(out, c->n_nonfinite);
    }
    lossd_buf_puts(out, "}");
}
