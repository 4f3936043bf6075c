/* What the broker process's Raft client started with (see include/kpa/raftstart.h). */
#include "kpa/raftstart.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "kpa/parse.h"

static const char MAGIC[] = "kpa-raft-start 1\n";

bool raftstart_same_process(int64_t a, int64_t b) {
        int64_t d = a > b ? a - b : b - a;
        return d <= RAFTSTART_SAME_PROCESS_MS;
}

void raftstart_observe(const struct raftstart_record *rec, int64_t start, int64_t stores_mtime_ms,
                       const struct carot_set *disk_trusts, const char *disk_serves, struct raftstart_state *ret) {
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
                /* Rewritten only when it says something else: the record of this process
                 * keeps the start first reported (a later report differs by its round trip). */
                bool same = rec && raftstart_same_process(rec->started_unix_ms, start) &&
                            carot_set_equal(&rec->trusts, disk_trusts) && strcmp(rec->serves, disk_serves) == 0;
                if (same)
                        s.with.started_unix_ms = rec->started_unix_ms;
                s.write = !same;
        } else if (rec && raftstart_same_process(rec->started_unix_ms, start)) {
                s.known = true;
                s.with = *rec;
        }
        *ret = s;
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
        n = snprintf(buf + used, len - used, "\nserves=%s\n", r->serves[0] ? r->serves : "-");
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
        if (field(&p, end, "started_unix_ms=", num, sizeof num) < 0 || parse_u64(num, 0, INT64_MAX, &t) < 0 ||
            field(&p, end, "trusts=", list, sizeof list) < 0 || field(&p, end, "serves=", serves, sizeof serves) < 0 ||
            p != end)
                return -EINVAL;
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
