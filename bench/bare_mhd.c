/* The floor for the agent's HTTP stack: libmicrohttpd with exactly the agent's daemon flags
 * and options (agent/httpd.c: external polling on MHD's own epoll set, suspend/resume, the
 * same connection limits and our own listening socket), answering every request with a
 * fixed 200 "ok". There is no libuv here: a plain epoll_wait on MHD's descriptor drives
 * MHD_run, the least any event loop can do. Like the agent, it answers from the second
 * access callback, so keep-alive works the same way.
 *
 * Usage: bare-mhd ADDR:PORT   prints "port N" on stdout once it listens; stops on SIGTERM. */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "kpa/httpd.h"

static volatile sig_atomic_t stop_requested;

static void on_term(int sig) {
        (void) sig;
        stop_requested = 1;
}

/* The agent formats MHD's diagnostics for its debug log; here they are dropped (at 256
 * connections MHD reports every connection it refuses). */
static void on_mhd_log(void *cls, const char *fmt, va_list ap) {
        (void) cls;
        (void) fmt;
        (void) ap;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **req_cls) {
        static int marker;
        struct MHD_Response *resp = cls;
        (void) url;
        (void) method;
        (void) version;
        (void) upload_data;
        if (!*req_cls) {
                *req_cls = &marker;
                return MHD_YES;
        }
        *upload_data_size = 0;
        return MHD_queue_response(conn, MHD_HTTP_OK, resp);
}

/* The agent's listen_socket() without its error texts: same flags, same backlog. */
static int listen_on(const char *listen_str, uint16_t *ret_port) {
        struct sockaddr_storage ss;
        socklen_t len;
        char err[256];
        int one = 1;

        if (httpd_parse_listen(listen_str, &ss, &len, err, sizeof err) < 0) {
                fprintf(stderr, "bare-mhd: %s\n", err);
                return -1;
        }
        int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
            bind(fd, (struct sockaddr *) &ss, len) < 0 || listen(fd, 128) < 0 ||
            getsockname(fd, (struct sockaddr *) &ss, &(socklen_t){ sizeof ss }) < 0) {
                fprintf(stderr, "bare-mhd: listen on %s: %s\n", listen_str, strerror(errno));
                if (fd >= 0)
                        close(fd);
                return -1;
        }
        *ret_port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *) &ss)->sin6_port
                                                   : ((struct sockaddr_in *) &ss)->sin_port);
        return fd;
}

int main(int argc, char **argv) {
        uint16_t port = 0;
        if (argc != 2) {
                fprintf(stderr, "usage: bare-mhd ADDR:PORT\n");
                return 2;
        }
        int fd = listen_on(argv[1], &port);
        if (fd < 0)
                return 1;
        struct MHD_Response *resp = MHD_create_response_from_buffer(3, (void *) "ok\n",
                                                                    MHD_RESPMEM_PERSISTENT);
        if (!resp)
                return 1;
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
        struct MHD_Daemon *d = MHD_start_daemon(
                MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG, 0, NULL, NULL,
                on_access, resp,
                MHD_OPTION_LISTEN_SOCKET, (MHD_socket) fd,
                MHD_OPTION_CONNECTION_LIMIT, (unsigned int) HTTPD_DEFAULT_MAX_CONNECTIONS,
                MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int) HTTPD_DEFAULT_MAX_PER_IP,
                MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int) HTTPD_DEFAULT_IDLE_TIMEOUT_S,
                MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t) HTTPD_DEFAULT_CONN_MEMORY_LIMIT,
                MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, NULL,
                MHD_OPTION_END);
        if (!d) {
                fprintf(stderr, "bare-mhd: MHD_start_daemon failed\n");
                return 1;
        }
        const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_EPOLL_FD);
        int ep = epoll_create1(EPOLL_CLOEXEC);
        struct epoll_event ev = { .events = EPOLLIN };
        if (!info || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, info->epoll_fd, &ev) < 0) {
                fprintf(stderr, "bare-mhd: cannot watch MHD's epoll descriptor\n");
                return 1;
        }
        struct sigaction sa = { .sa_handler = on_term };
        sigaction(SIGTERM, &sa, NULL);
        sigaction(SIGINT, &sa, NULL);
        signal(SIGPIPE, SIG_IGN);
        printf("port %u\n", (unsigned) port);
        fflush(stdout);

        /* The agent's loop in miniature: wait on MHD's epoll set, bounded by MHD's timeout. */
        while (!stop_requested) {
                MHD_UNSIGNED_LONG_LONG ms = 0;
                int tmo = MHD_get_timeout(d, &ms) == MHD_YES ? (ms > 1000 ? 1000 : (int) ms) : 1000;
                struct epoll_event out;
                int n = epoll_wait(ep, &out, 1, tmo);
                if (n < 0 && errno != EINTR)
                        break;
                MHD_run(d);
        }
        MHD_stop_daemon(d);
        MHD_destroy_response(resp);
        close(ep);
        return 0;
}
