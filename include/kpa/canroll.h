/* Safe to stop: Strimzi's canRoll rule over every partition the local broker hosts. */
#ifndef KPA_CANROLL_H
#define KPA_CANROLL_H

#include <stdbool.h>
#include <stdint.h>

#include "kpa/snapshot.h"

struct canroll_result {
        bool safe;
        int blocking;              /* partitions that forbid stopping now */
        char reason[512];          /* the first blocking partitions, e.g. "orders-3 isr=2 min=2 replicas=3" */
};

/* A partition hosted by local (local in its replicas) blocks when |replicas| > minISR and
 *   |ISR| <  minISR (already under: local may be what brings it back), or
 *   |ISR| == minISR and local is in the ISR.
 * A partition with |replicas| <= minISR never blocks: it loses availability whenever any
 * replica stops, so waiting cannot help (Strimzi's KafkaAvailability checks this first).
 * minISR is the topic's min_isr, else the snapshot's default_min_isr, else 1.
 * A NULL snapshot (no metadata) is never safe; the caller decides what to do then. */
void canroll_evaluate(const struct snapshot *s, int32_t local_id, struct canroll_result *ret);

#endif
