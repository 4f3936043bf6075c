#include "kpa/canroll.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#define ELLIPSIS ", ..."

static bool ids_contain(const int32_t *ids, int n, int32_t id) {
        for (int i = 0; i < n; i++)
                if (ids[i] == id)
                        return true;
        return false;
}

enum block { BLOCK_NONE, BLOCK_ALREADY_UNDER, BLOCK_WOULD_DROP, BLOCK_UNKNOWN_MIN };

/* Strimzi's KafkaAvailability, in its order: a partition with no more replicas than its
 * min.insync.replicas loses availability whenever any replica stops, so waiting cannot help and
 * it never blocks; otherwise stopping is refused when the partition is already under its
 * minimum and we hold a replica (we may be what brings it back), or when it sits exactly at the
 * minimum and we are one of the in-sync replicas. */
static enum block partition_blocks(const struct snap_partition *p, int min_isr, int32_t local) {
        if (min_isr < 1)
                return BLOCK_UNKNOWN_MIN;
        if (p->n_replicas <= min_isr)
                return BLOCK_NONE;
        if (p->n_isr < min_isr)
                return BLOCK_ALREADY_UNDER;
        if (p->n_isr == min_isr && ids_contain(p->isr, p->n_isr, local))
                return BLOCK_WOULD_DROP;
        return BLOCK_NONE;
}

void canroll_evaluate(const struct snapshot *s, int32_t local_id, struct canroll_result *ret) {
        memset(ret, 0, sizeof *ret);
        if (!s) {
                snprintf(ret->reason, sizeof ret->reason,
                         "no metadata: the local broker did not answer");
                return;
        }

        /* The blocking partitions, leaving room in reason for the count in front. */
        char list[sizeof ret->reason - 128];
        size_t len = 0;
        bool full = false;
        int hosted = 0;
        list[0] = '\0';
        for (int i = 0; i < s->n_topics; i++) {
                const struct snap_topic *t = &s->topics[i];
                int min_isr = t->min_isr;
                for (int j = 0; j < t->n_partitions; j++) {
                        const struct snap_partition *p = &t->partitions[j];
                        if (!ids_contain(p->replicas, p->n_replicas, local_id))
                                continue;
                        hosted++;
                        enum block b = partition_blocks(p, min_isr, local_id);
                        if (b == BLOCK_NONE)
                                continue;
                        ret->blocking++;
                        if (b == BLOCK_UNKNOWN_MIN)
                                ret->unknown++;
                        if (full)
                                continue;
                        char entry[sizeof ret->reason], min[16] = "?";
                        if (b != BLOCK_UNKNOWN_MIN)
                                snprintf(min, sizeof min, "%d", min_isr);
                        int n = snprintf(entry, sizeof entry, "%s%s-%" PRId32 " isr=%d min=%s "
                                         "replicas=%d%s", len ? ", " : "", t->name ? t->name : "",
                                         p->id, p->n_isr, min, p->n_replicas,
                                         b == BLOCK_ALREADY_UNDER ? " (already under min)" : "");
                        /* Keep room for ", ..." behind the last entry that fits. */
                        if (n < 0 || len + (size_t) n + sizeof ELLIPSIS > sizeof list) {
                                snprintf(list + len, sizeof list - len, "%s", len ? ELLIPSIS : "...");
                                full = true;
                                continue;
                        }
                        memcpy(list + len, entry, (size_t) n + 1);
                        len += (size_t) n;
                }
        }

        ret->safe = ret->blocking == 0;
        if (ret->safe)
                snprintf(ret->reason, sizeof ret->reason,
                         "no hosted partition would drop below min.insync.replicas (%d hosted)",
                         hosted);
        else if (ret->unknown == 0)
                snprintf(ret->reason, sizeof ret->reason,
                         "stopping would leave %d %s below min.insync.replicas: %s",
                         ret->blocking, ret->blocking == 1 ? "partition" : "partitions", list);
        else if (ret->unknown == ret->blocking)
                snprintf(ret->reason, sizeof ret->reason,
                         "min.insync.replicas is unknown for %d hosted %s, so stopping is not "
                         "known to be safe: %s", ret->unknown,
                         ret->unknown == 1 ? "partition" : "partitions", list);
        else
                snprintf(ret->reason, sizeof ret->reason,
                         "stopping would leave %d %s below min.insync.replicas, and it is "
                         "unknown for %d more: %s", ret->blocking - ret->unknown,
                         ret->blocking - ret->unknown == 1 ? "partition" : "partitions",
                         ret->unknown, list);
}
