/* Section 4: the gate's own overhead. With the default flags (--interval 5s, --ready-after 2),
 * how long after the local broker is good again does /readyz answer 200? kpa-agent as shipped
 * (checks every --fast-interval while not ready) side by side with the old behaviour, the same
 * binary with --fast-interval equal to --interval (a check every 5 s whatever the state), on
 * one mock cluster in this process. "Good again": the watched mock broker is set up after
 * being down, which the agent sees exactly as it sees the ISR complete, at its next check;
 * the real-Kafka figure (ISR complete by a watcher -> /readyz 200) is in docs/benchmarks.md.
 * Also the steady load: checks of a ready broker over a window, which must not grow. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kpa/demo.h"
#include "sections.h"

#define MAX_TRIALS 40
#define POLL_MS 10

struct mode_result {
        double lat_s[MAX_TRIALS];
        size_t n;
        long checks_ready;      /* good checks of a ready broker over the window */
};

/* Polls /readyz every POLL_MS until it answers want (200 or 503); seconds waited, or < 0. */
static double wait_readyz(unsigned port, int want, unsigned timeout_ms) {
        uint64_t t0 = bu_now_ns(), deadline = t0 + (uint64_t) timeout_ms * 1000000u;
        while (bu_now_ns() < deadline) {
                if (bu_http_get(port, "/readyz", NULL, 0) == want)
                        return (double) (bu_now_ns() - t0) / 1e9;
                bu_sleep_ms(POLL_MS);
        }
        return -1;
}

/* Nearest-rank percentile of sorted samples. */
static double percentile(const double *sorted, size_t n, double pct) {
        if (n == 0)
                return 0;
        size_t rank = (size_t) (pct / 100.0 * (double) n + 0.999999);
        if (rank < 1)
                rank = 1;
        return sorted[(rank > n ? n : rank) - 1];
}

static int cmp_double(const void *a, const void *b) {
        double x = *(const double *) a, y = *(const double *) b;
        return x < y ? -1 : x > y;
}

static int run_mode(const struct bench_paths *p, struct demo *d, const char *extra, size_t trials,
                    unsigned window_ms, const char *tag, struct mode_result *res) {
        struct agent_proc a;
        int r = bu_agent_start_with(p, demo_bootstrap(d), "5s", "4s", extra, tag, &a);
        if (r < 0)
                return r;
        if ((r = bu_wait_200(a.port, "/readyz", 60000)) < 0)
                goto out;
        /* The steady load of a ready broker: good checks over the window. */
        long k0 = bu_agent_checks_ok(a.port);
        bu_sleep_ms(window_ms);
        res->checks_ready = bu_agent_checks_ok(a.port) - k0;
        for (size_t i = 0; i < trials; i++) {
                if ((r = demo_broker_set_up(d, 1, false)) < 0)
                        goto out;
                if (wait_readyz(a.port, 503, 30000) < 0) {
                        r = -ETIMEDOUT;
                        goto out;
                }
                /* A varying moment in the check cycle, as a real catch-up ends at any time. */
                bu_sleep_ms((unsigned) (bu_now_ns() / 1000 % 1500));
                if ((r = demo_broker_set_up(d, 1, true)) < 0)
                        goto out;
                double s = wait_readyz(a.port, 200, 30000);
                if (s < 0) {
                        r = -ETIMEDOUT;
                        goto out;
                }
                res->lat_s[res->n++] = s;
                fprintf(stderr, "[readiness] %s trial %zu: %.3f s\n", tag, i + 1, s);
        }
out:
        if (r < 0)
                fprintf(stderr, "[readiness] %s: %s (see %s)\n", tag, strerror(-r), a.log);
        bu_stop(&a.c);
        return r;
}

int bench_readiness(const struct bench_paths *p) {
        struct demo *d;
        char err[512];
        struct mode_result kpa = { .n = 0 }, base = { .n = 0 };
        size_t n_kpa = p->quick ? 3 : 30, n_base = p->quick ? 2 : 8;
        unsigned window = p->quick ? 10000 : 30000;
        if (demo_start(&(struct demo_opts){ 0 }, &d, err, sizeof err) < 0) {
                fprintf(stderr, "[readiness] mock cluster: %s\n", err);
                return -EIO;
        }
        fprintf(stderr, "[readiness] kpa-agent with the default flags: %zu trials\n", n_kpa);
        int r = run_mode(p, d, NULL, n_kpa, window, "default", &kpa);
        if (r == 0) {
                fprintf(stderr, "[readiness] the old behaviour (--fast-interval=5s): %zu trials\n", n_base);
                r = run_mode(p, d, "--fast-interval=5s", n_base, window, "old", &base);
        }
        demo_stop(d);
        if (r < 0)
                return r;
        qsort(kpa.lat_s, kpa.n, sizeof *kpa.lat_s, cmp_double);
        qsort(base.lat_s, base.n, sizeof *base.lat_s, cmp_double);

        bu_table_head("4. The gate's own overhead: local broker good again → /readyz 200, default flags (--interval 5s, --ready-after 2), mock cluster");
        char v[64], b[64], q[32];
        struct { const char *fig; double pct, target; const char *tgt; } rows[] = {
                { "broker good again → /readyz 200, p50", 50, 1.0, "≤ 1 s" },
                { "broker good again → /readyz 200, p99", 99, 2.0, "≤ 2 s" },
        };
        for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
                double x = percentile(kpa.lat_s, kpa.n, rows[i].pct);
                double y = percentile(base.lat_s, base.n, rows[i].pct);
                snprintf(v, sizeof v, "%.2f s (%zu trials)", x, kpa.n);
                snprintf(b, sizeof b, "%.2f s (--fast-interval=5s, %zu trials)", y, base.n);
                snprintf(q, sizeof q, "%.2f×", y > 0 ? x / y : 0);
                bu_row(rows[i].fig, v, b, q, rows[i].tgt, x <= rows[i].target);
        }
        snprintf(v, sizeof v, "%ld in %u s", kpa.checks_ready, window / 1000);
        snprintf(b, sizeof b, "%ld in %u s", base.checks_ready, window / 1000);
        snprintf(q, sizeof q, "%.2f×", base.checks_ready > 0 ? (double) kpa.checks_ready / (double) base.checks_ready : 0);
        bu_row("checks of a ready broker (steady load)", v, b, q, "no more than the old",
               kpa.checks_ready <= base.checks_ready);
        bu_note("The old behaviour is the same kpa-agent with --fast-interval equal to --interval: "
                "one check every 5 s whatever the state, so up to one interval until a check sees "
                "the broker good, then one more for --ready-after 2. The new one checks every "
                "250 ms while not ready and every 5 s once ready. /readyz is polled every %d ms.",
                POLL_MS);
        return 0;
}
