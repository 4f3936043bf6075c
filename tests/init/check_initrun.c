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

/* Runs kpa-init with the base identity plus extra variables; returns the exit code. With a
 * wrapper (a NULL-terminated command), kpa-init's path and arguments are appended to it and
 * it is run instead (timeout, unshare). */
static int run_init_wrapped(const struct env *e, char *const wrapper[], char *const extra[], char *const args[],
                            char **ret_out, char **ret_err) {
        char bin[600], out[700], data[700];
        snprintf(bin, sizeof bin, "%s/kpa-init", tu_build_dir());
        snprintf(out, sizeof out, "KPA_OUTPUT_DIR=%s", e->out);
        snprintf(data, sizeof data, "KPA_LOG_DIRS=%s", e->data);
        char *envp[32] = { "POD_NAME=kafka-1", "POD_NAMESPACE=prod", "KPA_CLUSTER_ID=" CID, out, data };
        size_t n = 5;
        for (size_t i = 0; extra && extra[i]; i++)
                envp[n++] = extra[i];
        envp[n] = NULL;
        char *argv[40];
        size_t a = 0;
        for (size_t i = 0; wrapper && wrapper[i]; i++)
                argv[a++] = wrapper[i];
        argv[a++] = bin;
        for (size_t i = 0; args && args[i]; i++)
                argv[a++] = args[i];
        argv[a] = NULL;
        return tu_run(argv, envp, ret_out, ret_err);
}

static int run_init(const struct env *e, char *const extra[], char *const args[], char **ret_out, char **ret_err) {
        return run_init_wrapped(e, NULL, extra, args, ret_out, ret_err);
}

/* A kpa-init still running after bound_s seconds is killed (-1), so that a test of something
 * that used to block fails instead of hanging. */
static int run_init_bounded(const struct env *e, char *const extra[], char *const args[], char **ret_out, char **ret_err,
                            int bound_s) {
        char secs[16];
        snprintf(secs, sizeof secs, "%d", bound_s);
        return run_init_wrapped(e, (char *[]){ "/usr/bin/timeout", "-s", "KILL", secs, NULL }, extra, args, ret_out,
                                ret_err);
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
                        ck_assert_int_eq(lstat(path, &st), 0);
                        len += (size_t) snprintf(buf + len, cap - len, "== %s %o%s\n", names[i]->d_name,
                                                 (unsigned) (st.st_mode & 0777),
                                                 S_ISREG(st.st_mode) ? "" : S_ISDIR(st.st_mode) ? " directory"
                                                 : S_ISFIFO(st.st_mode) ? " fifo" : " other");
                        /* Only regular files are read: opening a FIFO would wait for a writer. */
                        FILE *f = S_ISREG(st.st_mode) ? fopen(path, "rb") : NULL;
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

/* Fails the test if any temporary of kpa-init's naming is left in dir. */
static void assert_no_temporaries(const char *dir) {
        struct dirent **names;
        int n = scandir(dir, &names, NULL, alphasort);
        ck_assert_int_ge(n, 0);
        for (int i = 0; i < n; i++) {
                ck_assert_msg(strstr(names[i]->d_name, "kpa-tmp") == NULL, "left behind: %s", names[i]->d_name);
                free(names[i]);
        }
        free(names);
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
        assert_no_temporaries(e.out);
        env_teardown(&e);
}
END_TEST

/* A FIFO where an output goes is refused at once, as a directory, socket or device is: the
 * run does not wait for a writer, changes nothing, and leaves no temporary (the keystore's
 * included) behind. */
/* A file mounted over one output, as a Kubernetes subPath mount of ca.pem does: no rename
 * can replace it. kpa-init runs in a mount namespace of its own (unshare(1); as another user
 * than root, in a user namespace too) where ca.pem is bind-mounted over; it must refuse
 * before it replaces anything else, and the directory as seen from outside is unchanged. */
START_TEST(an_output_with_a_file_mounted_over_it_is_refused_before_anything_changes) {
        struct env e;
        env_setup(&e);
        char ca[700];
        char *tls[] = { tls_extra_ca(&e, ca, sizeof ca), "KPA_SECURITY_PROTOCOL_MAP=INTERNAL:SSL", NULL };
        ck_assert_int_eq(run_init(&e, tls, NULL, NULL, NULL), 0);
        tu_write(e.root, "other-ca.pem", "not the cluster's CA\n");
        char src[700], dst[700];
        snprintf(src, sizeof src, "%s/other-ca.pem", e.root);
        snprintf(dst, sizeof dst, "%s/ca.pem", e.out);
        char *before = snapshot_dir(e.out);
        /* A new rack changes server.properties, and RSA instead of EC the keystore: the files
         * that used to be replaced before the rename of ca.pem failed. */
        char *changed[] = { ca, "KPA_SECURITY_PROTOCOL_MAP=INTERNAL:SSL", "KPA_RACK=zone-b", "KPA_TLS_KEY_TYPE=rsa", NULL };
        char *as_root[] = { "/usr/bin/unshare", "--mount", "--propagation", "private", "/bin/sh", "-c",
                            "mount --bind \"$1\" \"$2\" && shift 2 && exec \"$@\"", "sh", src, dst, NULL };
        char *as_user[] = { "/usr/bin/unshare", "--map-root-user", "--mount", "--propagation", "private", "/bin/sh", "-c",
                            "mount --bind \"$1\" \"$2\" && shift 2 && exec \"$@\"", "sh", src, dst, NULL };
        char *err = NULL;
        int rc = run_init_wrapped(&e, geteuid() == 0 ? as_root : as_user, changed, NULL, NULL, &err);
        char want[1000];
        snprintf(want, sizeof want, "kpa-init: cannot replace %s: a file is mounted there (a subPath or bind mount); "
                 "mount the whole directory instead\n", dst);
        ck_assert_msg(rc == 1, "exit %d: %s", rc, err);
        char *after = snapshot_dir(e.out);
        ck_assert_msg(strcmp(before, after) == 0, "the output directory changed");
        ck_assert_ptr_null(strstr(after, "zone-b"));
        ck_assert_str_eq(err, want);
        free(err);
        free(before);
        free(after);
        assert_no_temporaries(e.out);
        env_teardown(&e);
}
END_TEST

START_TEST(a_fifo_in_the_output_directory_is_refused_at_once) {
        static const char *const names[] = { "server.properties", "keystore.p12", "ca.pem" };
        struct env e;
        env_setup(&e);
        char ca[700];
        char *tls[] = { tls_extra_ca(&e, ca, sizeof ca), "KPA_SECURITY_PROTOCOL_MAP=INTERNAL:SSL", NULL };
        char *tls_rack[] = { ca, "KPA_SECURITY_PROTOCOL_MAP=INTERNAL:SSL", "KPA_RACK=zone-b", NULL };
        for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
                ck_assert_int_eq(run_init(&e, tls, NULL, NULL, NULL), 0);
                char path[700];
                snprintf(path, sizeof path, "%s/%s", e.out, names[i]);
                ck_assert_int_eq(unlink(path), 0);
                ck_assert_int_eq(mkfifo(path, 0644), 0);
                char *before = snapshot_dir(e.out);
                char *err = NULL;
                ck_assert_int_eq(run_init_bounded(&e, tls_rack, NULL, NULL, &err, 60), 1);
                char want[1000];
                snprintf(want, sizeof want, "kpa-init: cannot replace %s: not a regular file but a FIFO\n", path);
                ck_assert_str_eq(err, want);
                free(err);
                char *after = snapshot_dir(e.out);
                ck_assert_msg(strcmp(before, after) == 0, "the output directory changed");
                ck_assert_ptr_null(strstr(after, "zone-b"));
                free(before);
                free(after);
                assert_no_temporaries(e.out);
                ck_assert_int_eq(unlink(path), 0);
        }
        env_teardown(&e);
}
END_TEST

/* A run killed half-way leaves temporaries, some holding key material; the next run removes
 * those of its own naming (and of earlier releases' naming) and nothing else. */
START_TEST(a_later_run_removes_the_temporaries_a_killed_run_left) {
        struct env e;
        env_setup(&e);
        tu_write(e.out, ".keystore.p12.kpa-tmp-1", "key material");
        tu_write(e.out, ".server.properties.kpa-tmp-0123456789abcdef", "ssl.keystore.password=x\n");
        tu_write(e.out, "notes.kpa-tmp-1", "not ours\n");
        ck_assert_int_eq(run_init(&e, NULL, NULL, NULL, NULL), 0);
        struct stat st;
        char path[700];
        snprintf(path, sizeof path, "%s/.keystore.p12.kpa-tmp-1", e.out);
        ck_assert_int_eq(lstat(path, &st), -1);
        snprintf(path, sizeof path, "%s/.server.properties.kpa-tmp-0123456789abcdef", e.out);
        ck_assert_int_eq(lstat(path, &st), -1);
        char *kept = tu_read(e.out, "notes.kpa-tmp-1");
        ck_assert_str_eq(kept, "not ours\n");
        free(kept);
        env_teardown(&e);
}
END_TEST

/* Bad input that used to exit 1 or say only "Invalid argument": each exits 2 with one line
 * that names the input and what was expected. */
START_TEST(oversized_or_unreadable_inputs_exit_2_with_one_line) {
        struct env e;
        env_setup(&e);
        char ca[700];
        char *err = NULL;
        char *dev_zero[] = { tls_extra_ca(&e, ca, sizeof ca), "KPA_TLS_PASSWORD_FILE=/dev/zero", NULL };
        ck_assert_int_eq(run_init(&e, dev_zero, NULL, NULL, &err), 2);
        ck_assert_str_eq(err, "kpa-init: KPA_TLS_PASSWORD_FILE /dev/zero: not a regular file (expected a file holding "
                              "the TLS store password: 6 to 128 printable ASCII characters)\n");
        free(err);
        for (int i = 0; i < 2000; i++) {
                char name[32];
                snprintf(name, sizeof name, "user%04d", i);
                tu_write(e.users, name, "pw\n");
        }
        char users[700];
        snprintf(users, sizeof users, "KPA_SASL_USERS_DIR=%s", e.users);
        char *many[] = { users, "KPA_SECURITY_PROTOCOL_MAP=INTERNAL:SASL_PLAINTEXT", NULL };
        ck_assert_int_eq(run_init(&e, many, NULL, NULL, &err), 2);
        char want[1000];
        snprintf(want, sizeof want, "kpa-init: KPA_SASL_USERS_DIR %s holds more than 1000 users\n", e.users);
        ck_assert_str_eq(err, want);
        free(err);
        char *files = snapshot_dir(e.out);
        ck_assert_str_eq(files, "");
        free(files);
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

/* Template keys that hold secrets: every PASSWORD key of Kafka 4.x (also under a listener
 * prefix) and keys that look like secrets. Alone, without TLS or SASL, each makes
 * server.properties 0600, and --dry-run shows none of their values. */
START_TEST(template_secrets_make_the_file_private_and_are_masked_in_dry_run) {
        static const char *const keys[] = {
                "ssl.keystore.key", "ssl.truststore.certificates", "ssl.keystore.certificate.chain",
                "delegation.token.master.key", "delegation.token.secret.key",
                "sasl.oauthbearer.assertion.private.key.passphrase",
                "sasl.oauthbearer.client.credentials.client.secret",
                "listener.name.external.ssl.keystore.key",
                "listener.name.external.scram-sha-256.sasl.jaas.config",
                "my.plugin.api.key", "my.plugin.secret.path", "custom.db.password",
                /* A key with an escaped '=' and ':' in the file: the mask must not depend on
                 * how the key is spelled there. */
                "odd\\=key\\:password",
        };
        struct env e;
        env_setup(&e);
        char tmpl[800];
        snprintf(tmpl, sizeof tmpl, "KPA_CONFIG_TEMPLATE=%s/template.properties", e.root);
        for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
                char text[512];
                snprintf(text, sizeof text, "num.partitions=3\n%s=leak-%zu-value\n", keys[i], i);
                tu_write(e.root, "template.properties", text);
                char *err = NULL, *out = NULL;
                ck_assert_msg(run_init(&e, (char *[]){ tmpl, NULL }, NULL, NULL, &err) == 0, "%s: %s", keys[i], err);
                free(err);
                char path[700], leak[64];
                struct stat st;
                snprintf(path, sizeof path, "%s/server.properties", e.out);
                ck_assert_int_eq(stat(path, &st), 0);
                ck_assert_msg((st.st_mode & 0777) == 0600, "%s: mode %o", keys[i], (unsigned) (st.st_mode & 0777));
                snprintf(leak, sizeof leak, "leak-%zu-value", i);
                char *written = tu_read(e.out, "server.properties");
                ck_assert_ptr_nonnull(strstr(written, leak));
                free(written);
                ck_assert_int_eq(run_init(&e, (char *[]){ tmpl, NULL }, (char *[]){ "--dry-run", NULL }, &out, NULL), 0);
                ck_assert_msg(strstr(out, leak) == NULL, "%s shown in --dry-run:\n%s", keys[i], out);
                ck_assert_ptr_nonnull(strstr(out, "==> server.properties (mode 0600)\n"));
                ck_assert_ptr_nonnull(strstr(out, "=<masked>\n"));
                ck_assert_ptr_nonnull(strstr(out, "\nnum.partitions=3\n"));
                free(out);
        }
        /* A template without secrets keeps the file world-readable. */
        tu_write(e.root, "template.properties", "num.partitions=3\nssl.keystore.location=/x/keystore.p12\n");
        ck_assert_int_eq(run_init(&e, (char *[]){ tmpl, NULL }, NULL, NULL, NULL), 0);
        char path[700];
        struct stat st;
        snprintf(path, sizeof path, "%s/server.properties", e.out);
        ck_assert_int_eq(stat(path, &st), 0);
        ck_assert_uint_eq(st.st_mode & 0777, 0644);
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

/* client.properties is read by librdkafka (kpa-agent, kcat): a value's trailing blanks are
 * kept and written as they are, leading ones would be dropped by librdkafka: refused. */
START_TEST(client_properties_keep_trailing_blanks_and_refuse_leading_ones) {
        struct env e;
        env_setup(&e);
        char users[700];
        snprintf(users, sizeof users, "KPA_SASL_USERS_DIR=%s", e.users);
        char *extra[] = { users, "KPA_SECURITY_PROTOCOL_MAP=INTERNAL:SASL_PLAINTEXT", "KPA_SASL_AGENT_USER=alice", NULL };
        tu_write(e.users, "alice", "alice-pw  \n");
        ck_assert_int_eq(run_init(&e, extra, NULL, NULL, NULL), 0);
        char *client = tu_read(e.out, "client.properties");
        ck_assert_ptr_nonnull(strstr(client, "\nsasl.username=alice\nsasl.password=alice-pw  \n"));
        free(client);
        char *before = snapshot_dir(e.out);
        tu_write(e.users, "alice", " alice-pw\n");
        char *err = NULL;
        ck_assert_int_eq(run_init(&e, extra, NULL, NULL, &err), 2);
        ck_assert_str_eq(err, "kpa-init: the password of KPA_SASL_AGENT_USER \"alice\" in KPA_SASL_USERS_DIR "
                              "starts with whitespace, which librdkafka drops from client.properties values: "
                              "kpa-agent could not use it (choose one that does not start with a blank)\n");
        free(err);
        char *after = snapshot_dir(e.out);
        ck_assert_str_eq(before, after);
        free(before);
        free(after);
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
        tcase_add_test(tc, an_output_with_a_file_mounted_over_it_is_refused_before_anything_changes);
        tcase_add_test(tc, a_fifo_in_the_output_directory_is_refused_at_once);
        tcase_add_test(tc, a_later_run_removes_the_temporaries_a_killed_run_left);
        tcase_add_test(tc, oversized_or_unreadable_inputs_exit_2_with_one_line);
        tcase_add_test(tc, dry_run_prints_masked_and_writes_nothing);
        tcase_add_test(tc, template_secrets_make_the_file_private_and_are_masked_in_dry_run);
        tcase_add_test(tc, sasl_users_become_jaas_and_agent_credentials);
        tcase_add_test(tc, client_properties_keep_trailing_blanks_and_refuse_leading_ones);
        tcase_add_test(tc, broker_only_node_writes_its_own_credentials_for_a_sasl_controller_listener);
        tcase_add_test(tc, help_lists_every_input_and_exits_0);
        suite_add_tcase(s, tc);
        return tu_run_suite(s);
}
