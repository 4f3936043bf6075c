#include "kpa/snapshot.h"

#include <stdlib.h>
#include <string.h>

struct snapshot *snapshot_free(struct snapshot *s) {
        if (!s)
                return NULL;
        for (int i = 0; i < s->n_topics; i++) {
                struct snap_topic *t = &s->topics[i];
                for (int j = 0; j < t->n_partitions; j++) {
                        free(t->partitions[j].replicas);
                        free(t->partitions[j].isr);
                }
                free(t->partitions);
                free(t->name);
        }
        free(s->topics);
        free(s->brokers);
        free(s);
        return NULL;
}

/* A copy of n ids; never NULL on success, even for n == 0, so that NULL means no memory. */
static int32_t *ids_dup(const int32_t *src, int n) {
        int32_t *d = malloc(n > 0 ? (size_t) n * sizeof *d : 1);
        if (d && n > 0)
                memcpy(d, src, (size_t) n * sizeof *d);
        return d;
}

struct snapshot *snapshot_dup(const struct snapshot *s) {
        struct snapshot *d = calloc(1, sizeof *d);
        if (!d)
                return NULL;
        d->controller_id = s->controller_id;
        d->answered_by = s->answered_by;
        d->default_min_isr = s->default_min_isr;
        d->brokers = ids_dup(s->brokers, s->n_brokers);
        d->topics = calloc(s->n_topics > 0 ? (size_t) s->n_topics : 1, sizeof *d->topics);
        if (!d->brokers || !d->topics)
                return snapshot_free(d);
        d->n_brokers = s->n_brokers;
        for (int i = 0; i < s->n_topics; i++) {
                const struct snap_topic *st = &s->topics[i];
                struct snap_topic *dt = &d->topics[i];
                d->n_topics = i + 1;
                dt->err = st->err;
                dt->min_isr = st->min_isr;
                dt->name = strdup(st->name ? st->name : "");
                dt->partitions = calloc(st->n_partitions > 0 ? (size_t) st->n_partitions : 1,
                                        sizeof *dt->partitions);
                if (!dt->name || !dt->partitions)
                        return snapshot_free(d);
                for (int j = 0; j < st->n_partitions; j++) {
                        const struct snap_partition *sp = &st->partitions[j];
                        struct snap_partition *dp = &dt->partitions[j];
                        dt->n_partitions = j + 1;
                        *dp = (struct snap_partition){ .id = sp->id, .leader = sp->leader,
                                                       .err = sp->err };
                        dp->replicas = ids_dup(sp->replicas, sp->n_replicas);
                        dp->isr = ids_dup(sp->isr, sp->n_isr);
                        if (!dp->replicas || !dp->isr)
                                return snapshot_free(d);
                        dp->n_replicas = sp->n_replicas;
                        dp->n_isr = sp->n_isr;
                }
        }
        return d;
}
