#include "kpa/initrun.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "kpa/brokercfg.h"
#include "kpa/dynbuf.h"
#include "kpa/fsx.h"
#include "kpa/identity.h"
#include "kpa/log.h"
#include "kpa/props.h"
#include "kpa/rack.h"
#include "kpa/sasl.h"
#include "kpa/secret.h"
#include "kpa/storage.h"
#include "kpa/tls.h"

#define TEMPLATE_MAX (1024 * 1024)

/* Everything a run holds, so that one function can release (and wipe) it on every path. */
struct run {
        const struct init_config *cfg;
        struct identity id;
        struct listener_set active;
        struct props tmpl, server, client;
        char *rack;
        struct sasl_users users;
        char *jaas_server, *jaas_client;
        char *password;
        struct tls_result tls;
        bool have_tls;
        struct fileset *out;
};

static void run_release(struct run *r) {
        props_free(&r->tmpl);
        props_free_secret(&r->server);
        props_free_secret(&r->client);
        free(r->rack);
        sasl_users_free(&r->users);
        secret_free(r->jaas_server);
        secret_free(r->jaas_client);
        secret_free(r->password);
        if (r->have_tls)
                tls_result_free(&r->tls);
        fileset_free(r->out);
}

static int derive_identity(struct run *r, char *errbuf, size_t errlen) {
        const struct init_config *c = r->cfg;
        const struct listener *cl = NULL;
        for (size_t i = 0; i < c->listeners.n; i++)
                if (strcmp(c->listeners.v[i].name, c->controller_listener) == 0)
                        cl = &c->listeners.v[i];
        struct cluster_shape s = {
                .statefulset = c->statefulset, .ordinal = c->ordinal, .namespace_ = c->pod_namespace,
                .service = c->headless_service, .domain = c->cluster_domain,
                .node_id_offset = c->node_id_offset, .controller_count = c->controller_count,
                .controller_statefulset = c->controller_statefulset,
                .controller_service = c->controller_service,
                .controller_node_id_offset = c->controller_node_id_offset,
                .controller_port = cl->port,
        };
        int k = identity_derive(&s, &r->id, errbuf, errlen);
        if (k < 0)
                return k;
        return brokercfg_active_listeners(c, &r->id, &r->active, errbuf, errlen);
}

static int load_template(struct run *r, char *errbuf, size_t errlen) {
        if (!r->cfg->config_template)
                return 0;
        char *text = NULL, perr[160];
        size_t len;
        int k = fsx_read_file(r->cfg->config_template, TEMPLATE_MAX, &text, &len);
        if (k < 0) {
                snprintf(errbuf, errlen, "KPA_CONFIG_TEMPLATE %s cannot be read: %s",
                         r->cfg->config_template, k == -EFBIG ? "larger than 1 MiB" : k == -EINVAL ? "not a regular file" : strerror(-k));
                return -EINVAL;
        }
        k = props_parse(&r->tmpl, text, len, perr, sizeof perr);
        secret_wipe(text, len);
        free(text);
        if (k < 0) {
                snprintf(errbuf, errlen, "KPA_CONFIG_TEMPLATE %s: %s", r->cfg->config_template, perr);
                return -EINVAL;
        }
        return 0;
}

static int resolve_rack(struct run *r, char *errbuf, size_t errlen) {
        const struct init_config *c = r->cfg;
        if (c->rack) {
                r->rack = strdup(c->rack);
                return r->rack ? 0 : -ENOMEM;
        }
        if (!c->rack_node_label)
                return 0;
        if (!c->kube_host) {
                snprintf(errbuf, errlen, "KPA_RACK_NODE_LABEL needs KUBERNETES_SERVICE_HOST (set by Kubernetes in every pod)");
                return -EINVAL;
        }
        struct rack_query q = {
                .api_host = c->kube_host, .api_port = c->kube_port, .token_path = c->kube_token_path,
                .ca_path = c->kube_ca_path, .node_name = c->node_name, .label = c->rack_node_label,
                .timeout_ms = c->kube_timeout_ms,
        };
        return rack_lookup(&q, &r->rack, errbuf, errlen);
}

static bool any_listener(const struct listener_set *ls, bool (*pred)(enum security_protocol)) {
        for (size_t i = 0; i < ls->n; i++)
                if (pred(ls->v[i].proto))
                        return true;
        return false;
}

static int load_sasl(struct run *r, char *errbuf, size_t errlen) {
        const struct init_config *c = r->cfg;
        if (!c->sasl_users_dir)
                return 0;
        int k = sasl_users_load(c->sasl_users_dir, &r->users, errbuf, errlen);
        if (k < 0)
                return k;
        if (!any_listener(&c->listeners, security_protocol_uses_sasl))
                return 0;
        if (!sasl_users_find(&r->users, c->sasl_inter_broker_user)) {
                snprintf(errbuf, errlen, "KPA_SASL_USERS_DIR %s has no file for the inter-broker user \"%s\" (set KPA_SASL_INTER_BROKER_USER or add the user)",
                         c->sasl_users_dir, c->sasl_inter_broker_user);
                return -EINVAL;
        }
        if (!sasl_users_find(&r->users, c->sasl_agent_user)) {
                snprintf(errbuf, errlen, "KPA_SASL_USERS_DIR %s has no file for the agent user \"%s\" (set KPA_SASL_AGENT_USER or add the user)",
                         c->sasl_users_dir, c->sasl_agent_user);
                return -EINVAL;
        }
        k = sasl_jaas_plain_server(&r->users, c->sasl_inter_broker_user, &r->jaas_server, errbuf, errlen);
        if (k < 0)
                return k;
        return sasl_jaas_plain_client(sasl_users_find(&r->users, c->sasl_inter_broker_user), &r->jaas_client,
                                      errbuf, errlen);
}

static int build_tls(struct run *r, char *errbuf, size_t errlen) {
        const struct init_config *c = r->cfg;
        if (!c->tls_dir && !c->tls_ca_dir)
                return 0;
        /* The password is the user's (KPA_TLS_PASSWORD_FILE), or one generated on the first
         * run and kept in store.password, so that later runs can reuse the stores. */
        int k = tls_password_resolve(c->tls_password_file, "KPA_TLS_PASSWORD_FILE", c->output_dir,
                                     &r->password, errbuf, errlen);
        if (k < 0)
                return k;
        /* SANs of an issued certificate: the pod's FQDN, the headless wildcard, and every
         * advertised host; the certificate must cover the hosts of TLS listeners. */
        const char *dns[LISTENERS_MAX + 2], *ips[LISTENERS_MAX + 1], *cover[LISTENERS_MAX];
        char hosts[LISTENERS_MAX][LISTENER_HOST_MAX];
        char wildcard[300];
        size_t nd = 0, ni = 0, nc = 0;
        snprintf(wildcard, sizeof wildcard, "*.%s.%s.svc.%s", c->headless_service, c->pod_namespace, c->cluster_domain);
        dns[nd++] = r->id.fqdn;
        dns[nd++] = wildcard;
        if (c->pod_ip)
                ips[ni++] = c->pod_ip;
        for (size_t i = 0; i < r->active.n; i++) {
                uint16_t port;
                listeners_split_hostport(r->active.v[i].advertised, hosts[i], sizeof hosts[i], &port);
                char *h = hosts[i];
                if (h[0] == '[') {
                        memmove(h, h + 1, strlen(h));
                        h[strlen(h) - 1] = '\0';
                }
                bool is_ip = strspn(h, "0123456789.") == strlen(h) || strchr(h, ':');
                bool dup = false;
                for (size_t j = 0; j < nd; j++)
                        dup = dup || strcmp(dns[j], h) == 0;
                for (size_t j = 0; j < ni; j++)
                        dup = dup || strcmp(ips[j], h) == 0;
                if (!dup) {
                        if (is_ip)
                                ips[ni++] = h;
                        else
                                dns[nd++] = h;
                }
                if (security_protocol_uses_tls(r->active.v[i].proto))
                        cover[nc++] = h;
        }
        struct tls_request req = {
                .tls_dir = c->tls_dir, .ca_dir = c->tls_ca_dir,
                .dns_names = dns, .n_dns = nd, .ip_addrs = ips, .n_ips = ni,
                .must_cover = cover, .n_cover = nc, .warn_uncovered = c->tls_hostname_warn,
                .common_name = r->id.fqdn, .key_type = c->tls_key_type,
                .validity_days = c->tls_validity_days, .password = r->password,
                .previous_dir = c->output_dir, .now = time(NULL),
        };
        k = tls_build(&req, &r->tls, errbuf, errlen);
        if (k < 0)
                return k;
        r->have_tls = true;
        for (size_t i = 0; i < r->tls.n_warnings; i++)
                log_event(LOG_LEVEL_WARN, "tls_warning", "%s", r->tls.warnings[i]);
        return 0;
}

static int serialize(const struct props *p, const char *header, struct dynbuf *out) {
        int k = dynbuf_appends(out, header);
        return k < 0 ? k : props_serialize(p, out);
}

static bool props_has_secret(const struct props *p) {
        for (size_t i = 0; i < p->n; i++)
                if (brokercfg_key_is_secret(p->v[i].key))
                        return true;
        return false;
}

static int stage_outputs(struct run *r, char *errbuf, size_t errlen) {
        const struct init_config *c = r->cfg;
        const struct sasl_user *agent = r->jaas_server ? sasl_users_find(&r->users, c->sasl_agent_user) : NULL;
        struct broker_inputs in = {
                .cfg = c, .id = &r->id, .active = &r->active, .rack = r->rack,
                .tmpl = c->config_template ? &r->tmpl : NULL,
                .store_password = r->have_tls ? r->password : NULL,
                .jaas_server = r->jaas_server, .jaas_client = r->jaas_client,
                .agent_user = agent ? agent->name : NULL, .agent_password = agent ? agent->password : NULL,
        };
        int k = brokercfg_server(&in, &r->server, errbuf, errlen);
        if (k == 0)
                k = brokercfg_client(&in, &r->client, errbuf, errlen);
        if (k < 0)
                return k;

        r->out = fileset_new(c->output_dir);
        if (!r->out)
                return -ENOMEM;
        struct dynbuf b;
        char header[512];
        dynbuf_init(&b, 4 * 1024 * 1024);
        snprintf(header, sizeof header,
                 "# Written by kpa-init %s for pod %s/%s: change its inputs, not this file.\n",
                 KPA_VERSION, c->pod_namespace, c->pod_name);
        k = serialize(&r->server, header, &b);
        if (k == 0)
                k = fileset_add(r->out, "server.properties", b.data, b.len,
                                props_has_secret(&r->server) ? 0600 : 0644, props_has_secret(&r->server));
        dynbuf_free_secret(&b);
        dynbuf_init(&b, 1024 * 1024);
        /* librdkafka reads "key=value" literally: no escapes, so refuse what it cannot read. */
        if (k == 0)
                k = dynbuf_appends(&b, header);
        for (size_t i = 0; k == 0 && i < r->client.n; i++) {
                if (strpbrk(r->client.v[i].value, "\r\n")) {
                        snprintf(errbuf, errlen, "client.properties value of %s contains a line break", r->client.v[i].key);
                        dynbuf_free_secret(&b);
                        return -EINVAL;
                }
                k = dynbuf_printf(&b, "%s=%s\n", r->client.v[i].key, r->client.v[i].value);
        }
        if (k == 0)
                k = fileset_add(r->out, "client.properties", b.data, b.len,
                                props_has_secret(&r->client) ? 0600 : 0644, props_has_secret(&r->client));
        dynbuf_free_secret(&b);
        char cid[64];
        snprintf(cid, sizeof cid, "%s\n", c->cluster_id);
        if (k == 0)
                k = fileset_add(r->out, "cluster.id", cid, strlen(cid), 0644, false);
        if (k == 0 && r->have_tls) {
                k = fileset_add(r->out, TLS_KEYSTORE_FILE, r->tls.keystore, r->tls.keystore_len, 0600, true);
                if (k == 0)
                        k = fileset_add(r->out, TLS_TRUSTSTORE_FILE, r->tls.truststore, r->tls.truststore_len, 0600, true);
                if (k == 0)
                        k = fileset_add(r->out, TLS_CA_PEM_FILE, r->tls.ca_pem, r->tls.ca_pem_len, 0644, false);
        }
        if (k == 0 && r->have_tls && !c->tls_password_file) {
                char line[TLS_PASSWORD_MAX + 2];
                snprintf(line, sizeof line, "%s\n", r->password);
                k = fileset_add(r->out, TLS_PASSWORD_FILE, line, strlen(line), 0600, true);
                secret_wipe(line, sizeof line);
        }
        if (k < 0 && !*errbuf)
                snprintf(errbuf, errlen, "staging outputs: %s", strerror(-k));
        return k;
}

/* --dry-run: each file as it would be written, with secrets masked. */
static void print_dry_run(const struct fileset *fs, FILE *out) {
        for (size_t i = 0; i < fileset_count(fs); i++) {
                size_t len;
                const char *data = fileset_data(fs, i, &len);
                const char *name = fileset_name(fs, i);
                fprintf(out, "==> %s (mode %04o)\n", name, (unsigned) fileset_mode(fs, i));
                if (strstr(name, ".p12")) {
                        fprintf(out, "<PKCS12, %zu bytes>\n", len);
                        continue;
                }
                if (strcmp(name, TLS_PASSWORD_FILE) == 0) {
                        fprintf(out, "<masked>\n");
                        continue;
                }
                const char *p = data, *end = data + len;
                while (p < end) {
                        const char *nl = memchr(p, '\n', (size_t) (end - p));
                        size_t n = nl ? (size_t) (nl - p) : (size_t) (end - p);
                        const char *eq = memchr(p, '=', n);
                        char key[512];
                        size_t kl = eq ? (size_t) (eq - p) : 0;
                        snprintf(key, sizeof key, "%.*s", (int) (kl < sizeof key ? kl : sizeof key - 1), p);
                        if (eq && p[0] != '#' && brokercfg_key_is_secret(key))
                                fprintf(out, "%s=<masked>\n", key);
                        else
                                fprintf(out, "%.*s\n", (int) n, p);
                        p += n + 1;
                }
        }
}

int initrun_execute(const struct init_config *cfg, FILE *dry_out, char *errbuf, size_t errlen) {
        struct run r = { .cfg = cfg };
        int k;
        errbuf[0] = '\0';
        if ((k = derive_identity(&r, errbuf, errlen)) < 0 ||
            (k = storage_check_meta(cfg->log_dirs, cfg->n_log_dirs, r.id.node_id, cfg->cluster_id, errbuf, errlen)) < 0 ||
            (k = load_template(&r, errbuf, errlen)) < 0 ||
            (k = resolve_rack(&r, errbuf, errlen)) < 0 ||
            (k = load_sasl(&r, errbuf, errlen)) < 0 ||
            (k = build_tls(&r, errbuf, errlen)) < 0 ||
            (k = stage_outputs(&r, errbuf, errlen)) < 0)
                goto out;
        if (cfg->dry_run) {
                print_dry_run(r.out, dry_out);
                goto out;
        }
        struct stat st;
        if (stat(cfg->output_dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
                snprintf(errbuf, errlen, "KPA_OUTPUT_DIR %s is not a directory (mount a volume there)", cfg->output_dir);
                k = -EIO;
                goto out;
        }
        k = fileset_commit(r.out, errbuf, errlen);
        if (k == 0)
                log_event(LOG_LEVEL_INFO, "written",
                          "wrote %zu files to %s for node.id %u (%s)%s", fileset_count(r.out),
                          cfg->output_dir, r.id.node_id, identity_roles_string(r.id.roles),
                          r.have_tls && r.tls.reused ? "; TLS stores unchanged" : "");
out:
        run_release(&r);
        return k;
}
