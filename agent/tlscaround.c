/* One round of a CA rotation across the cluster (see include/kpa/tlscaround.h). */
#include "kpa/tlscaround.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kpa/carotpeer.h"
#include "kpa/fsx.h"
#include "kpa/log.h"
#include "kpa/parse.h"
#include "kpa/secret.h"
#include "kpa/tls_p12.h"
#include "kpa/tlsca.h"
#include "kpa/tlsreload.h"

#define STATE_MAX_BYTES 4096
#define PATHLEN 4200

static int read_in(const char *dir, const char *name, size_t max, char **ret, size_t *ret_len) {
        char path[PATHLEN];
        if ((size_t) snprintf(path, sizeof path, "%s/%s", dir, name) >= sizeof path)
                return -ENAMETOOLONG;
        return fsx_read_file(path, max, ret, ret_len);
}

/* Writes one public state file next to the stores, atomically. */
static int write_public(const char *dir, const char *name, const char *text, size_t n, char *why, size_t whylen) {
        struct fileset *fs = fileset_new(dir);
        int r = fs ? fileset_add(fs, name, text, n, 0644, false) : -ENOMEM;
        char err[300] = "";
        if (r == 0)
                r = fileset_commit(fs, err, sizeof err);
        if (r < 0)
                snprintf(why, whylen, "writing %.200s/%s: %.300s", dir, name, err[0] ? err : strerror(-r));
        fileset_free(fs);
        return r;
}

static int write_state(const char *dir, const char *sha, char *why, size_t whylen) {
        char text[256];
        int n = carot_state_format(sha, text, sizeof text);
        if (n < 0) {
                snprintf(why, whylen, "%s: no digest to record", TLSCAROUND_STATE_FILE);
                return n;
        }
        return write_public(dir, TLSCAROUND_STATE_FILE, text, (size_t) n, why, whylen);
}

/* The newest modification time of the stores and ca.pem (ms), or -1 when one cannot be read. */
static int64_t stores_mtime_ms(const char *dir) {
        static const char *const names[] = { TLS_KEYSTORE_FILE, TLS_TRUSTSTORE_FILE, TLS_CA_PEM_FILE };
        int64_t newest = -1;
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
                char path[PATHLEN];
                struct stat st;
                if ((size_t) snprintf(path, sizeof path, "%s/%s", dir, names[i]) >= sizeof path || stat(path, &st) < 0)
                        return -1;
                int64_t t = (int64_t) st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
                if (t > newest)
                        newest = t;
        }
        return newest;
}

/* What the broker process's Raft client started with (raftstart.h), recorded when it is the
 * stores on disk. A record that cannot be written leaves it unknown: fail closed. */
static void raft_observe(const struct tlscaround_in *in, const struct carot_set *trusted, const char *stored_leaf,
                         struct tlscaround_view *v, char *why, size_t whylen) {
        char *text = NULL;
        size_t len = 0;
        struct raftstart_record rec;
        bool have = read_in(in->out_dir, RAFTSTART_STATE_FILE, RAFTSTART_STATE_MAX_BYTES, &text, &len) == 0 &&
                    raftstart_parse(text, len, &rec) == 0;
        free(text);
        int64_t mtime = stores_mtime_ms(in->out_dir);
        /* Stores that cannot be stat'ed: nothing can be said of the process's start. */
        raftstart_observe(have ? &rec : NULL, mtime < 0 ? -1 : in->process_start_unix_ms, mtime, trusted, stored_leaf,
                          in->stored ? in->stored->serial : "", in->stored ? in->stored->not_before : 0,
                          in->stored ? in->stored->not_after : 0, &v->raft_state);
        if (!v->raft_state.write)
                return;
        char buf[RAFTSTART_STATE_MAX_BYTES];
        int n = raftstart_format(&v->raft_state.with, buf, sizeof buf);
        if (n < 0 || write_public(in->out_dir, RAFTSTART_STATE_FILE, buf, (size_t) n, why, whylen) < 0) {
                if (n < 0)
                        snprintf(why, whylen, "%s: the record cannot be written", RAFTSTART_STATE_FILE);
                v->raft_state.known = false;
        }
}

/* The CA a key store's chain leads to ("" when it does not open or leads to none of pool). */
static void store_anchor(const unsigned char *der, size_t len, const char *password, STACK_OF(X509) *pool,
                         char ret[CAROT_FP_LEN]) {
        struct tls_p12_content c = { 0 };
        ret[0] = '\0';
        if (tls_p12_read(der, len, password, &c) == 0 && !tlsca_anchor(c.certs, pool, ret))
                ret[0] = '\0';
        tls_p12_content_free(&c);
}

/* Each controller of controller.quorum.voters that Metadata does not name as a broker: an
 * unknown peer (its connections to the brokers are TLS too). */
static void add_voters(const struct tlscaround_in *in, const struct tlsreload_broker *b, size_t n,
                       STACK_OF(X509) *pool, const char *target_leaf, struct tlscaround_view *v) {
        const char *p = in->voters;
        while (p && *p && v->n_peers < CAROT_MAX_PEERS) {
                const char *at = strchr(p, '@'), *comma = strchr(p, ',');
                if (!at || (comma && comma < at))
                        break;
                char hp[CAROT_HOST_MAX + 8], host[CAROT_HOST_MAX];
                uint16_t port = 0;
                size_t hl = comma ? (size_t) (comma - at - 1) : strlen(at + 1);
                bool hp_ok = hl < sizeof hp;
                if (hp_ok) {
                        memcpy(hp, at + 1, hl);
                        hp[hl] = '\0';
                        hp_ok = parse_hostport(hp, 0, host, sizeof host, &port) == 0;
                }
                char id[16];
                uint64_t x;
                size_t len = (size_t) (at - p);
                bool ok = len > 0 && len < sizeof id;
                if (ok) {
                        memcpy(id, p, len);
                        id[len] = '\0';
                        ok = parse_u64(id, 0, INT32_MAX, &x) == 0;
                }
                p = comma ? comma + 1 : NULL;
                if (!ok || (int32_t) x == in->node_id)
                        continue;
                bool named = false;
                for (size_t i = 0; i < n && !named; i++)
                        named = b[i].id == (int32_t) x;
                for (size_t i = 0; i < v->n_peers && !named; i++)
                        named = v->peers[i].node_id == (int32_t) x;
                if (named)
                        continue;
                struct carot_peer *e = &v->peers[v->n_peers++];
                memset(e, 0, sizeof *e);
                e->node_id = (int32_t) x;
                char e1[CAROT_WHY_MAX] = "", e2[CAROT_WHY_MAX] = "";
                if (!hp_ok) {
                        snprintf(e->host, sizeof e->host, "controller");
                        snprintf(e->why, sizeof e->why, "controller.quorum.voters: its HOST:PORT does not parse");
                        continue;
                }
                snprintf(e->host, sizeof e->host, "%s", host);
                char crt[PATHLEN], key[PATHLEN];
                snprintf(crt, sizeof crt, "%s/tls.crt", in->tls_dir);
                snprintf(key, sizeof key, "%s/tls.key", in->tls_dir);
                if (tlsreload_served_ca(host, port, in->sec, in->timeout_ms, pool, e->served, e1, sizeof e1) < 0)
                        e->served[0] = '\0';
                /* No agent to report: the handshakes are its report. */
                if (tlsreload_accepts_client(host, port, crt, key, in->timeout_ms, e2, sizeof e2) == 0) {
                        e->reported = true;
                        e->report.ready = true;
                        e->report.trust_loaded = true;
                        carot_set_add(&e->report.trusts, target_leaf);
                        memcpy(e->report.serves, e->served, sizeof e->report.serves);
                } else {
                        snprintf(e->why, sizeof e->why, "a controller that is no broker in Metadata (controller-only, "
                                 "or down), by handshakes: %.70s%s%.70s", e1, e1[0] ? "; " : "", e2);
                }
        }
}

/* Each broker but this one: what it serves (a handshake from here) and what its agent reports. */
static void ask_peers(const struct tlscaround_in *in, STACK_OF(X509) *pool, const char *target_leaf,
                      struct tlscaround_view *v, char *unknown, size_t unknown_len, bool *ret_unknown) {
        struct tlsreload_broker *b = calloc(CAROT_MAX_PEERS + 1, sizeof *b);
        size_t n = 0;
        char why[CAROT_WHY_MAX];
        *ret_unknown = true;
        if (!b) {
                snprintf(unknown, unknown_len, "out of memory");
                return;
        }
        if (!in->agent_port) {
                snprintf(unknown, unknown_len, "--listen names no port, so the peers' agents cannot be asked");
        } else if (tlsreload_brokers(in->conf, in->timeout_ms, b, CAROT_MAX_PEERS + 1, &n, why, sizeof why) < 0) {
                snprintf(unknown, unknown_len, "%s", why);
        } else {
                *ret_unknown = false;
                for (size_t i = 0; i < n && v->n_peers < CAROT_MAX_PEERS; i++) {
                        if (b[i].id == in->node_id)
                                continue;
                        struct carot_peer *p = &v->peers[v->n_peers++];
                        memset(p, 0, sizeof *p);
                        p->node_id = b[i].id;
                        snprintf(p->host, sizeof p->host, "%s", b[i].host);
                        char e1[CAROT_WHY_MAX] = "", e2[CAROT_WHY_MAX] = "";
                        if (tlsreload_served_ca(b[i].host, b[i].port, in->sec, in->timeout_ms, pool, p->served, e1,
                                                sizeof e1) < 0)
                                p->served[0] = '\0';
                        p->reported = carotpeer_report(b[i].host, in->agent_port, in->timeout_ms, &p->report, e2,
                                                       sizeof e2) == 0;
                        snprintf(p->why, sizeof p->why, "%.120s%s%.120s", e1, e1[0] && e2[0] ? "; " : "", e2);
                }
                add_voters(in, b, n, pool, target_leaf, v);
                for (size_t k = 0; k < in->n_seen && v->n_peers < CAROT_MAX_PEERS; k++) {
                        bool named = in->seen[k] == in->node_id;
                        for (size_t i = 0; i < n && !named; i++)
                                named = b[i].id == in->seen[k];
                        if (named)
                                continue;
                        struct carot_peer *p = &v->peers[v->n_peers++];
                        memset(p, 0, sizeof *p);
                        p->node_id = in->seen[k];
                        snprintf(p->host, sizeof p->host, "?");
                        snprintf(p->why, sizeof p->why, "seen earlier in this rotation, but Metadata no longer names "
                                 "it (stopped or fenced)");
                }
        }
        free(b);
}

int tlscaround_decide(const struct tlscaround_in *in, struct tlscaround_out *out, char *why, size_t whylen) {
        memset(out, 0, sizeof *out);
        struct tlscaround_view *v = &out->view;
        struct carot_input ci = { 0 };
        STACK_OF(X509) *pool = sk_X509_new_null();
        char *pem = NULL, *state = NULL, *ks = NULL, sha[CAROT_FP_LEN] = "", loaded[CAROT_FP_LEN] = "";
        size_t pem_len = 0, state_len = 0, ks_len = 0;
        int r = pool ? 0 : -ENOMEM;
        if (r == 0 && (r = tlsca_add_pem(in->secret->ca_pem, in->secret->ca_pem_len, pool, &ci.target)) < 0)
                snprintf(why, whylen, "the Secret's ca.crt: no CA certificates, or more than %d", CAROT_MAX_CAS);
        if (r == 0 && (r = read_in(in->out_dir, TLS_CA_PEM_FILE, TLS_MAX_PEM_BYTES, &pem, &pem_len)) < 0)
                snprintf(why, whylen, "%.200s/%s cannot be read: %s", in->out_dir, TLS_CA_PEM_FILE, strerror(-r));
        if (r == 0 && (r = tlsca_add_pem(pem, pem_len, pool, &ci.trusted)) < 0)
                snprintf(why, whylen, "%.200s/%s: no CA certificates, or more than %d", in->out_dir, TLS_CA_PEM_FILE,
                         CAROT_MAX_CAS);
        if (r < 0)
                goto out;
        tlsca_sha256_hex(pem, pem_len, sha);
        /* No state file yet: the broker loaded what kpa-init wrote before it started. It is
         * recorded only before this agent first writes a ca.pem (below): until then kpa-init's
         * output folder stays exactly as kpa-init left it. */
        int sr = read_in(in->out_dir, TLSCAROUND_STATE_FILE, STATE_MAX_BYTES, &state, &state_len);
        if (sr == -ENOENT) {
                memcpy(loaded, sha, sizeof loaded);
        } else if (sr < 0 || carot_state_parse(state, state_len, loaded) < 0) {
                /* Unreadable: nothing on disk counts as loaded until a reload is confirmed. */
                loaded[0] = '\0';
        }
        ci.trust_loaded = strcmp(loaded, sha) == 0;
        store_anchor(in->secret->keystore, in->secret->keystore_len, in->password, pool, ci.target_leaf);
        if (read_in(in->out_dir, TLS_KEYSTORE_FILE, TLS_MAX_PEM_BYTES, &ks, &ks_len) == 0)
                store_anchor((unsigned char *) ks, ks_len, in->password, pool, ci.stored_leaf);
        if (in->served_stored)
                memcpy(ci.served, ci.stored_leaf, sizeof ci.served);

        /* Peers are asked only when a gate is to be judged: a step that waits on them. */
        bool leaf_pending = strcmp(ci.stored_leaf, ci.target_leaf) != 0;
        bool subset_t = true, subset_s = true;
        for (size_t i = 0; i < ci.target.n; i++)
                subset_t = subset_t && carot_set_has(&ci.trusted, ci.target.fp[i]);
        for (size_t i = 0; i < ci.trusted.n; i++)
                subset_s = subset_s && carot_set_has(&ci.target, ci.trusted.fp[i]);
        char unknown[CAROT_BLOCKED_MAX] = "";
        char renew[CAROT_BLOCKED_MAX - 100];
        ci.raft_tls = in->raft_tls;
        if (in->raft_tls) {
                char rwhy[CAROT_WHY_MAX] = "";
                v->raft = true;
                snprintf(v->raft_listener, sizeof v->raft_listener, "%s", in->raft_tls);
                raft_observe(in, &ci.trusted, ci.stored_leaf, v, rwhy, sizeof rwhy);
                bool due = in->stored && raftstart_leaf_due(&v->raft_state, in->stored->serial,
                                                            in->stored->not_after, in->now_unix, renew, sizeof renew);
                ci.raft_renew = due ? renew : NULL;
                ci.raft_known = v->raft_state.known;
                ci.raft_trusts = v->raft_state.with.trusts;
                memcpy(ci.raft_serves, v->raft_state.with.serves, sizeof ci.raft_serves);
                /* A record that could not be written leaves the start unknown (fail closed). */
                if (rwhy[0])
                        log_event(LOG_LEVEL_WARN, "tls_raft_record_failed", "%s", rwhy);
        }
        ci.node_id = in->node_id;
        ci.ready = in->ready;
        /* A restart is ordered among the peers too: they are asked for it as for a gate. */
        if (subset_t && ci.trust_loaded && (leaf_pending || !subset_s || carot_raft_behind(&ci) || ci.raft_renew)) {
                bool is_unknown;
                ask_peers(in, pool, ci.target_leaf, v, unknown, sizeof unknown, &is_unknown);
                v->peers_asked = true;
                ci.peers_unknown = is_unknown ? unknown : NULL;
        }
        ci.peers = v->peers;
        ci.n_peers = v->n_peers;
        struct carot_decision d;
        carot_decide(&ci, &d);

        v->known = true;
        v->phase = d.phase;
        v->action = d.action;
        memcpy(v->blocked, d.blocked, sizeof v->blocked);
        memcpy(v->peer_ok, d.peer_ok, sizeof v->peer_ok);
        /* The turn rests on the peers' reports: never granted on a round that did not ask them
         * (no peers asked reads as "no peer to wait for"). */
        v->may_restart = d.action == CAROT_RESTART && d.may_restart && v->peers_asked;
        v->trust_loaded = ci.trust_loaded;
        v->trusts = ci.trusted;
        v->secret_cas = ci.target;
        memcpy(v->serves, ci.served, sizeof v->serves);

        if ((d.action == CAROT_ADD_TRUST || d.action == CAROT_DROP_TRUST) && sr == -ENOENT &&
            (r = write_state(in->out_dir, sha, why, whylen)) < 0)
                goto out;
        if (d.action == CAROT_ADD_TRUST || d.action == CAROT_DROP_TRUST) {
                r = tlsca_stores(pool, &d.write_trust, in->password, &out->truststore, &out->truststore_len,
                                 &out->ca_pem, &out->ca_pem_len);
                if (r < 0)
                        snprintf(why, whylen, "building the trust store for the CA step: %s", strerror(-r));
        } else if (d.action == CAROT_SERVE_LEAF) {
                out->keystore = malloc(in->secret->keystore_len);
                if (!out->keystore) {
                        r = -ENOMEM;
                        snprintf(why, whylen, "out of memory");
                } else {
                        memcpy(out->keystore, in->secret->keystore, in->secret->keystore_len);
                        out->keystore_len = in->secret->keystore_len;
                }
        }
out:
        if (ks)
                secret_wipe(ks, ks_len);
        free(ks);
        free(pem);
        free(state);
        sk_X509_pop_free(pool, X509_free);
        if (r < 0)
                tlscaround_out_free(out);
        return r;
}

void tlscaround_out_free(struct tlscaround_out *out) {
        if (!out)
                return;
        if (out->keystore)
                secret_wipe(out->keystore, out->keystore_len);
        free(out->keystore);
        free(out->truststore);
        free(out->ca_pem);
        out->keystore = out->truststore = NULL;
        out->ca_pem = NULL;
        out->keystore_len = out->truststore_len = out->ca_pem_len = 0;
}

int tlscaround_confirm(const char *out_dir, char *why, size_t whylen) {
        char *pem = NULL, sha[CAROT_FP_LEN];
        size_t len = 0;
        int r = read_in(out_dir, TLS_CA_PEM_FILE, TLS_MAX_PEM_BYTES, &pem, &len);
        if (r < 0) {
                snprintf(why, whylen, "%.200s/%s cannot be read: %s", out_dir, TLS_CA_PEM_FILE, strerror(-r));
                return r;
        }
        tlsca_sha256_hex(pem, len, sha);
        free(pem);
        return write_state(out_dir, sha, why, whylen);
}
