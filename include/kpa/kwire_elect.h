/* ElectLeaders (API key 43): asks the controller, through any broker, to elect a leader for the
 * partitions named. The agent uses only the preferred election: each partition's first replica
 * becomes its leader again if it is alive and in the ISR. librdkafka 2.0.2 has no such call,
 * so this is a codec of our own, limited to what the agent sends and reads (see kwire.h for the
 * conventions: pure, bounded, no allocation).
 *
 * Versions: Kafka 4.1.1 and 4.4.0 accept 0-2 (ApiVersions of real brokers; ElectLeadersRequest
 * .json); version 1 added ElectionType and the top-level ErrorCode, 2 is flexible (request
 * header v2, response header v1). Only 2 is encoded and decoded. The request always names its
 * partitions: a null list would elect every partition of the cluster. The answer has one
 * result per partition asked; ELECTION_NOT_NEEDED means the preferred replica leads already,
 * which is what the agent wanted. A principal without ALTER on the CLUSTER resource gets
 * CLUSTER_AUTHORIZATION_FAILED at the top level. */
#ifndef KPA_KWIRE_ELECT_H
#define KPA_KWIRE_ELECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kpa/kwire.h"

#define KWIRE_ELECT_API_KEY 43
#define KWIRE_ELECT_VERSION 2
#define KWIRE_ELECT_PREFERRED 0
#define KWIRE_ERR_CLUSTER_AUTHORIZATION_FAILED 31
#define KWIRE_ERR_PREFERRED_LEADER_NOT_AVAILABLE 80
#define KWIRE_ERR_ELECTION_NOT_NEEDED 84
/* One request names at most this many partitions (the agent asks again for the rest), so that
 * a request and its answer stay small however many partitions a broker hosts. */
#define KWIRE_ELECT_MAX_PARTITIONS 256
#define KWIRE_ELECT_TOPIC_MAX 249            /* Kafka's limit on a topic name */
/* The largest request: every partition in its own topic of the longest name. */
#define KWIRE_ELECT_REQUEST_MAX (64 + 256 + KWIRE_ELECT_MAX_PARTITIONS * (KWIRE_ELECT_TOPIC_MAX + 12))
#define KWIRE_ELECT_MESSAGE_MAX 160
/* The largest answer read: KWIRE_ELECT_MAX_PARTITIONS results with long messages fit. */
#define KWIRE_ELECT_RESPONSE_MAX (1024 * 1024)

/* One partition to elect (the topic is borrowed for the call). */
struct kwire_elect_partition {
        const char *topic;
        int32_t partition;
};

struct kwire_elect_result {
        char topic[KWIRE_ELECT_TOPIC_MAX + 1];   /* printable; longer names are refused */
        int32_t partition;
        int16_t error_code;                      /* 0, ELECTION_NOT_NEEDED, or why not */
        char message[KWIRE_ELECT_MESSAGE_MAX];   /* the broker's text, cut, printable; "" null */
};

struct kwire_elect {
        int32_t throttle_ms;
        int16_t error_code;                      /* top level (CLUSTER_AUTHORIZATION_FAILED) */
        int n_results;
        struct kwire_elect_result results[KWIRE_ELECT_MAX_PARTITIONS];
};

/* Whether a partition's result means its preferred replica leads now. */
static inline bool kwire_elect_ok(int16_t code) {
        return code == KWIRE_ERR_NONE || code == KWIRE_ERR_ELECTION_NOT_NEEDED;
}

/* A whole request frame (size, header v2 with client_id, election type, the partitions grouped
 * by topic in order of first appearance, timeout_ms). 0 and *ret_len; -EINVAL for a version
 * other than 2, no partition, more than KWIRE_ELECT_MAX_PARTITIONS, an empty or too long topic
 * name, a negative partition or timeout; -E2BIG when cap is too small. */
int kwire_elect_encode_request(int16_t version, int32_t correlation_id, const char *client_id,
                               int8_t election_type, const struct kwire_elect_partition *parts,
                               int n, int32_t timeout_ms, uint8_t *buf, size_t cap,
                               size_t *ret_len);

/* Decodes a response frame (the bytes after its 4-byte size). Strict: a truncated frame,
 * trailing bytes, a null topic, a count the frame cannot hold, more than
 * KWIRE_ELECT_MAX_PARTITIONS results, a topic name longer than Kafka allows, or the same
 * partition twice are refused. 0, or -EPROTO with the reason (and the byte where it was found)
 * in errbuf; -EINVAL for an unsupported version. ret is written in every case; on failure it
 * must not be used. */
int kwire_elect_decode_response(const uint8_t *frame, size_t len, int16_t version,
                                int32_t correlation_id, struct kwire_elect *ret, char *errbuf,
                                size_t errlen);

/* Encodes e as a broker would answer (a whole frame with its size; "" messages as null): for
 * test peers and the fuzzer's round trip. Results are grouped by topic in order of first
 * appearance. 0, -EINVAL (bad version or count), or -E2BIG. */
int kwire_elect_encode_response(const struct kwire_elect *e, int16_t version,
                                int32_t correlation_id, uint8_t *buf, size_t cap,
                                size_t *ret_len);

#endif
