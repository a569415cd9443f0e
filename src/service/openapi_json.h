/* SPDX-License-Identifier: MIT */
/*
 * openapi_json.h - the few jansson builders openapi.c and openapi_v2.c
 * write the document with, private to them.
 *
 * Each takes its values over (jansson's "steals") and spreads failure: a
 * NULL value - an allocation that failed further down - makes the result
 * NULL and releases what was built, so the caller checks once, at the
 * top. oa_obj("type", json_string("array"), "items", x, NULL) reads as
 * the JSON it makes.
 *
 * Threading: no state; any thread.
 */
#ifndef LOSSD_SERVICE_OPENAPI_JSON_H
#define LOSSD_SERVICE_OPENAPI_JSON_H

#include <stdarg.h>
#include <stddef.h>

#include <jansson.h>

/* obj[key] = value; obj, or NULL (both released) when either is NULL or memory runs out. */
static inline json_t *oa_with(json_t *obj, const char *key, json_t *value)
{
    if (obj != NULL && value != NULL) {
        if (json_object_set_new(obj, key, value) == 0)
            return obj;
        value = NULL; /* jansson has released it */
    }
    json_decref(obj);
    json_decref(value);
    return NULL;
}

/* array + [value], spreading failure as oa_with. */
static inline json_t *oa_push(json_t *array, json_t *value)
{
    if (array != NULL && value != NULL) {
        if (json_array_append_new(array, value) == 0)
            return array;
        value = NULL;
    }
    json_decref(array);
    json_decref(value);
    return NULL;
}

/* Every key of `more` (released) set in obj, in order. */
static inline json_t *oa_merge(json_t *obj, json_t *more)
{
    if (obj != NULL && more != NULL && json_object_update(obj, more) == 0) {
        json_decref(more);
        return obj;
    }
    json_decref(obj);
    json_decref(more);
    return NULL;
}

/* An object of key, value pairs, up to a NULL key. */
static inline __attribute__((sentinel)) json_t *oa_obj(const char *key, ...)
{
    json_t *obj = json_object();
    va_list ap;
    va_start(ap, key);
    for (; key != NULL; key = va_arg(ap, const char *))
        obj = oa_with(obj, key, va_arg(ap, json_t *));
    va_end(ap);
    return obj;
}

/* An array of n values. */
static inline json_t *oa_items(size_t n, ...)
{
    json_t *array = json_array();
    va_list ap;
    va_start(ap, n);
    for (size_t i = 0; i < n; i++)
        array = oa_push(array, va_arg(ap, json_t *));
    va_end(ap);
    return array;
}

/* An array of strings, up to a NULL. */
static inline __attribute__((sentinel)) json_t *oa_strings(const char *s, ...)
{
    json_t *array = json_array();
    va_list ap;
    va_start(ap, s);
    for (; s != NULL; s = va_arg(ap, const char *))
        array = oa_push(array, json_string(s));
    va_end(ap);
    return array;
}

/* {"type": type}. */
static inline json_t *oa_type(const char *type)
{
    return oa_obj("type", json_string(type), NULL);
}

/* {"$ref": "#/components/schemas/<schema>"}. */
static inline json_t *oa_ref(const char *schema)
{
    return oa_obj("$ref", json_sprintf("#/components/schemas/%s", schema), NULL);
}

#endif /* LOSSD_SERVICE_OPENAPI_JSON_H */
