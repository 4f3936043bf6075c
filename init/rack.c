#include "kpa/rack.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kpa/k8sapi.h"
#include "kpa/secret.h"

/* The most of an untrusted string quoted back in a message. */
#define QUOTE_MAX K8SAPI_QUOTE_MAX

static const char *quote(const char *s, char *buf, size_t len) {
        return k8sapi_quote(s, buf, len);
}

static bool is_alnum(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Why rack is not a valid rack string, or NULL if it is one. */
static const char *rack_fault(const char *rack) {
        size_t n = strlen(rack);
        if (n == 0)
                return "it is empty";
        if (n > RACK_MAX)
                return "it is longer than 255 characters";
        for (size_t i = 0; i < n; i++)
                if (!is_alnum(rack[i]) && rack[i] != '.' && rack[i] != '_' && rack[i] != '-')
                        return "only A-Z a-z 0-9 . _ - are allowed";
        return NULL;
}

int rack_validate(const char *rack, const char *origin, char *errbuf, size_t errlen) {
        char q[QUOTE_MAX * 4 + 8];
        const char *why = rack_fault(rack);
        if (!why)
                return 0;
        snprintf(errbuf, errlen, "%s: \"%s\" is not a valid rack: %s", origin, quote(rack, q, sizeof q), why);
        return -EINVAL;
}

int rack_label_key_validate(const char *label, char *errbuf, size_t errlen) {
        char q[QUOTE_MAX * 4 + 8];
        const char *slash = strchr(label, '/');
        const char *name = slash ? slash + 1 : label;
        size_t n = strlen(name);
        const char *why = NULL;
        if (slash && !k8sapi_dns_subdomain_valid(label, (size_t) (slash - label)))
                why = "the prefix before '/' must be a lower-case DNS subdomain";
        else if (n == 0 || n > 63)
                why = "the name must be 1 to 63 characters";
        else if (!is_alnum(name[0]) || !is_alnum(name[n - 1]))
                why = "the name must start and end with A-Z a-z 0-9";
        for (size_t i = 0; !why && i < n; i++)
                if (!is_alnum(name[i]) && name[i] != '.' && name[i] != '_' && name[i] != '-')
                        why = "the name may hold only A-Z a-z 0-9 . _ -";
        if (!why)
                return 0;
        snprintf(errbuf, errlen, "label key \"%s\" is not valid: %s", quote(label, q, sizeof q), why);
        return -EINVAL;
}

int rack_parse_node(const char *node_name, const char *label, const char *json, size_t len, const char *token,
                    char **ret_rack, char *errbuf, size_t errlen) {
        char nq[QUOTE_MAX * 4 + 8], lq[QUOTE_MAX * 4 + 8], vq[QUOTE_MAX * 4 + 8];
        cJSON *j = cJSON_ParseWithLength(json ? json : "", len);
        const cJSON *meta = cJSON_GetObjectItemCaseSensitive(j, "metadata");
        if (!cJSON_IsObject(j) || !cJSON_IsObject(meta)) {
                cJSON_Delete(j);
                snprintf(errbuf, errlen, "the API server's answer for node \"%s\" is not a Node object",
                         quote(node_name, nq, sizeof nq));
                return -EPROTO;
        }
        const cJSON *labels = cJSON_GetObjectItemCaseSensitive(meta, "labels");
        const cJSON *v = cJSON_IsObject(labels) ? cJSON_GetObjectItemCaseSensitive(labels, label) : NULL;
        int r = 0;
        if (!v) {
                snprintf(errbuf, errlen, "node \"%s\" has no label \"%s\"", quote(node_name, nq, sizeof nq),
                         quote(label, lq, sizeof lq));
                r = -EINVAL;
        } else if (!cJSON_IsString(v)) {
                snprintf(errbuf, errlen, "label \"%s\" of node \"%s\" is not a string",
                         quote(label, lq, sizeof lq), quote(node_name, nq, sizeof nq));
                r = -EPROTO;
        } else if (secret_overlaps(v->valuestring, strlen(v->valuestring), token)) {
                /* A server that echoes the request could put the token here, and a rack is
                 * written to a world-readable file. */
                snprintf(errbuf, errlen, "label \"%s\" of node \"%s\" holds part of the service account token: "
                         "the API server's answer is not used", quote(label, lq, sizeof lq),
                         quote(node_name, nq, sizeof nq));
                r = -EPROTO;
        } else {
                /* The value comes from the server: quoted with any part of the token hidden. */
                const char *why = rack_fault(v->valuestring);
                if (why) {
                        snprintf(errbuf, errlen, "label \"%s\" of node \"%s\": \"%s\" is not a valid rack: %s",
                                 quote(label, lq, sizeof lq), quote(node_name, nq, sizeof nq),
                                 secret_quote(v->valuestring, strlen(v->valuestring), QUOTE_MAX, token, vq, sizeof vq),
                                 why);
                        r = -EINVAL;
                }
        }
        char *rack = r < 0 ? NULL : strdup(v->valuestring);
        cJSON_Delete(j);
        if (r < 0)
                return r;
        if (!rack)
                return -ENOMEM;
        *ret_rack = rack;
        return 0;
}

/* Checks the rack-specific inputs before any I/O, so that a configuration mistake is reported
 * as such and not as a network failure after a long wait. */
static int check_query(const struct rack_query *q, char *errbuf, size_t errlen) {
        char qb[QUOTE_MAX * 4 + 8];
        if (!q->node_name || !*q->node_name) {
                snprintf(errbuf, errlen, "NODE_NAME is not set: give the init container "
                         "env NODE_NAME from the downward API (fieldRef: spec.nodeName)");
                return -EINVAL;
        }
        /* Node names are DNS subdomains, so a valid one needs no escaping in the URL path. */
        if (!k8sapi_dns_subdomain_valid(q->node_name, strlen(q->node_name))) {
                snprintf(errbuf, errlen, "NODE_NAME \"%s\" is not a node name (a lower-case DNS subdomain)",
                         quote(q->node_name, qb, sizeof qb));
                return -EINVAL;
        }
        if (!q->label || !*q->label) {
                snprintf(errbuf, errlen, "KPA_RACK_NODE_LABEL is empty: name a node label such as topology.kubernetes.io/zone");
                return -EINVAL;
        }
        char why[512];
        if (rack_label_key_validate(q->label, why, sizeof why) < 0) {
                snprintf(errbuf, errlen, "KPA_RACK_NODE_LABEL: %s", why);
                return -EINVAL;
        }
        return 0;
}

struct parse_arg {
        const struct rack_query *q;
        char *rack;
};

static int parse_node(const char *json, size_t len, const char *token, void *arg, char *errbuf, size_t errlen) {
        struct parse_arg *p = arg;
        return rack_parse_node(p->q->node_name, p->q->label, json, len, token, &p->rack, errbuf, errlen);
}

int rack_lookup(const struct rack_query *q, char **ret_rack, char *errbuf, size_t errlen) {
        int r = check_query(q, errbuf, errlen);
        if (r < 0)
                return r;
        char path[300], what[QUOTE_MAX * 4 + 16], nq[QUOTE_MAX * 4 + 8];
        snprintf(path, sizeof path, "/api/v1/nodes/%s", q->node_name);
        snprintf(what, sizeof what, "node \"%s\"", quote(q->node_name, nq, sizeof nq));
        struct parse_arg pa = { .q = q };
        struct k8sapi_request req = {
                .api_host = q->api_host, .api_port = q->api_port, .token_path = q->token_path,
                .ca_path = q->ca_path, .path = path, .what = what, .user_agent = "kpa-init/" KPA_VERSION,
                .no_host = "kpa-init reads the node label from the Kubernetes API and must run in a pod "
                           "(or set KPA_RACK instead)",
                .no_token = " or set KPA_RACK instead of KPA_RACK_NODE_LABEL",
                .forbidden = "the service account cannot get nodes: grant get on nodes in a ClusterRole "
                             "bound to this pod's service account",
                .not_found = "NODE_NAME must be the pod's spec.nodeName",
                .timeout_ms = q->timeout_ms, .max_response = RACK_MAX_RESPONSE,
                .parse = parse_node, .parse_arg = &pa,
        };
        r = k8sapi_get(&req, errbuf, errlen);
        if (r < 0) {
                free(pa.rack);
                return r;
        }
        *ret_rack = pa.rack;
        return 0;
}
