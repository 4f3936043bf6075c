/* The Kafka wire format's primitives, for the few protocol calls librdkafka does not offer
 * (kwire_quorum, kwire_sasl): big-endian integers, unsigned varints, classic and compact
 * strings and arrays, tagged-field sections, and the request/response headers. Pure: every
 * encoder writes into a caller's fixed buffer and every decoder reads from a caller's bytes,
 * nothing is allocated, and no read goes past the bytes given.
 *
 * Errors are sticky: the first failed read or write records why, every later call does
 * nothing, and the caller looks once at the end (kwire_w_finish, kwire_r_failed). So a codec
 * reads like the message's schema, without a check after every field. */
#ifndef KPA_KWIRE_H
#define KPA_KWIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Kafka's own limit on a string (int16 length) and what our messages name in errors. */
#define KWIRE_STRING_MAX 32767
#define KWIRE_ERR_MAX 256

/* Error codes the agent acts on (Kafka's org.apache.kafka.common.protocol.Errors). */
#define KWIRE_ERR_NONE 0
#define KWIRE_ERR_NOT_LEADER_OR_FOLLOWER 6
#define KWIRE_ERR_UNSUPPORTED_SASL_MECHANISM 33
#define KWIRE_ERR_ILLEGAL_SASL_STATE 34
#define KWIRE_ERR_UNSUPPORTED_VERSION 35
#define KWIRE_ERR_SASL_AUTHENTICATION_FAILED 58

/* Kafka's name for an error code ("NOT_LEADER_OR_FOLLOWER"), or "UNKNOWN" for codes the agent
 * has no name for; messages print kwire_error_text instead. */
const char *kwire_error_name(int16_t code);

/* Room for kwire_error_text: the longest name, " (", a 16-bit code, ")". */
#define KWIRE_ERROR_TEXT_MAX 48
/* "NAME (code)", e.g. "NOT_LEADER_OR_FOLLOWER (6)", into buf: the name for people, the code for
 * the codes the table has no name for ("UNKNOWN (87)"). Returns buf. */
const char *kwire_error_text(int16_t code, char *buf, size_t len);

/* ---- writing ---- */

struct kwire_w {
        uint8_t *buf;
        size_t cap;
        size_t len;
        bool overflow;          /* a write did not fit: the frame is unusable */
};

void kwire_w_init(struct kwire_w *w, uint8_t *buf, size_t cap);
void kwire_put_i8(struct kwire_w *w, int8_t v);
void kwire_put_i16(struct kwire_w *w, int16_t v);
void kwire_put_u16(struct kwire_w *w, uint16_t v);
void kwire_put_i32(struct kwire_w *w, int32_t v);
void kwire_put_i64(struct kwire_w *w, int64_t v);
void kwire_put_uvarint(struct kwire_w *w, uint32_t v);
void kwire_put_raw(struct kwire_w *w, const void *p, size_t n);
/* Classic string: int16 length, or -1 for NULL. */
void kwire_put_string(struct kwire_w *w, const char *s);
/* Compact (flexible-version) string: uvarint length + 1, or 0 for NULL. */
void kwire_put_compact_string(struct kwire_w *w, const char *s);
/* Compact bytes: uvarint length + 1. */
void kwire_put_compact_bytes(struct kwire_w *w, const void *p, size_t n);
/* A compact array's count (uvarint n + 1). */
void kwire_put_compact_count(struct kwire_w *w, uint32_t n);
/* An empty tagged-field section. */
void kwire_put_no_tags(struct kwire_w *w);

/* Starts a request frame: the 4-byte size (filled by kwire_frame_end), then request header
 * v1 (api key, version, correlation id, client id), plus an empty tagged section for header v2
 * (flexible request versions). */
void kwire_request_begin(struct kwire_w *w, int16_t api_key, int16_t version,
                         int32_t correlation_id, const char *client_id, bool flexible);
/* Fills in the frame's size. 0 and the frame's total length, or -E2BIG when it did not fit. */
int kwire_frame_end(struct kwire_w *w, size_t *ret_len);

/* ---- reading ---- */

struct kwire_r {
        const uint8_t *p;
        size_t len;
        size_t pos;
        bool failed;
        char err[KWIRE_ERR_MAX];   /* the first failure: what, and at which byte */
};

void kwire_r_init(struct kwire_r *r, const uint8_t *p, size_t len);
/* Records a failure found by the caller (e.g. an unexpected value), unless one is recorded. */
void kwire_r_fail(struct kwire_r *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline bool kwire_r_failed(const struct kwire_r *r) { return r->failed; }
/* Fails unless every byte was read: a frame with trailing bytes is not the message we know. */
void kwire_r_expect_end(struct kwire_r *r);

/* Each read names the field, for the error message; on failure it returns 0 / an empty
 * value and reads nothing further. */
int8_t kwire_get_i8(struct kwire_r *r, const char *field);
int16_t kwire_get_i16(struct kwire_r *r, const char *field);
uint16_t kwire_get_u16(struct kwire_r *r, const char *field);
int32_t kwire_get_i32(struct kwire_r *r, const char *field);
int64_t kwire_get_i64(struct kwire_r *r, const char *field);
/* An unsigned varint of at most 5 bytes that fits 32 bits (Kafka's readUnsignedVarint). */
uint32_t kwire_get_uvarint(struct kwire_r *r, const char *field);
void kwire_skip(struct kwire_r *r, size_t n, const char *field);

/* A string read in place. data is NULL for a null string (only where the schema allows one). */
struct kwire_str {
        const char *data;
        size_t len;
};

/* Classic string (int16 length); null only when nullable. */
struct kwire_str kwire_get_string(struct kwire_r *r, bool nullable, const char *field);
/* Compact string (uvarint length + 1); null only when nullable. At most KWIRE_STRING_MAX. */
struct kwire_str kwire_get_compact_string(struct kwire_r *r, bool nullable, const char *field);
/* Compact bytes (uvarint length + 1; never null here), at most max bytes. */
struct kwire_str kwire_get_compact_bytes(struct kwire_r *r, size_t max, const char *field);
/* A compact array's element count; a null array fails (no array the agent reads is nullable).
 * Fails as well when the remaining bytes cannot hold count elements of min_elem_size bytes,
 * so that a forged count cannot make a caller loop long over nothing. */
uint32_t kwire_get_compact_count(struct kwire_r *r, size_t min_elem_size, const char *field);
/* A classic array's element count (int32; -1 null fails), with the same plausibility bound. */
uint32_t kwire_get_count(struct kwire_r *r, size_t min_elem_size, const char *field);
/* Skips a tagged-field section: each field's tag must be larger than the one before (Kafka's
 * rule) and its size must fit in the frame. */
void kwire_skip_tags(struct kwire_r *r, const char *field);

/* Reads a response header: the correlation id, which must equal the request's, and for
 * header v1 (flexible response versions) the tagged section. */
void kwire_response_header(struct kwire_r *r, int32_t correlation_id, bool flexible);

/* Copies a string read in place into buf (cut to fit, always NUL-terminated), with control
 * characters and NUL replaced by '?', so that a peer's text is safe in a log line. */
void kwire_str_copy(struct kwire_str s, char *buf, size_t cap);
/* Whether the string equals the NUL-terminated text exactly. */
bool kwire_str_eq(struct kwire_str s, const char *text);

#endif
