/* DescribeQuorum answers (agent/kwire_quorum.c, over the primitives of agent/kwire.c).
 *
 * Input: one mode byte, then either a raw answer frame (even modes) or values that build a
 * quorum description (odd modes). Bit 1 of the mode picks version 1 or 2.
 * Invariants, raw frames: decoding never reads past the bytes given (ASan); success yields
 * counts within their bounds, kept observers = min(listed, KWIRE_QUORUM_MAX_OBSERVERS),
 * printable NUL-terminated messages, a partition whenever there is no top-level error, and a
 * description that re-encodes and decodes to itself; failure yields one printable line that
 * names the call. Built descriptions: decode(encode(q)) == q field by field, and every
 * shorter cut of the frame is refused. */
#include <errno.h>

#include "fuzz.h"
#include "kpa/kwire_quorum.h"

static struct kwire_quorum q1, q2;
static uint8_t frame[KWIRE_QUORUM_RESPONSE_MAX];

static void check_text(const char *s, size_t cap) {
        FUZZ_CHECK(memchr(s, '\0', cap) != NULL, "unterminated text");
        for (const char *p = s; *p; p++)
                FUZZ_CHECK((unsigned char) *p >= 0x20 && *p != 0x7f, "control byte in \"%s\"", s);
}

static void check_replica_eq(const struct kwire_replica *a, const struct kwire_replica *b, int16_t v) {
        FUZZ_CHECK(a->id == b->id, "id %d != %d", a->id, b->id);
        FUZZ_CHECK(a->log_end_offset == b->log_end_offset, "leo");
        FUZZ_CHECK(a->last_fetch_ms == b->last_fetch_ms, "fetch");
        FUZZ_CHECK(a->last_caught_up_ms == b->last_caught_up_ms, "caught up");
        if (v >= 2)
                FUZZ_CHECK(memcmp(a->directory_id, b->directory_id, 16) == 0, "directory id");
}

static void check_same(const struct kwire_quorum *a, const struct kwire_quorum *b, int16_t v) {
        FUZZ_CHECK(a->error_code == b->error_code, "error");
        FUZZ_CHECK(a->have_partition == b->have_partition, "partition");
        if (v >= 2)
                FUZZ_CHECK(strcmp(a->error_message, b->error_message) == 0, "message");
        if (!a->have_partition)
                return;
        if (v >= 2)
                FUZZ_CHECK(strcmp(a->partition_error_message, b->partition_error_message) == 0, "message");
        FUZZ_CHECK(a->partition_error_code == b->partition_error_code, "partition error");
        FUZZ_CHECK(a->leader_id == b->leader_id && a->leader_epoch == b->leader_epoch, "leader");
        FUZZ_CHECK(a->high_watermark == b->high_watermark, "hw");
        FUZZ_CHECK(a->n_voters == b->n_voters, "voters %d != %d", a->n_voters, b->n_voters);
        for (int i = 0; i < a->n_voters; i++)
                check_replica_eq(&a->voters[i], &b->voters[i], v);
        FUZZ_CHECK(a->n_observers_kept == b->n_observers_kept, "observers kept");
        for (int i = 0; i < a->n_observers_kept; i++)
                check_replica_eq(&a->observers[i], &b->observers[i], v);
}

static void round_trip(const struct kwire_quorum *q, int16_t v, bool cuts) {
        size_t len;
        char err[512];
        int r = kwire_quorum_encode_response(q, v, 42, frame, sizeof frame, &len);
        FUZZ_CHECK(r == 0, "encode failed: %d", r);
        r = kwire_quorum_decode_response(frame + 4, len - 4, v, 42, &q2, err, sizeof err);
        FUZZ_CHECK(r == 0, "own encoding refused: %s", err);
        check_same(q, &q2, v);
        if (!cuts)
                return;
        for (size_t n = 0; n < len - 4; n += 1 + n / 8) {
                r = kwire_quorum_decode_response(frame + 4, n, v, 42, &q2, err, sizeof err);
                FUZZ_CHECK(r == -EPROTO, "a cut to %zu of %zu bytes gave %d", n, len - 4, r);
        }
}

static void fill_replica(struct fz *f, struct kwire_replica *rs) {
        rs->id = (int32_t) fz_u32(f);
        for (int i = 0; i < 16; i++)
                rs->directory_id[i] = fz_u8(f);
        rs->log_end_offset = (int64_t) fz_u64(f);
        rs->last_fetch_ms = (int64_t) fz_u64(f);
        rs->last_caught_up_ms = (int64_t) fz_u64(f);
}

static void fill_text(struct fz *f, char *buf, size_t cap) {
        char *s = fz_str(f, cap - 1);
        /* Decoded messages are printable; only such text survives the round trip as is. */
        size_t n = 0;
        for (const char *p = s; *p; p++)
                if ((unsigned char) *p >= 0x20 && *p != 0x7f)
                        buf[n++] = *p;
        buf[n] = '\0';
        free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        uint8_t mode = data[0];
        int16_t v = mode & 2 ? 2 : 1;
        data++;
        size--;
        char err[512] = "";
        if (!(mode & 1)) {
                int32_t corr = size >= 4 ? (int32_t) ((uint32_t) data[0] << 24 | (uint32_t) data[1] << 16 |
                                                      (uint32_t) data[2] << 8 | data[3]) : 0;
                int r = kwire_quorum_decode_response(data, size, v, corr, &q1, err, sizeof err);
                if (r != 0) {
                        FUZZ_CHECK(r == -EPROTO, "unexpected %d", r);
                        FUZZ_CHECK(strncmp(err, "malformed DescribeQuorum v", 26) == 0, "%s", err);
                        check_text(err, sizeof err);
                        return 0;
                }
                FUZZ_CHECK(q1.n_voters >= 0 && q1.n_voters <= KWIRE_QUORUM_MAX_VOTERS, "%d voters", q1.n_voters);
                FUZZ_CHECK(q1.n_observers >= 0, "observers");
                FUZZ_CHECK(q1.n_observers_kept == (q1.n_observers < KWIRE_QUORUM_MAX_OBSERVERS
                                                   ? q1.n_observers : KWIRE_QUORUM_MAX_OBSERVERS), "kept");
                FUZZ_CHECK(q1.error_code != 0 || q1.have_partition, "no error and no partition");
                check_text(q1.error_message, sizeof q1.error_message);
                check_text(q1.partition_error_message, sizeof q1.partition_error_message);
                round_trip(&q1, v, false);
                return 0;
        }
        struct fz f = { data, size };
        memset(&q1, 0, sizeof q1);
        q1.error_code = (int16_t) fz_range(&f, -1, 100);
        q1.have_partition = q1.error_code == 0 || fz_bool(&f);
        if (v >= 2)
                fill_text(&f, q1.error_message, 64);
        q1.partition_error_code = (int16_t) fz_range(&f, -1, 100);
        if (v >= 2)
                fill_text(&f, q1.partition_error_message, 64);
        q1.leader_id = (int32_t) fz_u32(&f);
        q1.leader_epoch = (int32_t) fz_u32(&f);
        q1.high_watermark = (int64_t) fz_u64(&f);
        q1.n_voters = (int) fz_range(&f, 0, KWIRE_QUORUM_MAX_VOTERS);
        for (int i = 0; i < q1.n_voters; i++)
                fill_replica(&f, &q1.voters[i]);
        q1.n_observers = q1.n_observers_kept = (int) fz_range(&f, 0, 8);
        for (int i = 0; i < q1.n_observers_kept; i++)
                fill_replica(&f, &q1.observers[i]);
        round_trip(&q1, v, true);
        return 0;
}
