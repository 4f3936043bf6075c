#include "kpa/kwire_logdirs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static bool version_ok(int16_t v) { return v == 3 || v == 4; }

int kwire_logdirs_encode_request(int16_t version, int32_t correlation_id, const char *client_id,
                                 uint8_t *buf, size_t cap, size_t *ret_len) {
        if (!version_ok(version))
                return -EINVAL;
        struct kwire_w w;
        kwire_w_init(&w, buf, cap);
        kwire_request_begin(&w, KWIRE_LOGDIRS_API_KEY, version, correlation_id, client_id, true);
        /* Topics: empty, not null. Null would list every partition the broker hosts. */
        kwire_put_compact_count(&w, 0);
        kwire_put_no_tags(&w);
        return kwire_frame_end(&w, ret_len);
}

/* The fewest bytes each repeated structure can take, so that a forged count is refused
 * before anything loops over it. */
#define PARTITION_MIN (4 + 8 + 8 + 1 + 1)
#define TOPIC_MIN (2 + 1 + 1)
static size_t result_min(int16_t version) { return 2 + 2 + 1 + (version >= 4 ? 16 : 0) + 1; }

static void read_topics(struct kwire_r *r, struct kwire_logdir *d) {
        uint32_t nt = kwire_get_compact_count(r, TOPIC_MIN, "Topics");
        for (uint32_t i = 0; i < nt && !r->failed; i++) {
                kwire_get_compact_string(r, false, "Topic Name");
                uint32_t np = kwire_get_compact_count(r, PARTITION_MIN, "Partitions");
                for (uint32_t j = 0; j < np && !r->failed; j++) {
                        kwire_get_i32(r, "PartitionIndex");
                        kwire_get_i64(r, "PartitionSize");
                        kwire_get_i64(r, "OffsetLag");
                        kwire_get_i8(r, "IsFutureKey");
                        kwire_skip_tags(r, "Partition tagged fields");
                }
                d->n_partitions += np;
                kwire_skip_tags(r, "Topic tagged fields");
        }
        d->n_topics = nt;
}

static void read_result(struct kwire_r *r, int16_t version, struct kwire_logdirs *ret) {
        struct kwire_logdir *d = &ret->dirs[ret->n_dirs];
        d->total_bytes = d->usable_bytes = -1;
        d->error_code = kwire_get_i16(r, "Result ErrorCode");
        size_t at = r->pos;
        struct kwire_str path = kwire_get_compact_string(r, false, "LogDir");
        if (r->failed)
                return;
        kwire_str_copy(path, d->path, sizeof d->path);
        d->path_cut = path.len >= sizeof d->path;
        for (int i = 0; i < ret->n_dirs; i++)
                if (strcmp(ret->dirs[i].path, d->path) == 0) {
                        kwire_r_fail(r, "the answer describes log dir \"%.200s\" twice (again at byte %zu)",
                                     d->path, at);
                        return;
                }
        read_topics(r, d);
        if (version >= 4) {
                d->total_bytes = kwire_get_i64(r, "TotalBytes");
                d->usable_bytes = kwire_get_i64(r, "UsableBytes");
        }
        kwire_skip_tags(r, "Result tagged fields");
        if (!r->failed)
                ret->n_dirs++;
}

int kwire_logdirs_decode_response(const uint8_t *frame, size_t len, int16_t version,
                                  int32_t correlation_id, struct kwire_logdirs *ret,
                                  char *errbuf, size_t errlen) {
        memset(ret, 0, sizeof *ret);
        if (!version_ok(version)) {
                snprintf(errbuf, errlen, "DescribeLogDirs version %d is not supported (3 or 4)", version);
                return -EINVAL;
        }
        struct kwire_r r;
        kwire_r_init(&r, frame, len);
        kwire_response_header(&r, correlation_id, true);
        ret->throttle_ms = kwire_get_i32(&r, "ThrottleTimeMs");
        ret->error_code = kwire_get_i16(&r, "ErrorCode");
        size_t at = r.pos;
        uint32_t n = kwire_get_compact_count(&r, result_min(version), "Results");
        if (n > KWIRE_LOGDIRS_MAX_DIRS)
                kwire_r_fail(&r, "Results at byte %zu lists %u log dirs (at most %d)", at, n,
                             KWIRE_LOGDIRS_MAX_DIRS);
        for (uint32_t i = 0; i < n && !r.failed; i++)
                read_result(&r, version, ret);
        kwire_skip_tags(&r, "response tagged fields");
        kwire_r_expect_end(&r);
        if (r.failed) {
                snprintf(errbuf, errlen, "malformed DescribeLogDirs v%d answer: %s", version, r.err);
                return -EPROTO;
        }
        return 0;
}

int kwire_logdirs_encode_response(const struct kwire_logdirs *d, int16_t version,
                                  int32_t correlation_id, uint8_t *buf, size_t cap,
                                  size_t *ret_len) {
        if (!version_ok(version) || d->n_dirs < 0 || d->n_dirs > KWIRE_LOGDIRS_MAX_DIRS)
                return -EINVAL;
        struct kwire_w w;
        kwire_w_init(&w, buf, cap);
        kwire_put_i32(&w, 0);                  /* size, filled in below */
        kwire_put_i32(&w, correlation_id);     /* response header v1 */
        kwire_put_no_tags(&w);
        kwire_put_i32(&w, d->throttle_ms);
        kwire_put_i16(&w, d->error_code);
        kwire_put_compact_count(&w, (uint32_t) d->n_dirs);
        for (int i = 0; i < d->n_dirs; i++) {
                kwire_put_i16(&w, d->dirs[i].error_code);
                kwire_put_compact_string(&w, d->dirs[i].path);
                kwire_put_compact_count(&w, 0);        /* Topics */
                if (version >= 4) {
                        kwire_put_i64(&w, d->dirs[i].total_bytes);
                        kwire_put_i64(&w, d->dirs[i].usable_bytes);
                }
                kwire_put_no_tags(&w);
        }
        kwire_put_no_tags(&w);
        return kwire_frame_end(&w, ret_len);
}
