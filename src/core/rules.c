/* SPDX-License-Identifier: MIT */
/*
 * rules.c - the rule table: what each kind of operand may be.
 *
 * A row says, as data, the shape an operand may take (its ranks, the
 * length of its last axis - fixed, at least, or by a box_format choice -,
 * whether it is one value per row of the first operand, whether [] is an
 * empty batch), the values it may hold, and what clients need to build it
 * (metadata shape, examples). Its private half (internal.h) holds the
 * value check and the sampler of the rule. call.c checks every operand
 * through here; the catalog, the inference models, the bench and the
 * tests read the rows: no one else switches on a rule. A new kind of
 * operand is a new row (and, if its values need one, a check and a
 * sampler in the module that knows them - box_operands.c for boxes).
 *
 * Thread-safe: the table is immutable.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* ---------------------------------------------------------------- value checks */

static const char *operand_name(const lossd_call *c, size_t k)
{
    return c->fn->operands[k].name;
}

/* The twin of a whole-operand scan (scan.c) this CPU runs. */
static bool scan_range(const double *x, size_t n, double lo, double hi)
{
#if LOSSD_SIMD_HAVE_AVX2
    if (lossd__simd_avx2())
        return lossd__scan_range_avx2(x, n, lo, hi);
#endif
    return lossd__scan_range(x, n, lo, hi);
}

static size_t scan_class_indices(const double *x, size_t n, double n_classes, double ignore_index,
                                 bool *all_good)
{
#if LOSSD_SIMD_HAVE_AVX2
    if (lossd__simd_avx2())
        return lossd__scan_class_indices_avx2(x, n, n_classes, ignore_index, all_good);
#endif
    return lossd__scan_class_indices(x, n, n_classes, ignore_index, all_good);
}

/* The index of operand k's first value outside [lo, hi] (NaN is outside), or its size. */
static size_t first_outside(const lossd_call *c, size_t k, double lo, double hi)
{
    const lossd_tensor *t = &c->operand[k];
    if (scan_range(t->data, t->size, lo, hi))
        return t->size;
    /* only the first bad one pays for a scalar look */
    size_t i = 0;
    while (i < t->size && t->data[i] >= lo && t->data[i] <= hi)
        i++;
    return i;
}

int lossd__check_probabilities(const lossd_call *c, size_t k, lossd_error *err)
{
    const lossd_tensor *t = &c->operand[k];
    size_t i = first_outside(c, k, 0.0, 1.0);
    if (i == t->size)
        return 0;
    char path[LOSSD_FIELD_MAX];
    lossd__path(path, sizeof path, operand_name(c, k), t, i, -1);
    return lossd__fail(err, LOSSD_EINVAL, path, "%s is not a probability in [0, 1]",
                       LOSSD__SHORTEST(t->data[i]));
}

static int check_probabilities(lossd_call *c, size_t k, lossd_error *err)
{
    return lossd__check_probabilities(c, k, err);
}

/* kl_div's targets: probabilities, unless they are given as their logarithms. */
static int check_probabilities_or_logs(lossd_call *c, size_t k, lossd_error *err)
{
    const char *param = lossd__operand_rule(c, k)->log_param;
    return lossd__param_bool(c, param) ? 0 : lossd__check_probabilities(c, k, err);
}

/* dfl's targets: reals in [0, C - 1], the span of the bins' centres. */
static int check_bin_targets(lossd_call *c, size_t k, lossd_error *err)
{
    const lossd_tensor *t = &c->operand[k];
    size_t n_classes = c->state->n_classes;
    size_t i = first_outside(c, k, 0.0, (double)n_classes - 1);
    if (i == t->size)
        return 0;
    char path[LOSSD_FIELD_MAX];
    lossd__path(path, sizeof path, operand_name(c, k), t, i, -1);
    return lossd__fail(err, LOSSD_EINVAL, path, "%s is outside the bins' range [0, %zu]",
                       LOSSD__SHORTEST(t->data[i]), n_classes - 1);
}

/*
 * Class indices; also counts the kept (not ignored) ones into the state's
 * n_kept. Read as probabilities (or_like_first), they are checked as such.
 */
static int check_class_indices(lossd_call *c, size_t k, lossd_error *err)
{
    if (c->prob_target)
        return lossd__check_probabilities(c, k, err);
    const lossd_tensor *t = &c->operand[k];
    size_t n_classes = c->state->n_classes;
    bool has_ignore = lossd__param_index(c->fn, "ignore_index") >= 0;
    double ignore_index = lossd__param_number_or(c, "ignore_index", NAN);
    bool all_good;
    c->state->n_kept =
        scan_class_indices(t->data, t->size, (double)n_classes, ignore_index, &all_good);
    if (n_classes > 0 && all_good)
        return 0;
    /* Look for the first bad one; only it pays for its path. */
    for (size_t i = 0; i < t->size; i++) {
        double x = t->data[i];
        if (x == ignore_index || (x == floor(x) && x >= 0 && x < (double)n_classes))
            continue;
        char path[LOSSD_FIELD_MAX];
        lossd__path(path, sizeof path, operand_name(c, k), t, i, -1);
        if (x != floor(x) || !isfinite(x))
            return lossd__fail(err, LOSSD_EINVAL, path, "%s is not a class index",
                               LOSSD__SHORTEST(x));
        return lossd__fail(err, LOSSD_EINVAL, path, "class index %s is out of range [0, %zu)%s",
                           LOSSD__SHORTEST(x), n_classes,
                           has_ignore ? " and is not ignore_index" : "");
    }
    return 0;
}

/* ---------------------------------------------------------------- samplers */

static void sample_uniform(double *out, size_t n, double lo, double hi, uint64_t *rng)
{
    for (size_t i = 0; i < n; i++)
        out[i] = lossd__rng_uniform(rng, lo, hi);
}

static void sample_any(const lossd_call *c, size_t k, const lossd_tensor *shape, double *out,
                       uint64_t *rng)
{
    (void)c, (void)k;
    sample_uniform(out, shape->size, -4.0, 4.0, rng);
}

/* Inside (0, 1): bce's logs stay away from their -100 clamp. */
static void sample_probabilities(const lossd_call *c, size_t k, const lossd_tensor *shape,
                                 double *out, uint64_t *rng)
{
    (void)c, (void)k;
    sample_uniform(out, shape->size, 0.01, 0.99, rng);
}

static void sample_probabilities_or_logs(const lossd_call *c, size_t k, const lossd_tensor *shape,
                                         double *out, uint64_t *rng)
{
    sample_probabilities(c, k, shape, out, rng);
    if (lossd__param_bool(c, lossd__operand_rule(c, k)->log_param))
        for (size_t i = 0; i < shape->size; i++)
            out[i] = log(out[i]);
}

/* The number of classes the call's first operand has (its last axis). */
static size_t classes_of_first(const lossd_call *c)
{
    return lossd__row_len(&c->operand[0]);
}

static void sample_class_indices(const lossd_call *c, size_t k, const lossd_tensor *shape,
                                 double *out, uint64_t *rng)
{
    const lossd_tensor *first = &c->operand[0];
    if (lossd__same_shape(shape, first) && first->size > 1) { /* probabilities (or_like_first) */
        sample_probabilities(c, k, shape, out, rng);
        return;
    }
    size_t n_classes = classes_of_first(c);
    for (size_t i = 0; i < shape->size; i++)
        out[i] = (double)(lossd__rng_next(rng) % (n_classes ? n_classes : 1));
}

static void sample_bin_targets(const lossd_call *c, size_t k, const lossd_tensor *shape,
                               double *out, uint64_t *rng)
{
    (void)k;
    size_t n_classes = classes_of_first(c);
    sample_uniform(out, shape->size, 0.0, n_classes ? (double)(n_classes - 1) : 0.0, rng);
}

/* Rows of positive numbers, each divided by its sum. */
static void sample_distributions(const lossd_call *c, size_t k, const lossd_tensor *shape,
                                 double *out, uint64_t *rng)
{
    (void)c, (void)k;
    size_t len = lossd__row_len(shape), n_rows = lossd__n_rows(shape);
    for (size_t i = 0; i < n_rows; i++) {
        double *row = out + i * len, sum = 0;
        for (size_t j = 0; j < len; j++)
            sum += row[j] = lossd__rng_uniform(rng, 0.01, 1.0);
        for (size_t j = 0; j < len; j++)
            row[j] /= sum;
    }
}

/* ---------------------------------------------------------------- the table */

/* The box losses' block sizing: a pair of boxes costs about as much as 16 elements. */
#define BOX_PAIR_COST 16
/* An oriented pair: a clipping and its gradient, or a Gaussian's logarithms and roots. */
#define ORIENTED_PAIR_COST 64
/* What the two oriented rows share: a last axis by box_format, the values and their check. */
#define ORIENTED_LAST_AXIS                                                                  \
    {                                                                                       \
        .param = "box_format", .choices = lossd__obox_formats, .sizes = lossd__obox_lengths \
    }
#define ORIENTED_VALUES_TEXT                                                                   \
    "oriented boxes valid in box_format: finite, w, h >= 0 (cxcywhr); a convex quadrilateral " \
    "(xyxyxyxy)"
#define ORIENTED_IMPL \
    LOSSD__RULE_IMPL(.check = lossd__oriented_check, .sample = lossd__oriented_sample)

static const lossd_rule rules[LOSSD_RULE_COUNT] = {
    [LOSSD_RULE_NONE] = {.id = LOSSD_RULE_NONE, .name = "none", .noun = "nothing"},
    [LOSSD_RULE_ANY] = {.id = LOSSD_RULE_ANY,
                        .name = "any",
                        .noun = "numbers",
                        .shape_text = "any shape",
                        .min_rank = 0,
                        .max_rank = LOSSD_MAX_RANK,
                        .values = "any",
                        .values_text = "any numbers",
                        .meta_rank = 1,
                        .meta_shape = {-1, -1},
                        .examples = {"[-1.5, -0.25, 0.0, 0.75, 2.0]", "[0.0, 0.25, 0.5, 0.5, 1.0]"},
                        .impl = LOSSD__RULE_IMPL(.sample = sample_any)},
    [LOSSD_RULE_PROBABILITIES] = {.id = LOSSD_RULE_PROBABILITIES,
                                  .name = "probabilities",
                                  .noun = "probabilities",
                                  .shape_text = "any shape",
                                  .min_rank = 0,
                                  .max_rank = LOSSD_MAX_RANK,
                                  .values = "range",
                                  .lo = 0,
                                  .hi = 1,
                                  .values_text = "probabilities in [0, 1]",
                                  .meta_rank = 1,
                                  .meta_shape = {-1, -1},
                                  .examples = {"[0.1, 0.3, 0.5, 0.7, 0.9]",
                                               "[0.0, 1.0, 0.5, 1.0, 0.0]"},
                                  .impl = LOSSD__RULE_IMPL(.check = check_probabilities,
                                                           .sample = sample_probabilities)},
    [LOSSD_RULE_PROBABILITIES_OR_LOGS] =
        {.id = LOSSD_RULE_PROBABILITIES_OR_LOGS,
         .name = "probabilities_or_logs",
         .noun = "probabilities",
         .shape_text = "any shape",
         .min_rank = 0,
         .max_rank = LOSSD_MAX_RANK,
         .values = "range",
         .lo = 0,
         .hi = 1,
         .values_text = "probabilities in [0, 1]; their logarithms with log_target",
         .log_param = "log_target",
         .meta_rank = 1,
         .meta_shape = {-1, -1},
         .examples = {"[0.1, 0.3, 0.5, 0.7, 0.9]", "[0.0, 0.25, 0.5, 0.5, 1.0]"},
         .impl = LOSSD__RULE_IMPL(.check = check_probabilities_or_logs,
                                  .sample = sample_probabilities_or_logs)},
    [LOSSD_RULE_SCORES] = {.id = LOSSD_RULE_SCORES,
                           .name = "scores",
                           .noun = "scores",
                           .shape_text = "(N, C) or (C) with C >= 1",
                           .min_rank = 1,
                           .max_rank = 2,
                           .empty_batch = true,
                           .last_axis = {.min = 1},
                           .counts_classes = true,
                           .per_row = true,
                           .values = "any",
                           .values_text = "any numbers",
                           .meta_rank = 2,
                           .meta_shape = {-1, -1},
                           .examples = {"[[2.0, 0.5, -1.0], [0.1, 0.2, 1.5]]", NULL},
                           .impl = LOSSD__RULE_IMPL(.sample = sample_any)},
    [LOSSD_RULE_CLASS_INDICES] = {.id = LOSSD_RULE_CLASS_INDICES,
                                  .name = "class_indices",
                                  .noun = "class indices",
                                  .unit = "class index",
                                  .shape_text = "(N) for scores (N, C), () for (C)",
                                  .rows_of_first = true,
                                  .values = "class_index",
                                  .values_text = "whole numbers in [0, C), or ignore_index",
                                  .integers = true,
                                  .meta_rank = 1,
                                  .meta_shape = {-1, -1},
                                  .examples = {NULL, "[0, 2]"},
                                  .impl = LOSSD__RULE_IMPL(.check = check_class_indices,
                                                           .sample = sample_class_indices)},
    [LOSSD_RULE_CLASS_OR_PROB] =
        {.id = LOSSD_RULE_CLASS_OR_PROB,
         .name = "class_indices_or_probabilities",
         .noun = "class indices",
         .unit = "class index",
         .shape_text = "(N) for scores (N, C), () for (C); or the scores' shape",
         .rows_of_first = true,
         .values = "class_index",
         .values_text = "whole numbers in [0, C), or ignore_index; shaped like the scores, "
                        "probabilities in [0, 1]",
         .integers = true,
         .or_like_first = true,
         .meta_rank = 1,
         .meta_shape = {-1, -1},
         .examples = {NULL, "[0, 2]"},
         .impl = LOSSD__RULE_IMPL(.check = check_class_indices, .sample = sample_class_indices)},
    [LOSSD_RULE_BIN_TARGETS] = {.id = LOSSD_RULE_BIN_TARGETS,
                                .name = "bin_targets",
                                .noun = "bin targets",
                                .unit = "bin target",
                                .shape_text = "(N) for scores (N, C), () for (C)",
                                .rows_of_first = true,
                                .values = "bin_index",
                                .values_text = "reals in [0, C - 1]",
                                .meta_rank = 1,
                                .meta_shape = {-1, -1},
                                .examples = {NULL, "[0.5, 1.75]"},
                                .impl = LOSSD__RULE_IMPL(.check = check_bin_targets,
                                                         .sample = sample_bin_targets)},
    [LOSSD_RULE_BOXES] = {.id = LOSSD_RULE_BOXES,
                          .name = "boxes",
                          .noun = "boxes",
                          .unit = "box",
                          .shape_text = "(..., 4)",
                          .min_rank = 1,
                          .max_rank = LOSSD_MAX_RANK,
                          .empty_batch = true,
                          .last_axis = {.size = 4},
                          .per_row = true,
                          .unit_cost = BOX_PAIR_COST,
                          .values = "box",
                          .values_text = "boxes valid in box_format",
                          .meta_rank = 2,
                          .meta_shape = {-1, 4},
                          .examples = {"[[0.0, 0.0, 2.0, 1.0], [1.0, 1.0, 3.0, 4.0]]",
                                       "[[0.0, 0.0, 1.0, 2.0], [2.0, 0.0, 4.0, 3.0]]"},
                          .impl = LOSSD__RULE_IMPL(.check = lossd__boxes_check,
                                                   .sample = lossd__boxes_sample,
                                                   .empty_mean_zero = true)},
    [LOSSD_RULE_BOX_LIST] =
        {.id = LOSSD_RULE_BOX_LIST,
         .name = "box_list",
         .noun = "boxes",
         .unit = "box",
         .shape_text = "(N, 4), or one box (4)",
         .min_rank = 1,
         .max_rank = 2,
         .empty_batch = true,
         .last_axis = {.size = 4},
         .values = "box",
         .values_text = "boxes valid in box_format",
         .meta_rank = 2,
         .meta_shape = {-1, 4},
         .examples = {"[[0.0, 0.0, 2.0, 1.0], [1.0, 1.0, 3.0, 4.0]]",
                      "[[0.0, 0.0, 1.0, 2.0], [2.0, 0.0, 4.0, 3.0], [1.0, 1.0, 2.0, 2.0]]"},
         .impl = LOSSD__RULE_IMPL(.check = lossd__boxes_check, .sample = lossd__boxes_sample)},
    [LOSSD_RULE_DISTRIBUTIONS] = {.id = LOSSD_RULE_DISTRIBUTIONS,
                                  .name = "distributions",
                                  .noun = "distributions",
                                  .shape_text = "(K) or (N, K) with K >= 1",
                                  .min_rank = 1,
                                  .max_rank = 2,
                                  .last_axis = {.min = 1},
                                  .values = "range",
                                  .lo = 0,
                                  .hi = 1,
                                  .values_text = "probabilities in [0, 1] summing to 1 along K",
                                  .meta_rank = 2,
                                  .meta_shape = {-1, -1},
                                  .examples = {"[0.5, 0.25, 0.25]", "[0.25, 0.25, 0.5]"},
                                  .impl = LOSSD__RULE_IMPL(.sample = sample_distributions)},
    [LOSSD_RULE_ORIENTED_BOXES] =
        {.id = LOSSD_RULE_ORIENTED_BOXES,
         .name = "oriented_boxes",
         .noun = "oriented boxes",
         .unit = "box",
         .shape_text = "(..., 5) in cxcywhr, (..., 8) in xyxyxyxy",
         .min_rank = 1,
         .max_rank = LOSSD_MAX_RANK,
         .empty_batch = true,
         .last_axis = ORIENTED_LAST_AXIS,
         .per_row = true,
         .unit_cost = ORIENTED_PAIR_COST,
         .values = "oriented_box",
         .values_text = ORIENTED_VALUES_TEXT,
         .meta_rank = 2,
         .meta_shape = {-1, -1},
         .examples = {"[[0.0, 0.0, 2.0, 1.0, 0.3], [1.0, 1.0, 1.0, 2.0, -0.5]]",
                      "[[0.5, 0.2, 1.5, 1.0, -0.4], [1.5, 1.0, 1.0, 2.0, 0.5]]"},
         .impl = ORIENTED_IMPL},
    [LOSSD_RULE_ORIENTED_LIST] =
        {.id = LOSSD_RULE_ORIENTED_LIST,
         .name = "oriented_box_list",
         .noun = "oriented boxes",
         .unit = "box",
         .shape_text = "(N, 5) or one box (5) in cxcywhr, (N, 8) or (8) in xyxyxyxy",
         .min_rank = 1,
         .max_rank = 2,
         .empty_batch = true,
         .last_axis = ORIENTED_LAST_AXIS,
         .values = "oriented_box",
         .values_text = ORIENTED_VALUES_TEXT,
         .meta_rank = 2,
         .meta_shape = {-1, -1},
         .examples = {"[[0.0, 0.0, 2.0, 1.0, 0.3], [1.0, 1.0, 1.0, 2.0, -0.5]]",
                      "[[0.5, 0.2, 1.5, 1.0, -0.4], [1.5, 1.0, 1.0, 2.0, 0.5], "
                      "[4.0, 4.0, 1.0, 1.0, 0.0]]"},
         .impl = ORIENTED_IMPL},
};

const lossd_rule *lossd_rule_get(lossd_rule_id id)
{
    return (unsigned)id < LOSSD_RULE_COUNT ? &rules[id] : &rules[LOSSD_RULE_NONE];
}

const lossd_rule *lossd__operand_rule(const lossd_call *c, size_t k)
{
    return lossd_rule_get(c->fn->operands[k].rule);
}

/* ---------------------------------------------------------------- shapes */

/* An empty JSON array reads as shape (0); it stands for an empty batch. */
static bool is_empty_list(const lossd_tensor *t)
{
    return t->rank == 1 && t->shape[0] == 0;
}

size_t lossd_rule_axis_length(const lossd_rule *rule, const char *choice)
{
    const lossd_axis_rule *axis = &rule->last_axis;
    if (axis->param == NULL)
        return axis->size;
    for (size_t i = 0; choice && axis->choices[i]; i++)
        if (strcmp(axis->choices[i], choice) == 0)
            return axis->sizes[i];
    return 0;
}

size_t lossd_operand_default_axis(const lossd_function *fn, size_t k)
{
    const lossd_rule *rule = lossd_rule_get(fn->operands[k].rule);
    const char *param = rule->last_axis.param;
    const lossd_param_spec *spec = param ? lossd_function_param(fn, param) : NULL;
    return lossd_rule_axis_length(rule, spec ? spec->choices[0] : NULL);
}

size_t lossd__rule_last_axis(const lossd_call *c, const lossd_rule *rule)
{
    const lossd_axis_rule *axis = &rule->last_axis;
    if (axis->param == NULL || lossd__param_index(c->fn, axis->param) < 0)
        return axis->size;
    const lossd_param_spec *spec = lossd_function_param(c->fn, axis->param);
    return lossd_rule_axis_length(rule, spec->choices[lossd__param_choice(c, axis->param)]);
}

static int shape_error(const lossd_call *c, size_t k, const char *want, lossd_error *err)
{
    char have[96];
    return lossd__fail(err, LOSSD_EINVAL, operand_name(c, k), "expected %s, got shape %s", want,
                       lossd__shape_text(have, sizeof have, &c->operand[k]));
}

/* One value per row of the first operand: its shape without the last axis. */
static int check_rows_of_first(lossd_call *c, size_t k, const lossd_rule *rule, lossd_error *err)
{
    const lossd_tensor *t = &c->operand[k], *first = &c->operand[0];
    bool ok = is_empty_list(first) ? is_empty_list(t) : t->rank == first->rank - 1;
    for (int d = 0; ok && d < t->rank; d++)
        ok = t->shape[d] == first->shape[d];
    if (ok)
        return 0;
    char want[160], leading[64];
    const char *or_like = rule->or_like_first ? " or probabilities shaped like " : "";
    const char *first_name = rule->or_like_first ? operand_name(c, 0) : "";
    if (first->rank >= 2)
        snprintf(want, sizeof want, "%s of shape %s%s%s", rule->noun,
                 lossd_shape_text(leading, sizeof leading, first->rank - 1, first->shape), or_like,
                 first_name);
    else
        snprintf(want, sizeof want, "one %s (a number)%s%s", rule->unit, or_like, first_name);
    return shape_error(c, k, want, err);
}

int lossd__rule_check_shape(lossd_call *c, size_t k, lossd_error *err)
{
    const lossd_operand_spec *op = &c->fn->operands[k];
    const lossd_rule *rule = lossd_rule_get(op->rule);
    const lossd_tensor *t = &c->operand[k], *first = &c->operand[0];
    char want[96], have[96];
    if (op->rule == LOSSD_RULE_NONE)
        return 0;
    if (k > 0 && (op->flags & LOSSD_OPERAND_LIKE_INPUT)) {
        if (!lossd__same_shape(t, first))
            return lossd__fail(err, LOSSD_EINVAL, operand_name(c, k),
                               "shape %s does not match %s's shape %s",
                               lossd__shape_text(have, sizeof have, t), operand_name(c, 0),
                               lossd__shape_text(want, sizeof want, first));
        return 0;
    }
    if (k > 0 && rule->or_like_first && lossd__same_shape(t, first) && !is_empty_list(first)) {
        c->prob_target = true; /* probabilities, not class indices */
        return 0;
    }
    if (rule->rows_of_first)
        return check_rows_of_first(c, k, rule, err);
    if (rule->empty_batch && is_empty_list(t))
        return 0; /* C stays 0 */
    snprintf(want, sizeof want, "%s of shape %s", rule->noun, rule->shape_text);
    if (t->rank < rule->min_rank || t->rank > rule->max_rank)
        return shape_error(c, k, want, err);
    size_t len = t->rank ? t->shape[t->rank - 1] : 1, need = lossd__rule_last_axis(c, rule);
    if (need && len != need) {
        char by[80] = ""; /* a length that follows a parameter says which choice wants it */
        const char *param = rule->last_axis.param;
        if (param && lossd__param_index(c->fn, param) >= 0)
            snprintf(by, sizeof by, " (%s %s)", param,
                     lossd_function_param(c->fn, param)->choices[lossd__param_choice(c, param)]);
        if (t->rank >= 2 && rule->unit)
            return lossd__fail(err, LOSSD_EINVAL, operand_name(c, k),
                               "expected %s of %zu numbers%s, got %zu per %s", rule->noun, need, by,
                               len, rule->unit);
        return shape_error(c, k, want, err);
    }
    if (len < rule->last_axis.min)
        return shape_error(c, k, want, err);
    if (rule->counts_classes)
        c->state->n_classes = len;
    return 0;
}

int lossd__rule_check_values(lossd_call *c, size_t k, lossd_error *err)
{
    const lossd_rule *rule = lossd__operand_rule(c, k);
    return rule->impl && rule->impl->check ? rule->impl->check(c, k, err) : 0;
}

int lossd_call_sample_operand(const lossd_call *c, size_t k, int rank, const size_t *shape,
                              double *out, unsigned long long *seed)
{
    if (k > 1 || c->fn->operands[k].rule == LOSSD_RULE_NONE)
        return LOSSD_ENOENT;
    const lossd_rule *rule = lossd__operand_rule(c, k);
    lossd_tensor t;
    int rc = lossd_tensor_view(&t, NULL, rank, shape);
    if (rc < 0)
        return rc;
    uint64_t state = *seed ? *seed : 0x9E3779B97F4A7C15ull;
    rule->impl->sample(c, k, &t, out, &state);
    *seed = state;
    return 0;
}
