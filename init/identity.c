#include "kpa/identity.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "kpa/k8sapi.h"
#include "kpa/parse.h"

bool identity_is_dns_label(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > 63 || s[0] == '-' || s[n - 1] == '-')
                return false;
        for (size_t i = 0; i < n; i++)
                if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
                        return false;
        return true;
}

bool identity_is_dns_subdomain(const char *s) {
        size_t n = strlen(s);
        if (n == 0 || n > 253)
                return false;
        char label[64];
        const char *p = s;
        for (;;) {
                const char *dot = strchr(p, '.');
                size_t len = dot ? (size_t) (dot - p) : strlen(p);
                if (len == 0 || len > 63)
                        return false;
                memcpy(label, p, len);
                label[len] = '\0';
                if (!identity_is_dns_label(label))
                        return false;
                if (!dot)
                        return true;
                p = dot + 1;
        }
}

/* The rule lives in common/ (k8sapi.h): kpa-agent splits its pod name the same way. */
int identity_split_pod_name(const char *pod, char ret_sts[64], uint32_t *ret_ordinal) {
        return k8sapi_split_pod_name(pod, ret_sts, ret_ordinal);
}

static int b64url_value(char c) {
        if (c >= 'A' && c <= 'Z') return c - 'A';
        if (c >= 'a' && c <= 'z') return c - 'a' + 26;
        if (c >= '0' && c <= '9') return c - '0' + 52;
        if (c == '-') return 62;
        if (c == '_') return 63;
        return -1;
}

bool identity_is_cluster_id(const char *s) {
        if (strlen(s) != 22)
                return false;
        unsigned char bytes[16];
        uint32_t acc = 0;
        int bits = 0;
        size_t out = 0;
        for (size_t i = 0; i < 22; i++) {
                int v = b64url_value(s[i]);
                if (v < 0)
                        return false;
                acc = (acc << 6) | (uint32_t) v;
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        if (out < 16)
                                bytes[out++] = (unsigned char) (acc >> bits);
                        acc &= (1u << bits) - 1;
                }
        }
        /* 22 characters carry 132 bits: the 4 left over must be zero in a canonical encoding. */
        if (out != 16 || acc != 0)
                return false;
        /* Kafka reserves the zero UUID and the metadata topic id (…0001). */
        static const unsigned char zero[16] = { 0 };
        static const unsigned char one[16] = { [15] = 1 };
        return memcmp(bytes, zero, 16) != 0 && memcmp(bytes, one, 16) != 0;
}

const char *identity_roles_string(enum node_roles r) {
        switch (r) {
        case ROLES_BROKER: return "broker";
        case ROLES_CONTROLLER: return "controller";
        case ROLES_COMBINED: return "broker,controller";
        }
        return "?";
}

int identity_derive(const struct cluster_shape *c, struct identity *ret, char *errbuf, size_t errlen) {
        struct identity id = { 0 };
        bool separate = c->controller_statefulset != NULL;
        bool is_controller_sts = separate && strcmp(c->controller_statefulset, c->statefulset) == 0;
        uint32_t offset = is_controller_sts ? c->controller_node_id_offset : c->node_id_offset;

        if (c->controller_count == 0 || c->controller_count > IDENTITY_MAX_CONTROLLERS) {
                snprintf(errbuf, errlen, "KPA_CONTROLLER_COUNT %u is out of range (expected 1 to %d)",
                         c->controller_count, IDENTITY_MAX_CONTROLLERS);
                return -EINVAL;
        }
        if ((uint64_t) offset + c->ordinal > INT32_MAX) {
                snprintf(errbuf, errlen, "node.id %llu (offset %u + ordinal %u) exceeds %d",
                         (unsigned long long) offset + c->ordinal, offset, c->ordinal, INT32_MAX);
                return -EINVAL;
        }
        id.node_id = offset + c->ordinal;

        if (!separate)
                id.roles = c->ordinal < c->controller_count ? ROLES_COMBINED : ROLES_BROKER;
        else if (is_controller_sts)
                id.roles = ROLES_CONTROLLER;
        else
                id.roles = ROLES_BROKER;
        if (is_controller_sts && c->ordinal >= c->controller_count) {
                snprintf(errbuf, errlen,
                         "controller pod ordinal %u is not below KPA_CONTROLLER_COUNT %u (scale the controller StatefulSet to %u, or raise the count)",
                         c->ordinal, c->controller_count, c->controller_count);
                return -EINVAL;
        }

        /* Kafka refuses a broker-only node whose node.id is a voter ("the node id 0 must not
         * be included in the set of voters"). A StatefulSet's ordinals below this pod's exist
         * too, so the broker ids [offset, offset + ordinal] are checked, not this pod's alone:
         * every broker from the first colliding one up refuses, with the same culprit named. */
        if (separate && !is_controller_sts) {
                uint64_t blo = c->node_id_offset, bhi = (uint64_t) c->node_id_offset + c->ordinal;
                uint64_t clo = c->controller_node_id_offset,
                         chi = (uint64_t) c->controller_node_id_offset + c->controller_count - 1;
                if (blo <= chi && clo <= bhi) {
                        uint64_t x = blo > clo ? blo : clo;
                        snprintf(errbuf, errlen,
                                 "broker and controller node ids overlap: broker pod %s-%llu would get node.id %llu (KPA_NODE_ID_OFFSET %u + ordinal %llu), the node.id of controller pod %s-%llu (KPA_CONTROLLER_NODE_ID_OFFSET %u + ordinal %llu), and Kafka refuses a broker whose node.id is a voter; set KPA_NODE_ID_OFFSET to at least %llu (the default with KPA_CONTROLLER_STATEFULSET is 100)",
                                 c->statefulset, (unsigned long long) (x - blo), (unsigned long long) x,
                                 c->node_id_offset, (unsigned long long) (x - blo), c->controller_statefulset,
                                 (unsigned long long) (x - clo), c->controller_node_id_offset,
                                 (unsigned long long) (x - clo), (unsigned long long) chi + 1);
                        return -EINVAL;
                }
        }

        int n = snprintf(id.fqdn, sizeof id.fqdn, "%s-%u.%s.%s.svc.%s", c->statefulset, c->ordinal,
                         c->service, c->namespace_, c->domain);
        if (n < 0 || (size_t) n >= sizeof id.fqdn || n > 253) {
                snprintf(errbuf, errlen, "pod FQDN for %s-%u is longer than 253 characters",
                         c->statefulset, c->ordinal);
                return -EINVAL;
        }

        /* Voters come from the StatefulSet that runs the controllers, in ordinal order. */
        const char *vsts = separate ? c->controller_statefulset : c->statefulset;
        const char *vsvc = separate ? c->controller_service : c->service;
        uint32_t voffset = separate ? c->controller_node_id_offset : c->node_id_offset;
        if ((uint64_t) voffset + c->controller_count - 1 > INT32_MAX) {
                snprintf(errbuf, errlen, "controller node ids overflow (offset %u)", voffset);
                return -EINVAL;
        }
        size_t used = 0;
        for (uint32_t i = 0; i < c->controller_count; i++) {
                n = snprintf(id.voters + used, sizeof id.voters - used, "%s%u@%s-%u.%s.%s.svc.%s:%u",
                             i ? "," : "", voffset + i, vsts, i, vsvc, c->namespace_, c->domain,
                             (unsigned) c->controller_port);
                if (n < 0 || (size_t) n >= sizeof id.voters - used) {
                        snprintf(errbuf, errlen, "controller.quorum.voters is too long");
                        return -EINVAL;
                }
                used += (size_t) n;
        }
        *ret = id;
        return 0;
}
