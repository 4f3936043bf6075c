/* Safe to stop: Strimzi's canRoll rule over every partition the local broker hosts. */
#ifndef KPA_CANROLL_H
#define KPA_CANROLL_H

#include <stdbool.h>
#include <stdint.h>

#include "kpa/snapshot.h"

struct canroll_result {
        bool safe;
        int hosted;                /* partitions with the local node among their replicas */
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
/* The same with the nodes in silent (did not answer when asked) counted out of every ISR; the
 * reason then says how many listed members were left out ("(1 more listed, not answering)").
 * The local node is never left out. */
void canroll_evaluate_without(const struct snapshot *s, int32_t local_id, const int32_t *silent,
                              int n_silent, struct canroll_result *ret);

/* ---- The gate's cross-check with other brokers (made only while a /prestop is pending) ----
 *
 * Metadata lags reality: a broker that crashed stays listed, in sync, until KRaft fences it
 * (broker.session.timeout.ms, 9 s by default), and a broker cut off from the controllers
 * serves a frozen view. So before release the gate (1) reads another broker's metadata in the
 * same check and requires canRoll to be safe in both views, (2) asks every other ISR member of
 * each hosted partition at or one above its minimum to answer as itself, counting one that
 * does not out of the ISR, and (3) when the local broker does not answer, releases only if
 * another broker shows it fenced (not in the broker list) or in no ISR: silence alone (wrong
 * TLS or SASL settings, DNS, a broken agent) is no evidence. */

#define CANROLL_MAX_ASK 64
#define CANROLL_WHY_MAX 240

struct canroll_peers {
        struct snapshot *view;            /* another broker's metadata (owned); NULL: none */
        int32_t view_from;                /* the broker that answered it, -1 when none */
        char view_error[CANROLL_WHY_MAX]; /* why there is no view */
        int32_t asked[CANROLL_MAX_ASK];   /* the peers asked to answer as themselves */
        bool answered[CANROLL_MAX_ASK];
        int n_asked;
        int not_asked;                    /* needed beyond CANROLL_MAX_ASK */
        char silent_why[CANROLL_WHY_MAX]; /* why the first silent peer did not answer */
};

/* The ids whose answer the gate needs, sorted, without duplicates and without local_id:
 * every ISR member of each partition hosted by local_id whose ISR has min or min + 1 members
 * (its topic's min_isr; an unknown minimum blocks anyway), in either view (a view may be NULL).
 * Writes at most max into ret; returns how many are needed. */
int canroll_peers_to_ask(const struct snapshot *local_view, const struct snapshot *peer_view,
                         int32_t local_id, int32_t *ret, int max);

struct canroll_gate {
        bool safe;
        int32_t silent[CANROLL_MAX_ASK];  /* asked, did not answer as themselves */
        int n_silent;
        char reason[1200];
};

/* The gate's verdict from one check. local is the local broker's metadata (NULL when it did
 * not answer, local_error saying why). With an answer: safe only if canRoll is safe in the
 * local view and in the peer view (silent peers out of every ISR); without a peer view only
 * when the local view lists no other broker. Without an answer: safe only if the peer view
 * shows local_id fenced (not a listed broker) or in no ISR. */
void canroll_gate_evaluate(const struct snapshot *local, const char *local_error,
                           const struct canroll_peers *p, int32_t local_id,
                           struct canroll_gate *ret);

#endif
