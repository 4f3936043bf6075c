/* The check of a controller-only node (process.roles=controller), which serves no Metadata:
 * one DescribeQuorum to its own controller listener (does it answer?), and, unless it is the
 * leader itself, to the other controllers until the leader answers (only the leader describes
 * the quorum; the others answer NOT_LEADER_OR_FOLLOWER).
 *
 * Finding the leader: the controllers are known from the local node's own server.properties
 * (controller.quorum.voters "id@host:port,...", or controller.quorum.bootstrap.servers
 * "host:port,..." with a dynamic quorum). They are asked in that order, the one that last
 * answered as leader first, each with a fair share of what is left of the check's deadline,
 * until one answers as leader. A leader's answer is self-describing (it names its id and
 * epoch); a stale leader cut off from the majority can only make its followers look lagging,
 * which holds rather than releases, until Kafka's check-quorum timeout makes it resign. This
 * needs no other protocol call (DescribeCluster would only name the same controllers).
 *
 * Security comes from kpa-init's client.properties (kafka_conf): security.protocol,
 * ssl.ca.location, a client certificate (ssl.keystore.location/password as PKCS12, or
 * ssl.certificate.location + ssl.key.location/password as PEM),
 * ssl.endpoint.identification.algorithm, enable.ssl.certificate.verification, and SASL PLAIN
 * (sasl.mechanism(s), sasl.username, sasl.password). Settings the check cannot honour
 * (another SASL mechanism, inline PEM, a CRL, an engine) are refused at load, never ignored.
 *
 * ctlcheck_run() blocks up to the timeout and is meant for a worker thread; one struct
 * ctlcheck must not run twice at once. */
#ifndef KPA_CTLCHECK_H
#define KPA_CTLCHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kpa/kafka.h"
#include "kpa/kconn.h"
#include "kpa/kwire_quorum.h"

#define CTLCHECK_MAX_ENDPOINTS KWIRE_QUORUM_MAX_VOTERS
#define CTLCHECK_ERR_MAX 1024

struct ctlcheck_endpoint {
        int32_t id;                  /* -1 when listed without one (bootstrap.servers) */
        char host[KCONN_HOST_MAX];
        uint16_t port;
};

struct ctlcheck_endpoints {
        struct ctlcheck_endpoint v[CTLCHECK_MAX_ENDPOINTS];
        int n;
};

/* Parses controller.quorum.voters ("id@host:port,...", when voters is not NULL) or else
 * controller.quorum.bootstrap.servers ("host:port,..."); IPv6 hosts in brackets. 0, or
 * -EINVAL with the entry at fault in errbuf (named after key). */
int ctlcheck_parse_endpoints(const char *voters, const char *bootstrap_servers,
                             struct ctlcheck_endpoints *ret, char *errbuf, size_t errlen);

/* The transport settings of a client configuration. Strings point into conf. 0, or -EINVAL
 * naming the setting the controller check cannot honour. */
int ctlcheck_security(const struct kafka_conf *conf, struct kconn_security *ret, char *errbuf,
                      size_t errlen);

struct ctlcheck_opts {
        int32_t local_id;
        uint64_t timeout_ms;                    /* the whole check */
        const struct ctlcheck_endpoints *peers; /* every controller, the local one included */
};

struct ctlcheck;

/* Takes ownership of conf (also on failure). 0, -EINVAL (unusable security settings), or
 * -ENOMEM. */
int ctlcheck_new(struct kafka_conf *conf, const struct ctlcheck_opts *o, struct ctlcheck **ret,
                 char *errbuf, size_t errlen);
struct ctlcheck *ctlcheck_free(struct ctlcheck *c);
/* Replaces the configuration (ownership passes). Not while a check runs. A configuration the
 * check cannot use is kept, and every check then fails with the reason. */
void ctlcheck_set_conf(struct ctlcheck *c, struct kafka_conf *conf);
uint64_t ctlcheck_timeout_ms(const struct ctlcheck *c);

struct ctlcheck_result {
        int rc;                          /* 0: the local controller answered; else -errno */
        char error[CTLCHECK_ERR_MAX];    /* why it did not ("" when it did) */
        bool have_leader;                /* leader holds a leader's answer */
        struct kwire_quorum leader;
        char leader_endpoint[KCONN_HOST_MAX + 8];
        char leader_error[CTLCHECK_ERR_MAX];   /* why no leader answered: each controller asked */
        uint64_t started_ms, finished_ms;      /* monotime_ms clock */
        uint64_t local_rtt_ms;                 /* connect + DescribeQuorum on the local listener */
};

/* Always fills *ret. */
void ctlcheck_run(struct ctlcheck *c, struct ctlcheck_result *ret);

#endif
