/* SaslHandshake and SaslAuthenticate answers (agent/kwire_sasl.c), as a controller listener
 * sends them to the transport (agent/kconn.c) before any quorum call.
 *
 * Input: one mode byte (bit 0: handshake or authenticate), then the answer frame; its first
 * four bytes are taken as the expected correlation id.
 * Invariants: no read past the input (ASan); success gives printable NUL-terminated text and,
 * for a handshake, plain_enabled only when "PLAIN" is one of the listed names (checked by an
 * independent scan of the frame); failure gives one printable line naming the call. */
#include <errno.h>

#include "fuzz.h"
#include "kpa/kwire_sasl.h"

static void check_text(const char *s, size_t cap) {
        FUZZ_CHECK(memchr(s, '\0', cap) != NULL, "unterminated text");
        for (const char *p = s; *p; p++)
                FUZZ_CHECK((unsigned char) *p >= 0x20 && *p != 0x7f, "control byte in \"%s\"", s);
}

/* The handshake's names, read independently of kwire: int16 error, int32 count, then
 * int16-length strings. True when one of them is exactly PLAIN. */
static bool lists_plain(const uint8_t *p, size_t n) {
        size_t pos = 4 + 2;
        if (n < pos + 4)
                return false;
        uint32_t count = (uint32_t) p[pos] << 24 | (uint32_t) p[pos + 1] << 16 | (uint32_t) p[pos + 2] << 8 | p[pos + 3];
        pos += 4;
        for (uint32_t i = 0; i < count && pos + 2 <= n; i++) {
                size_t len = (size_t) p[pos] << 8 | p[pos + 1];
                pos += 2;
                if (len > n - pos)
                        return false;
                if (len == 5 && memcmp(p + pos, "PLAIN", 5) == 0)
                        return true;
                pos += len;
        }
        return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        uint8_t mode = data[0];
        data++;
        size--;
        int32_t corr = size >= 4 ? (int32_t) ((uint32_t) data[0] << 24 | (uint32_t) data[1] << 16 |
                                              (uint32_t) data[2] << 8 | data[3]) : 0;
        char err[512] = "";
        int r;
        if (mode & 1) {
                struct kwire_sasl_handshake h;
                r = kwire_sasl_handshake_decode(data, size, corr, &h, err, sizeof err);
                if (r == 0) {
                        check_text(h.mechanisms, sizeof h.mechanisms);
                        FUZZ_CHECK(h.plain_enabled == lists_plain(data, size), "plain_enabled %d", h.plain_enabled);
                } else {
                        FUZZ_CHECK(strncmp(err, "malformed SaslHandshake v1 answer: ", 35) == 0, "%s", err);
                }
        } else {
                struct kwire_sasl_authenticate a;
                r = kwire_sasl_authenticate_decode(data, size, corr, &a, err, sizeof err);
                if (r == 0)
                        check_text(a.error_message, sizeof a.error_message);
                else
                        FUZZ_CHECK(strncmp(err, "malformed SaslAuthenticate v2 answer: ", 38) == 0, "%s", err);
        }
        FUZZ_CHECK(r == 0 || r == -EPROTO, "unexpected %d", r);
        check_text(err, sizeof err);
        return 0;
}
