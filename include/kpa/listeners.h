/* Kafka listeners: parsing "NAME://host:port" lists, the security protocol map, and the
 * advertised-address templates that turn pod identity into host:port. */
#ifndef KPA_LISTENERS_H
#define KPA_LISTENERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LISTENERS_MAX 16
#define LISTENER_NAME_MAX 64
#define LISTENER_HOST_MAX 256

enum security_protocol { PROTO_PLAINTEXT, PROTO_SSL, PROTO_SASL_PLAINTEXT, PROTO_SASL_SSL };

struct listener {
        char name[LISTENER_NAME_MAX];      /* upper case, as Kafka normalises it */
        char host[LISTENER_HOST_MAX];      /* "" = all interfaces; IPv6 kept in brackets */
        uint16_t port;
        enum security_protocol proto;
        char advertised[LISTENER_HOST_MAX + 8];  /* expanded host:port ("" if not advertised) */
};

struct listener_set {
        struct listener v[LISTENERS_MAX];
        size_t n;
};

/* Parses KPA_LISTENERS. Refuses malformed entries, duplicate names and port conflicts.
 * The input name (e.g. "KPA_LISTENERS") is used in messages. */
int listeners_parse(const char *spec, const char *input, struct listener_set *ret,
                    char *errbuf, size_t errlen);
/* Applies "NAME:PROTOCOL,…" over the defaults (a listener named after a protocol uses it,
 * any other PLAINTEXT). Names not among the listeners are refused, to catch typos. */
int listeners_apply_protocol_map(struct listener_set *ls, const char *map, const char *input,
                                 char *errbuf, size_t errlen);
struct listener *listeners_find(struct listener_set *ls, const char *name);
const char *security_protocol_name(enum security_protocol p);
bool security_protocol_uses_tls(enum security_protocol p);
bool security_protocol_uses_sasl(enum security_protocol p);

/* Values the advertised templates may use. Unset optional values are NULL. */
struct template_vars {
        const char *pod, *namespace_, *service, *domain, *pod_ip, *host_ip, *node;
        uint32_t ordinal, node_id;
        uint16_t port;
};

/* Expands {pod} {ordinal} {node_id} {namespace} {service} {domain} {pod_ip} {host_ip} {node}
 * {port} and arithmetic {N+ordinal} / {ordinal+N} / {N+node_id} / {node_id+N}.
 * Unknown placeholders, unset values and unbalanced braces are refused. */
int template_expand(const char *tmpl, const struct template_vars *v, const char *input,
                    char *ret, size_t retlen, char *errbuf, size_t errlen);
/* Splits an advertised "host:port" ("[v6]:port" for IPv6) and checks both parts. */
int listeners_split_hostport(const char *hp, char *ret_host, size_t hostlen, uint16_t *ret_port);

#endif
