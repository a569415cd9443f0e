/* SPDX-License-Identifier: MIT */
/*
 * check_golden.c - every registered function against its golden vectors
 * (tests/data/golden_<kind>.txt, generated with PyTorch by
 * tests/data/gen_golden.py): values, gradients and per-term extras to the
 * contract's tolerances.
 *
 * The registry is the list: one test iteration per registered function,
 * so a function added without golden cases fails here by name, as does
 * one whose cases leave a reduction, a parameter, a choice or a gradient
 * untried (golden_require_coverage). Runs on whichever kernels the build
 * has: CI's portable stage runs it again on the baseline kernels.
 */
#include <stdlib.h>

#include "testutil.h"

START_TEST(function_matches_its_golden_cases)
{
    const lossd_function *fn = lossd_function_at((size_t)_i);
    ck_assert_ptr_nonnull(fn);
    golden_coverage cov;
    size_t ran = golden_run_function(fn, &cov);
    ck_assert_msg(ran > 0,
                  "%s/%s has no golden case in tests/data/%s: add its cases to "
                  "tests/data/gen_golden.py and regenerate (tests/data/README.md)",
                  lossd_kind_name(fn->kind), fn->name, golden_file_of(fn->kind));
    golden_require_coverage(fn, &cov);
}
END_TEST

START_TEST(golden_cases_name_registered_functions)
{
    for (int k = 0; k < LOSSD_KIND_COUNT; k++)
        ck_assert_uint_gt(golden_check_names((lossd_kind)k), 0);
}
END_TEST

static Suite *golden_suite(void)
{
    Suite *s = suite_create("golden");
    TCase *functions = tcase_create("functions");
    tcase_set_timeout(functions, 120); /* valgrind and the sanitizers parse slowly */
    tcase_add_loop_test(functions, function_matches_its_golden_cases, 0,
                        (int)lossd_function_count());
    tcase_add_test(functions, golden_cases_name_registered_functions);
    suite_add_tcase(s, functions);
    return s;
}

int main(void)
{
    return run_suite(golden_suite());
}
