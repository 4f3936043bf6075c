/* DescribeLogDirs answers (agent/kwire_logdirs.c, over the primitives of agent/kwire.c).
 *
 * Input: one mode byte, then either a raw answer frame (even modes) or values that build an
 * answer (odd modes). Bit 1 of the mode picks version 3 or 4.
 * Invariants, raw frames: decoding never reads past the bytes given (ASan); success yields at
 * most KWIRE_LOGDIRS_MAX_DIRS dirs with printable, NUL-terminated, distinct paths, and an
 * answer that re-encodes and decodes to itself (partitions aside: they are only counted);
 * failure yields one printable line that names the call. Built answers: decode(encode(d)) ==
 * d field by field, and every shorter cut of the frame is refused. */
#include <errno.h>

#include "fuzz.h"
#include "kpa/kwire_logdirs.h"

static struct kwire_logdirs d1, d2;
static uint8_t frame[256 * 1024];

static void check_text(const char *s, size_t cap) {
        FUZZ_CHECK(memchr(s, '\0', cap) != NULL, "unterminated text");
        for (const char *p = s; *p; p++)
                FUZZ_CHECK((unsigned char) *p >= 0x20 && *p != 0x7f, "control byte in \"%s\"", s);
}

static void check_same(const struct kwire_logdirs *a, const struct kwire_logdirs *b, int16_t v) {
        FUZZ_CHECK(a->error_code == b->error_code, "error");
        FUZZ_CHECK(a->throttle_ms == b->throttle_ms, "throttle");
        FUZZ_CHECK(a->n_dirs == b->n_dirs, "dirs %d != %d", a->n_dirs, b->n_dirs);
        for (int i = 0; i < a->n_dirs; i++) {
                FUZZ_CHECK(strcmp(a->dirs[i].path, b->dirs[i].path) == 0, "path");
                FUZZ_CHECK(a->dirs[i].error_code == b->dirs[i].error_code, "dir error");
                if (v >= 4) {
                        FUZZ_CHECK(a->dirs[i].total_bytes == b->dirs[i].total_bytes, "total");
                        FUZZ_CHECK(a->dirs[i].usable_bytes == b->dirs[i].usable_bytes, "usable");
                }
        }
}

static void round_trip(const struct kwire_logdirs *d, int16_t v, bool cuts) {
        size_t len;
        char err[512];
        int r = kwire_logdirs_encode_response(d, v, 42, frame, sizeof frame, &len);
        FUZZ_CHECK(r == 0, "encode failed: %d", r);
        r = kwire_logdirs_decode_response(frame + 4, len - 4, v, 42, &d2, err, sizeof err);
        FUZZ_CHECK(r == 0, "own encoding refused: %s", err);
        check_same(d, &d2, v);
        if (!cuts)
                return;
        for (size_t n = 0; n < len - 4; n += 1 + n / 8) {
                r = kwire_logdirs_decode_response(frame + 4, n, v, 42, &d2, err, sizeof err);
                FUZZ_CHECK(r == -EPROTO, "a cut to %zu of %zu bytes gave %d", n, len - 4, r);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        uint8_t mode = data[0];
        int16_t v = mode & 2 ? 4 : 3;
        data++;
        size--;
        char err[512] = "";
        if (!(mode & 1)) {
                int32_t corr = size >= 4 ? (int32_t) ((uint32_t) data[0] << 24 | (uint32_t) data[1] << 16 |
                                                      (uint32_t) data[2] << 8 | data[3]) : 0;
                int r = kwire_logdirs_decode_response(data, size, v, corr, &d1, err, sizeof err);
                if (r != 0) {
                        FUZZ_CHECK(r == -EPROTO, "unexpected %d", r);
                        FUZZ_CHECK(strncmp(err, "malformed DescribeLogDirs v", 27) == 0, "%s", err);
                        check_text(err, sizeof err);
                        return 0;
                }
                FUZZ_CHECK(d1.n_dirs >= 0 && d1.n_dirs <= KWIRE_LOGDIRS_MAX_DIRS, "%d dirs", d1.n_dirs);
                for (int i = 0; i < d1.n_dirs; i++) {
                        check_text(d1.dirs[i].path, sizeof d1.dirs[i].path);
                        for (int j = 0; j < i; j++)
                                FUZZ_CHECK(strcmp(d1.dirs[i].path, d1.dirs[j].path) != 0, "dir twice");
                        if (v < 4)
                                FUZZ_CHECK(d1.dirs[i].total_bytes == -1 && d1.dirs[i].usable_bytes == -1, "v3 sizes");
                }
                round_trip(&d1, v, false);
                return 0;
        }
        struct fz f = { data, size };
        memset(&d1, 0, sizeof d1);
        d1.error_code = (int16_t) fz_range(&f, -1, 100);
        d1.throttle_ms = (int32_t) fz_u32(&f);
        d1.n_dirs = (int) fz_range(&f, 0, 8);
        for (int i = 0; i < d1.n_dirs; i++) {
                struct kwire_logdir *d = &d1.dirs[i];
                /* Distinct printable paths: the index makes each one unique. */
                char *s = fz_str(&f, 40);
                size_t n = (size_t) snprintf(d->path, sizeof d->path, "/%d/", i);
                for (const char *p = s; *p && n < sizeof d->path - 1; p++)
                        if ((unsigned char) *p >= 0x20 && *p != 0x7f)
                                d->path[n++] = *p;
                d->path[n] = '\0';
                free(s);
                d->error_code = (int16_t) fz_range(&f, -1, 100);
                d->total_bytes = v >= 4 ? (int64_t) fz_u64(&f) : -1;
                d->usable_bytes = v >= 4 ? (int64_t) fz_u64(&f) : -1;
        }
        round_trip(&d1, v, true);
        return 0;
}
