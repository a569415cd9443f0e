/* SPDX-License-Identifier: MIT */
/*
 * v2.c - the Open Inference Protocol (see v2.h).
 *
 * An inference request is read in one pass over its JSON header, in this
 * order whatever the order of its keys: the request's parameters (the
 * function's scalar parameters, and binary_data_output), the outputs asked
 * for (which decide whether gradients and terms are computed at all), then
 * the inputs - each checked against its shape, datatype and the bytes
 * present, read, and bound to the call - then the count of binary bytes,
 * which must come out exact. The core validates the rest (shapes against
 * each other, domains) exactly as for /v1, so both protocols answer the
 * same numbers and the same 422s.
 *
 * Errors follow the protocol: {"error": "<path>: <message>"}. What is
 * wrong with the framing - lengths, sizes, shapes against data, datatypes -
 * is a 400 naming the input; what breaks the function's contract (unknown
 * inputs or parameters, bad values) is a 422 as on /v1.
 *
 * Threading: see v2.h; nothing here is shared between requests.
 */
#include <limits.h>
#include <stdarg.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "../debug.h"
#include "arena.h"
#include "catalog.h"
#include "dtoa.h"
#include "v2.h"

/* ---------------------------------------------------------------- datatypes */

typedef enum { DT_FP64, DT_FP32, DT_INT64, DT_INT32, DT_COUNT } datatype;

static const struct {
    const char *name;
    size_t size;
} datatypes[DT_COUNT] = {
    [DT_FP64] = {"FP64", 8},
    [DT_FP32] = {"FP32", 4},
    [DT_INT64] = {"INT64", 8},
    [DT_INT32] = {"INT32", 4},
};

static int datatype_of(const char *name)
{
    for (int d = 0; d < DT_COUNT; d++)
        if (strcmp(datatypes[d].name, name) == 0)
            return d;
    return -1;
}

/* ---------------------------------------------------------------- a model's tensors */

typedef enum { INPUT_OPERAND, INPUT_TENSOR_PARAM, INPUT_GRAD_OUTPUT } input_kind;

/* One input of a model, from the registry row. */
typedef struct {
    const char *name;
    input_kind kind;
    size_t index;     /* the operand, or the parameter */
    bool class_index; /* takes INT64/INT32 class indices besides FP64/FP32 */
    bool index_only;  /* holds class indices only: INT64 is its natural datatype */
    bool optional;
    const char *summary;
    int rank;           /* of the metadata shape */
    long long shape[2]; /* -1: any length */
} model_input;

#define MAX_INPUTS (2 + LOSSD_MAX_PARAMS + 1)

typedef enum { OUT_MAIN, OUT_N, OUT_GRAD, OUT_TERM, OUT_STATS_N, OUT_ZERO_GRAD } output_kind;

/* One output of a model: the v1 reply's field, by its path: prefix and name ("terms." "iou"). */
typedef struct {
    output_kind kind;
    size_t term;
    const char *prefix, *name; /* static text: nothing to format per request */
} model_output;

/* Whether an output's path is `text`. */
static bool output_is(const model_output *out, const char *text)
{
    size_t len = strlen(out->prefix);
    return strncmp(text, out->prefix, len) == 0 && strcmp(text + len, out->name) == 0;
}

/* Writes an output's path into buf (messages and metadata only). */
static const char *output_path(const model_output *out, char *buf, size_t size)
{
    snprintf(buf, size, "%s%s", out->prefix, out->name);
    return buf;
}

#define MAX_OUTPUTS (4 + LOSSD_MAX_TERMS)

static const char *main_output(lossd_kind kind)
{
    static const char *const names[LOSSD_KIND_COUNT] = {"loss", "output", "value", "matrix"};
    return (unsigned)kind < LOSSD_KIND_COUNT ? names[kind] : "output";
}

/* The metadata shape of an operand: -1 for a length that varies. */
static int operand_shape(lossd_shape_rule rule, long long shape[2])
{
    shape[0] = shape[1] = -1;
    switch (rule) {
    case LOSSD_SHAPE_SCORES:
    case LOSSD_SHAPE_DISTRIBUTIONS:
        return 2;
    case LOSSD_SHAPE_BOXES:
    case LOSSD_SHAPE_BOX_LIST:
        shape[1] = 4;
        return 2;
    default:
        return 1; /* any rank, one index per element, or (N) */
    }
}

static bool takes_class_indices(lossd_shape_rule rule)
{
    return rule == LOSSD_SHAPE_CLASS_INDEX || rule == LOSSD_SHAPE_CLASS_OR_PROB;
}

/* The inputs of fn: its operands, tensor parameters and (with gradients) grad_output. */
static size_t model_inputs(const lossd_function *fn, model_input *out)
{
    size_t n = 0;
    for (size_t k = 0; k < 2; k++) {
        const lossd_operand_spec *op = &fn->operands[k];
        if (op->shape == LOSSD_SHAPE_NONE)
            continue;
        model_input *in = &out[n++];
        *in = (model_input){.name = op->name,
                            .kind = INPUT_OPERAND,
                            .index = k,
                            .class_index = takes_class_indices(op->shape),
                            .index_only = op->shape == LOSSD_SHAPE_CLASS_INDEX,
                            .summary = op->summary};
        if (op->shape == LOSSD_SHAPE_LIKE_INPUT && n > 1) {
            in->rank = out[0].rank;
            memcpy(in->shape, out[0].shape, sizeof in->shape);
        } else {
            in->rank = operand_shape(op->shape, in->shape);
        }
    }
    for (size_t i = 0; i < fn->n_params; i++)
        if (fn->params[i].type == LOSSD_PARAM_TENSOR)
            out[n++] = (model_input){.name = fn->params[i].name,
                                     .kind = INPUT_TENSOR_PARAM,
                                     .index = i,
                                     .optional = true,
                                     .summary = fn->params[i].summary,
                                     .rank = 1,
                                     .shape = {-1, -1}};
    if (fn->flags & LOSSD_FN_GRAD)
        out[n++] = (model_input){.name = "grad_output",
                                 .kind = INPUT_GRAD_OUTPUT,
                                 .optional = true,
                                 .summary = "upstream gradient, shaped like the unreduced loss "
                                            "(reduction none) or the activation's output",
                                 .rank = 1,
                                 .shape = {-1, -1}};
    return n;
}

/* The outputs of fn, in the order of the v1 reply's fields. */
static size_t model_outputs(const lossd_function *fn, model_output *out)
{
    size_t n = 0;
    out[n++] = (model_output){OUT_MAIN, 0, "", main_output(fn->kind)};
    if (fn->kind == LOSSD_KIND_LOSS)
        out[n++] = (model_output){OUT_N, 0, "", "n"};
    if (fn->flags & LOSSD_FN_GRAD)
        out[n++] = (model_output){OUT_GRAD, 0, "", "grad"};
    for (size_t k = 0; (fn->flags & LOSSD_FN_TERMS) && k < LOSSD_MAX_TERMS && fn->terms[k]; k++)
        out[n++] = (model_output){OUT_TERM, k, "terms.", fn->terms[k]};
    if (fn->kind == LOSSD_KIND_ACTIVATION) {
        out[n++] = (model_output){OUT_STATS_N, 0, "stats.", "n"};
        out[n++] = (model_output){OUT_ZERO_GRAD, 0, "stats.", "zero_grad_fraction"};
    }
    return n;
}

/* Writes "a, b, c" of the names into buf. */
static void join_names(char *buf, size_t size, const char *const *names, size_t n)
{
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        int w = snprintf(buf + used, size - used, "%s%s", i ? ", " : "", names[i]);
        if (w < 0 || used + (size_t)w >= size)
            break;
        used += (size_t)w;
    }
}

/* ---------------------------------------------------------------- framing */

int lossd_v2_header_len(const char *value, size_t *len)
{
    size_t n = 0;
    if (value == NULL || *value == '\0')
        return -1;
    for (const char *p = value; *p; p++) {
        if (*p < '0' || *p > '9' || n > (SIZE_MAX - 9) / 10)
            return -1;
        n = n * 10 + (size_t)(*p - '0');
    }
    if (n == LOSSD_NO_HEADER_LEN)
        return -1;
    *len = n;
    return 0;
}

/* ---------------------------------------------------------------- metadata */

static char *dump(json_t *doc)
{
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

static json_t *input_json(const model_input *in)
{
    json_t *types = in->class_index ? json_pack("[s, s, s, s]", "INT64", "INT32", "FP64", "FP32")
                                    : json_pack("[s, s]", "FP64", "FP32");
    json_t *entry =
        json_pack("{s:s, s:s, s:o, s:o, s:s}", "name", in->name, "datatype",
                  in->index_only ? "INT64" : "FP64", "shape", shape_json(in->rank, in->shape),
                  "datatypes", types, "summary", in->summary ? in->summary : "");
    if (entry && in->optional)
        json_object_set_new(entry, "optional", json_true());
    return entry;
}

static json_t *output_json(const lossd_function *fn, const model_output *out,
                           const model_input *first)
{
    static const long long one[1] = {1}, matrix[2] = {-1, -1}, any[1] = {-1};
    int rank = 1;
    const long long *shape = any;
    switch (out->kind) {
    case OUT_MAIN:
        if (fn->kind == LOSSD_KIND_ACTIVATION)
            rank = first->rank, shape = first->shape;
        else if (fn->kind == LOSSD_KIND_PAIRWISE)
            rank = 2, shape = matrix;
        break;
    case OUT_GRAD:
        rank = first->rank, shape = first->shape;
        break;
    case OUT_N:
    case OUT_STATS_N:
    case OUT_ZERO_GRAD:
        shape = one;
        break;
    case OUT_TERM:
        break;
    }
    char path[64];
    return json_pack("{s:s, s:s, s:o}", "name", output_path(out, path, sizeof path), "datatype",
                     "FP64", "shape", shape_json(rank, shape));
}

char *lossd_v2_model_json(const lossd_function *fn)
{
    char name[96];
    snprintf(name, sizeof name, "%s.%s", lossd_kind_name(fn->kind), fn->name);
    model_input inputs[MAX_INPUTS];
    model_output outputs[MAX_OUTPUTS];
    size_t n_inputs = model_inputs(fn, inputs), n_outputs = model_outputs(fn, outputs);
    json_t *ins = json_array(), *outs = json_array(), *params = json_array();
    for (size_t i = 0; i < n_inputs; i++)
        json_array_append_new(ins, input_json(&inputs[i]));
    for (size_t i = 0; i < n_outputs; i++)
        json_array_append_new(outs, output_json(fn, &outputs[i], &inputs[0]));
    if (fn->kind == LOSSD_KIND_LOSS) {
        bool batchmean = fn->flags & LOSSD_FN_BATCHMEAN;
        json_array_append_new(params, json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", "reduction",
                                                "type", "string", "default", "mean", "domain",
                                                batchmean ? "one of: mean, sum, none, batchmean"
                                                          : "one of: mean, sum, none",
                                                "summary", "how the loss terms are combined"));
    }
    for (size_t i = 0; i < fn->n_params; i++)
        if (fn->params[i].type != LOSSD_PARAM_TENSOR)
            json_array_append_new(params, lossd_catalog_param(&fn->params[i]));
    return dump(json_pack("{s:s, s:[s], s:s, s:o, s:o, s:o}", "name", name, "versions", "1",
                          "platform", "lossd", "inputs", ins, "outputs", outs, "parameters",
                          params));
}

/* ---------------------------------------------------------------- parsed headers */

/*
 * A client that sends binary tensors of the same shapes sends the same
 * JSON header, byte for byte, every time: tritonclient builds it from the
 * inputs' names, shapes and datatypes, which a training loop or an
 * evaluation job repeats. Parsing it again costs more than everything
 * else a small request does (jansson reads ~200 instructions a byte), so
 * each thread keeps the trees of its last few such headers, keyed by their
 * exact bytes, and reads a repeated header from its tree (a tree says
 * nothing of the model: the same header sent to another model is read
 * against that model's row like any other).
 * Only headers without numbers in them ("data") are kept - those rarely
 * repeat - and only small ones; the tree is read exactly as a freshly
 * parsed one is, so a cached request is validated like any other.
 *
 * Threading: each thread has its own cache (a pthread key, freed when the
 * thread ends); nothing is shared.
 */
#define HEADER_CACHE_ENTRIES 4
#define HEADER_CACHE_MAX     2048 /* bytes of header; larger ones are parsed every time */

typedef struct {
    uint64_t hash;
    size_t len;
    char *text;   /* the header's bytes */
    json_t *tree; /* parsed outside any arena (malloc'd); read only */
    uint64_t used;
} cached_header;

typedef struct {
    cached_header entry[HEADER_CACHE_ENTRIES];
    uint64_t clock;
} header_cache;

static pthread_key_t cache_key;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;
static bool cache_ready;

static void cache_drop(cached_header *e)
{
    free(e->text);
    json_decref(e->tree);
    memset(e, 0, sizeof *e);
}

static void cache_destroy(void *arg)
{
    header_cache *cache = arg;
    for (size_t i = 0; i < HEADER_CACHE_ENTRIES; i++)
        cache_drop(&cache->entry[i]);
    free(cache);
}

static void cache_init(void)
{
    cache_ready = pthread_key_create(&cache_key, cache_destroy) == 0;
}

/* This thread's cache, created on first use; NULL when out of memory. */
static header_cache *thread_cache(void)
{
    pthread_once(&cache_once, cache_init);
    if (!cache_ready)
        return NULL;
    header_cache *cache = pthread_getspecific(cache_key);
    if (cache == NULL && (cache = calloc(1, sizeof *cache)) != NULL &&
        pthread_setspecific(cache_key, cache) != 0) {
        free(cache);
        cache = NULL;
    }
    return cache;
}

/* FNV-1a: cheap, and good enough to tell a handful of headers apart (bytes are compared too). */
static uint64_t header_hash(const char *text, size_t len)
{
    uint64_t h = 14695981039346656037ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)text[i]) * 1099511628211ull;
    return h;
}

static json_t *cache_find(header_cache *cache, const char *text, size_t len, uint64_t hash)
{
    for (size_t i = 0; i < HEADER_CACHE_ENTRIES; i++) {
        cached_header *e = &cache->entry[i];
        if (e->tree && e->hash == hash && e->len == len && memcmp(e->text, text, len) == 0) {
            e->used = ++cache->clock;
            return e->tree;
        }
    }
    return NULL;
}

/* Keeps a copy of the header and of its tree, in place of the least recently used one. */
static void cache_put(header_cache *cache, const char *text, size_t len, uint64_t hash,
                      const json_t *tree)
{
    cached_header *e = &cache->entry[0];
    for (size_t i = 1; i < HEADER_CACHE_ENTRIES; i++)
        if (cache->entry[i].used < e->used)
            e = &cache->entry[i];
    cache_drop(e);
    json_t *copy = json_deep_copy(tree); /* no arena is active here: plain malloc */
    char *bytes = malloc(len ? len : 1);
    if (copy == NULL || bytes == NULL) {
        json_decref(copy);
        free(bytes);
        return;
    }
    memcpy(bytes, text, len);
    *e = (cached_header){hash, len, bytes, copy, ++cache->clock};
}

/* ---------------------------------------------------------------- inference */

/* What a reply's binary outputs point into, freed once the reply is sent. */
typedef struct {
    lossd_call call;
    lossd_tensors store;
    double scalars[MAX_OUTPUTS]; /* reduced loss, n, statistics */
} result;

static void result_release(void *owner)
{
    result *res = owner;
    lossd_call_cleanup(&res->call);
    lossd_tensors_free(&res->store);
    free(res);
}

typedef struct {
    const model_output *output;
    bool binary;
} wanted;

typedef struct {
    const lossd_handler *h;
    const lossd_function *fn;
    model_input inputs[MAX_INPUTS];
    size_t n_inputs;
    bool input_seen[MAX_INPUTS];
    model_output outputs[MAX_OUTPUTS];
    size_t n_outputs;
    wanted want[MAX_OUTPUTS];
    size_t n_want;
    bool binary_default; /* binary_data_output */
    const char *binary;  /* the bytes after the JSON header */
    size_t binary_len, binary_used;
    bool has_header_len; /* the request carried Inference-Header-Content-Length */
    bool json_data;      /* an input carried its numbers in the header ("data") */
    result *res;
    lossd_fault f;
} infer;

/*
 * The path of a field of the request, formatted into a local `field`
 * buffer only where an error needs it: a request that is right pays for
 * no formatting.
 */
#define AT(...) (snprintf(field, sizeof field, __VA_ARGS__), field)

/* A 422: the request breaks the function's contract. */
__attribute__((format(printf, 3, 4))) static int invalid(infer *x, const char *field,
                                                         const char *fmt, ...)
{
    char message[LOSSD_FAULT_MESSAGE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    return lossd_fault_set(&x->f, LOSSD_FAULT_INVALID_ARGUMENT, field, "%s", message);
}

/* "[2, 4]" */
static void shape_text(char *buf, size_t size, const size_t *shape, int rank)
{
    size_t used = (size_t)snprintf(buf, size, "[");
    for (int d = 0; d < rank && used < size; d++)
        used += (size_t)snprintf(buf + used, size - used, "%s%zu", d ? ", " : "", shape[d]);
    if (used < size)
        snprintf(buf + used, size - used, "]");
}

/* ---- parameters */

static int read_parameters(infer *x, const json_t *params)
{
    lossd_call *c = &x->res->call;
    const char *key;
    json_t *v;
    char field[LOSSD_FIELD_MAX];
    if (!json_is_object(params))
        return invalid(x, "parameters", "expected an object, got %s",
                       lossd_codec_type_name(params));
    json_object_foreach((json_t *)params, key, v)
    {
        if (strcmp(key, "binary_data_output") == 0) {
            if (!json_is_boolean(v))
                return invalid(x, AT("parameters.%s", key), "expected true or false, got %s",
                               lossd_codec_type_name(v));
            x->binary_default = json_is_true(v);
            continue;
        }
        if (json_is_null(v))
            v = NULL; /* null: the default, as an absent parameter */
        if (strcmp(key, "reduction") == 0 && x->fn->kind == LOSSD_KIND_LOSS) {
            lossd_error err = {0};
            if (v && !json_is_string(v))
                return invalid(x, AT("parameters.%s", key), "expected a string, got %s",
                               lossd_codec_type_name(v));
            if (v && lossd_call_set_reduction(c, json_string_value(v), &err) < 0)
                return lossd_fault_from_error(&x->f, &err);
            continue;
        }
        const lossd_param_spec *spec = lossd_function_param(x->fn, key);
        if (spec && spec->type == LOSSD_PARAM_TENSOR)
            return invalid(x, AT("parameters.%s", key), "%s is a tensor: send it as an input", key);
        if (spec) {
            if (v && lossd_codec_bind_param(c, spec, v, &x->h->limits, &x->res->store, &x->f) < 0)
                return -1;
            continue;
        }
        char names[512];
        const char *list[LOSSD_MAX_PARAMS + 1];
        size_t n = 0;
        if (x->fn->kind == LOSSD_KIND_LOSS)
            list[n++] = "reduction";
        for (size_t i = 0; i < x->fn->n_params; i++)
            if (x->fn->params[i].type != LOSSD_PARAM_TENSOR && n < LOSSD_MAX_PARAMS + 1)
                list[n++] = x->fn->params[i].name;
        join_names(names, sizeof names, list, n);
        if (strcmp(key, "grad") == 0 || strcmp(key, "terms") == 0)
            return lossd_fault_set(&x->f, LOSSD_FAULT_INVALID_ARGUMENT, AT("parameters.%s", key),
                                   "unknown parameter; on /v2, ask for the outputs you want in "
                                   "\"outputs\" (gradients are computed when \"grad\" is asked "
                                   "for, or when \"outputs\" is absent)");
        if (n == 0)
            return lossd_fault_set(&x->f, LOSSD_FAULT_INVALID_ARGUMENT, AT("parameters.%s", key),
                                   "unknown parameter; %s.%s takes none (besides the protocol's "
                                   "binary_data_output)",
                                   lossd_kind_name(x->fn->kind), x->fn->name);
        return lossd_fault_set(&x->f, LOSSD_FAULT_INVALID_ARGUMENT, AT("parameters.%s", key),
                               "unknown parameter; %s.%s takes: %s (and the protocol's "
                               "binary_data_output)",
                               lossd_kind_name(x->fn->kind), x->fn->name, names);
    }
    return 0;
}

/* ---- outputs */

static int read_outputs(infer *x, const json_t *outputs)
{
    char field[LOSSD_FIELD_MAX];
    if (outputs == NULL) { /* every output */
        for (size_t i = 0; i < x->n_outputs; i++)
            x->want[x->n_want++] = (wanted){&x->outputs[i], x->binary_default};
        return 0;
    }
    if (!json_is_array(outputs))
        return invalid(x, "outputs", "expected an array, got %s", lossd_codec_type_name(outputs));
    size_t i;
    json_t *o;
    json_array_foreach(outputs, i, o)
    {
        if (!json_is_object(o))
            return invalid(x, AT("outputs[%zu]", i), "expected an object {\"name\": ...}, got %s",
                           lossd_codec_type_name(o));
        const char *key;
        json_t *v, *name = NULL, *params = NULL;
        json_object_foreach(o, key, v)
        {
            if (strcmp(key, "name") == 0)
                name = v;
            else if (strcmp(key, "parameters") == 0)
                params = v;
            else {
                return invalid(x, AT("outputs[%zu].%s", i, key),
                               "unknown field; an output takes: %s", "name, parameters");
            }
        }
        if (!json_is_string(name))
            return invalid(x, AT("outputs[%zu].name", i),
                           name ? "expected a string, got %s" : "required%s",
                           name ? lossd_codec_type_name(name) : "");
        const model_output *out = NULL;
        for (size_t k = 0; k < x->n_outputs && !out; k++)
            if (output_is(&x->outputs[k], json_string_value(name)))
                out = &x->outputs[k];
        if (out == NULL) {
            char names[512], paths[MAX_OUTPUTS][64];
            const char *list[MAX_OUTPUTS];
            for (size_t k = 0; k < x->n_outputs; k++)
                list[k] = output_path(&x->outputs[k], paths[k], sizeof paths[k]);
            join_names(names, sizeof names, list, x->n_outputs);
            return lossd_fault_set(&x->f, LOSSD_FAULT_INVALID_ARGUMENT, AT("outputs[%zu].name", i),
                                   "%s.%s has no output \"%.64s\"; its outputs are: %s",
                                   lossd_kind_name(x->fn->kind), x->fn->name,
                                   json_string_value(name), names);
        }
        for (size_t k = 0; k < x->n_want; k++)
            if (x->want[k].output == out)
                return invalid(x, AT("outputs[%zu].name", i), "\"%s\" is asked for twice",
                               json_string_value(name));
        bool binary = x->binary_default;
        if (params) {
            if (!json_is_object(params))
                return invalid(x, AT("outputs[%zu].parameters", i), "expected an object, got %s",
                               lossd_codec_type_name(params));
            json_object_foreach(params, key, v)
            {
                if (strcmp(key, "binary_data") != 0)
                    return invalid(x, AT("outputs[%zu].parameters.%s", i, key),
                                   "unknown parameter; an output takes: %s", "binary_data");
                if (!json_is_boolean(v))
                    return invalid(x, AT("outputs[%zu].parameters.%s", i, key),
                                   "expected true or false, got %s", lossd_codec_type_name(v));
                binary = json_is_true(v);
            }
        }
        x->want[x->n_want++] = (wanted){out, binary};
    }
    return 0;
}

/* ---- inputs */

/* Writes name[i0][i1]... for the first `depth` indices. */
static void element_path(char *buf, size_t size, const char *name, const size_t *idx, int depth)
{
    int n = snprintf(buf, size, "%s", name);
    for (int d = 0; d < depth && n >= 0 && (size_t)n < size; d++)
        n += snprintf(buf + n, size - (size_t)n, "[%zu]", idx[d]);
}

/*
 * Converts one JSON number of input `name` (at index idx[0..depth)) to the
 * input's datatype, as a double. The element's path is written only for
 * an error.
 */
static int json_element(infer *x, const json_t *v, datatype dt, double *out, const char *name,
                        const size_t *idx, int depth)
{
    char path[LOSSD_FIELD_MAX], text[LOSSD_DTOA_MAX + 1];
    double d = json_is_number(v) ? json_number_value(v) : NAN;
    double limit = dt == DT_INT64 ? 9223372036854775808.0 : 2147483648.0;
    bool floating = dt != DT_INT64 && dt != DT_INT32;
    bool ok = json_is_number(v) && !(dt == DT_FP32 && isinf((float)d)) &&
              (floating || (d == floor(d) && d >= -limit && d < limit));
    if (!ok) {
        element_path(path, sizeof path, name, idx, depth);
        if (!json_is_number(v))
            return lossd_fault_set(&x->f, LOSSD_FAULT_BAD_REQUEST, path,
                                   "expected a number, got %s", lossd_codec_type_name(v));
        return lossd_fault_set(&x->f, LOSSD_FAULT_BAD_REQUEST, path, "%s is not %s",
                               lossd_dtoa_text(d, text),
                               dt == DT_FP32    ? "representable as FP32"
                               : dt == DT_INT64 ? "an INT64"
                                                : "an INT32");
    }
    *out = dt == DT_FP32 ? (float)d : d;
    return 0;
}

typedef struct {
    infer *x;
    const char *name;
    datatype dt;
    int rank;
    const size_t *shape;
    size_t idx[LOSSD_MAX_RANK];
    double *cursor;
} json_reader;

/* Reads nested data that must follow the shape exactly, level by level. */
static int read_nested(json_reader *r, const json_t *v, int depth)
{
    if (depth == r->rank)
        return json_element(r->x, v, r->dt, r->cursor++, r->name, r->idx, depth);
    if (!json_is_array(v) || json_array_size(v) != r->shape[depth]) {
        char path[LOSSD_FIELD_MAX], shape[96];
        element_path(path, sizeof path, r->name, r->idx, depth);
        shape_text(shape, sizeof shape, r->shape, r->rank);
        return lossd_fault_set(&r->x->f, LOSSD_FAULT_BAD_REQUEST, path,
                               "\"data\" does not follow the shape %s: expected an array of %zu, "
                               "got %s of %zu",
                               shape, r->shape[depth], lossd_codec_type_name(v),
                               json_is_array(v) ? json_array_size(v) : 1);
    }
    for (size_t i = 0; i < r->shape[depth]; i++) {
        r->idx[depth] = i;
        if (read_nested(r, json_array_get(v, i), depth + 1) < 0)
            return -1;
    }
    return 0;
}

/* Reads "data", flat (count numbers) or nested as the shape, into out. */
static int read_json_data(infer *x, const char *name, const json_t *data, datatype dt,
                          const size_t *shape, int rank, size_t count, double *out)
{
    if (!json_is_array(data))
        return lossd_fault_set(&x->f, LOSSD_FAULT_BAD_REQUEST, name,
                               "\"data\" must be an array, got %s", lossd_codec_type_name(data));
    size_t n = json_array_size(data);
    bool flat = rank <= 1 || n == 0 || !json_is_array(json_array_get(data, 0));
    if (!flat) {
        json_reader r = {x, name, dt, rank, shape, {0}, out};
        return read_nested(&r, data, 0);
    }
    if (n != count) {
        char text[96];
        shape_text(text, sizeof text, shape, rank);
        return lossd_fault_set(&x->f, LOSSD_FAULT_BAD_REQUEST, name,
                               "\"data\" holds %zu numbers, but the shape %s has %zu", n, text,
                               count);
    }
    for (size_t i = 0; i < n; i++)
        if (json_element(x, json_array_get(data, i), dt, &out[i], name, &i, 1) < 0)
            return -1;
    return 0;
}

static bool host_little_endian(void)
{
    return __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
}

/* Reads count little-endian numbers of datatype dt from bytes into doubles. */
static void convert_binary(const unsigned char *bytes, size_t count, datatype dt, double *out)
{
    size_t size = datatypes[dt].size;
    for (size_t i = 0; i < count; i++) {
        unsigned char raw[8];
        const unsigned char *p = bytes + i * size;
        for (size_t b = 0; b < size; b++) /* little-endian to the host's order */
            raw[b] = host_little_endian() ? p[b] : p[size - 1 - b];
        switch (dt) {
        case DT_FP64:
            memcpy(&out[i], raw, 8);
            break;
        case DT_FP32: {
            float v;
            memcpy(&v, raw, 4);
            out[i] = v;
            break;
        }
        case DT_INT64: {
            int64_t v;
            memcpy(&v, raw, 8);
            out[i] = (double)v;
            break;
        }
        case DT_INT32: {
            int32_t v;
            memcpy(&v, raw, 4);
            out[i] = v;
            break;
        }
        case DT_COUNT:
            break;
        }
    }
}

/*
 * The binary data of an input: size bytes at the current position. FP64
 * on a little-endian host, aligned as a double, is used in place;
 * anything else is converted once into the store.
 */
static const double *read_binary_data(infer *x, const char *name, size_t index, datatype dt,
                                      size_t count, size_t size)
{
    const lossd_limits *lim = &x->h->limits;
    if (count > SIZE_MAX / datatypes[dt].size) {
        lossd_fault_set(&x->f, LOSSD_FAULT_TOO_LARGE, name, "%zu numbers are too many", count);
        return NULL;
    }
    size_t need = count * datatypes[dt].size;
    if (!x->has_header_len) {
        lossd_fault_set(&x->f, LOSSD_FAULT_BAD_REQUEST, name,
                        "inputs[%zu] has a binary_data_size, but the request has no "
                        "Inference-Header-Content-Length header saying where its JSON ends",
                        index);
        return NULL;
    }
    if (size != need) {
        lossd_fault_set(
            &x->f, LOSSD_FAULT_BAD_REQUEST, name,
            "binary_data_size is %zu bytes, but %zu numbers of %s take %zu (inputs[%zu])", size,
            count, datatypes[dt].name, need, index);
        return NULL;
    }
    if (size > x->binary_len - x->binary_used) {
        lossd_fault_set(&x->f, LOSSD_FAULT_BAD_REQUEST, name,
                        "binary_data_size is %zu bytes, but only %zu bytes of binary data are "
                        "left in the body (inputs[%zu])",
                        size, x->binary_len - x->binary_used, index);
        return NULL;
    }
    const char *bytes = x->binary + x->binary_used;
    x->binary_used += size;
    if (dt == DT_FP64 && host_little_endian() && (uintptr_t)bytes % _Alignof(double) == 0) {
        if (lossd_tensors_count(&x->res->store, count, name, lim, &x->f) < 0)
            return NULL;
        return (const double *)(const void *)bytes;
    }
    double *data = lossd_tensors_alloc(&x->res->store, count, name, lim, &x->f);
    if (data)
        convert_binary((const unsigned char *)bytes, count, dt, data);
    return data;
}

/* Reads the shape of inputs[index] into shape; returns the rank, or -1 with the fault set. */
static int read_shape(infer *x, const char *name, size_t index, const json_t *v, size_t *shape,
                      size_t *count)
{
    char field[LOSSD_FIELD_MAX];
    if (!json_is_array(v))
        return lossd_fault_set(&x->f, LOSSD_FAULT_BAD_REQUEST, AT("inputs[%zu].shape", index),
                               v ? "expected an array of whole numbers, got %s" : "required%s",
                               v ? lossd_codec_type_name(v) : "");
    size_t rank = json_array_size(v);
    if (rank > LOSSD_MAX_RANK)
        return lossd_fault_set(&x->f, LOSSD_FAULT_INVALID_ARGUMENT, AT("inputs[%zu].shape", index),
                               "%s has %zu dimensions; a tensor has at most %d", name, rank,
                               LOSSD_MAX_RANK);
    *count = 1;
    for (size_t d = 0; d < rank; d++) {
        const json_t *dim = json_array_get(v, d);
        double len = json_is_number(dim) ? json_number_value(dim) : -1;
        if (!(len >= 0 && len == floor(len) && len < 9007199254740992.0))
            return lossd_fault_set(&x->f, LOSSD_FAULT_BAD_REQUEST, AT("inputs[%zu].shape", index),
                                   "dimension %zu of %s is not a whole number >= 0", d, name);
        shape[d] = (size_t)len;
        if (shape[d] != 0 && *count > SIZE_MAX / shape[d])
            *count = SIZE_MAX; /* far past any limit: the element count says so */
        else
            *count *= shape[d];
    }
    return (int)rank;
}

/* Reads, checks and binds inputs[index]. */
static int read_input(infer *x, size_t index, const json_t *o)
{
    char field[LOSSD_FIELD_MAX];
    if (!json_is_object(o))
        return invalid(x, AT("inputs[%zu]", index),
                       "expected an object {\"name\", \"shape\", \"datatype\", ...}, got %s",
                       lossd_codec_type_name(o));
    const char *key;
    json_t *v, *name_v = NULL, *shape_v = NULL, *type_v = NULL, *params = NULL, *data = NULL;
    json_object_foreach((json_t *)o, key, v)
    {
        if (strcmp(key, "name") == 0)
            name_v = v;
        else if (strcmp(key, "shape") == 0)
            shape_v = v;
        else if (strcmp(key, "datatype") == 0)
            type_v = v;
        else if (strcmp(key, "parameters") == 0)
            params = v;
        else if (strcmp(key, "data") == 0)
            data = v;
        else {
            return invalid(x, AT("inputs[%zu].%s", index, key), "unknown field; an input takes: %s",
                           "name, shape, datatype, parameters, data");
        }
    }
    if (!json_is_string(name_v))
        return invalid(x, AT("inputs[%zu].name", index),
                       name_v ? "expected a string, got %s" : "required%s",
                       name_v ? lossd_codec_type_name(name_v) : "");
    const char *name = json_string_value(name_v);
    size_t slot = 0;
    while (slot < x->n_inputs && strcmp(x->inputs[slot].name, name) != 0)
        slot++;
    if (slot == x->n_inputs) {
        char names[512];
        const char *list[MAX_INPUTS];
        for (size_t k = 0; k < x->n_inputs; k++)
            list[k] = x->inputs[k].name;
        join_names(names, sizeof names, list, x->n_inputs);
        return lossd_fault_set(&x->f, LOSSD_FAULT_INVALID_ARGUMENT, AT("inputs[%zu].name", index),
                               "%s.%s has no input \"%.64s\"; its inputs are: %s",
                               lossd_kind_name(x->fn->kind), x->fn->name, name, names);
    }
    const model_input *in = &x->inputs[slot];
    if (x->input_seen[slot])
        return invalid(x, AT("inputs[%zu].name", index), "the input \"%s\" is given twice",
                       in->name);
    x->input_seen[slot] = true;
    name = in->name; /* static text: the tree goes away before the call is done */

    if (!json_is_string(type_v))
        return lossd_fault_set(&x->f, LOSSD_FAULT_BAD_REQUEST, AT("inputs[%zu].datatype", index),
                               type_v ? "expected a string, got %s" : "required%s",
                               type_v ? lossd_codec_type_name(type_v) : "");
    int dt = datatype_of(json_string_value(type_v));
    if (dt < 0 || (!in->class_index && (dt == DT_INT64 || dt == DT_INT32)))
        return lossd_fault_set(&x->f, LOSSD_FAULT_BAD_REQUEST, name,
                               "datatype %.32s is not accepted (inputs[%zu]); send %s",
                               json_string_value(type_v), index,
                               in->class_index ? "INT64, INT32, FP64 or FP32" : "FP64 or FP32");

    size_t shape[LOSSD_MAX_RANK], count = 0;
    int rank = read_shape(x, name, index, shape_v, shape, &count);
    if (rank < 0)
        return -1;

    bool binary = false;
    size_t binary_size = 0;
    if (params) {
        if (!json_is_object(params))
            return invalid(x, AT("inputs[%zu].parameters", index), "expected an object, got %s",
                           lossd_codec_type_name(params));
        json_object_foreach(params, key, v)
        {
            if (strcmp(key, "binary_data_size") != 0)
                return invalid(x, AT("inputs[%zu].parameters.%s", index, key),
                               "unknown parameter; an input takes: %s", "binary_data_size");
            double size = json_is_number(v) ? json_number_value(v) : -1;
            if (!(size >= 0 && size == floor(size) && size < 9007199254740992.0))
                return lossd_fault_set(&x->f, LOSSD_FAULT_BAD_REQUEST,
                                       AT("inputs[%zu].parameters.%s", index, key),
                                       "expected a whole number of bytes >= 0");
            binary = true;
            binary_size = (size_t)size;
        }
    }
    if (binary == (data != NULL))
        return lossd_fault_set(&x->f, LOSSD_FAULT_BAD_REQUEST, name,
                               binary ? "inputs[%zu] has both \"data\" and a binary_data_size"
                                      : "inputs[%zu] has no data: give \"data\", or binary data "
                                        "with a binary_data_size parameter",
                               index);
    if (count > x->h->limits.max_elements)
        return lossd_fault_set(&x->f, LOSSD_FAULT_TOO_LARGE, name,
                               "the request holds more than %zu numbers (--max-elements)",
                               x->h->limits.max_elements);

    const double *values;
    if (binary) {
        values = read_binary_data(x, name, index, (datatype)dt, count, binary_size);
    } else {
        x->json_data = true;
        double *out = lossd_tensors_alloc(&x->res->store, count, name, &x->h->limits, &x->f);
        if (out && read_json_data(x, name, data, (datatype)dt, shape, rank, count, out) < 0)
            out = NULL;
        values = out;
    }
    if (values == NULL)
        return -1;

    lossd_tensor t;
    lossd_tensor_view(&t, values, rank, shape);
    lossd_call *c = &x->res->call;
    lossd_error err = {0};
    int rc = 0;
    switch (in->kind) {
    case INPUT_OPERAND:
        rc = lossd_call_set_operand(c, name, &t, &err);
        break;
    case INPUT_TENSOR_PARAM:
        rc = lossd_call_set_tensor(c, name, &t, &err);
        break;
    case INPUT_GRAD_OUTPUT:
        c->grad_output = t;
        c->grad_output_set = true;
        break;
    }
    return rc < 0 ? lossd_fault_from_error(&x->f, &err) : 0;
}

static int read_inputs(infer *x, const json_t *inputs)
{
    if (!json_is_array(inputs))
        return lossd_fault_set(&x->f, LOSSD_FAULT_INVALID_ARGUMENT, "inputs",
                               inputs ? "expected an array of inputs, got %s" : "required%s",
                               inputs ? lossd_codec_type_name(inputs) : "");
    size_t i;
    json_t *o;
    json_array_foreach(inputs, i, o)
    {
        if (read_input(x, i, o) < 0)
            return -1;
    }
    if (x->binary_used != x->binary_len)
        return lossd_fault_set(&x->f, LOSSD_FAULT_BAD_REQUEST, NULL,
                               "the body has %zu bytes of binary data after its JSON header, but "
                               "the inputs' binary_data_size add up to %zu",
                               x->binary_len, x->binary_used);
    return 0;
}

/* ---- the request object */

/*
 * Reads the request's top level: parameters first, then outputs (which
 * decide what is computed), then inputs. *id is set to the request's id.
 */
static int read_request(infer *x, const json_t *root, const char **id)
{
    const char *key;
    json_t *v, *params = NULL, *outputs = NULL, *inputs = NULL;
    *id = NULL;
    json_object_foreach((json_t *)root, key, v)
    {
        if (strcmp(key, "id") == 0) {
            if (!json_is_string(v))
                return invalid(x, "id", "expected a string, got %s", lossd_codec_type_name(v));
            *id = json_string_value(v);
        } else if (strcmp(key, "parameters") == 0) {
            params = v;
        } else if (strcmp(key, "inputs") == 0) {
            inputs = v;
        } else if (strcmp(key, "outputs") == 0) {
            outputs = v;
        } else if (strcmp(key, "model_name") == 0 || strcmp(key, "model_version") == 0) {
            /* Some clients repeat the path's model: allowed when it agrees. */
            bool name = key[6] == 'n';
            const lossd_function *fn = x->fn;
            const char *text = json_is_string(v) ? json_string_value(v) : NULL;
            size_t kind_len = strlen(lossd_kind_name(fn->kind));
            bool same = text && (name ? strncmp(text, lossd_kind_name(fn->kind), kind_len) == 0 &&
                                            text[kind_len] == '.' &&
                                            strcmp(text + kind_len + 1, fn->name) == 0
                                      : strcmp(text, "1") == 0);
            if (!same)
                return lossd_fault_set(&x->f, LOSSD_FAULT_INVALID_ARGUMENT, key,
                                       "does not match the path's model %s.%s, version 1",
                                       lossd_kind_name(fn->kind), fn->name);
        } else {
            return invalid(x, key, "unknown field; an inference request takes: %s",
                           "id, parameters, inputs, outputs");
        }
    }
    if (params && read_parameters(x, params) < 0)
        return -1;
    if (read_outputs(x, outputs) < 0)
        return -1;
    return read_inputs(x, inputs);
}

/* ---- the reply */

/* The data, shape and count of an output of a finished call. */
static const double *output_data(result *res, const model_output *out, size_t slot, int *rank,
                                 const size_t **shape, size_t *count)
{
    static const size_t one[1] = {1};
    const lossd_call *c = &res->call;
    *rank = 1;
    *shape = one;
    *count = 1;
    double *scalar = &res->scalars[slot];
    switch (out->kind) {
    case OUT_MAIN:
        if (c->fn->kind == LOSSD_KIND_LOSS && c->reduction != LOSSD_REDUCTION_NONE) {
            *scalar = c->loss;
            return scalar;
        }
        *rank = c->output.rank;
        *shape = c->output.shape;
        *count = c->output.size;
        return c->output.data;
    case OUT_GRAD:
        *rank = c->operand[0].rank;
        *shape = c->operand[0].shape;
        *count = c->operand[0].size;
        return c->grad;
    case OUT_TERM:
        *rank = c->output.rank;
        *shape = c->output.shape;
        *count = c->output.size;
        return c->terms[out->term];
    case OUT_N:
    case OUT_STATS_N:
        *scalar = (double)c->n_terms;
        return scalar;
    case OUT_ZERO_GRAD:
        *scalar = c->zero_grad_fraction;
        return scalar;
    }
    return scalar;
}

static void write_reply(infer *x, const char *id, lossd_reply *reply)
{
    result *res = x->res;
    lossd_buf *out = &reply->body;
    /* Written piece by piece: printf would cost more than the rest of a small reply. */
    lossd_buf_puts(out, "{\"model_name\":\"");
    lossd_buf_puts(out, lossd_kind_name(x->fn->kind));
    lossd_buf_puts(out, ".");
    lossd_buf_puts(out, x->fn->name);
    lossd_buf_puts(out, "\",\"model_version\":\"1\"");
    if (id) {
        json_t *s = json_string(id);
        char *text = s ? json_dumps(s, JSON_ENCODE_ANY | JSON_ENSURE_ASCII) : NULL;
        if (text) {
            lossd_buf_puts(out, ",\"id\":");
            lossd_buf_puts(out, text);
        }
        free(text);
        json_decref(s);
    }
    if (res->call.n_nonfinite) {
        lossd_buf_puts(out, ",\"parameters\":{\"nonfinite\":");
        lossd_buf_uint(out, res->call.n_nonfinite);
        lossd_buf_puts(out, "}");
    }
    lossd_buf_puts(out, ",\"outputs\":[");
    for (size_t i = 0; i < x->n_want; i++) {
        int rank;
        const size_t *shape;
        size_t count;
        const model_output *o = x->want[i].output;
        const double *data = output_data(res, o, i, &rank, &shape, &count);
        lossd_buf_puts(out, i ? ",{\"name\":\"" : "{\"name\":\"");
        lossd_buf_puts(out, o->prefix);
        lossd_buf_puts(out, o->name);
        lossd_buf_puts(out, "\",\"datatype\":\"FP64\",\"shape\":[");
        for (int d = 0; d < rank; d++) {
            if (d)
                lossd_buf_puts(out, ",");
            lossd_buf_uint(out, shape[d]);
        }
        if (x->want[i].binary) {
            lossd_buf_puts(out, "],\"parameters\":{\"binary_data_size\":");
            lossd_buf_uint(out, count * sizeof(double));
            lossd_buf_puts(out, "}}");
            if (count && reply->n_segments < LOSSD_REPLY_MAX_SEGMENTS)
                reply->segments[reply->n_segments++] = (lossd_piece){data, count * sizeof(double)};
        } else {
            lossd_buf_puts(out, "],\"data\":");
            lossd_codec_write_numbers(out, data, count, x->h->exec);
            lossd_buf_puts(out, "}");
        }
    }
    lossd_buf_puts(out, "]}");
}

void lossd_v2_infer(const lossd_handler *h, const lossd_function *fn, lossd_body *body,
                    size_t header_len, lossd_reply *reply)
{
    LOSSD_ASSERT(h && fn && body && reply);
    infer *x = calloc(1, sizeof *x);
    result *res = calloc(1, sizeof *res);
    lossd_arena tree = {0};
    char *id = NULL;
    if (x == NULL || res == NULL) {
        lossd_fault f = {0};
        lossd_fault_set(&f, LOSSD_FAULT_INTERNAL, NULL, "out of memory");
        lossd_reply_fault(reply, &f, true);
        free(x);
        free(res);
        lossd_body_cleanup(body);
        return;
    }
    x->h = h;
    x->fn = fn;
    x->res = res;
    x->n_inputs = model_inputs(fn, x->inputs);
    x->n_outputs = model_outputs(fn, x->outputs);
    lossd_call_init(&res->call, fn);
    res->call.max_output = h->limits.max_elements;

    size_t json_len = body->len;
    if (header_len != LOSSD_NO_HEADER_LEN) {
        x->has_header_len = true;
        if (header_len > body->len)
            lossd_fault_set(&x->f, LOSSD_FAULT_BAD_REQUEST, NULL,
                            "Inference-Header-Content-Length is %zu, but the body has only %zu "
                            "bytes",
                            header_len, body->len);
        else
            json_len = header_len;
    }
    x->binary = body->data ? body->data + json_len : NULL;
    x->binary_len = body->len - json_len;

    json_t *root = NULL;
    header_cache *cache = NULL;
    uint64_t hash = 0;
    if (x->f.kind == LOSSD_FAULT_NONE && x->has_header_len && json_len <= HEADER_CACHE_MAX &&
        (cache = thread_cache()) != NULL) {
        hash = header_hash(body->data, json_len);
        root = cache_find(cache, body->data, json_len, hash);
    }
    bool from_cache = root != NULL;
    if (root == NULL && x->f.kind == LOSSD_FAULT_NONE)
        root = lossd_codec_load(body->data ? body->data : "", json_len, &tree, &x->f);
    const char *id_in_tree = NULL;
    bool read = root && read_request(x, root, &id_in_tree) == 0;
    if (read && cache && !from_cache && !x->json_data)
        cache_put(cache, body->data, json_len, hash, root);
    if (read && id_in_tree && (id = strdup(id_in_tree)) == NULL)
        lossd_fault_set(&x->f, LOSSD_FAULT_INTERNAL, NULL, "out of memory");
    lossd_arena_release(&tree); /* what the call needs was copied or is in the body */
    reply->elements += res->store.elements;

    lossd_call *c = &res->call;
    for (size_t i = 0; i < x->n_want; i++) {
        c->want_grad |= x->want[i].output->kind == OUT_GRAD;
        c->want_terms |= x->want[i].output->kind == OUT_TERM;
    }
    lossd_error err = {0};
    if (x->f.kind == LOSSD_FAULT_NONE && lossd_call_prepare(c, &err) < 0)
        lossd_fault_from_error(&x->f, &err);
    if (x->f.kind == LOSSD_FAULT_NONE) {
        lossd_handler_compute(h, c);
        /* The outputs are in the call: the inputs' memory can go before the reply is written. */
        lossd_tensors_free(&res->store);
        lossd_body_cleanup(body);
        write_reply(x, id, reply);
        if (lossd_buf_failed(&reply->body))
            lossd_fault_set(&x->f, LOSSD_FAULT_INTERNAL, NULL, "out of memory writing the reply");
    }
    if (x->f.kind != LOSSD_FAULT_NONE) {
        reply->n_segments = 0;
        lossd_reply_fault(reply, &x->f, true);
        result_release(res);
    } else if (reply->n_segments > 0) {
        reply->status = 200;
        reply->content_type = "application/octet-stream";
        reply->header_len = lossd_buf_len(&reply->body);
        reply->owner = res;
        reply->release = result_release;
    } else {
        reply->status = 200;
        result_release(res);
    }
    lossd_body_cleanup(body);
    free(id);
    free(x);
}
