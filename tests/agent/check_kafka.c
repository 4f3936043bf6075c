/* Suites for the Kafka edge: client.properties parsing and checks against librdkafka's mock
 * cluster on loopback (the demo cluster). */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kpa/demo.h"
#include "kpa/kafka.h"
#include "kpa/log.h"
#include "testutil.h"

/* Kafka API keys (the protocol's numbers; librdkafka keeps its enum private). */
#define API_METADATA 3
#define API_APIVERSIONS 18

/* ---- client.properties ---------------------------------------------------------------- */

static char *dir;
static char path[512];

static void conf_setup(void) {
        dir = tu_mkdtemp();
        snprintf(path, sizeof path, "%s/client.properties", dir);
}

static void conf_teardown(void) {
        tu_rmtree(dir);
        free(dir);
}

/* Writes content as client.properties and loads it; returns the error code, errbuf filled. */
static int load(const char *content, const char *override, struct kafka_conf **ret,
                char *errbuf, size_t errlen) {
        tu_write(dir, "client.properties", content);
        return kafka_conf_load(path, override, ret, errbuf, errlen);
}

static void expect_error(const char *content, int code, const char *suffix) {
        char eb[512] = "", want[600];
        struct kafka_conf *c = (struct kafka_conf *) 0x1;
        ck_assert_int_eq(load(content, NULL, &c, eb, sizeof eb), code);
        ck_assert_ptr_eq(c, (struct kafka_conf *) 0x1);
        snprintf(want, sizeof want, "%s%s", path, suffix);
        ck_assert_str_eq(eb, want);
}

START_TEST(conf_reads_keys_values_comments_and_blank_lines) {
        char eb[512] = "";
        struct kafka_conf *c = NULL;
        ck_assert_int_eq(load("# written by kpa-init\n"
                              "\n"
                              "  security.protocol = SASL_PLAINTEXT  \n"
                              "sasl.mechanism=PLAIN\r\n"
                              "sasl.username=admin\n"
                              "sasl.password=p=ss word\n"
                              "bootstrap.servers=kafka-0.kafka:9092",
                              NULL, &c, eb, sizeof eb), 0);
        ck_assert_str_eq(eb, "");
        ck_assert_str_eq(kafka_conf_get(c, "security.protocol"), "SASL_PLAINTEXT");
        ck_assert_str_eq(kafka_conf_get(c, "sasl.mechanism"), "PLAIN");
        ck_assert_str_eq(kafka_conf_get(c, "sasl.password"), "p=ss word");
        ck_assert_str_eq(kafka_conf_bootstrap(c), "kafka-0.kafka:9092");
        ck_assert_ptr_null(kafka_conf_get(c, "# written by kpa-init"));
        kafka_conf_free(c);
}
END_TEST

START_TEST(conf_bootstrap_override_replaces_the_file_value) {
        char eb[512] = "";
        struct kafka_conf *c = NULL;
        ck_assert_int_eq(load("bootstrap.servers=other:9092\n", "[::1]:9093", &c, eb, sizeof eb),
                         0);
        ck_assert_str_eq(kafka_conf_bootstrap(c), "[::1]:9093");
        kafka_conf_free(c);
        ck_assert_int_eq(kafka_conf_load(NULL, "localhost:9092", &c, eb, sizeof eb), 0);
        ck_assert_str_eq(kafka_conf_bootstrap(c), "localhost:9092");
        kafka_conf_free(c);
}
END_TEST

START_TEST(conf_rejects_a_line_without_equals_with_file_and_line) {
        expect_error("security.protocol=SSL\n\nssl.ca.location\n", -EINVAL,
                     ":3: expected key=value");
}
END_TEST

START_TEST(conf_rejects_empty_and_spaced_keys) {
        expect_error("=x\n", -EINVAL, ":1: empty key before '='");
        expect_error("# c\nssl ca=x\n", -EINVAL, ":2: space inside key \"ssl ca\"");
}
END_TEST

START_TEST(conf_rejects_duplicate_keys) {
        expect_error("sasl.mechanism=PLAIN\nsasl.mechanism=SCRAM-SHA-256\n", -EINVAL,
                     ":2: duplicate key \"sasl.mechanism\" (first set on line 1)");
}
END_TEST

START_TEST(conf_rejects_properties_librdkafka_does_not_know) {
        expect_error("bootstrap.servers=a:1\nno.such.thing=1\n", -EINVAL,
                     ":2: No such configuration property: \"no.such.thing\"");
}
END_TEST

START_TEST(conf_rejects_keys_the_agent_sets_itself) {
        expect_error("bootstrap.servers=a:1\nenable.sparse.connections=false\n", -EINVAL,
                     ":2: enable.sparse.connections is set by kpa-agent or not allowed");
        /* librdkafka would load the library the moment the property is set. */
        expect_error("bootstrap.servers=a:1\nplugin.library.paths=/tmp/evil.so\n", -EINVAL,
                     ":2: plugin.library.paths is set by kpa-agent or not allowed");
}
END_TEST

START_TEST(conf_errors_never_quote_a_value) {
        /* A malformed line may hold a password: messages name the line and the key only. */
        expect_error("sasl.password hunter2\n", -EINVAL, ":1: expected key=value");
        expect_error("sasl password=hunter2\n", -EINVAL,
                     ":1: space inside key \"sasl password\"");
        expect_error("sasl.password=hunter2\nsasl.password=hunter3\n", -EINVAL,
                     ":2: duplicate key \"sasl.password\" (first set on line 1)");
}
END_TEST

START_TEST(conf_requires_exactly_one_bootstrap_listener) {
        char eb[512] = "", want[600];
        struct kafka_conf *c = NULL;
        ck_assert_int_eq(load("security.protocol=SSL\n", NULL, &c, eb, sizeof eb), -EINVAL);
        ck_assert_str_eq(eb, "no bootstrap address: give --bootstrap or set bootstrap.servers "
                         "in the client config");
        ck_assert_int_eq(load("bootstrap.servers=a:1,b:2\n", NULL, &c, eb, sizeof eb), -EINVAL);
        ck_assert_str_eq(eb, "bootstrap \"a:1,b:2\" names several listeners; it must be exactly "
                         "the local broker's one host:port");
        ck_assert_int_eq(kafka_conf_load(NULL, "SSL://a:1", &c, eb, sizeof eb), -EINVAL);
        ck_assert_str_eq(eb, "bootstrap \"SSL://a:1\": give host:port without a protocol prefix "
                         "(set security.protocol in the client config)");
        ck_assert_int_eq(kafka_conf_load(NULL, "kafka-0", &c, eb, sizeof eb), -EINVAL);
        ck_assert_str_eq(eb, "bootstrap \"kafka-0\" is not host:port (IPv6 as [addr]:port)");
        ck_assert_int_eq(kafka_conf_load(NULL, "::1:9092", &c, eb, sizeof eb), -EINVAL);
        ck_assert_int_eq(kafka_conf_load(NULL, "a:70000", &c, eb, sizeof eb), -EINVAL);
        snprintf(want, sizeof want, "%s/none: cannot open: No such file or directory", dir);
        char missing[600];
        snprintf(missing, sizeof missing, "%s/none", dir);
        ck_assert_int_eq(kafka_conf_load(missing, "a:1", &c, eb, sizeof eb), -ENOENT);
        ck_assert_str_eq(eb, want);
}
END_TEST

START_TEST(conf_rejects_files_past_the_size_limit) {
        char *big = malloc(KAFKA_CONF_MAX_BYTES + 2);
        memset(big, '#', KAFKA_CONF_MAX_BYTES + 1);
        big[KAFKA_CONF_MAX_BYTES + 1] = '\0';
        char want[64];
        snprintf(want, sizeof want, ": larger than %d bytes", KAFKA_CONF_MAX_BYTES);
        expect_error(big, -E2BIG, want);
        free(big);
}
END_TEST

/* ---- checks against the mock cluster ----------------------------------------------------- */

static struct demo *demo;

static void mock_setup(void) {
        char eb[512];
        log_setup("check_kafka", LOG_LEVEL_WARN);
        ck_assert_msg(demo_start(&(struct demo_opts){ 0 }, &demo, eb, sizeof eb) == 0, "%s", eb);
}

static void mock_teardown(void) { demo = demo_stop(demo); }

static struct kafka_client *client_for(const char *bootstrap, int32_t local_id,
                                       uint64_t timeout_ms) {
        char eb[512];
        struct kafka_conf *c = NULL;
        struct kafka_client *kc = NULL;
        ck_assert_msg(kafka_conf_load(NULL, bootstrap, &c, eb, sizeof eb) == 0, "%s", eb);
        ck_assert_int_eq(kafka_client_new(c, &(struct kafka_client_opts){
                                 .timeout_ms = timeout_ms, .local_id = local_id },
                                 &kc, eb, sizeof eb), 0);
        return kc;
}

static const struct snap_topic *find_topic(const struct snapshot *s, const char *name) {
        for (int i = 0; i < s->n_topics; i++)
                if (strcmp(s->topics[i].name, name) == 0)
                        return &s->topics[i];
        return NULL;
}

static void assert_ok(const struct kafka_result *r) {
        ck_assert_msg(r->rc == 0, "check failed: %s", r->error);
        ck_assert_ptr_nonnull(r->snap);
        ck_assert_str_eq(r->error, "");
}

START_TEST(mock_healthy_check_returns_brokers_topics_and_answering_node) {
        struct kafka_client *kc = client_for(demo_bootstrap(demo), 1, 5000);
        struct kafka_result r;
        kafka_check(kc, false, &r);
        assert_ok(&r);
        const struct snapshot *s = r.snap;
        ck_assert_int_eq(s->answered_by, 1);
        ck_assert_int_eq(s->n_brokers, 3);
        int seen = 0;
        for (int i = 0; i < s->n_brokers; i++)
                seen |= 1 << s->brokers[i];
        ck_assert_int_eq(seen, (1 << 1) | (1 << 2) | (1 << 3));
        ck_assert_int_eq(s->n_topics, 3);
        ck_assert_int_eq(find_topic(s, "orders")->n_partitions, 12);
        ck_assert_int_eq(find_topic(s, "payments")->n_partitions, 6);
        const struct snap_topic *audit = find_topic(s, "audit");
        ck_assert_int_eq(audit->n_partitions, 1);
        ck_assert_int_eq(audit->err, 0);
        const struct snap_partition *p = &audit->partitions[0];
        ck_assert_int_eq(p->id, 0);
        ck_assert_int_eq(p->n_replicas, 3);
        ck_assert_int_eq(p->n_isr, 3);
        ck_assert_int_ge(p->leader, 1);
        ck_assert_int_le(p->leader, 3);
        ck_assert_int_eq(p->err, 0);
        ck_assert_int_eq(s->controller_id, -1);
        ck_assert_uint_ge(r.finished_ms, r.started_ms);
        snapshot_free(r.snap);
        kafka_client_free(kc);
}
END_TEST

START_TEST(mock_min_isr_stays_unknown_with_a_note_when_describeconfigs_is_unsupported) {
        struct kafka_client *kc = client_for(demo_bootstrap(demo), 1, 5000);
        struct kafka_result r;
        kafka_check(kc, false, &r);
        assert_ok(&r);
        ck_assert(r.configs_fetched);
        ck_assert_int_eq(r.snap->default_min_isr, -1);
        ck_assert_int_eq(find_topic(r.snap, "orders")->min_isr, -1);
        ck_assert_str_eq(r.note, "min.insync.replicas unknown: DescribeConfigs (KIP-133) not "
                         "supported by broker, requires broker version >= 0.11.0");
        snapshot_free(r.snap);

        /* Within the TTL the next check does not ask again (hot path: Metadata only) but
         * keeps reporting why the values are unknown; asking explicitly fetches again. */
        kafka_check(kc, false, &r);
        assert_ok(&r);
        ck_assert(!r.configs_fetched);
        ck_assert_str_eq(r.note, "min.insync.replicas unknown: DescribeConfigs (KIP-133) not "
                         "supported by broker, requires broker version >= 0.11.0");
        snapshot_free(r.snap);
        kafka_check(kc, true, &r);
        assert_ok(&r);
        ck_assert(r.configs_fetched);
        snapshot_free(r.snap);
        kafka_client_free(kc);
}
END_TEST

START_TEST(mock_check_fails_when_the_local_broker_is_down_while_others_answer) {
        struct kafka_client *kc = client_for(demo_bootstrap(demo), 1, 1500);
        struct kafka_client *other = client_for(demo_broker_address(demo, 2), 2, 5000);
        struct kafka_result r;

        ck_assert_int_eq(demo_broker_set_up(demo, 1, false), 0);
        kafka_check(kc, false, &r);
        ck_assert_int_eq(r.rc, -EIO);
        ck_assert_ptr_null(r.snap);
        char want[200];
        snprintf(want, sizeof want, "local broker %s did not answer within 1500ms: ",
                 demo_bootstrap(demo));
        ck_assert_msg(strncmp(r.error, want, strlen(want)) == 0, "%s", r.error);
        ck_assert_ptr_nonnull(strstr(r.error, "Connection refused"));
        ck_assert_ptr_nonnull(strstr(r.error, "; hint: nothing accepts connections there: is "
                                     "the broker running, and is --bootstrap its listener?"));
        /* Failed within the timeout (plus the handle's teardown). */
        ck_assert_uint_le(r.finished_ms - r.started_ms, 1500 + 500);

        /* The other brokers are up and answer for themselves. */
        kafka_check(other, false, &r);
        assert_ok(&r);
        ck_assert_int_eq(r.snap->answered_by, 2);
        snapshot_free(r.snap);

        ck_assert_int_eq(demo_broker_set_up(demo, 1, true), 0);
        kafka_check(kc, false, &r);
        assert_ok(&r);
        ck_assert_int_eq(r.snap->answered_by, 1);
        snapshot_free(r.snap);
        kafka_client_free(kc);
        kafka_client_free(other);
}
END_TEST

START_TEST(mock_check_times_out_when_the_broker_answers_slower_than_the_timeout) {
        struct kafka_client *kc = client_for(demo_bootstrap(demo), 1, 600);
        struct kafka_result r;
        ck_assert_int_eq(demo_broker_set_rtt(demo, 1, 3000), 0);
        kafka_check(kc, false, &r);
        ck_assert_int_eq(r.rc, -ETIMEDOUT);
        ck_assert_ptr_null(r.snap);
        char want[400];
        snprintf(want, sizeof want, "local broker %s did not answer within 600ms: no connection "
                 "was ready in time (connect or handshake still in progress); hint: the broker did not answer in time: it may be starting or "
                 "overloaded (raise --check-timeout if this persists)", demo_bootstrap(demo));
        ck_assert_str_eq(r.error, want);
        ck_assert_uint_le(r.finished_ms - r.started_ms, 600 + 500);

        /* Slow but within the timeout is fine (a check makes three round trips). */
        ck_assert_int_eq(demo_broker_set_rtt(demo, 1, 100), 0);
        kafka_check(kc, false, &r);
        assert_ok(&r);
        ck_assert_uint_ge(r.finished_ms - r.started_ms, 200);
        snapshot_free(r.snap);
        kafka_client_free(kc);
}
END_TEST

START_TEST(mock_check_reports_a_connection_dropped_at_the_first_request_then_recovers) {
        struct kafka_client *kc = client_for(demo_bootstrap(demo), 1, 800);
        struct kafka_result r;
        /* Every ApiVersions request is answered by closing the connection, as a TLS or SASL
         * listener does to a plaintext client. */
        rd_kafka_resp_err_t errs[64];
        for (size_t i = 0; i < 64; i++)
                errs[i] = RD_KAFKA_RESP_ERR__TRANSPORT;
        rd_kafka_mock_push_request_errors_array(demo_mock(demo), API_APIVERSIONS, 64, errs);
        kafka_check(kc, false, &r);
        ck_assert_int_eq(r.rc, -EIO);
        ck_assert_ptr_null(r.snap);
        ck_assert_msg(strstr(r.error, "Disconnected while requesting ApiVersion"), "%s", r.error);
        ck_assert_ptr_nonnull(strstr(r.error, "; hint: the broker closed the connection at the "
                                     "first request: security.protocol probably does not match "
                                     "the listener"));

        rd_kafka_mock_clear_request_errors(demo_mock(demo), API_APIVERSIONS);
        kafka_check(kc, false, &r);
        assert_ok(&r);
        snapshot_free(r.snap);
        kafka_client_free(kc);
}
END_TEST

START_TEST(mock_topic_errors_in_metadata_are_reported_in_the_snapshot) {
        struct kafka_client *kc = client_for(demo_bootstrap(demo), 1, 5000);
        struct kafka_result r;
        rd_kafka_mock_topic_set_error(demo_mock(demo), "payments",
                                      RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE);
        /* librdkafka 2.0.2's mock ignores errors pushed for Metadata (its handler never pops
         * the error stack); pushing them must not disturb the check either. */
        rd_kafka_mock_push_request_errors(demo_mock(demo), API_METADATA, 2,
                                          RD_KAFKA_RESP_ERR_NOT_CONTROLLER,
                                          RD_KAFKA_RESP_ERR_NOT_CONTROLLER);
        kafka_check(kc, false, &r);
        assert_ok(&r);
        ck_assert_int_eq(find_topic(r.snap, "payments")->err,
                         RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE);
        ck_assert_int_eq(find_topic(r.snap, "orders")->err, 0);
        snapshot_free(r.snap);

        rd_kafka_mock_topic_set_error(demo_mock(demo), "payments", RD_KAFKA_RESP_ERR_NO_ERROR);
        kafka_check(kc, false, &r);
        assert_ok(&r);
        ck_assert_int_eq(find_topic(r.snap, "payments")->err, 0);
        ck_assert_int_eq(find_topic(r.snap, "payments")->n_partitions, 6);
        snapshot_free(r.snap);
        kafka_client_free(kc);
}
END_TEST

START_TEST(mock_check_fails_when_bootstrap_is_another_node_than_the_local_id) {
        struct kafka_client *kc = client_for(demo_broker_address(demo, 2), 1, 5000);
        struct kafka_result r;
        kafka_check(kc, false, &r);
        ck_assert_int_eq(r.rc, -EPROTO);
        ck_assert_ptr_null(r.snap);
        char want[300];
        snprintf(want, sizeof want, "the listener %s is node 2, not the local node 1: "
                 "--bootstrap points at another broker", demo_broker_address(demo, 2));
        ck_assert_str_eq(r.error, want);
        kafka_client_free(kc);
}
END_TEST

START_TEST(mock_check_with_unknown_local_id_accepts_the_listener_and_names_its_node) {
        struct kafka_client *kc = client_for(demo_broker_address(demo, 3), -1, 5000);
        struct kafka_result r;
        kafka_check(kc, false, &r);
        assert_ok(&r);
        ck_assert_int_eq(r.snap->answered_by, 3);
        snapshot_free(r.snap);
        kafka_client_free(kc);
}
END_TEST

START_TEST(mock_check_reports_a_client_config_librdkafka_cannot_use) {
        char eb[512];
        char *d = tu_mkdtemp();
        char p[600];
        snprintf(p, sizeof p, "%s/client.properties", d);
        tu_write(d, "client.properties", "security.protocol=SSL\n"
                                         "ssl.ca.location=/nonexistent/ca.pem\n");
        struct kafka_conf *c = NULL;
        struct kafka_client *kc = NULL;
        ck_assert_msg(kafka_conf_load(p, demo_bootstrap(demo), &c, eb, sizeof eb) == 0, "%s", eb);
        ck_assert_int_eq(kafka_client_new(c, &(struct kafka_client_opts){ .timeout_ms = 1000,
                                          .local_id = 1 }, &kc, eb, sizeof eb), 0);
        struct kafka_result r;
        kafka_check(kc, false, &r);
        ck_assert_int_eq(r.rc, -EINVAL);
        ck_assert_ptr_null(r.snap);
        ck_assert_msg(strncmp(r.error, "cannot create the Kafka client: ssl.ca.location "
                              "failed: ", 56) == 0, "%s", r.error);
        kafka_client_free(kc);
        tu_rmtree(d);
        free(d);
}
END_TEST

static Suite *kafka_suite(void) {
        Suite *s = suite_create("kafka");
        TCase *tc = tcase_create("conf");
        tcase_add_checked_fixture(tc, conf_setup, conf_teardown);
        tcase_add_test(tc, conf_reads_keys_values_comments_and_blank_lines);
        tcase_add_test(tc, conf_bootstrap_override_replaces_the_file_value);
        tcase_add_test(tc, conf_rejects_a_line_without_equals_with_file_and_line);
        tcase_add_test(tc, conf_rejects_empty_and_spaced_keys);
        tcase_add_test(tc, conf_rejects_duplicate_keys);
        tcase_add_test(tc, conf_rejects_properties_librdkafka_does_not_know);
        tcase_add_test(tc, conf_rejects_keys_the_agent_sets_itself);
        tcase_add_test(tc, conf_errors_never_quote_a_value);
        tcase_add_test(tc, conf_requires_exactly_one_bootstrap_listener);
        tcase_add_test(tc, conf_rejects_files_past_the_size_limit);
        suite_add_tcase(s, tc);

        tc = tcase_create("mock");
        tcase_add_checked_fixture(tc, mock_setup, mock_teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, mock_healthy_check_returns_brokers_topics_and_answering_node);
        tcase_add_test(tc, mock_min_isr_stays_unknown_with_a_note_when_describeconfigs_is_unsupported);
        tcase_add_test(tc, mock_check_fails_when_the_local_broker_is_down_while_others_answer);
        tcase_add_test(tc, mock_check_times_out_when_the_broker_answers_slower_than_the_timeout);
        tcase_add_test(tc, mock_check_reports_a_connection_dropped_at_the_first_request_then_recovers);
        tcase_add_test(tc, mock_topic_errors_in_metadata_are_reported_in_the_snapshot);
        tcase_add_test(tc, mock_check_fails_when_bootstrap_is_another_node_than_the_local_id);
        tcase_add_test(tc, mock_check_with_unknown_local_id_accepts_the_listener_and_names_its_node);
        tcase_add_test(tc, mock_check_reports_a_client_config_librdkafka_cannot_use);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return tu_run_suite(kafka_suite());
}
