/* TLS material for the broker: mounted Secret PEM files (or a CA that issues this pod's
 * certificate), validated, turned into the PKCS12 key store and trust store that the broker's
 * JVM loads, plus a CA PEM file for librdkafka (kpa-agent).
 *
 * Error messages name the inputs by their environment variables (KPA_TLS_DIR/tls.key,
 * KPA_TLS_CA_DIR/ca.crt, ...) and never contain key bytes or passwords. */
#ifndef KPA_TLS_H
#define KPA_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Output file names, as written into the output directory (and looked for in previous_dir). */
#define TLS_KEYSTORE_FILE "keystore.p12"
#define TLS_TRUSTSTORE_FILE "truststore.p12"
#define TLS_CA_PEM_FILE "ca.pem"
#define TLS_PASSWORD_FILE "store.password"
/* The key store's only entry. */
#define TLS_KEY_ALIAS "kafka"

/* Bounds on what the inputs may make us read or hold. */
#define TLS_MAX_PEM_BYTES (1024 * 1024)
#define TLS_MAX_CERTS 32
#define TLS_MAX_SANS 256
#define TLS_MAX_VALIDITY_DAYS 3650
#define TLS_DEFAULT_VALIDITY_DAYS 90
#define TLS_PASSWORD_MIN 6
#define TLS_PASSWORD_MAX 128
#define TLS_GENERATED_PASSWORD_LEN 32

struct tls_request {
        /* cert-manager layout: tls.crt (leaf, then intermediates), tls.key, ca.crt (one or
         * more CAs). Exactly one of tls_dir and ca_dir is set. */
        const char *tls_dir;
        /* ca.crt + ca.key: kpa-init issues this pod's certificate itself. */
        const char *ca_dir;
        /* SANs of an issued certificate (pod FQDN, headless wildcard, external hosts). */
        const char *const *dns_names;
        size_t n_dns;
        const char *const *ip_addrs;
        size_t n_ips;
        /* Advertised hosts (names or IP literals) the certificate must cover. */
        const char *const *must_cover;
        size_t n_cover;
        /* true: an uncovered advertised host is a warning, not an error. */
        bool warn_uncovered;
        /* Subject CN of an issued certificate (the pod FQDN). Longer than 64 bytes (the X.520
         * limit): its first label is used. NULL: the first DNS name. */
        const char *common_name;
        /* Issued key: "ec" (P-256, the default when NULL) or "rsa" (2048 bits). */
        const char *key_type;
        /* Issued certificate validity in days, 1..TLS_MAX_VALIDITY_DAYS; 0 means 90. */
        uint32_t validity_days;
        /* Store password, TLS_PASSWORD_MIN..TLS_PASSWORD_MAX printable ASCII characters. */
        const char *password;
        /* Where stores from an earlier run may be (the output directory); may be NULL. */
        const char *previous_dir;
        /* The clock for every validity check and for issuance. */
        time_t now;
};

struct tls_result {
        /* keystore.p12: the key and its full chain, alias "kafka". */
        unsigned char *keystore;
        size_t keystore_len;
        /* truststore.p12: every CA of ca.crt as a trusted certificate entry ("ca-0", ...). */
        unsigned char *truststore;
        size_t truststore_len;
        /* ca.pem: the same CAs, for librdkafka's ssl.ca.location. */
        char *ca_pem;
        size_t ca_pem_len;
        /* Conditions worth a log line (an uncovered host when warn_uncovered, ...). */
        char **warnings;
        size_t n_warnings;
        /* Both previous stores were kept byte for byte. */
        bool reused;
        /* A new certificate was issued from ca_dir in this run. */
        bool issued;
        /* The leaf certificate's notAfter, for logging and renewal planning. */
        time_t not_after;
};

/* Validates the inputs and builds the stores. 0; -EINVAL for bad input with one line in
 * errbuf naming the input and what was expected; another negative errno for a runtime
 * failure. ret is written only on success. */
int tls_build(const struct tls_request *req, struct tls_result *ret, char *errbuf, size_t errlen);
/* Overwrites every byte the result holds, keeping the allocations (tls_result_free does this
 * before freeing). Accepts NULL. */
void tls_result_wipe(struct tls_result *r);
/* Wipes and frees everything the result holds and zeroes it. Accepts NULL. */
void tls_result_free(struct tls_result *r);

#endif
