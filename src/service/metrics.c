/* SPDX-License-Identifier: MIT */
/*
 * metrics.c - lock-free counters behind /metrics (see metrics.h).
 *
 * One row of counters per label value: the fixed endpoints, then one per
 * registered function. Status codes come from the small set the service
 * can answer; anything else lands in an "other" column.
 *
 * The standard process_* metrics (what Prometheus's own clients export)
 * are read from the kernel at scrape time, never counted per request.
 */
#include <dirent.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <lossd/lossd.h>

#include "../debug.h"
#include "metrics.h"

static const int codes[] = {200, 400, 401, 404, 405, 408, 413, 415, 422, 500, 503};
#define N_CODES (sizeof codes / sizeof codes[0])

/* Histogram bounds in seconds (le labels). */
static const double bounds[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                0.1,    0.25,  0.5,    1,     2.5,  5,     10};
#define N_BOUNDS (sizeof bounds / sizeof bounds[0])

static const char *const reject_names[LOSSD_REJECT_COUNT] = {"overloaded", "draining", "too_large",
                                                             "unauthorized", "slow_client"};

typedef struct {
    atomic_ullong requests[N_CODES + 1]; /* + other */
    atomic_ullong buckets[N_BOUNDS + 1]; /* + +Inf */
    atomic_ullong nanoseconds;           /* sum of durations */
    atomic_ullong elements;
} series;

struct lossd_metrics {
    size_t n_series; /* fixed endpoints + functions */
    series *rows;
    atomic_ullong rejected[LOSSD_REJECT_COUNT];
};

/* Row of a route: the fixed endpoints first, then the registry's functions. */
static size_t row_of(const lossd_route *r)
{
    if ((r->endpoint == LOSSD_ROUTE_COMPUTE || r->endpoint == LOSSD_ROUTE_V2_INFER) && r->fn) {
        LOSSD_ASSERT(lossd_function_at(r->fn_index) == r->fn);
        return LOSSD_ROUTE_COUNT + r->fn_index;
    }
    return (unsigned)r->endpoint < LOSSD_ROUTE_COUNT ? (size_t)r->endpoint : LOSSD_ROUTE_UNKNOWN;
}

static void row_label(size_t row, char *buf, size_t size)
{
    lossd_route r = {.endpoint = LOSSD_ROUTE_COMPUTE};
    if (row < LOSSD_ROUTE_COUNT)
        r.endpoint = (lossd_endpoint)row;
    else
        r.fn = lossd_function_at(row - LOSSD_ROUTE_COUNT);
    const char *label = lossd_route_label(&r, buf, size);
    if (label != buf)
        strncpy(buf, label, size - 1), buf[size - 1] = '\0';
}

lossd_metrics *lossd_metrics_create(void)
{
    lossd_metrics *m = calloc(1, sizeof *m);
    if (m == NULL)
        return NULL;
    m->n_series = LOSSD_ROUTE_COUNT + lossd_function_count();
    m->rows = calloc(m->n_series, sizeof *m->rows);
    if (m->rows == NULL) {
        free(m);
        return NULL;
    }
    return m;
}

void lossd_metrics_destroy(lossd_metrics *m)
{
    if (m) {
        free(m->rows);
        free(m);
    }
}

void lossd_metrics_request(lossd_metrics *m, const lossd_route *route, int status, double seconds,
                           size_t elements)
{
    series *s = &m->rows[row_of(route)];
    size_t c = 0;
    while (c < N_CODES && codes[c] != status)
        c++;
    atomic_fetch_add_explicit(&s->requests[c], 1, memory_order_relaxed);
    size_t b = 0;
    while (b < N_BOUNDS && seconds > bounds[b])
        b++;
    atomic_fetch_add_explicit(&s->buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->nanoseconds, (unsigned long long)(seconds * 1e9),
                              memory_order_relaxed);
    atomic_fetch_add_explicit(&s->elements, elements, memory_order_relaxed);
}

void lossd_metrics_reject(lossd_metrics *m, lossd_reject_reason reason)
{
    if ((unsigned)reason < LOSSD_REJECT_COUNT)
        atomic_fetch_add_explicit(&m->rejected[reason], 1, memory_order_relaxed);
}

static unsigned long long load(atomic_ullong *x)
{
    return atomic_load_explicit(x, memory_order_relaxed);
}

/* Open file descriptors: the entries of /proc/self/fd, less the one reading it. */
static long open_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    if (dir == NULL)
        return -1;
    long n = 0;
    for (struct dirent *e; (e = readdir(dir)) != NULL;)
        n += e->d_name[0] != '.';
    closedir(dir);
    return n - 1;
}

/*
 * When the process started, in seconds since the epoch: its start in
 * clock ticks after boot (/proc/self/stat, field 22) plus the boot time
 * (/proc/stat's btime). -1 when either is missing.
 */
static double start_time(void)
{
    char stat[1024];
    FILE *f = fopen("/proc/self/stat", "r");
    size_t n = f ? fread(stat, 1, sizeof stat - 1, f) : 0;
    if (f)
        fclose(f);
    stat[n] = '\0';
    /* The command name (field 2) is in parentheses and may hold spaces: count after it. */
    const char *p = strrchr(stat, ')');
    unsigned long long ticks = 0, boot = 0;
    if (p == NULL || sscanf(p + 2,
                            "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d "
                            "%*d %*d %*d %*d %llu",
                            &ticks) != 1)
        return -1;
    char line[256];
    f = fopen("/proc/stat", "r");
    while (f && fgets(line, sizeof line, f) && sscanf(line, "btime %llu", &boot) != 1)
        ;
    if (f)
        fclose(f);
    long hz = sysconf(_SC_CLK_TCK);
    return boot && hz > 0 ? (double)boot + (double)ticks / (double)hz : -1;
}

/* One process_* metric; a value below 0 (not readable here) is left out. */
static void process_metric(lossd_buf *out, const char *name, const char *type, const char *help,
                           double value)
{
    if (value < 0)
        return;
    lossd_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s ", name, help, name, type, name);
    lossd_buf_number(out, value);
    lossd_buf_puts(out, "\n");
}

/* The standard process metrics, read now. */
static void render_process(lossd_buf *out)
{
    struct rusage ru;
    double cpu = -1;
    if (getrusage(RUSAGE_SELF, &ru) == 0)
        cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
              (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
    unsigned long long pages_virtual = 0, pages_resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    bool statm = f && fscanf(f, "%llu %llu", &pages_virtual, &pages_resident) == 2;
    if (f)
        fclose(f);
    double page = (double)sysconf(_SC_PAGESIZE);
    struct rlimit rl;
    double max_fds = -1;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        max_fds = rl.rlim_cur == RLIM_INFINITY ? -1 : (double)rl.rlim_cur;
    process_metric(out, "process_cpu_seconds_total", "counter",
                   "Total user and system CPU time spent in seconds.", cpu);
    process_metric(out, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
                   statm ? (double)pages_resident * page : -1);
    process_metric(out, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.",
                   statm ? (double)pages_virtual * page : -1);
    process_metric(out, "process_open_fds", "gauge", "Number of open file descriptors.",
                   (double)open_fds());
    process_metric(out, "process_max_fds", "gauge", "Maximum number of open file descriptors.",
                   max_fds);
    process_metric(out, "process_start_time_seconds", "gauge",
                   "Start time of the process since unix epoch in seconds.", start_time());
}

void lossd_metrics_render(lossd_metrics *m, const lossd_gauges *g, lossd_buf *out)
{
    char label[96];
    lossd_buf_puts(out, "# HELP lossd_requests_total Requests answered, by function and status "
                        "code.\n# TYPE lossd_requests_total counter\n");
    for (size_t r = 0; r < m->n_series; r++) {
        row_label(r, label, sizeof label);
        for (size_t c = 0; c <= N_CODES; c++) {
            unsigned long long n = load(&m->rows[r].requests[c]);
            if (n == 0)
                continue;
            if (c < N_CODES)
                lossd_buf_printf(out, "lossd_requests_total{function=\"%s\",code=\"%d\"} %llu\n",
                                 label, codes[c], n);
            else
                lossd_buf_printf(out, "lossd_requests_total{function=\"%s\",code=\"other\"} %llu\n",
                                 label, n);
        }
    }
    lossd_buf_puts(out, "# HELP lossd_request_duration_seconds Time from the request's first "
                        "byte to its last reply byte.\n"
                        "# TYPE lossd_request_duration_seconds histogram\n");
    for (size_t r = 0; r < m->n_series; r++) {
        series *s = &m->rows[r];
        unsigned long long total = 0;
        for (size_t b = 0; b <= N_BOUNDS; b++)
            total += load(&s->buckets[b]);
        if (total == 0)
            continue;
        row_label(r, label, sizeof label);
        unsigned long long cumulative = 0;
        for (size_t b = 0; b < N_BOUNDS; b++) {
            cumulative += load(&s->buckets[b]);
            lossd_buf_printf(out,
                             "lossd_request_duration_seconds_bucket{function=\"%s\",le=\"%g\"} "
                             "%llu\n",
                             label, bounds[b], cumulative);
        }
        lossd_buf_printf(out,
                         "lossd_request_duration_seconds_bucket{function=\"%s\",le=\"+Inf\"} "
                         "%llu\n",
                         label, total);
        lossd_buf_printf(out, "lossd_request_duration_seconds_sum{function=\"%s\"} %.9f\n", label,
                         (double)load(&s->nanoseconds) / 1e9);
        lossd_buf_printf(out, "lossd_request_duration_seconds_count{function=\"%s\"} %llu\n", label,
                         total);
    }
    lossd_buf_puts(out, "# HELP lossd_elements_total Numbers read from request tensors.\n"
                        "# TYPE lossd_elements_total counter\n");
    for (size_t r = LOSSD_ROUTE_COUNT; r < m->n_series; r++) {
        row_label(r, label, sizeof label);
        lossd_buf_printf(out, "lossd_elements_total{function=\"%s\"} %llu\n", label,
                         load(&m->rows[r].elements));
    }
    lossd_buf_printf(out, "lossd_elements_total{function=\"batch\"} %llu\n",
                     load(&m->rows[LOSSD_ROUTE_BATCH].elements));
    lossd_buf_printf(out,
                     "# HELP lossd_queue_depth Requests waiting for a worker.\n"
                     "# TYPE lossd_queue_depth gauge\nlossd_queue_depth %zu\n"
                     "# HELP lossd_inflight_requests Compute requests handed to the workers "
                     "(queued or computing) and not yet answered.\n"
                     "# TYPE lossd_inflight_requests gauge\nlossd_inflight_requests %zu\n"
                     "# HELP lossd_open_requests Requests whose headers were read and whose "
                     "reply is not yet sent, this scrape included; a drain waits for them.\n"
                     "# TYPE lossd_open_requests gauge\nlossd_open_requests %zu\n",
                     g->queue_depth, g->inflight, g->open);
    lossd_buf_puts(out, "# HELP lossd_rejected_total Requests refused before computing, by "
                        "reason.\n# TYPE lossd_rejected_total counter\n");
    for (int r = 0; r < LOSSD_REJECT_COUNT; r++)
        lossd_buf_printf(out, "lossd_rejected_total{reason=\"%s\"} %llu\n", reject_names[r],
                         load(&m->rejected[r]));
    lossd_buf_printf(out,
                     "# HELP lossd_build_info The running build.\n# TYPE lossd_build_info gauge\n"
                     "lossd_build_info{version=\"%s\"} 1\n",
                     LOSSD_VERSION_STRING);
    render_process(out);
}
