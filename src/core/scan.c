/* SPDX-License-Identifier: MIT */
/*
 * scan.c - whole-operand value checks, in vectors: class indices and
 * values in a closed range. Validation reads every number a request sends
 * before any kernel runs; these scans find out whether all of them are
 * good, with no branch per number, and the caller looks for the first bad
 * one (and builds its field path) only when one is there.
 *
 * Compiled twice, like the kernels (simd.h): scan_avx2.c is the AVX2 twin;
 * call.c picks one with lossd__simd_avx2().
 *
 * Thread-safe: pure functions of their arguments.
 */
#include "internal.h"

/* Four vectors at a time: independent compares the CPU can overlap. */
#define SCAN_STEP (4 * LOSSD_LANES)

bool LOSSD__TWIN(lossd__scan_range)(const double *x, size_t n, double lo, double hi)
{
    lossd_vm bad = {0};
    size_t i = 0;
    for (; n - i >= SCAN_STEP; i += SCAN_STEP)
        for (size_t k = 0; k < SCAN_STEP; k += LOSSD_LANES) {
            lossd_vd v = lossd_v_load(x + i + k);
            bad |= ~((v >= lo) & (v <= hi)); /* NaN fails both */
        }
    for (; i < n; i++)
        bad[0] |= -(long long)!(x[i] >= lo && x[i] <= hi);
    return !lossd_v_any(bad);
}

/*
 * x + 2^52 - 2^52 rounds a number in [0, 2^52) to a whole one, so it
 * gives x back exactly when x is whole (floor() without the libm call).
 */
LOSSD_INLINE lossd_vm class_index_ok(lossd_vd v, double n_classes, double ignore_index)
{
    const double whole = 0x1p52;
    return (v == ignore_index) | ((v >= 0) & (v < n_classes) & ((v + whole) - whole == v));
}

size_t LOSSD__TWIN(lossd__scan_class_indices)(const double *x, size_t n, double n_classes,
                                              double ignore_index, bool *all_good)
{
    lossd_vm bad = {0}, ignored = {0};
    bool good = n_classes <= 0x1p52; /* else the caller's loop decides */
    size_t i = 0;
    for (; n - i >= LOSSD_LANES; i += LOSSD_LANES) {
        lossd_vd v = lossd_v_load(x + i);
        bad |= ~class_index_ok(v, n_classes, ignore_index);
        ignored += v == ignore_index;
    }
    size_t kept = n - lossd_v_count(ignored);
    if (i < n) {
        lossd_vd v = lossd_v_load_n(x + i, n - i);
        lossd_vm tail = lossd_v_first(n - i);
        bad |= ~class_index_ok(v, n_classes, ignore_index) & tail;
        kept -= lossd_v_count((v == ignore_index) & tail);
    }
    *all_good = good && !lossd_v_any(bad);
    return kept;
}
