/* SPDX-License-Identifier: MIT */
/*
 * reaper.c - request deadlines (see reaper.h).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "reaper.h"

struct lossd_watch {
    int fd;
    atomic_llong ready_since_ms; /* waiting for a request since; -1 while one is in hand */
    bool cut;
    lossd_watch *prev, *next;
};

struct lossd_reaper {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    lossd_watch *head;
    long long timeout_ms;
    bool stopping;
    pthread_t thread;
    void (*on_reap)(void *arg);
    void *arg;
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *reaper_main(void *arg)
{
    lossd_reaper *r = arg;
    /* Check a few times per deadline: cuts land within a quarter of it. */
    long long period = r->timeout_ms / 4 > 50 ? r->timeout_ms / 4 : 50;
    pthread_mutex_lock(&r->lock);
    while (!r->stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += period / 1000;
        until.tv_nsec += (period % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&r->wake, &r->lock, &until);
        long long now = now_ms();
        for (lossd_watch *w = r->head; w; w = w->next) {
            long long since = atomic_load(&w->ready_since_ms);
            if (since >= 0 && !w->cut && now - since > r->timeout_ms) {
                shutdown(w->fd, SHUT_RDWR); /* libmicrohttpd sees it and closes */
                w->cut = true;
                if (r->on_reap)
                    r->on_reap(r->arg);
            }
        }
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

lossd_reaper *lossd_reaper_create(double timeout_seconds, void (*on_reap)(void *arg), void *arg)
{
    lossd_reaper *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->wake, NULL);
    r->timeout_ms = (long long)(timeout_seconds * 1000);
    r->on_reap = on_reap;
    r->arg = arg;
    if (pthread_create(&r->thread, NULL, reaper_main, r) != 0) {
        free(r);
        return NULL;
    }
    return r;
}

void lossd_reaper_destroy(lossd_reaper *r)
{
    if (r == NULL)
        return;
    pthread_mutex_lock(&r->lock);
    r->stopping = true;
    pthread_cond_signal(&r->wake);
    pthread_mutex_unlock(&r->lock);
    pthread_join(r->thread, NULL);
    while (r->head) {
        lossd_watch *next = r->head->next;
        free(r->head);
        r->head = next;
    }
    pthread_cond_destroy(&r->wake);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

lossd_watch *lossd_reaper_add(lossd_reaper *r, int fd)
{
    lossd_watch *w = calloc(1, sizeof *w);
    if (w == NULL)
        return NULL;
    w->fd = fd;
    atomic_init(&w->ready_since_ms, now_ms());
    pthread_mutex_lock(&r->lock);
    w->next = r->head;
    if (r->head)
        r->head->prev = w;
    r->head = w;
    pthread_mutex_unlock(&r->lock);
    return w;
}

void lossd_reaper_remove(lossd_reaper *r, lossd_watch *w)
{
    if (w == NULL)
        return;
    pthread_mutex_lock(&r->lock);
    if (w->prev)
        w->prev->next = w->next;
    else
        r->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    pthread_mutex_unlock(&r->lock);
    free(w);
}

void lossd_watch_request_done(lossd_watch *w)
{
    if (w)
        atomic_store(&w->ready_since_ms, -1);
}

void lossd_watch_reply_done(lossd_watch *w)
{
    if (w)
        atomic_store(&w->ready_since_ms, now_ms());
}
