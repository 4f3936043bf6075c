/* Issuing this pod's certificate from a CA (KPA_TLS_CA_DIR), and deciding when an earlier one
 * can be kept (common/tls_issue.c). */
#ifndef KPA_TLS_ISSUE_H
#define KPA_TLS_ISSUE_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "kpa/tls.h"

int tls_issue(const struct tls_request *req, EVP_PKEY *ca_key, X509 *ca_cert,
              EVP_PKEY **ret_key, X509 **ret_cert, char *errbuf, size_t errlen);
/* Whether a certificate issued earlier can be kept: issued by ca_cert, its key matches and is
 * of the requested type, its CN and SANs are exactly the requested ones, and more than a third
 * of its lifetime is left at now. */
bool tls_issued_reusable(const struct tls_request *req, X509 *ca_cert, EVP_PKEY *key, X509 *leaf);
/* Checks the requested DNS names, IP addresses and key type before issuing. */
int tls_check_issue_request(const struct tls_request *req, char *errbuf, size_t errlen);

#endif
