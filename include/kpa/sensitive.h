/* Which configuration keys hold secrets, for Kafka's Java properties and librdkafka's alike:
 * kpa-init writes a file holding one 0600 and masks it in --dry-run; kpa-agent never echoes
 * the value of one. */
#ifndef KPA_SENSITIVE_H
#define KPA_SENSITIVE_H

#include <stdbool.h>

/* True for every key Apache Kafka 4.x declares as a PASSWORD (ConfigDef.Type.PASSWORD), also
 * under any dotted prefix (listener.name.<l>.<key>, listener.name.<l>.<mechanism>.<key>,
 * client prefixes), and for any key that looks like a secret (ASCII case ignored): one that
 * contains "password", "passwd", "passphrase", "secret" or "jaas.config", or ends in ".key",
 * "_key", "-key" or ".pem", or contains "sasl.oauthbearer.config" (librdkafka). */
bool sensitive_key(const char *key);

#endif
