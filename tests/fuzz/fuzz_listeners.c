/* Kafka listener lists, the security protocol map, advertised templates and host:port
 * splitting (init/listeners.c). The input holds four strings (spec, protocol map, template,
 * host:port; see fz_str in fuzz.h) and then the template's numbers.
 *
 * Invariants:
 * - a parsed set has 1 to LISTENERS_MAX listeners with distinct upper-case names of
 *   letters, digits and '_', ports 1-65535; writing it back as NAME://host:port,... and
 *   parsing again gives the same set (round trip);
 * - a protocol map either fails or leaves every listener with a valid protocol, and names
 *   only existing listeners;
 * - an expanded template fits its buffer and holds no '{' or '}' (the values have none);
 *   a template without braces expands to itself;
 * - listeners_split_hostport succeeds only with a port 1-65535, and joining host and port
 *   again splits to the same pair. */
#include <ctype.h>
#include <errno.h>

#include "fuzz.h"
#include "kpa/listeners.h"

static void check_set(const struct listener_set *ls, const char *spec) {
        FUZZ_CHECK(ls->n >= 1 && ls->n <= LISTENERS_MAX, "%zu listeners from \"%s\"", ls->n, spec);
        char again[LISTENERS_MAX * (LISTENER_NAME_MAX + LISTENER_HOST_MAX + 16)];
        size_t used = 0;
        for (size_t i = 0; i < ls->n; i++) {
                const struct listener *l = &ls->v[i];
                FUZZ_CHECK(l->name[0] != '\0', "empty name from \"%s\"", spec);
                for (const char *p = l->name; *p; p++)
                        FUZZ_CHECK(isupper((unsigned char) *p) || isdigit((unsigned char) *p) || *p == '_',
                                   "name \"%s\" from \"%s\"", l->name, spec);
                FUZZ_CHECK(l->port >= 1, "port 0 from \"%s\"", spec);
                FUZZ_CHECK(l->proto <= PROTO_SASL_SSL, "protocol %d", (int) l->proto);
                for (size_t j = i + 1; j < ls->n; j++)
                        FUZZ_CHECK(strcmp(l->name, ls->v[j].name) != 0, "%s twice", l->name);
                used += (size_t) snprintf(again + used, sizeof again - used, "%s%s://%s:%u", i ? "," : "",
                                          l->name, l->host, (unsigned) l->port);
        }
        struct listener_set back;
        char err[512];
        int r = listeners_parse(again, "again", &back, err, sizeof err);
        FUZZ_CHECK(r == 0, "\"%s\" (written back from \"%s\") does not parse: %s", again, spec, err);
        FUZZ_CHECK(back.n == ls->n, "%zu listeners became %zu", ls->n, back.n);
        for (size_t i = 0; i < ls->n; i++)
                FUZZ_CHECK(strcmp(back.v[i].name, ls->v[i].name) == 0 &&
                           strcmp(back.v[i].host, ls->v[i].host) == 0 && back.v[i].port == ls->v[i].port &&
                           back.v[i].proto == ls->v[i].proto, "listener %zu changed in \"%s\"", i, again);
}

static void check_hostport(const char *hp) {
        char host[LISTENER_HOST_MAX];
        uint16_t port = 0;
        int r = listeners_split_hostport(hp, host, sizeof host, &port);
        if (r < 0) {
                FUZZ_CHECK(r == -EINVAL || r == -ERANGE, "error %d", r);
                return;
        }
        FUZZ_CHECK(port >= 1, "port 0 from \"%s\"", hp);
        FUZZ_CHECK(strlen(host) < sizeof host, "host too long");
        char again[LISTENER_HOST_MAX + 8], host2[LISTENER_HOST_MAX];
        uint16_t port2 = 0;
        snprintf(again, sizeof again, "%s:%u", host, (unsigned) port);
        r = listeners_split_hostport(again, host2, sizeof host2, &port2);
        FUZZ_CHECK(r == 0 && strcmp(host, host2) == 0 && port == port2,
                   "\"%s\" split to %s %u, joined \"%s\" does not split back", hp, host, (unsigned) port, again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
        struct fz f = { data, size };
        char *spec = fz_str(&f, 2048), *map = fz_str(&f, 1024), *tmpl = fz_str(&f, 1024);
        char *hp = fz_str(&f, 512);
        struct template_vars v = {
                .pod = "kafka-2", .namespace_ = "prod", .service = "kafka-headless",
                .domain = "cluster.local",
                .pod_ip = fz_bool(&f) ? "10.0.0.7" : NULL,
                .host_ip = fz_bool(&f) ? "192.168.1.5" : NULL,
                .node = fz_bool(&f) ? "node-a" : NULL,
        };
        v.ordinal = fz_u32(&f);
        v.node_id = fz_u32(&f);
        v.port = (uint16_t) fz_u32(&f);
        size_t outlen = (size_t) fz_range(&f, 1, LISTENER_HOST_MAX + 8);

        struct listener_set ls;
        char err[1024] = "";
        int r = listeners_parse(spec, "KPA_LISTENERS", &ls, err, sizeof err);
        if (r == 0) {
                check_set(&ls, spec);
                r = listeners_apply_protocol_map(&ls, map, "KPA_SECURITY_PROTOCOL_MAP", err, sizeof err);
                if (r == 0) {
                        for (size_t i = 0; i < ls.n; i++)
                                FUZZ_CHECK(ls.v[i].proto <= PROTO_SASL_SSL, "protocol %d", (int) ls.v[i].proto);
                } else {
                        FUZZ_CHECK(r == -EINVAL && err[0], "map error %d", r);
                }
        } else {
                FUZZ_CHECK(r == -EINVAL && err[0], "parse error %d", r);
        }

        char *out = fz_alloc(outlen);
        r = template_expand(tmpl, &v, "KPA_ADVERTISED_X", out, outlen, err, sizeof err);
        if (r == 0) {
                FUZZ_CHECK(strlen(out) < outlen, "expansion overflows");
                FUZZ_CHECK(!strchr(out, '{') && !strchr(out, '}'), "\"%s\" expanded to \"%s\"", tmpl, out);
                if (!strchr(tmpl, '{'))
                        FUZZ_CHECK(strcmp(out, tmpl) == 0, "\"%s\" expanded to \"%s\"", tmpl, out);
        } else {
                FUZZ_CHECK(r == -EINVAL && err[0], "template error %d", r);
        }
        check_hostport(hp);
        check_hostport(out);

        free(out);
        free(spec);
        free(map);
        free(tmpl);
        free(hp);
        return 0;
}
