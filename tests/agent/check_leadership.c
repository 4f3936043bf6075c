/* Suite for leadership (leadership.h): which partitions a broker asks to lead again, exactly;
 * when it asks (episodes, back-off, the budget, never while a stop is pending or not ready);
 * how results fold; and what the readiness check answers. */
#include <check.h>
#include <stdio.h>
#include <string.h>

#include "kpa/leadership.h"
#include "snapbuild.h"
#include "testutil.h"

static struct leadership_plan plan;

static const char *part_name(int i, char *buf, size_t len) {
        snprintf(buf, len, "%s-%d", plan.parts[i].topic, (int) plan.parts[i].partition);
        return buf;
}

START_TEST(plan_lists_exactly_the_preferred_partitions_led_elsewhere_with_this_broker_in_isr) {
        struct snapshot *s = sb_new(1, IDS(1, 2, 3));
        struct snap_topic *t = sb_topic(s, "a", 2);
        sb_part(t, 0, 2, IDS(1, 2, 3), IDS(1, 2, 3));   /* preferred, led by 2, in ISR: elect */
        sb_part(t, 1, 1, IDS(1, 3, 2), IDS(1, 2, 3));   /* preferred, led by us */
        sb_part(t, 2, 3, IDS(1, 3, 2), IDS(3, 2));      /* preferred, led by 3, not in ISR */
        sb_part(t, 3, 1, IDS(2, 1, 3), IDS(1, 2, 3));   /* we lead, 2 is preferred */
        sb_part(t, 4, 3, IDS(3, 1, 2), IDS(1, 2, 3));   /* someone else's */
        sb_part(t, 5, -1, IDS(1, 2, 3), IDS(1));        /* offline: KRaft elects by itself */
        struct snap_partition *bad = sb_part(t, 6, 2, IDS(1, 2, 3), IDS(1, 2, 3));
        bad->err = 9;                                   /* REPLICA_NOT_AVAILABLE: not trusted */
        t = sb_topic(s, "b", 2);
        sb_part(t, 7, 3, IDS(1, 2, 3), IDS(3, 1));      /* preferred, led by 3, in ISR: elect */
        t = sb_topic(s, "c", 2);
        t->err = 3;
        sb_part(t, 0, 2, IDS(1, 2, 3), IDS(1, 2, 3));   /* a topic with an error: skipped */
        leadership_plan(s, 1, &plan);
        ck_assert_int_eq(plan.preferred, 4);
        ck_assert_int_eq(plan.led, 2);
        ck_assert_int_eq(plan.preferred_led, 1);
        ck_assert_int_eq(plan.skewed, 2);
        ck_assert_int_eq(plan.not_in_isr, 1);
        ck_assert_int_eq(plan.n, 2);
        char b[KWIRE_ELECT_TOPIC_MAX + 16];
        ck_assert_str_eq(part_name(0, b, sizeof b), "a-0");
        ck_assert_str_eq(part_name(1, b, sizeof b), "b-7");
        /* Broker 2's view of the same snapshot: it prefers partition 3 and leads 0 and 6 (6
         * has an error and counts nowhere). */
        leadership_plan(s, 2, &plan);
        ck_assert_int_eq(plan.preferred, 1);
        ck_assert_int_eq(plan.led, 1);
        ck_assert_int_eq(plan.skewed, 1);
        ck_assert_str_eq(part_name(0, b, sizeof b), "a-3");
        snapshot_free(s);
        leadership_plan(NULL, 1, &plan);
        ck_assert_int_eq(plan.preferred + plan.led + plan.skewed + plan.n, 0);
}
END_TEST

START_TEST(plan_keeps_one_batch_and_counts_the_rest) {
        struct snapshot *s = sb_new(1, IDS(1, 2));
        struct snap_topic *t = sb_topic(s, "many", 2);
        for (int i = 0; i < KWIRE_ELECT_MAX_PARTITIONS + 10; i++)
                sb_part(t, i, 2, IDS(1, 2), IDS(1, 2));
        leadership_plan(s, 1, &plan);
        ck_assert_int_eq(plan.skewed, KWIRE_ELECT_MAX_PARTITIONS + 10);
        ck_assert_int_eq(plan.n, KWIRE_ELECT_MAX_PARTITIONS);
        ck_assert_int_eq(plan.parts[KWIRE_ELECT_MAX_PARTITIONS - 1].partition, KWIRE_ELECT_MAX_PARTITIONS - 1);
        snapshot_free(s);
}
END_TEST

static struct leadership l;

static void observe_at(int preferred, int preferred_led, int skewed, int not_in_isr, uint64_t now_ms) {
        struct leadership_plan p = { .preferred = preferred, .preferred_led = preferred_led, .led = preferred_led,
                                     .skewed = skewed, .not_in_isr = not_in_isr, .n = skewed };
        leadership_observe(&l, &p, now_ms);
}

static void observe(int preferred, int preferred_led, int skewed, int not_in_isr) {
        observe_at(preferred, preferred_led, skewed, not_in_isr, 0);
}

static void answered(int asked, const int16_t *codes, int n, uint64_t now) {
        struct leadership_outcome o = { .rc = 0, .asked = asked, .n_results = n, .at_unix_ms = 1000 };
        for (int i = 0; i < n; i++)
                o.codes[i] = codes[i];
        leadership_done(&l, &o, now);
}

START_TEST(elects_once_ready_and_never_while_not_ready_or_a_stop_is_pending) {
        leadership_init(&l, true, 10000);
        observe(4, 0, 4, 0);
        ck_assert(!leadership_should_elect(&l, false, 100));           /* not ready yet */
        leadership_base_ready(&l, true, 100);
        ck_assert(!leadership_should_elect(&l, true, 100));            /* a /prestop is held */
        ck_assert(leadership_should_elect(&l, false, 100));
        ck_assert(!leadership_should_elect(&l, false, 100));           /* one in flight */
        answered(4, (const int16_t[]){ 0, 0, 0, 84 }, 4, 200);
        ck_assert_int_eq(l.last_elected, 3);
        ck_assert_int_eq(l.last_not_needed, 1);
        ck_assert_int_eq(l.last_failed, 0);
        ck_assert_int_eq(l.n_last_errors, 2);
        ck_assert_int_eq(l.last_errors[0].code, 0);
        ck_assert_int_eq(l.last_errors[0].count, 3);
        ck_assert_int_eq(l.last_errors[1].code, 84);
        ck_assert_int_eq(l.last_errors[1].count, 1);
        ck_assert_uint_eq(l.elected_total, 3);
        ck_assert_uint_eq(l.not_needed_total, 1);
        ck_assert_int_eq(l.restored_after_ms, -1);
        observe_at(4, 4, 0, 0, 1300);
        ck_assert(l.restored);
        ck_assert_int_eq(l.restored_after_ms, 1200);                    /* since the episode began */
        ck_assert(!leadership_should_elect(&l, false, 5000));          /* nothing skewed */
        leadership_base_ready(&l, false, 6000);
        observe(4, 0, 4, 0);
        leadership_base_ready(&l, true, 7000);                          /* a new episode */
        ck_assert(!l.restored);
        ck_assert(leadership_should_elect(&l, false, 7000));
}
END_TEST

START_TEST(off_never_elects) {
        leadership_init(&l, false, 10000);
        observe(4, 0, 4, 0);
        leadership_base_ready(&l, true, 100);
        ck_assert(!leadership_should_elect(&l, false, 100));
        struct check_result c;
        leadership_readiness(&l, 100, &c);
        ck_assert(!c.applies);
}
END_TEST

START_TEST(failures_back_off_doubling_and_give_up_after_the_bound) {
        leadership_init(&l, true, 0);
        observe(4, 0, 4, 0);
        leadership_base_ready(&l, true, 0);
        uint64_t now = 0, want_backoff = LEADERSHIP_BACKOFF_FIRST_MS;
        for (int i = 0; i < LEADERSHIP_MAX_FAILURES; i++) {
                ck_assert_msg(leadership_should_elect(&l, false, now), "attempt %d", i);
                struct leadership_outcome o = { .rc = -110, .asked = 4 };
                snprintf(o.error, sizeof o.error, "ElectLeaders to k:9092: timed out");
                leadership_done(&l, &o, now);
                if (i + 1 < LEADERSHIP_MAX_FAILURES) {
                        ck_assert(!leadership_should_elect(&l, false, now + want_backoff - 1));
                        now += want_backoff;
                        want_backoff = want_backoff * 2 > LEADERSHIP_BACKOFF_MAX_MS ? LEADERSHIP_BACKOFF_MAX_MS : want_backoff * 2;
                }
        }
        ck_assert(l.gave_up);
        ck_assert_str_eq(l.reason, "gave up after 5 failed elections: ElectLeaders to k:9092: timed out");
        ck_assert_uint_eq(l.unanswered_total, 20);
        ck_assert(!leadership_should_elect(&l, false, now + 3600000));
        /* The next episode starts afresh. */
        leadership_base_ready(&l, false, now + 1);
        leadership_base_ready(&l, true, now + 2);
        ck_assert(leadership_should_elect(&l, false, now + 2));
}
END_TEST

START_TEST(cluster_authorization_failed_gives_up_at_once_and_names_the_acl) {
        leadership_init(&l, true, 10000);
        observe(4, 0, 4, 0);
        leadership_base_ready(&l, true, 0);
        ck_assert(leadership_should_elect(&l, false, 0));
        struct leadership_outcome o = { .rc = 0, .asked = 4, .top_error = KWIRE_ERR_CLUSTER_AUTHORIZATION_FAILED };
        leadership_done(&l, &o, 0);
        ck_assert(l.gave_up);
        ck_assert_int_eq(l.last_failed, 4);
        ck_assert_int_eq(l.n_last_errors, 1);
        ck_assert_int_eq(l.last_errors[0].code, 31);
        ck_assert_int_eq(l.last_errors[0].count, 4);
        ck_assert_str_eq(l.last_error, "CLUSTER_AUTHORIZATION_FAILED (31): the agent's principal needs ALTER "
                                       "on the CLUSTER resource (docs/kpa-agent.md)");
        ck_assert_uint_eq(l.failed_total, 4);
        /* Readiness does not wait for what will not come. */
        struct check_result c;
        leadership_readiness(&l, 1, &c);
        ck_assert(c.applies && c.ok);
        ck_assert_str_eq(c.detail, "not waiting: gave up after 1 failed election: CLUSTER_AUTHORIZATION_FAILED (31): "
                                   "the agent's principal needs ALTER on the CLUSTER resource (docs/kpa-agent.md)");
}
END_TEST

START_TEST(partial_failure_backs_off_and_a_missing_result_counts_as_failed) {
        leadership_init(&l, true, 0);
        observe(3, 0, 3, 0);
        leadership_base_ready(&l, true, 0);
        ck_assert(leadership_should_elect(&l, false, 0));
        struct leadership_outcome o = { .rc = 0, .asked = 3, .n_results = 1, .codes = { 80 } };
        snprintf(o.first_message, sizeof o.first_message, "t-1: PREFERRED_LEADER_NOT_AVAILABLE (80)");
        leadership_done(&l, &o, 0);
        ck_assert_int_eq(l.last_failed, 3);
        ck_assert_uint_eq(l.failed_total, 3);
        ck_assert_str_eq(l.last_error, "t-1: PREFERRED_LEADER_NOT_AVAILABLE (80)");
        ck_assert(!l.gave_up);
        ck_assert(!leadership_should_elect(&l, false, LEADERSHIP_BACKOFF_FIRST_MS - 1));
        ck_assert(leadership_should_elect(&l, false, LEADERSHIP_BACKOFF_FIRST_MS));
}
END_TEST

START_TEST(readiness_stops_waiting_after_a_failed_election_while_retries_go_on) {
        struct check_result c;
        leadership_init(&l, true, 10000);
        observe(2, 0, 2, 0);
        leadership_base_ready(&l, true, 0);
        leadership_readiness(&l, 0, &c);
        ck_assert(!c.ok);
        ck_assert(leadership_should_elect(&l, false, 0));
        leadership_readiness(&l, 10, &c);
        ck_assert(!c.ok);                                       /* in flight: still waiting */
        struct leadership_outcome o = { .rc = -32, .asked = 2 };
        snprintf(o.error, sizeof o.error, "ElectLeaders to k:9092: the broker closed the connection");
        leadership_done(&l, &o, 20);
        leadership_readiness(&l, 20, &c);
        ck_assert(c.applies && c.ok);
        ck_assert_str_eq(c.detail, "not waiting: the election failed (ElectLeaders to k:9092: the broker closed the "
                                   "connection); retrying in the background");
        ck_assert(leadership_should_elect(&l, false, 20 + LEADERSHIP_BACKOFF_FIRST_MS));
}
END_TEST

START_TEST(the_budget_bounds_requests_when_metadata_stays_skewed) {
        leadership_init(&l, true, 0);
        observe(2, 0, 2, 0);
        leadership_base_ready(&l, true, 0);
        uint64_t now = 0;
        int sent = 0;
        /* Every answer says done, but the metadata keeps showing the old leaders. */
        while (leadership_should_elect(&l, false, now) && sent < 100) {
                sent++;
                answered(2, (const int16_t[]){ 84, 84 }, 2, now);
                now += LEADERSHIP_BACKOFF_FIRST_MS;
        }
        ck_assert_int_eq(sent, 1 + LEADERSHIP_MAX_FAILURES);
        ck_assert(l.gave_up);
        ck_assert_str_eq(l.reason, "sent 6 elections since the broker became ready; 2 preferred partitions are "
                                   "still led by other brokers");
}
END_TEST

START_TEST(readiness_waits_bounded_only_while_skewed) {
        struct check_result c;
        leadership_init(&l, true, 10000);
        leadership_readiness(&l, 0, &c);
        ck_assert(c.applies && c.ok);
        ck_assert_str_eq(c.detail, "waits until the broker is caught up");
        observe(4, 0, 4, 0);
        leadership_base_ready(&l, true, 1000);
        leadership_readiness(&l, 1000, &c);
        ck_assert(c.applies && !c.ok);
        ck_assert_str_eq(c.detail, "waiting up to 10000ms for the preferred leader election of 4 partitions");
        leadership_readiness(&l, 10999, &c);
        ck_assert(!c.ok);
        leadership_readiness(&l, 11000, &c);
        ck_assert(c.ok);
        ck_assert_str_eq(c.detail, "stopped waiting after 10000ms: 4 preferred partitions led by other brokers");
        observe(4, 4, 0, 0);
        leadership_readiness(&l, 2000, &c);
        ck_assert(c.ok);
        ck_assert_str_eq(c.detail, "leads its 4 preferred partitions");
        /* Restored stays restored for the episode, whatever a stale snapshot says next. */
        observe(4, 3, 1, 0);
        leadership_readiness(&l, 2000, &c);
        ck_assert(c.ok);
        /* A broker that prefers nothing is restored from the start. */
        leadership_init(&l, true, 10000);
        observe(0, 0, 0, 0);
        leadership_base_ready(&l, true, 0);
        leadership_readiness(&l, 0, &c);
        ck_assert(c.ok);
        /* 0: the check does not apply at all. */
        leadership_init(&l, true, 0);
        leadership_readiness(&l, 0, &c);
        ck_assert(!c.applies);
}
END_TEST

int main(void) {
        Suite *s = suite_create("leadership");
        TCase *tc = tcase_create("leadership");
        tcase_add_test(tc, plan_lists_exactly_the_preferred_partitions_led_elsewhere_with_this_broker_in_isr);
        tcase_add_test(tc, plan_keeps_one_batch_and_counts_the_rest);
        tcase_add_test(tc, elects_once_ready_and_never_while_not_ready_or_a_stop_is_pending);
        tcase_add_test(tc, off_never_elects);
        tcase_add_test(tc, failures_back_off_doubling_and_give_up_after_the_bound);
        tcase_add_test(tc, cluster_authorization_failed_gives_up_at_once_and_names_the_acl);
        tcase_add_test(tc, partial_failure_backs_off_and_a_missing_result_counts_as_failed);
        tcase_add_test(tc, the_budget_bounds_requests_when_metadata_stays_skewed);
        tcase_add_test(tc, readiness_stops_waiting_after_a_failed_election_while_retries_go_on);
        tcase_add_test(tc, readiness_waits_bounded_only_while_skewed);
        suite_add_tcase(s, tc);
        return tu_run_suite(s);
}
