/* kpa-agent: the sidecar that reports ready only once the local broker has caught up. */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>

#include "kpa/agentcfg.h"
#include "kpa/daemon.h"
#include "kpa/log.h"

extern char **environ;

int main(int argc, char *argv[]) {
        struct agent_config cfg;
        char err[1024];

        /* Each check runs on a libuv worker thread and in librdkafka threads made for it, and
         * glibc gives such threads arenas of their own (up to 8 per core), each keeping the
         * freed memory of the checks it served: watching 100k partitions the agent grew to
         * 110-150 MB, against about 60 MB with one arena and no measurable CPU cost
         * (bench/RESULTS.md). */
        mallopt(M_ARENA_MAX, 1);
        /* In every mode: librdkafka's TLS connections write through OpenSSL's socket BIO
         * (write(2)), which raises SIGPIPE when the broker closes first, e.g. after refusing
         * the handshake; `kpa-agent check` must then report the failed check, not die of the
         * signal. The daemon also needs it for probes that close their socket early. */
        signal(SIGPIPE, SIG_IGN);
        log_setup("kpa-agent", LOG_LEVEL_INFO);
        int r = agentcfg_load(environ, argc, argv, &cfg, err, sizeof err);
        if (r == -ECANCELED) {
                agentcfg_usage(stdout);
                return 0;
        }
        if (r < 0) {
                fprintf(stderr, "kpa-agent: %s\n", err);
                return 2;
        }
        log_setup("kpa-agent", cfg.log_level);
        r = cfg.mode == AGENT_CHECK ? daemon_check_once(&cfg, stdout) : daemon_run(&cfg);
        agentcfg_free(&cfg);
        return r;
}
