/* SPDX-License-Identifier: MIT */
/*
 * buf.c - the growable byte buffer (see buf.h). Thread-compatible: one
 * buffer, one thread.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "dtoa.h"

void lossd_buf_init(lossd_buf *b, size_t max)
{
    LOSSD_ASSERT(b != NULL);
    memset(b, 0, sizeof *b);
    b->max = max;
}

void lossd_buf_cleanup(lossd_buf *b)
{
    free(b->data);
    memset(b, 0, sizeof *b);
}

bool lossd_buf_reserve(lossd_buf *b, size_t extra)
{
    LOSSD_ASSERT(b != NULL);
    LOSSD_ASSERT(b->data == NULL ? b->len == 0 && b->cap == 0 : b->len < b->cap);
    if (b->failed)
        return false;
    size_t need = b->len + extra + 1; /* room for the terminating NUL */
    if (need < b->len || (b->max && need > b->max + 1)) {
        b->failed = true;
        return false;
    }
    if (need <= b->cap)
        return true;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need)
        cap = cap > ((size_t)-1) / 2 ? need : cap * 2;
    char *p = realloc(b->data, cap);
    if (p == NULL) {
        b->failed = true;
        return false;
    }
    p[b->len] = '\0'; /* also the first time: the bytes are always a string */
    b->data = p;
    b->cap = cap;
    return true;
}

void lossd_buf_fail(lossd_buf *b)
{
    LOSSD_ASSERT(b != NULL);
    b->failed = true;
}

void lossd_buf_reset(lossd_buf *b)
{
    LOSSD_ASSERT(b != NULL);
    b->len = 0;
    b->failed = false;
    if (b->data)
        b->data[0] = '\0';
}

void lossd_buf_append(lossd_buf *b, const void *data, size_t len)
{
    LOSSD_ASSERT(data != NULL || len == 0);
    if (!lossd_buf_reserve(b, len))
        return;
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
}

void lossd_buf_puts(lossd_buf *b, const char *s)
{
    lossd_buf_append(b, s, strlen(s));
}

void lossd_buf_printf(lossd_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0 || !lossd_buf_reserve(b, (size_t)n))
        return;
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
}

void lossd_buf_number(lossd_buf *b, double x)
{
    char *p = lossd_buf_prepare(b, LOSSD_DTOA_MAX);
    if (p)
        lossd_buf_commit(b, lossd_dtoa(x, p));
}

size_t lossd_utoa(unsigned long long x, char *buf)
{
    char digits[LOSSD_UTOA_MAX];
    size_t n = 0;
    do {
        digits[n++] = (char)('0' + x % 10);
        x /= 10;
    } while (x);
    for (size_t i = 0; i < n; i++)
        buf[i] = digits[n - 1 - i];
    return n;
}

void lossd_buf_uint(lossd_buf *b, unsigned long long x)
{
    char *p = lossd_buf_prepare(b, LOSSD_UTOA_MAX);
    if (p)
        lossd_buf_commit(b, lossd_utoa(x, p));
}

char *lossd_buf_steal(lossd_buf *b, size_t *len)
{
    LOSSD_ASSERT(len != NULL);
    if (!lossd_buf_reserve(b, 0))
        return NULL;
    b->data[b->len] = '\0'; /* also when nothing was ever appended */
    char *data = b->data;
    *len = b->len;
    b->data = NULL;
    b->len = b->cap = 0;
    return data;
}
