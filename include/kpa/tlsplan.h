/* The pure decisions of a certificate rotation (agent/tlsplan.c), over plain structs:
 * - which per-broker dynamic configuration to send so that the broker reloads its stores and
 *   no value someone else set is lost (or why the rotation must be refused);
 * - the tls_expiry condition.
 *
 * Why a whole set: librdkafka 2.0.2 offers only the legacy AlterConfigs, which REPLACES the
 * broker's per-broker dynamic configuration with the set sent. So the agent reads that set
 * first (DescribeConfigs, source DYNAMIC_BROKER_CONFIG) and sends it back with its own keys.
 * Kafka never returns the value of a sensitive config (a password): such a value cannot be
 * sent back, and sending the set without it would delete it, so the rotation is refused and
 * the reason names the key (docs/tls-rotation.md). */
#ifndef KPA_TLSPLAN_H
#define KPA_TLSPLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bounds: a broker's per-broker dynamic set is a handful of keys in practice. */
#define TLSPLAN_MAX_ENTRIES 256
#define TLSPLAN_NAME_MAX 256
#define TLSPLAN_VALUE_MAX 4096
#define TLSPLAN_MAX_LISTENERS 16

/* One per-broker dynamic config as DescribeConfigs returned it. */
struct tlsplan_entry {
        char name[TLSPLAN_NAME_MAX];
        /* NULL-able: Kafka returns no value for a sensitive key. */
        const char *value;
        bool sensitive;
};

/* What to send: names and values borrowed from the inputs. */
struct tlsplan_set {
        size_t n;
        const char *name[TLSPLAN_MAX_ENTRIES];
        const char *value[TLSPLAN_MAX_ENTRIES];
};

/* The keys kpa owns for one listener: listener.name.<lower-case name>.ssl.keystore.location
 * and .ssl.truststore.location, written into ret_keystore/ret_truststore. -EINVAL if the
 * listener name is empty, too long or not [A-Za-z0-9_-]. */
int tlsplan_listener_keys(const char *listener, char *ret_keystore, size_t kslen,
                          char *ret_truststore, size_t tslen);

/* Whether name is one of the keys kpa owns: listener.name.<l>.ssl.keystore.location or
 * listener.name.<l>.ssl.truststore.location, any listener. */
bool tlsplan_owned_key(const char *name);

/* The set to send: every current entry that kpa does not own, unchanged, then for each of
 * listeners[0..n_listeners) its two owned keys with keystore / truststore as values.
 * 0; or -EPERM when a current entry that kpa does not own has no value (sensitive, or
 * unreadable): why names it and says what to do; -E2BIG over TLSPLAN_MAX_ENTRIES; -EINVAL for
 * a bad listener name. keybuf holds the owned keys' names (2 x n_listeners x
 * TLSPLAN_NAME_MAX bytes). */
int tlsplan_alter_set(const struct tlsplan_entry *current, size_t n_current,
                      const char *const *listeners, size_t n_listeners, const char *keystore,
                      const char *truststore, char (*keybuf)[TLSPLAN_NAME_MAX],
                      struct tlsplan_set *ret, char *why, size_t whylen);

/* A TLS listener of the broker, from server.properties. */
struct tlsplan_listener {
        char name[64];
        uint16_t port;                 /* from listeners */
        char advertised[256];          /* its host in advertised.listeners, or "" */
        bool ssl;                      /* SSL (where ssl.client.auth applies), not SASL_SSL */
};

/* The broker's TLS listeners: each NAME://HOST:PORT of listeners whose protocol in
 * protocol_map (NULL: the name itself, as Kafka defaults) is SSL or SASL_SSL, and whose name
 * is not in controller_names (comma list, may be NULL): a controller listener's store cannot
 * be reloaded dynamically. 0, or -EINVAL / -E2BIG with why naming the key at fault. */
int tlsplan_tls_listeners(const char *listeners, const char *advertised, const char *protocol_map,
                          const char *controller_names, struct tlsplan_listener *ret, size_t max,
                          size_t *ret_n, char *why, size_t whylen);

/* Whether the controller listener (the first of controller_names whose protocol is SSL or
 * SASL_SSL) uses TLS, whatever this node's roles: then the controllers are TLS peers of every
 * node, every node's Raft client uses TLS (and keeps the material its process started with:
 * raftstart.h), and name gets that listener's name. */
bool tlsplan_controller_tls(const char *controller_names, const char *protocol_map, char *name, size_t namelen);

/* The tls_expiry condition: true (ok) when not_after is more than warn_days days after now;
 * otherwise false, with why saying "expires in N days (at ...)" or "expired at ...".
 * warn_days 0: never warns before expiry, only after. */
bool tlsplan_expiry_ok(int64_t not_after_unix, int64_t now_unix, unsigned warn_days, char *why,
                       size_t whylen);

/* KPA_TLS_CA_DIR: when to look again after a round. The issued leaf is due for renewal at
 * due_unix (tls_issued_due): the next round runs just after that moment (TLSPLAN_DUE_SLACK_MS
 * past it, so that the clock has reached it when the round asks), and never later than
 * recheck_ms. A due moment already past (the round did not renew: refused or failed) or none
 * known (have_due false): recheck_ms, so that a refusal is not retried in a tight loop. */
#define TLSPLAN_DUE_SLACK_MS 1000
uint64_t tlsplan_next_check_ms(int64_t now_unix_ms, bool have_due, int64_t due_unix, uint64_t recheck_ms);

#endif
