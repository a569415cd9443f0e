/* SPDX-License-Identifier: MIT */
/*
 * model.c - registry functions as inference models (see model.h).
 *
 * The models are built once, on first use, into one table beside the
 * registry (pthread_once): a request looks its model up and reads it,
 * never rebuilds it.
 */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../debug.h"
#include "model.h"
#include "util.h"

/* ---------------------------------------------------------------- datatypes */

static const struct {
    const char *name;
    size_t size;
} datatypes[LOSSD_DT_COUNT] = {
    [LOSSD_DT_FP64] = {"FP64", 8},
    [LOSSD_DT_FP32] = {"FP32", 4},
    [LOSSD_DT_INT64] = {"INT64", 8},
    [LOSSD_DT_INT32] = {"INT32", 4},
};

const char *lossd_datatype_name(lossd_datatype dt)
{
    return (unsigned)dt < LOSSD_DT_COUNT ? datatypes[dt].name : "?";
}

size_t lossd_datatype_size(lossd_datatype dt)
{
    return (unsigned)dt < LOSSD_DT_COUNT ? datatypes[dt].size : 0;
}

int lossd_datatype_find(const char *name)
{
    for (int d = 0; d < LOSSD_DT_COUNT; d++)
        if (strcmp(datatypes[d].name, name) == 0)
            return d;
    return -1;
}

static bool is_integer(lossd_datatype dt)
{
    return dt == LOSSD_DT_INT64 || dt == LOSSD_DT_INT32;
}

/* ---------------------------------------------------------------- building models */

/* The inputs of fn: its operands, tensor parameters and (with gradients) grad_output. */
static size_t build_inputs(const lossd_function *fn, lossd_model_input *out)
{
    size_t n = 0;
    for (size_t k = 0; k < 2; k++) {
        const lossd_operand_spec *op = &fn->operands[k];
        const lossd_rule *rule = lossd_rule_get(op->rule);
        if (op->rule == LOSSD_RULE_NONE)
            continue;
        lossd_model_input *in = &out[n++];
        *in = (lossd_model_input){.name = op->name,
                                  .kind = LOSSD_INPUT_OPERAND,
                                  .index = k,
                                  .class_index = rule->integers,
                                  .index_only = rule->integers && !rule->or_like_first,
                                  .summary = op->summary,
                                  .rank = rule->meta_rank};
        memcpy(in->shape, rule->meta_shape, sizeof in->shape);
        if ((op->flags & LOSSD_OPERAND_LIKE_INPUT) && n > 1) {
            in->rank = out[0].rank;
            memcpy(in->shape, out[0].shape, sizeof in->shape);
        }
    }
    for (size_t i = 0; i < fn->n_params; i++)
        if (fn->params[i].type == LOSSD_PARAM_TENSOR)
            out[n++] = (lossd_model_input){.name = fn->params[i].name,
                                           .kind = LOSSD_INPUT_TENSOR_PARAM,
                                           .index = i,
                                           .optional = true,
                                           .summary = fn->params[i].summary,
                                           .rank = 1,
                                           .shape = {-1, -1}};
    if (fn->flags & LOSSD_FN_GRAD)
        out[n++] = (lossd_model_input){.name = "grad_output",
                                       .kind = LOSSD_INPUT_GRAD_OUTPUT,
                                       .optional = true,
                                       .summary = "upstream gradient, shaped like the unreduced "
                                                  "loss (reduction none) or the activation's "
                                                  "output",
                                       .rank = 1,
                                       .shape = {-1, -1}};
    return n;
}

/* An output with the metadata shape `like` has (rank 0: [1], a reduced or scalar value). */
static lossd_model_output output(lossd_output_kind kind, size_t term, const char *prefix,
                                 const char *name, int rank, const long long *like)
{
    lossd_model_output out = {kind, term, prefix, name, 1, {1, -1}};
    if (rank > 0) {
        out.rank = rank;
        memcpy(out.shape, like, sizeof out.shape);
    }
    return out;
}

/* The outputs of fn, in the order of the v1 reply's fields. */
static size_t build_outputs(const lossd_function *fn, const lossd_model_input *inputs,
                            lossd_model_output *out)
{
    const lossd_model_input *first = &inputs[0];
    static const long long any[2] = {-1, -1};
    size_t n = 0;
    if (fn->kind == LOSSD_KIND_ACTIVATION)
        out[n++] = output(LOSSD_OUTPUT_MAIN, 0, "", "output", first->rank, first->shape);
    else /* a loss, reduced or not, and info values: any length; matrices (N, M) */
        out[n++] = output(LOSSD_OUTPUT_MAIN, 0, "", lossd_kind_result(fn->kind),
                          fn->kind == LOSSD_KIND_PAIRWISE ? 2 : 1, any);
    if (fn->kind == LOSSD_KIND_LOSS)
        out[n++] = output(LOSSD_OUTPUT_N, 0, "", "n", 0, NULL);
    if (fn->flags & LOSSD_FN_GRAD)
        out[n++] = output(LOSSD_OUTPUT_GRAD, 0, "", "grad", first->rank, first->shape);
    if (fn->flags & LOSSD_FN_GRAD_SECOND) /* the second operand is inputs[1] */
        out[n++] = output(LOSSD_OUTPUT_GRAD_SECOND, 0, "grad_", inputs[1].name, inputs[1].rank,
                          inputs[1].shape);
    for (size_t k = 0; (fn->flags & LOSSD_FN_TERMS) && k < LOSSD_MAX_TERMS && fn->terms[k]; k++)
        out[n++] = output(LOSSD_OUTPUT_TERM, k, "terms.", fn->terms[k], 1, any);
    if (fn->kind == LOSSD_KIND_ACTIVATION) {
        out[n++] = output(LOSSD_OUTPUT_STATS_N, 0, "stats.", "n", 0, NULL);
        out[n++] = output(LOSSD_OUTPUT_ZERO_GRAD, 0, "stats.", "zero_grad_fraction", 0, NULL);
    }
    return n;
}

static lossd_model *models;
static size_t n_models;
static pthread_once_t models_once = PTHREAD_ONCE_INIT;

static void build_models(void)
{
    size_t count = lossd_function_count();
    models = calloc(count ? count : 1, sizeof *models);
    if (models == NULL)
        return; /* lossd_model_of() reports it */
    for (size_t i = 0; i < count; i++) {
        lossd_model *m = &models[i];
        m->fn = lossd_function_at(i);
        snprintf(m->name, sizeof m->name, "%s.%s", lossd_kind_name(m->fn->kind), m->fn->name);
        m->n_inputs = build_inputs(m->fn, m->inputs);
        m->n_outputs = build_outputs(m->fn, m->inputs, m->outputs);
    }
    n_models = count;
}

const lossd_model *lossd_model_of(const lossd_function *fn)
{
    pthread_once(&models_once, build_models);
    for (size_t i = 0; i < n_models; i++)
        if (models[i].fn == fn)
            return &models[i];
    LOSSD_ASSERT(!"a registry row has a model");
    return NULL;
}

const lossd_model *lossd_model_find(const char *name, size_t len)
{
    pthread_once(&models_once, build_models);
    for (size_t i = 0; i < n_models; i++)
        if (strlen(models[i].name) == len && memcmp(models[i].name, name, len) == 0)
            return &models[i];
    return NULL;
}

const char *lossd_model_output_path(const lossd_model_output *out, char *buf, size_t size)
{
    snprintf(buf, size, "%s%s", out->prefix, out->name);
    return buf;
}

/* Whether an output's path is `text`. */
static bool output_is(const lossd_model_output *out, const char *text)
{
    size_t len = strlen(out->prefix);
    return strncmp(text, out->prefix, len) == 0 && strcmp(text + len, out->name) == 0;
}

bool lossd_model_input_takes(const lossd_model_input *in, lossd_datatype dt)
{
    return (unsigned)dt < LOSSD_DT_COUNT && (in->class_index || !is_integer(dt));
}

const char *lossd_model_input_datatypes(const lossd_model_input *in)
{
    return in->class_index ? "INT64, INT32, FP64 or FP32" : "FP64 or FP32";
}

/* ---------------------------------------------------------------- requests */

void lossd_model_request_init(lossd_model_request *r, const lossd_model *m, size_t max_output)
{
    LOSSD_ASSERT(r != NULL && m != NULL);
    memset(r, 0, sizeof *r);
    r->model = m;
    lossd_call_init(&r->call, m->fn);
    r->call.max_output = max_output;
}

void lossd_model_request_cleanup(lossd_model_request *r)
{
    lossd_call_cleanup(&r->call);
    lossd_tensors_free(&r->store);
}

const lossd_model_input *lossd_model_request_input(lossd_model_request *r, const char *name,
                                                   const char *field, lossd_fault *f)
{
    const lossd_model *m = r->model;
    for (size_t i = 0; i < m->n_inputs; i++) {
        if (strcmp(m->inputs[i].name, name) != 0)
            continue;
        if (r->input_seen[i]) {
            lossd_fault_set(f, LOSSD_FAULT_INVALID_ARGUMENT, field,
                            "the input \"%s\" is given twice", m->inputs[i].name);
            return NULL;
        }
        r->input_seen[i] = true;
        return &m->inputs[i];
    }
    char names[512] = "";
    for (size_t i = 0; i < m->n_inputs; i++)
        lossd_names_add(names, sizeof names, m->inputs[i].name);
    lossd_fault_set(f, LOSSD_FAULT_INVALID_ARGUMENT, field,
                    "%s has no input \"%.64s\"; its inputs are: %s", m->name, name, names);
    return NULL;
}

const lossd_model_output *lossd_model_find_output(const lossd_model *m, const char *name,
                                                  const char *field, lossd_fault *f)
{
    for (size_t i = 0; i < m->n_outputs; i++)
        if (output_is(&m->outputs[i], name))
            return &m->outputs[i];
    char names[512] = "", path[64];
    for (size_t i = 0; i < m->n_outputs; i++)
        lossd_names_add(names, sizeof names,
                        lossd_model_output_path(&m->outputs[i], path, sizeof path));
    lossd_fault_set(f, LOSSD_FAULT_INVALID_ARGUMENT, field,
                    "%s has no output \"%.64s\"; its outputs are: %s", m->name, name, names);
    return NULL;
}

int lossd_model_request_want(lossd_model_request *r, const lossd_model_output *out, bool binary,
                             const char *field, lossd_fault *f)
{
    char path[64];
    for (size_t k = 0; k < r->n_want; k++)
        if (r->want[k].output == out)
            return lossd_fault_set(f, LOSSD_FAULT_INVALID_ARGUMENT, field,
                                   "\"%s\" is asked for twice",
                                   lossd_model_output_path(out, path, sizeof path));
    LOSSD_ASSERT(r->n_want < LOSSD_MODEL_MAX_OUTPUTS);
    r->want[r->n_want++] = (lossd_model_want){out, binary};
    return 0;
}

void lossd_model_request_want_all(lossd_model_request *r, bool binary)
{
    r->n_want = 0;
    for (size_t i = 0; i < r->model->n_outputs; i++)
        if (r->model->outputs[i].kind != LOSSD_OUTPUT_GRAD_SECOND)
            r->want[r->n_want++] = (lossd_model_want){&r->model->outputs[i], binary};
}

int lossd_model_parameter(const lossd_model *m, const char *key, const char *also,
                          const char *field, lossd_fault *f, const lossd_param_spec **spec)
{
    const lossd_function *fn = m->fn;
    *spec = NULL;
    if (strcmp(key, "reduction") == 0 && fn->kind == LOSSD_KIND_LOSS)
        return 0;
    const lossd_param_spec *p = lossd_function_param(fn, key);
    if (p && p->type == LOSSD_PARAM_TENSOR)
        return lossd_fault_set(f, LOSSD_FAULT_INVALID_ARGUMENT, field,
                               "%s is a tensor: send it as an input", key);
    if (p) {
        *spec = p;
        return 0;
    }
    if (strcmp(key, "grad") == 0 || strcmp(key, "terms") == 0)
        return lossd_fault_set(f, LOSSD_FAULT_INVALID_ARGUMENT, field,
                               "unknown parameter; ask for the outputs you want in \"outputs\" "
                               "(gradients are computed when \"grad\" is asked for, or when "
                               "\"outputs\" names none)");
    char names[512] = "";
    if (fn->kind == LOSSD_KIND_LOSS)
        lossd_names_add(names, sizeof names, "reduction");
    for (size_t i = 0; i < fn->n_params; i++)
        if (fn->params[i].type != LOSSD_PARAM_TENSOR)
            lossd_names_add(names, sizeof names, fn->params[i].name);
    char besides[160] = "";
    if (also)
        snprintf(besides, sizeof besides, names[0] ? " (and %s)" : " (besides %s)", also);
    if (names[0] == '\0')
        return lossd_fault_set(f, LOSSD_FAULT_INVALID_ARGUMENT, field,
                               "unknown parameter; %s takes none%s", m->name, besides);
    return lossd_fault_set(f, LOSSD_FAULT_INVALID_ARGUMENT, field,
                           "unknown parameter; %s takes: %s%s", m->name, names, besides);
}

int lossd_model_check_datatype(const lossd_model_input *in, lossd_datatype dt, const char *where,
                               lossd_fault *f)
{
    if (lossd_model_input_takes(in, dt))
        return 0;
    return lossd_fault_set(f, LOSSD_FAULT_BAD_REQUEST, in->name,
                           "datatype %s is not accepted (%s); send %s", lossd_datatype_name(dt),
                           where, lossd_model_input_datatypes(in));
}

bool lossd_model_number_fits(lossd_datatype dt, double x, const char **what)
{
    double limit = dt == LOSSD_DT_INT64 ? 9223372036854775808.0 : 2147483648.0;
    switch (dt) {
    case LOSSD_DT_FP32:
        *what = "representable as FP32";
        return !(isinf((float)x) && !isinf(x));
    case LOSSD_DT_INT64:
    case LOSSD_DT_INT32:
        *what = dt == LOSSD_DT_INT64 ? "an INT64" : "an INT32";
        return x == floor(x) && x >= -limit && x < limit;
    default:
        *what = "a number";
        return true;
    }
}

double lossd_model_number_value(lossd_datatype dt, double x)
{
    return dt == LOSSD_DT_FP32 ? (double)(float)x : x;
}

static bool host_little_endian(void)
{
    return __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
}

/* Reads count little-endian numbers of datatype dt from bytes into doubles. */
static void convert_raw(const unsigned char *bytes, size_t count, lossd_datatype dt, double *out)
{
    size_t size = datatypes[dt].size;
    for (size_t i = 0; i < count; i++) {
        unsigned char raw[8];
        const unsigned char *p = bytes + i * size;
        for (size_t b = 0; b < size; b++) /* little-endian to the host's order */
            raw[b] = host_little_endian() ? p[b] : p[size - 1 - b];
        switch (dt) {
        case LOSSD_DT_FP64:
            memcpy(&out[i], raw, 8);
            break;
        case LOSSD_DT_FP32: {
            float v;
            memcpy(&v, raw, 4);
            out[i] = v;
            break;
        }
        case LOSSD_DT_INT64: {
            int64_t v;
            memcpy(&v, raw, 8);
            out[i] = (double)v;
            break;
        }
        case LOSSD_DT_INT32: {
            int32_t v;
            memcpy(&v, raw, 4);
            out[i] = v;
            break;
        }
        case LOSSD_DT_COUNT:
            break;
        }
    }
}

const double *lossd_model_raw_tensor(lossd_model_request *r, const char *name, lossd_datatype dt,
                                     const void *bytes, size_t count, const lossd_limits *lim,
                                     lossd_fault *f)
{
    if (dt == LOSSD_DT_FP64 && host_little_endian() && (uintptr_t)bytes % _Alignof(double) == 0) {
        if (lossd_tensors_count(&r->store, count, name, lim, f) < 0)
            return NULL;
        return bytes;
    }
    double *data = lossd_tensors_alloc(&r->store, count, name, lim, f);
    if (data)
        convert_raw(bytes, count, dt, data);
    return data;
}

int lossd_model_bind(lossd_model_request *r, const lossd_model_input *in, lossd_datatype dt,
                     int rank, const size_t *shape, const double *values, lossd_fault *f)
{
    lossd_tensor t;
    if (lossd_tensor_view(&t, values, rank, shape) < 0)
        return lossd_fault_set(f, LOSSD_FAULT_TOO_LARGE, in->name, "too many numbers");
    lossd_call *c = &r->call;
    lossd_error err = {0};
    int rc = 0;
    switch (in->kind) {
    case LOSSD_INPUT_OPERAND:
        r->integers[in->index] = is_integer(dt);
        rc = lossd_call_set_operand(c, in->name, &t, &err);
        break;
    case LOSSD_INPUT_TENSOR_PARAM:
        rc = lossd_call_set_tensor(c, in->name, &t, &err);
        break;
    case LOSSD_INPUT_GRAD_OUTPUT:
        c->grad_output = t;
        c->grad_output_set = true;
        break;
    }
    return rc < 0 ? lossd_fault_from_error(f, &err) : 0;
}

/* The 400 for class indices sent where the shapes say probabilities. */
static int integers_read_as_probabilities(const lossd_model_request *r, lossd_fault *f)
{
    const lossd_call *c = &r->call;
    const lossd_tensor *input = &c->operand[0];
    char have[64], want[64];
    const char *name = c->fn->operands[1].name, *first = c->fn->operands[0].name;
    lossd_shape_text(have, sizeof have, input->rank, input->shape);
    lossd_shape_text(want, sizeof want, input->rank > 1 ? 1 : 0, input->shape);
    return lossd_fault_set(f, LOSSD_FAULT_BAD_REQUEST, name,
                           "an integer datatype says class indices, but a %s shaped like %s, %s, "
                           "holds probabilities; class indices for %s %s have shape %s (send "
                           "probabilities as FP64 or FP32)",
                           name, first, have, first, have, want);
}

int lossd_model_request_prepare(lossd_model_request *r, lossd_fault *f)
{
    lossd_call *c = &r->call;
    for (size_t i = 0; i < r->n_want; i++) {
        c->want_grad |= r->want[i].output->kind == LOSSD_OUTPUT_GRAD;
        c->want_grad_second |= r->want[i].output->kind == LOSSD_OUTPUT_GRAD_SECOND;
        c->want_terms |= r->want[i].output->kind == LOSSD_OUTPUT_TERM;
    }
    lossd_error err = {0};
    int rc = lossd_call_prepare(c, &err);
    /*
     * An integer datatype declares class indices. The shape check has run
     * even when preparing failed later (on values), so the reading the
     * shape chose is known: a target shaped like the input reads as
     * probabilities, and integers sent there are a mistake to name, not
     * numbers to score.
     */
    if (c->prob_target && r->integers[1])
        return integers_read_as_probabilities(r, f);
    return rc < 0 ? lossd_fault_from_error(f, &err) : 0;
}

const double *lossd_model_output_data(lossd_model_request *r, size_t i, int *rank,
                                      const size_t **shape, size_t *count)
{
    static const size_t one[1] = {1};
    const lossd_call *c = &r->call;
    const lossd_model_output *out = r->want[i].output;
    double *scalar = &r->scalars[i];
    *rank = 1;
    *shape = one;
    *count = 1;
    switch (out->kind) {
    case LOSSD_OUTPUT_MAIN:
        if (c->fn->kind == LOSSD_KIND_LOSS && c->reduction != LOSSD_REDUCTION_NONE) {
            *scalar = c->loss;
            return scalar;
        }
        *rank = c->output.rank;
        *shape = c->output.shape;
        *count = c->output.size;
        return c->output.data;
    case LOSSD_OUTPUT_GRAD:
        *rank = c->operand[0].rank;
        *shape = c->operand[0].shape;
        *count = c->operand[0].size;
        return c->grad;
    case LOSSD_OUTPUT_GRAD_SECOND:
        *rank = c->operand[1].rank;
        *shape = c->operand[1].shape;
        *count = c->operand[1].size;
        return c->grad_second;
    case LOSSD_OUTPUT_TERM:
        *rank = c->output.rank;
        *shape = c->output.shape;
        *count = c->output.size;
        return c->terms[out->term];
    case LOSSD_OUTPUT_N:
    case LOSSD_OUTPUT_STATS_N:
        *scalar = (double)c->n_terms;
        return scalar;
    case LOSSD_OUTPUT_ZERO_GRAD:
        *scalar = c->zero_grad_fraction;
        return scalar;
    }
    return scalar;
}
