/* Pod identity (init/identity.c): pod names, DNS names, cluster ids, and the node id and
 * quorum derived from a cluster shape built from the input.
 *
 * Invariants:
 * - identity_split_pod_name succeeds only for a DNS label "<sts>-<ordinal>" without leading
 *   zeros, and "<sts>-<ordinal>" printed back is the pod name;
 * - a DNS label is 1-63 characters of [a-z0-9-] not starting or ending with '-'; a subdomain
 *   is at most 253 characters of dot-separated labels;
 * - identity_is_cluster_id accepts exactly the canonical unpadded base64url encodings of 16
 *   bytes other than the all-zero and ...0001 UUIDs (checked by decoding and re-encoding);
 * - identity_derive: node.id = offset + ordinal, at most INT32_MAX; the FQDN is at most 253
 *   characters; the voters list has controller_count entries, the first "<offset>@...". */
#include <errno.h>
#include <inttypes.h>

#include "fuzz.h"
#include "kpa/identity.h"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static bool label_oracle(const char *s) {
        size_t n = strlen(s);
        if (n < 1 || n > 63 || s[0] == '-' || s[n - 1] == '-')
                return false;
        return strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

static bool cluster_id_oracle(const char *s) {
        if (strlen(s) != 22)
                return false;
        unsigned char bytes[17] = { 0 };
        uint32_t acc = 0;
        int bits = 0;
        size_t out = 0;
        for (size_t i = 0; i < 22; i++) {
                const char *p = strchr(b64, s[i]);
                if (!p || !*p)
                        return false;
                acc = (acc << 6) | (uint32_t) (p - b64);
                bits += 6;
                if (bits >= 8) {
                        bits -= 8;
                        bytes[out++] = (unsigned char) (acc >> bits);
                        acc &= (1u << bits) - 1;
                }
        }
        /* Canonical: encoding the 16 bytes again gives the same text. */
        char again[23];
        acc = 0;
        bits = 0;
        size_t o = 0;
        for (size_t i = 0; i < 16; i++) {
                acc = (acc << 8) | bytes[i];
                bits += 8;
                while (bits >= 6) {
                        bits -= 6;
                        again[o++] = b64[(acc >> bits) & 63];
                }
        }
        again[o++] = b64[(acc << (6 - bits)) & 63];
        again[o] = '\0';
        if (strcmp(again, s) != 0)
                return false;
        bool zero = true, one = bytes[15] == 1;
        for (size_t i = 0; i < 16; i++) {
                zero &= bytes[i] == 0;
                if (i < 15)
                        one &= bytes[i] == 0;
        }
        return !zero && !one;
}

static void check_names(const char *s) {
        FUZZ_CHECK(identity_is_dns_label(s) == label_oracle(s), "label \"%s\"", s);
        if (identity_is_dns_subdomain(s)) {
                FUZZ_CHECK(strlen(s) <= 253, "subdomain too long");
                char *copy = strdup(s);
                FUZZ_CHECK(copy, "out of memory");
                for (char *p = copy, *dot;; p = dot + 1) {
                        dot = strchr(p, '.');
                        if (dot)
                                *dot = '\0';
                        FUZZ_CHECK(label_oracle(p), "subdomain \"%s\" has label \"%s\"", s, p);
                        if (!dot)
                                break;
                }
                free(copy);
        }
        char sts[64];
        uint32_t ord = UINT32_MAX;
        if (identity_split_pod_name(s, sts, &ord) == 0) {
                char back[96];
                snprintf(back, sizeof back, "%s-%" PRIu32, sts, ord);
                FUZZ_CHECK(strcmp(back, s) == 0 && label_oracle(s) && ord <= INT32_MAX && sts[0],
                           "\"%s\" split as \"%s\" %" PRIu32, s, sts, ord);
        } else {
                FUZZ_CHECK(ord == UINT32_MAX, "ordinal written on failure");
        }
        FUZZ_CHECK(identity_is_cluster_id(s) == cluster_id_oracle(s), "cluster id \"%s\"", s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct fz f = { data, size };
        char *name = fz_str(&f, 300);
        check_names(name);

        char *sts = fz_str(&f, 80), *ns = fz_str(&f, 80), *svc = fz_str(&f, 80), *dom = fz_str(&f, 260);
        char *csts = fz_str(&f, 80), *csvc = fz_str(&f, 80);
        bool separate = fz_bool(&f);
        struct cluster_shape c = {
                .statefulset = sts, .namespace_ = ns, .service = svc, .domain = dom,
                .controller_statefulset = separate ? csts : NULL, .controller_service = csvc,
        };
        /* Mostly small numbers, sometimes the edges. */
        c.ordinal = fz_bool(&f) ? fz_u32(&f) : (uint32_t) fz_range(&f, 0, 10);
        c.node_id_offset = fz_bool(&f) ? fz_u32(&f) : (uint32_t) fz_range(&f, 0, 1000);
        c.controller_node_id_offset = fz_bool(&f) ? fz_u32(&f) : (uint32_t) fz_range(&f, 0, 1000);
        c.controller_count = (uint32_t) fz_range(&f, 0, IDENTITY_MAX_CONTROLLERS + 1);
        c.controller_port = (uint16_t) fz_u32(&f);
        struct identity id;
        char err[512] = "";
        int r = identity_derive(&c, &id, err, sizeof err);
        if (r == 0) {
                bool csts_self = separate && strcmp(csts, sts) == 0;
                uint32_t off = csts_self ? c.controller_node_id_offset : c.node_id_offset;
                FUZZ_CHECK((uint64_t) id.node_id == (uint64_t) off + c.ordinal && id.node_id <= INT32_MAX,
                           "node id %" PRIu32, id.node_id);
                FUZZ_CHECK(strlen(id.fqdn) <= 253, "fqdn too long");
                FUZZ_CHECK(c.controller_count >= 1 && c.controller_count <= IDENTITY_MAX_CONTROLLERS,
                           "count %" PRIu32 " accepted", c.controller_count);
                size_t commas = 0;
                for (const char *p = id.voters; *p; p++)
                        commas += *p == ',';
                /* Names from the input may hold commas of their own; only a lower bound then. */
                FUZZ_CHECK(commas + 1 >= c.controller_count, "%zu voters for %" PRIu32, commas + 1,
                           c.controller_count);
                char first[16];
                snprintf(first, sizeof first, "%" PRIu32 "@",
                         separate ? c.controller_node_id_offset : c.node_id_offset);
                FUZZ_CHECK(strncmp(id.voters, first, strlen(first)) == 0, "voters \"%s\"", id.voters);
                FUZZ_CHECK(id.roles == ROLES_BROKER || id.roles == ROLES_CONTROLLER || id.roles == ROLES_COMBINED,
                           "roles %d", (int) id.roles);
        } else {
                FUZZ_CHECK(r == -EINVAL && err[0], "error %d", r);
        }
        free(name);
        free(sts);
        free(ns);
        free(svc);
        free(dom);
        free(csts);
        free(csvc);
        return 0;
}
