/* The min.insync.replicas values the preStop gate needs, read with DescribeConfigs from the
 * local broker and kept between checks: the hot path of a check is one Metadata request, and
 * the values are asked for again only when due (see minisr_due). */
#ifndef KPA_MINISR_H
#define KPA_MINISR_H

#include <stdbool.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

#include "kpa/snapshot.h"

#define MINISR_NOTE_MAX 256

struct minisr_cache;

/* NULL on allocation failure. */
struct minisr_cache *minisr_cache_new(void);
/* Accepts NULL; returns NULL. */
struct minisr_cache *minisr_cache_free(struct minisr_cache *mc);
/* Forgets every value and attempt (e.g. the configuration now points at another cluster). */
void minisr_cache_clear(struct minisr_cache *mc);

/* Whether a DescribeConfigs round trip is due now: when asked for (want, e.g. by /prestop),
 * when the values are older than ttl_ms, or, when the last fetch worked, once a hosted topic
 * is missing from the cache and the last attempt is older than a tenth of the TTL. local_id
 * is the local node (-1: unknown, every topic counts as hosted). */
bool minisr_due(const struct minisr_cache *mc, const struct snapshot *s, int32_t local_id,
                bool want, uint64_t now_ms, uint64_t ttl_ms);
/* One DescribeConfigs round trip to the local node local_id (the BROKER resource makes
 * librdkafka send the whole request there) for its broker default and every topic it hosts,
 * bounded by remain_ms; records the attempt as made at now_ms. 0, or -errno with the reason
 * in minisr_note(). */
int minisr_fetch(struct minisr_cache *mc, rd_kafka_t *rk, const struct snapshot *s,
                 int32_t local_id, uint64_t now_ms, int remain_ms);
/* Copies the cached values into the snapshot: each topic's min_isr (-1 when not known). */
void minisr_apply(const struct minisr_cache *mc, struct snapshot *s);
/* Why values are unknown, from the last attempt; "" when nothing is missing. */
const char *minisr_note(const struct minisr_cache *mc);

#endif
