/* A fake KRaft controller quorum for the agent's suites: N controllers, each a loopback
 * listener served by a thread of the test process, answering DescribeQuorum v2 as Kafka 4.x
 * does (kwire_quorum_encode_response): the leader with the quorum's description, the others
 * with NOT_LEADER_OR_FOLLOWER. A controller can be up, silent (accepts, never answers) or
 * down (its listener closed: connections are refused). Tests change the state under fq_lock.
 *
 * Where it differs from Kafka: plaintext only (TLS and SASL are check_kconn's and the
 * real-Kafka script's), one connection at a time per controller, and the leader's clock is a
 * constant (FQ_NOW) so that each voter's caught-up age is exactly what the test sets. */
#ifndef KPA_TESTS_FAKEQUORUM_H
#define KPA_TESTS_FAKEQUORUM_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <check.h>

#include "kpa/kwire_quorum.h"

#define FQ_MAX 5
#define FQ_NOW 1700000000000LL
#define FQ_NEVER (-1)

enum fq_mode { FQ_UP, FQ_SILENT, FQ_DOWN };

struct fq;

struct fq_node {
        struct fq *q;
        int32_t id;
        int port;
        int lfd;                 /* -1 while down */
        pthread_t thread;
        atomic_int accepted;     /* connections taken */
        atomic_bool listening;   /* the listener is open (the node's thread sets it) */
};

struct fq {
        pthread_mutex_t mu;
        int n;
        struct fq_node nodes[FQ_MAX];
        /* Under mu: */
        int32_t leader;          /* -1: every controller answers NOT_LEADER_OR_FOLLOWER */
        int32_t claimed_leader;  /* the id the leader's answer names (normally = leader) */
        int32_t epoch;
        int64_t age[FQ_MAX];     /* each voter's caught-up age on the leader's clock */
        enum fq_mode mode[FQ_MAX];
        bool stop;
};

static inline void fq_lock(struct fq *q) { pthread_mutex_lock(&q->mu); }
static inline void fq_unlock(struct fq *q) { pthread_mutex_unlock(&q->mu); }

static int fq_listen(int port) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        if (bind(fd, (struct sockaddr *) &a, sizeof a) < 0 || listen(fd, 16) < 0) {
                close(fd);
                return -1;
        }
        return fd;
}

static bool fq_read(int fd, uint8_t *p, size_t n) {
        while (n > 0) {
                ssize_t k = read(fd, p, n);
                if (k <= 0)
                        return false;
                p += k;
                n -= (size_t) k;
        }
        return true;
}

/* Answers one request frame of a connection; false when the connection is over. */
static bool fq_serve_one(struct fq_node *node, int fd) {
        static _Thread_local uint8_t req[4096], out[64 * 1024];
        static _Thread_local struct kwire_quorum k;
        uint8_t sz[4];
        if (!fq_read(fd, sz, 4))
                return false;
        size_t n = (size_t) sz[0] << 24 | (size_t) sz[1] << 16 | (size_t) sz[2] << 8 | sz[3];
        if (n < 8 || n > sizeof req || !fq_read(fd, req, n))
                return false;
        int32_t corr = (int32_t) ((uint32_t) req[4] << 24 | (uint32_t) req[5] << 16 | (uint32_t) req[6] << 8 | req[7]);
        struct fq *q = node->q;
        memset(&k, 0, sizeof k);
        k.have_partition = true;
        fq_lock(q);
        enum fq_mode mode = q->mode[node - q->nodes];
        if (q->leader == node->id) {
                k.leader_id = q->claimed_leader;
                k.leader_epoch = q->epoch;
                k.high_watermark = 1000;
                k.n_voters = q->n;
                for (int i = 0; i < q->n; i++) {
                        int64_t age = q->nodes[i].id == q->leader ? 0 : q->age[i];
                        k.voters[i] = (struct kwire_replica){
                                .id = q->nodes[i].id,
                                .log_end_offset = age == FQ_NEVER ? 0 : age > 5000 ? 900 : 1000,
                                .last_fetch_ms = age == FQ_NEVER ? -1 : FQ_NOW - age,
                                .last_caught_up_ms = age == FQ_NEVER ? -1 : FQ_NOW - age,
                        };
                }
        } else {
                k.partition_error_code = KWIRE_ERR_NOT_LEADER_OR_FOLLOWER;
        }
        fq_unlock(q);
        if (mode == FQ_SILENT) {
                /* Hold the connection until the client gives up. */
                while (read(fd, req, sizeof req) > 0)
                        ;
                return false;
        }
        size_t len;
        if (kwire_quorum_encode_response(&k, 2, corr, out, sizeof out, &len) < 0)
                return false;
        return write(fd, out, len) == (ssize_t) len;
}

static void *fq_run(void *arg) {
        struct fq_node *node = arg;
        struct fq *q = node->q;
        for (;;) {
                fq_lock(q);
                bool stop = q->stop;
                enum fq_mode mode = q->mode[node - q->nodes];
                fq_unlock(q);
                if (stop)
                        break;
                /* Down: the listener is closed, so connections are refused; up again: the
                 * same port is bound anew. */
                if (mode == FQ_DOWN && node->lfd >= 0) {
                        close(node->lfd);
                        node->lfd = -1;
                } else if (mode != FQ_DOWN && node->lfd < 0) {
                        node->lfd = fq_listen(node->port);
                }
                atomic_store(&node->listening, node->lfd >= 0);
                if (node->lfd < 0) {
                        usleep(20 * 1000);
                        continue;
                }
                struct pollfd p = { .fd = node->lfd, .events = POLLIN };
                if (poll(&p, 1, 20) <= 0)
                        continue;
                int fd = accept(node->lfd, NULL, NULL);
                if (fd < 0)
                        continue;
                atomic_fetch_add(&node->accepted, 1);
                while (fq_serve_one(node, fd))
                        ;
                close(fd);
        }
        if (node->lfd >= 0)
                close(node->lfd);
        return NULL;
}

/* n controllers with ids first_id.., leader `leader`, every voter caught up 100ms ago. */
static void fq_start(struct fq *q, int n, int32_t first_id, int32_t leader) {
        memset(q, 0, sizeof *q);
        pthread_mutex_init(&q->mu, NULL);
        q->n = n;
        q->leader = q->claimed_leader = leader;
        q->epoch = 3;
        for (int i = 0; i < n; i++) {
                struct fq_node *node = &q->nodes[i];
                node->q = q;
                node->id = first_id + i;
                node->lfd = fq_listen(0);
                ck_assert_int_ge(node->lfd, 0);
                struct sockaddr_in a;
                socklen_t al = sizeof a;
                getsockname(node->lfd, (struct sockaddr *) &a, &al);
                node->port = ntohs(a.sin_port);
                q->age[i] = 100;
                q->mode[i] = FQ_UP;
                atomic_store(&node->listening, true);
        }
        for (int i = 0; i < n; i++)
                ck_assert_int_eq(pthread_create(&q->nodes[i].thread, NULL, fq_run, &q->nodes[i]), 0);
}

/* Sets controller i's mode and waits (up to 5s) until its listener is open or closed to match. */
static void fq_set_mode(struct fq *q, int i, enum fq_mode mode) {
        fq_lock(q);
        q->mode[i] = mode;
        fq_unlock(q);
        for (int t = 0; t < 1000 && atomic_load(&q->nodes[i].listening) != (mode != FQ_DOWN); t++)
                usleep(5 * 1000);
        ck_assert_msg(atomic_load(&q->nodes[i].listening) == (mode != FQ_DOWN), "controller %d did not change", i);
}

static void fq_stop(struct fq *q) {
        fq_lock(q);
        q->stop = true;
        fq_unlock(q);
        for (int i = 0; i < q->n; i++)
                pthread_join(q->nodes[i].thread, NULL);
        pthread_mutex_destroy(&q->mu);
}

/* "0@127.0.0.1:p0,1@127.0.0.1:p1,..." */
static void fq_voters(const struct fq *q, char *buf, size_t cap) {
        size_t used = 0;
        buf[0] = '\0';
        for (int i = 0; i < q->n && used < cap; i++)
                used += (size_t) snprintf(buf + used, cap - used, "%s%d@127.0.0.1:%d", i ? "," : "",
                                          q->nodes[i].id, q->nodes[i].port);
}

#endif
