/* /status and /metrics of certificate rotation (see include/kpa/tlsview.h). */
#include "kpa/tlsview.h"

#include <ctype.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static void utc(int64_t t, char *buf, size_t len) {
        time_t tt = (time_t) t;
        struct tm tm;
        if (!gmtime_r(&tt, &tm) || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                snprintf(buf, len, "%" PRId64, t);
}

/* Adds a certificate's fields; false when out of memory. */
static bool add_cert(cJSON *o, const struct tlsreload_cert *c) {
        char when[40];
        utc(c->not_after, when, sizeof when);
        return cJSON_AddStringToObject(o, "subject", c->subject) && cJSON_AddStringToObject(o, "serial", c->serial) &&
               cJSON_AddStringToObject(o, "not_after", when);
}

static bool add_set(cJSON *o, const char *name, const struct carot_set *set) {
        cJSON *a = cJSON_AddArrayToObject(o, name);
        bool ok = a != NULL;
        for (size_t i = 0; ok && i < set->n; i++) {
                cJSON *e = cJSON_CreateString(set->fp[i]);
                ok = e && cJSON_AddItemToArray(a, e);
                if (!ok)
                        cJSON_Delete(e);
        }
        return ok;
}

static bool add_fp(cJSON *o, const char *name, const char *fp) {
        return fp[0] ? cJSON_AddStringToObject(o, name, fp) != NULL : cJSON_AddNullToObject(o, name) != NULL;
}

/* The leaf the Raft client presents (what its process started with), or null. */
static bool add_started_leaf(cJSON *x, const struct raftstart_state *r) {
        if (!r->known || !r->with.leaf_serial[0])
                return cJSON_AddNullToObject(x, "started_leaf") != NULL;
        cJSON *l = cJSON_AddObjectToObject(x, "started_leaf");
        char when[40];
        utc(r->with.leaf_not_after, when, sizeof when);
        return l && cJSON_AddStringToObject(l, "serial", r->with.leaf_serial) &&
               cJSON_AddStringToObject(l, "not_after", when);
}

/* tls.ca_rotation.raft (null unless the controller listener uses TLS): what the broker process's
 * Raft client started with (raftstart.h), as peers read it (carot_parse_report), and whether
 * it waits on a restart. */
static bool add_raft(cJSON *o, const struct tlscaround_view *c) {
        if (!c->known || !c->raft)
                return cJSON_AddNullToObject(o, "raft") != NULL;
        const struct raftstart_state *r = &c->raft_state;
        struct carot_set none = { 0 };
        cJSON *x = cJSON_AddObjectToObject(o, "raft");
        char when[40];
        utc(r->started_unix_ms / 1000, when, sizeof when);
        bool needs = c->action == CAROT_RESTART;
        bool ok = x && cJSON_AddStringToObject(x, "listener", c->raft_listener) &&
                  (r->process_known ? cJSON_AddStringToObject(x, "process_started", when) != NULL
                                    : cJSON_AddNullToObject(x, "process_started") != NULL) &&
                  cJSON_AddBoolToObject(x, "started_known", r->known) &&
                  add_set(x, "started_trusts", r->known ? &r->with.trusts : &none) &&
                  add_fp(x, "started_serves", r->known ? r->with.serves : "") && add_started_leaf(x, r) &&
                  cJSON_AddBoolToObject(x, "current", r->current) && cJSON_AddBoolToObject(x, "needs_restart", needs) &&
                  cJSON_AddStringToObject(x, "restart", !needs ? "none" : c->may_restart ? "requested" : "waiting");
        if (ok && needs)
                ok = cJSON_AddStringToObject(x, "restart_reason", c->blocked) != NULL;
        return ok;
}

/* tls.ca_rotation: this broker's CA state, as peers' agents read it (carot_parse_report: until
 * a round confirmed the trust store loaded, nothing counts as trusted), and what holds a step. */
static bool add_ca(cJSON *t, const struct tlsrot_view *v) {
        const struct tlscaround_view *c = &v->ca;
        cJSON *o = cJSON_AddObjectToObject(t, "ca_rotation");
        struct carot_set none = { 0 };
        bool loaded = c->known && c->trust_loaded;
        bool ok = o && cJSON_AddStringToObject(o, "phase", c->known ? carot_phase_name(c->phase) : "unknown") &&
                  cJSON_AddStringToObject(o, "step", c->known ? carot_action_name(c->action) : "none") &&
                  cJSON_AddBoolToObject(o, "trust_loaded", loaded) && add_set(o, "trusts", loaded ? &c->trusts : &none) &&
                  add_fp(o, "serves", c->known ? c->serves : "") && add_set(o, "secret_cas", &c->secret_cas);
        if (ok && v->ca_error[0])
                ok = cJSON_AddStringToObject(o, "error", v->ca_error) != NULL;
        else if (ok && c->known && c->blocked[0])
                ok = cJSON_AddStringToObject(o, c->action == CAROT_WAIT ? "blocked" : "reason", c->blocked) != NULL;
        if (ok)
                ok = add_raft(o, c);
        if (!ok || !c->peers_asked)
                return ok;
        cJSON *ps = cJSON_AddArrayToObject(o, "peers");
        ok = ps != NULL;
        for (size_t i = 0; ok && i < c->n_peers; i++) {
                const struct carot_peer *p = &c->peers[i];
                cJSON *e = cJSON_CreateObject();
                ok = e && cJSON_AddItemToArray(ps, e) && cJSON_AddNumberToObject(e, "node_id", p->node_id) &&
                     cJSON_AddStringToObject(e, "host", p->host) && cJSON_AddBoolToObject(e, "confirmed", c->peer_ok[i]) &&
                     add_fp(e, "serves_seen", p->served) && cJSON_AddBoolToObject(e, "reported", p->reported);
                if (ok && p->reported)
                        ok = add_set(e, "trusts", &p->report.trusts) && add_fp(e, "serves_reported", p->report.serves);
                if (ok && p->reported && p->report.raft)
                        ok = cJSON_AddBoolToObject(e, "raft_known", p->report.raft_known) &&
                             add_set(e, "raft_trusts", &p->report.raft_trusts) &&
                             add_fp(e, "raft_serves", p->report.raft_serves) &&
                             cJSON_AddBoolToObject(e, "ready", p->report.ready) &&
                             cJSON_AddBoolToObject(e, "needs_restart", p->report.needs_restart) &&
                             cJSON_AddBoolToObject(e, "restarting", p->report.restarting);
                if (ok && p->why[0])
                        ok = cJSON_AddStringToObject(e, "error", p->why) != NULL;
        }
        return ok;
}

cJSON *tlsview_status(const struct tlsrot_view *v, int64_t now_unix) {
        cJSON *t = cJSON_CreateObject();
        if (!t)
                return NULL;
        bool ok = true;
        char why[512];
        bool expiry_ok = tlsrot_expiry_ok(v, now_unix, why, sizeof why);
        cJSON *cond = cJSON_AddObjectToObject(t, "tls_expiry");
        ok = cond && cJSON_AddBoolToObject(cond, "ok", expiry_ok) && cJSON_AddStringToObject(cond, "reason", why) &&
             cJSON_AddNumberToObject(cond, "warn_days", v->expiry_warn_days) &&
             cJSON_AddBoolToObject(cond, "affects_readiness", false);
        if (ok && v->have_stored) {
                cJSON *s = cJSON_AddObjectToObject(t, "stored");
                ok = s && add_cert(s, &v->stored);
        }
        if (ok && v->ca_dir) {
                /* KPA_TLS_CA_DIR: the agent issues the leaf; renews_at is its due moment. */
                cJSON *c = cJSON_AddObjectToObject(t, "issued_from_ca_dir");
                char when[40];
                utc(v->renew_at_unix, when, sizeof when);
                ok = c && (v->have_renew ? cJSON_AddStringToObject(c, "renews_at", when) != NULL
                                         : cJSON_AddNullToObject(c, "renews_at") != NULL);
        }
        cJSON *ls = ok ? cJSON_AddArrayToObject(t, "listeners") : NULL;
        ok = ok && ls;
        for (int i = 0; ok && i < v->n_listeners; i++) {
                const struct tlsrot_listener *l = &v->listeners[i];
                cJSON *o = cJSON_CreateObject();
                ok = o && cJSON_AddItemToArray(ls, o) && cJSON_AddStringToObject(o, "name", l->name) &&
                     cJSON_AddNumberToObject(o, "port", l->port);
                if (ok && l->have_served) {
                        cJSON *s = cJSON_AddObjectToObject(o, "served");
                        ok = s && add_cert(s, &l->served);
                } else if (ok) {
                        ok = cJSON_AddNullToObject(o, "served") && cJSON_AddStringToObject(o, "error", l->error);
                }
        }
        if (ok && v->have_last) {
                cJSON *r = cJSON_AddObjectToObject(t, "last_rotation");
                char when[40];
                utc(v->last_unix_ms / 1000, when, sizeof when);
                ok = r && cJSON_AddStringToObject(r, "result", tlsrot_result_name(v->last_result)) &&
                     cJSON_AddStringToObject(r, "reason", v->last_reason) && cJSON_AddStringToObject(r, "at", when);
                if (ok && v->last_result == TLSROT_ROTATED)
                        ok = cJSON_AddStringToObject(r, "serial", v->last_serial) != NULL;
        } else if (ok) {
                ok = cJSON_AddNullToObject(t, "last_rotation") != NULL;
        }
        ok = ok && add_ca(t, v);
        cJSON *tot = ok ? cJSON_AddObjectToObject(t, "rotations") : NULL;
        ok = ok && tot;
        for (int i = 0; ok && i < TLSROT_RESULTS; i++)
                ok = cJSON_AddNumberToObject(tot, tlsrot_result_name((enum tlsrot_result) i), (double) v->totals[i]) != NULL;
        if (!ok) {
                cJSON_Delete(t);
                return NULL;
        }
        return t;
}

/* Listener names become label values: only the characters Kafka's listener names use. */
static bool label_ok(const char *s) {
        if (!*s)
                return false;
        for (; *s; s++)
                if (!isalnum((unsigned char) *s) && *s != '_' && *s != '-')
                        return false;
        return true;
}

int tlsview_metrics(const struct tlsrot_view *v, int64_t now_unix, struct dynbuf *out) {
        int r = dynbuf_printf(out, "# HELP kpa_tls_cert_not_after_seconds notAfter of the certificate the listener serves "
                              "(Unix seconds), as the agent's last TLS handshake with it saw it.\n"
                              "# TYPE kpa_tls_cert_not_after_seconds gauge\n");
        for (int i = 0; r == 0 && i < v->n_listeners; i++) {
                const struct tlsrot_listener *l = &v->listeners[i];
                if (l->have_served && label_ok(l->name))
                        r = dynbuf_printf(out, "kpa_tls_cert_not_after_seconds{listener=\"%s\"} %" PRId64 "\n", l->name,
                                          l->served.not_after);
        }
        if (r == 0)
                r = dynbuf_printf(out, "# HELP kpa_tls_rotation_total Certificate rotations, by result (rotated: the "
                                  "broker serves the new certificate; refused: bad material or a config that could "
                                  "not be preserved, counted once per reason; failed: an error on the way).\n"
                                  "# TYPE kpa_tls_rotation_total counter\n");
        for (int i = 0; r == 0 && i < TLSROT_RESULTS; i++)
                r = dynbuf_printf(out, "kpa_tls_rotation_total{result=\"%s\"} %" PRIu64 "\n",
                                  tlsrot_result_name((enum tlsrot_result) i), v->totals[i]);
        char why[512];
        if (r == 0)
                r = dynbuf_printf(out, "# HELP kpa_tls_expiry_ok 1 unless a served certificate expires within "
                                  "--tls-expiry-warn-days (the tls_expiry condition).\n"
                                  "# TYPE kpa_tls_expiry_ok gauge\nkpa_tls_expiry_ok %d\n",
                                  tlsrot_expiry_ok(v, now_unix, why, sizeof why) ? 1 : 0);
        if (r == 0)
                r = dynbuf_printf(out, "# HELP kpa_tls_ca_rotation_phase The CA rotation's phase: 0 steady, 1 trust "
                                  "(old and new CAs trusted, old leaf served), 2 leaf (new leaf served, old CAs still "
                                  "trusted), 3 drop (old CAs dropped, reload unconfirmed); -1 unknown.\n"
                                  "# TYPE kpa_tls_ca_rotation_phase gauge\nkpa_tls_ca_rotation_phase %d\n"
                                  "# HELP kpa_tls_ca_rotation_blocked 1 while a step of the CA rotation waits on a "
                                  "peer, cannot be judged, or a restart waits for its turn; /status tls.ca_rotation says which and why.\n"
                                  "# TYPE kpa_tls_ca_rotation_blocked gauge\nkpa_tls_ca_rotation_blocked %d\n"
                                  "# HELP kpa_tls_raft_restart_requested 1 while the agent asks the kubelet to restart "
                                  "the broker (its /livez fails) so that its Raft client takes a CA step; "
                                  "/status tls.ca_rotation.raft says why.\n"
                                  "# TYPE kpa_tls_raft_restart_requested gauge\nkpa_tls_raft_restart_requested %d\n",
                                  v->ca.known ? (int) v->ca.phase : -1,
                                  v->ca_error[0] || (v->ca.known && (v->ca.action == CAROT_WAIT ||
                                                                     (v->ca.action == CAROT_RESTART &&
                                                                      !v->ca.may_restart))) ? 1 : 0,
                                  v->ca.known && v->ca.action == CAROT_RESTART && v->ca.may_restart ? 1 : 0);
        return r;
}
