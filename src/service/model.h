/* SPDX-License-Identifier: MIT */
/*
 * model.h - a registry function as an Open Inference Protocol model, for
 * both of the protocol's bindings: REST (v2*.c) and gRPC.
 *
 * Every registry function is a model "{kind}.{name}" with one version,
 * "1". Its inputs are the function's operands, tensor parameters and
 * (with gradients) grad_output under their v1 names; its outputs are the
 * v1 reply's fields ("loss", "output", "value", "matrix", "grad", "n",
 * "terms.iou", "stats.zero_grad_fraction", ...); its scalar parameters
 * are the function's, plus a loss's "reduction". All of it is derived from
 * the registry row: no second list exists.
 *
 * What the bindings share, here: the inputs and outputs with their
 * datatypes and metadata shapes; reading a tensor of a datatype (raw
 * little-endian bytes, or numbers one by one) into the doubles the core
 * takes; binding it to its slot of the call; the outputs a request asks
 * for, and what that turns on in the call; where a finished call keeps
 * each output. What stays in each binding is its framing: JSON or
 * protobuf, binary data sizes, the error form.
 *
 * Errors are faults (fault.h) naming the field: 400 (bad_request) for
 * what is wrong with a tensor's framing (datatype, counts), 422 for what
 * breaks the function's contract.
 *
 * Threading: models are built once, on first use, and are then read-only
 * (any thread); a lossd_model_request belongs to the thread serving it.
 */
#ifndef LOSSD_SERVICE_MODEL_H
#define LOSSD_SERVICE_MODEL_H

#include <stdbool.h>
#include <stddef.h>

#include <lossd/lossd.h>

#include "codec.h"
#include "fault.h"

/* ---------------------------------------------------------------- datatypes */

typedef enum {
    LOSSD_DT_FP64,
    LOSSD_DT_FP32,
    LOSSD_DT_INT64,
    LOSSD_DT_INT32,
    LOSSD_DT_COUNT
} lossd_datatype;

/* "FP64", ...; the bytes of one element. */
const char *lossd_datatype_name(lossd_datatype dt);
size_t lossd_datatype_size(lossd_datatype dt);

/* The datatype called `name`, or -1. */
int lossd_datatype_find(const char *name);

/* ---------------------------------------------------------------- a model */

typedef enum {
    LOSSD_INPUT_OPERAND,      /* operand `index` of the call */
    LOSSD_INPUT_TENSOR_PARAM, /* parameter `index` of the function */
    LOSSD_INPUT_GRAD_OUTPUT,
} lossd_input_kind;

typedef struct {
    const char *name;
    lossd_input_kind kind;
    size_t index;
    bool class_index; /* takes INT64/INT32 class indices besides FP64/FP32 */
    bool index_only;  /* holds class indices only: INT64 is its natural datatype */
    bool optional;
    const char *summary;
    int rank;           /* of the metadata shape */
    long long shape[2]; /* -1: any length */
} lossd_model_input;

typedef enum {
    LOSSD_OUTPUT_MAIN, /* loss, output, value or matrix */
    LOSSD_OUTPUT_N,
    LOSSD_OUTPUT_GRAD,        /* with respect to the first operand */
    LOSSD_OUTPUT_GRAD_SECOND, /* "grad_<name>": with respect to the second (target, q) */
    LOSSD_OUTPUT_TERM,
    LOSSD_OUTPUT_STATS_N,
    LOSSD_OUTPUT_ZERO_GRAD,
} lossd_output_kind;

/* An output: the v1 reply's field, by its path: prefix and name ("terms." "iou"). */
typedef struct {
    lossd_output_kind kind;
    size_t term;
    const char *prefix, *name; /* static text: nothing to format per request */
    int rank;                  /* of the metadata shape */
    long long shape[2];        /* -1: any length */
} lossd_model_output;

#define LOSSD_MODEL_MAX_INPUTS  (2 + LOSSD_MAX_PARAMS + 1)
#define LOSSD_MODEL_MAX_OUTPUTS (5 + LOSSD_MAX_TERMS)
#define LOSSD_MODEL_NAME_MAX    96

typedef struct {
    const lossd_function *fn;
    char name[LOSSD_MODEL_NAME_MAX]; /* "loss.ciou" */
    lossd_model_input inputs[LOSSD_MODEL_MAX_INPUTS];
    size_t n_inputs;
    lossd_model_output outputs[LOSSD_MODEL_MAX_OUTPUTS];
    size_t n_outputs;
} lossd_model;

/* The model of a registry function (built on first use; never NULL for a registry row). */
const lossd_model *lossd_model_of(const lossd_function *fn);

/*
 * The model called "{kind}.{name}", or NULL. `len` bytes of `name` are
 * read (it need not be NUL-terminated).
 */
const lossd_model *lossd_model_find(const char *name, size_t len);

/* Writes an output's path ("terms.iou") into buf. Returns buf. */
const char *lossd_model_output_path(const lossd_model_output *out, char *buf, size_t size);

/* Whether an input takes datatype dt. */
bool lossd_model_input_takes(const lossd_model_input *in, lossd_datatype dt);

/* The datatypes an input takes, "INT64, INT32, FP64 or FP32", for messages. */
const char *lossd_model_input_datatypes(const lossd_model_input *in);

/* ---------------------------------------------------------------- a request */

/* An output asked for, and whether the binding sends it raw. */
typedef struct {
    const lossd_model_output *output;
    bool binary;
} lossd_model_want;

/*
 * One inference: the call, the tensors it borrows, the inputs seen and
 * the outputs wanted. Caller-owned storage: lossd_model_request_init(),
 * bind, lossd_model_request_prepare(), compute the call, read outputs,
 * lossd_model_request_cleanup(). Binary outputs of a reply may point into
 * it, so a binding frees it only once its reply is sent.
 */
typedef struct {
    const lossd_model *model;
    lossd_call call;
    lossd_tensors store;
    bool input_seen[LOSSD_MODEL_MAX_INPUTS];
    bool integers[2]; /* operand k came in an integer datatype */
    lossd_model_want want[LOSSD_MODEL_MAX_OUTPUTS];
    size_t n_want;
    double scalars[LOSSD_MODEL_MAX_OUTPUTS]; /* reduced loss, n, statistics: output storage */
} lossd_model_request;

/* Starts a request of model m; max_output bounds the reply (0: none). */
void lossd_model_request_init(lossd_model_request *r, const lossd_model *m, size_t max_output);
void lossd_model_request_cleanup(lossd_model_request *r);

/*
 * The input called `name`, marked as seen; NULL with f set (422 naming
 * `field`) when the model has none or it was already given.
 */
const lossd_model_input *lossd_model_request_input(lossd_model_request *r, const char *name,
                                                   const char *field, lossd_fault *f);

/*
 * The output called `name`; NULL with f set (422 naming `field`) when the
 * model has none.
 */
const lossd_model_output *lossd_model_find_output(const lossd_model *m, const char *name,
                                                  const char *field, lossd_fault *f);

/* Asks for an output; 422 naming `field` when it is asked for twice. Returns 0 or -1. */
int lossd_model_request_want(lossd_model_request *r, const lossd_model_output *out, bool binary,
                             const char *field, lossd_fault *f);

/*
 * Asks for every output (a request that names none) but the second
 * operand's gradient (grad_target, grad_q), which only a request naming it
 * gets: the default reply stays what it was before the target had a
 * gradient, and cross_entropy's class indices, which have none, still
 * take the default.
 */
void lossd_model_request_want_all(lossd_model_request *r, bool binary);

/*
 * A request parameter `key`: sets *spec to the function's parameter, or
 * to NULL for a loss's "reduction", and returns 0. For any other key
 * returns -1 with f set (422 naming `field`): the message lists what the
 * model takes, and `also` (the binding's own parameters, e.g. "the
 * protocol's binary_data_output"; NULL: none) beside them. A tensor
 * parameter is refused too: it travels as an input.
 */
int lossd_model_parameter(const lossd_model *m, const char *key, const char *also,
                          const char *field, lossd_fault *f, const lossd_param_spec **spec);

/*
 * Checks that input `in` takes datatype dt (400 naming the input, where
 * `where` - "inputs[2]" - says which entry of the request it was).
 */
int lossd_model_check_datatype(const lossd_model_input *in, lossd_datatype dt, const char *where,
                               lossd_fault *f);

/*
 * Whether x, a number a client sent as an element of datatype dt, is one
 * (FP32: finite as a float unless infinite already; INT64, INT32: whole
 * and in range). On false, *what says what it is not ("an INT32").
 */
bool lossd_model_number_fits(lossd_datatype dt, double x, const char **what);

/* The value a number of datatype dt reads as: FP32 is rounded to float, the rest kept. */
double lossd_model_number_value(lossd_datatype dt, double x);

/*
 * The doubles of `count` little-endian elements of datatype dt at
 * `bytes`: FP64 on a little-endian host, aligned as a double, is used in
 * place (it must then outlive the call); anything else is converted once
 * into the request's store. The numbers count against --max-elements.
 * NULL with f set (413 past the limit, 500 out of memory).
 */
const double *lossd_model_raw_tensor(lossd_model_request *r, const char *name, lossd_datatype dt,
                                     const void *bytes, size_t count, const lossd_limits *lim,
                                     lossd_fault *f);

/*
 * Binds a tensor of `rank`/`shape` over `values` (borrowed until the
 * call is cleaned up) to its input's slot of the call; dt is the datatype
 * it came in. Returns 0 or -1 with f set.
 */
int lossd_model_bind(lossd_model_request *r, const lossd_model_input *in, lossd_datatype dt,
                     int rank, const size_t *shape, const double *values, lossd_fault *f);

/*
 * After binding: turns on the gradients and terms the wanted outputs
 * need, prepares the call (its 422s), and checks what only the datatypes
 * tell: an operand sent as integers that the call read as probabilities
 * is a 400 naming it (its shape says probabilities, its datatype class
 * indices). Returns 0 or -1 with f set.
 */
int lossd_model_request_prepare(lossd_model_request *r, lossd_fault *f);

/*
 * Output `i` of the wanted list of a finished call: its data (in the call,
 * or in the request's scalars), shape and element count.
 */
const double *lossd_model_output_data(lossd_model_request *r, size_t i, int *rank,
                                      const size_t **shape, size_t *count);

#endif /* LOSSD_SERVICE_MODEL_H */
