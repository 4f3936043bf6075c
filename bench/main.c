/* kpa-bench: prints the benchmark tables (see bench/run.sh and README "Benchmarks").
 *
 * Usage: kpa-bench BUILD_DIR SOURCE_DIR [--quick] [--only probes|checks|init|tls|readiness]
 *        kpa-bench --mock-host TOPICS PARTITIONS   (internal: hosts a mock cluster) */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "benchutil.h"
#include "kpa/log.h"
#include "kpa/parse.h"
#include "sections.h"

static void machine(void) {
        char model[256] = "unknown", line[512];
        FILE *f = fopen("/proc/cpuinfo", "re");
        while (f && fgets(line, sizeof line, f))
                if (strncmp(line, "model name", 10) == 0) {
                        const char *c = strchr(line, ':');
                        snprintf(model, sizeof model, "%.200s", c ? c + 2 : line);
                        model[strcspn(model, "\n")] = '\0';
                        break;
                }
        if (f)
                fclose(f);
        struct utsname u;
        uname(&u);
        time_t now = time(NULL);
        char date[64];
        strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", gmtime(&now));
        printf("# kpa benchmarks\n\n");
        printf("%s; %ld CPUs (nproc), %s; Linux %s; Release build.\n", date,
               sysconf(_SC_NPROCESSORS_ONLN), model, u.release);
        printf("Every ratio compares figures measured side by side in this one run.\n");
        fflush(stdout);
}

int main(int argc, char **argv) {
        if (argc == 4 && strcmp(argv[1], "--mock-host") == 0) {
                uint64_t t, n;
                if (parse_u64(argv[2], 1, 1000, &t) < 0 || parse_u64(argv[3], 1, 100000, &n) < 0) {
                        fprintf(stderr, "kpa-bench: --mock-host TOPICS PARTITIONS\n");
                        return 2;
                }
                return bu_mock_host_main((int) t, (int) n);
        }
        if (argc < 3) {
                fprintf(stderr, "usage: kpa-bench BUILD_DIR SOURCE_DIR [--quick] [--only probes|checks|init|tls|readiness]\n");
                return 2;
        }
        const char *only = NULL;
        bool quick = false;
        for (int i = 3; i < argc; i++) {
                if (strcmp(argv[i], "--quick") == 0)
                        quick = true;
                else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
                        only = argv[++i];
                else {
                        fprintf(stderr, "kpa-bench: unknown argument %s\n", argv[i]);
                        return 2;
                }
        }
        static char self[PATH_MAX], agent[PATH_MAX], init[PATH_MAX], bare[PATH_MAX], lua[PATH_MAX],
                tmp[] = "/tmp/kpa-bench.XXXXXX";
        ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
        if (n <= 0 || !mkdtemp(tmp)) {
                fprintf(stderr, "kpa-bench: cannot find itself or make a scratch folder\n");
                return 1;
        }
        self[n] = '\0';
        snprintf(agent, sizeof agent, "%s/kpa-agent", argv[1]);
        snprintf(init, sizeof init, "%s/kpa-init", argv[1]);
        snprintf(bare, sizeof bare, "%s/bench/bare-mhd", argv[1]);
        snprintf(lua, sizeof lua, "%s/bench/report.lua", argv[2]);
        struct bench_paths p = { self, agent, init, bare, lua, tmp, argv[2], quick };
        log_setup("kpa-bench", LOG_LEVEL_ERROR);

        machine();
        int r = 0;
        if (!only || strcmp(only, "probes") == 0)
                r |= bench_probes(&p) < 0;
        if (!only || strcmp(only, "checks") == 0)
                r |= bench_checks(&p) < 0;
        if (!only || strcmp(only, "init") == 0)
                r |= bench_init(&p) < 0;
        if (!only || strcmp(only, "tls") == 0)
                r |= bench_tls(&p) < 0;
        if (!only || strcmp(only, "readiness") == 0)
                r |= bench_readiness(&p) < 0;
        /* Scratch files (stores, logs) go with the folder, unless a section failed: its
         * logs tell why. */
        if (r) {
                fprintf(stderr, "kpa-bench: a section failed; logs kept in %s\n", tmp);
                return 1;
        }
        char cmd[PATH_MAX + 16];
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
        if (system(cmd) != 0)
                fprintf(stderr, "kpa-bench: could not remove %s\n", tmp);
        return 0;
}
