/* kpa-agent's client.properties (agent/kafkaconf.c kafka_conf_load): librdkafka "key=value"
 * lines, each checked with rd_kafka_conf_set. The first byte chooses whether a --bootstrap
 * override (a string read as fz_str, see fuzz.h) is given, and whether every value (not only
 * those of sensitive keys) is replaced by a canary; the rest is the file, written to a private
 * temporary file (the loader opens its path itself).
 *
 * Invariants:
 * - failure: a negative code with a one-line message; no canary value appears in it (every
 *   sensitive value always is one, in the second mode every value but bootstrap.servers);
 * - success: the bootstrap address is one host:port without spaces, commas or "://", equal
 *   to the override when there is one, else to the file's bootstrap.servers; every key has
 *   exactly the value an independent reading of the file gives (the rest of the line after
 *   '=', without its leading blanks, with its trailing ones, a CR before the LF dropped);
 * - kafka_conf_redact of the whole file: terminated within its buffer, no canary in it.
 * Inputs naming plugin.library.paths, ssl.engine.location or sasl.kerberos.kinit.cmd are
 * skipped all the same (the loader refuses them before librdkafka sees them, but a fuzzer must
 * never get near dlopen() or a shell), and so are inputs holding the canary themselves. */
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

static bool blank(char c) { return c == ' ' || c == '\t' || c == '\f' || c == '\v'; }

/* The input with the value of every sensitive key (every key but bootstrap.servers when all is
 * set) replaced by CANARY: a message that quotes such a value then shows the canary, which no
 * fixed message text holds. (Checking the fuzzer's own values instead would flag any value
 * that happens to spell part of a message.) */
static char *with_canaries(const char *text, size_t len, bool all, size_t *ret_len) {
        char *out = fz_alloc(len * (sizeof CANARY + 1) + 1);
        size_t o = 0;
        const char *p = text, *end = text + len;
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                const char *le = nl ? nl : end;
                const char *eq = memchr(p, '=', (size_t) (le - p));
                const char *k = p;
                while (k < le && blank(*k))
                        k++;
                /* A comment is no value: left as it is. */
                bool hide = eq && k < le && *k != '#' && (sensitive(p, (size_t) (eq - p)) ||
                                   (all && !memmem(k, (size_t) (eq - k), "bootstrap.servers", 17)));
                size_t keep = hide ? (size_t) (eq + 1 - p) : (size_t) (le - p);
                memcpy(out + o, p, keep);
                o += keep;
                if (hide) {
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

/* Every key=value line of text must read back as this independent reading says. */
static void check_values(const struct kafka_conf *c, const char *text, size_t len) {
        const char *p = text, *end = text + len;
        while (p < end) {
                const char *nl = memchr(p, '\n', (size_t) (end - p));
                const char *le = nl ? nl : end;
                const char *next = nl ? nl + 1 : end;
                if (le > p && le[-1] == '\r')
                        le--;
                while (p < le && blank(*p))
                        p++;
                const char *eq = memchr(p, '=', (size_t) (le - p));
                if (p < le && *p != '#' && eq) {
                        const char *ke = eq;
                        while (ke > p && blank(ke[-1]))
                                ke--;
                        const char *v = eq + 1;
                        while (v < le && blank(*v))
                                v++;
                        char *key = strndup(p, (size_t) (ke - p)), *want = strndup(v, (size_t) (le - v));
                        const char *got = kafka_conf_get(c, key);
                        FUZZ_CHECK(got && strcmp(got, want) == 0, "%s: read \"%s\", expected \"%s\"", key,
                                   got ? got : "(none)", want);
                        free(key);
                        free(want);
                }
                p = next;
        }
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
        uint8_t mode = fz_u8(&f);
        char *override = mode & 1 ? fz_str(&f, 300) : NULL;
        bool all = mode & 2;
        static const char *const never[] = { "plugin.library.paths", "ssl.engine.location",
                                             "kinit.cmd", "Kc4n4ry" };
        for (size_t i = 0; i < sizeof never / sizeof *never; i++)
                if (memmem(f.p, f.n, never[i], strlen(never[i])) || (override && strstr(override, never[i]))) {
                        free(override);
                        return 0;
                }
        size_t len;
        char *text = with_canaries((const char *) f.p, f.n, all, &len);
        FUZZ_CHECK(ftruncate(fd, 0) == 0 && pwrite(fd, text, len, 0) == (ssize_t) len, "cannot write %s", path);
        struct kafka_conf *c = NULL;
        char err[1024] = "";
        int r = kafka_conf_load(path, override, &c, err, sizeof err);
        if (r < 0) {
                FUZZ_CHECK(err[0], "error %d without a message", r);
                FUZZ_CHECK(!strchr(err, '\n'), "message of two lines: \"%s\"", err);
                FUZZ_CHECK(!strstr(err, "Kc4n4ry"), "a value in \"%s\"", err);
        } else {
                const char *bs = kafka_conf_bootstrap(c);
                FUZZ_CHECK(bs && strchr(bs, ':') && !strchr(bs, ',') && !strchr(bs, ' ') && !strstr(bs, "://"),
                           "bootstrap \"%s\"", bs ? bs : "(null)");
                const char *want = override ? override : kafka_conf_get(c, "bootstrap.servers");
                FUZZ_CHECK(want && strcmp(bs, want) == 0, "bootstrap \"%s\", expected \"%s\"", bs,
                           want ? want : "(null)");
                check_values(c, text, len);
                /* librdkafka's texts may quote any value: hidden, whatever surrounds it. */
                char *line = fz_alloc(len + 1), out[300];
                memcpy(line, text, len);
                kafka_conf_redact(c, line, out, sizeof out);
                FUZZ_CHECK(memchr(out, '\0', sizeof out), "redact: unterminated");
                FUZZ_CHECK(!strstr(out, "Kc4n4ry"), "redact showed a value: \"%s\"", out);
                free(line);
                kafka_conf_free(c);
        }
        free(override);
        free(text);
        return 0;
}
