/* What TLS material the broker process's Raft client started with (agent/raftstart.c).
 *
 * Kafka's KRaft client (KafkaRaftManager: controllers among themselves, and every broker to the
 * controllers) reads its key store and trust store once, when the process starts, and is never
 * reconfigured. On a node whose controller listener uses TLS, a CA step put in place by a
 * dynamic reload therefore reaches the listeners but not that client: only a restart of the
 * broker process does (docs/tls-rotation.md). So the agent keeps track of what the running
 * process started with:
 *
 *   - the kafka container's probes tell the agent when its broker process started
 *     (/livez?process-age-ms=N, k8s/base/config/kpa-probe.sh);
 *   - a process that started after the stores were last written started with the stores as
 *     they are on disk (Kafka reads them seconds after the process started, so a start read a
 *     little late by the probe's round trip is still after the write);
 *   - that is recorded (raft-start.state next to the stores: CA fingerprints, public, 0644), so
 *     that after the next write, and across restarts of the agent, the record still says what
 *     the same process runs with;
 *   - a process older than the stores without a record for it: unknown.
 *
 * CAs are named as in carot.h (the SHA-256 of their DER, lower-case hex). */
#ifndef KPA_RAFTSTART_H
#define KPA_RAFTSTART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kpa/carot.h"

#define RAFTSTART_STATE_FILE "raft-start.state"
/* Two reports of a process's start within this much of each other name the same process: the
 * probe's age is read at another moment than the agent's clock (a round trip, a busy loop),
 * and a broker process is never restarted this quickly after it started (the JVM's start alone
 * takes longer). */
#define RAFTSTART_SAME_PROCESS_MS 5000
#define RAFTSTART_STATE_MAX_BYTES 4096

#define RAFTSTART_SERIAL_MAX 80

struct raftstart_record {
        int64_t started_unix_ms;          /* the process's start (wall clock, ms) */
        struct carot_set trusts;          /* the CAs of ca.pem when it started */
        char serves[CAROT_FP_LEN];        /* the CA keystore.p12's leaf chained to ("" none) */
        /* That leaf itself, which the Raft client presents until the process restarts: a
         * renewal from the same CA reaches the listeners only (raftstart_leaf_due). "" / 0 when
         * the key store could not be read. */
        char leaf_serial[RAFTSTART_SERIAL_MAX];
        int64_t leaf_not_before, leaf_not_after;   /* seconds since the epoch */
};

struct raftstart_state {
        bool process_known;               /* a probe told when the running process started */
        int64_t started_unix_ms;
        bool current;                     /* it started after the stores were last written */
        bool known;                       /* what it started with: `with` */
        struct raftstart_record with;
        bool write;                       /* the record file should now hold `with` */
};

/* rec: the record file's content, or NULL when there is none (or it does not parse).
 * process_start_unix_ms < 0: no probe has told it. stores_mtime_ms: the newest modification
 * time of keystore.p12, truststore.p12 and ca.pem. disk_trusts / disk_serves: what those stores
 * hold now. */
void raftstart_observe(const struct raftstart_record *rec, int64_t process_start_unix_ms, int64_t stores_mtime_ms,
                       const struct carot_set *disk_trusts, const char *disk_serves, const char *disk_serial,
                       int64_t disk_not_before, int64_t disk_not_after, struct raftstart_state *ret);

/* The Raft client's leaf (what the process started with, known) has a sixth of its lifetime
 * left or less (at least an hour: RAFTSTART_RENEW_MIN_S), and the key store holds another
 * leaf, valid longer: the process should restart before the Raft client presents an expired
 * certificate. why says so. cert-manager renews at two thirds of the lifetime, so a broker
 * restarts about half-way between the renewal and the old leaf's expiry (15 days before it for
 * a 90-day leaf). */
#define RAFTSTART_RENEW_MIN_S 3600
bool raftstart_leaf_due(const struct raftstart_state *s, const char *disk_serial, int64_t disk_not_after,
                        int64_t now_unix, char *why, size_t whylen);

/* Whether two starts name the same process (RAFTSTART_SAME_PROCESS_MS). */
bool raftstart_same_process(int64_t a_unix_ms, int64_t b_unix_ms);

/* "kpa-raft-start 1\nstarted_unix_ms=N\ntrusts=FP[,FP...]\nserves=FP|-\nleaf=SERIAL|- NOTBEFORE NOTAFTER\n":
 * the length, or
 * -E2BIG when buf is too small, -EINVAL for a record that cannot be written. */
int raftstart_format(const struct raftstart_record *r, char *buf, size_t len);
/* Exactly that back: 0, or -EINVAL. */
int raftstart_parse(const char *text, size_t len, struct raftstart_record *ret);

#endif
