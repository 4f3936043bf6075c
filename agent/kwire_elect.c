#include "kpa/kwire_elect.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static bool version_ok(int16_t v) { return v == KWIRE_ELECT_VERSION; }

/* Whether entry i is the first of its topic among parts[0..i]: topics are written once each,
 * with all their partitions, in the order they first appear. n is small (bounded above). */
static bool first_of_topic(const char *const *topics, int i) {
        for (int j = 0; j < i; j++)
                if (strcmp(topics[j], topics[i]) == 0)
                        return false;
        return true;
}

/* How many distinct topics the list names. */
static uint32_t topic_count(const char *const *topics, int n) {
        uint32_t c = 0;
        for (int i = 0; i < n; i++)
                c += first_of_topic(topics, i);
        return c;
}

int kwire_elect_encode_request(int16_t version, int32_t correlation_id, const char *client_id,
                               int8_t election_type, const struct kwire_elect_partition *parts,
                               int n, int32_t timeout_ms, uint8_t *buf, size_t cap,
                               size_t *ret_len) {
        const char *topics[KWIRE_ELECT_MAX_PARTITIONS];
        if (!version_ok(version) || n <= 0 || n > KWIRE_ELECT_MAX_PARTITIONS || timeout_ms < 0)
                return -EINVAL;
        for (int i = 0; i < n; i++) {
                size_t len = parts[i].topic ? strlen(parts[i].topic) : 0;
                if (len == 0 || len > KWIRE_ELECT_TOPIC_MAX || parts[i].partition < 0)
                        return -EINVAL;
                topics[i] = parts[i].topic;
        }
        struct kwire_w w;
        kwire_w_init(&w, buf, cap);
        kwire_request_begin(&w, KWIRE_ELECT_API_KEY, version, correlation_id, client_id, true);
        kwire_put_i8(&w, election_type);
        kwire_put_compact_count(&w, topic_count(topics, n));
        for (int i = 0; i < n; i++) {
                if (!first_of_topic(topics, i))
                        continue;
                uint32_t np = 0;
                for (int j = i; j < n; j++)
                        np += strcmp(topics[j], topics[i]) == 0;
                kwire_put_compact_string(&w, topics[i]);
                kwire_put_compact_count(&w, np);
                for (int j = i; j < n; j++)
                        if (strcmp(topics[j], topics[i]) == 0)
                                kwire_put_i32(&w, parts[j].partition);
                kwire_put_no_tags(&w);
        }
        kwire_put_i32(&w, timeout_ms);
        kwire_put_no_tags(&w);
        return kwire_frame_end(&w, ret_len);
}

/* The fewest bytes each repeated structure can take, so that a forged count is refused before
 * anything loops over it: a partition result is id, error, a null message, tags; a topic is a
 * one-byte name at least, a count, tags. */
#define PARTITION_MIN (4 + 2 + 1 + 1)
#define TOPIC_MIN (2 + 1 + 1)

static void read_partition(struct kwire_r *r, struct kwire_elect *ret, struct kwire_str topic) {
        size_t at = r->pos;
        struct kwire_elect_result *e = &ret->results[ret->n_results];
        e->partition = kwire_get_i32(r, "PartitionId");
        e->error_code = kwire_get_i16(r, "ErrorCode");
        kwire_str_copy(kwire_get_compact_string(r, true, "ErrorMessage"), e->message, sizeof e->message);
        kwire_skip_tags(r, "PartitionResult tagged fields");
        if (r->failed)
                return;
        kwire_str_copy(topic, e->topic, sizeof e->topic);
        for (int i = 0; i < ret->n_results; i++)
                if (ret->results[i].partition == e->partition && strcmp(ret->results[i].topic, e->topic) == 0) {
                        kwire_r_fail(r, "the answer has %.200s-%d twice (again at byte %zu)", e->topic,
                                     (int) e->partition, at);
                        return;
                }
        ret->n_results++;
}

static void read_topic(struct kwire_r *r, struct kwire_elect *ret) {
        size_t at = r->pos;
        struct kwire_str topic = kwire_get_compact_string(r, false, "Topic");
        if (!r->failed && (topic.len == 0 || topic.len > KWIRE_ELECT_TOPIC_MAX)) {
                kwire_r_fail(r, "Topic at byte %zu is %zu bytes long (1 to %d)", at, topic.len,
                             KWIRE_ELECT_TOPIC_MAX);
                return;
        }
        at = r->pos;
        uint32_t n = kwire_get_compact_count(r, PARTITION_MIN, "PartitionResult");
        if (!r->failed && n > (uint32_t) (KWIRE_ELECT_MAX_PARTITIONS - ret->n_results)) {
                kwire_r_fail(r, "PartitionResult at byte %zu brings the answer past %d partitions",
                             at, KWIRE_ELECT_MAX_PARTITIONS);
                return;
        }
        for (uint32_t i = 0; i < n && !r->failed; i++)
                read_partition(r, ret, topic);
        kwire_skip_tags(r, "ReplicaElectionResult tagged fields");
}

int kwire_elect_decode_response(const uint8_t *frame, size_t len, int16_t version,
                                int32_t correlation_id, struct kwire_elect *ret, char *errbuf,
                                size_t errlen) {
        memset(ret, 0, sizeof *ret);
        if (!version_ok(version)) {
                snprintf(errbuf, errlen, "ElectLeaders version %d is not supported (2)", version);
                return -EINVAL;
        }
        struct kwire_r r;
        kwire_r_init(&r, frame, len);
        kwire_response_header(&r, correlation_id, true);
        ret->throttle_ms = kwire_get_i32(&r, "ThrottleTimeMs");
        ret->error_code = kwire_get_i16(&r, "ErrorCode");
        uint32_t n = kwire_get_compact_count(&r, TOPIC_MIN, "ReplicaElectionResults");
        for (uint32_t i = 0; i < n && !r.failed; i++)
                read_topic(&r, ret);
        kwire_skip_tags(&r, "response tagged fields");
        kwire_r_expect_end(&r);
        if (r.failed) {
                snprintf(errbuf, errlen, "malformed ElectLeaders v%d answer: %s", version, r.err);
                return -EPROTO;
        }
        return 0;
}

int kwire_elect_encode_response(const struct kwire_elect *e, int16_t version,
                                int32_t correlation_id, uint8_t *buf, size_t cap,
                                size_t *ret_len) {
        const char *topics[KWIRE_ELECT_MAX_PARTITIONS];
        if (!version_ok(version) || e->n_results < 0 || e->n_results > KWIRE_ELECT_MAX_PARTITIONS)
                return -EINVAL;
        int n = e->n_results;
        for (int i = 0; i < n; i++)
                topics[i] = e->results[i].topic;
        struct kwire_w w;
        kwire_w_init(&w, buf, cap);
        kwire_put_i32(&w, 0);                  /* size, filled in below */
        kwire_put_i32(&w, correlation_id);     /* response header v1 */
        kwire_put_no_tags(&w);
        kwire_put_i32(&w, e->throttle_ms);
        kwire_put_i16(&w, e->error_code);
        kwire_put_compact_count(&w, topic_count(topics, n));
        for (int i = 0; i < n; i++) {
                if (!first_of_topic(topics, i))
                        continue;
                uint32_t np = 0;
                for (int j = i; j < n; j++)
                        np += strcmp(topics[j], topics[i]) == 0;
                kwire_put_compact_string(&w, topics[i]);
                kwire_put_compact_count(&w, np);
                for (int j = i; j < n; j++) {
                        if (strcmp(topics[j], topics[i]) != 0)
                                continue;
                        kwire_put_i32(&w, e->results[j].partition);
                        kwire_put_i16(&w, e->results[j].error_code);
                        kwire_put_compact_string(&w, e->results[j].message[0] ? e->results[j].message : NULL);
                        kwire_put_no_tags(&w);
                }
                kwire_put_no_tags(&w);
        }
        kwire_put_no_tags(&w);
        return kwire_frame_end(&w, ret_len);
}
