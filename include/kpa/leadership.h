/* Leadership restored after a restart: which partitions this broker should lead again, when
 * to ask for their preferred leader election, and what readiness makes of it. Pure: plain
 * structs and times passed in (the I/O is elector.h).
 *
 * After a broker restarts, the others lead its partitions, and Kafka moves them back only when
 * auto.leader.rebalance.enable acts: every leader.imbalance.check.interval.seconds (300 s),
 * and only past a 10 % imbalance per broker. So after a rolling restart the last broker
 * rolled leads nothing for minutes, and leadership piles up on the others. The agent asks
 * instead, once its broker is caught up: a preferred election (kwire_elect.h) for exactly the
 * partitions whose first replica is this broker, that another broker leads, and whose ISR
 * holds this broker (Kafka elects the preferred replica only from the ISR).
 *
 * When: an episode begins each time the broker becomes ready (every readiness check passes,
 * this one aside), which is also the agent's start on a running broker. Within an episode the
 * agent sends at most a bounded number of requests, one batch of at most
 * KWIRE_ELECT_MAX_PARTITIONS partitions each, a back-off apart after a failure, and never while
 * a /prestop is pending (the broker is about to stop: moving leadership to it is the opposite
 * of what the stop needs) or while the broker is not ready. */
#ifndef KPA_LEADERSHIP_H
#define KPA_LEADERSHIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kpa/kwire_elect.h"
#include "kpa/snapshot.h"
#include "kpa/verdict.h"

#define LEADERSHIP_ERRORS_MAX 8          /* distinct error codes kept for the last election */
#define LEADERSHIP_REASON_MAX 320
/* Failed requests per episode before the agent stops asking until the next episode. */
#define LEADERSHIP_MAX_FAILURES 5
#define LEADERSHIP_BACKOFF_FIRST_MS 1000
#define LEADERSHIP_BACKOFF_MAX_MS 30000

struct leadership_partition {
        char topic[KWIRE_ELECT_TOPIC_MAX + 1];
        int32_t partition;
};

/* What one snapshot says about this broker's leadership. */
struct leadership_plan {
        int preferred;        /* partitions whose first replica is this broker */
        int led;              /* partitions this broker leads (preferred or not) */
        int preferred_led;    /* preferred partitions it leads */
        int skewed;           /* preferred, led by another broker, this broker in the ISR */
        int not_in_isr;       /* preferred, led by another broker, this broker not in the ISR */
        int n;                /* the first skewed partitions, at most KWIRE_ELECT_MAX_PARTITIONS */
        struct leadership_partition parts[KWIRE_ELECT_MAX_PARTITIONS];
};

/* The plan for local_id over s. Topics and partitions with an error, partitions without a
 * leader (KRaft elects one itself when a replica comes back) and topic names Kafka would not
 * accept are counted nowhere. */
void leadership_plan(const struct snapshot *s, int32_t local_id, struct leadership_plan *ret);

/* One election's outcome, folded into the state. */
struct leadership_outcome {
        int rc;                       /* 0: answered; < 0: no answer (error says why) */
        char error[LEADERSHIP_REASON_MAX];
        int16_t top_error;            /* the answer's top-level error code */
        int asked;
        int n_results;
        int16_t codes[KWIRE_ELECT_MAX_PARTITIONS];   /* each result's error code */
        char first_message[KWIRE_ELECT_MESSAGE_MAX]; /* the first failed result's, for /status */
        int64_t at_unix_ms;
};

struct leadership_count {
        int16_t code;
        int count;
};

/* The state an agent keeps, and what /status and /metrics show. */
struct leadership {
        /* settings */
        bool enabled;                 /* --restore-leadership */
        uint64_t ready_wait_ms;       /* --ready-waits-for-leadership; 0: readiness never waits */
        /* from the last answered check */
        bool have_plan;
        int preferred, led, preferred_led, skewed, not_in_isr;
        /* the episode */
        bool base_ready;              /* every other readiness check passed, last verdict */
        bool in_episode;
        uint64_t episode_start_ms;
        int failures;                 /* failed requests this episode */
        int requests;                 /* requests this episode */
        int request_budget;           /* the most this episode may send */
        uint64_t next_attempt_ms;
        uint64_t backoff_ms;
        bool in_flight;
        bool restored;                /* this episode found nothing (more) to elect */
        int64_t restored_after_ms;    /* from the episode's start to restored; -1: not (yet) */
        bool gave_up;                 /* this episode stopped asking: reason says why */
        char reason[LEADERSHIP_REASON_MAX];
        /* the last election */
        bool have_last;
        int64_t last_unix_ms;
        int last_asked, last_elected, last_not_needed, last_failed;
        int n_last_errors;
        struct leadership_count last_errors[LEADERSHIP_ERRORS_MAX];
        char last_error[LEADERSHIP_REASON_MAX];   /* no answer, or the top-level error */
        /* totals since the agent started, per partition asked */
        uint64_t elected_total, not_needed_total, failed_total, unanswered_total;
};

void leadership_init(struct leadership *l, bool enabled, uint64_t ready_wait_ms);

/* A new plan from an answered check that finished at now_ms. */
void leadership_observe(struct leadership *l, const struct leadership_plan *p, uint64_t now_ms);

/* The verdict's readiness without this check: starts an episode when the broker becomes
 * ready, ends it when it stops being ready. */
void leadership_base_ready(struct leadership *l, bool ready, uint64_t now_ms);

/* Whether to send an election now: enabled, ready, no /prestop pending, nothing in flight, a
 * plan with skewed partitions, the back-off past, and the episode's budget not spent. When it
 * says yes the caller sends the plan's partitions and reports with leadership_done; the state
 * counts the request as in flight. */
bool leadership_should_elect(struct leadership *l, bool stop_pending, uint64_t now_ms);

/* Folds an election's outcome: counts per result, the back-off (reset after an answer where
 * every partition succeeded, doubled after anything else), and gives up for this episode after
 * LEADERSHIP_MAX_FAILURES failures or an error that asking again cannot fix
 * (CLUSTER_AUTHORIZATION_FAILED), with the reason. */
void leadership_done(struct leadership *l, const struct leadership_outcome *o, uint64_t now_ms);

/* The leadership readiness check: applies when enabled and ready_wait_ms > 0. It fails only
 * within an episode's first ready_wait_ms while partitions are still skewed and no election of
 * the episode has failed (retries go on in the background, unwaited); it passes otherwise,
 * saying whether leadership was restored or why not. */
void leadership_readiness(const struct leadership *l, uint64_t now_ms, struct check_result *ret);

#endif
