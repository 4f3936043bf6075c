/* One blocking connection to a Kafka listener for the protocol calls the agent encodes itself
 * (kwire_*): TCP with a deadline that also bounds name resolution, optional TLS (OpenSSL) with
 * the CA and client certificate of kpa-init's client.properties, optional SASL PLAIN
 * (SaslHandshake + SaslAuthenticate), then whole request/response frames. Not a Kafka client:
 * no ApiVersions, no metadata, no retries, no pipelining; one request at a time.
 *
 * Every call takes an absolute deadline on the CLOCK_MONOTONIC clock in milliseconds
 * (monotime_ms) and never blocks past it. Errors: a negative errno-style code and one line in
 * errbuf, with a hint where the cause is usually a setting (OpenSSL's and the peer's messages
 * are translated here, never a password or key). Meant for a worker thread. */
#ifndef KPA_KCONN_H
#define KPA_KCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define KCONN_HOST_MAX 256

/* How to reach the listener; strings are borrowed for the call. */
struct kconn_security {
        bool tls;
        const char *ca_file;            /* PEM CAs to trust; NULL: OpenSSL's default store */
        const char *keystore_p12;       /* client certificate + key as PKCS12, or NULL */
        const char *keystore_password;
        const char *cert_pem;           /* or the client certificate chain as PEM ... */
        const char *key_pem;            /* ... and its key */
        const char *key_password;       /* for an encrypted PEM key, or NULL */
        bool skip_verify;               /* do not verify the peer's chain (explicitly asked) */
        bool skip_hostname;             /* verify the chain but not the host name */
        bool sasl_plain;
        const char *sasl_user;
        const char *sasl_password;
};

struct kconn;

/* Resolves host (resolve_host), connects to the first address that accepts, then completes TLS
 * and SASL as sec asks, all before deadline_ms. 0, or: -ETIMEDOUT (deadline), -ENOENT (name
 * unknown), -EAGAIN (the DNS server failed), -EBUSY (too many lookups pending),
 * -ECONNREFUSED and other connect errors, -EPROTO (TLS failed or the peer broke the protocol),
 * -EACCES (the SASL mechanism or credentials were refused), -EINVAL/-ENOMEM (settings, files). */
int kconn_open(const char *host, uint16_t port, const struct kconn_security *sec,
               uint64_t deadline_ms, struct kconn **ret, char *errbuf, size_t errlen);

/* The correlation id for the next request on this connection. */
int32_t kconn_next_correlation(struct kconn *c);

/* Sends one request frame (with its size) and reads one response frame of at most max bytes
 * (the size field excluded) into a new buffer the caller frees. 0, -ETIMEDOUT, -EPIPE (the
 * peer closed the connection), -EPROTO (a frame size out of bounds), or another -errno. */
int kconn_exchange(struct kconn *c, const uint8_t *req, size_t req_len, size_t max,
                   uint64_t deadline_ms, uint8_t **ret, size_t *ret_len, char *errbuf,
                   size_t errlen);

/* Closes (TLS close_notify is not waited for); accepts NULL; returns NULL. */
struct kconn *kconn_close(struct kconn *c);

/* kconn_open shares one TLS context between connections with the same TLS settings, built
 * again when a setting or a file it names changes (see kconn.c). For tests and the
 * benchmark: drop the cached context, and how many contexts were built so far. */
void kconn_tls_cache_clear(void);
/* The certificate the peer served in the TLS handshake (an OpenSSL X509, borrowed until
 * kconn_close), or NULL without TLS: what a certificate rotation confirms. */
struct x509_st *kconn_peer_cert(const struct kconn *c);
/* The chain the peer sent (an OpenSSL STACK_OF(X509), leaf first, borrowed until kconn_close),
 * or NULL: which CA a peer's certificate chains to (a CA rotation, carot.h). */
struct stack_st_X509 *kconn_peer_chain(const struct kconn *c);
uint64_t kconn_tls_contexts_built(void);

#endif
