#include "benchutil.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kpa/demo.h"
#include "kpa/log.h"
#include "kpa/parse.h"

uint64_t bu_now_ns(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000000u + (uint64_t) ts.tv_nsec;
}

void bu_sleep_ms(unsigned ms) {
        struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000L };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

int bu_proc_cpu_ns(pid_t pid, uint64_t *ret) {
        char path[64], buf[2048];
        snprintf(path, sizeof path, "/proc/%d/stat", (int) pid);
        FILE *f = fopen(path, "re");
        if (!f)
                return -errno;
        size_t n = fread(buf, 1, sizeof buf - 1, f);
        fclose(f);
        buf[n] = '\0';
        /* Fields 14 and 15 (utime, stime) follow the command name, which is in parentheses
         * and may itself hold spaces: count from the last ')'. */
        char *p = strrchr(buf, ')');
        if (!p)
                return -EINVAL;
        unsigned long long ut = 0, st = 0;
        if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
                return -EINVAL;
        long hz = sysconf(_SC_CLK_TCK);
        *ret = (uint64_t) (ut + st) * (1000000000u / (uint64_t) (hz > 0 ? hz : 100));
        return 0;
}

int bu_proc_rss_kib(pid_t pid, long *ret_rss, long *ret_hwm, long *ret_anon, long *ret_file) {
        static const char *const keys[] = { "VmRSS:", "VmHWM:", "RssAnon:", "RssFile:" };
        long v[4] = { -1, -1, -1, -1 };
        char path[64], line[256];
        snprintf(path, sizeof path, "/proc/%d/status", (int) pid);
        FILE *f = fopen(path, "re");
        if (!f)
                return -errno;
        while (fgets(line, sizeof line, f))
                for (int i = 0; i < 4; i++)
                        if (strncmp(line, keys[i], strlen(keys[i])) == 0)
                                v[i] = strtol(line + strlen(keys[i]), NULL, 10);
        fclose(f);
        for (int i = 0; i < 4; i++)
                if (v[i] < 0)
                        return -EINVAL;
        *ret_rss = v[0];
        *ret_hwm = v[1];
        *ret_anon = v[2];
        *ret_file = v[3];
        return 0;
}

static uint64_t tv_ns(const struct timeval *tv) {
        return (uint64_t) tv->tv_sec * 1000000000u + (uint64_t) tv->tv_usec * 1000u;
}

uint64_t bu_self_cpu_ns(void) {
        struct rusage ru;
        getrusage(RUSAGE_SELF, &ru);
        return tv_ns(&ru.ru_utime) + tv_ns(&ru.ru_stime);
}

uint64_t bu_children_cpu_ns(void) {
        struct rusage ru;
        getrusage(RUSAGE_CHILDREN, &ru);
        return tv_ns(&ru.ru_utime) + tv_ns(&ru.ru_stime);
}

int bu_spawn(char *const argv[], char *const envp[], bool pipe_in, bool pipe_out,
             const char *stderr_path, struct child *ret) {
        int in[2] = { -1, -1 }, out[2] = { -1, -1 };
        if ((pipe_in && pipe2(in, O_CLOEXEC) < 0) || (pipe_out && pipe2(out, O_CLOEXEC) < 0))
                return -errno;
        pid_t pid = fork();
        if (pid < 0)
                return -errno;
        if (pid == 0) {
                int devnull = open("/dev/null", O_RDWR);
                dup2(pipe_in ? in[0] : devnull, 0);
                dup2(pipe_out ? out[1] : devnull, 1);
                if (stderr_path) {
                        int e = open(stderr_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
                        if (e >= 0)
                                dup2(e, 2);
                }
                if (envp)
                        execve(argv[0], argv, envp);
                else
                        execvp(argv[0], argv);
                _exit(127);
        }
        if (pipe_in)
                close(in[0]);
        if (pipe_out)
                close(out[1]);
        *ret = (struct child){ pid, pipe_in ? in[1] : -1, pipe_out ? out[0] : -1 };
        return 0;
}

int bu_read_line(struct child *c, char *buf, size_t len, unsigned timeout_ms) {
        size_t used = 0;
        uint64_t deadline = bu_now_ns() + (uint64_t) timeout_ms * 1000000u;
        while (used + 1 < len) {
                uint64_t now = bu_now_ns();
                if (now >= deadline)
                        return -ETIMEDOUT;
                struct pollfd pfd = { c->out_fd, POLLIN, 0 };
                int r = poll(&pfd, 1, (int) ((deadline - now) / 1000000u) + 1);
                if (r < 0 && errno == EINTR)
                        continue;
                if (r <= 0)
                        return r < 0 ? -errno : -ETIMEDOUT;
                /* One byte at a time: the child's later output stays in the pipe. */
                ssize_t n = read(c->out_fd, buf + used, 1);
                if (n <= 0)
                        return -EPIPE;
                if (buf[used] == '\n')
                        break;
                used++;
        }
        buf[used] = '\0';
        return 0;
}

void bu_stop(struct child *c) {
        if (c->pid <= 0)
                return;
        kill(c->pid, SIGTERM);
        for (int i = 0; i < 500; i++) {
                if (waitpid(c->pid, NULL, WNOHANG) == c->pid)
                        goto reaped;
                bu_sleep_ms(10);
        }
        kill(c->pid, SIGKILL);
        waitpid(c->pid, NULL, 0);
reaped:
        if (c->in_fd >= 0)
                close(c->in_fd);
        if (c->out_fd >= 0)
                close(c->out_fd);
        c->pid = -1;
        c->in_fd = c->out_fd = -1;
}

int bu_run_quiet(char *const argv[], char *const envp[]) {
        struct child c = { .pid = -1, .in_fd = -1, .out_fd = -1 };
        int status;
        if (bu_spawn(argv, envp, false, false, "/dev/null", &c) < 0)
                return -1;
        if (waitpid(c.pid, &status, 0) < 0)
                return -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

int bu_http_get(unsigned port, const char *path, char *body, size_t len) {
        struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port) };
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
                return -errno;
        struct timeval tv = { 5, 0 };
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        if (connect(fd, (struct sockaddr *) &sa, sizeof sa) < 0) {
                int e = errno;
                close(fd);
                return -e;
        }
        char req[256], buf[65536];
        int n = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n", path);
        if (write(fd, req, (size_t) n) != n) {
                close(fd);
                return -EIO;
        }
        size_t used = 0;
        ssize_t r;
        while (used + 1 < sizeof buf && (r = read(fd, buf + used, sizeof buf - 1 - used)) > 0)
                used += (size_t) r;
        close(fd);
        buf[used] = '\0';
        int status = 0;
        if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
                return -EPROTO;
        if (body && len) {
                const char *b = strstr(buf, "\r\n\r\n");
                snprintf(body, len, "%s", b ? b + 4 : "");
        }
        return status;
}

int bu_wait_200(unsigned port, const char *path, unsigned timeout_ms) {
        uint64_t deadline = bu_now_ns() + (uint64_t) timeout_ms * 1000000u;
        while (bu_now_ns() < deadline) {
                if (bu_http_get(port, path, NULL, 0) == 200)
                        return 0;
                bu_sleep_ms(50);
        }
        return -ETIMEDOUT;
}

long bu_agent_checks_ok(unsigned port) {
        static char body[65536];
        if (bu_http_get(port, "/metrics", body, sizeof body) != 200)
                return -1;
        const char *p = strstr(body, "kpa_checks_total{result=\"ok\"} ");
        return p ? strtol(p + strlen("kpa_checks_total{result=\"ok\"} "), NULL, 10) : -1;
}

int bu_agent_start(const struct bench_paths *p, const char *bootstrap, const char *interval,
                   const char *tag, struct agent_proc *ret) {
        return bu_agent_start_with(p, bootstrap, "1", interval, "10s", NULL, tag, ret);
}

int bu_agent_start_with(const struct bench_paths *p, const char *bootstrap, const char *node_id,
                        const char *interval, const char *check_timeout, const char *extra,
                        const char *tag, struct agent_proc *ret) {
        static unsigned serial;
        struct agent_proc a = { .port = 0 };
        /* A new file each time: an old agent's "started" line must never be read. */
        snprintf(a.log, sizeof a.log, "%s/agent-%s-%u.log", p->tmp, tag, ++serial);
        char *argv[] = { (char *) p->agent, "--bootstrap", (char *) bootstrap, "--node-id", (char *) node_id,
                         "--listen", "127.0.0.1:0", "--interval", (char *) interval,
                         "--check-timeout", (char *) check_timeout, (char *) extra, NULL };
        int r = bu_spawn(argv, NULL, false, false, a.log, &a.c);
        if (r < 0)
                return r;
        /* The "started" line names the port; the agent writes it before its first check. */
        for (int i = 0; i < 1000 && a.port == 0; i++) {
                char line[4096];
                FILE *f = fopen(a.log, "re");
                while (f && fgets(line, sizeof line, f)) {
                        const char *s = strstr(line, "(port ");
                        if (strstr(line, "\"started\"") && s)
                                a.port = (unsigned) strtoul(s + 6, NULL, 10);
                }
                if (f)
                        fclose(f);
                if (a.port == 0)
                        bu_sleep_ms(10);
        }
        if (a.port == 0) {
                bu_stop(&a.c);
                return -ETIMEDOUT;
        }
        *ret = a;
        return 0;
}

int bu_mock_host_main(int topics, int partitions) {
        struct demo_topic *t = calloc((size_t) topics, sizeof *t);
        char (*names)[32] = calloc((size_t) topics, sizeof *names);
        char err[512];
        struct demo *d;
        if (!t || !names)
                return 1;
        log_setup("kpa-bench-mock", LOG_LEVEL_ERROR);
        for (int i = 0; i < topics; i++) {
                snprintf(names[i], sizeof names[i], "bench-%03d", i);
                t[i] = (struct demo_topic){ names[i], partitions, 3 };
        }
        uint64_t t0 = bu_now_ns();
        if (demo_start(&(struct demo_opts){ .brokers = 3, .local_id = 1, .topics = t,
                                            .n_topics = (size_t) topics }, &d, err, sizeof err) < 0) {
                fprintf(stderr, "mock host: %s\n", err);
                return 1;
        }
        printf("bootstrap %s %.3f\n", demo_bootstrap(d), (double) (bu_now_ns() - t0) / 1e9);
        fflush(stdout);
        /* Serve until the bench closes our stdin. */
        char c;
        while (read(0, &c, 1) > 0)
                ;
        demo_stop(d);
        free(t);
        free(names);
        return 0;
}

int bu_mock_start(const struct bench_paths *p, int topics, int partitions, struct mock_proc *ret) {
        char ts[16], ps[16], line[256];
        snprintf(ts, sizeof ts, "%d", topics);
        snprintf(ps, sizeof ps, "%d", partitions);
        char *argv[] = { (char *) p->self, "--mock-host", ts, ps, NULL };
        struct mock_proc m = { .create_s = 0 };
        int r = bu_spawn(argv, NULL, true, true, NULL, &m.c);
        if (r < 0)
                return r;
        if ((r = bu_read_line(&m.c, line, sizeof line, 600000)) < 0 ||
            sscanf(line, "bootstrap %127s %lf", m.bootstrap, &m.create_s) != 2) {
                bu_stop(&m.c);
                return r < 0 ? r : -EPROTO;
        }
        *ret = m;
        return 0;
}

void bu_mock_stop(struct mock_proc *m) {
        if (m->c.in_fd >= 0) {
                close(m->c.in_fd);
                m->c.in_fd = -1;
        }
        bu_stop(&m->c);
}

static double field(const char *line, const char *key) {
        const char *p = strstr(line, key);
        return p ? strtod(p + strlen(key), NULL) : -1;
}

int bu_wrk(const struct bench_paths *p, unsigned port, const char *path, unsigned conns,
           unsigned seconds, unsigned pace_ms, struct wrk_result *ret) {
        char url[128], c[16], t[16], d[16], line[1024];
        snprintf(url, sizeof url, "http://127.0.0.1:%u%s", port, path);
        snprintf(c, sizeof c, "%u", conns);
        /* wrk needs at least one connection per thread; the machine has two cores. */
        snprintf(t, sizeof t, "%u", conns < 2 ? 1u : 2u);
        snprintf(d, sizeof d, "%us", seconds);
        char *argv[] = { "wrk", "-t", t, "-c", c, "-d", d, "--timeout", "5s",
                         "-H", "Connection: close", "-s", (char *) p->lua, url, NULL };
        struct child ch;
        struct wrk_result w = { .ok = false };
        char pace[16];
        snprintf(pace, sizeof pace, "%u", pace_ms);
        setenv("KPA_WRK_PACE_MS", pace, 1);
        int r = bu_spawn(argv, NULL, false, true, "/dev/null", &ch);
        unsetenv("KPA_WRK_PACE_MS");
        if (r < 0)
                return r;
        while (bu_read_line(&ch, line, sizeof line, (seconds + 30) * 1000) == 0) {
                if (strncmp(line, "KPAWRK ", 7) != 0)
                        continue;
                w.requests = (uint64_t) field(line, " requests=");
                w.duration_s = field(line, " duration_us=") / 1e6;
                w.p50_us = field(line, " p50=");
                w.p90_us = field(line, " p90=");
                w.p99_us = field(line, " p99=");
                w.max_us = field(line, " max=");
                w.err_connect = (uint64_t) field(line, " connect=");
                w.err_read = (uint64_t) field(line, " read=");
                w.err_write = (uint64_t) field(line, " write=");
                w.err_timeout = (uint64_t) field(line, " timeout=");
                w.err_status = (uint64_t) field(line, " status=");
                w.rps = w.duration_s > 0 ? (double) w.requests / w.duration_s : 0;
                w.ok = true;
        }
        waitpid(ch.pid, NULL, 0);
        close(ch.out_fd);
        if (!w.ok)
                return -EPROTO;
        *ret = w;
        return 0;
}

uint64_t bu_wrk_errors(const struct wrk_result *w) {
        return w->err_connect + w->err_read + w->err_write + w->err_timeout + w->err_status;
}

static int dcmp(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

double bu_median(double *v, size_t n) {
        if (n == 0)
                return 0;
        qsort(v, n, sizeof *v, dcmp);
        return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double bu_mean(const double *v, size_t n) {
        double s = 0;
        for (size_t i = 0; i < n; i++)
                s += v[i];
        return n ? s / (double) n : 0;
}

void bu_table_head(const char *title) {
        printf("\n### %s\n\n", title);
        printf("| figure | kpa | baseline | ratio | target | result |\n");
        printf("| --- | --: | --: | --: | --- | --- |\n");
        fflush(stdout);
}

void bu_row(const char *figure, const char *kpa, const char *base, const char *ratio,
            const char *target, int pass) {
        const char *res = !target || !*target || pass == BU_NA ? "—"
                          : pass == BU_PASS ? "PASS" : "**MISS**";
        printf("| %s | %s | %s | %s | %s | %s |\n", figure, kpa, base, ratio,
               target && *target ? target : "—", res);
        fflush(stdout);
}

void bu_note(const char *fmt, ...) {
        va_list ap;
        va_start(ap, fmt);
        vprintf(fmt, ap);
        va_end(ap);
        printf("\n");
        fflush(stdout);
}
