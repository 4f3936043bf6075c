#include "kpa/listeners.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "kpa/parse.h"

static const char *const proto_names[] = { "PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL" };

const char *security_protocol_name(enum security_protocol p) { return proto_names[p]; }
bool security_protocol_uses_tls(enum security_protocol p) { return p == PROTO_SSL || p == PROTO_SASL_SSL; }
bool security_protocol_uses_sasl(enum security_protocol p) {
        return p == PROTO_SASL_PLAINTEXT || p == PROTO_SASL_SSL;
}

static int protocol_parse(const char *s, enum security_protocol *ret) {
        for (int i = 0; i < 4; i++)
                if (strcasecmp(s, proto_names[i]) == 0) {
                        *ret = (enum security_protocol) i;
                        return 0;
                }
        return -EINVAL;
}

struct listener *listeners_find(struct listener_set *ls, const char *name) {
        for (size_t i = 0; i < ls->n; i++)
                if (strcasecmp(ls->v[i].name, name) == 0)
                        return &ls->v[i];
        return NULL;
}

/* Host names and addresses as Kafka accepts them in a listener: a DNS name, an IPv4 address,
 * or an IPv6 address in brackets. */
static bool host_ok(const char *h) {
        size_t n = strlen(h);
        if (n == 0)
                return true;
        if (h[0] == '[')
                return n > 2 && h[n - 1] == ']' && strspn(h + 1, "0123456789abcdefABCDEF:.") == n - 2;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char) h[i]) && h[i] != '-' && h[i] != '.' && h[i] != '_')
                        return false;
        return h[0] != '-' && h[0] != '.';
}

int listeners_split_hostport(const char *hp, char *ret_host, size_t hostlen, uint16_t *ret_port) {
        char host[LISTENER_HOST_MAX];
        uint16_t port;
        int r = parse_hostport(hp, PARSE_HOSTPORT_EMPTY_HOST | PARSE_HOSTPORT_KEEP_BRACKETS, host,
                               sizeof host, &port);
        if (r < 0)
                return r;
        size_t hl = strlen(host);
        if (hl >= hostlen || !host_ok(host))
                return -EINVAL;
        memcpy(ret_host, host, hl + 1);
        *ret_port = port;
        return 0;
}

static bool hosts_overlap(const char *a, const char *b) {
        bool wa = a[0] == '\0' || strcmp(a, "0.0.0.0") == 0 || strcmp(a, "[::]") == 0;
        bool wb = b[0] == '\0' || strcmp(b, "0.0.0.0") == 0 || strcmp(b, "[::]") == 0;
        return wa || wb || strcasecmp(a, b) == 0;
}

int listeners_parse(const char *spec, const char *input, struct listener_set *ret,
                    char *errbuf, size_t errlen) {
        struct listener_set ls = { .n = 0 };
        const char *p = spec;
        if (!*spec) {
                snprintf(errbuf, errlen, "%s is empty (expected NAME://host:port[,…])", input);
                return -EINVAL;
        }
        while (*p) {
                const char *end = strchr(p, ',');
                size_t len = end ? (size_t) (end - p) : strlen(p);
                char item[LISTENER_NAME_MAX + LISTENER_HOST_MAX + 16];
                if (len == 0 || len >= sizeof item) {
                        snprintf(errbuf, errlen, "%s has an empty or overlong entry (expected NAME://host:port[,…])", input);
                        return -EINVAL;
                }
                memcpy(item, p, len);
                item[len] = '\0';
                if (ls.n == LISTENERS_MAX) {
                        snprintf(errbuf, errlen, "%s has more than %d listeners", input, LISTENERS_MAX);
                        return -EINVAL;
                }
                struct listener *l = &ls.v[ls.n];
                *l = (struct listener){ .proto = PROTO_PLAINTEXT };
                char *sep = strstr(item, "://");
                size_t nl = sep ? (size_t) (sep - item) : 0;
                bool name_ok = sep && nl > 0 && nl < LISTENER_NAME_MAX;
                for (size_t i = 0; name_ok && i < nl; i++)
                        name_ok = isalnum((unsigned char) item[i]) || item[i] == '_';
                if (!name_ok) {
                        snprintf(errbuf, errlen, "%s entry \"%s\" is malformed (expected NAME://host:port, NAME of letters, digits and _)",
                                 input, item);
                        return -EINVAL;
                }
                for (size_t i = 0; i < nl; i++)
                        l->name[i] = (char) toupper((unsigned char) item[i]);
                l->name[nl] = '\0';
                int r = listeners_split_hostport(sep + 3, l->host, sizeof l->host, &l->port);
                if (r < 0) {
                        snprintf(errbuf, errlen, "%s entry \"%s\" is malformed (expected NAME://host:port with port 1-65535)",
                                 input, item);
                        return -EINVAL;
                }
                for (size_t i = 0; i < ls.n; i++) {
                        if (strcmp(ls.v[i].name, l->name) == 0) {
                                snprintf(errbuf, errlen, "%s names listener %s twice", input, l->name);
                                return -EINVAL;
                        }
                        if (ls.v[i].port == l->port && hosts_overlap(ls.v[i].host, l->host)) {
                                snprintf(errbuf, errlen, "%s: listeners %s and %s both use port %u",
                                         input, ls.v[i].name, l->name, (unsigned) l->port);
                                return -EINVAL;
                        }
                }
                /* A listener named after a protocol uses it unless the map says otherwise. */
                protocol_parse(l->name, &l->proto);
                ls.n++;
                p += len;
                if (*p == ',')
                        p++;
                if (end && !*p) {
                        snprintf(errbuf, errlen, "%s ends with a comma", input);
                        return -EINVAL;
                }
        }
        *ret = ls;
        return 0;
}

int listeners_apply_protocol_map(struct listener_set *ls, const char *map, const char *input,
                                 char *errbuf, size_t errlen) {
        const char *p = map;
        while (*p) {
                const char *end = strchr(p, ',');
                size_t len = end ? (size_t) (end - p) : strlen(p);
                char item[LISTENER_NAME_MAX + 32];
                if (len == 0 || len >= sizeof item) {
                        snprintf(errbuf, errlen, "%s has an empty or overlong entry (expected NAME:PROTOCOL[,…])", input);
                        return -EINVAL;
                }
                memcpy(item, p, len);
                item[len] = '\0';
                char *colon = strchr(item, ':');
                enum security_protocol proto;
                if (!colon || colon == item) {
                        snprintf(errbuf, errlen, "%s entry \"%s\" is malformed (expected NAME:PROTOCOL)", input, item);
                        return -EINVAL;
                }
                *colon = '\0';
                if (protocol_parse(colon + 1, &proto) < 0) {
                        snprintf(errbuf, errlen,
                                 "%s maps %s to unknown protocol \"%s\" (expected PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL)",
                                 input, item, colon + 1);
                        return -EINVAL;
                }
                struct listener *l = listeners_find(ls, item);
                if (!l) {
                        snprintf(errbuf, errlen, "%s maps %s, which is not a listener in KPA_LISTENERS", input, item);
                        return -EINVAL;
                }
                l->proto = proto;
                p += len;
                if (*p == ',')
                        p++;
        }
        return 0;
}

/* Appends s to out[*used..]; false when it does not fit. */
static bool put(char *out, size_t cap, size_t *used, const char *s) {
        size_t n = strlen(s);
        if (n >= cap - *used)
                return false;
        memcpy(out + *used, s, n + 1);
        *used += n;
        return true;
}

int template_expand(const char *tmpl, const struct template_vars *v, const char *input,
                    char *ret, size_t retlen, char *errbuf, size_t errlen) {
        size_t used = 0;
        ret[0] = '\0';
        for (const char *p = tmpl; *p;) {
                if (*p == '}') {
                        snprintf(errbuf, errlen, "%s has an unmatched '}' in \"%s\"", input, tmpl);
                        return -EINVAL;
                }
                if (*p != '{') {
                        char c[2] = { *p++, '\0' };
                        if (!put(ret, retlen, &used, c))
                                goto too_long;
                        continue;
                }
                const char *close = strchr(p, '}');
                if (!close || (size_t) (close - p - 1) >= 64 || memchr(p + 1, '{', (size_t) (close - p - 1))) {
                        snprintf(errbuf, errlen, "%s has an unterminated placeholder in \"%s\"", input, tmpl);
                        return -EINVAL;
                }
                char name[64], num[32];
                size_t nl = (size_t) (close - p - 1);
                memcpy(name, p + 1, nl);
                name[nl] = '\0';
                p = close + 1;

                const char *text = NULL, *unset = NULL;
                if (strcmp(name, "pod") == 0) text = v->pod;
                else if (strcmp(name, "namespace") == 0) text = v->namespace_;
                else if (strcmp(name, "service") == 0) text = v->service;
                else if (strcmp(name, "domain") == 0) text = v->domain;
                else if (strcmp(name, "pod_ip") == 0) { text = v->pod_ip; unset = "POD_IP"; }
                else if (strcmp(name, "host_ip") == 0) { text = v->host_ip; unset = "HOST_IP"; }
                else if (strcmp(name, "node") == 0) { text = v->node; unset = "NODE_NAME"; }
                else if (strcmp(name, "ordinal") == 0) { snprintf(num, sizeof num, "%u", v->ordinal); text = num; }
                else if (strcmp(name, "node_id") == 0) { snprintf(num, sizeof num, "%u", v->node_id); text = num; }
                else if (strcmp(name, "port") == 0) { snprintf(num, sizeof num, "%u", (unsigned) v->port); text = num; }
                else {
                        /* {N+ordinal}, {ordinal+N}, {N+node_id}, {node_id+N} */
                        char *plus = strchr(name, '+');
                        const char *a = name, *b = plus ? plus + 1 : NULL;
                        if (plus)
                                *plus = '\0';
                        const char *var = NULL, *lit = NULL;
                        if (b && (strcmp(a, "ordinal") == 0 || strcmp(a, "node_id") == 0)) { var = a; lit = b; }
                        else if (b && (strcmp(b, "ordinal") == 0 || strcmp(b, "node_id") == 0)) { var = b; lit = a; }
                        uint64_t base;
                        if (!var || parse_u64(lit, 0, UINT32_MAX, &base) < 0) {
                                if (plus)
                                        *plus = '+';
                                snprintf(errbuf, errlen,
                                         "%s uses unknown placeholder {%s} (expected pod, ordinal, node_id, namespace, service, domain, pod_ip, host_ip, node, port, or N+ordinal / N+node_id)",
                                         input, name);
                                return -EINVAL;
                        }
                        uint64_t sum = base + (strcmp(var, "ordinal") == 0 ? v->ordinal : v->node_id);
                        snprintf(num, sizeof num, "%llu", (unsigned long long) sum);
                        text = num;
                }
                if (!text) {
                        snprintf(errbuf, errlen, "%s uses {%s} but %s is not set", input, name, unset);
                        return -EINVAL;
                }
                if (!put(ret, retlen, &used, text))
                        goto too_long;
        }
        return 0;
too_long:
        snprintf(errbuf, errlen, "%s expands to more than %zu characters", input, retlen - 1);
        return -EINVAL;
}
