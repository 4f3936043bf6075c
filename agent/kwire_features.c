#include "kpa/kwire_features.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static bool version_ok(int16_t v) { return v == 3 || v == 4; }

/* Kafka's rule for ClientSoftwareName and ClientSoftwareVersion (ApiVersionsRequest.isValid):
 * a broker answers INVALID_REQUEST to anything else, so it is refused here instead. */
static bool software_text_ok(const char *s) {
        size_t n = s ? strlen(s) : 0;
        if (n == 0 || n > 64)
                return false;
        for (size_t i = 0; i < n; i++) {
                char c = s[i];
                bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
                if (!alnum && ((c != '.' && c != '-') || i == 0 || i == n - 1))
                        return false;
        }
        return true;
}

int kwire_features_encode_request(int16_t version, int32_t correlation_id, const char *client_id,
                                  const char *software_name, const char *software_version,
                                  uint8_t *buf, size_t cap, size_t *ret_len) {
        if (!version_ok(version) || !software_text_ok(software_name) ||
            !software_text_ok(software_version))
                return -EINVAL;
        struct kwire_w w;
        kwire_w_init(&w, buf, cap);
        kwire_request_begin(&w, KWIRE_FEATURES_API_KEY, version, correlation_id, client_id, true);
        kwire_put_compact_string(&w, software_name);
        kwire_put_compact_string(&w, software_version);
        kwire_put_no_tags(&w);
        return kwire_frame_end(&w, ret_len);
}

/* The fewest bytes each repeated structure can take, so that a forged count is refused
 * before anything loops over it. */
#define API_KEY_MIN (2 + 2 + 2 + 1)
#define FEATURE_MIN (1 + 2 + 2 + 1)   /* an empty name's one-byte length, two int16s, tags */

const struct kwire_feature *kwire_features_find(const struct kwire_feature *v, int n,
                                                const char *name) {
        for (int i = 0; i < n; i++)
                if (strcmp(v[i].name, name) == 0)
                        return &v[i];
        return NULL;
}

/* One feature list (SupportedFeatures or FinalizedFeatures): names are checked for what the
 * agent relies on (non-empty, printable, short, unique), the first KWIRE_FEATURES_MAX kept. */
static void read_feature_list(struct kwire_r *r, bool finalized, int *ret_n, int *ret_kept,
                              struct kwire_feature *v) {
        const char *list = finalized ? "FinalizedFeatures" : "SupportedFeatures";
        uint32_t n = kwire_get_compact_count(r, FEATURE_MIN, list);
        int kept = 0;
        for (uint32_t i = 0; i < n && !r->failed; i++) {
                size_t at = r->pos;
                struct kwire_str name = kwire_get_compact_string(r, false, "Name");
                struct kwire_feature f;
                memset(&f, 0, sizeof f);
                if (finalized) {
                        f.max = kwire_get_i16(r, "MaxVersionLevel");
                        f.min = kwire_get_i16(r, "MinVersionLevel");
                } else {
                        f.min = kwire_get_i16(r, "MinVersion");
                        f.max = kwire_get_i16(r, "MaxVersion");
                }
                kwire_skip_tags(r, finalized ? "FinalizedFeatureKey tagged fields"
                                             : "SupportedFeatureKey tagged fields");
                if (r->failed)
                        break;
                if (name.len == 0 || name.len > KWIRE_FEATURE_NAME_MAX) {
                        kwire_r_fail(r, "%s: the name at byte %zu is %zu bytes long (1 to %d)",
                                     list, at, name.len, KWIRE_FEATURE_NAME_MAX);
                        break;
                }
                kwire_str_copy(name, f.name, sizeof f.name);
                if (f.min > f.max || (finalized && f.max < 1) || (!finalized && f.min < 0)) {
                        kwire_r_fail(r, "%s: %s at byte %zu has the range %d-%d", list, f.name,
                                     at, f.min, f.max);
                        break;
                }
                /* Kafka keys both lists by name; the kept ones are checked for a repeat (a
                 * repeat past the kept ones cannot mislead the agent, which never sees it). */
                if (kwire_features_find(v, kept, f.name)) {
                        kwire_r_fail(r, "%s lists %s twice (again at byte %zu)", list, f.name, at);
                        break;
                }
                if (kept < KWIRE_FEATURES_MAX)
                        v[kept++] = f;
        }
        *ret_n = (int) n;
        *ret_kept = kept;
}

/* The answer's tagged section, where the feature fields live. Each field is read from its own
 * bytes (a reader over exactly its size), so a field must fill its size, no more, no less. */
static void read_body_tags(struct kwire_r *r, struct kwire_features *f) {
        size_t at = r->pos;
        uint32_t n = kwire_get_uvarint(r, "response tagged fields");
        if (!r->failed && n > (r->len - r->pos) / 2) {
                kwire_r_fail(r, "response tagged fields at byte %zu: %u fields cannot fit in the "
                             "%zu bytes left", at, n, r->len - r->pos);
                return;
        }
        int64_t last = -1;
        for (uint32_t i = 0; i < n && !r->failed; i++) {
                size_t tag_at = r->pos;
                uint32_t tag = kwire_get_uvarint(r, "tag");
                uint32_t size = kwire_get_uvarint(r, "tag size");
                if (r->failed)
                        return;
                if ((int64_t) tag <= last) {
                        kwire_r_fail(r, "response tagged fields at byte %zu: tag %u follows tag "
                                     "%lld (tags must increase)", tag_at, tag, (long long) last);
                        return;
                }
                last = tag;
                if (size > r->len - r->pos) {
                        kwire_r_fail(r, "tag %u at byte %zu: %u bytes, only %zu left", tag,
                                     tag_at, size, r->len - r->pos);
                        return;
                }
                struct kwire_r sub;
                kwire_r_init(&sub, r->p + r->pos, size);
                switch (tag) {
                case 0:
                        read_feature_list(&sub, false, &f->n_supported, &f->n_supported_kept,
                                          f->supported);
                        break;
                case 1:
                        f->finalized_epoch = kwire_get_i64(&sub, "FinalizedFeaturesEpoch");
                        if (!sub.failed && f->finalized_epoch < 0)
                                kwire_r_fail(&sub, "FinalizedFeaturesEpoch is %lld",
                                             (long long) f->finalized_epoch);
                        break;
                case 2:
                        read_feature_list(&sub, true, &f->n_finalized, &f->n_finalized_kept,
                                          f->finalized);
                        break;
                case 3:
                        f->zk_migration_ready = kwire_get_i8(&sub, "ZkMigrationReady") != 0;
                        break;
                default:
                        /* A field added after Kafka 4.4: skipped, as Kafka's own readers do. */
                        kwire_skip(&sub, size, "unknown tagged field");
                        break;
                }
                kwire_r_expect_end(&sub);
                if (sub.failed) {
                        kwire_r_fail(r, "tag %u (content from byte %zu): %s", tag, r->pos, sub.err);
                        return;
                }
                kwire_skip(r, size, "tag content");
        }
}

int kwire_features_decode_response(const uint8_t *frame, size_t len, int16_t version,
                                   int32_t correlation_id, struct kwire_features *ret,
                                   char *errbuf, size_t errlen) {
        memset(ret, 0, sizeof *ret);
        ret->finalized_epoch = -1;
        if (!version_ok(version)) {
                snprintf(errbuf, errlen, "ApiVersions version %d is not supported (3 or 4)",
                         version);
                return -EINVAL;
        }
        struct kwire_r r;
        kwire_r_init(&r, frame, len);
        /* Header v0 at every version: see kwire_features.h. */
        kwire_response_header(&r, correlation_id, false);
        ret->error_code = kwire_get_i16(&r, "ErrorCode");
        if (!r.failed && ret->error_code != KWIRE_ERR_NONE)
                return 0;
        uint32_t n = kwire_get_compact_count(&r, API_KEY_MIN, "ApiKeys");
        for (uint32_t i = 0; i < n && !r.failed; i++) {
                kwire_get_i16(&r, "ApiKey");
                kwire_get_i16(&r, "MinVersion");
                kwire_get_i16(&r, "MaxVersion");
                kwire_skip_tags(&r, "ApiVersion tagged fields");
        }
        ret->n_api_keys = (int) n;
        kwire_get_i32(&r, "ThrottleTimeMs");
        read_body_tags(&r, ret);
        kwire_r_expect_end(&r);
        if (r.failed) {
                snprintf(errbuf, errlen, "malformed ApiVersions v%d answer: %s", version, r.err);
                return -EPROTO;
        }
        return 0;
}

static void put_list(struct kwire_w *w, const struct kwire_feature *v, int n, bool finalized) {
        kwire_put_compact_count(w, (uint32_t) n);
        for (int i = 0; i < n; i++) {
                kwire_put_compact_string(w, v[i].name);
                kwire_put_i16(w, finalized ? v[i].max : v[i].min);
                kwire_put_i16(w, finalized ? v[i].min : v[i].max);
                kwire_put_no_tags(w);
        }
}

/* Writes one tagged field: its content is first written to a scratch buffer, since the size
 * comes before it. */
static void put_tag(struct kwire_w *w, uint32_t tag, const uint8_t *content, size_t n) {
        kwire_put_uvarint(w, tag);
        kwire_put_uvarint(w, (uint32_t) n);
        kwire_put_raw(w, content, n);
}

int kwire_features_encode_response(const struct kwire_features *f, int16_t version,
                                   int32_t correlation_id, uint8_t *buf, size_t cap,
                                   size_t *ret_len) {
        if (!version_ok(version) || f->n_supported_kept < 0 ||
            f->n_supported_kept > KWIRE_FEATURES_MAX || f->n_finalized_kept < 0 ||
            f->n_finalized_kept > KWIRE_FEATURES_MAX)
                return -EINVAL;
        struct kwire_w w;
        kwire_w_init(&w, buf, cap);
        kwire_put_i32(&w, 0);                  /* size, filled in below */
        kwire_put_i32(&w, correlation_id);     /* response header v0 */
        kwire_put_i16(&w, f->error_code);
        kwire_put_compact_count(&w, 0);        /* ApiKeys */
        kwire_put_i32(&w, 0);                  /* ThrottleTimeMs */
        uint32_t ntags = (f->n_supported_kept > 0) + (f->finalized_epoch >= 0) +
                         (f->n_finalized_kept > 0) + f->zk_migration_ready;
        kwire_put_uvarint(&w, ntags);
        /* Each list holds at most KWIRE_FEATURES_MAX names of at most KWIRE_FEATURE_NAME_MAX
         * bytes: 32 x 72 bytes fit. */
        uint8_t scratch[KWIRE_FEATURES_MAX * (KWIRE_FEATURE_NAME_MAX + 8) + 8];
        struct kwire_w s;
        size_t n;
        if (f->n_supported_kept > 0) {
                kwire_w_init(&s, scratch, sizeof scratch);
                put_list(&s, f->supported, f->n_supported_kept, false);
                n = s.len;
                if (s.overflow)
                        return -E2BIG;
                put_tag(&w, 0, scratch, n);
        }
        if (f->finalized_epoch >= 0) {
                kwire_w_init(&s, scratch, sizeof scratch);
                kwire_put_i64(&s, f->finalized_epoch);
                put_tag(&w, 1, scratch, s.len);
        }
        if (f->n_finalized_kept > 0) {
                kwire_w_init(&s, scratch, sizeof scratch);
                put_list(&s, f->finalized, f->n_finalized_kept, true);
                n = s.len;
                if (s.overflow)
                        return -E2BIG;
                put_tag(&w, 2, scratch, n);
        }
        if (f->zk_migration_ready) {
                uint8_t one = 1;
                put_tag(&w, 3, &one, 1);
        }
        return kwire_frame_end(&w, ret_len);
}
