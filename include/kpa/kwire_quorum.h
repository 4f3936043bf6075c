/* DescribeQuorum (API key 55), the one call that says how the KRaft metadata quorum stands:
 * its leader, epoch and high watermark, and for every voter and observer the log end offset,
 * the last fetch and the last time it was caught up, each as the leader's wall clock saw it.
 * librdkafka 2.0.2 has no such call, so this is a codec of our own, limited to what the agent
 * reads (see kwire.h for the conventions: pure, bounded, no allocation).
 *
 * Versions: Kafka 3.9 to 4.4 accept 0-2 (DescribeQuorumRequest.json, unchanged through 4.4);
 * every version is flexible (request header v2, response header v1). Version 0 lacks the
 * timestamps the agent decides on, so only 1 and 2 are encoded and decoded; the agent sends 2.
 * Only the leader answers: any other controller answers the partition with
 * NOT_LEADER_OR_FOLLOWER and no quorum data. */
#ifndef KPA_KWIRE_QUORUM_H
#define KPA_KWIRE_QUORUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kpa/kwire.h"

#define KWIRE_QUORUM_API_KEY 55
#define KWIRE_QUORUM_VERSION 2
#define KWIRE_QUORUM_TOPIC "__cluster_metadata"
/* A request frame is 52 bytes with the agent's client id; this leaves room for any id. */
#define KWIRE_QUORUM_REQUEST_MAX 512
/* Bounds on what one answer may make us hold. KRaft quorums have 1-9 voters in practice (kpa-
 * init writes at most 64); every broker is an observer, so there may be many: the first ones
 * are kept, the rest only counted. */
#define KWIRE_QUORUM_MAX_VOTERS 64
#define KWIRE_QUORUM_MAX_OBSERVERS 256
/* The largest answer read: 10,000 observers of 45 bytes each fit. */
#define KWIRE_QUORUM_RESPONSE_MAX (1024 * 1024)

struct kwire_replica {
        int32_t id;
        uint8_t directory_id[16];    /* version 2; all zero when the leader does not know it */
        int64_t log_end_offset;      /* -1: unknown */
        int64_t last_fetch_ms;       /* leader's wall clock, -1: unknown */
        int64_t last_caught_up_ms;   /* leader's wall clock, -1: unknown; the leader's own
                                        entry carries the leader's current time */
};

struct kwire_quorum {
        int16_t error_code;                        /* top level */
        char error_message[KWIRE_ERR_MAX];         /* version 2; "" when null */
        bool have_partition;                       /* __cluster_metadata-0 was described */
        int16_t partition_error_code;
        char partition_error_message[KWIRE_ERR_MAX];
        int32_t leader_id;
        int32_t leader_epoch;
        int64_t high_watermark;
        int n_voters;
        struct kwire_replica voters[KWIRE_QUORUM_MAX_VOTERS];
        int n_observers;                           /* as many as the leader listed */
        int n_observers_kept;                      /* the first ones, in observers[] */
        struct kwire_replica observers[KWIRE_QUORUM_MAX_OBSERVERS];
        int n_nodes;                               /* version 2: endpoints listed (not kept) */
};

/* A whole request frame (size, header v2 with client_id, then the body asking for
 * __cluster_metadata partition 0) in buf. 0 and *ret_len, -EINVAL for a version other than 1
 * or 2, -E2BIG when cap is too small. */
int kwire_quorum_encode_request(int16_t version, int32_t correlation_id, const char *client_id,
                                uint8_t *buf, size_t cap, size_t *ret_len);

/* Decodes a response frame (the bytes after its 4-byte size) to a request of that version and
 * correlation id. Strict: a truncated frame, trailing bytes, a null where the schema allows
 * none, a count the frame cannot hold, more than KWIRE_QUORUM_MAX_VOTERS voters, a partition
 * other than __cluster_metadata-0, a partition described twice, or no partition at all with no
 * top-level error, are refused. 0, or -EPROTO with the reason (and the byte where it was
 * found) in errbuf; -EINVAL for an unsupported version. ret is written in every case; on
 * failure it must not be used. */
int kwire_quorum_decode_response(const uint8_t *frame, size_t len, int16_t version,
                                 int32_t correlation_id, struct kwire_quorum *ret, char *errbuf,
                                 size_t errlen);

/* Encodes q as a leader would answer (a whole frame with its size): for test peers and the
 * fuzzer's round trip. Encodes observers[0..n_observers_kept), no nodes, and "" messages as
 * null. 0, -EINVAL (bad version, or counts out of range), or -E2BIG. */
int kwire_quorum_encode_response(const struct kwire_quorum *q, int16_t version,
                                 int32_t correlation_id, uint8_t *buf, size_t cap,
                                 size_t *ret_len);

#endif
