#include "kpa/render.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kpa/tlsview.h"

/* ---- probes ---- */

/* Details may quote a library's error text; a probe body is one check per line, so control
 * characters become spaces. */
static int append_clean(struct dynbuf *out, const char *s) {
        for (; *s; s++) {
                char c = (unsigned char) *s < 0x20 || *s == 0x7f ? ' ' : *s;
                int r = dynbuf_append(out, &c, 1);
                if (r < 0)
                        return r;
        }
        return 0;
}

static int probe_line(struct dynbuf *out, const char *name, bool ok, const char *detail) {
        int r;
        if (ok)
                return dynbuf_printf(out, "[+]%s ok\n", name);
        if ((r = dynbuf_printf(out, "[-]%s failed: ", name)) < 0 ||
            (r = append_clean(out, detail)) < 0)
                return r;
        return dynbuf_appends(out, "\n");
}

int render_probe(const struct verdict *v, enum probe_kind kind, bool verbose, struct dynbuf *out) {
        const char *probe = kind == PROBE_LIVEZ ? "livez" : "readyz";
        bool pass = kind == PROBE_LIVEZ ? v->live : v->ready;
        int status = pass ? 200 : 503;
        int r;

        if (pass && !verbose)
                return (r = dynbuf_appends(out, "ok")) < 0 ? r : status;
        if (kind == PROBE_LIVEZ) {
                if ((r = probe_line(out, v->live_name ? v->live_name : "broker", v->live, v->live_detail)) < 0)
                        return r;
        } else {
                for (int i = 0; i < CHECK_COUNT; i++) {
                        const struct check_result *c = &v->checks[i];
                        if (!c->applies || (c->ok && !verbose))
                                continue;
                        if ((r = probe_line(out, check_name((enum check_id) i), c->ok, c->detail)) < 0)
                                return r;
                }
        }
        if ((r = dynbuf_printf(out, "%s check %s\n", probe, pass ? "passed" : "failed")) < 0)
                return r;
        return status;
}

/* ---- /status ---- */

void render_rfc3339(int64_t unix_ms, char *buf, size_t len) {
        time_t secs = (time_t) (unix_ms / 1000);
        int ms = (int) (unix_ms % 1000);
        if (ms < 0) {
                secs -= 1;
                ms += 1000;
        }
        struct tm tm;
        if (!gmtime_r(&secs, &tm)) {
                snprintf(buf, len, "%s", "");
                return;
        }
        snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms);
}

static const char *scope_name(enum ready_scope s) {
        return s == SCOPE_CLUSTER ? "cluster" : "local";
}

/* cJSON reports allocation failure by returning NULL from each call; the builder below keeps
 * going and the NULLs are caught once, by checking every returned node. */
struct jb {
        bool oom;
};

static cJSON *jb_check(struct jb *b, cJSON *node) {
        if (!node)
                b->oom = true;
        return node;
}

static void jb_num(struct jb *b, cJSON *obj, const char *key, double v) {
        if (obj)
                jb_check(b, cJSON_AddNumberToObject(obj, key, v));
}

static void jb_str(struct jb *b, cJSON *obj, const char *key, const char *v) {
        if (!obj)
                return;
        if (v)
                jb_check(b, cJSON_AddStringToObject(obj, key, v));
        else
                jb_check(b, cJSON_AddNullToObject(obj, key));
}

static void jb_bool(struct jb *b, cJSON *obj, const char *key, bool v) {
        if (obj)
                jb_check(b, cJSON_AddBoolToObject(obj, key, v));
}

static cJSON *jb_obj(struct jb *b, cJSON *parent, const char *key) {
        return parent ? jb_check(b, cJSON_AddObjectToObject(parent, key)) : NULL;
}

static cJSON *jb_arr(struct jb *b, cJSON *parent, const char *key) {
        return parent ? jb_check(b, cJSON_AddArrayToObject(parent, key)) : NULL;
}

static void status_checks(struct jb *b, cJSON *root, const struct verdict *v) {
        cJSON *checks = jb_obj(b, root, "checks");
        for (int i = 0; i < CHECK_COUNT; i++) {
                if (!v->checks[i].applies)
                        continue;
                cJSON *c = jb_obj(b, checks, check_name((enum check_id) i));
                jb_bool(b, c, "ok", v->checks[i].ok);
                jb_str(b, c, "detail", v->checks[i].detail);
        }
        cJSON *live = jb_obj(b, root, "liveness");
        jb_bool(b, live, "ok", v->live);
        jb_str(b, live, "detail", v->live_detail);
}

static void status_partitions(struct jb *b, cJSON *root, const struct agent_status *st) {
        const struct assessment *a = &st->health->last;
        cJSON *parts = jb_obj(b, root, "partitions");
        jb_num(b, parts, "hosted", a->hosted);
        jb_num(b, parts, "in_sync", a->in_sync);
        jb_num(b, parts, "lagging", a->lagging);
        jb_num(b, parts, "offline", a->offline);

        cJSON *lag = jb_arr(b, root, "lagging");
        for (int i = 0; lag && i < a->n_lag; i++) {
                const struct lagging_partition *l = &a->lag[i];
                cJSON *o = jb_check(b, cJSON_CreateObject());
                if (!o)
                        break;
                cJSON_AddItemToArray(lag, o);
                jb_str(b, o, "topic", l->topic);
                jb_num(b, o, "partition", l->partition);
                jb_num(b, o, "leader", l->leader);
                cJSON *isr = jb_arr(b, o, "isr");
                int shown = l->n_isr < 16 ? l->n_isr : 16;
                for (int j = 0; isr && j < shown; j++) {
                        cJSON *n = jb_check(b, cJSON_CreateNumber(l->isr[j]));
                        if (n)
                                cJSON_AddItemToArray(isr, n);
                }
        }
        jb_num(b, root, "lagging_more", a->lag_more);

        if (st->scope == SCOPE_CLUSTER) {
                cJSON *cl = jb_obj(b, root, "cluster");
                jb_num(b, cl, "partitions", a->cluster_partitions);
                jb_num(b, cl, "under_replicated", a->cluster_under_replicated);
        }
}

static void status_last_check(struct jb *b, cJSON *root, const struct agent_status *st) {
        const struct health *h = st->health;
        cJSON *lc = jb_obj(b, root, "last_check");
        if (h->have_last && st->last_check_unix_ms > 0) {
                char at[40];
                render_rfc3339(st->last_check_unix_ms, at, sizeof at);
                jb_str(b, lc, "at", at);
                jb_num(b, lc, "duration_ms", (double) st->last_check_duration_ms);
        } else {
                jb_str(b, lc, "at", NULL);
                jb_str(b, lc, "duration_ms", NULL);
        }
        jb_str(b, lc, "error", st->last_error && st->last_error[0] ? st->last_error : NULL);
        jb_num(b, lc, "consecutive_good", h->consecutive_good);
        jb_num(b, lc, "total", (double) h->checks_total);
        jb_num(b, lc, "failed", (double) h->checks_failed);
        if (st->last_success_unix_ms > 0) {
                char at[40];
                render_rfc3339(st->last_success_unix_ms, at, sizeof at);
                jb_str(b, lc, "last_success", at);
        } else {
                jb_str(b, lc, "last_success", NULL);
        }
}

/* What /prestop would decide from the last answer (Strimzi's canRoll), and why
 * min.insync.replicas is unknown when it is. */
static void status_safe_to_stop(struct jb *b, cJSON *root, const struct agent_status *st) {
        cJSON *o = jb_obj(b, root, "safe_to_stop");
        const struct canroll_result *cr = st->canroll;
        jb_bool(b, o, "safe", cr && cr->safe);
        jb_num(b, o, "blocking", cr ? cr->blocking : 0);
        jb_num(b, o, "min_isr_unknown", cr ? cr->unknown : 0);
        jb_str(b, o, "reason", cr ? cr->reason : "the local broker has not answered yet");
        jb_str(b, o, "min_isr_note", st->min_isr_note && st->min_isr_note[0] ? st->min_isr_note : NULL);
        /* What the pending /prestop decides on: the cross-check with other brokers. */
        const struct canroll_gate *g = st->gate;
        cJSON *go = g ? jb_obj(b, o, "gate") : NULL;
        if (!g) {
                jb_check(b, cJSON_AddNullToObject(o, "gate"));
                return;
        }
        jb_bool(b, go, "safe", g->safe);
        jb_str(b, go, "reason", g->reason);
        cJSON *silent = jb_arr(b, go, "peers_not_answering");
        for (int i = 0; silent && i < g->n_silent; i++) {
                cJSON *n = jb_check(b, cJSON_CreateNumber(g->silent[i]));
                if (n)
                        cJSON_AddItemToArray(silent, n);
        }
}

static void status_member(struct jb *b, cJSON *o, const struct quorum_member *m) {
        jb_num(b, o, "id", m->id);
        jb_bool(b, o, "caught_up", m->caught_up);
        jb_num(b, o, "log_end_offset", (double) m->log_end_offset);
        if (m->lag >= 0)
                jb_num(b, o, "lag", (double) m->lag);
        else
                jb_str(b, o, "lag", NULL);
        if (m->caught_up_age_ms >= 0)
                jb_num(b, o, "caught_up_ms_ago", (double) m->caught_up_age_ms);
        else
                jb_str(b, o, "caught_up_ms_ago", NULL);
        if (m->fetch_age_ms >= 0)
                jb_num(b, o, "fetched_ms_ago", (double) m->fetch_age_ms);
        else
                jb_str(b, o, "fetched_ms_ago", NULL);
}

/* A controller's "quorum": the leader's view of every voter, and the stop gate's answer. */
static void status_quorum(struct jb *b, cJSON *root, const struct agent_status *st) {
        const struct quorum_view *v = st->quorum;
        cJSON *q = jb_obj(b, root, "quorum");
        jb_bool(b, q, "known", v->known);
        if (!v->known) {
                jb_str(b, q, "reason", v->unknown_reason);
        } else {
                jb_num(b, q, "leader", v->leader_id);
                jb_num(b, q, "epoch", v->leader_epoch);
                jb_num(b, q, "high_watermark", (double) v->high_watermark);
                jb_num(b, q, "majority", v->majority);
                jb_num(b, q, "caught_up_voters", v->caught_up_voters);
                jb_num(b, q, "caught_up_bound_ms", (double) v->caught_up_max_ms);
                jb_str(b, q, "local_role", quorum_role_name(v->local_role));
                cJSON *voters = jb_arr(b, q, "voters");
                for (int i = 0; voters && i < v->n_voters; i++) {
                        cJSON *o = jb_check(b, cJSON_CreateObject());
                        if (!o)
                                break;
                        cJSON_AddItemToArray(voters, o);
                        status_member(b, o, &v->voters[i]);
                }
                jb_num(b, q, "observers", v->n_observers);
        }
        if (st->quorum_stop) {
                cJSON *s = jb_obj(b, q, "safe_to_stop");
                jb_bool(b, s, "safe", st->quorum_stop->safe);
                jb_str(b, s, "reason", st->quorum_stop->reason);
        }
}

/* A broker's feature levels (features.h): "features" by name, and "finalization", what is
 * left to finalize after an upgrade and the command that does it. */
static void status_features(struct jb *b, cJSON *root, const struct agent_status *st) {
        const struct features_view *v = st->features;
        cJSON *fs = jb_obj(b, root, "features");
        for (int i = 0; v->known && i < v->n; i++) {
                const struct feature_state *f = &v->v[i];
                cJSON *o = jb_obj(b, fs, f->name);
                jb_num(b, o, "finalized", f->finalized);
                if (f->supported_max >= 0) {
                        jb_num(b, o, "supported_min", f->supported_min);
                        jb_num(b, o, "supported_max", f->supported_max);
                } else {
                        jb_str(b, o, "supported_max", NULL);
                }
                jb_bool(b, o, "lags", f->lags);
        }
        cJSON *fin = jb_obj(b, root, "finalization");
        jb_bool(b, fin, "known", v->known);
        if (!v->known) {
                jb_str(b, fin, "error", v->unknown_reason);
                return;
        }
        char when[40], cmd[512];
        render_rfc3339(v->fetched_unix_ms, when, sizeof when);
        jb_str(b, fin, "asked_at", when);
        if (v->epoch >= 0)
                jb_num(b, fin, "epoch", (double) v->epoch);
        jb_bool(b, fin, "pending", v->n_pending > 0);
        cJSON *p = jb_arr(b, fin, "features");
        for (int i = 0; i < v->n && p; i++) {
                if (!v->v[i].pending)
                        continue;
                cJSON *n = jb_check(b, cJSON_CreateString(v->v[i].name));
                if (n && !cJSON_AddItemToArray(p, n)) {
                        cJSON_Delete(n);
                        b->oom = true;
                }
        }
        features_command(v, st->bootstrap ? st->bootstrap : "BROKER:PORT", cmd, sizeof cmd);
        if (cmd[0]) {
                jb_str(b, fin, "command", cmd);
                jb_str(b, fin, "hint", "once every broker runs the new software (a downgrade "
                       "is no longer possible after it): run the command from any broker or "
                       "client; it leaves kraft.version and the other features at level 0 "
                       "alone (see docs/upgrade.md)");
        }
}

static const char *dir_state_name(enum disk_dir_state s) {
        return s == DISK_DIR_ONLINE ? "online" : s == DISK_DIR_OFFLINE ? "offline" : "unknown";
}

/* The log dirs: each file system as statvfs measures it, and Kafka's state for it. */
static void status_disk(struct jb *b, cJSON *root, const struct disk_view *v) {
        cJSON *o = jb_obj(b, root, "disk");
        char why[1024];
        bool ok = disk_condition(v, why, sizeof why);
        jb_bool(b, o, "ok", ok);
        jb_str(b, o, "detail", ok ? NULL : why);
        jb_num(b, o, "warn_free_percent", v->warn_free_percent);
        jb_num(b, o, "low_dirs", v->low_dirs);
        cJSON *k = jb_obj(b, o, "kafka");
        jb_bool(b, k, "asked", v->asks_kafka);
        jb_bool(b, k, "known", v->kafka_known);
        jb_str(b, k, "error", v->kafka_error[0] ? v->kafka_error : NULL);
        if (v->kafka_at_unix_ms > 0) {
                char at[40];
                render_rfc3339(v->kafka_at_unix_ms, at, sizeof at);
                jb_str(b, k, "at", at);
        } else {
                jb_str(b, k, "at", NULL);
        }
        jb_num(b, o, "offline_dirs", v->offline_dirs);
        jb_num(b, o, "offline_replicas", v->offline_replicas);
        cJSON *dirs = jb_arr(b, o, "log_dirs");
        for (int i = 0; dirs && i < v->n_dirs; i++) {
                const struct disk_dir *d = &v->dirs[i];
                cJSON *e = jb_check(b, cJSON_CreateObject());
                if (!e)
                        break;
                cJSON_AddItemToArray(dirs, e);
                jb_str(b, e, "dir", d->path);
                if (d->have_statfs) {
                        jb_num(b, e, "free_bytes", (double) d->free_bytes);
                        jb_num(b, e, "total_bytes", (double) d->total_bytes);
                        jb_num(b, e, "free_inodes", (double) d->free_inodes);
                        jb_num(b, e, "total_inodes", (double) d->total_inodes);
                        jb_bool(b, e, "low", d->low);
                } else {
                        jb_str(b, e, "statfs_error", d->statfs_error);
                }
                jb_str(b, e, "state", dir_state_name(d->state));
                if (d->state != DISK_DIR_UNKNOWN) {
                        jb_str(b, e, "kafka_error", d->kafka_error ? kwire_error_name(d->kafka_error) : NULL);
                        if (d->kafka_usable_bytes >= 0)
                                jb_num(b, e, "kafka_usable_bytes", (double) d->kafka_usable_bytes);
                        if (d->kafka_total_bytes >= 0)
                                jb_num(b, e, "kafka_total_bytes", (double) d->kafka_total_bytes);
                }
                if (d->state == DISK_DIR_OFFLINE) {
                        if (d->offline_replicas >= 0) {
                                jb_num(b, e, "offline_replicas", d->offline_replicas);
                                cJSON *names = jb_arr(b, e, "replicas");
                                for (int j = 0; names && j < d->n_shown; j++) {
                                        cJSON *n = jb_check(b, cJSON_CreateString(d->shown[j]));
                                        if (n)
                                                cJSON_AddItemToArray(names, n);
                                }
                        } else {
                                jb_str(b, e, "offline_replicas", NULL);
                                jb_str(b, e, "list_error", d->list_error);
                        }
                }
        }
}

/* Preferred leadership: how many partitions this broker should lead and leads, whether the
 * agent is still restoring them, and the last election's result per error code. */
static void status_leadership(struct jb *b, cJSON *root, const struct leadership *l) {
        char at[40], name[KWIRE_ERROR_TEXT_MAX];
        cJSON *o = jb_obj(b, root, "leadership");
        jb_bool(b, o, "restore", l->enabled);
        jb_num(b, o, "ready_wait_ms", (double) l->ready_wait_ms);
        jb_bool(b, o, "known", l->have_plan);
        jb_num(b, o, "preferred", l->preferred);
        jb_num(b, o, "led", l->led);
        jb_num(b, o, "preferred_led", l->preferred_led);
        jb_num(b, o, "skewed", l->skewed);
        jb_num(b, o, "preferred_not_in_isr", l->not_in_isr);
        const char *state = !l->enabled ? "off" : !l->in_episode ? "waiting_for_ready" : l->restored ? "restored"
                          : l->gave_up ? "gave_up" : l->in_flight ? "electing" : l->skewed > 0 ? "pending" : "restored";
        jb_str(b, o, "state", state);
        jb_str(b, o, "reason", l->gave_up ? l->reason : NULL);
        jb_num(b, o, "requests_since_ready", l->requests);
        if (l->restored_after_ms >= 0)
                jb_num(b, o, "restored_after_ms", (double) l->restored_after_ms);
        else
                jb_str(b, o, "restored_after_ms", NULL);
        cJSON *last = jb_obj(b, o, "last_election");
        if (!l->have_last) {
                jb_str(b, last, "at", NULL);
                return;
        }
        render_rfc3339(l->last_unix_ms, at, sizeof at);
        jb_str(b, last, "at", at);
        jb_num(b, last, "asked", l->last_asked);
        jb_num(b, last, "elected", l->last_elected);
        jb_num(b, last, "not_needed", l->last_not_needed);
        jb_num(b, last, "failed", l->last_failed);
        jb_str(b, last, "error", l->last_error[0] ? l->last_error : NULL);
        cJSON *res = jb_obj(b, last, "results");
        for (int i = 0; i < l->n_last_errors; i++) {
                snprintf(name, sizeof name, "%s", kwire_error_name(l->last_errors[i].code));
                if (strcmp(name, "UNKNOWN") == 0)
                        kwire_error_text(l->last_errors[i].code, name, sizeof name);
                jb_num(b, res, name, l->last_errors[i].count);
        }
}

int render_status_json(const struct agent_status *st, struct dynbuf *out) {
        struct jb b = { false };
        cJSON *root = jb_check(&b, cJSON_CreateObject());
        jb_num(&b, root, "node_id", st->node_id);
        if (st->quorum)
                jb_str(&b, root, "role", "controller");
        jb_str(&b, root, "version", st->version ? st->version : "");
        if (!st->quorum)
                jb_str(&b, root, "scope", scope_name(st->scope));
        jb_bool(&b, root, "ready", st->verdict->ready);
        jb_bool(&b, root, "live", st->verdict->live);
        status_checks(&b, root, st->verdict);
        if (st->quorum)
                status_quorum(&b, root, st);
        else
                status_partitions(&b, root, st);
        status_last_check(&b, root, st);
        status_safe_to_stop(&b, root, st);
        if (st->features)
                status_features(&b, root, st);
        if (st->disk && st->disk->n_dirs > 0)
                status_disk(&b, root, st->disk);
        if (st->leadership)
                status_leadership(&b, root, st->leadership);
        if (st->scale_down && root && scaledown_status_json(st->scale_down, root) < 0)
                b.oom = true;
        if (st->tls && root) {
                cJSON *tls = tlsview_status(st->tls, st->now_unix_ms / 1000);
                if (!tls || !cJSON_AddItemToObject(root, "tls", tls)) {
                        cJSON_Delete(tls);
                        b.oom = true;
                }
        }

        cJSON *broker = jb_obj(&b, root, st->quorum ? "controller" : "broker");
        if (!st->quorum) {
                if (st->answered_by >= 0)
                        jb_num(&b, broker, "answered_by", st->answered_by);
                else
                        jb_str(&b, broker, "answered_by", NULL);
        }
        if (st->rtt_ms >= 0)
                jb_num(&b, broker, "rtt_ms", (double) st->rtt_ms);
        else
                jb_str(&b, broker, "rtt_ms", NULL);
        jb_str(&b, broker, st->quorum ? "listener" : "bootstrap", st->bootstrap ? st->bootstrap : "");

        char *text = b.oom ? NULL : cJSON_PrintUnformatted(root);
        cJSON_Delete(root);
        if (!text)
                return -ENOMEM;
        int r = dynbuf_appends(out, text);
        free(text);
        return r < 0 ? r : dynbuf_appends(out, "\n");
}

/* ---- /metrics ---- */

/* Writes one metric family after another; the first error sticks and the rest is skipped. */
struct mw {
        struct dynbuf *out;
        int err;
};

__attribute__((format(printf, 2, 3)))
static void mw_printf(struct mw *w, const char *fmt, ...) {
        if (w->err)
                return;
        va_list ap;
        va_start(ap, fmt);
        w->err = dynbuf_vprintf(w->out, fmt, ap);
        va_end(ap);
}

static void mw_head(struct mw *w, const char *name, const char *type, const char *help) {
        mw_printf(w, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The length of the well-formed UTF-8 sequence of two to four bytes at s (no overlong form,
 * no surrogate, at most U+10FFFF) and its code point, or 0. */
static size_t utf8_len(const unsigned char *s, uint32_t *ret_cp) {
        size_t n;
        uint32_t cp;
        if (s[0] >= 0xc2 && s[0] <= 0xdf)
                n = 2, cp = s[0] & 0x1fu;
        else if (s[0] >= 0xe0 && s[0] <= 0xef)
                n = 3, cp = s[0] & 0x0fu;
        else if (s[0] >= 0xf0 && s[0] <= 0xf4)
                n = 4, cp = s[0] & 0x07u;
        else
                return 0;
        /* A continuation byte is never NUL: the loop stops at the end of the string. */
        for (size_t i = 1; i < n; i++) {
                if ((s[i] & 0xc0) != 0x80)
                        return 0;
                cp = cp << 6 | (s[i] & 0x3fu);
        }
        if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) || (cp >= 0xd800 && cp <= 0xdfff) ||
            cp > 0x10ffff)
                return 0;
        *ret_cp = cp;
        return n;
}

/* A label value per the exposition format: backslash, double quote and line feed escaped.
 * The format takes any other UTF-8 as it is, but a value comes from the broker's metadata
 * (topic names) and reaches terminals and log pipelines that show scrapes: every other
 * control character (C0, DEL, C1) becomes "?", and so does each byte that is not part of
 * well-formed UTF-8. */
static void mw_label_value(struct mw *w, const char *s) {
        const unsigned char *p = (const unsigned char *) s;
        while (*p && !w->err) {
                size_t n = 1;
                uint32_t cp = 0;
                if (*p == '\\')
                        mw_printf(w, "\\\\");
                else if (*p == '"')
                        mw_printf(w, "\\\"");
                else if (*p == '\n')
                        mw_printf(w, "\\n");
                else if (*p >= 0x20 && *p < 0x7f)
                        w->err = dynbuf_append(w->out, p, 1);
                else if (*p >= 0x80 && (n = utf8_len(p, &cp)) > 0 && cp >= 0xa0)
                        w->err = dynbuf_append(w->out, p, n);
                else {
                        n = n ? n : 1;
                        w->err = dynbuf_append(w->out, "?", 1);
                }
                p += n;
        }
}

/* Milliseconds as seconds with exactly three decimals, without floating point rounding. */
static void mw_seconds(struct mw *w, int64_t ms) {
        if (ms < 0)
                ms = 0;
        mw_printf(w, "%" PRId64 ".%03d\n", ms / 1000, (int) (ms % 1000));
}

/* A broker's hosted partitions (and the cluster's, with scope cluster). */
static void metrics_partitions(struct mw *w, const struct agent_status *st) {
        const struct assessment *a = &st->health->last;
        mw_head(w, "kpa_partitions", "gauge", "Partitions with a replica on the local broker, by state, at the last check.");
        mw_printf(w, "kpa_partitions{state=\"hosted\"} %d\n", a->hosted);
        mw_printf(w, "kpa_partitions{state=\"in_sync\"} %d\n", a->in_sync);
        mw_printf(w, "kpa_partitions{state=\"lagging\"} %d\n", a->lagging);
        mw_printf(w, "kpa_partitions{state=\"offline\"} %d\n", a->offline);

        mw_head(w, "kpa_lagging_partition", "gauge", "Hosted partitions where the local broker is out of the ISR (at most 20 listed).");
        for (int i = 0; i < a->n_lag; i++) {
                mw_printf(w, "kpa_lagging_partition{topic=\"");
                mw_label_value(w, a->lag[i].topic);
                mw_printf(w, "\",partition=\"%" PRId32 "\"} 1\n", a->lag[i].partition);
        }

        if (st->scope == SCOPE_CLUSTER) {
                mw_head(w, "kpa_cluster_under_replicated_partitions", "gauge", "Partitions with a leader and fewer in-sync replicas than replicas, cluster-wide.");
                mw_printf(w, "kpa_cluster_under_replicated_partitions %d\n", a->cluster_under_replicated);
        }
}

/* A controller's quorum, as the leader described it at the last check. */
static void metrics_quorum(struct mw *w, const struct agent_status *st) {
        const struct quorum_view *q = st->quorum;
        mw_head(w, "kpa_quorum_known", "gauge", "1 if a controller answered as the quorum leader at the last check.");
        mw_printf(w, "kpa_quorum_known %d\n", q->known ? 1 : 0);
        if (q->known) {
                mw_head(w, "kpa_quorum_leader", "gauge", "Node id of the quorum leader.");
                mw_printf(w, "kpa_quorum_leader %" PRId32 "\n", q->leader_id);
                mw_head(w, "kpa_quorum_leader_epoch", "gauge", "The quorum leader's epoch.");
                mw_printf(w, "kpa_quorum_leader_epoch %" PRId32 "\n", q->leader_epoch);
                mw_head(w, "kpa_quorum_high_watermark", "gauge", "The metadata log's high watermark on the leader.");
                mw_printf(w, "kpa_quorum_high_watermark %" PRId64 "\n", q->high_watermark);
                mw_head(w, "kpa_quorum_voters", "gauge", "Voters by state, as the leader sees them.");
                mw_printf(w, "kpa_quorum_voters{state=\"caught_up\"} %d\n", q->caught_up_voters);
                mw_printf(w, "kpa_quorum_voters{state=\"lagging\"} %d\n", q->n_voters - q->caught_up_voters);
                mw_head(w, "kpa_quorum_voter_lag_records", "gauge", "Records each voter is behind the leader's log end (voters the leader has an offset for).");
                for (int i = 0; i < q->n_voters; i++)
                        if (q->voters[i].lag >= 0)
                                mw_printf(w, "kpa_quorum_voter_lag_records{voter=\"%" PRId32 "\"} %" PRId64 "\n",
                                          q->voters[i].id, q->voters[i].lag);
                mw_head(w, "kpa_quorum_voter_caught_up_age_seconds", "gauge", "How long ago each voter was last caught up, on the leader's clock (voters caught up at least once).");
                for (int i = 0; i < q->n_voters; i++)
                        if (q->voters[i].caught_up_age_ms >= 0) {
                                mw_printf(w, "kpa_quorum_voter_caught_up_age_seconds{voter=\"%" PRId32 "\"} ", q->voters[i].id);
                                mw_seconds(w, q->voters[i].caught_up_age_ms);
                        }
        }
        if (st->quorum_stop) {
                mw_head(w, "kpa_quorum_safe_to_stop", "gauge", "1 if stopping this controller now keeps a caught-up majority of voters.");
                mw_printf(w, "kpa_quorum_safe_to_stop %d\n", st->quorum_stop->safe ? 1 : 0);
        }
}

/* A broker's feature levels, as the last ApiVersions answer gave them. */
static void metrics_features(struct mw *w, const struct features_view *v) {
        mw_head(w, "kpa_features_known", "gauge", "1 if the local broker's feature levels were read (ApiVersions).");
        mw_printf(w, "kpa_features_known %d\n", v->known ? 1 : 0);
        if (!v->known)
                return;
        mw_head(w, "kpa_feature_finalized_level", "gauge", "The cluster's finalized level of each feature (0: not finalized).");
        for (int i = 0; i < v->n; i++) {
                mw_printf(w, "kpa_feature_finalized_level{feature=\"");
                mw_label_value(w, v->v[i].name);
                mw_printf(w, "\"} %d\n", v->v[i].finalized);
        }
        mw_head(w, "kpa_feature_supported_max_level", "gauge", "The highest level of each feature this broker's software supports.");
        for (int i = 0; i < v->n; i++) {
                if (v->v[i].supported_max < 0)
                        continue;
                mw_printf(w, "kpa_feature_supported_max_level{feature=\"");
                mw_label_value(w, v->v[i].name);
                mw_printf(w, "\"} %d\n", v->v[i].supported_max);
        }
        mw_head(w, "kpa_feature_finalization_pending", "gauge", "1 if metadata.version, or a feature already enabled, is finalized below what this broker's software supports: after a rolling upgrade, finalize it (docs/upgrade.md).");
        mw_printf(w, "kpa_feature_finalization_pending %d\n", v->n_pending > 0 ? 1 : 0);
}

static void mw_dir_value(struct mw *w, const char *name, const char *dir, const char *fmt_value) {
        mw_printf(w, "%s{dir=\"", name);
        mw_label_value(w, dir);
        mw_printf(w, "\"} %s\n", fmt_value);
}

/* The log dirs: one series per dir and measure. A dir statvfs could not measure has no
 * bytes or inodes series (absent, not 0: a scrape must not show a full disk that is not);
 * Kafka's state only when the broker described it. */
static void metrics_disk(struct mw *w, const struct disk_view *v) {
        static const struct {
                const char *name, *help;
                size_t off;
        } sizes[] = {
                { "kpa_log_dir_free_bytes", "Bytes the broker's user may still write on the log dir's file system (statvfs f_bavail x f_frsize).", offsetof(struct disk_dir, free_bytes) },
                { "kpa_log_dir_total_bytes", "Size of the log dir's file system (statvfs f_blocks x f_frsize).", offsetof(struct disk_dir, total_bytes) },
                { "kpa_log_dir_free_inodes", "Free inodes on the log dir's file system (statvfs f_favail).", offsetof(struct disk_dir, free_inodes) },
                { "kpa_log_dir_total_inodes", "Inodes of the log dir's file system (statvfs f_files; 0: no inode limit).", offsetof(struct disk_dir, total_inodes) },
        };
        char val[32];
        for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
                mw_head(w, sizes[k].name, "gauge", sizes[k].help);
                for (int i = 0; i < v->n_dirs; i++) {
                        const struct disk_dir *d = &v->dirs[i];
                        if (!d->have_statfs)
                                continue;
                        uint64_t x;
                        memcpy(&x, (const char *) d + sizes[k].off, sizeof x);
                        snprintf(val, sizeof val, "%" PRIu64, x);
                        mw_dir_value(w, sizes[k].name, d->path, val);
                }
        }
        mw_head(w, "kpa_log_dir_low", "gauge", "1 if the log dir's file system has less free bytes or inodes than --disk-warn-free-percent.");
        for (int i = 0; i < v->n_dirs; i++)
                if (v->dirs[i].have_statfs)
                        mw_dir_value(w, "kpa_log_dir_low", v->dirs[i].path, v->dirs[i].low ? "1" : "0");
        char why[8];
        mw_head(w, "kpa_disk_ok", "gauge", "1 if every log dir is measured, above the free-space threshold and not offline (the disk condition).");
        mw_printf(w, "kpa_disk_ok %d\n", disk_condition(v, why, sizeof why) ? 1 : 0);
        if (!v->asks_kafka)
                return;
        mw_head(w, "kpa_log_dirs_known", "gauge", "1 if the broker answered the last DescribeLogDirs.");
        mw_printf(w, "kpa_log_dirs_known %d\n", v->kafka_known ? 1 : 0);
        mw_head(w, "kpa_log_dir_offline", "gauge", "1 if Kafka has taken the log dir offline (KAFKA_STORAGE_ERROR), 0 if online (dirs the broker described).");
        for (int i = 0; i < v->n_dirs; i++)
                if (v->dirs[i].state != DISK_DIR_UNKNOWN)
                        mw_dir_value(w, "kpa_log_dir_offline", v->dirs[i].path,
                                     v->dirs[i].state == DISK_DIR_OFFLINE ? "1" : "0");
        mw_head(w, "kpa_log_dir_offline_replicas", "gauge", "Partition folders in an offline log dir: replicas this broker cannot serve.");
        for (int i = 0; i < v->n_dirs; i++)
                if (v->dirs[i].state == DISK_DIR_OFFLINE && v->dirs[i].offline_replicas >= 0) {
                        snprintf(val, sizeof val, "%d", v->dirs[i].offline_replicas);
                        mw_dir_value(w, "kpa_log_dir_offline_replicas", v->dirs[i].path, val);
                }
        if (v->kafka_known) {
                mw_head(w, "kpa_offline_replicas", "gauge", "Replicas on this broker in offline log dirs.");
                mw_printf(w, "kpa_offline_replicas %d\n", v->offline_replicas);
        }
}

/* Preferred leadership: gauges from the last answered check, and the elections' results per
 * partition asked since the agent started. */
static void metrics_leadership(struct mw *w, const struct leadership *l) {
        if (l->have_plan) {
                mw_head(w, "kpa_leadership_preferred_partitions", "gauge", "Partitions whose preferred leader (first replica) is this broker.");
                mw_printf(w, "kpa_leadership_preferred_partitions %d\n", l->preferred);
                mw_head(w, "kpa_leadership_led_partitions", "gauge", "Partitions this broker leads.");
                mw_printf(w, "kpa_leadership_led_partitions %d\n", l->led);
                mw_head(w, "kpa_leadership_preferred_led_partitions", "gauge", "Partitions this broker leads and is the preferred leader of.");
                mw_printf(w, "kpa_leadership_preferred_led_partitions %d\n", l->preferred_led);
                mw_head(w, "kpa_leadership_skewed_partitions", "gauge", "Partitions this broker is the preferred leader of and in the ISR of, led by another broker.");
                mw_printf(w, "kpa_leadership_skewed_partitions %d\n", l->skewed);
        }
        mw_head(w, "kpa_leader_elections_total", "counter", "Partitions asked in preferred leader elections, by result (elected, not_needed: it led already, failed: the broker answered with an error, unanswered: no answer).");
        mw_printf(w, "kpa_leader_elections_total{result=\"elected\"} %" PRIu64 "\n", l->elected_total);
        mw_printf(w, "kpa_leader_elections_total{result=\"not_needed\"} %" PRIu64 "\n", l->not_needed_total);
        mw_printf(w, "kpa_leader_elections_total{result=\"failed\"} %" PRIu64 "\n", l->failed_total);
        mw_printf(w, "kpa_leader_elections_total{result=\"unanswered\"} %" PRIu64 "\n", l->unanswered_total);
}

int render_metrics(const struct agent_status *st, struct dynbuf *out) {
        struct mw w = { out, 0 };
        const struct verdict *v = st->verdict;
        const struct health *h = st->health;
        const struct assessment *a = &h->last;
        const char *who = v->live_name ? v->live_name : "broker";

        mw_printf(&w, "# HELP kpa_ready 1 if the local %s is ready (every readiness check passes).\n"
                      "# TYPE kpa_ready gauge\n", who);
        mw_printf(&w, "kpa_ready %d\n", v->ready ? 1 : 0);
        mw_printf(&w, "# HELP kpa_live 1 if the local %s answered within the liveness window.\n"
                      "# TYPE kpa_live gauge\n", who);
        mw_printf(&w, "kpa_live %d\n", v->live ? 1 : 0);

        mw_head(&w, "kpa_readiness_check", "gauge", "1 if the named readiness check passes, 0 if it fails.");
        for (int i = 0; i < CHECK_COUNT; i++)
                if (v->checks[i].applies)
                        mw_printf(&w, "kpa_readiness_check{check=\"%s\"} %d\n",
                                  check_name((enum check_id) i), v->checks[i].ok ? 1 : 0);

        if (st->quorum)
                metrics_quorum(&w, st);
        else
                metrics_partitions(&w, st);

        if (st->disk && st->disk->n_dirs > 0)
                metrics_disk(&w, st->disk);
        if (st->leadership)
                metrics_leadership(&w, st->leadership);
        if (st->tls && !w.err)
                w.err = tlsview_metrics(st->tls, st->now_unix_ms / 1000, out);
        if (st->scale_down && !w.err)
                w.err = scaledown_metrics(st->scale_down, out);

        mw_head(&w, "kpa_consecutive_good_checks", "gauge", "Good checks in a row (reset by a bad one).");
        mw_printf(&w, "kpa_consecutive_good_checks %u\n", h->consecutive_good);
        mw_head(&w, "kpa_check_duration_seconds", "gauge", "Duration of the last metadata check.");
        mw_printf(&w, "kpa_check_duration_seconds ");
        mw_seconds(&w, h->have_last ? (int64_t) st->last_check_duration_ms : 0);
        mw_head(&w, "kpa_checks_total", "counter", "Metadata checks completed, by result (failed: any readiness check failed).");
        mw_printf(&w, "kpa_checks_total{result=\"ok\"} %" PRIu64 "\n", h->checks_total - h->checks_failed);
        mw_printf(&w, "kpa_checks_total{result=\"failed\"} %" PRIu64 "\n", h->checks_failed);

        mw_printf(&w, "# HELP kpa_broker_reachable 1 if the local %s answered the last check.\n"
                      "# TYPE kpa_broker_reachable gauge\n", who);
        mw_printf(&w, "kpa_broker_reachable %d\n", h->have_last && a->reachable ? 1 : 0);
        if (st->rtt_ms >= 0) {
                mw_head(&w, "kpa_broker_rtt_seconds", "gauge", "Round trip of the last metadata request.");
                mw_printf(&w, "kpa_broker_rtt_seconds ");
                mw_seconds(&w, st->rtt_ms);
        }
        mw_head(&w, "kpa_last_check_timestamp_seconds", "gauge", "Unix time the last check finished (0: none yet).");
        mw_printf(&w, "kpa_last_check_timestamp_seconds ");
        mw_seconds(&w, h->have_last ? st->last_check_unix_ms : 0);
        mw_head(&w, "kpa_last_success_timestamp_seconds", "gauge", "Unix time of the last good check (0: none yet).");
        mw_printf(&w, "kpa_last_success_timestamp_seconds ");
        mw_seconds(&w, st->last_success_unix_ms);

        if (st->features)
                metrics_features(&w, st->features);

        mw_head(&w, "kpa_build_info", "gauge", "Always 1; the agent's version as a label.");
        mw_printf(&w, "kpa_build_info{version=\"");
        mw_label_value(&w, st->version ? st->version : "");
        mw_printf(&w, "\"} 1\n");
        return w.err;
}
