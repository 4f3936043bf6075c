/* The agent's HTTP edge: libmicrohttpd driven by one libuv loop, with no threads of its own.
 * Every callback (route handlers, cancel and done callbacks) runs on that loop. Only GET and
 * HEAD are served; request bodies are never read. A request target holding a NUL byte (raw or
 * %00 in the path) gets 400, one longer than HTTPD_MAX_TARGET_BYTES or with more than
 * HTTPD_MAX_QUERY_ARGS query arguments 414, more than one Content-Length header 400; each of
 * these closes the connection. */
#ifndef KPA_HTTPD_H
#define KPA_HTTPD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <uv.h>

/* Defaults, used for any field of struct httpd_config left at 0. */
#define HTTPD_DEFAULT_MAX_CONNECTIONS 256u
#define HTTPD_DEFAULT_MAX_PER_IP 32u
#define HTTPD_DEFAULT_IDLE_TIMEOUT_S 10u
#define HTTPD_DEFAULT_CONN_MEMORY_LIMIT ((size_t) 16 * 1024)
#define HTTPD_DEFAULT_MAX_HELD 32u

/* Fixed limits on what a client may send or make the kernel keep for it. */
#define HTTPD_MAX_TARGET_BYTES 2048u   /* request target (path and query) */
#define HTTPD_MAX_QUERY_ARGS 16u       /* "&"-separated query arguments */
#define HTTPD_SOCKET_SNDBUF 16384      /* SO_SNDBUF and SO_RCVBUF of every connection */
#define HTTPD_SOCKET_RCVBUF 16384

/* Bounds httpd_start accepts for each field. */
#define HTTPD_MAX_CONNECTIONS_MAX 65536u
#define HTTPD_IDLE_TIMEOUT_S_MAX 3600u
#define HTTPD_CONN_MEMORY_LIMIT_MIN ((size_t) 4 * 1024)
#define HTTPD_CONN_MEMORY_LIMIT_MAX ((size_t) 1024 * 1024)
#define HTTPD_MAX_HELD_MAX 1024u

struct httpd;
struct httpd_request;

/* Called on the loop for each request whose path matches. The handler answers with
 * httpd_respond before it returns, or holds the request (httpd_request_hold) and answers it
 * later; a handler that does neither gets 500 for its request. */
typedef void (*httpd_handler_fn)(struct httpd_request *req, void *userdata);

/* Why the server gave up a held request. */
enum httpd_cancel_reason {
        HTTPD_CANCEL_STOPPING,  /* httpd_stop: the server answers 503 "shutting down" */
        HTTPD_CANCEL_EVICTED,   /* its place went to a client holding fewer: the server answers 503 */
        HTTPD_CANCEL_GONE,      /* its client hung up: nothing is answered */
};

/* Called instead of an answer when the server gives up a held request: r is gone when it
 * returns, and the handler must not respond to it. */
typedef void (*httpd_cancel_fn)(struct httpd_request *r, enum httpd_cancel_reason why, void *arg);

struct httpd_route {
        const char *path;      /* exact match, query string excluded, e.g. "/readyz" */
        httpd_handler_fn fn;
};

struct httpd_config {
        const char *listen;            /* "ADDR:PORT": "0.0.0.0:8080", "127.0.0.1:0", "[::]:8080" */
        unsigned max_connections;      /* open connections in total; 0: default */
        unsigned max_per_ip;           /* open connections from one client address; 0: default */
        unsigned idle_timeout_s;       /* a connection silent this long is closed; 0: default */
        size_t conn_memory_limit;      /* bytes per connection for request line + headers; 0: default */
        unsigned max_held;             /* requests held at once (httpd_request_hold); 0: default,
                                        * or max_connections if that is smaller */
};

/* Parses "ADDR:PORT" strictly: a numeric IPv4 address, or a numeric IPv6 address in
 * brackets (no zone id), then a port in 0..65535 (0: an ephemeral port). No host names.
 * -EINVAL with the reason in errbuf; *ret_addr and *ret_len written only on success. */
int httpd_parse_listen(const char *s, struct sockaddr_storage *ret_addr, socklen_t *ret_len,
                       char *errbuf, size_t errlen);

/* Binds, listens and starts serving on loop. routes and the strings they point to must
 * outlive the server; userdata is passed to every handler. 0 or a negative errno code with
 * the reason in errbuf. */
int httpd_start(uv_loop_t *loop, const struct httpd_config *cfg, const struct httpd_route *routes,
                size_t n_routes, void *userdata, struct httpd **ret, char *errbuf, size_t errlen);

/* The port actually bound (the ephemeral one when the configuration asked for port 0). */
uint16_t httpd_port(const struct httpd *h);

/* The request's path without the query string; valid until the request is answered. */
const char *httpd_request_path(const struct httpd_request *r);
/* True when the query string holds key, bare ("?verbose") or with a value ("?verbose=1"). */
bool httpd_request_has_arg(const struct httpd_request *r, const char *key);
/* The value of query argument key ("" for "?key"), or NULL when absent or not plain text. */
const char *httpd_request_arg(const struct httpd_request *r, const char *key);
/* True for HEAD (the handler answers as for GET; the body is not sent). */
bool httpd_request_is_head(const struct httpd_request *r);

/* Keeps r past the handler's return, to be answered later; call only from the handler. Its
 * connection is suspended meanwhile (no idle timeout, never evicted), but the server watches
 * for the client hanging up. At most max_held requests are held: when all places are taken,
 * the oldest held request of the client address holding the most is given up (cancel_fn,
 * HTTPD_CANCEL_EVICTED) if that address would still hold at least as many as r's; otherwise
 * the hold is refused. So a client address holding none gets a place unless max_held other
 * addresses hold one each, and a held request is never given up for an address that would
 * then hold more than its own. Returns 0, or -EBUSY when refused (the handler then answers
 * at once), or -EINVAL outside the handler. cancel_fn(r, why, arg) runs if the server gives
 * r up (see enum httpd_cancel_reason). */
int httpd_request_hold(struct httpd_request *r, httpd_cancel_fn cancel_fn, void *arg);

/* Answers the request, from the handler or later from any callback on the loop; exactly once.
 * status is a three-digit code; content_type NULL means "text/plain; charset=utf-8"; body is
 * copied. Every answer carries Cache-Control: no-store; a HEAD answer carries the
 * Content-Length of body but not body. r is invalid afterwards. */
void httpd_respond(struct httpd_request *r, unsigned status, const char *content_type,
                   const char *body, size_t len);

/* Stops accepting connections, answers held requests 503 "shutting down" (their cancel
 * callbacks run with HTTPD_CANCEL_STOPPING), lets answers already under way finish for at most deadline_ms, then closes
 * every connection and handle. done_cb(arg) runs on the loop when all is closed, after which
 * h is freed. Call once; NULL is accepted (done_cb is then not called). */
void httpd_stop(struct httpd *h, uint64_t deadline_ms, void (*done_cb)(void *arg), void *arg);

#endif
