#include "kpa/kconn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "kpa/keystore.h"
#include "kpa/kwire_sasl.h"
#include "kpa/monotime.h"
#include "kpa/resolve.h"
#include "kpa/secret.h"

#define CLIENT_ID "kpa-agent"

struct kconn {
        int fd;
        SSL_CTX *ctx;
        SSL *ssl;
        int32_t correlation;
        char peer[KCONN_HOST_MAX + 8];   /* "host:port", for messages */
};

static int remaining_ms(uint64_t deadline_ms) {
        uint64_t now = monotime_ms();
        if (now >= deadline_ms)
                return 0;
        uint64_t left = deadline_ms - now;
        return left > INT32_MAX ? INT32_MAX : (int) left;
}

/* ---- TCP ---- */

static int wait_fd(int fd, short events, uint64_t deadline_ms) {
        for (;;) {
                int left = remaining_ms(deadline_ms);
                if (left == 0)
                        return -ETIMEDOUT;
                struct pollfd p = { .fd = fd, .events = events };
                int n = poll(&p, 1, left);
                if (n > 0)
                        return 0;
                if (n < 0 && errno != EINTR)
                        return -errno;
        }
}

static int connect_one(const struct sockaddr_storage *ss, uint64_t deadline_ms, int *ret_fd) {
        socklen_t len = ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                  : sizeof(struct sockaddr_in);
        int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
        if (fd < 0)
                return -errno;
        int r = 0;
        if (connect(fd, (const struct sockaddr *) ss, len) < 0) {
                if (errno != EINPROGRESS)
                        r = -errno;
                else if ((r = wait_fd(fd, POLLOUT, deadline_ms)) == 0) {
                        int soerr = 0;
                        socklen_t sl = sizeof soerr;
                        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
                                r = -errno;
                        else if (soerr != 0)
                                r = -soerr;
                }
        }
        if (r < 0) {
                close(fd);
                return r;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        *ret_fd = fd;
        return 0;
}

static const char *connect_hint(int r) {
        switch (r) {
        case -ECONNREFUSED: return "; hint: nothing listens there: is the controller running, and is this its controller listener?";
        case -ETIMEDOUT: return "; hint: no answer at all: a firewall or NetworkPolicy, or the node is down";
        case -EHOSTUNREACH:
        case -ENETUNREACH: return "; hint: no route to the address";
        default: return "";
        }
}

/* ---- TLS ----
 *
 * Messages name the setting that failed, never the path of the key or keystore it names:
 * where a secret lives is kept out of logs and /status like the secret itself. */

/* OpenSSL's queued errors as one line (the last and most specific first), then cleared. */
static void ssl_errors(char *buf, size_t len) {
        unsigned long e;
        size_t used = 0;
        buf[0] = '\0';
        while ((e = ERR_get_error()) != 0) {
                char one[256];
                ERR_error_string_n(e, one, sizeof one);
                /* "error:0A000086:SSL routines::certificate verify failed": keep the reason. */
                const char *reason = strrchr(one, ':');
                reason = reason ? reason + 1 : one;
                int n = snprintf(buf + used, len - used, "%s%s", used ? "; " : "", reason);
                if (n < 0 || (size_t) n >= len - used)
                        break;
                used += (size_t) n;
        }
}

static int load_p12(SSL_CTX *ctx, const char *path, const char *password, char *errbuf,
                    size_t errlen) {
        struct keystore *ks = NULL;
        char why[300];
        int r = keystore_read(path, password, &ks, why, sizeof why);
        if (r < 0) {
                snprintf(errbuf, errlen, "ssl.keystore.location: %s", why);
                return -EINVAL;
        }
        if (SSL_CTX_use_certificate(ctx, keystore_cert(ks)) != 1 ||
            SSL_CTX_use_PrivateKey(ctx, keystore_key(ks)) != 1 ||
            SSL_CTX_check_private_key(ctx) != 1) {
                snprintf(errbuf, errlen, "ssl.keystore.location: its key does not match its certificate");
                r = -EINVAL;
        }
        for (int i = 0; r == 0 && i < keystore_chain_len(ks); i++)
                if (SSL_CTX_add1_chain_cert(ctx, keystore_chain_at(ks, i)) != 1) {
                        snprintf(errbuf, errlen, "ssl.keystore.location: cannot use its chain");
                        r = -EINVAL;
                }
        keystore_free(ks);
        ERR_clear_error();
        return r;
}

static int key_password_cb(char *buf, int size, int rwflag, void *u) {
        (void) rwflag;
        const char *pw = u;
        if (!pw || size <= 0)
                return 0;
        size_t n = strlen(pw);
        if (n > (size_t) size)
                n = (size_t) size;
        memcpy(buf, pw, n);
        return (int) n;
}

static int tls_context(const struct kconn_security *sec, SSL_CTX **ret, char *errbuf,
                       size_t errlen) {
        SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
        if (!ctx) {
                snprintf(errbuf, errlen, "out of memory");
                return -ENOMEM;
        }
        SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
        int r = 0;
        if (sec->ca_file ? SSL_CTX_load_verify_locations(ctx, sec->ca_file, NULL) != 1
                         : SSL_CTX_set_default_verify_paths(ctx) != 1) {
                char why[256];
                ssl_errors(why, sizeof why);
                snprintf(errbuf, errlen, "ssl.ca.location %s: no CA certificate could be loaded (%s)",
                         sec->ca_file ? sec->ca_file : "(default)", why);
                r = -EINVAL;
        }
        SSL_CTX_set_verify(ctx, sec->skip_verify ? SSL_VERIFY_NONE : SSL_VERIFY_PEER, NULL);
        if (r == 0 && sec->keystore_p12) {
                r = load_p12(ctx, sec->keystore_p12, sec->keystore_password, errbuf, errlen);
        } else if (r == 0 && sec->cert_pem) {
                SSL_CTX_set_default_passwd_cb(ctx, key_password_cb);
                SSL_CTX_set_default_passwd_cb_userdata(ctx, (void *) sec->key_password);
                if (SSL_CTX_use_certificate_chain_file(ctx, sec->cert_pem) != 1) {
                        snprintf(errbuf, errlen, "ssl.certificate.location %s: no certificate could be loaded", sec->cert_pem);
                        r = -EINVAL;
                } else if (SSL_CTX_use_PrivateKey_file(ctx, sec->key_pem ? sec->key_pem : sec->cert_pem,
                                                       SSL_FILETYPE_PEM) != 1 ||
                           SSL_CTX_check_private_key(ctx) != 1) {
                        snprintf(errbuf, errlen, "%s: no key matching the certificate could be loaded "
                                 "(or ssl.key.password is wrong)",
                                 sec->key_pem ? "ssl.key.location" : "ssl.certificate.location");
                        r = -EINVAL;
                }
                SSL_CTX_set_default_passwd_cb_userdata(ctx, NULL);
        }
        ERR_clear_error();
        if (r < 0) {
                SSL_CTX_free(ctx);
                return r;
        }
        *ret = ctx;
        return 0;
}

/* ---- TLS context cache ----
 *
 * Building a context reads and parses the CA file and decrypts the PKCS12 keystore (its
 * key derivation is made slow on purpose), and a check opens one to several connections. So
 * the context of the last settings is kept and shared while neither the settings nor any file
 * they name has changed: a file counts as changed when its device, inode, size, modification
 * or change time differs (as keystore_changed decides for the broker check), which covers a
 * Secret volume's update (a new file behind a swapped symlink) and a rewrite in place. The files are looked at before the context is built, so a change during
 * the build shows at the next open. With ssl.ca.location unset, OpenSSL's default store is
 * not watched (it changes with the image, and so with a restart). An SSL_CTX is safe to share
 * between threads once built: a connection only takes a reference (SSL_new) and changes
 * nothing in it. The settings are kept as a SHA-256 digest, so the cache holds no password;
 * a failed build is not kept, so every open reports the error afresh. */

static pthread_mutex_t tls_cache_lock = PTHREAD_MUTEX_INITIALIZER;
static SSL_CTX *tls_cache_ctx;                   /* one reference held by the cache */
static unsigned char tls_cache_key[SHA256_DIGEST_LENGTH];
static uint64_t tls_builds;

static void digest_str(EVP_MD_CTX *md, const char *s) {
        /* A presence byte and the NUL keep (NULL, "") and ("a", "b") from ("ab") apart. */
        unsigned char present = s != NULL;
        EVP_DigestUpdate(md, &present, 1);
        if (s)
                EVP_DigestUpdate(md, s, strlen(s) + 1);
}

static int digest_file(EVP_MD_CTX *md, const char *path) {
        if (!path)
                return 0;
        struct stat st;
        if (stat(path, &st) < 0)
                return -errno;
        const uint64_t id[] = { (uint64_t) st.st_dev, (uint64_t) st.st_ino, (uint64_t) st.st_size,
                                (uint64_t) st.st_mtim.tv_sec, (uint64_t) st.st_mtim.tv_nsec,
                                (uint64_t) st.st_ctim.tv_sec, (uint64_t) st.st_ctim.tv_nsec };
        EVP_DigestUpdate(md, id, sizeof id);
        return 0;
}

/* The cache key of sec: its TLS settings and the identity of the files they name. < 0 when a
 * file cannot be looked at (the build then says why, and nothing is cached). */
static int tls_key(const struct kconn_security *sec, unsigned char ret[SHA256_DIGEST_LENGTH]) {
        EVP_MD_CTX *md = EVP_MD_CTX_new();
        if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
                EVP_MD_CTX_free(md);
                return -ENOMEM;
        }
        const char *strs[] = { sec->ca_file, sec->keystore_p12, sec->keystore_password,
                               sec->cert_pem, sec->key_pem, sec->key_password };
        for (size_t i = 0; i < sizeof strs / sizeof *strs; i++)
                digest_str(md, strs[i]);
        unsigned char verify = sec->skip_verify;
        EVP_DigestUpdate(md, &verify, 1);
        const char *files[] = { sec->ca_file, sec->keystore_p12, sec->cert_pem, sec->key_pem };
        int r = 0;
        for (size_t i = 0; r == 0 && i < sizeof files / sizeof *files; i++)
                r = digest_file(md, files[i]);
        if (r == 0 && EVP_DigestFinal_ex(md, ret, NULL) != 1)
                r = -ENOMEM;
        EVP_MD_CTX_free(md);
        return r;
}

/* A reference to the context for sec: the cached one, or a new one (then cached). */
static int tls_context_get(const struct kconn_security *sec, SSL_CTX **ret, char *errbuf,
                           size_t errlen) {
        unsigned char key[SHA256_DIGEST_LENGTH];
        bool cacheable = tls_key(sec, key) == 0;
        pthread_mutex_lock(&tls_cache_lock);
        if (cacheable && tls_cache_ctx && memcmp(key, tls_cache_key, sizeof key) == 0) {
                SSL_CTX_up_ref(tls_cache_ctx);
                *ret = tls_cache_ctx;
                pthread_mutex_unlock(&tls_cache_lock);
                return 0;
        }
        pthread_mutex_unlock(&tls_cache_lock);

        SSL_CTX *ctx;
        int r = tls_context(sec, &ctx, errbuf, errlen);
        if (r < 0)
                return r;
        SSL_CTX *old = NULL;
        pthread_mutex_lock(&tls_cache_lock);
        tls_builds++;
        if (cacheable) {
                old = tls_cache_ctx;
                SSL_CTX_up_ref(ctx);
                tls_cache_ctx = ctx;
                memcpy(tls_cache_key, key, sizeof key);
        }
        pthread_mutex_unlock(&tls_cache_lock);
        SSL_CTX_free(old);   /* connections still using it hold their own references */
        *ret = ctx;
        return 0;
}

void kconn_tls_cache_clear(void) {
        pthread_mutex_lock(&tls_cache_lock);
        SSL_CTX *old = tls_cache_ctx;
        tls_cache_ctx = NULL;
        pthread_mutex_unlock(&tls_cache_lock);
        SSL_CTX_free(old);
}

uint64_t kconn_tls_contexts_built(void) {
        pthread_mutex_lock(&tls_cache_lock);
        uint64_t n = tls_builds;
        pthread_mutex_unlock(&tls_cache_lock);
        return n;
}

/* Waits for what OpenSSL asked for after a non-blocking call; 1 to call again, else < 0. */
static int ssl_wait(struct kconn *c, int ret, uint64_t deadline_ms) {
        int e = SSL_get_error(c->ssl, ret);
        if (e == SSL_ERROR_WANT_READ)
                return wait_fd(c->fd, POLLIN, deadline_ms) == 0 ? 1 : -ETIMEDOUT;
        if (e == SSL_ERROR_WANT_WRITE)
                return wait_fd(c->fd, POLLOUT, deadline_ms) == 0 ? 1 : -ETIMEDOUT;
        if (e == SSL_ERROR_ZERO_RETURN)
                return -EPIPE;
        if (e == SSL_ERROR_SYSCALL)
                return errno ? -errno : -EPIPE;
        return -EPROTO;
}

/* OpenSSL's socket BIO writes with write(2), which raises SIGPIPE when the peer has gone, and
 * the agent's threads must not depend on how the process disposes of that signal. This BIO is
 * the socket BIO with send(MSG_NOSIGNAL), nothing else. */
static int nosig_write(BIO *b, const char *p, int n) {
        int fd = (int) (intptr_t) BIO_get_data(b);
        BIO_clear_retry_flags(b);
        ssize_t k = send(fd, p, (size_t) n, MSG_NOSIGNAL);
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
                BIO_set_retry_write(b);
        return (int) k;
}

static int nosig_read(BIO *b, char *p, int n) {
        int fd = (int) (intptr_t) BIO_get_data(b);
        BIO_clear_retry_flags(b);
        ssize_t k = recv(fd, p, (size_t) n, 0);
        if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
                BIO_set_retry_read(b);
        return (int) k;
}

static long nosig_ctrl(BIO *b, int cmd, long num, void *ptr) {
        (void) b;
        (void) num;
        (void) ptr;
        return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int nosig_create(BIO *b) {
        BIO_set_init(b, 1);
        return 1;
}

static BIO_METHOD *nosig_method;
static pthread_once_t nosig_once = PTHREAD_ONCE_INIT;

static void nosig_init(void) {
        BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "kpa socket");
        if (m && BIO_meth_set_write(m, nosig_write) && BIO_meth_set_read(m, nosig_read) &&
            BIO_meth_set_ctrl(m, nosig_ctrl) && BIO_meth_set_create(m, nosig_create))
                nosig_method = m;
        else
                BIO_meth_free(m);
}

static BIO *nosig_bio(int fd) {
        pthread_once(&nosig_once, nosig_init);
        BIO *b = nosig_method ? BIO_new(nosig_method) : NULL;
        if (b)
                BIO_set_data(b, (void *) (intptr_t) fd);
        return b;
}

static bool is_ip_literal(const char *host) {
        unsigned char b[16];
        return inet_pton(AF_INET, host, b) == 1 || inet_pton(AF_INET6, host, b) == 1;
}

static int tls_start(struct kconn *c, const char *host, const struct kconn_security *sec,
                     uint64_t deadline_ms, char *errbuf, size_t errlen) {
        int r = tls_context_get(sec, &c->ctx, errbuf, errlen);
        if (r < 0)
                return r;
        c->ssl = SSL_new(c->ctx);
        BIO *bio = c->ssl ? nosig_bio(c->fd) : NULL;
        if (!bio) {
                snprintf(errbuf, errlen, "out of memory");
                return -ENOMEM;
        }
        /* The SSL object owns the BIO from here on (one BIO for both directions). */
        SSL_set_bio(c->ssl, bio, bio);
        bool ip = is_ip_literal(host);
        if (!ip)
                SSL_set_tlsext_host_name(c->ssl, host);
        if (!sec->skip_verify && !sec->skip_hostname) {
                X509_VERIFY_PARAM *vp = SSL_get0_param(c->ssl);
                if (ip ? X509_VERIFY_PARAM_set1_ip_asc(vp, host) != 1 : SSL_set1_host(c->ssl, host) != 1) {
                        snprintf(errbuf, errlen, "cannot verify host name %s", host);
                        return -EINVAL;
                }
        }
        for (;;) {
                ERR_clear_error();
                int n = SSL_connect(c->ssl);
                if (n == 1)
                        return 0;
                r = ssl_wait(c, n, deadline_ms);
                if (r == 1)
                        continue;
                break;
        }
        char why[256];
        ssl_errors(why, sizeof why);
        long vr = SSL_get_verify_result(c->ssl);
        if (r == -ETIMEDOUT)
                snprintf(errbuf, errlen, "TLS handshake with %s did not finish before the deadline", c->peer);
        else if (vr != X509_V_OK)
                snprintf(errbuf, errlen, "TLS handshake with %s failed: certificate verify failed: %s; "
                         "hint: is ssl.ca.location the CA that issued the controller's certificate, "
                         "and does it cover %s?", c->peer, X509_verify_cert_error_string(vr), host);
        else if (r == -EPIPE || r == -ECONNRESET)
                snprintf(errbuf, errlen, "TLS handshake with %s failed: the connection was closed%s%s; "
                         "hint: a listener that requires a client certificate closes like this "
                         "without one", c->peer, why[0] ? ": " : "", why);
        else
                snprintf(errbuf, errlen, "TLS handshake with %s failed: %s; hint: is the listener "
                         "SSL or SASL_SSL?", c->peer, why[0] ? why : strerror(-r));
        return r == -ETIMEDOUT ? r : -EPROTO;
}

struct x509_st *kconn_peer_cert(const struct kconn *c) {
        return c && c->ssl ? SSL_get0_peer_certificate(c->ssl) : NULL;
}

struct stack_st_X509 *kconn_peer_chain(const struct kconn *c) {
        return c && c->ssl ? SSL_get_peer_cert_chain(c->ssl) : NULL;
}

/* ---- frames ---- */

/* Moves len bytes in one direction: from wp to the peer when wp is set, else from the peer
 * into rp. Both directions share one loop: retry on EINTR, wait for the socket (or for what
 * OpenSSL asks, which may be the other direction during a renegotiation) until the deadline. */
static int io_full(struct kconn *c, uint8_t *rp, const uint8_t *wp, size_t len,
                   uint64_t deadline_ms) {
        size_t done = 0;
        while (done < len) {
                size_t want = len - done;
                ssize_t n;
                if (c->ssl) {
                        int cap = want > INT32_MAX ? INT32_MAX : (int) want;
                        ERR_clear_error();
                        int k = wp ? SSL_write(c->ssl, wp + done, cap) : SSL_read(c->ssl, rp + done, cap);
                        if (k <= 0) {
                                int r = ssl_wait(c, k, deadline_ms);
                                if (r == 1)
                                        continue;
                                return r;
                        }
                        n = k;
                } else {
                        n = wp ? send(c->fd, wp + done, want, MSG_NOSIGNAL) : recv(c->fd, rp + done, want, 0);
                        if (n == 0 && !wp)
                                return -EPIPE;
                        if (n < 0) {
                                if (errno == EINTR)
                                        continue;
                                if (errno != EAGAIN && errno != EWOULDBLOCK)
                                        return -errno;
                                int r = wait_fd(c->fd, wp ? POLLOUT : POLLIN, deadline_ms);
                                if (r < 0)
                                        return r;
                                continue;
                        }
                }
                done += (size_t) n;
        }
        return 0;
}

static int io_write(struct kconn *c, const uint8_t *p, size_t len, uint64_t deadline_ms) {
        return io_full(c, NULL, p, len, deadline_ms);
}

static int io_read(struct kconn *c, uint8_t *p, size_t len, uint64_t deadline_ms) {
        return io_full(c, p, NULL, len, deadline_ms);
}

static void io_error(const struct kconn *c, int r, const char *doing, char *errbuf, size_t errlen) {
        if (r == -ETIMEDOUT)
                snprintf(errbuf, errlen, "%s did not answer %s before the deadline", c->peer, doing);
        else if (r == -EPIPE || r == -ECONNRESET)
                snprintf(errbuf, errlen, "%s closed the connection %s; hint: a listener closes "
                         "like this when its security protocol (TLS, SASL) differs from "
                         "client.properties' security.protocol", c->peer, doing);
        else
                snprintf(errbuf, errlen, "%s: %s %s", c->peer, strerror(-r), doing);
}

int32_t kconn_next_correlation(struct kconn *c) {
        if (c->correlation == INT32_MAX)
                c->correlation = 0;
        return ++c->correlation;
}

int kconn_exchange(struct kconn *c, const uint8_t *req, size_t req_len, size_t max,
                   uint64_t deadline_ms, uint8_t **ret, size_t *ret_len, char *errbuf,
                   size_t errlen) {
        int r = io_write(c, req, req_len, deadline_ms);
        if (r < 0) {
                io_error(c, r, "while sending a request", errbuf, errlen);
                return r;
        }
        uint8_t sz[4];
        if ((r = io_read(c, sz, 4, deadline_ms)) < 0) {
                io_error(c, r, "(no answer)", errbuf, errlen);
                return r;
        }
        uint32_t n = (uint32_t) sz[0] << 24 | (uint32_t) sz[1] << 16 | (uint32_t) sz[2] << 8 | sz[3];
        if (n < 4 || n > max) {
                snprintf(errbuf, errlen, "%s answered a frame of %u bytes (expected 4 to %zu); "
                         "hint: is this a Kafka listener?", c->peer, n, max);
                return -EPROTO;
        }
        uint8_t *buf = malloc(n);
        if (!buf) {
                snprintf(errbuf, errlen, "out of memory");
                return -ENOMEM;
        }
        if ((r = io_read(c, buf, n, deadline_ms)) < 0) {
                io_error(c, r, "in the middle of an answer", errbuf, errlen);
                free(buf);
                return r;
        }
        *ret = buf;
        *ret_len = n;
        return 0;
}

/* ---- SASL PLAIN ---- */

static int sasl_plain(struct kconn *c, const struct kconn_security *sec, uint64_t deadline_ms,
                      char *errbuf, size_t errlen) {
        uint8_t req[KWIRE_SASL_PLAIN_REQUEST_MAX], *resp = NULL;
        size_t len, rlen;
        char why[KWIRE_ERR_MAX + 64], et[KWIRE_ERROR_TEXT_MAX];
        int32_t corr = kconn_next_correlation(c);
        int r = kwire_sasl_handshake_encode(corr, CLIENT_ID, "PLAIN", req, sizeof req, &len);
        if (r == 0)
                r = kconn_exchange(c, req, len, KWIRE_SASL_RESPONSE_MAX, deadline_ms, &resp, &rlen,
                                   errbuf, errlen);
        if (r < 0) {
                if (r == -EPIPE)
                        snprintf(errbuf, errlen, "%s closed the connection at the SASL handshake; "
                                 "hint: is the listener SASL_PLAINTEXT or SASL_SSL as "
                                 "client.properties says?", c->peer);
                return r;
        }
        struct kwire_sasl_handshake h;
        r = kwire_sasl_handshake_decode(resp, rlen, corr, &h, why, sizeof why);
        free(resp);
        if (r < 0) {
                snprintf(errbuf, errlen, "%s: %s", c->peer, why);
                return r;
        }
        if (h.error_code != 0 || !h.plain_enabled) {
                snprintf(errbuf, errlen, "%s does not offer SASL PLAIN (error %s, it offers [%s]); "
                         "hint: sasl.enabled.mechanisms of the listener", c->peer,
                         kwire_error_text(h.error_code, et, sizeof et), h.mechanisms);
                return -EACCES;
        }

        corr = kconn_next_correlation(c);
        r = kwire_sasl_plain_encode(corr, CLIENT_ID, sec->sasl_user ? sec->sasl_user : "",
                                    sec->sasl_password ? sec->sasl_password : "", req, sizeof req, &len);
        if (r < 0) {
                secret_wipe(req, sizeof req);
                snprintf(errbuf, errlen, "sasl.username and sasl.password must each be 1 to %d bytes",
                         KWIRE_SASL_PLAIN_FIELD_MAX);
                return -EINVAL;
        }
        r = kconn_exchange(c, req, len, KWIRE_SASL_RESPONSE_MAX, deadline_ms, &resp, &rlen, errbuf, errlen);
        secret_wipe(req, sizeof req);
        if (r < 0)
                return r;
        struct kwire_sasl_authenticate a;
        r = kwire_sasl_authenticate_decode(resp, rlen, corr, &a, why, sizeof why);
        free(resp);
        if (r < 0) {
                snprintf(errbuf, errlen, "%s: %s", c->peer, why);
                return r;
        }
        if (a.error_code != 0) {
                /* Kafka's message names neither the password nor, for PLAIN, the user. */
                snprintf(errbuf, errlen, "%s refused the SASL PLAIN credentials of client.properties "
                         "(%s: %s)", c->peer, kwire_error_text(a.error_code, et, sizeof et),
                         a.error_message[0] ? a.error_message : "no message");
                return -EACCES;
        }
        return 0;
}

/* ---- open / close ---- */

int kconn_open(const char *host, uint16_t port, const struct kconn_security *sec,
               uint64_t deadline_ms, struct kconn **ret, char *errbuf, size_t errlen) {
        struct kconn *c = calloc(1, sizeof *c);
        if (!c) {
                snprintf(errbuf, errlen, "out of memory");
                return -ENOMEM;
        }
        c->fd = -1;
        bool v6 = strchr(host, ':') != NULL;
        snprintf(c->peer, sizeof c->peer, "%s%s%s:%u", v6 ? "[" : "", host, v6 ? "]" : "", (unsigned) port);

        /* The agent's one bounded resolver (resolve.h): a lookup that hangs costs one of its
         * few threads, shared with the broker check, and this call returns at its deadline. */
        struct resolve_addrs addrs;
        uint64_t now = monotime_ms();
        int r = resolve_host(host, port, deadline_ms > now ? deadline_ms - now : 1, &addrs, errbuf,
                             errlen);
        if (r < 0)
                goto fail;
        r = -EHOSTUNREACH;
        for (int i = 0; i < addrs.n; i++) {
                r = connect_one(&addrs.v[i], deadline_ms, &c->fd);
                if (r == 0 || r == -ETIMEDOUT)
                        break;
        }
        if (r < 0) {
                snprintf(errbuf, errlen, "cannot connect to %s: %s%s", c->peer,
                         r == -ETIMEDOUT ? "no answer before the deadline" : strerror(-r), connect_hint(r));
                goto fail;
        }
        if (sec->tls && (r = tls_start(c, host, sec, deadline_ms, errbuf, errlen)) < 0)
                goto fail;
        if (sec->sasl_plain && (r = sasl_plain(c, sec, deadline_ms, errbuf, errlen)) < 0)
                goto fail;
        *ret = c;
        return 0;
fail:
        kconn_close(c);
        return r;
}

struct kconn *kconn_close(struct kconn *c) {
        if (!c)
                return NULL;
        if (c->ssl)
                SSL_free(c->ssl);
        if (c->ctx)
                SSL_CTX_free(c->ctx);
        if (c->fd >= 0)
                close(c->fd);
        free(c);
        return NULL;
}
