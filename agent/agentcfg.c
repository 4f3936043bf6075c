#include "kpa/agentcfg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "kpa/fsx.h"
#include "kpa/httpd.h"
#include "kpa/kafkaconf.h"
#include "kpa/opts.h"
#include "kpa/parse.h"
#include "kpa/props.h"
#include "kpa/quorum.h"
#include "kpa/scaledown.h"
#include "kpa/tlsrot.h"

static const struct opt_def agent_opts[] = {
        { "KPA_LISTEN", OPT_VALUE, "HTTP address for probes, ADDR:PORT or [v6]:PORT (default 0.0.0.0:8080)" },
        { "KPA_BOOTSTRAP", OPT_VALUE, "the local broker's listener HOST:PORT (default: bootstrap.servers of --client-config)" },
        { "KPA_NODE_ID", OPT_VALUE, "the local broker's node.id" },
        { "KPA_BROKER_CONFIG", OPT_VALUE, "read node.id from this server.properties (kpa-init's)" },
        { "KPA_CLIENT_CONFIG", OPT_VALUE, "librdkafka properties for TLS/SASL (kpa-init's client.properties)" },
        { "KPA_INTERVAL", OPT_VALUE, "time between checks while the broker is ready and no /prestop is held (default 5s)" },
        { "KPA_FAST_INTERVAL", OPT_VALUE, "time between checks while the broker is not ready or a /prestop is held (default 250ms, at most --interval)" },
        { "KPA_CHECK_TIMEOUT", OPT_VALUE, "bound on one check (default 4s)" },
        { "KPA_READY_AFTER", OPT_VALUE, "consecutive good checks before ready (default 2)" },
        { "KPA_STALE_AFTER", OPT_VALUE, "a verdict older than this is never ready (default 3 x interval + timeout)" },
        { "KPA_LIVENESS_WINDOW", OPT_VALUE, "how long the broker may be unreachable before /livez fails (default 60s)" },
        { "KPA_PRESTOP_TIMEOUT", OPT_VALUE, "how long /prestop waits for safe-to-stop (default 120s)" },
        { "KPA_READY_SCOPE", OPT_VALUE, "local (default) or cluster (also wait for zero under-replicated partitions)" },
        { "KPA_CAUGHT_UP_WITHIN", OPT_VALUE, "controller-only node: a voter caught up with the quorum leader at most this long ago counts as caught up (default 1.5 x controller.quorum.fetch.timeout.ms, 3s)" },
        { "KPA_FEATURES_INTERVAL", OPT_VALUE, "how often to ask the broker for its feature levels, for /status and /metrics; 0: never (default 60s)" },
        { "KPA_DISK_WARN_FREE_PERCENT", OPT_VALUE, "the disk condition fails when a log dir's file system has less than this percent of its bytes or inodes free (default 10; 0: never)" },
        { "KPA_LOG_DIRS_INTERVAL", OPT_VALUE, "time between DescribeLogDirs asking the broker which log dirs are offline (default 30s; 0: never)" },
        { "KPA_RESTORE_LEADERSHIP", OPT_VALUE, "on (default) or off: once the broker is caught up, ask for the preferred leader election of the partitions it should lead and another broker leads (needs ALTER on CLUSTER)" },
        { "KPA_READY_WAITS_FOR_LEADERSHIP", OPT_VALUE, "after the broker is caught up, /readyz waits at most this long for it to lead its preferred partitions again (default 10s; 0: never waits)" },
        { "KPA_POD_NAME", OPT_VALUE, "this pod's name (downward API metadata.name): /prestop then reads its StatefulSet's spec.replicas and holds a pod being scaled away while it hosts replicas (docs/scale-down.md; default: unset, not read)" },
        { "KPA_STATEFULSET", OPT_VALUE, "the pod's StatefulSet (default: --pod-name without -<ordinal>)" },
        { "KPA_STATEFULSET_ROLE", OPT_VALUE, "the Role that grants get on the StatefulSet, named in the hint of a 403 (k8s/base sets it; default: unset, the hint describes the Role)" },
        { "KPA_NAMESPACE", OPT_VALUE, "the pod's namespace (default: the service account's namespace file)" },
        { "KUBERNETES_SERVICE_HOST", OPT_VALUE, "API server host (set by Kubernetes)" },
        { "KUBERNETES_SERVICE_PORT", OPT_VALUE, "API server port (set by Kubernetes; default 443)" },
        { "KPA_KUBE_TOKEN_FILE", OPT_VALUE, "service account token (default /var/run/secrets/kubernetes.io/serviceaccount/token)" },
        { "KPA_KUBE_CA_FILE", OPT_VALUE, "API server CA (default /var/run/secrets/kubernetes.io/serviceaccount/ca.crt)" },
        { "KPA_TLS_DIR", OPT_VALUE, "the cert-manager Secret volume kpa-init read (tls.crt, tls.key, ca.crt): watched, and a renewed certificate is put in place without a broker restart (docs/tls-rotation.md)" },
        { "KPA_TLS_CA_DIR", OPT_VALUE, "instead of --tls-dir: the CA volume (ca.crt + ca.key) kpa-init issued this pod's certificate from: the agent issues it again, as kpa-init does, once two thirds of its lifetime are gone, without a broker restart (docs/tls-rotation.md)" },
        { "KPA_TLS_KEY_TYPE", OPT_VALUE, "with --tls-ca-dir: key of an issued certificate, ec or rsa (default: the type of the current key)" },
        { "KPA_TLS_VALIDITY_DAYS", OPT_VALUE, "with --tls-ca-dir: validity of an issued certificate in days, 1 to 3650 (default 90, as kpa-init's)" },
        { "KPA_TLS_EXPIRY_WARN_DAYS", OPT_VALUE, "the tls_expiry condition warns this many days before a served certificate expires (default 14; 0: only once expired)" },
        { "KPA_TLS_RECHECK_INTERVAL", OPT_VALUE, "how often KPA_TLS_DIR or KPA_TLS_CA_DIR is re-checked besides its change events and the issued certificate's due moment (default 60s)" },
        { "KPA_LOG_LEVEL", OPT_VALUE, "error, warn, info (default) or debug" },
        { "KPA_DEMO", OPT_SWITCH, "watch an embedded librdkafka mock cluster (no broker needed)" },
        { "KPA_HELP", OPT_SWITCH, "show this help" },
};

void agentcfg_usage(FILE *out) {
        fprintf(out, "usage: kpa-agent [check] [--flag VALUE]...\n"
                     "  (no command)  run the sidecar: probes on --listen, checks every --interval\n"
                     "  check         run one check, print the verdict as JSON, exit 0 ready / 1 not\n\n");
        opts_usage(agent_opts, sizeof agent_opts / sizeof agent_opts[0], out);
}

void agentcfg_free(struct agent_config *c) {
        free(c->listen);
        free(c->bootstrap);
        free(c->broker_config);
        free(c->client_config);
        free(c->controllers);
        free(c->quorum_hosts);
        free(c->log_dirs);
        scaledown_config_free(c->scale_down);
        free(c->tls_dir);
        free(c->tls_ca_dir);
        free(c->tls_key_type);
        memset(c, 0, sizeof *c);
}

struct loader {
        const struct opt_set *set;
        char *errbuf;
        size_t errlen;
};

static const char *value(const struct loader *l, const char *env) {
        const char *v = opts_get(l->set, env);
        return v && *v ? v : NULL;
}

static int duration(const struct loader *l, const char *env, uint64_t def, uint64_t min,
                    uint64_t max, uint64_t *ret) {
        const char *v = value(l, env);
        char o[64], lo[32], hi[32];
        *ret = def;
        if (!v)
                return 0;
        if (parse_duration_ms(v, max, ret) == 0 && *ret >= min)
                return 0;
        format_duration_ms(min, lo, sizeof lo);
        format_duration_ms(max, hi, sizeof hi);
        snprintf(l->errbuf, l->errlen, "%s \"%s\" is not a duration from %s to %s (e.g. 500ms, 5s, 1m)",
                 opts_origin(l->set, env, o, sizeof o), v, lo, hi);
        return -EINVAL;
}

static int copy(const struct loader *l, const char *env, const char *def, char **ret) {
        const char *v = value(l, env);
        if (!v)
                v = def;
        *ret = v ? strdup(v) : NULL;
        if (v && !*ret) {
                snprintf(l->errbuf, l->errlen, "out of memory");
                return -ENOMEM;
        }
        return 0;
}

/* Whether process.roles ("broker", "controller", or both, comma-separated) names only the
 * controller role. -EINVAL for any other role or an empty list. */
static int roles_controller_only(const char *roles, bool *ret) {
        bool broker = false, controller = false, any = false;
        const char *p = roles;
        while (*p) {
                while (*p == ' ' || *p == '\t')
                        p++;
                size_t n = strcspn(p, ", \t");
                if (n == 6 && strncmp(p, "broker", 6) == 0)
                        broker = any = true;
                else if (n == 10 && strncmp(p, "controller", 10) == 0)
                        controller = any = true;
                else if (n > 0)
                        return -EINVAL;
                p += n;
                while (*p == ' ' || *p == '\t')
                        p++;
                if (*p && *p != ',')
                        return -EINVAL;
                if (*p == ',')
                        p++;
        }
        if (!any)
                return -EINVAL;
        *ret = controller && !broker;
        return 0;
}

/* What the agent takes from kpa-init's server.properties: node.id, and for a controller-only
 * node (process.roles=controller) the controllers and Kafka's fetch timeout. */
static int broker_config_load(const char *path, struct agent_config *c, char *errbuf,
                              size_t errlen) {
        char *text = NULL, perr[128];
        size_t len;
        int r = fsx_read_file(path, 1024 * 1024, &text, &len);
        if (r < 0) {
                snprintf(errbuf, errlen, "--broker-config %s cannot be read: %s", path,
                         r == -EINVAL ? "not a regular file" : strerror(-r));
                return -EINVAL;
        }
        struct props p = { 0 };
        r = props_parse(&p, text, len, perr, sizeof perr);
        free(text);
        const char *v = r == 0 ? props_get(&p, "node.id") : NULL;
        uint64_t id;
        if (r < 0 || !v || parse_u64(v, 0, INT32_MAX, &id) < 0) {
                snprintf(errbuf, errlen, "--broker-config %s has no valid node.id (expected kpa-init's server.properties)", path);
                props_free_secret(&p);
                return -EINVAL;
        }
        c->node_id = (int32_t) id;
        r = 0;
        /* The dirs whose file systems the disk watch measures; Kafka's default when unset. */
        const char *dirs = props_get(&p, "log.dirs");
        if (!dirs)
                dirs = props_get(&p, "log.dir");
        char why[512];
        if (!(c->log_dirs = calloc(DISK_MAX_DIRS, sizeof *c->log_dirs))) {
                snprintf(errbuf, errlen, "out of memory");
                props_free_secret(&p);
                return -ENOMEM;
        }
        if (dirs && disk_parse_log_dirs(dirs, c->log_dirs, DISK_MAX_DIRS, &c->n_log_dirs, why, sizeof why) < 0) {
                snprintf(errbuf, errlen, "--broker-config %s: log.dirs: %s", path, why);
                props_free_secret(&p);
                return -EINVAL;
        }
        const char *roles = props_get(&p, "process.roles");
        if (roles && roles_controller_only(roles, &c->controller) < 0) {
                snprintf(errbuf, errlen, "--broker-config %s: process.roles \"%.100s\" is not broker, controller or "
                         "broker,controller", path, roles);
                r = -EINVAL;
        }
        if (r == 0 && c->controller) {
                uint64_t fetch = QUORUM_DEFAULT_FETCH_TIMEOUT_MS;
                const char *ft = props_get(&p, "controller.quorum.fetch.timeout.ms");
                c->controllers = calloc(1, sizeof *c->controllers);
                if (!c->controllers) {
                        snprintf(errbuf, errlen, "out of memory");
                        r = -ENOMEM;
                } else if (ctlcheck_parse_endpoints(props_get(&p, "controller.quorum.voters"),
                                                    props_get(&p, "controller.quorum.bootstrap.servers"),
                                                    c->controllers, why, sizeof why) < 0) {
                        snprintf(errbuf, errlen, "--broker-config %s: %s", path, why);
                        r = -EINVAL;
                } else if (ft && parse_u64(ft, 1, 3600000, &fetch) < 0) {
                        snprintf(errbuf, errlen, "--broker-config %s: controller.quorum.fetch.timeout.ms \"%.40s\" is "
                                 "not a number of milliseconds", path, ft);
                        r = -EINVAL;
                }
                /* Kafka's leader resigns when a majority has not fetched within 1.5 x the fetch
                 * timeout: the same window bounds "caught up" (see quorum.h). */
                uint64_t bound = fetch * 3 / 2;
                c->caught_up_within_ms = bound < 100 ? 100 : bound > 600000 ? 600000 : bound;
        }
        /* Only a fallback for the gate (see agentcfg.h): a list that does not parse leaves
         * it out; the broker itself refuses such a file. */
        if (r == 0 && !c->controller && (c->quorum_hosts = calloc(1, sizeof *c->quorum_hosts))) {
                if (ctlcheck_parse_endpoints(props_get(&p, "controller.quorum.voters"),
                                             props_get(&p, "controller.quorum.bootstrap.servers"),
                                             c->quorum_hosts, why, sizeof why) < 0 ||
                    c->quorum_hosts->n == 0) {
                        free(c->quorum_hosts);
                        c->quorum_hosts = NULL;
                }
        }
        props_free_secret(&p);
        return r;
}

static int load(const struct loader *l, struct agent_config *c) {
        char o[64];
        const char *v;
        int r;

        if ((r = copy(l, "KPA_LISTEN", "0.0.0.0:8080", &c->listen)) < 0 ||
            (r = copy(l, "KPA_BOOTSTRAP", NULL, &c->bootstrap)) < 0 ||
            (r = copy(l, "KPA_BROKER_CONFIG", NULL, &c->broker_config)) < 0 ||
            (r = copy(l, "KPA_CLIENT_CONFIG", NULL, &c->client_config)) < 0 ||
            (r = copy(l, "KPA_TLS_DIR", NULL, &c->tls_dir)) < 0 ||
            (r = copy(l, "KPA_TLS_CA_DIR", NULL, &c->tls_ca_dir)) < 0 ||
            (r = copy(l, "KPA_TLS_KEY_TYPE", NULL, &c->tls_key_type)) < 0 ||
            (r = duration(l, "KPA_TLS_RECHECK_INTERVAL", TLSROT_DEFAULT_RECHECK_MS, 1000, 86400000, &c->tls_recheck_ms)) < 0)
                return r;
        if ((r = duration(l, "KPA_INTERVAL", 5000, 100, 3600000, &c->interval_ms)) < 0 ||
            (r = duration(l, "KPA_FAST_INTERVAL", 250, 100, 3600000, &c->fast_interval_ms)) < 0 ||
            (r = duration(l, "KPA_CHECK_TIMEOUT", 4000, 100, 600000, &c->check_timeout_ms)) < 0 ||
            (r = duration(l, "KPA_LIVENESS_WINDOW", 60000, 1000, 86400000, &c->liveness_window_ms)) < 0 ||
            (r = duration(l, "KPA_PRESTOP_TIMEOUT", 120000, 0, 86400000, &c->prestop_timeout_ms)) < 0 ||
            (r = duration(l, "KPA_FEATURES_INTERVAL", 60000, 0, 86400000, &c->features_interval_ms)) < 0 ||
            (r = duration(l, "KPA_STALE_AFTER", 3 * c->interval_ms + c->check_timeout_ms, 100, 86400000,
                          &c->stale_after_ms)) < 0)
                return r;
        /* Fast checks are never slower than the steady ones: --interval 100ms alone means
         * checks every 100ms, whatever the state. */
        if (c->fast_interval_ms > c->interval_ms)
                c->fast_interval_ms = c->interval_ms;
        /* Just before each check ends the verdict is one interval (and the check) old: a
         * bound at or below the interval would call every verdict stale between checks. */
        if (value(l, "KPA_STALE_AFTER") && c->stale_after_ms <= c->interval_ms) {
                char o2[64], iv[32];
                format_duration_ms(c->interval_ms, iv, sizeof iv);
                snprintf(l->errbuf, l->errlen, "%s \"%s\" is not longer than %s %s: the verdict "
                         "is one interval old just before each check ends, so it would go stale "
                         "between checks", opts_origin(l->set, "KPA_STALE_AFTER", o, sizeof o),
                         value(l, "KPA_STALE_AFTER"),
                         value(l, "KPA_INTERVAL") ? opts_origin(l->set, "KPA_INTERVAL", o2, sizeof o2)
                                                  : "the interval", iv);
                return -EINVAL;
        }
        /* Bad addresses are bad input, refused here with one line rather than at bind or
         * at the first check. */
        struct sockaddr_storage ss;
        socklen_t sl;
        char why[256];
        if (httpd_parse_listen(c->listen, &ss, &sl, why, sizeof why) < 0) {
                snprintf(l->errbuf, l->errlen, "%s: %s", opts_origin(l->set, "KPA_LISTEN", o, sizeof o), why);
                return -EINVAL;
        }
        if (c->bootstrap && kafka_conf_bootstrap_check(c->bootstrap, why, sizeof why) < 0) {
                snprintf(l->errbuf, l->errlen, "%s: %s", opts_origin(l->set, "KPA_BOOTSTRAP", o, sizeof o), why);
                return -EINVAL;
        }
        uint64_t pct = DISK_DEFAULT_WARN_FREE_PERCENT;
        if ((v = value(l, "KPA_DISK_WARN_FREE_PERCENT")) && parse_u64(v, 0, 99, &pct) < 0) {
                snprintf(l->errbuf, l->errlen, "%s \"%s\" is not a whole percent from 0 to 99",
                         opts_origin(l->set, "KPA_DISK_WARN_FREE_PERCENT", o, sizeof o), v);
                return -EINVAL;
        }
        c->disk_warn_free_percent = (unsigned) pct;
        uint64_t days = TLSROT_DEFAULT_EXPIRY_WARN_DAYS;
        if ((v = value(l, "KPA_TLS_EXPIRY_WARN_DAYS")) && parse_u64(v, 0, 3650, &days) < 0) {
                snprintf(l->errbuf, l->errlen, "%s \"%s\" is not a whole number of days from 0 to 3650",
                         opts_origin(l->set, "KPA_TLS_EXPIRY_WARN_DAYS", o, sizeof o), v);
                return -EINVAL;
        }
        c->tls_expiry_warn_days = (unsigned) days;
        /* The same inputs as kpa-init's, with the same rule: one source of TLS material. */
        if (c->tls_dir && c->tls_ca_dir) {
                snprintf(l->errbuf, l->errlen, "KPA_TLS_DIR and KPA_TLS_CA_DIR are both set (expected one of them)");
                return -EINVAL;
        }
        if (c->tls_key_type && strcmp(c->tls_key_type, "ec") != 0 && strcmp(c->tls_key_type, "rsa") != 0) {
                snprintf(l->errbuf, l->errlen, "%s \"%s\" is not a key type (expected ec or rsa)",
                         opts_origin(l->set, "KPA_TLS_KEY_TYPE", o, sizeof o), c->tls_key_type);
                return -EINVAL;
        }
        uint64_t vdays = 0;
        if ((v = value(l, "KPA_TLS_VALIDITY_DAYS")) && parse_u64(v, 1, 3650, &vdays) < 0) {
                snprintf(l->errbuf, l->errlen, "%s \"%s\" is not a whole number of days from 1 to 3650",
                         opts_origin(l->set, "KPA_TLS_VALIDITY_DAYS", o, sizeof o), v);
                return -EINVAL;
        }
        c->tls_validity_days = (uint32_t) vdays;
        if (!c->tls_ca_dir && (c->tls_key_type || vdays)) {
                snprintf(l->errbuf, l->errlen, "%s is set without KPA_TLS_CA_DIR (it says how the agent issues a "
                         "certificate from the CA)", c->tls_key_type ? opts_origin(l->set, "KPA_TLS_KEY_TYPE", o, sizeof o)
                                                                      : opts_origin(l->set, "KPA_TLS_VALIDITY_DAYS", o, sizeof o));
                return -EINVAL;
        }
        if ((v = value(l, "KPA_LOG_DIRS_INTERVAL")) && strcmp(v, "0") == 0)
                c->log_dirs_interval_ms = 0;
        else if (duration(l, "KPA_LOG_DIRS_INTERVAL", 30000, 1000, 86400000, &c->log_dirs_interval_ms) < 0) {
                snprintf(l->errbuf, l->errlen, "%s \"%s\" is not 0 (never) or a duration from 1s to 24h (e.g. 30s, 5m)",
                         opts_origin(l->set, "KPA_LOG_DIRS_INTERVAL", o, sizeof o), v);
                return -EINVAL;
        }
        bool restore = true;
        if ((v = value(l, "KPA_RESTORE_LEADERSHIP")) && parse_bool(v, &restore) < 0) {
                snprintf(l->errbuf, l->errlen, "%s \"%s\" is not on or off",
                         opts_origin(l->set, "KPA_RESTORE_LEADERSHIP", o, sizeof o), v);
                return -EINVAL;
        }
        c->restore_leadership = restore;
        if ((v = value(l, "KPA_READY_WAITS_FOR_LEADERSHIP")) && strcmp(v, "0") == 0)
                c->ready_leadership_wait_ms = 0;
        else if (duration(l, "KPA_READY_WAITS_FOR_LEADERSHIP", 10000, 100, 3600000, &c->ready_leadership_wait_ms) < 0) {
                snprintf(l->errbuf, l->errlen, "%s \"%s\" is not 0 (never waits) or a duration from 100ms to 1h (e.g. 10s)",
                         opts_origin(l->set, "KPA_READY_WAITS_FOR_LEADERSHIP", o, sizeof o), v);
                return -EINVAL;
        }
        uint64_t n = 2;
        if ((v = value(l, "KPA_READY_AFTER")) && parse_u64(v, 1, 1000, &n) < 0) {
                snprintf(l->errbuf, l->errlen, "%s \"%s\" is not a whole number from 1 to 1000",
                         opts_origin(l->set, "KPA_READY_AFTER", o, sizeof o), v);
                return -EINVAL;
        }
        c->ready_after = (unsigned) n;
        v = value(l, "KPA_READY_SCOPE");
        if (!v || strcmp(v, "local") == 0)
                c->scope = SCOPE_LOCAL;
        else if (strcmp(v, "cluster") == 0)
                c->scope = SCOPE_CLUSTER;
        else {
                snprintf(l->errbuf, l->errlen, "%s \"%s\" is not a scope (expected local or cluster)",
                         opts_origin(l->set, "KPA_READY_SCOPE", o, sizeof o), v);
                return -EINVAL;
        }
        c->log_level = LOG_LEVEL_INFO;
        if ((v = value(l, "KPA_LOG_LEVEL")) && log_level_parse(v, &c->log_level) < 0) {
                snprintf(l->errbuf, l->errlen, "%s \"%s\" is not a log level (expected error, warn, info or debug)",
                         opts_origin(l->set, "KPA_LOG_LEVEL", o, sizeof o), v);
                return -EINVAL;
        }
        bool demo = false;
        if ((v = value(l, "KPA_DEMO")) && parse_bool(v, &demo) < 0) {
                snprintf(l->errbuf, l->errlen, "%s \"%s\" is not a boolean", opts_origin(l->set, "KPA_DEMO", o, sizeof o), v);
                return -EINVAL;
        }
        c->demo = demo;

        c->node_id = -1;
        v = value(l, "KPA_NODE_ID");
        if (v && c->broker_config) {
                snprintf(l->errbuf, l->errlen, "--node-id and --broker-config are both set (expected one of them)");
                return -EINVAL;
        }
        if (v) {
                uint64_t id;
                if (parse_u64(v, 0, INT32_MAX, &id) < 0) {
                        snprintf(l->errbuf, l->errlen, "%s \"%s\" is not a node id (expected 0 to 2147483647)",
                                 opts_origin(l->set, "KPA_NODE_ID", o, sizeof o), v);
                        return -EINVAL;
                }
                c->node_id = (int32_t) id;
        } else if (c->broker_config) {
                if ((r = broker_config_load(c->broker_config, c, l->errbuf, l->errlen)) < 0)
                        return r;
        } else if (!c->demo) {
                snprintf(l->errbuf, l->errlen, "the local node id is unknown (set --node-id, or --broker-config to kpa-init's server.properties, or use --demo)");
                return -EINVAL;
        }
        if (c->controller) {
                if (c->demo) {
                        snprintf(l->errbuf, l->errlen, "--demo watches a mock cluster of brokers, but --broker-config "
                                 "%s is a controller's (process.roles=controller)", c->broker_config);
                        return -EINVAL;
                }
                if ((r = duration(l, "KPA_CAUGHT_UP_WITHIN", c->caught_up_within_ms, 100, 600000,
                                  &c->caught_up_within_ms)) < 0)
                        return r;
        }
        if (value(l, "KPA_POD_NAME") &&
            (r = scaledown_config_load(value(l, "KPA_POD_NAME"), value(l, "KPA_STATEFULSET"), value(l, "KPA_NAMESPACE"),
                                       NULL, value(l, "KUBERNETES_SERVICE_HOST"), value(l, "KUBERNETES_SERVICE_PORT"),
                                       value(l, "KPA_KUBE_TOKEN_FILE"), value(l, "KPA_KUBE_CA_FILE"), &c->scale_down,
                                       l->errbuf, l->errlen)) < 0)
                return r;
        if (c->scale_down && value(l, "KPA_STATEFULSET_ROLE") &&
            (r = scaledown_config_set_role(c->scale_down, value(l, "KPA_STATEFULSET_ROLE"), l->errbuf, l->errlen)) < 0)
                return r;
        if (!c->demo && !c->bootstrap && !c->client_config) {
                snprintf(l->errbuf, l->errlen, "the local broker is unknown (set --bootstrap HOST:PORT or --client-config with bootstrap.servers, or use --demo)");
                return -EINVAL;
        }
        return 0;
}

int agentcfg_load(char *const envp[], int argc, char *const argv[], struct agent_config *ret,
                  char *errbuf, size_t errlen) {
        struct opt_set set;
        int r = opts_collect(agent_opts, sizeof agent_opts / sizeof agent_opts[0], envp, argc, argv,
                             &set, errbuf, errlen);
        if (r < 0)
                return r;
        struct agent_config c = { .mode = AGENT_SIDECAR };
        if (opts_from_flag(&set, "KPA_HELP")) {
                opts_free(&set);
                return -ECANCELED;
        }
        if (set.nargs > 1 || (set.nargs == 1 && strcmp(set.args[0], "check") != 0)) {
                snprintf(errbuf, errlen, "unknown command \"%s\" (expected no command, or check)",
                         set.args[set.nargs > 1 && strcmp(set.args[0], "check") == 0 ? 1 : 0]);
                opts_free(&set);
                return -EINVAL;
        }
        if (set.nargs == 1)
                c.mode = AGENT_CHECK;
        struct loader l = { &set, errbuf, errlen };
        r = load(&l, &c);
        opts_free(&set);
        if (r < 0) {
                agentcfg_free(&c);
                return r;
        }
        *ret = c;
        return 0;
}
