/* Suite for rack: validation, and the node label lookup against a loopback HTTPS server that
 * answers like the Kubernetes API server (tests/init/fake_apiserver.py). */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kpa/rack.h"
#include "fakeapi.h"
#include "testutil.h"

#define TOKEN "eyJhbGciOiJSUzI1NiJ9.test-token.sig"
#define ZONE "topology.kubernetes.io/zone"
#define LABELS "{\"" ZONE "\":\"eu-west-1a\",\"kubernetes.io/hostname\":\"n1\"}"

/* Per-test scratch folder with the service account token. */
static char *scratch;
static char token_path[600];

static void scratch_setup(void) {
        scratch = tu_mkdtemp();
        tu_write(scratch, "token", TOKEN "\n");
        snprintf(token_path, sizeof token_path, "%s/token", scratch);
}

static void scratch_teardown(void) {
        tu_rmtree(scratch);
        free(scratch);
}

static struct rack_query query(const char *host, const char *port) {
        return (struct rack_query){
                .api_host = host,
                .api_port = port,
                .token_path = token_path,
                .ca_path = fakeapi_cert_path("ca.crt"),
                .node_name = "n1",
                .label = ZONE,
                .timeout_ms = 10000,
        };
}

START_TEST(lookup_returns_the_label_value_and_sends_the_bearer_token) {
        struct fakeapi f;
        fakeapi_start(&f, "server", "127.0.0.1", TOKEN, (char *const[]){ "--labels", LABELS, NULL });
        struct rack_query q = query("127.0.0.1", f.port);
        char err[1024] = "", *rack = NULL;
        int r = rack_lookup(&q, &rack, err, sizeof err);
        char *log = fakeapi_stop(&f);
        ck_assert_msg(r == 0, "r=%d err=%s", r, err);
        ck_assert_str_eq(rack, "eu-west-1a");
        ck_assert_str_eq(log, "request /api/v1/nodes/n1 auth=ok\n");
        free(rack);
        free(log);
}
END_TEST

START_TEST(lookup_reaches_an_ipv6_literal_host) {
        struct fakeapi f;
        fakeapi_start(&f, "server", "::1", TOKEN, (char *const[]){ "--labels", LABELS, NULL });
        struct rack_query q = query("::1", f.port);
        char err[1024] = "", *rack = NULL;
        int r = rack_lookup(&q, &rack, err, sizeof err);
        char *log = fakeapi_stop(&f);
        ck_assert_msg(r == 0, "r=%d err=%s", r, err);
        ck_assert_str_eq(rack, "eu-west-1a");
        ck_assert_str_eq(log, "request /api/v1/nodes/n1 auth=ok\n");
        free(rack);
        free(log);
}
END_TEST

START_TEST(lookup_reports_a_missing_label_as_configuration_error) {
        struct fakeapi f;
        fakeapi_start(&f, "server", "127.0.0.1", TOKEN, (char *const[]){ "--labels", "{\"kubernetes.io/hostname\":\"n1\"}", NULL });
        struct rack_query q = query("127.0.0.1", f.port);
        char err[1024] = "", *rack = (char *) "untouched";
        int r = rack_lookup(&q, &rack, err, sizeof err);
        free(fakeapi_stop(&f));
        ck_assert_int_eq(r, -EINVAL);
        ck_assert_str_eq(err, "node \"n1\" has no label \"topology.kubernetes.io/zone\"");
        ck_assert_str_eq(rack, "untouched");
}
END_TEST

START_TEST(lookup_refuses_a_label_value_that_is_not_a_rack) {
        struct fakeapi f;
        fakeapi_start(&f, "server", "127.0.0.1", TOKEN, (char *const[]){ "--labels", "{\"" ZONE "\":\"\"}", NULL });
        struct rack_query q = query("127.0.0.1", f.port);
        char err[1024] = "", *rack = NULL;
        int r = rack_lookup(&q, &rack, err, sizeof err);
        free(fakeapi_stop(&f));
        ck_assert_int_eq(r, -EINVAL);
        ck_assert_str_eq(err, "label \"topology.kubernetes.io/zone\" of node \"n1\": \"\" is not a valid rack: it is empty");
        ck_assert_ptr_null(rack);
}
END_TEST

START_TEST(lookup_explains_403_with_the_rbac_hint_and_does_not_retry) {
        struct fakeapi f;
        fakeapi_start(&f, "server", "127.0.0.1", TOKEN, (char *const[]){ "--mode", "forbidden", NULL });
        struct rack_query q = query("127.0.0.1", f.port);
        char err[1024] = "", *rack = NULL;
        int r = rack_lookup(&q, &rack, err, sizeof err);
        char *log = fakeapi_stop(&f);
        ck_assert_int_eq(r, -EACCES);
        ck_assert_str_eq(err, "the service account cannot get nodes: grant get on nodes in a ClusterRole bound to "
                              "this pod's service account (HTTP 403) (API server: \"nodes \\\"n1\\\" is forbidden: "
                              "User \\\"system:serviceaccount:kafka:kafka\\\" cannot get resource \\\"nodes\\\" "
                              "in API group \\\"\\\" at the cluster scope\")");
        ck_assert_str_eq(log, "request /api/v1/nodes/n1 auth=ok\n");
        free(log);
}
END_TEST

START_TEST(lookup_reports_an_unknown_node_without_retrying) {
        struct fakeapi f;
        fakeapi_start(&f, "server", "127.0.0.1", TOKEN, (char *const[]){ "--node", "other", NULL });
        struct rack_query q = query("127.0.0.1", f.port);
        char err[1024] = "", *rack = NULL;
        int r = rack_lookup(&q, &rack, err, sizeof err);
        char *log = fakeapi_stop(&f);
        ck_assert_int_eq(r, -ENOENT);
        ck_assert_str_eq(err, "node \"n1\" not found (HTTP 404): NODE_NAME must be the pod's spec.nodeName");
        ck_assert_str_eq(log, "request /api/v1/nodes/n1 auth=ok\n");
        free(log);
}
END_TEST

START_TEST(lookup_retries_500_until_the_server_answers) {
        struct fakeapi f;
        fakeapi_start(&f, "server", "127.0.0.1", TOKEN,
                      (char *const[]){ "--mode", "flaky", "--fail-first", "2", "--labels", LABELS, NULL });
        struct rack_query q = query("127.0.0.1", f.port);
        char err[1024] = "", *rack = NULL;
        int r = rack_lookup(&q, &rack, err, sizeof err);
        char *log = fakeapi_stop(&f);
        ck_assert_msg(r == 0, "r=%d err=%s", r, err);
        ck_assert_str_eq(rack, "eu-west-1a");
        ck_assert_str_eq(log, "request /api/v1/nodes/n1 auth=ok\nrequest /api/v1/nodes/n1 auth=ok\n"
                              "request /api/v1/nodes/n1 auth=ok\n");
        free(rack);
        free(log);
}
END_TEST

START_TEST(lookup_gives_up_on_persistent_500_within_the_timeout) {
        struct fakeapi f;
        fakeapi_start(&f, "server", "127.0.0.1", TOKEN, (char *const[]){ "--mode", "flaky", "--fail-first", "1000", NULL });
        struct rack_query q = query("127.0.0.1", f.port);
        /* 3 s: each attempt is a TLS handshake, which under ASan on a loaded machine took long
         * enough that a 1 s budget ran out inside the third attempt (a curl timeout, not the
         * give-up this test is about). */
        q.timeout_ms = 3000;
        char err[1024] = "", *rack = NULL;
        uint64_t t0 = fakeapi_now_ms();
        int r = rack_lookup(&q, &rack, err, sizeof err);
        uint64_t took = fakeapi_now_ms() - t0;
        free(fakeapi_stop(&f));
        ck_assert_msg(r == -EIO, "r=%d err=%s", r, err);
        /* Within the timeout, with 500 ms of scheduling slack for a loaded machine under ASan
         * (the attempt count below pins the backoff exactly). */
        ck_assert_uint_lt(took, 3500);
        /* 200 + 400 + 800 ms of backoff fit in 3 s with four attempts of up to 400 ms each, the
         * next 1600 ms do not: four attempts. */
        char want[256];
        ck_assert_ptr_nonnull(strstr(err, "gave up after 4 attempts in "));
        snprintf(want, sizeof want, "GET node \"n1\" from https://127.0.0.1:%s/api/v1/nodes/n1 gave up", f.port);
        ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "err=%s", err);
        ck_assert_ptr_nonnull(strstr(err, " ms: HTTP 500 (API server: \"etcd leader changed\")"));
}
END_TEST

START_TEST(lookup_is_refused_with_a_wrong_token_and_never_echoes_it) {
        tu_write(scratch, "token", "not-the-expected-token\n");
        struct fakeapi f;
        fakeapi_start(&f, "server", "127.0.0.1", TOKEN, (char *const[]){ "--labels", LABELS, NULL });
        struct rack_query q = query("127.0.0.1", f.port);
        char err[1024] = "", *rack = NULL;
        int r = rack_lookup(&q, &rack, err, sizeof err);
        char *log = fakeapi_stop(&f);
        ck_assert_int_eq(r, -EACCES);
        ck_assert_str_eq(err, "the API server refused the service account token (HTTP 401) (API server: \"Unauthorized\")");
        ck_assert_str_eq(log, "request /api/v1/nodes/n1 auth=bad\n");
        ck_assert_ptr_null(strstr(err, "not-the-expected"));
        free(log);
}
END_TEST

START_TEST(lookup_refuses_a_server_signed_by_another_ca) {
        struct fakeapi f;
        fakeapi_start(&f, "server", "127.0.0.1", TOKEN, (char *const[]){ "--labels", LABELS, NULL });
        struct rack_query q = query("127.0.0.1", f.port);
        q.ca_path = fakeapi_cert_path("other-ca.crt");
        char err[1024] = "", *rack = NULL;
        int r = rack_lookup(&q, &rack, err, sizeof err);
        char *log = fakeapi_stop(&f);
        ck_assert_int_eq(r, -EIO);
        char want[600];
        snprintf(want, sizeof want, "the API server could not be verified with CA certificate %s: ", q.ca_path);
        ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "err=%s", err);
        /* The token was never sent: no request reached the server. */
        ck_assert_str_eq(log, "");
        ck_assert_ptr_null(rack);
        free(log);
}
END_TEST

/* Fails the test if text holds any run of 8 bytes of token (a part that could identify it). */
static void assert_no_part_of(const char *text, const char *token) {
        size_t n = strlen(text), t = strlen(token);
        for (size_t i = 0; i + 8 <= n; i++)
                for (size_t k = 0; k + 8 <= t; k++)
                        ck_assert_msg(memcmp(text + i, token + k, 8) != 0, "part of the token at %zu: %s", i, text);
}

/* A server (or a proxy in front of it) that quotes the request back: the 401 explanation
 * holds the token kpa-init sent, a long one, after a terminal escape sequence. The message
 * keeps the server's words, with the escape replaced, the token hidden and the rest cut. */
START_TEST(lookup_hides_a_token_the_server_echoes_in_a_401_answer) {
        char token[700] = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.";
        for (size_t i = strlen(token); i < 640; i++)
                token[i] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"[(i * 7 + i / 64) % 64];
        token[640] = '\0';
        char line[720];
        snprintf(line, sizeof line, "%s\n", token);
        tu_write(scratch, "token", line);
        struct fakeapi f;
        fakeapi_start(&f, "server", "127.0.0.1", TOKEN, (char *const[]){ "--labels", LABELS, "--echo-token", NULL });
        struct rack_query q = query("127.0.0.1", f.port);
        char err[1024] = "", *rack = NULL;
        int r = rack_lookup(&q, &rack, err, sizeof err);
        free(fakeapi_stop(&f));
        ck_assert_int_eq(r, -EACCES);
        assert_no_part_of(err, token);
        ck_assert_str_eq(err, "the API server refused the service account token (HTTP 401) (API server: "
                              "\"Unauthorized \\x1b[31m(request had Authorization: Bearer <hidden>...\")");
}
END_TEST

/* The same in a 5xx answer, which is retried and then quoted in the give-up line. */
START_TEST(lookup_hides_a_token_the_server_echoes_in_a_500_answer) {
        struct fakeapi f;
        fakeapi_start(&f, "server", "127.0.0.1", TOKEN,
                      (char *const[]){ "--mode", "flaky", "--fail-first", "1000", "--echo-token", NULL });
        struct rack_query q = query("127.0.0.1", f.port);
        q.timeout_ms = 1000;
        char err[1024] = "", *rack = NULL;
        int r = rack_lookup(&q, &rack, err, sizeof err);
        free(fakeapi_stop(&f));
        ck_assert_int_eq(r, -EIO);
        assert_no_part_of(err, TOKEN);
        ck_assert_msg(strstr(err, " ms: HTTP 500 (API server: \"etcd leader changed \\x1b[31m(request had Authorization: "
                                  "Bearer <hidden>)\")") != NULL, "%s", err);
}
END_TEST

/* A label value that is the token (a valid rack string: a JWT is base64url and dots) would be
 * written to server.properties, a world-readable file: it is refused, and not shown. */
START_TEST(lookup_refuses_a_label_value_holding_the_token_without_showing_it) {
        static const char *const values[] = { TOKEN, "zone-" TOKEN, "zone a " TOKEN };
        for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
                char labels[256];
                snprintf(labels, sizeof labels, "{\"" ZONE "\":\"%s\"}", values[i]);
                struct fakeapi f;
                fakeapi_start(&f, "server", "127.0.0.1", TOKEN, (char *const[]){ "--labels", labels, NULL });
                struct rack_query q = query("127.0.0.1", f.port);
                char err[1024] = "", *rack = NULL;
                int r = rack_lookup(&q, &rack, err, sizeof err);
                free(fakeapi_stop(&f));
                ck_assert_msg(r == -EPROTO, "%s: %d %s", values[i], r, rack ? rack : err);
                ck_assert_str_eq(err, "label \"topology.kubernetes.io/zone\" of node \"n1\" holds part of the service "
                                      "account token: the API server's answer is not used");
                ck_assert_ptr_null(rack);
        }
}
END_TEST

/* Control characters in a label value are shown escaped, never raw. */
START_TEST(lookup_shows_control_characters_of_a_bad_label_value_escaped) {
        struct fakeapi f;
        fakeapi_start(&f, "server", "127.0.0.1", TOKEN, (char *const[]){ "--labels", "{\"" ZONE "\":\"eu\\u001b[2Jwest\\u0007\"}", NULL });
        struct rack_query q = query("127.0.0.1", f.port);
        char err[1024] = "", *rack = NULL;
        int r = rack_lookup(&q, &rack, err, sizeof err);
        free(fakeapi_stop(&f));
        ck_assert_int_eq(r, -EINVAL);
        ck_assert_str_eq(err, "label \"topology.kubernetes.io/zone\" of node \"n1\": \"eu\\x1b[2Jwest\\x07\" is not a "
                              "valid rack: only A-Z a-z 0-9 . _ - are allowed");
}
END_TEST

START_TEST(lookup_refuses_a_certificate_for_another_host) {
        struct fakeapi f;
        fakeapi_start(&f, "wrong", "127.0.0.1", TOKEN, (char *const[]){ "--labels", LABELS, NULL });
        struct rack_query q = query("127.0.0.1", f.port);
        char err[1024] = "", *rack = NULL;
        int r = rack_lookup(&q, &rack, err, sizeof err);
        char *log = fakeapi_stop(&f);
        ck_assert_int_eq(r, -EIO);
        ck_assert_msg(strstr(err, "could not be verified") && strstr(err, "127.0.0.1"), "err=%s", err);
        ck_assert_str_eq(log, "");
        free(log);
}
END_TEST

START_TEST(lookup_refuses_an_oversize_answer) {
        const char *modes[] = { "oversize", "oversize-chunked" };
        for (int i = 0; i < 2; i++) {
                struct fakeapi f;
                fakeapi_start(&f, "server", "127.0.0.1", TOKEN, (char *const[]){ "--mode", (char *) modes[i], NULL });
                struct rack_query q = query("127.0.0.1", f.port);
                char err[1024] = "", *rack = NULL;
                int r = rack_lookup(&q, &rack, err, sizeof err);
                char *log = fakeapi_stop(&f);
                ck_assert_msg(r == -EFBIG, "%s: r=%d err=%s", modes[i], r, err);
                ck_assert_str_eq(err, "the API server's answer for node \"n1\" is larger than 4194304 bytes");
                ck_assert_str_eq(log, "request /api/v1/nodes/n1 auth=ok\n");
                free(log);
        }
}
END_TEST

START_TEST(lookup_gives_up_within_the_timeout_when_the_server_never_answers) {
        /* A listening socket that never accepts: the kernel completes the TCP handshake and
         * the TLS hello is never answered. */
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t alen = sizeof a;
        ck_assert_int_eq(bind(fd, (struct sockaddr *) &a, sizeof a), 0);
        ck_assert_int_eq(listen(fd, 8), 0);
        ck_assert_int_eq(getsockname(fd, (struct sockaddr *) &a, &alen), 0);
        char port[16];
        snprintf(port, sizeof port, "%d", ntohs(a.sin_port));
        struct rack_query q = query("127.0.0.1", port);
        q.timeout_ms = 1200;
        char err[1024] = "", *rack = NULL;
        uint64_t t0 = fakeapi_now_ms();
        int r = rack_lookup(&q, &rack, err, sizeof err);
        uint64_t took = fakeapi_now_ms() - t0;
        close(fd);
        ck_assert_int_eq(r, -ETIMEDOUT);
        ck_assert_uint_ge(took, 1100);
        ck_assert_uint_lt(took, 1700);
        ck_assert_msg(strstr(err, "gave up after 1 attempt in ") && strstr(err, "timed out"), "err=%s", err);
}
END_TEST

START_TEST(lookup_checks_its_inputs_before_any_request) {
        /* Nothing listens on port 9: every refusal below comes from the input checks. */
        struct rack_query q;
        char err[1024], *rack = NULL;
        struct {
                const char *host, *port, *node, *label, *token, *ca;
                const char *want;
        } cases[] = {
                { NULL, "9", "n1", ZONE, NULL, NULL,
                  "KUBERNETES_SERVICE_HOST is not set: kpa-init reads the node label from the Kubernetes API "
                  "and must run in a pod (or set KPA_RACK instead)" },
                { "127.0.0.1/x", "9", "n1", ZONE, NULL, NULL,
                  "KUBERNETES_SERVICE_HOST \"127.0.0.1/x\" is not a host name or IP address" },
                { "127.0.0.1", "0", "n1", ZONE, NULL, NULL,
                  "KUBERNETES_SERVICE_PORT \"0\" is not a port number (1-65535)" },
                { "127.0.0.1", "9", "", ZONE, NULL, NULL,
                  "NODE_NAME is not set: give the init container env NODE_NAME from the downward API "
                  "(fieldRef: spec.nodeName)" },
                { "127.0.0.1", "9", "../secrets\n", ZONE, NULL, NULL,
                  "NODE_NAME \"../secrets\\x0a\" is not a node name (a lower-case DNS subdomain)" },
                { "127.0.0.1", "9", "n1", "Topology.io/zone", NULL, NULL,
                  "KPA_RACK_NODE_LABEL: label key \"Topology.io/zone\" is not valid: the prefix before '/' "
                  "must be a lower-case DNS subdomain" },
                { "127.0.0.1", "9", "n1", ZONE, "/nonexistent/token", NULL,
                  "service account token /nonexistent/token not found: mount it "
                  "(automountServiceAccountToken: true) or set KPA_RACK instead of KPA_RACK_NODE_LABEL" },
                { "127.0.0.1", "9", "n1", ZONE, NULL, "/nonexistent/ca.crt",
                  "CA certificate /nonexistent/ca.crt for the Kubernetes API cannot be read: "
                  "No such file or directory" },
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                q = query(cases[i].host, cases[i].port);
                q.node_name = cases[i].node;
                q.label = cases[i].label;
                if (cases[i].token)
                        q.token_path = cases[i].token;
                if (cases[i].ca)
                        q.ca_path = cases[i].ca;
                ck_assert_int_eq(rack_lookup(&q, &rack, err, sizeof err), -EINVAL);
                ck_assert_str_eq(err, cases[i].want);
                ck_assert_ptr_null(rack);
        }
}
END_TEST

START_TEST(lookup_refuses_a_token_that_could_split_the_header_without_echoing_it) {
        tu_write(scratch, "token", "abc\r\nX-Evil: 1\n");
        struct rack_query q = query("127.0.0.1", "9");
        char err[1024], *rack = NULL;
        ck_assert_int_eq(rack_lookup(&q, &rack, err, sizeof err), -EINVAL);
        char want[700];
        snprintf(want, sizeof want, "service account token %s is empty or holds characters a bearer token cannot have",
                 token_path);
        ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(validate_accepts_label_values_and_refuses_other_strings) {
        char err[1024];
        ck_assert_int_eq(rack_validate("eu-west-1a", "KPA_RACK", err, sizeof err), 0);
        ck_assert_int_eq(rack_validate("rack_07.b", "KPA_RACK", err, sizeof err), 0);
        ck_assert_int_eq(rack_validate("a b", "KPA_RACK", err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "KPA_RACK: \"a b\" is not a valid rack: only A-Z a-z 0-9 . _ - are allowed");
        ck_assert_int_eq(rack_validate("", "KPA_RACK", err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "KPA_RACK: \"\" is not a valid rack: it is empty");
        char long_rack[300];
        memset(long_rack, 'a', 256);
        long_rack[256] = '\0';
        ck_assert_int_eq(rack_validate(long_rack, "KPA_RACK", err, sizeof err), -EINVAL);
        ck_assert_ptr_nonnull(strstr(err, "aaa...\" is not a valid rack: it is longer than 255 characters"));
        long_rack[255] = '\0';
        ck_assert_int_eq(rack_validate(long_rack, "KPA_RACK", err, sizeof err), 0);
}
END_TEST

START_TEST(label_key_validation_follows_kubernetes_rules) {
        char err[1024];
        ck_assert_int_eq(rack_label_key_validate("topology.kubernetes.io/zone", err, sizeof err), 0);
        ck_assert_int_eq(rack_label_key_validate("zone", err, sizeof err), 0);
        ck_assert_int_eq(rack_label_key_validate("example.com/Rack_1.x", err, sizeof err), 0);
        ck_assert_int_eq(rack_label_key_validate("example.com/", err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "label key \"example.com/\" is not valid: the name must be 1 to 63 characters");
        ck_assert_int_eq(rack_label_key_validate("-zone", err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "label key \"-zone\" is not valid: the name must start and end with A-Z a-z 0-9");
        ck_assert_int_eq(rack_label_key_validate("a/b/c", err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "label key \"a/b/c\" is not valid: the name may hold only A-Z a-z 0-9 . _ -");
        ck_assert_int_eq(rack_label_key_validate("exa..mple/zone", err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "label key \"exa..mple/zone\" is not valid: the prefix before '/' must be a lower-case DNS subdomain");
}
END_TEST

int main(void) {
        Suite *s = suite_create("rack");
        TCase *tc = tcase_create("validate");
        tcase_add_test(tc, validate_accepts_label_values_and_refuses_other_strings);
        tcase_add_test(tc, label_key_validation_follows_kubernetes_rules);
        suite_add_tcase(s, tc);
        tc = tcase_create("lookup");
        tcase_add_unchecked_fixture(tc, fakeapi_make_certs, fakeapi_remove_certs);
        tcase_add_checked_fixture(tc, scratch_setup, scratch_teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, lookup_returns_the_label_value_and_sends_the_bearer_token);
        tcase_add_test(tc, lookup_reaches_an_ipv6_literal_host);
        tcase_add_test(tc, lookup_reports_a_missing_label_as_configuration_error);
        tcase_add_test(tc, lookup_refuses_a_label_value_that_is_not_a_rack);
        tcase_add_test(tc, lookup_explains_403_with_the_rbac_hint_and_does_not_retry);
        tcase_add_test(tc, lookup_hides_a_token_the_server_echoes_in_a_401_answer);
        tcase_add_test(tc, lookup_hides_a_token_the_server_echoes_in_a_500_answer);
        tcase_add_test(tc, lookup_refuses_a_label_value_holding_the_token_without_showing_it);
        tcase_add_test(tc, lookup_shows_control_characters_of_a_bad_label_value_escaped);
        tcase_add_test(tc, lookup_reports_an_unknown_node_without_retrying);
        tcase_add_test(tc, lookup_retries_500_until_the_server_answers);
        tcase_add_test(tc, lookup_gives_up_on_persistent_500_within_the_timeout);
        tcase_add_test(tc, lookup_is_refused_with_a_wrong_token_and_never_echoes_it);
        tcase_add_test(tc, lookup_refuses_a_server_signed_by_another_ca);
        tcase_add_test(tc, lookup_refuses_a_certificate_for_another_host);
        tcase_add_test(tc, lookup_refuses_an_oversize_answer);
        tcase_add_test(tc, lookup_gives_up_within_the_timeout_when_the_server_never_answers);
        tcase_add_test(tc, lookup_checks_its_inputs_before_any_request);
        tcase_add_test(tc, lookup_refuses_a_token_that_could_split_the_header_without_echoing_it);
        suite_add_tcase(s, tc);
        return tu_run_suite(s);
}
