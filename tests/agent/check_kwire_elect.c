/* Suite for the ElectLeaders codec (kwire_elect): exact request bytes, answers field by field,
 * answers of real Kafka 4.1.1 and 4.4.0 brokers (tests/agent/vectors/, saved by
 * tests/kafka/test_leadership.py with KPA_ELECT_VECTORS_DIR), every truncation, and each
 * refusal of a malformed answer or request. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kpa/kwire_elect.h"
#include "testutil.h"

#define BYTES(...) ((const uint8_t[]){ __VA_ARGS__ }), sizeof((const uint8_t[]){ __VA_ARGS__ })

static void assert_bytes(const uint8_t *got, size_t got_len, const uint8_t *want, size_t want_len) {
        ck_assert_uint_eq(got_len, want_len);
        for (size_t i = 0; i < want_len; i++)
                ck_assert_msg(got[i] == want[i], "byte %zu: got 0x%02x, want 0x%02x", i, got[i], want[i]);
}

static uint8_t vbuf[8192];

static uint8_t *vector(const char *name, size_t *ret_len) {
        char path[1024];
        snprintf(path, sizeof path, "%s/tests/agent/vectors/%s", tu_source_dir(), name);
        FILE *f = fopen(path, "rb");
        ck_assert_msg(f != NULL, "cannot open %s", path);
        *ret_len = fread(vbuf, 1, sizeof vbuf, f);
        fclose(f);
        return vbuf;
}

static struct kwire_elect ans, back;

START_TEST(kwire_elect_request_v2_bytes_group_partitions_by_topic) {
        const struct kwire_elect_partition parts[] = { { "lead", 1 }, { "x", 0 }, { "lead", 4 } };
        uint8_t buf[KWIRE_ELECT_REQUEST_MAX];
        size_t len;
        ck_assert_int_eq(kwire_elect_encode_request(2, 7, "kpa-agent", KWIRE_ELECT_PREFERRED, parts, 3, 3000,
                                                    buf, sizeof buf, &len), 0);
        assert_bytes(buf, len, BYTES(0, 0, 0, 50,                 /* size */
                                     0, 43, 0, 2, 0, 0, 0, 7,     /* ElectLeaders v2, correlation 7 */
                                     0, 9, 'k', 'p', 'a', '-', 'a', 'g', 'e', 'n', 't', 0,
                                     0,                           /* ElectionType PREFERRED */
                                     3,                           /* two topics */
                                     5, 'l', 'e', 'a', 'd', 3, 0, 0, 0, 1, 0, 0, 0, 4, 0,
                                     2, 'x', 2, 0, 0, 0, 0, 0,
                                     0, 0, 0x0b, 0xb8,            /* TimeoutMs 3000 */
                                     0));
}
END_TEST

START_TEST(kwire_elect_request_refuses_what_kafka_would_not_take) {
        uint8_t buf[KWIRE_ELECT_REQUEST_MAX];
        size_t len;
        char long_name[KWIRE_ELECT_TOPIC_MAX + 2];
        memset(long_name, 'a', sizeof long_name - 1);
        long_name[sizeof long_name - 1] = '\0';
        const struct kwire_elect_partition ok[] = { { "t", 0 } }, empty[] = { { "", 0 } },
                                           none[] = { { NULL, 0 } }, neg[] = { { "t", -1 } },
                                           longer[] = { { long_name, 0 } };
        ck_assert_int_eq(kwire_elect_encode_request(1, 1, "c", 0, ok, 1, 1000, buf, sizeof buf, &len), -EINVAL);
        ck_assert_int_eq(kwire_elect_encode_request(3, 1, "c", 0, ok, 1, 1000, buf, sizeof buf, &len), -EINVAL);
        ck_assert_int_eq(kwire_elect_encode_request(2, 1, "c", 0, ok, 0, 1000, buf, sizeof buf, &len), -EINVAL);
        ck_assert_int_eq(kwire_elect_encode_request(2, 1, "c", 0, ok, KWIRE_ELECT_MAX_PARTITIONS + 1, 1000, buf,
                                                    sizeof buf, &len), -EINVAL);
        ck_assert_int_eq(kwire_elect_encode_request(2, 1, "c", 0, ok, 1, -1, buf, sizeof buf, &len), -EINVAL);
        ck_assert_int_eq(kwire_elect_encode_request(2, 1, "c", 0, empty, 1, 1000, buf, sizeof buf, &len), -EINVAL);
        ck_assert_int_eq(kwire_elect_encode_request(2, 1, "c", 0, none, 1, 1000, buf, sizeof buf, &len), -EINVAL);
        ck_assert_int_eq(kwire_elect_encode_request(2, 1, "c", 0, neg, 1, 1000, buf, sizeof buf, &len), -EINVAL);
        ck_assert_int_eq(kwire_elect_encode_request(2, 1, "c", 0, longer, 1, 1000, buf, sizeof buf, &len), -EINVAL);
        long_name[KWIRE_ELECT_TOPIC_MAX] = '\0';   /* 249 bytes: Kafka's longest */
        ck_assert_int_eq(kwire_elect_encode_request(2, 1, "c", 0, longer, 1, 1000, buf, sizeof buf, &len), 0);
        ck_assert_int_eq(kwire_elect_encode_request(2, 1, "c", 0, ok, 1, 1000, buf, 20, &len), -E2BIG);
}
END_TEST

START_TEST(kwire_elect_request_of_the_most_partitions_fits_the_buffer) {
        static struct kwire_elect_partition parts[KWIRE_ELECT_MAX_PARTITIONS];
        static char names[KWIRE_ELECT_MAX_PARTITIONS][KWIRE_ELECT_TOPIC_MAX + 1];
        for (int i = 0; i < KWIRE_ELECT_MAX_PARTITIONS; i++) {
                memset(names[i], 'a', KWIRE_ELECT_TOPIC_MAX);
                snprintf(names[i], 8, "%07d", i);
                names[i][7] = 'a';
                parts[i] = (struct kwire_elect_partition){ names[i], i };
        }
        static uint8_t buf[KWIRE_ELECT_REQUEST_MAX];
        size_t len;
        ck_assert_int_eq(kwire_elect_encode_request(2, 1, "kpa-agent", 0, parts, KWIRE_ELECT_MAX_PARTITIONS, 1000,
                                                    buf, sizeof buf, &len), 0);
        ck_assert_uint_le(len, KWIRE_ELECT_REQUEST_MAX);
}
END_TEST

/* An answer: correlation 5, throttle 0, no error; topic "lead": 1 elected, 4 not needed (with
 * its message); topic "x": 0 PREFERRED_LEADER_NOT_AVAILABLE. */
static const uint8_t answer_v2[] = {
        0, 0, 0, 5, 0,                 /* correlation, header tags */
        0, 0, 0, 0, 0, 0,              /* throttle, error */
        3,                             /* two topics */
        5, 'l', 'e', 'a', 'd', 3,
        0, 0, 0, 1, 0, 0, 0, 0,        /* partition 1: NONE, null message */
        0, 0, 0, 4, 0, 84, 4, 'n', 'o', '!', 0,
        0,
        2, 'x', 2,
        0, 0, 0, 0, 0, 80, 0, 0,
        0,
        0,
};

START_TEST(kwire_elect_decodes_results_field_by_field) {
        char err[256] = "";
        ck_assert_int_eq(kwire_elect_decode_response(answer_v2, sizeof answer_v2, 2, 5, &ans, err, sizeof err), 0);
        ck_assert_int_eq(ans.error_code, 0);
        ck_assert_int_eq(ans.n_results, 3);
        ck_assert_str_eq(ans.results[0].topic, "lead");
        ck_assert_int_eq(ans.results[0].partition, 1);
        ck_assert_int_eq(ans.results[0].error_code, 0);
        ck_assert_str_eq(ans.results[0].message, "");
        ck_assert_str_eq(ans.results[1].topic, "lead");
        ck_assert_int_eq(ans.results[1].partition, 4);
        ck_assert_int_eq(ans.results[1].error_code, KWIRE_ERR_ELECTION_NOT_NEEDED);
        ck_assert_str_eq(ans.results[1].message, "no!");
        ck_assert_str_eq(ans.results[2].topic, "x");
        ck_assert_int_eq(ans.results[2].error_code, KWIRE_ERR_PREFERRED_LEADER_NOT_AVAILABLE);
        ck_assert(kwire_elect_ok(ans.results[0].error_code));
        ck_assert(kwire_elect_ok(ans.results[1].error_code));
        ck_assert(!kwire_elect_ok(ans.results[2].error_code));
        ck_assert_str_eq(kwire_error_name(84), "ELECTION_NOT_NEEDED");
        ck_assert_str_eq(kwire_error_name(80), "PREFERRED_LEADER_NOT_AVAILABLE");
}
END_TEST

START_TEST(kwire_elect_every_truncation_and_trailing_byte_is_refused) {
        char err[256];
        for (size_t n = 0; n < sizeof answer_v2; n++)
                ck_assert_msg(kwire_elect_decode_response(answer_v2, n, 2, 5, &ans, err, sizeof err) == -EPROTO,
                              "a cut to %zu bytes was accepted", n);
        uint8_t longer[sizeof answer_v2 + 1];
        memcpy(longer, answer_v2, sizeof answer_v2);
        longer[sizeof answer_v2] = 0;
        ck_assert_int_eq(kwire_elect_decode_response(longer, sizeof longer, 2, 5, &ans, err, sizeof err), -EPROTO);
        ck_assert_int_eq(kwire_elect_decode_response(answer_v2, sizeof answer_v2, 2, 6, &ans, err, sizeof err), -EPROTO);
        ck_assert_int_eq(kwire_elect_decode_response(answer_v2, sizeof answer_v2, 1, 5, &ans, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "ElectLeaders version 1 is not supported (2)");
}
END_TEST

START_TEST(kwire_elect_same_partition_twice_or_bad_topic_is_refused) {
        char err[256];
        static const uint8_t twice[] = { 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 2, 2, 't', 3,
                                         0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0 };
        ck_assert_int_eq(kwire_elect_decode_response(twice, sizeof twice, 2, 5, &ans, err, sizeof err), -EPROTO);
        ck_assert_str_eq(err, "malformed ElectLeaders v2 answer: the answer has t-1 twice (again at byte 23)");
        static const uint8_t empty_topic[] = { 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 2, 1, 1, 0, 0, 0 };
        ck_assert_int_eq(kwire_elect_decode_response(empty_topic, sizeof empty_topic, 2, 5, &ans, err, sizeof err), -EPROTO);
        ck_assert_str_eq(err, "malformed ElectLeaders v2 answer: Topic at byte 12 is 0 bytes long (1 to 249)");
        static const uint8_t null_topic[] = { 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 2, 0, 1, 0, 0, 0 };
        ck_assert_int_eq(kwire_elect_decode_response(null_topic, sizeof null_topic, 2, 5, &ans, err, sizeof err), -EPROTO);
}
END_TEST

START_TEST(kwire_elect_results_past_the_bound_are_refused) {
        /* One topic with KWIRE_ELECT_MAX_PARTITIONS + 1 results, all well formed. */
        size_t n = KWIRE_ELECT_MAX_PARTITIONS + 1;
        uint8_t *f = calloc(1, 32 + n * 8);
        ck_assert_ptr_nonnull(f);
        size_t p = 0;
        memcpy(f, (const uint8_t[]){ 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 2, 2, 't' }, 14);
        p = 14;
        f[p++] = (uint8_t) (((n + 1) & 0x7f) | 0x80);
        f[p++] = (uint8_t) ((n + 1) >> 7);
        for (size_t i = 0; i < n; i++) {
                f[p++] = 0; f[p++] = 0; f[p++] = (uint8_t) (i >> 8); f[p++] = (uint8_t) i;
                f[p++] = 0; f[p++] = 0; f[p++] = 0; f[p++] = 0;
        }
        f[p++] = 0;
        f[p++] = 0;
        char err[256];
        ck_assert_int_eq(kwire_elect_decode_response(f, p, 2, 5, &ans, err, sizeof err), -EPROTO);
        ck_assert_str_eq(err, "malformed ElectLeaders v2 answer: PartitionResult at byte 14 brings the answer past 256 partitions");
        free(f);
}
END_TEST

START_TEST(kwire_elect_top_level_error_and_round_trip) {
        memset(&ans, 0, sizeof ans);
        ans.error_code = KWIRE_ERR_CLUSTER_AUTHORIZATION_FAILED;
        ans.throttle_ms = 3;
        uint8_t buf[256];
        size_t len;
        ck_assert_int_eq(kwire_elect_encode_response(&ans, 2, 9, buf, sizeof buf, &len), 0);
        assert_bytes(buf, len, BYTES(0, 0, 0, 13, 0, 0, 0, 9, 0, 0, 0, 0, 3, 0, 31, 1, 0));
        char err[256];
        ck_assert_int_eq(kwire_elect_decode_response(buf + 4, len - 4, 2, 9, &back, err, sizeof err), 0);
        ck_assert_int_eq(back.error_code, 31);
        ck_assert_int_eq(back.throttle_ms, 3);
        ck_assert_int_eq(back.n_results, 0);
        ck_assert_int_eq(kwire_elect_decode_response(answer_v2, sizeof answer_v2, 2, 5, &ans, err, sizeof err), 0);
        ck_assert_int_eq(kwire_elect_encode_response(&ans, 2, 5, buf, sizeof buf, &len), 0);
        assert_bytes(buf + 4, len - 4, answer_v2, sizeof answer_v2);
}
END_TEST

/* Answers of real brokers to ElectLeaders v2 (PREFERRED) for the 4 partitions of topic "lead"
 * whose preferred leader is node 2, correlation id 1, right after node 2 restarted with
 * --restore-leadership off (the others led them: elected), then the same request again
 * (ELECTION_NOT_NEEDED). Both brokers list ElectLeaders 0-2 in ApiVersions. */
static void real_answers(const char *version) {
        char name[128], err[256] = "";
        size_t len;
        snprintf(name, sizeof name, "electleaders-v2-kafka-%s-elected.bin", version);
        uint8_t *frame = vector(name, &len);
        ck_assert_int_eq(kwire_elect_decode_response(frame, len, 2, 1, &ans, err, sizeof err), 0);
        ck_assert_int_eq(ans.error_code, 0);
        ck_assert_int_eq(ans.n_results, 4);
        for (int i = 0; i < ans.n_results; i++) {
                ck_assert_str_eq(ans.results[i].topic, "lead");
                ck_assert_int_eq(ans.results[i].error_code, 0);
                ck_assert_str_eq(ans.results[i].message, "");
        }
        for (size_t n = 0; n < len; n++)
                ck_assert_int_eq(kwire_elect_decode_response(frame, n, 2, 1, &ans, err, sizeof err), -EPROTO);
        snprintf(name, sizeof name, "electleaders-v2-kafka-%s-not-needed.bin", version);
        frame = vector(name, &len);
        ck_assert_int_eq(kwire_elect_decode_response(frame, len, 2, 1, &ans, err, sizeof err), 0);
        ck_assert_int_eq(ans.n_results, 4);
        for (int i = 0; i < ans.n_results; i++) {
                ck_assert_int_eq(ans.results[i].error_code, KWIRE_ERR_ELECTION_NOT_NEEDED);
                ck_assert(kwire_elect_ok(ans.results[i].error_code));
                ck_assert_str_eq(ans.results[i].message, "Leader election not needed for topic partition.");
        }
}

START_TEST(kwire_elect_decodes_real_kafka_4_1_answers) { real_answers("4.1.1"); }
END_TEST

START_TEST(kwire_elect_decodes_real_kafka_4_4_answers) { real_answers("4.4.0"); }
END_TEST

int main(void) {
        Suite *s = suite_create("kwire_elect");
        TCase *tc = tcase_create("kwire_elect");
        tcase_add_test(tc, kwire_elect_request_v2_bytes_group_partitions_by_topic);
        tcase_add_test(tc, kwire_elect_request_refuses_what_kafka_would_not_take);
        tcase_add_test(tc, kwire_elect_request_of_the_most_partitions_fits_the_buffer);
        tcase_add_test(tc, kwire_elect_decodes_results_field_by_field);
        tcase_add_test(tc, kwire_elect_every_truncation_and_trailing_byte_is_refused);
        tcase_add_test(tc, kwire_elect_same_partition_twice_or_bad_topic_is_refused);
        tcase_add_test(tc, kwire_elect_results_past_the_bound_are_refused);
        tcase_add_test(tc, kwire_elect_top_level_error_and_round_trip);
        tcase_add_test(tc, kwire_elect_decodes_real_kafka_4_1_answers);
        tcase_add_test(tc, kwire_elect_decodes_real_kafka_4_4_answers);
        suite_add_tcase(s, tc);
        return tu_run_suite(s);
}
