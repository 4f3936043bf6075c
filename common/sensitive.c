#include "kpa/sensitive.h"

#include <string.h>
#include <strings.h>

/* Every key Apache Kafka declares as ConfigDef.Type.PASSWORD in 4.1.1 and 4.4.0: the
 * broker's configuration (AbstractKafkaConfig.CONFIG_DEF, which holds BrokerSecurityConfigs,
 * SslConfigs, SaslConfigs and DelegationTokenManagerConfigs) and the producer, consumer and
 * admin client configurations, read by reflection from the released jars; the two versions
 * agree. Kafka itself hides these values in its logs and DescribeConfigs answers. Keys that
 * earlier versions declared (delegation.token.master.key, password.encoder.secret,
 * zookeeper.ssl.*.password) are caught by the patterns below. */
static const char *const kafka_password_keys[] = {
        "delegation.token.secret.key",
        "sasl.jaas.config",
        "sasl.oauthbearer.assertion.private.key.passphrase",
        "sasl.oauthbearer.client.credentials.client.secret",
        "ssl.key.password",
        "ssl.keystore.certificate.chain",
        "ssl.keystore.key",
        "ssl.keystore.password",
        "ssl.truststore.certificates",
        "ssl.truststore.password",
};

/* A conservative net for what Kafka's list does not name: custom plugin settings, other
 * clients' keys, and librdkafka's (ssl.key.pem, sasl.oauthbearer.config). A false positive
 * only makes a file 0600 and a line masked in --dry-run. */
static const char *const contained[] = {
        "password", "passwd", "passphrase", "secret", "jaas.config", "sasl.oauthbearer.config",
};
static const char *const suffixes[] = { ".key", "_key", "-key", ".pem" };

static bool contains_ci(const char *s, const char *needle) {
        size_t n = strlen(needle);
        for (; *s; s++)
                if (strncasecmp(s, needle, n) == 0)
                        return true;
        return false;
}

static bool ends_with_ci(const char *s, size_t len, const char *suffix) {
        size_t n = strlen(suffix);
        return len >= n && strcasecmp(s + len - n, suffix) == 0;
}

bool sensitive_key(const char *key) {
        size_t len = strlen(key);
        for (size_t i = 0; i < sizeof kafka_password_keys / sizeof *kafka_password_keys; i++) {
                const char *k = kafka_password_keys[i];
                size_t n = strlen(k);
                /* The key itself, or the key under a prefix: Kafka reads listener.name.<l>.<key>
                 * and listener.name.<l>.<mechanism>.<key> the same way. */
                if (ends_with_ci(key, len, k) && (len == n || key[len - n - 1] == '.'))
                        return true;
        }
        for (size_t i = 0; i < sizeof contained / sizeof *contained; i++)
                if (contains_ci(key, contained[i]))
                        return true;
        for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++)
                if (ends_with_ci(key, len, suffixes[i]))
                        return true;
        return false;
}
