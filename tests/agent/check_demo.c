/* Suite for demo: the mock cluster behind `kpa-agent --demo`, in this process.
 *
 * librdkafka names the mock cluster's thread "rdk:mock" (/proc/self/task/TID/comm), so these
 * tests can look at that thread's signal mask and send a signal to it alone (tgkill), which
 * is what a burst of process signals ends up doing to the agent. */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "kpa/demo.h"
#include "testutil.h"

/* The id of this process's thread named name, or -1. */
static pid_t thread_named(const char *name) {
        DIR *d = opendir("/proc/self/task");
        struct dirent *e;
        pid_t found = -1;
        ck_assert_ptr_nonnull(d);
        while (found < 0 && (e = readdir(d)) != NULL) {
                char path[300], comm[64] = "";
                if (e->d_name[0] == '.')
                        continue;
                snprintf(path, sizeof path, "/proc/self/task/%s/comm", e->d_name);
                FILE *f = fopen(path, "r");
                if (!f)
                        continue;
                if (fgets(comm, sizeof comm, f)) {
                        comm[strcspn(comm, "\n")] = '\0';
                        if (strcmp(comm, name) == 0)
                                found = (pid_t) strtol(e->d_name, NULL, 10);
                }
                fclose(f);
        }
        closedir(d);
        return found;
}

/* The blocked-signal mask of thread tid, from /proc (bit n-1 is signal n). */
static unsigned long long blocked_of(pid_t tid) {
        char path[64], line[256];
        unsigned long long mask = 0;
        bool found = false;
        snprintf(path, sizeof path, "/proc/self/task/%d/status", (int) tid);
        FILE *f = fopen(path, "r");
        ck_assert_ptr_nonnull(f);
        while (!found && fgets(line, sizeof line, f))
                found = sscanf(line, "SigBlk: %llx", &mask) == 1;
        fclose(f);
        ck_assert(found);
        return mask;
}

static bool signal_in(unsigned long long mask, int sig) {
        return (mask >> (sig - 1)) & 1u;
}

static void on_usr1(int sig) {
        (void) sig;
}

/* Asks the demo cluster for its metadata on a fresh client: 0 when it answered. */
static int metadata_answered(struct demo *d) {
        char es[256];
        rd_kafka_conf_t *c = rd_kafka_conf_new();
        ck_assert_int_eq(rd_kafka_conf_set(c, "bootstrap.servers", demo_bootstraps(d), es, sizeof es), RD_KAFKA_CONF_OK);
        ck_assert_int_eq(rd_kafka_conf_set(c, "log_level", "0", es, sizeof es), RD_KAFKA_CONF_OK);
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, es, sizeof es);
        ck_assert_ptr_nonnull(rk);
        const rd_kafka_metadata_t *md = NULL;
        rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 0, NULL, &md, 5000);
        if (md)
                rd_kafka_metadata_destroy(md);
        rd_kafka_destroy(rk);
        return err ? -1 : 0;
}

START_TEST(the_mock_thread_blocks_the_agents_signals) {
        struct demo *d;
        char err[512];
        ck_assert_msg(demo_start(&(struct demo_opts){ 0 }, &d, err, sizeof err) == 0, "%s", err);
        pid_t mock = thread_named("rdk:mock");
        ck_assert_int_gt(mock, 0);
        unsigned long long mask = blocked_of(mock);
        ck_assert_msg(signal_in(mask, SIGHUP) && signal_in(mask, SIGTERM) && signal_in(mask, SIGINT) &&
                      signal_in(mask, SIGUSR1) && signal_in(mask, SIGPIPE),
                      "the mock thread blocks only %llx", mask);
        /* The caller's own mask is as it was. */
        ck_assert(!signal_in(blocked_of((pid_t) syscall(SYS_gettid)), SIGHUP));
        demo_stop(d);
}
END_TEST

START_TEST(a_signal_sent_to_the_mock_thread_leaves_the_cluster_serving) {
        struct demo *d;
        char err[512];
        /* A handler without SA_RESTART, as libuv's: a thread that takes the signal has its
         * blocking call interrupted. */
        struct sigaction sa = { .sa_handler = on_usr1 };
        sigemptyset(&sa.sa_mask);
        ck_assert_int_eq(sigaction(SIGUSR1, &sa, NULL), 0);
        ck_assert_msg(demo_start(&(struct demo_opts){ 0 }, &d, err, sizeof err) == 0, "%s", err);
        ck_assert_int_eq(metadata_answered(d), 0);
        pid_t mock = thread_named("rdk:mock");
        ck_assert_int_gt(mock, 0);
        /* Spaced out, so that each one would be taken on its own (a signal already pending
         * for the thread swallows the next); one that lands while the thread polls ends a
         * mock cluster whose thread takes signals. */
        for (int i = 0; i < 20; i++) {
                struct timespec gap = { 0, 10 * 1000000 };
                if (syscall(SYS_tgkill, getpid(), mock, SIGUSR1) != 0)
                        break;
                nanosleep(&gap, NULL);
        }
        ck_assert_msg(thread_named("rdk:mock") == mock, "the mock cluster's thread ended after a signal");
        ck_assert_int_eq(metadata_answered(d), 0);
        demo_stop(d);
}
END_TEST

int main(void) {
        Suite *s = suite_create("demo");
        TCase *tc = tcase_create("signals");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, the_mock_thread_blocks_the_agents_signals);
        tcase_add_test(tc, a_signal_sent_to_the_mock_thread_leaves_the_cluster_serving);
        suite_add_tcase(s, tc);
        return tu_run_suite(s);
}
