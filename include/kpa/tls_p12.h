/* PKCS12 writing and reading, shaped for Java's KeyStore (common/tls_p12.c). */
#ifndef KPA_TLS_P12_H
#define KPA_TLS_P12_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "kpa/tls.h"

/* PBKDF2 and MAC iterations: the count JDK 12+ writes by default, far under the
 * 5,000,000 it refuses to load. */
#define TLS_P12_ITER 10000

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
