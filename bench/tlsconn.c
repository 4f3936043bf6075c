/* Section 4: connection set-up of the agent's own protocol calls (agent/kconn.c, the
 * controller check) over mutual TLS with a PKCS12 client keystore, as kpa-init writes it.
 * Each open connects (to 127.0.0.1: no name lookup), completes the TLS handshake with a loopback listener that
 * requires the client certificate, and closes. "Per connection" drops kconn's cached TLS
 * context before every open, which is what every open did before the cache (read the CA,
 * decrypt the keystore, build the context); "shared" keeps it, as the agent now does while
 * the settings and their files stay the same. */
#include "sections.h"

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

#include <openssl/ssl.h>

#include "benchutil.h"
#include "kpa/kconn.h"
#include "kpa/monotime.h"

struct listener {
        int fd;
        unsigned port;
        SSL_CTX *ctx;
        atomic_bool stop;
        pthread_t thread;
};

/* Accepts, completes the handshake, closes; until stop. */
static void *serve(void *arg) {
        struct listener *l = arg;
        while (!atomic_load(&l->stop)) {
                struct pollfd p = { .fd = l->fd, .events = POLLIN };
                if (poll(&p, 1, 100) <= 0)
                        continue;
                int fd = accept(l->fd, NULL, NULL);
                if (fd < 0)
                        continue;
                SSL *ssl = SSL_new(l->ctx);
                if (ssl) {
                        SSL_set_fd(ssl, fd);
                        if (SSL_accept(ssl) == 1) {
                                /* Wait for the client's close so that its handshake is whole. */
                                char b;
                                SSL_read(ssl, &b, 1);
                        }
                        SSL_free(ssl);
                }
                close(fd);
        }
        return NULL;
}

static int listener_start(const char *dir, struct listener *l) {
        char crt[700], key[700], ca[700];
        snprintf(crt, sizeof crt, "%s/server.crt", dir);
        snprintf(key, sizeof key, "%s/server.key", dir);
        snprintf(ca, sizeof ca, "%s/ca.crt", dir);
        l->ctx = SSL_CTX_new(TLS_server_method());
        if (!l->ctx || SSL_CTX_use_certificate_file(l->ctx, crt, SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_use_PrivateKey_file(l->ctx, key, SSL_FILETYPE_PEM) != 1 ||
            SSL_CTX_load_verify_locations(l->ctx, ca, NULL) != 1)
                return -EINVAL;
        SSL_CTX_set_verify(l->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
        l->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t al = sizeof a;
        if (l->fd < 0 || bind(l->fd, (struct sockaddr *) &a, sizeof a) < 0 || listen(l->fd, 16) < 0 ||
            getsockname(l->fd, (struct sockaddr *) &a, &al) < 0)
                return -errno;
        l->port = ntohs(a.sin_port);
        atomic_store(&l->stop, false);
        return -pthread_create(&l->thread, NULL, serve, l);
}

static void listener_stop(struct listener *l) {
        atomic_store(&l->stop, true);
        pthread_join(l->thread, NULL);
        close(l->fd);
        SSL_CTX_free(l->ctx);
}

/* n opens and closes; the median and mean wall time and the mean CPU time of this process
 * (kconn and the listener's side of the handshake, which is the same in both modes), in ms. */
static int time_opens(const struct listener *l, const struct kconn_security *sec, bool shared,
                      int n, double *ret_median, double *ret_mean, double *ret_cpu) {
        double *v = calloc((size_t) n, sizeof *v);
        if (!v)
                return -ENOMEM;
        kconn_tls_cache_clear();
        uint64_t cpu0 = bu_self_cpu_ns();
        for (int i = 0; i < n; i++) {
                if (!shared)
                        kconn_tls_cache_clear();
                char err[512];
                struct kconn *c = NULL;
                uint64_t t0 = bu_now_ns();
                int r = kconn_open("127.0.0.1", (uint16_t) l->port, sec, monotime_ms() + 5000, &c, err,
                                   sizeof err);
                kconn_close(c);
                v[i] = (double) (bu_now_ns() - t0) / 1e6;
                if (r < 0) {
                        fprintf(stderr, "[tls] kconn_open: %s\n", err);
                        free(v);
                        return r;
                }
        }
        *ret_cpu = (double) (bu_self_cpu_ns() - cpu0) / 1e6 / n;
        *ret_mean = bu_mean(v, (size_t) n);
        *ret_median = bu_median(v, (size_t) n);
        free(v);
        return 0;
}

static int one_key_type(const struct bench_paths *p, const char *type, const char *tag,
                        const char *newkey, int n) {
        char dir[600], cmd[4096];
        snprintf(dir, sizeof dir, "%s/tls-%s", p->tmp, tag);
        /* A CA, a server certificate for 127.0.0.1, a client certificate in a PKCS12 store
         * with openssl's defaults (AES-256, PBKDF2), as kpa-init's keystore. */
        snprintf(cmd, sizeof cmd,
                 "set -e; mkdir -p %1$s; cd %1$s; "
                 "openssl req -x509 -newkey %2$s -nodes -keyout ca.key -out ca.crt -days 2 -subj /CN=bench-ca; "
                 "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > server.cnf; "
                 "for n in server client; do "
                 "openssl req -newkey %2$s -nodes -keyout $n.key -out $n.csr -subj /CN=$n; "
                 "openssl x509 -req -in $n.csr -CA ca.crt -CAkey ca.key -set_serial 0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' ') "
                 "-days 2 -out $n.crt $( [ $n = server ] && echo -extfile server.cnf ); done; "
                 "openssl pkcs12 -export -inkey client.key -in client.crt -out client.p12 -passout pass:storepw",
                 dir, newkey);
        char *argv[] = { "/bin/sh", "-c", cmd, NULL };
        if (bu_run_quiet(argv, NULL) != 0) {
                fprintf(stderr, "[tls] openssl could not make the %s certificates\n", type);
                return -EIO;
        }
        char ca[700], p12[700];
        snprintf(ca, sizeof ca, "%s/ca.crt", dir);
        snprintf(p12, sizeof p12, "%s/client.p12", dir);
        struct kconn_security sec = { .tls = true, .ca_file = ca, .keystore_p12 = p12,
                                      .keystore_password = "storepw" };
        struct listener l = { .fd = -1 };
        int r = listener_start(dir, &l);
        if (r < 0) {
                fprintf(stderr, "[tls] cannot start the TLS listener: %s\n", strerror(-r));
                return r;
        }
        double cold_med, cold_mean, cold_cpu, warm_med, warm_mean, warm_cpu;
        uint64_t built0 = kconn_tls_contexts_built();
        r = time_opens(&l, &sec, false, n, &cold_med, &cold_mean, &cold_cpu);
        uint64_t built1 = kconn_tls_contexts_built();
        if (r == 0)
                r = time_opens(&l, &sec, true, n, &warm_med, &warm_mean, &warm_cpu);
        uint64_t built2 = kconn_tls_contexts_built();
        listener_stop(&l);
        kconn_tls_cache_clear();
        if (r < 0)
                return r;
        char fig[160], kpa[64], base[64], ratio[32];
        snprintf(fig, sizeof fig, "mTLS open, %s keys, median of %d (%llu + %llu contexts built)", type, n,
                 (unsigned long long) (built1 - built0), (unsigned long long) (built2 - built1));
        snprintf(kpa, sizeof kpa, "%.2f ms", warm_med);
        snprintf(base, sizeof base, "%.2f ms (per connection)", cold_med);
        snprintf(ratio, sizeof ratio, "%.2f×", warm_med / cold_med);
        bu_row(fig, kpa, base, ratio, "", BU_NA);
        snprintf(fig, sizeof fig, "mTLS open, %s keys, mean", type);
        snprintf(kpa, sizeof kpa, "%.2f ms", warm_mean);
        snprintf(base, sizeof base, "%.2f ms (per connection)", cold_mean);
        snprintf(ratio, sizeof ratio, "%.2f×", warm_mean / cold_mean);
        bu_row(fig, kpa, base, ratio, "", BU_NA);
        snprintf(fig, sizeof fig, "mTLS open, %s keys, CPU per open (both ends)", type);
        snprintf(kpa, sizeof kpa, "%.2f ms", warm_cpu);
        snprintf(base, sizeof base, "%.2f ms (per connection)", cold_cpu);
        snprintf(ratio, sizeof ratio, "%.2f×", warm_cpu / cold_cpu);
        bu_row(fig, kpa, base, ratio, "", BU_NA);
        return 0;
}

int bench_tls(const struct bench_paths *p) {
        int n = p->quick ? 20 : 200;
        /* The listener writes with OpenSSL's socket BIO (write(2)) to clients that have gone. */
        signal(SIGPIPE, SIG_IGN);
        bu_table_head("4. Controller-check connection set-up (kconn: mutual TLS, PKCS12 keystore)");
        fprintf(stderr, "[tls] %d opens per figure\n", n);
        int r = one_key_type(p, "RSA 2048", "rsa", "rsa:2048", n);
        if (r == 0)
                r = one_key_type(p, "ECDSA P-256", "ec", "ec -pkeyopt ec_paramgen_curve:P-256", n);
        bu_note("\nkpa: the TLS context shared between connections while the settings and their files "
                "stay the same; baseline: the context built for every connection (the CA read and the "
                "keystore decrypted each time), as before.");
        return r;
}
