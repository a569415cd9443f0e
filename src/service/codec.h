/* SPDX-License-Identifier: MIT */
/*
 * codec.h - JSON to lossd calls and back: parsing a request body with
 * jansson under the service's limits, binding its fields to a call of one
 * registry function (strictly: unknown fields, wrong types, ragged tensors
 * are faults naming the field), and writing the reply with shortest
 * round-trip numbers.
 *
 * Threading: everything here runs on the worker that owns the request; the
 * json_t trees, calls and buffers it touches belong to that request.
 */
#ifndef LOSSD_SERVICE_CODEC_H
#define LOSSD_SERVICE_CODEC_H

#include <jansson.h>
#include <lossd/lossd.h>

#include "arena.h"
#include "buf.h"
#include "exec.h"
#include "fault.h"

/* JSON nesting the contract needs: a batch of jobs holding rank-8 tensors fits. */
#define LOSSD_MAX_JSON_DEPTH 16

typedef struct {
    size_t max_elements; /* numbers in one request's tensors, and in its reply */
    size_t max_jobs;     /* jobs in one /v1/batch request */
} lossd_limits;

/* The tensors a bound call borrows: owned here, freed by lossd_tensors_free(). */
#define LOSSD_CODEC_MAX_TENSORS 8

typedef struct {
    double *data[LOSSD_CODEC_MAX_TENSORS];
    size_t mapped[LOSSD_CODEC_MAX_TENSORS]; /* each one's mapping (hugemap.h), or 0 */
    size_t n_data;
    size_t elements; /* numbers read so far, counted against max_elements */
} lossd_tensors;

void lossd_tensors_free(lossd_tensors *store);

/*
 * Counts n more numbers of the request against --max-elements (413
 * naming `name` past it): for tensors read in place, without a copy.
 * Returns 0 or -1 with f set.
 */
int lossd_tensors_count(lossd_tensors *store, size_t n, const char *name, const lossd_limits *lim,
                        lossd_fault *f);

/*
 * Storage for a tensor of n numbers, counted as above and owned by the
 * store. NULL with f set (413 over the limit, 500 out of memory).
 */
double *lossd_tensors_alloc(lossd_tensors *store, size_t n, const char *name,
                            const lossd_limits *lim, lossd_fault *f);

/*
 * Parses one JSON object from body[0..len) (exactly len bytes, duplicate
 * keys refused, integers read as reals). Nesting deeper than
 * LOSSD_MAX_JSON_DEPTH is refused before jansson recurses. Returns the
 * root, or NULL with f set (400 invalid_json).
 *
 * With `arena` (zeroed by the caller), the tree is built in it: the caller
 * must not json_decref it but lossd_arena_release() the arena when done
 * (also after a failure). Without, the caller owns a new reference.
 */
json_t *lossd_codec_load(const char *body, size_t len, lossd_arena *arena, lossd_fault *f);

/*
 * The length of the JSON object body[0..len) starts with, when it starts
 * with a whole one (what follows it is not read), else 0. For messages
 * about framing: only a request that failed pays for it.
 */
size_t lossd_codec_object_prefix(const char *body, size_t len);

/*
 * Initialises c for fn and binds every field of the request object `obj`
 * to it: operands, reduction, grad, grad_output, terms and parameters.
 * Tensor storage goes to `store` (zeroed by the caller; free it after the
 * call's cleanup). Does not prepare the call. Returns 0 or -1 with f set.
 * obj is borrowed and may be released as soon as this returns.
 */
int lossd_codec_bind(const lossd_function *fn, const json_t *obj, const lossd_limits *lim,
                     lossd_call *c, lossd_tensors *store, bool *nonfinite_strings, lossd_fault *f);

/*
 * A request's "nonfinite" option (v): "null" (the default: non-finite
 * numbers are written as null) or "strings" (written as "NaN",
 * "Infinity", "-Infinity", and read from those strings in tensors). Sets
 * *strings; returns 0 or -1 with f set naming `field`.
 */
int lossd_codec_nonfinite_option(const json_t *v, const char *field, bool *strings, lossd_fault *f);

/* How a reply writes its numbers. */
typedef struct {
    const lossd_exec *exec; /* large tensors are formatted in parallel through it (may be NULL) */
    bool nonfinite_strings; /* non-finite values as "NaN", "Infinity", "-Infinity", not null */
} lossd_number_format;

/*
 * Writes the reply of a finished call: {"loss", "n", "grad"?,
 * "grad_<second operand>"?, "terms"?},
 * {"output", "grad"?, "stats"}, {"value"} or {"matrix"}, plus "nonfinite"
 * when some results are not finite (written as null, or as strings: `how`).
 */
void lossd_codec_write_reply(const lossd_call *c, const lossd_number_format *how, lossd_buf *out);

/*
 * Binds one parameter's JSON value (a number, boolean, string, or for
 * tensor parameters a tensor read into store) to the call, checking its
 * type and domain. Returns 0 or -1 with f set naming spec->name.
 */
int lossd_codec_bind_param(lossd_call *c, const lossd_param_spec *spec, const json_t *v,
                           const lossd_limits *lim, lossd_tensors *store, lossd_fault *f);

/*
 * Appends data[0..n) as one flat JSON array of shortest round-trip numbers
 * (null where not finite), formatted in parallel through exec when large.
 */
void lossd_codec_write_numbers(lossd_buf *out, const double *data, size_t n,
                               const lossd_number_format *how);

/*
 * Reading a rectangular nested JSON array of numbers of a known shape
 * (rank 0: one number), level by level: /v1's tensors (whose shape is
 * their own first elements') and /v2's "data" (whose shape the request
 * declares) alike. Each number goes through `convert`, which may refuse
 * it (a datatype it does not fit: *what says what it is not). Faults are
 * of `kind`, name the element's path, and a misfit of the shape ends with
 * `why` (NULL: nothing).
 */
typedef struct {
    const char *name;
    int rank;
    const size_t *shape;
    lossd_fault_kind kind;
    const char *why;
    bool (*convert)(void *ctx, double x, double *out, const char **what);
    void *ctx;
    bool nonfinite_strings; /* "NaN", "Infinity", "-Infinity" are numbers too */
    lossd_fault *f;
} lossd_nested;

/* Reads v into out (the shape's element count of doubles). Returns 0 or -1 with n->f set. */
int lossd_codec_read_nested(const lossd_nested *n, const json_t *v, double *out);

/*
 * The second operand of fn that can have a gradient (target, q), whose
 * gradient a reply writes as "grad_<name>"; NULL when there is none.
 */
const char *lossd_codec_second_grad_operand(const lossd_function *fn);

/* What a JSON value is, for messages: "an array", "a number", "null". */
const char *lossd_codec_type_name(const json_t *v);

/* The request fields fn accepts, comma-separated, for "unknown field" messages. */
void lossd_codec_field_names(const lossd_function *fn, char *buf, size_t size);

#endif /* LOSSD_SERVICE_CODEC_H */
