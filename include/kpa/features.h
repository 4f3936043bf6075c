/* Whether the cluster's finalized feature levels lag what the local broker's software
 * supports, from the broker's ApiVersions answer (kwire_features.h). Pure: no sockets, no
 * clock reads.
 *
 * After a rolling upgrade every broker runs the new software, but the cluster keeps the old
 * finalized metadata.version (and the other features) until an operator finalizes them with
 * kafka-features.sh; until then the new release's metadata changes stay off, and a downgrade
 * is still possible. kpa shows the difference; it never affects readiness or the stop gate.
 *
 * Each feature the answer names (supported by this broker's software, finalized, or both):
 *   finalized      the cluster's level; 0 when not finalized (Kafka lists no level 0)
 *   supported_max  the highest level this broker's software supports; -1 when it lists none
 *   lags           finalized < supported_max
 * Finalization is pending when metadata.version lags, or a feature already enabled (finalized
 * at 1 or more) lags. A feature at level 0 that lags is an opt-in, never part of finishing an
 * upgrade: kraft.version 0 -> 1 turns a static quorum (controller.quorum.voters) into a
 * dynamic one, share.version and streams.version turn on new group protocols. So the hint
 * names each pending feature with its level (`--feature NAME=LEVEL`), never
 * `--release-version`, which would raise those opt-ins as well. */
#ifndef KPA_FEATURES_H
#define KPA_FEATURES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kpa/kwire_features.h"

/* Every name of both lists fits. */
#define FEATURES_MAX (2 * KWIRE_FEATURES_MAX)
#define FEATURES_REASON_MAX 512
#define FEATURES_METADATA_VERSION "metadata.version"
#define FEATURES_KRAFT_VERSION "kraft.version"

struct feature_state {
        char name[KWIRE_FEATURE_NAME_MAX + 1];
        int16_t finalized;
        int16_t supported_min;       /* -1 when the software lists no range */
        int16_t supported_max;
        bool lags;
        bool pending;                /* lags and is part of finalizing an upgrade (above) */
};

struct features_view {
        bool known;                          /* an answer was assessed */
        char unknown_reason[FEATURES_REASON_MAX];
        int64_t epoch;                       /* FinalizedFeaturesEpoch; -1: not given */
        int64_t fetched_unix_ms;             /* when the answer came (the caller's clock) */
        int n;                               /* sorted by name */
        struct feature_state v[FEATURES_MAX];
        int n_pending;
};

/* Assesses an answer without an error (f->error_code NONE). */
void features_assess(const struct kwire_features *f, int64_t now_unix_ms,
                     struct features_view *ret);
/* An unknown view with the reason. */
void features_unknown(struct features_view *ret, const char *reason);
const struct feature_state *features_find(const struct features_view *v, const char *name);

/* The finalization command for the pending features, e.g.
 * "kafka-features.sh --bootstrap-server kafka-0.kafka-headless:9092 upgrade
 * --feature metadata.version=33", into buf ("" when nothing is pending or the view is
 * unknown). Cut to fit; returns false when it did not fit. */
bool features_command(const struct features_view *v, const char *bootstrap, char *buf,
                      size_t cap);

#endif
