#include "kpa/kwire_sasl.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int kwire_sasl_handshake_encode(int32_t correlation_id, const char *client_id,
                                const char *mechanism, uint8_t *buf, size_t cap,
                                size_t *ret_len) {
        struct kwire_w w;
        kwire_w_init(&w, buf, cap);
        kwire_request_begin(&w, KWIRE_SASL_HANDSHAKE_API_KEY, KWIRE_SASL_HANDSHAKE_VERSION,
                            correlation_id, client_id, false);
        kwire_put_string(&w, mechanism);
        return kwire_frame_end(&w, ret_len);
}

int kwire_sasl_handshake_decode(const uint8_t *frame, size_t len, int32_t correlation_id,
                                struct kwire_sasl_handshake *ret, char *errbuf, size_t errlen) {
        memset(ret, 0, sizeof *ret);
        struct kwire_r r;
        kwire_r_init(&r, frame, len);
        kwire_response_header(&r, correlation_id, false);
        ret->error_code = kwire_get_i16(&r, "ErrorCode");
        /* Each name takes at least its 2-byte length. */
        uint32_t n = kwire_get_count(&r, 2, "Mechanisms");
        size_t used = 0;
        for (uint32_t i = 0; i < n && !r.failed; i++) {
                struct kwire_str m = kwire_get_string(&r, false, "Mechanisms[]");
                if (r.failed)
                        break;
                if (kwire_str_eq(m, "PLAIN"))
                        ret->plain_enabled = true;
                char name[64];
                kwire_str_copy(m, name, sizeof name);
                int k = snprintf(ret->mechanisms + used, sizeof ret->mechanisms - used, "%s%s",
                                 used ? "," : "", name);
                if (k > 0 && (size_t) k < sizeof ret->mechanisms - used)
                        used += (size_t) k;
                else
                        ret->mechanisms[used] = '\0';
        }
        kwire_r_expect_end(&r);
        if (r.failed) {
                snprintf(errbuf, errlen, "malformed SaslHandshake v%d answer: %s",
                         KWIRE_SASL_HANDSHAKE_VERSION, r.err);
                return -EPROTO;
        }
        return 0;
}

int kwire_sasl_plain_encode(int32_t correlation_id, const char *client_id, const char *user,
                            const char *password, uint8_t *buf, size_t cap, size_t *ret_len) {
        size_t ul = strlen(user), pl = strlen(password);
        if (ul == 0 || pl == 0 || ul > KWIRE_SASL_PLAIN_FIELD_MAX || pl > KWIRE_SASL_PLAIN_FIELD_MAX)
                return -EINVAL;
        struct kwire_w w;
        kwire_w_init(&w, buf, cap);
        kwire_request_begin(&w, KWIRE_SASL_AUTHENTICATE_API_KEY, KWIRE_SASL_AUTHENTICATE_VERSION,
                            correlation_id, client_id, true);
        /* AuthBytes, written in place so that the password is copied once, into buf. */
        kwire_put_uvarint(&w, (uint32_t) (1 + ul + 1 + pl) + 1);
        kwire_put_i8(&w, 0);
        kwire_put_raw(&w, user, ul);
        kwire_put_i8(&w, 0);
        kwire_put_raw(&w, password, pl);
        kwire_put_no_tags(&w);
        return kwire_frame_end(&w, ret_len);
}

int kwire_sasl_authenticate_decode(const uint8_t *frame, size_t len, int32_t correlation_id,
                                   struct kwire_sasl_authenticate *ret, char *errbuf,
                                   size_t errlen) {
        memset(ret, 0, sizeof *ret);
        struct kwire_r r;
        kwire_r_init(&r, frame, len);
        kwire_response_header(&r, correlation_id, true);
        ret->error_code = kwire_get_i16(&r, "ErrorCode");
        kwire_str_copy(kwire_get_compact_string(&r, true, "ErrorMessage"), ret->error_message,
                       sizeof ret->error_message);
        kwire_get_compact_bytes(&r, KWIRE_SASL_RESPONSE_MAX, "AuthBytes");
        ret->session_lifetime_ms = kwire_get_i64(&r, "SessionLifetimeMs");
        kwire_skip_tags(&r, "response tagged fields");
        kwire_r_expect_end(&r);
        if (r.failed) {
                snprintf(errbuf, errlen, "malformed SaslAuthenticate v%d answer: %s",
                         KWIRE_SASL_AUTHENTICATE_VERSION, r.err);
                return -EPROTO;
        }
        return 0;
}
