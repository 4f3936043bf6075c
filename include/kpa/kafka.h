/* The agent's Kafka edge: one blocking check of the LOCAL broker through librdkafka.
 *
 * Proof that the local broker answered: every check creates a fresh librdkafka handle whose
 * bootstrap.servers is only the local listener. A fresh handle knows no other broker until
 * the local listener has answered, so its Metadata request goes there; the check then
 * confirms it from the reply's originating broker (rd_kafka_metadata_t.orig_broker_id and
 * orig_broker_name) and fails when any other broker answered. A persistent handle cannot give
 * this guarantee: when its local connection drops, librdkafka connects to any broker it has
 * learned and would keep answering from there.
 *
 * kafka_check() blocks up to the check timeout plus KAFKA_TEARDOWN_GRACE_MS, name resolution
 * and the handle's teardown included (see kafka.c "The handle's life, bounded"), and is meant
 * to run on a worker thread; one struct kafka_client must not be used by two checks at once. */
#ifndef KPA_KAFKA_H
#define KPA_KAFKA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kpa/canroll.h"
#include "kpa/features.h"
#include "kpa/kafkaconf.h"
#include "kpa/minisr.h"
#include "kpa/monotime.h"
#include "kpa/snapshot.h"

/* Limits on what a Metadata reply may make us hold. */
#define KAFKA_MAX_BROKERS 10000
#define KAFKA_MAX_TOPICS 100000
#define KAFKA_MAX_PARTITIONS 1000000   /* over all topics */
#define KAFKA_MAX_REPLICAS 1000        /* per partition, replicas and ISR alike */

#define KAFKA_ERR_MAX 512
/* How long past its deadline a check waits for its librdkafka client to stop, and how many
 * clients may be left stopping in the background before checks refuse to start. */
#define KAFKA_TEARDOWN_GRACE_MS 250
#define KAFKA_MAX_STOPPING 4
#define KAFKA_NOTE_MAX MINISR_NOTE_MAX

struct kafka_client_opts {
        uint64_t timeout_ms;         /* the whole check: connect, Metadata, DescribeConfigs */
        int32_t local_id;            /* the local node id, -1 when not known */
        uint64_t config_ttl_ms;      /* how long min.insync.replicas values are reused; 0: 5m */
        /* > 0: no DescribeConfigs is sent and every topic's min.insync.replicas is taken to be
         * this. Only for librdkafka's mock cluster (--demo), which has no DescribeConfigs: a
         * real broker's values are always asked for, and unknown ones hold /prestop. */
        int fixed_min_isr;
        /* Where the gate looks for other brokers when the local broker never answered (so no
         * metadata named them): "host:port,..." (borrowed for the client's life), or NULL. */
        const char *fallback_peers;
        /* How often the local broker is asked for its feature levels (featprobe.h); 0: never. */
        uint64_t features_interval_ms;
};

/* A check context: the configuration and the min.insync.replicas cache. */
struct kafka_client;

/* Takes ownership of conf (also on failure). 0 or -ENOMEM/-EINVAL. */
int kafka_client_new(struct kafka_conf *conf, const struct kafka_client_opts *o,
                     struct kafka_client **ret, char *errbuf, size_t errlen);
struct kafka_client *kafka_client_free(struct kafka_client *kc);
/* Replaces the configuration (ownership of conf passes); the min.insync.replicas cache is
 * dropped since it may come from another cluster. Not while a check runs. */
void kafka_client_set_conf(struct kafka_client *kc, struct kafka_conf *conf);
/* The longest a check may take before its teardown: twice the timeout (a gate check). */
uint64_t kafka_client_timeout_ms(const struct kafka_client *kc);

/* What one check produced. */
struct kafka_result {
        int rc;                       /* 0: the local broker answered; else negative errno */
        struct snapshot *snap;        /* owned; NULL when rc != 0 */
        char error[KAFKA_ERR_MAX];    /* why the check failed, with a hint; "" on success */
        char note[KAFKA_NOTE_MAX];    /* e.g. why min.insync.replicas is unknown; may be "" */
        uint64_t started_ms;          /* monotonic clock */
        uint64_t finished_ms;
        bool configs_fetched;         /* this check asked for min.insync.replicas */
        bool gated;                   /* a gate check: peers holds what other brokers said */
        struct canroll_peers peers;   /* peers.view owned; free with kafka_result_release */
        bool features_fetched;        /* this check asked for the feature levels: features */
        struct features_view features;
};

/* Frees what a result owns (snap, peers.view) and sets the pointers to NULL. */
void kafka_result_release(struct kafka_result *r);

/* Asks the local broker for the cluster metadata within the client's timeout. When
 * want_configs is true, or the cached min.insync.replicas values are older than the TTL,
 * also asks for them with DescribeConfigs (BROKER resource of the local id + hosted topics),
 * inside the same deadline; a failure there only leaves the values at -1 with a note.
 * Always fills *ret (rc, error); the caller frees ret->snap with snapshot_free. */
void kafka_check(struct kafka_client *kc, bool want_configs, struct kafka_result *ret);

/* The check a pending /prestop asks for (see canroll.h, "The gate's cross-check"): the local
 * check as kafka_check, with min.insync.replicas refreshed while the last refresh failed,
 * then, within a second timeout of its own, another broker's metadata and the answers of the
 * in-sync peers the gate needs (ret->gated, ret->peers). Other brokers are found at the
 * advertised addresses of the last metadata the local broker or a peer gave, else at
 * fallback_peers. So a gate check takes up to twice the timeout. */
void kafka_check_gate(struct kafka_client *kc, bool want_configs, struct kafka_result *ret);

/* Copies librdkafka's metadata into a plain snapshot (answered_by recorded), refusing sizes
 * past the KAFKA_MAX_* limits with -E2BIG; -ENOMEM on allocation failure. Pure: used by
 * kafka_check and by the fuzzer. */
struct rd_kafka_metadata;
int kafka_snapshot_from_metadata(const struct rd_kafka_metadata *md, int32_t answered_by,
                                 struct snapshot **ret, char *errbuf, size_t errlen);

/* Clients of finished checks that are still stopping in the background. */
int kafka_stopping_handles(void);


#endif
