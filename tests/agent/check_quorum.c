/* Suite for a controller's readiness and stop gate (agent/quorum.c): every check's outcome
 * and detail, the caught-up bound at and past its edge, unsound leader answers, and the stop
 * rule checked against an independent count over every quorum of 1 to 7 voters and every
 * set of caught-up voters. */
#include <check.h>
#include <string.h>

#include "kpa/quorum.h"
#include "testutil.h"

#define LOCAL 1
#define NOW 1000000                      /* the leader's clock at its answer */
#define NEVER (-1)

static const struct quorum_policy policy = { .caught_up_max_ms = 3000 };

/* A leader answer: leader `leader`, voters 0..n-1 (log end 100 each unless lagging), each
 * caught up `age[i]` ms before NOW (NEVER: not at all); the leader's own entry carries NOW. */
static struct kwire_quorum *answer(int32_t leader, int n, const int64_t *age) {
        static struct kwire_quorum q;
        memset(&q, 0, sizeof q);
        q.have_partition = true;
        q.leader_id = leader;
        q.leader_epoch = 7;
        q.high_watermark = 100;
        q.n_voters = n;
        for (int i = 0; i < n; i++) {
                int64_t a = i == leader ? 0 : age[i];
                q.voters[i] = (struct kwire_replica){
                        .id = i,
                        .log_end_offset = a == NEVER ? 40 : a > 3000 ? 90 : 100,
                        .last_fetch_ms = a == NEVER ? -1 : NOW - a + (a > 0 ? 1 : 0),
                        .last_caught_up_ms = a == NEVER ? -1 : NOW - a,
                };
        }
        return &q;
}

struct result {
        struct assessment a;
        struct quorum_view v;
        struct quorum_stop s;
};

static struct result run(const struct kwire_quorum *q, bool local_answered, const char *leader_error) {
        static struct result r;
        struct quorum_observation o = { .local_answered = local_answered,
                                        .local_error = local_answered ? NULL : "cannot connect to ctl-1:9093: Connection refused",
                                        .leader = q, .leader_error = leader_error };
        quorum_assess(&o, LOCAL, &policy, &r.a, &r.v);
        quorum_stop_evaluate(&r.v, LOCAL, &r.s);
        return r;
}

START_TEST(quorum_caught_up_follower_is_ready_and_safe_to_stop) {
        struct result r = run(answer(0, 3, (int64_t[]){ 0, 120, 300 }), true, NULL);
        ck_assert(r.a.good);
        ck_assert(r.a.reachable);
        ck_assert_str_eq(r.a.checks[CHECK_REACHABLE].detail, "controller 1 answered on its listener");
        ck_assert_str_eq(r.a.checks[CHECK_LEADER].detail, "leader 0 in epoch 7, 3 of 3 voters caught up");
        ck_assert_str_eq(r.a.checks[CHECK_VOTER].detail, "node 1 is one of 3 voters");
        ck_assert_str_eq(r.a.checks[CHECK_CAUGHT_UP].detail, "caught up with leader 0 120ms ago (bound 3s), 0 records behind");
        /* The broker's checks do not apply to a controller; fresh and consecutive are health's. */
        ck_assert(!r.a.checks[CHECK_REGISTERED].applies);
        ck_assert(!r.a.checks[CHECK_CLUSTER_URP].applies);
        ck_assert(!r.a.checks[CHECK_FRESH].applies);
        ck_assert(!r.a.checks[CHECK_CONSECUTIVE].applies);
        ck_assert_int_eq(r.a.hosted, 0);
        ck_assert(r.v.known);
        ck_assert_int_eq(r.v.majority, 2);
        ck_assert_int_eq(r.v.caught_up_voters, 3);
        ck_assert_int_eq(r.v.local_role, QUORUM_ROLE_VOTER);
        ck_assert(r.s.safe);
        ck_assert_str_eq(r.s.reason, "stopping node 1 leaves 2 of 3 voters caught up (majority 2)");
}
END_TEST

START_TEST(quorum_leader_is_caught_up_by_definition) {
        struct result r = run(answer(1, 3, (int64_t[]){ 10, 0, 20 }), true, NULL);
        ck_assert(r.a.good);
        ck_assert_str_eq(r.a.checks[CHECK_CAUGHT_UP].detail, "node 1 is the leader (epoch 7, high watermark 100)");
        ck_assert_int_eq(r.v.local.lag, 0);
        ck_assert(r.s.safe);
}
END_TEST

START_TEST(quorum_caught_up_bound_is_inclusive) {
        struct result r = run(answer(0, 3, (int64_t[]){ 0, 3000, 0 }), true, NULL);
        ck_assert(r.a.checks[CHECK_CAUGHT_UP].ok);
        ck_assert_str_eq(r.a.checks[CHECK_CAUGHT_UP].detail, "caught up with leader 0 3s ago (bound 3s), 0 records behind");
        r = run(answer(0, 3, (int64_t[]){ 0, 3001, 0 }), true, NULL);
        ck_assert(!r.a.checks[CHECK_CAUGHT_UP].ok);
        ck_assert(!r.a.good);
        ck_assert_str_eq(r.a.checks[CHECK_CAUGHT_UP].detail,
                         "not caught up with leader 0: last caught up 3.0s ago (bound 3s), 10 records behind");
}
END_TEST

START_TEST(quorum_never_caught_up_names_the_epoch_and_offsets) {
        struct result r = run(answer(0, 3, (int64_t[]){ 0, NEVER, 0 }), true, NULL);
        ck_assert(!r.a.checks[CHECK_CAUGHT_UP].ok);
        ck_assert_str_eq(r.a.checks[CHECK_CAUGHT_UP].detail,
                         "not caught up with leader 0: never caught up in epoch 7 (log end offset 40, leader's high watermark 100)");
        ck_assert_int_eq(r.v.local.caught_up_age_ms, -1);
        ck_assert_int_eq(r.v.local.fetch_age_ms, -1);
        ck_assert_int_eq(r.v.local.lag, 60);
}
END_TEST

START_TEST(quorum_ages_are_on_the_leaders_clock_only) {
        /* The leader's clock is far from any other: only its own readings count. */
        struct kwire_quorum *q = answer(0, 3, (int64_t[]){ 0, 500, 0 });
        for (int i = 0; i < 3; i++) {
                q->voters[i].last_caught_up_ms += 1000000000000LL;
                q->voters[i].last_fetch_ms += 1000000000000LL;
        }
        struct result r = run(q, true, NULL);
        ck_assert_int_eq(r.v.local.caught_up_age_ms, 500);
        ck_assert(r.a.good);
        /* A follower's timestamp after the leader's "now" is just now, never negative. */
        q = answer(0, 3, (int64_t[]){ 0, 0, 0 });
        q->voters[1].last_caught_up_ms = NOW + 50;
        r = run(q, true, NULL);
        ck_assert_int_eq(r.v.local.caught_up_age_ms, 0);
}
END_TEST

START_TEST(quorum_silent_local_controller_is_not_ready_but_the_quorum_is_still_read) {
        struct result r = run(answer(0, 3, (int64_t[]){ 0, 200, 0 }), false, NULL);
        ck_assert(!r.a.reachable);
        ck_assert(!r.a.good);
        ck_assert_str_eq(r.a.checks[CHECK_REACHABLE].detail, "cannot connect to ctl-1:9093: Connection refused");
        ck_assert(r.a.checks[CHECK_LEADER].ok);
        ck_assert(r.a.checks[CHECK_CAUGHT_UP].ok);
        ck_assert(r.s.safe);
}
END_TEST

START_TEST(quorum_no_leader_fails_closed) {
        struct result r = run(NULL, true, "ctl-0:9093: NOT_LEADER_OR_FOLLOWER (6); ctl-2:9093: Connection refused");
        ck_assert(!r.a.good);
        ck_assert(r.a.checks[CHECK_REACHABLE].ok);
        ck_assert_str_eq(r.a.checks[CHECK_LEADER].detail, "no controller answered as the quorum leader: "
                         "ctl-0:9093: NOT_LEADER_OR_FOLLOWER (6); ctl-2:9093: Connection refused");
        ck_assert_str_eq(r.a.checks[CHECK_VOTER].detail, "not checked: the quorum leader is unknown");
        ck_assert(!r.a.checks[CHECK_CAUGHT_UP].ok);
        ck_assert(!r.v.known);
        ck_assert(!r.s.safe);
        ck_assert_str_eq(r.s.reason, "the quorum's state is unknown, so stopping might take its majority: no controller "
                         "answered as the quorum leader: ctl-0:9093: NOT_LEADER_OR_FOLLOWER (6); ctl-2:9093: Connection refused");
}
END_TEST

START_TEST(quorum_unsound_leader_answers_count_as_none) {
        struct kwire_quorum *q = answer(0, 3, (int64_t[]){ 0, 0, 0 });
        q->voters[2].id = 1;
        struct result r = run(q, true, NULL);
        ck_assert(!r.v.known);
        ck_assert_str_eq(r.a.checks[CHECK_LEADER].detail, "the answer lists voter 1 twice");
        ck_assert(!r.s.safe);

        q = answer(0, 3, (int64_t[]){ 0, 0, 0 });
        q->leader_id = 5;                    /* no entry carries the leader's clock */
        r = run(q, true, NULL);
        ck_assert_str_eq(r.a.checks[CHECK_LEADER].detail, "the answer has no entry with the clock of leader 5");
        ck_assert(!r.s.safe);

        q = answer(0, 3, (int64_t[]){ 0, 0, 0 });
        q->partition_error_code = KWIRE_ERR_NOT_LEADER_OR_FOLLOWER;
        r = run(q, true, NULL);
        ck_assert_str_eq(r.a.checks[CHECK_LEADER].detail, "the leader's answer carries error NOT_LEADER_OR_FOLLOWER (6)");

        q = answer(0, 3, (int64_t[]){ 0, 0, 0 });
        q->voters[1].id = -4;
        r = run(q, true, NULL);
        ck_assert_str_eq(r.a.checks[CHECK_LEADER].detail, "the answer lists voter id -4");

        q = answer(0, 0, NULL);
        r = run(q, true, NULL);
        ck_assert_str_eq(r.a.checks[CHECK_LEADER].detail, "the answer names no leader (0) or no voters (0)");
}
END_TEST

START_TEST(quorum_observer_is_ready_when_caught_up_and_always_safe_to_stop) {
        struct kwire_quorum *q = answer(0, 3, (int64_t[]){ 0, 0, 0 });
        q->voters[1].id = 3;                 /* node 1 is not a voter ... */
        q->n_observers = q->n_observers_kept = 1;
        q->observers[0] = (struct kwire_replica){ .id = LOCAL, .log_end_offset = 100, .last_fetch_ms = NOW - 100,
                                                  .last_caught_up_ms = NOW - 100 };
        struct result r = run(q, true, NULL);
        ck_assert(r.a.good);
        ck_assert_str_eq(r.a.checks[CHECK_VOTER].detail, "node 1 is an observer, not a voter");
        ck_assert_int_eq(r.v.local_role, QUORUM_ROLE_OBSERVER);
        ck_assert(r.s.safe);
        ck_assert_str_eq(r.s.reason, "node 1 is not a voter: stopping it takes no vote from the quorum (3 of 3 voters caught up)");
        /* ... and a lagging observer is not ready. */
        q->observers[0].last_caught_up_ms = NOW - 9000;
        r = run(q, true, NULL);
        ck_assert(!r.a.checks[CHECK_CAUGHT_UP].ok);
        ck_assert(r.s.safe);
}
END_TEST

START_TEST(quorum_absent_node_is_not_ready_and_unread_observers_hold) {
        struct kwire_quorum *q = answer(0, 3, (int64_t[]){ 0, 0, 0 });
        q->voters[1].id = 3;
        struct result r = run(q, true, NULL);
        ck_assert_int_eq(r.v.local_role, QUORUM_ROLE_ABSENT);
        ck_assert_str_eq(r.a.checks[CHECK_VOTER].detail, "node 1 is neither a voter nor an observer in leader 0's answer (3 voters, 0 observers)");
        ck_assert_str_eq(r.a.checks[CHECK_CAUGHT_UP].detail, "not checked: node 1 is not in the quorum's answer");
        ck_assert(r.s.safe);
        /* More observers than were kept: node 1 may be one of them, so nothing is assumed. */
        q->n_observers = KWIRE_QUORUM_MAX_OBSERVERS + 1;
        r = run(q, true, NULL);
        ck_assert_int_eq(r.v.local_role, QUORUM_ROLE_UNKNOWN);
        ck_assert(!r.a.checks[CHECK_VOTER].ok);
        ck_assert(!r.s.safe);
        ck_assert_str_eq(r.s.reason, "node 1 is not among the 3 voters and the leader listed more observers than were read");
}
END_TEST

START_TEST(quorum_stop_holds_while_another_voter_is_down_and_says_which) {
        struct result r = run(answer(0, 3, (int64_t[]){ 0, 100, 45000 }), true, NULL);
        ck_assert(r.a.good);                 /* node 1 itself is fine ... */
        ck_assert(!r.s.safe);                /* ... but without it only the leader is caught up */
        ck_assert_str_eq(r.s.reason, "stopping node 1 would leave 1 of 3 voters caught up (majority 2): "
                                     "voter 2 last caught up 45s ago (10 records behind)");
        r = run(answer(0, 5, (int64_t[]){ 0, 100, NEVER, 4000, 100 }), true, NULL);
        ck_assert(!r.s.safe);
        ck_assert_str_eq(r.s.reason, "stopping node 1 would leave 2 of 5 voters caught up (majority 3): "
                                     "voter 2 never caught up in epoch 7, voter 3 last caught up 4s ago (10 records behind)");
        /* A lagging node 1 takes nothing from the majority: the others decide. */
        r = run(answer(0, 3, (int64_t[]){ 0, 45000, 100 }), true, NULL);
        ck_assert(r.s.safe);
        ck_assert_str_eq(r.s.reason, "stopping node 1 leaves 2 of 3 voters caught up (majority 2)");
}
END_TEST

START_TEST(quorum_one_or_two_voters_never_wait) {
        struct result r = run(answer(1, 2, (int64_t[]){ NEVER, 0 }), true, NULL);
        ck_assert(r.s.safe);
        ck_assert_str_eq(r.s.reason, "a quorum of 2 voters loses its majority with any stop: waiting cannot help");
        struct kwire_quorum *q = answer(0, 2, (int64_t[]){ 0, 0 });
        q->voters[0].id = LOCAL;             /* a single voter: node 1, the leader */
        q->n_voters = 1;
        q->leader_id = LOCAL;
        r = run(q, true, NULL);
        ck_assert(r.a.good);
        ck_assert_str_eq(r.s.reason, "a quorum of 1 voter loses its majority with any stop: waiting cannot help");
}
END_TEST

/* Every quorum of 1..7 voters, every leader, every set of caught-up voters: the stop rule
 * against an independent count, and the readiness of node 1 against its own entry. */
START_TEST(quorum_stop_rule_matches_an_independent_count_everywhere) {
        int cases = 0;
        for (int n = 2; n <= 7; n++)
                for (int leader = 0; leader < n; leader++)
                        for (unsigned mask = 0; mask < (1u << n); mask++) {
                                if (!(mask & (1u << leader)))
                                        continue;   /* the leader is always caught up */
                                int64_t age[7];
                                int up = 0, up_others = 0;
                                for (int i = 0; i < n; i++) {
                                        bool u = mask & (1u << i);
                                        age[i] = u ? 200 : (i % 2 ? NEVER : 60000);
                                        up += u;
                                        up_others += u && i != LOCAL;
                                }
                                struct result r = run(answer(leader, n, age), true, NULL);
                                int majority = n / 2 + 1;
                                bool want = n - 1 < majority || up_others >= majority;
                                ck_assert_msg(r.s.safe == want, "n=%d leader=%d mask=%x: %s", n, leader, mask, r.s.reason);
                                ck_assert_int_eq(r.v.caught_up_voters, up);
                                ck_assert_int_eq(r.a.good, (mask & (1u << LOCAL)) != 0);
                                cases++;
                        }
        /* n leaders x 2^(n-1) sets, n = 2..7 */
        ck_assert_int_eq(cases, 4 + 12 + 32 + 80 + 192 + 448);
}
END_TEST

START_TEST(quorum_role_names) {
        ck_assert_str_eq(quorum_role_name(QUORUM_ROLE_VOTER), "voter");
        ck_assert_str_eq(quorum_role_name(QUORUM_ROLE_OBSERVER), "observer");
        ck_assert_str_eq(quorum_role_name(QUORUM_ROLE_ABSENT), "absent");
        ck_assert_str_eq(quorum_role_name(QUORUM_ROLE_UNKNOWN), "unknown");
        ck_assert_str_eq(check_name(CHECK_LEADER), "leader");
        ck_assert_str_eq(check_name(CHECK_VOTER), "voter");
}
END_TEST

int main(void) {
        Suite *s = suite_create("quorum");
        TCase *tc = tcase_create("quorum");
        tcase_add_test(tc, quorum_caught_up_follower_is_ready_and_safe_to_stop);
        tcase_add_test(tc, quorum_leader_is_caught_up_by_definition);
        tcase_add_test(tc, quorum_caught_up_bound_is_inclusive);
        tcase_add_test(tc, quorum_never_caught_up_names_the_epoch_and_offsets);
        tcase_add_test(tc, quorum_ages_are_on_the_leaders_clock_only);
        tcase_add_test(tc, quorum_silent_local_controller_is_not_ready_but_the_quorum_is_still_read);
        tcase_add_test(tc, quorum_no_leader_fails_closed);
        tcase_add_test(tc, quorum_unsound_leader_answers_count_as_none);
        tcase_add_test(tc, quorum_observer_is_ready_when_caught_up_and_always_safe_to_stop);
        tcase_add_test(tc, quorum_absent_node_is_not_ready_and_unread_observers_hold);
        tcase_add_test(tc, quorum_stop_holds_while_another_voter_is_down_and_says_which);
        tcase_add_test(tc, quorum_one_or_two_voters_never_wait);
        tcase_add_test(tc, quorum_stop_rule_matches_an_independent_count_everywhere);
        tcase_add_test(tc, quorum_role_names);
        suite_add_tcase(s, tc);
        return tu_run_suite(s);
}
