/* The CA facts a CA rotation needs (see include/kpa/tlsca.h). */
#include "kpa/tlsca.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "kpa/tls.h"
#include "kpa/tls_p12.h"

static void hex(const unsigned char *md, unsigned n, char ret[CAROT_FP_LEN]) {
        static const char digits[] = "0123456789abcdef";
        unsigned i = 0;
        for (; i < n && 2 * i + 1 < CAROT_FP_LEN; i++) {
                ret[2 * i] = digits[md[i] >> 4];
                ret[2 * i + 1] = digits[md[i] & 15];
        }
        ret[2 * i] = '\0';
}

void tlsca_fingerprint(const X509 *x, char ret[CAROT_FP_LEN]) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned n = 0;
        if (X509_digest(x, EVP_sha256(), md, &n) != 1 || n != 32) {
                ret[0] = '\0';
                ERR_clear_error();
                return;
        }
        hex(md, n, ret);
}

void tlsca_sha256_hex(const void *data, size_t len, char ret[CAROT_FP_LEN]) {
        unsigned char md[EVP_MAX_MD_SIZE];
        unsigned n = 0;
        if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32) {
                ret[0] = '\0';
                ERR_clear_error();
                return;
        }
        hex(md, n, ret);
}

static X509 *find(STACK_OF(X509) *pool, const char *fp) {
        char f[CAROT_FP_LEN];
        for (int i = 0; i < sk_X509_num(pool); i++) {
                tlsca_fingerprint(sk_X509_value(pool, i), f);
                if (strcmp(f, fp) == 0)
                        return sk_X509_value(pool, i);
        }
        return NULL;
}

int tlsca_add_pem(const char *pem, size_t len, STACK_OF(X509) *pool, struct carot_set *ret_set) {
        if (len > TLS_MAX_PEM_BYTES || len > INT32_MAX)
                return -EINVAL;
        BIO *b = BIO_new_mem_buf(pem, (int) len);
        if (!b)
                return -ENOMEM;
        int r = 0, n = 0;
        X509 *x;
        while ((x = PEM_read_bio_X509(b, NULL, NULL, NULL))) {
                char fp[CAROT_FP_LEN];
                tlsca_fingerprint(x, fp);
                if (++n > TLS_MAX_CERTS || !fp[0]) {
                        X509_free(x);
                        r = -EINVAL;
                        break;
                }
                if (ret_set && (r = carot_set_add(ret_set, fp)) < 0) {
                        X509_free(x);
                        break;
                }
                if (find(pool, fp) || !sk_X509_push(pool, x))
                        X509_free(x);
        }
        ERR_clear_error();
        BIO_free(b);
        return r == 0 && n == 0 ? -EINVAL : r;
}

bool tlsca_anchor(STACK_OF(X509) *chain, STACK_OF(X509) *pool, char ret[CAROT_FP_LEN]) {
        for (int i = 0; chain && i < sk_X509_num(chain); i++) {
                X509 *c = sk_X509_value(chain, i);
                for (int k = 0; k < sk_X509_num(pool); k++) {
                        X509 *ca = sk_X509_value(pool, k);
                        EVP_PKEY *key = X509_get0_pubkey(ca);
                        if (X509_check_issued(ca, c) == X509_V_OK && key && X509_verify(c, key) == 1) {
                                tlsca_fingerprint(ca, ret);
                                ERR_clear_error();
                                return ret[0] != '\0';
                        }
                }
        }
        ERR_clear_error();
        return false;
}

int tlsca_stores(STACK_OF(X509) *pool, const struct carot_set *want, const char *password,
                 unsigned char **ret_truststore, size_t *ret_ts_len, char **ret_pem, size_t *ret_pem_len) {
        STACK_OF(X509) *cas = sk_X509_new_null();
        BIO *b = BIO_new(BIO_s_mem());
        int r = cas && b ? 0 : -ENOMEM;
        for (size_t i = 0; r == 0 && i < want->n; i++) {
                X509 *x = find(pool, want->fp[i]);
                if (!x)
                        r = -ENOENT;
                else if (!sk_X509_push(cas, x) || PEM_write_bio_X509(b, x) != 1)
                        r = -ENOMEM;
        }
        unsigned char *ts = NULL;
        size_t ts_len = 0;
        if (r == 0)
                r = tls_p12_truststore(cas, password, &ts, &ts_len);
        char *p = NULL;
        long n = r == 0 ? BIO_get_mem_data(b, &p) : -1;
        char *pem = n >= 0 ? malloc((size_t) n + 1) : NULL;
        if (r == 0 && !pem)
                r = -ENOMEM;
        if (r == 0) {
                memcpy(pem, p, (size_t) n);
                pem[n] = '\0';
                *ret_truststore = ts;
                *ret_ts_len = ts_len;
                *ret_pem = pem;
                *ret_pem_len = (size_t) n;
        } else {
                free(ts);
                free(pem);
        }
        sk_X509_free(cas);      /* borrowed from pool */
        BIO_free(b);
        ERR_clear_error();
        return r;
}
