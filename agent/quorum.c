#include "kpa/quorum.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "kpa/parse.h"

const char *quorum_role_name(enum quorum_role r) {
        switch (r) {
        case QUORUM_ROLE_VOTER: return "voter";
        case QUORUM_ROLE_OBSERVER: return "observer";
        case QUORUM_ROLE_ABSENT: return "absent";
        default: return "unknown";
        }
}

/* "250ms", "12s", "12.3s": an age as the details show it. */
static void age_text(int64_t ms, char *buf, size_t cap) {
        if (ms < 0)
                snprintf(buf, cap, "never");
        else if (ms < 1000)
                snprintf(buf, cap, "%" PRId64 "ms", ms);
        else if (ms % 1000 == 0)
                snprintf(buf, cap, "%" PRId64 "s", ms / 1000);
        else
                snprintf(buf, cap, "%" PRId64 ".%" PRId64 "s", ms / 1000, ms % 1000 / 100);
}

static const struct kwire_replica *find(const struct kwire_replica *v, int n, int32_t id) {
        for (int i = 0; i < n; i++)
                if (v[i].id == id)
                        return &v[i];
        return NULL;
}

/* An age on the leader's clock: now minus a timestamp the leader recorded, or -1 when the
 * leader never recorded one. A timestamp after "now" (the leader's clock stepped back between
 * the two readings) counts as just now. */
static int64_t age_of(int64_t now, int64_t ts) {
        if (ts < 0)
                return -1;
        return ts >= now ? 0 : now - ts;
}

static void member_from(const struct kwire_replica *r, int32_t leader_id, int64_t now,
                        int64_t leader_leo, const struct quorum_policy *p,
                        struct quorum_member *ret) {
        ret->id = r->id;
        ret->log_end_offset = r->log_end_offset;
        ret->lag = r->log_end_offset >= 0 && leader_leo >= 0
                           ? (leader_leo > r->log_end_offset ? leader_leo - r->log_end_offset : 0)
                           : -1;
        if (r->id == leader_id) {
                /* The leader is the log it is measured against. */
                ret->caught_up_age_ms = 0;
                ret->fetch_age_ms = 0;
                ret->lag = 0;
                ret->caught_up = true;
                return;
        }
        ret->caught_up_age_ms = age_of(now, r->last_caught_up_ms);
        ret->fetch_age_ms = age_of(now, r->last_fetch_ms);
        ret->caught_up = ret->caught_up_age_ms >= 0 &&
                         (uint64_t) ret->caught_up_age_ms <= p->caught_up_max_ms;
}

/* A leader answer the decisions can rest on: its own entry gives its clock, ids are node ids,
 * no voter twice. Otherwise says why in buf. */
static bool leader_sound(const struct kwire_quorum *q, char *buf, size_t cap) {
        if (q->error_code != 0 || !q->have_partition || q->partition_error_code != 0) {
                char et[KWIRE_ERROR_TEXT_MAX];
                snprintf(buf, cap, "the leader's answer carries error %s",
                         kwire_error_text(q->error_code ? q->error_code : q->partition_error_code,
                                          et, sizeof et));
                return false;
        }
        if (q->leader_id < 0 || q->n_voters <= 0) {
                snprintf(buf, cap, "the answer names no leader (%" PRId32 ") or no voters (%d)",
                         q->leader_id, q->n_voters);
                return false;
        }
        for (int i = 0; i < q->n_voters; i++) {
                if (q->voters[i].id < 0) {
                        snprintf(buf, cap, "the answer lists voter id %" PRId32, q->voters[i].id);
                        return false;
                }
                for (int j = 0; j < i; j++)
                        if (q->voters[j].id == q->voters[i].id) {
                                snprintf(buf, cap, "the answer lists voter %" PRId32 " twice",
                                         q->voters[i].id);
                                return false;
                        }
        }
        const struct kwire_replica *self = find(q->voters, q->n_voters, q->leader_id);
        if (!self)
                self = find(q->observers, q->n_observers_kept, q->leader_id);
        if (!self || self->last_caught_up_ms < 0) {
                snprintf(buf, cap, "the answer has no entry with the clock of leader %" PRId32,
                         q->leader_id);
                return false;
        }
        return true;
}

static void view_from(const struct kwire_quorum *q, int32_t local_id, const struct quorum_policy *p,
                      struct quorum_view *v) {
        const struct kwire_replica *self = find(q->voters, q->n_voters, q->leader_id);
        if (!self)
                self = find(q->observers, q->n_observers_kept, q->leader_id);
        int64_t now = self->last_caught_up_ms, leader_leo = self->log_end_offset;
        v->known = true;
        v->leader_id = q->leader_id;
        v->leader_epoch = q->leader_epoch;
        v->high_watermark = q->high_watermark;
        v->n_voters = q->n_voters;
        v->majority = q->n_voters / 2 + 1;
        v->n_observers = q->n_observers;
        for (int i = 0; i < q->n_voters; i++) {
                member_from(&q->voters[i], q->leader_id, now, leader_leo, p, &v->voters[i]);
                v->caught_up_voters += v->voters[i].caught_up;
        }
        const struct kwire_replica *mine = find(q->voters, q->n_voters, local_id);
        if (mine) {
                v->local_role = QUORUM_ROLE_VOTER;
        } else if ((mine = find(q->observers, q->n_observers_kept, local_id))) {
                v->local_role = QUORUM_ROLE_OBSERVER;
        } else {
                v->local_role = QUORUM_ROLE_ABSENT;
                /* Beyond the observers kept, the local node may still be listed. */
                if (q->n_observers > q->n_observers_kept)
                        v->local_role = QUORUM_ROLE_UNKNOWN;
        }
        if (mine)
                member_from(mine, q->leader_id, now, leader_leo, p, &v->local);
}

static void assess_caught_up(const struct quorum_view *v, int32_t local_id,
                             const struct quorum_policy *p, struct check_result *c) {
        char age[32], bound[32];
        const struct quorum_member *m = &v->local;
        format_duration_ms(p->caught_up_max_ms, bound, sizeof bound);
        if (local_id == v->leader_id) {
                verdict_check_set(c, true, "node %" PRId32 " is the leader (epoch %" PRId32 ", high watermark %" PRId64 ")",
                          local_id, v->leader_epoch, v->high_watermark);
                return;
        }
        age_text(m->caught_up_age_ms, age, sizeof age);
        if (m->caught_up)
                verdict_check_set(c, true, "caught up with leader %" PRId32 " %s ago (bound %s), %" PRId64 " records behind",
                          v->leader_id, age, bound, m->lag);
        else if (m->caught_up_age_ms < 0)
                verdict_check_set(c, false, "not caught up with leader %" PRId32 ": never caught up in epoch %" PRId32
                          " (log end offset %" PRId64 ", leader's high watermark %" PRId64 ")",
                          v->leader_id, v->leader_epoch, m->log_end_offset, v->high_watermark);
        else
                verdict_check_set(c, false, "not caught up with leader %" PRId32 ": last caught up %s ago (bound %s), %"
                          PRId64 " records behind", v->leader_id, age, bound, m->lag);
}

void quorum_assess(const struct quorum_observation *o, int32_t local_id,
                   const struct quorum_policy *p, struct assessment *ret_a,
                   struct quorum_view *ret_v) {
        struct assessment *a = ret_a;
        struct quorum_view *v = ret_v;
        memset(a, 0, sizeof *a);
        memset(v, 0, sizeof *v);
        v->leader_id = -1;
        v->leader_epoch = -1;
        v->high_watermark = -1;
        v->caught_up_max_ms = p->caught_up_max_ms;
        v->local.id = local_id;
        a->checks[CHECK_REACHABLE].applies = a->checks[CHECK_LEADER].applies = true;
        a->checks[CHECK_VOTER].applies = a->checks[CHECK_CAUGHT_UP].applies = true;

        a->reachable = o->local_answered;
        if (o->local_answered)
                verdict_check_set(&a->checks[CHECK_REACHABLE], true, "controller %" PRId32 " answered on its listener", local_id);
        else
                verdict_check_set(&a->checks[CHECK_REACHABLE], false, "%s",
                          o->local_error && o->local_error[0] ? o->local_error : "the local controller did not answer");

        char why[QUORUM_REASON_MAX];
        if (!o->leader)
                snprintf(why, sizeof why, "no controller answered as the quorum leader: %s",
                         o->leader_error && o->leader_error[0] ? o->leader_error : "none asked");
        else if (leader_sound(o->leader, why, sizeof why))
                view_from(o->leader, local_id, p, v);
        if (!v->known) {
                snprintf(v->unknown_reason, sizeof v->unknown_reason, "%s", why);
                verdict_check_set(&a->checks[CHECK_LEADER], false, "%s", why);
                verdict_check_set(&a->checks[CHECK_VOTER], false, "not checked: the quorum leader is unknown");
                verdict_check_set(&a->checks[CHECK_CAUGHT_UP], false, "not checked: the quorum leader is unknown");
        } else {
                verdict_check_set(&a->checks[CHECK_LEADER], true, "leader %" PRId32 " in epoch %" PRId32 ", %d of %d voters caught up",
                          v->leader_id, v->leader_epoch, v->caught_up_voters, v->n_voters);
                if (v->local_role == QUORUM_ROLE_VOTER)
                        verdict_check_set(&a->checks[CHECK_VOTER], true, "node %" PRId32 " is one of %d voters", local_id, v->n_voters);
                else if (v->local_role == QUORUM_ROLE_OBSERVER)
                        verdict_check_set(&a->checks[CHECK_VOTER], true, "node %" PRId32 " is an observer, not a voter", local_id);
                else
                        verdict_check_set(&a->checks[CHECK_VOTER], false, "node %" PRId32 " is %s in leader %" PRId32
                                  "'s answer (%d voters, %d observers)", local_id,
                                  v->local_role == QUORUM_ROLE_UNKNOWN ? "not among the observers kept"
                                                                       : "neither a voter nor an observer",
                                  v->leader_id, v->n_voters, v->n_observers);
                if (v->local_role == QUORUM_ROLE_VOTER || v->local_role == QUORUM_ROLE_OBSERVER)
                        assess_caught_up(v, local_id, p, &a->checks[CHECK_CAUGHT_UP]);
                else
                        verdict_check_set(&a->checks[CHECK_CAUGHT_UP], false, "not checked: node %" PRId32
                                  " is not in the quorum's answer", local_id);
        }
        a->good = true;
        for (int i = 0; i < CHECK_COUNT; i++)
                if (a->checks[i].applies && !a->checks[i].ok)
                        a->good = false;
}

void quorum_stop_evaluate(const struct quorum_view *v, int32_t local_id, struct quorum_stop *ret) {
        memset(ret, 0, sizeof *ret);
        if (!v->known) {
                snprintf(ret->reason, sizeof ret->reason, "the quorum's state is unknown, so stopping "
                         "might take its majority: %.440s", v->unknown_reason);
                return;
        }
        if (v->local_role != QUORUM_ROLE_VOTER) {
                if (v->local_role == QUORUM_ROLE_UNKNOWN) {
                        snprintf(ret->reason, sizeof ret->reason, "node %" PRId32 " is not among the "
                                 "%d voters and the leader listed more observers than were read",
                                 local_id, v->n_voters);
                        return;
                }
                ret->safe = true;
                snprintf(ret->reason, sizeof ret->reason, "node %" PRId32 " is not a voter: stopping it "
                         "takes no vote from the quorum (%d of %d voters caught up)", local_id,
                         v->caught_up_voters, v->n_voters);
                return;
        }
        if (v->n_voters - 1 < v->majority) {
                ret->safe = true;
                snprintf(ret->reason, sizeof ret->reason, "a quorum of %d %s loses its majority with "
                         "any stop: waiting cannot help", v->n_voters, v->n_voters == 1 ? "voter" : "voters");
                return;
        }
        int others = v->caught_up_voters - (v->local.caught_up ? 1 : 0);
        if (others >= v->majority) {
                ret->safe = true;
                snprintf(ret->reason, sizeof ret->reason, "stopping node %" PRId32 " leaves %d of %d voters "
                         "caught up (majority %d)", local_id, others, v->n_voters, v->majority);
                return;
        }
        int n = snprintf(ret->reason, sizeof ret->reason, "stopping node %" PRId32 " would leave %d of %d "
                         "voters caught up (majority %d): ", local_id, others, v->n_voters, v->majority);
        size_t used = n > 0 ? (size_t) n : 0;
        bool first = true;
        for (int i = 0; i < v->n_voters && used < sizeof ret->reason; i++) {
                const struct quorum_member *m = &v->voters[i];
                if (m->caught_up || m->id == local_id)
                        continue;
                char age[32];
                age_text(m->caught_up_age_ms, age, sizeof age);
                n = m->caught_up_age_ms < 0
                            ? snprintf(ret->reason + used, sizeof ret->reason - used, "%svoter %" PRId32
                                       " never caught up in epoch %" PRId32, first ? "" : ", ", m->id, v->leader_epoch)
                            : snprintf(ret->reason + used, sizeof ret->reason - used, "%svoter %" PRId32
                                       " last caught up %s ago (%" PRId64 " records behind)", first ? "" : ", ",
                                       m->id, age, m->lag);
                if (n < 0)
                        break;
                used += (size_t) n;
                first = false;
        }
}
