/* The kpa-agent program end to end, as kubelet sees it: a real agent process against
 * librdkafka's mock cluster (broker down, slow, erroring) and against the protocol-level fake
 * cluster (ISR lag, leaderless partitions, the preStop gate), over real HTTP. Tests wait on
 * the agent's logged events (ready, not_ready, live, not_live, reloaded), not on sleeps. */
#include <check.h>
#include <cjson/cJSON.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fakecluster.h"
#include "fakequorum.h"
#include "kpa/demo.h"
#include "kpa/kafka.h"
#include "kpa/snapshot.h"
#include "testutil.h"

#define EVENT_MS 15000

/* The common fast settings: a check every 200ms, ready after 2, live for 3s without answers. */
static char *const fast[] = { "--interval=200ms", "--check-timeout=1s", "--ready-after=2",
                              "--liveness-window=3s", NULL };

static void agent_start(struct tu_agent *a, const char *bootstrap, int node_id, char *const extra[]) {
        tu_agent_start(a, bootstrap, node_id, fast, extra, NULL, EVENT_MS);
}

static void expect_event(struct tu_agent *a, const char *event) {
        tu_agent_expect(a, event, EVENT_MS);
}

/* The demo cluster (3 brokers, node 1 watched) and a ready agent on it. */
static struct demo *ready_on_demo(struct tu_agent *a, char *const extra[]) {
        struct demo *d;
        char err[512];
        ck_assert_msg(demo_start(&(struct demo_opts){ 0 }, &d, err, sizeof err) == 0, "%s", err);
        agent_start(a, demo_bootstrap(d), 1, extra);
        expect_event(a, "ready");
        return d;
}

static long long mono_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static cJSON *get_status(struct tu_agent *a) {
        char *body = NULL;
        ck_assert_int_eq(tu_http(a->port, "GET", "/status", 5000, &body), 200);
        cJSON *j = cJSON_Parse(body);
        ck_assert_ptr_nonnull(j);
        free(body);
        return j;
}

static int json_int(cJSON *j, const char *a, const char *b) {
        cJSON *x = cJSON_GetObjectItemCaseSensitive(j, a);
        if (b)
                x = cJSON_GetObjectItemCaseSensitive(x, b);
        ck_assert_msg(cJSON_IsNumber(x), "%s.%s is not a number", a, b ? b : "");
        return x->valueint;
}

static bool json_true(cJSON *j, const char *a, const char *b, const char *c) {
        cJSON *x = cJSON_GetObjectItemCaseSensitive(j, a);
        if (b)
                x = cJSON_GetObjectItemCaseSensitive(x, b);
        if (c)
                x = cJSON_GetObjectItemCaseSensitive(x, c);
        return cJSON_IsTrue(x);
}

/* Waits until the agent has completed `more` further checks (there is no per-check event:
 * the counter in /status is the observable). Bounded. */
static void await_checks(struct tu_agent *a, int more) {
        cJSON *j = get_status(a);
        int target = json_int(cJSON_GetObjectItemCaseSensitive(j, "last_check"), "total", NULL) + more;
        cJSON_Delete(j);
        for (int i = 0; i < 400; i++) {
                j = get_status(a);
                int total = json_int(cJSON_GetObjectItemCaseSensitive(j, "last_check"), "total", NULL);
                cJSON_Delete(j);
                if (total >= target)
                        return;
                struct timespec ts = { 0, 25 * 1000000 };
                nanosleep(&ts, NULL);
        }
        ck_abort_msg("the agent did not complete %d more checks", more);
}

START_TEST(mock_demo_cluster_survives_a_burst_of_sighups) {
        char bin[600], line[4096], failure[4096] = "";
        snprintf(bin, sizeof bin, "%s/kpa-agent", tu_build_dir());
        char *argv[] = { bin, "--demo", "--listen=127.0.0.1:0", "--interval=200ms", "--ready-after=2", NULL };
        struct tu_agent a;
        tu_spawn(argv, NULL, &a.child);
        a.port = tu_wait_agent_port(&a.child, EVENT_MS);
        ck_assert_int_gt(a.port, 0);
        expect_event(&a, "ready");
        /* Signals sent faster than the loop takes them: while one is pending for the main
         * thread, the kernel hands the next to another thread that does not block it. Each
         * burst's log lines are read at once, so that the agent never waits on a full pipe. */
        bool mock_failed = false;
        for (int burst = 0; burst < 400 && !mock_failed; burst++) {
                for (int i = 0; i < 20; i++)
                        kill(a.child.pid, SIGHUP);
                while (tu_wait_line(&a.child, "\"event\":\"", 5, line, sizeof line) == 0)
                        if (strstr(line, "Mock cluster failed")) {
                                mock_failed = true;
                                snprintf(failure, sizeof failure, "%s", line);
                        }
        }
        ck_assert_msg(!mock_failed, "the demo's mock cluster stopped: %s", failure);
        await_checks(&a, 3);
        char *body = NULL;
        ck_assert_int_eq(tu_http(a.port, "GET", "/readyz", 5000, &body), 200);
        free(body);
        ck_assert_int_eq(tu_stop(&a.child, SIGTERM, 5000), 0);
}
END_TEST

/* The demo's gate works like a real cluster's: the mock brokers have no DescribeConfigs, so
 * the in-sync peers answer Metadata on clients of their own instead, and the other broker's
 * view takes the demo's fixed min.insync.replicas too. */
START_TEST(mock_demo_prestop_releases_after_asking_the_other_brokers) {
        char bin[600];
        snprintf(bin, sizeof bin, "%s/kpa-agent", tu_build_dir());
        char *argv[] = { bin, "--demo", "--listen=127.0.0.1:0", "--interval=200ms", "--ready-after=2", NULL };
        struct tu_agent a;
        tu_spawn(argv, NULL, &a.child);
        a.port = tu_wait_agent_port(&a.child, EVENT_MS);
        ck_assert_int_gt(a.port, 0);
        expect_event(&a, "ready");
        char *body = NULL;
        ck_assert_int_eq(tu_http(a.port, "GET", "/prestop", 15000, &body), 200);
        ck_assert_msg(strncmp(body, "safe to stop: no hosted partition would drop below min.insync.replicas "
                              "(19 hosted); broker ", 90) == 0, "%s", body);
        ck_assert_msg(strstr(body, "'s metadata agrees, and 2 of 2 in-sync peers asked answered as themselves\n"),
                      "%s", body);
        free(body);
        ck_assert_int_eq(tu_stop(&a.child, SIGTERM, 5000), 0);
}
END_TEST

START_TEST(mock_cluster_healthy_broker_is_ready_and_live) {
        struct demo *d;
        char err[512];
        ck_assert_int_eq(demo_start(&(struct demo_opts){ 0 }, &d, err, sizeof err), 0);
        struct tu_agent a;
        agent_start(&a, demo_bootstrap(d), demo_local_id(d), NULL);
        expect_event(&a, "ready");
        char *body = NULL;
        ck_assert_int_eq(tu_http(a.port, "GET", "/readyz", 5000, &body), 200);
        ck_assert_str_eq(body, "ok");
        free(body);
        ck_assert_int_eq(tu_http(a.port, "GET", "/livez", 5000, &body), 200);
        ck_assert_str_eq(body, "ok");
        free(body);
        cJSON *j = get_status(&a);
        ck_assert_int_eq(json_int(j, "node_id", NULL), 1);
        ck_assert(json_true(j, "ready", NULL, NULL));
        /* The demo's topics: 12 + 6 + 1 partitions, every one with a replica on each broker. */
        ck_assert_int_eq(json_int(j, "partitions", "hosted"), 19);
        ck_assert_int_eq(json_int(j, "partitions", "in_sync"), 19);
        ck_assert_int_eq(json_int(j, "broker", "answered_by"), 1);
        cJSON_Delete(j);
        ck_assert_int_eq(tu_stop(&a.child, SIGTERM, 5000), 0);
        demo_stop(d);
}
END_TEST

/* A check against another broker of the same cluster: proves "the others stay up". */
static int other_broker_answers(struct demo *d, int32_t id) {
        struct kafka_conf *conf;
        struct kafka_client *kc;
        char err[512];
        ck_assert_int_eq(kafka_conf_load(NULL, demo_broker_address(d, id), &conf, err, sizeof err), 0);
        ck_assert_int_eq(kafka_client_new(conf, &(struct kafka_client_opts){ .timeout_ms = 2000, .local_id = id },
                                          &kc, err, sizeof err), 0);
        struct kafka_result r;
        kafka_check(kc, false, &r);
        int answered = r.rc == 0 ? r.snap->answered_by : -1;
        snapshot_free(r.snap);
        kafka_client_free(kc);
        return answered;
}

START_TEST(mock_local_broker_down_fails_readyz_then_livez_while_others_answer) {
        struct tu_agent a;
        struct demo *d = ready_on_demo(&a, NULL);
        ck_assert_int_eq(demo_broker_set_up(d, 1, false), 0);
        expect_event(&a, "not_ready");
        char *body = NULL;
        ck_assert_int_eq(tu_http(a.port, "GET", "/readyz?verbose", 5000, &body), 503);
        ck_assert_ptr_nonnull(strstr(body, "[-]reachable failed: "));
        ck_assert_ptr_nonnull(strstr(body, "readyz check failed"));
        free(body);
        ck_assert_int_eq(other_broker_answers(d, 2), 2);
        /* Liveness fails only after the window (3s) without an answer. */
        expect_event(&a, "not_live");
        ck_assert_int_eq(tu_http(a.port, "GET", "/livez", 5000, &body), 503);
        free(body);
        ck_assert_int_eq(other_broker_answers(d, 3), 3);
        ck_assert_int_eq(demo_broker_set_up(d, 1, true), 0);
        expect_event(&a, "live");
        expect_event(&a, "ready");
        ck_assert_int_eq(tu_http(a.port, "GET", "/readyz", 5000, &body), 200);
        free(body);
        ck_assert_int_eq(tu_stop(&a.child, SIGTERM, 5000), 0);
        demo_stop(d);
}
END_TEST

START_TEST(mock_slow_broker_beyond_the_timeout_is_not_ready_and_recovers) {
        struct tu_agent a;
        struct demo *d = ready_on_demo(&a, NULL);
        ck_assert_int_eq(demo_broker_set_rtt(d, 1, 2500), 0);
        expect_event(&a, "not_ready");
        cJSON *j = get_status(&a);
        ck_assert(!json_true(j, "checks", "reachable", "ok"));
        const char *detail = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(j, "checks"), "reachable"), "detail")->valuestring;
        ck_assert_msg(strstr(detail, "did not answer within 1000ms"), "%s", detail);
        cJSON_Delete(j);
        /* The agent keeps answering probes promptly while checks time out. */
        char *body = NULL;
        ck_assert_int_eq(tu_http(a.port, "GET", "/readyz", 500, &body), 503);
        free(body);
        ck_assert_int_eq(demo_broker_set_rtt(d, 1, 0), 0);
        expect_event(&a, "ready");
        ck_assert_int_eq(tu_stop(&a.child, SIGTERM, 5000), 0);
        demo_stop(d);
}
END_TEST

START_TEST(mock_request_errors_fail_the_check_without_harm_and_clear) {
        struct tu_agent a;
        struct demo *d = ready_on_demo(&a, NULL);
        /* A topic-level error with its partitions still listed is not a reason to be unready. */
        rd_kafka_mock_topic_set_error(demo_mock(d), "orders", RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE);
        await_checks(&a, 2);
        cJSON *j = get_status(&a);
        ck_assert(json_true(j, "ready", NULL, NULL));
        ck_assert_int_eq(json_int(j, "partitions", "hosted"), 19);
        cJSON_Delete(j);
        /* The broker drops every connection at its first request (ApiVersions). */
        rd_kafka_resp_err_t errs[500];
        for (size_t i = 0; i < 500; i++)
                errs[i] = RD_KAFKA_RESP_ERR__TRANSPORT;
        rd_kafka_mock_push_request_errors_array(demo_mock(d), 18, 500, errs);
        expect_event(&a, "not_ready");
        j = get_status(&a);
        const char *e = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "last_check"), "error")->valuestring;
        ck_assert_msg(strstr(e, "Disconnected while requesting ApiVersion"), "%s", e);
        cJSON_Delete(j);
        rd_kafka_mock_clear_request_errors(demo_mock(d), 18);
        expect_event(&a, "ready");
        ck_assert_int_eq(tu_stop(&a.child, SIGTERM, 5000), 0);
        demo_stop(d);
}
END_TEST

START_TEST(mock_check_command_exits_0_when_ready_and_1_when_not) {
        struct demo *d;
        char err[512], bin[600], boot[300];
        ck_assert_int_eq(demo_start(&(struct demo_opts){ 0 }, &d, err, sizeof err), 0);
        snprintf(bin, sizeof bin, "%s/kpa-agent", tu_build_dir());
        snprintf(boot, sizeof boot, "--bootstrap=%s", demo_bootstrap(d));
        char *argv[] = { bin, "check", boot, "--node-id=1", "--check-timeout=1s", NULL };
        char *out = NULL;
        ck_assert_int_eq(tu_run(argv, NULL, &out, NULL), 0);
        cJSON *j = cJSON_Parse(out);
        ck_assert_ptr_nonnull(j);
        ck_assert(json_true(j, "ready", NULL, NULL));
        cJSON_Delete(j);
        free(out);
        demo_broker_set_up(d, 1, false);
        ck_assert_int_eq(tu_run(argv, NULL, &out, NULL), 1);
        ck_assert_ptr_nonnull(strstr(out, "\"ready\":false"));
        free(out);
        char *bad[] = { bin, "check", "--node-id=1", NULL };
        char *errs = NULL;
        ck_assert_int_eq(tu_run(bad, NULL, NULL, &errs), 2);
        ck_assert_str_eq(errs, "kpa-agent: the local broker is unknown (set --bootstrap HOST:PORT or --client-config with bootstrap.servers, or use --demo)\n");
        free(errs);
        demo_stop(d);
}
END_TEST

/* Bad input is refused before anything starts: exit 2 and one plain line, as for a bad flag
 * (not exit 1 with JSON log lines). */
START_TEST(mock_bad_listen_bootstrap_or_client_config_exit_2_with_one_line) {
        char bin[600], missing[700];
        char *dir = tu_mkdtemp();
        snprintf(bin, sizeof bin, "%s/kpa-agent", tu_build_dir());
        snprintf(missing, sizeof missing, "--client-config=%s/none.properties", dir);
        struct { char *argv[6]; char want[800]; } cases[3] = {
                { { bin, "--node-id=1", "--bootstrap=127.0.0.1:9092", "--listen=0.0.0.0:99999", NULL },
                  "kpa-agent: --listen: listen address \"0.0.0.0:99999\": port \"99999\" is not a number in 0..65535\n" },
                { { bin, "--node-id=1", "--bootstrap=kafka-0", NULL },
                  "kpa-agent: --bootstrap: bootstrap \"kafka-0\" is not host:port (IPv6 as [addr]:port)\n" },
                { { bin, "--node-id=1", missing, "--listen=127.0.0.1:0", NULL }, "" },
        };
        snprintf(cases[2].want, sizeof cases[2].want, "kpa-agent: --client-config %s/none.properties: "
                 "cannot open: No such file or directory\n", dir);
        for (size_t i = 0; i < 3; i++) {
                char *err = NULL;
                ck_assert_int_eq(tu_run(cases[i].argv, NULL, NULL, &err), 2);
                ck_assert_str_eq(err, cases[i].want);
                free(err);
        }
        tu_rmtree(dir);
        free(dir);
}
END_TEST

static struct fakecluster *fake_start(void) {
        struct fakecluster *fc;
        char err[512];
        const char *args[] = { "--brokers", "3", "--topic", "orders:6:3:2", NULL };
        ck_assert_msg(fc_start(args, &fc, err, sizeof err) == 0, "%s", err);
        return fc;
}

static void agent_on_fake(struct tu_agent *a, struct fakecluster *fc, char *const extra[]) {
        char boot[64];
        snprintf(boot, sizeof boot, "127.0.0.1:%d", fc_port(fc, 0));
        agent_start(a, boot, 0, extra);
}

START_TEST(fake_out_of_isr_is_not_ready_naming_the_partition_then_rejoins) {
        struct fakecluster *fc = fake_start();
        struct tu_agent a;
        agent_on_fake(&a, fc, NULL);
        expect_event(&a, "ready");
        /* Broker 0 hosts orders-0 (replicas [0,1,2]); it falls out of the ISR. */
        fc_must(fc, "{\"op\":\"set_isr\",\"topic\":\"orders\",\"partition\":0,\"isr\":[1,2]}");
        expect_event(&a, "not_ready");
        char *body = NULL;
        ck_assert_int_eq(tu_http(a.port, "GET", "/readyz?verbose", 5000, &body), 503);
        ck_assert_msg(strstr(body, "[-]caught_up failed: 1 partition lagging: orders-0 (leader 0, isr [1,2])"), "%s", body);
        ck_assert_ptr_nonnull(strstr(body, "[+]reachable ok"));
        free(body);
        cJSON *j = get_status(&a);
        ck_assert_int_eq(json_int(j, "partitions", "lagging"), 1);
        cJSON *lag = cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(j, "lagging"), 0);
        ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(lag, "topic")->valuestring, "orders");
        ck_assert_int_eq(json_int(lag, "partition", NULL), 0);
        ck_assert_int_eq(cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(lag, "isr")), 2);
        cJSON_Delete(j);
        fc_must(fc, "{\"op\":\"set_isr\",\"topic\":\"orders\",\"partition\":0,\"isr\":[0,1,2]}");
        expect_event(&a, "ready");
        ck_assert_int_eq(tu_http(a.port, "GET", "/readyz", 5000, &body), 200);
        free(body);
        ck_assert_int_eq(tu_stop(&a.child, SIGTERM, 5000), 0);
        fc_stop(fc);
}
END_TEST

static int checks_total(struct tu_agent *a) {
        cJSON *j = get_status(a);
        int total = json_int(cJSON_GetObjectItemCaseSensitive(j, "last_check"), "total", NULL);
        cJSON_Delete(j);
        return total;
}

/* With a 30s interval the agent still turns ready within seconds of a start and of the ISR
 * coming back, because it checks every --fast-interval (250ms) while not ready; once ready it
 * checks only every --interval, so a healthy broker carries no more load than before. */
START_TEST(fake_checks_fast_while_not_ready_and_at_the_interval_once_ready) {
        struct fakecluster *fc = fake_start();
        struct tu_agent a;
        char *const slow[] = { "--interval=30s", "--stale-after=2m", NULL };
        long long t0 = mono_ms();
        agent_on_fake(&a, fc, slow);
        expect_event(&a, "ready");
        /* Two good checks: one interval apart, that would be 30s. */
        ck_assert_int_lt(mono_ms() - t0, 10000);
        int total = checks_total(&a);
        ck_assert_int_eq(total, 2);
        /* Ready: no check for a while (at the fast pace there would be 4 more by now). */
        struct timespec ts = { 1, 0 };
        nanosleep(&ts, NULL);
        ck_assert_int_eq(checks_total(&a), 2);
        /* Out of the ISR, seen at the next check (SIGHUP starts one now), then fast again. */
        fc_must(fc, "{\"op\":\"set_isr\",\"topic\":\"orders\",\"partition\":0,\"isr\":[1,2]}");
        kill(a.child.pid, SIGHUP);
        expect_event(&a, "not_ready");
        long long back = mono_ms();
        fc_must(fc, "{\"op\":\"set_isr\",\"topic\":\"orders\",\"partition\":0,\"isr\":[0,1,2]}");
        expect_event(&a, "ready");
        ck_assert_int_lt(mono_ms() - back, 10000);
        ck_assert_int_eq(tu_stop(&a.child, SIGTERM, 5000), 0);
        fc_stop(fc);
}
END_TEST

/* /livez?process-age-ms=N, the kafka container's own probe: a broker process younger than the
 * last answer is starting, until a check started after it gets an answer. */
START_TEST(fake_livez_calls_a_process_younger_than_the_last_answer_starting) {
        struct fakecluster *fc = fake_start();
        struct tu_agent a;
        char *const slow[] = { "--interval=30s", "--stale-after=2m", NULL };
        char *body = NULL, path[64];
        agent_on_fake(&a, fc, slow);
        expect_event(&a, "ready");
        long long t0 = mono_ms();
        snprintf(path, sizeof path, "/livez?process-age-ms=%lld", mono_ms() - t0);
        ck_assert_int_eq(tu_http(a.port, "GET", path, 5000, &body), 503);
        ck_assert_msg(strstr(body, "[-]broker failed: starting: this broker process started ") &&
                      strstr(body, " ago and has not answered since"), "%s", body);
        free(body);
        /* Without the argument: the window from the last answer, as before. */
        ck_assert_int_eq(tu_http(a.port, "GET", "/livez", 5000, &body), 200);
        free(body);
        ck_assert_int_eq(tu_http(a.port, "GET", "/livez?process-age-ms=4000000000", 5000, &body), 200);
        free(body);
        ck_assert_int_eq(tu_http(a.port, "GET", "/livez?process-age-ms=12s", 5000, &body), 400);
        ck_assert_str_eq(body, "process-age-ms must be a whole number of milliseconds\n");
        free(body);
        /* A check started after t0 answers (SIGHUP starts one now): live. */
        kill(a.child.pid, SIGHUP);
        expect_event(&a, "reloaded");
        await_checks(&a, 1);
        snprintf(path, sizeof path, "/livez?process-age-ms=%lld", mono_ms() - t0 + 100);
        ck_assert_int_eq(tu_http(a.port, "GET", path, 5000, &body), 200);
        free(body);
        ck_assert_int_eq(tu_stop(&a.child, SIGTERM, 5000), 0);
        fc_stop(fc);
}
END_TEST

START_TEST(fake_leaderless_partition_is_reported_and_does_not_block) {
        struct fakecluster *fc = fake_start();
        struct tu_agent a;
        agent_on_fake(&a, fc, NULL);
        expect_event(&a, "ready");
        fc_must(fc, "{\"op\":\"set_leader\",\"topic\":\"orders\",\"partition\":1,\"leader\":-1}");
        await_checks(&a, 2);
        cJSON *j = get_status(&a);
        ck_assert_int_eq(json_int(j, "partitions", "offline"), 1);
        ck_assert_int_eq(json_int(j, "partitions", "hosted"), 6);
        ck_assert(json_true(j, "ready", NULL, NULL));
        cJSON_Delete(j);
        char *body = NULL;
        ck_assert_int_eq(tu_http(a.port, "GET", "/readyz", 5000, &body), 200);
        free(body);
        ck_assert_int_eq(tu_stop(&a.child, SIGTERM, 5000), 0);
        fc_stop(fc);
}
END_TEST

struct held {
        int port;
        const char *path;
        int status;
        char *body;
        long long done_at;
};


static void *held_get(void *arg) {
        struct held *h = arg;
        h->status = tu_http(h->port, "GET", h->path, 30000, &h->body);
        h->done_at = mono_ms();
        return NULL;
}

START_TEST(fake_prestop_waits_until_safe_while_probes_answer_promptly) {
        struct fakecluster *fc = fake_start();
        struct tu_agent a;
        agent_on_fake(&a, fc, NULL);
        expect_event(&a, "ready");
        /* orders-2 has ISR [0,1] = min.insync.replicas 2 < 3 replicas, with broker 0 in it:
         * stopping broker 0 would leave 1 in-sync replica. */
        fc_must(fc, "{\"op\":\"set_isr\",\"topic\":\"orders\",\"partition\":2,\"isr\":[0,1]}");
        await_checks(&a, 1);
        struct held h = { .port = a.port, .path = "/prestop" };
        pthread_t t;
        ck_assert_int_eq(pthread_create(&t, NULL, held_get, &h), 0);
        expect_event(&a, "prestop");
        long long t0 = mono_ms();
        char *body = NULL;
        ck_assert_int_eq(tu_http(a.port, "GET", "/readyz", 3000, &body), 200);
        free(body);
        /* Answered within a probe's timeout (3 s) while the /prestop stays held: the hold does
         * not block the loop (speed is bench/'s question). */
        ck_assert_int_lt(mono_ms() - t0, 3000);
        ck_assert_int_eq(h.done_at, 0);
        long long released = mono_ms();
        fc_must(fc, "{\"op\":\"set_isr\",\"topic\":\"orders\",\"partition\":2,\"isr\":[0,1,2]}");
        pthread_join(t, NULL);
        ck_assert_int_eq(h.status, 200);
        ck_assert_msg(strncmp(h.body, "safe to stop: ", 14) == 0, "%s", h.body);
        ck_assert_int_ge(h.done_at, released);
        free(h.body);
        ck_assert_int_eq(tu_stop(&a.child, SIGTERM, 5000), 0);
        fc_stop(fc);
}
END_TEST

START_TEST(fake_prestop_gives_up_at_its_timeout_with_the_reason) {
        struct fakecluster *fc = fake_start();
        struct tu_agent a;
        agent_on_fake(&a, fc, (char *[]){ "--prestop-timeout=1s", NULL });
        expect_event(&a, "ready");
        fc_must(fc, "{\"op\":\"set_isr\",\"topic\":\"orders\",\"partition\":2,\"isr\":[0,1]}");
        await_checks(&a, 1);
        char *body = NULL;
        long long t0 = mono_ms();
        ck_assert_int_eq(tu_http(a.port, "GET", "/prestop", 10000, &body), 200);
        long long took = mono_ms() - t0;
        ck_assert_msg(strstr(body, "gave up waiting after the prestop timeout: ") == body, "%s", body);
        ck_assert_ptr_nonnull(strstr(body, "orders-2"));
        ck_assert_int_ge(took, 900);
        ck_assert_int_lt(took, 4000);
        free(body);
        expect_event(&a, "prestop_timeout");
        ck_assert_int_eq(tu_stop(&a.child, SIGTERM, 5000), 0);
        fc_stop(fc);
}
END_TEST

START_TEST(fake_prestop_holds_while_min_isr_is_unknown_and_says_why) {
        struct fakecluster *fc = fake_start();
        struct tu_agent a;
        agent_on_fake(&a, fc, (char *[]){ "--prestop-timeout=1500ms", NULL });
        expect_event(&a, "ready");
        /* As for a client without DescribeConfigs ACLs: every resource answers an error. Every
         * ISR is complete, so a fallback to a default of 1 would call this safe at once. */
        fc_must(fc, "{\"op\":\"describe_configs_error\",\"error\":29}");
        char *body = NULL;
        long long t0 = mono_ms();
        ck_assert_int_eq(tu_http(a.port, "GET", "/prestop", 10000, &body), 200);
        long long took = mono_ms() - t0;
        ck_assert_str_eq(body, "gave up waiting after the prestop timeout: min.insync.replicas is "
                         "unknown for 6 hosted partitions, so stopping is not known to be safe: "
                         "orders-0 isr=3 min=? replicas=3, orders-1 isr=3 min=? replicas=3, "
                         "orders-2 isr=3 min=? replicas=3, orders-3 isr=3 min=? replicas=3, "
                         "orders-4 isr=3 min=? replicas=3, orders-5 isr=3 min=? replicas=3; "
                         "min.insync.replicas unknown for 2 of 2 resources (DescribeConfigs "
                         "reported errors, first 0: fake: error 29 by request)\n");
        ck_assert_int_ge(took, 1400);
        free(body);
        expect_event(&a, "prestop_timeout");
        /* /status says the same; readiness does not depend on it. */
        cJSON *j = get_status(&a);
        ck_assert(json_true(j, "ready", NULL, NULL));
        ck_assert(!json_true(j, "safe_to_stop", "safe", NULL));
        ck_assert_int_eq(json_int(j, "safe_to_stop", "min_isr_unknown"), 6);
        cJSON *note = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "safe_to_stop"),
                                                       "min_isr_note");
        ck_assert_str_eq(note->valuestring, "min.insync.replicas unknown for 2 of 2 resources "
                         "(DescribeConfigs reported errors, first 0: fake: error 29 by request)");
        cJSON_Delete(j);
        ck_assert_int_eq(tu_http(a.port, "GET", "/readyz", 5000, &body), 200);
        free(body);
        /* Readable again: released at once. */
        fc_must(fc, "{\"op\":\"describe_configs_error\",\"error\":null}");
        ck_assert_int_eq(tu_http(a.port, "GET", "/prestop", 10000, &body), 200);
        ck_assert_str_eq(body, "safe to stop: no hosted partition would drop below min.insync.replicas (6 hosted); "
                         "broker 1's metadata agrees, and 2 of 2 in-sync peers asked answered as themselves\n");
        free(body);
        ck_assert_int_eq(tu_stop(&a.child, SIGTERM, 5000), 0);
        fc_stop(fc);
}
END_TEST

/* Values an earlier answer gave are not kept once a refresh fails: the gate then holds,
 * saying why, instead of deciding on what the broker no longer confirms. */
START_TEST(fake_prestop_holds_when_a_min_isr_refresh_fails_after_a_success) {
        struct fakecluster *fc = fake_start();
        struct tu_agent a;
        agent_on_fake(&a, fc, (char *[]){ "--prestop-timeout=2500ms", NULL });
        expect_event(&a, "ready");
        char *body = NULL;
        ck_assert_int_eq(tu_http(a.port, "GET", "/prestop", 10000, &body), 200);
        ck_assert_msg(strncmp(body, "safe to stop: ", 14) == 0, "%s", body);
        free(body);
        /* Now DescribeConfigs goes unanswered: the refresh a /prestop asks for times out. */
        fc_must(fc, "{\"op\":\"describe_configs_silent\",\"on\":true}");
        ck_assert_int_eq(tu_http(a.port, "GET", "/prestop", 10000, &body), 200);
        const char *want = "gave up waiting after the prestop timeout: min.insync.replicas is unknown "
                           "for 6 hosted partitions, so stopping is not known to be safe: ";
        ck_assert_msg(strncmp(body, want, strlen(want)) == 0, "%s", body);
        ck_assert_msg(strstr(body, "orders-0 isr=3 min=? replicas=3"), "%s", body);
        ck_assert_msg(strstr(body, "; min.insync.replicas unknown: ") ||
                      strstr(body, "; min.insync.replicas not fetched: "), "%s", body);
        free(body);
        cJSON *j = get_status(&a);
        ck_assert_int_eq(json_int(j, "safe_to_stop", "min_isr_unknown"), 6);
        cJSON_Delete(j);
        ck_assert_int_eq(tu_stop(&a.child, SIGTERM, 5000), 0);
        fc_stop(fc);
}
END_TEST

START_TEST(fake_sigterm_answers_a_held_prestop_and_exits_0_promptly) {
        struct fakecluster *fc = fake_start();
        struct tu_agent a;
        agent_on_fake(&a, fc, NULL);
        expect_event(&a, "ready");
        fc_must(fc, "{\"op\":\"set_isr\",\"topic\":\"orders\",\"partition\":2,\"isr\":[0,1]}");
        await_checks(&a, 1);
        struct held h = { .port = a.port, .path = "/prestop" };
        pthread_t t;
        ck_assert_int_eq(pthread_create(&t, NULL, held_get, &h), 0);
        expect_event(&a, "prestop");
        long long t0 = mono_ms();
        ck_assert_int_eq(tu_stop(&a.child, SIGTERM, 5000), 0);
        ck_assert_int_lt(mono_ms() - t0, 4000);
        pthread_join(t, NULL);
        ck_assert_int_eq(h.status, 503);
        free(h.body);
        fc_stop(fc);
}
END_TEST

/* The gate's reason in /status, "" while no gate check has ended since the request. */
static char *gate_reason(struct tu_agent *a) {
        cJSON *j = get_status(a);
        cJSON *g = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "safe_to_stop"), "gate");
        cJSON *r = cJSON_GetObjectItemCaseSensitive(g, "reason");
        char *out = strdup(cJSON_IsString(r) ? r->valuestring : "");
        cJSON_Delete(j);
        ck_assert_ptr_nonnull(out);
        return out;
}

/* Polls /status (bounded) until the gate's reason contains what. */
static void await_gate_reason(struct tu_agent *a, const char *what) {
        char *last = NULL;
        for (int i = 0; i < 600; i++) {
                free(last);
                last = gate_reason(a);
                if (strstr(last, what)) {
                        free(last);
                        return;
                }
                struct timespec ts = { 0, 25 * 1000000 };
                nanosleep(&ts, NULL);
        }
        ck_abort_msg("the gate never said \"%s\"; last: %s", what, last);
}

/* Silence is no evidence of fencing: a broker the agent cannot reach (here it accepts and
 * never answers, as behind wrong TLS or SASL settings) but that its peers still list in sync
 * is held long past --stale-after, and released once a peer shows it fenced. */
START_TEST(fake_prestop_holds_a_silent_broker_until_a_peer_shows_it_fenced) {
        struct fakecluster *fc = fake_start();
        struct tu_agent a;
        agent_on_fake(&a, fc, (char *[]){ "--stale-after=1s", NULL });
        expect_event(&a, "ready");
        fc_must(fc, "{\"op\":\"stall\",\"id\":0,\"on\":true}");
        long long silent = mono_ms();
        expect_event(&a, "not_ready");
        struct held h = { .port = a.port, .path = "/prestop" };
        pthread_t t;
        ck_assert_int_eq(pthread_create(&t, NULL, held_get, &h), 0);
        expect_event(&a, "prestop");
        await_gate_reason(&a, "the local broker does not answer, but broker 1 still lists it "
                              "registered and in the ISR of 6 partitions, so it is not known to be fenced");
        await_checks(&a, 2);
        ck_assert_int_ge(mono_ms() - silent, 2000);
        ck_assert_int_eq(h.done_at, 0);
        /* Now it is gone from the cluster (the fake fences a stopped broker at once). */
        long long fenced = mono_ms();
        fc_must(fc, "{\"op\":\"broker\",\"id\":0,\"up\":false}");
        pthread_join(t, NULL);
        ck_assert_int_eq(h.status, 200);
        ck_assert_msg(strncmp(h.body, "safe to stop: the local broker does not answer, and broker 1 "
                              "lists it as fenced or unregistered; local: ", 102) == 0, "%s", h.body);
        ck_assert_int_ge(h.done_at, fenced);
        free(h.body);
        ck_assert_int_eq(tu_stop(&a.child, SIGTERM, 10000), 0);
        fc_stop(fc);
}
END_TEST

/* A crash KRaft has not noticed yet: broker 2 is listed in every ISR but does not answer. */
START_TEST(fake_prestop_holds_while_an_in_sync_peer_does_not_answer_then_releases) {
        struct fakecluster *fc = fake_start();
        struct tu_agent a;
        agent_on_fake(&a, fc, NULL);
        expect_event(&a, "ready");
        fc_must(fc, "{\"op\":\"stall\",\"id\":2,\"on\":true}");
        struct held h = { .port = a.port, .path = "/prestop" };
        pthread_t t;
        ck_assert_int_eq(pthread_create(&t, NULL, held_get, &h), 0);
        await_gate_reason(&a, "in-sync peers not answering as themselves: 2 (2: ");
        char *reason = gate_reason(&a);
        ck_assert_msg(strncmp(reason, "stopping would leave 6 partitions below min.insync.replicas: "
                              "orders-0 isr=2 min=2 replicas=3 (1 more listed, not answering)", 123) == 0,
                      "%s", reason);
        free(reason);
        cJSON *j = get_status(&a);
        cJSON *silent = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(
                cJSON_GetObjectItemCaseSensitive(j, "safe_to_stop"), "gate"), "peers_not_answering");
        ck_assert_int_eq(cJSON_GetArraySize(silent), 1);
        ck_assert_int_eq(cJSON_GetArrayItem(silent, 0)->valueint, 2);
        cJSON_Delete(j);
        ck_assert_int_eq(h.done_at, 0);
        long long back = mono_ms();
        fc_must(fc, "{\"op\":\"stall\",\"id\":2,\"on\":false}");
        pthread_join(t, NULL);
        ck_assert_int_eq(h.status, 200);
        ck_assert_str_eq(h.body, "safe to stop: no hosted partition would drop below min.insync.replicas "
                         "(6 hosted); broker 1's metadata agrees, and 2 of 2 in-sync peers asked "
                         "answered as themselves\n");
        ck_assert_int_ge(h.done_at, back);
        free(h.body);
        ck_assert_int_eq(tu_stop(&a.child, SIGTERM, 10000), 0);
        fc_stop(fc);
}
END_TEST

/* A local broker cut off from the controllers keeps a frozen view that looks safe; another
 * broker's current view decides too. */
START_TEST(fake_prestop_holds_when_another_brokers_view_is_unsafe) {
        struct fakecluster *fc = fake_start();
        struct tu_agent a;
        agent_on_fake(&a, fc, (char *[]){ "--prestop-timeout=2s", NULL });
        expect_event(&a, "ready");
        fc_must(fc, "{\"op\":\"freeze\",\"id\":0,\"on\":true}");
        fc_must(fc, "{\"op\":\"set_isr\",\"topic\":\"orders\",\"partition\":2,\"isr\":[0,1]}");
        char *body = NULL;
        ck_assert_int_eq(tu_http(a.port, "GET", "/prestop", 15000, &body), 200);
        ck_assert_str_eq(body, "gave up waiting after the prestop timeout: in broker 1's metadata: "
                         "stopping would leave 1 partition below min.insync.replicas: orders-2 isr=2 "
                         "min=2 replicas=3\n");
        free(body);
        /* The local view alone said safe. */
        cJSON *j = get_status(&a);
        ck_assert(json_true(j, "safe_to_stop", "safe", NULL));
        cJSON_Delete(j);
        fc_must(fc, "{\"op\":\"freeze\",\"id\":0,\"on\":false}");
        fc_must(fc, "{\"op\":\"set_isr\",\"topic\":\"orders\",\"partition\":2,\"isr\":[0,1,2]}");
        ck_assert_int_eq(tu_http(a.port, "GET", "/prestop", 15000, &body), 200);
        ck_assert_msg(strncmp(body, "safe to stop: ", 14) == 0, "%s", body);
        free(body);
        ck_assert_int_eq(tu_stop(&a.child, SIGTERM, 10000), 0);
        fc_stop(fc);
}
END_TEST

START_TEST(fake_a_verdict_gone_stale_is_logged_without_a_check_result) {
        struct fakecluster *fc = fake_start();
        struct tu_agent a;
        /* Checks that hang for up to 10s while a verdict is stale after 1.5s: the transition
         * must be logged before any check result arrives. */
        agent_on_fake(&a, fc, (char *[]){ "--check-timeout=10s", "--stale-after=1500ms", NULL });
        expect_event(&a, "ready");
        fc_must(fc, "{\"op\":\"stall\",\"id\":0,\"on\":true}");
        long long t0 = mono_ms();
        char line[4096];
        ck_assert_int_eq(tu_wait_line(&a.child, "\"event\":\"not_ready\"", 8000, line, sizeof line), 0);
        ck_assert_int_lt(mono_ms() - t0, 8000);
        ck_assert_msg(strstr(line, "fresh: last check "), "%s", line);
        fc_must(fc, "{\"op\":\"stall\",\"id\":0,\"on\":false}");
        expect_event(&a, "ready");
        ck_assert_int_eq(tu_stop(&a.child, SIGTERM, 15000), 0);
        fc_stop(fc);
}
END_TEST

START_TEST(fake_http_contract_methods_paths_head_verbose) {
        struct fakecluster *fc = fake_start();
        struct tu_agent a;
        agent_on_fake(&a, fc, NULL);
        expect_event(&a, "ready");
        char *body = NULL;
        ck_assert_int_eq(tu_http(a.port, "HEAD", "/readyz", 5000, &body), 200);
        ck_assert_str_eq(body, "");
        free(body);
        ck_assert_int_eq(tu_http(a.port, "POST", "/readyz", 5000, &body), 405);
        free(body);
        ck_assert_int_eq(tu_http(a.port, "DELETE", "/status", 5000, &body), 405);
        free(body);
        ck_assert_int_eq(tu_http(a.port, "GET", "/healthz", 5000, &body), 404);
        free(body);
        ck_assert_int_eq(tu_http(a.port, "GET", "/livez?verbose", 5000, &body), 200);
        ck_assert_msg(strstr(body, "[+]broker ok") && strstr(body, "livez check passed"), "%s", body);
        free(body);
        ck_assert_int_eq(tu_http(a.port, "GET", "/metrics", 5000, &body), 200);
        ck_assert_ptr_nonnull(strstr(body, "\nkpa_ready 1\n"));
        ck_assert_ptr_nonnull(strstr(body, "kpa_build_info{version=\""));
        free(body);
        ck_assert_int_eq(tu_stop(&a.child, SIGTERM, 5000), 0);
        fc_stop(fc);
}
END_TEST

START_TEST(fake_sighup_reloads_the_client_config_and_a_bad_one_is_kept_out) {
        struct fakecluster *fc = fake_start();
        char *dir = tu_mkdtemp(), conf[700], flag[800], text[200];
        snprintf(conf, sizeof conf, "%s/client.properties", dir);
        snprintf(flag, sizeof flag, "--client-config=%s", conf);
        snprintf(text, sizeof text, "# kpa-init\nbootstrap.servers=127.0.0.1:%d\nsecurity.protocol=plaintext\n", fc_port(fc, 0));
        tu_write(dir, "client.properties", text);
        char bin[600];
        snprintf(bin, sizeof bin, "%s/kpa-agent", tu_build_dir());
        char *argv[] = { bin, flag, "--node-id=0", "--listen=127.0.0.1:0", "--interval=200ms", "--ready-after=1", NULL };
        struct tu_agent a;
        tu_spawn(argv, NULL, &a.child);
        a.port = tu_wait_agent_port(&a.child, EVENT_MS);
        ck_assert_int_gt(a.port, 0);
        expect_event(&a, "ready");
        kill(a.child.pid, SIGHUP);
        expect_event(&a, "reloaded");
        tu_write(dir, "client.properties", "this is not a property line\n");
        kill(a.child.pid, SIGHUP);
        char line[2048];
        ck_assert_int_eq(tu_wait_line(&a.child, "\"event\":\"reload_failed\"", EVENT_MS, line, sizeof line), 0);
        ck_assert_ptr_nonnull(strstr(line, "client.properties:1: "));
        await_checks(&a, 2);
        char *body = NULL;
        ck_assert_int_eq(tu_http(a.port, "GET", "/readyz", 5000, &body), 200);
        free(body);
        ck_assert_int_eq(tu_stop(&a.child, SIGTERM, 5000), 0);
        fc_stop(fc);
        tu_rmtree(dir);
        free(dir);
}
END_TEST

/* ---- a controller-only node, against the fake quorum (fakequorum.h) ---- */

/* kpa-init's server.properties of controller `local` of the fake quorum, in dir. */
static void controller_config(const char *dir, struct fq *q, int local) {
        char voters[512], text[1024];
        fq_voters(q, voters, sizeof voters);
        snprintf(text, sizeof text, "node.id=%d\nprocess.roles=controller\ncontroller.quorum.voters=%s\n"
                 "controller.listener.names=CONTROLLER\nlisteners=CONTROLLER://:%d\n", q->nodes[local].id, voters,
                 q->nodes[local].port);
        tu_write(dir, "server.properties", text);
}

/* A kpa-agent for controller `local`: --broker-config names the role and the controllers. */
static void agent_on_quorum(struct tu_agent *a, const char *dir, struct fq *q, int local, char *const extra[]) {
        char bin[600], cfg[600], boot[64];
        controller_config(dir, q, local);
        snprintf(bin, sizeof bin, "%s/kpa-agent", tu_build_dir());
        snprintf(cfg, sizeof cfg, "--broker-config=%s/server.properties", dir);
        snprintf(boot, sizeof boot, "--bootstrap=127.0.0.1:%d", q->nodes[local].port);
        char *argv[32] = { bin, cfg, boot, "--listen=127.0.0.1:0" };
        int n = 4;
        for (int i = 0; fast[i]; i++)
                argv[n++] = fast[i];
        for (int i = 0; extra && extra[i]; i++)
                argv[n++] = extra[i];
        argv[n] = NULL;
        memset(a, 0, sizeof *a);
        tu_spawn(argv, NULL, &a->child);
        a->port = tu_wait_agent_port(&a->child, EVENT_MS);
        ck_assert_msg(a->port > 0, "kpa-agent did not start");
}

START_TEST(controller_is_ready_and_its_probes_speak_of_the_quorum) {
        static struct fq q;
        char *dir = tu_mkdtemp(), *body = NULL;
        struct tu_agent a;
        fq_start(&q, 3, 0, 2);
        agent_on_quorum(&a, dir, &q, 1, NULL);
        expect_event(&a, "ready");
        ck_assert_int_eq(tu_http(a.port, "GET", "/readyz?verbose", 5000, &body), 200);
        ck_assert_str_eq(body, "[+]reachable ok\n[+]leader ok\n[+]voter ok\n[+]caught_up ok\n[+]fresh ok\n"
                               "[+]consecutive ok\nreadyz check passed\n");
        free(body);
        ck_assert_int_eq(tu_http(a.port, "GET", "/livez?verbose", 5000, &body), 200);
        ck_assert_str_eq(body, "[+]controller ok\nlivez check passed\n");
        free(body);
        cJSON *j = get_status(&a);
        ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(j, "role")->valuestring, "controller");
        ck_assert_int_eq(json_int(cJSON_GetObjectItemCaseSensitive(j, "quorum"), "leader", NULL), 2);
        ck_assert_int_eq(json_int(cJSON_GetObjectItemCaseSensitive(j, "quorum"), "caught_up_voters", NULL), 3);
        ck_assert(json_true(j, "quorum", "safe_to_stop", "safe"));
        cJSON_Delete(j);
        ck_assert_int_eq(tu_http(a.port, "GET", "/metrics", 5000, &body), 200);
        ck_assert_ptr_nonnull(strstr(body, "\nkpa_quorum_leader 2\n"));
        free(body);
        ck_assert_int_eq(tu_stop(&a.child, SIGTERM, 5000), 0);
        fq_stop(&q);
        tu_rmtree(dir);
        free(dir);
}
END_TEST

START_TEST(controller_prestop_holds_while_another_voter_lags_then_releases) {
        static struct fq q;
        char *dir = tu_mkdtemp();
        struct tu_agent a;
        fq_start(&q, 3, 0, 0);
        agent_on_quorum(&a, dir, &q, 1, NULL);
        expect_event(&a, "ready");
        /* Voter 2 stops fetching: node 1 is still ready, but stopping it would leave only the
         * leader caught up. */
        fq_lock(&q);
        q.age[2] = 45000;
        fq_unlock(&q);
        await_checks(&a, 1);
        struct held h = { .port = a.port, .path = "/prestop" };
        pthread_t t;
        ck_assert_int_eq(pthread_create(&t, NULL, held_get, &h), 0);
        expect_event(&a, "prestop");
        await_checks(&a, 2);
        ck_assert_int_eq(h.done_at, 0);
        cJSON *j = get_status(&a);
        cJSON *stop = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "quorum"), "safe_to_stop");
        ck_assert(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(stop, "safe")));
        ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(stop, "reason")->valuestring,
                         "stopping node 1 would leave 1 of 3 voters caught up within 1000ms and answering "
                         "(majority 2): voter 2 lagging (last caught up 45s ago)");
        ck_assert(json_true(j, "ready", NULL, NULL));
        cJSON_Delete(j);
        long long released = mono_ms();
        fq_lock(&q);
        q.age[2] = 100;
        fq_unlock(&q);
        pthread_join(t, NULL);
        ck_assert_int_eq(h.status, 200);
        ck_assert_str_eq(h.body, "safe to stop: stopping node 1 leaves 2 of 3 voters caught up within 1000ms "
                         "and answering (majority 2)\n");
        ck_assert_int_ge(h.done_at, released);
        free(h.body);
        expect_event(&a, "prestop_done");
        ck_assert_int_eq(tu_stop(&a.child, SIGTERM, 5000), 0);
        fq_stop(&q);
        tu_rmtree(dir);
        free(dir);
}
END_TEST

/* A voter that crashed a moment ago still looks caught up to the leader: the gate asks it. */
START_TEST(controller_prestop_holds_while_a_caught_up_voter_does_not_answer) {
        static struct fq q;
        char *dir = tu_mkdtemp();
        struct tu_agent a;
        fq_start(&q, 3, 0, 0);
        agent_on_quorum(&a, dir, &q, 1, NULL);
        expect_event(&a, "ready");
        fq_set_mode(&q, 2, FQ_SILENT);
        struct held h = { .port = a.port, .path = "/prestop" };
        pthread_t t;
        ck_assert_int_eq(pthread_create(&t, NULL, held_get, &h), 0);
        expect_event(&a, "prestop");
        char *reason = NULL;
        for (int i = 0; i < 400 && !reason; i++) {
                cJSON *j = get_status(&a);
                cJSON *stop = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "quorum"), "safe_to_stop");
                cJSON *r = cJSON_GetObjectItemCaseSensitive(stop, "reason");
                if (cJSON_IsString(r) && strstr(r->valuestring, "did not answer when asked"))
                        reason = strdup(r->valuestring);
                cJSON_Delete(j);
                struct timespec ts = { 0, 25 * 1000000 };
                nanosleep(&ts, NULL);
        }
        ck_assert_ptr_nonnull(reason);
        ck_assert_msg(strncmp(reason, "stopping node 1 would leave 1 of 3 voters caught up within 1000ms and "
                              "answering (majority 2): voter 2 did not answer when asked (last caught up "
                              "100ms ago) (voter 2: ", 161) == 0, "%s", reason);
        free(reason);
        ck_assert_int_eq(h.done_at, 0);
        long long back = mono_ms();
        fq_set_mode(&q, 2, FQ_UP);
        pthread_join(t, NULL);
        ck_assert_int_eq(h.status, 200);
        ck_assert_str_eq(h.body, "safe to stop: stopping node 1 leaves 2 of 3 voters caught up within 1000ms "
                         "and answering (majority 2)\n");
        ck_assert_int_ge(h.done_at, back);
        free(h.body);
        ck_assert_int_eq(tu_stop(&a.child, SIGTERM, 10000), 0);
        fq_stop(&q);
        tu_rmtree(dir);
        free(dir);
}
END_TEST

START_TEST(controller_prestop_holds_without_a_leader_until_its_timeout) {
        static struct fq q;
        char *dir = tu_mkdtemp(), *body = NULL;
        struct tu_agent a;
        fq_start(&q, 3, 0, -1);
        agent_on_quorum(&a, dir, &q, 1, (char *[]){ "--prestop-timeout=1s", NULL });
        expect_event(&a, "not_ready");
        long long t0 = mono_ms();
        ck_assert_int_eq(tu_http(a.port, "GET", "/prestop", 10000, &body), 200);
        long long took = mono_ms() - t0;
        char want[512];
        snprintf(want, sizeof want, "gave up waiting after the prestop timeout: the quorum's state is unknown, so stopping "
                 "might take its majority: no controller answered as the quorum leader: 127.0.0.1:%d (this node) "
                 "answered NOT_LEADER_OR_FOLLOWER (6); 127.0.0.1:%d answered NOT_LEADER_OR_FOLLOWER (6); 127.0.0.1:%d answered "
                 "NOT_LEADER_OR_FOLLOWER (6)\n", q.nodes[1].port, q.nodes[0].port, q.nodes[2].port);
        ck_assert_str_eq(body, want);
        ck_assert_int_ge(took, 900);
        ck_assert_int_lt(took, 4000);
        free(body);
        expect_event(&a, "prestop_timeout");
        ck_assert_int_eq(tu_stop(&a.child, SIGTERM, 5000), 0);
        fq_stop(&q);
        tu_rmtree(dir);
        free(dir);
}
END_TEST

START_TEST(controller_down_fails_readyz_then_livez_and_recovers) {
        static struct fq q;
        char *dir = tu_mkdtemp(), *body = NULL;
        struct tu_agent a;
        fq_start(&q, 3, 0, 0);
        agent_on_quorum(&a, dir, &q, 1, NULL);
        expect_event(&a, "ready");
        fq_set_mode(&q, 1, FQ_DOWN);
        expect_event(&a, "not_ready");
        ck_assert_int_eq(tu_http(a.port, "GET", "/readyz", 5000, &body), 503);
        char want[256];
        snprintf(want, sizeof want, "[-]reachable failed: cannot connect to 127.0.0.1:%d: Connection refused; hint: ",
                 q.nodes[1].port);
        ck_assert_msg(strncmp(body, want, strlen(want)) == 0, "%s", body);
        free(body);
        expect_event(&a, "not_live");
        ck_assert_int_eq(tu_http(a.port, "GET", "/livez", 5000, &body), 503);
        ck_assert_msg(strstr(body, "[-]controller failed: controller has not answered for ") == body, "%s", body);
        free(body);
        fq_set_mode(&q, 1, FQ_UP);
        expect_event(&a, "ready");
        ck_assert_int_eq(tu_stop(&a.child, SIGTERM, 5000), 0);
        fq_stop(&q);
        tu_rmtree(dir);
        free(dir);
}
END_TEST

START_TEST(controller_check_command_exits_0_when_ready_and_1_when_not) {
        static struct fq q;
        char *dir = tu_mkdtemp(), *out = NULL, *err = NULL;
        fq_start(&q, 3, 0, 0);
        controller_config(dir, &q, 1);
        char bin[600], cfg[600], boot[64];
        snprintf(bin, sizeof bin, "%s/kpa-agent", tu_build_dir());
        snprintf(cfg, sizeof cfg, "--broker-config=%s/server.properties", dir);
        snprintf(boot, sizeof boot, "--bootstrap=127.0.0.1:%d", q.nodes[1].port);
        char *argv[] = { bin, "check", cfg, boot, "--check-timeout=2s", NULL };
        ck_assert_int_eq(tu_run(argv, NULL, &out, &err), 0);
        cJSON *j = cJSON_Parse(out);
        ck_assert_ptr_nonnull(j);
        ck_assert_str_eq(cJSON_GetObjectItemCaseSensitive(j, "role")->valuestring, "controller");
        ck_assert(json_true(j, "ready", NULL, NULL));
        cJSON_Delete(j);
        free(out);
        free(err);
        fq_lock(&q);
        q.age[1] = FQ_NEVER;
        fq_unlock(&q);
        ck_assert_int_eq(tu_run(argv, NULL, &out, &err), 1);
        ck_assert_ptr_nonnull(strstr(out, "not caught up with leader 0: never caught up in epoch 3"));
        free(out);
        free(err);
        /* A controller's server.properties without the controllers is bad input: exit 2. */
        tu_write(dir, "server.properties", "node.id=1\nprocess.roles=controller\n");
        ck_assert_int_eq(tu_run(argv, NULL, &out, &err), 2);
        ck_assert_msg(strstr(err, "neither controller.quorum.voters nor controller.quorum.bootstrap.servers is set") != NULL, "%s", err);
        free(out);
        free(err);
        fq_stop(&q);
        tu_rmtree(dir);
        free(dir);
}
END_TEST

int main(void) {
        Suite *s = suite_create("agent");
        TCase *tc = tcase_create("mock");
        tcase_set_timeout(tc, 90);
        tcase_add_test(tc, mock_cluster_healthy_broker_is_ready_and_live);
        tcase_add_test(tc, mock_demo_prestop_releases_after_asking_the_other_brokers);
        tcase_add_test(tc, mock_local_broker_down_fails_readyz_then_livez_while_others_answer);
        tcase_add_test(tc, mock_slow_broker_beyond_the_timeout_is_not_ready_and_recovers);
        tcase_add_test(tc, mock_request_errors_fail_the_check_without_harm_and_clear);
        tcase_add_test(tc, mock_check_command_exits_0_when_ready_and_1_when_not);
        tcase_add_test(tc, mock_demo_cluster_survives_a_burst_of_sighups);
        tcase_add_test(tc, mock_bad_listen_bootstrap_or_client_config_exit_2_with_one_line);
        suite_add_tcase(s, tc);
        tc = tcase_create("fake");
        tcase_set_timeout(tc, 90);
        tcase_add_test(tc, fake_out_of_isr_is_not_ready_naming_the_partition_then_rejoins);
        tcase_add_test(tc, fake_leaderless_partition_is_reported_and_does_not_block);
        tcase_add_test(tc, fake_checks_fast_while_not_ready_and_at_the_interval_once_ready);
        tcase_add_test(tc, fake_livez_calls_a_process_younger_than_the_last_answer_starting);
        tcase_add_test(tc, fake_prestop_waits_until_safe_while_probes_answer_promptly);
        tcase_add_test(tc, fake_prestop_gives_up_at_its_timeout_with_the_reason);
        tcase_add_test(tc, fake_prestop_holds_while_min_isr_is_unknown_and_says_why);
        tcase_add_test(tc, fake_prestop_holds_when_a_min_isr_refresh_fails_after_a_success);
        tcase_add_test(tc, fake_sigterm_answers_a_held_prestop_and_exits_0_promptly);
        tcase_add_test(tc, fake_prestop_holds_a_silent_broker_until_a_peer_shows_it_fenced);
        tcase_add_test(tc, fake_prestop_holds_while_an_in_sync_peer_does_not_answer_then_releases);
        tcase_add_test(tc, fake_prestop_holds_when_another_brokers_view_is_unsafe);
        tcase_add_test(tc, fake_a_verdict_gone_stale_is_logged_without_a_check_result);
        tcase_add_test(tc, fake_http_contract_methods_paths_head_verbose);
        tcase_add_test(tc, fake_sighup_reloads_the_client_config_and_a_bad_one_is_kept_out);
        suite_add_tcase(s, tc);
        tc = tcase_create("controller");
        tcase_set_timeout(tc, 90);
        tcase_add_test(tc, controller_is_ready_and_its_probes_speak_of_the_quorum);
        tcase_add_test(tc, controller_prestop_holds_while_another_voter_lags_then_releases);
        tcase_add_test(tc, controller_prestop_holds_while_a_caught_up_voter_does_not_answer);
        tcase_add_test(tc, controller_prestop_holds_without_a_leader_until_its_timeout);
        tcase_add_test(tc, controller_down_fails_readyz_then_livez_and_recovers);
        tcase_add_test(tc, controller_check_command_exits_0_when_ready_and_1_when_not);
        suite_add_tcase(s, tc);
        return tu_run_suite(s);
}
