/* What every benchmark section needs: clocks, the CPU time of a process, child processes
 * (the agent, the mock cluster host, wrk), a minimal HTTP GET, statistics and the table. */
#ifndef KPA_BENCHUTIL_H
#define KPA_BENCHUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Paths the sections need, filled by main from the command line. */
struct bench_paths {
        const char *self;       /* this program (re-run as the mock cluster host) */
        const char *agent;      /* kpa-agent */
        const char *init;       /* kpa-init */
        const char *bare;       /* bare-mhd */
        const char *lua;        /* report.lua for wrk */
        const char *tmp;        /* a private scratch folder */
        const char *src;        /* the source tree (tests/fakebroker/fakecluster.py) */
        bool quick;             /* shorter runs (a smoke test of the bench itself) */
};

uint64_t bu_now_ns(void);
void bu_sleep_ms(unsigned ms);
/* utime + stime of a whole process (live and exited threads), in ns; 10 ms resolution. */
int bu_proc_cpu_ns(pid_t pid, uint64_t *ret);
/* VmRSS, VmHWM (peak RSS), RssAnon and RssFile (shared library pages) of a process, KiB. */
int bu_proc_rss_kib(pid_t pid, long *ret_rss, long *ret_hwm, long *ret_anon, long *ret_file);
/* user + sys CPU of this process (all threads), ns. */
uint64_t bu_self_cpu_ns(void);
/* user + sys CPU of waited-for children, ns. */
uint64_t bu_children_cpu_ns(void);

/* A child with its stdin and stdout on pipes (-1 when not asked for; stdin and stdout are
 * then /dev/null) and stderr to a file (NULL: inherited). */
struct child {
        pid_t pid;
        int in_fd, out_fd;
};
int bu_spawn(char *const argv[], char *const envp[], bool pipe_in, bool pipe_out,
             const char *stderr_path, struct child *ret);
/* Reads one line from the child's stdout within timeout_ms. */
int bu_read_line(struct child *c, char *buf, size_t len, unsigned timeout_ms);
/* SIGTERM, then SIGKILL after 5 s; reaps. */
void bu_stop(struct child *c);
/* Runs argv to completion with stdout and stderr sent to /dev/null; its exit status or -1. */
int bu_run_quiet(char *const argv[], char *const envp[]);

/* kpa-agent watching bootstrap (node 1) every interval, stderr to a log in tmp. */
struct agent_proc {
        struct child c;
        unsigned port;
        char log[512];
};
int bu_agent_start(const struct bench_paths *p, const char *bootstrap, const char *interval,
                   const char *tag, struct agent_proc *ret);
/* The same for node node_id, with --check-timeout check_timeout and one more flag (extra,
 * "--flag=value"; NULL: none). */
int bu_agent_start_with(const struct bench_paths *p, const char *bootstrap, const char *node_id,
                        const char *interval, const char *check_timeout, const char *extra,
                        const char *tag, struct agent_proc *ret);
/* Waits until GET path answers 200, within timeout_ms. */
int bu_wait_200(unsigned port, const char *path, unsigned timeout_ms);
/* kpa_checks_total{result="ok"} from /metrics, or -1. */
long bu_agent_checks_ok(unsigned port);
/* GET path on 127.0.0.1:port (HTTP/1.0); the status code or -errno; the body (may be NULL)
 * is copied into body, cut at len. */
int bu_http_get(unsigned port, const char *path, char *body, size_t len);

/* The mock cluster in a child process (this program re-run with --mock-host), so that its
 * CPU is never counted as the agent's or the bench's. */
struct mock_proc {
        struct child c;
        char bootstrap[128];
        double create_s;
};
int bu_mock_start(const struct bench_paths *p, int topics, int partitions, struct mock_proc *ret);
void bu_mock_stop(struct mock_proc *m);
/* The --mock-host mode itself; returns the exit code. */
int bu_mock_host_main(int topics, int partitions);

/* One wrk run through report.lua, a new connection per request. pace_ms > 0: each connection
 * waits that long before each request (paced load); 0: as fast as answers come. Latencies
 * in µs. */
struct wrk_result {
        bool ok;
        uint64_t requests;
        double duration_s, rps;
        double p50_us, p90_us, p99_us, max_us;
        uint64_t err_connect, err_read, err_write, err_timeout, err_status;
};
int bu_wrk(const struct bench_paths *p, unsigned port, const char *path, unsigned conns,
           unsigned seconds, unsigned pace_ms, struct wrk_result *ret);
uint64_t bu_wrk_errors(const struct wrk_result *w);

/* Statistics over n samples (sorted in place). */
double bu_median(double *v, size_t n);
double bu_mean(const double *v, size_t n);

/* The results table: one row per figure. target is "" when the figure has none; pass is
 * ignored then. */
void bu_table_head(const char *title);
void bu_row(const char *figure, const char *kpa, const char *base, const char *ratio,
            const char *target, int pass);
/* pass values for bu_row. */
#define BU_NA (-1)
#define BU_MISS 0
#define BU_PASS 1
void bu_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
