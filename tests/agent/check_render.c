/* Suite for what the endpoints answer: probe bodies and codes, /status JSON, /metrics text. */
#include <check.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kpa/render.h"
#include "snapbuild.h"
#include "testutil.h"

#define LOCAL 1

static const struct health_policy policy = {
        .ready_after = 2, .stale_after_ms = 15000, .liveness_window_ms = 60000,
};

/* A state the agent could be in: health fed with `checks` copies of one assessment, then the
 * verdict taken 2s after the last check. */
struct fixture {
        struct health h;
        struct verdict v;
        struct agent_status st;
};

static void fixture_run(struct fixture *f, const struct check_outcome *o, enum ready_scope scope,
                        int checks) {
        struct assessment a;
        verdict_assess(o, LOCAL, scope, &a);
        health_init(&f->h, 1000);
        for (int i = 1; i <= checks; i++)
                health_record(&f->h, &a, 1000 + (uint64_t) i * 5000);
        health_verdict(&f->h, &policy, 1000 + (uint64_t) checks * 5000 + 2000, &f->v);
        f->st = (struct agent_status){
                .node_id = LOCAL,
                .bootstrap = "127.0.0.1:9092",
                .scope = scope,
                .version = "0.1.0",
                .health = &f->h,
                .verdict = &f->v,
                .last_check_unix_ms = 1714564800123,
                .last_check_duration_ms = 42,
                .last_error = NULL,
                .answered_by = 1,
                .rtt_ms = 3,
                .last_success_unix_ms = 1714564800123,
        };
}

static void fixture_ready(struct fixture *f) {
        struct snapshot *s = sb_new(1, IDS(1, 2, 3));
        sb_part(sb_topic(s, "orders", -1), 0, 1, IDS(1, 2), IDS(1, 2));
        struct check_outcome o = { s, NULL };
        fixture_run(f, &o, SCOPE_LOCAL, 2);
        snapshot_free(s);
        ck_assert(f->v.ready);
}

static void fixture_lagging(struct fixture *f, enum ready_scope scope) {
        struct snapshot *s = sb_new(1, IDS(1, 2, 3));
        struct snap_topic *t = sb_topic(s, "orders", -1);
        sb_part(t, 0, 1, IDS(1, 2), IDS(1, 2));
        sb_part(t, 3, 2, IDS(1, 2, 3), IDS(2, 3));
        sb_part(t, 4, -1, IDS(1, 3), IDS(3));
        struct check_outcome o = { s, NULL };
        fixture_run(f, &o, scope, 3);
        snapshot_free(s);
        ck_assert(!f->v.ready);
}

static void fixture_unreachable(struct fixture *f) {
        struct check_outcome o = { NULL, "Local: Broker transport failure\nline two" };
        fixture_run(f, &o, SCOPE_LOCAL, 1);
        f->st.last_error = "Local: Broker transport failure";
        f->st.answered_by = -1;
        f->st.rtt_ms = -1;
        f->st.last_success_unix_ms = 0;
}

static int probe(const struct verdict *v, enum probe_kind kind, bool verbose, struct dynbuf *b) {
        dynbuf_init(b, RENDER_MAX_BYTES);
        return render_probe(v, kind, verbose, b);
}

/* ---- probes ---- */

START_TEST(readyz_ready_answers_200_ok) {
        struct fixture f;
        struct dynbuf b;
        fixture_ready(&f);
        ck_assert_int_eq(probe(&f.v, PROBE_READYZ, false, &b), 200);
        ck_assert_str_eq(dynbuf_str(&b), "ok");
        dynbuf_free(&b);
}
END_TEST

START_TEST(readyz_verbose_lists_every_applicable_check) {
        struct fixture f;
        struct dynbuf b;
        fixture_ready(&f);
        ck_assert_int_eq(probe(&f.v, PROBE_READYZ, true, &b), 200);
        ck_assert_str_eq(dynbuf_str(&b),
                         "[+]reachable ok\n"
                         "[+]registered ok\n"
                         "[+]caught_up ok\n"
                         "[+]fresh ok\n"
                         "[+]consecutive ok\n"
                         "readyz check passed\n");
        dynbuf_free(&b);
}
END_TEST

START_TEST(readyz_failing_lists_only_failing_reasons_with_503) {
        struct fixture f;
        struct dynbuf b;
        fixture_lagging(&f, SCOPE_LOCAL);
        ck_assert_int_eq(probe(&f.v, PROBE_READYZ, false, &b), 503);
        ck_assert_str_eq(dynbuf_str(&b),
                         "[-]caught_up failed: 1 partition lagging: orders-3 (leader 2, isr [2,3])\n"
                         "[-]consecutive failed: 0 of 2 consecutive good checks\n"
                         "readyz check failed\n");
        dynbuf_free(&b);
}
END_TEST

START_TEST(readyz_verbose_failing_shows_passing_checks_too) {
        struct fixture f;
        struct dynbuf b;
        fixture_lagging(&f, SCOPE_CLUSTER);
        ck_assert_int_eq(probe(&f.v, PROBE_READYZ, true, &b), 503);
        ck_assert_str_eq(dynbuf_str(&b),
                         "[+]reachable ok\n"
                         "[+]registered ok\n"
                         "[-]caught_up failed: 1 partition lagging: orders-3 (leader 2, isr [2,3])\n"
                         "[-]cluster_urp failed: 1 under-replicated partition: orders-3 (isr 2 of 3)\n"
                         "[+]fresh ok\n"
                         "[-]consecutive failed: 0 of 2 consecutive good checks\n"
                         "readyz check failed\n");
        dynbuf_free(&b);
}
END_TEST

START_TEST(readyz_unreachable_flattens_control_characters) {
        struct fixture f;
        struct dynbuf b;
        fixture_unreachable(&f);
        ck_assert_int_eq(probe(&f.v, PROBE_READYZ, false, &b), 503);
        ck_assert_str_eq(dynbuf_str(&b),
                         "[-]reachable failed: Local: Broker transport failure line two\n"
                         "[-]registered failed: not checked: the local broker did not answer\n"
                         "[-]caught_up failed: not checked: the local broker did not answer\n"
                         "[-]consecutive failed: 0 of 2 consecutive good checks\n"
                         "readyz check failed\n");
        dynbuf_free(&b);
}
END_TEST

START_TEST(livez_answers_from_liveness_only) {
        struct fixture f;
        struct dynbuf b;
        fixture_lagging(&f, SCOPE_CLUSTER);
        ck_assert_int_eq(probe(&f.v, PROBE_LIVEZ, false, &b), 200);
        ck_assert_str_eq(dynbuf_str(&b), "ok");
        dynbuf_free(&b);
        ck_assert_int_eq(probe(&f.v, PROBE_LIVEZ, true, &b), 200);
        ck_assert_str_eq(dynbuf_str(&b), "[+]broker ok\nlivez check passed\n");
        dynbuf_free(&b);
}
END_TEST

START_TEST(livez_failing_gives_the_reason_with_503) {
        struct fixture f;
        struct dynbuf b;
        fixture_unreachable(&f);
        health_verdict(&f.h, &policy, 1000 + 60001, &f.v);
        ck_assert_int_eq(probe(&f.v, PROBE_LIVEZ, false, &b), 503);
        ck_assert_str_eq(dynbuf_str(&b),
                         "[-]broker failed: starting: the broker has not answered yet (60.0s since "
                         "the agent started)\nlivez check failed\n");
        dynbuf_free(&b);
}
END_TEST

START_TEST(probe_reports_a_body_that_does_not_fit) {
        struct fixture f;
        struct dynbuf b;
        fixture_lagging(&f, SCOPE_LOCAL);
        dynbuf_init(&b, 40);
        ck_assert_int_eq(render_probe(&f.v, PROBE_READYZ, true, &b), -E2BIG);
        dynbuf_free(&b);
        dynbuf_init(&b, 1);
        ck_assert_int_eq(render_probe(&f.v, PROBE_LIVEZ, false, &b), -E2BIG);
        dynbuf_free(&b);
}
END_TEST

/* ---- /status ---- */

static cJSON *status(const struct agent_status *st) {
        struct dynbuf b;
        dynbuf_init(&b, RENDER_MAX_BYTES);
        ck_assert_int_eq(render_status_json(st, &b), 0);
        ck_assert(b.len > 0 && b.data[b.len - 1] == '\n');
        cJSON *j = cJSON_Parse(dynbuf_str(&b));
        ck_assert_msg(j != NULL, "not JSON: %s", dynbuf_str(&b));
        dynbuf_free(&b);
        return j;
}

/* The member at a dotted path such as "checks.caught_up.ok"; fails the test if absent. */
static cJSON *at(cJSON *j, const char *path) {
        cJSON *cur = j;
        for (const char *k = path; cur && *k;) {
                size_t n = strcspn(k, ".");
                char key[64];
                snprintf(key, sizeof key, "%.*s", (int) n, k);
                cur = cJSON_GetObjectItemCaseSensitive(cur, key);
                ck_assert_msg(cur != NULL, "no %s in %s", key, path);
                k += n + (k[n] == '.');
        }
        return cur;
}

static double num(cJSON *j, const char *path) {
        cJSON *n = at(j, path);
        ck_assert_msg(cJSON_IsNumber(n), "%s is not a number", path);
        return n->valuedouble;
}

static const char *str(cJSON *j, const char *path) {
        cJSON *n = at(j, path);
        ck_assert_msg(cJSON_IsString(n), "%s is not a string", path);
        return n->valuestring;
}

START_TEST(status_json_describes_a_lagging_broker) {
        struct fixture f;
        fixture_lagging(&f, SCOPE_CLUSTER);
        cJSON *j = status(&f.st);
        ck_assert_int_eq((int) num(j, "node_id"), 1);
        ck_assert_str_eq(str(j, "version"), "0.1.0");
        ck_assert_str_eq(str(j, "scope"), "cluster");
        ck_assert(cJSON_IsFalse(at(j, "ready")));
        ck_assert(cJSON_IsTrue(at(j, "live")));
        ck_assert(cJSON_IsTrue(at(j, "checks.reachable.ok")));
        ck_assert(cJSON_IsFalse(at(j, "checks.caught_up.ok")));
        ck_assert_str_eq(str(j, "checks.caught_up.detail"),
                         "1 partition lagging: orders-3 (leader 2, isr [2,3])");
        ck_assert(cJSON_IsFalse(at(j, "checks.cluster_urp.ok")));
        ck_assert_str_eq(str(j, "checks.fresh.detail"), "last check 2s ago (limit 15s)");
        ck_assert_str_eq(str(j, "liveness.detail"), "broker answered 2s ago (window 1m)");
        ck_assert_int_eq((int) num(j, "partitions.hosted"), 3);
        ck_assert_int_eq((int) num(j, "partitions.in_sync"), 1);
        ck_assert_int_eq((int) num(j, "partitions.lagging"), 1);
        ck_assert_int_eq((int) num(j, "partitions.offline"), 1);
        cJSON *lag = at(j, "lagging");
        ck_assert_int_eq(cJSON_GetArraySize(lag), 1);
        cJSON *l0 = cJSON_GetArrayItem(lag, 0);
        ck_assert_str_eq(str(l0, "topic"), "orders");
        ck_assert_int_eq((int) num(l0, "partition"), 3);
        ck_assert_int_eq((int) num(l0, "leader"), 2);
        cJSON *isr = at(l0, "isr");
        ck_assert_int_eq(cJSON_GetArraySize(isr), 2);
        ck_assert_int_eq(cJSON_GetArrayItem(isr, 1)->valueint, 3);
        ck_assert_int_eq((int) num(j, "lagging_more"), 0);
        ck_assert_int_eq((int) num(j, "cluster.partitions"), 3);
        ck_assert_int_eq((int) num(j, "cluster.under_replicated"), 1);
        ck_assert_str_eq(str(j, "last_check.at"), "2024-05-01T12:00:00.123Z");
        ck_assert_int_eq((int) num(j, "last_check.duration_ms"), 42);
        ck_assert(cJSON_IsNull(at(j, "last_check.error")));
        ck_assert_int_eq((int) num(j, "last_check.total"), 3);
        ck_assert_int_eq((int) num(j, "last_check.failed"), 3);
        ck_assert_int_eq((int) num(j, "last_check.consecutive_good"), 0);
        ck_assert_int_eq((int) num(j, "broker.answered_by"), 1);
        ck_assert_int_eq((int) num(j, "broker.rtt_ms"), 3);
        ck_assert_str_eq(str(j, "broker.bootstrap"), "127.0.0.1:9092");
        cJSON_Delete(j);
}
END_TEST

START_TEST(status_json_leaves_out_checks_that_do_not_apply) {
        struct fixture f;
        fixture_ready(&f);
        cJSON *j = status(&f.st);
        ck_assert(cJSON_IsTrue(at(j, "ready")));
        ck_assert_str_eq(str(j, "scope"), "local");
        ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(at(j, "checks"), "cluster_urp"));
        ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(j, "cluster"));
        ck_assert_int_eq(cJSON_GetArraySize(at(j, "checks")), 5);
        ck_assert_int_eq(cJSON_GetArraySize(at(j, "lagging")), 0);
        ck_assert_str_eq(str(j, "last_check.last_success"), "2024-05-01T12:00:00.123Z");
        cJSON_Delete(j);
}
END_TEST

START_TEST(status_json_reports_the_error_and_unknowns_as_null) {
        struct fixture f;
        fixture_unreachable(&f);
        cJSON *j = status(&f.st);
        ck_assert_str_eq(str(j, "last_check.error"), "Local: Broker transport failure");
        ck_assert_str_eq(str(j, "checks.reachable.detail"), "Local: Broker transport failure\nline two");
        ck_assert(cJSON_IsNull(at(j, "broker.answered_by")));
        ck_assert(cJSON_IsNull(at(j, "broker.rtt_ms")));
        ck_assert(cJSON_IsNull(at(j, "last_check.last_success")));
        cJSON_Delete(j);

        /* Before the first check there is no time to show. */
        health_init(&f.h, 0);
        health_verdict(&f.h, &policy, 10, &f.v);
        f.st.last_check_unix_ms = 0;
        j = status(&f.st);
        ck_assert(cJSON_IsNull(at(j, "last_check.at")));
        ck_assert(cJSON_IsNull(at(j, "last_check.duration_ms")));
        ck_assert_int_eq((int) num(j, "partitions.hosted"), 0);
        cJSON_Delete(j);
}
END_TEST

START_TEST(status_json_says_why_stopping_is_not_known_to_be_safe) {
        struct fixture f;
        fixture_ready(&f);
        /* No answer yet: not safe, and no note. */
        cJSON *j = status(&f.st);
        ck_assert(cJSON_IsFalse(at(j, "safe_to_stop.safe")));
        ck_assert_str_eq(str(j, "safe_to_stop.reason"), "the local broker has not answered yet");
        ck_assert(cJSON_IsNull(at(j, "safe_to_stop.min_isr_note")));
        cJSON_Delete(j);

        struct snapshot *s = sb_new(1, IDS(1, 2, 3));
        sb_part(sb_topic(s, "orders", -1), 0, 1, IDS(1, 2, 3), IDS(1, 2, 3));
        struct canroll_result cr;
        canroll_evaluate(s, LOCAL, &cr);
        snapshot_free(s);
        f.st.canroll = &cr;
        f.st.min_isr_note = "min.insync.replicas unknown: Broker: Cluster authorization failed";
        j = status(&f.st);
        ck_assert(cJSON_IsFalse(at(j, "safe_to_stop.safe")));
        ck_assert_int_eq((int) num(j, "safe_to_stop.blocking"), 1);
        ck_assert_int_eq((int) num(j, "safe_to_stop.min_isr_unknown"), 1);
        ck_assert_str_eq(str(j, "safe_to_stop.reason"), "min.insync.replicas is unknown for 1 hosted "
                         "partition, so stopping is not known to be safe: orders-0 isr=3 min=? replicas=3");
        ck_assert_str_eq(str(j, "safe_to_stop.min_isr_note"),
                         "min.insync.replicas unknown: Broker: Cluster authorization failed");
        cJSON_Delete(j);
}
END_TEST

START_TEST(status_json_caps_the_lagging_list) {
        struct snapshot *s = sb_new(1, IDS(1, 2, 3));
        struct snap_topic *t = sb_topic(s, "big", -1);
        for (int i = 0; i < 30; i++)
                sb_part(t, i, 2, IDS(1, 2), IDS(2));
        struct check_outcome o = { s, NULL };
        struct fixture f;
        fixture_run(&f, &o, SCOPE_LOCAL, 1);
        snapshot_free(s);
        cJSON *j = status(&f.st);
        ck_assert_int_eq(cJSON_GetArraySize(at(j, "lagging")), VERDICT_LAGGING_MAX);
        ck_assert_int_eq((int) num(j, "lagging_more"), 30 - VERDICT_LAGGING_MAX);
        ck_assert_int_eq((int) num(j, "partitions.lagging"), 30);
        cJSON_Delete(j);
}
END_TEST

START_TEST(rfc3339_formats_utc_with_milliseconds) {
        char b[40];
        render_rfc3339(0, b, sizeof b);
        ck_assert_str_eq(b, "1970-01-01T00:00:00.000Z");
        render_rfc3339(1714564800123, b, sizeof b);
        ck_assert_str_eq(b, "2024-05-01T12:00:00.123Z");
        render_rfc3339(951782400999, b, sizeof b);
        ck_assert_str_eq(b, "2000-02-29T00:00:00.999Z");
}
END_TEST

/* ---- /metrics ---- */

static char *metrics(const struct agent_status *st) {
        struct dynbuf b;
        dynbuf_init(&b, RENDER_MAX_BYTES);
        ck_assert_int_eq(render_metrics(st, &b), 0);
        return dynbuf_steal(&b);
}

/* A broker after a roll to newer software: metadata.version finalized below what it supports;
 * kraft.version lags too but is an opt-in, never in the command. */
static void fixture_features(struct features_view *v) {
        struct kwire_features f = { .finalized_epoch = 325, .n_supported_kept = 2, .n_finalized_kept = 1 };
        f.supported[0] = (struct kwire_feature){ "metadata.version", 7, 33 };
        f.supported[1] = (struct kwire_feature){ "kraft.version", 0, 1 };
        f.finalized[0] = (struct kwire_feature){ "metadata.version", 27, 27 };
        features_assess(&f, 1714564800123, v);
}

START_TEST(status_json_and_metrics_show_the_feature_lag_and_the_command) {
        struct fixture f;
        struct features_view fv;
        fixture_ready(&f);
        fixture_features(&fv);
        f.st.features = &fv;
        cJSON *j = status(&f.st);
        cJSON *mv = cJSON_GetObjectItem(at(j, "features"), "metadata.version");
        ck_assert_int_eq((int) num(mv, "finalized"), 27);
        ck_assert_int_eq((int) num(mv, "supported_min"), 7);
        ck_assert_int_eq((int) num(mv, "supported_max"), 33);
        ck_assert(cJSON_IsTrue(at(mv, "lags")));
        cJSON *kv = cJSON_GetObjectItem(at(j, "features"), "kraft.version");
        ck_assert_int_eq((int) num(kv, "finalized"), 0);
        ck_assert(cJSON_IsTrue(at(kv, "lags")));
        ck_assert(cJSON_IsTrue(at(j, "finalization.known")));
        ck_assert(cJSON_IsTrue(at(j, "finalization.pending")));
        ck_assert_int_eq((int) num(j, "finalization.epoch"), 325);
        ck_assert_str_eq(str(j, "finalization.asked_at"), "2024-05-01T12:00:00.123Z");
        ck_assert_int_eq(cJSON_GetArraySize(at(j, "finalization.features")), 1);
        ck_assert_str_eq(cJSON_GetArrayItem(at(j, "finalization.features"), 0)->valuestring, "metadata.version");
        ck_assert_str_eq(str(j, "finalization.command"),
                         "kafka-features.sh --bootstrap-server 127.0.0.1:9092 upgrade --feature metadata.version=33");
        cJSON_Delete(j);

        char *m = metrics(&f.st);
        ck_assert_ptr_nonnull(strstr(m, "kpa_features_known 1\n"));
        ck_assert_ptr_nonnull(strstr(m, "kpa_feature_finalized_level{feature=\"metadata.version\"} 27\n"));
        ck_assert_ptr_nonnull(strstr(m, "kpa_feature_finalized_level{feature=\"kraft.version\"} 0\n"));
        ck_assert_ptr_nonnull(strstr(m, "kpa_feature_supported_max_level{feature=\"metadata.version\"} 33\n"));
        ck_assert_ptr_nonnull(strstr(m, "kpa_feature_finalization_pending 1\n"));
        free(m);
}
END_TEST

START_TEST(status_json_and_metrics_show_leadership_and_the_last_election) {
        struct fixture f;
        static struct leadership l;
        fixture_ready(&f);
        leadership_init(&l, true, 10000);
        struct leadership_plan p = { .preferred = 4, .led = 5, .preferred_led = 1, .skewed = 3, .n = 3 };
        leadership_observe(&l, &p, 0);
        leadership_base_ready(&l, true, 0);
        ck_assert(leadership_should_elect(&l, false, 0));
        struct leadership_outcome o = { .rc = 0, .asked = 3, .n_results = 3, .codes = { 0, 84, 80 },
                                        .at_unix_ms = 1714564800123 };
        snprintf(o.first_message, sizeof o.first_message, "t-2: PREFERRED_LEADER_NOT_AVAILABLE (80)");
        leadership_done(&l, &o, 0);
        f.st.leadership = &l;
        cJSON *j = status(&f.st);
        ck_assert(cJSON_IsTrue(at(j, "leadership.restore")));
        ck_assert_int_eq((int) num(j, "leadership.ready_wait_ms"), 10000);
        ck_assert_int_eq((int) num(j, "leadership.preferred"), 4);
        ck_assert_int_eq((int) num(j, "leadership.led"), 5);
        ck_assert_int_eq((int) num(j, "leadership.preferred_led"), 1);
        ck_assert_int_eq((int) num(j, "leadership.skewed"), 3);
        ck_assert_str_eq(str(j, "leadership.state"), "pending");
        ck_assert(cJSON_IsNull(at(j, "leadership.reason")));
        ck_assert(cJSON_IsNull(at(j, "leadership.restored_after_ms")));
        ck_assert_str_eq(str(j, "leadership.last_election.at"), "2024-05-01T12:00:00.123Z");
        ck_assert_int_eq((int) num(j, "leadership.last_election.asked"), 3);
        ck_assert_int_eq((int) num(j, "leadership.last_election.elected"), 1);
        ck_assert_int_eq((int) num(j, "leadership.last_election.not_needed"), 1);
        ck_assert_int_eq((int) num(j, "leadership.last_election.failed"), 1);
        ck_assert_str_eq(str(j, "leadership.last_election.error"), "t-2: PREFERRED_LEADER_NOT_AVAILABLE (80)");
        ck_assert_int_eq((int) num(j, "leadership.last_election.results.NONE"), 1);
        ck_assert_int_eq((int) num(j, "leadership.last_election.results.ELECTION_NOT_NEEDED"), 1);
        ck_assert_int_eq((int) num(j, "leadership.last_election.results.PREFERRED_LEADER_NOT_AVAILABLE"), 1);
        cJSON_Delete(j);

        char *m = metrics(&f.st);
        ck_assert_ptr_nonnull(strstr(m, "\nkpa_leadership_preferred_partitions 4\n"));
        ck_assert_ptr_nonnull(strstr(m, "\nkpa_leadership_led_partitions 5\n"));
        ck_assert_ptr_nonnull(strstr(m, "\nkpa_leadership_preferred_led_partitions 1\n"));
        ck_assert_ptr_nonnull(strstr(m, "\nkpa_leadership_skewed_partitions 3\n"));
        ck_assert_ptr_nonnull(strstr(m, "\nkpa_leader_elections_total{result=\"elected\"} 1\n"));
        ck_assert_ptr_nonnull(strstr(m, "\nkpa_leader_elections_total{result=\"not_needed\"} 1\n"));
        ck_assert_ptr_nonnull(strstr(m, "\nkpa_leader_elections_total{result=\"failed\"} 1\n"));
        ck_assert_ptr_nonnull(strstr(m, "\nkpa_leader_elections_total{result=\"unanswered\"} 0\n"));
        free(m);
}
END_TEST

START_TEST(status_json_says_why_the_features_are_unknown) {
        struct fixture f;
        struct features_view fv;
        fixture_ready(&f);
        features_unknown(&fv, "ApiVersions failed: connection refused");
        f.st.features = &fv;
        cJSON *j = status(&f.st);
        ck_assert_int_eq(cJSON_GetArraySize(at(j, "features")), 0);
        ck_assert(cJSON_IsFalse(at(j, "finalization.known")));
        ck_assert_str_eq(str(j, "finalization.error"), "ApiVersions failed: connection refused");
        ck_assert_ptr_null(cJSON_GetObjectItem(at(j, "finalization"), "command"));
        cJSON_Delete(j);
        char *m = metrics(&f.st);
        ck_assert_ptr_nonnull(strstr(m, "kpa_features_known 0\n"));
        ck_assert_ptr_null(strstr(m, "kpa_feature_finalization_pending"));
        free(m);
}
END_TEST

START_TEST(metrics_exposition_for_a_ready_broker) {
        struct fixture f;
        fixture_ready(&f);
        char *m = metrics(&f.st);
        ck_assert_str_eq(m,
                "# HELP kpa_ready 1 if the local broker is ready (every readiness check passes).\n"
                "# TYPE kpa_ready gauge\n"
                "kpa_ready 1\n"
                "# HELP kpa_live 1 if the local broker answered within the liveness window.\n"
                "# TYPE kpa_live gauge\n"
                "kpa_live 1\n"
                "# HELP kpa_readiness_check 1 if the named readiness check passes, 0 if it fails.\n"
                "# TYPE kpa_readiness_check gauge\n"
                "kpa_readiness_check{check=\"reachable\"} 1\n"
                "kpa_readiness_check{check=\"registered\"} 1\n"
                "kpa_readiness_check{check=\"caught_up\"} 1\n"
                "kpa_readiness_check{check=\"fresh\"} 1\n"
                "kpa_readiness_check{check=\"consecutive\"} 1\n"
                "# HELP kpa_partitions Partitions with a replica on the local broker, by state, at the last check.\n"
                "# TYPE kpa_partitions gauge\n"
                "kpa_partitions{state=\"hosted\"} 1\n"
                "kpa_partitions{state=\"in_sync\"} 1\n"
                "kpa_partitions{state=\"lagging\"} 0\n"
                "kpa_partitions{state=\"offline\"} 0\n"
                "# HELP kpa_lagging_partition Hosted partitions where the local broker is out of the ISR (at most 20 listed).\n"
                "# TYPE kpa_lagging_partition gauge\n"
                "# HELP kpa_consecutive_good_checks Good checks in a row (reset by a bad one).\n"
                "# TYPE kpa_consecutive_good_checks gauge\n"
                "kpa_consecutive_good_checks 2\n"
                "# HELP kpa_check_duration_seconds Duration of the last metadata check.\n"
                "# TYPE kpa_check_duration_seconds gauge\n"
                "kpa_check_duration_seconds 0.042\n"
                "# HELP kpa_checks_total Metadata checks completed, by result (failed: any readiness check failed).\n"
                "# TYPE kpa_checks_total counter\n"
                "kpa_checks_total{result=\"ok\"} 2\n"
                "kpa_checks_total{result=\"failed\"} 0\n"
                "# HELP kpa_broker_reachable 1 if the local broker answered the last check.\n"
                "# TYPE kpa_broker_reachable gauge\n"
                "kpa_broker_reachable 1\n"
                "# HELP kpa_broker_rtt_seconds Round trip of the last metadata request.\n"
                "# TYPE kpa_broker_rtt_seconds gauge\n"
                "kpa_broker_rtt_seconds 0.003\n"
                "# HELP kpa_last_check_timestamp_seconds Unix time the last check finished (0: none yet).\n"
                "# TYPE kpa_last_check_timestamp_seconds gauge\n"
                "kpa_last_check_timestamp_seconds 1714564800.123\n"
                "# HELP kpa_last_success_timestamp_seconds Unix time of the last good check (0: none yet).\n"
                "# TYPE kpa_last_success_timestamp_seconds gauge\n"
                "kpa_last_success_timestamp_seconds 1714564800.123\n"
                "# HELP kpa_build_info Always 1; the agent's version as a label.\n"
                "# TYPE kpa_build_info gauge\n"
                "kpa_build_info{version=\"0.1.0\"} 1\n");
        free(m);
}
END_TEST

START_TEST(metrics_for_a_lagging_cluster_scoped_broker) {
        struct fixture f;
        fixture_lagging(&f, SCOPE_CLUSTER);
        char *m = metrics(&f.st);
        ck_assert_ptr_nonnull(strstr(m, "\nkpa_ready 0\n"));
        ck_assert_ptr_nonnull(strstr(m, "\nkpa_live 1\n"));
        ck_assert_ptr_nonnull(strstr(m, "\nkpa_readiness_check{check=\"caught_up\"} 0\n"));
        ck_assert_ptr_nonnull(strstr(m, "\nkpa_readiness_check{check=\"cluster_urp\"} 0\n"));
        ck_assert_ptr_nonnull(strstr(m, "\nkpa_partitions{state=\"hosted\"} 3\n"));
        ck_assert_ptr_nonnull(strstr(m, "\nkpa_partitions{state=\"lagging\"} 1\n"));
        ck_assert_ptr_nonnull(strstr(m, "\nkpa_partitions{state=\"offline\"} 1\n"));
        ck_assert_ptr_nonnull(strstr(m, "\nkpa_lagging_partition{topic=\"orders\",partition=\"3\"} 1\n"));
        ck_assert_ptr_nonnull(strstr(m, "# TYPE kpa_cluster_under_replicated_partitions gauge\n"
                                        "kpa_cluster_under_replicated_partitions 1\n"));
        ck_assert_ptr_nonnull(strstr(m, "\nkpa_checks_total{result=\"ok\"} 0\n"
                                        "kpa_checks_total{result=\"failed\"} 3\n"));
        free(m);
}
END_TEST

START_TEST(metrics_for_an_unreachable_broker) {
        struct fixture f;
        fixture_unreachable(&f);
        char *m = metrics(&f.st);
        ck_assert_ptr_nonnull(strstr(m, "\nkpa_broker_reachable 0\n"));
        ck_assert_ptr_nonnull(strstr(m, "\nkpa_last_success_timestamp_seconds 0.000\n"));
        ck_assert_ptr_null(strstr(m, "kpa_broker_rtt_seconds"));
        free(m);
}
END_TEST

START_TEST(metrics_escape_label_values) {
        struct snapshot *s = sb_new(1, IDS(1, 2));
        sb_part(sb_topic(s, "we\"ird\\to\npic", -1), 7, 2, IDS(1, 2), IDS(2));
        struct check_outcome o = { s, NULL };
        struct fixture f;
        fixture_run(&f, &o, SCOPE_LOCAL, 1);
        snapshot_free(s);
        f.st.version = "1.0\"x";
        char *m = metrics(&f.st);
        ck_assert_msg(strstr(m, "\nkpa_lagging_partition{topic=\"we\\\"ird\\\\to\\npic\",partition=\"7\"} 1\n"),
                      "%s", m);
        ck_assert_ptr_nonnull(strstr(m, "\nkpa_build_info{version=\"1.0\\\"x\"} 1\n"));
        free(m);
}
END_TEST

START_TEST(metrics_label_values_carry_no_control_bytes_or_malformed_utf8) {
        /* BEL, an ESC sequence, DEL, a C1 CSI (U+009B), a byte that is never UTF-8, a valid
         * "é", a tab and a line feed (escaped as the format says). A terminal showing a scrape,
         * or a parser that wants UTF-8, sees none of the raw bytes. */
        struct snapshot *s = sb_new(1, IDS(1, 2));
        sb_part(sb_topic(s, "a\a" "b\x1b[31mc\x7f" "d\xc2\x9b" "e\xff" "\xc3\xa9\tf\n", -1), 7, 2, IDS(1, 2), IDS(2));
        struct check_outcome o = { s, NULL };
        struct fixture f;
        fixture_run(&f, &o, SCOPE_LOCAL, 1);
        snapshot_free(s);
        f.st.version = "1.0\x1b]0;x\a";
        char *m = metrics(&f.st);
        ck_assert_msg(strstr(m, "\nkpa_lagging_partition{topic=\"a?b?[31mc?d?e?\xc3\xa9?f\\n\",partition=\"7\"} 1\n"),
                      "%s", m);
        ck_assert_msg(strstr(m, "\nkpa_build_info{version=\"1.0?]0;x?\"} 1\n"), "%s", m);
        free(m);
}
END_TEST

START_TEST(metrics_every_sample_has_help_and_type) {
        struct fixture f;
        fixture_lagging(&f, SCOPE_CLUSTER);
        char *m = metrics(&f.st);
        char family[128] = "";
        for (char *line = m, *end; *line; line = end + 1) {
                end = strchr(line, '\n');
                ck_assert_ptr_nonnull(end);
                *end = '\0';
                if (strncmp(line, "# HELP ", 7) == 0) {
                        size_t n = strcspn(line + 7, " ");
                        snprintf(family, sizeof family, "%.*s", (int) n, line + 7);
                        continue;
                }
                if (strncmp(line, "# TYPE ", 7) == 0) {
                        ck_assert_msg(strncmp(line + 7, family, strlen(family)) == 0, "%s", line);
                        continue;
                }
                size_t n = strcspn(line, "{ ");
                ck_assert_msg(strlen(family) == n && strncmp(line, family, n) == 0,
                              "sample %s outside its family %s", line, family);
                ck_assert_msg(strncmp(line, "kpa_", 4) == 0, "%s", line);
        }
        free(m);
}
END_TEST

/* With --pod-name the scale-down gauges follow the rest (their exact text: check_scaledown). */
START_TEST(metrics_carry_the_scale_down_gauges_with_a_pod_name) {
        struct fixture f;
        fixture_ready(&f);
        char *m = metrics(&f.st);
        ck_assert_ptr_null(strstr(m, "kpa_scale_down"));
        free(m);
        struct scaledown_config c = { .pod = "kafka-3", .statefulset = "kafka", .namespace_ = "kafka", .ordinal = 3 };
        struct scaledown_lookup l = { .done = true, .replicas = 3 };
        struct scaledown_view view = { .cfg = &c, .lookup = &l,
                                       .verdict = { .state = SCALEDOWN_REMOVING, .hold = true } };
        f.st.scale_down = &view;
        m = metrics(&f.st);
        ck_assert_ptr_nonnull(strstr(m, "\nkpa_scale_down_lookup_ok 1\n"));
        ck_assert_ptr_nonnull(strstr(m, "\nkpa_statefulset_replicas 3\n"));
        ck_assert_ptr_nonnull(strstr(m, "\nkpa_scale_down_removing 1\n"));
        ck_assert_ptr_nonnull(strstr(m, "\nkpa_scale_down_holds_prestop 1\n"));
        free(m);
}
END_TEST

START_TEST(metrics_report_an_answer_that_does_not_fit) {
        struct fixture f;
        fixture_ready(&f);
        struct dynbuf b;
        dynbuf_init(&b, 100);
        ck_assert_int_eq(render_metrics(&f.st, &b), -E2BIG);
        dynbuf_free(&b);
        dynbuf_init(&b, 100);
        ck_assert_int_eq(render_status_json(&f.st, &b), -E2BIG);
        dynbuf_free(&b);
}
END_TEST

/* ---- a controller-only node ---- */

/* A controller (node 1) in a quorum led by 0: voter 2 caught up 45s ago, so node 1 is ready
 * but not safe to stop. Health fed with 2 good checks; verdict 2s after the last. */
struct cfixture {
        struct health h;
        struct verdict v;
        struct agent_status st;
        struct quorum_view q;
        struct quorum_stop stop;
};

static void cfixture_run(struct cfixture *f, bool leader_known) {
        static const struct health_policy cpolicy = { .subject = "controller", .ready_after = 2,
                                                      .stale_after_ms = 15000, .liveness_window_ms = 60000 };
        struct kwire_quorum k = { .have_partition = true, .leader_id = 0, .leader_epoch = 4, .high_watermark = 812,
                                  .n_voters = 3, .n_observers = 1 };
        k.voters[0] = (struct kwire_replica){ 0, { 0 }, 812, 5000000, 5000000 };
        k.voters[1] = (struct kwire_replica){ 1, { 0 }, 812, 4999800, 4999800 };
        k.voters[2] = (struct kwire_replica){ 2, { 0 }, 700, 4955000, 4955000 };
        struct quorum_observation o = { .local_answered = true, .leader = leader_known ? &k : NULL,
                                        .leader_error = "ctl-0:9093: no answer before the deadline" };
        struct quorum_policy p = { .caught_up_max_ms = 3000 };
        struct assessment a;
        quorum_assess(&o, LOCAL, &p, &a, &f->q);
        quorum_stop_evaluate(&f->q, LOCAL, &f->stop);
        health_init(&f->h, 1000);
        health_record(&f->h, &a, 6000);
        health_record(&f->h, &a, 11000);
        health_verdict(&f->h, &cpolicy, 13000, &f->v);
        f->st = (struct agent_status){
                .node_id = LOCAL, .bootstrap = "ctl-1.kq:9093", .version = "0.1.0", .health = &f->h,
                .verdict = &f->v, .last_check_unix_ms = 1714564800123, .last_check_duration_ms = 7,
                .answered_by = -1, .rtt_ms = 7, .last_success_unix_ms = 1714564800123,
                .quorum = &f->q, .quorum_stop = &f->stop,
        };
}

START_TEST(controller_probes_list_the_quorum_checks) {
        struct cfixture f;
        struct dynbuf b;
        cfixture_run(&f, true);
        ck_assert(f.v.ready);
        ck_assert_int_eq(probe(&f.v, PROBE_READYZ, true, &b), 200);
        ck_assert_str_eq(dynbuf_str(&b),
                         "[+]reachable ok\n"
                         "[+]leader ok\n"
                         "[+]voter ok\n"
                         "[+]caught_up ok\n"
                         "[+]fresh ok\n"
                         "[+]consecutive ok\n"
                         "readyz check passed\n");
        dynbuf_free(&b);
        ck_assert_int_eq(probe(&f.v, PROBE_LIVEZ, true, &b), 200);
        ck_assert_str_eq(dynbuf_str(&b), "[+]controller ok\nlivez check passed\n");
        dynbuf_free(&b);

        cfixture_run(&f, false);
        ck_assert_int_eq(probe(&f.v, PROBE_READYZ, false, &b), 503);
        ck_assert_str_eq(dynbuf_str(&b),
                         "[-]leader failed: no controller answered as the quorum leader: ctl-0:9093: no answer before the deadline\n"
                         "[-]voter failed: not checked: the quorum leader is unknown\n"
                         "[-]caught_up failed: not checked: the quorum leader is unknown\n"
                         "[-]consecutive failed: 0 of 2 consecutive good checks\n"
                         "readyz check failed\n");
        dynbuf_free(&b);
}
END_TEST

START_TEST(controller_status_shows_the_quorum_and_the_stop_gate) {
        struct cfixture f;
        cfixture_run(&f, true);
        cJSON *j = status(&f.st);
        ck_assert_str_eq(str(j, "role"), "controller");
        ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(j, "scope"));
        ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(j, "partitions"));
        ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(j, "broker"));
        ck_assert_int_eq(cJSON_GetArraySize(at(j, "checks")), 6);
        ck_assert_str_eq(str(j, "checks.caught_up.detail"), "caught up with leader 0 200ms ago (bound 3s), 0 records behind");
        ck_assert_str_eq(str(j, "liveness.detail"), "controller answered 2s ago (window 1m)");
        ck_assert(cJSON_IsTrue(at(j, "quorum.known")));
        ck_assert_int_eq((int) num(j, "quorum.leader"), 0);
        ck_assert_int_eq((int) num(j, "quorum.epoch"), 4);
        ck_assert_int_eq((int) num(j, "quorum.high_watermark"), 812);
        ck_assert_int_eq((int) num(j, "quorum.majority"), 2);
        ck_assert_int_eq((int) num(j, "quorum.caught_up_voters"), 2);
        ck_assert_int_eq((int) num(j, "quorum.caught_up_bound_ms"), 3000);
        ck_assert_str_eq(str(j, "quorum.local_role"), "voter");
        ck_assert_int_eq((int) num(j, "quorum.observers"), 1);
        cJSON *v2 = cJSON_GetArrayItem(at(j, "quorum.voters"), 2);
        ck_assert_int_eq((int) num(v2, "id"), 2);
        ck_assert(cJSON_IsFalse(at(v2, "caught_up")));
        ck_assert_int_eq((int) num(v2, "lag"), 112);
        ck_assert_int_eq((int) num(v2, "caught_up_ms_ago"), 45000);
        ck_assert_int_eq((int) num(v2, "fetched_ms_ago"), 45000);
        ck_assert(cJSON_IsFalse(at(j, "quorum.safe_to_stop.safe")));
        ck_assert_str_eq(str(j, "quorum.safe_to_stop.reason"), "stopping node 1 would leave 1 of 3 voters caught up "
                         "(majority 2): voter 2 last caught up 45s ago (112 records behind)");
        ck_assert_str_eq(str(j, "controller.listener"), "ctl-1.kq:9093");
        ck_assert_int_eq((int) num(j, "controller.rtt_ms"), 7);
        cJSON_Delete(j);

        cfixture_run(&f, false);
        j = status(&f.st);
        ck_assert(cJSON_IsFalse(at(j, "quorum.known")));
        ck_assert_str_eq(str(j, "quorum.reason"), "no controller answered as the quorum leader: ctl-0:9093: no answer before the deadline");
        ck_assert_ptr_null(cJSON_GetObjectItemCaseSensitive(at(j, "quorum"), "voters"));
        ck_assert(cJSON_IsFalse(at(j, "quorum.safe_to_stop.safe")));
        cJSON_Delete(j);
}
END_TEST

START_TEST(controller_metrics_describe_the_quorum) {
        struct cfixture f;
        cfixture_run(&f, true);
        char *m = metrics(&f.st);
        static const char *const want[] = {
                "# HELP kpa_ready 1 if the local controller is ready (every readiness check passes).\n",
                "\nkpa_readiness_check{check=\"leader\"} 1\n",
                "\nkpa_readiness_check{check=\"voter\"} 1\n",
                "\nkpa_quorum_known 1\n",
                "\nkpa_quorum_leader 0\n",
                "\nkpa_quorum_leader_epoch 4\n",
                "\nkpa_quorum_high_watermark 812\n",
                "\nkpa_quorum_voters{state=\"caught_up\"} 2\n",
                "\nkpa_quorum_voters{state=\"lagging\"} 1\n",
                "\nkpa_quorum_voter_lag_records{voter=\"2\"} 112\n",
                "\nkpa_quorum_voter_caught_up_age_seconds{voter=\"1\"} 0.200\n",
                "\nkpa_quorum_voter_caught_up_age_seconds{voter=\"2\"} 45.000\n",
                "\nkpa_quorum_safe_to_stop 0\n",
                "# HELP kpa_broker_reachable 1 if the local controller answered the last check.\n",
                "\nkpa_broker_reachable 1\n",
        };
        for (size_t i = 0; i < sizeof want / sizeof *want; i++)
                ck_assert_msg(strstr(m, want[i]) != NULL, "missing %s in\n%s", want[i], m);
        ck_assert_ptr_null(strstr(m, "kpa_partitions"));
        free(m);
        cfixture_run(&f, false);
        m = metrics(&f.st);
        ck_assert_ptr_nonnull(strstr(m, "\nkpa_quorum_known 0\n"));
        ck_assert_ptr_null(strstr(m, "kpa_quorum_leader "));
        free(m);
}
END_TEST

int main(void) {
        Suite *s = suite_create("render");
        TCase *tc = tcase_create("probe");
        tcase_add_test(tc, readyz_ready_answers_200_ok);
        tcase_add_test(tc, readyz_verbose_lists_every_applicable_check);
        tcase_add_test(tc, readyz_failing_lists_only_failing_reasons_with_503);
        tcase_add_test(tc, readyz_verbose_failing_shows_passing_checks_too);
        tcase_add_test(tc, readyz_unreachable_flattens_control_characters);
        tcase_add_test(tc, livez_answers_from_liveness_only);
        tcase_add_test(tc, livez_failing_gives_the_reason_with_503);
        tcase_add_test(tc, probe_reports_a_body_that_does_not_fit);
        suite_add_tcase(s, tc);
        tc = tcase_create("status");
        tcase_add_test(tc, status_json_describes_a_lagging_broker);
        tcase_add_test(tc, status_json_and_metrics_show_the_feature_lag_and_the_command);
        tcase_add_test(tc, status_json_says_why_the_features_are_unknown);
        tcase_add_test(tc, status_json_and_metrics_show_leadership_and_the_last_election);
        tcase_add_test(tc, status_json_leaves_out_checks_that_do_not_apply);
        tcase_add_test(tc, status_json_reports_the_error_and_unknowns_as_null);
        tcase_add_test(tc, status_json_says_why_stopping_is_not_known_to_be_safe);
        tcase_add_test(tc, status_json_caps_the_lagging_list);
        tcase_add_test(tc, rfc3339_formats_utc_with_milliseconds);
        suite_add_tcase(s, tc);
        tc = tcase_create("metrics");
        tcase_add_test(tc, metrics_exposition_for_a_ready_broker);
        tcase_add_test(tc, metrics_for_a_lagging_cluster_scoped_broker);
        tcase_add_test(tc, metrics_for_an_unreachable_broker);
        tcase_add_test(tc, metrics_escape_label_values);
        tcase_add_test(tc, metrics_label_values_carry_no_control_bytes_or_malformed_utf8);
        tcase_add_test(tc, metrics_every_sample_has_help_and_type);
        tcase_add_test(tc, metrics_carry_the_scale_down_gauges_with_a_pod_name);
        tcase_add_test(tc, metrics_report_an_answer_that_does_not_fit);
        tcase_add_test(tc, controller_probes_list_the_quorum_checks);
        tcase_add_test(tc, controller_status_shows_the_quorum_and_the_stop_gate);
        tcase_add_test(tc, controller_metrics_describe_the_quorum);
        suite_add_tcase(s, tc);
        return tu_run_suite(s);
}
