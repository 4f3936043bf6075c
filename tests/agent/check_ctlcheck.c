/* Suite for a controller-only node's check (agent/ctlcheck.c) against the fake quorum
 * (fakequorum.h): who is asked and in which order, what a silent or refusing controller costs,
 * what is reported when no leader answers; the parsing of the controllers from
 * server.properties; and the mapping of client.properties to the transport's settings,
 * including every setting it refuses rather than ignore. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fakequorum.h"
#include "kpa/ctlcheck.h"
#include "testutil.h"

static struct kafka_conf *conf_of(const char *text, const char *bootstrap) {
        char *dir = tu_mkdtemp(), path[600], err[512];
        tu_write(dir, "client.properties", text);
        snprintf(path, sizeof path, "%s/client.properties", dir);
        struct kafka_conf *c = NULL;
        ck_assert_msg(kafka_conf_load(path, bootstrap, &c, err, sizeof err) == 0, "%s", err);
        tu_rmtree(dir);
        free(dir);
        return c;
}

/* A check for node `local` of the fake quorum, plaintext. */
static struct ctlcheck *check_for(struct fq *q, int local, uint64_t timeout_ms, struct ctlcheck_endpoints *eps) {
        char voters[512], boot[64], err[512];
        fq_voters(q, voters, sizeof voters);
        ck_assert_int_eq(ctlcheck_parse_endpoints(voters, NULL, eps, err, sizeof err), 0);
        snprintf(boot, sizeof boot, "127.0.0.1:%d", q->nodes[local].port);
        struct ctlcheck_opts o = { .local_id = q->nodes[local].id, .timeout_ms = timeout_ms, .peers = eps };
        struct ctlcheck *c = NULL;
        ck_assert_msg(ctlcheck_new(conf_of("security.protocol=plaintext\n", boot), &o, &c, err, sizeof err) == 0, "%s", err);
        return c;
}

static int accepted(struct fq *q, int i) { return atomic_load(&q->nodes[i].accepted); }

START_TEST(ctlcheck_leader_answers_for_itself_in_one_connection) {
        static struct fq q;
        static struct ctlcheck_result r;
        struct ctlcheck_endpoints eps;
        fq_start(&q, 3, 0, 1);
        struct ctlcheck *c = check_for(&q, 1, 3000, &eps);
        ctlcheck_run(c, &r);
        ck_assert_int_eq(r.rc, 0);
        ck_assert_str_eq(r.error, "");
        ck_assert(r.have_leader);
        ck_assert_int_eq(r.leader.leader_id, 1);
        ck_assert_int_eq(r.leader.n_voters, 3);
        ck_assert_str_eq(r.leader_error, "");
        ck_assert_int_eq(accepted(&q, 0) + accepted(&q, 1) + accepted(&q, 2), 1);
        ctlcheck_free(c);
        fq_stop(&q);
}
END_TEST

START_TEST(ctlcheck_follower_finds_the_leader_then_asks_it_first) {
        static struct fq q;
        static struct ctlcheck_result r;
        struct ctlcheck_endpoints eps;
        fq_start(&q, 3, 0, 2);
        struct ctlcheck *c = check_for(&q, 1, 3000, &eps);
        ctlcheck_run(c, &r);
        ck_assert_int_eq(r.rc, 0);
        ck_assert(r.have_leader);
        ck_assert_int_eq(r.leader.leader_id, 2);
        char want[64];
        snprintf(want, sizeof want, "127.0.0.1:%d", q.nodes[2].port);
        ck_assert_str_eq(r.leader_endpoint, want);
        /* Listed order: the local node, then 0 (not the leader), then 2. */
        ck_assert_int_eq(accepted(&q, 1), 1);
        ck_assert_int_eq(accepted(&q, 0), 1);
        ck_assert_int_eq(accepted(&q, 2), 1);
        /* The next check asks the last leader right after the local node. */
        ctlcheck_run(c, &r);
        ck_assert(r.have_leader);
        ck_assert_int_eq(accepted(&q, 0), 1);
        ck_assert_int_eq(accepted(&q, 2), 2);
        /* Leadership moves to 0: the hint misses once, then 0 answers. */
        fq_lock(&q);
        q.leader = q.claimed_leader = 0;
        fq_unlock(&q);
        ctlcheck_run(c, &r);
        ck_assert(r.have_leader);
        ck_assert_int_eq(r.leader.leader_id, 0);
        ck_assert_int_eq(accepted(&q, 2), 3);
        ck_assert_int_eq(accepted(&q, 0), 2);
        ctlcheck_free(c);
        fq_stop(&q);
}
END_TEST

START_TEST(ctlcheck_local_controller_down_still_reads_the_quorum) {
        static struct fq q;
        static struct ctlcheck_result r;
        struct ctlcheck_endpoints eps;
        fq_start(&q, 3, 0, 0);
        fq_set_mode(&q, 1, FQ_DOWN);
        struct ctlcheck *c = check_for(&q, 1, 3000, &eps);
        ctlcheck_run(c, &r);
        ck_assert_int_eq(r.rc, -ECONNREFUSED);
        char want[256];
        snprintf(want, sizeof want, "cannot connect to 127.0.0.1:%d: Connection refused; hint: nothing listens there: "
                 "is the controller running, and is this its controller listener?", q.nodes[1].port);
        ck_assert_str_eq(r.error, want);
        ck_assert(r.have_leader);
        ck_assert_int_eq(r.leader.leader_id, 0);
        ctlcheck_free(c);
        fq_stop(&q);
}
END_TEST

START_TEST(ctlcheck_silent_controller_costs_only_its_share_of_the_deadline) {
        static struct fq q;
        static struct ctlcheck_result r;
        struct ctlcheck_endpoints eps;
        fq_start(&q, 3, 0, 2);
        fq_set_mode(&q, 0, FQ_SILENT);
        struct ctlcheck *c = check_for(&q, 1, 2000, &eps);
        ctlcheck_run(c, &r);
        ck_assert(r.have_leader);
        ck_assert_int_eq(r.leader.leader_id, 2);
        /* 0 had half of what was left after the local node (about 1s of 2s). */
        uint64_t took = r.finished_ms - r.started_ms;
        ck_assert_msg(took >= 900 && took < 2000, "took %llu ms", (unsigned long long) took);
        ctlcheck_free(c);
        fq_stop(&q);
}
END_TEST

START_TEST(ctlcheck_no_leader_names_every_controller_asked) {
        static struct fq q;
        static struct ctlcheck_result r;
        struct ctlcheck_endpoints eps;
        fq_start(&q, 3, 0, -1);
        fq_set_mode(&q, 2, FQ_DOWN);
        struct ctlcheck *c = check_for(&q, 1, 3000, &eps);
        ctlcheck_run(c, &r);
        ck_assert_int_eq(r.rc, 0);
        ck_assert(!r.have_leader);
        char want[512];
        snprintf(want, sizeof want, "127.0.0.1:%d (this node) answered NOT_LEADER_OR_FOLLOWER (6); 127.0.0.1:%d answered "
                 "NOT_LEADER_OR_FOLLOWER (6); cannot connect to 127.0.0.1:%d: Connection refused",
                 q.nodes[1].port, q.nodes[0].port, q.nodes[2].port);
        ck_assert_str_eq(r.leader_error, want);
        ctlcheck_free(c);
        fq_stop(&q);
}
END_TEST

START_TEST(ctlcheck_local_listener_answering_as_another_leader_is_refused) {
        static struct fq q;
        static struct ctlcheck_result r;
        struct ctlcheck_endpoints eps;
        fq_start(&q, 3, 0, 1);
        fq_lock(&q);
        q.claimed_leader = 2;                /* the node at the local address says it is 2 */
        fq_unlock(&q);
        struct ctlcheck *c = check_for(&q, 1, 3000, &eps);
        ctlcheck_run(c, &r);
        ck_assert_int_eq(r.rc, -EPROTO);
        char want[256];
        snprintf(want, sizeof want, "the local listener 127.0.0.1:%d answered as the quorum leader 2, but this is node 1: "
                 "is bootstrap.servers this controller's own listener?", q.nodes[1].port);
        ck_assert_str_eq(r.error, want);
        ctlcheck_free(c);
        fq_stop(&q);
}
END_TEST

START_TEST(ctlcheck_parses_voters_and_bootstrap_servers) {
        struct ctlcheck_endpoints e;
        char err[512];
        ck_assert_int_eq(ctlcheck_parse_endpoints("3000@ctl-0.kq:9093, 3001@[fd00::1]:9093 ,3002@ctl-2.kq:9094", NULL, &e, err, sizeof err), 0);
        ck_assert_int_eq(e.n, 3);
        ck_assert_int_eq(e.v[0].id, 3000);
        ck_assert_str_eq(e.v[0].host, "ctl-0.kq");
        ck_assert_int_eq(e.v[0].port, 9093);
        ck_assert_str_eq(e.v[1].host, "fd00::1");
        ck_assert_int_eq(e.v[2].port, 9094);
        ck_assert_int_eq(ctlcheck_parse_endpoints(NULL, "ctl-0.kq:9093,ctl-1.kq:9093", &e, err, sizeof err), 0);
        ck_assert_int_eq(e.n, 2);
        ck_assert_int_eq(e.v[1].id, -1);

        ck_assert_int_eq(ctlcheck_parse_endpoints("ctl-0.kq:9093", NULL, &e, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "controller.quorum.voters entry \"ctl-0.kq:9093\" is not id@host:port");
        ck_assert_int_eq(ctlcheck_parse_endpoints("x@ctl-0.kq:9093", NULL, &e, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "controller.quorum.voters entry \"x@ctl-0.kq:9093\" is not id@host:port");
        ck_assert_int_eq(ctlcheck_parse_endpoints("0@ctl-0.kq", NULL, &e, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "controller.quorum.voters entry \"ctl-0.kq\" is not id@host:port (IPv6 as [addr]:port)");
        ck_assert_int_eq(ctlcheck_parse_endpoints(NULL, "a:1,,b:2", &e, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "controller.quorum.bootstrap.servers entry \"\" is not host:port (IPv6 as [addr]:port)");
        ck_assert_int_eq(ctlcheck_parse_endpoints(NULL, NULL, &e, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "neither controller.quorum.voters nor controller.quorum.bootstrap.servers is set");
        char many[65 * 16 + 1] = "";
        for (int i = 0; i < 65; i++)
                snprintf(many + strlen(many), sizeof many - strlen(many), "%s%d@h:1", i ? "," : "", i);
        ck_assert_int_eq(ctlcheck_parse_endpoints(many, NULL, &e, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "controller.quorum.voters lists more than 64 controllers");
}
END_TEST

START_TEST(ctlcheck_security_follows_what_kpa_init_writes) {
        struct kconn_security s;
        char err[512];
        /* kpa-init's client.properties of a controller-only node with SASL_SSL and mTLS. */
        struct kafka_conf *c = conf_of("bootstrap.servers=ctl-1.kq:9093\nsecurity.protocol=sasl_ssl\n"
                                       "ssl.ca.location=/etc/kafka/kpa/ca.pem\nssl.keystore.location=/etc/kafka/kpa/keystore.p12\n"
                                       "ssl.keystore.password=storepw\nsasl.mechanism=PLAIN\nsasl.username=kafka\n"
                                       "sasl.password=pw\n", NULL);
        ck_assert_int_eq(ctlcheck_security(c, &s, err, sizeof err), 0);
        ck_assert(s.tls && s.sasl_plain && !s.skip_verify && !s.skip_hostname);
        ck_assert_str_eq(s.ca_file, "/etc/kafka/kpa/ca.pem");
        ck_assert_str_eq(s.keystore_p12, "/etc/kafka/kpa/keystore.p12");
        ck_assert_str_eq(s.keystore_password, "storepw");
        ck_assert_str_eq(s.sasl_user, "kafka");
        ck_assert_str_eq(s.sasl_password, "pw");
        kafka_conf_free(c);

        c = conf_of("security.protocol=SSL\nssl.endpoint.identification.algorithm=none\n"
                    "enable.ssl.certificate.verification=false\nssl.certificate.location=/c.pem\nssl.key.location=/k.pem\n",
                    "ctl:9093");
        ck_assert_int_eq(ctlcheck_security(c, &s, err, sizeof err), 0);
        ck_assert(s.tls && !s.sasl_plain && s.skip_hostname && s.skip_verify);
        ck_assert_ptr_null(s.ca_file);
        ck_assert_str_eq(s.cert_pem, "/c.pem");
        kafka_conf_free(c);

        c = conf_of("bootstrap.servers=ctl:9093\n", NULL);
        ck_assert_int_eq(ctlcheck_security(c, &s, err, sizeof err), 0);
        ck_assert(!s.tls && !s.sasl_plain);
        kafka_conf_free(c);
}
END_TEST

START_TEST(ctlcheck_security_refuses_what_it_would_otherwise_ignore) {
        static const struct {
                const char *props, *err;
        } cases[] = {
                { "security.protocol=sasl_ssl\nsasl.mechanism=SCRAM-SHA-512\nsasl.username=u\nsasl.password=p\n",
                  "sasl.mechanism is SCRAM-SHA-512: the controller check speaks only PLAIN" },
                { "security.protocol=sasl_plaintext\nsasl.username=u\nsasl.password=p\n",
                  "sasl.mechanism is unset (GSSAPI): the controller check speaks only PLAIN" },
                { "security.protocol=sasl_plaintext\nsasl.mechanism=PLAIN\nsasl.username=u\n",
                  "SASL PLAIN needs sasl.username and sasl.password" },
                { "security.protocol=ssl\nssl.ca.pem=-----BEGIN CERTIFICATE-----\n",
                  "ssl.ca.pem is set, which the controller check does not apply (it reads ssl.ca.location, "
                  "ssl.keystore.location, ssl.certificate.location and ssl.key.location)" },
                { "security.protocol=ssl\nssl.crl.location=/crl.pem\n",
                  "ssl.crl.location is set, which the controller check does not apply (it reads ssl.ca.location, "
                  "ssl.keystore.location, ssl.certificate.location and ssl.key.location)" },
                { "security.protocol=ssl\nssl.key.location=/k.pem\n",
                  "ssl.key.location is set without ssl.certificate.location" },
        };
        for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
                struct kconn_security s;
                char err[512] = "";
                struct kafka_conf *c = conf_of(cases[i].props, "ctl:9093");
                ck_assert_int_eq(ctlcheck_security(c, &s, err, sizeof err), -EINVAL);
                ck_assert_str_eq(err, cases[i].err);
                kafka_conf_free(c);
        }
        /* A check is not even created on such settings. */
        struct ctlcheck_endpoints eps = { .n = 1, .v = { { 0, "ctl", 9093 } } };
        struct ctlcheck_opts o = { .local_id = 0, .timeout_ms = 1000, .peers = &eps };
        struct ctlcheck *cc = NULL;
        char err[512];
        ck_assert_int_eq(ctlcheck_new(conf_of(cases[0].props, "ctl:9093"), &o, &cc, err, sizeof err), -EINVAL);
        ck_assert_ptr_null(cc);
        ck_assert_str_eq(err, cases[0].err);
}
END_TEST

int main(void) {
        Suite *s = suite_create("ctlcheck");
        TCase *tc = tcase_create("ctlcheck");
        tcase_add_test(tc, ctlcheck_leader_answers_for_itself_in_one_connection);
        tcase_add_test(tc, ctlcheck_follower_finds_the_leader_then_asks_it_first);
        tcase_add_test(tc, ctlcheck_local_controller_down_still_reads_the_quorum);
        tcase_add_test(tc, ctlcheck_silent_controller_costs_only_its_share_of_the_deadline);
        tcase_add_test(tc, ctlcheck_no_leader_names_every_controller_asked);
        tcase_add_test(tc, ctlcheck_local_listener_answering_as_another_leader_is_refused);
        tcase_add_test(tc, ctlcheck_parses_voters_and_bootstrap_servers);
        tcase_add_test(tc, ctlcheck_security_follows_what_kpa_init_writes);
        tcase_add_test(tc, ctlcheck_security_refuses_what_it_would_otherwise_ignore);
        suite_add_tcase(s, tc);
        return tu_run_suite(s);
}
