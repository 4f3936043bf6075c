/* Reads this pod's StatefulSet's spec.replicas (scaledown.h) from the Kubernetes API, off the
 * event loop: each lookup is a blocking HTTPS GET (k8sapi.h) run on libuv's thread pool. One
 * at start, then every STSREAD_INTERVAL_MS for /status, and on demand while a /prestop is held.
 * RBAC: get on that one StatefulSet (k8s/base/rbac.yaml). */
#ifndef KPA_STSREAD_H
#define KPA_STSREAD_H

#include <stdint.h>
#include <uv.h>

#include "kpa/scaledown.h"

#define STSREAD_INTERVAL_MS 60000
/* One lookup, retries included: a held /prestop asks again after it. */
#define STSREAD_TIMEOUT_MS 10000

struct stsread;

/* One blocking lookup (k8sapi_get, retries within STSREAD_TIMEOUT_MS): 0 with *ret_replicas,
 * or its error with one line in errbuf. For a worker thread. */
int stsread_lookup(const struct scaledown_config *cfg, int32_t *ret_replicas, char *errbuf, size_t errlen);

/* on_done runs on the loop after every lookup. cfg is borrowed for the reader's life. */
int stsread_new(uv_loop_t *loop, const struct scaledown_config *cfg, void (*on_done)(void *data), void *data,
                struct stsread **ret, char *errbuf, size_t errlen);
/* Starts a lookup now unless one began at or after min_started_ms (monotonic): a lookup that
 * is running then is followed by another when it began earlier. */
void stsread_refresh(struct stsread *s, uint64_t min_started_ms);
const struct scaledown_lookup *stsread_last(const struct stsread *s);
/* Frees the reader once a running lookup ended; s may be NULL. */
void stsread_stop(struct stsread *s);

#endif
