#include "kpa/kwire_quorum.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static bool version_ok(int16_t v) { return v == 1 || v == 2; }

int kwire_quorum_encode_request(int16_t version, int32_t correlation_id, const char *client_id,
                                uint8_t *buf, size_t cap, size_t *ret_len) {
        if (!version_ok(version))
                return -EINVAL;
        struct kwire_w w;
        kwire_w_init(&w, buf, cap);
        kwire_request_begin(&w, KWIRE_QUORUM_API_KEY, version, correlation_id, client_id, true);
        kwire_put_compact_count(&w, 1);                   /* Topics */
        kwire_put_compact_string(&w, KWIRE_QUORUM_TOPIC); /* TopicName */
        kwire_put_compact_count(&w, 1);                   /* Partitions */
        kwire_put_i32(&w, 0);                             /* PartitionIndex */
        kwire_put_no_tags(&w);                            /* partition */
        kwire_put_no_tags(&w);                            /* topic */
        kwire_put_no_tags(&w);                            /* request */
        return kwire_frame_end(&w, ret_len);
}

/* The fewest bytes each repeated structure can take, so that a forged count is refused
 * before anything loops over it. */
static size_t replica_min(int16_t version) { return 4 + (version >= 2 ? 16 : 0) + 8 + 8 + 8 + 1; }
static size_t partition_min(int16_t version) { return 4 + 2 + (version >= 2 ? 1 : 0) + 4 + 4 + 8 + 1 + 1 + 1; }
#define TOPIC_MIN 3
#define NODE_MIN 6
#define LISTENER_MIN 5

static void read_replica(struct kwire_r *r, int16_t version, struct kwire_replica *ret) {
        ret->id = kwire_get_i32(r, "ReplicaId");
        if (version >= 2) {
                const uint8_t *p = r->p + r->pos;
                kwire_skip(r, 16, "ReplicaDirectoryId");
                if (!r->failed)
                        memcpy(ret->directory_id, p, 16);
        }
        ret->log_end_offset = kwire_get_i64(r, "LogEndOffset");
        ret->last_fetch_ms = kwire_get_i64(r, "LastFetchTimestamp");
        ret->last_caught_up_ms = kwire_get_i64(r, "LastCaughtUpTimestamp");
        kwire_skip_tags(r, "ReplicaState tagged fields");
}

static void read_partition(struct kwire_r *r, int16_t version, struct kwire_quorum *d) {
        size_t at = r->pos;
        int32_t index = kwire_get_i32(r, "PartitionIndex");
        if (!r->failed && index != 0) {
                kwire_r_fail(r, "the answer describes a partition (index %d at byte %zu) other "
                             "than %s-0", index, at, KWIRE_QUORUM_TOPIC);
                return;
        }
        if (!r->failed && d->have_partition) {
                kwire_r_fail(r, "the answer describes %s-0 twice (again at byte %zu)",
                             KWIRE_QUORUM_TOPIC, at);
                return;
        }
        d->partition_error_code = kwire_get_i16(r, "ErrorCode");
        if (version >= 2)
                kwire_str_copy(kwire_get_compact_string(r, true, "ErrorMessage"),
                               d->partition_error_message, sizeof d->partition_error_message);
        d->leader_id = kwire_get_i32(r, "LeaderId");
        d->leader_epoch = kwire_get_i32(r, "LeaderEpoch");
        d->high_watermark = kwire_get_i64(r, "HighWatermark");

        at = r->pos;
        uint32_t n = kwire_get_compact_count(r, replica_min(version), "CurrentVoters");
        if (n > KWIRE_QUORUM_MAX_VOTERS) {
                kwire_r_fail(r, "CurrentVoters at byte %zu lists %u voters (at most %d)", at, n,
                             KWIRE_QUORUM_MAX_VOTERS);
                return;
        }
        for (uint32_t i = 0; i < n && !r->failed; i++)
                read_replica(r, version, &d->voters[i]);
        d->n_voters = (int) n;

        n = kwire_get_compact_count(r, replica_min(version), "Observers");
        d->n_observers = (int) n;
        d->n_observers_kept = 0;
        for (uint32_t i = 0; i < n && !r->failed; i++) {
                struct kwire_replica rs;
                read_replica(r, version, &rs);
                if (i < KWIRE_QUORUM_MAX_OBSERVERS)
                        d->observers[d->n_observers_kept++] = rs;
        }
        kwire_skip_tags(r, "PartitionData tagged fields");
        if (!r->failed)
                d->have_partition = true;
}

static void read_nodes(struct kwire_r *r, struct kwire_quorum *q) {
        uint32_t n = kwire_get_compact_count(r, NODE_MIN, "Nodes");
        for (uint32_t i = 0; i < n && !r->failed; i++) {
                kwire_get_i32(r, "NodeId");
                uint32_t nl = kwire_get_compact_count(r, LISTENER_MIN, "Listeners");
                for (uint32_t j = 0; j < nl && !r->failed; j++) {
                        kwire_get_compact_string(r, false, "Listener Name");
                        kwire_get_compact_string(r, false, "Listener Host");
                        kwire_get_u16(r, "Listener Port");
                        kwire_skip_tags(r, "Listener tagged fields");
                }
                kwire_skip_tags(r, "Node tagged fields");
        }
        q->n_nodes = (int) n;
}

int kwire_quorum_decode_response(const uint8_t *frame, size_t len, int16_t version,
                                 int32_t correlation_id, struct kwire_quorum *ret, char *errbuf,
                                 size_t errlen) {
        memset(ret, 0, sizeof *ret);
        ret->leader_id = -1;
        ret->leader_epoch = -1;
        ret->high_watermark = -1;
        if (!version_ok(version)) {
                snprintf(errbuf, errlen, "DescribeQuorum version %d is not supported (1 or 2)",
                         version);
                return -EINVAL;
        }
        struct kwire_r r;
        kwire_r_init(&r, frame, len);
        kwire_response_header(&r, correlation_id, true);
        ret->error_code = kwire_get_i16(&r, "ErrorCode");
        if (version >= 2)
                kwire_str_copy(kwire_get_compact_string(&r, true, "ErrorMessage"),
                               ret->error_message, sizeof ret->error_message);
        uint32_t nt = kwire_get_compact_count(&r, TOPIC_MIN, "Topics");
        for (uint32_t i = 0; i < nt && !r.failed; i++) {
                size_t at = r.pos;
                struct kwire_str name = kwire_get_compact_string(&r, false, "TopicName");
                if (!r.failed && !kwire_str_eq(name, KWIRE_QUORUM_TOPIC)) {
                        char shown[64];
                        kwire_str_copy(name, shown, sizeof shown);
                        kwire_r_fail(&r, "the answer describes topic \"%s\" (at byte %zu), not %s",
                                     shown, at, KWIRE_QUORUM_TOPIC);
                }
                uint32_t np = kwire_get_compact_count(&r, partition_min(version), "Partitions");
                for (uint32_t j = 0; j < np && !r.failed; j++)
                        read_partition(&r, version, ret);
                kwire_skip_tags(&r, "TopicData tagged fields");
        }
        if (version >= 2)
                read_nodes(&r, ret);
        kwire_skip_tags(&r, "response tagged fields");
        kwire_r_expect_end(&r);
        if (!r.failed && ret->error_code == KWIRE_ERR_NONE && !ret->have_partition)
                kwire_r_fail(&r, "the answer has no error and no %s-0", KWIRE_QUORUM_TOPIC);
        if (r.failed) {
                snprintf(errbuf, errlen, "malformed DescribeQuorum v%d answer: %s", version, r.err);
                return -EPROTO;
        }
        return 0;
}

static void put_replica(struct kwire_w *w, int16_t version, const struct kwire_replica *rs) {
        kwire_put_i32(w, rs->id);
        if (version >= 2)
                kwire_put_raw(w, rs->directory_id, 16);
        kwire_put_i64(w, rs->log_end_offset);
        kwire_put_i64(w, rs->last_fetch_ms);
        kwire_put_i64(w, rs->last_caught_up_ms);
        kwire_put_no_tags(w);
}

int kwire_quorum_encode_response(const struct kwire_quorum *q, int16_t version,
                                 int32_t correlation_id, uint8_t *buf, size_t cap,
                                 size_t *ret_len) {
        if (!version_ok(version) || q->n_voters < 0 || q->n_voters > KWIRE_QUORUM_MAX_VOTERS ||
            q->n_observers_kept < 0 || q->n_observers_kept > KWIRE_QUORUM_MAX_OBSERVERS)
                return -EINVAL;
        struct kwire_w w;
        kwire_w_init(&w, buf, cap);
        kwire_put_i32(&w, 0);                  /* size, filled in below */
        kwire_put_i32(&w, correlation_id);     /* response header v1 */
        kwire_put_no_tags(&w);
        kwire_put_i16(&w, q->error_code);
        if (version >= 2)
                kwire_put_compact_string(&w, q->error_message[0] ? q->error_message : NULL);
        kwire_put_compact_count(&w, q->have_partition ? 1 : 0);
        if (q->have_partition) {
                kwire_put_compact_string(&w, KWIRE_QUORUM_TOPIC);
                kwire_put_compact_count(&w, 1);
                kwire_put_i32(&w, 0);
                kwire_put_i16(&w, q->partition_error_code);
                if (version >= 2)
                        kwire_put_compact_string(&w, q->partition_error_message[0]
                                                             ? q->partition_error_message : NULL);
                kwire_put_i32(&w, q->leader_id);
                kwire_put_i32(&w, q->leader_epoch);
                kwire_put_i64(&w, q->high_watermark);
                kwire_put_compact_count(&w, (uint32_t) q->n_voters);
                for (int i = 0; i < q->n_voters; i++)
                        put_replica(&w, version, &q->voters[i]);
                kwire_put_compact_count(&w, (uint32_t) q->n_observers_kept);
                for (int i = 0; i < q->n_observers_kept; i++)
                        put_replica(&w, version, &q->observers[i]);
                kwire_put_no_tags(&w);         /* partition */
                kwire_put_no_tags(&w);         /* topic */
        }
        if (version >= 2)
                kwire_put_compact_count(&w, 0); /* Nodes */
        kwire_put_no_tags(&w);
        return kwire_frame_end(&w, ret_len);
}
