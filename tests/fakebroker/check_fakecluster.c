/* The fake Kafka cluster as a C test sees it: driven through fakecluster.h, queried with
 * librdkafka's own Metadata and DescribeConfigs calls (the calls kpa-agent makes). */
#include <check.h>
#include <errno.h>
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fakecluster.h"
#include "testutil.h"

static char errbuf[1024];

static struct fakecluster *start(const char *const args[]) {
        struct fakecluster *fc = NULL;
        int r = fc_start(args, &fc, errbuf, sizeof errbuf);
        ck_assert_msg(r == 0, "%s", errbuf);
        return fc;
}

static void cmd(struct fakecluster *fc, const char *json) {
        int r = fc_cmd(fc, json, NULL, errbuf, sizeof errbuf);
        ck_assert_msg(r == 0, "%s", errbuf);
}

static rd_kafka_t *client(const struct fakecluster *fc, int32_t id) {
        char bootstrap[64], err[512];
        snprintf(bootstrap, sizeof bootstrap, "127.0.0.1:%d", fc_port(fc, id));
        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        ck_assert_int_eq(rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err),
                         RD_KAFKA_CONF_OK);
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
        ck_assert_msg(rk != NULL, "%s", err);
        return rk;
}

static const struct rd_kafka_metadata *metadata(rd_kafka_t *rk) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t err = rd_kafka_metadata(rk, 1, NULL, &md, 10000);
        ck_assert_msg(err == RD_KAFKA_RESP_ERR_NO_ERROR, "%s", rd_kafka_err2str(err));
        return md;
}

static const rd_kafka_metadata_partition_t *partition(const struct rd_kafka_metadata *md,
                                                      const char *topic, int32_t id) {
        for (int i = 0; i < md->topic_cnt; i++) {
                if (strcmp(md->topics[i].topic, topic) != 0)
                        continue;
                for (int j = 0; j < md->topics[i].partition_cnt; j++)
                        if (md->topics[i].partitions[j].id == id)
                                return &md->topics[i].partitions[j];
        }
        ck_abort_msg("no partition %s-%d in metadata", topic, id);
        return NULL;
}

/* "leader isr..." of one partition, for exact comparisons. */
static const char *describe(const rd_kafka_metadata_partition_t *p) {
        static char buf[256];
        int off = snprintf(buf, sizeof buf, "leader=%d isr=", p->leader);
        for (int i = 0; i < p->isr_cnt && off < (int) sizeof buf; i++)
                off += snprintf(buf + off, sizeof buf - (size_t) off, "%s%d", i ? "," : "", p->isrs[i]);
        return buf;
}

static int broker_ids(const struct rd_kafka_metadata *md) {
        int mask = 0;
        for (int i = 0; i < md->broker_cnt; i++)
                mask |= 1 << md->brokers[i].id;
        return mask;
}

START_TEST(librdkafka_metadata_shows_the_isr_set_through_control) {
        const char *args[] = { "--brokers", "3", "--topic", "orders:3:3:2", NULL };
        struct fakecluster *fc = start(args);
        cmd(fc, "{\"op\":\"set_isr\",\"topic\":\"orders\",\"partition\":1,\"isr\":[1]}");
        rd_kafka_t *rk = client(fc, 0);
        const struct rd_kafka_metadata *md = metadata(rk);
        ck_assert_int_eq(md->broker_cnt, 3);
        ck_assert_int_eq(md->orig_broker_id, 0);
        ck_assert_str_eq(describe(partition(md, "orders", 0)), "leader=0 isr=0,1,2");
        ck_assert_str_eq(describe(partition(md, "orders", 1)), "leader=1 isr=1");
        ck_assert_int_eq(partition(md, "orders", 1)->replica_cnt, 3);
        rd_kafka_metadata_destroy(md);
        rd_kafka_destroy(rk);
        fc_stop(fc);
}
END_TEST

START_TEST(librdkafka_describe_configs_reads_topic_and_broker_min_isr) {
        const char *args[] = { "--brokers", "2", "--min-isr", "1", "--topic", "orders:1:2:2", NULL };
        struct fakecluster *fc = start(args);
        rd_kafka_t *rk = client(fc, 0);
        rd_kafka_queue_t *q = rd_kafka_queue_new(rk);
        rd_kafka_ConfigResource_t *res[2] = {
                rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_TOPIC, "orders"),
                rd_kafka_ConfigResource_new(RD_KAFKA_RESOURCE_BROKER, "1"),
        };
        rd_kafka_DescribeConfigs(rk, res, 2, NULL, q);
        rd_kafka_event_t *ev = rd_kafka_queue_poll(q, 10000);
        ck_assert_ptr_nonnull(ev);
        ck_assert_msg(rd_kafka_event_error(ev) == 0, "%s", rd_kafka_event_error_string(ev));
        size_t n = 0;
        const rd_kafka_ConfigResource_t **got = rd_kafka_DescribeConfigs_result_resources(
                rd_kafka_event_DescribeConfigs_result(ev), &n);
        ck_assert_uint_eq(n, 2);
        char seen[256] = "";
        size_t off = 0;
        for (size_t i = 0; i < n; i++) {
                size_t m = 0;
                const rd_kafka_ConfigEntry_t **ce = rd_kafka_ConfigResource_configs(got[i], &m);
                ck_assert_uint_eq(m, 1);
                off += (size_t) snprintf(seen + off, sizeof seen - off, "%s/%s %s=%s %s;",
                                         rd_kafka_ResourceType_name(rd_kafka_ConfigResource_type(got[i])),
                                         rd_kafka_ConfigResource_name(got[i]),
                                         rd_kafka_ConfigEntry_name(ce[0]), rd_kafka_ConfigEntry_value(ce[0]),
                                         rd_kafka_ConfigSource_name(rd_kafka_ConfigEntry_source(ce[0])));
        }
        /* As Kafka 4.x with ELR answers: the broker's value is the cluster-level dynamic
         * default the first active controller wrote. */
        ck_assert_str_eq(seen, "TOPIC/orders min.insync.replicas=2 DYNAMIC_TOPIC_CONFIG;"
                               "BROKER/1 min.insync.replicas=1 DYNAMIC_DEFAULT_BROKER_CONFIG;");
        rd_kafka_event_destroy(ev);
        rd_kafka_ConfigResource_destroy_array(res, 2);
        rd_kafka_queue_destroy(q);
        rd_kafka_destroy(rk);
        fc_stop(fc);
}
END_TEST

START_TEST(restarted_broker_is_registered_before_it_rejoins_the_isr) {
        const char *args[] = { "--brokers", "3", "--topic", "orders:1:3:2",
                               "--dynamics", "lag_ms=0,catchup_ms=300", NULL };
        struct fakecluster *fc = start(args);
        rd_kafka_t *rk = client(fc, 0);

        cmd(fc, "{\"op\":\"broker\",\"id\":2,\"up\":false}");
        cmd(fc, "{\"op\":\"settle\"}");
        const struct rd_kafka_metadata *md = metadata(rk);
        ck_assert_int_eq(broker_ids(md), 0x3);
        ck_assert_str_eq(describe(partition(md, "orders", 0)), "leader=0 isr=0,1");
        rd_kafka_metadata_destroy(md);

        /* Back and listed, but still catching up: the window kpa-agent must not call ready. */
        cmd(fc, "{\"op\":\"broker\",\"id\":2,\"up\":true}");
        md = metadata(rk);
        ck_assert_int_eq(broker_ids(md), 0x7);
        ck_assert_str_eq(describe(partition(md, "orders", 0)), "leader=0 isr=0,1");
        rd_kafka_metadata_destroy(md);

        cmd(fc, "{\"op\":\"settle\"}");
        md = metadata(rk);
        ck_assert_str_eq(describe(partition(md, "orders", 0)), "leader=0 isr=0,1,2");
        rd_kafka_metadata_destroy(md);
        rd_kafka_destroy(rk);
        fc_stop(fc);
}
END_TEST

START_TEST(rejected_command_is_an_error_with_the_fakes_reason) {
        const char *args[] = { "--brokers", "1", NULL };
        struct fakecluster *fc = start(args);
        ck_assert_int_eq(fc_cmd(fc, "{\"op\":\"broker\",\"id\":7,\"up\":false}", NULL, errbuf, sizeof errbuf),
                         -EPROTO);
        ck_assert_ptr_nonnull(strstr(errbuf, "unknown broker 7"));
        cJSON *state = NULL;
        ck_assert_int_eq(fc_cmd(fc, "{\"op\":\"state\"}", &state, errbuf, sizeof errbuf), 0);
        const cJSON *brokers = cJSON_GetObjectItemCaseSensitive(state, "brokers");
        ck_assert_int_eq(cJSON_GetArraySize(brokers), 1);
        ck_assert_int_eq(cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(brokers, 0), "port")->valueint,
                         fc_port(fc, 0));
        cJSON_Delete(state);
        fc_stop(fc);
}
END_TEST

START_TEST(bad_arguments_fail_the_start_with_the_fakes_message) {
        const char *args[] = { "--brokers", "2", "--topic", "orders:1:3", NULL };
        struct fakecluster *fc = NULL;
        ck_assert_int_eq(fc_start(args, &fc, errbuf, sizeof errbuf), -EPIPE);
        ck_assert_ptr_null(fc);
}
END_TEST

int main(void) {
        Suite *s = suite_create("fakecluster");
        TCase *tc = tcase_create("fakecluster");
        tcase_set_timeout(tc, 60);
        tcase_add_test(tc, librdkafka_metadata_shows_the_isr_set_through_control);
        tcase_add_test(tc, librdkafka_describe_configs_reads_topic_and_broker_min_isr);
        tcase_add_test(tc, restarted_broker_is_registered_before_it_rejoins_the_isr);
        tcase_add_test(tc, rejected_command_is_an_error_with_the_fakes_reason);
        tcase_add_test(tc, bad_arguments_fail_the_start_with_the_fakes_message);
        suite_add_tcase(s, tc);
        return tu_run_suite(s);
}
