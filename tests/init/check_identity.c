/* identity and listeners: pod name -> ordinal/node id/roles/voters, listener specs, templates. */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "kpa/identity.h"
#include "kpa/listeners.h"
#include "testutil.h"

START_TEST(split_pod_name_takes_the_last_dash_suffix) {
        char sts[64];
        uint32_t ord = 99;
        ck_assert_int_eq(identity_split_pod_name("kafka-broker-12", sts, &ord), 0);
        ck_assert_str_eq(sts, "kafka-broker");
        ck_assert_uint_eq(ord, 12);
        ck_assert_int_eq(identity_split_pod_name("kafka-0", sts, &ord), 0);
        ck_assert_uint_eq(ord, 0);
}
END_TEST

START_TEST(split_pod_name_refuses_names_without_an_ordinal) {
        char sts[64];
        uint32_t ord = 99;
        ck_assert_int_eq(identity_split_pod_name("kafka", sts, &ord), -EINVAL);
        ck_assert_int_eq(identity_split_pod_name("kafka-", sts, &ord), -EINVAL);
        ck_assert_int_eq(identity_split_pod_name("kafka-01", sts, &ord), -EINVAL);
        ck_assert_int_eq(identity_split_pod_name("kafka-x", sts, &ord), -EINVAL);
        ck_assert_int_eq(identity_split_pod_name("-1", sts, &ord), -EINVAL);
        ck_assert_int_eq(identity_split_pod_name("Kafka-1", sts, &ord), -EINVAL);
        ck_assert_int_eq(identity_split_pod_name("a--1", sts, &ord), -EINVAL);
        ck_assert_uint_eq(ord, 99);
}
END_TEST

START_TEST(cluster_id_must_be_canonical_base64url_of_16_bytes) {
        ck_assert(identity_is_cluster_id("MkU3OEVBNTcwNTJENDM2Qg"));
        ck_assert(identity_is_cluster_id("5L6g3nShT-eMCtK--X86sw"));
        ck_assert(!identity_is_cluster_id("MkU3OEVBNTcwNTJENDM2Q"));    /* 21 chars */
        ck_assert(!identity_is_cluster_id("MkU3OEVBNTcwNTJENDM2Qh"));   /* non-zero trailing bits */
        ck_assert(!identity_is_cluster_id("MkU3OEVBNTcwNTJENDM2Q="));   /* padding */
        ck_assert(!identity_is_cluster_id("MkU3OEVBNTcwNTJENDM2+g"));   /* base64, not url */
        ck_assert(!identity_is_cluster_id("AAAAAAAAAAAAAAAAAAAAAA"));   /* reserved zero */
        ck_assert(!identity_is_cluster_id("AAAAAAAAAAAAAAAAAAAAAQ"));   /* reserved metadata id */
}
END_TEST

static struct cluster_shape shape(uint32_t ordinal) {
        return (struct cluster_shape){
                .statefulset = "kafka", .ordinal = ordinal, .namespace_ = "prod",
                .service = "kafka-headless", .domain = "cluster.local", .node_id_offset = 100,
                .controller_count = 3, .controller_port = 9093,
        };
}

START_TEST(combined_mode_low_ordinals_are_controllers) {
        struct identity id;
        char err[256];
        struct cluster_shape c = shape(2);
        ck_assert_int_eq(identity_derive(&c, &id, err, sizeof err), 0);
        ck_assert_uint_eq(id.node_id, 102);
        ck_assert_int_eq(id.roles, ROLES_COMBINED);
        ck_assert_str_eq(identity_roles_string(id.roles), "broker,controller");
        ck_assert_str_eq(id.fqdn, "kafka-2.kafka-headless.prod.svc.cluster.local");
        ck_assert_str_eq(id.voters,
                         "100@kafka-0.kafka-headless.prod.svc.cluster.local:9093,"
                         "101@kafka-1.kafka-headless.prod.svc.cluster.local:9093,"
                         "102@kafka-2.kafka-headless.prod.svc.cluster.local:9093");
        c = shape(3);
        ck_assert_int_eq(identity_derive(&c, &id, err, sizeof err), 0);
        ck_assert_int_eq(id.roles, ROLES_BROKER);
        ck_assert_uint_eq(id.node_id, 103);
}
END_TEST

START_TEST(separate_controller_statefulset_sets_roles_and_voters) {
        struct identity id;
        char err[256];
        struct cluster_shape c = shape(0);
        c.controller_statefulset = "kraft";
        c.controller_service = "kraft-headless";
        c.controller_node_id_offset = 9000;
        ck_assert_int_eq(identity_derive(&c, &id, err, sizeof err), 0);
        ck_assert_int_eq(id.roles, ROLES_BROKER);
        ck_assert_uint_eq(id.node_id, 100);
        ck_assert_str_eq(id.voters,
                         "9000@kraft-0.kraft-headless.prod.svc.cluster.local:9093,"
                         "9001@kraft-1.kraft-headless.prod.svc.cluster.local:9093,"
                         "9002@kraft-2.kraft-headless.prod.svc.cluster.local:9093");
        c.statefulset = "kraft";
        c.service = "kraft-headless";
        c.ordinal = 1;
        ck_assert_int_eq(identity_derive(&c, &id, err, sizeof err), 0);
        ck_assert_int_eq(id.roles, ROLES_CONTROLLER);
        ck_assert_uint_eq(id.node_id, 9001);
        c.ordinal = 3;
        ck_assert_int_eq(identity_derive(&c, &id, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "controller pod ordinal 3 is not below KPA_CONTROLLER_COUNT 3 (scale the controller StatefulSet to 3, or raise the count)");
}
END_TEST

/* Kafka refuses a broker-only node whose node.id is a voter: "If process.roles contains just
 * the 'broker' role, the node id 0 must not be included in the set of voters". */
START_TEST(separate_mode_broker_whose_node_id_is_a_voter_is_refused) {
        struct identity id = { .node_id = 77 };
        char err[512];
        struct cluster_shape c = shape(0);
        c.controller_statefulset = "kraft";
        c.controller_service = "kraft-headless";
        c.node_id_offset = 0;
        c.controller_node_id_offset = 0;
        ck_assert_int_eq(identity_derive(&c, &id, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "broker and controller node ids overlap: broker pod kafka-0 would get node.id 0 "
                              "(KPA_NODE_ID_OFFSET 0 + ordinal 0), the node.id of controller pod kraft-0 "
                              "(KPA_CONTROLLER_NODE_ID_OFFSET 0 + ordinal 0), and Kafka refuses a broker whose "
                              "node.id is a voter; set KPA_NODE_ID_OFFSET to at least 3 (the default with "
                              "KPA_CONTROLLER_STATEFULSET is 100)");
        ck_assert_uint_eq(id.node_id, 77);
        /* Brokers below the controllers are fine until a lower ordinal reaches them: kafka-2
         * (node.id 2) starts, kafka-5 is refused for kafka-3, the first that would collide. */
        c.controller_node_id_offset = 3;
        c.ordinal = 2;
        ck_assert_int_eq(identity_derive(&c, &id, err, sizeof err), 0);
        ck_assert_uint_eq(id.node_id, 2);
        c.ordinal = 5;
        ck_assert_int_eq(identity_derive(&c, &id, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "broker and controller node ids overlap: broker pod kafka-3 would get node.id 3 "
                              "(KPA_NODE_ID_OFFSET 0 + ordinal 3), the node.id of controller pod kraft-0 "
                              "(KPA_CONTROLLER_NODE_ID_OFFSET 3 + ordinal 0), and Kafka refuses a broker whose "
                              "node.id is a voter; set KPA_NODE_ID_OFFSET to at least 6 (the default with "
                              "KPA_CONTROLLER_STATEFULSET is 100)");
        /* Brokers starting inside the controllers' range: the first broker collides. */
        c.node_id_offset = 101;
        c.controller_node_id_offset = 100;
        c.ordinal = 0;
        ck_assert_int_eq(identity_derive(&c, &id, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "broker and controller node ids overlap: broker pod kafka-0 would get node.id 101 "
                              "(KPA_NODE_ID_OFFSET 101 + ordinal 0), the node.id of controller pod kraft-1 "
                              "(KPA_CONTROLLER_NODE_ID_OFFSET 100 + ordinal 1), and Kafka refuses a broker whose "
                              "node.id is a voter; set KPA_NODE_ID_OFFSET to at least 103 (the default with "
                              "KPA_CONTROLLER_STATEFULSET is 100)");
        /* The controllers themselves are voters by design, never refused for it. */
        c.statefulset = "kraft";
        c.service = "kraft-headless";
        c.ordinal = 1;
        ck_assert_int_eq(identity_derive(&c, &id, err, sizeof err), 0);
        ck_assert_uint_eq(id.node_id, 101);
        ck_assert_int_eq(id.roles, ROLES_CONTROLLER);
}
END_TEST

START_TEST(separate_mode_brokers_above_the_controllers_are_accepted) {
        struct identity id;
        char err[512];
        struct cluster_shape c = shape(0);
        c.controller_statefulset = "kraft";
        c.controller_service = "kraft-headless";
        c.node_id_offset = 3;
        c.controller_node_id_offset = 0;
        ck_assert_int_eq(identity_derive(&c, &id, err, sizeof err), 0);
        ck_assert_uint_eq(id.node_id, 3);
        ck_assert_int_eq(id.roles, ROLES_BROKER);
        /* The largest controller quorum with the default offsets stays below brokers at 100. */
        c.node_id_offset = IDENTITY_SEPARATE_BROKER_OFFSET;
        c.controller_count = IDENTITY_MAX_CONTROLLERS;
        ck_assert_int_eq(identity_derive(&c, &id, err, sizeof err), 0);
        ck_assert_uint_eq(id.node_id, 100);
}
END_TEST

START_TEST(node_id_overflow_is_refused) {
        struct identity id;
        char err[256];
        struct cluster_shape c = shape(5);
        c.node_id_offset = 2147483645u;
        ck_assert_int_eq(identity_derive(&c, &id, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "node.id 2147483650 (offset 2147483645 + ordinal 5) exceeds 2147483647");
}
END_TEST

START_TEST(listeners_parse_names_hosts_ports_and_default_protocols) {
        struct listener_set ls;
        char err[256];
        ck_assert_int_eq(listeners_parse("internal://:9092,SSL://0.0.0.0:9094,EXT://[::]:9095,CONTROLLER://:9093",
                                         "KPA_LISTENERS", &ls, err, sizeof err), 0);
        ck_assert_uint_eq(ls.n, 4);
        ck_assert_str_eq(ls.v[0].name, "INTERNAL");
        ck_assert_str_eq(ls.v[0].host, "");
        ck_assert_uint_eq(ls.v[0].port, 9092);
        ck_assert_int_eq(ls.v[0].proto, PROTO_PLAINTEXT);
        ck_assert_int_eq(ls.v[1].proto, PROTO_SSL);
        ck_assert_str_eq(ls.v[2].host, "[::]");
        ck_assert_int_eq(listeners_apply_protocol_map(&ls, "EXT:SASL_SSL,internal:ssl", "MAP", err, sizeof err), 0);
        ck_assert_int_eq(ls.v[2].proto, PROTO_SASL_SSL);
        ck_assert_int_eq(ls.v[0].proto, PROTO_SSL);
}
END_TEST

START_TEST(listeners_parse_refuses_duplicates_conflicts_and_malformed) {
        struct listener_set ls;
        char err[256];
        ck_assert_int_eq(listeners_parse("A://:9092,a://:9093", "KPA_LISTENERS", &ls, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "KPA_LISTENERS names listener A twice");
        ck_assert_int_eq(listeners_parse("A://:9092,B://10.0.0.1:9092", "KPA_LISTENERS", &ls, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "KPA_LISTENERS: listeners A and B both use port 9092");
        ck_assert_int_eq(listeners_parse("A://10.0.0.2:9092,B://10.0.0.1:9092", "KPA_LISTENERS", &ls, err, sizeof err), 0);
        ck_assert_int_eq(listeners_parse("A:/:9092", "KPA_LISTENERS", &ls, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "KPA_LISTENERS entry \"A:/:9092\" is malformed (expected NAME://host:port, NAME of letters, digits and _)");
        ck_assert_int_eq(listeners_parse("A://:70000", "KPA_LISTENERS", &ls, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "KPA_LISTENERS entry \"A://:70000\" is malformed (expected NAME://host:port with port 1-65535)");
        ck_assert_int_eq(listeners_parse("A://:9092,", "KPA_LISTENERS", &ls, err, sizeof err), -EINVAL);
        ck_assert_int_eq(listeners_parse("", "KPA_LISTENERS", &ls, err, sizeof err), -EINVAL);
        ck_assert_int_eq(listeners_parse("A://::1:9092", "KPA_LISTENERS", &ls, err, sizeof err), -EINVAL);
}
END_TEST

START_TEST(protocol_map_refuses_unknown_listeners_and_protocols) {
        struct listener_set ls;
        char err[256];
        listeners_parse("A://:9092", "KPA_LISTENERS", &ls, err, sizeof err);
        ck_assert_int_eq(listeners_apply_protocol_map(&ls, "B:SSL", "KPA_SECURITY_PROTOCOL_MAP", err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "KPA_SECURITY_PROTOCOL_MAP maps B, which is not a listener in KPA_LISTENERS");
        ck_assert_int_eq(listeners_apply_protocol_map(&ls, "A:TLS", "KPA_SECURITY_PROTOCOL_MAP", err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "KPA_SECURITY_PROTOCOL_MAP maps A to unknown protocol \"TLS\" (expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL)");
}
END_TEST

static const struct template_vars vars = {
        .pod = "kafka-2", .namespace_ = "prod", .service = "kafka-headless", .domain = "cluster.local",
        .pod_ip = "10.1.2.3", .host_ip = NULL, .node = "node-a", .ordinal = 2, .node_id = 102, .port = 9094,
};

START_TEST(template_expands_every_placeholder_and_arithmetic) {
        char out[256], err[256];
        ck_assert_int_eq(template_expand("{pod}.{service}.{namespace}.svc.{domain}:{port}", &vars, "T", out, sizeof out, err, sizeof err), 0);
        ck_assert_str_eq(out, "kafka-2.kafka-headless.prod.svc.cluster.local:9094");
        ck_assert_int_eq(template_expand("{node}.example.com:{31090+ordinal}", &vars, "T", out, sizeof out, err, sizeof err), 0);
        ck_assert_str_eq(out, "node-a.example.com:31092");
        ck_assert_int_eq(template_expand("b{node_id}.x:{ordinal+100}/{node_id+1}/{pod_ip}", &vars, "T", out, sizeof out, err, sizeof err), 0);
        ck_assert_str_eq(out, "b102.x:102/103/10.1.2.3");
}
END_TEST

START_TEST(template_refuses_unknown_unset_and_unbalanced) {
        char out[256], err[512];
        ck_assert_int_eq(template_expand("{pods}:1", &vars, "KPA_ADVERTISED_EXT", out, sizeof out, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "KPA_ADVERTISED_EXT uses unknown placeholder {pods} (expected pod, ordinal, node_id, namespace, service, domain, pod_ip, host_ip, node, port, or N+ordinal / N+node_id)");
        ck_assert_int_eq(template_expand("{host_ip}:1", &vars, "KPA_ADVERTISED_EXT", out, sizeof out, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "KPA_ADVERTISED_EXT uses {host_ip} but HOST_IP is not set");
        ck_assert_int_eq(template_expand("{pod:1", &vars, "KPA_ADVERTISED_EXT", out, sizeof out, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "KPA_ADVERTISED_EXT has an unterminated placeholder in \"{pod:1\"");
        ck_assert_int_eq(template_expand("pod}:1", &vars, "KPA_ADVERTISED_EXT", out, sizeof out, err, sizeof err), -EINVAL);
        ck_assert_int_eq(template_expand("{x+ordinal}", &vars, "KPA_ADVERTISED_EXT", out, sizeof out, err, sizeof err), -EINVAL);
        ck_assert_int_eq(template_expand("{pod}{pod}{pod}", &vars, "T", out, 10, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "T expands to more than 9 characters");
}
END_TEST

START_TEST(split_hostport_handles_ipv6_and_rejects_garbage) {
        char host[256];
        uint16_t port;
        ck_assert_int_eq(listeners_split_hostport("[fd00::1]:9092", host, sizeof host, &port), 0);
        ck_assert_str_eq(host, "[fd00::1]");
        ck_assert_uint_eq(port, 9092);
        ck_assert_int_eq(listeners_split_hostport("a.b:0", host, sizeof host, &port), -ERANGE);
        ck_assert_int_eq(listeners_split_hostport("a b:1", host, sizeof host, &port), -EINVAL);
        ck_assert_int_eq(listeners_split_hostport("nohost", host, sizeof host, &port), -EINVAL);
}
END_TEST

int main(void) {
        Suite *s = suite_create("identity");
        TCase *tc = tcase_create("identity");
        tcase_add_test(tc, split_pod_name_takes_the_last_dash_suffix);
        tcase_add_test(tc, split_pod_name_refuses_names_without_an_ordinal);
        tcase_add_test(tc, cluster_id_must_be_canonical_base64url_of_16_bytes);
        tcase_add_test(tc, combined_mode_low_ordinals_are_controllers);
        tcase_add_test(tc, separate_controller_statefulset_sets_roles_and_voters);
        tcase_add_test(tc, node_id_overflow_is_refused);
        tcase_add_test(tc, separate_mode_broker_whose_node_id_is_a_voter_is_refused);
        tcase_add_test(tc, separate_mode_brokers_above_the_controllers_are_accepted);
        suite_add_tcase(s, tc);
        tc = tcase_create("listeners");
        tcase_add_test(tc, listeners_parse_names_hosts_ports_and_default_protocols);
        tcase_add_test(tc, listeners_parse_refuses_duplicates_conflicts_and_malformed);
        tcase_add_test(tc, protocol_map_refuses_unknown_listeners_and_protocols);
        tcase_add_test(tc, template_expands_every_placeholder_and_arithmetic);
        tcase_add_test(tc, template_refuses_unknown_unset_and_unbalanced);
        tcase_add_test(tc, split_hostport_handles_ipv6_and_rejects_garbage);
        suite_add_tcase(s, tc);
        return tu_run_suite(s);
}
