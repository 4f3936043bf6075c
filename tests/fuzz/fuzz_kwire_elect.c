/* ElectLeaders answers and requests (agent/kwire_elect.c, over the primitives of agent/kwire.c).
 *
 * Input: one mode byte, then either a raw answer frame (mode bit 0 clear) or values that build
 * an answer and a request (bit 0 set).
 * Invariants, raw frames: decoding never reads past the bytes given (ASan); success yields at
 * most KWIRE_ELECT_MAX_PARTITIONS results with printable, NUL-terminated topics of 1 to 249
 * bytes and no partition twice, and an answer that re-encodes and decodes to itself; failure
 * yields one printable line that names the call. Built answers: decode(encode(e)) == e field by
 * field, and every shorter cut of the frame is refused. Built requests: encoding succeeds for
 * valid partitions and the frame's size field matches its length. */
#include <errno.h>

#include "fuzz.h"
#include "kpa/kwire_elect.h"

static struct kwire_elect e1, e2;
static uint8_t frame[KWIRE_ELECT_RESPONSE_MAX / 8];
static uint8_t req[KWIRE_ELECT_REQUEST_MAX];

static void check_text(const char *s, size_t cap) {
        FUZZ_CHECK(memchr(s, '\0', cap) != NULL, "unterminated text");
        for (const char *p = s; *p; p++)
                FUZZ_CHECK((unsigned char) *p >= 0x20 && *p != 0x7f, "control byte in \"%s\"", s);
}

/* Results are compared as a set keyed by (topic, partition): the encoder groups by topic. */
static const struct kwire_elect_result *find(const struct kwire_elect *e, const char *topic, int32_t part) {
        for (int i = 0; i < e->n_results; i++)
                if (e->results[i].partition == part && strcmp(e->results[i].topic, topic) == 0)
                        return &e->results[i];
        return NULL;
}

static void check_same(const struct kwire_elect *a, const struct kwire_elect *b) {
        FUZZ_CHECK(a->error_code == b->error_code, "error");
        FUZZ_CHECK(a->throttle_ms == b->throttle_ms, "throttle");
        FUZZ_CHECK(a->n_results == b->n_results, "results %d != %d", a->n_results, b->n_results);
        for (int i = 0; i < a->n_results; i++) {
                const struct kwire_elect_result *r = find(b, a->results[i].topic, a->results[i].partition);
                FUZZ_CHECK(r != NULL, "%s-%d lost", a->results[i].topic, a->results[i].partition);
                FUZZ_CHECK(r->error_code == a->results[i].error_code, "code");
                FUZZ_CHECK(strcmp(r->message, a->results[i].message) == 0, "message");
        }
}

static void round_trip(const struct kwire_elect *e, bool cuts) {
        size_t len;
        char err[512];
        int r = kwire_elect_encode_response(e, 2, 42, frame, sizeof frame, &len);
        FUZZ_CHECK(r == 0, "encode failed: %d", r);
        r = kwire_elect_decode_response(frame + 4, len - 4, 2, 42, &e2, err, sizeof err);
        FUZZ_CHECK(r == 0, "own encoding refused: %s", err);
        check_same(e, &e2);
        if (!cuts)
                return;
        for (size_t n = 0; n < len - 4; n += 1 + n / 8) {
                r = kwire_elect_decode_response(frame + 4, n, 2, 42, &e2, err, sizeof err);
                FUZZ_CHECK(r == -EPROTO, "a cut to %zu of %zu bytes gave %d", n, len - 4, r);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (size < 1)
                return 0;
        uint8_t mode = data[0];
        data++;
        size--;
        char err[512] = "";
        if (!(mode & 1)) {
                int32_t corr = size >= 4 ? (int32_t) ((uint32_t) data[0] << 24 | (uint32_t) data[1] << 16 |
                                                      (uint32_t) data[2] << 8 | data[3]) : 0;
                int r = kwire_elect_decode_response(data, size, 2, corr, &e1, err, sizeof err);
                if (r != 0) {
                        FUZZ_CHECK(r == -EPROTO, "unexpected %d", r);
                        FUZZ_CHECK(strncmp(err, "malformed ElectLeaders v2", 25) == 0, "%s", err);
                        check_text(err, sizeof err);
                        return 0;
                }
                FUZZ_CHECK(e1.n_results >= 0 && e1.n_results <= KWIRE_ELECT_MAX_PARTITIONS, "%d results", e1.n_results);
                for (int i = 0; i < e1.n_results; i++) {
                        check_text(e1.results[i].topic, sizeof e1.results[i].topic);
                        check_text(e1.results[i].message, sizeof e1.results[i].message);
                        size_t tl = strlen(e1.results[i].topic);
                        FUZZ_CHECK(tl >= 1 && tl <= KWIRE_ELECT_TOPIC_MAX, "topic length %zu", tl);
                        for (int j = 0; j < i; j++)
                                FUZZ_CHECK(e1.results[i].partition != e1.results[j].partition ||
                                           strcmp(e1.results[i].topic, e1.results[j].topic) != 0, "twice");
                }
                /* A copied message may have been cut: the round trip compares what was kept. */
                round_trip(&e1, false);
                return 0;
        }
        struct fz f = { data, size };
        memset(&e1, 0, sizeof e1);
        e1.error_code = (int16_t) fz_range(&f, -1, 100);
        e1.throttle_ms = (int32_t) fz_u32(&f);
        e1.n_results = (int) fz_range(&f, 0, 12);
        struct kwire_elect_partition parts[12];
        for (int i = 0; i < e1.n_results; i++) {
                struct kwire_elect_result *r = &e1.results[i];
                /* Few distinct topics, so that grouping is exercised; the index keeps
                 * (topic, partition) unique. */
                char *s = fz_str(&f, 20);
                size_t n = (size_t) snprintf(r->topic, sizeof r->topic, "t%d", (int) fz_range(&f, 0, 2));
                for (const char *p = s; *p && n < 40; p++)
                        if ((unsigned char) *p > 0x20 && *p != 0x7f)
                                r->topic[n++] = *p;
                r->topic[n] = '\0';
                free(s);
                r->partition = i;
                r->error_code = (int16_t) fz_range(&f, -1, 100);
                s = fz_str(&f, 30);
                n = 0;
                for (const char *p = s; *p && n < sizeof r->message - 1; p++)
                        if ((unsigned char) *p >= 0x20 && *p != 0x7f)
                                r->message[n++] = *p;
                r->message[n] = '\0';
                free(s);
                parts[i] = (struct kwire_elect_partition){ r->topic, r->partition };
        }
        round_trip(&e1, true);
        if (e1.n_results > 0) {
                size_t len;
                int r = kwire_elect_encode_request(2, 7, "kpa-agent", KWIRE_ELECT_PREFERRED, parts, e1.n_results,
                                                   (int32_t) fz_range(&f, 0, 60000), req, sizeof req, &len);
                FUZZ_CHECK(r == 0, "request refused: %d", r);
                uint32_t sz = (uint32_t) req[0] << 24 | (uint32_t) req[1] << 16 | (uint32_t) req[2] << 8 | req[3];
                FUZZ_CHECK(sz == len - 4, "size field %u for %zu bytes", sz, len);
        }
        return 0;
}
