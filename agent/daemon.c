#include "kpa/daemon.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "kpa/canroll.h"
#include "kpa/checker.h"
#include "kpa/ctlcheck.h"
#include "kpa/demo.h"
#include "kpa/disk.h"
#include "kpa/dynbuf.h"
#include "kpa/elector.h"
#include "kpa/httpd.h"
#include "kpa/kafka.h"
#include "kpa/kafkaconf.h"
#include "kpa/log.h"
#include "kpa/monotime.h"
#include "kpa/parse.h"
#include "kpa/quorum.h"
#include "kpa/raftstart.h"
#include "kpa/render.h"
#include "kpa/scaledown.h"
#include "kpa/snapshot.h"
#include "kpa/stsread.h"
#include "kpa/tlsrot.h"
#include "kpa/verdict.h"

#define PRESTOP_RECHECK_MS 1000
#define HTTP_STOP_DEADLINE_MS 2000
#define CONF_POLL_MS 5000
#define DEMO_MIN_ISR 2

struct prestop_wait {
        struct agent *agent;
        struct httpd_request *req;
        uint64_t deadline_ms;
        struct prestop_wait *next;
        uint64_t requested_ms;      /* a controller's gate decides only on checks started later */
};

/* Answered checks whose durations pace the fast checks (pace()). */
#define PACE_CHECKS 3u

struct agent {
        uv_loop_t *loop;
        const struct agent_config *cfg;
        int32_t node_id;
        char bootstrap[256];
        char fallback_peers[CTLCHECK_MAX_ENDPOINTS * (KCONN_HOST_MAX + 10)];
        struct demo *demo;
        struct checker *checker;
        struct httpd *httpd;
        struct disk_watch *disk;    /* the log dirs' file systems and Kafka's view of them */
        struct elector *elector;    /* preferred leader elections once caught up (leadership.h) */
        struct tlsrot *tls;         /* certificate rotation (KPA_TLS_DIR), or NULL */
        uv_signal_t sig_term, sig_int, sig_hup;
        uv_timer_t prestop_timer;
        uv_timer_t verdict_timer;   /* logs transitions that no check result brings (staleness) */
        uv_fs_poll_t conf_poll;
        bool conf_poll_on;

        struct health health;
        struct health_policy policy;
        /* canRoll over the last answered check; the snapshot itself is not kept, so that only
         * one cluster's metadata is in memory at a time. */
        struct canroll_result canroll;
        char min_isr_note[KAFKA_NOTE_MAX];   /* why min.insync.replicas values are unknown */
        /* The gate's verdict from the last gate check (only while a /prestop is pending; see
         * canroll.h): what /prestop decides on. gate_valid: one ended since the wait began. */
        struct canroll_gate gate;
        bool gate_valid;
        uint64_t gate_since_ms;     /* when the wait began: older gate checks do not count */
        bool answered;
        int64_t last_check_unix_ms, last_success_unix_ms;
        uint64_t last_duration_ms;
        /* The durations of the last PACE_CHECKS answered checks (ring, n_paced of them): the
         * fast pace keeps twice the shortest apart (see pace()). */
        uint64_t paced_ms[PACE_CHECKS];
        unsigned n_paced;
        char last_error[KAFKA_ERR_MAX];
        int32_t answered_by;
        bool have_verdict_logged, logged_ready, logged_live;

        struct prestop_wait *waiters;
        bool stopping;
        int pending_closes;

        /* A controller-only node (cfg->controller): the quorum instead of partitions. */
        struct quorum_policy qpolicy;
        struct quorum_view quorum;
        struct quorum_stop qstop;
        int64_t ctl_rtt_ms;
        uint64_t last_started_ms;   /* when the last applied check started (monotonic ms) */
        bool last_ctl_gated;        /* it asked every voter directly (ctlcheck_run_gate) */

        /* The feature levels as last asked (featprobe.h); not asked yet: unknown. */
        struct features_view features;

        /* Scale-down safety (scaledown.h): the StatefulSet's spec.replicas, read off the loop;
         * NULL without --pod-name. sd_since_ms: when the /prestop wait began. */
        struct stsread *sts;
        struct scaledown_view sd;
        uint64_t sd_since_ms;
        /* The broker process whose restart was last logged (answer_restart). */
        int64_t restart_logged_start;
};

static int64_t unix_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The verdict at now: the checks' history, plus the log dirs' state (disk.h), which comes
 * from its own, slower rounds. */
static void agent_verdict(struct agent *a, uint64_t now, struct verdict *v) {
        health_verdict(&a->health, &a->policy, now, v);
        struct check_result *c = &v->checks[CHECK_LOG_DIRS];
        disk_readiness(disk_watch_view(a->disk), c);
        if (c->applies && !c->ok)
                v->ready = false;
        elector_verdict(a->elector, now, v);
}

/* The scale-down rule over the newest state, or NULL without --pod-name. While a /prestop is
 * held, only a lookup and a check made since it came count. */
static const struct scaledown_verdict *agent_scale_down(struct agent *a) {
        if (!a->sts)
                return NULL;
        const struct scaledown_lookup *l = stsread_last(a->sts);
        bool waiting = a->waiters != NULL;
        int hosted = a->cfg->controller ? 0
                     : (waiting ? a->gate_valid && a->answered : a->health.ever_reachable) ? a->canroll.hosted : -1;
        struct scaledown_input in = {
                .cfg = a->cfg->scale_down, .lookup = l, .waiting = waiting,
                .fresh = l->done && l->started_ms >= a->sd_since_ms, .node_id = a->node_id, .hosted = hosted,
                .voters = a->cfg->controller ? a->cfg->controllers : a->cfg->quorum_hosts, .bootstrap = a->bootstrap,
        };
        a->sd.cfg = a->cfg->scale_down;
        a->sd.lookup = l;
        scaledown_evaluate(&in, &a->sd.verdict);
        return &a->sd.verdict;
}

static void agent_status_view(struct agent *a, const struct verdict *v, struct agent_status *ret) {
        *ret = (struct agent_status){
                .node_id = a->node_id, .bootstrap = a->bootstrap, .scope = a->cfg->scope,
                .version = KPA_VERSION, .health = &a->health, .verdict = v,
                .last_check_unix_ms = a->last_check_unix_ms,
                .last_check_duration_ms = a->last_duration_ms,
                .last_error = a->last_error, .answered_by = a->answered_by,
                .rtt_ms = a->answered ? (int64_t) a->last_duration_ms : -1,
                .last_success_unix_ms = a->last_success_unix_ms,
                .canroll = a->health.ever_reachable ? &a->canroll : NULL,
                .min_isr_note = a->min_isr_note,
                .gate = a->gate_valid ? &a->gate : NULL,
                .features = a->cfg->controller || a->demo ? NULL : &a->features,
                .disk = disk_watch_view(a->disk),
                .leadership = elector_view(a->elector),
                .scale_down = agent_scale_down(a) ? &a->sd : NULL,
                .tls = tlsrot_view(a->tls), .now_unix_ms = (int64_t) time(NULL) * 1000,
        };
        if (a->cfg->controller) {
                ret->quorum = &a->quorum;
                ret->quorum_stop = &a->qstop;
                ret->rtt_ms = a->answered ? a->ctl_rtt_ms : -1;
        }
}

/* Lists the failing checks of a verdict in one line, for the log. */
static void failing_reasons(const struct verdict *v, bool live, char *buf, size_t len) {
        size_t used = 0;
        buf[0] = '\0';
        if (live) {
                snprintf(buf, len, "%s", v->live_detail);
                return;
        }
        for (int i = 0; i < CHECK_COUNT && used < len; i++) {
                const struct check_result *c = &v->checks[i];
                if (!c->applies || c->ok)
                        continue;
                int n = snprintf(buf + used, len - used, "%s%s: %s", used ? "; " : "",
                                 check_name((enum check_id) i), c->detail);
                if (n < 0)
                        break;
                used += (size_t) n;
        }
}

/* A change of ready or live is logged once, with the reasons, not at every check. */
static void log_transitions(struct agent *a, const struct verdict *v) {
        char why[1024];
        if (!a->have_verdict_logged || v->ready != a->logged_ready) {
                failing_reasons(v, false, why, sizeof why);
                if (v->ready)
                        log_event(LOG_LEVEL_INFO, "ready", "node %d is ready", a->node_id);
                else
                        log_event(LOG_LEVEL_WARN, "not_ready", "node %d is not ready: %s", a->node_id, why);
        }
        if (!a->have_verdict_logged || v->live != a->logged_live) {
                if (v->live)
                        log_event(LOG_LEVEL_INFO, "live", "node %d is live", a->node_id);
                else
                        log_event(LOG_LEVEL_WARN, "not_live", "node %d is not live: %s", a->node_id, v->live_detail);
        }
        a->have_verdict_logged = true;
        a->logged_ready = v->ready;
        a->logged_live = v->live;
}

/* Once no /prestop is pending, checks go back to asking the local broker only. */
static void prestop_wait_ended(struct agent *a) {
        uv_timer_stop(&a->prestop_timer);
        if (a->checker)
                checker_set_gate(a->checker, false);
        a->gate_valid = false;
}

static void prestop_answer(struct prestop_wait *w, const char *body) {
        struct agent *a = w->agent;
        for (struct prestop_wait **p = &a->waiters; *p; p = &(*p)->next)
                if (*p == w) {
                        *p = w->next;
                        break;
                }
        httpd_respond(w->req, 200, "text/plain; charset=utf-8", body, strlen(body));
        free(w);
        if (!a->waiters)
                prestop_wait_ended(a);
}

/* A controller's gate: release on a gate check (every voter asked directly) that started after
 * the request and found a caught-up, answering majority without this node (quorum.h,
 * quorum_stop_evaluate_asked); hold otherwise, also when the quorum is unknown. A
 * silent controller is not released early: the leader's view already counts it as lagging,
 * so the rule is the same whether it answers or not. */
static void prestop_evaluate_controller(struct agent *a, uint64_t now) {
        struct prestop_wait *w = a->waiters;
        while (w) {
                struct prestop_wait *next = w->next;
                bool decided = a->health.have_last && a->last_ctl_gated && a->last_started_ms >= w->requested_ms;
                const char *reason = decided ? a->qstop.reason : "no check has completed since the request";
                const struct scaledown_verdict *sd = agent_scale_down(a);
                if (sd && sd->hold) {
                        decided = false;
                        reason = sd->reason;
                }
                char body[700];
                if (decided && a->qstop.safe) {
                        snprintf(body, sizeof body, "safe to stop: %.640s\n", reason);
                        log_event(LOG_LEVEL_INFO, "prestop_done", "safe to stop: %s", reason);
                        prestop_answer(w, body);
                } else if (now >= w->deadline_ms) {
                        if (!sd || !sd->hold)
                                reason = a->health.have_last ? a->qstop.reason : "no check has completed";
                        snprintf(body, sizeof body, "gave up waiting after the prestop timeout: %.640s\n", reason);
                        log_event(LOG_LEVEL_WARN, "prestop_timeout", "stopping controller %d although "
                                  "the quorum may lose its caught-up majority: %s", a->node_id, reason);
                        prestop_answer(w, body);
                }
                w = next;
        }
}

/* What stopping the broker now would mean, from the newest check. */
enum prestop_verdict {
        PRESTOP_UNSAFE,        /* why: what blocks (or that the broker never answered) */
        PRESTOP_SAFE,          /* why: the answer's body */
};

/* Decides only on a gate check (canroll.h) that ended after the wait began: the local view
 * and another broker's agree, and the in-sync peers the decision rests on answered. Silence
 * of the local broker is never enough by itself (wrong TLS or SASL settings, DNS, a busy
 * agent): only another broker showing it fenced or in no ISR releases it then. */
static enum prestop_verdict prestop_decide(struct agent *a, uint64_t now, char *why, size_t len) {
        (void) now;
        const struct canroll_result *cr = &a->canroll;
        /* A pod being scaled away waits until it hosts nothing (scaledown.h), whatever canRoll
         * says: min.insync.replicas kept now is under-replication for good once it is gone. */
        const struct scaledown_verdict *sd = agent_scale_down(a);
        if (sd && sd->hold) {
                snprintf(why, len, "%s", sd->reason);
                return PRESTOP_UNSAFE;
        }
        if (a->gate_valid && a->gate.safe) {
                bool removing = sd && sd->state == SCALEDOWN_REMOVING;
                snprintf(why, len, "safe to stop: %.1199s%s%.380s\n", a->gate.reason, removing ? "; " : "",
                         removing ? sd->reason : "");
                return PRESTOP_SAFE;
        }
        /* An unknown min.insync.replicas holds the stop: say why it is unknown. */
        bool note = a->answered && cr->unknown > 0 && a->min_isr_note[0];
        snprintf(why, len, "%s%s%s", a->gate_valid ? a->gate.reason
                 : "no check with other brokers has completed since the request",
                 note ? "; " : "", note ? a->min_isr_note : "");
        return PRESTOP_UNSAFE;
}

/* Decides every held /prestop from the newest check: all of them at once when stopping is
 * safe, else those whose deadline passed (with the reason). Logged once per decision, not
 * once per request. */
static void prestop_evaluate(struct agent *a, uint64_t now) {
        char why[1600], body[1700];
        unsigned expired = 0;
        if (a->cfg->controller) {
                prestop_evaluate_controller(a, now);
                return;
        }
        if (prestop_decide(a, now, why, sizeof why) == PRESTOP_SAFE) {
                log_event(LOG_LEVEL_INFO, "prestop_done", "%s", why);
                while (a->waiters)
                        prestop_answer(a->waiters, why);
                return;
        }
        snprintf(body, sizeof body, "gave up waiting after the prestop timeout: %s\n", why);
        for (struct prestop_wait *w = a->waiters, *next; w; w = next) {
                next = w->next;
                if (now >= w->deadline_ms) {
                        prestop_answer(w, body);
                        expired++;
                }
        }
        if (expired)
                log_event(LOG_LEVEL_WARN, "prestop_timeout",
                          "stopping before it is known to be safe: %s", why);
}

/* Folds one check result into the agent's state (verdict history, what /status shows, the
 * canRoll answer) and frees its snapshot: the same for the sidecar and the one-shot check. */
/* Keeps the feature levels just read, with a line when what is pending changes (at most once
 * per --features-interval, so never a line per check). */
static void agent_apply_features(struct agent *a, const struct features_view *f) {
        char was[512], now[512];
        features_command(&a->features, a->bootstrap, was, sizeof was);
        features_command(f, a->bootstrap, now, sizeof now);
        bool was_known = a->features.known;
        bool same_reason = strcmp(a->features.unknown_reason, f->unknown_reason) == 0;
        a->features = *f;
        if (!f->known) {
                if (was_known || !same_reason)
                        log_event(LOG_LEVEL_WARN, "features_unknown", "%s", f->unknown_reason);
                return;
        }
        if (was_known && strcmp(was, now) == 0)
                return;
        if (now[0])
                log_event(LOG_LEVEL_INFO, "features_lag",
                          "the cluster's finalized feature levels lag this broker's software; "
                          "once every broker runs it: %s", now);
        else if (was_known)
                log_event(LOG_LEVEL_INFO, "features_finalized",
                          "the finalized feature levels match this broker's software");
}

/* Keeps the last answered check's duration for pace(). */
static void note_paced(struct agent *a) {
        a->paced_ms[a->n_paced % PACE_CHECKS] = a->last_duration_ms;
        a->n_paced++;
}

/* The shortest of the last PACE_CHECKS answered checks: what a check of this cluster costs.
 * One slow answer (a broker just started, a JIT still cold, a loaded node) then does not
 * space the next checks by twice its own length; a big cluster's checks are all long. */
static uint64_t paced_duration(const struct agent *a) {
        unsigned n = a->n_paced < PACE_CHECKS ? a->n_paced : PACE_CHECKS;
        uint64_t d = n ? a->paced_ms[0] : 0;
        for (unsigned i = 1; i < n; i++)
                if (a->paced_ms[i] < d)
                        d = a->paced_ms[i];
        return d;
}

static void agent_apply(struct agent *a, struct kafka_result *r) {
        struct check_outcome o = { .snap = r->rc == 0 ? r->snap : NULL, .error = r->error };
        struct assessment as;
        verdict_assess(&o, a->node_id, a->cfg->scope, &as);
        health_record_check(&a->health, &as, r->started_ms, r->finished_ms);

        a->last_check_unix_ms = unix_ms();
        a->last_duration_ms = r->finished_ms - r->started_ms;
        snprintf(a->last_error, sizeof a->last_error, "%s", r->rc == 0 ? "" : r->error);
        a->answered = r->rc == 0;
        if (a->answered)
                note_paced(a);
        a->answered_by = a->answered ? r->snap->answered_by : -1;
        if (a->answered) {
                canroll_evaluate(r->snap, a->node_id, &a->canroll);
                elector_observe(a->elector, r->snap);
                if (as.good)
                        a->last_success_unix_ms = a->last_check_unix_ms;
        }
        if (r->gated && a->waiters && r->started_ms >= a->gate_since_ms) {
                canroll_gate_evaluate(a->answered ? r->snap : NULL, r->error, &r->peers, a->node_id, &a->gate);
                a->gate_valid = true;
        }
        kafka_result_release(r);
        if (r->features_fetched)
                agent_apply_features(a, &r->features);
        /* The gate holds while min.insync.replicas is unknown, so a change of why is worth a
         * line (not every check: the values are fetched every few minutes). */
        if (a->answered && strcmp(r->note, a->min_isr_note) != 0) {
                if (r->note[0])
                        log_event(LOG_LEVEL_WARN, "min_isr_unknown", "/prestop holds while %s", r->note);
                else
                        log_event(LOG_LEVEL_INFO, "min_isr_known", "min.insync.replicas read again");
                snprintf(a->min_isr_note, sizeof a->min_isr_note, "%s", r->note);
        }
}

/* The same for a controller-only node's check: the quorum decides readiness and the gate. */
static void agent_apply_controller(struct agent *a, const struct ctlcheck_result *r) {
        struct quorum_observation o = { .local_answered = r->rc == 0, .local_error = r->error,
                                        .leader = r->have_leader ? &r->leader : NULL,
                                        .leader_error = r->leader_error };
        struct assessment as;
        quorum_assess(&o, a->node_id, &a->qpolicy, &as, &a->quorum);
        /* A pending /prestop decides on the stricter rule with every voter asked directly. */
        if (r->gated)
                quorum_stop_evaluate_asked(&a->quorum, a->node_id, &r->asked, &a->qstop);
        else
                quorum_stop_evaluate(&a->quorum, a->node_id, &a->qstop);
        a->last_ctl_gated = r->gated;
        health_record_check(&a->health, &as, r->started_ms, r->finished_ms);

        a->last_check_unix_ms = unix_ms();
        a->last_started_ms = r->started_ms;
        a->last_duration_ms = r->finished_ms - r->started_ms;
        snprintf(a->last_error, sizeof a->last_error, "%.*s", (int) sizeof a->last_error - 1, r->rc != 0 ? r->error : r->have_leader ? "" : r->leader_error);
        a->answered = r->rc == 0;
        if (a->answered)
                note_paced(a);
        a->answered_by = -1;
        a->ctl_rtt_ms = (int64_t) r->local_rtt_ms;
        if (as.good)
                a->last_success_unix_ms = a->last_check_unix_ms;
}

static void after_check(struct agent *a);

static void on_check(struct kafka_result *r, void *data) {
        struct agent *a = data;
        agent_apply(a, r);
        after_check(a);
}

static void on_ctl_check(struct ctlcheck_result *r, void *data) {
        struct agent *a = data;
        agent_apply_controller(a, r);
        after_check(a);
}

/* The check cadence. A ready broker with no stop pending is checked every --interval, so a
 * healthy broker carries no more load than before. Otherwise the verdict is about to change
 * and someone waits on it (the kubelet's readinessProbe after a restart, a held /prestop), so
 * the agent checks every --fast-interval: the ISR completing shows on /readyz within a fast
 * period or two instead of up to two intervals. After a check the broker answered, never
 * closer than twice the shortest of the last answered checks, so that a big cluster's
 * Metadata keeps the agent and its broker busy at most half of the time even then. A check that got no answer cost the broker
 * nothing (a refused connection) and lasted as long as it waited: the next one follows. */
static void pace(struct agent *a, bool ready) {
        if (!a->checker)
                return;
        uint64_t period = a->cfg->interval_ms;
        if (!ready || a->waiters) {
                period = a->cfg->fast_interval_ms;
                if (a->answered && 2 * paced_duration(a) > period)
                        period = 2 * paced_duration(a);
                if (period > a->cfg->interval_ms)
                        period = a->cfg->interval_ms;
        }
        checker_set_interval(a->checker, period);
}

/* A broker's good check short of --ready-after is confirmed by the next check at once, not
 * a fast period later: the period (at least twice a check's duration) was most of the time
 * from the ISR completing to /readyz 200 on a loaded machine, and someone waits on exactly
 * this answer. The same checks, sooner (at most one more per return to ready); a ready
 * broker's load is unchanged.
 * Not for a controller: there the checks' spacing is what keeps a caught-up timestamp from
 * before a restart from counting twice. */
static bool confirm_now(const struct agent *a, bool ready) {
        return !ready && !a->cfg->controller && a->health.consecutive_good > 0 &&
               a->health.consecutive_good < a->policy.ready_after;
}

static void after_check(struct agent *a) {
        struct verdict v;
        agent_verdict(a, monotime_ms(), &v);
        log_transitions(a, &v);
        pace(a, v.ready);
        if (a->checker && confirm_now(a, v.ready))
                checker_trigger_now(a->checker, false);
        if (a->waiters)
                prestop_evaluate(a, monotime_ms());
        elector_kick(a->elector, a->waiters != NULL, monotime_ms());
}

/* A verdict can also change without a check result: it goes stale when checks stop
 * completing. Looking again every interval logs that transition too. */
static void on_verdict_tick(uv_timer_t *t) {
        struct agent *a = t->data;
        struct verdict v;
        agent_verdict(a, monotime_ms(), &v);
        log_transitions(a, &v);
        pace(a, v.ready);
        elector_kick(a->elector, a->waiters != NULL, monotime_ms());
}

/* /livez?process-age-ms=N: the kafka container's own probe (k8s/base/config/kpa-probe.sh)
 * says how long ago its broker process started, so that a new process counts as starting
 * until it has answered, whatever the process before it answered. */
#define PROCESS_AGE_ARG "process-age-ms"

/* A CA step waits on this node's broker restarting (raftstart.h, carot.h): the kafka
 * container's liveness probe fails, and the kubelet restarts it through the preStop hook, which
 * holds the stop until it is safe, as in a rolling update. Logged once per process. */
static void answer_restart(struct httpd_request *req, struct agent *a, int64_t start, const char *why) {
        /* Each probe reads the process's start anew, a few ms apart: the same process. */
        if (!raftstart_same_process(a->restart_logged_start, start)) {
                a->restart_logged_start = start;
                log_event(LOG_LEVEL_INFO, "tls_raft_restart_requested", "asking the kubelet to restart the broker "
                          "(liveness fails until it did): %s", why);
        }
        char body[CAROT_BLOCKED_MAX + 2];
        snprintf(body, sizeof body, "%s\n", why);
        httpd_respond(req, 503, "text/plain; charset=utf-8", body, strlen(body));
}

static void answer_probe(struct httpd_request *req, struct agent *a, enum probe_kind kind) {
        struct verdict v;
        struct dynbuf b;
        uint64_t now = monotime_ms(), age = 0;
        const char *arg = kind == PROBE_LIVEZ ? httpd_request_arg(req, PROCESS_AGE_ARG) : NULL;
        if (arg && parse_u64(arg, 0, UINT64_C(1) << 50, &age) < 0) {
                static const char bad[] = PROCESS_AGE_ARG " must be a whole number of milliseconds\n";
                httpd_respond(req, 400, "text/plain; charset=utf-8", bad, sizeof bad - 1);
                return;
        }
        agent_verdict(a, now, &v);
        if (arg) {
                health_live_for_process(&a->health, &a->policy, now, age, &v);
                int64_t start = unix_ms() - (int64_t) age;
                tlsrot_probe(a->tls, start, v.ready);
                char why[CAROT_BLOCKED_MAX];
                if (v.ready && tlsrot_restart_wanted(a->tls, start, why, sizeof why)) {
                        answer_restart(req, a, start, why);
                        return;
                }
        }
        dynbuf_init(&b, RENDER_MAX_BYTES);
        int status = render_probe(&v, kind, httpd_request_has_arg(req, "verbose"), &b);
        if (status < 0)
                httpd_respond(req, 500, "text/plain; charset=utf-8", "answer too large\n", 17);
        else
                httpd_respond(req, (unsigned) status, "text/plain; charset=utf-8", b.data, b.len);
        dynbuf_free(&b);
}

static void on_livez(struct httpd_request *req, void *data) { answer_probe(req, data, PROBE_LIVEZ); }
static void on_readyz(struct httpd_request *req, void *data) { answer_probe(req, data, PROBE_READYZ); }

static void answer_view(struct httpd_request *req, struct agent *a,
                        int (*render)(const struct agent_status *, struct dynbuf *), const char *type) {
        struct verdict v;
        struct agent_status st;
        struct dynbuf b;
        agent_verdict(a, monotime_ms(), &v);
        agent_status_view(a, &v, &st);
        dynbuf_init(&b, RENDER_MAX_BYTES);
        if (render(&st, &b) < 0)
                httpd_respond(req, 500, "text/plain; charset=utf-8", "answer too large\n", 17);
        else
                httpd_respond(req, 200, type, b.data, b.len);
        dynbuf_free(&b);
}

static void on_status(struct httpd_request *req, void *data) {
        answer_view(req, data, render_status_json, "application/json");
}

static void on_metrics(struct httpd_request *req, void *data) {
        answer_view(req, data, render_metrics, "text/plain; version=0.0.4; charset=utf-8");
}

static unsigned prestop_held(const struct agent *a) {
        unsigned n = 0;
        for (const struct prestop_wait *w = a->waiters; w; w = w->next)
                n++;
        return n;
}

static void on_prestop_cancel(struct httpd_request *req, enum httpd_cancel_reason why, void *arg) {
        struct prestop_wait *w = arg;
        struct agent *a = w->agent;
        (void) req;
        for (struct prestop_wait **p = &a->waiters; *p; p = &(*p)->next)
                if (*p == w) {
                        *p = w->next;
                        break;
                }
        free(w);
        if (!a->waiters)
                prestop_wait_ended(a);
        if (why == HTTPD_CANCEL_GONE)
                log_event(LOG_LEVEL_DEBUG, "prestop_abandoned", "a client hung up while its /prestop was held");
        else if (why == HTTPD_CANCEL_EVICTED)
                log_event(LOG_LEVEL_DEBUG, "prestop_evicted",
                          "a held /prestop made room for one from a client holding fewer");
}

/* While a /prestop is held, spec.replicas is read again every few seconds: the scale-down
 * may come, or be undone, during the wait. */
#define PRESTOP_STS_REFRESH_MS 3000

static void on_prestop_tick(uv_timer_t *t) {
        struct agent *a = t->data;
        uint64_t now = monotime_ms();
        if (a->waiters)
                stsread_refresh(a->sts, now > a->sd_since_ms + PRESTOP_STS_REFRESH_MS ? now - PRESTOP_STS_REFRESH_MS
                                                                                       : a->sd_since_ms);
        prestop_evaluate(a, now);
        if (a->waiters)
                checker_trigger_now(a->checker, false);
}

/* A /prestop the HTTP edge cannot hold (every place is taken) is answered at once with what
 * the newest check says: 200 if stopping is safe, else 503 with what blocks. */
static void prestop_answer_now(struct agent *a, struct httpd_request *req) {
        char why[1600], body[1800];
        if (prestop_decide(a, monotime_ms(), why, sizeof why) == PRESTOP_SAFE) {
                httpd_respond(req, 200, "text/plain; charset=utf-8", why, strlen(why));
                return;
        }
        snprintf(body, sizeof body, "not waiting: %u /prestop requests are held already; not safe to stop now: %s\n",
                 prestop_held(a), why);
        httpd_respond(req, 503, "text/plain; charset=utf-8", body, strlen(body));
        log_event(LOG_LEVEL_DEBUG, "prestop_refused", "answered a /prestop at once: %u are held already",
                  prestop_held(a));
}

static void on_prestop(struct httpd_request *req, void *data) {
        struct agent *a = data;
        struct prestop_wait *w = calloc(1, sizeof *w);
        if (!w) {
                httpd_respond(req, 503, "text/plain; charset=utf-8", "out of memory: not waiting\n", 27);
                return;
        }
        if (httpd_request_hold(req, on_prestop_cancel, w) < 0) {
                free(w);
                prestop_answer_now(a, req);
                return;
        }
        uint64_t now = monotime_ms();
        /* The first request starts the gate checks; a verdict from an earlier wait is void. */
        if (!a->waiters) {
                a->gate_valid = false;
                a->gate_since_ms = now;
                checker_set_gate(a->checker, true);
                a->sd_since_ms = now;
                stsread_refresh(a->sts, now);
        }
        *w = (struct prestop_wait){ a, req, now + a->cfg->prestop_timeout_ms, a->waiters, now };
        a->waiters = w;
        /* Every held request waits on the same checks: the wait begins once, the others join. */
        if (w->next)
                log_event(LOG_LEVEL_DEBUG, "prestop", "another /prestop joins the wait (%u held)", prestop_held(a));
        else if (a->cfg->controller)
                log_event(LOG_LEVEL_INFO, "prestop", "waiting until stopping controller %d leaves a caught-up majority of the quorum's voters (at most %llums)",
                          a->node_id, (unsigned long long) a->cfg->prestop_timeout_ms);
        else
                log_event(LOG_LEVEL_INFO, "prestop", "waiting until stopping node %d leaves every partition at or above min.insync.replicas (at most %llums)",
                          a->node_id, (unsigned long long) a->cfg->prestop_timeout_ms);
        /* Decide on fresh metadata, with min.insync.replicas refreshed. */
        checker_trigger_now(a->checker, true);
        pace(a, false);
        if (!uv_is_active((uv_handle_t *) &a->prestop_timer))
                uv_timer_start(&a->prestop_timer, on_prestop_tick, PRESTOP_RECHECK_MS, PRESTOP_RECHECK_MS);
}

static void on_sts_read(void *data) {
        struct agent *a = data;
        if (a->waiters)
                prestop_evaluate(a, monotime_ms());
}

static const struct httpd_route routes[] = {
        { "/livez", on_livez },
        { "/readyz", on_readyz },
        { "/status", on_status },
        { "/metrics", on_metrics },
        { "/prestop", on_prestop },
};

static void reload_conf(struct agent *a, const char *why) {
        struct kafka_conf *conf = NULL;
        char err[KAFKA_ERR_MAX];
        struct kconn_security sec;
        if (kafka_conf_load(a->cfg->client_config, a->bootstrap, &conf, err, sizeof err) < 0 ||
            (a->cfg->controller && ctlcheck_security(conf, &sec, err, sizeof err) < 0)) {
                kafka_conf_free(conf);
                log_event(LOG_LEVEL_ERROR, "reload_failed", "keeping the previous Kafka client configuration: %s", err);
                return;
        }
        if (a->disk)
                disk_watch_set_conf(a->disk, kafka_conf_ref(conf));
        if (a->elector)
                elector_set_conf(a->elector, kafka_conf_ref(conf));
        if (a->tls)
                tlsrot_set_conf(a->tls, kafka_conf_ref(conf));
        checker_set_conf(a->checker, conf);
        checker_trigger_now(a->checker, true);
        log_event(LOG_LEVEL_INFO, "reloaded", "rebuilt the Kafka client (%s)", why);
}

static void on_conf_change(uv_fs_poll_t *h, int status, const uv_stat_t *prev, const uv_stat_t *cur) {
        (void) prev;
        (void) cur;
        if (status == 0)
                reload_conf(h->data, "client configuration changed");
}

static void on_closed(uv_handle_t *h) {
        struct agent *a = h->data;
        a->pending_closes--;
}

static void close_handle(struct agent *a, uv_handle_t *h) {
        if (uv_is_closing(h))
                return;
        a->pending_closes++;
        uv_close(h, on_closed);
}

static void on_checker_closed(int status, void *data) {
        struct agent *a = data;
        a->checker = NULL;
        if (status == -ETIMEDOUT) {
                /* A librdkafka thread may still run: leave the loop without waiting for it. */
                log_event(LOG_LEVEL_WARN, "stop_timeout", "a check was still running at shutdown; exiting anyway");
                uv_stop(a->loop);
        }
}

static void on_httpd_closed(void *data) {
        struct agent *a = data;
        a->httpd = NULL;
}

static void agent_stop(struct agent *a, const char *why) {
        if (a->stopping)
                return;
        a->stopping = true;
        log_event(LOG_LEVEL_INFO, "stopping", "%s: finishing answers and stopping", why);
        close_handle(a, (uv_handle_t *) &a->sig_term);
        close_handle(a, (uv_handle_t *) &a->sig_int);
        close_handle(a, (uv_handle_t *) &a->sig_hup);
        close_handle(a, (uv_handle_t *) &a->prestop_timer);
        close_handle(a, (uv_handle_t *) &a->verdict_timer);
        if (a->conf_poll_on)
                close_handle(a, (uv_handle_t *) &a->conf_poll);
        disk_watch_stop(a->disk);
        a->disk = NULL;
        elector_stop(a->elector);
        a->elector = NULL;
        stsread_stop(a->sts);
        a->sts = NULL;
        tlsrot_stop(a->tls);
        a->tls = NULL;
        httpd_stop(a->httpd, HTTP_STOP_DEADLINE_MS, on_httpd_closed, a);
        if (a->checker)
                checker_stop(a->checker, on_checker_closed, a);
}

static void on_signal(uv_signal_t *s, int signum) {
        struct agent *a = s->data;
        if (signum == SIGHUP)
                reload_conf(a, "SIGHUP");
        else
                agent_stop(a, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

/* The client configuration: --client-config with --bootstrap (or the demo's) over its
 * bootstrap.servers; records the listener actually used. */
static int agent_conf(struct agent *a, struct kafka_conf **ret, char *err, size_t errlen) {
        int r = kafka_conf_load(a->cfg->client_config, a->bootstrap[0] ? a->bootstrap : NULL, ret, err, errlen);
        if (r == 0)
                snprintf(a->bootstrap, sizeof a->bootstrap, "%s", kafka_conf_bootstrap(*ret));
        return r;
}

/* Where the gate looks for other brokers before the local broker ever named them: the
 * controllers' hosts at the local listener's port, which in combined mode are the brokers. */
static void fallback_peers(struct agent *a, const char *bootstrap) {
        const struct ctlcheck_endpoints *q = a->cfg->quorum_hosts;
        char host[KCONN_HOST_MAX];
        uint16_t port;
        size_t used = 0;
        a->fallback_peers[0] = '\0';
        if (!q || parse_hostport(bootstrap, 0, host, sizeof host, &port) < 0)
                return;
        for (int i = 0; i < q->n && used < sizeof a->fallback_peers; i++) {
                int n = snprintf(a->fallback_peers + used, sizeof a->fallback_peers - used,
                                 strchr(q->v[i].host, ':') ? "%s[%s]:%u" : "%s%s:%u", used ? "," : "",
                                 q->v[i].host, (unsigned) port);
                if (n < 0 || (size_t) n >= sizeof a->fallback_peers - used) {
                        a->fallback_peers[used] = '\0';
                        break;
                }
                used += (size_t) n;
        }
}

/* The Kafka client for the local broker. */
static int agent_client(struct agent *a, struct kafka_client **ret, char *err, size_t errlen) {
        struct kafka_conf *conf;
        int r = agent_conf(a, &conf, err, errlen);
        if (r < 0)
                return r;
        /* The mock cluster has no DescribeConfigs: the demo takes a typical production value
         * so that its /prestop answers as a healthy cluster's would. */
        fallback_peers(a, kafka_conf_bootstrap(conf));
        struct kafka_client_opts ko = { .timeout_ms = a->cfg->check_timeout_ms, .local_id = a->node_id,
                                        .fixed_min_isr = a->demo ? DEMO_MIN_ISR : 0,
                                        .fallback_peers = a->fallback_peers,
                                        .features_interval_ms = a->demo ? 0 : a->cfg->features_interval_ms };
        return kafka_client_new(conf, &ko, ret, err, errlen);
}

/* The quorum check of a controller-only node. */
static int agent_ctlcheck(struct agent *a, struct ctlcheck **ret, char *err, size_t errlen) {
        struct kafka_conf *conf;
        int r = agent_conf(a, &conf, err, errlen);
        if (r < 0)
                return r;
        a->qpolicy = (struct quorum_policy){ .caught_up_max_ms = a->cfg->caught_up_within_ms };
        struct ctlcheck_opts o = { .local_id = a->node_id, .timeout_ms = a->cfg->check_timeout_ms,
                                   .peers = a->cfg->controllers };
        return ctlcheck_new(conf, &o, ret, err, errlen);
}

/* The role's check: a controller-only node's quorum check, else the Metadata check. */
static int agent_check_new(struct agent *a, struct kafka_client **ret_kc, struct ctlcheck **ret_cc,
                           char *err, size_t errlen) {
        *ret_kc = NULL;
        *ret_cc = NULL;
        return a->cfg->controller ? agent_ctlcheck(a, ret_cc, err, errlen) : agent_client(a, ret_kc, err, errlen);
}

/* Takes ownership of kc or cc, whichever agent_check_new made. */
static int start_checker(struct agent *a, struct kafka_client *kc, struct ctlcheck *cc, char *err, size_t errlen) {
        struct checker_opts co = { .interval_ms = a->cfg->interval_ms };
        int r;
        if (cc) {
                if ((r = checker_new_controller(a->loop, cc, &co, on_ctl_check, a, &a->checker, err, errlen)) < 0)
                        return r;
                return checker_start(a->checker);
        }
        if ((r = checker_new(a->loop, kc, &co, on_check, a, &a->checker, err, errlen)) < 0)
                return r;
        return checker_start(a->checker);
}

/* The disk watch over --broker-config's log dirs; a controller-only node's are measured but
 * not described (DescribeLogDirs is a broker's call). */
static int start_disk_watch(struct agent *a, char *err, size_t errlen) {
        const struct agent_config *cfg = a->cfg;
        if (cfg->n_log_dirs == 0)
                return 0;
        struct disk_watch_opts o = { .n_dirs = cfg->n_log_dirs, .warn_free_percent = cfg->disk_warn_free_percent,
                                     .interval_ms = cfg->interval_ms, .kafka_interval_ms = cfg->log_dirs_interval_ms,
                                     .timeout_ms = cfg->check_timeout_ms };
        memcpy(o.dirs, cfg->log_dirs, sizeof o.dirs[0] * (size_t) cfg->n_log_dirs);
        struct kafka_conf *conf = NULL;
        int r;
        if (!cfg->controller && cfg->log_dirs_interval_ms > 0 &&
            (r = kafka_conf_load(cfg->client_config, a->bootstrap, &conf, err, errlen)) < 0)
                return r;
        if ((r = disk_watch_new(a->loop, &o, conf, &a->disk, err, errlen)) < 0)
                return r;
        return disk_watch_start(a->disk);
}

/* After an election, a check at once: /status and the leadership check see the new leaders. */
static void on_elected(void *data) {
        struct agent *a = data;
        if (a->checker)
                checker_trigger_now(a->checker, false);
}

/* The preferred leader elections of a broker (a controller-only node leads no partition). */
static int start_elector(struct agent *a, char *err, size_t errlen) {
        const struct agent_config *cfg = a->cfg;
        if (cfg->controller || a->demo)
                return 0;
        struct elector_opts o = { .local_id = a->node_id, .enabled = cfg->restore_leadership,
                                  .ready_wait_ms = cfg->ready_leadership_wait_ms,
                                  .timeout_ms = cfg->check_timeout_ms };
        struct kafka_conf *conf = NULL;
        int r;
        if (cfg->restore_leadership && (r = kafka_conf_load(cfg->client_config, a->bootstrap, &conf, err, errlen)) < 0)
                return r;
        if ((r = elector_new(a->loop, &o, conf, on_elected, a, &a->elector)) < 0)
                snprintf(err, errlen, "out of memory");
        return r;
}

/* Certificate rotation for a broker whose Secret volume is given (tlsrot.h). A controller-only
 * node's listener cannot reload its store dynamically: it takes a new certificate at its next
 * restart (docs/tls-rotation.md). */
static int start_tls_rotation(struct agent *a, char *err, size_t errlen) {
        const struct agent_config *cfg = a->cfg;
        if ((!cfg->tls_dir && !cfg->tls_ca_dir) || cfg->controller || a->demo)
                return 0;
        if (!cfg->broker_config) {
                snprintf(err, errlen, "%s needs --broker-config (kpa-init's server.properties)",
                         cfg->tls_dir ? "KPA_TLS_DIR" : "KPA_TLS_CA_DIR");
                return -EINVAL;
        }
        struct tlsrot_opts o = { .tls_dir = cfg->tls_dir, .ca_dir = cfg->tls_ca_dir,
                                 .key_type = cfg->tls_key_type, .validity_days = cfg->tls_validity_days,
                                 .broker_config = cfg->broker_config,
                                 .node_id = a->node_id, .expiry_warn_days = cfg->tls_expiry_warn_days,
                                 .recheck_ms = cfg->tls_recheck_ms, .timeout_ms = cfg->check_timeout_ms };
        /* Peers' agents listen at the same port (a CA rotation reads their /status). */
        char lhost[KCONN_HOST_MAX];
        if (parse_hostport(cfg->listen, PARSE_HOSTPORT_EMPTY_HOST, lhost, sizeof lhost, &o.agent_port) < 0)
                o.agent_port = 0;
        struct kafka_conf *conf = NULL;
        int r;
        if ((r = kafka_conf_load(cfg->client_config, a->bootstrap, &conf, err, errlen)) < 0 ||
            (r = tlsrot_new(a->loop, &o, conf, &a->tls, err, errlen)) < 0)
                return r;
        return tlsrot_start(a->tls, err, errlen);
}

/* The one line for bad input, naming the flag when the message is about its file. */
static void bad_input_line(const struct agent_config *cfg, const char *err) {
        const char *cc = cfg->client_config;
        bool about_file = cc && strncmp(err, cc, strlen(cc)) == 0 && err[strlen(cc)] == ':';
        fprintf(stderr, "kpa-agent: %s%s\n", about_file ? "--client-config " : "", err);
}

/* Fills node id and bootstrap from the configuration, or from the demo cluster. */
static int agent_target(struct agent *a, char *err, size_t errlen) {
        a->node_id = a->cfg->node_id;
        if (a->cfg->bootstrap)
                snprintf(a->bootstrap, sizeof a->bootstrap, "%s", a->cfg->bootstrap);
        if (!a->cfg->demo || a->cfg->bootstrap)
                return 0;
        struct demo_opts o = { .local_id = a->cfg->node_id >= 0 ? a->cfg->node_id : 0 };
        int r = demo_start(&o, &a->demo, err, errlen);
        if (r < 0)
                return r;
        a->node_id = demo_local_id(a->demo);
        snprintf(a->bootstrap, sizeof a->bootstrap, "%s", demo_bootstrap(a->demo));
        log_event(LOG_LEVEL_INFO, "demo", "embedded mock cluster at %s; watching node %d at %s",
                  demo_bootstraps(a->demo), a->node_id, a->bootstrap);
        return 0;
}

int daemon_run(const struct agent_config *cfg) {
        struct agent a = { .cfg = cfg, .answered_by = -1 };
        features_unknown(&a.features, "not asked yet");
        char err[1024];
        uv_loop_t loop;
        int r, code = 1;

        if (uv_loop_init(&loop) < 0)
                return 1;
        a.loop = &loop;
        a.policy = (struct health_policy){ .subject = cfg->controller ? "controller" : "broker",
                                           .ready_after = cfg->ready_after,
                                           .stale_after_ms = cfg->stale_after_ms,
                                           .liveness_window_ms = cfg->liveness_window_ms };
        health_init(&a.health, monotime_ms());

        if ((r = agent_target(&a, err, sizeof err)) < 0) {
                log_event(LOG_LEVEL_ERROR, "start_failed", "%s", err);
                goto out;
        }
        /* A client config that cannot be read or is malformed is bad input, like a bad flag:
         * one plain line and exit 2, before anything is bound or logged. */
        struct kafka_client *kc = NULL;
        struct ctlcheck *cc = NULL;
        if ((r = agent_check_new(&a, &kc, &cc, err, sizeof err)) < 0) {
                bad_input_line(cfg, err);
                a.demo = demo_stop(a.demo);
                uv_loop_close(&loop);
                return r == -ENOMEM ? 1 : 2;
        }
        struct httpd_config hc = { .listen = cfg->listen };
        if ((r = httpd_start(&loop, &hc, routes, sizeof routes / sizeof routes[0], &a, &a.httpd, err, sizeof err)) < 0) {
                log_event(LOG_LEVEL_ERROR, "start_failed", "--listen %s: %s", cfg->listen, err);
                kafka_client_free(kc);
                ctlcheck_free(cc);
                goto out;
        }
        if ((r = start_checker(&a, kc, cc, err, sizeof err)) < 0) {
                log_event(LOG_LEVEL_ERROR, "start_failed", "%s", err);
                httpd_stop(a.httpd, 0, NULL, NULL);
                if (a.checker)
                        checker_stop(a.checker, NULL, NULL);
                uv_run(&loop, UV_RUN_DEFAULT);
                goto out;
        }
        if ((r = start_disk_watch(&a, err, sizeof err)) < 0)
                log_event(LOG_LEVEL_ERROR, "disk_watch_failed", "not watching the log dirs: %s", err);
        if ((r = start_elector(&a, err, sizeof err)) < 0)
                log_event(LOG_LEVEL_ERROR, "leadership_off", "not restoring leadership: %s", err);
        if (cfg->scale_down &&
            stsread_new(&loop, cfg->scale_down, on_sts_read, &a, &a.sts, err, sizeof err) < 0)
                log_event(LOG_LEVEL_ERROR, "statefulset_read_failed", "not reading spec.replicas: %s", err);
        if ((r = start_tls_rotation(&a, err, sizeof err)) < 0)
                log_event(LOG_LEVEL_ERROR, "tls_watch_failed", "not rotating certificates: %s", err);
        uv_signal_init(&loop, &a.sig_term);
        uv_signal_init(&loop, &a.sig_int);
        uv_signal_init(&loop, &a.sig_hup);
        a.sig_term.data = a.sig_int.data = a.sig_hup.data = &a;
        uv_signal_start(&a.sig_term, on_signal, SIGTERM);
        uv_signal_start(&a.sig_int, on_signal, SIGINT);
        uv_signal_start(&a.sig_hup, on_signal, SIGHUP);
        uv_timer_init(&loop, &a.prestop_timer);
        a.prestop_timer.data = &a;
        uv_timer_init(&loop, &a.verdict_timer);
        a.verdict_timer.data = &a;
        uv_timer_start(&a.verdict_timer, on_verdict_tick, cfg->interval_ms, cfg->interval_ms);
        if (cfg->client_config) {
                uv_fs_poll_init(&loop, &a.conf_poll);
                a.conf_poll.data = &a;
                a.conf_poll_on = uv_fs_poll_start(&a.conf_poll, on_conf_change, cfg->client_config, CONF_POLL_MS) == 0;
                if (!a.conf_poll_on)
                        close_handle(&a, (uv_handle_t *) &a.conf_poll);
        }
        log_event(LOG_LEVEL_INFO, "started", "kpa-agent %s serving probes on %s (port %u), watching %s %d at %s every %llums "
                  "(every %llums while not ready or a /prestop is held)",
                  KPA_VERSION, cfg->listen, (unsigned) httpd_port(a.httpd),
                  cfg->controller ? "controller" : "node", a.node_id, a.bootstrap,
                  (unsigned long long) cfg->interval_ms, (unsigned long long) cfg->fast_interval_ms);
        uv_run(&loop, UV_RUN_DEFAULT);
        code = 0;
out:
        a.demo = demo_stop(a.demo);
        /* uv_loop_close fails while a handle is still open (only after a stop timeout). */
        uv_loop_close(&loop);
        log_event(LOG_LEVEL_INFO, "stopped", "kpa-agent stopped");
        return code;
}

int daemon_check_once(const struct agent_config *cfg, FILE *out) {
        struct agent a = { .cfg = cfg, .answered_by = -1 };
        char err[1024];
        struct kafka_client *kc = NULL;
        struct ctlcheck *cc = NULL;
        struct ctlcheck_result *cres = NULL;
        int code = 2;

        if (agent_target(&a, err, sizeof err) < 0 || agent_check_new(&a, &kc, &cc, err, sizeof err) < 0) {
                bad_input_line(cfg, err);
                goto out;
        }
        /* One check decides: the consecutive-checks rule cannot apply to a single run. */
        a.policy = (struct health_policy){ .subject = cfg->controller ? "controller" : "broker",
                                           .ready_after = 1, .stale_after_ms = UINT64_MAX / 2,
                                           .liveness_window_ms = cfg->liveness_window_ms };
        health_init(&a.health, monotime_ms());
        uint64_t finished;
        if (cc) {
                if (!(cres = malloc(sizeof *cres))) {
                        fprintf(stderr, "kpa-agent: out of memory\n");
                        goto out;
                }
                ctlcheck_run(cc, cres);
                agent_apply_controller(&a, cres);
                finished = cres->finished_ms;
        } else {
                struct kafka_result res;
                kafka_check(kc, false, &res);
                agent_apply(&a, &res);
                finished = res.finished_ms;
        }
        struct verdict v;
        struct agent_status st;
        struct dynbuf b;
        health_verdict(&a.health, &a.policy, finished, &v);
        agent_status_view(&a, &v, &st);
        dynbuf_init(&b, RENDER_MAX_BYTES);
        if (render_status_json(&st, &b) == 0)
                fprintf(out, "%s\n", dynbuf_str(&b));
        dynbuf_free(&b);
        code = v.ready ? 0 : 1;
out:
        kafka_client_free(kc);
        ctlcheck_free(cc);
        free(cres);
        demo_stop(a.demo);
        return code;
}
