#include "kpa/scaledown.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kpa/dynbuf.h"
#include "kpa/fsx.h"
#include "kpa/k8sapi.h"
#include "kpa/parse.h"

/* The most broker ids a command names one by one; beyond, a scale that removes more pods at
 * once than this is shown as a range in the reason and the commands name the first ones. */
#define IDS_MAX 32

static char *dup_or_null(const char *s, bool *oom) {
        if (!s || !*s)
                return NULL;
        char *d = strdup(s);
        if (!d)
                *oom = true;
        return d;
}

struct scaledown_config *scaledown_config_free(struct scaledown_config *c) {
        if (!c)
                return NULL;
        free(c->api_host);
        free(c->api_port);
        free(c->token_path);
        free(c->ca_path);
        free(c);
        return NULL;
}

int scaledown_config_load(const char *pod, const char *statefulset, const char *namespace_, const char *ns_file,
                          const char *api_host, const char *api_port, const char *token_path,
                          const char *ca_path, struct scaledown_config **ret, char *errbuf, size_t errlen) {
        char q[K8SAPI_QUOTE_BUF];
        char sts[64];
        uint32_t ordinal;
        if (!pod || k8sapi_split_pod_name(pod, sts, &ordinal) < 0) {
                snprintf(errbuf, errlen, "--pod-name \"%s\" is not a StatefulSet pod's name (<statefulset>-<ordinal>)",
                         pod ? k8sapi_quote(pod, q, sizeof q) : "");
                return -EINVAL;
        }
        if (statefulset && !k8sapi_dns_label_valid(statefulset, strlen(statefulset))) {
                snprintf(errbuf, errlen, "--statefulset \"%s\" is not a StatefulSet name (a lower-case DNS label)",
                         k8sapi_quote(statefulset, q, sizeof q));
                return -EINVAL;
        }
        char ns[SCALEDOWN_NAME_MAX];
        if (namespace_) {
                snprintf(ns, sizeof ns, "%.63s", namespace_);
                if (!k8sapi_dns_label_valid(namespace_, strlen(namespace_))) {
                        snprintf(errbuf, errlen, "--namespace \"%s\" is not a namespace name (a lower-case DNS label)",
                                 k8sapi_quote(namespace_, q, sizeof q));
                        return -EINVAL;
                }
        } else {
                const char *path = ns_file ? ns_file : K8SAPI_NAMESPACE_PATH_DEFAULT;
                char *text = NULL;
                size_t len = 0;
                int r = fsx_read_file(path, 256, &text, &len);
                if (r < 0) {
                        snprintf(errbuf, errlen, "--namespace is not set and %s cannot be read (%s): give kpa-agent "
                                 "env KPA_NAMESPACE from the downward API (fieldRef: metadata.namespace)", path,
                                 strerror(-r));
                        return -EINVAL;
                }
                while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == ' '))
                        text[--len] = '\0';
                bool ok = k8sapi_dns_label_valid(text, len);
                if (ok)
                        memcpy(ns, text, len + 1);
                else
                        snprintf(errbuf, errlen, "%s: \"%s\" is not a namespace name", path,
                                 k8sapi_quote(text, q, sizeof q));
                free(text);
                if (!ok)
                        return -EINVAL;
        }
        struct scaledown_config *c = calloc(1, sizeof *c);
        if (!c) {
                snprintf(errbuf, errlen, "out of memory");
                return -ENOMEM;
        }
        snprintf(c->pod, sizeof c->pod, "%s", pod);
        snprintf(c->statefulset, sizeof c->statefulset, "%s", statefulset ? statefulset : sts);
        snprintf(c->namespace_, sizeof c->namespace_, "%s", ns);
        c->ordinal = ordinal;
        bool oom = false;
        c->api_host = dup_or_null(api_host, &oom);
        c->api_port = dup_or_null(api_port, &oom);
        c->token_path = dup_or_null(token_path, &oom);
        c->ca_path = dup_or_null(ca_path, &oom);
        if (oom) {
                scaledown_config_free(c);
                snprintf(errbuf, errlen, "out of memory");
                return -ENOMEM;
        }
        *ret = c;
        return 0;
}

int scaledown_config_set_role(struct scaledown_config *c, const char *role, char *errbuf, size_t errlen) {
        size_t n = strlen(role);
        bool ok = n > 0 && n < sizeof c->role && strspn(role, "abcdefghijklmnopqrstuvwxyz0123456789.-:") == n;
        if (!ok) {
                char q[K8SAPI_QUOTE_BUF];
                snprintf(errbuf, errlen, "--statefulset-role \"%s\" is not a Role's name (1 to 253 of a-z 0-9 . - :)",
                         k8sapi_quote(role, q, sizeof q));
                return -EINVAL;
        }
        memcpy(c->role, role, n + 1);
        return 0;
}

int scaledown_parse_replicas(const char *name, const char *json, size_t len, int32_t *ret_replicas, char *errbuf,
                             size_t errlen) {
        cJSON *j = cJSON_ParseWithLength(json ? json : "", len);
        const cJSON *kind = cJSON_GetObjectItemCaseSensitive(j, "kind");
        const cJSON *meta = cJSON_GetObjectItemCaseSensitive(j, "metadata");
        const cJSON *mname = cJSON_GetObjectItemCaseSensitive(meta, "name");
        const cJSON *spec = cJSON_GetObjectItemCaseSensitive(j, "spec");
        const cJSON *rep = cJSON_GetObjectItemCaseSensitive(spec, "replicas");
        int r = 0;
        if (!cJSON_IsObject(j) || !cJSON_IsString(kind) || strcmp(kind->valuestring, "StatefulSet") != 0 ||
            !cJSON_IsString(mname) || strcmp(mname->valuestring, name) != 0) {
                snprintf(errbuf, errlen, "the API server's answer is not StatefulSet \"%s\"", name);
                r = -EPROTO;
        } else if (!cJSON_IsNumber(rep) || rep->valuedouble < 0 || rep->valuedouble > INT32_MAX ||
                   rep->valuedouble != (double) (int32_t) rep->valuedouble) {
                /* The API server always fills in spec.replicas (its default is 1). */
                snprintf(errbuf, errlen, "StatefulSet \"%s\" has no spec.replicas of 0 to 2147483647", name);
                r = -EPROTO;
        } else {
                *ret_replicas = (int32_t) rep->valuedouble;
        }
        cJSON_Delete(j);
        return r;
}

bool scaledown_failure_is_lasting(int rc) {
        return rc == -EACCES || rc == -ENOENT || rc == -EINVAL;
}

bool scaledown_failure_holds(int rc) {
        return rc < 0 && rc != -ENOENT;
}

/* The ordinal of a StatefulSet pod named by host's first label, or -1. */
static int64_t host_ordinal(const char *host, const char *statefulset) {
        size_t n = strlen(statefulset);
        if (strncmp(host, statefulset, n) != 0 || host[n] != '-')
                return -1;
        const char *p = host + n + 1;
        size_t digits = strcspn(p, ".");
        char num[16];
        if (digits == 0 || digits >= sizeof num || (p[0] == '0' && digits > 1))
                return -1;
        memcpy(num, p, digits);
        num[digits] = '\0';
        uint64_t v;
        if (parse_u64(num, 0, INT32_MAX, &v) < 0)
                return -1;
        return (int64_t) v;
}

/* Does host's first label equal pod? */
static bool host_is_pod(const char *host, const char *pod) {
        size_t n = strlen(pod);
        return strncmp(host, pod, n) == 0 && (host[n] == '.' || host[n] == '\0');
}

int scaledown_voters_removed(const struct ctlcheck_endpoints *voters, const char *statefulset, const char *pod,
                             int32_t replicas, bool *ret_self) {
        int removed = 0;
        *ret_self = false;
        for (int i = 0; voters && i < voters->n; i++) {
                int64_t ord = host_ordinal(voters->v[i].host, statefulset);
                if (ord >= replicas)
                        removed++;
                if (host_is_pod(voters->v[i].host, pod))
                        *ret_self = true;
        }
        return removed;
}

/* The broker ids of the pods a scale to replicas removes, up to this pod's: node.id is
 * kpa-init's offset + ordinal, so they are node_id - ordinal + [replicas, ordinal]. */
static void removed_ids(const struct scaledown_input *in, int32_t replicas, char *buf, size_t len) {
        int64_t offset = (int64_t) in->node_id - in->cfg->ordinal;
        size_t o = 0;
        buf[0] = '\0';
        int shown = 0;
        for (int64_t ord = replicas; ord <= in->cfg->ordinal && shown < IDS_MAX; ord++, shown++) {
                int w = snprintf(buf + o, len - o, "%s%" PRId64, shown ? "," : "", offset + ord);
                if (w < 0 || (size_t) w >= len - o)
                        break;
                o += (size_t) w;
        }
}

/* The listener of pod <statefulset>-0 when bootstrap names this pod's host ("kafka-3.svc:9092"
 * -> "kafka-0.svc:9092"): that pod stays while any does. Else bootstrap as it is. */
static void first_pod_bootstrap(const struct scaledown_input *in, char *buf, size_t len) {
        const char *b = in->bootstrap ? in->bootstrap : "";
        if (host_is_pod(b, in->cfg->pod) || (strncmp(b, in->cfg->pod, strlen(in->cfg->pod)) == 0 &&
                                              b[strlen(in->cfg->pod)] == ':'))
                snprintf(buf, len, "%s-0%s", in->cfg->statefulset, b + strlen(in->cfg->pod));
        else
                snprintf(buf, len, "%s", b);
}

void scaledown_evaluate(const struct scaledown_input *in, struct scaledown_verdict *ret) {
        const struct scaledown_config *c = in->cfg;
        const struct scaledown_lookup *l = in->lookup;
        *ret = (struct scaledown_verdict){ .state = SCALEDOWN_UNKNOWN };
        if (in->waiting && (!in->fresh || !l->done)) {
                ret->hold = true;
                snprintf(ret->reason, sizeof ret->reason, "reading spec.replicas of StatefulSet %s/%s to tell a "
                         "scale-down from a restart", c->namespace_, c->statefulset);
                return;
        }
        if (!l->done) {
                snprintf(ret->reason, sizeof ret->reason, "spec.replicas of StatefulSet %s/%s not read yet",
                         c->namespace_, c->statefulset);
                return;
        }
        if (l->rc < 0) {
                /* Fail closed: a pod whose spec.replicas cannot be read may be one being removed.
                 * Only a StatefulSet that does not exist is no scale-down: it is deleted with its
                 * pods (or --statefulset names another, which the error says). */
                if (!scaledown_failure_holds(l->rc)) {
                        snprintf(ret->reason, sizeof ret->reason, "this rule holds nothing: StatefulSet %s/%s does not "
                                 "exist, so no scale-down is left to protect (it is being deleted with its pods): "
                                 "%.700s", c->namespace_, c->statefulset, l->error);
                } else if (scaledown_failure_is_lasting(l->rc)) {
                        /* The same at every stop (RBAC, the token, the API's address or CA): say
                         * how to fix it, and how to turn the rule off on purpose. */
                        ret->hold = in->waiting;
                        snprintf(ret->reason, sizeof ret->reason, "cannot tell a scale-down from a restart, so %s "
                                 "until spec.replicas can be read (again every 3 s) or the prestop timeout ends: "
                                 "%.600s; fix that (k8s/base: the Role and RoleBinding kafka-kpa-statefulset-reader "
                                 "and the service account token), or leave --pod-name (KPA_POD_NAME) unset to turn "
                                 "the scale-down rule off", in->waiting ? "/prestop holds" : "a /prestop would hold",
                                 l->error);
                } else {
                        ret->hold = in->waiting;
                        snprintf(ret->reason, sizeof ret->reason, "cannot tell a scale-down from a restart: %s",
                                 l->error);
                }
                return;
        }
        int32_t replicas = l->replicas;
        if ((int64_t) c->ordinal < replicas) {
                ret->state = SCALEDOWN_STAYS;
                snprintf(ret->reason, sizeof ret->reason, "pod %s stays: ordinal %" PRIu32 " is below spec.replicas %"
                         PRId32 " of StatefulSet %s/%s (a stop is a restart)", c->pod, c->ordinal, replicas,
                         c->namespace_, c->statefulset);
                return;
        }
        ret->state = SCALEDOWN_REMOVING;
        /* Scaled to 0, the whole cluster stops and keeps its volumes: there is no broker to
         * move the replicas to, nor a quorum to keep, so holding would protect nothing. */
        if (replicas == 0) {
                snprintf(ret->reason, sizeof ret->reason, "StatefulSet %s/%s is scaled to 0: the whole cluster stops "
                         "(its volumes stay), so no replica can move and this rule holds nothing", c->namespace_,
                         c->statefulset);
                return;
        }
        char ids[IDS_MAX * 12], boot0[300];
        removed_ids(in, replicas, ids, sizeof ids);
        first_pod_bootstrap(in, boot0, sizeof boot0);
        bool self = false;
        ret->voters = in->voters ? in->voters->n : 0;
        ret->voters_removed = scaledown_voters_removed(in->voters, c->statefulset, c->pod, replicas, &self);
        int kept = ret->voters - ret->voters_removed;
        if (self && kept * 2 <= ret->voters) {
                ret->hold = ret->quorum_refused = true;
                snprintf(ret->reason, sizeof ret->reason, "refusing to stop KRaft voter %s: StatefulSet %s/%s scaled "
                         "to %" PRId32 " keeps %d of the %d voters, not a majority; scale it back to at least %"
                         PRId32 " (KRaft controllers are never scaled below a majority of the voters)", c->pod,
                         c->namespace_, c->statefulset, replicas, kept, ret->voters,
                         replicas + (ret->voters / 2 + 1 - kept));
                return;
        }
        if (in->hosted != 0) {
                snprintf(ret->move_command, sizeof ret->move_command,
                         "kubectl -n %s exec %s -c kafka -- bash /etc/kafka/template/kpa-scale-down.sh reassign "
                         "--bootstrap-server %s --remove %s", c->namespace_, c->pod, in->bootstrap ? in->bootstrap : "",
                         ids);
        }
        snprintf(ret->unregister_command, sizeof ret->unregister_command,
                         "kubectl -n %s exec %s-0 -c kafka -- bash /etc/kafka/template/kpa-scale-down.sh unregister "
                         "--bootstrap-server %s --remove %s", c->namespace_, c->statefulset, boot0, ids);
        if (in->hosted < 0) {
                ret->hold = true;
                snprintf(ret->reason, sizeof ret->reason, "pod %s is being removed (ordinal %" PRIu32 " >= spec.replicas %"
                         PRId32 " of StatefulSet %s/%s) and whether broker %d still hosts replicas is not known %s",
                         c->pod, c->ordinal, replicas, c->namespace_, c->statefulset, in->node_id,
                         in->waiting ? "yet (no check of it has ended since the /prestop came)"
                                     : "(its broker has not answered yet)");
        } else if (in->hosted > 0) {
                ret->hold = true;
                snprintf(ret->reason, sizeof ret->reason, "pod %s is being removed (ordinal %" PRIu32 " >= spec.replicas %"
                         PRId32 " of StatefulSet %s/%s) and broker %d still hosts %d partition replica%s: move them "
                         "away first (move_command), then the stop proceeds", c->pod, c->ordinal, replicas,
                         c->namespace_, c->statefulset, in->node_id, in->hosted, in->hosted == 1 ? "" : "s");
        } else {
                snprintf(ret->reason, sizeof ret->reason, "pod %s is being removed (ordinal %" PRIu32 " >= spec.replicas %"
                         PRId32 " of StatefulSet %s/%s) and broker %d hosts no replica; once the pod is gone, "
                         "unregister it (unregister_command)", c->pod, c->ordinal, replicas, c->namespace_,
                         c->statefulset, in->node_id);
        }
}

static const char *state_name(enum scaledown_state s) {
        return s == SCALEDOWN_STAYS ? "stays" : s == SCALEDOWN_REMOVING ? "removing" : "unknown";
}

int scaledown_status_json(const struct scaledown_view *view, cJSON *root) {
        const struct scaledown_config *cfg = view->cfg;
        const struct scaledown_lookup *lookup = view->lookup;
        const struct scaledown_verdict *v = &view->verdict;
        cJSON *o = cJSON_AddObjectToObject(root, "scale_down");
        if (!o)
                return -ENOMEM;
        bool ok = cJSON_AddStringToObject(o, "statefulset", cfg->statefulset) &&
                  cJSON_AddStringToObject(o, "namespace", cfg->namespace_) &&
                  cJSON_AddNumberToObject(o, "ordinal", cfg->ordinal) &&
                  (lookup->done && lookup->rc == 0 ? cJSON_AddNumberToObject(o, "replicas", lookup->replicas) != NULL
                                                   : cJSON_AddNullToObject(o, "replicas") != NULL) &&
                  (lookup->done && lookup->rc < 0 ? cJSON_AddStringToObject(o, "lookup_error", lookup->error) != NULL
                                                  : cJSON_AddNullToObject(o, "lookup_error") != NULL) &&
                  cJSON_AddStringToObject(o, "state", state_name(v->state)) &&
                  cJSON_AddBoolToObject(o, "holds_prestop", v->hold) &&
                  cJSON_AddStringToObject(o, "reason", v->reason) &&
                  (v->move_command[0] ? cJSON_AddStringToObject(o, "move_command", v->move_command) != NULL
                                      : cJSON_AddNullToObject(o, "move_command") != NULL) &&
                  (v->unregister_command[0]
                           ? cJSON_AddStringToObject(o, "unregister_command", v->unregister_command) != NULL
                           : cJSON_AddNullToObject(o, "unregister_command") != NULL);
        return ok ? 0 : -ENOMEM;
}

int scaledown_metrics(const struct scaledown_view *view, struct dynbuf *out) {
        const struct scaledown_lookup *l = view->lookup;
        const struct scaledown_verdict *v = &view->verdict;
        bool ok = l->done && l->rc == 0;
        int r = dynbuf_printf(out, "# HELP kpa_scale_down_lookup_ok 1 if the last read of the StatefulSet's "
                              "spec.replicas succeeded (0: not read yet, or it failed: /status scale_down.lookup_error).\n"
                              "# TYPE kpa_scale_down_lookup_ok gauge\nkpa_scale_down_lookup_ok %d\n", ok ? 1 : 0);
        /* A stale count would read as a fact: the gauge is absent while the last read failed. */
        if (r == 0 && ok)
                r = dynbuf_printf(out, "# HELP kpa_statefulset_replicas spec.replicas of this pod's StatefulSet, as "
                                  "last read.\n# TYPE kpa_statefulset_replicas gauge\nkpa_statefulset_replicas %"
                                  PRId32 "\n", l->replicas);
        if (r == 0)
                r = dynbuf_printf(out, "# HELP kpa_scale_down_removing 1 if this pod is being removed (its ordinal is "
                                  "at or above spec.replicas); 0 if it stays or that is not known.\n"
                                  "# TYPE kpa_scale_down_removing gauge\nkpa_scale_down_removing %d\n",
                                  v->state == SCALEDOWN_REMOVING ? 1 : 0);
        if (r == 0)
                r = dynbuf_printf(out, "# HELP kpa_scale_down_holds_prestop 1 if the scale-down rule holds a /prestop "
                                  "now (a removed broker that hosts replicas, a voter majority at stake, or "
                                  "spec.replicas being read, or not readable, for a held /prestop).\n"
                                  "# TYPE kpa_scale_down_holds_prestop gauge\nkpa_scale_down_holds_prestop %d\n",
                                  v->hold ? 1 : 0);
        return r;
}
