/* kpa-init's configuration and everything it derives without I/O: initcfg_load from an
 * environment and argv split out of the input (see fuzz.h), then identity_derive,
 * brokercfg_active_listeners and brokercfg_server/brokercfg_client, with the input's third
 * part as KPA_CONFIG_TEMPLATE's text. Nothing here reads a file.
 *
 * Invariants:
 * - on failure: a negative code, a message in errbuf, and *ret untouched;
 * - on success: the pod name is "<statefulset>-<ordinal>", the cluster id is valid, there is
 *   a controller listener and a different inter-broker listener, at most one advertised
 *   template per listener and each names a listener, 1-16 absolute log dirs, an absolute
 *   output dir;
 * - the composed server.properties serializes, parses back, and holds node.id equal to the
 *   derived node id and the controller listener's name in controller.listener.names;
 *   client.properties names a bootstrap server that splits as host:port. */
#include <errno.h>
#include <inttypes.h>

#include "fuzz.h"
#include "kpa/brokercfg.h"
#include "kpa/initcfg.h"
#include "kpa/parse.h"
#include "kpa/props.h"

static void check_props_text(const struct props *p, const char *key, const char *want) {
        struct dynbuf b;
        dynbuf_init(&b, 16u << 20);
        FUZZ_CHECK(props_serialize(p, &b) == 0, "serialize failed");
        struct props q = { 0 };
        char err[256];
        FUZZ_CHECK(props_parse(&q, dynbuf_str(&b), b.len, err, sizeof err) == 0, "reparse: %s", err);
        const char *v = props_get(&q, key);
        FUZZ_CHECK(v && strcmp(v, want) == 0, "%s = \"%s\", expected \"%s\"", key, v ? v : "(none)", want);
        props_free_secret(&q);
        dynbuf_free_secret(&b);
}

static void derive(const struct init_config *c, const char *tmpl_text, size_t tmpl_len) {
        struct cluster_shape s = {
                .statefulset = c->statefulset, .ordinal = c->ordinal, .namespace_ = c->pod_namespace,
                .service = c->headless_service, .domain = c->cluster_domain,
                .node_id_offset = c->node_id_offset, .controller_count = c->controller_count,
                .controller_statefulset = c->controller_statefulset,
                .controller_service = c->controller_service,
                .controller_node_id_offset = c->controller_node_id_offset,
                .controller_port = listeners_find((struct listener_set *) &c->listeners,
                                                  c->controller_listener)->port,
        };
        struct identity id;
        struct listener_set active;
        char err[1024] = "";
        if (identity_derive(&s, &id, err, sizeof err) < 0)
                return;
        if (brokercfg_active_listeners(c, &id, &active, err, sizeof err) < 0) {
                FUZZ_CHECK(err[0], "no message");
                return;
        }
        for (size_t i = 0; i < active.n; i++) {
                char host[LISTENER_HOST_MAX];
                uint16_t port;
                FUZZ_CHECK(listeners_split_hostport(active.v[i].advertised, host, sizeof host, &port) == 0,
                           "advertised \"%s\" does not split", active.v[i].advertised);
        }
        struct props tmpl = { 0 };
        bool have_tmpl = tmpl_text && props_parse(&tmpl, tmpl_text, tmpl_len, err, sizeof err) == 0;
        struct broker_inputs in = {
                .cfg = c, .id = &id, .active = &active, .rack = c->rack,
                .tmpl = have_tmpl ? &tmpl : NULL, .store_password = c->tls_dir ? "pw" : NULL,
                .jaas_server = c->sasl_users_dir ? "JAAS" : NULL,
                .jaas_client = c->sasl_users_dir ? "CLIENT-JAAS" : NULL,
                .agent_user = c->sasl_agent_user, .agent_password = "agent-pw",
        };
        struct props server = { 0 }, client = { 0 };
        if (brokercfg_server(&in, &server, err, sizeof err) == 0) {
                char num[16];
                snprintf(num, sizeof num, "%" PRIu32, id.node_id);
                check_props_text(&server, "node.id", num);
                check_props_text(&server, "controller.listener.names", c->controller_listener);
                if (c->min_insync_replicas) {
                        snprintf(num, sizeof num, "%" PRIu32, c->min_insync_replicas);
                        check_props_text(&server, "min.insync.replicas", num);
                }
                FUZZ_CHECK(id.roles != ROLES_CONTROLLER || props_get(&server, "min.insync.replicas"),
                           "a controller-only node without min.insync.replicas");
                props_free_secret(&server);
        } else {
                /* Without a template, the one refusal left is a controller-only node that
                 * states no min.insync.replicas (ELR would make Kafka's 1 cluster-wide). */
                FUZZ_CHECK(err[0], "brokercfg_server failed without a message");
                FUZZ_CHECK(have_tmpl || (id.roles == ROLES_CONTROLLER && !c->min_insync_replicas),
                           "brokercfg_server failed without a template: %s", err);
        }
        if (brokercfg_client(&in, &client, err, sizeof err) == 0) {
                const char *bs = props_get(&client, "bootstrap.servers");
                char host[LISTENER_HOST_MAX];
                uint16_t port;
                FUZZ_CHECK(bs && listeners_split_hostport(bs, host, sizeof host, &port) == 0,
                           "bootstrap.servers \"%s\"", bs ? bs : "(none)");
                props_free_secret(&client);
        }
        if (have_tmpl)
                props_free_secret(&tmpl);
        else
                props_free(&tmpl);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct fz_cmdline cl;
        fz_cmdline_split(data, size, &cl);
        struct init_config c, untouched;
        memset(&c, 0xa5, sizeof c);
        memcpy(&untouched, &c, sizeof c);
        char err[1024] = "";
        int r = initcfg_load(cl.envp, cl.argc, cl.argv, &c, err, sizeof err);
        if (r < 0) {
                FUZZ_CHECK(r == -EINVAL || r == -ECANCELED || r == -E2BIG || r == -ENOMEM, "error %d", r);
                FUZZ_CHECK(r == -ECANCELED || err[0], "error %d without a message", r);
                FUZZ_CHECK(memcmp(&c, &untouched, sizeof c) == 0, "*ret written on failure");
                fz_cmdline_free(&cl);
                return 0;
        }
        char back[96];
        snprintf(back, sizeof back, "%s-%" PRIu32, c.statefulset, c.ordinal);
        FUZZ_CHECK(strcmp(back, c.pod_name) == 0, "pod \"%s\" split as \"%s\"", c.pod_name, back);
        FUZZ_CHECK(identity_is_cluster_id(c.cluster_id), "cluster id \"%s\"", c.cluster_id);
        FUZZ_CHECK(c.listeners.n >= 1 && c.listeners.n <= LISTENERS_MAX, "%zu listeners", c.listeners.n);
        FUZZ_CHECK(listeners_find(&c.listeners, c.controller_listener), "no controller listener");
        FUZZ_CHECK(listeners_find(&c.listeners, c.inter_broker_listener) &&
                   strcmp(c.controller_listener, c.inter_broker_listener) != 0,
                   "inter-broker listener \"%s\"", c.inter_broker_listener);
        FUZZ_CHECK(c.n_advertised <= LISTENERS_MAX, "%zu advertised templates", c.n_advertised);
        for (size_t i = 0; i < c.n_advertised; i++) {
                FUZZ_CHECK(listeners_find(&c.listeners, c.advertised[i].listener), "template for \"%s\"",
                           c.advertised[i].listener);
                for (size_t j = i + 1; j < c.n_advertised; j++)
                        FUZZ_CHECK(strcmp(c.advertised[i].listener, c.advertised[j].listener) != 0,
                                   "two templates for listener %s", c.advertised[i].listener);
        }
        FUZZ_CHECK(c.n_log_dirs >= 1 && c.n_log_dirs <= INITCFG_MAX_LOG_DIRS, "%zu log dirs", c.n_log_dirs);
        for (size_t i = 0; i < c.n_log_dirs; i++)
                FUZZ_CHECK(c.log_dirs[i][0] == '/', "log dir \"%s\"", c.log_dirs[i]);
        FUZZ_CHECK(c.output_dir[0] == '/', "output dir \"%s\"", c.output_dir);
        derive(&c, cl.file, cl.file_len);
        initcfg_free(&c);
        fz_cmdline_free(&cl);
        return 0;
}
