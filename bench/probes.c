/* Section 1: what a kubelet probe costs. wrk opens a new connection per request, as the
 * kubelet does, against the agent (checking a 10k-partition mock cluster every second) and
 * against bare-mhd (the same libmicrohttpd set-up answering a fixed 200); an exec probe that
 * runs kcat is timed on the same cluster. */
#include "sections.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "benchutil.h"
#include "kpa/httpd.h"

#define PROBE_TOPICS 10
#define PROBE_PARTITIONS_PER_TOPIC 1000
#define THROUGHPUT_TARGET 0.5      /* agent req/s at least this share of bare-mhd's */
#define P99_TARGET_US 2000.0       /* at 16 connections */
#define CPU_TARGET 100.0           /* exec probe CPU / agent CPU per probe */
#define PACE_MS 10                 /* paced load: each connection waits this long per request */

struct exec_probe {
        double cpu_us, wall_ms;
        int runs, ready;
};

/* What many users script: list the cluster with kcat and decide from its output. This is
 * the cheapest such script (it only looks for the local broker); one that also checked the
 * ISR of every partition would cost more. */
static int exec_probe(const char *bootstrap, int runs, struct exec_probe *ret) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "kcat -L -b %s -m 5 | grep -q 'broker 1 at'", bootstrap);
        char *argv[] = { "/bin/sh", "-c", cmd, NULL };
        struct exec_probe e = { .runs = runs };
        uint64_t cpu0 = bu_children_cpu_ns(), t0 = bu_now_ns();
        for (int i = 0; i < runs; i++)
                if (bu_run_quiet(argv, NULL) == 0)
                        e.ready++;
        uint64_t t1 = bu_now_ns(), cpu1 = bu_children_cpu_ns();
        e.cpu_us = (double) (cpu1 - cpu0) / 1e3 / runs;
        e.wall_ms = (double) (t1 - t0) / 1e6 / runs;
        *ret = e;
        return e.ready == runs ? 0 : -EIO;
}

/* Repeated wrk runs of one kind, interleaved with the other kinds so that a noisy moment
 * on the machine is shared out; for the agent, its CPU over each run minus its idle CPU (the
 * checks) for as long, measured just before. */
#define REPS 3

struct series {
        struct wrk_result w[REPS];
        int n;
        double busy_cpu_ms, idle_cpu_ms;
        uint64_t requests;
};

static int run_once(const struct bench_paths *p, pid_t pid, unsigned port, const char *path,
                    unsigned conns, unsigned secs, unsigned pace_ms, struct series *s) {
        uint64_t c0 = 0, c1 = 0, c2 = 0, c3 = 0, t0 = 0, t1 = 0;
        double idle_rate = 0;
        if (pid > 0) {
                if (bu_proc_cpu_ns(pid, &c0) < 0)
                        return -ESRCH;
                t0 = bu_now_ns();
                bu_sleep_ms(secs * 1000);
                t1 = bu_now_ns();
                bu_proc_cpu_ns(pid, &c1);
                idle_rate = (double) (c1 - c0) / (double) (t1 - t0);
                bu_proc_cpu_ns(pid, &c2);
        }
        struct wrk_result *w = &s->w[s->n];
        uint64_t t2 = bu_now_ns();
        int e = bu_wrk(p, port, path, conns, secs, pace_ms, w);
        uint64_t t3 = bu_now_ns();
        if (e < 0)
                return e;
        if (pid > 0) {
                bu_proc_cpu_ns(pid, &c3);
                s->idle_cpu_ms += idle_rate * (double) (t3 - t2) / 1e6;
                s->busy_cpu_ms += (double) (c3 - c2) / 1e6;
        }
        s->requests += w->requests;
        s->n++;
        return 0;
}

static double med(const struct series *s, size_t off) {
        double v[REPS];
        for (int i = 0; i < s->n; i++)
                v[i] = *(const double *) ((const char *) &s->w[i] + off);
        return bu_median(v, (size_t) s->n);
}

#define MED(s, field) med((s), offsetof(struct wrk_result, field))

static double worst(const struct series *s) {
        double m = 0;
        for (int i = 0; i < s->n; i++)
                m = s->w[i].max_us > m ? s->w[i].max_us : m;
        return m;
}

static uint64_t errors(const struct series *s) {
        uint64_t e = 0;
        for (int i = 0; i < s->n; i++)
                e += bu_wrk_errors(&s->w[i]);
        return e;
}

static double cpu_per_probe_us(const struct series *s) {
        double ms = s->busy_cpu_ms - s->idle_cpu_ms;
        return s->requests ? (ms > 0 ? ms : 0) * 1e3 / (double) s->requests : 0;
}

static void detail(const char *what, unsigned conns, const char *load, const struct series *s) {
        bu_note("| %s | %u | %s | %llu | %.0f | %.2f | %.2f | %.2f | %llu |", what, conns, load,
                (unsigned long long) s->requests, MED(s, rps), MED(s, p50_us) / 1e3,
                MED(s, p99_us) / 1e3, worst(s) / 1e3, (unsigned long long) errors(s));
}

int bench_probes(const struct bench_paths *p) {
        static const unsigned conns[] = { 1, 16, 256 };
        enum { N_CONNS = sizeof conns / sizeof *conns, PACED = N_CONNS };
        unsigned secs = p->quick ? 2 : 3;
        struct mock_proc m;
        struct agent_proc a;
        struct child bare = { .pid = -1, .in_fd = -1, .out_fd = -1 };
        struct exec_probe ex;
        /* Index N_CONNS: 16 connections, paced. */
        struct series ready[N_CONNS + 1], status[N_CONNS + 1], base[N_CONNS + 1];
        unsigned bare_port = 0;
        int r;

        memset(ready, 0, sizeof ready);
        memset(status, 0, sizeof status);
        memset(base, 0, sizeof base);
        fprintf(stderr, "[probes] starting a %d-partition mock cluster\n",
                PROBE_TOPICS * PROBE_PARTITIONS_PER_TOPIC);
        if ((r = bu_mock_start(p, PROBE_TOPICS, PROBE_PARTITIONS_PER_TOPIC, &m)) < 0) {
                fprintf(stderr, "[probes] mock cluster: %s\n", strerror(-r));
                return r;
        }
        if ((r = bu_agent_start(p, m.bootstrap, "1s", "probes", &a)) < 0) {
                fprintf(stderr, "[probes] kpa-agent did not start: %s\n", strerror(-r));
                bu_mock_stop(&m);
                return r;
        }
        char *bargv[] = { (char *) p->bare, "127.0.0.1:0", NULL };
        char line[128];
        if ((r = bu_wait_200(a.port, "/readyz", 60000)) < 0 ||
            (r = bu_spawn(bargv, NULL, false, true, NULL, &bare)) < 0 ||
            (r = bu_read_line(&bare, line, sizeof line, 5000)) < 0 ||
            sscanf(line, "port %u", &bare_port) != 1) {
                fprintf(stderr, "[probes] set-up failed (agent not ready or bare-mhd silent)\n");
                r = r < 0 ? r : -EPROTO;
                goto out;
        }

        fprintf(stderr, "[probes] exec probe (kcat)\n");
        if ((r = exec_probe(m.bootstrap, p->quick ? 3 : 20, &ex)) < 0) {
                fprintf(stderr, "[probes] the kcat probe failed %d of %d times\n",
                        ex.runs - ex.ready, ex.runs);
                goto out;
        }
        long checks0 = bu_agent_checks_ok(a.port);
        for (int i = 0; i <= N_CONNS; i++) {
                unsigned c = i == PACED ? 16 : conns[i], pace = i == PACED ? PACE_MS : 0;
                fprintf(stderr, "[probes] %u connections%s: %d x (idle, /readyz, idle, /status, "
                        "bare)\n", c, pace ? " paced" : "", REPS);
                for (int k = 0; k < REPS; k++)
                        if ((r = run_once(p, a.c.pid, a.port, "/readyz", c, secs, pace, &ready[i])) < 0 ||
                            (r = run_once(p, a.c.pid, a.port, "/status", c, secs, pace, &status[i])) < 0 ||
                            (r = run_once(p, -1, bare_port, "/", c, secs, pace, &base[i])) < 0) {
                                fprintf(stderr, "[probes] wrk failed: %s\n", strerror(-r));
                                goto out;
                        }
        }
        long checks = bu_agent_checks_ok(a.port) - checks0;

        bu_table_head("1. Probe cost (agent checking 10k partitions every 1 s; wrk, new connection per request)");
        const char *names[2] = { "/readyz", "/status" };
        for (int i = 0; i < N_CONNS; i++) {
                const struct series *runs[2] = { &ready[i], &status[i] };
                for (int k = 0; k < 2; k++) {
                        char fig[96], v[32], b[32], q[32];
                        double ratio = MED(runs[k], rps) / MED(&base[i], rps);
                        snprintf(fig, sizeof fig, "%s throughput, %u conn", names[k], conns[i]);
                        snprintf(v, sizeof v, "%.0f req/s", MED(runs[k], rps));
                        snprintf(b, sizeof b, "%.0f req/s (bare)", MED(&base[i], rps));
                        snprintf(q, sizeof q, "%.2f×", ratio);
                        bu_row(fig, v, b, q, "≥ 0.5× bare", ratio >= THROUGHPUT_TARGET);
                }
        }
        for (int i = 0; i <= N_CONNS; i++) {
                const struct series *runs[2] = { &ready[i], &status[i] };
                for (int k = 0; k < 2; k++) {
                        char fig[128], v[32], b[32], q[32];
                        if (i == PACED)
                                snprintf(fig, sizeof fig, "%s p99 latency, 16 conn paced (1 per %u ms each)",
                                         names[k], PACE_MS);
                        else
                                snprintf(fig, sizeof fig, "%s p99 latency, %u conn saturating",
                                         names[k], conns[i]);
                        snprintf(v, sizeof v, "%.2f ms", MED(runs[k], p99_us) / 1e3);
                        snprintf(b, sizeof b, "%.2f ms (bare)", MED(&base[i], p99_us) / 1e3);
                        snprintf(q, sizeof q, "%.2f×", MED(runs[k], p99_us) / MED(&base[i], p99_us));
                        bool t = i == PACED || conns[i] == 16;
                        bu_row(fig, v, b, q, t ? "< 2 ms" : "", MED(runs[k], p99_us) < P99_TARGET_US);
                }
        }
        for (int i = 0; i <= N_CONNS; i++) {
                const struct series *runs[2] = { &ready[i], &status[i] };
                for (int k = 0; k < 2; k++) {
                        char fig[96], v[32], b[48], q[32];
                        double cpu = cpu_per_probe_us(runs[k]);
                        double ratio = cpu > 0 ? ex.cpu_us / cpu : 0;
                        snprintf(fig, sizeof fig, "CPU per probe, %s, %u conn%s", names[k],
                                 i == PACED ? 16 : conns[i], i == PACED ? " paced" : "");
                        snprintf(v, sizeof v, "%.1f µs", cpu);
                        snprintf(b, sizeof b, "%.0f µs (kcat exec)", ex.cpu_us);
                        snprintf(q, sizeof q, "%.0f× lower", ratio);
                        bu_row(fig, v, b, q, "≥ 100× lower", ratio >= CPU_TARGET);
                }
        }
        bu_note("\nExec probe `sh -c \"kcat -L -b <broker> -m 5 | grep -q 'broker 1 at'\"` on the same "
                "cluster: %.0f µs CPU (user+sys of sh, kcat, grep) and %.1f ms wall per probe, "
                "mean of %d runs.", ex.cpu_us, ex.wall_ms, ex.runs);
        bu_note("Agent CPU per probe = (agent utime+stime over the wrk runs − its idle CPU for as "
                "long, measured just before each) / requests. The agent completed %ld checks of "
                "10k partitions meanwhile. Each figure is the median of %d interleaved %u-s wrk "
                "runs (1 thread at 1 connection, 2 above); \"saturating\" = each connection sends "
                "its next request as soon as the answer comes, \"paced\" = it waits %u ms first.",
                checks, REPS, secs, PACE_MS);
        bu_note("\n| run | conn | load | requests | req/s | p50 ms | p99 ms | max ms | errors |");
        bu_note("| --- | --: | --- | --: | --: | --: | --: | --: | --: |");
        for (int i = 0; i <= N_CONNS; i++) {
                unsigned c = i == PACED ? 16 : conns[i];
                const char *load = i == PACED ? "paced" : "saturating";
                detail("agent /readyz", c, load, &ready[i]);
                detail("agent /status", c, load, &status[i]);
                detail("bare-mhd /", c, load, &base[i]);
        }
        if (errors(&ready[N_CONNS - 1]) || errors(&base[N_CONNS - 1]))
                bu_note("\nErrors at %u connections: both servers share the agent's limit of %u "
                        "open connections from one client address, so wrk's connections beyond "
                        "it are closed at accept (a kubelet has a handful open at most).",
                        conns[N_CONNS - 1], HTTPD_DEFAULT_MAX_PER_IP);
        r = 0;
out:
        if (bare.pid > 0)
                bu_stop(&bare);
        bu_stop(&a.c);
        bu_mock_stop(&m);
        return r;
}
