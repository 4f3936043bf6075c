/* PKCS12 client key stores, read once and kept while their file is unchanged. */
#include "kpa/keystore.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/pkcs12.h>

#include "kpa/fsx.h"
#include "kpa/secret.h"

struct keystore {
        char *path;
        struct stat st;         /* of the file that was read */
        X509 *cert;
        EVP_PKEY *key;
        STACK_OF(X509) *chain;
};

struct keystore *keystore_free(struct keystore *ks) {
        if (!ks)
                return NULL;
        X509_free(ks->cert);
        EVP_PKEY_free(ks->key);
        sk_X509_pop_free(ks->chain, X509_free);
        free(ks->path);
        free(ks);
        return NULL;
}

/* OpenSSL's reason for the last failure ("mac verify failure"), or NULL. */
static const char *openssl_reason(void) {
        unsigned long e = ERR_peek_last_error();
        return e ? ERR_reason_error_string(e) : NULL;
}

int keystore_read(const char *path, const char *password, struct keystore **ret, char *errbuf,
                  size_t errlen) {
        char *data = NULL;
        size_t len = 0;
        struct stat st;
        int r = fsx_read_file_stat(path, KEYSTORE_MAX_BYTES, &data, &len, &st);
        if (r < 0) {
                snprintf(errbuf, errlen, "cannot be read: %s",
                         r == -EFBIG ? "larger than 1 MiB"
                         : r == -EINVAL ? "not a regular file" : strerror(-r));
                return r;
        }
        struct keystore *ks = calloc(1, sizeof *ks);
        if (!ks || !(ks->path = strdup(path))) {
                snprintf(errbuf, errlen, "out of memory");
                secret_wipe(data, len);
                free(data);
                free(ks);
                return -ENOMEM;
        }
        ks->st = st;
        ERR_clear_error();
        const unsigned char *p = (const unsigned char *) data;
        PKCS12 *p12 = len <= LONG_MAX ? d2i_PKCS12(NULL, &p, (long) len) : NULL;
        /* The password as librdkafka passes it; PKCS12_parse treats NULL and "" alike. */
        if (!p12 || !PKCS12_parse(p12, password, &ks->key, &ks->cert, &ks->chain) || !ks->key ||
            !ks->cert) {
                const char *why = openssl_reason();
                snprintf(errbuf, errlen, "not a PKCS12 store that opens with "
                         "ssl.keystore.password (%s)", why ? why : "no key or certificate");
                r = -EINVAL;
        } else if (X509_check_private_key(ks->cert, ks->key) != 1) {
                snprintf(errbuf, errlen, "its key does not match its certificate");
                r = -EINVAL;
        } else if (!ks->chain && !(ks->chain = sk_X509_new_null())) {
                snprintf(errbuf, errlen, "out of memory");
                r = -ENOMEM;
        }
        PKCS12_free(p12);
        secret_wipe(data, len);
        free(data);
        ERR_clear_error();
        if (r < 0) {
                keystore_free(ks);
                return r;
        }
        *ret = ks;
        return 0;
}

static bool same_time(const struct timespec *a, const struct timespec *b) {
        return a->tv_sec == b->tv_sec && a->tv_nsec == b->tv_nsec;
}

bool keystore_changed(const struct keystore *ks) {
        struct stat now;
        /* stat, not lstat: a Secret volume swaps the symlink its files resolve through. */
        if (stat(ks->path, &now) < 0)
                return true;
        const struct stat *was = &ks->st;
        return now.st_dev != was->st_dev || now.st_ino != was->st_ino ||
               now.st_size != was->st_size || !same_time(&now.st_mtim, &was->st_mtim) ||
               !same_time(&now.st_ctim, &was->st_ctim);
}

X509 *keystore_cert(const struct keystore *ks) { return ks->cert; }
EVP_PKEY *keystore_key(const struct keystore *ks) { return ks->key; }
int keystore_chain_len(const struct keystore *ks) { return sk_X509_num(ks->chain); }
X509 *keystore_chain_at(const struct keystore *ks, int i) { return sk_X509_value(ks->chain, i); }

int keystore_der(const struct keystore *ks, unsigned char **ret_cert, size_t *ret_cert_len,
                 unsigned char **ret_key, size_t *ret_key_len) {
        int cn = i2d_X509(ks->cert, NULL);
        PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(ks->key);
        int kn = p8 ? i2d_PKCS8_PRIV_KEY_INFO(p8, NULL) : -1;
        size_t csize = cn > 0 ? (size_t) cn : 0, ksize = kn > 0 ? (size_t) kn : 0;
        unsigned char *cert = csize ? malloc(csize) : NULL, *key = ksize ? malloc(ksize) : NULL;
        bool ok = cert && key;
        if (ok) {
                unsigned char *q = cert;
                ok = i2d_X509(ks->cert, &q) == cn;
                q = key;
                ok = ok && i2d_PKCS8_PRIV_KEY_INFO(p8, &q) == kn;
        }
        /* Freeing the PKCS#8 structure wipes the key bytes it holds. */
        PKCS8_PRIV_KEY_INFO_free(p8);
        ERR_clear_error();
        if (!ok) {
                free(cert);
                secret_wipe(key, key ? ksize : 0);
                free(key);
                return -ENOMEM;
        }
        *ret_cert = cert;
        *ret_cert_len = csize;
        *ret_key = key;
        *ret_key_len = ksize;
        return 0;
}
