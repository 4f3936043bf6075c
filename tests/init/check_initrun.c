/* The kpa-init program end to end: real files, real process, exit codes, idempotence,
 * atomicity (a failing run leaves earlier output byte-identical), dry run, SASL. */
#include <check.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

#define CID "MkU3OEVBNTcwNTJENDM2Qg"

struct env {
        char *root;
        char out[600], data[600], ca[600], users[600];
};

static void env_setup(struct env *e) {
        e->root = tu_mkdtemp();
        snprintf(e->out, sizeof e->out, "%s/out", e->root);
        snprintf(e->data, sizeof e->data, "%s/data", e->root);
        snprintf(e->ca, sizeof e->ca, "%s/ca", e->root);
        snprintf(e->users, sizeof e->users, "%s/users", e->root);
        ck_assert_int_eq(mkdir(e->out, 0755), 0);
        ck_assert_int_eq(mkdir(e->data, 0755), 0);
        ck_assert_int_eq(mkdir(e->ca, 0700), 0);
        ck_assert_int_eq(mkdir(e->users, 0700), 0);
        /* A CA made by the openssl CLI, as an operator would. */
        char key[700], crt[700];
        snprintf(key, sizeof key, "%s/ca.key", e->ca);
        snprintf(crt, sizeof crt, "%s/ca.crt", e->ca);
        char *argv[] = { "/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                         "-nodes", "-keyout", key, "-out", crt, "-days", "30", "-subj", "/CN=kpa test CA",
                         "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign", NULL };
        ck_assert_int_eq(tu_run(argv, NULL, NULL, NULL), 0);
        tu_write(e->users, "kafka", "broker-pw\n");
        tu_write(e->users, "alice", "alice-pw\n");
}

static void env_teardown(struct env *e) {
        tu_rmtree(e->root);
        free(e->root);
}

/* Runs kpa-init with the base identity plus extra variables; returns the exit code. */
static int run_init(const struct env *e, char *const extra[], char *const args[], char **ret_out, char **ret_err) {
        char bin[600], out[700], data[700];
        snprintf(bin, sizeof bin, "%s/kpa-init", tu_build_dir());
        snprintf(out, sizeof out, "KPA_OUTPUT_DIR=%s", e->out);
        snprintf(data, sizeof data, "KPA_LOG_DIRS=%s", e->data);
        char *envp[32] = { "POD_NAME=kafka-1", "POD_NAMESPACE=prod", "KPA_CLUSTER_ID=" CID, out, data };
        size_t n = 5;
        for (size_t i = 0; extra && extra[i]; i++)
                envp[n++] = extra[i];
        envp[n] = NULL;
        char *argv[16] = { bin };
        size_t a = 1;
        for (size_t i = 0; args && args[i]; i++)
                argv[a++] = args[i];
        argv[a] = NULL;
        return tu_run(argv, envp, ret_out, ret_err);
}

/* Concatenates name + content of every file in dir, sorted, as a fingerprint. */
static char *snapshot_dir(const char *dir) {
        struct dirent **names;
        int n = scandir(dir, &names, NULL, alphasort);
        ck_assert_int_ge(n, 0);
        size_t cap = 1 << 20, len = 0;
        char *buf = calloc(1, cap);
        for (int i = 0; i < n; i++) {
                if (names[i]->d_name[0] != '.') {
                        char path[900];
                        snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);
                        struct stat st;
                        ck_assert_int_eq(stat(path, &st), 0);
                        len += (size_t) snprintf(buf + len, cap - len, "== %s %o\n", names[i]->d_name,
                                                 (unsigned) (st.st_mode & 0777));
                        FILE *f = fopen(path, "rb");
                        if (f) {
                                size_t got = fread(buf + len, 1, cap - len - 1, f);
                                /* Stores are binary: keep their bytes comparable as a string. */
                                for (size_t k = len; k < len + got; k++)
                                        if (buf[k] == '\0')
                                                buf[k] = '\1';
                                len += got;
                                fclose(f);
                        }
                }
                free(names[i]);
        }
        free(names);
        return buf;
}

static char *tls_extra_ca(const struct env *e, char *buf, size_t len) {
        snprintf(buf, len, "KPA_TLS_CA_DIR=%s", e->ca);
        return buf;
}

START_TEST(tls_run_writes_every_file_with_its_mode_and_repeats_byte_for_byte) {
        struct env e;
        env_setup(&e);
        char ca[700];
        char *extra[] = { tls_extra_ca(&e, ca, sizeof ca), "KPA_SECURITY_PROTOCOL_MAP=INTERNAL:SSL", NULL };
        char *err = NULL;
        ck_assert_int_eq(run_init(&e, extra, NULL, NULL, &err), 0);
        free(err);
        char *first = snapshot_dir(e.out);
        ck_assert_msg(strstr(first, "== server.properties 600\n") != NULL, "%s", first);
        ck_assert_ptr_nonnull(strstr(first, "== keystore.p12 600\n"));
        ck_assert_ptr_nonnull(strstr(first, "== truststore.p12 600\n"));
        ck_assert_ptr_nonnull(strstr(first, "== store.password 600\n"));
        ck_assert_ptr_nonnull(strstr(first, "== ca.pem 644\n"));
        ck_assert_ptr_nonnull(strstr(first, "== cluster.id 644\n" CID "\n"));
        ck_assert_ptr_nonnull(strstr(first, "\nnode.id=1\n"));
        ck_assert_ptr_nonnull(strstr(first, "\nssl.truststore.type=PKCS12\n"));
        ck_assert_ptr_nonnull(strstr(first, "\nsecurity.protocol=ssl\n"));
        /* The second run, with the stores and the kept password in place, changes nothing. */
        ck_assert_int_eq(run_init(&e, extra, NULL, NULL, &err), 0);
        ck_assert_ptr_nonnull(strstr(err, "TLS stores unchanged"));
        free(err);
        char *second = snapshot_dir(e.out);
        ck_assert_str_eq(first, second);
        free(first);
        free(second);
        env_teardown(&e);
}
END_TEST

START_TEST(bad_input_exits_2_with_one_line_and_changes_nothing) {
        struct env e;
        env_setup(&e);
        ck_assert_int_eq(run_init(&e, NULL, NULL, NULL, NULL), 0);
        char *before = snapshot_dir(e.out);
        char *err = NULL;
        ck_assert_int_eq(run_init(&e, (char *[]){ "POD_NAME=kafka", NULL }, NULL, NULL, &err), 2);
        ck_assert_str_eq(err, "kpa-init: POD_NAME \"kafka\" has no ordinal suffix (expected <statefulset>-<n>, a DNS label)\n");
        free(err);
        /* A template that is a FIFO is refused at once, not waited on. */
        char fifo[700], tmpl[800];
        snprintf(fifo, sizeof fifo, "%s/template.fifo", e.root);
        ck_assert_int_eq(mkfifo(fifo, 0600), 0);
        snprintf(tmpl, sizeof tmpl, "KPA_CONFIG_TEMPLATE=%s", fifo);
        ck_assert_int_eq(run_init(&e, (char *[]){ tmpl, NULL }, NULL, NULL, &err), 2);
        char want_fifo[1000];
        snprintf(want_fifo, sizeof want_fifo, "kpa-init: KPA_CONFIG_TEMPLATE %s cannot be read: not a regular file\n", fifo);
        ck_assert_str_eq(err, want_fifo);
        free(err);
        /* A volume of another broker is bad input too. */
        tu_write(e.data, "meta.properties", "version=1\nnode.id=7\ncluster.id=" CID "\n");
        ck_assert_int_eq(run_init(&e, NULL, NULL, NULL, &err), 2);
        ck_assert_ptr_nonnull(strstr(err, "says node.id 7 but this pod is node.id 1"));
        ck_assert_ptr_eq(strchr(err, '\n'), err + strlen(err) - 1);
        free(err);
        char *after = snapshot_dir(e.out);
        ck_assert_str_eq(before, after);
        free(before);
        free(after);
        env_teardown(&e);
}
END_TEST

START_TEST(overlapping_node_id_offsets_exit_2_and_write_nothing) {
        struct env e;
        env_setup(&e);
        char *err = NULL;
        ck_assert_int_eq(run_init(&e, (char *[]){ "POD_NAME=kafka-0", "KPA_CONTROLLER_STATEFULSET=kraft",
                                                  "KPA_NODE_ID_OFFSET=0", NULL }, NULL, NULL, &err), 2);
        ck_assert_str_eq(err, "kpa-init: broker and controller node ids overlap: broker pod kafka-0 would get "
                              "node.id 0 (KPA_NODE_ID_OFFSET 0 + ordinal 0), the node.id of controller pod kraft-0 "
                              "(KPA_CONTROLLER_NODE_ID_OFFSET 0 + ordinal 0), and Kafka refuses a broker whose "
                              "node.id is a voter; set KPA_NODE_ID_OFFSET to at least 3 (the default with "
                              "KPA_CONTROLLER_STATEFULSET is 100)\n");
        free(err);
        char *files = snapshot_dir(e.out);
        ck_assert_str_eq(files, "");
        free(files);
        /* The defaults do not overlap: brokers from 100, controllers 0-2. */
        char *out = NULL;
        ck_assert_int_eq(run_init(&e, (char *[]){ "POD_NAME=kafka-0", "KPA_CONTROLLER_STATEFULSET=kraft", NULL },
                                  (char *[]){ "--dry-run", NULL }, &out, NULL), 0);
        ck_assert_ptr_nonnull(strstr(out, "\nnode.id=100\nprocess.roles=broker\ncontroller.quorum.voters=0@kraft-0."));
        free(out);
        env_teardown(&e);
}
END_TEST

START_TEST(write_failure_exits_1_and_leaves_earlier_output_byte_identical) {
        struct env e;
        env_setup(&e);
        ck_assert_int_eq(run_init(&e, NULL, NULL, NULL, NULL), 0);
        /* Replace client.properties by a directory: its rename must fail, and then no other
         * file may have been replaced either. */
        char path[700];
        snprintf(path, sizeof path, "%s/client.properties", e.out);
        ck_assert_int_eq(unlink(path), 0);
        ck_assert_int_eq(mkdir(path, 0755), 0);
        char *before = snapshot_dir(e.out);
        char *err = NULL;
        ck_assert_int_eq(run_init(&e, (char *[]){ "KPA_RACK=zone-b", NULL }, NULL, NULL, &err), 1);
        ck_assert_ptr_nonnull(strstr(err, "client.properties: not a regular file"));
        free(err);
        char *after = snapshot_dir(e.out);
        ck_assert_str_eq(before, after);
        ck_assert_ptr_null(strstr(after, "zone-b"));
        free(before);
        free(after);
        /* No temporary is left behind. */
        struct dirent **names;
        int n = scandir(e.out, &names, NULL, alphasort);
        for (int i = 0; i < n; i++) {
                ck_assert_ptr_null(strstr(names[i]->d_name, "kpa-tmp"));
                free(names[i]);
        }
        free(names);
        env_teardown(&e);
}
END_TEST

START_TEST(dry_run_prints_masked_and_writes_nothing) {
        struct env e;
        env_setup(&e);
        char users[700], ca[700];
        snprintf(users, sizeof users, "KPA_SASL_USERS_DIR=%s", e.users);
        char *extra[] = { users, tls_extra_ca(&e, ca, sizeof ca), "KPA_SECURITY_PROTOCOL_MAP=INTERNAL:SASL_SSL", NULL };
        char *out = NULL;
        ck_assert_int_eq(run_init(&e, extra, (char *[]){ "--dry-run", NULL }, &out, NULL), 0);
        ck_assert_ptr_nonnull(strstr(out, "==> server.properties (mode 0600)\n"));
        ck_assert_ptr_nonnull(strstr(out, "\nlistener.name.internal.plain.sasl.jaas.config=<masked>\n"));
        ck_assert_ptr_nonnull(strstr(out, "\nssl.keystore.password=<masked>\n"));
        ck_assert_ptr_nonnull(strstr(out, "\nsasl.password=<masked>\n"));
        ck_assert_ptr_nonnull(strstr(out, "==> keystore.p12 (mode 0600)\n<PKCS12, "));
        ck_assert_ptr_null(strstr(out, "broker-pw"));
        ck_assert_ptr_null(strstr(out, "alice-pw"));
        free(out);
        char *files = snapshot_dir(e.out);
        ck_assert_str_eq(files, "");
        free(files);
        env_teardown(&e);
}
END_TEST

START_TEST(sasl_users_become_jaas_and_agent_credentials) {
        struct env e;
        env_setup(&e);
        char users[700];
        snprintf(users, sizeof users, "KPA_SASL_USERS_DIR=%s", e.users);
        char *extra[] = { users, "KPA_SECURITY_PROTOCOL_MAP=INTERNAL:SASL_PLAINTEXT", NULL };
        ck_assert_int_eq(run_init(&e, extra, NULL, NULL, NULL), 0);
        char *server = tu_read(e.out, "server.properties"), *client = tu_read(e.out, "client.properties");
        ck_assert_ptr_nonnull(strstr(server,
                "\nlistener.name.internal.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required "
                "username=\"kafka\" password=\"broker-pw\" user_alice=\"alice-pw\" user_kafka=\"broker-pw\";\n"));
        ck_assert_ptr_nonnull(strstr(server, "\nsasl.mechanism.inter.broker.protocol=PLAIN\n"));
        ck_assert_ptr_nonnull(strstr(client, "\nsecurity.protocol=sasl_plaintext\nsasl.mechanism=PLAIN\nsasl.username=kafka\nsasl.password=broker-pw\n"));
        struct stat st;
        char path[700];
        snprintf(path, sizeof path, "%s/server.properties", e.out);
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_uint_eq(st.st_mode & 0777, 0600);
        free(server);
        free(client);
        /* An inter-broker user without a password file is refused. */
        char *err = NULL;
        char *extra2[] = { users, "KPA_SECURITY_PROTOCOL_MAP=INTERNAL:SASL_PLAINTEXT", "KPA_SASL_INTER_BROKER_USER=bob", NULL };
        ck_assert_int_eq(run_init(&e, extra2, NULL, NULL, &err), 2);
        char want[1000];
        snprintf(want, sizeof want, "kpa-init: KPA_SASL_USERS_DIR %s has no file for the inter-broker user \"bob\" (set KPA_SASL_INTER_BROKER_USER or add the user)\n", e.users);
        ck_assert_str_eq(err, want);
        free(err);
        env_teardown(&e);
}
END_TEST

START_TEST(broker_only_node_writes_its_own_credentials_for_a_sasl_controller_listener) {
        struct env e;
        env_setup(&e);
        char users[700];
        snprintf(users, sizeof users, "KPA_SASL_USERS_DIR=%s", e.users);
        char *extra[] = { users, "POD_NAME=kafka-0", "KPA_CONTROLLER_STATEFULSET=kraft",
                          "KPA_SECURITY_PROTOCOL_MAP=INTERNAL:PLAINTEXT,CONTROLLER:SASL_PLAINTEXT", NULL };
        ck_assert_int_eq(run_init(&e, extra, NULL, NULL, NULL), 0);
        char *server = tu_read(e.out, "server.properties");
        ck_assert_ptr_nonnull(strstr(server, "\nprocess.roles=broker\n"));
        ck_assert_ptr_nonnull(strstr(server,
                "\nsasl.mechanism.controller.protocol=PLAIN\n"
                "listener.name.controller.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required "
                "username=\"kafka\" password=\"broker-pw\";\n"));
        /* Other users' passwords have no business on a node that serves no SASL listener. */
        ck_assert_ptr_null(strstr(server, "alice"));
        struct stat st;
        char path[700];
        snprintf(path, sizeof path, "%s/server.properties", e.out);
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_uint_eq(st.st_mode & 0777, 0600);
        free(server);
        env_teardown(&e);
}
END_TEST

START_TEST(help_lists_every_input_and_exits_0) {
        struct env e;
        env_setup(&e);
        char *out = NULL;
        ck_assert_int_eq(run_init(&e, NULL, (char *[]){ "--help", NULL }, &out, NULL), 0);
        ck_assert_ptr_nonnull(strstr(out, "  --cluster-id VALUE\n"));
        ck_assert_ptr_nonnull(strstr(out, "      env KPA_ADVERTISED_<NAME>\n"));
        free(out);
        env_teardown(&e);
}
END_TEST

int main(void) {
        Suite *s = suite_create("initrun");
        TCase *tc = tcase_create("initrun");
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, tls_run_writes_every_file_with_its_mode_and_repeats_byte_for_byte);
        tcase_add_test(tc, bad_input_exits_2_with_one_line_and_changes_nothing);
        tcase_add_test(tc, overlapping_node_id_offsets_exit_2_and_write_nothing);
        tcase_add_test(tc, write_failure_exits_1_and_leaves_earlier_output_byte_identical);
        tcase_add_test(tc, dry_run_prints_masked_and_writes_nothing);
        tcase_add_test(tc, sasl_users_become_jaas_and_agent_credentials);
        tcase_add_test(tc, broker_only_node_writes_its_own_credentials_for_a_sasl_controller_listener);
        tcase_add_test(tc, help_lists_every_input_and_exits_0);
        suite_add_tcase(s, tc);
        return tu_run_suite(s);
}
