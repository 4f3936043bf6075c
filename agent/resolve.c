#include "kpa/resolve.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define HOST_MAX 256   /* a DNS name is at most 253 bytes */

/* Lookup threads alive, waited for or not. */
static atomic_int pending;

/* One lookup, shared by its thread and its caller; the last of the two to let go frees it. */
struct lookup {
        pthread_mutex_t lock;
        int refs;
        bool done;
        int gai;                  /* getaddrinfo's result */
        int sys_errno;            /* errno, for EAI_SYSTEM */
        struct addrinfo *res;
        char host[HOST_MAX];
        char port[8];
};

static void lookup_release(struct lookup *l) {
        pthread_mutex_lock(&l->lock);
        bool last = --l->refs == 0;
        pthread_mutex_unlock(&l->lock);
        if (!last)
                return;
        if (l->res)
                freeaddrinfo(l->res);
        pthread_mutex_destroy(&l->lock);
        free(l);
}

static const struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                                       .ai_protocol = IPPROTO_TCP };

static void *lookup_run(void *arg) {
        struct lookup *l = arg;
        struct addrinfo *res = NULL;
        int gai = getaddrinfo(l->host, l->port, &hints, &res);
        int e = errno;
        pthread_mutex_lock(&l->lock);
        l->gai = gai;
        l->sys_errno = e;
        l->res = gai == 0 ? res : NULL;
        l->done = true;
        pthread_mutex_unlock(&l->lock);
        atomic_fetch_sub(&pending, 1);
        lookup_release(l);
        return NULL;
}

static bool same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b) {
        if (a->ss_family != b->ss_family)
                return false;
        if (a->ss_family == AF_INET) {
                const struct sockaddr_in *x = (const void *) a, *y = (const void *) b;
                return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
        }
        if (a->ss_family == AF_INET6) {
                const struct sockaddr_in6 *x = (const void *) a, *y = (const void *) b;
                return x->sin6_port == y->sin6_port &&
                       memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0;
        }
        return false;
}

static int collect(const struct addrinfo *res, struct resolve_addrs *ret) {
        struct resolve_addrs out = { .n = 0 };
        for (const struct addrinfo *ai = res; ai && out.n < RESOLVE_MAX_ADDRS; ai = ai->ai_next) {
                if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
                    ai->ai_addrlen > sizeof out.v[0])
                        continue;
                struct sockaddr_storage ss = { 0 };
                memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
                bool dup = false;
                for (int i = 0; i < out.n && !dup; i++)
                        dup = same_addr(&out.v[i], &ss);
                if (!dup)
                        out.v[out.n++] = ss;
        }
        if (out.n == 0)
                return -ENOENT;
        *ret = out;
        return 0;
}

static int lookup_error(int gai, int sys_errno, const char *host, char *errbuf, size_t errlen) {
        const char *why = gai == EAI_SYSTEM ? strerror(sys_errno) : gai_strerror(gai);
        snprintf(errbuf, errlen, "cannot resolve %s: %s", host, why);
        switch (gai) {
        case EAI_NONAME:
#ifdef EAI_NODATA
        case EAI_NODATA:
#endif
                return -ENOENT;
        case EAI_AGAIN:
                return -EAGAIN;
        case EAI_MEMORY:
                return -ENOMEM;
        default:
                return -EIO;
        }
}

/* The CLOCK_REALTIME time (what pthread_timedjoin_np takes) timeout_ms from now. */
static struct timespec realtime_in(uint64_t timeout_ms) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += (time_t) (timeout_ms / 1000);
        ts.tv_nsec += (long) (timeout_ms % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
        }
        return ts;
}

int resolve_host(const char *host, uint16_t port, uint64_t timeout_ms, struct resolve_addrs *ret,
                 char *errbuf, size_t errlen) {
        char ps[8];
        snprintf(ps, sizeof ps, "%u", (unsigned) port);
        if (!host[0] || strlen(host) >= HOST_MAX) {
                snprintf(errbuf, errlen, "cannot resolve \"%.60s\": not a host name", host);
                return -EINVAL;
        }
        /* An address literal never asks a server. */
        struct addrinfo numeric = hints, *res = NULL;
        numeric.ai_flags = AI_NUMERICHOST;
        if (getaddrinfo(host, ps, &numeric, &res) == 0) {
                int r = collect(res, ret);
                freeaddrinfo(res);
                if (r < 0)
                        snprintf(errbuf, errlen, "cannot resolve %s: no IPv4 or IPv6 address", host);
                return r;
        }

        if (atomic_fetch_add(&pending, 1) >= RESOLVE_MAX_PENDING) {
                atomic_fetch_sub(&pending, 1);
                snprintf(errbuf, errlen, "cannot resolve %s: %d earlier lookups are still waiting "
                         "for an answer", host, RESOLVE_MAX_PENDING);
                return -EBUSY;
        }
        struct lookup *l = calloc(1, sizeof *l);
        if (!l) {
                atomic_fetch_sub(&pending, 1);
                snprintf(errbuf, errlen, "cannot resolve %s: out of memory", host);
                return -ENOMEM;
        }
        pthread_mutex_init(&l->lock, NULL);
        l->refs = 2;
        snprintf(l->host, sizeof l->host, "%s", host);
        snprintf(l->port, sizeof l->port, "%s", ps);

        pthread_t t;
        int e = pthread_create(&t, NULL, lookup_run, l);
        if (e != 0) {
                atomic_fetch_sub(&pending, 1);
                l->refs = 1;
                lookup_release(l);
                snprintf(errbuf, errlen, "cannot resolve %s: no thread for the lookup: %s", host,
                         strerror(e));
                return -ENOMEM;
        }
        /* Joined, not only awaited, when it ends in time: a thread not yet gone still holds
         * per-thread resolver state at a process exit right after the check. */
        struct timespec until = realtime_in(timeout_ms);
        bool joined = pthread_timedjoin_np(t, NULL, &until) == 0;
        pthread_mutex_lock(&l->lock);
        bool done = l->done;
        pthread_mutex_unlock(&l->lock);
        if (!joined && done)
                joined = pthread_join(t, NULL) == 0;
        else if (!joined)
                pthread_detach(t);
        int r;
        if (!done) {
                r = -ETIMEDOUT;
                snprintf(errbuf, errlen, "cannot resolve %s: no answer within %llums", host,
                         (unsigned long long) timeout_ms);
        } else if (l->gai != 0) {
                r = lookup_error(l->gai, l->sys_errno, host, errbuf, errlen);
        } else if ((r = collect(l->res, ret)) < 0) {
                snprintf(errbuf, errlen, "cannot resolve %s: no IPv4 or IPv6 address", host);
        }
        lookup_release(l);
        return r;
}

int resolve_overlap(const struct resolve_addrs *a, const struct resolve_addrs *b) {
        for (int i = 0; i < a->n; i++)
                for (int j = 0; j < b->n; j++)
                        if (same_addr(&a->v[i], &b->v[j]))
                                return 1;
        return 0;
}

int resolve_pending(void) { return atomic_load(&pending); }
