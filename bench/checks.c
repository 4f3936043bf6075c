/* Section 2: the check cycle against cluster size. In this process, on a mock cluster hosted
 * by a child process (so its CPU is not ours), interleaved round by round:
 *   kafka_check()            what the agent does: fresh handle, Metadata, proof, snapshot
 *   persistent metadata      rd_kafka_metadata() on one long-lived handle (the baseline)
 *   fresh raw                rd_kafka_new + rd_kafka_metadata + rd_kafka_destroy
 *   new+destroy              rd_kafka_new + rd_kafka_destroy, no I/O
 * so that the difference can be split into handle lifecycle, connection set-up and the
 * agent's own work. Then verdict_assess() and snapshot_free() on the result, and a real
 * kpa-agent process watching the cluster for its RSS and CPU per check; at the largest size,
 * wrk on /readyz while the checks run. */
#include "sections.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>

#include "benchutil.h"
#include "kpa/kafka.h"
#include "kpa/snapshot.h"
#include "kpa/verdict.h"

#define CHECK_TOPICS 10
#define ADDED_TARGET 1.5          /* kafka_check at most 1.5x the persistent metadata call */
#define P99_TARGET_US 2000.0
#define PACE_MS 10                /* each of 16 connections sends one probe per 10 ms */

struct size_spec {
        int per_topic;
        long rss_target_kib;      /* 0: no target at this size */
};

static const struct size_spec sizes[] = {
        { 100, 0 },
        { 1000, 12 * 1024 },
        { 10000, 40 * 1024 },
};
enum { N_SIZES = sizeof sizes / sizeof *sizes };

enum { OP_CHECK, OP_PERSIST, OP_FRESH, OP_NEWDEL, N_OPS };

struct size_result {
        long partitions;
        double create_s;
        double wall_ms[N_OPS], cpu_ms[N_OPS];   /* medians over the rounds */
        double assess_us, free_us;
        long rss_kib, hwm_kib, anon_kib, file_kib;
        double agent_cpu_per_check_ms, agent_check_ms;
        bool have_wrk;
        struct wrk_result wrk, wrk_bare;
        long checks_during_wrk;
};

static rd_kafka_t *plain_handle(const char *bootstrap) {
        rd_kafka_conf_t *c = rd_kafka_conf_new();
        char es[256];
        if (rd_kafka_conf_set(c, "bootstrap.servers", bootstrap, es, sizeof es) ||
            rd_kafka_conf_set(c, "enable.sparse.connections", "true", es, sizeof es) ||
            rd_kafka_conf_set(c, "log_level", "3", es, sizeof es)) {
                rd_kafka_conf_destroy(c);
                return NULL;
        }
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, es, sizeof es);
        if (!rk)
                rd_kafka_conf_destroy(c);
        return rk;
}

static int metadata_once(rd_kafka_t *rk) {
        const rd_kafka_metadata_t *md = NULL;
        if (rd_kafka_metadata(rk, 1, NULL, &md, 30000))
                return -EIO;
        rd_kafka_metadata_destroy(md);
        return 0;
}

/* Runs op once; adds its wall and CPU time. On OP_CHECK, *keep receives the snapshot. */
static int run_op(int op, struct kafka_client *kc, rd_kafka_t *persistent, const char *bootstrap,
                  double *wall_ms, double *cpu_ms, struct snapshot **keep) {
        struct kafka_result kr;
        rd_kafka_t *rk;
        int r = 0;
        /* The previous snapshot goes before the clock starts: freeing it is not the check. */
        if (op == OP_CHECK)
                *keep = snapshot_free(*keep);
        uint64_t c0 = bu_self_cpu_ns(), t0 = bu_now_ns();
        switch (op) {
        case OP_CHECK:
                kafka_check(kc, false, &kr);
                r = kr.rc;
                if (r == 0)
                        *keep = kr.snap;
                break;
        case OP_PERSIST:
                r = metadata_once(persistent);
                break;
        case OP_FRESH:
                rk = plain_handle(bootstrap);
                r = rk ? metadata_once(rk) : -ENOMEM;
                if (rk)
                        rd_kafka_destroy(rk);
                break;
        case OP_NEWDEL:
                rk = plain_handle(bootstrap);
                r = rk ? 0 : -ENOMEM;
                if (rk)
                        rd_kafka_destroy(rk);
                break;
        }
        *wall_ms = (double) (bu_now_ns() - t0) / 1e6;
        *cpu_ms = (double) (bu_self_cpu_ns() - c0) / 1e6;
        if (op == OP_CHECK && r != 0)
                fprintf(stderr, "[checks] kafka_check failed: %s\n", kr.error);
        return r;
}

static int in_process(const char *bootstrap, int rounds, struct size_result *res) {
        struct kafka_conf *conf;
        struct kafka_client *kc = NULL;
        struct snapshot *snap = NULL;
        rd_kafka_t *persistent = NULL;
        char err[512];
        int r = kafka_conf_load(NULL, bootstrap, &conf, err, sizeof err);
        if (r == 0)
                r = kafka_client_new(conf, &(struct kafka_client_opts){ .timeout_ms = 30000,
                                                                         .local_id = 1 },
                                     &kc, err, sizeof err);
        if (r < 0) {
                fprintf(stderr, "[checks] %s\n", err);
                return r;
        }
        double *wall = calloc((size_t) (rounds * N_OPS), sizeof *wall);
        double *cpu = calloc((size_t) (rounds * N_OPS), sizeof *cpu);
        persistent = plain_handle(bootstrap);
        if (!wall || !cpu || !persistent) {
                r = -ENOMEM;
                goto out;
        }
        /* Warm-up: the first check also fetches min.insync.replicas (reused for 5 minutes,
         * as in the agent), and the persistent handle learns the cluster. */
        double w, c;
        for (int op = 0; op < N_OPS && r == 0; op++)
                r = run_op(op, kc, persistent, bootstrap, &w, &c, &snap);
        for (int i = 0; i < rounds && r == 0; i++)
                for (int op = 0; op < N_OPS && r == 0; op++)
                        r = run_op(op, kc, persistent, bootstrap, &wall[op * rounds + i],
                                   &cpu[op * rounds + i], &snap);
        if (r != 0)
                goto out;
        for (int op = 0; op < N_OPS; op++) {
                res->wall_ms[op] = bu_median(wall + op * rounds, (size_t) rounds);
                res->cpu_ms[op] = bu_median(cpu + op * rounds, (size_t) rounds);
        }

        /* verdict_assess and snapshot_free run on the agent's loop thread, between probes. */
        struct assessment as;
        struct check_outcome o = { .snap = snap, .error = "" };
        int n = 0;
        uint64_t t0 = bu_now_ns();
        do {
                verdict_assess(&o, 1, SCOPE_LOCAL, &as);
                n++;
        } while (n < 5 || bu_now_ns() - t0 < 300000000u);
        res->assess_us = (double) (bu_now_ns() - t0) / 1e3 / n;
        if (as.hosted != res->partitions || !as.good)
                fprintf(stderr, "[checks] unexpected assessment: %d hosted, good=%d\n", as.hosted,
                        as.good);
        double frees = 0;
        for (n = 0; n < 5; n++) {
                struct snapshot *d = snapshot_dup(snap);
                uint64_t f0 = bu_now_ns();
                snapshot_free(d);
                frees += (double) (bu_now_ns() - f0) / 1e3;
        }
        res->free_us = frees / n;
out:
        snapshot_free(snap);
        if (persistent)
                rd_kafka_destroy(persistent);
        kafka_client_free(kc);
        free(wall);
        free(cpu);
        return r;
}

/* A kpa-agent process on the cluster: RSS after a few checks, CPU per check over a window,
 * and, when asked, wrk on /readyz while checks run. */
static int agent_process(const struct bench_paths *p, const char *bootstrap, bool with_wrk,
                         unsigned bare_port, struct size_result *res) {
        struct agent_proc a;
        int r = bu_agent_start(p, bootstrap, "1s", "checks", &a);
        if (r < 0)
                return r;
        uint64_t deadline = bu_now_ns() + 120000000000u;
        while (bu_agent_checks_ok(a.port) < 3 && bu_now_ns() < deadline)
                bu_sleep_ms(100);
        long k0 = bu_agent_checks_ok(a.port);
        if (k0 < 3) {
                fprintf(stderr, "[checks] kpa-agent completed no checks (see %s)\n", a.log);
                bu_stop(&a.c);
                return -ETIMEDOUT;
        }
        bu_proc_rss_kib(a.c.pid, &res->rss_kib, &res->hwm_kib, &res->anon_kib, &res->file_kib);
        uint64_t c0, c1;
        bu_proc_cpu_ns(a.c.pid, &c0);
        bu_sleep_ms(p->quick ? 3000 : 8000);
        bu_proc_cpu_ns(a.c.pid, &c1);
        long k1 = bu_agent_checks_ok(a.port);
        res->agent_cpu_per_check_ms = k1 > k0 ? (double) (c1 - c0) / 1e6 / (double) (k1 - k0) : 0;
        char body[65536];
        if (bu_http_get(a.port, "/metrics", body, sizeof body) == 200) {
                const char *s = strstr(body, "\nkpa_check_duration_seconds ");
                res->agent_check_ms = s ? strtod(s + 28, NULL) * 1e3 : 0;
        }
        if (with_wrk) {
                unsigned secs = p->quick ? 3 : 10;
                long before = bu_agent_checks_ok(a.port);
                r = bu_wrk(p, a.port, "/readyz", 16, secs, PACE_MS, &res->wrk);
                res->checks_during_wrk = bu_agent_checks_ok(a.port) - before;
                if (r == 0)
                        r = bu_wrk(p, bare_port, "/", 16, secs, PACE_MS, &res->wrk_bare);
                res->have_wrk = r == 0;
        }
        bu_stop(&a.c);
        return r;
}

int bench_checks(const struct bench_paths *p) {
        struct size_result res[N_SIZES];
        struct child bare = { .pid = -1, .in_fd = -1, .out_fd = -1 };
        unsigned bare_port = 0;
        char line[128];
        char *bargv[] = { (char *) p->bare, "127.0.0.1:0", NULL };
        int r;

        if ((r = bu_spawn(bargv, NULL, false, true, NULL, &bare)) < 0 ||
            (r = bu_read_line(&bare, line, sizeof line, 5000)) < 0 ||
            sscanf(line, "port %u", &bare_port) != 1) {
                fprintf(stderr, "[checks] bare-mhd did not start\n");
                return r < 0 ? r : -EPROTO;
        }
        memset(res, 0, sizeof res);
        for (int i = 0; i < N_SIZES; i++) {
                struct mock_proc m;
                res[i].partitions = (long) CHECK_TOPICS * sizes[i].per_topic;
                fprintf(stderr, "[checks] %ld partitions: creating the mock cluster\n",
                        res[i].partitions);
                if ((r = bu_mock_start(p, CHECK_TOPICS, sizes[i].per_topic, &m)) < 0) {
                        fprintf(stderr, "[checks] mock cluster: %s\n", strerror(-r));
                        goto out;
                }
                res[i].create_s = m.create_s;
                int rounds = p->quick ? 3 : (i == N_SIZES - 1 ? 10 : 20);
                fprintf(stderr, "[checks] %ld partitions: %d interleaved rounds, then kpa-agent\n",
                        res[i].partitions, rounds);
                r = in_process(m.bootstrap, rounds, &res[i]);
                if (r == 0)
                        r = agent_process(p, m.bootstrap, i == N_SIZES - 1, bare_port, &res[i]);
                bu_mock_stop(&m);
                if (r < 0)
                        goto out;
        }

        bu_table_head("2. Check cycle against cluster size (mock cluster: 3 brokers, 10 topics, RF 3; the local broker hosts every partition)");
        for (int i = 0; i < N_SIZES; i++) {
                const struct size_result *s = &res[i];
                char fig[96], v[48], b[48], q[48];
                long k = s->partitions / 1000;
                double ratio = s->wall_ms[OP_CHECK] / s->wall_ms[OP_PERSIST];
                snprintf(fig, sizeof fig, "check duration, %ldk partitions", k);
                snprintf(v, sizeof v, "%.2f ms", s->wall_ms[OP_CHECK]);
                snprintf(b, sizeof b, "%.2f ms (persistent metadata)", s->wall_ms[OP_PERSIST]);
                snprintf(q, sizeof q, "%.2f×", ratio);
                bu_row(fig, v, b, q, "≤ 1.5×", ratio <= ADDED_TARGET);
                ratio = s->cpu_ms[OP_CHECK] / s->cpu_ms[OP_PERSIST];
                snprintf(fig, sizeof fig, "CPU per check, %ldk partitions", k);
                snprintf(v, sizeof v, "%.2f ms", s->cpu_ms[OP_CHECK]);
                snprintf(b, sizeof b, "%.2f ms (persistent metadata)", s->cpu_ms[OP_PERSIST]);
                snprintf(q, sizeof q, "%.2f×", ratio);
                bu_row(fig, v, b, q, "≤ 1.5×", ratio <= ADDED_TARGET);
                snprintf(fig, sizeof fig, "check duration per partition, %ldk", k);
                snprintf(v, sizeof v, "%.2f µs", s->wall_ms[OP_CHECK] * 1e3 / (double) s->partitions);
                snprintf(b, sizeof b, "%.2f µs", s->wall_ms[OP_PERSIST] * 1e3 / (double) s->partitions);
                snprintf(q, sizeof q, "%.2f×", s->wall_ms[OP_CHECK] / s->wall_ms[OP_PERSIST]);
                bu_row(fig, v, b, q, "", BU_NA);
                snprintf(fig, sizeof fig, "CPU per partition, %ldk", k);
                snprintf(v, sizeof v, "%.2f µs", s->cpu_ms[OP_CHECK] * 1e3 / (double) s->partitions);
                snprintf(b, sizeof b, "%.2f µs", s->cpu_ms[OP_PERSIST] * 1e3 / (double) s->partitions);
                snprintf(q, sizeof q, "%.2f×", s->cpu_ms[OP_CHECK] / s->cpu_ms[OP_PERSIST]);
                bu_row(fig, v, b, q, "", BU_NA);
                snprintf(fig, sizeof fig, "verdict_assess, %ldk partitions", k);
                snprintf(v, sizeof v, "%.0f µs", s->assess_us);
                snprintf(b, sizeof b, "%.2f ms (check)", s->wall_ms[OP_CHECK]);
                snprintf(q, sizeof q, "%.1f%%", s->assess_us / 10 / s->wall_ms[OP_CHECK]);
                bu_row(fig, v, b, q, "", BU_NA);
                snprintf(fig, sizeof fig, "kpa-agent RSS after ≥ 3 checks, %ldk", k);
                snprintf(v, sizeof v, "%.1f MiB", (double) s->rss_kib / 1024);
                snprintf(b, sizeof b, "peak %.1f MiB; now %.1f anon + %.1f files", (double) s->hwm_kib / 1024,
                         (double) s->anon_kib / 1024, (double) s->file_kib / 1024);
                char t[32] = "";
                if (sizes[i].rss_target_kib)
                        snprintf(t, sizeof t, "≤ %ld MiB", sizes[i].rss_target_kib / 1024);
                bu_row(fig, v, b, "—", t, s->rss_kib <= sizes[i].rss_target_kib);
                snprintf(fig, sizeof fig, "kpa-agent process CPU per check, %ldk", k);
                snprintf(v, sizeof v, "%.1f ms", s->agent_cpu_per_check_ms);
                snprintf(b, sizeof b, "%.2f ms (persistent metadata)", s->cpu_ms[OP_PERSIST]);
                snprintf(q, sizeof q, "%.2f×", s->agent_cpu_per_check_ms / s->cpu_ms[OP_PERSIST]);
                bu_row(fig, v, b, q, "", BU_NA);
        }
        const struct size_result *big = &res[N_SIZES - 1];
        if (big->have_wrk) {
                char fig[96], v[48], b[48], q[48];
                snprintf(fig, sizeof fig, "/readyz p99 during %ldk checks every 1 s, 16 conn paced",
                         big->partitions / 1000);
                snprintf(v, sizeof v, "%.2f ms", big->wrk.p99_us / 1e3);
                snprintf(b, sizeof b, "%.2f ms (bare)", big->wrk_bare.p99_us / 1e3);
                snprintf(q, sizeof q, "%.2f×", big->wrk.p99_us / big->wrk_bare.p99_us);
                bu_row(fig, v, b, q, "< 2 ms", big->wrk.p99_us < P99_TARGET_US);
                snprintf(fig, sizeof fig, "/readyz max latency, same run");
                snprintf(v, sizeof v, "%.2f ms", big->wrk.max_us / 1e3);
                snprintf(b, sizeof b, "%.2f ms (bare)", big->wrk_bare.max_us / 1e3);
                snprintf(q, sizeof q, "%.2f×", big->wrk.max_us / big->wrk_bare.max_us);
                bu_row(fig, v, b, q, "", BU_NA);
                bu_note("\nDuring that wrk run the agent completed %ld checks (%.0f req/s, %llu "
                        "errors).", big->checks_during_wrk, big->wrk.rps,
                        (unsigned long long) bu_wrk_errors(&big->wrk));
        }
        bu_note("\nWhere a check's time goes (medians, ms; fresh raw = rd_kafka_new + "
                "rd_kafka_metadata + rd_kafka_destroy, what any fresh-handle client pays):");
        bu_note("\n| partitions | mock created in | persistent metadata | new+destroy (no I/O) | "
                "fresh raw | kafka_check | agent's own work (check − fresh raw) | "
                "snapshot_free | agent's last check (/metrics) |");
        bu_note("| --: | --: | --: | --: | --: | --: | --: | --: | --: |");
        for (int i = 0; i < N_SIZES; i++) {
                const struct size_result *s = &res[i];
                bu_note("| %ld | %.1f s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.0f |",
                        s->partitions, s->create_s, s->wall_ms[OP_PERSIST], s->wall_ms[OP_NEWDEL],
                        s->wall_ms[OP_FRESH], s->wall_ms[OP_CHECK],
                        s->wall_ms[OP_CHECK] - s->wall_ms[OP_FRESH], s->free_us / 1e3,
                        s->agent_check_ms);
        }
        r = 0;
out:
        bu_stop(&bare);
        return r;
}
