/* SPDX-License-Identifier: MIT */
/*
 * call.c - the life of one evaluation: binding operands and parameters,
 * validating them against the registry row, sizing and allocating the
 * outputs, running the kernel over blocks and combining the blocks.
 *
 * Every check that is the same for many functions lives here, once:
 * operand presence and shapes, value domains (probabilities, class
 * indices, boxes), parameter domains and tensor-parameter shapes,
 * reductions, grad/grad_output consistency. A function's own prepare hook
 * adds only what is particular to it.
 *
 * The call's private state (lossd__call_state, internal.h) is allocated
 * first thing in lossd_call_prepare(): the checks write into it (the
 * number of classes, the parameter views) as they go.
 *
 * Threading: a call belongs to one thread, except lossd_call_run(), which
 * may run concurrently on disjoint block ranges (it writes only those
 * blocks' outputs and their slots of the per-block arrays).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../debug.h"
#include "../hugemap.h"
#include "internal.h"

/* A block holds about this many input elements. */
#define BLOCK_ELEMENTS 8192

static const double one = 1.0;

void lossd_call_init(lossd_call *c, const lossd_function *fn)
{
    LOSSD_ASSERT(c != NULL && fn != NULL && fn->impl != NULL);
    LOSSD_ASSERT(fn->n_params <= LOSSD_MAX_PARAMS);
    memset(c, 0, sizeof *c);
    c->fn = fn;
    c->reduction = LOSSD_REDUCTION_MEAN;
    c->want_stats = true;
    for (size_t i = 0; i < fn->n_params && i < LOSSD_MAX_PARAMS; i++)
        c->params[i].number = fn->params[i].default_number;
}

/* ------------------------------------------------------------ setters */

int lossd_call_set_operand(lossd_call *c, const char *name, const lossd_tensor *t, lossd_error *err)
{
    LOSSD_ASSERT(c->state == NULL); /* bound before prepare */
    LOSSD_ASSERT(name != NULL && t != NULL);
    for (size_t k = 0; k < 2; k++) {
        const lossd_operand_spec *op = &c->fn->operands[k];
        if (op->rule != LOSSD_RULE_NONE && strcmp(op->name, name) == 0) {
            c->operand[k] = *t;
            c->operand_set[k] = true;
            return 0;
        }
    }
    return lossd__fail(err, LOSSD_ENOENT, name, "%s has no operand called %s", c->fn->name, name);
}

static int find_param(lossd_call *c, const char *name, lossd_error *err)
{
    LOSSD_ASSERT(c->state == NULL); /* bound before prepare */
    LOSSD_ASSERT(name != NULL);
    int i = lossd__param_index(c->fn, name);
    if (i < 0)
        return lossd__fail(err, LOSSD_ENOENT, name, "%s has no parameter called %s", c->fn->name,
                           name);
    return i;
}

static int type_error(const lossd_param_spec *spec, lossd_error *err)
{
    const char *want = spec->type == LOSSD_PARAM_CHOICE ? "a string" : NULL;
    if (spec->type == LOSSD_PARAM_BOOL)
        want = "true or false";
    else if (spec->type == LOSSD_PARAM_TENSOR)
        want = spec->shape == LOSSD_PSHAPE_CHANNELS ? "a number or an array of numbers"
                                                    : "an array of numbers";
    else if (spec->type == LOSSD_PARAM_LOG_BASE)
        want = "a number or \"e\"";
    else if (want == NULL)
        want = spec->type == LOSSD_PARAM_INTEGER ? "an integer" : "a number";
    return lossd__fail(err, LOSSD_ETYPE, spec->name, "expected %s", want);
}

static bool in_domain(const lossd_domain *d, double x)
{
    if (d->has_also && x == d->also)
        return true;
    if (d->has_except && x == d->except)
        return false;
    if (x < d->lo || (d->lo_open && x == d->lo))
        return false;
    if (x > d->hi || (d->hi_open && x == d->hi))
        return false;
    return true;
}

int lossd_call_set_number(lossd_call *c, const char *name, double value, lossd_error *err)
{
    int i = find_param(c, name, err);
    if (i < 0)
        return i;
    const lossd_param_spec *spec = &c->fn->params[i];
    char text[96];
    switch (spec->type) {
    case LOSSD_PARAM_LOG_BASE:
        if (!isfinite(value) || value <= 0 || value == 1)
            return lossd__fail(err, LOSSD_EINVAL, name,
                               "%s is not a logarithm base (\"e\", or "
                               "a number > 0 and != 1)",
                               LOSSD__SHORTEST(value));
        break;
    case LOSSD_PARAM_INTEGER:
        if (!isfinite(value) || value != floor(value) || fabs(value) > LOSSD_EXACT_INT_MAX)
            return lossd__fail(err, LOSSD_EINVAL, name, "%s is not an integer",
                               LOSSD__SHORTEST(value));
        /* fall through */
    case LOSSD_PARAM_NUMBER:
        if (!isfinite(value))
            return lossd__fail(err, LOSSD_EINVAL, name, "must be a finite number");
        if (!in_domain(&spec->domain, value)) {
            lossd_param_domain_text(spec, text, sizeof text);
            return lossd__fail(err, LOSSD_EINVAL, name, "%s is out of its domain (%s)",
                               LOSSD__SHORTEST(value), text);
        }
        break;
    case LOSSD_PARAM_TENSOR:
        if (spec->shape == LOSSD_PSHAPE_CHANNELS) {
            /* A lone number is a one-element weight; keep it in the call. */
            c->params[i].number = value;
            lossd_tensor_view(&c->params[i].tensor, &c->params[i].number, 0, NULL);
            c->params[i].set = true;
            return 0;
        }
        return type_error(spec, err);
    default:
        return type_error(spec, err);
    }
    c->params[i].number = value;
    c->params[i].set = true;
    return 0;
}

int lossd_call_set_bool(lossd_call *c, const char *name, bool value, lossd_error *err)
{
    int i = find_param(c, name, err);
    if (i < 0)
        return i;
    if (c->fn->params[i].type != LOSSD_PARAM_BOOL)
        return type_error(&c->fn->params[i], err);
    c->params[i].number = value ? 1.0 : 0.0;
    c->params[i].set = true;
    return 0;
}

int lossd_call_set_choice(lossd_call *c, const char *name, const char *value, lossd_error *err)
{
    int i = find_param(c, name, err);
    if (i < 0)
        return i;
    const lossd_param_spec *spec = &c->fn->params[i];
    if (spec->type == LOSSD_PARAM_LOG_BASE) {
        if (strcmp(value, "e") != 0)
            return lossd__fail(err, LOSSD_EINVAL, name,
                               "expected \"e\" or a number > 0 and != 1, got \"%.32s\"", value);
        c->params[i].number = 0;
        c->params[i].set = true;
        return 0;
    }
    if (spec->type != LOSSD_PARAM_CHOICE)
        return type_error(spec, err);
    for (int k = 0; spec->choices[k]; k++)
        if (strcmp(spec->choices[k], value) == 0) {
            c->params[i].choice = k;
            c->params[i].set = true;
            return 0;
        }
    char text[96];
    lossd_param_domain_text(spec, text, sizeof text);
    return lossd__fail(err, LOSSD_EINVAL, name, "\"%.32s\" is not %s", value, text);
}

int lossd_call_set_tensor(lossd_call *c, const char *name, const lossd_tensor *t, lossd_error *err)
{
    int i = find_param(c, name, err);
    if (i < 0)
        return i;
    if (c->fn->params[i].type != LOSSD_PARAM_TENSOR)
        return type_error(&c->fn->params[i], err);
    c->params[i].tensor = *t;
    c->params[i].set = true;
    return 0;
}

int lossd_call_set_reduction(lossd_call *c, const char *name, lossd_error *err)
{
    static const char *const names[] = {"mean", "sum", "none", "batchmean"};
    LOSSD_ASSERT(c->state == NULL && name != NULL);
    bool batchmean = c->fn->flags & LOSSD_FN_BATCHMEAN;
    if (c->fn->kind != LOSSD_KIND_LOSS)
        return lossd__fail(err, LOSSD_ENOENT, "reduction", "only losses take a reduction");
    for (int r = 0; r < 4; r++)
        if (strcmp(names[r], name) == 0 && (r != LOSSD_REDUCTION_BATCHMEAN || batchmean)) {
            c->reduction = (lossd_reduction)r;
            return 0;
        }
    return lossd__fail(err, LOSSD_EINVAL, "reduction", "\"%.32s\" is not one of: mean, sum, none%s",
                       name, batchmean ? ", batchmean" : "");
}

const char *lossd_call_term_name(const lossd_call *c, size_t i)
{
    if (!(c->fn->flags & LOSSD_FN_TERMS) || i >= LOSSD_MAX_TERMS)
        return NULL;
    for (size_t k = 0; k <= i; k++)
        if (c->fn->terms[k] == NULL)
            return NULL;
    return c->fn->terms[i];
}

/* ------------------------------------------------------------ checks */

static const char *operand_name(const lossd_call *c, size_t k)
{
    return c->fn->operands[k].name;
}

/*
 * Checks the shapes and values of the tensor parameters that were given,
 * and sets the state's view of each tensor parameter (an unset one reads 1).
 */
static int check_tensor_params(lossd_call *c, lossd_error *err)
{
    const lossd_tensor *input = &c->operand[0];
    for (size_t i = 0; i < c->fn->n_params; i++) {
        const lossd_param_spec *spec = &c->fn->params[i];
        lossd__param_view *view = &c->state->views[i];
        view->data = &one;
        view->period = 1;
        if (spec->type != LOSSD_PARAM_TENSOR || !c->params[i].set)
            continue;
        const lossd_tensor *w = &c->params[i].tensor;
        char have[96];
        switch (spec->shape) {
        case LOSSD_PSHAPE_CLASSES:
            if (w->rank != 1 || w->shape[0] != c->state->n_classes)
                return lossd__fail(err, LOSSD_EINVAL, spec->name,
                                   "expected one weight per class, shape (%zu), got %s",
                                   c->state->n_classes, lossd__shape_text(have, sizeof have, w));
            view->data = w->data;
            view->period = w->size;
            break;
        case LOSSD_PSHAPE_CHANNELS: {
            size_t channels = input->rank >= 2 ? input->shape[1] : 1;
            bool ok =
                w->rank == 0 || (w->rank == 1 && (w->shape[0] == 1 || w->shape[0] == channels));
            if (!ok)
                return lossd__fail(
                    err, LOSSD_EINVAL, spec->name,
                    "expected a number or one weight per channel, shape (%zu), got %s", channels,
                    lossd__shape_text(have, sizeof have, w));
            view->data = w->data;
            view->period = w->size;
            break;
        }
        case LOSSD_PSHAPE_BROADCAST: {
            int rc = lossd__broadcast(view, w, input, NULL, spec->name, err);
            if (rc < 0)
                return rc;
            if (rc == 1) {
                /* Not a plain suffix: materialise the broadcast once. */
                double *expanded = malloc((input->size ? input->size : 1) * sizeof *expanded);
                if (expanded == NULL)
                    return lossd__fail(err, LOSSD_ENOMEM, spec->name, "out of memory");
                c->state->expanded[i] = expanded;
                lossd__broadcast(view, w, input, expanded, spec->name, err);
            }
            break;
        }
        case LOSSD_PSHAPE_NONE:
            break;
        }
        for (size_t j = 0; j < w->size; j++)
            if (!isfinite(w->data[j])) {
                char path[LOSSD_FIELD_MAX];
                lossd__path(path, sizeof path, spec->name, w, j, -1);
                return lossd__fail(err, LOSSD_EINVAL, path, "must be a finite number");
            }
    }
    return 0;
}

/* t's shape without its last axis (an empty batch (0) stays as it is). */
static void drop_last_axis(lossd_tensor *t)
{
    if (t->rank == 0 || (t->rank == 1 && t->shape[0] == 0))
        return;
    t->rank--;
    t->size = 1;
    for (int k = 0; k < t->rank; k++)
        t->size *= t->shape[k];
}

/*
 * The shape of what grad_output matches: the unreduced loss (one term per
 * element, or per row along the last axis), one value per row (the
 * information measures), or the output element by element.
 */
static void terms_shape_of(lossd_call *c, lossd_tensor *out)
{
    *out = c->operand[0];
    out->data = NULL;
    if (c->fn->kind == LOSSD_KIND_LOSS ? lossd__operand_rule(c, 0)->per_row
                                       : (c->fn->impl->flags & LOSSD__FN_ROW_OUTPUT) != 0)
        drop_last_axis(out);
}

static int check_grad(lossd_call *c, const lossd_tensor *terms_shape, lossd_error *err)
{
    const lossd_function *fn = c->fn;
    char have[96], want[96];
    if (c->want_grad && !(fn->flags & LOSSD_FN_GRAD))
        return lossd__fail(err, LOSSD_EINVAL, "grad", "%s has no gradient", fn->name);
    if (c->want_grad_second && !(fn->flags & LOSSD_FN_GRAD_SECOND))
        return lossd__fail(err, LOSSD_EINVAL, "grad", "%s has no gradient with respect to %s",
                           fn->name,
                           fn->operands[1].name ? fn->operands[1].name : "a second operand");
    if (c->want_terms && !(fn->flags & LOSSD_FN_TERMS))
        return lossd__fail(err, LOSSD_EINVAL, "terms", "%s has no per-term extras", fn->name);
    if (!c->grad_output_set)
        return 0;
    if (!c->want_grad && !c->want_grad_second)
        return lossd__fail(err, LOSSD_EINVAL, "grad_output", "only allowed with \"grad\"");
    if (fn->kind == LOSSD_KIND_LOSS && c->reduction != LOSSD_REDUCTION_NONE)
        return lossd__fail(err, LOSSD_EINVAL, "grad_output",
                           "only allowed with \"reduction\": \"none\" (the reduced loss is a "
                           "scalar whose upstream gradient is 1)");
    if (!lossd__same_shape(&c->grad_output, terms_shape))
        return lossd__fail(err, LOSSD_EINVAL, "grad_output",
                           "shape %s does not match the %s shape %s",
                           lossd__shape_text(have, sizeof have, &c->grad_output),
                           fn->kind == LOSSD_KIND_LOSS ? "unreduced loss's" : "output's",
                           lossd__shape_text(want, sizeof want, terms_shape));
    for (size_t i = 0; i < c->grad_output.size; i++)
        if (!isfinite(c->grad_output.data[i])) {
            char path[LOSSD_FIELD_MAX];
            lossd__path(path, sizeof path, "grad_output", &c->grad_output, i, -1);
            return lossd__fail(err, LOSSD_EINVAL, path, "must be a finite number");
        }
    return 0;
}

/* Multiplies two sizes, failing on overflow. */
static bool mul_size(size_t a, size_t b, size_t *out)
{
    if (a != 0 && b > SIZE_MAX / a)
        return false;
    *out = a * b;
    return true;
}

/*
 * The axis a row-wise function runs along: the last, or the one its `dim`
 * parameter names, PyTorch's way (negative counts from the end; a scalar
 * has the axes -1 and 0). For an axis other than the last, sets the
 * state's axis_len, and axis_inner unless only axes of length 1 follow it
 * (then its rows lie like the last axis's); 422 on `dim` out of range.
 */
static int row_axis(lossd_call *c, lossd_error *err)
{
    const lossd_tensor *a = &c->operand[0];
    lossd__call_state *s = c->state;
    s->axis_len = s->axis_inner = 0;
    if (lossd__param_index(c->fn, "dim") < 0)
        return 0;
    double dim = lossd__param_number(c, "dim");
    int rank = a->rank ? a->rank : 1;
    if (dim < -rank || dim >= rank)
        return lossd__fail(err, LOSSD_EINVAL, "dim",
                           "%s is out of range [%d, %d] for an input of rank %d",
                           LOSSD__SHORTEST(dim), -rank, rank - 1, a->rank);
    int axis = (int)(dim < 0 ? dim + rank : dim);
    if (a->rank == 0 || axis == a->rank - 1)
        return 0; /* the last axis: plain rows */
    s->axis_len = a->shape[axis];
    s->axis_inner = 1;
    for (int k = axis + 1; k < a->rank; k++)
        s->axis_inner *= a->shape[k];
    if (s->axis_inner == 1) /* only axes of length 1 after it: rows of axis_len */
        s->axis_inner = 0;
    return 0;
}

/*
 * Sizes the work and the output for each kind of function: the state's
 * n_units and out_per_unit (what run.c cuts into blocks and where each
 * unit's outputs start), the call's n_terms and output shape, and
 * *elems_per_unit, the input elements a unit costs (what sizes a block).
 */
static int plan(lossd_call *c, const lossd_tensor *terms_shape, size_t *elems_per_unit,
                lossd_error *err)
{
    lossd__call_state *s = c->state;
    const lossd_tensor *a = &c->operand[0], *b = &c->operand[1];
    c->output = *a;
    c->output.data = NULL;
    switch (c->fn->kind) {
    case LOSSD_KIND_LOSS:
        s->n_units = c->n_terms = terms_shape->size;
        c->output = *terms_shape;
        s->out_per_unit = 1;
        *elems_per_unit = c->n_terms ? a->size / c->n_terms : 1;
        if (lossd__operand_rule(c, 0)->unit_cost)
            *elems_per_unit = lossd__operand_rule(c, 0)->unit_cost;
        return 0;
    case LOSSD_KIND_ACTIVATION:
    case LOSSD_KIND_INFO:
        c->n_terms = a->size;
        if (c->fn->impl->flags & LOSSD__FN_ROWWISE) {
            int rc = row_axis(c, err);
            if (rc < 0)
                return rc;
            size_t len = s->axis_len ? s->axis_len : lossd__row_len(a);
            if (s->axis_inner > 1) /* a unit is a slab of rows side by side */
                len *= s->axis_inner;
            s->n_units = len ? a->size / len : 0;
            s->out_per_unit = *elems_per_unit = len;
        } else {
            s->n_units = a->size;
            s->out_per_unit = *elems_per_unit = 1;
        }
        if (c->fn->impl->flags & LOSSD__FN_ROW_OUTPUT) {
            c->output.rank = a->rank - 1;
            c->output.size = c->n_terms = s->n_units;
            s->out_per_unit = 1;
        }
        return 0;
    case LOSSD_KIND_PAIRWISE: {
        size_t n = lossd__n_rows(a), m = lossd__n_rows(b); /* (N, L), one box (L) or [] */
        c->output.rank = 2;
        c->output.shape[0] = n;
        c->output.shape[1] = m;
        if (!mul_size(n, m, &c->output.size))
            return lossd__fail(err, LOSSD_ETOOBIG, "boxes2", "an %zu x %zu matrix is too large", n,
                               m);
        s->n_units = n;
        c->n_terms = c->output.size;
        s->out_per_unit = m;
        *elems_per_unit = m ? lossd__row_len(b) * m : 1;
        return 0;
    }
    case LOSSD_KIND_COUNT:
        break;
    }
    return lossd__fail(err, LOSSD_EINVAL, "", "unknown function kind");
}

/*
 * Room to align a block on a cache line and keep, just before the aligned
 * pointer, where the block starts and the size of its mapping (0: malloc).
 */
#define ALIGN_PAD (63 + 2 * sizeof(void *))
_Static_assert(sizeof(size_t) <= sizeof(void *), "a mapping's size fits its slot");

static void *alloc_doubles(size_t n, lossd_error *err, const char *what)
{
    size_t bytes;
    if (!mul_size(n ? n : 1, sizeof(double), &bytes)) {
        lossd__fail(err, LOSSD_ETOOBIG, what, "too many elements");
        return NULL;
    }
    /*
     * On a cache line (64 bytes), as PyTorch's CPU allocator places its
     * tensors: from malloc's 16-byte alignment every other 32-byte vector
     * straddles two lines, which a kernel streaming megabytes pays for
     * (relu6 at 10^6 elements: ~1.5x). The block comes with room to align
     * it, and where it starts sits just before the aligned pointer for
     * free_doubles(); aligned_alloc would split the block and fragment the
     * heap between calls.
     */
    if (bytes > SIZE_MAX - ALIGN_PAD) {
        lossd__fail(err, LOSSD_ETOOBIG, what, "too many elements");
        return NULL;
    }
    size_t mapped;
    char *raw = lossd_huge_alloc(bytes + ALIGN_PAD, &mapped, 1);
    if (raw == NULL) {
        lossd__fail(err, LOSSD_ENOMEM, what, "out of memory for %zu elements", n);
        return NULL;
    }
    uintptr_t at = ((uintptr_t)raw + 2 * sizeof(void *) + 63) & ~(uintptr_t)63;
    char *p = raw + (at - (uintptr_t)raw);
    memcpy(p - sizeof(void *), &raw, sizeof raw);
    memcpy(p - 2 * sizeof(void *), &mapped, sizeof mapped);
    return p;
}

/* Frees what alloc_doubles() returned (NULL too). */
static void free_doubles(void *p)
{
    if (p == NULL)
        return;
    void *raw;
    size_t mapped;
    memcpy(&raw, (char *)p - sizeof(void *), sizeof raw);
    memcpy(&mapped, (char *)p - 2 * sizeof(void *), sizeof mapped);
    lossd_huge_free(raw, mapped); /* megabytes: a mapping with huge pages (hugemap.h) */
}

int lossd_call_prepare(lossd_call *c, lossd_error *err)
{
    LOSSD_ASSERT(c != NULL && c->fn != NULL);
    LOSSD_ASSERT(c->state == NULL); /* once per lossd_call_init() */
    const lossd_function *fn = c->fn;
    int rc;

    for (size_t k = 0; k < 2; k++)
        if (fn->operands[k].rule != LOSSD_RULE_NONE && !c->operand_set[k])
            return lossd__fail(err, LOSSD_EMISSING, operand_name(c, k), "required");
    for (size_t i = 0; i < fn->n_params; i++)
        if (fn->params[i].required && !c->params[i].set)
            return lossd__fail(err, LOSSD_EMISSING, fn->params[i].name, "required");
    /*
     * malloc and two memsets, not calloc: glibc's calloc bypasses its
     * per-thread cache, ~100 instructions more a call (measured). (GCC
     * turns malloc and one memset of the whole block into calloc.)
     */
    lossd__call_state *s = c->state = malloc(sizeof *s);
    if (s == NULL)
        return lossd__fail(err, LOSSD_ENOMEM, "", "out of memory");
    memset(s, 0, offsetof(lossd__call_state, consts));
    memset(s->consts, 0, sizeof s->consts);
    for (size_t k = 0; k < 2; k++)
        if ((rc = lossd__rule_check_shape(c, k, err)) < 0)
            return rc;
    if (fn->kind != LOSSD_KIND_LOSS && c->reduction != LOSSD_REDUCTION_MEAN)
        return lossd__fail(err, LOSSD_EINVAL, "reduction", "only losses take a reduction");

    lossd_tensor terms_shape;
    terms_shape_of(c, &terms_shape);
    if ((rc = check_grad(c, &terms_shape, err)) < 0)
        return rc;
    if ((rc = check_tensor_params(c, err)) < 0)
        return rc;
    for (size_t k = 0; k < 2; k++)
        if ((rc = lossd__rule_check_values(c, k, err)) < 0)
            return rc;

    size_t elems_per_unit = 1;
    if ((rc = plan(c, &terms_shape, &elems_per_unit, err)) < 0)
        return rc;
    if (c->max_output && c->output.size > c->max_output)
        return lossd__fail(err, LOSSD_ETOOBIG, operand_name(c, fn->operands[1].rule ? 1 : 0),
                           "the reply would hold %zu numbers, more than the limit of %zu",
                           c->output.size, c->max_output);
    s->block_units = BLOCK_ELEMENTS / (elems_per_unit ? elems_per_unit : 1);
    if (s->block_units == 0)
        s->block_units = 1;
    c->n_blocks = (s->n_units + s->block_units - 1) / s->block_units;

    /*
     * The scale of one loss term; prepare hooks may refine it. A mean of
     * no terms scales by 1/0: their loss is 0 * inf = NaN, PyTorch's 0/0
     * (finish).
     */
    s->term_scale = 1.0;
    if (fn->kind == LOSSD_KIND_LOSS) {
        if (c->reduction == LOSSD_REDUCTION_MEAN)
            s->term_scale = 1.0 / (double)c->n_terms;
        /* batchmean divides by the first dimension; a scalar has none (F.kl_div: the sum) */
        if (c->reduction == LOSSD_REDUCTION_BATCHMEAN && c->operand[0].rank > 0)
            s->term_scale = 1.0 / (double)c->operand[0].shape[0];
    }
    if (fn->impl->prepare && (rc = fn->impl->prepare(c, err)) < 0)
        return rc;

    bool has_output = fn->kind != LOSSD_KIND_LOSS || c->reduction == LOSSD_REDUCTION_NONE;
    if (has_output) {
        if ((s->output_data = alloc_doubles(c->output.size, err, "output")) == NULL)
            return err ? err->code : LOSSD_ENOMEM;
        c->output.data = s->output_data;
    }
    if (c->want_grad && (c->grad = alloc_doubles(c->operand[0].size, err, "grad")) == NULL)
        return err ? err->code : LOSSD_ENOMEM;
    if (c->want_grad_second &&
        (c->grad_second = alloc_doubles(c->operand[1].size, err, "grad")) == NULL)
        return err ? err->code : LOSSD_ENOMEM;
    for (size_t k = 0; c->want_terms && k < LOSSD_MAX_TERMS && fn->terms[k]; k++)
        if ((c->terms[k] = alloc_doubles(c->n_terms, err, "terms")) == NULL)
            return err ? err->code : LOSSD_ENOMEM;
    /* The three per-block arrays, zeroed (finish reads every slot): inline, or one allocation. */
    if (c->n_blocks <= LOSSD__INLINE_BLOCKS) {
        s->block_sum = s->inline_blocks.sum;
        s->block_zeros = s->inline_blocks.zeros;
        s->block_nonfinite = s->inline_blocks.nonfinite;
    } else {
        s->block_sum = calloc(c->n_blocks, sizeof(double) + 2 * sizeof(size_t));
        if (s->block_sum == NULL)
            return lossd__fail(err, LOSSD_ENOMEM, "", "out of memory");
        s->block_zeros = (size_t *)(void *)(s->block_sum + c->n_blocks);
        s->block_nonfinite = s->block_zeros + c->n_blocks;
    }
    s->prepared = true;
    return 0;
}

/* ------------------------------------------------------------ running */

/* The blocks run in run.c, or its AVX2 twin when the CPU has AVX2 (simd.h). */
void lossd_call_run(const lossd_call *c, size_t first_block, size_t end_block)
{
    LOSSD_ASSERT(c->state != NULL && c->state->prepared);
    LOSSD_ASSERT(first_block <= end_block && first_block <= c->n_blocks);
#if LOSSD_SIMD_HAVE_AVX2
    if (lossd__simd_avx2()) {
        lossd__run_blocks_avx2(c, first_block, end_block);
        return;
    }
#endif
    lossd__run_blocks(c, first_block, end_block);
}

/*
 * The reduced loss of an empty batch, PyTorch's: a sum of nothing is 0, a
 * mean (and batchmean over a first axis of 0) is 0/0 = NaN - except where
 * the reference guards it, as torchvision's box losses do (0; the rule of
 * the terms says so).
 */
static double empty_loss(const lossd_call *c)
{
    const lossd__rule_impl *rule = lossd__operand_rule(c, 0)->impl;
    return rule && rule->empty_mean_zero ? 0.0 : 0.0 * c->state->term_scale;
}

void lossd_call_finish(lossd_call *c)
{
    LOSSD_ASSERT(c->state != NULL && c->state->prepared);
    const lossd__call_state *s = c->state;
    lossd__sum sum = {0, 0};
    size_t zeros = 0, nonfinite = 0;
    for (size_t b = 0; b < c->n_blocks; b++) {
        lossd__sum_add(&sum, s->block_sum[b]);
        zeros += s->block_zeros[b];
        nonfinite += s->block_nonfinite[b];
    }
    bool reduced = lossd__reduced(c);
    c->loss = reduced ? lossd__sum_value(&sum) : 0.0;
    if (reduced && c->n_terms == 0)
        c->loss = empty_loss(c);
    if (!c->want_stats) { /* the kernels counted nothing */
        c->zero_grad_fraction = NAN;
        c->n_nonfinite = reduced && !isfinite(c->loss);
        return;
    }
    c->zero_grad_fraction = c->operand[0].size ? (double)zeros / (double)c->operand[0].size : 0.0;
    /* The kernels counted their outputs, gradients and terms block by block. */
    c->n_nonfinite = (reduced && !isfinite(c->loss)) + nonfinite;
}

int lossd_call_compute(lossd_call *c, lossd_error *err)
{
    int rc = lossd_call_prepare(c, err);
    if (rc < 0)
        return rc;
    lossd_call_run(c, 0, c->n_blocks);
    lossd_call_finish(c);
    return 0;
}

void lossd_call_cleanup(lossd_call *c)
{
    LOSSD_ASSERT(c != NULL);
    lossd__call_state *s = c->state;
    if (s) {
        free_doubles(s->output_data);
        for (size_t i = 0; i < c->fn->n_params && i < LOSSD_MAX_PARAMS; i++)
            free(s->expanded[i]);
        if (s->block_sum != s->inline_blocks.sum)
            free(s->block_sum); /* and the other per-block arrays */
        free(s);
    }
    free_doubles(c->grad);
    free_doubles(c->grad_second);
    for (size_t k = 0; k < LOSSD_MAX_TERMS; k++)
        free_doubles(c->terms[k]);
    c->state = NULL;
    c->output.data = NULL;
    c->grad = c->grad_second = NULL;
    memset(c->terms, 0, sizeof c->terms);
}

/* ------------------------------------------------------------ parameters, for prepare hooks */

#define TYPE_BIT(type) (1u << (type))
#define NUMERIC_TYPES                                                                            \
    (TYPE_BIT(LOSSD_PARAM_NUMBER) | TYPE_BIT(LOSSD_PARAM_INTEGER) | TYPE_BIT(LOSSD_PARAM_BOOL) | \
     TYPE_BIT(LOSSD_PARAM_LOG_BASE))

/* The index of parameter `name`, which the function must have, with one of `types`; else -1. */
static int param_slot(const lossd_call *c, const char *name, unsigned types)
{
    int i = lossd__param_index(c->fn, name);
    LOSSD_ASSERT(i >= 0);
    if (i < 0)
        return -1;
    LOSSD_ASSERT(types & TYPE_BIT(c->fn->params[i].type));
    return types & TYPE_BIT(c->fn->params[i].type) ? i : -1;
}

double lossd__param_number(const lossd_call *c, const char *name)
{
    int i = param_slot(c, name, NUMERIC_TYPES);
    return i < 0 ? 0.0 : c->params[i].number;
}

double lossd__param_number_or(const lossd_call *c, const char *name, double absent)
{
    return lossd__param_index(c->fn, name) < 0 ? absent : lossd__param_number(c, name);
}

bool lossd__param_bool(const lossd_call *c, const char *name)
{
    int i = param_slot(c, name, TYPE_BIT(LOSSD_PARAM_BOOL));
    return i >= 0 && c->params[i].number != 0;
}

int lossd__param_choice(const lossd_call *c, const char *name)
{
    int i = param_slot(c, name, TYPE_BIT(LOSSD_PARAM_CHOICE));
    return i < 0 ? 0 : c->params[i].choice;
}

bool lossd__param_given(const lossd_call *c, const char *name)
{
    int i = param_slot(c, name, ~0u);
    return i >= 0 && c->params[i].set;
}

const lossd_tensor *lossd__param_tensor(const lossd_call *c, const char *name)
{
    int i = param_slot(c, name, TYPE_BIT(LOSSD_PARAM_TENSOR));
    return i >= 0 && c->params[i].set ? &c->params[i].tensor : NULL;
}

lossd__param_view lossd__param_view_of(const lossd_call *c, const char *name)
{
    int i = param_slot(c, name, TYPE_BIT(LOSSD_PARAM_TENSOR));
    LOSSD_ASSERT(c->state != NULL); /* views are set while preparing */
    if (i < 0)
        return (lossd__param_view){&one, 1};
    return c->state->views[i];
}
