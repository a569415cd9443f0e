/*
 * testutil.h - what the core's Check suites share: tolerant comparisons,
 * a deterministic random source, the golden-vector runner and the
 * finite-difference gradient check.
 *
 * Everything here is single-threaded test code; suites call it from their
 * test functions only.
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

/* Runs a suite and returns main()'s exit status. */
int run_suite(Suite *s);

#endif /* LOSSD_TESTS_TESTUTIL_H */
