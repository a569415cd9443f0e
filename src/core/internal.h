/* SPDX-License-Identifier: MIT */
/*
 * internal.h - what the core's modules share and nothing outside sees.
 *
 * Each module (regression.c, classification.c, detection.c, boxes.c,
 * oriented.c, gaussian.c, activation.c, info.c) owns its kernels, its family's per-call constants
 * and the registry rows that point at them; registry.c only strings the module tables together.
 * Adding a function is one kernel plus one row in its module (docs/internals.md has the whole
 * checklist). Modules are compiled twice, for the baseline and for AVX2 (simd.h), from this one
 * source.
 *
 * Kernel contract (lossd__impl.kernel):
 *   size_t kernel(const lossd_call *c, size_t begin, size_t end, double *out)
 * computes work units [begin, end) of a prepared call:
 *   - out[k] receives the output of unit begin + k (losses: that term's
 *     contribution to the reduced loss, already scaled by the call's
 *     term_scale; matrices and row-wise functions: out_per_unit values per
 *     unit);
 *   - when c->grad is not NULL, it writes the gradient of the input
 *     elements belonging to those units, with the upstream gradient
 *     lossd__upstream(c, term_scale, term, ...) folded in;
 *   - when c->grad_second is not NULL (functions with
 *     LOSSD_FN_GRAD_SECOND), the same for the second operand's elements
 *     (target, q) belonging to those units;
 *   - when c->terms[k] is not NULL, it writes per-term extras at [unit];
 *   - it reports the NaN and infinite values it wrote (outputs unless the
 *     loss is reduced, gradients, extras) with lossd__report_nonfinite;
 *   - it returns the number of exactly-zero derivatives it saw
 *     (activations; 0 elsewhere).
 * Kernels run concurrently on disjoint ranges: they write only their own
 * units' slots (and their block's counts) and never allocate. They work
 * LOSSD_LANES elements, rows or boxes at a time, one per vector lane, so
 * that each lane does what the scalar code would, in the same order.
 * Kernels read parameters only through their family's constants (below),
 * never by position or name.
 *
 * Prepare hooks (lossd__impl.prepare) run after the generic checks in
 * call.c: they add function-specific validation and resolve the
 * function's parameters, by name, into its family's constants
 * (LOSSD__CONSTS_SET). For losses, the generic code first sets the
 * state's term_scale (1/n for mean, 1/batch for batchmean, 1 otherwise),
 * which a hook may refine.
 */
#ifndef LOSSD_CORE_INTERNAL_H
#define LOSSD_CORE_INTERNAL_H

#include "simd.h" /* first: in an AVX2 twin, everything below is compiled for AVX2 */

#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <lossd/lossd.h>

/* ---- registry rows: what lossd_function.impl points at ---- */

/* A kernel (the contract above) and a prepare hook. */
typedef size_t (*lossd__kernel)(const lossd_call *c, size_t begin, size_t end, double *out);
typedef int (*lossd__prepare_hook)(lossd_call *c, lossd_error *err);

/* A function's private half of its registry row. */
typedef struct lossd__impl {
    unsigned flags;              /* LOSSD__FN_* below */
    lossd__prepare_hook prepare; /* optional: own checks; fills the family's constants */
    lossd__kernel kernel;
} lossd__impl;

/* lossd__impl.flags */
#define LOSSD__FN_ROWWISE    0x1u /* a unit is a row along the last axis, or the `dim` axis */
#define LOSSD__FN_ROW_OUTPUT 0x2u /* one output per row (info measures) */

/*
 * A row's .impl: .impl = LOSSD__IMPL(.kernel = l1_kernel) or with
 * .prepare and .flags. (A compound literal at file scope is a static
 * object, so its address is a constant.)
 */
#define LOSSD__IMPL(...) (&(const lossd__impl){__VA_ARGS__})

/* ---- module tables (registry.c strings them together in this order) ---- */

typedef struct {
    const lossd_function *functions;
    size_t count;
} lossd__module;

/*
 * A symbol of a file that is compiled twice (simd.h) gets an _avx2 suffix
 * in its AVX2 twin: LOSSD__TWIN(lossd__box_module) is lossd__box_module
 * or lossd__box_module_avx2.
 */
#ifdef LOSSD_SIMD_AVX2
#define LOSSD__TWIN(sym) sym##_avx2
#else
#define LOSSD__TWIN(sym) sym
#endif

extern const lossd__module lossd__regression_module, lossd__regression_module_avx2;
extern const lossd__module lossd__classification_module, lossd__classification_module_avx2;
extern const lossd__module lossd__detection_module, lossd__detection_module_avx2;
extern const lossd__module lossd__box_module, lossd__box_module_avx2;
extern const lossd__module lossd__pairwise_module, lossd__pairwise_module_avx2;
extern const lossd__module lossd__oriented_module, lossd__oriented_module_avx2;
extern const lossd__module lossd__oriented_pairwise_module, lossd__oriented_pairwise_module_avx2;
extern const lossd__module lossd__gaussian_module, lossd__gaussian_module_avx2;
extern const lossd__module lossd__gaussian_pairwise_module, lossd__gaussian_pairwise_module_avx2;
extern const lossd__module lossd__activation_module, lossd__activation_module_avx2;
extern const lossd__module lossd__info_module, lossd__info_module_avx2;

#define LOSSD__MODULE(sym, table) \
    const lossd__module LOSSD__TWIN(sym) = {table, sizeof(table) / sizeof(table[0])}

/*
 * True when this process runs the AVX2 twins: x86-64 built with them, on a
 * CPU with AVX2 and FMA (registry.c). Any thread.
 */
bool lossd__simd_avx2(void);

#define LOSSD__PARAMS(array) (array), (sizeof(array) / sizeof((array)[0]))

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
 * Writes x for a message in the shortest %g form that reads back to x
 * ("0.30824", "1e+23", "3"; not 0.30824499999999999): a number a client
 * sent is shown as it was written, or as close as a double allows.
 * buf holds LOSSD__SHORTEST_MAX bytes; returns buf. LOSSD__SHORTEST(x)
 * gives it a buffer of its own, alive to the end of the enclosing block,
 * for use as a lossd__fail() argument.
 */
#define LOSSD__SHORTEST_MAX 32
const char *lossd__shortest(double x, char *buf);
#define LOSSD__SHORTEST(x) lossd__shortest((x), (char[LOSSD__SHORTEST_MAX]){0})

/*
 * Writes the path of element `flat` of a tensor of shape (rank, shape)
 * below `name`, keeping the first `depth` indices only (depth < 0: all):
 * "target[3][1]". Returns buf.
 */
char *lossd__path(char *buf, size_t size, const char *name, const lossd_tensor *t, size_t flat,
                  int depth);

/* ---- tensors (tensor.c) ---- */

/* How a kernel reads a broadcast parameter tensor. */
typedef struct {
    const double *data;
    size_t period; /* element i reads data[i % period] */
} lossd__param_view;

/*
 * Lane k of a broadcast parameter view at element i + k: data[(i + k) %
 * period] (an unset view reads 1).
 */
LOSSD_INLINE lossd_vd lossd__view_lanes(const lossd__param_view *v, size_t i)
{
    if (v->period == 1)
        return lossd_v_set1(v->data[0]);
    size_t first = i % v->period;
    if (v->period - first >= LOSSD_LANES)
        return lossd_v_load(v->data + first);
    lossd_vd w;
    for (size_t k = 0; k < LOSSD_LANES; k++)
        w[k] = v->data[(first + k) % v->period];
    return w;
}

/*
 * Checks that `w` broadcasts to `to` (NumPy rules, w's rank <= to's) and
 * sets *out to read it. When the broadcast is not a plain suffix, the
 * expanded copy is written to `expanded` (to->size doubles, caller-owned;
 * NULL to ask whether one is needed: returns 1). Returns 0, or
 * LOSSD_EINVAL naming `field`.
 */
int lossd__broadcast(lossd__param_view *out, const lossd_tensor *w, const lossd_tensor *to,
                     double *expanded, const char *field, lossd_error *err);

/* True if two tensors have the same rank and shape. */
bool lossd__same_shape(const lossd_tensor *a, const lossd_tensor *b);

/* lossd_shape_text() of a tensor's shape. */
LOSSD_INLINE char *lossd__shape_text(char *buf, size_t size, const lossd_tensor *t)
{
    return lossd_shape_text(buf, size, t->rank, t->shape);
}

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

/* Room for a function family's per-call constants (LOSSD__CONSTS). */
#define LOSSD__CONSTS_SIZE 256

/*
 * Calls of at most this many blocks (32768 elements) keep their per-block
 * arrays inside the state: a small call then allocates the state alone,
 * where the per-block arrays used to take two allocations of their own.
 */
#define LOSSD__INLINE_BLOCKS 4

/*
 * What lossd_call.state points at: the call's private state, allocated by
 * lossd_call_prepare(), freed by lossd_call_cleanup(). Written only while
 * preparing, read by the kernels (and finish) afterwards - except the
 * per-block arrays, whose slot b belongs to whoever runs block b.
 */
typedef struct lossd__call_state lossd__call_state;

struct lossd__call_state {
    bool prepared;       /* prepare succeeded: run and finish may follow */
    size_t n_units;      /* work units: elements, rows, boxes or matrix rows */
    size_t block_units;  /* units per block (the last block may have fewer) */
    size_t out_per_unit; /* output values per unit: 1, a row's length, or M */
    size_t n_classes;    /* scores: C */
    size_t n_kept;       /* class-index targets that are not ignore_index */
    /*
     * Row-wise functions with a `dim` other than the last axis: a row's
     * length (0: the last axis's) and the distance between its entries
     * (> 1: a unit is a slab of axis_len * axis_inner elements, whose
     * axis_inner rows run side by side; 0: entries are neighbours).
     */
    size_t axis_len, axis_inner;
    double term_scale; /* losses: the scale of one term (1/n mean, 1/batch batchmean, 1) */
    lossd__param_view views[LOSSD_MAX_PARAMS]; /* tensor parameters, by parameter index */
    double *expanded[LOSSD_MAX_PARAMS];        /* materialised broadcasts behind views */
    double *output_data;                       /* the storage behind c->output.data */
    /*
     * n_blocks slots each, slot b written by whoever runs block b; in
     * inline_blocks up to LOSSD__INLINE_BLOCKS blocks, else one allocation.
     */
    double *block_sum;       /* block b's share of a reduced loss */
    size_t *block_zeros;     /* block b's exactly-zero derivatives */
    size_t *block_nonfinite; /* block b's NaN and infinite outputs, gradients and terms */
    struct {
        double sum[LOSSD__INLINE_BLOCKS];
        size_t zeros[LOSSD__INLINE_BLOCKS], nonfinite[LOSSD__INLINE_BLOCKS];
    } inline_blocks;
    /* The function family's constants (LOSSD__CONSTS): written by its prepare hook. */
    _Alignas(16) unsigned char consts[LOSSD__CONSTS_SIZE];
};

/*
 * A family's per-call constants: each module declares one struct (or a
 * union with a member per function) of what its kernels read per call -
 * parameters resolved by name, and what is derived from them once
 * (smooth_l1's 0.5 / beta, info's ln(base)) - and reaches it through
 * these, which check at compile time that it fits:
 *   k = LOSSD__CONSTS_SET(c, regression_consts);   in a prepare hook
 *   k = LOSSD__CONSTS(c, regression_consts);       in a kernel, once: keep what
 *                                                  a loop reads in locals, or
 *                                                  copy the struct (below)
 *   k = LOSSD__CONSTS_OF(consts, regression_consts) in a pointwise element function
 * The state is heap memory, written and read through that one type.
 */
#define LOSSD__CONSTS_FIT(type)                                                    \
    (void)sizeof(struct {                                                          \
        _Static_assert(sizeof(type) <= LOSSD__CONSTS_SIZE && _Alignof(type) <= 16, \
                       #type " does not fit in lossd__call_state.consts");         \
        int fits;                                                                  \
    })
#define LOSSD__CONSTS(c, type) \
    (LOSSD__CONSTS_FIT(type), (const type *)(const void *)(c)->state->consts)
#define LOSSD__CONSTS_SET(c, type) (LOSSD__CONSTS_FIT(type), (type *)(void *)(c)->state->consts)
/* The same from the `consts` an element function is given (pointwise loops, below). */
#define LOSSD__CONSTS_OF(consts, type) (LOSSD__CONSTS_FIT(type), (const type *)(consts))

/*
 * The upstream gradients of loss terms i..i+n-1 (n <= LOSSD_LANES):
 * scale * grad_output[i], scale being the state's term_scale (which the
 * kernel reads once, into a register).
 */
LOSSD_INLINE lossd_vd lossd__upstream(const lossd_call *c, double scale, size_t i, size_t n)
{
    return c->grad_output_set ? scale * lossd_v_load_n(c->grad_output.data + i, n)
                              : lossd_v_set1(scale);
}

/*
 * Parameters by name, for prepare hooks (a look-up per call, never per
 * element; kernels read the family's constants). Asking for a parameter
 * the function does not have, or for the wrong type, is a programmer's
 * error (LOSSD_ASSERT); without debug checks it reads 0 / false / NULL.
 *   lossd__param_number: NUMBER, INTEGER, BOOL (0/1), LOG_BASE (0 = e);
 *     its default unless set;
 *   lossd__param_number_or: the same, or `absent` when the function has no
 *     such parameter (a family whose rows differ: the eps of box matrices);
 *   lossd__param_bool, lossd__param_choice (index into spec->choices);
 *   lossd__param_given: whether the caller set it (tensors: given at all);
 *   lossd__param_tensor: a tensor parameter, or NULL when not given;
 *   lossd__param_view_of: how to read a tensor parameter broadcast over the
 *     input (call.c checked its shape; an unset one reads 1).
 */
double lossd__param_number(const lossd_call *c, const char *name);
double lossd__param_number_or(const lossd_call *c, const char *name, double absent);
bool lossd__param_bool(const lossd_call *c, const char *name);
int lossd__param_choice(const lossd_call *c, const char *name);
bool lossd__param_given(const lossd_call *c, const char *name);
const lossd_tensor *lossd__param_tensor(const lossd_call *c, const char *name);
lossd__param_view lossd__param_view_of(const lossd_call *c, const char *name);

/*
 * Runs blocks [first, end) of a prepared call (run.c; the _avx2 twin is
 * what lossd_call_run() picks on AVX2 CPUs). Besides each block's kernel
 * output it writes the block's slots of the state's block_sum (its share
 * of a reduced loss), block_zeros (its zero derivatives) and
 * block_nonfinite (its non-finite outputs, gradients and terms, which the
 * kernel adds up with lossd__report_nonfinite).
 */
void lossd__run_blocks(const lossd_call *c, size_t first_block, size_t end_block);
void lossd__run_blocks_avx2(const lossd_call *c, size_t first_block, size_t end_block);

/*
 * Whole-operand checks (scan.c; the _avx2 twins on AVX2 CPUs - a file that
 * is itself compiled twice calls LOSSD__TWIN(name), call.c asks
 * lossd__simd_avx2()):
 *   lossd__scan_range: every x[i] in [lo, hi] (a NaN is not);
 *   lossd__scan_class_indices: *all_good when every x[i] is ignore_index
 *     or a whole number in [0, n_classes); returns how many are not
 *     ignore_index.
 */
bool lossd__scan_range(const double *x, size_t n, double lo, double hi);
bool lossd__scan_range_avx2(const double *x, size_t n, double lo, double hi);
size_t lossd__scan_class_indices(const double *x, size_t n, double n_classes, double ignore_index,
                                 bool *all_good);
size_t lossd__scan_class_indices_avx2(const double *x, size_t n, double n_classes,
                                      double ignore_index, bool *all_good);

/* Index of the parameter called `name` in fn->params, or -1. */
int lossd__param_index(const lossd_function *fn, const char *name);

/* ---- random numbers, for the rules' samplers (tests and benchmarks) ---- */

/* xorshift64*: a state that is never 0, advanced by each draw. */
LOSSD_INLINE uint64_t lossd__rng_next(uint64_t *state)
{
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1Dull;
}

/* Uniform in [lo, hi). */
LOSSD_INLINE double lossd__rng_uniform(uint64_t *state, double lo, double hi)
{
    return lo + (hi - lo) * ((double)(lossd__rng_next(state) >> 11) * 0x1p-53);
}

/* ---- operand rules (rules.c) ---- */

/*
 * A rule's private half: the check of an operand's values once its shape
 * is known (NULL: none), a sampler of valid values for it, given the
 * call's parameters and first operand (lossd_call_sample_operand()), and
 * how a loss over such operands reduces an empty batch.
 */
typedef struct lossd__rule_impl {
    int (*check)(lossd_call *c, size_t k, lossd_error *err);
    void (*sample)(const lossd_call *c, size_t k, const lossd_tensor *shape, double *out,
                   uint64_t *rng);
    /*
     * A loss whose first operand follows this rule reduces an empty batch's
     * mean to 0, as torchvision's box losses do (loss.mean() if
     * loss.numel() > 0 else 0.0 * loss.sum()), not to PyTorch's NaN.
     */
    bool empty_mean_zero;
} lossd__rule_impl;

#define LOSSD__RULE_IMPL(...) (&(const lossd__rule_impl){__VA_ARGS__})

/* The rule of operand k of c's function. */
const lossd_rule *lossd__operand_rule(const lossd_call *c, size_t k);

/*
 * Checks operand k's shape against its rule (and the LIKE_INPUT flag),
 * the first operand and the parameters; sets the state's n_classes for a
 * rule that counts classes and c->prob_target where a target reads as
 * probabilities. Then lossd__rule_check_values() checks its values.
 * Both return 0 or LOSSD_EINVAL naming the operand (or its element).
 */
int lossd__rule_check_shape(lossd_call *c, size_t k, lossd_error *err);
int lossd__rule_check_values(lossd_call *c, size_t k, lossd_error *err);

/* The length a rule wants for an operand's last axis in this call (0: any). */
size_t lossd__rule_last_axis(const lossd_call *c, const lossd_rule *rule);

/* Checks every value of operand k is a probability in [0, 1] (rules.c). */
int lossd__check_probabilities(const lossd_call *c, size_t k, lossd_error *err);

/*
 * Box rules' halves (box_operands.c): every box of operand k valid in
 * the call's box_format; and random valid boxes (a second operand shaped
 * like the first: boxes near the first's, as predictions near their
 * targets).
 */
int lossd__boxes_check(lossd_call *c, size_t k, lossd_error *err);
void lossd__boxes_sample(const lossd_call *c, size_t k, const lossd_tensor *shape, double *out,
                         uint64_t *rng);

/*
 * The same for oriented boxes (oriented.c): finite, w, h >= 0 in cxcywhr,
 * convex quadrilaterals in xyxyxyxy; the choices of box_format and the
 * numbers per box in each (what the rule rows' last axis reads).
 */
int lossd__oriented_check(lossd_call *c, size_t k, lossd_error *err);
void lossd__oriented_sample(const lossd_call *c, size_t k, const lossd_tensor *shape, double *out,
                            uint64_t *rng);
extern const char *const lossd__obox_formats[];
extern const size_t lossd__obox_lengths[];

/* ---- what kernels count ---- */

/*
 * Kernels count the NaN and infinite values they write - outputs (unless
 * the loss is reduced: its terms are summed and the sum is checked once),
 * gradients and per-term extras - while the values are still in
 * registers, and report the count with lossd__report_nonfinite. A mask
 * counts -1 per lane: tallies add masks and lossd_v_count() reads them.
 * The counts matter only when the caller asked for statistics
 * (c->want_stats): the pointwise loops below are compiled once with and
 * once without them; the row-wise and box kernels tally anyway (a few
 * operations next to a row's exponentials) and report nothing.
 */
LOSSD_INLINE bool lossd__reduced(const lossd_call *c)
{
    return c->fn->kind == LOSSD_KIND_LOSS && c->reduction != LOSSD_REDUCTION_NONE;
}

/* Adds the NaN and infinite lanes among the first n of v to *bad. */
LOSSD_INLINE void lossd__tally_nonfinite(lossd_vm *bad, lossd_vd v, size_t n)
{
    lossd_vm m = lossd_v_nonfinite(v);
    *bad += n == LOSSD_LANES ? m : m & lossd_v_first(n);
}

/* The same for the lanes of v that were written: those set in `written`. */
LOSSD_INLINE void lossd__tally_nonfinite_where(lossd_vm *bad, lossd_vd v, lossd_vm written)
{
    *bad += lossd_v_nonfinite(v) & written;
}

/*
 * Adds count to the non-finite results of the block holding unit begin
 * (block_nonfinite, see lossd__run_blocks): whoever runs a block owns its
 * slot.
 */
LOSSD_INLINE void lossd__report_nonfinite(const lossd_call *c, size_t begin, size_t count)
{
    if (c->want_stats)
        c->state->block_nonfinite[begin / c->state->block_units] += count;
}

/* ---- pointwise kernels: one loop each, specialised by an inlined element function ---- */

/*
 * A pointwise loss: elem(consts, i, x, t, &dl_dx, &dl_dt) returns the
 * losses of elements i..i+LOSSD_LANES-1 (simd.h) and their derivatives
 * with respect to the input and, for the functions whose target has a
 * gradient (LOSSD_FN_GRAD_SECOND), to the target; an element function
 * without one leaves *dl_dt as it is. `consts` is the kernel's copy of its
 * family's constants (see lossd__pointwise_loss): an element function
 * casts it to its family's type and reads its parameters there. Element
 * functions are branch-free: where PyTorch branches, they compute both
 * sides and select, so that the loop vectorises. The loop scales values by
 * the call's term_scale, folds the upstream gradient into the derivatives
 * and writes c->grad and c->grad_second when asked. A derivative nobody
 * asked for is dead code, and the compiler drops it.
 */
typedef lossd_vd (*lossd__loss_elem)(const void *consts, size_t i, lossd_vd x, lossd_vd t,
                                     lossd_vd *dl_dx, lossd_vd *dl_dt);

/*
 * Elements i..i+n-1 (n <= LOSSD_LANES) of a pointwise loss; out points at
 * element i's slot. Non-finite results are tallied only with `stats`.
 */
LOSSD_INLINE void lossd__loss_lanes(const lossd_call *restrict c, const void *restrict consts,
                                    double scale, size_t i, size_t n, double *restrict out,
                                    double *restrict grad, double *restrict grad_second,
                                    const double *grad_output, bool reduced, bool stats,
                                    lossd__loss_elem elem, lossd_vm *bad)
{
    lossd_vd dl, dt = lossd_v_set1(0.0), x = lossd_v_load_n(c->operand[0].data + i, n);
    lossd_vd y = scale * elem(consts, i, x, lossd_v_load_n(c->operand[1].data + i, n), &dl, &dt);
    lossd_v_store_n(out, y, n);
    if (stats && !reduced)
        lossd__tally_nonfinite(bad, y, n);
    /*
     * lossd__upstream(c, i, n), with grad_output decided by the caller's loop;
     * each block computes it (the compiler merges the two when both run), so
     * that without grad_second the first is the whole of it, as before it.
     */
    if (grad) {
        lossd_vd up =
            grad_output ? scale * lossd_v_load_n(grad_output + i, n) : lossd_v_set1(scale);
        lossd_vd g = up * dl;
        lossd_v_store_n(grad + i, g, n);
        if (stats)
            lossd__tally_nonfinite(bad, g, n);
    }
    if (grad_second) {
        lossd_vd up =
            grad_output ? scale * lossd_v_load_n(grad_output + i, n) : lossd_v_set1(scale);
        lossd_vd g = up * dt;
        lossd_v_store_n(grad_second + i, g, n);
        if (stats)
            lossd__tally_nonfinite(bad, g, n);
    }
}

/*
 * out, grad and grad_second are restrict: the stores cannot change the
 * call, so the compiler keeps its pointers in registers.
 */
LOSSD_INLINE void lossd__loss_loop(const lossd_call *restrict c, const void *restrict consts,
                                   size_t begin, size_t end, double *restrict out,
                                   double *restrict grad, double *restrict grad_second,
                                   const double *grad_output, bool reduced, bool stats,
                                   lossd__loss_elem elem)
{
    double scale = c->state->term_scale;
    lossd_vm bad = {0};
    size_t i = begin;
    for (; end - i >= LOSSD_LANES; i += LOSSD_LANES)
        lossd__loss_lanes(c, consts, scale, i, LOSSD_LANES, out + (i - begin), grad, grad_second,
                          grad_output, reduced, stats, elem, &bad);
    if (i < end)
        lossd__loss_lanes(c, consts, scale, i, end - i, out + (i - begin), grad, grad_second,
                          grad_output, reduced, stats, elem, &bad);
    if (stats)
        lossd__report_nonfinite(c, begin, lossd_v_count(bad));
}

/*
 * One loss loop per case, so that no element tests grad, grad_output, the
 * reduction or stats. With `second` (a constant: the element function
 * gives dl/dt) a call that wants the target's gradient takes loops of its
 * own, one test per kernel call before the others; they test grad_output
 * and the reduction per vector (invariant, predicted), which the loops
 * without it never do.
 */
LOSSD_INLINE void lossd__loss_cases(const lossd_call *c, const void *k, size_t begin, size_t end,
                                    double *out, bool stats, bool second, lossd__loss_elem elem)
{
    bool reduced = lossd__reduced(c);
    if (second && c->grad_second) {
        const double *go = !reduced && c->grad_output_set ? c->grad_output.data : NULL;
        if (c->grad == NULL)
            lossd__loss_loop(c, k, begin, end, out, NULL, c->grad_second, go, reduced, stats, elem);
        else
            lossd__loss_loop(c, k, begin, end, out, c->grad, c->grad_second, go, reduced, stats,
                             elem);
    } else if (c->grad == NULL && reduced) {
        lossd__loss_loop(c, k, begin, end, out, NULL, NULL, NULL, true, false,
                         elem); /* no counts */
    } else if (c->grad == NULL) {
        lossd__loss_loop(c, k, begin, end, out, NULL, NULL, NULL, false, stats, elem);
    } else if (reduced) {
        lossd__loss_loop(c, k, begin, end, out, c->grad, NULL, NULL, true, stats, elem);
    } else if (!c->grad_output_set) {
        lossd__loss_loop(c, k, begin, end, out, c->grad, NULL, NULL, false, stats, elem);
    } else {
        lossd__loss_loop(c, k, begin, end, out, c->grad, NULL, c->grad_output.data, false, stats,
                         elem);
    }
}

/*
 * Units [begin, end) of a pointwise loss. `consts` is the family's
 * constants as the kernel copied them onto its stack (NULL: none):
 *     regression_consts k = *LOSSD__CONSTS(c, regression_consts);
 *     return lossd__pointwise_loss(c, &k, begin, end, out, smooth_l1_elem);
 * GCC keeps a local copy's fields in registers for the whole loop; read
 * through c->state, it reloads and re-broadcasts them for every vector,
 * restrict or not (measured: smooth_l1 ran 1.2x faster from the copy).
 * lossd__pointwise_loss_dt is the same for element functions that give
 * dl/dt (LOSSD_FN_GRAD_SECOND): only they get the target's loops.
 */
LOSSD_INLINE size_t lossd__pointwise_loss(const lossd_call *c, const void *consts, size_t begin,
                                          size_t end, double *out, lossd__loss_elem elem)
{
    if (c->want_stats)
        lossd__loss_cases(c, consts, begin, end, out, true, false, elem);
    else
        lossd__loss_cases(c, consts, begin, end, out, false, false, elem);
    return 0;
}

LOSSD_INLINE size_t lossd__pointwise_loss_dt(const lossd_call *c, const void *consts, size_t begin,
                                             size_t end, double *out, lossd__loss_elem elem)
{
    if (c->want_stats)
        lossd__loss_cases(c, consts, begin, end, out, true, true, elem);
    else
        lossd__loss_cases(c, consts, begin, end, out, false, true, elem);
    return 0;
}

/*
 * A pointwise activation: elem(consts, i, x, &dy_dx, need_grad) returns y
 * of elements i..i+LOSSD_LANES-1 and their derivatives (consts: the
 * kernel's copy, as for losses). With stats, counts
 * exactly-zero derivatives (the "dead units" statistic) and non-finite
 * results; writes grad_output * dy_dx when gradients are asked for.
 * Without gradients (need_grad false) only the statistic reads dy_dx: an
 * element function may then return any values that are 0 exactly where
 * the derivative is, when that is cheaper; without the statistic either,
 * dy_dx is dead and the compiler drops it.
 */
typedef lossd_vd (*lossd__act_elem)(const void *consts, size_t i, lossd_vd x, lossd_vd *dy,
                                    bool need_grad);

/* Elements i..i+n-1 (n <= LOSSD_LANES); with stats, tallies zero derivatives and non-finite
 * results. */
LOSSD_INLINE void lossd__act_lanes(const lossd_call *restrict c, const void *restrict consts,
                                   size_t i, size_t n, double *restrict out, double *restrict grad,
                                   const double *grad_output, bool stats, lossd__act_elem elem,
                                   lossd_vm *zeros, lossd_vm *bad)
{
    lossd_vd d, y = elem(consts, i, lossd_v_load_n(c->operand[0].data + i, n), &d, grad != NULL);
    lossd_v_store_n(out, y, n);
    if (stats) {
        lossd__tally_nonfinite(bad, y, n);
        lossd_vm zero = d == 0.0;
        *zeros += n == LOSSD_LANES ? zero : zero & lossd_v_first(n); /* not the tail's padding */
    }
    if (grad) {
        lossd_vd g = grad_output ? lossd_v_load_n(grad_output + i, n) * d : d;
        lossd_v_store_n(grad + i, g, n);
        if (stats)
            lossd__tally_nonfinite(bad, g, n);
    }
}

LOSSD_INLINE size_t lossd__act_loop(const lossd_call *restrict c, const void *restrict consts,
                                    size_t begin, size_t end, double *restrict out,
                                    double *restrict grad, const double *grad_output, bool stats,
                                    lossd__act_elem elem)
{
    lossd_vm zeros = {0}, bad = {0};
    size_t i = begin;
    for (; end - i >= LOSSD_LANES; i += LOSSD_LANES)
        lossd__act_lanes(c, consts, i, LOSSD_LANES, out + (i - begin), grad, grad_output, stats,
                         elem, &zeros, &bad);
    if (i < end)
        lossd__act_lanes(c, consts, i, end - i, out + (i - begin), grad, grad_output, stats, elem,
                         &zeros, &bad);
    if (stats)
        lossd__report_nonfinite(c, begin, lossd_v_count(bad));
    return lossd_v_count(zeros);
}

LOSSD_INLINE size_t lossd__act_cases(const lossd_call *c, const void *k, size_t begin, size_t end,
                                     double *out, bool stats, lossd__act_elem elem)
{
    if (c->grad == NULL)
        return lossd__act_loop(c, k, begin, end, out, NULL, NULL, stats, elem);
    if (!c->grad_output_set)
        return lossd__act_loop(c, k, begin, end, out, c->grad, NULL, stats, elem);
    return lossd__act_loop(c, k, begin, end, out, c->grad, c->grad_output.data, stats, elem);
}

/* Units [begin, end) of a pointwise activation; consts as for lossd__pointwise_loss. */
LOSSD_INLINE size_t lossd__pointwise_activation(const lossd_call *c, const void *consts,
                                                size_t begin, size_t end, double *out,
                                                lossd__act_elem elem)
{
    return c->want_stats ? lossd__act_cases(c, consts, begin, end, out, true, elem)
                         : lossd__act_cases(c, consts, begin, end, out, false, elem);
}

/* ---- numerics shared by modules ---- */

/*
 * The pieces of a stable softmax of LOSSD_LANES rows at once (lane k: row
 * k of x, rows n apart; lanes past n_rows read zeros), as ATen computes
 * them: softmax(x)_j = exp(x_j - max) / sum, log_softmax(x)_j = (x_j -
 * max) - log(sum), with sum = sum_k exp(x_k - max). Each lane adds its
 * row's terms in order. When exps is not NULL, exp(x_j - max) is also
 * written there (same layout as x, n_rows rows). lossd__softmax_strided
 * is the same for rows whose entry j lies j * step from their first, and
 * whose first entries lie lane_step apart (softmax's `dim`).
 */
LOSSD_INLINE void lossd__softmax_strided(const double *x, size_t n, size_t step, size_t lane_step,
                                         size_t n_rows, lossd_vd *max, lossd_vd *sum, double *exps)
{
    lossd_vd m = lossd_v_set1(-INFINITY);
    for (size_t j = 0; j < n; j++) {
        lossd_vd xj = lossd_v_gather(x + j * step, lane_step, n_rows);
        m = lossd_v_select(xj > m, xj, m); /* a NaN never wins: the sum below carries it */
    }
    lossd_vd s = lossd_v_set1(0.0);
    for (size_t j = 0; j < n; j++) {
        lossd_vd e = lossd_v_exp(lossd_v_gather(x + j * step, lane_step, n_rows) - m);
        if (exps)
            lossd_v_scatter(exps + j * step, lane_step, e, n_rows);
        s += e;
    }
    *max = m;
    *sum = s;
}

LOSSD_INLINE void lossd__softmax_rows(const double *x, size_t n, size_t n_rows, lossd_vd *max,
                                      lossd_vd *sum, double *exps)
{
    lossd__softmax_strided(x, n, 1, n, n_rows, max, sum, exps);
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

/* The same, one running sum per lane, branch-free: lane k gives what lossd__sum gives. */
typedef struct {
    lossd_vd sum, comp;
} lossd__sum_lanes;

LOSSD_INLINE void lossd__sum_lanes_add(lossd__sum_lanes *s, lossd_vd x)
{
    lossd_vd t = s->sum + x;
    s->comp +=
        lossd_v_select(lossd_v_abs(s->sum) >= lossd_v_abs(x), (s->sum - t) + x, (x - t) + s->sum);
    s->sum = t;
}

LOSSD_INLINE lossd_vd lossd__sum_lanes_value(const lossd__sum_lanes *s)
{
    return lossd_v_select(lossd_v_nonfinite(s->sum), s->sum, s->sum + s->comp);
}

#endif /* LOSSD_CORE_INTERNAL_H */
