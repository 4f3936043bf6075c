#include "kpa/initcfg.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kpa/opts.h"
#include "kpa/parse.h"
#include "kpa/rack.h"

static const struct opt_def init_opts[] = {
        { "POD_NAME", OPT_VALUE, "required: <statefulset>-<ordinal> (downward API metadata.name)" },
        { "POD_NAMESPACE", OPT_VALUE, "required: the pod's namespace (downward API metadata.namespace)" },
        { "POD_IP", OPT_VALUE, "the pod's IP, for {pod_ip} in templates" },
        { "HOST_IP", OPT_VALUE, "the node's IP, for {host_ip} in templates" },
        { "NODE_NAME", OPT_VALUE, "the node's name, for {node} and KPA_RACK_NODE_LABEL" },
        { "KPA_CLUSTER_ID", OPT_VALUE, "required: Kafka cluster id (22 characters, base64url of 16 bytes)" },
        { "KPA_HEADLESS_SERVICE", OPT_VALUE, "headless Service of the StatefulSet (default <statefulset>-headless)" },
        { "KPA_CLUSTER_DOMAIN", OPT_VALUE, "cluster DNS domain (default cluster.local)" },
        { "KPA_NODE_ID_OFFSET", OPT_VALUE, "node.id = offset + ordinal (default 0; 100 with KPA_CONTROLLER_STATEFULSET)" },
        { "KPA_CONTROLLER_COUNT", OPT_VALUE, "number of KRaft controllers (default 3)" },
        { "KPA_CONTROLLER_STATEFULSET", OPT_VALUE, "name of a separate controller StatefulSet (default: combined mode)" },
        { "KPA_CONTROLLER_SERVICE", OPT_VALUE, "headless Service of the controller StatefulSet (default <name>-headless)" },
        { "KPA_CONTROLLER_NODE_ID_OFFSET", OPT_VALUE, "node.id offset of the controller StatefulSet (default 0)" },
        { "KPA_MIN_INSYNC_REPLICAS", OPT_VALUE, "min.insync.replicas of every node, controllers included (default: the template's)" },
        { "KPA_LISTENERS", OPT_VALUE, "listeners (default INTERNAL://:9092,CONTROLLER://:9093)" },
        { "KPA_CONTROLLER_LISTENER", OPT_VALUE, "name of the controller listener (default CONTROLLER)" },
        { "KPA_INTER_BROKER_LISTENER", OPT_VALUE, "listener brokers use among themselves (default: the first broker listener)" },
        { "KPA_ADVERTISED_", OPT_FAMILY, "advertised host:port template of listener <NAME>" },
        { "KPA_SECURITY_PROTOCOL_MAP", OPT_VALUE, "NAME:PROTOCOL,… (PLAINTEXT, SSL, SASL_PLAINTEXT, SASL_SSL)" },
        { "KPA_RACK", OPT_VALUE, "broker.rack, literally" },
        { "KPA_RACK_NODE_LABEL", OPT_VALUE, "broker.rack from this label of the pod's node (Kubernetes API)" },
        { "KUBERNETES_SERVICE_HOST", OPT_VALUE, "API server host (set by Kubernetes)" },
        { "KUBERNETES_SERVICE_PORT", OPT_VALUE, "API server port (set by Kubernetes)" },
        { "KPA_KUBE_TOKEN_FILE", OPT_VALUE, "service account token (default /var/run/secrets/kubernetes.io/serviceaccount/token)" },
        { "KPA_KUBE_CA_FILE", OPT_VALUE, "API server CA (default /var/run/secrets/kubernetes.io/serviceaccount/ca.crt)" },
        { "KPA_KUBE_TIMEOUT", OPT_VALUE, "bound on the node label lookup, retries included (default 30s)" },
        { "KPA_TLS_DIR", OPT_VALUE, "Secret in cert-manager layout: tls.crt, tls.key, ca.crt" },
        { "KPA_TLS_CA_DIR", OPT_VALUE, "Secret with ca.crt + ca.key: kpa-init issues the pod's certificate" },
        { "KPA_TLS_PASSWORD_FILE", OPT_VALUE, "store password file (default <output>/store.password, generated if absent)" },
        { "KPA_TLS_CLIENT_AUTH", OPT_VALUE, "none, requested or required (mutual TLS on SSL listeners)" },
        { "KPA_TLS_KEY_TYPE", OPT_VALUE, "key of an issued certificate: ec (P-256, default) or rsa (2048)" },
        { "KPA_TLS_VALIDITY_DAYS", OPT_VALUE, "validity of an issued certificate (default 90)" },
        { "KPA_TLS_HOSTNAME_CHECK", OPT_VALUE, "error (default) or warn when the certificate does not cover an advertised host" },
        { "KPA_SASL_USERS_DIR", OPT_VALUE, "Secret: one file per user, content is the password (SASL PLAIN)" },
        { "KPA_SASL_INTER_BROKER_USER", OPT_VALUE, "user brokers authenticate as (default kafka)" },
        { "KPA_SASL_AGENT_USER", OPT_VALUE, "user kpa-agent authenticates as (default: the inter-broker user)" },
        { "KPA_LOG_DIRS", OPT_VALUE, "comma-separated log.dirs (default /var/lib/kafka/data)" },
        { "KPA_CONFIG_TEMPLATE", OPT_VALUE, "base server.properties; what kpa-init does not derive comes from it" },
        { "KPA_OUTPUT_DIR", OPT_VALUE, "where to write (default /etc/kafka/kpa)" },
        { "KPA_DRY_RUN", OPT_SWITCH, "print what would be written (passwords masked), write nothing" },
        { "KPA_HELP", OPT_SWITCH, "show this help" },
};

void initcfg_usage(FILE *out) {
        fprintf(out, "usage: kpa-init [--flag VALUE]...\n"
                     "Every input is an environment variable or the --flag shown.\n\n");
        opts_usage(init_opts, sizeof init_opts / sizeof init_opts[0], out);
}

void initcfg_free(struct init_config *c) {
        char **strs[] = { &c->pod_name, &c->pod_namespace, &c->pod_ip, &c->host_ip, &c->node_name,
                          &c->cluster_id, &c->headless_service, &c->cluster_domain,
                          &c->controller_statefulset, &c->controller_service, &c->rack,
                          &c->rack_node_label, &c->kube_host, &c->kube_port, &c->kube_token_path,
                          &c->kube_ca_path, &c->tls_dir, &c->tls_ca_dir, &c->tls_password_file,
                          &c->tls_key_type, &c->sasl_users_dir, &c->sasl_inter_broker_user,
                          &c->sasl_agent_user, &c->config_template, &c->output_dir };
        for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) {
                free(*strs[i]);
                *strs[i] = NULL;
        }
        for (size_t i = 0; i < c->n_advertised; i++)
                free(c->advertised[i].tmpl);
        for (size_t i = 0; i < c->n_log_dirs; i++)
                free(c->log_dirs[i]);
        memset(c, 0, sizeof *c);
}

const char *initcfg_advertised_template(const struct init_config *c, const char *listener) {
        for (size_t i = 0; i < c->n_advertised; i++)
                if (strcasecmp(c->advertised[i].listener, listener) == 0)
                        return c->advertised[i].tmpl;
        return NULL;
}

struct loader {
        const struct opt_set *set;
        char *errbuf;
        size_t errlen;
};

static const char *origin(const struct loader *l, const char *env) {
        static __thread char buf[96];
        return opts_origin(l->set, env, buf, sizeof buf);
}

/* Copies the value (or the default, which may be NULL) into *ret. */
static int take(const struct loader *l, const char *env, const char *def, char **ret) {
        const char *v = opts_get(l->set, env);
        if (v && !*v)
                v = NULL;   /* an empty variable (e.g. an unset ConfigMap key) means unset */
        if (!v)
                v = def;
        if (!v) {
                *ret = NULL;
                return 0;
        }
        *ret = strdup(v);
        if (!*ret) {
                snprintf(l->errbuf, l->errlen, "out of memory");
                return -ENOMEM;
        }
        return 0;
}

static int take_u32(const struct loader *l, const char *env, uint32_t def, uint32_t min,
                    uint32_t max, uint32_t *ret) {
        const char *v = opts_get(l->set, env);
        if (!v || !*v) {
                *ret = def;
                return 0;
        }
        uint64_t x;
        if (parse_u64(v, min, max, &x) < 0) {
                snprintf(l->errbuf, l->errlen, "%s \"%s\" is not a whole number from %u to %u",
                         origin(l, env), v, min, max);
                return -EINVAL;
        }
        *ret = (uint32_t) x;
        return 0;
}

static int need(const struct loader *l, const char *env, const char *value, const char *what) {
        if (value)
                return 0;
        snprintf(l->errbuf, l->errlen, "%s is required (%s)", origin(l, env), what);
        return -EINVAL;
}

static int check_label(const struct loader *l, const char *env, const char *value) {
        if (!value || identity_is_dns_label(value))
                return 0;
        snprintf(l->errbuf, l->errlen, "%s \"%s\" is not a DNS label (expected lower-case letters, digits and '-', at most 63)",
                 origin(l, env), value);
        return -EINVAL;
}

static int load_listeners(const struct loader *l, struct init_config *c) {
        char *errbuf = l->errbuf;
        size_t errlen = l->errlen;
        const char *spec = opts_get(l->set, "KPA_LISTENERS");
        if (!spec || !*spec)
                spec = "INTERNAL://:9092,CONTROLLER://:9093";
        int r = listeners_parse(spec, origin(l, "KPA_LISTENERS"), &c->listeners, errbuf, errlen);
        if (r < 0)
                return r;
        const char *map = opts_get(l->set, "KPA_SECURITY_PROTOCOL_MAP");
        if (map && *map) {
                r = listeners_apply_protocol_map(&c->listeners, map, origin(l, "KPA_SECURITY_PROTOCOL_MAP"),
                                                 errbuf, errlen);
                if (r < 0)
                        return r;
        }
        const char *ctl = opts_get(l->set, "KPA_CONTROLLER_LISTENER");
        if (!ctl || !*ctl)
                ctl = "CONTROLLER";
        struct listener *cl = listeners_find(&c->listeners, ctl);
        if (!cl) {
                snprintf(errbuf, errlen, "controller listener %s is not among KPA_LISTENERS (set KPA_CONTROLLER_LISTENER or add %s://:9093)",
                         ctl, ctl);
                return -EINVAL;
        }
        snprintf(c->controller_listener, sizeof c->controller_listener, "%s", cl->name);
        const char *ibl = opts_get(l->set, "KPA_INTER_BROKER_LISTENER");
        struct listener *il = NULL;
        if (ibl && *ibl) {
                il = listeners_find(&c->listeners, ibl);
                if (!il || il == cl) {
                        snprintf(errbuf, errlen, "%s \"%s\" is not a broker listener among KPA_LISTENERS",
                                 origin(l, "KPA_INTER_BROKER_LISTENER"), ibl);
                        return -EINVAL;
                }
        } else {
                for (size_t i = 0; i < c->listeners.n && !il; i++)
                        if (&c->listeners.v[i] != cl)
                                il = &c->listeners.v[i];
                if (!il) {
                        snprintf(errbuf, errlen, "KPA_LISTENERS has no broker listener besides the controller listener %s",
                                 cl->name);
                        return -EINVAL;
                }
        }
        snprintf(c->inter_broker_listener, sizeof c->inter_broker_listener, "%s", il->name);

        /* Advertised templates: every KPA_ADVERTISED_<NAME> must name a listener. */
        for (size_t i = 0; i < l->set->n; i++) {
                const struct opt_value *v = &l->set->v[i];
                if (v->def->kind != OPT_FAMILY || !*v->value)
                        continue;
                const char *name = v->name + strlen("KPA_ADVERTISED_");
                struct listener *x = listeners_find(&c->listeners, name);
                if (!x) {
                        snprintf(errbuf, errlen, "%s names listener %s, which is not in KPA_LISTENERS",
                                 origin(l, v->name), name);
                        return -EINVAL;
                }
                /* Variable names are case-sensitive and listener names are not, so
                 * KPA_ADVERTISED_INTERNAL and KPA_ADVERTISED_internal name one listener: two
                 * templates for it would be ambiguous, and more than LISTENERS_MAX of them
                 * would not fit in c->advertised. */
                if (initcfg_advertised_template(c, x->name)) {
                        snprintf(errbuf, errlen, "%s sets the advertised address of listener %s a second time",
                                 origin(l, v->name), x->name);
                        return -EINVAL;
                }
                struct advertised_template *t = &c->advertised[c->n_advertised];
                snprintf(t->listener, sizeof t->listener, "%s", x->name);
                t->tmpl = strdup(v->value);
                if (!t->tmpl)
                        return -ENOMEM;
                c->n_advertised++;
        }
        return 0;
}

static int load_log_dirs(const struct loader *l, struct init_config *c) {
        const char *v = opts_get(l->set, "KPA_LOG_DIRS");
        if (!v || !*v)
                v = "/var/lib/kafka/data";
        const char *p = v;
        while (*p) {
                const char *end = strchr(p, ',');
                size_t len = end ? (size_t) (end - p) : strlen(p);
                if (len == 0 || p[0] != '/' || c->n_log_dirs == INITCFG_MAX_LOG_DIRS) {
                        snprintf(l->errbuf, l->errlen, "%s \"%s\" is not a comma-separated list of at most %d absolute paths",
                                 origin(l, "KPA_LOG_DIRS"), v, INITCFG_MAX_LOG_DIRS);
                        return -EINVAL;
                }
                c->log_dirs[c->n_log_dirs] = strndup(p, len);
                if (!c->log_dirs[c->n_log_dirs])
                        return -ENOMEM;
                c->n_log_dirs++;
                p += len;
                if (*p == ',')
                        p++;
        }
        return 0;
}

static int load(const struct loader *l, struct init_config *c) {
        int r;
        char *errbuf = l->errbuf;
        size_t errlen = l->errlen;
        const char *s;

        if ((r = take(l, "POD_NAME", NULL, &c->pod_name)) < 0 ||
            (r = need(l, "POD_NAME", c->pod_name, "the downward API's metadata.name")) < 0)
                return r;
        if (identity_split_pod_name(c->pod_name, c->statefulset, &c->ordinal) < 0) {
                snprintf(errbuf, errlen, "%s \"%s\" has no ordinal suffix (expected <statefulset>-<n>, a DNS label)",
                         origin(l, "POD_NAME"), c->pod_name);
                return -EINVAL;
        }
        if ((r = take(l, "POD_NAMESPACE", NULL, &c->pod_namespace)) < 0 ||
            (r = need(l, "POD_NAMESPACE", c->pod_namespace, "the downward API's metadata.namespace")) < 0 ||
            (r = check_label(l, "POD_NAMESPACE", c->pod_namespace)) < 0)
                return r;
        if ((r = take(l, "POD_IP", NULL, &c->pod_ip)) < 0 || (r = take(l, "HOST_IP", NULL, &c->host_ip)) < 0 ||
            (r = take(l, "NODE_NAME", NULL, &c->node_name)) < 0)
                return r;
        if ((r = take(l, "KPA_CLUSTER_ID", NULL, &c->cluster_id)) < 0 ||
            (r = need(l, "KPA_CLUSTER_ID", c->cluster_id, "e.g. from kafka-storage.sh random-uuid")) < 0)
                return r;
        if (!identity_is_cluster_id(c->cluster_id)) {
                snprintf(errbuf, errlen, "%s \"%s\" is not a Kafka cluster id (expected 22 characters of base64url encoding 16 bytes, e.g. from kafka-storage.sh random-uuid)",
                         origin(l, "KPA_CLUSTER_ID"), c->cluster_id);
                return -EINVAL;
        }
        char def[80];
        snprintf(def, sizeof def, "%s-headless", c->statefulset);
        if ((r = take(l, "KPA_HEADLESS_SERVICE", def, &c->headless_service)) < 0 ||
            (r = check_label(l, "KPA_HEADLESS_SERVICE", c->headless_service)) < 0)
                return r;
        if ((r = take(l, "KPA_CLUSTER_DOMAIN", "cluster.local", &c->cluster_domain)) < 0)
                return r;
        if (!identity_is_dns_subdomain(c->cluster_domain)) {
                snprintf(errbuf, errlen, "%s \"%s\" is not a DNS name", origin(l, "KPA_CLUSTER_DOMAIN"), c->cluster_domain);
                return -EINVAL;
        }
        if ((r = take(l, "KPA_CONTROLLER_STATEFULSET", NULL, &c->controller_statefulset)) < 0 ||
            (r = check_label(l, "KPA_CONTROLLER_STATEFULSET", c->controller_statefulset)) < 0)
                return r;
        /* With separate controllers, brokers start at 100 by default so that no broker's
         * node.id is a voter's (Kafka refuses that); explicit offsets keep their meaning. */
        uint32_t broker_offset = c->controller_statefulset ? IDENTITY_SEPARATE_BROKER_OFFSET : 0;
        if ((r = take_u32(l, "KPA_NODE_ID_OFFSET", broker_offset, 0, INT32_MAX, &c->node_id_offset)) < 0 ||
            (r = take_u32(l, "KPA_CONTROLLER_COUNT", 3, 1, IDENTITY_MAX_CONTROLLERS, &c->controller_count)) < 0 ||
            (r = take_u32(l, "KPA_CONTROLLER_NODE_ID_OFFSET", 0, 0, INT32_MAX, &c->controller_node_id_offset)) < 0 ||
            (r = take_u32(l, "KPA_MIN_INSYNC_REPLICAS", 0, 1, INT32_MAX, &c->min_insync_replicas)) < 0)
                return r;
        if (c->controller_statefulset) {
                snprintf(def, sizeof def, "%s-headless", c->controller_statefulset);
                if ((r = take(l, "KPA_CONTROLLER_SERVICE", def, &c->controller_service)) < 0 ||
                    (r = check_label(l, "KPA_CONTROLLER_SERVICE", c->controller_service)) < 0)
                        return r;
        }
        if ((r = load_listeners(l, c)) < 0)
                return r;

        if ((r = take(l, "KPA_RACK", NULL, &c->rack)) < 0 ||
            (r = take(l, "KPA_RACK_NODE_LABEL", NULL, &c->rack_node_label)) < 0)
                return r;
        if (c->rack && c->rack_node_label) {
                snprintf(errbuf, errlen, "KPA_RACK and KPA_RACK_NODE_LABEL are both set (expected one of them)");
                return -EINVAL;
        }
        if (c->rack && (r = rack_validate(c->rack, origin(l, "KPA_RACK"), errbuf, errlen)) < 0)
                return r;
        if (c->rack_node_label && (r = rack_label_key_validate(c->rack_node_label, errbuf, errlen)) < 0)
                return r;
        if (c->rack_node_label && !c->node_name) {
                snprintf(errbuf, errlen, "KPA_RACK_NODE_LABEL needs NODE_NAME (downward API spec.nodeName)");
                return -EINVAL;
        }
        if ((r = take(l, "KUBERNETES_SERVICE_HOST", NULL, &c->kube_host)) < 0 ||
            (r = take(l, "KUBERNETES_SERVICE_PORT", "443", &c->kube_port)) < 0 ||
            (r = take(l, "KPA_KUBE_TOKEN_FILE", "/var/run/secrets/kubernetes.io/serviceaccount/token", &c->kube_token_path)) < 0 ||
            (r = take(l, "KPA_KUBE_CA_FILE", "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt", &c->kube_ca_path)) < 0)
                return r;
        s = opts_get(l->set, "KPA_KUBE_TIMEOUT");
        c->kube_timeout_ms = 30000;
        if (s && *s && parse_duration_ms(s, 600000, &c->kube_timeout_ms) < 0) {
                snprintf(errbuf, errlen, "%s \"%s\" is not a duration up to 10m (expected e.g. 500ms, 30s, 1m)",
                         origin(l, "KPA_KUBE_TIMEOUT"), s);
                return -EINVAL;
        }

        if ((r = take(l, "KPA_TLS_DIR", NULL, &c->tls_dir)) < 0 ||
            (r = take(l, "KPA_TLS_CA_DIR", NULL, &c->tls_ca_dir)) < 0 ||
            (r = take(l, "KPA_TLS_PASSWORD_FILE", NULL, &c->tls_password_file)) < 0 ||
            (r = take(l, "KPA_TLS_KEY_TYPE", "ec", &c->tls_key_type)) < 0 ||
            (r = take_u32(l, "KPA_TLS_VALIDITY_DAYS", 90, 1, 3650, &c->tls_validity_days)) < 0)
                return r;
        if (c->tls_dir && c->tls_ca_dir) {
                snprintf(errbuf, errlen, "KPA_TLS_DIR and KPA_TLS_CA_DIR are both set (expected one of them)");
                return -EINVAL;
        }
        if (strcmp(c->tls_key_type, "ec") != 0 && strcmp(c->tls_key_type, "rsa") != 0) {
                snprintf(errbuf, errlen, "%s \"%s\" is not a key type (expected ec or rsa)",
                         origin(l, "KPA_TLS_KEY_TYPE"), c->tls_key_type);
                return -EINVAL;
        }
        s = opts_get(l->set, "KPA_TLS_CLIENT_AUTH");
        if (!s || !*s || strcmp(s, "none") == 0)
                c->tls_client_auth = CLIENT_AUTH_NONE;
        else if (strcmp(s, "requested") == 0)
                c->tls_client_auth = CLIENT_AUTH_REQUESTED;
        else if (strcmp(s, "required") == 0)
                c->tls_client_auth = CLIENT_AUTH_REQUIRED;
        else {
                snprintf(errbuf, errlen, "%s \"%s\" is not a client auth mode (expected none, requested or required)",
                         origin(l, "KPA_TLS_CLIENT_AUTH"), s);
                return -EINVAL;
        }
        s = opts_get(l->set, "KPA_TLS_HOSTNAME_CHECK");
        if (s && *s && strcmp(s, "warn") != 0 && strcmp(s, "error") != 0) {
                snprintf(errbuf, errlen, "%s \"%s\" is not a check mode (expected error or warn)",
                         origin(l, "KPA_TLS_HOSTNAME_CHECK"), s);
                return -EINVAL;
        }
        c->tls_hostname_warn = s && strcmp(s, "warn") == 0;

        if ((r = take(l, "KPA_SASL_USERS_DIR", NULL, &c->sasl_users_dir)) < 0 ||
            (r = take(l, "KPA_SASL_INTER_BROKER_USER", "kafka", &c->sasl_inter_broker_user)) < 0 ||
            (r = take(l, "KPA_SASL_AGENT_USER", c->sasl_inter_broker_user, &c->sasl_agent_user)) < 0)
                return r;

        /* Each protocol in use needs its inputs. */
        for (size_t i = 0; i < c->listeners.n; i++) {
                const struct listener *x = &c->listeners.v[i];
                if (security_protocol_uses_tls(x->proto) && !c->tls_dir && !c->tls_ca_dir) {
                        snprintf(errbuf, errlen, "listener %s uses %s but neither KPA_TLS_DIR nor KPA_TLS_CA_DIR is set",
                                 x->name, security_protocol_name(x->proto));
                        return -EINVAL;
                }
                if (security_protocol_uses_sasl(x->proto) && !c->sasl_users_dir) {
                        snprintf(errbuf, errlen, "listener %s uses %s but KPA_SASL_USERS_DIR is not set",
                                 x->name, security_protocol_name(x->proto));
                        return -EINVAL;
                }
        }

        if ((r = load_log_dirs(l, c)) < 0 ||
            (r = take(l, "KPA_CONFIG_TEMPLATE", NULL, &c->config_template)) < 0 ||
            (r = take(l, "KPA_OUTPUT_DIR", "/etc/kafka/kpa", &c->output_dir)) < 0)
                return r;
        if (c->output_dir[0] != '/') {
                snprintf(errbuf, errlen, "%s \"%s\" is not an absolute path", origin(l, "KPA_OUTPUT_DIR"), c->output_dir);
                return -EINVAL;
        }
        s = opts_get(l->set, "KPA_DRY_RUN");
        if (s && *s && parse_bool(s, &c->dry_run) < 0) {
                snprintf(errbuf, errlen, "%s \"%s\" is not a boolean (expected true or false)", origin(l, "KPA_DRY_RUN"), s);
                return -EINVAL;
        }
        return 0;
}

int initcfg_load(char *const envp[], int argc, char *const argv[], struct init_config *ret,
                 char *errbuf, size_t errlen) {
        struct opt_set set;
        int r = opts_collect(init_opts, sizeof init_opts / sizeof init_opts[0], envp, argc, argv,
                             &set, errbuf, errlen);
        if (r < 0)
                return r;
        if (opts_from_flag(&set, "KPA_HELP")) {
                opts_free(&set);
                return -ECANCELED;
        }
        if (set.nargs > 0) {
                snprintf(errbuf, errlen, "unexpected argument \"%s\" (kpa-init takes only --flags)", set.args[0]);
                opts_free(&set);
                return -EINVAL;
        }
        struct init_config c = { 0 };
        struct loader l = { &set, errbuf, errlen };
        r = load(&l, &c);
        opts_free(&set);
        if (r < 0) {
                if (r == -ENOMEM)
                        snprintf(errbuf, errlen, "out of memory");
                initcfg_free(&c);
                return r;
        }
        *ret = c;
        return 0;
}
