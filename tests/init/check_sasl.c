/* Suite for sasl: loading users from a Secret volume and writing PLAIN JAAS strings that
 * Kafka's JAAS tokenizer reads back exactly (checked with Java, tests/init/JaasParse.java). */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kpa/sasl.h"
#include "kpa/secret.h"
#include "testutil.h"

#define MODULE "org.apache.kafka.common.security.plain.PlainLoginModule required"

static char *dir;

static void setup(void) {
        dir = tu_mkdtemp();
}

static void teardown(void) {
        tu_rmtree(dir);
        free(dir);
}

static void write_bytes(const char *d, const char *name, const void *data, size_t len) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", d, name);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, data, len), (ssize_t) len);
        close(fd);
}

static void unlink_at(const char *name) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        ck_assert_int_eq(unlink(path), 0);
}

static void link_at(const char *target, const char *name) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        ck_assert_int_eq(symlink(target, path), 0);
}

/* The layout the kubelet writes for a Secret volume: the files in a timestamped folder, a
 * ..data link to it, and one link per key through ..data. */
static void secret_volume(const char *const users[][2], size_t n) {
        char ts[1024];
        snprintf(ts, sizeof ts, "%s/..2026_11_25_10_00_00.123456789", dir);
        ck_assert_int_eq(mkdir(ts, 0755), 0);
        for (size_t i = 0; i < n; i++) {
                write_bytes(ts, users[i][0], users[i][1], strlen(users[i][1]));
                char target[512];
                snprintf(target, sizeof target, "..data/%s", users[i][0]);
                link_at(target, users[i][0]);
        }
        link_at("..2026_11_25_10_00_00.123456789", "..data");
}

/* Loads dir and expects a refusal: the code, the exact message (with "%s" standing for dir),
 * and that no password text leaks into it. */
static void expect_refusal(int code, const char *fmt, const char *secret) {
        struct sasl_users u = { (struct sasl_user *) 0x1, 7 };
        char err[1024] = "", want[2048];
        ck_assert_int_eq(sasl_users_load(dir, &u, err, sizeof err), code);
        /* Each "%s" in fmt stands for dir. */
        size_t o = 0;
        for (const char *p = fmt; *p && o + 1 < sizeof want; p++) {
                if (p[0] == '%' && p[1] == 's') {
                        o += (size_t) snprintf(want + o, sizeof want - o, "%s", dir);
                        p++;
                } else {
                        want[o++] = *p;
                }
        }
        want[o] = '\0';
        ck_assert_str_eq(err, want);
        if (secret)
                ck_assert_ptr_null(strstr(err, secret));
        ck_assert_ptr_eq(u.v, (struct sasl_user *) 0x1);
        ck_assert_uint_eq(u.n, 7);
}

START_TEST(load_reads_a_secret_volume_sorted_by_name_and_skips_dot_entries) {
        const char *const users[][2] = { { "zed", "zpw\n" }, { "alice", "apw" }, { "Bob", "b p w\n" } };
        secret_volume(users, 3);
        /* A dotfile that would be refused if it were read. */
        write_bytes(dir, ".hidden", "", 0);
        struct sasl_users u;
        char err[1024] = "";
        ck_assert_msg(sasl_users_load(dir, &u, err, sizeof err) == 0, "%s", err);
        ck_assert_uint_eq(u.n, 3);
        ck_assert_str_eq(u.v[0].name, "Bob");
        ck_assert_str_eq(u.v[0].password, "b p w");
        ck_assert_str_eq(u.v[1].name, "alice");
        ck_assert_str_eq(u.v[1].password, "apw");
        ck_assert_str_eq(u.v[2].name, "zed");
        ck_assert_str_eq(u.v[2].password, "zpw");
        ck_assert_str_eq(sasl_users_find(&u, "alice")->password, "apw");
        ck_assert_ptr_eq(sasl_users_find(&u, "zed"), &u.v[2]);
        ck_assert_ptr_null(sasl_users_find(&u, "carol"));
        ck_assert_ptr_null(sasl_users_find(&u, "..data"));
        sasl_users_free(&u);
        ck_assert_ptr_null(u.v);
        ck_assert_uint_eq(u.n, 0);
        sasl_users_free(NULL);
}
END_TEST

START_TEST(load_accepts_the_longest_password_and_removes_only_one_newline) {
        char pw[SASL_PASSWORD_MAX + 1];
        memset(pw, 'p', SASL_PASSWORD_MAX);
        pw[SASL_PASSWORD_MAX] = '\n';
        write_bytes(dir, "long", pw, SASL_PASSWORD_MAX + 1);
        write_bytes(dir, "plain", "no-newline", 10);
        struct sasl_users u;
        char err[1024] = "";
        ck_assert_msg(sasl_users_load(dir, &u, err, sizeof err) == 0, "%s", err);
        ck_assert_uint_eq(strlen(u.v[0].password), SASL_PASSWORD_MAX);
        ck_assert_str_eq(u.v[1].password, "no-newline");
        sasl_users_free(&u);
        write_bytes(dir, "plain", "two\n\n", 5);
        expect_refusal(-EINVAL, "SASL user file %s/plain: the password contains a NUL byte, a carriage return or "
                                "a line break (only one trailing newline is removed)", NULL);
}
END_TEST

START_TEST(load_refuses_bad_names) {
        write_bytes(dir, "bad name", "pw", 2);
        expect_refusal(-EINVAL, "KPA_SASL_USERS_DIR %s: \"bad?name\" is not a valid user name "
                                "(1 to 255 characters from A-Z a-z 0-9 . _ -)", NULL);
        unlink_at("bad name");
        write_bytes(dir, "caf\xc3\xa9", "pw", 2);
        expect_refusal(-EINVAL, "KPA_SASL_USERS_DIR %s: \"caf??\" is not a valid user name "
                                "(1 to 255 characters from A-Z a-z 0-9 . _ -)", NULL);
}
END_TEST

START_TEST(load_refuses_bad_passwords_without_quoting_them) {
        struct {
                const char *content;
                size_t len;
                const char *want;
        } cases[] = {
                { "", 0, "SASL user file %s/u: the password is empty" },
                { "\n", 1, "SASL user file %s/u: the password is empty" },
                { "sec\0ret", 7, "SASL user file %s/u: the password contains a NUL byte, a carriage return or a "
                                 "line break (only one trailing newline is removed)" },
                { "secret\r\n", 8, "SASL user file %s/u: the password contains a NUL byte, a carriage return or a "
                                   "line break (only one trailing newline is removed)" },
                { "sec\nret", 7, "SASL user file %s/u: the password contains a NUL byte, a carriage return or a "
                                 "line break (only one trailing newline is removed)" },
                { "secret\xff", 7, "SASL user file %s/u: the password is not valid UTF-8" },
                { "secret\xc0\xaf", 8, "SASL user file %s/u: the password is not valid UTF-8" },
                { "secret\xed\xa0\x80", 9, "SASL user file %s/u: the password is not valid UTF-8" },
                { "secret\xe2\x82", 8, "SASL user file %s/u: the password is not valid UTF-8" },
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
                write_bytes(dir, "u", cases[i].content, cases[i].len);
                expect_refusal(-EINVAL, cases[i].want, cases[i].len > 3 ? "secret" : NULL);
        }
        char pw[SASL_PASSWORD_MAX + 2];
        memset(pw, 's', sizeof pw);
        write_bytes(dir, "u", pw, SASL_PASSWORD_MAX + 1);
        expect_refusal(-EINVAL, "SASL user file %s/u: the password is longer than 1024 bytes", NULL);
        pw[SASL_PASSWORD_MAX + 1] = '\n';
        write_bytes(dir, "u", pw, SASL_PASSWORD_MAX + 2);
        expect_refusal(-EINVAL, "SASL user file %s/u: the password is longer than 1024 bytes", NULL);
}
END_TEST

START_TEST(load_refuses_entries_that_are_not_regular_files_inside_the_folder) {
        char path[1024];
        snprintf(path, sizeof path, "%s/sub", dir);
        ck_assert_int_eq(mkdir(path, 0755), 0);
        expect_refusal(-EINVAL, "SASL user file %s/sub is not a regular file", NULL);
        rmdir(path);
        /* A FIFO would block a plain open: it must be refused, not waited on. */
        snprintf(path, sizeof path, "%s/pipe", dir);
        ck_assert_int_eq(mkfifo(path, 0600), 0);
        expect_refusal(-EINVAL, "SASL user file %s/pipe is not a regular file", NULL);
        unlink(path);
        link_at("/etc/hostname", "abs");
        expect_refusal(-EINVAL, "SASL user file %s/abs is a link that leads outside %s", NULL);
        unlink_at("abs");
        link_at("../../etc/hostname", "rel");
        expect_refusal(-EINVAL, "SASL user file %s/rel is a link that leads outside %s", NULL);
        unlink_at("rel");
        link_at("..data/gone", "dangling");
        expect_refusal(-EINVAL, "SASL user file %s/dangling cannot be read: No such file or directory", NULL);
}
END_TEST

START_TEST(load_refuses_missing_and_empty_folders) {
        write_bytes(dir, ".only-a-dotfile", "x", 1);
        expect_refusal(-EINVAL, "KPA_SASL_USERS_DIR %s holds no users: it needs one file per user "
                                "(file name = user name, content = password)", NULL);
        char missing[1024];
        snprintf(missing, sizeof missing, "%s/missing", dir);
        struct sasl_users u;
        char err[1024], want[2048];
        ck_assert_int_eq(sasl_users_load(missing, &u, err, sizeof err), -EINVAL);
        snprintf(want, sizeof want, "KPA_SASL_USERS_DIR %s cannot be read: No such file or directory", missing);
        ck_assert_str_eq(err, want);
        ck_assert_int_eq(sasl_users_load("", &u, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "KPA_SASL_USERS_DIR is empty");
}
END_TEST

START_TEST(load_refuses_more_users_than_the_limit) {
        char name[32];
        for (int i = 0; i <= SASL_MAX_USERS; i++) {
                snprintf(name, sizeof name, "user%04d", i);
                write_bytes(dir, name, "pw", 2);
        }
        expect_refusal(-E2BIG, "KPA_SASL_USERS_DIR %s holds more than 1000 users", NULL);
        unlink_at("user0000");
        struct sasl_users u;
        char err[1024] = "";
        ck_assert_msg(sasl_users_load(dir, &u, err, sizeof err) == 0, "%s", err);
        ck_assert_uint_eq(u.n, SASL_MAX_USERS);
        ck_assert_str_eq(u.v[0].name, "user0001");
        ck_assert_str_eq(u.v[SASL_MAX_USERS - 1].name, "user1000");
        sasl_users_free(&u);
}
END_TEST

static struct sasl_user U[3] = {
        { "alice", "apw" }, { "bob", "b\"p\\w; =x" }, { "kafka", "kpw" },
};
static const struct sasl_users USERS = { U, 3 };

START_TEST(jaas_server_lists_inter_broker_credentials_then_every_user) {
        char err[1024] = "", *jaas = NULL;
        ck_assert_int_eq(sasl_jaas_plain_server(&USERS, "kafka", &jaas, err, sizeof err), 0);
        ck_assert_str_eq(jaas, MODULE " username=\"kafka\" password=\"kpw\" user_alice=\"apw\" "
                               "user_bob=\"b\\\"p\\\\w; =x\" user_kafka=\"kpw\";");
        secret_free(jaas);
        ck_assert_int_eq(sasl_jaas_plain_server(&USERS, NULL, &jaas, err, sizeof err), 0);
        ck_assert_str_eq(jaas, MODULE " user_alice=\"apw\" user_bob=\"b\\\"p\\\\w; =x\" user_kafka=\"kpw\";");
        secret_free(jaas);
}
END_TEST

START_TEST(jaas_server_refuses_an_unknown_inter_broker_user) {
        char err[1024] = "", *jaas = (char *) "untouched";
        ck_assert_int_eq(sasl_jaas_plain_server(&USERS, "admin", &jaas, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "inter-broker SASL user \"admin\" has no file in KPA_SASL_USERS_DIR");
        ck_assert_str_eq(jaas, "untouched");
}
END_TEST

START_TEST(jaas_client_holds_only_that_users_credentials) {
        char err[1024] = "", *jaas = NULL;
        ck_assert_int_eq(sasl_jaas_plain_client(&U[1], &jaas, err, sizeof err), 0);
        ck_assert_str_eq(jaas, MODULE " username=\"bob\" password=\"b\\\"p\\\\w; =x\";");
        secret_free(jaas);
}
END_TEST

START_TEST(jaas_refuses_values_it_cannot_represent) {
        struct sasl_user cr = { "carol", "x\ry" }, bad = { "no way", "pw" }, empty = { "dave", "" };
        struct sasl_users us = { &cr, 1 };
        char err[1024] = "", *jaas = (char *) "untouched";
        ck_assert_int_eq(sasl_jaas_plain_client(&cr, &jaas, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "the password of SASL user \"carol\" contains a carriage return or a line break, "
                              "which a JAAS string cannot hold");
        ck_assert_int_eq(sasl_jaas_plain_server(&us, NULL, &jaas, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "the password of SASL user \"carol\" contains a carriage return or a line break, "
                              "which a JAAS string cannot hold");
        ck_assert_int_eq(sasl_jaas_plain_client(&bad, &jaas, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "\"no?way\" is not a valid SASL user name (1 to 255 characters from A-Z a-z 0-9 . _ -)");
        ck_assert_int_eq(sasl_jaas_plain_client(&empty, &jaas, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "the password of SASL user \"dave\" is empty");
        ck_assert_str_eq(jaas, "untouched");
}
END_TEST

START_TEST(wipe_zeroes_every_password_in_place) {
        write_bytes(dir, "a", "first-secret\n", 13);
        write_bytes(dir, "b", "second-secret", 13);
        struct sasl_users u;
        char err[1024] = "";
        ck_assert_msg(sasl_users_load(dir, &u, err, sizeof err) == 0, "%s", err);
        char *p0 = u.v[0].password, *p1 = u.v[1].password;
        ck_assert_str_eq(p0, "first-secret");
        sasl_users_wipe(&u);
        /* The first file's newline was removed: 12 password bytes; the second has 13. */
        for (size_t i = 0; i < 12; i++)
                ck_assert_int_eq(p0[i], 0);
        for (size_t i = 0; i < 13; i++)
                ck_assert_int_eq(p1[i], 0);
        ck_assert_uint_eq(u.n, 2);
        sasl_users_free(&u);
}
END_TEST

static char *hex(const char *s) {
        size_t n = strlen(s);
        char *h = malloc(2 * n + 1);
        for (size_t i = 0; i < n; i++)
                snprintf(h + 2 * i, 3, "%02x", (unsigned char) s[i]);
        h[2 * n] = '\0';
        return h;
}

/* Compiles JaasParse.java (Kafka's tokenizer set-up) once per test run, into dir. */
static void compile_parser(char *classes, size_t len) {
        snprintf(classes, len, "%s/classes", dir);
        ck_assert_int_eq(mkdir(classes, 0755), 0);
        char src[1024];
        snprintf(src, sizeof src, "%s/tests/init/JaasParse.java", tu_source_dir());
        char *err = NULL;
        int rc = tu_run((char *const[]){ "/usr/bin/javac", "-d", classes, src, NULL }, NULL, NULL, &err);
        ck_assert_msg(rc == 0, "javac failed: %s", err);
        free(err);
}

START_TEST(jaas_round_trips_tricky_passwords_through_kafkas_tokenizer) {
        static const char *const pw[] = {
                "pa\"ss", "back\\slash", "semi;colon=eq", "with space", "'single'", "\\101 octal",
                "// not a comment", "/* nor this */", "\xc3\xbcn\xc3\xaf" "c\xc3\xb8" "d\xc3\xa9 \xe2\x82\xac",
                "end\\", "\"", "\t tab", "\xf0\x9f\x94\x91 key",
        };
        size_t n = sizeof pw / sizeof pw[0];
        struct sasl_user us[16];
        char names[16][16];
        for (size_t i = 0; i < n; i++) {
                snprintf(names[i], sizeof names[i], "u%02zu", i);
                us[i] = (struct sasl_user){ names[i], (char *) pw[i] };
        }
        struct sasl_users users = { us, n };
        char err[1024] = "", *jaas = NULL;
        ck_assert_msg(sasl_jaas_plain_server(&users, "u00", &jaas, err, sizeof err) == 0, "%s", err);

        char classes[1024];
        compile_parser(classes, sizeof classes);
        char *out = NULL, *jerr = NULL;
        int rc = tu_run((char *const[]){ "/usr/bin/java", "-cp", classes, "JaasParse", jaas, NULL }, NULL, &out, &jerr);
        ck_assert_msg(rc == 0, "JaasParse refused the string: %s", jerr);

        char want[8192];
        size_t o = 0;
        char *h = hex(pw[0]);
        o += (size_t) snprintf(want + o, sizeof want - o,
                               "module org.apache.kafka.common.security.plain.PlainLoginModule\nflag required\n"
                               "username 753030\npassword %s\n", h);
        free(h);
        for (size_t i = 0; i < n; i++) {
                h = hex(pw[i]);
                o += (size_t) snprintf(want + o, sizeof want - o, "user_%s %s\n", names[i], h);
                free(h);
        }
        ck_assert_str_eq(out, want);
        free(out);
        free(jerr);

        jaas = secret_free(jaas);
        ck_assert_int_eq(sasl_jaas_plain_client(&us[5], &jaas, err, sizeof err), 0);
        rc = tu_run((char *const[]){ "/usr/bin/java", "-cp", classes, "JaasParse", jaas, NULL }, NULL, &out, &jerr);
        ck_assert_int_eq(rc, 0);
        h = hex(pw[5]);
        snprintf(want, sizeof want, "module org.apache.kafka.common.security.plain.PlainLoginModule\nflag required\n"
                                    "username 753035\npassword %s\n", h);
        ck_assert_str_eq(out, want);
        free(h);
        free(out);
        free(jerr);
        secret_free(jaas);
}
END_TEST

int main(void) {
        Suite *s = suite_create("sasl");
        TCase *tc = tcase_create("load");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_add_test(tc, load_reads_a_secret_volume_sorted_by_name_and_skips_dot_entries);
        tcase_add_test(tc, load_accepts_the_longest_password_and_removes_only_one_newline);
        tcase_add_test(tc, load_refuses_bad_names);
        tcase_add_test(tc, load_refuses_bad_passwords_without_quoting_them);
        tcase_add_test(tc, load_refuses_entries_that_are_not_regular_files_inside_the_folder);
        tcase_add_test(tc, load_refuses_missing_and_empty_folders);
        tcase_add_test(tc, load_refuses_more_users_than_the_limit);
        tcase_add_test(tc, wipe_zeroes_every_password_in_place);
        suite_add_tcase(s, tc);
        tc = tcase_create("jaas");
        tcase_add_checked_fixture(tc, setup, teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, jaas_server_lists_inter_broker_credentials_then_every_user);
        tcase_add_test(tc, jaas_server_refuses_an_unknown_inter_broker_user);
        tcase_add_test(tc, jaas_client_holds_only_that_users_credentials);
        tcase_add_test(tc, jaas_refuses_values_it_cannot_represent);
        tcase_add_test(tc, jaas_round_trips_tricky_passwords_through_kafkas_tokenizer);
        suite_add_tcase(s, tc);
        return tu_run_suite(s);
}
