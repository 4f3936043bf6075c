#include "kpa/demo.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "kpa/log.h"

const struct demo_topic demo_default_topics[] = {
        { "orders", 12, 3 },
        { "payments", 6, 3 },
        { "audit", 1, 3 },
};
const size_t demo_n_default_topics = sizeof demo_default_topics / sizeof *demo_default_topics;

struct demo {
        rd_kafka_t *host;                 /* the handle the mock cluster lives in */
        rd_kafka_mock_cluster_t *mc;
        int brokers;
        int32_t local_id;
        char addr[DEMO_MAX_BROKERS][64];  /* index id - 1 */
};

static void demo_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
        (void) rk;
        log_event(level <= LOG_ERR ? LOG_LEVEL_WARN : LOG_LEVEL_DEBUG, "demo",
                  "mock cluster: %s: %s", fac, buf);
}

static rd_kafka_t *plain_handle(const char *bootstrap, char *errbuf, size_t errlen) {
        rd_kafka_conf_t *c = rd_kafka_conf_new();
        char es[256];
        if (!c) {
                snprintf(errbuf, errlen, "out of memory");
                return NULL;
        }
        rd_kafka_conf_set_log_cb(c, demo_log);
        if ((bootstrap && rd_kafka_conf_set(c, "bootstrap.servers", bootstrap, es, sizeof es)) ||
            rd_kafka_conf_set(c, "log.connection.close", "false", es, sizeof es)) {
                rd_kafka_conf_destroy(c);
                snprintf(errbuf, errlen, "demo: %s", es);
                return NULL;
        }
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, es, sizeof es);
        if (!rk) {
                rd_kafka_conf_destroy(c);
                snprintf(errbuf, errlen, "demo: cannot create a Kafka handle: %s", es);
        }
        return rk;
}

/* Learns each broker's listener from the cluster's own Metadata reply, which is what a client
 * would see, instead of relying on the order of rd_kafka_mock_cluster_bootstraps(). */
static int learn_addresses(struct demo *d, char *errbuf, size_t errlen) {
        rd_kafka_t *rk = plain_handle(rd_kafka_mock_cluster_bootstraps(d->mc), errbuf, errlen);
        if (!rk)
                return -ENOMEM;
        const rd_kafka_metadata_t *md = NULL;
        rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, NULL, &md, 10000);
        int r = 0;
        if (err) {
                snprintf(errbuf, errlen, "demo: the mock cluster did not answer: %s",
                         rd_kafka_err2str(err));
                r = -EIO;
        } else {
                for (int i = 0; i < md->broker_cnt; i++) {
                        int32_t id = md->brokers[i].id;
                        if (id >= 1 && id <= d->brokers)
                                snprintf(d->addr[id - 1], sizeof d->addr[id - 1], "%s:%d",
                                         md->brokers[i].host, md->brokers[i].port);
                }
                rd_kafka_metadata_destroy(md);
                for (int i = 0; i < d->brokers && r == 0; i++)
                        if (!d->addr[i][0]) {
                                snprintf(errbuf, errlen, "demo: broker %d missing from the "
                                         "mock cluster's metadata", i + 1);
                                r = -EIO;
                        }
        }
        rd_kafka_destroy(rk);
        return r;
}

/* Starts the mock cluster with every signal blocked in its thread, which inherits the mask of
 * the thread that creates it. librdkafka blocks signals in the threads of rd_kafka_new, but
 * not in the mock cluster's: a signal delivered to that thread (the kernel picks any thread
 * that does not block it, and picks another while one is pending for the main thread, as in
 * a burst of SIGHUPs) interrupts its poll(), and librdkafka 2.0.2 then ends the thread and
 * the cluster with "Interrupted system call". The agent's signals are meant for its loop. */
static rd_kafka_mock_cluster_t *mock_cluster_new(rd_kafka_t *host, int brokers) {
        sigset_t all, old;
        sigfillset(&all);
        if (pthread_sigmask(SIG_SETMASK, &all, &old) != 0)
                return NULL;
        rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(host, brokers);
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        return mc;
}

int demo_start(const struct demo_opts *o, struct demo **ret, char *errbuf, size_t errlen) {
        int brokers = o->brokers ? o->brokers : 3;
        int32_t local = o->local_id ? o->local_id : 1;
        if (brokers < 1 || brokers > DEMO_MAX_BROKERS || local < 1 || local > brokers) {
                snprintf(errbuf, errlen, "demo: need 1..%d brokers and a local id among them "
                         "(got %d brokers, id %" PRId32 ")", DEMO_MAX_BROKERS, brokers, local);
                return -EINVAL;
        }
        const struct demo_topic *topics = o->topics ? o->topics : demo_default_topics;
        size_t n_topics = o->topics ? o->n_topics : demo_n_default_topics;

        struct demo *d = calloc(1, sizeof *d);
        if (!d) {
                snprintf(errbuf, errlen, "out of memory");
                return -ENOMEM;
        }
        d->brokers = brokers;
        d->local_id = local;
        d->host = plain_handle(NULL, errbuf, errlen);
        if (!d->host)
                goto fail;
        d->mc = mock_cluster_new(d->host, brokers);
        if (!d->mc) {
                snprintf(errbuf, errlen, "demo: cannot start the mock cluster (no loopback "
                         "port?)");
                goto fail;
        }
        for (size_t i = 0; i < n_topics; i++) {
                rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(
                        d->mc, topics[i].name, topics[i].partitions,
                        topics[i].replication_factor);
                if (err) {
                        snprintf(errbuf, errlen, "demo: cannot create topic %s: %s",
                                 topics[i].name, rd_kafka_err2str(err));
                        goto fail;
                }
        }
        if (learn_addresses(d, errbuf, errlen) < 0)
                goto fail;
        *ret = d;
        return 0;
fail:
        demo_stop(d);
        return -EIO;
}

struct demo *demo_stop(struct demo *d) {
        if (!d)
                return NULL;
        if (d->mc)
                rd_kafka_mock_cluster_destroy(d->mc);
        if (d->host)
                rd_kafka_destroy(d->host);
        free(d);
        return NULL;
}

const char *demo_bootstrap(const struct demo *d) { return d->addr[d->local_id - 1]; }
int32_t demo_local_id(const struct demo *d) { return d->local_id; }
const char *demo_bootstraps(const struct demo *d) { return rd_kafka_mock_cluster_bootstraps(d->mc); }

const char *demo_broker_address(const struct demo *d, int32_t id) {
        return id >= 1 && id <= d->brokers ? d->addr[id - 1] : NULL;
}

int demo_broker_set_up(struct demo *d, int32_t id, bool up) {
        rd_kafka_resp_err_t err = up ? rd_kafka_mock_broker_set_up(d->mc, id)
                                     : rd_kafka_mock_broker_set_down(d->mc, id);
        return err ? -EINVAL : 0;
}

int demo_broker_set_rtt(struct demo *d, int32_t id, int rtt_ms) {
        return rd_kafka_mock_broker_set_rtt(d->mc, id, rtt_ms) ? -EINVAL : 0;
}

rd_kafka_mock_cluster_t *demo_mock(struct demo *d) { return d->mc; }
