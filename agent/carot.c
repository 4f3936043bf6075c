/* The pure decisions of a CA rotation across the cluster (see include/kpa/carot.h). */
#include "kpa/carot.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

static const char STATE_MAGIC[] = "kpa-ca-rotation 1\n";
static const char STATE_KEY[] = "loaded_ca_sha256=";

const char *carot_phase_name(enum carot_phase p) {
        switch (p) {
        case CAROT_STEADY: return "steady";
        case CAROT_TRUST: return "trust";
        case CAROT_LEAF: return "leaf";
        case CAROT_DROP: return "drop";
        default: return "unknown";
        }
}

const char *carot_action_name(enum carot_action a) {
        switch (a) {
        case CAROT_NONE: return "none";
        case CAROT_ADD_TRUST: return "add_trust";
        case CAROT_RELOAD_TRUST: return "reload_trust";
        case CAROT_SERVE_LEAF: return "serve_leaf";
        case CAROT_DROP_TRUST: return "drop_trust";
        case CAROT_WAIT: return "wait";
        case CAROT_RESTART: return "restart";
        default: return "unknown";
        }
}

static bool fp_ok(const char *fp) {
        size_t i = 0;
        for (; fp[i]; i++)
                if (i >= CAROT_FP_LEN - 1 || !(isdigit((unsigned char) fp[i]) || (fp[i] >= 'a' && fp[i] <= 'f')))
                        return false;
        return i == CAROT_FP_LEN - 1;
}

bool carot_set_has(const struct carot_set *s, const char *fp) {
        for (size_t i = 0; i < s->n; i++)
                if (strcmp(s->fp[i], fp) == 0)
                        return true;
        return false;
}

int carot_set_add(struct carot_set *s, const char *fp) {
        if (!fp_ok(fp))
                return -EINVAL;
        if (carot_set_has(s, fp))
                return 0;
        if (s->n >= CAROT_MAX_CAS)
                return -E2BIG;
        memcpy(s->fp[s->n++], fp, CAROT_FP_LEN);
        return 0;
}

static bool subset(const struct carot_set *a, const struct carot_set *b) {
        for (size_t i = 0; i < a->n; i++)
                if (!carot_set_has(b, a->fp[i]))
                        return false;
        return true;
}

bool carot_set_equal(const struct carot_set *a, const struct carot_set *b) {
        return subset(a, b) && subset(b, a);
}

/* A CA named in a message: its first 16 hex digits are enough to tell CAs apart. */
static const char *short_fp(const char *fp) {
        return fp[0] ? fp : "none";
}

static void peer_name(const struct carot_peer *p, char *buf, size_t len) {
        snprintf(buf, len, "node %d (%.200s)", (int) p->node_id, p->host);
}

/* The TRUST gate: every peer's agent reports that its broker loaded a trust store holding the
 * CA of the Secret's leaf. */
static bool gate_trust(const struct carot_input *in, struct carot_decision *d) {
        bool open = true;
        for (size_t i = 0; i < in->n_peers; i++) {
                const struct carot_peer *p = &in->peers[i];
                char who[240];
                peer_name(p, who, sizeof who);
                d->peer_ok[i] = p->reported && p->report.trust_loaded && carot_set_has(&p->report.trusts, in->target_leaf);
                if (d->peer_ok[i] || !open)
                        continue;
                open = false;
                if (!p->reported)
                        snprintf(d->blocked, sizeof d->blocked, "%s: its trust is unknown: %.300s", who, p->why);
                else if (!p->report.trust_loaded)
                        snprintf(d->blocked, sizeof d->blocked, "%s: its broker has not confirmed loading its trust "
                                 "store yet", who);
                else
                        snprintf(d->blocked, sizeof d->blocked, "%s: does not trust the new CA %.16s yet", who,
                                 in->target_leaf);
        }
        return open;
}

/* The LEAF gate: this broker and every peer serve a leaf of a CA of the Secret, both by this
 * agent's handshake and by the peer's own report (which covers all its connections). */
static bool gate_leaf(const struct carot_input *in, struct carot_decision *d) {
        bool open = true;
        if (!in->served[0] || !carot_set_has(&in->target, in->served)) {
                open = false;
                snprintf(d->blocked, sizeof d->blocked, "this broker does not serve a leaf of the new CA on every "
                         "listener yet (serves CA %.16s)", short_fp(in->served));
        }
        for (size_t i = 0; i < in->n_peers; i++) {
                const struct carot_peer *p = &in->peers[i];
                char who[240];
                peer_name(p, who, sizeof who);
                bool seen = p->served[0] && carot_set_has(&in->target, p->served);
                bool said = p->reported && p->report.serves[0] && carot_set_has(&in->target, p->report.serves);
                d->peer_ok[i] = seen && said;
                if (d->peer_ok[i] || !open)
                        continue;
                open = false;
                if (!p->served[0])
                        snprintf(d->blocked, sizeof d->blocked, "%s: what it serves is unknown: %.300s", who, p->why);
                else if (!seen)
                        snprintf(d->blocked, sizeof d->blocked, "%s: still serves a leaf of CA %.16s", who, p->served);
                else if (!p->reported)
                        snprintf(d->blocked, sizeof d->blocked, "%s: its agent's report is unknown: %.300s", who, p->why);
                else
                        snprintf(d->blocked, sizeof d->blocked, "%s: its agent has not confirmed that every connection "
                                 "is served a leaf of the new CA (reports CA %.16s)", who, short_fp(p->report.serves));
        }
        return open;
}

/* Whether the gates can be judged at all: the list of peers is known and bounded. */
static bool peers_known(const struct carot_input *in, struct carot_decision *d) {
        if (in->peers_unknown) {
                snprintf(d->blocked, sizeof d->blocked, "the cluster's brokers are unknown: %.500s", in->peers_unknown);
                return false;
        }
        if (in->n_peers > CAROT_MAX_PEERS) {
                snprintf(d->blocked, sizeof d->blocked, "more than %d peers: kpa does not gate a CA rotation that large",
                         CAROT_MAX_PEERS);
                return false;
        }
        return true;
}

/* The Raft gates (raft_tls): Kafka's KRaft client (KafkaRaftManager) is never reconfigured, so
 * what counts for it is what each peer's broker process started with (raftstart.h), which its
 * agent reports. Reproduced on 4.1.1: after a dynamic CA rotation of three combined nodes that
 * ignored it, the two controllers left when the active one died could not elect a leader (PKIX
 * errors on every Vote) until they were restarted. want_leaf: every peer's Raft client started
 * trusting the new leaf's CA (before this node serves it); else every peer's started with a
 * leaf of a CA of the Secret (before this node drops the old CAs). */
static bool gate_raft(const struct carot_input *in, struct carot_decision *d, bool want_leaf) {
        for (size_t i = 0; i < in->n_peers; i++) {
                const struct carot_peer *p = &in->peers[i];
                const struct carot_report *r = &p->report;
                char who[240];
                peer_name(p, who, sizeof who);
                bool ok = p->reported && r->raft && r->raft_known &&
                          (want_leaf ? carot_set_has(&r->raft_trusts, in->target_leaf)
                                     : r->raft_serves[0] && carot_set_has(&in->target, r->raft_serves));
                if (ok)
                        continue;
                d->peer_ok[i] = false;
                if (!p->reported)
                        snprintf(d->blocked, sizeof d->blocked, "%s: what its Raft client started with is unknown: "
                                 "%.300s", who, p->why);
                else if (!r->raft)
                        snprintf(d->blocked, sizeof d->blocked, "%s: no agent reports what its Raft client started with "
                                 "(a controller-only node, or an agent without it): roll it as docs/tls-rotation.md says",
                                 who);
                else if (!r->raft_known)
                        snprintf(d->blocked, sizeof d->blocked, "%s: its agent does not know what its Raft client "
                                 "started with yet", who);
                else if (want_leaf)
                        snprintf(d->blocked, sizeof d->blocked, "%s: its Raft client started before it trusted the new "
                                 "CA %.16s: it restarts first", who, in->target_leaf);
                else
                        snprintf(d->blocked, sizeof d->blocked, "%s: its Raft client started with a leaf of CA %.16s: it "
                                 "restarts first", who, short_fp(r->raft_serves));
                return false;
        }
        return true;
}

bool carot_raft_behind(const struct carot_input *in) {
        if (!in->raft_tls)
                return false;
        if (!in->raft_known)
                return strcmp(in->stored_leaf, in->target_leaf) != 0 || !subset(&in->trusted, &in->target);
        return !carot_set_equal(&in->raft_trusts, &in->trusted) || strcmp(in->raft_serves, in->stored_leaf) != 0;
}

/* One node at a time: a node restarts when every peer's agent answered, is ready, is not
 * restarting, and none with a lower node id still has to restart. Two nodes that decide at
 * once see each other at the next round (a few seconds, well inside the kubelet's failed
 * liveness probes before it acts): the higher id then withdraws. */
/* Whether a peer's Raft client has already started with this CA step's material (the step of
 * phase: TRUST, trusting the new leaf's CA; LEAF, a leaf of a CA of the Secret; DROP, none but
 * the Secret's CAs trusted). A renewal's restart (STEADY) has no such step. */
static bool peer_past(const struct carot_input *in, const struct carot_report *r, enum carot_phase phase) {
        switch (phase) {
        case CAROT_TRUST: return carot_set_has(&r->raft_trusts, in->target_leaf);
        case CAROT_LEAF: return r->raft_serves[0] && carot_set_has(&in->target, r->raft_serves);
        case CAROT_DROP: return r->raft_trusts.n > 0 && subset(&r->raft_trusts, &in->target);
        default: return true;
        }
}

static void restart_turn(const struct carot_input *in, struct carot_decision *d, const char *because) {
        d->may_restart = false;
        if (!peers_known(in, d))
                return;
        if (!in->ready) {
                snprintf(d->blocked, sizeof d->blocked, "restart pending: this broker is not ready (in ISR) yet");
                return;
        }
        for (size_t i = 0; i < in->n_peers; i++) {
                const struct carot_peer *p = &in->peers[i];
                const struct carot_report *r = &p->report;
                char who[240];
                peer_name(p, who, sizeof who);
                if (!p->reported) {
                        snprintf(d->blocked, sizeof d->blocked, "restart pending: %s: its agent's report is unknown: "
                                 "%.300s", who, p->why);
                        return;
                }
                if (r->restarting && p->node_id < in->node_id) {
                        snprintf(d->blocked, sizeof d->blocked, "restart pending: %s is restarting", who);
                        return;
                }
                if (r->needs_restart && p->node_id < in->node_id) {
                        snprintf(d->blocked, sizeof d->blocked, "restart pending: %s restarts first (lower node id)", who);
                        return;
                }
                /* Strictly in node id order for a CA step: a lower id that has not yet taken the
                 * step (its agent may not even have written it) goes first, so that two nodes
                 * never decide at once from views a few seconds apart. */
                if (r->raft && p->node_id < in->node_id && (!r->raft_known || !peer_past(in, r, d->phase))) {
                        snprintf(d->blocked, sizeof d->blocked, "restart pending: %s restarts first (lower node id; "
                                 "its Raft client has not started with this step's %s yet)", who,
                                 d->phase == CAROT_TRUST ? "trust" : d->phase == CAROT_LEAF ? "leaf" : "trust store");
                        return;
                }
                if (!r->ready) {
                        snprintf(d->blocked, sizeof d->blocked, "restart pending: %s is not ready", who);
                        return;
                }
        }
        d->may_restart = true;
        snprintf(d->blocked, sizeof d->blocked, "restart requested: %.500s, and this node's turn came", because);
}

void carot_decide(const struct carot_input *in, struct carot_decision *ret) {
        struct carot_decision d = { .phase = CAROT_STEADY, .action = CAROT_NONE };
        /* The Secret's leaf chains to another CA than the stored one: a CA change to serve. */
        bool leaf_pending = strcmp(in->stored_leaf, in->target_leaf) != 0;
        /* The trust store still holds CAs the Secret no longer names. */
        bool extra = !subset(&in->trusted, &in->target);
        bool missing = !subset(&in->target, &in->trusted);

        if (in->target.n == 0 || !in->target_leaf[0]) {
                snprintf(d.blocked, sizeof d.blocked, "the Secret's CAs are unknown");
                d.action = CAROT_WAIT;
        } else if (missing) {
                /* Adding trust is always safe: nothing any broker serves becomes untrusted. */
                d.phase = CAROT_TRUST;
                d.write_trust = in->trusted;
                for (size_t i = 0; i < in->target.n; i++)
                        if (carot_set_add(&d.write_trust, in->target.fp[i]) < 0) {
                                d.action = CAROT_WAIT;
                                snprintf(d.blocked, sizeof d.blocked, "the old and new CAs together are more than %d",
                                         CAROT_MAX_CAS);
                                break;
                        }
                if (d.action != CAROT_WAIT) {
                        d.action = CAROT_ADD_TRUST;
                        snprintf(d.blocked, sizeof d.blocked, "trusting the new CA %.16s beside the old ones",
                                 in->target_leaf);
                }
        } else if (!in->trust_loaded) {
                /* A trust store the broker may not have loaded is never reported to peers as
                 * trusted: it is reloaded first. */
                d.phase = leaf_pending ? CAROT_TRUST : extra ? CAROT_LEAF : CAROT_DROP;
                d.action = CAROT_RELOAD_TRUST;
                snprintf(d.blocked, sizeof d.blocked, "the broker has not confirmed loading the trust store on disk");
        } else if (carot_raft_behind(in)) {
                d.phase = leaf_pending ? CAROT_TRUST : extra ? CAROT_LEAF : CAROT_DROP;
                d.action = CAROT_RESTART;
                restart_turn(in, &d, "the broker process's Raft client started with other TLS material than the "
                             "stores hold now (Kafka never reloads it)");
        } else if (in->raft_tls && in->raft_renew && !leaf_pending && !extra) {
                /* A renewal from the same CA: the listeners serve the new leaf, the Raft client
                 * still presents the one it started with, which is about to expire. */
                d.action = CAROT_RESTART;
                restart_turn(in, &d, in->raft_renew);
        } else if (leaf_pending) {
                d.phase = CAROT_TRUST;
                if (peers_known(in, &d) && gate_trust(in, &d) && (!in->raft_tls || gate_raft(in, &d, true))) {
                        d.action = CAROT_SERVE_LEAF;
                        snprintf(d.blocked, sizeof d.blocked, "every peer trusts the new CA %.16s: serving its leaf",
                                 in->target_leaf);
                } else {
                        d.action = CAROT_WAIT;
                }
        } else if (extra) {
                d.phase = CAROT_LEAF;
                if (peers_known(in, &d) && gate_leaf(in, &d) && (!in->raft_tls || gate_raft(in, &d, false))) {
                        d.action = CAROT_DROP_TRUST;
                        d.write_trust = in->target;
                        snprintf(d.blocked, sizeof d.blocked, "every broker serves a leaf of the new CA: dropping "
                                 "the old CAs");
                } else {
                        d.action = CAROT_WAIT;
                }
        }
        *ret = d;
}

static int fail(char *why, size_t whylen, const char *what) {
        snprintf(why, whylen, "%s", what);
        return -EINVAL;
}

/* The optional tls.ca_rotation.raft of a report, and the /status "ready" beside it. */
static int parse_raft(const cJSON *root, const cJSON *ca, struct carot_report *r, char *why, size_t whylen) {
        const cJSON *ready = cJSON_GetObjectItemCaseSensitive(root, "ready");
        r->ready = cJSON_IsTrue(ready);
        const cJSON *raft = cJSON_GetObjectItemCaseSensitive(ca, "raft");
        if (!raft || cJSON_IsNull(raft))
                return 0;
        const cJSON *known = cJSON_GetObjectItemCaseSensitive(raft, "started_known");
        const cJSON *trusts = cJSON_GetObjectItemCaseSensitive(raft, "started_trusts");
        const cJSON *serves = cJSON_GetObjectItemCaseSensitive(raft, "started_serves");
        const cJSON *needs = cJSON_GetObjectItemCaseSensitive(raft, "needs_restart");
        const cJSON *restart = cJSON_GetObjectItemCaseSensitive(raft, "restart");
        if (!cJSON_IsObject(raft) || !cJSON_IsBool(known) || !cJSON_IsArray(trusts) ||
            !(cJSON_IsNull(serves) || cJSON_IsString(serves)) || !cJSON_IsBool(needs) || !cJSON_IsString(restart))
                return fail(why, whylen, "the peer's tls.ca_rotation.raft lacks started_known (bool), started_trusts "
                            "(array), started_serves (string or null), needs_restart (bool) or restart (string)");
        r->raft = true;
        r->raft_known = cJSON_IsTrue(known);
        r->needs_restart = cJSON_IsTrue(needs);
        r->restarting = strcmp(restart->valuestring, "requested") == 0;
        const cJSON *e;
        cJSON_ArrayForEach(e, trusts) {
                if (!cJSON_IsString(e) || carot_set_add(&r->raft_trusts, e->valuestring) < 0)
                        return fail(why, whylen, "the peer's tls.ca_rotation.raft.started_trusts holds something else "
                                    "than at most 16 SHA-256 fingerprints");
        }
        if (cJSON_IsString(serves)) {
                struct carot_set one = { 0 };
                if (carot_set_add(&one, serves->valuestring) < 0)
                        return fail(why, whylen, "the peer's tls.ca_rotation.raft.started_serves is not a SHA-256 "
                                    "fingerprint");
                memcpy(r->raft_serves, one.fp[0], CAROT_FP_LEN);
        }
        if (!r->raft_known) {
                r->raft_trusts.n = 0;
                r->raft_serves[0] = '\0';
        }
        return 0;
}

int carot_parse_report(const char *body, size_t len, struct carot_report *ret, char *why, size_t whylen) {
        if (len > CAROT_REPORT_MAX_BYTES)
                return fail(why, whylen, "the peer's /status is larger than 1 MiB");
        cJSON *root = cJSON_ParseWithLength(body, len);
        if (!root)
                return fail(why, whylen, "the peer's /status is not JSON");
        struct carot_report r = { 0 };
        int rc = 0;
        const cJSON *tls = cJSON_GetObjectItemCaseSensitive(root, "tls");
        const cJSON *ca = cJSON_IsObject(tls) ? cJSON_GetObjectItemCaseSensitive(tls, "ca_rotation") : NULL;
        const cJSON *loaded = cJSON_IsObject(ca) ? cJSON_GetObjectItemCaseSensitive(ca, "trust_loaded") : NULL;
        const cJSON *trusts = cJSON_IsObject(ca) ? cJSON_GetObjectItemCaseSensitive(ca, "trusts") : NULL;
        const cJSON *serves = cJSON_IsObject(ca) ? cJSON_GetObjectItemCaseSensitive(ca, "serves") : NULL;
        if (!cJSON_IsObject(ca)) {
                rc = fail(why, whylen, "the peer's /status has no tls.ca_rotation (an agent without CA rotation, "
                          "or without KPA_TLS_DIR)");
        } else if (!cJSON_IsBool(loaded) || !cJSON_IsArray(trusts) || !(cJSON_IsNull(serves) || cJSON_IsString(serves))) {
                rc = fail(why, whylen, "the peer's tls.ca_rotation lacks trust_loaded (bool), trusts (array) or "
                          "serves (string or null)");
        } else {
                r.trust_loaded = cJSON_IsTrue(loaded);
                const cJSON *e;
                cJSON_ArrayForEach(e, trusts) {
                        int a = cJSON_IsString(e) ? carot_set_add(&r.trusts, e->valuestring) : -EINVAL;
                        if (a < 0) {
                                rc = fail(why, whylen, a == -E2BIG ? "the peer reports more than 16 CAs"
                                          : "the peer's tls.ca_rotation.trusts holds something else than a "
                                            "SHA-256 fingerprint");
                                break;
                        }
                }
                if (rc == 0 && cJSON_IsString(serves)) {
                        struct carot_set one = { 0 };
                        if (carot_set_add(&one, serves->valuestring) < 0)
                                rc = fail(why, whylen, "the peer's tls.ca_rotation.serves is not a SHA-256 fingerprint");
                        else
                                memcpy(r.serves, one.fp[0], CAROT_FP_LEN);
                }
                if (rc == 0 && !r.trust_loaded)
                        r.trusts.n = 0;
                if (rc == 0)
                        rc = parse_raft(root, ca, &r, why, whylen);
        }
        cJSON_Delete(root);
        if (rc == 0)
                *ret = r;
        return rc;
}

int carot_state_format(const char *loaded_fp, char *buf, size_t len) {
        if (!fp_ok(loaded_fp))
                return -EINVAL;
        int n = snprintf(buf, len, "%s%s%s\n", STATE_MAGIC, STATE_KEY, loaded_fp);
        return n < 0 || (size_t) n >= len ? -E2BIG : n;
}

int carot_state_parse(const char *text, size_t len, char ret_fp[CAROT_FP_LEN]) {
        size_t m = sizeof STATE_MAGIC - 1, k = sizeof STATE_KEY - 1;
        if (len != m + k + CAROT_FP_LEN - 1 + 1 || memcmp(text, STATE_MAGIC, m) != 0 ||
            memcmp(text + m, STATE_KEY, k) != 0 || text[len - 1] != '\n')
                return -EINVAL;
        char fp[CAROT_FP_LEN];
        memcpy(fp, text + m + k, CAROT_FP_LEN - 1);
        fp[CAROT_FP_LEN - 1] = '\0';
        if (!fp_ok(fp))
                return -EINVAL;
        memcpy(ret_fp, fp, CAROT_FP_LEN);
        return 0;
}
