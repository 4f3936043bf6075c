/* Suite for PKCS12 client key stores (agent/keystore.c) and their use by the broker check
 * (agent/kafka.c): the agent reads the store itself and hands librdkafka the certificate and
 * key in memory, because librdkafka 2.0.2 leaks at every client made from
 * ssl.keystore.location. The checks run against librdkafka's mock cluster behind a TLS proxy
 * thread that requires a client certificate and records which one it was shown. Certificates
 * are made with the openssl CLI. */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include "kpa/demo.h"
#include "kpa/kafka.h"
#include "kpa/keystore.h"
#include "kpa/log.h"
#include "kpa/parse.h"
#include "testutil.h"

#if defined(__SANITIZE_ADDRESS__)
#define HAVE_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_LSAN 1
#endif
#endif
#ifdef HAVE_LSAN
#include <sanitizer/lsan_interface.h>
#endif

/* ---- what OpenSSL holds ----------------------------------------------------------------- */

/* Bytes OpenSSL has allocated and not freed, in this process: the leak was OpenSSL objects
 * (an X509 and an EVP_PKEY per client), so this counts it exactly in any build. main()
 * installs the counting functions before OpenSSL allocates anything. */
static atomic_llong openssl_live;

#define HDR 16  /* keeps malloc's alignment */

static void *count_malloc(size_t n, const char *file, int line) {
        (void) file;
        (void) line;
        unsigned char *p = malloc(n + HDR);
        if (!p)
                return NULL;
        memcpy(p, &n, sizeof n);
        atomic_fetch_add(&openssl_live, (long long) n);
        return p + HDR;
}

static void count_free(void *q, const char *file, int line) {
        (void) file;
        (void) line;
        if (!q)
                return;
        unsigned char *p = (unsigned char *) q - HDR;
        size_t n;
        memcpy(&n, p, sizeof n);
        atomic_fetch_sub(&openssl_live, (long long) n);
        free(p);
}

static void *count_realloc(void *q, size_t n, const char *file, int line) {
        if (!q)
                return count_malloc(n, file, line);
        if (n == 0) {
                count_free(q, file, line);
                return NULL;
        }
        unsigned char *p = (unsigned char *) q - HDR;
        size_t old;
        memcpy(&old, p, sizeof old);
        unsigned char *np = realloc(p, n + HDR);
        if (!np)
                return NULL;
        memcpy(np, &n, sizeof n);
        atomic_fetch_add(&openssl_live, (long long) n - (long long) old);
        return np + HDR;
}

/* ---- certificates ---------------------------------------------------------------------- */

static char *certs;

static char *cpath(const char *name) {
        static char buf[8][512];
        static int next;
        char *b = buf[next++ % 8];
        snprintf(b, sizeof buf[0], "%s/%s", certs, name);
        return b;
}

static void openssl(char *const argv[]) {
        char *err = NULL;
        int rc = tu_run(argv, NULL, NULL, &err);
        if (rc != 0) {
                fprintf(stderr, "openssl failed (%d): %s\n", rc, err);
                abort();
        }
        free(err);
}

/* name.crt signed by the CA ca, with the extensions of ext and the serial; key type "ec" or
 * "rsa". */
static void leaf(const char *name, const char *ca, const char *ext, const char *serial,
                 const char *type) {
        char key[64], csr[64], crt[64], cak[64], cac[64];
        snprintf(key, sizeof key, "%s.key", name);
        snprintf(csr, sizeof csr, "%s.csr", name);
        snprintf(crt, sizeof crt, "%s.crt", name);
        snprintf(cak, sizeof cak, "%s.key", ca);
        snprintf(cac, sizeof cac, "%s.crt", ca);
        bool rsa = strcmp(type, "rsa") == 0;
        openssl((char *const[]){ "/usr/bin/openssl", "req", "-new", "-newkey", rsa ? "rsa" : "ec", "-pkeyopt",
                                 rsa ? "rsa_keygen_bits:2048" : "ec_paramgen_curve:P-256", "-nodes",
                                 "-keyout", cpath(key), "-out", cpath(csr), "-subj", "/CN=kpa-agent", NULL });
        openssl((char *const[]){ "/usr/bin/openssl", "x509", "-req", "-in", cpath(csr), "-CA", cpath(cac),
                                 "-CAkey", cpath(cak), "-set_serial", (char *) serial, "-out", cpath(crt),
                                 "-days", "2", "-extfile", cpath(ext), NULL });
}

/* name.p12: name's key and certificate, then the CA, under password "storepw". */
static void store(const char *name) {
        char key[64], crt[64], p12[64];
        snprintf(key, sizeof key, "%s.key", name);
        snprintf(crt, sizeof crt, "%s.crt", name);
        snprintf(p12, sizeof p12, "%s.p12", name);
        openssl((char *const[]){ "/usr/bin/openssl", "pkcs12", "-export", "-inkey", cpath(key), "-in", cpath(crt),
                                 "-certfile", cpath("ca.crt"), "-out", cpath(p12), "-passout", "pass:storepw",
                                 NULL });
}

/* A CA; a server certificate for 127.0.0.1; client certificates with serials 10 (EC key) and
 * 11 (RSA key), each in a store of its own (a.p12, b.p12). */
static void make_certs(void) {
        certs = tu_mkdtemp();
        openssl((char *const[]){ "/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                                 "ec_paramgen_curve:P-256", "-nodes", "-keyout", cpath("ca.key"), "-out",
                                 cpath("ca.crt"), "-days", "2", "-subj", "/CN=kpa-test-ca", NULL });
        tu_write(certs, "server.cnf", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
        tu_write(certs, "client.cnf", "extendedKeyUsage=clientAuth\n");
        leaf("server", "ca", "server.cnf", "1", "ec");
        leaf("a", "ca", "client.cnf", "10", "ec");
        leaf("b", "ca", "client.cnf", "11", "rsa");
        store("a");
        store("b");
}

static void remove_certs(void) {
        tu_rmtree(certs);
        free(certs);
        certs = NULL;
}

/* Copies the file from to the new file to (written beside it, then renamed over it: a new
 * inode, as a Secret volume's update gives). */
static void replace_file(const char *from, const char *to) {
        FILE *f = fopen(cpath("next.tmp"), "wb");
        ck_assert_ptr_nonnull(f);
        /* PKCS12 files hold NULs: copy by size, not as a string. */
        FILE *in = fopen(cpath(from), "rb");
        char buf[8192];
        size_t n;
        while ((n = fread(buf, 1, sizeof buf, in)) > 0)
                ck_assert_uint_eq(fwrite(buf, 1, n, f), n);
        fclose(in);
        ck_assert_int_eq(fclose(f), 0);
        ck_assert_int_eq(rename(cpath("next.tmp"), cpath(to)), 0);
}

/* ---- the key store itself -------------------------------------------------------------- */

static long serial_of(X509 *x) { return ASN1_INTEGER_get(X509_get0_serialNumber(x)); }

START_TEST(keystore_reads_the_certificate_key_and_chain_of_a_store) {
        struct keystore *ks = NULL;
        char err[300] = "";
        ck_assert_msg(keystore_read(cpath("a.p12"), "storepw", &ks, err, sizeof err) == 0, "%s", err);
        ck_assert_int_eq(serial_of(keystore_cert(ks)), 10);
        ck_assert_int_eq(X509_check_private_key(keystore_cert(ks), keystore_key(ks)), 1);
        ck_assert_int_eq(keystore_chain_len(ks), 1);
        char cn[64];
        X509_NAME_get_text_by_NID(X509_get_subject_name(keystore_chain_at(ks, 0)), NID_commonName,
                                  cn, sizeof cn);
        ck_assert_str_eq(cn, "kpa-test-ca");
        ck_assert(!keystore_changed(ks));
        keystore_free(ks);
}
END_TEST

START_TEST(keystore_der_encodes_what_librdkafka_reads_back) {
        const char *names[] = { "a.p12", "b.p12" };   /* an EC key, an RSA key */
        for (int i = 0; i < 2; i++) {
                struct keystore *ks = NULL;
                char err[300] = "";
                ck_assert_msg(keystore_read(cpath(names[i]), "storepw", &ks, err, sizeof err) == 0, "%s", err);
                unsigned char *cert = NULL, *key = NULL;
                size_t clen = 0, klen = 0;
                ck_assert_int_eq(keystore_der(ks, &cert, &clen, &key, &klen), 0);
                const unsigned char *p = cert;
                X509 *x = d2i_X509(NULL, &p, (long) clen);
                ck_assert_ptr_nonnull(x);
                ck_assert_ptr_eq(p, cert + clen);
                ck_assert_int_eq(X509_cmp(x, keystore_cert(ks)), 0);
                p = key;
                EVP_PKEY *k = d2i_AutoPrivateKey(NULL, &p, (long) klen);
                ck_assert_ptr_nonnull(k);
                ck_assert_ptr_eq(p, key + klen);
                ck_assert_int_eq(EVP_PKEY_eq(k, keystore_key(ks)), 1);
                /* librdkafka takes exactly these encodings. */
                rd_kafka_conf_t *rc = rd_kafka_conf_new();
                char es[512];
                ck_assert_int_eq(rd_kafka_conf_set_ssl_cert(rc, RD_KAFKA_CERT_PUBLIC_KEY, RD_KAFKA_CERT_ENC_DER,
                                                            cert, clen, es, sizeof es), RD_KAFKA_CONF_OK);
                ck_assert_int_eq(rd_kafka_conf_set_ssl_cert(rc, RD_KAFKA_CERT_PRIVATE_KEY, RD_KAFKA_CERT_ENC_DER,
                                                            key, klen, es, sizeof es), RD_KAFKA_CONF_OK);
                rd_kafka_conf_destroy(rc);
                EVP_PKEY_free(k);
                X509_free(x);
                free(cert);
                free(key);
                keystore_free(ks);
        }
}
END_TEST

START_TEST(keystore_refusals_name_the_cause_never_the_password) {
        struct keystore *ks = (struct keystore *) 0x1;
        char err[300] = "";
        ck_assert_int_eq(keystore_read(cpath("a.p12"), "hunter2-wrong", &ks, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "not a PKCS12 store that opens with ssl.keystore.password (mac verify failure)");
        ck_assert_ptr_eq(ks, (struct keystore *) 0x1);
        /* Not a store at all: a PEM certificate. */
        ck_assert_int_eq(keystore_read(cpath("a.crt"), "storepw", &ks, err, sizeof err), -EINVAL);
        ck_assert_msg(strncmp(err, "not a PKCS12 store that opens with ssl.keystore.password (", 58) == 0,
                      "%s", err);
        ck_assert_int_eq(keystore_read(cpath("missing.p12"), "storepw", &ks, err, sizeof err), -ENOENT);
        ck_assert_str_eq(err, "cannot be read: No such file or directory");
        ck_assert_int_eq(keystore_read(certs, "storepw", &ks, err, sizeof err), -EISDIR);
        ck_assert_str_eq(err, "cannot be read: Is a directory");
        ck_assert_ptr_eq(ks, (struct keystore *) 0x1);
        /* A certificates-only store (a trust store) has no client certificate. */
        openssl((char *const[]){ "/usr/bin/openssl", "pkcs12", "-export", "-nokeys", "-in", cpath("ca.crt"),
                                 "-out", cpath("trust.p12"), "-passout", "pass:storepw", NULL });
        ck_assert_int_eq(keystore_read(cpath("trust.p12"), "storepw", &ks, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "not a PKCS12 store that opens with ssl.keystore.password (no key or certificate)");
}
END_TEST

START_TEST(keystore_sees_its_file_replaced_or_rewritten) {
        replace_file("a.p12", "client.p12");
        struct keystore *ks = NULL;
        char err[300] = "";
        ck_assert_msg(keystore_read(cpath("client.p12"), "storepw", &ks, err, sizeof err) == 0, "%s", err);
        ck_assert(!keystore_changed(ks));
        ck_assert(!keystore_changed(ks));
        /* Renamed over (a Secret volume's update): another inode. */
        replace_file("b.p12", "client.p12");
        ck_assert(keystore_changed(ks));
        keystore_free(ks);
        ck_assert_int_eq(keystore_read(cpath("client.p12"), "storepw", &ks, err, sizeof err), 0);
        ck_assert_int_eq(serial_of(keystore_cert(ks)), 11);
        ck_assert(!keystore_changed(ks));
        /* Rewritten in place with the same bytes: same inode and size, a new change time. */
        FILE *in = fopen(cpath("client.p12"), "rb");
        char buf[16384];
        size_t n = fread(buf, 1, sizeof buf, in);
        fclose(in);
        ck_assert_uint_lt(n, sizeof buf);
        struct timespec before;
        clock_gettime(CLOCK_REALTIME, &before);
        /* The file system's clock must move past the read's time stamp: wait for the next
         * coarse clock tick rather than sleep a guessed time. */
        struct timespec now;
        do
                clock_gettime(CLOCK_REALTIME_COARSE, &now);
        while (now.tv_sec == before.tv_sec && now.tv_nsec <= before.tv_nsec);
        FILE *out = fopen(cpath("client.p12"), "r+b");
        ck_assert_uint_eq(fwrite(buf, 1, n, out), n);
        ck_assert_int_eq(fclose(out), 0);
        ck_assert(keystore_changed(ks));
        /* Gone. */
        keystore_free(ks);
        ck_assert_int_eq(keystore_read(cpath("client.p12"), "storepw", &ks, err, sizeof err), 0);
        ck_assert_int_eq(unlink(cpath("client.p12")), 0);
        ck_assert(keystore_changed(ks));
        keystore_free(ks);
}
END_TEST

/* ---- a TLS listener requiring a client certificate, in front of the mock cluster ------ */

struct tlsproxy {
        int lfd, port;
        int upstream_port;          /* the mock broker's plaintext listener */
        SSL_CTX *ctx;
        pthread_t thread;
        pthread_mutex_t lock;
        pthread_cond_t done_cond;   /* signalled when a connection is finished with */
        int done;                   /* connections finished with (closed, SSL freed) */
        int cfd, ufd;               /* the connection being relayed, or -1 */
        bool stopping;
        atomic_int handshakes;      /* completed, a verified client certificate shown */
        atomic_int refused;         /* handshakes that failed */
        atomic_long last_serial;    /* of the last client certificate verified */
};

static int write_all(int fd, const char *p, size_t n) {
        while (n > 0) {
                ssize_t k = write(fd, p, n);
                if (k < 0 && errno == EINTR)
                        continue;
                if (k <= 0)
                        return -1;
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

/* Relays bytes between the TLS client and the mock broker until either side closes. */
static void relay(SSL *ssl, int cfd, int ufd) {
        char buf[16384];
        for (;;) {
                bool from_client = SSL_pending(ssl) > 0;
                if (!from_client) {
                        struct pollfd p[2] = { { cfd, POLLIN, 0 }, { ufd, POLLIN, 0 } };
                        if (poll(p, 2, -1) < 0) {
                                if (errno == EINTR)
                                        continue;
                                return;
                        }
                        if (p[1].revents) {
                                ssize_t n = read(ufd, buf, sizeof buf);
                                if (n <= 0 || SSL_write(ssl, buf, (int) n) <= 0)
                                        return;
                        }
                        from_client = p[0].revents != 0;
                }
                if (from_client) {
                        int n = SSL_read(ssl, buf, sizeof buf);
                        if (n <= 0) {
                                if (SSL_get_error(ssl, n) == SSL_ERROR_WANT_READ)
                                        continue;
                                return;
                        }
                        if (write_all(ufd, buf, (size_t) n) < 0)
                                return;
                }
        }
}

static int connect_upstream(int port) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        if (fd >= 0 && connect(fd, (struct sockaddr *) &a, sizeof a) == 0)
                return fd;
        if (fd >= 0)
                close(fd);
        return -1;
}

static void *proxy_run(void *arg) {
        struct tlsproxy *p = arg;
        for (;;) {
                int cfd = accept4(p->lfd, NULL, NULL, SOCK_CLOEXEC);
                if (cfd < 0) {
                        if (errno == EINTR || errno == ECONNABORTED)
                                continue;
                        return NULL;    /* shut down */
                }
                int ufd = connect_upstream(p->upstream_port);
                pthread_mutex_lock(&p->lock);
                p->cfd = cfd;
                p->ufd = ufd;
                bool stop = p->stopping;
                pthread_mutex_unlock(&p->lock);
                SSL *ssl = SSL_new(p->ctx);
                SSL_set_fd(ssl, cfd);
                if (!stop && ufd >= 0 && SSL_accept(ssl) == 1) {
                        X509 *c = SSL_get1_peer_certificate(ssl);
                        atomic_store(&p->last_serial, c ? serial_of(c) : -1);
                        X509_free(c);
                        atomic_fetch_add(&p->handshakes, 1);
                        relay(ssl, cfd, ufd);
                } else {
                        atomic_fetch_add(&p->refused, 1);
                }
                SSL_free(ssl);
                ERR_clear_error();
                close(cfd);
                if (ufd >= 0)
                        close(ufd);
                pthread_mutex_lock(&p->lock);
                p->cfd = p->ufd = -1;
                p->done++;
                pthread_cond_broadcast(&p->done_cond);
                pthread_mutex_unlock(&p->lock);
        }
}

static void proxy_start(struct tlsproxy *p, int upstream_port) {
        *p = (struct tlsproxy){ .upstream_port = upstream_port, .cfd = -1, .ufd = -1 };
        pthread_mutex_init(&p->lock, NULL);
        pthread_cond_init(&p->done_cond, NULL);
        p->ctx = SSL_CTX_new(TLS_server_method());
        ck_assert_ptr_nonnull(p->ctx);
        ck_assert_int_eq(SSL_CTX_use_certificate_file(p->ctx, cpath("server.crt"), SSL_FILETYPE_PEM), 1);
        ck_assert_int_eq(SSL_CTX_use_PrivateKey_file(p->ctx, cpath("server.key"), SSL_FILETYPE_PEM), 1);
        ck_assert_int_eq(SSL_CTX_load_verify_locations(p->ctx, cpath("ca.crt"), NULL), 1);
        SSL_CTX_set_verify(p->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        /* Return from SSL_read after a record that carries no data, so that relay() goes back
         * to poll() instead of blocking inside OpenSSL. */
        SSL_CTX_clear_mode(p->ctx, SSL_MODE_AUTO_RETRY);
        /* Nothing kept between connections: what OpenSSL holds stays the same. */
        SSL_CTX_set_session_cache_mode(p->ctx, SSL_SESS_CACHE_OFF);
        SSL_CTX_set_options(p->ctx, SSL_OP_NO_TICKET);
        p->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        ck_assert_int_eq(bind(p->lfd, (struct sockaddr *) &a, sizeof a), 0);
        ck_assert_int_eq(listen(p->lfd, 16), 0);
        socklen_t al = sizeof a;
        getsockname(p->lfd, (struct sockaddr *) &a, &al);
        p->port = ntohs(a.sin_port);
        ck_assert_int_eq(pthread_create(&p->thread, NULL, proxy_run, p), 0);
}

static void proxy_stop(struct tlsproxy *p) {
        pthread_mutex_lock(&p->lock);
        p->stopping = true;
        /* Wakes accept() (Linux returns EINVAL on a shut-down listener) and a relay. */
        shutdown(p->lfd, SHUT_RDWR);
        if (p->cfd >= 0)
                shutdown(p->cfd, SHUT_RDWR);
        if (p->ufd >= 0)
                shutdown(p->ufd, SHUT_RDWR);
        pthread_mutex_unlock(&p->lock);
        pthread_join(p->thread, NULL);
        close(p->lfd);
        SSL_CTX_free(p->ctx);
        pthread_cond_destroy(&p->done_cond);
        pthread_mutex_destroy(&p->lock);
}

/* Waits (10 s at most) until the proxy has finished with every connection it accepted
 * (librdkafka has closed them all when its handle is destroyed). */
static void proxy_wait_idle(struct tlsproxy *p) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 10;
        pthread_mutex_lock(&p->lock);
        int e = 0;
        while (p->done < atomic_load(&p->handshakes) + atomic_load(&p->refused) && e == 0)
                e = pthread_cond_timedwait(&p->done_cond, &p->lock, &until);
        pthread_mutex_unlock(&p->lock);
        ck_assert_msg(e == 0, "the proxy still holds a connection after 10 s");
}

/* ---- broker checks with a key store --------------------------------------------------- */

static struct demo *demo;
static struct tlsproxy proxy;

static void tls_setup(void) {
        char eb[512];
        /* Each test starts without a store (tests share the certificate folder). */
        unlink(cpath("client.p12"));
        log_setup("check_keystore", LOG_LEVEL_WARN);
        ck_assert_msg(demo_start(&(struct demo_opts){ 0 }, &demo, eb, sizeof eb) == 0, "%s", eb);
        const char *bs = demo_broker_address(demo, 1);
        char host[PARSE_HOST_MAX];
        uint16_t port;
        ck_assert_int_eq(parse_hostport(bs, 0, host, sizeof host, &port), 0);
        proxy_start(&proxy, (int) port);
}

static void tls_teardown(void) {
        proxy_stop(&proxy);
        demo = demo_stop(demo);
}

/* A client of the proxy: TLS with the test CA, and the key store at client.p12 when
 * with_store (password given, or none); the check's timeout. min.insync.replicas is fixed: the mock cluster has no
 * DescribeConfigs. The local node id is unknown: the proxy's port is no broker's address. */
static struct kafka_client *tls_client(bool with_store, const char *password, uint64_t timeout_ms) {
        char props[2048], eb[512];
        int n = snprintf(props, sizeof props, "security.protocol=SSL\nssl.ca.location=%s\n", cpath("ca.crt"));
        if (with_store)
                n += snprintf(props + n, sizeof props - (size_t) n, "ssl.keystore.location=%s\n",
                              cpath("client.p12"));
        if (password)
                snprintf(props + n, sizeof props - (size_t) n, "ssl.keystore.password=%s\n", password);
        tu_write(certs, "client.properties", props);
        char bs[64];
        snprintf(bs, sizeof bs, "127.0.0.1:%d", proxy.port);
        struct kafka_conf *c = NULL;
        struct kafka_client *kc = NULL;
        ck_assert_msg(kafka_conf_load(cpath("client.properties"), bs, &c, eb, sizeof eb) == 0, "%s", eb);
        ck_assert_int_eq(kafka_client_new(c, &(struct kafka_client_opts){ .timeout_ms = timeout_ms, .local_id = -1,
                                                                         .fixed_min_isr = 2 },
                                          &kc, eb, sizeof eb), 0);
        return kc;
}

/* One check that must succeed; returns the serial of the certificate the proxy was shown. */
static long check_ok(struct kafka_client *kc) {
        int before = atomic_load(&proxy.handshakes);
        struct kafka_result r;
        kafka_check(kc, false, &r);
        ck_assert_msg(r.rc == 0, "check failed: %s", r.error);
        ck_assert_int_eq(r.snap->n_brokers, 3);
        snapshot_free(r.snap);
        ck_assert_int_eq(atomic_load(&proxy.handshakes), before + 1);
        return atomic_load(&proxy.last_serial);
}

START_TEST(tls_check_presents_the_stores_certificate_to_a_listener_requiring_one) {
        replace_file("a.p12", "client.p12");
        struct kafka_client *kc = tls_client(true, "storepw", 10000);
        ck_assert_int_eq(check_ok(kc), 10);
        ck_assert_int_eq(check_ok(kc), 10);
        ck_assert_int_eq(atomic_load(&proxy.refused), 0);
        kafka_client_free(kc);
        /* The listener does require it: without a store the handshake is refused (and the
         * check fails at its deadline, librdkafka retrying). */
        kc = tls_client(false, NULL, 1000);
        struct kafka_result r;
        kafka_check(kc, false, &r);
        ck_assert_int_ne(r.rc, 0);
        ck_assert_ptr_null(r.snap);
        ck_assert_int_ge(atomic_load(&proxy.refused), 1);
        ck_assert_int_eq(atomic_load(&proxy.handshakes), 2);
        kafka_client_free(kc);
}
END_TEST

START_TEST(tls_check_presents_a_rotated_store_from_the_next_check) {
        replace_file("a.p12", "client.p12");
        struct kafka_client *kc = tls_client(true, "storepw", 10000);
        ck_assert_int_eq(check_ok(kc), 10);
        /* The Secret is updated: a new file (and an RSA key) under the same name. */
        replace_file("b.p12", "client.p12");
        ck_assert_int_eq(check_ok(kc), 11);
        ck_assert_int_eq(check_ok(kc), 11);
        replace_file("a.p12", "client.p12");
        ck_assert_int_eq(check_ok(kc), 10);
        kafka_client_free(kc);
}
END_TEST

START_TEST(tls_check_names_a_store_it_cannot_open_then_recovers) {
        struct kafka_client *kc = tls_client(true, "storepw", 10000);
        struct kafka_result r;
        kafka_check(kc, false, &r);
        ck_assert_int_eq(r.rc, -EINVAL);
        ck_assert_ptr_null(r.snap);
        ck_assert_str_eq(r.error, "cannot create the Kafka client: ssl.keystore.location: cannot be read: "
                                  "No such file or directory");
        /* No client was made. */
        ck_assert_int_eq(atomic_load(&proxy.handshakes) + atomic_load(&proxy.refused), 0);
        /* The store appears (a Secret mounted late): the next check reads it. */
        replace_file("a.p12", "client.p12");
        ck_assert_int_eq(check_ok(kc), 10);
        kafka_client_free(kc);

        kc = tls_client(true, "Wr0ng-Passw0rd", 10000);
        kafka_check(kc, false, &r);
        ck_assert_int_eq(r.rc, -EINVAL);
        ck_assert_str_eq(r.error, "cannot create the Kafka client: ssl.keystore.location: not a PKCS12 store "
                                  "that opens with ssl.keystore.password (mac verify failure)");
        kafka_client_free(kc);
}
END_TEST

START_TEST(a_store_is_not_read_without_tls) {
        /* librdkafka sets up no TLS for a plaintext protocol and so reads no store: neither
         * does the agent. */
        tu_write(certs, "plain.properties", "security.protocol=plaintext\n"
                                            "ssl.keystore.location=/nonexistent/client.p12\n"
                                            "ssl.keystore.password=storepw\n");
        char eb[512];
        struct kafka_conf *c = NULL;
        struct kafka_client *kc = NULL;
        ck_assert_msg(kafka_conf_load(cpath("plain.properties"), demo_broker_address(demo, 1), &c, eb, sizeof eb) == 0,
                      "%s", eb);
        ck_assert_int_eq(kafka_client_new(c, &(struct kafka_client_opts){ .timeout_ms = 10000, .local_id = 1,
                                                                         .fixed_min_isr = 2 },
                                          &kc, eb, sizeof eb), 0);
        struct kafka_result r;
        kafka_check(kc, false, &r);
        ck_assert_msg(r.rc == 0, "check failed: %s", r.error);
        ck_assert_int_eq(r.snap->answered_by, 1);
        snapshot_free(r.snap);
        kafka_client_free(kc);
}
END_TEST

/* The regression: librdkafka 2.0.2 leaked about 1 KB at every client made with
 * ssl.keystore.location (an X509 and an EVP_PKEY, see agent/kafka.c), and the agent makes one
 * per check. What OpenSSL holds must not grow with the number of checks; under LeakSanitizer
 * (the sanitizer build) no leak of any kind may be found either. */
START_TEST(checks_with_a_key_store_leak_nothing) {
        replace_file("a.p12", "client.p12");
        struct kafka_client *kc = tls_client(true, "storepw", 10000);
        /* Warm up: one-time set-up of OpenSSL (its method caches), librdkafka and the proxy. */
        for (int i = 0; i < 5; i++)
                ck_assert_int_eq(check_ok(kc), 10);
        /* The proxy's own connection state is OpenSSL's too: count with none open. */
        proxy_wait_idle(&proxy);
        long long before = atomic_load(&openssl_live);
        for (int i = 0; i < 40; i++)
                ck_assert_int_eq(check_ok(kc), 10);
        /* Every handle is destroyed when its check returns (none left stopping). */
        ck_assert_int_eq(kafka_stopping_handles(), 0);
        proxy_wait_idle(&proxy);
        long long grown = atomic_load(&openssl_live) - before;
        /* The leak was 40 KB here. */
        ck_assert_msg(grown < 4096, "OpenSSL holds %lld bytes more after 40 checks", grown);
#ifdef HAVE_LSAN
        ck_assert_msg(__lsan_do_recoverable_leak_check() == 0, "LeakSanitizer found leaks (see above)");
#endif
        kafka_client_free(kc);
}
END_TEST

int main(void) {
        if (CRYPTO_set_mem_functions(count_malloc, count_realloc, count_free) != 1) {
                fprintf(stderr, "OpenSSL allocated before main()\n");
                return 1;
        }
        /* As kpa-agent's main() does: a listener that refuses the handshake closes first, and
         * librdkafka's TLS write to it raises SIGPIPE. */
        signal(SIGPIPE, SIG_IGN);
        Suite *s = suite_create("keystore");
        TCase *tc = tcase_create("keystore");
        tcase_add_unchecked_fixture(tc, make_certs, remove_certs);
        tcase_add_test(tc, keystore_reads_the_certificate_key_and_chain_of_a_store);
        tcase_add_test(tc, keystore_der_encodes_what_librdkafka_reads_back);
        tcase_add_test(tc, keystore_refusals_name_the_cause_never_the_password);
        tcase_add_test(tc, keystore_sees_its_file_replaced_or_rewritten);
        suite_add_tcase(s, tc);

        tc = tcase_create("check");
        tcase_add_unchecked_fixture(tc, make_certs, remove_certs);
        tcase_add_checked_fixture(tc, tls_setup, tls_teardown);
        tcase_set_timeout(tc, 120);
        tcase_add_test(tc, tls_check_presents_the_stores_certificate_to_a_listener_requiring_one);
        tcase_add_test(tc, tls_check_presents_a_rotated_store_from_the_next_check);
        tcase_add_test(tc, tls_check_names_a_store_it_cannot_open_then_recovers);
        tcase_add_test(tc, a_store_is_not_read_without_tls);
        tcase_add_test(tc, checks_with_a_key_store_leak_nothing);
        suite_add_tcase(s, tc);
        return tu_run_suite(s);
}
