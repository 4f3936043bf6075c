/* Suite for the Kafka wire codecs the agent writes itself (kwire, kwire_quorum, kwire_sasl):
 * exact bytes of every request, decoding of hand-assembled answers byte by byte, and every
 * refusal of a malformed answer. The byte vectors follow the schemas in Kafka 4.1.1's and
 * 4.4.0's kafka-clients jar (common/message/DescribeQuorum*.json, Sasl*.json,
 * RequestHeader.json, ResponseHeader.json); the last vectors are DescribeQuorum answers of real
 * 4.4.0 and 4.1.1 controllers and a DescribeLogDirs answer of a real 4.1.1 broker
 * (tests/agent/vectors/). */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "kpa/kwire.h"
#include "kpa/kwire_logdirs.h"
#include "kpa/kwire_quorum.h"
#include "kpa/kwire_sasl.h"
#include "testutil.h"

#define BYTES(...) ((const uint8_t[]){ __VA_ARGS__ }), sizeof((const uint8_t[]){ __VA_ARGS__ })

static void assert_bytes(const uint8_t *got, size_t got_len, const uint8_t *want, size_t want_len) {
        ck_assert_uint_eq(got_len, want_len);
        for (size_t i = 0; i < want_len; i++)
                ck_assert_msg(got[i] == want[i], "byte %zu: got 0x%02x, want 0x%02x", i, got[i], want[i]);
}

/* ---- primitives ---- */

START_TEST(kwire_uvarint_encodes_like_kafka) {
        uint8_t buf[16];
        struct kwire_w w;
        kwire_w_init(&w, buf, sizeof buf);
        kwire_put_uvarint(&w, 0);
        kwire_put_uvarint(&w, 127);
        kwire_put_uvarint(&w, 128);
        kwire_put_uvarint(&w, 300);
        kwire_put_uvarint(&w, UINT32_MAX);
        assert_bytes(buf, w.len, BYTES(0x00, 0x7f, 0x80, 0x01, 0xac, 0x02, 0xff, 0xff, 0xff, 0xff, 0x0f));

        struct kwire_r r;
        kwire_r_init(&r, buf, w.len);
        ck_assert_uint_eq(kwire_get_uvarint(&r, "a"), 0);
        ck_assert_uint_eq(kwire_get_uvarint(&r, "b"), 127);
        ck_assert_uint_eq(kwire_get_uvarint(&r, "c"), 128);
        ck_assert_uint_eq(kwire_get_uvarint(&r, "d"), 300);
        ck_assert_uint_eq(kwire_get_uvarint(&r, "e"), UINT32_MAX);
        kwire_r_expect_end(&r);
        ck_assert(!kwire_r_failed(&r));
}
END_TEST

START_TEST(kwire_uvarint_past_32_bits_is_refused) {
        struct kwire_r r;
        kwire_r_init(&r, BYTES(0xff, 0xff, 0xff, 0xff, 0x1f));
        kwire_get_uvarint(&r, "Count");
        ck_assert(kwire_r_failed(&r));
        ck_assert_str_eq(r.err, "varint Count at byte 0 does not fit 32 bits");
        /* Six bytes: the fifth still has its continuation bit, so it does not fit either. */
        kwire_r_init(&r, BYTES(0x80, 0x80, 0x80, 0x80, 0x80, 0x00));
        kwire_get_uvarint(&r, "Count");
        ck_assert(kwire_r_failed(&r));
}
END_TEST

START_TEST(kwire_truncated_read_names_field_and_byte) {
        struct kwire_r r;
        kwire_r_init(&r, BYTES(0x00, 0x01, 0x02));
        ck_assert_int_eq(kwire_get_i16(&r, "ErrorCode"), 1);
        ck_assert_int_eq(kwire_get_i32(&r, "LeaderId"), 0);
        ck_assert_str_eq(r.err, "truncated at byte 2 of 3 reading LeaderId (4 bytes)");
        /* Sticky: a later read neither succeeds nor replaces the first reason. */
        ck_assert_int_eq(kwire_get_i8(&r, "Next"), 0);
        ck_assert_str_eq(r.err, "truncated at byte 2 of 3 reading LeaderId (4 bytes)");
}
END_TEST

START_TEST(kwire_write_past_capacity_fails_the_frame) {
        uint8_t buf[6];
        struct kwire_w w;
        size_t len = 99;
        kwire_w_init(&w, buf, sizeof buf);
        kwire_put_i32(&w, 0);
        kwire_put_i32(&w, 1);
        kwire_put_i8(&w, 1);
        ck_assert(w.overflow);
        ck_assert_int_eq(kwire_frame_end(&w, &len), -E2BIG);
        ck_assert_uint_eq(len, 99);
}
END_TEST

START_TEST(kwire_counts_the_frame_cannot_hold_are_refused) {
        struct kwire_r r;
        /* 3 elements of at least 4 bytes claimed, 8 bytes left. */
        kwire_r_init(&r, BYTES(0x04, 0, 0, 0, 0, 0, 0, 0, 0));
        ck_assert_uint_eq(kwire_get_compact_count(&r, 4, "Voters"), 0);
        ck_assert_str_eq(r.err, "Voters at byte 0 claims 3 elements, more than the 8 bytes left can hold");
        kwire_r_init(&r, BYTES(0x00));
        kwire_get_compact_count(&r, 4, "Voters");
        ck_assert_str_eq(r.err, "Voters at byte 0 is a null array, which the schema does not allow");
        kwire_r_init(&r, BYTES(0xff, 0xff, 0xff, 0xff));
        kwire_get_count(&r, 2, "Mechanisms");
        ck_assert_str_eq(r.err, "Mechanisms at byte 0 has count -1");
}
END_TEST

START_TEST(kwire_tagged_fields_are_skipped_in_increasing_order_only) {
        struct kwire_r r;
        /* Two fields: tag 0 with 2 bytes, tag 5 with 1 byte; then one byte of payload. */
        kwire_r_init(&r, BYTES(0x02, 0x00, 0x02, 0xaa, 0xbb, 0x05, 0x01, 0xcc, 0x7e));
        kwire_skip_tags(&r, "tags");
        ck_assert(!kwire_r_failed(&r));
        ck_assert_int_eq(kwire_get_i8(&r, "after"), 0x7e);
        kwire_r_init(&r, BYTES(0x02, 0x05, 0x00, 0x05, 0x00));
        kwire_skip_tags(&r, "tags");
        ck_assert_str_eq(r.err, "tags at byte 3: tag 5 follows tag 5 (tags must increase)");
        kwire_r_init(&r, BYTES(0x01, 0x00, 0x05, 0xaa));
        kwire_skip_tags(&r, "tags");
        ck_assert_str_eq(r.err, "truncated at byte 3 of 4 reading tags (5 bytes)");
}
END_TEST

START_TEST(kwire_strings_null_only_where_allowed_and_copied_safely) {
        struct kwire_r r;
        kwire_r_init(&r, BYTES(0x00, 0x00));
        ck_assert_ptr_null(kwire_get_compact_string(&r, true, "Msg").data);
        kwire_get_compact_string(&r, false, "Name");
        ck_assert_str_eq(r.err, "Name at byte 1 is null, which the schema does not allow");

        kwire_r_init(&r, BYTES(0x04, 'a', '\n', 0x00));
        struct kwire_str s = kwire_get_compact_string(&r, false, "Name");
        char out[8];
        kwire_str_copy(s, out, sizeof out);
        ck_assert_str_eq(out, "a??");
        kwire_str_copy(s, out, 3);
        ck_assert_str_eq(out, "a?");

        kwire_r_init(&r, BYTES(0xff, 0xfe));
        kwire_get_string(&r, true, "Mechanism");
        ck_assert_str_eq(r.err, "Mechanism at byte 0 has length -2");
}
END_TEST

/* ---- DescribeQuorum ---- */

START_TEST(kwire_quorum_request_v2_bytes) {
        uint8_t buf[KWIRE_QUORUM_REQUEST_MAX];
        size_t len;
        ck_assert_int_eq(kwire_quorum_encode_request(2, 7, "kpa-agent", buf, sizeof buf, &len), 0);
        assert_bytes(buf, len, BYTES(
                0x00, 0x00, 0x00, 0x30,                        /* size 48 */
                0x00, 0x37, 0x00, 0x02,                        /* api key 55, version 2 */
                0x00, 0x00, 0x00, 0x07,                        /* correlation id */
                0x00, 0x09, 'k', 'p', 'a', '-', 'a', 'g', 'e', 'n', 't',
                0x00,                                          /* header v2 tags */
                0x02,                                          /* Topics: 1 */
                0x13, '_', '_', 'c', 'l', 'u', 's', 't', 'e', 'r', '_',
                'm', 'e', 't', 'a', 'd', 'a', 't', 'a',
                0x02,                                          /* Partitions: 1 */
                0x00, 0x00, 0x00, 0x00,                        /* PartitionIndex 0 */
                0x00, 0x00, 0x00));                            /* tags: partition, topic, request */
        /* Version 1 differs only in the version field. */
        uint8_t v1[KWIRE_QUORUM_REQUEST_MAX];
        size_t len1;
        ck_assert_int_eq(kwire_quorum_encode_request(1, 7, "kpa-agent", v1, sizeof v1, &len1), 0);
        ck_assert_uint_eq(len1, len);
        ck_assert_int_eq(v1[7], 1);
        ck_assert_int_eq(memcmp(v1 + 8, buf + 8, len - 8), 0);
        ck_assert_int_eq(kwire_quorum_encode_request(0, 7, "kpa-agent", buf, sizeof buf, &len), -EINVAL);
        ck_assert_int_eq(kwire_quorum_encode_request(2, 7, "kpa-agent", buf, 51, &len), -E2BIG);
}
END_TEST

/* A leader's v2 answer (after the 4-byte size): leader 1 in epoch 5, high watermark 100; voter
 * 1 (the leader: LEO 100, both timestamps = its clock 1000000) and voter 2 (LEO 90, fetched at
 * 999900, caught up at 999800); observer 100 (LEO -1, never fetched); one node with one
 * listener; an unknown tagged field on voter 2. */
static const uint8_t leader_v2[] = {
        0x00, 0x00, 0x00, 0x07,                 /* correlation id */
        0x00,                                   /* header tags */
        0x00, 0x00,                             /* ErrorCode */
        0x00,                                   /* ErrorMessage null */
        0x02,                                   /* Topics: 1 */
        0x13, '_', '_', 'c', 'l', 'u', 's', 't', 'e', 'r', '_', 'm', 'e', 't', 'a', 'd', 'a', 't', 'a',
        0x02,                                   /* Partitions: 1 */
        0x00, 0x00, 0x00, 0x00,                 /* PartitionIndex */
        0x00, 0x00,                             /* ErrorCode */
        0x00,                                   /* ErrorMessage null */
        0x00, 0x00, 0x00, 0x01,                 /* LeaderId */
        0x00, 0x00, 0x00, 0x05,                 /* LeaderEpoch */
        0, 0, 0, 0, 0, 0, 0, 100,               /* HighWatermark */
        0x03,                                   /* CurrentVoters: 2 */
        0x00, 0x00, 0x00, 0x01,                 /*   ReplicaId 1 */
        1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
        0, 0, 0, 0, 0, 0, 0, 100,               /*   LogEndOffset */
        0, 0, 0, 0, 0, 0x0f, 0x42, 0x40,        /*   LastFetchTimestamp 1000000 */
        0, 0, 0, 0, 0, 0x0f, 0x42, 0x40,        /*   LastCaughtUpTimestamp 1000000 */
        0x00,
        0x00, 0x00, 0x00, 0x02,                 /*   ReplicaId 2 */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0, 0, 0, 0, 0, 0, 90,
        0, 0, 0, 0, 0, 0x0f, 0x41, 0xdc,        /*   999900 */
        0, 0, 0, 0, 0, 0x0f, 0x41, 0x78,        /*   999800 */
        0x01, 0x07, 0x02, 0xee, 0xee,           /*   one unknown tagged field (tag 7, 2 bytes) */
        0x02,                                   /* Observers: 1 */
        0x00, 0x00, 0x00, 0x64,                 /*   ReplicaId 100 */
        0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0x00,
        0x00,                                   /* partition tags */
        0x00,                                   /* topic tags */
        0x02,                                   /* Nodes: 1 */
        0x00, 0x00, 0x00, 0x01,                 /*   NodeId 1 */
        0x02,                                   /*   Listeners: 1 */
        0x0b, 'C', 'O', 'N', 'T', 'R', 'O', 'L', 'L', 'E', 'R',
        0x0a, 'c', 't', 'l', '-', '1', '.', 'k', 'q', 'x',
        0x23, 0x85,                             /*   port 9093 */
        0x00,                                   /*   listener tags */
        0x00,                                   /*   node tags */
        0x00,                                   /* response tags */
};

START_TEST(kwire_quorum_decodes_a_leader_answer_field_by_field) {
        struct kwire_quorum q;
        char err[256] = "";
        ck_assert_int_eq(kwire_quorum_decode_response(leader_v2, sizeof leader_v2, 2, 7, &q, err, sizeof err), 0);
        ck_assert_str_eq(err, "");
        ck_assert_int_eq(q.error_code, 0);
        ck_assert_str_eq(q.error_message, "");
        ck_assert(q.have_partition);
        ck_assert_int_eq(q.partition_error_code, 0);
        ck_assert_int_eq(q.leader_id, 1);
        ck_assert_int_eq(q.leader_epoch, 5);
        ck_assert_int_eq(q.high_watermark, 100);
        ck_assert_int_eq(q.n_voters, 2);
        ck_assert_int_eq(q.voters[0].id, 1);
        ck_assert_int_eq(q.voters[0].directory_id[0], 1);
        ck_assert_int_eq(q.voters[0].directory_id[15], 16);
        ck_assert_int_eq(q.voters[0].log_end_offset, 100);
        ck_assert_int_eq(q.voters[0].last_fetch_ms, 1000000);
        ck_assert_int_eq(q.voters[0].last_caught_up_ms, 1000000);
        ck_assert_int_eq(q.voters[1].id, 2);
        ck_assert_int_eq(q.voters[1].log_end_offset, 90);
        ck_assert_int_eq(q.voters[1].last_fetch_ms, 999900);
        ck_assert_int_eq(q.voters[1].last_caught_up_ms, 999800);
        ck_assert_int_eq(q.n_observers, 1);
        ck_assert_int_eq(q.n_observers_kept, 1);
        ck_assert_int_eq(q.observers[0].id, 100);
        ck_assert_int_eq(q.observers[0].log_end_offset, -1);
        ck_assert_int_eq(q.observers[0].last_caught_up_ms, -1);
        ck_assert_int_eq(q.n_nodes, 1);
}
END_TEST

START_TEST(kwire_quorum_every_truncation_and_trailing_byte_is_refused) {
        struct kwire_quorum q;
        char err[256];
        for (size_t n = 0; n < sizeof leader_v2; n++) {
                err[0] = '\0';
                ck_assert_msg(kwire_quorum_decode_response(leader_v2, n, 2, 7, &q, err, sizeof err) == -EPROTO,
                              "a frame cut to %zu bytes was accepted", n);
                /* Cut inside a field, or after a count the rest cannot hold. */
                ck_assert_msg(strstr(err, "malformed DescribeQuorum v2 answer: truncated at byte") == err ||
                              (strstr(err, "malformed DescribeQuorum v2 answer: ") == err &&
                               strstr(err, "more than the") != NULL), "%zu: %s", n, err);
        }
        uint8_t longer[sizeof leader_v2 + 1];
        memcpy(longer, leader_v2, sizeof leader_v2);
        longer[sizeof leader_v2] = 0;
        ck_assert_int_eq(kwire_quorum_decode_response(longer, sizeof longer, 2, 7, &q, err, sizeof err), -EPROTO);
        ck_assert_str_eq(err, "malformed DescribeQuorum v2 answer: 1 unexpected bytes after the end of the message");
}
END_TEST

START_TEST(kwire_quorum_wrong_correlation_or_version_is_refused) {
        struct kwire_quorum q;
        char err[256];
        ck_assert_int_eq(kwire_quorum_decode_response(leader_v2, sizeof leader_v2, 2, 8, &q, err, sizeof err), -EPROTO);
        ck_assert_str_eq(err, "malformed DescribeQuorum v2 answer: the response's correlation id 7 is not the request's 8");
        ck_assert_int_eq(kwire_quorum_decode_response(leader_v2, sizeof leader_v2, 0, 7, &q, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "DescribeQuorum version 0 is not supported (1 or 2)");
        /* Read as v1 the same bytes are misaligned: refused, never half-accepted. */
        ck_assert_int_eq(kwire_quorum_decode_response(leader_v2, sizeof leader_v2, 1, 7, &q, err, sizeof err), -EPROTO);
}
END_TEST

/* What a controller that is not the leader answers (Kafka's singletonErrorResponse): the
 * partition with NOT_LEADER_OR_FOLLOWER and default fields. */
static const uint8_t not_leader_v2[] = {
        0x00, 0x00, 0x00, 0x09, 0x00,
        0x00, 0x00, 0x00,
        0x02, 0x13, '_', '_', 'c', 'l', 'u', 's', 't', 'e', 'r', '_', 'm', 'e', 't', 'a', 'd', 'a', 't', 'a',
        0x02, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x06,                             /* NOT_LEADER_OR_FOLLOWER */
        0x00,
        0x00, 0x00, 0x00, 0x00,                 /* LeaderId 0: a default, not a leader */
        0x00, 0x00, 0x00, 0x00,
        0, 0, 0, 0, 0, 0, 0, 0,
        0x01, 0x01,                             /* no voters, no observers */
        0x00, 0x00,
        0x01,                                   /* no nodes */
        0x00,
};

START_TEST(kwire_error_text_prints_name_and_code) {
        char buf[KWIRE_ERROR_TEXT_MAX];
        ck_assert_str_eq(kwire_error_text(KWIRE_ERR_NOT_LEADER_OR_FOLLOWER, buf, sizeof buf),
                         "NOT_LEADER_OR_FOLLOWER (6)");
        ck_assert_str_eq(kwire_error_text(-1, buf, sizeof buf), "UNKNOWN_SERVER_ERROR (-1)");
        /* A code without a name still says which one it was. */
        ck_assert_str_eq(kwire_error_text(87, buf, sizeof buf), "UNKNOWN (87)");
        ck_assert_str_eq(kwire_error_text(-32768, buf, sizeof buf), "UNKNOWN (-32768)");
}
END_TEST

START_TEST(kwire_quorum_decodes_not_leader_answer) {
        struct kwire_quorum q;
        char err[256];
        ck_assert_int_eq(kwire_quorum_decode_response(not_leader_v2, sizeof not_leader_v2, 2, 9, &q, err, sizeof err), 0);
        ck_assert(q.have_partition);
        ck_assert_int_eq(q.error_code, 0);
        ck_assert_int_eq(q.partition_error_code, KWIRE_ERR_NOT_LEADER_OR_FOLLOWER);
        ck_assert_str_eq(kwire_error_name(q.partition_error_code), "NOT_LEADER_OR_FOLLOWER");
        ck_assert_int_eq(q.n_voters, 0);
        ck_assert_int_eq(q.n_observers, 0);
}
END_TEST

START_TEST(kwire_quorum_top_level_error_without_topics_decodes) {
        struct kwire_quorum q;
        char err[256];
        /* CLUSTER_AUTHORIZATION_FAILED (31), message "denied", no topics, no nodes. */
        ck_assert_int_eq(kwire_quorum_decode_response(BYTES(0, 0, 0, 1, 0, 0x00, 0x1f, 0x07, 'd', 'e', 'n', 'i', 'e', 'd',
                                                            0x01, 0x01, 0x00), 2, 1, &q, err, sizeof err), 0);
        ck_assert_int_eq(q.error_code, 31);
        ck_assert_str_eq(q.error_message, "denied");
        ck_assert(!q.have_partition);
        /* No error and no partition is not an answer Kafka gives. */
        ck_assert_int_eq(kwire_quorum_decode_response(BYTES(0, 0, 0, 1, 0, 0x00, 0x00, 0x00, 0x01, 0x01, 0x00), 2, 1,
                                                      &q, err, sizeof err), -EPROTO);
        ck_assert_str_eq(err, "malformed DescribeQuorum v2 answer: the answer has no error and no __cluster_metadata-0");
}
END_TEST

START_TEST(kwire_quorum_other_topic_or_partition_or_twice_is_refused) {
        struct kwire_quorum q;
        char err[256];
        uint8_t f[sizeof not_leader_v2];
        memcpy(f, not_leader_v2, sizeof f);
        f[10] = 'X';                            /* "X_cluster_metadata" */
        ck_assert_int_eq(kwire_quorum_decode_response(f, sizeof f, 2, 9, &q, err, sizeof err), -EPROTO);
        ck_assert_str_eq(err, "malformed DescribeQuorum v2 answer: the answer describes topic \"X_cluster_metadata\" (at byte 9), not __cluster_metadata");
        memcpy(f, not_leader_v2, sizeof f);
        f[32] = 1;                              /* PartitionIndex 1 */
        ck_assert_int_eq(kwire_quorum_decode_response(f, sizeof f, 2, 9, &q, err, sizeof err), -EPROTO);
        ck_assert_str_eq(err, "malformed DescribeQuorum v2 answer: the answer describes a partition (index 1 at byte 29) other than __cluster_metadata-0");

        /* The same partition twice in one topic. */
        uint8_t twice[sizeof not_leader_v2 + 26];
        size_t head = 28, part = 26;            /* bytes before the partitions; one partition */
        memcpy(twice, not_leader_v2, head);
        twice[head] = 0x03;
        memcpy(twice + head + 1, not_leader_v2 + head + 1, part);
        memcpy(twice + head + 1 + part, not_leader_v2 + head + 1, part);
        memcpy(twice + head + 1 + 2 * part, not_leader_v2 + head + 1 + part, sizeof not_leader_v2 - head - 1 - part);
        ck_assert_int_eq(kwire_quorum_decode_response(twice, sizeof twice, 2, 9, &q, err, sizeof err), -EPROTO);
        ck_assert_str_eq(err, "malformed DescribeQuorum v2 answer: the answer describes __cluster_metadata-0 twice (again at byte 55)");
}
END_TEST

START_TEST(kwire_quorum_voters_past_the_bound_are_refused_observers_only_counted) {
        static struct kwire_quorum q, back;
        static uint8_t buf[KWIRE_QUORUM_RESPONSE_MAX];
        char err[256];
        size_t len;
        memset(&q, 0, sizeof q);
        q.have_partition = true;
        q.leader_id = 0;
        q.n_voters = KWIRE_QUORUM_MAX_VOTERS;
        for (int i = 0; i < q.n_voters; i++)
                q.voters[i] = (struct kwire_replica){ .id = i, .log_end_offset = i, .last_fetch_ms = -1, .last_caught_up_ms = -1 };
        q.n_observers = q.n_observers_kept = KWIRE_QUORUM_MAX_OBSERVERS;
        for (int i = 0; i < q.n_observers_kept; i++)
                q.observers[i] = (struct kwire_replica){ .id = 1000 + i };
        ck_assert_int_eq(kwire_quorum_encode_response(&q, 2, 3, buf, sizeof buf, &len), 0);
        ck_assert_int_eq(kwire_quorum_decode_response(buf + 4, len - 4, 2, 3, &back, err, sizeof err), 0);
        ck_assert_int_eq(back.n_voters, KWIRE_QUORUM_MAX_VOTERS);
        ck_assert_int_eq(back.voters[63].id, 63);
        ck_assert_int_eq(back.n_observers_kept, KWIRE_QUORUM_MAX_OBSERVERS);

        /* One observer more than kept: counted, the first ones kept. Append it by hand: the
         * observers' count is one varint, 257 = 0x81 0x02 (n + 1 = 258 = 0x82 0x02). */
        size_t voters_at = 4 + 4 + 1 + 2 + 1 + 1 + 19 + 1 + 4 + 2 + 1 + 4 + 4 + 8;
        size_t obs_at = voters_at + 1 + 64 * 45;
        ck_assert_int_eq(buf[obs_at], 0x81);
        ck_assert_int_eq(buf[obs_at + 1], 0x02);
        static uint8_t more[KWIRE_QUORUM_RESPONSE_MAX];
        size_t obs_end = obs_at + 2 + 256 * 45;
        memcpy(more, buf, obs_end);
        more[obs_at] = 0x82;
        memcpy(more + obs_end, buf + obs_end - 45, 45);
        memcpy(more + obs_end + 45, buf + obs_end, len - obs_end);
        ck_assert_int_eq(kwire_quorum_decode_response(more + 4, len + 45 - 4, 2, 3, &back, err, sizeof err), 0);
        ck_assert_int_eq(back.n_observers, 257);
        ck_assert_int_eq(back.n_observers_kept, KWIRE_QUORUM_MAX_OBSERVERS);
        ck_assert_int_eq(back.observers[255].id, 1255);

        /* 65 voters: refused. */
        ck_assert_int_eq(buf[voters_at], 65);
        buf[voters_at] = 66;
        ck_assert_int_eq(kwire_quorum_decode_response(buf + 4, len - 4, 2, 3, &back, err, sizeof err), -EPROTO);
        ck_assert_str_eq(err, "malformed DescribeQuorum v2 answer: CurrentVoters at byte 52 lists 65 voters (at most 64)");
}
END_TEST

START_TEST(kwire_quorum_v1_round_trip_has_no_directory_ids_or_nodes) {
        struct kwire_quorum q = { .have_partition = true, .leader_id = 2, .leader_epoch = 9, .high_watermark = 42, .n_voters = 1 };
        q.voters[0] = (struct kwire_replica){ .id = 2, .log_end_offset = 42, .last_fetch_ms = 5, .last_caught_up_ms = 6 };
        uint8_t buf[256];
        size_t len;
        ck_assert_int_eq(kwire_quorum_encode_response(&q, 1, 11, buf, sizeof buf, &len), 0);
        /* size, header 5, error 2, topics 1 + 19, partitions 1, index 4, error 2, leader 4,
         * epoch 4, hw 8, voters 1 + 29, observers 1, tags 2, response tags 1. */
        ck_assert_uint_eq(len, 4 + 5 + 2 + 20 + 1 + 4 + 2 + 4 + 4 + 8 + 30 + 1 + 2 + 1);
        struct kwire_quorum back;
        char err[256];
        ck_assert_int_eq(kwire_quorum_decode_response(buf + 4, len - 4, 1, 11, &back, err, sizeof err), 0);
        ck_assert_int_eq(back.voters[0].last_caught_up_ms, 6);
        ck_assert_int_eq(back.high_watermark, 42);
        ck_assert_int_eq(back.n_nodes, 0);
}
END_TEST

/* Answers of real Kafka 4.4.0 and 4.1.1 controllers to kwire_quorum_request_v2_bytes'
 * request, saved by tests/kafka/manual-quorum.sh --dump-answers (3 controllers, broker 100 an
 * observer). */
static uint8_t *vector(const char *name, size_t *ret_len) {
        char path[1024];
        snprintf(path, sizeof path, "%s/tests/agent/vectors/%s", tu_source_dir(), name);
        FILE *f = fopen(path, "rb");
        ck_assert_msg(f != NULL, "cannot open %s", path);
        static uint8_t buf[4096];
        *ret_len = fread(buf, 1, sizeof buf, f);
        fclose(f);
        return buf;
}

START_TEST(kwire_quorum_decodes_a_real_kafka_4_4_leader_answer) {
        size_t len;
        uint8_t *frame = vector("describequorum-v2-kafka-4.4.0-leader.bin", &len);
        ck_assert_uint_eq(len, 505);
        struct kwire_quorum q;
        char err[256] = "";
        ck_assert_int_eq(kwire_quorum_decode_response(frame, len, 2, 7, &q, err, sizeof err), 0);
        ck_assert_int_eq(q.error_code, 0);
        ck_assert_str_eq(q.error_message, "");   /* Kafka sends "" here, not null */
        ck_assert(q.have_partition);
        ck_assert_int_eq(q.leader_id, 2);
        ck_assert_int_eq(q.leader_epoch, 1);
        ck_assert_int_eq(q.high_watermark, 26);
        ck_assert_int_eq(q.n_voters, 3);
        static const int64_t ts[3] = { 1795999975953, 1795999975937, 1795999976008 };
        for (int i = 0; i < 3; i++) {
                ck_assert_int_eq(q.voters[i].id, i);
                ck_assert_int_eq(q.voters[i].log_end_offset, 26);
                ck_assert_int_eq(q.voters[i].last_fetch_ms, ts[i]);
                ck_assert_int_eq(q.voters[i].last_caught_up_ms, ts[i]);
        }
        ck_assert_int_eq(q.n_observers, 1);
        ck_assert_int_eq(q.observers[0].id, 100);
        ck_assert_int_eq(q.observers[0].directory_id[0], 0x51);
        ck_assert_int_eq(q.observers[0].directory_id[15], 0x35);
        ck_assert_int_eq(q.n_nodes, 3);
}
END_TEST

START_TEST(kwire_quorum_decodes_a_real_kafka_4_1_leader_answer) {
        size_t len;
        uint8_t *frame = vector("describequorum-v2-kafka-4.1.1-leader.bin", &len);
        struct kwire_quorum q;
        char err[256] = "";
        ck_assert_int_eq(kwire_quorum_decode_response(frame, len, 2, 7, &q, err, sizeof err), 0);
        ck_assert_int_eq(q.leader_id, 1);
        ck_assert_int_eq(q.leader_epoch, 1);
        ck_assert_int_eq(q.high_watermark, 26);
        ck_assert_int_eq(q.n_voters, 3);
        ck_assert_int_eq(q.voters[1].id, 1);
        ck_assert_int_eq(q.voters[1].last_caught_up_ms, 1796000044538);   /* the leader's clock */
        ck_assert_int_eq(q.voters[2].last_caught_up_ms, 1796000044289);
        ck_assert_int_eq(q.n_observers, 1);
        ck_assert_int_eq(q.n_nodes, 3);
}
END_TEST

START_TEST(kwire_quorum_decodes_a_real_kafka_4_4_follower_answer) {
        size_t len;
        uint8_t *frame = vector("describequorum-v2-kafka-4.4.0-follower.bin", &len);
        struct kwire_quorum q;
        char err[256] = "";
        ck_assert_int_eq(kwire_quorum_decode_response(frame, len, 2, 7, &q, err, sizeof err), 0);
        ck_assert_int_eq(q.error_code, 0);
        ck_assert(q.have_partition);
        ck_assert_int_eq(q.partition_error_code, KWIRE_ERR_NOT_LEADER_OR_FOLLOWER);
        ck_assert_msg(strncmp(q.partition_error_message, "For requests intended only for the leader", 41) == 0,
                      "%s", q.partition_error_message);
        /* Defaults, not a leader: the agent never reads them from such an answer. */
        ck_assert_int_eq(q.leader_id, 0);
        ck_assert_int_eq(q.n_voters, 0);
        ck_assert_int_eq(q.n_nodes, 0);
}
END_TEST

/* ---- SASL ---- */

START_TEST(kwire_sasl_handshake_request_bytes_and_answer) {
        uint8_t buf[64];
        size_t len;
        ck_assert_int_eq(kwire_sasl_handshake_encode(1, "kpa-agent", "PLAIN", buf, sizeof buf, &len), 0);
        assert_bytes(buf, len, BYTES(0, 0, 0, 0x1a, 0x00, 0x11, 0x00, 0x01, 0, 0, 0, 1,
                                     0x00, 0x09, 'k', 'p', 'a', '-', 'a', 'g', 'e', 'n', 't',
                                     0x00, 0x05, 'P', 'L', 'A', 'I', 'N'));
        struct kwire_sasl_handshake h;
        char err[256];
        ck_assert_int_eq(kwire_sasl_handshake_decode(BYTES(0, 0, 0, 1, 0x00, 0x00, 0, 0, 0, 2,
                                                           0, 13, 'S', 'C', 'R', 'A', 'M', '-', 'S', 'H', 'A', '-', '5', '1', '2',
                                                           0, 5, 'P', 'L', 'A', 'I', 'N'), 1, &h, err, sizeof err), 0);
        ck_assert_int_eq(h.error_code, 0);
        ck_assert(h.plain_enabled);
        ck_assert_str_eq(h.mechanisms, "SCRAM-SHA-512,PLAIN");
        ck_assert_int_eq(kwire_sasl_handshake_decode(BYTES(0, 0, 0, 1, 0x00, 0x21, 0, 0, 0, 1,
                                                           0, 5, 'G', 'S', 'S', 'A', 'P'), 1, &h, err, sizeof err), 0);
        ck_assert_int_eq(h.error_code, KWIRE_ERR_UNSUPPORTED_SASL_MECHANISM);
        ck_assert(!h.plain_enabled);
        ck_assert_int_eq(kwire_sasl_handshake_decode(BYTES(0, 0, 0, 1, 0x00, 0x00, 0, 0, 0, 1, 0, 5, 'P'), 1,
                                                     &h, err, sizeof err), -EPROTO);
        ck_assert_str_eq(err, "malformed SaslHandshake v1 answer: truncated at byte 12 of 13 reading Mechanisms[] (5 bytes)");
}
END_TEST

START_TEST(kwire_sasl_plain_request_bytes_and_answers) {
        uint8_t buf[KWIRE_SASL_PLAIN_REQUEST_MAX];
        size_t len;
        ck_assert_int_eq(kwire_sasl_plain_encode(2, "kpa-agent", "kafka", "pw", buf, sizeof buf, &len), 0);
        assert_bytes(buf, len, BYTES(0, 0, 0, 0x1f, 0x00, 0x24, 0x00, 0x02, 0, 0, 0, 2,
                                     0x00, 0x09, 'k', 'p', 'a', '-', 'a', 'g', 'e', 'n', 't', 0x00,
                                     0x0a, 0x00, 'k', 'a', 'f', 'k', 'a', 0x00, 'p', 'w', 0x00));
        ck_assert_int_eq(kwire_sasl_plain_encode(2, "kpa-agent", "", "pw", buf, sizeof buf, &len), -EINVAL);
        ck_assert_int_eq(kwire_sasl_plain_encode(2, "kpa-agent", "kafka", "", buf, sizeof buf, &len), -EINVAL);

        struct kwire_sasl_authenticate a;
        char err[256];
        /* Accepted: no error, null message, empty auth bytes, session lifetime 0. */
        ck_assert_int_eq(kwire_sasl_authenticate_decode(BYTES(0, 0, 0, 2, 0x00, 0x00, 0x00, 0x00, 0x01,
                                                              0, 0, 0, 0, 0, 0, 0, 0, 0x00), 2, &a, err, sizeof err), 0);
        ck_assert_int_eq(a.error_code, 0);
        ck_assert_str_eq(a.error_message, "");
        /* Refused: SASL_AUTHENTICATION_FAILED with Kafka's message. */
        ck_assert_int_eq(kwire_sasl_authenticate_decode(BYTES(0, 0, 0, 2, 0x00, 0x00, 0x3a,
                                                              0x0e, 'I', 'n', 'v', 'a', 'l', 'i', 'd', ' ', 'u', 's', 'e', 'r', '.',
                                                              0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0x00), 2, &a, err, sizeof err), 0);
        ck_assert_int_eq(a.error_code, KWIRE_ERR_SASL_AUTHENTICATION_FAILED);
        ck_assert_str_eq(a.error_message, "Invalid user.");
        /* The auth bytes are a compact bytes field: null is refused. */
        ck_assert_int_eq(kwire_sasl_authenticate_decode(BYTES(0, 0, 0, 2, 0x00, 0x00, 0x00, 0x00, 0x00,
                                                              0, 0, 0, 0, 0, 0, 0, 0, 0x00), 2, &a, err, sizeof err), -EPROTO);
        ck_assert_str_eq(err, "malformed SaslAuthenticate v2 answer: AuthBytes at byte 8 is null, which the schema does not allow");
}
END_TEST

/* ---- DescribeLogDirs ---- */

START_TEST(kwire_logdirs_request_v4_bytes) {
        uint8_t buf[KWIRE_LOGDIRS_REQUEST_MAX];
        size_t len;
        ck_assert_int_eq(kwire_logdirs_encode_request(4, 1, "kpa-agent", buf, sizeof buf, &len), 0);
        assert_bytes(buf, len, BYTES(
                0x00, 0x00, 0x00, 0x16,                        /* size 22 */
                0x00, 0x23, 0x00, 0x04,                        /* api key 35, version 4 */
                0x00, 0x00, 0x00, 0x01,                        /* correlation id */
                0x00, 0x09, 'k', 'p', 'a', '-', 'a', 'g', 'e', 'n', 't',
                0x00,                                          /* header v2 tags */
                0x01,                                          /* Topics: empty, not null (0) */
                0x00));                                        /* request tags */
        ck_assert_int_eq(kwire_logdirs_encode_request(3, 1, "kpa-agent", buf, sizeof buf, &len), 0);
        ck_assert_int_eq(buf[7], 3);
        ck_assert_int_eq(kwire_logdirs_encode_request(2, 1, "kpa-agent", buf, sizeof buf, &len), -EINVAL);
        ck_assert_int_eq(kwire_logdirs_encode_request(5, 1, "kpa-agent", buf, sizeof buf, &len), -EINVAL);
        ck_assert_int_eq(kwire_logdirs_encode_request(4, 1, "kpa-agent", buf, 25, &len), -E2BIG);
}
END_TEST

/* A v4 answer: /data/a online (one topic, two partitions listed), /data/b offline. */
static const uint8_t logdirs_v4[] = {
        0x00, 0x00, 0x00, 0x05,                        /* correlation id 5 */
        0x00,                                          /* header v1 tags */
        0x00, 0x00, 0x00, 0x00,                        /* ThrottleTimeMs */
        0x00, 0x00,                                    /* ErrorCode */
        0x03,                                          /* Results: 2 */
        0x00, 0x00,                                    /* ErrorCode */
        0x08, '/', 'd', 'a', 't', 'a', '/', 'a',       /* LogDir */
        0x02,                                          /* Topics: 1 */
        0x02, 't',                                     /* Name */
        0x03,                                          /* Partitions: 2 */
        0, 0, 0, 0,  0, 0, 0, 0, 0, 0, 0, 9,  0, 0, 0, 0, 0, 0, 0, 0,  0x00, 0x00,
        0, 0, 0, 1,  0, 0, 0, 0, 0, 0, 0, 7,  0, 0, 0, 0, 0, 0, 0, 0,  0x00, 0x00,
        0x00,                                          /* topic tags */
        0, 0, 0, 0, 0, 0x40, 0, 0,                     /* TotalBytes 4 MiB */
        0, 0, 0, 0, 0, 0x10, 0, 0,                     /* UsableBytes 1 MiB */
        0x00,                                          /* result tags */
        0x00, 0x38,                                    /* ErrorCode 56 KAFKA_STORAGE_ERROR */
        0x08, '/', 'd', 'a', 't', 'a', '/', 'b',
        0x01,                                          /* Topics: 0 */
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* TotalBytes -1 */
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, /* UsableBytes -1 */
        0x00,
        0x00,                                          /* response tags */
};

START_TEST(kwire_logdirs_decodes_online_and_offline_dirs_field_by_field) {
        struct kwire_logdirs d;
        char err[256] = "";
        ck_assert_int_eq(kwire_logdirs_decode_response(logdirs_v4, sizeof logdirs_v4, 4, 5, &d, err, sizeof err), 0);
        ck_assert_int_eq(d.error_code, 0);
        ck_assert_int_eq(d.n_dirs, 2);
        ck_assert_str_eq(d.dirs[0].path, "/data/a");
        ck_assert_int_eq(d.dirs[0].error_code, 0);
        ck_assert_uint_eq(d.dirs[0].n_topics, 1);
        ck_assert_uint_eq(d.dirs[0].n_partitions, 2);
        ck_assert_int_eq(d.dirs[0].total_bytes, 4194304);
        ck_assert_int_eq(d.dirs[0].usable_bytes, 1048576);
        ck_assert_str_eq(d.dirs[1].path, "/data/b");
        ck_assert_int_eq(d.dirs[1].error_code, KWIRE_ERR_KAFKA_STORAGE_ERROR);
        ck_assert_str_eq(kwire_error_name(d.dirs[1].error_code), "KAFKA_STORAGE_ERROR");
        ck_assert_int_eq(d.dirs[1].total_bytes, -1);
        ck_assert_uint_eq(d.dirs[1].n_partitions, 0);
}
END_TEST

START_TEST(kwire_logdirs_every_truncation_and_trailing_byte_is_refused) {
        struct kwire_logdirs d;
        char err[256];
        for (size_t n = 0; n < sizeof logdirs_v4; n++)
                ck_assert_msg(kwire_logdirs_decode_response(logdirs_v4, n, 4, 5, &d, err, sizeof err) == -EPROTO,
                              "a cut to %zu bytes was accepted", n);
        ck_assert_str_eq(err, "malformed DescribeLogDirs v4 answer: truncated at byte 116 of 116 reading response tagged fields (1 bytes)");
        uint8_t longer[sizeof logdirs_v4 + 1];
        memcpy(longer, logdirs_v4, sizeof logdirs_v4);
        longer[sizeof logdirs_v4] = 0;
        ck_assert_int_eq(kwire_logdirs_decode_response(longer, sizeof longer, 4, 5, &d, err, sizeof err), -EPROTO);
        /* Another correlation id, an unsupported version. */
        ck_assert_int_eq(kwire_logdirs_decode_response(logdirs_v4, sizeof logdirs_v4, 4, 6, &d, err, sizeof err), -EPROTO);
        ck_assert_int_eq(kwire_logdirs_decode_response(logdirs_v4, sizeof logdirs_v4, 2, 5, &d, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "DescribeLogDirs version 2 is not supported (3 or 4)");
        /* Read as v3 (no TotalBytes/UsableBytes) the same bytes are not a v3 answer. */
        ck_assert_int_eq(kwire_logdirs_decode_response(logdirs_v4, sizeof logdirs_v4, 3, 5, &d, err, sizeof err), -EPROTO);
}
END_TEST

START_TEST(kwire_logdirs_same_dir_twice_or_too_many_dirs_are_refused) {
        struct kwire_logdirs d;
        char err[256];
        ck_assert_int_eq(kwire_logdirs_decode_response(BYTES(0, 0, 0, 1, 0x00, 0, 0, 0, 0, 0, 0, 0x03,
                                                             0, 0, 0x03, '/', 'x', 0x01, 0x00,
                                                             0, 0, 0x04, '/', 'x', '/', 0x01, 0x00,
                                                             0x00), 3, 1, &d, err, sizeof err), 0);
        ck_assert_int_eq(d.n_dirs, 2);   /* "/x" and "/x/" are two strings; matching is disk.c's */
        ck_assert_int_eq(kwire_logdirs_decode_response(BYTES(0, 0, 0, 1, 0x00, 0, 0, 0, 0, 0, 0, 0x03,
                                                             0, 0, 0x03, '/', 'x', 0x01, 0x00,
                                                             0, 0, 0x03, '/', 'x', 0x01, 0x00,
                                                             0x00), 3, 1, &d, err, sizeof err), -EPROTO);
        ck_assert_str_eq(err, "malformed DescribeLogDirs v3 answer: the answer describes log dir \"/x\" twice (again at byte 21)");
        /* 65 results announced: refused before reading them, whatever follows. */
        uint8_t many[12 + 65 * 6 + 1];
        memcpy(many, (const uint8_t[]){ 0, 0, 0, 1, 0x00, 0, 0, 0, 0, 0, 0, 66 }, 12);
        for (int i = 0; i < 65; i++)
                memcpy(many + 12 + i * 6, (const uint8_t[]){ 0, 0, 0x02, (uint8_t) ('0' + i % 10), 0x01, 0x00 }, 6);
        many[sizeof many - 1] = 0x00;
        ck_assert_int_eq(kwire_logdirs_decode_response(many, sizeof many, 3, 1, &d, err, sizeof err), -EPROTO);
        ck_assert_str_eq(err, "malformed DescribeLogDirs v3 answer: Results at byte 11 lists 65 log dirs (at most 64)");
}
END_TEST

START_TEST(kwire_logdirs_top_level_error_and_round_trip) {
        struct kwire_logdirs d = { .error_code = 31, .throttle_ms = 3 }, back;
        uint8_t buf[1024];
        size_t len;
        char err[256];
        ck_assert_int_eq(kwire_logdirs_encode_response(&d, 4, 9, buf, sizeof buf, &len), 0);
        ck_assert_int_eq(kwire_logdirs_decode_response(buf + 4, len - 4, 4, 9, &back, err, sizeof err), 0);
        ck_assert_int_eq(back.error_code, 31);
        ck_assert_str_eq(kwire_error_name(back.error_code), "CLUSTER_AUTHORIZATION_FAILED");
        ck_assert_int_eq(back.throttle_ms, 3);
        ck_assert_int_eq(back.n_dirs, 0);
        d = (struct kwire_logdirs){ .n_dirs = 1 };
        snprintf(d.dirs[0].path, sizeof d.dirs[0].path, "/var/lib/kafka/data/kafka-logs");
        d.dirs[0].error_code = 56;
        d.dirs[0].total_bytes = 10;
        d.dirs[0].usable_bytes = 2;
        ck_assert_int_eq(kwire_logdirs_encode_response(&d, 4, 9, buf, sizeof buf, &len), 0);
        ck_assert_int_eq(kwire_logdirs_decode_response(buf + 4, len - 4, 4, 9, &back, err, sizeof err), 0);
        ck_assert_str_eq(back.dirs[0].path, "/var/lib/kafka/data/kafka-logs");
        ck_assert_int_eq(back.dirs[0].error_code, 56);
        ck_assert_int_eq(back.dirs[0].total_bytes, 10);
        ck_assert_int_eq(back.dirs[0].usable_bytes, 2);
        d.n_dirs = 65;
        ck_assert_int_eq(kwire_logdirs_encode_response(&d, 4, 9, buf, sizeof buf, &len), -EINVAL);
}
END_TEST

/* The answer of a real Kafka 4.1.1 broker to kwire_logdirs_request_v4_bytes' request (with
 * correlation id 1), saved by tests/kafka/test_disk.py (KPA_DISK_VECTORS_DIR) once its second
 * log dir, a 4 MiB tmpfs, had filled up and gone offline. */
START_TEST(kwire_logdirs_decodes_a_real_kafka_4_1_answer_with_an_offline_dir) {
        size_t len;
        uint8_t *frame = vector("describelogdirs-v4-kafka-4.1.1-offline.bin", &len);
        ck_assert_uint_eq(len, 121);
        struct kwire_logdirs d;
        char err[256] = "";
        ck_assert_int_eq(kwire_logdirs_decode_response(frame, len, 4, 1, &d, err, sizeof err), 0);
        ck_assert_int_eq(d.error_code, 0);
        ck_assert_int_eq(d.throttle_ms, 0);
        ck_assert_int_eq(d.n_dirs, 2);
        ck_assert_str_eq(d.dirs[0].path, "/var/lib/kafka/data/kafka-logs");
        ck_assert_int_eq(d.dirs[0].error_code, 0);
        ck_assert_uint_eq(d.dirs[0].n_topics, 0);   /* an empty topic list asks for none */
        ck_assert_int_eq(d.dirs[0].total_bytes, 0x3efe39d000);
        ck_assert_int_eq(d.dirs[0].usable_bytes, 0x132adc2000);
        ck_assert_str_eq(d.dirs[1].path, "/var/lib/kafka/data/small/kafka-logs");
        ck_assert_int_eq(d.dirs[1].error_code, KWIRE_ERR_KAFKA_STORAGE_ERROR);
        ck_assert_int_eq(d.dirs[1].total_bytes, -1);
        ck_assert_int_eq(d.dirs[1].usable_bytes, -1);
        for (size_t n = 0; n < len; n++)
                ck_assert_int_eq(kwire_logdirs_decode_response(frame, n, 4, 1, &d, err, sizeof err), -EPROTO);
}
END_TEST

int main(void) {
        Suite *s = suite_create("kwire");
        TCase *tc = tcase_create("kwire");
        tcase_add_test(tc, kwire_uvarint_encodes_like_kafka);
        tcase_add_test(tc, kwire_error_text_prints_name_and_code);
        tcase_add_test(tc, kwire_uvarint_past_32_bits_is_refused);
        tcase_add_test(tc, kwire_truncated_read_names_field_and_byte);
        tcase_add_test(tc, kwire_write_past_capacity_fails_the_frame);
        tcase_add_test(tc, kwire_counts_the_frame_cannot_hold_are_refused);
        tcase_add_test(tc, kwire_tagged_fields_are_skipped_in_increasing_order_only);
        tcase_add_test(tc, kwire_strings_null_only_where_allowed_and_copied_safely);
        tcase_add_test(tc, kwire_quorum_request_v2_bytes);
        tcase_add_test(tc, kwire_quorum_decodes_a_leader_answer_field_by_field);
        tcase_add_test(tc, kwire_quorum_every_truncation_and_trailing_byte_is_refused);
        tcase_add_test(tc, kwire_quorum_wrong_correlation_or_version_is_refused);
        tcase_add_test(tc, kwire_quorum_decodes_not_leader_answer);
        tcase_add_test(tc, kwire_quorum_top_level_error_without_topics_decodes);
        tcase_add_test(tc, kwire_quorum_other_topic_or_partition_or_twice_is_refused);
        tcase_add_test(tc, kwire_quorum_voters_past_the_bound_are_refused_observers_only_counted);
        tcase_add_test(tc, kwire_quorum_v1_round_trip_has_no_directory_ids_or_nodes);
        tcase_add_test(tc, kwire_quorum_decodes_a_real_kafka_4_4_leader_answer);
        tcase_add_test(tc, kwire_quorum_decodes_a_real_kafka_4_1_leader_answer);
        tcase_add_test(tc, kwire_quorum_decodes_a_real_kafka_4_4_follower_answer);
        tcase_add_test(tc, kwire_sasl_handshake_request_bytes_and_answer);
        tcase_add_test(tc, kwire_sasl_plain_request_bytes_and_answers);
        tcase_add_test(tc, kwire_logdirs_request_v4_bytes);
        tcase_add_test(tc, kwire_logdirs_decodes_online_and_offline_dirs_field_by_field);
        tcase_add_test(tc, kwire_logdirs_every_truncation_and_trailing_byte_is_refused);
        tcase_add_test(tc, kwire_logdirs_same_dir_twice_or_too_many_dirs_are_refused);
        tcase_add_test(tc, kwire_logdirs_top_level_error_and_round_trip);
        tcase_add_test(tc, kwire_logdirs_decodes_a_real_kafka_4_1_answer_with_an_offline_dir);
        suite_add_tcase(s, tc);
        return tu_run_suite(s);
}
