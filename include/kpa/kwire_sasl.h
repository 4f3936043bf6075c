/* SASL PLAIN over the Kafka protocol, as a client starts it (KIP-152): SaslHandshake v1
 * (API key 17; not flexible: request header v1, response header v0) names the mechanism, then
 * SaslAuthenticate v2 (API key 36; flexible: request header v2, response header v1) carries
 * the PLAIN message "\0user\0password" (RFC 4616). Kafka 4.0 to 4.4 accept SaslHandshake 0-1
 * and SaslAuthenticate 0-2 on broker and controller listeners alike.
 *
 * Only the transport (kconn) uses this, to reach a controller listener; librdkafka does the
 * same for the broker checks. Pure, bounded, no allocation (see kwire.h). */
#ifndef KPA_KWIRE_SASL_H
#define KPA_KWIRE_SASL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kpa/kwire.h"

#define KWIRE_SASL_HANDSHAKE_API_KEY 17
#define KWIRE_SASL_HANDSHAKE_VERSION 1
#define KWIRE_SASL_AUTHENTICATE_API_KEY 36
#define KWIRE_SASL_AUTHENTICATE_VERSION 2
/* Largest answer read for either call: a list of mechanism names, or an error message. */
#define KWIRE_SASL_RESPONSE_MAX (64 * 1024)
/* PLAIN user names and passwords the agent sends (kpa-init accepts passwords up to 1024
 * bytes); the frame holds both plus headers. */
#define KWIRE_SASL_PLAIN_FIELD_MAX 1024
#define KWIRE_SASL_PLAIN_REQUEST_MAX (2 * KWIRE_SASL_PLAIN_FIELD_MAX + 512)

struct kwire_sasl_handshake {
        int16_t error_code;
        bool plain_enabled;           /* "PLAIN" is among the server's mechanisms */
        char mechanisms[KWIRE_ERR_MAX]; /* the server's list, "A,B", cut to fit */
};

struct kwire_sasl_authenticate {
        int16_t error_code;
        char error_message[KWIRE_ERR_MAX];   /* "" when null */
        int64_t session_lifetime_ms;
};

/* SaslHandshake v1 asking for mechanism. 0, -E2BIG. */
int kwire_sasl_handshake_encode(int32_t correlation_id, const char *client_id,
                                const char *mechanism, uint8_t *buf, size_t cap,
                                size_t *ret_len);
/* 0, or -EPROTO with the reason in errbuf. ret is written in every case. */
int kwire_sasl_handshake_decode(const uint8_t *frame, size_t len, int32_t correlation_id,
                                struct kwire_sasl_handshake *ret, char *errbuf, size_t errlen);

/* SaslAuthenticate v2 carrying the PLAIN message for user and password (no authorization
 * id). The frame holds the password: wipe buf after sending. -EINVAL for a user or password
 * that is empty or longer than KWIRE_SASL_PLAIN_FIELD_MAX; -E2BIG. */
int kwire_sasl_plain_encode(int32_t correlation_id, const char *client_id, const char *user,
                            const char *password, uint8_t *buf, size_t cap, size_t *ret_len);
/* 0, or -EPROTO with the reason in errbuf. The server's auth bytes (empty for PLAIN) are
 * skipped. ret is written in every case. */
int kwire_sasl_authenticate_decode(const uint8_t *frame, size_t len, int32_t correlation_id,
                                   struct kwire_sasl_authenticate *ret, char *errbuf,
                                   size_t errlen);

#endif
