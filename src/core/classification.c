/* SPDX-License-Identifier: MIT */
/*
 * classification.c - the probabilistic losses: binary cross-entropy (on
 * probabilities and on logits), cross-entropy, NLL, KL divergence and the
 * two focal losses, as torch.nn.functional / torchvision compute them, with
 * the target's gradient where PyTorch's autograd gives one (bce,
 * bce_with_logits, kl_div, cross_entropy's probability targets). The
 * losses of detection heads that PyTorch lacks are in detection.c, made
 * of the same pieces (classification.h).
 *
 * PyTorch details matched (aten/src/ATen/native/Loss.cpp, LossNLL.cpp,
 * torch/nn/functional.py, torchvision/ops/focal_loss.py):
 *   - bce: (t - 1) max(log(1 - x), -100) - t max(log x, -100) with log(1 - x),
 *     not log1p; derivative (x - t) / max((1 - x) x, 1e-12f) - the clamp is
 *     a float constant, 9.999999960041972e-13 as a double;
 *   - bce_with_logits: the max_val = max(-x, 0) log-sum-exp form, and
 *     pos_weight entering as log_weight = (pos_weight - 1) t + 1;
 *   - cross_entropy: log_softmax as (x - max) - log sum exp(x - max); the
 *     mean of class-index targets divides by the summed weight of the
 *     non-ignored targets, and so does the label-smoothing term's mean
 *     (sum over classes of w_c log p_c per kept row); probability targets
 *     are smoothed as t (1 - e) + e / C, their mean divides by the rows and
 *     they refuse an ignore_index >= 0;
 *   - kl_div: xlogy(t, t) - t x (0 where t == 0), or exp(t) (t - x) with
 *     log_target; batchmean divides by the first dimension;
 *   - sigmoid_focal: alpha = -1 means no alpha weighting; (1 - p_t)^gamma's
 *     derivative is 0 when gamma == 0 (pow backward); the power is ATen's
 *     pow(Tensor, Scalar), a plain square for the default gamma = 2
 *     (lossd_v_pow_scalar; focal computes its power the same way).
 *
 * Thread-safe: kernels write only their own units' slots.
 */
#include <string.h>

#include "classification.h"

/* ATen's EPSILON in binary_cross_entropy_backward is the float 1e-12f. */
#define BCE_GRAD_EPSILON ((double)1e-12f)

/* ------------------------------------------------------------ pointwise */

/* max(log(x), -100), ATen's clamp: log(0) = -inf gives -100. */
LOSSD_INLINE lossd_vd clamped_log(lossd_vd x)
{
    return lossd_v_fmax(lossd_v_log(x), lossd_v_set1(-100.0));
}

/*
 * d/dt is autograd's binary_cross_entropy_target_backward: w (log(1 - x) -
 * log x), unclamped - infinite at x = 0 or 1, NaN there where w is 0.
 */
LOSSD_INLINE lossd_vd bce_elem(const void *consts, size_t i, lossd_vd x, lossd_vd t, lossd_vd *dl,
                               lossd_vd *dt)
{
    lossd_vd w = lossd__view_lanes(&LOSSD__CONSTS_OF(consts, classification_consts)->weight, i);
    *dl = w * ((x - t) / lossd_v_fmax((1 - x) * x, lossd_v_set1(BCE_GRAD_EPSILON)));
    *dt = w * (lossd_v_log(1 - x) - lossd_v_log(x));
    return w * ((t - 1) * clamped_log(1 - x) - t * clamped_log(x));
}

/* d/dt: -x w (binary_cross_entropy_with_logits_target_backward without pos_weight). */
LOSSD_INLINE lossd_vd bce_logits_elem(const void *consts, size_t i, lossd_vd x, lossd_vd t,
                                      lossd_vd *dl, lossd_vd *dt)
{
    lossd_vd w = lossd__view_lanes(&LOSSD__CONSTS_OF(consts, classification_consts)->weight, i);
    *dl = w * (sigmoid(x) - t);
    *dt = w * -x;
    return w * bce_logits_plain(x, t);
}

/* log sigmoid(x) as ATen's log_sigmoid computes it: min(x, 0) - log1p(exp(-|x|)). */
LOSSD_INLINE lossd_vd log_sigmoid(lossd_vd x)
{
    return lossd_v_fmin(x, lossd_v_set1(0.0)) - lossd_v_log1p(lossd_v_exp(-lossd_v_abs(x)));
}

/*
 * With pos_weight p: log_weight = (p - 1) t + 1 multiplies the log-sum-exp
 * term; d/dt is autograd's (log_sigmoid(-x) - p log_sigmoid(x)) w.
 */
LOSSD_INLINE lossd_vd bce_logits_pos_elem(const void *consts, size_t i, lossd_vd x, lossd_vd t,
                                          lossd_vd *dl, lossd_vd *dt)
{
    const classification_consts *k = LOSSD__CONSTS_OF(consts, classification_consts);
    lossd_vd w = lossd__view_lanes(&k->weight, i);
    lossd_vd pw = lossd__view_lanes(&k->pos_weight, i);
    lossd_vd max_val = lossd_v_fmax(-x, lossd_v_set1(0.0));
    lossd_vd log_weight = (pw - 1) * t + 1;
    lossd_vd pt = pw * t;
    *dl = w * ((pt + 1 - t) * sigmoid(x) - pt);
    *dt = w * (log_sigmoid(-x) - log_sigmoid(x) * pw);
    return w * ((1 - t) * x + log_weight * (bce_logits_lse(x) + max_val));
}

/*
 * d/dt is autograd's through F.kl_div's formulas: e^t (t - x) + e^t with
 * log_target; log t + t / t - x otherwise (xlogy's two gradients and the
 * product's), which is NaN at t = 0 (t / t), as in PyTorch.
 */
LOSSD_INLINE lossd_vd kl_div_elem(const void *consts, size_t i, lossd_vd x, lossd_vd t,
                                  lossd_vd *dl, lossd_vd *dt)
{
    (void)i;
    if (LOSSD__CONSTS_OF(consts, classification_consts)->log_target) {
        lossd_vd et = lossd_v_exp(t);
        *dl = -et;
        *dt = (t - x) * et + et;
        return et * (t - x);
    }
    *dl = -t;
    /* xlogy's self gradient, xlogy(t != 0, t), is log t but 0 at t = 0 (where t / t is NaN) */
    *dt = (lossd_v_select(t == 0, lossd_v_set1(0.0), lossd_v_log(t)) + t / t) - x;
    lossd_vd xlogy = lossd_v_select(t == 0, lossd_v_set1(0.0), t * lossd_v_log(t));
    return xlogy - t * x;
}

LOSSD_INLINE lossd_vd sigmoid_focal_elem(const void *consts, size_t i, lossd_vd x, lossd_vd t,
                                         lossd_vd *dl, lossd_vd *dt)
{
    (void)i, (void)dt; /* the target has no gradient here */
    const classification_consts *k = LOSSD__CONSTS_OF(consts, classification_consts);
    double alpha = k->alpha, gamma = k->gamma;
    lossd_vd p = sigmoid(x);
    lossd_vd ce = bce_logits_plain(x, t);
    lossd_vd p_t = p * t + (1 - p) * (1 - t);
    lossd_vd m = lossd_v_pow_scalar(1 - p_t, gamma);
    lossd_vd alpha_t = alpha >= 0 ? alpha * t + (1 - alpha) * (1 - t) : lossd_v_set1(1.0);
    /* chain rule through p_t(p(x)); pow's derivative is 0 when gamma == 0 */
    lossd_vd dm_dpt =
        gamma == 0 ? lossd_v_set1(0.0) : -(gamma * lossd_v_pow_scalar(1 - p_t, gamma - 1));
    lossd_vd dpt_dx = (t + t - 1) * ((1 - p) * p);
    *dl = alpha_t * ((p - t) * m + ce * (dm_dpt * dpt_dx));
    return alpha_t * (ce * m);
}

CLASSIFICATION_KERNEL(bce_kernel, lossd__pointwise_loss_dt, bce_elem)

static size_t bce_logits_kernel(const lossd_call *c, size_t begin, size_t end, double *out)
{
    classification_consts k = *LOSSD__CONSTS(c, classification_consts);
    if (k.has_pos_weight)
        return lossd__pointwise_loss_dt(c, &k, begin, end, out, bce_logits_pos_elem);
    return lossd__pointwise_loss_dt(c, &k, begin, end, out, bce_logits_elem);
}

CLASSIFICATION_KERNEL(kl_div_kernel, lossd__pointwise_loss_dt, kl_div_elem)

CLASSIFICATION_KERNEL(sigmoid_focal_kernel, lossd__pointwise_loss, sigmoid_focal_elem)

static int bce_prepare(lossd_call *c, lossd_error *err)
{
    classification_consts *k = LOSSD__CONSTS_SET(c, classification_consts);
    k->weight = lossd__param_view_of(c, "weight");
    (void)err;
    return 0;
}

/* bce's weight, and pos_weight. */
static int bce_logits_prepare(lossd_call *c, lossd_error *err)
{
    classification_consts *k = LOSSD__CONSTS_SET(c, classification_consts);
    bce_prepare(c, err);
    k->pos_weight = lossd__param_view_of(c, "pos_weight");
    k->has_pos_weight = lossd__param_given(c, "pos_weight");
    return 0;
}

static int kl_div_prepare(lossd_call *c, lossd_error *err)
{
    classification_consts *k = LOSSD__CONSTS_SET(c, classification_consts);
    (void)err; /* the target's rule checked it: probabilities, or their logarithms */
    k->log_target = lossd__param_bool(c, "log_target");
    return 0;
}

static int sigmoid_focal_prepare(lossd_call *c, lossd_error *err)
{
    classification_consts *k = LOSSD__CONSTS_SET(c, classification_consts);
    k->alpha = lossd__param_number(c, "alpha");
    k->gamma = lossd__param_number(c, "gamma");
    (void)err;
    return 0;
}

/* ------------------------------------------------------------ row-wise (N, C) */

/* The upstream factors of rows r..r+n-1 without the reduction's scale. */
LOSSD_INLINE lossd_vd row_upstream(const lossd_call *c, size_t r, size_t n)
{
    return c->grad_output_set ? lossd_v_load_n(c->grad_output.data + r, n) : lossd_v_set1(1.0);
}

/*
 * An ignored row's share of the reduction: 0 scaled like the kept rows, so
 * that a mean over a total weight of 0 is 0 * (1/0) = NaN, as PyTorch's 0/0.
 */
LOSSD_INLINE double ignored_term(const classification_consts *k)
{
    return k->nll_scale * 0.0;
}

/* What every row-wise loss resolves: its class weights (if any) and ignore_index. */
static classification_consts *rows_prepare(lossd_call *c)
{
    classification_consts *k = LOSSD__CONSTS_SET(c, classification_consts);
    const lossd_tensor *w =
        lossd__param_index(c->fn, "weight") < 0 ? NULL : lossd__param_tensor(c, "weight");
    k->class_weight = w ? w->data : NULL;
    k->ignore_index = lossd__param_number(c, "ignore_index");
    return k;
}

/*
 * Sum of w[target] over non-ignored targets (the mean's denominator of
 * nll and class-index cross_entropy), and the count of non-ignored rows.
 */
static void target_weight_sum(const lossd_call *c, const classification_consts *k,
                              double *weight_sum, size_t *n_kept)
{
    lossd__sum s = {0, 0};
    size_t kept = 0;
    if (k->class_weight == NULL) {
        /* a sum of ones is exact: the count is the sum, and validation counted */
        *weight_sum = (double)c->state->n_kept;
        *n_kept = c->state->n_kept;
        return;
    }
    for (size_t i = 0; i < c->n_terms; i++) {
        double target = c->operand[1].data[i];
        if (target == k->ignore_index)
            continue;
        kept++;
        lossd__sum_add(&s, class_weight(k, (size_t)target));
    }
    *weight_sum = lossd__sum_value(&s);
    *n_kept = kept;
}

static int cross_entropy_prepare(lossd_call *c, lossd_error *err)
{
    classification_consts *k = rows_prepare(c);
    /* PyTorch refuses ignore_index >= 0 "for floating point target" (negative ones do nothing) */
    if (c->prob_target && k->ignore_index >= 0)
        return lossd__fail(err, LOSSD_EINVAL, "ignore_index",
                           "not supported with probability targets");
    if (c->want_grad_second && !c->prob_target)
        return lossd__fail(err, LOSSD_EINVAL, "grad",
                           "class indices have no gradient; a target of probabilities shaped "
                           "like input has one");
    double eps = k->label_smoothing = lossd__param_number(c, "label_smoothing");
    size_t n_rows = c->n_terms, n_classes = c->state->n_classes;
    k->weight_total = (double)n_classes;
    if (k->class_weight) {
        k->weight_total = 0;
        for (size_t j = 0; j < n_classes; j++)
            k->weight_total += class_weight(k, j);
    }
    double classes = (double)(n_classes ? n_classes : 1);
    bool mean = c->reduction == LOSSD_REDUCTION_MEAN && n_rows > 0;
    if (c->prob_target) {
        k->nll_scale = mean ? 1.0 / (double)n_rows : 1.0;
        k->smooth_scale = 0;
        return 0;
    }
    double weight_sum = 1;
    size_t kept;
    if (mean)
        target_weight_sum(c, k, &weight_sum, &kept);
    /* Both parts of the mean divide by the kept targets' total weight. */
    k->nll_scale = (1 - eps) / (mean ? weight_sum : 1.0);
    k->smooth_scale = eps / classes / (mean ? weight_sum : 1.0);
    return 0;
}

/*
 * Rows r..r+rows-1 of cross_entropy with probability targets, smoothed as
 * t (1 - e) + e / C (PyTorch's cross_entropy_loss_prob_target): the loss,
 * the input's gradient and, when asked, the target's - autograd's through
 * -(log_softmax(x) t w).sum() / N, that is -(1 - e) w_j log p_j per entry,
 * scaled like the loss. max and logsum are the rows' softmax pieces.
 */
LOSSD_INLINE void ce_prob_rows(const lossd_call *restrict c, const classification_consts *k,
                               size_t begin, size_t r, size_t rows, lossd_vd max, lossd_vd logsum,
                               lossd_vd up, double *out, lossd_vm *bad)
{
    size_t n_cls = c->state->n_classes;
    double eps = k->label_smoothing, nll_scale = k->nll_scale;
    const double *x = c->operand[0].data + r * n_cls, *t = c->operand[1].data + r * n_cls;
    double *g = c->grad ? c->grad + r * n_cls : NULL;
    double *gt = c->grad_second ? c->grad_second + r * n_cls : NULL;
    lossd_vd loss = lossd_v_set1(0.0), wt_total = lossd_v_set1(0.0);
    for (size_t j = 0; j < n_cls; j++) {
        lossd_vd tj = lossd_v_gather(t + j, n_cls, rows);
        if (eps > 0)
            tj = tj * (1 - eps) + eps / (double)n_cls;
        lossd_vd wt = class_weight(k, j) * tj;
        loss -= ((lossd_v_gather(x + j, n_cls, rows) - max) - logsum) * tj * class_weight(k, j);
        wt_total += wt;
    }
    loss = nll_scale * loss;
    lossd_v_store_n(out + (r - begin), loss, rows);
    if (!lossd__reduced(c))
        lossd__tally_nonfinite(bad, loss, rows);
    for (size_t j = 0; g && j < n_cls; j++) {
        lossd_vd tj = lossd_v_gather(t + j, n_cls, rows);
        if (eps > 0)
            tj = tj * (1 - eps) + eps / (double)n_cls;
        lossd_vd p = lossd_v_exp((lossd_v_gather(x + j, n_cls, rows) - max) - logsum);
        lossd_vd gj = nll_scale * up * (p * wt_total - class_weight(k, j) * tj);
        lossd_v_scatter(g + j, n_cls, gj, rows);
        lossd__tally_nonfinite(bad, gj, rows);
    }
    /* autograd's order: ((-(g / N)) w_j) log p_j, then (1 - e) through the smoothing */
    lossd_vd down = -(nll_scale * up);
    for (size_t j = 0; gt && j < n_cls; j++) {
        lossd_vd logp = (lossd_v_gather(x + j, n_cls, rows) - max) - logsum;
        lossd_vd gj = down * class_weight(k, j) * logp * (1 - eps);
        lossd_v_scatter(gt + j, n_cls, gj, rows);
        lossd__tally_nonfinite(bad, gj, rows);
    }
}

/*
 * cross_entropy over probability targets, LOSSD_LANES rows at a time: a
 * loop of its own, so that the class-index rows' loop below holds no
 * branch to it (which cost that loop 1.2% more instructions, callgrind).
 */
static size_t cross_entropy_prob_kernel(const lossd_call *restrict c, size_t begin, size_t end,
                                        double *out)
{
    const classification_consts *k = LOSSD__CONSTS(c, classification_consts);
    size_t n_cls = c->state->n_classes;
    lossd_vm bad = {0};
    for (size_t r = begin; r < end; r += LOSSD_LANES) {
        size_t rows = end - r < LOSSD_LANES ? end - r : LOSSD_LANES;
        lossd_vd max, sum;
        lossd__softmax_rows(c->operand[0].data + r * n_cls, n_cls, rows, &max, &sum, NULL);
        ce_prob_rows(c, k, begin, r, rows, max, lossd_v_log(sum), row_upstream(c, r, rows), out,
                     &bad);
    }
    lossd__report_nonfinite(c, begin, lossd_v_count(bad));
    return 0;
}

/* LOSSD_LANES rows at a time, one per lane; each lane adds its row's terms in order. */
static size_t cross_entropy_kernel(const lossd_call *restrict c, size_t begin, size_t end,
                                   double *out)
{
    if (c->prob_target)
        return cross_entropy_prob_kernel(c, begin, end, out);
    const classification_consts *k = LOSSD__CONSTS(c, classification_consts);
    size_t n_cls = c->state->n_classes;
    double eps = k->label_smoothing, weight_total = k->weight_total;
    double nll_scale = k->nll_scale, smooth_scale = k->smooth_scale;
    bool reduced = lossd__reduced(c);
    lossd_vm bad = {0};
    for (size_t r = begin; r < end; r += LOSSD_LANES) {
        size_t rows = end - r < LOSSD_LANES ? end - r : LOSSD_LANES;
        const double *x = c->operand[0].data + r * n_cls;
        double *g = c->grad ? c->grad + r * n_cls : NULL;
        lossd_vd up = row_upstream(c, r, rows);
        lossd_vd max, sum;
        lossd__softmax_rows(x, n_cls, rows, &max, &sum, NULL);
        lossd_vd logsum = lossd_v_log(sum);
        size_t index[LOSSD_LANES];
        lossd_vd target;
        lossd_vm ignored_rows;
        lossd_vd x_target, wt;
        row_targets(c, k, r, rows, &target, index, &ignored_rows, &x_target, &wt);
        lossd_vd nll = -wt * ((x_target - max) - logsum);
        lossd_vd smooth = lossd_v_set1(0.0);
        for (size_t j = 0; eps > 0 && j < n_cls; j++)
            smooth -= ((lossd_v_gather(x + j, n_cls, rows) - max) - logsum) * class_weight(k, j);
        lossd_vd loss = lossd_v_select(ignored_rows, lossd_v_set1(ignored_term(k)),
                                       nll_scale * nll + smooth_scale * smooth);
        lossd_v_store_n(out + (r - begin), loss, rows);
        if (!reduced)
            lossd__tally_nonfinite(&bad, loss, rows);
        for (size_t j = 0; g && j < n_cls; j++) {
            lossd_vd p = lossd_v_exp((lossd_v_gather(x + j, n_cls, rows) - max) - logsum);
            lossd_vd d_nll = wt * (p - is_target(target, j));
            lossd_vd d_smooth = p * weight_total - class_weight(k, j);
            lossd_vd gj = lossd_v_select(ignored_rows, lossd_v_set1(0.0),
                                         up * (nll_scale * d_nll + smooth_scale * d_smooth));
            lossd_v_scatter(g + j, n_cls, gj, rows);
            lossd__tally_nonfinite(&bad, gj, rows);
        }
    }
    lossd__report_nonfinite(c, begin, lossd_v_count(bad));
    return 0;
}

static int nll_prepare(lossd_call *c, lossd_error *err)
{
    (void)err;
    classification_consts *k = rows_prepare(c);
    double weight_sum = 1;
    size_t kept;
    if (c->reduction == LOSSD_REDUCTION_MEAN && c->n_terms > 0)
        target_weight_sum(c, k, &weight_sum, &kept);
    k->nll_scale = 1.0 / weight_sum;
    return 0;
}

/* Rows r..r+rows-1 (rows <= LOSSD_LANES), one per lane: each reads one number of its row. */
LOSSD_INLINE void nll_rows(const lossd_call *restrict c, const classification_consts *restrict k,
                           size_t begin, size_t r, size_t rows, double *restrict out,
                           double *restrict g, bool reduced, lossd_vm *bad)
{
    size_t n_cls = c->state->n_classes, index[LOSSD_LANES];
    lossd_vd target, x_target, wt;
    lossd_vm ignored_rows;
    row_targets(c, k, r, rows, &target, index, &ignored_rows, &x_target, &wt);
    lossd_vd loss = k->nll_scale * (-wt * x_target);
    /* lane by lane: a select here crashes GCC 12's SSE2 code generation (gimple-isel) */
    for (size_t l = 0; l < LOSSD_LANES; l++)
        if (ignored_rows[l])
            loss[l] = ignored_term(k);
    lossd_v_store_n(out + (r - begin), loss, rows);
    if (!reduced)
        lossd__tally_nonfinite(bad, loss, rows);
    if (!g)
        return;
    lossd_vd up = row_upstream(c, r, rows);
    lossd_vd gt = k->nll_scale * up * -wt;
    lossd__tally_nonfinite_where(bad, gt, ~ignored_rows & lossd_v_first(rows));
    for (size_t l = 0; l < rows; l++)
        if (target[l] != k->ignore_index)
            g[(r + l) * n_cls + index[l]] = gt[l];
}

static size_t nll_kernel(const lossd_call *restrict c, size_t begin, size_t end, double *out)
{
    const classification_consts *k = LOSSD__CONSTS(c, classification_consts);
    size_t n_cls = c->state->n_classes;
    double *g = c->grad;
    bool reduced = lossd__reduced(c);
    lossd_vm bad = {0};
    if (g) /* one row's gradient is 0 but at its target */
        memset(g + begin * n_cls, 0, (end - begin) * n_cls * sizeof *g);
    size_t r = begin;
    /* whole groups of rows apart, so that their lane loops unroll */
    for (; end - r >= LOSSD_LANES; r += LOSSD_LANES)
        nll_rows(c, k, begin, r, LOSSD_LANES, out, g, reduced, &bad);
    if (r < end)
        nll_rows(c, k, begin, r, end - r, out, g, reduced, &bad);
    lossd__report_nonfinite(c, begin, lossd_v_count(bad));
    return 0;
}

/* Softmax focal loss: the mean is over the non-ignored rows. */
static int focal_prepare(lossd_call *c, lossd_error *err)
{
    (void)err;
    classification_consts *k = rows_prepare(c);
    k->alpha = lossd__param_number(c, "alpha");
    k->gamma = lossd__param_number(c, "gamma");
    double kept_sum;
    size_t kept = 0;
    if (c->reduction == LOSSD_REDUCTION_MEAN && c->n_terms > 0) {
        target_weight_sum(c, k, &kept_sum, &kept);
        c->state->term_scale = 1.0 / (double)kept; /* none kept: 0/0 = NaN, as nll's mean */
    }
    return 0;
}

static size_t focal_kernel(const lossd_call *restrict c, size_t begin, size_t end, double *out)
{
    const classification_consts *k = LOSSD__CONSTS(c, classification_consts);
    size_t n_cls = c->state->n_classes;
    double alpha = k->alpha, gamma = k->gamma, scale = c->state->term_scale;
    double ignored = 0.0 * scale; /* an ignored row's share: NaN when none is kept (mean) */
    bool reduced = lossd__reduced(c);
    lossd_vm bad = {0};
    for (size_t r = begin; r < end; r += LOSSD_LANES) {
        size_t rows = end - r < LOSSD_LANES ? end - r : LOSSD_LANES;
        const double *x = c->operand[0].data + r * n_cls;
        double *g = c->grad ? c->grad + r * n_cls : NULL;
        size_t index[LOSSD_LANES];
        lossd_vd target;
        lossd_vm ignored_rows;
        lossd_vd x_target;
        row_targets(c, k, r, rows, &target, index, &ignored_rows, &x_target, NULL);
        lossd_vd max, sum;
        lossd__softmax_rows(x, n_cls, rows, &max, &sum, NULL);
        lossd_vd logsum = lossd_v_log(sum);
        lossd_vd logp_t = (x_target - max) - logsum;
        lossd_vd p_t = lossd_v_exp(logp_t);
        lossd_vd m = lossd_v_pow_scalar(1 - p_t, gamma);
#ifdef LOSSD_SIMD_AVX2
        lossd_vd loss =
            lossd_v_select(ignored_rows, lossd_v_set1(ignored), scale * (-alpha * m * logp_t));
#else
        /* lane by lane, as nll_rows: this select crashes GCC 12's SSE2 code generation */
        lossd_vd loss = scale * (-alpha * m * logp_t);
        for (size_t l = 0; l < LOSSD_LANES; l++)
            if (ignored_rows[l])
                loss[l] = ignored;
#endif
        lossd_v_store_n(out + (r - begin), loss, rows);
        if (!reduced)
            lossd__tally_nonfinite(&bad, loss, rows);
        if (!g)
            continue;
        /* d/d logp_t of -alpha (1 - p_t)^gamma logp_t, with p_t = exp(logp_t) */
        lossd_vd dm_dpt =
            gamma == 0 ? lossd_v_set1(0.0) : -(gamma * lossd_v_pow_scalar(1 - p_t, gamma - 1));
        lossd_vd d_logpt = -alpha * (m + logp_t * dm_dpt * p_t);
        lossd_vd upstream = lossd__upstream(c, scale, r, rows);
        lossd_vd up = upstream * d_logpt;
        for (size_t j = 0; j < n_cls; j++) {
            lossd_vd p = lossd_v_exp((lossd_v_gather(x + j, n_cls, rows) - max) - logsum);
            lossd_vd gj =
                lossd_v_select(ignored_rows, lossd_v_set1(0.0), up * (is_target(target, j) - p));
            lossd_v_scatter(g + j, n_cls, gj, rows);
            lossd__tally_nonfinite(&bad, gj, rows);
        }
    }
    lossd__report_nonfinite(c, begin, lossd_v_count(bad));
    return 0;
}

/* ------------------------------------------------------------ registry rows */

static const lossd_param_spec bce_params[] = {
    {.name = "weight",
     .type = LOSSD_PARAM_TENSOR,
     .summary = "a rescaling weight per element, broadcast over input",
     .shape = LOSSD_PSHAPE_BROADCAST},
};

static const lossd_param_spec bce_logits_params[] = {
    {.name = "weight",
     .type = LOSSD_PARAM_TENSOR,
     .summary = "a rescaling weight per element, broadcast over input",
     .shape = LOSSD_PSHAPE_BROADCAST},
    {.name = "pos_weight",
     .type = LOSSD_PARAM_TENSOR,
     .summary = "a weight of positive examples, along the last axis (broadcast over input)",
     .shape = LOSSD_PSHAPE_BROADCAST},
};

#define CLASS_WEIGHT_PARAM                                                                       \
    {                                                                                            \
        .name = "weight", .type = LOSSD_PARAM_TENSOR, .summary = "a rescaling weight per class", \
        .shape = LOSSD_PSHAPE_CLASSES                                                            \
    }

#define IGNORE_INDEX_PARAM                                                               \
    {                                                                                    \
        .name = "ignore_index", .type = LOSSD_PARAM_INTEGER,                             \
        .summary = "a target value that is ignored and does not count towards the mean", \
        .default_number = -100, .domain = LOSSD__ANY                                     \
    }

static const lossd_param_spec cross_entropy_params[] = {
    CLASS_WEIGHT_PARAM,
    IGNORE_INDEX_PARAM,
    {.name = "label_smoothing",
     .type = LOSSD_PARAM_NUMBER,
     .summary = "how much of the target mass is spread uniformly over the classes",
     .default_number = 0.0,
     .domain = LOSSD__UNIT},
};

static const lossd_param_spec nll_params[] = {CLASS_WEIGHT_PARAM, IGNORE_INDEX_PARAM};

static const lossd_param_spec kl_div_params[] = {
    {.name = "log_target",
     .type = LOSSD_PARAM_BOOL,
     .summary = "the target is given as log-probabilities",
     .default_number = 0},
};

#define FOCAL_GAMMA_PARAM                                                       \
    {                                                                           \
        .name = "gamma", .type = LOSSD_PARAM_NUMBER,                            \
        .summary = "the focusing exponent of (1 - p_t)", .default_number = 2.0, \
        .domain = LOSSD__NONNEG                                                 \
    }

static const lossd_param_spec sigmoid_focal_params[] = {
    {.name = "alpha",
     .type = LOSSD_PARAM_NUMBER,
     .summary = "the weight of positives (1 - alpha for negatives); -1 for no weighting",
     .default_number = 0.25,
     .domain = {0, 1, false, false, true, -1, false, 0}},
    FOCAL_GAMMA_PARAM,
};

static const lossd_param_spec focal_params[] = {
    {.name = "alpha",
     .type = LOSSD_PARAM_NUMBER,
     .summary = "a constant weight of every term",
     .default_number = 0.25,
     .domain = LOSSD__UNIT},
    FOCAL_GAMMA_PARAM,
    IGNORE_INDEX_PARAM,
};

static const lossd_function classification_functions[] = {
    {.kind = LOSSD_KIND_LOSS,
     .name = "bce",
     .summary = "binary cross-entropy on probabilities",
     .formula = "\\ell_i = -w_i \\left[ y_i \\log x_i + (1 - y_i) \\log(1 - x_i) \\right]",
     .reference = "torch.nn.functional.binary_cross_entropy (logs clamped at -100)",
     .flags = LOSSD_FN_GRAD | LOSSD_FN_GRAD_SECOND,
     .operands = {{"input", LOSSD_RULE_PROBABILITIES, 0, "probabilities in [0,1], any shape"},
                  {"target", LOSSD_RULE_PROBABILITIES, LOSSD_OPERAND_LIKE_INPUT,
                   "probabilities in [0,1], same shape"}},
     .params = LOSSD__PARAMS(bce_params),
     .impl = LOSSD__IMPL(.prepare = bce_prepare, .kernel = bce_kernel)},
    {.kind = LOSSD_KIND_LOSS,
     .name = "bce_with_logits",
     .summary = "binary cross-entropy on logits, numerically stable",
     .formula = "\\ell_i = -w_i \\left[ p_c y_i \\log \\sigma(x_i) + (1 - y_i) "
                "\\log(1 - \\sigma(x_i)) \\right]",
     .reference = "torch.nn.functional.binary_cross_entropy_with_logits",
     .flags = LOSSD_FN_GRAD | LOSSD_FN_GRAD_SECOND,
     .operands = {{"input", LOSSD_RULE_ANY, 0, "logits, any shape"},
                  {"target", LOSSD_RULE_PROBABILITIES, LOSSD_OPERAND_LIKE_INPUT,
                   "probabilities in [0,1], same shape"}},
     .params = LOSSD__PARAMS(bce_logits_params),
     .impl = LOSSD__IMPL(.prepare = bce_logits_prepare, .kernel = bce_logits_kernel)},
    {.kind = LOSSD_KIND_LOSS,
     .name = "cross_entropy",
     .summary = "softmax cross-entropy with class-index or probability targets",
     .formula = "\\ell_n = -\\sum_c w_c\\, y_{n,c} \\log \\frac{e^{x_{n,c}}}{\\sum_k e^{x_{n,k}}}",
     .reference = "torch.nn.functional.cross_entropy",
     .flags = LOSSD_FN_GRAD | LOSSD_FN_GRAD_SECOND,
     .operands = {{"input", LOSSD_RULE_SCORES, 0, "logits (N,C) or (C)"},
                  {"target", LOSSD_RULE_CLASS_OR_PROB, 0,
                   "class indices (N) or (), or probabilities shaped like input"}},
     .params = LOSSD__PARAMS(cross_entropy_params),
     .impl = LOSSD__IMPL(.prepare = cross_entropy_prepare, .kernel = cross_entropy_kernel)},
    {.kind = LOSSD_KIND_LOSS,
     .name = "nll",
     .summary = "negative log-likelihood of log-probabilities",
     .formula = "\\ell_n = -w_{y_n} x_{n, y_n}",
     .reference = "torch.nn.functional.nll_loss",
     .flags = LOSSD_FN_GRAD,
     .operands = CLASS_INDEX_OPERANDS("log-probabilities (N,C) or (C)"),
     .params = LOSSD__PARAMS(nll_params),
     .impl = LOSSD__IMPL(.prepare = nll_prepare, .kernel = nll_kernel)},
    {.kind = LOSSD_KIND_LOSS,
     .name = "kl_div",
     .summary = "Kullback-Leibler divergence of a target from log-probabilities",
     .formula = "\\ell_i = y_i (\\log y_i - x_i)",
     .reference = "torch.nn.functional.kl_div",
     .flags = LOSSD_FN_GRAD | LOSSD_FN_GRAD_SECOND | LOSSD_FN_BATCHMEAN,
     .operands = {{"input", LOSSD_RULE_ANY, 0, "log-probabilities, any shape"},
                  {"target", LOSSD_RULE_PROBABILITIES_OR_LOGS, LOSSD_OPERAND_LIKE_INPUT,
                   "probabilities (log-probabilities with log_target), same shape"}},
     .params = LOSSD__PARAMS(kl_div_params),
     .impl = LOSSD__IMPL(.prepare = kl_div_prepare, .kernel = kl_div_kernel)},
    {.kind = LOSSD_KIND_LOSS,
     .name = "sigmoid_focal",
     .summary = "RetinaNet's focal loss on logits (Lin et al. 2017)",
     .formula = "\\ell_i = -\\alpha_t (1 - p_t)^\\gamma \\log p_t,\\ p = \\sigma(x_i)",
     .reference = "torchvision.ops.sigmoid_focal_loss",
     .flags = LOSSD_FN_GRAD,
     .operands = {{"input", LOSSD_RULE_ANY, 0, "logits, any shape"},
                  {"target", LOSSD_RULE_PROBABILITIES, LOSSD_OPERAND_LIKE_INPUT,
                   "labels in [0,1], same shape"}},
     .params = LOSSD__PARAMS(sigmoid_focal_params),
     .impl = LOSSD__IMPL(.prepare = sigmoid_focal_prepare, .kernel = sigmoid_focal_kernel)},
    {.kind = LOSSD_KIND_LOSS,
     .name = "focal",
     .summary = "softmax focal loss over class-index targets (Lin et al. 2017)",
     .formula = "\\ell_n = -\\alpha (1 - p_{n,y_n})^\\gamma \\log p_{n,y_n},\\ "
                "p_n = \\mathrm{softmax}(x_n)",
     .reference = "FL(p_t) = -alpha (1 - p_t)^gamma log p_t over softmax (Lin et al. 2017)",
     .flags = LOSSD_FN_GRAD,
     .operands = CLASS_INDEX_OPERANDS("logits (N,C) or (C)"),
     .params = LOSSD__PARAMS(focal_params),
     .impl = LOSSD__IMPL(.prepare = focal_prepare, .kernel = focal_kernel)},
};

LOSSD__MODULE(lossd__classification_module, classification_functions);
