/* kpa-agent's configuration (agent/agentcfg.c) from an environment and argv split out of the
 * input (see fuzz.h). --broker-config names a file: this target is linked with
 * -Wl,--wrap=fsx_read_file, so whatever path the input names, the "file" read is the input's
 * third part (or missing when there is none); nothing on disk is opened.
 *
 * Invariants:
 * - on failure: a negative code, a message in errbuf, and *ret untouched;
 * - on success: every duration within its documented bounds, ready_after 1-1000, a listen
 *   address, a node id >= 0 unless in demo mode, and outside demo mode a way to reach the
 *   broker (--bootstrap or --client-config);
 * - with --broker-config, the node id is the file's node.id, and the agent watches a
 *   controller exactly when the file's process.roles names the controller role alone (an
 *   independent reading of the list); then it has 1-64 controllers and a caught-up bound
 *   within 100ms-10m, and --demo is refused. */
#include <errno.h>

#include "fuzz.h"
#include "kpa/agentcfg.h"
#include "kpa/props.h"

static const char *fake_file;
static size_t fake_len;
static bool fake_read;

int __wrap_fsx_read_file(const char *path, size_t max, char **ret_data, size_t *ret_len);

int __wrap_fsx_read_file(const char *path, size_t max, char **ret_data, size_t *ret_len) {
        (void) path;
        fake_read = true;
        if (!fake_file)
                return -ENOENT;
        if (fake_len > max)
                return -EFBIG;
        char *d = fz_alloc(fake_len + 1);
        memcpy(d, fake_file, fake_len);
        *ret_data = d;
        *ret_len = fake_len;
        return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct fz_cmdline cl;
        fz_cmdline_split(data, size, &cl);
        fake_file = cl.file;
        fake_len = cl.file_len;
        fake_read = false;
        struct agent_config c, untouched;
        memset(&c, 0xa5, sizeof c);
        memcpy(&untouched, &c, sizeof c);
        char err[1024] = "";
        int r = agentcfg_load(cl.envp, cl.argc, cl.argv, &c, err, sizeof err);
        if (r < 0) {
                FUZZ_CHECK(r == -EINVAL || r == -ECANCELED || r == -E2BIG || r == -ENOMEM, "error %d", r);
                FUZZ_CHECK(r == -ECANCELED || err[0], "error %d without a message", r);
                FUZZ_CHECK(memcmp(&c, &untouched, sizeof c) == 0, "*ret written on failure");
                fz_cmdline_free(&cl);
                return 0;
        }
        FUZZ_CHECK(c.mode == AGENT_SIDECAR || c.mode == AGENT_CHECK, "mode %d", (int) c.mode);
        FUZZ_CHECK(c.listen && c.listen[0], "no listen address");
        FUZZ_CHECK(c.interval_ms >= 100 && c.interval_ms <= 3600000, "interval %llu", (unsigned long long) c.interval_ms);
        FUZZ_CHECK(c.check_timeout_ms >= 100 && c.check_timeout_ms <= 600000, "timeout");
        FUZZ_CHECK(c.liveness_window_ms >= 1000 && c.liveness_window_ms <= 86400000, "liveness window");
        FUZZ_CHECK(c.prestop_timeout_ms <= 86400000, "prestop timeout");
        FUZZ_CHECK(c.stale_after_ms >= 100 && c.stale_after_ms <= 86400000 + 3 * 3600000 + 600000, "stale after");
        FUZZ_CHECK(c.ready_after >= 1 && c.ready_after <= 1000, "ready_after %u", c.ready_after);
        FUZZ_CHECK(c.scope == SCOPE_LOCAL || c.scope == SCOPE_CLUSTER, "scope");
        FUZZ_CHECK(c.log_level >= LOG_LEVEL_ERROR && c.log_level <= LOG_LEVEL_DEBUG, "log level");
        FUZZ_CHECK(c.demo || c.node_id >= 0, "node id %d outside demo mode", (int) c.node_id);
        FUZZ_CHECK(c.node_id >= -1, "node id %d", (int) c.node_id);
        FUZZ_CHECK(c.demo || c.bootstrap || c.client_config, "no way to reach the broker");
        if (c.broker_config) {
                FUZZ_CHECK(fake_read && fake_file, "node id without reading --broker-config");
                struct props p = { 0 };
                char perr[256];
                FUZZ_CHECK(props_parse(&p, fake_file, fake_len, perr, sizeof perr) == 0, "file did not parse");
                char num[16];
                snprintf(num, sizeof num, "%d", (int) c.node_id);
                const char *v = props_get(&p, "node.id");
                /* node.id may have leading zeros in the file. */
                FUZZ_CHECK(v && strtoll(v, NULL, 10) == c.node_id, "node.id \"%s\" read as %s", v ? v : "", num);
                const char *roles = props_get(&p, "process.roles");
                bool only_controller = false;
                if (roles) {
                        /* Independently: strip blanks, then compare the whole list. */
                        char flat[64];
                        size_t n = 0;
                        for (const char *q = roles; *q && n + 1 < sizeof flat; q++)
                                if (*q != ' ' && *q != '\t')
                                        flat[n++] = *q;
                        flat[n] = '\0';
                        only_controller = strcmp(flat, "controller") == 0 || strcmp(flat, "controller,controller") == 0;
                }
                FUZZ_CHECK(c.controller == only_controller, "controller %d for process.roles \"%s\"", c.controller,
                           roles ? roles : "");
                if (c.controller) {
                        FUZZ_CHECK(!c.demo, "demo with a controller");
                        FUZZ_CHECK(c.controllers && c.controllers->n >= 1 && c.controllers->n <= CTLCHECK_MAX_ENDPOINTS,
                                   "controllers");
                        FUZZ_CHECK(c.caught_up_within_ms >= 100 && c.caught_up_within_ms <= 600000, "bound %llu",
                                   (unsigned long long) c.caught_up_within_ms);
                }
                props_free(&p);
        }
        agentcfg_free(&c);
        fz_cmdline_free(&cl);
        return 0;
}
