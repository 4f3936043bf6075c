/* The agent's librdkafka client configuration: a client.properties file (kpa-init's, or one
 * written by hand) plus the bootstrap address of the local broker, parsed and checked once so
 * that every check's fresh librdkafka handle is built from the same validated properties. */
#ifndef KPA_KAFKACONF_H
#define KPA_KAFKACONF_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>

/* Limits on what a client.properties file may make us hold. */
#define KAFKA_CONF_MAX_BYTES (64 * 1024)
#define KAFKA_CONF_MAX_ENTRIES 256

/* librdkafka client properties (parsed once) plus the bootstrap address of the local broker. */
struct kafka_conf;

/* Reads a librdkafka properties file (path may be NULL: no file) of "key=value" lines, blank
 * lines and "#" comments; spaces around key and value are dropped. Each property is checked
 * with librdkafka. bootstrap_override, when not NULL, replaces the file's bootstrap.servers;
 * the result must name exactly one host:port (the local listener). 0, or -EINVAL/-E2BIG/
 * -errno with "FILE:LINE: why" (or "why" when no line is at fault) in errbuf; no secret value
 * is ever copied into errbuf. */
int kafka_conf_load(const char *path, const char *bootstrap_override, struct kafka_conf **ret,
                    char *errbuf, size_t errlen);
/* Wipes the values (they may hold passwords) and frees; accepts NULL; returns NULL. */
struct kafka_conf *kafka_conf_free(struct kafka_conf *c);
const char *kafka_conf_bootstrap(const struct kafka_conf *c);
/* The value set for key in the file (after the override), or NULL. Not for secrets' sake:
 * tests and the /status page use it for security.protocol and the like. */
const char *kafka_conf_get(const struct kafka_conf *c, const char *key);

/* Checks that s is one "host:port" (IPv6 as "[addr]:port"), the form librdkafka uses as the
 * node name of a bootstrap broker. 0 or -EINVAL with the reason in errbuf. */
int kafka_conf_bootstrap_check(const char *s, char *errbuf, size_t errlen);

/* Sets one property on rc; on failure errbuf says why, without the value of a sensitive key.
 * 0 or -EINVAL. */
int kafka_conf_set(rd_kafka_conf_t *rc, const char *key, const char *value, char *errbuf,
                   size_t errlen);
/* Sets every property of the file on rc (not the bootstrap address: the caller sets that
 * with the keys it owns). 0 or -EINVAL with errbuf as kafka_conf_set. */
int kafka_conf_apply(const struct kafka_conf *c, rd_kafka_conf_t *rc, char *errbuf,
                     size_t errlen);

#endif
