/* SPDX-License-Identifier: MIT */
/*
 * main.c - lossd's entry point: read the configuration, start the server,
 * wait for SIGTERM or SIGINT, drain, stop.
 *
 * The signals are blocked before any thread starts, so every thread
 * inherits the mask and only sigwait() here ever sees them. The service
 * manager hears READY=1 once the server answers and STOPPING=1 when the
 * drain starts (notify.h).
 */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>
#include <lossd/lossd.h>

#include "service/options.h"
#include "service/arena.h"
#include "service/healthcheck.h"
#include "service/log.h"
#include "service/notify.h"
#include "service/server.h"

int main(int argc, char **argv)
{
    lossd_config cfg;
    lossd_action action;
    lossd_config_defaults(&cfg);
    if (lossd_config_load(&cfg, argc, argv, stderr, &action) < 0)
        return 2;
    switch (action) {
    case LOSSD_ACTION_HELP:
        lossd_config_usage(stdout);
        return 0;
    case LOSSD_ACTION_VERSION:
        printf("lossd %s (%zu functions; HTTPS %s)\n", LOSSD_VERSION_STRING, lossd_function_count(),
               lossd_server_tls_available() ? "available" : "not available");
        return 0;
    case LOSSD_ACTION_HEALTHCHECK:
        return lossd_healthcheck(&cfg);
    case LOSSD_ACTION_SERVE:
        break;
    }

    /*
     * SIGTERM and SIGINT are blocked before any thread starts, so that every
     * thread inherits the mask and only sigwait() below takes them. A thread
     * started earlier (the log thread was) leaves them deliverable to it:
     * a signal that came before main reached sigwait() then killed the
     * process outright, undrained (seen under load: check_lifecycle).
     */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    lossd_log_init(cfg.log_format);
    json_object_seed(0);   /* before any thread: jansson's hash seed is set once */
    lossd_arena_install(); /* jansson's allocator, also before any thread */
    /*
     * Large buffers (bodies, replies, tensors) always get their own mapping,
     * returned to the system when freed: glibc's adaptive threshold would
     * otherwise move them into the heap after the first large request and
     * keep the memory of the largest request ever seen.
     */
    mallopt(M_MMAP_THRESHOLD, 1 << 20);
    signal(SIGPIPE, SIG_IGN);

    lossd_server *server = lossd_server_start(&cfg, stderr);
    if (server == NULL)
        return 1;
    lossd_notify_ready(&cfg, lossd_server_port(server));
    int sig = 0;
    sigwait(&stop, &sig);
    const char *signal_name = sig == SIGINT ? "SIGINT" : "SIGTERM";
    lossd_log("info", "%s: draining for up to %zu s", signal_name, cfg.drain_timeout);
    lossd_notify("STOPPING=1", "%s: draining for up to %zu s", signal_name, cfg.drain_timeout);
    lossd_server_drain(server);
    if (!lossd_server_wait_idle(server, (double)cfg.drain_timeout)) {
        /* Stopping libmicrohttpd with a connection suspended would abort: leave at once. */
        lossd_log("warning", "drain timeout: exiting with requests still in flight");
        lossd_notify(NULL, "drain timeout: exiting with requests still in flight");
        lossd_log_shutdown();
        _exit(0);
    }
    lossd_notify(NULL, "drained: stopping");
    lossd_server_stop(server);
    lossd_log("info", "stopped");
    lossd_log_shutdown();
    return 0;
}
