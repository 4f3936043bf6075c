/* A controller's verdict and stop gate (agent/quorum.c) and how /status and /metrics show them
 * (agent/render.c), from a quorum description, observation and bound built from the input.
 *
 * Invariants: the view is known exactly when the leader answer is sound (independently: no
 * error, a leader id >= 0, voters with distinct ids >= 0, an entry for the leader with its
 * clock); the caught-up voter count and the stop answer equal an independent count (the rule
 * in quorum.h); good <=> every applicable check passes, and exactly reachable, leader, voter,
 * caught_up apply; an unknown quorum never releases; every detail and reason is terminated;
 * /status parses back with cJSON and /metrics is line-oriented kpa_ text. */
#include <cjson/cJSON.h>

#include "fuzz.h"
#include "kpa/dynbuf.h"
#include "kpa/quorum.h"
#include "kpa/render.h"

static struct kwire_quorum q;

static const struct kwire_replica *find(const struct kwire_replica *v, int n, int32_t id) {
        for (int i = 0; i < n; i++)
                if (v[i].id == id)
                        return &v[i];
        return NULL;
}

static bool sound(void) {
        if (q.error_code || !q.have_partition || q.partition_error_code || q.leader_id < 0 || q.n_voters <= 0)
                return false;
        for (int i = 0; i < q.n_voters; i++) {
                if (q.voters[i].id < 0)
                        return false;
                for (int j = 0; j < i; j++)
                        if (q.voters[i].id == q.voters[j].id)
                                return false;
        }
        const struct kwire_replica *l = find(q.voters, q.n_voters, q.leader_id);
        if (!l)
                l = find(q.observers, q.n_observers_kept, q.leader_id);
        return l && l->last_caught_up_ms >= 0;
}

static int32_t small_id(struct fz *f) { return (int32_t) fz_range(f, -1, 6); }

static int64_t stamp(struct fz *f, int64_t now) {
        switch (fz_range(f, 0, 3)) {
        case 0: return -1;
        case 1: return now - fz_range(f, 0, 10000);
        case 2: return now + fz_range(f, 0, 100);
        default: return (int64_t) fz_u64(f);
        }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct fz f = { data, size };
        memset(&q, 0, sizeof q);
        int64_t now = fz_bool(&f) ? 1000000 : (int64_t) (fz_u64(&f) >> 2);   /* no overflow near the bounds */
        q.error_code = fz_range(&f, 0, 7) == 0 ? 31 : 0;
        q.have_partition = fz_range(&f, 0, 7) != 0;
        q.partition_error_code = fz_range(&f, 0, 7) == 0 ? 6 : 0;
        q.leader_id = small_id(&f);
        q.leader_epoch = (int32_t) fz_range(&f, 0, 100);
        q.high_watermark = fz_range(&f, -1, 1000);
        q.n_voters = (int) fz_range(&f, 0, 7);
        for (int i = 0; i < q.n_voters; i++) {
                struct kwire_replica *r = &q.voters[i];
                r->id = fz_bool(&f) ? i : small_id(&f);
                r->log_end_offset = fz_range(&f, -1, 1000);
                r->last_fetch_ms = stamp(&f, now);
                r->last_caught_up_ms = r->id == q.leader_id && fz_range(&f, 0, 3) ? now : stamp(&f, now);
        }
        q.n_observers = q.n_observers_kept = (int) fz_range(&f, 0, 3);
        if (fz_range(&f, 0, 7) == 0)
                q.n_observers = KWIRE_QUORUM_MAX_OBSERVERS + 1;
        for (int i = 0; i < q.n_observers_kept; i++)
                q.observers[i] = (struct kwire_replica){ small_id(&f), { 0 }, fz_range(&f, -1, 1000), stamp(&f, now), stamp(&f, now) };
        int32_t local = small_id(&f);
        if (local < 0)
                local = 0;
        struct quorum_policy p = { .caught_up_max_ms = (uint64_t) fz_range(&f, 1, 10000) };
        bool have_leader = fz_range(&f, 0, 5) != 0;
        struct quorum_observation o = { .local_answered = fz_bool(&f), .local_error = "refused",
                                        .leader = have_leader ? &q : NULL, .leader_error = "none answered" };
        struct assessment a;
        struct quorum_view v;
        struct quorum_stop s;
        quorum_assess(&o, local, &p, &a, &v);
        quorum_stop_evaluate(&v, local, &s);

        for (int i = 0; i < CHECK_COUNT; i++)
                FUZZ_CHECK(memchr(a.checks[i].detail, '\0', sizeof a.checks[i].detail), "detail %d", i);
        FUZZ_CHECK(memchr(s.reason, '\0', sizeof s.reason) && s.reason[0], "reason");
        bool all_ok = true;
        for (int i = 0; i < CHECK_COUNT; i++) {
                bool applies = i == CHECK_REACHABLE || i == CHECK_LEADER || i == CHECK_VOTER || i == CHECK_CAUGHT_UP;
                FUZZ_CHECK(a.checks[i].applies == applies, "check %d applies %d", i, a.checks[i].applies);
                if (applies && !a.checks[i].ok)
                        all_ok = false;
        }
        FUZZ_CHECK(a.good == all_ok, "good %d", a.good);
        FUZZ_CHECK(a.reachable == o.local_answered && a.checks[CHECK_REACHABLE].ok == o.local_answered, "reachable");
        FUZZ_CHECK(v.known == (have_leader && sound()), "known %d", v.known);
        if (!v.known) {
                FUZZ_CHECK(!s.safe && !a.good, "released or ready on an unknown quorum");
        } else {
                const struct kwire_replica *l = find(q.voters, q.n_voters, q.leader_id);
                if (!l)
                        l = find(q.observers, q.n_observers_kept, q.leader_id);
                int64_t lnow = l->last_caught_up_ms;
                int up = 0, up_others = 0;
                for (int i = 0; i < q.n_voters; i++) {
                        const struct kwire_replica *r = &q.voters[i];
                        int64_t age = r->last_caught_up_ms < 0 ? -1 : r->last_caught_up_ms >= lnow ? 0 : lnow - r->last_caught_up_ms;
                        bool u = r->id == q.leader_id || (age >= 0 && (uint64_t) age <= p.caught_up_max_ms);
                        up += u;
                        up_others += u && r->id != local;
                }
                FUZZ_CHECK(v.caught_up_voters == up, "caught up %d, expected %d", v.caught_up_voters, up);
                int maj = q.n_voters / 2 + 1;
                bool voter = find(q.voters, q.n_voters, local) != NULL;
                bool observer = !voter && find(q.observers, q.n_observers_kept, local) != NULL;
                bool unknown = !voter && !observer && q.n_observers > q.n_observers_kept;
                bool want = voter ? (q.n_voters - 1 < maj || up_others >= maj) : !unknown;
                FUZZ_CHECK(s.safe == want, "safe %d, expected %d: %s", s.safe, want, s.reason);
        }

        struct health h;
        struct verdict vd;
        struct health_policy hp = { .subject = "controller", .ready_after = 1, .stale_after_ms = 10000, .liveness_window_ms = 60000 };
        health_init(&h, 0);
        health_record(&h, &a, 100);
        health_verdict(&h, &hp, 200, &vd);
        FUZZ_CHECK(vd.ready == a.good, "ready %d good %d", vd.ready, a.good);
        struct agent_status st = { .node_id = local, .bootstrap = "ctl:9093", .version = "0", .health = &h, .verdict = &vd,
                                   .answered_by = -1, .rtt_ms = 1, .quorum = &v, .quorum_stop = &s };
        struct dynbuf b;
        dynbuf_init(&b, RENDER_MAX_BYTES);
        FUZZ_CHECK(render_status_json(&st, &b) == 0, "status");
        cJSON *j = cJSON_Parse(dynbuf_str(&b));
        FUZZ_CHECK(j && cJSON_IsBool(cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(j, "quorum"), "known")),
                   "status does not parse: %s", dynbuf_str(&b));
        cJSON_Delete(j);
        dynbuf_free(&b);
        dynbuf_init(&b, RENDER_MAX_BYTES);
        FUZZ_CHECK(render_metrics(&st, &b) == 0, "metrics");
        for (const char *line = dynbuf_str(&b); *line;) {
                FUZZ_CHECK(strncmp(line, "kpa_", 4) == 0 || strncmp(line, "# ", 2) == 0, "line %.40s", line);
                const char *nl = strchr(line, '\n');
                FUZZ_CHECK(nl, "unterminated line");
                line = nl + 1;
        }
        dynbuf_free(&b);
        return 0;
}
