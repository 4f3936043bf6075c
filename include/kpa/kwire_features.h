/* ApiVersions (API key 18) read for its feature fields: which feature levels the broker's
 * software supports (SupportedFeatures, tag 0), and which levels the cluster has finalized
 * (FinalizedFeaturesEpoch, tag 1; FinalizedFeatures, tag 2), the difference being what a
 * rolling upgrade leaves to finalize (metadata.version and the others). librdkafka 2.0.2 sends
 * ApiVersions itself but keeps these tagged fields to itself, so this is a codec of our own,
 * limited to what the agent reads (see kwire.h for the conventions: pure, bounded, no
 * allocation).
 *
 * Versions: Kafka 3.9 to 4.4 accept 0-4 (ApiVersionsRequest.json). 3 is the first flexible
 * version (request header v2); the response header is v0 at every version, so that a client
 * can read an answer to a version the broker does not know. Below version 4 a broker leaves
 * out every supported feature whose minimum is 0 (KAFKA-17011), i.e. all but metadata.version,
 * so the agent sends 4; 3 and 4 share one schema and both decode. A feature finalized at level
 * 0 (e.g. kraft.version of a static quorum) is not listed in FinalizedFeatures: absent means 0.
 * A broker that does not know the version answers UNSUPPORTED_VERSION in the version-0 form;
 * only the error code of an answer with an error is read. */
#ifndef KPA_KWIRE_FEATURES_H
#define KPA_KWIRE_FEATURES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kpa/kwire.h"

#define KWIRE_FEATURES_API_KEY 18
#define KWIRE_FEATURES_VERSION 4
/* A request frame is about 60 bytes with the agent's names; this leaves room for any. */
#define KWIRE_FEATURES_REQUEST_MAX 512
/* The largest answer read: Kafka 4.4 lists about 90 APIs and 6 features in some 800 bytes. */
#define KWIRE_FEATURES_RESPONSE_MAX (64 * 1024)
/* Features kept per list: Kafka 4.4 has 6 (metadata.version, kraft.version, group.version,
 * transaction.version, eligible.leader.replicas.version, share.version, streams.version);
 * more are counted, not kept. */
#define KWIRE_FEATURES_MAX 32
/* A feature name longer than this is refused (Kafka's are under 40 bytes). */
#define KWIRE_FEATURE_NAME_MAX 64

struct kwire_feature {
        char name[KWIRE_FEATURE_NAME_MAX + 1];
        int16_t min;    /* supported: MinVersion; finalized: MinVersionLevel */
        int16_t max;    /* supported: MaxVersion; finalized: MaxVersionLevel (the level) */
};

struct kwire_features {
        int16_t error_code;
        int n_api_keys;                                 /* how many APIs the answer lists */
        int n_supported;                                /* as many as the answer listed */
        int n_supported_kept;
        struct kwire_feature supported[KWIRE_FEATURES_MAX];
        int64_t finalized_epoch;                        /* -1: tag 1 absent (unknown) */
        int n_finalized;
        int n_finalized_kept;
        struct kwire_feature finalized[KWIRE_FEATURES_MAX];
        bool zk_migration_ready;                        /* tag 3; false when absent */
};

/* A whole request frame (size, header v2 with client_id, then ClientSoftwareName and
 * ClientSoftwareVersion, each of which Kafka requires to be letters, digits, '.' and '-',
 * beginning and ending with a letter or digit) in buf. 0 and *ret_len, -EINVAL for a version other than 3 or 4 or a software name or version
 * Kafka would refuse, -E2BIG when cap is too small. */
int kwire_features_encode_request(int16_t version, int32_t correlation_id, const char *client_id,
                                  const char *software_name, const char *software_version,
                                  uint8_t *buf, size_t cap, size_t *ret_len);

/* Decodes a response frame (the bytes after its 4-byte size) to a request of that version and
 * correlation id. Strict: a truncated frame, trailing bytes, a null where the schema allows
 * none, a count the frame cannot hold, a tagged field whose content is not exactly its size, a
 * feature name empty, longer than KWIRE_FEATURE_NAME_MAX or listed twice, a supported range
 * with min > max, or a finalized level below 1 are refused. With an error code other than
 * NONE only the code is read. 0, or -EPROTO with the reason (and the byte where it was found)
 * in errbuf; -EINVAL for an unsupported version. ret is written in every case; on failure it
 * must not be used. */
int kwire_features_decode_response(const uint8_t *frame, size_t len, int16_t version,
                                   int32_t correlation_id, struct kwire_features *ret,
                                   char *errbuf, size_t errlen);

/* Encodes f as a broker would answer (a whole frame with its size, no API keys): for test
 * peers and the fuzzer's round trip. Tags 0 and 2 are written when their kept count is > 0,
 * tag 1 when finalized_epoch >= 0, tag 3 when zk_migration_ready. 0, -EINVAL (bad version, or
 * counts out of range), or -E2BIG. */
int kwire_features_encode_response(const struct kwire_features *f, int16_t version,
                                   int32_t correlation_id, uint8_t *buf, size_t cap,
                                   size_t *ret_len);

/* The kept entry named name in v[0..n), or NULL. */
const struct kwire_feature *kwire_features_find(const struct kwire_feature *v, int n,
                                                const char *name);

#endif
