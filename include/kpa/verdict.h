/* Readiness and liveness, decided from snapshots (pure: no sockets, no clock reads).
 *
 * verdict_assess() turns one check's outcome into per-check results; health_record() folds
 * successive assessments into the agent's state (consecutive good checks, last time the
 * broker answered); health_verdict() answers a probe at a given time from that state, so a
 * stale assessment is never "ready". See DESIGN.md "Readiness semantics". */
#ifndef KPA_VERDICT_H
#define KPA_VERDICT_H

#include <stdbool.h>
#include <stdint.h>

#include "kpa/snapshot.h"

enum ready_scope { SCOPE_LOCAL, SCOPE_CLUSTER };

/* A broker's checks are reachable, registered, caught_up (cluster_urp with scope cluster); a
 * controller-only node's are reachable, leader, voter, caught_up (quorum.h). */
enum check_id {
        CHECK_REACHABLE,   /* the local listener answered within the timeout */
        CHECK_REGISTERED,  /* the local node id is in the metadata's broker list */
        CHECK_LEADER,      /* controller: a controller answered as the quorum's leader */
        CHECK_VOTER,       /* controller: the local node is a voter or observer of that leader */
        CHECK_CAUGHT_UP,   /* broker: in ISR for every hosted partition that has a leader;
                              controller: caught up with the quorum leader */
        CHECK_CLUSTER_URP, /* scope cluster: no under-replicated partition anywhere */
        CHECK_FRESH,       /* the last check finished recently (decided at probe time) */
        CHECK_CONSECUTIVE, /* enough consecutive good checks (decided by health_record) */
        CHECK_LOG_DIRS,    /* broker: no log dir offline (disk.h; decided at probe time) */
        CHECK_LEADERSHIP,  /* broker: leads its preferred partitions again, waited for at most
                              --ready-waits-for-leadership (leadership.h; at probe time) */
        CHECK_COUNT
};

#define VERDICT_DETAIL_MAX 256
#define VERDICT_LAGGING_MAX 20

struct check_result {
        bool ok;
        bool applies;      /* false: not part of this configuration (e.g. cluster_urp, local scope) */
        char detail[VERDICT_DETAIL_MAX];
};

/* Sets c's outcome and its detail (cut to VERDICT_DETAIL_MAX); verdict.c and quorum.c write
 * every check through this one function. */
void verdict_check_set(struct check_result *c, bool ok, const char *fmt, ...)
        __attribute__((format(printf, 3, 4)));

struct lagging_partition {
        char topic[250];   /* Kafka topic names are at most 249 characters */
        int32_t partition;
        int32_t leader;
        int32_t isr[16];
        int n_isr;         /* may exceed 16; only the first 16 are kept */
};

struct assessment {
        bool reachable;
        struct check_result checks[CHECK_COUNT];
        int hosted, in_sync, lagging, offline;  /* partitions whose replicas include the local id */
        int cluster_partitions, cluster_under_replicated;
        struct lagging_partition lag[VERDICT_LAGGING_MAX];
        int n_lag;         /* entries in lag */
        int lag_more;      /* lagging partitions beyond the list */
        bool good;         /* every applicable check passed */
};

/* The outcome of one check: a snapshot (NULL when the local broker did not answer) and the
 * error text when it failed. */
struct check_outcome {
        const struct snapshot *snap;
        const char *error;
};

void verdict_assess(const struct check_outcome *o, int32_t local_id, enum ready_scope scope,
                    struct assessment *ret);

struct health_policy {
        const char *subject;           /* what answers: "broker" (NULL) or "controller" */
        unsigned ready_after;          /* consecutive good checks needed */
        uint64_t stale_after_ms;       /* an assessment older than this is never ready */
        uint64_t liveness_window_ms;   /* how long the broker may be unreachable while live */
};

struct health {
        struct assessment last;
        bool have_last;
        uint64_t last_at_ms;           /* when the last check finished (monotonic ms) */
        uint64_t last_reachable_ms;    /* when the broker last answered (valid if ever_reachable) */
        uint64_t last_reachable_started_ms;   /* when the check that got that answer started */
        bool ever_reachable;           /* the broker has answered at least once since start */
        uint64_t started_ms;           /* agent start: liveness grace before the first answer */
        unsigned consecutive_good;
        uint64_t checks_total, checks_failed;  /* failed: the assessment was not good */
};

void health_init(struct health *h, uint64_t now_ms);
void health_record(struct health *h, const struct assessment *a, uint64_t now_ms);
/* The same, for a check that started at started_ms and finished at finished_ms: only an
 * answer to a check started after a process started can have come from that process. */
void health_record_check(struct health *h, const struct assessment *a, uint64_t started_ms,
                         uint64_t finished_ms);

struct verdict {
        bool ready;
        bool live;
        struct check_result checks[CHECK_COUNT];  /* last assessment's, plus fresh and consecutive */
        const char *live_name;         /* the liveness check's name: the policy's subject */
        char live_detail[VERDICT_DETAIL_MAX];
};

void health_verdict(const struct health *h, const struct health_policy *p, uint64_t now_ms,
                    struct verdict *ret);
/* Liveness for a broker process that started process_age_ms before now_ms (what the kafka
 * container's probe reports of its own process): until a check started after that moment got
 * an answer, the process is starting, not live, whatever an earlier process answered. Then
 * the liveness window applies as in health_verdict. Replaces ret's live and live_detail. */
void health_live_for_process(const struct health *h, const struct health_policy *p,
                             uint64_t now_ms, uint64_t process_age_ms, struct verdict *ret);
const char *check_name(enum check_id id);

#endif
