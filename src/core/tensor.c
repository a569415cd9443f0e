/* SPDX-License-Identifier: MIT */
/*
 * tensor.c - tensor views, shape text and NumPy-style broadcasting of
 * parameter tensors (bce's weight, bce_with_logits' pos_weight).
 *
 * Thread-safe: pure functions over caller-owned memory.
 */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

int lossd_tensor_view(lossd_tensor *t, const double *data, int rank, const size_t *shape)
{
    if (rank < 0 || rank > LOSSD_MAX_RANK)
        return LOSSD_ETOOBIG;
    size_t size = 1;
    for (int d = 0; d < rank; d++) {
        if (shape[d] != 0 && size > SIZE_MAX / shape[d])
            return LOSSD_ETOOBIG;
        size *= shape[d];
        t->shape[d] = shape[d];
    }
    t->rank = rank;
    t->size = size;
    t->data = data;
    return LOSSD_OK;
}

bool lossd__same_shape(const lossd_tensor *a, const lossd_tensor *b)
{
    if (a->rank != b->rank)
        return false;
    for (int d = 0; d < a->rank; d++)
        if (a->shape[d] != b->shape[d])
            return false;
    return true;
}

char *lossd_shape_text(char *buf, size_t size, int rank, const size_t *shape)
{
    int n = snprintf(buf, size, "(");
    for (int d = 0; d < rank && n >= 0 && (size_t)n < size; d++)
        n += snprintf(buf + n, size - (size_t)n, d ? ", %zu" : "%zu", shape[d]);
    if (n >= 0 && (size_t)n < size)
        snprintf(buf + n, size - (size_t)n, ")");
    return buf;
}

int lossd__broadcast(lossd__param_view *out, const lossd_tensor *w, const lossd_tensor *to,
                     double *expanded, const char *field, lossd_error *err)
{
    char have[96], want[96];
    if (w->rank > to->rank)
        goto mismatch;
    /* Align trailing axes; each of w's must be 1 or equal. */
    int offset = to->rank - w->rank;
    bool suffix = true; /* w equals to's trailing axes, after leading 1s */
    bool leading = true;
    for (int d = 0; d < w->rank; d++) {
        size_t a = w->shape[d], b = to->shape[offset + d];
        if (a != 1 && a != b)
            goto mismatch;
        if (leading && a == 1 && b != 1)
            continue; /* a leading 1 broadcasts like a missing axis */
        leading = false;
        if (a != b)
            suffix = false;
    }
    if (w->size == 1) {
        out->data = w->data;
        out->period = 1;
        return 0;
    }
    if (suffix) {
        out->data = w->data;
        out->period = w->size;
        return 0;
    }
    if (expanded == NULL)
        return 1;
    /* General case: walk `to` with w's strides (0 along broadcast axes). */
    size_t stride[LOSSD_MAX_RANK], idx[LOSSD_MAX_RANK] = {0};
    size_t s = 1;
    for (int d = to->rank - 1; d >= 0; d--) {
        int wd = d - offset;
        if (wd >= 0 && w->shape[wd] != 1) {
            stride[d] = s;
            s *= w->shape[wd];
        } else {
            stride[d] = 0;
            if (wd >= 0)
                s *= w->shape[wd];
        }
    }
    size_t pos = 0;
    for (size_t i = 0; i < to->size; i++) {
        expanded[i] = w->data[pos];
        for (int d = to->rank - 1; d >= 0; d--) {
            pos += stride[d];
            if (++idx[d] < to->shape[d])
                break;
            pos -= stride[d] * idx[d];
            idx[d] = 0;
        }
    }
    out->data = expanded;
    out->period = to->size;
    return 0;

mismatch:
    return lossd__fail(err, LOSSD_EINVAL, field, "shape %s does not broadcast to the input's %s",
                       lossd__shape_text(have, sizeof have, w),
                       lossd__shape_text(want, sizeof want, to));
}
