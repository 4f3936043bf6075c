/* Scale-down safety: is this pod being removed (its ordinal at or above its StatefulSet's
 * spec.replicas) rather than restarted, and may it stop? `kubectl scale` removes the highest
 * ordinals, and a removed broker that still hosts replicas leaves them under-replicated for
 * good; a removed voter can cost the KRaft quorum its majority. The decisions here are pure;
 * stsread.h reads spec.replicas from the Kubernetes API. docs/scale-down.md. */
#ifndef KPA_SCALEDOWN_H
#define KPA_SCALEDOWN_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kpa/ctlcheck.h"
#include "kpa/dynbuf.h"

/* A DNS label (pod, StatefulSet and namespace names) and its NUL. */
#define SCALEDOWN_NAME_MAX 64
#define SCALEDOWN_TEXT_MAX 1024
/* An RBAC object's name (a DNS subdomain at most) and its NUL. */
#define SCALEDOWN_ROLE_MAX 254
/* The largest StatefulSet object read (they are a few KiB; a big pod template some ten). */
#define SCALEDOWN_MAX_RESPONSE (1u << 20)

/* Where to look: set when --pod-name is given, NULL in agent_config otherwise. */
struct scaledown_config {
        char pod[SCALEDOWN_NAME_MAX];
        char statefulset[SCALEDOWN_NAME_MAX];
        char namespace_[SCALEDOWN_NAME_MAX];
        uint32_t ordinal;
        /* The Role granting get on the StatefulSet, for the hint of a 403; "" when not given. */
        char role[SCALEDOWN_ROLE_MAX];
        char *api_host, *api_port, *token_path, *ca_path;   /* NULL: k8sapi's defaults */
};

/* Fills a config from the flags' values (each may be NULL): the StatefulSet's name defaults
 * to pod minus "-<ordinal>", the namespace to the content of ns_file (the service account's
 * namespace file). -EINVAL naming the flag on bad input. */
int scaledown_config_load(const char *pod, const char *statefulset, const char *namespace_, const char *ns_file,
                          const char *api_host, const char *api_port, const char *token_path,
                          const char *ca_path, struct scaledown_config **ret, char *errbuf, size_t errlen);
struct scaledown_config *scaledown_config_free(struct scaledown_config *c);
/* Names the Role (--statefulset-role) that a 403's hint tells to fix: 1 to 253 of a-z 0-9 . - :
 * (an RBAC name kustomize can produce, system roles' colons included). -EINVAL naming the flag. */
int scaledown_config_set_role(struct scaledown_config *c, const char *role, char *errbuf, size_t errlen);

/* spec.replicas of the StatefulSet object json (the API server's answer): 0 with *ret set, or
 * -EPROTO when it is not the StatefulSet named name or spec.replicas is not a whole number
 * from 0 to 2147483647. */
int scaledown_parse_replicas(const char *name, const char *json, size_t len, int32_t *ret_replicas, char *errbuf,
                             size_t errlen);

/* The last lookup of spec.replicas. */
struct scaledown_lookup {
        bool done;                  /* one finished */
        int rc;                     /* 0, or k8sapi_get's error */
        int32_t replicas;           /* with rc 0 */
        char error[768];            /* with rc < 0 */
        uint64_t started_ms;        /* monotonic, when the lookup began */
        int64_t finished_unix_ms;
};

/* Is a failed lookup a lasting fault, the same at every stop (401, 403, 404, a configuration
 * error such as no API host, token or CA), rather than one asking again soon may fix (a
 * transport error, a 5xx, an answer that is not a StatefulSet)? */
bool scaledown_failure_is_lasting(int rc);
/* Does a failed lookup hold a pending /prestop? Every failure does (the pod may be being
 * removed) except 404: no StatefulSet, no scale-down to protect. */
bool scaledown_failure_holds(int rc);

/* How many static voters a scale to replicas removes: voters whose host's first label is
 * "<statefulset>-<ordinal>" with ordinal >= replicas. *ret_self: this pod is a voter. */
int scaledown_voters_removed(const struct ctlcheck_endpoints *voters, const char *statefulset, const char *pod,
                             int32_t replicas, bool *ret_self);

struct scaledown_input {
        const struct scaledown_config *cfg;
        const struct scaledown_lookup *lookup;
        bool waiting;               /* a /prestop is held: the lookup must be fresh */
        bool fresh;                 /* the lookup began after the /prestop came */
        int32_t node_id;
        int hosted;                 /* partitions with node_id among their replicas; -1 unknown */
        const struct ctlcheck_endpoints *voters;   /* the static voters; NULL: none known */
        const char *bootstrap;      /* the local listener, for the commands */
};

enum scaledown_state {
        SCALEDOWN_UNKNOWN,          /* not looked up yet, or the lookup failed */
        SCALEDOWN_STAYS,            /* ordinal < replicas: a restart */
        SCALEDOWN_REMOVING,         /* ordinal >= replicas */
};

struct scaledown_verdict {
        enum scaledown_state state;
        bool hold;                  /* /prestop must not release */
        bool quorum_refused;        /* held because the voters left are not a majority */
        int voters, voters_removed;
        char reason[SCALEDOWN_TEXT_MAX];
        char move_command[SCALEDOWN_TEXT_MAX];       /* "" when none is needed */
        char unregister_command[SCALEDOWN_TEXT_MAX]; /* "" when none is needed */
};

/* The rule. Unknown replicas: a lookup still pending for a held /prestop, or failed, holds
 * (the agent cannot know the stop is safe), a lasting fault (401, 403, bad API config) too,
 * its reason naming the fix and the opt-out (no --pod-name); only a 404 does not hold (no
 * StatefulSet: the whole set is being deleted, nothing to protect), and says so. Removing:
 * holds while the broker hosts any replica (or it is unknown), and while the voters left
 * would not be a majority of the voters; except when scaled to 0 (the whole cluster stops,
 * keeping its volumes: nowhere to move to, no quorum to keep). */
void scaledown_evaluate(const struct scaledown_input *in, struct scaledown_verdict *ret);

/* What /status shows: the config, the last lookup and the verdict over them. */
struct scaledown_view {
        const struct scaledown_config *cfg;
        const struct scaledown_lookup *lookup;
        struct scaledown_verdict verdict;
};

/* Adds /status "scale_down" to root. -ENOMEM when cJSON could not allocate. */
int scaledown_status_json(const struct scaledown_view *v, cJSON *root);

/* Appends the scale-down gauges of /metrics (docs/kpa-agent.md): kpa_scale_down_lookup_ok,
 * kpa_statefulset_replicas (only while the last lookup succeeded), kpa_scale_down_removing and
 * kpa_scale_down_holds_prestop. dynbuf's error when out is full. */
int scaledown_metrics(const struct scaledown_view *v, struct dynbuf *out);

#endif
