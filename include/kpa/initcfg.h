/* kpa-init's configuration: every input, from the environment or a --flag, checked. */
#ifndef KPA_INITCFG_H
#define KPA_INITCFG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "kpa/identity.h"
#include "kpa/listeners.h"

#define INITCFG_MAX_LOG_DIRS 16

enum tls_client_auth { CLIENT_AUTH_NONE, CLIENT_AUTH_REQUESTED, CLIENT_AUTH_REQUIRED };

struct advertised_template {
        char listener[LISTENER_NAME_MAX];
        char *tmpl;
};

struct init_config {
        /* Pod identity. */
        char *pod_name, *pod_namespace, *pod_ip, *host_ip, *node_name;
        char statefulset[64];
        uint32_t ordinal;
        char *cluster_id;
        char *headless_service, *cluster_domain;
        uint32_t node_id_offset, controller_count;
        char *controller_statefulset, *controller_service;
        uint32_t controller_node_id_offset;
        /* KPA_MIN_INSYNC_REPLICAS, 0 when unset. */
        uint32_t min_insync_replicas;
        /* Listeners. */
        struct listener_set listeners;
        char controller_listener[LISTENER_NAME_MAX];
        char inter_broker_listener[LISTENER_NAME_MAX];
        struct advertised_template advertised[LISTENERS_MAX];
        size_t n_advertised;
        /* Placement. */
        char *rack, *rack_node_label;
        char *kube_host, *kube_port, *kube_token_path, *kube_ca_path;
        uint64_t kube_timeout_ms;
        /* Security. */
        char *tls_dir, *tls_ca_dir, *tls_password_file, *tls_key_type;
        uint32_t tls_validity_days;
        enum tls_client_auth tls_client_auth;
        bool tls_hostname_warn;
        char *sasl_users_dir, *sasl_inter_broker_user, *sasl_agent_user;
        /* Storage and output. */
        char *log_dirs[INITCFG_MAX_LOG_DIRS];
        size_t n_log_dirs;
        char *config_template;
        char *output_dir;
        bool dry_run;
};

/* Fills ret from envp and argv. -EINVAL with one line naming the input and what was
 * expected; ret is then left empty. --help is reported as -ECANCELED. */
int initcfg_load(char *const envp[], int argc, char *const argv[], struct init_config *ret,
                 char *errbuf, size_t errlen);
void initcfg_usage(FILE *out);
void initcfg_free(struct init_config *c);
/* The listener template for name, or NULL. */
const char *initcfg_advertised_template(const struct init_config *c, const char *listener);

#endif
