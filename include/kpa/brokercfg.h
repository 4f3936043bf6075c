/* The broker's configuration, composed from the checked inputs (pure: no I/O). */
#ifndef KPA_BROKERCFG_H
#define KPA_BROKERCFG_H

#include <stdbool.h>
#include <stddef.h>

#include "kpa/identity.h"
#include "kpa/initcfg.h"
#include "kpa/listeners.h"
#include "kpa/props.h"

/* The listeners this node runs, with their advertised host:port expanded: a broker-only
 * node drops the controller listener, a controller-only node keeps only it. */
int brokercfg_active_listeners(const struct init_config *c, const struct identity *id,
                               struct listener_set *ret, char *errbuf, size_t errlen);

struct broker_inputs {
        const struct init_config *cfg;
        const struct identity *id;
        const struct listener_set *active;     /* from brokercfg_active_listeners */
        const char *rack;                      /* resolved broker.rack, or NULL */
        const struct props *tmpl;              /* KPA_CONFIG_TEMPLATE's keys, or NULL */
        const char *store_password;            /* non-NULL when TLS stores are written */
        const char *jaas_server;               /* PLAIN JAAS for SASL listeners, or NULL */
        /* PLAIN JAAS with only the inter-broker user's credentials: a broker-only node is a
         * client of a SASL controller listener it does not serve. NULL without SASL. */
        const char *jaas_client;
        const char *agent_user, *agent_password; /* SASL credentials for client.properties */
};

/* server.properties: the derived keys first, then the template's keys that kpa-init does
 * not derive, in the template's order. Refuses template keys that would contradict KRaft
 * identity (broker.id, zookeeper.connect). */
int brokercfg_server(const struct broker_inputs *in, struct props *ret, char *errbuf, size_t errlen);
/* client.properties (librdkafka): reach the local broker on the inter-broker listener with
 * that listener's security settings; a controller-only node's names its controller listener. */
int brokercfg_client(const struct broker_inputs *in, struct props *ret, char *errbuf, size_t errlen);

#endif
