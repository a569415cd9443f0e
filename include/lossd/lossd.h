/* SPDX-License-Identifier: MIT */
/*
 * lossd.h - the public API of liblossd, lossd's core math library.
 *
 * liblossd computes loss functions, activations, information measures and
 * pairwise box matrices - values and gradients - with PyTorch/torchvision
 * float64 semantics (and, for oriented boxes, the exact rotated IoU with
 * GEOS's values and the Gaussian losses with Ultralytics' and mmrotate's). It does no I/O, knows
 * nothing of HTTP or JSON, keeps no global mutable state and never exits or aborts on bad input.
 *
 * Three pieces:
 *
 *   - the registry: one read-only table row (lossd_function) per function,
 *     with its parameters, operand shapes and formula. It is what the
 *     service routes, validates and publishes its catalog from.
 *   - the call: a caller-owned lossd_call that binds a function to borrowed
 *     operands and parameter values, is validated by lossd_call_prepare(),
 *     run over ranges of blocks (possibly by many threads), and combined
 *     by lossd_call_finish().
 *   - errors as values: every failing function returns a negative
 *     lossd_status and fills a lossd_error with a field path
 *     ("target[3][2]") and a message.
 *
 * Only what is declared here is the API. Each struct says which of its
 * fields the caller sets (in), which the library sets for the caller to
 * read (out, read-only), and which are private: a pointer to the
 * library's own state, whose layout is not part of the ABI
 * (src/core/internal.h).
 *
 * ABI: the shared library is versioned with libtool's current:revision:age
 * (LOSSD_LT_VERSION in configure.ac; soname liblossd.so.<current - age>).
 * lossd_call and lossd_function are allocated or read by callers, so their
 * size and the offsets of their public fields are part of the ABI; the
 * private state behind them is not. Interface 1 (liblossd.so.1, lossd
 * 0.1.0) moved the kernels, the per-call scratch (constants, parameter
 * views, per-block counts) and the internal lossd_param_view out of this
 * header. Interface 3 (liblossd.so.3, lossd 0.2.0) replaced the operand
 * specs' shape and value enums by a rule of the rule table (lossd_rule_id;
 * lossd_rule_get() reads its row): code that compared
 * operands[k].shape now reads operands[k].rule. Its rows include oriented
 * boxes (LOSSD_RULE_ORIENTED_BOXES, LOSSD_RULE_ORIENTED_LIST), whose last
 * axis, 5 or 8, follows the call's box_format.
 *
 * Threading: the registry is immutable and may be read from any thread.
 * A lossd_call is owned by one thread at a time, except that
 * lossd_call_run() may be called concurrently on one prepared call for
 * disjoint block ranges.
 */
#ifndef LOSSD_LOSSD_H
#define LOSSD_LOSSD_H

#include <stdbool.h>
#include <stddef.h>

#include <lossd/version.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------- errors */

/* Status codes: 0 on success, one of these (negative) on failure. */
typedef enum {
    LOSSD_OK = 0,
    LOSSD_EINVAL = -1,   /* an operand or parameter breaks the function's contract */
    LOSSD_ENOMEM = -2,   /* an allocation failed */
    LOSSD_ENOENT = -3,   /* no such function or parameter */
    LOSSD_ETYPE = -4,    /* a parameter was given a value of the wrong type */
    LOSSD_ETOOBIG = -5,  /* a size overflows or exceeds a limit */
    LOSSD_EMISSING = -6, /* a required operand was not set */
} lossd_status;

/* A static, human-readable description of a status code. Any thread. */
const char *lossd_strerror(int status);

#define LOSSD_FIELD_MAX   128
#define LOSSD_MESSAGE_MAX 256

/*
 * The first error of a call, in the style of jansson's json_error_t.
 * field: the path of the offending request field, e.g. "target[3]" or
 * "beta"; empty when the error is about the call as a whole.
 * message: starts with the field path, e.g. "target[3]: expected 4 numbers".
 */
typedef struct {
    int code;
    char field[LOSSD_FIELD_MAX];
    char message[LOSSD_MESSAGE_MAX];
} lossd_error;

/* ---------------------------------------------------------------- tensors */

#define LOSSD_MAX_RANK 8

/*
 * 2^53: every whole number of smaller magnitude is exact as a double, the
 * next one is not. Integer parameters, dimensions and byte counts read
 * from JSON numbers (which are doubles) must stay below it.
 */
#define LOSSD_EXACT_INT_MAX 9007199254740992.0

/*
 * A dense row-major float64 tensor view. rank 0 is a scalar (size 1).
 * The data is borrowed: whoever fills a lossd_tensor keeps the storage
 * alive for as long as the view is used.
 */
typedef struct {
    int rank;
    size_t shape[LOSSD_MAX_RANK];
    size_t size; /* product of shape; 1 for rank 0 */
    const double *data;
} lossd_tensor;

/*
 * Sets t to a view of `data` with the given shape. Returns LOSSD_ETOOBIG if
 * rank > LOSSD_MAX_RANK or the element count overflows size_t.
 */
int lossd_tensor_view(lossd_tensor *t, const double *data, int rank, const size_t *shape);

/*
 * Writes a shape as lossd's messages show it, "(2, 3)" ("()" for a
 * scalar, "(5)" for rank 1), into buf, truncated to size. Returns buf.
 * Any thread.
 */
char *lossd_shape_text(char *buf, size_t size, int rank, const size_t *shape);

/* ---------------------------------------------------------------- registry */

typedef enum {
    LOSSD_KIND_LOSS,       /* POST /v1/loss/{name} */
    LOSSD_KIND_ACTIVATION, /* POST /v1/activation/{name} */
    LOSSD_KIND_INFO,       /* POST /v1/info/{name} */
    LOSSD_KIND_PAIRWISE,   /* POST /v1/pairwise/{name} */
    LOSSD_KIND_COUNT
} lossd_kind;

/* "loss", "activation", "info", "pairwise". */
const char *lossd_kind_name(lossd_kind kind);

typedef enum {
    LOSSD_PARAM_NUMBER,   /* a finite number within `domain` */
    LOSSD_PARAM_INTEGER,  /* a whole number within `domain` */
    LOSSD_PARAM_BOOL,     /* true or false */
    LOSSD_PARAM_CHOICE,   /* one of the strings in `choices` */
    LOSSD_PARAM_TENSOR,   /* a tensor whose shape follows `tensor_shape` */
    LOSSD_PARAM_LOG_BASE, /* the string "e", or a number > 0 and != 1 */
} lossd_param_type;

/*
 * A closed/open interval with optional exceptions, e.g. "[0, 1] or -1",
 * "> 0", "> 0 and != 1". lo/hi are -inf/+inf when unbounded.
 */
typedef struct {
    double lo, hi;
    bool lo_open, hi_open;
    bool has_also; /* `also` is accepted although outside [lo, hi] */
    double also;
    bool has_except; /* `except` is refused although inside [lo, hi] */
    double except;
} lossd_domain;

/* Shapes a tensor parameter may take, relative to the call's input. */
typedef enum {
    LOSSD_PSHAPE_NONE,
    LOSSD_PSHAPE_BROADCAST, /* broadcastable to input's shape (NumPy rules) */
    LOSSD_PSHAPE_CLASSES,   /* (C): one per class, C = input's last axis */
    LOSSD_PSHAPE_CHANNELS,  /* a number, or (C) with C = input's axis 1 (rank >= 2) */
} lossd_param_shape;

typedef struct {
    const char *name;
    lossd_param_type type;
    const char *summary;
    double default_number;      /* NUMBER, INTEGER, BOOL (0/1); LOG_BASE: 0 means "e" */
    const char *const *choices; /* CHOICE: NULL-terminated; choices[0] is the default */
    lossd_domain domain;        /* NUMBER, INTEGER */
    lossd_param_shape shape;    /* TENSOR */
    const char *default_text;   /* catalog text of the default when it is not a number */
    bool required;              /* no default: the call fails without it */
} lossd_param_spec;

/* ---------------------------------------------------------------- operand rules */

/*
 * What an operand may be - its shape, relative to the call's first
 * operand, and its values - is one row of the rule table
 * (src/core/rules.c). Validation, the catalog, the inference models'
 * metadata, the OpenAPI document, the bench and the playground all read
 * these rows, and nothing else knows what a rule means: a new kind of
 * operand is one new row.
 */
typedef enum {
    LOSSD_RULE_NONE,                  /* the function has no such operand */
    LOSSD_RULE_ANY,                   /* any shape of rank 0..8, any numbers */
    LOSSD_RULE_PROBABILITIES,         /* any shape, numbers in [0, 1] */
    LOSSD_RULE_PROBABILITIES_OR_LOGS, /* the same, or their logarithms when log_param is true */
    LOSSD_RULE_SCORES,                /* (N, C) or (C), C >= 1: scores over C classes or bins */
    LOSSD_RULE_CLASS_INDICES,  /* (N) for (N, C) scores, () for (C): whole numbers in [0, C) */
    LOSSD_RULE_CLASS_OR_PROB,  /* class indices, or probabilities shaped like the scores */
    LOSSD_RULE_BIN_TARGETS,    /* (N) for (N, C) scores, () for (C): reals in [0, C - 1] (dfl) */
    LOSSD_RULE_BOXES,          /* (..., 4): boxes with any leading dimensions, in box_format */
    LOSSD_RULE_BOX_LIST,       /* (N, 4), N >= 0, or one box (4), in box_format */
    LOSSD_RULE_DISTRIBUTIONS,  /* (K) or (N, K), K >= 1 */
    LOSSD_RULE_ORIENTED_BOXES, /* (..., 5) or (..., 8) by box_format: oriented boxes */
    LOSSD_RULE_ORIENTED_LIST,  /* (N, 5|8), N >= 0, or one box (5) or (8), by box_format */
    LOSSD_RULE_COUNT
} lossd_rule_id;

/*
 * The length of an operand's last axis: exactly `size`; or at least `min`;
 * or, when `param` is set, the length sizes[i] that the choice choices[i]
 * of that CHOICE parameter of the function gives (box formats).
 */
typedef struct {
    size_t size;
    size_t min;
    const char *param;
    const char *const *choices; /* NULL-terminated */
    const size_t *sizes;
} lossd_axis_rule;

struct lossd__rule_impl; /* private: a rule's checks and sampler (src/core/internal.h) */

/* One row of the rule table, read-only. */
typedef struct {
    lossd_rule_id id;
    const char *name;       /* in the catalog: "boxes", "class_indices", ... */
    const char *noun;       /* in messages: "boxes", "class indices", ... */
    const char *unit;       /* one item along the last axis ("box"), or NULL */
    const char *shape_text; /* for people: "(..., 4)" */
    /* the shape */
    int min_rank, max_rank; /* its own ranks (not used with rows_of_first) */
    bool rows_of_first;     /* the first operand's shape without its last axis: one per row */
    bool empty_batch;       /* [] (shape (0)) stands for an empty batch */
    lossd_axis_rule last_axis;
    bool counts_classes; /* its last axis is the call's number of classes C */
    bool per_row;        /* a loss has one term per row along its last axis (else per element) */
    size_t unit_cost;    /* what one such term costs, in elements (0: its own elements) */
    /* the values */
    const char *values;      /* "any", "range", "class_index", "bin_index", "box" */
    double lo, hi;           /* "range": within [lo, hi] */
    const char *values_text; /* for people: "probabilities in [0, 1]" */
    bool integers;         /* whole numbers: the inference protocol's INT64 and INT32 carry them */
    bool or_like_first;    /* or, shaped like the first operand, probabilities (cross_entropy) */
    const char *log_param; /* the values are those values' logarithms when this BOOL is true */
    /* for clients */
    int meta_rank;           /* the inference models' metadata shape: rank ... */
    long long meta_shape[2]; /* ... and dimensions, -1 where they vary */
    const char *examples[2]; /* JSON: as a first operand, and as a second beside its example */
    const struct lossd__rule_impl *impl; /* private */
} lossd_rule;

/* The row of a rule. Any thread. */
const lossd_rule *lossd_rule_get(lossd_rule_id id);

/*
 * The length of the last axis a rule asks for when its last_axis.param
 * has the choice `choice` ("cxcywhr"), by name: a function may offer only
 * some of the rule's choices, in its own order. Without a param, the fixed
 * size; 0 for a choice the rule does not know or no fixed length. Any thread.
 */
size_t lossd_rule_axis_length(const lossd_rule *rule, const char *choice);


/* lossd_operand_spec.flags */
#define LOSSD_OPERAND_LIKE_INPUT 0x01u /* shaped exactly like the first operand */

typedef struct {
    const char *name; /* request field: "input", "target", "p", "boxes1", ... */
    lossd_rule_id rule;
    unsigned flags;      /* LOSSD_OPERAND_* */
    const char *summary; /* catalog text, e.g. "boxes (N,4) or (4)" */
} lossd_operand_spec;

/* lossd_function.flags */
#define LOSSD_FN_GRAD        0x01u /* gradients are available */
#define LOSSD_FN_BATCHMEAN   0x02u /* the "batchmean" reduction is accepted */
#define LOSSD_FN_TERMS       0x04u /* per-term extras (box losses' "terms") */
#define LOSSD_FN_GRAD_SECOND 0x08u /* the second operand (target, q) has a gradient too */

/*
 * A second name of a per-term extra, kept for one version after the term
 * was renamed: the reply's "terms" and the inference outputs carry it
 * beside the term, with the same values, and the catalog lists it as
 * deprecated. Data of the row (lossd_function.term_aliases), so that every
 * consumer reads it from there (lossd_function_reported_term()).
 */
typedef struct {
    const char *name;       /* the old name, e.g. "alpha" */
    const char *term;       /* the term it repeats: one of the row's terms */
    const char *removed_in; /* the version that drops it, e.g. "0.3.0" */
} lossd_term_alias;

struct lossd_call;
struct lossd__impl; /* private: a function's kernel and hooks (src/core/internal.h) */
typedef struct lossd_function lossd_function;

/*
 * One registry row, read-only: what the catalog publishes. Callers read
 * the descriptive fields and pass the row to lossd_call_init().
 */
struct lossd_function {
    lossd_kind kind;
    const char *name;
    const char *summary;            /* one line */
    const char *formula;            /* LaTeX */
    const char *reference;          /* what it matches, e.g. "torch.nn.functional.l1_loss" */
    unsigned flags;                 /* LOSSD_FN_* */
    lossd_operand_spec operands[2]; /* input/target, p/q, boxes1/boxes2 */
    const lossd_param_spec *params;
    size_t n_params;
    const char *const *terms; /* LOSSD_FN_TERMS: NULL-terminated names */
    /* deprecated second names of terms, ended by one whose name is NULL; or NULL */
    const lossd_term_alias *term_aliases;

    /* private: the kernel and its hooks; never read or called outside the library */
    const struct lossd__impl *impl;
};

/* The number of registered functions, and the i-th (0 <= i < count). Any thread. */
size_t lossd_function_count(void);
const lossd_function *lossd_function_at(size_t i);

/* The function of that kind and name, or NULL. Any thread. */
const lossd_function *lossd_function_find(lossd_kind kind, const char *name);

/* The parameter of `fn` called `name`, or NULL. Any thread. */
const lossd_param_spec *lossd_function_param(const lossd_function *fn, const char *name);

/*
 * The i-th name under which fn reports its per-term extras (i = 0, 1, ...
 * until NULL): its terms in order, then its term aliases. *term (when not
 * NULL) is set to the index of the term whose values the name carries
 * (into lossd_call.terms), *alias (when not NULL) to the alias, or NULL
 * for a term's own name. NULL past the end, and for a function without
 * terms. The reply's "terms", the inference outputs and the catalog list
 * these names. Any thread.
 */
const char *lossd_function_reported_term(const lossd_function *fn, size_t i, size_t *term,
                                         const lossd_term_alias **alias);

/*
 * The last-axis length operand k of fn has under fn's default parameters
 * (its rule's fixed size, or the length of the default choice of the
 * parameter it follows); 0 when its rule fixes none. Any thread.
 */
size_t lossd_operand_default_axis(const lossd_function *fn, size_t k);

/* Type names used by the catalog: "number", "integer", "boolean", "string", "tensor". */
const char *lossd_param_type_name(lossd_param_type type);

/*
 * Writes the domain of `spec` as catalog text ("[0, 1] or -1", "> 0",
 * "one of: xyxy, xywh, cxcywh") into buf. Returns the length it needed,
 * like snprintf. Any thread.
 */
int lossd_param_domain_text(const lossd_param_spec *spec, char *buf, size_t size);

/*
 * Writes the default of `spec` as catalog text ("1", "\"xyxy\"" is written
 * as xyxy, "none" for optional tensors) into buf, like snprintf.
 */
int lossd_param_default_text(const lossd_param_spec *spec, char *buf, size_t size);

/* ---------------------------------------------------------------- calls */

typedef enum {
    LOSSD_REDUCTION_MEAN,
    LOSSD_REDUCTION_SUM,
    LOSSD_REDUCTION_NONE,
    LOSSD_REDUCTION_BATCHMEAN,
} lossd_reduction;

#define LOSSD_MAX_PARAMS 8
#define LOSSD_MAX_TERMS  6

/* A parameter value; which member counts follows the spec's type. */
typedef struct {
    bool set;            /* false: the spec's default applies */
    double number;       /* NUMBER, INTEGER, BOOL (0/1), LOG_BASE (0 = e) */
    int choice;          /* CHOICE: index into spec->choices */
    lossd_tensor tensor; /* TENSOR (borrowed) */
} lossd_value;

struct lossd__call_state; /* private: see lossd_call.state */

/*
 * One evaluation. Caller-owned storage: lossd_call_init() it, set operands
 * and parameters, lossd_call_prepare() it, run it, lossd_call_finish() it,
 * read the outputs, lossd_call_cleanup() it. lossd_call_compute() does
 * prepare, run and finish in one go.
 *
 * Fields marked (in) are the caller's: set directly or through the
 * setters below, before prepare. Fields marked (out) are set by the
 * library and only read by the caller; the arrays they point to are owned
 * by the call and freed by lossd_call_cleanup(). `state` is private.
 *
 * Work is cut into n_blocks blocks of consecutive work units (rows of a
 * matrix, loss terms, elements). A reduction sums each block on its own and
 * then the blocks in order, so the result is bit-for-bit the same however
 * the blocks are shared among threads.
 */
typedef struct lossd_call {
    const lossd_function *fn; /* (in, by lossd_call_init) */

    /* (in) operands (borrowed): input/target, p/q, boxes1/boxes2 */
    lossd_tensor operand[2];
    bool operand_set[2];
    lossd_value params[LOSSD_MAX_PARAMS]; /* by index into fn->params */
    lossd_reduction reduction;
    bool want_grad;        /* the gradient with respect to operand[0] (LOSSD_FN_GRAD) */
    bool want_grad_second; /* ... and with respect to operand[1] (LOSSD_FN_GRAD_SECOND) */
    bool want_terms;
    /*
     * Count non-finite results and zero derivatives (n_nonfinite,
     * zero_grad_fraction below). On after lossd_call_init(); a caller that
     * reads neither may turn it off: the kernels then compute only what
     * PyTorch's do, 1.2-1.3x less time for some (an activation's
     * derivative is no longer computed in a forward pass just to count its
     * zeros; docs/performance.md). Off, n_nonfinite only says whether a
     * reduced loss is finite and zero_grad_fraction is NaN.
     */
    bool want_stats;
    lossd_tensor grad_output; /* borrowed; only with reduction none / activations */
    bool grad_output_set;
    size_t max_output; /* prepare refuses outputs of more elements (0: no limit) */

    /* (out) set by prepare */
    size_t n_blocks;                /* blocks for lossd_call_run() */
    size_t n_terms;                 /* losses: loss terms; others: output elements */
    lossd_tensor output;            /* unreduced loss, activation output, info values, matrix */
    double *grad;                   /* shaped like operand[0], when want_grad */
    double *grad_second;            /* shaped like operand[1], when want_grad_second */
    double *terms[LOSSD_MAX_TERMS]; /* per-term extras, when want_terms */
    bool prob_target;               /* cross_entropy: the target was read as probabilities */

    /* (out) set by finish */
    double loss;               /* losses: the reduced value (reduction != none) */
    size_t n_nonfinite;        /* outputs, terms and gradients that are NaN or infinite */
    double zero_grad_fraction; /* activations; NaN without want_stats */

    /*
     * private: the kernels' per-call state (constants, parameter views,
     * per-block sums and counts), allocated by prepare, freed by cleanup,
     * NULL before prepare. A pointer rather than libuv's inline private
     * section: the kernels read it once per block, not per element (they
     * copy their constants into registers; docs/internals.md has the
     * instruction counts), a small call allocates no more than before (the
     * per-block arrays used to take two allocations), and what the kernels
     * need can change without changing the size or layout of lossd_call.
     */
    struct lossd__call_state *state;
} lossd_call;

/* Binds `fn` to a fresh call: no operands, defaults for every parameter. */
void lossd_call_init(lossd_call *c, const lossd_function *fn);

/*
 * Operands by request field name ("input", "target", "p", "q", "boxes1",
 * "boxes2"). The tensor's data is borrowed until lossd_call_cleanup().
 * Returns LOSSD_ENOENT if the function has no such operand.
 */
int lossd_call_set_operand(lossd_call *c, const char *name, const lossd_tensor *t,
                           lossd_error *err);

/*
 * Parameters by name. Each returns LOSSD_ENOENT for an unknown name and
 * LOSSD_ETYPE when the parameter has another type; domains are checked
 * here (LOSSD_EINVAL) so the error names the parameter.
 */
int lossd_call_set_number(lossd_call *c, const char *name, double value, lossd_error *err);
int lossd_call_set_bool(lossd_call *c, const char *name, bool value, lossd_error *err);
int lossd_call_set_choice(lossd_call *c, const char *name, const char *value, lossd_error *err);
int lossd_call_set_tensor(lossd_call *c, const char *name, const lossd_tensor *t, lossd_error *err);

/* "mean", "sum", "none", and for LOSSD_FN_BATCHMEAN functions "batchmean". */
int lossd_call_set_reduction(lossd_call *c, const char *name, lossd_error *err);

/*
 * Validates every operand and parameter against the function's contract
 * (the first error wins and names its field), computes the output shapes
 * and allocates the outputs. Returns 0, LOSSD_EINVAL, LOSSD_EMISSING or
 * LOSSD_ENOMEM. After a failure, only lossd_call_cleanup() may follow.
 */
int lossd_call_prepare(lossd_call *c, lossd_error *err);

/*
 * Computes blocks [first_block, end_block) of a prepared call, first_block
 * <= end_block and first_block <= n_blocks; an end_block past n_blocks
 * stops at n_blocks (a caller may cut the blocks into equal tasks and let
 * the last run short). Thread-safe for disjoint block ranges of the same
 * call.
 */
void lossd_call_run(const lossd_call *c, size_t first_block, size_t end_block);

/*
 * After every block has run: combines the block sums into `loss`, counts
 * zero derivatives and non-finite results.
 */
void lossd_call_finish(lossd_call *c);

/* prepare + run in blocks + finish, on the calling thread. */
int lossd_call_compute(lossd_call *c, lossd_error *err);

/* Frees what the call owns. Safe after a failed prepare and on an init-only call. */
void lossd_call_cleanup(lossd_call *c);

/* Per-term extra `i` (0 <= i < LOSSD_MAX_TERMS) of a call, or NULL. */
const char *lossd_call_term_name(const lossd_call *c, size_t i);

/*
 * Fills out[0..size of shape) with random values that operand k of the
 * call may hold under its rule, given the call's parameters (box_format)
 * and, for k = 1, its first operand (C classes; a target box near its
 * input box): for tests and benchmarks. *seed is a xorshift state (any
 * value but 0), advanced. Returns 0, or LOSSD_ENOENT when the function
 * has no operand k.
 */
int lossd_call_sample_operand(const lossd_call *c, size_t k, int rank, const size_t *shape,
                              double *out, unsigned long long *seed);

#ifdef __cplusplus
}
#endif

#endif /* LOSSD_LOSSD_H */
