/* Section 5: the gate's own overhead. With the default flags (--interval 5s, --ready-after 2),
 * how long after the local broker is back in the ISR does /readyz answer 200? kpa-agent as
 * shipped (checks every --fast-interval while not ready) side by side with the old behaviour,
 * the same binary with --fast-interval equal to --interval (a check every 5 s whatever the
 * state). The peer is the fake cluster of the tests (tests/fakebroker/fakecluster.py, real
 * Kafka protocol), whose ISR this section sets: broker 0 leaves the ISR of orders-0, /readyz
 * turns 503, and at a varying moment it joins again. The real-Kafka figure (ISR complete by a
 * watcher -> /readyz 200) is test_verdicts'. Also the steady load: checks of a ready broker
 * over a window, which must not grow. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

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

/* The fake cluster on stdin/stdout: one JSON command, one JSON line back. */
struct fake {
        struct child c;
        char bootstrap[64];     /* broker 0, the one the agent watches */
};

static int fake_cmd(struct fake *f, const char *json) {
        char line[4096];
        size_t n = strlen(json);
        if (write(f->c.in_fd, json, n) != (ssize_t) n || write(f->c.in_fd, "\n", 1) != 1)
                return -EIO;
        if (bu_read_line(&f->c, line, sizeof line, 10000) < 0)
                return -ETIMEDOUT;
        return strstr(line, "\"ok\": true") || strstr(line, "\"ok\":true") ? 0 : -EPROTO;
}

static int fake_start(const struct bench_paths *p, struct fake *ret) {
        char script[1024], line[8192];
        snprintf(script, sizeof script, "%s/tests/fakebroker/fakecluster.py", p->src);
        char *argv[] = { "/usr/bin/python3", script, "--brokers", "3", "--topic", "orders:6:3:2", NULL };
        int r = bu_spawn(argv, NULL, true, true, NULL, &ret->c);
        if (r < 0)
                return r;
        if ((r = bu_read_line(&ret->c, line, sizeof line, 30000)) < 0)
                return r;
        cJSON *j = cJSON_Parse(line);
        cJSON *bs = cJSON_GetObjectItemCaseSensitive(j, "brokers"), *b;
        r = -EPROTO;
        cJSON_ArrayForEach(b, bs) {
                cJSON *id = cJSON_GetObjectItemCaseSensitive(b, "id");
                cJSON *port = cJSON_GetObjectItemCaseSensitive(b, "port");
                if (cJSON_IsNumber(id) && id->valueint == 0 && cJSON_IsNumber(port)) {
                        snprintf(ret->bootstrap, sizeof ret->bootstrap, "127.0.0.1:%d", port->valueint);
                        r = 0;
                }
        }
        cJSON_Delete(j);
        return r;
}

#define ISR_OUT "{\"op\":\"set_isr\",\"topic\":\"orders\",\"partition\":0,\"isr\":[1,2]}"
#define ISR_IN "{\"op\":\"set_isr\",\"topic\":\"orders\",\"partition\":0,\"isr\":[0,1,2]}"

static int run_mode(const struct bench_paths *p, struct fake *f, const char *extra, size_t trials,
                    unsigned window_ms, const char *tag, struct mode_result *res) {
        struct agent_proc a;
        int r = bu_agent_start_with(p, f->bootstrap, "0", "5s", "4s", extra, tag, &a);
        if (r < 0)
                return r;
        if ((r = bu_wait_200(a.port, "/readyz", 60000)) < 0)
                goto out;
        /* The steady load of a ready broker: good checks over the window. */
        long k0 = bu_agent_checks_ok(a.port);
        bu_sleep_ms(window_ms);
        res->checks_ready = bu_agent_checks_ok(a.port) - k0;
        for (size_t i = 0; i < trials; i++) {
                if ((r = fake_cmd(f, ISR_OUT)) < 0)
                        goto out;
                /* A check now (SIGHUP), rather than at the next tick of a ready broker: only
                 * the way back is measured. */
                kill(a.c.pid, SIGHUP);
                if (wait_readyz(a.port, 503, 30000) < 0) {
                        r = -ETIMEDOUT;
                        goto out;
                }
                /* Any moment of the 5 s check cycle, as a real catch-up ends at any time. */
                bu_sleep_ms((unsigned) (bu_now_ns() / 1000 % 5000));
                if ((r = fake_cmd(f, ISR_IN)) < 0)
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
        struct fake f;
        struct mode_result kpa = { .n = 0 }, base = { .n = 0 };
        size_t n_kpa = p->quick ? 3 : 30, n_base = p->quick ? 2 : 8;
        unsigned window = p->quick ? 10000 : 30000;
        if (fake_start(p, &f) < 0) {
                fprintf(stderr, "[readiness] the fake cluster (tests/fakebroker/fakecluster.py) did not start\n");
                bu_stop(&f.c);
                return -EIO;
        }
        fprintf(stderr, "[readiness] kpa-agent with the default flags: %zu trials\n", n_kpa);
        int r = run_mode(p, &f, NULL, n_kpa, window, "default", &kpa);
        if (r == 0) {
                fprintf(stderr, "[readiness] the old behaviour (--fast-interval=5s): %zu trials\n", n_base);
                r = run_mode(p, &f, "--fast-interval=5s", n_base, window, "old", &base);
        }
        bu_stop(&f.c);
        if (r < 0)
                return r;
        qsort(kpa.lat_s, kpa.n, sizeof *kpa.lat_s, cmp_double);
        qsort(base.lat_s, base.n, sizeof *base.lat_s, cmp_double);

        bu_table_head("5. The gate's own overhead: local broker back in the ISR → /readyz 200, default flags (--interval 5s, --ready-after 2), fake cluster");
        char v[64], b[64], q[32];
        struct { const char *fig; double pct, target; const char *tgt; } rows[] = {
                { "back in the ISR → /readyz 200, p50", 50, 1.0, "≤ 1 s" },
                { "back in the ISR → /readyz 200, p99", 99, 2.0, "≤ 2 s" },
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
                "the ISR complete, then one more for --ready-after 2. The new one checks every "
                "250 ms while not ready and every 5 s once ready. /readyz is polled every %d ms.",
                POLL_MS);
        return 0;
}
