/* SPDX-License-Identifier: MIT */
/*
 * serviceutil.h - what the service's Check suites share below HTTP:
 * reading replies back with jansson, expecting a fault, binding a body to
 * a call and writing its reply as a worker does, and temporary files.
 * (testutil.h has suite registration and comparisons; httputil.h the
 * HTTP harness.)
 *
 * Test code: the helpers fail the current test (ck_assert) rather than
 * return an error, and are called from test functions, on the test's
 * thread (parse_json and the readers may also run on client threads).
 */
#ifndef LOSSD_TESTS_SERVICEUTIL_H
#define LOSSD_TESTS_SERVICEUTIL_H

#include <check.h>
#include <jansson.h>
#include <stddef.h>

#include <lossd/lossd.h>

#include "../src/service/codec.h"
#include "../src/service/exec.h"
#include "../src/service/fault.h"
#include "../src/service/route.h"
#include "testutil.h"

/*
 * Does what main() does before any thread - json_object_seed(0) and
 * lossd_arena_install() - then runs the suite; returns main()'s exit
 * status.
 */
int run_service_suite(Suite *s);

/* Parses text the test expects to be one valid JSON value (caller decrefs). */
json_t *parse_json(const char *text);
/* The number under `key` of obj. */
double number_at(const json_t *obj, const char *key);
/* The string under `key` of obj (borrowed from obj). */
const char *string_at(const json_t *obj, const char *key);
/* Element i of a JSON array of numbers. */
double element_at(const json_t *array, size_t i);

/*
 * Expects f to be a fault of `kind`; when given, naming exactly `field`
 * and with `fragment` in its message.
 */
void expect_fault(const lossd_fault *f, lossd_fault_kind kind, const char *field,
                  const char *fragment);

/* Expects t to have exactly this rank, shape and data (bit for bit). */
void expect_tensor(const lossd_tensor *t, int rank, const size_t *shape, const double *data);

/* A body bound to a call: the call, the numbers it views, the fault, its "nonfinite" option. */
typedef struct {
    lossd_call call;
    lossd_tensors store;
    lossd_fault fault;
    bool nonfinite_strings;
} binding;

/*
 * Loads `body` and binds it to kind/name with at most max_elements
 * numbers. The JSON tree is released before returning: a bound call must
 * not need it. Returns lossd_codec_bind's result; binding_cleanup()
 * releases b either way.
 */
int bind_body(binding *b, lossd_kind kind, const char *name, const char *body, size_t max_elements);
/* bind_body with the default element limit, expected to succeed. */
void bind_ok(binding *b, lossd_kind kind, const char *name, const char *body);
void binding_cleanup(binding *b);

/*
 * Binds body to kind/name, computes it and returns the reply a worker
 * writes, through `exec` (NULL: sequentially). The caller frees it.
 */
char *reply_text(lossd_kind kind, const char *name, const char *body, const lossd_exec *exec);

/* The route of method and path (LOSSD_ROUTE_UNKNOWN when there is none). */
lossd_route route_of(const char *method, const char *path);

/* Writes `content` to a new temporary file; returns its path (caller unlinks and frees). */
char *temp_file(const char *content);

#endif /* LOSSD_TESTS_SERVICEUTIL_H */
