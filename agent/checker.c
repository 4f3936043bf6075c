#include "kpa/checker.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kpa/monotime.h"

/* One check on the threadpool. It lives on the heap, apart from the checker, so that a check
 * still running when checker_stop gives up can finish on its own and free itself. */
struct job {
        uv_work_t req;
        struct checker *owner;      /* NULL once orphaned */
        struct kafka_client *kc;    /* borrowed from the owner; owned once orphaned */
        struct ctlcheck *cc;        /* a controller's check instead of kc, likewise */
        bool want_configs;
        bool gate;                  /* a /prestop is pending: kafka_check_gate */
        struct kafka_result res;
        struct ctlcheck_result *cres;   /* with cc */
};

struct checker {
        uv_loop_t *loop;
        uv_timer_t tick;
        uv_timer_t deadline;        /* bounds checker_stop's wait for a running check */
        struct kafka_client *kc;
        /* Controller-only node: this check instead of kc. The two kinds differ in five short
         * places (run, deliver, fail, set_conf, timeout), each an if on cc; an ops table would
         * spread them over ten functions and two tables for no gain, so they stay ifs. */
        struct ctlcheck *cc;
        struct kafka_conf *pending_conf;
        struct checker_opts o;
        uint64_t period_ms;         /* the current time between check starts (checker_set_interval) */
        uint64_t last_start_ms;     /* uv_now of the last start */
        checker_result_cb cb;
        checker_ctl_result_cb ccb;
        void *data;
        struct job *job;            /* the check in flight, if any */
        bool pending_trigger, want_configs, stopping;
        bool gate;
        int open_handles;
        int stop_status;
        checker_closed_cb closed_cb;
        void *closed_data;
        struct checker_stats stats;
};

static void job_work(uv_work_t *req) {
        struct job *j = req->data;
        if (j->cc && j->gate)
                ctlcheck_run_gate(j->cc, j->cres);
        else if (j->cc)
                ctlcheck_run(j->cc, j->cres);
        else if (j->gate)
                kafka_check_gate(j->kc, j->want_configs, &j->res);
        else
                kafka_check(j->kc, j->want_configs, &j->res);
}

static void job_free(struct job *j) {
        kafka_result_release(&j->res);
        if (!j->owner) {
                kafka_client_free(j->kc);
                ctlcheck_free(j->cc);
        }
        free(j->cres);
        free(j);
}

static void finish_stop(struct checker *c, int status);
static void start_check(struct checker *c);
static void set_conf_now(struct checker *c, struct kafka_conf *conf);

static void job_done(uv_work_t *req, int status) {
        struct job *j = req->data;
        struct checker *c = j->owner;
        if (!c) {
                job_free(j);
                return;
        }
        c->job = NULL;
        c->stats.running = false;
        if (c->stopping) {
                job_free(j);
                finish_stop(c, 0);
                return;
        }
        /* Only checker_stop cancels, so a cancelled job never gets here. */
        (void) status;
        c->stats.finished++;
        if (j->cc)
                c->ccb(j->cres, c->data);
        else
                c->cb(&j->res, c->data);
        j->res.snap = NULL;
        j->res.peers.view = NULL;
        job_free(j);
        /* The callback may have stopped the checker. */
        if (c->pending_trigger && !c->stopping)
                start_check(c);
}

static void deliver_failure(struct checker *c, int rc, const char *what) {
        c->stats.finished++;
        if (c->cc) {
                /* Static: too large for the loop thread's stack frame, and only ever used here,
                 * on the loop thread, for the duration of the call. */
                static struct ctlcheck_result cr;
                memset(&cr, 0, sizeof cr);
                cr.rc = rc;
                cr.started_ms = cr.finished_ms = monotime_ms();
                snprintf(cr.error, sizeof cr.error, "cannot start a check: %s", what);
                snprintf(cr.leader_error, sizeof cr.leader_error, "cannot start a check: %s", what);
                c->ccb(&cr, c->data);
                return;
        }
        struct kafka_result r = { .rc = rc, .started_ms = monotime_ms() };
        r.finished_ms = r.started_ms;
        snprintf(r.error, sizeof r.error, "cannot start a check: %s", what);
        c->cb(&r, c->data);
}

static void start_check(struct checker *c) {
        c->pending_trigger = false;
        if (c->pending_conf) {
                set_conf_now(c, c->pending_conf);
                c->pending_conf = NULL;
        }
        struct job *j = calloc(1, sizeof *j);
        if (j && c->cc && !(j->cres = malloc(sizeof *j->cres))) {
                free(j);
                j = NULL;
        }
        if (!j) {
                deliver_failure(c, -ENOMEM, "out of memory");
                return;
        }
        j->owner = c;
        j->kc = c->kc;
        j->cc = c->cc;
        j->want_configs = c->want_configs;
        j->gate = c->gate;
        j->req.data = j;
        int r = uv_queue_work(c->loop, &j->req, job_work, job_done);
        if (r < 0) {
                free(j->cres);
                free(j);
                deliver_failure(c, r, uv_strerror(r));
                return;
        }
        c->want_configs = false;
        /* The loop's cached time may be a whole busy iteration old: the next start is due an
         * interval after this one, not after the moment the loop last woke. */
        uv_update_time(c->loop);
        c->last_start_ms = uv_now(c->loop);
        c->job = j;
        c->stats.running = true;
        c->stats.started++;
}

static void set_conf_now(struct checker *c, struct kafka_conf *conf) {
        if (c->cc)
                ctlcheck_set_conf(c->cc, conf);
        else
                kafka_client_set_conf(c->kc, conf);
}

static void on_tick(uv_timer_t *t) {
        struct checker *c = t->data;
        if (c->job) {
                c->stats.skipped_ticks++;
                return;
        }
        start_check(c);
}

/* Either kc with cb, or cc with ccb. */
static int checker_create(uv_loop_t *loop, struct kafka_client *kc, struct ctlcheck *cc,
                          const struct checker_opts *o, checker_result_cb cb,
                          checker_ctl_result_cb ccb, void *data, struct checker **ret,
                          char *errbuf, size_t errlen) {
        if (!(kc && cb) == !(cc && ccb) || o->interval_ms == 0) {
                snprintf(errbuf, errlen, "checker: a client, a callback and an interval > 0 "
                         "are needed");
                kafka_client_free(kc);
                ctlcheck_free(cc);
                return -EINVAL;
        }
        struct checker *c = calloc(1, sizeof *c);
        if (!c) {
                snprintf(errbuf, errlen, "out of memory");
                kafka_client_free(kc);
                ctlcheck_free(cc);
                return -ENOMEM;
        }
        c->loop = loop;
        c->kc = kc;
        c->cc = cc;
        c->ccb = ccb;
        c->o = *o;
        c->period_ms = o->interval_ms;
        if (c->o.stop_grace_ms == 0)
                c->o.stop_grace_ms = 2000;
        c->cb = cb;
        c->data = data;
        int r = uv_timer_init(loop, &c->tick);
        if (r == 0)
                r = uv_timer_init(loop, &c->deadline);
        if (r < 0) {
                /* uv_timer_init only fails before touching the loop, so nothing to close. */
                snprintf(errbuf, errlen, "checker: %s", uv_strerror(r));
                kafka_client_free(kc);
                ctlcheck_free(cc);
                free(c);
                return r;
        }
        c->tick.data = c;
        c->deadline.data = c;
        c->open_handles = 2;
        *ret = c;
        return 0;
}

int checker_new(uv_loop_t *loop, struct kafka_client *kc, const struct checker_opts *o,
                checker_result_cb cb, void *data, struct checker **ret, char *errbuf,
                size_t errlen) {
        return checker_create(loop, kc, NULL, o, cb, NULL, data, ret, errbuf, errlen);
}

int checker_new_controller(uv_loop_t *loop, struct ctlcheck *cc, const struct checker_opts *o,
                           checker_ctl_result_cb cb, void *data, struct checker **ret,
                           char *errbuf, size_t errlen) {
        return checker_create(loop, NULL, cc, o, NULL, cb, data, ret, errbuf, errlen);
}

int checker_start(struct checker *c) {
        return uv_timer_start(&c->tick, on_tick, 0, c->o.interval_ms);
}

void checker_set_gate(struct checker *c, bool on) { c->gate = on; }
void checker_set_interval(struct checker *c, uint64_t interval_ms) {
        if (c->stopping || interval_ms == 0 || interval_ms == c->period_ms)
                return;
        c->period_ms = interval_ms;
        /* The next check starts one new period after the last one started (at once if that
         * moment has passed), then every period: a shorter period takes effect now, not at
         * the end of the longer one already under way. */
        uint64_t now = uv_now(c->loop), due = c->last_start_ms + interval_ms;
        uv_timer_start(&c->tick, on_tick, due > now ? due - now : 0, interval_ms);
}

uint64_t checker_interval(const struct checker *c) { return c->period_ms; }

void checker_trigger_now(struct checker *c, bool want_configs) {
        if (c->stopping)
                return;
        if (want_configs)
                c->want_configs = true;
        if (c->job)
                c->pending_trigger = true;
        else
                start_check(c);
}

void checker_set_conf(struct checker *c, struct kafka_conf *conf) {
        if (c->job || c->stopping) {
                kafka_conf_free(c->pending_conf);
                c->pending_conf = conf;
        } else {
                set_conf_now(c, conf);
        }
}

void checker_get_stats(const struct checker *c, struct checker_stats *ret) { *ret = c->stats; }

static void on_closed(uv_handle_t *h) {
        struct checker *c = h->data;
        if (--c->open_handles > 0)
                return;
        checker_closed_cb cb = c->closed_cb;
        void *data = c->closed_data;
        int status = c->stop_status;
        kafka_client_free(c->kc);
        ctlcheck_free(c->cc);
        kafka_conf_free(c->pending_conf);
        free(c);
        if (cb)
                cb(status, data);
}

static void finish_stop(struct checker *c, int status) {
        c->stop_status = status;
        uv_timer_stop(&c->deadline);
        uv_close((uv_handle_t *) &c->tick, on_closed);
        uv_close((uv_handle_t *) &c->deadline, on_closed);
}

/* The running check did not end in time: hand it the client so that it can finish and free
 * everything by itself, and let the checker go. */
static void on_stop_deadline(uv_timer_t *t) {
        struct checker *c = t->data;
        if (c->job) {
                c->job->owner = NULL;
                c->job = NULL;
                c->kc = NULL;
                c->cc = NULL;
        }
        finish_stop(c, -ETIMEDOUT);
}

void checker_stop(struct checker *c, checker_closed_cb cb, void *data) {
        if (c->stopping)
                return;
        c->stopping = true;
        c->closed_cb = cb;
        c->closed_data = data;
        uv_timer_stop(&c->tick);
        if (!c->job) {
                finish_stop(c, 0);
                return;
        }
        /* A check still waiting for a threadpool thread is cancelled (job_done then runs
         * with UV_ECANCELED); one already running is waited for, up to its deadline. */
        uv_cancel((uv_req_t *) &c->job->req);
        uint64_t wait = (c->cc ? ctlcheck_timeout_ms(c->cc) : kafka_client_timeout_ms(c->kc)) +
                        c->o.stop_grace_ms;
        uv_timer_start(&c->deadline, on_stop_deadline, wait, 0);
}
