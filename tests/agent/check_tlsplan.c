/* Suite for the pure decisions of a certificate rotation (tlsplan.c) and what /status and
 * /metrics show of it (tlsview.c). */
#include <check.h>
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kpa/carot.h"
#include "kpa/tlsplan.h"
#include "kpa/tlsview.h"
#include "testutil.h"

static const char *const ONE[] = { "INTERNAL" };
static const char *const TWO[] = { "INTERNAL", "MTLS" };
#define KS "/etc/kafka/kpa/keystore.p12"
#define TS "/etc/kafka/kpa/truststore.p12"

static struct tlsplan_entry entry(const char *name, const char *value, bool sensitive) {
        struct tlsplan_entry e = { .value = value, .sensitive = sensitive };
        snprintf(e.name, sizeof e.name, "%s", name);
        return e;
}

START_TEST(listener_keys_are_the_lower_cased_listener_prefix) {
        char ks[TLSPLAN_NAME_MAX], ts[TLSPLAN_NAME_MAX];
        ck_assert_int_eq(tlsplan_listener_keys("INTERNAL", ks, sizeof ks, ts, sizeof ts), 0);
        ck_assert_str_eq(ks, "listener.name.internal.ssl.keystore.location");
        ck_assert_str_eq(ts, "listener.name.internal.ssl.truststore.location");
        ck_assert_int_eq(tlsplan_listener_keys("", ks, sizeof ks, ts, sizeof ts), -EINVAL);
        ck_assert_int_eq(tlsplan_listener_keys("A.B", ks, sizeof ks, ts, sizeof ts), -EINVAL);
        ck_assert_int_eq(tlsplan_listener_keys("A=B", ks, sizeof ks, ts, sizeof ts), -EINVAL);
}
END_TEST

START_TEST(owned_keys_are_only_the_two_store_locations_of_a_listener) {
        ck_assert(tlsplan_owned_key("listener.name.internal.ssl.keystore.location"));
        ck_assert(tlsplan_owned_key("listener.name.mtls.ssl.truststore.location"));
        ck_assert(!tlsplan_owned_key("listener.name.internal.ssl.keystore.password"));
        ck_assert(!tlsplan_owned_key("ssl.keystore.location"));
        ck_assert(!tlsplan_owned_key("listener.name..ssl.keystore.location"));
        ck_assert(!tlsplan_owned_key("listener.name.a.b.ssl.keystore.location"));
        ck_assert(!tlsplan_owned_key("log.cleaner.threads"));
}
END_TEST

START_TEST(the_set_keeps_every_value_someone_else_set_and_adds_kpas_keys) {
        struct tlsplan_entry cur[] = {
                entry("log.cleaner.threads", "2", false),
                entry("listener.name.internal.ssl.keystore.location", "/old/ks.p12", false),
                entry("max.connections", "1000", false),
        };
        char keys[2 * TLSPLAN_MAX_LISTENERS][TLSPLAN_NAME_MAX];
        struct tlsplan_set s;
        char why[512] = "";
        ck_assert_int_eq(tlsplan_alter_set(cur, 3, TWO, 2, KS, TS, keys, &s, why, sizeof why), 0);
        ck_assert_uint_eq(s.n, 6);
        ck_assert_str_eq(s.name[0], "log.cleaner.threads");
        ck_assert_str_eq(s.value[0], "2");
        ck_assert_str_eq(s.name[1], "max.connections");
        ck_assert_str_eq(s.value[1], "1000");
        ck_assert_str_eq(s.name[2], "listener.name.internal.ssl.keystore.location");
        ck_assert_str_eq(s.value[2], KS);
        ck_assert_str_eq(s.name[3], "listener.name.internal.ssl.truststore.location");
        ck_assert_str_eq(s.value[3], TS);
        ck_assert_str_eq(s.name[4], "listener.name.mtls.ssl.keystore.location");
        ck_assert_str_eq(s.name[5], "listener.name.mtls.ssl.truststore.location");
}
END_TEST

START_TEST(a_value_kafka_does_not_return_refuses_the_rotation_and_names_it) {
        struct tlsplan_entry cur[] = {
                entry("log.cleaner.threads", "2", false),
                entry("listener.name.client.ssl.key.password", NULL, true),
        };
        char keys[2 * TLSPLAN_MAX_LISTENERS][TLSPLAN_NAME_MAX];
        struct tlsplan_set s = { .n = 99 };
        char why[512] = "";
        ck_assert_int_eq(tlsplan_alter_set(cur, 2, ONE, 1, KS, TS, keys, &s, why, sizeof why), -EPERM);
        ck_assert_uint_eq(s.n, 99);
        ck_assert_ptr_nonnull(strstr(why, "per-broker dynamic config listener.name.client.ssl.key.password is sensitive"));
        ck_assert_ptr_nonnull(strstr(why, "move it to server.properties"));
        /* A sensitive value kpa owns (never: kpa sends locations only) would not block. */
        cur[1] = entry("listener.name.internal.ssl.keystore.location", NULL, false);
        ck_assert_int_eq(tlsplan_alter_set(cur, 2, ONE, 1, KS, TS, keys, &s, why, sizeof why), 0);
        ck_assert_uint_eq(s.n, 3);
        /* Unreadable without being sensitive says so. */
        cur[1] = entry("num.io.threads", NULL, false);
        ck_assert_int_eq(tlsplan_alter_set(cur, 2, ONE, 1, KS, TS, keys, &s, why, sizeof why), -EPERM);
        ck_assert_ptr_nonnull(strstr(why, "num.io.threads is unreadable"));
}
END_TEST

START_TEST(the_set_is_bounded) {
        static struct tlsplan_entry cur[TLSPLAN_MAX_ENTRIES];
        static char names[TLSPLAN_MAX_ENTRIES][32];
        for (int i = 0; i < TLSPLAN_MAX_ENTRIES; i++) {
                snprintf(names[i], sizeof names[i], "custom.%d", i);
                cur[i] = entry(names[i], "v", false);
        }
        char keys[2 * TLSPLAN_MAX_LISTENERS][TLSPLAN_NAME_MAX];
        struct tlsplan_set s;
        char why[512] = "";
        ck_assert_int_eq(tlsplan_alter_set(cur, TLSPLAN_MAX_ENTRIES, ONE, 1, KS, TS, keys, &s, why, sizeof why), -E2BIG);
        ck_assert_ptr_nonnull(strstr(why, "more than 256 per-broker dynamic configs"));
        ck_assert_int_eq(tlsplan_alter_set(cur, TLSPLAN_MAX_ENTRIES - 2, ONE, 1, KS, TS, keys, &s, why, sizeof why), 0);
        ck_assert_uint_eq(s.n, TLSPLAN_MAX_ENTRIES);
}
END_TEST

START_TEST(tls_listeners_are_the_ssl_and_sasl_ssl_ones_but_the_controllers) {
        struct tlsplan_listener l[TLSPLAN_MAX_LISTENERS];
        size_t n = 0;
        char why[256] = "";
        ck_assert_int_eq(tlsplan_tls_listeners(
                "INTERNAL://:9092,CONTROLLER://:9093,MTLS://:9094,PLAIN://:9095",
                "INTERNAL://kafka-0.h.ns.svc:9092,MTLS://kafka-0.example.com:9094,PLAIN://x:9095",
                "INTERNAL:SASL_SSL,CONTROLLER:SSL,MTLS:SSL,PLAIN:PLAINTEXT", "CONTROLLER", l, TLSPLAN_MAX_LISTENERS,
                &n, why, sizeof why), 0);
        ck_assert_uint_eq(n, 2);
        ck_assert_str_eq(l[0].name, "INTERNAL");
        ck_assert_uint_eq(l[0].port, 9092);
        ck_assert_str_eq(l[0].advertised, "kafka-0.h.ns.svc");
        ck_assert_str_eq(l[1].name, "MTLS");
        ck_assert_uint_eq(l[1].port, 9094);
        ck_assert_str_eq(l[1].advertised, "kafka-0.example.com");
        /* Only an SSL listener is where ssl.client.auth applies (a CA step's trust proof). */
        ck_assert(!l[0].ssl);
        ck_assert(l[1].ssl);
        /* Without a map a listener's name is its protocol, as Kafka defaults; IPv6 bare. */
        ck_assert_int_eq(tlsplan_tls_listeners("SSL://[::1]:9093", "SSL://[fd00::1]:9093", NULL, NULL, l,
                                               TLSPLAN_MAX_LISTENERS, &n, why, sizeof why), 0);
        ck_assert_uint_eq(n, 1);
        ck_assert_str_eq(l[0].advertised, "fd00::1");
        ck_assert_int_eq(tlsplan_tls_listeners("INTERNAL:9092", NULL, NULL, NULL, l, TLSPLAN_MAX_LISTENERS, &n, why,
                                               sizeof why), -EINVAL);
        ck_assert_str_eq(why, "listeners: \"INTERNAL:9092\" is not NAME://HOST:PORT");
        ck_assert_int_eq(tlsplan_tls_listeners(NULL, NULL, NULL, NULL, l, TLSPLAN_MAX_LISTENERS, &n, why,
                                               sizeof why), -EINVAL);
        ck_assert_int_eq(tlsplan_tls_listeners("SSL://:1,SSL2://:2", NULL, "SSL:SSL,SSL2:SSL", NULL, l, 1, &n, why,
                                               sizeof why), -E2BIG);
}
END_TEST

START_TEST(a_controller_with_tls_on_its_controller_listener_is_told_apart) {
        char name[64] = "";
        const char *map = "INTERNAL:SASL_SSL,CONTROLLER:SSL,MTLS:SSL";
        ck_assert(tlsplan_controller_tls("CTL", "CTL:SASL_SSL", name, sizeof name));
        ck_assert_str_eq(name, "CTL");
        /* No map: the listener's name is its protocol, as Kafka defaults. */
        ck_assert(tlsplan_controller_tls("SSL", NULL, name, sizeof name));
        ck_assert_str_eq(name, "SSL");
        /* A PLAINTEXT controller listener, or none at all: no Raft client at stake. */
        ck_assert(!tlsplan_controller_tls("CONTROLLER", "CONTROLLER:PLAINTEXT,INTERNAL:SSL", name, sizeof name));
        ck_assert(!tlsplan_controller_tls(NULL, map, name, sizeof name));
        /* Whatever the roles, the controllers are TLS peers or not. */
        name[0] = '\0';
        ck_assert(tlsplan_controller_tls("CONTROLLER", map, name, sizeof name));
        ck_assert_str_eq(name, "CONTROLLER");
        ck_assert(!tlsplan_controller_tls("CONTROLLER", "INTERNAL:SASL_SSL,CONTROLLER:PLAINTEXT", name, sizeof name));
        ck_assert(!tlsplan_controller_tls("CONTROLLER", "INTERNAL:SASL_SSL", name, sizeof name));
}
END_TEST

START_TEST(expiry_warns_within_the_days_and_says_when) {
        char why[256];
        const int64_t now = 1798761600; /* 2027-01-01T00:00:00Z */
        ck_assert(tlsplan_expiry_ok(now + 15 * 86400, now, 14, why, sizeof why));
        ck_assert_str_eq(why, "the certificate is valid until 2027-01-16T00:00:00Z");
        ck_assert(!tlsplan_expiry_ok(now + 14 * 86400, now, 14, why, sizeof why));
        ck_assert_str_eq(why, "the certificate expires in 14 days (at 2027-01-15T00:00:00Z), within the 14-day warning");
        ck_assert(!tlsplan_expiry_ok(now + 3600, now, 14, why, sizeof why));
        ck_assert_str_eq(why, "the certificate expires in 0 days (at 2027-01-01T01:00:00Z), within the 14-day warning");
        ck_assert(!tlsplan_expiry_ok(now, now, 0, why, sizeof why));
        ck_assert_str_eq(why, "the certificate expired at 2027-01-01T00:00:00Z");
        ck_assert(tlsplan_expiry_ok(now + 1, now, 0, why, sizeof why));
}
END_TEST

static void view_fixture(struct tlsrot_view *v) {
        memset(v, 0, sizeof *v);
        v->expiry_warn_days = 14;
        v->n_listeners = 2;
        snprintf(v->listeners[0].name, sizeof v->listeners[0].name, "INTERNAL");
        v->listeners[0].port = 9092;
        v->listeners[0].have_served = true;
        snprintf(v->listeners[0].served.subject, sizeof v->listeners[0].served.subject, "CN=kafka");
        snprintf(v->listeners[0].served.serial, sizeof v->listeners[0].served.serial, "0A1B");
        v->listeners[0].served.not_after = 1798761600 + 30 * 86400;
        snprintf(v->listeners[1].name, sizeof v->listeners[1].name, "MTLS");
        v->listeners[1].port = 9094;
        v->listeners[1].have_served = true;
        v->listeners[1].served = v->listeners[0].served;
        v->listeners[1].served.not_after = 1798761600 + 10 * 86400;
        v->totals[TLSROT_ROTATED] = 1;
        v->totals[TLSROT_REFUSED] = 3;
        v->have_last = true;
        v->last_result = TLSROT_REFUSED;
        snprintf(v->last_reason, sizeof v->last_reason, "KPA_TLS_DIR/tls.key: file not found");
        v->last_unix_ms = 1798761600000;
}

START_TEST(status_shows_each_listeners_served_certificate_and_the_last_rotation) {
        struct tlsrot_view v;
        view_fixture(&v);
        cJSON *t = tlsview_status(&v, 1798761600);
        ck_assert_ptr_nonnull(t);
        char *s = cJSON_PrintUnformatted(t);
        ck_assert_str_eq(s, "{\"tls_expiry\":{\"ok\":false,\"reason\":\"MTLS (serial 0A1B): the certificate expires in "
                         "10 days (at 2027-01-11T00:00:00Z), within the 14-day warning\",\"warn_days\":14,"
                         "\"affects_readiness\":false},\"listeners\":[{\"name\":\"INTERNAL\",\"port\":9092,\"served\":"
                         "{\"subject\":\"CN=kafka\",\"serial\":\"0A1B\",\"not_after\":\"2027-01-31T00:00:00Z\"}},"
                         "{\"name\":\"MTLS\",\"port\":9094,\"served\":{\"subject\":\"CN=kafka\",\"serial\":\"0A1B\","
                         "\"not_after\":\"2027-01-11T00:00:00Z\"}}],\"last_rotation\":{\"result\":\"refused\","
                         "\"reason\":\"KPA_TLS_DIR/tls.key: file not found\",\"at\":\"2027-01-01T00:00:00Z\"},"
                         "\"ca_rotation\":{\"phase\":\"unknown\",\"step\":\"none\",\"trust_loaded\":false,"
                         "\"trusts\":[],\"serves\":null,\"secret_cas\":[],\"raft\":null},"
                         "\"rotations\":{\"rotated\":1,\"refused\":3,\"failed\":0}}");
        free(s);
        cJSON_Delete(t);
}
END_TEST

/* What an agent publishes of its CA state is exactly what a peer's agent reads back. */
START_TEST(status_shows_the_ca_rotation_as_peers_read_it_and_what_blocks) {
        struct tlsrot_view v;
        view_fixture(&v);
        char a[CAROT_FP_LEN], b[CAROT_FP_LEN];
        memset(a, 'a', 64);
        memset(b, 'b', 64);
        a[64] = b[64] = '\0';
        struct tlscaround_view *c = &v.ca;
        c->known = true;
        c->phase = CAROT_TRUST;
        c->action = CAROT_WAIT;
        snprintf(c->blocked, sizeof c->blocked, "node 2 (k2): does not trust the new CA bbbbbbbbbbbbbbbb yet");
        c->trust_loaded = true;
        ck_assert_int_eq(carot_set_add(&c->trusts, a), 0);
        ck_assert_int_eq(carot_set_add(&c->trusts, b), 0);
        ck_assert_int_eq(carot_set_add(&c->secret_cas, b), 0);
        memcpy(c->serves, a, sizeof c->serves);
        c->peers_asked = true;
        c->n_peers = 1;
        c->peers[0].node_id = 2;
        snprintf(c->peers[0].host, sizeof c->peers[0].host, "k2");
        c->peers[0].reported = true;
        c->peers[0].report.trust_loaded = true;
        ck_assert_int_eq(carot_set_add(&c->peers[0].report.trusts, a), 0);
        memcpy(c->peers[0].report.serves, a, sizeof c->peers[0].report.serves);
        memcpy(c->peers[0].served, a, sizeof c->peers[0].served);
        cJSON *t = tlsview_status(&v, 1798761600);
        ck_assert_ptr_nonnull(t);
        char *ca = cJSON_PrintUnformatted(cJSON_GetObjectItem(t, "ca_rotation"));
        char want[2048];
        snprintf(want, sizeof want, "{\"phase\":\"trust\",\"step\":\"wait\",\"trust_loaded\":true,\"trusts\":[\"%s\",\"%s\"],"
                 "\"serves\":\"%s\",\"secret_cas\":[\"%s\"],\"blocked\":\"node 2 (k2): does not trust the new CA "
                 "bbbbbbbbbbbbbbbb yet\",\"raft\":null,\"peers\":[{\"node_id\":2,\"host\":\"k2\",\"confirmed\":false,"
                 "\"serves_seen\":\"%s\",\"reported\":true,\"trusts\":[\"%s\"],\"serves_reported\":\"%s\"}]}",
                 a, b, a, b, a, a, a);
        ck_assert_str_eq(ca, want);
        char *all = cJSON_PrintUnformatted(t);
        char body[4096];
        snprintf(body, sizeof body, "{\"tls\":%s}", all);
        struct carot_report r;
        char why[256];
        ck_assert_int_eq(carot_parse_report(body, strlen(body), &r, why, sizeof why), 0);
        ck_assert(r.trust_loaded);
        ck_assert(carot_set_equal(&r.trusts, &c->trusts));
        ck_assert_str_eq(r.serves, a);
        free(all);
        free(ca);
        cJSON_Delete(t);
        struct dynbuf m;
        dynbuf_init(&m, 64 * 1024);
        ck_assert_int_eq(tlsview_metrics(&v, 1798761600, &m), 0);
        ck_assert_ptr_nonnull(strstr(dynbuf_str(&m), "\nkpa_tls_ca_rotation_phase 1\n"));
        ck_assert_ptr_nonnull(strstr(dynbuf_str(&m), "\nkpa_tls_ca_rotation_blocked 1\n"));
        ck_assert_ptr_nonnull(strstr(dynbuf_str(&m), "\nkpa_tls_raft_restart_requested 0\n"));
        dynbuf_free(&m);
}
END_TEST

/* A node whose controller listener uses TLS publishes what its Raft client started with and its
 * restart, exactly as a peer's agent reads them back. */
START_TEST(status_shows_the_raft_start_and_a_requested_restart_as_peers_read_them) {
        struct tlsrot_view v;
        view_fixture(&v);
        char a[CAROT_FP_LEN], b[CAROT_FP_LEN];
        memset(a, 'a', 64);
        memset(b, 'b', 64);
        a[64] = b[64] = '\0';
        struct tlscaround_view *c = &v.ca;
        c->known = true;
        c->phase = CAROT_TRUST;
        c->action = CAROT_RESTART;
        c->may_restart = true;
        snprintf(c->blocked, sizeof c->blocked, "restart requested: why");
        c->trust_loaded = true;
        ck_assert_int_eq(carot_set_add(&c->trusts, a), 0);
        ck_assert_int_eq(carot_set_add(&c->trusts, b), 0);
        ck_assert_int_eq(carot_set_add(&c->secret_cas, b), 0);
        memcpy(c->serves, a, sizeof c->serves);
        c->raft = true;
        snprintf(c->raft_listener, sizeof c->raft_listener, "CONTROLLER");
        c->raft_state.process_known = true;
        c->raft_state.started_unix_ms = 1798761600123;
        c->raft_state.known = true;
        ck_assert_int_eq(carot_set_add(&c->raft_state.with.trusts, a), 0);
        memcpy(c->raft_state.with.serves, a, sizeof c->raft_state.with.serves);
        snprintf(c->raft_state.with.leaf_serial, sizeof c->raft_state.with.leaf_serial, "0A1B");
        c->raft_state.with.leaf_not_after = 1801353600;
        cJSON *t = tlsview_status(&v, 1798761700);
        ck_assert_ptr_nonnull(t);
        char *raft = cJSON_PrintUnformatted(cJSON_GetObjectItem(cJSON_GetObjectItem(t, "ca_rotation"), "raft"));
        char want[1024];
        snprintf(want, sizeof want, "{\"listener\":\"CONTROLLER\",\"process_started\":\"2027-01-01T00:00:00Z\","
                 "\"started_known\":true,\"started_trusts\":[\"%s\"],\"started_serves\":\"%s\",\"started_leaf\":"
                 "{\"serial\":\"0A1B\",\"not_after\":\"2027-01-31T00:00:00Z\"},\"current\":false,"
                 "\"needs_restart\":true,\"restart\":\"requested\",\"restart_reason\":\"restart requested: why\"}", a, a);
        ck_assert_str_eq(raft, want);
        char *all = cJSON_PrintUnformatted(t);
        char body[8192];
        snprintf(body, sizeof body, "{\"ready\":true,\"tls\":%s}", all);
        struct carot_report r;
        char why[256];
        ck_assert_int_eq(carot_parse_report(body, strlen(body), &r, why, sizeof why), 0);
        ck_assert(r.raft && r.raft_known && r.needs_restart && r.restarting && r.ready);
        ck_assert_uint_eq(r.raft_trusts.n, 1);
        ck_assert_str_eq(r.raft_serves, a);
        struct dynbuf m;
        dynbuf_init(&m, 64 * 1024);
        ck_assert_int_eq(tlsview_metrics(&v, 1798761700, &m), 0);
        ck_assert_ptr_nonnull(strstr(dynbuf_str(&m), "\nkpa_tls_raft_restart_requested 1\n"));
        ck_assert_ptr_nonnull(strstr(dynbuf_str(&m), "\nkpa_tls_ca_rotation_blocked 0\n"));
        dynbuf_free(&m);
        /* Its turn not come: waiting, and the rotation counts as blocked. */
        c->may_restart = false;
        cJSON_Delete(t);
        t = tlsview_status(&v, 1798761700);
        const cJSON *x = cJSON_GetObjectItem(cJSON_GetObjectItem(cJSON_GetObjectItem(t, "ca_rotation"), "raft"), "restart");
        ck_assert_str_eq(cJSON_GetStringValue(x), "waiting");
        dynbuf_init(&m, 64 * 1024);
        ck_assert_int_eq(tlsview_metrics(&v, 1798761700, &m), 0);
        ck_assert_ptr_nonnull(strstr(dynbuf_str(&m), "\nkpa_tls_ca_rotation_blocked 1\n"));
        dynbuf_free(&m);
        free(all);
        free(raft);
        cJSON_Delete(t);
}
END_TEST

/* After a same-CA renewal the listeners serve the new leaf, but the Raft client presents the
 * one its process started with: when that one expires first, the condition names it. */
START_TEST(the_expiry_condition_names_the_raft_clients_leaf_when_it_expires_first) {
        struct tlsrot_view v;
        view_fixture(&v);
        char why[512];
        v.ca.known = true;
        v.ca.raft = true;
        snprintf(v.ca.raft_listener, sizeof v.ca.raft_listener, "CONTROLLER");
        v.ca.raft_state.known = true;
        snprintf(v.ca.raft_state.with.leaf_serial, sizeof v.ca.raft_state.with.leaf_serial, "0C0D");
        v.ca.raft_state.with.leaf_not_after = 1798761600 + 3 * 86400;
        ck_assert(!tlsrot_expiry_ok(&v, 1798761600, why, sizeof why));
        ck_assert_str_eq(why, "the Raft client (listener CONTROLLER, until the broker restarts) (serial 0C0D): the "
                         "certificate expires in 3 days (at 2027-01-04T00:00:00Z), within the 14-day warning");
        /* Valid longer than what the listeners serve: the listeners' earliest counts. */
        v.ca.raft_state.with.leaf_not_after = 1798761600 + 60 * 86400;
        ck_assert(!tlsrot_expiry_ok(&v, 1798761600, why, sizeof why));
        ck_assert_str_eq(why, "MTLS (serial 0A1B): the certificate expires in 10 days (at 2027-01-11T00:00:00Z), "
                         "within the 14-day warning");
}
END_TEST

START_TEST(metrics_show_not_after_per_listener_and_rotations_by_result) {
        struct tlsrot_view v;
        view_fixture(&v);
        /* A listener name that is no valid label is left out rather than escaped. */
        snprintf(v.listeners[1].name, sizeof v.listeners[1].name, "M\"X");
        struct dynbuf b;
        dynbuf_init(&b, 64 * 1024);
        ck_assert_int_eq(tlsview_metrics(&v, 1798761600, &b), 0);
        const char *m = dynbuf_str(&b);
        ck_assert_ptr_nonnull(strstr(m, "\nkpa_tls_cert_not_after_seconds{listener=\"INTERNAL\"} 1801353600\n"));
        ck_assert_ptr_null(strstr(m, "M\"X"));
        ck_assert_ptr_nonnull(strstr(m, "\nkpa_tls_rotation_total{result=\"rotated\"} 1\n"
                                        "kpa_tls_rotation_total{result=\"refused\"} 3\n"
                                        "kpa_tls_rotation_total{result=\"failed\"} 0\n"));
        ck_assert_ptr_nonnull(strstr(m, "\nkpa_tls_expiry_ok 0\n"));
        /* No CA round yet: the phase is unknown. */
        ck_assert_ptr_nonnull(strstr(m, "\nkpa_tls_ca_rotation_phase -1\n"));
        ck_assert_ptr_nonnull(strstr(m, "\nkpa_tls_ca_rotation_blocked 0\n"));
        dynbuf_free(&b);
        /* Bounded: a buffer too small says so. */
        dynbuf_init(&b, 64);
        ck_assert_int_lt(tlsview_metrics(&v, 1798761600, &b), 0);
        dynbuf_free(&b);
}
END_TEST

/* KPA_TLS_CA_DIR: the next round runs just after the leaf's due moment, capped by the re-check
 * interval; a due moment already past does not make a tight loop. */
START_TEST(next_check_is_just_after_the_due_moment_capped_by_the_recheck) {
        const int64_t now_ms = 1798761600500;          /* 2027-01-01T00:00:00.5Z */
        /* Due in 10 s: 9.5 s to the due second, plus the slack. */
        ck_assert_uint_eq(tlsplan_next_check_ms(now_ms, true, 1798761610, 60000), 9500 + TLSPLAN_DUE_SLACK_MS);
        /* Due in a day: the re-check interval. */
        ck_assert_uint_eq(tlsplan_next_check_ms(now_ms, true, 1798761600 + 86400, 60000), 60000);
        /* Due exactly at the cap: the cap. */
        ck_assert_uint_eq(tlsplan_next_check_ms(now_ms, true, 1798761659, 60000), 59500);
        ck_assert_uint_eq(tlsplan_next_check_ms(now_ms, true, 1798761660, 60000), 60000);
        /* Already due (this round did not renew): the re-check interval, not at once. */
        ck_assert_uint_eq(tlsplan_next_check_ms(now_ms, true, 1798761600, 60000), 60000);
        ck_assert_uint_eq(tlsplan_next_check_ms(now_ms, true, 1798761000, 60000), 60000);
        /* No leaf known, or a due moment that does not fit: the re-check interval. */
        ck_assert_uint_eq(tlsplan_next_check_ms(now_ms, false, 1798761610, 60000), 60000);
        ck_assert_uint_eq(tlsplan_next_check_ms(now_ms, true, INT64_MAX, 60000), 60000);
        ck_assert_uint_eq(tlsplan_next_check_ms(now_ms, true, -5, 60000), 60000);
}
END_TEST

/* With KPA_TLS_CA_DIR, /status says when the agent issues the next certificate (null until the
 * key store was read); without it, nothing about issuing. */
START_TEST(status_shows_when_a_ca_dir_certificate_renews) {
        struct tlsrot_view v;
        view_fixture(&v);
        v.ca_dir = true;
        cJSON *t = tlsview_status(&v, 1798761600);
        ck_assert_ptr_nonnull(t);
        char *s = cJSON_PrintUnformatted(cJSON_GetObjectItem(t, "issued_from_ca_dir"));
        ck_assert_str_eq(s, "{\"renews_at\":null}");
        free(s);
        cJSON_Delete(t);
        v.have_renew = true;
        v.renew_at_unix = 1798761600 + 20 * 86400 + 100;
        t = tlsview_status(&v, 1798761600);
        s = cJSON_PrintUnformatted(cJSON_GetObjectItem(t, "issued_from_ca_dir"));
        ck_assert_str_eq(s, "{\"renews_at\":\"2027-01-21T00:01:40Z\"}");
        free(s);
        cJSON_Delete(t);
        v.ca_dir = false;
        t = tlsview_status(&v, 1798761600);
        ck_assert_ptr_null(cJSON_GetObjectItem(t, "issued_from_ca_dir"));
        cJSON_Delete(t);
}
END_TEST

int main(void) {
        Suite *s = suite_create("tlsplan");
        TCase *tc = tcase_create("plan");
        tcase_add_test(tc, listener_keys_are_the_lower_cased_listener_prefix);
        tcase_add_test(tc, owned_keys_are_only_the_two_store_locations_of_a_listener);
        tcase_add_test(tc, the_set_keeps_every_value_someone_else_set_and_adds_kpas_keys);
        tcase_add_test(tc, a_value_kafka_does_not_return_refuses_the_rotation_and_names_it);
        tcase_add_test(tc, the_set_is_bounded);
        tcase_add_test(tc, tls_listeners_are_the_ssl_and_sasl_ssl_ones_but_the_controllers);
        tcase_add_test(tc, a_controller_with_tls_on_its_controller_listener_is_told_apart);
        tcase_add_test(tc, expiry_warns_within_the_days_and_says_when);
        tcase_add_test(tc, next_check_is_just_after_the_due_moment_capped_by_the_recheck);
        suite_add_tcase(s, tc);
        tc = tcase_create("view");
        tcase_add_test(tc, status_shows_each_listeners_served_certificate_and_the_last_rotation);
        tcase_add_test(tc, status_shows_the_ca_rotation_as_peers_read_it_and_what_blocks);
        tcase_add_test(tc, status_shows_the_raft_start_and_a_requested_restart_as_peers_read_them);
        tcase_add_test(tc, the_expiry_condition_names_the_raft_clients_leaf_when_it_expires_first);
        tcase_add_test(tc, metrics_show_not_after_per_listener_and_rotations_by_result);
        tcase_add_test(tc, status_shows_when_a_ca_dir_certificate_renews);
        suite_add_tcase(s, tc);
        return tu_run_suite(s);
}
