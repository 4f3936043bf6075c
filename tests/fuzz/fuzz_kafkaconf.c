/* kpa-agent's client.properties (agent/kafkaconf.c kafka_conf_load): librdkafka "key=value" lines,
 * each checked with rd_kafka_conf_set. The first byte chooses whether a --bootstrap override
 * (a string read as fz_str, see fuzz.h) is given; the rest is the file, written to a private
 * temporary file (the loader opens its path itself).
 *
 * Invariants:
 * - failure: a negative code with a message; no value of a sensitive key (password, secret,
 *   sasl.username, key material) appears in the message: the harness sets every such value to
 *   a canary and looks for it;
 * - success: the bootstrap address is one host:port without spaces, commas or "://", equal
 *   to the override when there is one, else to the file's bootstrap.servers.
 * Inputs naming plugin.library.paths (or holding the canary) are skipped: librdkafka dlopen()s those paths as soon as
 * the property is set (see the report). */
#include <errno.h>
#include <unistd.h>

#include "fuzz.h"
#include "kpa/kafka.h"

static char path[64];
static int fd = -1;

static bool sensitive(const char *key, size_t n) {
        static const char *const marks[] = { "password", "secret", ".pem", "sasl.username",
                                             "oauthbearer.config", "ssl.key", "ssl_key" };
        for (size_t i = 0; i < sizeof marks / sizeof *marks; i++)
                if (memmem(key, n, marks[i], strlen(marks[i])))
                        return true;
        return false;
}

#define CANARY "Kc4n4ry-s3cret"

/* The input with the value of every sensitive key replaced by CANARY: a message that quotes
 * such a value then shows the canary, which no fixed message text holds. (Checking the
 * fuzzer's own values instead would flag any value that happens to spell part of a message.) */
static char *with_canaries(const char *text, size_t len, size_t *ret_len) {
        char *out = fz_alloc(len * (sizeof CANARY + 1) + 1);
        size_t o = 0;
        const char *p = text, *end = text + len;
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                const char *le = nl ? nl : end;
                const char *eq = memchr(p, '=', (size_t) (le - p));
                size_t keep = eq && sensitive(p, (size_t) (eq - p)) ? (size_t) (eq + 1 - p) : (size_t) (le - p);
                memcpy(out + o, p, keep);
                o += keep;
                if (keep != (size_t) (le - p)) {
                        memcpy(out + o, CANARY, sizeof CANARY - 1);
                        o += sizeof CANARY - 1;
                }
                if (nl)
                        out[o++] = '\n';
                p = le + 1;
        }
        *ret_len = o;
        return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        if (fd < 0) {
                snprintf(path, sizeof path, "/tmp/kpa-fuzz-kafkaconf-XXXXXX");
                fd = mkstemp(path);
                FUZZ_CHECK(fd >= 0, "mkstemp failed");
                /* The file only has to exist while the process runs. */
                unlink(path);
                snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
        }
        struct fz f = { data, size };
        char *override = fz_bool(&f) ? fz_str(&f, 300) : NULL;
        if (memmem(f.p, f.n, "plugin.library.paths", 20) || memmem(f.p, f.n, "Kc4n4ry", 7) ||
            (override && strstr(override, "Kc4n4ry"))) {
                free(override);
                return 0;
        }
        size_t len;
        char *text = with_canaries((const char *) f.p, f.n, &len);
        FUZZ_CHECK(ftruncate(fd, 0) == 0 && pwrite(fd, text, len, 0) == (ssize_t) len, "cannot write %s", path);
        struct kafka_conf *c = NULL;
        char err[1024] = "";
        int r = kafka_conf_load(path, override, &c, err, sizeof err);
        if (r < 0) {
                FUZZ_CHECK(err[0], "error %d without a message", r);
                FUZZ_CHECK(!strstr(err, "Kc4n4ry"), "a sensitive value in \"%s\"", err);
        } else {
                const char *bs = kafka_conf_bootstrap(c);
                FUZZ_CHECK(bs && strchr(bs, ':') && !strchr(bs, ',') && !strchr(bs, ' ') && !strstr(bs, "://"),
                           "bootstrap \"%s\"", bs ? bs : "(null)");
                const char *want = override ? override : kafka_conf_get(c, "bootstrap.servers");
                FUZZ_CHECK(want && strcmp(bs, want) == 0, "bootstrap \"%s\", expected \"%s\"", bs,
                           want ? want : "(null)");
                kafka_conf_free(c);
        }
        free(override);
        free(text);
        return 0;
}
