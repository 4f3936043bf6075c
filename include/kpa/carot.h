/* The pure decisions of a CA rotation across the cluster (agent/carot.c, docs/tls-rotation.md).
 *
 * A CA change (the Secret's ca.crt holds another CA, tls.crt is issued by it) must never make a
 * broker present a certificate that a peer does not trust. So the agent goes in three steps,
 * each gated on the previous one confirmed on every broker:
 *
 *   TRUST  the trust store holds the old CAs and the new ones; the key store keeps the old leaf.
 *          The agent waits until every peer's agent reports that its broker has loaded a trust
 *          store with the new leaf's CA.
 *   LEAF   the key store takes the Secret's new leaf. The agent waits until every broker, itself
 *          included, serves a leaf that chains to a CA of the Secret (seen by a TLS handshake
 *          from this agent, and reported by the peer's agent for all its connections).
 *   DROP   the trust store holds the Secret's CAs only; once the broker loaded it: STEADY.
 *
 * The state is not a counter kept somewhere: it is derived, at every round, from what is on
 * disk (the stores, ca.pem and the state file next to them, all written atomically) and what the
 * brokers serve. The old CAs are remembered in ca.pem and truststore.p12 themselves, so an agent
 * restarted mid-rotation resumes where it was, and a new CA change that arrives mid-rotation is
 * just another target: its CA is added to everything trusted so far, and nothing is dropped
 * before every broker serves a leaf of the newest CA.
 *
 * CAs are named by the SHA-256 of their DER encoding, in lower-case hex. Fail closed: a peer
 * whose state is unknown (no report, no handshake, a list of brokers that could not be read)
 * holds the gate, and the decision says which peer and why. */
#ifndef KPA_CAROT_H
#define KPA_CAROT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CAROT_MAX_CAS 16
#define CAROT_FP_LEN 65                 /* 64 hex digits and the NUL */
#define CAROT_MAX_PEERS 64
#define CAROT_HOST_MAX 256
#define CAROT_WHY_MAX 256
#define CAROT_BLOCKED_MAX 640
/* Bound on a peer's /status read for its report. */
#define CAROT_REPORT_MAX_BYTES (1024 * 1024)

struct carot_set {
        size_t n;
        char fp[CAROT_MAX_CAS][CAROT_FP_LEN];
};

enum carot_phase { CAROT_STEADY, CAROT_TRUST, CAROT_LEAF, CAROT_DROP, CAROT_PHASES };

enum carot_action {
        CAROT_NONE,           /* nothing to do for the CA (a plain leaf renewal may still run) */
        CAROT_ADD_TRUST,      /* write the trust store write_trust (old + new), keep the key store */
        CAROT_RELOAD_TRUST,   /* the trust store on disk was not confirmed loaded: reload it */
        CAROT_SERVE_LEAF,     /* the gate is open: put the Secret's leaf in the key store */
        CAROT_DROP_TRUST,     /* the gate is open: write the trust store write_trust (new only) */
        CAROT_WAIT,           /* a gate is closed: blocked says which peer and why */
        CAROT_RESTART,        /* raft_tls: the stores on disk are a step ahead of what the broker
                               * process's Raft client started with: it restarts (may_restart says
                               * whether its turn came, restart_why why (not)) before any next step */
};

/* What a peer's agent reports of its broker (its /status tls.ca_rotation). */
struct carot_report {
        bool trust_loaded;                /* its broker took the trust store it has on disk */
        struct carot_set trusts;          /* those CAs (empty unless trust_loaded) */
        char serves[CAROT_FP_LEN];        /* the CA every connection of every listener is served
                                           * a leaf of, "" when not confirmed */
        /* Its tls.ca_rotation.raft (raftstart.h), present on a node whose controller listener
         * uses TLS: what its broker process's Raft client started with (raft_known), whether
         * it is ready (in ISR, /status "ready"), needs a restart, or asks for one now. */
        bool raft;
        bool raft_known;
        struct carot_set raft_trusts;
        char raft_serves[CAROT_FP_LEN];
        bool ready;
        bool needs_restart;
        bool restarting;
};

struct carot_peer {
        int32_t node_id;
        char host[CAROT_HOST_MAX];
        bool reported;                    /* its agent answered with a report */
        struct carot_report report;
        char served[CAROT_FP_LEN];        /* the CA of the leaf this agent's handshake got, "" unknown */
        char why[CAROT_WHY_MAX];          /* what is unknown and why, when !reported or !served[0] */
};

struct carot_input {
        struct carot_set target;          /* the Secret's ca.crt */
        char target_leaf[CAROT_FP_LEN];   /* the CA the Secret's leaf chains to */
        struct carot_set trusted;         /* ca.pem (the trust store) on disk */
        bool trust_loaded;                /* the broker confirmed loading it (the state file) */
        char stored_leaf[CAROT_FP_LEN];   /* the CA the key store's leaf chains to */
        char served[CAROT_FP_LEN];        /* the CA of what every local listener serves, "" unknown */
        /* NULL when the list of peers is known; else why not (the gates hold). */
        const char *peers_unknown;
        /* The controller listener's name when it uses TLS (tlsplan_controller_tls), else NULL.
         * Then every node's Raft client (a controller's, and a broker's to the controllers)
         * keeps the material its process started with (raftstart.h), and: a node restarts
         * after each of its own steps (CAROT_RESTART, one node at a time, the lowest node id
         * first), SERVE_LEAF waits until every peer's Raft client started trusting the new
         * CA, DROP_TRUST until every peer's started with a leaf of a new CA. */
        const char *raft_tls;
        int32_t node_id;                  /* this node: restarts go by node id */
        bool raft_known;                  /* what this process's Raft client started with: */
        struct carot_set raft_trusts;
        char raft_serves[CAROT_FP_LEN];
        bool ready;                       /* this broker is ready (a restart waits for it) */
        /* raft_tls: why the Raft client's leaf must be renewed by a restart (it expires soon and
         * the key store holds a renewed one: raftstart_leaf_due), else NULL. */
        const char *raft_renew;
        const struct carot_peer *peers;
        size_t n_peers;
};

struct carot_decision {
        enum carot_phase phase;
        enum carot_action action;
        struct carot_set write_trust;     /* ADD_TRUST, DROP_TRUST */
        /* Each peer's confirmation of the current gate (TRUST: it trusts the new leaf's CA;
         * LEAF: it serves a leaf of a new CA); false outside a gate. */
        bool peer_ok[CAROT_MAX_PEERS];
        char blocked[CAROT_BLOCKED_MAX];  /* WAIT: the first peer that holds the gate, and why */
        bool may_restart;                 /* RESTART: this node's turn came */
};

const char *carot_phase_name(enum carot_phase p);
const char *carot_action_name(enum carot_action a);

bool carot_set_has(const struct carot_set *s, const char *fp);
/* Adds fp unless present: 0, or -E2BIG past CAROT_MAX_CAS, -EINVAL when fp is not 64 lower-case
 * hex digits. */
int carot_set_add(struct carot_set *s, const char *fp);
/* Same members, any order. */
bool carot_set_equal(const struct carot_set *a, const struct carot_set *b);

/* Whether this node's broker process should restart (raft_tls only): what its Raft client
 * started with is not what the stores hold. Unknown counts only mid-rotation (the Secret's
 * leaf or CAs differ from the stores): a node whose stores are steady is not restarted for a
 * start nobody recorded (an agent from before the record existed). */
bool carot_raft_behind(const struct carot_input *in);

/* The step to take now. n_peers above CAROT_MAX_PEERS holds every gate. */
void carot_decide(const struct carot_input *in, struct carot_decision *ret);

/* A peer's report from the body of its agent's /status: the object tls.ca_rotation with
 * "trust_loaded" (bool), "trusts" (array of fingerprints) and "serves" (a fingerprint or null).
 * 0, or -EINVAL with why saying what is missing or malformed (one printable line). */
int carot_parse_report(const char *body, size_t len, struct carot_report *ret, char *why, size_t whylen);

/* The state file next to the stores: which ca.pem (its SHA-256) the broker confirmed loading.
 * carot_state_format writes "kpa-ca-rotation 1\nloaded_ca_sha256=<fp>\n"; carot_state_parse
 * reads exactly that back (0) or -EINVAL. */
int carot_state_format(const char *loaded_fp, char *buf, size_t len);
int carot_state_parse(const char *text, size_t len, char ret_fp[CAROT_FP_LEN]);

#endif
