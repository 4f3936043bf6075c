#include "kpa/canroll.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ELLIPSIS ", ..."

static bool ids_contain(const int32_t *ids, int n, int32_t id) {
        for (int i = 0; i < n; i++)
                if (ids[i] == id)
                        return true;
        return false;
}

enum block { BLOCK_NONE, BLOCK_ALREADY_UNDER, BLOCK_WOULD_DROP, BLOCK_UNKNOWN_MIN };

/* The ISR as the gate counts it: members that did not answer are out of it. */
struct isr_count {
        int n;             /* members that count */
        int dropped;       /* members left out because they did not answer */
        bool local_in;
};

static struct isr_count isr_counted(const struct snap_partition *p, int32_t local,
                                    const int32_t *silent, int n_silent) {
        struct isr_count c = { 0 };
        for (int i = 0; i < p->n_isr; i++) {
                if (p->isr[i] != local && ids_contain(silent, n_silent, p->isr[i])) {
                        c.dropped++;
                        continue;
                }
                c.n++;
                if (p->isr[i] == local)
                        c.local_in = true;
        }
        return c;
}

/* Strimzi's KafkaAvailability, in its order: a partition with no more replicas than its
 * min.insync.replicas loses availability whenever any replica stops, so waiting cannot help and
 * it never blocks; otherwise stopping is refused when the partition is already under its
 * minimum and we hold a replica (we may be what brings it back), or when it sits exactly at the
 * minimum and we are one of the in-sync replicas. */
static enum block partition_blocks(const struct snap_partition *p, int min_isr,
                                   const struct isr_count *c) {
        if (min_isr < 1)
                return BLOCK_UNKNOWN_MIN;
        if (p->n_replicas <= min_isr)
                return BLOCK_NONE;
        if (c->n < min_isr)
                return BLOCK_ALREADY_UNDER;
        if (c->n == min_isr && c->local_in)
                return BLOCK_WOULD_DROP;
        return BLOCK_NONE;
}

void canroll_evaluate(const struct snapshot *s, int32_t local_id, struct canroll_result *ret) {
        canroll_evaluate_without(s, local_id, NULL, 0, ret);
}

void canroll_evaluate_without(const struct snapshot *s, int32_t local_id, const int32_t *silent,
                              int n_silent, struct canroll_result *ret) {
        memset(ret, 0, sizeof *ret);
        if (!s) {
                snprintf(ret->reason, sizeof ret->reason,
                         "no metadata: the local broker did not answer");
                return;
        }

        /* The blocking partitions, leaving room in reason for the count in front. */
        char list[sizeof ret->reason - 128];
        size_t len = 0;
        bool full = false;
        int hosted = 0;
        list[0] = '\0';
        for (int i = 0; i < s->n_topics; i++) {
                const struct snap_topic *t = &s->topics[i];
                int min_isr = t->min_isr;
                for (int j = 0; j < t->n_partitions; j++) {
                        const struct snap_partition *p = &t->partitions[j];
                        if (!ids_contain(p->replicas, p->n_replicas, local_id))
                                continue;
                        hosted++;
                        struct isr_count c = isr_counted(p, local_id, silent, n_silent);
                        enum block b = partition_blocks(p, min_isr, &c);
                        if (b == BLOCK_NONE)
                                continue;
                        ret->blocking++;
                        if (b == BLOCK_UNKNOWN_MIN)
                                ret->unknown++;
                        if (full)
                                continue;
                        char entry[sizeof ret->reason], min[16] = "?", dropped[48] = "";
                        if (b != BLOCK_UNKNOWN_MIN)
                                snprintf(min, sizeof min, "%d", min_isr);
                        if (c.dropped)
                                snprintf(dropped, sizeof dropped, " (%d more listed, not answering)",
                                         c.dropped);
                        int n = snprintf(entry, sizeof entry, "%s%s-%" PRId32 " isr=%d min=%s "
                                         "replicas=%d%s%s", len ? ", " : "", t->name ? t->name : "",
                                         p->id, c.n, min, p->n_replicas,
                                         b == BLOCK_ALREADY_UNDER ? " (already under min)" : "",
                                         dropped);
                        /* Keep room for ", ..." behind the last entry that fits. */
                        if (n < 0 || len + (size_t) n + sizeof ELLIPSIS > sizeof list) {
                                snprintf(list + len, sizeof list - len, "%s", len ? ELLIPSIS : "...");
                                full = true;
                                continue;
                        }
                        memcpy(list + len, entry, (size_t) n + 1);
                        len += (size_t) n;
                }
        }

        ret->safe = ret->blocking == 0;
        ret->hosted = hosted;
        if (ret->safe)
                snprintf(ret->reason, sizeof ret->reason,
                         "no hosted partition would drop below min.insync.replicas (%d hosted)",
                         hosted);
        else if (ret->unknown == 0)
                snprintf(ret->reason, sizeof ret->reason,
                         "stopping would leave %d %s below min.insync.replicas: %s",
                         ret->blocking, ret->blocking == 1 ? "partition" : "partitions", list);
        else if (ret->unknown == ret->blocking)
                snprintf(ret->reason, sizeof ret->reason,
                         "min.insync.replicas is unknown for %d hosted %s, so stopping is not "
                         "known to be safe: %s", ret->unknown,
                         ret->unknown == 1 ? "partition" : "partitions", list);
        else
                snprintf(ret->reason, sizeof ret->reason,
                         "stopping would leave %d %s below min.insync.replicas, and it is "
                         "unknown for %d more: %s", ret->blocking - ret->unknown,
                         ret->blocking - ret->unknown == 1 ? "partition" : "partitions",
                         ret->unknown, list);
}

/* ------------------------------------------------------------------------------------------
 * The cross-check with other brokers */

static int id_cmp(const void *a, const void *b) {
        int32_t x = *(const int32_t *) a, y = *(const int32_t *) b;
        return (x > y) - (x < y);
}

/* Adds the ISR members at risk in one view to the set (ret[0..*n), at most max kept). */
static void add_at_risk(const struct snapshot *s, int32_t local, int32_t *ret, int max, int *n,
                        int *needed) {
        if (!s)
                return;
        for (int i = 0; i < s->n_topics; i++) {
                const struct snap_topic *t = &s->topics[i];
                if (t->min_isr < 1)
                        continue;
                for (int j = 0; j < t->n_partitions; j++) {
                        const struct snap_partition *p = &t->partitions[j];
                        if (!ids_contain(p->replicas, p->n_replicas, local) ||
                            p->n_isr > t->min_isr + 1)
                                continue;
                        for (int k = 0; k < p->n_isr; k++) {
                                int32_t id = p->isr[k];
                                if (id == local || ids_contain(ret, *n < max ? *n : max, id))
                                        continue;
                                (*needed)++;
                                if (*n < max)
                                        ret[(*n)++] = id;
                        }
                }
        }
}

int canroll_peers_to_ask(const struct snapshot *local_view, const struct snapshot *peer_view,
                         int32_t local_id, int32_t *ret, int max) {
        int n = 0, needed = 0;
        add_at_risk(local_view, local_id, ret, max, &n, &needed);
        add_at_risk(peer_view, local_id, ret, max, &n, &needed);
        qsort(ret, (size_t) n, sizeof *ret, id_cmp);
        return needed;
}

/* "; in-sync peers not answering as themselves: 2, 3 (2: why)", or "". */
static void silent_suffix(const struct canroll_gate *g, const struct canroll_peers *p,
                          char *buf, size_t len) {
        buf[0] = '\0';
        if (!g->n_silent)
                return;
        size_t used = (size_t) snprintf(buf, len, "; in-sync peers not answering as themselves: ");
        for (int i = 0; i < g->n_silent && used < len; i++)
                used += (size_t) snprintf(buf + used, len - used, "%s%" PRId32, i ? ", " : "",
                                          g->silent[i]);
        if (used < len && p->silent_why[0])
                snprintf(buf + used, len - used, " (%" PRId32 ": %s)", g->silent[0], p->silent_why);
}

static int isr_memberships(const struct snapshot *s, int32_t id) {
        int n = 0;
        for (int i = 0; i < s->n_topics; i++)
                for (int j = 0; j < s->topics[i].n_partitions; j++)
                        if (ids_contain(s->topics[i].partitions[j].isr,
                                        s->topics[i].partitions[j].n_isr, id))
                                n++;
        return n;
}

static bool lists_another_broker(const struct snapshot *s, int32_t local) {
        for (int i = 0; i < s->n_brokers; i++)
                if (s->brokers[i] != local)
                        return true;
        return false;
}

void canroll_gate_evaluate(const struct snapshot *local, const char *local_error,
                           const struct canroll_peers *p, int32_t local_id,
                           struct canroll_gate *ret) {
        memset(ret, 0, sizeof *ret);
        for (int i = 0; i < p->n_asked && i < CANROLL_MAX_ASK; i++)
                if (!p->answered[i])
                        ret->silent[ret->n_silent++] = p->asked[i];
        char silent[400];
        silent_suffix(ret, p, silent, sizeof silent);
        const struct snapshot *view = p->view;

        if (!local) {
                const char *why = local_error && local_error[0] ? local_error : "no check yet";
                if (!view) {
                        snprintf(ret->reason, sizeof ret->reason, "the local broker does not "
                                 "answer and no other broker could be asked whether it is fenced "
                                 "(%s); local: %s", p->view_error[0] ? p->view_error : "none known", why);
                        return;
                }
                int in = isr_memberships(view, local_id);
                ret->safe = !ids_contain(view->brokers, view->n_brokers, local_id) || in == 0;
                if (ret->safe)
                        snprintf(ret->reason, sizeof ret->reason, "the local broker does not "
                                 "answer, and broker %" PRId32 " lists it %s; local: %s",
                                 p->view_from,
                                 ids_contain(view->brokers, view->n_brokers, local_id)
                                         ? "in no ISR" : "as fenced or unregistered",
                                 why);
                else
                        snprintf(ret->reason, sizeof ret->reason, "the local broker does not "
                                 "answer, but broker %" PRId32 " still lists it registered and in "
                                 "the ISR of %d %s, so it is not known to be fenced; local: %s",
                                 p->view_from, in, in == 1 ? "partition" : "partitions", why);
                return;
        }

        if (p->not_asked > 0) {
                snprintf(ret->reason, sizeof ret->reason, "%d more in-sync peers would have to "
                         "answer than one check asks (%d)", p->not_asked, CANROLL_MAX_ASK);
                return;
        }
        struct canroll_result l, v;
        canroll_evaluate_without(local, local_id, ret->silent, ret->n_silent, &l);
        if (!l.safe) {
                snprintf(ret->reason, sizeof ret->reason, "%s%s", l.reason, silent);
                return;
        }
        if (!view) {
                if (lists_another_broker(local, local_id)) {
                        snprintf(ret->reason, sizeof ret->reason, "the local metadata is not "
                                 "confirmed by another broker's (%s)%s",
                                 p->view_error[0] ? p->view_error : "none asked", silent);
                        return;
                }
                ret->safe = true;
                snprintf(ret->reason, sizeof ret->reason, "%s, and no other broker is listed%s",
                         l.reason, silent);
                return;
        }
        canroll_evaluate_without(view, local_id, ret->silent, ret->n_silent, &v);
        if (!v.safe) {
                snprintf(ret->reason, sizeof ret->reason, "in broker %" PRId32 "'s metadata: %s%s",
                         p->view_from, v.reason, silent);
                return;
        }
        ret->safe = true;
        snprintf(ret->reason, sizeof ret->reason, "%s; broker %" PRId32 "'s metadata agrees, and "
                 "%d of %d in-sync peers asked answered as themselves%s", l.reason, p->view_from,
                 p->n_asked - ret->n_silent, p->n_asked, silent);
}
