/* SPDX-License-Identifier: MIT */
/*
 * serviceutil.c - helpers the service's Check suites share below HTTP
 * (see serviceutil.h).
 */
#define _GNU_SOURCE /* asprintf */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../src/service/arena.h"
#include "../src/service/buf.h"
#include "serviceutil.h"

int run_service_suite(Suite *s)
{
    json_object_seed(0);   /* before any thread, as main.c does */
    lossd_arena_install(); /* jansson's allocator, as main.c installs it */
    return run_suite(s);
}

json_t *parse_json(const char *text)
{
    json_error_t error;
    json_t *v = json_loads(text, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &error);
    ck_assert_msg(v != NULL, "not valid JSON (%s, line %d, column %d): %.300s", error.text,
                  error.line, error.column, text);
    return v;
}

double number_at(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    ck_assert_msg(json_is_number(v), "\"%s\" is not a number", key);
    return json_number_value(v);
}

const char *string_at(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    ck_assert_msg(json_is_string(v), "\"%s\" is not a string", key);
    return json_string_value(v);
}

double element_at(const json_t *array, size_t i)
{
    const json_t *v = json_array_get(array, i);
    ck_assert_msg(json_is_number(v), "element %zu is not a number", i);
    return json_number_value(v);
}

void expect_fault(const lossd_fault *f, lossd_fault_kind kind, const char *field,
                  const char *fragment)
{
    ck_assert_msg(f->kind == kind, "fault %s (%d), want %s; message: %s", lossd_fault_code(f->kind),
                  (int)f->kind, lossd_fault_code(kind), f->message);
    if (field)
        ck_assert_str_eq(f->field, field);
    if (fragment)
        ck_assert_msg(strstr(f->message, fragment) != NULL, "message \"%s\" lacks \"%s\"",
                      f->message, fragment);
}

void expect_tensor(const lossd_tensor *t, int rank, const size_t *shape, const double *data)
{
    ck_assert_int_eq(t->rank, rank);
    size_t size = 1;
    for (int d = 0; d < rank; d++) {
        ck_assert_uint_eq(t->shape[d], shape[d]);
        size *= shape[d];
    }
    ck_assert_uint_eq(t->size, size);
    for (size_t i = 0; i < size; i++)
        ck_assert_msg(same_bits(t->data[i], data[i]), "element %zu: %.17g, want %.17g", i,
                      t->data[i], data[i]);
}

int bind_body(binding *b, lossd_kind kind, const char *name, const char *body, size_t max_elements)
{
    memset(b, 0, sizeof *b);
    const lossd_function *fn = must_find(kind, name);
    json_t *obj = lossd_codec_load(body, strlen(body), NULL, &b->fault);
    ck_assert_msg(obj != NULL, "body refused: %s", b->fault.message);
    lossd_limits lim = {max_elements, 1024};
    int rc = lossd_codec_bind(fn, obj, &lim, &b->call, &b->store, &b->nonfinite_strings, &b->fault);
    json_decref(obj);
    ck_assert_int_eq(rc == 0, b->fault.kind == LOSSD_FAULT_NONE);
    return rc;
}

void binding_cleanup(binding *b)
{
    lossd_call_cleanup(&b->call);
    lossd_tensors_free(&b->store);
}

void bind_ok(binding *b, lossd_kind kind, const char *name, const char *body)
{
    int rc = bind_body(b, kind, name, body, 1u << 24);
    ck_assert_msg(rc == 0, "%s/%s %s: %s", lossd_kind_name(kind), name, body, b->fault.message);
}

char *reply_text(lossd_kind kind, const char *name, const char *body, const lossd_exec *exec)
{
    binding b;
    bind_ok(&b, kind, name, body);
    lossd_error err = {0};
    ck_assert_msg(lossd_call_compute(&b.call, &err) == 0, "%s/%s %s: %s", lossd_kind_name(kind),
                  name, body, err.message);
    lossd_buf out;
    lossd_buf_init(&out, 0);
    lossd_number_format how = {exec, b.nonfinite_strings};
    lossd_codec_write_reply(&b.call, &how, &out);
    ck_assert(!lossd_buf_failed(&out));
    size_t len;
    char *text = lossd_buf_steal(&out, &len);
    ck_assert_uint_eq(strlen(text), len);
    binding_cleanup(&b);
    return text;
}

lossd_route route_of(const char *method, const char *path)
{
    lossd_route r;
    lossd_fault f = {0};
    lossd_route_find(method, path, &r, &f);
    return r;
}

char *temp_file(const char *content)
{
    const char *dir = getenv("TMPDIR");
    char *path;
    ck_assert_int_gt(asprintf(&path, "%s/lossd-check-XXXXXX", dir && *dir ? dir : "/tmp"), 0);
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    size_t len = strlen(content);
    ck_assert_int_eq(write(fd, content, len), (ssize_t)len);
    close(fd);
    return path;
}
