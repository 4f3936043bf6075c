#include "kpa/ctlcheck.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kpa/monotime.h"
#include "kpa/parse.h"

#define CLIENT_ID "kpa-agent"

struct ctlcheck {
        struct kafka_conf *conf;
        struct kconn_security sec;
        bool sec_ok;
        char sec_err[CTLCHECK_ERR_MAX];
        struct ctlcheck_opts o;
        struct ctlcheck_endpoints peers;
        char local_host[KCONN_HOST_MAX];
        uint16_t local_port;
        int hint;                        /* index in peers of the last leader, -1: none */
        struct kwire_quorum scratch;     /* one answer being decoded */
};

/* ---- configuration ---- */

static bool is_space(char c) { return c == ' ' || c == '\t'; }

/* The next comma-separated entry of *s, trimmed, into buf; false at the end. */
static bool next_entry(const char **s, char *buf, size_t cap, bool *too_long) {
        const char *p = *s;
        if (!*p)
                return false;
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t) (end - p) : strlen(p);
        *s = end ? end + 1 : p + n;
        while (n && is_space(*p)) {
                p++;
                n--;
        }
        while (n && is_space(p[n - 1]))
                n--;
        *too_long = n >= cap;
        if (*too_long)
                n = cap - 1;
        memcpy(buf, p, n);
        buf[n] = '\0';
        return true;
}

int ctlcheck_parse_endpoints(const char *voters, const char *bootstrap_servers,
                             struct ctlcheck_endpoints *ret, char *errbuf, size_t errlen) {
        const char *key = voters ? "controller.quorum.voters" : "controller.quorum.bootstrap.servers";
        const char *s = voters ? voters : bootstrap_servers;
        struct ctlcheck_endpoints out = { .n = 0 };
        char entry[KCONN_HOST_MAX + 32];
        bool too_long;
        if (!s || !*s) {
                snprintf(errbuf, errlen, "neither controller.quorum.voters nor "
                         "controller.quorum.bootstrap.servers is set");
                return -EINVAL;
        }
        while (next_entry(&s, entry, sizeof entry, &too_long)) {
                struct ctlcheck_endpoint e = { .id = -1 };
                const char *hp = entry;
                if (out.n >= CTLCHECK_MAX_ENDPOINTS) {
                        snprintf(errbuf, errlen, "%s lists more than %d controllers", key,
                                 CTLCHECK_MAX_ENDPOINTS);
                        return -EINVAL;
                }
                if (voters) {
                        char *at = strchr(entry, '@');
                        uint64_t id;
                        if (at)
                                *at = '\0';
                        if (!at || parse_u64(entry, 0, INT32_MAX, &id) < 0) {
                                if (at)
                                        *at = '@';
                                snprintf(errbuf, errlen, "%s entry \"%.*s\" is not id@host:port", key, 300, entry);
                                return -EINVAL;
                        }
                        e.id = (int32_t) id;
                        hp = at + 1;
                }
                if (too_long || parse_hostport(hp, 0, e.host, sizeof e.host, &e.port) < 0) {
                        snprintf(errbuf, errlen, "%s entry \"%.*s\" is not %shost:port (IPv6 as [addr]:port)",
                                 key, 300, hp, voters ? "id@" : "");
                        return -EINVAL;
                }
                out.v[out.n++] = e;
        }
        if (out.n == 0) {
                snprintf(errbuf, errlen, "%s lists no controller", key);
                return -EINVAL;
        }
        *ret = out;
        return 0;
}

/* Settings that change what is trusted or presented, which the check would otherwise
 * silently leave out. */
static const char *const tls_refused[] = { "ssl.ca.pem", "ssl.ca.certificate.stores",
                                           "ssl.certificate.pem", "ssl.key.pem", "ssl.crl.location",
                                           "ssl.engine.location", "ssl.providers" };

int ctlcheck_security(const struct kafka_conf *conf, struct kconn_security *ret, char *errbuf,
                      size_t errlen) {
        struct kconn_security s = { 0 };
        const char *proto = kafka_conf_get(conf, "security.protocol");
        if (!proto || strcasecmp(proto, "plaintext") == 0)
                ;
        else if (strcasecmp(proto, "ssl") == 0)
                s.tls = true;
        else if (strcasecmp(proto, "sasl_plaintext") == 0)
                s.sasl_plain = true;
        else if (strcasecmp(proto, "sasl_ssl") == 0)
                s.tls = s.sasl_plain = true;
        else {
                snprintf(errbuf, errlen, "security.protocol \"%s\" is not plaintext, ssl, sasl_plaintext or sasl_ssl", proto);
                return -EINVAL;
        }
        if (s.tls) {
                for (size_t i = 0; i < sizeof tls_refused / sizeof *tls_refused; i++)
                        if (kafka_conf_get(conf, tls_refused[i])) {
                                snprintf(errbuf, errlen, "%s is set, which the controller check does not apply "
                                         "(it reads ssl.ca.location, ssl.keystore.location, "
                                         "ssl.certificate.location and ssl.key.location)", tls_refused[i]);
                                return -EINVAL;
                        }
                s.ca_file = kafka_conf_get(conf, "ssl.ca.location");
                if (s.ca_file && strcmp(s.ca_file, "probe") == 0)
                        s.ca_file = NULL;
                s.keystore_p12 = kafka_conf_get(conf, "ssl.keystore.location");
                s.keystore_password = kafka_conf_get(conf, "ssl.keystore.password");
                s.cert_pem = kafka_conf_get(conf, "ssl.certificate.location");
                s.key_pem = kafka_conf_get(conf, "ssl.key.location");
                s.key_password = kafka_conf_get(conf, "ssl.key.password");
                /* A key store with another certificate or key: refused by kafka_conf_load. */
                if (!s.cert_pem && s.key_pem) {
                        snprintf(errbuf, errlen, "ssl.key.location is set without ssl.certificate.location");
                        return -EINVAL;
                }
                const char *eia = kafka_conf_get(conf, "ssl.endpoint.identification.algorithm");
                if (eia && strcasecmp(eia, "none") == 0)
                        s.skip_hostname = true;
                else if (eia && strcasecmp(eia, "https") != 0) {
                        snprintf(errbuf, errlen, "ssl.endpoint.identification.algorithm \"%s\" is not https or none", eia);
                        return -EINVAL;
                }
                const char *verify = kafka_conf_get(conf, "enable.ssl.certificate.verification");
                bool v = true;
                if (verify && parse_bool(verify, &v) < 0) {
                        snprintf(errbuf, errlen, "enable.ssl.certificate.verification \"%s\" is not a boolean", verify);
                        return -EINVAL;
                }
                s.skip_verify = !v;
        }
        if (s.sasl_plain) {
                const char *m = kafka_conf_get(conf, "sasl.mechanism");
                if (!m)
                        m = kafka_conf_get(conf, "sasl.mechanisms");
                /* librdkafka's default mechanism is GSSAPI. */
                if (!m || strcmp(m, "PLAIN") != 0) {
                        snprintf(errbuf, errlen, "sasl.mechanism is %s: the controller check speaks only PLAIN",
                                 m ? m : "unset (GSSAPI)");
                        return -EINVAL;
                }
                s.sasl_user = kafka_conf_get(conf, "sasl.username");
                s.sasl_password = kafka_conf_get(conf, "sasl.password");
                if (!s.sasl_user || !*s.sasl_user || !s.sasl_password || !*s.sasl_password) {
                        snprintf(errbuf, errlen, "SASL PLAIN needs sasl.username and sasl.password");
                        return -EINVAL;
                }
        }
        *ret = s;
        return 0;
}

static void apply_conf(struct ctlcheck *c, struct kafka_conf *conf) {
        kafka_conf_free(c->conf);
        c->conf = conf;
        c->sec_ok = ctlcheck_security(conf, &c->sec, c->sec_err, sizeof c->sec_err) == 0;
        if (parse_hostport(kafka_conf_bootstrap(conf), 0, c->local_host, sizeof c->local_host,
                           &c->local_port) < 0) {
                /* kafka_conf_load accepted it as host:port; only a bracket form could differ. */
                snprintf(c->sec_err, sizeof c->sec_err, "bootstrap %s is not host:port", kafka_conf_bootstrap(conf));
                c->sec_ok = false;
        }
        c->hint = -1;
}

int ctlcheck_new(struct kafka_conf *conf, const struct ctlcheck_opts *o, struct ctlcheck **ret,
                 char *errbuf, size_t errlen) {
        if (!conf || !o->peers || o->timeout_ms == 0) {
                kafka_conf_free(conf);
                snprintf(errbuf, errlen, "ctlcheck: a configuration, the controllers and a timeout are needed");
                return -EINVAL;
        }
        struct ctlcheck *c = calloc(1, sizeof *c);
        if (!c) {
                kafka_conf_free(conf);
                snprintf(errbuf, errlen, "out of memory");
                return -ENOMEM;
        }
        c->o = *o;
        c->peers = *o->peers;
        c->o.peers = &c->peers;
        apply_conf(c, conf);
        if (!c->sec_ok) {
                snprintf(errbuf, errlen, "%s", c->sec_err);
                ctlcheck_free(c);
                return -EINVAL;
        }
        *ret = c;
        return 0;
}

struct ctlcheck *ctlcheck_free(struct ctlcheck *c) {
        if (!c)
                return NULL;
        kafka_conf_free(c->conf);
        free(c);
        return NULL;
}

void ctlcheck_set_conf(struct ctlcheck *c, struct kafka_conf *conf) { apply_conf(c, conf); }

uint64_t ctlcheck_timeout_ms(const struct ctlcheck *c) { return c->o.timeout_ms; }

/* ---- one check ---- */

/* Asks host:port for the quorum. 0 with the answer in c->scratch, or -errno and why. */
static int ask(struct ctlcheck *c, const char *host, uint16_t port, uint64_t deadline_ms,
               char *err, size_t errlen) {
        struct kconn *k;
        int r = kconn_open(host, port, &c->sec, deadline_ms, &k, err, errlen);
        if (r < 0)
                return r;
        uint8_t req[KWIRE_QUORUM_REQUEST_MAX], *resp = NULL;
        size_t len, rlen;
        int32_t corr = kconn_next_correlation(k);
        r = kwire_quorum_encode_request(KWIRE_QUORUM_VERSION, corr, CLIENT_ID, req, sizeof req, &len);
        if (r == 0)
                r = kconn_exchange(k, req, len, KWIRE_QUORUM_RESPONSE_MAX, deadline_ms, &resp, &rlen, err, errlen);
        if (r == 0) {
                /* A decoding error is one line of at most KWIRE_ERR_MAX plus its prefix. */
                char why[KWIRE_ERR_MAX + 64];
                r = kwire_quorum_decode_response(resp, rlen, KWIRE_QUORUM_VERSION, corr, &c->scratch, why, sizeof why);
                if (r < 0)
                        snprintf(err, errlen, "%.*s:%u: %s", KCONN_HOST_MAX, host, (unsigned) port, why);
        }
        free(resp);
        kconn_close(k);
        return r;
}

static bool answered_as_leader(const struct kwire_quorum *q) {
        return q->error_code == KWIRE_ERR_NONE && q->have_partition &&
               q->partition_error_code == KWIRE_ERR_NONE;
}

/* What a controller that is not the leader (or refuses) answered, for the reasons list. */
static void answer_text(const struct kwire_quorum *q, char *buf, size_t cap) {
        int16_t e = q->error_code ? q->error_code : q->partition_error_code;
        const char *msg = q->error_code ? q->error_message : q->partition_error_message;
        char et[KWIRE_ERROR_TEXT_MAX];
        snprintf(buf, cap, "%s%s%s", kwire_error_text(e, et, sizeof et), msg[0] ? ": " : "", msg);
}

/* Appends "; what" to the reasons, with any "; hint: ..." of what cut (one hint per list is
 * noise), and "..." once full. */
static void reason_add(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void reason_add(char *buf, size_t cap, const char *fmt, ...) {
        char one[CTLCHECK_ERR_MAX];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(one, sizeof one, fmt, ap);
        va_end(ap);
        char *hint = strstr(one, "; hint:");
        if (hint)
                *hint = '\0';
        size_t used = strlen(buf);
        if (used + 3 >= cap)
                return;
        int n = snprintf(buf + used, cap - used, "%s%s", used ? "; " : "", one);
        if (n < 0 || (size_t) n >= cap - used)
                snprintf(buf + (cap > 4 ? cap - 4 : 0), 4, "...");
}

static bool is_local(const struct ctlcheck *c, const struct ctlcheck_endpoint *e) {
        if (e->id >= 0 && e->id == c->o.local_id)
                return true;
        return e->port == c->local_port && strcasecmp(e->host, c->local_host) == 0;
}

void ctlcheck_run(struct ctlcheck *c, struct ctlcheck_result *ret) {
        struct ctlcheck_result *res = ret;
        memset(res, 0, sizeof *res);
        res->started_ms = monotime_ms();
        uint64_t deadline = res->started_ms + c->o.timeout_ms;
        if (!c->sec_ok) {
                res->rc = -EINVAL;
                snprintf(res->error, sizeof res->error, "%s", c->sec_err);
                snprintf(res->leader_error, sizeof res->leader_error, "%s", c->sec_err);
                res->finished_ms = monotime_ms();
                return;
        }

        /* The order to ask the others in: the last leader first, then as listed. */
        int order[CTLCHECK_MAX_ENDPOINTS], n = 0;
        if (c->hint >= 0 && c->hint < c->peers.n && !is_local(c, &c->peers.v[c->hint]))
                order[n++] = c->hint;
        for (int i = 0; i < c->peers.n; i++)
                if (i != c->hint && !is_local(c, &c->peers.v[i]))
                        order[n++] = i;

        /* The local controller first: up to half the time when others may have to be asked. */
        char err[CTLCHECK_ERR_MAX];
        uint64_t t0 = monotime_ms();
        uint64_t local_deadline = n > 0 ? t0 + c->o.timeout_ms / 2 : deadline;
        int r = ask(c, c->local_host, c->local_port, local_deadline, err, sizeof err);
        res->local_rtt_ms = monotime_ms() - t0;
        if (r < 0) {
                res->rc = r;
                snprintf(res->error, sizeof res->error, "%s", err);
                reason_add(res->leader_error, sizeof res->leader_error, "%s:%u (this node): %s",
                           c->local_host, (unsigned) c->local_port, err);
        } else if (answered_as_leader(&c->scratch)) {
                if (c->scratch.leader_id != c->o.local_id) {
                        res->rc = -EPROTO;
                        snprintf(res->error, sizeof res->error, "the local listener %s:%u answered as the "
                                 "quorum leader %" PRId32 ", but this is node %" PRId32 ": is bootstrap.servers "
                                 "this controller's own listener?", c->local_host, (unsigned) c->local_port,
                                 c->scratch.leader_id, c->o.local_id);
                }
                res->have_leader = true;
                res->leader = c->scratch;
                snprintf(res->leader_endpoint, sizeof res->leader_endpoint, "%s:%u", c->local_host,
                         (unsigned) c->local_port);
                c->hint = -1;
        } else {
                answer_text(&c->scratch, err, sizeof err);
                reason_add(res->leader_error, sizeof res->leader_error, "%s:%u (this node) answered %s",
                           c->local_host, (unsigned) c->local_port, err);
        }

        for (int i = 0; i < n && !res->have_leader; i++) {
                const struct ctlcheck_endpoint *e = &c->peers.v[order[i]];
                uint64_t now = monotime_ms();
                if (now >= deadline) {
                        reason_add(res->leader_error, sizeof res->leader_error,
                                   "no time left to ask %d more", n - i);
                        break;
                }
                /* A fair share of what is left, so that one silent controller cannot use up
                 * the time of those after it. */
                uint64_t share = now + (deadline - now) / (uint64_t) (n - i);
                r = ask(c, e->host, e->port, share, err, sizeof err);
                if (r < 0) {
                        reason_add(res->leader_error, sizeof res->leader_error, "%s", err);
                } else if (answered_as_leader(&c->scratch)) {
                        res->have_leader = true;
                        res->leader = c->scratch;
                        snprintf(res->leader_endpoint, sizeof res->leader_endpoint, "%s:%u", e->host,
                                 (unsigned) e->port);
                        c->hint = order[i];
                } else {
                        answer_text(&c->scratch, err, sizeof err);
                        reason_add(res->leader_error, sizeof res->leader_error, "%s:%u answered %s",
                                   e->host, (unsigned) e->port, err);
                }
        }
        if (res->have_leader)
                res->leader_error[0] = '\0';
        else
                c->hint = -1;
        res->finished_ms = monotime_ms();
}
