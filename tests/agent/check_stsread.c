/* Suite for stsread: kpa-agent's read of its StatefulSet's spec.replicas through the shared
 * Kubernetes API client (common/k8sapi.c), against the fake API server
 * (tests/init/fake_apiserver.py): the request, RBAC and naming faults with their hints, a
 * token the server echoes, and the reader on a libuv loop (the loop keeps turning while a
 * lookup waits, a refresh sees a new scale, a lasting fault is logged once). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "fakeapi.h"
#include "kpa/log.h"
#include "kpa/monotime.h"
#include "kpa/scaledown.h"
#include "kpa/stsread.h"
#include "testutil.h"

#define TOKEN "eyJhbGciOiJSUzI1NiJ9.agent-token.sig"
#define STS_PATH "/apis/apps/v1/namespaces/kafka/statefulsets/kafka"

static char *scratch;
static char replicas_path[600];

static void scratch_setup(void) {
        scratch = tu_mkdtemp();
        tu_write(scratch, "token", TOKEN "\n");
        tu_write(scratch, "replicas", "3\n");
        snprintf(replicas_path, sizeof replicas_path, "%s/replicas", scratch);
}

static void scratch_teardown(void) {
        tu_rmtree(scratch);
        free(scratch);
}

static struct scaledown_config *config(const char *pod, const char *sts, const char *port) {
        char token[700], err[512];
        snprintf(token, sizeof token, "%s/token", scratch);
        struct scaledown_config *c = NULL;
        ck_assert_int_eq(scaledown_config_load(pod, sts, "kafka", NULL, "127.0.0.1", port, token,
                                               fakeapi_cert_path("ca.crt"), &c, err, sizeof err), 0);
        return c;
}

static void start(struct fakeapi *f, char *const extra[]) {
        char *argv[16] = { "--statefulset", "kafka/kafka", "--replicas-file", replicas_path };
        int n = 4;
        for (int i = 0; extra && extra[i]; i++)
                argv[n++] = extra[i];
        argv[n] = NULL;
        fakeapi_start(f, "server", "127.0.0.1", TOKEN, argv);
}

START_TEST(lookup_reads_spec_replicas_with_the_bearer_token) {
        struct fakeapi f;
        start(&f, NULL);
        struct scaledown_config *c = config("kafka-3", NULL, f.port);
        int32_t replicas = -1;
        char err[1024] = "";
        int r = stsread_lookup(c, &replicas, err, sizeof err);
        char *log = fakeapi_stop(&f);
        ck_assert_msg(r == 0, "r=%d err=%s", r, err);
        ck_assert_int_eq(replicas, 3);
        ck_assert_str_eq(log, "request " STS_PATH " auth=ok\n");
        free(log);
        scaledown_config_free(c);
}
END_TEST

START_TEST(lookup_explains_403_with_the_role_hint_as_a_lasting_fault) {
        struct fakeapi f;
        start(&f, (char *const[]){ "--mode", "forbidden", NULL });
        struct scaledown_config *c = config("kafka-3", NULL, f.port);
        int32_t replicas = -1;
        char err[1024] = "";
        int r = stsread_lookup(c, &replicas, err, sizeof err);
        char *log = fakeapi_stop(&f);
        ck_assert_int_eq(r, -EACCES);
        ck_assert(scaledown_failure_is_lasting(r) && scaledown_failure_holds(r));
        ck_assert_str_eq(err, "the service account cannot get StatefulSet kafka/kafka: add \"kafka\" to resourceNames "
                              "of the Role in namespace kafka that grants get on statefulsets to this pod's service "
                              "account (k8s/base: Role kafka-kpa-statefulset-reader; --statefulset-role names it here) "
                              "(HTTP 403) (API server: \"statefulsets.apps "
                              "\\\"kafka\\\" is forbidden: User \\\"system:serviceaccount:kafka:kafka\\\" cannot get "
                              "resource \\\"statefulsets\\\" in API group \\\"apps\\\" in the namespace \\\"kafka\\\"\")");
        /* Not retried: a 403 stays a 403. */
        ck_assert_str_eq(log, "request " STS_PATH " auth=ok\n");
        ck_assert_int_eq(replicas, -1);
        free(log);
        scaledown_config_free(c);
}
END_TEST

START_TEST(lookup_403_names_the_role_to_fix) {
        struct fakeapi f;
        start(&f, (char *const[]){ "--mode", "forbidden", NULL });
        struct scaledown_config *c = config("kafka-3", NULL, f.port);
        char err[1024] = "";
        ck_assert_int_eq(scaledown_config_set_role(c, "blue-kafka-kpa-statefulset-reader", err, sizeof err), 0);
        int32_t replicas = -1;
        int r = stsread_lookup(c, &replicas, err, sizeof err);
        free(fakeapi_stop(&f));
        ck_assert_int_eq(r, -EACCES);
        const char *want = "the service account cannot get StatefulSet kafka/kafka: add \"kafka\" to resourceNames of "
                           "Role kafka/blue-kafka-kpa-statefulset-reader (its rule for get on statefulsets) and bind "
                           "that Role to this pod's service account (HTTP 403) (API server: ";
        ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
        scaledown_config_free(c);
}
END_TEST

START_TEST(lookup_names_a_statefulset_that_does_not_exist) {
        struct fakeapi f;
        start(&f, NULL);
        struct scaledown_config *c = config("kafka-3", "other", f.port);
        int32_t replicas = -1;
        char err[1024] = "";
        int r = stsread_lookup(c, &replicas, err, sizeof err);
        free(fakeapi_stop(&f));
        ck_assert_int_eq(r, -ENOENT);
        ck_assert_str_eq(err, "StatefulSet kafka/other not found (HTTP 404): --statefulset and --namespace must name "
                              "this pod's StatefulSet");
        scaledown_config_free(c);
}
END_TEST

/* A server (or proxy) that echoes the request's Authorization header, after a terminal escape,
 * in its 401 message: the message is quoted with the token hidden. */
START_TEST(lookup_hides_a_token_the_server_echoes) {
        tu_write(scratch, "token", "eyJhbGciOiJSUzI1NiJ9.a-token-the-server-refuses.sig\n");
        struct fakeapi f;
        start(&f, (char *const[]){ "--echo-token", NULL });
        struct scaledown_config *c = config("kafka-3", NULL, f.port);
        int32_t replicas = -1;
        char err[1024] = "";
        int r = stsread_lookup(c, &replicas, err, sizeof err);
        free(fakeapi_stop(&f));
        ck_assert_int_eq(r, -EACCES);
        ck_assert(scaledown_failure_is_lasting(r) && scaledown_failure_holds(r));
        ck_assert_str_eq(err, "the API server refused the service account token (HTTP 401) (API server: "
                              "\"Unauthorized \\x1b[31m(request had Authorization: Bearer <hidden>)\")");
        scaledown_config_free(c);
}
END_TEST

struct run {
        struct stsread *s;
        uv_timer_t tick;
        int ticks, done;
        int ticks_at_done;
        int32_t seen[4];
};

static void on_done(void *data) {
        struct run *run = data;
        const struct scaledown_lookup *l = stsread_last(run->s);
        ck_assert_msg(l->done && l->rc == 0, "lookup failed: %s", l->error);
        run->seen[run->done++] = l->replicas;
        run->ticks_at_done = run->ticks;
        if (run->done == 1) {
                /* Scaled down while the agent runs: a refresh asked for now reads it. */
                tu_write(scratch, "replicas", "2\n");
                stsread_refresh(run->s, monotime_ms());
        } else {
                stsread_stop(run->s);
                uv_close((uv_handle_t *) &run->tick, NULL);
        }
}

static void on_tick(uv_timer_t *t) {
        ((struct run *) t->data)->ticks++;
}

START_TEST(reader_looks_up_off_the_loop_and_a_refresh_sees_a_new_scale) {
        struct fakeapi f;
        /* The first answer is a 500: the retry's 200 ms backoff happens on the thread pool while
         * the loop's 10 ms timer keeps ticking. */
        start(&f, (char *const[]){ "--mode", "flaky", "--fail-first", "1", NULL });
        struct scaledown_config *c = config("kafka-3", NULL, f.port);
        uv_loop_t loop;
        ck_assert_int_eq(uv_loop_init(&loop), 0);
        struct run run = { 0 };
        char err[256];
        ck_assert_int_eq(stsread_new(&loop, c, on_done, &run, &run.s, err, sizeof err), 0);
        uv_timer_init(&loop, &run.tick);
        run.tick.data = &run;
        uv_timer_start(&run.tick, on_tick, 10, 10);
        ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
        ck_assert_int_eq(uv_loop_close(&loop), 0);
        char *log = fakeapi_stop(&f);
        ck_assert_int_eq(run.done, 2);
        ck_assert_int_eq(run.seen[0], 3);
        ck_assert_int_eq(run.seen[1], 2);
        ck_assert_int_ge(run.ticks_at_done, 10);
        ck_assert_str_eq(log, "request " STS_PATH " auth=ok\nrequest " STS_PATH " auth=ok\nrequest " STS_PATH " auth=ok\n");
        free(log);
        scaledown_config_free(c);
}
END_TEST

struct fault_run {
        struct stsread *s;
        int done;
};

static void on_fault_done(void *data) {
        struct fault_run *run = data;
        const struct scaledown_lookup *l = stsread_last(run->s);
        ck_assert_int_eq(l->rc, -EINVAL);
        if (++run->done == 1)
                stsread_refresh(run->s, monotime_ms());
        else
                stsread_stop(run->s);
}

/* No API server configured (KUBERNETES_SERVICE_HOST unset) with --pod-name: the first read,
 * at start, fails as a lasting fault; the log says once that every /prestop will hold and how
 * to turn the rule off, and a second read with the same fault adds nothing. */
START_TEST(reader_logs_a_lasting_fault_once_saying_every_prestop_holds) {
        char token[700], err[512], logpath[700];
        snprintf(token, sizeof token, "%s/token", scratch);
        snprintf(logpath, sizeof logpath, "%s/stderr", scratch);
        struct scaledown_config *c = NULL;
        ck_assert_int_eq(scaledown_config_load("kafka-3", NULL, "kafka", NULL, NULL, NULL, token,
                                               fakeapi_cert_path("ca.crt"), &c, err, sizeof err), 0);
        log_setup("check_stsread", LOG_LEVEL_INFO);
        fflush(stderr);
        int saved = dup(2), fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        ck_assert(saved >= 0 && fd >= 0 && dup2(fd, 2) == 2);
        uv_loop_t loop;
        ck_assert_int_eq(uv_loop_init(&loop), 0);
        struct fault_run run = { 0 };
        ck_assert_int_eq(stsread_new(&loop, c, on_fault_done, &run, &run.s, err, sizeof err), 0);
        ck_assert_int_eq(uv_run(&loop, UV_RUN_DEFAULT), 0);
        ck_assert_int_eq(uv_loop_close(&loop), 0);
        fflush(stderr);
        dup2(saved, 2);
        close(fd);
        close(saved);
        ck_assert_int_eq(run.done, 2);
        char *text = tu_read(scratch, "stderr");
        ck_assert_ptr_nonnull(text);
        int warnings = 0;
        for (const char *q = text; (q = strstr(q, "\"event\":\"statefulset_unknown\"")); q++)
                warnings++;
        ck_assert_msg(warnings == 1, "%d warnings in:\n%s", warnings, text);
        ck_assert_msg(strstr(text, "\"msg\":\"KUBERNETES_SERVICE_HOST is not set: kpa-agent reads its StatefulSet's "
                                   "spec.replicas from the Kubernetes API and must run in a pod (or leave --pod-name "
                                   "unset); every /prestop holds until this is fixed or the prestop timeout ends (or "
                                   "leave --pod-name unset to turn the scale-down rule off)\""), "%s", text);
        free(text);
        scaledown_config_free(c);
}
END_TEST

int main(void) {
        Suite *s = suite_create("stsread");
        TCase *tc = tcase_create("stsread");
        tcase_add_unchecked_fixture(tc, fakeapi_make_certs, fakeapi_remove_certs);
        tcase_add_checked_fixture(tc, scratch_setup, scratch_teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, lookup_reads_spec_replicas_with_the_bearer_token);
        tcase_add_test(tc, lookup_explains_403_with_the_role_hint_as_a_lasting_fault);
        tcase_add_test(tc, lookup_403_names_the_role_to_fix);
        tcase_add_test(tc, lookup_names_a_statefulset_that_does_not_exist);
        tcase_add_test(tc, lookup_hides_a_token_the_server_echoes);
        tcase_add_test(tc, reader_looks_up_off_the_loop_and_a_refresh_sees_a_new_scale);
        tcase_add_test(tc, reader_logs_a_lasting_fault_once_saying_every_prestop_holds);
        suite_add_tcase(s, tc);
        return tu_run_suite(s);
}
