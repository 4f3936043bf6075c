/* Pure decisions of a certificate rotation: the per-broker dynamic set to send, and the
 * tls_expiry condition (see include/kpa/tlsplan.h). */
#include "kpa/tlsplan.h"

#include "kpa/parse.h"

#include <ctype.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define LISTENER_NAME_MAX 64
static const char PREFIX[] = "listener.name.";
static const char KS_SUFFIX[] = ".ssl.keystore.location";
static const char TS_SUFFIX[] = ".ssl.truststore.location";

/* Text from a file or a broker, quoted in a message: cut to len and every unprintable byte
 * shown as '?', so a message stays one printable line. */
static const char *shown(const char *s, char *buf, size_t len) {
        size_t i = 0;
        for (; s[i] && i + 1 < len; i++)
                buf[i] = isprint((unsigned char) s[i]) ? s[i] : '?';
        buf[i] = '\0';
        return buf;
}

static bool listener_name_ok(const char *s, size_t n) {
        if (n == 0 || n > LISTENER_NAME_MAX)
                return false;
        for (size_t i = 0; i < n; i++)
                if (!isalnum((unsigned char) s[i]) && s[i] != '_' && s[i] != '-')
                        return false;
        return true;
}

int tlsplan_listener_keys(const char *listener, char *ret_keystore, size_t kslen,
                          char *ret_truststore, size_t tslen) {
        size_t n = strlen(listener);
        if (!listener_name_ok(listener, n))
                return -EINVAL;
        /* Kafka's listener prefix is the lower-cased listener name. */
        char lower[LISTENER_NAME_MAX + 1];
        for (size_t i = 0; i <= n; i++)
                lower[i] = (char) tolower((unsigned char) listener[i]);
        if ((size_t) snprintf(ret_keystore, kslen, "%s%s%s", PREFIX, lower, KS_SUFFIX) >= kslen ||
            (size_t) snprintf(ret_truststore, tslen, "%s%s%s", PREFIX, lower, TS_SUFFIX) >= tslen)
                return -EINVAL;
        return 0;
}

static bool ends_with(const char *s, size_t n, const char *suffix) {
        size_t m = strlen(suffix);
        return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

bool tlsplan_owned_key(const char *name) {
        size_t n = strlen(name), p = sizeof PREFIX - 1;
        if (n <= p || strncmp(name, PREFIX, p) != 0)
                return false;
        const char *rest = name + p;
        size_t rn = n - p;
        const char *suffix = ends_with(rest, rn, KS_SUFFIX) ? KS_SUFFIX
                             : ends_with(rest, rn, TS_SUFFIX) ? TS_SUFFIX : NULL;
        if (!suffix)
                return false;
        size_t ln = rn - strlen(suffix);
        return listener_name_ok(rest, ln);
}

int tlsplan_alter_set(const struct tlsplan_entry *current, size_t n_current,
                      const char *const *listeners, size_t n_listeners, const char *keystore,
                      const char *truststore, char (*keybuf)[TLSPLAN_NAME_MAX],
                      struct tlsplan_set *ret, char *why, size_t whylen) {
        struct tlsplan_set s = { 0 };
        if (n_listeners > TLSPLAN_MAX_LISTENERS) {
                snprintf(why, whylen, "more than %d TLS listeners", TLSPLAN_MAX_LISTENERS);
                return -E2BIG;
        }
        for (size_t i = 0; i < n_current; i++) {
                const struct tlsplan_entry *e = &current[i];
                if (tlsplan_owned_key(e->name))
                        continue;
                if (!e->value) {
                        /* Sending the set without it would delete it on the broker. */
                        char q[201];
                        snprintf(why, whylen, "the broker's per-broker dynamic config %s is %s, so Kafka "
                                 "does not return its value, and the only update librdkafka 2.0.2 offers "
                                 "(AlterConfigs) replaces the whole per-broker set: rotating would delete it; "
                                 "move it to server.properties or a cluster-wide default, then the rotation goes on",
                                 shown(e->name, q, sizeof q), e->sensitive ? "sensitive" : "unreadable");
                        return -EPERM;
                }
                if (s.n >= TLSPLAN_MAX_ENTRIES) {
                        snprintf(why, whylen, "the broker has more than %d per-broker dynamic configs", TLSPLAN_MAX_ENTRIES);
                        return -E2BIG;
                }
                s.name[s.n] = e->name;
                s.value[s.n++] = e->value;
        }
        for (size_t i = 0; i < n_listeners; i++) {
                if (s.n + 2 > TLSPLAN_MAX_ENTRIES) {
                        snprintf(why, whylen, "the broker has more than %d per-broker dynamic configs", TLSPLAN_MAX_ENTRIES);
                        return -E2BIG;
                }
                if (tlsplan_listener_keys(listeners[i], keybuf[2 * i], TLSPLAN_NAME_MAX, keybuf[2 * i + 1],
                                          TLSPLAN_NAME_MAX) < 0) {
                        char q[65];
                        snprintf(why, whylen, "listener name \"%s\" is not [A-Za-z0-9_-]{1,64}",
                                 shown(listeners[i], q, sizeof q));
                        return -EINVAL;
                }
                s.name[s.n] = keybuf[2 * i];
                s.value[s.n++] = keystore;
                s.name[s.n] = keybuf[2 * i + 1];
                s.value[s.n++] = truststore;
        }
        *ret = s;
        return 0;
}

static void format_utc(int64_t t, char *buf, size_t len) {
        time_t tt = (time_t) t;
        struct tm tm;
        if (!gmtime_r(&tt, &tm) || strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
                snprintf(buf, len, "%lld", (long long) t);
}

bool tlsplan_expiry_ok(int64_t not_after_unix, int64_t now_unix, unsigned warn_days, char *why,
                       size_t whylen) {
        char when[40];
        format_utc(not_after_unix, when, sizeof when);
        if (not_after_unix <= now_unix) {
                snprintf(why, whylen, "the certificate expired at %s", when);
                return false;
        }
        int64_t left = not_after_unix - now_unix;
        if (left <= (int64_t) warn_days * 86400) {
                snprintf(why, whylen, "the certificate expires in %lld days (at %s), within the %u-day warning",
                         (long long) (left / 86400), when, warn_days);
                return false;
        }
        snprintf(why, whylen, "the certificate is valid until %s", when);
        return true;
}

/* The next comma-separated item of *s (blanks around it dropped) into buf; false at the end
 * or when it does not fit. */
static bool next_item(const char **s, char *buf, size_t len, bool *too_long) {
        const char *p = *s;
        while (*p == ' ' || *p == ',')
                p++;
        if (!*p)
                return false;
        const char *e = strchr(p, ',');
        size_t n = e ? (size_t) (e - p) : strlen(p);
        while (n > 0 && p[n - 1] == ' ')
                n--;
        *s = e ? e + 1 : p + strlen(p);
        if (n >= len) {
                *too_long = true;
                return false;
        }
        memcpy(buf, p, n);
        buf[n] = '\0';
        return true;
}

static bool in_list(const char *list, const char *name) {
        char item[128];
        bool too_long = false;
        while (list && next_item(&list, item, sizeof item, &too_long))
                if (strcasecmp(item, name) == 0)
                        return true;
        return false;
}

/* The protocol of listener name in map ("NAME:PROTO,..."), or name itself without a map. */
static bool protocol_of(const char *map, const char *name, char *buf, size_t len) {
        if (!map) {
                snprintf(buf, len, "%s", name);
                return true;
        }
        char item[160];
        bool too_long = false;
        while (next_item(&map, item, sizeof item, &too_long)) {
                char *colon = strchr(item, ':');
                if (!colon)
                        continue;
                *colon = '\0';
                if (strcasecmp(item, name) == 0) {
                        snprintf(buf, len, "%s", colon + 1);
                        return true;
                }
        }
        return false;
}

/* Splits "NAME://HOST:PORT" (HOST may be empty). */
static int split_listener(const char *item, char *name, size_t nlen, char *host, size_t hlen,
                          uint16_t *port) {
        const char *sep = strstr(item, "://");
        if (!sep || sep == item || (size_t) (sep - item) >= nlen)
                return -EINVAL;
        memcpy(name, item, (size_t) (sep - item));
        name[sep - item] = '\0';
        return parse_hostport(sep + 3, PARSE_HOSTPORT_EMPTY_HOST, host, hlen, port);
}

int tlsplan_tls_listeners(const char *listeners, const char *advertised, const char *protocol_map,
                          const char *controller_names, struct tlsplan_listener *ret, size_t max,
                          size_t *ret_n, char *why, size_t whylen) {
        char item[400], name[64], host[PARSE_HOST_MAX], proto[64];
        uint16_t port;
        bool too_long = false;
        size_t n = 0;
        if (!listeners) {
                snprintf(why, whylen, "server.properties has no listeners");
                return -EINVAL;
        }
        while (next_item(&listeners, item, sizeof item, &too_long)) {
                if (split_listener(item, name, sizeof name, host, sizeof host, &port) < 0) {
                        char q[101];
                        snprintf(why, whylen, "listeners: \"%s\" is not NAME://HOST:PORT", shown(item, q, sizeof q));
                        return -EINVAL;
                }
                if (in_list(controller_names, name) || !protocol_of(protocol_map, name, proto, sizeof proto) ||
                    (strcasecmp(proto, "SSL") != 0 && strcasecmp(proto, "SASL_SSL") != 0))
                        continue;
                if (n >= max) {
                        snprintf(why, whylen, "listeners: more than %zu TLS listeners", max);
                        return -E2BIG;
                }
                struct tlsplan_listener *l = &ret[n++];
                memset(l, 0, sizeof *l);
                snprintf(l->name, sizeof l->name, "%s", name);
                l->port = port;
                l->ssl = strcasecmp(proto, "SSL") == 0;
                const char *a = advertised;
                char aitem[400], aname[64], ahost[PARSE_HOST_MAX];
                uint16_t aport;
                bool along = false;
                while (a && next_item(&a, aitem, sizeof aitem, &along))
                        if (split_listener(aitem, aname, sizeof aname, ahost, sizeof ahost, &aport) == 0 &&
                            strcasecmp(aname, name) == 0)
                                snprintf(l->advertised, sizeof l->advertised, "%s", ahost);
        }
        if (too_long) {
                snprintf(why, whylen, "listeners: an entry is longer than %zu bytes", sizeof item - 1);
                return -EINVAL;
        }
        *ret_n = n;
        return 0;
}

bool tlsplan_controller_tls(const char *controller_names, const char *protocol_map, char *name, size_t namelen) {
        char item[128], proto[64];
        bool too_long = false;
        while (controller_names && next_item(&controller_names, item, sizeof item, &too_long))
                if (protocol_of(protocol_map, item, proto, sizeof proto) &&
                    (strcasecmp(proto, "SSL") == 0 || strcasecmp(proto, "SASL_SSL") == 0)) {
                        snprintf(name, namelen, "%s", item);
                        return true;
                }
        return false;
}

uint64_t tlsplan_next_check_ms(int64_t now_unix_ms, bool have_due, int64_t due_unix, uint64_t recheck_ms) {
        if (!have_due || due_unix > INT64_MAX / 1000 || due_unix < 0)
                return recheck_ms;
        int64_t due_ms = due_unix * 1000;
        if (due_ms <= now_unix_ms)
                return recheck_ms;
        uint64_t wait = (uint64_t) (due_ms - now_unix_ms) + TLSPLAN_DUE_SLACK_MS;
        return wait < recheck_ms ? wait : recheck_ms;
}
