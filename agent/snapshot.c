#include "kpa/snapshot.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

static void partitions_free(struct snap_partition *p, int n) {
        for (int i = 0; i < n; i++) {
                free(p[i].replicas);
                free(p[i].isr);
        }
        free(p);
}

static void topics_free(struct snap_topic *t, int n) {
        for (int i = 0; i < n; i++) {
                free(t[i].name);
                partitions_free(t[i].partitions, t[i].n_partitions);
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

/* Copies n ids; an empty list stays NULL so that a copy of a copy looks the same. Returns
 * false only when an allocation failed. */
static bool ids_dup(const int32_t *src, int n, int32_t **ret) {
        *ret = NULL;
        if (n <= 0 || !src)
                return true;
        *ret = malloc((size_t) n * sizeof **ret);
        if (!*ret)
                return false;
        memcpy(*ret, src, (size_t) n * sizeof **ret);
        return true;
}

static bool partition_dup(const struct snap_partition *src, struct snap_partition *dst) {
        *dst = *src;
        dst->replicas = dst->isr = NULL;
        if (!ids_dup(src->replicas, src->n_replicas, &dst->replicas))
                return false;
        if (!ids_dup(src->isr, src->n_isr, &dst->isr))
                return false;
        dst->n_replicas = dst->replicas ? src->n_replicas : 0;
        dst->n_isr = dst->isr ? src->n_isr : 0;
        return true;
}

/* Fills dst from src; on failure dst holds what was copied so far, so that topics_free can
 * release it (every pointer in dst is either owned or NULL). */
static bool topic_dup(const struct snap_topic *src, struct snap_topic *dst) {
        *dst = *src;
        dst->name = NULL;
        dst->partitions = NULL;
        dst->n_partitions = 0;
        if (src->name && !(dst->name = strdup(src->name)))
                return false;
        if (src->n_partitions <= 0 || !src->partitions)
                return true;
        dst->partitions = calloc((size_t) src->n_partitions, sizeof *dst->partitions);
        if (!dst->partitions)
                return false;
        for (int i = 0; i < src->n_partitions; i++) {
                dst->n_partitions = i + 1;
                if (!partition_dup(&src->partitions[i], &dst->partitions[i]))
                        return false;
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
        if (!ids_dup(s->brokers, s->n_brokers, &d->brokers))
                return snapshot_free(d);
        d->n_brokers = d->brokers ? s->n_brokers : 0;
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
