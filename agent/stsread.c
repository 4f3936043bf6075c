#include "kpa/stsread.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kpa/k8sapi.h"
#include "kpa/log.h"
#include "kpa/monotime.h"

struct stsread {
        uv_loop_t *loop;
        const struct scaledown_config *cfg;
        void (*on_done)(void *data);
        void *data;
        uv_timer_t timer;
        uv_work_t work;
        bool busy, stopping, timer_closed;
        bool again_after;           /* a lookup must begin after the running one */
        struct scaledown_lookup last;   /* what /status and /prestop read (the loop's) */
        struct scaledown_lookup next;   /* the running lookup's (the worker's) */
};


struct parse_arg {
        const struct scaledown_config *cfg;
        int32_t replicas;
};

static int parse(const char *json, size_t len, const char *token, void *arg, char *errbuf, size_t errlen) {
        struct parse_arg *p = arg;
        (void) token;
        return scaledown_parse_replicas(p->cfg->statefulset, json, len, &p->replicas, errbuf, errlen);
}

int stsread_lookup(const struct scaledown_config *c, int32_t *ret_replicas, char *errbuf, size_t errlen) {
        char path[300], what[200], agent[64], forbidden[700];
        snprintf(path, sizeof path, "/apis/apps/v1/namespaces/%s/statefulsets/%s", c->namespace_, c->statefulset);
        snprintf(what, sizeof what, "StatefulSet %s/%s", c->namespace_, c->statefulset);
        snprintf(agent, sizeof agent, "kpa-agent/%s", KPA_VERSION);
        /* Say which Role to fix: a StatefulSet renamed without its Role's resourceNames (an
         * overlay's namePrefix, a second set) is the usual cause. k8s/base names the Role
         * (--statefulset-role); without it, describe it. */
        if (c->role[0])
                snprintf(forbidden, sizeof forbidden, "the service account cannot get StatefulSet %s/%s: add \"%s\" "
                         "to resourceNames of Role %s/%s (its rule for get on statefulsets) and bind that Role to this "
                         "pod's service account", c->namespace_, c->statefulset, c->statefulset, c->namespace_,
                         c->role);
        else
                snprintf(forbidden, sizeof forbidden, "the service account cannot get StatefulSet %s/%s: add \"%s\" "
                         "to resourceNames of the Role in namespace %s that grants get on statefulsets to this pod's "
                         "service account (k8s/base: Role kafka-kpa-statefulset-reader; --statefulset-role names it "
                         "here)", c->namespace_, c->statefulset, c->statefulset, c->namespace_);
        struct parse_arg pa = { .cfg = c };
        struct k8sapi_request q = {
                .api_host = c->api_host, .api_port = c->api_port, .token_path = c->token_path,
                .ca_path = c->ca_path, .path = path, .what = what, .user_agent = agent,
                .no_host = "kpa-agent reads its StatefulSet's spec.replicas from the Kubernetes API and "
                           "must run in a pod (or leave --pod-name unset)",
                .no_token = " into the kpa-agent container (the kube-api-access volume)",
                .forbidden = forbidden,
                .not_found = "--statefulset and --namespace must name this pod's StatefulSet",
                .timeout_ms = STSREAD_TIMEOUT_MS, .max_response = SCALEDOWN_MAX_RESPONSE,
                .parse = parse, .parse_arg = &pa,
        };
        int r = k8sapi_get(&q, errbuf, errlen);
        if (r == 0)
                *ret_replicas = pa.replicas;
        return r;
}

/* On the thread pool: the blocking GET. */
static void work_cb(uv_work_t *req) {
        struct stsread *s = req->data;
        s->next.rc = stsread_lookup(s->cfg, &s->next.replicas, s->next.error, sizeof s->next.error);
}

static int64_t unix_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void start(struct stsread *s);

static void log_change(const struct scaledown_lookup *was, const struct scaledown_lookup *now) {
        if (now->rc < 0) {
                /* Once per fault (the first read runs at start): a lasting one holds every
                 * /prestop until it is fixed, which the log must say before a roll finds out. */
                if (!was->done || was->rc == 0 || strcmp(was->error, now->error) != 0)
                        log_event(LOG_LEVEL_WARN, "statefulset_unknown", "%s%s", now->error,
                                  !scaledown_failure_holds(now->rc) ? "; the scale-down rule holds nothing"
                                  : scaledown_failure_is_lasting(now->rc)
                                          ? "; every /prestop holds until this is fixed or the prestop timeout ends "
                                            "(or leave --pod-name unset to turn the scale-down rule off)"
                                          : "");
        } else if (!was->done || was->rc < 0 || was->replicas != now->replicas) {
                log_event(LOG_LEVEL_INFO, "statefulset_replicas", "spec.replicas is %d", (int) now->replicas);
        }
}

static void after_work_cb(uv_work_t *req, int status) {
        struct stsread *s = req->data;
        (void) status;
        s->busy = false;
        if (s->stopping) {
                if (s->timer_closed)
                        free(s);
                return;
        }
        s->next.done = true;
        s->next.finished_unix_ms = unix_ms();
        if (s->next.rc == 0)
                s->next.error[0] = '\0';
        log_change(&s->last, &s->next);
        s->last = s->next;
        if (s->again_after) {
                s->again_after = false;
                start(s);
        }
        s->on_done(s->data);
}

static void start(struct stsread *s) {
        if (s->busy || s->stopping)
                return;
        s->next = (struct scaledown_lookup){ .started_ms = monotime_ms() };
        s->work.data = s;
        if (uv_queue_work(s->loop, &s->work, work_cb, after_work_cb) == 0)
                s->busy = true;
}

static void on_tick(uv_timer_t *t) {
        start(t->data);
}

int stsread_new(uv_loop_t *loop, const struct scaledown_config *cfg, void (*on_done)(void *data), void *data,
                struct stsread **ret, char *errbuf, size_t errlen) {
        struct stsread *s = calloc(1, sizeof *s);
        if (!s) {
                snprintf(errbuf, errlen, "out of memory");
                return -ENOMEM;
        }
        *s = (struct stsread){ .loop = loop, .cfg = cfg, .on_done = on_done, .data = data };
        uv_timer_init(loop, &s->timer);
        s->timer.data = s;
        uv_timer_start(&s->timer, on_tick, 0, STSREAD_INTERVAL_MS);
        *ret = s;
        return 0;
}

void stsread_refresh(struct stsread *s, uint64_t min_started_ms) {
        if (!s || s->stopping)
                return;
        if (s->busy) {
                if (s->next.started_ms < min_started_ms)
                        s->again_after = true;
                return;
        }
        if (s->last.done && s->last.started_ms >= min_started_ms)
                return;
        start(s);
}

const struct scaledown_lookup *stsread_last(const struct stsread *s) {
        return &s->last;
}

static void on_timer_closed(uv_handle_t *h) {
        struct stsread *s = h->data;
        s->timer_closed = true;
        if (!s->busy)
                free(s);
}

void stsread_stop(struct stsread *s) {
        if (!s || s->stopping)
                return;
        s->stopping = true;
        uv_close((uv_handle_t *) &s->timer, on_timer_closed);
}
