/*
 * options.c - options from flags and the environment (see options.h).
 */
#include <ctype.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "options.h"
#include "web.h"

typedef enum {
    OPT_STRING,
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
} option;

#define FIELD(name) offsetof(lossd_config, name), sizeof(((lossd_config *)0)->name)

static const option options[] = {
    {"listen", "LOSSD_LISTEN", OPT_STRING, FIELD(listen), 0, "HOST:PORT",
     "address to serve on (port 0 picks a free one)"},
    {"workers", "LOSSD_WORKERS", OPT_COUNT, FIELD(workers), 0, "N",
     "compute threads (0: one per CPU)"},
    {"io-threads", "LOSSD_IO_THREADS", OPT_COUNT, FIELD(io_threads), 0, "N",
     "libmicrohttpd polling threads doing socket I/O (0: two, or one on one CPU)"},
    {"queue", "LOSSD_QUEUE", OPT_COUNT, FIELD(queue), 0, "N",
     "requests that may wait for a worker; beyond, 503 overloaded"},
    {"max-body", "LOSSD_MAX_BODY", OPT_SIZE, FIELD(max_body), 0, "BYTES",
     "largest request body (K, M, G suffixes: KiB, MiB, GiB)"},
    {"max-elements", "LOSSD_MAX_ELEMENTS", OPT_COUNT, FIELD(max_elements), 0, "N",
     "most numbers in one request's tensors, and in its reply"},
    {"max-buffered", "LOSSD_MAX_BUFFERED", OPT_SIZE, FIELD(max_buffered), 0, "BYTES",
     "request bodies held in memory at once, across connections; beyond, 503 (0: 4 x --max-body)"},
    {"max-jobs", "LOSSD_MAX_JOBS", OPT_COUNT, FIELD(max_jobs), 0, "N",
     "most jobs in one /v1/batch request"},
    {"timeout", "LOSSD_TIMEOUT", OPT_SECONDS, FIELD(timeout), 0, "SECONDS",
     "close connections idle this long, or that take longer to send a whole request (0: never)"},
    {"max-connections", "LOSSD_MAX_CONNECTIONS", OPT_COUNT, FIELD(max_connections), 0, "N",
     "most simultaneous connections"},
    {"max-connections-per-ip", "LOSSD_MAX_CONNECTIONS_PER_IP", OPT_COUNT,
     FIELD(max_connections_per_ip), 0, "N",
     "most connections from one client address (0: no limit)"},
    {"drain-timeout", "LOSSD_DRAIN_TIMEOUT", OPT_SECONDS, FIELD(drain_timeout), 0, "SECONDS",
     "on SIGTERM/SIGINT, how long in-flight requests may take to finish"},
    {"api-key-file", "LOSSD_API_KEY_FILE", OPT_STRING, FIELD(api_key_file), 0, "FILE",
     "require Authorization: Bearer KEY on /v1, keys one per line"},
    {"tls-cert", "LOSSD_TLS_CERT", OPT_STRING, FIELD(tls_cert), 0, "FILE",
     "PEM certificate: serve HTTPS (with --tls-key)"},
    {"tls-key", "LOSSD_TLS_KEY", OPT_STRING, FIELD(tls_key), 0, "FILE",
     "PEM private key for --tls-cert"},
    {"log-format", "LOSSD_LOG_FORMAT", OPT_LOG_FORMAT, FIELD(log_format), 0, "text|json|off",
     "one access-log line per request on stderr"},
    {"playground", "LOSSD_PLAYGROUND", OPT_SWITCH, FIELD(playground), 0, "on|off",
     "serve the playground page at / (off: / is 404)"},
    {"cors-origin", "LOSSD_CORS_ORIGIN", OPT_STRING, FIELD(cors_origin), 0, "LIST",
     "origins whose pages may call lossd (comma-separated, or *): CORS headers and preflights"},
    {"healthcheck", NULL, OPT_ACTION, 0, 0, LOSSD_ACTION_HEALTHCHECK, NULL,
     "GET /healthz on the configured address; exit 0 if it answers 200"},
    {"version", NULL, OPT_ACTION, 0, 0, LOSSD_ACTION_VERSION, NULL, "print the version and exit"},
    {"help", NULL, OPT_ACTION, 0, 0, LOSSD_ACTION_HELP, NULL, "print this help and exit"},
};

#define N_OPTIONS (sizeof options / sizeof options[0])

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

static int set_option(lossd_config *cfg, const option *o, const char *value, const char *source,
                      FILE *err)
{
    char *field = (char *)cfg + o->offset;
    switch (o->type) {
    case OPT_STRING:
        if (strlen(value) >= o->size) {
            fprintf(err, "lossd: %s: value too long\n", source);
            return -1;
        }
        strcpy(field, value);
        return 0;
    case OPT_COUNT:
    case OPT_SIZE:
    case OPT_SECONDS:
        if (parse_number(value, o->type == OPT_SIZE, (size_t *)(void *)field) < 0) {
            fprintf(err, "lossd: %s: expected a whole number%s, got \"%s\"\n", source,
                    o->type == OPT_SIZE ? " of bytes (suffixes K, M, G)" : "", value);
            return -1;
        }
        return 0;
    case OPT_LOG_FORMAT: {
        static const char *const names[] = {"text", "json", "off"};
        for (int i = 0; i < 3; i++)
            if (strcmp(value, names[i]) == 0) {
                *(lossd_log_format *)(void *)field = (lossd_log_format)i;
                return 0;
            }
        fprintf(err, "lossd: %s: expected text, json or off, got \"%s\"\n", source, value);
        return -1;
    }
    case OPT_SWITCH:
        if (strcmp(value, "on") != 0 && strcmp(value, "off") != 0) {
            fprintf(err, "lossd: %s: expected on or off, got \"%s\"\n", source, value);
            return -1;
        }
        *(bool *)(void *)field = strcmp(value, "on") == 0;
        return 0;
    case OPT_ACTION:
        break;
    }
    return -1;
}

/* Checks the options against each other once all are read. */
static int validate(const lossd_config *cfg, FILE *err)
{
    char host[256];
    unsigned port;
    if (lossd_config_listen(cfg, host, sizeof host, &port) < 0) {
        fprintf(err, "lossd: --listen: expected HOST:PORT, got \"%s\"\n", cfg->listen);
        return -1;
    }
    const struct {
        size_t value;
        const char *name;
    } positive[] = {{cfg->queue, "--queue"},
                    {cfg->max_body, "--max-body"},
                    {cfg->max_elements, "--max-elements"},
                    {cfg->max_jobs, "--max-jobs"},
                    {cfg->max_connections, "--max-connections"}};
    for (size_t i = 0; i < sizeof positive / sizeof positive[0]; i++)
        if (positive[i].value == 0) {
            fprintf(err, "lossd: %s must be at least 1\n", positive[i].name);
            return -1;
        }
    if (!cfg->tls_cert[0] != !cfg->tls_key[0]) {
        fprintf(err, "lossd: --tls-cert and --tls-key go together\n");
        return -1;
    }
    char why[256];
    if (cfg->cors_origin[0] && !lossd_web_origins_valid(cfg->cors_origin, why, sizeof why)) {
        fprintf(err, "lossd: --cors-origin: %s\n", why);
        return -1;
    }
    return 0;
}

int lossd_config_load(lossd_config *cfg, int argc, char **argv, FILE *err, lossd_action *action)
{
    char source[128];
    *action = LOSSD_ACTION_SERVE;
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const char *value = options[i].env ? getenv(options[i].env) : NULL;
        if (value && *value) {
            snprintf(source, sizeof source, "%s", options[i].env);
            if (set_option(cfg, &options[i], value, source, err) < 0)
                return -1;
        }
    }
    for (int a = 1; a < argc; a++) {
        const char *arg = argv[a];
        if (strncmp(arg, "--", 2) != 0) {
            fprintf(err, "lossd: unexpected argument \"%s\" (see --help)\n", arg);
            return -1;
        }
        const char *name = arg + 2, *eq = strchr(name, '=');
        size_t len = eq ? (size_t)(eq - name) : strlen(name);
        const option *o = NULL;
        for (size_t i = 0; i < N_OPTIONS && !o; i++)
            if (strlen(options[i].flag) == len && strncmp(options[i].flag, name, len) == 0)
                o = &options[i];
        if (o == NULL) {
            fprintf(err, "lossd: unknown option \"%s\" (see --help)\n", arg);
            return -1;
        }
        snprintf(source, sizeof source, "--%s", o->flag);
        if (o->type == OPT_ACTION) {
            if (eq) {
                fprintf(err, "lossd: %s takes no value\n", source);
                return -1;
            }
            *action = o->action;
            continue;
        }
        const char *value = eq ? eq + 1 : (a + 1 < argc ? argv[++a] : NULL);
        if (value == NULL) {
            fprintf(err, "lossd: %s needs a value\n", source);
            return -1;
        }
        if (set_option(cfg, o, value, source, err) < 0)
            return -1;
    }
    if (*action == LOSSD_ACTION_HELP || *action == LOSSD_ACTION_VERSION)
        return 0;
    return validate(cfg, err);
}

static void default_text(const lossd_config *d, const option *o, char *buf, size_t size)
{
    const char *field = (const char *)d + o->offset;
    switch (o->type) {
    case OPT_STRING:
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

void lossd_config_usage(FILE *out)
{
    lossd_config d;
    lossd_config_defaults(&d);
    fprintf(out, "Usage: lossd [OPTION]...\n"
                 "Serve loss functions, activations and information measures over HTTP/JSON.\n\n"
                 "Every option may also be set by the environment variable shown; flags win.\n\n");
    for (size_t i = 0; i < N_OPTIONS; i++) {
        const option *o = &options[i];
        char flag[64], def[64];
        snprintf(flag, sizeof flag, "--%s%s%s", o->flag, o->meta ? " " : "",
                 o->meta ? o->meta : "");
        fprintf(out, "  %-34s %s\n", flag, o->help);
        if (o->env) {
            default_text(&d, o, def, sizeof def);
            fprintf(out, "  %-34s [%s; default %s]\n", "", o->env, def);
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
        if (close == NULL || close[1] != ':')
            return -1;
        host_len = (size_t)(close - s - 1);
        s++;
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL)
            return -1;
        host_len = (size_t)(colon - s);
    }
    if (host_len == 0 || host_len >= host_size)
        return -1;
    memcpy(host, s, host_len);
    host[host_len] = '\0';
    size_t p;
    if (parse_number(colon + 1, false, &p) < 0 || p > 65535)
        return -1;
    *port = (unsigned)p;
    return 0;
}
