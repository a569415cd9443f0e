/* SPDX-License-Identifier: MIT */
/*
 * bench_core.c - nanoseconds per element of every liblossd kernel.
 *
 * For every registered function (lossd_function_count()/lossd_function_at())
 * and sizes 10^3, 10^5 and 10^6, it times what a library user pays for one
 * evaluation - lossd_call_init, set operands and parameters,
 * lossd_call_compute (validation, allocation of the outputs, the kernel,
 * the reduction) and lossd_call_cleanup - forward only and, for functions
 * with LOSSD_FN_GRAD, forward plus gradient. Single thread, public API only.
 * It prints figures; it never passes or fails on time.
 *
 * What an "element" is (the denominator of ns/element):
 *   - pointwise losses and activations: one input number, input of shape (size);
 *   - cross_entropy, nll, focal, softmax, log_softmax and the info measures:
 *     rows of C = K = 10, N = size / 10 rows, elements = N * 10 input numbers;
 *   - box losses: N = size / 4 boxes of 4 numbers each, elements = 4 N numbers;
 *   - pairwise matrices: N = round(sqrt(size)), M = round(size / N) boxes,
 *     elements = N * M matrix entries (the output, not the 4 (N + M) inputs).
 * Inputs are valid for each function (probabilities in [0, 1], class indices,
 * overlapping boxes with x2 >= x1 and y2 >= y1, rows summing to 1) and drawn
 * from a fixed-seed PRNG, so every run times the same numbers. Small sizes
 * cycle through several independent inputs (at least 65536 elements in
 * all): on one repeated input the branch predictor learns the data and
 * branchy kernels look several times faster than they are on fresh data.
 *
 * Timing: warm-up calls first, then batches of calls of ~1 ms each until at
 * least --min-ms (default 50 ms, 15 ms with --quick) and 7 (5) batches have
 * run. It reports the minimum over batches of the mean time per call (the
 * least disturbed estimate on a shared machine) and the median beside it.
 * The machine this was written on has 2 cores and is shared: throughput-
 * bound code there runs up to ~1.7x slower for stretches of a second or
 * more, so one figure can be off by that much. Compare figures from one
 * run only; bench/compare repeats rounds and keeps each figure's best.
 * The program is single-threaded.
 *
 * Every result is read (summed into a checksum printed on stderr), and the
 * calls go through the library's exported entry points, so nothing can be
 * optimised away.
 *
 * Usage: bench_core [--quick] [--filter PATTERN[,PATTERN...]] [--json]
 *                   [--min-ms N] [--cold-heap] [--stats] [--list]
 *   PATTERN is a substring of "kind/name" (e.g. "loss/", "iou", "softmax"),
 *   or "=kind/name" for exactly that function.
 *   --json prints one object per line: kind, name, size, mode ("forward" or
 *   "grad"), ns_per_element (the minimum) and median_ns_per_element,
 *   elements, unit, calls, variants (distinct inputs), faults_per_call
 *   (minor page faults per call while timed).
 *   --cold-heap leaves malloc as a fresh process has it (see warm_heap()).
 *   --stats times calls that also count non-finite results and zero
 *   derivatives (want_stats, as the service's calls do). By default calls
 *   compute what PyTorch's functions compute: values, and gradients in
 *   grad mode.
 *
 * Build (from the top of a built tree, after `make`):
 *   gcc -std=c11 -O2 -Wall -Wextra -Iinclude -o bench/bench_core \
 *       bench/bench_core.c .libs/liblossd_core.a -lm
 */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include <lossd/lossd.h>

/* Rows of the row-wise functions: classes for scores, outcomes for distributions. */
#define ROW_LEN 10
/* A batch of calls lasts about this long, so the clock's cost does not show. */
#define BATCH_SECONDS 1e-3
#define MAX_BATCHES   2000
/* Distinct inputs cycled through: together at least this many elements. */
#define VARIANT_ELEMENTS 65536
#define MAX_VARIANTS     128

/* ------------------------------------------------------------ options */

typedef struct {
    bool quick;
    bool json;
    bool list;
    bool cold_heap;     /* skip warm_heap() */
    bool stats;         /* calls count non-finite results and zero derivatives */
    const char *filter; /* comma-separated patterns, or NULL for all */
    double min_seconds; /* per measurement */
    int min_batches;
} options;

/* ------------------------------------------------------------ workloads */

/*
 * The operands of one function at one size, in n_variants independent
 * draws: calls cycle through them, so that small inputs are not the same
 * numbers call after call - a branch predictor learns a repeated input of
 * a thousand elements, and kernels that branch on the data would look
 * several times faster than on fresh data (measured: relu at 10^3, 3 ns
 * per element on one repeated input, 8-9 on 64 rotating ones). The data
 * is owned here and borrowed by the calls; workload_free() releases it.
 *
 * Shapes follow the operands' rules (the registry's rule table), values
 * come from the rules' own samplers (lossd_call_sample_operand): nothing
 * here knows a function by name.
 */
typedef struct {
    const lossd_function *fn;
    size_t size;     /* the nominal size: 10^3, 10^5, 10^6 */
    size_t elements; /* the denominator of ns/element */
    char unit[48];
    double *data[2];
    size_t n_variants;
    lossd_tensor operand[MAX_VARIANTS][2];
    int n_operands;
} workload;

static bool has_operand(const lossd_function *fn, int k)
{
    return fn->operands[k].rule != LOSSD_RULE_NONE;
}

/* The operands' shapes for a nominal size, as their rules ask. */
static void workload_shapes(workload *w, size_t size, int rank[2], size_t shape[2][2])
{
    const lossd_function *fn = w->fn;
    const lossd_rule *first = lossd_rule_get(fn->operands[0].rule);
    size_t len = lossd_operand_default_axis(fn, 0);
    rank[0] = rank[1] = 1;
    if (fn->kind == LOSSD_KIND_PAIRWISE) { /* N x M ~ size entries */
        size_t n = (size_t)llround(sqrt((double)size));
        rank[0] = rank[1] = 2;
        shape[0][0] = n;
        shape[1][0] = (size_t)llround((double)size / (double)n);
        shape[0][1] = shape[1][1] = len;
        w->elements = shape[0][0] * shape[1][0];
        snprintf(w->unit, sizeof w->unit, "matrix entry (N x M)");
        return;
    }
    if (len) { /* items of `len` numbers: boxes */
        rank[0] = 2;
        shape[0][0] = size / len;
        shape[0][1] = len;
        snprintf(w->unit, sizeof w->unit, "number (N %s = %zuN)", first->noun, len);
    } else if (first->last_axis.min || lossd_function_param(fn, "dim")) {
        /* rows: scores, distributions, and softmax along its default last axis */
        rank[0] = 2;
        shape[0][0] = size / ROW_LEN;
        shape[0][1] = ROW_LEN;
        snprintf(w->unit, sizeof w->unit, "element (rows of %d)", ROW_LEN);
    } else {
        shape[0][0] = size;
        snprintf(w->unit, sizeof w->unit, "element");
    }
    w->elements = shape[0][0] * (rank[0] == 2 ? shape[0][1] : 1);
    const lossd_rule *second = lossd_rule_get(fn->operands[1].rule);
    rank[1] = second->rows_of_first ? rank[0] - 1 : rank[0];
    memcpy(shape[1], shape[0], sizeof shape[1]);
}

static void workload_free(workload *w)
{
    free(w->data[0]);
    free(w->data[1]);
    memset(w, 0, sizeof *w);
}

/*
 * Fills variant v's operands with values their rules allow, the second
 * drawn beside the first (class indices below its classes, target boxes
 * near its boxes), with the function's default parameters.
 */
static int fill_variant(workload *w, size_t v, unsigned long long *seed)
{
    lossd_call c;
    lossd_call_init(&c, w->fn);
    int rc = 0;
    for (int k = 0; k < w->n_operands && rc == 0; k++) {
        lossd_tensor *t = &w->operand[v][k];
        rc = lossd_call_sample_operand(&c, (size_t)k, t->rank, t->shape, (double *)t->data, seed);
        if (rc == 0 && k == 0)
            rc = lossd_call_set_operand(&c, w->fn->operands[0].name, t, NULL);
    }
    lossd_call_cleanup(&c);
    return rc;
}

/* Shapes and fills fn's operands for `size`. Returns 0, or -1 out of memory. */
static int workload_init(workload *w, const lossd_function *fn, size_t size, uint64_t seed)
{
    size_t shape[2][2] = {{0, 0}, {0, 0}};
    int rank[2] = {1, 1};
    memset(w, 0, sizeof *w);
    w->fn = fn;
    w->size = size;
    w->n_operands = has_operand(fn, 1) ? 2 : 1;
    w->n_variants = (VARIANT_ELEMENTS + size - 1) / size;
    if (w->n_variants > MAX_VARIANTS)
        w->n_variants = MAX_VARIANTS;
    size_t n_var = w->n_variants;
    workload_shapes(w, size, rank, shape);

    /* every variant is a slice of one allocation per operand */
    for (int k = 0; k < w->n_operands; k++) {
        size_t per_variant = rank[k] == 0 ? 1 : shape[k][0] * (rank[k] == 2 ? shape[k][1] : 1);
        size_t total = per_variant * n_var;
        /* on a cache line, as PyTorch's allocator places the inputs bench_torch.py times */
        size_t bytes = ((total > 0 ? total : 1) * sizeof(double) + 63) & ~(size_t)63;
        if ((w->data[k] = aligned_alloc(64, bytes)) == NULL)
            return -1;
        for (size_t v = 0; v < n_var; v++)
            lossd_tensor_view(&w->operand[v][k], w->data[k] + v * per_variant, rank[k], shape[k]);
    }
    unsigned long long state = seed ? seed : 1;
    for (size_t v = 0; v < n_var; v++)
        if (fill_variant(w, v, &state) < 0)
            return -1;
    return 0;
}

/* ------------------------------------------------------------ one call */

/*
 * Sets the required parameters a default cannot stand in for. Today that is
 * prelu's weight; a new required parameter makes the benchmark say so.
 */
static int set_required_params(lossd_call *c, lossd_error *err)
{
    for (size_t i = 0; i < c->fn->n_params; i++) {
        const lossd_param_spec *spec = &c->fn->params[i];
        if (!spec->required)
            continue;
        if (spec->type == LOSSD_PARAM_TENSOR && spec->shape == LOSSD_PSHAPE_CHANNELS) {
            int rc = lossd_call_set_number(c, spec->name, 0.25, err);
            if (rc < 0)
                return rc;
            continue;
        }
        snprintf(err->message, sizeof err->message, "%s: required parameter %s not handled",
                 c->fn->name, spec->name);
        return err->code = LOSSD_EINVAL;
    }
    return 0;
}

/*
 * One evaluation as a user pays for it: init, operands, parameters,
 * compute (prepare + kernel + finish), read the results, cleanup. Adds a
 * few of the results to *checksum and counts non-finite ones in
 * *nonfinite. Returns 0 or the failing status (err says why).
 */
static int run_once(const workload *w, size_t variant, bool grad, bool stats, double *checksum,
                    size_t *nonfinite, lossd_error *err)
{
    const lossd_tensor *operand = w->operand[variant];
    lossd_call c;
    lossd_call_init(&c, w->fn);
    int rc = 0;
    for (int k = 0; k < w->n_operands && rc == 0; k++)
        rc = lossd_call_set_operand(&c, w->fn->operands[k].name, &operand[k], err);
    if (rc == 0)
        rc = set_required_params(&c, err);
    c.want_grad = grad;
    c.want_stats = stats;
    if (rc == 0)
        rc = lossd_call_compute(&c, err);
    if (rc == 0) {
        double sum = c.loss;
        size_t n_out = c.output.data ? c.output.size : 0, n_in = operand[0].size;
        if (n_out)
            sum += c.output.data[0] + c.output.data[n_out / 2] + c.output.data[n_out - 1];
        if (c.grad && n_in)
            sum += c.grad[0] + c.grad[n_in / 2] + c.grad[n_in - 1];
        *checksum += sum;
        *nonfinite += c.n_nonfinite;
    }
    lossd_call_cleanup(&c);
    return rc;
}

/* ------------------------------------------------------------ timing */

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct {
    double min_ns, median_ns; /* per call */
    size_t calls;
    size_t nonfinite;
    double faults_per_call; /* minor page faults, over the timed batches */
} measurement;

static long minor_faults(void)
{
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    return usage.ru_minflt;
}

/*
 * Puts malloc in the state of a process that has already served a large
 * request. glibc serves big blocks with mmap until one of them is freed,
 * then raises its mmap threshold to that block's size and its trim
 * threshold to twice that; until then every call's outputs are fresh
 * pages, faulted in (and zeroed by the kernel) on first touch - ~2 us per
 * 4 KiB page here, more than many kernels cost. Which figures pay that
 * would otherwise depend on which functions ran before (a --filter run
 * and a full run disagree), so one 24 MiB block is allocated and freed
 * first. --cold-heap skips this; faults_per_call in --json shows the
 * effect either way.
 */
static void warm_heap(void)
{
    size_t bytes = (size_t)24 << 20;
    volatile char *block = malloc(bytes);
    if (block) {
        block[0] = block[bytes - 1] = 1; /* used: the pair cannot be optimised away */
        free((void *)block);
    }
}

/*
 * Times run_once(w, grad), cycling through the input variants: warm-up
 * calls (every variant, at least 2 calls and ~10 ms, 3 ms with --quick),
 * then batches of calls lasting ~BATCH_SECONDS until opt->min_seconds and
 * opt->min_batches are both reached. Returns 0 or the status of a failing
 * call.
 */
static int measure(const workload *w, bool grad, const options *opt, double *checksum,
                   measurement *m, lossd_error *err)
{
    static double batch_ns[MAX_BATCHES];
    size_t nonfinite = 0, calls = 0, variant = 0;
    double warm = opt->quick ? 3e-3 : 10e-3;
    double start = now_seconds(), elapsed;
    do {
        int rc = run_once(w, variant, grad, opt->stats, checksum, &nonfinite, err);
        if (rc < 0)
            return rc;
        variant = (variant + 1) % w->n_variants;
        calls++;
        elapsed = now_seconds() - start;
    } while (calls < 2 || calls < w->n_variants || elapsed < warm);
    m->nonfinite = nonfinite / calls;

    double per_call = elapsed / (double)calls;
    size_t batch = per_call >= BATCH_SECONDS ? 1 : (size_t)(BATCH_SECONDS / per_call);
    int n_batches = 0;
    double total = 0;
    long faults = minor_faults();
    m->calls = 0;
    while (n_batches < MAX_BATCHES && (total < opt->min_seconds || n_batches < opt->min_batches)) {
        double t0 = now_seconds();
        for (size_t i = 0; i < batch; i++) {
            run_once(w, variant, grad, opt->stats, checksum, &nonfinite, err);
            variant = (variant + 1) % w->n_variants;
        }
        double t = now_seconds() - t0;
        batch_ns[n_batches++] = t * 1e9 / (double)batch;
        total += t;
        m->calls += batch;
    }
    m->faults_per_call = (double)(minor_faults() - faults) / (double)m->calls;
    qsort(batch_ns, (size_t)n_batches, sizeof batch_ns[0], compare_doubles);
    m->min_ns = batch_ns[0];
    m->median_ns = n_batches % 2 ? batch_ns[n_batches / 2]
                                 : 0.5 * (batch_ns[n_batches / 2 - 1] + batch_ns[n_batches / 2]);
    return 0;
}

/* ------------------------------------------------------------ output */

static bool matches(const lossd_function *fn, const char *filter)
{
    char id[128];
    snprintf(id, sizeof id, "%s/%s", lossd_kind_name(fn->kind), fn->name);
    if (filter == NULL)
        return true;
    const char *p = filter;
    while (*p) {
        size_t len = strcspn(p, ",");
        char pattern[128];
        snprintf(pattern, sizeof pattern, "%.*s", (int)(len < 127 ? len : 127), p);
        if (pattern[0] == '=' ? strcmp(id, pattern + 1) == 0
                              : (pattern[0] != '\0' && strstr(id, pattern) != NULL))
            return true;
        p += len + (p[len] == ',');
    }
    return false;
}

static void print_json(const workload *w, const char *mode, const measurement *m)
{
    printf("{\"kind\": \"%s\", \"name\": \"%s\", \"size\": %zu, \"mode\": \"%s\", "
           "\"ns_per_element\": %.4f, \"median_ns_per_element\": %.4f, \"elements\": %zu, "
           "\"unit\": \"%s\", \"calls\": %zu, \"variants\": %zu, \"faults_per_call\": %.1f}\n",
           lossd_kind_name(w->fn->kind), w->fn->name, w->size, mode,
           m->min_ns / (double)w->elements, m->median_ns / (double)w->elements, w->elements,
           w->unit, m->calls, w->n_variants, m->faults_per_call);
    fflush(stdout);
}

static void print_table_header(const options *opt)
{
    printf("liblossd %s kernels, one thread: ns per element, min over batches (median)\n",
           LOSSD_VERSION_STRING);
    printf("each call = init + operands + compute (validate, allocate, run, finish) + cleanup;\n"
           "%s\n"
           "inputs rotate over >= %d elements; at least %.0f ms and %d batches per figure;\n"
           "on a shared machine expect noise: compare figures from one run only\n\n",
           opt->stats
               ? "with statistics (non-finite results, zero derivatives), as the service asks"
               : "values (and gradients) only, as PyTorch computes them (--stats: with counts)",
           VARIANT_ELEMENTS, opt->min_seconds * 1e3, opt->min_batches);
    printf("%-10s %-17s %8s %-22s %19s %19s\n", "kind", "name", "elements", "per", "forward",
           "forward+grad");
}

static void print_table_row(const workload *w, const measurement *fwd, const measurement *grad)
{
    char f[32], g[32];
    snprintf(f, sizeof f, "%.3f (%.3f)", fwd->min_ns / (double)w->elements,
             fwd->median_ns / (double)w->elements);
    if (grad)
        snprintf(g, sizeof g, "%.3f (%.3f)", grad->min_ns / (double)w->elements,
                 grad->median_ns / (double)w->elements);
    else
        snprintf(g, sizeof g, "-");
    printf("%-10s %-17s %8zu %-22s %19s %19s%s\n", lossd_kind_name(w->fn->kind), w->fn->name,
           w->elements, w->unit, f, g,
           fwd->nonfinite || (grad && grad->nonfinite) ? "  (non-finite results!)" : "");
    fflush(stdout);
}

/* ------------------------------------------------------------ main */

static void usage(FILE *f)
{
    fprintf(f, "usage: bench_core [--quick] [--filter PATTERN[,PATTERN...]] [--json] "
               "[--min-ms N] [--cold-heap] [--stats] [--list]\n"
               "  PATTERN: a substring of kind/name, or =kind/name for exactly one function\n");
}

static int parse_options(int argc, char **argv, options *opt)
{
    bool min_set = false;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            opt->quick = true;
        else if (strcmp(argv[i], "--json") == 0)
            opt->json = true;
        else if (strcmp(argv[i], "--list") == 0)
            opt->list = true;
        else if (strcmp(argv[i], "--cold-heap") == 0)
            opt->cold_heap = true;
        else if (strcmp(argv[i], "--stats") == 0)
            opt->stats = true;
        else if (strcmp(argv[i], "--filter") == 0 && i + 1 < argc)
            opt->filter = argv[++i];
        else if (strcmp(argv[i], "--min-ms") == 0 && i + 1 < argc) {
            opt->min_seconds = atof(argv[++i]) * 1e-3;
            min_set = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            exit(0);
        } else {
            usage(stderr);
            return -1;
        }
    }
    if (!min_set)
        opt->min_seconds = opt->quick ? 15e-3 : 50e-3;
    opt->min_batches = opt->quick ? 5 : 7;
    return 0;
}

int main(int argc, char **argv)
{
    static const size_t full_sizes[] = {1000, 100000, 1000000};
    options opt = {0};
    if (parse_options(argc, argv, &opt) < 0)
        return 2;
    size_t n_sizes = opt.quick ? 2 : 3;
    double checksum = 0;
    int failures = 0;

    if (!opt.cold_heap)
        warm_heap();
    if (!opt.json && !opt.list)
        print_table_header(&opt);
    for (size_t f = 0; f < lossd_function_count(); f++) {
        const lossd_function *fn = lossd_function_at(f);
        if (!matches(fn, opt.filter))
            continue;
        if (opt.list) {
            printf("%s/%s\n", lossd_kind_name(fn->kind), fn->name);
            continue;
        }
        for (size_t s = 0; s < n_sizes; s++) {
            workload w;
            lossd_error err = {0};
            measurement fwd, grad;
            bool has_grad = fn->flags & LOSSD_FN_GRAD;
            /* the same seed per function and size: reruns time the same numbers */
            if (workload_init(&w, fn, full_sizes[s], 0x10bd + 7919 * f + s) < 0) {
                fprintf(stderr, "bench_core: out of memory\n");
                return 1;
            }
            int rc = measure(&w, false, &opt, &checksum, &fwd, &err);
            if (rc == 0 && has_grad)
                rc = measure(&w, true, &opt, &checksum, &grad, &err);
            if (rc < 0) {
                fprintf(stderr, "bench_core: %s/%s at %zu: %s (%s)\n", lossd_kind_name(fn->kind),
                        fn->name, w.size, err.message, lossd_strerror(rc));
                failures++;
            } else if (opt.json) {
                print_json(&w, "forward", &fwd);
                if (has_grad)
                    print_json(&w, "grad", &grad);
            } else {
                print_table_row(&w, &fwd, has_grad ? &grad : NULL);
            }
            workload_free(&w);
        }
    }
    /* the checksum makes every result live; stderr keeps --json's stdout clean */
    if (!opt.list)
        fprintf(stderr, "bench_core: checksum %.17g\n", checksum);
    return failures ? 1 : 0;
}
