/* PKCS12 writing and reading, shaped for Java's KeyStore ("PKCS12"), which is what the broker
 * loads: AES-256-CBC with PBKDF2-HMAC-SHA256 for the key and the certificates, and an
 * HMAC-SHA256 MAC (JDK 17 reads all three; tests/java/TlsProbe.java proves it). */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/objects.h>
#include <openssl/pkcs12.h>
#include <openssl/x509.h>

#include "kpa/secret.h"
#include "kpa/tls_p12.h"

/* Java only turns a certificate bag without a key into a trustedCertEntry when the bag carries
 * Oracle's "trusted key usage" attribute; its value says for what: any extended key usage. */
#define ORACLE_TRUSTED_KEY_USAGE_OID "2.16.840.1.113894.746875.1.1"

static int p12_finish(STACK_OF(PKCS7) *safes, const char *password, unsigned char **ret,
                      size_t *ret_len) {
        PKCS12 *p12 = PKCS12_add_safes(safes, NID_pkcs7_data);
        if (!p12)
                return -ENOMEM;
        int r = -ENOMEM;
        if (PKCS12_set_mac(p12, password, -1, NULL, 0, TLS_P12_ITER, EVP_sha256()) != 1)
                goto out;
        int n = i2d_PKCS12(p12, NULL);
        if (n <= 0)
                goto out;
        unsigned char *buf = malloc((size_t) n);
        if (!buf)
                goto out;
        unsigned char *p = buf;
        if (i2d_PKCS12(p12, &p) != n) {
                free(buf);
                goto out;
        }
        *ret = buf;
        *ret_len = (size_t) n;
        r = 0;
out:
        PKCS12_free(p12);
        return r;
}

/* A certificate may carry an alias or key id from where it was read; what goes into a bag
 * must be only what we put there. */
static X509 *clean_dup(X509 *x) {
        X509 *d = X509_dup(x);
        if (d) {
                X509_alias_set1(d, NULL, 0);
                X509_keyid_set1(d, NULL, 0);
        }
        return d;
}

static PKCS12_SAFEBAG *add_cert_bag(STACK_OF(PKCS12_SAFEBAG) **bags, X509 *x) {
        X509 *d = clean_dup(x);
        if (!d)
                return NULL;
        PKCS12_SAFEBAG *bag = PKCS12_add_cert(bags, d);
        X509_free(d);
        return bag;
}

int tls_p12_keystore(EVP_PKEY *key, STACK_OF(X509) *chain, const char *password,
                     unsigned char **ret, size_t *ret_len) {
        STACK_OF(PKCS12_SAFEBAG) *certbags = NULL, *keybags = NULL;
        STACK_OF(PKCS7) *safes = NULL;
        unsigned char keyid[EVP_MAX_MD_SIZE];
        unsigned int idlen = 0;
        int r = -ENOMEM;

        /* The key and its certificate are paired by a local key id; like OpenSSL we use the
         * certificate's SHA-1 digest, which Java and every other reader accept. */
        if (sk_X509_num(chain) < 1 || X509_digest(sk_X509_value(chain, 0), EVP_sha1(), keyid, &idlen) != 1)
                return -EINVAL;
        for (int i = 0; i < sk_X509_num(chain); i++) {
                PKCS12_SAFEBAG *bag = add_cert_bag(&certbags, sk_X509_value(chain, i));
                if (!bag)
                        goto out;
                if (i == 0 && (PKCS12_add_friendlyname_asc(bag, TLS_KEY_ALIAS, -1) != 1 ||
                               PKCS12_add_localkeyid(bag, keyid, (int) idlen) != 1))
                        goto out;
        }
        PKCS12_SAFEBAG *kbag = PKCS12_add_key_ex(&keybags, key, 0, TLS_P12_ITER, NID_aes_256_cbc,
                                                 password, NULL, NULL);
        if (!kbag || PKCS12_add_friendlyname_asc(kbag, TLS_KEY_ALIAS, -1) != 1 ||
            PKCS12_add_localkeyid(kbag, keyid, (int) idlen) != 1)
                goto out;
        /* Certificates in an encrypted safe, the already shrouded key in a plain one: the
         * layout OpenSSL and keytool both write. */
        if (!PKCS12_add_safe(&safes, certbags, NID_aes_256_cbc, TLS_P12_ITER, password) ||
            !PKCS12_add_safe(&safes, keybags, -1, 0, NULL))
                goto out;
        r = p12_finish(safes, password, ret, ret_len);
out:
        sk_PKCS12_SAFEBAG_pop_free(certbags, PKCS12_SAFEBAG_free);
        sk_PKCS12_SAFEBAG_pop_free(keybags, PKCS12_SAFEBAG_free);
        sk_PKCS7_pop_free(safes, PKCS7_free);
        ERR_clear_error();
        return r;
}

int tls_p12_truststore(STACK_OF(X509) *cas, const char *password, unsigned char **ret,
                       size_t *ret_len) {
        STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
        STACK_OF(PKCS7) *safes = NULL;
        ASN1_OBJECT *any_eku = OBJ_nid2obj(NID_anyExtendedKeyUsage);
        int r = -ENOMEM;

        for (int i = 0; i < sk_X509_num(cas); i++) {
                PKCS12_SAFEBAG *bag = add_cert_bag(&bags, sk_X509_value(cas, i));
                char alias[32];
                snprintf(alias, sizeof alias, "ca-%d", i);
                /* With len -1 the value is taken as the ASN1_OBJECT itself, so the attribute
                 * holds an OBJECT IDENTIFIER, as Java expects. */
                if (!bag || PKCS12_add_friendlyname_asc(bag, alias, -1) != 1 ||
                    PKCS12_add1_attr_by_txt(bag, ORACLE_TRUSTED_KEY_USAGE_OID, V_ASN1_OBJECT,
                                            (const unsigned char *) any_eku, -1) != 1)
                        goto out;
        }
        if (!PKCS12_add_safe(&safes, bags, NID_aes_256_cbc, TLS_P12_ITER, password))
                goto out;
        r = p12_finish(safes, password, ret, ret_len);
out:
        sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
        sk_PKCS7_pop_free(safes, PKCS7_free);
        ERR_clear_error();
        return r;
}

static bool bag_is_trusted(const PKCS12_SAFEBAG *bag) {
        const STACK_OF(X509_ATTRIBUTE) *attrs = PKCS12_SAFEBAG_get0_attrs(bag);
        ASN1_OBJECT *oid = OBJ_txt2obj(ORACLE_TRUSTED_KEY_USAGE_OID, 1);
        bool found = false;
        for (int i = 0; oid && i < X509at_get_attr_count(attrs); i++) {
                X509_ATTRIBUTE *a = X509at_get_attr(attrs, i);
                if (OBJ_cmp(X509_ATTRIBUTE_get0_object(a), oid) != 0)
                        continue;
                ASN1_TYPE *v = X509_ATTRIBUTE_get0_type(a, 0);
                if (v && v->type == V_ASN1_OBJECT &&
                    OBJ_obj2nid(v->value.object) == NID_anyExtendedKeyUsage)
                        found = true;
        }
        ASN1_OBJECT_free(oid);
        return found;
}

static void bag_alias(const PKCS12_SAFEBAG *bag, char *buf, size_t len) {
        char *name = PKCS12_get_friendlyname((PKCS12_SAFEBAG *) bag);
        snprintf(buf, len, "%s", name ? name : "");
        OPENSSL_free(name);
}

/* A previous store is only worth reading if it was written with our parameters; an
 * iteration count beyond ours would let a crafted or corrupted file keep kpa-init busy for
 * hours (PBKDF2 with 2^31 rounds). True when alg is PBES2/PBKDF2 (or a PKCS#12 PBE) with at
 * most TLS_P12_ITER iterations. */
static bool pbe_iterations_ok(const X509_ALGOR *alg) {
        const ASN1_OBJECT *oid;
        int ptype;
        const void *pval;
        if (!alg)
                return false;
        X509_ALGOR_get0(&oid, &ptype, &pval, alg);
        if (ptype != V_ASN1_SEQUENCE)
                return false;
        bool ok = false;
        if (OBJ_obj2nid(oid) == NID_pbes2) {
                PBE2PARAM *pbe2 = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBE2PARAM), alg->parameter);
                if (pbe2 && pbe2->keyfunc && OBJ_obj2nid(pbe2->keyfunc->algorithm) == NID_id_pbkdf2) {
                        PBKDF2PARAM *kdf = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBKDF2PARAM),
                                                                     pbe2->keyfunc->parameter);
                        long iter = kdf && kdf->iter ? ASN1_INTEGER_get(kdf->iter) : -1;
                        ok = iter >= 1 && iter <= TLS_P12_ITER;
                        PBKDF2PARAM_free(kdf);
                }
                PBE2PARAM_free(pbe2);
        } else {
                PBEPARAM *pbe = ASN1_TYPE_unpack_sequence(ASN1_ITEM_rptr(PBEPARAM), alg->parameter);
                long iter = pbe && pbe->iter ? ASN1_INTEGER_get(pbe->iter) : -1;
                ok = iter >= 1 && iter <= TLS_P12_ITER;
                PBEPARAM_free(pbe);
        }
        return ok;
}

static bool mac_iterations_ok(const PKCS12 *p12) {
        const ASN1_INTEGER *iter = NULL;
        PKCS12_get0_mac(NULL, NULL, NULL, &iter, p12);
        long n = iter ? ASN1_INTEGER_get(iter) : 1;
        return n >= 1 && n <= TLS_P12_ITER;
}

static int read_bag(const PKCS12_SAFEBAG *bag, const char *password, struct tls_p12_content *c) {
        switch (PKCS12_SAFEBAG_get_nid(bag)) {
        case NID_pkcs8ShroudedKeyBag: {
                if (++c->n_keys > 1)
                        return 0;
                const X509_ALGOR *alg = NULL;
                X509_SIG_get0(PKCS12_SAFEBAG_get0_pkcs8(bag), &alg, NULL);
                if (!pbe_iterations_ok(alg))
                        return -EINVAL;
                PKCS8_PRIV_KEY_INFO *p8 = PKCS12_decrypt_skey(bag, password, -1);
                if (!p8)
                        return -EINVAL;
                c->key = EVP_PKCS82PKEY(p8);
                PKCS8_PRIV_KEY_INFO_free(p8);
                if (!c->key)
                        return -EINVAL;
                bag_alias(bag, c->key_alias, sizeof c->key_alias);
                return 0;
        }
        case NID_certBag: {
                int i = sk_X509_num(c->certs);
                if (i >= TLS_MAX_CERTS || PKCS12_SAFEBAG_get_bag_nid(bag) != NID_x509Certificate)
                        return -EINVAL;
                X509 *x = PKCS12_SAFEBAG_get1_cert(bag);
                if (!x || !sk_X509_push(c->certs, x)) {
                        X509_free(x);
                        return -EINVAL;
                }
                bag_alias(bag, c->cert_alias[i], sizeof c->cert_alias[i]);
                c->cert_keyid[i] = PKCS12_SAFEBAG_get0_attr(bag, NID_localKeyID) != NULL;
                c->cert_trusted[i] = bag_is_trusted(bag);
                return 0;
        }
        default:
                /* Plain key bags, CRLs, secrets, nested safes: never written by us. */
                return -EINVAL;
        }
}

int tls_p12_read(const unsigned char *der, size_t len, const char *password,
                 struct tls_p12_content *ret) {
        if (len > LONG_MAX)
                return -EINVAL;
        const unsigned char *p = der;
        PKCS12 *p12 = d2i_PKCS12(NULL, &p, (long) len);
        STACK_OF(PKCS7) *safes = NULL;
        struct tls_p12_content c = { .certs = sk_X509_new_null() };
        int r = -EINVAL;
        if (!p12 || p != der + len || !c.certs)
                goto out;
        if (PKCS12_mac_present(p12) != 1 || !mac_iterations_ok(p12) ||
            PKCS12_verify_mac(p12, password, -1) != 1)
                goto out;
        safes = PKCS12_unpack_authsafes(p12);
        if (!safes || sk_PKCS7_num(safes) > 4)
                goto out;
        for (int i = 0; i < sk_PKCS7_num(safes); i++) {
                PKCS7 *p7 = sk_PKCS7_value(safes, i);
                STACK_OF(PKCS12_SAFEBAG) *bags = NULL;
                int nid = OBJ_obj2nid(p7->type);
                if (nid == NID_pkcs7_data)
                        bags = PKCS12_unpack_p7data(p7);
                else if (nid == NID_pkcs7_encrypted && p7->d.encrypted && p7->d.encrypted->enc_data &&
                         pbe_iterations_ok(p7->d.encrypted->enc_data->algorithm))
                        bags = PKCS12_unpack_p7encdata(p7, password, -1);
                if (!bags)
                        goto out;
                int rb = 0;
                for (int k = 0; rb == 0 && k < sk_PKCS12_SAFEBAG_num(bags); k++)
                        rb = read_bag(sk_PKCS12_SAFEBAG_value(bags, k), password, &c);
                sk_PKCS12_SAFEBAG_pop_free(bags, PKCS12_SAFEBAG_free);
                if (rb < 0)
                        goto out;
        }
        *ret = c;
        c = (struct tls_p12_content){ 0 };
        r = 0;
out:
        tls_p12_content_free(&c);
        sk_PKCS7_pop_free(safes, PKCS7_free);
        PKCS12_free(p12);
        ERR_clear_error();
        return r;
}

void tls_p12_content_free(struct tls_p12_content *c) {
        if (!c)
                return;
        EVP_PKEY_free(c->key);
        sk_X509_pop_free(c->certs, X509_free);
        *c = (struct tls_p12_content){ 0 };
}

static bool same_certs(const struct tls_p12_content *c, STACK_OF(X509) *want) {
        if (sk_X509_num(c->certs) != sk_X509_num(want))
                return false;
        for (int i = 0; i < sk_X509_num(want); i++)
                if (X509_cmp(sk_X509_value(c->certs, i), sk_X509_value(want, i)) != 0)
                        return false;
        return true;
}

bool tls_p12_is_keystore_of(const struct tls_p12_content *c, EVP_PKEY *key, STACK_OF(X509) *chain) {
        if (c->n_keys != 1 || !c->key || strcmp(c->key_alias, TLS_KEY_ALIAS) != 0 ||
            EVP_PKEY_eq(c->key, key) != 1 || !same_certs(c, chain))
                return false;
        for (int i = 0; i < sk_X509_num(chain); i++)
                if (c->cert_trusted[i] || c->cert_keyid[i] != (i == 0))
                        return false;
        return strcmp(c->cert_alias[0], TLS_KEY_ALIAS) == 0;
}

bool tls_p12_is_truststore_of(const struct tls_p12_content *c, STACK_OF(X509) *cas) {
        if (c->n_keys != 0 || !same_certs(c, cas))
                return false;
        for (int i = 0; i < sk_X509_num(cas); i++) {
                char alias[32];
                snprintf(alias, sizeof alias, "ca-%d", i);
                if (!c->cert_trusted[i] || c->cert_keyid[i] || strcmp(c->cert_alias[i], alias) != 0)
                        return false;
        }
        return true;
}
