/* SPDX-License-Identifier: MIT */
/*
 * fuzz.c - the fuzzing entry points (see fuzz.h).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <lossd/lossd.h>

#include "../../src/service/arena.h"
#include "../../src/service/codec.h"
#include "../../src/service/compress.h"
#include "../../src/service/handler.h"
#include "../../src/service/route.h"
#include "../../src/service/v2.h"
#include "fuzz.h"

/* Small limits keep each run fast; they are still the service's own checks. */
static const lossd_handler handler = {{4096, 16}, NULL};

void fuzz_init(void)
{
    static int done;
    if (done++)
        return;
    json_object_seed(1);
    lossd_arena_install();
}

static void check(int ok, const char *what, const char *detail)
{
    if (!ok) {
        fprintf(stderr, "fuzz: %s: %.300s\n", what, detail ? detail : "");
        abort();
    }
}

void fuzz_request(const uint8_t *data, size_t size)
{
    fuzz_init();
    char path[130];
    size_t n = 0;
    while (n < size && n < sizeof path - 1 && data[n] != '\n') {
        path[n] = (char)data[n];
        n++;
    }
    path[n] = '\0';
    if (n < size && data[n] == '\n')
        n++;
    lossd_route route;
    lossd_fault f = {0};
    if (lossd_route_find("POST", path, &route, &f) < 0 || !route.compute)
        return;
    size_t len = size - n;
    lossd_request req = {&route, {0}, LOSSD_NO_HEADER_LEN, LOSSD_ENCODING_IDENTITY};
    lossd_body_init(&req.body, 0);
    lossd_body_append(&req.body, data + n, len, len);
    lossd_reply reply;
    lossd_reply_init(&reply);
    lossd_handle(&handler, &req, &reply); /* frees the body */
    static const int allowed[] = {200, 400, 404, 405, 413, 422};
    int known = 0;
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        known |= reply.status == allowed[i];
    check(known, "a status outside the contract", lossd_buf_data(&reply.body));
    json_error_t err;
    json_t *parsed = json_loadb(lossd_buf_data(&reply.body), lossd_buf_len(&reply.body), 0, &err);
    /* every reply is one JSON object, but the repository index's list of models */
    bool index = route.endpoint == LOSSD_ROUTE_V2_INDEX && reply.status == 200;
    check(parsed != NULL && (index ? json_is_array(parsed) : json_is_object(parsed)),
          "a reply that is not a JSON object", lossd_buf_data(&reply.body));
    /* /v1's errors are an object; the Open Inference Protocol's (a /v2 path) a string */
    if (reply.status != 200 && route.v2)
        check(json_is_string(json_object_get(parsed, "error")), "a /v2 error without its string",
              lossd_buf_data(&reply.body));
    else if (reply.status != 200)
        check(json_is_object(json_object_get(parsed, "error")), "an error without an error object",
              lossd_buf_data(&reply.body));
    json_decref(parsed);
    lossd_reply_cleanup(&reply);
}

void fuzz_json(const uint8_t *data, size_t size)
{
    fuzz_init();
    if (size == 0)
        return;
    const lossd_function *fn = lossd_function_at(data[0] % lossd_function_count());
    lossd_fault f = {0};
    json_t *root = lossd_codec_load((const char *)data + 1, size - 1, NULL, &f);
    if (root == NULL) {
        check(f.kind == LOSSD_FAULT_INVALID_JSON, "a load failure that is not invalid_json",
              f.message);
        return;
    }
    lossd_call c;
    lossd_tensors store = {0};
    lossd_limits lim = handler.limits;
    bool strings;
    if (lossd_codec_bind(fn, root, &lim, &c, &store, &strings, &f) == 0) {
        lossd_error err = {0};
        if (lossd_call_prepare(&c, &err) < 0)
            check(err.message[0] != '\0', "a core error without a message", fn->name);
    } else {
        check(f.kind == LOSSD_FAULT_INVALID_ARGUMENT || f.kind == LOSSD_FAULT_TOO_LARGE,
              "a bind failure of an unexpected kind", f.message);
        check(f.message[0] != '\0', "a fault without a message", fn->name);
    }
    lossd_call_cleanup(&c);
    lossd_tensors_free(&store);
    json_decref(root);
}

/* The body as the server would hold it: inflated (when flagged) under --max-body. */
static bool inflated(lossd_body *body, lossd_encoding e, const uint8_t *in, size_t n)
{
    if (e == LOSSD_ENCODING_IDENTITY)
        return lossd_body_append(body, in, n, n);
    lossd_inflater *z = lossd_inflater_create(e);
    const char *why = "";
    bool ok = z && lossd_inflater_feed(z, in, n, body, 1 << 16, &why) == LOSSD_INFLATE_OK &&
              lossd_inflater_finish(z, &why) == LOSSD_INFLATE_OK;
    check(ok || why[0] != '\0', "an inflate failure without a reason", NULL);
    lossd_inflater_destroy(z);
    return ok;
}

/* Checks a 200's framing: a JSON header, then exactly the binary bytes it announces. */
static void check_v2_reply(const lossd_reply *reply)
{
    size_t binary = 0, header = reply->header_len ? reply->header_len : lossd_buf_len(&reply->body);
    for (size_t i = 0; i < reply->n_segments; i++)
        binary += reply->segments[i].len;
    check(header == lossd_buf_len(&reply->body), "a header length that is not the header's",
          lossd_buf_data(&reply->body));
    json_error_t err;
    json_t *root = json_loadb(lossd_buf_data(&reply->body), lossd_buf_len(&reply->body), 0, &err);
    check(json_is_object(root), "a reply header that is not a JSON object",
          lossd_buf_data(&reply->body));
    size_t announced = 0, i;
    json_t *o;
    json_array_foreach(json_object_get(root, "outputs"), i, o)
    {
        json_t *size = json_object_get(json_object_get(o, "parameters"), "binary_data_size");
        check(size == NULL || json_is_integer(size), "a binary_data_size that is not a number",
              lossd_buf_data(&reply->body));
        if (size)
            announced += (size_t)json_integer_value(size);
    }
    check(announced == binary, "binary sizes that do not add up", lossd_buf_data(&reply->body));
    check((binary > 0) == (reply->header_len > 0), "binary outputs without a header length",
          lossd_buf_data(&reply->body));
    json_decref(root);
}

void fuzz_v2(const uint8_t *data, size_t size)
{
    fuzz_init();
    if (size < 2)
        return;
    const lossd_function *fn = lossd_function_at(data[0] % lossd_function_count());
    unsigned flags = data[1];
    size_t n = 2;
    char value[40];
    size_t v = 0;
    while (n < size && data[n] != '\n' && v < sizeof value - 1)
        value[v++] = (char)data[n++];
    value[v] = '\0';
    if (n < size && data[n] == '\n')
        n++;
    /* the header values the server parses, on any text */
    (void)lossd_encoding_of(value);
    static const char *const accepts[] = {NULL, "gzip", "deflate;q=0.5, gzip;q=0", "*;q=0"};
    lossd_encoding accept = lossd_encoding_accepted(accepts[(flags >> 3) & 3]);
    size_t header_len = LOSSD_NO_HEADER_LEN;
    if ((flags & 1) && lossd_v2_header_len(value, &header_len) < 0)
        return; /* the server answers 400 before reading the body */

    char path[160];
    snprintf(path, sizeof path, "/v2/models/%s.%s/infer", lossd_kind_name(fn->kind), fn->name);
    lossd_route route;
    lossd_fault f = {0};
    check(lossd_route_find("POST", path, &route, &f) == 0, "a model path that does not route",
          path);
    lossd_encoding coding = (flags & 2)   ? LOSSD_ENCODING_GZIP
                            : (flags & 4) ? LOSSD_ENCODING_DEFLATE
                                          : LOSSD_ENCODING_IDENTITY;
    lossd_request req = {&route, {0}, header_len, accept};
    lossd_body_init(&req.body, header_len == LOSSD_NO_HEADER_LEN ? 0 : header_len);
    if (!inflated(&req.body, coding, data + n, size - n)) {
        lossd_body_cleanup(&req.body);
        return; /* 400 or 413 before any worker */
    }
    lossd_reply reply;
    lossd_reply_init(&reply);
    lossd_handle(&handler, &req, &reply);
    static const int allowed[] = {200, 400, 413, 422};
    int known = 0;
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        known |= reply.status == allowed[i];
    check(known, "a status outside the contract", lossd_buf_data(&reply.body));
    if (reply.compressed) { /* read it back as the client would */
        check(reply.compressed_len > 0, "an empty compressed reply", NULL);
    } else if (reply.status == 200) {
        check_v2_reply(&reply);
    } else {
        json_t *parsed =
            json_loadb(lossd_buf_data(&reply.body), lossd_buf_len(&reply.body), 0, NULL);
        check(json_is_string(json_object_get(parsed, "error")), "a v2 error that is not a string",
              lossd_buf_data(&reply.body));
        json_decref(parsed);
    }
    lossd_reply_cleanup(&reply);
}
