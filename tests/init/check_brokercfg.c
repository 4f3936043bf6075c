/* initcfg (inputs -> config, with refusals), brokercfg (config -> server/client properties)
 * and storage (meta.properties ownership). */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kpa/brokercfg.h"
#include "kpa/initcfg.h"
#include "kpa/storage.h"
#include "testutil.h"

#define CID "MkU3OEVBNTcwNTJENDM2Qg"

static int load(char **envp, int argc, char **argv, struct init_config *c, char *err) {
        char *dflt[] = { "prog", NULL };
        return initcfg_load(envp, argv ? argc : 1, argv ? argv : dflt, c, err, 512);
}

static void expect_error(char **envp, const char *msg) {
        struct init_config c;
        char err[512] = "";
        ck_assert_int_eq(load(envp, 0, NULL, &c, err), -EINVAL);
        ck_assert_str_eq(err, msg);
}

START_TEST(defaults_follow_the_statefulset_name) {
        char *env[] = { "POD_NAME=kafka-1", "POD_NAMESPACE=prod", "KPA_CLUSTER_ID=" CID, NULL };
        struct init_config c;
        char err[512] = "";
        ck_assert_int_eq(load(env, 0, NULL, &c, err), 0);
        ck_assert_str_eq(c.statefulset, "kafka");
        ck_assert_uint_eq(c.ordinal, 1);
        ck_assert_str_eq(c.headless_service, "kafka-headless");
        ck_assert_str_eq(c.cluster_domain, "cluster.local");
        ck_assert_uint_eq(c.controller_count, 3);
        ck_assert_uint_eq(c.listeners.n, 2);
        ck_assert_str_eq(c.controller_listener, "CONTROLLER");
        ck_assert_str_eq(c.inter_broker_listener, "INTERNAL");
        ck_assert_uint_eq(c.n_log_dirs, 1);
        ck_assert_str_eq(c.log_dirs[0], "/var/lib/kafka/data");
        ck_assert_str_eq(c.output_dir, "/etc/kafka/kpa");
        ck_assert(!c.dry_run);
        initcfg_free(&c);
}
END_TEST

START_TEST(separate_controllers_move_the_default_broker_offset_to_100) {
        char *env[] = { "POD_NAME=kafka-0", "POD_NAMESPACE=prod", "KPA_CLUSTER_ID=" CID,
                        "KPA_CONTROLLER_STATEFULSET=kraft", NULL };
        struct init_config c;
        char err[512] = "";
        ck_assert_int_eq(load(env, 0, NULL, &c, err), 0);
        ck_assert_uint_eq(c.node_id_offset, 100);
        ck_assert_uint_eq(c.controller_node_id_offset, 0);
        ck_assert_str_eq(c.controller_service, "kraft-headless");
        initcfg_free(&c);
        /* An explicit offset keeps its meaning (volumes formatted with it stay valid). */
        char *explicit_env[] = { "POD_NAME=kafka-0", "POD_NAMESPACE=prod", "KPA_CLUSTER_ID=" CID,
                                 "KPA_CONTROLLER_STATEFULSET=kraft", "KPA_CONTROLLER_NODE_ID_OFFSET=9000",
                                 "KPA_NODE_ID_OFFSET=0", NULL };
        ck_assert_int_eq(load(explicit_env, 0, NULL, &c, err), 0);
        ck_assert_uint_eq(c.node_id_offset, 0);
        ck_assert_uint_eq(c.controller_node_id_offset, 9000);
        initcfg_free(&c);
        /* Combined mode: brokers and controllers are the same nodes, from 0. */
        char *combined[] = { "POD_NAME=kafka-0", "POD_NAMESPACE=prod", "KPA_CLUSTER_ID=" CID, NULL };
        ck_assert_int_eq(load(combined, 0, NULL, &c, err), 0);
        ck_assert_uint_eq(c.node_id_offset, 0);
        initcfg_free(&c);
}
END_TEST

START_TEST(flags_override_environment) {
        char *env[] = { "POD_NAME=kafka-1", "POD_NAMESPACE=prod", "KPA_CLUSTER_ID=" CID, NULL };
        char *argv[] = { "prog", "--pod-name", "kafka-4", "--node-id-offset=10", "--dry-run", NULL };
        struct init_config c;
        char err[512] = "";
        ck_assert_int_eq(load(env, 5, argv, &c, err), 0);
        ck_assert_uint_eq(c.ordinal, 4);
        ck_assert_uint_eq(c.node_id_offset, 10);
        ck_assert(c.dry_run);
        initcfg_free(&c);
}
END_TEST

START_TEST(each_bad_input_gets_one_line_naming_it) {
        expect_error((char *[]){ "POD_NAMESPACE=prod", "KPA_CLUSTER_ID=" CID, NULL },
                     "POD_NAME is required (the downward API's metadata.name)");
        expect_error((char *[]){ "POD_NAME=kafka", "POD_NAMESPACE=prod", "KPA_CLUSTER_ID=" CID, NULL },
                     "POD_NAME \"kafka\" has no ordinal suffix (expected <statefulset>-<n>, a DNS label)");
        expect_error((char *[]){ "POD_NAME=kafka-0", "POD_NAMESPACE=prod", "KPA_CLUSTER_ID=abc", NULL },
                     "KPA_CLUSTER_ID \"abc\" is not a Kafka cluster id (expected 22 characters of base64url encoding 16 bytes, e.g. from kafka-storage.sh random-uuid)");
        expect_error((char *[]){ "POD_NAME=kafka-0", "POD_NAMESPACE=Prod", "KPA_CLUSTER_ID=" CID, NULL },
                     "POD_NAMESPACE \"Prod\" is not a DNS label (expected lower-case letters, digits and '-', at most 63)");
        expect_error((char *[]){ "POD_NAME=kafka-0", "POD_NAMESPACE=p", "KPA_CLUSTER_ID=" CID, "KPA_CONTROLLER_COUNT=0", NULL },
                     "KPA_CONTROLLER_COUNT \"0\" is not a whole number from 1 to 64");
        expect_error((char *[]){ "POD_NAME=kafka-0", "POD_NAMESPACE=p", "KPA_CLUSTER_ID=" CID, "KPA_LISTENERS=INTERNAL://:9092", NULL },
                     "controller listener CONTROLLER is not among KPA_LISTENERS (set KPA_CONTROLLER_LISTENER or add CONTROLLER://:9093)");
        expect_error((char *[]){ "POD_NAME=kafka-0", "POD_NAMESPACE=p", "KPA_CLUSTER_ID=" CID, "KPA_ADVERTISED_EXTERNAL=x:1", NULL },
                     "KPA_ADVERTISED_EXTERNAL names listener EXTERNAL, which is not in KPA_LISTENERS");
        expect_error((char *[]){ "POD_NAME=kafka-0", "POD_NAMESPACE=p", "KPA_CLUSTER_ID=" CID,
                                 "KPA_SECURITY_PROTOCOL_MAP=INTERNAL:SSL", NULL },
                     "listener INTERNAL uses SSL but neither KPA_TLS_DIR nor KPA_TLS_CA_DIR is set");
        expect_error((char *[]){ "POD_NAME=kafka-0", "POD_NAMESPACE=p", "KPA_CLUSTER_ID=" CID,
                                 "KPA_SECURITY_PROTOCOL_MAP=INTERNAL:SASL_PLAINTEXT", NULL },
                     "listener INTERNAL uses SASL_PLAINTEXT but KPA_SASL_USERS_DIR is not set");
        expect_error((char *[]){ "POD_NAME=kafka-0", "POD_NAMESPACE=p", "KPA_CLUSTER_ID=" CID, "KPA_RACK=a", "KPA_RACK_NODE_LABEL=b", NULL },
                     "KPA_RACK and KPA_RACK_NODE_LABEL are both set (expected one of them)");
        expect_error((char *[]){ "POD_NAME=kafka-0", "POD_NAMESPACE=p", "KPA_CLUSTER_ID=" CID, "KPA_RACK_NODE_LABEL=zone", NULL },
                     "KPA_RACK_NODE_LABEL needs NODE_NAME (downward API spec.nodeName)");
        expect_error((char *[]){ "POD_NAME=kafka-0", "POD_NAMESPACE=p", "KPA_CLUSTER_ID=" CID, "KPA_LOG_DIRS=data", NULL },
                     "KPA_LOG_DIRS \"data\" is not a comma-separated list of at most 16 absolute paths");
        expect_error((char *[]){ "POD_NAME=kafka-0", "POD_NAMESPACE=p", "KPA_CLUSTER_ID=" CID, "KPA_TLS_CLIENT_AUTH=yes", NULL },
                     "KPA_TLS_CLIENT_AUTH \"yes\" is not a client auth mode (expected none, requested or required)");
        expect_error((char *[]){ "POD_NAME=kafka-0", "POD_NAMESPACE=p", "KPA_CLUSTER_ID=" CID, "KPA_KUBE_TIMEOUT=30", NULL },
                     "KPA_KUBE_TIMEOUT \"30\" is not a duration up to 10m (expected e.g. 500ms, 30s, 1m)");
}
END_TEST

START_TEST(a_flag_error_names_the_flag) {
        char *env[] = { "POD_NAMESPACE=p", "KPA_CLUSTER_ID=" CID, NULL };
        char *argv[] = { "prog", "--pod-name=kafka", NULL };
        struct init_config c;
        char err[512] = "";
        ck_assert_int_eq(load(env, 2, argv, &c, err), -EINVAL);
        ck_assert_str_eq(err, "--pod-name \"kafka\" has no ordinal suffix (expected <statefulset>-<n>, a DNS label)");
        char *argv2[] = { "prog", "--no-such-thing=1", NULL };
        ck_assert_int_eq(load(env, 2, argv2, &c, err), -EINVAL);
        ck_assert_str_eq(err, "unknown flag --no-such-thing (see --help)");
}
END_TEST

/* Found by fuzz_initcfg: templates whose names differ only in case name one listener; 17 of
 * them wrote past c->advertised[LISTENERS_MAX - 1] (over n_advertised). */
START_TEST(two_advertised_templates_for_one_listener_are_refused) {
        expect_error((char *[]){ "POD_NAME=kafka-1", "POD_NAMESPACE=prod", "KPA_CLUSTER_ID=" CID,
                                 "KPA_ADVERTISED_INTERNAL=a:1", "KPA_ADVERTISED_internal=b:2", NULL },
                     "KPA_ADVERTISED_internal sets the advertised address of listener INTERNAL a second time");
}
END_TEST

struct composed {
        struct init_config c;
        struct identity id;
        struct listener_set active;
};

static void compose(char **env, struct composed *x) {
        char err[512] = "";
        ck_assert_msg(load(env, 0, NULL, &x->c, err) == 0, "%s", err);
        struct cluster_shape s = {
                .statefulset = x->c.statefulset, .ordinal = x->c.ordinal, .namespace_ = x->c.pod_namespace,
                .service = x->c.headless_service, .domain = x->c.cluster_domain,
                .node_id_offset = x->c.node_id_offset, .controller_count = x->c.controller_count,
                .controller_statefulset = x->c.controller_statefulset, .controller_service = x->c.controller_service,
                .controller_node_id_offset = x->c.controller_node_id_offset,
                .controller_port = listeners_find(&x->c.listeners, x->c.controller_listener)->port,
        };
        ck_assert_msg(identity_derive(&s, &x->id, err, sizeof err) == 0, "%s", err);
        ck_assert_msg(brokercfg_active_listeners(&x->c, &x->id, &x->active, err, sizeof err) == 0, "%s", err);
}

START_TEST(server_properties_for_a_combined_node) {
        char *env[] = { "POD_NAME=kafka-0", "POD_NAMESPACE=prod", "KPA_CLUSTER_ID=" CID,
                        "KPA_LISTENERS=INTERNAL://:9092,CONTROLLER://:9093,EXTERNAL://:9094",
                        "KPA_ADVERTISED_EXTERNAL={node}.example.com:{31090+ordinal}", "NODE_NAME=n1",
                        "KPA_LOG_DIRS=/d1,/d2", NULL };
        struct composed x;
        compose(env, &x);
        struct props tmpl = { 0 }, out;
        props_set(&tmpl, "num.partitions", "6");
        props_set(&tmpl, "log.dirs", "/ignored");
        struct broker_inputs in = { .cfg = &x.c, .id = &x.id, .active = &x.active, .rack = "zone-a", .tmpl = &tmpl };
        char err[512] = "";
        ck_assert_int_eq(brokercfg_server(&in, &out, err, sizeof err), 0);
        struct dynbuf b;
        dynbuf_init(&b, 1 << 20);
        props_serialize(&out, &b);
        ck_assert_str_eq(dynbuf_str(&b),
                "node.id=0\n"
                "process.roles=broker,controller\n"
                "controller.quorum.voters=0@kafka-0.kafka-headless.prod.svc.cluster.local:9093,1@kafka-1.kafka-headless.prod.svc.cluster.local:9093,2@kafka-2.kafka-headless.prod.svc.cluster.local:9093\n"
                "controller.listener.names=CONTROLLER\n"
                "listeners=INTERNAL://:9092,CONTROLLER://:9093,EXTERNAL://:9094\n"
                "advertised.listeners=INTERNAL://kafka-0.kafka-headless.prod.svc.cluster.local:9092,CONTROLLER://kafka-0.kafka-headless.prod.svc.cluster.local:9093,EXTERNAL://n1.example.com:31090\n"
                "listener.security.protocol.map=INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT,EXTERNAL:PLAINTEXT\n"
                "inter.broker.listener.name=INTERNAL\n"
                "broker.rack=zone-a\n"
                "log.dirs=/d1,/d2\n"
                "num.partitions=6\n");
        dynbuf_free(&b);
        props_free(&out);
        props_free(&tmpl);
        initcfg_free(&x.c);
}
END_TEST

START_TEST(broker_only_node_drops_the_controller_listener) {
        char *env[] = { "POD_NAME=kafka-3", "POD_NAMESPACE=prod", "KPA_CLUSTER_ID=" CID, NULL };
        struct composed x;
        compose(env, &x);
        struct props out;
        struct broker_inputs in = { .cfg = &x.c, .id = &x.id, .active = &x.active };
        char err[512] = "";
        ck_assert_int_eq(brokercfg_server(&in, &out, err, sizeof err), 0);
        ck_assert_str_eq(props_get(&out, "process.roles"), "broker");
        ck_assert_str_eq(props_get(&out, "listeners"), "INTERNAL://:9092");
        ck_assert_str_eq(props_get(&out, "advertised.listeners"),
                         "INTERNAL://kafka-3.kafka-headless.prod.svc.cluster.local:9092");
        ck_assert_str_eq(props_get(&out, "controller.listener.names"), "CONTROLLER");
        ck_assert_ptr_null(props_get(&out, "broker.rack"));
        props_free(&out);
        initcfg_free(&x.c);
}
END_TEST

START_TEST(controller_only_node_keeps_only_the_controller_listener) {
        char *env[] = { "POD_NAME=kraft-1", "POD_NAMESPACE=prod", "KPA_CLUSTER_ID=" CID,
                        "KPA_CONTROLLER_STATEFULSET=kraft", "KPA_CONTROLLER_NODE_ID_OFFSET=9000",
                        "KPA_MIN_INSYNC_REPLICAS=2", NULL };
        struct composed x;
        compose(env, &x);
        struct props out, client;
        struct broker_inputs in = { .cfg = &x.c, .id = &x.id, .active = &x.active };
        char err[512] = "";
        ck_assert_int_eq(brokercfg_server(&in, &out, err, sizeof err), 0);
        ck_assert_str_eq(props_get(&out, "node.id"), "9001");
        ck_assert_str_eq(props_get(&out, "process.roles"), "controller");
        ck_assert_str_eq(props_get(&out, "listeners"), "CONTROLLER://:9093");
        ck_assert_ptr_null(props_get(&out, "inter.broker.listener.name"));
        ck_assert_str_eq(props_get(&out, "min.insync.replicas"), "2");
        ck_assert_int_eq(brokercfg_client(&in, &client, err, sizeof err), 0);
        ck_assert_str_eq(props_get(&client, "bootstrap.servers"), "kraft-1.kraft-headless.prod.svc.cluster.local:9093");
        props_free(&out);
        props_free(&client);
        initcfg_free(&x.c);
}
END_TEST

START_TEST(tls_and_sasl_keys_and_client_properties) {
        char *env[] = { "POD_NAME=kafka-0", "POD_NAMESPACE=prod", "KPA_CLUSTER_ID=" CID,
                        "KPA_LISTENERS=INTERNAL://:9092,CONTROLLER://:9093,CLIENTS://:9094",
                        "KPA_SECURITY_PROTOCOL_MAP=INTERNAL:SASL_SSL,CONTROLLER:SSL,CLIENTS:SSL",
                        "KPA_TLS_DIR=/tls", "KPA_SASL_USERS_DIR=/users", "KPA_TLS_CLIENT_AUTH=required",
                        "KPA_OUTPUT_DIR=/out", NULL };
        struct composed x;
        compose(env, &x);
        struct props out, client;
        struct broker_inputs in = { .cfg = &x.c, .id = &x.id, .active = &x.active, .store_password = "s3cret",
                                    .jaas_server = "JAAS", .agent_user = "kafka", .agent_password = "pw" };
        char err[512] = "";
        ck_assert_int_eq(brokercfg_server(&in, &out, err, sizeof err), 0);
        ck_assert_str_eq(props_get(&out, "ssl.keystore.location"), "/out/keystore.p12");
        ck_assert_str_eq(props_get(&out, "ssl.keystore.password"), "s3cret");
        ck_assert_str_eq(props_get(&out, "ssl.key.password"), "s3cret");
        ck_assert_str_eq(props_get(&out, "ssl.keystore.type"), "PKCS12");
        ck_assert_str_eq(props_get(&out, "ssl.truststore.location"), "/out/truststore.p12");
        ck_assert_str_eq(props_get(&out, "ssl.truststore.type"), "PKCS12");
        ck_assert_str_eq(props_get(&out, "ssl.client.auth"), "required");
        ck_assert_str_eq(props_get(&out, "listener.name.internal.plain.sasl.jaas.config"), "JAAS");
        ck_assert_str_eq(props_get(&out, "listener.name.internal.sasl.enabled.mechanisms"), "PLAIN");
        ck_assert_ptr_null(props_get(&out, "listener.name.clients.plain.sasl.jaas.config"));
        ck_assert_str_eq(props_get(&out, "sasl.mechanism.inter.broker.protocol"), "PLAIN");
        ck_assert_ptr_null(props_get(&out, "sasl.mechanism.controller.protocol"));
        ck_assert_int_eq(brokercfg_client(&in, &client, err, sizeof err), 0);
        struct dynbuf b;
        dynbuf_init(&b, 1 << 20);
        props_serialize(&client, &b);
        ck_assert_str_eq(dynbuf_str(&b),
                "bootstrap.servers=kafka-0.kafka-headless.prod.svc.cluster.local:9092\n"
                "security.protocol=sasl_ssl\n"
                "ssl.ca.location=/out/ca.pem\n"
                "ssl.keystore.location=/out/keystore.p12\n"
                "ssl.keystore.password=s3cret\n"
                "sasl.mechanism=PLAIN\n"
                "sasl.username=kafka\n"
                "sasl.password=pw\n");
        dynbuf_free(&b);
        props_free(&out);
        props_free(&client);
        initcfg_free(&x.c);
}
END_TEST

/* Kafka 4.x broker-only nodes look up the controller client's JAAS as the server context of
 * the controller listener; without it they exit at start-up ("Could not find a 'KafkaServer'
 * or 'controller.KafkaServer' entry in the JAAS configuration"). */
START_TEST(broker_only_node_gets_client_jaas_for_a_sasl_controller_listener) {
        char *env[] = { "POD_NAME=kafka-0", "POD_NAMESPACE=prod", "KPA_CLUSTER_ID=" CID,
                        "KPA_CONTROLLER_STATEFULSET=kraft",
                        "KPA_SECURITY_PROTOCOL_MAP=INTERNAL:SASL_SSL,CONTROLLER:SASL_SSL",
                        "KPA_TLS_DIR=/tls", "KPA_SASL_USERS_DIR=/users", "KPA_OUTPUT_DIR=/out", NULL };
        struct composed x;
        compose(env, &x);
        struct props out;
        struct broker_inputs in = { .cfg = &x.c, .id = &x.id, .active = &x.active, .store_password = "s3cret",
                                    .jaas_server = "SERVER-JAAS", .jaas_client = "CLIENT-JAAS",
                                    .agent_user = "kafka", .agent_password = "pw" };
        char err[512] = "";
        ck_assert_int_eq(brokercfg_server(&in, &out, err, sizeof err), 0);
        struct dynbuf b;
        dynbuf_init(&b, 1 << 20);
        props_serialize(&out, &b);
        ck_assert_str_eq(dynbuf_str(&b),
                "node.id=100\n"
                "process.roles=broker\n"
                "controller.quorum.voters=0@kraft-0.kraft-headless.prod.svc.cluster.local:9093,1@kraft-1.kraft-headless.prod.svc.cluster.local:9093,2@kraft-2.kraft-headless.prod.svc.cluster.local:9093\n"
                "controller.listener.names=CONTROLLER\n"
                "listeners=INTERNAL://:9092\n"
                "advertised.listeners=INTERNAL://kafka-0.kafka-headless.prod.svc.cluster.local:9092\n"
                "listener.security.protocol.map=INTERNAL:SASL_SSL,CONTROLLER:SASL_SSL\n"
                "inter.broker.listener.name=INTERNAL\n"
                "log.dirs=/var/lib/kafka/data\n"
                "ssl.keystore.location=/out/keystore.p12\n"
                "ssl.keystore.password=s3cret\n"
                "ssl.key.password=s3cret\n"
                "ssl.keystore.type=PKCS12\n"
                "ssl.truststore.location=/out/truststore.p12\n"
                "ssl.truststore.password=s3cret\n"
                "ssl.truststore.type=PKCS12\n"
                "ssl.client.auth=none\n"
                "listener.name.internal.sasl.enabled.mechanisms=PLAIN\n"
                "listener.name.internal.plain.sasl.jaas.config=SERVER-JAAS\n"
                "sasl.enabled.mechanisms=PLAIN\n"
                "sasl.mechanism.inter.broker.protocol=PLAIN\n"
                "sasl.mechanism.controller.protocol=PLAIN\n"
                "listener.name.controller.plain.sasl.jaas.config=CLIENT-JAAS\n");
        dynbuf_free(&b);
        props_free(&out);
        /* Without the client JAAS, the composition refuses rather than write a config the
         * broker cannot start with. */
        in.jaas_client = NULL;
        ck_assert_int_eq(brokercfg_server(&in, &out, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "listener CONTROLLER uses SASL but no client JAAS configuration was given for it");
        initcfg_free(&x.c);
}
END_TEST

START_TEST(only_the_controller_listener_uses_sasl_on_a_broker_only_node) {
        char *env[] = { "POD_NAME=kafka-4", "POD_NAMESPACE=prod", "KPA_CLUSTER_ID=" CID,
                        "KPA_SECURITY_PROTOCOL_MAP=INTERNAL:PLAINTEXT,CONTROLLER:SASL_PLAINTEXT",
                        "KPA_SASL_USERS_DIR=/users", NULL };
        struct composed x;
        compose(env, &x);
        ck_assert_int_eq(x.id.roles, ROLES_BROKER);
        struct props out;
        struct broker_inputs in = { .cfg = &x.c, .id = &x.id, .active = &x.active,
                                    .jaas_server = "SERVER-JAAS", .jaas_client = "CLIENT-JAAS" };
        char err[512] = "";
        ck_assert_int_eq(brokercfg_server(&in, &out, err, sizeof err), 0);
        ck_assert_str_eq(props_get(&out, "listener.name.controller.plain.sasl.jaas.config"), "CLIENT-JAAS");
        ck_assert_str_eq(props_get(&out, "sasl.mechanism.controller.protocol"), "PLAIN");
        /* It serves no SASL listener: nothing server-side. */
        ck_assert_ptr_null(props_get(&out, "listener.name.controller.sasl.enabled.mechanisms"));
        ck_assert_ptr_null(props_get(&out, "sasl.enabled.mechanisms"));
        ck_assert_ptr_null(props_get(&out, "sasl.mechanism.inter.broker.protocol"));
        props_free(&out);
        initcfg_free(&x.c);
        /* A combined node serves the controller listener: the server JAAS, which holds its
         * own credentials for the client side too. */
        env[0] = "POD_NAME=kafka-0";
        compose(env, &x);
        ck_assert_int_eq(x.id.roles, ROLES_COMBINED);
        in = (struct broker_inputs){ .cfg = &x.c, .id = &x.id, .active = &x.active,
                                     .jaas_server = "SERVER-JAAS", .jaas_client = "CLIENT-JAAS" };
        ck_assert_int_eq(brokercfg_server(&in, &out, err, sizeof err), 0);
        ck_assert_str_eq(props_get(&out, "listener.name.controller.plain.sasl.jaas.config"), "SERVER-JAAS");
        ck_assert_str_eq(props_get(&out, "listener.name.controller.sasl.enabled.mechanisms"), "PLAIN");
        props_free(&out);
        initcfg_free(&x.c);
}
END_TEST

/* ELR (KIP-966, default on clusters formatted by 4.1+): the first active controller turns its
 * own static min.insync.replicas into the cluster-wide value; a controller-only node that
 * states none would make it 1 whatever the brokers' template says. */
START_TEST(controller_only_node_without_min_insync_replicas_is_refused) {
        char *env[] = { "POD_NAME=kraft-0", "POD_NAMESPACE=prod", "KPA_CLUSTER_ID=" CID,
                        "KPA_CONTROLLER_STATEFULSET=kraft", NULL };
        struct composed x;
        compose(env, &x);
        struct props tmpl = { 0 }, out;
        props_set(&tmpl, "num.partitions", "6");
        struct broker_inputs in = { .cfg = &x.c, .id = &x.id, .active = &x.active, .tmpl = &tmpl };
        char err[600] = "";
        ck_assert_int_eq(brokercfg_server(&in, &out, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "controller-only node kraft-0 has no min.insync.replicas: on a new Kafka 4.1+ cluster "
                              "(ELR, KIP-966) the first active controller's value becomes the cluster-wide "
                              "min.insync.replicas and the brokers' own is ignored; set KPA_MIN_INSYNC_REPLICAS (or "
                              "min.insync.replicas in KPA_CONFIG_TEMPLATE) to the brokers' value");
        /* From the template (as Kafka reads an int: trimmed), it is a derived key. */
        props_set(&tmpl, "min.insync.replicas", " 2 ");
        ck_assert_int_eq(brokercfg_server(&in, &out, err, sizeof err), 0);
        struct dynbuf b;
        dynbuf_init(&b, 1 << 20);
        props_serialize(&out, &b);
        ck_assert_str_eq(dynbuf_str(&b),
                "node.id=0\n"
                "process.roles=controller\n"
                "controller.quorum.voters=0@kraft-0.kraft-headless.prod.svc.cluster.local:9093,1@kraft-1.kraft-headless.prod.svc.cluster.local:9093,2@kraft-2.kraft-headless.prod.svc.cluster.local:9093\n"
                "controller.listener.names=CONTROLLER\n"
                "listeners=CONTROLLER://:9093\n"
                "advertised.listeners=CONTROLLER://kraft-0.kraft-headless.prod.svc.cluster.local:9093\n"
                "listener.security.protocol.map=INTERNAL:PLAINTEXT,CONTROLLER:PLAINTEXT\n"
                "log.dirs=/var/lib/kafka/data\n"
                "min.insync.replicas=2\n"
                "num.partitions=6\n");
        dynbuf_free(&b);
        props_free(&out);
        props_free(&tmpl);
        initcfg_free(&x.c);
}
END_TEST

START_TEST(min_insync_replicas_goes_to_every_node_and_conflicts_are_refused) {
        /* A broker-only node of a separate-controller cluster: used while ELR is off. */
        char *env[] = { "POD_NAME=kafka-0", "POD_NAMESPACE=prod", "KPA_CLUSTER_ID=" CID,
                        "KPA_CONTROLLER_STATEFULSET=kraft", "KPA_MIN_INSYNC_REPLICAS=2", NULL };
        struct composed x;
        compose(env, &x);
        struct props tmpl = { 0 }, out;
        struct broker_inputs in = { .cfg = &x.c, .id = &x.id, .active = &x.active, .tmpl = &tmpl };
        char err[600] = "";
        ck_assert_int_eq(brokercfg_server(&in, &out, err, sizeof err), 0);
        ck_assert_str_eq(props_get(&out, "min.insync.replicas"), "2");
        props_free(&out);
        props_set(&tmpl, "min.insync.replicas", "2");
        ck_assert_int_eq(brokercfg_server(&in, &out, err, sizeof err), 0);
        ck_assert_str_eq(props_get(&out, "min.insync.replicas"), "2");
        props_free(&out);
        props_set(&tmpl, "min.insync.replicas", "1");
        ck_assert_int_eq(brokercfg_server(&in, &out, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "KPA_CONFIG_TEMPLATE sets min.insync.replicas=1 but KPA_MIN_INSYNC_REPLICAS is 2 (keep one of them)");
        props_set(&tmpl, "min.insync.replicas", "two\n");
        ck_assert_int_eq(brokercfg_server(&in, &out, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "KPA_CONFIG_TEMPLATE sets min.insync.replicas to \"two?\" (expected a whole number from 1 to 2147483647)");
        props_free(&tmpl);
        initcfg_free(&x.c);
        /* A broker states none: Kafka's default applies, nothing is written. */
        char *none[] = { "POD_NAME=kafka-0", "POD_NAMESPACE=prod", "KPA_CLUSTER_ID=" CID,
                         "KPA_CONTROLLER_STATEFULSET=kraft", NULL };
        compose(none, &x);
        in = (struct broker_inputs){ .cfg = &x.c, .id = &x.id, .active = &x.active };
        ck_assert_int_eq(brokercfg_server(&in, &out, err, sizeof err), 0);
        ck_assert_ptr_null(props_get(&out, "min.insync.replicas"));
        props_free(&out);
        initcfg_free(&x.c);
        expect_error((char *[]){ "POD_NAME=kafka-0", "POD_NAMESPACE=p", "KPA_CLUSTER_ID=" CID, "KPA_MIN_INSYNC_REPLICAS=0", NULL },
                     "KPA_MIN_INSYNC_REPLICAS \"0\" is not a whole number from 1 to 2147483647");
}
END_TEST

START_TEST(template_keys_that_contradict_kraft_are_refused) {
        char *env[] = { "POD_NAME=kafka-0", "POD_NAMESPACE=prod", "KPA_CLUSTER_ID=" CID, NULL };
        struct composed x;
        compose(env, &x);
        struct props tmpl = { 0 }, out;
        props_set(&tmpl, "broker.id", "7");
        struct broker_inputs in = { .cfg = &x.c, .id = &x.id, .active = &x.active, .tmpl = &tmpl };
        char err[512] = "";
        ck_assert_int_eq(brokercfg_server(&in, &out, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "KPA_CONFIG_TEMPLATE sets broker.id, which contradicts the KRaft node.id kpa-init derives (remove it)");
        props_free(&tmpl);
        initcfg_free(&x.c);
}
END_TEST

START_TEST(advertised_address_must_be_host_port) {
        char *env[] = { "POD_NAME=kafka-0", "POD_NAMESPACE=prod", "KPA_CLUSTER_ID=" CID,
                        "KPA_ADVERTISED_INTERNAL={pod}", NULL };
        struct init_config c;
        char err[512] = "";
        ck_assert_int_eq(load(env, 0, NULL, &c, err), 0);
        struct identity id = { .node_id = 0, .roles = ROLES_COMBINED };
        struct listener_set active;
        ck_assert_int_eq(brokercfg_active_listeners(&c, &id, &active, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "KPA_ADVERTISED_INTERNAL expands to \"kafka-0\" (expected host:port, [IPv6]:port, port 1-65535)");
        initcfg_free(&c);
}
END_TEST

START_TEST(meta_properties_of_another_broker_or_cluster_is_refused) {
        char *dir = tu_mkdtemp();
        char *dirs[] = { dir };
        char err[512] = "";
        ck_assert_int_eq(storage_check_meta(dirs, 1, 3, CID, err, sizeof err), 0);
        tu_write(dir, "meta.properties", "version=1\nnode.id=3\ncluster.id=" CID "\n");
        ck_assert_int_eq(storage_check_meta(dirs, 1, 3, CID, err, sizeof err), 0);
        ck_assert_int_eq(storage_check_meta(dirs, 1, 4, CID, err, sizeof err), -EINVAL);
        char want[1024];
        snprintf(want, sizeof want, "%s/meta.properties says node.id 3 but this pod is node.id 4: the volume belongs to another broker (check KPA_NODE_ID_OFFSET and the PVC)", dir);
        ck_assert_str_eq(err, want);
        ck_assert_int_eq(storage_check_meta(dirs, 1, 3, "5L6g3nShT-eMCtK--X86sw", err, sizeof err), -EINVAL);
        snprintf(want, sizeof want, "%s/meta.properties says cluster.id " CID " but KPA_CLUSTER_ID is 5L6g3nShT-eMCtK--X86sw: the volume belongs to another cluster", dir);
        ck_assert_str_eq(err, want);
        tu_rmtree(dir);
        free(dir);
}
END_TEST

int main(void) {
        Suite *s = suite_create("brokercfg");
        TCase *tc = tcase_create("initcfg");
        tcase_add_test(tc, defaults_follow_the_statefulset_name);
        tcase_add_test(tc, flags_override_environment);
        tcase_add_test(tc, separate_controllers_move_the_default_broker_offset_to_100);
        tcase_add_test(tc, each_bad_input_gets_one_line_naming_it);
        tcase_add_test(tc, a_flag_error_names_the_flag);
        tcase_add_test(tc, two_advertised_templates_for_one_listener_are_refused);
        suite_add_tcase(s, tc);
        tc = tcase_create("brokercfg");
        tcase_add_test(tc, server_properties_for_a_combined_node);
        tcase_add_test(tc, broker_only_node_drops_the_controller_listener);
        tcase_add_test(tc, controller_only_node_keeps_only_the_controller_listener);
        tcase_add_test(tc, tls_and_sasl_keys_and_client_properties);
        tcase_add_test(tc, broker_only_node_gets_client_jaas_for_a_sasl_controller_listener);
        tcase_add_test(tc, only_the_controller_listener_uses_sasl_on_a_broker_only_node);
        tcase_add_test(tc, template_keys_that_contradict_kraft_are_refused);
        tcase_add_test(tc, controller_only_node_without_min_insync_replicas_is_refused);
        tcase_add_test(tc, min_insync_replicas_goes_to_every_node_and_conflicts_are_refused);
        tcase_add_test(tc, advertised_address_must_be_host_port);
        suite_add_tcase(s, tc);
        tc = tcase_create("storage");
        tcase_add_test(tc, meta_properties_of_another_broker_or_cluster_is_refused);
        suite_add_tcase(s, tc);
        return tu_run_suite(s);
}
