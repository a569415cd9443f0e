/* SPDX-License-Identifier: MIT */
/*
 * check_route.c - routing (route.c): the fixed endpoints and their
 * methods, every registered function's path, and the faults for unknown
 * paths and methods, which list what exists.
 */
#include <stdio.h>
#include <string.h>

#include "../src/service/route.h"
#include "serviceutil.h"

START_TEST(route_fixed_endpoints)
{
    static const struct {
        const char *path, *method;
        lossd_endpoint endpoint;
        bool compute, needs_key;
        const char *label;
    } routes[] = {
        {"/healthz", "GET", LOSSD_ROUTE_HEALTHZ, false, false, "healthz"},
        {"/readyz", "GET", LOSSD_ROUTE_READYZ, false, false, "readyz"},
        {"/metrics", "GET", LOSSD_ROUTE_METRICS, false, false, "metrics"},
        {"/v1", "GET", LOSSD_ROUTE_V1, false, true, "v1"},
        {"/v1/functions", "GET", LOSSD_ROUTE_FUNCTIONS, false, true, "functions"},
        {"/v1/batch", "POST", LOSSD_ROUTE_BATCH, true, true, "batch"},
        {"/v2/repository/index", "POST", LOSSD_ROUTE_V2_INDEX, true, true, "v2_repository_index"},
    };
    static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "OPTIONS"};
    char label[96];
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        for (size_t m = 0; m < sizeof methods / sizeof methods[0]; m++) {
            lossd_route r;
            lossd_fault f = {0};
            bool ok = strcmp(methods[m], routes[i].method) == 0 ||
                      (strcmp(routes[i].method, "GET") == 0 && strcmp(methods[m], "HEAD") == 0);
            int rc = lossd_route_find(methods[m], routes[i].path, &r, &f);
            ck_assert_msg(rc == (ok ? 0 : -1), "%s %s: %d", methods[m], routes[i].path, rc);
            ck_assert_int_eq(r.endpoint, routes[i].endpoint);
            ck_assert_ptr_null(r.fn);
            ck_assert_str_eq(r.allow, routes[i].method);
            ck_assert_str_eq(lossd_route_label(&r, label, sizeof label), routes[i].label);
            if (ok) {
                ck_assert_int_eq(f.kind, LOSSD_FAULT_NONE);
                ck_assert(r.compute == routes[i].compute);
                ck_assert(r.needs_key == routes[i].needs_key);
            } else {
                expect_fault(&f, LOSSD_FAULT_METHOD, "", methods[m]);
                ck_assert_int_eq(lossd_fault_status(f.kind), 405);
                char want[128];
                snprintf(want, sizeof want, "%s is not allowed on %s; use %s", methods[m],
                         routes[i].path, routes[i].method);
                ck_assert_str_eq(f.message, want);
            }
        }
    }
}
END_TEST

/* The label of fn's routes: kind/name. */
static const char *want_label(const lossd_function *fn, char *buf)
{
    snprintf(buf, 96, "%s/%s", lossd_kind_name(fn->kind), fn->name);
    return buf;
}

START_TEST(route_every_function)
{
    char path[128], label[96], want[96];
    for (size_t i = 0; i < lossd_function_count(); i++) {
        const lossd_function *fn = lossd_function_at(i);
        snprintf(path, sizeof path, "/v1/%s/%s", lossd_kind_name(fn->kind), fn->name);
        lossd_route r;
        lossd_fault f = {0};
        ck_assert_msg(lossd_route_find("POST", path, &r, &f) == 0, "POST %s: %s", path, f.message);
        ck_assert_int_eq(r.endpoint, LOSSD_ROUTE_COMPUTE);
        ck_assert_ptr_eq(r.fn, fn);
        ck_assert_uint_eq(r.fn_index, i); /* the metrics' row */
        ck_assert(r.compute && r.needs_key);
        /* and the same function over /v2 */
        snprintf(path, sizeof path, "/v2/models/%s.%s/infer", lossd_kind_name(fn->kind), fn->name);
        lossd_route v2;
        ck_assert_msg(lossd_route_find("POST", path, &v2, &f) == 0, "POST %s: %s", path, f.message);
        ck_assert_ptr_eq(v2.fn, fn);
        ck_assert_uint_eq(v2.fn_index, i);
        ck_assert_str_eq(lossd_route_label(&v2, label, sizeof label), want_label(fn, want));
        snprintf(path, sizeof path, "/v1/%s/%s", lossd_kind_name(fn->kind), fn->name);
        ck_assert_str_eq(r.allow, "POST");
        ck_assert_str_eq(lossd_route_label(&r, label, sizeof label), want_label(fn, want));
        /* Functions are POST only, HEAD included. */
        for (int m = 0; m < 3; m++) {
            const char *method = (const char *[]){"GET", "HEAD", "PUT"}[m];
            memset(&f, 0, sizeof f);
            ck_assert_int_eq(lossd_route_find(method, path, &r, &f), -1);
            expect_fault(&f, LOSSD_FAULT_METHOD, "", "use POST");
            ck_assert_str_eq(r.allow, "POST");
            ck_assert_ptr_eq(r.fn, fn);
            ck_assert_int_eq(r.endpoint, LOSSD_ROUTE_COMPUTE);
        }
    }
    /* Each kind's catalog, GET only; an unknown kind lists the kinds. */
    for (int k = 0; k < LOSSD_KIND_COUNT; k++) {
        snprintf(path, sizeof path, "/v1/functions/%s", lossd_kind_name((lossd_kind)k));
        lossd_route r;
        lossd_fault f = {0};
        ck_assert_msg(lossd_route_find("GET", path, &r, &f) == 0, "GET %s: %s", path, f.message);
        ck_assert_int_eq(r.endpoint, LOSSD_ROUTE_FUNCTIONS_KIND);
        ck_assert_int_eq(r.kind, k);
        ck_assert(!r.compute && r.needs_key);
        ck_assert_str_eq(lossd_route_label(&r, label, sizeof label), "functions_kind");
        ck_assert_int_eq(lossd_route_find("POST", path, &r, &f), -1);
        expect_fault(&f, LOSSD_FAULT_METHOD, "", "use GET");
    }
    /* Same names in different kinds are different functions. */
    lossd_route a, b;
    lossd_fault f = {0};
    ck_assert_int_eq(lossd_route_find("POST", "/v1/loss/giou", &a, &f), 0);
    ck_assert_int_eq(lossd_route_find("POST", "/v1/pairwise/giou", &b, &f), 0);
    ck_assert_ptr_ne(a.fn, b.fn);
    ck_assert_int_eq(b.fn->kind, LOSSD_KIND_PAIRWISE);
}
END_TEST

START_TEST(route_not_found)
{
    /* An unknown function lists every function of that kind. */
    for (int k = 0; k < LOSSD_KIND_COUNT; k++) {
        char path[64], label[96];
        snprintf(path, sizeof path, "/v1/%s/nope", lossd_kind_name((lossd_kind)k));
        lossd_route r;
        lossd_fault f = {0};
        ck_assert_int_eq(lossd_route_find("POST", path, &r, &f), -1);
        expect_fault(&f, LOSSD_FAULT_NOT_FOUND, "", "called \"nope\"");
        ck_assert_int_eq(lossd_fault_status(f.kind), 404);
        ck_assert_int_eq(r.endpoint, LOSSD_ROUTE_UNKNOWN);
        ck_assert_ptr_null(r.fn);
        ck_assert_str_eq(lossd_route_label(&r, label, sizeof label), "unknown");
        const char *list = strstr(f.message, " functions are: ");
        ck_assert_ptr_nonnull(list);
        size_t listed = 0;
        for (size_t i = 0; i < lossd_function_count(); i++) {
            const lossd_function *fn = lossd_function_at(i);
            char name[72];
            snprintf(name, sizeof name, " %s,", fn->name);
            bool in_list = strstr(list, name) != NULL;
            /* The last name ends the message. */
            size_t tail = strlen(list) - strlen(fn->name);
            in_list = in_list || (strcmp(list + tail, fn->name) == 0 && list[tail - 1] == ' ');
            if (fn->kind == (lossd_kind)k) {
                ck_assert_msg(in_list, "%s: \"%s\" is not listed in: %s", path, fn->name,
                              f.message);
                listed++;
            }
        }
        ck_assert_uint_gt(listed, 0);
    }
    /* Unknown function names are quoted, cut at 64 bytes. */
    char path[256] = "/v1/activation/";
    memset(path + strlen(path), 'z', 100);
    lossd_route r;
    lossd_fault f = {0};
    ck_assert_int_eq(lossd_route_find("POST", path, &r, &f), -1);
    char quoted[80] = "called \"";
    memset(quoted + strlen(quoted), 'z', 64);
    strcat(quoted, "\";");
    ck_assert_msg(strstr(f.message, quoted) != NULL, "%s", f.message);

    static const char *const paths[] = {"/index.html",   "/nope",        "/v1/",
                                        "/v1/loss",      "/v1/foo/bar",  "/healthz/",
                                        "/v1/lossx/mse", "/V1/loss/mse", "/v1/loss/mse/",
                                        "/v1//mse",      "v1/loss/mse",  "/v1/functions/x"};
    for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
        memset(&f, 0, sizeof f);
        ck_assert_msg(lossd_route_find("POST", paths[i], &r, &f) == -1, "%s was found", paths[i]);
        expect_fault(&f, LOSSD_FAULT_NOT_FOUND, "", NULL);
        ck_assert_int_eq(r.endpoint, LOSSD_ROUTE_UNKNOWN);
        ck_assert_ptr_null(r.fn);
        ck_assert(!r.compute);
    }
    memset(&f, 0, sizeof f);
    lossd_route_find("GET", "/v1/foo/bar", &r, &f);
    ck_assert_str_eq(f.message,
                     "no endpoint at /v1/foo/bar; see GET /v1/functions for the catalog");
    memset(&f, 0, sizeof f);
    lossd_route_find("GET", "/v1/functions/x", &r, &f);
    ck_assert_str_eq(f.message, "no kind of function called \"x\"; the kinds are: loss, "
                                "activation, info, pairwise");
    /* /v1/loss/ names no function: the loss names are listed. */
    memset(&f, 0, sizeof f);
    lossd_route_find("POST", "/v1/loss/", &r, &f);
    expect_fault(&f, LOSSD_FAULT_NOT_FOUND, "", "the loss functions are: ");
}
END_TEST

START_TEST(route_did_you_mean)
{
    /* A 404 names the path probably meant: a trailing slash, case and '-' for '_',
       a function under the wrong kind - on /v1 and /v2 alike. */
    static const struct {
        const char *path, *message;
    } cases[] = {
        {"/v1/loss/mse/", "no loss function called \"mse/\"; did you mean /v1/loss/mse?"},
        {"/healthz/", "no endpoint at /healthz/; did you mean /healthz?"},
        {"/v1/batch//", "no endpoint at /v1/batch//; did you mean /v1/batch?"},
        {"/v1/loss/smooth-l1", "no loss function called \"smooth-l1\"; did you mean "
                               "/v1/loss/smooth_l1?"},
        {"/v1/loss/Smooth_L1", "no loss function called \"Smooth_L1\"; did you mean "
                               "/v1/loss/smooth_l1?"},
        {"/V1/Loss/MSE", "no endpoint at /V1/Loss/MSE; did you mean /v1/loss/mse?"},
        {"/v1/loss/relu", "no loss function called \"relu\"; relu is an activation: "
                          "/v1/activation/relu"},
        {"/v1/activation/smooth-l1", "no activation function called \"smooth-l1\"; smooth_l1 is "
                                     "a loss: /v1/loss/smooth_l1"},
        {"/v1/activation/giou", "no activation function called \"giou\"; giou is a loss: "
                                "/v1/loss/giou, and a pairwise box matrix: /v1/pairwise/giou"},
        {"/v1/pairwise/entropy", "no pairwise function called \"entropy\"; entropy is an "
                                 "information measure: /v1/info/entropy"},
        {"/v1/relu", "no endpoint at /v1/relu; relu is an activation: /v1/activation/relu"},
        {"/v1/activations/relu", "no endpoint at /v1/activations/relu; relu is an activation: "
                                 "/v1/activation/relu"},
        {"/v2/models/loss.smooth-l1", "no model called \"loss.smooth-l1\"; did you mean "
                                      "/v2/models/loss.smooth_l1?"},
        {"/v2/models/loss.relu/infer", "no model called \"loss.relu\"; relu is an activation: "
                                       "/v2/models/activation.relu/infer"},
        {"/v2/models/relu/ready", "no model called \"relu\"; relu is an activation: "
                                  "/v2/models/activation.relu/ready"},
        {"/v2/models/Loss.MSE/versions/1/infer", "no model called \"Loss.MSE\"; did you mean "
                                                 "/v2/models/loss.mse/versions/1/infer?"},
        /* the model exists: no other kind is offered for a wrong version or endpoint */
        {"/v2/models/loss.ciou/versions/2", "model loss.ciou has no version \"2\"; its only "
                                            "version is 1"},
        {"/v2/models/loss.ciou/explain", "no endpoint at /v2/models/loss.ciou/explain; a model "
                                         "has /ready and /infer"},
        {"/v2/models/loss.mse/infer/", "no endpoint at /v2/models/loss.mse/infer/; did you mean "
                                       "/v2/models/loss.mse/infer?"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lossd_route r;
        lossd_fault f = {0};
        ck_assert_int_eq(lossd_route_find("POST", cases[i].path, &r, &f), -1);
        ck_assert_int_eq(f.kind, LOSSD_FAULT_NOT_FOUND);
        ck_assert_int_eq(r.endpoint, LOSSD_ROUTE_UNKNOWN);
        ck_assert_msg(strcmp(f.message, cases[i].message) == 0, "%s:\n got %s\nwant %s",
                      cases[i].path, f.message, cases[i].message);
    }
    /* Nothing close: the list of names, or the catalog, as before. */
    lossd_route r;
    lossd_fault f = {0};
    lossd_route_find("POST", "/v1/loss/msee", &r, &f);
    expect_fault(&f, LOSSD_FAULT_NOT_FOUND, "", "; the loss functions are: l1, mse");
    memset(&f, 0, sizeof f);
    lossd_route_find("POST", "/v1/nothing/here", &r, &f);
    ck_assert_str_eq(f.message,
                     "no endpoint at /v1/nothing/here; see GET /v1/functions for the catalog");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("route");
    add_case(
        s, "route", 10, NULL, NULL,
        TESTS(route_fixed_endpoints, route_every_function, route_not_found, route_did_you_mean));
    return run_service_suite(s);
}
