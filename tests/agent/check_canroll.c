/* Suite for the preStop gate: Strimzi's canRoll rule, branch by branch. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "kpa/canroll.h"
#include "snapbuild.h"
#include "testutil.h"

#define LOCAL 1

/* One topic with one partition led by broker 2, built from the arguments. */
static struct canroll_result one(int topic_min, const int32_t *replicas,
                                 int n_replicas, const int32_t *isr, int n_isr) {
        struct snapshot *s = sb_new(1, IDS(1, 2, 3));
        sb_part(sb_topic(s, "orders", topic_min), 0, 2, replicas, n_replicas, isr, n_isr);
        struct canroll_result r;
        canroll_evaluate(s, LOCAL, &r);
        snapshot_free(s);
        return r;
}

START_TEST(canroll_full_isr_above_min_is_safe) {
        struct canroll_result r = one(2, IDS(1, 2, 3), IDS(1, 2, 3));
        ck_assert(r.safe);
        ck_assert_int_eq(r.blocking, 0);
        ck_assert_str_eq(r.reason, "no hosted partition would drop below min.insync.replicas (1 hosted)");
}
END_TEST

START_TEST(canroll_isr_at_min_with_local_in_isr_blocks) {
        struct canroll_result r = one(2, IDS(1, 2, 3), IDS(1, 2));
        ck_assert(!r.safe);
        ck_assert_int_eq(r.blocking, 1);
        ck_assert_str_eq(r.reason, "stopping would leave 1 partition below min.insync.replicas: "
                                   "orders-0 isr=2 min=2 replicas=3");
}
END_TEST

START_TEST(canroll_isr_at_min_without_local_is_safe) {
        /* Local is lagging: stopping it takes nothing from the ISR. */
        struct canroll_result r = one(2, IDS(1, 2, 3), IDS(2, 3));
        ck_assert(r.safe);
}
END_TEST

START_TEST(canroll_already_under_min_with_local_replica_blocks) {
        struct canroll_result r = one(2, IDS(1, 2, 3), IDS(2));
        ck_assert(!r.safe);
        ck_assert_int_eq(r.blocking, 1);
        ck_assert_str_eq(r.reason, "stopping would leave 1 partition below min.insync.replicas: "
                                   "orders-0 isr=1 min=2 replicas=3 (already under min)");
}
END_TEST

START_TEST(canroll_no_more_replicas_than_min_never_blocks) {
        /* RF 2 with min 2: any stop loses availability, waiting cannot help. */
        ck_assert(one(2, IDS(1, 2), IDS(1, 2)).safe);
        ck_assert(one(2, IDS(1, 2), IDS(2)).safe);
        ck_assert(one(2, IDS(1, 2), IDS(1)).safe);
        /* RF 1 with min 1, even when the ISR is empty. */
        ck_assert(one(1, IDS(1), IDS(1)).safe);
        ck_assert(one(1, IDS(1), NOIDS).safe);
}
END_TEST

START_TEST(canroll_unknown_min_isr_blocks_every_hosted_partition) {
        /* Unknown (DescribeConfigs failed or gave no value): fail closed, even with a full ISR
         * or a single replica. */
        struct canroll_result r = one(-1, IDS(1, 2, 3), IDS(1, 2, 3));
        ck_assert(!r.safe);
        ck_assert_int_eq(r.blocking, 1);
        ck_assert_int_eq(r.unknown, 1);
        ck_assert_str_eq(r.reason, "min.insync.replicas is unknown for 1 hosted partition, so "
                                   "stopping is not known to be safe: orders-0 isr=3 min=? replicas=3");
        ck_assert(!one(-1, IDS(1), IDS(1)).safe);
        /* Zero is not a valid setting and counts as unknown. */
        r = one(0, IDS(1, 2, 3), IDS(1, 2, 3));
        ck_assert(!r.safe);
        ck_assert_int_eq(r.unknown, 1);
}
END_TEST

START_TEST(canroll_uses_each_topics_effective_value) {
        /* DescribeConfigs reports a topic's effective value (an override or the default). */
        struct canroll_result r = one(3, IDS(1, 2, 3, 4), IDS(1, 2, 3));
        ck_assert(!r.safe);
        ck_assert_str_eq(r.reason, "stopping would leave 1 partition below min.insync.replicas: "
                                   "orders-0 isr=3 min=3 replicas=4");
        ck_assert(one(1, IDS(1, 2, 3), IDS(1, 2)).safe);
}
END_TEST

START_TEST(canroll_reason_names_both_kinds_when_mixed) {
        struct snapshot *s = sb_new(1, IDS(1, 2, 3));
        sb_part(sb_topic(s, "orders", 2), 0, 2, IDS(1, 2, 3), IDS(1, 2));
        struct snap_topic *t = sb_topic(s, "fresh", -1);
        sb_part(t, 0, 2, IDS(1, 2, 3), IDS(1, 2, 3));
        sb_part(t, 1, 2, IDS(1, 2, 3), IDS(1, 2, 3));
        struct canroll_result r;
        canroll_evaluate(s, LOCAL, &r);
        ck_assert(!r.safe);
        ck_assert_int_eq(r.blocking, 3);
        ck_assert_int_eq(r.unknown, 2);
        ck_assert_str_eq(r.reason, "stopping would leave 1 partition below min.insync.replicas, and "
                                   "it is unknown for 2 more: orders-0 isr=2 min=2 replicas=3, "
                                   "fresh-0 isr=3 min=? replicas=3, fresh-1 isr=3 min=? replicas=3");
        snapshot_free(s);
}
END_TEST

START_TEST(canroll_ignores_partitions_the_local_broker_does_not_host) {
        struct snapshot *s = sb_new(2, IDS(1, 2, 3));
        struct snap_topic *t = sb_topic(s, "orders", -1);
        sb_part(t, 0, 2, IDS(2, 3, 4), IDS(2, 3));
        sb_part(t, 1, 2, IDS(2, 3, 4), IDS(2));
        struct canroll_result r;
        canroll_evaluate(s, LOCAL, &r);
        ck_assert(r.safe);
        ck_assert_str_eq(r.reason, "no hosted partition would drop below min.insync.replicas (0 hosted)");
        snapshot_free(s);
}
END_TEST

START_TEST(canroll_counts_every_blocking_partition_and_lists_what_fits) {
        struct snapshot *s = sb_new(1, IDS(1, 2, 3));
        struct snap_topic *t = sb_topic(s, "a-topic-with-quite-a-long-name", 2);
        for (int i = 0; i < 50; i++)
                sb_part(t, i, 2, IDS(1, 2, 3), IDS(1, 2));
        sb_part(t, 50, 2, IDS(1, 2, 3), IDS(1, 2, 3));
        struct canroll_result r;
        canroll_evaluate(s, LOCAL, &r);
        ck_assert(!r.safe);
        ck_assert_int_eq(r.blocking, 50);
        ck_assert_msg(strncmp(r.reason, "stopping would leave 50 partitions below "
                              "min.insync.replicas: a-topic-with-quite-a-long-name-0 isr=2", 92) == 0,
                      "%s", r.reason);
        size_t n = strlen(r.reason);
        ck_assert_msg(n > 5 && strcmp(r.reason + n - 5, ", ...") == 0, "%s", r.reason);
        snapshot_free(s);
}
END_TEST

START_TEST(canroll_without_metadata_is_not_safe) {
        struct canroll_result r;
        canroll_evaluate(NULL, LOCAL, &r);
        ck_assert(!r.safe);
        ck_assert_int_eq(r.blocking, 0);
        ck_assert_str_eq(r.reason, "no metadata: the local broker did not answer");
}
END_TEST

/* ---- the cross-check with other brokers ---- */

/* Broker LOCAL's view of one topic, min 2, partition 0 on [1,2,3] with the given ISR. */
static struct snapshot *view(int32_t from, const int32_t *brokers, int n_brokers,
                             const int32_t *isr, int n_isr) {
        struct snapshot *s = sb_new(from, brokers, n_brokers);
        sb_part(sb_topic(s, "orders", 2), 0, 2, IDS(1, 2, 3), isr, n_isr);
        return s;
}

static struct canroll_peers peers(struct snapshot *v, int32_t from) {
        struct canroll_peers p = { .view = v, .view_from = from };
        return p;
}

static void ask(struct canroll_peers *p, int32_t id, bool answered) {
        p->asked[p->n_asked] = id;
        p->answered[p->n_asked++] = answered;
}

START_TEST(canroll_peers_to_ask_are_isr_members_at_min_or_one_above) {
        struct snapshot *s = sb_new(1, IDS(1, 2, 3, 4, 5, 6, 7));
        struct snap_topic *t = sb_topic(s, "orders", 2);
        sb_part(t, 0, 2, IDS(1, 2, 3), IDS(1, 2, 3));        /* min + 1: asks 2 and 3 */
        sb_part(t, 1, 4, IDS(1, 4, 5, 6), IDS(1, 4, 5, 6));  /* min + 2: one more may fail */
        sb_part(t, 2, 5, IDS(2, 5, 6), IDS(5, 6));           /* not hosted */
        sb_part(sb_topic(s, "fresh", -1), 0, 7, IDS(1, 7), IDS(1, 7));  /* unknown min blocks anyway */
        struct snapshot *v = sb_new(2, IDS(1, 2, 3, 4, 5, 6, 7));
        t = sb_topic(v, "orders", 2);
        sb_part(t, 1, 4, IDS(1, 4, 5, 6), IDS(6, 4, 1));     /* the peer sees it at min + 1 */
        int32_t ids[CANROLL_MAX_ASK];
        ck_assert_int_eq(canroll_peers_to_ask(s, v, LOCAL, ids, CANROLL_MAX_ASK), 4);
        ck_assert_int_eq(ids[0], 2);
        ck_assert_int_eq(ids[1], 3);
        ck_assert_int_eq(ids[2], 4);
        ck_assert_int_eq(ids[3], 6);
        /* Without the peer's view, and with room for one only: the count still says 2. */
        ck_assert_int_eq(canroll_peers_to_ask(s, NULL, LOCAL, ids, 1), 2);
        ck_assert_int_eq(ids[0], 2);
        snapshot_free(s);
        snapshot_free(v);
}
END_TEST

START_TEST(canroll_gate_counts_a_silent_isr_member_out_of_the_isr) {
        /* ISR [1,2,3] with min 2 looks safe, but 2 crashed and is still listed. */
        struct snapshot *l = view(1, IDS(1, 2, 3), IDS(1, 2, 3));
        struct canroll_peers p = peers(view(3, IDS(1, 2, 3), IDS(1, 2, 3)), 3);
        ask(&p, 2, false);
        ask(&p, 3, true);
        snprintf(p.silent_why, sizeof p.silent_why, "Local: Timed out");
        struct canroll_gate g;
        canroll_gate_evaluate(l, "", &p, LOCAL, &g);
        ck_assert(!g.safe);
        ck_assert_int_eq(g.n_silent, 1);
        ck_assert_int_eq(g.silent[0], 2);
        ck_assert_str_eq(g.reason, "stopping would leave 1 partition below min.insync.replicas: "
                                   "orders-0 isr=2 min=2 replicas=3 (1 more listed, not answering); "
                                   "in-sync peers not answering as themselves: 2 (2: Local: Timed out)");
        /* Both answer: safe, and the reason says what was confirmed. */
        p.answered[0] = true;
        canroll_gate_evaluate(l, "", &p, LOCAL, &g);
        ck_assert(g.safe);
        ck_assert_int_eq(g.n_silent, 0);
        ck_assert_str_eq(g.reason, "no hosted partition would drop below min.insync.replicas (1 hosted); "
                                   "broker 3's metadata agrees, and 2 of 2 in-sync peers asked "
                                   "answered as themselves");
        snapshot_free(l);
        snapshot_free(p.view);
}
END_TEST

START_TEST(canroll_gate_releases_only_when_both_views_are_safe) {
        /* The local view is frozen (cut off from the controllers); the peer's is current. */
        struct snapshot *l = view(1, IDS(1, 2, 3), IDS(1, 2, 3));
        struct canroll_peers p = peers(view(2, IDS(1, 2), IDS(1, 2)), 2);
        ask(&p, 2, true);
        ask(&p, 3, true);
        struct canroll_gate g;
        canroll_gate_evaluate(l, "", &p, LOCAL, &g);
        ck_assert(!g.safe);
        ck_assert_str_eq(g.reason, "in broker 2's metadata: stopping would leave 1 partition below "
                                   "min.insync.replicas: orders-0 isr=2 min=2 replicas=3");
        /* The other way round: the local view blocks, whatever the peer says. */
        struct snapshot *l2 = view(1, IDS(1, 2, 3), IDS(1, 2));
        struct canroll_peers p2 = peers(view(2, IDS(1, 2, 3), IDS(1, 2, 3)), 2);
        ask(&p2, 2, true);
        canroll_gate_evaluate(l2, "", &p2, LOCAL, &g);
        ck_assert(!g.safe);
        ck_assert_str_eq(g.reason, "stopping would leave 1 partition below min.insync.replicas: "
                                   "orders-0 isr=2 min=2 replicas=3");
        snapshot_free(l);
        snapshot_free(p.view);
        snapshot_free(l2);
        snapshot_free(p2.view);
}
END_TEST

START_TEST(canroll_gate_without_a_peer_view_holds_unless_no_other_broker_is_listed) {
        struct snapshot *l = view(1, IDS(1, 2, 3), IDS(1, 2, 3));
        struct canroll_peers p = { .view_from = -1 };
        snprintf(p.view_error, sizeof p.view_error, "b2:9092 did not answer: timed out");
        struct canroll_gate g;
        canroll_gate_evaluate(l, "", &p, LOCAL, &g);
        ck_assert(!g.safe);
        ck_assert_str_eq(g.reason, "the local metadata is not confirmed by another broker's "
                                   "(b2:9092 did not answer: timed out)");
        snapshot_free(l);
        /* A single broker has nobody to ask; RF 1 never blocks. */
        struct snapshot *one = sb_new(1, IDS(1));
        sb_part(sb_topic(one, "solo", 1), 0, 1, IDS(1), IDS(1));
        canroll_gate_evaluate(one, "", &p, LOCAL, &g);
        ck_assert(g.safe);
        ck_assert_str_eq(g.reason, "no hosted partition would drop below min.insync.replicas (1 hosted), "
                                   "and no other broker is listed");
        snapshot_free(one);
}
END_TEST

START_TEST(canroll_gate_silent_local_broker_goes_only_on_a_peers_evidence) {
        struct canroll_gate g;
        const char *err = "local broker b1:9092 did not answer within 4000ms: SASL authentication failed";
        /* Nobody else answers: silence alone proves nothing. */
        struct canroll_peers none = { .view_from = -1 };
        snprintf(none.view_error, sizeof none.view_error, "b2:9092 did not answer: refused");
        canroll_gate_evaluate(NULL, err, &none, LOCAL, &g);
        ck_assert(!g.safe);
        ck_assert_str_eq(g.reason, "the local broker does not answer and no other broker could be "
                                   "asked whether it is fenced (b2:9092 did not answer: refused); "
                                   "local: local broker b1:9092 did not answer within 4000ms: SASL "
                                   "authentication failed");
        /* A peer still lists it, in sync: a healthy broker behind wrong agent settings. */
        struct canroll_peers p = peers(view(2, IDS(1, 2, 3), IDS(1, 2, 3)), 2);
        canroll_gate_evaluate(NULL, err, &p, LOCAL, &g);
        ck_assert(!g.safe);
        ck_assert_msg(strncmp(g.reason, "the local broker does not answer, but broker 2 still lists it "
                              "registered and in the ISR of 1 partition, so it is not known to be "
                              "fenced; local: ", 133) == 0, "%s", g.reason);
        snapshot_free(p.view);
        /* Fenced: gone from the broker list (its ISR entries may linger). */
        p = peers(view(2, IDS(2, 3), IDS(1, 2, 3)), 2);
        canroll_gate_evaluate(NULL, err, &p, LOCAL, &g);
        ck_assert(g.safe);
        ck_assert_msg(strncmp(g.reason, "the local broker does not answer, and broker 2 lists it as "
                              "fenced or unregistered; local: ", 84) == 0, "%s", g.reason);
        snapshot_free(p.view);
        /* Listed but out of every ISR: stopping it takes nothing from any ISR. */
        p = peers(view(2, IDS(1, 2, 3), IDS(2, 3)), 2);
        canroll_gate_evaluate(NULL, err, &p, LOCAL, &g);
        ck_assert(g.safe);
        ck_assert_msg(strstr(g.reason, "broker 2 lists it in no ISR"), "%s", g.reason);
        snapshot_free(p.view);
}
END_TEST

START_TEST(canroll_gate_holds_when_more_peers_must_answer_than_are_asked) {
        struct snapshot *l = view(1, IDS(1, 2, 3), IDS(1, 2, 3));
        struct canroll_peers p = peers(view(2, IDS(1, 2, 3), IDS(1, 2, 3)), 2);
        ask(&p, 2, true);
        p.not_asked = 3;
        struct canroll_gate g;
        canroll_gate_evaluate(l, "", &p, LOCAL, &g);
        ck_assert(!g.safe);
        ck_assert_str_eq(g.reason, "3 more in-sync peers would have to answer than one check asks (64)");
        snapshot_free(l);
        snapshot_free(p.view);
}
END_TEST

int main(void) {
        Suite *s = suite_create("canroll");
        TCase *tc = tcase_create("canroll");
        tcase_add_test(tc, canroll_full_isr_above_min_is_safe);
        tcase_add_test(tc, canroll_isr_at_min_with_local_in_isr_blocks);
        tcase_add_test(tc, canroll_isr_at_min_without_local_is_safe);
        tcase_add_test(tc, canroll_already_under_min_with_local_replica_blocks);
        tcase_add_test(tc, canroll_no_more_replicas_than_min_never_blocks);
        tcase_add_test(tc, canroll_unknown_min_isr_blocks_every_hosted_partition);
        tcase_add_test(tc, canroll_uses_each_topics_effective_value);
        tcase_add_test(tc, canroll_reason_names_both_kinds_when_mixed);
        tcase_add_test(tc, canroll_ignores_partitions_the_local_broker_does_not_host);
        tcase_add_test(tc, canroll_counts_every_blocking_partition_and_lists_what_fits);
        tcase_add_test(tc, canroll_without_metadata_is_not_safe);
        tcase_add_test(tc, canroll_peers_to_ask_are_isr_members_at_min_or_one_above);
        tcase_add_test(tc, canroll_gate_counts_a_silent_isr_member_out_of_the_isr);
        tcase_add_test(tc, canroll_gate_releases_only_when_both_views_are_safe);
        tcase_add_test(tc, canroll_gate_without_a_peer_view_holds_unless_no_other_broker_is_listed);
        tcase_add_test(tc, canroll_gate_silent_local_broker_goes_only_on_a_peers_evidence);
        tcase_add_test(tc, canroll_gate_holds_when_more_peers_must_answer_than_are_asked);
        suite_add_tcase(s, tc);
        return tu_run_suite(s);
}
