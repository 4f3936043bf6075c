#include "testutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

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
