/* The broker side of a certificate rotation: read the per-broker dynamic set, send the new
 * one, and read back what each listener serves (see include/kpa/tlsreload.h). */
#include "kpa/tlsreload.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include <librdkafka/rdkafka.h>

#include "kpa/kwire_features.h"
#include "kpa/monotime.h"
#include "kpa/tlsca.h"
#include "kpa/tls_x509.h"

void tlsreload_describe_cert(const struct x509_st *x, struct tlsreload_cert *ret) {
        memset(ret, 0, sizeof *ret);
        tls_format_subject(x, ret->subject, sizeof ret->subject);
        BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
        char *hex = bn ? BN_bn2hex(bn) : NULL;
        snprintf(ret->serial, sizeof ret->serial, "%s", hex ? hex : "");
        OPENSSL_free(hex);
        BN_free(bn);
        time_t t = 0;
        if (tls_time_epoch(X509_get0_notAfter(x), &t) == 0)
                ret->not_after = (int64_t) t;
        ERR_clear_error();
}

/* A fresh admin client for one call: the file's properties and the local bootstrap. */
static rd_kafka_t *admin_new(struct kafka_conf *conf, char *why, size_t whylen) {
        rd_kafka_conf_t *rc = rd_kafka_conf_new();
        if (kafka_conf_apply(conf, rc, NULL, why, whylen) < 0 ||
            kafka_conf_set(rc, "bootstrap.servers", kafka_conf_bootstrap(conf), why, whylen) < 0 ||
            kafka_conf_set(rc, "log_level", "0", why, whylen) < 0) {
                rd_kafka_conf_destroy(rc);
                return NULL;
        }
        char es[512];
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, rc, es, sizeof es);
        if (!rk) {
                rd_kafka_conf_destroy(rc);
                char shown[512];
                kafka_conf_redact(conf, es, shown, sizeof shown);
                snprintf(why, whylen, "cannot create the Kafka admin client: %.400s", shown);
        }
        return rk;
}

/* Runs one DescribeConfigs or AlterConfigs on res and waits for its event. */
static rd_kafka_event_t *admin_call(struct kafka_conf *conf, rd_kafka_t *rk, rd_kafka_ConfigResource_t *res,
                                    bool alter, uint64_t timeout_ms, char *why, size_t whylen) {
        rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
        rd_kafka_AdminOptions_t *o = rd_kafka_AdminOptions_new(
                rk, alter ? RD_KAFKA_ADMIN_OP_ALTERCONFIGS : RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
        char es[256];
        rd_kafka_AdminOptions_set_request_timeout(o, (int) timeout_ms, es, sizeof es);
        if (alter)
                rd_kafka_AlterConfigs(rk, &res, 1, o, q);
        else
                rd_kafka_DescribeConfigs(rk, &res, 1, o, q);
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, (int) timeout_ms + 1000);
        rd_kafka_AdminOptions_destroy(o);
        rd_kafka_queue_destroy(q);
        if (!ev)
                snprintf(why, whylen, "%s: no answer within %llums", alter ? "AlterConfigs" : "DescribeConfigs",
                         (unsigned long long) timeout_ms);
        else if (rd_kafka_event_error(ev)) {
                /* librdkafka's text may quote a setting of the client configuration. */
                char shown[320];
                kafka_conf_redact(conf, rd_kafka_event_error_string(ev), shown, sizeof shown);
                snprintf(why, whylen, "%s: %s", alter ? "AlterConfigs" : "DescribeConfigs", shown);
                rd_kafka_event_destroy(ev);
                ev = NULL;
        }
        return ev;
}

static const rd_kafka_ConfigResource_t *one_resource(rd_kafka_event_t *ev, bool alter, char *why,
                                                     size_t whylen) {
        size_t n = 0;
        const rd_kafka_ConfigResource_t **rs =
                alter ? rd_kafka_AlterConfigs_result_resources(rd_kafka_event_AlterConfigs_result(ev), &n)
                      : rd_kafka_DescribeConfigs_result_resources(rd_kafka_event_DescribeConfigs_result(ev), &n);
        if (!rs || n != 1) {
                snprintf(why, whylen, "%s: %zu resources in the answer (1 expected)",
                         alter ? "AlterConfigs" : "DescribeConfigs", n);
                return NULL;
        }
        if (rd_kafka_ConfigResource_error(rs[0])) {
                const char *s = rd_kafka_ConfigResource_error_string(rs[0]);
                snprintf(why, whylen, "%s: the broker refused: %.300s", alter ? "AlterConfigs" : "DescribeConfigs",
                         s && *s ? s : rd_kafka_err2str(rd_kafka_ConfigResource_error(rs[0])));
                return NULL;
        }
        return rs[0];
}

int tlsreload_describe(struct kafka_conf *conf, int32_t node_id, uint64_t timeout_ms,
                       struct tlsplan_entry *ret, size_t max, size_t *ret_n, char *why, size_t whylen) {
        char id[16];
        snprintf(id, sizeof id, "%d", node_id);
        rd_kafka_t *rk = admin_new(conf, why, whylen);
        if (!rk)
                return -EINVAL;
        rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_BROKER, id);
        rd_kafka_event_t *ev = admin_call(conf, rk, res, false, timeout_ms, why, whylen);
        int r = -EIO;
        size_t n = 0;
        const rd_kafka_ConfigResource_t *rr = ev ? one_resource(ev, false, why, whylen) : NULL;
        if (rr) {
                size_t m = 0;
                const rd_kafka_ConfigEntry_t **es = rd_kafka_ConfigResource_configs(rr, &m);
                r = 0;
                for (size_t i = 0; r == 0 && i < m; i++) {
                        if (rd_kafka_ConfigEntry_source(es[i]) != RD_KAFKA_CONFIG_SOURCE_DYNAMIC_BROKER_CONFIG)
                                continue;
                        const char *name = rd_kafka_ConfigEntry_name(es[i]);
                        const char *value = rd_kafka_ConfigEntry_value(es[i]);
                        if (n >= max) {
                                snprintf(why, whylen, "the broker has more than %zu per-broker dynamic configs", max);
                                r = -E2BIG;
                        } else if (!name || strlen(name) >= TLSPLAN_NAME_MAX ||
                                   (value && strlen(value) >= TLSPLAN_VALUE_MAX)) {
                                snprintf(why, whylen, "a per-broker dynamic config name or value is longer than kpa keeps");
                                r = -E2BIG;
                        } else {
                                struct tlsplan_entry *e = &ret[n++];
                                memset(e, 0, sizeof *e);
                                snprintf(e->name, sizeof e->name, "%s", name);
                                e->sensitive = rd_kafka_ConfigEntry_is_sensitive(es[i]);
                                if (value && !(e->value = strdup(value)))
                                        r = -ENOMEM;
                        }
                }
        }
        if (ev)
                rd_kafka_event_destroy(ev);
        rd_kafka_ConfigResource_destroy(res);
        rd_kafka_destroy(rk);
        if (r < 0) {
                for (size_t i = 0; i < n; i++)
                        free((char *) ret[i].value);
                return r;
        }
        *ret_n = n;
        return 0;
}

int tlsreload_alter(struct kafka_conf *conf, int32_t node_id, const struct tlsplan_set *set,
                    uint64_t timeout_ms, char *why, size_t whylen) {
        char id[16];
        snprintf(id, sizeof id, "%d", node_id);
        rd_kafka_t *rk = admin_new(conf, why, whylen);
        if (!rk)
                return -EINVAL;
        rd_kafka_ConfigResource_t *res = rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_BROKER, id);
        int r = 0;
        for (size_t i = 0; r == 0 && i < set->n; i++)
                if (rd_kafka_ConfigResource_set_config(res, set->name[i], set->value[i]) != RD_KAFKA_RESP_ERR_NO_ERROR) {
                        snprintf(why, whylen, "AlterConfigs: cannot add %.200s", set->name[i]);
                        r = -EINVAL;
                }
        rd_kafka_event_t *ev = r == 0 ? admin_call(conf, rk, res, true, timeout_ms, why, whylen) : NULL;
        if (r == 0 && (!ev || !one_resource(ev, true, why, whylen)))
                r = -EIO;
        if (ev)
                rd_kafka_event_destroy(ev);
        rd_kafka_ConfigResource_destroy(res);
        rd_kafka_destroy(rk);
        return r;
}

/* A bare TLS handshake with host:port, to read what it serves: no verification (the point is
 * to see the certificate, trusted or not) and no SASL (the handshake is all that is needed). */
static int open_tls_only(const char *host, uint16_t port, const struct kconn_security *sec, uint64_t timeout_ms,
                         struct kconn **ret, char *why, size_t whylen) {
        struct kconn_security only_tls = *sec;
        only_tls.tls = true;
        only_tls.skip_verify = true;
        only_tls.sasl_plain = false;
        return kconn_open(host, port, &only_tls, monotime_ms() + timeout_ms, ret, why, whylen);
}

int tlsreload_served(const char *host, uint16_t port, const struct kconn_security *sec,
                     uint64_t timeout_ms, struct tlsreload_cert *ret, char *why, size_t whylen) {
        struct kconn *c = NULL;
        int r = open_tls_only(host, port, sec, timeout_ms, &c, why, whylen);
        if (r == 0) {
                struct x509_st *x = kconn_peer_cert(c);
                if (x)
                        tlsreload_describe_cert(x, ret);
                else {
                        snprintf(why, whylen, "%s:%u served no certificate", host, (unsigned) port);
                        r = -EPROTO;
                }
        }
        kconn_close(c);
        return r;
}

int tlsreload_brokers(struct kafka_conf *conf, uint64_t timeout_ms, struct tlsreload_broker *ret, size_t max,
                      size_t *ret_n, char *why, size_t whylen) {
        rd_kafka_t *rk = admin_new(conf, why, whylen);
        if (!rk)
                return -EINVAL;
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t e = rd_kafka_metadata(rk, 0, NULL, &md, (int) timeout_ms);
        int r = 0;
        size_t n = 0;
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR) {
                snprintf(why, whylen, "Metadata: %s", rd_kafka_err2str(e));
                r = -EIO;
        } else {
                for (int i = 0; r == 0 && i < md->broker_cnt; i++) {
                        if (n >= max) {
                                snprintf(why, whylen, "Metadata names more than %zu brokers", max);
                                r = -E2BIG;
                        } else if (!md->brokers[i].host || strlen(md->brokers[i].host) >= sizeof ret[n].host ||
                                   md->brokers[i].port <= 0 || md->brokers[i].port > 65535) {
                                snprintf(why, whylen, "Metadata names broker %d without a usable host:port",
                                         (int) md->brokers[i].id);
                                r = -EPROTO;
                        } else {
                                ret[n].id = md->brokers[i].id;
                                snprintf(ret[n].host, sizeof ret[n].host, "%s", md->brokers[i].host);
                                ret[n++].port = (uint16_t) md->brokers[i].port;
                        }
                }
        }
        if (md)
                rd_kafka_metadata_destroy(md);
        rd_kafka_destroy(rk);
        if (r == 0)
                *ret_n = n;
        return r;
}

int tlsreload_served_ca(const char *host, uint16_t port, const struct kconn_security *sec, uint64_t timeout_ms,
                        struct stack_st_X509 *pool, char ret[65], char *why, size_t whylen) {
        struct kconn *c = NULL;
        int r = open_tls_only(host, port, sec, timeout_ms, &c, why, whylen);
        if (r == 0 && !tlsca_anchor(kconn_peer_chain(c), pool, ret)) {
                snprintf(why, whylen, "%s:%u serves a certificate of none of the CAs known here", host, (unsigned) port);
                r = -EPROTO;
        }
        kconn_close(c);
        return r;
}

int tlsreload_accepts_client(const char *host, uint16_t port, const char *cert_pem, const char *key_pem,
                             uint64_t timeout_ms, char *why, size_t whylen) {
        struct kconn_security sec = { .tls = true, .skip_verify = true, .cert_pem = cert_pem, .key_pem = key_pem };
        uint64_t deadline = monotime_ms() + timeout_ms;
        struct kconn *c = NULL;
        int r = kconn_open(host, port, &sec, deadline, &c, why, whylen);
        uint8_t req[KWIRE_FEATURES_REQUEST_MAX], *resp = NULL;
        size_t len = 0, rlen = 0;
        if (r == 0)
                r = kwire_features_encode_request(KWIRE_FEATURES_VERSION, kconn_next_correlation(c), "kpa-agent",
                                                  "kpa-agent", "unknown", req, sizeof req, &len);
        if (r == 0)
                r = kconn_exchange(c, req, len, KWIRE_FEATURES_RESPONSE_MAX, deadline, &resp, &rlen, why, whylen);
        free(resp);
        kconn_close(c);
        return r;
}
