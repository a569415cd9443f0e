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
#include "../../src/service/handler.h"
#include "../../src/service/route.h"
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
    char *body = malloc(len ? len : 1);
    memcpy(body, data + n, len);
    lossd_reply reply = {0};
    lossd_buf_init(&reply.body, 0);
    lossd_handle_body(&handler, &route, body, len, &reply); /* frees body */
    static const int allowed[] = {200, 400, 404, 405, 413, 422};
    int known = 0;
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        known |= reply.status == allowed[i];
    check(known, "a status outside the contract", lossd_buf_data(&reply.body));
    json_error_t err;
    json_t *parsed = json_loadb(lossd_buf_data(&reply.body), lossd_buf_len(&reply.body), 0, &err);
    check(parsed != NULL && json_is_object(parsed), "a reply that is not a JSON object",
          lossd_buf_data(&reply.body));
    if (reply.status != 200)
        check(json_is_object(json_object_get(parsed, "error")), "an error without an error object",
              lossd_buf_data(&reply.body));
    json_decref(parsed);
    lossd_buf_cleanup(&reply.body);
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
    if (lossd_codec_bind(fn, root, &lim, &c, &store, &f) == 0) {
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
