/* Strict number, duration and boolean parsing (common/parse.c).
 *
 * The first bytes choose the bounds, the rest is the string. Invariants:
 * - success means the string is exactly a decimal number (u64: digits only; i64: an optional
 *   '-' then digits) whose value, printed back without leading zeros, is the string itself
 *   with its leading zeros removed, and which lies within [min, max];
 * - -ERANGE only for a well-formed number outside the bounds (or beyond 64 bits), -EINVAL
 *   for anything else; on failure *ret is untouched;
 * - a parsed duration is at most max_ms, and format_duration_ms prints it so that
 *   parse_duration_ms reads back the same number of milliseconds;
 * - parse_bool accepts exactly true/false/1/0/yes/no/on/off, in any case. */
#include <errno.h>
#include <inttypes.h>
#include <strings.h>

#include "fuzz.h"
#include "kpa/parse.h"

#define SENTINEL 0x5a5a5a5a5a5a5a5aull

/* The digits of s without leading zeros ("0" stays "0"). */
static const char *strip_zeros(const char *s) {
        while (s[0] == '0' && s[1] >= '0' && s[1] <= '9')
                s++;
        return s;
}

static bool all_digits(const char *s) {
        if (!*s)
                return false;
        for (; *s; s++)
                if (*s < '0' || *s > '9')
                        return false;
        return true;
}

static void check_u64(const char *s, uint64_t min, uint64_t max) {
        uint64_t v = SENTINEL, full = SENTINEL;
        int r = parse_u64(s, min, max, &v);
        int rf = parse_u64(s, 0, UINT64_MAX, &full);
        if (r == 0) {
                char back[32];
                snprintf(back, sizeof back, "%" PRIu64, v);
                FUZZ_CHECK(all_digits(s) && strcmp(back, strip_zeros(s)) == 0,
                           "\"%s\" parsed as %s", s, back);
                FUZZ_CHECK(v >= min && v <= max, "%" PRIu64 " outside [%" PRIu64 ", %" PRIu64 "]",
                           v, min, max);
        } else {
                FUZZ_CHECK(v == SENTINEL, "*ret written on failure");
                FUZZ_CHECK(r == -EINVAL || r == -ERANGE, "error %d", r);
                if (rf == 0)
                        FUZZ_CHECK(r == -ERANGE && (full < min || full > max),
                                   "\"%s\" refused with %d though %" PRIu64 " is in range", s, r, full);
                if (r == -EINVAL)
                        FUZZ_CHECK(!all_digits(s), "digits \"%s\" refused as -EINVAL", s);
        }
}

static void check_i64(const char *s, int64_t min, int64_t max) {
        int64_t v = (int64_t) SENTINEL;
        int r = parse_i64(s, min, max, &v);
        if (r == 0) {
                char back[32];
                snprintf(back, sizeof back, "%" PRId64, v);
                bool neg = s[0] == '-';
                const char *digits = strip_zeros(neg ? s + 1 : s);
                bool minus = neg && strcmp(digits, "0") != 0;
                FUZZ_CHECK(all_digits(neg ? s + 1 : s) && (back[0] == '-') == minus &&
                           strcmp(back + minus, digits) == 0, "\"%s\" parsed as %s", s, back);
                FUZZ_CHECK(v >= min && v <= max, "%" PRId64 " outside bounds", v);
        } else {
                FUZZ_CHECK(v == (int64_t) SENTINEL, "*ret written on failure");
                FUZZ_CHECK(r == -EINVAL || r == -ERANGE, "error %d", r);
        }
}

static void check_duration(const char *s, uint64_t max_ms) {
        uint64_t ms = SENTINEL;
        int r = parse_duration_ms(s, max_ms, &ms);
        if (r < 0) {
                FUZZ_CHECK(ms == SENTINEL, "*ret_ms written on failure");
                FUZZ_CHECK(r == -EINVAL || r == -ERANGE, "error %d", r);
                return;
        }
        FUZZ_CHECK(ms <= max_ms, "\"%s\" = %" PRIu64 "ms above %" PRIu64, s, ms, max_ms);
        char text[48];
        format_duration_ms(ms, text, sizeof text);
        uint64_t back = SENTINEL;
        r = parse_duration_ms(text, UINT64_MAX, &back);
        FUZZ_CHECK(r == 0 && back == ms, "%" PRIu64 "ms formatted as \"%s\" reads back as %" PRIu64,
                   ms, text, back);
}

static void check_bool(const char *s) {
        static const char *const words[] = { "true", "false", "1", "0", "yes", "no", "on", "off" };
        bool b = false, known = false;
        int r = parse_bool(s, &b);
        size_t k = 0;
        for (; k < 8 && !known; k++)
                known = strcasecmp(s, words[k]) == 0;
        FUZZ_CHECK((r == 0) == known, "parse_bool(\"%s\") = %d", s, r);
        if (known)
                FUZZ_CHECK(b == ((k - 1) % 2 == 0), "\"%s\" read as %d", s, b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct fz f = { data, size };
        uint64_t a = fz_u64(&f), b = fz_u64(&f);
        /* Small bounds are the interesting ones: prefer them half of the time. */
        if (fz_bool(&f)) {
                a %= 100000;
                b %= 100000;
        }
        uint64_t min = a < b ? a : b, max = a < b ? b : a;
        int64_t x = (int64_t) (min ^ max), y = (int64_t) (max - 50000);
        size_t len;
        char *s = fz_rest(&f, &len);
        check_u64(s, min, max);
        check_i64(s, x < y ? x : y, x < y ? y : x);
        check_i64(s, INT64_MIN, INT64_MAX);
        check_duration(s, max);
        check_duration(s, UINT64_MAX);
        check_bool(s);
        free(s);
        return 0;
}
