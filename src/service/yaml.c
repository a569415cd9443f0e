/* SPDX-License-Identifier: MIT */
/*
 * yaml.c - a JSON tree as block-style YAML (see yaml.h).
 *
 * Nothing is parsed here and no YAML library is needed: jansson writes
 * every scalar in JSON syntax, which YAML's flow scalars share, and this
 * file lays out the lines. The only scalars that need more than jansson's
 * text are reals (YAML 1.1 wants a point and a signed exponent), strings
 * holding characters that YAML reads as line breaks or refuses raw, and
 * keys, which are written plain when that cannot change their meaning.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "buf.h"
#include "yaml.h"

/* Two spaces per level, as most YAML in the wild (and PyYAML) indents. */
#define INDENT 2

static void put_indent(lossd_buf *b, int columns)
{
    lossd_buf_printf(b, "%*s", columns, "");
}

/*
 * Whether a key may be written plain: a letter, '_', '$' or '/' first, then
 * only letters, digits and "_./$-{}" (so no ': ', ' #', quote or leading
 * indicator), and not a word YAML 1.1 reads as a boolean or null.
 */
static bool is_letter(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool plain_key(const char *key)
{
    static const char *const words[] = {"y",   "n",    "yes",   "no",  "on",
                                        "off", "true", "false", "null"};
    if (!(is_letter(key[0]) || strchr("_$/", key[0]) != NULL) || key[0] == '\0')
        return false;
    for (const char *p = key; *p; p++)
        if (!(is_letter(*p) || (*p >= '0' && *p <= '9') || strchr("_./$-{}", *p) != NULL))
            return false;
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        if (strcasecmp(key, words[i]) == 0)
            return false;
    return true;
}

/* The code point of the UTF-8 sequence at p (jansson's output is valid UTF-8), and its length. */
static unsigned decode(const unsigned char *p, size_t *len)
{
    if (p[0] < 0x80) {
        *len = 1;
        return p[0];
    }
    if (p[0] < 0xE0) {
        *len = 2;
        return (p[0] & 0x1Fu) << 6 | (p[1] & 0x3Fu);
    }
    if (p[0] < 0xF0) {
        *len = 3;
        return (p[0] & 0x0Fu) << 12 | (p[1] & 0x3Fu) << 6 | (p[2] & 0x3Fu);
    }
    *len = 4;
    return (p[0] & 0x07u) << 18 | (p[1] & 0x3Fu) << 12 | (p[2] & 0x3Fu) << 6 | (p[3] & 0x3Fu);
}

/*
 * A string as jansson quotes it, with what YAML may not hold raw escaped:
 * DEL and the C1 controls (not printable in YAML 1.1), NEL, LS and PS
 * (line breaks to YAML 1.1: a reader would fold them), the byte-order mark
 * and the non-characters U+FFFE and U+FFFF. All are in the BMP, so \uXXXX
 * means to YAML what it means to JSON.
 */
static void put_quoted(lossd_buf *b, const char *text)
{
    const unsigned char *p = (const unsigned char *)text;
    while (*p) {
        size_t len;
        unsigned c = decode(p, &len);
        if (c == 0x7F || (c >= 0x80 && c <= 0x9F) || c == 0x2028 || c == 0x2029 || c == 0xFEFF ||
            c == 0xFFFE || c == 0xFFFF)
            lossd_buf_printf(b, "\\u%04x", c);
        else
            lossd_buf_append(b, p, len);
        p += len;
    }
}

/* A real as jansson writes it ("1e-7", "12.8"), with a point and a signed exponent. */
static void put_real(lossd_buf *b, const char *text)
{
    size_t mantissa = strcspn(text, "eE");
    lossd_buf_append(b, text, mantissa);
    if (memchr(text, '.', mantissa) == NULL)
        lossd_buf_puts(b, ".0");
    if (text[mantissa] == '\0')
        return;
    const char *exponent = text + mantissa + 1;
    lossd_buf_puts(b, *exponent == '-' || *exponent == '+' ? "e" : "e+");
    lossd_buf_puts(b, exponent);
}

static bool is_block(const json_t *v)
{
    return (json_is_object(v) && json_object_size(v) > 0) ||
           (json_is_array(v) && json_array_size(v) > 0);
}

/* A scalar, or an empty object or array, in flow style. */
static void put_scalar(lossd_buf *b, const json_t *v)
{
    if (json_is_object(v) || json_is_array(v)) {
        lossd_buf_puts(b, json_is_object(v) ? "{}" : "[]");
        return;
    }
    char *text = json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
    if (text == NULL) {
        lossd_buf_fail(b);
        return;
    }
    if (json_is_string(v))
        put_quoted(b, text);
    else if (json_is_real(v))
        put_real(b, text);
    else
        lossd_buf_puts(b, text);
    free(text);
}

static void put_block(lossd_buf *b, const json_t *v, int indent, bool hanging);

/* What follows "key:" or "-": a scalar on the same line, or a block on the lines below. */
static void put_value(lossd_buf *b, const json_t *v, int indent)
{
    if (is_block(v)) {
        lossd_buf_puts(b, "\n");
        put_block(b, v, indent, false);
        return;
    }
    lossd_buf_puts(b, " ");
    put_scalar(b, v);
    lossd_buf_puts(b, "\n");
}

static void put_key(lossd_buf *b, const char *key)
{
    if (plain_key(key)) {
        lossd_buf_puts(b, key);
        return;
    }
    json_t *s = json_string(key);
    char *text = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
    if (text)
        put_quoted(b, text);
    else
        lossd_buf_fail(b);
    free(text);
    json_decref(s);
}

/*
 * The lines of a non-empty object or array whose entries sit at `indent`
 * columns. `hanging`: the first entry goes on the current line, after a
 * sequence's "- " (compact nesting: "- key: value", "- - item").
 */
static void put_block(lossd_buf *b, const json_t *v, int indent, bool hanging)
{
    bool first = true;
    if (json_is_object(v)) {
        const char *key;
        json_t *child;
        json_object_foreach((json_t *)v, key, child)
        {
            if (!(first && hanging))
                put_indent(b, indent);
            first = false;
            put_key(b, key);
            lossd_buf_puts(b, ":");
            put_value(b, child, indent + INDENT);
        }
        return;
    }
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item)
    {
        if (!(first && hanging))
            put_indent(b, indent);
        first = false;
        if (is_block(item)) {
            lossd_buf_puts(b, "- ");
            put_block(b, item, indent + INDENT, true);
        } else {
            lossd_buf_puts(b, "-");
            put_value(b, item, indent + INDENT);
        }
    }
}

char *lossd_yaml_dump(const json_t *doc, const char *comment, size_t *len)
{
    if (!is_block(doc))
        return NULL;
    lossd_buf b;
    lossd_buf_init(&b, 0);
    for (const char *line = comment; line && *line;) {
        size_t n = strcspn(line, "\n");
        lossd_buf_puts(&b, "# ");
        lossd_buf_append(&b, line, n);
        lossd_buf_puts(&b, "\n");
        line += n + (line[n] == '\n');
    }
    put_block(&b, doc, 0, false);
    if (lossd_buf_failed(&b)) {
        lossd_buf_cleanup(&b);
        return NULL;
    }
    return lossd_buf_steal(&b, len);
}
