/* agentcfg: flags and KPA_ variables -> the agent's configuration, and its refusals. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>

#include "kpa/agentcfg.h"
#include "testutil.h"

static int load(char **env, char **argv, struct agent_config *c, char *err) {
        int argc = 0;
        while (argv[argc])
                argc++;
        return agentcfg_load(env, argc, argv, c, err, 512);
}

START_TEST(defaults_with_node_id_and_bootstrap) {
        struct agent_config c;
        char err[512] = "";
        ck_assert_int_eq(load((char *[]){ NULL }, (char *[]){ "kpa-agent", "--node-id=3", "--bootstrap", "k:9092", NULL }, &c, err), 0);
        ck_assert_int_eq(c.mode, AGENT_SIDECAR);
        ck_assert_str_eq(c.listen, "0.0.0.0:8080");
        ck_assert_str_eq(c.bootstrap, "k:9092");
        ck_assert_int_eq(c.node_id, 3);
        ck_assert_uint_eq(c.interval_ms, 5000);
        ck_assert_uint_eq(c.check_timeout_ms, 4000);
        ck_assert_uint_eq(c.stale_after_ms, 19000);
        ck_assert_uint_eq(c.liveness_window_ms, 60000);
        ck_assert_uint_eq(c.prestop_timeout_ms, 120000);
        ck_assert_uint_eq(c.ready_after, 2);
        ck_assert_int_eq(c.scope, SCOPE_LOCAL);
        agentcfg_free(&c);
}
END_TEST

START_TEST(env_values_and_check_command) {
        struct agent_config c;
        char err[512] = "";
        char *env[] = { "KPA_NODE_ID=7", "KPA_BOOTSTRAP=b:1", "KPA_INTERVAL=500ms", "KPA_READY_SCOPE=cluster",
                        "KPA_LIVENESS_WINDOW=2m", "KPA_READY_AFTER=5", NULL };
        ck_assert_int_eq(load(env, (char *[]){ "kpa-agent", "check", "--check-timeout=1s", NULL }, &c, err), 0);
        ck_assert_int_eq(c.mode, AGENT_CHECK);
        ck_assert_int_eq(c.node_id, 7);
        ck_assert_uint_eq(c.interval_ms, 500);
        ck_assert_uint_eq(c.check_timeout_ms, 1000);
        ck_assert_uint_eq(c.stale_after_ms, 2500);
        ck_assert_uint_eq(c.liveness_window_ms, 120000);
        ck_assert_uint_eq(c.ready_after, 5);
        ck_assert_int_eq(c.scope, SCOPE_CLUSTER);
        agentcfg_free(&c);
}
END_TEST

START_TEST(node_id_read_from_broker_config) {
        char *dir = tu_mkdtemp();
        tu_write(dir, "server.properties", "# kpa\nnode.id=12\nprocess.roles=broker\n");
        char path[600], flag[700];
        snprintf(path, sizeof path, "%s/server.properties", dir);
        snprintf(flag, sizeof flag, "--broker-config=%s", path);
        struct agent_config c;
        char err[512] = "";
        ck_assert_int_eq(load((char *[]){ NULL }, (char *[]){ "kpa-agent", flag, "--bootstrap=x:1", NULL }, &c, err), 0);
        ck_assert_int_eq(c.node_id, 12);
        agentcfg_free(&c);
        tu_write(dir, "server.properties", "process.roles=broker\n");
        ck_assert_int_eq(load((char *[]){ NULL }, (char *[]){ "kpa-agent", flag, "--bootstrap=x:1", NULL }, &c, err), -EINVAL);
        char want[900];
        snprintf(want, sizeof want, "--broker-config %s has no valid node.id (expected kpa-init's server.properties)", path);
        ck_assert_str_eq(err, want);
        tu_rmtree(dir);
        free(dir);
}
END_TEST

/* A broker's controllers are where the stop gate looks for other brokers before its own
 * broker ever named them (in combined mode they are the brokers); a list that does not parse
 * only leaves that fallback out. */
START_TEST(a_brokers_quorum_hosts_are_read_from_broker_config) {
        char *dir = tu_mkdtemp();
        tu_write(dir, "server.properties", "node.id=1\nprocess.roles=broker,controller\n"
                 "controller.quorum.voters=0@kafka-0.h:9093,1@kafka-1.h:9093,2@[fd00::2]:9093\n");
        char path[600], flag[700];
        snprintf(path, sizeof path, "%s/server.properties", dir);
        snprintf(flag, sizeof flag, "--broker-config=%s", path);
        struct agent_config c;
        char err[512] = "";
        ck_assert_int_eq(load((char *[]){ NULL }, (char *[]){ "kpa-agent", flag, "--bootstrap=x:1", NULL }, &c, err), 0);
        ck_assert(!c.controller);
        ck_assert_ptr_nonnull(c.quorum_hosts);
        ck_assert_int_eq(c.quorum_hosts->n, 3);
        ck_assert_str_eq(c.quorum_hosts->v[0].host, "kafka-0.h");
        ck_assert_int_eq(c.quorum_hosts->v[2].id, 2);
        ck_assert_str_eq(c.quorum_hosts->v[2].host, "fd00::2");
        agentcfg_free(&c);
        tu_write(dir, "server.properties", "node.id=1\nprocess.roles=broker\ncontroller.quorum.voters=zero@\n");
        ck_assert_int_eq(load((char *[]){ NULL }, (char *[]){ "kpa-agent", flag, "--bootstrap=x:1", NULL }, &c, err), 0);
        ck_assert_ptr_null(c.quorum_hosts);
        agentcfg_free(&c);
        tu_rmtree(dir);
        free(dir);
}
END_TEST

static void expect(char **argv, const char *msg) {
        struct agent_config c;
        char err[512] = "";
        ck_assert_int_eq(load((char *[]){ NULL }, argv, &c, err), -EINVAL);
        ck_assert_str_eq(err, msg);
}

START_TEST(bad_flags_get_one_line_naming_them) {
        expect((char *[]){ "kpa-agent", "--bootstrap=b:1", NULL },
               "the local node id is unknown (set --node-id, or --broker-config to kpa-init's server.properties, or use --demo)");
        expect((char *[]){ "kpa-agent", "--node-id=1", NULL },
               "the local broker is unknown (set --bootstrap HOST:PORT or --client-config with bootstrap.servers, or use --demo)");
        expect((char *[]){ "kpa-agent", "--node-id=-1", "--bootstrap=b:1", NULL },
               "--node-id \"-1\" is not a node id (expected 0 to 2147483647)");
        expect((char *[]){ "kpa-agent", "--demo", "--interval=5", NULL },
               "--interval \"5\" is not a duration from 100ms to 1h (e.g. 500ms, 5s, 1m)");
        expect((char *[]){ "kpa-agent", "--demo", "--ready-scope=global", NULL },
               "--ready-scope \"global\" is not a scope (expected local or cluster)");
        expect((char *[]){ "kpa-agent", "--demo", "--ready-after=0", NULL },
               "--ready-after \"0\" is not a whole number from 1 to 1000");
        expect((char *[]){ "kpa-agent", "--demo", "status", NULL },
               "unknown command \"status\" (expected no command, or check)");
        expect((char *[]){ "kpa-agent", "--demo", "--log-level=loud", NULL },
               "--log-level \"loud\" is not a log level (expected error, warn, info or debug)");
}
END_TEST

/* The TLS inputs are kpa-init's: KPA_TLS_DIR or KPA_TLS_CA_DIR, never both; the issuing
 * settings only with the CA. */
START_TEST(tls_ca_dir_is_taken_like_kpa_inits_and_exclusive_with_tls_dir) {
        struct agent_config c;
        char err[512] = "";
        ck_assert_int_eq(load((char *[]){ "KPA_TLS_CA_DIR=/ca", "KPA_TLS_VALIDITY_DAYS=30", NULL },
                              (char *[]){ "kpa-agent", "--demo", "--tls-key-type=rsa", NULL }, &c, err), 0);
        ck_assert_str_eq(c.tls_ca_dir, "/ca");
        ck_assert_str_eq(c.tls_key_type, "rsa");
        ck_assert_uint_eq(c.tls_validity_days, 30);
        ck_assert_ptr_null(c.tls_dir);
        agentcfg_free(&c);
        ck_assert_int_eq(load((char *[]){ NULL }, (char *[]){ "kpa-agent", "--demo", "--tls-ca-dir=/ca", NULL }, &c, err), 0);
        ck_assert_ptr_null(c.tls_key_type);
        ck_assert_uint_eq(c.tls_validity_days, 0);
        agentcfg_free(&c);
        expect((char *[]){ "kpa-agent", "--demo", "--tls-dir=/t", "--tls-ca-dir=/ca", NULL },
               "KPA_TLS_DIR and KPA_TLS_CA_DIR are both set (expected one of them)");
        expect((char *[]){ "kpa-agent", "--demo", "--tls-ca-dir=/ca", "--tls-key-type=dsa", NULL },
               "--tls-key-type \"dsa\" is not a key type (expected ec or rsa)");
        expect((char *[]){ "kpa-agent", "--demo", "--tls-ca-dir=/ca", "--tls-validity-days=0", NULL },
               "--tls-validity-days \"0\" is not a whole number of days from 1 to 3650");
        expect((char *[]){ "kpa-agent", "--demo", "--tls-dir=/t", "--tls-validity-days=30", NULL },
               "--tls-validity-days is set without KPA_TLS_CA_DIR (it says how the agent issues a certificate from the CA)");
}
END_TEST

START_TEST(statefulset_role_is_kept_for_the_403_hint_and_checked) {
        struct agent_config c;
        char err[512] = "";
        char *env[] = { "KPA_POD_NAME=blue-kafka-2", "KPA_NAMESPACE=kafka",
                        "KPA_STATEFULSET_ROLE=blue-kafka-kpa-statefulset-reader", NULL };
        ck_assert_int_eq(load(env, (char *[]){ "kpa-agent", "--node-id=2", "--bootstrap=b:1", NULL }, &c, err), 0);
        ck_assert_str_eq(c.scale_down->statefulset, "blue-kafka");
        ck_assert_str_eq(c.scale_down->role, "blue-kafka-kpa-statefulset-reader");
        agentcfg_free(&c);
        expect((char *[]){ "kpa-agent", "--node-id=2", "--bootstrap=b:1", "--pod-name=kafka-2", "--namespace=kafka",
                           "--statefulset-role=Kafka/Reader", NULL },
               "--statefulset-role \"Kafka/Reader\" is not a Role's name (1 to 253 of a-z 0-9 . - :)");
}
END_TEST

START_TEST(bad_addresses_are_refused_at_load) {
        expect((char *[]){ "kpa-agent", "--demo", "--listen=0.0.0.0:99999", NULL },
               "--listen: listen address \"0.0.0.0:99999\": port \"99999\" is not a number in 0..65535");
        expect((char *[]){ "kpa-agent", "--node-id=1", "--bootstrap=kafka-0", NULL },
               "--bootstrap: bootstrap \"kafka-0\" is not host:port (IPv6 as [addr]:port)");
        expect((char *[]){ "kpa-agent", "--node-id=1", "--bootstrap=SSL://a:1", NULL },
               "--bootstrap: bootstrap \"SSL://a:1\": give host:port without a protocol prefix (set "
               "security.protocol in the client config)");
}
END_TEST

START_TEST(stale_after_must_be_longer_than_the_interval) {
        expect((char *[]){ "kpa-agent", "--demo", "--interval=5s", "--stale-after=5s", NULL },
               "--stale-after \"5s\" is not longer than --interval 5s: the verdict is one interval old "
               "just before each check ends, so it would go stale between checks");
        expect((char *[]){ "kpa-agent", "--demo", "--stale-after=2s", NULL },
               "--stale-after \"2s\" is not longer than the interval 5s: the verdict is one interval old "
               "just before each check ends, so it would go stale between checks");
        struct agent_config c;
        char err[512] = "";
        ck_assert_int_eq(load((char *[]){ NULL }, (char *[]){ "kpa-agent", "--demo", "--interval=1s",
                                                             "--stale-after=1001ms", NULL }, &c, err), 0);
        ck_assert_uint_eq(c.stale_after_ms, 1001);
        agentcfg_free(&c);
}
END_TEST

START_TEST(log_dirs_and_disk_flags_from_broker_config) {
        char *dir = tu_mkdtemp();
        tu_write(dir, "server.properties", "node.id=1\nlog.dirs=/var/lib/kafka/data/kafka-logs, /mnt/b\n");
        char path[600], flag[700];
        snprintf(path, sizeof path, "%s/server.properties", dir);
        snprintf(flag, sizeof flag, "--broker-config=%s", path);
        struct agent_config c;
        char err[512] = "";
        ck_assert_int_eq(load((char *[]){ NULL }, (char *[]){ "kpa-agent", flag, "--bootstrap=x:1", NULL }, &c, err), 0);
        ck_assert_int_eq(c.n_log_dirs, 2);
        ck_assert_str_eq(c.log_dirs[0], "/var/lib/kafka/data/kafka-logs");
        ck_assert_str_eq(c.log_dirs[1], "/mnt/b");
        ck_assert_uint_eq(c.disk_warn_free_percent, 10);
        ck_assert_uint_eq(c.log_dirs_interval_ms, 30000);
        agentcfg_free(&c);
        /* log.dir when log.dirs is unset (Kafka's fallback); flags override the defaults. */
        tu_write(dir, "server.properties", "node.id=1\nlog.dir=/data\n");
        ck_assert_int_eq(load((char *[]){ "KPA_DISK_WARN_FREE_PERCENT=25", NULL },
                              (char *[]){ "kpa-agent", flag, "--bootstrap=x:1", "--log-dirs-interval=0", NULL }, &c, err), 0);
        ck_assert_int_eq(c.n_log_dirs, 1);
        ck_assert_str_eq(c.log_dirs[0], "/data");
        ck_assert_uint_eq(c.disk_warn_free_percent, 25);
        ck_assert_uint_eq(c.log_dirs_interval_ms, 0);
        agentcfg_free(&c);
        tu_write(dir, "server.properties", "node.id=1\nlog.dirs=/a,relative\n");
        ck_assert_int_eq(load((char *[]){ NULL }, (char *[]){ "kpa-agent", flag, "--bootstrap=x:1", NULL }, &c, err), -EINVAL);
        char want[900];
        snprintf(want, sizeof want, "--broker-config %s: log.dirs: log dir \"relative\" is not an absolute path of at most 1023 bytes", path);
        ck_assert_str_eq(err, want);
        tu_rmtree(dir);
        free(dir);
        expect((char *[]){ "kpa-agent", "--demo", "--disk-warn-free-percent=100", NULL },
               "--disk-warn-free-percent \"100\" is not a whole percent from 0 to 99");
        expect((char *[]){ "kpa-agent", "--demo", "--log-dirs-interval=500ms", NULL },
               "--log-dirs-interval \"500ms\" is not 0 (never) or a duration from 1s to 24h (e.g. 30s, 5m)");
}
END_TEST

START_TEST(leadership_flags_default_on_with_a_10s_wait_and_are_checked) {
        struct agent_config c;
        char err[512] = "";
        ck_assert_int_eq(load((char *[]){ NULL }, (char *[]){ "kpa-agent", "--demo", NULL }, &c, err), 0);
        ck_assert(c.restore_leadership);
        ck_assert_uint_eq(c.ready_leadership_wait_ms, 10000);
        agentcfg_free(&c);
        ck_assert_int_eq(load((char *[]){ "KPA_RESTORE_LEADERSHIP=off", NULL },
                              (char *[]){ "kpa-agent", "--demo", "--ready-waits-for-leadership=0", NULL }, &c, err), 0);
        ck_assert(!c.restore_leadership);
        ck_assert_uint_eq(c.ready_leadership_wait_ms, 0);
        agentcfg_free(&c);
        ck_assert_int_eq(load((char *[]){ NULL }, (char *[]){ "kpa-agent", "--demo", "--ready-waits-for-leadership=30s", NULL },
                              &c, err), 0);
        ck_assert_uint_eq(c.ready_leadership_wait_ms, 30000);
        agentcfg_free(&c);
        expect((char *[]){ "kpa-agent", "--demo", "--restore-leadership=maybe", NULL },
               "--restore-leadership \"maybe\" is not on or off");
        expect((char *[]){ "kpa-agent", "--demo", "--ready-waits-for-leadership=2h", NULL },
               "--ready-waits-for-leadership \"2h\" is not 0 (never waits) or a duration from 100ms to 1h (e.g. 10s)");
}
END_TEST

int main(void) {
        Suite *s = suite_create("agentcfg");
        TCase *tc = tcase_create("agentcfg");
        tcase_add_test(tc, defaults_with_node_id_and_bootstrap);
        tcase_add_test(tc, env_values_and_check_command);
        tcase_add_test(tc, node_id_read_from_broker_config);
        tcase_add_test(tc, bad_flags_get_one_line_naming_them);
        tcase_add_test(tc, bad_addresses_are_refused_at_load);
        tcase_add_test(tc, statefulset_role_is_kept_for_the_403_hint_and_checked);
        tcase_add_test(tc, log_dirs_and_disk_flags_from_broker_config);
        tcase_add_test(tc, leadership_flags_default_on_with_a_10s_wait_and_are_checked);
        tcase_add_test(tc, stale_after_must_be_longer_than_the_interval);
        tcase_add_test(tc, tls_ca_dir_is_taken_like_kpa_inits_and_exclusive_with_tls_dir);
        tcase_add_test(tc, a_brokers_quorum_hosts_are_read_from_broker_config);
        suite_add_tcase(s, tc);
        return tu_run_suite(s);
}
