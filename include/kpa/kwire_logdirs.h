/* DescribeLogDirs (API key 35): how the broker sees each of its log dirs, online or offline
 * (KAFKA_STORAGE_ERROR), and from version 4 the bytes Kafka itself counts as total and usable.
 * librdkafka 2.0.2 has no such call, so this is a codec of our own, limited to what the agent
 * reads (see kwire.h for the conventions: pure, bounded, no allocation).
 *
 * Versions: Kafka 4.x accepts 1-4 (DescribeLogDirsRequest.json); 2 and up are flexible
 * (request header v2, response header v1), version 3 adds the top-level ErrorCode and 4 adds
 * TotalBytes and UsableBytes. Only 3 and 4 are encoded and decoded; the agent sends 4, and
 * asks for no topic at all (an empty, not a null, list): the answer then lists every log dir
 * with its state and no partition, so it stays a few hundred bytes however many partitions
 * the broker hosts. The partitions Kafka lists anyway are counted per dir, never kept. */
#ifndef KPA_KWIRE_LOGDIRS_H
#define KPA_KWIRE_LOGDIRS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kpa/kwire.h"

#define KWIRE_LOGDIRS_API_KEY 35
#define KWIRE_LOGDIRS_VERSION 4
/* Kafka's error for a log dir that failed (an I/O error, a full disk): it is offline. */
#define KWIRE_ERR_KAFKA_STORAGE_ERROR 56
/* The request frame is 26 bytes with the agent's client id; room for any id. */
#define KWIRE_LOGDIRS_REQUEST_MAX 512
/* A broker has a handful of log dirs (kpa-init writes at most 64); paths longer than this are
 * cut, and the decoder says so. */
#define KWIRE_LOGDIRS_MAX_DIRS 64
#define KWIRE_LOGDIRS_PATH_MAX 1024
/* The largest answer read: an answer that lists partitions (an old broker ignoring the empty
 * list) still fits some 40,000 of them. */
#define KWIRE_LOGDIRS_RESPONSE_MAX (1024 * 1024)

struct kwire_logdir {
        int16_t error_code;                  /* 0 online; KAFKA_STORAGE_ERROR offline */
        char path[KWIRE_LOGDIRS_PATH_MAX];   /* as the broker names it (absolute), printable */
        bool path_cut;                       /* longer than KWIRE_LOGDIRS_PATH_MAX - 1 bytes */
        uint32_t n_topics, n_partitions;     /* listed (not kept) */
        int64_t total_bytes, usable_bytes;   /* version 4; -1 when unknown (offline dir) */
};

struct kwire_logdirs {
        int16_t error_code;                  /* top level (e.g. CLUSTER_AUTHORIZATION_FAILED) */
        int32_t throttle_ms;
        int n_dirs;
        struct kwire_logdir dirs[KWIRE_LOGDIRS_MAX_DIRS];
};

/* A whole request frame (size, header v2 with client_id, an empty topic list). 0 and *ret_len,
 * -EINVAL for a version other than 3 or 4, -E2BIG when cap is too small. */
int kwire_logdirs_encode_request(int16_t version, int32_t correlation_id, const char *client_id,
                                 uint8_t *buf, size_t cap, size_t *ret_len);

/* Decodes a response frame (the bytes after its 4-byte size). Strict: a truncated frame,
 * trailing bytes, a null string, a count the frame cannot hold, more than
 * KWIRE_LOGDIRS_MAX_DIRS dirs, or the same dir twice are refused. 0, or -EPROTO with the
 * reason (and the byte where it was found) in errbuf; -EINVAL for an unsupported version.
 * ret is written in every case; on failure it must not be used. */
int kwire_logdirs_decode_response(const uint8_t *frame, size_t len, int16_t version,
                                  int32_t correlation_id, struct kwire_logdirs *ret,
                                  char *errbuf, size_t errlen);

/* Encodes d as a broker would answer (a whole frame with its size, no partitions listed): for
 * test peers and the fuzzer's round trip. 0, -EINVAL (bad version or count), or -E2BIG. */
int kwire_logdirs_encode_response(const struct kwire_logdirs *d, int16_t version,
                                  int32_t correlation_id, uint8_t *buf, size_t cap,
                                  size_t *ret_len);

#endif
