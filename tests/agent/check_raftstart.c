/* Suite for what a broker process's Raft client started with (raftstart.c): a process that
 * started after the stores' last write started with them, a record names the same process
 * across reports that differ by a round trip, an older process without a record is unknown,
 * and the record file round-trips exactly. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "kpa/raftstart.h"
#include "testutil.h"

static char A[CAROT_FP_LEN], B[CAROT_FP_LEN];

static void fps(void) {
        memset(A, 'a', 64);
        memset(B, 'b', 64);
        A[64] = B[64] = '\0';
}

static struct carot_set set_of(const char *x, const char *y) {
        struct carot_set s = { 0 };
        if (x)
                ck_assert_int_eq(carot_set_add(&s, x), 0);
        if (y)
                ck_assert_int_eq(carot_set_add(&s, y), 0);
        return s;
}

START_TEST(a_process_started_after_the_last_write_started_with_the_stores_and_is_recorded) {
        fps();
        struct carot_set disk = set_of(A, NULL);
        struct raftstart_state st;
        raftstart_observe(NULL, 10001, 10000, &disk, A, "0A1B", 1800000000 - 90 * 86400, 1800000000, &st);
        ck_assert(st.process_known && st.current && st.known && st.write);
        ck_assert_int_eq(st.with.started_unix_ms, 10001);
        ck_assert(carot_set_equal(&st.with.trusts, &disk));
        ck_assert_str_eq(st.with.serves, A);
        ck_assert_str_eq(st.with.leaf_serial, "0A1B");
        ck_assert_int_eq(st.with.leaf_not_after, 1800000000);
        /* The next report of the same process, 300 ms later by its round trip: nothing new to
         * write, and the start first recorded stays. */
        struct raftstart_record rec = st.with;
        raftstart_observe(&rec, 10301, 10000, &disk, A, "0A1B", 1800000000 - 90 * 86400, 1800000000, &st);
        ck_assert(st.current && st.known && !st.write);
        ck_assert_int_eq(st.with.started_unix_ms, 10001);
}
END_TEST

START_TEST(after_a_write_the_record_still_says_what_the_running_process_has) {
        fps();
        struct raftstart_record rec = { .started_unix_ms = 10001, .trusts = set_of(A, NULL) };
        snprintf(rec.serves, sizeof rec.serves, "%s", A);
        /* The trust store now holds A and B (written at 50000); the process is the same. */
        struct carot_set disk = set_of(A, B);
        struct raftstart_state st;
        raftstart_observe(&rec, 12000, 50000, &disk, A, "0A1B", 1800000000 - 90 * 86400, 1800000000, &st);
        ck_assert(st.process_known && !st.current && st.known && !st.write);
        ck_assert(carot_set_equal(&st.with.trusts, &rec.trusts));
        /* A new process (restarted at 80000): it started with A and B, recorded. */
        raftstart_observe(&rec, 80000, 50000, &disk, A, "0A1B", 1800000000 - 90 * 86400, 1800000000, &st);
        ck_assert(st.current && st.known && st.write);
        ck_assert(carot_set_equal(&st.with.trusts, &disk));
        ck_assert_int_eq(st.with.started_unix_ms, 80000);
}
END_TEST

START_TEST(an_older_process_without_its_record_or_no_probe_at_all_is_unknown) {
        fps();
        struct carot_set disk = set_of(A, B);
        struct raftstart_state st;
        raftstart_observe(NULL, 12000, 50000, &disk, A, "0A1B", 1800000000 - 90 * 86400, 1800000000, &st);
        ck_assert(st.process_known && !st.current && !st.known && !st.write);
        /* The record is of another process (more than RAFTSTART_SAME_PROCESS_MS apart). */
        struct raftstart_record rec = { .started_unix_ms = 12000 - RAFTSTART_SAME_PROCESS_MS - 1,
                                        .trusts = set_of(A, NULL) };
        raftstart_observe(&rec, 12000, 50000, &disk, A, "0A1B", 1800000000 - 90 * 86400, 1800000000, &st);
        ck_assert(!st.known);
        raftstart_observe(&rec, -1, 50000, &disk, A, "0A1B", 1800000000 - 90 * 86400, 1800000000, &st);
        ck_assert(!st.process_known && !st.known && !st.write);
        /* A start equal to the write is not after it. */
        raftstart_observe(NULL, 50000, 50000, &disk, A, "0A1B", 1800000000 - 90 * 86400, 1800000000, &st);
        ck_assert(!st.current && !st.known);
}
END_TEST

START_TEST(the_record_file_round_trips_exactly) {
        fps();
        struct raftstart_record rec = { .started_unix_ms = 1798761600123, .trusts = set_of(A, B) };
        snprintf(rec.serves, sizeof rec.serves, "%s", B);
        snprintf(rec.leaf_serial, sizeof rec.leaf_serial, "0A1B");
        rec.leaf_not_before = 1792224000;
        rec.leaf_not_after = 1800000000;
        char buf[RAFTSTART_STATE_MAX_BYTES];
        int n = raftstart_format(&rec, buf, sizeof buf);
        char want[400];
        snprintf(want, sizeof want, "kpa-raft-start 1\nstarted_unix_ms=1798761600123\ntrusts=%s,%s\nserves=%s\n"
                 "leaf=0A1B 1792224000 1800000000\n", A, B, B);
        ck_assert_str_eq(buf, want);
        ck_assert_int_eq(n, (int) strlen(want));
        struct raftstart_record back;
        ck_assert_int_eq(raftstart_parse(buf, (size_t) n, &back), 0);
        ck_assert_int_eq(back.started_unix_ms, rec.started_unix_ms);
        ck_assert(carot_set_equal(&back.trusts, &rec.trusts));
        ck_assert_str_eq(back.serves, B);
        ck_assert_str_eq(back.leaf_serial, "0A1B");
        ck_assert_int_eq(back.leaf_not_before, 1792224000);
        ck_assert_int_eq(back.leaf_not_after, 1800000000);
        /* No leaf: "-". */
        rec.serves[0] = '\0';
        rec.leaf_serial[0] = '\0';
        rec.leaf_not_before = rec.leaf_not_after = 0;
        n = raftstart_format(&rec, buf, sizeof buf);
        ck_assert(strstr(buf, "\nserves=-\nleaf=- 0 0\n"));
        ck_assert_int_eq(raftstart_parse(buf, (size_t) n, &back), 0);
        ck_assert_str_eq(back.serves, "");
        ck_assert_str_eq(back.leaf_serial, "");
        ck_assert_int_eq(raftstart_format(&rec, buf, 40), -E2BIG);
        rec.trusts.n = 0;
        ck_assert_int_eq(raftstart_format(&rec, buf, sizeof buf), -EINVAL);
}
END_TEST

START_TEST(a_damaged_record_file_is_refused) {
        fps();
        char buf[400];
        /* Each case: what comes before and after the trusts value. */
        const char *bad[][2] = {
                { "kpa-raft-start 2\nstarted_unix_ms=1\ntrusts=", "\nserves=-\nleaf=- 0 0\n" },
                { "kpa-raft-start 1\nstarted_unix_ms=x\ntrusts=", "\nserves=-\nleaf=- 0 0\n" },
                { "kpa-raft-start 1\nstarted_unix_ms=1\ntrusts=", "Z\nserves=-\nleaf=- 0 0\n" },
                { "kpa-raft-start 1\nstarted_unix_ms=1\ntrusts=", "\nserves=zz\nleaf=- 0 0\n" },
                { "kpa-raft-start 1\nstarted_unix_ms=1\ntrusts=", "\nserves=-\nleaf=- 0 0\nmore\n" },
                { "kpa-raft-start 1\nstarted_unix_ms=1\ntrusts=", "\nserves=-\nleaf=- 0 0" },
                { "kpa-raft-start 1\nstarted_unix_ms=1\ntrusts=", "\nserves=-\nleaf=0A1B\n" },
                { "kpa-raft-start 1\nstarted_unix_ms=1\ntrusts=", "\nserves=-\nleaf=0A1B 1 01\n" },
                { "kpa-raft-start 1\nstarted_unix_ms=1\ntrusts=", "\nserves=-\nleaf=0A1B 5\n" },
                { "kpa-raft-start 1\nstarted_unix_ms=1\ntrusts=", "\nserves=-\n" },
        };
        struct raftstart_record r;
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
                int n = snprintf(buf, sizeof buf, "%s%s%s", bad[i][0], A, bad[i][1]);
                ck_assert_msg(raftstart_parse(buf, (size_t) n, &r) == -EINVAL, "case %zu", i);
        }
        int n = snprintf(buf, sizeof buf, "kpa-raft-start 1\nstarted_unix_ms=1\ntrusts=%s\nserves=-\nleaf=0A1B 1 5\n", A);
        ck_assert_int_eq(raftstart_parse(buf, (size_t) n, &r), 0);
        const char *empty = "kpa-raft-start 1\nstarted_unix_ms=1\ntrusts=\nserves=-\nleaf=- 0 0\n";
        ck_assert_int_eq(raftstart_parse(empty, strlen(empty), &r), -EINVAL);
}
END_TEST

/* A same-CA renewal reaches the listeners only: the Raft client's leaf is renewed by a restart
 * once a sixth of its lifetime or less is left, never earlier, and only onto a leaf valid longer. */
START_TEST(the_raft_clients_leaf_is_due_for_a_restart_in_the_last_sixth_of_its_lifetime) {
        fps();
        struct carot_set disk = set_of(A, NULL);
        struct raftstart_state st;
        const int64_t day = 86400, exp = 1800000000;
        /* A 90-day leaf: due 15 days before it expires. */
        raftstart_observe(NULL, 10001, 10000, &disk, A, "0A1B", exp - 90 * day, exp, &st);
        char why[400] = "";
        /* Same leaf on disk: nothing to renew. */
        ck_assert(!raftstart_leaf_due(&st, "0A1B", exp, exp - day, why, sizeof why));
        /* Renewed on disk (at two thirds, cert-manager's default), 30 days left: not yet. */
        ck_assert(!raftstart_leaf_due(&st, "0C0D", exp + 60 * day, exp - 30 * day, why, sizeof why));
        ck_assert(!raftstart_leaf_due(&st, "0C0D", exp + 60 * day, exp - 15 * day - 1, why, sizeof why));
        ck_assert(raftstart_leaf_due(&st, "0C0D", exp + 60 * day, exp - 15 * day, why, sizeof why));
        ck_assert_str_eq(why, "the Raft client presents the leaf its process started with (serial 0A1B), which expires "
                         "at 2027-01-15T08:00:00Z (a sixth of its lifetime or less is left); the key store holds a "
                         "renewed one (serial 0C0D)");
        ck_assert(raftstart_leaf_due(&st, "0C0D", exp + 60 * day, exp + 1, why, sizeof why));
        ck_assert_ptr_nonnull(strstr(why, "which expired at"));
        /* A leaf on disk that expires no later: no restart onto it. */
        ck_assert(!raftstart_leaf_due(&st, "0C0D", exp, exp - day, why, sizeof why));
        /* A 2-hour leaf: still an hour ahead at least. */
        raftstart_observe(NULL, 10001, 10000, &disk, A, "0A1B", exp - 7200, exp, &st);
        ck_assert(!raftstart_leaf_due(&st, "0C0D", exp + 7200, exp - 3601, why, sizeof why));
        ck_assert(raftstart_leaf_due(&st, "0C0D", exp + 7200, exp - 3600, why, sizeof why));
        /* What the process started with unknown: no restart for it. */
        st.known = false;
        ck_assert(!raftstart_leaf_due(&st, "0C0D", exp + 60 * day, exp - day, why, sizeof why));
}
END_TEST

int main(void) {
        Suite *s = suite_create("raftstart");
        TCase *tc = tcase_create("observe");
        tcase_add_test(tc, a_process_started_after_the_last_write_started_with_the_stores_and_is_recorded);
        tcase_add_test(tc, after_a_write_the_record_still_says_what_the_running_process_has);
        tcase_add_test(tc, an_older_process_without_its_record_or_no_probe_at_all_is_unknown);
        tcase_add_test(tc, the_record_file_round_trips_exactly);
        tcase_add_test(tc, a_damaged_record_file_is_refused);
        tcase_add_test(tc, the_raft_clients_leaf_is_due_for_a_restart_in_the_last_sixth_of_its_lifetime);
        suite_add_tcase(s, tc);
        return tu_run_suite(s);
}
