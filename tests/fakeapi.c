/* Drives tests/init/fake_apiserver.py, a loopback HTTPS server that answers like the
 * Kubernetes API server, for the suites of the API client's users (check_rack, check_stsread):
 * test certificates, start with a token and extra arguments, stop with its request log. */
#include "fakeapi.h"

#include <check.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

/* Certificates made once for the whole suite, in the parent process (unchecked fixture). */
static char *certs;

char *fakeapi_cert_path(const char *name) {
        static char buf[4][512];
        static int next;
        char *b = buf[next++ % 4];
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

/* A CA, a server certificate it signs for the loopback names, another for a foreign name,
 * and an unrelated CA. */
void fakeapi_make_certs(void) {
        certs = tu_mkdtemp();
        char ca_key[512], ca_crt[512], other_key[512], other_crt[512], ext[512], wrong_ext[512];
        snprintf(ca_key, sizeof ca_key, "%s/ca.key", certs);
        snprintf(ca_crt, sizeof ca_crt, "%s/ca.crt", certs);
        snprintf(other_key, sizeof other_key, "%s/other-ca.key", certs);
        snprintf(other_crt, sizeof other_crt, "%s/other-ca.crt", certs);
        snprintf(ext, sizeof ext, "%s/ext.cnf", certs);
        snprintf(wrong_ext, sizeof wrong_ext, "%s/wrong.cnf", certs);
        tu_write(certs, "ext.cnf", "subjectAltName=IP:127.0.0.1,IP:::1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
        tu_write(certs, "wrong.cnf", "subjectAltName=DNS:elsewhere.example\nextendedKeyUsage=serverAuth\n");
        openssl((char *const[]){ "/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                                 "ec_paramgen_curve:P-256", "-nodes", "-keyout", ca_key, "-out", ca_crt,
                                 "-days", "2", "-subj", "/CN=kpa-test-ca", NULL });
        openssl((char *const[]){ "/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                                 "ec_paramgen_curve:P-256", "-nodes", "-keyout", other_key, "-out", other_crt,
                                 "-days", "2", "-subj", "/CN=kpa-test-other-ca", NULL });
        const char *leaves[2][2] = { { "server", ext }, { "wrong", wrong_ext } };
        for (int i = 0; i < 2; i++) {
                char key[512], csr[512], crt[512];
                snprintf(key, sizeof key, "%s/%s.key", certs, leaves[i][0]);
                snprintf(csr, sizeof csr, "%s/%s.csr", certs, leaves[i][0]);
                snprintf(crt, sizeof crt, "%s/%s.crt", certs, leaves[i][0]);
                openssl((char *const[]){ "/usr/bin/openssl", "req", "-new", "-newkey", "ec", "-pkeyopt",
                                         "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", csr,
                                         "-subj", "/CN=apiserver", NULL });
                openssl((char *const[]){ "/usr/bin/openssl", "x509", "-req", "-in", csr, "-CA", ca_crt,
                                         "-CAkey", ca_key, "-set_serial", i == 0 ? "1" : "2", "-out", crt,
                                         "-days", "2", "-extfile", (char *) leaves[i][1], NULL });
        }
}

void fakeapi_remove_certs(void) {
        tu_rmtree(certs);
        free(certs);
        certs = NULL;
}

uint64_t fakeapi_now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000 + (uint64_t) ts.tv_nsec / 1000000;
}

/* Reads one line from fd within deadline_ms; aborts the test otherwise. */
static void read_line(int fd, char *buf, size_t len, uint64_t deadline_ms) {
        size_t n = 0;
        for (;;) {
                uint64_t now = fakeapi_now_ms();
                ck_assert_msg(now < deadline_ms, "fake API server did not get ready in time");
                struct pollfd p = { fd, POLLIN, 0 };
                if (poll(&p, 1, (int) (deadline_ms - now)) <= 0)
                        continue;
                char c;
                ssize_t r = read(fd, &c, 1);
                ck_assert_msg(r == 1, "fake API server exited before it was ready");
                if (c == '\n')
                        break;
                ck_assert_uint_lt(n, len - 1);
                buf[n++] = c;
        }
        buf[n] = '\0';
}

/* Starts the server with extra arguments and waits for its "ready <port>" line. */
void fakeapi_start(struct fakeapi *f, const char *cert, const char *host, const char *token,
                   char *const extra[]) {
        char crt[512], key[512], script[512];
        snprintf(crt, sizeof crt, "%s/%s.crt", certs, cert);
        snprintf(key, sizeof key, "%s/%s.key", certs, cert);
        snprintf(script, sizeof script, "%s/tests/init/fake_apiserver.py", tu_source_dir());
        char *argv[32] = { "/usr/bin/python3", script, "--cert", crt, "--key", key, "--host", (char *) host,
                           "--token", (char *) token };
        int n = 10;
        for (int i = 0; extra && extra[i]; i++)
                argv[n++] = extra[i];
        argv[n] = NULL;
        int pfd[2];
        ck_assert_int_eq(pipe(pfd), 0);
        pid_t parent = getpid();
        pid_t pid = fork();
        ck_assert_int_ge(pid, 0);
        if (pid == 0) {
                /* The server dies with the test process, even when a failed assertion ends it. */
                prctl(PR_SET_PDEATHSIG, SIGKILL);
                if (getppid() != parent)
                        _exit(1);
                dup2(pfd[1], 1);
                close(pfd[0]);
                close(pfd[1]);
                execv(argv[0], argv);
                _exit(127);
        }
        close(pfd[1]);
        f->pid = pid;
        f->out = pfd[0];
        char line[64];
        read_line(f->out, line, sizeof line, fakeapi_now_ms() + 30000);
        ck_assert_msg(strncmp(line, "ready ", 6) == 0, "unexpected first line: %s", line);
        snprintf(f->port, sizeof f->port, "%.15s", line + 6);
}

/* Stops the server and returns what it printed after "ready": one line per request. */
char *fakeapi_stop(struct fakeapi *f) {
        kill(f->pid, SIGTERM);
        size_t cap = 4096, len = 0;
        char *log = malloc(cap);
        ssize_t r;
        while ((r = read(f->out, log + len, cap - len - 1)) > 0) {
                len += (size_t) r;
                if (cap - len < 2)
                        log = realloc(log, cap *= 2);
        }
        log[len] = '\0';
        close(f->out);
        waitpid(f->pid, NULL, 0);
        return log;
}

