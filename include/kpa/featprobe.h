/* Asks the local broker for its feature levels (ApiVersions v4, kwire_features.h) over the
 * agent's own transport (kconn.h, with the TLS and SASL PLAIN settings of client.properties,
 * as ctlcheck_security reads them), at most once per interval: the levels change only when an
 * operator finalizes an upgrade or the broker restarts with other software, so the steady-state
 * load stays one small round trip a minute. The first attempt is made at the first check
 * whose Metadata the local broker answered (start-up), and again after each interval, or at
 * once after featprobe_reset (a new configuration).
 *
 * Runs on the check's worker thread (kafka_check); one struct featprobe must not be used by
 * two threads at once. */
#ifndef KPA_FEATPROBE_H
#define KPA_FEATPROBE_H

#include <stdbool.h>
#include <stdint.h>

#include "kpa/features.h"
#include "kpa/kafkaconf.h"

#define FEATPROBE_DEFAULT_INTERVAL_MS (60 * 1000)

struct featprobe;

/* interval_ms 0: never ask. NULL on allocation failure. */
struct featprobe *featprobe_new(uint64_t interval_ms);
/* Accepts NULL; returns NULL. */
struct featprobe *featprobe_free(struct featprobe *fp);
/* The next featprobe_due is true (e.g. the configuration changed). */
void featprobe_reset(struct featprobe *fp);
bool featprobe_due(const struct featprobe *fp, uint64_t now_ms);
/* One ApiVersions round trip to conf's bootstrap listener before deadline_ms (monotonic, as
 * kconn_now_ms), recorded as an attempt made at now_ms. Always fills *ret: known, or unknown
 * with the reason (a setting the transport cannot honour, a connection or protocol error, an
 * error code in the answer). */
void featprobe_run(struct featprobe *fp, const struct kafka_conf *conf, uint64_t now_ms,
                   uint64_t deadline_ms, int64_t now_unix_ms, struct features_view *ret);

#endif
