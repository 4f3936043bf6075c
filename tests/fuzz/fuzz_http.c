/* Whole HTTP requests through the agent's HTTP edge (agent/httpd.c on libmicrohttpd, one libuv
 * loop): each input is written as raw bytes on a fresh loopback connection to a server with
 * the agent's kinds of routes (exact paths, a "?verbose" argument, an answer held and given
 * later, as /prestop does), and the loop runs until the connection is answered, closed, or
 * makes no progress.
 *
 * Invariants: whatever the server sends back starts with an HTTP/1.x status line whose code
 * is one the edge gives (200, 400, 404, 405, 413, 414, 431, 505 or MHD's own 4xx/5xx); a
 * route's body is the route's; and after every input a well-formed probe on a new connection
 * is answered 200 "ok" (the server still serves). No crash, leak or hang. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "fuzz.h"
#include "kpa/httpd.h"

static uv_loop_t loop;
static struct httpd *server;
static int port;
static uv_timer_t later;
static struct httpd_request *held;

static void on_ok(struct httpd_request *r, void *ud) {
        (void) ud;
        const char *body = httpd_request_has_arg(r, "verbose") ? "[+]check ok\n" : "ok";
        httpd_respond(r, 200, NULL, body, strlen(body));
}

static void on_json(struct httpd_request *r, void *ud) {
        (void) ud;
        httpd_respond(r, 200, "application/json", "{\"ready\":true}", 14);
}

static void on_later_fire(uv_timer_t *t) {
        (void) t;
        if (held) {
                httpd_respond(held, 200, NULL, "safe", 4);
                held = NULL;
        }
}

static void on_held_cancel(struct httpd_request *r, enum httpd_cancel_reason why, void *arg) {
        (void) r;
        (void) why;
        (void) arg;
        held = NULL;
}

/* Answered on a later loop turn, as /prestop is; one at a time (others answered at once). */
static void on_later(struct httpd_request *r, void *ud) {
        (void) ud;
        if (held || httpd_request_hold(r, on_held_cancel, NULL) < 0) {
                httpd_respond(r, 200, NULL, "busy", 4);
                return;
        }
        held = r;
        uv_timer_start(&later, on_later_fire, 1, 0);
}

static const struct httpd_route routes[] = {
        { "/readyz", on_ok }, { "/status", on_json }, { "/prestop", on_later },
};

static void setup(void) {
        if (server)
                return;
        char err[256];
        if (uv_loop_init(&loop) < 0 || uv_timer_init(&loop, &later) < 0)
                abort();
        struct httpd_config cfg = { .listen = "127.0.0.1:0", .idle_timeout_s = 1 };
        if (httpd_start(&loop, &cfg, routes, sizeof routes / sizeof routes[0], NULL, &server, err, sizeof err) < 0) {
                fprintf(stderr, "httpd_start: %s\n", err);
                abort();
        }
        port = httpd_port(server);
}

static int client(void) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        if (fd < 0 || (connect(fd, (struct sockaddr *) &a, sizeof a) < 0 && errno != EINPROGRESS))
                abort();
        return fd;
}

/* Sends data and collects the answer while turning the loop; stops at EOF, or after 10 turns
 * in a row without progress (the input is incomplete and the server waits for more). */
static size_t exchange(const uint8_t *data, size_t len, char *ret, size_t cap) {
        int fd = client();
        size_t sent = 0, got = 0;
        int idle = 0;
        while (idle < 10) {
                bool progress = false;
                uv_run(&loop, UV_RUN_NOWAIT);
                if (sent < len) {
                        ssize_t n = send(fd, data + sent, len - sent, MSG_NOSIGNAL);
                        if (n > 0) {
                                sent += (size_t) n;
                                progress = true;
                        } else if (n < 0 && errno != EAGAIN && errno != ENOTCONN) {
                                sent = len;   /* the server closed: keep reading what it said */
                        }
                }
                struct pollfd p = { fd, POLLIN, 0 };
                if (poll(&p, 1, 1) > 0) {
                        ssize_t n = recv(fd, ret + got, cap - 1 - got, 0);
                        if (n == 0 || (n < 0 && errno != EAGAIN) || got + (size_t) (n > 0 ? n : 0) >= cap - 1) {
                                if (n > 0)
                                        got += (size_t) n;
                                break;
                        }
                        if (n > 0) {
                                got += (size_t) n;
                                progress = true;
                        }
                }
                idle = progress ? 0 : idle + 1;
        }
        close(fd);
        /* Let the server see the close and release the connection. */
        for (int i = 0; i < 5; i++)
                uv_run(&loop, UV_RUN_NOWAIT);
        ret[got] = '\0';
        return got;
}

static bool known_status(int code) {
        return code == 200 || (code >= 400 && code <= 431) || code == 500 || code == 501 ||
               code == 503 || code == 505;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        static char answer[1 << 16];
        setup();
        if (size > 32768)
                return 0;
        size_t got = exchange(data, size, answer, sizeof answer);
        if (got > 0) {
                int code = 0;
                FUZZ_CHECK(sscanf(answer, "HTTP/1.%*1[01] %3d", &code) == 1, "answer without a status line: %.80s", answer);
                FUZZ_CHECK(known_status(code), "status %d", code);
        }
        static const char probe[] = "GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
        got = exchange((const uint8_t *) probe, sizeof probe - 1, answer, sizeof answer);
        FUZZ_CHECK(strncmp(answer, "HTTP/1.1 200", 12) == 0, "probe after the input: %.80s", answer);
        FUZZ_CHECK(got >= 2 && strcmp(answer + got - 2, "ok") == 0, "probe body: %.120s", answer);
        return 0;
}
