/* Suites for the shared modules: parse, dynbuf, props, opts, secret, sensitive (fsx has its
 * own suite, check_fsx, which injects faults). */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kpa/dynbuf.h"
#include "kpa/opts.h"
#include "kpa/parse.h"
#include "kpa/props.h"
#include "kpa/secret.h"
#include "kpa/sensitive.h"
#include "testutil.h"

START_TEST(parse_u64_accepts_exact_decimal_in_range) {
        uint64_t v = 7;
        ck_assert_int_eq(parse_u64("42", 0, 100, &v), 0);
        ck_assert_uint_eq(v, 42);
        ck_assert_int_eq(parse_u64("18446744073709551615", 0, UINT64_MAX, &v), 0);
        ck_assert_uint_eq(v, UINT64_MAX);
}
END_TEST

START_TEST(parse_u64_rejects_trailing_bytes_signs_spaces_and_overflow) {
        uint64_t v = 7;
        ck_assert_int_eq(parse_u64("42x", 0, 100, &v), -EINVAL);
        ck_assert_int_eq(parse_u64(" 42", 0, 100, &v), -EINVAL);
        ck_assert_int_eq(parse_u64("-1", 0, 100, &v), -EINVAL);
        ck_assert_int_eq(parse_u64("", 0, 100, &v), -EINVAL);
        ck_assert_int_eq(parse_u64("101", 0, 100, &v), -ERANGE);
        ck_assert_int_eq(parse_u64("18446744073709551616", 0, UINT64_MAX, &v), -ERANGE);
        ck_assert_uint_eq(v, 7);
}
END_TEST

START_TEST(parse_i64_handles_negative_bounds) {
        int64_t v = 0;
        ck_assert_int_eq(parse_i64("-5", -10, 10, &v), 0);
        ck_assert_int_eq(v, -5);
        ck_assert_int_eq(parse_i64("-11", -10, 10, &v), -ERANGE);
        ck_assert_int_eq(parse_i64("-9223372036854775808", INT64_MIN, INT64_MAX, &v), 0);
        ck_assert(v == INT64_MIN);
}
END_TEST

START_TEST(parse_duration_reads_each_unit) {
        uint64_t ms = 0;
        ck_assert_int_eq(parse_duration_ms("500ms", UINT64_MAX, &ms), 0);
        ck_assert_uint_eq(ms, 500);
        ck_assert_int_eq(parse_duration_ms("5s", UINT64_MAX, &ms), 0);
        ck_assert_uint_eq(ms, 5000);
        ck_assert_int_eq(parse_duration_ms("1m", UINT64_MAX, &ms), 0);
        ck_assert_uint_eq(ms, 60000);
        ck_assert_int_eq(parse_duration_ms("2h", UINT64_MAX, &ms), 0);
        ck_assert_uint_eq(ms, 7200000);
}
END_TEST

START_TEST(parse_duration_rejects_bare_numbers_and_unknown_units) {
        uint64_t ms = 3;
        ck_assert_int_eq(parse_duration_ms("5", UINT64_MAX, &ms), -EINVAL);
        ck_assert_int_eq(parse_duration_ms("5 s", UINT64_MAX, &ms), -EINVAL);
        ck_assert_int_eq(parse_duration_ms("5d", UINT64_MAX, &ms), -EINVAL);
        ck_assert_int_eq(parse_duration_ms("2m", 60000, &ms), -ERANGE);
        ck_assert_uint_eq(ms, 3);
}
END_TEST

START_TEST(format_duration_round_trips) {
        char b[32];
        format_duration_ms(1500, b, sizeof b);
        ck_assert_str_eq(b, "1500ms");
        format_duration_ms(120000, b, sizeof b);
        ck_assert_str_eq(b, "2m");
        format_duration_ms(5000, b, sizeof b);
        ck_assert_str_eq(b, "5s");
}
END_TEST

START_TEST(parse_hostport_splits_names_addresses_and_bracketed_ipv6) {
        char host[PARSE_HOST_MAX];
        uint16_t port = 0;
        ck_assert_int_eq(parse_hostport("ctl-0.kq.svc:9093", 0, host, sizeof host, &port), 0);
        ck_assert_str_eq(host, "ctl-0.kq.svc");
        ck_assert_uint_eq(port, 9093);
        ck_assert_int_eq(parse_hostport("10.0.0.7:1", 0, host, sizeof host, &port), 0);
        ck_assert_str_eq(host, "10.0.0.7");
        ck_assert_uint_eq(port, 1);
        ck_assert_int_eq(parse_hostport("[::1]:9092", 0, host, sizeof host, &port), 0);
        ck_assert_str_eq(host, "::1");
        ck_assert_uint_eq(port, 9092);
        ck_assert_int_eq(parse_hostport("[fd00::1]:65535", PARSE_HOSTPORT_KEEP_BRACKETS, host,
                                        sizeof host, &port), 0);
        ck_assert_str_eq(host, "[fd00::1]");
        ck_assert_uint_eq(port, 65535);
}
END_TEST

START_TEST(parse_hostport_rejects_bad_ports_and_trailing_junk) {
        char host[PARSE_HOST_MAX] = "untouched";
        uint16_t port = 7;
        ck_assert_int_eq(parse_hostport("host:0", 0, host, sizeof host, &port), -ERANGE);
        ck_assert_int_eq(parse_hostport("host:65536", 0, host, sizeof host, &port), -ERANGE);
        ck_assert_int_eq(parse_hostport("host:9092x", 0, host, sizeof host, &port), -EINVAL);
        ck_assert_int_eq(parse_hostport("host:9092 ", 0, host, sizeof host, &port), -EINVAL);
        ck_assert_int_eq(parse_hostport("host:+9092", 0, host, sizeof host, &port), -EINVAL);
        ck_assert_int_eq(parse_hostport("host:", 0, host, sizeof host, &port), -EINVAL);
        ck_assert_int_eq(parse_hostport("host", 0, host, sizeof host, &port), -EINVAL);
        ck_assert_int_eq(parse_hostport("[::1]x:9092", 0, host, sizeof host, &port), -EINVAL);
        ck_assert_int_eq(parse_hostport("[::1]", 0, host, sizeof host, &port), -EINVAL);
        ck_assert_str_eq(host, "untouched");
        ck_assert_uint_eq(port, 7);
}
END_TEST

START_TEST(parse_hostport_rejects_empty_unbracketed_v6_and_odd_hosts) {
        char host[PARSE_HOST_MAX];
        uint16_t port;
        ck_assert_int_eq(parse_hostport(":9092", 0, host, sizeof host, &port), -EINVAL);
        ck_assert_int_eq(parse_hostport("[]:9092", 0, host, sizeof host, &port), -EINVAL);
        ck_assert_int_eq(parse_hostport("[]:9092", PARSE_HOSTPORT_EMPTY_HOST, host, sizeof host, &port), -EINVAL);
        ck_assert_int_eq(parse_hostport("fd00::1:9092", 0, host, sizeof host, &port), -EINVAL);
        ck_assert_int_eq(parse_hostport("a b:9092", 0, host, sizeof host, &port), -EINVAL);
        ck_assert_int_eq(parse_hostport("a/b:9092", 0, host, sizeof host, &port), -EINVAL);
        ck_assert_int_eq(parse_hostport("a]:9092", 0, host, sizeof host, &port), -EINVAL);
        ck_assert_int_eq(parse_hostport("a\tb:9092", 0, host, sizeof host, &port), -EINVAL);
        ck_assert_int_eq(parse_hostport(NULL, 0, host, sizeof host, &port), -EINVAL);
        ck_assert_int_eq(parse_hostport(":9092", PARSE_HOSTPORT_EMPTY_HOST, host, sizeof host, &port), 0);
        ck_assert_str_eq(host, "");
        ck_assert_uint_eq(port, 9092);
}
END_TEST

START_TEST(parse_hostport_refuses_a_host_longer_than_the_buffer) {
        char host[8];
        uint16_t port;
        ck_assert_int_eq(parse_hostport("1234567:1", 0, host, sizeof host, &port), 0);
        ck_assert_str_eq(host, "1234567");
        ck_assert_int_eq(parse_hostport("12345678:1", 0, host, sizeof host, &port), -EINVAL);
        /* The brackets count when they are kept. */
        ck_assert_int_eq(parse_hostport("[::1:23]:1", 0, host, sizeof host, &port), 0);
        ck_assert_int_eq(parse_hostport("[::1:23]:1", PARSE_HOSTPORT_KEEP_BRACKETS, host, sizeof host, &port), -EINVAL);
}
END_TEST

START_TEST(dynbuf_refuses_growth_past_max_and_keeps_content) {
        struct dynbuf b;
        dynbuf_init(&b, 8);
        ck_assert_int_eq(dynbuf_appends(&b, "12345"), 0);
        ck_assert_int_eq(dynbuf_appends(&b, "6789"), -E2BIG);
        ck_assert_str_eq(dynbuf_str(&b), "12345");
        ck_assert_int_eq(dynbuf_printf(&b, "%d", 678), 0);
        ck_assert_str_eq(dynbuf_str(&b), "12345678");
        ck_assert_int_eq(dynbuf_printf(&b, "x"), -E2BIG);
        dynbuf_free(&b);
}
END_TEST

static struct props parse_ok(const char *text) {
        struct props p = { 0 };
        char err[128] = "";
        ck_assert_msg(props_parse(&p, text, strlen(text), err, sizeof err) == 0, "%s", err);
        return p;
}

START_TEST(props_parse_reads_separators_comments_and_continuations) {
        struct props p = parse_ok("# comment\n! also\n\na=1\nb : 2\nc 3\n  d=x\\\n     y\ne\n"
                                  "f=tab\\there\\u00e9\ng=a=b:c\n");
        ck_assert_uint_eq(p.n, 7);
        ck_assert_str_eq(props_get(&p, "a"), "1");
        ck_assert_str_eq(props_get(&p, "b"), "2");
        ck_assert_str_eq(props_get(&p, "c"), "3");
        ck_assert_str_eq(props_get(&p, "d"), "xy");
        ck_assert_str_eq(props_get(&p, "e"), "");
        ck_assert_str_eq(props_get(&p, "f"), "tab\there\xc3\xa9");
        ck_assert_str_eq(props_get(&p, "g"), "a=b:c");
        props_free(&p);
}
END_TEST

START_TEST(props_parse_rejects_bad_unicode_escape_naming_the_line) {
        struct props p = { 0 };
        char err[128] = "";
        const char *t = "a=1\nb=\\u12x4\n";
        ck_assert_int_eq(props_parse(&p, t, strlen(t), err, sizeof err), -EINVAL);
        ck_assert_ptr_nonnull(strstr(err, "line 2"));
        props_free(&p);
}
END_TEST

START_TEST(props_serialize_escapes_so_parse_reads_back_the_same) {
        struct props p = { 0 };
        props_set(&p, "key with=sep:", " lead\\back\nnl\xc3\xa9#");
        props_set(&p, "#hash", "!bang");
        struct dynbuf out;
        dynbuf_init(&out, 1 << 20);
        ck_assert_int_eq(props_serialize(&p, &out), 0);
        ck_assert_str_eq(dynbuf_str(&out),
                         "key\\ with\\=sep\\:=\\ lead\\\\back\\nnl\\u00E9#\n\\#hash=\\!bang\n");
        struct props q = parse_ok(dynbuf_str(&out));
        ck_assert_str_eq(props_get(&q, "key with=sep:"), " lead\\back\nnl\xc3\xa9#");
        ck_assert_str_eq(props_get(&q, "#hash"), "!bang");
        props_free(&p);
        props_free(&q);
        dynbuf_free(&out);
}
END_TEST

/* Found by fuzz_props: a character above U+FFFF is written as a surrogate pair and must be
 * read back as the same four UTF-8 bytes, not as two encoded surrogates. */
START_TEST(props_parse_joins_surrogate_pairs_into_one_code_point) {
        struct props p = parse_ok("k=\\uD83D\\uDE00 \\uD800x\n");
        ck_assert_str_eq(props_get(&p, "k"), "\xf0\x9f\x98\x80 \xed\xa0\x80x");
        struct dynbuf out;
        dynbuf_init(&out, 1 << 20);
        ck_assert_int_eq(props_serialize(&p, &out), 0);
        ck_assert_str_eq(dynbuf_str(&out), "k=\\uD83D\\uDE00 \\uD800x\n");
        props_free(&p);
        dynbuf_free(&out);
}
END_TEST

/* Found by fuzz_props: an overlong UTF-8 form is not UTF-8, so its bytes are written as
 * Latin-1 characters; before, "\xC1\x84" was written as 'D' and a second round changed it. */
START_TEST(props_serialize_writes_overlong_utf8_as_latin1_bytes) {
        struct props p = { 0 };
        props_set(&p, "k", "\xc1\x84\xf8\x88\x80\x80\x80");
        struct dynbuf out;
        dynbuf_init(&out, 1 << 20);
        ck_assert_int_eq(props_serialize(&p, &out), 0);
        ck_assert_str_eq(dynbuf_str(&out), "k=\\u00C1\\u0084\\u00F8\\u0088\\u0080\\u0080\\u0080\n");
        props_free(&p);
        dynbuf_free(&out);
}
END_TEST

START_TEST(props_set_replaces_in_place_and_remove_deletes) {
        struct props p = parse_ok("a=1\nb=2\nc=3\n");
        props_set(&p, "b", "20");
        ck_assert_str_eq(p.v[1].key, "b");
        ck_assert_str_eq(p.v[1].value, "20");
        ck_assert_int_eq(props_remove(&p, "a"), 0);
        ck_assert_int_eq(props_remove(&p, "zz"), -ENOENT);
        ck_assert_uint_eq(p.n, 2);
        ck_assert_str_eq(p.v[0].key, "b");
        props_free(&p);
}
END_TEST

static const struct opt_def test_defs[] = {
        { "POD_NAME", OPT_VALUE, "pod" },
        { "KPA_CLUSTER_ID", OPT_VALUE, "id" },
        { "KPA_DRY_RUN", OPT_SWITCH, "dry" },
        { "KPA_ADVERTISED_", OPT_FAMILY, "adv" },
};

START_TEST(sensitive_key_covers_kafka_password_keys_prefixes_and_patterns) {
        /* Every ConfigDef.Type.PASSWORD key of Kafka 4.1.1 and 4.4.0 (broker and clients). */
        static const char *const kafka[] = {
                "delegation.token.secret.key", "sasl.jaas.config",
                "sasl.oauthbearer.assertion.private.key.passphrase",
                "sasl.oauthbearer.client.credentials.client.secret", "ssl.key.password",
                "ssl.keystore.certificate.chain", "ssl.keystore.key", "ssl.keystore.password",
                "ssl.truststore.certificates", "ssl.truststore.password",
        };
        for (size_t i = 0; i < sizeof kafka / sizeof *kafka; i++) {
                char k[256];
                ck_assert_msg(sensitive_key(kafka[i]), "%s", kafka[i]);
                snprintf(k, sizeof k, "listener.name.external.%s", kafka[i]);
                ck_assert_msg(sensitive_key(k), "%s", k);
                snprintf(k, sizeof k, "listener.name.internal.scram-sha-512.%s", kafka[i]);
                ck_assert_msg(sensitive_key(k), "%s", k);
        }
        static const char *const pattern[] = {
                "delegation.token.master.key", "password.encoder.secret", "zookeeper.ssl.keystore.password",
                "listener.name.internal.plain.sasl.jaas.config", "my.plugin.api.key", "my_api_key",
                "vault-key", "custom.DB.PassWord", "ssl.key.pem", "ssl.certificate.pem",
                "sasl.oauthbearer.config", "sasl.oauthbearer.client.secret", "sasl.password", "ssl_key",
                "x.passwd", "key.store.passphrase",
        };
        for (size_t i = 0; i < sizeof pattern / sizeof *pattern; i++)
                ck_assert_msg(sensitive_key(pattern[i]), "%s", pattern[i]);
        static const char *const plain[] = {
                "ssl.keystore.location", "ssl.keystore.type", "ssl.truststore.location", "ssl.ca.location",
                "listeners", "advertised.listeners", "node.id", "sasl.mechanism", "sasl.username",
                "delegation.token.max.lifetime.ms", "sasl.oauthbearer.assertion.private.key.file",
                "keystore", "monkey", "ssl.keymanager.algorithm", "sasl.oauthbearer.token.endpoint.url",
                /* Only a whole dotted component counts as a Kafka key. */
                "xsasl.jaas.confi", "",
        };
        for (size_t i = 0; i < sizeof plain / sizeof *plain; i++)
                ck_assert_msg(!sensitive_key(plain[i]), "%s", plain[i]);
}
END_TEST

START_TEST(props_serialize_masked_hides_only_the_chosen_values) {
        struct props p = { 0 };
        props_set(&p, "a=b", "keep");
        props_set(&p, "ssl.keystore.password", "hide me");
        struct dynbuf b;
        dynbuf_init(&b, 1024);
        ck_assert_int_eq(props_serialize_masked(&p, sensitive_key, "<masked>", &b), 0);
        ck_assert_str_eq(dynbuf_str(&b), "a\\=b=keep\nssl.keystore.password=<masked>\n");
        dynbuf_free(&b);
        props_free(&p);
}
END_TEST

START_TEST(opts_flags_override_env_and_accept_both_spellings) {
        char *envp[] = { "POD_NAME=from-env-0", "KPA_CLUSTER_ID=env", "OTHER=x",
                         "KPA_ADVERTISED_EXTERNAL=a:1", NULL };
        char *argv[] = { "prog", "--cluster-id", "flag", "--pod-name=p-1", "--dry-run",
                         "--advertised-int-lb=h:2", "check", NULL };
        struct opt_set s;
        char err[128];
        ck_assert_int_eq(opts_collect(test_defs, 4, envp, 7, argv, &s, err, sizeof err), 0);
        ck_assert_str_eq(opts_get(&s, "POD_NAME"), "p-1");
        ck_assert_str_eq(opts_get(&s, "KPA_CLUSTER_ID"), "flag");
        ck_assert_str_eq(opts_get(&s, "KPA_DRY_RUN"), "true");
        ck_assert_str_eq(opts_get(&s, "KPA_ADVERTISED_EXTERNAL"), "a:1");
        ck_assert_str_eq(opts_get(&s, "KPA_ADVERTISED_INT_LB"), "h:2");
        ck_assert_ptr_null(opts_get(&s, "OTHER"));
        ck_assert_uint_eq(s.nargs, 1);
        ck_assert_str_eq(s.args[0], "check");
        char o[64];
        ck_assert_str_eq(opts_origin(&s, "KPA_CLUSTER_ID", o, sizeof o), "--cluster-id");
        ck_assert_str_eq(opts_origin(&s, "KPA_ADVERTISED_EXTERNAL", o, sizeof o), "KPA_ADVERTISED_EXTERNAL");
        opts_free(&s);

        char *argv2[] = { "prog", "--kpa-cluster-id=long", NULL };
        ck_assert_int_eq(opts_collect(test_defs, 4, NULL, 2, argv2, &s, err, sizeof err), 0);
        ck_assert_str_eq(opts_get(&s, "KPA_CLUSTER_ID"), "long");
        opts_free(&s);
}
END_TEST

START_TEST(opts_rejects_unknown_flags_and_missing_values) {
        struct opt_set s;
        char err[128];
        char *a1[] = { "prog", "--bogus=1", NULL };
        ck_assert_int_eq(opts_collect(test_defs, 4, NULL, 2, a1, &s, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "unknown flag --bogus (see --help)");
        char *a2[] = { "prog", "--pod-name", NULL };
        ck_assert_int_eq(opts_collect(test_defs, 4, NULL, 2, a2, &s, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "flag --pod-name needs a value");
        char *a3[] = { "prog", "-x", NULL };
        ck_assert_int_eq(opts_collect(test_defs, 4, NULL, 2, a3, &s, err, sizeof err), -EINVAL);
        /* A value quoted in an error must keep the error one line. */
        char *a4[] = { "prog", "--pod-name=a\nb", NULL };
        ck_assert_int_eq(opts_collect(test_defs, 4, NULL, 2, a4, &s, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "--pod-name contains a line break or another control character");
        char *e5[] = { "KPA_CLUSTER_ID=x\ry", NULL };
        char *a5[] = { "prog", NULL };
        ck_assert_int_eq(opts_collect(test_defs, 4, e5, 1, a5, &s, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "KPA_CLUSTER_ID contains a line break or another control character");
        char *a6[] = { "prog", "check\n", NULL };
        ck_assert_int_eq(opts_collect(test_defs, 4, NULL, 2, a6, &s, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "argument 1 contains a line break or another control character");
}
END_TEST

START_TEST(secret_random_password_uses_alphanumerics_and_differs) {
        char a[33], b[33];
        ck_assert_int_eq(secret_random_password(a, 32), 0);
        ck_assert_int_eq(secret_random_password(b, 32), 0);
        ck_assert_uint_eq(strlen(a), 32);
        ck_assert_uint_eq(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"), 32);
        ck_assert_str_ne(a, b);
}
END_TEST

START_TEST(secret_quote_hides_every_part_of_the_secret_and_escapes_the_rest) {
        char buf[256];
        const char *tok = "eyJhbGciOiJSUzI1NiJ9.payload.sig";
        const char *text = "Bearer eyJhbGciOiJSUzI1NiJ9.payload.sig refused";
        ck_assert_str_eq(secret_quote(text, strlen(text), 200, tok, buf, sizeof buf), "Bearer <hidden> refused");
        /* A part of 8 bytes is enough; 7 are not. */
        ck_assert_str_eq(secret_quote("x payload.s y", 13, 200, tok, buf, sizeof buf), "x <hidden> y");
        ck_assert_str_eq(secret_quote("x payload y", 11, 200, tok, buf, sizeof buf), "x payload y");
        /* Escapes, NULs, the cut, and a part that runs past the cut. */
        ck_assert_str_eq(secret_quote("a\"b\\c\x1b\0d", 8, 200, NULL, buf, sizeof buf), "a\\\"b\\\\c\\x1b\\x00d");
        ck_assert_str_eq(secret_quote("abcdef", 6, 3, NULL, buf, sizeof buf), "abc...");
        ck_assert_str_eq(secret_quote("ab eyJhbGciOiJSUzI1NiJ9", 23, 6, tok, buf, sizeof buf), "ab <hidden>...");
        /* A buffer too small: cut with "...", never overrun. */
        ck_assert_str_eq(secret_quote("abcdefgh", 8, 200, NULL, buf, 7), "abc...");
        ck_assert(secret_overlaps(text, strlen(text), tok));
        ck_assert(!secret_overlaps("payload", 7, tok));
        ck_assert(!secret_overlaps(text, strlen(text), NULL));
}
END_TEST

int main(void) {
        Suite *s = suite_create("common");
        TCase *tc = tcase_create("parse");
        tcase_add_test(tc, parse_u64_accepts_exact_decimal_in_range);
        tcase_add_test(tc, parse_u64_rejects_trailing_bytes_signs_spaces_and_overflow);
        tcase_add_test(tc, parse_i64_handles_negative_bounds);
        tcase_add_test(tc, parse_hostport_splits_names_addresses_and_bracketed_ipv6);
        tcase_add_test(tc, parse_hostport_rejects_bad_ports_and_trailing_junk);
        tcase_add_test(tc, parse_hostport_rejects_empty_unbracketed_v6_and_odd_hosts);
        tcase_add_test(tc, parse_hostport_refuses_a_host_longer_than_the_buffer);
        tcase_add_test(tc, parse_duration_reads_each_unit);
        tcase_add_test(tc, parse_duration_rejects_bare_numbers_and_unknown_units);
        tcase_add_test(tc, format_duration_round_trips);
        suite_add_tcase(s, tc);
        tc = tcase_create("dynbuf");
        tcase_add_test(tc, dynbuf_refuses_growth_past_max_and_keeps_content);
        suite_add_tcase(s, tc);
        tc = tcase_create("props");
        tcase_add_test(tc, props_parse_reads_separators_comments_and_continuations);
        tcase_add_test(tc, props_parse_rejects_bad_unicode_escape_naming_the_line);
        tcase_add_test(tc, props_serialize_escapes_so_parse_reads_back_the_same);
        tcase_add_test(tc, props_parse_joins_surrogate_pairs_into_one_code_point);
        tcase_add_test(tc, props_serialize_writes_overlong_utf8_as_latin1_bytes);
        tcase_add_test(tc, props_set_replaces_in_place_and_remove_deletes);
        tcase_add_test(tc, props_serialize_masked_hides_only_the_chosen_values);
        tcase_add_test(tc, sensitive_key_covers_kafka_password_keys_prefixes_and_patterns);
        suite_add_tcase(s, tc);
        tc = tcase_create("opts");
        tcase_add_test(tc, opts_flags_override_env_and_accept_both_spellings);
        tcase_add_test(tc, opts_rejects_unknown_flags_and_missing_values);
        suite_add_tcase(s, tc);
        tc = tcase_create("secret");
        tcase_add_test(tc, secret_random_password_uses_alphanumerics_and_differs);
        tcase_add_test(tc, secret_quote_hides_every_part_of_the_secret_and_escapes_the_rest);
        suite_add_tcase(s, tc);
        return tu_run_suite(s);
}
