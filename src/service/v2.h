/* SPDX-License-Identifier: MIT */
/*
 * v2.h - the Open Inference Protocol's REST binding (KServe v2) with
 * Triton's binary tensor data extension: server and model metadata and
 * the model repository index (v2_meta.c), and inference (v2.c). The models themselves - inputs,
 * outputs, datatypes, binding - are model.h's, shared with gRPC.
 *
 * A request may be JSON alone, or a JSON header of
 * Inference-Header-Content-Length bytes followed by raw little-endian
 * tensors. FP64 tensors are read in place from the request body (which the
 * server allocates so that they are aligned: body.h); FP32, INT64 and
 * INT32 are converted once. Binary outputs are sent from the call's own
 * arrays without a copy (lossd_reply's segments). A repeated binary
 * header is read from this thread's parsed copy (v2_cache.h).
 *
 * Threading: metadata is built once at start-up (any thread may read it);
 * inference runs on the worker that owns the request.
 */
#ifndef LOSSD_SERVICE_V2_H
#define LOSSD_SERVICE_V2_H

#include <stddef.h>

#include <lossd/lossd.h>

#include "body.h"
#include "handler.h"

/*
 * Reads an Inference-Header-Content-Length value: a plain decimal number
 * of bytes (no sign, no suffix; optional whitespace around it is ignored,
 * as around any header value). Returns 0 and sets *len, or
 * -1 when the value is not one.
 */
int lossd_v2_header_len(const char *value, size_t *len);

/* GET /v2: {"name","version","extensions"}. malloc'd; NULL when out of memory. */
char *lossd_v2_server_json(void);

/*
 * GET /v2/models/{kind.name}: name, versions, platform, inputs and outputs
 * (name, datatype, shape with -1 for variable dimensions, plus the
 * datatypes accepted and whether the input is optional) and the scalar
 * parameters (name, type, default, domain). malloc'd; NULL when out of memory.
 */
char *lossd_v2_model_json(const lossd_function *fn);

/*
 * POST /v2/repository/index (Triton's model repository extension): every
 * model, as [{"name", "version", "state": "READY"}], in registry order.
 * Takes over `body` (none, or {"ready": boolean}) and frees it. Always
 * fills reply: 200 with the index, or a v2 error body naming the field.
 * Any thread.
 */
void lossd_v2_repository_index(lossd_body *body, lossd_reply *reply);

/*
 * POST /v2/models/{kind.name}/infer. Takes over `body` (freed here, as
 * soon as its tensors are no longer needed); header_len is the request's
 * Inference-Header-Content-Length or LOSSD_NO_HEADER_LEN. Always fills
 * reply: 200 with the outputs, or a v2 error body.
 */
void lossd_v2_infer(const lossd_handler *h, const lossd_function *fn, lossd_body *body,
                    size_t header_len, lossd_reply *reply);

#endif /* LOSSD_SERVICE_V2_H */
