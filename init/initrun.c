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
#include "kpa/sensitive.h"
#include "kpa/storage.h"
#include "kpa/tls.h"
#include "kpa/tls_password.h"

#define TEMPLATE_MAX (1024 * 1024)
#define DRY_RUN_MASK "<masked>"

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
        struct fileset *shown;   /* --dry-run: the files as shown, secrets masked */
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
        fileset_free(r->shown);
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
        /* More users than kpa-init takes is a fault of the input like any other (exit 2). */
        if (k == -E2BIG)
                k = -EINVAL;
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

static bool props_has_secret(const struct props *p) {
        for (size_t i = 0; i < p->n; i++)
                if (sensitive_key(p->v[i].key))
                        return true;
        return false;
}

/* Where a client.properties value comes from, for a message that must not show it. */
static void client_value_origin(const struct init_config *c, const char *key, char *buf, size_t len) {
        if (strcmp(key, "sasl.password") == 0)
                snprintf(buf, len, "the password of KPA_SASL_AGENT_USER \"%s\" in KPA_SASL_USERS_DIR",
                         c->sasl_agent_user);
        else if (strcmp(key, "ssl.keystore.password") == 0)
                snprintf(buf, len, "the store password (KPA_TLS_PASSWORD_FILE)");
        else
                snprintf(buf, len, "the client.properties value of %s", key);
}

/* Adds one output file and, for --dry-run, what is shown of it. */
static int add_output(struct run *r, const char *name, const void *data, size_t len, mode_t mode, bool secret,
                      const char *shown, size_t shown_len) {
        int k = fileset_add(r->out, name, data, len, mode, secret);
        if (k == 0 && r->shown)
                k = fileset_add(r->shown, name, shown, shown_len, mode, false);
        return k;
}

/* server.properties as written, and as shown with the value of every sensitive key masked.
 * The mask is applied to the keys before they are escaped, so no spelling of a key in the
 * file (an escaped '=' or ':' in it) can slip a value past it. */
static int add_server_properties(struct run *r, const char *header) {
        struct dynbuf b, shown;
        bool secret = props_has_secret(&r->server);
        dynbuf_init(&b, 4 * 1024 * 1024);
        dynbuf_init(&shown, 4 * 1024 * 1024);
        int k = dynbuf_appends(&b, header);
        if (k == 0)
                k = props_serialize(&r->server, &b);
        if (k == 0 && r->shown)
                k = dynbuf_appends(&shown, header);
        if (k == 0 && r->shown)
                k = props_serialize_masked(&r->server, sensitive_key, DRY_RUN_MASK, &shown);
        if (k == 0)
                k = add_output(r, "server.properties", b.data, b.len, secret ? 0600 : 0644, secret, dynbuf_str(&shown),
                               shown.len);
        dynbuf_free_secret(&b);
        dynbuf_free(&shown);
        return k;
}

/* client.properties: librdkafka reads "key=value" literally (no escapes), so a value it
 * cannot read is refused. */
static int add_client_properties(struct run *r, const char *header, char *errbuf, size_t errlen) {
        struct dynbuf b, shown;
        bool secret = props_has_secret(&r->client);
        dynbuf_init(&b, 1024 * 1024);
        dynbuf_init(&shown, 1024 * 1024);
        int k = dynbuf_appends(&b, header);
        if (k == 0)
                k = dynbuf_appends(&shown, header);
        for (size_t i = 0; k == 0 && i < r->client.n; i++) {
                const struct prop *p = &r->client.v[i];
                if (strpbrk(p->value, "\r\n")) {
                        snprintf(errbuf, errlen, "client.properties value of %s contains a line break", p->key);
                        k = -EINVAL;
                        break;
                }
                /* librdkafka's rd_kafka_conf_set() drops a string value's leading whitespace
                 * (Java's Properties too), so kpa-agent would log in with another password;
                 * trailing whitespace is kept by both and written as is. */
                if (p->value[0] && strchr(" \t\f\v", p->value[0])) {
                        char origin[400];
                        client_value_origin(r->cfg, p->key, origin, sizeof origin);
                        snprintf(errbuf, errlen, "%s starts with whitespace, which librdkafka drops from "
                                 "client.properties values: kpa-agent could not use it (choose one that "
                                 "does not start with a blank)", origin);
                        k = -EINVAL;
                        break;
                }
                k = dynbuf_printf(&b, "%s=%s\n", p->key, p->value);
                if (k == 0)
                        k = dynbuf_printf(&shown, "%s=%s\n", p->key, sensitive_key(p->key) ? DRY_RUN_MASK : p->value);
        }
        if (k == 0)
                k = add_output(r, "client.properties", b.data, b.len, secret ? 0600 : 0644, secret, dynbuf_str(&shown),
                               shown.len);
        dynbuf_free_secret(&b);
        dynbuf_free(&shown);
        return k;
}

static int add_store(struct run *r, const char *name, const unsigned char *data, size_t len) {
        char shown[64];
        snprintf(shown, sizeof shown, "<PKCS12, %zu bytes>\n", len);
        return add_output(r, name, data, len, 0600, true, shown, strlen(shown));
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
        if (c->dry_run && !(r->shown = fileset_new(c->output_dir)))
                return -ENOMEM;
        char header[512];
        snprintf(header, sizeof header,
                 "# Written by kpa-init %s for pod %s/%s: change its inputs, not this file.\n",
                 KPA_VERSION, c->pod_namespace, c->pod_name);
        k = add_server_properties(r, header);
        if (k == 0)
                k = add_client_properties(r, header, errbuf, errlen);
        char cid[64];
        snprintf(cid, sizeof cid, "%s\n", c->cluster_id);
        if (k == 0)
                k = add_output(r, "cluster.id", cid, strlen(cid), 0644, false, cid, strlen(cid));
        if (k == 0 && r->have_tls) {
                k = add_store(r, TLS_KEYSTORE_FILE, r->tls.keystore, r->tls.keystore_len);
                if (k == 0)
                        k = add_store(r, TLS_TRUSTSTORE_FILE, r->tls.truststore, r->tls.truststore_len);
                if (k == 0)
                        k = add_output(r, TLS_CA_PEM_FILE, r->tls.ca_pem, r->tls.ca_pem_len, 0644, false,
                                       (const char *) r->tls.ca_pem, r->tls.ca_pem_len);
        }
        if (k == 0 && r->have_tls && !c->tls_password_file) {
                char line[TLS_PASSWORD_MAX + 2];
                snprintf(line, sizeof line, "%s\n", r->password);
                k = add_output(r, TLS_PASSWORD_FILE, line, strlen(line), 0600, true, DRY_RUN_MASK "\n",
                               strlen(DRY_RUN_MASK "\n"));
                secret_wipe(line, sizeof line);
        }
        if (k < 0 && !*errbuf)
                snprintf(errbuf, errlen, "staging outputs: %s", strerror(-k));
        return k;
}

/* --dry-run: each file as it would be written, with secrets masked. */
static void print_dry_run(const struct fileset *shown, FILE *out) {
        for (size_t i = 0; i < fileset_count(shown); i++) {
                size_t len;
                const char *data = fileset_data(shown, i, &len);
                fprintf(out, "==> %s (mode %04o)\n", fileset_name(shown, i), (unsigned) fileset_mode(shown, i));
                fwrite(data, 1, len, out);
                if (len > 0 && data[len - 1] != '\n')
                        fputc('\n', out);
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
                print_dry_run(r.shown, dry_out);
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
