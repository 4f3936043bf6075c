/* ApiVersions answers read for their feature fields (agent/kwire_features.c), as the local
 * broker sends them to the agent's feature probe (agent/featprobe.c), and the lag assessment
 * over them (agent/features.c).
 *
 * Input: one mode byte (bit 0: version 3 or 4), then the answer frame; its first four bytes
 * are taken as the expected correlation id.
 * Invariants: no read past the input (ASan); success without an error code gives kept names
 * that are non-empty, printable, NUL-terminated and unique, supported ranges with
 * 0 <= min <= max, finalized levels >= 1, at most KWIRE_FEATURES_MAX kept of as many listed;
 * encoding what was kept and decoding it again gives the same features; the assessment names
 * each feature once, and "pending" only for lagging ones; failure gives one printable line. */
#include <errno.h>

#include "fuzz.h"
#include "kpa/features.h"
#include "kpa/kwire_features.h"

static void check_text(const char *s, size_t cap) {
        FUZZ_CHECK(memchr(s, '\0', cap) != NULL, "unterminated text");
        for (const char *p = s; *p; p++)
                FUZZ_CHECK((unsigned char) *p >= 0x20 && *p != 0x7f, "control byte in \"%s\"", s);
}

static void check_list(const struct kwire_feature *v, int kept, int n, bool finalized) {
        FUZZ_CHECK(kept >= 0 && kept <= KWIRE_FEATURES_MAX && kept <= n, "kept %d of %d", kept, n);
        for (int i = 0; i < kept; i++) {
                check_text(v[i].name, sizeof v[i].name);
                FUZZ_CHECK(v[i].name[0] != '\0', "empty name");
                FUZZ_CHECK(v[i].min <= v[i].max, "%s: %d > %d", v[i].name, v[i].min, v[i].max);
                FUZZ_CHECK(finalized ? v[i].max >= 1 : v[i].min >= 0, "%s: %d-%d", v[i].name, v[i].min, v[i].max);
                for (int j = 0; j < i; j++)
                        FUZZ_CHECK(strcmp(v[i].name, v[j].name) != 0, "%s twice", v[i].name);
        }
}

static void same_list(const struct kwire_feature *a, const struct kwire_feature *b, int n) {
        for (int i = 0; i < n; i++)
                FUZZ_CHECK(strcmp(a[i].name, b[i].name) == 0 && a[i].min == b[i].min && a[i].max == b[i].max,
                           "round trip changed %s", a[i].name);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        int16_t version = data[0] & 1 ? 4 : 3;
        data++;
        size--;
        int32_t corr = size >= 4 ? (int32_t) ((uint32_t) data[0] << 24 | (uint32_t) data[1] << 16 |
                                              (uint32_t) data[2] << 8 | data[3]) : 0;
        static struct kwire_features f, back;
        char err[512] = "";
        int r = kwire_features_decode_response(data, size, version, corr, &f, err, sizeof err);
        if (r < 0) {
                FUZZ_CHECK(r == -EPROTO, "r %d", r);
                FUZZ_CHECK(strncmp(err, "malformed ApiVersions v", 23) == 0, "%s", err);
                check_text(err, sizeof err);
                return 0;
        }
        if (f.error_code != 0)
                return 0;
        check_list(f.supported, f.n_supported_kept, f.n_supported, false);
        check_list(f.finalized, f.n_finalized_kept, f.n_finalized, true);
        FUZZ_CHECK(f.finalized_epoch >= -1, "epoch %lld", (long long) f.finalized_epoch);

        static uint8_t buf[8192];
        size_t len;
        FUZZ_CHECK(kwire_features_encode_response(&f, version, corr, buf, sizeof buf, &len) == 0, "re-encode");
        FUZZ_CHECK(kwire_features_decode_response(buf + 4, len - 4, version, corr, &back, err, sizeof err) == 0, "%s", err);
        FUZZ_CHECK(back.n_supported == f.n_supported_kept && back.n_finalized == f.n_finalized_kept,
                   "counts %d %d", back.n_supported, back.n_finalized);
        FUZZ_CHECK(back.finalized_epoch == f.finalized_epoch && back.zk_migration_ready == f.zk_migration_ready, "scalars");
        same_list(f.supported, back.supported, f.n_supported_kept);
        same_list(f.finalized, back.finalized, f.n_finalized_kept);

        static struct features_view v;
        features_assess(&f, 0, &v);
        FUZZ_CHECK(v.known && v.n <= f.n_supported_kept + f.n_finalized_kept, "n %d", v.n);
        int pending = 0;
        for (int i = 0; i < v.n; i++) {
                FUZZ_CHECK(!v.v[i].pending || v.v[i].lags, "%s pending without lag", v.v[i].name);
                FUZZ_CHECK(v.v[i].lags == (v.v[i].supported_max >= 0 && v.v[i].finalized < v.v[i].supported_max), "%s lags", v.v[i].name);
                pending += v.v[i].pending;
                if (i > 0)
                        FUZZ_CHECK(strcmp(v.v[i - 1].name, v.v[i].name) < 0, "unsorted or twice: %s", v.v[i].name);
        }
        FUZZ_CHECK(pending == v.n_pending, "pending %d != %d", pending, v.n_pending);
        char cmd[8192];
        FUZZ_CHECK(features_command(&v, "b:1", cmd, sizeof cmd), "command did not fit");
        FUZZ_CHECK((cmd[0] != '\0') == (v.n_pending > 0), "command \"%s\" with %d pending", cmd, v.n_pending);
        check_text(cmd, sizeof cmd);
        return 0;
}
