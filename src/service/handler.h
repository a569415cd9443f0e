/*
 * handler.h - serving one compute request from its raw body: parse, bind,
 * validate, compute (its blocks spread over the pool through exec),
 * serialise; and /v1/batch, whose jobs run in parallel the same way.
 * Knows nothing of libmicrohttpd: the server hands it bytes and gets back
 * a status and a body.
 *
 * Threading: any worker; a reply belongs to the request that made it.
 */
#ifndef LOSSD_SERVICE_HANDLER_H
#define LOSSD_SERVICE_HANDLER_H

#include "buf.h"
#include "codec.h"
#include "exec.h"
#include "fault.h"
#include "route.h"

typedef struct {
    lossd_limits limits;
    const lossd_exec *exec; /* NULL: compute on the calling thread */
} lossd_handler;

typedef struct {
    int status;
    lossd_fault_kind fault; /* LOSSD_FAULT_NONE on success */
    lossd_buf body;         /* the JSON reply; the caller cleans it up */
    size_t elements;        /* numbers read from the request's tensors */
} lossd_reply;

/*
 * Serves a compute or batch route from its body bytes, and frees the body
 * (malloc'd, may be NULL when empty) as soon as it is parsed: a large
 * body's memory is given back before its reply is built. Always fills
 * reply.
 */
void lossd_handle_body(const lossd_handler *h, const lossd_route *route, char *body, size_t len,
                       lossd_reply *reply);

/* Fills reply with a fault's status and error body. */
void lossd_reply_fault(lossd_reply *reply, const lossd_fault *f);

#endif /* LOSSD_SERVICE_HANDLER_H */
