/* Suite for the preStop gate: Strimzi's canRoll rule, branch by branch. */
#include <check.h>
#include <string.h>

#include "kpa/canroll.h"
#include "snapbuild.h"
#include "testutil.h"

#define LOCAL 1

/* One topic with one partition led by broker 2, built from the arguments. */
static struct canroll_result one(int topic_min, int default_min, const int32_t *replicas,
                                 int n_replicas, const int32_t *isr, int n_isr) {
        struct snapshot *s = sb_new(1, default_min, IDS(1, 2, 3));
        sb_part(sb_topic(s, "orders", topic_min), 0, 2, replicas, n_replicas, isr, n_isr);
        struct canroll_result r;
        canroll_evaluate(s, LOCAL, &r);
        snapshot_free(s);
        return r;
}

START_TEST(canroll_full_isr_above_min_is_safe) {
        struct canroll_result r = one(2, -1, IDS(1, 2, 3), IDS(1, 2, 3));
        ck_assert(r.safe);
        ck_assert_int_eq(r.blocking, 0);
        ck_assert_str_eq(r.reason, "no hosted partition would drop below min.insync.replicas (1 hosted)");
}
END_TEST

START_TEST(canroll_isr_at_min_with_local_in_isr_blocks) {
        struct canroll_result r = one(2, -1, IDS(1, 2, 3), IDS(1, 2));
        ck_assert(!r.safe);
        ck_assert_int_eq(r.blocking, 1);
        ck_assert_str_eq(r.reason, "stopping would leave 1 partition below min.insync.replicas: "
                                   "orders-0 isr=2 min=2 replicas=3");
}
END_TEST

START_TEST(canroll_isr_at_min_without_local_is_safe) {
        /* Local is lagging: stopping it takes nothing from the ISR. */
        struct canroll_result r = one(2, -1, IDS(1, 2, 3), IDS(2, 3));
        ck_assert(r.safe);
}
END_TEST

START_TEST(canroll_already_under_min_with_local_replica_blocks) {
        struct canroll_result r = one(2, -1, IDS(1, 2, 3), IDS(2));
        ck_assert(!r.safe);
        ck_assert_int_eq(r.blocking, 1);
        ck_assert_str_eq(r.reason, "stopping would leave 1 partition below min.insync.replicas: "
                                   "orders-0 isr=1 min=2 replicas=3 (already under min)");
}
END_TEST

START_TEST(canroll_no_more_replicas_than_min_never_blocks) {
        /* RF 2 with min 2: any stop loses availability, waiting cannot help. */
        ck_assert(one(2, -1, IDS(1, 2), IDS(1, 2)).safe);
        ck_assert(one(2, -1, IDS(1, 2), IDS(2)).safe);
        ck_assert(one(2, -1, IDS(1, 2), IDS(1)).safe);
        /* RF 1 with min 1, even when the ISR is empty. */
        ck_assert(one(1, -1, IDS(1), IDS(1)).safe);
        ck_assert(one(1, -1, IDS(1), NOIDS).safe);
}
END_TEST

START_TEST(canroll_unknown_min_isr_blocks_every_hosted_partition) {
        /* Unknown (DescribeConfigs failed or gave no value): fail closed, even with a full ISR
         * or a single replica, and even when the broker default is known. */
        struct canroll_result r = one(-1, 2, IDS(1, 2, 3), IDS(1, 2, 3));
        ck_assert(!r.safe);
        ck_assert_int_eq(r.blocking, 1);
        ck_assert_int_eq(r.unknown, 1);
        ck_assert_str_eq(r.reason, "min.insync.replicas is unknown for 1 hosted partition, so "
                                   "stopping is not known to be safe: orders-0 isr=3 min=? replicas=3");
        ck_assert(!one(-1, -1, IDS(1), IDS(1)).safe);
        /* Zero is not a valid setting and counts as unknown. */
        r = one(0, 1, IDS(1, 2, 3), IDS(1, 2, 3));
        ck_assert(!r.safe);
        ck_assert_int_eq(r.unknown, 1);
}
END_TEST

START_TEST(canroll_uses_the_topic_value_never_the_broker_default) {
        /* DescribeConfigs reports a topic's effective value: an override beats the default
         * in either direction. */
        struct canroll_result r = one(3, 2, IDS(1, 2, 3, 4), IDS(1, 2, 3));
        ck_assert(!r.safe);
        ck_assert_str_eq(r.reason, "stopping would leave 1 partition below min.insync.replicas: "
                                   "orders-0 isr=3 min=3 replicas=4");
        ck_assert(one(1, 2, IDS(1, 2, 3), IDS(1, 2)).safe);
}
END_TEST

START_TEST(canroll_reason_names_both_kinds_when_mixed) {
        struct snapshot *s = sb_new(1, 2, IDS(1, 2, 3));
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
        struct snapshot *s = sb_new(2, 2, IDS(1, 2, 3));
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
        struct snapshot *s = sb_new(1, 2, IDS(1, 2, 3));
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

int main(void) {
        Suite *s = suite_create("canroll");
        TCase *tc = tcase_create("canroll");
        tcase_add_test(tc, canroll_full_isr_above_min_is_safe);
        tcase_add_test(tc, canroll_isr_at_min_with_local_in_isr_blocks);
        tcase_add_test(tc, canroll_isr_at_min_without_local_is_safe);
        tcase_add_test(tc, canroll_already_under_min_with_local_replica_blocks);
        tcase_add_test(tc, canroll_no_more_replicas_than_min_never_blocks);
        tcase_add_test(tc, canroll_unknown_min_isr_blocks_every_hosted_partition);
        tcase_add_test(tc, canroll_uses_the_topic_value_never_the_broker_default);
        tcase_add_test(tc, canroll_reason_names_both_kinds_when_mixed);
        tcase_add_test(tc, canroll_ignores_partitions_the_local_broker_does_not_host);
        tcase_add_test(tc, canroll_counts_every_blocking_partition_and_lists_what_fits);
        tcase_add_test(tc, canroll_without_metadata_is_not_safe);
        suite_add_tcase(s, tc);
        return tu_run_suite(s);
}
