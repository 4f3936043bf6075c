/* Suite for the CA facts of a CA rotation (tlsca.c): CAs named by fingerprint, which CA a
 * served or stored chain leads to (by signature, not only by name), and the trust store and
 * ca.pem for a chosen set of CAs. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "kpa/tls_p12.h"
#include "kpa/tlsca.h"
#include "testutil.h"

static X509 *mk(const char *cn, bool ca, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key) {
        static long serial = 1;
        X509 *x = X509_new();
        X509_set_version(x, X509_VERSION_3);
        ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
        X509_gmtime_adj(X509_getm_notBefore(x), -3600);
        X509_gmtime_adj(X509_getm_notAfter(x), 86400);
        X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_UTF8, (const unsigned char *) cn, -1, -1, 0);
        X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : X509_get_subject_name(x));
        X509_set_pubkey(x, key);
        X509V3_CTX ctx;
        X509V3_set_ctx(&ctx, issuer ? issuer : x, x, NULL, NULL, 0);
        X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, &ctx, NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE");
        X509_add_ext(x, e, -1);
        X509_EXTENSION_free(e);
        ck_assert_int_gt(X509_sign(x, issuer_key ? issuer_key : key, EVP_sha256()), 0);
        return x;
}

static char *pem_of(X509 *x, X509 *y) {
        BIO *b = BIO_new(BIO_s_mem());
        PEM_write_bio_X509(b, x);
        if (y)
                PEM_write_bio_X509(b, y);
        char *p;
        long n = BIO_get_mem_data(b, &p);
        char *s = strndup(p, (size_t) n);
        BIO_free(b);
        return s;
}

/* Two roots with the SAME name (a CA rotation that keeps the name), an intermediate of B and
 * a leaf of it. */
static EVP_PKEY *ka, *kb, *ki, *kl;
static X509 *ra, *rb, *inter, *leaf;

static void pki(void) {
        ka = EVP_EC_gen("P-256");
        kb = EVP_EC_gen("P-256");
        ki = EVP_EC_gen("P-256");
        kl = EVP_EC_gen("P-256");
        ra = mk("root", true, ka, NULL, NULL);
        rb = mk("root", true, kb, NULL, NULL);
        inter = mk("inter", true, ki, rb, kb);
        leaf = mk("kafka", false, kl, inter, ki);
}

static void pki_free(void) {
        X509_free(ra);
        X509_free(rb);
        X509_free(inter);
        X509_free(leaf);
        EVP_PKEY_free(ka);
        EVP_PKEY_free(kb);
        EVP_PKEY_free(ki);
        EVP_PKEY_free(kl);
}

START_TEST(sha256_is_lower_case_hex) {
        char fp[CAROT_FP_LEN];
        tlsca_sha256_hex("abc", 3, fp);
        ck_assert_str_eq(fp, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        unsigned char *der = NULL;
        int n = i2d_X509(ra, &der);
        char want[CAROT_FP_LEN];
        tlsca_sha256_hex(der, (size_t) n, want);
        OPENSSL_free(der);
        tlsca_fingerprint(ra, fp);
        ck_assert_str_eq(fp, want);
}
END_TEST

START_TEST(a_bundle_adds_each_ca_once_and_names_them) {
        char *both = pem_of(ra, rb);
        STACK_OF(X509) *pool = sk_X509_new_null();
        struct carot_set s = { 0 };
        ck_assert_int_eq(tlsca_add_pem(both, strlen(both), pool, &s), 0);
        ck_assert_int_eq(tlsca_add_pem(both, strlen(both), pool, NULL), 0);
        ck_assert_int_eq(sk_X509_num(pool), 2);
        ck_assert_uint_eq(s.n, 2);
        char fa[CAROT_FP_LEN], fb[CAROT_FP_LEN];
        tlsca_fingerprint(ra, fa);
        tlsca_fingerprint(rb, fb);
        ck_assert_str_eq(s.fp[0], fa);
        ck_assert_str_eq(s.fp[1], fb);
        ck_assert_int_eq(tlsca_add_pem("not pem", 7, pool, &s), -EINVAL);
        sk_X509_pop_free(pool, X509_free);
        free(both);
}
END_TEST

START_TEST(a_chain_leads_to_the_ca_that_signed_it_not_one_of_the_same_name) {
        STACK_OF(X509) *pool = sk_X509_new_null(), *chain = sk_X509_new_null();
        sk_X509_push(pool, X509_dup(ra));
        sk_X509_push(pool, X509_dup(rb));
        sk_X509_push(chain, leaf);
        char fp[CAROT_FP_LEN] = "", fb[CAROT_FP_LEN];
        /* The leaf alone: its issuer (the intermediate) is no CA of the pool. */
        ck_assert(!tlsca_anchor(chain, pool, fp));
        sk_X509_push(chain, inter);
        ck_assert(tlsca_anchor(chain, pool, fp));
        tlsca_fingerprint(rb, fb);
        ck_assert_str_eq(fp, fb);
        /* Only A in the pool: same name, wrong key: none. */
        STACK_OF(X509) *only_a = sk_X509_new_null();
        sk_X509_push(only_a, ra);
        ck_assert(!tlsca_anchor(chain, only_a, fp));
        ck_assert(!tlsca_anchor(NULL, pool, fp));
        sk_X509_free(only_a);
        sk_X509_free(chain);
        sk_X509_pop_free(pool, X509_free);
}
END_TEST

START_TEST(the_stores_hold_exactly_the_cas_asked_for) {
        STACK_OF(X509) *pool = sk_X509_new_null();
        sk_X509_push(pool, X509_dup(ra));
        sk_X509_push(pool, X509_dup(rb));
        struct carot_set want = { 0 };
        char fb[CAROT_FP_LEN];
        tlsca_fingerprint(rb, fb);
        ck_assert_int_eq(carot_set_add(&want, fb), 0);
        unsigned char *ts = NULL;
        size_t ts_len = 0, pem_len = 0;
        char *pem = NULL;
        ck_assert_int_eq(tlsca_stores(pool, &want, "changeit", &ts, &ts_len, &pem, &pem_len), 0);
        /* ca.pem: B alone. */
        char *only_b = pem_of(rb, NULL);
        ck_assert_str_eq(pem, only_b);
        ck_assert_uint_eq(pem_len, strlen(only_b));
        /* The trust store opens with the password and trusts B alone. */
        struct tls_p12_content c = { 0 };
        ck_assert_int_eq(tls_p12_read(ts, ts_len, "changeit", &c), 0);
        ck_assert_int_eq(sk_X509_num(c.certs), 1);
        ck_assert_int_eq(X509_cmp(sk_X509_value(c.certs, 0), rb), 0);
        ck_assert(c.cert_trusted[0]);
        tls_p12_content_free(&c);
        free(ts);
        free(pem);
        free(only_b);
        /* A CA the pool lacks. */
        struct carot_set other = { 0 };
        ck_assert_int_eq(carot_set_add(&other, "0000000000000000000000000000000000000000000000000000000000000000"), 0);
        ck_assert_int_eq(tlsca_stores(pool, &other, "changeit", &ts, &ts_len, &pem, &pem_len), -ENOENT);
        sk_X509_pop_free(pool, X509_free);
}
END_TEST

int main(void) {
        Suite *s = suite_create("tlsca");
        TCase *tc = tcase_create("ca");
        tcase_add_unchecked_fixture(tc, pki, pki_free);
        tcase_add_test(tc, sha256_is_lower_case_hex);
        tcase_add_test(tc, a_bundle_adds_each_ca_once_and_names_them);
        tcase_add_test(tc, a_chain_leads_to_the_ca_that_signed_it_not_one_of_the_same_name);
        tcase_add_test(tc, the_stores_hold_exactly_the_cas_asked_for);
        suite_add_tcase(s, tc);
        return tu_run_suite(s);
}
