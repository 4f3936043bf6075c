/* Suite for scale-down safety (agent/scaledown.c): telling a pod being scaled away from one
 * restarting, the hold while it hosts replicas, the voters' majority, lookup failures that
 * hold and those that do not, the StatefulSet answer and the configuration. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kpa/scaledown.h"
#include "testutil.h"

static struct scaledown_config *cfg(const char *pod) {
        struct scaledown_config *c = NULL;
        char err[512];
        ck_assert_int_eq(scaledown_config_load(pod, NULL, "kafka", NULL, NULL, NULL, NULL, NULL, &c, err, sizeof err), 0);
        return c;
}

static struct scaledown_lookup known(int32_t replicas) {
        return (struct scaledown_lookup){ .done = true, .rc = 0, .replicas = replicas, .started_ms = 10 };
}

static struct scaledown_lookup failed(int rc, const char *why) {
        struct scaledown_lookup l = { .done = true, .rc = rc, .started_ms = 10 };
        snprintf(l.error, sizeof l.error, "%s", why);
        return l;
}

static struct scaledown_verdict eval(struct scaledown_config *c, const struct scaledown_lookup *l, int hosted,
                                     const struct ctlcheck_endpoints *voters) {
        struct scaledown_input in = { .cfg = c, .lookup = l, .waiting = true, .fresh = true, .node_id = (int32_t) c->ordinal,
                                      .hosted = hosted, .voters = voters,
                                      .bootstrap = "kafka-3.kafka-headless.kafka.svc.cluster.local:9092" };
        if (strcmp(c->pod, "kafka-3") != 0)
                in.bootstrap = "kafka-1.kafka-headless.kafka.svc.cluster.local:9092";
        struct scaledown_verdict v;
        scaledown_evaluate(&in, &v);
        return v;
}

static struct ctlcheck_endpoints voters3(void) {
        struct ctlcheck_endpoints e;
        char err[256];
        ck_assert_int_eq(ctlcheck_parse_endpoints("0@kafka-0.kafka-headless.kafka.svc.cluster.local:9093,"
                                                  "1@kafka-1.kafka-headless.kafka.svc.cluster.local:9093,"
                                                  "2@kafka-2.kafka-headless.kafka.svc.cluster.local:9093",
                                                  NULL, &e, err, sizeof err), 0);
        return e;
}

START_TEST(restart_below_replicas_is_not_held_even_with_replicas) {
        struct scaledown_config *c = cfg("kafka-3");
        struct scaledown_lookup l = known(4);
        struct ctlcheck_endpoints v3 = voters3();
        struct scaledown_verdict v = eval(c, &l, 12, &v3);
        ck_assert_int_eq(v.state, SCALEDOWN_STAYS);
        ck_assert(!v.hold);
        ck_assert_str_eq(v.reason, "pod kafka-3 stays: ordinal 3 is below spec.replicas 4 of StatefulSet kafka/kafka "
                                   "(a stop is a restart)");
        ck_assert_str_eq(v.move_command, "");
        scaledown_config_free(c);
}
END_TEST

START_TEST(removed_broker_holds_while_it_hosts_replicas_and_names_the_commands) {
        struct scaledown_config *c = cfg("kafka-3");
        struct scaledown_lookup l = known(3);
        struct ctlcheck_endpoints v3 = voters3();
        struct scaledown_verdict v = eval(c, &l, 5, &v3);
        ck_assert_int_eq(v.state, SCALEDOWN_REMOVING);
        ck_assert(v.hold);
        ck_assert(!v.quorum_refused);
        ck_assert_str_eq(v.reason, "pod kafka-3 is being removed (ordinal 3 >= spec.replicas 3 of StatefulSet kafka/kafka) "
                                   "and broker 3 still hosts 5 partition replicas: move them away first "
                                   "(move_command), then the stop proceeds");
        ck_assert_str_eq(v.move_command, "kubectl -n kafka exec kafka-3 -c kafka -- bash /etc/kafka/template/kpa-scale-down.sh "
                                         "reassign --bootstrap-server kafka-3.kafka-headless.kafka.svc.cluster.local:9092 "
                                         "--remove 3");
        ck_assert_str_eq(v.unregister_command, "kubectl -n kafka exec kafka-0 -c kafka -- bash /etc/kafka/template/"
                                               "kpa-scale-down.sh unregister --bootstrap-server "
                                               "kafka-0.kafka-headless.kafka.svc.cluster.local:9092 --remove 3");
        scaledown_config_free(c);
}
END_TEST

START_TEST(removed_broker_releases_once_it_hosts_nothing) {
        struct scaledown_config *c = cfg("kafka-3");
        struct scaledown_lookup l = known(3);
        struct scaledown_verdict v = eval(c, &l, 0, NULL);
        ck_assert_int_eq(v.state, SCALEDOWN_REMOVING);
        ck_assert(!v.hold);
        ck_assert_str_eq(v.move_command, "");
        ck_assert_ptr_nonnull(strstr(v.unregister_command, "unregister"));
        scaledown_config_free(c);
}
END_TEST

START_TEST(removed_broker_with_unknown_hosting_holds) {
        struct scaledown_config *c = cfg("kafka-3");
        struct scaledown_lookup l = known(2);
        struct scaledown_verdict v = eval(c, &l, -1, NULL);
        ck_assert(v.hold);
        ck_assert_str_eq(v.reason, "pod kafka-3 is being removed (ordinal 3 >= spec.replicas 2 of StatefulSet kafka/kafka) "
                                   "and whether broker 3 still hosts replicas is not known yet (no check of it has ended since "
                                   "the /prestop came)");
        /* Two pods go: the commands name both of their broker ids. */
        ck_assert_ptr_nonnull(strstr(v.move_command, "--remove 2,3"));
        scaledown_config_free(c);
}
END_TEST

START_TEST(scale_to_zero_stops_the_cluster_and_holds_nothing) {
        struct scaledown_config *c = cfg("kafka-1");
        struct scaledown_lookup l = known(0);
        struct ctlcheck_endpoints v3 = voters3();
        struct scaledown_verdict v = eval(c, &l, 7, &v3);
        ck_assert_int_eq(v.state, SCALEDOWN_REMOVING);
        ck_assert(!v.hold);
        ck_assert(!v.quorum_refused);
        ck_assert_str_eq(v.reason, "StatefulSet kafka/kafka is scaled to 0: the whole cluster stops (its volumes stay), "
                                   "so no replica can move and this rule holds nothing");
        ck_assert_str_eq(v.move_command, "");
        ck_assert_str_eq(v.unregister_command, "");
        scaledown_config_free(c);
}
END_TEST

START_TEST(voter_removal_that_loses_the_majority_is_refused) {
        struct scaledown_config *c = cfg("kafka-1");
        struct scaledown_lookup l = known(1);
        struct ctlcheck_endpoints v3 = voters3();
        struct scaledown_verdict v = eval(c, &l, 0, &v3);
        ck_assert(v.hold);
        ck_assert(v.quorum_refused);
        ck_assert_int_eq(v.voters, 3);
        ck_assert_int_eq(v.voters_removed, 2);
        ck_assert_str_eq(v.reason, "refusing to stop KRaft voter kafka-1: StatefulSet kafka/kafka scaled to 1 keeps 1 of "
                                   "the 3 voters, not a majority; scale it back to at least 2 (KRaft controllers are "
                                   "never scaled below a majority of the voters)");
        scaledown_config_free(c);
}
END_TEST

START_TEST(voter_removal_that_keeps_a_majority_follows_the_hosting_rule) {
        struct scaledown_config *c = cfg("kafka-2");
        struct scaledown_lookup l = known(2);
        struct ctlcheck_endpoints v3 = voters3();
        struct scaledown_verdict v = eval(c, &l, 0, &v3);
        ck_assert(!v.hold);
        ck_assert(!v.quorum_refused);
        ck_assert_int_eq(v.voters_removed, 1);
        scaledown_config_free(c);
}
END_TEST

/* An independent count: for 1..7 voters at ordinals 0..n-1 and every scale 1..n-1 (0 stops
 * the whole cluster), removing a voter is refused exactly when the voters kept are at most
 * half. */
START_TEST(quorum_rule_matches_an_independent_count) {
        for (int n = 1; n <= 7; n++)
                for (int replicas = 1; replicas < n; replicas++) {
                        struct ctlcheck_endpoints e = { .n = n };
                        for (int i = 0; i < n; i++) {
                                e.v[i].id = i;
                                snprintf(e.v[i].host, sizeof e.v[i].host, "kafka-%d.h.kafka.svc", i);
                        }
                        char pod[16];
                        snprintf(pod, sizeof pod, "kafka-%d", n - 1);
                        struct scaledown_config *c = cfg(pod);
                        struct scaledown_lookup l = known(replicas);
                        struct scaledown_verdict v = eval(c, &l, 0, &e);
                        bool majority_kept = 2 * replicas > n;
                        ck_assert_msg(v.quorum_refused == !majority_kept, "n=%d replicas=%d", n, replicas);
                        ck_assert_int_eq(v.voters_removed, n - replicas);
                        scaledown_config_free(c);
                }
}
END_TEST

START_TEST(voters_of_another_statefulset_are_not_counted) {
        struct ctlcheck_endpoints e;
        char err[256];
        ck_assert_int_eq(ctlcheck_parse_endpoints("0@ctl-0.c:9093,1@ctl-1.c:9093,2@ctl-2.c:9093", NULL, &e, err, sizeof err), 0);
        bool self = true;
        ck_assert_int_eq(scaledown_voters_removed(&e, "kafka", "kafka-5", 0, &self), 0);
        ck_assert(!self);
        ck_assert_int_eq(scaledown_voters_removed(&e, "ctl", "ctl-2", 2, &self), 1);
        ck_assert(self);
        /* "ctl-20" is not a pod of "ctl-2"'s StatefulSet... but of "ctl": only whole labels. */
        ck_assert_int_eq(scaledown_voters_removed(&e, "ct", "ct-1", 0, &self), 0);
}
END_TEST

START_TEST(lookup_not_yet_fresh_holds_a_pending_prestop) {
        struct scaledown_config *c = cfg("kafka-3");
        struct scaledown_lookup l = known(4);
        struct scaledown_input in = { .cfg = c, .lookup = &l, .waiting = true, .fresh = false, .node_id = 3, .hosted = 0 };
        struct scaledown_verdict v;
        scaledown_evaluate(&in, &v);
        ck_assert(v.hold);
        ck_assert_str_eq(v.reason, "reading spec.replicas of StatefulSet kafka/kafka to tell a scale-down from a restart");
        /* Without a pending /prestop, /status shows the last lookup. */
        in.waiting = false;
        scaledown_evaluate(&in, &v);
        ck_assert(!v.hold);
        ck_assert_int_eq(v.state, SCALEDOWN_STAYS);
        scaledown_config_free(c);
}
END_TEST

/* The reason of a lasting fault that holds: the fault, the fix, the opt-out. */
static void assert_lasting_hold(const struct scaledown_verdict *v, bool waiting, const char *error) {
        char want[SCALEDOWN_TEXT_MAX];
        snprintf(want, sizeof want, "cannot tell a scale-down from a restart, so %s until spec.replicas can be read "
                 "(again every 3 s) or the prestop timeout ends: %s; fix that (k8s/base: the Role and RoleBinding "
                 "kafka-kpa-statefulset-reader and the service account token), or leave --pod-name (KPA_POD_NAME) "
                 "unset to turn the scale-down rule off", waiting ? "/prestop holds" : "a /prestop would hold", error);
        ck_assert_int_eq(v->hold, waiting);
        ck_assert_int_eq(v->state, SCALEDOWN_UNKNOWN);
        ck_assert_str_eq(v->reason, want);
}

START_TEST(every_lookup_failure_holds_a_prestop_except_a_missing_statefulset) {
        struct scaledown_config *c = cfg("kafka-3");
        struct scaledown_input in = { .cfg = c, .waiting = true, .fresh = true, .node_id = 3, .hosted = 0 };
        struct scaledown_verdict v;
        /* 5xx and transport errors: asking again may fix them. */
        static const struct { int rc; const char *error; } transient[] = {
                { -EIO, "HTTP 503 (API server: \"etcd leader changed\")" },
                { -ETIMEDOUT, "Connection timed out after 5000 milliseconds" },
                { -EIO, "Failed to connect to 10.96.0.1 port 443: Connection refused" },
                { -EPROTO, "the API server's answer is not StatefulSet \"kafka\"" },
        };
        for (size_t i = 0; i < sizeof transient / sizeof transient[0]; i++) {
                struct scaledown_lookup l = failed(transient[i].rc, transient[i].error);
                in.lookup = &l;
                in.waiting = true;
                scaledown_evaluate(&in, &v);
                ck_assert(v.hold);
                ck_assert_int_eq(v.state, SCALEDOWN_UNKNOWN);
                char want[SCALEDOWN_TEXT_MAX];
                snprintf(want, sizeof want, "cannot tell a scale-down from a restart: %s", transient[i].error);
                ck_assert_str_eq(v.reason, want);
                ck_assert(scaledown_failure_holds(transient[i].rc));
                ck_assert(!scaledown_failure_is_lasting(transient[i].rc));
                in.waiting = false;
                scaledown_evaluate(&in, &v);
                ck_assert(!v.hold);
        }
        /* 401, 403 and configuration faults: lasting, and they hold (fail closed), naming the
         * fix and the opt-out; /status shows the same before any /prestop. */
        static const struct { int rc; const char *error; } lasting[] = {
                { -EACCES, "the API server refused the service account token (HTTP 401)" },
                { -EACCES, "the service account cannot get StatefulSet kafka/kafka: add \"kafka\" to resourceNames of "
                           "Role kafka/kafka-kpa-statefulset-reader (its rule for get on statefulsets) and bind that "
                           "Role to this pod's service account (HTTP 403)" },
                { -EINVAL, "KUBERNETES_SERVICE_HOST is not set: kpa-agent reads its StatefulSet's spec.replicas from "
                           "the Kubernetes API and must run in a pod (or leave --pod-name unset)" },
                { -EINVAL, "service account token /var/run/secrets/kubernetes.io/serviceaccount/token not found: mount "
                           "it (automountServiceAccountToken: true) into the kpa-agent container (the kube-api-access "
                           "volume)" },
                { -EINVAL, "CA certificate /var/run/secrets/kubernetes.io/serviceaccount/ca.crt for the Kubernetes "
                           "API cannot be read: No such file or directory" },
        };
        for (size_t i = 0; i < sizeof lasting / sizeof lasting[0]; i++) {
                struct scaledown_lookup l = failed(lasting[i].rc, lasting[i].error);
                in.lookup = &l;
                in.waiting = true;
                scaledown_evaluate(&in, &v);
                assert_lasting_hold(&v, true, lasting[i].error);
                ck_assert(scaledown_failure_holds(lasting[i].rc));
                ck_assert(scaledown_failure_is_lasting(lasting[i].rc));
                in.waiting = false;
                scaledown_evaluate(&in, &v);
                assert_lasting_hold(&v, false, lasting[i].error);
        }
        /* 404: no StatefulSet, no scale-down to protect (the whole set is being deleted). */
        struct scaledown_lookup l = failed(-ENOENT, "StatefulSet kafka/kafka not found (HTTP 404): --statefulset and "
                                                    "--namespace must name this pod's StatefulSet");
        in.lookup = &l;
        for (int waiting = 1; waiting >= 0; waiting--) {
                in.waiting = waiting;
                scaledown_evaluate(&in, &v);
                ck_assert(!v.hold);
                ck_assert_int_eq(v.state, SCALEDOWN_UNKNOWN);
                ck_assert_str_eq(v.reason, "this rule holds nothing: StatefulSet kafka/kafka does not exist, so no "
                                           "scale-down is left to protect (it is being deleted with its pods): "
                                           "StatefulSet kafka/kafka not found (HTTP 404): --statefulset and "
                                           "--namespace must name this pod's StatefulSet");
        }
        ck_assert(!scaledown_failure_holds(-ENOENT));
        ck_assert(scaledown_failure_is_lasting(-ENOENT));
        scaledown_config_free(c);
}
END_TEST

START_TEST(parse_replicas_reads_only_the_named_statefulset) {
        char err[256];
        int32_t r = -1;
        const char *ok = "{\"kind\":\"StatefulSet\",\"metadata\":{\"name\":\"kafka\"},\"spec\":{\"replicas\":3}}";
        ck_assert_int_eq(scaledown_parse_replicas("kafka", ok, strlen(ok), &r, err, sizeof err), 0);
        ck_assert_int_eq(r, 3);
        const char *zero = "{\"kind\":\"StatefulSet\",\"metadata\":{\"name\":\"kafka\"},\"spec\":{\"replicas\":0}}";
        ck_assert_int_eq(scaledown_parse_replicas("kafka", zero, strlen(zero), &r, err, sizeof err), 0);
        ck_assert_int_eq(r, 0);
        const char *bad[] = {
                "{\"kind\":\"Deployment\",\"metadata\":{\"name\":\"kafka\"},\"spec\":{\"replicas\":3}}",
                "{\"kind\":\"StatefulSet\",\"metadata\":{\"name\":\"other\"},\"spec\":{\"replicas\":3}}",
                "{\"kind\":\"StatefulSet\",\"metadata\":{\"name\":\"kafka\"},\"spec\":{}}",
                "{\"kind\":\"StatefulSet\",\"metadata\":{\"name\":\"kafka\"},\"spec\":{\"replicas\":-1}}",
                "{\"kind\":\"StatefulSet\",\"metadata\":{\"name\":\"kafka\"},\"spec\":{\"replicas\":2.5}}",
                "{\"kind\":\"StatefulSet\",\"metadata\":{\"name\":\"kafka\"},\"spec\":{\"replicas\":\"3\"}}",
                "not json",
        };
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                r = 42;
                ck_assert_int_eq(scaledown_parse_replicas("kafka", bad[i], strlen(bad[i]), &r, err, sizeof err), -EPROTO);
                ck_assert_int_eq(r, 42);
        }
        ck_assert_str_eq(err, "the API server's answer is not StatefulSet \"kafka\"");
}
END_TEST

START_TEST(config_derives_the_statefulset_and_refuses_bad_names) {
        struct scaledown_config *c = NULL;
        char err[512];
        ck_assert_int_eq(scaledown_config_load("my-kafka-12", NULL, "ns1", NULL, NULL, NULL, NULL, NULL, &c, err, sizeof err), 0);
        ck_assert_str_eq(c->statefulset, "my-kafka");
        ck_assert_int_eq(c->ordinal, 12);
        ck_assert_str_eq(c->namespace_, "ns1");
        scaledown_config_free(c);
        ck_assert_int_eq(scaledown_config_load("kafka", NULL, "ns1", NULL, NULL, NULL, NULL, NULL, &c, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "--pod-name \"kafka\" is not a StatefulSet pod's name (<statefulset>-<ordinal>)");
        ck_assert_int_eq(scaledown_config_load("kafka-0", NULL, "Bad_NS", NULL, NULL, NULL, NULL, NULL, &c, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "--namespace \"Bad_NS\" is not a namespace name (a lower-case DNS label)");
        ck_assert_int_eq(scaledown_config_load("kafka-0", "x/y", "ns", NULL, NULL, NULL, NULL, NULL, &c, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "--statefulset \"x/y\" is not a StatefulSet name (a lower-case DNS label)");
        ck_assert_int_eq(scaledown_config_load("kafka-0", NULL, NULL, "/nonexistent/namespace", NULL, NULL, NULL, NULL,
                                               &c, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "--namespace is not set and /nonexistent/namespace cannot be read (No such file or "
                              "directory): give kpa-agent env KPA_NAMESPACE from the downward API (fieldRef: "
                              "metadata.namespace)");
}
END_TEST

START_TEST(config_reads_the_namespace_file) {
        char *dir = tu_mkdtemp();
        tu_write(dir, "namespace", "prod\n");
        char path[600];
        snprintf(path, sizeof path, "%s/namespace", dir);
        struct scaledown_config *c = NULL;
        char err[512];
        ck_assert_int_eq(scaledown_config_load("kafka-1", NULL, NULL, path, NULL, NULL, NULL, NULL, &c, err, sizeof err), 0);
        ck_assert_str_eq(c->namespace_, "prod");
        scaledown_config_free(c);
        tu_rmtree(dir);
        free(dir);
}
END_TEST

START_TEST(status_json_shows_the_verdict_and_commands) {
        struct scaledown_config *c = cfg("kafka-3");
        struct scaledown_lookup l = known(3);
        struct scaledown_view view = { .cfg = c, .lookup = &l };
        view.verdict = eval(c, &l, 2, NULL);
        cJSON *root = cJSON_CreateObject();
        ck_assert_int_eq(scaledown_status_json(&view, root), 0);
        const cJSON *o = cJSON_GetObjectItem(root, "scale_down");
        ck_assert_str_eq(cJSON_GetObjectItem(o, "state")->valuestring, "removing");
        ck_assert_int_eq(cJSON_GetObjectItem(o, "replicas")->valueint, 3);
        ck_assert_int_eq(cJSON_GetObjectItem(o, "ordinal")->valueint, 3);
        ck_assert(cJSON_IsTrue(cJSON_GetObjectItem(o, "holds_prestop")));
        ck_assert(cJSON_IsNull(cJSON_GetObjectItem(o, "lookup_error")));
        ck_assert_str_eq(cJSON_GetObjectItem(o, "move_command")->valuestring, view.verdict.move_command);
        cJSON_Delete(root);
        scaledown_config_free(c);
}
END_TEST

static char *metrics_of(const struct scaledown_view *view) {
        struct dynbuf b;
        dynbuf_init(&b, 1 << 16);
        ck_assert_int_eq(scaledown_metrics(view, &b), 0);
        return dynbuf_steal(&b);
}

START_TEST(metrics_show_a_removed_broker_held_and_the_replicas_read) {
        struct scaledown_config *c = cfg("kafka-3");
        struct scaledown_lookup l = known(3);
        struct scaledown_view view = { .cfg = c, .lookup = &l };
        view.verdict = eval(c, &l, 2, NULL);
        char *m = metrics_of(&view);
        ck_assert_str_eq(m,
                "# HELP kpa_scale_down_lookup_ok 1 if the last read of the StatefulSet's spec.replicas succeeded "
                "(0: not read yet, or it failed: /status scale_down.lookup_error).\n"
                "# TYPE kpa_scale_down_lookup_ok gauge\n"
                "kpa_scale_down_lookup_ok 1\n"
                "# HELP kpa_statefulset_replicas spec.replicas of this pod's StatefulSet, as last read.\n"
                "# TYPE kpa_statefulset_replicas gauge\n"
                "kpa_statefulset_replicas 3\n"
                "# HELP kpa_scale_down_removing 1 if this pod is being removed (its ordinal is at or above "
                "spec.replicas); 0 if it stays or that is not known.\n"
                "# TYPE kpa_scale_down_removing gauge\n"
                "kpa_scale_down_removing 1\n"
                "# HELP kpa_scale_down_holds_prestop 1 if the scale-down rule holds a /prestop now (a removed "
                "broker that hosts replicas, a voter majority at stake, or spec.replicas being read, or not "
                "readable, for a held /prestop).\n"
                "# TYPE kpa_scale_down_holds_prestop gauge\n"
                "kpa_scale_down_holds_prestop 1\n");
        free(m);
        /* Once it hosts nothing it is still being removed, and no longer held. */
        view.verdict = eval(c, &l, 0, NULL);
        m = metrics_of(&view);
        ck_assert_ptr_nonnull(strstr(m, "\nkpa_scale_down_removing 1\n"));
        ck_assert_ptr_nonnull(strstr(m, "\nkpa_scale_down_holds_prestop 0\n"));
        free(m);
        scaledown_config_free(c);
}
END_TEST

START_TEST(metrics_leave_out_the_replicas_until_a_read_succeeds) {
        struct scaledown_config *c = cfg("kafka-3");
        struct scaledown_lookup l = failed(-EACCES, "403");
        struct scaledown_view view = { .cfg = c, .lookup = &l };
        view.verdict = eval(c, &l, 2, NULL);
        char *m = metrics_of(&view);
        ck_assert_ptr_nonnull(strstr(m, "\nkpa_scale_down_lookup_ok 0\n"));
        ck_assert_ptr_null(strstr(m, "kpa_statefulset_replicas"));
        ck_assert_ptr_nonnull(strstr(m, "\nkpa_scale_down_removing 0\n"));
        /* A 403 holds a pending /prestop (fail closed). */
        ck_assert_ptr_nonnull(strstr(m, "\nkpa_scale_down_holds_prestop 1\n"));
        free(m);
        /* Not read yet while a /prestop waits for a fresh read: held, replicas still absent. */
        struct scaledown_lookup none = { 0 };
        view.lookup = &none;
        view.verdict = eval(c, &none, 2, NULL);
        m = metrics_of(&view);
        ck_assert_ptr_nonnull(strstr(m, "\nkpa_scale_down_lookup_ok 0\n"));
        ck_assert_ptr_null(strstr(m, "kpa_statefulset_replicas"));
        ck_assert_ptr_nonnull(strstr(m, "\nkpa_scale_down_removing 0\n"));
        ck_assert_ptr_nonnull(strstr(m, "\nkpa_scale_down_holds_prestop 1\n"));
        free(m);
        /* A restart: replicas read, neither removing nor held. */
        struct scaledown_lookup four = known(4);
        view.lookup = &four;
        view.verdict = eval(c, &four, 2, NULL);
        m = metrics_of(&view);
        ck_assert_ptr_nonnull(strstr(m, "\nkpa_statefulset_replicas 4\n"));
        ck_assert_ptr_nonnull(strstr(m, "\nkpa_scale_down_removing 0\n"));
        ck_assert_ptr_nonnull(strstr(m, "\nkpa_scale_down_holds_prestop 0\n"));
        free(m);
        scaledown_config_free(c);
}
END_TEST

int main(void) {
        Suite *s = suite_create("scaledown");
        TCase *tc = tcase_create("scaledown");
        tcase_add_test(tc, restart_below_replicas_is_not_held_even_with_replicas);
        tcase_add_test(tc, removed_broker_holds_while_it_hosts_replicas_and_names_the_commands);
        tcase_add_test(tc, removed_broker_releases_once_it_hosts_nothing);
        tcase_add_test(tc, removed_broker_with_unknown_hosting_holds);
        tcase_add_test(tc, scale_to_zero_stops_the_cluster_and_holds_nothing);
        tcase_add_test(tc, voter_removal_that_loses_the_majority_is_refused);
        tcase_add_test(tc, voter_removal_that_keeps_a_majority_follows_the_hosting_rule);
        tcase_add_test(tc, quorum_rule_matches_an_independent_count);
        tcase_add_test(tc, voters_of_another_statefulset_are_not_counted);
        tcase_add_test(tc, lookup_not_yet_fresh_holds_a_pending_prestop);
        tcase_add_test(tc, every_lookup_failure_holds_a_prestop_except_a_missing_statefulset);
        tcase_add_test(tc, parse_replicas_reads_only_the_named_statefulset);
        tcase_add_test(tc, config_derives_the_statefulset_and_refuses_bad_names);
        tcase_add_test(tc, config_reads_the_namespace_file);
        tcase_add_test(tc, status_json_shows_the_verdict_and_commands);
        tcase_add_test(tc, metrics_show_a_removed_broker_held_and_the_replicas_read);
        tcase_add_test(tc, metrics_leave_out_the_replicas_until_a_read_succeeds);
        suite_add_tcase(s, tc);
        return tu_run_suite(s);
}
