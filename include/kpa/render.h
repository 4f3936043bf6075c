/* What the agent's HTTP endpoints answer, rendered from its state (pure: no sockets, no clock
 * reads; every time is passed in). Each renderer appends to a dynbuf that the caller
 * initialised with a maximum (RENDER_MAX_BYTES is enough for any of them), so no state can make
 * an answer grow without bound. */
#ifndef KPA_RENDER_H
#define KPA_RENDER_H

#include <stdbool.h>
#include <stdint.h>

#include "kpa/canroll.h"
#include "kpa/disk.h"
#include "kpa/dynbuf.h"
#include "kpa/features.h"
#include "kpa/leadership.h"
#include "kpa/quorum.h"
#include "kpa/scaledown.h"
#include "kpa/tlsrot.h"
#include "kpa/verdict.h"

#define RENDER_MAX_BYTES (64 * 1024)

/* A read-only view of the agent for /status and /metrics. Pointers are borrowed. */
struct agent_status {
        int32_t node_id;
        const char *bootstrap;            /* the local listener the agent asks */
        enum ready_scope scope;
        const char *version;
        const struct health *health;
        const struct verdict *verdict;    /* health_verdict() at the time of the request */
        int64_t last_check_unix_ms;       /* wall clock when the last check finished; 0: none */
        uint64_t last_check_duration_ms;
        const char *last_error;           /* NULL or "" if the last check got an answer */
        int32_t answered_by;              /* node id that answered the last check, -1: unknown */
        int64_t rtt_ms;                   /* round trip of the last metadata request, -1: unknown */
        int64_t last_success_unix_ms;     /* wall clock of the last good check; 0: none yet */
        const struct canroll_result *canroll;  /* over the last answer; NULL: none yet */
        const char *min_isr_note;         /* why min.insync.replicas is unknown; NULL or "" */
        /* The gate's last cross-check with other brokers (made while a /prestop is pending);
         * NULL when none has been made since the pending /prestop came. */
        const struct canroll_gate *gate;
        /* A controller-only node: the quorum as the last check saw it and what the stop gate
         * answers on it; /status and /metrics then show these instead of partitions. NULL for
         * a broker. */
        const struct quorum_view *quorum;
        const struct quorum_stop *quorum_stop;
        /* A broker's feature levels as last asked (features.h), or NULL (controller-only node,
         * demo): /status "features" and "finalization", /metrics kpa_feature_*. */
        const struct features_view *features;
        /* The log dirs (disk.h); NULL when none are known (no --broker-config). */
        const struct disk_view *disk;
        /* Preferred leadership (leadership.h); NULL for a controller-only node or the demo. */
        const struct leadership *leadership;
        /* Scale-down safety (scaledown.h); NULL when --pod-name is not set. */
        const struct scaledown_view *scale_down;
        /* Certificate rotation (tlsrot.h), or NULL when KPA_TLS_DIR is not watched: /status
         * "tls", the tls_expiry condition, /metrics kpa_tls_*. */
        const struct tlsrot_view *tls;
        int64_t now_unix_ms;              /* wall clock of the request, for tls_expiry */
};

enum probe_kind { PROBE_LIVEZ, PROBE_READYZ };

/* /livez and /readyz. Returns the HTTP status (200 or 503), or a negative errno-style code if
 * the body did not fit. Passing: "ok" (verbose: each check then "<probe> check passed").
 * Failing: one "[-]name failed: reason" line per failing check (verbose: every applicable check,
 * "[+]name ok" or "[-]name failed: reason"), then "<probe> check failed". */
int render_probe(const struct verdict *v, enum probe_kind kind, bool verbose, struct dynbuf *out);
/* /status: one JSON object (see README). 0 or a negative errno-style code. */
int render_status_json(const struct agent_status *st, struct dynbuf *out);
/* /metrics: Prometheus text exposition format 0.0.4. 0 or a negative errno-style code. */
int render_metrics(const struct agent_status *st, struct dynbuf *out);
/* Formats unix milliseconds as RFC 3339 UTC with milliseconds: "2024-05-01T12:00:00.123Z". */
void render_rfc3339(int64_t unix_ms, char *buf, size_t len);

#endif
