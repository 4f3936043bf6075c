/* One round of a CA rotation across the cluster (agent/tlscaround.c): the facts carot_decide
 * needs, gathered from disk, the Secret, this broker and its peers, and the stores to write for
 * the step decided. Blocking: runs on the rotation's worker thread (tlsrot.c), which writes the
 * stores, asks the broker to reload and confirms, as for a leaf renewal.
 *
 * Kept next to the stores in kpa-init's output folder: ca-rotation.state (0644: it names a
 * digest of ca.pem, public) records which ca.pem the broker confirmed loading, written
 * atomically after each confirmed reload. The old CAs themselves are remembered in ca.pem and
 * truststore.p12 (carot.h). */
#ifndef KPA_TLSCAROUND_H
#define KPA_TLSCAROUND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kpa/carot.h"
#include "kpa/kafkaconf.h"
#include "kpa/kconn.h"
#include "kpa/raftstart.h"
#include "kpa/tls.h"
#include "kpa/tlsreload.h"

#define TLSCAROUND_STATE_FILE "ca-rotation.state"

/* What /status shows of the CA rotation, and what peers read of it. */
struct tlscaround_view {
        bool known;                        /* a round has filled it */
        enum carot_phase phase;
        enum carot_action action;
        char blocked[CAROT_BLOCKED_MAX];
        bool trust_loaded;
        struct carot_set trusts;           /* ca.pem on disk */
        struct carot_set secret_cas;       /* the Secret's ca.crt */
        char serves[CAROT_FP_LEN];         /* "" unless every listener serves the key store's leaf */
        /* raft_tls: what the broker process's Raft client started with (raftstart.h), and
         * whether it must restart (action CAROT_RESTART) and may now (its turn came). */
        bool raft;
        char raft_listener[64];
        struct raftstart_state raft_state;
        bool may_restart;
        bool peers_asked;                  /* a gate was judged: peers below */
        size_t n_peers;
        struct carot_peer peers[CAROT_MAX_PEERS];
        bool peer_ok[CAROT_MAX_PEERS];
};

struct tlscaround_in {
        const char *out_dir;               /* kpa-init's output folder (the stores) */
        const char *password;              /* the stores' password */
        struct kafka_conf *conf;
        int32_t node_id;
        uint16_t agent_port;               /* peers' agents listen here too; 0: peers unknown */
        uint64_t timeout_ms;
        const struct kconn_security *sec;
        const struct tls_result *secret;   /* the stores built from the Secret */
        bool served_stored;                /* every connection of every listener serves the key store's leaf */
        /* Brokers seen earlier in this rotation: one that Metadata no longer names (stopped,
         * fenced) is a peer whose state is unknown, not one less peer to wait for. */
        const int32_t *seen;
        size_t n_seen;
        /* controller.quorum.voters of server.properties ("id@host:port,..."), or NULL: a voter
         * that is not a broker of Metadata is a controller-only node (or down), without an
         * agent that rotates; it is judged by handshakes with its controller listener alone:
         * what it serves, and whether it accepts the Secret's leaf (tls_dir) as a client
         * certificate (that listener requires one). */
        const char *voters;
        /* The controller listener when it uses TLS (tlsplan_controller_tls), else NULL:
         * carot_input.raft_tls. Then the round also records what the broker process started
         * with (raft-start.state, RAFTSTART_STATE_FILE) from process_start_unix_ms (< 0: no
         * probe told it yet), and ready (this broker's verdict) lets a restart be asked. */
        const char *raft_tls;
        int64_t process_start_unix_ms;
        bool ready;
        /* The key store's leaf (NULL: unknown) and now: a Raft client whose leaf is due
         * (raftstart_leaf_due) restarts onto a renewed one. */
        const struct tlsreload_cert *stored;
        int64_t now_unix;
        const char *tls_dir;
};

/* What to write for the step: NULL fields are kept as they are. Owned; freed by
 * tlscaround_out_free. */
struct tlscaround_out {
        struct tlscaround_view view;
        unsigned char *keystore, *truststore;
        size_t keystore_len, truststore_len;
        char *ca_pem;
        size_t ca_pem_len;
};

/* Gathers and decides. Writes the state file when there is none yet (the broker loaded what
 * kpa-init wrote before it started). 0, or < 0 with why (the round then does nothing for CAs). */
int tlscaround_decide(const struct tlscaround_in *in, struct tlscaround_out *out, char *why, size_t whylen);
void tlscaround_out_free(struct tlscaround_out *out);
/* After a confirmed reload: records ca.pem as it is on disk now as loaded. 0 or < 0 with why. */
int tlscaround_confirm(const char *out_dir, char *why, size_t whylen);

#endif
