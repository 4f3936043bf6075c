/* What one check learned about the cluster: plain structs, no library types, so that the
 * decisions over it are pure functions that tests can feed directly. */
#ifndef KPA_SNAPSHOT_H
#define KPA_SNAPSHOT_H

#include <stdint.h>

struct snap_partition {
        int32_t id;
        int32_t leader;        /* -1: no leader (offline) */
        int16_t err;           /* Kafka error code reported for the partition, 0 if none */
        int32_t *replicas;
        int n_replicas;
        int32_t *isr;
        int n_isr;
};

struct snap_topic {
        char *name;
        int16_t err;
        int min_isr;           /* topic's min.insync.replicas, or -1 when not known */
        struct snap_partition *partitions;
        int n_partitions;
        /* When not NULL, every partition's replicas and isr point into this one block (freed
         * with the topic): one allocation per topic instead of two per partition, which at
         * 100k partitions is most of the snapshot's heap. NULL: each list is its own block. */
        int32_t *ids;
};

struct snapshot {
        int32_t *brokers;      /* ids in the metadata's broker list (KRaft: unfenced brokers) */
        int n_brokers;
        int32_t controller_id;
        int32_t answered_by;   /* node id of the broker that answered, -1 if not known */
        struct snap_topic *topics;
        int n_topics;
};

struct snapshot *snapshot_free(struct snapshot *s);
/* Deep copy; NULL on allocation failure. */
struct snapshot *snapshot_dup(const struct snapshot *s);

#endif
