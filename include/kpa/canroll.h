/* Safe to stop: Strimzi's canRoll rule over every partition the local broker hosts. */
#ifndef KPA_CANROLL_H
#define KPA_CANROLL_H

#include <stdbool.h>
#include <stdint.h>

#include "kpa/snapshot.h"

struct canroll_result {
        bool safe;
        int blocking;              /* partitions that forbid stopping now, unknown included */
        int unknown;               /* of those, partitions whose min.insync.replicas is unknown */
        char reason[512];          /* the first blocking partitions, e.g. "orders-3 isr=2 min=2
                                    * replicas=3", "orders-4 isr=3 min=? replicas=3" */
};

/* A partition hosted by local (local in its replicas) blocks when |replicas| > minISR and
 *   |ISR| <  minISR (already under: local may be what brings it back), or
 *   |ISR| == minISR and local is in the ISR.
 * A partition with |replicas| <= minISR never blocks: it loses availability whenever any
 * replica stops, so waiting cannot help (Strimzi's KafkaAvailability checks this first).
 * minISR is the topic's min_isr: the value DescribeConfigs reports for the topic, which is
 * already the broker or cluster default when the topic sets none. When it is unknown (the
 * request failed, the topic is newer than the values, or the value is missing), every hosted
 * partition of the topic blocks, as Strimzi's canRoll refuses to roll without it: the gate
 * fails closed and the reason says so ("min=?"). The broker's default is never used in its
 * place: a topic may override it either way.
 * A NULL snapshot (no metadata) is never safe; the caller decides what to do then. */
void canroll_evaluate(const struct snapshot *s, int32_t local_id, struct canroll_result *ret);

#endif
