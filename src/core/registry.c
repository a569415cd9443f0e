/* SPDX-License-Identifier: MIT */
/*
 * registry.c - the function registry: every module's table, in catalog
 * order, and the look-ups and catalog texts the service builds on.
 *
 * The rows themselves live beside their kernels (one module per family);
 * this file only strings the module tables together, so a new function is
 * one kernel plus one row and nothing here changes.
 *
 * Thread-safe: the tables are immutable.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../debug.h"
#include "internal.h"

static const lossd__module *const portable_modules[] = {
    &lossd__regression_module,        &lossd__classification_module,
    &lossd__detection_module,         &lossd__box_module,
    &lossd__oriented_module,          &lossd__gaussian_module,
    &lossd__activation_module,        &lossd__info_module,
    &lossd__pairwise_module,          &lossd__oriented_pairwise_module,
    &lossd__gaussian_pairwise_module,
};

#define N_MODULES (sizeof portable_modules / sizeof portable_modules[0])

#if LOSSD_SIMD_HAVE_AVX2
/* The same rows from the AVX2 twins (simd.h), in the same order. */
static const lossd__module *const avx2_modules[N_MODULES] = {
    &lossd__regression_module_avx2,        &lossd__classification_module_avx2,
    &lossd__detection_module_avx2,         &lossd__box_module_avx2,
    &lossd__oriented_module_avx2,          &lossd__gaussian_module_avx2,
    &lossd__activation_module_avx2,        &lossd__info_module_avx2,
    &lossd__pairwise_module_avx2,          &lossd__oriented_pairwise_module_avx2,
    &lossd__gaussian_pairwise_module_avx2,
};
#endif

bool lossd__simd_avx2(void)
{
#if LOSSD_SIMD_HAVE_AVX2
    /* libgcc reads CPUID once; init is idempotent and needed before constructors ran */
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return false;
#endif
}

/*
 * The module tables this process serves: one row set for its whole life,
 * so that a row found once stays the row.
 */
static const lossd__module *const *module_set(void)
{
#if LOSSD_SIMD_HAVE_AVX2
    if (lossd__simd_avx2())
        return avx2_modules;
#endif
    return portable_modules;
}

static const char *const kind_names[LOSSD_KIND_COUNT] = {"loss", "activation", "info", "pairwise"};

const char *lossd_kind_name(lossd_kind kind)
{
    return (unsigned)kind < LOSSD_KIND_COUNT ? kind_names[kind] : "unknown";
}

size_t lossd_function_count(void)
{
    const lossd__module *const *modules = module_set();
    size_t n = 0;
    for (size_t m = 0; m < N_MODULES; m++)
        n += modules[m]->count;
    return n;
}

const lossd_function *lossd_function_at(size_t i)
{
    const lossd__module *const *modules = module_set();
    for (size_t m = 0; m < N_MODULES; m++) {
        if (i < modules[m]->count)
            return &modules[m]->functions[i];
        i -= modules[m]->count;
    }
    return NULL;
}

const lossd_function *lossd_function_find(lossd_kind kind, const char *name)
{
    const lossd__module *const *modules = module_set();
    for (size_t m = 0; m < N_MODULES; m++)
        for (size_t i = 0; i < modules[m]->count; i++) {
            const lossd_function *fn = &modules[m]->functions[i];
            if (fn->kind == kind && strcmp(fn->name, name) == 0)
                return fn;
        }
    return NULL;
}

int lossd__param_index(const lossd_function *fn, const char *name)
{
    for (size_t i = 0; i < fn->n_params; i++)
        if (strcmp(fn->params[i].name, name) == 0)
            return (int)i;
    return -1;
}

const lossd_param_spec *lossd_function_param(const lossd_function *fn, const char *name)
{
    int i = lossd__param_index(fn, name);
    return i < 0 ? NULL : &fn->params[i];
}

const char *lossd_function_reported_term(const lossd_function *fn, size_t i, size_t *term,
                                         const lossd_term_alias **alias)
{
    if (!(fn->flags & LOSSD_FN_TERMS))
        return NULL;
    size_t n_terms = 0;
    while (fn->terms[n_terms])
        n_terms++;
    const lossd_term_alias *found = NULL;
    size_t index = i;
    if (i >= n_terms) {
        for (size_t k = 0; fn->term_aliases && fn->term_aliases[k].name; k++)
            if (k == i - n_terms)
                found = &fn->term_aliases[k];
        if (found == NULL)
            return NULL;
        for (index = 0; index < n_terms && strcmp(fn->terms[index], found->term) != 0; index++)
            ;
        LOSSD_ASSERT(index < n_terms); /* an alias names one of the row's terms */
        if (index == n_terms)
            return NULL;
    }
    if (term)
        *term = index;
    if (alias)
        *alias = found;
    return found ? found->name : fn->terms[i];
}

const char *lossd_param_type_name(lossd_param_type type)
{
    switch (type) {
    case LOSSD_PARAM_NUMBER:
        return "number";
    case LOSSD_PARAM_INTEGER:
        return "integer";
    case LOSSD_PARAM_BOOL:
        return "boolean";
    case LOSSD_PARAM_CHOICE:
        return "string";
    case LOSSD_PARAM_TENSOR:
        return "tensor";
    case LOSSD_PARAM_LOG_BASE:
        return "number or \"e\"";
    }
    return "unknown";
}

/* The shortest %g text that reads back the same ("0.1", "1e-07"); whole numbers plainly. */
static int number_text(char *buf, size_t size, double x)
{
    char tmp[32];
    if (x == floor(x) && fabs(x) < 1e15)
        return snprintf(buf, size, "%.0f", x);
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, x);
        if (strtod(tmp, NULL) == x)
            break;
    }
    return snprintf(buf, size, "%s", tmp);
}

int lossd_param_domain_text(const lossd_param_spec *spec, char *buf, size_t size)
{
    const lossd_domain *d = &spec->domain;
    char lo[32], hi[32], extra[32];
    switch (spec->type) {
    case LOSSD_PARAM_BOOL:
        return snprintf(buf, size, "true or false");
    case LOSSD_PARAM_LOG_BASE:
        return snprintf(buf, size, "\"e\", or > 0 and != 1");
    case LOSSD_PARAM_CHOICE: {
        int n = snprintf(buf, size, "one of:");
        for (size_t i = 0; spec->choices[i] && n >= 0; i++) {
            size_t used = (size_t)n;
            n += snprintf(used < size ? buf + used : NULL, used < size ? size - used : 0, "%s %s",
                          i ? "," : "", spec->choices[i]);
        }
        return n;
    }
    case LOSSD_PARAM_TENSOR:
        switch (spec->shape) {
        case LOSSD_PSHAPE_BROADCAST:
            return snprintf(buf, size, "broadcastable to input's shape");
        case LOSSD_PSHAPE_CLASSES:
            return snprintf(buf, size, "(C): one per class");
        case LOSSD_PSHAPE_CHANNELS:
            return snprintf(buf, size, "a number, or (C): one per channel (axis 1)");
        case LOSSD_PSHAPE_NONE:
            break;
        }
        return snprintf(buf, size, "any");
    case LOSSD_PARAM_NUMBER:
    case LOSSD_PARAM_INTEGER:
        break;
    }
    number_text(lo, sizeof lo, d->lo);
    number_text(hi, sizeof hi, d->hi);
    char base[80];
    if (isinf(d->lo) && isinf(d->hi))
        snprintf(base, sizeof base, "any");
    else if (isinf(d->hi))
        snprintf(base, sizeof base, "%s %s", d->lo_open ? ">" : ">=", lo);
    else if (isinf(d->lo))
        snprintf(base, sizeof base, "%s %s", d->hi_open ? "<" : "<=", hi);
    else
        snprintf(base, sizeof base, "%c%s, %s%c", d->lo_open ? '(' : '[', lo, hi,
                 d->hi_open ? ')' : ']');
    if (d->has_also) {
        number_text(extra, sizeof extra, d->also);
        return snprintf(buf, size, "%s or %s", base, extra);
    }
    if (d->has_except) {
        number_text(extra, sizeof extra, d->except);
        if (isinf(d->lo) && isinf(d->hi))
            return snprintf(buf, size, "!= %s", extra);
        return snprintf(buf, size, "%s and != %s", base, extra);
    }
    return snprintf(buf, size, "%s", base);
}

int lossd_param_default_text(const lossd_param_spec *spec, char *buf, size_t size)
{
    if (spec->default_text)
        return snprintf(buf, size, "%s", spec->default_text);
    switch (spec->type) {
    case LOSSD_PARAM_BOOL:
        return snprintf(buf, size, "%s", spec->default_number != 0 ? "true" : "false");
    case LOSSD_PARAM_CHOICE:
        return snprintf(buf, size, "%s", spec->choices[0]);
    case LOSSD_PARAM_TENSOR:
        return snprintf(buf, size, "none");
    case LOSSD_PARAM_LOG_BASE:
        if (spec->default_number == 0)
            return snprintf(buf, size, "e");
        break;
    case LOSSD_PARAM_NUMBER:
    case LOSSD_PARAM_INTEGER:
        break;
    }
    return number_text(buf, size, spec->default_number);
}
