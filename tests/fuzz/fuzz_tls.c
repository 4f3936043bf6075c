/* TLS inputs (common/tls.c, tls_p12.c): the PEM files of KPA_TLS_DIR (tls.crt, tls.key, ca.crt)
 * or KPA_TLS_CA_DIR (ca.crt, ca.key), and PKCS12 stores of an earlier run. This target is
 * linked with -Wl,--wrap=fsx_read_file: every file tls_build reads is served from the input by
 * its name, so nothing on disk is opened. The first byte picks the mode:
 *   0: KPA_TLS_DIR  - tls.crt, tls.key, ca.crt, then up to 3 advertised hosts to cover;
 *   1: KPA_TLS_CA_DIR - ca.crt, ca.key, then DNS names and IP addresses to issue for (EC key);
 *   2: tls_p12_read - a password, then the rest of the input as a PKCS12 file.
 * Strings are read as fz_str (fuzz.h). The clock is fixed, so an input always behaves alike.
 *
 * Invariants:
 * - failure: a negative code with a message that holds neither the store password nor any
 *   line of the private key file;
 * - success: the key store opens with the password and holds one key and its chain, the
 *   trust store opens and holds only trusted certificates, ca.pem is PEM certificates;
 * - tls_p12_read never crashes, leaks or hangs on any bytes. */
#include <errno.h>

#include "fuzz.h"
#include "kpa/tls.h"
#include "kpa/tls_p12.h"

#define NOW ((time_t) 1795711811)     /* 2026-11-26: inside the seed certificates' validity */
#define PASSWORD "fuzz-store-password"

struct fake_file {
        const char *name;
        char *data;
};
static struct fake_file files[4];

int __wrap_fsx_read_file(const char *path, size_t max, char **ret_data, size_t *ret_len);

int __wrap_fsx_read_file(const char *path, size_t max, char **ret_data, size_t *ret_len) {
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        for (size_t i = 0; i < 4; i++) {
                if (!files[i].name || strcmp(files[i].name, base) != 0)
                        continue;
                size_t len = strlen(files[i].data);
                if (len > max)
                        return -EFBIG;
                char *d = fz_alloc(len + 1);
                memcpy(d, files[i].data, len);
                *ret_data = d;
                *ret_len = len;
                return 0;
        }
        return -ENOENT;
}

/* public: the inputs a message may quote (host names); a key line that the fuzzer copied into
 * one of them is no leak. */
static void no_secret_in(const char *err, const char *key_text, char *const *public, size_t npublic) {
        bool pw_quoted = false;
        for (size_t i = 0; i < npublic && !pw_quoted; i++)
                pw_quoted = public[i] && strstr(public[i], PASSWORD);
        FUZZ_CHECK(pw_quoted || !strstr(err, PASSWORD), "password in \"%s\"", err);
        /* Every base64 line of the key file (16 characters or more) stays out of messages. */
        const char *p = key_text;
        while (*p) {
                const char *nl = strchr(p, '\n');
                size_t n = nl ? (size_t) (nl - p) : strlen(p);
                if (n >= 16 && strncmp(p, "-----", 5) != 0) {
                        char *line = strndup(p, n);
                        FUZZ_CHECK(line, "out of memory");
                        bool quoted = false;
                        for (size_t i = 0; i < npublic && !quoted; i++)
                                quoted = public[i] && strstr(public[i], line);
                        FUZZ_CHECK(quoted || !strstr(err, line), "key material in \"%s\"", err);
                        free(line);
                }
                p += n + (nl ? 1 : 0);
        }
}

static void check_result(const struct tls_result *res) {
        struct tls_p12_content ks = { 0 }, ts = { 0 };
        FUZZ_CHECK(tls_p12_read(res->keystore, res->keystore_len, PASSWORD, &ks) == 0, "key store does not open");
        FUZZ_CHECK(ks.n_keys == 1 && ks.key && strcmp(ks.key_alias, TLS_KEY_ALIAS) == 0 &&
                   sk_X509_num(ks.certs) >= 1, "key store: %zu keys, alias \"%s\"", ks.n_keys, ks.key_alias);
        FUZZ_CHECK(tls_p12_read(res->truststore, res->truststore_len, PASSWORD, &ts) == 0, "trust store does not open");
        FUZZ_CHECK(ts.n_keys == 0 && sk_X509_num(ts.certs) >= 1, "trust store holds %zu keys", ts.n_keys);
        for (int i = 0; i < sk_X509_num(ts.certs) && i < TLS_MAX_CERTS; i++)
                FUZZ_CHECK(ts.cert_trusted[i], "trust store entry %d not trusted", i);
        FUZZ_CHECK(res->ca_pem && strncmp(res->ca_pem, "-----BEGIN CERTIFICATE-----", 27) == 0, "ca.pem");
        tls_p12_content_free(&ks);
        tls_p12_content_free(&ts);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct fz f = { data, size };
        int mode = fz_u8(&f) % 3;
        memset(files, 0, sizeof files);
        if (mode == 2) {
                char *pw = fz_str(&f, 64);
                struct tls_p12_content c = { 0 };
                if (tls_p12_read(f.p, f.n, pw, &c) == 0)
                        tls_p12_content_free(&c);
                free(pw);
                return 0;
        }
        char *hosts[3] = { NULL, NULL, NULL }, *ips[2] = { NULL, NULL };
        struct tls_request req = { .password = PASSWORD, .now = NOW, .key_type = "ec" };
        const char *key_text;
        if (mode == 0) {
                files[0] = (struct fake_file){ "tls.crt", fz_str(&f, 16384) };
                files[1] = (struct fake_file){ "tls.key", fz_str(&f, 16384) };
                files[2] = (struct fake_file){ "ca.crt", fz_str(&f, 16384) };
                key_text = files[1].data;
                req.tls_dir = "/fuzz/tls";
                size_t n = (size_t) fz_range(&f, 0, 3);
                for (size_t i = 0; i < n; i++)
                        hosts[i] = fz_str(&f, 80);
                req.must_cover = (const char *const *) hosts;
                req.n_cover = n;
                req.warn_uncovered = fz_bool(&f);
        } else {
                files[0] = (struct fake_file){ "ca.crt", fz_str(&f, 16384) };
                files[1] = (struct fake_file){ "ca.key", fz_str(&f, 16384) };
                key_text = files[1].data;
                req.ca_dir = "/fuzz/ca";
                size_t n = (size_t) fz_range(&f, 0, 3), m = (size_t) fz_range(&f, 0, 2);
                for (size_t i = 0; i < n; i++)
                        hosts[i] = fz_str(&f, 80);
                for (size_t i = 0; i < m; i++)
                        ips[i] = fz_str(&f, 48);
                req.dns_names = (const char *const *) hosts;
                req.n_dns = n;
                req.ip_addrs = (const char *const *) ips;
                req.n_ips = m;
                req.must_cover = (const char *const *) hosts;
                req.n_cover = n;
                req.validity_days = (uint32_t) fz_range(&f, 0, TLS_MAX_VALIDITY_DAYS + 1);
        }
        char *public[5] = { hosts[0], hosts[1], hosts[2], ips[0], ips[1] };
        struct tls_result res = { 0 };
        char err[1024] = "";
        int r = tls_build(&req, &res, err, sizeof err);
        /* To see what a seed reaches: KPA_FUZZ_VERBOSE=1 fuzz_tls seed-file. */
        if (getenv("KPA_FUZZ_VERBOSE"))
                fprintf(stderr, "tls_build: %d %s\n", r, err);
        if (r == 0) {
                check_result(&res);
                for (size_t i = 0; i < res.n_warnings; i++)
                        no_secret_in(res.warnings[i], key_text, public, 5);
                tls_result_free(&res);
        } else {
                FUZZ_CHECK(err[0], "error %d without a message", r);
                no_secret_in(err, key_text, public, 5);
        }
        for (size_t i = 0; i < 4; i++)
                free(files[i].data);
        for (size_t i = 0; i < 3; i++)
                free(hosts[i]);
        for (size_t i = 0; i < 2; i++)
                free(ips[i]);
        return 0;
}
