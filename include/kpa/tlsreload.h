/* Asking the local broker to reload its TLS stores (agent/tlsreload.c), and reading back the
 * certificate each listener serves. Blocking: meant for a worker thread.
 *
 * The reload: a per-broker dynamic config update that names the same
 * listener.name.<l>.ssl.keystore.location makes a KRaft broker re-read the file (KAFKA-14136);
 * measured on Kafka 4.1.1 and 4.4.0 with the legacy AlterConfigs of librdkafka 2.0.2: sending
 * the same values again reloads again, no store password is needed in the request (the
 * broker takes it from server.properties), and every TLS listener of the node serves the new
 * certificate afterwards (docs/tls-rotation.md). Since AlterConfigs replaces the whole
 * per-broker set, the set is read first and sent back (tlsplan.h). */
#ifndef KPA_TLSRELOAD_H
#define KPA_TLSRELOAD_H

#include <stddef.h>
#include <stdint.h>

#include "kpa/kafkaconf.h"
#include "kpa/kconn.h"
#include "kpa/tlsplan.h"

#define TLSRELOAD_ERR_MAX 512

/* A certificate as served or stored: what /status shows of it. */
struct tlsreload_cert {
        char subject[256];
        char serial[80];           /* upper-case hex, as openssl x509 -serial prints it */
        int64_t not_after;         /* seconds since the epoch */
        int64_t not_before;        /* seconds since the epoch */
};

/* Fills cert from an OpenSSL X509 (x is a struct x509_st *). */
void tlsreload_describe_cert(const struct x509_st *x, struct tlsreload_cert *ret);

/* The broker's per-broker dynamic configs (source DYNAMIC_BROKER_CONFIG) of node node_id,
 * asked through conf's bootstrap address within timeout_ms. Values are copied into the
 * entries (ret_values, freed by the caller with free(), NULL entries for values Kafka did
 * not return). 0 or < 0 with why. */
int tlsreload_describe(struct kafka_conf *conf, int32_t node_id, uint64_t timeout_ms,
                       struct tlsplan_entry *ret, size_t max, size_t *ret_n, char *why, size_t whylen);

/* AlterConfigs of node node_id with exactly set. 0 or < 0 with why (the broker's message). */
int tlsreload_alter(struct kafka_conf *conf, int32_t node_id, const struct tlsplan_set *set,
                    uint64_t timeout_ms, char *why, size_t whylen);

/* Handshakes host:port with sec (only TLS: no SASL; the peer's chain is not verified, since
 * what is asked is which certificate it serves) and describes the served leaf. */
int tlsreload_served(const char *host, uint16_t port, const struct kconn_security *sec,
                     uint64_t timeout_ms, struct tlsreload_cert *ret, char *why, size_t whylen);

/* Whether the broker at host:port (a listener that requires a client certificate) accepts the
 * client certificate cert_pem / key_pem (files): a TLS handshake with it, then an ApiVersions
 * round trip, since with TLS 1.3 a refused client certificate shows only after the handshake.
 * This proves that the broker's loaded trust store holds that certificate's CA (a CA rotation's
 * trust step). 0, or < 0 with why. */
int tlsreload_accepts_client(const char *host, uint16_t port, const char *cert_pem, const char *key_pem,
                             uint64_t timeout_ms, char *why, size_t whylen);

/* A broker of the cluster as Metadata names it (the listener of conf's bootstrap address). */
struct tlsreload_broker {
        int32_t id;
        char host[256];
        uint16_t port;
};

/* The cluster's brokers, from one Metadata call through conf's bootstrap address. 0, or < 0
 * with why; -E2BIG over max. */
int tlsreload_brokers(struct kafka_conf *conf, uint64_t timeout_ms, struct tlsreload_broker *ret, size_t max,
                      size_t *ret_n, char *why, size_t whylen);

/* Handshakes host:port as tlsreload_served does and names the CA of pool (an OpenSSL
 * STACK_OF(X509)) that the served chain leads to (tlsca_anchor). 0, or < 0 with why. */
int tlsreload_served_ca(const char *host, uint16_t port, const struct kconn_security *sec, uint64_t timeout_ms,
                        struct stack_st_X509 *pool, char ret[65], char *why, size_t whylen);

#endif
