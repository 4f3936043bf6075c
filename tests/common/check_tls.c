/* Suite for the TLS module: a test PKI built here with OpenSSL (root CA -> intermediate ->
 * leaf, RSA and EC), every refusal with its message, issuance, reuse, wiping, and Java (JDK
 * keytool and JSSE) loading the stores and completing a mutual-TLS handshake. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/pkcs12.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "kpa/tls.h"
#include "kpa/tls_issue.h"
#include "kpa/tls_password.h"
#include "kpa/tls_p12.h"
#include "testutil.h"

#define PASSWORD "changeit-kpa"
#define FQDN "broker-0.kafka-headless.ns.svc.cluster.local"
#define WILDCARD "*.kafka-headless.ns.svc.cluster.local"

static time_t at(int y, int mo, int d) {
        struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d };
        return timegm(&tm);
}

/* The clock the validation tests run at: inside every certificate's window but for the ones
 * built to be expired or not yet valid. */
#define NOW at(2026, 6, 1)

/* ---- test PKI ---- */

struct cert_opts {
        const char *cn;
        bool ca;
        const char *const *dns;
        size_t n_dns;
        const char *ip;
        time_t nb, na;
        const char *eku;    /* NULL: serverAuth,clientAuth (leaves) */
};

static EVP_PKEY *mk_key(bool rsa, int bits) {
        EVP_PKEY *k = rsa ? EVP_RSA_gen((unsigned) bits) : EVP_EC_gen("P-256");
        ck_assert_ptr_nonnull(k);
        return k;
}

static void ext(X509 *x, X509 *issuer, int nid, const char *value) {
        X509V3_CTX ctx;
        X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
        X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
        ck_assert_ptr_nonnull(e);
        ck_assert_int_eq(X509_add_ext(x, e, -1), 1);
        X509_EXTENSION_free(e);
}

static X509 *mk_cert(const struct cert_opts *o, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key) {
        static long serial = 1000;
        X509 *x = X509_new();
        X509_set_version(x, X509_VERSION_3);
        ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
        ASN1_TIME_set(X509_getm_notBefore(x), o->nb ? o->nb : at(2020, 1, 1));
        ASN1_TIME_set(X509_getm_notAfter(x), o->na ? o->na : at(2045, 1, 1));
        X509_NAME *n = X509_get_subject_name(x);
        X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_UTF8, (const unsigned char *) o->cn, -1, -1, 0);
        X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : n);
        X509_set_pubkey(x, key);
        ext(x, issuer, NID_subject_key_identifier, "hash");
        ext(x, issuer, NID_authority_key_identifier, "keyid");
        if (o->ca) {
                ext(x, issuer, NID_basic_constraints, "critical,CA:TRUE");
                ext(x, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
        } else {
                ext(x, issuer, NID_basic_constraints, "critical,CA:FALSE");
                ext(x, issuer, NID_ext_key_usage, o->eku ? o->eku : "serverAuth,clientAuth");
                char san[2048] = "";
                size_t len = 0;
                for (size_t i = 0; i < o->n_dns; i++)
                        len += (size_t) snprintf(san + len, sizeof san - len, "%sDNS:%s", len ? "," : "", o->dns[i]);
                if (o->ip)
                        snprintf(san + len, sizeof san - len, "%sIP:%s", len ? "," : "", o->ip);
                if (san[0])
                        ext(x, issuer, NID_subject_alt_name, san);
        }
        ck_assert_int_gt(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()), 0);
        return x;
}

static char *bio_text(BIO *b) {
        char *p;
        long n = BIO_get_mem_data(b, &p);
        char *s = strndup(p, (size_t) n);
        BIO_free(b);
        return s;
}

static char *cert_pem(X509 *x) {
        BIO *b = BIO_new(BIO_s_mem());
        PEM_write_bio_X509(b, x);
        return bio_text(b);
}

/* PKCS#8 ("PRIVATE KEY") or the traditional form ("RSA/EC PRIVATE KEY"). */
static char *key_pem(EVP_PKEY *k, bool pkcs8) {
        BIO *b = BIO_new(BIO_s_mem());
        if (pkcs8)
                PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
        else
                PEM_write_bio_PrivateKey_traditional(b, k, NULL, NULL, 0, NULL, NULL);
        return bio_text(b);
}

static char *cat(const char *a, const char *b) {
        size_t la = strlen(a), lb = strlen(b);
        char *s = malloc(la + lb + 1);
        memcpy(s, a, la);
        memcpy(s + la, b, lb + 1);
        return s;
}

static const char *const leaf_dns[] = { FQDN, WILDCARD };

struct pki {
        EVP_PKEY *root_key, *int_key, *other_key, *rsa_key, *ec_key;
        X509 *root, *inter, *other, *rsa_leaf, *ec_leaf, *expired, *future, *old_int,
             *under_old_int, *server_only, *client_only, *short_ca;
        char *root_pem, *int_pem, *other_pem, *rsa_pem, *ec_pem, *rsa_key_pem, *ec_key_pem,
             *rsa_key_trad, *ec_key_trad, *root_key_pem;
};
static struct pki P;

static void pki_setup(void) {
        P.root_key = mk_key(true, 2048);
        P.int_key = mk_key(false, 0);
        P.other_key = mk_key(false, 0);
        P.rsa_key = mk_key(true, 2048);
        P.ec_key = mk_key(false, 0);
        P.root = mk_cert(&(struct cert_opts){ .cn = "Test Root", .ca = true }, P.root_key, NULL, NULL);
        P.inter = mk_cert(&(struct cert_opts){ .cn = "Test Intermediate", .ca = true }, P.int_key, P.root, P.root_key);
        P.other = mk_cert(&(struct cert_opts){ .cn = "Other Root", .ca = true }, P.other_key, NULL, NULL);
        struct cert_opts leaf = { .cn = FQDN, .dns = leaf_dns, .n_dns = 2, .ip = "127.0.0.1" };
        P.rsa_leaf = mk_cert(&leaf, P.rsa_key, P.inter, P.int_key);
        P.ec_leaf = mk_cert(&leaf, P.ec_key, P.inter, P.int_key);
        struct cert_opts o = leaf;
        o.nb = at(2025, 1, 1);
        o.na = at(2026, 1, 1);
        P.expired = mk_cert(&o, P.ec_key, P.inter, P.int_key);
        o.nb = at(2027, 1, 1);
        o.na = at(2028, 1, 1);
        P.future = mk_cert(&o, P.ec_key, P.inter, P.int_key);
        P.old_int = mk_cert(&(struct cert_opts){ .cn = "Old Intermediate", .ca = true, .na = at(2026, 3, 1) },
                            P.int_key, P.root, P.root_key);
        P.under_old_int = mk_cert(&leaf, P.ec_key, P.old_int, P.int_key);
        o = leaf;
        o.eku = "serverAuth";
        P.server_only = mk_cert(&o, P.ec_key, P.inter, P.int_key);
        o.eku = "clientAuth";
        P.client_only = mk_cert(&o, P.ec_key, P.inter, P.int_key);
        P.short_ca = mk_cert(&(struct cert_opts){ .cn = "Short Root", .ca = true, .na = at(2026, 7, 1) },
                             P.root_key, NULL, NULL);
        P.root_pem = cert_pem(P.root);
        P.int_pem = cert_pem(P.inter);
        P.other_pem = cert_pem(P.other);
        P.rsa_pem = cert_pem(P.rsa_leaf);
        P.ec_pem = cert_pem(P.ec_leaf);
        P.rsa_key_pem = key_pem(P.rsa_key, true);
        P.ec_key_pem = key_pem(P.ec_key, true);
        P.rsa_key_trad = key_pem(P.rsa_key, false);
        P.ec_key_trad = key_pem(P.ec_key, false);
        P.root_key_pem = key_pem(P.root_key, true);
}

static void pki_teardown(void) {
        EVP_PKEY *keys[] = { P.root_key, P.int_key, P.other_key, P.rsa_key, P.ec_key };
        X509 *certs[] = { P.root, P.inter, P.other, P.rsa_leaf, P.ec_leaf, P.expired, P.future,
                          P.old_int, P.under_old_int, P.server_only, P.client_only, P.short_ca };
        char *pems[] = { P.root_pem, P.int_pem, P.other_pem, P.rsa_pem, P.ec_pem, P.rsa_key_pem,
                         P.ec_key_pem, P.rsa_key_trad, P.ec_key_trad, P.root_key_pem };
        for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
                EVP_PKEY_free(keys[i]);
        for (size_t i = 0; i < sizeof certs / sizeof *certs; i++)
                X509_free(certs[i]);
        for (size_t i = 0; i < sizeof pems / sizeof *pems; i++)
                free(pems[i]);
        P = (struct pki){ 0 };
}

/* ---- helpers ---- */

/* A cert-manager style folder: tls.crt = leaf + intermediate, tls.key, ca.crt. */
static char *tls_dir_with(X509 *leaf, X509 *inter, const char *key, const char *ca) {
        char *dir = tu_mkdtemp();
        char *l = cert_pem(leaf), *i = inter ? cert_pem(inter) : strdup(""), *chain = cat(l, i);
        tu_write(dir, "tls.crt", chain);
        tu_write(dir, "tls.key", key);
        tu_write(dir, "ca.crt", ca);
        free(l);
        free(i);
        free(chain);
        return dir;
}

static char *ca_dir_with(const char *ca, const char *key) {
        char *dir = tu_mkdtemp();
        tu_write(dir, "ca.crt", ca);
        tu_write(dir, "ca.key", key);
        return dir;
}

static struct tls_request req_tls(const char *dir) {
        static const char *const cover[] = { FQDN };
        return (struct tls_request){ .tls_dir = dir, .must_cover = cover, .n_cover = 1,
                                     .password = PASSWORD, .now = NOW };
}

static struct tls_request req_ca(const char *dir) {
        static const char *const dns[] = { FQDN, WILDCARD };
        static const char *const ips[] = { "127.0.0.1" };
        static const char *const cover[] = { FQDN };
        return (struct tls_request){ .ca_dir = dir, .dns_names = dns, .n_dns = 2, .ip_addrs = ips,
                                     .n_ips = 1, .must_cover = cover, .n_cover = 1,
                                     .common_name = FQDN, .password = PASSWORD, .now = NOW };
}

static void build_ok(const struct tls_request *req, struct tls_result *res) {
        char err[512] = "";
        int r = tls_build(req, res, err, sizeof err);
        ck_assert_msg(r == 0, "tls_build: %d %s", r, err);
}

static void refused(const struct tls_request *req, const char *message) {
        char err[512] = "";
        struct tls_result res = { 0 };
        ck_assert_int_eq(tls_build(req, &res, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, message);
        ck_assert_ptr_null(res.keystore);
}

static void refused_dir(X509 *leaf, X509 *inter, const char *key, const char *ca, const char *message) {
        char *dir = tls_dir_with(leaf, inter, key, ca);
        struct tls_request req = req_tls(dir);
        refused(&req, message);
        tu_rmtree(dir);
        free(dir);
}

static void write_bytes(const char *dir, const char *name, const void *p, size_t n) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, p, n), (ssize_t) n);
        close(fd);
}

static void write_outputs(const char *dir, const struct tls_result *res) {
        write_bytes(dir, TLS_KEYSTORE_FILE, res->keystore, res->keystore_len);
        write_bytes(dir, TLS_TRUSTSTORE_FILE, res->truststore, res->truststore_len);
        write_bytes(dir, TLS_CA_PEM_FILE, res->ca_pem, res->ca_pem_len);
}

struct opened {
        EVP_PKEY *key;
        X509 *cert;
        STACK_OF(X509) *ca;
};

/* Opens a store with OpenSSL's own PKCS12 reader. */
static struct opened open_p12(const unsigned char *der, size_t len, const char *password) {
        const unsigned char *p = der;
        PKCS12 *p12 = d2i_PKCS12(NULL, &p, (long) len);
        ck_assert_ptr_nonnull(p12);
        struct opened o = { 0 };
        ck_assert_int_eq(PKCS12_parse(p12, password, &o.key, &o.cert, &o.ca), 1);
        PKCS12_free(p12);
        return o;
}

static void opened_free(struct opened *o) {
        EVP_PKEY_free(o->key);
        X509_free(o->cert);
        sk_X509_pop_free(o->ca, X509_free);
}

/* ---- building from KPA_TLS_DIR ---- */

START_TEST(tls_dir_rsa_builds_keystore_with_key_and_full_chain) {
        char *dir = tls_dir_with(P.rsa_leaf, P.inter, P.rsa_key_pem, P.root_pem);
        struct tls_request req = req_tls(dir);
        struct tls_result res = { 0 };
        build_ok(&req, &res);
        struct opened ks = open_p12(res.keystore, res.keystore_len, PASSWORD);
        ck_assert_int_eq(EVP_PKEY_eq(ks.key, P.rsa_key), 1);
        ck_assert_int_eq(X509_cmp(ks.cert, P.rsa_leaf), 0);
        ck_assert_str_eq((const char *) X509_alias_get0(ks.cert, NULL), "kafka");
        ck_assert_int_eq(sk_X509_num(ks.ca), 2);
        ck_assert_int_eq(X509_cmp(sk_X509_value(ks.ca, 0), P.inter), 0);
        ck_assert_int_eq(X509_cmp(sk_X509_value(ks.ca, 1), P.root), 0);
        ck_assert_str_eq(res.ca_pem, P.root_pem);
        ck_assert_uint_eq(res.ca_pem_len, strlen(P.root_pem));
        ck_assert_uint_eq(res.n_warnings, 0);
        ck_assert(!res.reused);
        ck_assert(!res.issued);
        ck_assert(res.not_after == at(2045, 1, 1));
        opened_free(&ks);
        tls_result_free(&res);
        tu_rmtree(dir);
        free(dir);
}
END_TEST

START_TEST(truststore_holds_every_ca_with_java_trust_attribute) {
        char *ca = cat(P.root_pem, P.other_pem);
        char *dir = tls_dir_with(P.ec_leaf, P.inter, P.ec_key_pem, ca);
        struct tls_request req = req_tls(dir);
        struct tls_result res = { 0 };
        build_ok(&req, &res);
        struct opened ts = open_p12(res.truststore, res.truststore_len, PASSWORD);
        ck_assert_ptr_null(ts.key);
        ck_assert_ptr_null(ts.cert);
        ck_assert_int_eq(sk_X509_num(ts.ca), 2);
        ck_assert_int_eq(X509_cmp(sk_X509_value(ts.ca, 0), P.root), 0);
        ck_assert_int_eq(X509_cmp(sk_X509_value(ts.ca, 1), P.other), 0);
        ck_assert_str_eq((const char *) X509_alias_get0(sk_X509_value(ts.ca, 0), NULL), "ca-0");
        ck_assert_str_eq((const char *) X509_alias_get0(sk_X509_value(ts.ca, 1), NULL), "ca-1");
        ck_assert_str_eq(res.ca_pem, ca);
        /* The attribute is in each bag: the OID and anyExtendedKeyUsage, DER-encoded. */
        static const unsigned char oid[] = { 0x06, 0x0c, 0x60, 0x86, 0x48, 0x01, 0x86, 0xf9,
                                             0x66, 0xad, 0xca, 0x7b, 0x01, 0x01 };
        const unsigned char *p = res.truststore;
        PKCS12 *p12 = d2i_PKCS12(NULL, &p, (long) res.truststore_len);
        STACK_OF(PKCS7) *safes = PKCS12_unpack_authsafes(p12);
        STACK_OF(PKCS12_SAFEBAG) *bags = PKCS12_unpack_p7encdata(sk_PKCS7_value(safes, 0), PASSWORD, -1);
        ck_assert_int_eq(sk_PKCS12_SAFEBAG_num(bags), 2);
        for (int i = 0; i < 2; i++) {
                unsigned char *der = NULL;
                int n = i2d_PKCS12_SAFEBAG(sk_PKCS12_SAFEBAG_value(bags, i), &der);
                ck_assert_ptr_nonnull(memmem(der, (size_t) n, oid, sizeof oid));
                static const unsigned char any_eku[] = { 0x06, 0x04, 0x55, 0x1d, 0x25, 0x00 };
                ck_assert_ptr_nonnull(memmem(der, (size_t) n, any_eku, sizeof any_eku));
                OPENSSL_free(der);
        }
        sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
        sk_PKCS7_pop_free(safes, PKCS7_free);
        PKCS12_free(p12);
        opened_free(&ts);
        tls_result_free(&res);
        tu_rmtree(dir);
        free(dir);
        free(ca);
}
END_TEST

START_TEST(stores_use_aes256_pbkdf2_sha256_and_sha256_mac) {
        char *dir = tls_dir_with(P.ec_leaf, P.inter, P.ec_key_pem, P.root_pem);
        struct tls_request req = req_tls(dir);
        struct tls_result res = { 0 };
        build_ok(&req, &res);
        const unsigned char *p = res.keystore;
        PKCS12 *p12 = d2i_PKCS12(NULL, &p, (long) res.keystore_len);
        const ASN1_OBJECT *macoid = NULL;
        const X509_ALGOR *macalg = NULL;
        const ASN1_INTEGER *iter = NULL;
        PKCS12_get0_mac(NULL, &macalg, NULL, &iter, p12);
        X509_ALGOR_get0(&macoid, NULL, NULL, macalg);
        ck_assert_int_eq(OBJ_obj2nid(macoid), NID_sha256);
        ck_assert_int_eq(ASN1_INTEGER_get(iter), 10000);
        STACK_OF(PKCS7) *safes = PKCS12_unpack_authsafes(p12);
        ck_assert_int_eq(sk_PKCS7_num(safes), 2);
        PKCS7 *enc = sk_PKCS7_value(safes, 0);
        ck_assert_int_eq(OBJ_obj2nid(enc->type), NID_pkcs7_encrypted);
        const X509_ALGOR *alg = enc->d.encrypted->enc_data->algorithm;
        ck_assert_int_eq(OBJ_obj2nid(alg->algorithm), NID_pbes2);
        STACK_OF(PKCS12_SAFEBAG) *bags = PKCS12_unpack_p7data(sk_PKCS7_value(safes, 1));
        const X509_SIG *shrouded = PKCS12_SAFEBAG_get0_pkcs8(sk_PKCS12_SAFEBAG_value(bags, 0));
        const X509_ALGOR *kalg = NULL;
        X509_SIG_get0(shrouded, &kalg, NULL);
        ck_assert_int_eq(OBJ_obj2nid(kalg->algorithm), NID_pbes2);
        PBE2PARAM *pbe2 = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM), kalg->parameter);
        ck_assert_int_eq(OBJ_obj2nid(pbe2->encryption->algorithm), NID_aes_256_cbc);
        ck_assert_int_eq(OBJ_obj2nid(pbe2->keyfunc->algorithm), NID_id_pbkdf2);
        PBKDF2PARAM *kdf = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBKDF2PARAM), pbe2->keyfunc->parameter);
        ck_assert_int_eq(OBJ_obj2nid(kdf->prf->algorithm), NID_hmacWithSHA256);
        ck_assert_int_eq(ASN1_INTEGER_get(kdf->iter), 10000);
        PBKDF2PARAM_free(kdf);
        PBE2PARAM_free(pbe2);
        sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
        sk_PKCS7_pop_free(safes, PKCS7_free);
        PKCS12_free(p12);
        tls_result_free(&res);
        tu_rmtree(dir);
        free(dir);
}
END_TEST

START_TEST(traditional_rsa_and_ec_keys_are_accepted) {
        char *dir = tls_dir_with(P.rsa_leaf, P.inter, P.rsa_key_trad, P.root_pem);
        struct tls_request req = req_tls(dir);
        struct tls_result res = { 0 };
        ck_assert(strstr(P.rsa_key_trad, "-----BEGIN RSA PRIVATE KEY-----"));
        build_ok(&req, &res);
        tls_result_free(&res);
        tu_rmtree(dir);
        free(dir);
        /* `openssl ecparam -genkey` puts the curve's parameters before the key. */
        char *params = cat("-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n",
                           P.ec_key_trad);
        ck_assert(strstr(P.ec_key_trad, "-----BEGIN EC PRIVATE KEY-----"));
        dir = tls_dir_with(P.ec_leaf, P.inter, params, P.root_pem);
        req = req_tls(dir);
        build_ok(&req, &res);
        struct opened ks = open_p12(res.keystore, res.keystore_len, PASSWORD);
        ck_assert_int_eq(EVP_PKEY_eq(ks.key, P.ec_key), 1);
        opened_free(&ks);
        tls_result_free(&res);
        tu_rmtree(dir);
        free(dir);
        free(params);
}
END_TEST

/* ---- refusals ---- */

START_TEST(refuses_key_that_does_not_match_leaf) {
        refused_dir(P.rsa_leaf, P.inter, P.ec_key_pem, P.root_pem,
                    "KPA_TLS_DIR/tls.key does not match the certificate in KPA_TLS_DIR/tls.crt");
}
END_TEST

START_TEST(refuses_chain_from_another_ca) {
        refused_dir(P.ec_leaf, P.inter, P.ec_key_pem, P.other_pem,
                    "KPA_TLS_DIR/tls.crt: chain does not verify against KPA_TLS_DIR/ca.crt: unable to get local issuer certificate");
}
END_TEST

START_TEST(refuses_chain_missing_its_intermediate) {
        refused_dir(P.ec_leaf, NULL, P.ec_key_pem, P.root_pem,
                    "KPA_TLS_DIR/tls.crt: chain does not verify against KPA_TLS_DIR/ca.crt: unable to get local issuer certificate");
}
END_TEST

START_TEST(refuses_expired_leaf_naming_the_time) {
        refused_dir(P.expired, P.inter, P.ec_key_pem, P.root_pem,
                    "KPA_TLS_DIR/tls.crt expired at 2026-01-01T00:00:00Z");
}
END_TEST

START_TEST(refuses_leaf_not_yet_valid) {
        refused_dir(P.future, P.inter, P.ec_key_pem, P.root_pem,
                    "KPA_TLS_DIR/tls.crt is not valid before 2027-01-01T00:00:00Z");
}
END_TEST

START_TEST(refuses_expired_intermediate) {
        refused_dir(P.under_old_int, P.old_int, P.ec_key_pem, P.root_pem,
                    "KPA_TLS_DIR/tls.crt: intermediate certificate CN=Old Intermediate expired at 2026-03-01T00:00:00Z");
}
END_TEST

START_TEST(refuses_expired_ca) {
        char *dir = tls_dir_with(P.ec_leaf, P.inter, P.ec_key_pem, P.root_pem);
        struct tls_request req = req_tls(dir);
        req.now = at(2046, 1, 1);
        /* OpenSSL checks from the anchor down, so the CA is the first to be reported. */
        refused(&req, "KPA_TLS_DIR/ca.crt: CA certificate CN=Test Root expired at 2045-01-01T00:00:00Z");
        tu_rmtree(dir);
        free(dir);
}
END_TEST

START_TEST(refuses_uncovered_advertised_host_listing_sans) {
        char *dir = tls_dir_with(P.ec_leaf, P.inter, P.ec_key_pem, P.root_pem);
        struct tls_request req = req_tls(dir);
        const char *cover[] = { FQDN, "broker-0.example.com" };
        req.must_cover = cover;
        req.n_cover = 2;
        refused(&req, "advertised host broker-0.example.com is not covered by the certificate (SANs: DNS:"
                FQDN ", DNS:" WILDCARD ", IP:127.0.0.1)");
        tu_rmtree(dir);
        free(dir);
}
END_TEST

START_TEST(uncovered_host_is_a_warning_when_asked) {
        char *dir = tls_dir_with(P.ec_leaf, P.inter, P.ec_key_pem, P.root_pem);
        struct tls_request req = req_tls(dir);
        const char *cover[] = { "10.0.0.7" };
        req.must_cover = cover;
        req.warn_uncovered = true;
        struct tls_result res = { 0 };
        build_ok(&req, &res);
        ck_assert_uint_eq(res.n_warnings, 1);
        ck_assert_str_eq(res.warnings[0], "advertised host 10.0.0.7 is not covered by the certificate (SANs: DNS:"
                         FQDN ", DNS:" WILDCARD ", IP:127.0.0.1)");
        tls_result_free(&res);
        tu_rmtree(dir);
        free(dir);
}
END_TEST

START_TEST(wildcard_covers_exactly_one_leftmost_label_and_ips_match_sans) {
        char *dir = tls_dir_with(P.ec_leaf, P.inter, P.ec_key_pem, P.root_pem);
        struct tls_request req = req_tls(dir);
        const char *good[] = { "broker-7.kafka-headless.ns.svc.cluster.local",
                               "BROKER-7.Kafka-Headless.ns.svc.cluster.local", "127.0.0.1" };
        const char *bad[] = { "a.b.kafka-headless.ns.svc.cluster.local", "kafka-headless.ns.svc.cluster.local",
                              "127.0.0.2", "[::1]" };
        struct tls_result res = { 0 };
        char err[512];
        for (size_t i = 0; i < 3; i++) {
                req.must_cover = &good[i];
                build_ok(&req, &res);
                tls_result_free(&res);
        }
        for (size_t i = 0; i < 4; i++) {
                req.must_cover = &bad[i];
                ck_assert_msg(tls_build(&req, &res, err, sizeof err) == -EINVAL, "%s", bad[i]);
                ck_assert_ptr_nonnull(strstr(err, "is not covered by the certificate"));
        }
        tu_rmtree(dir);
        free(dir);
}
END_TEST

START_TEST(warns_when_certificate_lacks_client_auth) {
        char *dir = tls_dir_with(P.server_only, P.inter, P.ec_key_pem, P.root_pem);
        struct tls_request req = req_tls(dir);
        struct tls_result res = { 0 };
        build_ok(&req, &res);
        ck_assert_uint_eq(res.n_warnings, 1);
        ck_assert_str_eq(res.warnings[0], "KPA_TLS_DIR/tls.crt: the certificate's extendedKeyUsage lacks clientAuth, so it cannot serve as a client certificate for mutual TLS");
        tls_result_free(&res);
        tu_rmtree(dir);
        free(dir);
}
END_TEST

START_TEST(refuses_certificate_not_for_tls_servers) {
        refused_dir(P.client_only, P.inter, P.ec_key_pem, P.root_pem,
                    "KPA_TLS_DIR/tls.crt: the certificate is not for TLS servers (its extendedKeyUsage lacks serverAuth or its keyUsage forbids it)");
}
END_TEST

START_TEST(refuses_ca_dir_holding_a_leaf_certificate) {
        char *dir = ca_dir_with(P.ec_pem, P.ec_key_pem);
        struct tls_request req = req_ca(dir);
        refused(&req, "KPA_TLS_CA_DIR/ca.crt: CA certificate CN=" FQDN
                " is not a CA (basicConstraints CA:TRUE with keyCertSign expected)");
        tu_rmtree(dir);
        free(dir);
}
END_TEST

START_TEST(refuses_missing_and_unparsable_files) {
        char *dir = tls_dir_with(P.ec_leaf, P.inter, P.ec_key_pem, P.root_pem);
        struct tls_request req = req_tls(dir);
        char path[1024];
        snprintf(path, sizeof path, "%s/tls.key", dir);
        unlink(path);
        refused(&req, "KPA_TLS_DIR/tls.key: file not found");
        tu_write(dir, "tls.key", "not a key\n");
        refused(&req, "KPA_TLS_DIR/tls.key: no PEM private key found");
        tu_write(dir, "tls.key", P.ec_pem);
        refused(&req, "KPA_TLS_DIR/tls.key: unexpected PEM block \"CERTIFICATE\" (a PRIVATE KEY is expected)");
        tu_write(dir, "tls.key", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n");
        refused(&req, "KPA_TLS_DIR/tls.key: the private key cannot be parsed");
        tu_write(dir, "tls.key", P.ec_key_pem);
        tu_write(dir, "ca.crt", "garbage\n");
        refused(&req, "KPA_TLS_DIR/ca.crt: no PEM certificate found");
        tu_write(dir, "ca.crt", P.root_pem);
        tu_write(dir, "tls.crt", P.ec_key_pem);
        refused(&req, "KPA_TLS_DIR/tls.crt: unexpected PEM block \"PRIVATE KEY\" (only CERTIFICATE blocks are expected)");
        tu_write(dir, "tls.crt", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
        refused(&req, "KPA_TLS_DIR/tls.crt: certificate 1 cannot be parsed");
        /* A file past the 1 MiB bound is refused before it is parsed. */
        char *big = malloc(TLS_MAX_PEM_BYTES + 2);
        memset(big, 'A', TLS_MAX_PEM_BYTES + 1);
        big[TLS_MAX_PEM_BYTES + 1] = '\0';
        tu_write(dir, "tls.crt", big);
        refused(&req, "KPA_TLS_DIR/tls.crt: larger than 1 MiB");
        free(big);
        tu_rmtree(dir);
        free(dir);
}
END_TEST

START_TEST(refuses_encrypted_and_weak_keys) {
        BIO *b = BIO_new(BIO_s_mem());
        PEM_write_bio_PKCS8PrivateKey(b, P.ec_key, EVP_aes_256_cbc(), NULL, 0, NULL, (void *) "secret-pass");
        char *enc = bio_text(b);
        refused_dir(P.ec_leaf, P.inter, enc, P.root_pem,
                    "KPA_TLS_DIR/tls.key: the private key is encrypted (an unencrypted PEM key is expected)");
        free(enc);
        EVP_PKEY *weak = mk_key(true, 1024);
        X509 *leaf = mk_cert(&(struct cert_opts){ .cn = FQDN, .dns = leaf_dns, .n_dns = 1 }, weak, P.inter, P.int_key);
        char *weak_pem = key_pem(weak, true);
        refused_dir(leaf, P.inter, weak_pem, P.root_pem,
                    "KPA_TLS_DIR/tls.key: RSA key of 1024 bits (2048 to 8192 expected)");
        free(weak_pem);
        X509_free(leaf);
        EVP_PKEY_free(weak);
        EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
        char *ed_pem = key_pem(ed, true);
        refused_dir(P.ec_leaf, P.inter, ed_pem, P.root_pem,
                    "KPA_TLS_DIR/tls.key: ED25519 key (RSA or EC P-256/P-384 expected)");
        free(ed_pem);
        EVP_PKEY_free(ed);
}
END_TEST

START_TEST(refuses_bad_requests) {
        char *dir = tls_dir_with(P.ec_leaf, P.inter, P.ec_key_pem, P.root_pem);
        struct tls_request req = req_tls(dir);
        req.password = "short";
        refused(&req, "the TLS store password must be 6 to 128 printable ASCII characters");
        req.password = "with\nnewline";
        refused(&req, "the TLS store password must be 6 to 128 printable ASCII characters");
        req = req_tls(dir);
        req.ca_dir = dir;
        refused(&req, "KPA_TLS_DIR and KPA_TLS_CA_DIR are mutually exclusive (set one)");
        req = req_tls(NULL);
        refused(&req, "neither KPA_TLS_DIR nor KPA_TLS_CA_DIR is set");
        tu_rmtree(dir);
        free(dir);
}
END_TEST

START_TEST(refuses_ca_dir_whose_key_does_not_match) {
        char *dir = ca_dir_with(P.root_pem, P.ec_key_pem);
        struct tls_request req = req_ca(dir);
        refused(&req, "KPA_TLS_CA_DIR/ca.key does not match the certificate in KPA_TLS_CA_DIR/ca.crt");
        tu_rmtree(dir);
        free(dir);
}
END_TEST

START_TEST(refuses_bad_issue_settings) {
        char *dir = ca_dir_with(P.root_pem, P.root_key_pem);
        struct tls_request req = req_ca(dir);
        req.key_type = "dsa";
        refused(&req, "KPA_TLS_KEY_TYPE: \"dsa\" is not a key type (ec or rsa expected)");
        req = req_ca(dir);
        req.validity_days = 4000;
        refused(&req, "KPA_TLS_VALIDITY_DAYS: 4000 days is out of range (1 to 3650 expected)");
        req = req_ca(dir);
        const char *dns[] = { "bad_name.example.com" };
        req.dns_names = dns;
        req.n_dns = 1;
        refused(&req, "cannot issue a certificate for \"bad_name.example.com\": not a valid DNS name");
        req = req_ca(dir);
        const char *ips[] = { "10.0.0.300" };
        req.ip_addrs = ips;
        refused(&req, "cannot issue a certificate for \"10.0.0.300\": not a valid IP address");
        req = req_ca(dir);
        req.must_cover = (const char *const[]){ "kafka.example.com" };
        refused(&req, "advertised host kafka.example.com is not covered by the certificate (SANs: DNS:"
                FQDN ", DNS:" WILDCARD ", IP:127.0.0.1)");
        req = req_ca(dir);
        req.now = at(2045, 2, 1);
        refused(&req, "KPA_TLS_CA_DIR/ca.crt: CA certificate CN=Test Root expired at 2045-01-01T00:00:00Z");
        tu_rmtree(dir);
        free(dir);
}
END_TEST

/* ---- issuance ---- */

static bool has_san(GENERAL_NAMES *g, int type, const char *dns, const unsigned char *ip, int iplen) {
        for (int i = 0; i < sk_GENERAL_NAME_num(g); i++) {
                GENERAL_NAME *n = sk_GENERAL_NAME_value(g, i);
                if (n->type != type)
                        continue;
                ASN1_STRING *s = type == GEN_DNS ? n->d.dNSName : n->d.iPAddress;
                int len = dns ? (int) strlen(dns) : iplen;
                if (ASN1_STRING_length(s) == len && memcmp(ASN1_STRING_get0_data(s), dns ? (const void *) dns : ip, (size_t) len) == 0)
                        return true;
        }
        return false;
}

static void check_issued(bool rsa) {
        char *dir = ca_dir_with(P.root_pem, P.root_key_pem);
        struct tls_request req = req_ca(dir);
        req.key_type = rsa ? "rsa" : NULL;
        struct tls_result res = { 0 };
        build_ok(&req, &res);
        ck_assert(res.issued);
        ck_assert(!res.reused);
        struct opened ks = open_p12(res.keystore, res.keystore_len, PASSWORD);
        X509 *x = ks.cert;
        ck_assert_int_eq(EVP_PKEY_get_base_id(ks.key), rsa ? EVP_PKEY_RSA : EVP_PKEY_EC);
        ck_assert_int_eq(EVP_PKEY_get_bits(ks.key), rsa ? 2048 : 256);
        ck_assert_int_eq(X509_verify(x, X509_get0_pubkey(P.root)), 1);
        ck_assert_int_eq(X509_check_issued(P.root, x), X509_V_OK);
        ck_assert_int_eq(sk_X509_num(ks.ca), 1);
        ck_assert_int_eq(X509_cmp(sk_X509_value(ks.ca, 0), P.root), 0);
        char cn[128];
        X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn);
        ck_assert_str_eq(cn, FQDN);
        GENERAL_NAMES *g = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
        static const unsigned char lo[] = { 127, 0, 0, 1 };
        ck_assert_int_eq(sk_GENERAL_NAME_num(g), 3);
        ck_assert(has_san(g, GEN_DNS, FQDN, NULL, 0));
        ck_assert(has_san(g, GEN_DNS, WILDCARD, NULL, 0));
        ck_assert(has_san(g, GEN_IPADD, NULL, lo, 4));
        GENERAL_NAMES_free(g);
        time_t nb, na;
        struct tm tm;
        ASN1_TIME_to_tm(X509_get0_notBefore(x), &tm);
        nb = timegm(&tm);
        ASN1_TIME_to_tm(X509_get0_notAfter(x), &tm);
        na = timegm(&tm);
        ck_assert(nb == NOW - 300);
        ck_assert(na == NOW + 90 * 86400);
        ck_assert(res.not_after == na);
        ck_assert_int_eq(X509_get_extension_flags(x) & EXFLAG_CA, 0);
        ck_assert_int_eq(X509_get_extended_key_usage(x), XKU_SSL_SERVER | XKU_SSL_CLIENT);
        ck_assert_int_eq(X509_get_key_usage(x), rsa ? KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT : KU_DIGITAL_SIGNATURE);
        ck_assert_ptr_nonnull(X509_get0_subject_key_id(x));
        ck_assert_int_eq(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(x), X509_get0_subject_key_id(P.root)), 0);
        const ASN1_INTEGER *serial = X509_get0_serialNumber(x);
        ck_assert_int_ge(ASN1_STRING_length(serial), 15);
        ck_assert_int_le(ASN1_STRING_length(serial), 16);
        opened_free(&ks);
        tls_result_free(&res);
        tu_rmtree(dir);
        free(dir);
}

START_TEST(issues_ec_p256_certificate_from_ca_dir) {
        check_issued(false);
}
END_TEST

START_TEST(issues_rsa_2048_certificate_from_ca_dir) {
        check_issued(true);
}
END_TEST

START_TEST(issued_validity_stops_at_the_cas_not_after) {
        char *pem = cert_pem(P.short_ca);
        char *dir = ca_dir_with(pem, P.root_key_pem);
        struct tls_request req = req_ca(dir);
        req.validity_days = 365;
        struct tls_result res = { 0 };
        build_ok(&req, &res);
        ck_assert(res.not_after == at(2026, 7, 1));
        tls_result_free(&res);
        tu_rmtree(dir);
        free(dir);
        free(pem);
}
END_TEST

START_TEST(two_issuances_use_different_serials_and_keys) {
        char *dir = ca_dir_with(P.root_pem, P.root_key_pem);
        struct tls_request req = req_ca(dir);
        struct tls_result a = { 0 }, b = { 0 };
        build_ok(&req, &a);
        build_ok(&req, &b);
        struct opened oa = open_p12(a.keystore, a.keystore_len, PASSWORD);
        struct opened ob = open_p12(b.keystore, b.keystore_len, PASSWORD);
        ck_assert_int_ne(ASN1_INTEGER_cmp(X509_get0_serialNumber(oa.cert), X509_get0_serialNumber(ob.cert)), 0);
        ck_assert_int_ne(EVP_PKEY_eq(oa.key, ob.key), 1);
        opened_free(&oa);
        opened_free(&ob);
        tls_result_free(&a);
        tls_result_free(&b);
        tu_rmtree(dir);
        free(dir);
}
END_TEST

/* ---- reuse ---- */

static bool same_bytes(const void *a, size_t la, const void *b, size_t lb) {
        return la == lb && memcmp(a, b, la) == 0;
}

START_TEST(same_inputs_reuse_previous_stores_byte_for_byte) {
        char *dir = tls_dir_with(P.rsa_leaf, P.inter, P.rsa_key_pem, P.root_pem);
        char *out = tu_mkdtemp();
        struct tls_request req = req_tls(dir);
        req.previous_dir = out;
        struct tls_result first = { 0 }, again = { 0 };
        build_ok(&req, &first);
        ck_assert(!first.reused);
        write_outputs(out, &first);
        build_ok(&req, &again);
        ck_assert(again.reused);
        ck_assert(same_bytes(first.keystore, first.keystore_len, again.keystore, again.keystore_len));
        ck_assert(same_bytes(first.truststore, first.truststore_len, again.truststore, again.truststore_len));
        ck_assert_str_eq(first.ca_pem, again.ca_pem);
        tls_result_free(&again);

        /* Another CA in ca.crt: a new trust store, the same key store. */
        char *two = cat(P.root_pem, P.other_pem);
        tu_write(dir, "ca.crt", two);
        build_ok(&req, &again);
        ck_assert(!again.reused);
        ck_assert(same_bytes(first.keystore, first.keystore_len, again.keystore, again.keystore_len));
        ck_assert(!same_bytes(first.truststore, first.truststore_len, again.truststore, again.truststore_len));
        tls_result_free(&again);
        tu_write(dir, "ca.crt", P.root_pem);

        /* Another password: the old stores do not open with it, so both are rewritten. */
        req.password = "another-password";
        build_ok(&req, &again);
        ck_assert(!again.reused);
        ck_assert(!same_bytes(first.keystore, first.keystore_len, again.keystore, again.keystore_len));
        ck_assert(!same_bytes(first.truststore, first.truststore_len, again.truststore, again.truststore_len));
        struct opened ks = open_p12(again.keystore, again.keystore_len, "another-password");
        ck_assert_int_eq(EVP_PKEY_eq(ks.key, P.rsa_key), 1);
        opened_free(&ks);
        tls_result_free(&again);
        req.password = PASSWORD;

        /* Another certificate and key from the same CA: a new key store, the same trust store. */
        tu_write(dir, "tls.key", P.ec_key_pem);
        char *chain = cat(P.ec_pem, P.int_pem);
        tu_write(dir, "tls.crt", chain);
        build_ok(&req, &again);
        ck_assert(!same_bytes(first.keystore, first.keystore_len, again.keystore, again.keystore_len));
        ck_assert(same_bytes(first.truststore, first.truststore_len, again.truststore, again.truststore_len));
        tls_result_free(&again);

        free(chain);
        free(two);
        tls_result_free(&first);
        tu_rmtree(dir);
        tu_rmtree(out);
        free(dir);
        free(out);
}
END_TEST

START_TEST(issued_certificate_is_kept_until_two_thirds_of_its_life) {
        char *dir = ca_dir_with(P.root_pem, P.root_key_pem);
        char *out = tu_mkdtemp();
        struct tls_request req = req_ca(dir);
        req.previous_dir = out;
        struct tls_result first = { 0 }, again = { 0 };
        build_ok(&req, &first);
        ck_assert(first.issued);
        write_outputs(out, &first);

        req.now = NOW + 59 * 86400;
        build_ok(&req, &again);
        ck_assert(again.reused);
        ck_assert(!again.issued);
        ck_assert(same_bytes(first.keystore, first.keystore_len, again.keystore, again.keystore_len));
        ck_assert(same_bytes(first.truststore, first.truststore_len, again.truststore, again.truststore_len));
        tls_result_free(&again);

        /* 61 of 90 days gone: less than a third is left, so a new certificate is issued. */
        req.now = NOW + 61 * 86400;
        build_ok(&req, &again);
        ck_assert(again.issued);
        ck_assert(!again.reused);
        ck_assert(!same_bytes(first.keystore, first.keystore_len, again.keystore, again.keystore_len));
        ck_assert(same_bytes(first.truststore, first.truststore_len, again.truststore, again.truststore_len));
        tls_result_free(&again);

        /* A new SAN, or another key type, is another certificate. */
        req.now = NOW;
        const char *dns[] = { FQDN, WILDCARD, "kafka.example.com" };
        req.dns_names = dns;
        req.n_dns = 3;
        build_ok(&req, &again);
        ck_assert(again.issued);
        tls_result_free(&again);
        req = req_ca(dir);
        req.previous_dir = out;
        req.key_type = "rsa";
        build_ok(&req, &again);
        ck_assert(again.issued);
        tls_result_free(&again);

        /* A certificate from another CA is never kept. */
        char *other_pem = key_pem(P.other_key, true);
        tu_write(dir, "ca.crt", P.other_pem);
        tu_write(dir, "ca.key", other_pem);
        req = req_ca(dir);
        req.previous_dir = out;
        build_ok(&req, &again);
        ck_assert(again.issued);
        ck_assert(!again.reused);
        tls_result_free(&again);

        free(other_pem);
        tls_result_free(&first);
        tu_rmtree(dir);
        tu_rmtree(out);
        free(dir);
        free(out);
}
END_TEST

/* The due moment is the first second at which the certificate is no longer reusable. */
START_TEST(issued_due_is_the_first_second_past_two_thirds) {
        /* 90 days + 300 s backdated: a third is 30 days + 100 s. */
        time_t nb = NOW - 300, na = NOW + 90 * 86400;
        ck_assert(tls_issued_due(nb, na) == na - (30 * 86400 + 100));
        /* A lifetime not divisible by 3: (na - due) * 3 <= life < (na - due + 1) * 3. */
        ck_assert(tls_issued_due(1000, 1031) == 1021);
        ck_assert(tls_issued_due(1000, 1000) == 1000);
        ck_assert(tls_issued_due(1000, 900) == 900);

        char *dir = ca_dir_with(P.root_pem, P.root_key_pem);
        char *out = tu_mkdtemp();
        struct tls_request req = req_ca(dir);
        req.previous_dir = out;
        struct tls_result first = { 0 }, again = { 0 };
        build_ok(&req, &first);
        write_outputs(out, &first);
        time_t due = tls_issued_due(nb, na);
        req.now = due - 1;
        build_ok(&req, &again);
        ck_assert(again.reused);
        tls_result_free(&again);
        req.now = due;
        build_ok(&req, &again);
        ck_assert(again.issued);
        tls_result_free(&again);
        tls_result_free(&first);
        tu_rmtree(dir);
        tu_rmtree(out);
        free(dir);
        free(out);
}
END_TEST

/* The names read back from an issued certificate make a request it is reusable for. */
START_TEST(issued_names_read_back_make_the_same_request) {
        char *dir = ca_dir_with(P.root_pem, P.root_key_pem);
        char *out = tu_mkdtemp();
        struct tls_request req = req_ca(dir);
        const char *ips[] = { "127.0.0.1", "fd00::a" };
        req.ip_addrs = ips;
        req.n_ips = 2;
        req.previous_dir = out;
        struct tls_result first = { 0 }, again = { 0 };
        build_ok(&req, &first);
        write_outputs(out, &first);
        struct opened ks = open_p12(first.keystore, first.keystore_len, PASSWORD);
        struct tls_issued_names *n = calloc(1, sizeof *n);
        ck_assert_int_eq(tls_issued_names(ks.cert, n), 0);
        ck_assert_str_eq(n->cn, FQDN);
        ck_assert_uint_eq(n->n_dns, 2);
        ck_assert_str_eq(n->dns_ptr[0], FQDN);
        ck_assert_str_eq(n->dns_ptr[1], WILDCARD);
        ck_assert_uint_eq(n->n_ips, 2);
        ck_assert_str_eq(n->ip_ptr[0], "127.0.0.1");
        ck_assert_str_eq(n->ip_ptr[1], "fd00::a");
        struct tls_request back = req_ca(dir);
        back.previous_dir = out;
        back.common_name = n->cn;
        back.dns_names = n->dns_ptr;
        back.n_dns = n->n_dns;
        back.ip_addrs = n->ip_ptr;
        back.n_ips = n->n_ips;
        build_ok(&back, &again);
        ck_assert(again.reused);
        tls_result_free(&again);
        /* A CA certificate (no SANs) is not one kpa issued. */
        ck_assert_int_eq(tls_issued_names(P.root, n), -EINVAL);
        free(n);
        opened_free(&ks);
        tls_result_free(&first);
        tu_rmtree(dir);
        tu_rmtree(out);
        free(dir);
        free(out);
}
END_TEST

START_TEST(garbage_previous_store_is_replaced_not_refused) {
        char *dir = tls_dir_with(P.ec_leaf, P.inter, P.ec_key_pem, P.root_pem);
        char *out = tu_mkdtemp();
        tu_write(out, TLS_KEYSTORE_FILE, "not pkcs12");
        tu_write(out, TLS_TRUSTSTORE_FILE, "");
        struct tls_request req = req_tls(dir);
        req.previous_dir = out;
        struct tls_result res = { 0 };
        build_ok(&req, &res);
        ck_assert(!res.reused);
        tls_result_free(&res);
        tu_rmtree(dir);
        tu_rmtree(out);
        free(dir);
        free(out);
}
END_TEST

/* A previous store whose MAC claims 2^31-1 PBKDF2 rounds would keep kpa-init busy for hours
 * (found by fuzz_tls): it must be treated as not ours and rebuilt at once. */
START_TEST(previous_store_with_huge_iteration_count_is_rebuilt_not_ground_through) {
        char *dir = tls_dir_with(P.ec_leaf, P.inter, P.ec_key_pem, P.root_pem);
        char *out = tu_mkdtemp();
        struct tls_request req = req_tls(dir);
        req.previous_dir = out;
        struct tls_result first = { 0 }, again = { 0 };
        build_ok(&req, &first);
        write_outputs(out, &first);
        /* Same store, MAC iteration count raised (the MAC no longer matches, but verifying it
         * would take the full 2^31-1 rounds). */
        const unsigned char *p = first.keystore;
        PKCS12 *p12 = d2i_PKCS12(NULL, &p, (long) first.keystore_len);
        ck_assert_ptr_nonnull(p12);
        const ASN1_INTEGER *iter = NULL;
        PKCS12_get0_mac(NULL, NULL, NULL, &iter, p12);
        ck_assert_ptr_nonnull(iter);
        ck_assert_int_eq(ASN1_INTEGER_set((ASN1_INTEGER *) iter, 0x7fffffff), 1);
        unsigned char *der = NULL;
        int len = i2d_PKCS12(p12, &der);
        ck_assert_int_gt(len, 0);
        char path[600];
        snprintf(path, sizeof path, "%s/%s", out, TLS_KEYSTORE_FILE);
        FILE *f = fopen(path, "wb");
        ck_assert_ptr_nonnull(f);
        ck_assert_uint_eq(fwrite(der, 1, (size_t) len, f), (size_t) len);
        fclose(f);
        OPENSSL_free(der);
        PKCS12_free(p12);
        time_t t0 = time(NULL);
        build_ok(&req, &again);
        ck_assert_int_le(time(NULL) - t0, 5);
        ck_assert(!again.reused);
        tls_result_free(&first);
        tls_result_free(&again);
        tu_rmtree(dir);
        tu_rmtree(out);
        free(dir);
        free(out);
}
END_TEST

/* ---- secrets ---- */

static bool all_zero(const void *p, size_t n) {
        const unsigned char *c = p;
        for (size_t i = 0; i < n; i++)
                if (c[i])
                        return false;
        return true;
}

START_TEST(result_wipe_zeroes_every_byte_and_free_clears_the_struct) {
        char *dir = tls_dir_with(P.ec_leaf, P.inter, P.ec_key_pem, P.root_pem);
        struct tls_request req = req_tls(dir);
        req.must_cover = (const char *const[]){ "elsewhere.example.com" };
        req.warn_uncovered = true;
        struct tls_result res = { 0 };
        build_ok(&req, &res);
        ck_assert_uint_eq(res.n_warnings, 1);
        size_t wlen = strlen(res.warnings[0]);
        ck_assert(!all_zero(res.keystore, res.keystore_len));
        tls_result_wipe(&res);
        ck_assert(all_zero(res.keystore, res.keystore_len));
        ck_assert(all_zero(res.truststore, res.truststore_len));
        ck_assert(all_zero(res.ca_pem, res.ca_pem_len));
        ck_assert(all_zero(res.warnings[0], wlen));
        tls_result_free(&res);
        ck_assert_ptr_null(res.keystore);
        ck_assert_ptr_null(res.truststore);
        ck_assert_ptr_null(res.ca_pem);
        ck_assert_ptr_null(res.warnings);
        ck_assert_uint_eq(res.keystore_len, 0);
        tls_result_free(NULL);
        tu_rmtree(dir);
        free(dir);
}
END_TEST

START_TEST(errors_never_contain_the_password_or_key) {
        char *dir = tls_dir_with(P.rsa_leaf, P.inter, P.ec_key_pem, P.root_pem);
        struct tls_request req = req_tls(dir);
        req.password = "Secret-Pass-123";
        char err[512] = "";
        struct tls_result res = { 0 };
        ck_assert_int_eq(tls_build(&req, &res, err, sizeof err), -EINVAL);
        ck_assert_ptr_null(strstr(err, "Secret-Pass"));
        ck_assert_ptr_null(strstr(err, "PRIVATE"));
        req.password = "bad\x01password";
        ck_assert_int_eq(tls_build(&req, &res, err, sizeof err), -EINVAL);
        ck_assert_ptr_null(strstr(err, "password\x01"));
        ck_assert_ptr_null(strstr(err, "bad\x01"));
        tu_rmtree(dir);
        free(dir);
}
END_TEST

START_TEST(password_comes_from_file_then_previous_run_then_random) {
        char *dir = tu_mkdtemp();
        char err[256] = "";
        char *pw = NULL;
        char path[1024];
        snprintf(path, sizeof path, "%s/pw", dir);
        tu_write(dir, "pw", "from-the-secret\n");
        ck_assert_int_eq(tls_password_resolve(path, "KPA_TLS_PASSWORD_FILE", dir, &pw, err, sizeof err), 0);
        ck_assert_str_eq(pw, "from-the-secret");
        free(pw);
        tu_write(dir, "pw", "abc\n");
        ck_assert_int_eq(tls_password_resolve(path, "KPA_TLS_PASSWORD_FILE", dir, &pw, err, sizeof err), -EINVAL);
        char want[1200];
        snprintf(want, sizeof want, "KPA_TLS_PASSWORD_FILE %s: the password must be 6 to 128 printable ASCII characters", path);
        ck_assert_str_eq(err, want);
        /* A path that names no file, a device, a FIFO or a folder: bad input, one line that
         * names it and says what was expected. */
        static const char *const kinds[][2] = { { "missing", "file not found" }, { "/dev/zero", "not a regular file" },
                                                { "fifo", "not a regular file" }, { "", "not a regular file" } };
        snprintf(path, sizeof path, "%s/fifo", dir);
        ck_assert_int_eq(mkfifo(path, 0600), 0);
        for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) {
                if (kinds[i][0][0] == '/')
                        snprintf(path, sizeof path, "%s", kinds[i][0]);
                else
                        snprintf(path, sizeof path, "%s/%s", dir, kinds[i][0]);
                ck_assert_int_eq(tls_password_resolve(path, "KPA_TLS_PASSWORD_FILE", dir, &pw, err, sizeof err), -EINVAL);
                snprintf(want, sizeof want, "KPA_TLS_PASSWORD_FILE %s: %s (expected a file holding the TLS store password: "
                         "6 to 128 printable ASCII characters)", path, kinds[i][1]);
                ck_assert_str_eq(err, want);
        }

        ck_assert_int_eq(tls_password_resolve(NULL, "KPA_TLS_PASSWORD_FILE", dir, &pw, err, sizeof err), 0);
        ck_assert_uint_eq(strlen(pw), TLS_GENERATED_PASSWORD_LEN);
        tu_write(dir, TLS_PASSWORD_FILE, pw);
        char *again = NULL;
        ck_assert_int_eq(tls_password_resolve(NULL, "KPA_TLS_PASSWORD_FILE", dir, &again, err, sizeof err), 0);
        ck_assert_str_eq(again, pw);
        free(again);
        free(pw);
        tu_rmtree(dir);
        free(dir);
}
END_TEST

/* ---- Java ---- */

/* The absolute path of a program on PATH, or NULL. */
static char *which(const char *name) {
        const char *path = getenv("PATH");
        const char *d = path ? path : "/usr/bin:/bin";
        while (*d) {
                size_t n = strcspn(d, ":");
                char p[1024];
                snprintf(p, sizeof p, "%.*s/%s", (int) n, d, name);
                if (n > 0 && access(p, X_OK) == 0)
                        return strdup(p);
                d += n + (d[n] == ':');
        }
        return NULL;
}

static int run_bounded(char *const argv[], char **out, char **err) {
        /* coreutils timeout bounds every JVM we start, whatever happens inside it. */
        char *args[16] = { "/usr/bin/timeout", "-k", "5", "60" };
        size_t n = 4;
        for (size_t i = 0; argv[i] && n < 15; i++)
                args[n++] = argv[i];
        args[n] = NULL;
        return tu_run(args, NULL, out, err);
}

static char *java_classes(void) {
        char *javac = which("javac");
        ck_assert_msg(javac != NULL, "javac not on PATH");
        char *classes = tu_mkdtemp();
        char src[1024];
        snprintf(src, sizeof src, "%s/tests/java/TlsProbe.java", tu_source_dir());
        char *out = NULL, *err = NULL;
        char *argv[] = { javac, "-d", classes, src, NULL };
        int st = run_bounded(argv, &out, &err);
        ck_assert_msg(st == 0, "javac: %d %s %s", st, out, err);
        free(out);
        free(err);
        free(javac);
        return classes;
}

static char *probe(const char *classes, const char *dir, const char *host, const char *bad_host) {
        char *java = which("java");
        ck_assert_ptr_nonnull(java);
        char ks[1024], ts[1024], pw[1024];
        snprintf(ks, sizeof ks, "%s/%s", dir, TLS_KEYSTORE_FILE);
        snprintf(ts, sizeof ts, "%s/%s", dir, TLS_TRUSTSTORE_FILE);
        snprintf(pw, sizeof pw, "%s/%s", dir, TLS_PASSWORD_FILE);
        char *out = NULL, *err = NULL;
        char *argv[] = { java, "-Xshare:auto", "-XX:TieredStopAtLevel=1", "-cp", (char *) classes,
                         "TlsProbe", ks, ts, pw, (char *) host, (char *) bad_host, NULL };
        int st = run_bounded(argv, &out, &err);
        ck_assert_msg(st == 0, "java: %d\n%s\n%s", st, out, err);
        free(err);
        free(java);
        return out;
}

static char *keytool_list(const char *dir, const char *file) {
        char *keytool = which("keytool");
        ck_assert_ptr_nonnull(keytool);
        char store[1024];
        snprintf(store, sizeof store, "%s/%s", dir, file);
        char *out = NULL, *err = NULL;
        char *argv[] = { keytool, "-list", "-storetype", "PKCS12", "-keystore", store,
                         "-storepass", PASSWORD, NULL };
        int st = run_bounded(argv, &out, &err);
        ck_assert_msg(st == 0, "keytool: %d %s %s", st, out, err);
        free(err);
        free(keytool);
        return out;
}

static void assert_lines(const char *out, const char *const *lines, size_t n) {
        const char *p = out;
        for (size_t i = 0; i < n; i++) {
                const char *hit = strstr(p, lines[i]);
                ck_assert_msg(hit != NULL, "missing line \"%s\" in:\n%s", lines[i], out);
                p = hit + strlen(lines[i]);
        }
}

START_TEST(java_loads_stores_and_completes_mutual_tls_through_an_intermediate) {
        char *classes = java_classes();
        char *dir = tls_dir_with(P.rsa_leaf, P.inter, P.rsa_key_pem, P.root_pem);
        char *out = tu_mkdtemp();
        struct tls_request req = req_tls(dir);
        req.now = time(NULL);
        struct tls_result res = { 0 };
        build_ok(&req, &res);
        write_outputs(out, &res);
        tu_write(out, TLS_PASSWORD_FILE, PASSWORD);
        tls_result_free(&res);

        char *text = probe(classes, out, FQDN, "kafka.example.com");
        ck_assert_str_eq(text,
                "keystore entries 1\n"
                "keystore kafka PrivateKeyEntry chain 3 key RSA leaf CN=" FQDN "\n"
                "keystore trusted 0\n"
                "truststore entries 1\n"
                "truststore ca-0 trustedCertEntry CN=Test Root\n"
                "truststore trusted 1\n"
                "handshake " FQDN " ok TLSv1.3 client-read k server-saw-client-cert CN=" FQDN "\n"
                "handshake kafka.example.com refused: No subject alternative DNS name matching kafka.example.com found.\n");
        free(text);

        char *ks = keytool_list(out, TLS_KEYSTORE_FILE);
        const char *ks_lines[] = { "Keystore type: PKCS12", "Your keystore contains 1 entry", "kafka, ", ", PrivateKeyEntry," };
        assert_lines(ks, ks_lines, 4);
        free(ks);
        char *ts = keytool_list(out, TLS_TRUSTSTORE_FILE);
        const char *ts_lines[] = { "Keystore type: PKCS12", "Your keystore contains 1 entry", "ca-0, ", ", trustedCertEntry," };
        assert_lines(ts, ts_lines, 4);
        free(ts);

        tu_rmtree(classes);
        tu_rmtree(dir);
        tu_rmtree(out);
        free(classes);
        free(dir);
        free(out);
}
END_TEST

START_TEST(java_accepts_issued_ec_certificate_with_two_trusted_cas) {
        char *classes = java_classes();
        char *ca = cat(P.root_pem, P.other_pem);
        char *dir = ca_dir_with(ca, P.root_key_pem);
        char *out = tu_mkdtemp();
        struct tls_request req = req_ca(dir);
        req.now = time(NULL);
        struct tls_result res = { 0 };
        build_ok(&req, &res);
        write_outputs(out, &res);
        tu_write(out, TLS_PASSWORD_FILE, PASSWORD);
        tls_result_free(&res);

        char *text = probe(classes, out, "broker-2.kafka-headless.ns.svc.cluster.local", NULL);
        ck_assert_str_eq(text,
                "keystore entries 1\n"
                "keystore kafka PrivateKeyEntry chain 2 key EC leaf CN=" FQDN "\n"
                "keystore trusted 0\n"
                "truststore entries 2\n"
                "truststore ca-0 trustedCertEntry CN=Test Root\n"
                "truststore ca-1 trustedCertEntry CN=Other Root\n"
                "truststore trusted 2\n"
                "handshake broker-2.kafka-headless.ns.svc.cluster.local ok TLSv1.3 client-read k server-saw-client-cert CN=" FQDN "\n");
        free(text);
        char *ts = keytool_list(out, TLS_TRUSTSTORE_FILE);
        const char *ts_lines[] = { "Your keystore contains 2 entries", "ca-0, ", ", trustedCertEntry,",
                                   "ca-1, ", ", trustedCertEntry," };
        assert_lines(ts, ts_lines, 5);
        free(ts);

        tu_rmtree(classes);
        tu_rmtree(dir);
        tu_rmtree(out);
        free(classes);
        free(dir);
        free(out);
        free(ca);
}
END_TEST

static Suite *tls_suite(void) {
        Suite *s = suite_create("tls");
        TCase *t = tcase_create("build");
        tcase_add_unchecked_fixture(t, pki_setup, pki_teardown);
        tcase_add_test(t, tls_dir_rsa_builds_keystore_with_key_and_full_chain);
        tcase_add_test(t, truststore_holds_every_ca_with_java_trust_attribute);
        tcase_add_test(t, stores_use_aes256_pbkdf2_sha256_and_sha256_mac);
        tcase_add_test(t, traditional_rsa_and_ec_keys_are_accepted);
        tcase_add_test(t, refuses_key_that_does_not_match_leaf);
        tcase_add_test(t, refuses_chain_from_another_ca);
        tcase_add_test(t, refuses_chain_missing_its_intermediate);
        tcase_add_test(t, refuses_expired_leaf_naming_the_time);
        tcase_add_test(t, refuses_leaf_not_yet_valid);
        tcase_add_test(t, refuses_expired_intermediate);
        tcase_add_test(t, refuses_expired_ca);
        tcase_add_test(t, refuses_uncovered_advertised_host_listing_sans);
        tcase_add_test(t, uncovered_host_is_a_warning_when_asked);
        tcase_add_test(t, wildcard_covers_exactly_one_leftmost_label_and_ips_match_sans);
        tcase_add_test(t, warns_when_certificate_lacks_client_auth);
        tcase_add_test(t, refuses_certificate_not_for_tls_servers);
        tcase_add_test(t, refuses_ca_dir_holding_a_leaf_certificate);
        tcase_add_test(t, refuses_missing_and_unparsable_files);
        tcase_add_test(t, refuses_encrypted_and_weak_keys);
        tcase_add_test(t, refuses_bad_requests);
        tcase_add_test(t, refuses_ca_dir_whose_key_does_not_match);
        tcase_add_test(t, refuses_bad_issue_settings);
        tcase_add_test(t, issues_ec_p256_certificate_from_ca_dir);
        tcase_add_test(t, issues_rsa_2048_certificate_from_ca_dir);
        tcase_add_test(t, issued_validity_stops_at_the_cas_not_after);
        tcase_add_test(t, two_issuances_use_different_serials_and_keys);
        tcase_add_test(t, same_inputs_reuse_previous_stores_byte_for_byte);
        tcase_add_test(t, issued_certificate_is_kept_until_two_thirds_of_its_life);
        tcase_add_test(t, issued_due_is_the_first_second_past_two_thirds);
        tcase_add_test(t, issued_names_read_back_make_the_same_request);
        tcase_add_test(t, garbage_previous_store_is_replaced_not_refused);
        tcase_add_test(t, previous_store_with_huge_iteration_count_is_rebuilt_not_ground_through);
        tcase_add_test(t, result_wipe_zeroes_every_byte_and_free_clears_the_struct);
        tcase_add_test(t, errors_never_contain_the_password_or_key);
        tcase_add_test(t, password_comes_from_file_then_previous_run_then_random);
        suite_add_tcase(s, t);
        TCase *j = tcase_create("java");
        tcase_add_unchecked_fixture(j, pki_setup, pki_teardown);
        tcase_set_timeout(j, 120);
        tcase_add_test(j, java_loads_stores_and_completes_mutual_tls_through_an_intermediate);
        tcase_add_test(j, java_accepts_issued_ec_certificate_with_two_trusted_cas);
        suite_add_tcase(s, j);
        return s;
}

int main(void) {
        return tu_run_suite(tls_suite());
}
