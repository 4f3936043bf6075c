/* Issuing this pod's certificate from a CA (KPA_TLS_CA_DIR), and deciding when an earlier
 * one can be kept. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "kpa/tls_issue.h"
#include "kpa/tls_x509.h"

/* Backdating absorbs clock skew between the pod that issues and the peers that verify. */
#define BACKDATE_SECONDS 300
/* X.520 ub-common-name. */
#define MAX_CN_LEN 64

static bool key_type_rsa(const struct tls_request *req) {
        return req->key_type && strcmp(req->key_type, "rsa") == 0;
}

static uint32_t validity_days(const struct tls_request *req) {
        return req->validity_days ? req->validity_days : TLS_DEFAULT_VALIDITY_DAYS;
}

/* Letters, digits and inner hyphens in labels of 1..63 bytes, at most 253 bytes, with an
 * optional "*." in front: what a certificate's dNSName may hold. */
static bool valid_dns_name(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > 253)
                return false;
        if (strncmp(s, "*.", 2) == 0)
                s += 2;
        size_t label = 0;
        char prev = '.';
        for (const char *p = s;; p++) {
                if (*p == '.' || *p == '\0') {
                        if (label == 0 || label > 63 || prev == '-')
                                return false;
                        if (*p == '\0')
                                return true;
                        label = 0;
                } else if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
                           (*p >= '0' && *p <= '9') || (*p == '-' && label > 0)) {
                        label++;
                } else {
                        return false;
                }
                prev = *p;
        }
}

static bool valid_ip(const char *s) {
        ASN1_OCTET_STRING *ip = a2i_IPADDRESS(s);
        ERR_clear_error();
        ASN1_OCTET_STRING_free(ip);
        return ip != NULL;
}

/* The subject CN: the FQDN, or its first label when the FQDN is longer than X.520 allows. */
static int common_name(const struct tls_request *req, char *buf, size_t len) {
        const char *cn = req->common_name ? req->common_name : req->n_dns ? req->dns_names[0] :
                         req->n_ips ? req->ip_addrs[0] : "kafka";
        size_t n = strlen(cn);
        if (n > MAX_CN_LEN)
                n = strcspn(cn, ".");
        if (n == 0 || n > MAX_CN_LEN || n >= len)
                return -EINVAL;
        memcpy(buf, cn, n);
        buf[n] = '\0';
        return 0;
}

int tls_check_issue_request(const struct tls_request *req, char *errbuf, size_t errlen) {
        if (req->key_type && strcmp(req->key_type, "ec") != 0 && strcmp(req->key_type, "rsa") != 0) {
                snprintf(errbuf, errlen, "KPA_TLS_KEY_TYPE: \"%.32s\" is not a key type (ec or rsa expected)",
                         req->key_type);
                return -EINVAL;
        }
        if (req->validity_days > TLS_MAX_VALIDITY_DAYS) {
                snprintf(errbuf, errlen, "KPA_TLS_VALIDITY_DAYS: %u days is out of range (1 to %d expected)",
                         req->validity_days, TLS_MAX_VALIDITY_DAYS);
                return -EINVAL;
        }
        if (req->n_dns + req->n_ips == 0 || req->n_dns + req->n_ips > TLS_MAX_SANS) {
                snprintf(errbuf, errlen, "a certificate issued from KPA_TLS_CA_DIR needs 1 to %d DNS names and IP addresses (got %zu)",
                         TLS_MAX_SANS, req->n_dns + req->n_ips);
                return -EINVAL;
        }
        for (size_t i = 0; i < req->n_dns; i++)
                if (!valid_dns_name(req->dns_names[i])) {
                        snprintf(errbuf, errlen, "cannot issue a certificate for \"%.253s\": not a valid DNS name",
                                 req->dns_names[i]);
                        return -EINVAL;
                }
        for (size_t i = 0; i < req->n_ips; i++)
                if (!valid_ip(req->ip_addrs[i])) {
                        snprintf(errbuf, errlen, "cannot issue a certificate for \"%.64s\": not a valid IP address",
                                 req->ip_addrs[i]);
                        return -EINVAL;
                }
        char cn[MAX_CN_LEN + 1];
        if (common_name(req, cn, sizeof cn) < 0) {
                snprintf(errbuf, errlen, "the common name \"%.253s\" has no first label of 1 to %d bytes",
                         req->common_name, MAX_CN_LEN);
                return -EINVAL;
        }
        return 0;
}

static bool earlier_dns(const struct tls_request *req, size_t i) {
        for (size_t k = 0; k < i; k++)
                if (strcasecmp(req->dns_names[k], req->dns_names[i]) == 0)
                        return true;
        return false;
}

static bool same_ip(const char *text, const ASN1_OCTET_STRING *bin) {
        ASN1_OCTET_STRING *ip = a2i_IPADDRESS(text);
        bool same = ip && ASN1_OCTET_STRING_cmp(ip, bin) == 0;
        ASN1_OCTET_STRING_free(ip);
        return same;
}

static bool earlier_ip(const struct tls_request *req, size_t i) {
        ASN1_OCTET_STRING *ip = a2i_IPADDRESS(req->ip_addrs[i]);
        bool found = false;
        for (size_t k = 0; ip && !found && k < i; k++)
                found = same_ip(req->ip_addrs[k], ip);
        ASN1_OCTET_STRING_free(ip);
        return found;
}

/* The SANs, built as values rather than from a configuration string, so that no name can
 * smuggle in another entry. Duplicates are left out. */
static GENERAL_NAMES *make_sans(const struct tls_request *req) {
        GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
        if (!gens)
                return NULL;
        for (size_t i = 0; i < req->n_dns; i++) {
                if (earlier_dns(req, i))
                        continue;
                GENERAL_NAME *g = GENERAL_NAME_new();
                ASN1_IA5STRING *s = ASN1_IA5STRING_new();
                if (!g || !s || !ASN1_STRING_set(s, req->dns_names[i], -1)) {
                        GENERAL_NAME_free(g);
                        ASN1_IA5STRING_free(s);
                        goto fail;
                }
                GENERAL_NAME_set0_value(g, GEN_DNS, s);
                if (!sk_GENERAL_NAME_push(gens, g)) {
                        GENERAL_NAME_free(g);
                        goto fail;
                }
        }
        for (size_t i = 0; i < req->n_ips; i++) {
                if (earlier_ip(req, i))
                        continue;
                GENERAL_NAME *g = GENERAL_NAME_new();
                ASN1_OCTET_STRING *ip = a2i_IPADDRESS(req->ip_addrs[i]);
                if (!g || !ip) {
                        GENERAL_NAME_free(g);
                        ASN1_OCTET_STRING_free(ip);
                        goto fail;
                }
                GENERAL_NAME_set0_value(g, GEN_IPADD, ip);
                if (!sk_GENERAL_NAME_push(gens, g)) {
                        GENERAL_NAME_free(g);
                        goto fail;
                }
        }
        return gens;
fail:
        GENERAL_NAMES_free(gens);
        return NULL;
}

static int add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value) {
        X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
        int ok = ext && X509_add_ext(x, ext, -1) == 1;
        X509_EXTENSION_free(ext);
        return ok ? 0 : -EINVAL;
}

static int random_serial(X509 *x) {
        unsigned char b[16];
        if (RAND_bytes(b, sizeof b) != 1)
                return -EIO;
        /* 127 random bits: the top bit clear keeps the DER INTEGER positive in 16 bytes. */
        b[0] &= 0x7f;
        BIGNUM *bn = BN_bin2bn(b, sizeof b, NULL);
        if (bn && BN_is_zero(bn))
                BN_one(bn);
        int ok = bn && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
        BN_free(bn);
        return ok ? 0 : -ENOMEM;
}

int tls_issue(const struct tls_request *req, EVP_PKEY *ca_key, X509 *ca_cert,
              EVP_PKEY **ret_key, X509 **ret_cert, char *errbuf, size_t errlen) {
        bool rsa = key_type_rsa(req);
        char cn[MAX_CN_LEN + 1];
        time_t ca_nb, ca_na;
        int r = common_name(req, cn, sizeof cn);
        if (r < 0)
                return r;
        r = tls_time_epoch(X509_get0_notBefore(ca_cert), &ca_nb);
        if (r == 0)
                r = tls_time_epoch(X509_get0_notAfter(ca_cert), &ca_na);
        if (r < 0) {
                snprintf(errbuf, errlen, "KPA_TLS_CA_DIR/ca.crt: the CA's validity cannot be read");
                return r;
        }
        /* Never beyond the CA: a certificate that outlives its issuer fails verification
         * from the moment the CA expires. */
        time_t nb = req->now - BACKDATE_SECONDS > ca_nb ? req->now - BACKDATE_SECONDS : ca_nb;
        time_t na = req->now + (time_t) validity_days(req) * 86400;
        if (na > ca_na)
                na = ca_na;

        EVP_PKEY *key = rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
        X509 *x = X509_new();
        X509_NAME *name = X509_NAME_new();
        GENERAL_NAMES *sans = make_sans(req);
        X509V3_CTX ctx;
        r = -ENOMEM;
        if (!key || !x || !name || !sans)
                goto out;
        if (X509_set_version(x, X509_VERSION_3) != 1 || (r = random_serial(x)) < 0)
                goto out;
        r = -ENOMEM;
        if (!ASN1_TIME_set(X509_getm_notBefore(x), nb) || !ASN1_TIME_set(X509_getm_notAfter(x), na) ||
            X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *) cn, -1, -1, 0) != 1 ||
            X509_set_subject_name(x, name) != 1 ||
            X509_set_issuer_name(x, X509_get_subject_name(ca_cert)) != 1 ||
            X509_set_pubkey(x, key) != 1)
                goto out;
        X509V3_set_ctx(&ctx, ca_cert, x, NULL, NULL, 0);
        if (add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
            add_ext(x, &ctx, NID_key_usage, rsa ? "critical,digitalSignature,keyEncipherment" :
                    "critical,digitalSignature") < 0 ||
            add_ext(x, &ctx, NID_ext_key_usage, "serverAuth,clientAuth") < 0 ||
            add_ext(x, &ctx, NID_subject_key_identifier, "hash") < 0 ||
            add_ext(x, &ctx, NID_authority_key_identifier, "keyid,issuer") < 0 ||
            X509_add1_ext_i2d(x, NID_subject_alt_name, sans, 0, X509V3_ADD_DEFAULT) != 1)
                goto out;
        if (X509_sign(x, ca_key, EVP_sha256()) <= 0) {
                snprintf(errbuf, errlen, "signing the certificate with KPA_TLS_CA_DIR/ca.key failed");
                r = -EIO;
                goto out;
        }
        *ret_key = key;
        *ret_cert = x;
        key = NULL;
        x = NULL;
        r = 0;
out:
        EVP_PKEY_free(key);
        X509_free(x);
        X509_NAME_free(name);
        GENERAL_NAMES_free(sans);
        ERR_clear_error();
        return r;
}

/* The certificate's SANs are exactly the requested DNS names (in any case) and addresses. */
static bool same_sans(const struct tls_request *req, X509 *leaf) {
        GENERAL_NAMES *gens = X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL);
        size_t unique = 0;
        bool same = gens != NULL;
        for (size_t i = 0; i < req->n_dns; i++)
                unique += !earlier_dns(req, i);
        for (size_t i = 0; i < req->n_ips; i++)
                unique += !earlier_ip(req, i);
        if (same && (size_t) sk_GENERAL_NAME_num(gens) != unique)
                same = false;
        for (int k = 0; same && k < sk_GENERAL_NAME_num(gens); k++) {
                const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, k);
                bool found = false;
                if (g->type == GEN_DNS) {
                        const ASN1_IA5STRING *s = g->d.dNSName;
                        for (size_t i = 0; !found && i < req->n_dns; i++)
                                found = (size_t) ASN1_STRING_length(s) == strlen(req->dns_names[i]) &&
                                        strncasecmp((const char *) ASN1_STRING_get0_data(s),
                                                    req->dns_names[i], strlen(req->dns_names[i])) == 0;
                } else if (g->type == GEN_IPADD) {
                        for (size_t i = 0; !found && i < req->n_ips; i++)
                                found = same_ip(req->ip_addrs[i], g->d.iPAddress);
                }
                same = found;
        }
        GENERAL_NAMES_free(gens);
        return same;
}

bool tls_issued_reusable(const struct tls_request *req, X509 *ca_cert, EVP_PKEY *key, X509 *leaf) {
        char cn[MAX_CN_LEN + 1], have[MAX_CN_LEN + 2];
        const char *type = tls_key_type_name(key);
        time_t nb, na;
        bool ok = X509_check_issued(ca_cert, leaf) == X509_V_OK &&
                  X509_verify(leaf, X509_get0_pubkey(ca_cert)) == 1 &&
                  X509_check_private_key(leaf, key) == 1 &&
                  type && strcmp(type, key_type_rsa(req) ? "rsa" : "ec") == 0 &&
                  common_name(req, cn, sizeof cn) == 0 &&
                  X509_NAME_get_text_by_NID(X509_get_subject_name(leaf), NID_commonName, have, sizeof have) >= 0 &&
                  strcmp(cn, have) == 0 && same_sans(req, leaf) &&
                  tls_time_epoch(X509_get0_notBefore(leaf), &nb) == 0 &&
                  tls_time_epoch(X509_get0_notAfter(leaf), &na) == 0 &&
                  nb <= req->now && req->now < na &&
                  /* Renew once two thirds of the lifetime are gone, as cert-manager does. */
                  req->now < tls_issued_due(nb, na);
        ERR_clear_error();
        return ok;
}

time_t tls_issued_due(time_t not_before, time_t not_after) {
        /* The first second with (not_after - t) * 3 <= lifetime: no more than a third left. */
        time_t life = not_after > not_before ? not_after - not_before : 0;
        return not_after - life / 3;
}

static int copy_text(const ASN1_STRING *s, char *buf, size_t len) {
        int n = ASN1_STRING_length(s);
        const unsigned char *d = ASN1_STRING_get0_data(s);
        if (n <= 0 || (size_t) n >= len || memchr(d, '\0', (size_t) n))
                return -EINVAL;
        memcpy(buf, d, (size_t) n);
        buf[n] = '\0';
        return 0;
}

int tls_issued_names(X509 *leaf, struct tls_issued_names *ret) {
        memset(ret, 0, sizeof *ret);
        X509_NAME *subj = X509_get_subject_name(leaf);
        int at = X509_NAME_get_index_by_NID(subj, NID_commonName, -1);
        int r = at < 0 ? -EINVAL :
                copy_text(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, at)), ret->cn, sizeof ret->cn);
        GENERAL_NAMES *gens = r == 0 ? X509_get_ext_d2i(leaf, NID_subject_alt_name, NULL, NULL) : NULL;
        if (r == 0 && !gens)
                r = -EINVAL;
        for (int k = 0; r == 0 && k < sk_GENERAL_NAME_num(gens); k++) {
                const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, k);
                if (ret->n_dns + ret->n_ips >= TLS_MAX_SANS) {
                        r = -EINVAL;
                } else if (g->type == GEN_DNS) {
                        r = copy_text(g->d.dNSName, ret->dns[ret->n_dns], TLS_NAME_MAX);
                        if (r == 0) {
                                ret->dns_ptr[ret->n_dns] = ret->dns[ret->n_dns];
                                ret->n_dns++;
                        }
                } else if (g->type == GEN_IPADD) {
                        int n = ASN1_STRING_length(g->d.iPAddress);
                        int af = n == 4 ? AF_INET : n == 16 ? AF_INET6 : -1;
                        if (af < 0 || !inet_ntop(af, ASN1_STRING_get0_data(g->d.iPAddress), ret->ip[ret->n_ips],
                                                 TLS_IP_TEXT_MAX)) {
                                r = -EINVAL;
                        } else {
                                ret->ip_ptr[ret->n_ips] = ret->ip[ret->n_ips];
                                ret->n_ips++;
                        }
                } else {
                        /* kpa never issues another kind: this is not a certificate it issued. */
                        r = -EINVAL;
                }
        }
        GENERAL_NAMES_free(gens);
        ERR_clear_error();
        return r;
}
