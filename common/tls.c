/* TLS inputs: loading the mounted PEM files, validating key, chain, validity and host
 * coverage, and assembling the stores (issuance is in tls_issue.c, PKCS12 in tls_p12.c). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "kpa/dynbuf.h"
#include "kpa/fsx.h"
#include "kpa/secret.h"
#include "kpa/tls.h"
#include "kpa/tls_issue.h"
#include "kpa/tls_p12.h"
#include "kpa/tls_x509.h"

#define MAX_WARNINGS 64
#define MAX_HOST_LEN 253

/* Reads a PEM file of at most TLS_MAX_PEM_BYTES. A missing file is bad input. */
static int read_pem_file(const char *dir, const char *name, const char *label, char **ret,
                         size_t *ret_len, char *errbuf, size_t errlen) {
        char path[4096];
        if ((size_t) snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path) {
                snprintf(errbuf, errlen, "%s: path too long", label);
                return -EINVAL;
        }
        int r = fsx_read_file(path, TLS_MAX_PEM_BYTES, ret, ret_len);
        if (r == -ENOENT || r == -EISDIR || r == -EINVAL || r == -EFBIG || r == -ENOTDIR) {
                snprintf(errbuf, errlen, "%s: %s", label,
                         r == -ENOENT || r == -ENOTDIR ? "file not found" :
                         r == -EFBIG ? "larger than 1 MiB" : "not a regular file");
                return -EINVAL;
        }
        if (r < 0)
                snprintf(errbuf, errlen, "%s: %s", label, strerror(-r));
        return r;
}

/* Every PEM block of the file must be a CERTIFICATE; text between blocks is allowed (as
 * OpenSSL writes "Bag Attributes" before exported certificates). */
static int load_certs(const char *dir, const char *name, const char *label,
                      STACK_OF(X509) **ret, char *errbuf, size_t errlen) {
        char *text = NULL;
        size_t len = 0;
        int r = read_pem_file(dir, name, label, &text, &len, errbuf, errlen);
        if (r < 0)
                return r;
        STACK_OF(X509) *certs = sk_X509_new_null();
        BIO *b = BIO_new_mem_buf(text, (int) len);
        r = -ENOMEM;
        if (!certs || !b)
                goto out;
        for (;;) {
                char *pem_name = NULL, *header = NULL;
                unsigned char *der = NULL;
                long dlen = 0;
                ERR_clear_error();
                if (PEM_read_bio(b, &pem_name, &header, &der, &dlen) != 1) {
                        unsigned long e = ERR_peek_last_error();
                        if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
                                break;
                        snprintf(errbuf, errlen, "%s: block %d is not valid PEM", label,
                                 sk_X509_num(certs) + 1);
                        r = -EINVAL;
                        goto out;
                }
                int n = sk_X509_num(certs);
                const unsigned char *p = der;
                X509 *x = NULL;
                if (strcmp(pem_name, "CERTIFICATE") != 0) {
                        snprintf(errbuf, errlen, "%s: unexpected PEM block \"%.40s\" (only CERTIFICATE blocks are expected)",
                                 label, pem_name);
                        r = -EINVAL;
                } else if (n >= TLS_MAX_CERTS) {
                        snprintf(errbuf, errlen, "%s: more than %d certificates", label, TLS_MAX_CERTS);
                        r = -EINVAL;
                } else if (!(x = d2i_X509(NULL, &p, dlen)) || p != der + dlen) {
                        snprintf(errbuf, errlen, "%s: certificate %d cannot be parsed", label, n + 1);
                        r = -EINVAL;
                } else if (!sk_X509_push(certs, x)) {
                        r = -ENOMEM;
                } else {
                        x = NULL;
                        r = 0;
                }
                X509_free(x);
                OPENSSL_free(pem_name);
                OPENSSL_free(header);
                OPENSSL_free(der);
                if (r < 0)
                        goto out;
        }
        if (sk_X509_num(certs) == 0) {
                snprintf(errbuf, errlen, "%s: no PEM certificate found", label);
                r = -EINVAL;
                goto out;
        }
        *ret = certs;
        certs = NULL;
        r = 0;
out:
        sk_X509_pop_free(certs, X509_free);
        BIO_free(b);
        free(text);
        ERR_clear_error();
        return r;
}

/* Exactly one unencrypted private key, PKCS#8 ("PRIVATE KEY") or traditional ("RSA PRIVATE
 * KEY", "EC PRIVATE KEY", optionally after "EC PARAMETERS"). Decoding the DER ourselves keeps
 * OpenSSL from ever prompting for a passphrase. */
static int load_key(const char *dir, const char *name, const char *label, EVP_PKEY **ret,
                    char *errbuf, size_t errlen) {
        char *text = NULL;
        size_t len = 0;
        int r = read_pem_file(dir, name, label, &text, &len, errbuf, errlen);
        if (r < 0)
                return r;
        BIO *b = BIO_new_mem_buf(text, (int) len);
        EVP_PKEY *key = NULL;
        r = b ? 0 : -ENOMEM;
        while (r == 0) {
                char *pem_name = NULL, *header = NULL;
                unsigned char *der = NULL;
                long dlen = 0;
                ERR_clear_error();
                if (PEM_read_bio(b, &pem_name, &header, &der, &dlen) != 1) {
                        unsigned long e = ERR_peek_last_error();
                        if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)
                                break;
                        snprintf(errbuf, errlen, "%s: not valid PEM", label);
                        r = -EINVAL;
                        break;
                }
                const unsigned char *p = der;
                int type = strcmp(pem_name, "RSA PRIVATE KEY") == 0 ? EVP_PKEY_RSA :
                           strcmp(pem_name, "EC PRIVATE KEY") == 0 ? EVP_PKEY_EC : EVP_PKEY_NONE;
                if (strcmp(pem_name, "EC PARAMETERS") == 0) {
                        /* `openssl ecparam -genkey` writes the curve before the key. */
                } else if (strcmp(pem_name, "ENCRYPTED PRIVATE KEY") == 0 || (header && strstr(header, "ENCRYPTED"))) {
                        snprintf(errbuf, errlen, "%s: the private key is encrypted (an unencrypted PEM key is expected)", label);
                        r = -EINVAL;
                } else if (key) {
                        snprintf(errbuf, errlen, "%s: more than one private key", label);
                        r = -EINVAL;
                } else if (strcmp(pem_name, "PRIVATE KEY") == 0) {
                        PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, dlen);
                        key = p8 && p == der + dlen ? EVP_PKCS82PKEY(p8) : NULL;
                        PKCS8_PRIV_KEY_INFO_free(p8);
                } else if (type != EVP_PKEY_NONE) {
                        key = d2i_PrivateKey(type, NULL, &p, dlen);
                        if (key && p != der + dlen) {
                                EVP_PKEY_free(key);
                                key = NULL;
                        }
                } else {
                        snprintf(errbuf, errlen, "%s: unexpected PEM block \"%.40s\" (a PRIVATE KEY is expected)",
                                 label, pem_name);
                        r = -EINVAL;
                }
                bool was_key = r == 0 && strcmp(pem_name, "EC PARAMETERS") != 0;
                if (was_key && !key) {
                        snprintf(errbuf, errlen, "%s: the private key cannot be parsed", label);
                        r = -EINVAL;
                }
                OPENSSL_free(pem_name);
                OPENSSL_free(header);
                OPENSSL_clear_free(der, dlen > 0 ? (size_t) dlen : 0);
        }
        if (r == 0 && !key) {
                snprintf(errbuf, errlen, "%s: no PEM private key found", label);
                r = -EINVAL;
        }
        if (r == 0) {
                *ret = key;
                key = NULL;
        }
        EVP_PKEY_free(key);
        BIO_free(b);
        secret_wipe(text, len);
        free(text);
        ERR_clear_error();
        return r;
}

/* "DNS:a, DNS:*.b, IP:10.0.0.1", for messages. */
static void format_sans(X509 *x, char *buf, size_t len) {
        GENERAL_NAMES *names = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
        struct dynbuf b;
        dynbuf_init(&b, len > 0 ? len - 1 : 0);
        for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
                const GENERAL_NAME *g = sk_GENERAL_NAME_value(names, i);
                const char *sep = b.len ? ", " : "";
                if (g->type == GEN_DNS) {
                        const ASN1_IA5STRING *s = g->d.dNSName;
                        dynbuf_printf(&b, "%sDNS:%.*s", sep, ASN1_STRING_length(s) > 253 ? 253 :
                                      ASN1_STRING_length(s), (const char *) ASN1_STRING_get0_data(s));
                } else if (g->type == GEN_IPADD) {
                        char ip[INET6_ADDRSTRLEN] = "?";
                        int n = ASN1_STRING_length(g->d.iPAddress);
                        const unsigned char *d = ASN1_STRING_get0_data(g->d.iPAddress);
                        if (n == 4 || n == 16)
                                inet_ntop(n == 4 ? AF_INET : AF_INET6, d, ip, sizeof ip);
                        dynbuf_printf(&b, "%sIP:%s", sep, ip);
                }
        }
        snprintf(buf, len, "%s", b.len ? dynbuf_str(&b) : "none");
        dynbuf_free(&b);
        GENERAL_NAMES_free(names);
}

/* An IP literal, with or without the brackets of a URL authority, into plain text. */
static bool ip_literal(const char *host, char *buf, size_t len) {
        unsigned char addr[16];
        size_t n = strlen(host);
        if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
                snprintf(buf, len, "%.*s", (int) (n - 2), host + 1);
                return inet_pton(AF_INET6, buf, addr) == 1;
        }
        snprintf(buf, len, "%s", host);
        return inet_pton(AF_INET, buf, addr) == 1 || inet_pton(AF_INET6, buf, addr) == 1;
}

/* RFC 6125 matching against the SANs only: a wildcard stands for the whole left-most label
 * and nothing else, and the subject CN is never consulted. */
static bool covers(X509 *leaf, const char *host) {
        char ip[64];
        if (ip_literal(host, ip, sizeof ip))
                return X509_check_ip_asc(leaf, ip, 0) == 1;
        return X509_check_host(leaf, host, 0, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS |
                               X509_CHECK_FLAG_NEVER_CHECK_SUBJECT, NULL) == 1;
}

static int add_warning(struct tls_result *res, const char *text) {
        if (res->n_warnings >= MAX_WARNINGS)
                return 0;
        char **w = realloc(res->warnings, (res->n_warnings + 1) * sizeof *w);
        if (!w)
                return -ENOMEM;
        res->warnings = w;
        if (!(w[res->n_warnings] = strdup(text)))
                return -ENOMEM;
        res->n_warnings++;
        return 0;
}

static int check_coverage(const struct tls_request *req, X509 *leaf, struct tls_result *res,
                          char *errbuf, size_t errlen) {
        for (size_t i = 0; i < req->n_cover; i++) {
                const char *host = req->must_cover[i];
                if (covers(leaf, host))
                        continue;
                char sans[1024], msg[1400];
                format_sans(leaf, sans, sizeof sans);
                snprintf(msg, sizeof msg, "advertised host %s is not covered by the certificate (SANs: %s)",
                         host, sans);
                if (!req->warn_uncovered) {
                        snprintf(errbuf, errlen, "%s", msg);
                        return -EINVAL;
                }
                int r = add_warning(res, msg);
                if (r < 0)
                        return r;
        }
        return 0;
}

/* The broker's certificate is also its client certificate (inter-broker and kpa-agent mutual
 * TLS); a certificate without clientAuth works until a client presents it. */
static int check_client_auth(X509 *leaf, const char *label, struct tls_result *res) {
        uint32_t xku = X509_get_extended_key_usage(leaf);
        if (xku & XKU_SSL_CLIENT)
                return 0;
        char msg[256];
        snprintf(msg, sizeof msg, "%s: the certificate's extendedKeyUsage lacks clientAuth, so it cannot serve as a client certificate for mutual TLS", label);
        return add_warning(res, msg);
}

static int check_request(const struct tls_request *req, char *errbuf, size_t errlen) {
        if (!!req->tls_dir == !!req->ca_dir) {
                snprintf(errbuf, errlen, req->tls_dir ?
                         "KPA_TLS_DIR and KPA_TLS_CA_DIR are mutually exclusive (set one)" :
                         "neither KPA_TLS_DIR nor KPA_TLS_CA_DIR is set");
                return -EINVAL;
        }
        size_t plen = req->password ? strlen(req->password) : 0;
        bool printable = plen >= TLS_PASSWORD_MIN && plen <= TLS_PASSWORD_MAX;
        for (size_t i = 0; printable && i < plen; i++)
                printable = req->password[i] >= 0x20 && req->password[i] <= 0x7e;
        if (!printable) {
                snprintf(errbuf, errlen, "the TLS store password must be %d to %d printable ASCII characters",
                         TLS_PASSWORD_MIN, TLS_PASSWORD_MAX);
                return -EINVAL;
        }
        if (req->n_cover > TLS_MAX_SANS) {
                snprintf(errbuf, errlen, "more than %d advertised hosts", TLS_MAX_SANS);
                return -EINVAL;
        }
        for (size_t i = 0; i < req->n_cover; i++) {
                size_t n = strlen(req->must_cover[i]);
                if (n == 0 || n > MAX_HOST_LEN) {
                        snprintf(errbuf, errlen, "advertised host \"%.64s\" is not a host name or IP address",
                                 req->must_cover[i]);
                        return -EINVAL;
                }
        }
        return 0;
}

/* Reads previous_dir/name (at most TLS_MAX_PEM_BYTES) and opens it; anything wrong with it
 * only means it cannot be reused. */
static int read_previous(const struct tls_request *req, const char *name, unsigned char **ret_der,
                         size_t *ret_len, struct tls_p12_content *ret) {
        if (!req->previous_dir)
                return -ENOENT;
        char path[4096];
        if ((size_t) snprintf(path, sizeof path, "%s/%s", req->previous_dir, name) >= sizeof path)
                return -ENAMETOOLONG;
        char *data = NULL;
        size_t len = 0;
        int r = fsx_read_file(path, TLS_MAX_PEM_BYTES, &data, &len);
        if (r < 0)
                return r;
        r = tls_p12_read((unsigned char *) data, len, req->password, ret);
        if (r < 0) {
                secret_wipe(data, len);
                free(data);
                return r;
        }
        *ret_der = (unsigned char *) data;
        *ret_len = len;
        return 0;
}

struct material {
        EVP_PKEY *key;
        X509 *leaf;
        STACK_OF(X509) *untrusted;
        STACK_OF(X509) *cas;
        STACK_OF(X509) *chain;
        /* The previous key store, when there is one that opens. */
        unsigned char *prev_ks;
        size_t prev_ks_len;
        struct tls_p12_content prev;
        bool have_prev;
        bool issued;
        const char *leaf_label;
        const char *ca_label;
};

static void material_free(struct material *m) {
        EVP_PKEY_free(m->key);
        X509_free(m->leaf);
        sk_X509_pop_free(m->untrusted, X509_free);
        sk_X509_pop_free(m->cas, X509_free);
        sk_X509_pop_free(m->chain, X509_free);
        if (m->prev_ks) {
                secret_wipe(m->prev_ks, m->prev_ks_len);
                free(m->prev_ks);
        }
        tls_p12_content_free(&m->prev);
}

/* KPA_TLS_DIR: the certificate-manager layout. */
static int load_tls_dir(const struct tls_request *req, struct material *m, char *errbuf, size_t errlen) {
        m->leaf_label = "KPA_TLS_DIR/tls.crt";
        m->ca_label = "KPA_TLS_DIR/ca.crt";
        int r = load_certs(req->tls_dir, "tls.crt", m->leaf_label, &m->untrusted, errbuf, errlen);
        if (r < 0)
                return r;
        m->leaf = sk_X509_shift(m->untrusted);
        r = load_key(req->tls_dir, "tls.key", "KPA_TLS_DIR/tls.key", &m->key, errbuf, errlen);
        if (r < 0)
                return r;
        r = tls_check_key_type(m->key, "KPA_TLS_DIR/tls.key", errbuf, errlen);
        if (r < 0)
                return r;
        if (X509_check_private_key(m->leaf, m->key) != 1) {
                ERR_clear_error();
                snprintf(errbuf, errlen, "KPA_TLS_DIR/tls.key does not match the certificate in KPA_TLS_DIR/tls.crt");
                return -EINVAL;
        }
        return load_certs(req->tls_dir, "ca.crt", m->ca_label, &m->cas, errbuf, errlen);
}

/* KPA_TLS_CA_DIR: a CA whose key signs this pod's certificate. */
static int load_ca_dir(const struct tls_request *req, struct material *m, char *errbuf, size_t errlen) {
        m->leaf_label = "the certificate issued from KPA_TLS_CA_DIR";
        m->ca_label = "KPA_TLS_CA_DIR/ca.crt";
        int r = tls_check_issue_request(req, errbuf, errlen);
        if (r < 0)
                return r;
        r = load_certs(req->ca_dir, "ca.crt", m->ca_label, &m->cas, errbuf, errlen);
        if (r < 0)
                return r;
        EVP_PKEY *ca_key = NULL;
        r = load_key(req->ca_dir, "ca.key", "KPA_TLS_CA_DIR/ca.key", &ca_key, errbuf, errlen);
        if (r < 0)
                return r;
        X509 *ca = NULL;
        for (int i = 0; !ca && i < sk_X509_num(m->cas); i++)
                if (X509_check_private_key(sk_X509_value(m->cas, i), ca_key) == 1)
                        ca = sk_X509_value(m->cas, i);
        ERR_clear_error();
        char label[384], subject[256];
        if (!ca) {
                snprintf(errbuf, errlen, "KPA_TLS_CA_DIR/ca.key does not match the certificate in KPA_TLS_CA_DIR/ca.crt");
                r = -EINVAL;
                goto out;
        }
        tls_format_subject(ca, subject, sizeof subject);
        snprintf(label, sizeof label, "KPA_TLS_CA_DIR/ca.crt: CA certificate %s", subject);
        if (X509_check_ca(ca) < 1 || (X509_get_key_usage(ca) & KU_KEY_CERT_SIGN) == 0) {
                snprintf(errbuf, errlen, "%s is not a CA (basicConstraints CA:TRUE with keyCertSign expected)", label);
                r = -EINVAL;
                goto out;
        }
        r = tls_check_key_type(ca_key, "KPA_TLS_CA_DIR/ca.key", errbuf, errlen);
        if (r < 0)
                goto out;
        r = tls_check_time(ca, req->now, label, errbuf, errlen);
        if (r < 0)
                goto out;
        if (m->have_prev && m->prev.key && sk_X509_num(m->prev.certs) > 0 &&
            tls_issued_reusable(req, ca, m->prev.key, sk_X509_value(m->prev.certs, 0))) {
                m->key = m->prev.key;
                EVP_PKEY_up_ref(m->key);
                m->leaf = sk_X509_value(m->prev.certs, 0);
                X509_up_ref(m->leaf);
                goto out;
        }
        r = tls_issue(req, ca_key, ca, &m->key, &m->leaf, errbuf, errlen);
        m->issued = r == 0;
out:
        EVP_PKEY_free(ca_key);
        return r;
}

static int make_ca_pem(STACK_OF(X509) *cas, char **ret, size_t *ret_len) {
        BIO *b = BIO_new(BIO_s_mem());
        int r = -ENOMEM;
        if (!b)
                return r;
        for (int i = 0; i < sk_X509_num(cas); i++)
                if (PEM_write_bio_X509(b, sk_X509_value(cas, i)) != 1)
                        goto out;
        char *p;
        long n = BIO_get_mem_data(b, &p);
        char *s = n >= 0 ? malloc((size_t) n + 1) : NULL;
        if (!s)
                goto out;
        memcpy(s, p, (size_t) n);
        s[n] = '\0';
        *ret = s;
        *ret_len = (size_t) n;
        r = 0;
out:
        BIO_free(b);
        return r;
}

int tls_build(const struct tls_request *req, struct tls_result *ret, char *errbuf, size_t errlen) {
        struct material m = { 0 };
        struct tls_result res = { 0 };
        struct tls_p12_content prev_ts = { 0 };
        unsigned char *prev_ts_der = NULL;
        size_t prev_ts_len = 0;
        int r = check_request(req, errbuf, errlen);
        if (r < 0)
                return r;

        m.have_prev = read_previous(req, TLS_KEYSTORE_FILE, &m.prev_ks, &m.prev_ks_len, &m.prev) == 0;
        r = req->tls_dir ? load_tls_dir(req, &m, errbuf, errlen) : load_ca_dir(req, &m, errbuf, errlen);
        if (r < 0)
                goto out;
        res.issued = m.issued;
        r = tls_verify_chain(m.leaf, m.untrusted, m.cas, req->now, m.leaf_label, m.ca_label,
                             &m.chain, errbuf, errlen);
        if (r < 0)
                goto out;
        r = check_coverage(req, m.leaf, &res, errbuf, errlen);
        if (r < 0)
                goto out;
        if (req->tls_dir && (r = check_client_auth(m.leaf, m.leaf_label, &res)) < 0)
                goto out;
        r = tls_time_epoch(X509_get0_notAfter(m.leaf), &res.not_after);
        if (r < 0)
                goto out;

        /* PKCS12 files are salted at random: rewriting the same content gives other bytes, so
         * a previous store that already holds exactly what we would write is kept as it is. */
        bool ks_kept = m.have_prev && tls_p12_is_keystore_of(&m.prev, m.key, m.chain);
        if (ks_kept) {
                res.keystore = m.prev_ks;
                res.keystore_len = m.prev_ks_len;
                m.prev_ks = NULL;
        } else if ((r = tls_p12_keystore(m.key, m.chain, req->password, &res.keystore, &res.keystore_len)) < 0) {
                goto out;
        }
        bool ts_kept = read_previous(req, TLS_TRUSTSTORE_FILE, &prev_ts_der, &prev_ts_len, &prev_ts) == 0 &&
                       tls_p12_is_truststore_of(&prev_ts, m.cas);
        if (ts_kept) {
                res.truststore = prev_ts_der;
                res.truststore_len = prev_ts_len;
                prev_ts_der = NULL;
        } else if ((r = tls_p12_truststore(m.cas, req->password, &res.truststore, &res.truststore_len)) < 0) {
                goto out;
        }
        r = make_ca_pem(m.cas, &res.ca_pem, &res.ca_pem_len);
        if (r < 0)
                goto out;
        res.reused = ks_kept && ts_kept;
        *ret = res;
        res = (struct tls_result){ 0 };
out:
        if (r < 0 && r != -EINVAL && errbuf && errlen && !errbuf[0])
                snprintf(errbuf, errlen, "building the TLS stores failed: %s", strerror(-r));
        tls_result_free(&res);
        material_free(&m);
        tls_p12_content_free(&prev_ts);
        free(prev_ts_der);
        return r;
}

void tls_result_wipe(struct tls_result *r) {
        if (!r)
                return;
        secret_wipe(r->keystore, r->keystore_len);
        secret_wipe(r->truststore, r->truststore_len);
        secret_wipe(r->ca_pem, r->ca_pem_len);
        for (size_t i = 0; i < r->n_warnings; i++)
                if (r->warnings[i])
                        secret_wipe(r->warnings[i], strlen(r->warnings[i]));
}

void tls_result_free(struct tls_result *r) {
        if (!r)
                return;
        tls_result_wipe(r);
        free(r->keystore);
        free(r->truststore);
        free(r->ca_pem);
        for (size_t i = 0; i < r->n_warnings; i++)
                free(r->warnings[i]);
        free(r->warnings);
        *r = (struct tls_result){ 0 };
}
