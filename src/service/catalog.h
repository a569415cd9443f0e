/*
 * catalog.h - GET /v1 and GET /v1/functions, built once from the function
 * registry: kind, name, path, summary, LaTeX formula, reference, operand
 * shapes, parameters (name, type, default, domain, summary), reductions,
 * per-term extras and whether gradients are available.
 *
 * Threading: built before the server starts; read-only afterwards.
 */
#ifndef LOSSD_SERVICE_CATALOG_H
#define LOSSD_SERVICE_CATALOG_H

#include <stddef.h>

/* The catalog and the /v1 summary as compact JSON text (caller frees). NULL on failure. */
char *lossd_catalog_functions_json(void);
char *lossd_catalog_v1_json(void);

#endif /* LOSSD_SERVICE_CATALOG_H */
