/* The agent's librdkafka client configuration: a client.properties file (kpa-init's, or one
 * written by hand) plus the bootstrap address of the local broker, parsed and checked once so
 * that every check's fresh librdkafka handle is built from the same validated properties. */
#ifndef KPA_KAFKACONF_H
#define KPA_KAFKACONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

/* Limits on what a client.properties file may make us hold. */
#define KAFKA_CONF_MAX_BYTES (64 * 1024)
#define KAFKA_CONF_MAX_ENTRIES 256
/* kafka_conf_log_once remembers this many distinct lines, each for this long. */
#define KAFKA_CONF_SEEN_MAX 64
#define KAFKA_CONF_SEEN_AGAIN_MS (60 * 60 * 1000)

/* librdkafka client properties (parsed once) plus the bootstrap address of the local broker. */
struct kafka_conf;

/* Reads a librdkafka properties file (path may be NULL: no file) of "key=value" lines, blank
 * lines and "#" comments; blanks around the key and at the start of the value are dropped,
 * those at the end of the value kept (as librdkafka and Java's Properties read values). Each property is checked
 * with librdkafka. bootstrap_override, when not NULL, replaces the file's bootstrap.servers;
 * the result must name exactly one host:port (the local listener). 0, or -EINVAL/-E2BIG/
 * -errno with "FILE:LINE: why" (or "why" when no line is at fault) in errbuf; no value of
 * the file is ever copied into errbuf (the bootstrap address aside). */
int kafka_conf_load(const char *path, const char *bootstrap_override, struct kafka_conf **ret,
                    char *errbuf, size_t errlen);
/* Another reference to c (thread-safe); each is dropped with kafka_conf_free. */
struct kafka_conf *kafka_conf_ref(struct kafka_conf *c);
/* Drops a reference; the last one wipes the values (they may hold passwords) and frees.
 * Accepts NULL; returns NULL. */
struct kafka_conf *kafka_conf_free(struct kafka_conf *c);
const char *kafka_conf_bootstrap(const struct kafka_conf *c);
/* The value set for key in the file (after the override), or NULL. Not for secrets' sake:
 * tests and the /status page use it for security.protocol and the like. */
const char *kafka_conf_get(const struct kafka_conf *c, const char *key);

/* Copies text (a librdkafka log line or error) into out, cut to fit, with every value of the
 * file hidden as "(value hidden)": every value of a sensitive key (password, secret, key
 * material, sasl.username) wherever it appears, and every other value of 5 bytes or more that
 * is not a number or a boolean (a mechanism, a path, ...) where it is a whole word. The
 * bootstrap address is shown. */
void kafka_conf_redact(const struct kafka_conf *c, const char *text, char *out, size_t outlen);
/* Whether a librdkafka line (already redacted) is to be logged now: false when the same line,
 * digits aside, was logged under this configuration within KAFKA_CONF_SEEN_AGAIN_MS. Every
 * check makes a new librdkafka client, which repeats its warnings (and a broker that stays
 * down repeats its connection errors) at every check. Thread-safe. */
bool kafka_conf_log_once(struct kafka_conf *c, const char *line, uint64_t now_ms);

/* Checks that s is one "host:port" (IPv6 as "[addr]:port"), the form librdkafka uses as the
 * node name of a bootstrap broker. 0 or -EINVAL with the reason in errbuf. */
int kafka_conf_bootstrap_check(const char *s, char *errbuf, size_t errlen);

/* Sets one property on rc; on failure errbuf says why, never showing the value. 0 or
 * -EINVAL. */
int kafka_conf_set(rd_kafka_conf_t *rc, const char *key, const char *value, char *errbuf,
                   size_t errlen);
/* Sets every property of the file on rc but the keys listed in skip (NULL-terminated; NULL:
 * none), and not the bootstrap address: the caller sets that with the keys it owns. 0 or
 * -EINVAL with errbuf as kafka_conf_set. */
int kafka_conf_apply(const struct kafka_conf *c, rd_kafka_conf_t *rc, const char *const *skip,
                     char *errbuf, size_t errlen);
/* Whether security.protocol is ssl or sasl_ssl (any case), the protocols librdkafka sets up
 * TLS for. */
bool kafka_conf_tls(const struct kafka_conf *c);

#endif
