/* The agent's decisions and answers over a random snapshot (agent/verdict.c, canroll.c,
 * render.c, snapshot.c): the input builds a snapshot with bounded counts and small node ids
 * (so that the local id is often among the replicas), then a few checks are recorded and a
 * probe is answered at a time taken from the input.
 *
 * Invariants:
 * - assessment: hosted == in_sync + lagging + offline, each equal to an independent count;
 *   n_lag + lag_more == lagging with n_lag <= VERDICT_LAGGING_MAX; good == every applicable
 *   check ok; no snapshot means not reachable and not good; details are NUL-terminated;
 * - verdict: ready implies every applicable check ok (fresh and consecutive included), the
 *   last assessment good, and a check no older than stale_after; live only after the broker's
 *   first answer, and then within the liveness window of its last one;
 * - canroll: with a snapshot, safe == (blocking == 0) and blocking equals an independent
 *   count of Strimzi's rule, an unknown min.insync.replicas blocking (see canroll.h); no
 *   snapshot is never safe;
 * - renderers: every answer fits in RENDER_MAX_BYTES; probes answer 200 exactly when
 *   ready/live, with no control character but '\n'; /status parses back with cJSON with the
 *   same ready, live and partition counts; /metrics lists one kpa_lagging_partition line per
 *   listed lagging partition, every line ends in '\n', and the whole text is well-formed UTF-8
 *   (glibc's iconv is the judge) with no control character (C0, DEL, C1) but those line ends;
 * - snapshot_dup gives an equal deep copy. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <iconv.h>
#include <inttypes.h>

#include "fuzz.h"
#include "kpa/canroll.h"
#include "kpa/render.h"
#include "kpa/snapshot.h"
#include "kpa/verdict.h"

#define MAX_BROKERS 8
#define MAX_TOPICS 6
#define MAX_PARTITIONS 10
#define MAX_REPLICAS 6

/* Node ids from -1 to 6, now and then any 32-bit value. */
static int32_t node_id(struct fz *f) {
        uint8_t b = fz_u8(f);
        return b < 240 ? (int32_t) (b % 8) - 1 : (int32_t) fz_u32(f);
}

static int32_t *ids(struct fz *f, int *ret_n) {
        int n = (int) fz_range(f, 0, MAX_REPLICAS);
        int32_t *v = n ? fz_alloc((size_t) n * sizeof *v) : NULL;
        for (int i = 0; i < n; i++)
                v[i] = node_id(f);
        *ret_n = n;
        return v;
}

static struct snapshot *snap_build(struct fz *f) {
        struct snapshot *s = fz_alloc(sizeof *s);
        s->brokers = ids(f, &s->n_brokers);
        s->controller_id = node_id(f);
        s->answered_by = node_id(f);
        s->n_topics = (int) fz_range(f, 0, MAX_TOPICS);
        s->topics = s->n_topics ? fz_alloc((size_t) s->n_topics * sizeof *s->topics) : NULL;
        for (int i = 0; i < s->n_topics; i++) {
                struct snap_topic *t = &s->topics[i];
                /* Kafka names are at most 249 characters; ours may be longer and hold anything. */
                t->name = fz_bool(f) ? fz_str(f, 300) : NULL;
                t->err = (int16_t) fz_range(f, 0, 5);
                t->min_isr = (int) fz_range(f, -1, 4);
                t->n_partitions = (int) fz_range(f, 0, MAX_PARTITIONS);
                t->partitions = t->n_partitions ? fz_alloc((size_t) t->n_partitions * sizeof *t->partitions) : NULL;
                for (int j = 0; j < t->n_partitions; j++) {
                        struct snap_partition *p = &t->partitions[j];
                        p->id = fz_bool(f) ? (int32_t) fz_u32(f) : j;
                        p->leader = node_id(f);
                        p->err = (int16_t) (fz_range(f, 0, 7) == 5 ? 5 : 0);
                        p->replicas = ids(f, &p->n_replicas);
                        p->isr = ids(f, &p->n_isr);
                }
        }
        return s;
}

static bool contains(const int32_t *v, int n, int32_t id) {
        for (int i = 0; i < n; i++)
                if (v[i] == id)
                        return true;
        return false;
}

static void check_details(const struct check_result *c) {
        for (int i = 0; i < CHECK_COUNT; i++)
                FUZZ_CHECK(memchr(c[i].detail, '\0', sizeof c[i].detail), "detail %d unterminated", i);
}

static void check_assessment(const struct snapshot *s, int32_t local, enum ready_scope scope,
                             const struct assessment *a) {
        check_details(a->checks);
        bool all_ok = true;
        for (int i = 0; i < CHECK_COUNT; i++)
                if (a->checks[i].applies && !a->checks[i].ok)
                        all_ok = false;
        FUZZ_CHECK(a->good == all_ok, "good %d, applicable checks ok %d", a->good, all_ok);
        FUZZ_CHECK(a->hosted == a->in_sync + a->lagging + a->offline, "hosted %d != %d + %d + %d",
                   a->hosted, a->in_sync, a->lagging, a->offline);
        FUZZ_CHECK(a->n_lag >= 0 && a->n_lag <= VERDICT_LAGGING_MAX && a->n_lag + a->lag_more == a->lagging,
                   "n_lag %d + lag_more %d != lagging %d", a->n_lag, a->lag_more, a->lagging);
        if (!s) {
                FUZZ_CHECK(!a->reachable && !a->good && a->hosted == 0, "no snapshot yet reachable/good");
                return;
        }
        FUZZ_CHECK(a->reachable, "snapshot but not reachable");
        int hosted = 0, offline = 0, in_sync = 0, partitions = 0, urp = 0;
        for (int i = 0; i < s->n_topics; i++)
                for (int j = 0; j < s->topics[i].n_partitions; j++) {
                        const struct snap_partition *p = &s->topics[i].partitions[j];
                        bool off = p->leader < 0 || p->err == 5;
                        partitions++;
                        urp += !off && p->n_isr < p->n_replicas;
                        if (!contains(p->replicas, p->n_replicas, local))
                                continue;
                        hosted++;
                        offline += off;
                        in_sync += !off && contains(p->isr, p->n_isr, local);
                }
        FUZZ_CHECK(a->hosted == hosted && a->offline == offline && a->in_sync == in_sync,
                   "counts %d/%d/%d, expected %d/%d/%d", a->hosted, a->offline, a->in_sync, hosted,
                   offline, in_sync);
        FUZZ_CHECK(a->checks[CHECK_CAUGHT_UP].ok == (a->lagging == 0), "caught_up vs lagging %d", a->lagging);
        FUZZ_CHECK(a->checks[CHECK_REGISTERED].ok == contains(s->brokers, s->n_brokers, local), "registered");
        if (scope == SCOPE_CLUSTER)
                FUZZ_CHECK(a->cluster_partitions == partitions && a->cluster_under_replicated == urp &&
                           a->checks[CHECK_CLUSTER_URP].ok == (urp == 0),
                           "cluster %d/%d, expected %d/%d", a->cluster_partitions, a->cluster_under_replicated,
                           partitions, urp);
}


static void check_canroll(const struct snapshot *s, int32_t local) {
        struct canroll_result cr;
        canroll_evaluate(s, local, &cr);
        FUZZ_CHECK(memchr(cr.reason, '\0', sizeof cr.reason) && cr.reason[0], "reason unterminated or empty");
        if (!s) {
                FUZZ_CHECK(!cr.safe && cr.blocking == 0, "safe without metadata");
                return;
        }
        FUZZ_CHECK(cr.safe == (cr.blocking == 0), "safe %d with %d blocking", cr.safe, cr.blocking);
        int blocking = 0, unknown = 0;
        for (int i = 0; i < s->n_topics; i++) {
                const struct snap_topic *t = &s->topics[i];
                int m = t->min_isr;
                for (int j = 0; j < t->n_partitions; j++) {
                        const struct snap_partition *p = &t->partitions[j];
                        if (!contains(p->replicas, p->n_replicas, local))
                                continue;
                        /* Unknown (below 1): fails closed, whatever the default. */
                        if (m < 1) {
                                blocking++;
                                unknown++;
                                continue;
                        }
                        if (p->n_replicas <= m)
                                continue;
                        if (p->n_isr < m || (p->n_isr == m && contains(p->isr, p->n_isr, local)))
                                blocking++;
                }
        }
        FUZZ_CHECK(cr.blocking == blocking && cr.unknown == unknown, "blocking %d (%d unknown), expected %d (%d)",
                   cr.blocking, cr.unknown, blocking, unknown);
}

static void check_dup(const struct snapshot *s) {
        struct snapshot *d = snapshot_dup(s);
        if (!s) {
                FUZZ_CHECK(!d, "dup of NULL");
                return;
        }
        FUZZ_CHECK(d, "snapshot_dup failed");
        FUZZ_CHECK(d->n_brokers == s->n_brokers && d->n_topics == s->n_topics &&
                   d->answered_by == s->answered_by && d->controller_id == s->controller_id, "snapshot header differs");
        FUZZ_CHECK(!s->n_brokers || memcmp(d->brokers, s->brokers, (size_t) s->n_brokers * 4) == 0, "brokers");
        for (int i = 0; i < s->n_topics; i++) {
                const struct snap_topic *a = &s->topics[i], *b = &d->topics[i];
                FUZZ_CHECK((!a->name && !b->name) || (a->name && b->name && strcmp(a->name, b->name) == 0),
                           "topic %d name", i);
                FUZZ_CHECK(a->n_partitions == b->n_partitions && a->min_isr == b->min_isr && a->err == b->err,
                           "topic %d", i);
                for (int j = 0; j < a->n_partitions; j++) {
                        const struct snap_partition *p = &a->partitions[j], *q = &b->partitions[j];
                        FUZZ_CHECK(p->id == q->id && p->leader == q->leader && p->err == q->err &&
                                   p->n_replicas == q->n_replicas && p->n_isr == q->n_isr &&
                                   (!p->n_replicas || memcmp(p->replicas, q->replicas, (size_t) p->n_replicas * 4) == 0) &&
                                   (!p->n_isr || memcmp(p->isr, q->isr, (size_t) p->n_isr * 4) == 0),
                                   "partition %d/%d", i, j);
                }
        }
        snapshot_free(d);
}

static void check_probe(const struct verdict *v, enum probe_kind kind, bool verbose) {
        struct dynbuf b;
        dynbuf_init(&b, RENDER_MAX_BYTES);
        int st = render_probe(v, kind, verbose, &b);
        bool pass = kind == PROBE_LIVEZ ? v->live : v->ready;
        FUZZ_CHECK(st == (pass ? 200 : 503), "probe %d answered %d", (int) kind, st);
        for (size_t i = 0; i < b.len; i++)
                FUZZ_CHECK((unsigned char) b.data[i] >= 0x20 || b.data[i] == '\n', "control byte in probe");
        dynbuf_free(&b);
}

static double num(const cJSON *o, const char *k) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, k);
        FUZZ_CHECK(cJSON_IsNumber(n), "\"%s\" is not a number", k);
        return n->valuedouble;
}

static void check_status(const struct agent_status *st) {
        struct dynbuf b;
        dynbuf_init(&b, RENDER_MAX_BYTES);
        int r = render_status_json(st, &b);
        FUZZ_CHECK(r == 0, "render_status_json: %d (length so far %zu)", r, b.len);
        cJSON *j = cJSON_ParseWithLength(b.data, b.len);
        FUZZ_CHECK(j, "status is not JSON: %s", dynbuf_str(&b));
        FUZZ_CHECK(cJSON_IsBool(cJSON_GetObjectItem(j, "ready")) &&
                   cJSON_IsTrue(cJSON_GetObjectItem(j, "ready")) == st->verdict->ready, "ready");
        FUZZ_CHECK(cJSON_IsTrue(cJSON_GetObjectItem(j, "live")) == st->verdict->live, "live");
        const struct assessment *a = &st->health->last;
        const cJSON *parts = cJSON_GetObjectItem(j, "partitions");
        FUZZ_CHECK(num(parts, "hosted") == a->hosted && num(parts, "lagging") == a->lagging &&
                   num(parts, "in_sync") == a->in_sync && num(parts, "offline") == a->offline, "partitions");
        FUZZ_CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(j, "lagging")) == a->n_lag, "lagging list");
        cJSON_Delete(j);
        dynbuf_free(&b);
}

/* Decodes UTF-8 text with glibc's iconv (which refuses overlong forms, surrogates and code
 * points past U+10FFFF) and checks that no character is a control character but '\n'. */
static void check_utf8_without_controls(const char *text, size_t len) {
        static iconv_t cd = (iconv_t) -1;
        if (cd == (iconv_t) -1 && (cd = iconv_open("UTF-32LE", "UTF-8")) == (iconv_t) -1)
                abort();
        iconv(cd, NULL, NULL, NULL, NULL);
        char *in = (char *) text;
        size_t in_left = len;
        while (in_left > 0) {
                uint32_t cps[256];
                char *out = (char *) cps;
                size_t out_left = sizeof cps;
                size_t r = iconv(cd, &in, &in_left, &out, &out_left);
                FUZZ_CHECK(r != (size_t) -1 || errno == E2BIG, "metrics are not UTF-8 at byte %zu", len - in_left);
                for (size_t i = 0; i < (sizeof cps - out_left) / 4; i++)
                        FUZZ_CHECK(cps[i] == '\n' || (cps[i] >= 0x20 && cps[i] < 0x7f) || cps[i] >= 0xa0,
                                   "control character U+%04X in the metrics", (unsigned) cps[i]);
        }
}

static void check_metrics(const struct agent_status *st) {
        struct dynbuf b;
        dynbuf_init(&b, RENDER_MAX_BYTES);
        int r = render_metrics(st, &b);
        FUZZ_CHECK(r == 0, "render_metrics: %d", r);
        FUZZ_CHECK(b.len > 0 && b.data[b.len - 1] == '\n', "metrics do not end in a newline");
        int lag_lines = 0;
        const char *p = b.data;
        while (p < b.data + b.len) {
                const char *nl = memchr(p, '\n', (size_t) (b.data + b.len - p));
                FUZZ_CHECK(nl, "unterminated line");
                lag_lines += strncmp(p, "kpa_lagging_partition{", 22) == 0;
                FUZZ_CHECK(p[0] == '#' || strncmp(p, "kpa_", 4) == 0, "line \"%.*s\"", (int) (nl - p), p);
                p = nl + 1;
        }
        FUZZ_CHECK(lag_lines == st->health->last.n_lag, "%d lagging lines for %d", lag_lines,
                   st->health->last.n_lag);
        check_utf8_without_controls(b.data, b.len);
        dynbuf_free(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct fz f = { data, size };
        int32_t local = node_id(&f);
        enum ready_scope scope = fz_bool(&f) ? SCOPE_CLUSTER : SCOPE_LOCAL;
        struct health_policy pol = {
                .ready_after = (unsigned) fz_range(&f, 0, 4),
                .stale_after_ms = fz_bool(&f) ? fz_u64(&f) : (uint64_t) fz_range(&f, 0, 20000),
                .liveness_window_ms = fz_bool(&f) ? fz_u64(&f) : (uint64_t) fz_range(&f, 0, 60000),
        };
        uint64_t now = fz_bool(&f) ? fz_u64(&f) : (uint64_t) fz_range(&f, 0, 100000);
        struct health h;
        health_init(&h, now);
        char *error = fz_str(&f, 600);
        int rounds = (int) fz_range(&f, 1, 4);
        for (int k = 0; k < rounds; k++) {
                struct snapshot *s = fz_bool(&f) ? snap_build(&f) : NULL;
                struct check_outcome o = { s, error };
                struct assessment a;
                verdict_assess(&o, local, scope, &a);
                check_assessment(s, local, scope, &a);
                check_canroll(s, local);
                check_dup(s);
                now += fz_bool(&f) ? fz_u32(&f) : (uint64_t) fz_range(&f, 0, 10000);
                health_record(&h, &a, now);
                snapshot_free(s);
        }
        uint64_t at = now + (fz_bool(&f) ? fz_u32(&f) : (uint64_t) fz_range(&f, 0, 30000));
        if (fz_bool(&f))
                at = now - (uint64_t) fz_range(&f, 0, 1000);   /* a clock that went back */
        struct verdict v;
        health_verdict(&h, &pol, at, &v);
        check_details(v.checks);
        FUZZ_CHECK(memchr(v.live_detail, '\0', sizeof v.live_detail), "live detail unterminated");
        if (v.ready) {
                for (int i = 0; i < CHECK_COUNT; i++)
                        FUZZ_CHECK(!v.checks[i].applies || v.checks[i].ok, "ready with %s failing",
                                   check_name((enum check_id) i));
                FUZZ_CHECK(h.have_last && h.last.good && h.consecutive_good >= pol.ready_after &&
                           (at < h.last_at_ms || at - h.last_at_ms <= pol.stale_after_ms),
                           "ready without a recent good check");
        }
        /* Before the broker's first answer it is starting, never live (the startupProbe waits). */
        bool live = h.ever_reachable &&
                    (at < h.last_reachable_ms || at - h.last_reachable_ms <= pol.liveness_window_ms);
        FUZZ_CHECK(v.live == live, "live %d", v.live);

        for (int kind = PROBE_LIVEZ; kind <= PROBE_READYZ; kind++) {
                check_probe(&v, (enum probe_kind) kind, false);
                check_probe(&v, (enum probe_kind) kind, true);
        }
        char *bootstrap = fz_str(&f, 300), *version = fz_str(&f, 64);
        struct agent_status st = {
                .node_id = local, .bootstrap = fz_bool(&f) ? bootstrap : NULL, .scope = scope,
                .version = fz_bool(&f) ? version : NULL, .health = &h, .verdict = &v,
                .last_check_unix_ms = (int64_t) fz_u64(&f), .last_check_duration_ms = fz_u64(&f),
                .last_error = fz_bool(&f) ? error : NULL, .answered_by = node_id(&f),
                .rtt_ms = (int64_t) fz_u64(&f), .last_success_unix_ms = (int64_t) fz_u64(&f),
        };
        check_status(&st);
        check_metrics(&st);
        free(bootstrap);
        free(version);
        free(error);
        return 0;
}
