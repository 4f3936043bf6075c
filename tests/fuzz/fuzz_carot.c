/* CA rotation across the cluster (agent/carot.c): a peer agent's /status as read from the
 * network, the state file as read from disk, and the gated decision over any state.
 *
 * Input: a mode byte; then either the bytes of a peer's /status (mode 0), a state file (mode 1),
 * a small cluster (mode 2): CAs drawn from four fingerprints, this broker's sets and leaves,
 * what its Raft client started with, up to 5 peers with their reports and handshakes; or a
 * Raft start record (mode 3, raftstart.h).
 *
 * Invariants: a report parsed holds only valid fingerprints and nothing trusted unless its trust
 * is loaded; a message is one printable line; a state file parses only if formatting its digest
 * gives it back byte for byte; the decision never serves a new-CA leaf unless every peer reported
 * trusting that CA, never drops a CA unless this broker and every peer serve a leaf of a CA of
 * the Secret, never opens a gate with peers unknown, and an added trust keeps every CA trusted;
 * with TLS on the controller listener it never serves a new leaf before every peer's Raft client
 * started trusting its CA, never drops before every peer's started with a new leaf, and a
 * restart's turn never comes while this broker or a peer is not ready, unknown, or a lower node
 * id still has to restart; a record parses only if it formats back byte for byte. */
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "fuzz.h"
#include "kpa/carot.h"
#include "kpa/raftstart.h"

static char FP[4][CAROT_FP_LEN];

static void printable(const char *s) {
        for (; *s; s++)
                FUZZ_CHECK(isprint((unsigned char) *s), "unprintable byte in a message");
}

static void fps(void) {
        for (int i = 0; i < 4; i++) {
                memset(FP[i], "abcd"[i], 64);
                FP[i][64] = '\0';
        }
}

static struct carot_set some(struct fz *f) {
        struct carot_set s = { 0 };
        uint8_t m = fz_u8(f);
        for (int i = 0; i < 4; i++)
                if (m & (1u << i))
                        carot_set_add(&s, FP[i]);
        return s;
}

static const char *one(struct fz *f) {
        int i = (int) fz_range(f, 0, 4);
        return i == 4 ? "" : FP[i];
}

static void check_report(const struct carot_report *r) {
        struct carot_set copy = { 0 };
        for (size_t i = 0; i < r->trusts.n; i++)
                FUZZ_CHECK(carot_set_add(&copy, r->trusts.fp[i]) == 0, "an invalid fingerprint was kept");
        FUZZ_CHECK(r->trust_loaded || r->trusts.n == 0, "trust counted while not loaded");
        for (size_t i = 0; i < r->raft_trusts.n; i++)
                FUZZ_CHECK(carot_set_add(&copy, r->raft_trusts.fp[i]) != -EINVAL, "an invalid Raft fingerprint was kept");
        FUZZ_CHECK(r->raft_known || (r->raft_trusts.n == 0 && !r->raft_serves[0]), "a Raft start kept while unknown");
        FUZZ_CHECK(r->raft || (!r->raft_known && !r->needs_restart && !r->restarting), "Raft fields without raft");
        if (r->serves[0])
                FUZZ_CHECK(carot_set_add(&copy, r->serves) != -EINVAL, "an invalid serves fingerprint");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct fz f = { data, size };
        fps();
        uint8_t mode = fz_u8(&f) % 4;
        if (mode == 0) {
                struct carot_report r;
                char why[256] = "";
                if (carot_parse_report((const char *) f.p, f.n, &r, why, sizeof why) == 0)
                        check_report(&r);
                else
                        printable(why);
                return 0;
        }
        if (mode == 1) {
                char fp[CAROT_FP_LEN], back[256];
                if (carot_state_parse((const char *) f.p, f.n, fp) == 0) {
                        int n = carot_state_format(fp, back, sizeof back);
                        FUZZ_CHECK(n > 0 && (size_t) n == f.n && memcmp(back, f.p, f.n) == 0,
                                   "a state file that does not format back to itself");
                }
                return 0;
        }
        if (mode == 3) {
                struct raftstart_record r;
                char back[RAFTSTART_STATE_MAX_BYTES];
                if (raftstart_parse((const char *) f.p, f.n, &r) == 0) {
                        int n = raftstart_format(&r, back, sizeof back);
                        FUZZ_CHECK(n > 0 && (size_t) n == f.n && memcmp(back, f.p, f.n) == 0,
                                   "a Raft start record that does not format back to itself");
                }
                return 0;
        }
        struct carot_input in = { 0 };
        struct carot_peer peers[5];
        in.target = some(&f);
        snprintf(in.target_leaf, sizeof in.target_leaf, "%s", one(&f));
        in.trusted = some(&f);
        in.trust_loaded = fz_bool(&f);
        snprintf(in.stored_leaf, sizeof in.stored_leaf, "%s", one(&f));
        snprintf(in.served, sizeof in.served, "%s", one(&f));
        in.peers_unknown = fz_bool(&f) ? "unknown" : NULL;
        in.raft_tls = fz_bool(&f) ? "CONTROLLER" : NULL;
        in.node_id = (int32_t) fz_range(&f, 0, 5);
        in.ready = fz_bool(&f);
        in.raft_known = fz_bool(&f);
        in.raft_trusts = some(&f);
        snprintf(in.raft_serves, sizeof in.raft_serves, "%s", one(&f));
        in.raft_renew = fz_bool(&f) ? "the Raft client's leaf expires soon" : NULL;
        in.n_peers = (size_t) fz_range(&f, 0, 5);
        for (size_t i = 0; i < in.n_peers; i++) {
                struct carot_peer *p = &peers[i];
                memset(p, 0, sizeof *p);
                p->node_id = (int32_t) i;
                p->reported = fz_bool(&f);
                p->report.trust_loaded = fz_bool(&f);
                p->report.trusts = some(&f);
                snprintf(p->report.serves, sizeof p->report.serves, "%s", one(&f));
                snprintf(p->served, sizeof p->served, "%s", one(&f));
                p->report.raft = fz_bool(&f);
                p->report.raft_known = fz_bool(&f);
                p->report.raft_trusts = some(&f);
                snprintf(p->report.raft_serves, sizeof p->report.raft_serves, "%s", one(&f));
                p->report.ready = fz_bool(&f);
                p->report.needs_restart = fz_bool(&f);
                p->report.restarting = fz_bool(&f);
        }
        in.peers = peers;
        struct carot_decision d;
        carot_decide(&in, &d);
        printable(d.blocked);
        if (d.action == CAROT_SERVE_LEAF || d.action == CAROT_DROP_TRUST)
                FUZZ_CHECK(!in.peers_unknown && in.trust_loaded, "a gate opened with peers unknown or trust unloaded");
        if (d.action == CAROT_SERVE_LEAF)
                for (size_t i = 0; i < in.n_peers; i++)
                        FUZZ_CHECK(peers[i].reported && peers[i].report.trust_loaded &&
                                   carot_set_has(&peers[i].report.trusts, in.target_leaf),
                                   "a new leaf served before a peer trusts its CA");
        if (d.action == CAROT_DROP_TRUST) {
                FUZZ_CHECK(carot_set_has(&in.target, in.served), "dropped while this broker serves an old leaf");
                for (size_t i = 0; i < in.n_peers; i++)
                        FUZZ_CHECK(carot_set_has(&in.target, peers[i].served) &&
                                   carot_set_has(&in.target, peers[i].report.serves),
                                   "dropped while a peer serves an old leaf");
                FUZZ_CHECK(carot_set_equal(&d.write_trust, &in.target), "the drop keeps other CAs than the Secret's");
        }
        if (in.raft_tls && d.action == CAROT_SERVE_LEAF)
                for (size_t i = 0; i < in.n_peers; i++)
                        FUZZ_CHECK(peers[i].report.raft && peers[i].report.raft_known &&
                                   carot_set_has(&peers[i].report.raft_trusts, in.target_leaf),
                                   "a new leaf served before a peer's Raft client trusts its CA");
        if (in.raft_tls && d.action == CAROT_DROP_TRUST)
                for (size_t i = 0; i < in.n_peers; i++)
                        FUZZ_CHECK(peers[i].report.raft && peers[i].report.raft_known &&
                                   carot_set_has(&in.target, peers[i].report.raft_serves),
                                   "dropped while a peer's Raft client presents an old leaf");
        FUZZ_CHECK(!d.may_restart || (in.raft_tls && d.action == CAROT_RESTART), "a restart outside CAROT_RESTART");
        if (d.may_restart) {
                FUZZ_CHECK(in.ready && !in.peers_unknown, "a restart while not ready or with peers unknown");
                for (size_t i = 0; i < in.n_peers; i++)
                        FUZZ_CHECK(peers[i].reported && peers[i].report.ready &&
                                   !(peers[i].node_id < in.node_id &&
                                     (peers[i].report.needs_restart || peers[i].report.restarting)),
                                   "a restart before a lower node id's, or with a peer not ready");
                for (size_t i = 0; i < in.n_peers; i++)
                        if (peers[i].report.raft && peers[i].node_id < in.node_id && d.phase == CAROT_TRUST)
                                FUZZ_CHECK(peers[i].report.raft_known &&
                                           carot_set_has(&peers[i].report.raft_trusts, in.target_leaf),
                                           "a trust restart before a lower node id's Raft client trusts the new CA");
        }
        if (d.action == CAROT_ADD_TRUST)
                for (size_t i = 0; i < in.trusted.n; i++)
                        FUZZ_CHECK(carot_set_has(&d.write_trust, in.trusted.fp[i]), "adding trust dropped a CA");
        return 0;
}
