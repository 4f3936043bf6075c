/* Text from a server shown in a message (common/secret.c secret_quote, secret_overlaps).
 *
 * Input: the most bytes to show (1 byte), the buffer size (2 bytes), a secret (ended by a
 * lone backslash; bytes outside printable ASCII, '"', '\', '<' and '>' are replaced, so it
 * is made of what a bearer token may hold), then the text (the rest, NULs included).
 * Invariants: the output is NUL-terminated inside the buffer and printable ASCII only; with
 * the "<hidden>" marks, the escapes (\", \\, \xNN) and a final "..." taken out, no piece of it
 * holds a run of SECRET_WINDOW bytes of the secret (all of it if shorter) - found by a naive
 * search; secret_overlaps agrees with that search on the text; text that holds no part of the
 * secret is shown exactly as without a secret; and without a secret, in a buffer large enough,
 * the output is the first max bytes escaped one by one, then "..." if the text went on. */
#include "fuzz.h"
#include "kpa/secret.h"

static size_t window(size_t secret_len) { return secret_len < SECRET_WINDOW ? secret_len : SECRET_WINDOW; }

static bool naive_holds(const char *s, size_t n, const char *secret) {
        size_t t = strlen(secret), w = window(t);
        if (w == 0)
                return false;
        for (size_t i = 0; i + w <= n; i++)
                for (size_t k = 0; k + w <= t; k++)
                        if (memcmp(s + i, secret + k, w) == 0)
                                return true;
        return false;
}

/* Checks every literal piece of out (between marks and escapes) for a part of the secret. */
static void check_pieces(const char *out, const char *secret) {
        size_t n = strlen(out);
        if (n >= 3 && strcmp(out + n - 3, "...") == 0)
                n -= 3;
        size_t start = 0, i = 0;
        while (i <= n) {
                size_t skip = 0;
                if (i < n && strncmp(out + i, SECRET_HIDDEN, strlen(SECRET_HIDDEN)) == 0)
                        skip = strlen(SECRET_HIDDEN);
                else if (i < n && out[i] == '\\')
                        skip = out[i + 1] == 'x' ? 4 : 2;
                if (i == n || skip) {
                        FUZZ_CHECK(!naive_holds(out + start, i - start, secret), "a part of the secret shown: %s", out);
                        i += skip ? skip : 1;
                        start = i;
                } else {
                        i++;
                }
        }
}

/* The escape of one byte, as the header describes it. */
static void escape(unsigned char c, char *ret) {
        if (c == '"' || c == '\\')
                snprintf(ret, 5, "\\%c", c);
        else if (c >= 0x20 && c < 0x7f)
                snprintf(ret, 5, "%c", c);
        else
                snprintf(ret, 5, "\\x%02x", c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct fz f = { data, size };
        size_t max = fz_u8(&f);
        size_t buflen = (size_t) fz_range(&f, 1, 1200);
        char *secret = fz_str(&f, 96);
        for (char *p = secret; *p; p++) {
                unsigned char c = (unsigned char) *p;
                if (c < 0x21 || c > 0x7e)
                        c = (unsigned char) (0x21 + c % 94);
                *p = (char) (c == '"' || c == '\\' || c == '<' || c == '>' ? 'A' : c);
        }
        size_t len;
        char *text = fz_rest(&f, &len);
        char *out = fz_alloc(buflen), *plain = fz_alloc(buflen);

        secret_quote(text, len, max, secret, out, buflen);
        FUZZ_CHECK(memchr(out, '\0', buflen) != NULL, "not terminated");
        for (const char *p = out; *p; p++)
                FUZZ_CHECK(*p >= 0x20 && *p < 0x7f, "not printable: %02x", (unsigned char) *p);
        check_pieces(out, secret);

        bool holds = naive_holds(text, len, secret);
        FUZZ_CHECK(secret_overlaps(text, len, secret) == holds, "secret_overlaps = %d", !holds);
        secret_quote(text, len, max, NULL, plain, buflen);
        if (!holds)
                FUZZ_CHECK(strcmp(out, plain) == 0, "hiding changed text without the secret: %s / %s", out, plain);

        /* Without a secret and with room for everything: exactly the escaped bytes. */
        size_t big = 4 * max + 8;
        char *whole = fz_alloc(big), *want = fz_alloc(big);
        secret_quote(text, len, max, NULL, whole, big);
        size_t o = 0;
        for (size_t i = 0; i < len && i < max; i++) {
                escape((unsigned char) text[i], want + o);
                o += strlen(want + o);
        }
        if (len > max)
                memcpy(want + o, "...", 4);
        FUZZ_CHECK(strcmp(whole, want) == 0, "got %s, want %s", whole, want);

        free(whole);
        free(want);
        free(out);
        free(plain);
        free(secret);
        free(text);
        return 0;
}
