/* Measures what a check costs: kafka_check (fresh handle bootstrapped on the local listener,
 * Metadata, conversion to a snapshot, destroy) against a bare rd_kafka_metadata() on a
 * persistent handle, on the mock cluster. Not a test; build by hand (see the report). */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "kpa/demo.h"
#include "kpa/kafka.h"
#include "kpa/log.h"

static int cmp(const void *a, const void *b) {
        uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
        return x < y ? -1 : x > y;
}

static void report(const char *what, uint64_t *us, int n) {
        qsort(us, (size_t) n, sizeof *us, cmp);
        uint64_t sum = 0;
        for (int i = 0; i < n; i++)
                sum += us[i];
        printf("  %-34s median %7.2f ms  p90 %7.2f ms  mean %7.2f ms\n", what, us[n / 2] / 1000.0,
               us[n * 9 / 10] / 1000.0, sum / 1000.0 / n);
}

static uint64_t now_us(void) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        return (uint64_t) ts.tv_sec * 1000000 + (uint64_t) ts.tv_nsec / 1000;
}

int main(int argc, char **argv) {
        int rounds = argc > 1 ? atoi(argv[1]) : 50;
        log_setup("bench", LOG_LEVEL_ERROR);
        for (int scale = 0; scale < 2; scale++) {
                int n_topics = scale ? 100 : 10;
                struct demo_topic *t = calloc((size_t) n_topics, sizeof *t);
                char (*names)[32] = calloc((size_t) n_topics, sizeof *names);
                for (int i = 0; i < n_topics; i++) {
                        snprintf(names[i], sizeof names[i], "topic-%03d", i);
                        t[i] = (struct demo_topic){ names[i], 100, 3 };
                }
                char eb[512];
                struct demo *d;
                if (demo_start(&(struct demo_opts){ .topics = t, .n_topics = (size_t) n_topics },
                               &d, eb, sizeof eb)) {
                        fprintf(stderr, "%s\n", eb);
                        return 1;
                }
                printf("%d partitions (%d topics x 100, RF 3, 3 brokers):\n", n_topics * 100,
                       n_topics);
                struct kafka_conf *c;
                struct kafka_client *kc;
                kafka_conf_load(NULL, demo_bootstrap(d), &c, eb, sizeof eb);
                kafka_client_new(c, &(struct kafka_client_opts){ .timeout_ms = 5000, .local_id = 1 },
                                 &kc, eb, sizeof eb);
                uint64_t *us = calloc((size_t) rounds, sizeof *us);
                struct kafka_result r;
                kafka_check(kc, false, &r);   /* warm-up; also settles the configs cache */
                snapshot_free(r.snap);
                for (int i = 0; i < rounds; i++) {
                        uint64_t t0 = now_us();
                        kafka_check(kc, false, &r);
                        us[i] = now_us() - t0;
                        if (r.rc) {
                                fprintf(stderr, "check failed: %s\n", r.error);
                                return 1;
                        }
                        snapshot_free(r.snap);
                }
                report("kafka_check (fresh handle)", us, rounds);

                rd_kafka_conf_t *rc = rd_kafka_conf_new();
                char es[256];
                rd_kafka_conf_set(rc, "bootstrap.servers", demo_bootstrap(d), es, sizeof es);
                rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, rc, es, sizeof es);
                const rd_kafka_metadata_t *md;
                rd_kafka_metadata(rk, 1, NULL, &md, 5000);
                rd_kafka_metadata_destroy(md);
                for (int i = 0; i < rounds; i++) {
                        uint64_t t0 = now_us();
                        rd_kafka_metadata(rk, 1, NULL, &md, 5000);
                        us[i] = now_us() - t0;
                        rd_kafka_metadata_destroy(md);
                }
                report("rd_kafka_metadata (persistent)", us, rounds);
                for (int i = 0; i < rounds; i++) {
                        uint64_t t0 = now_us();
                        rd_kafka_conf_t *c2 = rd_kafka_conf_new();
                        rd_kafka_conf_set(c2, "bootstrap.servers", demo_bootstrap(d), es, sizeof es);
                        rd_kafka_t *rk2 = rd_kafka_new(RD_KAFKA_PRODUCER, c2, es, sizeof es);
                        rd_kafka_destroy(rk2);
                        us[i] = now_us() - t0;
                }
                report("rd_kafka_new + destroy (no I/O)", us, rounds);
                rd_kafka_destroy(rk);
                kafka_client_free(kc);
                free(us);
                demo_stop(d);
                free(t);
                free(names);
        }
        return 0;
}
