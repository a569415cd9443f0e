/* SPDX-License-Identifier: MIT */
/*
 * run.c - the block runner behind lossd_call_run(): runs a kernel over
 * blocks and sums each block of a reduced loss; the kernels count the
 * block's zero derivatives and non-finite results (internal.h).
 *
 * Compiled twice, like the kernels (simd.h): run_avx2.c is its AVX2 twin,
 * and lossd_call_run() picks the one the CPU runs. Either adds a block's
 * terms in an order that depends on the block layout alone.
 *
 * Thread-safe for disjoint block ranges of one call: a block's outputs and
 * its slots of the state's per-block arrays are written by whoever runs it.
 */
#include "internal.h"

/* Reduced losses go through a stack buffer of this many terms (a multiple of 4 LOSSD_LANES). */
#define TERM_CHUNK 1024

/*
 * A block's share of a reduced loss, summed in 2 LOSSD_LANES lanes, each a
 * running sum and the sum of its rounding errors. Terms come in groups of
 * 4 LOSSD_LANES: lane j of a group's first and second vectors are added,
 * as are its third and fourth's, and each pair sum joins the running sums
 * (pair k in lane k) with its rounding error kept. Chunks hold a whole
 * number of groups and the block's last group is padded with zeros, so
 * the order of the additions depends only on the block layout, never on
 * the threads; independent lanes overlap their additions, where one chain
 * would wait out each addition's latency; and a pair's one plain addition
 * halves the error-free additions, which cost six operations each. The
 * lanes are folded once per block.
 */
typedef struct {
    lossd_vd sum[2], err[2];
} lane_sums;

/*
 * s += x, adding the rounding error to *err: Knuth's TwoSum, branch-free.
 * The error is exact, so it is the one Neumaier's compare-and-subtract
 * (lossd__sum_add) would find.
 */
LOSSD_INLINE void two_sum(lossd_vd *s, lossd_vd *err, lossd_vd x)
{
    lossd_vd t = *s + x, z = t - *s;
    *err += (*s - (t - z)) + (x - z);
    *s = t;
}

#define GROUP (4 * LOSSD_LANES)

static void lane_sums_add(lane_sums *ls, const double *terms, size_t n)
{
    size_t i = 0;
    for (; n - i >= GROUP; i += GROUP) {
        lossd_vd a = lossd_v_load(terms + i) + lossd_v_load(terms + i + LOSSD_LANES);
        lossd_vd b =
            lossd_v_load(terms + i + 2 * LOSSD_LANES) + lossd_v_load(terms + i + 3 * LOSSD_LANES);
        two_sum(&ls->sum[0], &ls->err[0], a);
        two_sum(&ls->sum[1], &ls->err[1], b);
    }
    if (i < n) { /* the block's last group: zeros beyond n */
        lossd_vd v[4];
        for (size_t k = 0; k < 4; k++) {
            size_t at = i + k * LOSSD_LANES;
            v[k] = at < n ? lossd_v_load_n(terms + at, n - at < LOSSD_LANES ? n - at : LOSSD_LANES)
                          : lossd_v_set1(0.0);
        }
        two_sum(&ls->sum[0], &ls->err[0], v[0] + v[1]);
        two_sum(&ls->sum[1], &ls->err[1], v[2] + v[3]);
    }
}

static double lane_sums_value(const lane_sums *ls)
{
    lossd__sum total = {0, 0};
    for (size_t k = 0; k < 2; k++)
        for (size_t l = 0; l < LOSSD_LANES; l++) {
            lossd__sum_add(&total, ls->sum[k][l]);
            total.comp += ls->err[k][l];
        }
    return lossd__sum_value(&total);
}

void LOSSD__TWIN(lossd__run_blocks)(const lossd_call *c, size_t first_block, size_t end_block)
{
    double chunk[TERM_CHUNK];
    const lossd__call_state *s = c->state;
    lossd__kernel kernel = c->fn->impl->kernel;
    bool reduced = lossd__reduced(c);
    for (size_t b = first_block; b < end_block && b < c->n_blocks; b++) {
        size_t begin = b * s->block_units;
        size_t end = begin + s->block_units < s->n_units ? begin + s->block_units : s->n_units;
        lane_sums sum = {{{0}, {0}}, {{0}, {0}}};
        size_t zeros = 0;
        s->block_nonfinite[b] = 0; /* the kernels add their non-finite results */
        if (reduced) {
            for (size_t at = begin; at < end; at += TERM_CHUNK) {
                size_t stop = at + TERM_CHUNK < end ? at + TERM_CHUNK : end;
                kernel(c, at, stop, chunk);
                lane_sums_add(&sum, chunk, stop - at);
            }
        } else {
            zeros = kernel(c, begin, end, s->output_data + begin * s->out_per_unit);
        }
        s->block_sum[b] = lane_sums_value(&sum);
        s->block_zeros[b] = zeros;
    }
}
