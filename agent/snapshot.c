#include "kpa/snapshot.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static void topics_free(struct snap_topic *t, int n) {
        for (int i = 0; i < n; i++) {
                free(t[i].name);
                if (t[i].ids)
                        free(t[i].ids);
                else
                        for (int j = 0; j < t[i].n_partitions; j++) {
                                free(t[i].partitions[j].replicas);
                                free(t[i].partitions[j].isr);
                        }
                free(t[i].partitions);
        }
        free(t);
}

struct snapshot *snapshot_free(struct snapshot *s) {
        if (!s)
                return NULL;
        free(s->brokers);
        topics_free(s->topics, s->n_topics);
        free(s);
        return NULL;
}

/* Fills dst from src with the id lists in one block per topic; on failure dst holds what was
 * copied so far, so that topics_free can release it (every pointer in dst is either owned or
 * NULL). */
static bool topic_dup(const struct snap_topic *src, struct snap_topic *dst) {
        *dst = *src;
        dst->name = NULL;
        dst->partitions = NULL;
        dst->n_partitions = 0;
        dst->ids = NULL;
        if (src->name && !(dst->name = strdup(src->name)))
                return false;
        if (src->n_partitions <= 0 || !src->partitions)
                return true;
        size_t n_ids = 0;
        for (int i = 0; i < src->n_partitions; i++)
                n_ids += (size_t) (src->partitions[i].replicas ? src->partitions[i].n_replicas : 0) +
                         (size_t) (src->partitions[i].isr ? src->partitions[i].n_isr : 0);
        dst->partitions = calloc((size_t) src->n_partitions, sizeof *dst->partitions);
        dst->ids = malloc(n_ids > 0 ? n_ids * sizeof *dst->ids : 1);
        if (!dst->partitions || !dst->ids)
                return false;
        dst->n_partitions = src->n_partitions;
        int32_t *next = dst->ids;
        for (int i = 0; i < src->n_partitions; i++) {
                const struct snap_partition *sp = &src->partitions[i];
                struct snap_partition *dp = &dst->partitions[i];
                *dp = *sp;
                dp->replicas = dp->isr = NULL;
                dp->n_replicas = sp->replicas ? sp->n_replicas : 0;
                dp->n_isr = sp->isr ? sp->n_isr : 0;
                /* An empty list stays NULL so that a copy of a copy looks the same. */
                if (dp->n_replicas > 0) {
                        dp->replicas = next;
                        memcpy(next, sp->replicas, (size_t) dp->n_replicas * sizeof *next);
                        next += dp->n_replicas;
                }
                if (dp->n_isr > 0) {
                        dp->isr = next;
                        memcpy(next, sp->isr, (size_t) dp->n_isr * sizeof *next);
                        next += dp->n_isr;
                }
        }
        return true;
}

struct snapshot *snapshot_dup(const struct snapshot *s) {
        if (!s)
                return NULL;
        struct snapshot *d = calloc(1, sizeof *d);
        if (!d)
                return NULL;
        *d = *s;
        d->brokers = NULL;
        d->topics = NULL;
        d->n_topics = 0;
        d->n_brokers = s->brokers && s->n_brokers > 0 ? s->n_brokers : 0;
        if (d->n_brokers > 0) {
                d->brokers = malloc((size_t) d->n_brokers * sizeof *d->brokers);
                if (!d->brokers)
                        return snapshot_free(d);
                memcpy(d->brokers, s->brokers, (size_t) d->n_brokers * sizeof *d->brokers);
        }
        if (s->n_topics <= 0 || !s->topics)
                return d;
        d->topics = calloc((size_t) s->n_topics, sizeof *d->topics);
        if (!d->topics)
                return snapshot_free(d);
        for (int i = 0; i < s->n_topics; i++) {
                d->n_topics = i + 1;
                if (!topic_dup(&s->topics[i], &d->topics[i]))
                        return snapshot_free(d);
        }
        return d;
}
