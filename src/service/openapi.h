/* SPDX-License-Identifier: MIT */
/*
 * openapi.h - lossd's OpenAPI 3.0 document, built from the function
 * registry and the operand rule table by this binary: one POST path per
 * function with exactly the fields it accepts, each parameter's type,
 * default and domain from its constraints, each operand's schema from its
 * rule's row (nested arrays, the last axis' length, the values' range or
 * integers), the service's other /v1 endpoints and /v2's. GET
 * /openapi.json serves it as JSON, GET /openapi.yaml as YAML written from
 * the same tree (yaml.h): one document, two spellings, nothing committed
 * to build it from.
 *
 * The pieces that are not the registry's (the reply schemas, the error
 * replies, /v2's schemas) are written here; openapi_v2.c holds /v2's.
 *
 * Threading: lossd_openapi_create() runs once at start-up; the served
 * document is read-only afterwards (any thread).
 */
#ifndef LOSSD_SERVICE_OPENAPI_H
#define LOSSD_SERVICE_OPENAPI_H

#include <jansson.h>

#include "web.h"

/*
 * The document as a tree: a new reference (the caller decrefs it), or
 * NULL when memory runs out. The same on every call.
 */
json_t *lossd_openapi_document(void);

/* The document served: built once, both spellings, each also gzip'd. */
typedef struct lossd_openapi lossd_openapi;

/* Builds it. NULL when memory runs out. */
lossd_openapi *lossd_openapi_create(void);
void lossd_openapi_destroy(lossd_openapi *doc);

/*
 * The document at `path` ("/openapi.yaml" or "/openapi.json") as a file
 * to serve (web.h: its bytes, its gzip form, its Content-Type), or NULL
 * for any other path. Owned by doc, valid until lossd_openapi_destroy().
 */
const lossd_asset *lossd_openapi_find(const lossd_openapi *doc, const char *path);

/*
 * /v2's paths, schemas and error replies (openapi_v2.c), added to the
 * document's `paths`, `components.schemas` and `components.responses`.
 * `errors` lists the error replies by status, {"400": "text", ...}, as
 * /v1's are; /v2 takes the same statuses with its own error body. Returns
 * 0, or -1 when memory runs out.
 */
int lossd_openapi_add_v2(json_t *paths, json_t *schemas, json_t *responses, const json_t *errors);

#endif /* LOSSD_SERVICE_OPENAPI_H */
