/* Suite for the pure decisions of a CA rotation across the cluster (carot.c): the exact step
 * for each state, the gates held by any peer that is unknown or behind, an agent restarted
 * mid-rotation, a new CA change arriving mid-rotation, the peer report and the state file. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "kpa/carot.h"
#include "testutil.h"

/* Three CAs: the old one, the new one, and a third that arrives mid-rotation. */
static char A[CAROT_FP_LEN], B[CAROT_FP_LEN], C[CAROT_FP_LEN];

static void fps(void) {
        memset(A, 'a', 64);
        memset(B, 'b', 64);
        memset(C, 'c', 64);
        A[64] = B[64] = C[64] = '\0';
}

static struct carot_set set_of(const char *x, const char *y, const char *z) {
        struct carot_set s = { 0 };
        if (x)
                ck_assert_int_eq(carot_set_add(&s, x), 0);
        if (y)
                ck_assert_int_eq(carot_set_add(&s, y), 0);
        if (z)
                ck_assert_int_eq(carot_set_add(&s, z), 0);
        return s;
}

static struct carot_peer peer(int32_t id, bool reported, bool loaded, struct carot_set trusts,
                              const char *serves_said, const char *served_seen) {
        struct carot_peer p = { .node_id = id, .reported = reported };
        snprintf(p.host, sizeof p.host, "kafka-%d.kafka-headless", (int) id);
        p.report.trust_loaded = loaded;
        p.report.trusts = trusts;
        snprintf(p.report.serves, sizeof p.report.serves, "%s", serves_said ? serves_said : "");
        snprintf(p.served, sizeof p.served, "%s", served_seen ? served_seen : "");
        if (!reported || !served_seen)
                snprintf(p.why, sizeof p.why, "connection refused");
        return p;
}

/* This broker: the Secret now names target (with its leaf of target_leaf); on disk the trust
 * store holds trusted and the key store a leaf of stored_leaf; it serves a leaf of served. */
static struct carot_input input(struct carot_set target, const char *target_leaf, struct carot_set trusted,
                                const char *stored_leaf, const char *served, const struct carot_peer *peers,
                                size_t n) {
        struct carot_input in = { .target = target, .trusted = trusted, .trust_loaded = true,
                                  .peers = peers, .n_peers = n };
        snprintf(in.target_leaf, sizeof in.target_leaf, "%s", target_leaf);
        snprintf(in.stored_leaf, sizeof in.stored_leaf, "%s", stored_leaf);
        snprintf(in.served, sizeof in.served, "%s", served ? served : "");
        return in;
}

START_TEST(no_ca_change_is_steady_and_does_nothing) {
        fps();
        struct carot_peer p[] = { peer(1, true, true, set_of(A, NULL, NULL), A, A) };
        struct carot_input in = input(set_of(A, NULL, NULL), A, set_of(A, NULL, NULL), A, A, p, 1);
        struct carot_decision d;
        carot_decide(&in, &d);
        ck_assert_int_eq(d.phase, CAROT_STEADY);
        ck_assert_int_eq(d.action, CAROT_NONE);
        /* Peers do not matter when nothing changes: an unknown one holds nothing. */
        in.peers_unknown = "Metadata timed out";
        carot_decide(&in, &d);
        ck_assert_int_eq(d.action, CAROT_NONE);
}
END_TEST

START_TEST(a_new_ca_is_first_added_to_the_trust_without_waiting_for_anyone) {
        fps();
        /* Every peer unknown: adding trust is safe regardless. */
        struct carot_input in = input(set_of(B, NULL, NULL), B, set_of(A, NULL, NULL), A, A, NULL, 0);
        in.peers_unknown = "Metadata timed out";
        struct carot_decision d;
        carot_decide(&in, &d);
        ck_assert_int_eq(d.phase, CAROT_TRUST);
        ck_assert_int_eq(d.action, CAROT_ADD_TRUST);
        ck_assert_uint_eq(d.write_trust.n, 2);
        ck_assert_str_eq(d.write_trust.fp[0], A);
        ck_assert_str_eq(d.write_trust.fp[1], B);
}
END_TEST

START_TEST(the_new_leaf_waits_until_every_peer_trusts_the_new_ca) {
        fps();
        struct carot_peer p[] = {
                peer(1, true, true, set_of(A, B, NULL), A, A),
                peer(2, true, true, set_of(A, NULL, NULL), A, A),
        };
        struct carot_input in = input(set_of(B, NULL, NULL), B, set_of(A, B, NULL), A, A, p, 2);
        struct carot_decision d;
        carot_decide(&in, &d);
        ck_assert_int_eq(d.phase, CAROT_TRUST);
        ck_assert_int_eq(d.action, CAROT_WAIT);
        ck_assert(d.peer_ok[0]);
        ck_assert(!d.peer_ok[1]);
        ck_assert_str_eq(d.blocked, "node 2 (kafka-2.kafka-headless): does not trust the new CA bbbbbbbbbbbbbbbb yet");
        /* Node 2 reports a trust store it has not confirmed loading: still held. */
        p[1] = peer(2, true, false, set_of(A, B, NULL), A, A);
        carot_decide(&in, &d);
        ck_assert_int_eq(d.action, CAROT_WAIT);
        ck_assert_str_eq(d.blocked, "node 2 (kafka-2.kafka-headless): its broker has not confirmed loading its "
                         "trust store yet");
        p[1] = peer(2, true, true, set_of(A, B, NULL), A, A);
        carot_decide(&in, &d);
        ck_assert_int_eq(d.phase, CAROT_TRUST);
        ck_assert_int_eq(d.action, CAROT_SERVE_LEAF);
        ck_assert(d.peer_ok[0] && d.peer_ok[1]);
}
END_TEST

START_TEST(a_peer_that_goes_unknown_holds_the_gate_and_is_named) {
        fps();
        struct carot_peer p[] = {
                peer(1, true, true, set_of(A, B, NULL), A, A),
                peer(2, false, false, set_of(NULL, NULL, NULL), NULL, A),
        };
        struct carot_input in = input(set_of(B, NULL, NULL), B, set_of(A, B, NULL), A, A, p, 2);
        struct carot_decision d;
        carot_decide(&in, &d);
        ck_assert_int_eq(d.action, CAROT_WAIT);
        ck_assert_str_eq(d.blocked, "node 2 (kafka-2.kafka-headless): its trust is unknown: connection refused");
        /* The list of brokers itself unknown: held too. */
        p[1] = peer(2, true, true, set_of(A, B, NULL), A, A);
        in.peers_unknown = "Metadata: timed out";
        carot_decide(&in, &d);
        ck_assert_int_eq(d.action, CAROT_WAIT);
        ck_assert_str_eq(d.blocked, "the cluster's brokers are unknown: Metadata: timed out");
        /* In the LEAF step a peer whose handshake fails holds the drop. */
        in.peers_unknown = NULL;
        struct carot_peer q[] = { peer(1, true, true, set_of(A, B, NULL), B, NULL) };
        struct carot_input in2 = input(set_of(B, NULL, NULL), B, set_of(A, B, NULL), B, B, q, 1);
        carot_decide(&in2, &d);
        ck_assert_int_eq(d.phase, CAROT_LEAF);
        ck_assert_int_eq(d.action, CAROT_WAIT);
        ck_assert_str_eq(d.blocked, "node 1 (kafka-1.kafka-headless): what it serves is unknown: connection refused");
}
END_TEST

START_TEST(the_old_ca_is_dropped_only_once_every_broker_serves_a_new_leaf) {
        fps();
        struct carot_peer p[] = {
                peer(1, true, true, set_of(A, B, NULL), B, B),
                peer(2, true, true, set_of(A, B, NULL), A, A),
        };
        /* This broker serves its new leaf; node 2 still the old one. */
        struct carot_input in = input(set_of(B, NULL, NULL), B, set_of(A, B, NULL), B, B, p, 2);
        struct carot_decision d;
        carot_decide(&in, &d);
        ck_assert_int_eq(d.phase, CAROT_LEAF);
        ck_assert_int_eq(d.action, CAROT_WAIT);
        ck_assert(d.peer_ok[0]);
        ck_assert(!d.peer_ok[1]);
        ck_assert_str_eq(d.blocked, "node 2 (kafka-2.kafka-headless): still serves a leaf of CA aaaaaaaaaaaaaaaa");
        /* The handshake sees the new leaf, but node 2's agent has not confirmed every connection. */
        p[1] = peer(2, true, true, set_of(A, B, NULL), "", B);
        carot_decide(&in, &d);
        ck_assert_int_eq(d.action, CAROT_WAIT);
        ck_assert_str_eq(d.blocked, "node 2 (kafka-2.kafka-headless): its agent has not confirmed that every "
                         "connection is served a leaf of the new CA (reports CA none)");
        p[1] = peer(2, true, true, set_of(A, B, NULL), B, B);
        carot_decide(&in, &d);
        ck_assert_int_eq(d.phase, CAROT_LEAF);
        ck_assert_int_eq(d.action, CAROT_DROP_TRUST);
        ck_assert_uint_eq(d.write_trust.n, 1);
        ck_assert_str_eq(d.write_trust.fp[0], B);
        /* This broker itself not yet confirmed serving the new leaf everywhere: held. */
        in.served[0] = '\0';
        carot_decide(&in, &d);
        ck_assert_int_eq(d.action, CAROT_WAIT);
        ck_assert_str_eq(d.blocked, "this broker does not serve a leaf of the new CA on every listener yet "
                         "(serves CA none)");
}
END_TEST

START_TEST(after_the_drop_the_rotation_is_steady) {
        fps();
        struct carot_input in = input(set_of(B, NULL, NULL), B, set_of(B, NULL, NULL), B, B, NULL, 0);
        in.trust_loaded = false;
        struct carot_decision d;
        carot_decide(&in, &d);
        ck_assert_int_eq(d.phase, CAROT_DROP);
        ck_assert_int_eq(d.action, CAROT_RELOAD_TRUST);
        in.trust_loaded = true;
        carot_decide(&in, &d);
        ck_assert_int_eq(d.phase, CAROT_STEADY);
        ck_assert_int_eq(d.action, CAROT_NONE);
}
END_TEST

START_TEST(an_agent_restarted_mid_rotation_resumes_from_what_is_on_disk) {
        fps();
        /* Restarted after writing old + new trust but before the broker confirmed the reload
         * (the state file names the earlier ca.pem): reload first, report nothing as trusted. */
        struct carot_peer p[] = { peer(1, true, true, set_of(A, B, NULL), A, A) };
        struct carot_input in = input(set_of(B, NULL, NULL), B, set_of(A, B, NULL), A, A, p, 1);
        in.trust_loaded = false;
        struct carot_decision d;
        carot_decide(&in, &d);
        ck_assert_int_eq(d.phase, CAROT_TRUST);
        ck_assert_int_eq(d.action, CAROT_RELOAD_TRUST);
        /* Restarted after the reload: the same step as before the restart, decided again. */
        in.trust_loaded = true;
        carot_decide(&in, &d);
        ck_assert_int_eq(d.action, CAROT_SERVE_LEAF);
        /* Restarted after the new leaf, before the drop was confirmed. */
        struct carot_input in2 = input(set_of(B, NULL, NULL), B, set_of(A, B, NULL), B, B, p, 1);
        in2.trust_loaded = false;
        carot_decide(&in2, &d);
        ck_assert_int_eq(d.phase, CAROT_LEAF);
        ck_assert_int_eq(d.action, CAROT_RELOAD_TRUST);
}
END_TEST

START_TEST(a_new_ca_change_mid_rotation_adds_it_and_keeps_every_earlier_ca) {
        fps();
        struct carot_peer p[] = { peer(1, true, true, set_of(A, B, NULL), B, B) };
        /* Mid-LEAF (trust A+B, serving B), the Secret now names C: C is added, A and B kept. */
        struct carot_input in = input(set_of(C, NULL, NULL), C, set_of(A, B, NULL), B, B, p, 1);
        struct carot_decision d;
        carot_decide(&in, &d);
        ck_assert_int_eq(d.phase, CAROT_TRUST);
        ck_assert_int_eq(d.action, CAROT_ADD_TRUST);
        ck_assert_uint_eq(d.write_trust.n, 3);
        ck_assert_str_eq(d.write_trust.fp[0], A);
        ck_assert_str_eq(d.write_trust.fp[1], B);
        ck_assert_str_eq(d.write_trust.fp[2], C);
        /* Then the C leaf waits for the peer to trust C. */
        in.trusted = d.write_trust;
        carot_decide(&in, &d);
        ck_assert_int_eq(d.action, CAROT_WAIT);
        ck_assert_str_eq(d.blocked, "node 1 (kafka-1.kafka-headless): does not trust the new CA cccccccccccccccc yet");
        /* A peer serving B (not the Secret's C) holds the drop of A and B. */
        p[0] = peer(1, true, true, set_of(A, B, C), B, B);
        snprintf(in.stored_leaf, sizeof in.stored_leaf, "%s", C);
        snprintf(in.served, sizeof in.served, "%s", C);
        carot_decide(&in, &d);
        ck_assert_int_eq(d.phase, CAROT_LEAF);
        ck_assert_int_eq(d.action, CAROT_WAIT);
        p[0] = peer(1, true, true, set_of(A, B, C), C, C);
        carot_decide(&in, &d);
        ck_assert_int_eq(d.action, CAROT_DROP_TRUST);
        ck_assert_uint_eq(d.write_trust.n, 1);
        ck_assert_str_eq(d.write_trust.fp[0], C);
}
END_TEST

START_TEST(a_plain_leaf_renewal_is_no_ca_step) {
        fps();
        /* Same CA, new leaf: the CA decision is none; the leaf path renews as before. */
        struct carot_input in = input(set_of(A, NULL, NULL), A, set_of(A, NULL, NULL), A, A, NULL, 0);
        in.peers_unknown = "no peers";
        struct carot_decision d;
        carot_decide(&in, &d);
        ck_assert_int_eq(d.action, CAROT_NONE);
}
END_TEST

START_TEST(too_many_cas_wait_instead_of_dropping_any) {
        fps();
        struct carot_set many = { 0 };
        char fp[CAROT_FP_LEN];
        for (int i = 0; i < CAROT_MAX_CAS; i++) {
                snprintf(fp, sizeof fp, "%064x", i);
                ck_assert_int_eq(carot_set_add(&many, fp), 0);
        }
        ck_assert_int_eq(carot_set_add(&many, A), -E2BIG);
        struct carot_input in = input(set_of(B, NULL, NULL), B, many, many.fp[0], many.fp[0], NULL, 0);
        struct carot_decision d;
        carot_decide(&in, &d);
        ck_assert_int_eq(d.action, CAROT_WAIT);
        ck_assert_str_eq(d.blocked, "the old and new CAs together are more than 16");
}
END_TEST

START_TEST(fingerprints_are_64_lower_case_hex_digits) {
        fps();
        struct carot_set s = { 0 };
        ck_assert_int_eq(carot_set_add(&s, A), 0);
        ck_assert_int_eq(carot_set_add(&s, A), 0);
        ck_assert_uint_eq(s.n, 1);
        ck_assert_int_eq(carot_set_add(&s, "abc"), -EINVAL);
        char up[CAROT_FP_LEN];
        memset(up, 'A', 64);
        up[64] = '\0';
        ck_assert_int_eq(carot_set_add(&s, up), -EINVAL);
        char longer[70];
        memset(longer, 'a', 65);
        longer[65] = '\0';
        ck_assert_int_eq(carot_set_add(&s, longer), -EINVAL);
        ck_assert(carot_set_equal(&(struct carot_set){ 0 }, &(struct carot_set){ 0 }));
        ck_assert(carot_set_equal(&(struct carot_set){ .n = 0 }, &(struct carot_set){ .n = 0 }));
        struct carot_set ab = set_of(A, B, NULL), ba = set_of(B, A, NULL);
        ck_assert(carot_set_equal(&ab, &ba));
        ck_assert(!carot_set_equal(&ab, &s));
}
END_TEST

START_TEST(a_peer_report_is_read_from_its_status) {
        fps();
        char body[1024];
        snprintf(body, sizeof body, "{\"node_id\":1,\"tls\":{\"ca_rotation\":{\"phase\":\"trust\",\"trust_loaded\":true,"
                 "\"trusts\":[\"%s\",\"%s\"],\"serves\":\"%s\"}}}", A, B, A);
        struct carot_report r;
        char why[256] = "";
        ck_assert_int_eq(carot_parse_report(body, strlen(body), &r, why, sizeof why), 0);
        ck_assert(r.trust_loaded);
        ck_assert_uint_eq(r.trusts.n, 2);
        ck_assert_str_eq(r.trusts.fp[1], B);
        ck_assert_str_eq(r.serves, A);
        /* Not loaded: nothing counts as trusted; serves null: unknown. */
        snprintf(body, sizeof body, "{\"tls\":{\"ca_rotation\":{\"trust_loaded\":false,\"trusts\":[\"%s\"],"
                 "\"serves\":null}}}", A);
        ck_assert_int_eq(carot_parse_report(body, strlen(body), &r, why, sizeof why), 0);
        ck_assert(!r.trust_loaded);
        ck_assert_uint_eq(r.trusts.n, 0);
        ck_assert_str_eq(r.serves, "");
}
END_TEST

START_TEST(a_bad_peer_report_is_refused_with_a_reason) {
        struct carot_report r;
        char why[256];
        ck_assert_int_eq(carot_parse_report("nope", 4, &r, why, sizeof why), -EINVAL);
        ck_assert_str_eq(why, "the peer's /status is not JSON");
        const char *no = "{\"tls\":{}}";
        ck_assert_int_eq(carot_parse_report(no, strlen(no), &r, why, sizeof why), -EINVAL);
        ck_assert_str_eq(why, "the peer's /status has no tls.ca_rotation (an agent without CA rotation, or without "
                         "KPA_TLS_DIR)");
        const char *bad = "{\"tls\":{\"ca_rotation\":{\"trust_loaded\":true,\"trusts\":[\"xyz\"],\"serves\":null}}}";
        ck_assert_int_eq(carot_parse_report(bad, strlen(bad), &r, why, sizeof why), -EINVAL);
        ck_assert_str_eq(why, "the peer's tls.ca_rotation.trusts holds something else than a SHA-256 fingerprint");
        const char *typ = "{\"tls\":{\"ca_rotation\":{\"trust_loaded\":1,\"trusts\":[],\"serves\":null}}}";
        ck_assert_int_eq(carot_parse_report(typ, strlen(typ), &r, why, sizeof why), -EINVAL);
}
END_TEST

/* A peer on a cluster whose controller listener uses TLS: its agent also reports what its
 * broker process's Raft client started with (raftstart.h). */
static struct carot_peer raft_peer(int32_t id, struct carot_set trusts, const char *serves, struct carot_set raft_trusts,
                                   const char *raft_serves) {
        struct carot_peer p = peer(id, true, true, trusts, serves, serves);
        p.report.raft = true;
        p.report.raft_known = true;
        p.report.raft_trusts = raft_trusts;
        snprintf(p.report.raft_serves, sizeof p.report.raft_serves, "%s", raft_serves);
        p.report.ready = true;
        return p;
}

/* This node on such a cluster, its process started with raft_trusts and a leaf of raft_serves. */
static struct carot_input raft_input(struct carot_input in, struct carot_set raft_trusts, const char *raft_serves) {
        in.raft_tls = "CONTROLLER";
        in.node_id = 1;
        in.ready = true;
        in.raft_known = true;
        in.raft_trusts = raft_trusts;
        snprintf(in.raft_serves, sizeof in.raft_serves, "%s", raft_serves);
        return in;
}

#define BEHIND "restart requested: the broker process's Raft client started with other TLS material than the " \
               "stores hold now (Kafka never reloads it), and this node's turn came"

START_TEST(on_tls_controllers_each_step_is_followed_by_a_restart_of_the_broker) {
        fps();
        struct carot_peer p[] = { raft_peer(2, set_of(A, NULL, NULL), A, set_of(A, NULL, NULL), A) };
        struct carot_decision d;
        /* Adding trust breaks no Raft client: it happens at once. */
        struct carot_input in = raft_input(input(set_of(B, NULL, NULL), B, set_of(A, NULL, NULL), A, A, p, 1),
                                           set_of(A, NULL, NULL), A);
        carot_decide(&in, &d);
        ck_assert_int_eq(d.action, CAROT_ADD_TRUST);
        /* Written and loaded by the listeners: the process's Raft client still trusts A only. */
        in = raft_input(input(set_of(B, NULL, NULL), B, set_of(A, B, NULL), A, A, p, 1), set_of(A, NULL, NULL), A);
        carot_decide(&in, &d);
        ck_assert_int_eq(d.phase, CAROT_TRUST);
        ck_assert_int_eq(d.action, CAROT_RESTART);
        ck_assert(d.may_restart);
        ck_assert_str_eq(d.blocked, BEHIND);
        /* After the leaf: phase LEAF; after the drop (the files are steady): phase DROP. */
        in = raft_input(input(set_of(B, NULL, NULL), B, set_of(A, B, NULL), B, B, p, 1), set_of(A, B, NULL), A);
        carot_decide(&in, &d);
        ck_assert_int_eq(d.phase, CAROT_LEAF);
        ck_assert_int_eq(d.action, CAROT_RESTART);
        in = raft_input(input(set_of(B, NULL, NULL), B, set_of(B, NULL, NULL), B, B, p, 1), set_of(A, B, NULL), B);
        carot_decide(&in, &d);
        ck_assert_int_eq(d.phase, CAROT_DROP);
        ck_assert_int_eq(d.action, CAROT_RESTART);
        ck_assert(d.may_restart);
        /* Restarted on what is on disk: steady. */
        in = raft_input(input(set_of(B, NULL, NULL), B, set_of(B, NULL, NULL), B, B, p, 1), set_of(B, NULL, NULL), B);
        carot_decide(&in, &d);
        ck_assert_int_eq(d.phase, CAROT_STEADY);
        ck_assert_int_eq(d.action, CAROT_NONE);
}
END_TEST

START_TEST(a_start_nobody_recorded_restarts_a_broker_only_mid_rotation) {
        fps();
        struct carot_peer p[] = { raft_peer(2, set_of(A, NULL, NULL), A, set_of(A, NULL, NULL), A) };
        struct carot_decision d;
        struct carot_input in = raft_input(input(set_of(A, NULL, NULL), A, set_of(A, NULL, NULL), A, A, p, 1),
                                           set_of(A, NULL, NULL), A);
        in.raft_known = false;
        carot_decide(&in, &d);
        ck_assert_int_eq(d.action, CAROT_NONE);
        in = raft_input(input(set_of(B, NULL, NULL), B, set_of(A, B, NULL), A, A, p, 1), set_of(A, NULL, NULL), A);
        in.raft_known = false;
        carot_decide(&in, &d);
        ck_assert_int_eq(d.action, CAROT_RESTART);
        /* A same-CA renewal leaves the Raft client on a leaf of the same CA: no restart. */
        in = raft_input(input(set_of(A, NULL, NULL), A, set_of(A, NULL, NULL), A, A, p, 1), set_of(A, NULL, NULL), A);
        carot_decide(&in, &d);
        ck_assert_int_eq(d.action, CAROT_NONE);
}
END_TEST

START_TEST(a_raft_client_whose_leaf_expires_soon_restarts_onto_the_renewed_one) {
        fps();
        struct carot_peer p[] = { raft_peer(2, set_of(A, NULL, NULL), A, set_of(A, NULL, NULL), A) };
        struct carot_decision d;
        struct carot_input in = raft_input(input(set_of(A, NULL, NULL), A, set_of(A, NULL, NULL), A, A, p, 1),
                                           set_of(A, NULL, NULL), A);
        in.raft_renew = "the Raft client presents an old leaf";
        carot_decide(&in, &d);
        ck_assert_int_eq(d.phase, CAROT_STEADY);
        ck_assert_int_eq(d.action, CAROT_RESTART);
        ck_assert(d.may_restart);
        ck_assert_str_eq(d.blocked, "restart requested: the Raft client presents an old leaf, and this node's turn came");
        /* In the same order as any restart. */
        p[0].node_id = 0;
        p[0].report.needs_restart = true;
        carot_decide(&in, &d);
        ck_assert(!d.may_restart);
        /* Mid-rotation the CA steps come first (each with its own restart). */
        in = raft_input(input(set_of(B, NULL, NULL), B, set_of(A, NULL, NULL), A, A, p, 1), set_of(A, NULL, NULL), A);
        in.raft_renew = "the Raft client presents an old leaf";
        carot_decide(&in, &d);
        ck_assert_int_eq(d.action, CAROT_ADD_TRUST);
}
END_TEST

START_TEST(restarts_go_one_node_at_a_time_lowest_node_id_first) {
        fps();
        struct carot_decision d;
        /* Node 0 has not written the trust step yet (its agent is a round behind): it still goes
         * first, so that node 1 never decides from a view a few seconds old. */
        struct carot_peer p[] = { raft_peer(0, set_of(A, NULL, NULL), A, set_of(A, NULL, NULL), A),
                                  raft_peer(2, set_of(A, B, NULL), A, set_of(A, NULL, NULL), A) };
        struct carot_input in = raft_input(input(set_of(B, NULL, NULL), B, set_of(A, B, NULL), A, A, p, 2),
                                           set_of(A, NULL, NULL), A);
#define CHECK_WAIT(why) do { carot_decide(&in, &d); ck_assert_int_eq(d.action, CAROT_RESTART); \
                             ck_assert(!d.may_restart); ck_assert_str_eq(d.blocked, why); } while (0)
        CHECK_WAIT("restart pending: node 0 (kafka-0.kafka-headless) restarts first (lower node id; its Raft client "
                   "has not started with this step's trust yet)");
        p[0].report.raft_known = false;
        CHECK_WAIT("restart pending: node 0 (kafka-0.kafka-headless) restarts first (lower node id; its Raft client "
                   "has not started with this step's trust yet)");
        /* Node 0 restarted trusting B: from here on the flags decide. */
        p[0] = raft_peer(0, set_of(A, B, NULL), A, set_of(A, B, NULL), A);
        p[0].report.needs_restart = true;
        CHECK_WAIT("restart pending: node 0 (kafka-0.kafka-headless) restarts first (lower node id)");
        p[0].report.needs_restart = false;
        p[0].report.restarting = true;
        CHECK_WAIT("restart pending: node 0 (kafka-0.kafka-headless) is restarting");
        p[0].report.restarting = false;
        p[0].report.ready = false;
        CHECK_WAIT("restart pending: node 0 (kafka-0.kafka-headless) is not ready");
        p[0].report.ready = true;
        in.ready = false;
        CHECK_WAIT("restart pending: this broker is not ready (in ISR) yet");
        in.ready = true;
        p[1].reported = false;
        snprintf(p[1].why, sizeof p[1].why, "connection refused");
        CHECK_WAIT("restart pending: node 2 (kafka-2.kafka-headless): its agent's report is unknown: connection refused");
        p[1].reported = true;
        /* A higher node id that needs a restart, or even asks for one, waits for this one. */
        p[1].report.needs_restart = true;
        p[1].report.restarting = true;
        carot_decide(&in, &d);
        ck_assert_int_eq(d.action, CAROT_RESTART);
        ck_assert(d.may_restart);
#undef CHECK_WAIT
}
END_TEST

START_TEST(on_tls_controllers_a_leaf_waits_for_every_raft_client_to_trust_its_ca) {
        fps();
        struct carot_decision d;
        /* The peer's listeners trust B, but its process started trusting A only. */
        struct carot_peer p[] = { raft_peer(2, set_of(A, B, NULL), A, set_of(A, NULL, NULL), A) };
        struct carot_input in = raft_input(input(set_of(B, NULL, NULL), B, set_of(A, B, NULL), A, A, p, 1),
                                           set_of(A, B, NULL), A);
        carot_decide(&in, &d);
        ck_assert_int_eq(d.action, CAROT_WAIT);
        ck_assert(!d.peer_ok[0]);
        ck_assert_str_eq(d.blocked, "node 2 (kafka-2.kafka-headless): its Raft client started before it trusted the "
                         "new CA bbbbbbbbbbbbbbbb: it restarts first");
        p[0].report.raft_known = false;
        carot_decide(&in, &d);
        ck_assert_str_eq(d.blocked, "node 2 (kafka-2.kafka-headless): its agent does not know what its Raft client "
                         "started with yet");
        /* A controller-only voter, judged by handshakes: no agent says what its Raft client has. */
        p[0].report.raft = false;
        carot_decide(&in, &d);
        ck_assert_int_eq(d.action, CAROT_WAIT);
        ck_assert_str_eq(d.blocked, "node 2 (kafka-2.kafka-headless): no agent reports what its Raft client started "
                         "with (a controller-only node, or an agent without it): roll it as docs/tls-rotation.md says");
        p[0] = raft_peer(2, set_of(A, B, NULL), A, set_of(A, B, NULL), A);
        carot_decide(&in, &d);
        ck_assert_int_eq(d.action, CAROT_SERVE_LEAF);
        ck_assert(d.peer_ok[0]);
}
END_TEST

START_TEST(on_tls_controllers_the_drop_waits_for_every_raft_client_to_present_a_new_leaf) {
        fps();
        struct carot_decision d;
        /* The peer's listeners serve B, but its process started with its A leaf. */
        struct carot_peer p[] = { raft_peer(2, set_of(A, B, NULL), B, set_of(A, B, NULL), A) };
        struct carot_input in = raft_input(input(set_of(B, NULL, NULL), B, set_of(A, B, NULL), B, B, p, 1),
                                           set_of(A, B, NULL), B);
        carot_decide(&in, &d);
        ck_assert_int_eq(d.phase, CAROT_LEAF);
        ck_assert_int_eq(d.action, CAROT_WAIT);
        ck_assert_str_eq(d.blocked, "node 2 (kafka-2.kafka-headless): its Raft client started with a leaf of CA "
                         "aaaaaaaaaaaaaaaa: it restarts first");
        snprintf(p[0].report.raft_serves, sizeof p[0].report.raft_serves, "%s", B);
        carot_decide(&in, &d);
        ck_assert_int_eq(d.action, CAROT_DROP_TRUST);
        ck_assert(carot_set_equal(&d.write_trust, &in.target));
        /* Without TLS on the controller listener the same state never asked the Raft clients. */
        snprintf(p[0].report.raft_serves, sizeof p[0].report.raft_serves, "%s", A);
        in.raft_tls = NULL;
        carot_decide(&in, &d);
        ck_assert_int_eq(d.action, CAROT_DROP_TRUST);
}
END_TEST

START_TEST(a_peer_report_carries_its_raft_start) {
        fps();
        char body[1200], why[300] = "";
        snprintf(body, sizeof body, "{\"ready\":true,\"tls\":{\"ca_rotation\":{\"trust_loaded\":true,\"trusts\":[\"%s\","
                 "\"%s\"],\"serves\":\"%s\",\"raft\":{\"listener\":\"CONTROLLER\",\"started_known\":true,"
                 "\"started_trusts\":[\"%s\"],\"started_serves\":\"%s\",\"current\":false,\"needs_restart\":true,"
                 "\"restart\":\"requested\"}}}}", A, B, A, A, A);
        struct carot_report r;
        ck_assert_int_eq(carot_parse_report(body, strlen(body), &r, why, sizeof why), 0);
        ck_assert(r.ready && r.raft && r.raft_known && r.needs_restart && r.restarting);
        ck_assert_uint_eq(r.raft_trusts.n, 1);
        ck_assert_str_eq(r.raft_trusts.fp[0], A);
        ck_assert_str_eq(r.raft_serves, A);
        /* No raft object (a PLAINTEXT controller listener) and no ready: neither. */
        snprintf(body, sizeof body, "{\"tls\":{\"ca_rotation\":{\"trust_loaded\":true,\"trusts\":[\"%s\"],"
                 "\"serves\":null,\"raft\":null}}}", A);
        ck_assert_int_eq(carot_parse_report(body, strlen(body), &r, why, sizeof why), 0);
        ck_assert(!r.raft && !r.ready && !r.restarting);
        snprintf(body, sizeof body, "{\"tls\":{\"ca_rotation\":{\"trust_loaded\":true,\"trusts\":[],\"serves\":null,"
                 "\"raft\":{\"started_known\":\"yes\"}}}}");
        ck_assert_int_eq(carot_parse_report(body, strlen(body), &r, why, sizeof why), -EINVAL);
        ck_assert_str_eq(why, "the peer's tls.ca_rotation.raft lacks started_known (bool), started_trusts (array), "
                         "started_serves (string or null), needs_restart (bool) or restart (string)");
}
END_TEST

START_TEST(the_state_file_round_trips_exactly) {
        fps();
        char buf[256], fp[CAROT_FP_LEN];
        int n = carot_state_format(A, buf, sizeof buf);
        ck_assert_int_eq(n, (int) strlen(buf));
        ck_assert_str_eq(buf, "kpa-ca-rotation 1\nloaded_ca_sha256=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n");
        ck_assert_int_eq(carot_state_parse(buf, (size_t) n, fp), 0);
        ck_assert_str_eq(fp, A);
        ck_assert_int_eq(carot_state_parse(buf, (size_t) n - 1, fp), -EINVAL);
        buf[20] = 'X';
        ck_assert_int_eq(carot_state_parse(buf, (size_t) n, fp), -EINVAL);
        ck_assert_int_eq(carot_state_format("short", buf, sizeof buf), -EINVAL);
}
END_TEST

int main(void) {
        Suite *s = suite_create("carot");
        TCase *tc = tcase_create("decide");
        tcase_add_test(tc, no_ca_change_is_steady_and_does_nothing);
        tcase_add_test(tc, a_new_ca_is_first_added_to_the_trust_without_waiting_for_anyone);
        tcase_add_test(tc, the_new_leaf_waits_until_every_peer_trusts_the_new_ca);
        tcase_add_test(tc, a_peer_that_goes_unknown_holds_the_gate_and_is_named);
        tcase_add_test(tc, the_old_ca_is_dropped_only_once_every_broker_serves_a_new_leaf);
        tcase_add_test(tc, after_the_drop_the_rotation_is_steady);
        tcase_add_test(tc, an_agent_restarted_mid_rotation_resumes_from_what_is_on_disk);
        tcase_add_test(tc, a_new_ca_change_mid_rotation_adds_it_and_keeps_every_earlier_ca);
        tcase_add_test(tc, a_plain_leaf_renewal_is_no_ca_step);
        tcase_add_test(tc, too_many_cas_wait_instead_of_dropping_any);
        tcase_add_test(tc, on_tls_controllers_each_step_is_followed_by_a_restart_of_the_broker);
        tcase_add_test(tc, a_start_nobody_recorded_restarts_a_broker_only_mid_rotation);
        tcase_add_test(tc, a_raft_client_whose_leaf_expires_soon_restarts_onto_the_renewed_one);
        tcase_add_test(tc, restarts_go_one_node_at_a_time_lowest_node_id_first);
        tcase_add_test(tc, on_tls_controllers_a_leaf_waits_for_every_raft_client_to_trust_its_ca);
        tcase_add_test(tc, on_tls_controllers_the_drop_waits_for_every_raft_client_to_present_a_new_leaf);
        tcase_add_test(tc, a_peer_report_carries_its_raft_start);
        suite_add_tcase(s, tc);
        tc = tcase_create("io");
        tcase_add_test(tc, fingerprints_are_64_lower_case_hex_digits);
        tcase_add_test(tc, a_peer_report_is_read_from_its_status);
        tcase_add_test(tc, a_bad_peer_report_is_refused_with_a_reason);
        tcase_add_test(tc, the_state_file_round_trips_exactly);
        suite_add_tcase(s, tc);
        return tu_run_suite(s);
}
