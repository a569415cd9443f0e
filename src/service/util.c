/* SPDX-License-Identifier: MIT */
/*
 * util.c - text helpers for messages (see util.h).
 */
#include <stdio.h>
#include <string.h>

#include "util.h"

char *lossd_path_index(char *buf, size_t size, const char *name, const size_t *idx, int depth)
{
    int n = snprintf(buf, size, "%s", name);
    for (int d = 0; d < depth && n >= 0 && (size_t)n < size; d++)
        n += snprintf(buf + n, size - (size_t)n, "[%zu]", idx[d]);
    return buf;
}

void lossd_names_add(char *buf, size_t size, const char *name)
{
    size_t used = strnlen(buf, size);
    if (used + 1 < size)
        snprintf(buf + used, size - used, "%s%s", used ? ", " : "", name);
}

const char *lossd_kind_result(lossd_kind kind)
{
    static const char *const names[LOSSD_KIND_COUNT] = {
        [LOSSD_KIND_LOSS] = "loss",
        [LOSSD_KIND_ACTIVATION] = "output",
        [LOSSD_KIND_INFO] = "value",
        [LOSSD_KIND_PAIRWISE] = "matrix",
    };
    return (unsigned)kind < LOSSD_KIND_COUNT ? names[kind] : "output";
}
