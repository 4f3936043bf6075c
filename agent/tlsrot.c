/* Certificate rotation without a broker restart: the shell (see include/kpa/tlsrot.h). */
#include "kpa/tlsrot.h"

#include <errno.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "kpa/ctlcheck.h"
#include "kpa/fsx.h"
#include "kpa/kconn.h"
#include "kpa/log.h"
#include "kpa/monotime.h"
#include "kpa/parse.h"
#include "kpa/props.h"
#include "kpa/raftstart.h"
#include "kpa/secret.h"
#include "kpa/tls.h"
#include "kpa/tls_issue.h"
#include "kpa/tls_p12.h"
#include "kpa/tls_x509.h"
#include "kpa/tlscaround.h"

#define PROPS_MAX_BYTES (1024 * 1024)
#define CONFIRM_STEP_MS 500
#define PATH_MAX_LEN 4096

const char *tlsrot_result_name(enum tlsrot_result r) {
        switch (r) {
        case TLSROT_ROTATED: return "rotated";
        case TLSROT_REFUSED: return "refused";
        case TLSROT_FAILED: return "failed";
        default: return "unknown";
        }
}

bool tlsrot_expiry_ok(const struct tlsrot_view *v, int64_t now_unix, char *why, size_t whylen) {
        /* The earliest notAfter among what the listeners serve: that is what clients see. */
        const struct tlsreload_cert *worst = NULL;
        const char *where = NULL;
        for (int i = 0; i < v->n_listeners; i++)
                if (v->listeners[i].have_served &&
                    (!worst || v->listeners[i].served.not_after < worst->not_after)) {
                        worst = &v->listeners[i].served;
                        where = v->listeners[i].name;
                }
        if (!worst && v->have_stored) {
                worst = &v->stored;
                where = "keystore.p12";
        }
        const char *serial = worst ? worst->serial : NULL;
        int64_t not_after = worst ? worst->not_after : 0;
        /* The Raft client presents the leaf its process started with until it restarts: after a
         * renewal from the same CA that one may expire first (raftstart.h). */
        const struct raftstart_state *r = &v->ca.raft_state;
        char raft_where[160];
        if (v->ca.known && v->ca.raft && r->known && r->with.leaf_serial[0] &&
            (!serial || r->with.leaf_not_after < not_after)) {
                snprintf(raft_where, sizeof raft_where, "the Raft client (listener %s, until the broker restarts)",
                         v->ca.raft_listener);
                where = raft_where;
                serial = r->with.leaf_serial;
                not_after = r->with.leaf_not_after;
        }
        if (!serial) {
                snprintf(why, whylen, "no certificate known yet");
                return true;
        }
        char detail[256];
        bool ok = tlsplan_expiry_ok(not_after, now_unix, v->expiry_warn_days, detail, sizeof detail);
        snprintf(why, whylen, "%s (serial %s): %s", where, serial, detail);
        return ok;
}

/* What one round found and did; owned by the worker while the job runs. */
struct job {
        /* inputs */
        char tls_dir[PATH_MAX_LEN];     /* KPA_TLS_DIR, or KPA_TLS_CA_DIR when ca_dir */
        bool ca_dir;
        char key_type[8];               /* ca_dir: KPA_TLS_KEY_TYPE, or "" */
        uint32_t validity_days;
        char broker_config[PATH_MAX_LEN];
        int32_t node_id;
        struct kafka_conf *conf;
        uint64_t timeout_ms, confirm_ms;
        uint16_t agent_port;
        int32_t seen[CAROT_MAX_PEERS];   /* brokers seen earlier in this CA rotation */
        size_t n_seen;
        /* Set from the loop when the agent stops: the confirmation stops waiting. */
        atomic_bool *stop;
        /* A renewal's stores were written but its reload not confirmed (an earlier round
         * failed): ask for the reload and confirm again once every listener answers, even if
         * they all serve the stored serial by now (the broker may have applied it late). */
        bool unconfirmed;
        /* The broker process's start as its probes told it (< 0: not yet), and its readiness
         * (tlsrot_probe): what its Raft client started with, and whether it may restart. */
        int64_t process_start_unix_ms;
        bool ready;
        /* outputs */
        bool written;                   /* this round wrote new stores */
        bool leaf_written;              /* ... for a renewal (not a CA step) */
        bool attempted;                 /* new material was seen: result says what came of it */
        enum tlsrot_result result;
        char reason[TLSROT_REASON_MAX];
        char new_serial[80];
        char old_serial[80];
        bool have_stored;
        struct tlsreload_cert stored;
        int n_listeners;
        struct tlsrot_listener listeners[TLSPLAN_MAX_LISTENERS];
        struct tlscaround_view ca;       /* the CA rotation's state, when judged */
        char ca_error[TLSROT_REASON_MAX];
        struct tlscaround_out *ca_out;   /* the CA step's stores, freed at the end of the round */
        bool have_due;                   /* ca_dir: the stored leaf's renewal moment */
        int64_t due_unix;
};

struct tlsrot {
        uv_loop_t *loop;
        struct tlsrot_opts o;
        char tls_dir[PATH_MAX_LEN];      /* the folder watched: KPA_TLS_DIR or KPA_TLS_CA_DIR */
        char key_type[8];
        char broker_config[PATH_MAX_LEN];
        struct kafka_conf *conf;
        uv_fs_event_t fs_event;
        uv_timer_t recheck, debounce;
        uv_work_t work;
        bool busy, again, stopping;
        atomic_bool stop_requested;
        int open_handles;
        struct job *job;
        struct tlsrot_view view;
        char logged_reason[TLSROT_REASON_MAX];   /* the last refusal or failure logged */
        bool unconfirmed;                        /* job.unconfirmed for the next round */
        char ca_logged[TLSROT_REASON_MAX + 64];  /* the last CA rotation line logged */
        /* Brokers seen since the CA rotation began; forgotten once it is steady (a broker
         * removed for good then holds nothing). */
        int32_t seen[CAROT_MAX_PEERS];
        size_t n_seen;
        int64_t process_start_unix_ms;           /* tlsrot_probe; -1: not told yet */
        bool ready;
};

static int64_t unix_now_ms(void) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the worker ---- */

/* The broker's TLS setup from server.properties. */
struct setup {
        struct props props;
        const char *password, *keystore, *truststore;
        char out_dir[PATH_MAX_LEN];
        struct tlsplan_listener listeners[TLSPLAN_MAX_LISTENERS];
        size_t n_listeners;
        int network_threads;             /* num.network.threads: processors per listener */
        /* An SSL listener that requires a client certificate, or port 0: where a CA step
         * proves the broker trusts the new CA (tlsreload_accepts_client). */
        uint16_t auth_port;
        char auth_name[64];
        /* tlsplan_controller_tls: the controllers are TLS peers (judged by handshakes when they
         * are no brokers), and every node's Raft client uses TLS (raftstart.h): raft_tls names
         * the controller listener; else a CA change never concerns them, and raft_tls is "". */
        char raft_tls[64];
        bool controller_tls;
};

/* Kafka's ssl.client.auth of listener l: its listener.name.<l>. override, else the global. */
static bool requires_client_cert(const struct props *p, const char *l) {
        char key[128], lower[64];
        size_t i = 0;
        for (; l[i] && i + 1 < sizeof lower; i++)
                lower[i] = (char) (l[i] >= 'A' && l[i] <= 'Z' ? l[i] - 'A' + 'a' : l[i]);
        lower[i] = '\0';
        snprintf(key, sizeof key, "listener.name.%s.ssl.client.auth", lower);
        const char *v = props_get(p, key);
        if (!v)
                v = props_get(p, "ssl.client.auth");
        return v && strcmp(v, "required") == 0;
}

static int read_setup(const char *path, struct setup *s, char *why, size_t whylen) {
        char *text = NULL;
        size_t len = 0;
        int r = fsx_read_file(path, PROPS_MAX_BYTES, &text, &len);
        if (r < 0) {
                snprintf(why, whylen, "--broker-config %.200s cannot be read: %s", path, strerror(-r));
                return r;
        }
        char err[256];
        r = props_parse(&s->props, text, len, err, sizeof err);
        secret_wipe(text, len);
        free(text);
        if (r < 0) {
                snprintf(why, whylen, "--broker-config %.200s: %.300s", path, err);
                return r;
        }
        s->password = props_get(&s->props, "ssl.keystore.password");
        s->keystore = props_get(&s->props, "ssl.keystore.location");
        s->truststore = props_get(&s->props, "ssl.truststore.location");
        if (!s->password || !s->keystore || !s->truststore) {
                snprintf(why, whylen, "--broker-config %.200s has no ssl.keystore.location, ssl.keystore.password and "
                         "ssl.truststore.location (expected kpa-init's server.properties with TLS)", path);
                return -EINVAL;
        }
        char ks[PATH_MAX_LEN], ts[PATH_MAX_LEN];
        snprintf(ks, sizeof ks, "%s", s->keystore);
        snprintf(ts, sizeof ts, "%s", s->truststore);
        snprintf(s->out_dir, sizeof s->out_dir, "%s", dirname(ks));
        if (strcmp(s->out_dir, dirname(ts)) != 0 ||
            strcmp(s->keystore + strlen(s->out_dir), "/" TLS_KEYSTORE_FILE) != 0 ||
            strcmp(s->truststore + strlen(s->out_dir), "/" TLS_TRUSTSTORE_FILE) != 0) {
                snprintf(why, whylen, "--broker-config %.200s: the stores are not kpa-init's %s and %s of one folder",
                         path, TLS_KEYSTORE_FILE, TLS_TRUSTSTORE_FILE);
                return -EINVAL;
        }
        /* Kafka's default is 3; bounded so that a confirmation stays a few handshakes. */
        uint64_t nt = 3;
        const char *v = props_get(&s->props, "num.network.threads");
        if (v && parse_u64(v, 1, 8, &nt) < 0)
                nt = 8;
        s->network_threads = (int) nt;
        r = tlsplan_tls_listeners(props_get(&s->props, "listeners"), props_get(&s->props, "advertised.listeners"),
                                      props_get(&s->props, "listener.security.protocol.map"),
                                      props_get(&s->props, "controller.listener.names"), s->listeners,
                                      TLSPLAN_MAX_LISTENERS, &s->n_listeners, why, whylen);
        s->controller_tls = tlsplan_controller_tls(props_get(&s->props, "controller.listener.names"),
                                                   props_get(&s->props, "listener.security.protocol.map"), s->raft_tls,
                                                   sizeof s->raft_tls);
        if (!s->controller_tls)
                s->raft_tls[0] = '\0';
        for (size_t i = 0; r == 0 && i < s->n_listeners && !s->auth_port; i++)
                if (s->listeners[i].ssl && requires_client_cert(&s->props, s->listeners[i].name)) {
                        s->auth_port = s->listeners[i].port;
                        snprintf(s->auth_name, sizeof s->auth_name, "%s", s->listeners[i].name);
                }
        return r;
}

/* The leaf of a key store as kpa writes it. */
static int store_leaf(const unsigned char *der, size_t len, const char *password, struct tlsreload_cert *ret) {
        struct tls_p12_content c = { 0 };
        int r = tls_p12_read(der, len, password, &c);
        if (r == 0 && sk_X509_num(c.certs) > 0)
                tlsreload_describe_cert(sk_X509_value(c.certs, 0), ret);
        else if (r == 0)
                r = -EINVAL;
        tls_p12_content_free(&c);
        return r;
}

static void read_stored(struct job *j, const struct setup *s) {
        char *data = NULL;
        size_t len = 0;
        if (fsx_read_file(s->keystore, TLS_MAX_PEM_BYTES, &data, &len) == 0)
                j->have_stored = store_leaf((unsigned char *) data, len, s->password, &j->stored) == 0;
        if (data)
                secret_wipe(data, len);
        free(data);
}

/* What each TLS listener serves now. Kafka gives each network processor of a listener its own
 * SSL factory, and the acceptor hands connections to the processors in turn, so one handshake
 * sees one processor only: each listener is asked twice per processor
 * (num.network.threads), and a listener whose connections serve different certificates
 * counts as serving none of them (the first one differing is shown). */
static void read_served(struct job *j, const struct setup *s, const struct kconn_security *sec, const char *host) {
        j->n_listeners = (int) s->n_listeners;
        for (size_t i = 0; i < s->n_listeners; i++) {
                struct tlsrot_listener *l = &j->listeners[i];
                memset(l, 0, sizeof *l);
                snprintf(l->name, sizeof l->name, "%s", s->listeners[i].name);
                l->port = s->listeners[i].port;
                l->have_served = tlsreload_served(host, l->port, sec, j->timeout_ms, &l->served, l->error,
                                                  sizeof l->error) == 0;
                for (int k = 1; l->have_served && k < 2 * s->network_threads; k++) {
                        struct tlsreload_cert other;
                        char err[sizeof l->error];
                        if (tlsreload_served(host, l->port, sec, j->timeout_ms, &other, err, sizeof err) < 0)
                                continue;
                        if (strcmp(other.serial, l->served.serial) != 0) {
                                char first[sizeof l->served.serial];
                                snprintf(first, sizeof first, "%s", l->served.serial);
                                l->have_served = false;
                                l->mixed = true;
                                snprintf(l->error, sizeof l->error, "connections are served different certificates "
                                         "(serial %.60s and %.60s): not every network processor reloaded",
                                         first, other.serial);
                                break;
                        }
                }
        }
}

static bool all_serve(const struct job *j, const char *serial) {
        for (int i = 0; i < j->n_listeners; i++)
                if (!j->listeners[i].have_served || strcmp(j->listeners[i].served.serial, serial) != 0)
                        return false;
        return j->n_listeners > 0;
}

static int write_stores(const struct setup *s, const struct tls_result *res, char *why, size_t whylen) {
        struct fileset *fs = fileset_new(s->out_dir);
        int r = fs ? 0 : -ENOMEM;
        /* Modes as kpa-init writes them: the stores 0600, the CA PEM (public) 0644. */
        /* A CA step writes only some of them (tlscaround.h): a NULL one is kept as it is. */
        if (r == 0 && res->keystore)
                r = fileset_add(fs, TLS_KEYSTORE_FILE, res->keystore, res->keystore_len, 0600, true);
        if (r == 0 && res->truststore)
                r = fileset_add(fs, TLS_TRUSTSTORE_FILE, res->truststore, res->truststore_len, 0600, true);
        if (r == 0 && res->ca_pem)
                r = fileset_add(fs, TLS_CA_PEM_FILE, res->ca_pem, res->ca_pem_len, 0644, false);
        char err[300] = "";
        if (r == 0)
                r = fileset_commit(fs, err, sizeof err);
        if (r < 0)
                snprintf(why, whylen, "writing the stores in %.200s: %.300s", s->out_dir, err[0] ? err : strerror(-r));
        fileset_free(fs);
        return r;
}

/* Reads the per-broker set, then (res: new stores) writes the stores, then asks the broker to
 * reload and confirms by handshakes that every TLS listener serves j->new_serial. Without res
 * the stores on disk are already the new ones (an earlier reload failed): only the reload and
 * its confirmation are done again. */
static void reload(struct job *j, struct setup *s, const struct tls_result *res,
                   const struct kconn_security *sec, const char *host) {
        /* Read and plan before anything is written: a refusal leaves everything as it was. */
        struct tlsplan_entry *current = calloc(TLSPLAN_MAX_ENTRIES, sizeof *current);
        char (*keybuf)[TLSPLAN_NAME_MAX] = calloc(2 * TLSPLAN_MAX_LISTENERS, sizeof *keybuf);
        size_t n_current = 0;
        char why[TLSROT_REASON_MAX];
        if (!current || !keybuf) {
                j->result = TLSROT_FAILED;
                snprintf(j->reason, sizeof j->reason, "out of memory");
                goto out;
        }
        if (tlsreload_describe(j->conf, j->node_id, j->timeout_ms, current, TLSPLAN_MAX_ENTRIES, &n_current, why,
                               sizeof why) < 0) {
                j->result = TLSROT_FAILED;
                snprintf(j->reason, sizeof j->reason, "reading the broker's per-broker dynamic configs: %.500s", why);
                goto out;
        }
        const char *names[TLSPLAN_MAX_LISTENERS];
        for (size_t i = 0; i < s->n_listeners; i++)
                names[i] = s->listeners[i].name;
        struct tlsplan_set set;
        int r = tlsplan_alter_set(current, n_current, names, s->n_listeners, s->keystore, s->truststore, keybuf,
                                  &set, why, sizeof why);
        if (r < 0) {
                j->result = TLSROT_REFUSED;
                snprintf(j->reason, sizeof j->reason, "%s", why);
                goto out;
        }
        if (res) {
                if (write_stores(s, res, why, sizeof why) < 0) {
                        j->result = TLSROT_FAILED;
                        snprintf(j->reason, sizeof j->reason, "%s", why);
                        goto out;
                }
                /* From here on the stores on disk are the new ones: a failure below leaves the
                 * reload to be asked again (job.unconfirmed). */
                j->written = true;
        }
        if (tlsreload_alter(j->conf, j->node_id, &set, j->timeout_ms, why, sizeof why) < 0) {
                j->result = TLSROT_FAILED;
                snprintf(j->reason, sizeof j->reason, "the new stores are written (a restart uses them, and the "
                         "reload is retried), but the broker did not take the reload: %.400s", why);
        } else {
                /* Confirmed only by what the listeners serve. How long it took is said: each
                 * network processor reloads on its own (4.4.0: seconds apart). */
                uint64_t taken = monotime_ms(), deadline = taken + j->confirm_ms;
                for (;;) {
                        read_served(j, s, sec, host);
                        if (all_serve(j, j->new_serial)) {
                                j->result = TLSROT_ROTATED;
                                snprintf(j->reason, sizeof j->reason, "every TLS listener serves serial %s on every "
                                         "connection, %llums after the broker took the reload", j->new_serial,
                                         (unsigned long long) (monotime_ms() - taken));
                                break;
                        }
                        if (monotime_ms() >= deadline || atomic_load(j->stop)) {
                                j->result = TLSROT_FAILED;
                                snprintf(j->reason, sizeof j->reason, "the broker took the reload but does not serve "
                                         "serial %s on every TLS listener after %llums (retried)", j->new_serial,
                                         (unsigned long long) j->confirm_ms);
                                break;
                        }
                        struct timespec ts = { 0, CONFIRM_STEP_MS * 1000000L };
                        nanosleep(&ts, NULL);
                }
        }
out:
        for (size_t i = 0; i < n_current; i++)
                free((char *) current[i].value);
        free(current);
        free(keybuf);
}

static void rotate(struct job *j, struct setup *s, const struct tls_result *res,
                   const struct kconn_security *sec, const char *host) {
        j->attempted = true;
        struct tlsreload_cert leaf;
        if (store_leaf(res->keystore, res->keystore_len, s->password, &leaf) < 0) {
                j->result = TLSROT_FAILED;
                snprintf(j->reason, sizeof j->reason, "the new key store does not open");
                return;
        }
        snprintf(j->new_serial, sizeof j->new_serial, "%s", leaf.serial);
        if (j->have_stored)
                snprintf(j->old_serial, sizeof j->old_serial, "%s", j->stored.serial);
        reload(j, s, res, sec, host);
        j->leaf_written = j->written;
}

/* Whether every TLS listener answered (a listener whose connections served different
 * certificates did), and one does not serve the certificate the key store holds on every
 * connection, or the last renewal was not confirmed: the stores were written but the reload
 * did not take (or was not confirmed). A broker that does not answer (starting, or out of
 * reach) is not this case: the reload is asked again once it answers. */
static bool reload_pending(const struct job *j) {
        if (!j->have_stored || j->n_listeners == 0)
                return false;
        for (int i = 0; i < j->n_listeners; i++)
                if (!j->listeners[i].have_served && !j->listeners[i].mixed)
                        return false;
        return j->unconfirmed || !all_serve(j, j->stored.serial);
}

/* The CA rotation's view of this round and the step it decides (tlscaround.h, carot.h); the
 * stores for that step are kept in j->ca_out until ca_step writes them. */
static struct tlscaround_out *ca_out_of(struct job *j);

static struct tlscaround_out *ca_out_of(struct job *j) {
        if (!j->ca_out)
                j->ca_out = calloc(1, sizeof *j->ca_out);
        return j->ca_out;
}

static enum carot_action ca_round(struct job *j, const struct setup *s, const struct tls_result *res,
                                  const struct kconn_security *sec) {
        bool served_stored = j->have_stored && all_serve(j, j->stored.serial);
        struct tlscaround_in in = { .out_dir = s->out_dir, .password = s->password, .conf = j->conf,
                                    .node_id = j->node_id, .agent_port = j->agent_port,
                                    .timeout_ms = j->timeout_ms, .sec = sec, .secret = res,
                                    .served_stored = served_stored, .seen = j->seen, .n_seen = j->n_seen,
                                    .voters = s->controller_tls ? props_get(&s->props, "controller.quorum.voters")
                                                                : NULL,
                                    .raft_tls = s->raft_tls[0] ? s->raft_tls : NULL,
                                    .process_start_unix_ms = j->process_start_unix_ms, .ready = j->ready,
                                    .stored = j->have_stored ? &j->stored : NULL, .now_unix = time(NULL),
                                    .tls_dir = j->tls_dir };
        struct tlscaround_out *o = ca_out_of(j);
        if (!o) {
                snprintf(j->ca_error, sizeof j->ca_error, "out of memory");
                return CAROT_WAIT;
        }
        char why[TLSROT_REASON_MAX];
        int r = tlscaround_decide(&in, o, why, sizeof why);
        j->ca = o->view;
        if (r < 0) {
                /* Fail closed: a CA state that cannot be read takes no step, and a leaf from
                 * another CA than the stored one is not put in place. */
                snprintf(j->ca_error, sizeof j->ca_error, "%s", why);
                return CAROT_WAIT;
        }
        return o->view.action;
}

/* AlterConfigs is answered once the controller committed the change; the broker applies it
 * when it replays the metadata log, a moment later. A trust step is confirmed only when the
 * broker accepts the Secret's own leaf (of the new CA) as a client certificate on a listener
 * that requires one; without such a listener, the accepted reload is all there is
 * (docs/tls-rotation.md, Limits). */
static void prove_trust(struct job *j, const struct setup *s, const char *host) {
        if (!s->auth_port)
                return;
        char crt[PATH_MAX_LEN + 16], key[PATH_MAX_LEN + 16], why[TLSROT_REASON_MAX] = "";
        snprintf(crt, sizeof crt, "%s/tls.crt", j->tls_dir);
        snprintf(key, sizeof key, "%s/tls.key", j->tls_dir);
        uint64_t deadline = monotime_ms() + j->confirm_ms;
        for (;;) {
                /* Each network processor has its own SSL factory (read_served): every one must
                 * accept it, so as many connections as a confirmation of a served serial. */
                int ok = 0;
                while (ok < 2 * s->network_threads &&
                       tlsreload_accepts_client(host, s->auth_port, crt, key, j->timeout_ms, why, sizeof why) == 0)
                        ok++;
                if (ok == 2 * s->network_threads)
                        return;
                if (monotime_ms() >= deadline || atomic_load(j->stop))
                        break;
                struct timespec ts = { 0, CONFIRM_STEP_MS * 1000000L };
                nanosleep(&ts, NULL);
        }
        j->result = TLSROT_FAILED;
        snprintf(j->reason, sizeof j->reason, "the broker took the trust store reload but does not accept a client "
                 "certificate of the new CA on listener %s after %llums (retried): %.300s", s->auth_name,
                 (unsigned long long) j->confirm_ms, why);
}

/* One CA step: writes the stores decided (some kept), asks the broker to reload and confirms,
 * as a leaf renewal does. */
static void ca_step(struct job *j, struct setup *s, const struct kconn_security *sec, const char *host,
                    enum carot_action a) {
        struct tlscaround_out *o = ca_out_of(j);
        struct tls_result stores = { .keystore = o->keystore, .keystore_len = o->keystore_len,
                                     .truststore = o->truststore, .truststore_len = o->truststore_len,
                                     .ca_pem = o->ca_pem, .ca_pem_len = o->ca_pem_len };
        j->attempted = true;
        snprintf(j->old_serial, sizeof j->old_serial, "%s", j->have_stored ? j->stored.serial : "");
        snprintf(j->new_serial, sizeof j->new_serial, "%s", j->stored.serial);
        if (a == CAROT_SERVE_LEAF) {
                struct tlsreload_cert leaf;
                if (store_leaf(o->keystore, o->keystore_len, s->password, &leaf) < 0) {
                        j->result = TLSROT_FAILED;
                        snprintf(j->reason, sizeof j->reason, "the new key store does not open");
                        return;
                }
                snprintf(j->new_serial, sizeof j->new_serial, "%s", leaf.serial);
        }
        bool write = stores.keystore || stores.truststore || stores.ca_pem;
        reload(j, s, write ? &stores : NULL, sec, host);
        if (j->result == TLSROT_ROTATED && (a == CAROT_ADD_TRUST || a == CAROT_RELOAD_TRUST))
                prove_trust(j, s, host);
        if (j->result == TLSROT_ROTATED) {
                char done[TLSROT_REASON_MAX];
                snprintf(done, sizeof done, "CA step %s: %.500s", carot_action_name(a), j->reason);
                snprintf(j->reason, sizeof j->reason, "%s", done);
        }
}

/* KPA_TLS_CA_DIR: the stores as kpa-init would build them now, from the CA, for the names of
 * the leaf kpa-init issued (it derived them from the pod's identity, which the agent does not
 * see; a pod keeps its identity for its whole life). The leaf is kept while more than a third
 * of its lifetime is left (tls_build reuses it), and issued again otherwise. A CA that is not
 * the one the stores trust is refused here: the stores are left as they are. */
static int build_from_ca(struct job *j, const struct setup *s, const char *const *cover, size_t nc,
                         struct tls_result *res, char *err, size_t errlen) {
        char *data = NULL;
        size_t len = 0;
        struct tls_p12_content c = { 0 };
        struct tls_issued_names *names = calloc(1, sizeof *names);
        char *ca_pem = NULL;
        size_t ca_pem_len = 0;
        int r = names ? fsx_read_file(s->keystore, TLS_MAX_PEM_BYTES, &data, &len) : -ENOMEM;
        if (r == 0)
                r = tls_p12_read((unsigned char *) data, len, s->password, &c);
        if (r == 0 && (!c.key || sk_X509_num(c.certs) < 1))
                r = -EINVAL;
        if (r < 0) {
                /* Fail closed: without the leaf kpa-init issued there are no names to issue for. */
                snprintf(err, errlen, "%.200s does not open with the store password (%s): the names to issue "
                         "for are read from the certificate kpa-init issued; restart the pod to let kpa-init "
                         "issue one", s->keystore, strerror(-r));
                goto out;
        }
        r = tls_issued_names(sk_X509_value(c.certs, 0), names);
        if (r < 0) {
                snprintf(err, errlen, "the certificate in %.200s has names kpa-init does not issue (a CN, DNS and IP "
                         "SANs expected): nothing to issue for", s->keystore);
                goto out;
        }
        const char *type = j->key_type[0] ? j->key_type : tls_key_type_name(c.key);
        struct tls_request rq = {
                .ca_dir = j->tls_dir, .dns_names = names->dns_ptr, .n_dns = names->n_dns,
                .ip_addrs = names->ip_ptr, .n_ips = names->n_ips, .common_name = names->cn,
                .key_type = type, .validity_days = j->validity_days, .must_cover = cover, .n_cover = nc,
                .password = s->password, .previous_dir = s->out_dir, .now = time(NULL),
        };
        r = tls_build(&rq, res, err, errlen);
        if (r < 0 || res->reused)
                goto out;
        /* The CAs the broker trusts now are ca.pem's (kpa-init wrote it with the same code from
         * the same ca.crt): other bytes mean another CA set in KPA_TLS_CA_DIR. */
        char cpath[PATH_MAX_LEN + 16];
        snprintf(cpath, sizeof cpath, "%s/%s", s->out_dir, TLS_CA_PEM_FILE);
        if (fsx_read_file(cpath, TLS_MAX_PEM_BYTES, &ca_pem, &ca_pem_len) < 0 || ca_pem_len != res->ca_pem_len ||
            memcmp(ca_pem, res->ca_pem, ca_pem_len) != 0) {
                tls_result_free(res);
                snprintf(err, errlen, "KPA_TLS_CA_DIR/ca.crt is not the CA the stores trust (%s/%s): a CA change "
                         "with KPA_TLS_CA_DIR needs the ordered CA rotation (trust old + new everywhere, then new "
                         "leaves, then drop the old CA), which kpa-agent runs only from a KPA_TLS_DIR Secret; "
                         "the stores are kept (docs/tls-rotation.md, \"Issuing from KPA_TLS_CA_DIR\")",
                         s->out_dir, TLS_CA_PEM_FILE);
                r = -EPERM;
        }
out:
        free(ca_pem);
        tls_p12_content_free(&c);
        if (data)
                secret_wipe(data, len);
        free(data);
        free(names);
        return r;
}

static void work_cb(uv_work_t *req) {
        struct tlsrot *t = req->data;
        struct job *j = t->job;
        struct setup s = { 0 };
        char why[TLSROT_REASON_MAX];
        struct kconn_security sec;
        char host[KCONN_HOST_MAX];
        uint16_t port;
        if (ctlcheck_security(j->conf, &sec, why, sizeof why) < 0 ||
            parse_hostport(kafka_conf_bootstrap(j->conf), 0, host, sizeof host, &port) < 0) {
                j->attempted = true;
                j->result = TLSROT_FAILED;
                snprintf(j->reason, sizeof j->reason, "the agent's client configuration: %.500s", why);
                return;
        }
        if (read_setup(j->broker_config, &s, why, sizeof why) < 0) {
                j->attempted = true;
                j->result = TLSROT_FAILED;
                snprintf(j->reason, sizeof j->reason, "%s", why);
                props_free_secret(&s.props);
                return;
        }
        read_stored(j, &s);
        const char *cover[TLSPLAN_MAX_LISTENERS];
        size_t nc = 0;
        for (size_t i = 0; i < s.n_listeners; i++)
                if (s.listeners[i].advertised[0])
                        cover[nc++] = s.listeners[i].advertised;
        struct tls_request rq = {
                .tls_dir = j->tls_dir, .must_cover = cover, .n_cover = nc,
                .password = s.password, .previous_dir = s.out_dir, .now = time(NULL),
        };
        struct tls_result res = { 0 };
        char err[TLSROT_REASON_MAX];
        int r = j->ca_dir ? build_from_ca(j, &s, cover, nc, &res, err, sizeof err)
                          : tls_build(&rq, &res, err, sizeof err);
        if (r < 0) {
                /* Bad or incomplete material: nothing is touched. */
                j->attempted = true;
                j->result = TLSROT_REFUSED;
                snprintf(j->reason, sizeof j->reason, "%s", err);
        } else {
                read_served(j, &s, &sec, host);
                /* The CA rotation reads the Secret's leaf (KPA_TLS_DIR); with KPA_TLS_CA_DIR a
                 * CA change was refused above. */
                enum carot_action a = j->ca_dir ? CAROT_NONE : ca_round(j, &s, &res, &sec);
                if (a != CAROT_NONE && a != CAROT_WAIT && a != CAROT_RESTART) {
                        ca_step(j, &s, &sec, host, a);
                } else if (a == CAROT_NONE && !res.reused) {
                        rotate(j, &s, &res, &sec, host);
                } else if (reload_pending(j)) {
                        j->attempted = true;
                        snprintf(j->new_serial, sizeof j->new_serial, "%s", j->stored.serial);
                        snprintf(j->old_serial, sizeof j->old_serial, "%s", j->listeners[0].have_served ?
                                 j->listeners[0].served.serial : "");
                        reload(j, &s, NULL, &sec, host);
                }
                /* A confirmed reload: the broker runs with ca.pem as it is now (the CA gates). */
                char why2[TLSROT_REASON_MAX];
                if (!j->ca_dir && j->attempted && j->result == TLSROT_ROTATED &&
                    tlscaround_confirm(s.out_dir, why2, sizeof why2) < 0)
                        snprintf(j->ca_error, sizeof j->ca_error, "%s", why2);
        }
        tls_result_free(&res);
        tlscaround_out_free(j->ca_out);
        free(j->ca_out);
        j->ca_out = NULL;
        read_stored(j, &s);
        if (j->ca_dir && j->have_stored) {
                j->have_due = true;
                j->due_unix = (int64_t) tls_issued_due((time_t) j->stored.not_before, (time_t) j->stored.not_after);
        }
        if (!j->attempted || j->result != TLSROT_ROTATED)
                read_served(j, &s, &sec, host);
        props_free_secret(&s.props);
}

/* ---- the loop side ---- */

static void log_outcome(struct tlsrot *t, const struct job *j) {
        if (j->result == TLSROT_ROTATED) {
                log_event(LOG_LEVEL_INFO, "tls_rotated", "new certificate serial %s (was %s) in place without a "
                          "restart: %s", j->new_serial, j->old_serial[0] ? j->old_serial : "unknown", j->reason);
                t->logged_reason[0] = '\0';
                return;
        }
        /* A refusal or failure is logged once: the periodic re-check finds the same material. */
        if (strcmp(t->logged_reason, j->reason) == 0)
                return;
        snprintf(t->logged_reason, sizeof t->logged_reason, "%s", j->reason);
        log_event(j->result == TLSROT_REFUSED ? LOG_LEVEL_WARN : LOG_LEVEL_ERROR,
                  j->result == TLSROT_REFUSED ? "tls_rotation_refused" : "tls_rotation_failed",
                  "keeping the certificate in place: %s", j->reason);
}

static void remember_peers(struct tlsrot *t, const struct tlscaround_view *c) {
        if (!c->known)
                return;
        if (c->phase == CAROT_STEADY) {
                t->n_seen = 0;
                return;
        }
        for (size_t i = 0; i < c->n_peers; i++) {
                bool have = false;
                for (size_t k = 0; k < t->n_seen && !have; k++)
                        have = t->seen[k] == c->peers[i].node_id;
                if (!have && t->n_seen < CAROT_MAX_PEERS)
                        t->seen[t->n_seen++] = c->peers[i].node_id;
        }
}

/* A CA step taken or a gate that changed what holds it: one line, not one per round. */
static void log_ca(struct tlsrot *t, const struct job *j) {
        const struct tlscaround_view *c = &j->ca;
        const char *err = j->ca_error;
        char line[TLSROT_REASON_MAX + 64];
        if (err[0])
                snprintf(line, sizeof line, "error: %s", err);
        else if (c->known)
                snprintf(line, sizeof line, "phase %s, %s: %s", carot_phase_name(c->phase), carot_action_name(c->action),
                         c->blocked);
        else
                return;
        if (strcmp(line, t->ca_logged) == 0)
                return;
        snprintf(t->ca_logged, sizeof t->ca_logged, "%s", line);
        if (!err[0] && c->phase == CAROT_STEADY && c->action == CAROT_NONE)
                return;
        log_event(err[0] ? LOG_LEVEL_ERROR : LOG_LEVEL_INFO,
                  err[0] ? "tls_ca_rotation_error" : c->action == CAROT_WAIT ? "tls_ca_rotation_waiting" : "tls_ca_rotation_step",
                  "%s", line);
}

static void maybe_free(struct tlsrot *t) {
        if (t->stopping && !t->busy && t->open_handles == 0) {
                kafka_conf_free(t->conf);
                free(t);
        }
}

static void on_closed(uv_handle_t *h) {
        struct tlsrot *t = h->data;
        t->open_handles--;
        maybe_free(t);
}

static bool unserved(const struct tlsrot_view *v) {
        for (int i = 0; i < v->n_listeners; i++)
                if (!v->listeners[i].have_served)
                        return true;
        return false;
}

/* A CA rotation under way, or a restart of the broker that waits (a renewal of the Raft
 * client's leaf happens in the steady phase). */
static bool ca_moving(const struct tlsrot_view *v) {
        return v->ca.known && (v->ca.phase != CAROT_STEADY || v->ca.action == CAROT_RESTART);
}

static void queue_round(struct tlsrot *t);
static void on_debounced(uv_timer_t *h);
static void on_recheck(uv_timer_t *h);

static void after_work_cb(uv_work_t *req, int status) {
        struct tlsrot *t = req->data;
        struct job *j = t->job;
        (void) status;
        t->busy = false;
        t->job = NULL;
        if (!t->stopping) {
                struct tlsrot_view *v = &t->view;
                v->have_stored = j->have_stored;
                v->stored = j->stored;
                v->n_listeners = j->n_listeners;
                memcpy(v->listeners, j->listeners, sizeof v->listeners);
                v->ca = j->ca;
                v->ca_at_ms = monotime_ms();
                v->have_renew = j->have_due;
                v->renew_at_unix = j->due_unix;
                remember_peers(t, &j->ca);
                snprintf(v->ca_error, sizeof v->ca_error, "%s", j->ca_error);
                log_ca(t, j);
                if (j->attempted) {
                        if (j->result == TLSROT_ROTATED)
                                t->unconfirmed = false;
                        else if (j->leaf_written)
                                t->unconfirmed = true;
                        bool repeat = j->result != TLSROT_ROTATED && strcmp(t->logged_reason, j->reason) == 0;
                        if (!repeat)
                                v->totals[j->result]++;
                        v->have_last = true;
                        v->last_result = j->result;
                        snprintf(v->last_reason, sizeof v->last_reason, "%s", j->reason);
                        if (!repeat)
                                v->last_unix_ms = unix_now_ms();
                        if (j->result == TLSROT_ROTATED)
                                snprintf(v->last_serial, sizeof v->last_serial, "%s", j->new_serial);
                        log_outcome(t, j);
                }
        }
        /* KPA_TLS_CA_DIR: the next round just after the leaf is due (and at least every
         * re-check interval). The repeat keeps the periodic re-check going afterwards. */
        if (!t->stopping && t->o.ca_dir) {
                uint64_t next = tlsplan_next_check_ms(unix_now_ms(), j->have_due, j->due_unix, t->o.recheck_ms);
                uv_timer_start(&t->recheck, on_recheck, next, t->o.recheck_ms);
        }
        kafka_conf_free(j->conf);
        free(j);
        if (t->again && !t->stopping) {
                t->again = false;
                queue_round(t);
        } else if (!t->stopping && (t->view.ca_error[0] || ca_moving(&t->view))) {
                /* Mid-rotation (or while a restart waits) the peers move on their own: judge
                 * the gates again soon rather than at the next re-check. */
                uv_timer_start(&t->debounce, on_debounced, TLSROT_CA_STEP_MS < t->o.recheck_ms ?
                               TLSROT_CA_STEP_MS : t->o.recheck_ms, 0);
        } else if (!t->stopping && unserved(&t->view)) {
                /* A listener that did not answer (the broker is starting, as at the agent's
                 * start): look again soon, so that /status shows what is served and a reload
                 * still due is not left to the next re-check. */
                uv_timer_start(&t->debounce, on_debounced, TLSROT_CA_STEP_MS < t->o.recheck_ms ?
                               TLSROT_CA_STEP_MS : t->o.recheck_ms, 0);
        }
        maybe_free(t);
}

static void queue_round(struct tlsrot *t) {
        if (t->stopping)
                return;
        if (t->busy) {
                t->again = true;
                return;
        }
        struct job *j = calloc(1, sizeof *j);
        if (!j)
                return;
        snprintf(j->tls_dir, sizeof j->tls_dir, "%s", t->tls_dir);
        j->ca_dir = t->o.ca_dir != NULL;
        snprintf(j->key_type, sizeof j->key_type, "%s", t->key_type);
        j->validity_days = t->o.validity_days;
        snprintf(j->broker_config, sizeof j->broker_config, "%s", t->broker_config);
        j->node_id = t->o.node_id;
        j->conf = kafka_conf_ref(t->conf);
        j->timeout_ms = t->o.timeout_ms;
        j->confirm_ms = t->o.confirm_ms;
        j->agent_port = t->o.agent_port;
        memcpy(j->seen, t->seen, sizeof j->seen);
        j->n_seen = t->n_seen;
        j->stop = &t->stop_requested;
        j->unconfirmed = t->unconfirmed;
        j->process_start_unix_ms = t->process_start_unix_ms;
        j->ready = t->ready;
        t->job = j;
        if (uv_queue_work(t->loop, &t->work, work_cb, after_work_cb) < 0) {
                kafka_conf_free(j->conf);
                free(j);
                t->job = NULL;
                return;
        }
        t->busy = true;
}

static void on_debounced(uv_timer_t *h) {
        queue_round(h->data);
}

static void on_recheck(uv_timer_t *h) {
        queue_round(h->data);
}

static void on_fs_event(uv_fs_event_t *h, const char *filename, int events, int status) {
        struct tlsrot *t = h->data;
        (void) filename;
        (void) events;
        (void) status;
        /* The kubelet's update is several steps (a new folder, its files, a symlink swap, the
         * old folder removed): act once the folder has been quiet for the debounce period. */
        uv_timer_start(&t->debounce, on_debounced, t->o.debounce_ms, 0);
}

int tlsrot_new(uv_loop_t *loop, const struct tlsrot_opts *o, struct kafka_conf *conf,
               struct tlsrot **ret, char *errbuf, size_t errlen) {
        struct tlsrot *t = calloc(1, sizeof *t);
        if (!t) {
                kafka_conf_free(conf);
                snprintf(errbuf, errlen, "out of memory");
                return -ENOMEM;
        }
        const char *dir = o->ca_dir ? o->ca_dir : o->tls_dir;
        if (!dir || !!o->ca_dir == !!o->tls_dir ||
            (o->key_type && strcmp(o->key_type, "ec") != 0 && strcmp(o->key_type, "rsa") != 0)) {
                kafka_conf_free(conf);
                free(t);
                snprintf(errbuf, errlen, "exactly one of KPA_TLS_DIR and KPA_TLS_CA_DIR expected (and a key type of "
                         "ec or rsa)");
                return -EINVAL;
        }
        if ((size_t) snprintf(t->tls_dir, sizeof t->tls_dir, "%s", dir) >= sizeof t->tls_dir ||
            (size_t) snprintf(t->broker_config, sizeof t->broker_config, "%s", o->broker_config) >= sizeof t->broker_config) {
                kafka_conf_free(conf);
                free(t);
                snprintf(errbuf, errlen, "%s or --broker-config: path too long", o->ca_dir ? "KPA_TLS_CA_DIR" : "KPA_TLS_DIR");
                return -EINVAL;
        }
        snprintf(t->key_type, sizeof t->key_type, "%s", o->key_type ? o->key_type : "");
        t->loop = loop;
        t->o = *o;
        /* Both point at the one folder kept here; ca_dir non-NULL says which mode. */
        t->o.tls_dir = o->ca_dir ? NULL : t->tls_dir;
        t->o.ca_dir = o->ca_dir ? t->tls_dir : NULL;
        t->o.key_type = NULL;
        t->view.ca_dir = o->ca_dir != NULL;
        t->o.broker_config = t->broker_config;
        if (!t->o.recheck_ms)
                t->o.recheck_ms = TLSROT_DEFAULT_RECHECK_MS;
        if (!t->o.debounce_ms)
                t->o.debounce_ms = TLSROT_DEBOUNCE_MS;
        if (!t->o.confirm_ms)
                t->o.confirm_ms = TLSROT_CONFIRM_MS;
        if (t->o.timeout_ms < TLSROT_CALL_MIN_MS)
                t->o.timeout_ms = TLSROT_CALL_MIN_MS;
        t->view.expiry_warn_days = o->expiry_warn_days;
        t->process_start_unix_ms = -1;
        atomic_init(&t->stop_requested, false);
        t->conf = conf;
        uv_timer_init(loop, &t->recheck);
        uv_timer_init(loop, &t->debounce);
        t->recheck.data = t->debounce.data = t->fs_event.data = t->work.data = t;
        t->open_handles = 2;
        *ret = t;
        return 0;
}

int tlsrot_start(struct tlsrot *t, char *errbuf, size_t errlen) {
        uv_fs_event_init(t->loop, &t->fs_event);
        t->open_handles++;
        int r = uv_fs_event_start(&t->fs_event, on_fs_event, t->tls_dir, 0);
        if (r < 0)
                /* The periodic re-check still runs: rotation is only slower. */
                snprintf(errbuf, errlen, "%s %s cannot be watched (%s): re-checked every %llums only",
                         t->o.ca_dir ? "KPA_TLS_CA_DIR" : "KPA_TLS_DIR", t->tls_dir, uv_strerror(r), (unsigned long long) t->o.recheck_ms);
        uv_timer_start(&t->recheck, on_recheck, 0, t->o.recheck_ms);
        return r;
}

void tlsrot_set_conf(struct tlsrot *t, struct kafka_conf *conf) {
        if (!t) {
                kafka_conf_free(conf);
                return;
        }
        kafka_conf_free(t->conf);
        t->conf = conf;
}

const struct tlsrot_view *tlsrot_view(const struct tlsrot *t) { return t ? &t->view : NULL; }

void tlsrot_probe(struct tlsrot *t, int64_t process_start_unix_ms, bool ready) {
        if (!t)
                return;
        bool was_ready = t->ready;
        t->ready = ready;
        bool other = t->process_start_unix_ms < 0 ||
                     !raftstart_same_process(t->process_start_unix_ms, process_start_unix_ms);
        if (other)
                t->process_start_unix_ms = process_start_unix_ms;
        /* A new broker process (or one that became ready) while a CA step waits on this node
         * or on restarts: the next round need not wait for its timer. */
        if (!t->stopping && t->view.ca.raft && ca_moving(&t->view) && (other || (ready && !was_ready)) &&
            !uv_is_active((uv_handle_t *) &t->debounce))
                uv_timer_start(&t->debounce, on_debounced, TLSROT_PROBE_ROUND_MS, 0);
}

bool tlsrot_restart_wanted(const struct tlsrot *t, int64_t process_start_unix_ms, char *why, size_t whylen) {
        if (!t || !t->view.ca.known || !t->view.ca.may_restart || !t->view.ca.raft_state.process_known ||
            !raftstart_same_process(t->view.ca.raft_state.started_unix_ms, process_start_unix_ms))
                return false;
        /* The turn was judged from the peers' reports of that round: a round that has not
         * ended for a while (peers slow to answer) leaves them unknown, and no restart is
         * asked on an old view (fail closed: the next round decides again). */
        if (monotime_ms() - t->view.ca_at_ms > TLSROT_RESTART_FRESH_MS)
                return false;
        snprintf(why, whylen, "%s", t->view.ca.blocked);
        return true;
}

void tlsrot_stop(struct tlsrot *t) {
        if (!t || t->stopping)
                return;
        t->stopping = true;
        atomic_store(&t->stop_requested, true);
        uv_close((uv_handle_t *) &t->recheck, on_closed);
        uv_close((uv_handle_t *) &t->debounce, on_closed);
        if (t->open_handles > 2)
                uv_close((uv_handle_t *) &t->fs_event, on_closed);
}
