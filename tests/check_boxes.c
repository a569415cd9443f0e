/* SPDX-License-Identifier: MIT */
/*
 * check_boxes.c - the box losses and pairwise matrices (src/core/boxes.c):
 * finite differences, geometric properties and every validation error.
 * torchvision's own values and gradients are the golden vectors
 * (check_golden.c).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"

static const char *const box_losses[] = {"iou", "giou", "diou", "ciou", NULL};
/* The box losses torchvision does not have (docs/functions.md defines them). */
static const char *const next_losses[] = {"siou", "eiou", "nwd", NULL};
static const char *const formats[] = {"xyxy", "xywh", "cxcywh"};

/* ------------------------------------------------------------ values */

/*
 * Computes one box loss of (n, 4) boxes with reduction none into out (and
 * the gradient into grad when not NULL); a parameter `param` = value when
 * param is not NULL.
 */
static void box_loss_with(const char *name, const char *format, const char *param, double value,
                          const double *in, const double *tg, size_t n, double *out, double *grad)
{
    size_t shape[2] = {n, 4};
    lossd_tensor a = tensor_of(in, 2, shape), b = tensor_of(tg, 2, shape);
    lossd_call c;
    lossd_error err = {0};
    lossd_call_init(&c, must_find(LOSSD_KIND_LOSS, name));
    ck_assert_int_eq(lossd_call_set_operand(&c, "input", &a, &err), 0);
    ck_assert_int_eq(lossd_call_set_operand(&c, "target", &b, &err), 0);
    ck_assert_int_eq(lossd_call_set_choice(&c, "box_format", format, &err), 0);
    ck_assert_int_eq(lossd_call_set_reduction(&c, "none", &err), 0);
    if (param)
        ck_assert_msg(lossd_call_set_number(&c, param, value, &err) == 0, "%s", err.message);
    c.want_grad = grad != NULL;
    ck_assert_msg(lossd_call_compute(&c, &err) == 0, "%s", err.message);
    memcpy(out, c.output.data, n * sizeof *out);
    if (grad)
        memcpy(grad, c.grad, 4 * n * sizeof *grad);
    lossd_call_cleanup(&c);
}

static void box_loss(const char *name, const char *format, const double *in, const double *tg,
                     size_t n, double *out, double *grad)
{
    box_loss_with(name, format, NULL, 0, in, tg, n, out, grad);
}

/* Random valid xyxy boxes, some overlapping, some disjoint. */
static void random_boxes(test_rng *r, double *b, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double x = rng_uniform(r, -5, 5), y = rng_uniform(r, -5, 5);
        b[4 * i] = x;
        b[4 * i + 1] = y;
        b[4 * i + 2] = x + rng_uniform(r, 0.1, 4);
        b[4 * i + 3] = y + rng_uniform(r, 0.1, 4);
    }
}

static void to_format(const double *xyxy, double *out, size_t n, const char *format)
{
    for (size_t i = 0; i < n; i++) {
        const double *b = xyxy + 4 * i;
        double *o = out + 4 * i;
        double w = b[2] - b[0], h = b[3] - b[1];
        if (strcmp(format, "xywh") == 0) {
            o[0] = b[0], o[1] = b[1], o[2] = w, o[3] = h;
        } else if (strcmp(format, "cxcywh") == 0) {
            o[0] = b[0] + w / 2, o[1] = b[1] + h / 2, o[2] = w, o[3] = h;
        } else {
            memcpy(o, b, 4 * sizeof *o);
        }
    }
}

START_TEST(loss_ranges)
{
    /* 0 <= IoU loss <= 1, 0 <= GIoU loss < 2, DIoU and CIoU in [0, 2]. */
    enum { N = 500 };
    test_rng r;
    rng_seed(&r, 7);
    double *a = malloc(4 * N * sizeof *a), *b = malloc(4 * N * sizeof *b);
    double out[N];
    random_boxes(&r, a, N);
    random_boxes(&r, b, N);
    const double upper[] = {1.0, 2.0, 2.0, 3.0};
    for (int f = 0; box_losses[f]; f++) {
        box_loss(box_losses[f], "xyxy", a, b, N, out, NULL);
        for (size_t i = 0; i < N; i++) {
            ck_assert_msg(out[i] >= 0 && out[i] <= upper[f], "%s[%zu] = %.17g", box_losses[f], i,
                          out[i]);
            if (f == 1)
                ck_assert_msg(out[i] < 2.0, "giou[%zu] = %.17g", i, out[i]);
        }
    }
    free(a);
    free(b);
}
END_TEST

/* The same boxes in any format give the same loss, and gradients that are the chain rule of
   the conversion. */
static void expect_format_invariance(const char *name)
{
    enum { N = 64 };
    test_rng r;
    rng_seed(&r, 11);
    double xyxy_a[4 * N], xyxy_b[4 * N], fa[4 * N], fb[4 * N];
    double ref[N], out[N], ref_grad[4 * N], grad[4 * N];
    random_boxes(&r, xyxy_a, N);
    random_boxes(&r, xyxy_b, N);
    box_loss(name, "xyxy", xyxy_a, xyxy_b, N, ref, ref_grad);
    for (int k = 1; k < 3; k++) {
        to_format(xyxy_a, fa, N, formats[k]);
        to_format(xyxy_b, fb, N, formats[k]);
        box_loss(name, formats[k], fa, fb, N, out, grad);
        for (size_t i = 0; i < N; i++) {
            ck_assert_close(out[i], ref[i], 1e-12, 1e-14, name);
            const double *g = ref_grad + 4 * i;
            double want[4] = {g[0] + g[2], g[1] + g[3], g[2], g[3]};
            if (k == 2) {
                want[2] = 0.5 * (g[2] - g[0]);
                want[3] = 0.5 * (g[3] - g[1]);
            }
            for (int j = 0; j < 4; j++)
                ck_assert_close(grad[4 * i + j], want[j], 1e-9, 1e-12, formats[k]);
        }
    }
}

START_TEST(format_invariance)
{
    for (int f = 0; box_losses[f]; f++)
        expect_format_invariance(box_losses[f]);
    for (int f = 0; next_losses[f]; f++)
        expect_format_invariance(next_losses[f]);
}
END_TEST

START_TEST(identical_boxes)
{
    /* A box against itself: every loss is (about) 0; zero-area boxes stay finite. */
    double boxes[] = {0, 0, 2, 1, -3, 4, 5, 4.5, 1, 1, 1, 3 /* zero width */};
    double out[3];
    for (int f = 0; box_losses[f]; f++) {
        box_loss(box_losses[f], "xyxy", boxes, boxes, 2, out, NULL);
        for (int i = 0; i < 2; i++)
            ck_assert_msg(fabs(out[i]) < 1e-6, "%s of identical boxes = %.17g", box_losses[f],
                          out[i]);
        /* A zero-width box (ciou's aspect term is atan(0 / h) = 0) */
        box_loss(box_losses[f], "xyxy", boxes, boxes, 3, out, NULL);
        ck_assert_msg(isfinite(out[2]), "%s of a zero-area box is %g", box_losses[f], out[2]);
    }
}
END_TEST

START_TEST(disjoint_and_far)
{
    /* Far-apart boxes: IoU loss is exactly 1 and GIoU approaches 2. */
    double a[] = {0, 0, 1, 1}, b[] = {1000, 1000, 1001, 1001};
    double out[1];
    box_loss("iou", "xyxy", a, b, 1, out, NULL);
    ck_assert_double_eq(out[0], 1.0);
    box_loss("giou", "xyxy", a, b, 1, out, NULL);
    ck_assert_msg(out[0] > 1.99 && out[0] < 2.0, "giou = %.17g", out[0]);
}
END_TEST

/* CIoU's v of the pair (a, b): 4/pi^2 (atan(wb/hb) - atan(wa/ha))^2. */
static double aspect_v(const double *a, const double *b)
{
    double d = atan((b[2] - b[0]) / (b[3] - b[1])) - atan((a[2] - a[0]) / (a[3] - a[1]));
    return 4 / (M_PI * M_PI) * d * d;
}

START_TEST(ciou_aspect_weight_is_constant)
{
    /* CIoU's gradients hold its aspect weight (torchvision's alpha)
       constant: they differ from the full derivative, which finite
       differences would see. Check the reported gradient with respect to
       each box equals d(DIoU) + aspect_weight dv with dv from finite
       differences of v alone, using the terms output. */
    double a[] = {0.1, 0.2, 2.3, 1.1}, b[] = {0.5, -0.4, 1.7, 2.6};
    size_t shape[1] = {4};
    lossd_tensor ta = tensor_of(a, 1, shape), tb = tensor_of(b, 1, shape);
    lossd_call c, d;
    lossd_error err = {0};
    lossd_call_init(&c, must_find(LOSSD_KIND_LOSS, "ciou"));
    lossd_call_set_operand(&c, "input", &ta, &err);
    lossd_call_set_operand(&c, "target", &tb, &err);
    c.want_grad = c.want_grad_second = c.want_terms = true;
    ck_assert_int_eq(lossd_call_compute(&c, &err), 0);
    ck_assert_str_eq(lossd_call_term_name(&c, 4), "aspect_weight");
    double aspect_weight = c.terms[4][0];
    /* The DIoU part with torchvision's fixed inner eps. */
    lossd_call_init(&d, must_find(LOSSD_KIND_LOSS, "diou"));
    lossd_call_set_operand(&d, "input", &ta, &err);
    lossd_call_set_operand(&d, "target", &tb, &err);
    d.want_grad = d.want_grad_second = true;
    ck_assert_int_eq(lossd_call_compute(&d, &err), 0);
    for (int k = 0; k < 2; k++) {
        double *box = k ? b : a;
        const double *g_ciou = k ? c.grad_second : c.grad, *g_diou = k ? d.grad_second : d.grad;
        for (int j = 0; j < 4; j++) {
            double h = 1e-6, saved = box[j];
            box[j] = saved + h;
            double vp = aspect_v(a, b);
            box[j] = saved - h;
            double vm = aspect_v(a, b);
            box[j] = saved;
            double want = g_diou[j] + aspect_weight * (vp - vm) / (2 * h);
            ck_assert_close(g_ciou[j], want, 1e-6, 1e-9, k ? "ciou's target gradient" : "ciou");
        }
    }
    lossd_call_cleanup(&c);
    lossd_call_cleanup(&d);
}
END_TEST

START_TEST(max_min_ties_split)
{
    /* x1 == x1g: autograd gives half the gradient to each side of max/min. */
    double a[] = {0, 0, 2, 2}, b[] = {0, 1, 3, 3};
    double out[1], grad[4], a2[] = {1e-9, 0, 2, 2}, g2[4];
    box_loss("iou", "xyxy", a, b, 1, out, grad);
    box_loss("iou", "xyxy", a2, b, 1, out, g2);
    /* Just right of the tie the intersection moves with x1 fully; at the tie, half. */
    double area_term = g2[0] - grad[0];
    ck_assert_msg(fabs(area_term) > 1e-3, "tie and non-tie gradients should differ");
    double a3[] = {-1e-9, 0, 2, 2}, g3[4];
    box_loss("iou", "xyxy", a3, b, 1, out, g3);
    ck_assert_close(grad[0], 0.5 * (g2[0] + g3[0]), 1e-6, 1e-9, "half-split at the tie");
}
END_TEST

/* ------------------------------------------------------------ Alpha-IoU */

/* Box pairs with every edge the losses have (xyxy): identical, disjoint, nested, touching, ties
   in x1 and y2, zero width, partial overlap, then random ones. */
enum { EDGE_PAIRS = 7, ALPHA_PAIRS = 40 };
static const double edge_pred[4 * EDGE_PAIRS] = {
    1, 1, 3, 4, 0, 0, 1, 1, 0, 0, 10, 10, 0, 0, 2, 2, 0, 0, 2, 2, 1, 1, 1, 3, 0.5, 0.25, 2.75, 3.5};
static const double edge_target[4 * EDGE_PAIRS] = {
    1, 1, 3, 4, 2, 2, 3.5, 4, 2, 3, 5, 7, 2, 0, 4, 2, 0, 1, 3, 2, 0, 0, 2, 2, 1.25, 0.75, 3, 2};

static void alpha_pairs(double *a, double *b)
{
    test_rng r;
    rng_seed(&r, 41);
    memcpy(a, edge_pred, sizeof edge_pred);
    memcpy(b, edge_target, sizeof edge_target);
    random_boxes(&r, a + 4 * EDGE_PAIRS, ALPHA_PAIRS - EDGE_PAIRS);
    random_boxes(&r, b + 4 * EDGE_PAIRS, ALPHA_PAIRS - EDGE_PAIRS);
}

/* The alpha pairs, and an upstream gradient in [-2, 2) per pair drawn from `seed`. */
static void alpha_pairs_upstream(double *a, double *b, double *up, unsigned long long seed)
{
    alpha_pairs(a, b);
    test_rng r;
    rng_seed(&r, seed);
    for (size_t i = 0; i < ALPHA_PAIRS; i++)
        up[i] = rng_uniform(&r, -2, 2);
}

/* Computes `name` on n boxes with every output: grad, terms, and grad_output with none. */
static void full_call(lossd_call *c, const char *name, const lossd_tensor *a, const lossd_tensor *b,
                      const char *format, const char *reduction, const lossd_tensor *grad_output,
                      const char *param, double value)
{
    lossd_error err = {0};
    lossd_call_init(c, must_find(LOSSD_KIND_LOSS, name));
    ck_assert_int_eq(lossd_call_set_operand(c, "input", a, &err), 0);
    ck_assert_int_eq(lossd_call_set_operand(c, "target", b, &err), 0);
    ck_assert_int_eq(lossd_call_set_choice(c, "box_format", format, &err), 0);
    ck_assert_int_eq(lossd_call_set_reduction(c, reduction, &err), 0);
    if (param)
        ck_assert_msg(lossd_call_set_number(c, param, value, &err) == 0, "%s", err.message);
    c->want_grad = c->want_terms = true;
    if (strcmp(reduction, "none") == 0) {
        c->grad_output = *grad_output;
        c->grad_output_set = true;
    }
    ck_assert_msg(lossd_call_compute(c, &err) == 0, "%s", err.message);
}

/* Every double two calls gave - loss, output, gradient, terms - is the same, bit for bit. */
static void expect_same_bits(const lossd_call *x, const lossd_call *y, const char *what)
{
    ck_assert_msg(same_bits(x->loss, y->loss), "%s: loss %.17g vs %.17g", what, x->loss, y->loss);
    if (x->output.data)
        ck_assert_msg(memcmp(x->output.data, y->output.data, x->output.size * sizeof(double)) == 0,
                      "%s: outputs differ", what);
    ck_assert_msg(memcmp(x->grad, y->grad, x->operand[0].size * sizeof(double)) == 0,
                  "%s: gradients differ", what);
    for (size_t k = 0; k < LOSSD_MAX_TERMS && x->terms[k]; k++)
        ck_assert_msg(memcmp(x->terms[k], y->terms[k], x->n_terms * sizeof(double)) == 0,
                      "%s: term %s differs", what, lossd_call_term_name(x, k));
}

START_TEST(alpha_one_is_the_torchvision_loss)
{
    /* alpha = 1 takes no power at all: the same doubles as a call without alpha, which the
       golden cases hold to torchvision - for every loss, format, reduction and output. */
    double a[4 * ALPHA_PAIRS], b[4 * ALPHA_PAIRS], fa[4 * ALPHA_PAIRS], fb[4 * ALPHA_PAIRS];
    double up[ALPHA_PAIRS];
    alpha_pairs_upstream(a, b, up, 42);
    size_t shape[2] = {ALPHA_PAIRS, 4}, n[1] = {ALPHA_PAIRS};
    lossd_tensor go = tensor_of(up, 1, n);
    const char *reductions[] = {"mean", "sum", "none"};
    for (int f = 0; f < 4; f++)
        for (int k = 0; k < 3; k++)
            for (int red = 0; red < 3; red++) {
                to_format(a, fa, ALPHA_PAIRS, formats[k]);
                to_format(b, fb, ALPHA_PAIRS, formats[k]);
                lossd_tensor ta = tensor_of(fa, 2, shape), tb = tensor_of(fb, 2, shape);
                lossd_call plain, one;
                full_call(&plain, box_losses[f], &ta, &tb, formats[k], reductions[red], &go, NULL,
                          0);
                full_call(&one, box_losses[f], &ta, &tb, formats[k], reductions[red], &go, "alpha",
                          1.0);
                expect_same_bits(&plain, &one, box_losses[f]);
                lossd_call_cleanup(&plain);
                lossd_call_cleanup(&one);
            }
}
END_TEST

START_TEST(alpha_powers_the_iou)
{
    /* iou: 1 - IoU^alpha with IoU = 1 - (the alpha = 1 loss); alpha just above 1 is
       continuous with alpha = 1, values and gradients. */
    double a[4 * ALPHA_PAIRS], b[4 * ALPHA_PAIRS];
    double one[ALPHA_PAIRS], three[ALPHA_PAIRS], near[ALPHA_PAIRS];
    double g_one[4 * ALPHA_PAIRS], g_near[4 * ALPHA_PAIRS];
    alpha_pairs(a, b);
    box_loss("iou", "xyxy", a, b, ALPHA_PAIRS, one, NULL);
    box_loss_with("iou", "xyxy", "alpha", 3.0, a, b, ALPHA_PAIRS, three, NULL);
    for (size_t i = 0; i < ALPHA_PAIRS; i++) {
        double iou = 1 - one[i];
        ck_assert_close(three[i], 1 - iou * iou * iou, 1e-12, 1e-15, "iou, alpha 3");
    }
    /* (Not at the edge pairs: there a penalty is 0, and d P^alpha / dP = 0 for any alpha > 1
       where it is 1 at alpha = 1 - nested boxes lose GIoU's penalty gradient.) */
    for (int f = 0; f < 4; f++) {
        box_loss(box_losses[f], "xyxy", a, b, ALPHA_PAIRS, one, g_one);
        box_loss_with(box_losses[f], "xyxy", "alpha", 1 + 1e-9, a, b, ALPHA_PAIRS, near, g_near);
        for (size_t i = EDGE_PAIRS; i < ALPHA_PAIRS; i++) {
            ck_assert_close(near[i], one[i], 1e-6, 1e-8, box_losses[f]);
            for (size_t j = 4 * i; j < 4 * i + 4; j++)
                ck_assert_close(g_near[j], g_one[j], 1e-6, 1e-8, box_losses[f]);
        }
    }
}
END_TEST

/* A box loss with one of its own parameters set: a number, a flag, or none. */
typedef struct {
    const char *name, *param;
    double value;
    const char *flag;
    bool on;
} box_setting;

typedef struct {
    const char *format;
    const double *target;
    size_t n;
    const double *input;       /* set as the input too when not NULL (the target's checks) */
    const double *grad_output; /* with reduction none: (n) upstream gradients, or NULL */
    const char *reduction;
    const char *param; /* a number parameter to set, or NULL */
    double value;
    const char *flag; /* a boolean parameter to set, or NULL */
    bool on;
} box_ctx;

static void configure_box(lossd_call *c, void *ctx_)
{
    box_ctx *ctx = ctx_;
    size_t shape[2] = {ctx->n, 4};
    lossd_tensor t = tensor_of(ctx->target, 2, shape);
    lossd_error err = {0};
    /* The views must outlive the call: ctx->target and ctx->input do. */
    ck_assert_int_eq(lossd_call_set_operand(c, "target", &t, &err), 0);
    if (ctx->input) {
        lossd_tensor in = tensor_of(ctx->input, 2, shape);
        ck_assert_int_eq(lossd_call_set_operand(c, "input", &in, &err), 0);
    }
    ck_assert_int_eq(lossd_call_set_choice(c, "box_format", ctx->format, &err), 0);
    ck_assert_int_eq(lossd_call_set_reduction(c, ctx->reduction, &err), 0);
    if (ctx->param)
        ck_assert_int_eq(lossd_call_set_number(c, ctx->param, ctx->value, &err), 0);
    if (ctx->flag)
        ck_assert_int_eq(lossd_call_set_bool(c, ctx->flag, ctx->on, &err), 0);
    if (ctx->grad_output) {
        c->grad_output = tensor_of(ctx->grad_output, 1, shape);
        c->grad_output_set = true;
    }
}

START_TEST(alpha_finite_differences)
{
    /* iou, giou and diou with powers (ciou's beta is held constant: not a derivative);
       random boxes, so no tie sits on a kink. */
    enum { N = 16 };
    test_rng r;
    rng_seed(&r, 43);
    double a[4 * N], b[4 * N];
    random_boxes(&r, a, N);
    random_boxes(&r, b, N);
    for (int i = 0; i < N / 2; i++) { /* overlapping: a shifted copy */
        double dx = rng_uniform(&r, -0.3, 0.3), dy = rng_uniform(&r, -0.3, 0.3);
        for (int j = 0; j < 4; j++)
            b[4 * i + j] = a[4 * i + j] + (j % 2 ? dy : dx);
    }
    size_t shape[2] = {N, 4};
    const double alphas[] = {1.5, 2.0, 3.0};
    for (int f = 0; f < 3; f++)
        for (int k = 0; k < 3; k++) {
            box_ctx ctx = {.format = "xyxy",
                           .target = b,
                           .n = N,
                           .reduction = k == 1 ? "sum" : "mean",
                           .param = "alpha",
                           .value = alphas[k]};
            lossd_tensor input = tensor_of(a, 2, shape);
            fd_check(must_find(LOSSD_KIND_LOSS, box_losses[f]), &input, a, configure_box, &ctx,
                     1e-5, 1e-8);
        }
}
END_TEST

/* ------------------------------------------------------------ gradients */

START_TEST(finite_differences)
{
    enum { N = 24 };
    test_rng r;
    rng_seed(&r, 3);
    double xyxy_a[4 * N], xyxy_b[4 * N], a[4 * N], b[4 * N];
    random_boxes(&r, xyxy_a, N);
    random_boxes(&r, xyxy_b, N);
    size_t shape[2] = {N, 4};
    const char *reductions[] = {"mean", "sum"};
    for (int f = 0; box_losses[f]; f++)
        for (int k = 0; k < 3; k++) {
            to_format(xyxy_a, a, N, formats[k]);
            to_format(xyxy_b, b, N, formats[k]);
            box_ctx ctx = {
                .format = formats[k], .target = b, .n = N, .reduction = reductions[k % 2]};
            lossd_tensor input = tensor_of(a, 2, shape);
            if (strcmp(box_losses[f], "ciou") == 0)
                continue; /* its aspect weight is held constant: see ciou_aspect_weight_is_constant
                           */
            fd_check(must_find(LOSSD_KIND_LOSS, box_losses[f]), &input, a, configure_box, &ctx,
                     1e-5, 1e-8);
        }
}
END_TEST

/* ------------------------------------------------------------ siou, eiou, nwd */

/* n random pairs, the first half overlapping (a target shifted by up to 0.3). */
static void next_pairs(test_rng *r, double *a, double *b, size_t n)
{
    random_boxes(r, a, n);
    random_boxes(r, b, n);
    for (size_t i = 0; i < n / 2; i++) {
        double dx = rng_uniform(r, -0.3, 0.3), dy = rng_uniform(r, -0.3, 0.3);
        for (int j = 0; j < 4; j++)
            b[4 * i + j] = a[4 * i + j] + (j % 2 ? dy : dx);
    }
}

enum { FD_PAIRS = 16 };

/*
 * Finite differences of box loss setting st's gradient with respect to
 * operand k (0: input, 1: target) at the FD_PAIRS xyxy pairs (xyxy_a,
 * xyxy_b) sent in `format`, with `reduction` (none: with grad_output up).
 */
static void fd_check_setting(const box_setting *st, size_t k, const char *format,
                             const double *xyxy_a, const double *xyxy_b, const char *reduction,
                             const double *up)
{
    double a[4 * FD_PAIRS], b[4 * FD_PAIRS];
    to_format(xyxy_a, a, FD_PAIRS, format);
    to_format(xyxy_b, b, FD_PAIRS, format);
    box_ctx ctx = {.format = format,
                   .target = b,
                   .n = FD_PAIRS,
                   .input = a,
                   .grad_output = strcmp(reduction, "none") == 0 ? up : NULL,
                   .reduction = reduction,
                   .param = st->param,
                   .value = st->value,
                   .flag = st->flag,
                   .on = st->on};
    size_t shape[2] = {FD_PAIRS, 4};
    lossd_tensor operand = tensor_of(k ? b : a, 2, shape);
    fd_check_operand(must_find(LOSSD_KIND_LOSS, st->name), k, &operand, k ? b : a, 1e-6,
                     configure_box, &ctx, 1e-5, 1e-8);
}

START_TEST(next_finite_differences)
{
    /* Each new loss with each value of its own parameter, in every format: the analytic
       gradient is the derivative (random pairs sit on no kink). */
    test_rng r;
    rng_seed(&r, 51);
    double xyxy_a[4 * FD_PAIRS], xyxy_b[4 * FD_PAIRS];
    next_pairs(&r, xyxy_a, xyxy_b, FD_PAIRS);
    const box_setting settings[] = {
        {"siou", NULL, 0, "neg_gamma", true},  {"siou", NULL, 0, "neg_gamma", false},
        {"siou", "eps", 0.05, NULL, false},    {"eiou", NULL, 0, NULL, false},
        {"eiou", "eps", 0.05, NULL, false},    {"nwd", NULL, 0, NULL, false},
        {"nwd", "constant", 1.0, NULL, false}, {"nwd", "eps", 0.05, NULL, false},
    };
    for (size_t s = 0; s < sizeof settings / sizeof settings[0]; s++)
        for (int k = 0; k < 3; k++)
            fd_check_setting(&settings[s], 0, formats[k], xyxy_a, xyxy_b, k == 1 ? "sum" : "mean",
                             NULL);
}
END_TEST

/*
 * One loss of one pair (a (4) box each) with reduction none and the boolean
 * `flag` = on when flag is not NULL: its value; its gradient into grad[4]
 * when grad is not NULL, and its terms into terms[].
 */
static double one_pair(const char *name, const char *flag, bool on, const double *a,
                       const double *b, double *grad, double *terms)
{
    size_t shape[1] = {4};
    lossd_tensor ta = tensor_of(a, 1, shape), tb = tensor_of(b, 1, shape);
    lossd_call c;
    lossd_error err = {0};
    lossd_call_init(&c, must_find(LOSSD_KIND_LOSS, name));
    ck_assert_int_eq(lossd_call_set_operand(&c, "input", &ta, &err), 0);
    ck_assert_int_eq(lossd_call_set_operand(&c, "target", &tb, &err), 0);
    ck_assert_int_eq(lossd_call_set_reduction(&c, "none", &err), 0);
    if (flag)
        ck_assert_int_eq(lossd_call_set_bool(&c, flag, on, &err), 0);
    c.want_grad = grad != NULL;
    c.want_terms = true;
    ck_assert_msg(lossd_call_compute(&c, &err) == 0, "%s", err.message);
    ck_assert_int_eq(c.output.rank, 0);
    double loss = c.output.data[0];
    if (grad)
        memcpy(grad, c.grad, 4 * sizeof *grad);
    for (size_t k = 0; lossd_call_term_name(&c, k); k++)
        terms[k] = c.terms[k][0];
    lossd_call_cleanup(&c);
    return loss;
}

START_TEST(siou_gamma_and_far_pairs)
{
    /* Far apart, the paper's SIoU (neg_gamma) is above 1 and pulls the box in; mmdetection's
       default rewards the distance: SIoU > 1, clamped to a loss of 0 with no gradient. */
    double a[] = {0, 0, 1, 1}, far[] = {50, 50, 51, 52}, loss, grad[4], terms[4];
    loss = one_pair("siou", "neg_gamma", true, a, far, grad, terms);
    ck_assert_msg(loss > 1 && loss <= 2, "paper's siou far apart = %.17g", loss);
    /* d loss / d centre = grad of the corners summed: negative, towards the target */
    ck_assert_msg(grad[0] + grad[2] < 0 && grad[1] + grad[3] < 0, "the centre moves away: %g %g",
                  grad[0] + grad[2], grad[1] + grad[3]);
    ck_assert_msg(terms[2] > 0 && terms[2] <= 2, "distance cost %.17g", terms[2]);
    loss = one_pair("siou", "neg_gamma", false, a, far, grad, terms);
    ck_assert_double_eq(loss, 0.0);
    for (int j = 0; j < 4; j++)
        ck_assert_msg(grad[j] == 0, "mmdet's default far apart: grad[%d] = %g", j, grad[j]);
    ck_assert_msg(terms[2] < -1, "rewarded distance: the cost is %.17g", terms[2]);

    /* The angle cost: 0 with the centres on an axis (up to eps), 1 at 45 degrees; the shape
       cost 0 for equal sizes. */
    double right[] = {3, 0, 4, 1}, diagonal[] = {2, 2, 3, 3};
    loss = one_pair("siou", "neg_gamma", true, a, right, grad, terms);
    ck_assert_msg(fabs(terms[1]) < 1e-6, "angle cost on the x axis = %.17g", terms[1]);
    ck_assert_double_eq(terms[3], 0.0);
    loss = one_pair("siou", "neg_gamma", true, a, diagonal, grad, terms);
    ck_assert_msg(fabs(terms[1] - 1) < 1e-12, "angle cost at 45 degrees = %.17g", terms[1]);
}
END_TEST

START_TEST(eiou_is_diou_plus_the_side_gaps)
{
    /* EIoU = DIoU + (w - wg)^2/(cw^2 + eps) + (h - hg)^2/(ch^2 + eps); equal sizes: DIoU. */
    double a[] = {0, 0, 2, 1}, b[] = {1, 0.5, 2, 3.5}, same[] = {0.5, 0.25, 2.5, 1.25};
    double t_diou[3], t_eiou[5];
    double diou = one_pair("diou", NULL, false, a, b, NULL, t_diou),
           eiou = one_pair("eiou", NULL, false, a, b, NULL, t_eiou);
    /* cw = 2, ch = 3.5: (2 - 1)^2 / (4 + 1e-7), (1 - 3)^2 / (12.25 + 1e-7) */
    ck_assert_close(t_eiou[3], 1 / (4 + 1e-7), 1e-15, 0, "width_term");
    ck_assert_close(t_eiou[4], 4 / (12.25 + 1e-7), 1e-15, 0, "height_term");
    ck_assert_close(eiou, diou + t_eiou[3] + t_eiou[4], 1e-15, 0, "eiou");
    for (int k = 0; k < 3; k++)
        ck_assert_double_eq(t_eiou[k], t_diou[k]);
    ck_assert_double_eq(one_pair("eiou", NULL, false, a, same, NULL, t_eiou),
                        one_pair("diou", NULL, false, a, same, NULL, t_diou));
    ck_assert_double_eq(t_eiou[3], 0.0);
    ck_assert_double_eq(t_eiou[4], 0.0);
}
END_TEST

START_TEST(nwd_values_and_matrix)
{
    /* Identical boxes: W^2 = eps, so the loss is 1 - exp(-sqrt(1e-7) / 12.8), not 0. */
    double a[] = {1, 2, 4, 3}, b[] = {2, 0, 5, 4}, w2;
    ck_assert_close(one_pair("nwd", NULL, false, a, a, NULL, &w2), 1 - exp(-sqrt(1e-7) / 12.8),
                    1e-15, 0, "nwd");
    ck_assert_double_eq(w2, 1e-7);
    /* centres (2.5, 2.5) and (3.5, 2): 1 + 0.25 + eps; sides 3 x 1 and 3 x 4: 9 / 4 */
    double loss = one_pair("nwd", NULL, false, a, b, NULL, &w2);
    ck_assert_close(w2, 1.25 + 1e-7 + 2.25, 1e-15, 0, "w2");
    ck_assert_close(loss, 1 - exp(-sqrt(w2) / 12.8), 1e-15, 0, "nwd");
    /* pairwise/nwd is 1 - the loss of each pair, in its (N,M) place; one (4) box is a row */
    size_t s1[1] = {4}, s2[2] = {2, 4};
    double both[] = {1, 2, 4, 3, 2, 0, 5, 4};
    lossd_tensor ta = tensor_of(a, 1, s1), tb = tensor_of(both, 2, s2);
    lossd_call c;
    lossd_error err = {0};
    lossd_call_init(&c, must_find(LOSSD_KIND_PAIRWISE, "nwd"));
    ck_assert_int_eq(lossd_call_set_operand(&c, "boxes1", &ta, &err), 0);
    ck_assert_int_eq(lossd_call_set_operand(&c, "boxes2", &tb, &err), 0);
    ck_assert_int_eq(lossd_call_compute(&c, &err), 0);
    ck_assert_int_eq(c.output.rank, 2);
    ck_assert_uint_eq(c.output.shape[0], 1);
    ck_assert_uint_eq(c.output.shape[1], 2);
    ck_assert_close(c.output.data[0], exp(-sqrt(1e-7) / 12.8), 1e-15, 0, "nwd[0][0]");
    ck_assert_close(c.output.data[1], 1 - loss, 1e-14, 0, "nwd[0][1]");
    lossd_call_cleanup(&c);
}
END_TEST

START_TEST(batched_boxes)
{
    /* (2, 3, 4) boxes: a (2, 3) unreduced loss equal to the (6, 4) one, gradient (2, 3, 4) */
    enum { N = 6 };
    test_rng r;
    rng_seed(&r, 61);
    double a[4 * N], b[4 * N], flat[N], flat_grad[4 * N], go[N];
    next_pairs(&r, a, b, N);
    for (int i = 0; i < N; i++)
        go[i] = 1;
    size_t s3[3] = {2, 3, 4}, sgo[2] = {2, 3}, sbad[2] = {3, 2};
    for (int f = 0; f < 2; f++) {
        const char *name = f ? "nwd" : "ciou";
        box_loss(name, "xyxy", a, b, N, flat, flat_grad);
        lossd_tensor ta = tensor_of(a, 3, s3), tb = tensor_of(b, 3, s3), tg = tensor_of(go, 2, sgo);
        lossd_call c;
        lossd_error err = {0};
        lossd_call_init(&c, must_find(LOSSD_KIND_LOSS, name));
        ck_assert_int_eq(lossd_call_set_operand(&c, "input", &ta, &err), 0);
        ck_assert_int_eq(lossd_call_set_operand(&c, "target", &tb, &err), 0);
        ck_assert_int_eq(lossd_call_set_reduction(&c, "none", &err), 0);
        c.grad_output = tg;
        c.grad_output_set = true;
        c.want_grad = c.want_terms = true;
        ck_assert_msg(lossd_call_compute(&c, &err) == 0, "%s", err.message);
        ck_assert_int_eq(c.output.rank, 2);
        ck_assert_uint_eq(c.output.shape[0], 2);
        ck_assert_uint_eq(c.output.shape[1], 3);
        ck_assert_uint_eq(c.n_terms, N);
        for (int i = 0; i < N; i++)
            ck_assert_double_eq(c.output.data[i], flat[i]);
        for (int i = 0; i < 4 * N; i++)
            ck_assert_double_eq(c.grad[i], flat_grad[i]);
        lossd_call_cleanup(&c);
        /* grad_output shaped like the (2, 3) loss, not (3, 2) */
        lossd_tensor wrong = tensor_of(go, 2, sbad);
        lossd_call_init(&c, must_find(LOSSD_KIND_LOSS, name));
        lossd_call_set_operand(&c, "input", &ta, &err);
        lossd_call_set_operand(&c, "target", &tb, &err);
        lossd_call_set_reduction(&c, "none", &err);
        c.grad_output = wrong;
        c.grad_output_set = true;
        c.want_grad = true;
        expect_error(&c, LOSSD_EINVAL, "grad_output");
    }
    /* an invalid box is named by its full path */
    b[4 * 4 + 2] = b[4 * 4] - 1; /* box (1, 1): x2 < x1 */
    lossd_tensor ta = tensor_of(a, 3, s3), tb = tensor_of(b, 3, s3);
    lossd_call c;
    lossd_error err = {0};
    lossd_call_init(&c, must_find(LOSSD_KIND_LOSS, "siou"));
    lossd_call_set_operand(&c, "input", &ta, &err);
    lossd_call_set_operand(&c, "target", &tb, &err);
    expect_error(&c, LOSSD_EINVAL, "target[1][1]");
}
END_TEST

/* ------------------------------------------------------------ gradients with respect to the target
 */

/* Every box loss, with Alpha-IoU's powers and each loss's own parameters, for the target's checks.
 */
static const box_setting target_settings[] = {
    {"iou", NULL, 0, NULL, false},         {"iou", "alpha", 2.5, NULL, false},
    {"giou", NULL, 0, NULL, false},        {"giou", "alpha", 3, NULL, false},
    {"diou", NULL, 0, NULL, false},        {"diou", "alpha", 1.5, NULL, false},
    {"diou", "eps", 0.05, NULL, false},    {"ciou", NULL, 0, NULL, false},
    {"ciou", "alpha", 2, NULL, false},     {"eiou", NULL, 0, NULL, false},
    {"eiou", "eps", 0.05, NULL, false},    {"siou", NULL, 0, "neg_gamma", true},
    {"siou", NULL, 0, "neg_gamma", false}, {"siou", "eps", 0.05, NULL, false},
    {"nwd", NULL, 0, NULL, false},         {"nwd", "constant", 1.0, NULL, false},
};
enum { N_TARGET_SETTINGS = sizeof target_settings / sizeof target_settings[0] };

/*
 * Computes setting st of a box loss on (n, 4) boxes a and b in `format`
 * with `reduction` (none: with grad_output go), the gradients asked for,
 * and the terms. The caller cleans c up.
 */
static void setting_call(lossd_call *c, const box_setting *st, const char *format, const double *a,
                         const double *b, size_t n, const char *reduction, const double *go,
                         bool grad, bool grad_second)
{
    box_ctx ctx = {.format = format,
                   .target = b,
                   .n = n,
                   .input = a,
                   .grad_output =
                       strcmp(reduction, "none") == 0 && (grad || grad_second) ? go : NULL,
                   .reduction = reduction,
                   .param = st->param,
                   .value = st->value,
                   .flag = st->flag,
                   .on = st->on};
    lossd_error err = {0};
    lossd_call_init(c, must_find(LOSSD_KIND_LOSS, st->name));
    configure_box(c, &ctx);
    c->want_grad = grad;
    c->want_grad_second = grad_second;
    c->want_terms = true;
    ck_assert_msg(lossd_call_compute(c, &err) == 0, "%s: %s", st->name, err.message);
}

START_TEST(target_finite_differences)
{
    /* d loss / d target is the derivative at generic pairs (random ones sit on no kink), for
       every loss but ciou (its aspect weight is held constant: ciou_aspect_weight_is_constant),
       in every format, reduced and with a grad_output. */
    test_rng r;
    rng_seed(&r, 71);
    double xyxy_a[4 * FD_PAIRS], xyxy_b[4 * FD_PAIRS], up[FD_PAIRS];
    next_pairs(&r, xyxy_a, xyxy_b, FD_PAIRS);
    for (int i = 0; i < FD_PAIRS; i++)
        up[i] = rng_uniform(&r, -2, 2);
    const char *reductions[] = {"mean", "sum", "none"};
    for (size_t s = 0; s < N_TARGET_SETTINGS; s++)
        if (strcmp(target_settings[s].name, "ciou") != 0)
            for (int k = 0; k < 3; k++)
                fd_check_setting(&target_settings[s], 1, formats[k], xyxy_a, xyxy_b, reductions[k],
                                 up);
}
END_TEST

/* The largest |x[i]| of n values, NaN counted as 0. */
static double largest(const double *x, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        if (fabs(x[i]) > m)
            m = fabs(x[i]);
    return m;
}

/*
 * got and want agree to 1e-9 relative to want's largest element (the
 * gradients' tolerance), NaN where want is NaN.
 */
static void expect_same_gradient(const double *got, const double *want, size_t n, const char *what,
                                 const char *name, const char *format)
{
    double tol = 1e-9 * largest(want, n);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(isnan(want[i]) ? isnan(got[i]) : fabs(got[i] - want[i]) <= tol,
                      "%s %s (%s)[%zu]: %.17g, want %.17g", name, what, format, i, got[i], want[i]);
}

START_TEST(symmetric_losses_swap_their_gradients)
{
    /* The losses symmetric in their two boxes - all but siou, whose centre offset has eps on
       one side, and siou too with eps = 0 - have d/dtarget at (p, t) = d/dinput at (t, p),
       ties, nesting and touching boxes included (autograd splits a tie in half either way). */
    double a[4 * ALPHA_PAIRS], b[4 * ALPHA_PAIRS], fa[4 * ALPHA_PAIRS], fb[4 * ALPHA_PAIRS];
    double up[ALPHA_PAIRS];
    alpha_pairs_upstream(a, b, up, 72);
    const box_setting siou_eps0 = {"siou", "eps", 0.0, NULL, false};
    for (size_t s = 0; s <= N_TARGET_SETTINGS; s++) {
        const box_setting *st = s < N_TARGET_SETTINGS ? &target_settings[s] : &siou_eps0;
        if (st != &siou_eps0 && strcmp(st->name, "siou") == 0)
            continue;
        for (int k = 0; k < 3; k++) {
            to_format(a, fa, ALPHA_PAIRS, formats[k]);
            to_format(b, fb, ALPHA_PAIRS, formats[k]);
            const char *reduction = k == 1 ? "mean" : "none";
            lossd_call pt, tp;
            setting_call(&pt, st, formats[k], fa, fb, ALPHA_PAIRS, reduction, up, false, true);
            setting_call(&tp, st, formats[k], fb, fa, ALPHA_PAIRS, reduction, up, true, false);
            expect_same_gradient(pt.grad_second, tp.grad, 4 * ALPHA_PAIRS, "d/dtarget", st->name,
                                 formats[k]);
            lossd_call_cleanup(&pt);
            lossd_call_cleanup(&tp);
        }
    }
}
END_TEST

START_TEST(target_gradients_in_every_loop)
{
    /* The kernels run one loop per case of the gradients: the input's gradient is the same
       doubles with or without the target's, the target's with or without the input's, and
       the loss and terms with or without either; the target's non-finite derivatives are
       counted. */
    double a[4 * ALPHA_PAIRS], b[4 * ALPHA_PAIRS], up[ALPHA_PAIRS];
    alpha_pairs(a, b);
    for (size_t i = 0; i < ALPHA_PAIRS; i++)
        up[i] = 1 + 0.01 * (double)i;
    size_t n4 = 4 * ALPHA_PAIRS;
    for (size_t s = 0; s < N_TARGET_SETTINGS; s++)
        for (int k = 0; k < 2; k++) {
            const box_setting *st = &target_settings[s];
            const char *reduction = k ? "sum" : "none";
            lossd_call none, first, second, both;
            setting_call(&none, st, "xyxy", a, b, ALPHA_PAIRS, reduction, up, false, false);
            setting_call(&first, st, "xyxy", a, b, ALPHA_PAIRS, reduction, up, true, false);
            setting_call(&second, st, "xyxy", a, b, ALPHA_PAIRS, reduction, up, false, true);
            setting_call(&both, st, "xyxy", a, b, ALPHA_PAIRS, reduction, up, true, true);
            ck_assert(first.grad_second == NULL && second.grad == NULL);
            ck_assert_msg(memcmp(first.grad, both.grad, n4 * sizeof(double)) == 0, "%s", st->name);
            ck_assert_msg(memcmp(second.grad_second, both.grad_second, n4 * sizeof(double)) == 0,
                          "%s", st->name);
            const lossd_call *all[] = {&first, &second, &both};
            for (int j = 0; j < 3; j++) {
                ck_assert(same_bits(all[j]->loss, none.loss));
                if (none.output.data)
                    ck_assert(memcmp(all[j]->output.data, none.output.data,
                                     ALPHA_PAIRS * sizeof(double)) == 0);
                for (size_t t = 0; t < LOSSD_MAX_TERMS && none.terms[t]; t++)
                    ck_assert(
                        memcmp(all[j]->terms[t], none.terms[t], ALPHA_PAIRS * sizeof(double)) == 0);
            }
            lossd_call_cleanup(&none);
            lossd_call_cleanup(&first);
            lossd_call_cleanup(&second);
            lossd_call_cleanup(&both);
        }
    /* ciou's zero-height target: w/h = inf, so its gradient is NaN in all four numbers (as
       autograd's), while the input's is finite; the reply counts the four. */
    double in[] = {0, 0, 2, 2}, zero_h[] = {0.5, 1, 3, 1};
    lossd_call first, both;
    setting_call(&first, &target_settings[7], "xyxy", in, zero_h, 1, "none", up, true, false);
    setting_call(&both, &target_settings[7], "xyxy", in, zero_h, 1, "none", up, true, true);
    for (int j = 0; j < 4; j++)
        ck_assert_msg(isfinite(both.grad[j]) && isnan(both.grad_second[j]), "[%d]: %g, %g", j,
                      both.grad[j], both.grad_second[j]);
    ck_assert_uint_eq(both.n_nonfinite, first.n_nonfinite + 4);
    lossd_call_cleanup(&first);
    lossd_call_cleanup(&both);
    /* an empty batch has an empty gradient for each */
    size_t zero[1] = {0};
    lossd_tensor empty = tensor_of(a, 1, zero);
    lossd_call c;
    lossd_error err = {0};
    lossd_call_init(&c, must_find(LOSSD_KIND_LOSS, "nwd"));
    ck_assert_int_eq(lossd_call_set_operand(&c, "input", &empty, &err), 0);
    ck_assert_int_eq(lossd_call_set_operand(&c, "target", &empty, &err), 0);
    c.want_grad = c.want_grad_second = true;
    ck_assert_int_eq(lossd_call_compute(&c, &err), 0);
    ck_assert_ptr_nonnull(c.grad_second);
    ck_assert_uint_eq(c.operand[1].size, 0);
    lossd_call_cleanup(&c);
}
END_TEST

/* ------------------------------------------------------------ errors */

static void bind_boxes(lossd_call *c, const char *name, const double *in, const double *tg,
                       size_t n, const char *format)
{
    static lossd_tensor a, b; /* views live until the call is computed */
    size_t shape[2] = {n, 4};
    a = tensor_of(in, 2, shape);
    b = tensor_of(tg, 2, shape);
    lossd_error err = {0};
    lossd_call_init(c, must_find(LOSSD_KIND_LOSS, name));
    lossd_call_set_operand(c, "input", &a, &err);
    lossd_call_set_operand(c, "target", &b, &err);
    if (format)
        ck_assert_int_eq(lossd_call_set_choice(c, "box_format", format, &err), 0);
}

START_TEST(invalid_boxes)
{
    double good[] = {0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1};
    double bad_x[] = {0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1, 2, 0, 1, 1}; /* box 3: x2 < x1 */
    double bad_y[] = {0, 0, 1, 1, 0, 5, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1}; /* box 1: y2 < y1 */
    double neg_w[] = {0, 0, 1, 1, 0, 0, -1, 1, 0, 0, 1, 1, 0, 0, 1, 1};
    lossd_call c;
    bind_boxes(&c, "giou", good, bad_x, 4, NULL);
    expect_error(&c, LOSSD_EINVAL, "target[3]");
    bind_boxes(&c, "ciou", bad_y, good, 4, NULL);
    expect_error(&c, LOSSD_EINVAL, "input[1]");
    bind_boxes(&c, "iou", neg_w, good, 4, "xywh");
    expect_error(&c, LOSSD_EINVAL, "input[1]");
    bind_boxes(&c, "diou", good, neg_w, 4, "cxcywh");
    expect_error(&c, LOSSD_EINVAL, "target[1]");
    /* The same numbers are valid boxes in xyxy: x2 = -1 < x1 = 0 is not. */
    bind_boxes(&c, "iou", neg_w, good, 4, "xyxy");
    expect_error(&c, LOSSD_EINVAL, "input[1]");
    /* the new losses validate as the others */
    bind_boxes(&c, "siou", good, bad_x, 4, NULL);
    expect_error(&c, LOSSD_EINVAL, "target[3]");
    bind_boxes(&c, "eiou", bad_y, good, 4, NULL);
    expect_error(&c, LOSSD_EINVAL, "input[1]");
    bind_boxes(&c, "nwd", neg_w, good, 4, "cxcywh");
    expect_error(&c, LOSSD_EINVAL, "input[1]");
}
END_TEST

/* Expects `kind`/`name` of the two operands a and b to fail on `field` (a 422). */
static void expect_shape_error(lossd_kind kind, const char *name, const lossd_tensor *a,
                               const lossd_tensor *b, const char *field)
{
    const char *first = kind == LOSSD_KIND_PAIRWISE ? "boxes1" : "input";
    const char *second = kind == LOSSD_KIND_PAIRWISE ? "boxes2" : "target";
    lossd_call c;
    lossd_error err = {0};
    lossd_call_init(&c, must_find(kind, name));
    lossd_call_set_operand(&c, first, a, &err);
    lossd_call_set_operand(&c, second, b, &err);
    expect_error(&c, LOSSD_EINVAL, field);
}

START_TEST(bad_shapes)
{
    double v[12] = {0, 0, 1, 1, 0, 0, 1, 1, 0, 0, 1, 1};
    size_t s3[2] = {4, 3}, s4[2] = {3, 4}, s2[2] = {2, 4}, s5[1] = {5};
    lossd_tensor three = tensor_of(v, 2, s3), boxes3 = tensor_of(v, 2, s4),
                 boxes2 = tensor_of(v, 2, s2);
    lossd_tensor flat5 = tensor_of(v, 1, s5);
    expect_shape_error(LOSSD_KIND_LOSS, "giou", &three, &three, "input");
    expect_shape_error(LOSSD_KIND_LOSS, "giou", &boxes3, &boxes2, "target");
    expect_shape_error(LOSSD_KIND_LOSS, "iou", &flat5, &flat5, "input");
    lossd_call c;
    lossd_error err = {0};
    lossd_call_init(&c, must_find(LOSSD_KIND_LOSS, "iou"));
    lossd_call_set_operand(&c, "input", &boxes3, &err);
    expect_error(&c, LOSSD_EMISSING, "target");
    expect_shape_error(LOSSD_KIND_PAIRWISE, "diou", &boxes3, &three, "boxes2");
    /* (..., 3) with leading dimensions: the count per box is named */
    size_t s33[3] = {1, 4, 3};
    lossd_tensor batched3 = tensor_of(v, 3, s33);
    expect_shape_error(LOSSD_KIND_LOSS, "eiou", &batched3, &batched3, "input");
    ck_assert_ptr_nonnull(strstr(last_error()->message, "got 3 per box"));
    /* pairwise: one (4) box, but not (5) nor (1, 3, 4) */
    size_t s134[3] = {1, 3, 4};
    lossd_tensor rank3 = tensor_of(v, 3, s134);
    expect_shape_error(LOSSD_KIND_PAIRWISE, "nwd", &flat5, &boxes3, "boxes1");
    expect_shape_error(LOSSD_KIND_PAIRWISE, "iou", &boxes3, &rank3, "boxes2");
}
END_TEST

START_TEST(bad_params)
{
    lossd_call c;
    lossd_error err = {0};
    lossd_call_init(&c, must_find(LOSSD_KIND_LOSS, "ciou"));
    ck_assert_int_eq(lossd_call_set_choice(&c, "box_format", "yxyx", &err), LOSSD_EINVAL);
    ck_assert_str_eq(err.field, "box_format");
    ck_assert_ptr_nonnull(strstr(err.message, "xyxy, xywh, cxcywh"));
    memset(&err, 0, sizeof err);
    ck_assert_int_eq(lossd_call_set_number(&c, "eps", -1e-7, &err), LOSSD_EINVAL);
    ck_assert_str_eq(err.field, "eps");
    memset(&err, 0, sizeof err);
    ck_assert_int_eq(lossd_call_set_number(&c, "box_format", 1, &err), LOSSD_ETYPE);
    memset(&err, 0, sizeof err);
    /* Alpha-IoU's power is >= 1, and only the four losses take it. */
    ck_assert_int_eq(lossd_call_set_number(&c, "alpha", 0.999, &err), LOSSD_EINVAL);
    ck_assert_str_eq(err.field, "alpha");
    ck_assert_ptr_nonnull(strstr(err.message, ">= 1"));
    memset(&err, 0, sizeof err);
    ck_assert_int_eq(lossd_call_set_number(&c, "alpha", 1.0, &err), 0);
    lossd_call_init(&c, must_find(LOSSD_KIND_PAIRWISE, "ciou"));
    ck_assert_int_eq(lossd_call_set_number(&c, "alpha", 2.0, &err), LOSSD_ENOENT);
    ck_assert_str_eq(err.field, "alpha");
    memset(&err, 0, sizeof err);
    /* siou's neg_gamma is a boolean. */
    lossd_call_init(&c, must_find(LOSSD_KIND_LOSS, "siou"));
    ck_assert_int_eq(lossd_call_set_number(&c, "neg_gamma", 1, &err), LOSSD_ETYPE);
    ck_assert_str_eq(err.field, "neg_gamma");
    ck_assert_ptr_nonnull(strstr(err.message, "true or false"));
    memset(&err, 0, sizeof err);
    ck_assert_int_eq(lossd_call_set_number(&c, "eps", -1, &err), LOSSD_EINVAL);
    ck_assert_str_eq(err.field, "eps");
    memset(&err, 0, sizeof err);
    /* eiou: eps >= 0, and no alpha; nwd: constant > 0, for the loss and the matrix */
    lossd_call_init(&c, must_find(LOSSD_KIND_LOSS, "eiou"));
    ck_assert_int_eq(lossd_call_set_number(&c, "eps", -1e-9, &err), LOSSD_EINVAL);
    ck_assert_str_eq(err.field, "eps");
    memset(&err, 0, sizeof err);
    ck_assert_int_eq(lossd_call_set_number(&c, "alpha", 2, &err), LOSSD_ENOENT);
    ck_assert_str_eq(err.field, "alpha");
    memset(&err, 0, sizeof err);
    for (int kind = 0; kind < 2; kind++) {
        lossd_call_init(&c, must_find(kind ? LOSSD_KIND_PAIRWISE : LOSSD_KIND_LOSS, "nwd"));
        const double bad[] = {0, -12.8, NAN, INFINITY};
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            ck_assert_int_eq(lossd_call_set_number(&c, "constant", bad[i], &err), LOSSD_EINVAL);
            ck_assert_str_eq(err.field, "constant");
            memset(&err, 0, sizeof err);
        }
        ck_assert_int_eq(lossd_call_set_number(&c, "eps", -1, &err), LOSSD_EINVAL);
        ck_assert_str_eq(err.field, "eps");
        memset(&err, 0, sizeof err);
        ck_assert_int_eq(lossd_call_set_bool(&c, "constant", true, &err), LOSSD_ETYPE);
        memset(&err, 0, sizeof err);
        ck_assert_int_eq(lossd_call_set_number(&c, "constant", 1e-300, &err), 0);
    }
    /* iou/giou matrices take no eps (torchvision's have none). */
    lossd_call_init(&c, must_find(LOSSD_KIND_PAIRWISE, "giou"));
    ck_assert_int_eq(lossd_call_set_number(&c, "eps", 1e-7, &err), LOSSD_ENOENT);
    ck_assert_str_eq(err.field, "eps");
}
END_TEST

START_TEST(pairwise_shape_and_limit)
{
    double a[] = {0, 0, 1, 1, 0, 0, 2, 2, 1, 1, 3, 3}, b[] = {0, 0, 1, 1, 5, 5, 6, 7};
    size_t sa[2] = {3, 4}, sb[2] = {2, 4};
    lossd_tensor ta = tensor_of(a, 2, sa), tb = tensor_of(b, 2, sb);
    lossd_call c;
    lossd_error err = {0};
    lossd_call_init(&c, must_find(LOSSD_KIND_PAIRWISE, "iou"));
    lossd_call_set_operand(&c, "boxes1", &ta, &err);
    lossd_call_set_operand(&c, "boxes2", &tb, &err);
    ck_assert_int_eq(lossd_call_compute(&c, &err), 0);
    ck_assert_int_eq(c.output.rank, 2);
    ck_assert_uint_eq(c.output.shape[0], 3);
    ck_assert_uint_eq(c.output.shape[1], 2);
    ck_assert_double_eq(c.output.data[0], 1.0);  /* identical */
    ck_assert_double_eq(c.output.data[1], 0.0);  /* disjoint */
    ck_assert_double_eq(c.output.data[2], 0.25); /* 1 / 4 */
    lossd_call_cleanup(&c);
    lossd_call_init(&c, must_find(LOSSD_KIND_PAIRWISE, "iou"));
    lossd_call_set_operand(&c, "boxes1", &ta, &err);
    lossd_call_set_operand(&c, "boxes2", &tb, &err);
    c.max_output = 5;
    expect_error(&c, LOSSD_ETOOBIG, "boxes2");
}
END_TEST

static Suite *boxes_suite(void)
{
    Suite *s = suite_create("boxes");
    add_case(s, "values", 0, NULL, NULL, TESTS(pairwise_shape_and_limit));
    add_case(s, "gradients", 60, NULL, NULL,
             TESTS(finite_differences, ciou_aspect_weight_is_constant, max_min_ties_split,
                   alpha_finite_differences));
    add_case(s, "next", 60, NULL, NULL,
             TESTS(next_finite_differences, siou_gamma_and_far_pairs,
                   eiou_is_diou_plus_the_side_gaps, nwd_values_and_matrix, batched_boxes));
    add_case(s, "target", 60, NULL, NULL,
             TESTS(target_finite_differences, symmetric_losses_swap_their_gradients,
                   target_gradients_in_every_loop));
    add_case(s, "alpha", 0, NULL, NULL,
             TESTS(alpha_one_is_the_torchvision_loss, alpha_powers_the_iou));
    add_case(s, "properties", 0, NULL, NULL,
             TESTS(loss_ranges, format_invariance, identical_boxes, disjoint_and_far));
    add_case(s, "errors", 0, NULL, NULL, TESTS(invalid_boxes, bad_shapes, bad_params));
    return s;
}

int main(void)
{
    return run_suite(boxes_suite());
}
