#include "kpa/minisr.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kpa/parse.h"

/* A partition lists at most this many replicas (kafka.h's KAFKA_MAX_REPLICAS): a larger
 * min.insync.replicas cannot be meant. */
#define MINISR_MAX 1000
#define MINISR_KEY "min.insync.replicas"

struct minisr_entry {
        char *topic;
        int min_isr;
};

struct minisr_cache {
        struct minisr_entry *v;     /* sorted by topic */
        size_t n;
        bool fetched_ok;            /* the last attempt succeeded */
        bool attempted;
        uint64_t attempted_ms;
        char note[MINISR_NOTE_MAX]; /* why values are unknown, from the last attempt */
};

void minisr_cache_clear(struct minisr_cache *mc) {
        for (size_t i = 0; i < mc->n; i++)
                free(mc->v[i].topic);
        free(mc->v);
        *mc = (struct minisr_cache){ 0 };
}

struct minisr_cache *minisr_cache_new(void) {
        return calloc(1, sizeof(struct minisr_cache));
}

struct minisr_cache *minisr_cache_free(struct minisr_cache *mc) {
        if (mc) {
                minisr_cache_clear(mc);
                free(mc);
        }
        return NULL;
}

const char *minisr_note(const struct minisr_cache *mc) { return mc->note; }

static int entry_cmp(const void *a, const void *b) {
        return strcmp(((const struct minisr_entry *) a)->topic,
                      ((const struct minisr_entry *) b)->topic);
}

static const struct minisr_entry *cache_find(const struct minisr_cache *mc, const char *topic) {
        struct minisr_entry key = { .topic = (char *) topic };
        return mc->n ? bsearch(&key, mc->v, mc->n, sizeof *mc->v, entry_cmp) : NULL;
}

static bool topic_hosted(const struct snap_topic *t, int32_t local_id) {
        if (local_id < 0)
                return true;
        for (int j = 0; j < t->n_partitions; j++)
                for (int k = 0; k < t->partitions[j].n_replicas; k++)
                        if (t->partitions[j].replicas[k] == local_id)
                                return true;
        return false;
}

/* The values are reused for the TTL so that the hot path is one Metadata request; a new
 * topic should not wait the whole TTL, hence the tenth. */
bool minisr_due(const struct minisr_cache *mc, const struct snapshot *s, int32_t local,
                bool want, uint64_t now, uint64_t ttl_ms) {
        if (want || !mc->attempted || now - mc->attempted_ms >= ttl_ms)
                return true;
        if (!mc->fetched_ok || now - mc->attempted_ms < ttl_ms / 10)
                return false;
        for (int i = 0; i < s->n_topics; i++)
                if (s->topics[i].err == 0 && topic_hosted(&s->topics[i], local) &&
                    !cache_find(mc, s->topics[i].name))
                        return true;
        return false;
}

static int parse_min_isr(const rd_kafka_ConfigResource_t *res) {
        size_t n;
        const rd_kafka_ConfigEntry_t **entries = rd_kafka_ConfigResource_configs(res, &n);
        for (size_t i = 0; i < n; i++) {
                const char *name = rd_kafka_ConfigEntry_name(entries[i]);
                const char *value = rd_kafka_ConfigEntry_value(entries[i]);
                int64_t v;
                if (name && value && strcmp(name, MINISR_KEY) == 0 &&
                    parse_i64(value, 1, MINISR_MAX, &v) == 0)
                        return (int) v;
        }
        return -1;
}

/* A resource that asks for min.insync.replicas only. librdkafka 2.0.2 sends the names set
 * on a resource as DescribeConfigs' ConfigurationKeys (all configs when there are none); the
 * value is not sent, but librdkafka requires one. A broker then answers one entry per
 * resource (about 100 bytes) instead of every config it has (several KiB per topic). */
static rd_kafka_ConfigResource_t *resource_new(rd_kafka_ResourceType_t type, const char *name) {
        rd_kafka_ConfigResource_t *r = rd_kafka_ConfigResource_new(type, name);
        if (r && rd_kafka_ConfigResource_set_config(r, MINISR_KEY, "") != RD_KAFKA_RESP_ERR_NO_ERROR) {
                rd_kafka_ConfigResource_destroy(r);
                return NULL;
        }
        return r;
}

/* Without a BROKER resource librdkafka would route the request to the controller, which in
 * KRaft is just some broker (or unknown, waiting out the whole deadline): only the local
 * node, by its configured id or by the id that answered, is asked. */
static int fetch(struct minisr_cache *mc, rd_kafka_t *rk, const struct snapshot *s,
                 int32_t local, int remain) {
        if (local < 0) {
                snprintf(mc->note, sizeof mc->note, "min.insync.replicas unknown: the local "
                         "node id is not known");
                return -ENOENT;
        }
        size_t cap = (size_t) s->n_topics + 1, nres = 0;
        rd_kafka_ConfigResource_t **res = calloc(cap, sizeof *res);
        rd_kafka_AdminOptions_t *ao = NULL;
        rd_kafka_queue_t *q = NULL;
        rd_kafka_event_t *ev = NULL;
        int r = -ENOMEM;
        char es[256];

        if (!res)
                goto out;
        char id[16];
        snprintf(id, sizeof id, "%" PRId32, local);
        if (!(res[nres] = resource_new(RD_KAFKA_RESOURCE_BROKER, id)))
                goto out;
        nres++;
        /* librdkafka refuses an empty name (NULL); such a topic just stays unknown. */
        for (int i = 0; i < s->n_topics; i++)
                if (s->topics[i].err == 0 && s->topics[i].name[0] &&
                    topic_hosted(&s->topics[i], local) &&
                    (res[nres] = resource_new(RD_KAFKA_RESOURCE_TOPIC, s->topics[i].name)))
                        nres++;
        if (remain <= 0) {
                snprintf(mc->note, sizeof mc->note, "min.insync.replicas not fetched: no time "
                         "left in the check");
                r = -ETIMEDOUT;
                goto out;
        }
        ao = rd_kafka_AdminOptions_new(rk, RD_KAFKA_ADMIN_OP_DESCRIBECONFIGS);
        q = rd_kafka_queue_new(rk);
        if (!ao || !q)
                goto out;
        if (rd_kafka_AdminOptions_set_request_timeout(ao, remain, es, sizeof es)) {
                snprintf(mc->note, sizeof mc->note, "min.insync.replicas not fetched: %.200s", es);
                r = -EINVAL;
                goto out;
        }
        rd_kafka_DescribeConfigs(rk, res, nres, ao, q);
        /* A little beyond the request timeout, so that librdkafka's own timeout result
         * arrives rather than ours. */
        ev = rd_kafka_queue_poll(q, remain + 100);
        if (!ev) {
                snprintf(mc->note, sizeof mc->note, "min.insync.replicas not fetched: "
                         "DescribeConfigs timed out");
                r = -ETIMEDOUT;
                goto out;
        }
        if (rd_kafka_event_error(ev)) {
                rd_kafka_resp_err_t e = rd_kafka_event_error(ev);
                snprintf(mc->note, sizeof mc->note, "min.insync.replicas unknown: %s",
                         rd_kafka_event_error_string(ev));
                r = e == RD_KAFKA_RESP_ERR__UNSUPPORTED_FEATURE ? -EOPNOTSUPP : -EIO;
                goto out;
        }
        const rd_kafka_DescribeConfigs_result_t *dr = rd_kafka_event_DescribeConfigs_result(ev);
        size_t n = 0;
        const rd_kafka_ConfigResource_t **rs =
                dr ? rd_kafka_DescribeConfigs_result_resources(dr, &n) : NULL;
        struct minisr_cache nc = { 0 };
        nc.v = calloc(n ? n : 1, sizeof *nc.v);
        if (!nc.v)
                goto out;
        int failed = 0;
        char first[160] = "";
        for (size_t i = 0; i < n; i++) {
                if (rd_kafka_ConfigResource_error(rs[i])) {
                        /* The broker's own text, bounded: it says e.g. which ACL is missing. */
                        if (!failed++) {
                                const char *text = rd_kafka_ConfigResource_error_string(rs[i]);
                                snprintf(first, sizeof first, "%.60s: %.90s",
                                         rd_kafka_ConfigResource_name(rs[i]),
                                         text ? text : rd_kafka_err2str(rd_kafka_ConfigResource_error(rs[i])));
                        }
                        continue;
                }
                /* The broker's own default is not kept: a topic's value already is the
                 * default when the topic sets none (the BROKER resource is asked for only
                 * to route the request to the local node). */
                int v = parse_min_isr(rs[i]);
                if (rd_kafka_ConfigResource_type(rs[i]) != RD_KAFKA_RESOURCE_BROKER && v > 0) {
                        nc.v[nc.n].topic = strdup(rd_kafka_ConfigResource_name(rs[i]));
                        if (!nc.v[nc.n].topic) {
                                minisr_cache_clear(&nc);
                                goto out;
                        }
                        nc.v[nc.n++].min_isr = v;
                }
        }
        qsort(nc.v, nc.n, sizeof *nc.v, entry_cmp);
        if (failed)
                snprintf(nc.note, sizeof nc.note, "min.insync.replicas unknown for %d of %zu "
                         "resources (DescribeConfigs reported errors, first %s)", failed, n, first);
        minisr_cache_clear(mc);
        *mc = nc;
        r = 0;
out:
        if (r == -ENOMEM)
                snprintf(mc->note, sizeof mc->note, "min.insync.replicas not fetched: out of "
                         "memory");
        if (ev)
                rd_kafka_event_destroy(ev);
        if (q)
                rd_kafka_queue_destroy(q);
        if (ao)
                rd_kafka_AdminOptions_destroy(ao);
        for (size_t i = 0; i < nres; i++)
                rd_kafka_ConfigResource_destroy(res[i]);
        free(res);
        return r;
}

int minisr_fetch(struct minisr_cache *mc, rd_kafka_t *rk, const struct snapshot *s,
                 int32_t local_id, uint64_t now_ms, int remain_ms) {
        mc->note[0] = '\0';
        int r = fetch(mc, rk, s, local_id, remain_ms);
        /* The note quotes the broker's error texts; it goes into one-line answers and logs. */
        for (char *p = mc->note; *p; p++)
                if ((unsigned char) *p < 0x20 || *p == 0x7f)
                        *p = ' ';
        mc->attempted = true;
        mc->attempted_ms = now_ms;
        mc->fetched_ok = r == 0;
        return r;
}

void minisr_apply(const struct minisr_cache *mc, struct snapshot *s) {
        for (int i = 0; i < s->n_topics; i++) {
                const struct minisr_entry *e = cache_find(mc, s->topics[i].name);
                s->topics[i].min_isr = e ? e->min_isr : -1;
        }
}
