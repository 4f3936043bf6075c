#include "kpa/features.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct feature_state *add(struct features_view *v, const char *name) {
        for (int i = 0; i < v->n; i++)
                if (strcmp(v->v[i].name, name) == 0)
                        return &v->v[i];
        if (v->n >= FEATURES_MAX)
                return NULL;
        struct feature_state *s = &v->v[v->n++];
        memset(s, 0, sizeof *s);
        snprintf(s->name, sizeof s->name, "%s", name);
        s->supported_min = -1;
        s->supported_max = -1;
        return s;
}

static int by_name(const void *a, const void *b) {
        return strcmp(((const struct feature_state *) a)->name,
                      ((const struct feature_state *) b)->name);
}

void features_assess(const struct kwire_features *f, int64_t now_unix_ms,
                     struct features_view *ret) {
        memset(ret, 0, sizeof *ret);
        ret->known = true;
        ret->epoch = f->finalized_epoch;
        ret->fetched_unix_ms = now_unix_ms;
        for (int i = 0; i < f->n_supported_kept; i++) {
                struct feature_state *s = add(ret, f->supported[i].name);
                if (s) {
                        s->supported_min = f->supported[i].min;
                        s->supported_max = f->supported[i].max;
                }
        }
        for (int i = 0; i < f->n_finalized_kept; i++) {
                struct feature_state *s = add(ret, f->finalized[i].name);
                if (s)
                        s->finalized = f->finalized[i].max;
        }
        for (int i = 0; i < ret->n; i++) {
                struct feature_state *s = &ret->v[i];
                s->lags = s->supported_max >= 0 && s->finalized < s->supported_max;
                s->pending = s->lags && (s->finalized >= 1 ||
                                         strcmp(s->name, FEATURES_METADATA_VERSION) == 0);
                ret->n_pending += s->pending;
        }
        qsort(ret->v, (size_t) ret->n, sizeof ret->v[0], by_name);
}

void features_unknown(struct features_view *ret, const char *reason) {
        memset(ret, 0, sizeof *ret);
        ret->epoch = -1;
        snprintf(ret->unknown_reason, sizeof ret->unknown_reason, "%s", reason);
}

const struct feature_state *features_find(const struct features_view *v, const char *name) {
        for (int i = 0; i < v->n; i++)
                if (strcmp(v->v[i].name, name) == 0)
                        return &v->v[i];
        return NULL;
}

bool features_command(const struct features_view *v, const char *bootstrap, char *buf,
                      size_t cap) {
        if (cap == 0)
                return false;
        buf[0] = '\0';
        if (!v->known || v->n_pending == 0)
                return true;
        size_t len = 0;
        int n = snprintf(buf, cap, "kafka-features.sh --bootstrap-server %s upgrade", bootstrap);
        if (n < 0 || (size_t) n >= cap)
                return false;
        len = (size_t) n;
        for (int i = 0; i < v->n; i++) {
                if (!v->v[i].pending)
                        continue;
                n = snprintf(buf + len, cap - len, " --feature %s=%d", v->v[i].name,
                             v->v[i].supported_max);
                if (n < 0 || (size_t) n >= cap - len)
                        return false;
                len += (size_t) n;
        }
        return true;
}
