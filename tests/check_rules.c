/* SPDX-License-Identifier: MIT */
/*
 * check_rules.c - the rule table (src/core/rules.c): its rows are
 * consistent, every registry operand names one, each rule's sampler makes
 * values its own checks accept (for every function, several draws and
 * shapes), and each rule refuses the shapes it says it refuses, with the
 * operand named - all read from the rows, so a new row is tested as soon
 * as it exists.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

START_TEST(rows_are_consistent)
{
    static const char *const kinds[] = {"any", "range",        "class_index", "bin_index",
                                        "box", "oriented_box", NULL};
    for (int id = 0; id < LOSSD_RULE_COUNT; id++) {
        const lossd_rule *r = lossd_rule_get((lossd_rule_id)id);
        ck_assert_int_eq(r->id, id);
        ck_assert_ptr_nonnull(r->name);
        for (int other = 0; other < id; other++)
            ck_assert_str_ne(r->name, lossd_rule_get((lossd_rule_id)other)->name);
        if (id == LOSSD_RULE_NONE)
            continue;
        ck_assert_msg(r->noun && r->shape_text && r->values && r->values_text, "%s", r->name);
        bool known = false;
        for (size_t k = 0; kinds[k]; k++)
            known |= strcmp(kinds[k], r->values) == 0;
        ck_assert_msg(known, "%s: values kind %s", r->name, r->values);
        if (strcmp(r->values, "range") == 0)
            ck_assert_msg(r->lo <= r->hi, "%s", r->name);
        if (!r->rows_of_first)
            ck_assert_msg(0 <= r->min_rank && r->min_rank <= r->max_rank &&
                              r->max_rank <= LOSSD_MAX_RANK,
                          "%s: ranks %d..%d", r->name, r->min_rank, r->max_rank);
        if (r->last_axis.param)
            for (size_t i = 0; r->last_axis.choices[i]; i++)
                ck_assert_uint_gt(r->last_axis.sizes[i], 0);
        ck_assert_msg(r->meta_rank >= 1 && r->meta_rank <= 2, "%s", r->name);
        ck_assert_msg(r->examples[0] || r->examples[1], "%s has no example", r->name);
        ck_assert_msg(r->impl != NULL, "%s has no sampler", r->name);
    }
    ck_assert_str_eq(lossd_rule_get(LOSSD_RULE_COUNT)->name, "none"); /* out of range: none */
}
END_TEST

START_TEST(every_operand_names_a_row)
{
    for (size_t i = 0; i < lossd_function_count(); i++) {
        const lossd_function *fn = lossd_function_at(i);
        ck_assert_msg(fn->operands[0].rule > LOSSD_RULE_NONE &&
                          fn->operands[0].rule < LOSSD_RULE_COUNT,
                      "%s: operand 0", fn->name);
        ck_assert_msg(!(fn->operands[0].flags & LOSSD_OPERAND_LIKE_INPUT), "%s", fn->name);
        ck_assert_msg(!lossd_rule_get(fn->operands[0].rule)->rows_of_first, "%s", fn->name);
        ck_assert_msg(lossd_rule_get(fn->operands[0].rule)->examples[0],
                      "%s: its first operand's rule has no first example", fn->name);
        if (fn->operands[1].rule != LOSSD_RULE_NONE)
            ck_assert_msg(lossd_rule_get(fn->operands[1].rule)->examples[1],
                          "%s: its second operand's rule has no second example", fn->name);
        const lossd_rule *first = lossd_rule_get(fn->operands[0].rule);
        if (first->last_axis.param)
            ck_assert_msg(lossd_function_param(fn, first->last_axis.param) != NULL,
                          "%s: its boxes' length follows %s, which it does not take", fn->name,
                          first->last_axis.param);
    }
}
END_TEST

/* Shapes for operand 0 and 1 of fn with n items, as the rules ask (the bench's way). */
static void shapes_for(const lossd_function *fn, size_t n, int rank[2], size_t shape[2][2])
{
    const lossd_rule *first = lossd_rule_get(fn->operands[0].rule);
    const lossd_rule *second = lossd_rule_get(fn->operands[1].rule);
    size_t len = lossd_operand_default_axis(fn, 0);
    if (len == 0 && (first->last_axis.min || first->max_rank == 2))
        len = 3; /* rows of 3: scores, distributions */
    rank[0] = len ? 2 : 1;
    shape[0][0] = n;
    shape[0][1] = len;
    memcpy(shape[1], shape[0], sizeof shape[1]);
    rank[1] = second->rows_of_first ? rank[0] - 1 : rank[0];
    if (fn->kind == LOSSD_KIND_PAIRWISE)
        shape[1][0] = n + 2;
}

/* Prepares fn on sampled operands; returns prepare's status, err its error. */
static int prepare_sampled(const lossd_function *fn, size_t n, unsigned long long *seed,
                           double *data[2], lossd_error *err)
{
    int rank[2];
    size_t shape[2][2];
    shapes_for(fn, n, rank, shape);
    lossd_call c;
    lossd_call_init(&c, fn);
    for (size_t i = 0; i < fn->n_params; i++)
        if (fn->params[i].required) /* prelu's weight: one number */
            ck_assert_int_eq(lossd_call_set_number(&c, fn->params[i].name, 0.25, err), 0);
    for (size_t k = 0; k < 2 && fn->operands[k].rule != LOSSD_RULE_NONE; k++) {
        lossd_tensor t;
        ck_assert_int_eq(lossd_tensor_view(&t, NULL, rank[k], shape[k]), 0);
        data[k] = realloc(data[k], (t.size ? t.size : 1) * sizeof(double));
        ck_assert_int_eq(lossd_call_sample_operand(&c, k, rank[k], shape[k], data[k], seed), 0);
        t.data = data[k];
        ck_assert_int_eq(lossd_call_set_operand(&c, fn->operands[k].name, &t, err), 0);
    }
    int rc = lossd_call_prepare(&c, err);
    lossd_call_cleanup(&c);
    return rc;
}

START_TEST(sampled_operands_validate)
{
    static const size_t sizes[] = {1, 2, 7, 64};
    double *data[2] = {NULL, NULL};
    unsigned long long seed = 12345;
    for (size_t i = 0; i < lossd_function_count(); i++) {
        const lossd_function *fn = lossd_function_at(i);
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++)
            for (int draw = 0; draw < 5; draw++) {
                lossd_error err = {0};
                ck_assert_msg(prepare_sampled(fn, sizes[s], &seed, data, &err) == 0,
                              "%s/%s, %zu items: %s", lossd_kind_name(fn->kind), fn->name, sizes[s],
                              err.message);
            }
        /* the draws differ: a sampler is not a constant */
        lossd_error err = {0};
        ck_assert_int_eq(prepare_sampled(fn, 64, &seed, data, &err), 0);
        double first = data[0][0];
        bool varied = false;
        for (size_t j = 1; j < 64 && !varied; j++)
            varied = data[0][j] != first;
        ck_assert_msg(varied, "%s: 64 sampled values are all %g", fn->name, first);
    }
    free(data[0]);
    free(data[1]);
    unsigned long long zero = 0;
    lossd_call c;
    lossd_call_init(&c, must_find(LOSSD_KIND_ACTIVATION, "relu"));
    size_t one = 1;
    double x;
    ck_assert_int_eq(lossd_call_sample_operand(&c, 1, 1, &one, &x, &zero), LOSSD_ENOENT);
    lossd_call_cleanup(&c);
}
END_TEST

/* Prepares fn with operand k replaced by zeros of the given shape; the rest sampled. */
static int prepare_with_shape(const lossd_function *fn, size_t k, int rank, const size_t *shape,
                              lossd_error *err)
{
    int ranks[2];
    size_t shapes[2][2];
    shapes_for(fn, 4, ranks, shapes);
    double good[2][64] = {{0}}, bad[256] = {0};
    unsigned long long seed = 7;
    lossd_call c;
    lossd_call_init(&c, fn);
    for (size_t i = 0; i < fn->n_params; i++)
        if (fn->params[i].required)
            lossd_call_set_number(&c, fn->params[i].name, 0.25, err);
    for (size_t j = 0; j < 2 && fn->operands[j].rule != LOSSD_RULE_NONE; j++) {
        lossd_tensor t;
        if (j == k)
            lossd_tensor_view(&t, bad, rank, shape);
        else {
            lossd_tensor_view(&t, good[j], ranks[j], shapes[j]);
            lossd_call_sample_operand(&c, j, ranks[j], shapes[j], good[j], &seed);
        }
        lossd_call_set_operand(&c, fn->operands[j].name, &t, err);
    }
    int rc = lossd_call_prepare(&c, err);
    lossd_call_cleanup(&c);
    return rc;
}

START_TEST(rules_refuse_what_they_say)
{
    for (size_t i = 0; i < lossd_function_count(); i++) {
        const lossd_function *fn = lossd_function_at(i);
        for (size_t k = 0; k < 2 && fn->operands[k].rule != LOSSD_RULE_NONE; k++) {
            const lossd_rule *r = lossd_rule_get(fn->operands[k].rule);
            const char *name = fn->operands[k].name;
            lossd_error err = {0};
            if (k == 1 &&
                ((fn->operands[1].flags & LOSSD_OPERAND_LIKE_INPUT) || r->rows_of_first)) {
                /* one more row than the first operand has */
                size_t shape[2] = {5, 4};
                ck_assert_msg(prepare_with_shape(fn, k, 1, shape, &err) == LOSSD_EINVAL,
                              "%s: %s of shape (5)", fn->name, name);
                ck_assert_str_eq(err.field, name);
                continue;
            }
            size_t len = lossd_operand_default_axis(fn, k);
            if (len) { /* one number short per item */
                size_t shape[2] = {2, len - 1};
                ck_assert_msg(prepare_with_shape(fn, k, 2, shape, &err) == LOSSD_EINVAL,
                              "%s: %s of (2, %zu)", fn->name, name, len - 1);
                ck_assert_str_eq(err.field, name);
            }
            if (r->max_rank < LOSSD_MAX_RANK) { /* a rank too many */
                size_t shape[LOSSD_MAX_RANK] = {1, 1, 1, 1, 1, 1, 1, 1};
                for (int d = 0; d < r->max_rank + 1; d++)
                    shape[d] = d == r->max_rank ? (len ? len : 2) : 1;
                memset(&err, 0, sizeof err);
                ck_assert_msg(prepare_with_shape(fn, k, r->max_rank + 1, shape, &err) ==
                                  LOSSD_EINVAL,
                              "%s: %s of rank %d", fn->name, name, r->max_rank + 1);
                ck_assert_str_eq(err.field, name);
            }
            if (r->min_rank > 0) { /* a scalar */
                memset(&err, 0, sizeof err);
                ck_assert_msg(prepare_with_shape(fn, k, 0, NULL, &err) == LOSSD_EINVAL,
                              "%s: %s as a scalar", fn->name, name);
                ck_assert_str_eq(err.field, name);
            }
        }
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("rules");
    add_case(s, "table", 0, NULL, NULL, TESTS(rows_are_consistent, every_operand_names_a_row));
    add_case(s, "rules", 60, NULL, NULL,
             TESTS(sampled_operands_validate, rules_refuse_what_they_say));
    return run_suite(s);
}
