/* What the broker process's Raft client started with (see include/kpa/raftstart.h). */
#include "kpa/raftstart.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "kpa/parse.h"

static const char MAGIC[] = "kpa-raft-start 1\n";

bool raftstart_same_process(int64_t a, int64_t b) {
        int64_t d = a > b ? a - b : b - a;
        return d <= RAFTSTART_SAME_PROCESS_MS;
}

void raftstart_observe(const struct raftstart_record *rec, int64_t start, int64_t stores_mtime_ms,
                       const struct carot_set *disk_trusts, const char *disk_serves, const char *disk_serial,
                       int64_t disk_not_before, int64_t disk_not_after, struct raftstart_state *ret) {
        struct raftstart_state s = { .process_known = start >= 0, .started_unix_ms = start };
        if (!s.process_known) {
                *ret = s;
                return;
        }
        s.current = start > stores_mtime_ms;
        if (s.current) {
                s.known = true;
                s.with.started_unix_ms = start;
                s.with.trusts = *disk_trusts;
                snprintf(s.with.serves, sizeof s.with.serves, "%s", disk_serves);
                snprintf(s.with.leaf_serial, sizeof s.with.leaf_serial, "%s", disk_serial);
                s.with.leaf_not_before = disk_serial[0] ? disk_not_before : 0;
                s.with.leaf_not_after = disk_serial[0] ? disk_not_after : 0;
                /* Rewritten only when it says something else: the record of this process
                 * keeps the start first reported (a later report differs by its round trip). */
                bool same = rec && raftstart_same_process(rec->started_unix_ms, start) &&
                            carot_set_equal(&rec->trusts, disk_trusts) && strcmp(rec->serves, disk_serves) == 0 &&
                            strcmp(rec->leaf_serial, s.with.leaf_serial) == 0 &&
                            rec->leaf_not_before == s.with.leaf_not_before &&
                            rec->leaf_not_after == s.with.leaf_not_after;
                if (same)
                        s.with.started_unix_ms = rec->started_unix_ms;
                s.write = !same;
        } else if (rec && raftstart_same_process(rec->started_unix_ms, start)) {
                s.known = true;
                s.with = *rec;
        }
        *ret = s;
}

bool raftstart_leaf_due(const struct raftstart_state *s, const char *disk_serial, int64_t disk_not_after,
                        int64_t now_unix, char *why, size_t whylen) {
        const struct raftstart_record *w = &s->with;
        if (!s->known || !w->leaf_serial[0] || !disk_serial[0] || strcmp(w->leaf_serial, disk_serial) == 0 ||
            disk_not_after <= w->leaf_not_after)
                return false;
        int64_t life = w->leaf_not_after - w->leaf_not_before;
        int64_t before = life / 6 > RAFTSTART_RENEW_MIN_S ? life / 6 : RAFTSTART_RENEW_MIN_S;
        if (w->leaf_not_after - now_unix > before)
                return false;
        char when[40];
        time_t t = (time_t) w->leaf_not_after;
        struct tm tm;
        if (!gmtime_r(&t, &tm) || strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                snprintf(when, sizeof when, "%" PRId64, w->leaf_not_after);
        snprintf(why, whylen, "the Raft client presents the leaf its process started with (serial %.80s), which %s at "
                 "%s (a sixth of its lifetime or less is left); the key store holds a renewed one (serial %.80s)",
                 w->leaf_serial, w->leaf_not_after <= now_unix ? "expired" : "expires", when, disk_serial);
        return true;
}

int raftstart_format(const struct raftstart_record *r, char *buf, size_t len) {
        if (r->started_unix_ms < 0 || r->trusts.n == 0)
                return -EINVAL;
        size_t used = 0;
        int n = snprintf(buf, len, "%sstarted_unix_ms=%" PRId64 "\ntrusts=", MAGIC, r->started_unix_ms);
        if (n < 0 || (size_t) n >= len)
                return -E2BIG;
        used = (size_t) n;
        for (size_t i = 0; i < r->trusts.n; i++) {
                n = snprintf(buf + used, len - used, "%s%s", i ? "," : "", r->trusts.fp[i]);
                if (n < 0 || (size_t) n >= len - used)
                        return -E2BIG;
                used += (size_t) n;
        }
        if (r->leaf_not_before < 0 || r->leaf_not_after < 0 || strchr(r->leaf_serial, ' ') ||
            strchr(r->leaf_serial, '\n'))
                return -EINVAL;
        n = snprintf(buf + used, len - used, "\nserves=%s\nleaf=%s %" PRId64 " %" PRId64 "\n",
                     r->serves[0] ? r->serves : "-", r->leaf_serial[0] ? r->leaf_serial : "-", r->leaf_not_before,
                     r->leaf_not_after);
        if (n < 0 || (size_t) n >= len - used)
                return -E2BIG;
        return (int) (used + (size_t) n);
}

/* The value of line "key=" at *p, up to the newline (excluded); advances past the newline. */
static int field(const char **p, const char *end, const char *key, char *ret, size_t retlen) {
        size_t k = strlen(key);
        if ((size_t) (end - *p) < k || memcmp(*p, key, k) != 0)
                return -EINVAL;
        const char *v = *p + k, *nl = memchr(v, '\n', (size_t) (end - v));
        if (!nl || (size_t) (nl - v) >= retlen)
                return -EINVAL;
        memcpy(ret, v, (size_t) (nl - v));
        ret[nl - v] = '\0';
        *p = nl + 1;
        return 0;
}

int raftstart_parse(const char *text, size_t len, struct raftstart_record *ret) {
        const char *p = text, *end = text + len;
        size_t m = sizeof MAGIC - 1;
        char num[32], list[CAROT_MAX_CAS * CAROT_FP_LEN + 1], serves[CAROT_FP_LEN + 1];
        struct raftstart_record r = { 0 };
        uint64_t t;
        if (len > RAFTSTART_STATE_MAX_BYTES || len < m || memcmp(p, MAGIC, m) != 0)
                return -EINVAL;
        p += m;
        char leaf[RAFTSTART_SERIAL_MAX + 32];
        uint64_t na;
        if (field(&p, end, "started_unix_ms=", num, sizeof num) < 0 || parse_u64(num, 0, INT64_MAX, &t) < 0 ||
            field(&p, end, "trusts=", list, sizeof list) < 0 || field(&p, end, "serves=", serves, sizeof serves) < 0 ||
            field(&p, end, "leaf=", leaf, sizeof leaf) < 0 || p != end)
                return -EINVAL;
        uint64_t nb;
        char *sp = strchr(leaf, ' '), *sp2 = sp ? strchr(sp + 1, ' ') : NULL;
        if (!sp || !sp2 || (size_t) (sp - leaf) >= sizeof r.leaf_serial)
                return -EINVAL;
        *sp = *sp2 = '\0';
        if (parse_u64(sp + 1, 0, INT64_MAX, &nb) < 0 || parse_u64(sp2 + 1, 0, INT64_MAX, &na) < 0)
                return -EINVAL;
        r.leaf_not_before = (int64_t) nb;
        if (strcmp(leaf, "-") != 0)
                memcpy(r.leaf_serial, leaf, (size_t) (sp - leaf) + 1);
        r.leaf_not_after = (int64_t) na;
        r.started_unix_ms = (int64_t) t;
        for (char *s = list; *s;) {
                char *comma = strchr(s, ',');
                if (comma)
                        *comma = '\0';
                if (carot_set_add(&r.trusts, s) < 0)
                        return -EINVAL;
                if (!comma)
                        break;
                s = comma + 1;
        }
        if (r.trusts.n == 0)
                return -EINVAL;
        if (strcmp(serves, "-") != 0) {
                struct carot_set one = { 0 };
                if (carot_set_add(&one, serves) < 0)
                        return -EINVAL;
                memcpy(r.serves, one.fp[0], CAROT_FP_LEN);
        }
        /* Only the canonical form (what raftstart_format writes): no duplicate CA, no leading
         * zero, no byte hidden after a NUL. */
        char back[RAFTSTART_STATE_MAX_BYTES];
        int n = raftstart_format(&r, back, sizeof back);
        if (n < 0 || (size_t) n != len || memcmp(back, text, len) != 0)
                return -EINVAL;
        *ret = r;
        return 0;
}
