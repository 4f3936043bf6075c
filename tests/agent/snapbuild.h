/* Small constructors for metadata snapshots in the agent's unit tests. Snapshots are built on
 * the heap exactly as the metadata module builds them, so snapshot_free releases them and the
 * sanitizer build proves nothing leaks. */
#ifndef KPA_TESTS_SNAPBUILD_H
#define KPA_TESTS_SNAPBUILD_H

#include <stdlib.h>
#include <string.h>

#include "kpa/snapshot.h"

/* IDS(1, 2, 3) expands to a pointer and a count; NOIDS to an empty list. */
#define IDS(...) (const int32_t[]){ __VA_ARGS__ }, \
        (int) (sizeof((const int32_t[]){ __VA_ARGS__ }) / sizeof(int32_t))
#define NOIDS NULL, 0

static inline void *sb_alloc(size_t n) {
        void *p = calloc(1, n ? n : 1);
        if (!p)
                abort();
        return p;
}

static inline int32_t *sb_ids(const int32_t *ids, int n) {
        int32_t *p = sb_alloc((size_t) n * sizeof *p);
        if (n > 0)
                memcpy(p, ids, (size_t) n * sizeof *p);
        return p;
}

static inline struct snapshot *sb_new(int32_t answered_by, const int32_t *brokers, int n_brokers) {
        struct snapshot *s = sb_alloc(sizeof *s);
        s->brokers = sb_ids(brokers, n_brokers);
        s->n_brokers = n_brokers;
        s->controller_id = -1;
        s->answered_by = answered_by;
        return s;
}

/* The returned topic stays valid until the next sb_topic on the same snapshot. */
static inline struct snap_topic *sb_topic(struct snapshot *s, const char *name, int min_isr) {
        struct snap_topic *t = realloc(s->topics, (size_t) (s->n_topics + 1) * sizeof *t);
        if (!t)
                abort();
        s->topics = t;
        t = &s->topics[s->n_topics++];
        memset(t, 0, sizeof *t);
        t->name = strdup(name);
        if (!t->name)
                abort();
        t->min_isr = min_isr;
        return t;
}

static inline struct snap_partition *sb_part(struct snap_topic *t, int32_t id, int32_t leader,
                                             const int32_t *replicas, int n_replicas,
                                             const int32_t *isr, int n_isr) {
        struct snap_partition *p = realloc(t->partitions,
                                           (size_t) (t->n_partitions + 1) * sizeof *p);
        if (!p)
                abort();
        t->partitions = p;
        p = &t->partitions[t->n_partitions++];
        memset(p, 0, sizeof *p);
        p->id = id;
        p->leader = leader;
        p->replicas = sb_ids(replicas, n_replicas);
        p->n_replicas = n_replicas;
        p->isr = sb_ids(isr, n_isr);
        p->n_isr = n_isr;
        return p;
}

#endif
