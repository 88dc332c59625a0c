#include "broker/store/writer.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

struct writer {
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int efd;
    struct store *st;
    /* Under mu: the job, its outcome, and the stop request. */
    const struct store_op *ops;
    size_t n;
    bool has_job, finished, stop;
    int result;
    uint64_t took_us;
    uint64_t last_us; /* loop side: of the batch last taken */
    char err[256];
};

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void *run(void *arg)
{
    struct writer *w = arg;
    pthread_mutex_lock(&w->mu);
    for (;;) {
        while (!w->stop && (!w->has_job || w->finished))
            pthread_cond_wait(&w->cv, &w->mu);
        if (w->stop) break;
        const struct store_op *ops = w->ops;
        size_t n = w->n;
        pthread_mutex_unlock(&w->mu);
        char err[sizeof w->err] = "";
        uint64_t t0 = now_us();
        int r = store_apply(w->st, ops, n, err, sizeof err);
        uint64_t took = now_us() - t0;
        pthread_mutex_lock(&w->mu);
        w->result = r;
        w->took_us = took;
        memcpy(w->err, err, sizeof err);
        w->finished = true;
        pthread_cond_broadcast(&w->cv);
        uint64_t one = 1;
        /* Fails only with the counter full, which still reads as readable. */
        ssize_t wr = write(w->efd, &one, sizeof one);
        (void)wr;
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

struct writer *writer_start(struct store *st, char *err, size_t errlen)
{
    struct writer *w = calloc(1, sizeof(*w));
    if (!w) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    w->st = st;
    w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->efd < 0) {
        snprintf(err, errlen, "eventfd: %s", strerror(errno));
        free(w);
        return NULL;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    int e = pthread_create(&w->thread, NULL, run, w);
    if (e) {
        snprintf(err, errlen, "cannot start the store's writer thread: %s", strerror(e));
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        close(w->efd);
        free(w);
        return NULL;
    }
    return w;
}

void writer_stop(struct writer *w)
{
    if (!w) return;
    pthread_mutex_lock(&w->mu);
    while (w->has_job && !w->finished)
        pthread_cond_wait(&w->cv, &w->mu);
    w->stop = true;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    close(w->efd);
    store_close(w->st);
    free(w);
}

int writer_fd(const struct writer *w)
{
    return w->efd;
}

bool writer_busy(const struct writer *w)
{
    return w->has_job; /* only the loop thread changes it */
}

void writer_submit(struct writer *w, const struct store_op *ops, size_t n)
{
    pthread_mutex_lock(&w->mu);
    w->ops = ops;
    w->n = n;
    w->has_job = true;
    w->finished = false;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

static void take(struct writer *w, int *result, char *err, size_t errlen)
{
    *result = w->result;
    w->last_us = w->took_us;
    snprintf(err, errlen, "%s", w->err);
    w->has_job = false;
    w->finished = false;
}

int writer_poll(struct writer *w, int *result, char *err, size_t errlen)
{
    uint64_t v;
    /* EAGAIN: already read by an earlier poll; the flags below tell. */
    ssize_t rd = read(w->efd, &v, sizeof v);
    (void)rd;
    pthread_mutex_lock(&w->mu);
    int done = w->has_job && w->finished;
    if (done) take(w, result, err, errlen);
    pthread_mutex_unlock(&w->mu);
    return done;
}

int writer_wait(struct writer *w, char *err, size_t errlen)
{
    int result = 0;
    pthread_mutex_lock(&w->mu);
    while (w->has_job && !w->finished)
        pthread_cond_wait(&w->cv, &w->mu);
    if (w->has_job) take(w, &result, err, errlen);
    pthread_mutex_unlock(&w->mu);
    return result;
}

uint64_t writer_last_us(const struct writer *w)
{
    return w->last_us;
}
