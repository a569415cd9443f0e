/* SPDX-License-Identifier: MIT */
/*
 * options.c - options from flags and the environment (see options.h).
 *
 * The table below is the one list of options. getopt_long's option array,
 * the short flags, the LOSSD_* variables, the bounds, the defaults shown
 * and --help are all made from it.
 *
 * Problems are collected, not printed at once: --help and --version must
 * answer even beside a bad flag or a bad LOSSD_* variable (a broken
 * environment is when help is most needed).
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "client.h"
#include "options.h"
#include "web.h"

typedef enum {
    OPT_STRING,
    OPT_LIST, /* comma-separated; a repeated flag adds to the list */
    OPT_COUNT,
    OPT_SIZE,
    OPT_SECONDS,
    OPT_LOG_FORMAT,
    OPT_SWITCH, /* on or off, into a bool */
    OPT_ACTION
} opt_type;

typedef struct {
    const char *flag; /* without the leading -- */
    const char *env;
    opt_type type;
    size_t offset; /* into lossd_config (not for actions) */
    size_t size;   /* strings: buffer size */
    lossd_action action;
    const char *meta; /* the value's name in --help */
    const char *help;
    char short_flag; /* -h, -V; 0 for none */
    size_t max;      /* counts: the largest accepted; 0 for no bound */
} option;

#define FIELD(name) offsetof(lossd_config, name), sizeof(((lossd_config *)0)->name)

static const option options[] = {
    {"listen", "LOSSD_LISTEN", OPT_STRING, FIELD(listen), 0, "HOST:PORT",
     "address to serve on; :PORT for every interface (IPv4 and IPv6), port 0 picks a free one", 0,
     0},
    {"workers", "LOSSD_WORKERS", OPT_COUNT, FIELD(workers), 0, "N",
     "compute threads (0: one per CPU)", 0, LOSSD_WORKERS_MAX},
    {"io-threads", "LOSSD_IO_THREADS", OPT_COUNT, FIELD(io_threads), 0, "N",
     "libmicrohttpd polling threads doing socket I/O (0: two, or one on one CPU)", 0,
     LOSSD_IO_THREADS_MAX},
    {"queue", "LOSSD_QUEUE", OPT_COUNT, FIELD(queue), 0, "N",
     "requests that may wait for a worker; beyond, 503 overloaded", 0, 0},
    {"max-body", "LOSSD_MAX_BODY", OPT_SIZE, FIELD(max_body), 0, "BYTES",
     "largest request body (K, M, G suffixes: KiB, MiB, GiB)", 0, 0},
    {"max-elements", "LOSSD_MAX_ELEMENTS", OPT_COUNT, FIELD(max_elements), 0, "N",
     "most numbers in one request's tensors, and in its reply", 0, 0},
    {"max-buffered", "LOSSD_MAX_BUFFERED", OPT_SIZE, FIELD(max_buffered), 0, "BYTES",
     "request bodies held in memory at once, across connections; beyond, 503 (0: 4 x --max-body)",
     0, 0},
    {"max-jobs", "LOSSD_MAX_JOBS", OPT_COUNT, FIELD(max_jobs), 0, "N",
     "most jobs in one /v1/batch request", 0, 0},
    {"timeout", "LOSSD_TIMEOUT", OPT_SECONDS, FIELD(timeout), 0, "SECONDS",
     "close connections idle this long, or that take longer to send a whole request (0: never)", 0,
     0},
    {"max-connections", "LOSSD_MAX_CONNECTIONS", OPT_COUNT, FIELD(max_connections), 0, "N",
     "most simultaneous connections", 0, 0},
    {"max-connections-per-ip", "LOSSD_MAX_CONNECTIONS_PER_IP", OPT_COUNT,
     FIELD(max_connections_per_ip), 0, "N", "most connections from one peer address (0: no limit)",
     0, 0},
    {"drain-timeout", "LOSSD_DRAIN_TIMEOUT", OPT_SECONDS, FIELD(drain_timeout), 0, "SECONDS",
     "on SIGTERM/SIGINT, how long in-flight requests may take to finish", 0, 0},
    {"api-key-file", "LOSSD_API_KEY_FILE", OPT_STRING, FIELD(api_key_file), 0, "FILE",
     "require Authorization: Bearer KEY on /v1 and /v2 (not on the health probes or "
     "/metrics), keys one per line",
     0, 0},
    {"tls-cert", "LOSSD_TLS_CERT", OPT_STRING, FIELD(tls_cert), 0, "FILE",
     "PEM certificate: serve HTTPS (with --tls-key)", 0, 0},
    {"tls-key", "LOSSD_TLS_KEY", OPT_STRING, FIELD(tls_key), 0, "FILE",
     "PEM private key for --tls-cert", 0, 0},
    {"log-format", "LOSSD_LOG_FORMAT", OPT_LOG_FORMAT, FIELD(log_format), 0, "text|json|off",
     "one access-log line per request on stderr", 0, 0},
    {"trusted-proxy", "LOSSD_TRUSTED_PROXY", OPT_LIST, FIELD(trusted_proxy), 0, "CIDR",
     "proxies whose X-Forwarded-For names the client in the access log (comma-separated or "
     "repeated; IPv4 and IPv6)",
     0, 0},
    {"playground", "LOSSD_PLAYGROUND", OPT_SWITCH, FIELD(playground), 0, "on|off",
     "serve the playground page at / (off: / is 404)", 0, 0},
    {"cors-origin", "LOSSD_CORS_ORIGIN", OPT_STRING, FIELD(cors_origin), 0, "LIST",
     "origins whose pages may call lossd (comma-separated, or *): CORS headers and preflights", 0,
     0},
    {"healthcheck", NULL, OPT_ACTION, 0, 0, LOSSD_ACTION_HEALTHCHECK, NULL,
     "GET /healthz on the configured address; exit 0 if it answers 200", 0, 0},
    {"version", NULL, OPT_ACTION, 0, 0, LOSSD_ACTION_VERSION, NULL, "print the version and exit",
     'V', 0},
    {"help", NULL, OPT_ACTION, 0, 0, LOSSD_ACTION_HELP, NULL, "print this help and exit", 'h', 0},
};

#define N_OPTIONS (sizeof options / sizeof options[0])

/* getopt_long's value for options[i] (above every short flag's character). */
#define OPTION_VALUE(i) (256 + (int)(i))

void lossd_config_defaults(lossd_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    strcpy(cfg->listen, "127.0.0.1:8080");
    cfg->workers = 0;
    cfg->io_threads = 0;
    cfg->queue = 256;
    cfg->max_body = (size_t)64 << 20;
    cfg->max_elements = 16777216;
    cfg->max_jobs = 1024;
    cfg->timeout = 30;
    cfg->max_connections = 1024;
    cfg->max_connections_per_ip = 0;
    cfg->drain_timeout = 10;
    cfg->log_format = LOSSD_LOG_TEXT;
    cfg->playground = true;
}

/* Parses a whole number with an optional K/M/G (binary) suffix for sizes. */
static int parse_number(const char *text, bool suffixes, size_t *out)
{
    if (!isdigit((unsigned char)text[0]))
        return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno)
        return -1;
    unsigned shift = 0;
    if (suffixes && *end) {
        switch (toupper((unsigned char)*end)) {
        case 'K':
            shift = 10;
            break;
        case 'M':
            shift = 20;
            break;
        case 'G':
            shift = 30;
            break;
        default:
            return -1;
        }
        end++;
        if (strcasecmp(end, "iB") == 0 || strcasecmp(end, "B") == 0)
            end += strlen(end);
    }
    if (*end || v > (SIZE_MAX >> shift))
        return -1;
    *out = (size_t)(v << shift);
    return 0;
}

/* The first problem found: printed unless --help or --version is asked for. */
typedef struct {
    char text[640];
} problem;

__attribute__((format(printf, 2, 3))) static int note(problem *p, const char *fmt, ...)
{
    if (p->text[0] == '\0') {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->text, sizeof p->text, fmt, ap);
        va_end(ap);
    }
    return -1;
}

/*
 * Sets option o from value, read from `source` (the flag or the variable,
 * for messages). `append` adds to a list instead of replacing it.
 */
static int set_option(lossd_config *cfg, const option *o, const char *value, const char *source,
                      bool append, problem *p)
{
    char *field = (char *)cfg + o->offset;
    switch (o->type) {
    case OPT_STRING:
    case OPT_LIST: {
        size_t used = append && field[0] ? strlen(field) : 0;
        if (used + (used > 0) + strlen(value) >= o->size)
            return note(p, "lossd: %s: value too long\n", source);
        if (used > 0)
            field[used++] = ',';
        strcpy(field + used, value);
        return 0;
    }
    case OPT_COUNT:
    case OPT_SIZE:
    case OPT_SECONDS: {
        size_t *number = (size_t *)(void *)field;
        if (parse_number(value, o->type == OPT_SIZE, number) < 0)
            return note(p, "lossd: %s: expected a whole number%s, got \"%s\"\n", source,
                        o->type == OPT_SIZE ? " of bytes (suffixes K, M, G)" : "", value);
        if (o->max && *number > o->max)
            return note(p, "lossd: %s: at most %zu, got %s\n", source, o->max, value);
        return 0;
    }
    case OPT_LOG_FORMAT: {
        static const char *const names[] = {"text", "json", "off"};
        for (int i = 0; i < 3; i++)
            if (strcmp(value, names[i]) == 0) {
                *(lossd_log_format *)(void *)field = (lossd_log_format)i;
                return 0;
            }
        return note(p, "lossd: %s: expected text, json or off, got \"%s\"\n", source, value);
    }
    case OPT_SWITCH:
        if (strcmp(value, "on") != 0 && strcmp(value, "off") != 0)
            return note(p, "lossd: %s: expected on or off, got \"%s\"\n", source, value);
        *(bool *)(void *)field = strcmp(value, "on") == 0;
        return 0;
    case OPT_ACTION:
        break;
    }
    return -1;
}

/* Checks the options against each other once all are read. */
static int validate(const lossd_config *cfg, problem *p)
{
    char host[256], why[256];
    unsigned port;
    if (lossd_config_listen(cfg, host, sizeof host, &port) < 0)
        return note(p, "lossd: --listen: expected HOST:PORT or :PORT, got \"%s\"\n", cfg->listen);
    const struct {
        size_t value;
        const char *name;
    } positive[] = {{cfg->queue, "--queue"},
                    {cfg->max_body, "--max-body"},
                    {cfg->max_elements, "--max-elements"},
                    {cfg->max_jobs, "--max-jobs"},
                    {cfg->max_connections, "--max-connections"}};
    for (size_t i = 0; i < sizeof positive / sizeof positive[0]; i++)
        if (positive[i].value == 0)
            return note(p, "lossd: %s must be at least 1\n", positive[i].name);
    if (!cfg->tls_cert[0] != !cfg->tls_key[0])
        return note(p, "lossd: --tls-cert and --tls-key go together\n");
    lossd_trust trust;
    if (cfg->trusted_proxy[0] && lossd_trust_parse(&trust, cfg->trusted_proxy, why, sizeof why) < 0)
        return note(p, "lossd: --trusted-proxy: %s\n", why);
    if (cfg->cors_origin[0] && !lossd_web_origins_valid(cfg->cors_origin, why, sizeof why))
        return note(p, "lossd: --cors-origin: %s\n", why);
    return 0;
}

/* The option a long flag abbreviates, when it abbreviates more than one (getopt says '?'). */
static bool ambiguous(const char *arg)
{
    size_t len = strcspn(arg, "=");
    int matches = 0;
    for (size_t i = 0; i < N_OPTIONS; i++)
        matches += strncmp(options[i].flag, arg, len) == 0;
    return len > 0 && matches > 1;
}

/*
 * Reads argv's flags with getopt_long into cfg; given[i] is set for each
 * option a flag set. Sets *action. Returns 0, or -1 with p noted.
 */
static int read_flags(lossd_config *cfg, int argc, char **argv, bool *given, lossd_action *action,
                      problem *p)
{
    struct option longopts[N_OPTIONS + 1];
    char shorts[2 * N_OPTIONS + 2], source[128];
    size_t n_shorts = 0;
    shorts[n_shorts++] = ':'; /* report a missing value as ':' */
    for (size_t i = 0; i < N_OPTIONS; i++) {
        longopts[i] = (struct option){
            options[i].flag, options[i].type == OPT_ACTION ? no_argument : required_argument, NULL,
            OPTION_VALUE(i)};
        if (options[i].short_flag)
            shorts[n_shorts++] = options[i].short_flag;
    }
    longopts[N_OPTIONS] = (struct option){0};
    shorts[n_shorts] = '\0';
    opterr = 0;
    optind = 0; /* glibc: start over (the options may be read more than once, by tests) */
    int rc = 0, c, index;
    while ((c = getopt_long(argc, argv, shorts, longopts, &index)) != -1) {
        size_t i = N_OPTIONS;
        if (c >= OPTION_VALUE(0) && c < OPTION_VALUE(N_OPTIONS))
            i = (size_t)(c - OPTION_VALUE(0));
        for (size_t k = 0; k < N_OPTIONS && i == N_OPTIONS; k++)
            if (options[k].short_flag && options[k].short_flag == c)
                i = k;
        if (c == ':' || c == '?') {
            const char *arg = argv[optind - 1];
            if (c == ':')
                rc = note(p, "lossd: %s needs a value\n", arg);
            else if (optopt >= OPTION_VALUE(0))
                rc =
                    note(p, "lossd: --%s takes no value\n", options[optopt - OPTION_VALUE(0)].flag);
            else if (optopt)
                rc = note(p, "lossd: unknown option \"-%c\" (see --help)\n", optopt);
            else if (strncmp(arg, "--", 2) == 0 && ambiguous(arg + 2))
                rc = note(p, "lossd: \"%s\" is ambiguous: it begins several options (see --help)\n",
                          arg);
            else
                rc = note(p, "lossd: unknown option \"%s\" (see --help)\n", arg);
            continue;
        }
        if (i == N_OPTIONS)
            continue; /* not reached: every value comes from the table */
        const option *o = &options[i];
        if (o->type == OPT_ACTION) {
            /* --help and --version win over whatever else is asked */
            if (*action != LOSSD_ACTION_HELP && *action != LOSSD_ACTION_VERSION)
                *action = o->action;
            continue;
        }
        snprintf(source, sizeof source, "--%s", o->flag);
        if (set_option(cfg, o, optarg, source, o->type == OPT_LIST && given[i], p) < 0)
            rc = -1;
        given[i] = true;
    }
    if (optind < argc)
        rc = note(p, "lossd: unexpected argument \"%s\" (see --help)\n", argv[optind]);
    return rc;
}

int lossd_config_load(lossd_config *cfg, int argc, char **argv, FILE *err, lossd_action *action)
{
    problem p = {{0}};
    bool given[N_OPTIONS] = {false};
    *action = LOSSD_ACTION_SERVE;
    read_flags(cfg, argc, argv, given, action, &p);
    if (*action == LOSSD_ACTION_HELP || *action == LOSSD_ACTION_VERSION)
        return 0;
    for (size_t i = 0; i < N_OPTIONS && !p.text[0]; i++) {
        const char *value = options[i].env ? getenv(options[i].env) : NULL;
        if (value && *value && !given[i])
            set_option(cfg, &options[i], value, options[i].env, false, &p);
    }
    if (!p.text[0])
        validate(cfg, &p);
    if (!p.text[0])
        return 0;
    fputs(p.text, err);
    return -1;
}

static void default_text(const lossd_config *d, const option *o, char *buf, size_t size)
{
    const char *field = (const char *)d + o->offset;
    switch (o->type) {
    case OPT_STRING:
    case OPT_LIST:
        snprintf(buf, size, "%s", *field ? field : "unset");
        return;
    case OPT_SIZE: {
        size_t v = *(const size_t *)(const void *)field;
        if (v != 0 && v % (1u << 20) == 0)
            snprintf(buf, size, "%zuM", v >> 20);
        else
            snprintf(buf, size, "%zu", v);
        return;
    }
    case OPT_COUNT:
    case OPT_SECONDS:
        snprintf(buf, size, "%zu", *(const size_t *)(const void *)field);
        return;
    case OPT_LOG_FORMAT:
        snprintf(buf, size, "text");
        return;
    case OPT_SWITCH:
        snprintf(buf, size, "%s", *(const bool *)(const void *)field ? "on" : "off");
        return;
    case OPT_ACTION:
        break;
    }
    buf[0] = '\0';
}

/* --help's width: every line fits a terminal of 80 columns. */
#define USAGE_COLUMNS 80

/*
 * Prints text in a column starting at `indent` (the cursor is at `at`),
 * broken between words so that no line passes USAGE_COLUMNS.
 */
static void print_wrapped(FILE *out, const char *text, int indent, int at)
{
    int width = USAGE_COLUMNS - indent;
    while (*text) {
        int len = (int)strlen(text);
        if (len > width) { /* break at the last space that fits */
            len = width;
            while (len > 0 && text[len] != ' ')
                len--;
            if (len == 0)
                len = (int)strcspn(text, " ");
        }
        fprintf(out, "%*s%.*s\n", indent - at, "", len, text);
        at = 0;
        text += len;
        while (*text == ' ')
            text++;
    }
}

void lossd_config_usage(FILE *out)
{
    lossd_config d;
    lossd_config_defaults(&d);
    fprintf(out, "Usage: lossd [OPTION]...\n"
                 "Serve loss functions, activations, information measures and pairwise box\n"
                 "matrices over HTTP: JSON on /v1, the Open Inference Protocol on /v2.\n\n"
                 "Every option may also be set by the environment variable shown; flags win.\n\n");
    char flags[N_OPTIONS][64];
    int indent = 0;
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const option *o = &options[i];
        char dash[8] = "    ";
        if (o->short_flag)
            snprintf(dash, sizeof dash, "-%c, ", o->short_flag);
        int n = snprintf(flags[i], sizeof flags[i], "  %s--%s%s%s", dash, o->flag,
                         o->meta ? " " : "", o->meta ? o->meta : "");
        indent = n + 2 > indent ? n + 2 : indent;
    }
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const option *o = &options[i];
        fputs(flags[i], out);
        print_wrapped(out, o->help, indent, (int)strlen(flags[i]));
        if (o->env) {
            char def[64], env[160];
            default_text(&d, o, def, sizeof def);
            int n = snprintf(env, sizeof env, "[%s; default %s", o->env, def);
            if (o->max)
                n += snprintf(env + n, sizeof env - (size_t)n, "; at most %zu", o->max);
            snprintf(env + n, sizeof env - (size_t)n, "]");
            print_wrapped(out, env, indent, 0);
        }
    }
    fprintf(out, "\nSIGTERM or SIGINT drains: /readyz turns 503, the listener closes, requests\n"
                 "already read finish (up to --drain-timeout), then lossd exits 0.\n"
                 "Reference: man lossd, docs/api.md.\n");
}

int lossd_config_listen(const lossd_config *cfg, char *host, size_t host_size, unsigned *port)
{
    const char *s = cfg->listen, *colon;
    size_t host_len;
    if (s[0] == '[') { /* [v6]:port */
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':' || close == s + 1)
            return -1;
        host_len = (size_t)(close - s - 1);
        s++;
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL)
            return -1;
        host_len = (size_t)(colon - s); /* 0: ":PORT", every interface */
    }
    if (host_len >= host_size)
        return -1;
    memcpy(host, s, host_len);
    host[host_len] = '\0';
    size_t p;
    if (parse_number(colon + 1, false, &p) < 0 || p > 65535)
        return -1;
    *port = (unsigned)p;
    return 0;
}
