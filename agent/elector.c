#include "kpa/elector.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kpa/ctlcheck.h"
#include "kpa/kconn.h"
#include "kpa/kwire_elect.h"
#include "kpa/log.h"
#include "kpa/monotime.h"
#include "kpa/parse.h"

#define CLIENT_ID "kpa-agent"

/* One election: the partitions asked, and what came back (owned by the worker while busy). */
struct elect_job {
        int n;
        struct leadership_partition parts[KWIRE_ELECT_MAX_PARTITIONS];
        struct kwire_elect answer;
        struct leadership_outcome outcome;
};

struct elector {
        uv_loop_t *loop;
        struct elector_opts o;
        uv_work_t work;
        bool busy, stopping;
        struct elect_job *job;
        struct leadership state;
        struct leadership_plan *plan;    /* the last answered check's */
        struct kafka_conf *conf, *pending_conf;
        struct kconn_security sec;
        bool sec_ok;
        char sec_err[LEADERSHIP_REASON_MAX];
        char host[KCONN_HOST_MAX];
        uint16_t port;
        elector_done_cb cb;
        void *cb_data;
};

static int64_t unix_now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void use_conf(struct elector *e, struct kafka_conf *conf) {
        kafka_conf_free(e->conf);
        e->conf = conf;
        e->sec_ok = false;
        snprintf(e->sec_err, sizeof e->sec_err, "no client configuration");
        if (!conf)
                return;
        char err[LEADERSHIP_REASON_MAX - 64];
        if (ctlcheck_security(conf, &e->sec, err, sizeof err) < 0) {
                snprintf(e->sec_err, sizeof e->sec_err, "%s", err);
                return;
        }
        if (parse_hostport(kafka_conf_bootstrap(conf), 0, e->host, sizeof e->host, &e->port) < 0) {
                snprintf(e->sec_err, sizeof e->sec_err, "the bootstrap address is not HOST:PORT");
                return;
        }
        e->sec_ok = true;
}

int elector_new(uv_loop_t *loop, const struct elector_opts *o, struct kafka_conf *conf,
                elector_done_cb cb, void *data, struct elector **ret) {
        struct elector *e = calloc(1, sizeof *e);
        struct leadership_plan *plan = calloc(1, sizeof *plan);
        if (!e || !plan) {
                free(e);
                free(plan);
                kafka_conf_free(conf);
                return -ENOMEM;
        }
        e->loop = loop;
        e->o = *o;
        e->plan = plan;
        e->cb = cb;
        e->cb_data = data;
        e->work.data = e;
        leadership_init(&e->state, o->enabled, o->ready_wait_ms);
        use_conf(e, conf);
        *ret = e;
        return 0;
}

void elector_set_conf(struct elector *e, struct kafka_conf *conf) {
        if (!e) {
                kafka_conf_free(conf);
                return;
        }
        kafka_conf_free(e->pending_conf);
        e->pending_conf = conf;
}

void elector_observe(struct elector *e, const struct snapshot *s) {
        if (!e)
                return;
        leadership_plan(s, e->o.local_id, e->plan);
        leadership_observe(&e->state, e->plan, monotime_ms());
}

void elector_verdict(struct elector *e, uint64_t now_ms, struct verdict *v) {
        struct check_result *c = &v->checks[CHECK_LEADERSHIP];
        if (!e) {
                memset(c, 0, sizeof *c);
                return;
        }
        leadership_base_ready(&e->state, v->ready, now_ms);
        leadership_readiness(&e->state, now_ms, c);
        if (c->applies && !c->ok)
                v->ready = false;
}

const struct leadership *elector_view(const struct elector *e) { return e ? &e->state : NULL; }

/* The election, on the worker thread: connect, one request, one answer. */
static void work_cb(uv_work_t *req) {
        struct elector *e = req->data;
        struct elect_job *j = e->job;
        struct leadership_outcome *o = &j->outcome;
        char err[LEADERSHIP_REASON_MAX - 64] = "";
        struct kwire_elect_partition parts[KWIRE_ELECT_MAX_PARTITIONS];
        for (int i = 0; i < j->n; i++)
                parts[i] = (struct kwire_elect_partition){ j->parts[i].topic, j->parts[i].partition };
        o->asked = j->n;
        uint64_t deadline = monotime_ms() + e->o.timeout_ms;
        struct kconn *k = NULL;
        int r = kconn_open(e->host, e->port, &e->sec, deadline, &k, err, sizeof err);
        if (r == 0) {
                uint8_t *reqbuf = malloc(KWIRE_ELECT_REQUEST_MAX), *resp = NULL;
                size_t len = 0, rlen = 0;
                int32_t corr = kconn_next_correlation(k);
                /* The controller waits up to TimeoutMs for the elections; the answer must come
                 * before our own deadline, so it gets most of the time left. */
                int32_t timeout = (int32_t) (e->o.timeout_ms * 3 / 4);
                r = reqbuf ? kwire_elect_encode_request(KWIRE_ELECT_VERSION, corr, CLIENT_ID, KWIRE_ELECT_PREFERRED,
                                                        parts, j->n, timeout, reqbuf, KWIRE_ELECT_REQUEST_MAX, &len)
                           : -ENOMEM;
                if (r == 0)
                        r = kconn_exchange(k, reqbuf, len, KWIRE_ELECT_RESPONSE_MAX, deadline, &resp, &rlen, err, sizeof err);
                if (r == 0)
                        r = kwire_elect_decode_response(resp, rlen, KWIRE_ELECT_VERSION, corr, &j->answer, err, sizeof err);
                else if (r == -ENOMEM || r == -EINVAL)
                        snprintf(err, sizeof err, "could not encode the request (%d)", r);
                free(resp);
                free(reqbuf);
        }
        kconn_close(k);
        o->rc = r;
        o->at_unix_ms = unix_now_ms();
        if (r < 0) {
                snprintf(o->error, sizeof o->error, "ElectLeaders to %.60s:%u: %.200s", e->host, (unsigned) e->port, err);
                return;
        }
        o->top_error = j->answer.error_code;
        o->n_results = j->answer.n_results;
        for (int i = 0; i < j->answer.n_results; i++) {
                const struct kwire_elect_result *res = &j->answer.results[i];
                o->codes[i] = res->error_code;
                if (!kwire_elect_ok(res->error_code) && !o->first_message[0]) {
                        char name[KWIRE_ERROR_TEXT_MAX];
                        snprintf(o->first_message, sizeof o->first_message, "%.60s-%d: %s%s%.60s", res->topic,
                                 (int) res->partition, kwire_error_text(res->error_code, name, sizeof name),
                                 res->message[0] ? ": " : "", res->message);
                }
        }
}

static void log_outcome(const struct elector *e) {
        const struct leadership *l = &e->state;
        if (l->last_failed == 0)
                log_event(LOG_LEVEL_INFO, "leadership_elected", "preferred leader election for %d partitions: "
                          "%d elected, %d already led by this broker", l->last_asked, l->last_elected, l->last_not_needed);
        else
                log_event(LOG_LEVEL_WARN, "leadership_election_failed", "preferred leader election for %d partitions: "
                          "%d elected, %d already led, %d failed: %s", l->last_asked, l->last_elected,
                          l->last_not_needed, l->last_failed, l->last_error[0] ? l->last_error : "no reason given");
        if (l->gave_up)
                log_event(LOG_LEVEL_WARN, "leadership_gave_up", "not asking again until the broker is ready again: %s", l->reason);
}

static void after_work_cb(uv_work_t *req, int status) {
        struct elector *e = req->data;
        (void) status;
        e->busy = false;
        if (!e->stopping) {
                leadership_done(&e->state, &e->job->outcome, monotime_ms());
                log_outcome(e);
        }
        free(e->job);
        e->job = NULL;
        if (e->stopping) {
                kafka_conf_free(e->conf);
                kafka_conf_free(e->pending_conf);
                free(e->plan);
                free(e);
                return;
        }
        if (e->cb)
                e->cb(e->cb_data);
}

void elector_kick(struct elector *e, bool stop_pending, uint64_t now_ms) {
        if (!e || e->busy || e->stopping)
                return;
        bool was_given_up = e->state.gave_up;
        if (!leadership_should_elect(&e->state, stop_pending, now_ms)) {
                if (e->state.gave_up && !was_given_up)
                        log_event(LOG_LEVEL_WARN, "leadership_gave_up", "not asking again until the broker is ready again: %s",
                                  e->state.reason);
                return;
        }
        if (e->pending_conf) {
                use_conf(e, e->pending_conf);
                e->pending_conf = NULL;
        }
        struct elect_job *j = calloc(1, sizeof *j);
        struct leadership_outcome fail = { .rc = -ENOMEM, .asked = e->plan->n, .at_unix_ms = unix_now_ms() };
        if (!j) {
                snprintf(fail.error, sizeof fail.error, "out of memory");
                leadership_done(&e->state, &fail, now_ms);
                return;
        }
        if (!e->sec_ok) {
                fail.rc = -EINVAL;
                snprintf(fail.error, sizeof fail.error, "%s", e->sec_err);
                free(j);
                leadership_done(&e->state, &fail, now_ms);
                log_outcome(e);
                return;
        }
        j->n = e->plan->n;
        memcpy(j->parts, e->plan->parts, sizeof j->parts[0] * (size_t) j->n);
        e->job = j;
        if (uv_queue_work(e->loop, &e->work, work_cb, after_work_cb) < 0) {
                e->job = NULL;
                free(j);
                fail.rc = -EAGAIN;
                snprintf(fail.error, sizeof fail.error, "could not start a worker");
                leadership_done(&e->state, &fail, now_ms);
                return;
        }
        e->busy = true;
        log_event(LOG_LEVEL_INFO, "leadership_election", "asking for the preferred leader election of %d partitions "
                  "(%d of this broker's %d preferred partitions are led by other brokers)", j->n, e->state.skewed,
                  e->state.preferred);
}

void elector_stop(struct elector *e) {
        if (!e || e->stopping)
                return;
        e->stopping = true;
        if (e->busy)
                return;
        kafka_conf_free(e->conf);
        kafka_conf_free(e->pending_conf);
        free(e->plan);
        free(e);
}
