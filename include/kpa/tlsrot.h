/* Certificate rotation without a broker restart (docs/tls-rotation.md).
 *
 * kpa-agent watches KPA_TLS_DIR, the cert-manager Secret volume kpa-init read. The kubelet
 * updates such a volume by writing a new "..<timestamp>" folder and swapping the "..data"
 * symlink to it, so the folder is watched (inotify through uv_fs_event) and, as a safety net
 * against a missed event, re-checked every recheck interval. A change is acted on after a
 * quiet debounce period, on a worker thread (OpenSSL and file writes never block the loop):
 *
 *   1. kpa-init's own code (common/tls.c) rebuilds the stores from the Secret with the store
 *      password of server.properties and checks chain, validity, key match and that the
 *      certificate covers every advertised host of a TLS listener. Bad or incomplete material
 *      is refused: the stores and the broker are left as they are, the reason is logged once
 *      and shown in /status. Material that makes the same stores is no change.
 *   2. The broker's per-broker dynamic configs are read, and the set to send is planned
 *      (tlsplan.h): refused with a reason when a value cannot be preserved.
 *   3. keystore.p12, truststore.p12 and ca.pem are replaced atomically (fsx.h, modes as
 *      kpa-init writes them).
 *   4. AlterConfigs names the same store locations for every TLS listener of the broker
 *      (tlsreload.h); the broker re-reads the files.
 *   5. The agent TLS-handshakes each listener until each serves the new serial (confirmed),
 *      or the confirmation bound passes (failed).
 *
 * A round that finds the stores already current but a listener serving another certificate
 * (a reload that failed or was not confirmed; a listener whose network processors disagree
 * counts), or that follows a renewal whose stores were written but whose reload was not
 * confirmed, does steps 2, 4 and 5 again once every listener answers.
 *
 * The agent's own clients pick up the new client certificate by themselves: each check reads
 * the store again when its file changed (kafka.c), and kconn's TLS context cache drops a
 * context whose files changed (kconn.c).
 *
 * With KPA_TLS_CA_DIR instead (a CA that issues this pod's certificate, as kpa-init does), the
 * folder watched is the CA's, and step 1 re-issues the leaf with kpa-init's own code
 * (common/tls_issue.c) once two thirds of its lifetime are gone: the same names (read back
 * from the leaf kpa-init issued, tls_issued_names), key type and validity. A round is also
 * scheduled just after the leaf's due moment (tlsplan_next_check_ms), not only by the
 * re-check. A CA change in that folder is refused (fail closed): the order of a CA rotation
 * needs a Secret that carries the new leaf (KPA_TLS_DIR, docs/tls-rotation.md).
 *
 * tlsrot_* is the shell: libuv handles on the loop, one worker job at a time. */
#ifndef KPA_TLSROT_H
#define KPA_TLSROT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "kpa/kafkaconf.h"
#include "kpa/tlsplan.h"
#include "kpa/tlsreload.h"
#include "kpa/tlscaround.h"

#define TLSROT_DEFAULT_EXPIRY_WARN_DAYS 14
#define TLSROT_DEFAULT_RECHECK_MS (60 * 1000)
#define TLSROT_DEBOUNCE_MS 1000
#define TLSROT_CONFIRM_MS (60 * 1000)
/* Mid CA rotation the gates are judged again this often (peers move on their own). */
#define TLSROT_CA_STEP_MS 5000
/* A restart is asked only on a round that ended at most this long ago (rounds come every
 * TLSROT_CA_STEP_MS while one waits): an older one's view of the peers is out of date. */
#define TLSROT_RESTART_FRESH_MS 15000
/* A new broker process seen by the probes while a CA step waits: the next round after this. */
#define TLSROT_PROBE_ROUND_MS 500
#define TLSROT_REASON_MAX 640
/* Each Kafka call of a rotation gets at least this long: it runs on a worker thread, rarely,
 * and a timed-out reload only means another round (a loaded broker answers AlterConfigs
 * slower than Metadata). */
#define TLSROT_CALL_MIN_MS 15000

enum tlsrot_result { TLSROT_ROTATED, TLSROT_REFUSED, TLSROT_FAILED, TLSROT_RESULTS };

struct tlsrot_listener {
        char name[64];
        uint16_t port;
        bool have_served;              /* the last handshake got a certificate */
        bool mixed;                    /* it answered, but its connections served different
                                        * certificates (not every network processor reloaded) */
        struct tlsreload_cert served;
        char error[256];               /* why not, when !have_served */
};

/* What /status and /metrics show. */
struct tlsrot_view {
        unsigned expiry_warn_days;
        bool have_stored;              /* keystore.p12's leaf, as last read */
        struct tlsreload_cert stored;
        int n_listeners;
        struct tlsrot_listener listeners[TLSPLAN_MAX_LISTENERS];
        bool have_last;
        enum tlsrot_result last_result;
        char last_reason[TLSROT_REASON_MAX];
        int64_t last_unix_ms;
        char last_serial[80];          /* the serial the last rotation put in place */
        uint64_t totals[TLSROT_RESULTS];
        struct tlscaround_view ca;     /* the CA rotation across the cluster (carot.h) */
        uint64_t ca_at_ms;             /* when that round ended (monotonic ms) */
        char ca_error[TLSROT_REASON_MAX];
        bool ca_dir;                   /* KPA_TLS_CA_DIR: the agent issues the leaf */
        bool have_renew;               /* ca_dir: renew_at_unix is the stored leaf's due moment */
        int64_t renew_at_unix;
};

struct tlsrot_opts {
        const char *tls_dir;           /* KPA_TLS_DIR: copied; or NULL with ca_dir */
        const char *ca_dir;            /* KPA_TLS_CA_DIR: copied; exactly one of the two */
        const char *key_type;          /* ca_dir: KPA_TLS_KEY_TYPE, or NULL: the current key's */
        uint32_t validity_days;        /* ca_dir: KPA_TLS_VALIDITY_DAYS; 0: 90 */
        const char *broker_config;     /* kpa-init's server.properties: copied */
        int32_t node_id;
        unsigned expiry_warn_days;
        uint64_t recheck_ms;           /* 0: TLSROT_DEFAULT_RECHECK_MS */
        uint64_t debounce_ms;          /* 0: TLSROT_DEBOUNCE_MS */
        uint64_t confirm_ms;           /* 0: TLSROT_CONFIRM_MS */
        uint64_t timeout_ms;           /* bound on each Kafka call and handshake */
        uint16_t agent_port;           /* the port of --listen: peers' agents answer there too */
};

const char *tlsrot_result_name(enum tlsrot_result r);

/* The tls_expiry condition over a view: ok when every served (or else the stored) certificate
 * is valid for more than expiry_warn_days; why says which and when. It never touches
 * readiness (docs/tls-rotation.md, "Expiry"). */
bool tlsrot_expiry_ok(const struct tlsrot_view *v, int64_t now_unix, char *why, size_t whylen);

struct tlsrot;

/* Takes conf (a reference: the agent's client configuration, for the Kafka calls and the
 * handshakes). 0 or < 0 with errbuf. */
int tlsrot_new(uv_loop_t *loop, const struct tlsrot_opts *o, struct kafka_conf *conf,
               struct tlsrot **ret, char *errbuf, size_t errlen);
/* Starts watching; the first round runs at once (it fills /status). */
int tlsrot_start(struct tlsrot *t, char *errbuf, size_t errlen);
/* A new client configuration for the next round (takes the reference). */
void tlsrot_set_conf(struct tlsrot *t, struct kafka_conf *conf);
const struct tlsrot_view *tlsrot_view(const struct tlsrot *t);
/* The kafka container's probe told when its broker process started (wall clock, ms), and the
 * agent's verdict on the broker's readiness: what the process's Raft client started with is
 * judged from it (raftstart.h). A new process starts a round soon. Accepts NULL. */
void tlsrot_probe(struct tlsrot *t, int64_t process_start_unix_ms, bool ready);
/* Whether the broker process that started at process_start_unix_ms should be restarted now: a
 * CA step waits on it (CAROT_RESTART) and its turn came. why gets the reason. Accepts NULL. */
bool tlsrot_restart_wanted(const struct tlsrot *t, int64_t process_start_unix_ms, char *why, size_t whylen);
/* Closes the handles; frees itself once the running job (if any) is done. Accepts NULL. */
void tlsrot_stop(struct tlsrot *t);

#endif
