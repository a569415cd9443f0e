/* SPDX-License-Identifier: MIT */
/*
 * options.h - every option of the service, from flags and LOSSD_*
 * environment variables. One table in options.c drives parsing (through
 * glibc's getopt_long), the environment names, the defaults and --help,
 * so they cannot drift apart.
 *
 * Threading: loaded once by main() before any thread starts; read-only after.
 */
#ifndef LOSSD_SERVICE_OPTIONS_H
#define LOSSD_SERVICE_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

typedef enum { LOSSD_LOG_TEXT, LOSSD_LOG_JSON, LOSSD_LOG_OFF } lossd_log_format;

typedef enum {
    LOSSD_ACTION_SERVE,
    LOSSD_ACTION_HELP,
    LOSSD_ACTION_VERSION,
    LOSSD_ACTION_HEALTHCHECK,
} lossd_action;

#define LOSSD_PATH_MAX 4096

/* The most compute threads --workers may ask for (and I/O threads, --io-threads). */
#define LOSSD_WORKERS_MAX    1024
#define LOSSD_IO_THREADS_MAX 64

typedef struct {
    char listen[256];    /* host:port; [v6]:port; :port for every interface; port 0 picks one */
    size_t workers;      /* 0: one per CPU; at most LOSSD_WORKERS_MAX */
    size_t io_threads;   /* libmicrohttpd polling threads; 0: min(2, CPUs) */
    size_t queue;        /* waiting requests before 503 */
    size_t max_body;     /* bytes */
    size_t max_elements; /* numbers per request */
    size_t max_jobs;     /* jobs per batch */
    size_t max_buffered; /* bytes of request bodies held at once; 0: 4 x max_body */
    size_t timeout;      /* idle connection, seconds */
    size_t max_connections;
    size_t max_connections_per_ip; /* 0: no limit */
    size_t drain_timeout;          /* seconds */
    char api_key_file[LOSSD_PATH_MAX];
    char tls_cert[LOSSD_PATH_MAX];
    char tls_key[LOSSD_PATH_MAX];
    lossd_log_format log_format;
    bool playground;          /* serve the playground at / (web.h) */
    char cors_origin[1024];   /* origins allowed cross-origin: "a,b", "*", or "" for none */
    char trusted_proxy[1024]; /* CIDR ranges, comma-separated (client.h); "" for none */
} lossd_config;

/* Fills cfg with the defaults. */
void lossd_config_defaults(lossd_config *cfg);

/*
 * Applies argv's flags, then the LOSSD_* variables of the options no flag
 * set (flags win). Returns 0 and sets *action, or -1 after printing what
 * is wrong to `err` (the caller exits with status 2). --help and --version
 * (-h, -V) are answered whatever else is wrong, in argv or the
 * environment.
 */
int lossd_config_load(lossd_config *cfg, int argc, char **argv, FILE *err, lossd_action *action);

/* Prints --help: every option with its variable and default. */
void lossd_config_usage(FILE *out);

/*
 * Splits cfg->listen into host and port: "" for the host of ":PORT"
 * (every interface). Returns 0 or -1.
 */
int lossd_config_listen(const lossd_config *cfg, char *host, size_t host_size, unsigned *port);

#endif /* LOSSD_SERVICE_OPTIONS_H */
