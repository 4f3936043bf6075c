#include "testutil.h"

#include <check.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/time.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

int tu_run_suite(Suite *s) {
        SRunner *sr = srunner_create(s);
        srunner_run_all(sr, CK_NORMAL);
        int failed = srunner_ntests_failed(sr);
        srunner_free(sr);
        return failed == 0 ? 0 : 1;
}

char *tu_mkdtemp(void) {
        const char *base = getenv("TMPDIR");
        char path[512];
        snprintf(path, sizeof path, "%s/kpa-test-XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(path))
                abort();
        return strdup(path);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
        (void) st;
        (void) flag;
        (void) ftw;
        return remove(path);
}

void tu_rmtree(const char *path) {
        if (path)
                nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

void tu_write(const char *dir, const char *name, const char *content) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        FILE *f = fopen(path, "w");
        if (!f || fputs(content, f) < 0 || fclose(f) != 0) {
                fprintf(stderr, "tu_write %s: %s\n", path, strerror(errno));
                abort();
        }
}

char *tu_read(const char *dir, const char *name) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", dir, name);
        FILE *f = fopen(path, "rb");
        if (!f)
                return NULL;
        size_t cap = 4096, len = 0;
        char *buf = malloc(cap);
        size_t n;
        while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
                len += n;
                if (cap - len < 2)
                        buf = realloc(buf, cap *= 2);
        }
        fclose(f);
        buf[len] = '\0';
        return buf;
}

const char *tu_source_dir(void) {
        const char *s = getenv("KPA_SOURCE_DIR");
        return s ? s : "..";
}

const char *tu_build_dir(void) {
        const char *s = getenv("KPA_BUILD_DIR");
        return s ? s : ".";
}


int tu_run(char *const argv[], char *const envp[], char **ret_out, char **ret_err) {
        int out[2], err[2];
        if (pipe2(out, O_CLOEXEC) < 0 || pipe2(err, O_CLOEXEC) < 0)
                abort();
        pid_t pid = fork();
        if (pid < 0)
                abort();
        if (pid == 0) {
                dup2(out[1], 1);
                dup2(err[1], 2);
                if (envp)
                        execve(argv[0], argv, envp);
                else
                        execv(argv[0], argv);
                _exit(127);
        }
        close(out[1]);
        close(err[1]);
        /* Read both pipes together so that neither child stream can fill up and block. */
        char *bufs[2] = { NULL, NULL };
        struct dynamic { char *data; size_t len, cap; } acc[2] = { { malloc(4096), 0, 4096 }, { malloc(4096), 0, 4096 } };
        struct pollfd pfd[2] = { { out[0], POLLIN, 0 }, { err[0], POLLIN, 0 } };
        int open_fds = 2;
        while (open_fds > 0) {
                if (poll(pfd, 2, -1) < 0) {
                        if (errno == EINTR)
                                continue;
                        abort();
                }
                for (int k = 0; k < 2; k++) {
                        if (pfd[k].fd < 0 || !pfd[k].revents)
                                continue;
                        if (acc[k].cap - acc[k].len < 2)
                                acc[k].data = realloc(acc[k].data, acc[k].cap *= 2);
                        ssize_t n = read(pfd[k].fd, acc[k].data + acc[k].len, acc[k].cap - acc[k].len - 1);
                        if (n > 0) {
                                acc[k].len += (size_t) n;
                        } else if (n == 0 || errno != EINTR) {
                                close(pfd[k].fd);
                                pfd[k].fd = -1;
                                open_fds--;
                        }
                }
        }
        for (int k = 0; k < 2; k++) {
                acc[k].data[acc[k].len] = '\0';
                bufs[k] = acc[k].data;
        }
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
                ;
        if (ret_out)
                *ret_out = bufs[0];
        else
                free(bufs[0]);
        if (ret_err)
                *ret_err = bufs[1];
        else
                free(bufs[1]);
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int tu_free_port(void) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        socklen_t len = sizeof a;
        if (fd < 0 || bind(fd, (struct sockaddr *) &a, sizeof a) < 0 ||
            getsockname(fd, (struct sockaddr *) &a, &len) < 0)
                abort();
        close(fd);
        return ntohs(a.sin_port);
}

void tu_spawn(char *const argv[], char *const envp[], struct tu_child *ret) {
        int err[2];
        if (pipe2(err, O_CLOEXEC) < 0)
                abort();
        pid_t pid = fork();
        if (pid < 0)
                abort();
        if (pid == 0) {
                int devnull = open("/dev/null", O_WRONLY);
                dup2(devnull, 1);
                dup2(err[1], 2);
                if (envp)
                        execve(argv[0], argv, envp);
                else
                        execv(argv[0], argv);
                _exit(127);
        }
        close(err[1]);
        memset(ret, 0, sizeof *ret);
        ret->pid = pid;
        ret->err_fd = err[0];
}

static long long now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int tu_wait_line(struct tu_child *c, const char *needle, int timeout_ms, char *line, size_t len) {
        long long deadline = now_ms() + timeout_ms;
        for (;;) {
                /* Consume complete lines already buffered. */
                char *nl;
                while ((nl = memchr(c->buf, '\n', c->len))) {
                        size_t n = (size_t) (nl - c->buf);
                        *nl = '\0';
                        bool hit = strstr(c->buf, needle) != NULL;
                        if (getenv("KPA_TEST_VERBOSE"))
                                fprintf(stderr, "  child: %s\n", c->buf);
                        if (hit && line)
                                snprintf(line, len, "%s", c->buf);
                        memmove(c->buf, nl + 1, c->len - n - 1);
                        c->len -= n + 1;
                        if (hit)
                                return 0;
                }
                long long left = deadline - now_ms();
                if (left <= 0 || c->err_fd < 0)
                        return -1;
                struct pollfd p = { c->err_fd, POLLIN, 0 };
                int r = poll(&p, 1, (int) left);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        return -1;
                if (c->len == sizeof c->buf)
                        c->len = 0;   /* a line longer than the buffer: drop it */
                ssize_t n = read(c->err_fd, c->buf + c->len, sizeof c->buf - c->len);
                if (n <= 0) {
                        close(c->err_fd);
                        c->err_fd = -1;
                        continue;
                }
                c->len += (size_t) n;
        }
}

int tu_stop(struct tu_child *c, int sig, int timeout_ms) {
        if (c->pid <= 0)
                return -1;
        kill(c->pid, sig);
        long long deadline = now_ms() + timeout_ms;
        int status = 0;
        for (;;) {
                pid_t r = waitpid(c->pid, &status, WNOHANG);
                if (r == c->pid)
                        break;
                if (now_ms() >= deadline) {
                        kill(c->pid, SIGKILL);
                        waitpid(c->pid, &status, 0);
                        status = -1;
                        break;
                }
                /* Wait for the child's stderr to close (it does at exit) or a short tick. */
                if (c->err_fd >= 0) {
                        struct pollfd p = { c->err_fd, POLLIN, 0 };
                        if (poll(&p, 1, 20) > 0) {
                                char sink[4096];
                                if (read(c->err_fd, sink, sizeof sink) <= 0) {
                                        close(c->err_fd);
                                        c->err_fd = -1;
                                }
                        }
                } else {
                        struct timespec ts = { 0, 10 * 1000000 };
                        nanosleep(&ts, NULL);
                }
        }
        if (c->err_fd >= 0)
                close(c->err_fd);
        c->err_fd = -1;
        c->pid = 0;
        if (status == -1)
                return -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

int tu_wait_agent_port(struct tu_child *c, int timeout_ms) {
        char line[4096];
        if (tu_wait_line(c, "\"event\":\"started\"", timeout_ms, line, sizeof line) < 0)
                return -1;
        const char *p = strstr(line, "(port ");
        return p ? atoi(p + 6) : -1;
}

int tu_http(int port, const char *method, const char *path, int timeout_ms, char **ret_body) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (connect(fd, (struct sockaddr *) &a, sizeof a) < 0) {
                close(fd);
                return -1;
        }
        char req[1024];
        int n = snprintf(req, sizeof req, "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", method, path);
        if (write(fd, req, (size_t) n) != n) {
                close(fd);
                return -1;
        }
        size_t cap = 1 << 16, len = 0;
        char *buf = malloc(cap);
        for (;;) {
                if (cap - len < 2)
                        buf = realloc(buf, cap *= 2);
                ssize_t r = read(fd, buf + len, cap - len - 1);
                if (r < 0) {
                        free(buf);
                        close(fd);
                        return -1;
                }
                if (r == 0)
                        break;
                len += (size_t) r;
        }
        close(fd);
        buf[len] = '\0';
        int status = -1;
        if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1) {
                free(buf);
                return -1;
        }
        char *body = strstr(buf, "\r\n\r\n");
        if (ret_body)
                *ret_body = strdup(body ? body + 4 : "");
        free(buf);
        return status;
}

void tu_agent_start(struct tu_agent *a, const char *bootstrap, int node_id, char *const defaults[],
                    char *const extra[], char *const wrapper[], int timeout_ms) {
        char bin[600], boot[300], node[64];
        char *argv[64];
        size_t n = 0, max = sizeof argv / sizeof argv[0] - 1;
        snprintf(bin, sizeof bin, "%s/kpa-agent", tu_build_dir());
        snprintf(boot, sizeof boot, "--bootstrap=%s", bootstrap);
        snprintf(node, sizeof node, "--node-id=%d", node_id);
        for (size_t i = 0; wrapper && wrapper[i] && n < max; i++)
                argv[n++] = wrapper[i];
        argv[n++] = bin;
        argv[n++] = boot;
        argv[n++] = node;
        argv[n++] = "--listen=127.0.0.1:0";
        for (size_t i = 0; defaults && defaults[i] && n < max; i++)
                argv[n++] = defaults[i];
        for (size_t i = 0; extra && extra[i] && n < max; i++)
                argv[n++] = extra[i];
        argv[n] = NULL;
        memset(a, 0, sizeof *a);
        tu_spawn(argv, NULL, &a->child);
        a->port = tu_wait_agent_port(&a->child, timeout_ms);
        ck_assert_msg(a->port > 0, "kpa-agent did not start");
}

void tu_agent_expect(struct tu_agent *a, const char *event, int timeout_ms) {
        char needle[64];
        snprintf(needle, sizeof needle, "\"event\":\"%s\"", event);
        ck_assert_msg(tu_wait_line(&a->child, needle, timeout_ms, NULL, 0) == 0, "no %s event", event);
}
