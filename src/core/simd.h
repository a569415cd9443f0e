/* SPDX-License-Identifier: MIT */
/*
 * simd.h - the vector type the kernels compute with, and the vector math
 * they call.
 *
 * Kernels work on lossd_vd, a vector of LOSSD_LANES doubles in GCC's
 * vector extension, as wide as the translation unit's vector unit: two
 * lanes for the baseline (SSE2 on x86-64, NEON on arm64, plain doubles
 * where there is none), four in the AVX2 twins. Element functions are
 * written once, for any number of lanes.
 *
 * Every file that holds kernels is compiled twice (one concept, two
 * instruction sets, as ATen compiles its native/cpu kernels once per
 * CPU_CAPABILITY):
 *   - as itself, for the target's baseline (x86-64: SSE2, where a lossd_vd
 *     is two registers), with libm's exp, log, ... applied lane by lane;
 *   - on x86-64 with GCC, once more through its *_avx2.c twin, which
 *     defines LOSSD_SIMD_AVX2 and includes it: everything after this header
 *     is then compiled for AVX2, and the vector math is Sleef's AVX2 code -
 *     the very functions PyTorch's Vectorized<double> calls (Sleef_expd4_u10
 *     & co.), so these kernels round their exp and log as PyTorch does.
 * registry.c serves the AVX2 twins' rows when the CPU has AVX2 and FMA
 * (Sleef's AVX2 code uses FMA), and call.c runs the blocks with the
 * matching twin of run.c (lossd__simd_avx2()).
 *
 * What may differ between the two, in the last bits: the vector math
 * (Sleef and glibc are both within 1 ulp), and the order in which a
 * reduced loss adds a block's terms (run.c sums in 2 LOSSD_LANES
 * compensated lanes). Everything else is the same IEEE operations in the
 * same order, lane by lane: the AVX2 twin is compiled without FMA, so
 * a * b + c still rounds twice (GCC would otherwise fuse it). A result is
 * reproducible on one machine, and bit-identical however its blocks are
 * shared among threads.
 *
 * Building with -DLOSSD_NO_AVX2 leaves only the portable kernels.
 *
 * Thread-safe: pure functions.
 */
#ifndef LOSSD_CORE_SIMD_H
#define LOSSD_CORE_SIMD_H

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* The AVX2 twins need GCC (its target pragma also sets __AVX2__ for the headers) and Sleef. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(LOSSD_NO_AVX2)
#define LOSSD_SIMD_HAVE_AVX2 1
#else
#define LOSSD_SIMD_HAVE_AVX2 0
#endif

#if defined(LOSSD_SIMD_AVX2) && !LOSSD_SIMD_HAVE_AVX2
#undef LOSSD_SIMD_AVX2 /* the twin compiles to nothing (see its file) */
#endif

#ifdef LOSSD_SIMD_AVX2
/* AVX2 without FMA: see above. Sleef's header declares its AVX2 functions under __AVX__. */
#pragma GCC target("avx2")
#include <immintrin.h>
#include <sleef.h>
#endif

#define LOSSD_INLINE static inline __attribute__((always_inline))

/*
 * LOSSD_LANES doubles, and a lane mask: all bits set (-1) where true, 0
 * where false. (A 32-byte vector outside AVX code would pass through
 * memory and draw GCC's ABI notes: the baseline keeps to 16 bytes.)
 */
#ifdef LOSSD_SIMD_AVX2
#define LOSSD_LANES 4
#else
#define LOSSD_LANES 2
#endif
typedef double lossd_vd __attribute__((vector_size(LOSSD_LANES * sizeof(double))));
typedef long long lossd_vm __attribute__((vector_size(LOSSD_LANES * sizeof(long long))));

/* ---- lanes in and out ---- */

LOSSD_INLINE lossd_vd lossd_v_set1(double x)
{
    return x - (lossd_vd){0}; /* GCC broadcasts a scalar operand; x - +0 is x, -0 and NaN too */
}

LOSSD_INLINE lossd_vd lossd_v_load(const double *p)
{
    lossd_vd v;
    memcpy(&v, p, sizeof v);
    return v;
}

LOSSD_INLINE void lossd_v_store(double *p, lossd_vd v)
{
    memcpy(p, &v, sizeof v);
}

/*
 * Lanes 0..n-1 (n <= LOSSD_LANES) from p[0..n), the others 0: the tail of
 * an array. (Written as a loop, GCC makes the partial case a call to
 * memcpy, which costs more than a row of ten numbers: the AVX2 twin uses a
 * masked load, which reads nothing past p[n - 1]; two lanes need at most
 * one number.)
 */
LOSSD_INLINE lossd_vd lossd_v_load_n(const double *p, size_t n)
{
    if (n == LOSSD_LANES)
        return lossd_v_load(p);
    lossd_vd v = lossd_v_set1(0.0);
#if LOSSD_LANES == 4
    lossd_vm lane = {0, 1, 2, 3};
    v = (lossd_vd)_mm256_maskload_pd(p, (__m256i)(lane < (long long)n));
#else
    if (n > 0)
        v[0] = p[0];
#endif
    return v;
}

/* Stores lanes 0..n-1 (n <= LOSSD_LANES) to p[0..n); nothing past p[n - 1]. */
LOSSD_INLINE void lossd_v_store_n(double *p, lossd_vd v, size_t n)
{
    if (n == LOSSD_LANES) {
        lossd_v_store(p, v);
        return;
    }
#if LOSSD_LANES == 4
    lossd_vm lane = {0, 1, 2, 3};
    _mm256_maskstore_pd(p, (__m256i)(lane < (long long)n), (__m256d)v);
#else
    if (n > 0)
        p[0] = v[0];
#endif
}

/* Lane k = p[k * stride] for k < n (n <= LOSSD_LANES), 0 beyond: a column of rows. */
LOSSD_INLINE lossd_vd lossd_v_gather(const double *p, size_t stride, size_t n)
{
    lossd_vd v = lossd_v_set1(0.0);
    for (size_t k = 0; k < n; k++)
        v[k] = p[k * stride];
    return v;
}

/* p[k * stride] = lane k for k < n. */
LOSSD_INLINE void lossd_v_scatter(double *p, size_t stride, lossd_vd v, size_t n)
{
    for (size_t k = 0; k < n; k++)
        p[k * stride] = v[k];
}

/*
 * Rows i..i+n-1 (n <= LOSSD_LANES) of an (N, 4) array - boxes - as four
 * column vectors: col[j] lane k = p[4 k + j]; missing rows read 0. Full
 * groups load whole rows and transpose them in registers.
 */
LOSSD_INLINE void lossd_v_load_columns4(const double *p, size_t n, lossd_vd col[4])
{
#if defined(__clang__) /* no __builtin_shuffle: gather one number at a time */
    for (size_t j = 0; j < 4; j++)
        col[j] = lossd_v_gather(p + j, 4, n);
#else
    double padded[4 * LOSSD_LANES] = {0};
    if (n < LOSSD_LANES) {
        memcpy(padded, p, n * 4 * sizeof *p);
        p = padded;
    }
#if LOSSD_LANES == 4
    lossd_vd r0 = lossd_v_load(p), r1 = lossd_v_load(p + 4);
    lossd_vd r2 = lossd_v_load(p + 8), r3 = lossd_v_load(p + 12);
    lossd_vd t0 = __builtin_shuffle(r0, r1, (lossd_vm){0, 4, 2, 6});
    lossd_vd t1 = __builtin_shuffle(r0, r1, (lossd_vm){1, 5, 3, 7});
    lossd_vd t2 = __builtin_shuffle(r2, r3, (lossd_vm){0, 4, 2, 6});
    lossd_vd t3 = __builtin_shuffle(r2, r3, (lossd_vm){1, 5, 3, 7});
    col[0] = __builtin_shuffle(t0, t2, (lossd_vm){0, 1, 4, 5});
    col[1] = __builtin_shuffle(t1, t3, (lossd_vm){0, 1, 4, 5});
    col[2] = __builtin_shuffle(t0, t2, (lossd_vm){2, 3, 6, 7});
    col[3] = __builtin_shuffle(t1, t3, (lossd_vm){2, 3, 6, 7});
#else
    lossd_vd lo0 = lossd_v_load(p), hi0 = lossd_v_load(p + 2);
    lossd_vd lo1 = lossd_v_load(p + 4), hi1 = lossd_v_load(p + 6);
    col[0] = __builtin_shuffle(lo0, lo1, (lossd_vm){0, 2});
    col[1] = __builtin_shuffle(lo0, lo1, (lossd_vm){1, 3});
    col[2] = __builtin_shuffle(hi0, hi1, (lossd_vm){0, 2});
    col[3] = __builtin_shuffle(hi0, hi1, (lossd_vm){1, 3});
#endif
#endif
}

/* The inverse: column vectors back to rows i..i+n-1 of an (N, 4) array. */
LOSSD_INLINE void lossd_v_store_columns4(double *p, size_t n, const lossd_vd col[4])
{
#if defined(__clang__)
    for (size_t j = 0; j < 4; j++)
        lossd_v_scatter(p + j, 4, col[j], n);
#else
    double padded[4 * LOSSD_LANES];
    double *q = n < LOSSD_LANES ? padded : p;
#if LOSSD_LANES == 4
    /* a 4x4 transpose is its own inverse */
    lossd_vd t0 = __builtin_shuffle(col[0], col[1], (lossd_vm){0, 4, 2, 6});
    lossd_vd t1 = __builtin_shuffle(col[0], col[1], (lossd_vm){1, 5, 3, 7});
    lossd_vd t2 = __builtin_shuffle(col[2], col[3], (lossd_vm){0, 4, 2, 6});
    lossd_vd t3 = __builtin_shuffle(col[2], col[3], (lossd_vm){1, 5, 3, 7});
    lossd_v_store(q, __builtin_shuffle(t0, t2, (lossd_vm){0, 1, 4, 5}));
    lossd_v_store(q + 4, __builtin_shuffle(t1, t3, (lossd_vm){0, 1, 4, 5}));
    lossd_v_store(q + 8, __builtin_shuffle(t0, t2, (lossd_vm){2, 3, 6, 7}));
    lossd_v_store(q + 12, __builtin_shuffle(t1, t3, (lossd_vm){2, 3, 6, 7}));
#else
    lossd_v_store(q, __builtin_shuffle(col[0], col[1], (lossd_vm){0, 2}));
    lossd_v_store(q + 2, __builtin_shuffle(col[2], col[3], (lossd_vm){0, 2}));
    lossd_v_store(q + 4, __builtin_shuffle(col[0], col[1], (lossd_vm){1, 3}));
    lossd_v_store(q + 6, __builtin_shuffle(col[2], col[3], (lossd_vm){1, 3}));
#endif
    if (q == padded)
        memcpy(p, padded, n * 4 * sizeof *p);
#endif
}

/* Lane k = the sum of v[k]'s lanes (pairwise), for LOSSD_LANES vectors v[0..LOSSD_LANES). */
LOSSD_INLINE lossd_vd lossd_v_sum_each(const lossd_vd v[LOSSD_LANES])
{
#if defined(__clang__)
    lossd_vd s;
    for (size_t k = 0; k < LOSSD_LANES; k++) {
        s[k] = 0;
        for (size_t l = 0; l < LOSSD_LANES; l++)
            s[k] += v[k][l];
    }
    return s;
#elif LOSSD_LANES == 4
    lossd_vd t0 = __builtin_shuffle(v[0], v[1], (lossd_vm){0, 4, 2, 6}) +
                  __builtin_shuffle(v[0], v[1], (lossd_vm){1, 5, 3, 7});
    lossd_vd t1 = __builtin_shuffle(v[2], v[3], (lossd_vm){0, 4, 2, 6}) +
                  __builtin_shuffle(v[2], v[3], (lossd_vm){1, 5, 3, 7});
    return __builtin_shuffle(t0, t1, (lossd_vm){0, 1, 4, 5}) +
           __builtin_shuffle(t0, t1, (lossd_vm){2, 3, 6, 7});
#else
    return __builtin_shuffle(v[0], v[1], (lossd_vm){0, 2}) +
           __builtin_shuffle(v[0], v[1], (lossd_vm){1, 3});
#endif
}

/* The mask of lanes 0..n-1. */
LOSSD_INLINE lossd_vm lossd_v_first(size_t n)
{
    lossd_vm lane;
    for (size_t k = 0; k < LOSSD_LANES; k++)
        lane[k] = (long long)k;
    return lane < (long long)n;
}

/* True if any lane of m is set. */
LOSSD_INLINE bool lossd_v_any(lossd_vm m)
{
#if LOSSD_LANES == 4
    return !_mm256_testz_si256((__m256i)m, (__m256i)m); /* one vptest */
#else
    long long any = 0;
    for (size_t k = 0; k < LOSSD_LANES; k++)
        any |= m[k];
    return any != 0;
#endif
}

/* -(sum of the lanes): the count of lanes set in a mask, or in a sum of masks. */
LOSSD_INLINE size_t lossd_v_count(lossd_vm m)
{
    long long sum = 0;
    for (size_t k = 0; k < LOSSD_LANES; k++)
        sum += m[k];
    return (size_t)-sum;
}

/* ---- selects and comparisons with libm's semantics ---- */

/* m ? a : b, lane by lane. */
LOSSD_INLINE lossd_vd lossd_v_select(lossd_vm m, lossd_vd a, lossd_vd b)
{
    return (lossd_vd)((m & (lossd_vm)a) | (~m & (lossd_vm)b));
}

/* 1.0 where m, else 0.0. */
LOSSD_INLINE lossd_vd lossd_v_ones(lossd_vm m)
{
    return lossd_v_select(m, lossd_v_set1(1.0), lossd_v_set1(0.0));
}

LOSSD_INLINE lossd_vd lossd_v_abs(lossd_vd x)
{
    return (lossd_vd)((lossd_vm)x & ~(lossd_vm)lossd_v_set1(-0.0)); /* clear the sign bit */
}

/*
 * fmax and fmin exactly as glibc computes them (isgreaterequal(a, b) ? a :
 * ..., so a tie of -0 and +0 returns a, and a NaN loses to a number), as
 * compare-and-select: the libm calls cost more than the rest of a box
 * pair, and GCC may not inline them without -ffinite-math-only.
 */
LOSSD_INLINE lossd_vd lossd_v_fmax(lossd_vd a, lossd_vd b)
{
    return lossd_v_select((a >= b) | (b != b), a, b);
}

LOSSD_INLINE lossd_vd lossd_v_fmin(lossd_vd a, lossd_vd b)
{
    return lossd_v_select((a <= b) | (b != b), a, b);
}

/* sgn(x) = (x > 0) - (x < 0): 0 for zeros and NaN. */
LOSSD_INLINE lossd_vd lossd_v_sgn(lossd_vd x)
{
    return lossd_v_ones(x > 0) - lossd_v_ones(x < 0);
}

/* Lanes holding NaN or an infinity. */
LOSSD_INLINE lossd_vm lossd_v_nonfinite(lossd_vd x)
{
    return ~(lossd_v_abs(x) <= DBL_MAX);
}

/*
 * a / d for a constant d in [1, 2^50] - the same double the division
 * gives - where recip_d is the double nearest 1 / d, and a is +0 or a / d
 * is a normal number (finite, at least DBL_MIN). In the AVX2 twin it is a
 * multiply and two FMAs instead of the divider, whose throughput (four
 * quotients per 5 cycles on Zen 3) bounded hardsigmoid and hardswish's
 * derivative, which PyTorch computes with a division too. By Markstein's
 * theorem (P. Markstein, IBM J. Res. Dev. 34(1), 1990; Muller et al.,
 * Handbook of Floating-Point Arithmetic): q = a recip_d is within an ulp
 * of a / d, the remainder a - q d is exact under FMA, and
 * q + (a - q d) recip_d rounded once is a / d correctly rounded. Outside
 * the precondition it can differ: a -0 gives +0, a tiny quotient can miss
 * a subnormal midpoint, an infinity gives NaN. tests/check_activation.c
 * compares its users with the division bit for bit over every binade.
 */
LOSSD_INLINE lossd_vd lossd_v_div_const(lossd_vd a, double d, double recip_d)
{
#ifdef LOSSD_SIMD_AVX2
    /* the twin is compiled without FMA (see the head of this file): spelled out */
    lossd_vd q = a * recip_d, r = q;
    __asm__("vfnmadd213pd %3, %2, %0" : "=x"(r) : "0"(r), "x"(lossd_v_set1(d)), "x"(a));
    __asm__("vfmadd213pd %3, %2, %0" : "=x"(r) : "0"(r), "x"(lossd_v_set1(recip_d)), "x"(q));
    return r; /* -(q d) + a, then (a - q d) recip_d + q, each rounded once */
#else
    (void)recip_d;
    return a / d;
#endif
}

/* ---- vector math: Sleef's AVX2 functions in the AVX2 twin, libm lane by lane elsewhere ---- */

#ifdef LOSSD_SIMD_AVX2
/*
 * Sleef's header does not say its functions are pure; declared again here
 * with attribute const (they read nothing but their arguments and write
 * nothing), GCC may drop a call whose result is unused - a derivative
 * nobody asked for - as it drops libm's under -fno-math-errno.
 */
#define LOSSD__VMATH1(name, sleef)                             \
    __m256d sleef##d4_u10avx2(__m256d) __attribute__((const)); \
    LOSSD_INLINE lossd_vd lossd_v_##name(lossd_vd x)           \
    {                                                          \
        return (lossd_vd)sleef##d4_u10avx2((__m256d)x);        \
    }
#define LOSSD__VMATH2(name, sleef)                                      \
    __m256d sleef##d4_u10avx2(__m256d, __m256d) __attribute__((const)); \
    LOSSD_INLINE lossd_vd lossd_v_##name(lossd_vd x, lossd_vd y)        \
    {                                                                   \
        return (lossd_vd)sleef##d4_u10avx2((__m256d)x, (__m256d)y);     \
    }
#else
#define LOSSD__VMATH1(name, sleef)                   \
    LOSSD_INLINE lossd_vd lossd_v_##name(lossd_vd x) \
    {                                                \
        for (size_t k = 0; k < LOSSD_LANES; k++)     \
            x[k] = name(x[k]);                       \
        return x;                                    \
    }
#define LOSSD__VMATH2(name, sleef)                               \
    LOSSD_INLINE lossd_vd lossd_v_##name(lossd_vd x, lossd_vd y) \
    {                                                            \
        for (size_t k = 0; k < LOSSD_LANES; k++)                 \
            x[k] = name(x[k], y[k]);                             \
        return x;                                                \
    }
#endif

LOSSD__VMATH1(exp, Sleef_exp)
LOSSD__VMATH1(expm1, Sleef_expm1)
LOSSD__VMATH1(log, Sleef_log)
LOSSD__VMATH1(log1p, Sleef_log1p)
LOSSD__VMATH1(tanh, Sleef_tanh)
LOSSD__VMATH1(erf, Sleef_erf)
LOSSD__VMATH1(atan, Sleef_atan)
LOSSD__VMATH1(asin, Sleef_asin)
LOSSD__VMATH1(cos, Sleef_cos)
LOSSD__VMATH1(sin, Sleef_sin)
LOSSD__VMATH2(pow, Sleef_pow)

LOSSD_INLINE lossd_vd lossd_v_sqrt(lossd_vd x)
{
    for (size_t k = 0; k < LOSSD_LANES; k++)
        x[k] = sqrt(x[k]); /* one instruction with -fno-math-errno */
    return x;
}

/*
 * b^e for a scalar exponent, as ATen's pow(Tensor, Scalar) computes it
 * (pow_tensor_scalar): the exponents it special-cases as products, square
 * roots and reciprocals, any other through pow. So (1 - p_t)^2 is
 * (1 - p_t)(1 - p_t), as in PyTorch, and costs no pow.
 */
LOSSD_INLINE lossd_vd lossd_v_pow_scalar(lossd_vd b, double e)
{
    if (e == 0)
        return lossd_v_set1(1.0);
    if (e == 1)
        return b;
    if (e == 2)
        return b * b;
    if (e == 3)
        return b * b * b;
    if (e == -2)
        return 1 / (b * b);
    if (e == 0.5)
        return lossd_v_sqrt(b);
    if (e == -0.5)
        return 1 / lossd_v_sqrt(b);
    if (e == -1)
        return 1 / b;
    return lossd_v_pow(b, lossd_v_set1(e));
}

#endif /* LOSSD_CORE_SIMD_H */
