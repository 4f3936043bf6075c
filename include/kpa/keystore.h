/* A client certificate from a PKCS12 key store (a client config's ssl.keystore.location and
 * ssl.keystore.password), read with OpenSSL's PKCS12_parse as librdkafka reads it, so that a
 * store is accepted or refused exactly as librdkafka would.
 *
 * Why the agent reads it itself: librdkafka 2.0.2 leaks about 1 KB at every rd_kafka_new()
 * whose configuration names ssl.keystore.location (see agent/kafka.c), and the agent makes a
 * client per check. So kafka.c reads the store here once, keeps it while the file is
 * unchanged (keystore_changed), and hands librdkafka the certificate and key in memory.
 * agent/kconn.c (the controller check's own TLS) reads its store here too.
 *
 * Messages never contain the password, key bytes or the store's path (callers name the
 * setting, and the path where they may). */
#ifndef KPA_KEYSTORE_H
#define KPA_KEYSTORE_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/types.h>
#include <openssl/x509.h>

/* The largest store read. */
#define KEYSTORE_MAX_BYTES (1024 * 1024)

struct keystore;

/* Reads the store at path, opened with password (NULL: none, as librdkafka passes an unset
 * ssl.keystore.password). It must hold a key and its certificate, which must match. 0, or
 * -EINVAL (not a store, wrong password, no key or certificate, key and certificate differ),
 * -EFBIG, -ENOMEM or another -errno of reading, with one line in errbuf. */
int keystore_read(const char *path, const char *password, struct keystore **ret, char *errbuf,
                  size_t errlen);
/* Frees the store (OpenSSL wipes the key). Accepts NULL; returns NULL. */
struct keystore *keystore_free(struct keystore *ks);

/* Whether the path the store was read from may now name other bytes: another file, or the
 * same file with another size, modification or change time; true when it cannot be checked
 * (gone, unreadable). A rotated store (rewritten, renamed over, or a Secret volume's symlink
 * swapped) is seen at the next call. */
bool keystore_changed(const struct keystore *ks);

/* The leaf certificate, its key, and the other certificates of the store (file order; maybe
 * none): how many, and the i-th of them. Borrowed: valid until keystore_free. */
X509 *keystore_cert(const struct keystore *ks);
EVP_PKEY *keystore_key(const struct keystore *ks);
int keystore_chain_len(const struct keystore *ks);
X509 *keystore_chain_at(const struct keystore *ks, int i);

/* DER encodings of the leaf certificate and of the key (PKCS#8), in new buffers: the caller
 * frees the certificate and wipes (secret_wipe) then frees the key. 0 or -ENOMEM. */
int keystore_der(const struct keystore *ks, unsigned char **ret_cert, size_t *ret_cert_len,
                 unsigned char **ret_key, size_t *ret_key_len);

#endif
