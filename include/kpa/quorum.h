/* Readiness and safe-to-stop of a KRaft controller, decided from the quorum leader's
 * DescribeQuorum answer (pure: no sockets, no clock reads; times come from the answer).
 *
 * Kafka's leader describes every voter with the last time, on the leader's own wall clock,
 * that the voter's fetch had reached the leader's log end ("last caught up"); its own entry
 * carries the leader's current time. So "how long ago was voter V caught up" is the
 * difference of two readings of one clock, the leader's, and no clock skew between pods
 * enters it.
 *
 * A voter is caught up when it was caught up at most policy.caught_up_max_ms ago. A healthy
 * follower fetches continuously (each fetch waits at most 500 ms at the leader, and the active
 * controller appends a record every metadata.max.idle.interval.ms, 500 ms by default), so its
 * age stays well under a second; the default bound is Kafka's own for a working majority:
 * the leader resigns when a majority has not fetched within 1.5 x controller.quorum.fetch.
 * timeout.ms (3 s by default), and a follower that has not heard from the leader within the
 * fetch timeout starts an election.
 *
 * Ready (the checks, see verdict.h): reachable (the local controller answered), leader (a
 * controller answered as the quorum's leader), voter (the local node is a voter, or an
 * observer, in that answer), caught_up (the local node is the leader, or caught up with it).
 * Safe to stop: the voters caught up without the local node still form a majority of ALL
 * voters; see quorum_stop_evaluate. */
#ifndef KPA_QUORUM_H
#define KPA_QUORUM_H

#include <stdbool.h>
#include <stdint.h>

#include "kpa/kwire_quorum.h"
#include "kpa/verdict.h"

#define QUORUM_DEFAULT_FETCH_TIMEOUT_MS 2000   /* Kafka's controller.quorum.fetch.timeout.ms */
#define QUORUM_REASON_MAX 512

struct quorum_policy {
        uint64_t caught_up_max_ms;   /* > 0 */
};

/* What one controller check found. */
struct quorum_observation {
        bool local_answered;                 /* the local controller answered DescribeQuorum */
        const char *local_error;             /* why not (NULL or "" when it answered) */
        const struct kwire_quorum *leader;   /* the leader's answer (error NONE), or NULL */
        const char *leader_error;            /* why no leader answered (when leader is NULL) */
};

enum quorum_role { QUORUM_ROLE_UNKNOWN, QUORUM_ROLE_VOTER, QUORUM_ROLE_OBSERVER, QUORUM_ROLE_ABSENT };

struct quorum_member {
        int32_t id;
        bool caught_up;
        int64_t log_end_offset;      /* -1: unknown */
        int64_t lag;                 /* records behind the leader's log end; -1: unknown */
        int64_t caught_up_age_ms;    /* -1: never caught up in this leader's epoch */
        int64_t fetch_age_ms;        /* -1: never fetched from this leader */
};

/* The quorum as the last check saw it: for /status, /metrics and the stop gate. */
struct quorum_view {
        bool known;                  /* a valid leader answer was read */
        char unknown_reason[QUORUM_REASON_MAX];   /* why not, when !known */
        int32_t leader_id;
        int32_t leader_epoch;
        int64_t high_watermark;
        uint64_t caught_up_max_ms;
        int n_voters;
        struct quorum_member voters[KWIRE_QUORUM_MAX_VOTERS];
        int caught_up_voters;
        int majority;                /* n_voters / 2 + 1 */
        int n_observers;             /* as many as the leader listed */
        enum quorum_role local_role;
        struct quorum_member local;  /* the local node's entry (voter or observer) */
};

/* Fills the per-check results (reachable, leader, voter, caught_up apply; the broker checks
 * do not) and the quorum view. A leader answer that is not sound (voter listed twice, no entry
 * for the leader itself, a negative id) counts as no answer: the view is unknown. */
void quorum_assess(const struct quorum_observation *o, int32_t local_id,
                   const struct quorum_policy *p, struct assessment *ret_a,
                   struct quorum_view *ret_v);

struct quorum_stop {
        bool safe;
        char reason[QUORUM_REASON_MAX];
};

/* Safe to stop the local controller:
 *   quorum unknown                                  -> hold (fail closed, with the reason);
 *   local not a voter (observer, or absent)         -> safe: no vote is taken away;
 *   n_voters - 1 < majority (1 or 2 voters)         -> safe: any stop loses the majority, and
 *                                                      waiting cannot change that (as canRoll
 *                                                      never blocks a partition with RF <= min);
 *   caught-up voters other than local >= majority   -> safe;
 *   otherwise                                       -> hold, naming the voters that lag. */
void quorum_stop_evaluate(const struct quorum_view *v, int32_t local_id, struct quorum_stop *ret);

/* The stricter rule a pending /prestop decides on. A voter that crashed a moment ago still
 * looks caught up for the readiness bound (1.5 x the fetch timeout, 3 s by default), so for
 * the stop a voter counts only if
 *   - it was caught up at most QUORUM_STOP_CAUGHT_UP_MS ago (a healthy follower's age stays
 *     under the leader's fetch wait of 500 ms plus a round trip), and
 *   - it answered a direct DescribeQuorum in the same check (asked[i] with answered[i];
 *     a voter not in asked did not answer). The leader counts when its answer is the view.
 * The reason names every voter left out and why. */
#define QUORUM_STOP_CAUGHT_UP_MS 1000
struct quorum_asked {
        int32_t ids[KWIRE_QUORUM_MAX_VOTERS];
        bool answered[KWIRE_QUORUM_MAX_VOTERS];
        int n;
        char why[256];               /* why the first silent voter did not answer */
};
void quorum_stop_evaluate_asked(const struct quorum_view *v, int32_t local_id,
                                const struct quorum_asked *asked, struct quorum_stop *ret);

const char *quorum_role_name(enum quorum_role r);

#endif
