/* Suite for the check runner: real libuv loop, real checks against the mock cluster. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "kpa/checker.h"
#include "kpa/demo.h"
#include "kpa/kafka.h"
#include "kpa/log.h"
#include "testutil.h"

#define MAX_RESULTS 16

struct run {
        uv_loop_t loop;
        struct checker *c;
        int n;                            /* results received */
        int stop_after;                   /* stop the checker once this many arrived */
        struct kafka_result r[MAX_RESULTS];
        int32_t answered_by[MAX_RESULTS];
        struct checker_stats stats_at_stop;
        /* Called with each result before the stop decision, to drive the scenario. */
        void (*on_result)(struct run *run, int idx);
        int closed_calls;
        int closed_status;
};

static struct demo *demo;

static void setup(void) {
        char eb[512];
        log_setup("check_checker", LOG_LEVEL_WARN);
        ck_assert_msg(demo_start(&(struct demo_opts){ 0 }, &demo, eb, sizeof eb) == 0, "%s", eb);
}

static void teardown(void) { demo = demo_stop(demo); }

static struct kafka_conf *conf_for(int32_t broker) {
        char eb[512];
        struct kafka_conf *c = NULL;
        ck_assert_msg(kafka_conf_load(NULL, demo_broker_address(demo, broker), &c, eb,
                                      sizeof eb) == 0, "%s", eb);
        return c;
}

static void on_closed(int status, void *data) {
        struct run *run = data;
        run->closed_calls++;
        run->closed_status = status;
}

static void on_result(struct kafka_result *r, void *data) {
        struct run *run = data;
        ck_assert_int_lt(run->n, MAX_RESULTS);
        int i = run->n++;
        run->r[i] = *r;
        run->r[i].snap = NULL;
        run->answered_by[i] = r->snap ? r->snap->answered_by : -2;
        snapshot_free(r->snap);
        if (run->on_result)
                run->on_result(run, i);
        if (run->n == run->stop_after) {
                checker_get_stats(run->c, &run->stats_at_stop);
                checker_stop(run->c, on_closed, run);
        }
}

static void run_init(struct run *run, int32_t broker, int32_t local_id, uint64_t interval_ms,
                     int stop_after) {
        char eb[512];
        memset(run, 0, sizeof *run);
        run->stop_after = stop_after;
        ck_assert_int_eq(uv_loop_init(&run->loop), 0);
        struct kafka_client *kc = NULL;
        ck_assert_int_eq(kafka_client_new(conf_for(broker), &(struct kafka_client_opts){
                                 .timeout_ms = 5000, .local_id = local_id }, &kc, eb, sizeof eb), 0);
        ck_assert_msg(checker_new(&run->loop, kc, &(struct checker_opts){
                                 .interval_ms = interval_ms }, on_result, run, &run->c, eb,
                                 sizeof eb) == 0, "%s", eb);
}

/* Runs the loop until every handle and request is done, then closes it: a checker that
 * leaked a handle or a queued work request would make uv_loop_close fail. */
static void run_finish(struct run *run) {
        ck_assert_int_eq(uv_run(&run->loop, UV_RUN_DEFAULT), 0);
        ck_assert_int_eq(run->closed_calls, 1);
        ck_assert_int_eq(uv_loop_close(&run->loop), 0);
}

START_TEST(mock_results_arrive_in_order_and_checks_never_overlap) {
        struct run run;
        /* Each check makes three round trips of 100ms, far longer than the 10ms interval. */
        ck_assert_int_eq(demo_broker_set_rtt(demo, 1, 100), 0);
        run_init(&run, 1, 1, 10, 3);
        ck_assert_int_eq(checker_start(run.c), 0);
        run_finish(&run);

        ck_assert_int_eq(run.closed_status, 0);
        ck_assert_int_eq(run.n, 3);
        for (int i = 0; i < 3; i++) {
                ck_assert_msg(run.r[i].rc == 0, "%s", run.r[i].error);
                ck_assert_int_eq(run.answered_by[i], 1);
                ck_assert_uint_ge(run.r[i].finished_ms - run.r[i].started_ms, 300);
                if (i > 0)
                        ck_assert_uint_ge(run.r[i].started_ms, run.r[i - 1].finished_ms);
        }
        ck_assert_uint_eq(run.stats_at_stop.started, 3);
        ck_assert_uint_eq(run.stats_at_stop.finished, 3);
        ck_assert_uint_gt(run.stats_at_stop.skipped_ticks, 0);
}
END_TEST

START_TEST(mock_trigger_during_a_check_runs_one_more_right_after_it) {
        struct run run;
        ck_assert_int_eq(demo_broker_set_rtt(demo, 1, 100), 0);
        /* An interval of an hour: only the triggers start checks. */
        run_init(&run, 1, 1, 3600 * 1000, 2);
        checker_trigger_now(run.c, false);
        checker_trigger_now(run.c, false);
        checker_trigger_now(run.c, false);
        run_finish(&run);
        ck_assert_int_eq(run.n, 2);
        ck_assert_uint_ge(run.r[1].started_ms, run.r[0].finished_ms);
        ck_assert_uint_eq(run.stats_at_stop.started, 2);
}
END_TEST

static void go_fast(struct run *run, int idx) {
        if (idx == 0) {
                checker_set_interval(run->c, 50);
                ck_assert_uint_eq(checker_interval(run->c), 50);
        }
}

/* An interval of an hour, shortened to 50ms after the first check: the next checks start
 * 50ms apart at once, not an hour later (the test would time out). */
START_TEST(mock_a_shorter_interval_applies_from_the_next_check) {
        struct run run;
        run_init(&run, 1, 1, 3600 * 1000, 3);
        run.on_result = go_fast;
        ck_assert_uint_eq(checker_interval(run.c), 3600 * 1000);
        ck_assert_int_eq(checker_start(run.c), 0);
        run_finish(&run);
        ck_assert_int_eq(run.n, 3);
        for (int i = 1; i < 3; i++) {
                ck_assert_msg(run.r[i].rc == 0, "%s", run.r[i].error);
                /* The next start is due 50 ms after the checker queued this one; the check's own
                 * start is read on a worker thread, which on a loaded machine may begin the
                 * earlier check some milliseconds after it was queued (36 ms apart was seen
                 * with a 40 ms bound). Back-to-back checks would be a few ms apart. */
                ck_assert_uint_ge(run.r[i].started_ms - run.r[i - 1].started_ms, 30);
        }
        ck_assert_uint_eq(run.stats_at_stop.started, 3);
}
END_TEST

static void ask_configs_then_not(struct run *run, int idx) {
        if (idx == 0)
                checker_trigger_now(run->c, false);
        else if (idx == 1)
                checker_trigger_now(run->c, true);
}

START_TEST(mock_trigger_with_configs_asks_that_check_for_min_isr) {
        struct run run;
        run_init(&run, 1, 1, 3600 * 1000, 3);
        run.on_result = ask_configs_then_not;
        checker_trigger_now(run.c, true);
        run_finish(&run);
        ck_assert_int_eq(run.n, 3);
        ck_assert(run.r[0].configs_fetched);
        ck_assert(!run.r[1].configs_fetched);
        ck_assert(run.r[2].configs_fetched);
}
END_TEST

static void switch_to_broker_3(struct run *run, int idx) {
        if (idx == 0) {
                checker_set_conf(run->c, conf_for(3));
                checker_trigger_now(run->c, false);
        }
}

START_TEST(mock_new_conf_applies_from_the_next_check) {
        struct run run;
        run_init(&run, 1, -1, 3600 * 1000, 2);
        run.on_result = switch_to_broker_3;
        checker_trigger_now(run.c, false);
        run_finish(&run);
        ck_assert_int_eq(run.n, 2);
        ck_assert_int_eq(run.answered_by[0], 1);
        ck_assert_int_eq(run.answered_by[1], 3);
}
END_TEST

START_TEST(mock_new_conf_given_during_a_check_waits_for_it_to_end) {
        struct run run;
        ck_assert_int_eq(demo_broker_set_rtt(demo, 1, 100), 0);
        run_init(&run, 1, -1, 3600 * 1000, 2);
        checker_trigger_now(run.c, false);
        checker_set_conf(run.c, conf_for(2));
        checker_trigger_now(run.c, false);
        run_finish(&run);
        ck_assert_int_eq(run.n, 2);
        ck_assert_int_eq(run.answered_by[0], 1);
        ck_assert_int_eq(run.answered_by[1], 2);
}
END_TEST

START_TEST(mock_stop_during_a_check_waits_for_it_and_drops_its_result) {
        struct run run;
        ck_assert_int_eq(demo_broker_set_rtt(demo, 1, 100), 0);
        run_init(&run, 1, 1, 10, 0);
        ck_assert_int_eq(checker_start(run.c), 0);
        checker_trigger_now(run.c, false);
        checker_stop(run.c, on_closed, &run);
        run_finish(&run);
        ck_assert_int_eq(run.closed_status, 0);
        ck_assert_int_eq(run.n, 0);
}
END_TEST

START_TEST(mock_stop_when_idle_closes_at_once) {
        struct run run;
        run_init(&run, 1, 1, 3600 * 1000, 0);
        checker_stop(run.c, on_closed, &run);
        run_finish(&run);
        ck_assert_int_eq(run.closed_status, 0);
        ck_assert_int_eq(run.n, 0);
}
END_TEST

START_TEST(mock_failed_checks_are_delivered_too) {
        struct run run;
        ck_assert_int_eq(demo_broker_set_up(demo, 1, false), 0);
        run_init(&run, 1, 1, 3600 * 1000, 1);
        checker_trigger_now(run.c, false);
        run_finish(&run);
        ck_assert_int_eq(run.n, 1);
        ck_assert_int_eq(run.r[0].rc, -EIO);
        ck_assert_int_eq(run.answered_by[0], -2);
        ck_assert_ptr_nonnull(strstr(run.r[0].error, "Connection refused"));
}
END_TEST

static Suite *checker_suite(void) {
        Suite *s = suite_create("checker");
        TCase *tc = tcase_create("loop");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, mock_results_arrive_in_order_and_checks_never_overlap);
        tcase_add_test(tc, mock_trigger_during_a_check_runs_one_more_right_after_it);
        tcase_add_test(tc, mock_a_shorter_interval_applies_from_the_next_check);
        tcase_add_test(tc, mock_trigger_with_configs_asks_that_check_for_min_isr);
        tcase_add_test(tc, mock_new_conf_applies_from_the_next_check);
        tcase_add_test(tc, mock_new_conf_given_during_a_check_waits_for_it_to_end);
        tcase_add_test(tc, mock_stop_during_a_check_waits_for_it_and_drops_its_result);
        tcase_add_test(tc, mock_stop_when_idle_closes_at_once);
        tcase_add_test(tc, mock_failed_checks_are_delivered_too);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return tu_run_suite(checker_suite());
}
