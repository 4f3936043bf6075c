/* Suites for the agent's readiness core: snapshot copies, per-check assessment, and the
 * readiness/liveness verdict over time. No sockets: snapshots are built by hand. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "kpa/snapshot.h"
#include "kpa/verdict.h"
#include "snapbuild.h"
#include "testutil.h"

#define LOCAL 1

static void assess(const struct snapshot *s, enum ready_scope scope, struct assessment *a) {
        struct check_outcome o = { s, NULL };
        verdict_assess(&o, LOCAL, scope, a);
}

/* A three-broker cluster where node 1 is registered; topics are added by each test. */
static struct snapshot *cluster3(void) {
        return sb_new(1, IDS(1, 2, 3));
}

static bool ends_with(const char *s, const char *suffix) {
        size_t n = strlen(s), m = strlen(suffix);
        return n >= m && strcmp(s + n - m, suffix) == 0;
}

/* ---- snapshot ---- */

START_TEST(snapshot_dup_copies_deeply) {
        struct snapshot *s = cluster3();
        s->controller_id = 2;
        struct snap_topic *t = sb_topic(s, "orders", 3);
        t->err = 0;
        sb_part(t, 0, 2, IDS(1, 2, 3), IDS(2, 3))->err = 9;
        sb_topic(s, "denied", -1)->err = 29;

        struct snapshot *d = snapshot_dup(s);
        ck_assert_ptr_nonnull(d);
        ck_assert_int_eq(d->n_brokers, 3);
        ck_assert_int_eq(d->brokers[2], 3);
        ck_assert_int_eq(d->controller_id, 2);
        ck_assert_int_eq(d->answered_by, 1);
        ck_assert_int_eq(d->n_topics, 2);
        ck_assert_str_eq(d->topics[0].name, "orders");
        ck_assert_int_eq(d->topics[0].min_isr, 3);
        ck_assert_int_eq(d->topics[0].n_partitions, 1);
        ck_assert_int_eq(d->topics[0].partitions[0].err, 9);
        ck_assert_int_eq(d->topics[0].partitions[0].leader, 2);
        ck_assert_int_eq(d->topics[0].partitions[0].n_isr, 2);
        ck_assert_int_eq(d->topics[0].partitions[0].isr[1], 3);
        ck_assert_str_eq(d->topics[1].name, "denied");
        ck_assert_int_eq(d->topics[1].err, 29);
        ck_assert_int_eq(d->topics[1].n_partitions, 0);
        /* The copy owns its storage: changing the original leaves it untouched. */
        ck_assert_ptr_ne(d->topics[0].name, s->topics[0].name);
        s->topics[0].partitions[0].isr[1] = 7;
        ck_assert_int_eq(d->topics[0].partitions[0].isr[1], 3);
        ck_assert_ptr_null(snapshot_free(s));
        ck_assert_ptr_null(snapshot_free(d));
}
END_TEST

START_TEST(snapshot_free_and_dup_accept_null) {
        ck_assert_ptr_null(snapshot_free(NULL));
        ck_assert_ptr_null(snapshot_dup(NULL));
}
END_TEST

/* ---- verdict_assess ---- */

START_TEST(assess_in_sync_on_every_hosted_partition_is_good) {
        struct snapshot *s = cluster3();
        struct snap_topic *t = sb_topic(s, "orders", -1);
        sb_part(t, 0, 1, IDS(1, 2, 3), IDS(1, 2, 3));
        sb_part(t, 1, 2, IDS(2, 1), IDS(2, 1));
        sb_part(t, 2, 3, IDS(2, 3), IDS(3));   /* not hosted here: its lag is not ours */
        struct assessment a;
        assess(s, SCOPE_LOCAL, &a);
        ck_assert(a.good);
        ck_assert(a.reachable);
        ck_assert_int_eq(a.hosted, 2);
        ck_assert_int_eq(a.in_sync, 2);
        ck_assert_int_eq(a.lagging, 0);
        ck_assert_int_eq(a.offline, 0);
        ck_assert_str_eq(a.checks[CHECK_REACHABLE].detail, "broker 1 answered");
        ck_assert_str_eq(a.checks[CHECK_REGISTERED].detail, "node 1 is in the broker list [1,2,3]");
        ck_assert_str_eq(a.checks[CHECK_CAUGHT_UP].detail, "in ISR for 2 of 2 hosted partitions");
        ck_assert(a.checks[CHECK_CAUGHT_UP].ok);
        ck_assert(!a.checks[CHECK_CLUSTER_URP].applies);
        ck_assert(!a.checks[CHECK_FRESH].applies);
        ck_assert(!a.checks[CHECK_CONSECUTIVE].applies);
        snapshot_free(s);
}
END_TEST

START_TEST(assess_lagging_partition_fails_caught_up_and_names_it) {
        struct snapshot *s = cluster3();
        struct snap_topic *t = sb_topic(s, "orders", -1);
        sb_part(t, 0, 1, IDS(1, 2, 3), IDS(1, 2, 3));
        sb_part(t, 3, 2, IDS(1, 2, 3), IDS(2, 3));
        t = sb_topic(s, "payments", -1);
        sb_part(t, 0, 3, IDS(3, 1), IDS(3));
        struct assessment a;
        assess(s, SCOPE_LOCAL, &a);
        ck_assert(!a.good);
        ck_assert(!a.checks[CHECK_CAUGHT_UP].ok);
        ck_assert(a.checks[CHECK_REGISTERED].ok);
        ck_assert_int_eq(a.hosted, 3);
        ck_assert_int_eq(a.in_sync, 1);
        ck_assert_int_eq(a.lagging, 2);
        ck_assert_int_eq(a.n_lag, 2);
        ck_assert_int_eq(a.lag_more, 0);
        ck_assert_str_eq(a.lag[0].topic, "orders");
        ck_assert_int_eq(a.lag[0].partition, 3);
        ck_assert_int_eq(a.lag[0].leader, 2);
        ck_assert_int_eq(a.lag[0].n_isr, 2);
        ck_assert_int_eq(a.lag[0].isr[0], 2);
        ck_assert_int_eq(a.lag[0].isr[1], 3);
        ck_assert_str_eq(a.checks[CHECK_CAUGHT_UP].detail,
                         "2 partitions lagging: orders-3 (leader 2, isr [2,3]), "
                         "payments-0 (leader 3, isr [3])");
        snapshot_free(s);
}
END_TEST

START_TEST(assess_single_lagging_partition_is_singular) {
        struct snapshot *s = cluster3();
        sb_part(sb_topic(s, "orders", -1), 3, 2, IDS(1, 2), IDS(2));
        struct assessment a;
        assess(s, SCOPE_LOCAL, &a);
        ck_assert_str_eq(a.checks[CHECK_CAUGHT_UP].detail,
                         "1 partition lagging: orders-3 (leader 2, isr [2])");
        snapshot_free(s);
}
END_TEST

START_TEST(assess_offline_partitions_are_counted_but_do_not_block) {
        struct snapshot *s = cluster3();
        struct snap_topic *t = sb_topic(s, "orders", -1);
        sb_part(t, 0, -1, IDS(1, 2), IDS(2));                 /* no leader */
        sb_part(t, 1, 2, IDS(1, 2), IDS(2))->err = 5;         /* LEADER_NOT_AVAILABLE */
        sb_part(t, 2, 1, IDS(1, 2), IDS(1, 2));
        sb_part(t, 3, 2, IDS(1, 2), IDS(2))->err = 9;         /* REPLICA_NOT_AVAILABLE: has a leader */
        struct assessment a;
        assess(s, SCOPE_LOCAL, &a);
        ck_assert_int_eq(a.hosted, 4);
        ck_assert_int_eq(a.offline, 2);
        ck_assert_int_eq(a.in_sync, 1);
        ck_assert_int_eq(a.lagging, 1);
        ck_assert(!a.good);
        ck_assert_str_eq(a.checks[CHECK_CAUGHT_UP].detail,
                         "1 partition lagging: orders-3 (leader 2, isr [2])");

        /* Without the lagging one, the offline partitions alone leave the broker ready. */
        s->topics[0].n_partitions = 3;
        assess(s, SCOPE_LOCAL, &a);
        ck_assert(a.good);
        ck_assert_int_eq(a.offline, 2);
        ck_assert_str_eq(a.checks[CHECK_CAUGHT_UP].detail,
                         "in ISR for 1 of 3 hosted partitions; 2 offline (no leader), "
                         "not blocking: orders-0, orders-1");
        s->topics[0].n_partitions = 4;
        snapshot_free(s);
}
END_TEST

START_TEST(assess_unregistered_broker_fails_registered) {
        struct snapshot *s = sb_new(2, IDS(2, 3));
        sb_part(sb_topic(s, "orders", -1), 0, 2, IDS(1, 2), IDS(1, 2));
        struct assessment a;
        assess(s, SCOPE_LOCAL, &a);
        ck_assert(!a.good);
        ck_assert(a.reachable);
        ck_assert(!a.checks[CHECK_REGISTERED].ok);
        ck_assert(a.checks[CHECK_CAUGHT_UP].ok);
        ck_assert_str_eq(a.checks[CHECK_REGISTERED].detail,
                         "node 1 is not in the broker list [2,3]: not yet registered, or fenced "
                         "by the controller");
        ck_assert_str_eq(a.checks[CHECK_REACHABLE].detail, "broker 2 answered");
        snapshot_free(s);
}
END_TEST

START_TEST(assess_long_broker_list_is_cut_with_ellipsis) {
        int32_t ids[100];
        for (int i = 0; i < 100; i++)
                ids[i] = 1000 + i;
        struct snapshot *s = sb_new(-1, ids, 100);
        struct assessment a;
        assess(s, SCOPE_LOCAL, &a);
        const char *d = a.checks[CHECK_REGISTERED].detail;
        ck_assert_msg(strncmp(d, "node 1 is not in the broker list [1000,1001,", 44) == 0, "%s", d);
        ck_assert_msg(strstr(d, ",...]: not yet registered") != NULL, "%s", d);
        ck_assert_str_eq(a.checks[CHECK_REACHABLE].detail, "the local listener answered");
        snapshot_free(s);
}
END_TEST

START_TEST(assess_unreachable_reports_the_error_and_checks_nothing_else) {
        struct check_outcome o = { NULL, "Local: Broker transport failure" };
        struct assessment a;
        verdict_assess(&o, LOCAL, SCOPE_CLUSTER, &a);
        ck_assert(!a.reachable);
        ck_assert(!a.good);
        ck_assert(!a.checks[CHECK_REACHABLE].ok);
        ck_assert_str_eq(a.checks[CHECK_REACHABLE].detail, "Local: Broker transport failure");
        for (int i = CHECK_REGISTERED; i <= CHECK_CLUSTER_URP; i++) {
                /* The controller's quorum checks never apply to a broker. */
                if (i == CHECK_LEADER || i == CHECK_VOTER) {
                        ck_assert(!a.checks[i].applies);
                        continue;
                }
                ck_assert(a.checks[i].applies);
                ck_assert(!a.checks[i].ok);
                ck_assert_str_eq(a.checks[i].detail, "not checked: the local broker did not answer");
        }
        ck_assert_int_eq(a.hosted, 0);

        o.error = NULL;
        verdict_assess(&o, LOCAL, SCOPE_LOCAL, &a);
        ck_assert_str_eq(a.checks[CHECK_REACHABLE].detail, "the local broker did not answer");
        ck_assert(!a.checks[CHECK_CLUSTER_URP].applies);
}
END_TEST

START_TEST(assess_long_error_text_is_cut_to_the_detail_size) {
        char err[600];
        memset(err, 'e', sizeof err - 1);
        err[sizeof err - 1] = '\0';
        struct check_outcome o = { NULL, err };
        struct assessment a;
        verdict_assess(&o, LOCAL, SCOPE_LOCAL, &a);
        ck_assert_uint_eq(strlen(a.checks[CHECK_REACHABLE].detail), VERDICT_DETAIL_MAX - 1);
}
END_TEST

START_TEST(assess_topic_with_error_and_no_partitions_is_not_hosted) {
        struct snapshot *s = cluster3();
        sb_topic(s, "secret-topic", -1)->err = 29;   /* TOPIC_AUTHORIZATION_FAILED */
        struct assessment a;
        assess(s, SCOPE_LOCAL, &a);
        ck_assert(a.good);
        ck_assert_int_eq(a.hosted, 0);
        ck_assert_str_eq(a.checks[CHECK_CAUGHT_UP].detail, "hosts no partitions");
        snapshot_free(s);
}
END_TEST

START_TEST(assess_caps_the_lagging_list_and_counts_the_rest) {
        struct snapshot *s = cluster3();
        struct snap_topic *t = sb_topic(s, "big", -1);
        for (int i = 0; i < VERDICT_LAGGING_MAX + 5; i++)
                sb_part(t, i, 2, IDS(1, 2), IDS(2));
        int32_t wide[20];
        for (int i = 0; i < 20; i++)
                wide[i] = 100 + i;
        sb_part(t, 99, 100, IDS(1, 100), wide, 20);
        struct assessment a;
        assess(s, SCOPE_LOCAL, &a);
        ck_assert_int_eq(a.lagging, VERDICT_LAGGING_MAX + 6);
        ck_assert_int_eq(a.n_lag, VERDICT_LAGGING_MAX);
        ck_assert_int_eq(a.lag_more, 6);
        ck_assert_int_eq(a.lag[19].partition, 19);
        const char *d = a.checks[CHECK_CAUGHT_UP].detail;
        ck_assert_msg(strncmp(d, "26 partitions lagging: big-0 (leader 2, isr [2]), big-1 ", 55) == 0,
                      "%s", d);
        ck_assert_msg(ends_with(d, "), ..."), "%s", d);
        ck_assert_uint_lt(strlen(d), VERDICT_DETAIL_MAX);
        snapshot_free(s);
}
END_TEST

START_TEST(assess_keeps_the_first_16_isr_members_and_the_true_count) {
        struct snapshot *s = cluster3();
        int32_t wide[20];
        for (int i = 0; i < 20; i++)
                wide[i] = 100 + i;
        sb_part(sb_topic(s, "wide", -1), 0, 100, IDS(1, 100), wide, 20);
        struct assessment a;
        assess(s, SCOPE_LOCAL, &a);
        ck_assert_int_eq(a.n_lag, 1);
        ck_assert_int_eq(a.lag[0].n_isr, 20);
        ck_assert_int_eq(a.lag[0].isr[15], 115);
        snapshot_free(s);
}
END_TEST

START_TEST(assess_cluster_scope_fails_on_any_under_replicated_partition) {
        struct snapshot *s = cluster3();
        struct snap_topic *t = sb_topic(s, "orders", -1);
        sb_part(t, 0, 1, IDS(1, 2, 3), IDS(1, 2, 3));
        sb_part(t, 1, 2, IDS(2, 3, 4), IDS(2));   /* not hosted here */
        struct assessment a;
        assess(s, SCOPE_LOCAL, &a);
        ck_assert(a.good);
        ck_assert(!a.checks[CHECK_CLUSTER_URP].applies);

        assess(s, SCOPE_CLUSTER, &a);
        ck_assert(!a.good);
        ck_assert(a.checks[CHECK_CLUSTER_URP].applies);
        ck_assert(!a.checks[CHECK_CLUSTER_URP].ok);
        ck_assert(a.checks[CHECK_CAUGHT_UP].ok);
        ck_assert_int_eq(a.cluster_partitions, 2);
        ck_assert_int_eq(a.cluster_under_replicated, 1);
        ck_assert_str_eq(a.checks[CHECK_CLUSTER_URP].detail,
                         "1 under-replicated partition: orders-1 (isr 1 of 3)");
        snapshot_free(s);
}
END_TEST

START_TEST(assess_cluster_scope_ignores_offline_partitions) {
        struct snapshot *s = cluster3();
        struct snap_topic *t = sb_topic(s, "orders", -1);
        sb_part(t, 0, 1, IDS(1, 2, 3), IDS(1, 2, 3));
        sb_part(t, 1, -1, IDS(2, 3, 4), IDS(4));
        struct assessment a;
        assess(s, SCOPE_CLUSTER, &a);
        ck_assert(a.good);
        ck_assert_int_eq(a.cluster_under_replicated, 0);
        ck_assert_str_eq(a.checks[CHECK_CLUSTER_URP].detail,
                         "no under-replicated partition among 1; 1 offline (no leader), not counted");
        sb_topic(s, "empty", -1);
        s->topics[0].n_partitions = 1;
        assess(s, SCOPE_CLUSTER, &a);
        ck_assert_str_eq(a.checks[CHECK_CLUSTER_URP].detail, "no under-replicated partition among 1");
        s->topics[0].n_partitions = 2;
        snapshot_free(s);
}
END_TEST

START_TEST(assess_cluster_detail_lists_many_with_ellipsis) {
        struct snapshot *s = cluster3();
        struct snap_topic *t = sb_topic(s, "a-rather-long-topic-name", -1);
        for (int i = 0; i < 40; i++)
                sb_part(t, i, 2, IDS(2, 3, 4), IDS(2));
        struct assessment a;
        assess(s, SCOPE_CLUSTER, &a);
        ck_assert_int_eq(a.cluster_under_replicated, 40);
        const char *d = a.checks[CHECK_CLUSTER_URP].detail;
        ck_assert_msg(strncmp(d, "40 under-replicated partitions: a-rather-long-topic-name-0 (isr 1 of 3), ", 72) == 0, "%s", d);
        ck_assert_msg(ends_with(d, "), ..."), "%s", d);
        snapshot_free(s);
}
END_TEST

/* ---- health ---- */

static const struct health_policy policy = {
        .ready_after = 3, .stale_after_ms = 15000, .liveness_window_ms = 60000,
};

static struct assessment good_assessment(void) {
        struct snapshot *s = cluster3();
        sb_part(sb_topic(s, "orders", -1), 0, 1, IDS(1, 2), IDS(1, 2));
        struct assessment a;
        assess(s, SCOPE_LOCAL, &a);
        snapshot_free(s);
        ck_assert(a.good);
        return a;
}

static struct assessment lagging_assessment(void) {
        struct snapshot *s = cluster3();
        sb_part(sb_topic(s, "orders", -1), 0, 2, IDS(1, 2), IDS(2));
        struct assessment a;
        assess(s, SCOPE_LOCAL, &a);
        snapshot_free(s);
        ck_assert(a.reachable && !a.good);
        return a;
}

static struct assessment unreachable_assessment(void) {
        struct check_outcome o = { NULL, "timed out" };
        struct assessment a;
        verdict_assess(&o, LOCAL, SCOPE_LOCAL, &a);
        return a;
}

START_TEST(health_needs_ready_after_consecutive_good_checks) {
        struct health h;
        struct verdict v;
        struct assessment good = good_assessment();
        health_init(&h, 1000);
        health_record(&h, &good, 2000);
        health_record(&h, &good, 3000);
        health_verdict(&h, &policy, 3000, &v);
        ck_assert(!v.ready);
        ck_assert(!v.checks[CHECK_CONSECUTIVE].ok);
        ck_assert_str_eq(v.checks[CHECK_CONSECUTIVE].detail, "2 of 3 consecutive good checks");
        health_record(&h, &good, 4000);
        health_verdict(&h, &policy, 4000, &v);
        ck_assert(v.ready);
        ck_assert_str_eq(v.checks[CHECK_CONSECUTIVE].detail, "3 consecutive good checks (3 needed)");
        ck_assert_int_eq(h.consecutive_good, 3);
}
END_TEST

START_TEST(health_bad_check_resets_the_consecutive_count) {
        struct health h;
        struct verdict v;
        struct assessment good = good_assessment(), bad = lagging_assessment();
        health_init(&h, 0);
        for (int i = 1; i <= 5; i++)
                health_record(&h, &good, (uint64_t) i * 1000);
        health_record(&h, &bad, 6000);
        health_verdict(&h, &policy, 6000, &v);
        ck_assert(!v.ready);
        ck_assert_int_eq(h.consecutive_good, 0);
        ck_assert(!v.checks[CHECK_CAUGHT_UP].ok);
        ck_assert_str_eq(v.checks[CHECK_CONSECUTIVE].detail, "0 of 3 consecutive good checks");
        health_record(&h, &good, 7000);
        health_verdict(&h, &policy, 7000, &v);
        ck_assert(!v.ready);
        ck_assert_str_eq(v.checks[CHECK_CONSECUTIVE].detail, "1 of 3 consecutive good checks");
        ck_assert_uint_eq(h.checks_total, 7);
        ck_assert_uint_eq(h.checks_failed, 1);
}
END_TEST

START_TEST(health_ready_after_one_means_the_first_good_check) {
        struct health_policy p = policy;
        p.ready_after = 1;
        struct health h;
        struct verdict v;
        struct assessment good = good_assessment();
        health_init(&h, 0);
        health_record(&h, &good, 10);
        health_verdict(&h, &p, 10, &v);
        ck_assert(v.ready);
}
END_TEST

START_TEST(health_stale_assessment_is_never_ready) {
        struct health h;
        struct verdict v;
        struct assessment good = good_assessment();
        health_init(&h, 0);
        for (int i = 1; i <= 3; i++)
                health_record(&h, &good, (uint64_t) i * 1000);
        health_verdict(&h, &policy, 3000 + 15000, &v);
        ck_assert(v.ready);
        ck_assert_str_eq(v.checks[CHECK_FRESH].detail, "last check 15s ago (limit 15s)");
        health_verdict(&h, &policy, 3000 + 15001, &v);
        ck_assert(!v.ready);
        ck_assert(!v.checks[CHECK_FRESH].ok);
        ck_assert_str_eq(v.checks[CHECK_FRESH].detail, "last check 15.0s ago (limit 15s)");
        health_verdict(&h, &policy, 3000 + 12345, &v);
        ck_assert_str_eq(v.checks[CHECK_FRESH].detail, "last check 12.3s ago (limit 15s)");
        health_verdict(&h, &policy, 3000 + 250, &v);
        ck_assert_str_eq(v.checks[CHECK_FRESH].detail, "last check 250ms ago (limit 15s)");
        /* A clock that appears to go backwards counts as no time passed. */
        health_verdict(&h, &policy, 2000, &v);
        ck_assert_str_eq(v.checks[CHECK_FRESH].detail, "last check 0ms ago (limit 15s)");
        ck_assert(v.ready);
}
END_TEST

START_TEST(health_before_the_first_check_is_not_ready) {
        struct health h;
        struct verdict v;
        health_init(&h, 500);
        health_verdict(&h, &policy, 700, &v);
        ck_assert(!v.ready);
        ck_assert(!v.live);
        ck_assert(v.checks[CHECK_REACHABLE].applies);
        ck_assert(!v.checks[CHECK_REACHABLE].ok);
        ck_assert_str_eq(v.checks[CHECK_REACHABLE].detail, "no check has completed yet");
        ck_assert(!v.checks[CHECK_REGISTERED].applies);
        ck_assert(!v.checks[CHECK_CAUGHT_UP].applies);
        ck_assert(!v.checks[CHECK_CLUSTER_URP].applies);
        ck_assert(v.checks[CHECK_FRESH].applies);
        ck_assert(!v.checks[CHECK_FRESH].ok);
        ck_assert_str_eq(v.checks[CHECK_FRESH].detail, "no check has completed yet");
        ck_assert_str_eq(v.checks[CHECK_CONSECUTIVE].detail, "0 of 3 consecutive good checks");
}
END_TEST

START_TEST(health_is_not_live_before_the_first_answer) {
        struct health h;
        struct verdict v;
        struct assessment down = unreachable_assessment(), lagging = lagging_assessment();
        health_init(&h, 1000);
        health_verdict(&h, &policy, 1000, &v);
        ck_assert(!v.live);
        ck_assert_str_eq(v.live_detail, "starting: the broker has not answered yet (0ms since the agent started)");
        health_record(&h, &down, 30000);
        health_verdict(&h, &policy, 61000, &v);
        ck_assert(!v.live);
        ck_assert_str_eq(v.live_detail, "starting: the broker has not answered yet (60s since the agent started)");
        /* The first answer, lagging or not, makes it live. */
        health_record(&h, &lagging, 62000);
        health_verdict(&h, &policy, 62000, &v);
        ck_assert(v.live);
}
END_TEST

START_TEST(health_liveness_follows_the_last_answer) {
        struct health h;
        struct verdict v;
        struct assessment down = unreachable_assessment(), lagging = lagging_assessment();
        health_init(&h, 0);
        /* Answering is enough: a lagging broker is live. */
        health_record(&h, &lagging, 50000);
        health_record(&h, &down, 80000);
        health_verdict(&h, &policy, 100000, &v);
        ck_assert(v.live);
        ck_assert(!v.ready);
        ck_assert_str_eq(v.live_detail, "broker answered 50s ago (window 1m)");
        ck_assert_uint_eq(h.last_reachable_ms, 50000);
        health_verdict(&h, &policy, 110001, &v);
        ck_assert(!v.live);
        ck_assert_str_eq(v.live_detail, "broker has not answered for 60.0s (window 1m)");
}
END_TEST

/* A crash, then the kubelet starts a new broker process at 70s: the old process answered at
 * 50s, well within the window, but the new one is starting until a check that started after
 * 70s gets an answer. A check that started before and ended after does not count. */
START_TEST(health_a_new_process_is_starting_until_a_check_started_after_it_answers) {
        struct health h;
        struct verdict v;
        struct assessment down = unreachable_assessment(), lagging = lagging_assessment();
        health_init(&h, 0);
        health_record_check(&h, &lagging, 49000, 50000);
        health_record_check(&h, &down, 69000, 75000);
        health_verdict(&h, &policy, 80000, &v);
        ck_assert(v.live);
        health_live_for_process(&h, &policy, 80000, 10000, &v);
        ck_assert(!v.live);
        ck_assert_str_eq(v.live_detail, "starting: this broker process started 10s ago and has not answered since");
        /* Answered by a check that started 1ms before the process: still the old one's. */
        health_record_check(&h, &lagging, 69999, 81000);
        health_verdict(&h, &policy, 82000, &v);
        health_live_for_process(&h, &policy, 82000, 12000, &v);
        ck_assert(!v.live);
        health_record_check(&h, &lagging, 70000, 83000);
        health_verdict(&h, &policy, 84000, &v);
        health_live_for_process(&h, &policy, 84000, 14000, &v);
        ck_assert(v.live);
        ck_assert_str_eq(v.live_detail, "broker answered 1s ago (window 1m)");
        /* Then the window applies as without a process age. */
        health_verdict(&h, &policy, 143001, &v);
        health_live_for_process(&h, &policy, 143001, 73001, &v);
        ck_assert(!v.live);
        ck_assert_str_eq(v.live_detail, "broker has not answered for 60.0s (window 1m)");
        /* A process older than every clock reading: any answer is its own. */
        health_verdict(&h, &policy, 90000, &v);
        health_live_for_process(&h, &policy, 90000, UINT64_C(1) << 50, &v);
        ck_assert(v.live);
}
END_TEST

START_TEST(health_a_process_is_starting_while_the_broker_never_answered) {
        struct health h;
        struct verdict v;
        health_init(&h, 1000);
        health_verdict(&h, &policy, 5000, &v);
        health_live_for_process(&h, &policy, 5000, 4000, &v);
        ck_assert(!v.live);
        ck_assert_str_eq(v.live_detail, "starting: this broker process started 4s ago and has not answered since");
}
END_TEST

START_TEST(health_liveness_ignores_other_brokers) {
        struct snapshot *s = sb_new(1, IDS(2, 3));   /* not even registered */
        sb_part(sb_topic(s, "orders", -1), 0, -1, IDS(1, 2), IDS(2));
        struct assessment a;
        assess(s, SCOPE_CLUSTER, &a);
        snapshot_free(s);
        struct health h;
        struct verdict v;
        health_init(&h, 0);
        health_record(&h, &a, 100000);
        health_verdict(&h, &policy, 100000, &v);
        ck_assert(v.live);
        ck_assert(!v.ready);
}
END_TEST

START_TEST(check_names_are_stable) {
        ck_assert_str_eq(check_name(CHECK_REACHABLE), "reachable");
        ck_assert_str_eq(check_name(CHECK_REGISTERED), "registered");
        ck_assert_str_eq(check_name(CHECK_CAUGHT_UP), "caught_up");
        ck_assert_str_eq(check_name(CHECK_CLUSTER_URP), "cluster_urp");
        ck_assert_str_eq(check_name(CHECK_FRESH), "fresh");
        ck_assert_str_eq(check_name(CHECK_CONSECUTIVE), "consecutive");
        ck_assert_str_eq(check_name(CHECK_COUNT), "unknown");
}
END_TEST

int main(void) {
        Suite *s = suite_create("verdict");
        TCase *tc = tcase_create("snapshot");
        tcase_add_test(tc, snapshot_dup_copies_deeply);
        tcase_add_test(tc, snapshot_free_and_dup_accept_null);
        suite_add_tcase(s, tc);
        tc = tcase_create("assess");
        tcase_add_test(tc, assess_in_sync_on_every_hosted_partition_is_good);
        tcase_add_test(tc, assess_lagging_partition_fails_caught_up_and_names_it);
        tcase_add_test(tc, assess_single_lagging_partition_is_singular);
        tcase_add_test(tc, assess_offline_partitions_are_counted_but_do_not_block);
        tcase_add_test(tc, assess_unregistered_broker_fails_registered);
        tcase_add_test(tc, assess_long_broker_list_is_cut_with_ellipsis);
        tcase_add_test(tc, assess_unreachable_reports_the_error_and_checks_nothing_else);
        tcase_add_test(tc, assess_long_error_text_is_cut_to_the_detail_size);
        tcase_add_test(tc, assess_topic_with_error_and_no_partitions_is_not_hosted);
        tcase_add_test(tc, assess_caps_the_lagging_list_and_counts_the_rest);
        tcase_add_test(tc, assess_keeps_the_first_16_isr_members_and_the_true_count);
        tcase_add_test(tc, assess_cluster_scope_fails_on_any_under_replicated_partition);
        tcase_add_test(tc, assess_cluster_scope_ignores_offline_partitions);
        tcase_add_test(tc, assess_cluster_detail_lists_many_with_ellipsis);
        suite_add_tcase(s, tc);
        tc = tcase_create("health");
        tcase_add_test(tc, health_needs_ready_after_consecutive_good_checks);
        tcase_add_test(tc, health_bad_check_resets_the_consecutive_count);
        tcase_add_test(tc, health_ready_after_one_means_the_first_good_check);
        tcase_add_test(tc, health_stale_assessment_is_never_ready);
        tcase_add_test(tc, health_before_the_first_check_is_not_ready);
        tcase_add_test(tc, health_is_not_live_before_the_first_answer);
        tcase_add_test(tc, health_liveness_follows_the_last_answer);
        tcase_add_test(tc, health_liveness_ignores_other_brokers);
        tcase_add_test(tc, health_a_new_process_is_starting_until_a_check_started_after_it_answers);
        tcase_add_test(tc, health_a_process_is_starting_while_the_broker_never_answered);
        tcase_add_test(tc, check_names_are_stable);
        suite_add_tcase(s, tc);
        return tu_run_suite(s);
}
