/* The CA facts a CA rotation needs (agent/tlsca.c, carot.h): CAs named by fingerprint, which CA
 * a chain leads to, and the trust store and ca.pem for a chosen set of CAs. OpenSSL-typed, so
 * only code that already speaks OpenSSL includes this. */
#ifndef KPA_TLSCA_H
#define KPA_TLSCA_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/x509.h>

#include "kpa/carot.h"

/* The SHA-256 of x's DER encoding, 64 lower-case hex digits. */
void tlsca_fingerprint(const X509 *x, char ret[CAROT_FP_LEN]);
/* The certificates of a PEM bundle (at most TLS_MAX_CERTS), appended to pool unless one with the
 * same fingerprint is there already; their fingerprints into ret_set when not NULL. 0 or
 * -EINVAL (not PEM certificates, or too many), -ENOMEM. */
int tlsca_add_pem(const char *pem, size_t len, STACK_OF(X509) *pool, struct carot_set *ret_set);
/* The CA of pool that chain (leaf first, as served or stored) leads to: the first certificate
 * of the chain that a CA of pool issued (by name and signature), that CA's fingerprint into
 * ret; false when none did. Validity dates are not judged: this names a CA, it trusts nothing. */
bool tlsca_anchor(STACK_OF(X509) *chain, STACK_OF(X509) *pool, char ret[CAROT_FP_LEN]);
/* The CAs of pool named in want, in want's order: the trust store (password) and ca.pem for
 * them. 0, -ENOENT when pool lacks one, -ENOMEM. */
int tlsca_stores(STACK_OF(X509) *pool, const struct carot_set *want, const char *password,
                 unsigned char **ret_truststore, size_t *ret_ts_len, char **ret_pem, size_t *ret_pem_len);
/* SHA-256 of data as 64 lower-case hex digits (the state file names ca.pem by it). */
void tlsca_sha256_hex(const void *data, size_t len, char ret[CAROT_FP_LEN]);

#endif
