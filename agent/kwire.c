#include "kpa/kwire.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *kwire_error_name(int16_t code) {
        switch (code) {
        case 0: return "NONE";
        case 2: return "CORRUPT_MESSAGE";
        case 3: return "UNKNOWN_TOPIC_OR_PARTITION";
        case 5: return "LEADER_NOT_AVAILABLE";
        case 6: return "NOT_LEADER_OR_FOLLOWER";
        case 7: return "REQUEST_TIMED_OUT";
        case 15: return "COORDINATOR_NOT_AVAILABLE";
        case 29: return "TOPIC_AUTHORIZATION_FAILED";
        case 31: return "CLUSTER_AUTHORIZATION_FAILED";
        case 33: return "UNSUPPORTED_SASL_MECHANISM";
        case 34: return "ILLEGAL_SASL_STATE";
        case 35: return "UNSUPPORTED_VERSION";
        case 42: return "INVALID_REQUEST";
        case 56: return "KAFKA_STORAGE_ERROR";
        case 57: return "LOG_DIR_NOT_FOUND";
        case 58: return "SASL_AUTHENTICATION_FAILED";
        case 80: return "PREFERRED_LEADER_NOT_AVAILABLE";
        case 83: return "ELIGIBLE_LEADERS_NOT_AVAILABLE";
        case 84: return "ELECTION_NOT_NEEDED";
        case -1: return "UNKNOWN_SERVER_ERROR";
        default: return "UNKNOWN";
        }
}

const char *kwire_error_text(int16_t code, char *buf, size_t len) {
        snprintf(buf, len, "%s (%d)", kwire_error_name(code), (int) code);
        return buf;
}

/* ---- writing ---- */

void kwire_w_init(struct kwire_w *w, uint8_t *buf, size_t cap) {
        *w = (struct kwire_w){ .buf = buf, .cap = cap };
}

void kwire_put_raw(struct kwire_w *w, const void *p, size_t n) {
        if (w->overflow || n > w->cap - w->len) {
                w->overflow = true;
                return;
        }
        if (n > 0)
                memcpy(w->buf + w->len, p, n);
        w->len += n;
}

/* Big-endian, as every fixed-size Kafka integer is. */
static void put_be(struct kwire_w *w, uint64_t v, size_t n) {
        uint8_t b[8];
        for (size_t i = 0; i < n; i++)
                b[i] = (uint8_t) (v >> (8 * (n - 1 - i)));
        kwire_put_raw(w, b, n);
}

void kwire_put_i8(struct kwire_w *w, int8_t v) { put_be(w, (uint8_t) v, 1); }
void kwire_put_i16(struct kwire_w *w, int16_t v) { put_be(w, (uint16_t) v, 2); }
void kwire_put_u16(struct kwire_w *w, uint16_t v) { put_be(w, v, 2); }
void kwire_put_i32(struct kwire_w *w, int32_t v) { put_be(w, (uint32_t) v, 4); }
void kwire_put_i64(struct kwire_w *w, int64_t v) { put_be(w, (uint64_t) v, 8); }

void kwire_put_uvarint(struct kwire_w *w, uint32_t v) {
        uint8_t b[5];
        size_t n = 0;
        while (v >= 0x80) {
                b[n++] = (uint8_t) (v | 0x80);
                v >>= 7;
        }
        b[n++] = (uint8_t) v;
        kwire_put_raw(w, b, n);
}

void kwire_put_string(struct kwire_w *w, const char *s) {
        if (!s) {
                kwire_put_i16(w, -1);
                return;
        }
        size_t n = strlen(s);
        if (n > KWIRE_STRING_MAX) {
                w->overflow = true;
                return;
        }
        kwire_put_i16(w, (int16_t) n);
        kwire_put_raw(w, s, n);
}

void kwire_put_compact_string(struct kwire_w *w, const char *s) {
        if (!s) {
                kwire_put_uvarint(w, 0);
                return;
        }
        size_t n = strlen(s);
        if (n > KWIRE_STRING_MAX) {
                w->overflow = true;
                return;
        }
        kwire_put_uvarint(w, (uint32_t) n + 1);
        kwire_put_raw(w, s, n);
}

void kwire_put_compact_bytes(struct kwire_w *w, const void *p, size_t n) {
        if (n >= UINT32_MAX) {
                w->overflow = true;
                return;
        }
        kwire_put_uvarint(w, (uint32_t) n + 1);
        kwire_put_raw(w, p, n);
}

void kwire_put_compact_count(struct kwire_w *w, uint32_t n) {
        if (n == UINT32_MAX) {
                w->overflow = true;
                return;
        }
        kwire_put_uvarint(w, n + 1);
}

void kwire_put_no_tags(struct kwire_w *w) { kwire_put_uvarint(w, 0); }

void kwire_request_begin(struct kwire_w *w, int16_t api_key, int16_t version,
                         int32_t correlation_id, const char *client_id, bool flexible) {
        kwire_put_i32(w, 0);   /* the size, filled in by kwire_frame_end */
        kwire_put_i16(w, api_key);
        kwire_put_i16(w, version);
        kwire_put_i32(w, correlation_id);
        /* The client id stays a classic string even in header v2 (its "flexibleVersions" is
         * "none" in RequestHeader.json), so that any broker can read it. */
        kwire_put_string(w, client_id);
        if (flexible)
                kwire_put_no_tags(w);
}

int kwire_frame_end(struct kwire_w *w, size_t *ret_len) {
        if (w->overflow || w->len < 4 || w->len - 4 > INT32_MAX)
                return -E2BIG;
        uint32_t size = (uint32_t) (w->len - 4);
        for (int i = 0; i < 4; i++)
                w->buf[i] = (uint8_t) (size >> (8 * (3 - i)));
        *ret_len = w->len;
        return 0;
}

/* ---- reading ---- */

void kwire_r_init(struct kwire_r *r, const uint8_t *p, size_t len) {
        *r = (struct kwire_r){ .p = p, .len = len };
}

void kwire_r_fail(struct kwire_r *r, const char *fmt, ...) {
        if (r->failed)
                return;
        r->failed = true;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->err, sizeof r->err, fmt, ap);
        va_end(ap);
}

void kwire_r_expect_end(struct kwire_r *r) {
        if (!r->failed && r->pos != r->len)
                kwire_r_fail(r, "%zu unexpected bytes after the end of the message",
                             r->len - r->pos);
}

/* Takes n bytes, or fails naming the field and where the frame ended. */
static const uint8_t *take(struct kwire_r *r, size_t n, const char *field) {
        if (r->failed)
                return NULL;
        if (n > r->len - r->pos) {
                kwire_r_fail(r, "truncated at byte %zu of %zu reading %s (%zu bytes)", r->pos,
                             r->len, field, n);
                return NULL;
        }
        const uint8_t *p = r->p + r->pos;
        r->pos += n;
        return p;
}

static uint64_t get_be(struct kwire_r *r, size_t n, const char *field) {
        const uint8_t *p = take(r, n, field);
        uint64_t v = 0;
        if (!p)
                return 0;
        for (size_t i = 0; i < n; i++)
                v = (v << 8) | p[i];
        return v;
}

int8_t kwire_get_i8(struct kwire_r *r, const char *field) {
        return (int8_t) (uint8_t) get_be(r, 1, field);
}
int16_t kwire_get_i16(struct kwire_r *r, const char *field) {
        return (int16_t) (uint16_t) get_be(r, 2, field);
}
uint16_t kwire_get_u16(struct kwire_r *r, const char *field) {
        return (uint16_t) get_be(r, 2, field);
}
int32_t kwire_get_i32(struct kwire_r *r, const char *field) {
        return (int32_t) (uint32_t) get_be(r, 4, field);
}
int64_t kwire_get_i64(struct kwire_r *r, const char *field) {
        return (int64_t) get_be(r, 8, field);
}

uint32_t kwire_get_uvarint(struct kwire_r *r, const char *field) {
        uint32_t v = 0;
        for (int i = 0; i < 5; i++) {
                const uint8_t *p = take(r, 1, field);
                if (!p)
                        return 0;
                /* The fifth byte may carry only the top 4 bits of a 32-bit value. */
                if (i == 4 && (*p & 0xf0)) {
                        kwire_r_fail(r, "varint %s at byte %zu does not fit 32 bits", field,
                                     r->pos - 5);
                        return 0;
                }
                v |= (uint32_t) (*p & 0x7f) << (7 * i);
                if (!(*p & 0x80))
                        return v;
        }
        return v;   /* not reached: the fifth byte has no continuation bit left */
}

void kwire_skip(struct kwire_r *r, size_t n, const char *field) { take(r, n, field); }

static struct kwire_str str_take(struct kwire_r *r, size_t n, const char *field) {
        const uint8_t *p = take(r, n, field);
        return p ? (struct kwire_str){ (const char *) p, n } : (struct kwire_str){ "", 0 };
}

struct kwire_str kwire_get_string(struct kwire_r *r, bool nullable, const char *field) {
        size_t at = r->pos;
        int16_t n = kwire_get_i16(r, field);
        if (r->failed)
                return (struct kwire_str){ "", 0 };
        if (n == -1 && nullable)
                return (struct kwire_str){ NULL, 0 };
        if (n < 0) {
                kwire_r_fail(r, "%s at byte %zu has length %d", field, at, n);
                return (struct kwire_str){ "", 0 };
        }
        return str_take(r, (size_t) n, field);
}

struct kwire_str kwire_get_compact_string(struct kwire_r *r, bool nullable, const char *field) {
        size_t at = r->pos;
        uint32_t n = kwire_get_uvarint(r, field);
        if (r->failed)
                return (struct kwire_str){ "", 0 };
        if (n == 0) {
                if (nullable)
                        return (struct kwire_str){ NULL, 0 };
                kwire_r_fail(r, "%s at byte %zu is null, which the schema does not allow",
                             field, at);
                return (struct kwire_str){ "", 0 };
        }
        if (n - 1 > KWIRE_STRING_MAX) {
                kwire_r_fail(r, "%s at byte %zu is %u bytes long (at most %d)", field, at,
                             n - 1, KWIRE_STRING_MAX);
                return (struct kwire_str){ "", 0 };
        }
        return str_take(r, n - 1, field);
}

struct kwire_str kwire_get_compact_bytes(struct kwire_r *r, size_t max, const char *field) {
        size_t at = r->pos;
        uint32_t n = kwire_get_uvarint(r, field);
        if (r->failed)
                return (struct kwire_str){ "", 0 };
        if (n == 0) {
                kwire_r_fail(r, "%s at byte %zu is null, which the schema does not allow",
                             field, at);
                return (struct kwire_str){ "", 0 };
        }
        if (n - 1 > max) {
                kwire_r_fail(r, "%s at byte %zu is %u bytes long (at most %zu)", field, at,
                             n - 1, max);
                return (struct kwire_str){ "", 0 };
        }
        return str_take(r, n - 1, field);
}

static uint32_t plausible_count(struct kwire_r *r, uint64_t n, size_t min_elem_size,
                                size_t at, const char *field) {
        if (r->failed)
                return 0;
        if (min_elem_size == 0)
                min_elem_size = 1;
        if (n > (r->len - r->pos) / min_elem_size) {
                kwire_r_fail(r, "%s at byte %zu claims %llu elements, more than the %zu bytes "
                             "left can hold", field, at, (unsigned long long) n, r->len - r->pos);
                return 0;
        }
        return (uint32_t) n;
}

uint32_t kwire_get_compact_count(struct kwire_r *r, size_t min_elem_size, const char *field) {
        size_t at = r->pos;
        uint32_t n = kwire_get_uvarint(r, field);
        if (r->failed)
                return 0;
        if (n == 0) {
                kwire_r_fail(r, "%s at byte %zu is a null array, which the schema does not "
                             "allow", field, at);
                return 0;
        }
        return plausible_count(r, n - 1, min_elem_size, at, field);
}

uint32_t kwire_get_count(struct kwire_r *r, size_t min_elem_size, const char *field) {
        size_t at = r->pos;
        int32_t n = kwire_get_i32(r, field);
        if (r->failed)
                return 0;
        if (n < 0) {
                kwire_r_fail(r, "%s at byte %zu has count %d", field, at, n);
                return 0;
        }
        return plausible_count(r, (uint64_t) n, min_elem_size, at, field);
}

void kwire_skip_tags(struct kwire_r *r, const char *field) {
        size_t at = r->pos;
        /* The section counts its fields without the compact "+ 1"; each field takes at least
         * two bytes (its tag and its size). */
        uint32_t n = plausible_count(r, kwire_get_uvarint(r, field), 2, at, field);
        int64_t last = -1;
        for (uint32_t i = 0; i < n && !r->failed; i++) {
                size_t tag_at = r->pos;
                uint32_t tag = kwire_get_uvarint(r, field);
                uint32_t size = kwire_get_uvarint(r, field);
                if (r->failed)
                        return;
                if ((int64_t) tag <= last) {
                        kwire_r_fail(r, "%s at byte %zu: tag %u follows tag %lld (tags must "
                                     "increase)", field, tag_at, tag, (long long) last);
                        return;
                }
                last = tag;
                kwire_skip(r, size, field);
        }
}

void kwire_response_header(struct kwire_r *r, int32_t correlation_id, bool flexible) {
        int32_t got = kwire_get_i32(r, "the response header's correlation id");
        if (!r->failed && got != correlation_id)
                kwire_r_fail(r, "the response's correlation id %d is not the request's %d",
                             got, correlation_id);
        if (flexible)
                kwire_skip_tags(r, "the response header's tagged fields");
}

void kwire_str_copy(struct kwire_str s, char *buf, size_t cap) {
        if (cap == 0)
                return;
        size_t n = s.data ? s.len : 0;
        if (n > cap - 1)
                n = cap - 1;
        for (size_t i = 0; i < n; i++) {
                unsigned char c = (unsigned char) s.data[i];
                buf[i] = c < 0x20 || c == 0x7f ? '?' : (char) c;
        }
        buf[n] = '\0';
}

bool kwire_str_eq(struct kwire_str s, const char *text) {
        return s.data && strlen(text) == s.len && memcmp(s.data, text, s.len) == 0;
}
