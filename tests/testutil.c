/* SPDX-License-Identifier: MIT */
/*
 * testutil.c - suite registration and small helpers shared by every
 * suite, the golden-vector reader and runner and finite differences
 * (see testutil.h).
 *
 * The golden format is documented in tests/data/README.md. The reader is
 * strict: an unknown directive or a malformed tensor fails the test, so a
 * generator change cannot silently skip expectations.
 */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

#ifndef TEST_DATA_DIR
#error "TEST_DATA_DIR must point at tests/data"
#endif

bool close_enough(double got, double want, double rtol, double atol)
{
    if (isnan(want))
        return isnan(got);
    if (isinf(want))
        return got == want;
    if (!isfinite(got))
        return false;
    double diff = fabs(got - want);
    return diff <= atol || diff <= rtol * fmax(fabs(got), fabs(want));
}

double grad_slack(const double *want, size_t n, double rtol)
{
    double largest = 0;
    for (size_t i = 0; i < n; i++)
        if (isfinite(want[i]))
            largest = fmax(largest, fabs(want[i]));
    return rtol * largest;
}

bool same_bits(double a, double b)
{
    return memcmp(&a, &b, sizeof a) == 0;
}

void rng_seed(test_rng *r, unsigned long long seed)
{
    r->state = seed ? seed : 0x9e3779b97f4a7c15ull;
}

unsigned long long rng_bits(test_rng *r)
{
    r->state ^= r->state >> 12;
    r->state ^= r->state << 25;
    r->state ^= r->state >> 27;
    return r->state * 2685821657736338717ull;
}

double rng_uniform(test_rng *r, double lo, double hi)
{
    return lo + (hi - lo) * ((double)(rng_bits(r) >> 11) / 9007199254740992.0);
}

const lossd_function *must_find(lossd_kind kind, const char *name)
{
    const lossd_function *fn = lossd_function_find(kind, name);
    ck_assert_msg(fn != NULL, "no %s function called %s", lossd_kind_name(kind), name);
    return fn;
}

lossd_tensor tensor_of(const double *data, int rank, const size_t *shape)
{
    lossd_tensor t;
    ck_assert_int_eq(lossd_tensor_view(&t, data, rank, shape), 0);
    return t;
}

static lossd_error last;

const lossd_error *last_error(void)
{
    return &last;
}

void expect_error(lossd_call *c, int code, const char *field)
{
    lossd_error err = {0};
    int rc = lossd_call_compute(c, &err);
    last = err;
    ck_assert_msg(rc == code, "expected status %d (%s) for field '%s', got %d: %s", code,
                  lossd_strerror(code), field, rc, err.message);
    ck_assert_int_eq(err.code, code);
    ck_assert_str_eq(err.field, field);
    /* The message names the field first. */
    ck_assert_msg(strncmp(err.message, field, strlen(field)) == 0,
                  "message '%s' does not start "
                  "with '%s'",
                  err.message, field);
    lossd_call_cleanup(c);
}

void add_case(Suite *s, const char *name, int timeout, void (*setup)(void), void (*teardown)(void),
              const TTest *const *tests)
{
    TCase *tc = tcase_create(name);
    if (timeout > 0)
        tcase_set_timeout(tc, timeout);
    if (setup || teardown)
        tcase_add_checked_fixture(tc, setup, teardown);
    for (size_t i = 0; tests[i]; i++)
        tcase_add_test(tc, tests[i]);
    suite_add_tcase(s, tc);
}

int run_suite(Suite *s)
{
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

/* ------------------------------------------------------------ golden files */

static void case_free(golden_case *gc)
{
    for (size_t i = 0; i < gc->n_params; i++)
        free(gc->params[i].tensor.data);
    for (size_t i = 0; i < gc->n_operands; i++)
        free(gc->operands[i].data);
    free(gc->grad_output.data);
    free(gc->output.data);
    free(gc->grad_expect.data);
    free(gc->grad_second_expect.data);
    for (size_t i = 0; i < gc->n_terms; i++)
        free(gc->terms_expect[i].data);
    memset(gc, 0, sizeof *gc);
}

/* Parses "RANK D1 .. DR : V1 .. VN" at *s into out; advances *s. */
static void parse_tensor(char **s, golden_tensor *out, const char *label)
{
    char *p = *s, *end;
    long rank = strtol(p, &end, 10);
    ck_assert_msg(end != p && rank >= 0 && rank <= LOSSD_MAX_RANK, "%s: bad rank", label);
    size_t shape[LOSSD_MAX_RANK];
    size_t size = 1;
    p = end;
    for (long d = 0; d < rank; d++) {
        shape[d] = strtoul(p, &end, 10);
        ck_assert_msg(end != p, "%s: bad shape", label);
        size *= shape[d];
        p = end;
    }
    while (*p == ' ')
        p++;
    ck_assert_msg(*p == ':', "%s: expected ':' after the shape", label);
    p++;
    out->data = malloc((size ? size : 1) * sizeof(double));
    ck_assert_ptr_nonnull(out->data);
    for (size_t i = 0; i < size; i++) {
        out->data[i] = strtod(p, &end);
        ck_assert_msg(end != p, "%s: expected %zu values, got %zu", label, size, i);
        p = end;
    }
    out->t = tensor_of(out->data, (int)rank, shape);
    *s = p;
}

static char *next_word(char **s)
{
    char *p = *s;
    while (*p == ' ')
        p++;
    char *w = p;
    while (*p && *p != ' ')
        p++;
    if (*p)
        *p++ = '\0';
    *s = p;
    return w;
}

/* Reads one line directive into gc. */
static void parse_line(golden_case *gc, char *line)
{
    char *p = line;
    char *key = next_word(&p);
    const char *label = gc->label;
    if (strcmp(key, "function") == 0) {
        snprintf(gc->kind, sizeof gc->kind, "%s", next_word(&p));
        snprintf(gc->fname, sizeof gc->fname, "%s", next_word(&p));
    } else if (strcmp(key, "reduction") == 0) {
        snprintf(gc->reduction, sizeof gc->reduction, "%s", next_word(&p));
    } else if (strcmp(key, "tolerance") == 0) {
        /* A case may loosen the runner's tolerances, never past LOSSES-NEXT.md's. */
        gc->value_rtol = strtod(next_word(&p), NULL);
        gc->grad_rtol = strtod(next_word(&p), NULL);
        ck_assert_msg(gc->value_rtol >= VALUE_RTOL && gc->value_rtol <= NEXT_VALUE_RTOL &&
                          gc->grad_rtol >= GRAD_RTOL && gc->grad_rtol <= NEXT_GRAD_RTOL,
                      "%s: tolerance %g %g is outside [%g, %g] and [%g, %g]", label, gc->value_rtol,
                      gc->grad_rtol, VALUE_RTOL, NEXT_VALUE_RTOL, GRAD_RTOL, NEXT_GRAD_RTOL);
    } else if (strcmp(key, "grad") == 0) {
        gc->grad = atoi(next_word(&p)) != 0;
    } else if (strcmp(key, "grad_second") == 0) {
        gc->grad_second = atoi(next_word(&p)) != 0;
    } else if (strcmp(key, "terms") == 0) {
        gc->terms = atoi(next_word(&p)) != 0;
    } else if (strcmp(key, "param") == 0) {
        ck_assert_msg(gc->n_params < GOLDEN_MAX_PARAMS, "%s: too many params", label);
        typeof(gc->params[0]) *prm = &gc->params[gc->n_params++];
        snprintf(prm->name, sizeof prm->name, "%s", next_word(&p));
        snprintf(prm->type, sizeof prm->type, "%s", next_word(&p));
        if (strcmp(prm->type, "tensor") == 0)
            parse_tensor(&p, &prm->tensor, label);
        else if (strcmp(prm->type, "number") == 0)
            prm->number = strtod(next_word(&p), NULL);
        else
            snprintf(prm->text, sizeof prm->text, "%s", next_word(&p));
    } else if (strcmp(key, "operand") == 0) {
        ck_assert_msg(gc->n_operands < 2, "%s: too many operands", label);
        golden_tensor *op = &gc->operands[gc->n_operands++];
        snprintf(op->name, sizeof op->name, "%s", next_word(&p));
        parse_tensor(&p, op, label);
    } else if (strcmp(key, "grad_output") == 0) {
        gc->has_grad_output = true;
        parse_tensor(&p, &gc->grad_output, label);
    } else if (strcmp(key, "expect") == 0) {
        char *what = next_word(&p);
        if (strcmp(what, "loss") == 0) {
            gc->has_loss = true;
            gc->loss = strtod(next_word(&p), NULL);
        } else if (strcmp(what, "n") == 0) {
            gc->has_n = true;
            gc->n = strtod(next_word(&p), NULL);
        } else if (strcmp(what, "zero_grad_fraction") == 0) {
            gc->has_zero = true;
            gc->zero_grad_fraction = strtod(next_word(&p), NULL);
        } else if (strcmp(what, "output") == 0) {
            gc->has_output = true;
            parse_tensor(&p, &gc->output, label);
        } else if (strcmp(what, "grad") == 0) {
            gc->has_grad = true;
            parse_tensor(&p, &gc->grad_expect, label);
        } else if (strcmp(what, "grad_second") == 0) {
            gc->has_grad_second = true;
            parse_tensor(&p, &gc->grad_second_expect, label);
        } else if (strcmp(what, "error") == 0) {
            gc->has_error = true;
            snprintf(gc->error_field, sizeof gc->error_field, "%s", next_word(&p));
        } else if (strcmp(what, "term") == 0) {
            ck_assert_msg(gc->n_terms < LOSSD_MAX_TERMS, "%s: too many terms", label);
            golden_tensor *t = &gc->terms_expect[gc->n_terms++];
            snprintf(t->name, sizeof t->name, "%s", next_word(&p));
            parse_tensor(&p, t, label);
        } else {
            ck_abort_msg("%s: unknown expectation '%s'", label, what);
        }
    } else {
        ck_abort_msg("%s: unknown directive '%s'", label, key);
    }
}

static lossd_kind kind_of(const char *name)
{
    for (int k = 0; k < LOSSD_KIND_COUNT; k++)
        if (strcmp(lossd_kind_name((lossd_kind)k), name) == 0)
            return (lossd_kind)k;
    ck_abort_msg("unknown kind %s", name);
    return LOSSD_KIND_COUNT;
}

static void compare_tensor(const char *label, const char *what, const double *got,
                           const lossd_tensor *want, double rtol, double atol)
{
    ck_assert_msg(got != NULL, "%s: no %s computed", label, what);
    for (size_t i = 0; i < want->size; i++)
        ck_assert_msg(close_enough(got[i], want->data[i], rtol, atol),
                      "%s: %s[%zu]: got %.17g, want %.17g", label, what, i, got[i], want->data[i]);
}

/* Marks in *cov what a case exercised of its function (see golden_coverage). */
static void cover(golden_coverage *cov, const golden_case *gc, const lossd_call *c)
{
    const lossd_function *fn = c->fn;
    cov->cases++;
    cov->reductions |= 1u << c->reduction;
    cov->grad |= gc->has_grad;
    cov->grad_second |= gc->has_grad_second;
    cov->grad_output |= gc->has_grad_output;
    for (size_t i = 0; i < fn->n_params && i < LOSSD_MAX_PARAMS; i++) {
        cov->param_set[i] |= c->params[i].set;
        if (fn->params[i].type == LOSSD_PARAM_CHOICE)
            cov->values_seen[i] |= 1u << c->params[i].choice;
        else if (fn->params[i].type == LOSSD_PARAM_BOOL)
            cov->values_seen[i] |= 1u << (c->params[i].number != 0);
    }
    for (size_t k = 0; k < gc->n_terms; k++)
        for (size_t j = 0; lossd_call_term_name(c, j); j++)
            if (strcmp(lossd_call_term_name(c, j), gc->terms_expect[k].name) == 0)
                cov->term_seen[j] = true;
}

/*
 * Initialises c for fn and binds what gc sets, stopping at the first thing
 * the core refuses: returns its code (0 when all was taken), *err says why.
 */
static int bind_case(const golden_case *gc, const lossd_function *fn, lossd_call *c,
                     lossd_error *err)
{
    int rc = 0;
    lossd_call_init(c, fn);
    for (size_t i = 0; i < gc->n_params && rc == 0; i++) {
        const typeof(gc->params[0]) *prm = &gc->params[i];
        if (strcmp(prm->type, "number") == 0)
            rc = lossd_call_set_number(c, prm->name, prm->number, err);
        else if (strcmp(prm->type, "bool") == 0)
            rc = lossd_call_set_bool(c, prm->name, strcmp(prm->text, "true") == 0, err);
        else if (strcmp(prm->type, "string") == 0)
            rc = lossd_call_set_choice(c, prm->name, prm->text, err);
        else
            rc = lossd_call_set_tensor(c, prm->name, &prm->tensor.t, err);
    }
    for (size_t i = 0; i < gc->n_operands && rc == 0; i++)
        rc = lossd_call_set_operand(c, gc->operands[i].name, &gc->operands[i].t, err);
    if (gc->reduction[0] && rc == 0)
        rc = lossd_call_set_reduction(c, gc->reduction, err);
    c->want_grad = gc->grad;
    c->want_grad_second = gc->grad_second;
    c->want_terms = gc->terms;
    if (gc->has_grad_output) {
        c->grad_output = gc->grad_output.t;
        c->grad_output_set = true;
    }
    return rc;
}

void golden_bind(const golden_case *gc, const lossd_function *fn, lossd_call *c)
{
    lossd_error err = {0};
    ck_assert_msg(bind_case(gc, fn, c, &err) == 0, "%s: %s", gc->label, err.message);
}

/* An `expect error` case: binding or computing must fail, naming the case's field. */
static void run_error_case(const golden_case *gc, const lossd_function *fn)
{
    lossd_call c;
    lossd_error err = {0};
    int rc = bind_case(gc, fn, &c, &err);
    if (rc == 0)
        rc = lossd_call_compute(&c, &err);
    ck_assert_msg(rc != 0, "%s: accepted, want an error on %s", gc->label, gc->error_field);
    ck_assert_msg(strcmp(err.field, gc->error_field) == 0, "%s: error on %s (%s), want %s",
                  gc->label, err.field, err.message, gc->error_field);
    lossd_call_cleanup(&c);
}

/* Runs one case on the core and compares every expectation (golden_visit for the core runner). */
static void run_case(const golden_case *gc, const lossd_function *fn, void *arg)
{
    const char *label = gc->label;
    if (gc->has_error) { /* a refused input: it exercises no value, so covers nothing */
        run_error_case(gc, fn);
        return;
    }
    lossd_call c;
    lossd_error err = {0};
    golden_bind(gc, fn, &c);
    cover(arg, gc, &c);
    int rc = lossd_call_compute(&c, &err);
    ck_assert_msg(rc == 0, "%s: compute failed: %s", label, err.message);

    if (gc->has_loss)
        ck_assert_msg(close_enough(c.loss, gc->loss, gc->value_rtol, VALUE_ATOL),
                      "%s: loss: got %.17g, want %.17g", label, c.loss, gc->loss);
    if (gc->has_n)
        ck_assert_msg((double)c.n_terms == gc->n, "%s: n: got %zu, want %g", label, c.n_terms,
                      gc->n);
    if (gc->has_output) {
        ck_assert_msg(c.output.size == gc->output.t.size, "%s: output has %zu values, want %zu",
                      label, c.output.size, gc->output.t.size);
        compare_tensor(label, "output", c.output.data, &gc->output.t, gc->value_rtol, VALUE_ATOL);
    }
    if (gc->has_grad)
        compare_tensor(label, "grad", c.grad, &gc->grad_expect.t, 0,
                       grad_slack(gc->grad_expect.t.data, gc->grad_expect.t.size, gc->grad_rtol));
    if (gc->has_grad_second)
        compare_tensor(label, "grad_second", c.grad_second, &gc->grad_second_expect.t, 0,
                       grad_slack(gc->grad_second_expect.t.data, gc->grad_second_expect.t.size,
                                  gc->grad_rtol));
    for (size_t k = 0; k < gc->n_terms; k++) {
        const double *got = NULL;
        for (size_t j = 0; lossd_call_term_name(&c, j); j++)
            if (strcmp(lossd_call_term_name(&c, j), gc->terms_expect[k].name) == 0)
                got = c.terms[j];
        compare_tensor(label, gc->terms_expect[k].name, got, &gc->terms_expect[k].t, gc->value_rtol,
                       VALUE_ATOL);
    }
    if (gc->has_zero)
        ck_assert_msg(
            close_enough(c.zero_grad_fraction, gc->zero_grad_fraction, gc->value_rtol, VALUE_ATOL),
            "%s: zero_grad_fraction: got %.17g, want %.17g", label, c.zero_grad_fraction,
            gc->zero_grad_fraction);
    lossd_call_cleanup(&c);
}

const char *golden_file_of(lossd_kind kind)
{
    static char names[LOSSD_KIND_COUNT][32];
    ck_assert_int_lt(kind, LOSSD_KIND_COUNT);
    snprintf(names[kind], sizeof names[kind], "golden_%s.txt", lossd_kind_name(kind));
    return names[kind];
}

/* Reads a whole line, however long, into *line (grown as needed); false at the end. */
static bool read_line(FILE *f, char **line, size_t *cap)
{
    if (!fgets(*line, (int)*cap, f))
        return false;
    size_t len = strlen(*line);
    while (len == *cap - 1 && (*line)[len - 1] != '\n') { /* a long line: grow */
        *cap *= 2;
        *line = realloc(*line, *cap);
        ck_assert_ptr_nonnull(*line);
        if (!fgets(*line + len, (int)(*cap - len), f))
            break;
        len = strlen(*line);
    }
    while (len && ((*line)[len - 1] == '\n' || (*line)[len - 1] == '\r'))
        (*line)[--len] = '\0';
    return true;
}

/*
 * Walks the golden file of `kind`. With fn, runs the cases of fn (others
 * are skipped after their `function` line, unparsed) and fills *cov;
 * without, checks that every case names a registered function of `kind`.
 * Returns how many cases it ran or checked.
 */
static size_t golden_walk(lossd_kind kind, const lossd_function *fn, golden_visit visit, void *ctx)
{
    const char *file = golden_file_of(kind);
    char path[512];
    snprintf(path, sizeof path, "%s/%s", TEST_DATA_DIR, file);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    size_t cap = 1 << 16, count = 0;
    char *line = malloc(cap);
    ck_assert_ptr_nonnull(line);
    golden_case *gc = calloc(1, sizeof *gc);
    ck_assert_ptr_nonnull(gc);
    enum { OUTSIDE, IN_CASE, SKIPPING } where = OUTSIDE;
    while (read_line(f, &line, &cap)) {
        if (line[0] == '\0' || line[0] == '#')
            continue;
        if (strncmp(line, "case ", 5) == 0) {
            ck_assert_msg(where == OUTSIDE, "%s: case inside case", gc->label);
            where = IN_CASE;
            snprintf(gc->label, sizeof gc->label, "%s", line + 5);
            gc->value_rtol = VALUE_RTOL;
            gc->grad_rtol = GRAD_RTOL;
        } else if (strcmp(line, "end") == 0) {
            ck_assert_msg(where != OUTSIDE, "%s: end without case", file);
            if (where == IN_CASE) {
                ck_assert_msg(gc->fname[0], "%s: %s: no function line", file, gc->label);
                if (fn)
                    visit(gc, fn, ctx);
                count++;
            }
            case_free(gc);
            where = OUTSIDE;
        } else if (where == SKIPPING) {
            continue;
        } else {
            ck_assert_msg(where == IN_CASE, "%s: directive outside a case: %s", file, line);
            bool function_line = strncmp(line, "function ", 9) == 0;
            parse_line(gc, line); /* (it cuts the line into words) */
            if (!function_line)
                continue;
            ck_assert_msg(kind_of(gc->kind) == kind, "%s: %s: a %s function in the %s file", file,
                          gc->label, gc->kind, lossd_kind_name(kind));
            if (fn == NULL)
                ck_assert_msg(lossd_function_find(kind, gc->fname) != NULL,
                              "%s: %s: no %s function called %s is registered", file, gc->label,
                              gc->kind, gc->fname);
            else if (strcmp(gc->fname, fn->name) != 0)
                where = SKIPPING;
        }
    }
    fclose(f);
    free(line);
    free(gc);
    ck_assert_msg(where == OUTSIDE, "%s: unterminated case", file);
    return count;
}

size_t golden_run_function(const lossd_function *fn, golden_coverage *cov)
{
    memset(cov, 0, sizeof *cov);
    return golden_walk(fn->kind, fn, run_case, cov);
}

size_t golden_foreach_case(const lossd_function *fn, golden_visit visit, void *ctx)
{
    return golden_walk(fn->kind, fn, visit, ctx);
}

size_t golden_check_names(lossd_kind kind)
{
    return golden_walk(kind, NULL, NULL, NULL);
}

/* Appends ", what" to a list of what is missing. */
static void missing(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void missing(char *buf, size_t size, const char *fmt, ...)
{
    size_t used = strlen(buf);
    if (used + 2 >= size)
        return;
    if (used)
        used += (size_t)snprintf(buf + used, size - used, "; ");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf + used, size - used, fmt, ap);
    va_end(ap);
}

void golden_require_coverage(const lossd_function *fn, const golden_coverage *cov)
{
    static const char *const reduction_names[] = {"mean", "sum", "none", "batchmean"};
    char gaps[1024] = "";
    if (fn->kind == LOSSD_KIND_LOSS) {
        int n_reductions = fn->flags & LOSSD_FN_BATCHMEAN ? 4 : 3;
        for (int r = 0; r < n_reductions; r++)
            if (!(cov->reductions & (1u << r)))
                missing(gaps, sizeof gaps, "reduction %s", reduction_names[r]);
    }
    if ((fn->flags & LOSSD_FN_GRAD) && !cov->grad)
        missing(gaps, sizeof gaps, "an expected gradient");
    if ((fn->flags & LOSSD_FN_GRAD_SECOND) && !cov->grad_second)
        missing(gaps, sizeof gaps, "an expected gradient with respect to %s", fn->operands[1].name);
    if ((fn->flags & LOSSD_FN_GRAD) && !cov->grad_output)
        missing(gaps, sizeof gaps, "a grad_output");
    for (size_t i = 0; i < fn->n_params && i < LOSSD_MAX_PARAMS; i++) {
        const lossd_param_spec *spec = &fn->params[i];
        if (!cov->param_set[i])
            missing(gaps, sizeof gaps, "parameter %s set", spec->name);
        if (spec->type == LOSSD_PARAM_CHOICE)
            for (unsigned k = 0; spec->choices[k]; k++)
                if (!(cov->values_seen[i] & (1u << k)))
                    missing(gaps, sizeof gaps, "%s \"%s\"", spec->name, spec->choices[k]);
        if (spec->type == LOSSD_PARAM_BOOL)
            for (unsigned v = 0; v < 2; v++)
                if (!(cov->values_seen[i] & (1u << v)))
                    missing(gaps, sizeof gaps, "%s %s", spec->name, v ? "true" : "false");
    }
    for (size_t j = 0; (fn->flags & LOSSD_FN_TERMS) && j < LOSSD_MAX_TERMS && fn->terms[j]; j++)
        if (!cov->term_seen[j])
            missing(gaps, sizeof gaps, "an expected term %s", fn->terms[j]);
    ck_assert_msg(gaps[0] == '\0',
                  "%s/%s: the golden cases in tests/data/%s miss: %s. Add cases to "
                  "tests/data/gen_golden.py and regenerate (tests/data/README.md)",
                  lossd_kind_name(fn->kind), fn->name, golden_file_of(fn->kind), gaps);
}

/* ------------------------------------------------------------ finite differences */

/* The scalar whose gradient the call computes: weights are grad_output or NULL (ones). */
static double scalar_of(const lossd_call *c, const double *weights)
{
    if (c->fn->kind == LOSSD_KIND_LOSS && c->reduction != LOSSD_REDUCTION_NONE)
        return c->loss;
    double s = 0;
    for (size_t i = 0; i < c->output.size; i++)
        s += (weights ? weights[i] : 1.0) * c->output.data[i];
    return s;
}

/*
 * Computes fn with operand k set to `operand` after configure(); with
 * grad_copy, the analytic gradient with respect to operand k is copied
 * there. Returns the scalar whose gradient that is.
 */
static double evaluate(const lossd_function *fn, size_t k, const lossd_tensor *operand,
                       fd_configure configure, void *ctx, double *grad_copy)
{
    lossd_call c;
    lossd_error err = {0};
    lossd_call_init(&c, fn);
    configure(&c, ctx);
    ck_assert_int_eq(lossd_call_set_operand(&c, fn->operands[k].name, operand, &err), 0);
    c.want_grad = k == 0 && grad_copy != NULL;
    c.want_grad_second = k == 1 && grad_copy != NULL;
    const double *weights = c.grad_output_set ? c.grad_output.data : NULL;
    c.grad_output_set = c.grad_output_set && grad_copy; /* only the analytic run takes it */
    int rc = lossd_call_compute(&c, &err);
    ck_assert_msg(rc == 0, "%s: %s", fn->name, err.message);
    double s = scalar_of(&c, weights);
    if (grad_copy)
        memcpy(grad_copy, k == 0 ? c.grad : c.grad_second, operand->size * sizeof *grad_copy);
    lossd_call_cleanup(&c);
    return s;
}

void fd_check_operand(const lossd_function *fn, size_t k, lossd_tensor *operand, double *data,
                      double step, fd_configure configure, void *ctx, double rtol, double atol)
{
    ck_assert_msg(k < 2 && fn->operands[k].name, "%s has no operand %zu", fn->name, k);
    double *grad = malloc((operand->size ? operand->size : 1) * sizeof *grad);
    ck_assert_ptr_nonnull(grad);
    evaluate(fn, k, operand, configure, ctx, grad);
    for (size_t i = 0; i < operand->size; i++) {
        double x = data[i];
        double h = step * fmax(1.0, fabs(x));
        data[i] = x + h;
        double up = evaluate(fn, k, operand, configure, ctx, NULL);
        data[i] = x - h;
        double down = evaluate(fn, k, operand, configure, ctx, NULL);
        data[i] = x;
        double numeric = (up - down) / (2 * h);
        ck_assert_msg(close_enough(grad[i], numeric, rtol, atol),
                      "%s: d/d%s[%zu] at %.17g: analytic %.17g, central difference %.17g", fn->name,
                      fn->operands[k].name, i, x, grad[i], numeric);
    }
    free(grad);
}

void fd_check(const lossd_function *fn, lossd_tensor *input, double *input_data,
              fd_configure configure, void *ctx, double rtol, double atol)
{
    fd_check_operand(fn, 0, input, input_data, 1e-6, configure, ctx, rtol, atol);
}
