#include "kpa/brokercfg.h"

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "kpa/dynbuf.h"
#include "kpa/parse.h"
#include "kpa/tls.h"

#define DEFAULT_ADVERTISED "{pod}.{service}.{namespace}.svc.{domain}:{port}"

int brokercfg_active_listeners(const struct init_config *c, const struct identity *id,
                               struct listener_set *ret, char *errbuf, size_t errlen) {
        struct listener_set out = { .n = 0 };
        bool broker = id->roles & ROLES_BROKER, controller = id->roles & ROLES_CONTROLLER;
        for (size_t i = 0; i < c->listeners.n; i++) {
                const struct listener *l = &c->listeners.v[i];
                bool is_ctl = strcmp(l->name, c->controller_listener) == 0;
                if ((is_ctl && !controller) || (!is_ctl && !broker))
                        continue;
                struct listener a = *l;
                const char *tmpl = initcfg_advertised_template(c, l->name);
                char input[96];
                snprintf(input, sizeof input, "KPA_ADVERTISED_%s", l->name);
                struct template_vars v = {
                        .pod = c->pod_name, .namespace_ = c->pod_namespace,
                        .service = c->headless_service, .domain = c->cluster_domain,
                        .pod_ip = c->pod_ip, .host_ip = c->host_ip, .node = c->node_name,
                        .ordinal = c->ordinal, .node_id = id->node_id, .port = l->port,
                };
                int r = template_expand(tmpl ? tmpl : DEFAULT_ADVERTISED, &v, input, a.advertised,
                                        sizeof a.advertised, errbuf, errlen);
                if (r < 0)
                        return r;
                char host[LISTENER_HOST_MAX];
                uint16_t port;
                if (listeners_split_hostport(a.advertised, host, sizeof host, &port) < 0) {
                        snprintf(errbuf, errlen, "%s expands to \"%s\" (expected host:port, [IPv6]:port, port 1-65535)",
                                 input, a.advertised);
                        return -EINVAL;
                }
                out.v[out.n++] = a;
        }
        /* Two advertised listeners on one host:port would make clients reach the wrong one. */
        for (size_t i = 0; i < out.n; i++)
                for (size_t j = i + 1; j < out.n; j++)
                        if (strcasecmp(out.v[i].advertised, out.v[j].advertised) == 0) {
                                snprintf(errbuf, errlen, "listeners %s and %s advertise the same address %s",
                                         out.v[i].name, out.v[j].name, out.v[i].advertised);
                                return -EINVAL;
                        }
        *ret = out;
        return 0;
}

/* A list built as "a,b,c" in a bounded buffer. */
static int join_listeners(const struct listener_set *ls, bool advertised, struct dynbuf *out) {
        int r = 0;
        bool first = true;
        for (size_t i = 0; i < ls->n && r == 0; i++) {
                const struct listener *l = &ls->v[i];
                if (advertised)
                        r = dynbuf_printf(out, "%s%s://%s", first ? "" : ",", l->name, l->advertised);
                else
                        r = dynbuf_printf(out, "%s%s://%s:%u", first ? "" : ",", l->name, l->host,
                                          (unsigned) l->port);
                first = false;
        }
        return r;
}

/* The min.insync.replicas this node's server.properties states, into ret (0: none).
 *
 * With ELR (KIP-966, on by default for clusters formatted by Kafka 4.1+), the first active
 * controller writes a cluster-level min.insync.replicas from its own static config when it
 * bootstraps the metadata log (ActivationRecordsGenerator; and when ELR is enabled later,
 * ConfigurationControlManager.maybeGenerateElrSafetyRecords); that dynamic cluster default
 * then outranks every broker's static value for good. So the value must be stated on the
 * controllers too, and a controller-only node that states none would silently make the
 * cluster-wide value Kafka's default of 1, whatever the brokers say: it is refused. */
static int resolve_min_insync_replicas(const struct broker_inputs *in, uint32_t *ret, char *errbuf, size_t errlen) {
        const struct init_config *c = in->cfg;
        const char *t = in->tmpl ? props_get(in->tmpl, "min.insync.replicas") : NULL;
        uint32_t from_tmpl = 0;
        if (t) {
                /* Kafka trims an int config before parsing it; so do we. */
                char buf[32], shown[41];
                size_t n = strlen(t), a = 0, k;
                while (a < n && isspace((unsigned char) t[a]))
                        a++;
                while (n > a && isspace((unsigned char) t[n - 1]))
                        n--;
                uint64_t v = 0;
                bool ok = n - a < sizeof buf;
                if (ok) {
                        memcpy(buf, t + a, n - a);
                        buf[n - a] = '\0';
                        ok = parse_u64(buf, 1, INT32_MAX, &v) == 0;
                }
                if (!ok) {
                        for (k = 0; t[k] && k + 1 < sizeof shown; k++)
                                shown[k] = isprint((unsigned char) t[k]) && t[k] != '"' ? t[k] : '?';
                        shown[k] = '\0';
                        snprintf(errbuf, errlen, "KPA_CONFIG_TEMPLATE sets min.insync.replicas to \"%s\" (expected a whole number from 1 to %d)",
                                 shown, INT32_MAX);
                        return -EINVAL;
                }
                from_tmpl = (uint32_t) v;
        }
        if (c->min_insync_replicas && from_tmpl && c->min_insync_replicas != from_tmpl) {
                snprintf(errbuf, errlen, "KPA_CONFIG_TEMPLATE sets min.insync.replicas=%u but KPA_MIN_INSYNC_REPLICAS is %u (keep one of them)",
                         from_tmpl, c->min_insync_replicas);
                return -EINVAL;
        }
        uint32_t v = c->min_insync_replicas ? c->min_insync_replicas : from_tmpl;
        if (v == 0 && in->id->roles == ROLES_CONTROLLER) {
                snprintf(errbuf, errlen,
                         "controller-only node %s has no min.insync.replicas: on a new Kafka 4.1+ cluster (ELR, KIP-966) the first active controller's value becomes the cluster-wide min.insync.replicas and the brokers' own is ignored; set KPA_MIN_INSYNC_REPLICAS (or min.insync.replicas in KPA_CONFIG_TEMPLATE) to the brokers' value",
                         c->pod_name);
                return -EINVAL;
        }
        *ret = v;
        return 0;
}

static void lower_into(char *dst, size_t len, const char *src) {
        size_t i = 0;
        for (; src[i] && i + 1 < len; i++)
                dst[i] = (char) tolower((unsigned char) src[i]);
        dst[i] = '\0';
}

int brokercfg_server(const struct broker_inputs *in, struct props *ret, char *errbuf, size_t errlen) {
        const struct init_config *c = in->cfg;
        const struct identity *id = in->id;
        struct props p = { 0 };
        struct dynbuf b;
        char num[32];
        int r = 0;
        bool broker = id->roles & ROLES_BROKER;

        if (in->tmpl) {
                static const char *const refused[] = { "broker.id", "zookeeper.connect" };
                for (size_t i = 0; i < 2; i++)
                        if (props_get(in->tmpl, refused[i])) {
                                snprintf(errbuf, errlen, "KPA_CONFIG_TEMPLATE sets %s, which contradicts the KRaft node.id kpa-init derives (remove it)",
                                         refused[i]);
                                return -EINVAL;
                        }
        }

        uint32_t min_isr;
        r = resolve_min_insync_replicas(in, &min_isr, errbuf, errlen);
        if (r < 0)
                return r;

        dynbuf_init(&b, 64 * 1024);
        snprintf(num, sizeof num, "%u", id->node_id);
        r = props_set(&p, "node.id", num);
        if (r == 0) r = props_set(&p, "process.roles", identity_roles_string(id->roles));
        if (r == 0) r = props_set(&p, "controller.quorum.voters", id->voters);
        if (r == 0) r = props_set(&p, "controller.listener.names", c->controller_listener);
        if (r == 0) r = join_listeners(in->active, false, &b);
        if (r == 0) r = props_set(&p, "listeners", dynbuf_str(&b));
        dynbuf_reset(&b);
        /* A controller advertises its controller listener too (Kafka ≥ 3.9 reads it for the
         * quorum); a broker-only node must not list it. */
        if (r == 0) r = join_listeners(in->active, true, &b);
        if (r == 0) r = props_set(&p, "advertised.listeners", dynbuf_str(&b));
        dynbuf_reset(&b);
        for (size_t i = 0; i < c->listeners.n && r == 0; i++)
                r = dynbuf_printf(&b, "%s%s:%s", i ? "," : "", c->listeners.v[i].name,
                                  security_protocol_name(c->listeners.v[i].proto));
        if (r == 0) r = props_set(&p, "listener.security.protocol.map", dynbuf_str(&b));
        if (r == 0 && broker) r = props_set(&p, "inter.broker.listener.name", c->inter_broker_listener);
        if (r == 0 && in->rack && broker) r = props_set(&p, "broker.rack", in->rack);
        dynbuf_reset(&b);
        for (size_t i = 0; i < c->n_log_dirs && r == 0; i++)
                r = dynbuf_printf(&b, "%s%s", i ? "," : "", c->log_dirs[i]);
        if (r == 0) r = props_set(&p, "log.dirs", dynbuf_str(&b));
        if (r == 0 && min_isr) {
                snprintf(num, sizeof num, "%u", min_isr);
                r = props_set(&p, "min.insync.replicas", num);
        }

        if (r == 0 && in->store_password) {
                char path[4096];
                snprintf(path, sizeof path, "%s/" TLS_KEYSTORE_FILE, c->output_dir);
                r = props_set(&p, "ssl.keystore.location", path);
                if (r == 0) r = props_set(&p, "ssl.keystore.password", in->store_password);
                if (r == 0) r = props_set(&p, "ssl.key.password", in->store_password);
                if (r == 0) r = props_set(&p, "ssl.keystore.type", "PKCS12");
                snprintf(path, sizeof path, "%s/" TLS_TRUSTSTORE_FILE, c->output_dir);
                if (r == 0) r = props_set(&p, "ssl.truststore.location", path);
                if (r == 0) r = props_set(&p, "ssl.truststore.password", in->store_password);
                if (r == 0) r = props_set(&p, "ssl.truststore.type", "PKCS12");
                if (r == 0) r = props_set(&p, "ssl.client.auth",
                                       c->tls_client_auth == CLIENT_AUTH_REQUIRED ? "required"
                                       : c->tls_client_auth == CLIENT_AUTH_REQUESTED ? "requested" : "none");
        }

        if (r == 0 && in->jaas_server) {
                bool any = false;
                for (size_t i = 0; i < in->active->n && r == 0; i++) {
                        const struct listener *l = &in->active->v[i];
                        if (!security_protocol_uses_sasl(l->proto))
                                continue;
                        char lname[LISTENER_NAME_MAX], key[LISTENER_NAME_MAX + 64];
                        lower_into(lname, sizeof lname, l->name);
                        snprintf(key, sizeof key, "listener.name.%s.sasl.enabled.mechanisms", lname);
                        r = props_set(&p, key, "PLAIN");
                        snprintf(key, sizeof key, "listener.name.%s.plain.sasl.jaas.config", lname);
                        if (r == 0) r = props_set(&p, key, in->jaas_server);
                        any = true;
                }
                if (r == 0 && any) r = props_set(&p, "sasl.enabled.mechanisms", "PLAIN");
                if (r == 0 && any && broker) r = props_set(&p, "sasl.mechanism.inter.broker.protocol", "PLAIN");
                /* Every node talks to the controllers as a client: brokers and controllers alike. */
                const struct listener *cl = listeners_find((struct listener_set *) &c->listeners, c->controller_listener);
                if (r == 0 && cl && security_protocol_uses_sasl(cl->proto))
                        r = props_set(&p, "sasl.mechanism.controller.protocol", "PLAIN");
                /* A broker-only node reaches the controllers through a client whose JAAS
                 * context Kafka looks up as the server's for the controller listener
                 * (JaasContext.loadServerContext: listener.name.<controller>.plain.sasl.jaas.config,
                 * else a 'controller.KafkaServer' JAAS file entry), and fails to start without
                 * one. It needs only its own credentials there: no user_<name> entries, as it
                 * serves nothing on that listener. */
                if (r == 0 && cl && security_protocol_uses_sasl(cl->proto) && !(id->roles & ROLES_CONTROLLER)) {
                        char lname[LISTENER_NAME_MAX], key[LISTENER_NAME_MAX + 64];
                        if (!in->jaas_client) {
                                props_free_secret(&p);
                                dynbuf_free(&b);
                                snprintf(errbuf, errlen, "listener %s uses SASL but no client JAAS configuration was given for it",
                                         cl->name);
                                return -EINVAL;
                        }
                        lower_into(lname, sizeof lname, cl->name);
                        snprintf(key, sizeof key, "listener.name.%s.plain.sasl.jaas.config", lname);
                        r = props_set(&p, key, in->jaas_client);
                }
        }

        for (size_t i = 0; in->tmpl && i < in->tmpl->n && r == 0; i++)
                if (!props_get(&p, in->tmpl->v[i].key))
                        r = props_set(&p, in->tmpl->v[i].key, in->tmpl->v[i].value);
        dynbuf_free(&b);
        if (r < 0) {
                props_free_secret(&p);
                snprintf(errbuf, errlen, "composing server.properties: %s", strerror(-r));
                return r;
        }
        *ret = p;
        return 0;
}

int brokercfg_client(const struct broker_inputs *in, struct props *ret, char *errbuf, size_t errlen) {
        const struct init_config *c = in->cfg;
        struct props p = { 0 };
        const struct listener *l = NULL;
        for (size_t i = 0; i < in->active->n; i++)
                if (strcmp(in->active->v[i].name, c->inter_broker_listener) == 0)
                        l = &in->active->v[i];
        /* A controller-only node has no broker listener and serves no Metadata: its agent
         * asks the controller listener for DescribeQuorum (kpa-agent's controller mode), with
         * this listener's TLS and SASL settings, which every controller listener shares. */
        if (!l)
                for (size_t i = 0; i < in->active->n && !l; i++)
                        l = &in->active->v[i];
        if (!l) {
                snprintf(errbuf, errlen, "no listener for client.properties");
                return -EINVAL;
        }
        static const char *const rd_proto[] = { "plaintext", "ssl", "sasl_plaintext", "sasl_ssl" };
        char path[4096];
        int r = props_set(&p, "bootstrap.servers", l->advertised);
        if (r == 0) r = props_set(&p, "security.protocol", rd_proto[l->proto]);
        if (r == 0 && security_protocol_uses_tls(l->proto) && in->store_password) {
                snprintf(path, sizeof path, "%s/" TLS_CA_PEM_FILE, c->output_dir);
                r = props_set(&p, "ssl.ca.location", path);
                /* The broker's own certificate carries clientAuth, so it serves as the
                 * agent's client certificate when the listener requires one. */
                if (r == 0 && c->tls_client_auth != CLIENT_AUTH_NONE) {
                        snprintf(path, sizeof path, "%s/" TLS_KEYSTORE_FILE, c->output_dir);
                        r = props_set(&p, "ssl.keystore.location", path);
                        if (r == 0) r = props_set(&p, "ssl.keystore.password", in->store_password);
                }
        }
        if (r == 0 && security_protocol_uses_sasl(l->proto)) {
                if (!in->agent_user || !in->agent_password) {
                        props_free_secret(&p);
                        snprintf(errbuf, errlen, "listener %s uses SASL but KPA_SASL_AGENT_USER has no password in KPA_SASL_USERS_DIR",
                                 l->name);
                        return -EINVAL;
                }
                r = props_set(&p, "sasl.mechanism", "PLAIN");
                if (r == 0) r = props_set(&p, "sasl.username", in->agent_user);
                if (r == 0) r = props_set(&p, "sasl.password", in->agent_password);
        }
        if (r < 0) {
                props_free_secret(&p);
                snprintf(errbuf, errlen, "composing client.properties: %s", strerror(-r));
                return r;
        }
        *ret = p;
        return 0;
}
