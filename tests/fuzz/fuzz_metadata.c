/* librdkafka's Metadata result -> the agent's snapshot (agent/kafka.c
 * kafka_snapshot_from_metadata), over metadata synthesized from the input (brokers, topics,
 * partitions with replica and ISR lists, error codes, negative counts as librdkafka's ints
 * allow).
 *
 * Invariants: success gives a snapshot that mirrors the input exactly (broker ids, topic
 * names and errors, partition ids, leaders, errors, replica and ISR lists; a negative count
 * reads as empty) with answered_by recorded and min.insync.replicas unknown; snapshot_dup of
 * it is equal; everything is freed (no leak). */
#include <errno.h>
#include <librdkafka/rdkafka.h>

#include "fuzz.h"
#include "kpa/kafka.h"
#include "kpa/snapshot.h"

static int32_t *ids(struct fz *f, int *ret_cnt) {
        int cnt = (int) fz_range(f, -1, 6);
        int n = cnt > 0 ? cnt : 0;
        int32_t *v = fz_alloc((size_t) n * sizeof *v);
        for (int i = 0; i < n; i++)
                v[i] = (int32_t) fz_range(f, -2, 9);
        *ret_cnt = cnt;
        return v;
}

static void same_lists(const int32_t *a, int na, const int32_t *b, int nb) {
        int want = nb > 0 ? nb : 0;
        FUZZ_CHECK(na == want, "count %d, want %d", na, want);
        for (int i = 0; i < want; i++)
                FUZZ_CHECK(a[i] == b[i], "id %d: %d != %d", i, a[i], b[i]);
}

static void mirror(const struct snapshot *s, const rd_kafka_metadata_t *md, int32_t answered_by) {
        FUZZ_CHECK(s->answered_by == answered_by, "header");
        FUZZ_CHECK(s->n_brokers == md->broker_cnt && s->n_topics == md->topic_cnt, "counts");
        for (int i = 0; i < md->broker_cnt; i++)
                FUZZ_CHECK(s->brokers[i] == md->brokers[i].id, "broker %d", i);
        for (int t = 0; t < md->topic_cnt; t++) {
                const rd_kafka_metadata_topic_t *mt = &md->topics[t];
                const struct snap_topic *st = &s->topics[t];
                FUZZ_CHECK(strcmp(st->name, mt->topic) == 0 && st->err == mt->err && st->min_isr == -1, "topic %d", t);
                FUZZ_CHECK(st->n_partitions == (mt->partition_cnt > 0 ? mt->partition_cnt : 0), "partitions of %d", t);
                for (int p = 0; p < st->n_partitions; p++) {
                        const rd_kafka_metadata_partition_t *mp = &mt->partitions[p];
                        const struct snap_partition *sp = &st->partitions[p];
                        FUZZ_CHECK(sp->id == mp->id && sp->leader == mp->leader && sp->err == mp->err, "partition %d/%d", t, p);
                        same_lists(sp->replicas, sp->n_replicas, mp->replicas, mp->replica_cnt);
                        same_lists(sp->isr, sp->n_isr, mp->isrs, mp->isr_cnt);
                }
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct fz f = { data, size };
        rd_kafka_metadata_t md = { 0 };
        md.broker_cnt = (int) fz_range(&f, 0, 8);
        md.brokers = fz_alloc((size_t) md.broker_cnt * sizeof *md.brokers);
        for (int i = 0; i < md.broker_cnt; i++)
                md.brokers[i].id = (int32_t) fz_range(&f, -1, 9);
        md.topic_cnt = (int) fz_range(&f, 0, 6);
        md.topics = fz_alloc((size_t) md.topic_cnt * sizeof *md.topics);
        for (int t = 0; t < md.topic_cnt; t++) {
                rd_kafka_metadata_topic_t *mt = &md.topics[t];
                mt->topic = fz_str(&f, 32);
                mt->err = (rd_kafka_resp_err_t) fz_range(&f, -1, 120);
                mt->partition_cnt = (int) fz_range(&f, -1, 8);
                int n = mt->partition_cnt > 0 ? mt->partition_cnt : 0;
                mt->partitions = fz_alloc((size_t) n * sizeof *mt->partitions);
                for (int p = 0; p < n; p++) {
                        rd_kafka_metadata_partition_t *mp = &mt->partitions[p];
                        mp->id = (int32_t) fz_range(&f, -1, 20);
                        mp->leader = (int32_t) fz_range(&f, -1, 9);
                        mp->err = (rd_kafka_resp_err_t) fz_range(&f, 0, 120);
                        mp->replicas = ids(&f, &mp->replica_cnt);
                        mp->isrs = ids(&f, &mp->isr_cnt);
                }
        }
        int32_t answered_by = (int32_t) fz_range(&f, -1, 9);
        struct snapshot *s = NULL;
        char err[512];
        int r = kafka_snapshot_from_metadata(&md, answered_by, &s, err, sizeof err);
        FUZZ_CHECK(r == 0, "conversion failed: %d %s", r, err);
        mirror(s, &md, answered_by);
        struct snapshot *d = snapshot_dup(s);
        FUZZ_CHECK(d, "dup failed");
        mirror(d, &md, answered_by);
        snapshot_free(d);
        snapshot_free(s);
        for (int t = 0; t < md.topic_cnt; t++) {
                for (int p = 0; p < (md.topics[t].partition_cnt > 0 ? md.topics[t].partition_cnt : 0); p++) {
                        free(md.topics[t].partitions[p].replicas);
                        free(md.topics[t].partitions[p].isrs);
                }
                free(md.topics[t].partitions);
                free(md.topics[t].topic);
        }
        free(md.topics);
        free(md.brokers);
        return 0;
}
