/* client.properties for the agent's librdkafka handles: parsed, checked by librdkafka once at
 * load, and applied to every check's fresh handle. */
#include "kpa/kafkaconf.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kpa/fsx.h"
#include "kpa/parse.h"
#include "kpa/secret.h"
#include "kpa/sensitive.h"

struct conf_entry {
        char *key;
        char *value;
        unsigned line;
};

/* A value kafka_conf_redact hides: a secret wherever it appears, any other value only as a
 * whole word (PLAIN, not the PLAIN of SASL_PLAINTEXT). */
struct hidden {
        const char *value;      /* points into v */
        size_t len;
        bool secret;
};

/* A librdkafka line already logged under this configuration (see kafka_conf_log_once). */
struct seen_line {
        uint64_t hash;
        uint64_t at_ms;
};

struct kafka_conf {
        struct conf_entry *v;
        size_t n;
        char *bootstrap;        /* "host:port", exactly as librdkafka names the node */
        /* The values kafka_conf_redact hides, longest first. */
        struct hidden *hide;
        size_t n_hide;
        /* Every check's handle holds a reference: a handle still stopping after its check
         * gave up (see kafka.c) may log through this configuration after a reload. */
        atomic_int refs;
        pthread_mutex_t lock;   /* guards seen: librdkafka logs from its own threads */
        struct seen_line seen[KAFKA_CONF_SEEN_MAX];
        size_t n_seen;
};

struct kafka_conf *kafka_conf_ref(struct kafka_conf *c) {
        atomic_fetch_add(&c->refs, 1);
        return c;
}

struct kafka_conf *kafka_conf_free(struct kafka_conf *c) {
        if (!c || atomic_fetch_sub(&c->refs, 1) > 1)
                return NULL;
        pthread_mutex_destroy(&c->lock);
        free(c->hide);
        for (size_t i = 0; i < c->n; i++) {
                free(c->v[i].key);
                secret_free(c->v[i].value);
        }
        free(c->v);
        free(c->bootstrap);
        free(c);
        return NULL;
}

const char *kafka_conf_bootstrap(const struct kafka_conf *c) { return c->bootstrap; }

const char *kafka_conf_get(const struct kafka_conf *c, const char *key) {
        for (size_t i = 0; i < c->n; i++)
                if (strcmp(c->v[i].key, key) == 0)
                        return c->v[i].value;
        return NULL;
}

/* Values that never reach an error message, not even through librdkafka's errstr: every
 * secret sensitive_key() knows (both programs' one list), and two more the agent keeps out of
 * its lines: the SASL user name (Kafka's own refusal leaves it out too) and the
 * ssl.key.* settings, which say where the private key is. */
static bool key_is_sensitive(const char *key) {
        return sensitive_key(key) || strstr(key, "sasl.username") || strstr(key, "ssl.key");
}

/* librdkafka's own message when it refuses key=value, if that message cannot show the value:
 * its texts for an unknown key, a bool or an empty value, an unsupported property name only
 * the key; the others ("Invalid value \"…\"", "Unsupported value \"…\"", "value N is outside
 * allowed range", a validator's "…: VALUE") quote the value, so they are replaced by our own
 * line (the value is never shown, whether or not it is a secret). */
static void set_error_text(const char *key, const char *value, rd_kafka_conf_res_t res,
                           const char *es, char *out, size_t outlen) {
        char exact[300];
        snprintf(exact, sizeof exact, "Invalid value for configuration property \"%s\"", key);
        bool value_free = res == RD_KAFKA_CONF_UNKNOWN ||
                          strstr(es, "cannot be set to empty value") ||
                          strncmp(es, "Expected bool value for ", 24) == 0 ||
                          strstr(es, "not supported in this build") ||
                          strcmp(es, exact) == 0;
        if (value_free && !(value[0] && strstr(es, value)))
                snprintf(out, outlen, "%.500s", es);
        else
                snprintf(out, outlen, "librdkafka refuses the value of %s (not shown)", key);
}

/* Whitespace around keys and at the start of values: what rd_kafka_conf_set() (isspace)
 * and Java's Properties (space, tab, form feed) drop, CR and LF aside (line ends). */
static bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\f' || c == '\v'; }

/* s for a one-line message: control bytes as '?', at most about 100 bytes. */
static void shown(const char *s, char *buf, size_t len) {
        size_t n = 0;
        for (; *s && n + 4 < len && n < 100; s++)
                buf[n++] = (unsigned char) *s < 0x20 || *s == 0x7f ? '?' : *s;
        if (*s && n + 4 <= len) {
                memcpy(buf + n, "...", 3);
                n += 3;
        }
        buf[n] = '\0';
}

/* One "host:port" (IPv6 as "[addr]:port"), the form librdkafka uses as the node name of a
 * bootstrap broker, so that the answering broker's name compares equal. */
int kafka_conf_bootstrap_check(const char *s, char *errbuf, size_t errlen) {
        char q[128];
        shown(s, q, sizeof q);
        if (strchr(s, ',')) {
                snprintf(errbuf, errlen, "bootstrap \"%s\" names several listeners; it must be "
                         "exactly the local broker's one host:port", q);
                return -EINVAL;
        }
        if (strstr(s, "://")) {
                snprintf(errbuf, errlen, "bootstrap \"%s\": give host:port without a protocol "
                         "prefix (set security.protocol in the client config)", q);
                return -EINVAL;
        }
        char host[PARSE_HOST_MAX];
        uint16_t port;
        if (parse_hostport(s, 0, host, sizeof host, &port) < 0) {
                snprintf(errbuf, errlen, "bootstrap \"%s\" is not host:port (IPv6 as [addr]:port)",
                         q);
                return -EINVAL;
        }
        return 0;
}

static int read_small_file(const char *path, char **ret, size_t *ret_len, char *errbuf,
                           size_t errlen) {
        int r = fsx_read_file(path, KAFKA_CONF_MAX_BYTES, ret, ret_len);
        if (r == -EFBIG) {
                snprintf(errbuf, errlen, "%s: larger than %d bytes", path, KAFKA_CONF_MAX_BYTES);
                return -E2BIG;
        }
        if (r < 0)
                snprintf(errbuf, errlen, "%s: cannot open: %s", path,
                         r == -EINVAL ? "not a regular file" : strerror(-r));
        return r;
}

static int conf_add(struct kafka_conf *c, const char *key, size_t klen, const char *value,
                    size_t vlen, unsigned line) {
        struct conf_entry *grown = realloc(c->v, (c->n + 1) * sizeof *grown);
        if (!grown)
                return -ENOMEM;
        c->v = grown;
        char *k = strndup(key, klen), *v = strndup(value, vlen);
        if (!k || !v) {
                free(k);
                secret_free(v);
                return -ENOMEM;
        }
        c->v[c->n++] = (struct conf_entry){ k, v, line };
        return 0;
}

/* Parses "key=value" lines, reading a value as librdkafka and Kafka's own tools would take
 * it (see README, --client-config):
 * - a line ends at LF; a CR right before it is dropped (a file edited on Windows);
 * - blank lines and lines whose first non-blank character is '#' are skipped;
 * - the key is the text before the first '=', without blanks around it;
 * - the value is the rest of the line without its leading blanks and WITH its trailing ones:
 *   rd_kafka_conf_set() drops leading whitespace of a string value itself and keeps trailing
 *   whitespace, and Java's Properties.load() does the same, so a password that ends in spaces
 *   reaches the broker intact (kcat -F is the odd one out: it trims the end of each line).
 * No escapes or continuations: a backslash is an ordinary character, and a malformed line is
 * an error, never a silently different value. */
static int conf_parse(struct kafka_conf *c, const char *path, char *text, size_t len,
                      char *errbuf, size_t errlen) {
        unsigned line = 0;
        size_t pos = 0;
        while (pos < len) {
                line++;
                char *start = text + pos;
                char *nl = memchr(start, '\n', len - pos);
                size_t llen = nl ? (size_t) (nl - start) : len - pos;
                pos += llen + (nl ? 1 : 0);

                if (memchr(start, '\0', llen)) {
                        snprintf(errbuf, errlen, "%s:%u: NUL byte in line", path, line);
                        return -EINVAL;
                }
                if (llen && start[llen - 1] == '\r')
                        llen--;
                /* Java ends a line at a lone CR too: refuse what two readers would split
                 * differently. */
                if (memchr(start, '\r', llen)) {
                        snprintf(errbuf, errlen, "%s:%u: carriage return inside the line", path, line);
                        return -EINVAL;
                }
                while (llen && is_blank(*start)) {
                        start++;
                        llen--;
                }
                if (llen == 0 || start[0] == '#')
                        continue;

                char *eq = memchr(start, '=', llen);
                if (!eq) {
                        snprintf(errbuf, errlen, "%s:%u: expected key=value", path, line);
                        return -EINVAL;
                }
                size_t klen = (size_t) (eq - start);
                while (klen && is_blank(start[klen - 1]))
                        klen--;
                if (klen == 0) {
                        snprintf(errbuf, errlen, "%s:%u: empty key before '='", path, line);
                        return -EINVAL;
                }
                /* Only the key's first word is quoted: in "sasl.password hunter2=x" the rest
                 * may well be the password. */
                for (size_t i = 0; i < klen; i++)
                        if (is_blank(start[i])) {
                                snprintf(errbuf, errlen, "%s:%u: space inside key \"%.*s ...\"",
                                         path, line, (int) i, start);
                                return -EINVAL;
                        }
                char *val = eq + 1;
                size_t vlen = llen - (size_t) (val - start);
                while (vlen && is_blank(*val)) {
                        val++;
                        vlen--;
                }
                for (size_t i = 0; i < c->n; i++)
                        if (strlen(c->v[i].key) == klen && memcmp(c->v[i].key, start, klen) == 0) {
                                snprintf(errbuf, errlen, "%s:%u: duplicate key \"%.*s\" (first "
                                         "set on line %u)", path, line, (int) klen, start,
                                         c->v[i].line);
                                return -EINVAL;
                        }
                if (c->n >= KAFKA_CONF_MAX_ENTRIES) {
                        snprintf(errbuf, errlen, "%s:%u: more than %d properties", path, line,
                                 KAFKA_CONF_MAX_ENTRIES);
                        return -E2BIG;
                }
                if (conf_add(c, start, klen, val, vlen, line) < 0) {
                        snprintf(errbuf, errlen, "%s: out of memory", path);
                        return -ENOMEM;
                }
        }
        return 0;
}

/* Why a key may not come from the file, or NULL. The check sets some keys itself: a file
 * must not change them, or the local-broker proof (one bootstrap listener, sparse
 * connections) or the log routing would no longer hold. Others make librdkafka load a library
 * (the moment the property is set) or run a shell command (at every client creation, that is
 * every check): a probe sidecar has no business running code a file names. */
static const char *key_refused(const char *key) {
        static const char *const own[] = { "enable.sparse.connections", "log_cb", "error_cb",
                                           "opaque" };
        for (size_t i = 0; i < sizeof own / sizeof *own; i++)
                if (strcmp(key, own[i]) == 0)
                        return "is set by kpa-agent";
        if (strcmp(key, "plugin.library.paths") == 0 || strcmp(key, "ssl.engine.location") == 0)
                return "is not allowed: librdkafka would load that library into kpa-agent";
        if (strcmp(key, "sasl.kerberos.kinit.cmd") == 0)
                return "is not allowed: librdkafka would run that command at every check";
        return NULL;
}

/* Lets librdkafka validate each property now, so a typo is reported with its line once,
 * at load, instead of failing every check. */
static int conf_validate(const struct kafka_conf *c, const char *path, char *errbuf,
                         size_t errlen) {
        rd_kafka_conf_t *rc = rd_kafka_conf_new();
        if (!rc) {
                snprintf(errbuf, errlen, "out of memory");
                return -ENOMEM;
        }
        int r = 0;
        for (size_t i = 0; i < c->n && r == 0; i++) {
                const struct conf_entry *e = &c->v[i];
                char es[512];
                const char *refused = key_refused(e->key);
                if (refused) {
                        snprintf(errbuf, errlen, "%s:%u: %s %s", path, e->line, e->key, refused);
                        r = -EINVAL;
                } else {
                        rd_kafka_conf_res_t res = rd_kafka_conf_set(rc, e->key, e->value, es, sizeof es);
                        if (res != RD_KAFKA_CONF_OK) {
                                char why[600];
                                set_error_text(e->key, e->value, res, es, why, sizeof why);
                                snprintf(errbuf, errlen, "%s:%u: %s", path, e->line, why);
                                r = -EINVAL;
                        }
                }
                secret_wipe(es, sizeof es);
        }
        rd_kafka_conf_destroy(rc);
        return r;
}

/* With TLS, a key store and a certificate or key given otherwise are refused: kpa-agent hands
 * librdkafka the store's certificate and key in memory (see kafka.c), where librdkafka would
 * let the store override the others; two client certificates are a mistake either way. */
static int conf_one_client_certificate(const struct kafka_conf *c, const char *path,
                                       char *errbuf, size_t errlen) {
        static const char *const others[] = { "ssl.certificate.location", "ssl.certificate.pem",
                                              "ssl.key.location", "ssl.key.pem" };
        if (!kafka_conf_tls(c) || !kafka_conf_get(c, "ssl.keystore.location"))
                return 0;
        for (size_t i = 0; i < sizeof others / sizeof *others; i++)
                if (kafka_conf_get(c, others[i])) {
                        snprintf(errbuf, errlen, "%s: ssl.keystore.location and %s are both set "
                                 "(expected one client certificate)", path, others[i]);
                        return -EINVAL;
                }
        return 0;
}

/* Values worth hiding in librdkafka's texts: every value of a sensitive key, and every other
 * value of at least 5 bytes (long enough not to be a word of librdkafka's own text) that is
 * not a number or a boolean. Not the bootstrap address: the agent names it in every failed
 * check and on /status. */
static bool worth_hiding(const struct conf_entry *e) {
        if (strcmp(e->key, "bootstrap.servers") == 0 || strcmp(e->key, "metadata.broker.list") == 0 ||
            !e->value[0])
                return false;
        if (key_is_sensitive(e->key))
                return true;
        size_t n = strlen(e->value);
        return n >= 5 && strspn(e->value, "0123456789") != n && strcasecmp(e->value, "false") != 0;
}

static int by_length_desc(const void *a, const void *b) {
        size_t la = ((const struct hidden *) a)->len, lb = ((const struct hidden *) b)->len;
        return la < lb ? 1 : la > lb ? -1 : 0;
}

static int hide_list(struct kafka_conf *c) {
        c->hide = calloc(c->n ? c->n : 1, sizeof *c->hide);
        if (!c->hide)
                return -ENOMEM;
        for (size_t i = 0; i < c->n; i++)
                if (worth_hiding(&c->v[i]))
                        c->hide[c->n_hide++] = (struct hidden){ c->v[i].value, strlen(c->v[i].value),
                                                                key_is_sensitive(c->v[i].key) };
        qsort(c->hide, c->n_hide, sizeof *c->hide, by_length_desc);
        return 0;
}

static bool word_char(char ch) {
        return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
               ch == '_';
}

void kafka_conf_redact(const struct kafka_conf *c, const char *text, char *out, size_t outlen) {
        static const char mark[] = "(value hidden)";
        size_t o = 0;
        if (!outlen)
                return;
        for (const char *p = text; *p && o + 1 < outlen;) {
                size_t hit = 0;
                for (size_t i = 0; i < c->n_hide && !hit; i++) {
                        const struct hidden *h = &c->hide[i];
                        if (strncmp(p, h->value, h->len) == 0 &&
                            (h->secret || ((p == text || !word_char(p[-1])) && !word_char(p[h->len]))))
                                hit = h->len;
                }
                if (!hit) {
                        out[o++] = *p++;
                        continue;
                }
                size_t m = sizeof mark - 1 < outlen - 1 - o ? sizeof mark - 1 : outlen - 1 - o;
                memcpy(out + o, mark, m);
                o += m;
                p += hit;
        }
        out[o] = '\0';
}

/* FNV-1a over the line with each run of digits as one '#' and librdkafka's "N identical error(s) suppressed"
 * count left out, so that the same event with another duration, port or count is one line. */
static uint64_t line_hash(const char *s) {
        uint64_t h = 14695981039346656037ULL;
        for (; *s; s++) {
                if (strncmp(s, ", ", 2) == 0) {
                        const char *q = s + 2;
                        while (*q >= '0' && *q <= '9')
                                q++;
                        if (q > s + 2 && strncmp(q, " identical error(s) suppressed", 30) == 0) {
                                s = q + 29;
                                continue;
                        }
                }
                bool digit = *s >= '0' && *s <= '9';
                h = (h ^ (unsigned char) (digit ? '#' : *s)) * 1099511628211ULL;
                while (digit && s[1] >= '0' && s[1] <= '9')
                        s++;
        }
        return h;
}

bool kafka_conf_log_once(struct kafka_conf *c, const char *line, uint64_t now_ms) {
        uint64_t h = line_hash(line);
        bool emit = true;
        pthread_mutex_lock(&c->lock);
        size_t oldest = 0;
        for (size_t i = 0; i < c->n_seen; i++) {
                if (c->seen[i].hash == h) {
                        emit = now_ms - c->seen[i].at_ms >= KAFKA_CONF_SEEN_AGAIN_MS;
                        if (emit)
                                c->seen[i].at_ms = now_ms;
                        pthread_mutex_unlock(&c->lock);
                        return emit;
                }
                if (c->seen[i].at_ms < c->seen[oldest].at_ms)
                        oldest = i;
        }
        /* A new line: remember it, in place of the longest-remembered one when full. */
        size_t slot = c->n_seen < KAFKA_CONF_SEEN_MAX ? c->n_seen++ : oldest;
        c->seen[slot] = (struct seen_line){ h, now_ms };
        pthread_mutex_unlock(&c->lock);
        return emit;
}

int kafka_conf_load(const char *path, const char *bootstrap_override, struct kafka_conf **ret,
                    char *errbuf, size_t errlen) {
        struct kafka_conf *c = calloc(1, sizeof *c);
        if (!c) {
                snprintf(errbuf, errlen, "out of memory");
                return -ENOMEM;
        }
        atomic_init(&c->refs, 1);
        pthread_mutex_init(&c->lock, NULL);
        int r = 0;
        if (path) {
                char *text = NULL;
                size_t len = 0;
                r = read_small_file(path, &text, &len, errbuf, errlen);
                if (r == 0) {
                        r = conf_parse(c, path, text, len, errbuf, errlen);
                        secret_wipe(text, len);
                        free(text);
                }
                if (r == 0)
                        r = conf_validate(c, path, errbuf, errlen);
                if (r == 0)
                        r = conf_one_client_certificate(c, path, errbuf, errlen);
                if (r < 0)
                        goto fail;
        }

        const char *bs = bootstrap_override ? bootstrap_override
                                            : kafka_conf_get(c, "bootstrap.servers");
        if (!bs || !*bs) {
                snprintf(errbuf, errlen, "no bootstrap address: give --bootstrap or set "
                         "bootstrap.servers in the client config");
                r = -EINVAL;
                goto fail;
        }
        r = kafka_conf_bootstrap_check(bs, errbuf, errlen);
        if (r < 0)
                goto fail;
        c->bootstrap = strdup(bs);
        if (!c->bootstrap || hide_list(c) < 0) {
                snprintf(errbuf, errlen, "out of memory");
                r = -ENOMEM;
                goto fail;
        }
        *ret = c;
        return 0;
fail:
        kafka_conf_free(c);
        return r;
}


int kafka_conf_set(rd_kafka_conf_t *rc, const char *key, const char *value, char *errbuf,
                   size_t errlen) {
        char es[512];
        int r = 0;
        rd_kafka_conf_res_t res = rd_kafka_conf_set(rc, key, value, es, sizeof es);
        if (res != RD_KAFKA_CONF_OK) {
                char why[600];
                set_error_text(key, value, res, es, why, sizeof why);
                snprintf(errbuf, errlen, "client config: %s", why);
                r = -EINVAL;
        }
        secret_wipe(es, sizeof es);
        return r;
}

static bool listed(const char *const *keys, const char *key) {
        for (; keys && *keys; keys++)
                if (strcmp(*keys, key) == 0)
                        return true;
        return false;
}

int kafka_conf_apply(const struct kafka_conf *c, rd_kafka_conf_t *rc, const char *const *skip,
                     char *errbuf, size_t errlen) {
        for (size_t i = 0; i < c->n; i++)
                if (!listed(skip, c->v[i].key) &&
                    kafka_conf_set(rc, c->v[i].key, c->v[i].value, errbuf, errlen) < 0)
                        return -EINVAL;
        return 0;
}

bool kafka_conf_tls(const struct kafka_conf *c) {
        const char *p = kafka_conf_get(c, "security.protocol");
        return p && (strcasecmp(p, "ssl") == 0 || strcasecmp(p, "sasl_ssl") == 0);
}
