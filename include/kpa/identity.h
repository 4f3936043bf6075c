/* Pod identity: what a StatefulSet pod's name, namespace and the cluster's shape determine. */
#ifndef KPA_IDENTITY_H
#define KPA_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IDENTITY_MAX_CONTROLLERS 64
/* With a separate controller StatefulSet, broker node ids start here unless
 * KPA_NODE_ID_OFFSET says otherwise: the controllers' default ids (0 up to at most
 * IDENTITY_MAX_CONTROLLERS - 1) can then never be a broker's. */
#define IDENTITY_SEPARATE_BROKER_OFFSET 100

/* Splits "<statefulset>-<ordinal>"; the name must be an RFC 1123 DNS label. On success
 * ret_sts receives the StatefulSet name (at most 63 bytes + NUL). -EINVAL otherwise. */
int identity_split_pod_name(const char *pod, char ret_sts[64], uint32_t *ret_ordinal);
/* RFC 1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most 63 characters. */
bool identity_is_dns_label(const char *s);
/* RFC 1123 subdomain: dot-separated labels, at most 253 characters. */
bool identity_is_dns_subdomain(const char *s);
/* A Kafka cluster id: 22 characters of unpadded base64url encoding exactly 16 bytes (the
 * canonical encoding), not the reserved all-zero or metadata-topic ids. */
bool identity_is_cluster_id(const char *s);

/* The shape of the cluster as kpa-init is told it. */
struct cluster_shape {
        const char *statefulset;          /* this pod's StatefulSet */
        uint32_t ordinal;
        const char *namespace_;
        const char *service;              /* this StatefulSet's headless Service */
        const char *domain;               /* cluster domain, e.g. cluster.local */
        uint32_t node_id_offset;
        uint32_t controller_count;
        /* Separate controller StatefulSet (NULL: combined mode, the first controller_count
         * ordinals of this StatefulSet are broker+controller). */
        const char *controller_statefulset;
        const char *controller_service;
        uint32_t controller_node_id_offset;
        uint16_t controller_port;
};

enum node_roles { ROLES_BROKER = 1, ROLES_CONTROLLER = 2, ROLES_COMBINED = 3 };

struct identity {
        uint32_t node_id;
        enum node_roles roles;
        char fqdn[256];                  /* <pod>.<service>.<namespace>.svc.<domain> */
        char voters[IDENTITY_MAX_CONTROLLERS * 300];  /* controller.quorum.voters */
};

/* Derives node.id, roles and the quorum voters. -EINVAL with a message for an impossible
 * shape (node id overflow, zero controllers, names too long, or a broker of a separate-
 * controller cluster whose node.id, or a lower ordinal's, is a controller's). */
int identity_derive(const struct cluster_shape *c, struct identity *ret, char *errbuf, size_t errlen);
const char *identity_roles_string(enum node_roles r);

#endif
