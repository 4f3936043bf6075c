/* Names of fileset_commit's temporaries (common/fsx.c fsx_is_temporary_name): kpa-init
 * deletes a stale file whose name it accepts, so it must accept exactly its own naming.
 *
 * Invariant: the answer agrees with an independent statement of the rule (fsx.h): '.', then a
 * name that neither is empty nor starts with '.', then ".kpa-tmp-", then either exactly 16
 * characters of 0-9 a-f or 1 to 10 of 0-9, and nothing after; the name may itself contain
 * ".kpa-tmp-". */
#include "fuzz.h"
#include "kpa/fsx.h"

static bool tail_ok(const char *t) {
        size_t n = strlen(t), hex = 0, dec = 0;
        for (size_t i = 0; i < n; i++) {
                hex += (t[i] >= '0' && t[i] <= '9') || (t[i] >= 'a' && t[i] <= 'f');
                dec += t[i] >= '0' && t[i] <= '9';
        }
        return (n == 16 && hex == n) || (n >= 1 && n <= 10 && dec == n);
}

static bool oracle(const char *s) {
        static const char mark[] = ".kpa-tmp-";
        size_t n = strlen(s), m = sizeof mark - 1;
        if (n < 2 || s[0] != '.' || s[1] == '.')
                return false;
        /* Try every split: the tail after the last mark decides, and the tail then holds no
         * mark (a tail of hex or digits never does). */
        for (size_t i = n; i-- > 1;) {
                if (i + m <= n && memcmp(s + i, mark, m) == 0)
                        return i > 1 && tail_ok(s + i + m);
        }
        return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct fz f = { data, size };
        size_t len;
        char *s = fz_rest(&f, &len);
        if (strlen(s) == len) {
                bool got = fsx_is_temporary_name(s);
                FUZZ_CHECK(got == oracle(s), "fsx_is_temporary_name(\"%s\") = %d", s, got);
        }
        free(s);
        return 0;
}
