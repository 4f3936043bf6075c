/* libmicrohttpd driven by the agent's libuv loop.
 *
 * MHD runs in "external polling" mode with its own epoll set (MHD_USE_EPOLL, no internal
 * thread). The loop watches that one epoll descriptor with a uv_poll_t and keeps a uv_timer_t
 * armed from MHD_get_timeout(); either one calls MHD_run(), which never blocks. Answers that
 * come later (a held /prestop) suspend the connection and resume it when the handler answers,
 * so a held request never stops other connections from being served; while it is suspended,
 * MHD does not look at the socket, so a uv_poll_t of ours watches it for the client hanging
 * up. Held requests are capped (httpd_request_hold), so that they can never take the slots
 * that probes need. */
#include "kpa/httpd.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kpa/log.h"
#include "kpa/parse.h"

/* Pending connections the kernel queues for us while we are at the connection limit. */
#define HTTPD_LISTEN_BACKLOG 128
/* The longest piece of client-supplied text (a path) that may reach a log line. */
#define HTTPD_LOG_PATH_MAX 64
#define HTTPD_DEFAULT_CONTENT_TYPE "text/plain; charset=utf-8"
/* Near the connection limit, each new connection evicts the oldest one that is not waiting
 * on a held request (see evict_one); "near" leaves this fraction of the limit free (256:
 * evict above 240), so that MHD never reaches the limit, never stops accepting, and a new
 * probe is never left waiting in the kernel's listen queue behind connections that others
 * hold open, idle or not reading. Held requests (at most max_held) are never evicted. */
#define HTTPD_EVICT_RESERVE_DIVISOR 16

enum req_state {
        REQ_NEW,               /* headers in, not routed yet */
        REQ_IN_HANDLER,        /* the route handler is running */
        REQ_HELD,              /* the handler returned without answering: connection suspended */
        REQ_ANSWERED,          /* a response is ready (queued now, or after the resume) */
};

/* One open connection, in the order they were accepted (the oldest first). */
struct httpd_conn {
        struct MHD_Connection *conn;
        struct httpd_conn *prev, *next;
        bool busy;             /* a complete request is in progress (being answered, or held) */
        bool answering;        /* its answer is queued: being sent, or stuck on a client that
                                * does not read */
        bool evicted;          /* shut down by us; MHD closes it at its next run */
        /* on_uri's record until on_access takes it. MHD drops a request that fails before
         * its headers are complete (a request line over the connection's memory, say) without
         * calling on_completed, so the connection's close frees what was never claimed. */
        struct httpd_request *unclaimed;
};

/* What the request line alone already decides (see on_uri). */
enum req_refusal {
        REFUSE_NONE,
        REFUSE_NUL,            /* %00 in the path */
        REFUSE_TOO_LONG,       /* target or query argument count over the limits */
};

/* Watches a held request's socket for the client hanging up. Allocated apart from the
 * request, because libuv frees nothing before the close callback and the request may be
 * completed before that. */
struct held_watch {
        uv_poll_t poll;
        struct httpd_request *r;       /* NULL once stopped */
};

struct httpd_request {
        struct httpd *h;
        struct httpd_conn *slot;       /* its connection's entry, or NULL */
        struct MHD_Connection *conn;   /* NULL until MHD first calls on_access for it */
        const char *target;    /* the raw request target as on_uri saw it, and its C length */
        size_t target_len;
        enum req_refusal refuse;
        const char *path;      /* MHD's copies, valid until the request completes */
        const char *method;
        bool head;
        struct in6_addr client;        /* the client's address (IPv4 as v4-mapped) */
        enum req_state state;
        unsigned status;
        struct MHD_Response *resp;
        httpd_cancel_fn cancel_fn;
        void *cancel_arg;
        bool in_held;          /* one of the server's held requests (httpd_request_hold) */
        struct httpd_request *held_prev, *held_next;
        struct held_watch *watch;
};

struct httpd {
        uv_loop_t *loop;
        struct MHD_Daemon *daemon;
        uv_poll_t poll;        /* MHD's epoll descriptor */
        uv_timer_t timer;      /* MHD's timeouts, and "run again soon" */
        uv_timer_t deadline;   /* the end of httpd_stop's grace */
        const struct httpd_route *routes;
        size_t n_routes;
        void *userdata;
        uint16_t port;
        struct httpd_request *held_head, *held_tail;   /* held requests, the oldest first */
        unsigned n_held, max_held;
        size_t in_flight;              /* requests begun and not yet completed */
        unsigned connections;          /* open connections */
        unsigned max_connections;
        unsigned evict_above;          /* evict the oldest idle connection above this many */
        struct httpd_conn *conns_head, *conns_tail;
        bool in_run;           /* inside MHD_run: MHD must not be re-entered */
        bool run_again;        /* a resume happened: MHD_run must be called again */
        bool stopping;
        bool finishing;
        unsigned open_handles;
        void (*done_cb)(void *arg);
        void *done_arg;
};

/* Copies text that came from outside into buf for an error or log line: printable ASCII
 * only (anything else becomes '?'), cut at the buffer's size with "..." marking the cut. */
static void sanitize(const char *s, char *buf, size_t len) {
        size_t i = 0;
        if (len == 0)
                return;
        for (; s && s[i] && i + 1 < len; i++)
                buf[i] = (s[i] >= 0x20 && s[i] < 0x7f) ? s[i] : '?';
        buf[i] = '\0';
        if (s && s[i] && len > 4)
                memcpy(buf + len - 4, "...", 4);
}

/* Formats into errbuf, which may be NULL or empty. */
__attribute__((format(printf, 3, 4)))
static void set_error(char *errbuf, size_t errlen, const char *fmt, ...) {
        va_list ap;
        if (!errbuf || errlen == 0)
                return;
        va_start(ap, fmt);
        vsnprintf(errbuf, errlen, fmt, ap);
        va_end(ap);
}

int httpd_parse_listen(const char *s, struct sockaddr_storage *ret_addr, socklen_t *ret_len,
                       char *errbuf, size_t errlen) {
        static const char *const hint = "expected ADDR:PORT such as 0.0.0.0:8080 or [::]:8080";
        char shown[72], addr[INET6_ADDRSTRLEN + 1];
        const char *port, *astart;
        size_t alen;
        bool v6;
        uint64_t p;
        struct sockaddr_storage ss;
        socklen_t sslen;

        if (!s || !*s) {
                set_error(errbuf, errlen, "listen address is empty; %s", hint);
                return -EINVAL;
        }
        sanitize(s, shown, sizeof shown);
        if (s[0] == '[') {
                const char *end = strchr(s, ']');
                if (!end) {
                        set_error(errbuf, errlen, "listen address \"%s\": missing \"]\" after the IPv6 address; %s",
                                  shown, hint);
                        return -EINVAL;
                }
                if (end[1] != ':') {
                        set_error(errbuf, errlen, "listen address \"%s\": missing \":PORT\"; %s", shown, hint);
                        return -EINVAL;
                }
                v6 = true;
                astart = s + 1;
                alen = (size_t) (end - astart);
                port = end + 2;
        } else {
                const char *colon = strchr(s, ':');
                if (!colon) {
                        set_error(errbuf, errlen, "listen address \"%s\": missing \":PORT\"; %s", shown, hint);
                        return -EINVAL;
                }
                if (strchr(colon + 1, ':')) {
                        set_error(errbuf, errlen, "listen address \"%s\": an IPv6 address goes in brackets, as in [::]:8080",
                                  shown);
                        return -EINVAL;
                }
                v6 = false;
                astart = s;
                alen = (size_t) (colon - s);
                port = colon + 1;
        }
        if (alen >= sizeof addr) {
                set_error(errbuf, errlen, "listen address \"%s\": the address is not a numeric %s address",
                          shown, v6 ? "IPv6" : "IPv4 (host names are not accepted)");
                return -EINVAL;
        }
        memcpy(addr, astart, alen);
        addr[alen] = '\0';

        if (parse_u64(port, 0, UINT16_MAX, &p) < 0) {
                char pshown[16];
                sanitize(port, pshown, sizeof pshown);
                set_error(errbuf, errlen, "listen address \"%s\": port \"%s\" is not a number in 0..65535",
                          shown, pshown);
                return -EINVAL;
        }

        memset(&ss, 0, sizeof ss);
        if (v6) {
                struct sockaddr_in6 *a6 = (struct sockaddr_in6 *) &ss;
                a6->sin6_family = AF_INET6;
                a6->sin6_port = htons((uint16_t) p);
                if (inet_pton(AF_INET6, addr, &a6->sin6_addr) != 1) {
                        set_error(errbuf, errlen, "listen address \"%s\": the address is not a numeric IPv6 address",
                                  shown);
                        return -EINVAL;
                }
                sslen = sizeof *a6;
        } else {
                struct sockaddr_in *a4 = (struct sockaddr_in *) &ss;
                a4->sin_family = AF_INET;
                a4->sin_port = htons((uint16_t) p);
                if (inet_pton(AF_INET, addr, &a4->sin_addr) != 1) {
                        set_error(errbuf, errlen, "listen address \"%s\": the address is not a numeric IPv4 address (host names are not accepted)",
                                  shown);
                        return -EINVAL;
                }
                sslen = sizeof *a4;
        }
        *ret_addr = ss;
        *ret_len = sslen;
        return 0;
}

/* Creates the listening socket ourselves, so that a bind failure has a precise message and
 * the ephemeral port is known before MHD starts. */
static int listen_socket(const char *listen_str, int *ret_fd, uint16_t *ret_port,
                         char *errbuf, size_t errlen) {
        struct sockaddr_storage ss;
        socklen_t len;
        char shown[72];
        int one = 1, zero = 0, sndbuf = HTTPD_SOCKET_SNDBUF, rcvbuf = HTTPD_SOCKET_RCVBUF, r;

        r = httpd_parse_listen(listen_str, &ss, &len, errbuf, errlen);
        if (r < 0)
                return r;
        sanitize(listen_str, shown, sizeof shown);
        int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
                r = -errno;
                set_error(errbuf, errlen, "listen on %s: socket: %s", shown, strerror(-r));
                return r;
        }
        /* A restarted agent must be able to bind while old connections sit in TIME_WAIT. */
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
                goto fail;
        /* "[::]" serves IPv4 clients too, whatever the host's net.ipv6.bindv6only says, so that
         * one listen address fits both single-stack and dual-stack pods. */
        if (ss.ss_family == AF_INET6 &&
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) < 0)
                goto fail;
        /* Fixed socket buffers instead of the kernel's autotuning, which lets a client that
         * pipelines requests and never reads the answers pin megabytes of kernel memory per
         * connection. Accepted connections inherit them (set before listen(), the receive
         * size also sizes the window offered in the handshake). Answers are at most 64 KiB
         * and requests at most 16 KiB: they only take a few more round trips. */
        if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf) < 0 ||
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf) < 0)
                goto fail;
        if (bind(fd, (struct sockaddr *) &ss, len) < 0) {
                r = -errno;
                set_error(errbuf, errlen, "listen on %s: bind: %s", shown, strerror(-r));
                close(fd);
                return r;
        }
        if (listen(fd, HTTPD_LISTEN_BACKLOG) < 0)
                goto fail;
        len = sizeof ss;
        if (getsockname(fd, (struct sockaddr *) &ss, &len) < 0)
                goto fail;
        *ret_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *) &ss)->sin6_port
                                                   : ((struct sockaddr_in *) &ss)->sin_port);
        *ret_fd = fd;
        return 0;
fail:
        r = -errno;
        set_error(errbuf, errlen, "listen on %s: %s", shown, strerror(-r));
        close(fd);
        return r;
}

/* MHD's own diagnostics (timeouts, limits, malformed requests) are worth seeing only when
 * debugging; they pass through sanitize() because some of them quote what a client sent.
 * MHD's format string is not a literal: the attribute tells the compiler it is a printf format
 * (clang's -Wformat-nonliteral refuses the build without it). */
__attribute__((format(printf, 2, 0)))
static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
        char msg[256], clean[256];
        (void) cls;
        vsnprintf(msg, sizeof msg, fmt, ap);
        size_t n = strlen(msg);
        while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
                msg[--n] = '\0';
        sanitize(msg, clean, sizeof clean);
        log_event(LOG_LEVEL_DEBUG, "http_server", "%s", clean);
}

static void on_timer(uv_timer_t *t);

/* Arms the timer for MHD's next deadline (0 when work is already pending). */
static void arm_timer(struct httpd *h) {
        MHD_UNSIGNED_LONG_LONG ms = 0;
        if (!h->run_again && MHD_get_timeout(h->daemon, &ms) != MHD_YES) {
                uv_timer_stop(&h->timer);
                return;
        }
        uv_timer_start(&h->timer, on_timer, (uint64_t) ms, 0);
}

static void on_handle_closed(uv_handle_t *handle) {
        struct httpd *h = handle->data;
        if (--h->open_handles > 0)
                return;
        if (h->done_cb)
                h->done_cb(h->done_arg);
        free(h);
}

/* Closes everything. The uv_poll_t goes first, because MHD_stop_daemon closes the descriptor
 * it watches; stopping MHD completes (and so frees) every request still open. */
static void finish(struct httpd *h) {
        if (h->finishing)
                return;
        h->finishing = true;
        h->open_handles = 3;
        uv_close((uv_handle_t *) &h->poll, on_handle_closed);
        uv_close((uv_handle_t *) &h->timer, on_handle_closed);
        uv_close((uv_handle_t *) &h->deadline, on_handle_closed);
        MHD_stop_daemon(h->daemon);
        h->daemon = NULL;
}

static void drive(struct httpd *h) {
        if (h->finishing)
                return;
        h->run_again = false;
        h->in_run = true;
        MHD_run(h->daemon);
        h->in_run = false;
        if (h->stopping && h->in_flight == 0) {
                finish(h);
                return;
        }
        arm_timer(h);
}

static void on_timer(uv_timer_t *t) {
        drive(t->data);
}

static void on_poll(uv_poll_t *p, int status, int events) {
        (void) status;
        (void) events;
        drive(p->data);
}

static void on_deadline(uv_timer_t *t) {
        finish(t->data);
}

/* Resumed connections are only processed by the next MHD_run; schedule one unless we are
 * inside MHD_run already (drive() then re-arms the timer at 0). */
static void schedule_run(struct httpd *h) {
        h->run_again = true;
        if (!h->in_run && !h->finishing)
                uv_timer_start(&h->timer, on_timer, 0, 0);
}

static void on_watch_closed(uv_handle_t *handle) {
        free(handle->data);
}

/* Stops watching a held request's socket. uv_poll_stop takes the descriptor out of libuv's
 * epoll set at once, so MHD may close it as soon as the connection is resumed. */
static void watch_stop(struct httpd_request *r) {
        struct held_watch *w = r->watch;
        if (!w)
                return;
        r->watch = NULL;
        w->r = NULL;
        uv_poll_stop(&w->poll);
        uv_close((uv_handle_t *) &w->poll, on_watch_closed);
}

static void held_link(struct httpd_request *r) {
        struct httpd *h = r->h;
        r->in_held = true;
        r->held_next = NULL;
        r->held_prev = h->held_tail;
        if (h->held_tail)
                h->held_tail->held_next = r;
        else
                h->held_head = r;
        h->held_tail = r;
        h->n_held++;
}

static void held_unlink(struct httpd_request *r) {
        struct httpd *h = r->h;
        if (!r->in_held)
                return;
        if (r->held_prev)
                r->held_prev->held_next = r->held_next;
        else
                h->held_head = r->held_next;
        if (r->held_next)
                r->held_next->held_prev = r->held_prev;
        else
                h->held_tail = r->held_prev;
        r->held_prev = r->held_next = NULL;
        r->in_held = false;
        h->n_held--;
        watch_stop(r);
}

/* Builds the answer. close asks MHD to close the connection after it, for answers given
 * without reading what the client may still send (a body we refuse, a shutdown). */
static struct MHD_Response *make_response(const char *content_type, const char *body, size_t len,
                                          const char *allow, bool close) {
        struct MHD_Response *resp =
                MHD_create_response_from_buffer(len, (void *) (body ? body : ""), MHD_RESPMEM_MUST_COPY);
        if (!resp)
                return NULL;
        if (MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store") != MHD_YES ||
            MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                                    content_type ? content_type : HTTPD_DEFAULT_CONTENT_TYPE) != MHD_YES ||
            (allow && MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, allow) != MHD_YES) ||
            (close && MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close") != MHD_YES)) {
                MHD_destroy_response(resp);
                return NULL;
        }
        return resp;
}

static void log_answer(const struct httpd_request *r) {
        char path[HTTPD_LOG_PATH_MAX + 1], method[16];
        sanitize(r->path, path, sizeof path);
        sanitize(r->method, method, sizeof method);
        log_event(LOG_LEVEL_DEBUG, "http_request", "%s %s -> %u", method, path, r->status);
}

/* Hands the stored response to MHD. Returning MHD_NO makes MHD close the connection, which is
 * all that is left to do when the response could not be built. */
static enum MHD_Result queue_answer(struct httpd_request *r) {
        if (!r->resp)
                return MHD_NO;
        enum MHD_Result ok = MHD_queue_response(r->conn, r->status, r->resp);
        MHD_destroy_response(r->resp);
        r->resp = NULL;
        if (ok == MHD_YES && r->slot)
                r->slot->answering = true;
        return ok;
}

/* Records an answer; resumes the connection if it was held. */
static void answer(struct httpd_request *r, unsigned status, const char *content_type,
                   const char *body, size_t len, bool close) {
        struct httpd *h = r->h;
        enum req_state was = r->state;

        if (was == REQ_ANSWERED)
                return;
        held_unlink(r);
        r->status = status;
        r->resp = make_response(content_type, body, len, NULL, close);
        r->state = REQ_ANSWERED;
        log_answer(r);
        if (was == REQ_HELD) {
                MHD_resume_connection(r->conn);
                schedule_run(h);
        }
}

void httpd_respond(struct httpd_request *r, unsigned status, const char *content_type,
                   const char *body, size_t len) {
        if (!r)
                return;
        answer(r, status, content_type, body, len, false);
}

/* Runs the cancel callback once, so that the handler forgets r. */
static void run_cancel(struct httpd_request *r, enum httpd_cancel_reason why) {
        httpd_cancel_fn fn = r->cancel_fn;
        r->cancel_fn = NULL;
        if (fn)
                fn(r, why, r->cancel_arg);
}

/* Gives up a held request whose client is still there, with a 503 that says why. */
static void cancel_held(struct httpd_request *r, enum httpd_cancel_reason why) {
        static const char stopping[] = "shutting down\n";
        static const char evicted[] = "not waiting any more: the place went to a client holding fewer requests\n";
        run_cancel(r, why);
        if (why == HTTPD_CANCEL_STOPPING)
                answer(r, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, stopping, sizeof stopping - 1, true);
        else
                answer(r, MHD_HTTP_SERVICE_UNAVAILABLE, NULL, evicted, sizeof evicted - 1, true);
}

/* The client of a held request hung up: forget the request and let MHD close the connection
 * (on_access then finds no response to queue, and MHD closes a connection it cannot answer). */
static void drop_held(struct httpd_request *r) {
        run_cancel(r, HTTPD_CANCEL_GONE);
        held_unlink(r);
        r->state = REQ_ANSWERED;
        r->resp = NULL;
        log_event(LOG_LEVEL_DEBUG, "http_abandoned", "the client of a held request hung up; its connection is closed");
        MHD_resume_connection(r->conn);
        schedule_run(r->h);
}

/* A held request's socket reports the peer's end of stream (UV_DISCONNECT is EPOLLRDHUP), a
 * hang-up or an error. Bytes the client sends after the request are not watched (they would
 * keep the descriptor readable): only its close counts. */
static void on_watch(uv_poll_t *p, int status, int events) {
        struct held_watch *w = p->data;
        if (!w->r || (status == 0 && !(events & UV_DISCONNECT)))
                return;
        drop_held(w->r);
}

/* Starts watching a held request's socket. Without a watch (out of memory) the request is
 * still held, and its place freed only when it is answered. */
static void watch_start(struct httpd_request *r) {
        const union MHD_ConnectionInfo *ci =
                MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct held_watch *w = ci ? calloc(1, sizeof *w) : NULL;
        if (!w)
                return;
        if (uv_poll_init(r->h->loop, &w->poll, ci->connect_fd) < 0) {
                free(w);
                return;
        }
        w->r = r;
        w->poll.data = w;
        r->watch = w;
        uv_poll_start(&w->poll, UV_DISCONNECT, on_watch);
}

static unsigned held_from(const struct httpd *h, const struct in6_addr *client) {
        unsigned n = 0;
        for (const struct httpd_request *q = h->held_head; q; q = q->held_next)
                if (memcmp(&q->client, client, sizeof *client) == 0)
                        n++;
        return n;
}

/* All places are taken: gives up the oldest held request of the address holding the most,
 * if that address still holds at least as many as r's once r is in (so no address ever
 * loses a place to one that ends up holding more, and places never swing back and forth). */
static bool make_room(struct httpd *h, const struct httpd_request *r) {
        unsigned mine = held_from(h, &r->client), most = 0;
        struct httpd_request *victim = NULL;
        for (struct httpd_request *q = h->held_head; q; q = q->held_next) {
                unsigned n = held_from(h, &q->client);
                if (n > most) {
                        most = n;
                        victim = q;
                }
        }
        if (!victim || most < mine + 2)
                return false;
        log_event(LOG_LEVEL_DEBUG, "http_evict_held",
                  "%u requests held (the limit): gave up the oldest of a client holding %u for one holding %u",
                  h->n_held, most, mine);
        cancel_held(victim, HTTPD_CANCEL_EVICTED);
        return true;
}

int httpd_request_hold(struct httpd_request *r, httpd_cancel_fn cancel_fn, void *arg) {
        struct httpd *h = r->h;
        if (r->state != REQ_IN_HANDLER || h->stopping)
                return -EINVAL;
        if (!r->in_held) {
                if (h->n_held >= h->max_held && !make_room(h, r))
                        return -EBUSY;
                held_link(r);
        }
        r->cancel_fn = cancel_fn;
        r->cancel_arg = arg;
        return 0;
}

/* Answers a request without a route handler: errors the server decides on itself. */
static enum MHD_Result answer_now(struct httpd_request *r, unsigned status, const char *body,
                                  const char *allow, bool close) {
        r->status = status;
        r->state = REQ_ANSWERED;
        r->resp = make_response(NULL, body, strlen(body), allow, close);
        log_answer(r);
        return queue_answer(r);
}

/* True when the client announced a body (which GET and HEAD do not need). */
static bool has_body(struct MHD_Connection *conn) {
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        const char *te = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_TRANSFER_ENCODING);
        return te || (cl && strcmp(cl, "0") != 0);
}

static enum MHD_Result count_content_length(void *cls, enum MHD_ValueKind kind, const char *key,
                                            const char *value) {
        unsigned *n = cls;
        (void) kind;
        (void) value;
        if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
                (*n)++;
        return MHD_YES;
}

/* MHD believes the first of several Content-Length headers; a proxy in front may believe
 * another, and then the two disagree on where the next request starts. */
static bool content_length_repeated(struct MHD_Connection *conn) {
        unsigned n = 0;
        MHD_get_connection_values(conn, MHD_HEADER_KIND, count_content_length, &n);
        return n > 1;
}

/* Routes a complete request and runs its handler; a handler that holds its request without
 * answering it has its connection suspended until it does. */
static enum MHD_Result dispatch(struct httpd *h, struct httpd_request *r) {
        if (h->stopping)
                return answer_now(r, MHD_HTTP_SERVICE_UNAVAILABLE, "shutting down\n", NULL, true);

        const struct httpd_route *route = NULL;
        for (size_t i = 0; i < h->n_routes && !route; i++)
                if (strcmp(h->routes[i].path, r->path) == 0)
                        route = &h->routes[i];
        if (!route)
                return answer_now(r, MHD_HTTP_NOT_FOUND, "not found\n", NULL, false);

        r->state = REQ_IN_HANDLER;
        route->fn(r, h->userdata);
        if (r->state == REQ_ANSWERED)
                return queue_answer(r);
        if (!r->in_held)
                return answer_now(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "no answer\n", NULL, true);
        /* A handler that stops the server and keeps its own request would leave it suspended
         * past MHD_stop_daemon, which MHD forbids. */
        if (h->stopping) {
                cancel_held(r, HTTPD_CANCEL_STOPPING);
                return queue_answer(r);
        }
        r->state = REQ_HELD;
        MHD_suspend_connection(r->conn);
        watch_start(r);
        return MHD_YES;
}

/* Counts the "&"-separated arguments of a query string the way MHD splits them, stopping
 * once over max. */
static size_t count_args(const char *q, size_t max) {
        size_t n = *q ? 1 : 0;
        for (; *q && n <= max; q++)
                if (*q == '&' && q[1])
                        n++;
        return n;
}

/* MHD calls this with the raw request target as soon as the request line is in, before it
 * splits the query into arguments and before it decodes the path: the one place to see what
 * decoding hides, and to keep MHD 0.9.75 from a state it does not recover from. That version
 * stores every query argument in the connection's fixed memory, and when they do not fit it
 * neither answers nor closes: the connection sits silent until the idle timeout (248 short
 * arguments do it, or three behind a long one). A target over the limits is refused with
 * 414, so its arguments are never needed: cutting the query at its first byte here (MHD
 * itself writes over the "?" next) leaves MHD nothing to store. MHD gives no other hook
 * before it stores the arguments. The request record starts here; MHD hands it to on_access
 * and on_completed. */
static struct httpd_conn *conn_slot(struct MHD_Connection *conn) {
        const union MHD_ConnectionInfo *ci =
                conn ? MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT) : NULL;
        return ci ? ci->socket_context : NULL;
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn) {
        struct httpd_request *r = calloc(1, sizeof *r);
        if (!r)
                return NULL;
        struct httpd_conn *c = conn_slot(conn);
        if (c) {
                free(c->unclaimed);
                c->unclaimed = r;
        }
        r->h = cls;
        /* MHD 0.9.75 refuses a request line without a target before calling this; should
         * one come, "" is not the path MHD hands on_access, which then refuses it (400). */
        const char *t = r->target = uri ? uri : "";
        r->target_len = strlen(t);
        const char *q = memchr(t, '?', r->target_len);
        size_t path_len = q ? (size_t) (q - t) : r->target_len;
        for (size_t i = 0; i + 2 < path_len; i++)
                if (t[i] == '%' && t[i + 1] == '0' && t[i + 2] == '0')
                        r->refuse = REFUSE_NUL;
        if (r->refuse == REFUSE_NONE &&
            (r->target_len > HTTPD_MAX_TARGET_BYTES || (q && count_args(q + 1, HTTPD_MAX_QUERY_ARGS) > HTTPD_MAX_QUERY_ARGS)))
                r->refuse = REFUSE_TOO_LONG;
        if (r->refuse != REFUSE_NONE && q)
                ((char *) q)[1] = '\0';
        return r;
}

/* The request line held a raw NUL byte inside the target: MHD keeps the target as a C string,
 * so the path would silently end at the NUL ("/livez<NUL>x" routed as "/livez"). on_uri saw
 * the same C string; MHD puts the version right after the target's terminator in the same
 * line buffer, so for a target without a NUL the version starts exactly one byte past the end
 * of what on_uri saw. Any other layout (a NUL, or an MHD that stores these elsewhere) is
 * refused: the check fails closed. */
static bool target_cut_by_nul(const struct httpd_request *r, const char *url, const char *version) {
        return url != r->target || version != r->target + r->target_len + 1;
}

/* Sets up the request when MHD first calls on_access for it: the headers are in. */
static void request_begin(struct httpd *h, struct httpd_request *r, struct MHD_Connection *conn,
                          const char *url, const char *method) {
        r->h = h;
        r->conn = conn;
        r->path = url;
        r->method = method;
        r->head = strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
        const union MHD_ConnectionInfo *ci =
                MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        r->slot = ci ? ci->socket_context : NULL;
        if (r->slot)
                r->slot->busy = true;
        if (r->slot && r->slot->unclaimed == r)
                r->slot->unclaimed = NULL;
        ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
        if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET6) {
                r->client = ((const struct sockaddr_in6 *) ci->client_addr)->sin6_addr;
        } else if (ci && ci->client_addr && ci->client_addr->sa_family == AF_INET) {
                const struct sockaddr_in *a4 = (const struct sockaddr_in *) ci->client_addr;
                r->client.s6_addr[10] = r->client.s6_addr[11] = 0xff;
                memcpy(&r->client.s6_addr[12], &a4->sin_addr, 4);
        }
        h->in_flight++;
}

/* MHD calls this once when the headers are in, again when the whole request is (for GET and
 * HEAD: at once), and again after each resume. MHD 0.9.75 closes the connection after any
 * answer queued on the first call ("early", so that it need not read a body), so routes are
 * answered from the second call on, which keeps keep-alive working; only the refusals that
 * must not read on (400, 405, 413, 414) are answered early. */
static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **req_cls) {
        struct httpd *h = cls;
        struct httpd_request *r = *req_cls;
        (void) upload_data;

        /* No record means on_uri ran out of memory: nothing was checked, so close. */
        if (!r)
                return MHD_NO;
        if (!r->conn) {
                request_begin(h, r, conn, url, method);
                if (r->refuse == REFUSE_NUL || target_cut_by_nul(r, url, version))
                        return answer_now(r, MHD_HTTP_BAD_REQUEST, "NUL byte in the request target\n", NULL, true);
                if (r->refuse == REFUSE_TOO_LONG)
                        return answer_now(r, MHD_HTTP_URI_TOO_LONG,
                                          "request target too long or too many query arguments\n", NULL, true);
                if (content_length_repeated(conn))
                        return answer_now(r, MHD_HTTP_BAD_REQUEST, "more than one Content-Length\n", NULL, true);
                if (!r->head && strcmp(method, MHD_HTTP_METHOD_GET) != 0)
                        return answer_now(r, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed\n",
                                          "GET, HEAD", true);
                if (has_body(conn))
                        return answer_now(r, MHD_HTTP_CONTENT_TOO_LARGE,
                                          "request body not accepted\n", NULL, true);
                return MHD_YES;
        }
        /* Body bytes are never expected (requests announcing one were refused above). */
        *upload_data_size = 0;
        switch (r->state) {
        case REQ_NEW:
                return dispatch(h, r);
        case REQ_ANSWERED:
                /* No response here means building it failed, or the client hung up while
                 * the request was held: close the connection. */
                return queue_answer(r);
        case REQ_IN_HANDLER:
        case REQ_HELD:
                break;
        }
        return MHD_YES;
}

/* Also called for requests that never reached on_access (MHD refused their headers, or the
 * client went away before the end of them): every record on_uri made ends here. */
/* A connection MHD gives up on while the client reads nothing (idle timeout) or that we
 * evicted is closed with a reset: a normal close would leave the kernel holding its unsent
 * answer (up to the send buffer) in an orphaned socket, probing a zero window for minutes. A
 * completed answer is never cut this way: MHD closes those as completed. */
static void abort_on_close(struct MHD_Connection *conn) {
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct linger now = { .l_onoff = 1, .l_linger = 0 };
        if (ci)
                setsockopt(ci->connect_fd, SOL_SOCKET, SO_LINGER, &now, sizeof now);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe) {
        struct httpd *h = cls;
        struct httpd_request *r = *req_cls;
        if (!r)
                return;
        struct httpd_conn *c = conn_slot(conn);
        if (c && c->unclaimed == r)
                c->unclaimed = NULL;
        if (toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED || (r->slot && r->slot->evicted))
                abort_on_close(conn);
        /* Not reached while MHD keeps the suspended-connection contract; kept so that a held
         * request can never outlive its memory. */
        if (r->in_held) {
                held_unlink(r);
                run_cancel(r, HTTPD_CANCEL_GONE);
        }
        if (r->resp)
                MHD_destroy_response(r->resp);
        if (r->slot)
                r->slot->busy = r->slot->answering = false;
        if (r->conn)
                h->in_flight--;
        free(r);
        *req_cls = NULL;
}

/* Shuts down the oldest connection, except keep, that is not waiting on its handler (a held
 * request): idle between requests, silent since it was opened, still trickling its headers,
 * or still sending an answer. An answer to a client that reads takes milliseconds, so an old
 * connection with one under way is stuck on a client that pipelines requests and never
 * reads, which would otherwise keep it until the idle timeout. Oldest first, so that a new
 * connection (a probe whose request is not read yet) is never taken before the older ones.
 * Only shutdown(): the descriptor stays MHD's, and MHD sees the end of the stream (or fails
 * its next write) at its next run and closes the connection through its usual path (and so
 * calls on_connection and on_completed). */
static void evict_one(struct httpd *h, const struct httpd_conn *keep) {
        for (struct httpd_conn *c = h->conns_head; c; c = c->next) {
                if (c == keep || c->evicted || (c->busy && !c->answering))
                        continue;
                const union MHD_ConnectionInfo *ci =
                        MHD_get_connection_info(c->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
                if (!ci)
                        continue;
                c->evicted = true;
                shutdown(ci->connect_fd, SHUT_RDWR);
                log_event(LOG_LEVEL_DEBUG, "http_evict",
                          "closed the oldest connection not waiting on a held request (%s): %u connections open, limit %u",
                          c->busy ? "answer under way" : "idle", h->connections, h->max_connections);
                return;
        }
}

/* MHD takes its listening socket out of its epoll set while it is at the connection limit
 * and puts it back only at the start of a later MHD_run; nothing else would wake us for that
 * run (the waiting connections are not in the set), so a close at the limit asks for one.
 * (After running out of descriptors, MHD does the same below the limit; the next timeout of
 * an open connection then brings the socket back, within the idle timeout.) */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
        struct httpd *h = cls;
        struct httpd_conn *c = *socket_context;
        if (code == MHD_CONNECTION_NOTIFY_STARTED) {
                h->connections++;
                /* Without an entry (out of memory) the connection is only never evicted. */
                c = calloc(1, sizeof *c);
                if (c) {
                        c->conn = conn;
                        c->prev = h->conns_tail;
                        if (h->conns_tail)
                                h->conns_tail->next = c;
                        else
                                h->conns_head = c;
                        h->conns_tail = c;
                        *socket_context = c;
                }
                if (h->connections > h->evict_above)
                        evict_one(h, c);
                return;
        }
        if (c) {
                if (c->prev)
                        c->prev->next = c->next;
                else
                        h->conns_head = c->next;
                if (c->next)
                        c->next->prev = c->prev;
                else
                        h->conns_tail = c->prev;
                free(c->unclaimed);
                free(c);
                *socket_context = NULL;
        }
        if (h->connections-- >= h->max_connections)
                h->run_again = true;
}

const char *httpd_request_path(const struct httpd_request *r) {
        return r->path;
}

bool httpd_request_is_head(const struct httpd_request *r) {
        return r->head;
}

bool httpd_request_has_arg(const struct httpd_request *r, const char *key) {
        const char *value = NULL;
        size_t value_len = 0;
        return MHD_lookup_connection_value_n(r->conn, MHD_GET_ARGUMENT_KIND, key, strlen(key),
                                             &value, &value_len) == MHD_YES;
}

const char *httpd_request_arg(const struct httpd_request *r, const char *key) {
        const char *value = NULL;
        size_t value_len = 0;
        if (MHD_lookup_connection_value_n(r->conn, MHD_GET_ARGUMENT_KIND, key, strlen(key),
                                          &value, &value_len) != MHD_YES)
                return NULL;
        /* A value with a NUL inside is not the text it seems to be (the edge refuses %00 in
         * the path; this covers the query too). */
        return value && strlen(value) == value_len ? value : NULL;
}

uint16_t httpd_port(const struct httpd *h) {
        return h->port;
}

/* Fills the limits, taking the default for each field left at 0, and checks their bounds. */
static int resolve_config(const struct httpd_config *cfg, struct httpd_config *ret,
                          char *errbuf, size_t errlen) {
        struct httpd_config c = *cfg;
        if (c.max_connections == 0)
                c.max_connections = HTTPD_DEFAULT_MAX_CONNECTIONS;
        if (c.max_per_ip == 0)
                c.max_per_ip = HTTPD_DEFAULT_MAX_PER_IP;
        if (c.idle_timeout_s == 0)
                c.idle_timeout_s = HTTPD_DEFAULT_IDLE_TIMEOUT_S;
        if (c.conn_memory_limit == 0)
                c.conn_memory_limit = HTTPD_DEFAULT_CONN_MEMORY_LIMIT;
        if (c.max_held == 0)
                c.max_held = c.max_connections < HTTPD_DEFAULT_MAX_HELD ? c.max_connections : HTTPD_DEFAULT_MAX_HELD;
        if (c.max_connections > HTTPD_MAX_CONNECTIONS_MAX) {
                set_error(errbuf, errlen, "HTTP connection limit %u is above %u", c.max_connections,
                          HTTPD_MAX_CONNECTIONS_MAX);
                return -ERANGE;
        }
        if (c.max_per_ip > c.max_connections) {
                set_error(errbuf, errlen, "HTTP per-client connection limit %u is above the total limit %u",
                          c.max_per_ip, c.max_connections);
                return -ERANGE;
        }
        if (c.max_held > HTTPD_MAX_HELD_MAX || c.max_held > c.max_connections) {
                set_error(errbuf, errlen, "HTTP held-request limit %u is above %u or the connection limit %u",
                          c.max_held, HTTPD_MAX_HELD_MAX, c.max_connections);
                return -ERANGE;
        }
        if (c.idle_timeout_s > HTTPD_IDLE_TIMEOUT_S_MAX) {
                set_error(errbuf, errlen, "HTTP idle timeout %us is above %us", c.idle_timeout_s,
                          HTTPD_IDLE_TIMEOUT_S_MAX);
                return -ERANGE;
        }
        if (c.conn_memory_limit < HTTPD_CONN_MEMORY_LIMIT_MIN ||
            c.conn_memory_limit > HTTPD_CONN_MEMORY_LIMIT_MAX) {
                set_error(errbuf, errlen, "HTTP per-connection memory %zu is outside %zu..%zu bytes",
                          c.conn_memory_limit, HTTPD_CONN_MEMORY_LIMIT_MIN, HTTPD_CONN_MEMORY_LIMIT_MAX);
                return -ERANGE;
        }
        *ret = c;
        return 0;
}

int httpd_start(uv_loop_t *loop, const struct httpd_config *cfg, const struct httpd_route *routes,
                size_t n_routes, void *userdata, struct httpd **ret, char *errbuf, size_t errlen) {
        struct httpd_config c;
        int fd = -1, r;
        uint16_t port = 0;

        r = resolve_config(cfg, &c, errbuf, errlen);
        if (r < 0)
                return r;
        for (size_t i = 0; i < n_routes; i++)
                if (!routes[i].path || routes[i].path[0] != '/' || !routes[i].fn) {
                        set_error(errbuf, errlen, "HTTP route %zu needs a path starting with \"/\" and a handler", i);
                        return -EINVAL;
                }
        r = listen_socket(c.listen, &fd, &port, errbuf, errlen);
        if (r < 0)
                return r;

        struct httpd *h = calloc(1, sizeof *h);
        if (!h) {
                close(fd);
                set_error(errbuf, errlen, "out of memory");
                return -ENOMEM;
        }
        h->loop = loop;
        h->routes = routes;
        h->n_routes = n_routes;
        h->userdata = userdata;
        h->port = port;
        h->max_connections = c.max_connections;
        h->max_held = c.max_held;
        h->evict_above = c.max_connections - c.max_connections / HTTPD_EVICT_RESERVE_DIVISOR;

        /* MHD_USE_EPOLL without MHD_USE_INTERNAL_POLLING_THREAD: MHD keeps an epoll set and
         * does its work only inside MHD_run. MHD_ALLOW_SUSPEND_RESUME adds an inter-thread
         * channel to that set, so a resume also wakes the loop. Once it has parsed its
         * options, MHD 0.9.75 closes the listening socket on every failure path itself. */
        h->daemon = MHD_start_daemon(
                MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                on_access, h,
                /* First, so that MHD reports problems with the options after it through it. */
                MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h,
                MHD_OPTION_LISTEN_SOCKET, (MHD_socket) fd,
                MHD_OPTION_CONNECTION_LIMIT, (unsigned int) c.max_connections,
                MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int) c.max_per_ip,
                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) c.idle_timeout_s,
                MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) c.conn_memory_limit,
                MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
                MHD_OPTION_NOTIFY_CONNECTION, on_connection, h,
                MHD_OPTION_URI_LOG_CALLBACK, on_uri, h,
                MHD_OPTION_END);
        if (!h->daemon) {
                free(h);
                set_error(errbuf, errlen, "starting the HTTP server failed (see the debug log)");
                return -EIO;
        }
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_EPOLL_FD);
        if (!info) {
                MHD_stop_daemon(h->daemon);
                free(h);
                set_error(errbuf, errlen, "the HTTP server has no epoll descriptor");
                return -EIO;
        }
        r = uv_poll_init(loop, &h->poll, info->epoll_fd);
        if (r < 0) {
                MHD_stop_daemon(h->daemon);
                free(h);
                set_error(errbuf, errlen, "watching the HTTP server: %s", uv_strerror(r));
                return r;
        }
        uv_timer_init(loop, &h->timer);
        uv_timer_init(loop, &h->deadline);
        h->poll.data = h->timer.data = h->deadline.data = h;
        uv_poll_start(&h->poll, UV_READABLE, on_poll);
        /* The server is quiet until a client comes: no timeout is pending yet. */
        arm_timer(h);
        *ret = h;
        return 0;
}

void httpd_stop(struct httpd *h, uint64_t deadline_ms, void (*done_cb)(void *arg), void *arg) {
        if (!h || h->stopping)
                return;
        h->stopping = true;
        h->done_cb = done_cb;
        h->done_arg = arg;
        /* In external polling mode the listening socket may be closed at once. */
        MHD_socket fd = MHD_quiesce_daemon(h->daemon);
        if (fd != MHD_INVALID_SOCKET)
                close(fd);
        while (h->held_head)
                cancel_held(h->held_head, HTTPD_CANCEL_STOPPING);
        uv_timer_start(&h->deadline, on_deadline, deadline_ms, 0);
        schedule_run(h);
}
