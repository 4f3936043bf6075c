/* The sidecar: one libuv loop that owns the HTTP server, the periodic check, signals and
 * the held /prestop requests; and the one-shot `check` command. */
#ifndef KPA_DAEMON_H
#define KPA_DAEMON_H

#include <stdio.h>

#include "kpa/agentcfg.h"

/* Runs until SIGTERM/SIGINT; returns the process exit code. A client config that cannot be
 * read is bad input: one "kpa-agent: ..." line on stderr and 2. Other start-up errors are
 * logged and give 1. */
int daemon_run(const struct agent_config *cfg);
/* One check, the /status JSON on out; returns 0 when ready, 1 when not, 2 on bad config. */
int daemon_check_once(const struct agent_config *cfg, FILE *out);

#endif
