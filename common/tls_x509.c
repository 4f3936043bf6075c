/* X.509 helpers the TLS modules share: time and subject formatting, key type and validity
 * checks, and chain verification the way the broker's JVM will verify. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "kpa/tls_x509.h"

void tls_format_time(const ASN1_TIME *t, char *buf, size_t len) {
        struct tm tm;
        if (!t || ASN1_TIME_to_tm(t, &tm) != 1 || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                snprintf(buf, len, "(unreadable time)");
}

int tls_time_epoch(const ASN1_TIME *t, time_t *ret) {
        struct tm tm;
        if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
                return -EINVAL;
        *ret = timegm(&tm);
        return 0;
}

void tls_format_subject(const X509 *x, char *buf, size_t len) {
        BIO *b = BIO_new(BIO_s_mem());
        buf[0] = '\0';
        if (!b)
                return;
        if (X509_NAME_print_ex(b, X509_get_subject_name(x), 0, XN_FLAG_RFC2253) >= 0) {
                char *p;
                long n = BIO_get_mem_data(b, &p);
                snprintf(buf, len, "%.*s", (int) (n < 0 ? 0 : n > 512 ? 512 : n), p);
        }
        BIO_free(b);
}

int tls_check_time(const X509 *x, time_t now, const char *label, char *errbuf, size_t errlen) {
        char when[40];
        if (X509_cmp_time(X509_get0_notBefore(x), &now) > 0) {
                tls_format_time(X509_get0_notBefore(x), when, sizeof when);
                snprintf(errbuf, errlen, "%s is not valid before %s", label, when);
                return -EINVAL;
        }
        if (X509_cmp_time(X509_get0_notAfter(x), &now) < 0) {
                tls_format_time(X509_get0_notAfter(x), when, sizeof when);
                snprintf(errbuf, errlen, "%s expired at %s", label, when);
                return -EINVAL;
        }
        return 0;
}


const char *tls_key_type_name(EVP_PKEY *key) {
        switch (EVP_PKEY_get_base_id(key)) {
        case EVP_PKEY_RSA:
                return "rsa";
        case EVP_PKEY_EC:
                return "ec";
        default:
                return NULL;
        }
}

int tls_check_key_type(EVP_PKEY *key, const char *label, char *errbuf, size_t errlen) {
        int id = EVP_PKEY_get_base_id(key);
        if (id == EVP_PKEY_RSA) {
                int bits = EVP_PKEY_get_bits(key);
                if (bits >= 2048 && bits <= 8192)
                        return 0;
                snprintf(errbuf, errlen, "%s: RSA key of %d bits (2048 to 8192 expected)", label, bits);
                return -EINVAL;
        }
        if (id == EVP_PKEY_EC) {
                char group[64] = "";
                size_t glen = 0;
                if (EVP_PKEY_get_group_name(key, group, sizeof group, &glen) == 1 &&
                    (strcmp(group, "prime256v1") == 0 || strcmp(group, "secp384r1") == 0))
                        return 0;
                snprintf(errbuf, errlen, "%s: EC key on curve %s (P-256 or P-384 expected)", label,
                         group[0] ? group : "(unknown)");
                return -EINVAL;
        }
        snprintf(errbuf, errlen, "%s: %s key (RSA or EC P-256/P-384 expected)", label,
                 OBJ_nid2sn(id) ? OBJ_nid2sn(id) : "unknown");
        return -EINVAL;
}

static bool in_stack(STACK_OF(X509) *s, X509 *x) {
        for (int i = 0; i < sk_X509_num(s); i++)
                if (X509_cmp(sk_X509_value(s, i), x) == 0)
                        return true;
        return false;
}

int tls_verify_chain(X509 *leaf, STACK_OF(X509) *untrusted, STACK_OF(X509) *cas, time_t now,
                     const char *leaf_label, const char *ca_label, STACK_OF(X509) **ret_chain,
                     char *errbuf, size_t errlen) {
        X509_STORE *store = X509_STORE_new();
        X509_STORE_CTX *ctx = X509_STORE_CTX_new();
        int r = -ENOMEM;
        if (!store || !ctx)
                goto out;
        for (int i = 0; i < sk_X509_num(cas); i++)
                if (X509_STORE_add_cert(store, sk_X509_value(cas, i)) != 1)
                        goto out;
        if (X509_STORE_CTX_init(ctx, store, leaf, untrusted) != 1)
                goto out;
        /* Java trusts every certificate of its trust store as an anchor, self-signed or not;
         * a partial chain ending at any CA of ca.crt is what the broker will accept. */
        X509_STORE_CTX_set_flags(ctx, X509_V_FLAG_PARTIAL_CHAIN);
        X509_STORE_CTX_set_time(ctx, 0, now);
        X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_SERVER);
        if (X509_verify_cert(ctx) == 1) {
                *ret_chain = X509_STORE_CTX_get1_chain(ctx);
                r = *ret_chain ? 0 : -ENOMEM;
                goto out;
        }
        int err = X509_STORE_CTX_get_error(ctx);
        int depth = X509_STORE_CTX_get_error_depth(ctx);
        X509 *cur = X509_STORE_CTX_get_current_cert(ctx);
        r = -EINVAL;
        if ((err == X509_V_ERR_CERT_HAS_EXPIRED || err == X509_V_ERR_CERT_NOT_YET_VALID) && cur) {
                char subject[256], label[384];
                tls_format_subject(cur, subject, sizeof subject);
                if (depth == 0)
                        snprintf(label, sizeof label, "%s", leaf_label);
                else if (in_stack(cas, cur))
                        snprintf(label, sizeof label, "%s: CA certificate %s", ca_label, subject);
                else
                        snprintf(label, sizeof label, "%s: intermediate certificate %s", leaf_label, subject);
                tls_check_time(cur, now, label, errbuf, errlen);
        } else if (err == X509_V_ERR_INVALID_PURPOSE && depth == 0) {
                snprintf(errbuf, errlen, "%s: the certificate is not for TLS servers (its extendedKeyUsage lacks serverAuth or its keyUsage forbids it)",
                         leaf_label);
        } else {
                snprintf(errbuf, errlen, "%s: chain does not verify against %s: %s", leaf_label,
                         ca_label, X509_verify_cert_error_string(err));
        }
out:
        X509_STORE_CTX_free(ctx);
        X509_STORE_free(store);
        ERR_clear_error();
        return r;
}
