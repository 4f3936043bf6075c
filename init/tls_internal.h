/* What the tls*.c files share: OpenSSL-typed helpers behind include/kpa/tls.h. */
#ifndef KPA_TLS_INTERNAL_H
#define KPA_TLS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "kpa/tls.h"

/* PBKDF2 and MAC iterations: the count JDK 12+ writes by default, far under the
 * 5,000,000 it refuses to load. */
#define TLS_P12_ITER 10000

/* Formats t as 2026-01-01T00:00:00Z. */
void tls_format_time(const ASN1_TIME *t, char *buf, size_t len);
/* t as seconds since the epoch; -EINVAL if it cannot be read. */
int tls_time_epoch(const ASN1_TIME *t, time_t *ret);
/* The subject as RFC 2253 text, bounded by len. */
void tls_format_subject(const X509 *x, char *buf, size_t len);
/* Checks that key is RSA of 2048..8192 bits or EC P-256/P-384; label names it in messages. */
int tls_check_key_type(EVP_PKEY *key, const char *label, char *errbuf, size_t errlen);
/* "ec" or "rsa" for the key's type (NULL for anything else). */
const char *tls_key_type_name(EVP_PKEY *key);
/* Verifies leaf up to a CA of cas at now, with untrusted intermediates; the chain built
 * (leaf first, anchor last) goes to ret_chain. Labels name the inputs in the messages. */
int tls_verify_chain(X509 *leaf, STACK_OF(X509) *untrusted, STACK_OF(X509) *cas, time_t now,
                     const char *leaf_label, const char *ca_label, STACK_OF(X509) **ret_chain,
                     char *errbuf, size_t errlen);
/* The certificate's time window at now: -EINVAL with "<label> expired at ..." or
 * "<label> is not valid before ...". */
int tls_check_time(const X509 *x, time_t now, const char *label, char *errbuf, size_t errlen);

/* Issuance from a CA (tls_issue.c). */
int tls_issue(const struct tls_request *req, EVP_PKEY *ca_key, X509 *ca_cert,
              EVP_PKEY **ret_key, X509 **ret_cert, char *errbuf, size_t errlen);
/* Whether a certificate issued earlier can be kept: issued by ca_cert, its key matches and is
 * of the requested type, its CN and SANs are exactly the requested ones, and more than a third
 * of its lifetime is left at now. */
bool tls_issued_reusable(const struct tls_request *req, X509 *ca_cert, EVP_PKEY *key, X509 *leaf);
/* Checks the requested DNS names, IP addresses and key type before issuing. */
int tls_check_issue_request(const struct tls_request *req, char *errbuf, size_t errlen);

/* PKCS12 (tls_p12.c). */
int tls_p12_keystore(EVP_PKEY *key, STACK_OF(X509) *chain, const char *password,
                     unsigned char **ret, size_t *ret_len);
int tls_p12_truststore(STACK_OF(X509) *cas, const char *password, unsigned char **ret,
                       size_t *ret_len);

/* What a PKCS12 file holds, as far as kpa writes it. */
struct tls_p12_content {
        EVP_PKEY *key;            /* the first key bag */
        size_t n_keys;
        char key_alias[64];
        STACK_OF(X509) *certs;    /* in file order */
        char cert_alias[TLS_MAX_CERTS][64];
        bool cert_keyid[TLS_MAX_CERTS];
        bool cert_trusted[TLS_MAX_CERTS];
};
/* Opens a PKCS12 file with the password. -EINVAL if it is not one, does not open with the
 * password, or holds more than we ever write; the content is freed with tls_p12_content_free. */
int tls_p12_read(const unsigned char *der, size_t len, const char *password,
                 struct tls_p12_content *ret);
void tls_p12_content_free(struct tls_p12_content *c);
/* Whether the content is exactly the key store / trust store kpa would write for these. */
bool tls_p12_is_keystore_of(const struct tls_p12_content *c, EVP_PKEY *key, STACK_OF(X509) *chain);
bool tls_p12_is_truststore_of(const struct tls_p12_content *c, STACK_OF(X509) *cas);

#endif
