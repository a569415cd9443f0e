/*
 * internal.h - what the core's modules share and nothing outside sees.
 *
 * Each module (regression.c, classification.c, boxes.c, activation.c,
 * info.c) owns its kernels and the registry rows that point at them;
 * registry.c only strings the module tables together. Adding a function
 * is one kernel plus one row in its module.
 *
 * Kernel contract (lossd_function.kernel):
 *   size_t kernel(const lossd_call *c, size_t begin, size_t end, double *out)
 * computes work units [begin, end) of a prepared call:
 *   - out[k] receives the output of unit begin + k (losses: that term's
 *     contribution to the reduced loss, already scaled; see coef below;
 *     matrices and row-wise functions: out_per_unit values per unit);
 *   - when c->grad is not NULL, it writes the gradient of the input
 *     elements belonging to those units, with the upstream gradient
 *     lossd__upstream(c, term) folded in;
 *   - when c->terms[k] is not NULL, it writes per-term extras at [unit];
 *   - it returns the number of exactly-zero derivatives it saw
 *     (activations; 0 elsewhere).
 * Kernels run concurrently on disjoint ranges: they write only their own
 * units' slots and never allocate.
 *
 * Function prepare hooks (lossd_function.prepare) run after the generic
 * checks in call.c: they add function-specific validation and fill
 * c->coef. For losses, the generic code first sets coef[0] to the scale of
 * one term (1/n for mean, 1/batch for batchmean, 1 otherwise).
 */
#ifndef LOSSD_CORE_INTERNAL_H
#define LOSSD_CORE_INTERNAL_H

#include <math.h>
#include <stdarg.h>
#include <stddef.h>

#include <lossd/lossd.h>

#define LOSSD_INLINE static inline __attribute__((always_inline))

/* ---- module tables (registry.c strings them together in this order) ---- */

typedef struct {
    const lossd_function *functions;
    size_t count;
} lossd__module;

extern const lossd__module lossd__regression_module;
extern const lossd__module lossd__classification_module;
extern const lossd__module lossd__box_module;
extern const lossd__module lossd__pairwise_module;
extern const lossd__module lossd__activation_module;
extern const lossd__module lossd__info_module;

#define LOSSD__MODULE(sym, table) \
    const lossd__module sym = {table, sizeof(table) / sizeof(table[0])}

#define LOSSD__PARAMS(array) (array), (sizeof(array) / sizeof((array)[0]))

/* Internal function flags (above the public ones). */
#define LOSSD__FN_ROWWISE    0x100u /* a unit is a row along the last axis */
#define LOSSD__FN_ROW_OUTPUT 0x200u /* one output per row (info measures) */

/* Common domains. */
#define LOSSD__ANY                                            \
    {                                                         \
        -INFINITY, INFINITY, false, false, false, 0, false, 0 \
    }
#define LOSSD__NONNEG                                 \
    {                                                 \
        0, INFINITY, false, false, false, 0, false, 0 \
    }
#define LOSSD__POSITIVE                              \
    {                                                \
        0, INFINITY, true, false, false, 0, false, 0 \
    }
#define LOSSD__UNIT                            \
    {                                          \
        0, 1, false, false, false, 0, false, 0 \
    }
#define LOSSD__NONZERO                                       \
    {                                                        \
        -INFINITY, INFINITY, false, false, false, 0, true, 0 \
    }

/* ---- errors (error.c) ---- */

/*
 * Fills err (when not NULL and still empty: the first error wins) with
 * code, field and "field: message". Returns code.
 */
int lossd__fail(lossd_error *err, int code, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * Writes the path of element `flat` of a tensor of shape (rank, shape)
 * below `name`, keeping the first `depth` indices only (depth < 0: all):
 * "target[3][1]". Returns buf.
 */
char *lossd__path(char *buf, size_t size, const char *name, const lossd_tensor *t, size_t flat,
                  int depth);

/* ---- tensors (tensor.c) ---- */

/* Element i of a broadcast parameter view (an unset view reads 1). */
LOSSD_INLINE double lossd__view_at(const lossd_param_view *v, size_t i)
{
    return v->period == 1 ? v->data[0] : v->data[i % v->period];
}

/*
 * Checks that `w` broadcasts to `to` (NumPy rules, w's rank <= to's) and
 * sets *out to read it. When the broadcast is not a plain suffix, the
 * expanded copy is written to `expanded` (to->size doubles, caller-owned;
 * NULL to ask whether one is needed: returns 1). Returns 0, or
 * LOSSD_EINVAL naming `field`.
 */
int lossd__broadcast(lossd_param_view *out, const lossd_tensor *w, const lossd_tensor *to,
                     double *expanded, const char *field, lossd_error *err);

/* True if two tensors have the same rank and shape. */
bool lossd__same_shape(const lossd_tensor *a, const lossd_tensor *b);

/* Writes "(2, 3)" style text for a shape. */
char *lossd__shape_text(char *buf, size_t size, const lossd_tensor *t);

/* Last-axis length (1 for rank 0) and the number of rows along it. */
LOSSD_INLINE size_t lossd__row_len(const lossd_tensor *t)
{
    return t->rank == 0 ? 1 : t->shape[t->rank - 1];
}

LOSSD_INLINE size_t lossd__n_rows(const lossd_tensor *t)
{
    size_t len = lossd__row_len(t);
    return len == 0 ? 0 : t->size / len;
}

/* ---- calls (call.c) ---- */

/* The upstream gradient of loss term i: coef[0] * grad_output[i]. */
LOSSD_INLINE double lossd__upstream(const lossd_call *c, size_t term)
{
    return c->grad_output_set ? c->coef[0] * c->grad_output.data[term] : c->coef[0];
}

/* A parameter's value (its default unless set), by index into fn->params. */
LOSSD_INLINE double lossd__num(const lossd_call *c, size_t i)
{
    return c->params[i].number;
}

/* The tensor parameter i, or NULL when it was not given. */
LOSSD_INLINE const lossd_tensor *lossd__tensor_param(const lossd_call *c, size_t i)
{
    return c->params[i].set ? &c->params[i].tensor : NULL;
}

/* Index of the parameter called `name` in c->fn->params, or -1. */
int lossd__param_index(const lossd_function *fn, const char *name);

/* Checks every value of operand k is a probability in [0, 1] (call.c). */
int lossd__check_probabilities(const lossd_call *c, size_t k, lossd_error *err);

/* Checks every box of operand k is valid in the call's box_format (boxes.c). */
int lossd__boxes_check(const lossd_call *c, size_t k, lossd_error *err);

/* ---- pointwise kernels: one loop each, specialised by an inlined element function ---- */

/*
 * A pointwise loss: elem(c, i, x, t, &dl_dx) returns the loss of element i
 * and its derivative. The loop scales values by coef[0], folds the
 * upstream gradient into dl_dx and writes c->grad when asked. Without
 * gradients the derivative is dead code and the compiler drops it.
 */
typedef double (*lossd__loss_elem)(const lossd_call *c, size_t i, double x, double t, double *dl);

LOSSD_INLINE size_t lossd__pointwise_loss(const lossd_call *c, size_t begin, size_t end,
                                          double *out, lossd__loss_elem elem)
{
    const double *x = c->operand[0].data, *t = c->operand[1].data;
    double scale = c->coef[0];
    if (c->grad) {
        for (size_t i = begin; i < end; i++) {
            double d;
            out[i - begin] = scale * elem(c, i, x[i], t[i], &d);
            c->grad[i] = lossd__upstream(c, i) * d;
        }
    } else {
        for (size_t i = begin; i < end; i++) {
            double d;
            out[i - begin] = scale * elem(c, i, x[i], t[i], &d);
        }
    }
    return 0;
}

/*
 * A pointwise activation: elem(c, i, x, &dy_dx) returns y and its
 * derivative. Counts exactly-zero derivatives (the "dead units" statistic)
 * and writes grad_output * dy_dx when gradients are asked for.
 */
typedef double (*lossd__act_elem)(const lossd_call *c, size_t i, double x, double *dy);

LOSSD_INLINE size_t lossd__pointwise_activation(const lossd_call *c, size_t begin, size_t end,
                                                double *out, lossd__act_elem elem)
{
    const double *x = c->operand[0].data;
    const double *go = c->grad_output_set ? c->grad_output.data : NULL;
    size_t zeros = 0;
    for (size_t i = begin; i < end; i++) {
        double d;
        out[i - begin] = elem(c, i, x[i], &d);
        zeros += d == 0.0;
        if (c->grad)
            c->grad[i] = go ? go[i] * d : d;
    }
    return zeros;
}

/* ---- numerics shared by modules ---- */

/*
 * The pieces of a stable softmax of one row, as ATen computes them:
 * softmax(x)_j = exp(x_j - max) / sum, log_softmax(x)_j = (x_j - max) - log(sum),
 * with sum = sum_k exp(x_k - max).
 */
LOSSD_INLINE void lossd__softmax_row(const double *x, size_t n, double *max, double *sum)
{
    double m = -INFINITY;
    for (size_t j = 0; j < n; j++)
        m = x[j] > m ? x[j] : m;
    double s = 0;
    for (size_t j = 0; j < n; j++)
        s += exp(x[j] - m);
    *max = m;
    *sum = s;
}

/*
 * Neumaier-compensated running sum: add with lossd__sum_add, read with
 * lossd__sum_value. Accurate enough that the order of terms almost never
 * shows, and cheap next to any kernel.
 */
typedef struct {
    double sum, comp;
} lossd__sum;

LOSSD_INLINE void lossd__sum_add(lossd__sum *s, double x)
{
    double t = s->sum + x;
    if (fabs(s->sum) >= fabs(x))
        s->comp += (s->sum - t) + x;
    else
        s->comp += (x - t) + s->sum;
    s->sum = t;
}

LOSSD_INLINE double lossd__sum_value(const lossd__sum *s)
{
    /* Infinite or NaN sums have no meaningful compensation. */
    return isfinite(s->sum) ? s->sum + s->comp : s->sum;
}

#endif /* LOSSD_CORE_INTERNAL_H */
