/* SPDX-License-Identifier: MIT */
/*
 * handler.c - compute and batch requests (see handler.h).
 *
 * Request bodies are parsed into an arena (arena.h): a single request
 * releases it as soon as its tensors are read - the tree costs several
 * times the body, and the reply is built after it. A batch keeps its tree
 * until every job is done, and its jobs share one budget of --max-elements
 * numbers for inputs and one for outputs.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "../debug.h"
#include "handler.h"
#include "v2.h"

/* Below this many numbers read or written, a call runs on one thread. */
#define PARALLEL_COMPUTE_MIN 65536

void lossd_reply_init(lossd_reply *reply)
{
    memset(reply, 0, sizeof *reply);
    reply->status = 200;
    lossd_buf_init(&reply->body, 0);
}

void lossd_reply_cleanup(lossd_reply *reply)
{
    lossd_buf_cleanup(&reply->body);
    if (reply->release)
        reply->release(reply->owner);
    free(reply->compressed);
    reply->release = NULL;
    reply->owner = NULL;
    reply->compressed = NULL;
    reply->n_segments = 0;
}

void lossd_reply_fault(lossd_reply *reply, const lossd_fault *f, bool v2)
{
    LOSSD_ASSERT(reply != NULL && f != NULL && f->kind != LOSSD_FAULT_NONE);
    reply->status = lossd_fault_status(f->kind);
    reply->fault = f->kind;
    reply->content_type = NULL;
    lossd_buf_reset(&reply->body);
    if (v2)
        lossd_fault_write_v2(f, &reply->body);
    else
        lossd_fault_write(f, &reply->body);
}

typedef struct {
    lossd_call *call;
    size_t blocks_per_task;
} block_job;

static void run_blocks(void *arg, size_t task)
{
    block_job *job = arg;
    size_t first = task * job->blocks_per_task;
    lossd_call_run(job->call, first, first + job->blocks_per_task);
}

void lossd_handler_compute(const lossd_handler *h, lossd_call *c)
{
    size_t width = h->exec ? h->exec->width : 1;
    /* A pairwise matrix is small in and large out: count whichever is larger. */
    size_t work = c->operand[0].size > c->output.size ? c->operand[0].size : c->output.size;
    if (width < 2 || c->n_blocks < 2 || work < PARALLEL_COMPUTE_MIN) {
        lossd_call_run(c, 0, c->n_blocks);
    } else {
        /* A few tasks per worker balances uneven blocks without much overhead. */
        size_t tasks = 4 * width < c->n_blocks ? 4 * width : c->n_blocks;
        block_job job = {c, (c->n_blocks + tasks - 1) / tasks};
        lossd_exec_for(h->exec, (c->n_blocks + job.blocks_per_task - 1) / job.blocks_per_task,
                       run_blocks, &job);
    }
    lossd_call_finish(c);
}

/*
 * Binds, computes and writes one function call from its JSON request. When
 * `tree` is given, it holds obj's whole parse tree and is released as soon
 * as the tensors are read: the tree costs several times the body, and the
 * reply is built after it. `output_budget` (may be NULL) caps the output
 * numbers of a batch.
 */
static void serve_call(const lossd_handler *h, const lossd_function *fn, const json_t *obj,
                       lossd_arena *tree, _Atomic size_t *output_budget, lossd_reply *reply)
{
    lossd_fault f = {0};
    lossd_tensors store = {0};
    lossd_call c;
    lossd_error err = {0};
    bool strings = false;
    int rc = lossd_codec_bind(fn, obj, &h->limits, &c, &store, &strings, &f);
    reply->elements += store.elements;
    if (tree)
        lossd_arena_release(tree);
    if (rc == 0 && lossd_call_prepare(&c, &err) < 0)
        rc = lossd_fault_from_error(&f, &err);
    if (rc == 0 && output_budget) {
        size_t need = c.output.size + (c.grad ? c.operand[0].size : 0);
        size_t left = atomic_load(output_budget);
        do {
            if (need > left) {
                rc = lossd_fault_set(&f, LOSSD_FAULT_TOO_LARGE, NULL,
                                     "the batch's replies would hold more than %zu numbers "
                                     "(--max-elements)",
                                     h->limits.max_elements);
                break;
            }
        } while (!atomic_compare_exchange_weak(output_budget, &left, left - need));
    }
    if (rc == 0) {
        lossd_handler_compute(h, &c);
        /* The reply needs the operands' shapes only: free their numbers first. */
        lossd_tensors_free(&store);
        lossd_number_format how = {h->exec, strings};
        lossd_codec_write_reply(&c, &how, &reply->body);
        reply->status = 200;
        if (lossd_buf_failed(&reply->body))
            lossd_fault_set(&f, LOSSD_FAULT_INTERNAL, NULL, "out of memory writing the reply");
    }
    if (f.kind != LOSSD_FAULT_NONE)
        lossd_reply_fault(reply, &f, false);
    lossd_call_cleanup(&c);
    lossd_tensors_free(&store);
}

/* ------------------------------------------------------------ batch */

typedef struct {
    const lossd_handler *h;
    json_t *jobs;
    lossd_reply *replies;
    char **ids; /* each job's "id", as JSON text (malloc'd), or NULL */
    _Atomic size_t output_budget;
} batch;

static void batch_job(void *arg, size_t i)
{
    batch *b = arg;
    lossd_reply *reply = &b->replies[i];
    lossd_buf_init(&reply->body, 0);
    lossd_fault f = {0};
    json_t *job = json_array_get(b->jobs, i);
    json_t *path = json_object_get(job, "path"), *body = json_object_get(job, "body");
    json_t *id = json_object_get(job, "id");
    const char *key;
    json_t *v;
    if (!json_is_object(job)) {
        lossd_fault_set(&f, LOSSD_FAULT_INVALID_ARGUMENT, NULL,
                        "a job must be an object {\"path\": ..., \"body\": {...}}");
    } else if (id && !json_is_string(id) && !json_is_null(id)) {
        lossd_fault_set(&f, LOSSD_FAULT_INVALID_ARGUMENT, "id", "expected a string, got %s",
                        lossd_codec_type_name(id));
    } else if (!json_is_string(path)) {
        lossd_fault_set(&f, LOSSD_FAULT_INVALID_ARGUMENT, "path",
                        path ? "expected a string" : "required");
    } else if (!json_is_object(body)) {
        lossd_fault_set(&f, LOSSD_FAULT_INVALID_ARGUMENT, "body",
                        body ? "expected an object" : "required");
    } else {
        json_object_foreach(job, key, v)
        {
            if (strcmp(key, "path") != 0 && strcmp(key, "body") != 0 && strcmp(key, "id") != 0) {
                lossd_fault_set(&f, LOSSD_FAULT_INVALID_ARGUMENT, key,
                                "unknown field; a job takes: path, body, id");
                break;
            }
        }
    }
    /* The id is echoed in the job's result, whatever becomes of the job. */
    if (json_is_string(id))
        b->ids[i] = json_dumps(id, JSON_ENCODE_ANY | JSON_ENSURE_ASCII);
    lossd_route route;
    const char *query = f.kind == LOSSD_FAULT_NONE ? strchr(json_string_value(path), '?') : NULL;
    if (query) /* as on the compute endpoints: parameters never hide in a query string */
        lossd_fault_set(&f, LOSSD_FAULT_INVALID_ARGUMENT, "path",
                        "a job's path takes no query string, got %.64s; send parameters in "
                        "the job's body",
                        query);
    if (f.kind == LOSSD_FAULT_NONE &&
        lossd_route_find("POST", json_string_value(path), &route, &f) == 0 &&
        route.endpoint != LOSSD_ROUTE_COMPUTE)
        lossd_fault_set(&f, LOSSD_FAULT_INVALID_ARGUMENT, "path",
                        "a job's path must be a function, such as /v1/loss/giou");
    if (f.kind != LOSSD_FAULT_NONE) {
        lossd_reply_fault(reply, &f, false);
        return;
    }
    serve_call(b->h, route.fn, body, NULL, &b->output_budget, reply);
}

/* Counts the numbers in a JSON value (depth is bounded by lossd_codec_load). */
static size_t count_numbers(const json_t *v)
{
    size_t n = 0, i;
    const char *key;
    json_t *item;
    if (json_is_number(v))
        return 1;
    if (json_is_array(v))
        json_array_foreach(v, i, item) n += count_numbers(item);
    else if (json_is_object(v))
        json_object_foreach((json_t *)v, key, item) n += count_numbers(item);
    return n;
}

static void serve_batch(const lossd_handler *h, json_t *root, lossd_arena *tree, lossd_reply *reply)
{
    lossd_fault f = {0};
    const char *key;
    json_t *v, *jobs = json_object_get(root, "jobs");
    json_object_foreach(root, key, v)
    {
        if (strcmp(key, "jobs") != 0) {
            lossd_fault_set(&f, LOSSD_FAULT_INVALID_ARGUMENT, key,
                            "unknown field; /v1/batch takes: jobs");
            break;
        }
    }
    if (f.kind == LOSSD_FAULT_NONE && !json_is_array(jobs))
        lossd_fault_set(&f, LOSSD_FAULT_INVALID_ARGUMENT, "jobs",
                        jobs ? "expected an array of jobs" : "required");
    size_t n_jobs = json_array_size(jobs), n_numbers = 0;
    if (f.kind == LOSSD_FAULT_NONE && n_jobs > h->limits.max_jobs)
        lossd_fault_set(&f, LOSSD_FAULT_TOO_LARGE, "jobs", "%zu jobs, more than %zu (--max-jobs)",
                        n_jobs, h->limits.max_jobs);
    if (f.kind == LOSSD_FAULT_NONE && (n_numbers = count_numbers(jobs)) > h->limits.max_elements)
        lossd_fault_set(&f, LOSSD_FAULT_TOO_LARGE, "jobs",
                        "the batch holds %zu numbers, more than %zu (--max-elements)", n_numbers,
                        h->limits.max_elements);
    batch b = {.h = h, .jobs = jobs};
    if (f.kind == LOSSD_FAULT_NONE &&
        ((b.replies = calloc(n_jobs ? n_jobs : 1, sizeof *b.replies)) == NULL ||
         (b.ids = calloc(n_jobs ? n_jobs : 1, sizeof *b.ids)) == NULL))
        lossd_fault_set(&f, LOSSD_FAULT_INTERNAL, NULL, "out of memory");
    if (f.kind != LOSSD_FAULT_NONE) {
        free(b.replies);
        lossd_arena_release(tree);
        lossd_reply_fault(reply, &f, false);
        return;
    }
    atomic_init(&b.output_budget, h->limits.max_elements);
    lossd_exec_for(h->exec, n_jobs, batch_job, &b);
    lossd_arena_release(tree);

    lossd_buf_puts(&reply->body, "{\"results\":[");
    for (size_t i = 0; i < n_jobs; i++) {
        lossd_buf_puts(&reply->body, i ? ",{" : "{");
        if (b.ids[i])
            lossd_buf_printf(&reply->body, "\"id\":%s,", b.ids[i]);
        free(b.ids[i]);
        lossd_buf_printf(&reply->body, "\"status\":%d,\"body\":", b.replies[i].status);
        lossd_buf_append(&reply->body, lossd_buf_data(&b.replies[i].body),
                         lossd_buf_len(&b.replies[i].body));
        lossd_buf_puts(&reply->body, "}");
        reply->elements += b.replies[i].elements;
        lossd_buf_cleanup(&b.replies[i].body);
    }
    lossd_buf_puts(&reply->body, "]}");
    free(b.replies);
    free(b.ids);
    reply->status = 200;
    if (lossd_buf_failed(&reply->body)) {
        lossd_fault_set(&f, LOSSD_FAULT_INTERNAL, NULL, "out of memory writing the reply");
        lossd_reply_fault(reply, &f, false);
    }
}

/* A /v1 call or batch: the body is parsed, then released, before anything is computed. */
static void serve_v1(const lossd_handler *h, lossd_request *req, lossd_reply *reply)
{
    LOSSD_ASSERT(req->route->endpoint == LOSSD_ROUTE_BATCH ||
                 (req->route->endpoint == LOSSD_ROUTE_COMPUTE && req->route->fn != NULL));
    lossd_fault f = {0};
    lossd_arena tree = {0};
    lossd_body *body = &req->body;
    json_t *root = lossd_codec_load(body->data ? body->data : "", body->len, &tree, &f);
    lossd_body_cleanup(body); /* parsed: the bytes are not needed any more */
    if (root == NULL) {
        lossd_arena_release(&tree);
        lossd_reply_fault(reply, &f, false);
        return;
    }
    if (req->route->endpoint == LOSSD_ROUTE_BATCH)
        serve_batch(h, root, &tree, reply);
    else
        serve_call(h, req->route->fn, root, &tree, NULL, reply);
}

/*
 * Compresses a large reply, header and binary outputs as one stream, and
 * frees what it was made from. Left as it is when compression fails (the
 * client gets it uncompressed: it said it takes identity too, or nothing).
 */
static void compress_reply(lossd_encoding encoding, lossd_reply *reply)
{
    lossd_piece pieces[1 + LOSSD_REPLY_MAX_SEGMENTS];
    size_t n = 0, total = lossd_buf_len(&reply->body);
    pieces[n++] = (lossd_piece){lossd_buf_data(&reply->body), lossd_buf_len(&reply->body)};
    for (size_t i = 0; i < reply->n_segments; i++) {
        pieces[n++] = reply->segments[i];
        total += reply->segments[i].len;
    }
    if (encoding == LOSSD_ENCODING_IDENTITY || total <= LOSSD_COMPRESS_MIN)
        return;
    size_t len;
    void *packed = lossd_compress(encoding, pieces, n, &len);
    if (packed == NULL)
        return;
    reply->compressed = packed;
    reply->compressed_len = len;
    reply->encoding = encoding;
    /* header_len (the JSON header's length) stays: it counts uncompressed bytes */
    lossd_buf_cleanup(&reply->body);
    if (reply->release)
        reply->release(reply->owner);
    reply->release = NULL;
    reply->owner = NULL;
    reply->n_segments = 0;
}

void lossd_handle(const lossd_handler *h, lossd_request *req, lossd_reply *reply)
{
    LOSSD_ASSERT(h != NULL && req != NULL && req->route != NULL && reply != NULL);
    LOSSD_ASSERT(req->body.data != NULL || req->body.len == 0);
    if (req->route->endpoint == LOSSD_ROUTE_V2_INFER)
        lossd_v2_infer(h, req->route->fn, &req->body, req->header_len, reply);
    else
        serve_v1(h, req, reply);
    compress_reply(req->accepts, reply);
}
