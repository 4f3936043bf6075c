/* Faults against a running kpa-agent: the local broker flapping, slow or erroring, the
 * metadata changing under it, thousands of idle connections, slow-loris clients, SIGTERM
 * under load. Each test keeps kubelet-style probes (a new connection, Connection: close)
 * running from a thread of its own and asserts that every one was answered within
 * PROBE_MAX_US, and that the verdict is right again soon after the fault clears.
 * Figures (probe latency, RSS, recovery time) are printed on stderr as "faults: ..." lines.
 *
 * KPA_FAULTS_LONG=1 makes the flapping last 60 s instead of 20 s.
 * KPA_FAULTS_VALGRIND=1 runs only the valgrind case: the agent under memcheck through a short
 * scenario, which must end with exit status 0 (memcheck turns any error, and any definite or
 * indirect leak, into status 99). */
#include <arpa/inet.h>
#include <check.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "fakecluster.h"
#include "kpa/demo.h"
#include "kpa/httpd.h"
#include "testutil.h"

#define EVENT_MS 15000
/* A kubelet probe's budget in these tests: the manifests' timeoutSeconds for the broker
 * container's probes (3 s). A probe not answered within it is what the kubelet counts as a
 * failure, so that is the behaviour asserted. An answer from the cached verdict takes well
 * under 10 ms, but this suite runs under ASan on a loaded 2-core machine and must never
 * flake: an earlier 1 s bound failed 1 probe in 92 there. Speed targets live in bench/
 * (probes.c), behaviour here. */
#define PROBE_TIMEOUT_MS 3000
#define PROBE_MAX_US (PROBE_TIMEOUT_MS * 1000LL)
/* The agent's check settings in these tests: fast checks, and ready after 2 good ones. */
#define INTERVAL_MS 200
#define READY_AFTER 2

static long long now_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (long long) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void pause_ms(int ms) {
        struct timespec ts = { ms / 1000, (long) (ms % 1000) * 1000000 };
        while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
                ;
}

/* ---- the agent process ---- */

static bool under_valgrind(void) {
        const char *v = getenv("KPA_FAULTS_VALGRIND");
        return v && *v && strcmp(v, "0") != 0;
}

struct agent {
        struct tu_agent proc;
        char vg_log[600];      /* memcheck's log file, when run under valgrind */
};

static char *const fast[] = { "--interval=200ms", "--check-timeout=1s", "--ready-after=2",
                              "--liveness-window=30s", NULL };

/* Starts kpa-agent with fast settings plus extra flags (NULL-terminated); under valgrind, as
 * memcheck's child, with memcheck's report in a file so that stderr carries only the agent's
 * JSON lines. */
static void agent_start(struct agent *a, const char *bootstrap, int node_id, char *const extra[]) {
        static char vglog[700];
        memset(a, 0, sizeof *a);
        char *vg[] = { "/usr/bin/valgrind", "--leak-check=full", "--show-leak-kinds=definite,indirect",
                       "--errors-for-leak-kinds=definite,indirect", "--error-exitcode=99",
                       "--track-fds=no", vglog, NULL };
        if (under_valgrind()) {
                snprintf(a->vg_log, sizeof a->vg_log, "%s/valgrind-agent.%d.log", tu_build_dir(), (int) getpid());
                snprintf(vglog, sizeof vglog, "--log-file=%s", a->vg_log);
        }
        tu_agent_start(&a->proc, bootstrap, node_id, fast, extra, under_valgrind() ? vg : NULL,
                       under_valgrind() ? 60000 : EVENT_MS);
}

static void expect_event(struct agent *a, const char *event, int timeout_ms) {
        tu_agent_expect(&a->proc, event, timeout_ms);
}

/* The demo cluster (3 brokers, node 1 watched) and a ready agent on it. */
static struct demo *ready_on_demo(struct agent *a, char *const extra[]) {
        struct demo *d;
        char err[512];
        ck_assert_msg(demo_start(&(struct demo_opts){ 0 }, &d, err, sizeof err) == 0, "%s", err);
        agent_start(a, demo_bootstrap(d), 1, extra);
        expect_event(a, "ready", under_valgrind() ? 60000 : EVENT_MS);
        return d;
}

/* The agent is still running (not exited, not killed by a signal). */
static void assert_running(struct agent *a) {
        int status;
        ck_assert_msg(waitpid(a->proc.child.pid, &status, WNOHANG) == 0, "the agent exited (status 0x%x)", status);
}

/* VmRSS of pid in KiB. */
static long rss_kib(int pid) {
        char path[64], line[256];
        long kib = -1;
        snprintf(path, sizeof path, "/proc/%d/status", pid);
        FILE *f = fopen(path, "r");
        ck_assert_ptr_nonnull(f);
        while (fgets(line, sizeof line, f))
                if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
                        break;
        fclose(f);
        ck_assert_int_gt(kib, 0);
        return kib;
}

/* ---- kubelet-style probes ---- */

/* One request on a new connection from source address src (NULL: the default, 127.0.0.1)
 * to 127.0.0.1:port, as kubelet sends it. Returns the status code, or -1 when no answer came
 * (refused, closed, or timed out); *ret_us is how long it took. */
static int probe(const char *src, int port, const char *path, int timeout_ms, long long *ret_us) {
        long long t0 = now_us();
        int status = -1;
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ck_assert_int_ge(fd, 0);
        struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        if (src) {
                struct sockaddr_in s = { .sin_family = AF_INET };
                inet_pton(AF_INET, src, &s.sin_addr);
                ck_assert_int_eq(bind(fd, (struct sockaddr *) &s, sizeof s), 0);
        }
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        if (connect(fd, (struct sockaddr *) &a, sizeof a) == 0) {
                char req[256], buf[4096];
                int n = snprintf(req, sizeof req,
                                 "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: kube-probe/1.29\r\n"
                                 "Accept: */*\r\nConnection: close\r\n\r\n", path);
                size_t len = 0;
                if (write(fd, req, (size_t) n) == n) {
                        ssize_t r;
                        while (len < sizeof buf - 1 && (r = read(fd, buf + len, sizeof buf - 1 - len)) > 0)
                                len += (size_t) r;
                }
                buf[len] = '\0';
                if (sscanf(buf, "HTTP/1.%*d %d", &status) != 1)
                        status = -1;
        }
        close(fd);
        *ret_us = now_us() - t0;
        return status;
}

struct prober {
        int port;
        const char *src;
        const char *path;
        int period_ms;
        atomic_bool stop;
        pthread_t thread;
        /* results */
        int n, answered, unanswered, slow;
        long long max_us, sum_us;
        int last_status;
};

static void *prober_main(void *arg) {
        struct prober *p = arg;
        while (!atomic_load(&p->stop)) {
                long long us;
                int status = probe(p->src, p->port, p->path, PROBE_TIMEOUT_MS, &us);
                p->n++;
                p->sum_us += us;
                if (us > p->max_us)
                        p->max_us = us;
                if (status == 200 || status == 503)
                        p->answered++;
                else
                        p->unanswered++;
                if (us >= PROBE_MAX_US)
                        p->slow++;
                p->last_status = status;
                pause_ms(p->period_ms);
        }
        return NULL;
}

static void prober_start(struct prober *p, int port, const char *src, const char *path, int period_ms) {
        memset(p, 0, sizeof *p);
        p->port = port;
        p->src = src;
        p->path = path;
        p->period_ms = period_ms;
        atomic_init(&p->stop, false);
        ck_assert_int_eq(pthread_create(&p->thread, NULL, prober_main, p), 0);
}

/* Stops the prober, prints its figures under label, and asserts that every probe was
 * answered (200 or 503) within PROBE_MAX_US. */
static void prober_finish(struct prober *p, const char *label) {
        atomic_store(&p->stop, true);
        pthread_join(p->thread, NULL);
        fprintf(stderr, "faults: %s: %d probes of %s from %s, %d unanswered, max %.1f ms, mean %.2f ms\n",
                label, p->n, p->path, p->src ? p->src : "127.0.0.1", p->unanswered, p->max_us / 1000.0,
                p->n ? p->sum_us / 1000.0 / p->n : 0.0);
        ck_assert_int_gt(p->n, 0);
        ck_assert_msg(p->unanswered == 0, "%s: %d of %d probes unanswered", label, p->unanswered, p->n);
        ck_assert_msg(p->max_us < PROBE_MAX_US, "%s: a probe took %.1f ms", label, p->max_us / 1000.0);
}

/* Polls /readyz until it answers want (bounded by timeout_ms); returns the ms it took. */
static long long await_readyz(struct agent *a, int want, int timeout_ms) {
        long long t0 = now_us();
        int last = -1;
        while (now_us() - t0 < (long long) timeout_ms * 1000) {
                long long us;
                last = probe(NULL, a->proc.port, "/readyz", 1000, &us);
                if (last == want)
                        return (now_us() - t0) / 1000;
                pause_ms(20);
        }
        ck_abort_msg("/readyz still %d after %d ms (wanted %d)", last, timeout_ms, want);
        return -1;
}

/* The longest a recovery may take once a fault clears: READY_AFTER good checks, each at most
 * one interval apart, plus a check that may have started just before the fault cleared (its
 * timeout), with generous scheduling slack for the sanitizer build on a loaded machine (the
 * expected figure, printed, is under a second; how fast is bench/'s question, not this one's). */
#define RECOVERY_MAX_MS (READY_AFTER * INTERVAL_MS + 1000 + 8000)

/* ---- the local broker flapping ---- */

/* Waits ms while draining the agent's stderr, counting ready/not_ready events. */
static void watch_events(struct agent *a, int ms, int *ready, int *not_ready) {
        long long end = now_us() + (long long) ms * 1000;
        char line[4096];
        for (;;) {
                long long left = (end - now_us()) / 1000;
                if (left <= 0)
                        return;
                if (tu_wait_line(&a->proc.child, "\"event\":\"", (int) left, line, sizeof line) < 0)
                        continue;
                if (strstr(line, "\"event\":\"not_ready\""))
                        (*not_ready)++;
                else if (strstr(line, "\"event\":\"ready\""))
                        (*ready)++;
        }
}

/* Up one second, down the next, ending with a down second (seconds is even); then up. */
static void flap(struct demo *d, struct agent *a, int seconds, int *ready, int *not_ready) {
        for (int s = 0; s < seconds; s++) {
                ck_assert_int_eq(demo_broker_set_up(d, 1, s % 2 == 0), 0);
                watch_events(a, 1000, ready, not_ready);
                assert_running(a);
        }
        /* A check against a down broker fails at its timeout (1 s), so the verdict may lag
         * the last down second: wait for it, so that the recovery measured is a real one. */
        await_readyz(a, 503, EVENT_MS);
        ck_assert_int_eq(demo_broker_set_up(d, 1, true), 0);
}

/* The RSS margin: glibc keeps freed memory in its per-thread arenas (every check runs a new
 * librdkafka client with threads of its own, and libuv's pool threads run them), so RSS
 * after a fault sits somewhat above the baseline even with no leak at all. A leak per check
 * would grow with the number of checks (a flap of 20 s runs about a hundred failing and
 * succeeding checks); 1 MiB over the baseline, itself taken after a warm-up flap that already
 * populated the arenas, is far above the noise and far below what even a small per-check
 * leak accumulates over the long (60 s) run. valgrind (the other case) proves no leak. */
#define RSS_MARGIN_KIB 1024
/* AddressSanitizer keeps freed memory in quarantine (up to 256 MiB) by design, so RSS says
 * nothing there; the sanitizer build proves the absence of leaks by LeakSanitizer's exit
 * status at the agent's exit instead. */
#if defined(__SANITIZE_ADDRESS__)
#define RSS_MEANINGFUL 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RSS_MEANINGFUL 0
#endif
#endif
#ifndef RSS_MEANINGFUL
#define RSS_MEANINGFUL 1
#endif

START_TEST(mock_local_broker_flapping_keeps_probes_prompt_and_recovers_without_growth) {
        const char *longrun = getenv("KPA_FAULTS_LONG");
        int seconds = longrun && strcmp(longrun, "1") == 0 ? 60 : 20;
        struct agent a;
        struct demo *d = ready_on_demo(&a, NULL);
        int ready = 0, not_ready = 0;
        /* A short warm-up flap first, so that the baseline has every arena and thread stack a
         * failing and a succeeding check use. */
        flap(d, &a, 4, &ready, &not_ready);
        await_readyz(&a, 200, EVENT_MS);
        watch_events(&a, 2000, &ready, &not_ready);
        long base = rss_kib(a.proc.child.pid);

        ready = not_ready = 0;
        struct prober p;
        prober_start(&p, a.proc.port, NULL, "/readyz", 20);
        flap(d, &a, seconds, &ready, &not_ready);
        long long took = await_readyz(&a, 200, EVENT_MS);
        prober_finish(&p, "broker flapping");
        /* Let the last checks' clients and threads finish before measuring. */
        watch_events(&a, 2000, &ready, &not_ready);
        long after = rss_kib(a.proc.child.pid);
        fprintf(stderr, "faults: broker flapping %d s: %d not_ready and %d ready events; ready %lld ms after the "
                "broker came back; RSS %ld KiB before, %ld KiB after (+%ld)\n",
                seconds, not_ready, ready, took, base, after, after - base);
        /* The down phases were seen: a check runs every 200 ms and the broker is down 1 s, so
         * each of the seconds / 2 phases shows unless the machine starves the agent; at a load
         * average of 30 on 2 cores one in ten was missed, so half of them is the bound. */
        ck_assert_int_ge(not_ready, seconds / 4);
        ck_assert_int_lt(took, RECOVERY_MAX_MS);
        if (RSS_MEANINGFUL)
                ck_assert_msg(after - base < RSS_MARGIN_KIB, "RSS grew from %ld to %ld KiB", base, after);
        ck_assert_int_eq(tu_stop(&a.proc.child, SIGTERM, 5000), 0);
        demo_stop(d);
}
END_TEST

/* ---- slow and erroring broker ---- */

START_TEST(mock_rtt_above_the_check_timeout_keeps_probes_prompt_and_recovers) {
        struct agent a;
        struct demo *d = ready_on_demo(&a, NULL);
        struct prober p;
        prober_start(&p, a.proc.port, NULL, "/readyz", 20);
        /* 2.5 s per answer, against a 1 s bound on the whole check. */
        ck_assert_int_eq(demo_broker_set_rtt(d, 1, 2500), 0);
        long long t0 = now_us();
        expect_event(&a, "not_ready", EVENT_MS);
        long long failed_after = (now_us() - t0) / 1000;
        /* Several checks time out while probes go on. */
        pause_ms(3000);
        ck_assert_int_eq(p.last_status, 503);
        ck_assert_int_eq(demo_broker_set_rtt(d, 1, 0), 0);
        long long took = await_readyz(&a, 200, EVENT_MS);
        prober_finish(&p, "rtt 2500 ms");
        fprintf(stderr, "faults: rtt 2500 ms: not ready %lld ms after the fault, ready %lld ms after it cleared\n",
                failed_after, took);
        /* A check started before the RTT change may still finish on time; the first one
         * after it times out at 1 s. */
        ck_assert_int_lt(failed_after, 2 * INTERVAL_MS + 2 * 1000 + 1000);
        ck_assert_int_lt(took, RECOVERY_MAX_MS);
        ck_assert_int_eq(tu_stop(&a.proc.child, SIGTERM, 5000), 0);
        demo_stop(d);
}
END_TEST

START_TEST(mock_connections_closed_at_apiversions_keep_probes_prompt_and_clear) {
        struct agent a;
        struct demo *d = ready_on_demo(&a, NULL);
        struct prober p;
        prober_start(&p, a.proc.port, NULL, "/readyz", 20);
        /* Every connection is dropped at its first request (ApiVersions, key 18). */
        enum { N = 2000 };
        static rd_kafka_resp_err_t errs[N];
        for (size_t i = 0; i < N; i++)
                errs[i] = RD_KAFKA_RESP_ERR__TRANSPORT;
        rd_kafka_mock_push_request_errors_array(demo_mock(d), 18, N, errs);
        expect_event(&a, "not_ready", EVENT_MS);
        pause_ms(2000);
        ck_assert_int_eq(p.last_status, 503);
        rd_kafka_mock_clear_request_errors(demo_mock(d), 18);
        long long took = await_readyz(&a, 200, EVENT_MS);
        prober_finish(&p, "ApiVersions transport errors");
        fprintf(stderr, "faults: ApiVersions transport errors: ready %lld ms after they cleared\n", took);
        ck_assert_int_lt(took, RECOVERY_MAX_MS);
        ck_assert_int_eq(tu_stop(&a.proc.child, SIGTERM, 5000), 0);
        demo_stop(d);
}
END_TEST

/* ---- metadata changing under the agent ---- */

START_TEST(fake_metadata_changing_at_every_check_keeps_the_verdict_right) {
        struct fakecluster *fc;
        char err[512], boot[64];
        const char *args[] = { "--brokers", "3", "--topic", "orders:6:3:2", NULL };
        ck_assert_msg(fc_start(args, &fc, err, sizeof err) == 0, "%s", err);
        snprintf(boot, sizeof boot, "127.0.0.1:%d", fc_port(fc, 0));
        struct agent a;
        agent_start(&a, boot, 0, NULL);
        expect_event(&a, "ready", EVENT_MS);
        struct prober p;
        prober_start(&p, a.proc.port, NULL, "/readyz", 20);
        /* A change every 100 ms, twice per check interval: ISR shrinking and growing, leaders
         * moving and vanishing, topics (hosted by broker 0) created and deleted. */
        static const char *const churn[] = {
                "{\"op\":\"set_isr\",\"topic\":\"orders\",\"partition\":0,\"isr\":[1,2]}",
                "{\"op\":\"add_topic\",\"name\":\"churn\",\"partitions\":8,\"rf\":3,\"min_isr\":2}",
                "{\"op\":\"set_leader\",\"topic\":\"orders\",\"partition\":1,\"leader\":-1}",
                "{\"op\":\"set_isr\",\"topic\":\"orders\",\"partition\":0,\"isr\":[0,1,2]}",
                "{\"op\":\"set_leader\",\"topic\":\"orders\",\"partition\":2,\"leader\":2}",
                "{\"op\":\"delete_topic\",\"name\":\"churn\"}",
                "{\"op\":\"set_isr\",\"topic\":\"orders\",\"partition\":3,\"isr\":[2]}",
                "{\"op\":\"set_leader\",\"topic\":\"orders\",\"partition\":1,\"leader\":1}",
                "{\"op\":\"set_isr\",\"topic\":\"orders\",\"partition\":3,\"isr\":[0,1,2]}",
                "{\"op\":\"set_leader\",\"topic\":\"orders\",\"partition\":2,\"leader\":0}",
        };
        size_t n_churn = sizeof churn / sizeof churn[0];
        for (size_t i = 0; i < 6 * n_churn; i++) {
                fc_must(fc, churn[i % n_churn]);
                pause_ms(100);
        }
        assert_running(&a);
        /* The churn ends in the healthy state; then one fault at a time, each cleared. */
        long long took = await_readyz(&a, 200, EVENT_MS);
        fprintf(stderr, "faults: metadata churn: ready %lld ms after it stopped\n", took);
        ck_assert_int_lt(took, RECOVERY_MAX_MS);
        static const char *const faults[][2] = {
                { "{\"op\":\"set_isr\",\"topic\":\"orders\",\"partition\":4,\"isr\":[1,2]}",
                  "{\"op\":\"set_isr\",\"topic\":\"orders\",\"partition\":4,\"isr\":[0,1,2]}" },
                { "{\"op\":\"set_replicas\",\"topic\":\"orders\",\"partition\":5,\"replicas\":[1,2,0]}",
                  "{\"op\":\"set_replicas\",\"topic\":\"orders\",\"partition\":5,\"replicas\":[0,1,2]}" },
                { "{\"op\":\"add_topic\",\"name\":\"late\",\"partitions\":2,\"rf\":3,\"min_isr\":2}",
                  "{\"op\":\"delete_topic\",\"name\":\"late\"}" },
        };
        for (size_t i = 0; i < sizeof faults / sizeof faults[0]; i++) {
                fc_must(fc, faults[i][0]);
                if (i == 0) {
                        long long t = await_readyz(&a, 503, EVENT_MS);
                        fprintf(stderr, "faults: metadata: not ready %lld ms after orders-4 lost broker 0 from its ISR\n", t);
                        ck_assert_int_lt(t, 2 * INTERVAL_MS + 1000 + 1000);
                        char *body = NULL;
                        ck_assert_int_eq(tu_http(a.proc.port, "GET", "/readyz?verbose", 2000, &body), 503);
                        ck_assert_msg(strstr(body, "orders-4 (leader 0, isr [1,2])") ||
                                      strstr(body, "orders-4 (leader 1, isr [1,2])") ||
                                      strstr(body, "orders-4 (leader 2, isr [1,2])"), "%s", body);
                        free(body);
                } else {
                        /* Still in sync with every partition it hosts: stays ready. */
                        pause_ms(3 * INTERVAL_MS);
                        ck_assert_int_eq(p.last_status, 200);
                }
                fc_must(fc, faults[i][1]);
                took = await_readyz(&a, 200, EVENT_MS);
                fprintf(stderr, "faults: metadata fault %zu: ready %lld ms after it cleared\n", i, took);
                ck_assert_int_lt(took, RECOVERY_MAX_MS);
        }
        prober_finish(&p, "metadata churn");
        ck_assert_int_eq(tu_stop(&a.proc.child, SIGTERM, 5000), 0);
        fc_stop(fc);
}
END_TEST

/* ---- connections that hold slots ---- */

/* Raises the descriptor limit to at least 16384 where allowed (root may raise the hard
 * limit), else the soft limit to the hard one; returns the new soft limit. */
static long raise_nofile(void) {
        struct rlimit rl;
        ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
        if (rl.rlim_max < 16384) {
                struct rlimit more = { 16384, 16384 };
                if (setrlimit(RLIMIT_NOFILE, &more) == 0)
                        return 16384;
        }
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
        ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &rl), 0);
        return (long) rl.rlim_cur;
}

struct idle_set {
        int *fds;
        int n;
};

/* Opens n connections to port, spread round-robin over the source addresses 127.0.0.first ..
 * 127.0.0.(first + n_addrs - 1), without waiting for them to be accepted and without
 * sending anything. */
static void idle_open(struct idle_set *s, int port, int n, int first, int n_addrs) {
        s->fds = calloc((size_t) n, sizeof *s->fds);
        s->n = 0;
        struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons((uint16_t) port),
                                   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int one = 1;
        for (int i = 0; i < n; i++) {
                int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
                ck_assert_msg(fd >= 0, "socket %d: %s", i, strerror(errno));
                struct sockaddr_in src = { .sin_family = AF_INET };
                src.sin_addr.s_addr = htonl((127u << 24) | (unsigned) (first + i % n_addrs));
                setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
                ck_assert_int_eq(bind(fd, (struct sockaddr *) &src, sizeof src), 0);
                int r = connect(fd, (struct sockaddr *) &dst, sizeof dst);
                ck_assert_msg(r == 0 || errno == EINPROGRESS, "connect %d: %s", i, strerror(errno));
                s->fds[s->n++] = fd;
        }
}

/* As idle_open, in batches of at most 100 (below the agent's listen backlog of 128; a multiple
 * of n_addrs, so that the addresses still take turns), each followed by a request from
 * 127.0.0.3 that is answered only once the agent has accepted every connection queued before
 * it: the listen queue never overflows. The probes then measure the agent holding or refusing
 * the connections, not the kernel dropping SYNs (and probes' SYNs among them, which wait 1 s
 * to be sent again) when 10,000 arrive at once at a starved process. */
static void idle_open_paced(struct idle_set *s, int port, int n, int first, int n_addrs) {
        int size = n_addrs < 100 ? 100 - 100 % n_addrs : n_addrs;
        s->fds = calloc((size_t) n, sizeof *s->fds);
        ck_assert_ptr_nonnull(s->fds);
        s->n = 0;
        for (int done = 0; done < n; done += size) {
                struct idle_set batch;
                int k = n - done < size ? n - done : size;
                long long us;
                idle_open(&batch, port, k, first, n_addrs);
                for (int i = 0; i < batch.n; i++)
                        s->fds[s->n++] = batch.fds[i];
                free(batch.fds);
                ck_assert_int_eq(probe("127.0.0.3", port, "/livez", 5000, &us), 200);
        }
}

/* Counts the connections the agent closed (EOF or reset) and those still open. */
static void idle_census(struct idle_set *s, int *ret_closed, int *ret_open) {
        int closed = 0;
        for (int i = 0; i < s->n; i++) {
                char c;
                ssize_t r = recv(s->fds[i], &c, 1, MSG_DONTWAIT);
                if (r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
                        closed++;
        }
        *ret_closed = closed;
        *ret_open = s->n - closed;
}

static void idle_close(struct idle_set *s) {
        for (int i = 0; i < s->n; i++)
                close(s->fds[i]);
        free(s->fds);
        s->fds = NULL;
        s->n = 0;
}

START_TEST(mock_ten_thousand_idle_connections_from_one_address_leave_other_clients_served) {
        ck_assert_int_ge(raise_nofile(), 10500);
        struct agent a;
        struct demo *d = ready_on_demo(&a, NULL);
        /* Another pod (one address) opens 10k connections and sends nothing. */
        struct idle_set s;
        long long t0 = now_us();
        idle_open_paced(&s, a.proc.port, 10000, 9, 1);
        long long opened = now_us() - t0;
        /* A probe from the flooding address itself is over its per-address limit (asked at
         * once: the connections it holds would end at the 10 s idle timeout). */
        long long us;
        int same = probe("127.0.0.9", a.proc.port, "/readyz", 1000, &us);
        struct prober p;
        prober_start(&p, a.proc.port, "127.0.0.2", "/readyz", 20);
        pause_ms(3000);
        prober_finish(&p, "10k idle connections from 127.0.0.9, probes from 127.0.0.2");
        int closed, open;
        idle_census(&s, &closed, &open);
        fprintf(stderr, "faults: 10k idle from one address: opened in %lld ms; after 3 s the agent had closed %d, "
                "%d not (held by the agent, queued, or still connecting); a probe from that address got %d after %.1f ms\n",
                opened / 1000, closed, open, same, us / 1000.0);
        ck_assert_int_eq(same, -1);
        idle_close(&s);
        assert_running(&a);
        ck_assert_int_eq(tu_stop(&a.proc.child, SIGTERM, 5000), 0);
        demo_stop(d);
}
END_TEST

START_TEST(mock_ten_thousand_idle_connections_from_many_addresses_do_not_starve_probes) {
        ck_assert_int_ge(raise_nofile(), 10500);
        struct agent a;
        struct demo *d = ready_on_demo(&a, NULL);
        /* 40 pods (addresses 127.0.0.10..49), 250 idle connections each: together far over
         * the total limit of 256, each at most 32 held. Probes come from the node (127.0.0.1). */
        struct idle_set s;
        long long t0 = now_us();
        idle_open_paced(&s, a.proc.port, 10000, 10, 40);
        long long opened = now_us() - t0;
        pause_ms(1000);
        struct prober p;
        prober_start(&p, a.proc.port, NULL, "/readyz", 20);
        pause_ms(4000);
        int closed, open;
        idle_census(&s, &closed, &open);
        fprintf(stderr, "faults: 10k idle from 40 addresses: opened in %lld ms; after 5 s the agent had closed %d, "
                "%d not (held by the agent, queued, or still connecting)\n", opened / 1000, closed, open);
        prober_finish(&p, "10k idle connections from 40 addresses, probes from 127.0.0.1");
        idle_close(&s);
        assert_running(&a);
        ck_assert_int_eq(tu_stop(&a.proc.child, SIGTERM, 5000), 0);
        demo_stop(d);
}
END_TEST

/* True when the agent has closed fd (end of stream or reset), waiting up to ms for it. */
static bool closed_by_agent(int fd, int ms) {
        struct pollfd pfd = { fd, POLLIN, 0 };
        if (poll(&pfd, 1, ms) != 1)
                return false;
        char c;
        ssize_t r = recv(fd, &c, 1, MSG_DONTWAIT);
        return r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

/* The eviction rule itself: above 240 of 256 connections, each new one closes the oldest
 * connection with no request in progress, so the newest 240 stay and probes are accepted. */
START_TEST(mock_near_the_limit_the_oldest_idle_connections_are_closed_first) {
        ck_assert_int_ge(raise_nofile(), 1024);
        struct agent a;
        struct demo *d = ready_on_demo(&a, NULL);
        /* 300 connections from 10 addresses (30 each, under the per-address limit), each
         * accepted before the next is opened, so that the agent sees them in this order. */
        enum { N = 300, KEPT = 240 };
        struct idle_set s = { calloc(N, sizeof(int)), 0 };
        for (int i = 0; i < N; i++) {
                struct idle_set one;
                idle_open(&one, a.proc.port, 1, 20 + i % 10, 1);
                struct pollfd pfd = { one.fds[0], POLLOUT, 0 };
                ck_assert_int_eq(poll(&pfd, 1, 2000), 1);
                s.fds[s.n++] = one.fds[0];
                free(one.fds);
                /* Accepted: the probe on its heels is answered, so the agent's loop has run.
                 * (Only below the eviction point: a probe is a connection too.) */
                if (i % 30 == 29 && i < KEPT) {
                        long long us;
                        ck_assert_int_eq(probe(NULL, a.proc.port, "/livez", PROBE_TIMEOUT_MS, &us), 200);
                }
        }
        int evicted = 0, first_kept = -1;
        for (int i = 0; i < N; i++) {
                bool closed = closed_by_agent(s.fds[i], i < N - KEPT ? 2000 : 0);
                if (closed)
                        evicted++;
                else if (first_kept < 0)
                        first_kept = i;
        }
        fprintf(stderr, "faults: 300 idle connections: %d closed by the agent, the oldest kept is #%d\n",
                evicted, first_kept);
        ck_assert_int_eq(evicted, N - KEPT);
        ck_assert_int_eq(first_kept, N - KEPT);
        long long us;
        ck_assert_int_eq(probe(NULL, a.proc.port, "/readyz", PROBE_TIMEOUT_MS, &us), 200);
        ck_assert_int_lt(us, PROBE_MAX_US);
        idle_close(&s);
        ck_assert_int_eq(tu_stop(&a.proc.child, SIGTERM, 5000), 0);
        demo_stop(d);
}
END_TEST

/* Slow-loris: request headers one byte every 2 s, from several connections at once. */
START_TEST(mock_slow_loris_clients_do_not_delay_probes) {
        struct agent a;
        struct demo *d = ready_on_demo(&a, NULL);
        struct idle_set s;
        idle_open(&s, a.proc.port, 30, 3, 1);
        for (int i = 0; i < s.n; i++) {
                struct pollfd pfd = { s.fds[i], POLLOUT, 0 };
                ck_assert_int_eq(poll(&pfd, 1, 2000), 1);
        }
        struct prober p;
        prober_start(&p, a.proc.port, NULL, "/readyz", 20);
        static const char head[] = "GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ";
        /* 12 s of trickling: past the 10 s idle timeout, which each byte resets. */
        for (size_t k = 0; k < 6; k++) {
                for (int i = 0; i < s.n; i++) {
                        const char *c = k < sizeof head - 1 ? &head[k] : "a";
                        ck_assert_int_eq(send(s.fds[i], c, 1, MSG_NOSIGNAL), 1);
                }
                pause_ms(2000);
        }
        int closed, open;
        idle_census(&s, &closed, &open);
        fprintf(stderr, "faults: 30 slow-loris connections for 12 s: %d closed by the agent, %d open\n", closed, open);
        prober_finish(&p, "slow-loris");
        /* Honest about the limit: a byte every 2 s keeps a connection alive (the idle timeout
         * counts silence); the per-address limit (32) and the total limit bound how many. */
        ck_assert_int_eq(open, 30);
        idle_close(&s);
        ck_assert_int_eq(tu_stop(&a.proc.child, SIGTERM, 5000), 0);
        demo_stop(d);
}
END_TEST

/* 8 addresses x 32 connections, each pipelining /metrics requests and reading nothing, with
 * a small receive buffer: each connection's answers get stuck after a few, and such a
 * connection is busy (an answer under way) until the idle timeout. Near the limit the oldest
 * of them must make room for new connections, or probes wait in the listen queue for that
 * timeout. (Few answers per connection, one address every 150 ms: the test is about
 * connections, not about the CPU that answering a flood of requests takes.) */
START_TEST(clients_that_pipeline_and_never_read_do_not_starve_probes) {
        ck_assert_int_ge(raise_nofile(), 4096);
        struct agent a;
        struct demo *d = ready_on_demo(&a, NULL);
        /* About 20 answers of a few KiB fill the agent's send buffer and the client's 4 KiB:
         * 64 leave every connection stuck. */
        enum { ADDRS = 8, PER_ADDR = 32, PIPELINED = 64 };
        static const char one[] = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
        char burst[PIPELINED * (sizeof one - 1)];
        for (int i = 0; i < PIPELINED; i++)
                memcpy(burst + (size_t) i * (sizeof one - 1), one, sizeof one - 1);
        struct prober p;
        prober_start(&p, a.proc.port, NULL, "/livez", 20);
        struct idle_set s = { calloc(ADDRS * PER_ADDR, sizeof(int)), 0 };
        ck_assert_ptr_nonnull(s.fds);
        struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons((uint16_t) a.proc.port),
                                   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        int stuck = 0;
        for (int k = 0; k < ADDRS; k++) {
                for (int i = 0; i < PER_ADDR; i++) {
                        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), small = 4096;
                        struct sockaddr_in src = { .sin_family = AF_INET,
                                                   .sin_addr.s_addr = htonl((127u << 24) | (unsigned) (30 + k)) };
                        ck_assert_int_ge(fd, 0);
                        ck_assert_int_eq(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small), 0);
                        ck_assert_int_eq(bind(fd, (struct sockaddr *) &src, sizeof src), 0);
                        ck_assert_int_eq(connect(fd, (struct sockaddr *) &dst, sizeof dst), 0);
                        ck_assert_int_eq(send(fd, burst, sizeof burst, MSG_NOSIGNAL), (ssize_t) sizeof burst);
                        s.fds[s.n++] = fd;
                        /* Its first answer is here: the agent is answering it before the next
                         * connection comes (else a new connection, not read yet, looks idle). */
                        struct pollfd pfd = { fd, POLLIN, 0 };
                        ck_assert_int_eq(poll(&pfd, 1, 5000), 1);
                }
                pause_ms(150);
        }
        pause_ms(4000);
        /* Connections with answers waiting in the client's buffer (the agent could not send
         * them all), and those the agent ended (its end of stream is there, behind them). */
        int closed = 0;
        for (int i = 0; i < s.n; i++) {
                int queued = 0;
                struct pollfd pfd = { s.fds[i], POLLRDHUP, 0 };
                ioctl(s.fds[i], FIONREAD, &queued);
                stuck += queued > 0;
                closed += poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLRDHUP | POLLHUP | POLLERR));
        }
        fprintf(stderr, "faults: %d clients pipelining %d /metrics and never reading: %d with answers waiting, "
                "%d ended by the agent\n", ADDRS * PER_ADDR, PIPELINED, stuck, closed);
        prober_finish(&p, "clients pipelining /metrics and never reading, probes from 127.0.0.1");
        /* Every connection was stuck, and above 240 each new one ended an old one. */
        ck_assert_int_eq(stuck, ADDRS * PER_ADDR);
        ck_assert_int_ge(closed, ADDRS * PER_ADDR - 240);
        idle_close(&s);
        assert_running(&a);
        ck_assert_int_eq(tu_stop(&a.proc.child, SIGTERM, 5000), 0);
        demo_stop(d);
}
END_TEST

/* ---- held /prestop requests ---- */

/* Drains the agent's stderr on a thread of its own while the test floods the agent: held
 * /prestop requests are logged, and a full pipe would block the agent's loop on a log write. */
struct drainer {
        struct agent *a;
        atomic_bool stop;
        pthread_t thread;
};

static void *drainer_main(void *arg) {
        struct drainer *d = arg;
        while (!atomic_load(&d->stop))
                tu_wait_line(&d->a->proc.child, "\"ts\":", 100, NULL, 0);
        return NULL;
}

static void drainer_start(struct drainer *d, struct agent *a) {
        d->a = a;
        atomic_init(&d->stop, false);
        ck_assert_int_eq(pthread_create(&d->thread, NULL, drainer_main, d), 0);
}

static void drainer_stop(struct drainer *d) {
        atomic_store(&d->stop, true);
        pthread_join(d->thread, NULL);
}

/* Opens per_addr connections from each of 127.0.0.first .. (first + n_addrs - 1), each
 * sending a /prestop request (as the kubelet's preStop hook does) as soon as it is connected.
 * One address after the other, 30 ms apart: the flood is of requests, not of connection
 * attempts (256 SYNs at once overflow any listen queue, and the kernel then drops SYNs,
 * probes' included, whatever the agent does). Returns how many were sent: connections the
 * kernel did not complete within 3 s of the call (the agent accepts nothing) send nothing. */
static int prestop_open(struct idle_set *s, int port, int per_addr, int first, int n_addrs) {
        static const char req[] = "GET /prestop HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
                                  "User-Agent: Go-http-client/1.1\r\nAccept-Encoding: gzip\r\n\r\n";
        int sent = 0;
        long long deadline = now_us() + 3000000;
        s->fds = calloc((size_t) (per_addr * n_addrs), sizeof *s->fds);
        ck_assert_ptr_nonnull(s->fds);
        s->n = 0;
        for (int k = 0; k < n_addrs; k++) {
                struct idle_set one;
                idle_open(&one, port, per_addr, first + k, 1);
                for (int i = 0; i < one.n; i++) {
                        struct pollfd pfd = { one.fds[i], POLLOUT, 0 };
                        long long left_ms = (deadline - now_us()) / 1000;
                        s->fds[s->n++] = one.fds[i];
                        if (poll(&pfd, 1, left_ms > 0 ? (int) left_ms : 0) != 1)
                                continue;
                        ck_assert_int_eq(send(one.fds[i], req, sizeof req - 1, MSG_NOSIGNAL), (ssize_t) (sizeof req - 1));
                        sent++;
                }
                free(one.fds);
                pause_ms(30);
        }
        return sent;
}

/* Counts the connections of s that have an answer (or were closed) and those still waiting;
 * every answer must be a 503 that says it did not wait. */
static void prestop_census(struct idle_set *s, int *ret_answered, int *ret_waiting) {
        int answered = 0;
        for (int i = 0; i < s->n; i++) {
                char buf[1024];
                ssize_t n = recv(s->fds[i], buf, sizeof buf - 1, MSG_DONTWAIT | MSG_PEEK);
                if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
                        continue;
                answered++;
                ck_assert_int_gt(n, 0);
                buf[n] = '\0';
                ck_assert_msg(strncmp(buf, "HTTP/1.1 503 ", 13) == 0 && strstr(buf, "\r\n\r\nnot waiting"),
                              "flood answer: %s", buf);
        }
        *ret_answered = answered;
        *ret_waiting = s->n - answered;
}

/* GET /prestop from 127.0.0.1 on a thread of its own, as the kubelet's preStop hook. */
struct kubelet_prestop {
        int port;
        int status;
        char *body;
        atomic_bool done;
        pthread_t thread;
};

static void *kubelet_prestop_main(void *arg) {
        struct kubelet_prestop *k = arg;
        k->status = tu_http(k->port, "GET", "/prestop", 60000, &k->body);
        atomic_store(&k->done, true);
        return NULL;
}

/* Answers /status's last_check.total, the number of checks the agent completed. */
static int checks_total(struct agent *a) {
        char *body = NULL;
        ck_assert_int_eq(tu_http(a->proc.port, "GET", "/status", 5000, &body), 200);
        cJSON *j = cJSON_Parse(body);
        free(body);
        ck_assert_ptr_nonnull(j);
        cJSON *t = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "last_check"), "total");
        ck_assert(cJSON_IsNumber(t));
        int total = t->valueint;
        cJSON_Delete(j);
        return total;
}

static void await_more_checks(struct agent *a, int more) {
        int target = checks_total(a) + more;
        long long t0 = now_us();
        while (checks_total(a) < target) {
                ck_assert_msg(now_us() - t0 < (long long) EVENT_MS * 1000, "no further checks");
                pause_ms(20);
        }
}

START_TEST(abandoned_and_held_prestop_floods_keep_livez_prompt_and_the_kubelet_prestop_held) {
        ck_assert_int_ge(raise_nofile(), 4096);
        struct fakecluster *fc;
        char err[512], boot[64];
        const char *args[] = { "--brokers", "3", "--topic", "orders:6:3:2", NULL };
        ck_assert_msg(fc_start(args, &fc, err, sizeof err) == 0, "%s", err);
        snprintf(boot, sizeof boot, "127.0.0.1:%d", fc_port(fc, 0));
        struct agent a;
        agent_start(&a, boot, 0, (char *[]){ "--prestop-timeout=60s", NULL });
        expect_event(&a, "ready", EVENT_MS);
        /* orders-2 at its min.insync.replicas (2 of 3) with broker 0 in the ISR: stopping
         * broker 0 is not safe, so every /prestop is held. */
        fc_must(fc, "{\"op\":\"set_isr\",\"topic\":\"orders\",\"partition\":2,\"isr\":[0,1]}");
        await_more_checks(&a, 2);

        struct drainer dr;
        drainer_start(&dr, &a);
        struct prober p;
        prober_start(&p, a.proc.port, NULL, "/livez", 20);
        /* 8 addresses x 32 (the per-address limit) = 256 (the connection limit) /prestop
         * requests, abandoned: the clients hang up, some at once, some once the agent holds
         * them. Ten waves, each of which alone would take every slot if abandoned requests
         * kept theirs. */
        enum { ADDRS = 8, PER_ADDR = 32, WAVES = 10 };
        int sent = 0;
        for (int wave = 0; wave < WAVES; wave++) {
                struct idle_set s;
                sent += prestop_open(&s, a.proc.port, PER_ADDR, 10, ADDRS);
                if (wave % 2)
                        pause_ms(300);
                idle_close(&s);
        }
        pause_ms(1000);
        fprintf(stderr, "faults: abandoned /prestop flood: %d of %d requests sent\n", sent, WAVES * ADDRS * PER_ADDR);
        prober_finish(&p, "abandoned /prestop flood from 8 addresses, probes from 127.0.0.1");
        ck_assert_int_eq(sent, WAVES * ADDRS * PER_ADDR);
        assert_running(&a);

        /* The same flood, held open. Only HTTPD_DEFAULT_MAX_HELD are held; the rest are
         * answered at once with 503 "not waiting ...". */
        prober_start(&p, a.proc.port, NULL, "/livez", 20);
        struct idle_set held;
        ck_assert_int_eq(prestop_open(&held, a.proc.port, PER_ADDR, 10, ADDRS), ADDRS * PER_ADDR);
        int answered = 0, waiting = 0;
        long long t0 = now_us();
        do {
                pause_ms(100);
                prestop_census(&held, &answered, &waiting);
        } while (waiting > (int) HTTPD_DEFAULT_MAX_HELD && now_us() - t0 < 10 * 1000000LL);
        fprintf(stderr, "faults: /prestop flood held open: %d answered at once, %d held\n", answered, waiting);
        ck_assert_int_eq(waiting, HTTPD_DEFAULT_MAX_HELD);

        /* The kubelet's own preStop, from an address holding none, is held in place of one of
         * the flood's, and stays held: it is answered only when stopping becomes safe. */
        struct kubelet_prestop k = { .port = a.proc.port };
        atomic_init(&k.done, false);
        ck_assert_int_eq(pthread_create(&k.thread, NULL, kubelet_prestop_main, &k), 0);
        t0 = now_us();
        do {
                pause_ms(100);
                prestop_census(&held, &answered, &waiting);
        } while (waiting > (int) HTTPD_DEFAULT_MAX_HELD - 1 && now_us() - t0 < 10 * 1000000LL);
        ck_assert_int_eq(waiting, HTTPD_DEFAULT_MAX_HELD - 1);
        pause_ms(2000);
        ck_assert_msg(!atomic_load(&k.done), "the kubelet's preStop was answered while unsafe: %d %s",
                      k.status, k.body ? k.body : "");
        prober_finish(&p, "held /prestop flood from 8 addresses and the kubelet's preStop, probes from 127.0.0.1");

        fc_must(fc, "{\"op\":\"set_isr\",\"topic\":\"orders\",\"partition\":2,\"isr\":[0,1,2]}");
        pthread_join(k.thread, NULL);
        ck_assert_int_eq(k.status, 200);
        ck_assert_msg(strncmp(k.body, "safe to stop: ", 14) == 0, "%s", k.body);
        free(k.body);
        drainer_stop(&dr);
        idle_close(&held);
        assert_running(&a);
        ck_assert_int_eq(tu_stop(&a.proc.child, SIGTERM, 5000), 0);
        fc_stop(fc);
}
END_TEST

/* ---- SIGTERM under load ---- */

struct loader {
        int port;
        atomic_bool stop;
        atomic_int answered, refused;
};

static void *loader_main(void *arg) {
        struct loader *l = arg;
        static const char *const paths[] = { "/readyz", "/livez", "/status", "/metrics", "/readyz?verbose" };
        for (unsigned i = 0; !atomic_load(&l->stop); i++) {
                long long us;
                int st = probe(NULL, l->port, paths[i % 5], 2000, &us);
                if (st > 0)
                        atomic_fetch_add(&l->answered, 1);
                else
                        atomic_fetch_add(&l->refused, 1);
                if (st < 0 && l->refused > 0)
                        pause_ms(5);   /* the agent is gone: do not spin */
        }
        return NULL;
}

START_TEST(mock_sigterm_under_load_exits_0_promptly) {
        struct agent a;
        struct demo *d = ready_on_demo(&a, NULL);
        struct loader l = { .port = a.proc.port };
        atomic_init(&l.stop, false);
        atomic_init(&l.answered, 0);
        atomic_init(&l.refused, 0);
        enum { THREADS = 16 };
        pthread_t t[THREADS];
        for (int i = 0; i < THREADS; i++)
                ck_assert_int_eq(pthread_create(&t[i], NULL, loader_main, &l), 0);
        /* And idle connections held open across the stop. */
        struct idle_set s;
        idle_open(&s, a.proc.port, 20, 5, 1);
        pause_ms(2000);
        int before = atomic_load(&l.answered);
        long long t0 = now_us();
        int status = tu_stop(&a.proc.child, SIGTERM, 10000);
        long long took = (now_us() - t0) / 1000;
        atomic_store(&l.stop, true);
        for (int i = 0; i < THREADS; i++)
                pthread_join(t[i], NULL);
        fprintf(stderr, "faults: SIGTERM under load (%d clients): %d answers in 2 s before it, exit %d after %lld ms\n",
                THREADS, before, status, took);
        ck_assert_int_eq(status, 0);
        ck_assert_int_lt(took, 4000);
        ck_assert_int_gt(before, 100);
        idle_close(&s);
        demo_stop(d);
}
END_TEST

/* ---- the agent under valgrind ---- */

static void dump_file(const char *path) {
        FILE *f = fopen(path, "r");
        char line[1024];
        if (!f)
                return;
        while (fgets(line, sizeof line, f))
                fputs(line, stderr);
        fclose(f);
}

START_TEST(mock_agent_under_valgrind_has_no_errors_and_no_leaks) {
        struct demo *d;
        char err[512];
        ck_assert_int_eq(demo_start(&(struct demo_opts){ 0 }, &d, err, sizeof err), 0);
        struct agent a;
        /* memcheck runs code ~20-50 times slower: longer bounds on each check. */
        agent_start(&a, demo_bootstrap(d), 1, (char *[]){ "--check-timeout=10s", "--interval=500ms",
                                                          "--prestop-timeout=2s", NULL });
        expect_event(&a, "ready", 120000);
        static const char *const paths[] = { "/readyz", "/readyz?verbose", "/livez?verbose", "/status",
                                             "/metrics", "/nope", "/prestop" };
        for (size_t i = 0; i < sizeof paths / sizeof paths[0]; i++) {
                char *body = NULL;
                ck_assert_int_gt(tu_http(a.proc.port, "GET", paths[i], 30000, &body), 0);
                free(body);
        }
        char *body = NULL;
        ck_assert_int_eq(tu_http(a.proc.port, "POST", "/readyz", 30000, &body), 405);
        free(body);
        ck_assert_int_eq(demo_broker_set_up(d, 1, false), 0);
        expect_event(&a, "not_ready", 120000);
        ck_assert_int_eq(demo_broker_set_up(d, 1, true), 0);
        expect_event(&a, "ready", 120000);
        /* An idle connection and a half-sent request open at exit. */
        struct idle_set s;
        idle_open(&s, a.proc.port, 2, 1, 1);
        struct pollfd pfd = { s.fds[1], POLLOUT, 0 };
        ck_assert_int_eq(poll(&pfd, 1, 5000), 1);
        ck_assert_int_eq(send(s.fds[1], "GET /rea", 8, MSG_NOSIGNAL), 8);
        kill(a.proc.child.pid, SIGHUP);
        expect_event(&a, "reloaded", 60000);
        int status = tu_stop(&a.proc.child, SIGTERM, 60000);
        idle_close(&s);
        if (status != 0)
                dump_file(a.vg_log);
        else
                unlink(a.vg_log);
        ck_assert_msg(status == 0, "the agent under valgrind exited with %d (99: memcheck found errors or leaks; "
                      "its report is above)", status);
        demo_stop(d);
}
END_TEST

int main(void) {
        Suite *s = suite_create("faults");
        TCase *tc;
        if (under_valgrind()) {
                tc = tcase_create("valgrind");
                tcase_set_timeout(tc, 400);
                tcase_add_test(tc, mock_agent_under_valgrind_has_no_errors_and_no_leaks);
                suite_add_tcase(s, tc);
        } else {
                tc = tcase_create("broker");
                tcase_set_timeout(tc, 150);
                tcase_add_test(tc, mock_local_broker_flapping_keeps_probes_prompt_and_recovers_without_growth);
                tcase_add_test(tc, mock_rtt_above_the_check_timeout_keeps_probes_prompt_and_recovers);
                tcase_add_test(tc, mock_connections_closed_at_apiversions_keep_probes_prompt_and_clear);
                tcase_add_test(tc, fake_metadata_changing_at_every_check_keeps_the_verdict_right);
                suite_add_tcase(s, tc);
                tc = tcase_create("clients");
                tcase_set_timeout(tc, 90);
                tcase_add_test(tc, mock_ten_thousand_idle_connections_from_one_address_leave_other_clients_served);
                tcase_add_test(tc, mock_ten_thousand_idle_connections_from_many_addresses_do_not_starve_probes);
                tcase_add_test(tc, mock_near_the_limit_the_oldest_idle_connections_are_closed_first);
                tcase_add_test(tc, mock_slow_loris_clients_do_not_delay_probes);
                tcase_add_test(tc, clients_that_pipeline_and_never_read_do_not_starve_probes);
                tcase_add_test(tc, abandoned_and_held_prestop_floods_keep_livez_prompt_and_the_kubelet_prestop_held);
                tcase_add_test(tc, mock_sigterm_under_load_exits_0_promptly);
                suite_add_tcase(s, tc);
        }
        return tu_run_suite(s);
}
