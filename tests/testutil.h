/*
 * testutil.h - what every Check suite shares: suite registration
 * (add_case, run_suite), tolerant and bitwise comparisons and a
 * deterministic random source; and for the core's suites, the
 * golden-vector runner and the finite-difference gradient check.
 *
 * It needs only the core library (the service's suites add
 * serviceutil.h and httputil.h). Everything here is single-threaded test
 * code; suites call it from main() and their test functions only.
 */
#ifndef LOSSD_TESTS_TESTUTIL_H
#define LOSSD_TESTS_TESTUTIL_H

#include <check.h>
#include <stdbool.h>
#include <stddef.h>

#include <lossd/lossd.h>

/* Tolerances of the contract: values 1e-12 relative (no absolute slack: a
   value PyTorch gives as 0 must be 0), gradients 1e-9 relative or 1e-12
   absolute (a gradient can be a difference of terms of order 1). */
#define VALUE_RTOL 1e-12
#define VALUE_ATOL 0.0
#define GRAD_RTOL  1e-9
#define GRAD_ATOL  1e-12

/*
 * True when `got` matches `want`: both NaN, the same infinity, or within
 * rtol relative / atol absolute.
 */
bool close_enough(double got, double want, double rtol, double atol);

/* Asserts close_enough, naming what was compared. */
#define ck_assert_close(got, want, rtol, atol, what)                                        \
    ck_assert_msg(close_enough((got), (want), (rtol), (atol)), "%s: got %.17g, want %.17g", \
                  (what), (double)(got), (double)(want))

/* Bitwise equality: tells -0.0 from 0.0, as the contract's round trip must. */
bool same_bits(double a, double b);

/* xorshift64*: reproducible pseudo-random numbers for property tests. */
typedef struct {
    unsigned long long state;
} test_rng;

void rng_seed(test_rng *r, unsigned long long seed);
/* 64 random bits. */
unsigned long long rng_bits(test_rng *r);
double rng_uniform(test_rng *r, double lo, double hi);

/*
 * Runs every case of golden file `file` (under tests/data) whose function
 * is of `kind` and whose name is in the NULL-terminated `names` (NULL: all
 * of that kind). Fails the current test on the first mismatch, naming the
 * case; returns how many cases ran.
 */
size_t golden_run_file(const char *file, lossd_kind kind, const char *const *names);

/*
 * Configures a call for a finite-difference check: sets everything but
 * the first operand (which fd_check sets to its own perturbed copies).
 */
typedef void (*fd_configure)(lossd_call *c, void *ctx);

/*
 * Compares the call's analytic gradient with central differences of the
 * scalar sum(grad_output * output) (activations, losses with reduction
 * none) or the reduced loss, over every element of `input`. Steps of
 * 1e-6 (relative); tolerance rtol/atol. `input` is restored on return.
 */
void fd_check(const lossd_function *fn, lossd_tensor *input, double *input_data,
              fd_configure configure, void *ctx, double rtol, double atol);

/* The function of that kind and name; fails the test when it is missing. */
const lossd_function *must_find(lossd_kind kind, const char *name);

/* A tensor view over a literal: T(2, ((size_t[]){2, 2}), data). */
lossd_tensor tensor_of(const double *data, int rank, const size_t *shape);

/* Computes and expects failure with `code` and exactly `field`. */
void expect_error(lossd_call *c, int code, const char *field);

/* The error the last expect_error() saw. */
const lossd_error *last_error(void);

/*
 * Adds to `s` a test case called `name` running `tests` (NULL-terminated:
 * write it with TESTS()), each within `timeout` seconds (0: Check's
 * default) and between `setup` and `teardown` when given (a checked
 * fixture: it runs in the forked test child, so what it starts ends with
 * the test).
 */
void add_case(Suite *s, const char *name, int timeout, void (*setup)(void), void (*teardown)(void),
              const TTest *const *tests);

/* The test list of add_case: TESTS(first_test, second_test). */
#define TESTS(...) ((const TTest *const[]){__VA_ARGS__, NULL})

/* Runs a suite and returns main()'s exit status. */
int run_suite(Suite *s);

#endif /* LOSSD_TESTS_TESTUTIL_H */
