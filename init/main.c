/* kpa-init: pod identity and mounted Secrets in, the broker's configuration out.
 * Exit 0 on success, 2 for bad input, 1 for a runtime failure; errors are one line. */
#include <errno.h>
#include <stdio.h>

#include "kpa/initcfg.h"
#include "kpa/initrun.h"
#include "kpa/log.h"

extern char **environ;

int main(int argc, char *argv[]) {
        struct init_config cfg;
        char err[1024];

        log_setup("kpa-init", LOG_LEVEL_INFO);
        int r = initcfg_load(environ, argc, argv, &cfg, err, sizeof err);
        if (r == -ECANCELED) {
                initcfg_usage(stdout);
                return 0;
        }
        if (r < 0) {
                fprintf(stderr, "kpa-init: %s\n", err);
                return 2;
        }
        r = initrun_execute(&cfg, stdout, err, sizeof err);
        initcfg_free(&cfg);
        if (r < 0) {
                fprintf(stderr, "kpa-init: %s\n", err);
                return r == -EINVAL ? 2 : 1;
        }
        return 0;
}
