/* Suites for the Kafka edge: client.properties parsing and checks against librdkafka's mock
 * cluster on loopback (the demo cluster). */
#include <dirent.h>
#include <check.h>
#include <sys/socket.h>
#include <pthread.h>
#include <poll.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fakecluster.h"
#include "faultdns.h"
#include "kpa/demo.h"
#include "kpa/kafka.h"
#include "kpa/log.h"
#include "kpa/parse.h"
#include "kpa/resolve.h"
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
                              "  security.protocol = SASL_PLAINTEXT\n"
                              "sasl.mechanism=PLAIN\r\n"
                              "sasl.username=admin\n"
                              "sasl.password=p=ss word\n"
                              "   \t\n"
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

/* librdkafka (rd_kafka_conf_set) and Java's Properties both drop the blanks at the start of a
 * value and keep those at its end: a password ending in spaces must reach the broker whole. */
START_TEST(conf_keeps_trailing_blanks_of_a_value_and_drops_leading_ones) {
        char eb[512] = "";
        struct kafka_conf *c = NULL;
        ck_assert_int_eq(load("sasl.password=  pw with spaces  \n"
                              "sasl.username=\tadmin\t\r\n"
                              "client.id=a\\b\n"
                              "bootstrap.servers=a:1\n", NULL, &c, eb, sizeof eb), 0);
        ck_assert_str_eq(kafka_conf_get(c, "sasl.password"), "pw with spaces  ");
        ck_assert_str_eq(kafka_conf_get(c, "sasl.username"), "admin\t");
        /* No escapes: a backslash is itself. */
        ck_assert_str_eq(kafka_conf_get(c, "client.id"), "a\\b");
        kafka_conf_free(c);
}
END_TEST

/* kpa-init writes client.properties and kpa-agent reads it: the two agree on every byte of a
 * password, blanks inside and at the end included. */
START_TEST(conf_reads_back_the_password_kpa_init_wrote) {
        char users[600], out[600], data[600], bin[600], e_users[700], e_out[700], e_data[700];
        snprintf(users, sizeof users, "%s/users", dir);
        snprintf(out, sizeof out, "%s/out", dir);
        snprintf(data, sizeof data, "%s/data", dir);
        ck_assert_int_eq(mkdir(users, 0700), 0);
        ck_assert_int_eq(mkdir(out, 0700), 0);
        ck_assert_int_eq(mkdir(data, 0700), 0);
        tu_write(users, "kafka", "a p\\ss=word \t \n");
        snprintf(bin, sizeof bin, "%s/kpa-init", tu_build_dir());
        snprintf(e_users, sizeof e_users, "KPA_SASL_USERS_DIR=%s", users);
        snprintf(e_out, sizeof e_out, "KPA_OUTPUT_DIR=%s", out);
        snprintf(e_data, sizeof e_data, "KPA_LOG_DIRS=%s", data);
        char *envp[] = { "POD_NAME=kafka-1", "POD_NAMESPACE=prod", "KPA_CLUSTER_ID=MkU3OEVBNTcwNTJENDM2Qg",
                         e_users, e_out, e_data, "KPA_SECURITY_PROTOCOL_MAP=INTERNAL:SASL_PLAINTEXT", NULL };
        char *argv[] = { bin, NULL };
        ck_assert_int_eq(tu_run(argv, envp, NULL, NULL), 0);
        char p[700], eb[512] = "";
        snprintf(p, sizeof p, "%s/client.properties", out);
        struct kafka_conf *c = NULL;
        ck_assert_msg(kafka_conf_load(p, NULL, &c, eb, sizeof eb) == 0, "%s", eb);
        ck_assert_str_eq(kafka_conf_get(c, "sasl.password"), "a p\\ss=word \t ");
        ck_assert_str_eq(kafka_conf_get(c, "sasl.username"), "kafka");
        kafka_conf_free(c);
}
END_TEST

START_TEST(conf_rejects_a_carriage_return_inside_a_line) {
        /* Java would end the line there and read another value. */
        expect_error("sasl.password=ab\rcd\n", -EINVAL, ":1: carriage return inside the line");
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
        expect_error("# c\nssl ca=x\n", -EINVAL, ":2: space inside key \"ssl ...\"");
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

START_TEST(conf_rejects_keys_the_agent_sets_and_keys_that_run_code) {
        expect_error("bootstrap.servers=a:1\nenable.sparse.connections=false\n", -EINVAL,
                     ":2: enable.sparse.connections is set by kpa-agent");
        /* librdkafka would load the library the moment the property is set. */
        expect_error("bootstrap.servers=a:1\nplugin.library.paths=/tmp/evil.so\n", -EINVAL,
                     ":2: plugin.library.paths is not allowed: librdkafka would load that "
                     "library into kpa-agent");
        expect_error("ssl.engine.location=/tmp/evil.so\n", -EINVAL,
                     ":1: ssl.engine.location is not allowed: librdkafka would load that "
                     "library into kpa-agent");
        /* ... or run the command (through /bin/sh) whenever a client is made. */
        expect_error("bootstrap.servers=a:1\nsasl.mechanism=GSSAPI\n"
                     "sasl.kerberos.kinit.cmd=touch /tmp/pwned\n", -EINVAL,
                     ":3: sasl.kerberos.kinit.cmd is not allowed: librdkafka would run that "
                     "command at every check");
}
END_TEST

START_TEST(conf_refuses_a_key_store_beside_another_client_certificate) {
        /* kpa-agent hands librdkafka the store's certificate and key itself (see kafka.c):
         * a second certificate or key, which librdkafka would let the store override, is a
         * mistake to report, not to guess about. */
        const char *others[] = { "ssl.certificate.location", "ssl.certificate.pem", "ssl.key.location",
                                 "ssl.key.pem" };
        for (size_t i = 0; i < sizeof others / sizeof *others; i++) {
                char props[512], want[300];
                snprintf(props, sizeof props, "bootstrap.servers=a:1\nsecurity.protocol=SASL_SSL\n"
                         "ssl.keystore.location=/k.p12\nssl.keystore.password=pw\n%s=x\n", others[i]);
                snprintf(want, sizeof want, ": ssl.keystore.location and %s are both set (expected one "
                         "client certificate)", others[i]);
                expect_error(props, -EINVAL, want);
        }
        /* Without TLS librdkafka reads none of them: the file is accepted as it was. */
        char eb[512];
        struct kafka_conf *c = NULL;
        ck_assert_msg(load("bootstrap.servers=a:1\nsecurity.protocol=plaintext\nssl.keystore.location=/k.p12\n"
                           "ssl.certificate.location=/c.pem\n", NULL, &c, eb, sizeof eb) == 0, "%s", eb);
        ck_assert(!kafka_conf_tls(c));
        kafka_conf_free(c);
        ck_assert_msg(load("bootstrap.servers=a:1\nsecurity.protocol=ssl\nssl.keystore.location=/k.p12\n",
                           NULL, &c, eb, sizeof eb) == 0, "%s", eb);
        ck_assert(kafka_conf_tls(c));
        kafka_conf_free(c);
}
END_TEST

START_TEST(conf_errors_never_quote_a_value) {
        /* librdkafka's own messages for these quote the value ("Invalid value \"bogus\" ...",
         * "value 99999999 is outside allowed range"): replaced. */
        expect_error("security.protocol=bogus\n", -EINVAL,
                     ":1: librdkafka refuses the value of security.protocol (not shown)");
        expect_error("socket.timeout.ms=99999999\n", -EINVAL,
                     ":1: librdkafka refuses the value of socket.timeout.ms (not shown)");
        expect_error("compression.codec=zstd-ish\n", -EINVAL,
                     ":1: librdkafka refuses the value of compression.codec (not shown)");
        /* Those that cannot show the value are kept: they say what is expected. */
        expect_error("enable.idempotence=maybe\n", -EINVAL,
                     ":1: Expected bool value for \"enable.idempotence\": true or false");
        /* A malformed line may hold a password: messages name the line and the key only. */
        expect_error("sasl.password hunter2\n", -EINVAL, ":1: expected key=value");
        expect_error("sasl password=hunter2\n", -EINVAL,
                     ":1: space inside key \"sasl ...\"");
        expect_error("sasl.password hunter2=x\n", -EINVAL,
                     ":1: space inside key \"sasl.password ...\"");
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

START_TEST(redact_hides_values_of_the_file_in_librdkafka_texts) {
        char eb[512] = "", out[256];
        struct kafka_conf *c = NULL;
        ck_assert_int_eq(load("bootstrap.servers=kafka-0:9092\nsecurity.protocol=plaintext\n"
                              "sasl.mechanism=PLAIN\nsasl.username=ab\nsasl.password=hunter2  \n"
                              "socket.timeout.ms=10000\n", NULL, &c, eb, sizeof eb), 0);
        /* librdkafka's own warning, repeated at every check before: the mechanism is hidden. */
        kafka_conf_redact(c, "Configuration property `sasl.mechanism` set to `PLAIN` but "
                          "`security.protocol` is not configured for SASL: recommend setting "
                          "`security.protocol` to SASL_SSL or SASL_PLAINTEXT", out, sizeof out);
        ck_assert_str_eq(out, "Configuration property `sasl.mechanism` set to `(value hidden)` but "
                              "`security.protocol` is not configured for SASL: recommend setting "
                              "`security.protocol` to SASL_SSL or SASL_PLAINTEXT");
        /* A secret is hidden inside a word too. */
        kafka_conf_redact(c, "xhunter2  y", out, sizeof out);
        ck_assert_str_eq(out, "x(value hidden)y");
        /* Secrets whatever their length; numbers and the bootstrap address are shown. */
        kafka_conf_redact(c, "user ab pw hunter2   at kafka-0:9092 after 10000ms", out, sizeof out);
        ck_assert_str_eq(out, "user (value hidden) pw (value hidden) at kafka-0:9092 after 10000ms");
        /* Cut to fit, terminated. */
        kafka_conf_redact(c, "hunter2  hunter2  ", out, 10);
        ck_assert_str_eq(out, "(value hi");
        kafka_conf_free(c);
}
END_TEST

START_TEST(a_repeated_librdkafka_line_is_logged_once_per_configuration) {
        char eb[512] = "";
        struct kafka_conf *c = NULL;
        ck_assert_int_eq(load("bootstrap.servers=a:1\n", NULL, &c, eb, sizeof eb), 0);
        ck_assert(kafka_conf_log_once(c, "Connect to ipv4#10.0.0.1:9092 failed (after 0ms)", 1000));
        /* The same event with other numbers, or a suppressed-repeats count, is the same line. */
        ck_assert(!kafka_conf_log_once(c, "Connect to ipv4#10.0.0.1:9092 failed (after 12ms)", 2000));
        ck_assert(!kafka_conf_log_once(c, "Connect to ipv4#10.0.0.1:9092 failed (after 3ms, "
                                       "1 identical error(s) suppressed)", 3000));
        ck_assert(kafka_conf_log_once(c, "Connect to ipv4#10.0.0.1:9092 failed: other", 3000));
        /* Again after an hour. */
        ck_assert(kafka_conf_log_once(c, "Connect to ipv4#10.0.0.1:9092 failed (after 0ms)",
                                      1000 + KAFKA_CONF_SEEN_AGAIN_MS));
        /* A bounded memory: past KAFKA_CONF_SEEN_MAX lines the oldest is forgotten. */
        char line[64];
        for (int i = 0; i < KAFKA_CONF_SEEN_MAX; i++) {
                snprintf(line, sizeof line, "line %c%c", 'a' + i % 26, 'a' + i / 26);
                ck_assert(kafka_conf_log_once(c, line, 5000000 + (uint64_t) i));
        }
        ck_assert(kafka_conf_log_once(c, "Connect to ipv4#10.0.0.1:9092 failed: other", 6000000));
        kafka_conf_free(c);
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

/* The threads of this process, from /proc/self/task. */
static int thread_count(void) {
        DIR *d = opendir("/proc/self/task");
        int n = 0;
        ck_assert_ptr_nonnull(d);
        for (struct dirent *e; (e = readdir(d));)
                if (e->d_name[0] != '.')
                        n++;
        closedir(d);
        return n;
}

/* `kpa-agent check` exits right after its one check: a client-destroying or name-resolving
 * thread that has only signalled its end may still hold per-thread state (OpenSSL's error
 * queue) at that exit. So every thread a check starts has ended, joined, when it returns. */
START_TEST(mock_a_check_leaves_no_thread_behind_when_it_returns) {
        struct kafka_client *kc = client_for(demo_bootstrap(demo), 1, 5000);
        struct kafka_result r;
        kafka_check(kc, false, &r);
        assert_ok(&r);
        r.snap = snapshot_free(r.snap);
        int before = thread_count();
        for (int i = 0; i < 30; i++) {
                kafka_check(kc, false, &r);
                assert_ok(&r);
                r.snap = snapshot_free(r.snap);
                ck_assert_int_eq(thread_count(), before);
        }
        ck_assert_int_eq(kafka_stopping_handles(), 0);
        kafka_client_free(kc);
}
END_TEST

START_TEST(mock_min_isr_stays_unknown_with_a_note_when_describeconfigs_is_unsupported) {
        struct kafka_client *kc = client_for(demo_bootstrap(demo), 1, 5000);
        struct kafka_result r;
        kafka_check(kc, false, &r);
        assert_ok(&r);
        ck_assert(r.configs_fetched);
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
        ck_assert_msg(strstr(r.error, "; hint: nothing accepts connections there yet: Kafka 4.x "
                             "opens the listener only once the broker is unfenced (registered "
                             "with the controllers and caught up with the metadata log), normal "
                             "during start-up; if it lasts, see the broker's log and check "
                             "--bootstrap"), "%s", r.error);
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

/* The port of "127.0.0.1:PORT". */
static int port_of(const char *addr) {
        char host[PARSE_HOST_MAX];
        uint16_t port = 0;
        ck_assert_int_eq(parse_hostport(addr, 0, host, sizeof host, &port), 0);
        return port;
}

START_TEST(mock_check_refuses_another_broker_however_the_bootstrap_is_spelled) {
        /* librdkafka names the answering node only when the bootstrap is spelled as the node
         * advertises itself (127.0.0.1:P); spelled localhost:P the node was unknown and the
         * answer of broker 2 counted as broker 1's. */
        char bs[64], want[300];
        snprintf(bs, sizeof bs, "localhost:%d", port_of(demo_broker_address(demo, 2)));
        struct kafka_client *kc = client_for(bs, 1, 5000);
        struct kafka_result r;
        kafka_check(kc, false, &r);
        ck_assert_int_eq(r.rc, -EPROTO);
        ck_assert_ptr_null(r.snap);
        snprintf(want, sizeof want, "the listener %s is node 2, not the local node 1: --bootstrap "
                 "points at another broker", bs);
        ck_assert_str_eq(r.error, want);
        kafka_client_free(kc);

        /* The same spelling for the local broker itself is fine. */
        snprintf(bs, sizeof bs, "localhost:%d", port_of(demo_broker_address(demo, 1)));
        kc = client_for(bs, 1, 5000);
        kafka_check(kc, false, &r);
        assert_ok(&r);
        ck_assert_int_eq(r.snap->answered_by, 1);
        snapshot_free(r.snap);
        kafka_client_free(kc);

        /* Without a local id the answering node is named all the same. */
        snprintf(bs, sizeof bs, "localhost:%d", port_of(demo_broker_address(demo, 3)));
        kc = client_for(bs, -1, 5000);
        kafka_check(kc, false, &r);
        assert_ok(&r);
        ck_assert_int_eq(r.snap->answered_by, 3);
        snapshot_free(r.snap);
        kafka_client_free(kc);
}
END_TEST

/* A TCP forwarder from a port of its own to target: a listener no broker advertises. */
struct forwarder {
        int listen_fd, port, target;
};

static void *pump(void *arg) {
        int *fds = arg, a = fds[0], b = fds[1];
        free(fds);
        struct pollfd p[2] = { { a, POLLIN, 0 }, { b, POLLIN, 0 } };
        char buf[16384];
        while (poll(p, 2, -1) > 0) {
                int from = p[0].revents ? 0 : 1;
                ssize_t n = read(p[from].fd, buf, sizeof buf);
                if (n <= 0 || write(p[1 - from].fd, buf, (size_t) n) != n)
                        break;
        }
        close(a);
        close(b);
        return NULL;
}

static void *forward_loop(void *arg) {
        struct forwarder *f = arg;
        for (;;) {
                int c = accept(f->listen_fd, NULL, NULL);
                if (c < 0)
                        return NULL;
                int t = socket(AF_INET, SOCK_STREAM, 0);
                struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t) f->target),
                                           .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
                if (t < 0 || connect(t, (struct sockaddr *) &sin, sizeof sin) < 0) {
                        close(c);
                        if (t >= 0)
                                close(t);
                        continue;
                }
                int *fds = malloc(2 * sizeof *fds);
                fds[0] = c;
                fds[1] = t;
                pthread_t th;
                pthread_create(&th, NULL, pump, fds);
                pthread_detach(th);
        }
}

static void forwarder_start(struct forwarder *f, int target) {
        f->target = target;
        f->listen_fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t sl = sizeof sin;
        ck_assert(f->listen_fd >= 0 && bind(f->listen_fd, (struct sockaddr *) &sin, sizeof sin) == 0 &&
                  listen(f->listen_fd, 16) == 0 &&
                  getsockname(f->listen_fd, (struct sockaddr *) &sin, &sl) == 0);
        f->port = ntohs(sin.sin_port);
        pthread_t th;
        ck_assert_int_eq(pthread_create(&th, NULL, forward_loop, f), 0);
        pthread_detach(th);
}

START_TEST(mock_check_fails_closed_when_no_broker_is_the_listener) {
        /* A port-forward to broker 1: it answers, but its address is no broker's, so nothing
         * proves which node answered. */
        static struct forwarder f;
        forwarder_start(&f, port_of(demo_broker_address(demo, 1)));
        char bs[64], want[400];
        snprintf(bs, sizeof bs, "127.0.0.1:%d", f.port);
        struct kafka_client *kc = client_for(bs, 1, 5000);
        struct kafka_result r;
        kafka_check(kc, false, &r);
        ck_assert_int_eq(r.rc, -EPROTO);
        snprintf(want, sizeof want, "cannot tell which node answered at %s: it is no broker's advertised "
                 "address and does not resolve to one; the local node 1 advertises %s: use that as "
                 "--bootstrap", bs, demo_broker_address(demo, 1));
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

/* ---- checks against the fake cluster (tests/fakebroker: DescribeConfigs as Kafka answers it) */

static struct fakecluster *fake;

static void fake_setup(void) {
        char eb[512];
        log_setup("check_kafka", LOG_LEVEL_WARN);
        /* orders has a replica on every broker; solo only on broker 0. */
        const char *args[] = { "--brokers", "3", "--topic", "orders:6:3:2", "--topic", "solo:1:1",
                               "--min-isr", "2", NULL };
        ck_assert_msg(fc_start(args, &fake, eb, sizeof eb) == 0, "%s", eb);
}

static void fake_teardown(void) { fake = fc_stop(fake); }

static struct kafka_client *client_on_fake(int32_t id, uint64_t timeout_ms) {
        char bs[64];
        snprintf(bs, sizeof bs, "127.0.0.1:%d", fc_port(fake, id));
        return client_for(bs, id, timeout_ms);
}

START_TEST(fake_describeconfigs_asks_the_local_node_for_min_insync_replicas_only) {
        struct kafka_client *kc = client_on_fake(1, 5000);
        struct kafka_result r;
        kafka_check(kc, true, &r);
        assert_ok(&r);
        ck_assert(r.configs_fetched);
        ck_assert_int_eq(find_topic(r.snap, "orders")->min_isr, 2);
        snapshot_free(r.snap);

        char eb[512];
        cJSON *log = NULL;
        ck_assert_msg(fc_cmd(fake, "{\"op\":\"describe_configs_log\"}", &log, eb, sizeof eb) == 0,
                      "%s", eb);
        cJSON *reqs = cJSON_GetObjectItemCaseSensitive(log, "requests");
        ck_assert_int_eq(cJSON_GetArraySize(reqs), 1);
        cJSON *req = cJSON_GetArrayItem(reqs, 0);
        ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(req, "broker")->valueint, 1);
        /* The BROKER resource of node 1 (type 4) and the one topic it hosts (type 2), each
         * asking for exactly one key: solo lives on broker 0 only. */
        cJSON *res = cJSON_GetObjectItemCaseSensitive(req, "resources");
        ck_assert_int_eq(cJSON_GetArraySize(res), 2);
        char *got = cJSON_PrintUnformatted(res);
        ck_assert_str_eq(got, "[{\"type\":4,\"name\":\"1\",\"keys\":[\"min.insync.replicas\"]},"
                              "{\"type\":2,\"name\":\"orders\",\"keys\":[\"min.insync.replicas\"]}]");
        free(got);
        cJSON_Delete(log);
        kafka_client_free(kc);
}
END_TEST

/* librdkafka warns about the configuration at every client it makes, so at every check, and
 * quotes a value in doing so: logged once, with the value hidden. */
START_TEST(mock_a_configuration_warning_is_logged_once_without_its_value) {
        char *d = tu_mkdtemp(), p[600], eb[512], logpath[600];
        snprintf(p, sizeof p, "%s/client.properties", d);
        snprintf(logpath, sizeof logpath, "%s/stderr", d);
        tu_write(d, "client.properties", "security.protocol=plaintext\nsasl.mechanism=PLAIN\n");
        struct kafka_conf *c = NULL;
        struct kafka_client *kc = NULL;
        ck_assert_msg(kafka_conf_load(p, demo_bootstrap(demo), &c, eb, sizeof eb) == 0, "%s", eb);
        ck_assert_int_eq(kafka_client_new(c, &(struct kafka_client_opts){ .timeout_ms = 5000,
                                          .local_id = 1 }, &kc, eb, sizeof eb), 0);
        log_setup("check_kafka", LOG_LEVEL_INFO);
        fflush(stderr);
        int saved = dup(2), fd = open(logpath, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        ck_assert(saved >= 0 && fd >= 0 && dup2(fd, 2) == 2);
        for (int i = 0; i < 3; i++) {
                struct kafka_result r;
                kafka_check(kc, false, &r);
                assert_ok(&r);
                snapshot_free(r.snap);
        }
        fflush(stderr);
        dup2(saved, 2);
        close(fd);
        close(saved);
        char *text = tu_read(d, "stderr");
        ck_assert_ptr_nonnull(text);
        int warnings = 0;
        for (const char *q = text; (q = strstr(q, "Configuration property `sasl.mechanism` set to "));
             q++)
                warnings++;
        ck_assert_msg(warnings == 1, "%d warnings in:\n%s", warnings, text);
        ck_assert_ptr_nonnull(strstr(text, "set to `(value hidden)` but `security.protocol`"));
        ck_assert_msg(!strstr(text, "`PLAIN`") && !strstr(text, " PLAIN"), "%s", text);
        free(text);
        kafka_client_free(kc);
        tu_rmtree(d);
        free(d);
}
END_TEST

/* ---- a DNS server that never answers (faultdns.h: namespaces of the test's own) ------------ */

#define DNS_TIMEOUT_MS 1000
/* The bound a check must keep: its timeout, the teardown grace, and slack for a loaded
 * 2-core machine under ASan. Without the bound a check waited for the resolver's 30 s. */
#define DNS_BOUND_MS (DNS_TIMEOUT_MS + KAFKA_TEARDOWN_GRACE_MS + 1500)

static struct kafka_client *client_for_name(const char *bootstrap) {
        return client_for(bootstrap, 1, DNS_TIMEOUT_MS);
}

/* The lookup gets what is left of the check's deadline: 1000 ms, or a millisecond or a few
 * less when the clock ticked between the check's start and the lookup (a loaded machine). */
static void assert_dns_timeout(const char *error) {
        static const char head[] = "local broker kafka-1.kafka-headless.silent.test:9092 did not answer "
                                   "within 1000ms: cannot resolve kafka-1.kafka-headless.silent.test: "
                                   "no answer within ";
        static const char tail[] = "ms; hint: the DNS server did not answer in time: check the pod's DNS "
                                   "(its /etc/resolv.conf and the cluster DNS)";
        ck_assert_msg(strncmp(error, head, sizeof head - 1) == 0, "%s", error);
        char *end;
        unsigned long ms = strtoul(error + sizeof head - 1, &end, 10);
        ck_assert_msg(ms >= 900 && ms <= 1000 && strcmp(end, tail) == 0, "%s", error);
}

START_TEST(check_is_bounded_when_dns_never_answers) {
        tu_dns_isolate(0);
        log_setup("check_kafka", LOG_LEVEL_WARN);
        struct kafka_client *kc = client_for_name("kafka-1.kafka-headless.silent.test:9092");
        for (int i = 0; i < RESOLVE_MAX_PENDING + 1; i++) {
                struct kafka_result r;
                kafka_check(kc, false, &r);
                ck_assert_int_eq(r.rc, -ETIMEDOUT);
                ck_assert_ptr_null(r.snap);
                ck_assert_msg(r.finished_ms - r.started_ms <= DNS_BOUND_MS, "check %d took %llums", i,
                              (unsigned long long) (r.finished_ms - r.started_ms));
                if (i < RESOLVE_MAX_PENDING)
                        assert_dns_timeout(r.error);
                else    /* Lookups still hanging are not piled up: this one fails at once. */
                        ck_assert_msg(strstr(r.error, "cannot resolve kafka-1.kafka-headless.silent.test: 4 "
                                             "earlier lookups are still waiting for an answer"), "%s", r.error);
        }
        ck_assert_int_eq(resolve_pending(), RESOLVE_MAX_PENDING);
        kafka_client_free(kc);
}
END_TEST

START_TEST(check_is_bounded_when_librdkafkas_own_lookup_hangs) {
        /* The agent's own lookup (A and AAAA) is answered; the same lookup by librdkafka's
         * broker thread right after is not, so rd_kafka_destroy() would wait 30 s for it. */
        tu_dns_isolate(2);
        log_setup("check_kafka", LOG_LEVEL_WARN);
        struct kafka_client *kc = client_for_name("kafka-1.kafka-headless.silent.test:9092");
        struct kafka_result r;
        kafka_check(kc, false, &r);
        ck_assert_int_eq(r.rc, -ETIMEDOUT);
        ck_assert_msg(r.finished_ms - r.started_ms <= DNS_BOUND_MS, "took %llums",
                      (unsigned long long) (r.finished_ms - r.started_ms));
        ck_assert_int_ge(tu_dns_queries(), 3);
        ck_assert_msg(strstr(r.error, " (its client is still stopping in the background: librdkafka is "
                             "blocked, e.g. in a name lookup)"), "%s", r.error);
        ck_assert_int_eq(kafka_stopping_handles(), 1);
        kafka_client_free(kc);
}
END_TEST

static Suite *kafka_suite(void) {
        Suite *s = suite_create("kafka");
        TCase *tc = tcase_create("conf");
        tcase_add_checked_fixture(tc, conf_setup, conf_teardown);
        tcase_add_test(tc, conf_reads_keys_values_comments_and_blank_lines);
        tcase_add_test(tc, conf_keeps_trailing_blanks_of_a_value_and_drops_leading_ones);
        tcase_add_test(tc, conf_rejects_a_carriage_return_inside_a_line);
        tcase_add_test(tc, conf_reads_back_the_password_kpa_init_wrote);
        tcase_add_test(tc, conf_bootstrap_override_replaces_the_file_value);
        tcase_add_test(tc, conf_rejects_a_line_without_equals_with_file_and_line);
        tcase_add_test(tc, conf_rejects_empty_and_spaced_keys);
        tcase_add_test(tc, conf_rejects_duplicate_keys);
        tcase_add_test(tc, conf_rejects_properties_librdkafka_does_not_know);
        tcase_add_test(tc, conf_rejects_keys_the_agent_sets_and_keys_that_run_code);
        tcase_add_test(tc, conf_refuses_a_key_store_beside_another_client_certificate);
        tcase_add_test(tc, conf_errors_never_quote_a_value);
        tcase_add_test(tc, conf_requires_exactly_one_bootstrap_listener);
        tcase_add_test(tc, conf_rejects_files_past_the_size_limit);
        tcase_add_test(tc, redact_hides_values_of_the_file_in_librdkafka_texts);
        tcase_add_test(tc, a_repeated_librdkafka_line_is_logged_once_per_configuration);
        suite_add_tcase(s, tc);

        tc = tcase_create("mock");
        tcase_add_checked_fixture(tc, mock_setup, mock_teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, mock_healthy_check_returns_brokers_topics_and_answering_node);
        tcase_add_test(tc, mock_a_check_leaves_no_thread_behind_when_it_returns);
        tcase_add_test(tc, mock_min_isr_stays_unknown_with_a_note_when_describeconfigs_is_unsupported);
        tcase_add_test(tc, mock_check_fails_when_the_local_broker_is_down_while_others_answer);
        tcase_add_test(tc, mock_check_times_out_when_the_broker_answers_slower_than_the_timeout);
        tcase_add_test(tc, mock_check_reports_a_connection_dropped_at_the_first_request_then_recovers);
        tcase_add_test(tc, mock_topic_errors_in_metadata_are_reported_in_the_snapshot);
        tcase_add_test(tc, mock_check_fails_when_bootstrap_is_another_node_than_the_local_id);
        tcase_add_test(tc, mock_check_with_unknown_local_id_accepts_the_listener_and_names_its_node);
        tcase_add_test(tc, mock_check_refuses_another_broker_however_the_bootstrap_is_spelled);
        tcase_add_test(tc, mock_check_fails_closed_when_no_broker_is_the_listener);
        tcase_add_test(tc, mock_check_reports_a_client_config_librdkafka_cannot_use);
        tcase_add_test(tc, mock_a_configuration_warning_is_logged_once_without_its_value);
        suite_add_tcase(s, tc);

        tc = tcase_create("dns");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, check_is_bounded_when_dns_never_answers);
        tcase_add_test(tc, check_is_bounded_when_librdkafkas_own_lookup_hangs);
        suite_add_tcase(s, tc);

        tc = tcase_create("fake");
        tcase_add_checked_fixture(tc, fake_setup, fake_teardown);
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, fake_describeconfigs_asks_the_local_node_for_min_insync_replicas_only);
        suite_add_tcase(s, tc);
        return s;
}

int main(void) {
        return tu_run_suite(kafka_suite());
}
