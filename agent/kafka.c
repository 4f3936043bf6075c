#include "kpa/kafka.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "kpa/fsx.h"
#include "kpa/log.h"
#include "kpa/parse.h"
#include "kpa/secret.h"

/* ------------------------------------------------------------------------------------------
 * Client configuration */

struct conf_entry {
        char *key;
        char *value;
        unsigned line;
};

struct kafka_conf {
        struct conf_entry *v;
        size_t n;
        char *bootstrap;        /* "host:port", exactly as librdkafka names the node */
};

uint64_t kafka_now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

struct kafka_conf *kafka_conf_free(struct kafka_conf *c) {
        if (!c)
                return NULL;
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

/* Properties whose values librdkafka itself treats as sensitive, or that name key material:
 * their values never reach an error message, not even through librdkafka's errstr. */
static bool key_is_sensitive(const char *key) {
        static const char *const marks[] = { "password", "secret", ".pem", "sasl.username",
                                             "oauthbearer.config", "ssl.key", "ssl_key" };
        for (size_t i = 0; i < sizeof marks / sizeof *marks; i++)
                if (strstr(key, marks[i]))
                        return true;
        return false;
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\f'; }

/* Checks that s is one "host:port" (IPv6 as "[addr]:port"), the form librdkafka uses as the
 * node name of a bootstrap broker, so that the answering broker's name compares equal. */
static int bootstrap_check(const char *s, char *errbuf, size_t errlen) {
        if (strchr(s, ',')) {
                snprintf(errbuf, errlen, "bootstrap \"%s\" names several listeners; it must be "
                         "exactly the local broker's one host:port", s);
                return -EINVAL;
        }
        if (strstr(s, "://")) {
                snprintf(errbuf, errlen, "bootstrap \"%s\": give host:port without a protocol "
                         "prefix (set security.protocol in the client config)", s);
                return -EINVAL;
        }
        const char *colon = strrchr(s, ':');
        uint64_t port;
        bool bracketed = s[0] == '[';
        if (!colon || colon == s || parse_u64(colon + 1, 1, 65535, &port) != 0 ||
            (bracketed && colon[-1] != ']') || (!bracketed && memchr(s, ':', (size_t) (colon - s)))) {
                snprintf(errbuf, errlen, "bootstrap \"%s\" is not host:port (IPv6 as [addr]:port)",
                         s);
                return -EINVAL;
        }
        for (const char *p = s; *p; p++)
                if (is_space(*p) || *p == '\n' || *p == '/') {
                        snprintf(errbuf, errlen, "bootstrap \"%s\" is not host:port", s);
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

/* Parses "key=value" lines. The file is librdkafka's format (as kcat's -F reads it), not
 * Java properties: no escapes or continuations, so a malformed line is an error, never a
 * silently different value. */
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
                /* Trim the line, then skip blanks and comments. */
                while (llen && is_space(*start)) {
                        start++;
                        llen--;
                }
                while (llen && is_space(start[llen - 1]))
                        llen--;
                if (llen == 0 || start[0] == '#')
                        continue;

                char *eq = memchr(start, '=', llen);
                if (!eq) {
                        snprintf(errbuf, errlen, "%s:%u: expected key=value", path, line);
                        return -EINVAL;
                }
                size_t klen = (size_t) (eq - start);
                while (klen && is_space(start[klen - 1]))
                        klen--;
                if (klen == 0) {
                        snprintf(errbuf, errlen, "%s:%u: empty key before '='", path, line);
                        return -EINVAL;
                }
                for (size_t i = 0; i < klen; i++)
                        if (is_space(start[i])) {
                                snprintf(errbuf, errlen, "%s:%u: space inside key \"%.*s\"",
                                         path, line, (int) klen, start);
                                return -EINVAL;
                        }
                char *val = eq + 1;
                size_t vlen = llen - (size_t) (val - start);
                while (vlen && is_space(*val)) {
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

/* Keys the check sets itself: a file must not change them, or the local-broker proof (one
 * bootstrap listener, sparse connections) or the log routing would no longer hold. */
/* Keys the agent sets itself, and plugin.library.paths: librdkafka loads those libraries the
 * moment the property is set, and a probe sidecar has no business running plugins. */
static bool key_is_reserved(const char *key) {
        return strcmp(key, "enable.sparse.connections") == 0 || strcmp(key, "log_cb") == 0 ||
               strcmp(key, "error_cb") == 0 || strcmp(key, "opaque") == 0 ||
               strcmp(key, "plugin.library.paths") == 0;
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
                if (key_is_reserved(e->key)) {
                        snprintf(errbuf, errlen, "%s:%u: %s is set by kpa-agent or not allowed",
                                 path, e->line, e->key);
                        r = -EINVAL;
                } else if (rd_kafka_conf_set(rc, e->key, e->value, es, sizeof es) !=
                           RD_KAFKA_CONF_OK) {
                        if (key_is_sensitive(e->key))
                                snprintf(errbuf, errlen, "%s:%u: invalid value for %s", path,
                                         e->line, e->key);
                        else
                                snprintf(errbuf, errlen, "%s:%u: %s", path, e->line, es);
                        r = -EINVAL;
                }
                secret_wipe(es, sizeof es);
        }
        rd_kafka_conf_destroy(rc);
        return r;
}

int kafka_conf_load(const char *path, const char *bootstrap_override, struct kafka_conf **ret,
                    char *errbuf, size_t errlen) {
        struct kafka_conf *c = calloc(1, sizeof *c);
        if (!c) {
                snprintf(errbuf, errlen, "out of memory");
                return -ENOMEM;
        }
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
        r = bootstrap_check(bs, errbuf, errlen);
        if (r < 0)
                goto fail;
        c->bootstrap = strdup(bs);
        if (!c->bootstrap) {
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

/* ------------------------------------------------------------------------------------------
 * Check context and min.insync.replicas cache */

struct minisr_entry {
        char *topic;
        int min_isr;
};

struct minisr_cache {
        struct minisr_entry *v;     /* sorted by topic */
        size_t n;
        int default_min_isr;
        bool fetched_ok;            /* the last attempt succeeded */
        bool attempted;
        uint64_t attempted_ms;
        char note[KAFKA_NOTE_MAX];  /* why values are unknown, from the last attempt */
};

struct kafka_client {
        struct kafka_conf *conf;
        struct kafka_client_opts o;
        struct minisr_cache cache;
};

static void cache_clear(struct minisr_cache *mc) {
        for (size_t i = 0; i < mc->n; i++)
                free(mc->v[i].topic);
        free(mc->v);
        *mc = (struct minisr_cache){ .default_min_isr = -1 };
}

int kafka_client_new(struct kafka_conf *conf, const struct kafka_client_opts *o,
                     struct kafka_client **ret, char *errbuf, size_t errlen) {
        if (!conf || o->timeout_ms == 0 || o->timeout_ms > INT32_MAX) {
                snprintf(errbuf, errlen, "check timeout must be between 1ms and %" PRId32 "ms",
                         INT32_MAX);
                kafka_conf_free(conf);
                return -EINVAL;
        }
        struct kafka_client *kc = calloc(1, sizeof *kc);
        if (!kc) {
                snprintf(errbuf, errlen, "out of memory");
                kafka_conf_free(conf);
                return -ENOMEM;
        }
        kc->conf = conf;
        kc->o = *o;
        if (kc->o.config_ttl_ms == 0)
                kc->o.config_ttl_ms = 5 * 60 * 1000;
        cache_clear(&kc->cache);
        *ret = kc;
        return 0;
}

struct kafka_client *kafka_client_free(struct kafka_client *kc) {
        if (!kc)
                return NULL;
        cache_clear(&kc->cache);
        kafka_conf_free(kc->conf);
        free(kc);
        return NULL;
}

void kafka_client_set_conf(struct kafka_client *kc, struct kafka_conf *conf) {
        kafka_conf_free(kc->conf);
        kc->conf = conf;
        cache_clear(&kc->cache);
}

uint64_t kafka_client_timeout_ms(const struct kafka_client *kc) { return kc->o.timeout_ms; }

/* ------------------------------------------------------------------------------------------
 * One librdkafka handle per check */

/* What librdkafka reported while the check ran, read on the checking thread only (error
 * events are served by rd_kafka_poll on that thread). */
struct check_events {
        char last_error[320];
        rd_kafka_resp_err_t last_err;
};

static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque) {
        (void) rk;
        struct check_events *ev = opaque;
        /* "1/1 brokers are down" follows the error that says why; keep the latter. */
        if (err == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN && ev->last_error[0])
                return;
        ev->last_err = (rd_kafka_resp_err_t) err;
        snprintf(ev->last_error, sizeof ev->last_error, "%s", reason);
}

/* librdkafka's own lines are supporting detail: every failure that matters also ends up in
 * the check's result, which the agent reports and logs on change. So its errors are logged
 * at info (a broker that is down for minutes would otherwise write a warning every check),
 * and its notices and debug output at debug. Only critical conditions stay errors. */
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
        enum log_level l = level <= LOG_CRIT ? LOG_LEVEL_ERROR
                           : level <= LOG_WARNING ? LOG_LEVEL_INFO
                                                  : LOG_LEVEL_DEBUG;
        cJSON *f = cJSON_CreateObject();
        if (f) {
                cJSON_AddStringToObject(f, "fac", fac);
                cJSON_AddStringToObject(f, "client", rd_kafka_name(rk));
                cJSON_AddNumberToObject(f, "syslog_level", level);
        }
        log_fields(l, "rdkafka", f, "%s", buf);
}

static int set_prop(rd_kafka_conf_t *rc, const char *key, const char *value, char *errbuf,
                    size_t errlen) {
        char es[512];
        int r = 0;
        if (rd_kafka_conf_set(rc, key, value, es, sizeof es) != RD_KAFKA_CONF_OK) {
                if (key_is_sensitive(key))
                        snprintf(errbuf, errlen, "client config: invalid value for %s", key);
                else
                        snprintf(errbuf, errlen, "client config: %.400s", es);
                r = -EINVAL;
        }
        secret_wipe(es, sizeof es);
        return r;
}

static rd_kafka_t *handle_new(const struct kafka_client *kc, struct check_events *ev,
                              char *errbuf, size_t errlen) {
        rd_kafka_conf_t *rc = rd_kafka_conf_new();
        if (!rc) {
                snprintf(errbuf, errlen, "out of memory");
                return NULL;
        }
        /* Each property has its own valid range in librdkafka. */
        char tmo[24], setup[24], sock[24];
        uint64_t t = kc->o.timeout_ms;
        snprintf(tmo, sizeof tmo, "%" PRIu64, t > 300000 ? 300000 : t);
        snprintf(setup, sizeof setup, "%" PRIu64, t < 1000 ? 1000 : t);
        snprintf(sock, sizeof sock, "%" PRIu64, t < 10 ? 10 : t > 300000 ? 300000 : t);
        /* Defaults that keep one check inside its deadline; a client config may override
         * them. reconnect.backoff.max.ms is short so that a broker that comes back during a
         * check is retried within it. log.connection.close keeps its default (true): a
         * connection closed during the first request is how a security.protocol mismatch
         * shows, and librdkafka only reports it as an error event when that is on. */
        const char *defaults[][2] = {
                { "client.id", "kpa-agent" },
                { "socket.connection.setup.timeout.ms", setup },
                { "api.version.request.timeout.ms", tmo },
                { "socket.timeout.ms", sock },
                { "reconnect.backoff.ms", "50" },
                { "reconnect.backoff.max.ms", "500" },
        };
        for (size_t i = 0; i < sizeof defaults / sizeof *defaults; i++)
                if (set_prop(rc, defaults[i][0], defaults[i][1], errbuf, errlen) < 0)
                        goto fail;
        for (size_t i = 0; i < kc->conf->n; i++)
                if (set_prop(rc, kc->conf->v[i].key, kc->conf->v[i].value, errbuf, errlen) < 0)
                        goto fail;
        /* The proof rests on these two: the only broker known at start is the local
         * listener, and no other broker is connected unless a request needs it. */
        if (set_prop(rc, "bootstrap.servers", kc->conf->bootstrap, errbuf, errlen) < 0 ||
            set_prop(rc, "enable.sparse.connections", "true", errbuf, errlen) < 0)
                goto fail;
        rd_kafka_conf_set_log_cb(rc, on_log);
        rd_kafka_conf_set_error_cb(rc, on_error);
        rd_kafka_conf_set_opaque(rc, ev);

        char es[512];
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, rc, es, sizeof es);
        if (!rk) {
                /* rd_kafka_new did not take the configuration. */
                rd_kafka_conf_destroy(rc);
                snprintf(errbuf, errlen, "cannot create the Kafka client: %.400s", es);
                return NULL;
        }
        return rk;
fail:
        rd_kafka_conf_destroy(rc);
        return NULL;
}

/* Turns the last transport error into a hint the way kcat does: what probably went wrong,
 * and which setting to look at. Never quotes a configuration value. */
static const char *hint_for(const char *detail, bool timed_out) {
        if (strstr(detail, "Connection refused"))
                return "nothing accepts connections there: is the broker running, and is "
                       "--bootstrap its listener?";
        if (strstr(detail, "resolve") || strstr(detail, "Name or service not known"))
                return "the host name does not resolve: check --bootstrap";
        /* Checked before TLS: librdkafka's own text for this case mentions SSL listeners. */
        if (strstr(detail, "ApiVersion"))
                return "the broker closed the connection at the first request: "
                       "security.protocol probably does not match the listener (e.g. "
                       "PLAINTEXT against an SSL or SASL listener)";
        if (strstr(detail, "SASL") || strstr(detail, "uthentication"))
                return "SASL authentication failed: check sasl.mechanism, sasl.username and "
                       "sasl.password in the client config";
        if (strstr(detail, "SSL") || strstr(detail, "certificate"))
                return "TLS failed: check ssl.ca.location (the CA that signed the broker's "
                       "certificate) and that the listener speaks TLS";
        if (strstr(detail, "Connection reset") || strstr(detail, "Disconnected"))
                return "the broker closed the connection: it may be restarting, or "
                       "security.protocol does not match the listener";
        if (timed_out)
                return "the broker did not answer in time: it may be starting or overloaded "
                       "(raise --check-timeout if this persists)";
        return NULL;
}

static void set_error(struct kafka_result *r, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));
static void set_error(struct kafka_result *r, const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(r->error, sizeof r->error, fmt, ap);
        va_end(ap);
}

/* The node name ("host:port") from a broker name "[proto://]host:port/suffix". */
static void broker_nodename(const char *name, char *buf, size_t len) {
        const char *p = strstr(name, "://");
        p = p ? p + 3 : name;
        const char *slash = strrchr(p, '/');
        size_t n = slash ? (size_t) (slash - p) : strlen(p);
        snprintf(buf, len, "%.*s", (int) n, p);
}

static int32_t broker_id_by_address(const rd_kafka_metadata_t *md, const char *nodename) {
        char buf[300];
        for (int i = 0; i < md->broker_cnt; i++) {
                const char *h = md->brokers[i].host;
                snprintf(buf, sizeof buf, strchr(h, ':') ? "[%s]:%d" : "%s:%d", h,
                         md->brokers[i].port);
                if (strcmp(buf, nodename) == 0)
                        return md->brokers[i].id;
        }
        return -1;
}

int kafka_snapshot_from_metadata(const rd_kafka_metadata_t *md, int32_t answered_by,
                                  struct snapshot **ret, char *errbuf, size_t errlen) {
        if (md->broker_cnt < 0 || md->broker_cnt > KAFKA_MAX_BROKERS ||
            md->topic_cnt < 0 || md->topic_cnt > KAFKA_MAX_TOPICS) {
                snprintf(errbuf, errlen, "metadata too large: %d brokers, %d topics (limits %d, "
                         "%d)", md->broker_cnt, md->topic_cnt, KAFKA_MAX_BROKERS,
                         KAFKA_MAX_TOPICS);
                return -E2BIG;
        }
        long total = 0;
        for (int i = 0; i < md->topic_cnt; i++) {
                const rd_kafka_metadata_topic_t *t = &md->topics[i];
                total += t->partition_cnt > 0 ? t->partition_cnt : 0;
                for (int j = 0; j < t->partition_cnt; j++)
                        if (t->partitions[j].replica_cnt > KAFKA_MAX_REPLICAS ||
                            t->partitions[j].isr_cnt > KAFKA_MAX_REPLICAS) {
                                snprintf(errbuf, errlen, "metadata too large: %s [%" PRId32
                                         "] lists more than %d replicas", t->topic,
                                         t->partitions[j].id, KAFKA_MAX_REPLICAS);
                                return -E2BIG;
                        }
        }
        if (total > KAFKA_MAX_PARTITIONS) {
                snprintf(errbuf, errlen, "metadata too large: %ld partitions (limit %d)", total,
                         KAFKA_MAX_PARTITIONS);
                return -E2BIG;
        }

        struct snapshot *s = calloc(1, sizeof *s);
        if (!s)
                goto nomem;
        s->controller_id = -1;   /* librdkafka 2.0 parses it but does not expose it */
        s->answered_by = answered_by;
        s->default_min_isr = -1;
        s->brokers = malloc(md->broker_cnt > 0 ? (size_t) md->broker_cnt * sizeof *s->brokers : 1);
        if (!s->brokers)
                goto nomem;
        for (int i = 0; i < md->broker_cnt; i++)
                s->brokers[i] = md->brokers[i].id;
        s->n_brokers = md->broker_cnt;
        s->topics = calloc(md->topic_cnt > 0 ? (size_t) md->topic_cnt : 1, sizeof *s->topics);
        if (!s->topics)
                goto nomem;
        for (int i = 0; i < md->topic_cnt; i++) {
                const rd_kafka_metadata_topic_t *mt = &md->topics[i];
                struct snap_topic *t = &s->topics[i];
                s->n_topics = i + 1;
                t->min_isr = -1;
                t->err = (int16_t) mt->err;
                t->name = strdup(mt->topic ? mt->topic : "");
                int pc = mt->partition_cnt > 0 ? mt->partition_cnt : 0;
                size_t n_ids = 0;
                for (int j = 0; j < pc; j++)
                        n_ids += (size_t) (mt->partitions[j].replica_cnt > 0 ? mt->partitions[j].replica_cnt : 0) +
                                 (size_t) (mt->partitions[j].isr_cnt > 0 ? mt->partitions[j].isr_cnt : 0);
                t->partitions = calloc(pc > 0 ? (size_t) pc : 1, sizeof *t->partitions);
                /* One block per topic for every replica and ISR list (see snapshot.h). */
                t->ids = malloc(n_ids > 0 ? n_ids * sizeof *t->ids : 1);
                if (!t->name || !t->partitions || !t->ids)
                        goto nomem;
                t->n_partitions = pc;
                int32_t *next = t->ids;
                for (int j = 0; j < pc; j++) {
                        const rd_kafka_metadata_partition_t *mp = &mt->partitions[j];
                        struct snap_partition *p = &t->partitions[j];
                        p->id = mp->id;
                        p->leader = mp->leader;
                        p->err = (int16_t) mp->err;
                        p->n_replicas = mp->replica_cnt > 0 ? mp->replica_cnt : 0;
                        p->n_isr = mp->isr_cnt > 0 ? mp->isr_cnt : 0;
                        p->replicas = next;
                        memcpy(next, mp->replicas, (size_t) p->n_replicas * sizeof *next);
                        next += p->n_replicas;
                        p->isr = next;
                        memcpy(next, mp->isrs, (size_t) p->n_isr * sizeof *next);
                        next += p->n_isr;
                }
        }
        *ret = s;
        return 0;
nomem:
        snapshot_free(s);
        snprintf(errbuf, errlen, "out of memory converting metadata");
        return -ENOMEM;
}

/* ------------------------------------------------------------------------------------------
 * min.insync.replicas through DescribeConfigs */

static int entry_cmp(const void *a, const void *b) {
        return strcmp(((const struct minisr_entry *) a)->topic,
                      ((const struct minisr_entry *) b)->topic);
}

static const struct minisr_entry *cache_find(const struct minisr_cache *mc, const char *topic) {
        struct minisr_entry key = { .topic = (char *) topic };
        return mc->n ? bsearch(&key, mc->v, mc->n, sizeof *mc->v, entry_cmp) : NULL;
}

static bool topic_hosted(const struct snap_topic *t, int32_t local_id) {
        if (local_id < 0)
                return true;
        for (int j = 0; j < t->n_partitions; j++)
                for (int k = 0; k < t->partitions[j].n_replicas; k++)
                        if (t->partitions[j].replicas[k] == local_id)
                                return true;
        return false;
}

/* The values are reused for the TTL so that the hot path is one Metadata request. A fetch
 * is due when asked for (e.g. by /prestop), when the TTL ran out, or, when the last fetch
 * worked, once a hosted topic is missing from the cache and the last attempt is older than
 * a tenth of the TTL (a new topic should not wait the whole TTL). */
static bool configs_due(const struct kafka_client *kc, const struct snapshot *s, bool want,
                        uint64_t now) {
        const struct minisr_cache *mc = &kc->cache;
        int32_t local = kc->o.local_id >= 0 ? kc->o.local_id : s->answered_by;
        if (want || !mc->attempted || now - mc->attempted_ms >= kc->o.config_ttl_ms)
                return true;
        if (!mc->fetched_ok || now - mc->attempted_ms < kc->o.config_ttl_ms / 10)
                return false;
        for (int i = 0; i < s->n_topics; i++)
                if (s->topics[i].err == 0 && topic_hosted(&s->topics[i], local) &&
                    !cache_find(mc, s->topics[i].name))
                        return true;
        return false;
}

static int parse_min_isr(const rd_kafka_ConfigResource_t *res) {
        size_t n;
        const rd_kafka_ConfigEntry_t **entries = rd_kafka_ConfigResource_configs(res, &n);
        for (size_t i = 0; i < n; i++) {
                const char *name = rd_kafka_ConfigEntry_name(entries[i]);
                const char *value = rd_kafka_ConfigEntry_value(entries[i]);
                int64_t v;
                if (name && value && strcmp(name, "min.insync.replicas") == 0 &&
                    parse_i64(value, 1, KAFKA_MAX_REPLICAS, &v) == 0)
                        return (int) v;
        }
        return -1;
}

/* Fills mc from one DescribeConfigs round trip; the BROKER resource makes librdkafka send
 * the whole request to the local node. Returns 0, or -errno with note set. */
static int configs_fetch(rd_kafka_t *rk, const struct kafka_client *kc, const struct snapshot *s,
                         uint64_t deadline, struct minisr_cache *mc) {
        /* Without a BROKER resource librdkafka would route the request to the controller,
         * which in KRaft is just some broker (or unknown, waiting out the whole deadline):
         * only the local node, by its configured id or by the id that answered, is asked. */
        int32_t local = kc->o.local_id >= 0 ? kc->o.local_id : s->answered_by;
        if (local < 0) {
                snprintf(mc->note, sizeof mc->note, "min.insync.replicas unknown: the local "
                         "node id is not known");
                return -ENOENT;
        }
        size_t cap = (size_t) s->n_topics + 1, nres = 0;
        rd_kafka_ConfigResource_t **res = calloc(cap, sizeof *res);
        rd_kafka_AdminOptions_t *ao = NULL;
        rd_kafka_queue_t *q = NULL;
        rd_kafka_event_t *ev = NULL;
        int r = -ENOMEM;
        char es[256];

        if (!res)
                goto out;
        char id[16];
        snprintf(id, sizeof id, "%" PRId32, local);
        if (!(res[nres] = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_BROKER, id)))
                goto out;
        nres++;
        /* librdkafka refuses an empty name (NULL); such a topic just stays unknown. */
        for (int i = 0; i < s->n_topics; i++)
                if (s->topics[i].err == 0 && s->topics[i].name[0] &&
                    topic_hosted(&s->topics[i], local) &&
                    (res[nres] = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC,
                                                             s->topics[i].name)))
                        nres++;
        uint64_t now = kafka_now_ms();
        int remain = deadline > now ? (int) (deadline - now) : 0;
        if (remain <= 0) {
                snprintf(mc->note, sizeof mc->note, "min.insync.replicas not fetched: no time "
                         "left in the check");
                r = -ETIMEDOUT;
                goto out;
        }
        ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
        q = rd_kafka_queue_new(rk);
        if (!ao || !q)
                goto out;
        if (rd_kafka_AdminOptions_set_request_timeout(ao, remain, es, sizeof es)) {
                snprintf(mc->note, sizeof mc->note, "min.insync.replicas not fetched: %.200s", es);
                r = -EINVAL;
                goto out;
        }
        rd_kafka_DescribeConfigs(rk, res, nres, ao, q);
        /* A little beyond the request timeout, so that librdkafka's own timeout result
         * arrives rather than ours. */
        ev = rd_kafka_queue_poll(q, remain + 100);
        if (!ev) {
                snprintf(mc->note, sizeof mc->note, "min.insync.replicas not fetched: "
                         "DescribeConfigs timed out");
                r = -ETIMEDOUT;
                goto out;
        }
        if (rd_kafka_event_error(ev)) {
                rd_kafka_resp_err_t e = rd_kafka_event_error(ev);
                snprintf(mc->note, sizeof mc->note, "min.insync.replicas unknown: %s",
                         rd_kafka_event_error_string(ev));
                r = e == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE ? -EOPNOTSUPP : -EIO;
                goto out;
        }
        const rd_kafka_DescribeConfigs_result_t *dr = rd_kafka_event_DescribeConfigs_result(ev);
        size_t n = 0;
        const rd_kafka_ConfigResource_t **rs =
                dr ? rd_kafka_DescribeConfigs_result_resources(dr, &n) : NULL;
        struct minisr_cache nc = { .default_min_isr = -1 };
        nc.v = calloc(n ? n : 1, sizeof *nc.v);
        if (!nc.v)
                goto out;
        int failed = 0;
        for (size_t i = 0; i < n; i++) {
                if (rd_kafka_ConfigResource_error(rs[i])) {
                        failed++;
                        continue;
                }
                int v = parse_min_isr(rs[i]);
                if (rd_kafka_ConfigResource_type(rs[i]) == RD_KAFKA_RESOURCE_BROKER) {
                        nc.default_min_isr = v;
                } else if (v > 0) {
                        nc.v[nc.n].topic = strdup(rd_kafka_ConfigResource_name(rs[i]));
                        if (!nc.v[nc.n].topic) {
                                cache_clear(&nc);
                                goto out;
                        }
                        nc.v[nc.n++].min_isr = v;
                }
        }
        qsort(nc.v, nc.n, sizeof *nc.v, entry_cmp);
        if (failed)
                snprintf(nc.note, sizeof nc.note, "min.insync.replicas unknown for %d of %zu "
                         "resources (DescribeConfigs reported errors)", failed, n);
        cache_clear(mc);
        *mc = nc;
        r = 0;
out:
        if (r == -ENOMEM)
                snprintf(mc->note, sizeof mc->note, "min.insync.replicas not fetched: out of "
                         "memory");
        if (ev)
                rd_kafka_event_destroy(ev);
        if (q)
                rd_kafka_queue_destroy(q);
        if (ao)
                rd_kafka_AdminOptions_destroy(ao);
        for (size_t i = 0; i < nres; i++)
                rd_kafka_ConfigResource_destroy(res[i]);
        free(res);
        return r;
}

static void configs_apply(const struct minisr_cache *mc, struct snapshot *s) {
        s->default_min_isr = mc->default_min_isr;
        for (int i = 0; i < s->n_topics; i++) {
                const struct minisr_entry *e = cache_find(mc, s->topics[i].name);
                s->topics[i].min_isr = e ? e->min_isr : -1;
        }
}

/* ------------------------------------------------------------------------------------------
 * The check */

static int metadata_check(struct kafka_client *kc, rd_kafka_t *rk, struct check_events *ev,
                          uint64_t deadline, bool want_configs, struct kafka_result *ret) {
        const char *bs = kc->conf->bootstrap;
        const rd_kafka_metadata_t *md = NULL;
        uint64_t now = kafka_now_ms();
        int remain = deadline > now ? (int) (deadline - now) : 1;
        rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, &md, remain);
        if (err) {
                /* Serve the error events that explain the failure (connect refused, TLS or
                 * SASL failures) before reporting it. */
                rd_kafka_poll(rk, 0);
                /* Without a transport error event, nothing failed: the connection or the
                 * request was simply not done in time (librdkafka reports a connection not
                 * ready by the deadline as a transport failure). */
                bool failed = ev->last_error[0] != '\0';
                const char *detail = failed ? ev->last_error
                                     : err == RD_KAFKA_RESP_ERR__TRANSPORT
                                             ? "no connection was ready in time (connect or "
                                               "handshake still in progress)"
                                             : rd_kafka_err2str(err);
                const char *hint = hint_for(detail, !failed);
                set_error(ret, "local broker %s did not answer within %" PRIu64 "ms: %s%s%s",
                          bs, kc->o.timeout_ms, detail, hint ? "; hint: " : "",
                          hint ? hint : "");
                return failed ? -EIO : -ETIMEDOUT;
        }

        /* The proof: the reply came from the bootstrap (local) listener, or from a broker
         * librdkafka knows as the local node id. librdkafka gives the bootstrap broker its
         * node id when the id's advertised address is the bootstrap address itself. */
        char node[300];
        int32_t local_id = kc->o.local_id, orig_id = md->orig_broker_id;
        broker_nodename(md->orig_broker_name ? md->orig_broker_name : "", node, sizeof node);
        bool from_listener = strcmp(node, bs) == 0;
        if (from_listener && local_id >= 0 && orig_id >= 0 && orig_id != local_id) {
                set_error(ret, "the listener %s is node %" PRId32 ", not the local node %" PRId32
                          ": --bootstrap points at another broker", bs, orig_id, local_id);
                rd_kafka_metadata_destroy(md);
                return -EPROTO;
        }
        if (!from_listener && !(local_id >= 0 && orig_id == local_id)) {
                set_error(ret, "metadata was answered by %s (node %" PRId32 "), not by the local "
                          "listener %s", md->orig_broker_name ? md->orig_broker_name : "?",
                          orig_id, bs);
                rd_kafka_metadata_destroy(md);
                return -EPROTO;
        }
        int32_t answered_by = md->orig_broker_id >= 0 ? md->orig_broker_id
                                                      : broker_id_by_address(md, bs);
        struct snapshot *s = NULL;
        int r = kafka_snapshot_from_metadata(md, answered_by, &s, ret->error, sizeof ret->error);
        rd_kafka_metadata_destroy(md);
        if (r < 0)
                return r;

        now = kafka_now_ms();
        if (configs_due(kc, s, want_configs, now)) {
                kc->cache.note[0] = '\0';
                int cr = configs_fetch(rk, kc, s, deadline, &kc->cache);
                kc->cache.attempted = true;
                kc->cache.attempted_ms = now;
                kc->cache.fetched_ok = cr == 0;
                ret->configs_fetched = true;
        }
        configs_apply(&kc->cache, s);
        snprintf(ret->note, sizeof ret->note, "%s", kc->cache.note);
        ret->snap = s;
        return 0;
}

void kafka_check(struct kafka_client *kc, bool want_configs, struct kafka_result *ret) {
        *ret = (struct kafka_result){ .started_ms = kafka_now_ms() };
        uint64_t deadline = ret->started_ms + kc->o.timeout_ms;
        struct check_events ev = { .last_error = "" };

        rd_kafka_t *rk = handle_new(kc, &ev, ret->error, sizeof ret->error);
        if (!rk) {
                ret->rc = -EINVAL;
        } else {
                ret->rc = metadata_check(kc, rk, &ev, deadline, want_configs, ret);
                /* A producer with nothing queued has nothing to flush: destroy only joins
                 * librdkafka's threads, which wake up on the terminate op. */
                rd_kafka_destroy(rk);
        }
        ret->finished_ms = kafka_now_ms();
}
