/* Suite for the transport of the agent's own protocol calls (agent/kconn.c), against a peer
 * thread on loopback that plays a Kafka listener: plaintext, TLS (certificates made with the
 * openssl CLI), mutual TLS from a PKCS12 keystore, and SASL PLAIN; and the ways a peer fails
 * (refusing, silent, closing, oversize frames). Every wait is bounded by the call's deadline,
 * which the tests assert. */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "kpa/kconn.h"
#include "kpa/kwire.h"
#include "kpa/kwire_sasl.h"
#include "kpa/monotime.h"
#include "kpa/resolve.h"
#include "faultdns.h"
#include "testutil.h"

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

static void leaf(const char *name, const char *ca, const char *ext, const char *serial) {
        char key[64], csr[64], crt[64], cak[64], cac[64];
        snprintf(key, sizeof key, "%s.key", name);
        snprintf(csr, sizeof csr, "%s.csr", name);
        snprintf(crt, sizeof crt, "%s.crt", name);
        snprintf(cak, sizeof cak, "%s.key", ca);
        snprintf(cac, sizeof cac, "%s.crt", ca);
        openssl((char *const[]){ "/usr/bin/openssl", "req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                                 "-nodes", "-keyout", cpath(key), "-out", cpath(csr), "-subj", "/CN=kq", NULL });
        openssl((char *const[]){ "/usr/bin/openssl", "x509", "-req", "-in", cpath(csr), "-CA", cpath(cac), "-CAkey",
                                 cpath(cak), "-set_serial", (char *) serial, "-out", cpath(crt), "-days", "2",
                                 "-extfile", cpath(ext), NULL });
}

/* A CA, a server certificate for localhost and 127.0.0.1, one for another name, a client
 * certificate in a PKCS12 store (password "storepw"), and an unrelated CA. */
static void make_certs(void) {
        certs = tu_mkdtemp();
        for (int i = 0; i < 2; i++) {
                const char *ca = i ? "other" : "ca";
                char key[64], crt[64], subj[64];
                snprintf(key, sizeof key, "%s.key", ca);
                snprintf(crt, sizeof crt, "%s.crt", ca);
                snprintf(subj, sizeof subj, "/CN=kq-test-%s", ca);
                openssl((char *const[]){ "/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                                         "ec_paramgen_curve:P-256", "-nodes", "-keyout", cpath(key), "-out",
                                         cpath(crt), "-days", "2", "-subj", subj, NULL });
        }
        tu_write(certs, "server.cnf", "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n");
        tu_write(certs, "wrong.cnf", "subjectAltName=DNS:elsewhere.example\nextendedKeyUsage=serverAuth\n");
        tu_write(certs, "client.cnf", "extendedKeyUsage=clientAuth\n");
        leaf("server", "ca", "server.cnf", "1");
        leaf("wrong", "ca", "wrong.cnf", "2");
        leaf("client", "ca", "client.cnf", "3");
        openssl((char *const[]){ "/usr/bin/openssl", "pkcs12", "-export", "-inkey", cpath("client.key"), "-in",
                                 cpath("client.crt"), "-out", cpath("client.p12"), "-passout", "pass:storepw", NULL });
}

static void remove_certs(void) {
        tu_rmtree(certs);
        free(certs);
        certs = NULL;
}

/* ---- the peer ---- */

enum behaviour {
        PEER_ANSWER,      /* answer each request frame with [correlation id, 0xab] */
        PEER_SILENT,      /* read the request, never answer */
        PEER_CLOSE,       /* read the request, answer half a frame, close */
        PEER_OVERSIZE,    /* answer a frame size of 2^31 - 1 */
        PEER_HANGUP,      /* close right after the (TLS) handshake */
};

struct peer {
        int lfd;
        int port;
        pthread_t thread;
        enum behaviour behaviour;
        bool tls, require_client_cert;
        const char *cert;              /* server certificate name in certs */
        bool sasl;                     /* expect SASL PLAIN kafka/pw first */
        bool sasl_offer_plain;         /* PLAIN among the mechanisms offered */
        bool saw_client_cert;
        char auth_seen[64];            /* the PLAIN message received, NULs as '|' */
};

static int peer_read(SSL *ssl, int fd, uint8_t *p, size_t n) {
        while (n > 0) {
                ssize_t k = ssl ? SSL_read(ssl, p, (int) n) : read(fd, p, n);
                if (k <= 0)
                        return -1;
                p += k;
                n -= (size_t) k;
        }
        return 0;
}

static void peer_write(SSL *ssl, int fd, const uint8_t *p, size_t n) {
        if (ssl)
                SSL_write(ssl, p, (int) n);
        else if (write(fd, p, n) < 0)
                return;
}

/* Reads one request frame into buf; returns its length or -1. */
static int peer_frame(SSL *ssl, int fd, uint8_t *buf, size_t cap) {
        uint8_t sz[4];
        if (peer_read(ssl, fd, sz, 4) < 0)
                return -1;
        size_t n = (size_t) sz[0] << 24 | (size_t) sz[1] << 16 | (size_t) sz[2] << 8 | sz[3];
        if (n > cap || peer_read(ssl, fd, buf, n) < 0)
                return -1;
        return (int) n;
}

static void peer_sasl(struct peer *p, SSL *ssl, int fd) {
        uint8_t buf[4096], out[256];
        int n = peer_frame(ssl, fd, buf, sizeof buf);
        ck_assert_int_gt(n, 8);
        ck_assert_int_eq(buf[1], 17);           /* SaslHandshake */
        struct kwire_w w;
        size_t len;
        kwire_w_init(&w, out, sizeof out);
        kwire_put_i32(&w, 0);
        kwire_put_raw(&w, buf + 4, 4);          /* correlation id */
        kwire_put_i16(&w, p->sasl_offer_plain ? 0 : KWIRE_ERR_UNSUPPORTED_SASL_MECHANISM);
        kwire_put_i32(&w, 1);
        kwire_put_string(&w, p->sasl_offer_plain ? "PLAIN" : "SCRAM-SHA-512");
        kwire_frame_end(&w, &len);
        peer_write(ssl, fd, out, len);
        if (!p->sasl_offer_plain)
                return;
        n = peer_frame(ssl, fd, buf, sizeof buf);
        ck_assert_int_gt(n, 8);
        ck_assert_int_eq(buf[1], 36);           /* SaslAuthenticate */
        /* After the header v2 (api, version, correlation, client id, tags): compact bytes. */
        size_t at = 2 + 2 + 4 + 2 + (size_t) (buf[8] << 8 | buf[9]) + 1;
        size_t alen = buf[at] - 1u;
        size_t k = 0;
        for (size_t i = 0; i < alen && k + 1 < sizeof p->auth_seen; i++)
                p->auth_seen[k++] = buf[at + 1 + i] ? (char) buf[at + 1 + i] : '|';
        p->auth_seen[k] = '\0';
        bool ok = strcmp(p->auth_seen, "|kafka|pw") == 0;
        kwire_w_init(&w, out, sizeof out);
        kwire_put_i32(&w, 0);
        kwire_put_raw(&w, buf + 4, 4);
        kwire_put_no_tags(&w);
        kwire_put_i16(&w, ok ? 0 : KWIRE_ERR_SASL_AUTHENTICATION_FAILED);
        kwire_put_compact_string(&w, ok ? NULL : "Authentication failed: Invalid username or password");
        kwire_put_compact_bytes(&w, "", 0);
        kwire_put_i64(&w, 0);
        kwire_put_no_tags(&w);
        kwire_frame_end(&w, &len);
        peer_write(ssl, fd, out, len);
}

static void *peer_run(void *arg) {
        struct peer *p = arg;
        int fd = accept(p->lfd, NULL, NULL);
        if (fd < 0)
                return NULL;
        SSL_CTX *ctx = NULL;
        SSL *ssl = NULL;
        if (p->tls) {
                char crt[64], key[64];
                snprintf(crt, sizeof crt, "%s.crt", p->cert);
                snprintf(key, sizeof key, "%s.key", p->cert);
                ctx = SSL_CTX_new(TLS_server_method());
                SSL_CTX_use_certificate_file(ctx, cpath(crt), SSL_FILETYPE_PEM);
                SSL_CTX_use_PrivateKey_file(ctx, cpath(key), SSL_FILETYPE_PEM);
                if (p->require_client_cert) {
                        SSL_CTX_load_verify_locations(ctx, cpath("ca.crt"), NULL);
                        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
                }
                ssl = SSL_new(ctx);
                SSL_set_fd(ssl, fd);
                if (SSL_accept(ssl) != 1)
                        goto out;
                X509 *c = SSL_get1_peer_certificate(ssl);
                p->saw_client_cert = c != NULL;
                X509_free(c);
        }
        if (p->behaviour == PEER_HANGUP)
                goto out;
        if (p->sasl)
                peer_sasl(p, ssl, fd);
        uint8_t buf[4096];
        while (peer_frame(ssl, fd, buf, sizeof buf) >= 8) {
                uint8_t out[16] = { 0, 0, 0, 5, buf[4], buf[5], buf[6], buf[7], 0xab };
                if (p->behaviour == PEER_ANSWER) {
                        peer_write(ssl, fd, out, 9);
                } else if (p->behaviour == PEER_SILENT) {
                        /* Hold the connection open until the client gives up. */
                        while (peer_read(ssl, fd, buf, 1) == 0)
                                ;
                        break;
                } else if (p->behaviour == PEER_CLOSE) {
                        peer_write(ssl, fd, out, 6);
                        break;
                } else {
                        uint8_t big[4] = { 0x7f, 0xff, 0xff, 0xff };
                        peer_write(ssl, fd, big, 4);
                }
        }
out:
        if (ssl) {
                SSL_shutdown(ssl);
                SSL_free(ssl);
        }
        SSL_CTX_free(ctx);
        close(fd);
        return NULL;
}

static void peer_start(struct peer *p) {
        p->lfd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        ck_assert_int_eq(bind(p->lfd, (struct sockaddr *) &a, sizeof a), 0);
        ck_assert_int_eq(listen(p->lfd, 4), 0);
        socklen_t al = sizeof a;
        getsockname(p->lfd, (struct sockaddr *) &a, &al);
        p->port = ntohs(a.sin_port);
        ck_assert_int_eq(pthread_create(&p->thread, NULL, peer_run, p), 0);
}

static void peer_join(struct peer *p) {
        pthread_join(p->thread, NULL);
        close(p->lfd);
}

/* One request frame (correlation id from the connection), its answer's bytes returned. */
static int exchange(struct kconn *c, uint64_t deadline, uint8_t **resp, size_t *rlen, char *err, size_t errlen) {
        uint8_t req[64];
        struct kwire_w w;
        size_t len;
        kwire_w_init(&w, req, sizeof req);
        kwire_request_begin(&w, 55, 2, kconn_next_correlation(c), "test", true);
        kwire_frame_end(&w, &len);
        return kconn_exchange(c, req, len, 1024, deadline, resp, rlen, err, errlen);
}

static const struct kconn_security plain = { 0 };

START_TEST(kconn_plaintext_round_trip) {
        struct peer p = { .behaviour = PEER_ANSWER };
        peer_start(&p);
        struct kconn *c;
        char err[512] = "";
        uint8_t *resp;
        size_t rlen;
        ck_assert_int_eq(kconn_open("127.0.0.1", (uint16_t) p.port, &plain, monotime_ms() + 5000, &c, err, sizeof err), 0);
        ck_assert_int_eq(exchange(c, monotime_ms() + 5000, &resp, &rlen, err, sizeof err), 0);
        ck_assert_uint_eq(rlen, 5);
        ck_assert_int_eq(resp[3], 1);           /* the first correlation id */
        ck_assert_int_eq(resp[4], 0xab);
        free(resp);
        ck_assert_int_eq(exchange(c, monotime_ms() + 5000, &resp, &rlen, err, sizeof err), 0);
        ck_assert_int_eq(resp[3], 2);
        free(resp);
        kconn_close(c);
        peer_join(&p);
}
END_TEST

START_TEST(kconn_name_lookup_runs_with_the_deadline) {
        struct peer p = { .behaviour = PEER_ANSWER };
        peer_start(&p);
        struct kconn *c;
        char err[512] = "";
        /* "localhost" is not an address: it goes through the lookup thread. */
        ck_assert_int_eq(kconn_open("localhost", (uint16_t) p.port, &plain, monotime_ms() + 5000, &c, err, sizeof err), 0);
        kconn_close(c);
        peer_join(&p);
}
END_TEST

/* kconn resolves through resolve.h, the agent's one bounded resolver: a DNS server that never
 * answers ends each open at its deadline, and the lookups left hanging count against the
 * same RESOLVE_MAX_PENDING as the broker check's, so that further opens fail at once. */
START_TEST(kconn_lookup_uses_the_agents_bounded_resolver) {
        tu_dns_isolate(0);
        struct kconn *c = NULL;
        char err[512];
        for (int i = 0; i < RESOLVE_MAX_PENDING; i++) {
                uint64_t t0 = monotime_ms();
                ck_assert_int_eq(kconn_open("ctl-0.kq.silent.test", 9093, &plain, t0 + 1000, &c, err,
                                            sizeof err), -ETIMEDOUT);
                uint64_t took = monotime_ms() - t0;
                ck_assert_msg(took >= 900 && took <= 2500, "open %d took %llums", i,
                              (unsigned long long) took);
                ck_assert_msg(strncmp(err, "cannot resolve ctl-0.kq.silent.test: no answer within ",
                                      strlen("cannot resolve ctl-0.kq.silent.test: no answer within ")) == 0,
                              "%s", err);
        }
        ck_assert_int_eq(resolve_pending(), RESOLVE_MAX_PENDING);
        uint64_t t0 = monotime_ms();
        ck_assert_int_eq(kconn_open("ctl-0.kq.silent.test", 9093, &plain, t0 + 1000, &c, err, sizeof err),
                         -EBUSY);
        ck_assert_uint_lt(monotime_ms() - t0, 500);
        ck_assert_str_eq(err, "cannot resolve ctl-0.kq.silent.test: 4 earlier lookups are still "
                         "waiting for an answer");
        ck_assert_ptr_null(c);
}
END_TEST

START_TEST(kconn_refused_connection_says_so_with_a_hint) {
        int port = tu_free_port();
        struct kconn *c = NULL;
        char err[512], want[512];
        ck_assert_int_eq(kconn_open("127.0.0.1", (uint16_t) port, &plain, monotime_ms() + 5000, &c, err, sizeof err),
                         -ECONNREFUSED);
        ck_assert_ptr_null(c);
        snprintf(want, sizeof want, "cannot connect to 127.0.0.1:%d: Connection refused; hint: nothing listens "
                 "there: is the controller running, and is this its controller listener?", port);
        ck_assert_str_eq(err, want);
}
END_TEST

START_TEST(kconn_silent_peer_ends_at_the_deadline) {
        struct peer p = { .behaviour = PEER_SILENT };
        peer_start(&p);
        struct kconn *c;
        char err[512], want[512];
        uint8_t *resp;
        size_t rlen;
        ck_assert_int_eq(kconn_open("127.0.0.1", (uint16_t) p.port, &plain, monotime_ms() + 5000, &c, err, sizeof err), 0);
        uint64_t t0 = monotime_ms();
        ck_assert_int_eq(exchange(c, t0 + 300, &resp, &rlen, err, sizeof err), -ETIMEDOUT);
        uint64_t took = monotime_ms() - t0;
        ck_assert_uint_ge(took, 300);
        ck_assert_uint_lt(took, 3000);
        snprintf(want, sizeof want, "127.0.0.1:%d did not answer (no answer) before the deadline", p.port);
        ck_assert_str_eq(err, want);
        kconn_close(c);
        peer_join(&p);
}
END_TEST

START_TEST(kconn_peer_closing_mid_frame_is_epipe) {
        struct peer p = { .behaviour = PEER_CLOSE };
        peer_start(&p);
        struct kconn *c;
        char err[512];
        uint8_t *resp;
        size_t rlen;
        ck_assert_int_eq(kconn_open("127.0.0.1", (uint16_t) p.port, &plain, monotime_ms() + 5000, &c, err, sizeof err), 0);
        ck_assert_int_eq(exchange(c, monotime_ms() + 5000, &resp, &rlen, err, sizeof err), -EPIPE);
        ck_assert_msg(strstr(err, "closed the connection in the middle of an answer") != NULL, "%s", err);
        kconn_close(c);
        peer_join(&p);
}
END_TEST

START_TEST(kconn_oversize_frame_is_refused_before_allocating) {
        struct peer p = { .behaviour = PEER_OVERSIZE };
        peer_start(&p);
        struct kconn *c;
        char err[512], want[512];
        uint8_t *resp;
        size_t rlen;
        ck_assert_int_eq(kconn_open("127.0.0.1", (uint16_t) p.port, &plain, monotime_ms() + 5000, &c, err, sizeof err), 0);
        ck_assert_int_eq(exchange(c, monotime_ms() + 5000, &resp, &rlen, err, sizeof err), -EPROTO);
        snprintf(want, sizeof want, "127.0.0.1:%d answered a frame of 2147483647 bytes (expected 4 to 1024); "
                 "hint: is this a Kafka listener?", p.port);
        ck_assert_str_eq(err, want);
        kconn_close(c);
        peer_join(&p);
}
END_TEST

START_TEST(kconn_tls_verifies_the_chain_and_the_host_name) {
        struct peer p = { .behaviour = PEER_ANSWER, .tls = true, .cert = "server" };
        peer_start(&p);
        struct kconn_security sec = { .tls = true, .ca_file = cpath("ca.crt") };
        struct kconn *c;
        char err[512] = "";
        uint8_t *resp;
        size_t rlen;
        ck_assert_int_eq(kconn_open("localhost", (uint16_t) p.port, &sec, monotime_ms() + 5000, &c, err, sizeof err), 0);
        ck_assert_int_eq(exchange(c, monotime_ms() + 5000, &resp, &rlen, err, sizeof err), 0);
        ck_assert_int_eq(resp[4], 0xab);
        free(resp);
        kconn_close(c);
        peer_join(&p);

        /* An address is checked against the IP SANs. */
        struct peer q = { .behaviour = PEER_ANSWER, .tls = true, .cert = "server" };
        peer_start(&q);
        ck_assert_int_eq(kconn_open("127.0.0.1", (uint16_t) q.port, &sec, monotime_ms() + 5000, &c, err, sizeof err), 0);
        kconn_close(c);
        peer_join(&q);
}
END_TEST

START_TEST(kconn_tls_refuses_an_unknown_ca_and_a_foreign_name) {
        struct peer p = { .behaviour = PEER_ANSWER, .tls = true, .cert = "server" };
        peer_start(&p);
        struct kconn_security sec = { .tls = true, .ca_file = cpath("other.crt") };
        struct kconn *c = NULL;
        char err[512], want[512];
        ck_assert_int_eq(kconn_open("localhost", (uint16_t) p.port, &sec, monotime_ms() + 5000, &c, err, sizeof err), -EPROTO);
        ck_assert_ptr_null(c);
        snprintf(want, sizeof want, "TLS handshake with localhost:%d failed: certificate verify failed: unable to get "
                 "local issuer certificate; hint: is ssl.ca.location the CA that issued the controller's "
                 "certificate, and does it cover localhost?", p.port);
        ck_assert_str_eq(err, want);
        peer_join(&p);

        struct peer q = { .behaviour = PEER_ANSWER, .tls = true, .cert = "wrong" };
        peer_start(&q);
        sec.ca_file = cpath("ca.crt");
        ck_assert_int_eq(kconn_open("localhost", (uint16_t) q.port, &sec, monotime_ms() + 5000, &c, err, sizeof err), -EPROTO);
        ck_assert_msg(strstr(err, "certificate verify failed: hostname mismatch") != NULL, "%s", err);
        peer_join(&q);

        /* Without the host-name check (ssl.endpoint.identification.algorithm=none) it passes. */
        struct peer r = { .behaviour = PEER_ANSWER, .tls = true, .cert = "wrong" };
        peer_start(&r);
        sec.skip_hostname = true;
        ck_assert_int_eq(kconn_open("localhost", (uint16_t) r.port, &sec, monotime_ms() + 5000, &c, err, sizeof err), 0);
        kconn_close(c);
        peer_join(&r);
}
END_TEST

START_TEST(kconn_mutual_tls_presents_the_pkcs12_client_certificate) {
        struct peer p = { .behaviour = PEER_ANSWER, .tls = true, .cert = "server", .require_client_cert = true };
        peer_start(&p);
        struct kconn_security sec = { .tls = true, .ca_file = cpath("ca.crt"), .keystore_p12 = cpath("client.p12"),
                                      .keystore_password = "storepw" };
        struct kconn *c;
        char err[512] = "";
        uint8_t *resp;
        size_t rlen;
        ck_assert_int_eq(kconn_open("localhost", (uint16_t) p.port, &sec, monotime_ms() + 5000, &c, err, sizeof err), 0);
        /* TLS 1.3 reports a missing client certificate only at the first read. */
        ck_assert_int_eq(exchange(c, monotime_ms() + 5000, &resp, &rlen, err, sizeof err), 0);
        free(resp);
        kconn_close(c);
        peer_join(&p);
        ck_assert(p.saw_client_cert);

        sec.keystore_password = "wrong";
        struct peer q = { .behaviour = PEER_ANSWER, .tls = true, .cert = "server" };
        peer_start(&q);
        ck_assert_int_eq(kconn_open("localhost", (uint16_t) q.port, &sec, monotime_ms() + 5000, &c, err, sizeof err), -EINVAL);
        /* What failed, not where the keystore is, nor its password. */
        const char *want = "ssl.keystore.location: not a PKCS12 store that opens with ssl.keystore.password (";
        ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
        ck_assert_ptr_null(strstr(err, "wrong"));
        ck_assert_ptr_null(strstr(err, certs));
        peer_join(&q);

        /* A PEM key that is not the certificate's: the setting is named, not the key's path. */
        struct kconn_security pem = { .tls = true, .ca_file = cpath("ca.crt"), .cert_pem = cpath("client.crt"),
                                      .key_pem = cpath("other.key") };
        struct peer r = { .behaviour = PEER_ANSWER, .tls = true, .cert = "server" };
        peer_start(&r);
        ck_assert_int_eq(kconn_open("localhost", (uint16_t) r.port, &pem, monotime_ms() + 5000, &c, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "ssl.key.location: no key matching the certificate could be loaded "
                              "(or ssl.key.password is wrong)");
        peer_join(&r);
}
END_TEST

START_TEST(kconn_writing_to_a_closed_tls_connection_raises_no_sigpipe) {
        /* With the default disposition a SIGPIPE would end this test process. */
        signal(SIGPIPE, SIG_DFL);
        struct peer p = { .behaviour = PEER_HANGUP, .tls = true, .cert = "server" };
        peer_start(&p);
        struct kconn_security sec = { .tls = true, .ca_file = cpath("ca.crt") };
        struct kconn *c;
        char err[512];
        uint8_t *resp;
        size_t rlen;
        ck_assert_int_eq(kconn_open("localhost", (uint16_t) p.port, &sec, monotime_ms() + 5000, &c, err, sizeof err), 0);
        peer_join(&p);
        ck_assert_int_eq(exchange(c, monotime_ms() + 5000, &resp, &rlen, err, sizeof err), -EPIPE);
        /* The peer is gone and the first write drew its reset: this one writes into it. */
        int r = exchange(c, monotime_ms() + 5000, &resp, &rlen, err, sizeof err);
        ck_assert_msg(r == -EPIPE || r == -ECONNRESET, "%d: %s", r, err);
        kconn_close(c);
}
END_TEST

/* One mutual-TLS open against a fresh peer; its return code, the error in err. */
static int open_mtls(const struct kconn_security *sec, char *err, size_t errlen) {
        struct peer p = { .behaviour = PEER_HANGUP, .tls = true, .cert = "server", .require_client_cert = true };
        peer_start(&p);
        struct kconn *c = NULL;
        int r = kconn_open("localhost", (uint16_t) p.port, sec, monotime_ms() + 5000, &c, err, errlen);
        kconn_close(c);
        peer_join(&p);
        return r;
}

/* The TLS context (CA parsed, keystore decrypted) is built once and shared while the settings
 * and their files stay the same; a keystore replaced the way a Secret volume replaces it (a
 * new file renamed over the old) is read again at the next open, never masked by the cache. */
START_TEST(kconn_tls_context_is_shared_until_the_keystore_changes) {
        char *d = tu_mkdtemp();
        char ks[600], next[600], err[512] = "";
        snprintf(ks, sizeof ks, "%s/keystore.p12", d);
        snprintf(next, sizeof next, "%s/keystore.next", d);
        openssl((char *const[]){ "/usr/bin/openssl", "pkcs12", "-export", "-inkey", cpath("client.key"), "-in",
                                 cpath("client.crt"), "-out", ks, "-passout", "pass:storepw", NULL });
        /* A copy: cpath's buffers are reused by the peers' threads. */
        char ca[600];
        snprintf(ca, sizeof ca, "%s", cpath("ca.crt"));
        struct kconn_security sec = { .tls = true, .ca_file = ca, .keystore_p12 = ks,
                                      .keystore_password = "storepw" };
        kconn_tls_cache_clear();
        uint64_t n0 = kconn_tls_contexts_built();
        ck_assert_int_eq(open_mtls(&sec, err, sizeof err), 0);
        ck_assert_int_eq(open_mtls(&sec, err, sizeof err), 0);
        ck_assert_int_eq(open_mtls(&sec, err, sizeof err), 0);
        ck_assert_uint_eq(kconn_tls_contexts_built(), n0 + 1);

        /* The keystore is replaced by one with another password: the old password no longer
         * opens it, although a context built from the old file is still cached. */
        openssl((char *const[]){ "/usr/bin/openssl", "pkcs12", "-export", "-inkey", cpath("client.key"), "-in",
                                 cpath("client.crt"), "-out", next, "-passout", "pass:newpw", NULL });
        ck_assert_int_eq(rename(next, ks), 0);
        ck_assert_int_eq(open_mtls(&sec, err, sizeof err), -EINVAL);
        const char *want = "ssl.keystore.location: not a PKCS12 store that opens with ssl.keystore.password (";
        ck_assert_msg(strncmp(err, want, strlen(want)) == 0, "%s", err);
        ck_assert_uint_eq(kconn_tls_contexts_built(), n0 + 1);

        /* With its new password: one new context, shared again. */
        sec.keystore_password = "newpw";
        ck_assert_int_eq(open_mtls(&sec, err, sizeof err), 0);
        ck_assert_int_eq(open_mtls(&sec, err, sizeof err), 0);
        ck_assert_uint_eq(kconn_tls_contexts_built(), n0 + 2);
        kconn_tls_cache_clear();
        tu_rmtree(d);
        free(d);
}
END_TEST

START_TEST(kconn_sasl_plain_authenticates_before_the_first_request) {
        struct peer p = { .behaviour = PEER_ANSWER, .sasl = true, .sasl_offer_plain = true };
        peer_start(&p);
        struct kconn_security sec = { .sasl_plain = true, .sasl_user = "kafka", .sasl_password = "pw" };
        struct kconn *c;
        char err[512] = "";
        uint8_t *resp;
        size_t rlen;
        ck_assert_int_eq(kconn_open("127.0.0.1", (uint16_t) p.port, &sec, monotime_ms() + 5000, &c, err, sizeof err), 0);
        ck_assert_int_eq(exchange(c, monotime_ms() + 5000, &resp, &rlen, err, sizeof err), 0);
        /* Handshake and authenticate took correlation ids 1 and 2. */
        ck_assert_int_eq(resp[3], 3);
        free(resp);
        kconn_close(c);
        peer_join(&p);
        ck_assert_str_eq(p.auth_seen, "|kafka|pw");
}
END_TEST

START_TEST(kconn_sasl_refusals_name_the_cause_not_the_secret) {
        struct peer p = { .behaviour = PEER_ANSWER, .sasl = true, .sasl_offer_plain = true };
        peer_start(&p);
        struct kconn_security sec = { .sasl_plain = true, .sasl_user = "kafka", .sasl_password = "s3cret-pw" };
        struct kconn *c = NULL;
        char err[512], want[512];
        ck_assert_int_eq(kconn_open("127.0.0.1", (uint16_t) p.port, &sec, monotime_ms() + 5000, &c, err, sizeof err), -EACCES);
        snprintf(want, sizeof want, "127.0.0.1:%d refused the SASL PLAIN credentials of client.properties "
                 "(SASL_AUTHENTICATION_FAILED (58): Authentication failed: Invalid username or password)", p.port);
        ck_assert_str_eq(err, want);
        peer_join(&p);

        struct peer q = { .behaviour = PEER_ANSWER, .sasl = true, .sasl_offer_plain = false };
        peer_start(&q);
        ck_assert_int_eq(kconn_open("127.0.0.1", (uint16_t) q.port, &sec, monotime_ms() + 5000, &c, err, sizeof err), -EACCES);
        snprintf(want, sizeof want, "127.0.0.1:%d does not offer SASL PLAIN (error UNSUPPORTED_SASL_MECHANISM (33), it "
                 "offers [SCRAM-SHA-512]); hint: sasl.enabled.mechanisms of the listener", q.port);
        ck_assert_str_eq(err, want);
        peer_join(&q);
}
END_TEST

int main(void) {
        /* The peer thread writes to clients that have gone; kconn itself never needs this. */
        signal(SIGPIPE, SIG_IGN);
        Suite *s = suite_create("kconn");
        TCase *tc = tcase_create("kconn");
        tcase_add_unchecked_fixture(tc, make_certs, remove_certs);
        tcase_add_test(tc, kconn_plaintext_round_trip);
        tcase_add_test(tc, kconn_name_lookup_runs_with_the_deadline);
        tcase_add_test(tc, kconn_refused_connection_says_so_with_a_hint);
        tcase_add_test(tc, kconn_silent_peer_ends_at_the_deadline);
        tcase_add_test(tc, kconn_peer_closing_mid_frame_is_epipe);
        tcase_add_test(tc, kconn_oversize_frame_is_refused_before_allocating);
        tcase_add_test(tc, kconn_tls_verifies_the_chain_and_the_host_name);
        tcase_add_test(tc, kconn_tls_refuses_an_unknown_ca_and_a_foreign_name);
        tcase_add_test(tc, kconn_mutual_tls_presents_the_pkcs12_client_certificate);
        tcase_add_test(tc, kconn_writing_to_a_closed_tls_connection_raises_no_sigpipe);
        tcase_add_test(tc, kconn_tls_context_is_shared_until_the_keystore_changes);
        tcase_add_test(tc, kconn_sasl_plain_authenticates_before_the_first_request);
        tcase_add_test(tc, kconn_sasl_refusals_name_the_cause_not_the_secret);
        suite_add_tcase(s, tc);
        tc = tcase_create("dns");
        tcase_add_test(tc, kconn_lookup_uses_the_agents_bounded_resolver);
        suite_add_tcase(s, tc);
        return tu_run_suite(s);
}
