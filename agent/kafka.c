#include "kpa/kafka.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

#include <librdkafka/rdkafka.h>

#include "kpa/canroll.h"
#include "kpa/featprobe.h"
#include "kpa/keystore.h"
#include "kpa/log.h"
#include "kpa/monotime.h"
#include "kpa/minisr.h"
#include "kpa/parse.h"
#include "kpa/resolve.h"
#include "kpa/secret.h"

/* "host:port" with the longest host a Metadata reply may give and a port. */
#define KCONN_HOSTPORT_MAX 300

/* ------------------------------------------------------------------------------------------
 * Check context */

struct kafka_client {
        struct kafka_conf *conf;
        struct kafka_client_opts o;
        struct minisr_cache *cache;
        struct featprobe *features;
        /* The client certificate of conf's ssl.keystore.location, read by the agent (see
         * "The client certificate" below); NULL until a check needs it. */
        struct keystore *ks;
        /* Every broker's advertised address from the last metadata the local broker or a peer
         * gave: where the gate finds other brokers, also once the local broker is silent. */
        struct peer_addr *dir;
        int n_dir;
        int32_t last_view_from;     /* the peer whose metadata the gate read last */
};

struct peer_addr {
        int32_t id;                 /* -1: from fallback_peers, not yet known */
        char hostport[KCONN_HOSTPORT_MAX];
};

int kafka_client_new(struct kafka_conf *conf, const struct kafka_client_opts *o,
                     struct kafka_client **ret, char *errbuf, size_t errlen) {
        if (!conf || o->timeout_ms == 0 || o->timeout_ms > INT32_MAX) {
                snprintf(errbuf, errlen, "check timeout must be between 1ms and %" PRId32 "ms",
                         INT32_MAX);
                kafka_conf_free(conf);
                return -EINVAL;
        }
        struct kafka_client *kc = calloc(1, sizeof *kc);
        struct minisr_cache *mc = minisr_cache_new();
        struct featprobe *fp = featprobe_new(o->features_interval_ms);
        if (!kc || !mc || !fp) {
                snprintf(errbuf, errlen, "out of memory");
                free(kc);
                minisr_cache_free(mc);
                featprobe_free(fp);
                kafka_conf_free(conf);
                return -ENOMEM;
        }
        kc->conf = conf;
        kc->o = *o;
        kc->cache = mc;
        kc->last_view_from = -1;
        kc->features = fp;
        if (kc->o.config_ttl_ms == 0)
                kc->o.config_ttl_ms = 5 * 60 * 1000;
        *ret = kc;
        return 0;
}

struct kafka_client *kafka_client_free(struct kafka_client *kc) {
        if (!kc)
                return NULL;
        minisr_cache_free(kc->cache);
        featprobe_free(kc->features);
        keystore_free(kc->ks);
        free(kc->dir);
        kafka_conf_free(kc->conf);
        free(kc);
        return NULL;
}

void kafka_client_set_conf(struct kafka_client *kc, struct kafka_conf *conf) {
        kafka_conf_free(kc->conf);
        kc->conf = conf;
        minisr_cache_clear(kc->cache);
        /* Nor are the brokers it named. */
        free(kc->dir);
        kc->dir = NULL;
        kc->n_dir = 0;
        kc->last_view_from = -1;
        featprobe_reset(kc->features);
        /* The new configuration may name another store or password. */
        kc->ks = keystore_free(kc->ks);
}

uint64_t kafka_client_timeout_ms(const struct kafka_client *kc) { return 2 * kc->o.timeout_ms; }

/* ------------------------------------------------------------------------------------------
 * The client certificate
 *
 * librdkafka 2.0.2 leaks about 1 KB at every rd_kafka_new() whose configuration names
 * ssl.keystore.location: rd_kafka_ssl_set_certs() allocates an EVP_PKEY and an X509 and then
 * lets PKCS12_parse() overwrite both pointers (OpenSSL 3 sets them to its own objects). Fixed
 * upstream in v2.10.0 (confluentinc/librdkafka#4894, "Client certificate chain is now sent",
 * which also stopped dropping the store's chain); Debian ships 2.0.2. A check every 5 s makes
 * that about 17 MB a day, against the sidecar's 64 MiB limit.
 *
 * So the agent reads the store itself (keystore.c, with PKCS12_parse, as librdkafka does) and
 * gives each check's client the certificate and key in memory (rd_kafka_conf_set_ssl_cert,
 * DER), a path of librdkafka 2.0.2 that frees what it allocates; ssl.keystore.location and
 * ssl.keystore.password are then not passed on. What the client presents is unchanged: the
 * leaf certificate and its key (librdkafka 2.0.2 drops the store's other certificates too;
 * OpenSSL completes the chain from the ssl.ca.location CAs, as before). The store is read
 * at the first check after a (re)load, and read again when its file changes (another inode,
 * size, mtime or ctime: a rewrite, a rename over it, a Secret volume's symlink swap), so a
 * rotated certificate is used from the next check, as when librdkafka read the file at every
 * check. Measured: a stat costs 0.3 us; reading a store as kpa-init writes it (PBKDF2 with
 * 10000 rounds for the MAC, the key and the certificates) 8 ms of CPU. */

static const char *const keystore_keys[] = { "ssl.keystore.location", "ssl.keystore.password",
                                             NULL };

/* Makes kc->ks the store conf names, read again if its file changed. Only with TLS:
 * librdkafka reads no store for a plaintext protocol. 0, or < 0 with the reason in errbuf. */
static int keystore_refresh(struct kafka_client *kc, char *errbuf, size_t errlen) {
        const char *path = kafka_conf_get(kc->conf, "ssl.keystore.location");
        if (!path || !kafka_conf_tls(kc->conf))
                return 0;
        if (kc->ks && !keystore_changed(kc->ks))
                return 0;
        kc->ks = keystore_free(kc->ks);
        char why[300];
        int r = keystore_read(path, kafka_conf_get(kc->conf, "ssl.keystore.password"), &kc->ks,
                              why, sizeof why);
        /* The path is a value of the client config: named by its key only. */
        if (r < 0)
                snprintf(errbuf, errlen, "cannot create the Kafka client: ssl.keystore.location: %s",
                         why);
        return r;
}

/* Gives rc the store's certificate and key; the DER copy of the key is wiped at once
 * (librdkafka keeps its own parsed copy until the handle is destroyed). */
static int keystore_apply(const struct keystore *ks, rd_kafka_conf_t *rc, char *errbuf,
                          size_t errlen) {
        unsigned char *cert = NULL, *key = NULL;
        size_t clen = 0, klen = 0;
        if (keystore_der(ks, &cert, &clen, &key, &klen) < 0) {
                snprintf(errbuf, errlen, "out of memory");
                return -ENOMEM;
        }
        char es[512];
        int r = 0;
        if (rd_kafka_conf_set_ssl_cert(rc, RD_KAFKA_CERT_PUBLIC_KEY, RD_KAFKA_CERT_ENC_DER, cert,
                                       clen, es, sizeof es) != RD_KAFKA_CONF_OK ||
            rd_kafka_conf_set_ssl_cert(rc, RD_KAFKA_CERT_PRIVATE_KEY, RD_KAFKA_CERT_ENC_DER, key,
                                       klen, es, sizeof es) != RD_KAFKA_CONF_OK) {
                /* librdkafka's text names the step and OpenSSL's reason, no key bytes. */
                snprintf(errbuf, errlen, "cannot create the Kafka client: ssl.keystore.location: %.400s", es);
                r = -EINVAL;
        }
        secret_wipe(es, sizeof es);
        secret_wipe(key, klen);
        free(key);
        free(cert);
        return r;
}

/* ------------------------------------------------------------------------------------------
 * One librdkafka handle per check */

/* What librdkafka reported while the check ran, read on the checking thread only (error
 * events are served by rd_kafka_poll on that thread). */
struct check_events {
        struct kafka_conf *conf;    /* the values to hide in librdkafka's texts */
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
        kafka_conf_redact(ev->conf, reason, ev->last_error, sizeof ev->last_error);
}

/* librdkafka's own lines are supporting detail: every failure that matters also ends up in
 * the check's result, which the agent reports and logs on change. So its errors are logged
 * at info, and its notices and debug output at debug; only critical conditions stay errors.
 * Every check makes a new client, which repeats its configuration warnings, and a broker that
 * stays down repeats its connection errors at every check: such a line is logged once an hour
 * per configuration (kafka_conf_log_once). No line shows a value of the client config. */
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
        enum log_level l = level <= LOG_CRIT ? LOG_LEVEL_ERROR
                           : level <= LOG_WARNING ? LOG_LEVEL_INFO
                                                  : LOG_LEVEL_DEBUG;
        struct check_events *ev = rd_kafka_opaque(rk);
        char text[1024];
        kafka_conf_redact(ev->conf, buf, text, sizeof text);
        if (level <= LOG_WARNING && !kafka_conf_log_once(ev->conf, text, monotime_ms()))
                return;
        cJSON *f = cJSON_CreateObject();
        if (f) {
                cJSON_AddStringToObject(f, "fac", fac);
                cJSON_AddStringToObject(f, "client", rd_kafka_name(rk));
                cJSON_AddNumberToObject(f, "syslog_level", level);
        }
        log_fields(l, "rdkafka", f, "%s", text);
}

static rd_kafka_t *handle_new(const struct kafka_client *kc, struct check_events *ev,
                              const char *bootstrap, char *errbuf, size_t errlen) {
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
         * check is retried within it, at most 200ms later (a refused connect costs nothing). log.connection.close keeps its default (true): a
         * connection closed during the first request is how a security.protocol mismatch
         * shows, and librdkafka only reports it as an error event when that is on. */
        const char *defaults[][2] = {
                { "client.id", "kpa-agent" },
                { "socket.connection.setup.timeout.ms", setup },
                { "api.version.request.timeout.ms", tmo },
                { "socket.timeout.ms", sock },
                { "reconnect.backoff.ms", "50" },
                { "reconnect.backoff.max.ms", "200" },
        };
        for (size_t i = 0; i < sizeof defaults / sizeof *defaults; i++)
                if (kafka_conf_set(rc, defaults[i][0], defaults[i][1], errbuf, errlen) < 0)
                        goto fail;
        if (kafka_conf_apply(kc->conf, rc, kc->ks ? keystore_keys : NULL, errbuf, errlen) < 0 ||
            (kc->ks && keystore_apply(kc->ks, rc, errbuf, errlen) < 0))
                goto fail;
        /* The proof rests on these two: the only broker known at start is the local
         * listener, and no other broker is connected unless a request needs it. */
        if (kafka_conf_set(rc, "bootstrap.servers", bootstrap, errbuf, errlen) < 0 ||
            kafka_conf_set(rc, "enable.sparse.connections", "true", errbuf, errlen) < 0)
                goto fail;
        rd_kafka_conf_set_log_cb(rc, on_log);
        rd_kafka_conf_set_error_cb(rc, on_error);
        rd_kafka_conf_set_opaque(rc, ev);

        char es[512];
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, rc, es, sizeof es);
        if (!rk) {
                /* rd_kafka_new did not take the configuration. */
                rd_kafka_conf_destroy(rc);
                char shown[512];
                kafka_conf_redact(kc->conf, es, shown, sizeof shown);
                snprintf(errbuf, errlen, "cannot create the Kafka client: %.400s", shown);
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
        /* Kafka 4.x binds a broker listener only once the controllers have unfenced the
         * broker (it registered and caught up with the metadata log; its log says "Waiting
         * for the broker to be unfenced"), so a refused connection is the normal state of a
         * starting broker, not only of a stopped one. */
        if (strstr(detail, "Connection refused"))
                return "nothing accepts connections there yet: Kafka 4.x opens the listener only "
                       "once the broker is unfenced (registered with the controllers and caught "
                       "up with the metadata log), normal during start-up; if it lasts, see the "
                       "broker's log and check --bootstrap";
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
 * The check */

/* The node that answered at the bootstrap listener when librdkafka could not tell: the one
 * broker whose advertised host:port resolves to an address the bootstrap resolved to (the
 * local node's first). Resolution runs within the check's deadline, at most
 * LISTENER_LOOKUPS_MAX advertised hosts (those on the bootstrap's port). -1 with why (one
 * line) when no broker, or more than one, matches: then nothing proves which broker
 * answered, and a check that must be the local broker's fails. */
#define LISTENER_LOOKUPS_MAX 16

static int32_t listener_node(const rd_kafka_metadata_t *md, const char *bs,
                             const struct resolve_addrs *bootstrap, int32_t local_id,
                             uint64_t deadline, char *why, size_t whylen) {
        int port = bootstrap->v[0].ss_family == AF_INET
                           ? ntohs(((const struct sockaddr_in *) &bootstrap->v[0])->sin_port)
                           : ntohs(((const struct sockaddr_in6 *) &bootstrap->v[0])->sin6_port);
        int32_t found = -1;
        int lookups = 0, matches = 0;
        const char *local_at = NULL;
        int local_port = 0;
        /* Two rounds: the local node's advertised address first, then the others. */
        for (int round = 0; round < 2 && matches < 2; round++)
                for (int i = 0; i < md->broker_cnt && matches < 2; i++) {
                        const rd_kafka_metadata_broker_t *b = &md->brokers[i];
                        if (b->id == local_id) {
                                local_at = b->host;
                                local_port = b->port;
                        }
                        if ((round == 0) != (b->id == local_id) || b->port != port || !b->host ||
                            lookups >= LISTENER_LOOKUPS_MAX)
                                continue;
                        lookups++;
                        struct resolve_addrs a;
                        char e[300];
                        uint64_t now = monotime_ms();
                        if (resolve_host(b->host, (uint16_t) b->port, deadline > now ? deadline - now : 1,
                                         &a, e, sizeof e) == 0 &&
                            resolve_overlap(&a, bootstrap)) {
                                found = b->id;
                                matches++;
                        }
                        /* The local node matched: no other can be the same listener. */
                        if (round == 0 && matches)
                                return found;
                }
        if (matches == 1)
                return found;
        if (matches > 1)
                snprintf(why, whylen, "cannot tell which node answered at %s: several brokers "
                         "advertise addresses that resolve to it", bs);
        else if (local_at)
                snprintf(why, whylen, "cannot tell which node answered at %s: it is no broker's "
                         "advertised address and does not resolve to one; the local node %" PRId32
                         " advertises %.200s:%d: use that as --bootstrap", bs,
                         local_id, local_at, local_port);
        else
                snprintf(why, whylen, "cannot tell which node answered at %s: it is no broker's "
                         "advertised address and does not resolve to one, and the local node %" PRId32
                         " is not among the brokers", bs, local_id);
        return -1;
}

/* "host:port", or "[v6]:port" for a host with a colon: how bootstrap.servers spells it. */
static void hostport(const char *host, int port, char *buf, size_t len) {
        snprintf(buf, len, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
}

/* Remembers every broker's advertised address (see struct kafka_client). On allocation
 * failure the previous addresses are kept. */
static void dir_update(struct kafka_client *kc, const rd_kafka_metadata_t *md) {
        if (md->broker_cnt <= 0 || md->broker_cnt > KAFKA_MAX_BROKERS)
                return;
        struct peer_addr *d = calloc((size_t) md->broker_cnt, sizeof *d);
        if (!d)
                return;
        int n = 0;
        for (int i = 0; i < md->broker_cnt; i++) {
                if (!md->brokers[i].host || strlen(md->brokers[i].host) >= KCONN_HOSTPORT_MAX - 10)
                        continue;
                d[n].id = md->brokers[i].id;
                hostport(md->brokers[i].host, md->brokers[i].port, d[n].hostport, sizeof d[n].hostport);
                n++;
        }
        free(kc->dir);
        kc->dir = d;
        kc->n_dir = n;
}

static int metadata_check(struct kafka_client *kc, rd_kafka_t *rk, struct check_events *ev,
                          const struct resolve_addrs *bootstrap, uint64_t deadline,
                          bool want_configs, struct kafka_result *ret) {
        const char *bs = kafka_conf_bootstrap(kc->conf);
        const rd_kafka_metadata_t *md = NULL;
        uint64_t now = monotime_ms();
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
         * librdkafka knows as the local node id; and the node that answered at the listener
         * is the local node. librdkafka gives the bootstrap broker its node id when that
         * node's advertised address is spelled exactly as the bootstrap address; otherwise
         * (localhost for 127.0.0.1, an IP for a name) the resolved addresses decide, never
         * the spelling: a listener that is not provably the local node fails the check. */
        char node[300];
        int32_t local_id = kc->o.local_id, orig_id = md->orig_broker_id;
        broker_nodename(md->orig_broker_name ? md->orig_broker_name : "", node, sizeof node);
        bool from_listener = strcmp(node, bs) == 0;
        if (!from_listener && !(local_id >= 0 && orig_id == local_id)) {
                set_error(ret, "metadata was answered by %s (node %" PRId32 "), not by the local "
                          "listener %s", md->orig_broker_name ? md->orig_broker_name : "?",
                          orig_id, bs);
                rd_kafka_metadata_destroy(md);
                return -EPROTO;
        }
        int32_t answered_by = orig_id >= 0 ? orig_id : broker_id_by_address(md, bs);
        if (answered_by < 0) {
                char why[KAFKA_ERR_MAX];
                answered_by = listener_node(md, bs, bootstrap, local_id, deadline, why, sizeof why);
                if (answered_by < 0 && local_id >= 0) {
                        set_error(ret, "%s", why);
                        rd_kafka_metadata_destroy(md);
                        return -EPROTO;
                }
        }
        if (local_id >= 0 && answered_by >= 0 && answered_by != local_id) {
                set_error(ret, "the listener %s is node %" PRId32 ", not the local node %" PRId32
                          ": --bootstrap points at another broker", bs, answered_by, local_id);
                rd_kafka_metadata_destroy(md);
                return -EPROTO;
        }
        dir_update(kc, md);
        struct snapshot *s = NULL;
        int r = kafka_snapshot_from_metadata(md, answered_by, &s, ret->error, sizeof ret->error);
        rd_kafka_metadata_destroy(md);
        if (r < 0)
                return r;

        if (kc->o.fixed_min_isr > 0) {
                for (int i = 0; i < s->n_topics; i++)
                        s->topics[i].min_isr = kc->o.fixed_min_isr;
                ret->snap = s;
                return 0;
        }
        now = monotime_ms();
        int32_t local = kc->o.local_id >= 0 ? kc->o.local_id : s->answered_by;
        if (minisr_due(kc->cache, s, local, want_configs, now, kc->o.config_ttl_ms)) {
                uint64_t t = monotime_ms();
                minisr_fetch(kc->cache, rk, s, local, now, deadline > t ? (int) (deadline - t) : 0);
                ret->configs_fetched = true;
        }
        minisr_apply(kc->cache, s);
        snprintf(ret->note, sizeof ret->note, "%s", minisr_note(kc->cache));
        /* Only once the local broker has answered: a broker that is down is not asked twice.
         * A check that used most of its time leaves the question to the next one, rather than
         * ask with a deadline that would make a slow but healthy broker look unreadable. */
        now = monotime_ms();
        if (featprobe_due(kc->features, now) && deadline > now &&
            deadline - now >= kc->o.timeout_ms / 4) {
                struct timespec ts;
                clock_gettime(CLOCK_REALTIME, &ts);
                featprobe_run(kc->features, kc->conf, now, deadline,
                              (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000, &ret->features);
                ret->features_fetched = true;
        }
        ret->snap = s;
        return 0;
}

/* ------------------------------------------------------------------------------------------
 * The handle's life, bounded
 *
 * librdkafka resolves and connects on its own broker threads, and rd_kafka_destroy() joins
 * them: a thread stuck in getaddrinfo() (a DNS server that never answers) holds destroy for
 * as long as the resolver's timeouts say, far beyond the check's deadline. So destroy runs on
 * a thread of its own; the check waits for it until the deadline plus KAFKA_TEARDOWN_GRACE_MS
 * and otherwise leaves it to finish in the background. The handle's callback state lives on
 * the heap with a reference to the configuration, and is freed by whichever of the check and
 * the reaper lets go last. At most KAFKA_MAX_STOPPING handles may be left stopping at once;
 * past that a check fails at once rather than pile up clients. */

static atomic_int stopping;     /* handles whose destroy outlived their check */

struct handle_ctx {
        struct check_events ev;     /* the handle's opaque; ev.conf holds a reference */
        rd_kafka_t *rk;
        pthread_mutex_t lock;
        bool destroyed, abandoned;
        int refs;
};

static struct handle_ctx *ctx_new(struct kafka_conf *conf) {
        struct handle_ctx *c = calloc(1, sizeof *c);
        if (!c)
                return NULL;
        pthread_mutex_init(&c->lock, NULL);
        c->ev.conf = kafka_conf_ref(conf);
        c->refs = 1;
        return c;
}

static void ctx_release(struct handle_ctx *c) {
        pthread_mutex_lock(&c->lock);
        bool last = --c->refs == 0;
        pthread_mutex_unlock(&c->lock);
        if (!last)
                return;
        kafka_conf_free(c->ev.conf);
        pthread_mutex_destroy(&c->lock);
        free(c);
}

static void *reap(void *arg) {
        struct handle_ctx *c = arg;
        /* A producer with nothing queued has nothing to flush: destroy only joins librdkafka's
         * threads, which wake up on the terminate op (unless one is blocked in a lookup). */
        rd_kafka_destroy(c->rk);
        pthread_mutex_lock(&c->lock);
        c->destroyed = true;
        bool abandoned = c->abandoned;
        pthread_mutex_unlock(&c->lock);
        if (abandoned)
                atomic_fetch_sub(&stopping, 1);
        ctx_release(c);
        return NULL;
}

/* CLOCK_REALTIME (what pthread_timedjoin_np takes) for the monotonic time until_ms. */
static struct timespec realtime_at(uint64_t until_ms) {
        uint64_t now = monotime_ms(), wait = until_ms > now ? until_ms - now : 0;
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += (time_t) (wait / 1000);
        ts.tv_nsec += (long) (wait % 1000) * 1000000L;
        if (ts.tv_nsec >= 1000000000L) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000L;
        }
        return ts;
}

/* Destroys the handle, waiting until until_ms at most. false: it is still stopping. The
 * reaper is joined, not only awaited: a thread that has not fully exited still holds
 * per-thread state (OpenSSL's error queue), which a process exiting right after the check
 * (kpa-agent check) would otherwise leave behind. */
static bool handle_destroy(struct handle_ctx *c, uint64_t until_ms) {
        pthread_t t;
        c->refs++;   /* the reaper's; no other thread knows c yet */
        if (pthread_create(&t, NULL, reap, c) != 0) {
                /* No thread: destroy here, unbounded, rather than leak the handle. */
                c->refs--;
                rd_kafka_destroy(c->rk);
                ctx_release(c);
                return true;
        }
        struct timespec ts = realtime_at(until_ms);
        bool done = pthread_timedjoin_np(t, NULL, &ts) == 0;
        if (!done) {
                pthread_mutex_lock(&c->lock);
                bool destroyed = c->destroyed;
                if (!destroyed) {
                        c->abandoned = true;
                        atomic_fetch_add(&stopping, 1);
                }
                pthread_mutex_unlock(&c->lock);
                /* Destroyed just now: the reaper is only exiting, wait for that. */
                if (destroyed)
                        done = pthread_join(t, NULL) == 0;
                else
                        pthread_detach(t);
        }
        ctx_release(c);
        return done;
}

int kafka_stopping_handles(void) { return atomic_load(&stopping); }

/* The bootstrap host, resolved within the deadline before librdkafka is given it: a lookup
 * that hangs then costs one thread (see resolve.h) instead of a whole client, and the check
 * says what is wrong. librdkafka resolves the name again itself (it needs the name, not an
 * address: TLS verifies the broker's certificate against it). */
static int bootstrap_resolve(const struct kafka_client *kc, uint64_t deadline,
                             struct resolve_addrs *ret, struct kafka_result *res) {
        const char *bs = kafka_conf_bootstrap(kc->conf);
        char host[PARSE_HOST_MAX], why[400];
        uint16_t port;
        /* kafka_conf_bootstrap_check has vetted it with the same parser. */
        if (parse_hostport(bs, 0, host, sizeof host, &port) < 0) {
                set_error(res, "local broker %s: not host:port", bs);
                return -EINVAL;
        }
        uint64_t now = monotime_ms();
        int r = resolve_host(host, port, deadline > now ? deadline - now : 1, ret, why, sizeof why);
        if (r == 0)
                return 0;
        const char *hint = r == -ENOENT ? "the host name does not resolve: check --bootstrap"
                           : r == -EAGAIN ? "the DNS server failed to answer: check the pod's DNS"
                                          : "the DNS server did not answer in time: check the "
                                            "pod's DNS (its /etc/resolv.conf and the cluster DNS)";
        set_error(res, "local broker %s did not answer within %" PRIu64 "ms: %s; hint: %s", bs,
                  kc->o.timeout_ms, why, hint);
        return r == -ETIMEDOUT || r == -EBUSY ? -ETIMEDOUT : -EIO;
}

void kafka_check(struct kafka_client *kc, bool want_configs, struct kafka_result *ret) {
        *ret = (struct kafka_result){ .started_ms = monotime_ms() };
        uint64_t deadline = ret->started_ms + kc->o.timeout_ms;
        struct resolve_addrs addrs;
        struct handle_ctx *ctx = NULL;

        int left = atomic_load(&stopping);
        if (left >= KAFKA_MAX_STOPPING) {
                set_error(ret, "local broker %s not asked: the clients of %d earlier checks are "
                          "still stopping (blocked in librdkafka, e.g. in a name lookup)",
                          kafka_conf_bootstrap(kc->conf), left);
                ret->rc = -EBUSY;
        } else if ((ret->rc = bootstrap_resolve(kc, deadline, &addrs, ret)) < 0) {
                /* said why */
        } else if (keystore_refresh(kc, ret->error, sizeof ret->error) < 0) {
                ret->rc = -EINVAL;
        } else if (!(ctx = ctx_new(kc->conf))) {
                set_error(ret, "out of memory");
                ret->rc = -ENOMEM;
        } else if (!(ctx->rk = handle_new(kc, &ctx->ev, kafka_conf_bootstrap(kc->conf), ret->error, sizeof ret->error))) {
                ret->rc = -EINVAL;
                ctx_release(ctx);
        } else {
                ret->rc = metadata_check(kc, ctx->rk, &ctx->ev, &addrs, deadline, want_configs, ret);
                if (!handle_destroy(ctx, deadline + KAFKA_TEARDOWN_GRACE_MS) && ret->rc < 0) {
                        size_t n = strlen(ret->error);
                        snprintf(ret->error + n, sizeof ret->error - n, " (its client is still "
                                 "stopping in the background: librdkafka is blocked, e.g. in a "
                                 "name lookup)");
                }
        }
        ret->finished_ms = monotime_ms();
}

/* ------------------------------------------------------------------------------------------
 * The gate's asks of other brokers (canroll.h, "The gate's cross-check")
 *
 * Only a gate check (a /prestop is pending) asks other brokers, so a healthy broker's steady
 * state costs nothing more. Each peer is reached through a handle of its own whose only
 * bootstrap is that peer's advertised address, so its answer comes from there. The in-sync
 * peers then answer a DescribeConfigs for their own BROKER resource, all at once on that one
 * handle (librdkafka sends each to the broker the resource names): a Kafka broker describes
 * only itself and refuses any other id ("Unexpected broker id"), so an answer proves that
 * the node listening at that address is that peer, alive now. */

void kafka_result_release(struct kafka_result *r) {
        r->snap = snapshot_free(r->snap);
        r->peers.view = snapshot_free(r->peers.view);
}

static int remain_ms(uint64_t deadline) {
        uint64_t now = monotime_ms();
        return deadline > now + 1 ? (int) (deadline - now) : 1;
}

/* One broker's metadata through a handle bootstrapped at addr only (all topics, or only the
 * broker list). On success the caller owns *ret_ctx and *ret_md; *ret_id is the node that
 * answered (the id librdkafka knows for it, else the broker advertising addr; -1: unknown). */
static int peer_metadata(struct kafka_client *kc, const char *addr, bool all_topics,
                         uint64_t deadline, struct handle_ctx **ret_ctx,
                         const rd_kafka_metadata_t **ret_md, int32_t *ret_id, char *why,
                         size_t len) {
        struct handle_ctx *ctx = ctx_new(kc->conf);
        if (!ctx) {
                snprintf(why, len, "out of memory");
                return -ENOMEM;
        }
        char err[KAFKA_ERR_MAX];
        if (!(ctx->rk = handle_new(kc, &ctx->ev, addr, err, sizeof err))) {
                snprintf(why, len, "%s", err);
                ctx_release(ctx);
                return -EINVAL;
        }
        const rd_kafka_metadata_t *md = NULL;
        rd_kafka_resp_err_t e = rd_kafka_metadata(ctx->rk, all_topics, NULL, &md, remain_ms(deadline));
        if (e) {
                rd_kafka_poll(ctx->rk, 0);
                snprintf(why, len, "%s", ctx->ev.last_error[0] ? ctx->ev.last_error : rd_kafka_err2str(e));
                handle_destroy(ctx, deadline + KAFKA_TEARDOWN_GRACE_MS);
                return -EIO;
        }
        *ret_id = md->orig_broker_id >= 0 ? md->orig_broker_id : broker_id_by_address(md, addr);
        *ret_ctx = ctx;
        *ret_md = md;
        return 0;
}

/* The other brokers to read metadata from: the remembered addresses without the local node
 * (the peer read last first), else fallback_peers. The caller frees *ret. */
static int gate_candidates(const struct kafka_client *kc, int32_t local, struct peer_addr **ret) {
        struct peer_addr *c = NULL;
        int n = 0;
        if (kc->n_dir > 0) {
                if (!(c = calloc((size_t) kc->n_dir, sizeof *c)))
                        return -ENOMEM;
                for (int i = 0; i < kc->n_dir; i++)
                        if (kc->dir[i].id != local)
                                c[n++] = kc->dir[i];
                for (int i = 1; i < n; i++)
                        if (c[i].id == kc->last_view_from) {
                                struct peer_addr t = c[0];
                                c[0] = c[i];
                                c[i] = t;
                        }
        } else if (kc->o.fallback_peers && kc->o.fallback_peers[0]) {
                size_t cap = 1;
                for (const char *p = kc->o.fallback_peers; *p; p++)
                        cap += *p == ',';
                if (cap > KAFKA_MAX_BROKERS || !(c = calloc(cap, sizeof *c)))
                        return -ENOMEM;
                for (const char *p = kc->o.fallback_peers; *p && (size_t) n < cap;) {
                        size_t l = strcspn(p, ",");
                        if (l > 0 && l < sizeof c[n].hostport) {
                                c[n].id = -1;
                                snprintf(c[n].hostport, sizeof c[n].hostport, "%.*s", (int) l, p);
                                n++;
                        }
                        p += l + (p[l] == ',');
                }
        }
        *ret = c;
        return n;
}

/* Another broker's metadata, within deadline: each candidate in turn, with a fair share of
 * the time left, until one that is provably not the local node answers. */
static void gate_view(struct kafka_client *kc, int32_t local, uint64_t deadline,
                      struct canroll_peers *p, struct handle_ctx **ret_ctx) {
        struct peer_addr *cand = NULL;
        int n = gate_candidates(kc, local, &cand);
        if (n <= 0) {
                snprintf(p->view_error, sizeof p->view_error, "%s", n < 0 ? "out of memory"
                         : "no other broker is known: the local broker never named one, and no "
                           "fallback peers are configured");
                free(cand);
                return;
        }
        for (int i = 0; i < n; i++) {
                uint64_t now = monotime_ms();
                uint64_t share = now + (deadline > now ? (deadline - now) / (uint64_t) (n - i) : 1);
                struct handle_ctx *ctx = NULL;
                const rd_kafka_metadata_t *md = NULL;
                int32_t id = -1;
                char why[KAFKA_ERR_MAX];
                if (peer_metadata(kc, cand[i].hostport, true, share, &ctx, &md, &id, why, sizeof why) < 0) {
                        snprintf(p->view_error, sizeof p->view_error, "%.60s did not answer: %.160s",
                                 cand[i].hostport, why);
                        continue;
                }
                struct snapshot *view = NULL;
                if (id < 0 || id == local || (cand[i].id >= 0 && id != cand[i].id)) {
                        snprintf(p->view_error, sizeof p->view_error, "%.60s answered as node "
                                 "%" PRId32 ", not as node %" PRId32, cand[i].hostport, id, cand[i].id);
                } else if (kafka_snapshot_from_metadata(md, id, &view, why, sizeof why) < 0) {
                        snprintf(p->view_error, sizeof p->view_error, "%.60s: %.160s", cand[i].hostport, why);
                } else {
                        dir_update(kc, md);
                }
                rd_kafka_metadata_destroy(md);
                if (!view) {
                        handle_destroy(ctx, share + KAFKA_TEARDOWN_GRACE_MS);
                        continue;
                }
                /* Topic settings are cluster-wide: the values read from the local broker (the
                 * demo's fixed value on the mock cluster). */
                if (kc->o.fixed_min_isr > 0) {
                        for (int t = 0; t < view->n_topics; t++)
                                view->topics[t].min_isr = kc->o.fixed_min_isr;
                } else {
                        minisr_apply(kc->cache, view);
                }
                p->view = view;
                p->view_from = id;
                p->view_error[0] = '\0';
                kc->last_view_from = id;
                *ret_ctx = ctx;
                break;
        }
        free(cand);
}

static void set_why(struct canroll_peers *p, int i, bool *first, const char *fmt, ...)
        __attribute__((format(printf, 4, 5)));
static void set_why(struct canroll_peers *p, int i, bool *first, const char *fmt, ...) {
        (void) i;
        if (!*first)
                return;
        *first = false;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(p->silent_why, sizeof p->silent_why, fmt, ap);
        va_end(ap);
}

static bool snap_lists(const struct snapshot *s, int32_t id) {
        for (int i = 0; i < s->n_brokers; i++)
                if (s->brokers[i] == id)
                        return true;
        return false;
}

/* Each asked peer's DescribeConfigs for its own BROKER resource, all in flight at once on
 * the view's handle, until every answer is in or the deadline. */
static void gate_ask_describe(rd_kafka_t *rk, const struct snapshot *view, struct canroll_peers *p,
                              uint64_t deadline) {
        bool first = true;
        rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
        int pending = 0;
        for (int i = 0; i < p->n_asked && q; i++) {
                if (!snap_lists(view, p->asked[i])) {
                        set_why(p, i, &first, "not a listed broker (fenced or unregistered)");
                        continue;
                }
                char id[16], es[256];
                snprintf(id, sizeof id, "%" PRId32, p->asked[i]);
                rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_BROKER, id);
                rd_kafka_AdminOptions_t *ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
                if (res && ao &&
                    rd_kafka_ConfigResource_set_config(res, "min.insync.replicas", "") == RD_KAFKA_RESP_ERR_NO_ERROR &&
                    !rd_kafka_AdminOptions_set_request_timeout(ao, remain_ms(deadline), es, sizeof es)) {
                        rd_kafka_AdminOptions_set_opaque(ao, (void *) (intptr_t) i);
                        rd_kafka_DescribeConfigs(rk, &res, 1, ao, q);
                        pending++;
                } else {
                        set_why(p, i, &first, "not asked: out of memory");
                }
                if (res)
                        rd_kafka_ConfigResource_destroy(res);
                if (ao)
                        rd_kafka_AdminOptions_destroy(ao);
        }
        while (pending > 0) {
                rd_kafka_event_t *ev = rd_kafka_queue_poll(q, remain_ms(deadline) + 100);
                if (!ev)
                        break;
                pending--;
                int i = (int) (intptr_t) rd_kafka_event_opaque(ev);
                const rd_kafka_DescribeConfigs_result_t *dr = rd_kafka_event_DescribeConfigs_result(ev);
                size_t n = 0;
                const rd_kafka_ConfigResource_t **rs = dr ? rd_kafka_DescribeConfigs_result_resources(dr, &n) : NULL;
                if (i < 0 || i >= p->n_asked) {
                        /* not ours */
                } else if (rd_kafka_event_error(ev)) {
                        set_why(p, i, &first, "%.200s", rd_kafka_event_error_string(ev));
                } else if (n != 1 || rd_kafka_ConfigResource_error(rs[0])) {
                        const char *t = n == 1 ? rd_kafka_ConfigResource_error_string(rs[0]) : NULL;
                        set_why(p, i, &first, "%.200s", t ? t : n == 1 ? rd_kafka_err2str(rd_kafka_ConfigResource_error(rs[0])) : "no answer for its resource");
                } else {
                        p->answered[i] = true;
                }
                rd_kafka_event_destroy(ev);
        }
        if (pending > 0)
                set_why(p, 0, &first, "no answer in time");
        if (q)
                rd_kafka_queue_destroy(q);
}

/* librdkafka's mock cluster (--demo) has no DescribeConfigs: there each asked peer answers a
 * broker-list Metadata request on a handle of its own, one after the other. */
static void gate_ask_metadata(struct kafka_client *kc, struct canroll_peers *p, uint64_t deadline) {
        bool first = true;
        for (int i = 0; i < p->n_asked; i++) {
                const char *addr = NULL;
                for (int k = 0; k < kc->n_dir; k++)
                        if (kc->dir[k].id == p->asked[i])
                                addr = kc->dir[k].hostport;
                if (!addr) {
                        set_why(p, i, &first, "no address known");
                        continue;
                }
                uint64_t now = monotime_ms();
                uint64_t share = now + (deadline > now ? (deadline - now) / (uint64_t) (p->n_asked - i) : 1);
                struct handle_ctx *ctx = NULL;
                const rd_kafka_metadata_t *md = NULL;
                int32_t id = -1;
                char why[KAFKA_ERR_MAX];
                if (peer_metadata(kc, addr, false, share, &ctx, &md, &id, why, sizeof why) < 0) {
                        set_why(p, i, &first, "%.200s", why);
                        continue;
                }
                p->answered[i] = id == p->asked[i];
                if (!p->answered[i])
                        set_why(p, i, &first, "answered as node %" PRId32, id);
                rd_kafka_metadata_destroy(md);
                handle_destroy(ctx, share + KAFKA_TEARDOWN_GRACE_MS);
        }
}

static void gate_run(struct kafka_client *kc, struct kafka_result *ret) {
        struct canroll_peers *p = &ret->peers;
        ret->gated = true;
        p->view_from = -1;
        uint64_t start = monotime_ms(), deadline = start + kc->o.timeout_ms;
        int32_t local = kc->o.local_id >= 0 ? kc->o.local_id : ret->snap ? ret->snap->answered_by : -1;
        int left = atomic_load(&stopping);
        if (local < 0) {
                snprintf(p->view_error, sizeof p->view_error, "the local node id is not known");
                return;
        }
        if (left >= KAFKA_MAX_STOPPING) {
                snprintf(p->view_error, sizeof p->view_error, "not asked: the clients of %d earlier "
                         "checks are still stopping", left);
                return;
        }
        struct handle_ctx *ctx = NULL;
        /* Half the time for the view, so that one silent candidate leaves time for the asks. */
        gate_view(kc, local, start + kc->o.timeout_ms / 2, p, &ctx);
        if (ret->snap) {
                int32_t ids[CANROLL_MAX_ASK];
                int needed = canroll_peers_to_ask(ret->snap, p->view, local, ids, CANROLL_MAX_ASK);
                p->n_asked = needed < CANROLL_MAX_ASK ? needed : CANROLL_MAX_ASK;
                p->not_asked = needed - p->n_asked;
                memcpy(p->asked, ids, (size_t) p->n_asked * sizeof *ids);
                if (p->n_asked > 0 && kc->o.fixed_min_isr > 0)
                        gate_ask_metadata(kc, p, deadline);
                else if (p->n_asked > 0 && ctx)
                        gate_ask_describe(ctx->rk, p->view, p, deadline);
                else if (p->n_asked > 0)
                        snprintf(p->silent_why, sizeof p->silent_why, "not asked: no other "
                                 "broker answered");
        }
        if (ctx)
                handle_destroy(ctx, deadline + KAFKA_TEARDOWN_GRACE_MS);
        ret->finished_ms = monotime_ms();
}

void kafka_check_gate(struct kafka_client *kc, bool want_configs, struct kafka_result *ret) {
        /* A failed refresh is retried at every gate check: it holds the gate until it works. */
        kafka_check(kc, want_configs || (kc->o.fixed_min_isr <= 0 && !minisr_ok(kc->cache)), ret);
        gate_run(kc, ret);
}
