/* X.509 helpers shared by the TLS modules (common/tls_x509.c): OpenSSL-typed, so only code
 * that already speaks OpenSSL includes this. */
#ifndef KPA_TLS_X509_H
#define KPA_TLS_X509_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

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

#endif
