/* Issuing this pod's certificate from a CA (KPA_TLS_CA_DIR), and deciding when an earlier one
 * can be kept (common/tls_issue.c). */
#ifndef KPA_TLS_ISSUE_H
#define KPA_TLS_ISSUE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "kpa/tls.h"

int tls_issue(const struct tls_request *req, EVP_PKEY *ca_key, X509 *ca_cert,
              EVP_PKEY **ret_key, X509 **ret_cert, char *errbuf, size_t errlen);
/* Whether a certificate issued earlier can be kept: issued by ca_cert, its key matches and is
 * of the requested type, its CN and SANs are exactly the requested ones, and more than a third
 * of its lifetime is left at now. */
bool tls_issued_reusable(const struct tls_request *req, X509 *ca_cert, EVP_PKEY *key, X509 *leaf);
/* The moment an issued certificate valid from not_before to not_after stops being reusable:
 * two thirds of its lifetime are gone (tls_issued_reusable is false from then on). */
time_t tls_issued_due(time_t not_before, time_t not_after);

/* The names an issued certificate carries: its subject CN and its DNS and IP SANs, as text
 * that a tls_request takes back (so that a certificate issued again for them carries exactly
 * the same names). The pointer arrays point into the buffers. */
#define TLS_NAME_MAX 254
#define TLS_IP_TEXT_MAX 46
struct tls_issued_names {
        char cn[TLS_NAME_MAX];
        size_t n_dns, n_ips;
        char dns[TLS_MAX_SANS][TLS_NAME_MAX];
        char ip[TLS_MAX_SANS][TLS_IP_TEXT_MAX];
        const char *dns_ptr[TLS_MAX_SANS];
        const char *ip_ptr[TLS_MAX_SANS];
};
/* 0; -EINVAL when the certificate has no CN, no SAN extension, a name that is not text, an
 * address that is neither IPv4 nor IPv6, or more than TLS_MAX_SANS names. */
int tls_issued_names(X509 *leaf, struct tls_issued_names *ret);

/* Checks the requested DNS names, IP addresses and key type before issuing. */
int tls_check_issue_request(const struct tls_request *req, char *errbuf, size_t errlen);

#endif
