/* The C side of the fake Kafka cluster: process handling and the stdin/stdout control lines. */
#include "fakecluster.h"

#include <check.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"

#define FC_PYTHON "/usr/bin/python3"
#define FC_MAX_ARGS 64
#define FC_LINE_TIMEOUT_MS 15000
#define FC_EXIT_TIMEOUT_MS 5000

static int64_t now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Reads the next line from the fake's stdout into a new string (without the newline).
 * Bytes after the newline stay buffered for the next call. */
static int read_line(struct fakecluster *fc, char **ret_line, char *errbuf, size_t errlen) {
        int64_t deadline = now_ms() + FC_LINE_TIMEOUT_MS;
        for (;;) {
                char *nl = memchr(fc->line, '\n', fc->line_len);
                if (nl) {
                        size_t n = (size_t) (nl - fc->line);
                        char *line = strndup(fc->line, n);
                        if (!line)
                                return -ENOMEM;
                        memmove(fc->line, nl + 1, fc->line_len - n - 1);
                        fc->line_len -= n + 1;
                        *ret_line = line;
                        return 0;
                }
                if (fc->line_len == sizeof fc->line) {
                        snprintf(errbuf, errlen, "fakecluster: line longer than %zu bytes", sizeof fc->line);
                        return -E2BIG;
                }
                int64_t left = deadline - now_ms();
                if (left <= 0) {
                        snprintf(errbuf, errlen, "fakecluster: no answer within %d ms", FC_LINE_TIMEOUT_MS);
                        return -ETIMEDOUT;
                }
                struct pollfd pfd = { .fd = fc->from_fake, .events = POLLIN };
                int r = poll(&pfd, 1, (int) left);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r < 0) {
                        snprintf(errbuf, errlen, "fakecluster: poll: %s", strerror(errno));
                        return -errno;
                }
                if (r == 0)
                        continue;
                ssize_t got = read(fc->from_fake, fc->line + fc->line_len, sizeof fc->line - fc->line_len);
                if (got < 0 && errno == EINTR)
                        continue;
                if (got <= 0) {
                        snprintf(errbuf, errlen, "fakecluster: exited (see its log on stderr)");
                        return -EPIPE;
                }
                fc->line_len += (size_t) got;
        }
}

static int parse_ready(struct fakecluster *fc, const char *line, char *errbuf, size_t errlen) {
        cJSON *ready = cJSON_Parse(line);
        const cJSON *ctl = cJSON_GetObjectItemCaseSensitive(ready, "control_port");
        const cJSON *boot = cJSON_GetObjectItemCaseSensitive(ready, "bootstrap");
        const cJSON *brokers = cJSON_GetObjectItemCaseSensitive(ready, "brokers");
        const cJSON *b;
        int r = 0;

        if (!cJSON_IsNumber(ctl) || !cJSON_IsString(boot) || !cJSON_IsArray(brokers) ||
            cJSON_GetArraySize(brokers) > FC_MAX_BROKERS ||
            (size_t) snprintf(fc->bootstrap, sizeof fc->bootstrap, "%s", boot->valuestring) >=
                    sizeof fc->bootstrap) {
                snprintf(errbuf, errlen, "fakecluster: unexpected ready line: %s", line);
                r = -EPROTO;
                goto out;
        }
        fc->control_port = ctl->valueint;
        fc->n_brokers = 0;
        cJSON_ArrayForEach(b, brokers) {
                const cJSON *id = cJSON_GetObjectItemCaseSensitive(b, "id");
                const cJSON *port = cJSON_GetObjectItemCaseSensitive(b, "port");
                if (!cJSON_IsNumber(id) || !cJSON_IsNumber(port)) {
                        snprintf(errbuf, errlen, "fakecluster: unexpected ready line: %s", line);
                        r = -EPROTO;
                        goto out;
                }
                fc->brokers[fc->n_brokers].id = (int32_t) id->valueint;
                fc->brokers[fc->n_brokers].port = port->valueint;
                fc->n_brokers++;
        }
out:
        cJSON_Delete(ready);
        return r;
}

int fc_start(const char *const args[], struct fakecluster **ret_fc, char *errbuf, size_t errlen) {
        char script[1024];
        const char *argv[FC_MAX_ARGS + 3];
        int in[2] = { -1, -1 }, out[2] = { -1, -1 };
        size_t n = 0;

        if ((size_t) snprintf(script, sizeof script, "%s/tests/fakebroker/fakecluster.py",
                              tu_source_dir()) >= sizeof script) {
                snprintf(errbuf, errlen, "fakecluster: source path too long");
                return -ENAMETOOLONG;
        }
        argv[n++] = FC_PYTHON;
        argv[n++] = script;
        for (size_t i = 0; args && args[i]; i++) {
                if (i == FC_MAX_ARGS) {
                        snprintf(errbuf, errlen, "fakecluster: more than %d arguments", FC_MAX_ARGS);
                        return -E2BIG;
                }
                argv[n++] = args[i];
        }
        argv[n] = NULL;

        struct fakecluster *fc = calloc(1, sizeof *fc);
        if (!fc)
                return -ENOMEM;
        fc->pid = -1;
        fc->to_fake = -1;
        fc->from_fake = -1;
        /* Close-on-exec, so that no other child the test starts keeps the fake's stdin open
         * (the fake exits only when every writer is gone). */
        if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
                int r = -errno;
                snprintf(errbuf, errlen, "fakecluster: pipe: %s", strerror(errno));
                if (in[0] >= 0) {
                        close(in[0]);
                        close(in[1]);
                }
                free(fc);
                return r;
        }
        fc->pid = fork();
        if (fc->pid == 0) {
                dup2(in[0], 0);
                dup2(out[1], 1);
                execv(argv[0], (char *const *) argv);
                _exit(127);
        }
        close(in[0]);
        close(out[1]);
        fc->to_fake = in[1];
        fc->from_fake = out[0];
        if (fc->pid < 0) {
                int r = -errno;
                snprintf(errbuf, errlen, "fakecluster: fork: %s", strerror(errno));
                fc_stop(fc);
                return r;
        }

        char *line = NULL;
        int r = read_line(fc, &line, errbuf, errlen);
        if (r == 0)
                r = parse_ready(fc, line, errbuf, errlen);
        free(line);
        if (r < 0) {
                fc_stop(fc);
                return r;
        }
        *ret_fc = fc;
        return 0;
}

int fc_cmd(struct fakecluster *fc, const char *json, cJSON **ret_reply, char *errbuf, size_t errlen) {
        size_t len = strlen(json);
        if (memchr(json, '\n', len)) {
                snprintf(errbuf, errlen, "fakecluster: a command is one line");
                return -EINVAL;
        }
        const char *parts[2] = { json, "\n" };
        size_t lens[2] = { len, 1 };
        for (int k = 0; k < 2; k++) {
                size_t off = 0;
                while (off < lens[k]) {
                        ssize_t w = write(fc->to_fake, parts[k] + off, lens[k] - off);
                        if (w < 0 && errno == EINTR)
                                continue;
                        if (w < 0) {
                                int r = -errno;
                                snprintf(errbuf, errlen, "fakecluster: write: %s", strerror(errno));
                                return r;
                        }
                        off += (size_t) w;
                }
        }

        char *line = NULL;
        int r = read_line(fc, &line, errbuf, errlen);
        if (r < 0)
                return r;
        cJSON *reply = cJSON_Parse(line);
        if (!reply) {
                snprintf(errbuf, errlen, "fakecluster: answer is not JSON: %s", line);
                free(line);
                return -EPROTO;
        }
        free(line);
        if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(reply, "ok"))) {
                const cJSON *err = cJSON_GetObjectItemCaseSensitive(reply, "error");
                snprintf(errbuf, errlen, "fakecluster: %s: %s", json,
                         cJSON_IsString(err) ? err->valuestring : "failed");
                cJSON_Delete(reply);
                return -EPROTO;
        }
        if (ret_reply)
                *ret_reply = reply;
        else
                cJSON_Delete(reply);
        return 0;
}

int fc_port(const struct fakecluster *fc, int32_t id) {
        for (int i = 0; i < fc->n_brokers; i++)
                if (fc->brokers[i].id == id)
                        return fc->brokers[i].port;
        return -1;
}

/* True once the fake's stdout reaches end of file (it has exited), false at the deadline. */
static bool await_stdout_eof(int fd, int64_t deadline) {
        char sink[4096];
        for (;;) {
                int64_t left = deadline - now_ms();
                if (left <= 0)
                        return false;
                struct pollfd pfd = { .fd = fd, .events = POLLIN };
                int r = poll(&pfd, 1, (int) left);
                if (r < 0 && errno != EINTR)
                        return false;
                if (r <= 0)
                        continue;
                ssize_t got = read(fd, sink, sizeof sink);
                if (got == 0 || (got < 0 && errno != EINTR))
                        return true;
        }
}

struct fakecluster *fc_stop(struct fakecluster *fc) {
        if (!fc)
                return NULL;
        if (fc->to_fake >= 0)
                close(fc->to_fake);
        if (fc->pid > 0) {
                /* The fake exits on end of stdin, which closes its stdout: wait for that
                 * event, bounded, and kill it if it does not come. */
                if (fc->from_fake < 0 || !await_stdout_eof(fc->from_fake, now_ms() + FC_EXIT_TIMEOUT_MS))
                        kill(fc->pid, SIGKILL);
                while (waitpid(fc->pid, NULL, 0) < 0 && errno == EINTR)
                        ;
        }
        if (fc->from_fake >= 0)
                close(fc->from_fake);
        free(fc);
        return NULL;
}

void fc_must(struct fakecluster *fc, const char *json) {
        char err[512];
        ck_assert_msg(fc_cmd(fc, json, NULL, err, sizeof err) == 0, "%s: %s", json, err);
}
