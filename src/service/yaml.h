/* SPDX-License-Identifier: MIT */
/*
 * yaml.h - a JSON tree written as YAML, in block style: the OpenAPI
 * document's YAML form (openapi.h), written from the same json_t as its
 * JSON form, so that the two are one document.
 *
 * Strings are written in YAML's double-quoted form, whose escapes are
 * JSON's (so jansson writes them); numbers, booleans and null plainly, in
 * forms YAML 1.1 and 1.2 readers (PyYAML, libyaml, the yaml npm package)
 * resolve to the same values: a real always has a point ("1.0e-7", never
 * "1e-7", which PyYAML reads as a string); an object key is written plain
 * only when no reader could take it for anything but that string ("200",
 * "yes" and "on" are quoted). Empty objects and arrays are "{}" and "[]".
 *
 * Threading: no state; any thread.
 */
#ifndef LOSSD_SERVICE_YAML_H
#define LOSSD_SERVICE_YAML_H

#include <stddef.h>

#include <jansson.h>

/*
 * `doc` (an object or an array) as a YAML document: `comment`, when not
 * NULL, as "# " lines first (one per line of it), then the tree, ending
 * with a newline. Returns malloc'd text (the caller frees it) and its
 * length in *len, or NULL when memory runs out or `doc` is not a
 * container. Reals are written with 15 significant digits, as the
 * catalog writes them (jansson's JSON_REAL_PRECISION(15)).
 */
char *lossd_yaml_dump(const json_t *doc, const char *comment, size_t *len);

#endif /* LOSSD_SERVICE_YAML_H */
