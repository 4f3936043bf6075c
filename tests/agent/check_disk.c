/* Suite for the disk watch's pure core (agent/disk.c): log.dirs parsing, the free-space
 * threshold, which folders are replicas, folding statvfs and DescribeLogDirs findings into
 * the view, the log_dirs readiness check and the disk condition; and how /status and
 * /metrics show them (agent/render.c). */
#include <check.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kpa/disk.h"
#include "kpa/render.h"
#include "testutil.h"

START_TEST(disk_log_dirs_parse_like_kafka) {
        char dirs[4][DISK_PATH_MAX], err[256] = "";
        int n = -1;
        ck_assert_int_eq(disk_parse_log_dirs(" /a/kafka-logs , /b,,/c ", dirs, 4, &n, err, sizeof err), 0);
        ck_assert_int_eq(n, 3);
        ck_assert_str_eq(dirs[0], "/a/kafka-logs");
        ck_assert_str_eq(dirs[1], "/b");
        ck_assert_str_eq(dirs[2], "/c");
        ck_assert_int_eq(disk_parse_log_dirs("/a,data", dirs, 4, &n, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "log dir \"data\" is not an absolute path of at most 1023 bytes");
        ck_assert_int_eq(disk_parse_log_dirs("/a,/b,/c,/d,/e", dirs, 4, &n, err, sizeof err), -EINVAL);
        ck_assert_str_eq(err, "more than 4 log dirs");
        ck_assert_int_eq(disk_parse_log_dirs("", dirs, 4, &n, err, sizeof err), 0);
        ck_assert_int_eq(n, 0);
}
END_TEST

START_TEST(disk_low_is_strictly_under_the_percent_of_bytes_or_inodes) {
        ck_assert(!disk_is_low(10, 100, 10));
        ck_assert(disk_is_low(9, 100, 10));
        ck_assert(!disk_is_low(0, 100, 0));          /* 0: no threshold */
        ck_assert(!disk_is_low(0, 0, 10));           /* no inode limit (f_files 0) */
        ck_assert(disk_is_low(UINT64_MAX / 10 - 1, UINT64_MAX, 10));   /* no overflow */
        ck_assert(!disk_is_low(UINT64_MAX, UINT64_MAX, 99));
}
END_TEST

START_TEST(disk_partition_folders_are_topic_dash_number_only) {
        ck_assert(disk_is_partition_folder("orders-0"));
        ck_assert(disk_is_partition_folder("my-topic-12"));
        ck_assert(!disk_is_partition_folder("orders-0.5f1d2b3c4d5e4f60a1b2c3d4e5f60718-delete"));
        ck_assert(!disk_is_partition_folder("orders-0.5f1d2b3c4d5e4f60a1b2c3d4e5f60718-future"));
        ck_assert(!disk_is_partition_folder("orders-0.5f1d2b3c4d5e4f60a1b2c3d4e5f60718-stray"));
        ck_assert(!disk_is_partition_folder("__cluster_metadata-0"));
        ck_assert(!disk_is_partition_folder("meta.properties"));
        ck_assert(!disk_is_partition_folder("-0"));
        ck_assert(!disk_is_partition_folder("orders-"));
}
END_TEST

START_TEST(disk_lists_the_replicas_of_a_dir_and_says_why_it_cannot) {
        char *dir = tu_mkdtemp();
        char p[1200];
        const char *names[] = { "t-0", "t-1", "u-3", "t-2.abc-delete", "__cluster_metadata-0" };
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
                snprintf(p, sizeof p, "%s/%s", dir, names[i]);
                ck_assert_int_eq(mkdir(p, 0755), 0);
        }
        tu_write(dir, "x-9", "a file, not a folder");
        struct disk_sample *s = calloc(1, sizeof *s);
        ck_assert_int_eq(disk_list_replicas(dir, s, 2), 0);
        ck_assert_int_eq(s->offline_replicas[2], 3);
        ck_assert_int_eq(s->n_shown[2], 3);
        ck_assert_str_eq(s->list_error[2], "");
        snprintf(p, sizeof p, "%s/missing", dir);
        ck_assert_int_eq(disk_list_replicas(p, s, 1), -ENOENT);
        ck_assert_int_eq(s->offline_replicas[1], -1);
        ck_assert(strstr(s->list_error[1], "No such file or directory") != NULL);
        free(s);
        tu_rmtree(dir);
        free(dir);
}
END_TEST

/* A view over two dirs, with the first round's findings: /data/a 50 of 100 bytes free,
 * /data/b 5 of 100 (under 10%), Kafka saying /data/b is offline with 2 replicas. */
static struct disk_view *view_two_dirs(bool answered) {
        struct disk_view *v = calloc(1, sizeof *v);
        v->warn_free_percent = 10;
        v->asks_kafka = true;
        struct disk_sample *s = calloc(1, sizeof *s);
        s->n_dirs = 2;
        snprintf(s->dirs[0].path, DISK_PATH_MAX, "/data/a");
        snprintf(s->dirs[1].path, DISK_PATH_MAX, "/data/b");
        for (int i = 0; i < 2; i++) {
                s->dirs[i].have_statfs = true;
                s->dirs[i].total_bytes = 100;
                s->dirs[i].total_inodes = 1000;
                s->dirs[i].free_inodes = 900;
        }
        s->dirs[0].free_bytes = 50;
        s->dirs[1].free_bytes = 5;
        s->asked = true;
        s->at_unix_ms = 1714564800123;
        if (answered) {
                s->answer.n_dirs = 2;
                /* Kafka's absolute path of an entry given with a trailing slash has none. */
                snprintf(s->answer.dirs[0].path, KWIRE_LOGDIRS_PATH_MAX, "/data/a");
                snprintf(s->answer.dirs[1].path, KWIRE_LOGDIRS_PATH_MAX, "//data/b/");
                s->answer.dirs[0].total_bytes = 100;
                s->answer.dirs[0].usable_bytes = 50;
                s->answer.dirs[1].error_code = KWIRE_ERR_KAFKA_STORAGE_ERROR;
                s->answer.dirs[1].total_bytes = s->answer.dirs[1].usable_bytes = -1;
                s->offline_replicas[1] = 2;
                s->n_shown[1] = 2;
                snprintf(s->shown[1][0], DISK_REPLICA_NAME_MAX, "t-0");
                snprintf(s->shown[1][1], DISK_REPLICA_NAME_MAX, "u-\"1");
        } else {
                s->rc = -ECONNREFUSED;
                snprintf(s->error, sizeof s->error, "DescribeLogDirs to h:9092: connection refused");
        }
        disk_fold(v, s);
        free(s);
        return v;
}

START_TEST(disk_fold_marks_low_and_offline_dirs_and_counts_replicas) {
        struct disk_view *v = view_two_dirs(true);
        ck_assert_int_eq(v->n_dirs, 2);
        ck_assert(!v->dirs[0].low);
        ck_assert(v->dirs[1].low);
        ck_assert_int_eq(v->low_dirs, 1);
        ck_assert(v->kafka_known);
        ck_assert_int_eq(v->dirs[0].state, DISK_DIR_ONLINE);
        ck_assert_int_eq(v->dirs[0].kafka_usable_bytes, 50);
        ck_assert_int_eq(v->dirs[0].offline_replicas, -1);
        ck_assert_int_eq(v->dirs[1].state, DISK_DIR_OFFLINE);
        ck_assert_int_eq(v->dirs[1].offline_replicas, 2);
        ck_assert_int_eq(v->offline_dirs, 1);
        ck_assert_int_eq(v->offline_replicas, 2);

        struct check_result c;
        disk_readiness(v, &c);
        ck_assert(c.applies);
        ck_assert(!c.ok);
        ck_assert_str_eq(c.detail, "1 of 2 log dirs offline: /data/b (KAFKA_STORAGE_ERROR, 2 replicas)");
        char why[512];
        ck_assert(!disk_condition(v, why, sizeof why));
        ck_assert_str_eq(why, "/data/b is offline");

        /* The next round finds Kafka silent: its states become unknown, and so do the
         * replicas; statvfs still counts. */
        struct disk_sample *s = calloc(1, sizeof *s);
        s->n_dirs = 2;
        memcpy(s->dirs, v->dirs, sizeof s->dirs[0] * 2);
        s->asked = true;
        s->rc = -ETIMEDOUT;
        snprintf(s->error, sizeof s->error, "DescribeLogDirs to h:9092: timed out");
        disk_fold(v, s);
        ck_assert(!v->kafka_known);
        ck_assert_int_eq(v->dirs[1].state, DISK_DIR_UNKNOWN);
        ck_assert_int_eq(v->offline_dirs, 0);
        ck_assert_int_eq(v->kafka_at_unix_ms, 1714564800123);   /* the last answer's time stays */
        disk_readiness(v, &c);
        ck_assert(c.ok);
        ck_assert_str_eq(c.detail, "not counted: the log dirs' state is unknown (DescribeLogDirs to h:9092: timed out)");
        ck_assert(!disk_condition(v, why, sizeof why));
        ck_assert_str_eq(why, "/data/b has 5 of 100 bytes and 900 of 1000 inodes free (under 10%)");
        /* A round that does not ask Kafka keeps its states. */
        s->asked = false;
        disk_fold(v, s);
        ck_assert_str_eq(v->kafka_error, "DescribeLogDirs to h:9092: timed out");
        free(s);
        free(v);
}
END_TEST

START_TEST(disk_readiness_applies_only_to_a_broker_with_dirs_and_passes_when_all_online) {
        struct check_result c;
        disk_readiness(NULL, &c);
        ck_assert(!c.applies);
        struct disk_view *v = view_two_dirs(true);
        v->asks_kafka = false;                 /* a controller-only node */
        disk_readiness(v, &c);
        ck_assert(!c.applies);
        v->asks_kafka = true;
        v->dirs[1].state = DISK_DIR_ONLINE;
        v->offline_dirs = 0;
        disk_readiness(v, &c);
        ck_assert(c.applies && c.ok);
        ck_assert_str_eq(c.detail, "2 log dirs online");
        /* A top-level error (the agent may not describe the cluster) is an unknown state. */
        struct disk_sample *s = calloc(1, sizeof *s);
        s->n_dirs = 2;
        memcpy(s->dirs, v->dirs, sizeof s->dirs[0] * 2);
        s->asked = true;
        s->answer.error_code = 31;
        disk_fold(v, s);
        free(s);
        disk_readiness(v, &c);
        ck_assert(c.ok);
        ck_assert_str_eq(c.detail, "not counted: the log dirs' state is unknown (the broker answered "
                                   "DescribeLogDirs with CLUSTER_AUTHORIZATION_FAILED (31))");
        free(v);
}
END_TEST

START_TEST(disk_status_and_metrics_show_every_dir) {
        struct disk_view *v = view_two_dirs(true);
        struct health h;
        health_init(&h, 0);
        struct verdict vd = { 0 };
        struct agent_status st = { .node_id = 1, .version = "0.1.0", .health = &h, .verdict = &vd,
                                   .answered_by = -1, .rtt_ms = -1, .disk = v };
        struct dynbuf b;
        dynbuf_init(&b, RENDER_MAX_BYTES);
        ck_assert_int_eq(render_status_json(&st, &b), 0);
        cJSON *j = cJSON_Parse(dynbuf_str(&b));
        ck_assert(j);
        cJSON *d = cJSON_GetObjectItem(j, "disk");
        char *text = cJSON_PrintUnformatted(d);
        ck_assert_str_eq(text,
                "{\"ok\":false,\"detail\":\"/data/b is offline\",\"warn_free_percent\":10,\"low_dirs\":1,"
                "\"kafka\":{\"asked\":true,\"known\":true,\"error\":null,\"at\":\"2024-05-01T12:00:00.123Z\"},"
                "\"offline_dirs\":1,\"offline_replicas\":2,\"log_dirs\":["
                "{\"dir\":\"/data/a\",\"free_bytes\":50,\"total_bytes\":100,\"free_inodes\":900,\"total_inodes\":1000,"
                "\"low\":false,\"state\":\"online\",\"kafka_error\":null,\"kafka_usable_bytes\":50,\"kafka_total_bytes\":100},"
                "{\"dir\":\"/data/b\",\"free_bytes\":5,\"total_bytes\":100,\"free_inodes\":900,\"total_inodes\":1000,"
                "\"low\":true,\"state\":\"offline\",\"kafka_error\":\"KAFKA_STORAGE_ERROR\",\"offline_replicas\":2,"
                "\"replicas\":[\"t-0\",\"u-\\\"1\"]}]}");
        free(text);
        cJSON_Delete(j);
        dynbuf_free(&b);

        dynbuf_init(&b, RENDER_MAX_BYTES);
        ck_assert_int_eq(render_metrics(&st, &b), 0);
        const char *m = dynbuf_str(&b);
        const char *want[] = {
                "kpa_log_dir_free_bytes{dir=\"/data/a\"} 50\n",
                "kpa_log_dir_free_bytes{dir=\"/data/b\"} 5\n",
                "kpa_log_dir_total_bytes{dir=\"/data/b\"} 100\n",
                "kpa_log_dir_free_inodes{dir=\"/data/b\"} 900\n",
                "kpa_log_dir_total_inodes{dir=\"/data/b\"} 1000\n",
                "kpa_log_dir_low{dir=\"/data/a\"} 0\n",
                "kpa_log_dir_low{dir=\"/data/b\"} 1\n",
                "kpa_disk_ok 0\n",
                "kpa_log_dirs_known 1\n",
                "kpa_log_dir_offline{dir=\"/data/a\"} 0\n",
                "kpa_log_dir_offline{dir=\"/data/b\"} 1\n",
                "kpa_log_dir_offline_replicas{dir=\"/data/b\"} 2\n",
                "kpa_offline_replicas 2\n",
                "# TYPE kpa_log_dir_free_bytes gauge\n",
        };
        for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
                ck_assert_msg(strstr(m, want[i]) != NULL, "no \"%s\" in:\n%s", want[i], m);
        ck_assert(strstr(m, "kpa_log_dir_offline_replicas{dir=\"/data/a\"}") == NULL);
        dynbuf_free(&b);

        /* A dir statvfs could not measure has no size series, and the condition says why. */
        v->dirs[0].have_statfs = false;
        snprintf(v->dirs[0].statfs_error, sizeof v->dirs[0].statfs_error, "statvfs: Permission denied");
        dynbuf_init(&b, RENDER_MAX_BYTES);
        ck_assert_int_eq(render_metrics(&st, &b), 0);
        ck_assert(strstr(dynbuf_str(&b), "kpa_log_dir_free_bytes{dir=\"/data/a\"}") == NULL);
        dynbuf_free(&b);
        char why[512];
        ck_assert(!disk_condition(v, why, sizeof why));
        ck_assert_str_eq(why, "/data/a: statvfs: Permission denied; /data/b is offline");
        free(v);
}
END_TEST

int main(void) {
        Suite *s = suite_create("disk");
        TCase *tc = tcase_create("disk");
        tcase_add_test(tc, disk_log_dirs_parse_like_kafka);
        tcase_add_test(tc, disk_low_is_strictly_under_the_percent_of_bytes_or_inodes);
        tcase_add_test(tc, disk_partition_folders_are_topic_dash_number_only);
        tcase_add_test(tc, disk_lists_the_replicas_of_a_dir_and_says_why_it_cannot);
        tcase_add_test(tc, disk_fold_marks_low_and_offline_dirs_and_counts_replicas);
        tcase_add_test(tc, disk_readiness_applies_only_to_a_broker_with_dirs_and_passes_when_all_online);
        tcase_add_test(tc, disk_status_and_metrics_show_every_dir);
        suite_add_tcase(s, tc);
        return tu_run_suite(s);
}
