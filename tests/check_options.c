/* SPDX-License-Identifier: MIT */
/*
 * check_options.c - options (options.c): defaults, flags, LOSSD_*
 * variables, sizes with units, bounds, errors naming the option, the
 * actions (--help and -h, --version and -V, --healthcheck; help and
 * version whatever else is wrong), listen addresses and the usage text.
 * Every test starts and ends with no LOSSD_* variable set.
 */
#define _GNU_SOURCE /* open_memstream */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../src/service/options.h"
#include "serviceutil.h"

static const char *const env_names[] = {"LOSSD_LISTEN",
                                        "LOSSD_WORKERS",
                                        "LOSSD_IO_THREADS",
                                        "LOSSD_QUEUE",
                                        "LOSSD_MAX_BODY",
                                        "LOSSD_MAX_ELEMENTS",
                                        "LOSSD_MAX_JOBS",
                                        "LOSSD_TIMEOUT",
                                        "LOSSD_MAX_CONNECTIONS",
                                        "LOSSD_MAX_CONNECTIONS_PER_IP",
                                        "LOSSD_DRAIN_TIMEOUT",
                                        "LOSSD_API_KEY_FILE",
                                        "LOSSD_TLS_CERT",
                                        "LOSSD_TLS_KEY",
                                        "LOSSD_LOG_FORMAT",
                                        "LOSSD_TRUSTED_PROXY",
                                        NULL};

/* The options tests start and end with no LOSSD_* variable set. */
static void clear_env(void)
{
    for (size_t i = 0; env_names[i]; i++)
        unsetenv(env_names[i]);
}

/* Loads defaults + environment + argv (NULL-terminated); *err gets what was printed. */
static int load_config(lossd_config *cfg, lossd_action *action, char **err, char **argv)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    size_t size;
    FILE *f = open_memstream(err, &size);
    ck_assert_ptr_nonnull(f);
    lossd_config_defaults(cfg);
    *action = (lossd_action)-1;
    int rc = lossd_config_load(cfg, argc, argv, f, action);
    fclose(f);
    return rc;
}

START_TEST(options_defaults)
{
    lossd_config cfg, defaults;
    lossd_action action;
    char *err;
    ck_assert_int_eq(load_config(&cfg, &action, &err, (char *[]){"lossd", NULL}), 0);
    ck_assert_str_eq(err, "");
    free(err);
    ck_assert_int_eq(action, LOSSD_ACTION_SERVE);
    lossd_config_defaults(&defaults);
    ck_assert_int_eq(memcmp(&cfg, &defaults, sizeof cfg), 0);
    /* docs/api.md's defaults (its table of options). */
    ck_assert_str_eq(cfg.listen, "127.0.0.1:8080");
    ck_assert_uint_eq(cfg.max_body, 64u * 1024 * 1024);
    ck_assert_uint_eq(cfg.max_elements, 16777216);
    ck_assert_uint_eq(cfg.max_jobs, 1024);
    ck_assert_uint_eq(cfg.timeout, 30);
    ck_assert_uint_eq(cfg.drain_timeout, 10);
    ck_assert_uint_eq(cfg.workers, 0); /* one per CPU */
    ck_assert_uint_ge(cfg.queue, 1);
    ck_assert_uint_eq(cfg.io_threads, 0); /* two, or one on one CPU */
    ck_assert_uint_ge(cfg.max_connections, 1);
    ck_assert_int_eq(cfg.log_format, LOSSD_LOG_TEXT);
    ck_assert_str_eq(cfg.api_key_file, "");
    ck_assert_str_eq(cfg.tls_cert, "");
    ck_assert_str_eq(cfg.tls_key, "");
    ck_assert_str_eq(cfg.trusted_proxy, "");
}
END_TEST

START_TEST(options_flags)
{
    lossd_config cfg;
    lossd_action action;
    char *err;
    char *argv[] = {"lossd",     "--listen=0.0.0.0:9000", "--workers",
                    "3",         "--io-threads=2",        "--queue",
                    "7",         "--max-body=10MiB",      "--max-elements",
                    "100",       "--max-jobs=9",          "--timeout",
                    "5",         "--max-connections=11",  "--max-connections-per-ip",
                    "4",         "--drain-timeout=2",     "--api-key-file",
                    "/tmp/keys", "--tls-cert=/c.pem",     "--tls-key",
                    "/k.pem",    "--log-format=json",     NULL};
    ck_assert_int_eq(load_config(&cfg, &action, &err, argv), 0);
    ck_assert_str_eq(err, "");
    free(err);
    ck_assert_int_eq(action, LOSSD_ACTION_SERVE);
    ck_assert_str_eq(cfg.listen, "0.0.0.0:9000");
    ck_assert_uint_eq(cfg.workers, 3);
    ck_assert_uint_eq(cfg.io_threads, 2);
    ck_assert_uint_eq(cfg.queue, 7);
    ck_assert_uint_eq(cfg.max_body, 10u << 20);
    ck_assert_uint_eq(cfg.max_elements, 100);
    ck_assert_uint_eq(cfg.max_jobs, 9);
    ck_assert_uint_eq(cfg.timeout, 5);
    ck_assert_uint_eq(cfg.max_connections, 11);
    ck_assert_uint_eq(cfg.max_connections_per_ip, 4);
    ck_assert_uint_eq(cfg.drain_timeout, 2);
    ck_assert_str_eq(cfg.api_key_file, "/tmp/keys");
    ck_assert_str_eq(cfg.tls_cert, "/c.pem");
    ck_assert_str_eq(cfg.tls_key, "/k.pem");
    ck_assert_int_eq(cfg.log_format, LOSSD_LOG_JSON);

    /* The last of a repeated flag wins; "=" may carry an empty or "="-holding value. */
    ck_assert_int_eq(load_config(&cfg, &action, &err,
                                 (char *[]){"lossd", "--workers=1", "--workers", "6",
                                            "--log-format", "off", "--api-key-file=/a=b", NULL}),
                     0);
    free(err);
    ck_assert_uint_eq(cfg.workers, 6);
    ck_assert_int_eq(cfg.log_format, LOSSD_LOG_OFF);
    ck_assert_str_eq(cfg.api_key_file, "/a=b");
}
END_TEST

START_TEST(options_environment)
{
    lossd_config cfg;
    lossd_action action;
    char *err;
    setenv("LOSSD_LISTEN", "[::1]:7000", 1);
    setenv("LOSSD_WORKERS", "5", 1);
    setenv("LOSSD_MAX_BODY", "1G", 1);
    setenv("LOSSD_LOG_FORMAT", "off", 1);
    setenv("LOSSD_DRAIN_TIMEOUT", "3", 1);
    setenv("LOSSD_QUEUE", "", 1); /* empty: not set */
    ck_assert_int_eq(load_config(&cfg, &action, &err, (char *[]){"lossd", NULL}), 0);
    ck_assert_str_eq(err, "");
    free(err);
    ck_assert_str_eq(cfg.listen, "[::1]:7000");
    ck_assert_uint_eq(cfg.workers, 5);
    ck_assert_uint_eq(cfg.max_body, 1u << 30);
    ck_assert_int_eq(cfg.log_format, LOSSD_LOG_OFF);
    ck_assert_uint_eq(cfg.drain_timeout, 3);
    lossd_config defaults;
    lossd_config_defaults(&defaults);
    ck_assert_uint_eq(cfg.queue, defaults.queue);

    /* Flags win over the environment; the rest of the environment stays. */
    ck_assert_int_eq(
        load_config(&cfg, &action, &err,
                    (char *[]){"lossd", "--workers", "2", "--listen=127.0.0.1:1", NULL}),
        0);
    free(err);
    ck_assert_uint_eq(cfg.workers, 2);
    ck_assert_str_eq(cfg.listen, "127.0.0.1:1");
    ck_assert_uint_eq(cfg.max_body, 1u << 30);
    ck_assert_int_eq(cfg.log_format, LOSSD_LOG_OFF);

    /* A bad variable is named. */
    setenv("LOSSD_MAX_ELEMENTS", "lots", 1);
    ck_assert_int_eq(load_config(&cfg, &action, &err, (char *[]){"lossd", NULL}), -1);
    ck_assert_msg(strstr(err, "LOSSD_MAX_ELEMENTS: expected a whole number, got \"lots\"") != NULL,
                  "%s", err);
    free(err);
    clear_env();
}
END_TEST

START_TEST(options_sizes)
{
    static const struct {
        const char *text;
        size_t bytes;
    } good[] = {
        {"64M", (size_t)64 << 20},
        {"1G", (size_t)1 << 30},
        {"512K", (size_t)512 << 10},
        {"10MiB", (size_t)10 << 20},
        {"10KB", 10240},
        {"5k", 5120},
        {"2g", (size_t)2 << 30},
        {"123", 123},
        {"0000017", 17},
        {"1MB", (size_t)1 << 20},
        {"3KiB", 3072},
    };
    static const char *const bad[] = {"10X",          "M", "-1",  " 5",   "1.5M",
                                      "10MiBs",       "",  "1 M", "0x10", "99999999999999999999",
                                      "17179869184G", "1T"};
    lossd_config cfg;
    lossd_action action;
    char *err, arg[64];
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        snprintf(arg, sizeof arg, "--max-body=%s", good[i].text);
        ck_assert_msg(load_config(&cfg, &action, &err, (char *[]){"lossd", arg, NULL}) == 0,
                      "%s: %s", arg, err);
        free(err);
        ck_assert_msg(cfg.max_body == good[i].bytes, "%s: %zu bytes", arg, cfg.max_body);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(arg, sizeof arg, "--max-body=%s", bad[i]);
        ck_assert_msg(load_config(&cfg, &action, &err, (char *[]){"lossd", arg, NULL}) == -1,
                      "%s was accepted: %zu", arg, cfg.max_body);
        ck_assert_msg(strstr(err, "--max-body: expected a whole number of bytes") != NULL, "%s",
                      err);
        free(err);
    }
    /* Counts and seconds take no suffix. */
    ck_assert_int_eq(
        load_config(&cfg, &action, &err, (char *[]){"lossd", "--max-elements=10K", NULL}), -1);
    ck_assert_ptr_nonnull(strstr(err, "--max-elements: expected a whole number, got \"10K\""));
    free(err);
    ck_assert_int_eq(load_config(&cfg, &action, &err, (char *[]){"lossd", "--timeout=30s", NULL}),
                     -1);
    free(err);
}
END_TEST

START_TEST(options_errors)
{
    static const struct {
        const char *args[4];
        const char *message;
    } cases[] = {
        {{"--nope"}, "lossd: unknown option \"--nope\" (see --help)"},
        {{"--listenx=1"}, "unknown option \"--listenx=1\""},
        {{"-x"}, "lossd: unknown option \"-x\" (see --help)"},
        {{"--max", "1"}, "lossd: \"--max\" is ambiguous: it begins several options"},
        {{"--workers", "100000"}, "lossd: --workers: at most 1024, got 100000"},
        {{"--workers=1025"}, "--workers: at most 1024"},
        {{"--io-threads=65"}, "lossd: --io-threads: at most 64, got 65"},
        {{"--trusted-proxy", "10.0.0.0/33"}, "lossd: --trusted-proxy: \"10.0.0.0/33\": the prefix"},
        {{"--trusted-proxy=nginx"}, "--trusted-proxy: \"nginx\" is not an IPv4 or IPv6 address"},
        {{"--trusted-proxy=10.0.0.1,"}, "--trusted-proxy: expected a comma-separated list"},
        {{"serve"}, "unexpected argument \"serve\""},
        {{"--listen"}, "lossd: --listen needs a value"},
        {{"--workers", "abc"}, "lossd: --workers: expected a whole number, got \"abc\""},
        {{"--workers=-2"}, "--workers: expected a whole number"},
        {{"--tls-cert", "/c.pem"}, "lossd: --tls-cert and --tls-key go together"},
        {{"--tls-key=/k.pem"}, "--tls-cert and --tls-key go together"},
        {{"--queue", "0"}, "lossd: --queue must be at least 1"},
        {{"--max-elements=0"}, "--max-elements must be at least 1"},
        {{"--max-body=0"}, "--max-body must be at least 1"},
        {{"--max-jobs", "0"}, "--max-jobs must be at least 1"},
        {{"--max-connections=0"}, "--max-connections must be at least 1"},
        {{"--log-format=xml"}, "--log-format: expected text, json or off, got \"xml\""},
        {{"--listen", "nope"}, "lossd: --listen: expected HOST:PORT or :PORT, got \"nope\""},
        {{"--listen=127.0.0.1:70000"}, "--listen: expected HOST:PORT"},
        {{"--version=1"}, "lossd: --version takes no value"},
        {{"--help=1"}, "lossd: --help takes no value"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *argv[6] = {"lossd"};
        int argc = 1;
        for (int a = 0; a < 4 && cases[i].args[a]; a++)
            argv[argc++] = (char *)cases[i].args[a];
        argv[argc] = NULL;
        lossd_config cfg;
        lossd_action action;
        char *err;
        ck_assert_msg(load_config(&cfg, &action, &err, argv) == -1, "case %zu (%s) accepted", i,
                      argv[1]);
        ck_assert_msg(strstr(err, cases[i].message) != NULL,
                      "case %zu: printed \"%s\", want \"%s\"", i, err, cases[i].message);
        ck_assert_msg(err[strlen(err) - 1] == '\n', "case %zu: no newline", i);
        free(err);
    }
    /* A string longer than its buffer is refused, not cut. */
    char *listen = malloc(400);
    memset(listen, 'h', 390);
    strcpy(listen + 390, ":80");
    lossd_config cfg;
    lossd_action action;
    char *err;
    ck_assert_int_eq(
        load_config(&cfg, &action, &err, (char *[]){"lossd", "--listen", listen, NULL}), -1);
    ck_assert_ptr_nonnull(strstr(err, "--listen: value too long"));
    free(err);
    free(listen);
}
END_TEST

START_TEST(options_actions)
{
    lossd_config cfg;
    lossd_action action;
    char *err;
    ck_assert_int_eq(load_config(&cfg, &action, &err, (char *[]){"lossd", "--help", NULL}), 0);
    ck_assert_int_eq(action, LOSSD_ACTION_HELP);
    ck_assert_str_eq(err, "");
    free(err);
    ck_assert_int_eq(load_config(&cfg, &action, &err, (char *[]){"lossd", "--version", NULL}), 0);
    ck_assert_int_eq(action, LOSSD_ACTION_VERSION);
    free(err);
    /* --help answers even beside options that would not validate. */
    ck_assert_int_eq(
        load_config(&cfg, &action, &err, (char *[]){"lossd", "--queue", "0", "--help", NULL}), 0);
    ck_assert_int_eq(action, LOSSD_ACTION_HELP);
    free(err);
    /* --healthcheck uses (and validates) the configured address. */
    ck_assert_int_eq(
        load_config(&cfg, &action, &err,
                    (char *[]){"lossd", "--healthcheck", "--listen", "[::1]:9999", NULL}),
        0);
    ck_assert_int_eq(action, LOSSD_ACTION_HEALTHCHECK);
    ck_assert_str_eq(cfg.listen, "[::1]:9999");
    free(err);
    ck_assert_int_eq(load_config(&cfg, &action, &err,
                                 (char *[]){"lossd", "--healthcheck", "--listen=bad", NULL}),
                     -1);
    free(err);
}
END_TEST

START_TEST(options_short_flags)
{
    lossd_config cfg;
    lossd_action action;
    char *err;
    ck_assert_int_eq(load_config(&cfg, &action, &err, (char *[]){"lossd", "-h", NULL}), 0);
    ck_assert_int_eq(action, LOSSD_ACTION_HELP);
    ck_assert_str_eq(err, "");
    free(err);
    ck_assert_int_eq(load_config(&cfg, &action, &err, (char *[]){"lossd", "-V", NULL}), 0);
    ck_assert_int_eq(action, LOSSD_ACTION_VERSION);
    free(err);
    /* getopt's habits: bundled, and an abbreviation that names one option */
    ck_assert_int_eq(load_config(&cfg, &action, &err, (char *[]){"lossd", "-Vh", NULL}), 0);
    ck_assert_int_eq(action, LOSSD_ACTION_VERSION);
    free(err);
    ck_assert_int_eq(load_config(&cfg, &action, &err, (char *[]){"lossd", "--work=3", NULL}), 0);
    ck_assert_uint_eq(cfg.workers, 3);
    free(err);
}
END_TEST

START_TEST(options_help_despite_errors)
{
    /* --help and --version answer whatever else is wrong: a bad variable, a bad flag. */
    lossd_config cfg;
    lossd_action action;
    char *err;
    setenv("LOSSD_WORKERS", "lots", 1);
    setenv("LOSSD_LISTEN", "nope", 1);
    static const char *const asks[] = {"--help", "-h", "--version", "-V"};
    for (size_t i = 0; i < 4; i++) {
        ck_assert_msg(
            load_config(&cfg, &action, &err, (char *[]){"lossd", (char *)asks[i], NULL}) == 0,
            "%s: %s", asks[i], err);
        ck_assert_int_eq(action, i < 2 ? LOSSD_ACTION_HELP : LOSSD_ACTION_VERSION);
        ck_assert_str_eq(err, "");
        free(err);
    }
    ck_assert_int_eq(load_config(&cfg, &action, &err,
                                 (char *[]){"lossd", "--workers", "x", "--nope", "-h", NULL}),
                     0);
    ck_assert_int_eq(action, LOSSD_ACTION_HELP);
    free(err);
    /* Serving, the bad variable is named. */
    ck_assert_int_eq(load_config(&cfg, &action, &err, (char *[]){"lossd", NULL}), -1);
    ck_assert_msg(strstr(err, "LOSSD_WORKERS: expected a whole number, got \"lots\"") ||
                      strstr(err, "LOSSD_LISTEN"),
                  "%s", err);
    free(err);
    /* A flag wins over its variable, bad or not. */
    ck_assert_int_eq(load_config(&cfg, &action, &err,
                                 (char *[]){"lossd", "--workers=2", "--listen", ":9000", NULL}),
                     0);
    ck_assert_str_eq(err, "");
    ck_assert_uint_eq(cfg.workers, 2);
    ck_assert_str_eq(cfg.listen, ":9000");
    free(err);
    clear_env();
}
END_TEST

START_TEST(options_lists)
{
    /* --trusted-proxy takes a comma-separated list, and adds up when repeated. */
    lossd_config cfg;
    lossd_action action;
    char *err;
    ck_assert_int_eq(load_config(&cfg, &action, &err,
                                 (char *[]){"lossd", "--trusted-proxy", "10.0.0.0/8",
                                            "--trusted-proxy=fd00::/8, 192.168.1.1", NULL}),
                     0);
    ck_assert_str_eq(err, "");
    free(err);
    ck_assert_str_eq(cfg.trusted_proxy, "10.0.0.0/8,fd00::/8, 192.168.1.1");
    /* the variable, unless a flag is given */
    setenv("LOSSD_TRUSTED_PROXY", "127.0.0.1", 1);
    ck_assert_int_eq(load_config(&cfg, &action, &err, (char *[]){"lossd", NULL}), 0);
    free(err);
    ck_assert_str_eq(cfg.trusted_proxy, "127.0.0.1");
    ck_assert_int_eq(
        load_config(&cfg, &action, &err, (char *[]){"lossd", "--trusted-proxy=::1", NULL}), 0);
    free(err);
    ck_assert_str_eq(cfg.trusted_proxy, "::1");
    clear_env();
}
END_TEST

START_TEST(options_listen)
{
    static const struct {
        const char *listen, *host;
        unsigned port;
    } good[] = {
        {"127.0.0.1:8080", "127.0.0.1", 8080},
        {"[::1]:8080", "::1", 8080},
        {"localhost:0", "localhost", 0},
        {"[::]:65535", "::", 65535},
        {"0.0.0.0:1", "0.0.0.0", 1},
        {"example.org:443", "example.org", 443},
        {":8080", "", 8080}, /* every interface */
    };
    static const char *const bad[] = {"127.0.0.1", "127.0.0.1:", ":",        "[::1]8080",
                                      "[::1]",     "[::1:80",    "[]:80",    "host:65536",
                                      "host:-1",   "host:80x",   "host: 80", ""};
    lossd_config cfg;
    lossd_config_defaults(&cfg);
    char host[256];
    unsigned port;
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        strcpy(cfg.listen, good[i].listen);
        port = 12345;
        ck_assert_msg(lossd_config_listen(&cfg, host, sizeof host, &port) == 0, "%s refused",
                      good[i].listen);
        ck_assert_str_eq(host, good[i].host);
        ck_assert_uint_eq(port, good[i].port);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        strcpy(cfg.listen, bad[i]);
        ck_assert_msg(lossd_config_listen(&cfg, host, sizeof host, &port) == -1, "%s accepted",
                      bad[i]);
    }
    /* A host that does not fit the caller's buffer is refused. */
    strcpy(cfg.listen, "127.0.0.1:80");
    char small[9];
    ck_assert_int_eq(lossd_config_listen(&cfg, small, sizeof small, &port), -1);
    char exact[10];
    ck_assert_int_eq(lossd_config_listen(&cfg, exact, sizeof exact, &port), 0);
    ck_assert_str_eq(exact, "127.0.0.1");
}
END_TEST

START_TEST(options_usage)
{
    char *text;
    size_t size;
    FILE *f = open_memstream(&text, &size);
    lossd_config_usage(f);
    fclose(f);
    for (size_t i = 0; env_names[i]; i++) {
        char want[64];
        snprintf(want, sizeof want, "[%s; default ", env_names[i]);
        ck_assert_msg(strstr(text, want) != NULL, "--help does not mention %s", env_names[i]);
    }
    static const char *const fragments[] = {"Usage: lossd [OPTION]...",
                                            "--listen HOST:PORT",
                                            "-h, --help",
                                            "-V, --version",
                                            "--trusted-proxy CIDR",
                                            "[LOSSD_WORKERS; default 0; at most 1024]",
                                            "--healthcheck",
                                            "[LOSSD_LISTEN; default 127.0.0.1:8080]",
                                            "[LOSSD_MAX_BODY; default 64M]",
                                            "[LOSSD_MAX_ELEMENTS; default 16777216]",
                                            "[LOSSD_MAX_JOBS; default 1024]",
                                            "[LOSSD_TIMEOUT; default 30]",
                                            "[LOSSD_DRAIN_TIMEOUT; default 10]",
                                            "[LOSSD_API_KEY_FILE; default unset]",
                                            "[LOSSD_LOG_FORMAT; default text]"};
    for (size_t i = 0; i < sizeof fragments / sizeof fragments[0]; i++)
        ck_assert_msg(strstr(text, fragments[i]) != NULL, "--help lacks \"%s\"", fragments[i]);
    /* Within 80 columns, on every line. */
    for (const char *line = text; *line;) {
        size_t len = strcspn(line, "\n");
        ck_assert_msg(len <= 80, "--help line of %zu columns: %.*s", len, (int)len, line);
        line += len + (line[len] == '\n');
    }
    free(text);
}
END_TEST

/*
 * The part of `text` from the first `from` to the next `to` after it (the
 * end when none), NUL-terminated; caller frees. Fails the test when `from`
 * is not there.
 */
static char *between(const char *text, const char *from, const char *to, const char *what)
{
    const char *start = strstr(text, from);
    ck_assert_msg(start != NULL, "%s has no \"%s\"", what, from);
    const char *end = strstr(start + strlen(from), to);
    size_t len = end ? (size_t)(end - start) : strlen(start);
    char *part = malloc(len + 1);
    memcpy(part, start, len);
    part[len] = '\0';
    return part;
}

/* What --help and the man page say is served, and what the API key guards, is what is. */
START_TEST(options_usage_says_what_is_served)
{
    char *text, *man = NULL; /* getdelim allocates it: NULL and 0, not the memstream's size */
    size_t size, man_size = 0;
    FILE *f = open_memstream(&text, &size);
    lossd_config_usage(f);
    fclose(f);
    char path[512];
    snprintf(path, sizeof path, "%s/docs/lossd.1", TOP_SRCDIR);
    f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(getdelim(&man, &man_size, '\0', f) > 0, 1);
    fclose(f);
    /* the first lines name both APIs */
    char *about = between(text, "\n", "\n\n", "--help");
    ck_assert_msg(strstr(about, "JSON on /v1") && strstr(about, "Open Inference Protocol on /v2"),
                  "--help's first lines: %s", about);
    /* the key guards every route that needs it: each one's first segment is named */
    char *help = between(text, "--api-key-file", "\n      --", "--help");
    char *page = between(man, "api\\-key\\-file", ".TP", "docs/lossd.1");
    static const struct {
        const char *method, *path;
    } guarded[] = {{"GET", "/v1"},
                   {"GET", "/v1/functions"},
                   {"POST", "/v1/loss/mse"},
                   {"POST", "/v1/batch"},
                   {"GET", "/v2"},
                   {"GET", "/v2/models/loss.mse"},
                   {"POST", "/v2/models/loss.mse/infer"},
                   {"POST", "/v2/repository/index"}};
    for (size_t i = 0; i < sizeof guarded / sizeof guarded[0]; i++) {
        lossd_route r = route_of(guarded[i].method, guarded[i].path);
        ck_assert_msg(r.needs_key, "%s does not need the key", guarded[i].path);
        char segment[8];
        snprintf(segment, sizeof segment, "%.3s", guarded[i].path);
        ck_assert_msg(strstr(help, segment), "--help's --api-key-file does not name %s: %s",
                      segment, help);
        ck_assert_msg(strstr(page, segment), "the man page's --api-key-file does not name %s: %s",
                      segment, page);
    }
    free(about), free(help), free(page), free(text), free(man);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("options");
    add_case(s, "options", 10, clear_env, clear_env,
             TESTS(options_defaults, options_flags, options_environment, options_sizes,
                   options_errors, options_actions, options_short_flags,
                   options_help_despite_errors, options_lists, options_listen, options_usage,
                   options_usage_says_what_is_served));
    return run_service_suite(s);
}
