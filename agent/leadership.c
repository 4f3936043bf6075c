#include "kpa/leadership.h"

#include <stdio.h>
#include <string.h>

static bool contains(const int32_t *v, int n, int32_t id) {
        for (int i = 0; i < n; i++)
                if (v[i] == id)
                        return true;
        return false;
}

void leadership_plan(const struct snapshot *s, int32_t local_id, struct leadership_plan *ret) {
        memset(ret, 0, offsetof(struct leadership_plan, parts));
        if (!s)
                return;
        for (int t = 0; t < s->n_topics; t++) {
                const struct snap_topic *tp = &s->topics[t];
                size_t name_len = tp->name ? strlen(tp->name) : 0;
                if (tp->err != 0 || name_len == 0 || name_len > KWIRE_ELECT_TOPIC_MAX)
                        continue;
                for (int i = 0; i < tp->n_partitions; i++) {
                        const struct snap_partition *p = &tp->partitions[i];
                        if (p->err != 0 || p->leader < 0)
                                continue;
                        if (p->leader == local_id)
                                ret->led++;
                        if (p->n_replicas < 1 || p->replicas[0] != local_id)
                                continue;
                        ret->preferred++;
                        if (p->leader == local_id) {
                                ret->preferred_led++;
                                continue;
                        }
                        if (!contains(p->isr, p->n_isr, local_id)) {
                                ret->not_in_isr++;
                                continue;
                        }
                        if (ret->n < KWIRE_ELECT_MAX_PARTITIONS) {
                                memcpy(ret->parts[ret->n].topic, tp->name, name_len + 1);
                                ret->parts[ret->n].partition = p->id;
                                ret->n++;
                        }
                        ret->skewed++;
                }
        }
}

void leadership_init(struct leadership *l, bool enabled, uint64_t ready_wait_ms) {
        memset(l, 0, sizeof *l);
        l->enabled = enabled;
        l->ready_wait_ms = ready_wait_ms;
        l->restored_after_ms = -1;
}

void leadership_observe(struct leadership *l, const struct leadership_plan *p, uint64_t now_ms) {
        l->have_plan = true;
        l->preferred = p->preferred;
        l->led = p->led;
        l->preferred_led = p->preferred_led;
        l->skewed = p->skewed;
        l->not_in_isr = p->not_in_isr;
        if (l->in_episode && l->base_ready && !l->restored && p->skewed == 0 && p->not_in_isr == 0) {
                l->restored = true;
                l->restored_after_ms = now_ms > l->episode_start_ms ? (int64_t) (now_ms - l->episode_start_ms) : 0;
        }
}

void leadership_base_ready(struct leadership *l, bool ready, uint64_t now_ms) {
        if (ready && !l->in_episode) {
                l->in_episode = true;
                l->episode_start_ms = now_ms;
                l->failures = l->requests = l->request_budget = 0;
                l->next_attempt_ms = now_ms;
                l->backoff_ms = LEADERSHIP_BACKOFF_FIRST_MS;
                l->restored = l->gave_up = false;
                l->restored_after_ms = -1;
                l->reason[0] = '\0';
                if (l->have_plan && l->skewed == 0 && l->not_in_isr == 0) {
                        l->restored = true;
                        l->restored_after_ms = 0;
                }
        } else if (!ready && l->in_episode) {
                l->in_episode = false;
        }
        l->base_ready = ready;
}

bool leadership_should_elect(struct leadership *l, bool stop_pending, uint64_t now_ms) {
        if (!l->enabled || !l->in_episode || !l->base_ready || stop_pending || l->in_flight ||
            l->gave_up || !l->have_plan || l->skewed == 0 || now_ms < l->next_attempt_ms)
                return false;
        /* The budget: every batch the plan needs at the first request, plus the failures
         * allowed; a plan that stays skewed in stale metadata cannot keep the agent asking. */
        if (l->requests == 0)
                l->request_budget = (l->skewed + KWIRE_ELECT_MAX_PARTITIONS - 1) / KWIRE_ELECT_MAX_PARTITIONS +
                                    LEADERSHIP_MAX_FAILURES;
        if (l->requests >= l->request_budget) {
                l->gave_up = true;
                snprintf(l->reason, sizeof l->reason, "sent %d elections since the broker became ready; "
                         "%d preferred partitions are still led by other brokers", l->requests, l->skewed);
                return false;
        }
        l->requests++;
        l->in_flight = true;
        return true;
}

static void count_code(struct leadership *l, int16_t code) {
        for (int i = 0; i < l->n_last_errors; i++)
                if (l->last_errors[i].code == code) {
                        l->last_errors[i].count++;
                        return;
                }
        if (l->n_last_errors < LEADERSHIP_ERRORS_MAX)
                l->last_errors[l->n_last_errors++] = (struct leadership_count){ code, 1 };
}

void leadership_done(struct leadership *l, const struct leadership_outcome *o, uint64_t now_ms) {
        char name[KWIRE_ERROR_TEXT_MAX];
        l->in_flight = false;
        l->have_last = true;
        l->last_unix_ms = o->at_unix_ms;
        l->last_asked = o->asked;
        l->last_elected = l->last_not_needed = l->last_failed = 0;
        l->n_last_errors = 0;
        l->last_error[0] = '\0';
        bool fatal = false;
        if (o->rc < 0) {
                l->unanswered_total += (uint64_t) o->asked;
                l->last_failed = o->asked;
                snprintf(l->last_error, sizeof l->last_error, "%s", o->error);
        } else if (o->top_error != KWIRE_ERR_NONE) {
                l->failed_total += (uint64_t) o->asked;
                l->last_failed = o->asked;
                count_code(l, o->top_error);
                l->last_errors[0].count = o->asked;
                fatal = o->top_error == KWIRE_ERR_CLUSTER_AUTHORIZATION_FAILED;
                snprintf(l->last_error, sizeof l->last_error, "%s%s",
                         kwire_error_text(o->top_error, name, sizeof name),
                         fatal ? ": the agent's principal needs ALTER on the CLUSTER resource "
                                 "(docs/kpa-agent.md)" : "");
        } else {
                for (int i = 0; i < o->n_results; i++) {
                        int16_t c = o->codes[i];
                        count_code(l, c);
                        if (c == KWIRE_ERR_NONE)
                                l->last_elected++;
                        else if (c == KWIRE_ERR_ELECTION_NOT_NEEDED)
                                l->last_not_needed++;
                        else
                                l->last_failed++;
                }
                /* A partition asked but not in the answer did not succeed either. */
                if (o->n_results < o->asked)
                        l->last_failed += o->asked - o->n_results;
                l->elected_total += (uint64_t) l->last_elected;
                l->not_needed_total += (uint64_t) l->last_not_needed;
                l->failed_total += (uint64_t) (o->asked - l->last_elected - l->last_not_needed);
                if (l->last_failed > 0 && o->first_message[0])
                        snprintf(l->last_error, sizeof l->last_error, "%s", o->first_message);
        }
        if (o->rc == 0 && o->top_error == KWIRE_ERR_NONE && l->last_failed == 0) {
                /* Every partition of the batch is led by its preferred replica: the next batch
                 * (if any) once the next check has shown it. */
                l->backoff_ms = LEADERSHIP_BACKOFF_FIRST_MS;
                l->next_attempt_ms = now_ms + LEADERSHIP_BACKOFF_FIRST_MS;
                return;
        }
        l->failures++;
        l->next_attempt_ms = now_ms + l->backoff_ms;
        l->backoff_ms = l->backoff_ms * 2 > LEADERSHIP_BACKOFF_MAX_MS ? LEADERSHIP_BACKOFF_MAX_MS : l->backoff_ms * 2;
        if (fatal || l->failures >= LEADERSHIP_MAX_FAILURES) {
                l->gave_up = true;
                snprintf(l->reason, sizeof l->reason, "gave up after %d failed election%s: %.270s",
                         l->failures, l->failures == 1 ? "" : "s",
                         l->last_error[0] ? l->last_error : "some partitions were not elected");
        }
}

void leadership_readiness(const struct leadership *l, uint64_t now_ms, struct check_result *ret) {
        memset(ret, 0, sizeof *ret);
        if (!l->enabled || l->ready_wait_ms == 0)
                return;
        ret->applies = true;
        if (!l->in_episode || !l->base_ready) {
                verdict_check_set(ret, true, "waits until the broker is caught up");
                return;
        }
        if (l->restored) {
                verdict_check_set(ret, true, "leads its %d preferred partitions", l->preferred_led);
                return;
        }
        if (l->gave_up) {
                verdict_check_set(ret, true, "not waiting: %s", l->reason);
                return;
        }
        /* A failed election is retried in the background, but readiness does not wait on it:
         * whatever made it fail (no ACL, an old broker, a busy controller) is not likely to
         * clear within the wait, and the roll would pay the whole wait for nothing. */
        if (l->failures > 0) {
                verdict_check_set(ret, true, "not waiting: the election failed (%.200s); retrying in the background",
                                  l->last_error[0] ? l->last_error : "some partitions were not elected");
                return;
        }
        uint64_t waited = now_ms > l->episode_start_ms ? now_ms - l->episode_start_ms : 0;
        if (waited >= l->ready_wait_ms) {
                verdict_check_set(ret, true, "stopped waiting after %llums: %d preferred partitions led by other brokers",
                                  (unsigned long long) l->ready_wait_ms, l->skewed + l->not_in_isr);
                return;
        }
        verdict_check_set(ret, false, "waiting up to %llums for the preferred leader election of %d partitions",
                          (unsigned long long) l->ready_wait_ms, l->skewed + l->not_in_isr);
}
