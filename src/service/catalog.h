/* SPDX-License-Identifier: MIT */
/*
 * catalog.h - GET /v1, GET /v1/functions, one kind's functions and one
 * function's entry, built from the function registry: kind, name, path,
 * summary, LaTeX formula, reference, operand shapes, parameters (name,
 * type, default, domain, summary), reductions, per-term extras and
 * whether gradients are available.
 *
 * Threading: built before the server starts; read-only afterwards.
 */
#ifndef LOSSD_SERVICE_CATALOG_H
#define LOSSD_SERVICE_CATALOG_H

#include <stddef.h>

#include <jansson.h>
#include <lossd/lossd.h>

/*
 * The catalog and the /v1 summary (with links to the catalog, the OpenAPI
 * document and the playground) as compact JSON text (caller frees). NULL
 * on failure.
 */
char *lossd_catalog_functions_json(void);
char *lossd_catalog_v1_json(void);

/*
 * GET /v1/functions/{kind}: {"kind", "functions", "count"}, the catalog's
 * entries of that kind alone, in the same form. Compact JSON text (caller
 * frees); NULL on failure.
 */
char *lossd_catalog_kind_json(lossd_kind kind);

/*
 * One parameter as the catalog describes it: {"name", "type", "default",
 * "domain", "summary", "required"?}. A new reference; NULL on failure.
 * (The /v2 model metadata lists parameters the same way.)
 */
json_t *lossd_catalog_param(const lossd_param_spec *spec);

/*
 * The reductions a loss takes, in the catalog's order: ["mean", "sum",
 * "none"], and "batchmean" for LOSSD_FN_BATCHMEAN. A new reference; NULL
 * on failure.
 */
json_t *lossd_catalog_reductions(const lossd_function *fn);

/*
 * GET /v1/functions/{kind}/{name}: fn's catalog entry plus "example", a
 * request body that computes (operands fitting its shape and value rules,
 * every parameter at its default). Compact JSON text (caller frees); NULL
 * on failure, or when fn has an operand rule with no example yet.
 */
char *lossd_catalog_function_json(const lossd_function *fn);

#endif /* LOSSD_SERVICE_CATALOG_H */
