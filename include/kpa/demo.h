/* `kpa-agent --demo`: librdkafka's mock cluster (real Kafka protocol on loopback ports, run by
 * librdkafka's own code), so the agent can be tried and tested without a Kafka broker. */
#ifndef KPA_DEMO_H
#define KPA_DEMO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

struct demo_topic {
        const char *name;
        int partitions;
        int replication_factor;
};

struct demo_opts {
        int brokers;                      /* 1..DEMO_MAX_BROKERS; 0: 3 */
        int32_t local_id;                 /* the broker the agent watches; 0: 1 */
        const struct demo_topic *topics;  /* NULL: the demo set (demo_default_topics) */
        size_t n_topics;
};

#define DEMO_MAX_BROKERS 16

extern const struct demo_topic demo_default_topics[];
extern const size_t demo_n_default_topics;

struct demo;

/* Starts the mock cluster (node ids 1..brokers) with the topics created, and finds the
 * listener of local_id. 0, or -errno with the reason in errbuf. */
int demo_start(const struct demo_opts *o, struct demo **ret, char *errbuf, size_t errlen);
/* Stops every mock broker and frees; accepts NULL; returns NULL. */
struct demo *demo_stop(struct demo *d);

/* "127.0.0.1:port" of the watched broker (give it as --bootstrap). */
const char *demo_bootstrap(const struct demo *d);
int32_t demo_local_id(const struct demo *d);
/* "host:port" of any broker id, or NULL when there is no such broker. */
const char *demo_broker_address(const struct demo *d, int32_t id);
/* Every broker, comma-separated. */
const char *demo_bootstraps(const struct demo *d);

/* Test knobs; id -1 means every broker. Each returns 0 or -EINVAL. */
int demo_broker_set_up(struct demo *d, int32_t id, bool up);
int demo_broker_set_rtt(struct demo *d, int32_t id, int rtt_ms);
/* The mock cluster itself, for the rest of rdkafka_mock.h. */
rd_kafka_mock_cluster_t *demo_mock(struct demo *d);

#endif
