#include "kpa/verdict.h"

#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "kpa/parse.h"

/* Kafka's LEADER_NOT_AVAILABLE: the partition has no leader right now, whatever the leader
 * field says. */
#define KAFKA_ERR_LEADER_NOT_AVAILABLE 5

/* Room kept at the end of a detail for ", ..." when a list does not fit. */
#define ELLIPSIS ", ..."

/* A detail being written into a fixed buffer: list entries are added whole or not at all, so
 * that a long list ends in ", ..." instead of a cut-off name. */
struct text {
        char *buf;
        size_t cap;
        size_t len;
};

static void text_init(struct text *t, char *buf, size_t cap) {
        *t = (struct text){ buf, cap, 0 };
        buf[0] = '\0';
}

/* Appends the formatted text if it fits with `reserve` bytes to spare; false otherwise, and
 * then nothing is appended. */
__attribute__((format(printf, 3, 4)))
static bool text_try(struct text *t, size_t reserve, const char *fmt, ...) {
        char tmp[VERDICT_DETAIL_MAX];
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
        va_end(ap);
        if (n < 0 || (size_t) n >= sizeof tmp || t->len + (size_t) n + reserve >= t->cap)
                return false;
        memcpy(t->buf + t->len, tmp, (size_t) n + 1);
        t->len += (size_t) n;
        return true;
}

/* Appends what fits, cutting the rest: for free text such as an error message. */
static void text_add(struct text *t, const char *s) {
        size_t room = t->cap - t->len - 1;
        size_t n = strlen(s);
        if (n > room)
                n = room;
        memcpy(t->buf + t->len, s, n);
        t->len += n;
        t->buf[t->len] = '\0';
}

/* "[1,2,3]", or "[1,2,...]" when the list does not fit in cap. */
static void ids_format(const int32_t *ids, int n, char *buf, size_t cap) {
        struct text t;
        text_init(&t, buf, cap);
        text_add(&t, "[");
        for (int i = 0; i < n; i++) {
                if (!text_try(&t, sizeof "...]", "%s%" PRId32, i ? "," : "", ids[i])) {
                        text_add(&t, i ? ",...]" : "...]");
                        return;
                }
        }
        text_add(&t, "]");
}

static bool ids_contain(const int32_t *ids, int n, int32_t id) {
        for (int i = 0; i < n; i++)
                if (ids[i] == id)
                        return true;
        return false;
}

static bool partition_offline(const struct snap_partition *p) {
        return p->leader < 0 || p->err == KAFKA_ERR_LEADER_NOT_AVAILABLE;
}

static const char *plural(int n, const char *one, const char *many) {
        return n == 1 ? one : many;
}

/* Durations in details: "250ms", "12s", "12.3s" (tenths cut, not rounded). */
static void age_format(uint64_t ms, char *buf, size_t cap) {
        if (ms < 1000)
                snprintf(buf, cap, "%" PRIu64 "ms", ms);
        else if (ms % 1000 == 0)
                snprintf(buf, cap, "%" PRIu64 "s", ms / 1000);
        else
                snprintf(buf, cap, "%" PRIu64 ".%" PRIu64 "s", ms / 1000, ms % 1000 / 100);
}

static uint64_t elapsed(uint64_t now, uint64_t then) {
        return now >= then ? now - then : 0;
}

void verdict_check_set(struct check_result *c, bool ok, const char *fmt, ...) {
        va_list ap;
        c->ok = ok;
        va_start(ap, fmt);
        vsnprintf(c->detail, sizeof c->detail, fmt, ap);
        va_end(ap);
}

static void assess_registered(const struct snapshot *s, int32_t local_id, struct check_result *c) {
        char ids[128];
        ids_format(s->brokers, s->n_brokers, ids, sizeof ids);
        if (ids_contain(s->brokers, s->n_brokers, local_id))
                verdict_check_set(c, true, "node %" PRId32 " is in the broker list %s", local_id, ids);
        else
                verdict_check_set(c, false, "node %" PRId32 " is not in the broker list %s: not yet "
                          "registered, or fenced by the controller", local_id, ids);
}

static void lag_record(struct assessment *a, const struct snap_topic *t,
                       const struct snap_partition *p) {
        if (a->n_lag >= VERDICT_LAGGING_MAX) {
                a->lag_more++;
                return;
        }
        struct lagging_partition *l = &a->lag[a->n_lag++];
        snprintf(l->topic, sizeof l->topic, "%s", t->name ? t->name : "");
        l->partition = p->id;
        l->leader = p->leader;
        l->n_isr = p->n_isr;
        int keep = p->n_isr < 16 ? p->n_isr : 16;
        if (keep > 0)
                memcpy(l->isr, p->isr, (size_t) keep * sizeof *l->isr);
}

static void caught_up_detail(struct assessment *a, const char *offline_names) {
        struct check_result *c = &a->checks[CHECK_CAUGHT_UP];
        struct text t;
        text_init(&t, c->detail, sizeof c->detail);
        if (a->lagging > 0) {
                c->ok = false;
                text_try(&t, 0, "%d %s lagging: ", a->lagging,
                         plural(a->lagging, "partition", "partitions"));
                for (int i = 0; i < a->n_lag; i++) {
                        const struct lagging_partition *l = &a->lag[i];
                        int shown = l->n_isr < 16 ? l->n_isr : 16;
                        char isr[80];
                        ids_format(l->isr, shown, isr, sizeof isr);
                        if (!text_try(&t, sizeof ELLIPSIS, "%s%s-%" PRId32 " (leader %" PRId32
                                      ", isr %s)", i ? ", " : "", l->topic, l->partition,
                                      l->leader, isr)) {
                                text_add(&t, i ? ELLIPSIS : "...");
                                return;
                        }
                }
                if (a->lag_more > 0)
                        text_add(&t, ELLIPSIS);
                return;
        }
        c->ok = true;
        if (a->hosted == 0) {
                text_add(&t, "hosts no partitions");
                return;
        }
        text_try(&t, 0, "in ISR for %d of %d hosted %s", a->in_sync, a->hosted,
                 plural(a->hosted, "partition", "partitions"));
        if (a->offline > 0) {
                text_try(&t, 0, "; %d offline (no leader), not blocking: ", a->offline);
                text_add(&t, offline_names);
        }
}

/* Appends "orders-1" to a list of names, or ", ..." once the list is full. */
static void name_list_add(struct text *t, bool *full, const char *topic, int32_t partition) {
        if (*full)
                return;
        if (!text_try(t, sizeof ELLIPSIS, "%s%s-%" PRId32, t->len ? ", " : "", topic ? topic : "",
                      partition)) {
                text_add(t, t->len ? ELLIPSIS : "...");
                *full = true;
        }
}

static void assess_hosted(const struct snapshot *s, int32_t local_id, struct assessment *a) {
        char offline_buf[VERDICT_DETAIL_MAX / 2];
        struct text offline_names;
        bool offline_full = false;
        text_init(&offline_names, offline_buf, sizeof offline_buf);
        for (int i = 0; i < s->n_topics; i++) {
                const struct snap_topic *t = &s->topics[i];
                for (int j = 0; j < t->n_partitions; j++) {
                        const struct snap_partition *p = &t->partitions[j];
                        if (!ids_contain(p->replicas, p->n_replicas, local_id))
                                continue;
                        a->hosted++;
                        if (partition_offline(p)) {
                                a->offline++;
                                name_list_add(&offline_names, &offline_full, t->name, p->id);
                        } else if (ids_contain(p->isr, p->n_isr, local_id)) {
                                a->in_sync++;
                        } else {
                                a->lagging++;
                                lag_record(a, t, p);
                        }
                }
        }
        caught_up_detail(a, offline_buf);
}

/* Offline partitions are left out of the under-replicated count, as in caught_up: during a
 * whole-cluster restart they stay leaderless until their brokers return, and those brokers may
 * be waiting for this one. They are named in the detail instead. */
static void assess_cluster(const struct snapshot *s, struct assessment *a) {
        struct check_result *c = &a->checks[CHECK_CLUSTER_URP];
        char urp_buf[VERDICT_DETAIL_MAX];
        struct text urp;
        bool urp_full = false;
        int offline = 0;
        text_init(&urp, urp_buf, sizeof urp_buf - 64);
        for (int i = 0; i < s->n_topics; i++) {
                const struct snap_topic *t = &s->topics[i];
                for (int j = 0; j < t->n_partitions; j++) {
                        const struct snap_partition *p = &t->partitions[j];
                        a->cluster_partitions++;
                        if (partition_offline(p)) {
                                offline++;
                        } else if (p->n_isr < p->n_replicas) {
                                a->cluster_under_replicated++;
                                if (!urp_full && !text_try(&urp, sizeof ELLIPSIS,
                                                           "%s%s-%" PRId32 " (isr %d of %d)",
                                                           urp.len ? ", " : "",
                                                           t->name ? t->name : "", p->id,
                                                           p->n_isr, p->n_replicas)) {
                                        text_add(&urp, urp.len ? ELLIPSIS : "...");
                                        urp_full = true;
                                }
                        }
                }
        }
        int n = a->cluster_under_replicated;
        if (n > 0)
                verdict_check_set(c, false, "%d under-replicated %s: %s", n,
                          plural(n, "partition", "partitions"), urp_buf);
        else if (offline > 0)
                verdict_check_set(c, true, "no under-replicated partition among %d; %d offline (no "
                          "leader), not counted", a->cluster_partitions - offline, offline);
        else
                verdict_check_set(c, true, "no under-replicated partition among %d", a->cluster_partitions);
}

void verdict_assess(const struct check_outcome *o, int32_t local_id, enum ready_scope scope,
                    struct assessment *ret) {
        memset(ret, 0, sizeof *ret);
        for (int i = 0; i < CHECK_COUNT; i++)
                ret->checks[i].applies = true;
        ret->checks[CHECK_CLUSTER_URP].applies = scope == SCOPE_CLUSTER;
        /* The quorum's checks are a controller's (quorum.c), not a broker's. */
        ret->checks[CHECK_LEADER].applies = false;
        ret->checks[CHECK_VOTER].applies = false;
        /* These two are about the sequence of checks, not one check: health_verdict decides. */
        ret->checks[CHECK_FRESH].applies = false;
        ret->checks[CHECK_CONSECUTIVE].applies = false;
        ret->checks[CHECK_LOG_DIRS].applies = false;   /* decided at probe time (disk.h) */
        ret->checks[CHECK_LEADERSHIP].applies = false; /* decided at probe time (leadership.h) */

        const struct snapshot *s = o ? o->snap : NULL;
        if (!s) {
                struct check_result *c = &ret->checks[CHECK_REACHABLE];
                struct text t;
                text_init(&t, c->detail, sizeof c->detail);
                text_add(&t, o && o->error && o->error[0] ? o->error
                                                          : "the local broker did not answer");
                for (int i = CHECK_REGISTERED; i <= CHECK_CLUSTER_URP; i++)
                        verdict_check_set(&ret->checks[i], false,
                                  "not checked: the local broker did not answer");
                return;
        }

        ret->reachable = true;
        if (s->answered_by >= 0)
                verdict_check_set(&ret->checks[CHECK_REACHABLE], true, "broker %" PRId32 " answered",
                          s->answered_by);
        else
                verdict_check_set(&ret->checks[CHECK_REACHABLE], true, "the local listener answered");
        assess_registered(s, local_id, &ret->checks[CHECK_REGISTERED]);
        assess_hosted(s, local_id, ret);
        if (scope == SCOPE_CLUSTER)
                assess_cluster(s, ret);
        else
                verdict_check_set(&ret->checks[CHECK_CLUSTER_URP], true, "not checked: scope is local");

        ret->good = true;
        for (int i = 0; i < CHECK_COUNT; i++)
                if (ret->checks[i].applies && !ret->checks[i].ok)
                        ret->good = false;
}

void health_init(struct health *h, uint64_t now_ms) {
        memset(h, 0, sizeof *h);
        h->started_ms = now_ms;
}

void health_record(struct health *h, const struct assessment *a, uint64_t now_ms) {
        health_record_check(h, a, now_ms, now_ms);
}

void health_record_check(struct health *h, const struct assessment *a, uint64_t started_ms,
                         uint64_t now_ms) {
        h->last = *a;
        h->have_last = true;
        h->last_at_ms = now_ms;
        h->checks_total++;
        if (a->good) {
                if (h->consecutive_good < UINT_MAX)
                        h->consecutive_good++;
        } else {
                h->consecutive_good = 0;
                h->checks_failed++;
        }
        if (a->reachable) {
                h->last_reachable_ms = now_ms;
                h->last_reachable_started_ms = started_ms;
                h->ever_reachable = true;
        }
}

/* Live: the broker answered within the liveness window. Before its first answer the broker
 * is starting, not live: the kubelet's startupProbe (with its own, longer budget for log
 * recovery) is what waits for it, so /livez must not pass during that time. */
static void verdict_live(const struct health *h, const struct health_policy *p, uint64_t now_ms,
                         struct verdict *v) {
        char age[32], window[32];
        const char *who = v->live_name;
        format_duration_ms(p->liveness_window_ms, window, sizeof window);
        if (!h->ever_reachable) {
                v->live = false;
                age_format(elapsed(now_ms, h->started_ms), age, sizeof age);
                snprintf(v->live_detail, sizeof v->live_detail,
                         "starting: the %s has not answered yet (%s since the agent started)", who, age);
                return;
        }
        uint64_t since = elapsed(now_ms, h->last_reachable_ms);
        v->live = since <= p->liveness_window_ms;
        age_format(since, age, sizeof age);
        if (v->live)
                snprintf(v->live_detail, sizeof v->live_detail,
                         "%s answered %s ago (window %s)", who, age, window);
        else
                snprintf(v->live_detail, sizeof v->live_detail,
                         "%s has not answered for %s (window %s)", who, age, window);
}

void health_verdict(const struct health *h, const struct health_policy *p, uint64_t now_ms,
                    struct verdict *ret) {
        memset(ret, 0, sizeof *ret);
        ret->live_name = p->subject ? p->subject : "broker";
        struct check_result *fresh = &ret->checks[CHECK_FRESH];
        struct check_result *consec = &ret->checks[CHECK_CONSECUTIVE];

        if (h->have_last) {
                memcpy(ret->checks, h->last.checks, sizeof ret->checks);
        } else {
                verdict_check_set(&ret->checks[CHECK_REACHABLE], false, "no check has completed yet");
                ret->checks[CHECK_REACHABLE].applies = true;
        }

        fresh->applies = true;
        if (h->have_last) {
                char age[32], limit[32];
                uint64_t since = elapsed(now_ms, h->last_at_ms);
                age_format(since, age, sizeof age);
                format_duration_ms(p->stale_after_ms, limit, sizeof limit);
                verdict_check_set(fresh, since <= p->stale_after_ms, "last check %s ago (limit %s)",
                          age, limit);
        } else {
                verdict_check_set(fresh, false, "no check has completed yet");
        }

        consec->applies = true;
        if (h->consecutive_good >= p->ready_after)
                verdict_check_set(consec, true, "%u consecutive good checks (%u needed)",
                          h->consecutive_good, p->ready_after);
        else
                verdict_check_set(consec, false, "%u of %u consecutive good checks",
                          h->consecutive_good, p->ready_after);

        ret->ready = h->have_last && h->last.good && fresh->ok && consec->ok;
        verdict_live(h, p, now_ms, ret);
}

void health_live_for_process(const struct health *h, const struct health_policy *p,
                             uint64_t now_ms, uint64_t process_age_ms, struct verdict *ret) {
        uint64_t process_start = now_ms >= process_age_ms ? now_ms - process_age_ms : 0;
        char age[32];
        /* An answer to a check that started before the process did came from an earlier
         * process (or the kernel's backlog of one): it says nothing about this one, which may
         * still be recovering its logs. The start of the check, not its end, decides. */
        if (h->ever_reachable && h->last_reachable_started_ms >= process_start) {
                verdict_live(h, p, now_ms, ret);
                return;
        }
        ret->live = false;
        age_format(process_age_ms, age, sizeof age);
        snprintf(ret->live_detail, sizeof ret->live_detail,
                 "starting: this %s process started %s ago and has not answered since",
                 ret->live_name ? ret->live_name : "broker", age);
}

const char *check_name(enum check_id id) {
        static const char *const names[CHECK_COUNT] = {
                [CHECK_REACHABLE] = "reachable",
                [CHECK_REGISTERED] = "registered",
                [CHECK_LEADER] = "leader",
                [CHECK_VOTER] = "voter",
                [CHECK_CAUGHT_UP] = "caught_up",
                [CHECK_CLUSTER_URP] = "cluster_urp",
                [CHECK_LOG_DIRS] = "log_dirs",
                [CHECK_LEADERSHIP] = "leadership",
                [CHECK_FRESH] = "fresh",
                [CHECK_CONSECUTIVE] = "consecutive",
        };
        if ((unsigned) id >= CHECK_COUNT)
                return "unknown";
        return names[id];
}
