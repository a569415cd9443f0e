/* SPDX-License-Identifier: MIT */
/*
 * check_metrics.c - metrics (metrics.c): the Prometheus text, line by
 * line, after known requests and rejections; counts recorded from
 * several threads at once, none lost; and the process_* metrics, which
 * follow the process (its descriptors, CPU time, start).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "../src/service/metrics.h"
#include "../src/service/route.h"
#include "serviceutil.h"

/* True when `line` is one whole line of text. */
static bool has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++)
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
            return true;
    return false;
}

/* Asserts that a printf-formatted line is one whole line of text (which is shown cut short). */
#define ASSERT_LINE(text, ...)                                                                \
    do {                                                                                      \
        char line_[256];                                                                      \
        snprintf(line_, sizeof line_, __VA_ARGS__);                                           \
        ck_assert_msg(has_line((text), line_), "no line \"%s\" in:\n%.2000s", line_, (text)); \
    } while (0)

START_TEST(metrics_render)
{
    lossd_metrics *m = lossd_metrics_create();
    ck_assert_ptr_nonnull(m);
    lossd_route giou = route_of("POST", "/v1/loss/giou");
    lossd_route relu = route_of("POST", "/v1/activation/relu");
    lossd_route healthz = route_of("GET", "/healthz");
    lossd_route unknown = route_of("GET", "/nope");
    lossd_route batch = route_of("POST", "/v1/batch");
    lossd_route wrong_method = route_of("GET", "/v1/loss/giou");
    /* giou: three 200s and a 422, over the histogram; 0.0005 is in the le="0.0005" bucket. */
    lossd_metrics_request(m, &giou, 200, 0.0005, 8);
    lossd_metrics_request(m, &giou, 200, 0.003, 8);
    lossd_metrics_request(m, &giou, 200, 0.3, 8);
    lossd_metrics_request(m, &giou, 422, 2.0, 8);
    lossd_metrics_request(m, &wrong_method, 405, 0.0001, 0);
    lossd_metrics_request(m, &relu, 200, 20.0, 1000);
    lossd_metrics_request(m, &healthz, 200, 0.0001, 0);
    lossd_metrics_request(m, &healthz, 200, 0.0001, 0);
    lossd_metrics_request(m, &unknown, 404, 0.0001, 0);
    lossd_metrics_request(m, &batch, 200, 0.01, 77);
    lossd_metrics_request(m, &relu, 418, 0.0001, 0); /* not a status lossd answers */
    lossd_metrics_reject(m, LOSSD_REJECT_OVERLOADED);
    lossd_metrics_reject(m, LOSSD_REJECT_OVERLOADED);
    lossd_metrics_reject(m, LOSSD_REJECT_DRAINING);
    lossd_metrics_reject(m, LOSSD_REJECT_UNAUTHORIZED);
    lossd_metrics_reject(m, LOSSD_REJECT_COUNT); /* ignored */

    lossd_gauges gauges = {.queue_depth = 5, .inflight = 7, .open = 9};
    lossd_buf out;
    lossd_buf_init(&out, 0);
    lossd_metrics_render(m, &gauges, &out);
    ck_assert(!lossd_buf_failed(&out));
    const char *text = lossd_buf_data(&out);
    ck_assert_int_eq(text[lossd_buf_len(&out) - 1], '\n');

    ASSERT_LINE(text, "# TYPE lossd_requests_total counter");
    ck_assert(!has_line(text, "lossd_requests_total{function=\"loss/giou\",code=\"200\"} 4"));
    ASSERT_LINE(text, "lossd_requests_total{function=\"loss/giou\",code=\"200\"} 3");
    ASSERT_LINE(text, "lossd_requests_total{function=\"loss/giou\",code=\"422\"} 1");
    ASSERT_LINE(text, "lossd_requests_total{function=\"loss/giou\",code=\"405\"} 1");
    ASSERT_LINE(text, "lossd_requests_total{function=\"activation/relu\",code=\"200\"} 1");
    ASSERT_LINE(text, "lossd_requests_total{function=\"activation/relu\",code=\"other\"} 1");
    ASSERT_LINE(text, "lossd_requests_total{function=\"healthz\",code=\"200\"} 2");
    ASSERT_LINE(text, "lossd_requests_total{function=\"unknown\",code=\"404\"} 1");
    ASSERT_LINE(text, "lossd_requests_total{function=\"batch\",code=\"200\"} 1");
    /* Series that saw nothing are left out. */
    ck_assert_ptr_null(strstr(text, "lossd_requests_total{function=\"loss/mse\""));
    ck_assert_ptr_null(strstr(text, "lossd_requests_total{function=\"readyz\""));

    /* The histogram is cumulative, ends at +Inf and counts every request. */
    ASSERT_LINE(text, "# TYPE lossd_request_duration_seconds histogram");
    static const struct {
        const char *le;
        int count;
    } buckets[] = {{"0.0005", 2}, {"0.001", 2}, {"0.0025", 2}, {"0.005", 3}, {"0.01", 3},
                   {"0.025", 3},  {"0.05", 3},  {"0.1", 3},    {"0.25", 3},  {"0.5", 4},
                   {"1", 4},      {"2.5", 5},   {"5", 5},      {"10", 5},    {"+Inf", 5}};
    for (size_t i = 0; i < sizeof buckets / sizeof buckets[0]; i++)
        ASSERT_LINE(text,
                    "lossd_request_duration_seconds_bucket{function=\"loss/giou\",le=\"%s\"} %d",
                    buckets[i].le, buckets[i].count);
    ASSERT_LINE(text, "lossd_request_duration_seconds_count{function=\"loss/giou\"} 5");
    ASSERT_LINE(text,
                "lossd_request_duration_seconds_bucket{function=\"activation/relu\",le=\"10\"} 1");
    ASSERT_LINE(
        text, "lossd_request_duration_seconds_bucket{function=\"activation/relu\",le=\"+Inf\"} 2");
    const char *sum = strstr(text, "lossd_request_duration_seconds_sum{function=\"loss/giou\"} ");
    ck_assert_ptr_nonnull(sum);
    double seconds = strtod(strchr(sum, '}') + 2, NULL);
    ck_assert_msg(fabs(seconds - (0.0005 + 0.003 + 0.3 + 2.0 + 0.0001)) < 1e-8, "sum %.9f",
                  seconds);
    /* Every bucket line of every series is cumulative. */
    unsigned long long previous = 0;
    char function[96] = "";
    for (const char *p = text; (p = strstr(p, "lossd_request_duration_seconds_bucket{")) != NULL;
         p++) {
        char name[96];
        unsigned long long count;
        ck_assert_int_eq(
            sscanf(p, "lossd_request_duration_seconds_bucket{function=\"%95[^\"]\"", name), 1);
        count = strtoull(strstr(p, "} ") + 2, NULL, 10);
        if (strcmp(name, function) != 0) {
            strcpy(function, name);
            previous = 0;
        }
        ck_assert_msg(count >= previous, "%s: bucket count falls", name);
        previous = count;
    }

    /* Elements: every function (zero or not), and the batch. */
    ASSERT_LINE(text, "lossd_elements_total{function=\"loss/giou\"} 32");
    ASSERT_LINE(text, "lossd_elements_total{function=\"activation/relu\"} 1000");
    ASSERT_LINE(text, "lossd_elements_total{function=\"loss/mse\"} 0");
    ASSERT_LINE(text, "lossd_elements_total{function=\"batch\"} 77");
    for (size_t i = 0; i < lossd_function_count(); i++) {
        const lossd_function *fn = lossd_function_at(i);
        char prefix[128];
        snprintf(prefix, sizeof prefix, "lossd_elements_total{function=\"%s/%s\"} ",
                 lossd_kind_name(fn->kind), fn->name);
        ck_assert_msg(strstr(text, prefix) != NULL, "no %s", prefix);
    }

    ASSERT_LINE(text, "# TYPE lossd_queue_depth gauge");
    ASSERT_LINE(text, "lossd_queue_depth 5");
    ASSERT_LINE(text, "# TYPE lossd_inflight_requests gauge");
    ASSERT_LINE(text, "lossd_inflight_requests 7");
    ASSERT_LINE(text, "# TYPE lossd_open_requests gauge");
    ASSERT_LINE(text, "lossd_open_requests 9");
    ASSERT_LINE(text, "lossd_rejected_total{reason=\"overloaded\"} 2");
    ASSERT_LINE(text, "lossd_rejected_total{reason=\"draining\"} 1");
    ASSERT_LINE(text, "lossd_rejected_total{reason=\"too_large\"} 0");
    ASSERT_LINE(text, "lossd_rejected_total{reason=\"unauthorized\"} 1");
    ASSERT_LINE(text, "lossd_build_info{version=\"" LOSSD_VERSION_STRING "\"} 1");

    /* Every line is a comment or "name{labels} value" / "name value", of lossd or the process. */
    char *copy = strdup(text), *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '#') {
            bool ours =
                strncmp(line + 7, "lossd_", 6) == 0 || strncmp(line + 7, "process_", 8) == 0;
            ck_assert_msg((strncmp(line, "# HELP ", 7) == 0 || strncmp(line, "# TYPE ", 7) == 0) &&
                              ours,
                          "bad comment: %s", line);
            continue;
        }
        ck_assert_msg(strncmp(line, "lossd_", 6) == 0 || strncmp(line, "process_", 8) == 0,
                      "bad line: %s", line);
        const char *value = strrchr(line, ' ');
        ck_assert_ptr_nonnull(value);
        char *end;
        strtod(value + 1, &end);
        ck_assert_msg(*end == '\0' && end > value + 1, "bad value in: %s", line);
    }
    free(copy);
    lossd_buf_cleanup(&out);
    lossd_metrics_destroy(m);
    lossd_metrics_destroy(NULL);
}
END_TEST

/* Records from many threads at once: no count is lost. */
typedef struct {
    lossd_metrics *m;
    lossd_route route;
} recorder;

static void *record_many(void *arg)
{
    recorder *r = arg;
    for (int i = 0; i < 10000; i++) {
        lossd_metrics_request(r->m, &r->route, 200, 0.001, 2);
        lossd_metrics_reject(r->m, LOSSD_REJECT_TOO_LARGE);
    }
    return NULL;
}

START_TEST(metrics_concurrent)
{
    lossd_metrics *m = lossd_metrics_create();
    recorder r = {m, route_of("POST", "/v1/pairwise/ciou")};
    pthread_t threads[4];
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(pthread_create(&threads[i], NULL, record_many, &r), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(threads[i], NULL);
    lossd_buf out;
    lossd_buf_init(&out, 0);
    lossd_gauges gauges = {0, 0, 0};
    lossd_metrics_render(m, &gauges, &out);
    ASSERT_LINE(lossd_buf_data(&out),
                "lossd_requests_total{function=\"pairwise/ciou\",code=\"200\"} 40000");
    ASSERT_LINE(lossd_buf_data(&out),
                "lossd_request_duration_seconds_count{function=\"pairwise/ciou\"} 40000");
    ASSERT_LINE(lossd_buf_data(&out), "lossd_elements_total{function=\"pairwise/ciou\"} 80000");
    ASSERT_LINE(lossd_buf_data(&out), "lossd_rejected_total{reason=\"too_large\"} 40000");
    ASSERT_LINE(lossd_buf_data(&out), "lossd_queue_depth 0");
    lossd_buf_cleanup(&out);
    lossd_metrics_destroy(m);
}
END_TEST

/* Renders the metrics and returns the value of the sample line `name VALUE` (fails without). */
static double sample(lossd_metrics *m, const char *name)
{
    lossd_buf out;
    lossd_buf_init(&out, 0);
    lossd_gauges gauges = {0, 0, 0};
    lossd_metrics_render(m, &gauges, &out);
    const char *text = lossd_buf_data(&out);
    char help[128], type[128];
    snprintf(help, sizeof help, "# HELP %s ", name);
    snprintf(type, sizeof type, "# TYPE %s ", name);
    ck_assert_msg(strstr(text, help) && strstr(text, type), "no HELP or TYPE for %s", name);
    char at[128];
    snprintf(at, sizeof at, "\n%s ", name);
    const char *line = strstr(text, at);
    ck_assert_msg(line != NULL, "no %s in:\n%s", name, text);
    char *end;
    double value = strtod(line + strlen(at), &end);
    ck_assert_msg(*end == '\n', "%s: not a number", name);
    lossd_buf_cleanup(&out);
    return value;
}

START_TEST(metrics_process)
{
    /* The standard process metrics, read at scrape time: they follow what the process does. */
    lossd_metrics *m = lossd_metrics_create();
    double resident = sample(m, "process_resident_memory_bytes");
    ck_assert_double_ge(resident, 1 << 20);
    ck_assert_double_ge(sample(m, "process_virtual_memory_bytes"), resident);
    struct rlimit rl;
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
    ck_assert_double_eq(sample(m, "process_max_fds"), (double)rl.rlim_cur);

    double fds = sample(m, "process_open_fds");
    ck_assert_double_ge(fds, 3); /* stdin, stdout, stderr at least */
    int more[3];
    for (int i = 0; i < 3; i++)
        ck_assert_int_ge(more[i] = dup(2), 0);
    ck_assert_double_eq(sample(m, "process_open_fds"), fds + 3);
    for (int i = 0; i < 3; i++)
        close(more[i]);
    ck_assert_double_eq(sample(m, "process_open_fds"), fds);

    /* this process started within the hour (the suite's forked child just did) */
    double started = sample(m, "process_start_time_seconds"), now = (double)time(NULL);
    ck_assert_msg(started <= now + 1 && started > now - 3600, "started %f, now %f", started, now);

    /* CPU time grows with work done */
    double cpu = sample(m, "process_cpu_seconds_total");
    ck_assert_double_ge(cpu, 0);
    struct timespec t0, t1;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    volatile double sink = 0;
    do {
        for (int i = 0; i < 100000; i++)
            sink += (double)i * 1e-9;
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
    } while ((double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9 < 0.05);
    ck_assert_double_ge(sample(m, "process_cpu_seconds_total"), cpu + 0.04);
    lossd_metrics_destroy(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("metrics");
    add_case(s, "metrics", 10, NULL, NULL, TESTS(metrics_render, metrics_concurrent));
    add_case(s, "process", 10, NULL, NULL, TESTS(metrics_process));
    return run_service_suite(s);
}
