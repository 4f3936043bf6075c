/* kpa-agent's configuration: flags, each also an environment variable KPA_<NAME>. */
#ifndef KPA_AGENTCFG_H
#define KPA_AGENTCFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kpa/ctlcheck.h"
#include "kpa/disk.h"
#include "kpa/log.h"
#include "kpa/scaledown.h"
#include "kpa/verdict.h"

enum agent_mode { AGENT_SIDECAR, AGENT_CHECK };

struct agent_config {
        enum agent_mode mode;
        bool demo;
        char *listen;               /* ADDR:PORT */
        char *bootstrap;            /* local broker listener, or NULL: from client_config */
        int32_t node_id;            /* -1 until known (demo: from the mock cluster) */
        char *broker_config;        /* kpa-init's server.properties, for node.id */
        char *client_config;        /* librdkafka properties (kpa-init's client.properties) */
        uint64_t fast_interval_ms;  /* while not ready or a /prestop is held; <= interval_ms */
        uint64_t interval_ms, check_timeout_ms, liveness_window_ms, prestop_timeout_ms, stale_after_ms;
        uint64_t features_interval_ms;   /* featprobe.h; 0: never */
        unsigned ready_after;
        enum ready_scope scope;
        enum log_level log_level;
        /* process.roles=controller in --broker-config: a controller-only node, checked through
         * the quorum (ctlcheck, quorum.h) instead of Metadata. */
        bool controller;
        struct ctlcheck_endpoints *controllers;   /* with controller: every controller */
        uint64_t caught_up_within_ms;             /* with controller: quorum_policy's bound */
        /* A broker node: the controllers' hosts from --broker-config (NULL when there are
         * none or they do not parse). In combined mode these are the brokers too: the stop
         * gate asks them, at the local listener's port, when the local broker never named
         * its peers (kafka.h, fallback_peers). */
        struct ctlcheck_endpoints *quorum_hosts;
        /* log.dirs (or log.dir) of --broker-config: the disk watch (disk.h). */
        char (*log_dirs)[DISK_PATH_MAX];
        int n_log_dirs;
        unsigned disk_warn_free_percent;          /* 0: no threshold */
        uint64_t log_dirs_interval_ms;            /* DescribeLogDirs; 0: never asked */
        /* Preferred leader elections after the broker catches up (leadership.h, elector.h). */
        bool restore_leadership;
        uint64_t ready_leadership_wait_ms;        /* 0: readiness never waits for them */
        /* --pod-name: the StatefulSet whose spec.replicas tells a scale-down from a restart
         * (scaledown.h); NULL: not read. */
        struct scaledown_config *scale_down;
        /* Certificate rotation (tlsrot.h): the watched Secret volume, or NULL. */
        char *tls_dir;
        /* Or the CA volume kpa-init issued from (exactly one of the two), with the issued
         * certificate's key type (NULL: the current key's) and validity (0: 90 days). */
        char *tls_ca_dir;
        char *tls_key_type;
        uint32_t tls_validity_days;
        unsigned tls_expiry_warn_days;
        uint64_t tls_recheck_ms;
};

/* Fills ret from envp and argv; reads node.id from --broker-config when given. -EINVAL with
 * one line naming the flag; -ECANCELED for --help. */
int agentcfg_load(char *const envp[], int argc, char *const argv[], struct agent_config *ret,
                  char *errbuf, size_t errlen);
void agentcfg_usage(FILE *out);
void agentcfg_free(struct agent_config *c);

#endif
