/* Suite for the ApiVersions feature codec (kwire_features) and the lag assessment over it
 * (features): exact request bytes, answers of real brokers (tests/agent/vectors/, saved from
 * Kafka 4.1.1 and 4.4.0 single-node KRaft clusters with a static quorum, the 4.4.0 one
 * formatted with --release-version 4.1 and then finalized with
 * `kafka-features.sh upgrade --feature metadata.version=33`), every truncation, and each
 * refusal of a malformed answer. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "kpa/features.h"
#include "kpa/kwire_features.h"
#include "testutil.h"

#define BYTES(...) ((const uint8_t[]){ __VA_ARGS__ }), sizeof((const uint8_t[]){ __VA_ARGS__ })

static void assert_bytes(const uint8_t *got, size_t got_len, const uint8_t *want, size_t want_len) {
        ck_assert_uint_eq(got_len, want_len);
        for (size_t i = 0; i < want_len; i++)
                ck_assert_msg(got[i] == want[i], "byte %zu: got 0x%02x, want 0x%02x", i, got[i], want[i]);
}

static uint8_t vbuf[4096];

static uint8_t *vector(const char *name, size_t *ret_len) {
        char path[1024];
        snprintf(path, sizeof path, "%s/tests/agent/vectors/%s", tu_source_dir(), name);
        FILE *f = fopen(path, "rb");
        ck_assert_msg(f != NULL, "cannot open %s", path);
        *ret_len = fread(vbuf, 1, sizeof vbuf, f);
        fclose(f);
        return vbuf;
}

START_TEST(kwire_features_request_v4_bytes) {
        uint8_t buf[KWIRE_FEATURES_REQUEST_MAX];
        size_t len;
        ck_assert_int_eq(kwire_features_encode_request(4, 7, "kpa-agent", "kpa-agent", "0.1.0", buf, sizeof buf, &len), 0);
        assert_bytes(buf, len, BYTES(0, 0, 0, 37,                    /* size */
                                     0, 18, 0, 4, 0, 0, 0, 7,        /* key 18, v4, correlation 7 */
                                     0, 9, 'k', 'p', 'a', '-', 'a', 'g', 'e', 'n', 't', 0,
                                     10, 'k', 'p', 'a', '-', 'a', 'g', 'e', 'n', 't',
                                     6, '0', '.', '1', '.', '0', 0));
        ck_assert_int_eq(kwire_features_encode_request(3, 7, "kpa-agent", "kpa-agent", "0.1.0", buf, sizeof buf, &len), 0);
        ck_assert_int_eq(buf[7], 3);
}
END_TEST

START_TEST(kwire_features_request_refuses_what_kafka_refuses) {
        uint8_t buf[KWIRE_FEATURES_REQUEST_MAX];
        size_t len;
        ck_assert_int_eq(kwire_features_encode_request(2, 7, "c", "kpa-agent", "1", buf, sizeof buf, &len), -EINVAL);
        ck_assert_int_eq(kwire_features_encode_request(5, 7, "c", "kpa-agent", "1", buf, sizeof buf, &len), -EINVAL);
        ck_assert_int_eq(kwire_features_encode_request(4, 7, "c", "", "1", buf, sizeof buf, &len), -EINVAL);
        ck_assert_int_eq(kwire_features_encode_request(4, 7, "c", "kpa-agent", "1.0+dirty", buf, sizeof buf, &len), -EINVAL);
        ck_assert_int_eq(kwire_features_encode_request(4, 7, "c", "kpa-agent", "1.0-", buf, sizeof buf, &len), -EINVAL);
        ck_assert_int_eq(kwire_features_encode_request(4, 7, "c", ".kpa", "1", buf, sizeof buf, &len), -EINVAL);
        ck_assert_int_eq(kwire_features_encode_request(4, 7, "c", "kpa-agent", "1", buf, 20, &len), -E2BIG);
}
END_TEST

static void assert_feature(const struct kwire_feature *v, int n, const char *name, int min, int max) {
        const struct kwire_feature *f = kwire_features_find(v, n, name);
        ck_assert_msg(f != NULL, "%s missing", name);
        ck_assert_int_eq(f->min, min);
        ck_assert_int_eq(f->max, max);
}

START_TEST(kwire_features_decodes_a_real_kafka_4_4_answer_lagging_at_4_1) {
        size_t len;
        uint8_t *frame = vector("apiversions-v4-kafka-4.4.0-mv-4.1.bin", &len);
        ck_assert_uint_eq(len, 835);
        struct kwire_features f;
        char err[256] = "";
        ck_assert_int_eq(kwire_features_decode_response(frame, len, 4, 7, &f, err, sizeof err), 0);
        ck_assert_int_eq(f.error_code, 0);
        ck_assert_int_eq(f.n_api_keys, 77);
        ck_assert_int_eq(f.n_supported, 7);
        ck_assert_int_eq(f.n_supported_kept, 7);
        assert_feature(f.supported, 7, "metadata.version", 7, 33);
        assert_feature(f.supported, 7, "kraft.version", 0, 1);
        assert_feature(f.supported, 7, "group.version", 0, 1);
        assert_feature(f.supported, 7, "transaction.version", 0, 2);
        assert_feature(f.supported, 7, "eligible.leader.replicas.version", 0, 1);
        assert_feature(f.supported, 7, "share.version", 0, 2);
        assert_feature(f.supported, 7, "streams.version", 0, 1);
        ck_assert_int_eq(f.finalized_epoch, 325);
        ck_assert_int_eq(f.n_finalized, 4);
        assert_feature(f.finalized, 4, "metadata.version", 27, 27);
        assert_feature(f.finalized, 4, "group.version", 1, 1);
        assert_feature(f.finalized, 4, "transaction.version", 2, 2);
        assert_feature(f.finalized, 4, "eligible.leader.replicas.version", 1, 1);
        /* A static quorum: kraft.version is at 0, which Kafka does not list. */
        ck_assert_ptr_null(kwire_features_find(f.finalized, 4, "kraft.version"));
        ck_assert(!f.zk_migration_ready);
}
END_TEST

START_TEST(kwire_features_decodes_real_kafka_4_1_and_finalized_4_4_answers) {
        size_t len;
        struct kwire_features f;
        char err[256] = "";
        uint8_t *frame = vector("apiversions-v4-kafka-4.1.1.bin", &len);
        ck_assert_uint_eq(len, 786);
        ck_assert_int_eq(kwire_features_decode_response(frame, len, 4, 7, &f, err, sizeof err), 0);
        ck_assert_int_eq(f.n_api_keys, 73);
        ck_assert_int_eq(f.n_supported, 6);
        assert_feature(f.supported, 6, "metadata.version", 7, 27);
        assert_feature(f.supported, 6, "share.version", 0, 1);
        ck_assert_ptr_null(kwire_features_find(f.supported, 6, "streams.version"));
        ck_assert_int_eq(f.finalized_epoch, 20);
        assert_feature(f.finalized, f.n_finalized, "metadata.version", 27, 27);

        frame = vector("apiversions-v4-kafka-4.4.0-mv-4.4.bin", &len);
        ck_assert_int_eq(kwire_features_decode_response(frame, len, 4, 7, &f, err, sizeof err), 0);
        ck_assert_int_eq(f.finalized_epoch, 371);
        assert_feature(f.finalized, f.n_finalized, "metadata.version", 33, 33);
        ck_assert_ptr_null(kwire_features_find(f.finalized, f.n_finalized, "kraft.version"));
}
END_TEST

/* Why the agent sends version 4: at 3, Kafka leaves out every supported feature whose minimum
 * is 0 (KAFKA-17011). */
START_TEST(kwire_features_real_v3_answer_lists_only_metadata_version_as_supported) {
        size_t len;
        uint8_t *frame = vector("apiversions-v3-kafka-4.4.0-mv-4.1.bin", &len);
        struct kwire_features f;
        char err[256] = "";
        ck_assert_int_eq(kwire_features_decode_response(frame, len, 3, 7, &f, err, sizeof err), 0);
        ck_assert_int_eq(f.n_supported, 1);
        assert_feature(f.supported, 1, "metadata.version", 7, 33);
        ck_assert_int_eq(f.n_finalized, 4);
}
END_TEST

START_TEST(kwire_features_every_truncation_and_trailing_byte_is_refused) {
        size_t len;
        uint8_t frame[1024];
        const uint8_t *v = vector("apiversions-v4-kafka-4.4.0-mv-4.1.bin", &len);
        memcpy(frame, v, len);
        struct kwire_features f;
        char err[256];
        for (size_t n = 0; n < len; n++) {
                err[0] = '\0';
                ck_assert_msg(kwire_features_decode_response(frame, n, 4, 7, &f, err, sizeof err) == -EPROTO,
                              "a frame cut to %zu bytes was accepted", n);
                ck_assert_msg(strstr(err, "malformed ApiVersions v4 answer: ") == err, "%zu: %s", n, err);
        }
        frame[len] = 0;
        ck_assert_int_eq(kwire_features_decode_response(frame, len + 1, 4, 7, &f, err, sizeof err), -EPROTO);
        ck_assert_str_eq(err, "malformed ApiVersions v4 answer: 1 unexpected bytes after the end of the message");
        ck_assert_int_eq(kwire_features_decode_response(frame, len, 4, 8, &f, err, sizeof err), -EPROTO);
        ck_assert_str_eq(err, "malformed ApiVersions v4 answer: the response's correlation id 7 is not the request's 8");
        ck_assert_int_eq(kwire_features_decode_response(frame, len, 2, 7, &f, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "ApiVersions version 2 is not supported (3 or 4)");
}
END_TEST

/* Kafka answers a version it does not know with UNSUPPORTED_VERSION in the v0 form (a classic
 * array of API keys): only the error code is read. */
START_TEST(kwire_features_error_answer_in_v0_form_gives_the_code) {
        struct kwire_features f;
        char err[256] = "";
        ck_assert_int_eq(kwire_features_decode_response(BYTES(0, 0, 0, 7, 0, 35, 0, 0, 0, 1, 0, 18, 0, 0, 0, 3),
                                                        4, 7, &f, err, sizeof err), 0);
        ck_assert_int_eq(f.error_code, KWIRE_ERR_UNSUPPORTED_VERSION);
        ck_assert_int_eq(f.n_supported, 0);
        ck_assert_int_eq(f.finalized_epoch, -1);
}
END_TEST

/* A hand-built answer: no API keys, throttle 0, then the given tagged section. */
static int decode_tags(const uint8_t *tags, size_t n, struct kwire_features *f, char *err, size_t errlen) {
        uint8_t frame[256] = { 0, 0, 0, 7, 0, 0, 1, 0, 0, 0, 0 };
        memcpy(frame + 11, tags, n);
        return kwire_features_decode_response(frame, 11 + n, 4, 7, f, err, errlen);
}

START_TEST(kwire_features_malformed_fields_are_refused_with_the_reason) {
        struct kwire_features f;
        char err[256];
        /* Tag 1 (epoch) with 7 bytes instead of 8. */
        ck_assert_int_eq(decode_tags(BYTES(1, 1, 7, 0, 0, 0, 0, 0, 0, 1), &f, err, sizeof err), -EPROTO);
        ck_assert_str_eq(err, "malformed ApiVersions v4 answer: tag 1 (content from byte 14): truncated at byte 0 of 7 reading FinalizedFeaturesEpoch (8 bytes)");
        /* Tag 3 with 2 bytes: its content must fill its size exactly. */
        ck_assert_int_eq(decode_tags(BYTES(1, 3, 2, 1, 0), &f, err, sizeof err), -EPROTO);
        ck_assert_str_eq(err, "malformed ApiVersions v4 answer: tag 3 (content from byte 14): 1 unexpected bytes after the end of the message");
        /* Tags out of order. */
        ck_assert_int_eq(decode_tags(BYTES(2, 3, 1, 1, 1, 8, 0, 0, 0, 0, 0, 0, 0, 1), &f, err, sizeof err), -EPROTO);
        ck_assert_str_eq(err, "malformed ApiVersions v4 answer: response tagged fields at byte 15: tag 1 follows tag 3 (tags must increase)");
        /* A supported feature listed twice. */
        ck_assert_int_eq(decode_tags(BYTES(1, 0, 15, 3, 2, 'a', 0, 0, 0, 1, 0, 2, 'a', 0, 0, 0, 2, 0), &f, err, sizeof err), -EPROTO);
        ck_assert_str_eq(err, "malformed ApiVersions v4 answer: tag 0 (content from byte 14): SupportedFeatures lists a twice (again at byte 8)");
        /* An empty name; a range with min > max; a finalized level of 0. */
        ck_assert_int_eq(decode_tags(BYTES(1, 0, 7, 2, 1, 0, 0, 0, 1, 0), &f, err, sizeof err), -EPROTO);
        ck_assert_str_eq(err, "malformed ApiVersions v4 answer: tag 0 (content from byte 14): SupportedFeatures: the name at byte 1 is 0 bytes long (1 to 64)");
        ck_assert_int_eq(decode_tags(BYTES(1, 0, 8, 2, 2, 'a', 0, 2, 0, 1, 0), &f, err, sizeof err), -EPROTO);
        ck_assert_str_eq(err, "malformed ApiVersions v4 answer: tag 0 (content from byte 14): SupportedFeatures: a at byte 1 has the range 2-1");
        ck_assert_int_eq(decode_tags(BYTES(1, 2, 8, 2, 2, 'a', 0, 0, 0, 0, 0), &f, err, sizeof err), -EPROTO);
        ck_assert_str_eq(err, "malformed ApiVersions v4 answer: tag 2 (content from byte 14): FinalizedFeatures: a at byte 1 has the range 0-0");
        /* A count the field cannot hold. */
        ck_assert_int_eq(decode_tags(BYTES(1, 0, 1, 100), &f, err, sizeof err), -EPROTO);
        ck_assert_msg(strstr(err, "SupportedFeatures") != NULL, "%s", err);
        /* An unknown tag is skipped; ZkMigrationReady read. */
        ck_assert_int_eq(decode_tags(BYTES(2, 3, 1, 1, 9, 2, 0xab, 0xcd), &f, err, sizeof err), 0);
        ck_assert(f.zk_migration_ready);
}
END_TEST

START_TEST(kwire_features_round_trip_keeps_every_field) {
        struct kwire_features f = { .finalized_epoch = 12, .n_supported_kept = 2, .n_finalized_kept = 1, .zk_migration_ready = true };
        f.supported[0] = (struct kwire_feature){ "metadata.version", 7, 33 };
        f.supported[1] = (struct kwire_feature){ "kraft.version", 0, 1 };
        f.finalized[0] = (struct kwire_feature){ "metadata.version", 27, 27 };
        uint8_t buf[1024];
        size_t len;
        ck_assert_int_eq(kwire_features_encode_response(&f, 4, 9, buf, sizeof buf, &len), 0);
        struct kwire_features back;
        char err[256] = "";
        ck_assert_int_eq(kwire_features_decode_response(buf + 4, len - 4, 4, 9, &back, err, sizeof err), 0);
        ck_assert_int_eq(back.n_supported, 2);
        assert_feature(back.supported, 2, "kraft.version", 0, 1);
        assert_feature(back.finalized, 1, "metadata.version", 27, 27);
        ck_assert_int_eq(back.finalized_epoch, 12);
        ck_assert(back.zk_migration_ready);
}
END_TEST

/* ---- the assessment ---- */

static void assess_vector(const char *name, struct features_view *ret) {
        size_t len;
        uint8_t *frame = vector(name, &len);
        struct kwire_features f;
        char err[256] = "";
        ck_assert_int_eq(kwire_features_decode_response(frame, len, 4, 7, &f, err, sizeof err), 0);
        features_assess(&f, 1000, ret);
}

START_TEST(features_after_a_roll_to_4_4_metadata_version_is_pending_and_kraft_version_is_not) {
        struct features_view v;
        assess_vector("apiversions-v4-kafka-4.4.0-mv-4.1.bin", &v);
        ck_assert(v.known);
        ck_assert_int_eq(v.n, 7);
        ck_assert_str_eq(v.v[0].name, "eligible.leader.replicas.version");   /* sorted */
        const struct feature_state *mv = features_find(&v, "metadata.version");
        ck_assert_int_eq(mv->finalized, 27);
        ck_assert_int_eq(mv->supported_max, 33);
        ck_assert(mv->lags && mv->pending);
        /* Level 0 features lag too, but are opt-ins: never part of the command. */
        const struct feature_state *kv = features_find(&v, "kraft.version");
        ck_assert_int_eq(kv->finalized, 0);
        ck_assert_int_eq(kv->supported_max, 1);
        ck_assert(kv->lags && !kv->pending);
        ck_assert(features_find(&v, "share.version")->lags && !features_find(&v, "share.version")->pending);
        ck_assert(!features_find(&v, "transaction.version")->lags);
        ck_assert_int_eq(v.n_pending, 1);
        char cmd[256];
        ck_assert(features_command(&v, "kafka-0.kafka-headless:9092", cmd, sizeof cmd));
        ck_assert_str_eq(cmd, "kafka-features.sh --bootstrap-server kafka-0.kafka-headless:9092 upgrade --feature metadata.version=33");
        ck_assert(!features_command(&v, "kafka-0.kafka-headless:9092", cmd, 40));
}
END_TEST

START_TEST(features_finalized_or_unrolled_cluster_has_nothing_pending) {
        struct features_view v;
        char cmd[256];
        assess_vector("apiversions-v4-kafka-4.4.0-mv-4.4.bin", &v);
        ck_assert_int_eq(v.n_pending, 0);
        ck_assert(!features_find(&v, "metadata.version")->lags);
        ck_assert(features_command(&v, "b:9092", cmd, sizeof cmd));
        ck_assert_str_eq(cmd, "");
        assess_vector("apiversions-v4-kafka-4.1.1.bin", &v);
        ck_assert_int_eq(v.n_pending, 0);
        ck_assert_int_eq(features_find(&v, "metadata.version")->supported_max, 27);
        features_unknown(&v, "ApiVersions failed: refused");
        ck_assert(!v.known);
        ck_assert(features_command(&v, "b:9092", cmd, sizeof cmd));
        ck_assert_str_eq(cmd, "");
}
END_TEST

/* An enabled feature that lags is pending as well; a finalized feature this software does not
 * list shows with no supported range and does not lag. */
START_TEST(features_enabled_feature_lagging_is_pending_unknown_to_software_is_not) {
        struct kwire_features f = { .finalized_epoch = 3, .n_supported_kept = 2, .n_finalized_kept = 3 };
        f.supported[0] = (struct kwire_feature){ "metadata.version", 7, 33 };
        f.supported[1] = (struct kwire_feature){ "group.version", 0, 2 };
        f.finalized[0] = (struct kwire_feature){ "metadata.version", 33, 33 };
        f.finalized[1] = (struct kwire_feature){ "group.version", 1, 1 };
        f.finalized[2] = (struct kwire_feature){ "future.version", 1, 1 };
        struct features_view v;
        features_assess(&f, 5, &v);
        ck_assert_int_eq(v.n_pending, 1);
        ck_assert(features_find(&v, "group.version")->pending);
        const struct feature_state *fut = features_find(&v, "future.version");
        ck_assert_int_eq(fut->supported_max, -1);
        ck_assert(!fut->lags);
        char cmd[256];
        features_command(&v, "b:1", cmd, sizeof cmd);
        ck_assert_str_eq(cmd, "kafka-features.sh --bootstrap-server b:1 upgrade --feature group.version=2");
}
END_TEST

int main(void) {
        Suite *s = suite_create("kwire_features");
        TCase *tc = tcase_create("kwire_features");
        tcase_add_test(tc, kwire_features_request_v4_bytes);
        tcase_add_test(tc, kwire_features_request_refuses_what_kafka_refuses);
        tcase_add_test(tc, kwire_features_decodes_a_real_kafka_4_4_answer_lagging_at_4_1);
        tcase_add_test(tc, kwire_features_decodes_real_kafka_4_1_and_finalized_4_4_answers);
        tcase_add_test(tc, kwire_features_real_v3_answer_lists_only_metadata_version_as_supported);
        tcase_add_test(tc, kwire_features_every_truncation_and_trailing_byte_is_refused);
        tcase_add_test(tc, kwire_features_error_answer_in_v0_form_gives_the_code);
        tcase_add_test(tc, kwire_features_malformed_fields_are_refused_with_the_reason);
        tcase_add_test(tc, kwire_features_round_trip_keeps_every_field);
        tcase_add_test(tc, features_after_a_roll_to_4_4_metadata_version_is_pending_and_kraft_version_is_not);
        tcase_add_test(tc, features_finalized_or_unrolled_cluster_has_nothing_pending);
        tcase_add_test(tc, features_enabled_feature_lagging_is_pending_unknown_to_software_is_not);
        suite_add_tcase(s, tc);
        return tu_run_suite(s);
}
